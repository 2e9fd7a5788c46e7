//! The kernel's lookup counts: every entry handed over (LOOKUP, READDIRPLUS) is one more
//! lookup the kernel holds, FORGET gives them back, and a number neither the kernel nor a
//! listing holds goes (see `inodes` for the rule), so the tables shrink with the churn.

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
    /// goes if the host's listing of its folder lacks it; without a listing, the next one
    /// decides ([`Tables::listed_anew`]).
    pub(crate) fn forget(&self, forgotten: &[(u64, u64)]) {
        let mut tables = self.tables();
        for (ino, count) in forgotten {
            let Some((path, kind)) = tables.inodes.forget(*ino, *count) else {
                continue;
            };
            if tables
                .cache
                .listed(&path)
                .is_some_and(|listed| listed != Some(kind))
            {
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
    pub(crate) pending: usize,
}

#[cfg(test)]
impl Host {
    pub(crate) fn table_sizes(&self) -> TableSizes {
        let tables = self.tables();
        let (listings, learnt_sizes) = tables.cache.sizes();
        TableSizes {
            numbers: tables.inodes.len(),
            paths: tables.inodes.paths(),
            negatives: tables.negatives.len(),
            served_listings: tables.served_listings.len(),
            listings,
            learnt_sizes,
            pending: self.pending.lock().len(),
        }
    }

    /// How many lookups of `ino` the kernel holds, as the host counts them.
    pub(crate) fn lookups(&self, ino: u64) -> Option<u64> {
        self.tables().inodes.lookups(ino)
    }
}

impl Tables {
    /// A new listing of `dir` was stored: the numbers of names it no longer has (as that
    /// kind) that the kernel does not hold go.
    pub(super) fn listed_anew(&mut self, dir: &NodePath, listing: &Listing) {
        let dropped = self.inodes.drop_unlisted(dir, |name, kind| {
            listing
                .get(name)
                .is_some_and(|entry| EntryKind::of(&entry.node) == kind)
        });
        self.dropped(&dropped);
    }

    /// What the host kept about numbers it just dropped: the listing it last served for a
    /// folder, the missing names the kernel was told of in it.
    pub(super) fn dropped(&mut self, inos: &[u64]) {
        let now = Instant::now();
        for ino in inos {
            self.served_listings.remove(ino);
            self.negatives.take_children(*ino, now);
        }
    }
}
