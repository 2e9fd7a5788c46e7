//! `hello-vfs mount` for real, through the kernel: what a user of the example sees.
//!
//! Every mount is owned by a guard that unmounts it on drop, so a failing test leaves no
//! mount and no process behind. Outside CI these tests skip when FUSE is missing; with
//! CI=true that is a failure.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use vfs_testkit::env::fuse_available;
use vfs_testkit::mounts::{is_mounted, unmount_lazily};

const HELLO_VFS: &str = env!("CARGO_BIN_EXE_hello-vfs");

fn hello_vfs(args: &[&str]) -> Output {
    Command::new(HELLO_VFS)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("hello-vfs runs")
}

/// Runs a system tool (cat, stat, readlink, ls) and returns its stdout.
fn tool(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .expect("tool runs");
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) takes no pointers; the pid is one of our own children.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// A scratch directory with a mountpoint path inside; dropped after the guards that use it.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// An empty folder to mount on (a missing one is an error unless `--mkdir` is given),
    /// canonical as /proc/mounts has it.
    fn mountpoint(&self, name: &str) -> PathBuf {
        let path = self.dir.path().canonicalize().unwrap().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `hello-vfs mount hello … MOUNTPOINT` in the foreground, stderr kept in a file.
struct ForegroundMount {
    child: Option<Child>,
    mountpoint: PathBuf,
    stderr_path: PathBuf,
}

impl ForegroundMount {
    /// Starts the mount and waits until the kernel lists it. `options` go before the provider.
    fn start(scratch: &Scratch, name: &str, options: &[&str], provider_args: &[&str]) -> Self {
        let mountpoint = scratch.mountpoint(name);
        let stderr_path = scratch.file(&format!("{name}.stderr"));
        let stderr = File::create(&stderr_path).unwrap();
        let mut args: Vec<&str> = options.to_vec();
        args.extend(["mount", "hello"]);
        args.extend(provider_args);
        args.push(mountpoint.to_str().unwrap());
        let child = Command::new(HELLO_VFS)
            .args(&args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("hello-vfs starts");
        let mut mount = ForegroundMount {
            child: Some(child),
            mountpoint,
            stderr_path,
        };
        let mounted = wait_for(Duration::from_secs(20), || {
            let exited = mount
                .child
                .as_mut()
                .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
            exited || is_mounted(&mount.mountpoint)
        });
        assert!(
            mounted && is_mounted(&mount.mountpoint),
            "not mounted; stderr: {}",
            mount.stderr()
        );
        mount
    }

    fn path(&self, relative: &str) -> String {
        self.mountpoint.join(relative).to_str().unwrap().to_owned()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("still running")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends `signal` and waits for the exit; the exit code, `None` if killed by a signal.
    fn stop_with(&mut self, signal_number: i32) -> Option<i32> {
        let mut child = self.child.take()?;
        signal(child.id(), signal_number);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("hello-vfs did not exit after signal {signal_number}");
                }
            }
        }
    }
}

impl Drop for ForegroundMount {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), libc::SIGTERM);
            if !wait_for(Duration::from_secs(10), || {
                matches!(child.try_wait(), Ok(Some(_)))
            }) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        unmount_lazily(&self.mountpoint);
    }
}

/// A mount made with `-d`: unmounted with `hello-vfs unmount` (or forcibly) on drop.
struct DaemonMount {
    mountpoint: PathBuf,
}

impl Drop for DaemonMount {
    fn drop(&mut self) {
        if is_mounted(&self.mountpoint) {
            let _ = hello_vfs(&["unmount", self.mountpoint.to_str().unwrap()]);
        }
        unmount_lazily(&self.mountpoint);
    }
}

fn assert_clean_exit(code: Option<i32>, mount: &ForegroundMount) {
    let stderr = mount.stderr();
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(!is_mounted(&mount.mountpoint), "still mounted");
}

