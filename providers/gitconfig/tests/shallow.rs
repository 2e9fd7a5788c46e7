//! A shallow clone (`git clone --depth N`, as CI checks out): the provider walks it without errors, and a
//! section whose lines' history runs past the cut takes the boundary commit's time, as `git blame` gives it.

mod support;

use std::path::{Path, PathBuf};

use support::*;
use vfs_core::Provider;
use vfs_gitconfig::GitConfigProvider;
use vfs_testkit::git;

const T1: i64 = 1_600_000_000;
const T2: i64 = 1_600_100_000;
const T3: i64 = 1_600_200_000;

const COMPOSE: &str = "\
services:
  web:
    image: nginx
    ports:
      - \"80:80\"
  db:
    image: postgres:15
  cache:
    image: redis
";

/// web is made at T1 and never changed, db changed at T2, cache at T3.
fn history() -> Repo {
    let repo = Repo::new();
    repo.commit_file("docker-compose.yml", COMPOSE, T1);
    repo.commit_file(
        "docker-compose.yml",
        &COMPOSE.replace("postgres:15", "postgres:16"),
        T2,
    );
    repo.commit_file(
        "docker-compose.yml",
        &COMPOSE
            .replace("postgres:15", "postgres:16")
            .replace("image: redis", "image: redis:7"),
        T3,
    );
    repo
}

/// `git clone --depth <depth> file://…` of `repo`, in a temporary directory of its own.
fn shallow_clone(repo: &Repo, depth: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("file://{}", repo.path().display());
    git::git(
        dir.path(),
        &["clone", "-q", "--depth", &depth.to_string(), &url, "clone"],
        None,
    );
    let clone = dir.path().join("clone");
    assert!(clone.join(".git/shallow").is_file(), "a shallow clone");
    (dir, clone)
}

/// The committer time `git blame --porcelain` gives each line of `relative`, and whether it marks any
/// line `boundary`.
fn blame_times(clone: &Path, relative: &str) -> (Vec<i64>, bool) {
    let output = git::git(clone, &["blame", "--porcelain", "--", relative], None);
    let mut times = std::collections::HashMap::new();
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut boundary = false;
    for line in output.lines() {
        if line.starts_with('\t') {
            lines.push(times[&current]);
        } else if let Some(time) = line.strip_prefix("committer-time ") {
            times.insert(current.clone(), time.parse::<i64>().expect("a time"));
        } else if line == "boundary" {
            boundary = true;
        } else if line.len() > 40 && line.as_bytes()[..40].iter().all(u8::is_ascii_hexdigit) {
            current = line[..40].to_string();
        }
    }
    (lines, boundary)
}

async fn started(source: &Path) -> GitConfigProvider {
    start(GitConfigProvider::new(source)).await
}

#[tokio::test]
async fn a_shallow_clone_walks_and_cut_lines_take_the_boundary_commits_time() {
    let repo = history();
    // Depth 1: HEAD is the boundary, every line is its. Depth 2: the T2 commit is the boundary, so web
    // (made at T1, past the cut) takes T2; cache keeps T3.
    for (depth, boundary_time, web, db, cache) in [(1, T3, T3, T3, T3), (2, T2, T2, T2, T3)] {
        let (_dir, clone) = shallow_clone(&repo, depth);
        let (lines, marked) = blame_times(&clone, "docker-compose.yml");
        assert!(marked, "git blame marks the cut lines boundary");
        assert_eq!(
            lines[1], boundary_time,
            "git blame gives web the boundary's time"
        );

        let provider = started(&clone).await;
        let nodes = tree(&provider).await;
        for (section, expected) in [
            ("/docker-compose.yml/services/web", web),
            ("/docker-compose.yml/services/web/image", web),
            ("/docker-compose.yml/services/web/ports/0", web),
            ("/docker-compose.yml/services/db", db),
            ("/docker-compose.yml/services/cache", cache),
            ("/docker-compose.yml", T3),
        ] {
            let node = nodes
                .get(section)
                .unwrap_or_else(|| panic!("{section} is walked at depth {depth}"));
            assert_eq!(node.mtime, at(expected), "{section} at depth {depth}");
        }
        provider.stop().await;
    }
}

#[tokio::test]
async fn an_uncommitted_edit_in_a_shallow_clone_takes_the_files_mtime_and_the_rest_keeps_blames() {
    let repo = history();
    let (_dir, clone) = shallow_clone(&repo, 2);
    let file = clone.join("docker-compose.yml");
    let edited = std::fs::read_to_string(&file)
        .expect("read")
        .replace("image: nginx", "image: nginx:1.27");
    std::fs::write(&file, edited).expect("write");
    let provider = started(&clone).await;
    let nodes = tree(&provider).await;
    assert_eq!(
        nodes["/docker-compose.yml/services/web/image"].mtime,
        mtime_of(&file)
    );
    assert_eq!(
        nodes["/docker-compose.yml/services/web/ports/0"].mtime,
        at(T2),
        "the boundary's time"
    );
    assert_eq!(nodes["/docker-compose.yml/services/db"].mtime, at(T2));
    assert_eq!(nodes["/docker-compose.yml/services/cache"].mtime, at(T3));
    provider.stop().await;
}
