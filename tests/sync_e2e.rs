//! `vfs sync` end to end: the same make scenarios as through the FUSE mount (GitConfigFS edit,
//! commit, checkout; DockerFS tag, build, rmi, compose), run side by side against a mount and a
//! synced folder of the same source, must give the same `make -q` answers; and a run where FUSE
//! is hidden (`unshare -m` with an empty file bound over /dev/fuse): `vfs sync --once` works,
//! `vfs mount` fails with one line pointing to `sync`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    docker_available, fuse_available, git, in_ci, init_repo, run, vfs_binary, EngineLock, VfsMount,
    COMPOSE,
};
use vfs_testkit::docker::docker;

/// A foreground `vfs sync` child; SIGTERM and wait on drop.
struct VfsSync {
    child: Child,
}

impl VfsSync {
    fn start(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> VfsSync {
        let mut command = Command::new(vfs_binary());
        command.arg("sync").args(args).stdin(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start vfs sync");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !dir.join(".vfs.sock").exists() {
            assert!(Instant::now() < deadline, "vfs sync did not start");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("vfs sync exited with {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        wait(dir);
        VfsSync { child }
    }
}

impl Drop for VfsSync {
    fn drop(&mut self) {
        // SAFETY: kill(2) on a child we spawned and have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// `vfs wait PATH` (a mount or a synced folder).
fn wait(path: &Path) {
    run(
        &vfs_binary().display().to_string(),
        &["wait", &path.display().to_string()],
        None,
    );
}

/// `make -q TARGET` in `dir` with `D=folder`: its exit status (0 up to date, 1 not, 2 error).
fn make_q(dir: &Path, folder: &Path, target: &str) -> Option<i32> {
    Command::new("make")
        .args(["-q", &format!("D={}", folder.display()), target])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("make")
        .code()
}

fn make(dir: &Path, folder: &Path) {
    let _ = Command::new("make")
        .args(["-s", "-k", &format!("D={}", folder.display())])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Two copies of a project whose Makefile names `$(D)`: one made against the mount, one
/// against the synced folder; each step compares `make -q` per target, then makes both.
struct SideBySide {
    through_mount: PathBuf,
    through_sync: PathBuf,
    mount: PathBuf,
    sync: PathBuf,
    targets: Vec<String>,
}

impl SideBySide {
    fn new(work: &Path, makefile: &str, mount: PathBuf, sync: PathBuf, targets: &[&str]) -> Self {
        let through_mount = work.join("through-mount");
        let through_sync = work.join("through-sync");
        for dir in [&through_mount, &through_sync] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("Makefile"), makefile).unwrap();
        }
        SideBySide {
            through_mount,
            through_sync,
            mount,
            sync,
            targets: targets.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// Settles both, compares every target's `make -q`, returns the answers, then makes both.
    fn step(&self, what: &str) -> Vec<Option<i32>> {
        wait(&self.mount);
        wait(&self.sync);
        let mut answers = Vec::new();
        for target in &self.targets {
            let mounted = make_q(&self.through_mount, &self.mount, target);
            let synced = make_q(&self.through_sync, &self.sync, target);
            assert_eq!(
                mounted, synced,
                "{what}: make -q {target}: mount {mounted:?}, sync {synced:?}"
            );
            answers.push(mounted);
        }
        make(&self.through_mount, &self.mount);
        make(&self.through_sync, &self.sync);
        // Target times move in clock ticks: the next change must be newer than them.
        std::thread::sleep(Duration::from_millis(20));
        answers
    }
}

#[test]
fn gitconfig_edit_commit_checkout_give_the_same_make_answers_synced_and_mounted() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    init_repo(&repo);
    let compose = repo.join("docker-compose.yml");
    std::fs::write(&compose, COMPOSE).unwrap();
    git(&repo, &["add", "-A"], None);
    git(&repo, &["commit", "-q", "-m", "first"], Some(1_600_000_000));
    git(&repo, &["checkout", "-q", "-b", "other"], None);
    std::fs::write(&compose, COMPOSE.replace("nginx", "httpd")).unwrap();
    git(
        &repo,
        &["commit", "-q", "-am", "httpd"],
        Some(1_600_000_100),
    );
    git(&repo, &["checkout", "-q", "main"], None);
    let mount = work.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let synced = work.path().join("synced");
    let repo_arg = repo.display().to_string();
    // Each host keeps its own memory of served sections, as two machines would.
    let state_mount = work.path().join("state-mount").display().to_string();
    let state_sync = work.path().join("state-sync").display().to_string();
    let _mount = VfsMount::start_with_env(
        &[
            "mount",
            "gitconfig",
            &repo_arg,
            &mount.display().to_string(),
        ],
        &mount,
        &[("VFS_STATE_DIR", &state_mount)],
    );
    let _sync = VfsSync::start(
        &[
            "--mkdir",
            "gitconfig",
            &repo_arg,
            &synced.display().to_string(),
        ],
        &synced,
        &[("VFS_STATE_DIR", &state_sync)],
    );
    let makefile = "all: out/web out/db\n\
         out/%: $(D)/docker-compose.yml/services/%\n\t@mkdir -p out && touch $@\n";
    let scene = SideBySide::new(work.path(), makefile, mount, synced, &["out/web", "out/db"]);
    assert_eq!(scene.step("first"), [Some(1), Some(1)]);
    assert_eq!(scene.step("built"), [Some(0), Some(0)]);
    std::fs::write(&compose, COMPOSE.replace("postgres:15", "postgres:16")).unwrap();
    assert_eq!(scene.step("edit db"), [Some(0), Some(1)]);
    std::thread::sleep(Duration::from_millis(1100));
    git(&repo, &["commit", "-q", "-am", "pg16"], None);
    assert_eq!(scene.step("commit db"), [Some(0), Some(0)]);
    git(&repo, &["checkout", "-q", "other"], None);
    let switched = scene.step("checkout other");
    assert_eq!(switched[0], Some(1), "web's text changed under the target");
    assert_eq!(scene.step("after the checkout"), [Some(0), Some(0)]);
}

/// The docker CLI, quietly; its output.
fn docker_ok(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn import_busybox(reference: &str) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.path().join("bin/busybox")).unwrap();
    for applet in ["sh", "sleep", "true"] {
        std::os::unix::fs::symlink("busybox", root.path().join("bin").join(applet)).unwrap();
    }
    let tar = root.path().join("rootfs.tar");
    run(
        "tar",
        &[
            "-C",
            &root.path().display().to_string(),
            "-cf",
            &tar.display().to_string(),
            "bin",
        ],
        None,
    );
    docker(&["import", &tar.display().to_string(), reference]);
}

#[test]
fn docker_tag_build_rmi_compose_give_the_same_make_answers_synced_and_mounted() {
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let compose_cli = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        compose_cli || !in_ci(),
        "CI=true but docker-compose is missing"
    );
    let name = format!("vfssync{}", std::process::id());
    let base = format!("{name}/base");
    let app = format!("{name}/app");
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let name = &self.0;
            let _ = Command::new("docker-compose")
                .args(["-p", name, "down", "-t", "0"])
                .current_dir(std::env::temp_dir().join(name))
                .output();
            for image in [
                format!("{name}/base:1"),
                format!("{name}/base:2"),
                format!("{name}/app:latest"),
            ] {
                let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
            }
            let _ = std::fs::remove_dir_all(std::env::temp_dir().join(name));
        }
    }
    let _cleanup = Cleanup(name.clone());
    import_busybox(&format!("{base}:1"));
    docker(&["tag", &format!("{base}:1"), &format!("{base}:2")]);
    let work = tempfile::tempdir().unwrap();
    let context = work.path().join("context");
    std::fs::create_dir(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM {base}:1\nCOPY src.txt /src.txt\n"),
    )
    .unwrap();
    std::fs::write(context.join("src.txt"), "one\n").unwrap();
    let build = || {
        let ok = Command::new("docker")
            .args(["build", "-q", "-t", &format!("{app}:latest"), "."])
            .current_dir(&context)
            .env("DOCKER_BUILDKIT", "0")
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "docker build");
    };
    build();
    let project_dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&project_dir).unwrap();
    std::fs::write(project_dir.join("docker-compose.yml"), format!("services:\n  web:\n    image: {base}:1\n    command: [\"sleep\", \"3600\"]\n    stop_signal: SIGKILL\n")).unwrap();
    let compose_up = || {
        let ok = Command::new("docker-compose")
            .args([
                "-p",
                &name,
                "up",
                "-d",
                "--force-recreate",
                "--no-deps",
                "web",
            ])
            .current_dir(&project_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "docker-compose up");
    };
    if compose_cli {
        compose_up();
    }
    let mount = work.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let synced = work.path().join(".dockerfs");
    let _mount = VfsMount::start(&["mount", "docker", &mount.display().to_string()], &mount);
    let _sync = VfsSync::start(&["docker", &synced.display().to_string()], &synced, &[]);
    let mut targets = vec!["out/base1", "out/base2", "out/app"];
    let mut makefile = format!(
        "out/base1: $(D)/images/{base}/1\n\t@mkdir -p out && touch $@\n\
         out/base2: $(D)/images/{base}/2\n\t@mkdir -p out && touch $@\n\
         out/app: $(D)/images/{app}/latest\n\t@mkdir -p out && touch $@\n"
    );
    if compose_cli {
        targets.push("out/web");
        makefile.push_str(&format!(
            "out/web: $(D)/compose/{name}/web\n\t@mkdir -p out && touch $@\n"
        ));
    }
    makefile = format!("all: {}\n{makefile}", targets.join(" "));
    let scene = SideBySide::new(work.path(), &makefile, mount, synced, &targets);
    let all_new = vec![Some(1); targets.len()];
    let all_done = vec![Some(0); targets.len()];
    assert_eq!(scene.step("first"), all_new);
    assert_eq!(scene.step("built"), all_done);
    // tag: base:2 now names the app image (a relinked symlink, a newer time).
    std::thread::sleep(Duration::from_millis(1100));
    docker(&["tag", &format!("{app}:latest"), &format!("{base}:2")]);
    assert_eq!(scene.step("tag")[1], Some(1));
    // build: a new app image.
    std::fs::write(context.join("src.txt"), "two\n").unwrap();
    build();
    assert_eq!(scene.step("build")[2], Some(1));
    assert_eq!(scene.step("after build"), all_done);
    // rmi: the tag a target depends on goes; both say make cannot (2).
    assert!(docker_ok(&["rmi", &format!("{base}:2")]));
    assert_eq!(scene.step("rmi")[1], Some(2));
    if compose_cli {
        std::thread::sleep(Duration::from_millis(1100));
        compose_up();
        assert_eq!(scene.step("compose")[3], Some(1));
    }
}

