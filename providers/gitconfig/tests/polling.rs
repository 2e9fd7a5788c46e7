//! The polling watcher (`WatchMode::Polling`, the fallback where inotify is missing: macOS, the
//! BSDs), forced on Linux: edits and commits still reach the notices, and the provider says its
//! notices are partial.

mod support;

use std::time::{Duration, Instant};

use support::*;
use vfs_core::{ChangeNotices, ChangeNotifier, ChangeReceiver, NodePath, Notice, Provider};
use vfs_gitconfig::{GitConfigProvider, WatchMode};

const T1: i64 = 1_600_000_000;
const T2: i64 = 1_600_100_000;

/// The notices that arrive within `limit`, until none came for a second after the first.
fn notices_within(receiver: &ChangeReceiver, limit: Duration) -> Vec<Notice> {
    let mut notices = Vec::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match receiver.recv_timeout(Duration::from_millis(1000)) {
            Ok(Some(notice)) => notices.push(notice),
            _ if !notices.is_empty() => break,
            _ => {}
        }
    }
    notices
}

#[tokio::test]
async fn polling_announces_edits_and_commits_and_is_partial() {
    let repo = Repo::new();
    repo.commit_file(
        "docker-compose.yml",
        "services:\n  web:\n    image: a\n",
        T1,
    );
    repo.commit_file("sub/other.yml", "a: 1\n", T1);
    let (notifier, receiver) = ChangeNotifier::channel();
    let provider = GitConfigProvider::new(repo.path()).with_watch_mode(WatchMode::Polling);
    provider.start(notifier).await.expect("start");
    assert_eq!(provider.change_notices(), ChangeNotices::Partial);
    let _ = tree(&provider).await;
    assert_eq!(node(&provider, "sub/other.yml/a").await.mtime, at(T1));
    // Nothing changed: the poller stays quiet.
    assert_eq!(
        receiver.recv_timeout(Duration::from_millis(1500)),
        Ok(None),
        "a notice without a change"
    );

    repo.write("sub/other.yml", "a: 2\n");
    let edited = NodePath::parse("sub/other.yml");
    let notices = notices_within(&receiver, Duration::from_secs(10));
    assert!(
        notices.iter().any(|notice| notice.covers(&edited)),
        "no notice covers the edited file: {notices:?}"
    );

    repo.commit_all(T2);
    let compose = NodePath::parse("docker-compose.yml");
    let notices = notices_within(&receiver, Duration::from_secs(10));
    assert!(
        notices.iter().any(|notice| notice.covers(&compose)),
        "no notice covers docker-compose.yml after a commit: {notices:?}"
    );
    assert!(
        notices.iter().any(|notice| notice.covers(&edited)),
        "no notice covers the committed file: {notices:?}"
    );
    provider.stop().await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_default_is_file_events_on_linux() {
    let repo = Repo::new();
    repo.commit_file("a.yml", "a: 1\n", T1);
    let provider = start(GitConfigProvider::new(repo.path())).await;
    let expected = if std::env::var_os(vfs_gitconfig::WATCH_ENV).is_some_and(|v| v == "poll") {
        ChangeNotices::Partial
    } else {
        ChangeNotices::Complete
    };
    assert_eq!(provider.change_notices(), expected);
    provider.stop().await;
}
