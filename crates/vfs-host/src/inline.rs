//! Answering a request on the FUSE thread when its future is ready at once.
//!
//! Most requests the cache cannot answer still need no waiting: the provider answers them from
//! memory (DockerFS's tree, once its images are inspected). Handing each of those to a tokio
//! task costs two context switches a request (the FUSE thread wakes a worker, the worker
//! replies while the FUSE thread sleeps in its next read), which on a 2-core machine is most of
//! a cold walk's time. So the future is polled once where the request arrived, inside the
//! runtime's context (its timers, locks and `spawn_blocking` work there); only a future that
//! pends moves, already started, into a task that finishes it. A future that panics in that
//! first poll is dropped with its continuation (and so its reply: fuser answers `EIO` for a
//! reply dropped unanswered), as a panicking task's would be.
//!
//! The price: a provider that blocks its thread inside a poll (synchronous I/O in an `async fn`
//! instead of `spawn_blocking`) now blocks one of the FUSE threads that long, where it blocked a
//! runtime worker before; the other FUSE thread still reads requests. The providers here block
//! nowhere in a poll (GitConfigFS reads through `spawn_blocking`, DockerFS answers from memory
//! or awaits the engine).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll, Waker};

use tokio::runtime::Handle;

/// Runs `future` to its end and hands its output to `then`: on this thread if the first poll
/// is ready, else in a task on `runtime`. Never blocks for a future that pends.
pub(crate) fn answer<F, T>(runtime: &Handle, future: F, then: impl FnOnce(T) + Send + 'static)
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut future = Box::pin(future);
    let first = {
        let _context = runtime.enter();
        // The task polls it again with its own waker, which replaces this one wherever the
        // future registered it (the contract of `Future::poll`).
        let mut context = Context::from_waker(Waker::noop());
        catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut context)))
    };
    match first {
        Ok(Poll::Ready(output)) => then(output),
        Ok(Poll::Pending) => {
            runtime.spawn(async move { then(future.await) });
        }
        Err(_) => {
            tracing::error!("a request's first poll panicked: answered EIO");
            drop(future);
            drop(then);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::thread;
    use std::time::Duration;

    use super::answer;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a test runtime")
    }

    /// Something that notes whether it was dropped without being used (a fuser reply does the
    /// same: it answers `EIO`).
    struct Reply {
        dropped_unused: Arc<AtomicBool>,
        used: bool,
    }

    impl Drop for Reply {
        fn drop(&mut self) {
            if !self.used {
                self.dropped_unused.store(true, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn a_ready_future_is_answered_on_the_calling_thread() {
        let runtime = runtime();
        let caller = thread::current().id();
        let (sender, answers) = mpsc::channel();
        answer(runtime.handle(), async { 42 }, move |value| {
            sender
                .send((value, thread::current().id()))
                .expect("the test waits");
        });
        // Already there: answered before `answer` returned.
        let (value, on) = answers.try_recv().expect("answered at once");
        assert_eq!((value, on), (42, caller));
    }

    #[test]
    fn runtime_resources_work_in_the_first_poll() {
        let runtime = runtime();
        let (sender, answers) = mpsc::channel();
        // An uncontended tokio lock and a timeout that does not expire: ready at once.
        let lock = Arc::new(tokio::sync::Mutex::new(7));
        answer(
            runtime.handle(),
            async move {
                let value = lock.lock().await;
                tokio::time::timeout(Duration::from_secs(30), async { *value })
                    .await
                    .ok()
            },
            move |value| sender.send(value).expect("the test waits"),
        );
        assert_eq!(answers.try_recv().expect("answered at once"), Some(7));
    }

    #[test]
    fn a_pending_future_is_answered_once_it_completes() {
        let runtime = runtime();
        let (release, released) = tokio::sync::oneshot::channel::<u32>();
        let (sender, answers) = mpsc::channel();
        answer(
            runtime.handle(),
            async move { released.await.unwrap_or(0) + 1 },
            move |value| sender.send(value).expect("the test waits"),
        );
        assert!(answers.try_recv().is_err(), "nothing to answer yet");
        release.send(9).expect("the future waits");
        let value = answers
            .recv_timeout(Duration::from_secs(10))
            .expect("answered once the future completed");
        assert_eq!(value, 10);
    }

    #[test]
    fn a_future_that_pends_for_ever_does_not_hold_the_caller() {
        let runtime = runtime();
        let dropped_unused = Arc::new(AtomicBool::new(false));
        let reply = Reply {
            dropped_unused: dropped_unused.clone(),
            used: false,
        };
        let (done, returned) = mpsc::channel();
        let handle = runtime.handle().clone();
        thread::spawn(move || {
            answer(&handle, std::future::pending::<()>(), move |()| {
                let mut reply = reply;
                reply.used = true;
            });
            done.send(()).expect("the test waits");
        });
        returned
            .recv_timeout(Duration::from_secs(10))
            .expect("answer returned while the future pends");
        // The runtime's end drops the task and with it the reply (fuser answers EIO then).
        drop(runtime);
        assert!(dropped_unused.load(Ordering::SeqCst));
    }

    #[test]
    fn a_future_that_panics_drops_its_reply_and_spares_the_caller() {
        let runtime = runtime();
        let dropped_unused = Arc::new(AtomicBool::new(false));
        let reply = Reply {
            dropped_unused: dropped_unused.clone(),
            used: false,
        };
        answer(
            runtime.handle(),
            async {
                if true {
                    panic!("a provider's bug");
                }
            },
            move |()| {
                let mut reply = reply;
                reply.used = true;
            },
        );
        assert!(dropped_unused.load(Ordering::SeqCst));
        // The calling thread goes on answering.
        let (sender, answers) = mpsc::channel();
        answer(runtime.handle(), async { 1 }, move |value| {
            sender.send(value).expect("the test waits")
        });
        assert_eq!(answers.try_recv().expect("answered at once"), 1);
    }
}
