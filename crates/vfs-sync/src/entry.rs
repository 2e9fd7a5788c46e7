//! What the folder holds at a path, in the terms the folder can keep: the provider's [`Node`]
//! reduced to kind, symlink target, size and times (make compares nothing else).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::SystemTime;

use vfs_core::{Node, NodeKind, NodePath};

/// Everything known about a folder's content, by path from its root. `NodePath` orders a
/// folder right before everything below it, so a subtree is one contiguous range.
pub(crate) type Tree = BTreeMap<NodePath, Entry>;

/// A size no provider announces: set on files whose bytes are not known to be the ones this run
/// wants (the folder was written with or without `--contents` before), so they are rewritten.
pub(crate) const STALE_SIZE: u64 = u64::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    /// `None`: the provider does not know the size before the content is read.
    File {
        size: Option<u64>,
    },
    Symlink {
        target: OsString,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub kind: Kind,
    pub mtime: SystemTime,
    pub atime: SystemTime,
    /// Permission bits for a file created from this entry (write bits cleared).
    pub perm: u16,
}

impl Entry {
    /// The entry a provider's node asks for. Without `contents` a file is an empty stand-in.
    pub fn from_node(node: &Node, contents: bool) -> Entry {
        let kind = match &node.kind {
            NodeKind::Directory => Kind::Dir,
            NodeKind::File { size } => Kind::File {
                size: if contents { *size } else { Some(0) },
            },
            NodeKind::Symlink { target } => Kind::Symlink {
                target: target.clone(),
            },
        };
        let default_perm = match kind {
            Kind::Dir => 0o755,
            Kind::File { .. } => 0o444,
            Kind::Symlink { .. } => 0o777,
        };
        Entry {
            kind,
            mtime: node.mtime,
            atime: node.atime.unwrap_or(node.mtime),
            // The folder is a copy: its files are not for editing (a rewrite would be lost).
            perm: node.perm.unwrap_or(default_perm) & !0o222,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    /// Same kind, target and size (an unknown wanted size matches any but a stale one): only
    /// the times may differ.
    pub fn same_content(&self, wanted: &Entry) -> bool {
        match (&self.kind, &wanted.kind) {
            (Kind::File { size: have }, Kind::File { size: want }) => match (have, want) {
                (Some(STALE_SIZE), _) => false,
                (_, None) => true,
                (have, want) => have == want,
            },
            (have, want) => have == want,
        }
    }
}

/// Names the host keeps for itself at the root of the folder; a provider entry of that name
/// is shadowed, as the FUSE host shadows its `.vfs`.
pub(crate) const MARKER: &str = ".vfs";
pub(crate) const SOCKET: &str = ".vfs.sock";
/// The prefix of the host's temporary names (an entry being replaced is written under one and
/// renamed over the old one, so a reader sees the old entry or the new one, never neither).
pub(crate) const TEMPORARY_PREFIX: &str = ".vfs-tmp.";

/// Whether a provider's `name` may become a folder entry: not empty, `.` or `..`, no `/` or NUL
/// (any of those would write outside the folder or fail), not one of the host's own names.
pub(crate) fn acceptable_name(parent: &NodePath, name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes != b"."
        && bytes != b".."
        && !bytes.contains(&b'/')
        && !bytes.contains(&0);
    let reserved = parent.is_root() && (name == MARKER || name == SOCKET)
        || bytes.starts_with(TEMPORARY_PREFIX.as_bytes());
    well_formed && !reserved
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn names_that_would_leave_the_folder_or_shadow_the_host_are_refused() {
        let root = NodePath::root();
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\0b",
            ".vfs",
            ".vfs.sock",
            ".vfs-tmp.1",
        ] {
            assert!(!acceptable_name(&root, OsStr::new(bad)), "{bad:?}");
        }
        assert!(acceptable_name(&NodePath::parse("sub"), OsStr::new(".vfs")));
        assert!(acceptable_name(&root, OsStr::new("..a")));
    }

    #[test]
    fn a_stand_in_is_empty_and_read_only_and_an_unknown_size_matches_any_but_stale() {
        let time = UNIX_EPOCH + Duration::new(5, 7);
        let node = Node::file("f", time, Some(10)).with_perm(0o644);
        let stand_in = Entry::from_node(&node, false);
        assert_eq!(stand_in.kind, Kind::File { size: Some(0) });
        assert_eq!(stand_in.perm, 0o444);
        let unknown = Entry::from_node(&Node::file("f", time, None), true);
        let mut have = stand_in.clone();
        have.kind = Kind::File { size: Some(3) };
        assert!(have.same_content(&unknown));
        have.kind = Kind::File {
            size: Some(STALE_SIZE),
        };
        assert!(!have.same_content(&unknown));
    }
}
