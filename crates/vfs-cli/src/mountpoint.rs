//! Checks and creates the directory a provider is mounted on.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// The absolute, canonical path of `path`, created if missing. Refuses a path that is not a
/// directory, and one that still holds the mount of a process that died.
pub fn prepare(program: &str, path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("cannot resolve mountpoint {}", path.display()))?;
    match std::fs::metadata(&absolute) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => bail!("mountpoint {} is not a directory", absolute.display()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&absolute)
                .with_context(|| format!("cannot create mountpoint {}", absolute.display()))?;
        }
        Err(error) if error.raw_os_error() == Some(libc::ENOTCONN) => bail!(
            "mountpoint {0} still holds the mount of a process that is gone ({error}): \
             run `{program} unmount {0}` first",
            absolute.display()
        ),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot use mountpoint {}", absolute.display()))
        }
    }
    absolute
        .canonicalize()
        .with_context(|| format!("cannot resolve mountpoint {}", absolute.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_missing_mountpoint_and_returns_it_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = dir.path().join("a/b");
        let prepared = prepare("vfs", &wanted).unwrap();
        assert!(prepared.is_dir());
        assert_eq!(prepared, wanted.canonicalize().unwrap());
    }

    #[test]
    fn refuses_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let error = prepare("vfs", &file).unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            format!("mountpoint {} is not a directory", file.display())
        );
    }
}
