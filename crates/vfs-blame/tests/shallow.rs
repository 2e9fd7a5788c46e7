//! Shallow clones (`git clone --depth N`, as CI checks out): `.git/shallow` lists the commits whose parents
//! the clone lacks, and `git blame` gives every line whose history runs past them to that boundary commit
//! (marked `boundary` in --porcelain). Every engine answers as `git blame --porcelain` does, on HEAD's
//! content and after an uncommitted edit.
mod common;

use std::path::Path;

use common::TestRepo;
use vfs_blame::{Blamer, EngineKind, LineOrigin};

/// A chain: the file is made, three commits change one line each, one commit changes another file.
fn chain() -> (TestRepo, &'static str) {
    let mut repo = TestRepo::new();
    let path = "config.yml";
    repo.write(path, b"a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\n");
    repo.commit_all("one");
    repo.write(path, b"a: 10\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\n");
    repo.commit_all("two");
    repo.write(path, b"a: 10\nb: 2\nc: 30\nd: 4\ne: 5\nf: 6\n");
    repo.commit_all("three");
    repo.write("README", b"unrelated\n");
    repo.commit_all("four: another file");
    repo.write(path, b"a: 10\nb: 2\nc: 30\nd: 4\ne: 50\nf: 6\n");
    repo.commit_all("five");
    (repo, path)
}

/// A merge of a side branch, then a rename and an edit: the parallel engine hands such a history to the
/// git CLI, which must cope with the cut as well.
fn merge_and_rename() -> (TestRepo, &'static str) {
    let mut repo = TestRepo::new();
    repo.write("old.yml", b"a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n");
    repo.commit_all("base");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("old.yml", b"a: 1\nb: 20\nc: 3\nd: 4\ne: 5\n");
    repo.commit_all("side");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("old.yml", b"a: 1\nb: 2\nc: 3\nd: 40\ne: 5\n");
    repo.commit_all("main");
    repo.merge("side");
    repo.git(&["mv", "old.yml", "config.yml"]);
    repo.commit_staged("rename");
    repo.write("config.yml", b"a: 1\nb: 20\nc: 3\nd: 40\ne: 50\n");
    repo.commit_all("edit");
    (repo, "config.yml")
}

/// HEAD's content with one line changed and one added: two uncommitted lines.
fn edited(content: &[u8]) -> Vec<u8> {
    let mut text = String::from_utf8(content.to_vec()).expect("UTF-8");
    text = text.replacen("b: ", "b: edited ", 1);
    text.push_str("new: line\n");
    text.into_bytes()
}

/// Each engine's answer for HEAD's content and an edited copy, against the oracle run in the same clone.
fn assert_engines_match(clone: &TestRepo, path: &str, depth: usize) -> Vec<LineOrigin> {
    let head_content = clone.read(path);
    let edited = edited(&head_content);
    let expected_head = clone.oracle(path, &head_content);
    let expected_edited = clone.oracle(path, &edited);
    assert!(expected_head
        .iter()
        .all(|line| *line != LineOrigin::Uncommitted));
    assert_eq!(
        expected_edited
            .iter()
            .filter(|line| **line == LineOrigin::Uncommitted)
            .count(),
        2
    );
    for engine in &engines() {
        let blamer = Blamer::discover_with_engine(clone.path(), *engine).expect("discover");
        for (what, content, expected) in [
            ("HEAD's content", &head_content, &expected_head),
            ("an edit", &edited, &expected_edited),
        ] {
            let blame = blamer
                .blame(Path::new(path), content)
                .unwrap_or_else(|error| {
                    panic!("{} on {what} at depth {depth}: {error}", engine.name())
                });
            assert_eq!(
                &blame.lines,
                expected,
                "{} on {what} at depth {depth}",
                engine.name()
            );
        }
    }
    expected_head
}

/// The committer time of a commit of `repo`, by git.
fn commit_time(repo: &TestRepo, commit: &str) -> i64 {
    let output = repo.git(&["show", "-s", "--format=%ct", commit]);
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("a committer time")
}

#[test]
fn every_engine_gives_lines_older_than_a_shallow_clone_the_boundary_commits_time() {
    let (repo, path) = chain();
    for depth in [1, 2, 3] {
        let clone = repo.shallow_clone(depth);
        let expected = assert_engines_match(&clone, path, depth);
        // The oracle gives the cut lines to the boundary: the oldest commit the clone has.
        let boundary = String::from_utf8_lossy(&clone.read(".git/shallow"))
            .trim()
            .to_string();
        let boundary_time = commit_time(&clone, &boundary);
        assert_eq!(
            expected[1].commit_time(),
            Some(boundary_time),
            "line b (made by the first commit) takes the boundary's time at depth {depth}"
        );
    }
}

#[test]
fn every_engine_matches_git_blame_on_a_shallow_clone_of_a_merge_and_a_rename() {
    let (repo, path) = merge_and_rename();
    for depth in [1, 2, 3, 4] {
        let clone = repo.shallow_clone(depth);
        assert_engines_match(&clone, path, depth);
    }
}

#[test]
fn a_commit_made_in_a_shallow_clone_moves_only_its_lines() {
    let (repo, path) = chain();
    let mut clone = repo.shallow_clone(2);
    let content = edited(&clone.read(path));
    clone.write(path, &content);
    clone.commit_all("in the clone");
    assert_engines_match(&clone, path, 2);
}

/// The engines a [`Blamer`] can use in the shipped build: the default and its fallback, the git CLI.
fn shipped_engines() -> Vec<EngineKind> {
    let mut engines = vec![EngineKind::DEFAULT];
    if EngineKind::DEFAULT != EngineKind::GitCli {
        engines.push(EngineKind::GitCli);
    }
    engines
}

/// `git fetch --deepen`/`--unshallow` changes `.git/shallow` and not HEAD: a blamer that answered before
/// does not keep the boundary's times for lines whose commits are now there.
#[test]
fn deepening_a_shallow_clone_gives_the_cut_lines_their_own_commits() {
    let (repo, path) = chain();
    for engine in shipped_engines() {
        for deepen in [
            &["fetch", "-q", "--deepen", "1"][..],
            &["fetch", "-q", "--unshallow"],
        ] {
            let clone = repo.shallow_clone(2);
            let content = edited(&clone.read(path));
            let blamer = Blamer::discover_with_engine(clone.path(), engine).expect("discover");
            let before = blamer.blame(Path::new(path), &content).expect("blame");
            assert_eq!(
                before.lines,
                clone.oracle(path, &content),
                "{}",
                engine.name()
            );
            let head = clone.head();
            clone.git(deepen);
            assert_eq!(clone.head(), head, "fetching more history leaves HEAD");
            let expected = clone.oracle(path, &content);
            assert_ne!(before.lines, expected, "{deepen:?} moves some line");
            let after = blamer.blame(Path::new(path), &content).expect("blame");
            assert_eq!(after.lines, expected, "{} after {deepen:?}", engine.name());
        }
    }
}

/// Every engine built, but gix-blame (feature `bench`, never the default): it stops at the boundary with
/// "Could not find existing iterator over a tree", looking for the parent the clone lacks.
fn engines() -> Vec<EngineKind> {
    EngineKind::ALL
        .iter()
        .copied()
        .filter(|engine| engine.name() != "gix")
        .collect()
}
