//! Asking the provider: every call bounded by [`PROVIDER_TIMEOUT`], one loader per directory
//! at a time, answers installed in the cache unless a notice overtook them.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vfs_core::{Node, NodeKind, NodePath, ProviderError};

use crate::attrs::EntryKind;
use crate::cache::{Listing, RootEntry};
use crate::kernel::KernelOp;

use super::marker::with_marker;
use super::{Host, Tables};

/// How often the provider was asked, for debugging and benchmarks.
#[derive(Debug, Default)]
pub(crate) struct ProviderCalls {
    pub(crate) root: AtomicU64,
    pub(crate) list: AtomicU64,
    pub(crate) read: AtomicU64,
    pub(crate) lookup: AtomicU64,
}

impl ProviderCalls {
    pub(crate) fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.root.load(Ordering::Relaxed),
            self.list.load(Ordering::Relaxed),
            self.read.load(Ordering::Relaxed),
        )
    }
}

pub(super) type Gate = Arc<tokio::sync::Mutex<()>>;

/// The longest a request waits on the provider. A request the kernel sent holds the kernel's
/// lock on its folder until it is answered, and the notices thread's invalidations wait on that
/// lock; so a provider call that never returns (a FIFO opened for ever, a hung engine) would
/// wedge that folder, the notices and the unmount for good. Past this bound the request is
/// answered `EIO` and everything waiting behind it goes on; the provider's call is abandoned.
pub(crate) const PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);

impl Host {
    /// The same host with another bound on provider calls (tests use a short one).
    #[cfg(test)]
    pub(crate) fn with_provider_timeout(mut self, timeout: Duration) -> Host {
        self.provider_timeout = timeout;
        self
    }

