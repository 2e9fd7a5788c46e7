//! Support for the end-to-end tests: real mounts through the `vfs` binary, always unmounted.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// The checks every test crate shares (CI rule, mountpoints, the engine lock, dated git) live in
// vfs-testkit; they are re-exported so the tests keep naming them through `common` (each test
// binary uses some of them, none uses all).
#[allow(unused_imports)]
pub use vfs_testkit::{
    engine::EngineLock,
    env::{docker_available, fuse_available, in_ci},
    git::{git, init_repo},
    mounts::{is_mounted, unmount_lazily, within},
};

/// The compose file the GitConfigFS end-to-end tests commit: two services sharing defaults by a
/// YAML merge key (web's image nginx, db's postgres:15), with a list and a nested map.
pub const COMPOSE: &str = include_str!("compose.yml");

/// The `vfs` binary under test.
pub fn vfs_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vfs"))
}

/// A `vfs mount …` running in the foreground as a child process. Dropping it sends SIGTERM,
/// waits, and lazily unmounts whatever is left, so a failing test never leaves a mount behind.
pub struct VfsMount {
    child: Option<Child>,
    mountpoint: PathBuf,
}

impl VfsMount {
    /// Runs `vfs [global args…] mount PROVIDER ARGS…` and waits until `mountpoint` is mounted.
    /// `args` is everything after `vfs`; `mountpoint` is where the mount is expected.
    pub fn start(args: &[&str], mountpoint: &Path) -> VfsMount {
        Self::start_with_env(args, mountpoint, &[])
    }

    pub fn start_with_env(args: &[&str], mountpoint: &Path, env: &[(&str, &str)]) -> VfsMount {
        let mut command = Command::new(vfs_binary());
        command.args(args).stdin(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {:?}: {error}", vfs_binary()));
        let mut mount = VfsMount {
            child: Some(child),
            mountpoint: mountpoint.to_path_buf(),
        };
        mount.wait_until_mounted(Duration::from_secs(30));
        mount
    }

    fn wait_until_mounted(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if is_mounted(&self.mountpoint) {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "vfs mount exited with {status} before {:?} was mounted",
                        self.mountpoint
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{:?} was not mounted within {limit:?}", self.mountpoint);
    }

    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `signal` to the vfs process and waits for it; returns its exit code.
    pub fn stop_with(&mut self, signal: i32) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on a child we spawned and have not reaped; no memory is touched.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
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
                    return None;
                }
            }
        }
    }
}

impl Drop for VfsMount {
    fn drop(&mut self) {
        self.stop_with(libc::SIGTERM);
        unmount_lazily(&self.mountpoint);
    }
}

/// Runs a command and returns its stdout; panics with its stderr when it fails.
pub fn run(program: &str, args: &[&str], dir: Option<&Path>) -> String {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// ---- Added for the reliability tests (tests/reliability_*.rs). ----

impl VfsMount {
    /// Spawns `command` (a `vfs … mount …`, possibly behind a wrapper such as `setpriv` that
    /// execs it) and waits until `mountpoint` is mounted. Stdio is left as `command` set it.
    pub fn start_command(mut command: Command, mountpoint: &Path) -> VfsMount {
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
        let mut mount = VfsMount {
            child: Some(child),
            mountpoint: mountpoint.to_path_buf(),
        };
        mount.wait_until_mounted(Duration::from_secs(30));
        mount
    }

    /// Sends `signal` without waiting (SIGKILL leaves the mount stale; the guard still reaps).
    pub fn signal(&self, signal: i32) {
        if let Some(child) = self.child.as_ref() {
            // SAFETY: kill(2) on a child we spawned and have not reaped; no memory is touched.
            unsafe {
                libc::kill(child.id() as libc::pid_t, signal);
            }
        }
    }

    /// Whether the vfs process has exited (reaping it if so); its exit status when it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }
}

/// A `vfs` command with stdin closed and stderr appended to `log` (to look for warnings and
/// panics afterwards).
pub fn vfs_command_logged(args: &[&str], log: &Path) -> Command {
    let mut command = Command::new(vfs_binary());
    command.args(args).stdin(Stdio::null());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|error| panic!("open {}: {error}", log.display()));
    command.stderr(file);
    command
}

/// Polls `check` every 5 ms until it holds, failing the test (with `what`) once `limit` has
/// passed; how long it took.
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

