//! Tag times for engines whose image inspect keeps none: Podman's Docker-compatible API answers
//! `Metadata.LastTagTime` with Go's zero time, so a cached rebuild (the same image tagged
//! again) would leave the image at its `Created` time and make would rebuild it forever. The
//! engine still announces the rebuild: Podman sends a `build` event (the image id in its
//! `name` attribute; the actor id is empty) or a `tag` event. The time of the latest such event
//! seen stands in for `LastTagTime` when, and only when, the inspect has none: on Docker the
//! engine's own `LastTagTime` is always used. An event's time is the engine's, taken after the
//! tag was made, so the time served is never older than the change.
//!
//! What was tagged before the mount started is not known (no event was seen): such an image
//! has its `Created` time, which can make one extra (cached) rebuild after a remount, never a
//! skipped one.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use bollard::models::{EventMessage, EventMessageTypeEnum};
use parking_lot::Mutex;

/// The image an image event is about: its actor id, or for Podman's `build` event (no actor
/// id) the image id in its `name` attribute. `sha256:` is kept as the event wrote it.
pub fn event_image(event: &EventMessage) -> Option<&str> {
    if event.typ != Some(EventMessageTypeEnum::IMAGE) {
        return None;
    }
    let actor = event.actor.as_ref()?;
    if let Some(id) = actor.id.as_deref().filter(|id| !id.is_empty()) {
        return Some(id);
    }
    if event.action.as_deref() != Some("build") {
        return None;
    }
    actor
        .attributes
        .as_ref()?
        .get("name")
        .map(String::as_str)
        .filter(|name| is_image_id(name.strip_prefix("sha256:").unwrap_or(name)))
}

/// Whether the event (re)tagged an image: `tag` (Docker and Podman) and `build` (Podman,
/// whose builds, cached or not, send no `tag`).
pub fn tags_an_image(event: &EventMessage) -> bool {
    event.typ == Some(EventMessageTypeEnum::IMAGE)
        && matches!(event.action.as_deref(), Some("tag" | "build"))
}

fn is_image_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// What is known of one image's tagging.
#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    /// The latest tag event seen.
    tagged: Option<SystemTime>,
    /// Its last inspect had no `LastTagTime`: a later tag event makes that answer stale.
    lacks_last_tag_time: bool,
}

/// Tag event times by image id (64 hex digits, no `sha256:`), for the images whose inspect
/// lacks `LastTagTime` (and for tagged images not inspected since).
#[derive(Debug, Default)]
pub struct TagTimes {
    entries: Mutex<HashMap<String, Entry>>,
}

impl TagTimes {
    /// Records that `id` was tagged at `at` (the later time wins). True when an inspect of the
    /// image answered before without a `LastTagTime`: that answer's time is now stale, and the
    /// image must be inspected again even if the inspect came after the event.
    pub fn note(&self, id: &str, at: SystemTime) -> bool {
        let id = id.strip_prefix("sha256:").unwrap_or(id);
        let mut entries = self.entries.lock();
        let entry = entries.entry(id.to_string()).or_default();
        entry.tagged = entry.tagged.max(Some(at));
        entry.lacks_last_tag_time
    }

    /// The `LastTagTime` to use for image `id`, whose inspect gave `from_inspect`: the
    /// engine's own when it has one (a Docker engine; nothing is then kept of the image), else
    /// the latest tag event's.
    pub fn fill(&self, id: &str, from_inspect: Option<SystemTime>) -> Option<SystemTime> {
        let id = id.strip_prefix("sha256:").unwrap_or(id);
        let mut entries = self.entries.lock();
        if from_inspect.is_some() {
            entries.remove(id);
            return from_inspect;
        }
        let entry = entries.entry(id.to_string()).or_default();
        entry.lacks_last_tag_time = true;
        entry.tagged
    }

    /// Forgets `id` (the image is gone). An image tagged and removed before any inspect
    /// (a Docker build's intermediate tag, a CI image removed at once) would stay otherwise.
    pub fn forget(&self, id: &str) {
        let id = id.strip_prefix("sha256:").unwrap_or(id);
        self.entries.lock().remove(id);
    }

