//! A provider's whole tree at one moment, and the change notices between two of them.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

use crate::{Content, Node, NodeKind, NodePath, Notice, Provider, ProviderError, WalkEntry};

/// A tree at one moment: the root node and the listing of every folder, by the folder's path.
///
/// Build one from a source you read in one go (an API's list, a parsed file) with
/// [`Snapshot::new`] and [`Snapshot::insert`], or from a provider with [`Snapshot::of`]; serve
/// it with [`Snapshot::root`] and [`Snapshot::list`]; and turn two of them into the notices that
/// make a host see the second instead of the first with [`diff`]. A provider without an event
/// source does all three through [`crate::Poller`].
///
/// A snapshot may also hold the bytes of its files ([`Snapshot::insert_file`], served with
/// [`Snapshot::read`]): a provider that answers `read` from the snapshot it answers `list`
/// from never shows a file's new bytes beside its old node, nor before the notice of the
/// change (see [`crate::Poller`]). A file whose bytes change must show it in its node all the
/// same (its `mtime`, and its size), as `make` needs; [`diff`] also announces a file whose
/// held bytes changed under the same node.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    root: Node,
    listings: BTreeMap<NodePath, Vec<Node>>,
    /// The bytes of the files inserted with [`Snapshot::insert_file`], by path.
    contents: BTreeMap<NodePath, Vec<u8>>,
}

impl Snapshot {
    /// A tree holding only `root` (a directory; its name is ignored), with an empty listing.
    pub fn new(root: Node) -> Snapshot {
        let mut listings = BTreeMap::new();
        listings.insert(NodePath::root(), Vec::new());
        Snapshot {
            root,
            listings,
            contents: BTreeMap::new(),
        }
    }

    /// Adds `node` at the end of the folder `dir`'s listing (so the listing keeps the order of
    /// insertion), replacing a node of the same name in place. A folder `dir` not inserted yet
    /// gets a listing all the same; a directory `node` gets an empty listing of its own unless
    /// it has one.
    pub fn insert(&mut self, dir: &NodePath, node: Node) {
        // Bytes held for a node of this name were the replaced node's.
        self.contents.remove(&dir.join(&node.name));
        if node.is_directory() {
            self.listings.entry(dir.join(&node.name)).or_default();
        }
        let listing = self.listings.entry(dir.clone()).or_default();
        match listing.iter_mut().find(|old| old.name == node.name) {
            Some(old) => *old = node,
            None => listing.push(node),
        }
    }

    /// Adds the file `node` to `dir` as [`Snapshot::insert`] does, with `content`: the bytes
    /// [`Snapshot::read`] answers for it. The node's size is set to the content's length. A
    /// `node` that is not a file is inserted without the content.
    pub fn insert_file(&mut self, dir: &NodePath, mut node: Node, content: impl Into<Vec<u8>>) {
        let content = content.into();
        let is_file = node.is_file();
        if is_file {
            node.kind = NodeKind::File {
                size: Some(content.len() as u64),
            };
        }
        let path = dir.join(&node.name);
        self.insert(dir, node);
        if is_file {
            self.contents.insert(path, content);
        }
    }

    /// Removes the node at `path` and everything below it; returns whether it was there.
    pub fn remove(&mut self, path: &NodePath) -> bool {
        let (Some(parent), Some(name)) = (path.parent(), path.name()) else {
            return false;
        };
        let Some(listing) = self.listings.get_mut(&parent) else {
            return false;
        };
        let before = listing.len();
        listing.retain(|node| node.name != name);
        let removed = listing.len() != before;
        if removed {
            self.listings.retain(|dir, _| !dir.starts_with(path));
            self.contents.retain(|file, _| !file.starts_with(path));
        }
        removed
    }

    /// The tree `provider` answers now, walked with [`crate::walk`] (the provider must be
    /// started if it needs to be).
    pub async fn of(provider: &dyn Provider) -> Result<Snapshot, ProviderError> {
        Ok(Snapshot::from_walk(crate::walk(provider).await?))
    }

