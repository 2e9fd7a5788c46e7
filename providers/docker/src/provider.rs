//! The DockerFS provider: the tree from memory, inspect JSON from the engine on read.

use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use vfs_core::{
    ChangeNotices, ChangeNotifier, Content, CopiedContents, Node, NodePath, Provider, ProviderError,
};

use crate::engine::{Engine, EngineError};
use crate::json_indent::inspect_document;
use crate::shared::Shared;
use crate::source::DockerSource;
use crate::state::Loader;
use crate::tree::{Lookup, Tree, Waiting};
use crate::watch::{subscription_start, Watcher};

/// How many image inspects a listing that waits for them has in flight.
const LISTING_INSPECTS: usize = 8;
/// The most images a looked-up folder may wait for and still be answered exact (its images
/// inspected first): a repository's folder, whose tags are looked up next anyway. A folder
/// waiting for more (`images/`, a registry's folder) is answered with its provisional time.
const FOLDER_LOOKUP_INSPECTS: usize = 8;
/// How long [`Provider::settle`] waits for the images' inspects after the events.
const SETTLE_INSPECTS: std::time::Duration = std::time::Duration::from_secs(60);

/// How far past its clock the barrier asks a Podman engine for events, in nanoseconds. Podman
/// 4.3 answers an events request whose `until` has passed with nothing at all, so the question
/// must reach into the future: it then streams, and ends the answer when `until` comes. It also
/// writes the events of image tags and removals made through its service after the call
/// returned (measured here: ~85 ms later, 23-108 ms under load), which a question about
/// the present alone would miss. One second covers that delay many times over; it is what
/// each `vfs wait` on Podman costs.
const PODMAN_LATE_EVENTS_NANOS: i64 = 1_000_000_000;

