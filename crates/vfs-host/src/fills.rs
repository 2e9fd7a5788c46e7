//! The folders whose listing the kernel is reading into its cache (FOPEN_CACHE_DIR), so that
//! no invalidation drops a page of that cache halfway.
//!
//! The kernel appends each entry it reads to the end of the folder's cached listing; when the
//! page it would append to is gone it appends nothing more, and that cache is never completed
//! nor started again (`fuse_add_dirent_to_cache` finds no page; only a completed cache is ever
//! reset): from then on the kernel asks for the folder's listing at every read. A change
//! notice that lands between two replies of one listing did exactly that. So the data of a
//! folder being read is dropped once the listing is read to its end: its attributes at once
//! (so a new time shows at the next look), its pages after the reply that ends the listing, or
//! [`ABANDONED`] after the last reply when the reader stopped halfway.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

/// How long after its last reply a listing read halfway counts as abandoned: its reader
/// stopped, and a drop left waiting is made.
pub(crate) const ABANDONED: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct Fills {
    folders: Mutex<HashMap<u64, Fill>>,
}

struct Fill {
    /// When the last reply with entries was made ready.
    last: Instant,
    /// A drop of the folder's data waits for the end of the listing.
    deferred: bool,
}

/// The fills held still while kernel operations are performed: a reply of a listing waits for
/// them, so a drop of a folder's pages is either done before that reply is sent or made to
/// wait for the listing's end.
pub(crate) struct Held<'a>(MutexGuard<'a, HashMap<u64, Fill>>);

impl Fills {
    /// Notes a reply of folder `ino`'s listing about to be sent with `entries` entries (none:
    /// the listing's end). True when a drop of the folder's data waited for that end: the
    /// caller has it made.
    pub(crate) fn replying(&self, ino: u64, entries: usize, now: Instant) -> bool {
        let mut folders = self.folders.lock();
        if entries == 0 {
            return folders.remove(&ino).is_some_and(|fill| fill.deferred);
        }
        folders
            .entry(ino)
            .and_modify(|fill| fill.last = now)
            .or_insert(Fill {
                last: now,
                deferred: false,
            });
        false
    }

    /// Holds the fills while a drop of a folder's data is decided and made.
    pub(crate) fn hold(&self) -> Held<'_> {
        Held(self.folders.lock())
    }

    /// The folders whose listing was abandoned halfway with a drop waiting; forgotten as
    /// being read.
    pub(crate) fn abandoned(&self, now: Instant) -> Vec<u64> {
        let mut folders = self.folders.lock();
        let gone: Vec<u64> = folders
            .iter()
            .filter(|(_, fill)| now.saturating_duration_since(fill.last) >= ABANDONED)
            .map(|(&ino, _)| ino)
            .collect();
        gone.into_iter()
            .filter(|ino| folders.remove(ino).is_some_and(|fill| fill.deferred))
            .collect()
    }

    /// How long until the first waiting drop is due as abandoned; `None` when none waits.
    pub(crate) fn next_due(&self, now: Instant) -> Option<Duration> {
        self.folders
            .lock()
            .values()
            .filter(|fill| fill.deferred)
            .map(|fill| (fill.last + ABANDONED).saturating_duration_since(now))
            .min()
    }
}

impl Held<'_> {
    /// Whether a drop of folder `ino`'s data must wait for the end of its listing; if so it is
    /// left waiting.
    pub(crate) fn defer(&mut self, ino: u64) -> bool {
        match self.0.get_mut(&ino) {
            Some(fill) => {
                fill.deferred = true;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_waits_for_the_end_of_a_listing_being_read() {
        let fills = Fills::default();
        let now = Instant::now();
        assert!(
            !fills.hold().defer(7),
            "nothing is read: the drop is made now"
        );
        assert!(!fills.replying(7, 40, now));
        assert!(fills.hold().defer(7), "halfway through its listing");
        assert!(!fills.hold().defer(8));
        assert_eq!(fills.next_due(now), Some(ABANDONED));
        assert!(!fills.replying(7, 40, now), "more entries: still waiting");
        assert!(fills.replying(7, 0, now), "the end: the drop is due");
        assert!(
            !fills.hold().defer(7),
            "read to its end: a drop is made now"
        );
        assert_eq!(fills.next_due(now), None);
        // A listing read to its end with no drop waiting leaves nothing due.
        assert!(!fills.replying(9, 3, now));
        assert!(!fills.replying(9, 0, now));
    }

    #[test]
    fn a_listing_abandoned_halfway_has_its_drop_made_after_a_while() {
        let fills = Fills::default();
        let start = Instant::now();
        fills.replying(5, 10, start);
        fills.replying(6, 10, start);
        assert!(fills.hold().defer(5));
        assert!(fills.abandoned(start).is_empty());
        let later = start + ABANDONED;
        assert_eq!(fills.next_due(start + ABANDONED / 2), Some(ABANDONED / 2));
        assert_eq!(fills.abandoned(later), vec![5]);
        // Both are forgotten as being read; only 5 had a drop waiting.
        assert!(!fills.hold().defer(5));
        assert!(!fills.hold().defer(6));
        assert_eq!(fills.next_due(later), None);
    }
}
