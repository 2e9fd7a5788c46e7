//! Asking the provider: every call bounded by [`PROVIDER_TIMEOUT`], one loader per directory
//! at a time, answers installed in the cache unless a notice overtook them.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vfs_core::{Node, NodePath, ProviderError};

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
        let node = self.provider_root().await?;
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

    /// The children of the folder `dir` straight from the provider, once `dir` is known to be
    /// a folder (from the root node, from its parent's listing, or from its own looked-up entry
    /// when the provider prefers lookups: listing its parent may cost much more than `dir`).
    pub(super) async fn fetch_children(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        let is_folder = match (dir.parent(), dir.name()) {
            (Some(parent), Some(name)) if self.looks_up(&parent) => {
                self.entry(&parent, name).await?.0.is_directory()
            }
            (Some(parent), Some(name)) => self
                .listing(&parent)
                .await?
                .get(name)
                .ok_or_else(|| ProviderError::NotFound(dir.clone()))?
                .is_directory(),
            _ => self.root_entry().await?.node.is_directory(),
        };
        if !is_folder {
            return Err(ProviderError::NotADirectory(dir.clone()));
        }
        let children = self.provider_list(dir).await?;
        Ok(if dir.is_root() {
            with_marker(children, &self.name)
        } else {
            children
        })
    }
}
