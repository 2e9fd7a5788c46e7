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

mod error;
mod node;
mod notify;
mod path;
mod provider;
mod registry;
mod walk;

pub use error::ProviderError;
pub use node::{Content, Node, NodeKind};
pub use notify::{ChangeNotifier, ChangeReceiver, Notice, Reach, Received};
pub use path::NodePath;
pub use provider::{ChangeNotices, CopiedContents, Provider};
pub use registry::{find_registration, registrations, BuildError, Built, ProviderRegistration};
pub use walk::{walk, WalkEntry};

/// Re-exported so that provider crates use the same versions as the host.
pub use async_trait::async_trait;
pub use clap;
pub use inventory;
