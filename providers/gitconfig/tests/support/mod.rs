//! Real git repositories with fixed commit dates, and helpers to look at a provider's tree.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vfs_core::{walk, ChangeNotifier, Content, Node, NodeKind, NodePath, Provider};
use vfs_gitconfig::GitConfigProvider;
use vfs_testkit::git;

/// A git work tree in a temporary directory, committed with fixed dates.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("temporary directory"),
        };
        git::init_repo(repo.path());
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        git::git(self.path(), args, None)
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directories");
        }
        std::fs::write(path, text).expect("write file");
    }

    /// Writes `relative` and commits everything at unix time `seconds`.
    pub fn commit_file(&self, relative: &str, text: &str, seconds: i64) {
        self.write(relative, text);
        self.commit_all(seconds);
    }

    pub fn commit_all(&self, seconds: i64) {
        self.git(&["add", "-A"]);
        git::git(
            self.path(),
            &["commit", "-q", "-m", &format!("at {seconds}")],
            Some(seconds),
        );
    }
}

pub fn at(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds as u64)
}

pub fn mtime_of(path: &Path) -> SystemTime {
    std::fs::symlink_metadata(path)
        .and_then(|metadata| metadata.modified())
        .expect("mtime")
}

/// Every node of the provider by its path (`/a/b`).
pub async fn tree(provider: &dyn Provider) -> BTreeMap<String, Node> {
    walk(provider)
        .await
        .expect("walk")
        .into_iter()
        .map(|entry| (entry.path.to_string(), entry.node))
        .collect()
}

/// The node at `path`, found by listing its parent.
pub async fn node(provider: &dyn Provider, path: &str) -> Node {
    let path = NodePath::parse(path);
    let parent = path.parent().expect("not the root");
    let name = path.name().expect("a name").to_os_string();
    provider
        .list(&parent)
        .await
        .unwrap_or_else(|error| panic!("listing {parent}: {error}"))
        .into_iter()
        .find(|node| node.name == name)
        .unwrap_or_else(|| panic!("{path} is not listed"))
}

pub async fn read_text(provider: &dyn Provider, path: &str) -> String {
    match provider
        .read(&NodePath::parse(path))
        .await
        .unwrap_or_else(|error| panic!("reading {path}: {error}"))
    {
        Content::Bytes(bytes) => String::from_utf8(bytes).expect("UTF-8"),
        Content::File(mut file) => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text).expect("read");
            text
        }
    }
}

pub fn is_dir(node: &Node) -> bool {
    matches!(node.kind, NodeKind::Directory)
}

/// A directory path that does not exist yet, for trees outside any repository.
pub fn outside_git() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let check = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(dir.path())
        .output()
        .expect("run git");
    assert!(
        !check.status.success(),
        "the temporary directory lies in a git work tree"
    );
    dir
}

pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// `provider`, started as a mount starts it (its notices go nowhere).
pub async fn start(provider: GitConfigProvider) -> GitConfigProvider {
    provider
        .start(ChangeNotifier::detached())
        .await
        .expect("start");
    provider
}
