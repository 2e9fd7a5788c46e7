//! The normal Docker user: an unprivileged account in the `docker` group, with `/dev/fuse`
//! open to everyone (as Debian sets it, see scripts/setup) and fusermount3 setuid. Mount in
//! the background, read, run make, unmount, clear a stale mount after `kill -9`, and
//! `--allow-other` refused with the fix named unless /etc/fuse.conf has `user_allow_other`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{
    docker_available, fuse_available, in_ci, is_mounted, vfs_binary, EngineLock, VfsMount,
};
use vfs_testkit::mounts::UnmountGuard;

const USER: &str = "vfs-e2e";
const FUSE_CONF: &str = "/etc/fuse.conf";

/// Creates the user (in the docker group) when missing; its home folder.
fn user_home() -> PathBuf {
    let exists = Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|out| out.status.success());
    if !exists {
        let output = Command::new("useradd")
            .args([
                "--create-home",
                "--groups",
                "docker",
                "--shell",
                "/bin/sh",
                USER,
            ])
            .output()
            .expect("useradd");
        assert!(
            output.status.success(),
            "useradd: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    PathBuf::from(format!("/home/{USER}"))
}

/// `program args…` as the user, with its groups (docker), its HOME and `dir` as working folder.
fn as_user(dir: &Path, program: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            &format!("--reuid={USER}"),
            &format!("--regid={USER}"),
            "--init-groups",
            "--",
        ])
        .arg(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", format!("/home/{USER}"))
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(Stdio::null());
    command
}

fn run(mut command: Command) -> Output {
    command.output().expect("run as the user")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// /etc/fuse.conf as it was, put back on drop.
struct FuseConf(Option<String>);

impl FuseConf {
    fn keep() -> FuseConf {
        FuseConf(std::fs::read_to_string(FUSE_CONF).ok())
    }
    fn write(&self, allow: bool) {
        let base = self.0.clone().unwrap_or_default();
        let kept: Vec<&str> = base
            .lines()
            .filter(|line| line.trim() != "user_allow_other")
            .collect();
        let mut text = kept.join("\n");
        text.push('\n');
        if allow {
            text.push_str("user_allow_other\n");
        }
        std::fs::write(FUSE_CONF, text).unwrap();
    }
}

impl Drop for FuseConf {
    fn drop(&mut self) {
        match &self.0 {
            Some(text) => {
                let _ = std::fs::write(FUSE_CONF, text);
            }
            None => {
                let _ = std::fs::remove_file(FUSE_CONF);
            }
        }
    }
}

#[test]
fn a_docker_group_user_mounts_reads_makes_and_unmounts() {
    let tools = ["setpriv", "useradd", "make"].iter().all(|tool| {
        Command::new("which")
            .arg(tool)
            .output()
            .is_ok_and(|out| out.status.success())
    });
    if in_ci() {
        assert!(tools, "setpriv, useradd or make is missing");
    }
    if !tools || !fuse_available() || !docker_available() {
        return;
    }
    let _engine = EngineLock::shared();
    let home = user_home();
    let work = home.join(format!("work-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir(&work).unwrap();
    let status = Command::new("chown")
        .args([&format!("{USER}:{USER}")])
        .arg(&work)
        .status()
        .unwrap();
    assert!(status.success());
    let mnt = work.join(".dockerfs");
    let _guard = UnmountGuard(mnt.clone());
    // A copy the user can run: the build folder may be below a folder closed to others
    // (a clone in /root).
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let vfs = bin.path().join("vfs");
    std::fs::copy(vfs_binary(), &vfs).unwrap();

    // Mount in the background at the default mountpoint; the message names the log file.
    let output = run(as_user(&work, &vfs, &["mount", "-d", "docker"]));
    assert!(
        output.status.success(),
        "mount -d as {USER}: {}",
        text(&output)
    );
    assert!(
        text(&output).contains(&format!("/home/{USER}/.local/state/vfs/log/")),
        "{}",
        text(&output)
    );
    assert!(is_mounted(&mnt));

    // Read, and make.
    let output = run(as_user(
        &work,
        Path::new("/bin/cat"),
        &[".dockerfs/networks/bridge"],
    ));
    assert!(output.status.success(), "cat as {USER}: {}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"Name\""));
    std::fs::write(
        work.join("Makefile"),
        "out: .dockerfs/networks/bridge | .dockerfs/.vfs\n\ttouch out\n",
    )
    .unwrap();
    let output = run(as_user(&work, Path::new("/usr/bin/make"), &[]));
    assert!(output.status.success(), "make as {USER}: {}", text(&output));
    let output = run(as_user(&work, Path::new("/usr/bin/make"), &["-q"]));
    assert!(
        output.status.success(),
        "make -q after make: {}",
        text(&output)
    );

    // Unmount.
    let output = run(as_user(&work, &vfs, &["unmount", ".dockerfs"]));
    assert!(
        output.status.success(),
        "unmount as {USER}: {}",
        text(&output)
    );
    assert!(!is_mounted(&mnt));

    // A stale mount after kill -9, cleared by the user (fusermount3 underneath).
    let mut mount = VfsMount::start_command(as_user(&work, &vfs, &["mount", "docker"]), &mnt);
    mount.signal(libc::SIGKILL);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while mount.exited().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(is_mounted(&mnt), "the killed mount is left stale");
    let output = run(as_user(&work, &vfs, &["unmount", ".dockerfs"]));
    assert!(
        output.status.success(),
        "stale unmount as {USER}: {}",
        text(&output)
    );
    assert!(!is_mounted(&mnt));
    drop(mount);

    // --allow-other: refused with the fix named, then allowed once fuse.conf says so.
    let conf = FuseConf::keep();
    conf.write(false);
    let output = run(as_user(
        &work,
        &vfs,
        &["mount", "-d", "docker", "--allow-other"],
    ));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("user_allow_other"),
        "{}",
        text(&output)
    );
    assert!(!is_mounted(&mnt));
    conf.write(true);
    let output = run(as_user(
        &work,
        &vfs,
        &["mount", "-d", "docker", "-o", "allow_other"],
    ));
    assert!(
        output.status.success(),
        "allow_other with user_allow_other: {}",
        text(&output)
    );
    assert!(is_mounted(&mnt));
    let output = run(as_user(&work, &vfs, &["unmount", ".dockerfs"]));
    assert!(output.status.success(), "{}", text(&output));
    drop(conf);
    let _ = std::fs::remove_dir_all(&work);
}
