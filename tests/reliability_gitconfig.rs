//! Reliability of GitConfigFS through the `vfs` binary: files deleted, truncated and replaced
//! while read, `.git` removed or corrupted under the mount, symlink loops, unreadable files, a
//! checkout that removes half the tree. Faults are injected for real on real mounts.

mod common;

use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    as_nobody, fuse_available, git, init_repo, vfs_binary, within, GitconfigScene, VfsMount,
};

const TTL: &str = GitconfigScene::TTL;
/// Longer than the TTL: a change must be visible by then even without a change notice.
const SETTLE: Duration = Duration::from_millis(600);
const T1: i64 = 1_600_000_000;

/// A failed call during a walk: the path, the error's kind and its errno.
type ReadError = (PathBuf, ErrorKind, Option<i32>);

/// Every path under `root` (not following symlinks), each file read whole; errors are
/// collected instead of failing.
fn walk_and_read(root: &Path, errors: &mut Vec<ReadError>) -> usize {
    let mut seen = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                errors.push((dir, error.kind(), error.raw_os_error()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    errors.push((dir.clone(), error.kind(), error.raw_os_error()));
                    continue;
                }
            };
            seen += 1;
            let path = entry.path();
            match std::fs::symlink_metadata(&path) {
                Ok(metadata) if metadata.is_dir() => pending.push(path),
                Ok(metadata) if metadata.is_file() => {
                    if let Err(error) = std::fs::read(&path) {
                        errors.push((path, error.kind(), error.raw_os_error()));
                    }
                }
                Ok(_) => {}
                Err(error) => errors.push((path, error.kind(), error.raw_os_error())),
            }
        }
    }
    seen
}

/// Errors a reader may meet when the tree changes under it: the entry went away, or changed
/// kind between lookup and use. Anything else (EIO above all) is a defect.
fn is_race_error(errno: Option<i32>) -> bool {
    matches!(
        errno,
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::EISDIR) | Some(libc::ESTALE)
    )
}

fn yaml_with(services: usize, image: &str) -> String {
    let mut text = String::from("services:\n");
    for index in 0..services {
        text.push_str(&format!(
            "  svc{index}:\n    image: {image}{index}\n    ports:\n      - \"{index}:80\"\n"
        ));
    }
    text
}

#[test]
fn a_file_deleted_while_read_is_read_whole_from_its_open_handle() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let blob: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(scene.src().join("deleted.bin"), &blob).unwrap();
    std::fs::write(scene.src().join("config.yml"), yaml_with(50, "nginx:")).unwrap();
    let mut mount = scene.mount();
    let mnt = scene.mnt();

    // Deleted while open: the open handle keeps the whole original content.
    let mut reader = std::fs::File::open(mnt.join("deleted.bin")).unwrap();
    let mut head = vec![0; 1024 * 1024];
    reader.read_exact(&mut head).unwrap();
    std::fs::remove_file(scene.src().join("deleted.bin")).unwrap();
    // A slow reader: the kernel's attributes expire before it reads on.
    std::thread::sleep(SETTLE);
    let mut rest = Vec::new();
    within(Duration::from_secs(20), "read after delete", move || {
        reader.read_to_end(&mut rest).map(|_| rest)
    })
    .map(|rest| {
        head.extend_from_slice(&rest);
        assert!(head == blob, "the open handle served different bytes");
    })
    .expect("reading an unlinked file's open handle");
    std::thread::sleep(SETTLE);
    let gone = std::fs::metadata(mnt.join("deleted.bin")).unwrap_err();
    assert_eq!(gone.raw_os_error(), Some(libc::ENOENT));

    // A YAML section open while its file is deleted: the bytes fetched at open are served.
    let image = mnt.join("config.yml/services/svc7/image");
    let mut section = std::fs::File::open(&image).unwrap();
    std::fs::remove_file(scene.src().join("config.yml")).unwrap();
    std::thread::sleep(SETTLE);
    let mut text = String::new();
    section.read_to_string(&mut text).unwrap();
    assert_eq!(text, "nginx:7\n");
    let gone = std::fs::metadata(&image).unwrap_err();
    assert_eq!(gone.raw_os_error(), Some(libc::ENOENT), "{gone}");
    scene.assert_alive(&mut mount);
}

