//! The host mounted for real, checked through the kernel with std::fs and ordinary tools.

mod support;

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use support::{at, is_mounted, run, Fixture, TestProvider};
use vfs_core::Node;
use vfs_host::{HostError, MountConfig};

const HELLO: &[u8] = b"hello world\n";
const HELLO_MTIME: (u64, u32) = (1_700_000_000, 123_456_789);

fn unknown_size_content() -> Vec<u8> {
    (0..70_000u32)
        .map(|index| b'a' + (index % 26) as u8)
        .collect()
}

/// A small tree: files of known and unknown size, a symlink, a folder and a folder with a folder.
fn sample_provider() -> Arc<TestProvider> {
    let provider = TestProvider::new();
    provider.set_listing(
        "/",
        vec![
            Node::file(
                "hello.txt",
                at(HELLO_MTIME.0, HELLO_MTIME.1),
                Some(HELLO.len() as u64),
            ),
            Node::file("unknown.log", at(1_700_000_001, 5), None),
            Node::symlink("link", at(1_700_000_002, 0), "hello.txt"),
            Node::directory("docs", at(1_700_000_003, 0)),
            Node::directory("nested", at(1_700_000_004, 0)),
        ],
    );
    provider.set_listing(
        "/nested",
        vec![
            Node::file("inner", at(1_700_000_005, 0), Some(3)),
            Node::directory("sub", at(1_700_000_006, 0)),
        ],
    );
    provider.set_listing("/nested/sub", vec![]);
    provider.set_listing(
        "/docs",
        vec![Node::file("a.md", at(1_700_000_007, 0), Some(2)).with_perm(0o640)],
    );
    provider.set_content("/hello.txt", HELLO);
    provider.set_content("/unknown.log", unknown_size_content());
    provider.set_content("/nested/inner", "abc");
    provider.set_content("/docs/a.md", "md");
    provider
}

#[test]
fn stat_shows_owner_read_only_modes_link_counts_and_nanosecond_times() {
    let Some(fixture) = Fixture::mount(sample_provider(), Duration::from_secs(5)) else {
        return;
    };
    let hello = fs::metadata(fixture.path("hello.txt")).unwrap();
    assert!(hello.is_file());
    assert_eq!(hello.len(), HELLO.len() as u64);
    assert_eq!(hello.mode() & 0o7777, 0o444);
    assert_eq!(hello.uid(), unsafe { libc::getuid() });
    assert_eq!(hello.gid(), unsafe { libc::getgid() });
    assert_eq!(hello.nlink(), 1);
    assert_eq!(
        (hello.mtime(), hello.mtime_nsec()),
        (HELLO_MTIME.0 as i64, HELLO_MTIME.1 as i64)
    );
    assert_eq!(
        (hello.ctime(), hello.ctime_nsec()),
        (HELLO_MTIME.0 as i64, HELLO_MTIME.1 as i64)
    );

    let docs = fs::metadata(fixture.path("docs")).unwrap();
    assert!(docs.is_dir());
    assert_eq!(docs.mode() & 0o7777, 0o555);
    assert_eq!(docs.nlink(), 2);
    let a_md = fs::metadata(fixture.path("docs/a.md")).unwrap();
    assert_eq!(a_md.mode() & 0o7777, 0o440, "write bits are cleared");

    // Its one subdirectory is known once it is listed, and `stat` right after sees it.
    let nested = fixture.path("nested");
    assert_eq!(fs::metadata(&nested).unwrap().nlink(), 2, "not listed yet");
    assert_eq!(fs::read_dir(&nested).unwrap().count(), 2);
    assert_eq!(fs::metadata(&nested).unwrap().nlink(), 3);
    assert_eq!(fs::read(fixture.path("nested/inner")).unwrap(), b"abc");

    let link = fs::symlink_metadata(fixture.path("link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(link.mode() & 0o7777, 0o777);
    assert_eq!(
        fs::read_link(fixture.path("link")).unwrap(),
        Path::new("hello.txt")
    );
    assert_eq!(
        fs::read(fixture.path("link")).unwrap(),
        HELLO,
        "the link resolves inside the mount"
    );

    let missing = fs::metadata(fixture.path("nope")).unwrap_err();
    assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));

    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|line| line.split(' ').nth(1) == Some(fixture.mountpoint.to_str().unwrap()))
        .expect("the mount is listed");
    assert!(line.starts_with("vfs-test "), "{line}");
    // fuser's direct mount (as root) says "fuse"; through fusermount3 it says "fuse.vfs".
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(["fuse", "fuse.vfs"].contains(&fields[2]), "{line}");
    assert!(fields[3].starts_with("ro,nosuid,nodev"), "{line}");
    assert!(fields[3].contains("default_permissions"), "{line}");
}