    /// Runs a provider call within [`PROVIDER_TIMEOUT`].
    pub(super) async fn bounded<T>(
        &self,
        operation: &str,
        path: &NodePath,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        match tokio::time::timeout(self.provider_timeout, call).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!(%path, operation, "the provider did not answer within {:?}: answered EIO", self.provider_timeout);
                Err(ProviderError::Unavailable(format!(
                    "the provider did not answer {operation} {path} within {:?}",
                    self.provider_timeout
                )))
            }
        }
    }

    /// The kernel may hold provisional attributes of `dir` (a link count from before it was
    /// listed): forgotten before the request that listed it is answered, so a `stat` right after
    /// sees the real count (a refresh left to the notices thread would land later, and make
    /// the next walk ask again).
    pub(super) fn refresh_kernel_attributes(&self, dir: &NodePath) {
        if self.provider.prefers_lookup() {
            // Its folders' link counts are never counted: nothing to refresh (`attributes_of`).
            return;
        }
        let Some(ino) = self.tables().inodes.get(dir, EntryKind::Directory) else {
            return;
        };
        self.forget_attributes_now(ino);
    }

    /// Asks the kernel to drop what it keeps beyond the TTL (a symlink's target, a directory's
    /// listing) for nodes a fresh provider answer shows changed without a notice.
    pub(super) fn queue_unnoticed_changes(&self, tables: &mut Tables) {
        for (path, kind) in tables.cache.take_changed() {
            if let Some(ino) = tables.inodes.get(&path, kind) {
                tracing::debug!(%path, ino, "changed without a notice; kernel copy dropped");
                self.queue(KernelOp::Inode(ino));
            }
        }
    }

    pub(super) async fn root_entry(&self) -> Result<Arc<RootEntry>, ProviderError> {
        if let Some(root) = self.tables().cache.root(Instant::now()) {
            return Ok(root);
        }
        let generation = self.tables().cache.generation();
        let started = Instant::now();
        let mut node = self.provider_root().await?;
        if let NodeKind::Directory {
            children: Some(children),
        } = &mut node.kind
        {
            *children = with_marker(std::mem::take(children), &self.name);
        }
        let mut tables = self.tables();
        let entry = tables
            .cache
            .install_root(node, started + self.ttl, generation);
        self.queue_unnoticed_changes(&mut tables);
        Ok(entry)
    }

    pub(super) async fn provider_root(&self) -> Result<Node, ProviderError> {
        let count = self.calls.root.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(count, "provider.root");
        self.bounded("root", &NodePath::root(), self.provider.root())
            .await
    }

    pub(super) async fn provider_list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        let count = self.calls.list.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(%dir, count, "provider.list");
        self.bounded("list", dir, self.provider.list(dir)).await
    }

    pub(super) async fn provider_lookup(
        &self,
        dir: &NodePath,
        name: &std::ffi::OsStr,
    ) -> Result<Node, ProviderError> {
        let count = self.calls.lookup.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(%dir, ?name, count, "provider.lookup");
        let path = dir.join(name);
        let node = self
            .bounded("lookup", &path, self.provider.lookup(dir, name))
            .await?;
        if node.name != name {
            tracing::warn!(%path, answered = ?node.name, "provider's lookup answered another name");
            return Err(ProviderError::NotFound(path));
        }
        Ok(node)
    }

    /// The listing of `dir`, from the cache or (once for all callers at a time) the provider.
    pub(super) fn listing<'a>(
        &'a self,
        dir: &'a NodePath,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<Listing>, ProviderError>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(listing) = self.tables().cache.listing(dir, Instant::now()) {
                return Ok(listing);
            }
            let gate = self.gates.lock().entry(dir.clone()).or_default().clone();
            let result = async {
                let _turn = gate.lock().await;
                if let Some(listing) = self.tables().cache.listing(dir, Instant::now()) {
                    return Ok(listing);
                }
                self.load_listing(dir).await
            }
            .await;
            let mut gates = self.gates.lock();
            // Two owners (the map and us) means nobody else is waiting: forget the gate.
            if Arc::strong_count(&gate) == 2 {
                gates.remove(dir);
            }
            result
        })
    }

    pub(super) async fn load_listing(&self, dir: &NodePath) -> Result<Arc<Listing>, ProviderError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let generation = self.tables().cache.generation();
            let started = Instant::now();
            let nodes = self.fetch_children(dir).await?;
            let mut tables = self.tables();
            let current = tables.cache.generation() == generation;
            let listing = tables
                .cache
                .install(dir, nodes, started + self.ttl, generation);
            if current {
                tables.listed_anew(dir, &listing);
            }
            self.queue_unnoticed_changes(&mut tables);
            drop(tables);
            // A notice arrived while the provider answered: the answer may predate the
            // change, so ask once more.
            if current || attempts > 1 {
                self.refresh_kernel_attributes(dir);
                return Ok(listing);
            }
        }
    }

    /// The children of `dir` straight from the provider. A directory handed over with its
    /// children is asked for through the nearest ancestor listed on demand (or the root).
    pub(super) fn fetch_children<'a>(
        &'a self,
        dir: &'a NodePath,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Node>, ProviderError>> + Send + 'a>> {
        Box::pin(async move {
            let Some(parent) = dir.parent() else {
                return Ok(with_marker(
                    self.fetch_root_children(dir).await?,
                    &self.name,
                ));
            };
            self.fetch_children_below(dir, &parent).await
        })
    }

    /// The children of the root straight from the provider.
    pub(super) async fn fetch_root_children(
        &self,
        dir: &NodePath,
    ) -> Result<Vec<Node>, ProviderError> {
        let root = self.root_entry().await?;
        if !root.node.is_directory() {
            return Err(ProviderError::NotADirectory(dir.clone()));
        }
        if !root.eager {
            return self.provider_list(dir).await;
        }
        match self.provider_root().await?.kind {
            NodeKind::Directory {
                children: Some(children),
            } => Ok(children),
            NodeKind::Directory { children: None } => self.provider_list(dir).await,
            _ => Err(ProviderError::NotADirectory(dir.clone())),
        }
    }

    /// The children of `dir`, below `parent`, straight from the provider.
    pub(super) fn fetch_children_below<'a>(
        &'a self,
        dir: &'a NodePath,
        parent: &'a NodePath,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Node>, ProviderError>> + Send + 'a>> {
        let parent = parent.clone();
        Box::pin(async move {
            let name = dir.name().unwrap_or_default();
            if self.looks_up(&parent) {
                // Its own entry says whether it is a folder: no need to list its parent (which
                // for such a provider may cost much more than this folder).
                let (node, _) = self.entry(&parent, name).await?;
                if !node.is_directory() {
                    return Err(ProviderError::NotADirectory(dir.clone()));
                }
                return self.provider_list(dir).await;
            }
            let parent_listing = self.listing(&parent).await?;
            let entry = parent_listing
                .get(name)
                .ok_or_else(|| ProviderError::NotFound(dir.clone()))?;
            if !entry.node.is_directory() {
                return Err(ProviderError::NotADirectory(dir.clone()));
            }
            if !entry.eager {
                return self.provider_list(dir).await;
            }
            let generation = self.tables().cache.generation();
            let started = Instant::now();
            let siblings = self.fetch_children(&parent).await?;
            let fresh = siblings
                .iter()
                .find(|node| node.name == name)
                .map(|node| node.kind.clone());
            // Keep the parent's fresh answer too: it carries this directory's own attributes.
            {
                let mut tables = self.tables();
                tables
                    .cache
                    .install(&parent, siblings, started + self.ttl, generation);
                self.queue_unnoticed_changes(&mut tables);
            }
            match fresh {
                Some(NodeKind::Directory {
                    children: Some(children),
                }) => Ok(children),
                Some(NodeKind::Directory { children: None }) => self.provider_list(dir).await,
                Some(_) => Err(ProviderError::NotADirectory(dir.clone())),
                None => Err(ProviderError::NotFound(dir.clone())),
            }
        })
    }
}
