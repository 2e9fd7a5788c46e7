//! The host's core under test without FUSE: a provider whose tree and answers the test
//! controls, and the host's answers by inode number.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use vfs_core::{async_trait, Content, Node, NodeKind, NodePath, Notice, Provider, ProviderError};

use crate::attrs::{EntryKind, Owner};
use crate::host::{Host, Lookup, TableSizes, MIN_TTL};
use crate::inodes::ROOT_INO;
use crate::kernel::{perform, KernelCache, KernelOp};

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

const OWNER: Owner = Owner { uid: 1234, gid: 99 };

#[derive(Default)]
struct Tree {
    listings: Mutex<HashMap<String, Vec<Node>>>,
    contents: Mutex<HashMap<String, Vec<u8>>>,
    failing: Mutex<Option<String>>,
    /// When set, `list` waits for a permit before answering.
    hold: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
    lists: AtomicU64,
    reads: AtomicU64,
}

impl Tree {
    fn set(&self, dir: &str, nodes: Vec<Node>) {
        self.listings.lock().unwrap().insert(dir.into(), nodes);
    }
}

#[async_trait]
impl Provider for Tree {
    async fn root(&self) -> Result<Node, ProviderError> {
        Ok(Node::directory("", at(100)))
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        let hold = self.hold.lock().unwrap().clone();
        if let Some(hold) = hold {
            let _permit = hold.acquire().await;
        }
        if self.failing.lock().unwrap().as_deref() == Some(&dir.to_string()) {
            return Err(ProviderError::Unavailable("engine down".into()));
        }
        let listings = self.listings.lock().unwrap();
        listings
            .get(&dir.to_string())
            .cloned()
            .ok_or_else(|| ProviderError::NotFound(dir.clone()))
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let contents = self.contents.lock().unwrap();
        contents
            .get(&path.to_string())
            .cloned()
            .map(Content::Bytes)
            .ok_or_else(|| ProviderError::NotFound(path.clone()))
    }
}

fn sample() -> Arc<Tree> {
    let tree = Arc::new(Tree::default());
    tree.set(
        "/",
        vec![
            Node::directory("lazy", at(1)),
            Node::directory("nested", at(2)),
            Node::file("sized", at(5), Some(3)),
            Node::file("unsized", at(6), None),
            Node::symlink("link", at(7), "sized"),
        ],
    );
    tree.set(
        "/lazy",
        vec![
            Node::file("a", at(8), Some(1)),
            Node::directory("sub", at(8)),
        ],
    );
    tree.set(
        "/nested",
        vec![
            Node::file("inner", at(3), Some(5)),
            Node::directory("deeper", at(3)),
        ],
    );
    tree.set("/nested/deeper", vec![Node::file("leaf", at(4), Some(1))]);
    tree.contents
        .lock()
        .unwrap()
        .insert("/sized".into(), b"abc".to_vec());
    tree.contents
        .lock()
        .unwrap()
        .insert("/unsized".into(), b"0123456789".to_vec());
    tree
}

fn host(tree: &Arc<Tree>, ttl: Duration) -> Arc<Host> {
    Arc::new(Host::new(tree.clone(), ttl, OWNER))
}

async fn ino_of(host: &Host, path: &str) -> u64 {
    let mut ino = ROOT_INO;
    for name in NodePath::parse(path).names() {
        ino = host.lookup(ino, name).await.unwrap().attrs.ino;
    }
    ino
}

/// A notice for `path` and below, applied as the notices thread does.
fn apply(host: &Host, kernel: &impl KernelCache, path: &NodePath) {
    perform(
        kernel,
        &host.apply_notices(vec![Notice::subtree(path.clone())]),
        &host.fills,
    );
}

/// A notice for the node at `path` alone, applied as the notices thread does.
fn apply_to_node(host: &Host, kernel: &impl KernelCache, path: &NodePath) {
    perform(
        kernel,
        &host.apply_notices(vec![Notice::node(path.clone())]),
        &host.fills,
    );
}

/// The kernel operations requests left for the notices thread since last asked.
struct Queued(Arc<Host>);

impl Queued {
    fn try_iter(&self) -> std::vec::IntoIter<KernelOp> {
        self.0.apply_notices(Vec::new()).into_iter()
    }
}

