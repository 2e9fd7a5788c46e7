//! The host without FUSE: answers the kernel's questions (by inode number) from the cache,
//! asking the provider when the cache has nothing fresh. The FUSE glue (`fuse.rs`) only
//! translates these answers into replies; everything here is tested without mounting.
//!
//! This file holds the host's state and what every request shares (inode numbers, the node an
//! inode stands for, attributes and TTLs); each kind of request has a module of its own:
//! `lookup` (lookup, getattr, readlink), `dirs` (opendir and readdir snapshots), `listed`
//! (readdir without a handle, when the kernel sends no opendir), `files` (open), `access`,
//! `changes` (what a notice drops), `forget` (the kernel's lookup counts), `loading` (provider
//! calls, bounded), `negatives` (names the kernel was told are missing) and `marker` (the `.vfs`
//! file and the barrier).

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use vfs_core::{ChangeNotifier, Node, NodeKind, NodePath, Provider, ProviderError};

use crate::attrs::{attributes, Attributes, EntryKind, Known, Owner};
use crate::cache::Cache;
use crate::fills::Fills;
use crate::handles::{Handles, ListedDirs};
use crate::inodes::InodeTable;
use crate::kernel::{KernelCache, KernelOp};

mod access;
mod changes;
mod dirs;
mod files;
mod forget;
mod listed;
mod loading;
mod lookup;
mod marker;
mod negatives;

pub(crate) use dirs::OpenedDir;
#[cfg(test)]
pub(crate) use forget::TableSizes;
pub(crate) use listed::ListedAt;
use loading::Gate;
pub(crate) use loading::{ProviderCalls, PROVIDER_TIMEOUT};
pub(crate) use lookup::Lookup;
pub(crate) use marker::{STOP_MARK, WAKE_MARK};
use negatives::Negatives;

/// An errno for the kernel.
pub(crate) type Errno = i32;

/// The shortest time-to-live handed to the kernel: zero would make it look every entry up
/// again right after a readdir.
pub(crate) const MIN_TTL: Duration = Duration::from_millis(1);

/// An entry's attributes and how long the kernel may keep them.
#[derive(Clone, Debug)]
pub(crate) struct EntryAnswer {
    pub(crate) attrs: Attributes,
    /// For the name-to-inode mapping.
    pub(crate) entry_ttl: Duration,
    /// For the attributes: tiny for files of unknown size, whose size is learnt by reading.
    pub(crate) attr_ttl: Duration,
}

/// What the kernel must forget of a number the host no longer answers for: the inode's
/// attributes and data, and the entry `name` in `parent` naming it.
fn forget_number(ino: u64, entry: Option<(u64, OsString)>, ops: &mut Vec<KernelOp>) {
    ops.push(KernelOp::Inode(ino));
    if let Some((parent, name)) = entry {
        ops.push(KernelOp::Entry { parent, name });
    }
}

#[derive(Debug, Default)]
struct Tables {
    inodes: InodeTable,
    cache: Cache,
    negatives: Negatives,
    /// For each directory inode, the fingerprint of the last listing `opendir` handed out: the
    /// kernel's cached listing (FOPEN_CACHE_DIR) can only hold that one.
    served_listings: HashMap<u64, u64>,
    /// The versions of each folder's names that readdirs without a handle are served from.
    listed: ListedDirs,
}

