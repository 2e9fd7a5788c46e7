//! The host's memory of what the provider answered: directory listings (which carry their
//! entries' attributes) and the root node, each trusted until it expires or a change notice
//! drops it.
//!
//! A generation number counts the notices: an answer fetched while a notice arrived may
//! predate the change, so it is used once but not kept.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use vfs_core::{Node, NodeKind, NodePath};

use crate::attrs::EntryKind;

#[derive(Debug)]
pub(crate) struct Listing {
    entries: Vec<Node>,
    by_name: HashMap<OsString, usize>,
    subdirectories: u32,
    pub(crate) expires: Instant,
}

impl Listing {
    pub(crate) fn get(&self, name: &OsStr) -> Option<&Node> {
        self.by_name.get(name).map(|index| &self.entries[*index])
    }

    pub(crate) fn entries(&self) -> &[Node] {
        &self.entries
    }

    pub(crate) fn subdirectories(&self) -> u32 {
        self.subdirectories
    }
}

/// The root node.
#[derive(Debug)]
pub(crate) struct RootEntry {
    pub(crate) node: Node,
    pub(crate) expires: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// By folder, in path order: what is at or below a path is one range of it.
    listings: PathMap<Arc<Listing>>,
    root: Option<Arc<RootEntry>>,
    /// True sizes of files whose node says "unknown", valid while the node keeps its mtime; in
    /// path order like `listings`.
    learnt_sizes: PathMap<(SystemTime, u64)>,
    generation: u64,
    /// Nodes found changed when a listing was replaced without a notice (it had expired):
    /// directories whose entries differ and symlinks whose target differs. The kernel keeps
    /// both beyond the TTL (cached listings and link targets), so the host must say so.
    changed: Vec<(NodePath, EntryKind)>,
    /// Entries the provider answered one name at a time (`Provider::lookup`), by folder (in
    /// path order like the listings, so that a notice costs its subtree):
    /// trusted like a listing's entries until they expire, a listing of their folder
    /// supersedes them, or a notice drops them.
    looked_up: PathMap<HashMap<OsString, (Node, Instant)>>,
    /// Entries stored in `looked_up` since expired ones were last swept.
    looked_up_since_sweep: usize,
}

/// How many looked-up entries are stored between two sweeps of the expired ones.
const LOOKED_UP_SWEEP: usize = 4096;

/// A name the kernel could never ask for, or that would break paths.
fn is_bad_name(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    bytes.is_empty()
        || bytes == b"."
        || bytes == b".."
        || bytes.iter().any(|b| *b == b'/' || *b == 0)
}

impl Cache {
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The listing of `dir` if it has not expired.
    pub(crate) fn listing(&self, dir: &NodePath, now: Instant) -> Option<Arc<Listing>> {
        self.listings
            .get(dir)
            .filter(|listing| listing.expires > now)
            .cloned()
    }

    /// Whether the listing of `path`'s folder the host holds (expired or not) has its name,
    /// and as which kind: `None` when the host holds no such listing (or `path` is the root).
    pub(crate) fn listed(&self, path: &NodePath) -> Option<Option<EntryKind>> {
        let listing = self.listings.get(&path.parent()?)?;
        Some(listing.get(path.name()?).map(EntryKind::of))
    }

    /// The entry `name` of `dir` that the provider answered alone, if it has not expired.
    pub(crate) fn looked_up(
        &self,
        dir: &NodePath,
        name: &OsStr,
        now: Instant,
    ) -> Option<(Node, Instant)> {
        self.looked_up
            .get(dir)?
            .get(name)
            .filter(|(_, expires)| *expires > now)
            .cloned()
    }

