//! Carrying out a [`Plan`] on the folder: plain file operations, times set with `utimensat`
//! (a symlink's own with `AT_SYMLINK_NOFOLLOW`), replacements by rename.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Timespec, Timestamps, CWD};
use vfs_core::{Content, NodePath};

use crate::entry::{Entry, Kind, Tree, TEMPORARY_PREFIX};
use crate::fetch::Source;
use crate::plan::{Op, Plan};
use crate::scan::on_disk;
use crate::SyncError;

/// Temporary names are unique within the process; the pid keeps two runs apart.
static TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// How many changes a pass made, for the log and the benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub created: usize,
    pub replaced: usize,
    pub retimed: usize,
    pub removed: usize,
}

impl Changes {
    pub fn total(&self) -> usize {
        self.created + self.replaced + self.retimed + self.removed
    }
}

/// Runs `plan` in the folder at `root`; `state` is the tree after the plan (the folders'
/// times come from it). Stops at the first error: the caller then reconciles from the disk.
pub(crate) fn apply(
    root: &Path,
    source: &Source,
    plan: &Plan,
    state: &Tree,
) -> Result<Changes, SyncError> {
    let mut changes = Changes::default();
    for op in &plan.ops {
        match op {
            Op::Create(path, entry) => {
                create(root, source, path, entry)?;
                changes.created += 1;
            }
            Op::Replace(path, entry) => {
                replace(root, source, path, entry)?;
                changes.replaced += 1;
            }
            Op::Retime(path, entry) => {
                set_times(&on_disk(root, path), entry)?;
                changes.retimed += 1;
            }
            Op::Remove(path) => {
                remove(&on_disk(root, path))?;
                changes.removed += 1;
            }
        }
    }
    for folder in &plan.folders {
        if let Some(entry) = state.get(folder) {
            set_times(&on_disk(root, folder), entry)?;
        }
    }
    Ok(changes)
}

fn create(root: &Path, source: &Source, path: &NodePath, entry: &Entry) -> Result<(), SyncError> {
    let full = on_disk(root, path);
    match &entry.kind {
        Kind::Dir => match std::fs::create_dir(&full) {
            Ok(()) => Ok(()),
            // The root exists already; a folder there from before is reused.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && full.is_dir() => Ok(()),
            Err(error) => Err(SyncError::io(
                format!("cannot create {}", full.display()),
                error,
            )),
        },
        // Stand-ins are created in place: nothing is there to be replaced.
        Kind::File { .. } if !source.contents => {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(u32::from(entry.perm))
                .open(&full)
            {
                Ok(_) => set_times(&full, entry),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    replace(root, source, path, entry)
                }
                Err(error) => Err(SyncError::io(
                    format!("cannot create {}", full.display()),
                    error,
                )),
            }
        }
        Kind::Symlink { target } => match std::os::unix::fs::symlink(target, &full) {
            Ok(()) => set_times(&full, entry),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                replace(root, source, path, entry)
            }
            Err(error) => Err(SyncError::io(
                format!("cannot create {}", full.display()),
                error,
            )),
        },
        Kind::File { .. } => replace(root, source, path, entry),
    }
}

/// Writes the entry under a temporary name next to it, with its times, and renames it over
/// whatever is there: a reader sees the old entry or the new one, never neither.
fn replace(root: &Path, source: &Source, path: &NodePath, entry: &Entry) -> Result<(), SyncError> {
    let full = on_disk(root, path);
    let temporary = temporary_beside(&full);
    let written = write_entry(source, path, entry, &temporary)
        .and_then(|()| set_times(&temporary, entry))
        .and_then(|()| {
            std::fs::rename(&temporary, &full)
                .map_err(|error| SyncError::io(format!("cannot replace {}", full.display()), error))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

fn temporary_beside(full: &Path) -> PathBuf {
    let number = TEMPORARY.fetch_add(1, Ordering::Relaxed);
    full.with_file_name(format!("{TEMPORARY_PREFIX}{}.{number}", std::process::id()))
}

fn write_entry(
    source: &Source,
    path: &NodePath,
    entry: &Entry,
    at: &Path,
) -> Result<(), SyncError> {
    let failed = |error: io::Error| SyncError::io(format!("cannot write {}", at.display()), error);
    match &entry.kind {
        Kind::Symlink { target } => std::os::unix::fs::symlink(target, at).map_err(failed),
        Kind::File { .. } => {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(at)
                .map_err(failed)?;
            if source.contents {
                match source.call(path, source.provider.read(path))? {
                    Content::Bytes(bytes) => file.write_all(&bytes).map_err(failed)?,
                    Content::File(mut from) => {
                        io::copy(&mut from, &mut file).map_err(failed)?;
                    }
                }
            }
            set_permissions(&file, entry.perm).map_err(failed)
        }
        Kind::Dir => Err(SyncError::io(
            format!("cannot write {}", at.display()),
            io::Error::other("a folder is never replaced by rename"),
        )),
    }
}

fn set_permissions(file: &File, perm: u16) -> io::Result<()> {
    file.set_permissions(std::fs::Permissions::from_mode(u32::from(perm)))
}

fn remove(full: &Path) -> Result<(), SyncError> {
    let removed = match std::fs::symlink_metadata(full) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir(full),
        Ok(_) => std::fs::remove_file(full),
        Err(error) => Err(error),
    };
    match removed {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(SyncError::io(
            format!("cannot remove {}", full.display()),
            error,
        )),
    }
}

/// Sets the entry's access and modification times on `full` itself (not a symlink's target).
pub(crate) fn set_times(full: &Path, entry: &Entry) -> Result<(), SyncError> {
    let times = Timestamps {
        last_access: timespec(entry.atime),
        last_modification: timespec(entry.mtime),
    };
    rustix::fs::utimensat(CWD, full, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(|error| {
        SyncError::io(format!("cannot set the times of {}", full.display()), error)
    })
}

fn timespec(time: SystemTime) -> Timespec {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => Timespec {
            tv_sec: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(after.subsec_nanos()),
        },
        Err(before) => {
            let before = before.duration();
            let mut seconds = -i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            let mut nanos = i64::from(before.subsec_nanos());
            if nanos > 0 {
                seconds -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            Timespec {
                tv_sec: seconds,
                tv_nsec: nanos,
            }
        }
    }
}
