//! `blame.ignoreRevsFile` (usually `.git-blame-ignore-revs`): `git blame` passes over the commits listed
//! there, so a commit that only re-indents moves no line's time. The shipped engines (the default and the
//! git CLI) answer as `git blame --porcelain` run with the repository's configuration does, and a change of
//! the configuration or of a listed file's content is seen by a blamer that answered before.
mod common;

use std::path::Path;

use common::TestRepo;
use vfs_blame::{Blamer, EngineKind, LineOrigin};

const CONFIG: &str = "config.yml";
const IGNORE: &str = ".git-blame-ignore-revs";

const A: &[u8] = b"services:\n  web:\n    image: nginx\n    ports:\n      - \"80:80\"\n  db:\n    image: postgres:15\n";
/// A re-indented (four spaces), nothing else.
const B: &[u8] = b"services:\n    web:\n        image: nginx\n        ports:\n            - \"80:80\"\n    db:\n        image: postgres:15\n";
/// B with one value changed.
const C: &[u8] = b"services:\n    web:\n        image: nginx\n        ports:\n            - \"80:80\"\n    db:\n        image: postgres:16\n";

struct History {
    repo: TestRepo,
    a: (String, i64),
    b: (String, i64),
    c: (String, i64),
}

/// A sets the values, B only re-indents them, C changes one; the ignore file (listing B) is committed
/// after, but not configured.
fn history() -> History {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, A);
    let a = repo.commit_all("A: values");
    repo.write(CONFIG, B);
    let b = repo.commit_all("B: re-indent");
    repo.write(CONFIG, C);
    let c = repo.commit_all("C: postgres 16");
    repo.write(IGNORE, format!("# re-indent\n{}\n", b.0).as_bytes());
    repo.commit_all("ignore B");
    History { repo, a, b, c }
}

/// The engines a [`Blamer`] can use in the shipped build: the default and its fallback, the git CLI.
fn shipped_engines() -> Vec<EngineKind> {
    let mut engines = vec![EngineKind::DEFAULT];
    if EngineKind::DEFAULT != EngineKind::GitCli {
        engines.push(EngineKind::GitCli);
    }
    engines
}

fn times(lines: &[LineOrigin]) -> Vec<Option<i64>> {
    lines.iter().map(LineOrigin::commit_time).collect()
}

/// HEAD's content and an edit of it (one value changed), each blamed by `blamer` as the oracle says.
fn assert_matches_git(repo: &TestRepo, blamer: &Blamer, what: &str) -> Vec<LineOrigin> {
    let head_content = repo.read(CONFIG);
    let edited = String::from_utf8(head_content.clone())
        .expect("UTF-8")
        .replace("nginx", "nginx:1.27")
        .into_bytes();
    let expected = repo.oracle(CONFIG, &head_content);
    for content in [&head_content, &edited] {
        let blame = blamer.blame(Path::new(CONFIG), content).expect("blame");
        assert_eq!(
            blame.lines,
            repo.oracle(CONFIG, content),
            "{} {what}",
            blamer.engine().name()
        );
    }
    expected
}

#[test]
fn a_configured_ignore_file_gives_reformatted_lines_the_time_of_the_commit_before() {
    let history = history();
    let repo = &history.repo;
    let (a, b, c) = (history.a.1, history.b.1, history.c.1);
    for engine in shipped_engines() {
        let blamer = Blamer::discover_with_engine(repo.path(), engine).expect("discover");
        let plain = assert_matches_git(repo, &blamer, "without the configuration");
        assert_eq!(
            times(&plain),
            [a, b, b, b, b, b, c].map(Some),
            "without it, B's time"
        );
    }
    repo.git(&["config", "blame.ignoreRevsFile", IGNORE]);
    for engine in shipped_engines() {
        let blamer = Blamer::discover_with_engine(repo.path(), engine).expect("discover");
        let ignoring = assert_matches_git(repo, &blamer, "with blame.ignoreRevsFile");
        assert_eq!(
            times(&ignoring),
            [a, a, a, a, a, a, c].map(Some),
            "B is passed over: A's time"
        );
        assert_eq!(
            ignoring[0],
            common::committed(&history.a.0, a),
            "the line is A's, as git says"
        );
    }
}

