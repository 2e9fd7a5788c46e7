//! `Provider::settle` against the real engine: once it returns, the tree holds every change a
//! docker command made before it was called, at rest and under a churn of engine events.

mod support;

use std::time::{Duration, Instant};

use support::*;
use vfs_core::{NodePath, Provider};
use vfs_testkit::churn::Churn;

/// Whether `name` is listed in folder `dir` of the provider's tree right now.
async fn listed(provider: &vfs_docker::DockerProvider, dir: &str, name: &str) -> bool {
    provider
        .list(&NodePath::parse(dir))
        .await
        .is_ok_and(|nodes| nodes.iter().any(|node| node.name == name))
}

/// The container file `containers/<name>` points at (its `.<id>`), if listed.
async fn container_link(provider: &vfs_docker::DockerProvider, name: &str) -> Option<String> {
    let nodes = provider.list(&NodePath::parse("containers")).await.ok()?;
    let node = nodes.into_iter().find(|node| node.name == name)?;
    Some(link_target(&node))
}

/// Runs `tries` rounds of: a docker command, then `settle`, then the tree must show the
/// command's result. Returns how many rounds the tree did not show it yet right after the
/// command (before `settle`): what a reader without the barrier would have missed.
async fn rounds(provider: &vfs_docker::DockerProvider, image: &str, stem: &str, tries: u32) -> u32 {
    let mut missed = 0;
    let repo = format!("{stem}-tags");
    let container = format!("{stem}-box");
    for round in 0..tries {
        let tag = format!("t{round}");
        // A new tag.
        docker(&["tag", image, &format!("{repo}:{tag}")]);
        missed += u32::from(!listed(provider, &format!("images/{repo}"), &tag).await);
        provider.settle().await.expect("settle");
        assert!(
            listed(provider, &format!("images/{repo}"), &tag).await,
            "round {round}: tag {repo}:{tag} not in the tree after settle"
        );
        // The tag removed again.
        docker(&["rmi", &format!("{repo}:{tag}")]);
        missed += u32::from(listed(provider, &format!("images/{repo}"), &tag).await);
        provider.settle().await.expect("settle");
        assert!(
            !listed(provider, &format!("images/{repo}"), &tag).await,
            "round {round}: tag {repo}:{tag} still in the tree after settle"
        );
        // A container removed and created again under the same name: a new id.
        docker(&["rm", "-f", &container]);
        let id = short_hex(&docker(&["create", "--name", &container, image]));
        let shown = container_link(provider, &container).await;
        missed += u32::from(shown.as_deref() != Some(&format!(".{id}")));
        provider.settle().await.expect("settle");
        assert_eq!(
            container_link(provider, &container).await.as_deref(),
            Some(format!(".{id}").as_str()),
            "round {round}: container {container} not re-created in the tree after settle"
        );
    }
    missed
}

#[tokio::test(flavor = "multi_thread")]
async fn after_settle_the_tree_shows_every_change_made_before_it_at_rest_and_under_churn() {
    if !docker_available() {
        return;
    }
    let _engine = EngineLock::shared();
    let mut cleanup = Cleanup::default();
    let stem = unique("settle");
    let image = import_busybox(&mut cleanup, &format!("{stem}:base"));
    cleanup.containers.push(format!("{stem}-box"));
    for round in 0..25 {
        cleanup.images.push(format!("{stem}-tags:t{round}"));
    }
    let started = start(default_source()).await;
    let provider = &started.provider;
    support::settle(provider, Duration::from_millis(300)).await;

    let at_rest = rounds(provider, &image, &stem, 20).await;

    let churn = Churn::start(
        &image,
        &format!("{stem}-churn"),
        150,
        Duration::from_secs(120),
    );
    std::thread::sleep(Duration::from_millis(300));
    let busy = Instant::now();
    let under_churn = rounds(provider, &image, &format!("{stem}-c"), 20).await;
    let rate = churn.rate();
    drop(churn);
    cleanup.containers.push(format!("{stem}-c-box"));
    eprintln!(
        "without settle, missed {at_rest}/60 at rest and {under_churn}/60 under churn \
         ({rate:.0} events/s for {:.1} s)",
        busy.elapsed().as_secs_f64()
    );
    assert!(rate >= 100.0, "the churn reached only {rate:.0} events/s");

    // Nothing changed since: settle returns at once (one clock request and one past-events
    // request).
    let quiet = Instant::now();
    provider.settle().await.expect("settle");
    assert!(
        quiet.elapsed() < Duration::from_secs(2),
        "{:?}",
        quiet.elapsed()
    );
}
