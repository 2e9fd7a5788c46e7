//! The second host backend of vfs: keeps a plain folder in step with a [`vfs_core::Provider`],
//! without FUSE (CI containers without `/dev/fuse`, macOS without a kernel extension).
//!
//! The folder holds the provider's tree as ordinary entries: folders as folders, symlinks as
//! symlinks with the same targets, files as empty stand-ins (or, with `contents`, the real
//! bytes), each with the provider's times set by `utimensat` (a symlink's own times with
//! `AT_SYMLINK_NOFOLLOW`). make needs nothing more. [`once`] writes the tree and returns;
//! [`follow`] then applies each change notice as the smallest set of changes, in an order that
//! never shows a concurrent reader a half-applied state (see `plan`).
//!
//! Providers know nothing of this backend, as they know nothing of FUSE: it uses the same
//! `root`/`list`/`read`, notices and `settle` the FUSE host uses.
//!
//! The pieces:
//! - `folder`: which folders it may write (its own `.vfs` marker, or empty), the lock, the
//!   marker.
//! - `fetch`: reading regions of the provider's tree; `scan`: reading the folder back.
//! - `plan`: the difference of two versions of a region, as ordered operations; `apply`: doing
//!   them on disk.
//! - `engine`: a whole reconciling pass, or a batch of notices; `follow`: the thread that
//!   receives them; `barrier`: `.vfs.sock`, which `vfs wait DIR` asks.

mod apply;
mod barrier;
mod engine;
mod entry;
mod error;
mod fetch;
mod folder;
mod follow;
mod plan;
mod scan;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use vfs_core::{ChangeNotifier, CopiedContents, Provider};

pub use apply::Changes;
pub use barrier::{wait, WaitError, Waited};
pub use error::SyncError;
pub use folder::{read_marker, Marker, Mode};

use engine::Engine;
use fetch::Source;
use folder::Folder;

/// How to sync.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The provider's name, written into the marker (`vfs sync: docker`).
    pub name: String,
    /// Write the files' bytes, not empty stand-ins (when the provider allows it, see
    /// [`vfs_core::Provider::copied_contents`]).
    pub contents: bool,
    /// Create the folder when it is missing.
    pub create_missing: bool,
    /// How often the whole tree is read again when no notice came, as the FUSE host's TTL.
    /// `None`: [`vfs_core::ChangeNotices::default_ttl`] of the provider.
    pub ttl: Option<Duration>,
}

/// Writes the provider's whole tree into `dir` once (creating `dir` when allowed and missing,
/// refusing a folder that is neither empty nor marked as vfs sync's), then stops the provider.
/// A folder written before is reconciled in one pass. Must be called inside a multi-thread
/// tokio runtime.
pub async fn once(
    provider: Arc<dyn Provider>,
    dir: &Path,
    options: &SyncOptions,
) -> Result<Changes, SyncError> {
    let (folder, engine) =
        start(provider.clone(), dir, options, ChangeNotifier::detached()).await?;
    let written = first_pass(engine, folder, options, Mode::Once).await;
    provider.stop().await;
    written.map(|(changes, _, _)| changes)
}

/// Writes the tree as [`once`] does, then follows the provider's notices (and re-lists it once
/// per TTL) until [`Following::stop`]. `vfs wait DIR` works meanwhile (`.vfs.sock`).
pub async fn follow(
    provider: Arc<dyn Provider>,
    dir: &Path,
    options: &SyncOptions,
) -> Result<Following, SyncError> {
    let (notifier, receiver) = ChangeNotifier::channel();
    // The host's own end, for the barrier's marks and the stop mark, behind the notices.
    let marks = notifier.clone();
    let (folder, engine) = start(provider.clone(), dir, options, notifier).await?;
    let (applied_sender, applied) = watch::channel(0u64);
    let barrier = match barrier::serve(
        &folder.path,
        options.name.clone(),
        provider.clone(),
        marks.clone(),
        applied,
    ) {
        Ok(barrier) => barrier,
        Err(error) => {
            provider.stop().await;
            return Err(error);
        }
    };
    let (changes, engine, folder) = match first_pass(engine, folder, options, Mode::Following).await
    {
        Ok(done) => done,
        Err(error) => {
            barrier.abort();
            provider.stop().await;
            return Err(error);
        }
    };
    tracing::info!(dir = %folder.path.display(), ?changes, "in step; following");
    let relist = options
        .ttl
        .unwrap_or_else(|| provider.change_notices().default_ttl());
    let thread = std::thread::Builder::new()
        .name("vfs-sync".into())
        .spawn(move || follow::follow(engine, receiver, relist, applied_sender))
        .map_err(|error| SyncError::io("cannot start the sync thread", error))?;
    Ok(Following {
        folder: Some(folder),
        provider,
        marks,
        thread: Some(thread),
        barrier,
        options: options.clone(),
    })
}