#[test]
fn readdir_ls_and_find_see_the_tree() {
    let Some(fixture) = Fixture::mount(sample_provider(), Duration::from_secs(5)) else {
        return;
    };
    let mut names: Vec<String> = fs::read_dir(&fixture.mountpoint)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // `.vfs` is the host's marker at the root of every mount.
    assert_eq!(
        names,
        [".vfs", "docs", "hello.txt", "link", "nested", "unknown.log"]
    );

    let (ok, listing, stderr) = run(Command::new("ls").arg("-la").arg(&fixture.mountpoint));
    assert!(ok, "{stderr}");
    let line_of = |name: &str| {
        listing
            .lines()
            .find(|line| line.ends_with(name))
            .unwrap_or_else(|| panic!("{name} in {listing}"))
            .to_string()
    };
    assert!(
        line_of(" hello.txt").starts_with("-r--r--r-- 1 "),
        "{listing}"
    );
    assert!(
        line_of(" link -> hello.txt").starts_with("lrwxrwxrwx 1 "),
        "{listing}"
    );
    assert!(line_of(" docs").starts_with("dr-xr-xr-x 2 "), "{listing}");
    assert!(
        line_of(" nested").starts_with("dr-xr-xr-x 2 "),
        "not listed yet: {listing}"
    );
    assert!(
        line_of(" .").starts_with("dr-xr-xr-x 4 "),
        "root has two subdirectories: {listing}"
    );
    assert!(line_of(" hello.txt").contains(" 12 "), "{listing}");

    let (ok, found, stderr) = run(Command::new("find")
        .arg(".")
        .current_dir(&fixture.mountpoint));
    assert!(ok, "{stderr}");
    let mut found: Vec<&str> = found.lines().collect();
    found.sort();
    assert_eq!(
        found,
        [
            ".",
            "./.vfs",
            "./docs",
            "./docs/a.md",
            "./hello.txt",
            "./link",
            "./nested",
            "./nested/inner",
            "./nested/sub",
            "./unknown.log"
        ]
    );
    // `find` listed it: its one subdirectory is known.
    let (ok, listing, stderr) = run(Command::new("ls").arg("-ld").arg(fixture.path("nested")));
    assert!(ok, "{stderr}");
    assert!(listing.starts_with("dr-xr-xr-x 3 "), "{listing}");
}

#[test]
fn cat_wc_and_python_read_files_of_known_and_unknown_size() {
    let provider = sample_provider();
    let disk = tempfile::NamedTempFile::new().unwrap();
    let big: Vec<u8> = (0..1024 * 1024u32)
        .map(|index| (index % 251) as u8)
        .collect();
    disk.as_file().write_all(&big).unwrap();
    provider.push(
        "/",
        Node::file("big.bin", at(1_700_000_010, 0), Some(big.len() as u64)),
    );
    provider.set_disk_file("/big.bin", disk.path());
    let Some(fixture) = Fixture::mount(provider, Duration::from_secs(5)) else {
        return;
    };
    let expected = unknown_size_content();

    let (ok, text, stderr) = run(Command::new("cat").arg(fixture.path("hello.txt")));
    assert!(ok, "{stderr}");
    assert_eq!(text.as_bytes(), HELLO);

    let unknown = fixture.path("unknown.log");
    let output = Command::new("cat").arg(&unknown).output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        output.stdout, expected,
        "cat gets all of a file of unknown size"
    );
    let (ok, count, _) = run(Command::new("wc").arg("-c").arg(&unknown));
    assert!(ok);
    assert_eq!(
        count.split_whitespace().next(),
        Some(expected.len().to_string().as_str())
    );
    let (ok, length, stderr) = run(Command::new("python3")
        .arg("-c")
        .arg("import sys; print(len(open(sys.argv[1]).read()))")
        .arg(&unknown));
    assert!(ok, "{stderr}");
    assert_eq!(length.trim(), expected.len().to_string());
    assert_eq!(
        fs::metadata(&unknown).unwrap().len(),
        expected.len() as u64,
        "size learnt by reading"
    );

    assert_eq!(fs::read(fixture.path("big.bin")).unwrap(), big);
}

#[test]
fn a_file_of_unknown_size_shows_its_length_to_fstat_right_after_open() {
    let provider = sample_provider();
    // A long TTL: the kernel keeps the attributes, so only the open's invalidation can
    // bring it the learnt size.
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_secs(60)) else {
        return;
    };
    let unknown = fixture.path("unknown.log");
    let expected = unknown_size_content();
    assert_eq!(
        fs::metadata(&unknown).unwrap().len(),
        0,
        "unknown until read"
    );
    let file = fs::File::open(&unknown).unwrap();
    assert_eq!(
        file.metadata().unwrap().len(),
        expected.len() as u64,
        "fstat right after open"
    );
    drop(file);
    assert_eq!(fs::metadata(&unknown).unwrap().len(), expected.len() as u64);
    // tail seeks from the size that fstat gives it.
    let (ok, tail, stderr) = run(Command::new("tail").arg("-c").arg("6").arg(&unknown));
    assert!(ok, "{stderr}");
    assert_eq!(tail.as_bytes(), &expected[expected.len() - 6..]);

    // New content (and time) announced: the old length is forgotten, the next open learns
    // the new one.
    let longer: Vec<u8> = [expected.as_slice(), b"and one more line\n"].concat();
    provider.set_content("/unknown.log", longer.clone());
    provider.update("/", "unknown.log", |node| node.mtime = at(1_800_000_000, 0));
    provider.notify("/unknown.log");
    seen_at_once("the new time", || mtime_of(&unknown) == (1_800_000_000, 0));
    let file = fs::File::open(&unknown).unwrap();
    assert_eq!(file.metadata().unwrap().len(), longer.len() as u64);
    drop(file);
    assert_eq!(fs::read(&unknown).unwrap(), longer);
}