#[test]
fn foreground_mount_serves_cat_stat_ls_and_readlink() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mut mount = ForegroundMount::start(
        &scratch,
        "hello",
        &[],
        &["--greeting", "Hi there", "--time", "1700000000.25"],
    );
    // The kernel lists the mount a moment before the line is written.
    let ready = format!(
        "hello-vfs: hello mounted at {0} (log: stderr; Ctrl-C or `hello-vfs unmount {0}` to stop)\n",
        mount.mountpoint.display()
    );
    wait_for(Duration::from_secs(5), || mount.stderr() == ready);
    assert_eq!(mount.stderr(), ready);
    assert_eq!(
        tool("ls", &["-A", &mount.path("")]),
        // `.vfs`: the host's marker at every mount's root.
        ".vfs\ngreeting.txt\nlatest\nticks\nwords\n"
    );
    assert_eq!(tool("ls", &[&mount.path("words")]), "1\n2\n");
    assert_eq!(tool("cat", &[&mount.path("greeting.txt")]), "Hi there\n");
    assert_eq!(tool("cat", &[&mount.path("words/2")]), "there\n");
    assert_eq!(tool("cat", &[&mount.path("latest")]), "Hi there\n");
    // Unknown size: served whole all the same.
    assert_eq!(tool("cat", &[&mount.path("ticks/count")]), "0\n");
    assert_eq!(tool("readlink", &[&mount.path("latest")]), "greeting.txt\n");
    assert_eq!(
        tool("stat", &["-c", "%F %s %Y", &mount.path("greeting.txt")]),
        "regular file 9 1700000000\n"
    );
    assert_eq!(
        tool("stat", &["-c", "%F %Y", &mount.path("words")]),
        "directory 1700000000\n"
    );
    assert_eq!(
        tool("stat", &["-c", "%F", &mount.path("latest")]),
        "symbolic link\n"
    );
    let metadata = std::fs::metadata(mount.path("greeting.txt")).unwrap();
    assert_eq!(
        (metadata.mtime(), metadata.mtime_nsec()),
        (1_700_000_000, 250_000_000)
    );
    let code = mount.stop_with(libc::SIGTERM);
    assert_clean_exit(code, &mount);
}

#[test]
fn sigterm_and_sigint_unmount_and_exit_zero() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    for (name, signal_number) in [("term", libc::SIGTERM), ("int", libc::SIGINT)] {
        let mut mount = ForegroundMount::start(&scratch, name, &[], &[]);
        assert_eq!(
            tool("cat", &[&mount.path("greeting.txt")]),
            "Hello, world!\n"
        );
        let code = mount.stop_with(signal_number);
        assert_clean_exit(code, &mount);
    }
}

#[test]
fn debug_fuse_logs_each_request_to_stderr() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mut mount = ForegroundMount::start(&scratch, "debug", &["--debug-fuse"], &[]);
    assert_eq!(
        tool("cat", &[&mount.path("greeting.txt")]),
        "Hello, world!\n"
    );
    let code = mount.stop_with(libc::SIGINT);
    assert_clean_exit(code, &mount);
    let stderr = mount.stderr();
    let requests: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("fuser::request"))
        .collect();
    for request in ["LOOKUP name \"greeting.txt\"", "OPEN", "READ"] {
        assert!(
            requests.iter().any(|line| line.contains(request)),
            "no {request} logged in:\n{stderr}"
        );
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid(2) takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `cat PATH` as the unprivileged user nobody.
fn cat_as_nobody(path: &str) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "cat",
            path,
        ])
        .output()
        .expect("setpriv runs")
}

#[test]
fn allow_other_lets_other_users_read_and_is_off_by_default() {
    if !fuse_available() {
        return;
    }
    if !running_as_root() {
        eprintln!("skipped: needs root to read the mount as the unprivileged user nobody");
        return;
    }
    let scratch = Scratch::new();
    std::fs::set_permissions(
        scratch.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let private = ForegroundMount::start(&scratch, "private", &[], &[]);
    let refused = cat_as_nobody(&private.path("greeting.txt"));
    assert!(!refused.status.success(), "nobody read a private mount");
    let shared = ForegroundMount::start(&scratch, "shared", &["--allow-other"], &[]);
    let read = cat_as_nobody(&shared.path("greeting.txt"));
    assert_eq!(
        String::from_utf8_lossy(&read.stdout),
        "Hello, world!\n",
        "stderr: {}",
        String::from_utf8_lossy(&read.stderr)
    );
}

#[test]
fn mounting_over_a_live_mount_is_refused_in_one_line() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let first = ForegroundMount::start(&scratch, "taken", &[], &["--greeting", "first"]);
    let mountpoint_text = first.mountpoint.to_str().unwrap().to_owned();
    for daemon in [false, true] {
        let mut args = vec!["mount"];
        if daemon {
            args.push("-d");
        }
        args.extend(["hello", "--greeting", "second", &mountpoint_text]);
        let refused = hello_vfs(&args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "hello-vfs: error: mountpoint {mountpoint_text} already holds a FUSE mount \
                 (vfs-hello): run `hello-vfs unmount {mountpoint_text}` first\n"
            )
        );
    }
    assert_eq!(tool("cat", &[&first.path("greeting.txt")]), "first\n");
}

