//! Readdir without a handle. Once OPENDIR is answered ENOSYS the kernel sends no OPENDIR or
//! RELEASEDIR again (Linux ≥ 5.1), keeps every listing it reads (`FOPEN_CACHE_DIR` and
//! `FOPEN_KEEP_CACHE` are its defaults then) until the notices thread drops it, and sends
//! READDIR with handle 0. The offsets come from versions of the folder's names kept by inode
//! (`handles::ListedDirs`): the start of a listing is served from the newest version, which is
//! the cached listing's, and every later offset continues in the version that handed it out.

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use vfs_core::NodePath;

use super::{errno_of, Errno, Host, Tables};
use crate::attrs::{Attributes, EntryKind};
use crate::cache::Listing;
use crate::handles::{fingerprint, position, ListedDir};
use crate::inodes::ROOT_INO;
use crate::kernel::KernelOp;

/// Where a handle-less readdir is served from: a version of the folder's names, and the index
/// of the first item to hand out.
#[derive(Clone, Debug)]
pub(crate) struct ListedAt {
    pub(crate) dir: Arc<ListedDir>,
    pub(crate) start: usize,
}

/// One item of a handle-less readdir.
#[derive(Debug)]
pub(crate) struct ListedItem<'a> {
    /// Where a readdir continues after this item.
    pub(crate) next: u64,
    pub(crate) name: &'a OsStr,
    pub(crate) attrs: Attributes,
    /// How long the kernel may keep the entry and its attributes (readdirplus).
    pub(crate) ttl: Duration,
}

const DOTS: [&str; 2] = [".", ".."];

impl Host {
    /// The kernel reads listings without a handle from now on (it was told to send no
    /// OPENDIR), and keeps each until told: a notice must drop more (see `changes`).
    pub(crate) fn set_without_handles(&self) {
        self.tables().listed.without_handles = true;
    }

    /// Where a readdir of folder `ino` at `offset` is served from, from the cache alone; `None`
    /// when the folder's listing must be loaded first (call [`Host::listed`]).
    pub(crate) fn cached_listed(&self, ino: u64, offset: u64) -> Option<Result<ListedAt, Errno>> {
        let now = Instant::now();
        let mut tables = self.tables();
        let (serial, index) = position(offset);
        if offset != 0 {
            if let Some((dir, newest)) = tables.listed.version(ino, serial) {
                if !newest {
                    // The kernel keeps what it reads: an older version read on would leave it a
                    // listing the folder no longer has. Have it dropped once read.
                    self.queue(KernelOp::Inode(ino));
                }
                return Some(Ok(ListedAt { dir, start: index }));
            }
            // Not an offset of a version still kept (four changes of the folder since): the
            // best that can be done is the same place in the newest one.
            tracing::debug!(
                ino,
                offset,
                "readdir at an offset of a version no longer kept"
            );
        }
        let Some((path, kind)) = tables.inodes.entry(ino) else {
            return Some(Err(libc::ENOENT));
        };
        if kind != EntryKind::Directory {
            return Some(Err(libc::ENOTDIR));
        }
        let listing = tables.cache.listing(&path, now)?;
        let dir = self.newest_version(&mut tables, ino, &path, listing);
        Some(Ok(ListedAt { dir, start: index }))
    }

    /// [`Host::cached_listed`], loading the folder's listing when the cache has none (which
    /// forgets the kernel's copy of the folder's attributes, whose link count it may change,
    /// before this returns).
    pub(crate) async fn listed(&self, ino: u64, offset: u64) -> Result<ListedAt, Errno> {
        if let Some(found) = self.cached_listed(ino, offset) {
            return found;
        }
        let (path, node, _) = self.node_of(ino, "readdir").await?;
        if !node.is_directory() {
            return Err(libc::ENOTDIR);
        }
        let listing = self
            .listing(&path)
            .await
            .map_err(|error| errno_of(error, "readdir", &path))?;
        let mut tables = self.tables();
        let dir = self.newest_version(&mut tables, ino, &path, listing);
        let (_, start) = position(offset);
        Ok(ListedAt { dir, start })
    }

