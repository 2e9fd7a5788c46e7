//! A provider whose tree the test edits, and a reader of folders for comparing them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vfs_core::{
    async_trait, ChangeNotices, ChangeNotifier, Content, CopiedContents, Node, NodePath, Provider,
    ProviderError,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(String),
    Link(String),
}

/// A tree in memory: path ("a/b", "" for the root) → kind and time.
#[derive(Default)]
pub struct Model {
    pub nodes: BTreeMap<String, (Kind, SystemTime)>,
    notifier: Option<ChangeNotifier>,
}

pub struct TestProvider {
    pub model: Mutex<Model>,
    pub contents: CopiedContents,
}

pub fn at(seconds: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(1_600_000_000 + seconds, nanos)
}

impl TestProvider {
    pub fn new() -> Arc<TestProvider> {
        let mut model = Model::default();
        model.nodes.insert(String::new(), (Kind::Dir, at(0, 0)));
        Arc::new(TestProvider {
            model: Mutex::new(model),
            contents: CopiedContents::Allowed,
        })
    }

    pub fn with_contents(contents: CopiedContents) -> Arc<TestProvider> {
        let provider = TestProvider::new();
        let model = std::mem::take(&mut *provider.model.lock().unwrap());
        Arc::new(TestProvider {
            model: Mutex::new(model),
            contents,
        })
    }

    /// Edits the tree, then sends `notices` (after the edit, as a real provider does).
    pub fn edit(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, (Kind, SystemTime)>),
        notices: &[(bool, &str)],
    ) {
        let mut model = self.model.lock().unwrap();
        change(&mut model.nodes);
        if let Some(notifier) = &model.notifier {
            for (subtree, path) in notices {
                if *subtree {
                    notifier.changed(NodePath::parse(path));
                } else {
                    notifier.changed_node(NodePath::parse(path));
                }
            }
        }
    }
}

fn node(name: &str, kind: &Kind, time: SystemTime) -> Node {
    match kind {
        Kind::Dir => Node::directory(name, time),
        Kind::File(text) => Node::file(name, time, Some(text.len() as u64)),
        Kind::Link(target) => Node::symlink(name, time, target.as_str()),
    }
}

fn key(path: &NodePath) -> String {
    path.names()
        .iter()
        .map(|name| name.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[async_trait]
impl Provider for TestProvider {
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        self.model.lock().unwrap().notifier = Some(notifier);
        Ok(())
    }

    async fn root(&self) -> Result<Node, ProviderError> {
        let model = self.model.lock().unwrap();
        let (kind, time) = &model.nodes[""];
        Ok(node("", kind, *time))
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        let model = self.model.lock().unwrap();
        let dir_key = key(dir);
        match model.nodes.get(&dir_key) {
            Some((Kind::Dir, _)) => {}
            Some(_) => return Err(ProviderError::NotADirectory(dir.clone())),
            None => return Err(ProviderError::NotFound(dir.clone())),
        }
        let prefix = if dir_key.is_empty() {
            String::new()
        } else {
            format!("{dir_key}/")
        };
        Ok(model
            .nodes
            .iter()
            .filter_map(|(path, (kind, time))| {
                let name = path.strip_prefix(&prefix)?;
                (!name.is_empty() && !name.contains('/')).then(|| node(name, kind, *time))
            })
            .collect())
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        let model = self.model.lock().unwrap();
        match model.nodes.get(&key(path)) {
            Some((Kind::File(text), _)) => Ok(Content::Bytes(text.clone().into_bytes())),
            _ => Err(ProviderError::NotFound(path.clone())),
        }
    }

    fn change_notices(&self) -> ChangeNotices {
        // Complete: no re-listing hides a notice the sync failed to apply.
        ChangeNotices::Complete
    }

    fn copied_contents(&self) -> CopiedContents {
        self.contents
    }
}

/// A folder as make sees it: path → (kind, target or content, mtime), the host's `.vfs` and
/// `.vfs.sock` left out.
pub fn read_folder(root: &Path) -> BTreeMap<String, (char, OsString, SystemTime)> {
    let mut found = BTreeMap::new();
    let mut pending = vec![String::new()];
    while let Some(path) = pending.pop() {
        let full = if path.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&path)
        };
        let metadata = std::fs::symlink_metadata(&full).unwrap();
        let time =
            UNIX_EPOCH + Duration::new(metadata.mtime() as u64, metadata.mtime_nsec() as u32);
        let (kind, detail) = if metadata.is_dir() {
            for entry in std::fs::read_dir(&full).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if path.is_empty() && (name == ".vfs" || name == ".vfs.sock") {
                    continue;
                }
                pending.push(if path.is_empty() {
                    name
                } else {
                    format!("{path}/{name}")
                });
            }
            ('d', OsString::new())
        } else if metadata.file_type().is_symlink() {
            ('l', std::fs::read_link(&full).unwrap().into_os_string())
        } else {
            ('f', OsString::from(std::fs::read_to_string(&full).unwrap()))
        };
        found.insert(path, (kind, detail, time));
    }
    found
}
