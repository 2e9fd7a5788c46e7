//! Inode numbers for paths, per kind, and how many lookups of each the kernel holds.
//!
//! The rule (docs/architecture.md): a number is never given to another path or kind, and never
//! given again once dropped (numbers only grow). A path keeps its number while the kernel
//! holds it (every entry handed over by LOOKUP or READDIRPLUS is one lookup, FORGET gives them
//! back) or while the host's listing of its folder still has it. A number the kernel let go of
//! goes when the host learns the name is gone (the folder's listing lacks it, at FORGET or when
//! a new listing is stored; for a provider asked one name at a time, also when a notice took
//! the host's looked-up entry of it: `host/forget`), or, at FORGET, when its folder has no number
//! any more (the kernel let go of the folder first), and the numbers below a folder go with it;
//! the path gets a new number if it comes back. A path that changes kind (a YAML file turning from folder into
//! plain file) gets another number: the kernel marks an inode bad when its number comes back
//! with another file type.
//!
//! Paths are indexed by parent, so what is at or below a path costs its subtree.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::sync::Arc;

use vfs_core::NodePath;

use crate::attrs::EntryKind;

pub(crate) const ROOT_INO: u64 = 1;

/// A path the table knows: the numbers it has had, one per kind, the kind it was last seen
/// with, and the names below it that the table knows.
#[derive(Debug)]
struct Record {
    directory: Option<u64>,
    file: Option<u64>,
    symlink: Option<u64>,
    current: EntryKind,
    children: HashSet<OsString>,
}

impl Record {
    fn new(current: EntryKind) -> Record {
        Record {
            directory: None,
            file: None,
            symlink: None,
            current,
            children: HashSet::new(),
        }
    }

    fn slot(&mut self, kind: EntryKind) -> &mut Option<u64> {
        match kind {
            EntryKind::Directory => &mut self.directory,
            EntryKind::File => &mut self.file,
            EntryKind::Symlink => &mut self.symlink,
        }
    }

    fn number(&self, kind: EntryKind) -> Option<u64> {
        match kind {
            EntryKind::Directory => self.directory,
            EntryKind::File => self.file,
            EntryKind::Symlink => self.symlink,
        }
    }

    fn all(&self) -> impl Iterator<Item = u64> {
        [self.directory, self.file, self.symlink]
            .into_iter()
            .flatten()
    }

    /// Neither a number nor a known name below: nothing to keep.
    fn is_empty(&self) -> bool {
        self.all().next().is_none() && self.children.is_empty()
    }
}

/// What a number stands for, and how many lookups of it the kernel holds.
#[derive(Debug)]
struct Number {
    path: Arc<NodePath>,
    kind: EntryKind,
    lookups: u64,
}

/// The number a path got, and the number of the kind it had before when its kind just changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Assigned {
    pub(crate) ino: u64,
    /// The kernel may still hold this one under the path's name: it must be told to forget it.
    pub(crate) superseded: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct InodeTable {
    paths: HashMap<Arc<NodePath>, Record>,
    numbers: HashMap<u64, Number>,
    next: u64,
}

impl Default for InodeTable {
    fn default() -> Self {
        let root = Arc::new(NodePath::root());
        let mut record = Record::new(EntryKind::Directory);
        record.directory = Some(ROOT_INO);
        InodeTable {
            paths: HashMap::from([(root.clone(), record)]),
            numbers: HashMap::from([(
                ROOT_INO,
                Number {
                    path: root,
                    kind: EntryKind::Directory,
                    lookups: 0,
                },
            )]),
            next: ROOT_INO + 1,
        }
    }
}

impl InodeTable {
    /// The inode of `path` as a `kind`, numbering it on first sight.
    pub(crate) fn assign(&mut self, path: &NodePath, kind: EntryKind) -> Assigned {
        let path = self.record_for(path, kind);
        let Some(record) = self.paths.get_mut(&path) else {
            unreachable!("record_for keeps the record");
        };
        let superseded = if record.current == kind {
            None
        } else {
            record.number(record.current)
        };
        record.current = kind;
        let ino = match record.number(kind) {
            Some(ino) => ino,
            None => {
                let ino = self.next;
                self.next += 1;
                *record.slot(kind) = Some(ino);
                self.numbers.insert(
                    ino,
                    Number {
                        path: path.clone(),
                        kind,
                        lookups: 0,
                    },
                );
                ino
            }
        };
        Assigned { ino, superseded }
    }

