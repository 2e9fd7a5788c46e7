use std::io;
use std::path::PathBuf;

/// Why `vfs sync` could not start or go on: one clear line each, naming the folder.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error(
        "{} does not exist: create it, or pass --mkdir (only .dockerfs and .cfgfs are created \
         without asking)",
        .0.display()
    )]
    Missing(PathBuf),
    /// A folder with someone's files in it: vfs sync never deletes what it did not write.
    #[error(
        "{} is not empty and has no .vfs marker of vfs sync: not writing into it (vfs sync \
         never deletes files it did not write); give an empty or a new folder",
        .0.display()
    )]
    NotOurs(PathBuf),
    #[error("{} is already kept in step by another vfs sync (see its .vfs)", .0.display())]
    Busy(PathBuf),
    #[error(
        "--contents: {why}; {} can be entered by other users: `chmod 700` it, or let vfs sync \
         create it",
        .dir.display()
    )]
    ContentsNeedPrivateFolder { dir: PathBuf, why: &'static str },
    #[error("--contents is refused by this provider: {0}")]
    ContentsRefused(&'static str),
    #[error("{} is SOURCE itself: sync into another folder (a folder inside SOURCE works)", .0.display())]
    FolderIsSource(PathBuf),
    #[error(
        "{} holds SOURCE {}: syncing would write over it; sync into another folder",
        .dir.display(),
        .source_dir.display()
    )]
    FolderHoldsSource { dir: PathBuf, source_dir: PathBuf },
    /// The provider failed (its `start`, or a listing the tree needs).
    #[error(transparent)]
    Provider(#[from] vfs_core::ProviderError),
    /// The I/O error is part of the message, not a `source()` (a chain printer, such as the
    /// command line's one error line, would repeat it).
    #[error("{context}: {error}")]
    Io { context: String, error: io::Error },
}

impl SyncError {
    pub(crate) fn io(context: impl Into<String>, source: impl Into<io::Error>) -> SyncError {
        SyncError::Io {
            context: context.into(),
            error: source.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_is_said_once_with_its_context() {
        let error = SyncError::io("writing /out/a", io::Error::from_raw_os_error(28));
        assert_eq!(
            error.to_string(),
            "writing /out/a: No space left on device (os error 28)"
        );
        assert!(std::error::Error::source(&error).is_none());
    }
}
