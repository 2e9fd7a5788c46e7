//! The host's marker file `.vfs` at the root of every mount, and the barrier reading it is:
//! [`Host::settle`] waits for the provider and then for the notices thread.

use std::ffi::OsStr;
use std::sync::atomic::Ordering;

use vfs_core::{ChangeNotifier, Node, NodePath, ProviderError};

use super::Host;

/// The host's own file at the root of every mount: reading it is the mount's barrier
/// ([`Host::settle`]); its presence tells a Makefile the mount is there. It shadows a
/// provider entry of the same name.
pub(crate) const MARKER_NAME: &str = ".vfs";

/// What reading the marker answers once the mount has settled.
pub(super) fn marker_content(provider_name: &str) -> Vec<u8> {
    format!("vfs mount: {provider_name}\nsettled\n").into_bytes()
}

/// The marker's node: read-only, dated 1970 (never newer than anything, so even as a normal
/// prerequisite it makes no target out of date), of the size its content has, so that its
/// attributes never change (it is served with direct I/O all the same, see [`Host::open`], so
/// that every read reaches the host and settles).
pub(super) fn marker_node(provider_name: &str) -> Node {
    let size = marker_content(provider_name).len() as u64;
    Node::file(MARKER_NAME, std::time::SystemTime::UNIX_EPOCH, Some(size)).with_perm(0o444)
}

/// The root's children with the marker, which shadows a provider entry of its name.
pub(super) fn with_marker(mut children: Vec<Node>, provider_name: &str) -> Vec<Node> {
    children.retain(|node| node.name != MARKER_NAME);
    children.push(marker_node(provider_name));
    children
}

pub(super) fn is_marker(path: &NodePath) -> bool {
    path.parent().is_some_and(|parent| parent.is_root())
        && path.name() == Some(OsStr::new(MARKER_NAME))
}

/// The mark that wakes the notices thread for kernel operations a request left
/// ([`Host::wake_notices`]); barrier tokens start at 1.
pub(crate) const WAKE_MARK: u64 = 0;
/// The mark that stops the notices thread once what was sent before it is applied
/// ([`Host::stop_notices`]).
pub(crate) const STOP_MARK: u64 = u64::MAX;

impl Host {
    /// Where barrier marks go: the provider's own notice channel, behind its notices.
    pub(crate) fn set_marks(&self, notifier: ChangeNotifier) {
        *self.marks.lock() = Some(notifier);
    }

    /// Wakes the notices thread for the kernel operations requests left. Never blocks.
    pub(crate) fn wake_notices(&self) {
        if let Some(notifier) = self.marks.lock().as_ref() {
            notifier.mark(WAKE_MARK);
        }
    }

    /// Tells the notices thread to stop once it has applied what was sent before; false when
    /// there is no channel to tell it through ([`Host::set_marks`] was never called).
    pub(crate) fn stop_notices(&self) -> bool {
        let marks = self.marks.lock();
        if let Some(notifier) = marks.as_ref() {
            notifier.mark(STOP_MARK);
        }
        marks.is_some()
    }

    /// Called by the notices thread once every notice before mark `token` is applied.
    pub(crate) fn marks_applied(&self, token: u64) {
        self.marks_applied
            .send_if_modified(|reached| std::mem::replace(reached, (*reached).max(token)) < token);
    }

    /// The highest mark the notices thread has passed.
    #[cfg(test)]
    pub(crate) fn marks_reached(&self) -> u64 {
        *self.marks_applied.borrow()
    }

    /// Returns once the notices thread has applied (to the host's caches and the kernel's)
    /// every notice the provider sent before this call. Waits for that thread; never
    /// invalidates anything itself. At once when no notices thread runs (unit tests).
    pub(crate) async fn notices_applied(&self) {
        let Some(notifier) = self.marks.lock().clone() else {
            return;
        };
        let token = self.next_mark.fetch_add(1, Ordering::SeqCst) + 1;
        let mut applied = self.marks_applied.subscribe();
        notifier.mark(token);
        // An error means the host is going away; the bound on the caller ends the wait.
        let _ = applied.wait_for(|reached| *reached >= token).await;
    }

    /// The mount's barrier, what reading the marker file does: the provider announces every
    /// change of its source completed before now ([`vfs_core::Provider::settle`]), then the notices
    /// thread applies them all. Bounded by [`PROVIDER_TIMEOUT`](super::PROVIDER_TIMEOUT) as a whole.
    pub(crate) async fn settle(&self) -> Result<Vec<u8>, ProviderError> {
        let path = NodePath::root().join(OsStr::new(MARKER_NAME));
        self.bounded("settle", &path, async {
            self.provider.settle().await?;
            self.notices_applied().await;
            Ok(())
        })
        .await?;
        Ok(marker_content(&self.name))
    }
}
