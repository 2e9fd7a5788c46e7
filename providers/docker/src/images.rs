//! Image inspects (the only source of `LastTagTime`), cached and shared by everyone who needs
//! one: a lookup of a tag, the background loader, an event about the image. One inspect of an
//! image at a time: whoever comes second waits for the first's answer instead of asking again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::engine::{Engine, EngineError, ImageDetails};

/// An inspect's answer and when it was asked.
#[derive(Clone, Debug)]
pub struct Inspected {
    pub details: ImageDetails,
    /// When the inspect was sent: an event older than that is already reflected.
    pub asked_at: SystemTime,
}

/// One image's slot: the async lock is held while its inspect is in flight.
#[derive(Default)]
struct Slot {
    answer: tokio::sync::Mutex<Option<Inspected>>,
}

#[derive(Default)]
struct Entry {
    slot: Arc<Slot>,
    /// An answer asked before this is stale (the image's tags changed, or an event named it).
    not_before: Option<SystemTime>,
}

/// The image inspects, by image id (64 hex digits). Holds an entry only for images the engine
/// listed last (see [`ImageInspects::retain`]) or that an event or a lookup named since.
#[derive(Default)]
pub struct ImageInspects {
    entries: Mutex<HashMap<String, Entry>>,
}

impl ImageInspects {
    fn slot(&self, id: &str) -> (Arc<Slot>, Option<SystemTime>) {
        let mut entries = self.entries.lock();
        let entry = entries.entry(id.to_string()).or_default();
        (Arc::clone(&entry.slot), entry.not_before)
    }

    /// The cached answer for `id` if it is fresh and no inspect of it is in flight.
    pub fn cached(&self, id: &str) -> Option<Inspected> {
        let entries = self.entries.lock();
        let entry = entries.get(id)?;
        let answer = entry.slot.answer.try_lock().ok()?;
        answer
            .as_ref()
            .filter(|answer| fresh(answer, entry.not_before))
            .cloned()
    }

    /// The details of image `id`, inspected unless a fresh answer asked after `asked_after` is
    /// cached. Waits for an inspect of the same image already in flight rather than sending a
    /// second one (and then uses its answer if that is fresh enough).
    pub async fn inspect(
        &self,
        engine: &Engine,
        id: &str,
        asked_after: Option<SystemTime>,
    ) -> Result<Inspected, EngineError> {
        let (slot, not_before) = self.slot(id);
        let mut answer = slot.answer.lock().await;
        // The entry may have been marked stale while this waited for the lock.
        let not_before = not_before.max(self.not_before(id));
        if let Some(cached) = answer.as_ref() {
            if fresh(cached, not_before) && asked_after.is_none_or(|after| cached.asked_at > after)
            {
                return Ok(cached.clone());
            }
        }
        let asked_at = SystemTime::now();
        match engine.image_details(id).await {
            Ok(details) => {
                let inspected = Inspected { details, asked_at };
                *answer = Some(inspected.clone());
                Ok(inspected)
            }
            Err(error) => {
                *answer = None;
                Err(error)
            }
        }
    }

    fn not_before(&self, id: &str) -> Option<SystemTime> {
        self.entries
            .lock()
            .get(id)
            .and_then(|entry| entry.not_before)
    }

    /// Stores an answer got without the cache (an inspect by a name an event gave), unless a
    /// newer one is there or an inspect of the image is in flight.
    pub fn store(&self, inspected: Inspected) {
        let (slot, _) = self.slot(&inspected.details.id);
        let Ok(mut answer) = slot.answer.try_lock() else {
            return;
        };
        if answer
            .as_ref()
            .is_none_or(|cached| cached.asked_at < inspected.asked_at)
        {
            *answer = Some(inspected);
        }
    }

    /// Answers asked before now are stale for `id`: its tags changed, or an event named it.
    pub fn invalidate(&self, id: &str) {
        let now = SystemTime::now();
        let mut entries = self.entries.lock();
        entries.entry(id.to_string()).or_default().not_before = Some(now);
    }

    /// Forgets `id` (the image is gone).
    pub fn remove(&self, id: &str) {
        self.entries.lock().remove(id);
    }

    /// Forgets every image but those in `live` (the engine's last list): the cache never holds
    /// more than the engine's images.
    pub fn retain(&self, live: &HashSet<&str>) {
        self.entries
            .lock()
            .retain(|id, entry| live.contains(id.as_str()) || Arc::strong_count(&entry.slot) > 1);
    }

    /// How many images have an entry (for tests of the bound).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }
}

fn fresh(answer: &Inspected, not_before: Option<SystemTime>) -> bool {
    not_before.is_none_or(|not_before| answer.asked_at >= not_before)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::ImageTimes;

    fn inspected(id: &str, asked_at: SystemTime) -> Inspected {
        Inspected {
            details: ImageDetails {
                id: id.to_string(),
                tags: vec!["app:1".into()],
                times: ImageTimes {
                    created: Some(SystemTime::UNIX_EPOCH),
                    last_tag_time: None,
                },
            },
            asked_at,
        }
    }

    #[test]
    fn answers_are_fresh_until_invalidated_and_only_live_images_are_kept() {
        let inspects = ImageInspects::default();
        let long_ago = SystemTime::now() - Duration::from_secs(60);
        inspects.store(inspected("a", long_ago));
        inspects.store(inspected("b", long_ago));
        assert_eq!(inspects.cached("a").unwrap().asked_at, long_ago);
        // An older answer never replaces a newer one.
        inspects.store(inspected("a", long_ago - Duration::from_secs(1)));
        assert_eq!(inspects.cached("a").unwrap().asked_at, long_ago);
        // An event named it: what was asked before is stale.
        inspects.invalidate("a");
        assert!(inspects.cached("a").is_none());
        inspects.store(inspected("a", SystemTime::now() + Duration::from_secs(1)));
        assert!(inspects.cached("a").is_some());
        // The engine lists `b` alone: `a` (and names of images seen once) are forgotten.
        inspects.invalidate("gone");
        assert_eq!(inspects.len(), 3);
        inspects.retain(&HashSet::from(["b"]));
        assert_eq!(inspects.len(), 1);
        assert!(inspects.cached("b").is_some());
        inspects.remove("b");
        assert_eq!(inspects.len(), 0);
    }
}
