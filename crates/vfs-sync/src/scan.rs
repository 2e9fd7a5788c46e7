//! What the folder holds on disk, read back into a [`Tree`]: the "before" of a restart's one
//! reconciling pass (and of the pass after a failed change), so that whatever a killed run, a
//! crash or a user left there is compared with the provider's tree like any other difference.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vfs_core::NodePath;

use crate::entry::{Entry, Kind, Tree, MARKER, SOCKET, STALE_SIZE};
use crate::SyncError;

/// Every entry below `root` (and `root` itself, as the tree's root), without following
/// symlinks. The host's own marker and socket are left out; leftover temporary entries are
/// included, so a reconciling pass removes them. With `stale_contents`, every file is taken as
/// holding bytes this run does not want (the folder was written with the other `--contents`).
pub(crate) fn scan(root: &Path, stale_contents: bool) -> Result<Tree, SyncError> {
    let mut tree = Tree::new();
    let mut pending = vec![NodePath::root()];
    while let Some(path) = pending.pop() {
        let full = on_disk(root, &path);
        let metadata = match std::fs::symlink_metadata(&full) {
            Ok(metadata) => metadata,
            // Gone while we looked: not there, as far as the plan is concerned.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => {
                return Err(SyncError::io(
                    format!("cannot read {}", full.display()),
                    error,
                ))
            }
        };
        let kind = if metadata.is_dir() {
            let listing = std::fs::read_dir(&full)
                .map_err(|error| SyncError::io(format!("cannot list {}", full.display()), error))?;
            for child in listing {
                let child = child.map_err(|error| {
                    SyncError::io(format!("cannot list {}", full.display()), error)
                })?;
                let name = child.file_name();
                if path.is_root() && (name == MARKER || name == SOCKET) {
                    continue;
                }
                pending.push(path.join(name));
            }
            Kind::Dir
        } else if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(&full)
                .map_err(|error| SyncError::io(format!("cannot read {}", full.display()), error))?;
            Kind::Symlink {
                target: target.into_os_string(),
            }
        } else {
            // A FIFO or a socket someone put there is a file that must go: no provider size
            // matches a stale one.
            let size = if stale_contents || !metadata.is_file() {
                STALE_SIZE
            } else {
                metadata.len()
            };
            Kind::File { size: Some(size) }
        };
        tree.insert(
            path,
            Entry {
                kind,
                mtime: time(metadata.mtime(), metadata.mtime_nsec()),
                atime: time(metadata.atime(), metadata.atime_nsec()),
                perm: (metadata.mode() & 0o7777) as u16,
            },
        );
    }
    Ok(tree)
}

/// The on-disk path of `path` below `root`.
pub(crate) fn on_disk(root: &Path, path: &NodePath) -> std::path::PathBuf {
    let mut full = root.to_path_buf();
    full.extend(path.names());
    full
}

fn time(seconds: i64, nanos: i64) -> SystemTime {
    let nanos = u32::try_from(nanos).unwrap_or(0);
    match u64::try_from(seconds) {
        Ok(seconds) => UNIX_EPOCH + Duration::new(seconds, nanos),
        Err(_) => {
            UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + Duration::new(0, nanos)
        }
    }
}
