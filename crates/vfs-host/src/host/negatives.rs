//! The negative cache: names the kernel was told are missing, so that a notice can make it
//! forget them. Bounded: past [`Negatives::MOST`] names still unexpired, a missing name is
//! answered with no time to keep it (nothing to take back later).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::time::Instant;

use vfs_core::NodePath;

use crate::attrs::EntryKind;
use crate::inodes::InodeTable;

/// Names the kernel was told are missing (negative entries it keeps for their TTL), by parent
/// inode. `make` asks for `RCS` and `SCCS` in every directory it reads.
#[derive(Debug, Default)]
pub(super) struct Negatives {
    by_folder: HashMap<u64, HashMap<OsString, Instant>>,
    len: usize,
}

impl Negatives {
    /// The most names kept.
    pub(super) const MOST: usize = 65_536;

    /// Remembers that the kernel may keep `name` in `parent` as missing until `expires`; false
    /// when the table is full of unexpired names, and then the kernel must not keep it.
    pub(super) fn record(
        &mut self,
        parent: u64,
        name: &OsStr,
        expires: Instant,
        now: Instant,
    ) -> bool {
        if self.len >= Self::MOST {
            self.sweep(now);
            if self.len >= Self::MOST {
                return false;
            }
        }
        let names = self.by_folder.entry(parent).or_default();
        if names.insert(name.to_os_string(), expires).is_none() {
            self.len += 1;
        }
        true
    }

    /// Forgets the names that expired.
    fn sweep(&mut self, now: Instant) {
        self.by_folder.retain(|_, names| {
            names.retain(|_, until| *until > now);
            !names.is_empty()
        });
        self.len = self.by_folder.values().map(HashMap::len).sum();
    }

    /// How many names are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Forgets the names directly in folder `parent`; returns those the kernel may still hold.
    pub(super) fn take_children(&mut self, parent: u64, now: Instant) -> Vec<(u64, OsString)> {
        let Some(names) = self.by_folder.remove(&parent) else {
            return Vec::new();
        };
        self.len -= names.len();
        names
            .into_iter()
            .filter(|(_, until)| *until > now)
            .map(|(name, _)| (parent, name))
            .collect()
    }

    /// Forgets the names at or below `path` (the name `path` itself, and those in every folder
    /// at or below it); returns those the kernel may still hold. Costs the subtree.
    pub(super) fn take_below(
        &mut self,
        path: &NodePath,
        inodes: &InodeTable,
        now: Instant,
    ) -> Vec<(u64, OsString)> {
        let mut taken = Vec::new();
        let parent = path
            .parent()
            .and_then(|parent| inodes.get(&parent, EntryKind::Directory));
        if let (Some(parent), Some(name)) = (parent, path.name()) {
            if let Some(names) = self.by_folder.get_mut(&parent) {
                if let Some(until) = names.remove(name) {
                    self.len -= 1;
                    if until > now {
                        taken.push((parent, name.to_os_string()));
                    }
                }
                if names.is_empty() {
                    self.by_folder.remove(&parent);
                }
            }
        }
        for (ino, _, kind) in inodes.at_or_below(path) {
            if kind == EntryKind::Directory {
                taken.extend(self.take_children(ino, now));
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn at_most_so_many_unexpired_names_are_kept() {
        let mut negatives = Negatives::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        for index in 0..Negatives::MOST {
            let folder = (index % 100) as u64;
            assert!(negatives.record(folder, OsStr::new(&format!("n{index}")), later, now));
        }
        assert_eq!(negatives.len(), Negatives::MOST);
        assert!(
            !negatives.record(7, OsStr::new("one more"), later, now),
            "full: not remembered, so not to be kept by the kernel"
        );
        // Names that expired make room.
        let after = later + Duration::from_secs(1);
        assert!(negatives.record(
            7,
            OsStr::new("one more"),
            after + Duration::from_secs(60),
            after
        ));
        assert_eq!(negatives.len(), 1);
        assert_eq!(
            negatives.take_children(7, after),
            vec![(7, OsString::from("one more"))]
        );
        assert_eq!(negatives.len(), 0);
    }
}
