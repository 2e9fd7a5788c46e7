//! A change notice as one step of the host: what it drops from the host's tables and what the
//! kernel must forget for it, decided under one lock. The notices thread only performs the
//! kernel operations a step returns.

use std::time::Instant;

use vfs_core::{NodePath, Notice, Reach};

use crate::attrs::EntryKind;
use crate::kernel::KernelOp;

use super::{forget_number, Host, Tables};

impl Host {
    /// One step of the notices thread: the kernel operations requests left since the last
    /// step, then, for each notice of the burst not covered by another ([`coalesce`]), what the
    /// host drops and what the kernel must forget, all decided under one tables lock.
    pub(crate) fn apply_notices(&self, notices: Vec<Notice>) -> Vec<KernelOp> {
        let mut ops = std::mem::take(&mut *self.pending.lock());
        if notices.is_empty() {
            return ops;
        }
        let mut tables = self.tables();
        let now = Instant::now();
        let one_by_one = self.provider.prefers_lookup();
        for notice in coalesce(notices) {
            let before = ops.len();
            match notice.reach {
                Reach::Subtree => drop_subtree(&mut tables, &notice.path, now, &mut ops),
                Reach::Node => drop_node(&mut tables, &notice.path, now, &mut ops),
            }
            tracing::debug!(%notice, operations = ops.len() - before, "change notice");
            if one_by_one {
                // Its names may never be listed again: those the kernel let go of go now if
                // the notice took the host's entry of them.
                let candidates = match notice.reach {
                    Reach::Subtree => tables.inodes.at_or_below(&notice.path),
                    Reach::Node => tables.inodes.children_of(&notice.path),
                };
                tables.drop_gone(candidates, one_by_one, now);
            }
        }
        ops
    }

    /// The host as a notice for `path` and everything below it leaves it; returns what the
    /// kernel must forget.
    #[cfg(test)]
    pub(crate) fn invalidate(&self, path: &NodePath) -> Vec<KernelOp> {
        self.apply_notices(vec![Notice::subtree(path.clone())])
    }
}

/// A notice for `path` and everything below it: the host forgets its listings and learnt sizes
/// there; the kernel forgets every number at or below `path` with the entry naming it, and the
/// missing names it was told of there.
fn drop_subtree(tables: &mut Tables, path: &NodePath, now: Instant, ops: &mut Vec<KernelOp>) {
    tables.cache.invalidate(path);
    for (ino, known_path, _) in tables.inodes.at_or_below(path) {
        let entry = known_path.parent().and_then(|parent| {
            let parent_ino = tables.inodes.get(&parent, EntryKind::Directory)?;
            Some((parent_ino, known_path.name()?.to_os_string()))
        });
        forget_number(ino, entry, ops);
    }
    let missing = tables.negatives.take_below(path, &tables.inodes, now);
    ops.extend(
        missing
            .into_iter()
            .map(|(parent, name)| KernelOp::Entry { parent, name }),
    );
    // The folder holding `path` may have gained or lost it. Without handles no opendir
    // compares the kernel's listing of it with the host's (see `listed`): it goes now.
    if tables.listed.without_handles {
        let holder = path
            .parent()
            .and_then(|parent| tables.inodes.get(&parent, EntryKind::Directory));
        ops.extend(holder.map(KernelOp::Inode));
    }
}

/// A notice for the node at `path` alone: the kernel forgets the numbers of the path
/// (attributes and cached data, not the entry naming it) and the missing names it was told of
/// directly in it (a name may have appeared). Entries and listings further below stay.
fn drop_node(tables: &mut Tables, path: &NodePath, now: Instant, ops: &mut Vec<KernelOp>) {
    tables.cache.invalidate_node(path);
    ops.extend(
        tables
            .inodes
            .numbers_at(path)
            .into_iter()
            .map(KernelOp::Inode),
    );
    if let Some(folder) = tables.inodes.get(path, EntryKind::Directory) {
        let missing = tables.negatives.take_children(folder, now);
        ops.extend(
            missing
                .into_iter()
                .map(|(parent, name)| KernelOp::Entry { parent, name }),
        );
    }
}

/// A burst of notices reduced to those not already covered by another one: a subtree notice
/// covers every notice at or below its path; a node notice covers only its own duplicates.
pub(crate) fn coalesce(notices: Vec<Notice>) -> Vec<Notice> {
    let mut subtrees: Vec<NodePath> = notices
        .iter()
        .filter(|notice| notice.reach == Reach::Subtree)
        .map(|notice| notice.path.clone())
        .collect();
    // Sorted, every path comes right after the paths it lies below.
    subtrees.sort();
    let mut kept: Vec<NodePath> = Vec::with_capacity(subtrees.len());
    for path in subtrees {
        if !kept.iter().any(|covering| path.starts_with(covering)) {
            kept.push(path);
        }
    }
    let mut nodes: Vec<NodePath> = notices
        .into_iter()
        .filter(|notice| notice.reach == Reach::Node)
        .map(|notice| notice.path)
        .filter(|path| !kept.iter().any(|covering| path.starts_with(covering)))
        .collect();
    nodes.sort();
    nodes.dedup();
    kept.into_iter()
        .map(Notice::subtree)
        .chain(nodes.into_iter().map(Notice::node))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subtree(text: &str) -> Notice {
        Notice::subtree(NodePath::parse(text))
    }

    fn node(text: &str) -> Notice {
        Notice::node(NodePath::parse(text))
    }

    #[test]
    fn bursts_collapse_to_the_covering_paths() {
        let notices = ["a/b", "a", "c/d", "c/e", "a/b/c", "ab"]
            .iter()
            .map(|text| subtree(text))
            .collect();
        let kept: Vec<String> = coalesce(notices).iter().map(ToString::to_string).collect();
        assert_eq!(
            kept,
            [
                "/a and below",
                "/ab and below",
                "/c/d and below",
                "/c/e and below"
            ]
        );
        assert_eq!(coalesce(vec![subtree("x"), subtree("")]), vec![subtree("")]);
    }

    #[test]
    fn node_notices_are_kept_unless_a_subtree_notice_covers_them() {
        let kept = coalesce(vec![
            node("images"),
            node("images"),
            node(""),
            subtree("containers"),
            node("containers/web"),
            node("containers"),
            subtree("images/app"),
        ]);
        let kept: Vec<String> = kept.iter().map(ToString::to_string).collect();
        assert_eq!(
            kept,
            [
                "/containers and below",
                "/images/app and below",
                "/ alone",
                "/images alone"
            ]
        );
    }
}
