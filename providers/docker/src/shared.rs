//! What the provider, its watcher task and its background loader share: the tree served, the
//! image inspects, and how far the tree is up to date.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use vfs_core::Notice;

use crate::engine::{Engine, EngineError};
use crate::images::ImageInspects;
use crate::outage::Outage;
use crate::readahead::Order;
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
    /// How far the tree and its notices are up to date, in the engine's nanoseconds: the time
    /// of the newest event the watcher has applied (or the start of the subscription a full
    /// load covers). `Provider::settle` waits on it.
    pub applied: tokio::sync::watch::Sender<i64>,
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
    /// The background loader's pass under way, told of the images readers ask for.
    order: Mutex<Option<Order>>,
    /// Wakes the background loader's inspects that wait for readers to go quiet: readers now
    /// walk the image list, and the images just ahead of them are theirs next.
    readers_walk: Notify,
    epoch: Instant,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            tree: RwLock::new(Arc::new(Tree::empty())),
            engine: OnceLock::new(),
            outage: Outage::default(),
            applied: tokio::sync::watch::Sender::new(0),
            inspects: Arc::default(),
            wake_loader: Notify::new(),
            loaded: Notify::new(),
            demand: AtomicU64::new(0),
            while_reading: tokio::sync::Semaphore::new(BACKGROUND_INSPECTS_WHILE_READING),
            order: Mutex::new(None),
            readers_walk: Notify::new(),
            epoch: Instant::now(),
        }
    }
}

impl Shared {
    pub fn tree(&self) -> Arc<Tree> {
        Arc::clone(&self.tree.read())
    }

    /// Everything up to `nanos` (engine time) is in the tree and announced.
    pub fn applied_up_to(&self, nanos: i64) {
        self.applied
            .send_if_modified(|applied| std::mem::replace(applied, (*applied).max(nanos)) < nanos);
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
    /// already inspected), in the order [`Order`] gives, and wakes the watcher to take the
    /// answers into a new tree.
    pub async fn load_in_background(self: Arc<Shared>, engine: Arc<Engine>) {
        loop {
            self.wake_loader.notified().await;
            let waiting = self.tree().waiting();
            let started = std::time::Instant::now();
            let count = waiting.len();
            *self.order.lock() = Some(Order::new(
                waiting.into_iter().map(|waiting| waiting.id).collect(),
            ));
            let unreachable = AtomicBool::new(false);
            futures_util::future::join_all(
                (0..BACKGROUND_INSPECTS).map(|_| self.inspect_in_background(&engine, &unreachable)),
            )
            .await;
            *self.order.lock() = None;
            let unreachable = unreachable.into_inner();
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

    /// One of the background loader's inspects in flight, again and again until the pass has
    /// no image left (or the engine is unreachable). The images just ahead of readers that
    /// walk the image list go first and at once: they are those readers' next ones. Other
    /// images, beside readers, only the holder of a permit inspects; once readers are quiet,
    /// all do. The image is chosen when its inspect can start, so that it is the one just
    /// ahead of the readers.
    async fn inspect_in_background(&self, engine: &Engine, unreachable: &AtomicBool) {
        while !unreachable.load(Ordering::Relaxed) {
            let ahead = self.order.lock().as_mut().and_then(Order::next_ahead);
            let (id, _permit) = match ahead {
                Some(id) => (id, None),
                None => {
                    let permit = tokio::select! {
                        biased;
                        () = self.reader_quiet() => None,
                        () = self.readers_walk.notified() => continue,
                        permit = self.while_reading.acquire() => permit.ok(),
                    };
                    match self.order.lock().as_mut().and_then(Order::next) {
                        Some(id) => (id, permit),
                        None => return,
                    }
                }
            };
            if let Err(EngineError::Unreachable { .. }) =
                self.inspects.inspect(engine, &id, None).await
            {
                unreachable.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The times of image `id` for a lookup or listing that waits for them.
    pub async fn image_times(&self, id: &str) -> Result<crate::engine::ImageTimes, EngineError> {
        let engine = self.engine.get().ok_or_else(|| EngineError::Unreachable {
            engine: "(not started)".into(),
            reason: "the Docker provider is not started".into(),
        })?;
        let walking = self
            .order
            .lock()
            .as_mut()
            .is_some_and(|order| order.asked(id));
        if walking {
            self.readers_walk.notify_waiters();
        }
        // Inspected already (by the background loader, ahead of this reader): no wait.
        if let Some(cached) = self.inspects.cached(id) {
            return Ok(cached.details.times);
        }
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
