//! The host calls the command line makes, in one place.

pub use vfs_host::{mount, unmount_path, HostError, MountConfig, DEFAULT_TTL};
