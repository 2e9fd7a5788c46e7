//! Reliability of DockerFS through the `vfs` binary against the real engine: the engine killed
//! (`kill -9`) under a live mount with make running over it, bad sources at start, a network
//! named like another's id, names at their limits, the inspect JSON's privacy, and `make -j16`
//! over 1,000 targets while images are tagged and removed.
//!
//! Every test holds the engine lock shared; the one that kills dockerd holds it exclusively.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::{
    as_nobody, docker_available, fd_count, fuse_available, in_ci, is_mounted, thread_count,
    vfs_binary, vfs_command_logged, within, EngineLock, VfsMount,
};
use vfs_testkit::dockerd::{self, PID_FILE};

const SOCKET: &str = "unix:///var/run/docker.sock";

/// `docker ARGS…`'s stdout, trimmed (ids and names, one per call).
fn docker(args: &[&str]) -> String {
    vfs_testkit::docker::docker(args).trim().to_string()
}

fn quiet_docker(args: &[&str]) {
    let _ = Command::new("docker")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A lowercase name unique to this process and call.
fn unique(stem: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "vfsrel{}x{}{}{stem}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed),
        nanos % 1000
    )
}

/// Images and containers a test made, removed on drop even when it fails.
#[derive(Default)]
struct Cleanup {
    containers: Vec<String>,
    images: Vec<String>,
    networks: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for container in &self.containers {
            quiet_docker(&["rm", "-f", container]);
        }
        for image in self.images.iter().rev() {
            quiet_docker(&["rmi", "-f", image]);
        }
        for network in &self.networks {
            quiet_docker(&["network", "rm", network]);
        }
    }
}

/// A busybox root filesystem imported as `reference`; `salt` makes the image distinct.
fn import_busybox(cleanup: &mut Cleanup, reference: &str, salt: &str) -> String {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox");
    std::os::unix::fs::symlink("busybox", bin.join("sh")).unwrap();
    std::fs::write(root.path().join("salt"), salt).unwrap();
    let tar = root.path().join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(root.path())
        .arg("-cf")
        .arg(&tar)
        .args(["bin", "salt"])
        .status()
        .unwrap();
    assert!(status.success());
    let id = docker(&[
        "import",
        "--change",
        r#"CMD ["sh"]"#,
        tar.to_str().unwrap(),
        reference,
    ]);
    cleanup.images.push(reference.to_string());
    let id = id.trim_start_matches("sha256:").to_string();
    cleanup.images.push(id.clone());
    id
}

fn tag(cleanup: &mut Cleanup, source: &str, reference: &str) {
    docker(&["tag", source, reference]);
    cleanup.images.push(reference.to_string());
}

struct DockerMount {
    mount: VfsMount,
    work: tempfile::TempDir,
}

impl DockerMount {
    fn start(extra: &[&str]) -> DockerMount {
        let work = tempfile::tempdir().unwrap();
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mnt = work.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let mut args: Vec<&str> = extra.to_vec();
        let mnt_text = mnt.display().to_string();
        args.extend(["mount", "docker", SOCKET, &mnt_text]);
        let command = vfs_command_logged(&args, &work.path().join("vfs.log"));
        let mount = VfsMount::start_command(command, &mnt);
        DockerMount { mount, work }
    }
    fn mnt(&self) -> PathBuf {
        self.work.path().join("mnt")
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.work.path().join("vfs.log")).unwrap_or_default()
    }
    fn assert_alive(&mut self) {
        assert!(self.mount.exited().is_none(), "vfs exited:\n{}", self.log());
        assert!(!self.log().contains("panicked"), "{}", self.log());
    }
}

/// Polls until `check` holds; returns how long it took, or None after `limit`.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if check() {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The object of the inspect JSON a path serves (following a symlink); like `docker inspect`,
/// the file holds an array of one.
fn served_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    match value {
        serde_json::Value::Array(mut items) if items.len() == 1 => items.remove(0),
        other => other,
    }
}

// ---- bad sources at start ----------------------------------------------------------------

