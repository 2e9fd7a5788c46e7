//! Keeping the folder equal to the provider's tree: a whole reconciling pass, or the regions
//! a batch of change notices names. Each pass reads the regions from the provider, plans the
//! difference with what the folder holds ([`crate::plan`]) and carries it out.

use std::path::PathBuf;

use vfs_core::{NodePath, Notice, ProviderError, Reach};

use crate::apply::{apply, set_times, Changes};
use crate::entry::Tree;
use crate::fetch::Source;
use crate::plan::plan;
use crate::scan::scan;
use crate::SyncError;

pub(crate) struct Engine {
    pub source: Source,
    pub root: PathBuf,
    /// What the folder holds, as far as this process wrote it.
    state: Tree,
}

impl Engine {
    pub fn new(source: Source, root: PathBuf) -> Engine {
        Engine {
            source,
            root,
            state: Tree::new(),
        }
    }

    /// One pass from what is on disk to the provider's whole tree: a start, a restart over a
    /// folder written before, or the way back after a change that failed half-way.
    pub fn reconcile_from_disk(&mut self, stale_contents: bool) -> Result<Changes, SyncError> {
        self.state = scan(&self.root, stale_contents)?;
        self.reconcile()
    }

    /// One pass from what this process wrote to the provider's whole tree (the re-listing of a
    /// provider whose notices are partial, once per TTL).
    pub fn reconcile(&mut self) -> Result<Changes, SyncError> {
        let (_, want) = self.source.subtree(NodePath::root())?;
        let have = std::mem::take(&mut self.state);
        self.replace_region(have, want, Tree::new())
    }

    /// Sets the root's times again after the host wrote its own entries there (marker, socket).
    pub fn retime_root(&self) -> Result<(), SyncError> {
        match self.state.get(&NodePath::root()) {
            Some(entry) => set_times(&self.root, entry),
            None => Ok(()),
        }
    }

    /// Applies a batch of notices as one plan: every region is read first, then the new and
    /// changed entries of all of them go in before any removal.
    pub fn apply_notices(&mut self, notices: &[Notice]) -> Result<Changes, SyncError> {
        let mut have = Tree::new();
        let mut want = Tree::new();
        for notice in coalesce(notices) {
            if self.source.is_excluded(&notice.path) {
                continue;
            }
            let (old, new) = match notice.reach {
                Reach::Node => self.node_region(&notice.path)?,
                Reach::Subtree => self.subtree_region(notice.path.clone())?,
            };
            have.extend(old);
            want.extend(new);
        }
        if want.is_empty() && have.is_empty() {
            return Ok(Changes::default());
        }
        // What the regions leave out stays as it is.
        let mut rest = std::mem::take(&mut self.state);
        rest.retain(|path, _| !have.contains_key(path) && !want.contains_key(path));
        self.replace_region(have, want, rest)
    }

    /// Plans and applies `have` → `want`; the state becomes `rest` plus `want`.
    fn replace_region(&mut self, have: Tree, want: Tree, rest: Tree) -> Result<Changes, SyncError> {
        let plan = plan(&have, &want);
        let mut state = rest;
        state.extend(want);
        let applied = apply(&self.root, &self.source, &plan, &state);
        // On failure the state is a guess either way; the caller reconciles from the disk.
        self.state = state;
        applied
    }

    /// The subtree at `path` before and after.
    fn subtree_region(&self, path: NodePath) -> Result<(Tree, Tree), ProviderError> {
        let (top, want) = self.source.subtree(path)?;
        Ok((self.state_below(&top), want))
    }

    /// A node notice: the node and the names its folder holds; below a name that stays a
    /// folder nothing is read. Falls back to the subtree when the node is not a folder on
    /// both sides.
    fn node_region(&self, path: &NodePath) -> Result<(Tree, Tree), ProviderError> {
        let was_folder = self.state.get(path).is_some_and(|entry| entry.is_dir());
        let node = match self.source.node_at(path) {
            Ok(Some(node)) if node.is_directory() && was_folder => node,
            Ok(_) | Err(ProviderError::NotFound(_) | ProviderError::NotADirectory(_)) => {
                return self.subtree_region(path.clone())
            }
            Err(error) => return Err(error),
        };
        let mut have = Tree::new();
        let mut want = Tree::new();
        for child in self.source.children(path, &node)? {
            let child_path = path.join(&child.name);
            let stays_a_folder = child.is_directory()
                && self
                    .state
                    .get(&child_path)
                    .is_some_and(|entry| entry.is_dir());
            if stays_a_folder {
                want.insert(
                    child_path,
                    crate::entry::Entry::from_node(&child, self.source.contents),
                );
            } else {
                self.source.walk(child_path, child, &mut want)?;
            }
        }
        want.insert(
            path.clone(),
            crate::entry::Entry::from_node(&node, self.source.contents),
        );
        // Before: the node, its names, and the whole old subtree of every name that does not
        // stay a folder (gone, or turned into a file or a symlink).
        for (old_path, entry) in self.state_below(path) {
            let depth = old_path.len();
            let keep = depth <= path.len() + 1 || {
                let child = NodePath::from_names(&old_path.names()[..path.len() + 1]);
                !(want.get(&child).is_some_and(|entry| entry.is_dir())
                    && self.state.get(&child).is_some_and(|entry| entry.is_dir()))
            };
            if keep {
                have.insert(old_path, entry);
            }
        }
        Ok((have, want))
    }

    fn state_below(&self, top: &NodePath) -> Tree {
        self.state
            .range(top.clone()..)
            .take_while(|(path, _)| path.starts_with(top))
            .map(|(path, entry)| (path.clone(), entry.clone()))
            .collect()
    }
}

/// The notices of a batch without those another one covers (a subtree notice covers every
/// notice at or below its path), first occurrence first.
fn coalesce(notices: &[Notice]) -> Vec<Notice> {
    let subtrees: Vec<&NodePath> = notices
        .iter()
        .filter(|notice| notice.reach == Reach::Subtree)
        .map(|notice| &notice.path)
        .collect();
    let mut kept: Vec<Notice> = Vec::new();
    for notice in notices {
        let covered = subtrees.iter().any(|top| {
            notice.path.starts_with(top) && (notice.reach == Reach::Node || notice.path != **top)
        });
        if !covered && !kept.contains(notice) {
            kept.push(notice.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtree_notice_covers_what_lies_below_it() {
        let notices = [
            Notice::node(NodePath::parse("images")),
            Notice::subtree(NodePath::parse("images/app")),
            Notice::subtree(NodePath::parse("images")),
            Notice::subtree(NodePath::parse("images")),
            Notice::node(NodePath::parse("volumes")),
        ];
        assert_eq!(
            coalesce(&notices),
            [
                Notice::subtree(NodePath::parse("images")),
                Notice::node(NodePath::parse("volumes"))
            ]
        );
    }
}