/// Of `ops`, the numbers the host no longer answers for: each forgotten with the entry naming
/// it (an inode operation right before an entry's).
fn superseded(ops: impl IntoIterator<Item = KernelOp>) -> Vec<(u64, KernelOp)> {
    let ops: Vec<KernelOp> = ops.into_iter().collect();
    ops.windows(2)
        .filter_map(|pair| match pair {
            [KernelOp::Inode(ino), entry @ KernelOp::Entry { .. }] => Some((*ino, entry.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn lookups_within_the_ttl_are_answered_from_the_cache() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    assert!(
        host.cached_lookup(ROOT_INO, OsStr::new("sized")).is_none(),
        "nothing cached yet"
    );
    let sized = host.lookup(ROOT_INO, OsStr::new("sized")).await.unwrap();
    assert_eq!(sized.attrs.size, 3);
    assert_eq!((sized.attrs.uid, sized.attrs.gid), (1234, 99));
    assert!(
        sized.entry_ttl > Duration::from_secs(59) && sized.entry_ttl <= Duration::from_secs(60)
    );
    let lists = tree.lists.load(Ordering::SeqCst);

    for _ in 0..100 {
        let again = host
            .cached_lookup(ROOT_INO, OsStr::new("sized"))
            .unwrap()
            .unwrap();
        assert_eq!(again.attrs.ino, sized.attrs.ino, "inode stable");
        let attr = host.cached_getattr(sized.attrs.ino, None).unwrap().unwrap();
        assert_eq!(attr.attrs.mtime, at(5));
    }
    assert_eq!(
        host.cached_lookup(ROOT_INO, OsStr::new("missing"))
            .unwrap()
            .unwrap_err(),
        libc::ENOENT
    );
    assert_eq!(tree.lists.load(Ordering::SeqCst), lists, "no provider call");
}

#[tokio::test]
async fn a_listed_folder_has_its_link_count_and_a_notice_has_it_listed_anew() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let leaf = ino_of(&host, "nested/deeper/leaf").await;
    assert_eq!(host.getattr(leaf, None).await.unwrap().attrs.mtime, at(4));
    assert_eq!(
        tree.lists.load(Ordering::SeqCst),
        3,
        "each folder on the way was listed once"
    );
    let nested = host
        .cached_lookup(ROOT_INO, OsStr::new("nested"))
        .unwrap()
        .unwrap();
    assert_eq!(nested.attrs.nlink, 3, "its one subdirectory is known");
    assert_eq!(nested.attr_ttl, nested.entry_ttl);

    // After a notice, the folder's attributes come from its parent's new listing, and its
    // entries from a new listing of its own.
    host.invalidate(&NodePath::parse("nested"));
    tree.set("/", vec![Node::directory("nested", at(20))]);
    tree.set("/nested", vec![Node::file("new", at(21), Some(1))]);
    let nested_ino = ino_of(&host, "nested").await;
    assert_eq!(
        host.getattr(nested_ino, None).await.unwrap().attrs.mtime,
        at(20)
    );
    let handle = host.opendir(nested_ino).await.unwrap().handle;
    let names: Vec<_> = host
        .dir_snapshot(handle)
        .unwrap()
        .items
        .iter()
        .map(|item| item.name.clone())
        .collect();
    assert_eq!(names, [".", "..", "new"]);
    assert_eq!(
        tree.lists.load(Ordering::SeqCst),
        5,
        "the root and the folder"
    );
}

#[tokio::test]
async fn expired_listings_are_fetched_again() {
    let tree = sample();
    let host = host(&tree, Duration::from_millis(50));
    let a = ino_of(&host, "lazy/a").await;
    let lists = tree.lists.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(host.cached_getattr(a, None).is_none(), "expired");
    tree.set("/lazy", vec![Node::file("a", at(9), Some(1))]);
    assert_eq!(host.getattr(a, None).await.unwrap().attrs.mtime, at(9));
    assert!(tree.lists.load(Ordering::SeqCst) > lists);
}

#[tokio::test]
async fn ttls_are_bounded_by_the_cache_and_never_zero() {
    let tree = sample();
    let host = host(&tree, Duration::ZERO);
    let answer = host.lookup(ROOT_INO, OsStr::new("sized")).await.unwrap();
    assert_eq!(answer.entry_ttl, MIN_TTL);
    assert!(MIN_TTL > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_that_never_answers_gets_eio_within_the_bound_and_the_folder_recovers() {
    let tree = sample();
    let host = Arc::new(
        Host::new(tree.clone(), Duration::from_secs(60), OWNER)
            .with_provider_timeout(Duration::from_millis(200)),
    );
    let lazy = ino_of(&host, "lazy").await;
    host.invalidate(&NodePath::parse("lazy"));
    // A provider call that never returns (a FIFO opened without O_NONBLOCK, a hung engine).
    let hold = Arc::new(tokio::sync::Semaphore::new(0));
    *tree.hold.lock().unwrap() = Some(hold.clone());
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(5), host.lookup(lazy, OsStr::new("a")))
        .await
        .expect("a lookup waiting on a provider that never answers must be answered");
    assert_eq!(answer.unwrap_err(), libc::EIO);
    assert!(started.elapsed() < Duration::from_secs(2));
    // The gate of the folder is free again: the next caller asks anew and is answered.
    *tree.hold.lock().unwrap() = None;
    assert_eq!(
        host.lookup(lazy, OsStr::new("a")).await.unwrap().attrs.size,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_on_one_directory_ask_the_provider_once() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let hold = Arc::new(tokio::sync::Semaphore::new(0));
    ino_of(&host, "lazy").await;
    *tree.hold.lock().unwrap() = Some(hold.clone());
    let lazy = ino_of(&host, "lazy").await;
    let lists_before = tree.lists.load(Ordering::SeqCst);
    let lookups: Vec<_> = (0..8)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move { host.lookup(lazy, OsStr::new("a")).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    hold.add_permits(100);
    for lookup in lookups {
        assert_eq!(lookup.await.unwrap().unwrap().attrs.size, 1);
    }
    assert_eq!(tree.lists.load(Ordering::SeqCst) - lists_before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answer_overtaken_by_a_notice_is_not_kept() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    let hold = Arc::new(tokio::sync::Semaphore::new(0));
    *tree.hold.lock().unwrap() = Some(hold.clone());
    let pending = {
        let host = host.clone();
        tokio::spawn(async move { host.lookup(lazy, OsStr::new("a")).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    tree.set("/lazy", vec![Node::file("a", at(50), Some(1))]);
    host.invalidate(&NodePath::parse("lazy"));
    hold.add_permits(100);
    // The first answer predates the notice; the host asks again and gets the new one.
    assert_eq!(pending.await.unwrap().unwrap().attrs.mtime, at(50));
    assert!(host.cached_lookup(lazy, OsStr::new("a")).is_some());
}

#[tokio::test]
async fn attributes_follow_the_host_rules() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let root = host.getattr(ROOT_INO, None).await.unwrap();
    assert_eq!(
        (root.attrs.kind, root.attrs.perm),
        (EntryKind::Directory, 0o555)
    );
    assert_eq!(root.attrs.nlink, 2, "not listed yet");
    // Provisional until listed, and kept for the TTL all the same: the listing, once loaded,
    // forgets the kernel's copy before its request is answered (see the next test).
    assert!(root.attr_ttl > MIN_TTL);
    ino_of(&host, "lazy").await;
    let root = host.getattr(ROOT_INO, None).await.unwrap();
    assert_eq!(root.attrs.nlink, 4, "lazy and nested");
    assert!(root.attr_ttl > MIN_TTL);

    let link = ino_of(&host, "link").await;
    assert_eq!(host.readlink(link).await.unwrap(), "sized");
    assert_eq!(host.cached_readlink(link).unwrap().unwrap(), "sized");
    let sized = ino_of(&host, "sized").await;
    assert_eq!(host.readlink(sized).await.unwrap_err(), libc::EINVAL);
    let attrs = host.getattr(link, None).await.unwrap().attrs;
    assert_eq!(
        (attrs.kind, attrs.perm, attrs.size),
        (EntryKind::Symlink, 0o777, 5)
    );
}

#[tokio::test]
async fn files_of_unknown_size_use_direct_io_and_learn_their_size() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let unsized_ino = ino_of(&host, "unsized").await;
    let before = host.getattr(unsized_ino, None).await.unwrap();
    assert_eq!(before.attrs.size, 0);
    assert!(
        before.attr_ttl > Duration::from_secs(59),
        "kept: the open that learns the size invalidates them"
    );
    let opened = host.open(unsized_ino).await.unwrap();
    assert!(opened.direct_io);
    assert!(opened.size_learnt, "the kernel must forget the size 0");
    let file = host.open_file(opened.handle).unwrap();
    assert_eq!(file.read(0, 4096).unwrap().as_slice(), b"0123456789");
    assert_eq!(
        host.getattr(unsized_ino, None).await.unwrap().attrs.size,
        10
    );
    host.release(opened.handle);
    let again = host.open(unsized_ino).await.unwrap();
    assert!(
        !again.size_learnt,
        "the same length again: nothing to forget"
    );
    host.release(again.handle);
    assert!(host.open_file(opened.handle).is_none());

    let sized = ino_of(&host, "sized").await;
    let opened = host.open(sized).await.unwrap();
    assert!(!opened.direct_io);
    assert_eq!(
        host.open_file(opened.handle)
            .unwrap()
            .read(1, 10)
            .unwrap()
            .as_slice(),
        b"bc"
    );
    assert_eq!(tree.reads.load(Ordering::SeqCst), 3, "each open reads");
    assert_eq!(
        host.open(ino_of(&host, "lazy").await).await.unwrap_err(),
        libc::EISDIR
    );
}

#[tokio::test]
async fn provider_errors_become_errnos() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    let sub = host
        .lookup(lazy, OsStr::new("sub"))
        .await
        .unwrap()
        .attrs
        .ino;
    assert_eq!(
        host.opendir(sub).await.unwrap_err(),
        libc::ENOENT,
        "listed but gone"
    );
    *tree.failing.lock().unwrap() = Some("/lazy".into());
    host.invalidate(&NodePath::parse("lazy"));
    assert_eq!(
        host.lookup(lazy, OsStr::new("a")).await.unwrap_err(),
        libc::EIO
    );
    assert_eq!(host.getattr(999_999, None).await.unwrap_err(), libc::ENOENT);
    let sized = ino_of(&host, "sized").await;
    assert_eq!(host.opendir(sized).await.unwrap_err(), libc::ENOTDIR);
}

#[tokio::test]
async fn directory_snapshots_do_not_move_while_the_listing_changes() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    let handle = host.opendir(lazy).await.unwrap().handle;
    tree.set("/lazy", vec![Node::file("z", at(1), Some(1))]);
    host.invalidate(&NodePath::parse("lazy"));
    let snapshot = host.dir_snapshot(handle).unwrap();
    let names: Vec<_> = snapshot
        .items
        .iter()
        .map(|item| item.name.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [".", "..", "a", "sub"]);
    assert_eq!(snapshot.items[1].attrs.ino, ROOT_INO, ".. is the root");
    let now = std::time::Instant::now();
    assert_eq!(
        host.snapshot_ttl(&snapshot, &snapshot.items[2], now),
        Duration::ZERO,
        "taken before a notice: not to be kept"
    );
    host.releasedir(handle);
    assert!(host.dir_snapshot(handle).is_none());

    let fresh = host.opendir(lazy).await.unwrap().handle;
    let snapshot = host.dir_snapshot(fresh).unwrap();
    assert_eq!(snapshot.items[2].name, "z");
    assert!(host.snapshot_ttl(&snapshot, &snapshot.items[2], now) > Duration::from_secs(59));
}

#[derive(Default)]
struct RecordingKernel {
    inodes: Mutex<Vec<u64>>,
    attributes: Mutex<Vec<u64>>,
    entries: Mutex<Vec<(u64, String)>>,
}

impl KernelCache for Arc<RecordingKernel> {
    fn forget_inode(&self, ino: u64) -> std::io::Result<()> {
        self.inodes.lock().unwrap().push(ino);
        Ok(())
    }
    fn forget_attributes(&self, ino: u64) -> std::io::Result<()> {
        self.attributes.lock().unwrap().push(ino);
        Ok(())
    }
    fn forget_entry(&self, parent: u64, name: &OsStr) -> std::io::Result<()> {
        self.entries
            .lock()
            .unwrap()
            .push((parent, name.to_string_lossy().into_owned()));
        Err(std::io::Error::from_raw_os_error(libc::ENOENT))
    }
}

/// A kernel that loses a page of a listing it is reading into its cache never caches that
/// listing again (see `fills`): a notice for a folder halfway through its listing drops only
/// its attributes, and its data once the listing's end is replied.
#[tokio::test]
async fn a_folder_being_listed_has_its_data_dropped_at_the_end_of_its_listing() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    let kernel = Arc::new(RecordingKernel::default());
    host.replying_listing(lazy, 2);
    apply_to_node(&host, &kernel, &NodePath::parse("lazy"));
    assert!(
        kernel.inodes.lock().unwrap().is_empty(),
        "no page dropped halfway"
    );
    assert!(
        kernel.attributes.lock().unwrap().contains(&lazy),
        "its time shows at once"
    );
    host.replying_listing(lazy, 1);
    perform(&kernel, &host.apply_notices(Vec::new()), &host.fills);
    assert!(kernel.inodes.lock().unwrap().is_empty(), "still halfway");
    host.replying_listing(lazy, 0);
    perform(&kernel, &host.apply_notices(Vec::new()), &host.fills);
    assert_eq!(
        *kernel.inodes.lock().unwrap(),
        vec![lazy],
        "dropped at the end"
    );
    // Read to its end, a folder has its data dropped at once.
    apply_to_node(&host, &kernel, &NodePath::parse("lazy"));
    assert_eq!(*kernel.inodes.lock().unwrap(), vec![lazy, lazy]);
}

#[tokio::test]
async fn a_notice_drops_the_subtree_and_tells_the_kernel_about_every_known_inode() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    let a = ino_of(&host, "lazy/a").await;
    let sub = ino_of(&host, "lazy/sub").await;
    let sized = ino_of(&host, "sized").await;
    let kernel = Arc::new(RecordingKernel::default());
    apply(&host, &kernel, &NodePath::parse("lazy"));
    let mut inodes = kernel.inodes.lock().unwrap().clone();
    inodes.sort();
    let mut expected = vec![lazy, a, sub];
    expected.sort();
    assert_eq!(inodes, expected);
    let mut entries = kernel.entries.lock().unwrap().clone();
    entries.sort();
    assert!(entries.contains(&(ROOT_INO, "lazy".into())));
    assert!(entries.contains(&(lazy, "a".into())));
    assert!(
        host.cached_lookup(lazy, OsStr::new("a")).is_none(),
        "dropped"
    );
    assert!(
        host.cached_lookup(ROOT_INO, OsStr::new("lazy")).is_none(),
        "the parent listing too"
    );
    assert_eq!(
        ino_of(&host, "sized").await,
        sized,
        "numbers survive notices"
    );

    let targets = host.invalidate(&NodePath::root());
    assert!(targets.contains(&KernelOp::Inode(ROOT_INO)));
}

/// Removes `name` from the sample's root listing and its content, as a deleted source would.
fn delete_from_root(tree: &Tree, name: &str) {
    let mut listings = tree.listings.lock().unwrap();
    if let Some(root) = listings.get_mut("/") {
        root.retain(|node| node.name != name);
    }
    tree.contents.lock().unwrap().remove(&format!("/{name}"));
}

#[tokio::test]
async fn an_open_file_whose_source_is_gone_keeps_its_attributes_at_open() {
    let tree = sample();
    // The node announces 3 bytes but the content has 5: the handle's size is what it serves.
    tree.contents
        .lock()
        .unwrap()
        .insert("/sized".into(), b"abcde".to_vec());
    let host = host(&tree, Duration::from_secs(60));
    let sized = ino_of(&host, "sized").await;
    let opened = host.open(sized).await.unwrap();
    let second = host.open(sized).await.unwrap();
    host.release(second.handle);

    delete_from_root(&tree, "sized");
    host.invalidate(&NodePath::parse("sized"));
    // Through the handle (a read at end of file) and without one (fstat), from the provider
    // and then from the listing it left in the cache.
    for handle in [Some(opened.handle), None] {
        let answer = host.getattr(sized, handle).await.unwrap();
        assert_eq!(answer.attrs.ino, sized);
        assert_eq!(answer.attrs.kind, EntryKind::File);
        assert_eq!(answer.attrs.size, 5, "the open content's length");
        assert_eq!(answer.attrs.mtime, at(5), "the node's time at open");
        assert_eq!(answer.attr_ttl, MIN_TTL, "asked for again soon");
        let cached = host.cached_getattr(sized, handle).unwrap().unwrap();
        assert_eq!(cached.attrs, answer.attrs);
    }
    assert_eq!(
        host.lookup(ROOT_INO, OsStr::new("sized"))
            .await
            .unwrap_err(),
        libc::ENOENT,
        "the name is gone all the same"
    );

    host.release(opened.handle);
    assert_eq!(host.getattr(sized, None).await.unwrap_err(), libc::ENOENT);
    assert_eq!(
        host.getattr(sized, Some(opened.handle)).await.unwrap_err(),
        libc::ENOENT,
        "released: nothing holds it open"
    );
    assert_eq!(
        host.cached_getattr(sized, None).unwrap().unwrap_err(),
        libc::ENOENT
    );
}

#[tokio::test]
async fn an_open_file_under_a_folder_turned_file_keeps_its_attributes() {
    let tree = sample();
    tree.contents
        .lock()
        .unwrap()
        .insert("/lazy/a".into(), b"x".to_vec());
    let host = host(&tree, Duration::from_secs(60));
    let a = ino_of(&host, "lazy/a").await;
    let sub = ino_of(&host, "lazy/sub").await;
    let opened = host.open(a).await.unwrap();
    tree.set("/", vec![Node::file("lazy", at(30), Some(1))]);
    host.invalidate(&NodePath::parse("lazy"));
    let answer = host.getattr(a, Some(opened.handle)).await.unwrap();
    assert_eq!((answer.attrs.ino, answer.attrs.size), (a, 1));
    assert_eq!(
        host.getattr(sub, None).await.unwrap_err(),
        libc::ENOTDIR,
        "not open: the error stands"
    );
}

#[tokio::test]
async fn a_path_that_changes_kind_changes_inode_and_the_kernel_forgets_the_old_one() {
    let tree = sample();
    tree.set(
        "/",
        vec![
            Node::directory("flip", at(1)),
            Node::file("stay", at(1), Some(1)),
        ],
    );
    tree.set("/flip", vec![Node::file("inner", at(1), Some(1))]);
    let host = host(&tree, Duration::from_secs(60));
    let queued = Queued(host.clone());
    let forgotten = || superseded(queued.try_iter());
    let stay = ino_of(&host, "stay").await;
    let folder = host.lookup(ROOT_INO, OsStr::new("flip")).await.unwrap();
    assert_eq!(folder.attrs.kind, EntryKind::Directory);
    let folder = folder.attrs.ino;
    let inner = ino_of(&host, "flip/inner").await;
    assert!(forgotten().is_empty());

    // A half-written save: the folder is a plain file now.
    tree.set(
        "/",
        vec![
            Node::file("flip", at(2), Some(4)),
            Node::file("stay", at(1), Some(1)),
        ],
    );
    tree.contents
        .lock()
        .unwrap()
        .insert("/flip".into(), b"text".to_vec());
    host.invalidate(&NodePath::parse("flip"));
    let plain = host.lookup(ROOT_INO, OsStr::new("flip")).await.unwrap();
    assert_eq!(plain.attrs.kind, EntryKind::File);
    let plain = plain.attrs.ino;
    assert_ne!(plain, folder, "another kind, another number");
    assert!(
        plain != stay && plain != inner,
        "never a number given before"
    );
    assert_eq!(
        forgotten(),
        [(
            folder,
            KernelOp::Entry {
                parent: ROOT_INO,
                name: "flip".into()
            }
        )],
        "the kernel forgets the folder's number and the name leading to it"
    );
    // The folder's number never comes back with a file's type.
    assert_eq!(host.getattr(folder, None).await.unwrap_err(), libc::ENOENT);
    assert_eq!(
        host.cached_getattr(folder, None).unwrap().unwrap_err(),
        libc::ENOENT
    );
    assert_eq!(host.opendir(folder).await.unwrap_err(), libc::ENOENT);
    assert_eq!(host.getattr(plain, None).await.unwrap().attrs.size, 4);
    let opened = host.open(plain).await.unwrap();
    assert_eq!(
        host.open_file(opened.handle)
            .unwrap()
            .read(0, 10)
            .unwrap()
            .as_slice(),
        b"text"
    );
    let root = host.opendir(ROOT_INO).await.unwrap().handle;
    let listed = host.dir_snapshot(root).unwrap();
    let item = listed
        .items
        .iter()
        .find(|item| item.name == "flip")
        .unwrap();
    assert_eq!((item.attrs.ino, item.attrs.kind), (plain, EntryKind::File));
    assert!(forgotten().is_empty(), "told once per change");

    // A notice on the path reaches every number it ever had.
    let kernel = Arc::new(RecordingKernel::default());
    apply(&host, &kernel, &NodePath::parse("flip"));
    let mut told = kernel.inodes.lock().unwrap().clone();
    told.sort();
    let mut expected = vec![folder, plain, inner];
    expected.sort();
    assert_eq!(told, expected);

    // A folder again, found when the TTL runs out rather than by a notice: the folder's own
    // number again, and the plain file's is forgotten.
    tree.set("/", vec![Node::directory("flip", at(3))]);
    let (short_host, short_queue) = host_with_queue(&tree);
    let first = short_host
        .lookup(ROOT_INO, OsStr::new("flip"))
        .await
        .unwrap();
    tree.set("/", vec![Node::file("flip", at(4), Some(4))]);
    tokio::time::sleep(Duration::from_millis(80)).await;
    let second = short_host
        .lookup(ROOT_INO, OsStr::new("flip"))
        .await
        .unwrap();
    tree.set("/", vec![Node::directory("flip", at(5))]);
    tokio::time::sleep(Duration::from_millis(80)).await;
    let third = short_host
        .lookup(ROOT_INO, OsStr::new("flip"))
        .await
        .unwrap();
    assert_ne!(first.attrs.ino, second.attrs.ino);
    assert_eq!(
        third.attrs.ino, first.attrs.ino,
        "same path, same kind, same number"
    );
    assert_eq!(third.attrs.kind, EntryKind::Directory);
    let forgotten: Vec<u64> = superseded(short_queue.try_iter())
        .into_iter()
        .map(|(ino, _)| ino)
        .collect();
    assert_eq!(forgotten, [first.attrs.ino, second.attrs.ino]);
}

/// A host trusting its cache for 50 ms, with its work queue at hand.
fn host_with_queue(tree: &Arc<Tree>) -> (Arc<Host>, Queued) {
    let host = host(tree, Duration::from_millis(50));
    let queued = Queued(host.clone());
    (host, queued)
}

/// The kernel may keep a folder's provisional link count for the TTL only because loading the
/// folder's listing, in whatever request, forgets the kernel's copy of its attributes before
/// that request returns: a refresh left to the notices thread would land after the walk that
/// listed it and make the next walk ask again.
#[tokio::test]
async fn loading_a_listing_forgets_the_folders_attributes_before_the_request_returns() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let kernel = Arc::new(RecordingKernel::default());
    host.set_kernel(Box::new(kernel.clone()));
    let lazy = ino_of(&host, "lazy").await;
    assert!(
        kernel.attributes.lock().unwrap().contains(&ROOT_INO),
        "the lookup that listed the root forgot its attributes"
    );
    let provisional = host.getattr(lazy, None).await.unwrap();
    assert_eq!(provisional.attrs.nlink, 2, "not listed yet");
    assert!(provisional.attr_ttl > MIN_TTL, "kept like any attribute");
    assert!(!kernel.attributes.lock().unwrap().contains(&lazy));
    // A lookup in it lists it (as would a readdir or an opendir).
    host.lookup(lazy, OsStr::new("a")).await.unwrap();
    assert!(
        kernel.attributes.lock().unwrap().contains(&lazy),
        "forgotten before the lookup that listed it returned"
    );
    assert!(
        host.apply_notices(Vec::new()).is_empty(),
        "nothing left to the notices thread"
    );
    let count = kernel.attributes.lock().unwrap().len();
    host.lookup(lazy, OsStr::new("a")).await.unwrap();
    host.getattr(lazy, None).await.unwrap();
    assert_eq!(
        kernel.attributes.lock().unwrap().len(),
        count,
        "answered from the cache: nothing new to forget"
    );
}

#[test]
fn access_follows_the_bits_and_never_allows_writing() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sized = runtime.block_on(async {
        let ino = ino_of(&host, "sized").await;
        host.getattr(ino, None).await.unwrap().attrs
    });
    let check = |uid, gid, mask| Host::check_access(&sized, uid, gid, mask);
    assert_eq!(check(1234, 99, libc::W_OK), Err(libc::EROFS));
    assert_eq!(check(0, 0, libc::W_OK), Err(libc::EROFS));
    assert_eq!(check(1234, 99, libc::R_OK), Ok(()));
    assert_eq!(check(5, 5, libc::R_OK), Ok(()));
    assert_eq!(check(5, 5, libc::X_OK), Err(libc::EACCES));
    assert_eq!(
        check(0, 0, libc::X_OK),
        Err(libc::EACCES),
        "no x bit at all"
    );
    assert_eq!(check(5, 5, libc::F_OK), Ok(()));
}

#[tokio::test]
async fn a_node_notice_drops_the_node_and_its_names_but_keeps_what_is_below() {
    let tree = sample();
    tree.set("/lazy/sub", vec![Node::file("deep", at(9), Some(1))]);
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    let a = ino_of(&host, "lazy/a").await;
    let sub = ino_of(&host, "lazy/sub").await;
    let deep = ino_of(&host, "lazy/sub/deep").await;
    assert!(matches!(
        host.lookup_entry(lazy, OsStr::new("nope")).await,
        Ok(Lookup::Missing { .. })
    ));
    assert!(matches!(
        host.lookup_entry(sub, OsStr::new("deeper-nope")).await,
        Ok(Lookup::Missing { .. })
    ));
    let lists = tree.lists.load(Ordering::SeqCst);

    // A new name in lazy, and lazy newer: told as a change of lazy alone.
    tree.set(
        "/",
        vec![
            Node::directory("lazy", at(20)),
            Node::file("sized", at(5), Some(3)),
        ],
    );
    tree.set(
        "/lazy",
        vec![
            Node::file("a", at(8), Some(1)),
            Node::file("nope", at(20), Some(1)),
            Node::directory("sub", at(8)),
        ],
    );
    tree.set(
        "/nested",
        vec![
            Node::file("inner", at(3), Some(5)),
            Node::directory("deeper", at(3)),
        ],
    );
    tree.set("/nested/deeper", vec![Node::file("leaf", at(4), Some(1))]);
    let kernel = Arc::new(RecordingKernel::default());
    apply_to_node(&host, &kernel, &NodePath::parse("lazy"));
    assert_eq!(*kernel.inodes.lock().unwrap(), vec![lazy], "the node alone");
    assert_eq!(
        *kernel.entries.lock().unwrap(),
        vec![(lazy, "nope".to_string())],
        "the missing name in it, not the one further below, nor any present name"
    );
    assert!(
        host.cached_lookup(lazy, OsStr::new("a")).is_none(),
        "its names are asked for again"
    );
    assert!(
        host.cached_lookup(sub, OsStr::new("deep")).is_some(),
        "the listing below is kept"
    );
    assert!(matches!(
        host.lookup_entry(lazy, OsStr::new("nope")).await,
        Ok(Lookup::Found(_))
    ));
    let lazy_now = host.getattr(lazy, None).await.unwrap();
    assert_eq!(
        lazy_now.attrs.mtime,
        at(20),
        "its own time, from its parent"
    );
    assert_eq!(ino_of(&host, "lazy/a").await, a);
    assert_eq!(ino_of(&host, "lazy/sub/deep").await, deep);
    assert_eq!(
        tree.lists.load(Ordering::SeqCst),
        lists + 2,
        "the root and lazy listed again, lazy/sub not"
    );
}

#[tokio::test]
async fn a_missing_name_is_a_negative_entry_the_next_notice_takes_back() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    let Ok(Lookup::Missing { ttl }) = host.lookup_entry(lazy, OsStr::new("nope")).await else {
        panic!("a name missing from a listing is a negative answer");
    };
    assert!(ttl > Duration::from_secs(59) && ttl <= Duration::from_secs(60));
    assert!(matches!(
        host.cached_lookup_entry(ROOT_INO, OsStr::new("absent")),
        Some(Ok(Lookup::Missing { .. }))
    ));
    assert!(
        matches!(
            host.lookup_entry(ROOT_INO, OsStr::new("sized")).await,
            Ok(Lookup::Found(_))
        ),
        "present names are entries"
    );
    tree.failing.lock().unwrap().replace("/lazy/sub".into());
    let sub = ino_of(&host, "lazy/sub").await;
    assert_eq!(
        host.lookup_entry(sub, OsStr::new("x")).await.unwrap_err(),
        libc::EIO,
        "an unreadable folder is an error, not a negative entry"
    );

    let kernel = Arc::new(RecordingKernel::default());
    apply(&host, &kernel, &NodePath::parse("nested"));
    assert!(
        !kernel
            .entries
            .lock()
            .unwrap()
            .contains(&(lazy, "nope".into())),
        "a notice elsewhere leaves it"
    );
    apply(&host, &kernel, &NodePath::parse("lazy"));
    assert!(kernel
        .entries
        .lock()
        .unwrap()
        .contains(&(lazy, "nope".into())));
    apply(&host, &kernel, &NodePath::root());
    let entries = kernel.entries.lock().unwrap().clone();
    assert!(entries.contains(&(ROOT_INO, "absent".into())));
    assert_eq!(
        entries.iter().filter(|entry| entry.1 == "nope").count(),
        1,
        "told once"
    );
}

#[tokio::test]
async fn a_target_or_listing_changed_without_a_notice_is_dropped_from_the_kernel() {
    let tree = sample();
    let (host, queued) = host_with_queue(&tree);
    let link = ino_of(&host, "link").await;
    let lazy = ino_of(&host, "lazy").await;
    // (attribute refreshes, data reloads) queued since last asked
    let queued_now = || -> (Vec<u64>, Vec<u64>) {
        let (mut refreshes, mut reloads) = (Vec::new(), Vec::new());
        for work in queued.try_iter() {
            match work {
                KernelOp::Attributes(ino) => refreshes.push(ino),
                KernelOp::Inode(ino) => reloads.push(ino),
                _ => {}
            }
        }
        refreshes.sort();
        reloads.sort();
        (refreshes, reloads)
    };
    queued_now();
    tokio::time::sleep(Duration::from_millis(60)).await;
    ino_of(&host, "lazy/a").await;
    assert_eq!(
        queued_now(),
        (vec![ROOT_INO, lazy], vec![]),
        "listed again unchanged: the link counts are refreshed, the cached data kept"
    );

    let mut root = tree.listings.lock().unwrap()["/"].clone();
    for node in &mut root {
        if node.name == "link" {
            node.kind = NodeKind::Symlink {
                target: "unsized".into(),
            };
        }
    }
    tree.set("/", root);
    tree.set("/lazy", vec![Node::file("a", at(9), Some(1))]);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(host.readlink(link).await.unwrap(), "unsized");
    ino_of(&host, "lazy/a").await;
    let mut expected = vec![link, lazy];
    expected.sort();
    assert_eq!(
        queued_now(),
        (vec![ROOT_INO, lazy], expected),
        "the link's cached target and the folder's cached listing are dropped; the root lists the same names"
    );
}

#[tokio::test]
async fn opendir_is_answered_from_the_cache_once_the_listing_is_there() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    assert!(
        host.cached_opendir(lazy).is_none(),
        "not listed yet: the provider must be asked"
    );
    let first = host.opendir(lazy).await.unwrap();
    let lists = tree.lists.load(Ordering::SeqCst);
    let cached = host.cached_opendir(lazy).unwrap().unwrap();
    assert!(cached.keep_cache, "the very listing the kernel was handed");
    assert_ne!(cached.handle, first.handle);
    assert_eq!(tree.lists.load(Ordering::SeqCst), lists, "no provider call");
    let names_of = |handle| -> Vec<_> {
        let snapshot = host.dir_snapshot(handle).unwrap();
        snapshot
            .items
            .iter()
            .map(|item| item.name.clone())
            .collect()
    };
    assert_eq!(names_of(cached.handle), names_of(first.handle));
    let hello = ino_of(&host, "sized").await;
    assert_eq!(
        host.cached_opendir(hello).unwrap().unwrap_err(),
        libc::ENOTDIR
    );
}

