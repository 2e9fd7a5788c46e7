//! The host calls the command line makes, in one place.

pub use vfs_host::{mount, unmount_path, MountConfig, DEFAULT_TTL};
