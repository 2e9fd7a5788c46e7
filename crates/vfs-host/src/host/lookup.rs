//! `lookup`, `getattr` and `readlink`: answers about one name or one inode, from the cache when
//! it is fresh (on the FUSE thread), else after loading the listing that holds it.
//!
//! A LOOKUP of a name in a folder whose listing the host lacks goes through
//! [`Host::lookup_entry`]: for a provider that prefers it (`Provider::prefers_lookup`), the
//! provider's lookup of that one name ([`Host::entry`]), else the folder's listing.

use std::ffi::{OsStr, OsString};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vfs_core::{Node, NodeKind, NodePath, ProviderError};

use crate::cache::Listing;

use super::marker::{is_marker, marker_node};
use super::{errno_of, EntryAnswer, Errno, Host, Tables};

/// The answer to a lookup: an entry, or "no such name" the kernel may remember for `ttl`.
#[derive(Clone, Debug)]
pub(crate) enum Lookup {
    Found(EntryAnswer),
    Missing { ttl: Duration },
}

impl Lookup {
    #[cfg(test)]
    pub(super) fn found(self) -> Result<EntryAnswer, Errno> {
        match self {
            Lookup::Found(answer) => Ok(answer),
            Lookup::Missing { .. } => Err(libc::ENOENT),
        }
    }
}

impl Host {
    /// `lookup` from the cache; `None` when the provider must be asked (call
    /// [`Host::lookup_entry`]). A name missing from a fresh listing is a negative answer.
    pub(crate) fn cached_lookup_entry(
        &self,
        parent: u64,
        name: &OsStr,
    ) -> Option<Result<Lookup, Errno>> {
        let now = Instant::now();
        let mut tables = self.tables();
        let Some(parent_path) = tables.inodes.path(parent) else {
            return Some(Err(libc::ENOENT));
        };
        let Some(listing) = tables.cache.listing(&parent_path, now) else {
            let (node, expires) = tables.cache.looked_up(&parent_path, name, now)?;
            let path = parent_path.join(name);
            let answer = self.answer(&mut tables, &path, &node, expires, now);
            // The kernel holds one more lookup of the number once it has the answer.
            tables.inodes.looked_up(answer.attrs.ino);
            return Some(Ok(Lookup::Found(answer)));
        };
        let expires = listing.expires;
        Some(Ok(self.lookup_in(
            &mut tables,
            parent,
            &parent_path,
            name,
            &listing,
            Some(expires),
        )))
    }

    /// `name` in `listing` of folder `parent`, for the kernel to keep until `expires`; `None`
    /// when a notice overtook the listing (see [`Host::lookup_entry`]): a name found is answered
    /// for the shortest time, a missing name is not to be kept at all.
    pub(super) fn lookup_in(
        &self,
        tables: &mut Tables,
        parent: u64,
        parent_path: &NodePath,
        name: &OsStr,
        listing: &Listing,
        expires: Option<Instant>,
    ) -> Lookup {
        let now = Instant::now();
        match listing.get(name) {
            Some(node) => {
                let path = parent_path.join(name);
                let answer = self.answer(tables, &path, node, expires.unwrap_or(now), now);
                // The kernel holds one more lookup of the number once it has the answer.
                tables.inodes.looked_up(answer.attrs.ino);
                Lookup::Found(answer)
            }
            None => {
                let Some(expires) = expires else {
                    // The notice that may have made the name exist found no missing name to
                    // take back, and the shortest TTL is one kernel tick or two (4 to 8 ms at
                    // HZ=250), longer than a barrier may take: not to be kept at all.
                    return Lookup::Missing {
                        ttl: Duration::ZERO,
                    };
                };
                let ttl = self.ttl_until(expires, now);
                if tables.negatives.record(parent, name, now + ttl, now) {
                    Lookup::Missing { ttl }
                } else {
                    // Not remembered, so a notice could not take it back: not to be kept.
                    Lookup::Missing {
                        ttl: Duration::ZERO,
                    }
                }
            }
        }
    }

    pub(crate) async fn lookup_entry(&self, parent: u64, name: &OsStr) -> Result<Lookup, Errno> {
        let parent_path = self.path_of(parent)?;
        // A notice applied between the provider's answer and this one's recording (the
        // number given, the missing name remembered) found nothing of it to take back, so an
        // answer a notice overtook is not for the kernel to keep. Such a notice dropped the
        // host's copy of what the answer came from (the folder's listing, the looked-up
        // entry), so an answer is kept only while the host still holds that very copy:
        // notices elsewhere cost nothing.
        if self.looks_up(&parent_path) {
            // A missing name leaves no copy to check: any notice since the question counts.
            let generation = self.tables().cache.generation();
            return match self.entry(&parent_path, name).await {
                Ok((node, expires)) => {
                    let now = Instant::now();
                    let mut tables = self.tables();
                    let path = parent_path.join(name);
                    let held = is_marker(&path)
                        || tables
                            .cache
                            .looked_up(&parent_path, name, now)
                            .is_some_and(|(_, held)| held == expires);
                    let expires = if held { expires } else { now };
                    let answer = self.answer(&mut tables, &path, &node, expires, now);
                    // The kernel holds one more lookup of the number once it has the answer.
                    tables.inodes.looked_up(answer.attrs.ino);
                    Ok(Lookup::Found(answer))
                }
                Err(ProviderError::NotFound(_)) => {
                    let now = Instant::now();
                    let ttl = self.ttl_until(now + self.ttl, now);
                    let mut tables = self.tables();
                    // A notice that arrived while the provider answered may have made the name
                    // exist: its forgetting is done, so a negative answer kept now would
                    // outlive it (as a positive answer fetched meanwhile is not kept either).
                    let current = tables.cache.generation() == generation;
                    if current && tables.negatives.record(parent, name, now + ttl, now) {
                        Ok(Lookup::Missing { ttl })
                    } else {
                        // Not remembered, so a notice could not take it back: not to be kept.
                        Ok(Lookup::Missing {
                            ttl: Duration::ZERO,
                        })
                    }
                }
                Err(error) => Err(errno_of(error, "lookup", &parent_path.join(name))),
            };
        }
        let listing = self
            .listing(&parent_path)
            .await
            .map_err(|error| errno_of(error, "lookup", &parent_path.join(name)))?;
        let now = Instant::now();
        let mut tables = self.tables();
        let held = tables
            .cache
            .listing(&parent_path, now)
            .is_some_and(|held| Arc::ptr_eq(&held, &listing));
        let expires = held.then_some(listing.expires);
        Ok(self.lookup_in(&mut tables, parent, &parent_path, name, &listing, expires))
    }

