//! The compose-sections example run as a user would, from a copy: editing one service
//! rebuilds only that service's target.

mod common;

use std::path::Path;
use std::process::Command;

use common::{fuse_available, is_mounted, vfs_binary};
use vfs_testkit::mounts::UnmountGuard;

/// The `rebuilding X` lines of the demo's output section that starts with `== {title}`.
fn rebuilt_in_section(output: &str, title: &str) -> Vec<String> {
    let mut sections = output
        .split("== ")
        .filter(|section| section.starts_with(title));
    let section = sections
        .next()
        .unwrap_or_else(|| panic!("no section {title:?} in:\n{output}"));
    let mut rebuilt: Vec<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("rebuilding "))
        .map(str::to_string)
        .collect();
    rebuilt.sort();
    rebuilt
}

#[test]
fn the_compose_sections_demo_rebuilds_only_the_edited_service() {
    if !fuse_available() {
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose-sections");
    let work = tempfile::tempdir().expect("temporary directory");
    for file in ["Makefile", "demo.sh", "setup.sh", "docker-compose.yml"] {
        std::fs::copy(example.join(file), work.path().join(file)).expect("copy the example");
    }
    let mountpoint = work.path().join(".cfgfs");
    // Lazily unmounts the example's mount if the demo left it behind (it should not).
    let _unmount = UnmountGuard(mountpoint.clone());

    let output = Command::new("bash")
        .arg("demo.sh")
        .current_dir(work.path())
        .env("VFS", vfs_binary())
        .output()
        .expect("run demo.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo.sh failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        rebuilt_in_section(&stdout, "first build"),
        ["cache", "db", "web"]
    );
    assert!(rebuilt_in_section(&stdout, "nothing changed").is_empty());
    assert_eq!(
        rebuilt_in_section(&stdout, "after editing the db service"),
        ["db"]
    );
    assert!(
        !is_mounted(&mountpoint),
        "the demo unmounts what it mounted"
    );
}

/// Copies `from` into `to`, folders included, leaving out the files `skip` names.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).expect("create the copy's folder");
    for entry in std::fs::read_dir(from).expect("read the example") {
        let entry = entry.expect("an entry of the example");
        let name = entry.file_name();
        if skip.iter().any(|skipped| name == *skipped) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("its type").is_dir() {
            copy_tree(&entry.path(), &target, skip);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file of the example");
        }
    }
}

/// The tutorial's promise (docs/writing-a-provider.md, step 1): hello's Cargo.toml works
/// outside this workspace once its paths point at a checkout of vfs, dev-dependencies (tokio's
/// `macros`, `test-util`) included. A copy of the crate in a temporary folder, its paths made
/// absolute, is checked with every target (library, binary, unit and integration tests) against
/// this workspace's Cargo.lock, offline.
#[test]
fn the_hello_provider_builds_outside_the_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().expect("temporary directory");
    let copy = work.path().join("hello-provider");
    // docs.rs quotes the tutorial by a path into this checkout; it is no part of the pattern.
    copy_tree(
        &root.join("examples/hello-provider"),
        &copy,
        &["docs.rs", "target"],
    );
    let manifest = std::fs::read_to_string(copy.join("Cargo.toml")).expect("hello's Cargo.toml");
    let inherits = manifest
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .any(|line| line.contains("workspace"));
    assert!(
        !inherits,
        "hello's Cargo.toml inherits from the workspace:\n{manifest}"
    );
    let crates = format!("path = \"{}/crates/", root.display());
    let manifest = manifest.replace("path = \"../../crates/", &crates);
    std::fs::write(copy.join("Cargo.toml"), manifest).expect("write the copy's Cargo.toml");
    std::fs::copy(root.join("Cargo.lock"), copy.join("Cargo.lock")).expect("copy Cargo.lock");
    // A target folder of its own (this test's cargo holds the workspace's), kept between runs.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hello-outside-the-workspace");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["check", "--offline", "--all-targets", "--quiet"])
        .current_dir(&copy)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo check");
    assert!(
        output.status.success(),
        "hello-provider does not build outside the workspace:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