    /// Forgets every image but those in `live` (the engine's last list, ids without
    /// `sha256:`): never more entries than the engine has images.
    pub fn retain(&self, live: &HashSet<&str>) {
        self.entries
            .lock()
            .retain(|id, _| live.contains(id.as_str()));
    }

    /// How many images have an entry (for tests of the bound).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use bollard::models::EventActor;

    use super::*;

    const ID: &str = "35eebd42e917e1209c714d95fd9b7b50d10b0a45b76ba126f360da5f9bc9d2fb";

    fn event(action: &str, actor_id: &str, name: &str) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::IMAGE),
            action: Some(action.to_string()),
            actor: Some(EventActor {
                id: Some(actor_id.to_string()),
                attributes: Some(HashMap::from([("name".to_string(), name.to_string())])),
            }),
            ..Default::default()
        }
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn podman_build_events_name_the_image_in_their_name_attribute() {
        // As Podman 4.3's compat API sends them.
        let build = event("build", "", ID);
        assert_eq!(event_image(&build), Some(ID));
        assert!(tags_an_image(&build));
        let tag = event("tag", ID, "localhost/app:1");
        assert_eq!(event_image(&tag), Some(ID));
        assert!(tags_an_image(&tag));
        let untag = event("untag", ID, "localhost/app:1");
        assert_eq!(event_image(&untag), Some(ID));
        assert!(!tags_an_image(&untag));
        // A name that is no id, or another action without an actor id, names nothing.
        assert_eq!(event_image(&event("build", "", "localhost/app:1")), None);
        assert_eq!(event_image(&event("prune", "", ID)), None);
        let mut container = event("create", ID, "c1");
        container.typ = Some(EventMessageTypeEnum::CONTAINER);
        assert_eq!(event_image(&container), None);
        assert!(!tags_an_image(&container));
    }

    #[test]
    fn an_event_time_stands_in_only_for_a_missing_last_tag_time() {
        let times = TagTimes::default();
        // Tagged before any inspect: nothing stale to say.
        assert!(!times.note(ID, at(12)));
        assert_eq!(times.fill(ID, None), Some(at(12)));
        // Inspected without a LastTagTime, then tagged: that answer is stale.
        assert!(times.note(&format!("sha256:{ID}"), at(20)));
        assert!(times.note(ID, at(15)));
        assert_eq!(times.fill(ID, None), Some(at(20)));
        // The engine's own LastTagTime wins, and then nothing is kept of the image.
        assert_eq!(times.fill(ID, Some(at(19))), Some(at(19)));
        assert!(!times.note(ID, at(30)));
        assert_eq!(times.fill(ID, Some(at(19))), Some(at(19)));
    }

    #[test]
    fn images_tagged_and_removed_leave_no_entry() {
        // On Docker: a tag event, then the image is gone before any inspect (or inspected
        // with its own LastTagTime); on Podman: inspected without one, then removed.
        const CYCLES: u64 = 100_000;
        let times = TagTimes::default();
        let kept = format!("{:064x}", u64::MAX);
        assert!(!times.note(&kept, at(1)));
        assert_eq!(times.len(), 1);
        for cycle in 0..CYCLES {
            let id = format!("{cycle:064x}");
            times.note(&format!("sha256:{id}"), at(cycle));
            match cycle % 3 {
                // Gone before an inspect: the event that says so.
                0 => times.forget(&format!("sha256:{id}")),
                // Inspected on Docker: the engine's own time, nothing kept.
                1 => assert_eq!(times.fill(&id, Some(at(cycle))), Some(at(cycle))),
                // Inspected on Podman, then gone: the next list no longer has it.
                _ => {
                    assert_eq!(times.fill(&id, None), Some(at(cycle)));
                    times.retain(&HashSet::from([kept.as_str(), id.as_str()]));
                    assert_eq!(times.len(), 2);
                    times.retain(&HashSet::from([kept.as_str()]));
                }
            }
        }
        assert_eq!(times.len(), 1);
        assert_eq!(times.fill(&kept, None), Some(at(1)));
    }
}
