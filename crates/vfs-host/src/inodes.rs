//! Inode numbers for paths, per kind: the same path keeps its number while its kind stays the
//! same, a path that changes kind (a YAML file turning from folder into plain file) gets
//! another number, and a number is never given to another path or kind. The kernel marks an
//! inode bad when its number comes back with another file type, and a stale kernel inode must
//! never alias a new entry.

use std::collections::HashMap;
use std::sync::Arc;

use vfs_core::NodePath;

use crate::attrs::EntryKind;

pub(crate) const ROOT_INO: u64 = 1;

/// The numbers one path has had, one per kind, and the kind it was last seen with.
#[derive(Debug)]
struct PathNumbers {
    directory: Option<u64>,
    file: Option<u64>,
    symlink: Option<u64>,
    current: EntryKind,
}

impl PathNumbers {
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
    by_path: HashMap<Arc<NodePath>, PathNumbers>,
    by_ino: HashMap<u64, (Arc<NodePath>, EntryKind)>,
    next: u64,
}

impl Default for InodeTable {
    fn default() -> Self {
        let root = Arc::new(NodePath::root());
        InodeTable {
            by_path: HashMap::from([(
                root.clone(),
                PathNumbers {
                    directory: Some(ROOT_INO),
                    file: None,
                    symlink: None,
                    current: EntryKind::Directory,
                },
            )]),
            by_ino: HashMap::from([(ROOT_INO, (root, EntryKind::Directory))]),
            next: ROOT_INO + 1,
        }
    }
}

impl InodeTable {
    /// The inode of `path` as a `kind`, numbering it on first sight.
    pub(crate) fn assign(&mut self, path: &NodePath, kind: EntryKind) -> Assigned {
        let next = &mut self.next;
        let by_ino = &mut self.by_ino;
        let mut fresh = |path: &Arc<NodePath>| {
            let ino = *next;
            *next += 1;
            by_ino.insert(ino, (path.clone(), kind));
            ino
        };
        let Some((known_path, numbers)) = self.by_path.get_key_value(path) else {
            let path = Arc::new(path.clone());
            let ino = fresh(&path);
            let mut numbers = PathNumbers {
                directory: None,
                file: None,
                symlink: None,
                current: kind,
            };
            *numbers.slot(kind) = Some(ino);
            self.by_path.insert(path, numbers);
            return Assigned {
                ino,
                superseded: None,
            };
        };
        let superseded = if numbers.current == kind {
            None
        } else {
            numbers.number(numbers.current)
        };
        let known_path = known_path.clone();
        let ino = match numbers.number(kind) {
            Some(ino) => ino,
            None => fresh(&known_path),
        };
        if let Some(numbers) = self.by_path.get_mut(path) {
            *numbers.slot(kind) = Some(ino);
            numbers.current = kind;
        }
        Assigned { ino, superseded }
    }

    /// The number `path` has as a `kind`, if it was ever seen so.
    pub(crate) fn get(&self, path: &NodePath, kind: EntryKind) -> Option<u64> {
        self.by_path.get(path)?.number(kind)
    }

    pub(crate) fn path(&self, ino: u64) -> Option<Arc<NodePath>> {
        self.by_ino.get(&ino).map(|(path, _)| path.clone())
    }

    /// The path and the kind an inode number stands for.
    pub(crate) fn entry(&self, ino: u64) -> Option<(Arc<NodePath>, EntryKind)> {
        self.by_ino.get(&ino).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_ino.len()
    }

    /// Every number `path` has had (one per kind it was seen as).
    pub(crate) fn numbers_at(&self, path: &NodePath) -> Vec<u64> {
        self.by_path
            .get(path)
            .map(|numbers| numbers.all().collect())
            .unwrap_or_default()
    }

    /// Every number of every path at or below `path`, whatever its kind (for invalidating the
    /// kernel after a notice).
    pub(crate) fn at_or_below(&self, path: &NodePath) -> Vec<(u64, Arc<NodePath>)> {
        self.by_path
            .iter()
            .filter(|(known, _)| known.starts_with(path))
            .flat_map(|(known, numbers)| numbers.all().map(|ino| (ino, known.clone())))
            .collect()
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
            .map(|(ino, _)| ino)
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
            .map(|(ino, _)| ino)
            .collect();
        found.sort();
        assert_eq!(found, vec![a, ab]);
        assert_eq!(table.at_or_below(&NodePath::root()).len(), 4);
    }
}
