//! GitConfigFS: SOURCE mirrored read-only, each YAML file a folder of its sections.
//!
//! Every access to SOURCE goes through [`SourceTree`]: relative to open directory descriptors,
//! never following a symlink, never blocking, and never inside a FUSE mount below SOURCE.

use std::ffi::{OsStr, OsString};
use std::hash::Hash;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use vfs_core::{ChangeNotices, ChangeNotifier, Content, Node, NodePath, Provider, ProviderError};

use crate::formats::{Format, Formats};
use crate::mirror::{
    disk_node, folder_perm, io_error, nanos_to_time, section_perm, with_stat_times, HIDDEN_NAME,
};
use crate::sections::{Repository, SectionCache, TimedYaml, YamlState};
use crate::served::{store_file, ServedSections};
use crate::source::{check_directory, EntryKind, EntryStat, OpenDir, SourceTree};
use crate::watch::{SourceWatcher, WatchMode, WatchedSource};
use crate::yaml::{children, scalar_text, Entry};

/// The provider behind `vfs mount gitconfig SOURCE MOUNTPOINT`.
pub struct GitConfigProvider {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) source: PathBuf,
    /// SOURCE held open, from the first time it is needed (the start, normally).
    tree: RwLock<Option<Arc<SourceTree>>>,
    repository: RwLock<Option<Arc<Repository>>>,
    pub(crate) sections: SectionCache,
    served: ServedSections,
    /// Where the served-sections store is kept (`None`: in memory only).
    state_dir: Option<PathBuf>,
    /// Which files are shown as folders of their sections, in which format.
    formats: Formats,
    watcher: Mutex<Option<SourceWatcher>>,
    watch_mode: WatchMode,
}

/// Where a node path leads.
enum Location {
    /// A directory of SOURCE, open.
    Directory(OpenDir),
    /// A file or symlink of SOURCE: its name in its open parent, and its `stat`.
    Entry {
        parent: OpenDir,
        name: OsString,
        stat: EntryStat,
    },
    /// A YAML file's folder (`names` empty) or a section inside it.
    Yaml {
        relative: PathBuf,
        timed: Arc<TimedYaml>,
        file_perm: u16,
        names: Vec<Vec<u8>>,
    },
}

impl GitConfigProvider {
    /// A provider for `source`; nothing is read until it is started or asked.
    pub fn new(source: impl Into<PathBuf>) -> Self {
        let source = source.into();
        let source = std::path::absolute(&source).unwrap_or(source);
        GitConfigProvider {
            inner: Arc::new(Inner {
                source,
                tree: RwLock::new(None),
                repository: RwLock::new(None),
                sections: SectionCache::default(),
                served: ServedSections::default(),
                state_dir: None,
                formats: Formats::default(),
                watcher: Mutex::new(None),
                watch_mode: WatchMode::default(),
            }),
        }
    }

    /// The same provider, showing only the files `formats` chooses as folders (by default,
    /// every YAML, JSON, TOML, INI and `.env` file).
    pub fn with_formats(mut self, formats: Formats) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.formats = formats;
        }
        self
    }

    /// The same provider, remembering what it served in a store under `state_dir` (one file
    /// per SOURCE, see `docs/gitconfig.md`), so times survive unmount, remount and reboot.
    /// Without it the memory lasts as long as the provider.
    pub fn with_state_dir(mut self, state_dir: impl Into<PathBuf>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.state_dir = Some(state_dir.into());
        }
        self
    }

    /// The same provider, learning of changes as `mode` says (by default file events on
    /// Linux, polling elsewhere; see [`WatchMode`]).
    pub fn with_watch_mode(mut self, mode: WatchMode) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.watch_mode = mode;
        }
        self
    }

    /// SOURCE, as an absolute path.
    pub fn source(&self) -> &Path {
        &self.inner.source
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, ProviderError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, ProviderError> + Send + 'static,
    {
        let inner = self.inner.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || work(&inner))
                .await
                .map_err(|error| {
                    ProviderError::Other(format!("gitconfig worker failed: {error}"))
                })?,
            Err(_) => work(&inner),
        }
    }
}

