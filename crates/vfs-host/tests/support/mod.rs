//! A provider whose tree, times and delays the test controls, and a mount fixture that is
//! always unmounted, even when the test fails.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use vfs_core::{
    async_trait, ChangeNotices, ChangeNotifier, Content, Node, NodePath, Provider, ProviderError,
};
use vfs_host::{MountConfig, Mounted};

pub fn at(seconds: u64, nanos: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos)
}

#[derive(Default)]
struct State {
    root_mtime: Option<SystemTime>,
    listings: HashMap<String, Vec<Node>>,
    contents: HashMap<String, Vec<u8>>,
    disk_files: HashMap<String, PathBuf>,
    list_delays: HashMap<String, Duration>,
}

/// Directories are keyed by their display path ("/", "/docs").
#[derive(Default)]
pub struct TestProvider {
    state: Mutex<State>,
    notifier: Mutex<Option<ChangeNotifier>>,
    pub list_calls: AtomicU64,
    pub read_calls: AtomicU64,
    pub stopped: AtomicU64,
    pub fail_start: Mutex<Option<String>>,
    /// Declares [`ChangeNotices::Complete`] (the host then picks its long default TTL).
    pub complete_notices: AtomicBool,
}

impl TestProvider {
    pub fn new() -> Arc<TestProvider> {
        Arc::new(TestProvider::default())
    }

    pub fn set_listing(&self, dir: &str, nodes: Vec<Node>) {
        self.state
            .lock()
            .unwrap()
            .listings
            .insert(dir.to_string(), nodes);
    }

    pub fn set_content(&self, path: &str, bytes: impl Into<Vec<u8>>) {
        self.state
            .lock()
            .unwrap()
            .contents
            .insert(path.to_string(), bytes.into());
    }

    pub fn set_disk_file(&self, path: &str, file: &Path) {
        self.state
            .lock()
            .unwrap()
            .disk_files
            .insert(path.to_string(), file.to_path_buf());
    }

    pub fn set_list_delay(&self, dir: &str, delay: Duration) {
        self.state
            .lock()
            .unwrap()
            .list_delays
            .insert(dir.to_string(), delay);
    }

    /// Changes the node `name` in the listing of `dir`.
    pub fn update(&self, dir: &str, name: &str, change: impl FnOnce(&mut Node)) {
        let mut state = self.state.lock().unwrap();
        let listing = state
            .listings
            .get_mut(dir)
            .expect("the test set this listing");
        let node = listing
            .iter_mut()
            .find(|node| node.name == name)
            .expect("the test set this node");
        change(node);
    }

    pub fn push(&self, dir: &str, node: Node) {
        self.state
            .lock()
            .unwrap()
            .listings
            .get_mut(dir)
            .expect("the test set this listing")
            .push(node);
    }

    pub fn notify(&self, path: &str) {
        self.notifier().changed(NodePath::parse(path));
    }

    /// A notice for the node at `path` alone (`ChangeNotifier::changed_node`).
    pub fn notify_node(&self, path: &str) {
        self.notifier().changed_node(NodePath::parse(path));
    }

    fn notifier(&self) -> ChangeNotifier {
        self.notifier
            .lock()
            .unwrap()
            .clone()
            .expect("the host started the provider")
    }
}

#[async_trait]
impl Provider for TestProvider {
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        if let Some(message) = self.fail_start.lock().unwrap().clone() {
            return Err(ProviderError::Unavailable(message));
        }
        *self.notifier.lock().unwrap() = Some(notifier);
        Ok(())
    }

    async fn root(&self) -> Result<Node, ProviderError> {
        let mtime = self
            .state
            .lock()
            .unwrap()
            .root_mtime
            .unwrap_or(at(1_600_000_000, 0));
        Ok(Node::directory("", mtime))
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        let key = dir.to_string();
        let delay = self.state.lock().unwrap().list_delays.get(&key).copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let state = self.state.lock().unwrap();
        state
            .listings
            .get(&key)
            .cloned()
            .ok_or_else(|| ProviderError::NotFound(dir.clone()))
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        self.read_calls.fetch_add(1, Ordering::SeqCst);
        let key = path.to_string();
        let state = self.state.lock().unwrap();
        if let Some(bytes) = state.contents.get(&key) {
            return Ok(Content::Bytes(bytes.clone()));
        }
        if let Some(file) = state.disk_files.get(&key) {
            let file =
                std::fs::File::open(file).map_err(|error| ProviderError::io(key.clone(), error))?;
            return Ok(Content::File(file));
        }
        Err(ProviderError::NotFound(path.clone()))
    }

    fn change_notices(&self) -> ChangeNotices {
        if self.complete_notices.load(Ordering::SeqCst) {
            ChangeNotices::Complete
        } else {
            ChangeNotices::Partial
        }
    }

    async fn stop(&self) {
        self.stopped.fetch_add(1, Ordering::SeqCst);
    }
}

// Shared with the other test crates: the CI rule for FUSE, mountpoints and the unmount guard.
#[allow(unused_imports)]
pub use vfs_testkit::{
    env::{fuse_available, in_ci},
    mounts::{is_mounted, UnmountGuard},
};

/// A provider mounted in a temporary directory. Field order is drop order: the mount goes
/// first, then the guard makes sure, then the runtime and the directory.
pub struct Fixture {
    pub mounted: Option<Mounted>,
    guard: UnmountGuard,
    pub runtime: tokio::runtime::Runtime,
    pub mountpoint: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// `None` (after printing why) when the machine has no FUSE outside CI.
    pub fn mount(provider: Arc<TestProvider>, ttl: Duration) -> Option<Fixture> {
        Fixture::mount_with(provider, Some(ttl))
    }

    /// Mounted with the TTL the host chooses from the provider's [`ChangeNotices`].
    pub fn mount_with_default_ttl(provider: Arc<TestProvider>) -> Option<Fixture> {
        Fixture::mount_with(provider, None)
    }

    fn mount_with(provider: Arc<TestProvider>, ttl: Option<Duration>) -> Option<Fixture> {
        if !fuse_available() {
            return None;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mountpoint = dir.path().join("mnt");
        let guard = UnmountGuard(mountpoint.clone());
        let config = MountConfig {
            ttl,
            fs_name: "vfs-test".into(),
            ..MountConfig::default()
        };
        let mounted = runtime
            .block_on(vfs_host::mount(provider, &mountpoint, config))
            .expect("mounting the test provider");
        Some(Fixture {
            mounted: Some(mounted),
            guard,
            runtime,
            mountpoint,
            _dir: dir,
        })
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.mountpoint.join(relative)
    }

    pub fn unmount(&mut self) -> Result<(), vfs_host::HostError> {
        let mounted = self.mounted.take().expect("still mounted");
        self.runtime.block_on(mounted.unmount())
    }
}

pub fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().expect("the command runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
