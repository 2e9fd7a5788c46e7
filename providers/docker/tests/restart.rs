//! An engine stopped and restarted under a live provider: the last tree is served while it is
//! gone, and the whole state is resynchronised when it is back. This stops the machine's
//! dockerd, so it holds the engine lock exclusively (every other engine test holds it shared).

mod support;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;
use vfs_core::{NodePath, Provider};

const PID_FILE: &str = "/var/run/docker.pid";

fn engine_answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn dockerd_pid() -> Option<i32> {
    std::fs::read_to_string(PID_FILE).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Starts dockerd again with the command line it had, detached from the test.
// dockerd must outlive the test: init reaps it, as it did the one that was stopped.
#[allow(clippy::zombie_processes)]
fn start_dockerd(command_line: &[String]) {
    let _ = std::fs::remove_file(PID_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open("/var/log/vfs-dockerd.log")
        .expect("open the dockerd log");
    let log_err = log.try_clone().expect("clone the log handle");
    Command::new(&command_line[0])
        .args(&command_line[1..])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .expect("start dockerd");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !engine_answers() {
        assert!(
            Instant::now() < deadline,
            "dockerd did not come back within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Brings dockerd back if the test fails while it is down.
struct RestartOnDrop(Vec<String>);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if !engine_answers() {
            start_dockerd(&self.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_restart_keeps_the_tree_and_resynchronises() {
    let _lock = EngineLock::exclusive();
    if !docker_available() {
        return;
    }
    let Some(pid) = dockerd_pid().filter(|pid| alive(*pid)) else {
        assert!(!in_ci(), "CI=true but no dockerd pid in {PID_FILE}");
        eprintln!("skipped: dockerd is not ours to restart (no live pid in {PID_FILE})");
        return;
    };
    let command_line: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .expect("dockerd command line")
        .split(|byte| *byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    assert!(!command_line.is_empty());

    let mut cleanup = Cleanup::default();
    let name = unique("rst");
    let base_ref = format!("{name}/base:1");
    let base_id = import_busybox(&mut cleanup, &base_ref);
    let started = start(default_source()).await;
    let provider = &started.provider;
    let before = tree(provider).await;
    assert!(before.contains_key(&format!("/images/{base_ref}")));
    started.notices.pending();

    let restart_guard = RestartOnDrop(command_line.clone());
    // SAFETY: kill(2) with a pid read from dockerd's pid file; no memory is touched.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let stopping = Instant::now();
    while alive(pid) {
        assert!(
            stopping.elapsed() < Duration::from_secs(60),
            "dockerd did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("dockerd stopped in {:?}", stopping.elapsed());

    // Gone: the last tree is still served, listing and all.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = tree(provider).await;
    assert_eq!(
        during.keys().collect::<std::collections::BTreeSet<_>>(),
        before.keys().collect::<std::collections::BTreeSet<_>>()
    );
    let images = provider.list(&NodePath::parse("images")).await.unwrap();
    assert!(images
        .iter()
        .any(|node| node.name == format!(".{base_id}").as_str()));
    let read = provider
        .read(&NodePath::parse(&format!("images/.{base_id}")))
        .await;
    assert!(
        matches!(read, Err(vfs_core::ProviderError::Unavailable(_))),
        "{read:?}"
    );

    let restarting = Instant::now();
    start_dockerd(&command_line);
    let answered = restarting.elapsed();
    drop(restart_guard);

    // Back: a full resynchronisation, announced as a change of everything.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let notices = started.notices.pending();
        if notices.iter().any(NodePath::is_root) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no resynchronisation notice: {notices:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "dockerd answered after {answered:?}; provider resynchronised {:?} after that",
        restarting.elapsed() - answered
    );
    let fresh = start(default_source()).await;
    let resynced = tree(provider).await;
    let expected = tree(&fresh.provider).await;
    assert_eq!(
        resynced.keys().collect::<std::collections::BTreeSet<_>>(),
        expected.keys().collect::<std::collections::BTreeSet<_>>()
    );
    assert_eq!(
        read_inspect(provider, &format!("images/.{base_id}")).await,
        docker(&["image", "inspect", &base_id]).into_bytes()
    );

    // And events flow again.
    let volume = format!("{name}-after");
    cleanup.volumes.push(volume.clone());
    docker(&["volume", "create", &volume]);
    wait_for(
        provider,
        Duration::from_secs(1),
        "volume after restart",
        |tree| tree.contains_key(&format!("/volumes/{volume}")),
    )
    .await;
}

async fn read_inspect(provider: &vfs_docker::DockerProvider, path: &str) -> Vec<u8> {
    match provider.read(&NodePath::parse(path)).await {
        Ok(vfs_core::Content::Bytes(bytes)) => bytes,
        other => panic!("{path}: {other:?}"),
    }
}