    /// Stores the provider's answer for the entry `node.name` of `dir` unless a notice
    /// arrived since `generation`.
    pub(crate) fn install_looked_up(
        &mut self,
        dir: &NodePath,
        node: Node,
        expires: Instant,
        generation: u64,
    ) {
        if generation != self.generation || is_bad_name(&node.name) {
            return;
        }
        self.looked_up_since_sweep += 1;
        if self.looked_up_since_sweep > LOOKED_UP_SWEEP {
            let now = Instant::now();
            self.looked_up.retain(|_, entries| {
                entries.retain(|_, (_, expires)| *expires > now);
                !entries.is_empty()
            });
            self.looked_up_since_sweep = 0;
        }
        self.looked_up
            .get_or_default(dir)
            .insert(node.name.clone(), (node, expires));
    }

    /// Drops the looked-up entry of `path` itself.
    fn forget_looked_up(&mut self, path: &NodePath) {
        let (Some(parent), Some(name)) = (path.parent(), path.name()) else {
            return;
        };
        if let Some(entries) = self.looked_up.get_mut(&parent) {
            entries.remove(name);
            if entries.is_empty() {
                self.looked_up.remove(&parent);
            }
        }
    }

    pub(crate) fn root(&self, now: Instant) -> Option<Arc<RootEntry>> {
        self.root
            .as_ref()
            .filter(|root| root.expires > now)
            .cloned()
    }

    /// Stores the provider's answer for `dir` unless a notice arrived since `generation`;
    /// returns the listing of `dir` either way.
    pub(crate) fn install(
        &mut self,
        dir: &NodePath,
        nodes: Vec<Node>,
        expires: Instant,
        generation: u64,
    ) -> Arc<Listing> {
        let current = generation == self.generation;
        let expires = if current { expires } else { Instant::now() };
        let listing = Arc::new(build_listing(dir, nodes, expires));
        if current {
            if let Some(old) = self.listings.get(dir) {
                note_changes(dir, old, &listing, &mut self.changed);
            }
            // The listing answers for every name of the folder from now on.
            self.looked_up.remove(dir);
            self.listings.insert(dir.clone(), listing.clone());
        }
        listing
    }

    /// Stores the root node like [`Cache::install`].
    pub(crate) fn install_root(
        &mut self,
        root: Node,
        expires: Instant,
        generation: u64,
    ) -> Arc<RootEntry> {
        let current = generation == self.generation;
        let entry = Arc::new(RootEntry {
            node: root,
            expires: if current { expires } else { Instant::now() },
        });
        if current {
            self.root = Some(entry.clone());
        }
        entry
    }

    /// Forgets `path` and everything below it, and the listing holding `path`'s own attributes.
    pub(crate) fn invalidate(&mut self, path: &NodePath) {
        self.generation += 1;
        if let Some(parent) = path.parent() {
            self.listings.remove(&parent);
        }
        self.listings.remove_at_or_below(path);
        self.looked_up.remove_at_or_below(path);
        self.forget_looked_up(path);
        self.learnt_sizes.remove_at_or_below(path);
        if path.is_root() {
            self.root = None;
        }
    }

    /// Forgets what is known of the node at `path` alone: the listing holding its attributes
    /// and, for a folder, its own listing. Listings below it stay.
    pub(crate) fn invalidate_node(&mut self, path: &NodePath) {
        self.generation += 1;
        self.listings.remove(path);
        if let Some(parent) = path.parent() {
            self.listings.remove(&parent);
        }
        self.looked_up.remove(path);
        self.forget_looked_up(path);
        self.learnt_sizes.remove(path);
        if path.is_root() {
            self.root = None;
        }
    }

    /// How many listings, learnt sizes and looked-up entries are kept.
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> (usize, usize, usize) {
        (
            self.listings.len(),
            self.learnt_sizes.len(),
            self.looked_up.values().map(HashMap::len).sum(),
        )
    }

    /// The nodes found changed without a notice since last asked (see `changed`).
    pub(crate) fn take_changed(&mut self) -> Vec<(NodePath, EntryKind)> {
        std::mem::take(&mut self.changed)
    }

