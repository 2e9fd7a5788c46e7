//! The DockerFS provider: the tree from memory, inspect JSON from the engine on read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use tokio::task::JoinHandle;
use vfs_core::{
    ChangeNotices, ChangeNotifier, Content, CopiedContents, Node, NodePath, Notice, Provider,
    ProviderError,
};

use crate::engine::{Engine, EngineError};
use crate::json_indent::inspect_document;
use crate::outage::Outage;
use crate::source::DockerSource;
use crate::state::{EngineState, Loader};
use crate::tree::Tree;
use crate::watch::{subscription_start, Watcher};

/// What the provider and its watcher task share.
pub struct Shared {
    tree: RwLock<Arc<Tree>>,
    engine: OnceLock<Arc<Engine>>,
    pub outage: Outage,
    /// How far the tree and its notices are up to date, in the engine's nanoseconds: the time
    /// of the newest event the watcher has applied (or the start of the subscription a full
    /// load covers). [`Provider::settle`] waits on it.
    applied: tokio::sync::watch::Sender<i64>,
}

impl Shared {
    fn tree(&self) -> Arc<Tree> {
        match self.tree.read() {
            Ok(tree) => Arc::clone(&tree),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Everything up to `nanos` (engine time) is in the tree and announced.
    pub fn applied_up_to(&self, nanos: i64) {
        self.applied
            .send_if_modified(|applied| std::mem::replace(applied, (*applied).max(nanos)) < nanos);
    }

    /// Publishes the tree of `state`; returns the paths that changed.
    pub fn replace_tree(&self, state: &EngineState) -> Vec<Notice> {
        let new = Arc::new(Tree::build(state));
        let old = {
            let mut slot = match self.tree.write() {
                Ok(slot) => slot,
                Err(poisoned) => poisoned.into_inner(),
            };
            std::mem::replace(&mut *slot, Arc::clone(&new))
        };
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
        old.changes_to(&new)
    }
}

/// A Docker engine's containers, images, volumes, networks and compose services as files.
pub struct DockerProvider {
    source: DockerSource,
    calls: Arc<AtomicU64>,
    shared: Arc<Shared>,
    watcher: Mutex<Option<JoinHandle<()>>>,
}

impl DockerProvider {
    /// A provider for the engine at `source`; nothing is contacted before `start`.
    pub fn new(source: DockerSource) -> DockerProvider {
        DockerProvider {
            source,
            calls: Arc::new(AtomicU64::new(0)),
            shared: Arc::new(Shared {
                tree: RwLock::new(Arc::new(Tree::empty())),
                engine: OnceLock::new(),
                outage: Outage::default(),
                applied: tokio::sync::watch::Sender::new(0),
            }),
            watcher: Mutex::new(None),
        }
    }

    pub fn source(&self) -> &DockerSource {
        &self.source
    }

    /// How many requests this provider has made to the engine so far (lists, inspects, pings,
    /// event subscriptions). Serving `root`/`list` never adds to it.
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
        let mut loader = Loader::default();
        let state = loader.everything(&engine).await.map_err(unavailable)?;
        self.shared.replace_tree(&state);
        // The load covers what happened before the subscription starts; what follows is
        // replayed by the event stream.
        self.shared
            .applied_up_to(since.saturating_mul(1_000_000_000));
        if self.shared.engine.set(Arc::clone(&engine)).is_err() {
            return Err(ProviderError::Other(
                "the Docker provider was started twice".into(),
            ));
        }
        let watcher = Watcher {
            engine,
            shared: Arc::clone(&self.shared),
            loader,
            state,
            notifier,
            since,
        };
        let handle = tokio::spawn(watcher.run());
        if let Ok(mut slot) = self.watcher.lock() {
            *slot = Some(handle);
        }
        Ok(())
    }

    async fn root(&self) -> Result<Node, ProviderError> {
        Ok(self.shared.tree().root())
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        self.shared.tree().list(dir)
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
    async fn settle(&self) -> Result<(), ProviderError> {
        let engine = self.shared.engine.get().ok_or_else(|| {
            ProviderError::Unavailable("the Docker provider is not started".into())
        })?;
        let unavailable = |error: EngineError| ProviderError::Unavailable(error.to_string());
        let now = engine.now_nanos().await.map_err(unavailable)?;
        let since = *self.shared.applied.borrow();
        if since >= now {
            return Ok(());
        }
        let Some(newest) = engine
            .newest_event_between(since, now)
            .await
            .map_err(unavailable)?
        else {
            return Ok(());
        };
        let mut applied = self.shared.applied.subscribe();
        applied
            .wait_for(|applied| *applied >= newest)
            .await
            .map(|_| ())
            .map_err(|_| ProviderError::Unavailable("the Docker provider stopped".into()))
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
        let handle = self.watcher.lock().ok().and_then(|mut slot| slot.take());
        if let Some(handle) = handle {
            handle.abort();
        }
    }
}

impl Drop for DockerProvider {
    fn drop(&mut self) {
        if let Some(handle) = self.watcher.get_mut().ok().and_then(Option::take) {
            handle.abort();
        }
    }
}
