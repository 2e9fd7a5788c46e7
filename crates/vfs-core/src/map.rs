//! [`MapProvider`]: a provider whose tree is a map a test changes (feature `test-util`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::{
    diff, ChangeNotices, ChangeNotifier, Content, Node, NodePath, Notice, Provider, ProviderError,
    Snapshot,
};

/// A test double: a provider whose tree is a map of paths a test sets and removes, and which
/// sends the change notices of each change (computed with [`crate::diff`]) once started.
///
/// **Needs the `test-util` feature** of `vfs-core`: without it this type does not exist (it is
/// shown in the rustdoc all the same). A provider's tests enable it in `[dev-dependencies]`
/// (Cargo merges the features of both tables for tests):
///
/// ```toml
/// [dev-dependencies]
/// vfs-core = { path = "…/crates/vfs-core", features = ["test-util"] }
/// ```
///
/// For tests of code that drives a provider (a host, a sync, a tool over `walk`), and as a
/// model of the provider contract.
///
/// ```
/// # use std::time::{Duration, UNIX_EPOCH};
/// # use vfs_core::{ChangeNotifier, MapProvider, NodePath, Notice, Provider};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let map = MapProvider::new(time);
/// map.set_file("etc/motd", "hello\n", time);
/// let (notifier, notices) = ChangeNotifier::channel();
/// map.start(notifier).await.unwrap();
/// map.set_file("etc/motd", "bye\n", time + Duration::from_secs(1));
/// assert_eq!(notices.pending(), vec![Notice::subtree(NodePath::parse("etc/motd"))]);
/// # }
/// ```
pub struct MapProvider {
    state: Mutex<State>,
    notices: ChangeNotices,
    calls: Calls,
}

struct State {
    tree: Snapshot,
    contents: HashMap<NodePath, Vec<u8>>,
    /// Set by `start`, dropped by `stop`: changes before `start` send nothing.
    notifier: Option<ChangeNotifier>,
}

/// How often each method of a [`MapProvider`] was called (feature `test-util`, as
/// [`MapProvider`]).
#[derive(Debug, Default)]
pub struct Calls {
    pub start: AtomicUsize,
    pub root: AtomicUsize,
    pub list: AtomicUsize,
    pub read: AtomicUsize,
    pub stop: AtomicUsize,
}

impl Calls {
    /// How often `list` was called so far.
    pub fn lists(&self) -> usize {
        self.list.load(Ordering::SeqCst)
    }

    /// How often `read` was called so far.
    pub fn reads(&self) -> usize {
        self.read.load(Ordering::SeqCst)
    }
}

impl MapProvider {
    /// An empty tree whose root has the time `time`; it declares [`ChangeNotices::Partial`].
    pub fn new(time: SystemTime) -> MapProvider {
        MapProvider {
            state: Mutex::new(State {
                tree: Snapshot::new(Node::directory("", time)),
                contents: HashMap::new(),
                notifier: None,
            }),
            notices: ChangeNotices::Partial,
            calls: Calls::default(),
        }
    }

    /// The same provider declaring `notices` instead (e.g. [`ChangeNotices::Complete`]).
    pub fn with_change_notices(mut self, notices: ChangeNotices) -> MapProvider {
        self.notices = notices;
        self
    }

    /// The calls made so far.
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Sets the file at `path` (`/`-separated text) to `content` and `mtime`, creating the
    /// missing folders on the way (with the time `mtime`). Notices follow once started.
    pub fn set_file(&self, path: &str, content: impl Into<Vec<u8>>, mtime: SystemTime) {
        let content = content.into();
        let size = content.len() as u64;
        let path = NodePath::parse(path);
        self.change(|state| {
            let changed = state.contents.get(&path).is_some_and(|old| *old != content);
            state.contents.insert(path.clone(), content);
            place(
                &mut state.tree,
                &path,
                |name| Node::file(name, mtime, Some(size)),
                mtime,
            );
            // Same node but other bytes: a diff cannot see it, so it is told here.
            changed.then(|| Notice::subtree(path.clone()))
        });
    }

    /// Sets a folder at `path` with the time `mtime` (its content stays when it was one).
    pub fn set_dir(&self, path: &str, mtime: SystemTime) {
        let path = NodePath::parse(path);
        self.change(|state| {
            if path.is_root() {
                state.tree.set_root(Node::directory("", mtime));
            } else {
                place(
                    &mut state.tree,
                    &path,
                    |name| Node::directory(name, mtime),
                    mtime,
                );
            }
            None
        });
    }

    /// Sets a symlink at `path` to `target`, with the time `mtime`.
    pub fn set_symlink(&self, path: &str, target: &str, mtime: SystemTime) {
        let path = NodePath::parse(path);
        self.change(|state| {
            place(
                &mut state.tree,
                &path,
                |name| Node::symlink(name, mtime, target),
                mtime,
            );
            None
        });
    }

    /// Removes `path` and everything below it (nothing when it is not there).
    pub fn remove(&self, path: &str) {
        let path = NodePath::parse(path);
        self.change(|state| {
            state.tree.remove(&path);
            state.contents.retain(|file, _| !file.starts_with(&path));
            None
        });
    }