#[test]
fn a_missing_dev_fuse_is_one_line_in_both_modes() {
    if !running_as_root() {
        eprintln!("skipped: needs root to hide /dev in a private mount namespace");
        return;
    }
    let scratch = Scratch::new();
    for (name, daemon) in [("nofuse-fg", ""), ("nofuse-bg", "-d")] {
        let mountpoint = scratch.mountpoint(name);
        let guard = DaemonMount {
            mountpoint: mountpoint.clone(),
        };
        // An empty tmpfs over /dev, seen only inside the new mount namespace.
        let script = format!(
            "mount -t tmpfs none /dev && exec {HELLO_VFS} mount {daemon} hello {}",
            mountpoint.display()
        );
        let output = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .output()
            .expect("unshare runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(
            stderr,
            "hello-vfs: error: FUSE is not available (/dev/fuse is missing or not a device): install fuse3 and load the fuse module, or run `sync` instead of `mount` to keep a plain folder in step without FUSE (docs/sync.md)\n"
        );
        assert!(!is_mounted(&mountpoint));
        drop(guard);
    }
}

#[test]
fn an_unmount_from_outside_ends_the_process_with_zero() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mut mount = ForegroundMount::start(&scratch, "outside", &[], &[]);
    let pid = mount.pid();
    tool("fusermount3", &["-u", &mount.path("")]);
    let mut child = mount.child.take().expect("running");
    let exited = wait_for(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    assert!(
        exited,
        "hello-vfs (pid {pid}) still runs after fusermount3 -u"
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {}", mount.stderr());
}

#[test]
fn a_tick_is_seen_at_once_despite_a_long_ttl() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = ForegroundMount::start(&scratch, "tick", &["--ttl", "60s"], &["--tick", "0.2"]);
    let count_path = mount.path("ticks/count");
    let count = || -> u64 {
        tool("cat", &[&count_path])
            .trim()
            .parse()
            .expect("a number")
    };
    let mtime = || std::fs::metadata(&count_path).unwrap().modified().unwrap();
    let (first_count, first_time) = (count(), mtime());
    // Without the notices the kernel would keep the first attributes for 60 s.
    let moved = wait_for(Duration::from_secs(5), || {
        count() > first_count && mtime() > first_time
    });
    assert!(
        moved,
        "count and time did not move; stderr: {}",
        mount.stderr()
    );
}

#[test]
fn a_polled_change_is_seen_after_wait_despite_a_long_ttl() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let source = scratch.file("polled-source");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("a.txt"), "one\n").unwrap();
    let source_text = source.to_str().unwrap();
    // A poll every hour: only `wait` (the provider's `settle`) can make the new file show.
    let mount = ForegroundMount::start(
        &scratch,
        "polled",
        &["--ttl", "60s"],
        &["--poll", source_text, "--poll-every", "3600"],
    );
    assert_eq!(tool("ls", &[&mount.path("polled")]), "a.txt\n");
    std::fs::write(source.join("b.txt"), "two\n").unwrap();
    let waited = hello_vfs(&["wait", &mount.path("")]);
    assert!(
        waited.status.success(),
        "wait failed: {}",
        String::from_utf8_lossy(&waited.stderr)
    );
    assert_eq!(tool("ls", &[&mount.path("polled")]), "a.txt\nb.txt\n");
    assert_eq!(tool("cat", &[&mount.path("polled/b.txt")]), "two\n");
}

