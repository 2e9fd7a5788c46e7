use crate::NodePath;

/// What a provider answers when it cannot.
///
/// The host turns each variant into an errno for the kernel (see [`ProviderError::errno`]) and
/// logs it (`NotFound` and `Unavailable` at debug level: a `make` asks for missing files all
/// the time, and an outage is the provider's to report, once; the others as warnings); a
/// provider error never takes the mount down. `vfs tree` prints it as one line
/// and exits 1.
///
/// | variant | errno | what a reader sees |
/// | --- | --- | --- |
/// | [`NotFound`](ProviderError::NotFound) | `ENOENT` | "No such file or directory" |
/// | [`NotADirectory`](ProviderError::NotADirectory) | `ENOTDIR` | "Not a directory" |
/// | [`NotAFile`](ProviderError::NotAFile) | `EISDIR` | "Is a directory" |
/// | [`PermissionDenied`](ProviderError::PermissionDenied) | `EACCES` | "Permission denied" |
/// | [`Unavailable`](ProviderError::Unavailable) | `EIO` | "Input/output error" |
/// | [`Io`](ProviderError::Io) | the I/O error's own errno, else `EIO` | that error |
/// | [`Other`](ProviderError::Other) | `EIO` | "Input/output error" |
///
/// Writes never reach a provider: the mount is read-only and the host answers `EROFS`. A call
/// that has not returned after 30 s is answered `EIO` by the host.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No entry at this path (any more): the path asked about, or the first missing part of it.
    #[error("no such entry: {0}")]
    NotFound(NodePath),
    /// `list` of a path that is a file or a symlink.
    #[error("not a directory: {0}")]
    NotADirectory(NodePath),
    /// `read` of a path that is a directory (or a symlink: the kernel never reads one).
    #[error("not a regular file: {0}")]
    NotAFile(NodePath),
    /// The source refused (a socket the user may not open, a file of another user); the text
    /// says what was refused.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The source (a Docker engine, a repository) cannot be reached right now; the text says
    /// which and why. A later call may succeed. The host logs it at debug level only: say it
    /// yourself, once per outage (`vfs_core::tracing::warn!`).
    #[error("source unavailable: {0}")]
    Unavailable(String),
    /// An I/O error, with what was being done; built with [`ProviderError::io`]. Its message
    /// is the whole story, `CONTEXT: ERROR` (e.g. "reading /srv/env: No such file or directory
    /// (os error 2)"), so the I/O error is not also its `source()`: a printer that follows the
    /// chain of causes (`anyhow`'s `{:#}`, the command line's one error line) would say it twice.
    #[error("{context}: {error}")]
    Io {
        context: String,
        error: std::io::Error,
    },
    /// Anything else (a source that answered nonsense); the text is logged.
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    /// Wraps an I/O error with what was being done: `context` says it ("reading /srv/env"),
    /// without the error, which the message adds.
    pub fn io(context: impl Into<String>, error: std::io::Error) -> Self {
        ProviderError::Io {
            context: context.into(),
            error,
        }
    }

    /// The errno the kernel is answered with (see the table above).
    pub fn errno(&self) -> i32 {
        match self {
            ProviderError::NotFound(_) => libc::ENOENT,
            ProviderError::NotADirectory(_) => libc::ENOTDIR,
            ProviderError::NotAFile(_) => libc::EISDIR,
            ProviderError::PermissionDenied(_) => libc::EACCES,
            ProviderError::Unavailable(_) => libc::EIO,
            ProviderError::Io { error, .. } => error.raw_os_error().unwrap_or(libc::EIO),
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

    /// The message and every cause after it, as a printer of the chain (anyhow's `{:#}`)
    /// joins them.
    fn chain(error: &dyn std::error::Error) -> String {
        let mut line = error.to_string();
        let mut cause = error.source();
        while let Some(next) = cause {
            line = format!("{line}: {next}");
            cause = next.source();
        }
        line
    }

    #[test]
    fn an_io_error_is_said_once_with_its_context() {
        let missing = std::io::Error::from_raw_os_error(libc::ENOENT);
        let error = ProviderError::io("reading /srv/env", missing);
        let expected = "reading /srv/env: No such file or directory (os error 2)";
        assert_eq!(error.to_string(), expected);
        assert_eq!(chain(&error), expected);
        let others = [
            ProviderError::NotFound(NodePath::parse("a/b")),
            ProviderError::NotADirectory(NodePath::parse("f")),
            ProviderError::NotAFile(NodePath::root()),
            ProviderError::PermissionDenied("the socket".into()),
            ProviderError::Unavailable("engine down".into()),
            ProviderError::Other("nonsense".into()),
        ];
        for error in others {
            assert!(std::error::Error::source(&error).is_none(), "{error:?}");
        }
    }
}
