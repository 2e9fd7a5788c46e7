//! The kernel's lookup counts: every entry handed over (LOOKUP, READDIRPLUS) is one more
//! lookup the kernel holds, FORGET gives them back, and a number neither the kernel nor a
//! listing holds goes (see `inodes` for the rule), so the tables shrink with the churn.

use std::sync::Arc;
use std::time::Instant;

use vfs_core::NodePath;

use crate::attrs::EntryKind;
use crate::cache::Listing;

use super::{Host, Tables};

impl Host {
    /// The kernel took the entries numbered `inos` from a READDIRPLUS answer: one more lookup
    /// of each. A number the host dropped since the snapshot was taken is not counted (the
    /// kernel will find it gone and look the name up again).
    pub(crate) fn handed_out(&self, inos: &[u64]) {
        let mut tables = self.tables();
        for ino in inos {
            tables.inodes.looked_up(*ino);
        }
    }

    /// FORGET: the kernel gives back `count` lookups of each number. One it no longer holds
    /// goes once its name is known to be gone ([`Tables::gone`]).
    pub(crate) fn forget(&self, forgotten: &[(u64, u64)]) {
        let one_by_one = self.provider.prefers_lookup();
        let now = Instant::now();
        let mut tables = self.tables();
        for (ino, count) in forgotten {
            let Some((path, kind)) = tables.inodes.forget(*ino, *count) else {
                continue;
            };
            if tables.gone(&path, kind, one_by_one, now) || tables.orphaned(&path) {
                let dropped = tables.inodes.drop_number(*ino);
                tables.dropped(&dropped);
            }
        }
    }
}

/// How much the host keeps, table by table (for tests that churn).
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TableSizes {
    pub(crate) numbers: usize,
    pub(crate) paths: usize,
    pub(crate) negatives: usize,
    pub(crate) served_listings: usize,
    pub(crate) listings: usize,
    pub(crate) learnt_sizes: usize,
    pub(crate) looked_up: usize,
    pub(crate) pending: usize,
}

#[cfg(test)]
impl Host {
    pub(crate) fn table_sizes(&self) -> TableSizes {
        let tables = self.tables();
        let (listings, learnt_sizes, looked_up) = tables.cache.sizes();
        TableSizes {
            numbers: tables.inodes.len(),
            paths: tables.inodes.paths(),
            negatives: tables.negatives.len(),
            served_listings: tables.served_listings.len(),
            listings,
            learnt_sizes,
            looked_up,
            pending: self.pending.lock().len(),
        }
    }

    /// How many lookups of `ino` the kernel holds, as the host counts them.
    pub(crate) fn lookups(&self, ino: u64) -> Option<u64> {
        self.tables().inodes.lookups(ino)
    }
}

impl Tables {
    /// Whether the name `path` (as a `kind`) is known to be gone: the host's listing of its
    /// folder lacks it; without a listing, for a provider asked one name at a time
    /// (`one_by_one`), when the host holds no looked-up entry of it (a notice dropped it, or it
    /// expired). Otherwise the next listing of the folder decides ([`Tables::listed_anew`]).
    pub(super) fn gone(
        &self,
        path: &NodePath,
        kind: EntryKind,
        one_by_one: bool,
        now: Instant,
    ) -> bool {
        match self.cache.listed(path) {
            Some(listed) => listed != Some(kind),
            None => {
                let (Some(dir), Some(name)) = (path.parent(), path.name()) else {
                    return false;
                };
                one_by_one
                    && !self
                        .cache
                        .looked_up(&dir, name, now)
                        .is_some_and(|(node, _)| EntryKind::of(&node) == kind)
            }
        }
    }

    /// Whether `path`'s folder has no number any more: the kernel let go of the folder (and
    /// the host dropped it) while it still held `path`, as it may in one FORGET batch or for an
    /// inode it keeps longer than its name. No lookup can reach `path` again but through a new
    /// number of the folder, so a `path` the kernel no longer holds is unreachable: nothing
    /// would ever list that folder to find `path` gone.
    fn orphaned(&self, path: &NodePath) -> bool {
        path.parent()
            .is_some_and(|dir| self.inodes.get(&dir, EntryKind::Directory).is_none())
    }

    /// Drops, of `candidates`, the numbers the kernel does not hold whose names are gone.
    pub(super) fn drop_gone(
        &mut self,
        candidates: Vec<(u64, Arc<NodePath>, EntryKind)>,
        one_by_one: bool,
        now: Instant,
    ) {
        for (ino, path, kind) in candidates {
            if self.inodes.lookups(ino) == Some(0) && self.gone(&path, kind, one_by_one, now) {
                let dropped = self.inodes.drop_number(ino);
                self.dropped(&dropped);
            }
        }
    }

    /// A new listing of `dir` was stored: the numbers of names it no longer has (as that
    /// kind) that the kernel does not hold go.
    pub(super) fn listed_anew(&mut self, dir: &NodePath, listing: &Listing) {
        let dropped = self.inodes.drop_unlisted(dir, |name, kind| {
            listing
                .get(name)
                .is_some_and(|node| EntryKind::of(node) == kind)
        });
        self.dropped(&dropped);
    }

    /// What the host kept about numbers it just dropped: the listing it last served for a
    /// folder and the versions handle-less readdirs read, the missing names the kernel was told
    /// of in it.
    pub(super) fn dropped(&mut self, inos: &[u64]) {
        let now = Instant::now();
        for ino in inos {
            self.served_listings.remove(ino);
            self.listed.forget(*ino);
            self.negatives.take_children(*ino, now);
        }
    }
}
