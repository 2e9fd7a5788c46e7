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