#[test]
fn inodes_are_stable_and_a_big_directory_reads_whole_while_it_changes() {
    let provider = sample_provider();
    let first: Vec<Node> = (0..2000)
        .map(|index| Node::file(format!("entry-{index:05}"), at(1, 0), Some(0)))
        .collect();
    provider.push("/", Node::directory("many", at(1, 0)));
    provider.set_listing("/many", first);
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_millis(200)) else {
        return;
    };
    let inode = fs::metadata(fixture.path("docs/a.md")).unwrap().ino();
    std::thread::sleep(Duration::from_millis(300));
    provider.notify("/docs");
    assert_eq!(
        fs::metadata(fixture.path("docs/a.md")).unwrap().ino(),
        inode
    );
    assert_ne!(
        fs::metadata(fixture.path("hello.txt")).unwrap().ino(),
        inode
    );

    let expected: HashSet<String> = (0..2000).map(|index| format!("entry-{index:05}")).collect();
    let mut reader = fs::read_dir(fixture.path("many")).unwrap();
    let mut seen = Vec::new();
    for entry in reader.by_ref().take(300) {
        seen.push(entry.unwrap().file_name().into_string().unwrap());
    }
    // The listing changes under the open directory: half goes, new names come.
    provider.set_listing(
        "/many",
        (1000..3000)
            .map(|index| Node::file(format!("entry-{index:05}"), at(2, 0), Some(0)))
            .collect(),
    );
    provider.notify("/many");
    for entry in reader {
        seen.push(entry.unwrap().file_name().into_string().unwrap());
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 2000, "no entry repeated or skipped");
    assert_eq!(unique, expected);

    let again: HashSet<String> = fs::read_dir(fixture.path("many"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    let changed: HashSet<String> = (1000..3000)
        .map(|index| format!("entry-{index:05}"))
        .collect();
    assert_eq!(again, changed, "a new read sees the new listing");
}

fn mtime_of(path: &Path) -> (i64, i64) {
    let metadata = fs::metadata(path).unwrap();
    (metadata.mtime(), metadata.mtime_nsec())
}

/// Polls `check` until it holds; returns how long that took, or `None` after `limit`.
fn time_until(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn a_change_notice_is_seen_at_once_despite_a_long_ttl() {
    let provider = sample_provider();
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_secs(60)) else {
        return;
    };
    let a_md = fixture.path("docs/a.md");
    assert_eq!(mtime_of(&a_md), (1_700_000_007, 0));
    assert!(!fixture.path("docs/new.md").exists());

    provider.update("/docs", "a.md", |node| node.mtime = at(1_800_000_000, 42));
    provider.push("/docs", Node::file("new.md", at(1_800_000_001, 0), Some(0)));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        mtime_of(&a_md),
        (1_700_000_007, 0),
        "without a notice the 60 s TTL holds"
    );

    provider.notify("/docs");
    let seen = time_until(Duration::from_secs(2), || {
        mtime_of(&a_md) == (1_800_000_000, 42) && fixture.path("docs/new.md").exists()
    });
    let seen = seen.expect("the notice is seen");
    assert!(seen < Duration::from_millis(100), "seen after {seen:?}");

    // A notice naming the file itself refreshes it too.
    provider.update("/docs", "a.md", |node| node.mtime = at(1_900_000_000, 7));
    provider.notify("/docs/a.md");
    let seen = time_until(Duration::from_secs(2), || {
        mtime_of(&a_md) == (1_900_000_000, 7)
    })
    .expect("seen");
    assert!(seen < Duration::from_millis(100), "seen after {seen:?}");
}

