//! What `stat` shows for a provider's node: the host's rules for owner, permissions, link
//! counts and times, kept free of FUSE types so they can be tested directly.

use std::time::SystemTime;

use vfs_core::{Node, NodeKind};

/// The kind of an entry as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Directory,
    File,
    Symlink,
}

impl EntryKind {
    pub(crate) fn of(node: &Node) -> EntryKind {
        match node.kind {
            NodeKind::Directory => EntryKind::Directory,
            NodeKind::File { .. } => EntryKind::File,
            NodeKind::Symlink { .. } => EntryKind::Symlink,
        }
    }
}

/// The user and group every entry belongs to: whoever mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl Owner {
    pub(crate) fn mounting_user() -> Owner {
        // SAFETY: getuid and getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Owner { uid, gid }
    }
}

/// The attributes of one entry, as `stat` reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attributes {
    pub(crate) ino: u64,
    pub(crate) kind: EntryKind,
    pub(crate) size: u64,
    /// Permission bits only (no file type bits); write bits are always clear.
    pub(crate) perm: u16,
    pub(crate) nlink: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: SystemTime,
    pub(crate) ctime: SystemTime,
    pub(crate) atime: SystemTime,
}

const WRITE_BITS: u16 = 0o222;
pub(crate) const BLOCK_SIZE: u32 = 4096;

/// What the host knows besides the node itself.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Known {
    /// Subdirectories of this directory, when its listing is at hand.
    pub(crate) subdirectories: Option<u32>,
    /// The true size of a file whose node says "unknown", learnt by reading it.
    pub(crate) size: Option<u64>,
}

pub(crate) fn attributes(node: &Node, ino: u64, owner: Owner, known: Known) -> Attributes {
    let kind = EntryKind::of(node);
    let (default_perm, size, nlink) = match &node.kind {
        NodeKind::Directory => (0o555, 0, 2 + known.subdirectories.unwrap_or(0)),
        NodeKind::File { size } => (0o444, size.or(known.size).unwrap_or(0), 1),
        NodeKind::Symlink { target } => (0o777, target.len() as u64, 1),
    };
    // A symlink's bits mean nothing (lrwxrwxrwx is what ls expects); all else is read-only.
    let perm = match kind {
        EntryKind::Symlink => default_perm,
        _ => node.perm.unwrap_or(default_perm) & 0o7777 & !WRITE_BITS,
    };
    Attributes {
        ino,
        kind,
        size,
        perm,
        nlink,
        uid: owner.uid,
        gid: owner.gid,
        mtime: node.mtime,
        ctime: node.ctime.unwrap_or(node.mtime),
        atime: node.atime.unwrap_or(node.mtime),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const OWNER: Owner = Owner {
        uid: 1000,
        gid: 100,
    };

    fn at(seconds: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos)
    }

    #[test]
    fn defaults_are_read_only_and_times_follow_mtime() {
        let file = attributes(
            &Node::file("f", at(10, 123_456_789), Some(42)),
            7,
            OWNER,
            Known::default(),
        );
        assert_eq!(
            (file.ino, file.size, file.perm, file.nlink),
            (7, 42, 0o444, 1)
        );
        assert_eq!((file.uid, file.gid), (1000, 100));
        assert_eq!(file.mtime, at(10, 123_456_789));
        assert_eq!(file.ctime, file.mtime);
        assert_eq!(file.atime, file.mtime);

        let dir = attributes(&Node::directory("d", at(1, 0)), 2, OWNER, Known::default());
        assert_eq!(
            (dir.kind, dir.perm, dir.nlink),
            (EntryKind::Directory, 0o555, 2)
        );

        let link = attributes(
            &Node::symlink("l", at(1, 0), "../target"),
            3,
            OWNER,
            Known::default(),
        );
        assert_eq!(
            (link.kind, link.perm, link.size),
            (EntryKind::Symlink, 0o777, 9)
        );
    }

    #[test]
    fn write_bits_are_cleared_and_explicit_times_kept() {
        let node = Node::file("f", at(5, 0), None)
            .with_perm(0o764)
            .with_ctime(at(6, 1))
            .with_atime(at(7, 2));
        let attrs = attributes(&node, 9, OWNER, Known::default());
        assert_eq!(attrs.perm, 0o544);
        assert_eq!(attrs.ctime, at(6, 1));
        assert_eq!(attrs.atime, at(7, 2));
    }

    #[test]
    fn known_facts_fill_link_counts_and_unknown_sizes() {
        let dir = attributes(
            &Node::directory("d", at(1, 0)),
            2,
            OWNER,
            Known {
                subdirectories: Some(3),
                size: None,
            },
        );
        assert_eq!(dir.nlink, 5);
        let unknown = Node::file("f", at(1, 0), None);
        assert_eq!(attributes(&unknown, 3, OWNER, Known::default()).size, 0);
        let learnt = Known {
            subdirectories: None,
            size: Some(77),
        };
        assert_eq!(attributes(&unknown, 3, OWNER, learnt).size, 77);
        let sized = Node::file("f", at(1, 0), Some(5));
        assert_eq!(attributes(&sized, 3, OWNER, learnt).size, 5);
    }
}