    /// Remembers the true size of a file of unknown size; true when it differs from before.
    pub(crate) fn learn_size(&mut self, path: &NodePath, mtime: SystemTime, size: u64) -> bool {
        let previous = self.learnt_sizes.insert(path.clone(), (mtime, size));
        previous != Some((mtime, size))
    }

    pub(crate) fn learnt_size(&self, path: &NodePath, mtime: SystemTime) -> Option<u64> {
        self.learnt_sizes
            .get(path)
            .filter(|(learnt_at, _)| *learnt_at == mtime)
            .map(|(_, size)| *size)
    }
}

/// A map by path that also keeps its paths in order, so that what is at or below a path is one
/// range: found in the time its subtree takes, while a lookup stays a hash lookup.
#[derive(Debug)]
struct PathMap<V> {
    by_path: HashMap<NodePath, V>,
    /// Every path below another sorts right after it.
    order: BTreeSet<NodePath>,
}

impl<V> Default for PathMap<V> {
    fn default() -> Self {
        PathMap {
            by_path: HashMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<V> PathMap<V> {
    fn get(&self, path: &NodePath) -> Option<&V> {
        self.by_path.get(path)
    }

    fn get_mut(&mut self, path: &NodePath) -> Option<&mut V> {
        self.by_path.get_mut(path)
    }

    fn get_or_default(&mut self, path: &NodePath) -> &mut V
    where
        V: Default,
    {
        if !self.by_path.contains_key(path) {
            self.order.insert(path.clone());
        }
        self.by_path.entry(path.clone()).or_default()
    }

    fn insert(&mut self, path: NodePath, value: V) -> Option<V> {
        if !self.by_path.contains_key(&path) {
            self.order.insert(path.clone());
        }
        self.by_path.insert(path, value)
    }

    fn remove(&mut self, path: &NodePath) -> Option<V> {
        let value = self.by_path.remove(path)?;
        self.order.remove(path);
        Some(value)
    }

    /// Removes the entries at or below `path`: one range of `order`.
    fn remove_at_or_below(&mut self, path: &NodePath) {
        let below: Vec<NodePath> = self
            .order
            .range(path.clone()..)
            .take_while(|key| key.starts_with(path))
            .cloned()
            .collect();
        for key in below {
            self.remove(&key);
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&NodePath, &mut V) -> bool) {
        let order = &mut self.order;
        self.by_path.retain(|path, value| {
            let kept = keep(path, value);
            if !kept {
                order.remove(path);
            }
            kept
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_path.len()
    }

    #[cfg(test)]
    fn values(&self) -> impl Iterator<Item = &V> {
        self.by_path.values()
    }
}

/// What the kernel may hold of `old` beyond the TTL that `new` contradicts: the directory's
/// listing (names and kinds, in order) and the targets of its symlinks.
fn note_changes(
    dir: &NodePath,
    old: &Listing,
    new: &Listing,
    changed: &mut Vec<(NodePath, EntryKind)>,
) {
    let same_entries = old.entries.len() == new.entries.len()
        && old
            .entries
            .iter()
            .zip(&new.entries)
            .all(|(old, new)| old.name == new.name && EntryKind::of(old) == EntryKind::of(new));
    if !same_entries {
        changed.push((dir.clone(), EntryKind::Directory));
    }
    for node in &new.entries {
        let NodeKind::Symlink { target } = &node.kind else {
            continue;
        };
        let was = old.get(&node.name).map(|old| &old.kind);
        if let Some(NodeKind::Symlink { target: old_target }) = was {
            if old_target != target {
                changed.push((dir.join(&node.name), EntryKind::Symlink));
            }
        }
    }
}

/// The listing of `dir`.
fn build_listing(dir: &NodePath, nodes: Vec<Node>, expires: Instant) -> Listing {
    let mut entries = Vec::with_capacity(nodes.len());
    let mut by_name = HashMap::with_capacity(nodes.len());
    let mut subdirectories = 0;
    for node in nodes {
        if is_bad_name(&node.name) {
            tracing::warn!(dir = %dir, name = ?node.name, "provider listed an unusable name; skipped");
            continue;
        }
        if by_name.contains_key(&node.name) {
            tracing::warn!(dir = %dir, name = ?node.name, "provider listed a name twice; kept the first");
            continue;
        }
        if node.is_directory() {
            subdirectories += 1;
        }
        by_name.insert(node.name.clone(), entries.len());
        entries.push(node);
    }
    Listing {
        entries,
        by_name,
        subdirectories,
        expires,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn later(seconds: u64) -> Instant {
        Instant::now() + Duration::from_secs(seconds)
    }

    #[test]
    fn a_listing_counts_its_subdirectories_and_lists_nothing_below() {
        let mut cache = Cache::default();
        let generation = cache.generation();
        let nodes = vec![
            Node::directory("one", at(1)),
            Node::directory("two", at(1)),
            Node::file("f", at(1), None),
        ];
        let root = cache.install(&NodePath::root(), nodes, later(60), generation);
        assert_eq!(root.entries().len(), 3);
        assert_eq!(root.subdirectories(), 2);
        assert!(cache
            .listing(&NodePath::parse("one"), Instant::now())
            .is_none());
    }

    #[test]
    fn listings_expire() {
        let mut cache = Cache::default();
        let generation = cache.generation();
        let root = NodePath::root();
        cache.install(
            &root,
            vec![],
            Instant::now() + Duration::from_millis(20),
            generation,
        );
        assert!(cache.listing(&NodePath::root(), Instant::now()).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.listing(&NodePath::root(), Instant::now()).is_none());
    }

    #[test]
    fn a_notice_drops_the_path_what_is_below_and_the_parent_listing() {
        let mut cache = Cache::default();
        let generation = cache.generation();
        for dir in ["", "a", "a/b", "a/b/c", "ab", "x"] {
            let dir = NodePath::parse(dir);
            cache.install(&dir, vec![], later(60), generation);
        }
        cache.invalidate(&NodePath::parse("a/b"));
        let now = Instant::now();
        let kept: Vec<bool> = ["", "a", "a/b", "a/b/c", "ab", "x"]
            .iter()
            .map(|dir| cache.listing(&NodePath::parse(dir), now).is_some())
            .collect();
        assert_eq!(kept, [true, false, false, false, true, true]);
    }

    #[test]
    fn a_notice_removes_one_range_of_paths_and_no_neighbour() {
        let mut cache = Cache::default();
        let generation = cache.generation();
        let dirs = ["", "a", "a/b", "a/b/c", "a b", "a-", "a.x/y", "b"];
        for dir in dirs {
            let dir = NodePath::parse(dir);
            cache.install(&dir, vec![], later(60), generation);
            cache.learn_size(&dir.join("f"), at(1), 1);
        }
        cache.invalidate(&NodePath::parse("a"));
        let now = Instant::now();
        let kept: Vec<&str> = dirs
            .into_iter()
            .filter(|dir| cache.listing(&NodePath::parse(dir), now).is_some())
            .collect();
        assert_eq!(
            kept,
            ["a b", "a-", "a.x/y", "b"],
            "the root holds `a`: dropped too"
        );
        let sized: Vec<&str> = dirs
            .into_iter()
            .filter(|dir| {
                cache
                    .learnt_size(&NodePath::parse(dir).join("f"), at(1))
                    .is_some()
            })
            .collect();
        assert_eq!(sized, ["", "a b", "a-", "a.x/y", "b"]);
    }

    #[test]
    fn an_answer_fetched_across_a_notice_is_used_but_not_kept() {
        let mut cache = Cache::default();
        let generation = cache.generation();
        cache.invalidate(&NodePath::parse("elsewhere"));
        let root = NodePath::root();
        let listing = cache.install(
            &root,
            vec![Node::file("f", at(1), Some(1))],
            later(60),
            generation,
        );
        assert!(listing.get(OsStr::new("f")).is_some());
        assert!(cache.listing(&NodePath::root(), Instant::now()).is_none());
    }

    #[test]
    fn odd_and_duplicate_names_are_skipped() {
        let mut cache = Cache::default();
        let generation = cache.generation();
        let nodes = vec![
            Node::file("ok", at(1), Some(1)),
            Node::file("ok", at(2), Some(2)),
            Node::file("a/b", at(1), Some(1)),
            Node::file("..", at(1), Some(1)),
            Node::file("", at(1), Some(1)),
        ];
        let root = NodePath::root();
        let listing = cache.install(&root, nodes, later(60), generation);
        assert_eq!(listing.entries().len(), 1);
        assert_eq!(listing.get(OsStr::new("ok")).unwrap().mtime, at(1));
    }

    #[test]
    fn looked_up_entries_are_superseded_by_listings_and_dropped_by_notices() {
        let mut cache = Cache::default();
        let dir = NodePath::parse("d");
        let install = |cache: &mut Cache, name: &str| {
            let generation = cache.generation();
            cache.install_looked_up(
                &dir,
                Node::file(name, at(1), Some(1)),
                later(60),
                generation,
            );
        };
        let now = Instant::now();
        install(&mut cache, "a");
        install(&mut cache, "b");
        assert_eq!(
            cache.looked_up(&dir, OsStr::new("a"), now).unwrap().0.mtime,
            at(1)
        );
        // A notice on one entry drops that entry alone.
        cache.invalidate(&NodePath::parse("d/a"));
        assert!(cache.looked_up(&dir, OsStr::new("a"), now).is_none());
        assert!(cache.looked_up(&dir, OsStr::new("b"), now).is_some());
        // A notice on the folder alone drops what was looked up in it.
        cache.invalidate_node(&dir);
        assert!(cache.looked_up(&dir, OsStr::new("b"), now).is_none());
        // A listing supersedes them.
        install(&mut cache, "c");
        let generation = cache.generation();
        cache.install(&dir, vec![], later(60), generation);
        assert!(cache.looked_up(&dir, OsStr::new("c"), now).is_none());
        // An answer fetched across a notice is not kept.
        let generation = cache.generation();
        cache.invalidate(&NodePath::parse("elsewhere"));
        cache.install_looked_up(&dir, Node::file("e", at(1), Some(1)), later(60), generation);
        assert!(cache.looked_up(&dir, OsStr::new("e"), now).is_none());
    }

    #[test]
    fn learnt_sizes_follow_the_mtime_and_notices() {
        let mut cache = Cache::default();
        let path = NodePath::parse("d/f");
        assert!(cache.learn_size(&path, at(1), 10));
        assert!(!cache.learn_size(&path, at(1), 10));
        assert_eq!(cache.learnt_size(&path, at(1)), Some(10));
        assert_eq!(cache.learnt_size(&path, at(2)), None);
        cache.invalidate(&NodePath::parse("d"));
        assert_eq!(cache.learnt_size(&path, at(1)), None);
    }

    #[test]
    fn a_notice_on_the_root_drops_the_root_node_and_its_listing() {
        let mut cache = Cache::default();
        let generation = cache.generation();
        cache.install_root(Node::directory("", at(5)), later(60), generation);
        cache.install(
            &NodePath::root(),
            vec![Node::file("f", at(1), Some(1))],
            later(60),
            generation,
        );
        assert!(cache.root(Instant::now()).is_some());
        assert!(cache.listing(&NodePath::root(), Instant::now()).is_some());
        cache.invalidate(&NodePath::root());
        assert!(cache.root(Instant::now()).is_none());
        assert!(cache.listing(&NodePath::root(), Instant::now()).is_none());
    }
}