#[test]
fn a_node_notice_shows_a_folders_new_names_and_time_and_keeps_what_is_below() {
    let provider = sample_provider();
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_secs(60)) else {
        return;
    };
    let docs = fixture.path("docs");
    let a_md = fixture.path("docs/a.md");
    assert_eq!(mtime_of(&docs), (1_700_000_003, 0));
    assert_eq!(mtime_of(&a_md), (1_700_000_007, 0));
    assert!(!fixture.path("docs/b.md").exists(), "a negative entry now");
    assert_eq!(names_in(&docs), HashSet::from(["a.md".to_string()]));

    // A new file in docs makes docs newer; a.md changes too, but without a notice of its own.
    provider.push("/docs", Node::file("b.md", at(1_800_000_000, 0), Some(0)));
    provider.update("/", "docs", |node| node.mtime = at(1_800_000_000, 0));
    provider.update("/docs", "a.md", |node| node.mtime = at(1_800_000_001, 0));
    provider.notify_node("/docs");
    seen_at_once("the folder's new name and time", || {
        fixture.path("docs/b.md").exists() && mtime_of(&docs) == (1_800_000_000, 0)
    });
    assert_eq!(
        mtime_of(&a_md),
        (1_700_000_007, 0),
        "a name that stayed keeps what the kernel knew of it: the notice was for the folder alone"
    );
    provider.notify("/docs/a.md");
    seen_at_once("a.md's own notice", || {
        mtime_of(&a_md) == (1_800_000_001, 0)
    });
    assert_eq!(
        names_in(&docs),
        HashSet::from(["a.md".to_string(), "b.md".to_string()]),
        "the kernel's cached listing was dropped"
    );
}

#[test]
fn without_a_notice_a_change_is_seen_after_the_ttl() {
    let provider = sample_provider();
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_millis(500)) else {
        return;
    };
    let hello = fixture.path("hello.txt");
    assert_eq!(
        mtime_of(&hello),
        (HELLO_MTIME.0 as i64, HELLO_MTIME.1 as i64)
    );
    provider.update("/", "hello.txt", |node| node.mtime = at(1_750_000_000, 0));
    let seen = time_until(Duration::from_secs(3), || {
        mtime_of(&hello) == (1_750_000_000, 0)
    })
    .expect("seen");
    assert!(seen <= Duration::from_secs(1), "seen after {seen:?}");
}

#[test]
fn the_default_ttl_follows_how_complete_the_providers_notices_are() {
    // Partial notices: the 500 ms default, so an unannounced change shows within a second.
    let partial = sample_provider();
    let Some(fixture) = Fixture::mount_with_default_ttl(partial.clone()) else {
        return;
    };
    let hello = fixture.path("hello.txt");
    assert_eq!(
        mtime_of(&hello),
        (HELLO_MTIME.0 as i64, HELLO_MTIME.1 as i64)
    );
    partial.update("/", "hello.txt", |node| node.mtime = at(1_750_000_000, 0));
    let seen = time_until(Duration::from_secs(3), || {
        mtime_of(&hello) == (1_750_000_000, 0)
    })
    .expect("seen without a notice");
    assert!(seen <= Duration::from_secs(1), "seen after {seen:?}");
    drop(fixture);

    // Complete notices: answers stand until a notice, long past the 500 ms default, and
    // neither the kernel nor the host asks the provider again meanwhile.
    let complete = sample_provider();
    complete.complete_notices.store(true, Ordering::SeqCst);
    let Some(fixture) = Fixture::mount_with_default_ttl(complete.clone()) else {
        return;
    };
    let hello = fixture.path("hello.txt");
    let a_md = fixture.path("docs/a.md");
    assert_eq!(
        mtime_of(&hello),
        (HELLO_MTIME.0 as i64, HELLO_MTIME.1 as i64)
    );
    assert_eq!(mtime_of(&a_md), (1_700_000_007, 0));
    let lists_before = complete.list_calls.load(Ordering::SeqCst);
    complete.update("/", "hello.txt", |node| node.mtime = at(1_750_000_000, 0));
    std::thread::sleep(vfs_host::DEFAULT_TTL * 3);
    assert_eq!(
        mtime_of(&hello),
        (HELLO_MTIME.0 as i64, HELLO_MTIME.1 as i64),
        "kept past the short default without a notice"
    );
    assert_eq!(mtime_of(&a_md), (1_700_000_007, 0));
    assert_eq!(
        complete.list_calls.load(Ordering::SeqCst),
        lists_before,
        "the provider was asked again within the long TTL"
    );
    complete.notify("/");
    seen_at_once("the notice is seen", || {
        mtime_of(&hello) == (1_750_000_000, 0)
    });
}

/// Asserts `check` comes to hold at once (within 100 ms: the notices thread works meanwhile).
fn seen_at_once(what: &str, check: impl FnMut() -> bool) {
    let seen = time_until(Duration::from_secs(2), check).unwrap_or_else(|| panic!("{what}"));
    assert!(seen < Duration::from_millis(100), "{what}: after {seen:?}");
}

fn link_target(path: &Path) -> String {
    fs::read_link(path).unwrap().to_string_lossy().into_owned()
}

fn names_in(dir: &Path) -> HashSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn retarget(provider: &TestProvider, target: &str) {
    provider.update("/", "link", |node| {
        node.kind = vfs_core::NodeKind::Symlink {
            target: target.into(),
        }
    });
}

