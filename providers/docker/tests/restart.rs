//! An engine stopped and restarted under a live provider: the last tree is served while it is
//! gone, and the whole state is resynchronised when it is back. This stops the machine's
//! dockerd, so it holds the engine lock exclusively (every other engine test holds it shared).

mod support;

use std::time::{Duration, Instant};

use support::*;
use vfs_core::{NodePath, Notice, Provider, Reach};
use vfs_testkit::dockerd::{self, PID_FILE};

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_restart_keeps_the_tree_and_resynchronises() {
    let _lock = EngineLock::exclusive();
    if !docker_available() {
        return;
    }
    let Some(pid) = dockerd::live_pid() else {
        assert!(!in_ci(), "CI=true but no dockerd pid in {PID_FILE}");
        eprintln!("skipped: dockerd is not ours to restart (no live pid in {PID_FILE})");
        return;
    };
    let command_line = dockerd::command_line(pid);

    let mut cleanup = Cleanup::default();
    let name = unique("rst");
    let base_ref = format!("{name}/base:1");
    let base_id = import_busybox(&mut cleanup, &base_ref);
    let started = start(default_source()).await;
    let provider = &started.provider;
    let before = tree(provider).await;
    assert!(before.contains_key(&format!("/images/{base_ref}")));
    started.notices.pending();

    let restart_guard = dockerd::RestartOnDrop(command_line.clone());
    // SAFETY: kill(2) with a pid read from dockerd's pid file; no memory is touched.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let stopping = Instant::now();
    while dockerd::alive(pid) {
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
    dockerd::start(&command_line);
    let answered = restarting.elapsed();
    drop(restart_guard);

    // Back: a full resynchronisation, announced as a change of everything.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let notices = started.notices.pending();
        let everything = |notice: &Notice| notice.path.is_root() && notice.reach == Reach::Subtree;
        if notices.iter().any(everything) {
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