#[test]
fn a_file_truncated_while_read_ends_early_without_error() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let blob: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(scene.src().join("truncated.bin"), &blob).unwrap();
    let mut mount = scene.mount();
    let mnt = scene.mnt();

    // Truncated while open: the reader meets an early end (or the bytes it had), no error.
    let mut reader = std::fs::File::open(mnt.join("truncated.bin")).unwrap();
    let mut head = vec![0; 1024 * 1024];
    reader.read_exact(&mut head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(scene.src().join("truncated.bin"))
        .unwrap()
        .set_len(1000)
        .unwrap();
    let rest = within(Duration::from_secs(20), "read after truncate", move || {
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).map(|_| rest)
    })
    .expect("reading a truncated file ends without error");
    assert!(rest.len() <= blob.len() - head.len());
    let first_wrong = rest
        .iter()
        .zip(&blob[head.len()..])
        .position(|(got, want)| got != want);
    assert_eq!(
        first_wrong,
        None,
        "no invented bytes after truncation: {} bytes read on, wrong from offset {:?}, {} of them zero",
        rest.len(),
        first_wrong.map(|at| at + head.len()),
        rest.iter().filter(|&&byte| byte == 0).count()
    );
    std::thread::sleep(SETTLE);
    assert_eq!(
        std::fs::metadata(mnt.join("truncated.bin")).unwrap().len(),
        1000
    );
    assert_eq!(
        std::fs::read(mnt.join("truncated.bin")).unwrap(),
        blob[..1000]
    );

    scene.assert_alive(&mut mount);
}