#[test]
fn a_cached_symlink_target_changes_with_its_notice_or_after_the_ttl() {
    let provider = sample_provider();
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_secs(60)) else {
        return;
    };
    let link = fixture.path("link");
    assert_eq!(link_target(&link), "hello.txt");
    retarget(&provider, "docs");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        link_target(&link),
        "hello.txt",
        "without a notice the 60 s TTL holds"
    );
    provider.notify("/link");
    let seen = time_until(Duration::from_secs(2), || link_target(&link) == "docs")
        .expect("the notice is seen");
    assert!(seen < Duration::from_millis(100), "seen after {seen:?}");
    drop(fixture);

    // No notice: the kernel keeps a link target past any TTL unless told, so the host must
    // tell it when it finds the target changed.
    let provider = sample_provider();
    let ttl = Duration::from_millis(300);
    let Some(fixture) = Fixture::mount(provider.clone(), ttl) else {
        return;
    };
    let link = fixture.path("link");
    for _ in 0..3 {
        assert_eq!(link_target(&link), "hello.txt");
    }
    retarget(&provider, "nested/inner");
    let seen = time_until(Duration::from_secs(3), || {
        link_target(&link) == "nested/inner"
    })
    .expect("a changed target is seen without a notice");
    assert!(seen <= ttl * 2, "seen after {seen:?}");
    assert_eq!(
        fs::read(&link).unwrap(),
        b"abc",
        "followed to the new target"
    );
}

#[test]
fn a_missing_name_is_remembered_until_its_notice_or_the_ttl() {
    let provider = sample_provider();
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_secs(60)) else {
        return;
    };
    let later = fixture.path("docs/later.md");
    for _ in 0..3 {
        assert_eq!(
            fs::metadata(&later).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }
    provider.push(
        "/docs",
        Node::file("later.md", at(1_800_000_000, 0), Some(0)),
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(!later.exists(), "without a notice the 60 s TTL holds");
    provider.notify("/docs");
    seen_at_once("seen after the notice of its folder", || {
        later.exists() && names_in(&fixture.path("docs")).contains("later.md")
    });

    // A notice naming the new path itself is enough too, and so is one for an ancestor.
    let root_file = fixture.path("new-at-root");
    let deep = fixture.path("docs/deeper");
    assert!(!root_file.exists() && !deep.exists());
    provider.push("/", Node::file("new-at-root", at(1, 0), Some(0)));
    provider.push("/docs", Node::directory("deeper", at(1, 0)));
    provider.set_listing("/docs/deeper", vec![]);
    provider.notify("/new-at-root");
    seen_at_once("seen after its own notice", || root_file.exists());
    provider.notify("/");
    seen_at_once("seen after an ancestor's notice", || deep.exists());
    drop(fixture);

    let provider = sample_provider();
    let ttl = Duration::from_millis(300);
    let Some(fixture) = Fixture::mount(provider.clone(), ttl) else {
        return;
    };
    let later = fixture.path("docs/later.md");
    assert!(!later.exists());
    assert!(!names_in(&fixture.path("docs")).contains("later.md"));
    provider.push(
        "/docs",
        Node::file("later.md", at(1_800_000_000, 0), Some(0)),
    );
    let seen = time_until(Duration::from_secs(3), || {
        later.exists() && names_in(&fixture.path("docs")).contains("later.md")
    })
    .expect("a new name is seen without a notice");
    assert!(seen <= ttl * 2, "seen after {seen:?}");
}

#[test]
fn a_cached_listing_follows_notices_and_the_ttl() {
    let provider = sample_provider();
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_secs(60)) else {
        return;
    };
    let docs = fixture.path("docs");
    let before: HashSet<String> = ["a.md".to_owned()].into();
    for _ in 0..3 {
        assert_eq!(names_in(&docs), before);
    }
    provider.set_listing("/docs", vec![Node::file("b.md", at(2, 0), Some(0))]);
    provider.notify("/docs");
    let after: HashSet<String> = ["b.md".to_owned()].into();
    seen_at_once("seen after the notice", || names_in(&docs) == after);
    drop(fixture);

    let provider = sample_provider();
    let ttl = Duration::from_millis(300);
    let Some(fixture) = Fixture::mount(provider.clone(), ttl) else {
        return;
    };
    let docs = fixture.path("docs");
    for _ in 0..3 {
        assert_eq!(names_in(&docs), before);
    }
    provider.set_listing("/docs", vec![Node::file("b.md", at(2, 0), Some(0))]);
    let seen = time_until(Duration::from_secs(3), || names_in(&docs) == after)
        .expect("a changed listing is seen without a notice");
    assert!(seen <= ttl * 2, "seen after {seen:?}");
    // Nothing changes after that: the cached listing is the provider's.
    std::thread::sleep(ttl);
    assert_eq!(names_in(&docs), after);
}

