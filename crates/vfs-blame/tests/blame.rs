mod common;

use std::path::Path;
use std::sync::Arc;

use common::{committed, TestRepo};
use vfs_blame::{BlameError, Blamer, EngineKind, LineOrigin};

const CONFIG: &str = "config.yml";

fn blamers(repo: &TestRepo) -> Vec<Blamer> {
    EngineKind::ALL
        .iter()
        .map(|engine| Blamer::discover_with_engine(repo.path(), *engine).expect("discover"))
        .collect()
}

#[test]
fn committed_lines_carry_the_committer_time_of_the_commit_that_last_changed_them() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\nc: 3\n");
    let (first, first_time) = repo.commit_all("first");
    repo.write(CONFIG, b"a: 1\nb: 20\nc: 3\n");
    let (second, second_time) = repo.commit_all("second");
    let content = repo.read(CONFIG);
    let expected = vec![
        committed(&first, first_time),
        committed(&second, second_time),
        committed(&first, first_time),
    ];
    assert_eq!(repo.oracle(CONFIG, &content), expected);
    for blamer in blamers(&repo) {
        let blame = blamer.blame(Path::new(CONFIG), &content).expect("blame");
        assert_eq!(blame.lines, expected, "engine {}", blamer.engine().name());
        assert_eq!(blame.newest_commit_time(0, 2), Some(second_time));
        assert_eq!(blame.newest_commit_time(2, 2), Some(first_time));
    }
}

#[test]
fn unstaged_and_staged_edits_are_uncommitted() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\nc: 3\nd: 4\n");
    let (first, time) = repo.commit_all("first");
    repo.write(CONFIG, b"a: 1\nb: 2 staged\nc: 3\nd: 4\n");
    repo.git(&["add", CONFIG]);
    repo.write(CONFIG, b"a: 1\nb: 2 staged\nc: 3\nd: 4 unstaged\nnew: 5\n");
    let content = repo.read(CONFIG);
    let expected = vec![
        committed(&first, time),
        LineOrigin::Uncommitted,
        committed(&first, time),
        LineOrigin::Uncommitted,
        LineOrigin::Uncommitted,
    ];
    assert_eq!(repo.oracle(CONFIG, &content), expected);
    for blamer in blamers(&repo) {
        let blame = blamer.blame(Path::new(CONFIG), &content).expect("blame");
        assert_eq!(blame.lines, expected, "engine {}", blamer.engine().name());
        assert!(blame.has_uncommitted(1, 1));
        assert!(!blame.has_uncommitted(2, 2));
    }
}

#[test]
fn deleted_lines_leave_the_rest_committed() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\nc: 3\n");
    let (first, time) = repo.commit_all("first");
    repo.write(CONFIG, b"a: 1\nc: 3\n");
    let content = repo.read(CONFIG);
    let expected = vec![committed(&first, time), committed(&first, time)];
    assert_eq!(repo.oracle(CONFIG, &content), expected);
    for blamer in blamers(&repo) {
        let blame = blamer.blame(Path::new(CONFIG), &content).expect("blame");
        assert_eq!(blame.lines, expected, "engine {}", blamer.engine().name());
    }
}

#[test]
fn an_untracked_file_is_all_uncommitted() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\n");
    repo.commit_all("first");
    repo.write("new.yml", b"x: 1\ny: 2\n");
    for blamer in blamers(&repo) {
        let blame = blamer
            .blame(Path::new("new.yml"), b"x: 1\ny: 2\n")
            .expect("untracked is not an error");
        assert_eq!(
            blame.lines,
            vec![LineOrigin::Uncommitted; 2],
            "engine {}",
            blamer.engine().name()
        );
    }
}

#[test]
fn a_staged_new_file_is_all_uncommitted() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\n");
    repo.commit_all("first");
    repo.write("new.yml", b"x: 1\n");
    repo.git(&["add", "new.yml"]);
    for blamer in blamers(&repo) {
        let blame = blamer
            .blame(Path::new("new.yml"), b"x: 1\n")
            .expect("blame");
        assert_eq!(
            blame.lines,
            vec![LineOrigin::Uncommitted],
            "engine {}",
            blamer.engine().name()
        );
    }
}

