//! What the host asks of the kernel's caches, as values: the host decides which operations a
//! notice (or a fresh answer) calls for, and the notices thread performs them, never a request
//! handler (invalidating the kernel from inside a request can deadlock it), but for the one
//! documented exception: an inode's attributes alone, forgotten before the request that
//! changed them is answered (`Host::forget_attributes_now`, and `fuse`'s open).

use std::ffi::{OsStr, OsString};
use std::io;

use crate::fills::Fills;

/// The kernel's caches, as far as the host needs them.
pub(crate) trait KernelCache: Send + 'static {
    /// Forget the attributes and cached data of an inode.
    fn forget_inode(&self, ino: u64) -> io::Result<()>;
    /// Forget only the attributes of an inode: its cached data (a directory's listing, a
    /// symlink's target) stays.
    fn forget_attributes(&self, ino: u64) -> io::Result<()>;
    /// Forget the directory entry `name` in `parent`.
    fn forget_entry(&self, parent: u64, name: &OsStr) -> io::Result<()>;
}

/// One thing the kernel must forget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KernelOp {
    /// An inode's attributes and cached data (a listing, a link target, pages).
    Inode(u64),
    /// An inode's attributes alone (the host learnt something the kernel's copy lacks, such as
    /// a directory's link count once it is listed); its cached data stays.
    Attributes(u64),
    /// The entry `name` in folder `parent`, positive or negative.
    Entry { parent: u64, name: OsString },
}

/// Performs `ops` in order. The kernel refuses what it does not hold (an inode it forgot):
/// that is no error for the host. The data of a folder whose listing the kernel is reading
/// into its cache is dropped once that listing is read (see `fills`); its attributes at once.
pub(crate) fn perform(kernel: &impl KernelCache, ops: &[KernelOp], fills: &Fills) {
    for op in ops {
        let refused = match op {
            KernelOp::Inode(ino) => {
                if fills.drop_now(*ino) {
                    let dropped = kernel.forget_inode(*ino);
                    fills.dropped(*ino);
                    dropped
                } else {
                    tracing::debug!(
                        ino,
                        "folder being read: its data is dropped at the end of its listing"
                    );
                    kernel.forget_attributes(*ino)
                }
            }
            KernelOp::Attributes(ino) => kernel.forget_attributes(*ino),
            KernelOp::Entry { parent, name } => kernel.forget_entry(*parent, name),
        };
        if let Err(error) = refused {
            tracing::debug!(?op, "the kernel refused an invalidation: {error}");
        }
    }
}
