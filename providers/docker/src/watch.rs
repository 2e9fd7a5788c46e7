//! Following the engine: its event stream drives re-listing what an event concerns; a lost
//! engine is waited for with backoff and resynchronised in full when it is back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bollard::models::{EventMessage, EventMessageTypeEnum};
use futures_util::{FutureExt, StreamExt};
use vfs_core::ChangeNotifier;

use crate::applied::EventKey;
use crate::engine::{strip_digest_prefix, Engine, EngineError};
use crate::shared::Shared;
use crate::state::{self, EngineState, ImageUpdate, Loader};
use crate::tag_times::{event_image, tags_an_image};

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(2);
/// How long a swarm event that found no swarm is checked again: `swarm init` announces the
/// node before `/info` calls it an active manager (seen 1 in 6 inits on a loaded machine), and
/// nothing else would say when it has become one.
const SWARM_SETTLES_WITHIN: Duration = Duration::from_secs(10);

/// What a run of events asks to be re-listed.
#[derive(Default, Debug)]
struct Refresh {
    everything: bool,
    containers: bool,
    /// Re-list all images (an event that names no single image, such as a prune).
    images: bool,
    volumes: bool,
    networks: bool,
    /// Re-list the swarm objects (a service, node, secret or config event).
    swarm: bool,
    /// Images named by events (ids or names): each is inspected again, which also catches a
    /// `LastTagTime` moved by a fully cached rebuild.
    /// With the time of the latest event about each.
    image_ids: HashMap<String, Option<SystemTime>>,
    /// Images (re)tagged, with the event's time (see `tag_times`).
    tagged: Vec<(String, SystemTime)>,
}

impl Refresh {
    fn name_image(&mut self, id: &str, at: Option<SystemTime>) {
        let slot = self
            .image_ids
            .entry(strip_digest_prefix(id).to_string())
            .or_insert(at);
        *slot = (*slot).max(at);
    }

    fn add(&mut self, event: &EventMessage) {
        let at = event
            .time_nano
            .and_then(|nanos| u64::try_from(nanos).ok())
            .map(|nanos| SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos));
        let attributes = event
            .actor
            .as_ref()
            .and_then(|actor| actor.attributes.as_ref());
        match event.typ {
            Some(EventMessageTypeEnum::CONTAINER) => {
                self.containers = true;
                // A commit (also each step of a classic build) makes an image without an
                // image event; the event's attributes name it.
                if let Some(image) = attributes.and_then(|found| found.get("imageID")) {
                    self.name_image(image, at);
                }
            }
            Some(EventMessageTypeEnum::IMAGE) => {
                match (event_image(event), event.action.as_deref()) {
                    (Some(id), Some(action)) if action != "prune" => {
                        self.name_image(id, at);
                        if let (true, Some(at)) = (tags_an_image(event), at) {
                            self.tagged.push((id.to_string(), at));
                        }
                    }
                    _ => self.images = true,
                }
            }
            Some(EventMessageTypeEnum::VOLUME) => self.volumes = true,
            Some(EventMessageTypeEnum::NETWORK) => self.networks = true,
            Some(EventMessageTypeEnum::DAEMON) => self.everything = true,
            Some(
                EventMessageTypeEnum::SERVICE
                | EventMessageTypeEnum::NODE
                | EventMessageTypeEnum::SECRET
                | EventMessageTypeEnum::CONFIG,
            ) => self.swarm = true,
            _ => {}
        }
    }
}

/// Seconds since the epoch, a second early: the `since` of an event subscription that must not
/// miss what happened while the state was being loaded.
pub fn subscription_start() -> i64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    i64::try_from(now).unwrap_or(i64::MAX) - 1
}

pub struct Watcher {
    pub engine: Arc<Engine>,
    pub shared: Arc<Shared>,
    pub loader: Loader,
    pub state: EngineState,
    pub notifier: ChangeNotifier,
    /// Where the next subscription starts (seconds since the epoch).
    pub since: i64,
}