#[test]
fn a_slow_directory_does_not_hold_up_other_requests() {
    let provider = sample_provider();
    provider.push("/", Node::directory("slow", at(1, 0)));
    provider.push("/", Node::directory("fast", at(1, 0)));
    provider.set_listing("/slow", vec![Node::file("late", at(1, 0), Some(0))]);
    provider.set_listing("/fast", vec![Node::file("file", at(1, 0), Some(0))]);
    provider.set_list_delay("/slow", Duration::from_secs(3));
    let Some(fixture) = Fixture::mount(provider, Duration::from_secs(5)) else {
        return;
    };
    // Make sure the root listing is in before racing.
    assert!(fixture.path("slow").is_dir());
    let slow = fixture.path("slow");
    let lister = std::thread::spawn(move || {
        let started = Instant::now();
        let names: Vec<String> = fs::read_dir(slow)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        (names, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let fast = fs::metadata(fixture.path("fast/file")).unwrap();
    let took = started.elapsed();
    assert!(fast.is_file());
    assert!(
        took < Duration::from_millis(500),
        "stat of /fast/file took {took:?}"
    );
    let (names, slow_took) = lister.join().unwrap();
    assert_eq!(names, ["late"]);
    assert!(
        slow_took >= Duration::from_millis(2500),
        "the slow listing really was slow"
    );
}

#[test]
fn writes_fail_with_erofs_and_change_nothing() {
    let provider = sample_provider();
    let Some(fixture) = Fixture::mount(provider.clone(), Duration::from_secs(5)) else {
        return;
    };
    let erofs = |result: std::io::Result<()>, what: &str| {
        let error = result.expect_err(what);
        assert_eq!(error.raw_os_error(), Some(libc::EROFS), "{what}: {error}");
    };
    let hello = fixture.path("hello.txt");
    erofs(
        fs::File::create(fixture.path("new.txt")).map(drop),
        "create",
    );
    erofs(fs::create_dir(fixture.path("newdir")), "mkdir");
    erofs(fs::remove_file(&hello), "unlink");
    erofs(fs::remove_dir(fixture.path("docs")), "rmdir");
    erofs(fs::rename(&hello, fixture.path("renamed.txt")), "rename");
    erofs(
        fs::set_permissions(&hello, fs::Permissions::from_mode(0o644)),
        "chmod",
    );
    erofs(
        fs::OpenOptions::new().write(true).open(&hello).map(drop),
        "open for write",
    );
    erofs(
        fs::OpenOptions::new().append(true).open(&hello).map(drop),
        "open for append",
    );
    erofs(
        std::os::unix::fs::symlink("x", fixture.path("newlink")),
        "symlink",
    );
    let (ok, _, stderr) = run(Command::new("touch").arg(&hello));
    assert!(
        !ok && stderr.contains("Read-only file system"),
        "touch: {stderr}"
    );

    assert_eq!(fs::read(&hello).unwrap(), HELLO);
    assert_eq!(
        mtime_of(&hello),
        (HELLO_MTIME.0 as i64, HELLO_MTIME.1 as i64)
    );
    // Five entries and the host's `.vfs` marker.
    assert_eq!(fs::read_dir(&fixture.mountpoint).unwrap().count(), 6);
}

#[test]
fn make_rebuilds_exactly_the_target_whose_source_changed() {
    let provider = TestProvider::new();
    let names = ["a", "b", "c", "d", "e"];
    provider.set_listing("/", vec![Node::directory("src", at(1_600_000_000, 0))]);
    provider.set_listing(
        "/src",
        names
            .iter()
            .map(|name| Node::file(format!("{name}.txt"), at(1_600_000_000, 0), Some(2)))
            .collect(),
    );
    for name in names {
        provider.set_content(&format!("/src/{name}.txt"), format!("{name}\n"));
    }
    let Some(fixture) = Fixture::mount(provider.clone(), vfs_host::DEFAULT_TTL) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let targets: Vec<String> = names.iter().map(|name| format!("out/{name}.out")).collect();
    let makefile = format!(
        "SRC := {src}\nall: {targets}\nout/%.out: $(SRC)/%.txt\n\t@mkdir -p out\n\t@echo built $@\n\t@cp $< $@\n",
        src = fixture.path("src").display(),
        targets = targets.join(" "),
    );
    fs::write(work.path().join("Makefile"), makefile).unwrap();
    let make = |args: &[&str]| run(Command::new("make").args(args).current_dir(work.path()));
    let built = |stdout: &str| {
        let mut built: Vec<String> = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("built "))
            .map(str::to_string)
            .collect();
        built.sort();
        built
    };

    let (ok, stdout, stderr) = make(&[]);
    assert!(ok, "{stderr}");
    assert_eq!(built(&stdout), targets);
    assert_eq!(
        fs::read_to_string(work.path().join("out/c.out")).unwrap(),
        "c\n"
    );
    let (up_to_date, _, stderr) = make(&["-q"]);
    assert!(up_to_date, "second run has nothing to do: {stderr}");
    let (ok, stdout, _) = make(&[]);
    assert!(ok);
    assert!(built(&stdout).is_empty(), "{stdout}");

    std::thread::sleep(Duration::from_millis(20));
    provider.update("/src", "c.txt", |node| node.mtime = SystemTime::now());
    provider.notify("/src/c.txt");
    let (ok, stdout, stderr) = make(&[]);
    assert!(ok, "{stderr}");
    assert_eq!(built(&stdout), ["out/c.out"]);
    assert!(!stderr.contains("in the future"), "{stderr}");
    let (up_to_date, _, _) = make(&["-q"]);
    assert!(up_to_date);
}

/// A restart: `vfs unmount` ends a mount, a new one is made at the same path, and only then
/// does the old process let its session go. fuser 0.18 alone would unmount by path there, taking
/// the new mount away (cberner/fuser#703); the host leaves a path alone once the kernel ended
/// its own connection.
#[test]
fn letting_go_of_an_ended_mount_leaves_a_new_mount_at_the_same_path_alone() {
    let Some(mut old) = Fixture::mount(sample_provider(), Duration::from_secs(5)) else {
        return;
    };
    vfs_host::unmount_path(&old.mountpoint).unwrap();
    assert!(!is_mounted(&old.mountpoint));
    let new = old
        .runtime
        .block_on(vfs_host::mount(
            sample_provider(),
            &old.mountpoint,
            MountConfig {
                fs_name: "vfs-test".into(),
                ..MountConfig::default()
            },
        ))
        .expect("a new mount at the same path");
    assert!(
        fs::metadata(old.path("hello.txt")).is_ok(),
        "the new mount serves"
    );

    old.unmount().expect("letting go of the ended session");
    assert!(
        is_mounted(&old.mountpoint),
        "the new mount at the same path is still there"
    );
    assert!(
        fs::metadata(old.path("hello.txt")).is_ok(),
        "and still serves"
    );
    old.runtime
        .block_on(new.unmount())
        .expect("the new mount unmounts");
    assert!(!is_mounted(&old.mountpoint));
}

#[test]
fn unmount_ended_and_errors() {
    let Some(mut fixture) = Fixture::mount(sample_provider(), Duration::from_secs(5)) else {
        return;
    };
    // Unmounting by path (what `vfs unmount` does) ends the session, and `ended` sees it.
    assert!(is_mounted(&fixture.mountpoint));
    vfs_host::unmount_path(&fixture.mountpoint).unwrap();
    assert!(!is_mounted(&fixture.mountpoint));
    let mounted = fixture.mounted.as_ref().unwrap();
    fixture
        .runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), mounted.ended()).await })
        .expect("ended() resolves after an outside unmount");
    assert!(matches!(
        vfs_host::unmount_path(&fixture.mountpoint),
        Err(HostError::NotMounted(_))
    ));
    fixture
        .unmount()
        .expect("unmounting an ended session is fine");

    let file = fixture.mountpoint.with_file_name("plain-file");
    fs::write(&file, "x").unwrap();
    let error = fixture
        .runtime
        .block_on(vfs_host::mount(
            sample_provider(),
            &file,
            Default::default(),
        ))
        .unwrap_err();
    assert!(
        matches!(error, HostError::MountpointNotADirectory(_)),
        "{error}"
    );

    let failing = sample_provider();
    *failing.fail_start.lock().unwrap() = Some("engine down".into());
    let elsewhere = fixture.mountpoint.with_file_name("never-mounted");
    let error = fixture
        .runtime
        .block_on(vfs_host::mount(failing, &elsewhere, Default::default()))
        .unwrap_err();
    assert_eq!(error.to_string(), "source unavailable: engine down");
    assert!(!is_mounted(&elsewhere));
}

