//! An example vfs provider.