#[tokio::test]
async fn opendir_lets_the_kernel_keep_only_the_listing_it_already_has() {
    let tree = sample();
    let (host, queued) = host_with_queue(&tree);
    let lazy = ino_of(&host, "lazy").await;
    let first = host.opendir(lazy).await.unwrap();
    assert!(!first.keep_cache, "nothing cached yet");
    let second = host.opendir(lazy).await.unwrap();
    assert!(second.keep_cache, "same listing");
    tree.set("/lazy", vec![Node::file("b", at(9), Some(1))]);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let third = host.opendir(lazy).await.unwrap();
    assert!(!third.keep_cache, "listing changed");
    queued.try_iter().count();
    // The old handle read after the change would fill the kernel's cache with the old listing.
    let old = host.dir_snapshot(first.handle).unwrap();
    host.reading_snapshot(lazy, &old);
    assert!(queued
        .try_iter()
        .any(|work| matches!(work, KernelOp::Inode(ino) if ino == lazy)));
    let current = host.dir_snapshot(third.handle).unwrap();
    host.reading_snapshot(lazy, &current);
    assert_eq!(queued.try_iter().count(), 0);
}

// ---- the marker file and the barrier -----------------------------------------------------------

#[tokio::test]
async fn the_marker_is_a_read_only_file_at_the_root_that_shadows_a_providers_own() {
    let tree = sample();
    {
        let mut listings = tree.listings.lock().unwrap();
        let root = listings.get_mut("/").unwrap();
        // The provider's own `.vfs` (a folder here) is not shown: the host's marker is.
        root.push(Node::directory(".vfs", at(5)));
    }
    let host =
        Arc::new(Host::new(tree.clone(), Duration::from_secs(60), OWNER).with_name("test".into()));
    let marker = host.lookup(ROOT_INO, OsStr::new(".vfs")).await.unwrap();
    assert_eq!(marker.attrs.kind, EntryKind::File);
    assert_eq!(marker.attrs.perm, 0o444);
    assert_eq!(marker.attrs.mtime, SystemTime::UNIX_EPOCH);

    let opened = host.opendir(ROOT_INO).await.unwrap();
    let snapshot = host.dir_snapshot(opened.handle).unwrap();
    let named: Vec<_> = snapshot
        .items
        .iter()
        .filter(|item| item.name == ".vfs")
        .map(|item| (item.attrs.ino, item.attrs.kind))
        .collect();
    assert_eq!(named, [(marker.attrs.ino, EntryKind::File)]);

    let file = host.open(marker.attrs.ino).await.unwrap();
    assert!(file.direct_io, "the kernel must never cache what it says");
    let content = host.open_file(file.handle).unwrap();
    let bytes = content.read(0, 4096).unwrap();
    assert_eq!(bytes.as_slice(), b"vfs mount: test\nsettled\n");
    assert_eq!(tree.reads.load(Ordering::SeqCst), 0, "not a provider read");

    // A notice for the whole tree keeps its number; it stays a cached answer (no provider call).
    apply(
        &host,
        &Arc::new(RecordingKernel::default()),
        &NodePath::root(),
    );
    let again = host.lookup(ROOT_INO, OsStr::new(".vfs")).await.unwrap();
    assert_eq!(again.attrs.ino, marker.attrs.ino);
    let lists = tree.lists.load(Ordering::SeqCst);
    assert!(host.cached_lookup(ROOT_INO, OsStr::new(".vfs")).is_some());
    assert_eq!(tree.lists.load(Ordering::SeqCst), lists);
}

