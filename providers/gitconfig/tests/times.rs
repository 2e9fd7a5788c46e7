//! Section times on real repositories with fixed committer dates.

mod support;

use std::time::Duration;

use support::*;
use vfs_core::{ChangeNotifier, Provider};
use vfs_gitconfig::GitConfigProvider;

const T1: i64 = 1_600_000_000;
const T2: i64 = 1_600_100_000;
const T3: i64 = 1_600_200_000;

const COMPOSE_V1: &str = "\
x-defaults: &defaults
  restart: always
  logging: json

services:
  web:
    <<: *defaults
    image: nginx
    ports:
      - \"80:80\"
  db:
    image: postgres:15
  cache:
    image: redis
";

async fn started(repo: &Repo) -> GitConfigProvider {
    start(GitConfigProvider::new(repo.path())).await
}

#[tokio::test]
async fn each_section_takes_the_newest_commit_among_its_lines() {
    let repo = Repo::new();
    repo.commit_file("docker-compose.yml", COMPOSE_V1, T1);
    repo.commit_file(
        "docker-compose.yml",
        &COMPOSE_V1.replace("postgres:15", "postgres:16"),
        T2,
    );
    let provider = started(&repo).await;
    let file = node(&provider, "docker-compose.yml").await;
    assert!(is_dir(&file));
    assert_eq!(file.mtime, at(T2), "the file's folder: newest line");
    assert_eq!(
        node(&provider, "docker-compose.yml/services").await.mtime,
        at(T2)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/web")
            .await
            .mtime,
        at(T1)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/db")
            .await
            .mtime,
        at(T2)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/db/image")
            .await
            .mtime,
        at(T2)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/cache")
            .await
            .mtime,
        at(T1)
    );
    assert_eq!(
        read_text(&provider, "docker-compose.yml/services/db/image").await,
        "postgres:16\n"
    );
    let image = node(&provider, "docker-compose.yml/services/db/image").await;
    assert!(matches!(
        image.kind,
        vfs_core::NodeKind::File { size: Some(12) }
    ));
    assert_eq!(
        read_text(&provider, "docker-compose.yml/services/web/ports/0").await,
        "80:80\n"
    );
    assert_eq!(
        read_text(&provider, "docker-compose.yml/services/web/restart").await,
        "always\n",
        "merged from x-defaults"
    );
}

#[tokio::test]
async fn editing_an_anchor_moves_every_section_that_merges_it() {
    let repo = Repo::new();
    repo.commit_file("docker-compose.yml", COMPOSE_V1, T1);
    repo.commit_file(
        "docker-compose.yml",
        &COMPOSE_V1.replace("logging: json", "logging: journald"),
        T2,
    );
    let provider = started(&repo).await;
    assert_eq!(
        node(&provider, "docker-compose.yml/services/web")
            .await
            .mtime,
        at(T2)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/web/logging")
            .await
            .mtime,
        at(T2)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/web/image")
            .await
            .mtime,
        at(T1)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/db")
            .await
            .mtime,
        at(T1)
    );
}

#[tokio::test]
async fn uncommitted_lines_take_the_file_mtime() {
    let repo = Repo::new();
    repo.commit_file("docker-compose.yml", COMPOSE_V1, T1);
    repo.write(
        "docker-compose.yml",
        &COMPOSE_V1.replace("image: redis", "image: valkey"),
    );
    let mtime = mtime_of(&repo.path().join("docker-compose.yml"));
    let provider = started(&repo).await;
    assert_eq!(
        node(&provider, "docker-compose.yml/services/cache")
            .await
            .mtime,
        mtime
    );
    assert_eq!(node(&provider, "docker-compose.yml").await.mtime, mtime);
    assert_eq!(
        node(&provider, "docker-compose.yml/services/web")
            .await
            .mtime,
        at(T1)
    );
    // Staged is still not committed.
    repo.git(&["add", "docker-compose.yml"]);
    assert_eq!(
        node(&provider, "docker-compose.yml/services/cache")
            .await
            .mtime,
        mtime
    );
    // Committed: its meaning was served already, so its time stays (a target built from the
    // uncommitted edit is not rebuilt for the commit, issue 10) ...
    repo.commit_all(T2);
    assert_eq!(
        node(&provider, "docker-compose.yml/services/cache")
            .await
            .mtime,
        mtime
    );
    // ... while a mount with no memory of it (the first ever) gives the commit's time.
    let fresh = started(&repo).await;
    assert_eq!(
        node(&fresh, "docker-compose.yml/services/cache")
            .await
            .mtime,
        at(T2)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/web")
            .await
            .mtime,
        at(T1)
    );
}