/// Runs `vfs mount docker SOURCE MNT` (optionally as nobody); returns (exit code, stderr, time).
fn failed_mount(source: &str, as_user: bool) -> (Option<i32>, String, Duration) {
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mnt = work.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let vfs = vfs_binary();
    let args = ["mount", "docker", source, mnt.to_str().unwrap()];
    let mut command = if as_user {
        let chown = Command::new("chown")
            .arg("nobody:nogroup")
            .arg(&mnt)
            .status()
            .unwrap();
        assert!(chown.success());
        as_nobody(vfs.to_str().unwrap(), &args)
    } else {
        let mut command = Command::new(&vfs);
        command.args(args);
        command
    };
    command.stdin(Stdio::null());
    let started = Instant::now();
    let output = within(Duration::from_secs(60), source, move || {
        command.output().unwrap()
    });
    let took = started.elapsed();
    assert!(!is_mounted(&mnt), "{source}: mounted anyway");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        took,
    )
}

fn assert_one_clear_line(source: &str, code: Option<i32>, stderr: &str, must_name: &str) {
    assert!(
        code.is_some_and(|code| code != 0),
        "{source}: exit {code:?}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{source}: one line expected:\n{stderr}");
    assert!(lines[0].starts_with("vfs: error: "), "{source}: {stderr}");
    assert!(
        lines[0].contains(must_name),
        "{source}: names {must_name}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{source}: {stderr}");
}

/// A unix socket that answers every connection with bytes that are not HTTP.
fn garbage_socket(path: &Path) {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            use std::io::Write;
            let _ = stream.write_all(b"SSH-2.0-not-docker\r\n\r\ngarbage\0\0\0");
        }
    });
}

#[test]
fn bad_sources_at_start_fail_with_one_clear_line() {
    // The lock first: while another test restarts the engine, it is down but coming back.
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let garbage = scratch.path().join("garbage.sock");
    garbage_socket(&garbage);
    let garbage_source = format!("unix://{}", garbage.display());
    let cases: Vec<(String, bool, String)> = vec![
        (
            "unix:///tmp/vfs-no-such-engine.sock".into(),
            false,
            "/tmp/vfs-no-such-engine.sock".into(),
        ),
        (
            "tcp://127.0.0.1:1".into(),
            false,
            "tcp://127.0.0.1:1".into(),
        ),
        (
            "ftp://engine.example".into(),
            false,
            "ftp://engine.example".into(),
        ),
        ("/etc/passwd".into(), false, "/etc/passwd".into()),
        (garbage_source.clone(), false, garbage_source.clone()),
        (SOCKET.into(), true, "/var/run/docker.sock".into()),
    ];
    for (source, as_user, must_name) in cases {
        let (code, stderr, took) = failed_mount(&source, as_user);
        eprintln!("{source} (as nobody: {as_user}): exit {code:?} after {took:?}: {stderr}");
        assert_one_clear_line(&source, code, &stderr, &must_name);
        assert!(took < Duration::from_secs(30), "{source}: took {took:?}");
        if as_user {
            assert!(stderr.contains("ermission denied"), "{stderr}");
        }
    }
}

#[test]
fn a_silent_engine_at_start_fails_within_a_bounded_time() {
    if !fuse_available() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let silent = scratch.path().join("silent.sock");
    // Accepts connections and never says a word.
    let listener = std::os::unix::net::UnixListener::bind(&silent).unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keeper = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keeper.lock().unwrap().push(stream);
        }
    });
    let source = format!("unix://{}", silent.display());
    let (code, stderr, took) = failed_mount(&source, false);
    eprintln!("silent engine: exit {code:?} after {took:?}: {stderr}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_one_clear_line(&source, code, &stderr, &silent.display().to_string());
}

// ---- the engine killed under a live mount -------------------------------------------------

/// One make run: success, the targets it rebuilt, how long it took, its stderr.
type MakeRun = (bool, Vec<String>, Duration, String);

