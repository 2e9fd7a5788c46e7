//! What the provider, its watcher task and its background loader share: the tree served, the
//! image inspects, and how far the tree is up to date.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use parking_lot::RwLock;
use tokio::sync::Notify;
use vfs_core::Notice;

use crate::applied::{Applied, EventKey};
use crate::engine::{Engine, EngineError};
use crate::images::ImageInspects;
use crate::outage::Outage;
use crate::state::EngineState;
use crate::tree::Tree;

/// How many image inspects the background loader has in flight: fewer than a lookup-driven
/// listing's, so that the inspects a reader waits for are not queued behind it.
const BACKGROUND_INSPECTS: usize = 4;
/// How long after a reader last waited for an inspect the background loader counts as
/// running beside readers: a `make` over the mount asks for its images one after another.
const READER_QUIET: Duration = Duration::from_millis(50);
/// How many inspects the background loader keeps in flight while readers wait for theirs: few,
/// so that a reader's inspect hardly queues behind the background's, and not none, so that a
/// `make` over every image of a fresh mount finds most of them inspected ahead of it instead of
/// asking for each in turn.
const BACKGROUND_INSPECTS_WHILE_READING: usize = 1;

pub struct Shared {
    tree: RwLock<Arc<Tree>>,
    pub engine: OnceLock<Arc<Engine>>,
    pub outage: Outage,
    /// How far the tree and its notices are up to date: the engine events the watcher has
    /// applied, and what a full load covers. `Provider::settle` waits on it.
    pub applied: tokio::sync::watch::Sender<Applied>,
    /// Every image inspect, whoever asks it (lookups, the background loader, events).
    pub inspects: Arc<ImageInspects>,
    /// Wakes the background loader: the tree has images not inspected yet.
    wake_loader: Notify,
    /// Wakes the watcher: the background loader has inspected what it found waiting.
    pub loaded: Notify,
    /// When a reader last waited for an inspect, in nanoseconds since `epoch`.
    demand: AtomicU64,
    /// The background loader's inspects while readers wait
    /// ([`BACKGROUND_INSPECTS_WHILE_READING`]).
    while_reading: tokio::sync::Semaphore,
    epoch: Instant,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            tree: RwLock::new(Arc::new(Tree::empty())),
            engine: OnceLock::new(),
            outage: Outage::default(),
            applied: tokio::sync::watch::Sender::new(Applied::default()),
            inspects: Arc::default(),
            wake_loader: Notify::new(),
            loaded: Notify::new(),
            demand: AtomicU64::new(0),
            while_reading: tokio::sync::Semaphore::new(BACKGROUND_INSPECTS_WHILE_READING),
            epoch: Instant::now(),
        }
    }
}

impl Shared {
    pub fn tree(&self) -> Arc<Tree> {
        Arc::clone(&self.tree.read())
    }

    /// Everything up to `nanos` (engine time) is in the tree and announced: a full load.
    pub fn loaded_up_to(&self, nanos: i64) {
        self.applied
            .send_if_modified(|applied| applied.loaded_up_to(nanos));
    }

    /// `events` are in the tree and announced.
    pub fn applied_events(&self, events: Vec<EventKey>) {
        self.applied
            .send_if_modified(|applied| applied.events(events));
    }

    /// Publishes the tree of `state`; returns the paths that changed. Wakes the background
    /// loader when the new tree has images not inspected yet.
    pub fn replace_tree(&self, state: &EngineState) -> Vec<Notice> {
        let new = Arc::new(Tree::build(state));
        let old = std::mem::replace(&mut *self.tree.write(), Arc::clone(&new));
        for withheld in new.newly_withheld(&old) {
            match &withheld.still_at {
                Some(still_at) => tracing::warn!(
                    name = %withheld.name,
                    "not shown in {}/ by its name, which has the form of an id's file (`.` and 64 hex digits); it is served at {still_at}",
                    withheld.folder
                ),
                None => tracing::warn!(
                    name = %withheld.name,
                    "not shown in {}/: its name has the form of an id's file (`.` and 64 hex digits)",
                    withheld.folder
                ),
            }
        }
        if new.is_waiting() {
            self.wake_loader.notify_one();
        }
        old.changes_to(&new)
    }

    /// The background loader: whenever a tree has images not inspected yet, inspects them all
    /// (through [`ImageInspects`], so never twice at once, nor again for an image a lookup
    /// already inspected) and wakes the watcher to take the answers into a new tree.
    pub async fn load_in_background(self: Arc<Shared>, engine: Arc<Engine>) {
        loop {
            self.wake_loader.notified().await;
            let waiting = self.tree().waiting();
            let started = std::time::Instant::now();
            let count = waiting.len();
            let unreachable = stream::iter(waiting)
                .map(|waiting| {
                    let shared = &self;
                    let engine = &engine;
                    async move {
                        // Beside readers, only a permit's holder goes on; once readers are
                        // quiet, all do.
                        let _permit = tokio::select! {
                            biased;
                            () = shared.reader_quiet() => None,
                            permit = shared.while_reading.acquire() => permit.ok(),
                        };
                        shared.inspects.inspect(engine, &waiting.id, None).await
                    }
                })
                .buffer_unordered(BACKGROUND_INSPECTS)
                .any(|answer| async move {
                    match answer {
                        Ok(_) | Err(EngineError::NotFound { .. }) => false,
                        Err(EngineError::Failed { .. }) => false,
                        Err(EngineError::Unreachable { .. }) => true,
                    }
                })
                .await;
            tracing::debug!(
                images = count,
                took = ?started.elapsed(),
                unreachable,
                "background image inspects done"
            );
            // An unreachable engine: the watcher resynchronises when it is back, and that
            // tree wakes this loader again.
            self.loaded.notify_one();
        }
    }

    /// The times of image `id` for a lookup or listing that waits for them.
    pub async fn image_times(&self, id: &str) -> Result<crate::engine::ImageTimes, EngineError> {
        let engine = self.engine.get().ok_or_else(|| EngineError::Unreachable {
            engine: "(not started)".into(),
            reason: "the Docker provider is not started".into(),
        })?;
        self.reader_waits();
        let inspected = self.inspects.inspect(engine, id, None).await;
        self.reader_waits();
        Ok(inspected?.details.times)
    }

    /// A reader waits for an inspect now.
    fn reader_waits(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.demand.fetch_max(now, Ordering::Relaxed);
    }

    /// Returns once no reader has waited for an inspect for [`READER_QUIET`].
    async fn reader_quiet(&self) {
        loop {
            let last = Duration::from_nanos(self.demand.load(Ordering::Relaxed));
            let since = self.epoch.elapsed().saturating_sub(last);
            if last.is_zero() || since >= READER_QUIET {
                return;
            }
            tokio::time::sleep(READER_QUIET - since).await;
        }
    }
}