/// A provider whose `settle` announces a change just before it returns, as DockerFS does when
/// its watcher applies an event the barrier waited for.
struct AnnouncingOnSettle {
    tree: Arc<Tree>,
    notifier: vfs_core::ChangeNotifier,
}

#[async_trait]
impl Provider for AnnouncingOnSettle {
    async fn root(&self) -> Result<Node, ProviderError> {
        self.tree.root().await
    }
    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        self.tree.list(dir).await
    }
    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        self.tree.read(path).await
    }
    async fn settle(&self) -> Result<(), ProviderError> {
        self.notifier.changed(NodePath::parse("lazy"));
        Ok(())
    }
}

/// A kernel that takes its time to forget each inode.
struct SlowKernel(Arc<RecordingKernel>);

impl KernelCache for SlowKernel {
    fn forget_inode(&self, ino: u64) -> std::io::Result<()> {
        std::thread::sleep(Duration::from_millis(100));
        self.0.forget_inode(ino)
    }
    fn forget_attributes(&self, ino: u64) -> std::io::Result<()> {
        self.0.forget_attributes(ino)
    }
    fn forget_entry(&self, parent: u64, name: &OsStr) -> std::io::Result<()> {
        self.0.forget_entry(parent, name)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_barrier_returns_only_once_the_notices_queued_before_it_reached_the_kernel() {
    let (notifier, notices) = vfs_core::ChangeNotifier::channel();
    let provider = Arc::new(AnnouncingOnSettle {
        tree: sample(),
        notifier: notifier.clone(),
    });
    let host = Arc::new(Host::new(provider, Duration::from_secs(60), OWNER));
    host.set_marks(notifier.clone());
    let lazy = ino_of(&host, "lazy").await;
    let a = ino_of(&host, "lazy/a").await;
    let kernel = Arc::new(RecordingKernel::default());
    let thread =
        crate::notices::NoticeThread::start(host.clone(), notices, SlowKernel(kernel.clone()))
            .unwrap();
    // Numbered before the notice: a notice applied before the host knew a number has nothing
    // to tell the kernel (the notices thread may run as soon as it is sent).
    let sized = ino_of(&host, "sized").await;
    // Queued before the barrier by someone else: applied before it returns too.
    notifier.changed(NodePath::parse("sized"));
    for round in 0..3 {
        kernel.inodes.lock().unwrap().clear();
        let started = std::time::Instant::now();
        host.settle().await.unwrap();
        let forgotten = kernel.inodes.lock().unwrap().clone();
        assert!(
            forgotten.contains(&lazy) && forgotten.contains(&a),
            "round {round}: the kernel had not been told yet: {forgotten:?}"
        );
        if round == 0 {
            assert!(forgotten.contains(&sized), "{forgotten:?}");
        }
        assert!(started.elapsed() >= Duration::from_millis(200), "it waited");
    }
    thread.stop();
}

/// Two barriers take their tokens and send their marks in either order: a burst that holds
/// both passes the higher one, or the barrier waiting for it would wait for a later mark.
#[tokio::test(flavor = "multi_thread")]
async fn marks_received_out_of_order_in_one_burst_pass_the_highest() {
    let (notifier, notices) = vfs_core::ChangeNotifier::channel();
    let host = Arc::new(Host::new(sample(), Duration::from_secs(60), OWNER));
    host.set_marks(notifier.clone());
    notifier.mark(2);
    notifier.mark(1);
    let kernel = Arc::new(RecordingKernel::default());
    let thread = crate::notices::NoticeThread::start(host.clone(), notices, kernel).unwrap();
    let started = std::time::Instant::now();
    while host.marks_reached() < 2 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(host.marks_reached(), 2);
    thread.stop();
}

// ---- forget: the kernel's lookup counts ----------------------------------------------------

/// A folder `images` of `count` tags, with nothing else.
fn images(tree: &Tree, tags: impl IntoIterator<Item = String>) {
    tree.set("/", vec![Node::directory("images", at(1))]);
    tree.set(
        "/images",
        tags.into_iter()
            .map(|tag| Node::file(tag, at(2), Some(1)))
            .collect(),
    );
}

#[tokio::test]
async fn lookups_are_counted_and_a_forgotten_number_goes_only_once_its_name_is_gone() {
    let tree = Arc::new(Tree::default());
    images(&tree, ["app".to_string(), "db".to_string()]);
    let host = host(&tree, Duration::from_secs(60));
    let folder = ino_of(&host, "images").await;
    let app = ino_of(&host, "images/app").await;
    ino_of(&host, "images/app").await;
    assert_eq!(host.lookups(app), Some(2), "each lookup answered counts");
    assert_eq!(
        host.lookups(folder),
        Some(3),
        "once for each path through it"
    );
    host.forget(&[(app, 2)]);
    assert_eq!(host.lookups(app), Some(0));
    assert_eq!(
        ino_of(&host, "images/app").await,
        app,
        "still listed: the number stays"
    );

    // Listed by readdirplus: each entry handed out counts, `.` and `..` do not.
    let db = host
        .lookup(folder, OsStr::new("db"))
        .await
        .unwrap()
        .attrs
        .ino;
    host.forget(&[(db, 1)]);
    host.handed_out(&[db]);
    assert_eq!(host.lookups(db), Some(1));

    // `app` goes from the provider; the kernel forgets it after the notice.
    images(&tree, ["db".to_string()]);
    let kernel = Arc::new(RecordingKernel::default());
    apply(&host, &kernel, &NodePath::parse("images/app"));
    host.forget(&[(app, 1)]);
    assert_eq!(
        host.getattr(app, None).await.unwrap_err(),
        libc::ENOENT,
        "gone from the listing"
    );
    // Until the folder is listed again the host cannot tell: a name the kernel forgot stays.
    host.forget(&[(db, 1)]);
    apply(&host, &kernel, &NodePath::parse("images"));
    assert_eq!(host.lookups(db), Some(0));
    assert_eq!(ino_of(&host, "images/db").await, db, "listed again: kept");

    // Back again: a new number, never the old one.
    images(&tree, ["app".to_string(), "db".to_string()]);
    apply(&host, &kernel, &NodePath::parse("images"));
    let back = ino_of(&host, "images/app").await;
    assert!(back > app, "{back} after {app}");
}

#[tokio::test]
async fn a_folder_the_kernel_forgot_takes_its_names_with_it_once_it_is_gone() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let start = host.table_sizes();
    let lazy = ino_of(&host, "lazy").await;
    let a = ino_of(&host, "lazy/a").await;
    let sub = ino_of(&host, "lazy/sub").await;
    let opened = host.opendir(lazy).await.unwrap();
    host.releasedir(opened.handle);
    // The kernel lets go of everything below `lazy`, then of `lazy`, which then goes.
    host.forget(&[(a, 1), (sub, 1), (lazy, 3)]);
    let mut root = tree.listings.lock().unwrap()["/"].clone();
    root.retain(|node| node.name != "lazy");
    tree.set("/", root);
    let kernel = Arc::new(RecordingKernel::default());
    apply(&host, &kernel, &NodePath::parse("lazy"));
    ino_of(&host, "sized").await;
    for gone in [lazy, a, sub] {
        assert_eq!(host.getattr(gone, None).await.unwrap_err(), libc::ENOENT);
    }
    let end = host.table_sizes();
    assert_eq!(
        (end.served_listings, end.negatives),
        (start.served_listings, start.negatives)
    );
}

/// Runs a churn: `cycles` turns of `cycle` (given its number). Returns the sizes of the host's
/// tables before it, which they must be again once the next make has looked.
async fn churn(host: &Host, cycles: usize, mut cycle: impl AsyncFnMut(usize)) -> TableSizes {
    let start = host.table_sizes();
    for number in 0..cycles {
        cycle(number).await;
    }
    start
}

/// A folder `images` holding the file `base`, where tags come and go.
fn tags_tree() -> Arc<Tree> {
    let tree = Arc::new(Tree::default());
    images(&tree, ["base".to_string()]);
    tree
}

/// The tag churns' scene: `tags_tree`'s `tree` served by `host`, the kernel told of notices
/// (`kernel`), `images` and `images/base` looked up; `folder` is `images`.
struct Tags {
    tree: Arc<Tree>,
    host: Arc<Host>,
    kernel: Arc<RecordingKernel>,
    folder: u64,
}

impl Tags {
    async fn new(tree: Arc<Tree>, host: Arc<Host>) -> Tags {
        let folder = ino_of(&host, "images").await;
        ino_of(&host, "images/base").await;
        Tags {
            tree,
            host,
            kernel: Arc::new(RecordingKernel::default()),
            folder,
        }
    }