    /// The table's own copy of `path`, recorded (with the folders above it) if it was not.
    fn record_for(&mut self, path: &NodePath, kind: EntryKind) -> Arc<NodePath> {
        if let Some((known, _)) = self.paths.get_key_value(path) {
            return known.clone();
        }
        if let (Some(parent), Some(name)) = (path.parent(), path.name()) {
            let parent = self.record_for(&parent, EntryKind::Directory);
            if let Some(record) = self.paths.get_mut(&parent) {
                record.children.insert(name.to_os_string());
            }
        }
        let path = Arc::new(path.clone());
        self.paths.insert(path.clone(), Record::new(kind));
        path
    }

    /// The number `path` has as a `kind`, if it has one.
    pub(crate) fn get(&self, path: &NodePath, kind: EntryKind) -> Option<u64> {
        self.paths.get(path)?.number(kind)
    }

    pub(crate) fn path(&self, ino: u64) -> Option<Arc<NodePath>> {
        self.numbers.get(&ino).map(|number| number.path.clone())
    }

    /// The path and the kind an inode number stands for.
    pub(crate) fn entry(&self, ino: u64) -> Option<(Arc<NodePath>, EntryKind)> {
        self.numbers
            .get(&ino)
            .map(|number| (number.path.clone(), number.kind))
    }

    /// How many numbers the table holds.
    pub(crate) fn len(&self) -> usize {
        self.numbers.len()
    }

    /// How many paths the table knows (with a number, or with a known name below).
    #[cfg(test)]
    pub(crate) fn paths(&self) -> usize {
        self.paths.len()
    }

    /// The kernel was handed `ino` once more (a LOOKUP or READDIRPLUS entry).
    pub(crate) fn looked_up(&mut self, ino: u64) {
        if let Some(number) = self.numbers.get_mut(&ino) {
            number.lookups += 1;
        }
    }

    /// How many lookups of `ino` the kernel holds.
    pub(crate) fn lookups(&self, ino: u64) -> Option<u64> {
        self.numbers.get(&ino).map(|number| number.lookups)
    }

    /// The kernel let go of `count` lookups of `ino` (FORGET). When it holds none any more,
    /// returns the path and kind the number stands for: the host decides whether it goes
    /// ([`InodeTable::drop_number`]). The root's number never goes.
    pub(crate) fn forget(&mut self, ino: u64, count: u64) -> Option<(Arc<NodePath>, EntryKind)> {
        let number = self.numbers.get_mut(&ino)?;
        number.lookups = number.lookups.saturating_sub(count);
        (number.lookups == 0 && ino != ROOT_INO).then(|| (number.path.clone(), number.kind))
    }

    /// Drops `ino`, and, for a folder, every number below it the kernel does not hold (it
    /// cannot hold a name below a folder it let go of). Returns the numbers dropped.
    pub(crate) fn drop_number(&mut self, ino: u64) -> Vec<u64> {
        let mut dropped = Vec::new();
        let Some((path, kind)) = self.entry(ino) else {
            return dropped;
        };
        if ino == ROOT_INO {
            return dropped;
        }
        self.remove_number(ino, &mut dropped);
        if kind == EntryKind::Directory {
            self.drop_unheld_below(&path, &mut dropped);
        }
        self.prune(&path);
        dropped
    }

    /// Drops the numbers of names directly in `dir` that the kernel does not hold and that
    /// `listed` (the folder's new listing) no longer has as that kind, with those below them.
    /// Returns the numbers dropped.
    pub(crate) fn drop_unlisted(
        &mut self,
        dir: &NodePath,
        listed: impl Fn(&OsStr, EntryKind) -> bool,
    ) -> Vec<u64> {
        let names: Vec<OsString> = match self.paths.get(dir) {
            Some(record) => record.children.iter().cloned().collect(),
            None => return Vec::new(),
        };
        let mut dropped = Vec::new();
        for name in names {
            let child = dir.join(&name);
            let gone: Vec<u64> = match self.paths.get(&child) {
                Some(record) => record
                    .all()
                    .filter(|ino| self.is_unheld(*ino))
                    .filter(|ino| {
                        let kind = self.numbers.get(ino).map(|number| number.kind);
                        !kind.is_some_and(|kind| listed(&name, kind))
                    })
                    .collect(),
                None => continue,
            };
            for ino in gone {
                dropped.extend(self.drop_number(ino));
            }
        }
        dropped
    }

