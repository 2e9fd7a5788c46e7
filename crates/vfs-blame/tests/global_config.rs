//! `blame.ignoreRevsFile` in the global configuration (`~/.gitconfig`, found by $HOME) naming its list by
//! `~/`: read as git reads it, and read again by a blamer that answered before when the global file
//! changes. A test binary of its own, with one test: it sets the process's HOME.
mod common;

use std::path::Path;

use common::TestRepo;
use vfs_blame::{Blamer, EngineKind, LineOrigin};

const CONFIG: &str = "config.yml";

const A: &[u8] = b"services:\n  web:\n    image: nginx\n  db:\n    image: postgres:15\n";
/// A re-indented (four spaces), nothing else.
const B: &[u8] =
    b"services:\n    web:\n        image: nginx\n    db:\n        image: postgres:15\n";
/// B with one value changed.
const C: &[u8] =
    b"services:\n    web:\n        image: nginx\n    db:\n        image: postgres:16\n";

/// What is done, how, and the times git then gives the five lines.
type Step<'a> = (&'a str, &'a dyn Fn(), [Option<i64>; 5]);

fn times(lines: &[LineOrigin]) -> Vec<Option<i64>> {
    lines.iter().map(LineOrigin::commit_time).collect()
}

#[test]
fn a_global_ignore_revs_file_under_home_is_read_and_read_again_when_the_global_file_changes() {
    let home = tempfile::tempdir().expect("temporary home");
    // Only this test runs in this process, so nothing else reads the environment meanwhile.
    std::env::set_var("HOME", home.path());
    std::env::set_var("XDG_CONFIG_HOME", home.path().join(".config"));
    std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
    std::env::remove_var("GIT_CONFIG_GLOBAL");

    let mut repo = TestRepo::new();
    repo.write(CONFIG, A);
    let (_, a) = repo.commit_all("A: values");
    repo.write(CONFIG, B);
    let (b_id, b) = repo.commit_all("B: re-indent");
    repo.write(CONFIG, C);
    let (_, c) = repo.commit_all("C: postgres 16");
    std::fs::write(home.path().join("ignored-revs"), format!("{b_id}\n")).expect("write the list");

    let mut engines = vec![EngineKind::DEFAULT];
    if EngineKind::DEFAULT != EngineKind::GitCli {
        engines.push(EngineKind::GitCli);
    }
    let content = repo.read(CONFIG);
    let blamers: Vec<Blamer> = engines
        .iter()
        .map(|engine| Blamer::discover_with_engine(repo.path(), *engine).expect("discover"))
        .collect();
    let without = [a, b, b, b, c].map(Some);
    let ignoring = [a, a, a, a, c].map(Some);
    let gitconfig = home.path().join(".gitconfig");
    let xdg_config = home.path().join(".config/git/config");
    let setting = "[blame]\n\tignoreRevsFile = ~/ignored-revs\n";
    let steps: [Step; 4] = [
        ("no global configuration", &|| {}, without),
        (
            "~/.gitconfig names ~/ignored-revs",
            &|| std::fs::write(&gitconfig, setting).expect("write ~/.gitconfig"),
            ignoring,
        ),
        (
            "~/.gitconfig no longer names it",
            &|| std::fs::write(&gitconfig, "[user]\n\tname = Someone\n").expect("write"),
            without,
        ),
        (
            "~/.config/git/config names it",
            &|| {
                std::fs::create_dir_all(home.path().join(".config/git")).expect("mkdir");
                std::fs::write(&xdg_config, setting).expect("write ~/.config/git/config");
            },
            ignoring,
        ),
    ];
    for (what, change, expected) in steps {
        change();
        let oracle = repo.oracle_with_home(CONFIG, &content, home.path());
        assert_eq!(times(&oracle), expected, "git, {what}");
        for blamer in &blamers {
            let blame = blamer.blame(Path::new(CONFIG), &content).expect("blame");
            assert_eq!(blame.lines, oracle, "{}, {what}", blamer.engine().name());
        }
    }
}