    /// Tag `tag-CYCLE` made: the source announces the folder, and the kernel looks the tag up.
    /// Its name and number.
    async fn made(&self, cycle: usize) -> (String, u64) {
        let tag = format!("tag-{cycle}");
        images(&self.tree, ["base".to_string(), tag.clone()]);
        apply_to_node(&self.host, &self.kernel, &NodePath::parse("images"));
        let ino = self
            .host
            .lookup(self.folder, OsStr::new(&tag))
            .await
            .unwrap()
            .attrs
            .ino;
        (tag, ino)
    }

    /// The tags gone from the source (not announced yet).
    fn removed(&self) {
        images(&self.tree, ["base".to_string()]);
    }

    /// The notices of `tag`'s removal: the tag, then its folder.
    fn announce_removal(&self, tag: &str) {
        let (host, kernel) = (&self.host, &self.kernel);
        apply(host, kernel, &NodePath::parse(&format!("images/{tag}")));
        apply_to_node(host, kernel, &NodePath::parse("images"));
    }
}

#[tokio::test]
async fn a_hundred_thousand_tags_made_and_removed_leave_the_tables_as_they_were() {
    const CYCLES: usize = 100_000;
    let tree = tags_tree();
    let host = host(&tree, Duration::from_secs(600));
    let tags = Tags::new(tree, host.clone()).await;
    let folder = tags.folder;
    // A negative entry as `make` leaves them (RCS, SCCS), and an open and read folder.
    host.lookup_entry(folder, OsStr::new("RCS")).await.unwrap();
    let opened = host.opendir(folder).await.unwrap();
    host.releasedir(opened.handle);
    let start = churn(&host, CYCLES, async |cycle| {
        // Made: the source announces the folder; make looks the tag up and misses a name.
        let (tag, ino) = tags.made(cycle).await;
        host.lookup_entry(folder, OsStr::new(&format!("{tag}.stamp")))
            .await
            .unwrap();
        if cycle % 1000 == 0 {
            let opened = host.opendir(folder).await.unwrap();
            host.releasedir(opened.handle);
        }
        // Removed: the notice, then the kernel lets the inode go.
        tags.removed();
        tags.announce_removal(&tag);
        host.forget(&[(ino, 1)]);
    })
    .await;
    // The next make looks again.
    ino_of(&host, "images/base").await;
    host.lookup_entry(folder, OsStr::new("RCS")).await.unwrap();
    let opened = host.opendir(folder).await.unwrap();
    host.releasedir(opened.handle);
    assert_eq!(host.table_sizes(), start);
}

/// A provider that resolves one name without its folder (`prefers_lookup`), counting both.
struct LookingUp {
    tree: Arc<Tree>,
    lookups: AtomicU64,
}

#[async_trait]
impl Provider for LookingUp {
    async fn root(&self) -> Result<Node, ProviderError> {
        self.tree.root().await
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        self.tree.list(dir).await
    }

