//! The host without FUSE: answers the kernel's questions (by inode number) from the cache,
//! asking the provider when the cache has nothing fresh. The FUSE glue (`fuse.rs`) only
//! translates these answers into replies; everything here is tested without mounting.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use vfs_core::{ChangeNotifier, Content, Node, NodeKind, NodePath, Provider, ProviderError};

use crate::attrs::{attributes, Attributes, EntryKind, Known, Owner};
use crate::cache::{Cache, Listing, RootEntry};
use crate::handles::{DirItem, DirSnapshot, Handles, OpenFile};
use crate::inodes::{InodeTable, ROOT_INO};
use crate::notices::Work;

/// An errno for the kernel.
pub(crate) type Errno = i32;

/// The host's own file at the root of every mount: reading it is the mount's barrier
/// ([`Host::settle`]); its presence tells a Makefile the mount is there. It shadows a
/// provider entry of the same name.
pub(crate) const MARKER_NAME: &str = ".vfs";

/// What reading the marker answers once the mount has settled.
fn marker_content(provider_name: &str) -> Vec<u8> {
    format!("vfs mount: {provider_name}\nsettled\n").into_bytes()
}

/// The marker's node: read-only, dated 1970 (never newer than anything, so even as a normal
/// prerequisite it makes no target out of date), of the size its content has, so that its
/// attributes never change (it is served with direct I/O all the same, see [`Host::open`], so
/// that every read reaches the host and settles).
fn marker_node(provider_name: &str) -> Node {
    let size = marker_content(provider_name).len() as u64;
    Node::file(MARKER_NAME, std::time::SystemTime::UNIX_EPOCH, Some(size)).with_perm(0o444)
}

/// The root's children with the marker, which shadows a provider entry of its name.
fn with_marker(mut children: Vec<Node>, provider_name: &str) -> Vec<Node> {
    children.retain(|node| node.name != MARKER_NAME);
    children.push(marker_node(provider_name));
    children
}

fn is_marker(path: &NodePath) -> bool {
    path.parent().is_some_and(|parent| parent.is_root())
        && path.name() == Some(OsStr::new(MARKER_NAME))
}

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

/// An open directory, and whether the kernel may keep the listing it cached before: only when
/// that listing is the very one this handle serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpenedDir {
    pub(crate) handle: u64,
    pub(crate) keep_cache: bool,
}

/// A directory about to get a handle: what [`Host::open_snapshot`] needs.
struct DirToOpen<'a> {
    ino: u64,
    path: &'a NodePath,
    node: &'a Node,
    node_expires: Instant,
    listing: &'a Listing,
    generation: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Opened {
    pub(crate) handle: u64,
    pub(crate) direct_io: bool,
    /// The open learnt a size of unknown-size file that the kernel's copy of its attributes
    /// lacks: they must be invalidated before the open returns, so that an `fstat` right after
    /// it sees the content's length.
    pub(crate) size_learnt: bool,
}

/// What the kernel must forget after a change notice: an inode's attributes and data, and
/// the directory entry naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KernelTarget {
    pub(crate) ino: u64,
    pub(crate) entry: Option<(u64, OsString)>,
}

/// How often the provider was asked, for debugging and benchmarks.
#[derive(Debug, Default)]
pub(crate) struct ProviderCalls {
    pub(crate) root: AtomicU64,
    pub(crate) list: AtomicU64,
    pub(crate) read: AtomicU64,
}

impl ProviderCalls {
    pub(crate) fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.root.load(Ordering::Relaxed),
            self.list.load(Ordering::Relaxed),
            self.read.load(Ordering::Relaxed),
        )
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
}

/// Names the kernel was told are missing (negative entries it keeps for their TTL), by parent
/// inode, so that a change notice can make it forget them. Kept small: `make` asks for `RCS`
/// and `SCCS` in every directory it reads.
#[derive(Debug, Default)]
struct Negatives {
    until: HashMap<(u64, OsString), Instant>,
    /// Expired names are swept out when the table reaches this size.
    sweep_at: usize,
}

impl Negatives {
    const MIN_SWEEP: usize = 1024;