/// The FUSE requests in a `--debug-fuse` log (one line each, e.g. `FUSE(  6) ino 0x… LOOKUP`).
pub fn fuse_requests(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains("fuser::request: FUSE("))
        .collect()
}

/// A logged request's inode number and kind (`LOOKUP`, `GETATTR`, …).
pub fn inode_and_kind(line: &str) -> Option<(u64, &str)> {
    let after = line.split(" ino 0x").nth(1)?;
    let mut words = after.split_whitespace();
    let inode = u64::from_str_radix(words.next()?, 16).ok()?;
    Some((inode, words.next()?))
}

/// The kind of each logged request.
pub fn request_kinds<'a>(requests: &[&'a str]) -> Vec<&'a str> {
    requests
        .iter()
        .filter_map(|line| inode_and_kind(line).map(|(_, kind)| kind))
        .collect()
}

/// The FUSE requests the mount logged (to `log`, with `--debug-fuse`) while `walk` ran the walk
/// named `what`, and in the 200 ms after it. Left out: find's one statfs(2) a run, which FUSE
/// has no kernel cache for (find asks it for its leaf optimisation): the one request a warm
/// walk cannot avoid.
pub fn requests_during(log: &Path, what: &str, walk: impl FnOnce()) -> Vec<String> {
    let before = std::fs::read_to_string(log).unwrap().len();
    walk();
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(log).unwrap();
    fuse_requests(&text[before..])
        .into_iter()
        .filter(|line| !(what == "find" && request_kinds(&[line]) == ["STATFS"]))
        .map(str::to_owned)
        .collect()
}

/// Asserts that the request kinds `kinds` include a folder listing (READDIRPLUS or READDIR),
/// without which a walk that makes no request proves nothing; `what` says whose they are.
pub fn assert_folders_were_listed(kinds: &[&str], what: &str) {
    assert!(
        kinds.contains(&"READDIRPLUS") || kinds.contains(&"READDIR"),
        "{what} (else this test proves nothing): {kinds:?}"
    );
}

/// The walk right after a cold one (issue 17): runs the walk `what` (`walk` is given what to
/// call it in a failure) on a mount that logs to `log` and holds nothing in the kernel yet,
/// checks that it listed folders (else the check proves nothing), leaves 200 ms for whatever the
/// cold walk left to the notices thread to land, as it would between two runs, and asserts that
/// the same walk then reaches the mount with no request.
pub fn assert_the_walk_after_a_cold_one_is_free(log: &Path, what: &str, walk: impl Fn(&str)) {
    walk(&format!("cold {what}"));
    let cold = std::fs::read_to_string(log).unwrap();
    let cold_requests = fuse_requests(&cold);
    let whose = format!("the cold {what} listed folders");
    assert_folders_were_listed(&request_kinds(&cold_requests), &whose);
    std::thread::sleep(Duration::from_millis(200));
    assert_walk_is_free(log, "right after a cold one", what, || walk(what));
}

/// Runs the walk `what` (with `walk`) and asserts that it reached the mount logging to `log`
/// with no request (as `requests_during` counts them); `when` says in which state.
///
/// The kernel may drop cached pages and dentries under memory pressure at any time (a symlink's
/// cached target, a listing's pages: the walk then asks again, rightly), which no filesystem
/// controls. A walk that asked something while the kernel reclaimed memory (`/proc/vmstat`) is
/// therefore run again, up to three times in all; one during which nothing was reclaimed must ask
/// nothing.
pub fn assert_walk_is_free(log: &Path, when: &str, what: &str, walk: impl Fn()) {
    const ATTEMPTS: u32 = 3;
    for attempt in 1..=ATTEMPTS {
        let reclaimed_before = reclaimed_by_the_kernel();
        let asked = requests_during(log, what, &walk);
        if asked.is_empty() {
            return;
        }
        let reclaimed = reclaimed_by_the_kernel().saturating_sub(reclaimed_before);
        let lines: Vec<&str> = asked.iter().map(String::as_str).collect();
        if reclaimed > 0 && attempt < ATTEMPTS {
            eprintln!(
                "{when}: a {what} made {} FUSE requests ({:?}) while the kernel reclaimed \
                 {reclaimed} pages or slab objects; walking again",
                asked.len(),
                request_kinds(&lines)
            );
            continue;
        }
        panic!(
            "{when}: a {what} made {} FUSE requests ({:?}; the kernel reclaimed {reclaimed} pages \
             or slab objects meanwhile, attempt {attempt} of {ATTEMPTS}): {asked:#?}",
            asked.len(),
            request_kinds(&lines)
        );
    }
}