/// Runs make in `dir`.
fn make(dir: &Path, jobs: &str) -> MakeRun {
    let log = dir.join("built.log");
    let _ = std::fs::remove_file(&log);
    let started = Instant::now();
    let output = Command::new("make")
        .args(["-s", jobs, "-C"])
        .arg(dir)
        .output()
        .unwrap();
    let took = started.elapsed();
    let built = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (
        output.status.success(),
        built,
        took,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_engine_killed_under_make_serves_the_last_tree_then_the_current_one() {
    let _lock = EngineLock::exclusive();
    if !fuse_available() || !docker_available() {
        return;
    }
    let Some(pid) = dockerd::live_pid() else {
        assert!(!in_ci(), "CI=true but no live dockerd pid in {PID_FILE}");
        eprintln!("skipped: dockerd is not ours to kill (no live pid in {PID_FILE})");
        return;
    };
    let command_line = dockerd::command_line(pid);
    let mut cleanup = Cleanup::default();
    let stem = unique("kill");
    let base = import_busybox(&mut cleanup, &format!("{stem}/base:v1"), "base");
    let other = import_busybox(&mut cleanup, &format!("{stem}/other:v1"), "other");
    for index in 0..20 {
        tag(&mut cleanup, &base, &format!("{stem}/app{index}:v1"));
    }
    tag(&mut cleanup, &other, &format!("{stem}/doomed:v1"));
    let mut mount = DockerMount::start(&[]);
    let mnt = mount.mnt();
    let work = mount.work.path().to_path_buf();
    let mut makefile = String::from("all:");
    for index in 0..20 {
        makefile.push_str(&format!(" out/{index}"));
    }
    makefile.push('\n');
    for index in 0..20 {
        makefile.push_str(&format!(
            "out/{index}: mnt/images/{stem}/app{index}/v1\n\t@mkdir -p out\n\t@echo $@ >> built.log\n\t@touch $@\n"
        ));
    }
    std::fs::write(work.join("Makefile"), makefile).unwrap();
    let (ok, built, _, stderr) = make(&work, "-j4");
    assert!(ok, "{stderr}");
    assert_eq!(built.len(), 20);

    // make runs over the mount in a loop for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let runs: Arc<Mutex<Vec<MakeRun>>> = Arc::default();
    let maker = {
        let (stop, runs, work) = (stop.clone(), runs.clone(), work.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let run = make(&work, "-j4");
                runs.lock().unwrap().push(run);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let guard = dockerd::RestartOnDrop(command_line.clone());
    // SAFETY: kill(2) with the pid read from dockerd's pid file; no memory is touched.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let killed = Instant::now();
    while dockerd::alive(pid) {
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "dockerd survived kill -9"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // While it is gone, a reader retries an inspect file every 5 ms: each read fails, and the
    // log must say so once, not once per read (issue 16: 2,289 warnings in 12 s).
    let reader_stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, path) = (
            reader_stop.clone(),
            mnt.join(format!("images/{stem}/app5/v1")),
        );
        std::thread::spawn(move || {
            let mut failed = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                if std::fs::read(&path).is_err() {
                    failed += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            failed
        })
    };
    // While it is gone: the last known tree, answered at once.
    std::thread::sleep(Duration::from_secs(2));
    let listed = within(
        Duration::from_secs(10),
        "ls images while the engine is down",
        {
            let dir = mnt.join(format!("images/{stem}"));
            move || std::fs::read_dir(dir).map(|entries| entries.count())
        },
    );
    assert_eq!(
        listed.unwrap(),
        2 * 23,
        "app0..19, base, other, doomed: a folder and a `:v1` link each"
    );
    let started = Instant::now();
    let read = within(Duration::from_secs(30), "read inspect JSON while down", {
        let path = mnt.join(format!("images/{stem}/app3/v1"));
        move || std::fs::read_to_string(path)
    });
    let read_time = started.elapsed();
    eprintln!(
        "inspect JSON read while the engine was down: {} after {read_time:?}",
        match &read {
            Ok(text) => format!("served {} bytes", text.len()),
            Err(error) => format!("error {error}"),
        }
    );
    let runs_while_down = runs.lock().unwrap().len();
    reader_stop.store(true, Ordering::Relaxed);
    let reads_failed = within(Duration::from_secs(30), "reader ends", move || {
        reader.join().unwrap()
    });

    dockerd::start(&command_line);
    let returned = Instant::now();
    std::mem::forget(guard);
    let down_for = killed.elapsed() - returned.elapsed();
    // The current tree within 5 s of the engine's return: a new tag appears, a removed one goes.
    docker(&["tag", &other, &format!("{stem}/after:v1")]);
    cleanup.images.push(format!("{stem}/after:v1"));
    docker(&["rmi", &format!("{stem}/doomed:v1")]);
    let after = mnt.join(format!("images/{stem}/after/v1"));
    let doomed = mnt.join(format!("images/{stem}/doomed/v1"));
    let seen = wait_until(Duration::from_secs(10), || {
        exists(&after) && !exists(&doomed)
    });
    let current_after = returned.elapsed();
    std::thread::sleep(Duration::from_millis(600));
    stop.store(true, Ordering::Relaxed);
    within(Duration::from_secs(60), "make loop ends", move || {
        maker.join().unwrap()
    });
    let runs = runs.lock().unwrap().clone();
    let slowest = runs.iter().map(|run| run.2).max().unwrap_or_default();
    eprintln!(
        "engine down for {down_for:?}; {} make runs ({runs_while_down} before the restart), \
         slowest {slowest:?}; current tree served {current_after:?} after the engine's return",
        runs.len()
    );
    assert!(
        seen.is_some(),
        "the current tree was not served within 10 s"
    );
    assert!(
        current_after < Duration::from_secs(5),
        "current tree after {current_after:?}"
    );
    for (ok, built, took, stderr) in &runs {
        assert!(ok, "a make run failed: {stderr}");
        assert!(
            built.is_empty(),
            "make rebuilt {built:?} though nothing changed"
        );
        assert!(*took < Duration::from_secs(10), "a make run took {took:?}");
    }
    assert!(runs_while_down >= 3, "make ran while the engine was down");
    assert!(
        read_time < Duration::from_secs(10),
        "read while down took {read_time:?}"
    );
    // The engine is back: inspect JSON is served again.
    let json = served_json(&mnt.join(format!("images/{stem}/app3/v1")));
    assert_eq!(json["Id"], format!("sha256:{base}"));
    let log = mount.log();
    let told = |what: &str| log.lines().filter(|line| line.contains(what)).count();
    eprintln!(
        "{reads_failed} reads failed while down; the host logged {} provider errors",
        told("provider error")
    );
    assert_eq!(told("last known tree"), 1, "one warning says so:\n{log}");
    assert_eq!(
        told("provider error"),
        0,
        "an unavailable source is the provider's to report, once, not the host's per read:\n{log}"
    );
    assert_eq!(
        told("Docker engine back after"),
        1,
        "one line says it is back:\n{log}"
    );
    // `… back after 4.1 s; 1,234 reads failed while it was away`: every failed read counted
    // (this test's own, and the reader's; make only stats).
    let counted: u64 = log
        .lines()
        .find(|line| line.contains("Docker engine back after"))
        .and_then(|line| line.split("; ").nth(1))
        .and_then(|part| part.split(' ').next())
        .map(|count| count.replace(',', ""))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no count of failed reads:\n{log}"));
    assert!(
        counted > reads_failed,
        "{counted} reads counted, {reads_failed} failed in the reader alone"
    );
    mount.assert_alive();
}

// ---- hostile names ------------------------------------------------------------------------

fn mtime(path: &Path) -> SystemTime {
    let metadata = std::fs::metadata(path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    SystemTime::UNIX_EPOCH + Duration::new(metadata.mtime() as u64, metadata.mtime_nsec() as u32)
}

fn network_created(id: &str) -> SystemTime {
    let rfc = docker(&["network", "inspect", "--format", "{{json .Created}}", id]);
    let rfc = rfc.trim_matches('"');
    vfs_docker::parse_rfc3339(rfc).unwrap_or_else(|| panic!("{rfc} is not a time"))
}

/// Issue 16: `docker network create .<id of network A>` used to take the path `networks/.<A>`
/// when the engine listed it first (the list is in id order): A's file went, and
/// `networks/A` led to the impostor's JSON and time. Names of the form `.` + 64 hex digits are
/// ids' in every folder: the impostor gets no name entry (one warning) and keeps its own
/// `.<id>` file. Local volumes, containers and image references cannot start with `.` (the
/// engine refuses them); the tree builder's unit tests cover those folders.
#[test]
fn a_network_named_like_another_networks_id_takes_nothing_from_it() {
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    // A is the highest of a few ids, and the impostor is made again until its id sorts below
    // A's: the order in which the old code lost A's file, so this test fails there every time.
    let mut candidates: Vec<(String, String)> = (0..4)
        .map(|index| {
            let name = unique(&format!("net{index}"));
            let id = docker(&["network", "create", &name]);
            cleanup.networks.push(id.clone());
            (id, name)
        })
        .collect();
    candidates.sort();
    let (a_id, a_name) = candidates.pop().unwrap();
    let impostor_name = format!(".{a_id}");
    let impostor_id = (0..40)
        .find_map(|_| {
            let id = docker(&["network", "create", &impostor_name]);
            if id < a_id {
                cleanup.networks.push(id.clone());
                Some(id)
            } else {
                docker(&["network", "rm", &id]);
                None
            }
        })
        .expect("an impostor id below A's within 40 tries");

    let mut mount = DockerMount::start(&[]);
    let mnt = mount.mnt();
    let a_file = mnt.join(format!("networks/.{a_id}"));
    let metadata = std::fs::symlink_metadata(&a_file).unwrap();
    assert!(metadata.is_file(), "networks/.<A id> is {metadata:?}");
    assert_eq!(served_json(&a_file)["Id"], a_id.as_str());
    assert_eq!(served_json(&a_file)["Name"], a_name.as_str());
    assert_eq!(mtime(&a_file), network_created(&a_id));
    let a_link = mnt.join(format!("networks/{a_name}"));
    assert_eq!(
        std::fs::read_link(&a_link).unwrap(),
        PathBuf::from(format!(".{a_id}"))
    );
    assert_eq!(served_json(&a_link)["Id"], a_id.as_str());
    assert_eq!(mtime(&a_link), network_created(&a_id));
    // The impostor: its own file, no name entry.
    let own = mnt.join(format!("networks/.{impostor_id}"));
    assert_eq!(served_json(&own)["Name"], impostor_name.as_str());
    let shown: Vec<String> = std::fs::read_dir(mnt.join("networks"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        shown.iter().filter(|name| **name == impostor_name).count(),
        1,
        "{shown:?}"
    );
    // A network event rebuilds the tree: the warning stays one.
    let later = unique("later");
    let later_id = docker(&["network", "create", &later]);
    cleanup.networks.push(later_id);
    let later_link = mnt.join(format!("networks/{later}"));
    assert!(wait_until(Duration::from_secs(5), || exists(&later_link)).is_some());
    assert!(std::fs::symlink_metadata(&a_file).unwrap().is_file());
    let log = mount.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(&impostor_name))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning names the impostor:\n{log}");
    assert!(
        warnings[0].contains("WARN") && warnings[0].contains(&format!("networks/.{impostor_id}")),
        "{}",
        warnings[0]
    );
    mount.assert_alive();
}

// ---- names at their limits ---------------------------------------------------------------

#[test]
fn docker_names_at_their_limits_are_served() {
    // The lock first: while another test restarts the engine, it is down but coming back.
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let stem = unique("names");
    let id = import_busybox(&mut cleanup, &format!("{stem}/base:v1"), "names");
    let long_tag: String = std::iter::once('T')
        .chain("abcdefghij_.-0123456789".chars().cycle().take(127))
        .collect();
    assert_eq!(long_tag.len(), 128);
    let deep: String = (1..=20).map(|level| format!("level{level}/")).collect();
    let deep_repo = format!("{stem}/{}leaf", deep);
    // A repository name at the engine's 255-character limit (with a registry and port).
    let registry = "localhost:5000";
    let mut longest = format!("{registry}/{stem}/");
    while longest.len() < 255 - 11 {
        longest.push_str("abcdefghi/");
    }
    longest.push_str(&"z".repeat(255 - longest.len()));
    assert_eq!(longest.len(), 255);
    let references = [
        (format!("{stem}/app"), long_tag.clone()),
        (format!("{registry}/{stem}/app"), "1.0".to_string()),
        (format!("127.0.0.1:65535/{stem}/x/y"), "port".to_string()),
        (deep_repo.clone(), "deep".to_string()),
        (longest.clone(), "max".to_string()),
    ];
    for (repo, tag_name) in &references {
        tag(&mut cleanup, &id, &format!("{repo}:{tag_name}"));
    }
    let container = format!("{stem}-{}", "c".repeat(200));
    let labels = [
        ("ünïcødé.key", "日本語 🚀 value"),
        ("emoji🚀", "Ωmega"),
        ("com.example.rtl", "مرحبا"),
    ];
    let mut create: Vec<String> = vec!["create".into(), "--name".into(), container.clone()];
    for (key, value) in labels {
        create.push("--label".into());
        create.push(format!("{key}={value}"));
    }
    create.push(format!("{stem}/base:v1"));
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    docker(&create);
    cleanup.containers.push(container.clone());

    let mut mount = DockerMount::start(&[]);
    let images = mount.mnt().join("images");
    for (repo, tag_name) in &references {
        for form in [format!("{repo}:{tag_name}"), format!("{repo}/{tag_name}")] {
            let path = images.join(&form);
            let found = wait_until(Duration::from_secs(5), || exists(&path));
            assert!(found.is_some(), "{form} is not in the mount");
            assert!(std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink());
            let json = served_json(&path);
            assert_eq!(json["Id"], format!("sha256:{id}"), "{form}");
            assert!(
                json["RepoTags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|tag| tag == &serde_json::json!(format!("{repo}:{tag_name}"))),
                "{form}"
            );
        }
    }
    let container_path = mount.mnt().join("containers").join(&container);
    let found = wait_until(Duration::from_secs(5), || exists(&container_path));
    assert!(found.is_some(), "the 200-character container name");
    let json = served_json(&container_path);
    for (key, value) in labels {
        assert_eq!(json["Config"]["Labels"][key], value, "label {key}");
    }
    mount.assert_alive();
}

// ---- privacy of the inspect JSON ----------------------------------------------------------

#[test]
fn inspect_json_is_owner_only_and_the_docker_mount_is_read_only() {
    // The lock first: while another test restarts the engine, it is down but coming back.
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let stem = unique("secret");
    let id = import_busybox(&mut cleanup, &format!("{stem}/base:v1"), "secret");
    let container = format!("{stem}-ctr");
    docker(&[
        "create",
        "--name",
        &container,
        "-e",
        "API_TOKEN=s3cr3t-value",
        &format!("{stem}/base:v1"),
    ]);
    cleanup.containers.push(container.clone());
    // --allow-other lets nobody in: the 0400 mode (with default_permissions) must still hold.
    let mut mount = DockerMount::start(&["--allow-other"]);
    let mnt = mount.mnt();
    let ctr_link = mnt.join("containers").join(&container);
    assert!(wait_until(Duration::from_secs(5), || exists(&ctr_link)).is_some());
    let ctr_file = std::fs::canonicalize(&ctr_link).unwrap();
    let image_file = mnt.join(format!("images/.{id}"));
    for file in [&ctr_file, &image_file] {
        let metadata = std::fs::metadata(file).unwrap();
        assert_eq!(metadata.mode() & 0o777, 0o400, "{}", file.display());
        assert_eq!(metadata.uid(), 0, "owned by the mounting user");
    }
    let secret = std::fs::read_to_string(&ctr_file).unwrap();
    assert!(secret.contains("s3cr3t-value"), "the owner reads it");
    let output = as_nobody("cat", &[ctr_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "another user read the inspect JSON"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("s3cr3t"));
    let listing = as_nobody("ls", &[mnt.join("containers").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "listing is allowed with --allow-other"
    );

    // Read-only: every write-type call answers EROFS and the engine is untouched.
    use std::fs::OpenOptions;
    let erofs = |what: &str, result: std::io::Result<()>| {
        let error = result.expect_err(what);
        assert_eq!(error.raw_os_error(), Some(libc::EROFS), "{what}: {error}");
    };
    erofs(
        "write",
        OpenOptions::new().write(true).open(&ctr_file).map(drop),
    );
    erofs("create", std::fs::write(mnt.join("images/new"), "x"));
    erofs("mkdir", std::fs::create_dir(mnt.join("volumes/new")));
    erofs("unlink", std::fs::remove_file(&ctr_link));
    erofs(
        "rename",
        std::fs::rename(&ctr_link, mnt.join("containers/renamed")),
    );
    erofs(
        "chmod",
        std::fs::set_permissions(&image_file, std::fs::Permissions::from_mode(0o644)),
    );
    erofs(
        "symlink",
        std::os::unix::fs::symlink(".x", mnt.join("images/link")),
    );
    assert_eq!(
        docker(&["container", "inspect", "--format", "{{.Name}}", &container]),
        format!("/{container}")
    );
    mount.assert_alive();
}

// ---- load ----------------------------------------------------------------------------------

#[test]
fn make_j16_over_1000_targets_for_20_rounds_while_images_churn() {
    // The lock first: while another test restarts the engine, it is down but coming back.
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let stem = unique("load");
    let stable = import_busybox(&mut cleanup, &format!("{stem}/stable0:v"), "stable");
    for index in 1..10 {
        tag(&mut cleanup, &stable, &format!("{stem}/stable{index}:v"));
    }
    let churn = import_busybox(&mut cleanup, &format!("{stem}/churnbase:v"), "churn");
    let mut mount = DockerMount::start(&[]);
    let pid = mount.mount.pid().unwrap();
    let work = mount.work.path().to_path_buf();
    let mut makefile = String::from("all:");
    for index in 0..1000 {
        makefile.push_str(&format!(" out/{index}"));
    }
    makefile.push_str("\n\nout/%:\n\t@echo $@ >> built.log\n\t@touch $@\n\n");
    for index in 0..1000 {
        makefile.push_str(&format!(
            "out/{index}: mnt/images/{stem}/stable{}/v\n",
            index % 10
        ));
    }
    std::fs::create_dir(work.join("out")).unwrap();
    std::fs::write(work.join("Makefile"), makefile).unwrap();
    let (ok, built, first, stderr) = make(&work, "-j16");
    assert!(ok, "{stderr}");
    assert_eq!(built.len(), 1000);
    std::thread::sleep(Duration::from_secs(1));
    let (fds_before, threads_before) = (fd_count(pid), thread_count(pid));

    // Another process tags and removes images; each change must show within 1 s.
    let stop = Arc::new(AtomicBool::new(false));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let churner = {
        let (stop, latencies, mnt, stem, churn) = (
            stop.clone(),
            latencies.clone(),
            mount.mnt(),
            stem.clone(),
            churn.clone(),
        );
        std::thread::spawn(move || {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let reference = format!("{stem}/churn:{round}");
                let path = mnt.join(format!("images/{stem}/churn/{round}"));
                docker(&["tag", &churn, &reference]);
                let appeared = wait_until(Duration::from_secs(5), || exists(&path));
                docker(&["rmi", &reference]);
                let vanished = wait_until(Duration::from_secs(5), || !exists(&path));
                let mut latencies = latencies.lock().unwrap();
                latencies.push(appeared.unwrap_or(Duration::MAX));
                latencies.push(vanished.unwrap_or(Duration::MAX));
                round += 1;
            }
        })
    };
    let started = Instant::now();
    let mut rounds = Vec::new();
    // 20 rounds at least, and long enough for the churn to make dozens of changes.
    while rounds.len() < 20 || started.elapsed() < Duration::from_secs(5) {
        rounds.push(make(&work, "-j16"));
    }
    let all_rounds = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    within(Duration::from_secs(30), "churn stops", move || {
        churner.join().unwrap()
    });
    for (round, (ok, built, _, stderr)) in rounds.iter().enumerate() {
        assert!(ok, "round {round}: {stderr}");
        assert!(
            built.is_empty(),
            "round {round} rebuilt {} targets",
            built.len()
        );
    }
    let latencies = latencies.lock().unwrap().clone();
    let worst = latencies.iter().max().copied().unwrap_or_default();
    // Idle tokio blocking threads retire after 10 s: wait for the pool to shrink back.
    let settled = wait_until(Duration::from_secs(15), || {
        fd_count(pid) <= fds_before && thread_count(pid) <= threads_before
    });
    let (fds_after, threads_after) = (fd_count(pid), thread_count(pid));
    let slowest_round = rounds.iter().map(|round| round.2).max().unwrap_or_default();
    eprintln!(
        "load: first build {first:?}; {} rounds of make -j16 over 1000 targets in {all_rounds:?} \
         (slowest {slowest_round:?}); {} tag/rmi changes, slowest seen after {worst:?}; \
         fds {fds_before} -> {fds_after}, threads {threads_before} -> {threads_after} \
         (settled: {settled:?})",
        rounds.len(),
        latencies.len()
    );
    assert!(
        latencies.len() >= 20,
        "the churn made only {} changes",
        latencies.len()
    );
    assert!(
        worst <= Duration::from_secs(1),
        "a change showed after {worst:?}"
    );
    assert!(fds_after <= fds_before, "fds {fds_before} -> {fds_after}");
    assert!(
        threads_after <= threads_before,
        "threads {threads_before} -> {threads_after}"
    );
    mount.assert_alive();
}
