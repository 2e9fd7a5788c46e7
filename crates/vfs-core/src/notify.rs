use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::NodePath;

/// A change notice: which path changed, and how far the change reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub path: NodePath,
    pub reach: Reach,
}

/// How much of the tree a [`Notice`] concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The path and everything below it.
    Subtree,
    /// The node alone: its attributes and, for a folder, which names it holds. Whatever is
    /// below a name that is still there did not change (or has a notice of its own). The host
    /// then keeps the rest of what it and the kernel know below: a new image makes the images
    /// folder newer, but need not make the kernel forget every other image.
    Node,
}

impl Notice {
    /// `path` and everything below it changed.
    pub fn subtree(path: NodePath) -> Notice {
        Notice {
            path,
            reach: Reach::Subtree,
        }
    }

    /// The node at `path` alone changed (see [`Reach::Node`]).
    pub fn node(path: NodePath) -> Notice {
        Notice {
            path,
            reach: Reach::Node,
        }
    }

    /// True when `path` may have changed as far as this notice tells: what a host drops for
    /// it. A [`Reach::Subtree`] notice covers its path and everything below it. A
    /// [`Reach::Node`] notice covers its path **and every path directly in that folder**,
    /// changed or not: it says that the folder's names changed (one came or left) without
    /// saying which, so `Notice::node("d").covers("d/x")` is true for every `x`, also one that
    /// did not change.
    ///
    /// To check that a notice told of `path` itself (a test asserting that `d/x` was *not*
    /// announced when only `d/y` changed), use [`Notice::announces`].
    pub fn covers(&self, path: &NodePath) -> bool {
        match self.reach {
            Reach::Subtree => path.starts_with(&self.path),
            Reach::Node => *path == self.path || path.parent().as_ref() == Some(&self.path),
        }
    }

    /// True when this notice says that the node at `path` itself changed: `path` is the
    /// notice's path, or lies below it for a [`Reach::Subtree`] notice. Unlike
    /// [`Notice::covers`], a [`Reach::Node`] notice on a folder announces that folder alone,
    /// not the names in it. For tests:
    ///
    /// ```
    /// # use vfs_core::{NodePath, Notice};
    /// let told = [Notice::node(NodePath::parse("d")), Notice::subtree(NodePath::parse("d/y"))];
    /// let x = NodePath::parse("d/x");
    /// assert!(!told.iter().any(|notice| notice.announces(&x)), "d/x did not change");
    /// assert!(told.iter().any(|notice| notice.covers(&x)), "but the host asks about it again");
    /// ```
    pub fn announces(&self, path: &NodePath) -> bool {
        match self.reach {
            Reach::Subtree => path.starts_with(&self.path),
            Reach::Node => *path == self.path,
        }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reach {
            Reach::Subtree => write!(formatter, "{} and below", self.path),
            Reach::Node => write!(formatter, "{} alone", self.path),
        }
    }
}

/// The handle a provider uses to say "this path, and everything below it, changed"
/// ([`ChangeNotifier::changed`]), or "this node alone changed" ([`ChangeNotifier::changed_node`]).
///
/// The host gives one to [`crate::Provider::start`]. Sending never blocks and never fails from
/// the provider's point of view: once the mount is gone, notices are dropped. The host drops
/// what it cached at and below the path and invalidates the kernel's entries from a thread of
/// its own, so a provider may send from anywhere, including while the host is waiting on it.
///
/// **What a notice refreshes.** A node's attributes come from its folder's listing: a notice on
/// `dir/x` makes the host ask `list(dir)` again for `x`'s attributes (and, for
/// [`ChangeNotifier::changed`], forget everything below `x`), and the kernel forget `x`. It does
/// not refresh `dir`'s own attributes (its time, which come from its own folder's listing) nor
/// the kernel's copy of them: when `dir`'s time or the names it holds changed too, send
/// [`ChangeNotifier::changed_node`] for `dir` as well. [`crate::diff`] computes such notices
/// from two [`crate::Snapshot`]s.
#[derive(Clone, Debug)]
pub struct ChangeNotifier {
    sender: Option<Sender<Message>>,
}

/// What travels from notifiers to the receiver, in the order sent.
#[derive(Debug)]
enum Message {
    Notice(Notice),
    Mark(u64),
}

/// What [`ChangeReceiver::recv_timeout_or_mark`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Notice(Notice),
    /// A mark sent with [`ChangeNotifier::mark`]: every notice sent before it came first.
    Mark(u64),
}

/// The host's end of a [`ChangeNotifier`]; also handy in provider tests to assert notices.
#[derive(Debug)]
pub struct ChangeReceiver {
    receiver: Receiver<Message>,
}

impl ChangeNotifier {
    /// A connected notifier and the receiver its notices arrive at.
    pub fn channel() -> (ChangeNotifier, ChangeReceiver) {
        let (sender, receiver) = mpsc::channel();
        (
            ChangeNotifier {
                sender: Some(sender),
            },
            ChangeReceiver { receiver },
        )
    }

    /// A notifier whose notices go nowhere (for `vfs tree`, and tests that do not care).
    pub fn detached() -> ChangeNotifier {
        ChangeNotifier { sender: None }
    }

    /// `path` and everything below it changed.
    pub fn changed(&self, path: NodePath) {
        self.notify(Notice::subtree(path));
    }