/// What the kernel has reclaimed since boot: pages (`pgsteal_*`) and scanned slab objects
/// (`slabs_scanned`, dentries and inodes among them), from `/proc/vmstat`.
fn reclaimed_by_the_kernel() -> u64 {
    let vmstat = std::fs::read_to_string("/proc/vmstat").unwrap_or_default();
    vmstat
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(key, _)| key.starts_with("pgsteal_") || *key == "slabs_scanned")
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .sum()
}

/// Open file descriptors of a process (`/proc/PID/fd`).
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
}

/// Threads of a process (`/proc/PID/task`).
pub fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |entries| entries.count())
}

/// Resident memory of a process in KiB (`VmRSS`), and its peak (`VmHWM`).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Runs `program args…` as the user `nobody` (group `nogroup`, no supplementary groups).
pub fn as_nobody(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            program,
        ])
        .args(args);
    command
}

/// A work folder with `src/` (a GitConfigFS source) and `mnt/`, and the mount's log file.
pub struct GitconfigScene {
    work: tempfile::TempDir,
}

impl GitconfigScene {
    /// The TTL the scene mounts with.
    pub const TTL: &'static str = "200ms";

    pub fn new() -> GitconfigScene {
        let work = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(work.path().join("src")).expect("create src");
        std::fs::create_dir(work.path().join("mnt")).expect("create mnt");
        GitconfigScene { work }
    }

    pub fn work(&self) -> &Path {
        self.work.path()
    }

    pub fn src(&self) -> PathBuf {
        self.work.path().join("src")
    }

    pub fn mnt(&self) -> PathBuf {
        self.work.path().join("mnt")
    }

    pub fn log_path(&self) -> PathBuf {
        self.work.path().join("vfs.log")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `vfs --ttl 200ms mount gitconfig src mnt`, logging to the scene's log file.
    pub fn mount(&self) -> VfsMount {
        let (src, mnt) = (self.src(), self.mnt());
        let (src, mnt) = (src.display().to_string(), mnt.display().to_string());
        let command = vfs_command_logged(
            &["--ttl", Self::TTL, "mount", "gitconfig", &src, &mnt],
            &self.log_path(),
        );
        VfsMount::start_command(command, &self.mnt())
    }

    /// The mount's log has no panic, and the vfs process is still serving.
    pub fn assert_alive(&self, mount: &mut VfsMount) {
        assert!(
            mount.exited().is_none(),
            "vfs exited; log:\n{}",
            self.log_text()
        );
        assert!(
            !self.log_text().contains("panicked"),
            "a panic in the log:\n{}",
            self.log_text()
        );
        std::fs::metadata(self.mnt()).expect("the mount answers stat");
    }
}

// ---- Docker objects made by the end-to-end tests. ----

/// A name for engine objects unique to this test process and moment: `PREFIX<pid>x<n>STEM`
/// (lower case and digits, as image references and compose projects want them).
pub fn unique(prefix: &str, stem: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("{prefix}{}x{}{stem}", std::process::id(), nanos % 100_000)
}

/// Images, containers and volumes made by a test, removed even when it fails.
#[derive(Default)]
pub struct Cleanup {
    pub containers: Vec<String>,
    pub images: Vec<String>,
    pub volumes: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("docker")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        for container in &self.containers {
            quiet(&["rm", "-f", container]);
        }
        for image in self.images.iter().rev() {
            quiet(&["rmi", "-f", image]);
        }
        for volume in &self.volumes {
            quiet(&["volume", "rm", "-f", volume]);
        }
    }
}