#[tokio::test]
async fn untracked_files_and_trees_outside_git_take_mtimes() {
    let repo = Repo::new();
    repo.commit_file("tracked.yml", "a: 1\n", T1);
    repo.write("untracked.yml", "a: 1\nb:\n  c: 2\n");
    let mtime = mtime_of(&repo.path().join("untracked.yml"));
    let provider = started(&repo).await;
    assert_eq!(node(&provider, "tracked.yml/a").await.mtime, at(T1));
    assert_eq!(node(&provider, "untracked.yml/a").await.mtime, mtime);
    assert_eq!(node(&provider, "untracked.yml/b/c").await.mtime, mtime);

    let plain = outside_git();
    std::fs::write(plain.path().join("c.yaml"), "x:\n  y: 1\n").unwrap();
    let mtime = mtime_of(&plain.path().join("c.yaml"));
    let provider = GitConfigProvider::new(plain.path());
    provider
        .start(ChangeNotifier::detached())
        .await
        .expect("start");
    let all = tree(&provider).await;
    assert_eq!(all["/c.yaml"].mtime, mtime);
    assert_eq!(all["/c.yaml/x"].mtime, mtime);
    assert_eq!(all["/c.yaml/x/y"].mtime, mtime);
}

#[tokio::test]
async fn a_branch_switch_makes_changed_sections_at_least_as_new_as_the_file() {
    let repo = Repo::new();
    repo.commit_file("docker-compose.yml", COMPOSE_V1, T1);
    repo.git(&["checkout", "-q", "-b", "other"]);
    repo.commit_file(
        "docker-compose.yml",
        &COMPOSE_V1.replace("image: nginx", "image: httpd"),
        T2,
    );
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file(
        "docker-compose.yml",
        &COMPOSE_V1.replace("image: redis", "image: valkey"),
        T3,
    );
    let provider = started(&repo).await;
    assert_eq!(
        node(&provider, "docker-compose.yml/services/web")
            .await
            .mtime,
        at(T1)
    );
    assert_eq!(
        node(&provider, "docker-compose.yml/services/cache")
            .await
            .mtime,
        at(T3)
    );

    std::thread::sleep(Duration::from_millis(20));
    repo.git(&["checkout", "-q", "other"]);
    let mtime = mtime_of(&repo.path().join("docker-compose.yml"));
    // Blame says T2 for web (older than T3), but web's text changed under what was served.
    let web = node(&provider, "docker-compose.yml/services/web").await;
    assert!(web.mtime >= mtime, "web {:?} < file {:?}", web.mtime, mtime);
    // cache went back to its T1 text: also changed since served, so also rebuilt.
    assert!(
        node(&provider, "docker-compose.yml/services/cache")
            .await
            .mtime
            >= mtime
    );
    // db never changed: blame's time stands.
    assert_eq!(
        node(&provider, "docker-compose.yml/services/db")
            .await
            .mtime,
        at(T1)
    );
    // And the floor stays while the text stays.
    let again = node(&provider, "docker-compose.yml/services/web").await;
    assert_eq!(again.mtime, web.mtime);
}

/// `git blame --porcelain` as the oracle, over a longer history of random edits.
#[tokio::test]
async fn section_times_match_git_blame_over_a_long_history() {
    let repo = Repo::new();
    let keys = 8;
    let lines_per_key = 4;
    let mut values = vec![vec![0u64; lines_per_key]; keys];
    let render = |values: &Vec<Vec<u64>>| {
        let mut text = String::new();
        for (key, lines) in values.iter().enumerate() {
            text.push_str(&format!("key{key}:\n"));
            for (line, value) in lines.iter().enumerate() {
                text.push_str(&format!("  v{line}: {value}\n"));
            }
        }
        text
    };
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    repo.commit_file("config.yaml", &render(&values), T1);
    for commit in 1..120i64 {
        let edits = 1 + next() % 3;
        for _ in 0..edits {
            let key = (next() % keys as u64) as usize;
            let line = (next() % lines_per_key as u64) as usize;
            values[key][line] = next() % 1000;
        }
        repo.commit_file("config.yaml", &render(&values), T1 + commit * 3600);
    }
    let porcelain = repo.git(&["blame", "--porcelain", "config.yaml"]);
    let line_times = porcelain_line_times(&porcelain);
    assert_eq!(line_times.len(), keys * (lines_per_key + 1));
    let provider = started(&repo).await;
    for key in 0..keys {
        let first = key * (lines_per_key + 1);
        let newest = *line_times[first..first + lines_per_key + 1]
            .iter()
            .max()
            .unwrap();
        let shown = node(&provider, &format!("config.yaml/key{key}")).await;
        assert_eq!(shown.mtime, at(newest), "key{key}");
        for line in 0..lines_per_key {
            let shown = node(&provider, &format!("config.yaml/key{key}/v{line}")).await;
            assert_eq!(
                shown.mtime,
                at(line_times[first + 1 + line]),
                "key{key}/v{line}"
            );
        }
    }
    let whole = *line_times.iter().max().unwrap();
    assert_eq!(node(&provider, "config.yaml").await.mtime, at(whole));
}