#[vfs_core::async_trait]
impl Provider for GitConfigProvider {
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        let weak = Arc::downgrade(&self.inner);
        self.blocking(move |inner| inner.start(notifier, weak))
            .await
    }

    async fn root(&self) -> Result<Node, ProviderError> {
        self.blocking(|inner| inner.root()).await
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        let dir = dir.clone();
        self.blocking(move |inner| inner.list(&dir)).await
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        let path = path.clone();
        self.blocking(move |inner| inner.read(&path)).await
    }

    /// Complete while inotify watches SOURCE: every listed folder is watched (or polled when a
    /// watch cannot be set), the repository's HEAD, index, packed-refs and refs are watched, and
    /// an overflow of inotify's queue announces the whole tree. The host then keeps answers for
    /// the long TTL. Without inotify (polling, or no watcher at all), partial: changes show
    /// after the short TTL at the latest.
    fn change_notices(&self) -> ChangeNotices {
        let watcher = self.inner.watcher.lock();
        match watcher.as_ref().is_some_and(SourceWatcher::is_complete) {
            true => ChangeNotices::Complete,
            false => ChangeNotices::Partial,
        }
    }

    fn local_sources(&self) -> Vec<PathBuf> {
        vec![self.inner.source.clone()]
    }

    async fn stop(&self) {
        let watcher = self.inner.watcher.lock().take();
        drop(watcher);
    }
}

impl Inner {
    fn start(
        &self,
        notifier: ChangeNotifier,
        weak: std::sync::Weak<Inner>,
    ) -> Result<(), ProviderError> {
        let tree = self.tree()?;
        let repository = open_repository(&self.source, &self.formats);
        let git_dir = repository
            .as_ref()
            .map(|repository| repository.blamer.git_dir().to_path_buf());
        *self.repository.write() = repository.map(Arc::new);
        let root = tree
            .root()
            .map_err(|error| ProviderError::Other(format!("{}: {error}", self.source.display())))?;
        if let Some(state_dir) = &self.state_dir {
            self.served.attach(store_file(state_dir, &root.path));
        }
        let watcher = SourceWatcher::start(
            root.path,
            root.stat.ino,
            git_dir,
            notifier,
            weak,
            self.watch_mode,
        );
        *self.watcher.lock() = watcher;
        Ok(())
    }

    /// SOURCE, opened the first time it is needed.
    fn tree(&self) -> Result<Arc<SourceTree>, ProviderError> {
        if let Some(tree) = self.tree.read().as_ref() {
            return Ok(tree.clone());
        }
        let mut slot = self.tree.write();
        if let Some(tree) = slot.as_ref() {
            return Ok(tree.clone());
        }
        let shown = self.source.display();
        check_directory(&self.source)
            .map_err(|error| ProviderError::Other(format!("{shown}: {error}")))?;
        let tree = Arc::new(
            SourceTree::open(&self.source)
                .map_err(|error| ProviderError::Other(format!("{shown}: {error}")))?,
        );
        *slot = Some(tree.clone());
        Ok(tree)
    }

    fn repository(&self) -> Option<Arc<Repository>> {
        self.repository.read().clone()
    }

    fn root(&self) -> Result<Node, ProviderError> {
        let root = self
            .tree()?
            .root()
            .map_err(|error| io_error(&NodePath::root(), "reading", error))?;
        Ok(with_stat_times(
            Node::directory("", nanos_to_time(root.stat.mtime)),
            &root.stat,
        ))
    }

    fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        let nodes = self.list_nodes(dir);
        // The times about to be served are in the store before they are served.
        self.served.save();
        nodes
    }

    fn list_nodes(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        match self.locate(dir)? {
            Location::Directory(open) => {
                self.watch_directory(&open);
                self.list_disk(dir, &open)
            }
            Location::Entry { .. } => Err(ProviderError::NotADirectory(dir.clone())),
            Location::Yaml {
                relative,
                timed,
                file_perm,
                names,
            } => {
                let entries = match names.is_empty() {
                    true => timed.parsed.top.clone(),
                    false => {
                        let entry = find_entry(&timed, &names, dir)?;
                        children(&timed.parsed.file, entry.value)
                            .ok_or_else(|| ProviderError::NotADirectory(dir.clone()))?
                    }
                };
                Ok(entries
                    .iter()
                    .map(|entry| self.entry_node(&timed, &relative, &names, entry, file_perm))
                    .collect())
            }
        }
    }

    fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        match self.locate(path)? {
            Location::Entry {
                parent, name, stat, ..
            } if stat.is_file() => {
                let (file, _) = self
                    .tree()?
                    .open_file(&parent, &name)
                    .map_err(|error| io_error(path, "opening", error))?;
                Ok(Content::File(file))
            }
            Location::Entry { .. } | Location::Directory(_) => {
                Err(ProviderError::NotAFile(path.clone()))
            }
            Location::Yaml { timed, names, .. } => {
                if names.is_empty() {
                    return Err(ProviderError::NotAFile(path.clone()));
                }
                let entry = find_entry(&timed, &names, path)?;
                let text = scalar_text(&timed.parsed.file, entry.value)
                    .ok_or_else(|| ProviderError::NotAFile(path.clone()))?;
                Ok(Content::Bytes(scalar_content(text)))
            }
        }
    }

    /// Follows `path` from SOURCE, one open directory at a time, into a YAML file's sections
    /// once it meets one.
    fn locate(&self, path: &NodePath) -> Result<Location, ProviderError> {
        let tree = self.tree()?;
        let failed = |error| io_error(path, "reading", error);
        let mut dir = tree.root().map_err(failed)?;
        let names = path.names();
        for (index, name) in names.iter().enumerate() {
            if name == HIDDEN_NAME {
                return Err(ProviderError::NotFound(path.clone()));
            }
            let last = index + 1 == names.len();
            let stat = tree
                .stat(&dir, name)
                .map_err(failed)?
                .ok_or_else(|| ProviderError::NotFound(path.clone()))?;
            // A config file shown as a folder: its path relative to SOURCE and its format.
            let config = match stat.kind {
                EntryKind::File if Format::of_name(name).is_some() => {
                    let relative = relative_of(&names[..=index]);
                    self.formats.of(&relative).map(|format| (relative, format))
                }
                _ => None,
            };
            match (stat.kind, config) {
                (EntryKind::Directory, _) => dir = tree.open_dir(&dir, name).map_err(failed)?,
                (EntryKind::File, Some((relative, format))) => {
                    let (file, stat) = tree.open_file(&dir, name).map_err(failed)?;
                    let state = self
                        .sections
                        .load(
                            file,
                            &stat,
                            &dir.path.join(name),
                            &relative,
                            format,
                            self.repository().as_deref(),
                        )
                        .map_err(failed)?;
                    match state {
                        YamlState::Folder(timed) => {
                            return Ok(Location::Yaml {
                                relative,
                                timed,
                                file_perm: stat.perm,
                                names: names[index + 1..]
                                    .iter()
                                    .map(|name| name.as_bytes().to_vec())
                                    .collect(),
                            })
                        }
                        YamlState::Plain if last => {
                            return Ok(Location::Entry {
                                parent: dir,
                                name: name.clone(),
                                stat,
                            })
                        }
                        YamlState::Plain => return Err(ProviderError::NotADirectory(path.clone())),
                    }
                }
                (EntryKind::File | EntryKind::Symlink, _) if last => {
                    return Ok(Location::Entry {
                        parent: dir,
                        name: name.clone(),
                        stat,
                    })
                }
                (EntryKind::File | EntryKind::Symlink, _) => {
                    return Err(ProviderError::NotADirectory(path.clone()))
                }
                (EntryKind::Other, _) => return Err(ProviderError::NotFound(path.clone())),
            }
        }
        Ok(Location::Directory(dir))
    }

    fn list_disk(&self, dir_path: &NodePath, dir: &OpenDir) -> Result<Vec<Node>, ProviderError> {
        let tree = self.tree()?;
        let names = tree
            .names(dir)
            .map_err(|error| io_error(dir_path, "listing", error))?;
        let mut entries = Vec::new();
        for name in names {
            if name == HIDDEN_NAME {
                continue;
            }
            // An entry that vanished since the listing, or a hidden mountpoint, is not shown.
            let Ok(Some(stat)) = tree.stat(dir, &name) else {
                continue;
            };
            if stat.is_mirrored() {
                entries.push((name, stat));
            }
        }
        // Config files are read, parsed and blamed here, which is the cost of a first walk:
        // several in one folder are loaded on all cores (each file's blame is its own work).
        let config_files = entries
            .iter()
            .filter(|(name, stat)| stat.is_file() && Format::of_name(name).is_some())
            .count();
        let workers = match config_files {
            0 | 1 => 1,
            count => std::thread::available_parallelism().map_or(1, |cores| cores.get().min(count)),
        };
        let node_of = |(name, stat): &(OsString, EntryStat)| {
            self.disk_entry_node(&tree, dir_path, dir, name, stat)
        };
        let mut nodes: Vec<Node> = match workers {
            1 => entries.iter().filter_map(node_of).collect(),
            _ => {
                let next = std::sync::atomic::AtomicUsize::new(0);
                let mut slots: Vec<Option<Node>> = Vec::new();
                slots.resize_with(entries.len(), || None);
                let slots = parking_lot::Mutex::new(slots);
                std::thread::scope(|scope| {
                    for _ in 0..workers {
                        scope.spawn(|| loop {
                            let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(entry) = entries.get(index) else {
                                break;
                            };
                            let node = node_of(entry);
                            slots.lock()[index] = node;
                        });
                    }
                });
                slots.into_inner().into_iter().flatten().collect()
            }
        };
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    fn disk_entry_node(
        &self,
        tree: &SourceTree,
        dir_path: &NodePath,
        dir: &OpenDir,
        name: &OsStr,
        stat: &EntryStat,
    ) -> Option<Node> {
        let config = match stat.kind {
            EntryKind::File if Format::of_name(name).is_some() => {
                let relative: PathBuf = dir_path
                    .names()
                    .iter()
                    .map(|name| name.as_os_str())
                    .chain([name])
                    .collect();
                self.formats.of(&relative).map(|format| (relative, format))
            }
            _ => None,
        };
        match (stat.kind, config) {
            (EntryKind::File, Some((relative, format))) => {
                let opened = tree.open_file(dir, name);
                let loaded = opened.and_then(|(file, opened_stat)| {
                    let state = self.sections.load(
                        file,
                        &opened_stat,
                        &dir.path.join(name),
                        &relative,
                        format,
                        self.repository().as_deref(),
                    )?;
                    Ok((state, opened_stat))
                });
                match loaded {
                    Ok((YamlState::Folder(timed), opened_stat)) => {
                        Some(self.file_folder_node(name, &relative, &timed, &opened_stat))
                    }
                    Ok((YamlState::Plain, opened_stat)) => {
                        Some(disk_node(name, &opened_stat, None))
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                    // Unreadable: shown as a plain file, whose reading answers the error.
                    Err(_) => Some(disk_node(name, stat, None)),
                }
            }
            (EntryKind::Symlink, _) => {
                // A symlink replaced since its stat is simply not shown this time.
                let target = tree.read_link(dir, name).ok()?;
                Some(disk_node(name, stat, Some(target)))
            }
            _ => Some(disk_node(name, stat, None)),
        }
    }

    fn file_folder_node(
        &self,
        name: &OsStr,
        relative: &Path,
        timed: &TimedYaml,
        stat: &EntryStat,
    ) -> Node {
        let time = self.served.time(
            relative,
            &[],
            timed.parsed.file_meaning,
            timed.times.file_time(),
            timed.mtime,
        );
        Node::directory(name, nanos_to_time(time)).with_perm(folder_perm(stat.perm))
    }

    fn entry_node(
        &self,
        timed: &TimedYaml,
        relative: &Path,
        parent_names: &[Vec<u8>],
        entry: &Entry,
        file_perm: u16,
    ) -> Node {
        let parsed = &timed.parsed;
        let fingerprint = parsed.meaning.section(entry);
        let mut names = parent_names.to_vec();
        names.push(entry.name.clone());
        let time = self.served.time(
            relative,
            &names,
            fingerprint,
            timed.times.entry_time(entry),
            timed.mtime,
        );
        let name = OsStr::from_bytes(&entry.name);
        match scalar_text(&parsed.file, entry.value) {
            Some(text) => Node::file(name, nanos_to_time(time), Some(text.len() as u64 + 1))
                .with_perm(section_perm(file_perm)),
            None => Node::directory(name, nanos_to_time(time)).with_perm(folder_perm(file_perm)),
        }
    }

    /// A fingerprint of what a directory of SOURCE holds (names, kinds, sizes, times of its
    /// entries), for the poller of directories inotify cannot watch; 0 when it cannot be read.
    pub(crate) fn directory_fingerprint(&self, directory: &NodePath) -> u64 {
        let Ok(Location::Directory(open)) = self.locate(directory) else {
            return 0;
        };
        let Ok(tree) = self.tree() else { return 0 };
        let Ok(mut names) = tree.names(&open) else {
            return 0;
        };
        names.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for name in names {
            name.hash(&mut hasher);
            if let Ok(Some(stat)) = tree.stat(&open, &name) {
                (stat.ino, stat.size, stat.mtime, stat.ctime, stat.is_dir()).hash(&mut hasher);
            }
        }
        std::hash::Hasher::finish(&hasher)
    }

    fn watch_directory(&self, dir: &OpenDir) {
        if let Some(watcher) = self.watcher.lock().as_mut() {
            watcher.watch_directory(&dir.path, dir.stat.ino);
        }
    }
}

impl WatchedSource for Inner {
    fn directory_fingerprint(&self, directory: &NodePath) -> u64 {
        Inner::directory_fingerprint(self, directory)
    }

    fn timed_files(&self) -> Vec<PathBuf> {
        self.sections.timed_files()
    }
}

/// The entry that `names` leads to inside a YAML file's folder.
fn find_entry(
    timed: &TimedYaml,
    names: &[Vec<u8>],
    path: &NodePath,
) -> Result<Entry, ProviderError> {
    let file = &timed.parsed.file;
    let mut entries = timed.parsed.top.clone();
    let mut found: Option<Entry> = None;
    for name in names {
        if let Some(previous) = &found {
            entries = children(file, previous.value)
                .ok_or_else(|| ProviderError::NotADirectory(path.clone()))?;
        }
        let entry = entries
            .iter()
            .find(|entry| &entry.name == name)
            .cloned()
            .ok_or_else(|| ProviderError::NotFound(path.clone()))?;
        found = Some(entry);
    }
    found.ok_or_else(|| ProviderError::NotFound(path.clone()))
}

/// A scalar section's file: its text and a newline.
pub fn scalar_content(text: &str) -> Vec<u8> {
    let mut content = Vec::with_capacity(text.len() + 1);
    content.extend_from_slice(text.as_bytes());
    content.push(b'\n');
    content
}

/// The repository SOURCE lies in; `None`, with one warning, when there is none. The histories
/// of the config files under SOURCE (those `formats` shows as folders) are walked together: a
/// first walk blames every one of them, and one pass over the commits serves them all.
fn open_repository(source: &Path, formats: &Formats) -> Option<Repository> {
    let blamer = match vfs_blame::Blamer::discover(source) {
        Ok(blamer) => blamer,
        Err(error) => {
            tracing::warn!(
                "{}: {error}; every time is the file's mtime",
                source.display()
            );
            return None;
        }
    };
    let canonical_source = source
        .canonicalize()
        .unwrap_or_else(|_| source.to_path_buf());
    let canonical_workdir = blamer
        .workdir()
        .canonicalize()
        .unwrap_or_else(|_| blamer.workdir().to_path_buf());
    let source_in_workdir = canonical_source
        .strip_prefix(&canonical_workdir)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let (under, formats) = (source_in_workdir.clone(), formats.clone());
    let blamer = blamer.with_shared_history(source_in_workdir.clone(), move |path| {
        path.strip_prefix(&under)
            .is_ok_and(|relative| formats.of(relative).is_some())
    });
    Some(Repository {
        blamer,
        source_in_workdir,
    })
}

/// A path relative to SOURCE from its names.
fn relative_of(names: &[OsString]) -> PathBuf {
    names.iter().collect()
}