    /// Whether a name in `dir` is asked of the provider alone (see the module): the provider
    /// prefers it and the host has no fresh listing of `dir`.
    pub(super) fn looks_up(&self, dir: &NodePath) -> bool {
        self.provider.prefers_lookup() && self.tables().cache.listing(dir, Instant::now()).is_none()
    }

    /// The entry `name` of `dir` and until when it is trusted: from the cache, else from the
    /// provider's lookup (stored unless a notice overtook it; then asked once more).
    pub(super) async fn entry(
        &self,
        dir: &NodePath,
        name: &OsStr,
    ) -> Result<(Node, Instant), ProviderError> {
        if is_marker(&dir.join(name)) {
            return Ok((marker_node(&self.name), Instant::now() + self.ttl));
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (generation, cached) = {
                let tables = self.tables();
                let now = Instant::now();
                (
                    tables.cache.generation(),
                    tables.cache.looked_up(dir, name, now),
                )
            };
            if let Some(cached) = cached {
                return Ok(cached);
            }
            let started = Instant::now();
            let node = self.provider_lookup(dir, name).await?;
            let expires = started + self.ttl;
            let mut tables = self.tables();
            let current = tables.cache.generation() == generation;
            tables
                .cache
                .install_looked_up(dir, node.clone(), expires, generation);
            drop(tables);
            if current || attempts > 1 {
                return Ok((node, if current { expires } else { Instant::now() }));
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn cached_lookup(
        &self,
        parent: u64,
        name: &OsStr,
    ) -> Option<Result<EntryAnswer, Errno>> {
        self.cached_lookup_entry(parent, name)
            .map(|answer| answer.and_then(Lookup::found))
    }

    #[cfg(test)]
    pub(crate) async fn lookup(&self, parent: u64, name: &OsStr) -> Result<EntryAnswer, Errno> {
        self.lookup_entry(parent, name)
            .await
            .and_then(Lookup::found)
    }

    /// `getattr` from the cache; `None` when the provider must be asked (call
    /// [`Host::getattr`]). `handle` is the open file the kernel asks through, if any.
    pub(crate) fn cached_getattr(
        &self,
        ino: u64,
        handle: Option<u64>,
    ) -> Option<Result<EntryAnswer, Errno>> {
        let now = Instant::now();
        let mut tables = self.tables();
        let Some((path, kind)) = tables.inodes.entry(ino) else {
            return Some(Err(libc::ENOENT));
        };
        let gone = match Self::cached_node(&tables, &path, kind, now)? {
            Ok((node, expires)) => {
                return Some(Ok(self.answer(&mut tables, &path, &node, expires, now)))
            }
            Err(errno) => errno,
        };
        drop(tables);
        Some(self.still_open(ino, handle, gone))
    }

    pub(crate) async fn getattr(
        &self,
        ino: u64,
        handle: Option<u64>,
    ) -> Result<EntryAnswer, Errno> {
        match self.node_of(ino, "getattr").await {
            Ok((path, node, expires)) => {
                let now = Instant::now();
                let mut tables = self.tables();
                Ok(self.answer(&mut tables, &path, &node, expires, now))
            }
            Err(errno) => self.still_open(ino, handle, errno),
        }
    }

    pub(super) fn target_of(node: &Node) -> Result<OsString, Errno> {
        match &node.kind {
            NodeKind::Symlink { target } => Ok(target.clone()),
            _ => Err(libc::EINVAL),
        }
    }

    pub(crate) fn cached_readlink(&self, ino: u64) -> Option<Result<OsString, Errno>> {
        let tables = self.tables();
        let Some((path, kind)) = tables.inodes.entry(ino) else {
            return Some(Err(libc::ENOENT));
        };
        Some(
            Self::cached_node(&tables, &path, kind, Instant::now())?
                .and_then(|(node, _)| Self::target_of(&node)),
        )
    }

    pub(crate) async fn readlink(&self, ino: u64) -> Result<OsString, Errno> {
        let (_, node, _) = self.node_of(ino, "readlink").await?;
        Self::target_of(&node)
    }
}