/// The committer time of each final line, from `git blame --porcelain`.
fn porcelain_line_times(porcelain: &str) -> Vec<i64> {
    let mut commit_times = std::collections::HashMap::new();
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut current: Option<String> = None;
    for line in porcelain.lines() {
        if line.starts_with('\t') {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() >= 3
            && fields[0].len() == 40
            && fields[0].bytes().all(|b| b.is_ascii_hexdigit())
        {
            let final_line: usize = fields[2].parse().unwrap();
            lines.push((final_line, fields[0].to_string()));
            current = Some(fields[0].to_string());
        } else if let Some(time) = line.strip_prefix("committer-time ") {
            commit_times.insert(current.clone().unwrap(), time.parse::<i64>().unwrap());
        }
    }
    lines.sort();
    lines
        .iter()
        .map(|(_, commit)| commit_times[commit])
        .collect()
}

#[tokio::test]
async fn edits_and_commits_are_announced() {
    let repo = Repo::new();
    repo.commit_file("docker-compose.yml", COMPOSE_V1, T1);
    repo.commit_file("sub/other.yml", "a: 1\n", T1);
    let (notifier, receiver) = ChangeNotifier::channel();
    let provider = GitConfigProvider::new(repo.path());
    provider.start(notifier).await.expect("start");
    let _ = tree(&provider).await;
    let _ = receiver.pending();

    repo.write("sub/other.yml", "a: 2\n");
    let notice = receiver
        .recv_timeout(Duration::from_secs(5))
        .expect("notifier alive")
        .expect("a notice after an edit");
    assert!(
        notice.covers(&vfs_core::NodePath::parse("sub/other.yml")),
        "{notice} does not cover the edited file"
    );
    std::thread::sleep(Duration::from_millis(200));
    let _ = receiver.pending();

    repo.commit_all(T2);
    let mut notices = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(notice)) = receiver.recv_timeout(Duration::from_millis(300)) {
            notices.push(notice);
        } else if !notices.is_empty() {
            break;
        }
    }
    let compose = vfs_core::NodePath::parse("docker-compose.yml");
    assert!(
        notices.iter().any(|notice| notice.covers(&compose)),
        "no notice covers docker-compose.yml after a commit: {notices:?}"
    );
    provider.stop().await;
}

/// A file saved as editors save it (a new file renamed over the old one) is announced with its
/// folder's names alone: nothing beside it is announced, so the kernel keeps what it knows of
/// the other files (issue 17: one save made the next walk read the whole tree again).
#[tokio::test]
async fn a_saved_file_is_announced_without_the_files_beside_it() {
    let repo = Repo::new();
    repo.write("docker-compose.yml", COMPOSE_V1);
    repo.write("other.yml", "a: 1\n");
    repo.commit_file("sub/deep.yml", "b: 1\n", T1);
    let (notifier, receiver) = ChangeNotifier::channel();
    let provider = GitConfigProvider::new(repo.path());
    provider.start(notifier).await.expect("start");
    let _ = tree(&provider).await;
    std::thread::sleep(Duration::from_millis(200));
    let _ = receiver.pending();

    let saved = repo.path().join("other.yml.new");
    std::fs::write(&saved, "a: 2\n").expect("write");
    std::fs::rename(&saved, repo.path().join("other.yml")).expect("rename");
    let mut notices = Vec::new();
    while let Ok(Some(notice)) = receiver.recv_timeout(Duration::from_millis(500)) {
        notices.push(notice);
    }
    let path = vfs_core::NodePath::parse;
    assert!(
        notices
            .iter()
            .any(|notice| notice.covers(&path("other.yml/a"))),
        "no notice covers the saved file's sections: {notices:?}"
    );
    assert!(
        notices.contains(&vfs_core::Notice::node(vfs_core::NodePath::root())),
        "the root's names changed: {notices:?}"
    );
    for beside in ["docker-compose.yml/services", "sub", "sub/deep.yml/b"] {
        assert!(
            !notices
                .iter()
                .any(|notice| notice.reach == vfs_core::Reach::Subtree
                    && notice.covers(&path(beside))),
            "{beside} is announced though only other.yml was saved: {notices:?}"
        );
    }
    provider.stop().await;
}