    async fn lookup(&self, dir: &NodePath, name: &OsStr) -> Result<Node, ProviderError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let listings = self.tree.listings.lock().unwrap();
        listings
            .get(&dir.to_string())
            .and_then(|nodes| nodes.iter().find(|node| node.name == name).cloned())
            .ok_or_else(|| ProviderError::NotFound(dir.join(name)))
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        self.tree.read(path).await
    }

    fn prefers_lookup(&self) -> bool {
        true
    }
}

/// A folder of a provider that prefers lookups counts no link, listed or not: listing it changes
/// none of its attributes, so the kernel is not told to forget them (and asks nothing more).
#[tokio::test]
async fn a_folder_of_a_provider_that_prefers_lookups_keeps_its_attributes_when_listed() {
    let provider = Arc::new(LookingUp {
        tree: sample(),
        lookups: AtomicU64::new(0),
    });
    let host = Arc::new(Host::new(provider, Duration::from_secs(60), OWNER));
    let kernel = Arc::new(RecordingKernel::default());
    host.set_kernel(Box::new(kernel.clone()));
    let lazy = ino_of(&host, "lazy").await;
    let before = host.getattr(lazy, None).await.unwrap();
    let at = host.listed(lazy, 0).await.unwrap();
    let mut names = Vec::new();
    host.each_listed(&at, |item| {
        names.push(item.name.to_os_string());
        false
    });
    assert!(names.contains(&"sub".into()), "listed: {names:?}");
    let after = host.getattr(lazy, None).await.unwrap();
    assert_eq!(after.attrs, before.attrs);
    assert_eq!(
        after.attrs.nlink, 1,
        "not counted, though it holds a folder"
    );
    assert!(kernel.attributes.lock().unwrap().is_empty());
    assert!(host.apply_notices(Vec::new()).is_empty());
}

#[tokio::test]
async fn a_provider_that_prefers_lookups_is_asked_one_name_and_never_lists_for_it() {
    let provider = Arc::new(LookingUp {
        tree: sample(),
        lookups: AtomicU64::new(0),
    });
    let host = Arc::new(Host::new(provider.clone(), Duration::from_secs(60), OWNER));
    let lookups = || provider.lookups.load(Ordering::SeqCst);
    let lists = || provider.tree.lists.load(Ordering::SeqCst);

    let a = ino_of(&host, "lazy/a").await;
    assert_eq!((lookups(), lists()), (2, 0), "`lazy`, then `a`: no listing");
    // A folder never listed: its link count is "not counted", kept like any attribute.
    let folder = host.lookup(ROOT_INO, OsStr::new("lazy")).await.unwrap();
    assert_eq!(folder.attrs.nlink, 1);
    assert!(
        folder.attr_ttl > Duration::from_secs(59),
        "{:?}",
        folder.attr_ttl
    );
    assert_eq!(host.getattr(a, None).await.unwrap().attrs.mtime, at(8));
    // Within the TTL: from the host's memory, the kernel's questions and getattr alike.
    let lazy = ino_of(&host, "lazy").await;
    let again = host.cached_lookup(lazy, OsStr::new("a")).unwrap().unwrap();
    assert_eq!(again.attrs.ino, a);
    assert_eq!(
        host.cached_getattr(a, None).unwrap().unwrap().attrs.mtime,
        at(8)
    );
    assert_eq!((lookups(), lists()), (2, 0));
    // A missing name is a negative answer, remembered.
    assert!(matches!(
        host.lookup_entry(lazy, OsStr::new("nothing")).await,
        Ok(Lookup::Missing { .. })
    ));
    assert_eq!(lookups(), 3);
    // The marker is the host's own: found without asking.
    let marker = host.lookup(ROOT_INO, OsStr::new(".vfs")).await.unwrap();
    assert_eq!(marker.attrs.mtime, SystemTime::UNIX_EPOCH);
    assert_eq!((lookups(), lists()), (3, 0));

    // A notice drops the looked-up entry: the next lookup asks again, and sees the change.
    provider.tree.set(
        "/lazy",
        vec![
            Node::file("a", at(9), Some(1)),
            Node::directory("sub", at(8)),
        ],
    );
    let kernel = Arc::new(RecordingKernel::default());
    apply(&host, &kernel, &NodePath::parse("lazy/a"));
    assert!(host.cached_lookup(lazy, OsStr::new("a")).is_none());
    let changed = host.lookup(lazy, OsStr::new("a")).await.unwrap();
    assert_eq!(changed.attrs.mtime, at(9));
    assert_eq!(changed.attrs.ino, a, "the same path keeps its number");
    assert_eq!((lookups(), lists()), (4, 0));

    // A listing of the folder supersedes what was looked up in it, and answers every name.
    // (Its parent is not listed for it: its looked-up entry says it is a folder.)
    let handle = host.opendir(lazy).await.unwrap().handle;
    host.releasedir(handle);
    assert_eq!((lookups(), lists()), (4, 1));
    let sub = host.lookup(lazy, OsStr::new("sub")).await.unwrap();
    assert_eq!(sub.attrs.mtime, at(8));
    assert_eq!((lookups(), lists()), (4, 1));
}

