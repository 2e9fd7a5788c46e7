//! `vfs wait DIR` for a synced folder: a Unix socket `.vfs.sock` at its root. A client that
//! connects gets, once the provider has settled and the follow thread has applied every notice
//! sent before, the line `settled` (or `error: …`), as reading a mount's `.vfs` answers. A
//! socket rather than a file: a plain file cannot make its reader wait.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vfs_core::{ChangeNotifier, Provider};

use crate::entry::SOCKET;
use crate::fetch::PROVIDER_TIMEOUT;
use crate::folder::{read_marker, Mode};
use crate::SyncError;

/// What a waiting client is told after the barrier passed.
const SETTLED: &str = "settled";

/// Serves the barrier on `DIR/.vfs.sock` until the returned task is aborted.
pub(crate) fn serve(
    dir: &Path,
    name: String,
    provider: Arc<dyn Provider>,
    marks: ChangeNotifier,
    applied: watch::Receiver<u64>,
) -> Result<JoinHandle<()>, SyncError> {
    let path = dir.join(SOCKET);
    // Left by a run that was killed; we hold the folder's lock, so it is nobody's.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|error| {
        SyncError::io(
            format!("cannot listen on {} (for vfs wait)", path.display()),
            error,
        )
    })?;
    let tokens = Arc::new(AtomicU64::new(1));
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let provider = provider.clone();
            let marks = marks.clone();
            let mut applied = applied.clone();
            let token = tokens.fetch_add(1, Ordering::Relaxed);
            let name = name.clone();
            tokio::spawn(async move {
                let barrier = async {
                    provider.settle().await.map_err(|error| error.to_string())?;
                    marks.mark(token);
                    applied
                        .wait_for(|applied| *applied >= token)
                        .await
                        .map(|_| ())
                        .map_err(|_| "vfs sync is stopping".to_owned())
                };
                let answer = match tokio::time::timeout(PROVIDER_TIMEOUT, barrier).await {
                    Ok(Ok(())) => format!("vfs sync: {name}\n{SETTLED}\n"),
                    Ok(Err(error)) => format!("vfs sync: {name}\nerror: {error}\n"),
                    Err(_) => format!(
                        "vfs sync: {name}\nerror: not settled within {} s\n",
                        PROVIDER_TIMEOUT.as_secs()
                    ),
                };
                // A client that went away needs no answer.
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    }))
}

/// How [`wait`] found the folder.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    /// A following `vfs sync` applied every change made before the call.
    Settled,
    /// The folder was written once (`--once`): nothing follows the provider, nothing to wait for.
    Once,
}

/// Why [`wait`] failed: one line each.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("{0} carries no .vfs marker of vfs sync")]
    NotSynced(String),
    #[error("no vfs sync follows {0} any more (it stopped)")]
    Stopped(String),
    #[error("cannot reach the vfs sync of {dir} ({error})")]
    Unreachable { dir: String, error: std::io::Error },
    #[error("{dir} did not settle: {answer}")]
    Failed { dir: String, answer: String },
}

/// The barrier of a synced folder, for `vfs wait DIR`: returns once the `vfs sync` following
/// it has applied every change of its source made before the call.
pub fn wait(dir: &Path) -> Result<Waited, WaitError> {
    let shown = dir.display().to_string();
    let marker = read_marker(dir).ok_or_else(|| WaitError::NotSynced(shown.clone()))?;
    match marker.mode {
        Some(Mode::Once) => return Ok(Waited::Once),
        Some(Mode::Stopped) => return Err(WaitError::Stopped(shown)),
        Some(Mode::Following) | None => {}
    }
    let unreachable = |error| WaitError::Unreachable {
        dir: shown.clone(),
        error,
    };
    let mut stream = UnixStream::connect(dir.join(SOCKET)).map_err(|error| {
        if matches!(
            error.kind(),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
        ) {
            WaitError::Stopped(shown.clone())
        } else {
            unreachable(error)
        }
    })?;
    // The server answers within its own bound; a little more here covers the way back.
    stream
        .set_read_timeout(Some(PROVIDER_TIMEOUT + Duration::from_secs(5)))
        .map_err(unreachable)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(unreachable)?;
    if answer.lines().any(|line| line == SETTLED) {
        Ok(Waited::Settled)
    } else {
        Err(WaitError::Failed {
            dir: shown,
            answer: answer.lines().last().unwrap_or("no answer").to_owned(),
        })
    }
}