pub(crate) struct Host {
    provider: Arc<dyn Provider>,
    ttl: Duration,
    owner: Owner,
    tables: Mutex<Tables>,
    /// What requests found the kernel must forget, for the notices thread's next step. Apart
    /// from the tables, so that waking the thread for it takes no lock a request needs; the
    /// order against notices does not matter (each is a forgetting).
    pending: Mutex<Vec<KernelOp>>,
    /// The folders whose listing the kernel is reading into its cache (see `fills`).
    pub(crate) fills: Fills,
    /// The kernel's caches, for the one invalidation made while a request is answered (a
    /// folder's attributes once its listing is loaded, see [`Host::forget_attributes_now`]);
    /// set once the session exists.
    kernel: OnceLock<Box<dyn KernelCache + Sync>>,
    handles: Handles,
    /// One loader per directory at a time: eight `make` jobs missing the same directory ask
    /// the provider once. Only callers wanting that very directory wait on its gate.
    gates: Mutex<HashMap<NodePath, Gate>>,
    calls: ProviderCalls,
    /// The longest a request waits on the provider ([`PROVIDER_TIMEOUT`]).
    provider_timeout: Duration,
    /// The provider's name, as the marker file says it.
    name: String,
    /// The host's end of the provider's notice channel, for barrier marks (none in tests
    /// that run no notices thread).
    marks: Mutex<Option<ChangeNotifier>>,
    next_mark: AtomicU64,
    /// The last mark the notices thread has reached: every notice before it is applied.
    marks_applied: tokio::sync::watch::Sender<u64>,
}

/// Turns a provider's error into the kernel's errno, logging what is not a plain "no such entry".
fn errno_of(error: ProviderError, operation: &str, path: &NodePath) -> Errno {
    match &error {
        // A source that cannot be reached is the provider's to report, once per outage
        // (thousands of reads fail while an engine is down); the host only notes each.
        ProviderError::NotFound(_) | ProviderError::Unavailable(_) => {
            tracing::debug!(%path, operation, "{error}")
        }
        _ => tracing::warn!(%path, operation, "provider error: {error}"),
    }
    error.errno()
}

