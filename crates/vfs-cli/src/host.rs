//! The host calls the command line makes, in one place.

pub use vfs_host::{
    check_mountpoint, mount, unmount_path, HostError, MountConfig, MountpointError,
    COMPLETE_NOTICES_TTL, DEFAULT_TTL,
};