impl Watcher {
    pub async fn run(mut self) {
        let mut resync = false;
        let mut swarm_check = SwarmCheck::default();
        loop {
            let mut events = Box::pin(self.engine.events(Some(self.since)));
            if resync {
                match self.loader.everything(&self.engine).await {
                    Ok(state) => {
                        self.state = state;
                        self.shared.replace_tree(&self.state);
                        self.notifier.changed_all();
                        // The load covers what happened before the new subscription starts.
                        self.shared
                            .loaded_up_to(self.since.saturating_mul(1_000_000_000));
                        match self.shared.outage.back(Instant::now()) {
                            Some(returned) => {
                                tracing::warn!(engine = %self.engine.source(), "Docker engine {returned}; state resynchronised")
                            }
                            // A read saw it back first and said so.
                            None => {
                                tracing::info!(engine = %self.engine.source(), "Docker engine is back: state resynchronised")
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "resynchronisation failed");
                        self.wait_for_engine().await;
                        continue;
                    }
                }
            }
            loop {
                let next = tokio::select! {
                    next = events.next() => next,
                    () = self.shared.loaded.notified() => {
                        self.take_inspected();
                        continue;
                    }
                    () = swarm_check.due(), if swarm_check.is_pending() => {
                        let refresh = Refresh { swarm: true, ..Refresh::default() };
                        if let Err(error) = self.apply(refresh).await {
                            self.lost(&format!("cannot list the swarm again: {error}"));
                            break;
                        }
                        swarm_check.loaded(self.state.swarm.is_some(), Instant::now());
                        continue;
                    }
                };
                let first = match next {
                    Some(Ok(event)) => event,
                    Some(Err(error)) => {
                        self.lost(&format!("lost the Docker engine's event stream: {error}"));
                        break;
                    }
                    None => {
                        self.lost("the Docker engine's event stream ended");
                        break;
                    }
                };
                let mut refresh = Refresh::default();
                refresh.add(&first);
                let mut keys: Vec<EventKey> = EventKey::of(&first).into_iter().collect();
                let mut stream_failed = false;
                // Take what else is already waiting, so that a burst costs one re-list.
                while let Some(next) = events.next().now_or_never() {
                    match next {
                        Some(Ok(event)) => {
                            refresh.add(&event);
                            keys.extend(EventKey::of(&event));
                        }
                        _ => {
                            stream_failed = true;
                            break;
                        }
                    }
                }
                let swarm_asked = refresh.swarm;
                if let Err(error) = self.apply(refresh).await {
                    self.lost(&format!("cannot re-list after an event: {error}"));
                    break;
                }
                if swarm_asked {
                    swarm_check.after_event(self.state.swarm.is_some(), Instant::now());
                }
                // The tree is swapped and its notices sent: a barrier may pass these events.
                self.shared.applied_events(keys);
                if stream_failed {
                    self.lost("lost the Docker engine's event stream");
                    break;
                }
            }
            self.since = subscription_start();
            resync = true;
            self.wait_for_engine().await;
        }
    }

    async fn apply(&mut self, mut refresh: Refresh) -> Result<(), EngineError> {
        tracing::debug!(?refresh, "re-listing after engine events");
        let engine = &self.engine;
        // Before any inspect: a tag event's time stands in for a LastTagTime the engine does
        // not keep (Podman), and an answer given without it is inspected again.
        for (id, at) in &refresh.tagged {
            if engine.tag_times.note(id, *at) {
                refresh
                    .image_ids
                    .insert(strip_digest_prefix(id).to_string(), None);
            }
        }
        if refresh.everything {
            self.state = self.loader.everything(engine).await?;
        } else {
            if refresh.containers {
                self.state.containers = self.loader.containers(engine).await?;
            }
            let mut list_images = refresh.images;
            if !list_images && !refresh.image_ids.is_empty() {
                let update = self
                    .loader
                    .update_images(engine, &mut self.state.images, &refresh.image_ids)
                    .await?;
                list_images = update == ImageUpdate::NeedsFullList;
            }
            if list_images {
                let named = refresh.image_ids.keys().cloned().collect();
                (self.state.images, self.state.images_listed_at) =
                    self.loader.images(engine, &named).await?;
            }
            if refresh.volumes {
                self.state.volumes = state::volumes(engine).await?;
            }
            if refresh.networks {
                self.state.networks = state::networks(engine).await?;
            }
            // Tasks have no events: their containers' (on this node) and the services' tell.
            // A `swarm leave` announces itself only through those too.
            let tasks_moved =
                self.state.swarm.is_some() && (refresh.containers || refresh.networks);
            if refresh.swarm || tasks_moved {
                self.state.swarm = crate::swarm::load(engine).await?;
            }
        }
        self.loader.take_inspected(&mut self.state.images);
        self.publish();
        Ok(())
    }

    /// Takes the background loader's inspects into a new tree: folder times that were
    /// provisional become exact (with notices).
    fn take_inspected(&mut self) {
        if self.loader.take_inspected(&mut self.state.images) {
            self.publish();
        }
    }

    fn publish(&self) {
        for notice in self.shared.replace_tree(&self.state) {
            tracing::debug!(%notice, "changed");
            self.notifier.notify(notice);
        }
    }

    /// Logs the start of an outage once (a read may have noticed it first); what follows until
    /// the engine is back is counted, not logged, and reported when it returns.
    fn lost(&self, what: &str) {
        if self.shared.outage.lost(Instant::now()) {
            tracing::warn!(engine = %self.engine.source(), "{what}; serving the last known tree");
        } else {
            tracing::debug!(engine = %self.engine.source(), "{what}");
        }
    }

    async fn wait_for_engine(&self) {
        let mut delay = FIRST_RETRY;
        loop {
            tokio::time::sleep(delay).await;
            match self.engine.ping().await {
                Ok(()) => return,
                Err(error) => {
                    tracing::debug!(%error, ?delay, "Docker engine still unreachable");
                    delay = (delay * 2).min(LONGEST_RETRY);
                }
            }
        }
    }
}

/// The checks again after a swarm event that found no swarm (see [`SWARM_SETTLES_WITHIN`]):
/// with backoff, until a swarm is found or the time is up.
#[derive(Debug, Default)]
struct SwarmCheck {
    /// When the next check is due, the wait before it, and when to give up.
    next: Option<(Instant, Duration, Instant)>,
}

impl SwarmCheck {
    fn is_pending(&self) -> bool {
        self.next.is_some()
    }

