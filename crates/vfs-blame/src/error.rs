use std::path::PathBuf;

/// Why a blame could not be computed.
#[derive(thiserror::Error, Debug)]
pub enum BlameError {
    /// The path is not inside a git work tree (a bare repository counts as none).
    #[error("not inside a git work tree: {}", .0.display())]
    NotARepository(PathBuf),
    /// git (libgit2, gix or the git CLI) reported an error, or its output could not be understood.
    #[error("git: {0}")]
    Git(String),
    /// An I/O error talking to the git CLI.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

#[cfg(feature = "bench")]
impl From<git2::Error> for BlameError {
    fn from(error: git2::Error) -> Self {
        BlameError::Git(error.message().to_string())
    }
}

impl From<gix::Error> for BlameError {
    fn from(error: gix::Error) -> Self {
        // The alternate form has the causes too, on one line.
        BlameError::Git(format!("{error:#}"))
    }
}