#[tokio::test]
async fn tags_looked_up_one_by_one_made_and_removed_leave_the_tables_as_they_were() {
    // A provider asked one name at a time: the host may never list `images`, so a number the
    // kernel let go of goes once a notice took the host's entry of the name.
    const CYCLES: usize = 10_000;
    let tree = tags_tree();
    let provider = Arc::new(LookingUp {
        tree: tree.clone(),
        lookups: AtomicU64::new(0),
    });
    let host = Arc::new(Host::new(provider.clone(), Duration::from_secs(600), OWNER));
    let tags = Tags::new(tree, host.clone()).await;
    let start = churn(&host, CYCLES, async |cycle| {
        let (tag, ino) = tags.made(cycle).await;
        tags.removed();
        if cycle % 2 == 0 {
            // The kernel lets go before the removal: the name is still known then.
            host.forget(&[(ino, 1)]);
            tags.announce_removal(&tag);
        } else {
            tags.announce_removal(&tag);
            host.forget(&[(ino, 1)]);
        }
    })
    .await;
    assert_eq!(
        provider.tree.lists.load(Ordering::SeqCst),
        0,
        "never listed"
    );
    ino_of(&host, "images/base").await;
    assert_eq!(host.table_sizes(), start);
}

// ---- readdir without a handle ------------------------------------------------------------------

/// The names a handle-less readdir of `ino` at `offset` serves (all of them: no reply limit),
/// with the offset after each.
async fn listed_from(host: &Host, ino: u64, offset: u64) -> Vec<(String, u64)> {
    let at = host.listed(ino, offset).await.unwrap();
    let mut names = Vec::new();
    host.each_listed(&at, |item| {
        names.push((item.name.to_string_lossy().into_owned(), item.next));
        false
    });
    names
}

#[tokio::test]
async fn handle_less_offsets_continue_in_the_version_that_handed_them_out() {
    let tree = sample();
    let (host, queued) = host_with_queue(&tree);
    let lazy = ino_of(&host, "lazy").await;
    let first = listed_from(&host, lazy, 0).await;
    let names: Vec<&str> = first.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, [".", "..", "a", "sub"]);
    // Read in pieces: every offset continues right after its item.
    for (index, (_, next)) in first.iter().enumerate() {
        let rest = listed_from(&host, lazy, *next).await;
        assert_eq!(rest, first[index + 1..], "after item {index}");
    }
    // The same names again (the TTL ran out): the same offsets.
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(listed_from(&host, lazy, 0).await, first);

    // The folder changes: its start serves the new names, with offsets of their own, while an
    // offset of the old version goes on in the old names (and the kernel is told to drop what
    // it reads from it).
    tree.set(
        "/lazy",
        vec![
            Node::file("0", at(9), Some(1)),
            Node::file("a", at(8), Some(1)),
        ],
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    let second = listed_from(&host, lazy, 0).await;
    let names: Vec<&str> = second.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, [".", "..", "0", "a"]);
    queued.try_iter().count();
    let old_rest = listed_from(&host, lazy, first[2].1).await;
    assert_eq!(old_rest, first[3..], "the old version after `a`");
    assert!(queued
        .try_iter()
        .any(|work| matches!(work, KernelOp::Inode(ino) if ino == lazy)));
    assert!(second
        .iter()
        .all(|(_, next)| first.iter().all(|(_, old)| old != next)));
    let new_rest = listed_from(&host, lazy, second[2].1).await;
    assert_eq!(new_rest, second[3..]);
    assert_eq!(
        queued.try_iter().count(),
        0,
        "reading the newest drops nothing"
    );
}

#[tokio::test]
async fn handle_less_readdir_serves_every_item_of_a_large_listing_once() {
    let tree = sample();
    let many: Vec<Node> = (0..5000)
        .map(|n| Node::file(format!("file-{n:05}"), at(1), Some(1)))
        .collect();
    tree.set("/lazy", many);
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    // Replies of 100 items, as a small kernel buffer would take them.
    let mut offset = 0;
    let mut seen = Vec::new();
    loop {
        let at = host.listed(lazy, offset).await.unwrap();
        let mut piece = Vec::new();
        host.each_listed(&at, |item| {
            piece.push((item.name.to_string_lossy().into_owned(), item.next));
            piece.len() == 100
        });
        let Some((_, last)) = piece.last() else { break };
        offset = *last;
        seen.extend(piece.into_iter().map(|(name, _)| name));
    }
    assert_eq!(seen.len(), 5002);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 5002, "no item twice");
    assert!(
        listed_from(&host, lazy, offset).await.is_empty(),
        "then the end"
    );
}

#[tokio::test]
async fn without_handles_a_subtree_notice_drops_the_kernels_listing_of_the_folder_holding_it() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(60));
    let lazy = ino_of(&host, "lazy").await;
    let a = ino_of(&host, "lazy/a").await;
    let drops_folder = |host: &Host| {
        host.invalidate(&NodePath::parse("lazy/a"))
            .contains(&KernelOp::Inode(lazy))
    };
    assert!(
        !drops_folder(&host),
        "with handles, opendir compares listings"
    );
    host.set_without_handles();
    assert!(
        drops_folder(&host),
        "without, the folder's listing goes: `a` may be gone"
    );
    assert!(a > 0);
}

#[tokio::test]
async fn versions_of_listings_the_cache_dropped_are_swept_after_a_grace() {
    let tree = sample();
    let host = host(&tree, Duration::from_secs(600));
    let lazy = ino_of(&host, "lazy").await;
    let nested = ino_of(&host, "nested").await;
    for folder in [ROOT_INO, lazy, nested] {
        listed_from(&host, folder, 0).await;
    }
    let later = std::time::Instant::now() + Duration::from_secs(120);
    assert_eq!(host.sweep_listed(later), 3, "every listing is still cached");
    // Drops the listings of `lazy` and of the root (which holds its attributes).
    host.invalidate(&NodePath::parse("lazy"));
    assert_eq!(
        host.sweep_listed(std::time::Instant::now()),
        3,
        "a reader may still be in a dropped one"
    );
    assert_eq!(
        host.sweep_listed(later),
        1,
        "gone after the grace: only the version of `nested` is left"
    );
    // Listed again: a version of its own, from the start.
    let again = listed_from(&host, lazy, 0).await;
    assert_eq!(again.len(), 4);
}

/// What the kernel holds of a churn's cycle: lookups by number, to give back at its end.
#[derive(Default)]
struct Held(HashMap<u64, u64>);

impl Held {
    /// A path walk as the kernel makes it: one lookup of each name on the way.
    async fn walk(&mut self, host: &Host, path: &str) -> u64 {
        let mut ino = ROOT_INO;
        for name in NodePath::parse(path).names() {
            ino = host.lookup(ino, name).await.unwrap().attrs.ino;
            *self.0.entry(ino).or_default() += 1;
        }
        ino
    }

    /// A handle-less READDIRPLUS of folder `ino` from its start: each entry but `.` and `..`
    /// is one more lookup the kernel holds.
    async fn readdirplus(&mut self, host: &Host, ino: u64) {
        let at = host.listed(ino, 0).await.unwrap();
        let mut inos = Vec::new();
        host.each_listed(&at, |item| {
            if item.name != "." && item.name != ".." {
                inos.push(item.attrs.ino);
            }
            false
        });
        host.handed_out(&inos);
        for ino in inos {
            *self.0.entry(ino).or_default() += 1;
        }
    }

