//! The FUSE host of vfs: mounts a [`vfs_core::Provider`] read-only.
//!
//! The host owns everything the kernel needs and providers never see: inode numbers (never
//! reused; a path keeps its number while the kernel holds it or a listing has it), a cache of
//! listings and attributes with a time-to-live and drop-on-notice, open file and directory
//! handles, and the kernel's own caches.
//!
//! The pieces:
//! - [`mount()`] / [`Mounted`] / [`unmount_path`]: the entry points.
//! - [`mounted_at`], [`MountEntry`]: the mount table, re-exported from `vfs-mounts` (what is
//!   mounted where, and whether it is a vfs mount).
//! - `host`: the FUSE-free core answering by inode number, built from `inodes`, `cache`,
//!   `attrs` and `handles`, one module per kind of request (`host/*`); tested without mounting.
//!   It decides what the kernel must forget (`kernel::KernelOp`) but never tells it itself.
//! - `fuse`: the thin fuser glue; a request whose host call pends runs as a tokio task
//!   (`inline`: one that is ready at its first poll is answered on the FUSE thread).
//! - `notices`: the one thread that has the host apply the provider's notices and performs the
//!   kernel operations that returns.

mod attrs;
mod cache;
mod error;
mod fills;
mod fuse;
mod handles;
mod host;
mod inline;
mod inodes;
mod kernel;
mod mount;
mod mountpoint;
mod notices;
mod unmount;

#[cfg(test)]
mod tests;

use std::time::Duration;

use vfs_core::ChangeNotices;

pub use error::HostError;
pub use mount::{mount, Mounted};
pub use mountpoint::{check_mountpoint, Mountpoint, MountpointError};
pub use unmount::unmount_path;
pub use vfs_mounts::{mount_table_path, mounted_at, MountEntry};

/// Default kernel entry/attribute TTL: short enough that `make` sees a change within a second
/// even when the provider sends no notice.
pub const DEFAULT_TTL: Duration = ChangeNotices::PARTIAL_TTL;

/// Default TTL of a provider whose change notices are complete: its answers stand until a
/// notice. Still bounded, so that a notice lost to a bug costs minutes, not the mount's life;
/// long enough that make runs minutes apart ask the provider (and the kernel asks the host)
/// nothing.
pub const COMPLETE_NOTICES_TTL: Duration = ChangeNotices::COMPLETE_TTL;

/// The TTL a mount gets when the user chose none, from how completely its provider announces
/// changes.
pub fn default_ttl(notices: ChangeNotices) -> Duration {
    notices.default_ttl()
}

#[cfg(target_os = "linux")]
pub(crate) const FUSE_DEVICE: &str = "/dev/fuse";

/// Whether `/dev/fuse` is a character device: a container may lack it, or hide it behind an
/// empty file (a bind mount), and mounting would then fail with an obscure errno.
#[cfg(target_os = "linux")]
pub(crate) fn fuse_device_present() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(FUSE_DEVICE).is_ok_and(|metadata| metadata.file_type().is_char_device())
}

/// Elsewhere (macOS: macFUSE opens `/dev/macfuse*` itself) the device is not checked: the
/// mount's own error tells.
#[cfg(not(target_os = "linux"))]
pub(crate) fn fuse_device_present() -> bool {
    true
}

/// How to mount.
#[derive(Clone, Debug)]
pub struct MountConfig {
    /// Kernel entry/attribute TTL; also how long the host trusts its own cached listings/attrs
    /// when no change notice arrives. `None`: [`default_ttl`] of the provider's
    /// [`ChangeNotices`] (500 ms, so make sees a change within 1 s without a notice; 10 min for
    /// a provider that announces every change).
    pub ttl: Option<Duration>,
    /// Mount with allow_other (off by default: the mount is private to the mounting user).
    pub allow_other: bool,
    /// The source name shown in /proc/mounts (fsname), e.g. "vfs-docker"; subtype "vfs".
    /// Keep it `vfs` or `vfs-…`: a mount made as root loses its subtype (its type reads `fuse`),
    /// and then [`unmount_path`] knows the mount for its own by this name alone.
    pub fs_name: String,
}

impl Default for MountConfig {
    fn default() -> Self {
        MountConfig {
            ttl: None,
            allow_other: false,
            fs_name: "vfs".into(),
        }
    }
}
