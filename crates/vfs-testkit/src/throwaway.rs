//! Engines of a test's own: a throwaway `dockerd` (its own data-root, exec-root, pidfile,
//! socket and Linux bridge, no iptables) for tests that change an engine's state (swarm, TLS, an
//! engine killed), and `podman system service` on a socket of its own. The machine's engine,
//! which every other test uses, is never touched.
//!
//! Each runs in a session of its own (`setsid`, so a job runner's cleanup of the test's session
//! does not race the guard) and is stopped when its guard is dropped, even when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::command::stdout_of;
use crate::env::in_ci;

/// How long a throwaway engine may take to answer; they start in about half a second.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A running throwaway engine; stopped (and its files removed) when dropped.
pub struct Throwaway {
    /// Holds the data-root, exec-root, pidfile, socket and log.
    dir: tempfile::TempDir,
    pid: i32,
    socket: PathBuf,
    /// The CLI to drive it with (`docker` for dockerd, `podman` for Podman).
    cli: &'static str,
    what: &'static str,
    /// A dockerd's own bridge, deleted (after the engine stopped, with the lock still held)
    /// when the guard goes.
    _bridge: Option<OwnBridge>,
    /// The machine's engine alone while this one lives: starting and stopping another dockerd
    /// on the machine took the main engine's `docker0` bridge away when it was started with
    /// `--bridge=none` (see [`OwnBridge`]); the lock stays as the guard of whatever else two
    /// engines could share, so engine tests wait for it, and it for them.
    _alone: crate::engine::EngineLock,
}

/// Whether `program` can be run; panics in CI when it cannot (a missing piece fails the run),
/// prints a skip otherwise.
pub fn program_available(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            !in_ci(),
            "CI=true but {program} is missing (scripts/setup installs it)"
        );
        eprintln!("skipped: {program} is missing");
    }
    found
}

