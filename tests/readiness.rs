//! systemd's readiness protocol (`Type=notify`), with a notify socket of the test's own, as
//! systemd would hand one over in NOTIFY_SOCKET: READY=1 once the mount answers, STOPPING=1
//! when it is taken down.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::{fuse_available, is_mounted, VfsMount};

fn receive(socket: &UnixDatagram) -> String {
    let mut buffer = [0u8; 4096];
    let length = socket
        .recv(&mut buffer)
        .expect("a notification within the time");
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}

#[test]
fn ready_once_mounted_and_stopping_on_unmount() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (src, mnt) = (work.path().join("src"), work.path().join("mnt"));
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(src.join("a.yml"), "a: 1\n").unwrap();
    let socket_path = work.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let state = work.path().join("state").display().to_string();
    let mut mount = VfsMount::start_with_env(
        &[
            "mount",
            "gitconfig",
            &src.display().to_string(),
            &mnt.display().to_string(),
        ],
        &mnt,
        &[
            ("NOTIFY_SOCKET", &socket_path.display().to_string()),
            ("VFS_STATE_DIR", &state),
        ],
    );
    let ready = receive(&socket);
    assert!(ready.lines().any(|line| line == "READY=1"), "{ready:?}");
    assert!(is_mounted(&mnt));
    assert!(
        mnt.join("a.yml/a").exists(),
        "the mount answers once READY=1 is sent"
    );
    mount.stop_with(libc::SIGTERM);
    let stopping = receive(&socket);
    assert!(
        stopping.lines().any(|line| line == "STOPPING=1"),
        "{stopping:?}"
    );
    assert!(!is_mounted(&mnt));
}

/// The example unit's own ExecStart (binary and `%f` put in) mounts and says READY=1.
#[test]
fn the_example_units_command_line_mounts_and_notifies() {
    if !fuse_available() || !common::docker_available() {
        return;
    }
    let _engine = common::EngineLock::shared();
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib/systemd/vfs-docker@.service"),
    )
    .unwrap();
    assert!(unit.lines().any(|line| line == "Type=notify"));
    let exec = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let work = tempfile::tempdir().unwrap();
    let mnt = work.path().join("mnt/docker");
    let binary = common::vfs_binary().display().to_string();
    let mnt_text = mnt.display().to_string();
    let words: Vec<String> = exec
        .split_whitespace()
        .map(|word| match word {
            "/usr/local/bin/vfs" => binary.clone(),
            "%f" => mnt_text.clone(),
            other => other.to_owned(),
        })
        .collect();
    assert_eq!(words[0], binary, "{exec}");
    let socket_path = work.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    let _mount = VfsMount::start_with_env(
        &args,
        &mnt,
        &[("NOTIFY_SOCKET", &socket_path.display().to_string())],
    );
    let ready = receive(&socket);
    assert!(ready.lines().any(|line| line == "READY=1"), "{ready:?}");
    assert!(mnt.join("networks").is_dir());
}
