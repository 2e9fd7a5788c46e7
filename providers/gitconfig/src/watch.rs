//! Freshness: change notices from the operating system's file events (inotify on Linux) on the
//! directories the mount has listed and on the repository's HEAD, refs and index; or, where
//! there are no usable events (every system but Linux, or when asked: [`WatchMode::Polling`]),
//! from polling them.
//!
//! Directories are watched lazily, when first listed, so a large tree costs one watch per
//! directory someone looked at, not one per directory it has. A watched directory that is
//! removed or renamed is forgotten (the kernel drops a removed directory's watch), so the one
//! made again in its place is watched when it is listed.
//!
//! The watcher knows the provider only through [`WatchedSource`] (no module circle with
//! `provider`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use parking_lot::Mutex;
use vfs_core::{ChangeNotifier, NodePath};

use crate::mirror::HIDDEN_NAME;

/// What the watcher needs of the provider.
pub trait WatchedSource: Send + Sync {
    /// A fingerprint of what a directory of SOURCE holds (names, kinds, sizes, times of its
    /// entries), for polling; 0 when it cannot be read.
    fn directory_fingerprint(&self, directory: &NodePath) -> u64;
    /// The files of SOURCE whose blame times were served (absolute paths): what a move of HEAD
    /// may change.
    fn timed_files(&self) -> Vec<PathBuf>;
}

/// How GitConfigFS learns of changes in SOURCE and its repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchMode {
    /// File events (inotify): every change is announced, the provider's notices are
    /// [`vfs_core::ChangeNotices::Complete`]. Linux only; elsewhere it means [`Self::Polling`].
    Events,
    /// Every listed directory of SOURCE (a fingerprint of its entries' names, kinds, sizes and
    /// times) and the repository's HEAD, index, packed-refs and refs (their times) are looked
    /// at every 500 ms, and a notice sent for what changed. Cheaper to trust less: notices are
    /// [`vfs_core::ChangeNotices::Partial`] (a change between two looks that leaves no trace in
    /// times and sizes is seen only after the TTL).
    Polling,
}

impl Default for WatchMode {
    /// [`Self::Events`] on Linux, [`Self::Polling`] elsewhere; `VFS_GITCONFIG_WATCH=poll` in
    /// the environment chooses polling anywhere (to try the fallback on Linux).
    fn default() -> Self {
        let forced = std::env::var_os(WATCH_ENV).is_some_and(|value| value == "poll");
        if cfg!(target_os = "linux") && !forced {
            WatchMode::Events
        } else {
            WatchMode::Polling
        }
    }
}

/// The environment variable that forces [`WatchMode::Polling`] (value `poll`).
pub const WATCH_ENV: &str = "VFS_GITCONFIG_WATCH";

pub struct SourceWatcher {
    /// inotify on SOURCE and the repository ([`WatchMode::Events`]), or notify's polling
    /// watcher on the repository alone ([`WatchMode::Polling`]: SOURCE's folders go to
    /// `poller`, which reads them through the provider, never by name).
    watcher: Box<dyn Watcher + Send>,
    mode: WatchMode,
    /// Watched directories and the inode each was when its watch was set.
    watched: HashMap<PathBuf, u64>,
    /// Paths removed or renamed away, as the event handler saw them; pruned from `watched` on
    /// the next watch. The handler runs on notify's thread, which `watch` waits on, so it never
    /// takes the lock the watcher is behind: only this one, held for a push.
    gone: Arc<Mutex<Vec<PathBuf>>>,
    /// Directories no watch could be set on (watch limit reached, a path too long for inotify),
    /// so that the provider's notices stay complete; every directory when polling.
    poller: Poller,
    source: PathBuf,
}

/// How often directories without a watch (and, polling, the repository) are looked at again.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// A thread that lists the directories inotify cannot watch (every listed one, polling) every
/// [`POLL_INTERVAL`] and sends a notice for each one whose entries (names, kinds, sizes, times)
/// changed.
struct Poller {
    /// The directories polled (node paths) and the fingerprint each had when last looked at.
    polled: Arc<Mutex<HashMap<NodePath, u64>>>,
    stop: Arc<AtomicBool>,
    started: bool,
    notifier: ChangeNotifier,
    inner: Weak<dyn WatchedSource>,
}

impl Poller {
    fn add(&mut self, directory: NodePath) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let fingerprint = inner.directory_fingerprint(&directory);
        self.polled.lock().insert(directory, fingerprint);
        if !self.started {
            self.started = true;
            let (polled, stop) = (self.polled.clone(), self.stop.clone());
            let (notifier, inner) = (self.notifier.clone(), self.inner.clone());
            let spawned = std::thread::Builder::new()
                .name("gitconfig-poll".into())
                .spawn(move || poll(&polled, &stop, &notifier, &inner));
            if let Err(error) = spawned {
                tracing::warn!("cannot start polling unwatched folders: {error}");
            }
        }
    }

    fn remove_below(&mut self, directory: &NodePath) {
        self.polled
            .lock()
            .retain(|polled, _| !polled.starts_with(directory));
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn poll(
    polled: &Mutex<HashMap<NodePath, u64>>,
    stop: &AtomicBool,
    notifier: &ChangeNotifier,
    inner: &Weak<dyn WatchedSource>,
) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL_INTERVAL);
        let Some(inner) = inner.upgrade() else { return };
        let directories: Vec<(NodePath, u64)> = polled
            .lock()
            .iter()
            .map(|(path, print)| (path.clone(), *print))
            .collect();
        for (directory, before) in directories {
            let now = inner.directory_fingerprint(&directory);
            if now != before {
                polled.lock().insert(directory.clone(), now);
                notifier.changed(directory);
            }
        }
    }
}

