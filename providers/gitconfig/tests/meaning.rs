//! A section's time moves when, and only when, its meaning moves (issue 10): walked through the
//! cases of the issue with a store that outlives each "mount" (a new provider per step), against
//! a real repository with fixed commit dates.

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use support::*;
use vfs_core::{ChangeNotifier, Provider};
use vfs_gitconfig::GitConfigProvider;

const T1: i64 = 1_600_000_000;
const T2: i64 = 1_600_100_000;
const T3: i64 = 1_600_200_000;

const COMPOSE: &str = "\
x-defaults: &defaults
  restart: always

services:
  web:
    <<: *defaults
    image: nginx
    ports:
      - \"80:80\"
  db:
    image: postgres:15
";

const WEB: &str = "docker-compose.yml/services/web";
const DB: &str = "docker-compose.yml/services/db";

/// A mount of `repo` that remembers what it served in `state`.
async fn mount(repo: &Repo, state: &Path) -> GitConfigProvider {
    start(GitConfigProvider::new(repo.path()).with_state_dir(state)).await
}

/// The times of web and db as a fresh mount serves them (a remount between every step).
async fn times(repo: &Repo, state: &Path) -> (SystemTime, SystemTime) {
    let provider = mount(repo, state).await;
    let web = node(&provider, WEB).await.mtime;
    let db = node(&provider, DB).await.mtime;
    provider.stop().await;
    (web, db)
}

