//! The folder vfs sync writes: whether it may write there, its lock, and its `.vfs` marker.
//!
//! vfs sync writes only into a folder it creates, an empty one, or one that carries its
//! marker (it deletes whatever the provider's tree does not hold, so a folder of someone's
//! files must never become its target). One process at a time holds the folder (a `flock` on
//! it); the marker says which provider wrote it, how (`once`, `following`, `stopped`) and
//! whether files hold their contents.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rustix::fs::FlockOperation;
use vfs_core::{CopiedContents, NodePath, Provider};

use crate::apply::set_times;
use crate::entry::{Entry, Kind, MARKER};
use crate::SyncError;

/// The first line of every marker vfs sync writes (a FUSE mount's `.vfs` says `vfs mount:`).
pub(crate) const MARKER_HEAD: &str = "vfs sync: ";

/// How the folder is being kept, as the marker says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Written once (`--once`) or being written: nothing follows the provider.
    Once,
    /// A running `vfs sync` follows the provider's changes and answers `vfs wait`.
    Following,
    /// A following `vfs sync` stopped.
    Stopped,
}

impl Mode {
    fn word(self) -> &'static str {
        match self {
            Mode::Once => "once",
            Mode::Following => "following",
            Mode::Stopped => "stopped",
        }
    }
}

/// What a marker says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub provider: String,
    pub mode: Option<Mode>,
    pub contents: bool,
}

impl Marker {
    fn text(&self, pid: u32) -> String {
        let mode = self.mode.map_or("?", Mode::word);
        let contents = if self.contents { "yes" } else { "no" };
        format!(
            "{MARKER_HEAD}{}\nmode: {mode}\npid: {pid}\ncontents: {contents}\n",
            self.provider
        )
    }

    fn parse(text: &str) -> Option<Marker> {
        let mut lines = text.lines();
        let provider = lines.next()?.strip_prefix(MARKER_HEAD)?.to_owned();
        let mut marker = Marker {
            provider,
            mode: None,
            contents: false,
        };
        for line in lines {
            match line.split_once(": ") {
                Some(("mode", "once")) => marker.mode = Some(Mode::Once),
                Some(("mode", "following")) => marker.mode = Some(Mode::Following),
                Some(("mode", "stopped")) => marker.mode = Some(Mode::Stopped),
                Some(("contents", value)) => marker.contents = value == "yes",
                _ => {}
            }
        }
        Some(marker)
    }
}

/// The marker of the folder at `dir`, if it carries one of vfs sync.
pub fn read_marker(dir: &Path) -> Option<Marker> {
    let path = dir.join(MARKER);
    let metadata = std::fs::symlink_metadata(&path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    Marker::parse(&std::fs::read_to_string(path).ok()?)
}

/// A folder this process may write: canonical path, lock held until dropped.
pub(crate) struct Folder {
    pub path: PathBuf,
    /// Whether its files may hold bytes written with the other `--contents` setting.
    pub stale_contents: bool,
    /// Paths of the provider's tree to leave out (the folder itself, inside a mirrored SOURCE).
    pub excluded: Vec<NodePath>,
    _lock: File,
}

/// Checks done before the provider starts (nothing is created yet): the folder's kind, that
/// it is ours or empty, SOURCE, and `--contents`. `Ok(true)` when the folder is missing and
/// may be created.
pub(crate) fn check(
    provider: &dyn Provider,
    dir: &Path,
    contents: bool,
    create_missing: bool,
) -> Result<bool, SyncError> {
    let missing = match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => false,
        Ok(_) => return Err(SyncError::NotADirectory(dir.to_path_buf())),
        Err(error) if error.kind() == io::ErrorKind::NotFound && create_missing => true,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(SyncError::Missing(dir.to_path_buf()))
        }
        Err(error) => {
            return Err(SyncError::io(
                format!("cannot use {}", dir.display()),
                error,
            ))
        }
    };
    for source in provider.local_sources() {
        let source = source.canonicalize().unwrap_or(source);
        if dir == source {
            return Err(SyncError::FolderIsSource(dir.to_path_buf()));
        }
        if source.starts_with(dir) {
            return Err(SyncError::FolderHoldsSource {
                dir: dir.to_path_buf(),
                source_dir: source,
            });
        }
    }
    if contents {
        match provider.copied_contents() {
            CopiedContents::Allowed => {}
            CopiedContents::Refused { why } => return Err(SyncError::ContentsRefused(why)),
            // Created by us, it will be private (see `open`).
            CopiedContents::OwnerOnly { why } if !missing && !owner_only(dir)? => {
                return Err(SyncError::ContentsNeedPrivateFolder {
                    dir: dir.to_path_buf(),
                    why,
                })
            }
            CopiedContents::OwnerOnly { .. } => {}
        }
    }
    if !missing && read_marker(dir).is_none() && !is_empty(dir)? {
        return Err(SyncError::NotOurs(dir.to_path_buf()));
    }
    Ok(missing)
}