#[test]
fn a_yaml_file_replaced_mid_parse_never_breaks_the_mount() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let file = scene.src().join("compose.yml");
    let first = yaml_with(400, "a:");
    let second = yaml_with(300, "b:");
    std::fs::write(&file, &first).unwrap();
    let mut mount = scene.mount();
    let mnt = scene.mnt();

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    // The writer: in-place rewrites in two halves (a reader can parse half a file), atomic
    // renames over it, deletions and re-creations, truncation to nothing.
    let writer = {
        let (stop, rounds, file) = (stop.clone(), rounds.clone(), file.clone());
        let (first, second) = (first.clone(), second.clone());
        std::thread::spawn(move || {
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let text = if round % 2 == 0 { &first } else { &second };
                match round % 4 {
                    0 => {
                        use std::io::Write;
                        let mut out = std::fs::File::create(&file).unwrap();
                        let (a, b) = text.as_bytes().split_at(text.len() / 2);
                        out.write_all(a).unwrap();
                        out.flush().unwrap();
                        std::thread::sleep(Duration::from_millis(3));
                        out.write_all(b).unwrap();
                    }
                    1 => {
                        let staged = file.with_extension("tmp");
                        std::fs::write(&staged, text).unwrap();
                        std::fs::rename(&staged, &file).unwrap();
                    }
                    2 => {
                        std::fs::remove_file(&file).unwrap();
                        std::thread::sleep(Duration::from_millis(2));
                        std::fs::write(&file, text).unwrap();
                    }
                    _ => {
                        std::fs::write(&file, "").unwrap();
                        std::thread::sleep(Duration::from_millis(2));
                        std::fs::write(&file, text).unwrap();
                    }
                }
                round += 1;
                rounds.store(round, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let bad: Arc<Mutex<Vec<ReadError>>> = Arc::default();
    let visited = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, bad, visited, mnt) =
                (stop.clone(), bad.clone(), visited.clone(), mnt.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut errors = Vec::new();
                    visited.fetch_add(walk_and_read(&mnt, &mut errors), Ordering::Relaxed);
                    errors.retain(|(_, _, errno)| !is_race_error(*errno));
                    bad.lock().unwrap().extend(errors);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    within(
        Duration::from_secs(30),
        "readers and writer stop",
        move || {
            writer.join().unwrap();
            for reader in readers {
                reader.join().unwrap();
            }
        },
    );
    eprintln!(
        "replaced {} times, {} entries visited",
        rounds.load(Ordering::Relaxed),
        visited.load(Ordering::Relaxed)
    );
    let bad = bad.lock().unwrap().clone();
    assert!(
        bad.is_empty(),
        "unexpected errors: {:?}\nlog:\n{}",
        &bad[..bad.len().min(10)],
        scene.log_text()
    );
    assert!(rounds.load(Ordering::Relaxed) > 20);

    // Once the file is still, its final content is what is served.
    std::thread::sleep(SETTLE);
    let last = std::fs::read_to_string(&file).unwrap();
    let expected = if last == first { "a:123\n" } else { "b:123\n" };
    assert_eq!(
        std::fs::read_to_string(mnt.join("compose.yml/services/svc123/image")).unwrap(),
        expected
    );
    scene.assert_alive(&mut mount);
}

#[test]
fn git_removed_or_corrupted_under_the_mount_falls_back_to_file_times() {
    if !fuse_available() {
        return;
    }
    for damage in ["remove", "corrupt"] {
        let scene = GitconfigScene::new();
        let repo = scene.src();
        init_repo(&repo);
        std::fs::write(
            repo.join("app.yml"),
            "web:\n  image: nginx\ndb:\n  image: pg\n",
        )
        .unwrap();
        git(&repo, &["add", "-A"], None);
        git(&repo, &["commit", "-q", "-m", "one"], Some(T1));
        let mut mount = scene.mount();
        let web = scene.mnt().join("app.yml/web");
        assert_eq!(std::fs::metadata(&web).unwrap().mtime(), T1, "blame time");

        match damage {
            "remove" => std::fs::remove_dir_all(repo.join(".git")).unwrap(),
            _ => {
                std::fs::write(repo.join(".git/HEAD"), "garbage\0\n").unwrap();
                std::fs::remove_dir_all(repo.join(".git/objects")).unwrap();
                std::fs::write(repo.join(".git/index"), b"DIRCgarbage").unwrap();
            }
        }
        // The next edit makes the file's state new: its times cannot come from a cache.
        std::fs::write(
            repo.join("app.yml"),
            "web:\n  image: httpd\ndb:\n  image: pg\n",
        )
        .unwrap();
        let file_mtime = std::fs::metadata(repo.join("app.yml")).unwrap().mtime();
        std::thread::sleep(SETTLE);
        let read = within(Duration::from_secs(20), "read after damage", {
            let web = web.clone();
            move || std::fs::read_to_string(web.join("image"))
        });
        assert_eq!(read.unwrap(), "httpd\n", "{damage}: content still served");
        // web's meaning changed: with no usable repository, its time is the file's mtime; db
        // means what it meant and keeps the time it was served with.
        let web_time = std::fs::metadata(&web).unwrap().mtime();
        assert_eq!(
            web_time, file_mtime,
            "{damage}: without a usable repository, a changed section takes the file's mtime"
        );
        let db = std::fs::metadata(scene.mnt().join("app.yml/db")).unwrap();
        assert_eq!(
            db.mtime(),
            T1,
            "{damage}: an unchanged section keeps its time"
        );
        let mut errors = Vec::new();
        walk_and_read(&scene.mnt(), &mut errors);
        assert!(errors.is_empty(), "{damage}: {errors:?}");
        scene.assert_alive(&mut mount);
    }
}

#[test]
fn symlink_loops_are_shown_as_symlinks_and_never_followed() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let src = scene.src();
    std::os::unix::fs::symlink("self", src.join("self")).unwrap();
    std::os::unix::fs::symlink("b", src.join("a")).unwrap();
    std::os::unix::fs::symlink("a", src.join("b")).unwrap();
    std::os::unix::fs::symlink(".", src.join("here")).unwrap();
    std::os::unix::fs::symlink("loop.yml", src.join("loop.yml")).unwrap();
    std::fs::create_dir(src.join("dir")).unwrap();
    std::os::unix::fs::symlink("..", src.join("dir/up")).unwrap();
    std::fs::write(src.join("dir/x.yml"), "k: v\n").unwrap();
    let mut mount = scene.mount();
    let mnt = scene.mnt();

    let walked = within(Duration::from_secs(20), "walking a tree of loops", {
        let mnt = mnt.clone();
        move || {
            let mut errors = Vec::new();
            let seen = walk_and_read(&mnt, &mut errors);
            (seen, errors)
        }
    });
    assert!(walked.1.is_empty(), "{:?}", walked.1);
    assert_eq!(walked.0, 10, ".vfs self a b here loop.yml dir up x.yml k");
    for (name, target) in [
        ("self", "self"),
        ("a", "b"),
        ("b", "a"),
        ("here", "."),
        ("loop.yml", "loop.yml"),
        ("dir/up", ".."),
    ] {
        let link = mnt.join(name);
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(target));
    }
    // Following a loop is the kernel's business, and it says ELOOP.
    for name in ["self", "a", "loop.yml"] {
        let error = std::fs::metadata(mnt.join(name)).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ELOOP), "{name}: {error}");
    }
    // `find -L` meets the directory loops and reports them instead of hanging.
    let find = within(Duration::from_secs(20), "find -L over loops", {
        let mnt = mnt.clone();
        move || Command::new("find").arg("-L").arg(&mnt).output().unwrap()
    });
    let stderr = String::from_utf8_lossy(&find.stderr);
    assert!(
        stderr.contains("loop") || stderr.contains("Too many levels"),
        "{stderr}"
    );
    scene.assert_alive(&mut mount);
}

