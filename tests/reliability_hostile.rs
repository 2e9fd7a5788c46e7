//! Hostile and unlucky input to GitConfigFS through the `vfs` binary (issue 16): a symlink or a
//! FIFO swapped in between a check and an open, the mount inside its own SOURCE, a folder
//! removed and made again, paths over PATH_MAX, a large file rewritten again and again.
//!
//! Tests that could hang when the defect is back run under `within_or_abort`: past the bound the
//! mount's FUSE connection is aborted, so the test fails instead of hanging CI.

mod common;

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    fuse_available, git, init_repo, memory_kib, vfs_command_logged, GitconfigScene, VfsMount,
};
use vfs_testkit::mounts::within_or_abort;

/// Reads a file through the mount without following a symlink the mount shows (a symlink shown
/// as a symlink is not a leak: the reader follows it with its own rights).
fn read_no_follow(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Replaces `path` atomically with what `make` creates at `temporary`.
fn swap_in(temporary: &Path, path: &Path, make: impl FnOnce(&Path) -> std::io::Result<()>) {
    let _ = std::fs::remove_file(temporary);
    if make(temporary).is_ok() {
        let _ = std::fs::rename(temporary, path);
    }
}

fn mkfifo(path: &Path) -> std::io::Result<()> {
    let status = Command::new("mkfifo").arg(path).status()?;
    match status.success() {
        true => Ok(()),
        false => Err(std::io::Error::other("mkfifo failed")),
    }
}

/// Runs `body` on `threads` threads until `stop` is set.
fn loop_on(
    threads: usize,
    stop: &Arc<AtomicBool>,
    body: impl Fn() + Send + Sync + 'static,
) -> Vec<std::thread::JoinHandle<()>> {
    let body = Arc::new(body);
    (0..threads)
        .map(|_| {
            let (stop, body) = (stop.clone(), body.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    body();
                }
            })
        })
        .collect()
}

/// The scene's SOURCE mounted with a TTL far longer than a test: only change notices can show
/// a change within it.
fn mount_with_a_long_ttl(scene: &GitconfigScene) -> VfsMount {
    let (src, mnt) = (scene.src(), scene.mnt());
    let command = vfs_command_logged(
        &[
            "--ttl",
            "60s",
            "mount",
            "gitconfig",
            src.to_str().unwrap(),
            mnt.to_str().unwrap(),
        ],
        &scene.log_path(),
    );
    VfsMount::start_command(command, &mnt)
}

