//! Reading regions of the provider's tree into [`Tree`]s: a whole subtree, or one folder and
//! the names it holds. Names that cannot be folder entries are left out with a warning.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use vfs_core::{Node, NodePath, Provider, ProviderError};

use crate::entry::{acceptable_name, Entry, Tree};

/// The bound on one provider call, as the FUSE host's (`PROVIDER_TIMEOUT`): a source that
/// stopped answering must not stall the folder for ever.
pub(crate) const PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);

/// The provider, seen from the synchronous thread that writes the folder.
pub(crate) struct Source {
    pub provider: Arc<dyn Provider>,
    pub runtime: Handle,
    pub contents: bool,
    /// Paths of the provider's tree left out: the folder itself, when it lies inside a folder
    /// the provider mirrors (writing it would make the provider show it, and so on).
    pub excluded: Vec<NodePath>,
}

impl Source {
    /// Runs one provider call to its end, within [`PROVIDER_TIMEOUT`]. Never call it from a
    /// task of the runtime (it blocks the calling thread).
    pub fn call<T>(
        &self,
        what: impl std::fmt::Display,
        future: impl std::future::Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        self.runtime
            .block_on(async { tokio::time::timeout(PROVIDER_TIMEOUT, future).await })
            .unwrap_or_else(|_| {
                Err(ProviderError::Unavailable(format!(
                    "{what}: no answer within {} s",
                    PROVIDER_TIMEOUT.as_secs()
                )))
            })
    }

    pub fn is_excluded(&self, path: &NodePath) -> bool {
        self.excluded
            .iter()
            .any(|excluded| path.starts_with(excluded))
    }

    /// The node at `path`, `None` when its folder no longer lists it. An error when the folder
    /// itself is gone (`NotFound` of the parent), so the caller can look further up.
    pub fn node_at(&self, path: &NodePath) -> Result<Option<Node>, ProviderError> {
        let (Some(parent), Some(name)) = (path.parent(), path.name()) else {
            return self.call("root", self.provider.root()).map(Some);
        };
        if !acceptable_name(&parent, name) || self.is_excluded(path) {
            return Ok(None);
        }
        let listing = self.call(&parent, self.provider.list(&parent))?;
        Ok(listing.into_iter().find(|node| node.name == name))
    }

    /// The acceptable children of `node` at `path` (the provider's listing of it, when it is
    /// a folder); a folder that vanished meanwhile has none.
    pub fn children(&self, path: &NodePath, node: &Node) -> Result<Vec<Node>, ProviderError> {
        let children = if node.is_directory() {
            match self.call(path, self.provider.list(path)) {
                Ok(children) => children,
                Err(ProviderError::NotFound(_)) if !path.is_root() => Vec::new(),
                Err(error) => return Err(error),
            }
        } else {
            Vec::new()
        };
        Ok(children
            .into_iter()
            .filter(|child| {
                let keep = acceptable_name(path, &child.name)
                    && !self.is_excluded(&path.join(&child.name));
                if !keep && !self.is_excluded(&path.join(&child.name)) {
                    tracing::warn!(
                        "{path}: left out {:?}, which cannot be a folder entry here",
                        child.name
                    );
                }
                keep
            })
            .collect())
    }

    /// `node` at `path` and everything below it, into `into`.
    pub fn walk(&self, path: NodePath, node: Node, into: &mut Tree) -> Result<(), ProviderError> {
        let mut pending = vec![(path, node)];
        while let Some((path, node)) = pending.pop() {
            if node.is_directory() {
                for child in self.children(&path, &node)? {
                    pending.push((path.join(&child.name), child));
                }
            }
            into.insert(path, Entry::from_node(&node, self.contents));
        }
        Ok(())
    }

    /// The whole subtree at `path` as the provider has it now, and the path it was read at:
    /// `path` itself, or the nearest ancestor that still exists when its folder is gone too.
    pub fn subtree(&self, mut path: NodePath) -> Result<(NodePath, Tree), ProviderError> {
        loop {
            match self.node_at(&path) {
                Ok(found) => {
                    let mut tree = Tree::new();
                    if let Some(node) = found {
                        self.walk(path.clone(), node, &mut tree)?;
                    }
                    return Ok((path, tree));
                }
                Err(ProviderError::NotFound(_) | ProviderError::NotADirectory(_)) => {
                    match path.parent() {
                        Some(parent) => path = parent,
                        None => return Err(ProviderError::NotFound(path)),
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }
}