#[test]
fn a_directory_outside_any_repository_is_not_a_repository() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for engine in EngineKind::ALL {
        match Blamer::discover_with_engine(dir.path(), *engine) {
            Err(BlameError::NotARepository(path)) => assert_eq!(path, dir.path()),
            Err(other) => panic!("expected NotARepository, got {other}"),
            Ok(_) => panic!("expected NotARepository, got a blamer"),
        }
    }
}

#[test]
fn an_unborn_head_has_no_commit_and_every_line_is_uncommitted() {
    let repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2");
    for blamer in blamers(&repo) {
        assert_eq!(blamer.head_commit().expect("head"), None);
        let blame = blamer
            .blame(Path::new(CONFIG), b"a: 1\nb: 2")
            .expect("blame");
        assert_eq!(
            blame.lines,
            vec![LineOrigin::Uncommitted; 2],
            "engine {}",
            blamer.engine().name()
        );
    }
}

#[test]
fn discovery_from_a_subdirectory_finds_the_work_tree_and_git_dir() {
    let mut repo = TestRepo::new();
    repo.write("deep/down/file.yml", b"a: 1\n");
    let (head, _) = repo.commit_all("first");
    let root = repo.path().canonicalize().expect("canonical root");
    for engine in EngineKind::ALL {
        let blamer =
            Blamer::discover_with_engine(&repo.file("deep/down"), *engine).expect("discover");
        assert_eq!(blamer.workdir().canonicalize().expect("workdir"), root);
        assert_eq!(
            blamer.git_dir().canonicalize().expect("git dir"),
            root.join(".git")
        );
        assert_eq!(blamer.head_commit().expect("head"), Some(head.clone()));
    }
}

#[test]
fn a_last_line_without_newline_counts_and_adding_the_newline_changes_it() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2");
    let (first, time) = repo.commit_all("first");
    let unchanged = repo.read(CONFIG);
    let with_newline = b"a: 1\nb: 2\n".to_vec();
    let expected_unchanged = vec![committed(&first, time), committed(&first, time)];
    let expected_with_newline = vec![committed(&first, time), LineOrigin::Uncommitted];
    assert_eq!(repo.oracle(CONFIG, &unchanged), expected_unchanged);
    assert_eq!(repo.oracle(CONFIG, &with_newline), expected_with_newline);
    for blamer in blamers(&repo) {
        let name = blamer.engine().name();
        assert_eq!(
            blamer
                .blame(Path::new(CONFIG), &unchanged)
                .expect("blame")
                .lines,
            expected_unchanged,
            "{name}"
        );
        assert_eq!(
            blamer
                .blame(Path::new(CONFIG), &with_newline)
                .expect("blame")
                .lines,
            expected_with_newline,
            "{name}"
        );
    }
}

#[test]
fn crlf_lines_are_lines_and_a_changed_ending_is_uncommitted() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\r\nb: 2\r\nc: 3\r\n");
    let (first, first_time) = repo.commit_all("first");
    repo.write(CONFIG, b"a: 1\r\nb: 20\r\nc: 3\r\n");
    let (second, second_time) = repo.commit_all("second");
    let committed_content = repo.read(CONFIG);
    let expected = vec![
        committed(&first, first_time),
        committed(&second, second_time),
        committed(&first, first_time),
    ];
    let lf_ending = b"a: 1\nb: 20\r\nc: 3\r\n".to_vec();
    let expected_lf = vec![
        LineOrigin::Uncommitted,
        committed(&second, second_time),
        committed(&first, first_time),
    ];
    assert_eq!(repo.oracle(CONFIG, &committed_content), expected);
    assert_eq!(repo.oracle(CONFIG, &lf_ending), expected_lf);
    for blamer in blamers(&repo) {
        let name = blamer.engine().name();
        assert_eq!(
            blamer
                .blame(Path::new(CONFIG), &committed_content)
                .expect("blame")
                .lines,
            expected,
            "{name}"
        );
        assert_eq!(
            blamer
                .blame(Path::new(CONFIG), &lf_ending)
                .expect("blame")
                .lines,
            expected_lf,
            "{name}"
        );
    }
}

