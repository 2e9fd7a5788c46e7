//! GitConfigFS: SOURCE mirrored read-only, each YAML file a folder of its sections.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use vfs_core::{ChangeNotifier, Content, Node, NodePath, Provider, ProviderError};

use crate::mirror::{
    disk_node, folder_perm, has_yaml_name, io_error, is_mirrored, nanos_to_time, perm_bits,
    with_stat_times, HIDDEN_NAME,
};
use crate::sections::{Repository, SectionCache, TimedYaml, YamlState};
use crate::served::ServedSections;
use crate::watch::SourceWatcher;
use crate::yaml::{children, scalar_text, Entry};

/// The provider behind `vfs mount gitconfig SOURCE MOUNTPOINT`.
pub struct GitConfigProvider {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) source: PathBuf,
    repository: RwLock<Option<Arc<Repository>>>,
    pub(crate) sections: SectionCache,
    served: ServedSections,
    watcher: Mutex<Option<SourceWatcher>>,
}

/// Where a node path leads.
enum Location {
    /// An entry of SOURCE shown as it is.
    Disk { path: PathBuf, metadata: Metadata },
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
                repository: RwLock::new(None),
                sections: SectionCache::default(),
                served: ServedSections::default(),
                watcher: Mutex::new(None),
            }),
        }
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

    async fn stop(&self) {
        let watcher = self
            .inner
            .watcher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(watcher);
    }
}

impl Inner {
    fn start(
        &self,
        notifier: ChangeNotifier,
        weak: std::sync::Weak<Inner>,
    ) -> Result<(), ProviderError> {
        let shown = self.source.display();
        match std::fs::metadata(&self.source) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Err(ProviderError::Other(format!("{shown}: not a directory"))),
            Err(error) => return Err(ProviderError::Other(format!("{shown}: {error}"))),
        }
        let repository = open_repository(&self.source);
        let git_dir = repository
            .as_ref()
            .map(|repository| repository.blamer.git_dir().to_path_buf());
        *self
            .repository
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = repository.map(Arc::new);
        let watcher = SourceWatcher::start(self.source.clone(), git_dir, notifier, weak);
        *self
            .watcher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = watcher;
        Ok(())
    }

    fn repository(&self) -> Option<Arc<Repository>> {
        self.repository
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn root(&self) -> Result<Node, ProviderError> {
        let metadata = std::fs::metadata(&self.source)
            .map_err(|error| io_error(&NodePath::root(), "reading", error))?;
        let mtime = crate::mirror::seconds_and_nanos(
            std::os::unix::fs::MetadataExt::mtime(&metadata),
            std::os::unix::fs::MetadataExt::mtime_nsec(&metadata),
        );
        Ok(with_stat_times(Node::directory("", mtime), &metadata))
    }

    fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        match self.locate(dir)? {
            Location::Disk { path, metadata } if metadata.is_dir() => {
                self.watch_directory(&path);
                self.list_disk(dir, &path)
            }
            Location::Disk { .. } => Err(ProviderError::NotADirectory(dir.clone())),
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
            Location::Disk {
                path: disk,
                metadata,
            } if metadata.is_file() => std::fs::File::open(&disk)
                .map(Content::File)
                .map_err(|error| io_error(path, "opening", error)),
            Location::Disk { .. } => Err(ProviderError::NotAFile(path.clone())),
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

    /// Follows `path` from SOURCE, into a YAML file's sections once it meets one.
    fn locate(&self, path: &NodePath) -> Result<Location, ProviderError> {
        let mut disk = self.source.clone();
        let mut metadata = std::fs::metadata(&self.source)
            .map_err(|error| io_error(&NodePath::root(), "reading", error))?;
        let names = path.names();
        for (index, name) in names.iter().enumerate() {
            if name == HIDDEN_NAME {
                return Err(ProviderError::NotFound(path.clone()));
            }
            if !metadata.is_dir() {
                return Err(ProviderError::NotADirectory(path.clone()));
            }
            disk.push(name);
            metadata = std::fs::symlink_metadata(&disk)
                .map_err(|error| io_error(path, "reading", error))?;
            if !is_mirrored(&metadata) {
                return Err(ProviderError::NotFound(path.clone()));
            }
            if metadata.is_file() && has_yaml_name(name) {
                let relative = relative_path(&names[..=index]);
                let state = self
                    .sections
                    .load(&disk, &relative, &metadata, self.repository().as_deref())
                    .map_err(|error| io_error(path, "reading", error))?;
                if let YamlState::Folder(timed) = state {
                    return Ok(Location::Yaml {
                        relative,
                        timed,
                        file_perm: perm_bits(&metadata),
                        names: names[index + 1..]
                            .iter()
                            .map(|name| name.as_bytes().to_vec())
                            .collect(),
                    });
                }
            }
        }
        Ok(Location::Disk {
            path: disk,
            metadata,
        })
    }

    fn list_disk(&self, dir: &NodePath, disk: &Path) -> Result<Vec<Node>, ProviderError> {
        let reader = std::fs::read_dir(disk).map_err(|error| io_error(dir, "listing", error))?;
        let mut nodes = Vec::new();
        for entry in reader {
            let entry = entry.map_err(|error| io_error(dir, "listing", error))?;
            let name = entry.file_name();
            if name == HIDDEN_NAME {
                continue;
            }
            let path = entry.path();
            // An entry that vanished since the listing is simply not shown.
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !is_mirrored(&metadata) {
                continue;
            }
            if let Some(node) = self.disk_entry_node(dir, &name, &path, &metadata) {
                nodes.push(node);
            }
        }
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    fn disk_entry_node(
        &self,
        dir: &NodePath,
        name: &OsStr,
        path: &Path,
        metadata: &Metadata,
    ) -> Option<Node> {
        if metadata.is_file() && has_yaml_name(name) {
            let mut names: Vec<&OsStr> = dir.names().iter().map(|n| n.as_os_str()).collect();
            names.push(name);
            let relative: PathBuf = names.iter().collect();
            match self
                .sections
                .load(path, &relative, metadata, self.repository().as_deref())
            {
                Ok(YamlState::Folder(timed)) => {
                    return Some(self.file_folder_node(name, &relative, &timed, metadata));
                }
                Ok(YamlState::Plain) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
                // Unreadable: shown as a plain file, whose reading answers the error.
                Err(_) => {}
            }
        }
        disk_node(name, path, metadata).ok()
    }

    fn file_folder_node(
        &self,
        name: &OsStr,
        relative: &Path,
        timed: &TimedYaml,
        metadata: &Metadata,
    ) -> Node {
        let time = self.served.time(
            relative,
            &[],
            timed.parsed.content_hash,
            timed.times.file_time(),
            timed.mtime,
        );
        Node::directory(name, nanos_to_time(time)).with_perm(folder_perm(perm_bits(metadata)))
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
        let fingerprint = parsed.prints.section(entry, &parsed.bytes, &parsed.lines);
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
                .with_perm(file_perm),
            None => Node::directory(name, nanos_to_time(time)).with_perm(folder_perm(file_perm)),
        }
    }

    fn watch_directory(&self, path: &Path) {
        if let Some(watcher) = self
            .watcher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_mut()
        {
            watcher.watch_directory(path);
        }
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

fn relative_path(names: &[std::ffi::OsString]) -> PathBuf {
    names.iter().collect()
}

/// The repository SOURCE lies in; `None`, with one warning, when there is none.
fn open_repository(source: &Path) -> Option<Repository> {
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
    Some(Repository {
        blamer,
        source_in_workdir,
    })
}