impl SourceWatcher {
    /// Starts watching SOURCE's root and the repository; `None` (with a warning) when no
    /// watcher can be made, in which case changes are seen after the TTL.
    pub fn start(
        source: PathBuf,
        source_inode: u64,
        git_dir: Option<PathBuf>,
        notifier: ChangeNotifier,
        inner: Weak<dyn WatchedSource>,
        mode: WatchMode,
    ) -> Option<SourceWatcher> {
        let mode = match mode {
            WatchMode::Events if cfg!(target_os = "linux") => WatchMode::Events,
            _ => WatchMode::Polling,
        };
        let handler_source = source.clone();
        let handler_git_dir = git_dir.clone();
        let (poller_notifier, poller_inner) = (notifier.clone(), inner.clone());
        let gone = Arc::new(Mutex::new(Vec::new()));
        let handler_gone = gone.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(
                event.kind,
                EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
            ) {
                handler_gone.lock().extend(event.paths.iter().cloned());
            }
            announce(
                &event,
                &handler_source,
                handler_git_dir.as_deref(),
                &notifier,
                &inner,
            );
        };
        let watcher = match make_watcher(mode, handler) {
            Ok(watcher) => watcher,
            Err(error) => {
                tracing::warn!(
                    "cannot watch {}: {error}; changes are seen after the TTL",
                    source.display()
                );
                return None;
            }
        };
        let poller = Poller {
            polled: Arc::default(),
            stop: Arc::default(),
            started: false,
            notifier: poller_notifier,
            inner: poller_inner,
        };
        let mut watcher = SourceWatcher {
            watcher,
            mode,
            watched: HashMap::new(),
            gone,
            poller,
            source: source.clone(),
        };
        watcher.watch(&source, source_inode, RecursiveMode::NonRecursive);
        if let Some(git_dir) = git_dir {
            // Watched once, from the start: their inodes are never compared. Polled, they are
            // stat-ed by name (the repository is git's, not served), links not followed.
            watcher.watch_repository(&git_dir, RecursiveMode::NonRecursive);
            watcher.watch_repository(&git_dir.join("refs"), RecursiveMode::Recursive);
        }
        Some(watcher)
    }

    /// Whether every change is announced (file events), so the provider may declare its
    /// notices complete.
    pub fn is_complete(&self) -> bool {
        self.mode == WatchMode::Events
    }

    fn watch_repository(&mut self, path: &Path, mode: RecursiveMode) {
        match self.watcher.watch(path, mode) {
            Ok(()) => {
                self.watched.insert(path.to_path_buf(), 0);
            }
            Err(error) => tracing::warn!(
                "cannot watch {} ({error}): commits and checkouts are seen after the TTL",
                path.display()
            ),
        }
    }

    /// Watches a directory of SOURCE, found at `path` as inode `inode`: once, and again when
    /// a new directory took the place of the one watched.
    pub fn watch_directory(&mut self, path: &Path, inode: u64) {
        self.watch(path, inode, RecursiveMode::NonRecursive);
    }

    fn watch(&mut self, path: &Path, inode: u64, mode: RecursiveMode) {
        self.prune_gone();
        if self.mode == WatchMode::Polling {
            if self.watched.insert(path.to_path_buf(), inode) != Some(inode) {
                if let Some(directory) = node_path(&self.source, path) {
                    self.poller.add(directory);
                }
            }
            return;
        }
        match self.watched.get(path) {
            Some(watched) if *watched == inode => return,
            Some(_) => {
                // Another directory now: the old watch (if the kernel still has it) follows the
                // old one wherever it went.
                let _ = self.watcher.unwatch(path);
                self.watched.remove(path);
            }
            None => {}
        }
        match self.watcher.watch(path, mode) {
            Ok(()) => {
                self.watched.insert(path.to_path_buf(), inode);
            }
            Err(error) => {
                // Polled instead (once per folder: it is not tried again while it is there), so
                // a change there is still announced, within the polling interval.
                let why = match &error.kind {
                    notify::ErrorKind::Io(io) if io.raw_os_error() == Some(libc_enametoolong()) => {
                        "its path is too long for inotify".to_string()
                    }
                    notify::ErrorKind::MaxFilesWatch => {
                        "the inotify watch limit is reached (fs.inotify.max_user_watches)"
                            .to_string()
                    }
                    _ => error.to_string(),
                };
                tracing::warn!(
                    "cannot watch {} ({why}): it is polled every {} ms instead",
                    path.display(),
                    POLL_INTERVAL.as_millis()
                );
                self.watched.insert(path.to_path_buf(), inode);
                if let Some(directory) = node_path(&self.source, path) {
                    self.poller.add(directory);
                }
            }
        }
    }

    /// Forgets the watches of directories removed or renamed away, and of all below them.
    fn prune_gone(&mut self) {
        let gone = std::mem::take(&mut *self.gone.lock());
        for path in gone {
            let below: Vec<PathBuf> = self
                .watched
                .keys()
                .filter(|watched| watched.starts_with(&path))
                .cloned()
                .collect();
            for watched in below {
                let _ = self.watcher.unwatch(&watched);
                self.watched.remove(&watched);
            }
            if let Some(directory) = node_path(&self.source, &path) {
                self.poller.remove_below(&directory);
            }
        }
    }
}

