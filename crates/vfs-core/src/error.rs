use crate::NodePath;

/// What a provider answers when it cannot.
///
/// The host turns each variant into an errno for the kernel (see [`ProviderError::errno`]) and
/// logs it; a provider error never takes the mount down.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("no such entry: {0}")]
    NotFound(NodePath),
    #[error("not a directory: {0}")]
    NotADirectory(NodePath),
    #[error("not a regular file: {0}")]
    NotAFile(NodePath),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The source (a Docker engine, a repository) cannot be reached right now.
    #[error("source unavailable: {0}")]
    Unavailable(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ProviderError::Io {
            context: context.into(),
            source,
        }
    }

    /// The errno the kernel is answered with.
    pub fn errno(&self) -> i32 {
        match self {
            ProviderError::NotFound(_) => libc::ENOENT,
            ProviderError::NotADirectory(_) => libc::ENOTDIR,
            ProviderError::NotAFile(_) => libc::EISDIR,
            ProviderError::PermissionDenied(_) => libc::EACCES,
            ProviderError::Unavailable(_) => libc::EIO,
            ProviderError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            ProviderError::Other(_) => libc::EIO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_follows_the_variant_and_the_os_error() {
        assert_eq!(
            ProviderError::NotFound(NodePath::root()).errno(),
            libc::ENOENT
        );
        let denied = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(ProviderError::io("reading x", denied).errno(), libc::EACCES);
        let custom = std::io::Error::other("odd");
        assert_eq!(ProviderError::io("reading x", custom).errno(), libc::EIO);
    }
}
