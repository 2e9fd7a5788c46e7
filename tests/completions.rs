//! `vfs completions SHELL` and `vfs man` are generated from the command line itself and name
//! every subcommand (read from `vfs --help`, so a new one is checked too).

mod common;

use std::process::Command;

use common::vfs_binary;

fn stdout(args: &[&str]) -> String {
    let output = Command::new(vfs_binary()).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "vfs {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The subcommands `vfs --help` lists.
fn subcommands() -> Vec<String> {
    let help = stdout(&["--help"]);
    let listed: Vec<String> = help
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    for known in [
        "providers",
        "mount",
        "unmount",
        "wait",
        "tree",
        "completions",
        "man",
    ] {
        assert!(
            listed.iter().any(|name| name == known),
            "{known} not in --help:\n{help}"
        );
    }
    listed
}

#[test]
fn completions_name_every_subcommand_for_bash_zsh_and_fish() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&["completions", shell]);
        assert!(script.len() > 1000, "{shell}: {script}");
        for name in &names {
            assert!(
                script.contains(name.as_str()),
                "{shell} completion lacks {name}"
            );
        }
        // A provider's own options are in them too.
        assert!(
            script.contains("state-dir"),
            "{shell} completion lacks gitconfig's --state-dir"
        );
    }
}

#[test]
fn the_man_page_names_every_subcommand_and_pages_are_written() {
    let names = subcommands();
    let page = stdout(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH vfs 1"),
        "{page}"
    );
    for name in &names {
        assert!(page.contains(name.as_str()), "the man page lacks {name}");
    }
    let dir = tempfile::tempdir().unwrap();
    stdout(&["man", "--dir", &dir.path().display().to_string()]);
    for page in ["vfs.1", "vfs-mount.1", "vfs-tree.1", "vfs-mount-docker.1"] {
        assert!(dir.path().join(page).exists(), "{page} not written");
    }
}