/// The file-event watcher (inotify), or notify's polling watcher for the repository alone.
fn make_watcher<F>(mode: WatchMode, handler: F) -> notify::Result<Box<dyn Watcher + Send>>
where
    F: notify::EventHandler,
{
    Ok(match mode {
        WatchMode::Events => Box::new(notify::recommended_watcher(handler)?),
        WatchMode::Polling => Box::new(notify::PollWatcher::new(
            handler,
            notify::Config::default()
                .with_poll_interval(POLL_INTERVAL)
                .with_follow_symlinks(false),
        )?),
    })
}

/// `ENAMETOOLONG`, the answer of inotify for a path over `PATH_MAX`.
fn libc_enametoolong() -> i32 {
    rustix::io::Errno::NAMETOOLONG.raw_os_error()
}

/// Sends the notices one file event (of inotify, or of the repository's poller) calls for.
fn announce(
    event: &notify::Event,
    source: &Path,
    git_dir: Option<&Path>,
    notifier: &ChangeNotifier,
    inner: &Weak<dyn WatchedSource>,
) {
    if matches!(event.kind, EventKind::Access(_)) {
        return;
    }
    if event.need_rescan() {
        // The kernel's event queue overflowed: any change may have been lost, so everything
        // shown is announced (the host asks again, and the caches answer what did not change).
        tracing::warn!("inotify's queue overflowed: the whole tree is checked again");
        notifier.changed(NodePath::root());
    }
    let mut repository_moved = false;
    for path in &event.paths {
        if let Some(inside) = git_dir.and_then(|git_dir| path.strip_prefix(git_dir).ok()) {
            repository_moved |= moves_blame(inside);
            continue;
        }
        let Some(node) = node_path(source, path) else {
            continue;
        };
        let content_only = matches!(
            event.kind,
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Metadata(_))
        );
        // An entry made, removed or renamed (an editor's or `sed -i`'s save, a checkout)
        // changes the names of its folder, and the entry at its path and all below it: not its
        // siblings, whose answers the kernel keeps (a notice for the whole folder made the next
        // walk read again every file and folder beside the one saved).
        if let (false, Some(parent)) = (content_only, node.parent()) {
            notifier.changed_node(parent);
        }
        notifier.changed(node);
    }
    if repository_moved {
        // HEAD moved (commit, checkout, reset): the times of every YAML file shown may move.
        let Some(inner) = inner.upgrade() else { return };
        for file in inner.timed_files() {
            if let Some(node) = node_path(source, &file) {
                notifier.changed(node);
            }
        }
    }
}

/// Whether a change to this file of the git directory can change what blame answers.
fn moves_blame(inside_git_dir: &Path) -> bool {
    let mut components = inside_git_dir.components();
    match components.next() {
        Some(Component::Normal(first)) => {
            first == "HEAD" || first == "packed-refs" || first == "index" || first == "refs"
        }
        _ => false,
    }
}

/// The node path of a path under SOURCE; `None` outside it or inside a `.git`.
fn node_path(source: &Path, path: &Path) -> Option<NodePath> {
    let relative = path.strip_prefix(source).ok()?;
    let mut names = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) if name != HIDDEN_NAME => names.push(name.to_os_string()),
            _ => return None,
        }
    }
    Some(NodePath::from_names(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_head_refs_and_index_move_blame() {
        assert!(moves_blame(Path::new("HEAD")));
        assert!(moves_blame(Path::new("refs/heads/main")));
        assert!(moves_blame(Path::new("index")));
        assert!(moves_blame(Path::new("packed-refs")));
        assert!(!moves_blame(Path::new("index.lock")));
        assert!(!moves_blame(Path::new("objects/ab/cdef")));
    }

    #[test]
    fn paths_inside_git_directories_are_not_nodes() {
        let source = Path::new("/src");
        assert_eq!(
            node_path(source, Path::new("/src/a/b.yml")),
            Some(NodePath::parse("a/b.yml"))
        );
        assert_eq!(node_path(source, Path::new("/src/sub/.git/HEAD")), None);
        assert_eq!(node_path(source, Path::new("/elsewhere")), None);
        assert_eq!(node_path(source, Path::new("/src")), Some(NodePath::root()));
    }
}
