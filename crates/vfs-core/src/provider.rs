use crate::{ChangeNotifier, Content, Node, NodePath, ProviderError};

/// A virtual filesystem's content: a tree of timestamped nodes.
///
/// The host calls these methods from many tasks at once (a `make -j8` over the mount is eight
/// readers), so implementations take `&self` and must not hold a lock across a slow call.
/// Every method may be called again at any time for the same path: the host caches answers
/// for the time-to-live it was mounted with, and drops them at once on a change notice.
#[crate::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Called once before the first request, with the handle for change notices.
    /// Connect to the source and start watching here; an error aborts the mount with a clear
    /// message, so check here what the user got wrong (an unreachable engine, a missing folder).
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        let _ = notifier;
        Ok(())
    }

    /// The root directory (its name is ignored; its times and permissions are used).
    async fn root(&self) -> Result<Node, ProviderError>;

    /// The entries of the directory at `dir`, in a stable order of the provider's choice.
    /// Answer [`ProviderError::NotFound`] for a path that does not exist (any more).
    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError>;

    /// The content of the regular file at `path`, fetched when the file is opened.
    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError>;

    /// Called once when the mount goes away: stop background work here.
    async fn stop(&self) {}
}
