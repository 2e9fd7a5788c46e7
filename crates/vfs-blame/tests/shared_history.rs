//! `Blamer::with_shared_history`: many files blamed from one walk of the history give what `git blame`
//! gives each of them, and what a blamer without it gives (renames, deletions, merges included).
mod common;

use std::path::Path;

use common::TestRepo;
use vfs_blame::{Blamer, EngineKind};

/// A few lines a file is made of; `step` changes one of them.
fn content(file: usize, versions: &[usize]) -> Vec<u8> {
    versions
        .iter()
        .enumerate()
        .map(|(line, version)| format!("f{file}k{line}: v{version}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Twelve files in three folders (and one outside the scope) with 60 commits each changing a line of
/// one or two files, a branch merged with changes on both sides (one file changed on both, so not a
/// chain), a deletion and re-creation, and a rename.
fn history() -> (TestRepo, Vec<String>) {
    let mut repo = TestRepo::new();
    let paths: Vec<String> = (0..12)
        .map(|file| format!("dir{}/file{file}.yaml", file % 3))
        .collect();
    let mut versions: Vec<Vec<usize>> = vec![vec![0; 8]; paths.len()];
    let write_all = |repo: &TestRepo, versions: &[Vec<usize>]| {
        for (file, path) in paths.iter().enumerate() {
            repo.write(path, &content(file, &versions[file]));
        }
    };
    write_all(&repo, &versions);
    repo.write("notes.txt", b"not in the scope\n");
    repo.commit_all("first");
    let mut seed: u64 = 7;
    let mut next = |bound: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) as usize % bound
    };
    for step in 1..=60 {
        for _ in 0..1 + next(2) {
            let file = next(paths.len());
            versions[file][next(8)] = step;
        }
        write_all(&repo, &versions);
        repo.commit_all(&format!("step {step}"));
        if step == 30 {
            repo.git(&["checkout", "-q", "-b", "side"]);
            versions[0][7] = 1000;
            versions[1][0] = 1000;
            write_all(&repo, &versions);
            repo.commit_all("side");
            repo.git(&["checkout", "-q", "main"]);
            versions[0][7] = 0;
            versions[1][0] = 0;
            versions[0][0] = 2000;
            write_all(&repo, &versions);
            repo.commit_all("main");
            repo.merge("side");
            versions[0][7] = 1000;
            versions[1][0] = 1000;
        }
        if step == 40 {
            repo.git(&["rm", "-q", &paths[5]]);
            repo.commit_all("delete");
        }
    }
    repo.git(&["mv", "dir0/file3.yaml", "dir0/renamed.yaml"]);
    repo.commit_all("rename");
    let files = String::from_utf8(repo.git(&["ls-files"]).stdout).expect("utf-8");
    let files = files.lines().map(str::to_string).collect();
    (repo, files)
}

#[test]
fn files_blamed_from_one_walk_match_git_blame_and_a_walk_each() {
    let (repo, files) = history();
    let alone = Blamer::discover_with_engine(repo.path(), EngineKind::DEFAULT).expect("discover");
    let together = Blamer::discover_with_engine(repo.path(), EngineKind::DEFAULT)
        .expect("discover")
        .with_shared_history("", |path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml")
        });
    assert!(files.iter().any(|file| file == "dir0/renamed.yaml"));
    assert!(files.iter().any(|file| file == "notes.txt"));
    for file in &files {
        let mut text = repo.read(file);
        let expected = repo.oracle(file, &text);
        let blame = together.blame(Path::new(file), &text).expect("blame");
        assert_eq!(blame.lines, expected, "{file}");
        assert_eq!(
            alone.blame(Path::new(file), &text).expect("blame").lines,
            expected,
            "{file} alone"
        );
        // An edit is mapped onto the same committed blame.
        text.splice(0..0, b"edited: 1\n".iter().copied());
        let expected = repo.oracle(file, &text);
        assert_eq!(
            together.blame(Path::new(file), &text).expect("blame").lines,
            expected,
            "{file} edited"
        );
    }
}

#[test]
fn a_scope_below_a_folder_of_the_work_tree() {
    let (repo, files) = history();
    let together = Blamer::discover_with_engine(repo.path(), EngineKind::DEFAULT)
        .expect("discover")
        .with_shared_history("dir1", |_| true);
    for file in &files {
        let text = repo.read(file);
        let blame = together.blame(Path::new(file), &text).expect("blame");
        assert_eq!(blame.lines, repo.oracle(file, &text), "{file}");
    }
}

#[test]
fn a_new_head_is_walked_again() {
    let (mut repo, files) = history();
    let together = Blamer::discover_with_engine(repo.path(), EngineKind::DEFAULT)
        .expect("discover")
        .with_shared_history("", |_| true);
    let file = &files[0];
    let text = repo.read(file);
    assert_eq!(
        together.blame(Path::new(file), &text).expect("blame").lines,
        repo.oracle(file, &text)
    );
    let mut changed = text.clone();
    changed.extend_from_slice(b"added: 1\n");
    repo.write(file, &changed);
    repo.commit_all("one more");
    for file in &files {
        let text = repo.read(file);
        assert_eq!(
            together.blame(Path::new(file), &text).expect("blame").lines,
            repo.oracle(file, &text),
            "{file}"
        );
    }
}