#[test]
fn empty_content_has_no_lines() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\n");
    repo.commit_all("first");
    for blamer in blamers(&repo) {
        assert!(blamer
            .blame(Path::new(CONFIG), b"")
            .expect("blame")
            .lines
            .is_empty());
    }
}

#[test]
fn the_same_state_returns_the_same_arc() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\n");
    repo.commit_all("first");
    let content = repo.read(CONFIG);
    let edited = b"a: 1\nb: 3\n".to_vec();
    for blamer in blamers(&repo) {
        let first = blamer.blame(Path::new(CONFIG), &content).expect("blame");
        let again = blamer.blame(Path::new(CONFIG), &content).expect("blame");
        assert!(
            Arc::ptr_eq(&first, &again),
            "engine {}",
            blamer.engine().name()
        );
        let first_edited = blamer.blame(Path::new(CONFIG), &edited).expect("blame");
        let again_edited = blamer.blame(Path::new(CONFIG), &edited).expect("blame");
        assert!(Arc::ptr_eq(&first_edited, &again_edited));
        assert!(!Arc::ptr_eq(&first, &first_edited));
        // Going back to the earlier content is still remembered.
        let back = blamer.blame(Path::new(CONFIG), &content).expect("blame");
        assert!(Arc::ptr_eq(&first, &back));
    }
}

#[test]
fn a_content_change_misses_the_cache() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\n");
    let (first, time) = repo.commit_all("first");
    for blamer in blamers(&repo) {
        let before = blamer
            .blame(Path::new(CONFIG), b"a: 1\nb: 2\n")
            .expect("blame");
        let after = blamer
            .blame(Path::new(CONFIG), b"a: 1\nb: 5\n")
            .expect("blame");
        assert!(!Arc::ptr_eq(&before, &after));
        assert_eq!(
            before.lines,
            vec![committed(&first, time), committed(&first, time)]
        );
        assert_eq!(
            after.lines,
            vec![committed(&first, time), LineOrigin::Uncommitted]
        );
    }
}

#[test]
fn a_new_commit_misses_the_cache() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\n");
    let (first, first_time) = repo.commit_all("first");
    let blamers = blamers(&repo);
    let edited = b"a: 1\nb: 5\n".to_vec();
    let before: Vec<_> = blamers
        .iter()
        .map(|blamer| blamer.blame(Path::new(CONFIG), &edited).expect("blame"))
        .collect();
    for blame in &before {
        assert_eq!(
            blame.lines,
            vec![committed(&first, first_time), LineOrigin::Uncommitted]
        );
    }
    repo.write(CONFIG, &edited);
    let (second, second_time) = repo.commit_all("second");
    for (blamer, before) in blamers.iter().zip(&before) {
        assert_eq!(blamer.head_commit().expect("head"), Some(second.clone()));
        let after = blamer.blame(Path::new(CONFIG), &edited).expect("blame");
        assert!(!Arc::ptr_eq(before, &after));
        assert_eq!(
            after.lines,
            vec![
                committed(&first, first_time),
                committed(&second, second_time)
            ]
        );
    }
}

#[test]
fn a_branch_switch_blames_the_new_head() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\n");
    let (first, first_time) = repo.commit_all("first");
    repo.git(&["checkout", "-q", "-b", "other"]);
    repo.write(CONFIG, b"a: 1\nb: other\n");
    let (other, other_time) = repo.commit_all("other");
    repo.git(&["checkout", "-q", "main"]);
    let blamers = blamers(&repo);
    for blamer in &blamers {
        let blame = blamer
            .blame(Path::new(CONFIG), &repo.read(CONFIG))
            .expect("blame");
        assert_eq!(blame.lines, vec![committed(&first, first_time); 2]);
    }
    repo.git(&["checkout", "-q", "other"]);
    for blamer in &blamers {
        let blame = blamer
            .blame(Path::new(CONFIG), &repo.read(CONFIG))
            .expect("blame");
        assert_eq!(
            blame.lines,
            vec![committed(&first, first_time), committed(&other, other_time)]
        );
    }
}