    fn record(&mut self, parent: u64, name: &OsStr, expires: Instant, now: Instant) {
        if self.until.len() >= self.sweep_at.max(Self::MIN_SWEEP) {
            self.until.retain(|_, until| *until > now);
            self.sweep_at = self.until.len() * 2;
        }
        self.until.insert((parent, name.to_os_string()), expires);
    }

    /// Forgets the names directly in folder `parent` the kernel may still hold; returns them.
    fn take_children(&mut self, parent: u64, now: Instant) -> Vec<(u64, OsString)> {
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
    fn take_below(
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

/// The answer to a lookup: an entry, or "no such name" the kernel may remember for `ttl`.
#[derive(Clone, Debug)]
pub(crate) enum Lookup {
    Found(EntryAnswer),
    Missing { ttl: Duration },
}

impl Lookup {
    #[cfg(test)]
    fn found(self) -> Result<EntryAnswer, Errno> {
        match self {
            Lookup::Found(answer) => Ok(answer),
            Lookup::Missing { .. } => Err(libc::ENOENT),
        }
    }
}

type Gate = Arc<tokio::sync::Mutex<()>>;

pub(crate) struct Host {
    provider: Arc<dyn Provider>,
    ttl: Duration,
    owner: Owner,
    tables: Mutex<Tables>,
    handles: Handles,
    /// One loader per directory at a time: eight `make` jobs missing the same directory ask
    /// the provider once. Only callers wanting that very directory wait on its gate.
    gates: Mutex<HashMap<NodePath, Gate>>,
    calls: ProviderCalls,
    /// Where to ask the notice thread to refresh the kernel's attributes (none in tests).
    work: Mutex<Option<Sender<Work>>>,
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

/// The longest a request waits on the provider. A request the kernel sent holds the kernel's
/// lock on its folder until it is answered, and the notices thread's invalidations wait on that
/// lock; so a provider call that never returns (a FIFO opened for ever, a hung engine) would
/// wedge that folder, the notices and the unmount for good. Past this bound the request is
/// answered `EIO` and everything waiting behind it goes on; the provider's call is abandoned.
pub(crate) const PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the tables consistent, so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            handles: Handles::default(),
            gates: Mutex::new(HashMap::new()),
            calls: ProviderCalls::default(),
            work: Mutex::new(None),
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

    /// Where barrier marks go: the provider's own notice channel, behind its notices.
    pub(crate) fn set_marks(&self, notifier: ChangeNotifier) {
        *locked(&self.marks) = Some(notifier);
    }

    /// Called by the notices thread once every notice before mark `token` is applied.
    pub(crate) fn marks_applied(&self, token: u64) {
        self.marks_applied
            .send_if_modified(|reached| std::mem::replace(reached, (*reached).max(token)) < token);
    }

    /// Returns once the notices thread has applied (to the host's caches and the kernel's)
    /// every notice the provider sent before this call. Waits for that thread; never
    /// invalidates anything itself. At once when no notices thread runs (unit tests).
    pub(crate) async fn notices_applied(&self) {
        let Some(notifier) = locked(&self.marks).clone() else {
            return;
        };
        let token = self.next_mark.fetch_add(1, Ordering::SeqCst) + 1;
        let mut applied = self.marks_applied.subscribe();
        notifier.mark(token);
        // An error means the host is going away; the bound on the caller ends the wait.
        let _ = applied.wait_for(|reached| *reached >= token).await;
    }

    /// The mount's barrier, what reading the marker file does: the provider announces every
    /// change of its source completed before now ([`Provider::settle`]), then the notices
    /// thread applies them all. Bounded by [`PROVIDER_TIMEOUT`] as a whole.
    pub(crate) async fn settle(&self) -> Result<Vec<u8>, ProviderError> {
        let path = NodePath::root().join(OsStr::new(MARKER_NAME));
        self.bounded("settle", &path, async {
            self.provider.settle().await?;
            self.notices_applied().await;
            Ok(())
        })
        .await?;
        Ok(marker_content(&self.name))
    }

    /// The same host with another bound on provider calls (tests use a short one).
    #[cfg(test)]
    pub(crate) fn with_provider_timeout(mut self, timeout: Duration) -> Host {
        self.provider_timeout = timeout;
        self
    }

    /// Runs a provider call within [`PROVIDER_TIMEOUT`].
    async fn bounded<T>(
        &self,
        operation: &str,
        path: &NodePath,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        match tokio::time::timeout(self.provider_timeout, call).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!(%path, operation, "the provider did not answer within {:?}: answered EIO", self.provider_timeout);
                Err(ProviderError::Unavailable(format!(
                    "the provider did not answer {operation} {path} within {:?}",
                    self.provider_timeout
                )))
            }
        }
    }

    pub(crate) fn set_work_queue(&self, work: Sender<Work>) {
        *locked(&self.work) = Some(work);
    }

    /// Hands `work` to the notices thread: the kernel is never invalidated from a request.
    /// Sending never blocks, so this may run while the tables are locked.
    fn queue(&self, work: Work) {
        if let Some(queue) = locked(&self.work).as_ref() {
            let _ = queue.send(work);
        }
    }

    /// The kernel may hold provisional attributes of `dir` (a link count from before it was
    /// listed): have them asked for again.
    fn refresh_kernel_attributes(&self, dir: &NodePath) {
        let Some(ino) = self.tables().inodes.get(dir, EntryKind::Directory) else {
            return;
        };
        self.queue(Work::Refresh(ino));
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
            self.queue(Work::Forget(KernelTarget { ino: old, entry }));
        }
        assigned.ino
    }