impl Host {
    pub(crate) fn new(provider: Arc<dyn Provider>, ttl: Duration, owner: Owner) -> Host {
        Host {
            provider,
            ttl,
            owner,
            tables: Mutex::new(Tables::default()),
            pending: Mutex::new(Vec::new()),
            fills: Fills::default(),
            kernel: OnceLock::new(),
            handles: Handles::default(),
            gates: Mutex::new(HashMap::new()),
            calls: ProviderCalls::default(),
            provider_timeout: PROVIDER_TIMEOUT,
            name: "vfs".into(),
            marks: Mutex::new(None),
            next_mark: AtomicU64::new(0),
            marks_applied: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The same host, naming its provider `name` in the marker file.
    pub(crate) fn with_name(mut self, name: String) -> Host {
        self.name = name;
        self
    }

    /// Leaves `op` to the notices thread (the kernel is never invalidated from a request) and
    /// wakes it. Never blocks, so it may run with the tables locked.
    fn queue(&self, op: KernelOp) {
        let mut pending = self.pending.lock();
        if pending.is_empty() {
            self.wake_notices();
        }
        pending.push(op);
    }

    /// Notes a reply of folder `ino`'s listing with `entries` entries, about to be sent: a drop
    /// of the folder's data that waited for the listing's end is left to the notices thread.
    pub(crate) fn replying_listing(&self, ino: u64, entries: usize) {
        if self.fills.replying(ino, entries, Instant::now()) {
            self.queue(KernelOp::Inode(ino));
        }
    }

    /// Gives the host the kernel's caches for [`Host::forget_attributes_now`].
    pub(crate) fn set_kernel(&self, kernel: Box<dyn KernelCache + Sync>) {
        if self.kernel.set(kernel).is_err() {
            tracing::debug!("the kernel's caches were already set");
        }
    }

    /// The documented exception to "no kernel invalidation from a request": the attributes (never
    /// an entry, never data) of `ino`, forgotten before the request that learnt something new of
    /// them is answered, so a `stat` right after it asks again. Takes no lock the kernel holds
    /// for a request (only its inode's spin lock), and no lock of the host. Without a session
    /// (unit tests) it is left to the notices thread instead.
    fn forget_attributes_now(&self, ino: u64) {
        let Some(kernel) = self.kernel.get() else {
            return self.queue(KernelOp::Attributes(ino));
        };
        if let Err(error) = kernel.forget_attributes(ino) {
            // ENOENT: the kernel holds no such inode; nothing to forget.
            if error.raw_os_error() != Some(libc::ENOENT) {
                tracing::debug!(ino, "the kernel refused to forget attributes: {error}");
            }
        }
    }

    /// The inode number of `path` as a `kind`. When the path just changed kind, the kernel is
    /// told to forget the old number and the name leading to it, or it would go on using a
    /// number whose file type no longer matches.
    fn number(&self, tables: &mut Tables, path: &NodePath, kind: EntryKind) -> u64 {
        let assigned = tables.inodes.assign(path, kind);
        if let Some(old) = assigned.superseded {
            tracing::debug!(%path, old, new = assigned.ino, ?kind, "path changed kind; new inode");
            let entry = path.parent().and_then(|parent| {
                let parent_ino = tables.inodes.get(&parent, EntryKind::Directory)?;
                Some((parent_ino, path.name()?.to_os_string()))
            });
            let mut ops = Vec::new();
            forget_number(old, entry, &mut ops);
            for op in ops {
                self.queue(op);
            }
        }
        assigned.ino
    }

    pub(crate) fn calls(&self) -> &ProviderCalls {
        &self.calls
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock()
    }

    /// How long the kernel may trust an answer that the host trusts until `expires`.
    pub(crate) fn ttl_until(&self, expires: Instant, now: Instant) -> Duration {
        expires
            .saturating_duration_since(now)
            .min(self.ttl)
            .max(MIN_TTL)
    }

    fn path_of(&self, ino: u64) -> Result<Arc<NodePath>, Errno> {
        self.tables().inodes.path(ino).ok_or(libc::ENOENT)
    }

    /// The path and kind inode `ino` stands for.
    fn entry_of(&self, ino: u64) -> Result<(Arc<NodePath>, EntryKind), Errno> {
        self.tables().inodes.entry(ino).ok_or(libc::ENOENT)
    }

    /// The node at `path` as inode `ino` of `kind` knows it: a node of another kind now at
    /// that path has another number, so for `ino` the node is gone.
    fn of_kind(node: Node, kind: EntryKind, path: &NodePath) -> Result<Node, ProviderError> {
        if EntryKind::of(&node) == kind {
            Ok(node)
        } else {
            Err(ProviderError::NotFound(path.clone()))
        }
    }

    /// The node inode `ino` stands for, asking the provider when the cache has nothing fresh.
    async fn node_of(
        &self,
        ino: u64,
        operation: &str,
    ) -> Result<(Arc<NodePath>, Node, Instant), Errno> {
        let (path, kind) = self.entry_of(ino)?;
        let found = self
            .node(&path)
            .await
            .and_then(|(node, expires)| Ok((Self::of_kind(node, kind, &path)?, expires)));
        match found {
            Ok((node, expires)) => Ok((path, node, expires)),
            Err(error) => Err(errno_of(error, operation, &path)),
        }
    }

    /// The attributes of an open file whose node is gone (`errno` says how): what it was
    /// when opened. The kernel asks for them when a read reaches the end of the file and for
    /// `fstat`, so a reader of a file deleted after `open` must still get them to read it all.
    fn still_open(
        &self,
        ino: u64,
        handle: Option<u64>,
        errno: Errno,
    ) -> Result<EntryAnswer, Errno> {
        if errno != libc::ENOENT && errno != libc::ENOTDIR {
            return Err(errno);
        }
        let attrs = self.handles.opened_attributes(ino, handle).ok_or(errno)?;
        tracing::debug!(ino, "gone but open; answered with its attributes at open");
        Ok(EntryAnswer {
            attrs,
            entry_ttl: MIN_TTL,
            attr_ttl: MIN_TTL,
        })
    }

    pub(crate) fn inode_count(&self) -> usize {
        self.tables().inodes.len()
    }

    fn attributes_of(
        &self,
        tables: &mut Tables,
        path: &NodePath,
        node: &Node,
        now: Instant,
    ) -> (Attributes, bool) {
        let ino = self.number(tables, path, EntryKind::of(node));
        let known = match node.kind {
            NodeKind::Directory => Known {
                subdirectories: tables
                    .cache
                    .listing(path, now)
                    .map(|listing| listing.subdirectories()),
                size: None,
            },
            NodeKind::File { size: None } => Known {
                subdirectories: None,
                size: tables.cache.learnt_size(path, node.mtime),
            },
            _ => Known::default(),
        };
        // A directory's link count before it is listed is provisional. Loading its listing is
        // what changes it, and every load forgets the kernel's copy of the folder's attributes
        // before the request that loaded it is answered (`loading`); until then the host would
        // answer the same again, so the kernel keeps them for the full TTL like any attribute
        // (only a readdir snapshot, taken at opendir and read later, hands them over for a
        // moment: `dirs`). A file of unknown size is not provisional: the size is learnt only by
        // opening it, and the open invalidates the kernel's copy then (`Opened::size_learnt`).
        let unlisted = node.is_directory() && known.subdirectories.is_none();
        let mut attrs = attributes(node, ino, self.owner, known);
        if node.is_directory() && self.provider.prefers_lookup() {
            // A folder of a provider that answers names one at a time may never be listed (a
            // `make` of tags walks through `images/` without reading it): a link count of 1,
            // "not counted" (as `find` takes it; btrfs counts no folder either), listed or not,
            // so that listing it changes none of its attributes. A real count learnt at the
            // listing would have to be forgotten in the kernel and asked for again: one more
            // GETATTR per folder of a cold `make` (1,000 of its 9,500 requests at 1,200 targets),
            // and one in the next walk for a folder nothing is looked up in after its listing.
            attrs.nlink = 1;
            return (attrs, false);
        }
        (attrs, unlisted)
    }

    fn answer(
        &self,
        tables: &mut Tables,
        path: &NodePath,
        node: &Node,
        expires: Instant,
        now: Instant,
    ) -> EntryAnswer {
        // Provisional or not, see `attributes_of`.
        let (attrs, _) = self.attributes_of(tables, path, node, now);
        let ttl = self.ttl_until(expires, now);
        EntryAnswer {
            attrs,
            entry_ttl: ttl,
            attr_ttl: ttl,
        }
    }

    /// The node at `path` as a `kind` and until when it is trusted, from the cache only.
    /// `None` when the provider must be asked.
    fn cached_node(
        tables: &Tables,
        path: &NodePath,
        kind: EntryKind,
        now: Instant,
    ) -> Option<Result<(Node, Instant), Errno>> {
        let Some(parent) = path.parent() else {
            let root = tables.cache.root(now)?;
            return Some(Ok((root.node.clone(), root.expires)));
        };
        let name = path.name().unwrap_or_default();
        let Some(listing) = tables.cache.listing(&parent, now) else {
            let (node, expires) = tables.cache.looked_up(&parent, name, now)?;
            return Some(if EntryKind::of(&node) == kind {
                Ok((node, expires))
            } else {
                Err(libc::ENOENT)
            });
        };
        Some(
            listing
                .get(name)
                .filter(|node| EntryKind::of(node) == kind)
                .map(|node| (node.clone(), listing.expires))
                .ok_or(libc::ENOENT),
        )
    }

    /// The node at `path`, asking the provider when the cache has nothing fresh.
    async fn node(&self, path: &NodePath) -> Result<(Node, Instant), ProviderError> {
        let Some(parent) = path.parent() else {
            let root = self.root_entry().await?;
            return Ok((root.node.clone(), root.expires));
        };
        let name = path.name().unwrap_or_default();
        if self.looks_up(&parent) {
            return self.entry(&parent, name).await;
        }
        let listing = self.listing(&parent).await?;
        listing
            .get(name)
            .map(|node| (node.clone(), listing.expires))
            .ok_or_else(|| ProviderError::NotFound(path.clone()))
    }
}
