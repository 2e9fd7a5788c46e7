//! Inode numbers for paths: the same path keeps its number for the life of the mount, and a
//! number is never given to another path (so a stale kernel inode can never alias a new entry).

use std::collections::HashMap;
use std::sync::Arc;

use vfs_core::NodePath;

pub(crate) const ROOT_INO: u64 = 1;

#[derive(Debug)]
pub(crate) struct InodeTable {
    by_path: HashMap<Arc<NodePath>, u64>,
    by_ino: HashMap<u64, Arc<NodePath>>,
    next: u64,
}

impl Default for InodeTable {
    fn default() -> Self {
        let root = Arc::new(NodePath::root());
        InodeTable {
            by_path: HashMap::from([(root.clone(), ROOT_INO)]),
            by_ino: HashMap::from([(ROOT_INO, root)]),
            next: ROOT_INO + 1,
        }
    }
}

impl InodeTable {
    /// The inode of `path`, numbering it on first sight.
    pub(crate) fn assign(&mut self, path: &NodePath) -> u64 {
        if let Some(ino) = self.by_path.get(path) {
            return *ino;
        }
        let ino = self.next;
        self.next += 1;
        let path = Arc::new(path.clone());
        self.by_path.insert(path.clone(), ino);
        self.by_ino.insert(ino, path);
        ino
    }

    pub(crate) fn get(&self, path: &NodePath) -> Option<u64> {
        self.by_path.get(path).copied()
    }

    pub(crate) fn path(&self, ino: u64) -> Option<Arc<NodePath>> {
        self.by_ino.get(&ino).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_ino.len()
    }

    /// Every numbered path at or below `path` (for invalidating the kernel after a notice).
    pub(crate) fn at_or_below(&self, path: &NodePath) -> Vec<(u64, Arc<NodePath>)> {
        self.by_ino
            .iter()
            .filter(|(_, known)| known.starts_with(path))
            .map(|(ino, known)| (*ino, known.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_and_never_reused() {
        let mut table = InodeTable::default();
        assert_eq!(table.get(&NodePath::root()), Some(ROOT_INO));
        let a = table.assign(&NodePath::parse("a"));
        let b = table.assign(&NodePath::parse("a/b"));
        assert_ne!(a, b);
        assert!(a > ROOT_INO && b > ROOT_INO);
        assert_eq!(table.assign(&NodePath::parse("a")), a);
        assert_eq!(table.path(b).as_deref(), Some(&NodePath::parse("a/b")));
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn at_or_below_is_component_wise() {
        let mut table = InodeTable::default();
        let a = table.assign(&NodePath::parse("a"));
        let ab = table.assign(&NodePath::parse("a/b"));
        table.assign(&NodePath::parse("ab"));
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
