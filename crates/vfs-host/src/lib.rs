//! The FUSE host of vfs