    /// The node at `path` alone changed: its attributes and, for a folder, which names it
    /// holds (a name that left needs a [`ChangeNotifier::changed`] of its own, so that what was
    /// below it is forgotten too). Cheaper for the host than [`ChangeNotifier::changed`] on a
    /// big folder; when unsure, use that.
    pub fn changed_node(&self, path: NodePath) {
        self.notify(Notice::node(path));
    }

    /// Sends `notice` as it is (for a provider that computed its notices, e.g. by comparing
    /// two trees).
    pub fn notify(&self, notice: Notice) {
        self.send(Message::Notice(notice));
    }

    /// Sends a mark (for the host, not for providers): the receiver gets it after every notice
    /// sent before it, from any clone, so once it has applied what came before the mark, it has
    /// applied every notice sent before this call. The host's barrier (`.vfs`) uses it.
    pub fn mark(&self, token: u64) {
        self.send(Message::Mark(token));
    }

    fn send(&self, message: Message) {
        if let Some(sender) = &self.sender {
            // A closed channel means the mount is gone; there is nobody left to tell.
            let _ = sender.send(message);
        }
    }

    /// The whole tree changed (for example after a resynchronisation).
    pub fn changed_all(&self) {
        self.changed(NodePath::root());
    }
}

impl ChangeReceiver {
    /// Waits for the next notice (marks are skipped); `None` once every notifier is dropped.
    pub fn recv(&self) -> Option<Notice> {
        loop {
            match self.receiver.recv().ok()? {
                Message::Notice(notice) => return Some(notice),
                Message::Mark(_) => {}
            }
        }
    }

    /// Waits at most `timeout` for a notice (marks are skipped); `Ok(None)` on time-out,
    /// `Err(())` once every notifier is dropped.
    #[allow(clippy::result_unit_err)]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Notice>, ()> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.recv_timeout_or_mark(left)? {
                Some(Received::Notice(notice)) => return Ok(Some(notice)),
                Some(Received::Mark(_)) => {}
                None => return Ok(None),
            }
        }
    }

    /// Waits at most `timeout` for a notice or a mark, in the order they were sent; `Ok(None)`
    /// on time-out, `Err(())` once every notifier is dropped.
    #[allow(clippy::result_unit_err)]
    pub fn recv_timeout_or_mark(&self, timeout: Duration) -> Result<Option<Received>, ()> {
        match self.receiver.recv_timeout(timeout) {
            Ok(Message::Notice(notice)) => Ok(Some(Received::Notice(notice))),
            Ok(Message::Mark(token)) => Ok(Some(Received::Mark(token))),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }

    /// The notices already waiting, without blocking (marks are skipped).
    pub fn pending(&self) -> Vec<Notice> {
        self.receiver
            .try_iter()
            .filter_map(|message| match message {
                Message::Notice(notice) => Some(notice),
                Message::Mark(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subtree(path: &str) -> Notice {
        Notice::subtree(NodePath::parse(path))
    }

    #[test]
    fn notices_arrive_in_order_and_detached_ones_vanish() {
        let (notifier, receiver) = ChangeNotifier::channel();
        notifier.changed(NodePath::parse("images"));
        notifier.changed_node(NodePath::parse("containers"));
        notifier.clone().changed_all();
        let node = Notice::node(NodePath::parse("containers"));
        assert_eq!(
            receiver.pending(),
            vec![subtree("images"), node, subtree("")]
        );
        ChangeNotifier::detached().changed_all();
        drop(notifier);
        assert_eq!(receiver.recv_timeout(Duration::from_millis(10)), Err(()));
    }

    #[test]
    fn a_mark_arrives_after_every_notice_sent_before_it() {
        let (notifier, receiver) = ChangeNotifier::channel();
        let host_side = notifier.clone();
        notifier.changed(NodePath::parse("images"));
        host_side.mark(7);
        notifier.changed(NodePath::parse("volumes"));
        let wait = Duration::from_millis(10);
        assert_eq!(
            receiver.recv_timeout_or_mark(wait),
            Ok(Some(Received::Notice(subtree("images"))))
        );
        assert_eq!(
            receiver.recv_timeout_or_mark(wait),
            Ok(Some(Received::Mark(7)))
        );
        host_side.mark(8);
        // The plain receiving methods skip marks.
        assert_eq!(receiver.recv_timeout(wait), Ok(Some(subtree("volumes"))));
        assert_eq!(receiver.pending(), vec![]);
    }

    #[test]
    fn a_node_notice_covers_the_node_and_the_names_in_its_folder_only() {
        let node = Notice::node(NodePath::parse("images"));
        assert!(node.covers(&NodePath::parse("images")));
        assert!(node.covers(&NodePath::parse("images/.abc")));
        assert!(!node.covers(&NodePath::parse("images/app/latest")));
        assert!(!node.covers(&NodePath::parse("containers")));
        assert!(subtree("images").covers(&NodePath::parse("images/app/latest")));
        assert!(subtree("").covers(&NodePath::parse("volumes/data")));
        assert_eq!(node.to_string(), "/images alone");
    }

    #[test]
    fn a_node_notice_announces_the_node_alone() {
        let node = Notice::node(NodePath::parse("images"));
        assert!(node.announces(&NodePath::parse("images")));
        assert!(!node.announces(&NodePath::parse("images/.abc")));
        assert!(!node.announces(&NodePath::parse("")));
        let below = subtree("images");
        assert!(below.announces(&NodePath::parse("images")));
        assert!(below.announces(&NodePath::parse("images/app/latest")));
        assert!(!below.announces(&NodePath::parse("volumes")));
    }
}