    /// A snapshot of the entries of a [`crate::walk`] (the first entry is the root).
    pub fn from_walk(entries: Vec<WalkEntry>) -> Snapshot {
        let mut entries = entries.into_iter();
        let mut snapshot = match entries.next() {
            Some(root) => Snapshot::new(root.node),
            None => Snapshot::new(Node::directory("", std::time::UNIX_EPOCH)),
        };
        for entry in entries {
            if let Some(parent) = entry.path.parent() {
                snapshot.insert(&parent, entry.node);
            }
        }
        snapshot
    }

    /// The root directory: what [`Provider::root`] answers.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The root's node replaced (its time, its permissions).
    pub fn set_root(&mut self, root: Node) {
        self.root = root;
    }

    /// What [`Provider::list`] answers for `dir`: its listing, [`ProviderError::NotADirectory`]
    /// for a file or link, [`ProviderError::NotFound`] for a path not in the tree.
    pub fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        if let Some(listing) = self.listings.get(dir) {
            return Ok(listing.clone());
        }
        match self.node(dir) {
            Some(_) => Err(ProviderError::NotADirectory(dir.clone())),
            None => Err(ProviderError::NotFound(dir.clone())),
        }
    }

    /// What [`Provider::read`] answers for `path` from the bytes given to
    /// [`Snapshot::insert_file`]: [`ProviderError::NotFound`] for a path not in the tree,
    /// [`ProviderError::NotAFile`] for a folder or a link, and [`ProviderError::Other`] for a
    /// file inserted without its bytes.
    pub fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        match self.node(path) {
            None => Err(ProviderError::NotFound(path.clone())),
            Some(node) if !node.is_file() => Err(ProviderError::NotAFile(path.clone())),
            Some(_) => match self.contents.get(path) {
                Some(bytes) => Ok(Content::Bytes(bytes.clone())),
                None => Err(ProviderError::Other(format!(
                    "{path}: the snapshot holds no content for it (inserted without insert_file)"
                ))),
            },
        }
    }

    /// The bytes held for the file at `path` ([`Snapshot::insert_file`]), if any.
    pub fn content(&self, path: &NodePath) -> Option<&[u8]> {
        self.contents.get(path).map(Vec::as_slice)
    }

    /// The node at `path` (the root for the root path), if the tree holds one.
    pub fn node(&self, path: &NodePath) -> Option<&Node> {
        let Some(name) = path.name() else {
            return Some(&self.root);
        };
        self.listings
            .get(&path.parent()?)?
            .iter()
            .find(|node| node.name == name)
    }

    /// Every path of the tree but the root, folders before what they hold.
    pub fn paths(&self) -> Vec<NodePath> {
        self.listings
            .iter()
            .flat_map(|(dir, listing)| listing.iter().map(move |node| dir.join(&node.name)))
            .collect()
    }
}

/// The notices that make a host that saw `old` see `new`, as few and as small as they can be,
/// none covered by another:
///
/// - a folder whose names changed (a name came or left), or whose own attributes changed, is a
///   change of that node alone ([`Notice::node`]): the host keeps what it knows below the names
///   that stay;
/// - a name that left, a file or link that changed (time, size, target, permissions), or an
///   entry that changed kind, is a change of its whole subtree ([`Notice::subtree`]); so is a
///   file whose bytes held in the snapshots ([`Snapshot::insert_file`]) changed under the same
///   node;
/// - a listing whose order alone changed (the same names, the same nodes) needs no notice: a
///   host that keeps the old listing serves the same entries.
///
/// Each folder's listing is compared on its own, so a change deep down is told there, not at
/// the folders above it: a host does **not** refresh a folder's time because something below
/// it changed. When a folder's time follows its content (the newest of its children, as
/// DockerFS's folders do), build the snapshots with that time and the folder's own change
/// shows up here as well.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Vec<Notice> {
    let mut subtrees = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    if !same_entry(&old.root, &new.root) {
        nodes.insert(NodePath::root());
    }
    let folders: BTreeSet<&NodePath> = old.listings.keys().chain(new.listings.keys()).collect();
    for folder in folders {
        let (before, after) = match (old.listings.get(folder), new.listings.get(folder)) {
            (Some(before), Some(after)) => (before, after),
            (Some(_), None) => {
                // A folder that went (or became a file): everything below it, and its parent.
                subtrees.insert(folder.clone());
                nodes.insert(folder.parent().unwrap_or_default());
                continue;
            }
            _ => {
                // A folder that came: its parent's names changed.
                nodes.insert(folder.parent().unwrap_or_default());
                continue;
            }
        };
        let names_before: BTreeMap<&OsString, &Node> =
            before.iter().map(|node| (&node.name, node)).collect();
        let names_after: BTreeMap<&OsString, &Node> =
            after.iter().map(|node| (&node.name, node)).collect();
        if names_before.keys().ne(names_after.keys()) {
            nodes.insert(folder.clone());
        }
        for (name, was) in &names_before {
            let path = folder.join(name);
            match names_after.get(name) {
                None => {
                    subtrees.insert(path);
                }
                Some(is) if same_entry(was, is) => {
                    if old.contents.get(&path) != new.contents.get(&path) {
                        subtrees.insert(path);
                    }
                }
                Some(is) if was.is_directory() && is.is_directory() => {
                    nodes.insert(path);
                }
                Some(_) => {
                    subtrees.insert(path);
                }
            }
        }
    }
    let mut covering: Vec<NodePath> = Vec::new();
    for path in subtrees {
        // Sorted: a path comes right after the paths it lies below.
        if !covering.iter().any(|kept| path.starts_with(kept)) {
            covering.push(path);
        }
    }
    let nodes: Vec<Notice> = nodes
        .into_iter()
        .filter(|path| !covering.iter().any(|kept| path.starts_with(kept)))
        .map(Notice::node)
        .collect();
    covering
        .into_iter()
        .map(Notice::subtree)
        .chain(nodes)
        .collect()
}

