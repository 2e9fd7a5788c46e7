//! DockerFS over SSH, as the docker CLI reaches an `ssh://` engine: the `vfs` binary runs the
//! `ssh` it finds in `PATH` with `docker system dial-stdio`, one process per connection. The
//! server is Debian's sshd of the test's own on a loopback port (vfs_testkit::sshd); the remote
//! docker is the machine's, so the engine is the one every other engine test uses (shared lock,
//! objects of unique names, removed at the end).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{
    docker_available, fuse_available, import_busybox, unique, within, Cleanup, EngineLock, VfsMount,
};
use vfs_testkit::docker::docker;
use vfs_testkit::sshd::{Sshd, HOST_ALIAS};
use vfs_testkit::throwaway::program_available;

/// Waits until `path` exists under the mount (a stat through the kernel, bounded), or panics.
fn wait_for_path(path: &Path, limit: Duration) -> Duration {
    let path = path.to_path_buf();
    within(
        limit + Duration::from_secs(10),
        "wait for a path",
        move || {
            let started = Instant::now();
            while std::fs::symlink_metadata(&path).is_err() {
                assert!(
                    started.elapsed() < limit,
                    "{} not within {limit:?}",
                    path.display()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            started.elapsed()
        },
    )
}

fn exists(path: PathBuf) -> bool {
    within(Duration::from_secs(10), "stat in the mount", move || {
        std::fs::symlink_metadata(&path).is_ok()
    })
}

fn ready() -> bool {
    fuse_available()
        && docker_available()
        && program_available("sshd")
        && program_available("ssh")
        && program_available("ssh-keygen")
}

/// Mounts `source` through the test's ssh, checks the image is there and that a tag made on
/// the engine shows within a second.
fn mount_and_tag(sshd: &Sshd, source: &str, repo: &str, new_tag: &str, mnt: &Path) -> VfsMount {
    let mnt_text = mnt.display().to_string();
    let path = sshd.path_env();
    let mount = VfsMount::start_with_env(
        &["mount", "docker", source, &mnt_text],
        mnt,
        &[("PATH", &path)],
    );
    assert!(exists(mnt.join(format!("images/{repo}/1"))), "{source}");
    docker(&["tag", &format!("{repo}:1"), &format!("{repo}:{new_tag}")]);
    let took = wait_for_path(
        &mnt.join(format!("images/{repo}/{new_tag}")),
        Duration::from_secs(1),
    );
    eprintln!("{source}: the tag {new_tag} showed after {took:?}");
    mount
}

#[test]
fn an_ssh_engine_mounts_follows_events_and_resyncs_after_the_connection_drops() {
    if !ready() {
        return;
    }
    let _engine = EngineLock::shared();
    let mut sshd = Sshd::start();
    // The remote side: the docker CLI on the server reaches the machine's engine.
    let version = sshd.run("docker version --format '{{.Server.Version}}'");
    assert!(!version.trim().is_empty());

    let mut cleanup = Cleanup::default();
    let repo = unique("vfsssh", "base");
    import_busybox(&mut cleanup, &format!("{repo}:1"), &["sh"], &[]);
    for tag in ["byaddress", "byalias", "dropped", "stopped"] {
        cleanup.images.push(format!("{repo}:{tag}"));
    }
    let scratch = tempfile::tempdir().unwrap();

    // `ssh://user@host:port`: the user and port from the address, the key from ssh's config.
    let mnt = scratch.path().join("address");
    std::fs::create_dir(&mnt).unwrap();
    let address = format!("ssh://root@127.0.0.1:{}", sshd.port());
    drop(mount_and_tag(&sshd, &address, &repo, "byaddress", &mnt));

    // A host alias of ssh's config (`Host … HostName … Port … User …`), as users name hosts.
    let mnt = scratch.path().join("alias");
    std::fs::create_dir(&mnt).unwrap();
    let alias = format!("ssh://{HOST_ALIAS}");
    let mount = mount_and_tag(&sshd, &alias, &repo, "byalias", &mnt);

    // Every connection dropped at once (the event stream's and the pooled ones): the mount
    // reconnects with new ssh processes and picks up a tag made meanwhile.
    let before = sshd.connections();
    assert!(!before.is_empty(), "no ssh connection to drop");
    assert_eq!(sshd.drop_connections(), before.len());
    docker(&["tag", &format!("{repo}:1"), &format!("{repo}:dropped")]);
    let took = wait_for_path(
        &mnt.join(format!("images/{repo}/dropped")),
        Duration::from_secs(10),
    );
    eprintln!("connections dropped: the tag made meanwhile showed after {took:?}");
    let after = sshd.connections();
    assert!(
        !after.is_empty() && after.iter().all(|pid| !before.contains(pid)),
        "not reconnected: connections before {before:?}, after {after:?}"
    );

    // The server gone for a while (connections refused): the last tree is still served, and a
    // tag made while nothing could reach the engine shows once the server is back.
    sshd.stop();
    docker(&["tag", &format!("{repo}:1"), &format!("{repo}:stopped")]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(exists(mnt.join(format!("images/{repo}/1"))));
    assert!(!exists(mnt.join(format!("images/{repo}/stopped"))));
    sshd.resume();
    let took = wait_for_path(
        &mnt.join(format!("images/{repo}/stopped")),
        Duration::from_secs(10),
    );
    eprintln!("server back: the tag made while it was away showed after {took:?}");
    drop(mount);
}

/// An ssh that cannot log in (no such user on the server): `vfs mount` fails with one line
/// saying what ssh said, not a hang or an HTTP error.
#[test]
fn an_ssh_login_failure_is_one_line_with_what_ssh_said() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let scratch = tempfile::tempdir().unwrap();
    let mnt = scratch.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let address = format!("ssh://nobody-here@127.0.0.1:{}", sshd.port());
    let path = sshd.path_env();
    let output = within(Duration::from_secs(60), "a refused mount", move || {
        std::process::Command::new(common::vfs_binary())
            .args(["mount", "docker", &address])
            .arg(&mnt)
            .env("PATH", path)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run vfs")
    });
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("error"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("Permission denied"), "{stderr}");
}