#[test]
fn an_unreadable_file_answers_permission_denied_to_a_user_mount() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let src = scene.src();
    ensure_dev_fuse_usable_by_users();
    // nobody must reach SOURCE and own the mountpoint; SOURCE and its files stay root's.
    std::fs::set_permissions(scene.work(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o755)).unwrap();
    let chown = Command::new("chown")
        .arg("nobody:nogroup")
        .arg(scene.mnt())
        .arg(scene.work())
        .status()
        .unwrap();
    assert!(chown.success());
    std::fs::write(src.join("open.yml"), "k: v\n").unwrap();
    std::fs::write(src.join("secret.txt"), "s3cret\n").unwrap();
    std::fs::write(src.join("secret.yml"), "password: s3cret\n").unwrap();
    std::fs::create_dir(src.join("closed")).unwrap();
    std::fs::write(src.join("closed/inner.yml"), "a: b\n").unwrap();
    for (path, mode) in [
        ("secret.txt", 0o000),
        ("secret.yml", 0o000),
        ("closed", 0o000),
    ] {
        std::fs::set_permissions(src.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let log = scene.log_path();
    let mnt_path = scene.mnt();
    let args = [
        "--ttl",
        TTL,
        "mount",
        "gitconfig",
        src.to_str().unwrap(),
        mnt_path.to_str().unwrap(),
    ];
    let mut command = as_nobody(vfs_binary().to_str().unwrap(), &args);
    command
        .stdin(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut mount = VfsMount::start_command(command, &scene.mnt());

    // The mount belongs to nobody: root is kept out too (no allow_other).
    let as_root = std::fs::read_dir(scene.mnt()).unwrap_err();
    assert_eq!(as_root.raw_os_error(), Some(libc::EACCES), "{as_root}");

    let run_as_nobody = |program: &str, args: &[&str]| {
        let output = as_nobody(program, args).output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let mnt = scene.mnt().display().to_string();
    let (ok, listing, _) = run_as_nobody("ls", &["-1", &mnt]);
    assert!(ok);
    for name in ["open.yml", "secret.txt", "secret.yml", "closed"] {
        assert!(
            listing.lines().any(|line| line == name),
            "{name} in {listing}"
        );
    }
    let (ok, text, _) = run_as_nobody("cat", &[&format!("{mnt}/open.yml/k")]);
    assert!(ok);
    assert_eq!(text, "v\n");
    for path in ["secret.txt", "secret.yml"] {
        let (ok, text, stderr) = run_as_nobody("cat", &[&format!("{mnt}/{path}")]);
        assert!(!ok, "{path} was readable: {text}");
        assert!(stderr.contains("Permission denied"), "{path}: {stderr}");
    }
    let (ok, _, stderr) = run_as_nobody("ls", &[&format!("{mnt}/closed")]);
    assert!(!ok);
    assert!(stderr.contains("Permission denied"), "closed/: {stderr}");
    // The same through python: EACCES exactly, not EIO.
    let (ok, out, stderr) = run_as_nobody(
        "/usr/bin/python3",
        &[
            "-c",
            &format!(
                "import errno\ntry:\n open('{mnt}/secret.yml').read()\nexcept OSError as e:\n print(errno.errorcode[e.errno])"
            ),
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(out.trim(), "EACCES");
    assert!(mount.exited().is_none(), "vfs exited");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log_text.contains("panicked"), "{log_text}");
}

#[test]
fn a_checkout_that_removes_half_the_tree_is_followed() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let repo = scene.src();
    init_repo(&repo);
    for index in 0..20 {
        let dir = repo.join(format!("svc{index:02}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("config.yml"),
            yaml_with(5, &format!("img{index}-")),
        )
        .unwrap();
        std::fs::write(dir.join("README"), format!("service {index}\n")).unwrap();
    }
    git(&repo, &["add", "-A"], None);
    git(&repo, &["commit", "-q", "-m", "full"], Some(T1));
    git(&repo, &["checkout", "-q", "-b", "half"], None);
    for index in (0..20).step_by(2) {
        git(&repo, &["rm", "-q", "-r", &format!("svc{index:02}")], None);
    }
    git(&repo, &["commit", "-q", "-m", "half"], Some(T1 + 100));
    git(&repo, &["checkout", "-q", "main"], None);
    let mut mount = scene.mount();
    let mnt = scene.mnt();
    let mut errors = Vec::new();
    let before = walk_and_read(&mnt, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");

    // Readers keep walking while the checkout runs.
    let stop = Arc::new(AtomicBool::new(false));
    let bad: Arc<Mutex<Vec<ReadError>>> = Arc::default();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (stop, bad, mnt) = (stop.clone(), bad.clone(), mnt.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut errors = Vec::new();
                    walk_and_read(&mnt, &mut errors);
                    errors.retain(|(_, _, errno)| !is_race_error(*errno));
                    bad.lock().unwrap().extend(errors);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let switched = Instant::now();
    git(&repo, &["checkout", "-q", "half"], None);
    // Gone within the settle time.
    let gone = mnt.join("svc00/config.yml/services/svc1/image");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(&gone).is_ok() {
        assert!(Instant::now() < deadline, "removed sections still served");
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "removed half the tree: seen gone after {:?}",
        switched.elapsed()
    );
    std::thread::sleep(SETTLE);
    stop.store(true, Ordering::Relaxed);
    within(Duration::from_secs(30), "readers stop", move || {
        for reader in readers {
            reader.join().unwrap();
        }
    });
    let bad = bad.lock().unwrap().clone();
    assert!(
        bad.is_empty(),
        "unexpected errors: {:?}",
        &bad[..bad.len().min(10)]
    );

    let mut names: Vec<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The host's `.vfs` marker, then what the source holds.
    let expected: Vec<String> = std::iter::once(".vfs".to_string())
        .chain((1..20).step_by(2).map(|i| format!("svc{i:02}")))
        .collect();
    assert_eq!(names, expected);
    let mut errors = Vec::new();
    let after = walk_and_read(&mnt, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    // Both walks count the marker once.
    assert_eq!((after - 1) * 2, before - 1, "half the entries");
    assert_eq!(
        std::fs::read_to_string(mnt.join("svc03/config.yml/services/svc4/image")).unwrap(),
        "img3-4\n"
    );
    scene.assert_alive(&mut mount);
}

/// Debian's fuse3 package makes /dev/fuse `crw-rw-rw-` (udev); some containers leave it 0600,
/// and fuser opens it directly before it would try fusermount3, so a user mount needs the
/// standard mode.
fn ensure_dev_fuse_usable_by_users() {
    let mode = std::fs::metadata("/dev/fuse").unwrap().permissions().mode();
    if mode & 0o666 != 0o666 {
        eprintln!(
            "note: /dev/fuse was {:o}; set to the standard 0666",
            mode & 0o777
        );
        std::fs::set_permissions("/dev/fuse", std::fs::Permissions::from_mode(0o666)).unwrap();
    }
}