#[test]
fn daemon_returns_once_ready_and_unmount_clears_it() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mountpoint = scratch.mountpoint("daemon");
    let guard = DaemonMount {
        mountpoint: mountpoint.clone(),
    };
    let mountpoint_text = mountpoint.to_str().unwrap();
    // Output (not status): it would hang if the background process kept our pipes open.
    let output = hello_vfs(&[
        "mount",
        "-d",
        "hello",
        "--greeting",
        "Bonjour",
        mountpoint_text,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "stderr: {stderr}");
    // Ready means ready: no waiting here.
    assert!(is_mounted(&mountpoint), "not mounted when -d returned");
    assert_eq!(
        tool("cat", &[&format!("{mountpoint_text}/greeting.txt")]),
        "Bonjour\n"
    );
    let pid: u32 = stderr
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {stderr:?}"));
    let unmounted = hello_vfs(&["unmount", mountpoint_text]);
    assert!(
        unmounted.status.success(),
        "{}",
        String::from_utf8_lossy(&unmounted.stderr)
    );
    assert!(!is_mounted(&mountpoint));
    let gone = wait_for(Duration::from_secs(10), || {
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| stat.contains(") Z "))
    });
    assert!(gone, "the background process {pid} outlived its mount");
    drop(guard);
}

#[test]
fn a_stale_mount_after_sigkill_is_cleared_by_unmount_and_the_point_reused() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mut killed = ForegroundMount::start(&scratch, "stale", &[], &[]);
    let mountpoint = killed.mountpoint.clone();
    let mountpoint_text = mountpoint.to_str().unwrap().to_owned();
    assert_eq!(killed.stop_with(libc::SIGKILL), None);
    let error = std::fs::metadata(&mountpoint).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::ENOTCONN), "{error}");
    assert!(is_mounted(&mountpoint));

    // Mounting over it says what to do, in one line.
    let refused = hello_vfs(&["mount", "hello", &mountpoint_text]);
    assert_eq!(refused.status.code(), Some(1));
    let refusal = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refusal.lines().count(), 1, "{refusal}");
    assert!(
        refusal.starts_with("hello-vfs: error: ")
            && refusal.contains("Transport endpoint is not connected")
            && refusal.contains(&format!("hello-vfs unmount {mountpoint_text}")),
        "{refusal}"
    );

    let unmounted = hello_vfs(&["unmount", &mountpoint_text]);
    assert!(
        unmounted.status.success(),
        "{}",
        String::from_utf8_lossy(&unmounted.stderr)
    );
    assert!(!is_mounted(&mountpoint));
    drop(killed);

    let mut again = ForegroundMount::start(&scratch, "stale", &[], &["--greeting", "again"]);
    assert_eq!(tool("cat", &[&again.path("greeting.txt")]), "again\n");
    let code = again.stop_with(libc::SIGTERM);
    assert_clean_exit(code, &again);
}

#[test]
fn unmount_of_something_not_mounted_is_one_line() {
    let scratch = Scratch::new();
    let plain = scratch.mountpoint("plain");
    let output = hello_vfs(&["unmount", plain.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("hello-vfs: error: "), "{stderr}");
    assert!(stderr.contains(plain.to_str().unwrap()), "{stderr}");
}

#[test]
fn no_permission_is_one_line_in_both_modes() {
    if !fuse_available() {
        return;
    }
    if !running_as_root() {
        eprintln!("skipped: needs root to run hello-vfs as the unprivileged user nobody");
        return;
    }
    let scratch = Scratch::new();
    std::fs::set_permissions(
        scratch.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    for (name, daemon) in [("fg", false), ("bg", true)] {
        let mountpoint = scratch.mountpoint(name);
        let guard = DaemonMount {
            mountpoint: mountpoint.clone(),
        };
        // A mountpoint owned by root that nobody may not write: fusermount3 (setuid) refuses.
        std::fs::set_permissions(
            &mountpoint,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        // Bounded, so a mount that unexpectedly succeeds fails the test instead of hanging it.
        let mut command = Command::new("timeout");
        command.args([
            "20",
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            HELLO_VFS,
            "mount",
        ]);
        if daemon {
            command.arg("-d");
        }
        let output = command
            .args(["hello", mountpoint.to_str().unwrap()])
            .output()
            .expect("setpriv runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("hello-vfs: error: ") && stderr.contains("ermission denied"),
            "{stderr}"
        );
        assert!(!is_mounted(&mountpoint));
        drop(guard);
    }
}