/// A Docker engine's containers, images, volumes, networks and compose services as files.
pub struct DockerProvider {
    source: DockerSource,
    calls: Arc<AtomicU64>,
    shared: Arc<Shared>,
    /// The watcher and the background loader.
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl DockerProvider {
    /// A provider for the engine at `source`; nothing is contacted before `start`.
    pub fn new(source: DockerSource) -> DockerProvider {
        DockerProvider {
            source,
            calls: Arc::new(AtomicU64::new(0)),
            shared: Arc::new(Shared::default()),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Inspects the `waiting` images of `tree` (a few at a time) and records their times in it;
    /// one whose inspect fails is answered with the provisional time.
    async fn inspect_into(&self, tree: &Tree, waiting: Vec<Waiting>) {
        let answers: Vec<_> = stream::iter(waiting)
            .map(|waiting| async move {
                let times = self.shared.image_times(&waiting.id).await;
                (waiting, times)
            })
            .buffer_unordered(LISTING_INSPECTS)
            .collect()
            .await;
        for (waiting, times) in answers {
            match times {
                Ok(times) => tree.resolve(&waiting, times),
                Err(error) => {
                    tracing::debug!(image = %waiting.id, %error, "cannot inspect image");
                    tree.resolve_provisionally(&waiting);
                }
            }
        }
    }

    pub fn source(&self) -> &DockerSource {
        &self.source
    }

    /// The event barrier of [`Provider::settle`].
    async fn settle_events(&self) -> Result<(), ProviderError> {
        let engine = self.shared.engine.get().ok_or_else(|| {
            ProviderError::Unavailable("the Docker provider is not started".into())
        })?;
        let unavailable = |error: EngineError| ProviderError::Unavailable(error.to_string());
        let clock = engine.clock().await.map_err(unavailable)?;
        let until = if clock.podman {
            clock.now_nanos.saturating_add(PODMAN_LATE_EVENTS_NANOS)
        } else {
            clock.now_nanos
        };
        // From a margin before the newest event applied: an older one may still be on its way.
        let since = self.shared.applied.borrow().ask_since();
        if since >= until {
            return Ok(());
        }
        let events = engine
            .events_between(since, until)
            .await
            .map_err(unavailable)?;
        let mut applied = self.shared.applied.subscribe();
        applied
            .wait_for(|applied| events.iter().all(|event| applied.includes(event)))
            .await
            .map(|_| ())
            .map_err(|_| ProviderError::Unavailable("the Docker provider stopped".into()))
    }

    /// How many requests this provider has made to the engine so far (lists, inspects, pings,
    /// event subscriptions). Serving `root`/`list`/`lookup` adds to it only for the inspect of
    /// an image not inspected yet, once per image.
    pub fn engine_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

fn provider_error(path: &NodePath, error: EngineError) -> ProviderError {
    match error {
        EngineError::NotFound { .. } => ProviderError::NotFound(path.clone()),
        EngineError::Unreachable { .. } => ProviderError::Unavailable(error.to_string()),
        EngineError::Failed { .. } => ProviderError::Other(error.to_string()),
    }
}

#[vfs_core::async_trait]
impl Provider for DockerProvider {
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        let unavailable = |error: EngineError| ProviderError::Unavailable(error.to_string());
        let engine = Arc::new(
            Engine::connect(&self.source, Arc::clone(&self.calls))
                .await
                .map_err(unavailable)?,
        );
        let since = subscription_start();
        let mut loader = Loader::new(Arc::clone(&self.shared.inspects));
        let state = loader.everything(&engine).await.map_err(unavailable)?;
        self.shared.replace_tree(&state);
        // The load covers what happened before the subscription starts; what follows is
        // replayed by the event stream.
        self.shared
            .loaded_up_to(since.saturating_mul(1_000_000_000));
        if self.shared.engine.set(Arc::clone(&engine)).is_err() {
            return Err(ProviderError::Other(
                "the Docker provider was started twice".into(),
            ));
        }
        let background = Arc::clone(&self.shared).load_in_background(Arc::clone(&engine));
        let watcher = Watcher {
            engine,
            shared: Arc::clone(&self.shared),
            loader,
            state,
            notifier,
            since,
        };
        self.tasks
            .lock()
            .extend([tokio::spawn(background), tokio::spawn(watcher.run())]);
        Ok(())
    }

    async fn root(&self) -> Result<Node, ProviderError> {
        Ok(self.shared.tree().root())
    }

    /// Waits for the inspects of the images whose files the listing shows and that are not
    /// inspected yet (all of them for `images/`), so that every time in it is exact.
    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        loop {
            let tree = self.shared.tree();
            let waiting = tree.waiting_in(dir);
            if waiting.is_empty() {
                return tree.list(dir);
            }
            self.inspect_into(&tree, waiting).await;
            if Arc::ptr_eq(&tree, &self.shared.tree()) {
                return tree.list(dir);
            }
        }
    }

    /// One name from the tree in memory; a tag or an image's `.<id>` not inspected yet costs
    /// that image's inspect (once: the answer is cached and shared with the background loader).
    async fn lookup(&self, dir: &NodePath, name: &OsStr) -> Result<Node, ProviderError> {
        loop {
            let tree = self.shared.tree();
            // A folder waiting for a few images is answered exact: a time the kernel was told
            // provisionally must be taken back later with a notice, which makes it read the
            // folder again. (Before the lookup, which notes a provisional answer as given.)
            let below = tree.waiting_below(&dir.join(name), FOLDER_LOOKUP_INSPECTS);
            if !below.is_empty() {
                self.inspect_into(&tree, below).await;
                continue;
            }
            let waiting = match tree.lookup(dir, name)? {
                Lookup::Found(node) => return Ok(node),
                Lookup::Waiting(waiting) => waiting,
            };
            match self.shared.image_times(&waiting.id).await {
                Ok(times) => tree.resolve(&waiting, times),
                Err(EngineError::NotFound { .. }) => {
                    return Err(ProviderError::NotFound(dir.join(name)))
                }
                Err(error) => {
                    tracing::debug!(image = %waiting.id, %error, "cannot inspect image for a lookup");
                    tree.resolve_provisionally(&waiting);
                }
            }
            if Arc::ptr_eq(&tree, &self.shared.tree()) {
                if let Lookup::Found(node) = tree.lookup(dir, name)? {
                    return Ok(node);
                }
            }
        }
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        let target = self.shared.tree().inspect_target(path)?.clone();
        let engine = self.shared.engine.get().ok_or_else(|| {
            ProviderError::Unavailable("the Docker provider is not started".into())
        })?;
        let raw = match engine.inspect_raw(target.kind, &target.id).await {
            Ok(raw) => raw,
            Err(error) => {
                if matches!(error, EngineError::Unreachable { .. }) {
                    // The host logs each failed read too; this is the line that explains them.
                    if self.shared.outage.read_failed(Instant::now()) {
                        tracing::warn!(engine = %engine.source(), %error, "lost the Docker engine; serving the last known tree (reading an inspect file fails until it is back)");
                    }
                }
                return Err(provider_error(path, error));
            }
        };
        let raw = crate::swarm::withhold_secret_data(target.kind, raw);
        if let Some(returned) = self.shared.outage.back(Instant::now()) {
            tracing::warn!(engine = %engine.source(), "Docker engine {returned}");
        }
        Ok(Content::Bytes(inspect_document(&raw)))
    }

    /// Asks the engine for its clock and for the newest event (of the kinds followed) between
    /// what the watcher last applied and that time, then waits until the watcher has applied
    /// an event at least as new: its tree is swapped and its notices sent by then. Nothing in
    /// between: nothing to wait for. Only the engine's clock is used (event times are the
    /// engine's), so a skewed host clock does no harm. An unreachable engine is an error.
    /// On Podman "that time" is a second after its clock (see [`PODMAN_LATE_EVENTS_NANOS`]).
    /// Then waits (up to [`SETTLE_INSPECTS`]) until no image waits for its inspect: the times
    /// of the folders over such images are provisional until then (see `tree/lazy`).
    async fn settle(&self) -> Result<(), ProviderError> {
        self.settle_events().await?;
        let deadline = Instant::now() + SETTLE_INSPECTS;
        while self.shared.tree().is_waiting() && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// A tag's time costs one inspect; `images/` costs one per image.
    fn prefers_lookup(&self) -> bool {
        true
    }

    /// The engine's event stream announces every change, and a lost stream is followed by a
    /// full resynchronisation that announces everything: answers stand until a notice.
    fn change_notices(&self) -> ChangeNotices {
        ChangeNotices::Complete
    }

    /// Inspect JSON carries every container's environment, where credentials often live
    /// (`-e PASSWORD=…`); the mount shows it to its owner alone, so a copy must stay as private.
    fn copied_contents(&self) -> CopiedContents {
        CopiedContents::OwnerOnly {
            why: "inspect JSON holds containers' environment variables, which often carry \
                  secrets: only a folder other users cannot enter may hold it",
        }
    }

    async fn stop(&self) {
        for handle in self.tasks.lock().drain(..) {
            handle.abort();
        }
    }
}

impl Drop for DockerProvider {
    fn drop(&mut self) {
        for handle in self.tasks.get_mut().drain(..) {
            handle.abort();
        }
    }
}