#[test]
fn dropping_the_mount_unmounts_it() {
    let provider = sample_provider();
    let Some(mut fixture) = Fixture::mount(provider.clone(), Duration::from_secs(5)) else {
        return;
    };
    assert!(fixture.path("hello.txt").exists());
    drop(fixture.mounted.take());
    assert!(!is_mounted(&fixture.mountpoint));
}

const STALE_HELPER: &str = "VFS_HOST_TEST_STALE_MOUNTPOINT";

/// Not a test on its own: the child process of `unmount_path_clears_a_stale_mount`, which
/// mounts and waits to be killed.
#[test]
#[ignore]
fn stale_mount_helper() {
    let Some(mountpoint) = std::env::var_os(STALE_HELPER) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mounted = runtime
        .block_on(vfs_host::mount(
            sample_provider(),
            Path::new(&mountpoint),
            Default::default(),
        ))
        .unwrap();
    println!("ready");
    std::thread::sleep(Duration::from_secs(60));
    drop(mounted);
}

#[test]
fn unmount_path_clears_a_stale_mount() {
    if !support::fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mountpoint = dir.path().join("stale");
    let _guard = support::UnmountGuard(mountpoint.clone());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "stale_mount_helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STALE_HELPER, &mountpoint)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        let read = std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert!(read > 0, "the helper exited before mounting");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let error = fs::metadata(&mountpoint).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::ENOTCONN), "stale: {error}");
    assert!(is_mounted(&mountpoint));

    vfs_host::unmount_path(&mountpoint).unwrap();
    assert!(!is_mounted(&mountpoint));
    assert!(fs::metadata(&mountpoint).unwrap().is_dir());
}

