//! The FUSE mountpoints of this process's mount table, read again only when the table changed.
//!
//! The mirror must never look inside a FUSE mount below SOURCE: a mountpoint inside SOURCE is
//! usually this mount's own (`vfs mount gitconfig . .cfgfs`), and a `stat`, an `open` or an
//! inotify watch there would ask this very process, possibly while it waits on that answer.
//! So the mount table decides, by path, without touching the mount.
//!
//! The table is `vfs-mounts`'s, which only Linux has: elsewhere (macOS) no mountpoint is known
//! and none is hidden (logged once). There, a mount inside SOURCE is then served like any
//! folder; keep it out of SOURCE.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use vfs_mounts::{MountEntry, WatchedTable};

pub struct FuseMounts {
    state: Mutex<State>,
}

struct State {
    /// Kept open: it tells when it changed since it was last read.
    table: Option<WatchedTable>,
    points: HashSet<PathBuf>,
}

impl FuseMounts {
    pub fn new() -> FuseMounts {
        let table = WatchedTable::open()
            .inspect_err(|error| {
                tracing::warn!(
                    "cannot read the mount table ({error}): FUSE mounts inside SOURCE cannot be \
                     hidden"
                )
            })
            .ok();
        let mut state = State {
            table,
            points: HashSet::new(),
        };
        state.reread();
        FuseMounts {
            state: Mutex::new(state),
        }
    }

    /// Whether a FUSE file system is mounted at `path` (canonical, as the table spells it).
    pub fn is_fuse_mountpoint(&self, path: &Path) -> bool {
        let mut state = self.state.lock();
        if state.table.as_ref().is_some_and(WatchedTable::changed) {
            state.reread();
        }
        state.points.contains(path)
    }
}

impl State {
    fn reread(&mut self) {
        let Some(table) = &mut self.table else {
            return;
        };
        match table.read() {
            Ok(entries) => self.points = fuse_mountpoints(entries),
            Err(error) => tracing::warn!("cannot read the mount table: {error}"),
        }
    }
}

/// The mountpoints of the FUSE file systems among `entries`.
fn fuse_mountpoints(entries: Vec<MountEntry>) -> HashSet<PathBuf> {
    entries
        .into_iter()
        .filter(MountEntry::is_fuse)
        .map(|entry| entry.mount_point)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fuse_mountpoints_are_found_with_their_escapes_undone() {
        let table = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            40 22 0:40 / /r/with\\040space/.cfgfs ro,nosuid shared:1 - fuse vfs-gitconfig ro\n\
            41 22 0:41 / /r/b rw - fuse.bindfs /x rw\n\
            42 22 0:42 / /r/t rw - tmpfs tmpfs rw\n";
        let points = fuse_mountpoints(vfs_mounts::parse(table));
        assert_eq!(
            points,
            HashSet::from([PathBuf::from("/r/with space/.cfgfs"), PathBuf::from("/r/b")])
        );
    }

    #[test]
    fn reads_this_process_table() {
        // Whatever is mounted here, reading and polling the real table works.
        let mounts = FuseMounts::new();
        assert!(!mounts.is_fuse_mountpoint(Path::new("/nonexistent/place")));
    }
}