/// Same kind, size, target and attributes (a folder's listing is compared on its own).
fn same_entry(a: &Node, b: &Node) -> bool {
    a.kind == b.kind
        && a.mtime == b.mtime
        && a.ctime == b.ctime
        && a.atime == b.atime
        && a.perm == b.perm
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn path(text: &str) -> NodePath {
        NodePath::parse(text)
    }

    /// / → a/ (x, y), b/ (empty), f, link -> f
    fn sample() -> Snapshot {
        let mut tree = Snapshot::new(Node::directory("", at(1)));
        tree.insert(&path(""), Node::directory("a", at(1)));
        tree.insert(&path("a"), Node::file("x", at(1), Some(1)));
        tree.insert(&path("a"), Node::file("y", at(1), None));
        tree.insert(&path(""), Node::directory("b", at(1)));
        tree.insert(&path(""), Node::file("f", at(1), Some(2)));
        tree.insert(&path(""), Node::symlink("link", at(1), "f"));
        tree
    }

    fn told(old: &Snapshot, new: &Snapshot) -> Vec<String> {
        diff(old, new).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn serves_listings_nodes_and_errors() {
        let tree = sample();
        let names = |dir: &str| -> Vec<String> {
            tree.list(&path(dir))
                .unwrap()
                .iter()
                .map(|node| node.name.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(""), ["a", "b", "f", "link"]);
        assert_eq!(names("a"), ["x", "y"]);
        assert!(names("b").is_empty());
        assert!(matches!(
            tree.list(&path("f")),
            Err(ProviderError::NotADirectory(_))
        ));
        assert!(matches!(
            tree.list(&path("nope")),
            Err(ProviderError::NotFound(_))
        ));
        assert_eq!(tree.node(&path("a/y")).map(Node::is_file), Some(true));
        assert_eq!(tree.node(&path("")), Some(tree.root()));
        assert_eq!(tree.paths().len(), 6);
    }

    #[test]
    fn same_trees_need_no_notice() {
        assert!(diff(&sample(), &sample()).is_empty());
    }

    #[test]
    fn a_new_name_is_its_folder_alone() {
        let mut new = sample();
        new.insert(&path("a"), Node::file("z", at(1), Some(1)));
        assert_eq!(told(&sample(), &new), ["/a alone"]);
    }

    #[test]
    fn a_changed_file_is_its_subtree_and_its_folder_is_untouched() {
        let mut new = sample();
        new.insert(&path("a"), Node::file("x", at(2), Some(1)));
        assert_eq!(told(&sample(), &new), ["/a/x and below"]);
        let mut relinked = sample();
        relinked.insert(&path(""), Node::symlink("link", at(1), "a"));
        assert_eq!(told(&sample(), &relinked), ["/link and below"]);
    }

    #[test]
    fn a_folder_that_left_is_its_subtree_and_its_parent_alone() {
        let mut new = sample();
        assert!(new.remove(&path("a")));
        assert!(!new.remove(&path("a")));
        assert_eq!(told(&sample(), &new), ["/a and below", "/ alone"]);
        assert!(matches!(
            new.list(&path("a")),
            Err(ProviderError::NotFound(_))
        ));
        // And back: the parent alone (a new name), nothing below it was known.
        assert_eq!(told(&new, &sample()), ["/ alone"]);
    }

    #[test]
    fn a_folder_with_a_new_time_is_that_folder_alone() {
        let mut new = sample();
        new.insert(&path(""), Node::directory("a", at(5)));
        assert_eq!(told(&sample(), &new), ["/a alone"]);
        let mut root = sample();
        root.set_root(Node::directory("", at(9)));
        assert_eq!(told(&sample(), &root), ["/ alone"]);
    }

    #[test]
    fn a_change_of_kind_is_the_subtree() {
        let mut new = sample();
        assert!(new.remove(&path("b")));
        new.insert(&path(""), Node::file("b", at(1), Some(0)));
        assert_eq!(told(&sample(), &new), ["/b and below", "/ alone"]);
        let mut back = new.clone();
        back.insert(&path(""), Node::directory("b", at(1)));
        assert_eq!(told(&new, &back), ["/b and below", "/ alone"]);
    }

    #[test]
    fn a_listing_in_another_order_needs_no_notice() {
        let mut turned = Snapshot::new(Node::directory("", at(1)));
        turned.insert(&path(""), Node::symlink("link", at(1), "f"));
        turned.insert(&path(""), Node::file("f", at(1), Some(2)));
        turned.insert(&path(""), Node::directory("b", at(1)));
        turned.insert(&path(""), Node::directory("a", at(1)));
        turned.insert(&path("a"), Node::file("y", at(1), None));
        turned.insert(&path("a"), Node::file("x", at(1), Some(1)));
        assert_ne!(turned, sample());
        assert!(diff(&sample(), &turned).is_empty());
    }

    #[test]
    fn held_contents_are_read_and_their_changes_announced() {
        let mut old = sample();
        old.insert_file(&path("a"), Node::file("x", at(1), None), "one");
        let x = path("a/x");
        assert_eq!(
            old.node(&x).map(|node| node.kind.clone()),
            Some(NodeKind::File { size: Some(3) })
        );
        assert!(matches!(old.read(&x), Ok(Content::Bytes(bytes)) if bytes == b"one"));
        assert_eq!(old.content(&x), Some(&b"one"[..]));
        assert!(matches!(
            old.read(&path("a")),
            Err(ProviderError::NotAFile(_))
        ));
        assert!(matches!(
            old.read(&path("link")),
            Err(ProviderError::NotAFile(_))
        ));
        assert!(matches!(
            old.read(&path("a/z")),
            Err(ProviderError::NotFound(_))
        ));
        assert!(matches!(old.read(&path("f")), Err(ProviderError::Other(_))));
        // The same node with other bytes (a wrong source time): announced all the same.
        let mut new = old.clone();
        new.insert_file(&path("a"), Node::file("x", at(1), None), "two");
        assert_eq!(told(&old, &new), ["/a/x and below"]);
        // A node inserted over it, or its folder removed, drops its bytes.
        let mut plain = new.clone();
        plain.insert(&path("a"), Node::file("x", at(1), Some(3)));
        assert_eq!(plain.content(&x), None);
        assert!(new.remove(&path("a")));
        assert_eq!(new.content(&x), None);
    }

    #[tokio::test]
    async fn a_walked_provider_round_trips() {
        let tree = sample();
        struct Served(Snapshot);
        #[crate::async_trait]
        impl Provider for Served {
            async fn root(&self) -> Result<Node, ProviderError> {
                Ok(self.0.root().clone())
            }
            async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
                self.0.list(dir)
            }
            async fn read(&self, path: &NodePath) -> Result<crate::Content, ProviderError> {
                Err(ProviderError::NotFound(path.clone()))
            }
        }
        let walked = Snapshot::of(&Served(tree.clone())).await.unwrap();
        assert_eq!(walked, tree);
    }
}
