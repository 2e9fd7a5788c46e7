//! Work trees whose bytes differ from their blobs only by git's end-of-line conversion (`core.autocrlf`,
//! `.gitattributes` `text`/`eol`): blame compares the content as git would store it, as `git blame` does,
//! and never converts a file git keeps as it is (`-text`, binary, CRs already in the index). The conversion
//! needs gix (feature `gix-engine`, on by default); without it content is compared as read.

mod common;

use std::path::Path;

use common::{committed, TestRepo};
use vfs_blame::{Blamer, EngineKind, LineOrigin};

const CONFIG: &str = "config.yml";

const V1: &[u8] = b"services:\r\n  web:\r\n    image: nginx\r\n  db:\r\n    image: postgres:15\r\n";
const V2: &[u8] = b"services:\r\n  web:\r\n    image: nginx\r\n  db:\r\n    image: postgres:16\r\n";

/// `expected` is what `git blame --porcelain --contents -` says of `content`, and every engine says the same,
/// twice (the second answer comes from the cache).
fn assert_blame(repo: &TestRepo, relative: &str, content: &[u8], expected: &[LineOrigin]) {
    assert_eq!(
        repo.oracle(relative, content),
        expected,
        "the oracle disagrees with the test's expectation"
    );
    for engine in EngineKind::ALL {
        let blamer = Blamer::discover_with_engine(repo.path(), *engine).expect("discover");
        for _ in 0..2 {
            let blame = blamer.blame(Path::new(relative), content).expect("blame");
            assert_eq!(blame.lines, expected, "engine {}", engine.name());
        }
    }
}

fn replace(content: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(content.to_vec())
        .expect("UTF-8")
        .replacen(from, to, 1)
        .into_bytes()
}

fn blob(repo: &TestRepo, relative: &str) -> Vec<u8> {
    repo.git(&["cat-file", "blob", &format!("HEAD:{relative}")])
        .stdout
}

/// Commits V1 then V2 written with CRLF; git stores LF and sees no change in the work tree.
fn two_commits_with_crlf_work_tree(repo: &mut TestRepo) -> [LineOrigin; 2] {
    repo.write(CONFIG, V1);
    let (first, first_time) = repo.commit_all("first");
    repo.write(CONFIG, V2);
    let (second, second_time) = repo.commit_all("second");
    assert!(!blob(repo, CONFIG).contains(&b'\r'), "git stored LF");
    assert_eq!(repo.read(CONFIG), V2, "the work tree keeps CRLF");
    repo.git(&["diff", "--exit-code"]);
    [
        committed(&first, first_time),
        committed(&second, second_time),
    ]
}

#[test]
#[cfg_attr(
    not(feature = "gix-engine"),
    ignore = "without gix-engine, content is compared as read (normalize.rs)"
)]
fn with_core_autocrlf_a_crlf_work_tree_is_blamed_like_its_lf_blobs() {
    let mut repo = TestRepo::new();
    repo.git(&["config", "core.autocrlf", "true"]);
    let [first, second] = two_commits_with_crlf_work_tree(&mut repo);
    let unchanged = [
        first.clone(),
        first.clone(),
        first.clone(),
        first.clone(),
        second.clone(),
    ];
    assert_blame(&repo, CONFIG, V2, &unchanged);

    // Editing one line leaves every other line at its commit.
    let edited = replace(V2, "nginx", "httpd");
    repo.write(CONFIG, &edited);
    let expected = [
        first.clone(),
        first.clone(),
        LineOrigin::Uncommitted,
        first,
        second,
    ];
    assert_blame(&repo, CONFIG, &edited, &expected);
}

#[test]
#[cfg_attr(
    not(feature = "gix-engine"),
    ignore = "without gix-engine, content is compared as read (normalize.rs)"
)]
fn with_an_eol_crlf_attribute_a_crlf_work_tree_is_blamed_like_its_lf_blobs() {
    let mut repo = TestRepo::new();
    repo.write(".gitattributes", b"*.yml text eol=crlf\n");
    let [first, second] = two_commits_with_crlf_work_tree(&mut repo);
    assert_blame(
        &repo,
        CONFIG,
        V2,
        &[
            first.clone(),
            first.clone(),
            first.clone(),
            first.clone(),
            second.clone(),
        ],
    );

    // An edited line, and a new last line without a newline: lines stay one to one with the bytes given.
    let mut edited = replace(V2, "  db:", "  database:");
    edited.extend_from_slice(b"  cache:\r\n    image: redis");
    repo.write(CONFIG, &edited);
    let expected = [
        first.clone(),
        first.clone(),
        first.clone(),
        LineOrigin::Uncommitted,
        second,
        LineOrigin::Uncommitted,
        LineOrigin::Uncommitted,
    ];
    assert_blame(&repo, CONFIG, &edited, &expected);
}

#[test]
fn files_git_keeps_as_they_are_are_compared_raw() {
    let mut repo = TestRepo::new();
    repo.git(&["config", "core.autocrlf", "true"]);
    repo.write(".gitattributes", b"raw.yml -text\n");
    // -text: stored as written, LF here; a CRLF copy in the work tree differs on every line.
    repo.write("raw.yml", b"a: 1\nb: 2\n");
    // Binary to text=auto (a NUL): stored as written, LF here.
    repo.write("binary.yml", b"a: \x00\nb: 2\n");
    let (first, time) = repo.commit_all("first");
    let first = committed(&first, time);

    let raw_crlf = b"a: 1\r\nb: 2\r\n";
    assert_blame(
        &repo,
        "raw.yml",
        raw_crlf,
        &vec![LineOrigin::Uncommitted; 2],
    );
    let binary_crlf = b"a: \x00\r\nb: 2\r\n";
    assert_blame(
        &repo,
        "binary.yml",
        binary_crlf,
        &vec![LineOrigin::Uncommitted; 2],
    );
    // As stored: committed.
    assert_blame(&repo, "raw.yml", b"a: 1\nb: 2\n", &[first.clone(), first]);
}

#[test]
fn a_file_committed_with_crlf_before_autocrlf_was_set_is_compared_raw() {
    let mut repo = TestRepo::new();
    repo.write(CONFIG, V1);
    let (first, first_time) = repo.commit_all("first");
    assert!(blob(&repo, CONFIG).contains(&b'\r'), "git stored CRLF");
    repo.git(&["config", "core.autocrlf", "true"]);
    let first = committed(&first, first_time);
    // text=auto leaves a file alone whose indexed blob has CRs: the CRLF work tree equals it.
    assert_blame(
        &repo,
        CONFIG,
        V1,
        &[
            first.clone(),
            first.clone(),
            first.clone(),
            first.clone(),
            first.clone(),
        ],
    );
    let edited = replace(V1, "postgres:15", "postgres:16");
    assert_blame(
        &repo,
        CONFIG,
        &edited,
        &[
            first.clone(),
            first.clone(),
            first.clone(),
            first,
            LineOrigin::Uncommitted,
        ],
    );
}