    /// The kernel lets go of everything it was handed.
    fn forget(self, host: &Host) {
        host.forget(&self.0.into_iter().collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn the_soaks_churn_of_tags_and_containers_read_without_handles_leaves_the_tables_as_they_were(
) {
    // scripts/bench.d/soak.sh's shape: a tag `soak/tN` (in a folder that comes and goes with
    // it) and a container `soak-cN` (a folder) made and removed, under a make that looks names
    // up and an `ls images/soak containers` served without handles (Linux >= 5.1).
    const CYCLES: usize = 2_000;
    let tree = Arc::new(Tree::default());
    let containers = |extra: Option<&str>| -> Vec<Node> {
        (0..10)
            .map(|n| format!("c{n}"))
            .chain(extra.map(str::to_string))
            .map(|name| Node::directory(name, at(3)))
            .collect()
    };
    tree.set(
        "/",
        vec![
            Node::directory("images", at(1)),
            Node::directory("containers", at(1)),
        ],
    );
    tree.set("/images", vec![Node::directory("base", at(2))]);
    tree.set("/images/base", vec![Node::file("latest", at(2), Some(1))]);
    tree.set("/containers", containers(None));
    let host = host(&tree, Duration::from_secs(600));
    host.set_without_handles();
    let kernel = Arc::new(RecordingKernel::default());
    // What stays held throughout: the folders, the image make stats, a miss, a listing.
    let mut kept = Held::default();
    let images = kept.walk(&host, "images").await;
    let folder = kept.walk(&host, "containers").await;
    kept.walk(&host, "images/base/latest").await;
    host.lookup_entry(images, OsStr::new("soak")).await.unwrap();
    kept.readdirplus(&host, folder).await;
    let start_listed = host.sweep_listed(std::time::Instant::now());
    let start = churn(&host, CYCLES, async |cycle| {
        let (tag, container) = (format!("t{cycle}"), format!("soak-c{cycle}"));
        // Made, and announced as DockerFS does: the folders whose names changed.
        tree.set(
            "/images",
            vec![
                Node::directory("base", at(2)),
                Node::directory("soak", at(4)),
            ],
        );
        tree.set(
            "/images/soak",
            vec![Node::file(tag.as_str(), at(4), Some(1))],
        );
        tree.set("/containers", containers(Some(&container)));
        tree.set(
            &format!("/containers/{container}"),
            vec![Node::file("id", at(4), Some(1))],
        );
        for path in ["images", "containers"] {
            apply_to_node(&host, &kernel, &NodePath::parse(path));
        }
        apply(&host, &kernel, &NodePath::parse("images/soak"));
        // The looping make and ls: lookups and handle-less listings.
        let mut held = Held::default();
        held.walk(&host, "images/base/latest").await;
        let soak = held.walk(&host, &format!("images/soak/{tag}")).await;
        held.walk(&host, &format!("containers/{container}/id"))
            .await;
        let soak_folder = host.lookup(images, OsStr::new("soak")).await.unwrap();
        *held.0.entry(soak_folder.attrs.ino).or_default() += 1;
        held.readdirplus(&host, soak_folder.attrs.ino).await;
        held.readdirplus(&host, folder).await;
        assert_ne!(soak, soak_folder.attrs.ino);
        // Removed: the notices, then the kernel lets go of what it was handed.
        tree.set("/images", vec![Node::directory("base", at(2))]);
        tree.listings.lock().unwrap().remove("/images/soak");
        tree.set("/containers", containers(None));
        tree.listings
            .lock()
            .unwrap()
            .remove(&format!("/containers/{container}"));
        apply(&host, &kernel, &NodePath::parse("images/soak"));
        apply(
            &host,
            &kernel,
            &NodePath::parse(&format!("containers/{container}")),
        );
        for path in ["images", "containers"] {
            apply_to_node(&host, &kernel, &NodePath::parse(path));
        }
        // The next make misses the tag's folder; the next ls reads the containers anew.
        host.lookup_entry(images, OsStr::new("soak")).await.unwrap();
        held.readdirplus(&host, folder).await;
        held.forget(&host);
    })
    .await;
    // What requests left for the notices thread (none runs here) is not kept memory.
    let mut end = host.table_sizes();
    end.pending = start.pending;
    assert_eq!(end, start);
    assert_eq!(host.sweep_listed(std::time::Instant::now()), start_listed);
}

/// A lookup and a notice on its folder at once, many times over, with the notice at every
/// moment of the lookup (a name appears in odd rounds, goes in even ones): an answer the
/// kernel may keep must be one the notice takes back (recorded before the notice forgot the
/// folder's names and numbers), else the kernel keeps a name missing that exists, or present
/// that is gone (what `vfs wait` was once seen to leave behind, ~1 run in 30).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_crossing_a_notice_leaves_the_kernel_nothing_it_cannot_take_back() {
    let tree = Arc::new(Tree::default());
    let host = host(&tree, Duration::from_secs(60));
    lookups_crossing_notices(&host, &tree).await;
}

/// The same through a provider's lookup of one name (`prefers_lookup`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_lookup_crossing_a_notice_leaves_the_kernel_nothing_it_cannot_take_back() {
    let tree = Arc::new(Tree::default());
    let provider = Arc::new(LookingUp {
        tree: tree.clone(),
        lookups: AtomicU64::new(0),
    });
    let host = Arc::new(Host::new(provider.clone(), Duration::from_secs(60), OWNER));
    lookups_crossing_notices(&host, &tree).await;
    assert!(provider.lookups.load(Ordering::SeqCst) > 0);
}

async fn lookups_crossing_notices(host: &Arc<Host>, tree: &Arc<Tree>) {
    tree.set("/", vec![Node::directory("d", at(1))]);
    tree.set("/d", vec![]);
    let d = ino_of(host, "d").await;
    let folder = NodePath::parse("d");
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let (mut round, mut kept) = (0u32, 0u32);
    while std::time::Instant::now() < deadline {
        round += 1;
        let name = format!("x{round}");
        let appears = round % 2 == 1;
        let with_name = vec![Node::file(&name, at(2), Some(1))];
        let (before, after) = if appears {
            (vec![], with_name)
        } else {
            (with_name, vec![])
        };
        tree.set("/d", before);
        // The folder's listing forgotten, so that the lookup loads it.
        host.apply_notices(vec![Notice::subtree(folder.clone())]);
        let start = Arc::new(std::sync::Barrier::new(2));
        let notice = std::thread::spawn({
            let (host, tree, start, folder, name) = (
                host.clone(),
                tree.clone(),
                start.clone(),
                folder.clone(),
                name.clone(),
            );
            move || {
                start.wait();
                // A different moment of the lookup each round.
                for _ in 0..(round % 97) * 20 {
                    std::hint::spin_loop();
                }
                tree.set("/d", after);
                // As DockerFS announces a tag added or removed: the name, and its folder's time.
                host.apply_notices(vec![
                    Notice::subtree(folder.join(&name)),
                    Notice::node(folder),
                ])
            }
        });
        tokio::task::block_in_place(|| start.wait());
        let answer = host.lookup_entry(d, OsStr::new(&name)).await.unwrap();
        let ops = notice.join().unwrap();
        // The answer as it was before the change (the one that may be stale), if the kernel
        // keeps it: a missing name for any time at all (see
        // `a_missing_name_from_a_listing_a_notice_overtook_is_not_kept_at_all`), a name found
        // beyond the shortest TTL.
        let before_change = match &answer {
            Lookup::Missing { ttl } if appears => *ttl > Duration::ZERO,
            Lookup::Found(entry) if !appears => entry.entry_ttl > MIN_TTL,
            _ => false,
        };
        if before_change {
            kept += 1;
            assert!(
                ops.contains(&KernelOp::Entry {
                    parent: d,
                    name: name.clone().into(),
                }),
                "round {round}: {name} answered {answer:?}, and the notice that made it {} did not take that back",
                if appears { "exist" } else { "go" }
            );
        }
    }
    eprintln!("{round} rounds, {kept} answers kept");
}

/// A provider whose listing of one folder is read at once but answered only when the test lets
/// it go: an answer a notice overtakes, deterministically.
struct Overtaken {
    tree: Arc<Tree>,
    held: NodePath,
    /// Told once the listing of `held` is read.
    read: tokio::sync::Notify,
    /// Each permit lets one such listing go.
    hold: tokio::sync::Semaphore,
}

#[async_trait]
impl Provider for Overtaken {
    async fn root(&self) -> Result<Node, ProviderError> {
        self.tree.root().await
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        let answer = self.tree.list(dir).await;
        if *dir == self.held {
            self.read.notify_one();
            if let Ok(permit) = self.hold.acquire().await {
                permit.forget();
            }
        }
        answer
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        self.tree.read(path).await
    }
}

/// A name missing from a listing that a notice overtook (the name came while the listing was
/// on its way, and the listing asked again crossed a notice too, as under a churn of engine
/// events) is not for the kernel to keep at all. The notice found no missing name to take
/// back, and a "1 ms" negative entry is no 1 ms in the kernel: it keeps an entry one jiffy
/// rounded up, plus the jiffy it is in (4 to 8 ms at HZ=250), longer than a barrier (`.vfs`)
/// may take, after which the name would read missing though it exists. The provider's lookup
/// answers such a name with no time to keep already.
#[tokio::test]
async fn a_missing_name_from_a_listing_a_notice_overtook_is_not_kept_at_all() {
    let tree = Arc::new(Tree::default());
    tree.set("/", vec![Node::directory("d", at(1))]);
    tree.set("/d", vec![]);
    let provider = Arc::new(Overtaken {
        tree: tree.clone(),
        held: NodePath::parse("d"),
        read: tokio::sync::Notify::new(),
        hold: tokio::sync::Semaphore::new(0),
    });
    let host = Arc::new(Host::new(provider.clone(), Duration::from_secs(60), OWNER));
    let d = ino_of(&host, "d").await;
    let lookup = tokio::spawn({
        let host = host.clone();
        async move { host.lookup_entry(d, OsStr::new("x")).await }
    });
    // The listing is read without `x`, a notice elsewhere overtakes it: it is asked again.
    provider.read.notified().await;
    host.apply_notices(vec![Notice::subtree(NodePath::parse("elsewhere"))]);
    provider.hold.add_permits(1);
    // Read again without `x`; then `x` comes, announced as DockerFS announces a name that
    // came (its folder alone), and the notice is applied before the listing is answered.
    provider.read.notified().await;
    tree.set("/d", vec![Node::file("x", at(2), Some(1))]);
    let ops = host.apply_notices(vec![Notice::node(NodePath::parse("d"))]);
    provider.hold.add_permits(1);
    let answer = lookup.await.unwrap().unwrap();
    assert!(
        !ops.contains(&KernelOp::Entry {
            parent: d,
            name: "x".into()
        }),
        "the notice came first: it had no missing name to take back"
    );
    let Lookup::Missing { ttl } = answer else {
        panic!("answered from the listing read before `x` came: {answer:?}");
    };
    assert_eq!(
        ttl,
        Duration::ZERO,
        "a negative entry no notice can take back must not be kept"
    );
    // The next lookup sees `x`.
    provider.hold.add_permits(1);
    let again = host.lookup_entry(d, OsStr::new("x")).await;
    assert!(matches!(again, Ok(Lookup::Found(_))), "{again:?}");
}