/// Runs `script` in a private mount namespace where /dev/fuse is an empty file.
fn without_fuse(script: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "empty=$(mktemp) && mount --bind \"$empty\" /dev/fuse && {script}"
        ))
        .output()
        .expect("unshare runs")
}

#[test]
fn without_fuse_sync_once_works_and_mount_points_to_sync() {
    let can_unshare = Path::new("/dev/fuse").exists()
        && Command::new("unshare")
            .args(["--mount", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !can_unshare {
        assert!(
            !in_ci(),
            "CI=true but cannot hide /dev/fuse in a mount namespace"
        );
        eprintln!("skipped: needs root and unshare to hide /dev/fuse");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(repo.join("c.yml"), "a:\n  b: 1\n").unwrap();
    let vfs = vfs_binary().display().to_string();
    let synced = work.path().join("synced");
    let mount = work.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let output = without_fuse(&format!(
        "{vfs} -q sync --once --mkdir gitconfig {0} {1} && test -f {1}/c.yml/a/b && \
         {vfs} -q wait {1} && exec {vfs} mount gitconfig {0} {2}",
        repo.display(),
        synced.display(),
        mount.display()
    ));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.contains("WARN"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("FUSE is not available"), "{stderr}");
    assert!(lines[0].contains("`sync` instead of `mount`"), "{stderr}");
    assert!(synced.join("c.yml/a/b").is_file());
    assert!(!common::is_mounted(&mount));
    if docker_available() {
        let _lock = EngineLock::shared();
        let dockerfs = work.path().join(".dockerfs");
        let output = without_fuse(&format!(
            "exec {vfs} -q sync --once docker {}",
            dockerfs.display()
        ));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(dockerfs.join("images").is_dir());
    }
}