#[test]
fn blamer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Blamer>();
    assert_send_sync::<Arc<vfs_blame::FileBlame>>();
}

/// A linked work tree (`git worktree add`): its own HEAD and files, its git dir under the main repository's
/// `.git/worktrees`, found from a folder inside it.
#[test]
fn discovery_from_a_linked_worktree_finds_its_own_head_and_files() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\n");
    repo.write("deep/file.yml", b"x: 1\n");
    let (main_head, _) = repo.commit_all("first");
    let elsewhere = tempfile::tempdir().expect("temporary directory");
    let worktree = elsewhere.path().join("wt");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "other",
        worktree.to_str().expect("UTF-8 path"),
    ]);
    let run_in_worktree = |args: &[&str], time: Option<i64>| {
        let mut command = std::process::Command::new("git");
        command
            .args(args)
            .current_dir(&worktree)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null");
        if let Some(time) = time {
            let date = format!("{time} +0000");
            command
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date);
        }
        let output = command.output().expect("run git");
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8(output.stdout)
            .expect("UTF-8")
            .trim()
            .to_string()
    };
    std::fs::write(worktree.join(CONFIG), b"a: 1\nb: 20\n").expect("write");
    let time = common::FIRST_COMMIT_TIME + 3600;
    run_in_worktree(&["commit", "-q", "-am", "in the worktree"], Some(time));
    let worktree_head = run_in_worktree(&["rev-parse", "HEAD"], None);
    assert_ne!(worktree_head, main_head);

    let canonical_worktree = worktree.canonicalize().expect("canonical worktree");
    let main_git_dir = repo.path().join(".git").canonicalize().expect("git dir");
    for engine in EngineKind::ALL {
        let blamer =
            Blamer::discover_with_engine(&worktree.join("deep"), *engine).expect("discover");
        let name = engine.name();
        assert_eq!(
            blamer.workdir().canonicalize().expect("workdir"),
            canonical_worktree,
            "{name}"
        );
        assert_eq!(
            blamer.git_dir().canonicalize().expect("git dir"),
            main_git_dir.join("worktrees/wt"),
            "{name}"
        );
        assert_eq!(
            blamer.head_commit().expect("head"),
            Some(worktree_head.clone()),
            "{name}"
        );
        let blame = blamer
            .blame(Path::new(CONFIG), b"a: 1\nb: 20\n")
            .expect("blame");
        assert_eq!(
            blame.lines,
            vec![
                committed(&main_head, common::FIRST_COMMIT_TIME),
                committed(&worktree_head, time)
            ],
            "{name}"
        );
    }
}

/// HEAD tracks a symbolic link and a submodule (a gitlink) where a file is asked for: neither is a file HEAD
/// holds, so every line is uncommitted (git's answer for the link, whose blob is the target's name).
#[test]
fn a_symbolic_link_or_a_submodule_in_head_is_no_committed_file() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, b"a: 1\nb: 2\n");
    std::os::unix::fs::symlink(CONFIG, repo.file("link.yml")).expect("symlink");
    let (first, _) = repo.commit_all("first");
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{first},sub"),
    ]);
    repo.commit_staged("a submodule");
    let content = repo.read(CONFIG);
    let expected = vec![LineOrigin::Uncommitted; 2];
    assert_eq!(repo.oracle("link.yml", &content), expected);
    for blamer in blamers(&repo) {
        let name = blamer.engine().name();
        for path in ["link.yml", "sub"] {
            let blame = blamer.blame(Path::new(path), &content).expect("blame");
            assert_eq!(blame.lines, expected, "{name} {path}");
        }
    }
}
