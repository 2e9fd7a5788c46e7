//! The thread that follows the provider: it receives change notices (and the barrier's marks,
//! behind them in the same channel), applies each batch to the folder, re-lists the whole tree
//! once per TTL, and tells the barrier how far it got.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use vfs_core::{ChangeReceiver, Received};

use crate::engine::Engine;

/// The mark that ends the thread; barrier marks count up from 1 and never reach it.
pub(crate) const STOP: u64 = u64::MAX;

/// After a failed pass, how long before the next try (from the disk, then).
const RETRY: Duration = Duration::from_secs(1);

/// Runs until the [`STOP`] mark or until every notifier is gone, then hands the engine back.
/// `applied` holds the newest mark whose notices are all in the folder. `relist`: how often
/// the whole tree is read again.
pub(crate) fn follow(
    mut engine: Engine,
    receiver: ChangeReceiver,
    relist: Duration,
    applied: watch::Sender<u64>,
) -> Engine {
    let mut next_relist = Instant::now() + relist;
    let mut broken = false;
    let mut passed = 0u64;
    loop {
        let deadline = if broken {
            next_relist.min(Instant::now() + RETRY)
        } else {
            next_relist
        };
        let timeout = deadline.saturating_duration_since(Instant::now());
        let mut notices = Vec::new();
        let mut stop = false;
        match receiver.recv_timeout_or_mark(timeout) {
            Err(()) => return engine,
            Ok(first) => {
                // Everything already waiting joins the batch: a burst of events is one pass.
                let mut next = first;
                while let Some(received) = next {
                    match received {
                        Received::Notice(notice) => notices.push(notice),
                        Received::Mark(STOP) => stop = true,
                        Received::Mark(token) => passed = passed.max(token),
                    }
                    next = receiver
                        .recv_timeout_or_mark(Duration::ZERO)
                        .unwrap_or(None);
                }
            }
        }
        if stop {
            return engine;
        }
        let outcome = if broken {
            engine.reconcile_from_disk(false)
        } else if Instant::now() >= next_relist {
            engine.reconcile()
        } else if notices.is_empty() {
            Ok(Default::default())
        } else {
            engine.apply_notices(&notices)
        };
        if Instant::now() >= next_relist {
            next_relist = Instant::now() + relist;
        }
        match outcome {
            Ok(changes) => {
                if broken {
                    tracing::info!("{}: in step again", engine.root.display());
                }
                broken = false;
                if changes.total() > 0 {
                    tracing::debug!(?changes, notices = notices.len(), "applied");
                }
                // Every mark received so far came after notices that are now in the folder.
                applied.send_replace(passed);
            }
            Err(error) => {
                if !broken {
                    tracing::warn!(
                        "{}: {error}; trying again from what the folder holds",
                        engine.root.display()
                    );
                }
                broken = true;
            }
        }
    }
}