impl Throwaway {
    /// A `dockerd` of its own with `extra` arguments added (e.g. `--tlsverify …`, `-H tcp://…`).
    /// It always listens on its own Unix socket too, for the docker CLI of the test.
    pub fn dockerd(extra: &[&str]) -> Throwaway {
        let alone = crate::engine::EngineLock::exclusive();
        let dir = tempfile::Builder::new()
            .prefix("vfs-dockerd-")
            .tempdir()
            .expect("a folder for the throwaway dockerd");
        let root = dir.path();
        let socket = root.join("docker.sock");
        let bridge = OwnBridge::create();
        let mut args: Vec<String> = [
            "dockerd",
            "--data-root",
            &root.join("data").display().to_string(),
            "--exec-root",
            &root.join("exec").display().to_string(),
            "--pidfile",
            &root.join("dockerd.pid").display().to_string(),
            "-H",
            &format!("unix://{}", socket.display()),
            "--bridge",
            &bridge.name,
            "--iptables=false",
            "--ip-masq=false",
            // No overlay mounts to leave behind in a temporary folder.
            "--storage-driver=vfs",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|arg| arg.to_string()));
        let pid = spawn(&args, &root.join("dockerd.log"));
        let engine = Throwaway {
            dir,
            pid,
            socket,
            cli: "docker",
            what: "dockerd",
            _bridge: Some(bridge),
            _alone: alone,
        };
        engine.wait_until_it_answers();
        engine
    }

    /// `podman system service` on a socket of its own, with its own storage (root and runroot),
    /// so images made here are nobody else's.
    pub fn podman() -> Throwaway {
        let alone = crate::engine::EngineLock::exclusive();
        let dir = tempfile::Builder::new()
            .prefix("vfs-podman-")
            .tempdir()
            .expect("a folder for the podman service");
        let root = dir.path();
        let socket = root.join("podman.sock");
        let mut args = vec!["podman".to_string()];
        args.extend(podman_storage(root));
        args.extend(
            [
                "system",
                "service",
                "--time=0",
                &format!("unix://{}", socket.display()),
            ]
            .map(String::from),
        );
        let pid = spawn(&args, &root.join("podman.log"));
        let engine = Throwaway {
            dir,
            pid,
            socket,
            cli: "podman",
            what: "podman system service",
            _bridge: None,
            _alone: alone,
        };
        engine.wait_until_it_answers();
        engine
    }

    /// `unix://…` of its socket.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The folder its files are in (a test may put certificates or keys there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the engine's own CLI (`docker -H …` or `podman --root …`) against it; panics with
    /// its stderr on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_in(args, None)
    }

    /// [`Throwaway::cli`] in folder `dir`.
    pub fn cli_in(&self, args: &[&str], dir: Option<&Path>) -> String {
        let mut command = Command::new(self.cli);
        if self.cli == "docker" {
            command.args(["-H", &self.host()]);
        } else {
            command.args(podman_storage(self.dir.path()));
        }
        command.args(args);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        stdout_of(command, self.cli, args)
    }

    fn answers(&self) -> bool {
        let mut command = Command::new("docker");
        command
            .args([
                "-H",
                &self.host(),
                "version",
                "--format",
                "{{.Server.Version}}",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command.status().is_ok_and(|status| status.success())
    }

    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + START_LIMIT;
        while !self.answers() {
            if Instant::now() > deadline || !alive(self.pid) {
                let log = std::fs::read_to_string(self.log()).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "{} did not answer on {} within {START_LIMIT:?}; its log ends:\n{}",
                    self.what,
                    self.socket.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> PathBuf {
        let name = if self.cli == "docker" {
            "dockerd.log"
        } else {
            "podman.log"
        };
        self.dir.path().join(name)
    }

    /// Kills the engine's process group at once (an engine crash, not a shutdown).
    pub fn kill(&self) {
        // SAFETY: signals the process group this guard started in its own session.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
    }
}

/// A Linux bridge of a throwaway dockerd's own (`vfsbrN`, 10.213.N.1/24), made before the engine
/// starts and deleted when dropped. `--bridge=none` does not do: a dockerd started with it
/// deletes the machine's `docker0` (moby's `removeDefaultBridgeInterface`), and every test that
/// ran a container on the main engine after it failed with "could not find bridge docker0".
/// Made while the engine lock is held exclusively, so two throwaways never pick the same N.
struct OwnBridge {
    name: String,
}

impl OwnBridge {
    fn create() -> OwnBridge {
        for number in 0..=255 {
            let name = format!("vfsbr{number}");
            let subnet = format!("10.213.{number}.0/24");
            let taken = Path::new("/sys/class/net").join(&name).exists()
                || !ip(&["-4", "-o", "address", "show", "to", &subnet])
                    .trim()
                    .is_empty();
            if taken {
                continue;
            }
            ip(&["link", "add", "name", &name, "type", "bridge"]);
            let bridge = OwnBridge { name };
            let address = format!("10.213.{number}.1/24");
            ip(&["address", "add", &address, "dev", &bridge.name]);
            ip(&["link", "set", &bridge.name, "up"]);
            return bridge;
        }
        panic!("no free vfsbrN bridge for a throwaway dockerd (ip -br link show type bridge)");
    }
}

impl Drop for OwnBridge {
    fn drop(&mut self) {
        let deleted = Command::new("ip")
            .args(["link", "delete", &self.name])
            .stderr(Stdio::null())
            .status();
        if !deleted.is_ok_and(|status| status.success()) {
            eprintln!(
                "could not delete the throwaway dockerd's bridge {}",
                self.name
            );
        }
    }
}

fn ip(args: &[&str]) -> String {
    let mut command = Command::new("ip");
    command.args(args);
    stdout_of(command, "ip", args)
}

/// Podman's storage flags for a service whose images live under `root` alone, its state and
/// event log too (`--tmpdir`; by default `/run/libpod`, shared by every Podman of the machine).
fn podman_storage(root: &Path) -> Vec<String> {
    vec![
        "--root".to_string(),
        root.join("storage").display().to_string(),
        "--runroot".to_string(),
        root.join("run").display().to_string(),
        "--tmpdir".to_string(),
        root.join("tmp").display().to_string(),
        "--storage-driver=vfs".to_string(),
        "--events-backend=file".to_string(),
        "--cgroup-manager=cgroupfs".to_string(),
    ]
}

// The guard reaps it (waitpid in Drop); the `Child` is not kept.
#[allow(clippy::zombie_processes)]
/// Starts `args` in a session of its own with its output in `log`; returns its pid (also its
/// process group's id).
fn spawn(args: &[String], log: &Path) -> i32 {
    let out = std::fs::File::create(log).expect("create the engine log");
    let err = out.try_clone().expect("clone the log handle");
    let child = Command::new("setsid")
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|error| panic!("start {}: {error}", args[0]));
    i32::try_from(child.id()).expect("a pid")
}

fn alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped) does not count.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.split_whitespace()
            .nth(2)
            .is_none_or(|state| state != "Z")
    })
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        // SIGTERM to the whole session's group (dockerd and the containerd it started), then
        // SIGKILL for what is left after 10 s.
        unsafe {
            libc::kill(-self.pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(self.pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
        // Reap it (it is our child through setsid's exec).
        let mut status = 0;
        unsafe {
            libc::waitpid(self.pid, &mut status, libc::WNOHANG);
        }
        // Mounts a daemon left under its folder (netns, shm) would keep the folder busy: the
        // deepest first.
        let mut left: Vec<PathBuf> = vfs_mounts::entries()
            .unwrap_or_default()
            .into_iter()
            .map(|entry| entry.mount_point)
            .filter(|point| point.starts_with(self.dir.path()))
            .collect();
        left.sort_by(|a, b| b.cmp(a));
        for point in left {
            let _ = Command::new("umount").arg("-l").arg(point).status();
        }
    }
}

/// A busybox-static root filesystem as a tar file in `dir` (images without a registry:
/// `docker import` / `podman import` of it).
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("rootfs folder");
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox");
    for applet in ["sh", "sleep", "cat", "echo", "true", "ls"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet link");
    }
    let tar = dir.join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg("bin")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar of the busybox rootfs failed");
    tar
}

impl Throwaway {
    /// Imports a busybox rootfs as `reference`; returns the image id (64 hex digits).
    pub fn import_busybox(&self, reference: &str) -> String {
        let tar = busybox_rootfs(self.dir.path());
        let id = self.cli(&[
            "import",
            "--change",
            r#"CMD ["sh"]"#,
            tar.to_str().expect("a UTF-8 path"),
            reference,
        ]);
        let id = id.trim();
        id.strip_prefix("sha256:").unwrap_or(id).to_string()
    }
}
