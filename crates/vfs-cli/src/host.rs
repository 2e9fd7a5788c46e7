//! The host calls the command line makes, in one place.

pub use vfs_host::{
    mount, unmount_path, HostError, MountConfig, COMPLETE_NOTICES_TTL, DEFAULT_TTL,
};
