//! The smallest set of folder changes that turns one version of a part of the tree into
//! another, in an order that never shows a reader (a concurrent `make`) a half-applied state:
//! new and changed entries first (parents before children), replacements by rename, removals
//! last (children before parents), and folder times after everything in them.

use std::collections::BTreeSet;

use vfs_core::NodePath;

use crate::entry::{Entry, Tree};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// A new entry; a folder comes before anything in it.
    Create(NodePath, Entry),
    /// A file or symlink whose size or target changed (or that turns from one into the other):
    /// written under a temporary name and renamed over the old one, so the name never vanishes.
    Replace(NodePath, Entry),
    /// Only the times of a file or symlink changed.
    Retime(NodePath, Entry),
    /// An entry that left; everything below a folder goes first.
    Remove(NodePath),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub ops: Vec<Op>,
    /// Folders whose times are set once `ops` ran, children before parents: the wanted time
    /// changed, or an entry was created, renamed or removed in them (which moves a folder's
    /// time on disk). Some may lie outside the region (the parent of its top).
    pub folders: Vec<NodePath>,
}

#[cfg(test)]
impl Plan {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.folders.is_empty()
    }
}

/// The plan turning `have` into `want`: both hold the same region of the tree (every path of
/// the region that exists on that side), so a path in `have` alone left and one in `want` alone
/// is new.
pub(crate) fn plan(have: &Tree, want: &Tree) -> Plan {
    // A folder that turns into a file or back cannot be renamed over: its old subtree goes,
    // then the new one comes. Everything at and below such a path is handled there.
    let swapped: Vec<&NodePath> = want
        .iter()
        .filter(|(path, wanted)| {
            have.get(*path)
                .is_some_and(|old| old.is_dir() != wanted.is_dir())
        })
        .map(|(path, _)| path)
        .collect();
    let in_swap = |path: &NodePath| swapped.iter().any(|top| path.starts_with(top));

    let mut ops = Vec::new();
    let mut folders = BTreeSet::new();
    let touched = |path: &NodePath, folders: &mut BTreeSet<NodePath>| {
        if let Some(parent) = path.parent() {
            folders.insert(parent);
        }
    };
    for (path, wanted) in want {
        if in_swap(path) {
            continue;
        }
        match have.get(path) {
            None => {
                ops.push(Op::Create(path.clone(), wanted.clone()));
                touched(path, &mut folders);
                if wanted.is_dir() {
                    folders.insert(path.clone());
                }
            }
            Some(old) if wanted.is_dir() => {
                if old.mtime != wanted.mtime {
                    folders.insert(path.clone());
                }
            }
            Some(old) if !old.same_content(wanted) => {
                ops.push(Op::Replace(path.clone(), wanted.clone()));
                touched(path, &mut folders);
            }
            Some(old) if old.mtime != wanted.mtime => {
                ops.push(Op::Retime(path.clone(), wanted.clone()));
            }
            Some(_) => {}
        }
    }
    for top in &swapped {
        if swapped
            .iter()
            .any(|other| other != top && top.starts_with(other))
        {
            continue;
        }
        for (path, _) in have.range((*top).clone()..).rev() {
            if path.starts_with(top) {
                ops.push(Op::Remove(path.clone()));
            }
        }
        touched(top, &mut folders);
        for (path, wanted) in want.range((*top).clone()..) {
            if !path.starts_with(top) {
                break;
            }
            ops.push(Op::Create(path.clone(), wanted.clone()));
            if wanted.is_dir() {
                folders.insert(path.clone());
            }
        }
    }
    for (path, _) in have.iter().rev() {
        if !want.contains_key(path) && !in_swap(path) {
            ops.push(Op::Remove(path.clone()));
            touched(path, &mut folders);
        }
    }
    Plan {
        ops,
        // Reverse path order puts every folder before its ancestors.
        folders: folders.into_iter().rev().collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use vfs_core::Node;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn tree(nodes: &[(&str, Node)]) -> Tree {
        nodes
            .iter()
            .map(|(path, node)| (NodePath::parse(path), Entry::from_node(node, false)))
            .collect()
    }

    fn names(plan: &Plan) -> Vec<String> {
        plan.ops
            .iter()
            .map(|op| match op {
                Op::Create(path, _) => format!("create {path}"),
                Op::Replace(path, _) => format!("replace {path}"),
                Op::Retime(path, _) => format!("retime {path}"),
                Op::Remove(path) => format!("remove {path}"),
            })
            .collect()
    }

    #[test]
    fn a_moved_tag_is_relinked_new_entries_come_before_removals_and_folders_last() {
        let have = tree(&[
            ("", Node::directory("", at(1))),
            ("images", Node::directory("images", at(1))),
            ("images/old", Node::file("old", at(1), None)),
            ("images/tag", Node::symlink("tag", at(1), "old")),
        ]);
        let want = tree(&[
            ("", Node::directory("", at(1))),
            ("images", Node::directory("images", at(2))),
            ("images/new", Node::file("new", at(2), None)),
            ("images/tag", Node::symlink("tag", at(2), "new")),
        ]);
        let plan = plan(&have, &want);
        assert_eq!(
            names(&plan),
            [
                "create /images/new",
                "replace /images/tag",
                "remove /images/old"
            ]
        );
        assert_eq!(plan.folders, [NodePath::parse("images")]);
    }

    #[test]
    fn a_folder_turning_into_a_file_goes_child_first_then_comes_back_as_a_file() {
        let have = tree(&[
            ("", Node::directory("", at(1))),
            ("x", Node::directory("x", at(1))),
            ("x/a", Node::directory("a", at(1))),
            ("x/a/b", Node::file("b", at(1), None)),
            ("y", Node::file("y", at(1), None)),
        ]);
        let want = tree(&[
            ("", Node::directory("", at(1))),
            ("x", Node::file("x", at(3), None)),
            ("y", Node::file("y", at(4), None)),
        ]);
        let plan = plan(&have, &want);
        assert_eq!(
            names(&plan),
            [
                "retime /y",
                "remove /x/a/b",
                "remove /x/a",
                "remove /x",
                "create /x"
            ]
        );
        assert_eq!(plan.folders, [NodePath::root()]);
    }

    #[test]
    fn nothing_changed_is_an_empty_plan_and_folder_times_go_children_first() {
        let same = tree(&[
            ("", Node::directory("", at(1))),
            ("a", Node::directory("a", at(1))),
        ]);
        assert!(plan(&same, &same).is_empty());
        let want = tree(&[
            ("", Node::directory("", at(2))),
            ("a", Node::directory("a", at(2))),
            ("a/b", Node::directory("b", at(2))),
        ]);
        let plan = plan(&same, &want);
        assert_eq!(names(&plan), ["create /a/b"]);
        let folders: Vec<String> = plan.folders.iter().map(ToString::to_string).collect();
        assert_eq!(folders, ["/a/b", "/a", "/"]);
    }
}