/// Edits the compose file in place, a file-system tick after the last write.
fn edit(repo: &Repo, from: &str, to: &str) {
    std::thread::sleep(Duration::from_millis(20));
    let path = repo.path().join("docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen(from, to, 1);
    assert_ne!(text, edited, "{from:?} not found");
    std::fs::write(&path, edited).unwrap();
}

/// A step of the walk-through: what it is, and what it does to the repository.
type Step = &'static dyn Fn(&Repo);

/// "Builds" a target as make would see it: a file written now, whose time is its mtime (file
/// times move in clock ticks, so the next change waits a tick past it).
fn build() -> SystemTime {
    std::thread::sleep(Duration::from_millis(20));
    let target = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(target.path(), "built").unwrap();
    let built = mtime_of(target.path());
    std::thread::sleep(Duration::from_millis(20));
    built
}

#[tokio::test]
async fn times_move_when_and_only_when_meaning_moves() {
    let repo = Repo::new();
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    repo.commit_file("docker-compose.yml", COMPOSE, T1);
    let (web0, db0) = times(&repo, state).await;
    assert_eq!((web0, db0), (at(T1), at(T1)), "first mount ever: blame");

    // Edit web and build from it.
    edit(&repo, "image: nginx", "image: httpd");
    let (web1, db1) = times(&repo, state).await;
    assert_eq!(web1, mtime_of(&repo.path().join("docker-compose.yml")));
    assert_eq!(db1, db0, "db's meaning did not move");
    let built = build();

    let steps: &[(&str, Step)] = &[
        ("commit the edit already built", &|repo| repo.commit_all(T2)),
        ("a comment inside web", &|repo| {
            edit(
                repo,
                "    image: httpd",
                "    # the web server\n    image: httpd",
            )
        }),
        ("formatting inside web", &|repo| {
            edit(repo, "      - \"80:80\"", "      - '80:80'");
            edit(repo, "    ports:\n      - '80:80'", "    ports: ['80:80']");
        }),
        ("key order inside web", &|repo| {
            edit(
                repo,
                "    image: httpd\n    ports: ['80:80']",
                "    ports: ['80:80']\n    image: httpd",
            )
        }),
        ("git stash, then stash pop", &|repo| {
            repo.git(&["stash", "-q"]);
            repo.git(&["stash", "pop", "-q"]);
        }),
        ("commit the formatting", &|repo| repo.commit_all(T3)),
        ("checkout of the old commit and back", &|repo| {
            repo.git(&["checkout", "-q", "HEAD~2"]);
            repo.git(&["checkout", "-q", "main"]);
        }),
        ("a rebase that rewords every commit", &|repo| {
            let output = std::process::Command::new("git")
                .args(["rebase", "-q", "-i", "--root"])
                .current_dir(repo.path())
                .env("GIT_SEQUENCE_EDITOR", "sed -i s/^pick/reword/")
                .env("GIT_EDITOR", "sed -i 1s/^/reworded:\\ /")
                .env("GIT_COMMITTER_DATE", "@1700000000 +0000")
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
        }),
    ];
    for (what, step) in steps {
        step(&repo);
        let (web, db) = times(&repo, state).await;
        assert_eq!(web, web1, "{what}: web moved");
        assert_eq!(db, db1, "{what}: db moved");
        assert!(web < built, "{what}: make would rebuild web");
    }

    // An uncommitted edit of another service moves that service only.
    edit(&repo, "image: postgres:15", "image: postgres:16");
    let (web, db) = times(&repo, state).await;
    assert_eq!(web, web1, "an edit of db moved web");
    assert!(db > built, "db's new meaning is newer than what was built");
}

#[tokio::test]
async fn a_meaning_change_is_newer_than_what_was_built_from_the_old_one() {
    let repo = Repo::new();
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    repo.commit_file("docker-compose.yml", COMPOSE, T1);
    let other = tempfile::tempdir().unwrap();
    let output = std::process::Command::new("git")
        .args(["clone", "-q"])
        .arg(repo.path())
        .arg(other.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    times(&repo, state).await;
    let built = build();

    // A change of web made in another clone, committed at an old date, pulled while unmounted.
    let other_file = other.path().join("docker-compose.yml");
    let text = std::fs::read_to_string(&other_file).unwrap();
    std::fs::write(&other_file, text.replace("image: nginx", "image: caddy")).unwrap();
    let output = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@e",
            "commit",
            "-qam",
            "caddy",
        ])
        .current_dir(other.path())
        .env("GIT_COMMITTER_DATE", "@1500000000 +0000")
        .env("GIT_AUTHOR_DATE", "@1500000000 +0000")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    std::thread::sleep(Duration::from_millis(20));
    repo.git(&[
        "pull",
        "-q",
        "--ff-only",
        other.path().to_str().unwrap(),
        "main",
    ]);
    let (web, db) = times(&repo, state).await;
    assert!(
        web > built,
        "a pulled change of web must rebuild: {web:?} <= {built:?}"
    );
    assert_eq!(db, at(T1), "db did not change");

    // A checkout to a different meaning that is served, then back: rebuilt each way.
    let built = build();
    repo.git(&["checkout", "-q", "HEAD~1"]);
    let (old_web, _) = times(&repo, state).await;
    assert!(
        old_web > built,
        "served with the old meaning after a checkout"
    );
    let built = build();
    std::thread::sleep(Duration::from_millis(20));
    repo.git(&["checkout", "-q", "main"]);
    let (web, _) = times(&repo, state).await;
    assert!(
        web > built,
        "back to the new meaning: newer than the target built from the old"
    );
}

#[tokio::test]
async fn without_a_store_times_follow_meaningful_lines_only() {
    let repo = Repo::new();
    repo.commit_file("docker-compose.yml", COMPOSE, T1);
    // A comment and a blank line committed later inside web: no meaning, no time.
    let text = COMPOSE.replace("    image: nginx", "\n    # the image\n    image: nginx");
    repo.commit_file("docker-compose.yml", &text, T2);
    let provider = GitConfigProvider::new(repo.path());
    provider
        .start(ChangeNotifier::detached())
        .await
        .expect("start");
    assert_eq!(node(&provider, WEB).await.mtime, at(T1));
    assert_eq!(node(&provider, "docker-compose.yml").await.mtime, at(T1));
}
