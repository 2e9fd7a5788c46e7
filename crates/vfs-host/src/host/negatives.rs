//! The negative cache: names the kernel was told are missing.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::time::Instant;

use vfs_core::NodePath;

use crate::inodes::InodeTable;

/// Names the kernel was told are missing (negative entries it keeps for their TTL), by parent
/// inode, so that a change notice can make it forget them. Kept small: `make` asks for `RCS`
/// and `SCCS` in every directory it reads.
#[derive(Debug, Default)]
pub(super) struct Negatives {
    until: HashMap<(u64, OsString), Instant>,
    /// Expired names are swept out when the table reaches this size.
    sweep_at: usize,
}

impl Negatives {
    const MIN_SWEEP: usize = 1024;

    pub(super) fn record(&mut self, parent: u64, name: &OsStr, expires: Instant, now: Instant) {
        if self.until.len() >= self.sweep_at.max(Self::MIN_SWEEP) {
            self.until.retain(|_, until| *until > now);
            self.sweep_at = self.until.len() * 2;
        }
        self.until.insert((parent, name.to_os_string()), expires);
    }

    /// Forgets the names directly in folder `parent` the kernel may still hold; returns them.
    pub(super) fn take_children(&mut self, parent: u64, now: Instant) -> Vec<(u64, OsString)> {
        let mut taken = Vec::new();
        self.until.retain(|(folder, name), until| {
            if *folder != parent {
                return true;
            }
            if *until > now {
                taken.push((*folder, name.clone()));
            }
            false
        });
        taken
    }

    /// Forgets the names at or below `path` the kernel may still hold; returns them.
    pub(super) fn take_below(
        &mut self,
        path: &NodePath,
        inodes: &InodeTable,
        now: Instant,
    ) -> Vec<(u64, OsString)> {
        let parent_of_path = path.parent();
        let mut taken = Vec::new();
        self.until.retain(|(parent, name), until| {
            let Some(parent_path) = inodes.path(*parent) else {
                return false;
            };
            let below = parent_path.starts_with(path)
                || (Some(parent_path.as_ref()) == parent_of_path.as_ref()
                    && Some(name.as_os_str()) == path.name());
            if !below {
                return *until > now;
            }
            if *until > now {
                taken.push((*parent, name.clone()));
            }
            false
        });
        taken
    }
}
