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
//!
//! No lock is held while the kernel drops an inode's data: dropping a file's pages waits for
//! the page a reader holds until its read is answered, and that answer may queue behind a
//! listing's reply. A drop in progress is marked instead, and only a reply of that very folder
//! waits for it (a folder's pages are held only briefly, never across a request).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// How long after its last reply a listing read halfway counts as abandoned: its reader
/// stopped, and a drop left waiting is made.
pub(crate) const ABANDONED: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct Fills {
    state: Mutex<State>,
    /// Woken when a drop of an inode's data is done.
    dropped: Condvar,
}

#[derive(Default)]
struct State {
    folders: HashMap<u64, Fill>,
    /// The inodes whose data the kernel is dropping now.
    dropping: HashSet<u64>,
}

struct Fill {
    /// When the last reply with entries was made ready.
    last: Instant,
    /// A drop of the folder's data waits for the end of the listing.
    deferred: bool,
}

impl Fills {
    /// Notes a reply of folder `ino`'s listing about to be sent with `entries` entries (none:
    /// the listing's end), after any drop of the folder's data in progress. True when a drop
    /// of the folder's data waited for that end: the caller has it made.
    pub(crate) fn replying(&self, ino: u64, entries: usize, now: Instant) -> bool {
        let mut state = self.state.lock();
        while state.dropping.contains(&ino) {
            self.dropped.wait(&mut state);
        }
        if entries == 0 {
            return state.folders.remove(&ino).is_some_and(|fill| fill.deferred);
        }
        state
            .folders
            .entry(ino)
            .and_modify(|fill| fill.last = now)
            .or_insert(Fill {
                last: now,
                deferred: false,
            });
        false
    }

    /// Before the kernel drops `ino`'s data: true to drop it now (then call
    /// [`Fills::dropped`] once done), false when its listing is being read (the drop is left
    /// waiting for the end of the listing).
    pub(crate) fn drop_now(&self, ino: u64) -> bool {
        let mut state = self.state.lock();
        if let Some(fill) = state.folders.get_mut(&ino) {
            fill.deferred = true;
            return false;
        }
        state.dropping.insert(ino);
        true
    }

    /// The kernel has dropped `ino`'s data (see [`Fills::drop_now`]).
    pub(crate) fn dropped(&self, ino: u64) {
        self.state.lock().dropping.remove(&ino);
        self.dropped.notify_all();
    }

    /// The folders whose listing was abandoned halfway with a drop waiting; forgotten as
    /// being read.
    pub(crate) fn abandoned(&self, now: Instant) -> Vec<u64> {
        let mut state = self.state.lock();
        let folders = &mut state.folders;
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
        self.state
            .lock()
            .folders
            .values()
            .filter(|fill| fill.deferred)
            .map(|fill| (fill.last + ABANDONED).saturating_duration_since(now))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_waits_for_the_end_of_a_listing_being_read() {
        let fills = Fills::default();
        let now = Instant::now();
        assert!(fills.drop_now(7), "nothing is read: the drop is made now");
        fills.dropped(7);
        assert!(!fills.replying(7, 40, now));
        assert!(!fills.drop_now(7), "halfway through its listing");
        assert!(fills.drop_now(8));
        fills.dropped(8);
        assert_eq!(fills.next_due(now), Some(ABANDONED));
        assert!(!fills.replying(7, 40, now), "more entries: still waiting");
        assert!(fills.replying(7, 0, now), "the end: the drop is due");
        assert!(fills.drop_now(7), "read to its end: a drop is made now");
        fills.dropped(7);
        assert_eq!(fills.next_due(now), None);
        // A listing read to its end with no drop waiting leaves nothing due.
        assert!(!fills.replying(9, 3, now));
        assert!(!fills.replying(9, 0, now));
    }

    #[test]
    fn a_reply_of_a_folder_waits_for_a_drop_of_its_data_in_progress_and_nothing_else() {
        let fills = std::sync::Arc::new(Fills::default());
        assert!(fills.drop_now(3));
        assert!(fills.drop_now(4));
        // Another folder's reply does not wait for a drop in progress.
        assert!(!fills.replying(5, 2, Instant::now()));
        let replied = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reply = std::thread::spawn({
            let (fills, replied) = (fills.clone(), replied.clone());
            move || {
                fills.replying(3, 2, Instant::now());
                replied.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !replied.load(std::sync::atomic::Ordering::SeqCst),
            "waits for the drop"
        );
        fills.dropped(4);
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !replied.load(std::sync::atomic::Ordering::SeqCst),
            "another inode's drop"
        );
        fills.dropped(3);
        reply.join().unwrap();
        assert!(replied.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn a_listing_abandoned_halfway_has_its_drop_made_after_a_while() {
        let fills = Fills::default();
        let start = Instant::now();
        fills.replying(5, 10, start);
        fills.replying(6, 10, start);
        assert!(!fills.drop_now(5));
        assert!(fills.abandoned(start).is_empty());
        let later = start + ABANDONED;
        assert_eq!(fills.next_due(start + ABANDONED / 2), Some(ABANDONED / 2));
        assert_eq!(fills.abandoned(later), vec![5]);
        // Both are forgotten as being read; only 5 had a drop waiting.
        assert!(fills.drop_now(5));
        assert!(fills.drop_now(6));
        assert_eq!(fills.next_due(later), None);
    }
}