/// Imports busybox as `reference` (no registry is reachable): a root filesystem of busybox with
/// `applets` linked to it, and `changes` (Dockerfile instructions such as `CMD ["sh"]`) applied.
/// Records the image for cleanup; returns its id.
pub fn import_busybox(
    cleanup: &mut Cleanup,
    reference: &str,
    applets: &[&str],
    changes: &[&str],
) -> String {
    let root = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(root.path().join("bin")).expect("create bin");
    std::fs::copy("/bin/busybox", root.path().join("bin/busybox")).expect("copy /bin/busybox");
    for applet in applets {
        std::os::unix::fs::symlink("busybox", root.path().join("bin").join(applet))
            .expect("link an applet");
    }
    let tar = root.path().join("rootfs.tar");
    let (root_text, tar_text) = (root.path().display().to_string(), tar.display().to_string());
    run("tar", &["-C", &root_text, "-cf", &tar_text, "bin"], None);
    let mut args = vec!["import"];
    for change in changes {
        args.extend(["--change", change]);
    }
    args.extend([tar_text.as_str(), reference]);
    let id = vfs_testkit::docker::docker(&args);
    let id = id.trim().trim_start_matches("sha256:").to_string();
    cleanup.images.push(id.clone());
    cleanup.images.push(reference.to_string());
    id
}

/// The Makefile of the fenced `make` block after `<!-- recipe: NAME -->` in `doc` (a path from
/// the crate's root), or of the first `make` block when `name` is `None`: the docs' recipes are
/// tested as the pages show them.
pub fn recipe(doc: &str, name: Option<&str>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let from = match name {
        Some(name) => {
            let marker = format!("<!-- recipe: {name} -->");
            text.find(&marker)
                .unwrap_or_else(|| panic!("{doc} has no {marker}"))
        }
        None => 0,
    };
    let rest = &text[from..];
    let start = rest.find("```make\n").expect("a make block") + "```make\n".len();
    let end = rest[start..].find("```").expect("the block's end");
    rest[start..start + end].to_string()
}

/// A repository where a docs recipe runs as a user runs it: commands in `dir` with the `vfs`
/// under test first on PATH, the mounts' state in `state`, and `env` besides (a throwaway
/// engine's DOCKER_HOST). DockerFS mounts at `.dockerfs`, GitConfigFS of the repository at
/// `.cfgfs`.
pub struct RecipeShell {
    pub dir: PathBuf,
    pub state: PathBuf,
    pub env: Vec<(String, String)>,
}

impl RecipeShell {
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let bin = vfs_binary().parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.dir)
            .env("PATH", path)
            .env("VFS_STATE_DIR", &self.state)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null());
        command
    }

    /// Runs `program ARGS…`: its exit code (-1 for a signal) and its stdout and stderr.
    pub fn run(&self, program: &str, args: &[&str]) -> (i32, String) {
        let output = self.command(program, args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code().unwrap_or(-1), text)
    }

    /// `vfs ARGS…`, which must succeed.
    pub fn vfs(&self, args: &[&str]) {
        let (code, output) = self.run(vfs_binary().to_str().unwrap(), args);
        assert_eq!(code, 0, "vfs {args:?}: {output}");
    }

    pub fn dockerfs(&self) -> PathBuf {
        self.dir.join(".dockerfs")
    }

    pub fn cfgfs(&self) -> PathBuf {
        self.dir.join(".cfgfs")
    }

    pub fn mount_gitconfig(&self) {
        self.vfs(&["mount", "-d", "gitconfig", ".", ".cfgfs"]);
    }

    /// DockerFS, then GitConfigFS.
    pub fn mount(&self) {
        self.vfs(&["mount", "-d", "docker", ".dockerfs"]);
        self.mount_gitconfig();
    }

    /// `vfs unmount` of whichever of the two is mounted; neither is afterwards.
    pub fn unmount(&self) {
        for mountpoint in [self.cfgfs(), self.dockerfs()] {
            if is_mounted(&mountpoint) {
                self.vfs(&["unmount", mountpoint.to_str().unwrap()]);
            }
        }
        assert!(!is_mounted(&self.cfgfs()) && !is_mounted(&self.dockerfs()));
    }

    /// `make --no-print-directory TARGETS…`, which must succeed; its output.
    pub fn make(&self, targets: &[&str], step: &str) -> String {
        let (code, output) = self.run("make", &[&["--no-print-directory"][..], targets].concat());
        assert_eq!(code, 0, "{step}: make failed:\n{output}");
        output
    }

    /// `make -q TARGETS…`'s exit code (0: up to date).
    pub fn question(&self, targets: &[&str]) -> i32 {
        self.run("make", &[&["-q"][..], targets].concat()).0
    }
}