fn owner_only(dir: &Path) -> Result<bool, SyncError> {
    let metadata = std::fs::metadata(dir)
        .map_err(|error| SyncError::io(format!("cannot use {}", dir.display()), error))?;
    Ok(metadata.mode() & 0o077 == 0 && metadata.uid() == rustix::process::geteuid().as_raw())
}

fn is_empty(dir: &Path) -> Result<bool, SyncError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|error| SyncError::io(format!("cannot list {}", dir.display()), error))?;
    Ok(entries.next().is_none())
}

/// Creates the folder when `create` (owner-only when `private`), takes its lock, and finds
/// what the provider's tree must leave out. Call after [`check`] and the provider's start.
pub(crate) fn open(
    provider: &dyn Provider,
    dir: &Path,
    create: bool,
    private: bool,
    contents: bool,
) -> Result<Folder, SyncError> {
    if create {
        let mode = if private { 0o700 } else { 0o755 };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(dir)
            .map_err(|error| SyncError::io(format!("cannot create {}", dir.display()), error))?;
        if private {
            // The umask may have taken bits away, never added any; this only makes sure.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|error| SyncError::io(format!("cannot chmod {}", dir.display()), error))?;
        }
    }
    let path = dir
        .canonicalize()
        .map_err(|error| SyncError::io(format!("cannot resolve {}", dir.display()), error))?;
    let lock = File::open(&path)
        .map_err(|error| SyncError::io(format!("cannot open {}", path.display()), error))?;
    match rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Err(SyncError::Busy(path)),
        Err(error) => {
            return Err(SyncError::io(
                format!("cannot lock {}", path.display()),
                error,
            ))
        }
    }
    // Checked again under the lock: another run may have written it meanwhile.
    let marker = read_marker(&path);
    if marker.is_none() && !is_empty(&path)? {
        return Err(SyncError::NotOurs(path));
    }
    let stale_contents = marker.is_some_and(|marker| marker.contents != contents);
    let excluded = provider
        .local_sources()
        .into_iter()
        .filter_map(|source| {
            let source = source.canonicalize().unwrap_or(source);
            let inside = path.strip_prefix(&source).ok()?;
            tracing::info!(
                "{} lies inside SOURCE {}: left out of the copy",
                path.display(),
                source.display()
            );
            Some(NodePath::from_names(inside.iter()))
        })
        .collect();
    Ok(Folder {
        path,
        stale_contents,
        excluded,
        _lock: lock,
    })
}

impl Folder {
    /// Writes the marker (by rename, so a reader sees one whole marker), dated 1970 as the
    /// FUSE host's: it is an order-only prerequisite, never a reason to rebuild.
    pub fn write_marker(&self, marker: &Marker) -> Result<(), SyncError> {
        let path = self.path.join(MARKER);
        let temporary = self
            .path
            .join(format!("{MARKER}.tmp.{}", std::process::id()));
        let failed = |error| SyncError::io(format!("cannot write {}", path.display()), error);
        std::fs::write(&temporary, marker.text(std::process::id())).map_err(failed)?;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o444))
            .map_err(failed)?;
        let entry = Entry {
            kind: Kind::File { size: None },
            mtime: UNIX_EPOCH,
            atime: UNIX_EPOCH,
            perm: 0o444,
        };
        set_times(&temporary, &entry)?;
        std::fs::rename(&temporary, &path).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_reads_back_and_a_mount_marker_is_not_ours() {
        let marker = Marker {
            provider: "docker".into(),
            mode: Some(Mode::Following),
            contents: true,
        };
        assert_eq!(Marker::parse(&marker.text(42)), Some(marker));
        assert_eq!(Marker::parse("vfs mount: docker\nsettled\n"), None);
    }
}