/// The same blamer, asked again after each change: the configuration set, the file's content changed,
/// the configuration removed. None of these moves HEAD or the blamed file.
#[test]
fn a_change_of_the_configuration_or_of_the_ignore_file_is_not_served_from_the_cache() {
    let history = history();
    let repo = &history.repo;
    let (a, b, c) = (history.a.1, history.b.1, history.c.1);
    let without = [a, b, b, b, b, b, c].map(Some);
    let ignoring = [a, a, a, a, a, a, c].map(Some);
    for engine in shipped_engines() {
        let blamer = Blamer::discover_with_engine(repo.path(), engine).expect("discover");
        let name = engine.name();
        assert_eq!(
            times(&assert_matches_git(repo, &blamer, "at first")),
            without,
            "{name}"
        );

        repo.git(&["config", "blame.ignoreRevsFile", IGNORE]);
        assert_eq!(
            times(&assert_matches_git(repo, &blamer, "configured")),
            ignoring,
            "{name}"
        );

        // The file no longer lists B (an uncommitted edit of it counts: git reads the work tree's).
        repo.write(IGNORE, b"# nothing\n");
        assert_eq!(
            times(&assert_matches_git(repo, &blamer, "emptied")),
            without,
            "{name}"
        );
        repo.write(IGNORE, format!("{}\n", history.b.0).as_bytes());
        assert_eq!(
            times(&assert_matches_git(repo, &blamer, "listed again")),
            ignoring,
            "{name}"
        );

        repo.git(&["config", "--unset-all", "blame.ignoreRevsFile"]);
        assert_eq!(
            times(&assert_matches_git(repo, &blamer, "unset")),
            without,
            "{name}"
        );
    }
}

/// Several files (`git config --add`), one in a subdirectory named relative to the work tree, and an empty
/// value. git's documentation says an empty value resets the list; git (2.47) keeps the configured names
/// sorted, so the empty one comes first and resets nothing: the oracle decides.
#[test]
fn several_ignore_files_and_an_empty_value_are_read_as_git_reads_them() {
    let history = history();
    let repo = &history.repo;
    let (a, c) = (history.a.1, history.c.1);
    repo.write(
        "ci/more-ignored-revs",
        format!("{}\n", history.b.0).as_bytes(),
    );
    repo.write(IGNORE, b"# nothing here\n");
    repo.git(&["config", "--add", "blame.ignoreRevsFile", IGNORE]);
    repo.git(&[
        "config",
        "--add",
        "blame.ignoreRevsFile",
        "ci/more-ignored-revs",
    ]);
    for engine in shipped_engines() {
        let blamer = Blamer::discover_with_engine(repo.path(), engine).expect("discover");
        assert_eq!(
            times(&assert_matches_git(repo, &blamer, "with two files")),
            [a, a, a, a, a, a, c].map(Some)
        );
    }
    repo.git(&["config", "--add", "blame.ignoreRevsFile", ""]);
    for engine in shipped_engines() {
        let blamer = Blamer::discover_with_engine(repo.path(), engine).expect("discover");
        assert_matches_git(repo, &blamer, "after an empty value");
    }
}

/// Where a configured file does not exist `git blame` stops with an error ("could not open object name
/// list"); the blamer skips that file and reads the others, rather than timing the file by its mtime.
#[test]
fn a_configured_file_that_does_not_exist_is_skipped() {
    let history = history();
    let repo = &history.repo;
    repo.git(&["config", "--add", "blame.ignoreRevsFile", IGNORE]);
    let head_content = repo.read(CONFIG);
    let expected = repo.oracle(CONFIG, &head_content);
    repo.git(&["config", "--add", "blame.ignoreRevsFile", "no-such-file"]);
    for engine in shipped_engines() {
        let blamer = Blamer::discover_with_engine(repo.path(), engine).expect("discover");
        let blame = blamer
            .blame(Path::new(CONFIG), &head_content)
            .expect("blame");
        assert_eq!(blame.lines, expected, "{}", engine.name());
    }
}

/// The list may name an annotated tag (git peels it to its commit) and commits that never changed the file
/// (which change nothing): the answer is git's either way.
#[test]
fn a_listed_tag_is_peeled_and_a_commit_that_never_changed_the_file_changes_nothing() {
    let mut history = history();
    let (a, c) = (history.a.1, history.c.1);
    let repo = &mut history.repo;
    repo.write("other.yml", b"x: 1\ny: 2\n");
    repo.commit_all("other file");
    repo.write("other.yml", b"x: 1\ny: 3\n");
    let (unrelated, _) = repo.commit_all("other file again");
    repo.git(&["tag", "-a", "-m", "the re-indent", "reindent", &history.b.0]);
    let tag = String::from_utf8_lossy(&repo.git(&["rev-parse", "reindent"]).stdout)
        .trim()
        .to_string();
    assert_ne!(tag, history.b.0, "an annotated tag has an id of its own");
    repo.write(
        IGNORE,
        format!("{tag} # the tag of B\n{unrelated}\n").as_bytes(),
    );
    repo.git(&["config", "blame.ignoreRevsFile", IGNORE]);
    for engine in shipped_engines() {
        let blamer = Blamer::discover_with_engine(repo.path(), engine).expect("discover");
        assert_eq!(
            times(&assert_matches_git(repo, &blamer, "with a tag listed")),
            [a, a, a, a, a, a, c].map(Some)
        );
        for content in [repo.read("other.yml"), b"x: 1\ny: 4\n".to_vec()] {
            let blame = blamer
                .blame(Path::new("other.yml"), &content)
                .expect("blame");
            assert_eq!(blame.lines, repo.oracle("other.yml", &content));
        }
    }
}
