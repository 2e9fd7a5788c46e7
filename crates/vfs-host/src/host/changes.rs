//! What a change notice does to the host's tables, and what the kernel must forget for it.

use std::ffi::OsString;
use std::time::Instant;

use vfs_core::NodePath;

use crate::attrs::EntryKind;

use super::{Host, KernelTarget};

impl Host {
    /// Drops what the host cached at and below `path`; returns what the kernel must forget.
    pub(crate) fn invalidate(&self, path: &NodePath) -> Vec<KernelTarget> {
        let mut tables = self.tables();
        tables.cache.invalidate(path);
        let known = tables.inodes.at_or_below(path);
        known
            .into_iter()
            .map(|(ino, known_path)| KernelTarget {
                ino,
                entry: known_path.parent().and_then(|parent| {
                    let parent_ino = tables.inodes.get(&parent, EntryKind::Directory)?;
                    Some((parent_ino, known_path.name()?.to_os_string()))
                }),
            })
            .collect()
    }

    /// What the kernel must forget after a notice for the node at `path` alone: the inode
    /// numbers of the path (attributes and cached data, not the entry naming it), and the
    /// missing names it was told of directly in it (a name may have appeared). Entries and
    /// listings further below stay.
    pub(crate) fn invalidate_node(
        &self,
        path: &NodePath,
    ) -> (Vec<KernelTarget>, Vec<(u64, OsString)>) {
        let tables = &mut *self.tables();
        tables.cache.invalidate_node(path);
        let targets = tables
            .inodes
            .numbers_at(path)
            .into_iter()
            .map(|ino| KernelTarget { ino, entry: None })
            .collect();
        let missing = match tables.inodes.get(path, EntryKind::Directory) {
            Some(folder) => tables.negatives.take_children(folder, Instant::now()),
            None => Vec::new(),
        };
        (targets, missing)
    }

    /// The missing names the kernel was told of at or below `path` (negative entries), as
    /// (parent inode, name): after a notice for `path` it must forget them.
    pub(crate) fn forget_missing(&self, path: &NodePath) -> Vec<(u64, OsString)> {
        let tables = &mut *self.tables();
        tables
            .negatives
            .take_below(path, &tables.inodes, Instant::now())
    }
}