    /// The version of folder `ino` serving `listing`: the newest one if it serves that very
    /// listing or the same names, numbers and types (its offsets stay valid), else a new one.
    fn newest_version(
        &self,
        tables: &mut Tables,
        ino: u64,
        path: &NodePath,
        listing: Arc<Listing>,
    ) -> Arc<ListedDir> {
        if let Some(newest) = tables.listed.newest(ino) {
            if Arc::ptr_eq(&newest.listing, &listing) {
                return newest.clone();
            }
        }
        let parent = match path.parent() {
            Some(parent) => self.number(tables, &parent, EntryKind::Directory),
            None => ROOT_INO,
        };
        let dots = [ino, parent];
        let numbered: Vec<(u64, EntryKind)> = listing
            .entries()
            .iter()
            .map(|entry| {
                let kind = EntryKind::of(entry);
                (self.number(tables, &path.join(&entry.name), kind), kind)
            })
            .collect();
        let dot_items = DOTS
            .iter()
            .zip(dots)
            .map(|(name, ino)| (OsStr::new(name), ino, EntryKind::Directory));
        let entry_items = listing
            .entries()
            .iter()
            .zip(&numbered)
            .map(|(entry, (ino, kind))| (entry.name.as_os_str(), *ino, *kind));
        let fingerprint = fingerprint(dot_items.chain(entry_items));
        tables.listed.keep(ino, fingerprint, dots, listing)
    }

    /// Hands `add` the items of `at` from its start, until it answers true (the reply is full);
    /// returns how many went into the reply. The kernel may keep an entry and its attributes
    /// only while the version serves the listing the host holds; `.` and `..` it never keeps
    /// from a listing.
    pub(crate) fn each_listed(
        &self,
        at: &ListedAt,
        mut add: impl FnMut(ListedItem<'_>) -> bool,
    ) -> usize {
        let now = Instant::now();
        let mut tables = self.tables();
        let dir = &at.dir;
        let Some(path) = tables.inodes.path(dir.dots[0]) else {
            return 0;
        };
        let mut added = 0;
        let current = tables
            .cache
            .listing(&path, now)
            .is_some_and(|listing| Arc::ptr_eq(&listing, &dir.listing));
        for index in at.start..dir.len() {
            let next = dir.offset_after(index);
            let item = match DOTS.iter().zip(dir.dots).nth(index) {
                Some((name, ino)) => ListedItem {
                    next,
                    name: OsStr::new(name),
                    attrs: self.dot_attributes(ino),
                    ttl: Duration::ZERO,
                },
                None => {
                    let entry = &dir.listing.entries()[index - DOTS.len()];
                    let child = path.join(&entry.name);
                    // Made now: a provisional link count is kept like the rest (the folder's
                    // listing, once loaded, forgets it in the kernel; see `attributes_of`).
                    let (attrs, _) = self.attributes_of(&mut tables, &child, entry, now);
                    let ttl = if current {
                        self.ttl_until(dir.listing.expires, now)
                    } else {
                        Duration::ZERO
                    };
                    ListedItem {
                        next,
                        name: &entry.name,
                        attrs,
                        ttl,
                    }
                }
            };
            if add(item) {
                break;
            }
            added += 1;
        }
        added
    }

    /// Sweeps the versions as if at `now`; returns how many folders still hold some.
    #[cfg(test)]
    pub(crate) fn sweep_listed(&self, now: Instant) -> usize {
        let mut tables = self.tables();
        tables.listed.sweep(now);
        tables.listed.folders()
    }

    /// What `.` and `..` carry in a listing: their number and type are what counts (the kernel
    /// takes no attributes from them).
    fn dot_attributes(&self, ino: u64) -> Attributes {
        Attributes {
            ino,
            kind: EntryKind::Directory,
            size: 0,
            perm: 0o555,
            nlink: 2,
            uid: self.owner.uid,
            gid: self.owner.gid,
            mtime: SystemTime::UNIX_EPOCH,
            ctime: SystemTime::UNIX_EPOCH,
            atime: SystemTime::UNIX_EPOCH,
        }
    }
}
