//! The provider side of vfs: what a virtual filesystem plugin implements.
//!
//! A provider produces a tree of timestamped [`Node`]s addressed by [`NodePath`]. It knows
//! nothing of FUSE, inode numbers or kernel caches: the host (`vfs-host`) owns all of that.
//! Because of that boundary a provider can be tested by calling its methods directly, or by
//! walking it with [`walk`].
//!
//! The pieces:
//! - [`Provider`]: the trait (listing, reading, optional start/stop).
//! - [`Node`], [`NodeKind`], [`Content`]: what a provider hands back.
//! - [`ChangeNotifier`]: how a provider tells the host that part of its tree changed, and
//!   [`ChangeNotices`]: whether it tells of every change (which sets the host's default TTL).
//! - [`CopiedContents`]: whether a file's bytes may be copied into a plain folder (`vfs sync
//!   --contents`), where its permissions decide who reads them.
//! - [`ProviderRegistration`] and [`register_provider!`]: how a provider makes itself known to
//!   the `vfs` command line through `inventory`.
//! - [`Snapshot`] and [`diff`]: a whole tree at one moment, and the notices between two of
//!   them; [`Poller`]: notices for a source without events (read it on an interval, compare).
//! - [`walk`] and [`walk_started`]: the tree as the host would see it, for tests and tools.
//! - [`MapProvider`] (needs the feature `test-util`, see there): a provider whose tree is a map
//!   a test changes, for tests.
//!
//! Providers log with [`tracing`] (re-exported: `vfs_core::tracing::warn!(…)`); the command
//! line sends it to stderr, a file or the system log, filtered by `-v`/`-q` and `RUST_LOG`.
//!
//! The host calls a provider from the tasks of a multi-thread tokio runtime with its I/O and
//! time drivers enabled (`Builder::new_multi_thread().enable_all()`), so `tokio::spawn`,
//! `tokio::time` and tokio's sockets work in every method, `start` included (enable the tokio
//! features you use in your own `Cargo.toml`: features add up). A method may block briefly (a small file
//! read, a short lock), but a call that waits on the network or a big folder should be async,
//! or go to `tokio::task::spawn_blocking`: a blocked method holds a worker thread, and there are
//! as many as cores.

mod error;
// In the rustdoc always (so that `cargo doc -p vfs-core` shows it to every reader), in code
// only with the feature.
#[cfg(any(feature = "test-util", doc))]
mod map;
mod node;
mod notify;
mod path;
mod poll;
mod provider;
mod registry;
mod snapshot;
mod walk;

pub use error::ProviderError;
#[cfg(any(feature = "test-util", doc))]
pub use map::{Calls, MapProvider};
pub use node::{Content, Node, NodeKind};
pub use notify::{ChangeNotifier, ChangeReceiver, Notice, Reach, Received};
pub use path::NodePath;
pub use poll::Poller;
pub use provider::{ChangeNotices, CopiedContents, Provider};
pub use registry::{
    find_registration, registrations, BuildError, Built, ProviderRegistration, MOUNTPOINT_ARG,
};
pub use snapshot::{diff, Snapshot};
pub use walk::{walk, walk_started, WalkEntry};

/// Re-exported so that provider crates use the same versions as the host.
pub use async_trait::async_trait;
pub use clap;
pub use inventory;
pub use tracing;