    /// Sleeps until the next check is due (forever when none is).
    async fn due(&self) {
        match self.next {
            Some((at, _, _)) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        }
    }

    /// A swarm event was applied: with a swarm found there is nothing to check again.
    fn after_event(&mut self, found: bool, now: Instant) {
        self.next = (!found).then(|| (now + FIRST_RETRY, FIRST_RETRY, now + SWARM_SETTLES_WITHIN));
    }

    /// A check again was made: the next waits twice as long, within the time given.
    fn loaded(&mut self, found: bool, now: Instant) {
        self.next = match self.next {
            Some((_, wait, give_up)) if !found => {
                let wait = (wait * 2).min(LONGEST_RETRY);
                (now + wait <= give_up).then_some((now + wait, wait, give_up))
            }
            _ => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swarm_event_that_finds_no_swarm_is_checked_again_with_backoff_until_the_time_is_up() {
        let start = Instant::now();
        let mut check = SwarmCheck::default();
        check.after_event(true, start);
        assert!(!check.is_pending(), "a swarm found needs no check");

        check.after_event(false, start);
        let mut now = start;
        let mut waits = Vec::new();
        while let Some((at, wait, _)) = check.next {
            assert_eq!(at, now + wait);
            waits.push(wait.as_millis());
            now = at;
            check.loaded(false, now);
        }
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert!(now - start <= SWARM_SETTLES_WITHIN);
    }

    #[test]
    fn a_check_that_finds_the_swarm_ends_the_checks() {
        let start = Instant::now();
        let mut check = SwarmCheck::default();
        check.after_event(false, start);
        check.loaded(false, start + FIRST_RETRY);
        assert!(check.is_pending());
        check.loaded(true, start + FIRST_RETRY * 3);
        assert!(!check.is_pending());
        // A new event without a swarm starts the checks afresh.
        check.after_event(false, start + FIRST_RETRY * 4);
        assert_eq!(check.next.map(|(_, wait, _)| wait), Some(FIRST_RETRY));
    }
}
