//! How far the tree and its notices are up to date, for the barrier ([`vfs_core::Provider::settle`]):
//! which engine events the watcher has applied.
//!
//! The engine stamps an event before it takes its lock to publish it (moby's `Events.Log`), so
//! two events made at once can reach a subscriber out of time order: "every event up to the
//! newest one applied" does not hold. The barrier therefore asks the engine for the events
//! since a margin ([`DISORDER`]) before the newest applied and waits for each of them by name.

use std::collections::BTreeSet;

use bollard::models::EventMessage;

/// How much older than the newest event applied an event may still arrive.
pub const DISORDER_NANOS: i64 = 1_000_000_000;

/// How long an applied event is remembered by name after a newer one: past it, an event not
/// yet applied counts as applied (it cannot still be on its way).
const REMEMBERED_NANOS: i64 = 10 * DISORDER_NANOS;

/// An event by its time and what it is about (type, action and object).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventKey {
    pub time: i64,
    what: String,
}

impl EventKey {
    /// The key of `event`; `None` for an event without a time.
    pub fn of(event: &EventMessage) -> Option<EventKey> {
        let time = event.time_nano?;
        let actor = event
            .actor
            .as_ref()
            .and_then(|actor| actor.id.as_deref())
            .unwrap_or("");
        Some(EventKey {
            time,
            what: format!(
                "{:?} {} {actor}",
                event.typ,
                event.action.as_deref().unwrap_or("")
            ),
        })
    }
}

/// What the watcher has applied: the tree swapped and its notices sent.
#[derive(Debug, Default)]
pub struct Applied {
    /// Everything up to this engine time is in the tree (the start of the subscription a full
    /// load covers).
    loaded: i64,
    /// The newest event applied.
    newest: i64,
    /// The events applied within [`REMEMBERED_NANOS`] of the newest.
    recent: BTreeSet<EventKey>,
}

impl Applied {
    /// A full load covers everything up to `nanos`.
    pub fn loaded_up_to(&mut self, nanos: i64) -> bool {
        let newer = nanos > self.loaded;
        self.loaded = self.loaded.max(nanos);
        newer
    }

    /// `events` are applied.
    pub fn events(&mut self, events: impl IntoIterator<Item = EventKey>) -> bool {
        let mut any = false;
        for event in events {
            self.newest = self.newest.max(event.time);
            any |= self.recent.insert(event);
        }
        let horizon = self.newest.saturating_sub(REMEMBERED_NANOS);
        while self
            .recent
            .first()
            .is_some_and(|oldest| oldest.time < horizon)
        {
            self.recent.pop_first();
        }
        any
    }

    /// Where the barrier's question to the engine starts: events before it are applied.
    pub fn ask_since(&self) -> i64 {
        self.loaded.max(self.newest.saturating_sub(DISORDER_NANOS))
    }

    /// Whether `event` is in the tree.
    pub fn includes(&self, event: &EventKey) -> bool {
        event.time <= self.loaded
            || event.time < self.newest.saturating_sub(REMEMBERED_NANOS)
            || self.recent.contains(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(time: i64, what: &str) -> EventKey {
        EventKey {
            time,
            what: what.to_string(),
        }
    }

    #[test]
    fn an_older_event_applied_after_a_newer_one_is_waited_for_by_name() {
        let mut applied = Applied::default();
        applied.loaded_up_to(1_000);
        assert!(applied.includes(&key(900, "anything before the load")));
        // A churn tag (time 2,000) overtakes a create (time 1,900) on its way to the watcher.
        applied.events([key(2_000, "tag")]);
        assert!(
            applied.ask_since() <= 1_900,
            "the barrier asks from before the newest: {}",
            applied.ask_since()
        );
        assert!(!applied.includes(&key(1_900, "create")), "not applied yet");
        applied.events([key(1_900, "create")]);
        assert!(applied.includes(&key(1_900, "create")));
        assert!(applied.includes(&key(2_000, "tag")));
        assert!(
            !applied.includes(&key(2_000, "untag")),
            "same time, another event"
        );
    }

    #[test]
    fn applied_events_are_remembered_for_a_while_and_then_count_as_applied() {
        let mut applied = Applied::default();
        applied.events([key(DISORDER_NANOS, "old")]);
        applied.events([key(30 * DISORDER_NANOS, "new")]);
        assert_eq!(applied.recent.len(), 1, "the old one is forgotten");
        assert!(applied.includes(&key(DISORDER_NANOS, "old")));
        assert!(applied.includes(&key(DISORDER_NANOS, "never seen, long ago")));
        assert_eq!(applied.ask_since(), 29 * DISORDER_NANOS);
    }
}
