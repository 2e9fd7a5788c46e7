//! Every engine against `git blame --porcelain` on a file with a longer history: lines modified, moved,
//! deleted and re-added, repeated lines, a merged side branch and a rename.
mod common;

use std::path::Path;

use common::TestRepo;
use vfs_blame::{Blamer, EngineKind, LineOrigin};

/// A small deterministic generator, so the history is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

/// Lines that recur in real YAML, so some diffs are ambiguous.
const REPEATED: &[&str] = &["    restart: always", "    ports:", "  # ----", ""];

fn render(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

fn evolve(lines: &mut Vec<String>, graveyard: &mut Vec<String>, random: &mut Lcg, step: usize) {
    for _ in 0..1 + random.below(3) {
        match random.below(7) {
            0 | 1 => {
                let at = random.below(lines.len());
                lines[at] = format!("  key{at}: value {step}");
            }
            2 => {
                let at = random.below(lines.len() + 1);
                lines.insert(at, format!("  added{step}: {}", random.below(1000)));
            }
            3 if lines.len() > 10 => {
                let at = random.below(lines.len());
                graveyard.push(lines.remove(at));
            }
            4 if !graveyard.is_empty() => {
                let line = graveyard.remove(random.below(graveyard.len()));
                let at = random.below(lines.len() + 1);
                lines.insert(at, line);
            }
            5 if lines.len() > 12 => {
                let from = random.below(lines.len() - 3);
                let block: Vec<String> = lines.drain(from..from + 3).collect();
                let to = random.below(lines.len() + 1);
                for (offset, line) in block.into_iter().enumerate() {
                    lines.insert(to + offset, line);
                }
            }
            _ => {
                let at = random.below(lines.len() + 1);
                lines.insert(at, REPEATED[random.below(REPEATED.len())].to_string());
            }
        }
    }
}

fn first_difference(actual: &[LineOrigin], expected: &[LineOrigin]) -> String {
    if actual.len() != expected.len() {
        return format!("{} lines, oracle has {}", actual.len(), expected.len());
    }
    let differing: Vec<usize> = (0..actual.len())
        .filter(|index| actual[*index] != expected[*index])
        .collect();
    match differing.first() {
        None => "none".to_string(),
        Some(index) => format!(
            "{} differing lines; first at line {}: {:?} vs oracle {:?}",
            differing.len(),
            index + 1,
            actual[*index],
            expected[*index]
        ),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// 200 commits on main, a 20-commit side branch merged at commit 100, a rename at 150.
    MergeAndRename,
    /// 200 commits in a chain; the file is created after an unrelated first commit, and deleted and re-created at 120.
    Chain,
}

fn long_history(shape: Shape) -> (TestRepo, &'static str) {
    let mut repo = TestRepo::new();
    if shape == Shape::Chain {
        repo.write("README", b"unrelated\n");
        repo.commit_all("unrelated first commit");
    }
    let mut random = Lcg(42);
    let mut lines: Vec<String> = (0..80)
        .map(|index| format!("  key{index}: initial"))
        .collect();
    let mut graveyard = Vec::new();
    let mut path = "config.yml";
    repo.write(path, &render(&lines));
    repo.commit_all("initial");
    for step in 1..200 {
        if shape == Shape::Chain && step == 120 {
            repo.git(&["rm", "-q", path]);
            repo.commit_staged("delete");
            continue;
        }
        if shape == Shape::MergeAndRename && step == 100 {
            repo.git(&["checkout", "-q", "-b", "side", "HEAD~30"]);
            let mut side: Vec<String> = String::from_utf8(repo.read(path))
                .expect("utf-8")
                .lines()
                .map(str::to_string)
                .collect();
            for side_step in 0..20 {
                // The side branch only touches its own region at the top, so the merge is clean.
                side.insert(side_step, format!("side{side_step}: {}", random.below(100)));
                repo.write(path, &render(&side));
                repo.commit_all("side");
            }
            repo.git(&["checkout", "-q", "main"]);
            repo.merge("side");
            lines = String::from_utf8(repo.read(path))
                .expect("utf-8")
                .lines()
                .map(str::to_string)
                .collect();
            continue;
        }
        if shape == Shape::MergeAndRename && step == 150 {
            repo.git(&["mv", path, "renamed.yml"]);
            path = "renamed.yml";
            repo.commit_staged("rename");
            continue;
        }
        // Keep the side region (the first 20 lines after the merge) apart from main's edits before the merge.
        evolve(&mut lines, &mut graveyard, &mut random, step);
        if shape == Shape::MergeAndRename && step < 100 {
            // Main never edits above line 0 before the merge, so the side's insertions merge cleanly.
            if lines.first().map(String::as_str) != Some("top: main") {
                lines.insert(0, "top: main".to_string());
            }
        }
        repo.write(path, &render(&lines));
        repo.commit_all("step");
    }
    (repo, path)
}

/// HEAD's content, an edited copy (one line changed, one removed, one added), and the oracle for both.
struct Case {
    repo: TestRepo,
    path: &'static str,
    head_content: Vec<u8>,
    edited: Vec<u8>,
    expected_head: Vec<LineOrigin>,
    expected_edited: Vec<LineOrigin>,
}

fn case(shape: Shape) -> Case {
    let (repo, path) = long_history(shape);
    let head_content = repo.read(path);
    let mut edited: Vec<String> = String::from_utf8(head_content.clone())
        .expect("utf-8")
        .lines()
        .map(str::to_string)
        .collect();
    edited[5] = "  edited: in the work tree".to_string();
    edited.remove(40);
    edited.insert(60, "  new: line".to_string());
    let edited = render(&edited);
    let expected_head = repo.oracle(path, &head_content);
    let expected_edited = repo.oracle(path, &edited);
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
    let mut commits: Vec<&LineOrigin> = expected_head.iter().collect();
    commits.sort_by_key(|line| line.commit_time());
    commits.dedup();
    assert!(
        commits.len() > 50,
        "the history should spread blame over many commits, got {}",
        commits.len()
    );
    Case {
        repo,
        path,
        head_content,
        edited,
        expected_head,
        expected_edited,
    }
}

/// Blames HEAD's and the edited content with `engine`; returns what differs from the oracle on the lines `compared` keeps.
fn differences(
    case: &Case,
    engine: EngineKind,
    compared: impl Fn(&[u8], usize) -> bool,
) -> Vec<String> {
    let blamer = Blamer::discover_with_engine(case.repo.path(), engine).expect("discover");
    let head = blamer
        .blame(Path::new(case.path), &case.head_content)
        .expect("blame");
    let edited = blamer
        .blame(Path::new(case.path), &case.edited)
        .expect("blame");
    let mut failures = Vec::new();
    for (what, content, actual, expected) in [
        (
            "HEAD content",
            &case.head_content,
            &head.lines,
            &case.expected_head,
        ),
        (
            "edited content",
            &case.edited,
            &edited.lines,
            &case.expected_edited,
        ),
    ] {
        let keep = |lines: &[LineOrigin]| -> Vec<LineOrigin> {
            lines
                .iter()
                .enumerate()
                .filter(|(index, _)| compared(content, *index))
                .map(|(_, line)| line.clone())
                .collect()
        };
        if actual.len() != expected.len() || keep(actual) != keep(expected) {
            failures.push(format!(
                "{} on {what}: {}",
                engine.name(),
                first_difference(&keep(actual), &keep(expected))
            ));
        }
    }
    failures
}

#[test]
fn git_cli_gix_and_parallel_match_git_blame_exactly_on_a_history_with_a_merge_and_a_rename() {
    exact_engines_match(Shape::MergeAndRename);
}

#[test]
fn git_cli_gix_and_parallel_match_git_blame_exactly_on_a_chain_with_a_deletion() {
    exact_engines_match(Shape::Chain);
}

fn exact_engines_match(shape: Shape) {
    let case = case(shape);
    // libgit2 (feature `bench`) is held to a weaker rule below.
    let exact: Vec<EngineKind> = EngineKind::ALL
        .iter()
        .copied()
        .filter(|engine| engine.name() != "libgit2")
        .collect();
    assert!(
        exact.len() >= 2,
        "the git CLI and the parallel (gix) engines are both built"
    );
    let failures: Vec<String> = exact
        .into_iter()
        .flat_map(|engine| differences(&case, engine, |_, _| true))
        .collect();
    assert!(
        failures.is_empty(),
        "engines differ from git blame:\n{}",
        failures.join("\n")
    );
}

#[cfg(feature = "bench")]
/// libgit2 may keep a different copy of a repeated line than git does (its diff lacks git's slider
/// heuristics), so it is held to git's answer on every line whose text is unique in the file.
#[test]
fn libgit2_matches_git_blame_on_every_line_whose_text_is_unique() {
    let case = case(Shape::MergeAndRename);
    let unique = |content: &[u8], index: usize| {
        let lines: Vec<&[u8]> = content.split(|byte| *byte == b'\n').collect();
        lines.iter().filter(|line| **line == lines[index]).count() == 1
    };
    let failures = differences(&case, EngineKind::Libgit2, unique);
    assert!(
        failures.is_empty(),
        "libgit2 differs from git blame:\n{}",
        failures.join("\n")
    );
}