#[test]
fn a_symlink_swapped_in_between_check_and_open_is_never_followed() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let src = scene.src();
    // Outside SOURCE, the same length as the public text (the mount announced that size).
    let secret = scene.work().join("secret");
    std::fs::write(&secret, "SECRET\n").unwrap();
    std::fs::write(src.join("public"), "public\n").unwrap();
    std::fs::write(src.join("f"), "public\n").unwrap();
    let mut mount = scene.mount();
    let mnt = scene.mnt();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (src, secret) = (src.clone(), secret.clone());
        loop_on(1, &stop, move || {
            let (link, hard, f) = (src.join(".link"), src.join(".hard"), src.join("f"));
            swap_in(&link, &f, |at| std::os::unix::fs::symlink(&secret, at));
            swap_in(&hard, &f, |at| std::fs::hard_link(src.join("public"), at));
        })
    };
    let (leaks, reads) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let readers = {
        let (file, leaks, reads) = (mnt.join("f"), leaks.clone(), reads.clone());
        loop_on(4, &stop, move || {
            if let Ok(bytes) = read_no_follow(&file) {
                reads.fetch_add(1, Ordering::Relaxed);
                if bytes.starts_with(b"SECRET") {
                    leaks.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let stopper = stop.clone();
    within_or_abort(&mnt, Duration::from_secs(30), "symlink race", move || {
        std::thread::sleep(Duration::from_secs(5));
        stopper.store(true, Ordering::Relaxed);
        for thread in writer.into_iter().chain(readers) {
            let _ = thread.join();
        }
    });
    let (leaks, reads) = (leaks.load(Ordering::Relaxed), reads.load(Ordering::Relaxed));
    eprintln!("symlink race: {reads} reads of the file through the mount, {leaks} leaks");
    assert_eq!(
        leaks, 0,
        "the mount read a file outside SOURCE through a swapped-in symlink"
    );
    assert!(reads > 0, "the race was never run: no read succeeded");
    scene.assert_alive(&mut mount);
}

#[test]
fn a_fifo_swapped_in_while_read_never_wedges_the_mount() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let src = scene.src();
    std::fs::write(src.join("f"), "text\n").unwrap();
    std::fs::write(src.join("c.yml"), "a: 1\n").unwrap();
    std::fs::write(src.join("other.txt"), "other\n").unwrap();
    let mut mount = scene.mount();
    let mnt = scene.mnt();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let src = src.clone();
        loop_on(1, &stop, move || {
            for (name, text) in [("f", "text\n"), ("c.yml", "a: 1\n")] {
                let (fifo, temporary) = (src.join(".fifo"), src.join(".tmp"));
                swap_in(&fifo, &src.join(name), mkfifo);
                swap_in(&temporary, &src.join(name), |at| std::fs::write(at, text));
            }
        })
    };
    let readers = {
        let mnt = mnt.clone();
        loop_on(4, &stop, move || {
            let _ = read_no_follow(&mnt.join("f"));
            let _ = std::fs::read_dir(mnt.join("c.yml")).map(|entries| entries.count());
            let _ = read_no_follow(&mnt.join("c.yml/a"));
            let _ = read_no_follow(&mnt.join("c.yml"));
            let _ = std::fs::read_dir(&mnt).map(|entries| entries.count());
        })
    };
    let stopper = stop.clone();
    // Shorter than the host's own bound on provider calls (30 s): the provider must never block.
    within_or_abort(&mnt, Duration::from_secs(15), "FIFO swaps", move || {
        std::thread::sleep(Duration::from_secs(4));
        stopper.store(true, Ordering::Relaxed);
        for thread in writer.into_iter().chain(readers) {
            let _ = thread.join();
        }
    });
    // The writer left regular files; the mount serves them and everything else.
    std::fs::write(src.join("f"), "text\n").unwrap();
    std::fs::write(src.join("c.yml"), "a: 1\n").unwrap();
    let probe = mnt.clone();
    within_or_abort(
        &mnt,
        Duration::from_secs(10),
        "reads after the swaps",
        move || {
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                let f = read_no_follow(&probe.join("f")).unwrap_or_default();
                let a = read_no_follow(&probe.join("c.yml/a")).unwrap_or_default();
                if (f.as_slice(), a.as_slice()) == (b"text\n".as_slice(), b"1\n".as_slice()) {
                    break;
                }
                assert!(Instant::now() < deadline, "f {f:?}, c.yml/a {a:?}");
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_eq!(
                read_no_follow(&probe.join("other.txt")).unwrap(),
                b"other\n"
            );
        },
    );
    scene.assert_alive(&mut mount);
    let started = Instant::now();
    assert_eq!(mount.stop_with(libc::SIGTERM), Some(0), "vfs exits cleanly");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// The compose file of examples/compose-sections, committed in `repo` at a fixed date, with the
/// example's Makefile beside it.
fn compose_repository(repo: &Path) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose-sections");
    std::fs::create_dir_all(repo).unwrap();
    for file in ["docker-compose.yml", "Makefile"] {
        std::fs::copy(example.join(file), repo.join(file)).unwrap();
    }
    init_repo(repo);
    git(repo, &["add", "docker-compose.yml", "Makefile"], None);
    git(
        repo,
        &["commit", "-q", "-m", "compose"],
        Some(1_600_000_000),
    );
}

fn make(dir: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new("make")
        .args(["--no-print-directory"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("make runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn a_mount_inside_its_own_source_hides_itself_and_serves_make() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let repo = scene.work().join("repo");
    compose_repository(&repo);
    let mnt = repo.join(".cfgfs");
    std::fs::create_dir(&mnt).unwrap();
    let command = vfs_command_logged(
        &[
            "--ttl",
            GitconfigScene::TTL,
            "mount",
            "gitconfig",
            repo.to_str().unwrap(),
            mnt.to_str().unwrap(),
        ],
        &scene.log_path(),
    );
    let mut mount = VfsMount::start_command(command, &mnt);

    let walked = mnt.clone();
    let found = within_or_abort(&mnt, Duration::from_secs(30), "find", move || {
        let output = Command::new("find").arg(&walked).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    });
    let inside = mnt.join(".cfgfs").display().to_string();
    assert!(!found.contains(&inside), "the mount shows itself:\n{found}");
    let web = mnt
        .join("docker-compose.yml/services/web")
        .display()
        .to_string();
    assert!(found.lines().any(|line| line == web), "{found}");

    let dir = repo.clone();
    within_or_abort(&mnt, Duration::from_secs(60), "make", move || {
        let (code, output) = make(&dir, &[]);
        assert_eq!(code, 0, "{output}");
        for service in ["web", "db", "cache"] {
            assert!(
                output.contains(&format!("rebuilding {service}")),
                "{output}"
            );
        }
        assert_eq!(make(&dir, &["-q"]).0, 0, "make settles");
        // Edit db alone: only db is rebuilt.
        std::thread::sleep(Duration::from_millis(50));
        let compose = dir.join("docker-compose.yml");
        let text = std::fs::read_to_string(&compose).unwrap();
        let edited = text.replacen("command: sleep 3600", "command: sleep 7200", 1);
        assert_ne!(text, edited);
        std::fs::write(&compose, edited).unwrap();
        std::thread::sleep(Duration::from_secs(1));
        let (code, output) = make(&dir, &[]);
        assert_eq!(code, 0, "{output}");
        assert_eq!(output.trim(), "rebuilding db", "{output}");
        assert_eq!(make(&dir, &["-q"]).0, 0, "make settles");
    });
    scene.assert_alive(&mut mount);
}

#[test]
fn a_folder_removed_and_made_again_is_watched_again() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let (src, mnt) = (scene.src(), scene.mnt());
    std::fs::create_dir(src.join("d")).unwrap();
    std::fs::write(src.join("d/a.txt"), "a\n").unwrap();
    // A TTL far longer than the test: only change notices can show the change.
    let mut mount = mount_with_a_long_ttl(&scene);
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let wait_for = |what: &str, want: &[&str]| {
        let started = Instant::now();
        while names(&mnt.join("d")) != want {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{what}: not seen within 1 s; the mount shows {:?}",
                names(&mnt.join("d"))
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("first listing", &["a.txt"]);
    std::fs::remove_dir_all(src.join("d")).unwrap();
    std::fs::create_dir(src.join("d")).unwrap();
    std::fs::write(src.join("d/a.txt"), "a\n").unwrap();
    std::fs::write(src.join("d/c.txt"), "c\n").unwrap();
    wait_for("the folder made again", &["a.txt", "c.txt"]);
    std::fs::write(src.join("d/b.txt"), "b\n").unwrap();
    wait_for(
        "a file made in the new folder",
        &["a.txt", "b.txt", "c.txt"],
    );
    // And once more, by a rename over it.
    std::fs::create_dir(src.join("e")).unwrap();
    std::fs::rename(src.join("d"), src.join("old")).unwrap();
    std::fs::rename(src.join("e"), src.join("d")).unwrap();
    wait_for("a folder renamed into place", &[]);
    std::fs::write(src.join("d/x.txt"), "x\n").unwrap();
    wait_for("a file made in the renamed folder", &["x.txt"]);
    scene.assert_alive(&mut mount);
}

#[test]
fn entries_below_a_path_longer_than_path_max_are_shown() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let (src, mnt) = (scene.src(), scene.mnt());
    let name = "n".repeat(250);
    let depth = 18; // 18 × 251 bytes: past PATH_MAX (4,096) below SOURCE already
    let script = format!(
        "cd \"$1\" && for i in $(seq {depth}); do mkdir {name} && cd {name} || exit 1; done \
         && echo deep > f.txt && echo 'k: v' > c.yml"
    );
    let created = Command::new("bash")
        .args(["-c", &script, "bash"])
        .arg(&src)
        .status()
        .unwrap();
    assert!(created.success());
    let mut mount = scene.mount();
    let script = format!(
        "cd \"$1\" && for i in $(seq {depth}); do cd {name} || exit 1; done \
         && cat f.txt && cat c.yml/k && ls"
    );
    let mnt_path = mnt.clone();
    let output = within_or_abort(&mnt, Duration::from_secs(30), "deep walk", move || {
        Command::new("bash")
            .args(["-c", &script, "bash"])
            .arg(&mnt_path)
            .output()
            .unwrap()
    });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "deep\nv\nc.yml\nf.txt\n"
    );
    // Folders whose path inotify cannot take are named once in the log.
    let log = scene.log_text();
    assert!(log.contains("too long for inotify"), "{log}");
    scene.assert_alive(&mut mount);
    // Remove the deep tree by relative steps (std::fs cannot name it whole).
    let _ = Command::new("bash")
        .args(["-c", "rm -rf \"$1\"", "bash"])
        .arg(PathBuf::from(&src).join(&name))
        .status();
}

#[test]
fn a_large_file_rewritten_100_times_costs_one_version_of_memory() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let (src, mnt) = (scene.src(), scene.mnt());
    let version = |number: usize| -> String {
        let mut text = String::new();
        for service in 0..6_000 {
            text.push_str(&format!(
                "s{service}:\n  image: app{number:03}\n  ports: [\"{service}:80\"]\n"
            ));
        }
        text
    };
    std::fs::write(src.join("big.yml"), version(0)).unwrap();
    let mut mount = scene.mount();
    let pid = mount.pid().unwrap();
    let image = mnt.join("big.yml/s0/image");
    let serve = |number: usize| {
        let want = format!("app{number:03}\n");
        let started = Instant::now();
        while std::fs::read_to_string(&image).unwrap_or_default() != want {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "version {number} not served"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    serve(0);
    let (before, _) = memory_kib(pid);
    for number in 1..=100 {
        let temporary = src.join(".big.yml");
        std::fs::write(&temporary, version(number)).unwrap();
        std::fs::rename(&temporary, src.join("big.yml")).unwrap();
        serve(number);
    }
    let (after, peak) = memory_kib(pid);
    let size = version(0).len();
    eprintln!(
        "a {size}-byte YAML file rewritten 100 times: RSS {before} KiB -> {after} KiB (peak {peak} KiB)"
    );
    assert!(
        after < before + 64 * 1024,
        "resident memory grew from {before} KiB to {after} KiB over 100 versions of a {size}-byte file"
    );
    scene.assert_alive(&mut mount);
}

#[test]
fn a_folder_inotify_cannot_watch_is_polled_so_changes_show_with_a_long_ttl() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let (src, mnt) = (scene.src(), scene.mnt());
    let name = "p".repeat(250);
    let depth = 18; // past PATH_MAX below SOURCE: inotify cannot take the deepest folders
    let make = format!(
        "cd \"$1\" && for i in $(seq {depth}); do mkdir {name} && cd {name} || exit 1; done \
         && echo one > f.txt"
    );
    let status = Command::new("bash")
        .args(["-c", &make, "bash"])
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    // A TTL far longer than the test: only a notice (here, from the poller) shows the change.
    let mut mount = mount_with_a_long_ttl(&scene);
    let deep = |root: &Path, tail: &str| {
        format!(
            "cd \"{}\" && for i in $(seq {depth}); do cd {name} || exit 1; done && {tail}",
            root.display()
        )
    };
    // A new name in the folder: the listing is kept for the TTL unless a notice drops it.
    let listed = |expected: &str| {
        let script = deep(&mnt, "ls");
        let started = Instant::now();
        loop {
            let output = Command::new("bash").args(["-c", &script]).output().unwrap();
            if String::from_utf8_lossy(&output.stdout) == expected {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{expected:?} not listed: {:?} {:?}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    listed("f.txt\n");
    let write = deep(&src, "echo new > g.txt");
    assert!(Command::new("bash")
        .args(["-c", &write])
        .status()
        .unwrap()
        .success());
    let took = listed("f.txt\ng.txt\n");
    eprintln!("a new file in a polled folder was listed after {took:?}");
    assert!(
        scene.log_text().contains("polled every"),
        "{}",
        scene.log_text()
    );
    scene.assert_alive(&mut mount);
    let _ = Command::new("bash")
        .args(["-c", "rm -rf \"$1\"", "bash"])
        .arg(src.join(&name))
        .status();
}