    /// Applies `edit`, then sends the difference (and `extra`) to the notifier, if started.
    fn change(&self, edit: impl FnOnce(&mut State) -> Option<Notice>) {
        let mut state = self.state.lock();
        let before = state.tree.clone();
        let extra = edit(&mut state);
        let Some(notifier) = &state.notifier else {
            return;
        };
        let mut notices = diff(&before, &state.tree);
        if let Some(extra) = extra {
            if !notices.iter().any(|notice| {
                extra.path.starts_with(&notice.path) && notice.reach == crate::Reach::Subtree
            }) {
                notices.push(extra);
            }
        }
        for notice in notices {
            notifier.notify(notice);
        }
    }
}

/// Puts the node `make(name)` at `path`, creating the folders above it that are missing.
fn place(
    tree: &mut Snapshot,
    path: &NodePath,
    make: impl FnOnce(&std::ffi::OsStr) -> Node,
    mtime: SystemTime,
) {
    let (Some(parent), Some(name)) = (path.parent(), path.name()) else {
        return;
    };
    let mut dir = NodePath::root();
    for folder in parent.names() {
        let below = dir.join(folder);
        if !tree.node(&below).is_some_and(Node::is_directory) {
            tree.remove(&below);
            tree.insert(&dir, Node::directory(folder, mtime));
        }
        dir = below;
    }
    let node = make(name);
    if let Some(old) = tree.node(path) {
        if old.is_directory() != node.is_directory() {
            tree.remove(path);
        }
    }
    tree.insert(&parent, node);
}

#[crate::async_trait]
impl Provider for MapProvider {
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        self.calls.start.fetch_add(1, Ordering::SeqCst);
        self.state.lock().notifier = Some(notifier);
        Ok(())
    }

    async fn root(&self) -> Result<Node, ProviderError> {
        self.calls.root.fetch_add(1, Ordering::SeqCst);
        Ok(self.state.lock().tree.root().clone())
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        self.calls.list.fetch_add(1, Ordering::SeqCst);
        self.state.lock().tree.list(dir)
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        self.calls.read.fetch_add(1, Ordering::SeqCst);
        let state = self.state.lock();
        match state.contents.get(path) {
            Some(bytes) => Ok(Content::Bytes(bytes.clone())),
            None if state.tree.node(path).is_some() => Err(ProviderError::NotAFile(path.clone())),
            None => Err(ProviderError::NotFound(path.clone())),
        }
    }

    fn change_notices(&self) -> ChangeNotices {
        self.notices
    }

    async fn stop(&self) {
        self.calls.stop.fetch_add(1, Ordering::SeqCst);
        self.state.lock().notifier = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn text(content: Content) -> String {
        match content {
            Content::Bytes(bytes) => String::from_utf8(bytes).unwrap(),
            Content::File(_) => panic!("a map serves bytes"),
        }
    }

    fn told(receiver: &crate::ChangeReceiver) -> Vec<String> {
        receiver.pending().iter().map(ToString::to_string).collect()
    }

    #[tokio::test]
    async fn serves_what_was_set_and_counts_the_calls() {
        let map = MapProvider::new(at(1));
        map.set_file("a/b/c.txt", "see\n", at(2));
        map.set_symlink("link", "a/b/c.txt", at(3));
        let paths: Vec<String> = crate::walk(&map)
            .await
            .unwrap()
            .iter()
            .map(|entry| entry.path.to_string())
            .collect();
        assert_eq!(paths, ["/", "/a", "/a/b", "/a/b/c.txt", "/link"]);
        let read = map.read(&NodePath::parse("a/b/c.txt")).await.unwrap();
        assert_eq!(text(read), "see\n");
        assert!(matches!(
            map.read(&NodePath::parse("a")).await,
            Err(ProviderError::NotAFile(_))
        ));
        assert!(matches!(
            map.read(&NodePath::parse("nope")).await,
            Err(ProviderError::NotFound(_))
        ));
        assert_eq!(map.calls().lists(), 3);
        assert_eq!(map.calls().reads(), 3);
        assert_eq!(map.change_notices(), ChangeNotices::Partial);
        let complete = MapProvider::new(at(1)).with_change_notices(ChangeNotices::Complete);
        assert_eq!(complete.change_notices(), ChangeNotices::Complete);
    }

    #[tokio::test]
    async fn each_change_sends_its_notices_between_start_and_stop() {
        let map = MapProvider::new(at(1));
        map.set_file("dir/f", "1", at(1));
        let (notifier, receiver) = ChangeNotifier::channel();
        map.set_file("before-start", "x", at(1));
        map.start(notifier).await.unwrap();
        assert!(told(&receiver).is_empty());
        // Same size and time, other bytes: told all the same.
        map.set_file("dir/f", "2", at(1));
        assert_eq!(told(&receiver), ["/dir/f and below"]);
        map.set_file("dir/g", "new", at(5));
        assert_eq!(told(&receiver), ["/dir alone"]);
        map.set_file("dir/g", "new", at(5));
        assert!(told(&receiver).is_empty(), "nothing changed");
        map.remove("dir");
        assert_eq!(told(&receiver), ["/dir and below", "/ alone"]);
        map.set_dir("", at(9));
        assert_eq!(told(&receiver), ["/ alone"]);
        map.set_dir("dir2", at(9));
        assert_eq!(told(&receiver), ["/ alone"]);
        map.set_symlink("dir2", "x", at(9));
        assert_eq!(told(&receiver), ["/dir2 and below", "/ alone"]);
        map.stop().await;
        map.remove("dir2");
        assert!(told(&receiver).is_empty(), "a stopped map tells nothing");
    }
}