    fn is_unheld(&self, ino: u64) -> bool {
        ino != ROOT_INO
            && self
                .numbers
                .get(&ino)
                .is_some_and(|number| number.lookups == 0)
    }

    /// Drops the numbers the kernel does not hold strictly below `path`, pruning the paths
    /// left with nothing.
    fn drop_unheld_below(&mut self, path: &NodePath, dropped: &mut Vec<u64>) {
        let names: Vec<OsString> = match self.paths.get(path) {
            Some(record) => record.children.iter().cloned().collect(),
            None => return,
        };
        for name in names {
            let child = path.join(&name);
            self.drop_unheld_below(&child, dropped);
            let unheld: Vec<u64> = match self.paths.get(&child) {
                Some(record) => record.all().filter(|ino| self.is_unheld(*ino)).collect(),
                None => continue,
            };
            for ino in unheld {
                self.remove_number(ino, dropped);
            }
            self.prune_one(&child);
        }
    }

    fn remove_number(&mut self, ino: u64, dropped: &mut Vec<u64>) {
        let Some(number) = self.numbers.remove(&ino) else {
            return;
        };
        if let Some(record) = self.paths.get_mut(&number.path) {
            let slot = record.slot(number.kind);
            if *slot == Some(ino) {
                *slot = None;
            }
        }
        dropped.push(ino);
    }

    /// Forgets `path` and then the folders above it while they are left with nothing.
    fn prune(&mut self, path: &NodePath) {
        let mut path = path.clone();
        while self.prune_one(&path) {
            let Some(parent) = path.parent() else {
                return;
            };
            path = parent;
        }
    }

    /// Forgets `path` if it is left with nothing; true if it did.
    fn prune_one(&mut self, path: &NodePath) -> bool {
        if path.is_root() || !self.paths.get(path).is_some_and(Record::is_empty) {
            return false;
        }
        self.paths.remove(path);
        if let (Some(parent), Some(name)) = (path.parent(), path.name()) {
            if let Some(record) = self.paths.get_mut(&parent) {
                record.children.remove(name);
            }
        }
        true
    }

    /// The numbers of the names directly in `dir`, with their paths and kinds.
    pub(crate) fn children_of(&self, dir: &NodePath) -> Vec<(u64, Arc<NodePath>, EntryKind)> {
        let Some(record) = self.paths.get(dir) else {
            return Vec::new();
        };
        record
            .children
            .iter()
            .filter_map(|name| self.paths.get_key_value(&dir.join(name)))
            .flat_map(|(path, child)| {
                child.all().filter_map(|ino| {
                    let number = self.numbers.get(&ino)?;
                    Some((ino, path.clone(), number.kind))
                })
            })
            .collect()
    }

    /// Every number `path` has (one per kind it was seen as, while kept).
    pub(crate) fn numbers_at(&self, path: &NodePath) -> Vec<u64> {
        self.paths
            .get(path)
            .map(|record| record.all().collect())
            .unwrap_or_default()
    }