#[test]
fn unmount_stops_the_provider_and_leaves_nothing_mounted() {
    let provider = sample_provider();
    let Some(mut fixture) = Fixture::mount(provider.clone(), Duration::from_secs(5)) else {
        return;
    };
    assert_eq!(fs::read(fixture.path("hello.txt")).unwrap(), HELLO);
    fixture.unmount().unwrap();
    assert!(!is_mounted(&fixture.mountpoint));
    assert_eq!(provider.stopped.load(Ordering::SeqCst), 1);
    assert!(provider.read_calls.load(Ordering::SeqCst) >= 1);
}

/// Figures for the report: a warm `make -q` over 1000 targets on the mount against the same
/// tree on tmpfs. Run with `--ignored --nocapture`; timing-dependent, so not part of the suite.
#[test]
#[ignore]
fn warm_make_q_over_1000_targets_against_tmpfs() {
    let provider = TestProvider::new();
    let count = 1000;
    provider.set_listing("/", vec![Node::directory("src", at(1_600_000_000, 0))]);
    provider.set_listing(
        "/src",
        (0..count)
            .map(|index| Node::file(format!("{index}.txt"), at(1_600_000_000, 0), Some(2)))
            .collect(),
    );
    for index in 0..count {
        provider.set_content(&format!("/src/{index}.txt"), "x\n");
    }
    let Some(fixture) = Fixture::mount(provider.clone(), vfs_host::DEFAULT_TTL) else {
        return;
    };
    let tmpfs = tempfile::tempdir_in("/dev/shm").unwrap();
    fs::create_dir(tmpfs.path().join("src")).unwrap();
    for index in 0..count {
        fs::write(tmpfs.path().join(format!("src/{index}.txt")), "x\n").unwrap();
    }
    let time_make_q = |source: &Path, flags: &[&str]| {
        let work = tempfile::tempdir().unwrap();
        let targets: Vec<String> = (0..count).map(|index| format!("out/{index}.out")).collect();
        fs::create_dir(work.path().join("out")).unwrap();
        let makefile = format!(
            "SRC := {}\nall: {}\nout/%.out: $(SRC)/%.txt\n\t@cp $< $@\n",
            source.display(),
            targets.join(" ")
        );
        fs::write(work.path().join("Makefile"), makefile).unwrap();
        let (ok, _, stderr) = run(Command::new("make").arg("-j4").current_dir(work.path()));
        assert!(ok, "{stderr}");
        let mut runs = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let (up_to_date, _, _) = run(Command::new("make")
                .arg("-q")
                .args(flags)
                .current_dir(work.path()));
            runs.push(started.elapsed());
            assert!(up_to_date);
        }
        runs.sort();
        runs[runs.len() / 2]
    };
    for flags in [&[][..], &["-r"][..]] {
        let lists_before = provider.list_calls.load(Ordering::SeqCst);
        let on_mount = time_make_q(&fixture.path("src"), flags);
        let lists = provider.list_calls.load(Ordering::SeqCst) - lists_before;
        let on_tmpfs = time_make_q(&tmpfs.path().join("src"), flags);
        let ratio = on_mount.as_secs_f64() / on_tmpfs.as_secs_f64();
        println!(
            "warm make -q {flags:?}, {count} targets (median of 10): mount {on_mount:?}, tmpfs {on_tmpfs:?}, \
             ratio {ratio:.2}, provider lists {lists}"
        );
    }
}

#[test]
fn the_marker_at_the_root_is_read_only_and_reading_it_settles_the_mount() {
    let Some(fixture) = Fixture::mount(sample_provider(), Duration::from_secs(5)) else {
        return;
    };
    let marker = fixture.path(".vfs");
    let metadata = fs::symlink_metadata(&marker).unwrap();
    assert!(metadata.is_file());
    assert_eq!(metadata.permissions().mode() & 0o7777, 0o444);
    assert_eq!(metadata.mtime(), 0, "dated 1970: never newer than a target");
    for _ in 0..3 {
        assert_eq!(
            fs::read_to_string(&marker).unwrap(),
            "vfs mount: test\nsettled\n"
        );
    }
    let (ok, out, stderr) = run(Command::new("cat").arg(&marker));
    assert!(ok, "{stderr}");
    assert_eq!(out, "vfs mount: test\nsettled\n");
    let refused = fs::OpenOptions::new()
        .write(true)
        .open(&marker)
        .unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EROFS));
}
