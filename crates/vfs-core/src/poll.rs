//! Change notices for a source without events: read it on an interval, compare, notify.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::{diff, ChangeNotifier, Content, Node, NodePath, ProviderError, Snapshot};

type Take = Box<
    dyn FnMut() -> Pin<Box<dyn Future<Output = Result<Snapshot, ProviderError>> + Send>> + Send,
>;

/// Serves a source that has no event stream from [`Snapshot`]s read on an interval, and sends
/// the notices between each two of them: the polling half of a provider.
///
/// A provider keeps one, created in [`crate::Provider::start`] with [`Poller::start`], and
/// answers `root`/`list` from [`Poller::current`] (or [`Poller::root`] and [`Poller::list`]).
/// Each poll reads a new snapshot, makes it the one served, **then** sends [`diff`]'s notices:
/// a host that asks again on a notice gets the new answer. A poll that fails is logged
/// (`tracing::warn!`) and the last snapshot stays served; the next poll compares with it.
///
/// **May such a provider declare [`crate::ChangeNotices::Complete`]?** Yes, when it answers
/// `root`, `list` and `read` from the poller's snapshot (not from the source directly; see
/// *Contents* below): what it answers then changes only at a poll, and every poll announces what changed, so no change of
/// its answers goes without a notice. A change of the *source* shows at the next poll, at most
/// one interval (plus the time a poll takes) later, whatever the provider declares: choose an
/// interval your users accept as that delay. Answering `list` from the source directly while
/// polling only for notices is `Partial`: answers then change between polls without a notice.
/// Implement [`crate::Provider::settle`] with [`Poller::poll_now`], so that `vfs wait` sees
/// every change made before it without waiting for the interval.
///
/// **Contents.** `read` must follow the same rule: its answer may change only with a notice.
/// A snapshot served by the poller is the only thing that changes at the moment its notices
/// go out, so put the files' bytes in it ([`Snapshot::insert_file`]) and answer `read` with
/// [`Poller::read`]: a file's new bytes then show exactly when its new node does, after its
/// notice is decided, and a failed poll keeps old nodes and old bytes together. Do not keep
/// values in state of your own that `take` updates: `take` runs *before* its snapshot is
/// served (and a `take` that fails, or is cancelled, never is), so such values show early,
/// beside the nodes of the snapshot still served. Reading the source in `read` (hello's
/// `--poll` does) shows a change before the poll that announces it: that is `Partial`. Files
/// too big to hold in memory need versions that stay readable after the source moved on,
/// found from the node served (a git blob kept by path and `mtime`, say), or `Partial`.
///
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// # use vfs_core::{Content, Node, NodePath, Poller, ProviderError, Snapshot};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // In `start`: each poll reads the names, times and bytes of the source in one snapshot.
/// let take = || async {
///     let mut tree = Snapshot::new(Node::directory("", UNIX_EPOCH));
///     let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
///     tree.insert_file(&NodePath::root(), Node::file("PORT", time, None), "8080");
///     Ok::<_, ProviderError>(tree)
/// };
/// let (notifier, _notices) = vfs_core::ChangeNotifier::channel();
/// let poller = Poller::start(Duration::from_secs(1), notifier, take).await.unwrap();
/// // `list` answers `poller.list(dir)`, `read` answers `poller.read(path)`:
/// let Ok(Content::Bytes(port)) = poller.read(&NodePath::parse("PORT")) else { panic!() };
/// assert_eq!(port, b"8080");
/// # }
/// ```
///
/// **Concurrency.** Polls never overlap: one poll (read, swap, notify) runs at a time, the
/// interval's and [`Poller::poll_now`]'s alike. A `poll_now` called while the interval's poll
/// runs waits for it, then polls again itself (so it sees every change made before it was
/// called); `take` is never called twice at once. Snapshots are therefore served in the order
/// their `take`s ran, each compared with the one served before it. Serving a new snapshot and
/// sending its notices happen together, with no `.await` between them: a poll whose caller
/// gives up (a `settle` that timed out, [`Poller::stop`]) is dropped while it reads, never
/// between the two, so no snapshot is served without its notices.
///
/// Stopped by [`Poller::stop`] or when dropped.
pub struct Poller {
    shared: Arc<Shared>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct Shared {
    current: Mutex<Arc<Snapshot>>,
    /// Held while a poll reads, compares and notifies: two polls never interleave, and they
    /// take it in the order they asked (tokio's mutex is fair).
    take: tokio::sync::Mutex<Take>,
    notifier: ChangeNotifier,
}

impl Poller {
    /// Reads the first snapshot at once (its error is `start`'s: the mount is refused with it),
    /// then polls every `interval` in a task of the runtime `start` runs in. `take` reads the
    /// whole source into a new snapshot each time.
    pub async fn start<F, Fut>(
        interval: Duration,
        notifier: ChangeNotifier,
        mut take: F,
    ) -> Result<Poller, ProviderError>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Snapshot, ProviderError>> + Send + 'static,
    {
        let mut take: Take = Box::new(move || Box::pin(take()));
        let first = take().await?;
        let shared = Arc::new(Shared {
            current: Mutex::new(Arc::new(first)),
            take: tokio::sync::Mutex::new(take),
            notifier,
        });
        let polling = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now() + interval;
            let mut ticks = tokio::time::interval_at(start, interval);
            // A poll slower than the interval delays the next one instead of bunching them.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = polling.poll().await {
                    tracing::warn!("poll failed, the last answers stay: {error}");
                }
            }
        });
        Ok(Poller {
            shared,
            task: Mutex::new(Some(task)),
        })
    }

    /// The snapshot served now.
    pub fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.shared.current.lock())
    }

    /// The root of the snapshot served now (for [`crate::Provider::root`]).
    pub fn root(&self) -> Node {
        self.current().root().clone()
    }

    /// The listing of `dir` in the snapshot served now (for [`crate::Provider::list`]).
    pub fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        self.current().list(dir)
    }

    /// What `read` answers for `path` in the snapshot served now (for
    /// [`crate::Provider::read`]): the bytes given to [`Snapshot::insert_file`] (see
    /// [`Snapshot::read`] for the errors).
    pub fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        self.current().read(path)
    }

    /// Polls now, without waiting for the interval; returns once the new snapshot is served
    /// and its notices are sent (for [`crate::Provider::settle`]). Its error is the poll's.
    pub async fn poll_now(&self) -> Result<(), ProviderError> {
        self.shared.poll().await
    }

    /// Ends the polling task (for [`crate::Provider::stop`]); the last snapshot stays served.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    async fn poll(&self) -> Result<(), ProviderError> {
        let mut take = self.take.lock().await;
        let new = Arc::new(take().await?);
        // No `.await` from here on: a poll dropped by its caller is dropped while it reads,
        // never between serving a snapshot and sending its notices.
        let old = std::mem::replace(&mut *self.current.lock(), Arc::clone(&new));
        // Served first, told after: a host that asks again on the notice sees the new tree.
        for notice in diff(&old, &new) {
            tracing::debug!(%notice, "changed since the last poll");
            self.notifier.notify(notice);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::Notice;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    /// A source whose one file's time is the version counter; 0 fails to read.
    fn source(
        version: Arc<AtomicU64>,
    ) -> impl FnMut() -> std::future::Ready<Result<Snapshot, ProviderError>> {
        move || {
            let seconds = version.load(Ordering::SeqCst);
            std::future::ready(if seconds == 0 {
                Err(ProviderError::Unavailable("down".into()))
            } else {
                let mut tree = Snapshot::new(Node::directory("", at(1)));
                tree.insert(&NodePath::root(), Node::file("f", at(seconds), Some(1)));
                Ok(tree)
            })
        }
    }

    #[tokio::test]
    async fn polls_serve_first_then_notify_and_failures_keep_the_last_tree() {
        let version = Arc::new(AtomicU64::new(1));
        let (notifier, notices) = crate::ChangeNotifier::channel();
        let hour = Duration::from_secs(3600);
        let poller = Poller::start(hour, notifier, source(Arc::clone(&version)))
            .await
            .unwrap();
        let time_of_f = |poller: &Poller| poller.list(&NodePath::root()).unwrap()[0].mtime;
        assert_eq!(time_of_f(&poller), at(1));
        poller.poll_now().await.unwrap();
        assert!(notices.pending().is_empty(), "nothing changed");
        version.store(2, Ordering::SeqCst);
        poller.poll_now().await.unwrap();
        assert_eq!(time_of_f(&poller), at(2));
        assert_eq!(
            notices.pending(),
            vec![Notice::subtree(NodePath::parse("f"))]
        );
        version.store(0, Ordering::SeqCst);
        assert!(poller.poll_now().await.is_err());
        assert_eq!(time_of_f(&poller), at(2));
        assert_eq!(poller.root().mtime, at(1));
        poller.stop();
    }

    #[tokio::test(start_paused = true)]
    async fn polls_never_overlap_and_serve_in_the_order_they_read() {
        use std::sync::atomic::AtomicUsize;
        let version = Arc::new(AtomicU64::new(0));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let take = {
            let counters = (version.clone(), inside.clone(), most.clone(), done.clone());
            move || {
                let (version, inside, most, done) = counters.clone();
                async move {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let seconds = version.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    done.store(seconds, Ordering::SeqCst);
                    let mut tree = Snapshot::new(Node::directory("", at(1)));
                    tree.insert_file(&NodePath::root(), Node::file("f", at(seconds), None), "x");
                    Ok(tree)
                }
            }
        };
        let (notifier, notices) = crate::ChangeNotifier::channel();
        // The interval's first poll comes at 2 s, in the middle of the `poll_now`s below.
        let poller = Poller::start(Duration::from_secs(2), notifier, take)
            .await
            .unwrap();
        let (a, b, c) = tokio::join!(poller.poll_now(), poller.poll_now(), poller.poll_now());
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        // 1 s after the last `poll_now`: the interval's poll has run, and the next one is
        // reading when the poller stops.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        poller.stop();
        assert_eq!(most.load(Ordering::SeqCst), 1, "two takes ran at once");
        let (taken, finished) = (version.load(Ordering::SeqCst), done.load(Ordering::SeqCst));
        assert_eq!(
            (taken, finished),
            (6, 5),
            "the start's, 3 poll_now's, 2 intervals'"
        );
        // The last finished take's snapshot is served (the stopped one serves nothing), and
        // each poll told its change.
        assert_eq!(
            poller.list(&NodePath::root()).unwrap()[0].mtime,
            at(finished)
        );
        assert!(matches!(poller.read(&NodePath::parse("f")), Ok(Content::Bytes(x)) if x == b"x"));
        let told = notices.pending();
        assert_eq!(told, vec![Notice::subtree(NodePath::parse("f")); 4]);
    }

    #[tokio::test]
    async fn the_first_snapshot_failing_is_the_start_error() {
        let down = Arc::new(AtomicU64::new(0));
        let started = Poller::start(
            Duration::from_secs(1),
            crate::ChangeNotifier::detached(),
            source(down),
        )
        .await;
        assert!(matches!(started, Err(ProviderError::Unavailable(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn the_interval_polls_on_its_own() {
        let version = Arc::new(AtomicU64::new(1));
        let (notifier, notices) = crate::ChangeNotifier::channel();
        let poller = Poller::start(
            Duration::from_secs(5),
            notifier,
            source(Arc::clone(&version)),
        )
        .await
        .unwrap();
        version.store(3, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(
            notices.pending(),
            vec![Notice::subtree(NodePath::parse("f"))]
        );
        poller.stop();
        version.store(4, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(
            notices.pending().is_empty(),
            "a stopped poller polls no more"
        );
    }
}
