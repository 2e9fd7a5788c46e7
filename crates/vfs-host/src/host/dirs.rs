//! Directories: `opendir` snapshots a listing into a handle (stable readdir offsets), and
//! decides whether the kernel may keep the listing it cached before.

use std::sync::Arc;

use parking_lot::MutexGuard;
use std::time::{Duration, Instant};

use vfs_core::{Node, NodePath};

use crate::attrs::EntryKind;
use crate::cache::Listing;
use crate::handles::{DirItem, DirSnapshot};
use crate::inodes::ROOT_INO;
use crate::kernel::KernelOp;

use super::{errno_of, Errno, Host, Tables, MIN_TTL};

/// An open directory, and whether the kernel may keep the listing it cached before: only when
/// that listing is the very one this handle serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpenedDir {
    pub(crate) handle: u64,
    pub(crate) keep_cache: bool,
}

/// A directory about to get a handle: what [`Host::open_snapshot`] needs.
pub(super) struct DirToOpen<'a> {
    ino: u64,
    path: &'a NodePath,
    node: &'a Node,
    node_expires: Instant,
    listing: &'a Listing,
    generation: u64,
}

impl Host {
    /// Snapshots the directory's entries (with `.` and `..`) into a new handle.
    pub(crate) async fn opendir(&self, ino: u64) -> Result<OpenedDir, Errno> {
        let generation = self.tables().cache.generation();
        let (path, node, node_expires) = self.node_of(ino, "opendir").await?;
        let failed = |error| errno_of(error, "opendir", &path);
        if !node.is_directory() {
            return Err(libc::ENOTDIR);
        }
        let listing = self.listing(&path).await.map_err(failed)?;
        let dir = DirToOpen {
            ino,
            path: &path,
            node: &node,
            node_expires,
            listing: &listing,
            generation,
        };
        Ok(self.open_snapshot(self.tables(), dir))
    }

    /// [`Host::opendir`] from the cache alone, answered on the FUSE thread like the other
    /// cached answers (make opens the folder of every prerequisite); `None` when the directory
    /// or its listing must be asked for.
    pub(crate) fn cached_opendir(&self, ino: u64) -> Option<Result<OpenedDir, Errno>> {
        let now = Instant::now();
        let tables = self.tables();
        let generation = tables.cache.generation();
        let Some((path, kind)) = tables.inodes.entry(ino) else {
            return Some(Err(libc::ENOENT));
        };
        let (node, node_expires) = match Self::cached_node(&tables, &path, kind, now)? {
            Ok(found) => found,
            Err(errno) => return Some(Err(errno)),
        };
        if !node.is_directory() {
            return Some(Err(libc::ENOTDIR));
        }
        let listing = tables.cache.listing(&path, now)?;
        let dir = DirToOpen {
            ino,
            path: &path,
            node: &node,
            node_expires,
            listing: &listing,
            generation,
        };
        Some(Ok(self.open_snapshot(tables, dir)))
    }

    /// A new handle serving the entries of `dir`, and whether the kernel may keep the listing
    /// it cached before (only if it is this very one). Releases `tables` before the handle
    /// table is locked.
    pub(super) fn open_snapshot(
        &self,
        mut guard: MutexGuard<'_, Tables>,
        dir: DirToOpen<'_>,
    ) -> OpenedDir {
        let DirToOpen {
            ino,
            path,
            node,
            node_expires,
            listing,
            generation,
        } = dir;
        let tables = &mut *guard;
        let now = Instant::now();
        let (dot, _) = self.attributes_of(tables, path, node, now);
        let parent_ino = match path.parent() {
            Some(parent) => self.number(tables, &parent, EntryKind::Directory),
            None => ROOT_INO,
        };
        let mut items = Vec::with_capacity(listing.entries().len() + 2);
        let mut dot_dot = dot.clone();
        dot_dot.ino = parent_ino;
        items.push(DirItem {
            name: ".".into(),
            attrs: dot,
            expires: node_expires,
            provisional: false,
        });
        items.push(DirItem {
            name: "..".into(),
            attrs: dot_dot,
            expires: node_expires,
            provisional: false,
        });
        for entry in listing.entries() {
            let child = path.join(&entry.name);
            let (attrs, provisional) = self.attributes_of(tables, &child, entry, now);
            items.push(DirItem {
                name: entry.name.clone(),
                attrs,
                expires: listing.expires,
                provisional,
            });
        }
        let fingerprint = DirSnapshot::fingerprint_of(&items);
        let keep_cache = tables.served_listings.insert(ino, fingerprint) == Some(fingerprint);
        let snapshot = DirSnapshot {
            items,
            generation,
            fingerprint,
        };
        drop(guard);
        let handle = self.handles.open_dir(snapshot);
        OpenedDir { handle, keep_cache }
    }

    /// Called when the kernel reads `snapshot` of directory `ino`: the kernel caches what it
    /// reads, so a handle older than the listing last handed out (opened before a change,
    /// read after) would leave a stale listing in its cache; have it dropped.
    pub(crate) fn reading_snapshot(&self, ino: u64, snapshot: &DirSnapshot) {
        let current = self.tables().served_listings.get(&ino) == Some(&snapshot.fingerprint);
        if !current {
            self.queue(KernelOp::Inode(ino));
        }
    }

    pub(crate) fn dir_snapshot(&self, handle: u64) -> Option<Arc<DirSnapshot>> {
        self.handles.dir(handle)
    }

    /// How long the kernel may keep an entry handed over by readdirplus. A snapshot taken
    /// before a change notice (opened before it, read after) may hold what the notice just
    /// took back: not to be kept at all, or a `stat` right after would see the old attributes
    /// again (the kernel applies them, since its own invalidation came before the read).
    pub(crate) fn snapshot_ttl(
        &self,
        snapshot: &DirSnapshot,
        item: &DirItem,
        now: Instant,
    ) -> Duration {
        if snapshot.generation != self.tables().cache.generation() {
            return Duration::ZERO;
        }
        if item.provisional {
            return MIN_TTL;
        }
        self.ttl_until(item.expires, now)
    }

    pub(crate) fn releasedir(&self, handle: u64) {
        self.handles.release_dir(handle);
    }
}
