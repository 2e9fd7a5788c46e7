use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::NodePath;

/// The handle a provider uses to say "this path, and everything below it, changed".
///
/// The host gives one to [`crate::Provider::start`]. Sending never blocks and never fails from
/// the provider's point of view: once the mount is gone, notices are dropped. The host drops
/// what it cached at and below the path and invalidates the kernel's entries from a thread of
/// its own, so a provider may send from anywhere, including while the host is waiting on it.
#[derive(Clone, Debug)]
pub struct ChangeNotifier {
    sender: Option<Sender<NodePath>>,
}

/// The host's end of a [`ChangeNotifier`]; also handy in provider tests to assert notices.
#[derive(Debug)]
pub struct ChangeReceiver {
    receiver: Receiver<NodePath>,
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
        if let Some(sender) = &self.sender {
            // A closed channel means the mount is gone; there is nobody left to tell.
            let _ = sender.send(path);
        }
    }

    /// The whole tree changed (for example after a resynchronisation).
    pub fn changed_all(&self) {
        self.changed(NodePath::root());
    }
}

impl ChangeReceiver {
    /// Waits for the next notice; `None` once every notifier is dropped.
    pub fn recv(&self) -> Option<NodePath> {
        self.receiver.recv().ok()
    }

    /// Waits at most `timeout`; `Ok(None)` on time-out, `Err(())` once every notifier is dropped.
    #[allow(clippy::result_unit_err)]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<NodePath>, ()> {
        match self.receiver.recv_timeout(timeout) {
            Ok(path) => Ok(Some(path)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }

    /// The notices already waiting, without blocking.
    pub fn pending(&self) -> Vec<NodePath> {
        self.receiver.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_arrive_in_order_and_detached_ones_vanish() {
        let (notifier, receiver) = ChangeNotifier::channel();
        notifier.changed(NodePath::parse("images"));
        notifier.clone().changed_all();
        assert_eq!(
            receiver.pending(),
            vec![NodePath::parse("images"), NodePath::root()]
        );
        ChangeNotifier::detached().changed_all();
        drop(notifier);
        assert_eq!(receiver.recv_timeout(Duration::from_millis(10)), Err(()));
    }
}