    pub(crate) fn calls(&self) -> &ProviderCalls {
        &self.calls
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        locked(&self.tables)
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
            NodeKind::Directory { .. } => Known {
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
        // Provisional attributes (a directory's link count before it is listed) must be asked
        // for again rather than kept by the kernel. A file of unknown size is not provisional:
        // the size is learnt only by opening it, and the open invalidates the kernel's copy then
        // (`Opened::size_learnt`); kept, its attributes spare every later `stat` (each prerequisite
        // `make` checks) a round trip.
        let provisional = match node.kind {
            NodeKind::Directory { .. } => known.subdirectories.is_none(),
            NodeKind::File { .. } | NodeKind::Symlink { .. } => false,
        };
        (attributes(node, ino, self.owner, known), provisional)
    }

    fn answer(
        &self,
        tables: &mut Tables,
        path: &NodePath,
        node: &Node,
        expires: Instant,
        now: Instant,
    ) -> EntryAnswer {
        let (attrs, provisional) = self.attributes_of(tables, path, node, now);
        let entry_ttl = self.ttl_until(expires, now);
        let attr_ttl = if provisional { MIN_TTL } else { entry_ttl };
        EntryAnswer {
            attrs,
            entry_ttl,
            attr_ttl,
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
        let listing = tables.cache.listing(&parent, now)?;
        let name = path.name().unwrap_or_default();
        Some(
            listing
                .get(name)
                .filter(|entry| EntryKind::of(&entry.node) == kind)
                .map(|entry| (entry.node.clone(), listing.expires))
                .ok_or(libc::ENOENT),
        )
    }

    /// The node at `path`, asking the provider when the cache has nothing fresh.
    async fn node(&self, path: &NodePath) -> Result<(Node, Instant), ProviderError> {
        let Some(parent) = path.parent() else {
            let root = self.root_entry().await?;
            return Ok((root.node.clone(), root.expires));
        };
        let listing = self.listing(&parent).await?;
        let name = path.name().unwrap_or_default();
        listing
            .get(name)
            .map(|entry| (entry.node.clone(), listing.expires))
            .ok_or_else(|| ProviderError::NotFound(path.clone()))
    }

    // ---- lookup / getattr / readlink -------------------------------------------------------

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
        let listing = tables.cache.listing(&parent_path, now)?;
        Some(Ok(self.lookup_in(
            &mut tables,
            parent,
            &parent_path,
            name,
            &listing,
            now,
        )))
    }

    fn lookup_in(
        &self,
        tables: &mut Tables,
        parent: u64,
        parent_path: &NodePath,
        name: &OsStr,
        listing: &Listing,
        now: Instant,
    ) -> Lookup {
        match listing.get(name) {
            Some(entry) => {
                let path = parent_path.join(name);
                Lookup::Found(self.answer(tables, &path, &entry.node, listing.expires, now))
            }
            None => {
                let ttl = self.ttl_until(listing.expires, now);
                tables.negatives.record(parent, name, now + ttl, now);
                Lookup::Missing { ttl }
            }
        }
    }

    pub(crate) async fn lookup_entry(&self, parent: u64, name: &OsStr) -> Result<Lookup, Errno> {
        let parent_path = self.path_of(parent)?;
        let listing = self
            .listing(&parent_path)
            .await
            .map_err(|error| errno_of(error, "lookup", &parent_path.join(name)))?;
        let now = Instant::now();
        let mut tables = self.tables();
        Ok(self.lookup_in(&mut tables, parent, &parent_path, name, &listing, now))
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

    fn target_of(node: &Node) -> Result<OsString, Errno> {
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

    // ---- directories -----------------------------------------------------------------------

    /// Snapshots the directory's entries (with `.` and `..`) into a new handle.
    pub(crate) async fn opendir(&self, ino: u64) -> Result<OpenedDir, Errno> {
        let generation = self.tables().cache.generation();
        let (path, node, node_expires) = self.node_of(ino, "opendir").await?;
        let failed = |error| errno_of(error, "opendir", &path);
        if !node.is_directory() {
            return Err(libc::ENOTDIR);
        }
        let listing = self.listing(&path).await.map_err(failed)?;
        let dir = DirToOpen {
            ino,
            path: &path,
            node: &node,
            node_expires,
            listing: &listing,
            generation,
        };
        Ok(self.open_snapshot(self.tables(), dir))
    }

    /// [`Host::opendir`] from the cache alone, answered on the FUSE thread like the other
    /// cached answers (make opens the folder of every prerequisite); `None` when the directory
    /// or its listing must be asked for.
    pub(crate) fn cached_opendir(&self, ino: u64) -> Option<Result<OpenedDir, Errno>> {
        let now = Instant::now();
        let tables = self.tables();
        let generation = tables.cache.generation();
        let Some((path, kind)) = tables.inodes.entry(ino) else {
            return Some(Err(libc::ENOENT));
        };
        let (node, node_expires) = match Self::cached_node(&tables, &path, kind, now)? {
            Ok(found) => found,
            Err(errno) => return Some(Err(errno)),
        };
        if !node.is_directory() {
            return Some(Err(libc::ENOTDIR));
        }
        let listing = tables.cache.listing(&path, now)?;
        let dir = DirToOpen {
            ino,
            path: &path,
            node: &node,
            node_expires,
            listing: &listing,
            generation,
        };
        Some(Ok(self.open_snapshot(tables, dir)))
    }

    /// A new handle serving the entries of `dir`, and whether the kernel may keep the listing
    /// it cached before (only if it is this very one). Releases `tables` before the handle
    /// table is locked.
    fn open_snapshot(&self, mut guard: MutexGuard<'_, Tables>, dir: DirToOpen<'_>) -> OpenedDir {
        let DirToOpen {
            ino,
            path,
            node,
            node_expires,
            listing,
            generation,
        } = dir;
        let tables = &mut *guard;
        let now = Instant::now();
        let (dot, _) = self.attributes_of(tables, path, node, now);
        let parent_ino = match path.parent() {
            Some(parent) => self.number(tables, &parent, EntryKind::Directory),
            None => ROOT_INO,
        };
        let mut items = Vec::with_capacity(listing.entries().len() + 2);
        let mut dot_dot = dot.clone();
        dot_dot.ino = parent_ino;
        items.push(DirItem {
            name: ".".into(),
            attrs: dot,
            expires: node_expires,
            provisional: false,
        });
        items.push(DirItem {
            name: "..".into(),
            attrs: dot_dot,
            expires: node_expires,
            provisional: false,
        });
        for entry in listing.entries() {
            let child = path.join(&entry.node.name);
            let (attrs, provisional) = self.attributes_of(tables, &child, &entry.node, now);
            items.push(DirItem {
                name: entry.node.name.clone(),
                attrs,
                expires: listing.expires,
                provisional,
            });
        }
        let fingerprint = DirSnapshot::fingerprint_of(&items);
        let keep_cache = tables.served_listings.insert(ino, fingerprint) == Some(fingerprint);
        let snapshot = DirSnapshot {
            items,
            generation,
            fingerprint,
        };
        drop(guard);
        let handle = self.handles.open_dir(snapshot);
        OpenedDir { handle, keep_cache }
    }

    /// Called when the kernel reads `snapshot` of directory `ino`: the kernel caches what it
    /// reads, so a handle older than the listing last handed out (opened before a change,
    /// read after) would leave a stale listing in its cache; have it dropped.
    pub(crate) fn reading_snapshot(&self, ino: u64, snapshot: &DirSnapshot) {
        let tables = self.tables();
        let current = tables.served_listings.get(&ino) == Some(&snapshot.fingerprint);
        if !current {
            self.queue(Work::Reload(ino));
        }
    }

    pub(crate) fn dir_snapshot(&self, handle: u64) -> Option<Arc<DirSnapshot>> {
        self.handles.dir(handle)
    }

    /// How long the kernel may keep an entry handed over by readdirplus. A snapshot taken
    /// before a change notice (opened before it, read after) may hold what the notice just
    /// took back: not to be kept at all, or a `stat` right after would see the old attributes
    /// again (the kernel applies them, since its own invalidation came before the read).
    pub(crate) fn snapshot_ttl(
        &self,
        snapshot: &DirSnapshot,
        item: &DirItem,
        now: Instant,
    ) -> Duration {
        if snapshot.generation != self.tables().cache.generation() {
            return Duration::ZERO;
        }
        if item.provisional {
            return MIN_TTL;
        }
        self.ttl_until(item.expires, now)
    }

    pub(crate) fn releasedir(&self, handle: u64) {
        self.handles.release_dir(handle);
    }

    // ---- files -----------------------------------------------------------------------------

    /// Fetches the file's content into a new handle. Files of unknown size (or whose content
    /// disagrees with their size) are served with direct I/O so readers get all of it.
    pub(crate) async fn open(&self, ino: u64) -> Result<Opened, Errno> {
        let (path, node, _) = self.node_of(ino, "open").await?;
        let failed = |error| errno_of(error, "open", &path);
        let size = match node.kind {
            NodeKind::File { size } => size,
            NodeKind::Directory { .. } => return Err(libc::EISDIR),
            NodeKind::Symlink { .. } => return Err(libc::ELOOP),
        };
        let content = if is_marker(&path) {
            tracing::debug!("settling: the marker file is read");
            self.settle().await.map(Content::Bytes)
        } else {
            let count = self.calls.read.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::debug!(%path, count, "provider.read");
            self.bounded("read", &path, self.provider.read(&path)).await
        };
        let file = match content.map_err(failed)? {
            Content::Bytes(bytes) => OpenFile::Bytes(bytes),
            Content::File(file) => OpenFile::File(file),
        };
        let length = file.len().map_err(|error| {
            tracing::warn!(%path, "cannot size the content: {error}");
            error.raw_os_error().unwrap_or(libc::EIO)
        })?;
        let direct_io = match size {
            // The barrier: every read of the marker must reach the host, never the page cache.
            _ if is_marker(&path) => true,
            None => true,
            Some(announced) if announced != length => {
                tracing::debug!(%path, announced, length, "content length differs from the node's size");
                true
            }
            Some(_) => false,
        };
        let (mut attrs, size_learnt) = {
            let mut tables = self.tables();
            let size_learnt = size.is_none() && tables.cache.learn_size(&path, node.mtime, length);
            let attrs = self
                .attributes_of(&mut tables, &path, &node, Instant::now())
                .0;
            (attrs, size_learnt)
        };
        // What the reader has is the truth for this handle, whatever the node announced.
        attrs.size = length;
        Ok(Opened {
            handle: self.handles.open_file(attrs, file),
            direct_io,
            size_learnt,
        })
    }

    pub(crate) fn open_file(&self, handle: u64) -> Option<Arc<OpenFile>> {
        self.handles.file(handle)
    }

    pub(crate) fn release(&self, handle: u64) {
        self.handles.release_file(handle);
    }

    pub(crate) fn open_counts(&self) -> (usize, usize) {
        self.handles.open_counts()
    }

    // ---- access ----------------------------------------------------------------------------

    /// `access(2)` for a caller: writing is never allowed; reading and searching follow the
    /// permission bits (root may read anything, and execute what has an x bit).
    pub(crate) fn check_access(
        attrs: &Attributes,
        uid: u32,
        gid: u32,
        mask: i32,
    ) -> Result<(), Errno> {
        if mask & libc::W_OK != 0 {
            return Err(libc::EROFS);
        }
        let wanted = ((mask & (libc::R_OK | libc::X_OK)) as u16) & 0o7;
        if wanted == 0 {
            return Ok(());
        }
        let granted = if uid == 0 {
            let any_x = if attrs.perm & 0o111 != 0 || attrs.kind == EntryKind::Directory {
                0o1
            } else {
                0
            };
            0o4 | any_x
        } else if uid == attrs.uid {
            (attrs.perm >> 6) & 0o7
        } else if gid == attrs.gid {
            (attrs.perm >> 3) & 0o7
        } else {
            attrs.perm & 0o7
        };
        if granted & wanted == wanted {
            Ok(())
        } else {
            Err(libc::EACCES)
        }
    }

    // ---- change notices --------------------------------------------------------------------

    /// Drops what the host cached at and below `path`; returns what the kernel must forget.
    pub(crate) fn invalidate(&self, path: &NodePath) -> Vec<KernelTarget> {
        let mut tables = self.tables();
        tables.cache.invalidate(path);
        let known = tables.inodes.at_or_below(path);
        known
            .into_iter()
            .map(|(ino, known_path)| KernelTarget {
                ino,
                entry: known_path.parent().and_then(|parent| {
                    let parent_ino = tables.inodes.get(&parent, EntryKind::Directory)?;
                    Some((parent_ino, known_path.name()?.to_os_string()))
                }),
            })
            .collect()
    }

    /// What the kernel must forget after a notice for the node at `path` alone: the inode
    /// numbers of the path (attributes and cached data, not the entry naming it), and the
    /// missing names it was told of directly in it (a name may have appeared). Entries and
    /// listings further below stay.
    pub(crate) fn invalidate_node(
        &self,
        path: &NodePath,
    ) -> (Vec<KernelTarget>, Vec<(u64, OsString)>) {
        let tables = &mut *self.tables();
        tables.cache.invalidate_node(path);
        let targets = tables
            .inodes
            .numbers_at(path)
            .into_iter()
            .map(|ino| KernelTarget { ino, entry: None })
            .collect();
        let missing = match tables.inodes.get(path, EntryKind::Directory) {
            Some(folder) => tables.negatives.take_children(folder, Instant::now()),
            None => Vec::new(),
        };
        (targets, missing)
    }

    /// The missing names the kernel was told of at or below `path` (negative entries), as
    /// (parent inode, name): after a notice for `path` it must forget them.
    pub(crate) fn forget_missing(&self, path: &NodePath) -> Vec<(u64, OsString)> {
        let tables = &mut *self.tables();
        tables
            .negatives
            .take_below(path, &tables.inodes, Instant::now())
    }

    /// Asks the kernel to drop what it keeps beyond the TTL (a symlink's target, a directory's
    /// listing) for nodes a fresh provider answer shows changed without a notice.
    fn queue_unnoticed_changes(&self, tables: &mut Tables) {
        for (path, kind) in tables.cache.take_changed() {
            if let Some(ino) = tables.inodes.get(&path, kind) {
                tracing::debug!(%path, ino, "changed without a notice; kernel copy dropped");
                self.queue(Work::Reload(ino));
            }
        }
    }

    // ---- loading ---------------------------------------------------------------------------

    async fn root_entry(&self) -> Result<Arc<RootEntry>, ProviderError> {
        if let Some(root) = self.tables().cache.root(Instant::now()) {
            return Ok(root);
        }
        let generation = self.tables().cache.generation();
        let started = Instant::now();
        let mut node = self.provider_root().await?;
        if let NodeKind::Directory {
            children: Some(children),
        } = &mut node.kind
        {
            *children = with_marker(std::mem::take(children), &self.name);
        }
        let mut tables = self.tables();
        let (entry, _) = tables
            .cache
            .install_root(node, started + self.ttl, generation);
        self.queue_unnoticed_changes(&mut tables);
        Ok(entry)
    }

    async fn provider_root(&self) -> Result<Node, ProviderError> {
        let count = self.calls.root.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(count, "provider.root");
        self.bounded("root", &NodePath::root(), self.provider.root())
            .await
    }

    async fn provider_list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        let count = self.calls.list.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(%dir, count, "provider.list");
        self.bounded("list", dir, self.provider.list(dir)).await
    }

    /// The listing of `dir`, from the cache or (once for all callers at a time) the provider.
    fn listing<'a>(
        &'a self,
        dir: &'a NodePath,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<Listing>, ProviderError>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(listing) = self.tables().cache.listing(dir, Instant::now()) {
                return Ok(listing);
            }
            let gate = locked(&self.gates).entry(dir.clone()).or_default().clone();
            let result = async {
                let _turn = gate.lock().await;
                if let Some(listing) = self.tables().cache.listing(dir, Instant::now()) {
                    return Ok(listing);
                }
                self.load_listing(dir).await
            }
            .await;
            let mut gates = locked(&self.gates);
            // Two owners (the map and us) means nobody else is waiting: forget the gate.
            if Arc::strong_count(&gate) == 2 {
                gates.remove(dir);
            }
            result
        })
    }

    async fn load_listing(&self, dir: &NodePath) -> Result<Arc<Listing>, ProviderError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let generation = self.tables().cache.generation();
            let started = Instant::now();
            let nodes = self.fetch_children(dir).await?;
            let mut tables = self.tables();
            let current = tables.cache.generation() == generation;
            let listing = tables
                .cache
                .install(dir, nodes, started + self.ttl, generation, dir)
                .ok_or_else(|| ProviderError::NotADirectory(dir.clone()))?;
            self.queue_unnoticed_changes(&mut tables);
            drop(tables);
            // A notice arrived while the provider answered: the answer may predate the
            // change, so ask once more.
            if current || attempts > 1 {
                self.refresh_kernel_attributes(dir);
                return Ok(listing);
            }
        }
    }

    /// The children of `dir` straight from the provider. A directory handed over with its
    /// children is asked for through the nearest ancestor listed on demand (or the root).
    fn fetch_children<'a>(
        &'a self,
        dir: &'a NodePath,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Node>, ProviderError>> + Send + 'a>> {
        Box::pin(async move {
            let Some(parent) = dir.parent() else {
                return Ok(with_marker(
                    self.fetch_root_children(dir).await?,
                    &self.name,
                ));
            };
            self.fetch_children_below(dir, &parent).await
        })
    }

    /// The children of the root straight from the provider.
    async fn fetch_root_children(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        let root = self.root_entry().await?;
        if !root.node.is_directory() {
            return Err(ProviderError::NotADirectory(dir.clone()));
        }
        if !root.eager {
            return self.provider_list(dir).await;
        }
        match self.provider_root().await?.kind {
            NodeKind::Directory {
                children: Some(children),
            } => Ok(children),
            NodeKind::Directory { children: None } => self.provider_list(dir).await,
            _ => Err(ProviderError::NotADirectory(dir.clone())),
        }
    }

    /// The children of `dir`, below `parent`, straight from the provider.
    fn fetch_children_below<'a>(
        &'a self,
        dir: &'a NodePath,
        parent: &'a NodePath,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Node>, ProviderError>> + Send + 'a>> {
        let parent = parent.clone();
        Box::pin(async move {
            let name = dir.name().unwrap_or_default();
            let parent_listing = self.listing(&parent).await?;
            let entry = parent_listing
                .get(name)
                .ok_or_else(|| ProviderError::NotFound(dir.clone()))?;
            if !entry.node.is_directory() {
                return Err(ProviderError::NotADirectory(dir.clone()));
            }
            if !entry.eager {
                return self.provider_list(dir).await;
            }
            let generation = self.tables().cache.generation();
            let started = Instant::now();
            let siblings = self.fetch_children(&parent).await?;
            let fresh = siblings
                .iter()
                .find(|node| node.name == name)
                .map(|node| node.kind.clone());
            // Keep the parent's fresh answer too: it carries this directory's own attributes.
            {
                let mut tables = self.tables();
                tables
                    .cache
                    .install(&parent, siblings, started + self.ttl, generation, &parent);
                self.queue_unnoticed_changes(&mut tables);
            }
            match fresh {
                Some(NodeKind::Directory {
                    children: Some(children),
                }) => Ok(children),
                Some(NodeKind::Directory { children: None }) => self.provider_list(dir).await,
                Some(_) => Err(ProviderError::NotADirectory(dir.clone())),
                None => Err(ProviderError::NotFound(dir.clone())),
            }
        })
    }
}
