//! The notices thread: receives the provider's change notices (and the host's own marks) in
//! the order they were sent, has the host apply each burst as one step
//! ([`Host::apply_notices`]), and performs the kernel operations the step returns. It is no
//! FUSE request handler, because invalidating the kernel from inside a request can deadlock.
//! It stops at the host's stop mark, after what was sent before it.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vfs_core::{ChangeReceiver, Received};

use crate::host::{Host, STOP_MARK, WAKE_MARK};
use crate::kernel::{perform, KernelCache, KernelOp};

/// The thread, stopped and joined with the mount.
pub(crate) struct NoticeThread {
    host: Arc<Host>,
    thread: Option<JoinHandle<()>>,
}

impl NoticeThread {
    /// Starts the thread. The host must have its end of the channel ([`Host::set_marks`]):
    /// requests wake the thread and the mount stops it through it.
    pub(crate) fn start(
        host: Arc<Host>,
        notices: ChangeReceiver,
        kernel: impl KernelCache,
    ) -> io::Result<NoticeThread> {
        let running = host.clone();
        let thread = std::thread::Builder::new()
            .name("vfs-notices".into())
            .spawn(move || run(&running, &notices, &kernel))?;
        Ok(NoticeThread {
            host,
            thread: Some(thread),
        })
    }

    /// Stops the thread once it has applied what was sent before, and waits for it.
    pub(crate) fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if !self.host.stop_notices() {
            tracing::warn!("the notices thread has no stop channel; left running");
            return;
        }
        if thread.join().is_err() {
            tracing::warn!("the notices thread panicked");
        }
    }
}

impl Drop for NoticeThread {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// The most notices one step takes: past it the step is taken, so a flood still gets applied.
const MOST_PER_STEP: usize = 4096;

/// Receives until the stop mark, or until every notifier is gone.
fn run(host: &Host, notices: &ChangeReceiver, kernel: &impl KernelCache) {
    let mut burst = Vec::new();
    let mut mark = None;
    // The first of a burst is waited for without a deadline (a duration this long has none),
    // the rest is what is already waiting, so that a burst is one step.
    let mut wait = Duration::MAX;
    loop {
        let mut stop = false;
        match notices.recv_timeout_or_mark(wait) {
            Ok(Some(Received::Notice(notice))) => {
                burst.push(notice);
                if burst.len() < MOST_PER_STEP {
                    wait = Duration::ZERO;
                    continue;
                }
            }
            Ok(Some(Received::Mark(STOP_MARK))) => stop = true,
            Ok(Some(Received::Mark(WAKE_MARK))) => {
                wait = Duration::ZERO;
                continue;
            }
            // Every mark of the burst is passed once the burst is applied. The highest, not the
            // last: two barriers take their tokens and send them in either order, and the one
            // waiting for the higher token would wait for a later mark.
            Ok(Some(Received::Mark(token))) => {
                mark = mark.max(Some(token));
                wait = Duration::ZERO;
                continue;
            }
            // Nothing more waiting: the burst is complete.
            Ok(None) => {}
            Err(()) => {
                tracing::debug!("every change notifier is gone; no more notices");
                stop = true;
            }
        }
        let mut ops = host.apply_notices(std::mem::take(&mut burst));
        // Listings abandoned halfway: the drops that waited for their end are made now.
        ops.extend(
            host.fills
                .abandoned(Instant::now())
                .into_iter()
                .map(KernelOp::Inode),
        );
        perform(kernel, &ops, &host.fills);
        // Every notice sent before the mark is applied (with those after it in this burst).
        if let Some(token) = mark.take() {
            host.marks_applied(token);
        }
        if stop {
            return;
        }
        wait = host.fills.next_due(Instant::now()).unwrap_or(Duration::MAX);
    }
}