    /// Every number of every path at or below `path`, whatever its kind (for invalidating the
    /// kernel after a notice), with its path and kind; costs the subtree, not the table.
    pub(crate) fn at_or_below(&self, path: &NodePath) -> Vec<(u64, Arc<NodePath>, EntryKind)> {
        let mut found = Vec::new();
        let Some((known, _)) = self.paths.get_key_value(path) else {
            return found;
        };
        let mut stack = vec![known.clone()];
        while let Some(path) = stack.pop() {
            let Some(record) = self.paths.get(&path) else {
                continue;
            };
            for ino in record.all() {
                if let Some(number) = self.numbers.get(&ino) {
                    found.push((ino, path.clone(), number.kind));
                }
            }
            for name in &record.children {
                if let Some((child, _)) = self.paths.get_key_value(&path.join(name)) {
                    stack.push(child.clone());
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: EntryKind = EntryKind::Directory;
    const FILE: EntryKind = EntryKind::File;

    #[test]
    fn numbers_are_stable_and_never_reused() {
        let mut table = InodeTable::default();
        assert_eq!(table.get(&NodePath::root(), DIR), Some(ROOT_INO));
        let a = table.assign(&NodePath::parse("a"), DIR).ino;
        let b = table.assign(&NodePath::parse("a/b"), FILE).ino;
        assert_ne!(a, b);
        assert!(a > ROOT_INO && b > ROOT_INO);
        assert_eq!(
            table.assign(&NodePath::parse("a"), DIR),
            Assigned {
                ino: a,
                superseded: None
            }
        );
        assert_eq!(table.path(b).as_deref(), Some(&NodePath::parse("a/b")));
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn a_path_that_changes_kind_gets_another_number_and_keeps_each() {
        let mut table = InodeTable::default();
        let path = NodePath::parse("compose.yml");
        let folder = table.assign(&path, DIR).ino;
        let plain = table.assign(&path, FILE);
        assert_ne!(plain.ino, folder, "a new number for the new kind");
        assert_eq!(
            plain.superseded,
            Some(folder),
            "the old one must be forgotten"
        );
        assert_eq!(
            table.assign(&path, FILE).superseded,
            None,
            "told only once per change"
        );
        assert_eq!(table.entry(plain.ino), Some((Arc::new(path.clone()), FILE)));
        assert_eq!(table.entry(folder), Some((Arc::new(path.clone()), DIR)));

        // Back to a folder: the folder's own number again, never one given elsewhere.
        let back = table.assign(&path, DIR);
        assert_eq!(back.ino, folder);
        assert_eq!(back.superseded, Some(plain.ino));
        let other = table.assign(&NodePath::parse("other"), FILE).ino;
        assert!(other != folder && other != plain.ino);
        assert_eq!(table.get(&path, FILE), Some(plain.ino));
        assert_eq!(table.get(&path, EntryKind::Symlink), None);
        assert_eq!(table.len(), 4);

        let mut everything: Vec<u64> = table
            .at_or_below(&path)
            .into_iter()
            .map(|(ino, ..)| ino)
            .collect();
        everything.sort();
        assert_eq!(everything, vec![folder, plain.ino]);
    }

    #[test]
    fn at_or_below_is_component_wise() {
        let mut table = InodeTable::default();
        let a = table.assign(&NodePath::parse("a"), DIR).ino;
        let ab = table.assign(&NodePath::parse("a/b"), FILE).ino;
        table.assign(&NodePath::parse("ab"), FILE);
        let mut found: Vec<u64> = table
            .at_or_below(&NodePath::parse("a"))
            .into_iter()
            .map(|(ino, ..)| ino)
            .collect();
        found.sort();
        assert_eq!(found, vec![a, ab]);
        assert_eq!(table.at_or_below(&NodePath::root()).len(), 4);
    }

    #[test]
    fn a_number_stays_while_the_kernel_holds_it_and_can_go_when_it_forgets() {
        let mut table = InodeTable::default();
        let path = NodePath::parse("images/app");
        let folder = table.assign(&NodePath::parse("images"), DIR).ino;
        let ino = table.assign(&path, FILE).ino;
        table.looked_up(folder);
        table.looked_up(ino);
        table.looked_up(ino);
        assert_eq!(table.lookups(ino), Some(2));
        assert_eq!(table.forget(ino, 1), None, "one lookup still held");
        assert_eq!(table.assign(&path, FILE).ino, ino, "stable while held");
        assert_eq!(table.forget(ino, 1), Some((Arc::new(path.clone()), FILE)));
        assert_eq!(
            table.entry(ino),
            Some((Arc::new(path.clone()), FILE)),
            "the host decides"
        );
        assert_eq!(table.drop_number(ino), vec![ino]);
        assert_eq!(table.entry(ino), None);
        assert_eq!(table.get(&path, FILE), None);
        assert_eq!(
            table.forget(ino, 1),
            None,
            "forgetting it again is harmless"
        );
        assert!(table.drop_number(ino).is_empty());

        // Seen again: a new number, never the old one.
        let again = table.assign(&path, FILE).ino;
        assert!(again > ino);
        assert_eq!(table.entry(again), Some((Arc::new(path.clone()), FILE)));
        // The root is never forgotten.
        table.looked_up(ROOT_INO);
        assert_eq!(table.forget(ROOT_INO, 5), None);
        assert!(table.drop_number(ROOT_INO).is_empty());
        assert_eq!(table.get(&NodePath::root(), DIR), Some(ROOT_INO));
    }

    #[test]
    fn a_dropped_folder_takes_the_numbers_below_it_the_kernel_does_not_hold() {
        let mut table = InodeTable::default();
        let folder = table.assign(&NodePath::parse("a"), DIR).ino;
        let listed = table.assign(&NodePath::parse("a/listed"), FILE).ino;
        let deep = table.assign(&NodePath::parse("a/sub/deep"), FILE).ino;
        assert_eq!(
            table.get(&NodePath::parse("a/sub"), DIR),
            None,
            "a folder above a path is known, not numbered"
        );
        table.looked_up(folder);
        assert!(table.forget(folder, 1).is_some());
        let mut dropped = table.drop_number(folder);
        dropped.sort();
        assert_eq!(dropped, vec![folder, listed, deep]);
        assert_eq!(table.len(), 1, "the root alone");
        assert_eq!(table.paths(), 1);
    }

    #[test]
    fn a_new_listing_drops_the_unheld_names_it_lacks() {
        let mut table = InodeTable::default();
        let folder = table.assign(&NodePath::parse("d"), DIR).ino;
        let held = table.assign(&NodePath::parse("d/held"), FILE).ino;
        let gone = table.assign(&NodePath::parse("d/gone"), FILE).ino;
        let below = table.assign(&NodePath::parse("d/gone-dir/x"), FILE).ino;
        let gone_dir = table.assign(&NodePath::parse("d/gone-dir"), DIR).ino;
        let stays = table.assign(&NodePath::parse("d/stays"), FILE).ino;
        let flipped = table.assign(&NodePath::parse("d/flipped"), DIR).ino;
        table.looked_up(folder);
        table.looked_up(held);
        let listed =
            |name: &OsStr, kind: EntryKind| (name == "stays" || name == "flipped") && kind == FILE;
        let mut dropped = table.drop_unlisted(&NodePath::parse("d"), listed);
        dropped.sort();
        let mut expected = vec![gone, below, gone_dir, flipped];
        expected.sort();
        assert_eq!(dropped, expected, "held names stay even when unlisted");
        assert_eq!(table.get(&NodePath::parse("d/held"), FILE), Some(held));
        assert_eq!(table.get(&NodePath::parse("d/stays"), FILE), Some(stays));
        assert_eq!(table.get(&NodePath::parse("d"), DIR), Some(folder));
        assert_eq!(table.paths(), 4, "the root, d, held and stays");
    }

    #[test]
    fn a_superseded_kind_stays_while_held() {
        let mut table = InodeTable::default();
        let path = NodePath::parse("compose.yml");
        let folder = table.assign(&path, DIR).ino;
        table.looked_up(folder);
        let plain = table.assign(&path, FILE);
        assert_eq!(plain.superseded, Some(folder));
        assert_eq!(table.entry(folder), Some((Arc::new(path.clone()), DIR)));
        assert_eq!(table.forget(folder, 1), Some((Arc::new(path.clone()), DIR)));
        assert_eq!(table.drop_number(folder), vec![folder]);
        assert_eq!(
            table.get(&path, FILE),
            Some(plain.ino),
            "the current kind stays"
        );
        assert_eq!(table.get(&path, DIR), None);
    }

    #[test]
    fn at_or_below_costs_the_subtree() {
        let mut table = InodeTable::default();
        for index in 0..1000 {
            table.assign(&NodePath::parse(&format!("big/{index}")), FILE);
        }
        let small = table.assign(&NodePath::parse("small/x"), FILE).ino;
        // The walk visits `small` and `small/x` alone, whatever the size of `big`.
        assert_eq!(
            table.at_or_below(&NodePath::parse("small")),
            vec![(small, Arc::new(NodePath::parse("small/x")), FILE)]
        );
        assert!(table.at_or_below(&NodePath::parse("nowhere")).is_empty());
        assert_eq!(table.at_or_below(&NodePath::parse("big")).len(), 1000);
    }
}