/// A folder being kept in step; [`Following::stop`] ends it (the folder stays as it is).
pub struct Following {
    folder: Option<Folder>,
    provider: Arc<dyn Provider>,
    marks: ChangeNotifier,
    thread: Option<std::thread::JoinHandle<Engine>>,
    barrier: JoinHandle<()>,
    options: SyncOptions,
}

impl Following {
    /// The canonical path of the folder.
    pub fn dir(&self) -> PathBuf {
        self.folder
            .as_ref()
            .map(|folder| folder.path.clone())
            .unwrap_or_default()
    }

    /// Stops following: the thread ends after its current pass, `vfs wait` is answered no
    /// more, the marker says `stopped`, and the provider stops.
    pub async fn stop(mut self) -> Result<(), SyncError> {
        self.marks.mark(follow::STOP);
        let engine = match self.thread.take() {
            Some(thread) => tokio::task::spawn_blocking(move || thread.join().ok())
                .await
                .ok()
                .flatten(),
            None => None,
        };
        self.barrier.abort();
        let mut outcome = Ok(());
        if let Some(folder) = self.folder.take() {
            let _ = std::fs::remove_file(folder.path.join(entry::SOCKET));
            outcome = folder.write_marker(&marker(&self.options, Mode::Stopped));
            // Both moved the root's time on disk.
            if let (Ok(()), Some(engine)) = (&outcome, &engine) {
                outcome = engine.retime_root();
            }
        }
        self.provider.stop().await;
        outcome
    }
}

fn marker(options: &SyncOptions, mode: Mode) -> Marker {
    Marker {
        provider: options.name.clone(),
        mode: Some(mode),
        contents: options.contents,
    }
}

/// Checks the folder, starts the provider, then creates and locks the folder.
async fn start(
    provider: Arc<dyn Provider>,
    dir: &Path,
    options: &SyncOptions,
    notifier: ChangeNotifier,
) -> Result<(Folder, Engine), SyncError> {
    let dir = std::path::absolute(dir)
        .map_err(|error| SyncError::io(format!("cannot resolve {}", dir.display()), error))?;
    let missing = folder::check(
        provider.as_ref(),
        &dir,
        options.contents,
        options.create_missing,
    )?;
    provider.start(notifier).await?;
    let private =
        options.contents && matches!(provider.copied_contents(), CopiedContents::OwnerOnly { .. });
    let folder = match folder::open(provider.as_ref(), &dir, missing, private, options.contents) {
        Ok(folder) => folder,
        Err(error) => {
            provider.stop().await;
            return Err(error);
        }
    };
    let source = Source {
        provider,
        runtime: tokio::runtime::Handle::current(),
        contents: options.contents,
        excluded: folder.excluded.clone(),
    };
    let engine = Engine::new(source, folder.path.clone());
    Ok((folder, engine))
}

/// The marker (first, so a run killed half-way leaves a folder the next run may take), then
/// one reconciling pass from what the folder holds, then the root's times again (the marker and
/// the socket moved them). On a thread of its own: the pass blocks on file operations.
async fn first_pass(
    mut engine: Engine,
    folder: Folder,
    options: &SyncOptions,
    mode: Mode,
) -> Result<(Changes, Engine, Folder), SyncError> {
    let marker = marker(options, mode);
    let pass = tokio::task::spawn_blocking(move || {
        let outcome = folder
            .write_marker(&marker)
            .and_then(|()| engine.reconcile_from_disk(folder.stale_contents))
            .and_then(|changes| engine.retime_root().map(|()| changes));
        outcome.map(|changes| (changes, engine, folder))
    })
    .await;
    match pass {
        Ok(outcome) => outcome,
        Err(error) => Err(SyncError::io(
            "the first pass failed",
            std::io::Error::other(error.to_string()),
        )),
    }
}
