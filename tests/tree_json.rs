//! `vfs tree --json` against `stat` through a mount of the same provider: every node's kind,
//! time (RFC 3339 with nanoseconds), size (when known) and link target; `tree`'s own options.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::{docker_available, fuse_available, git, vfs_binary, VfsMount};

/// Seconds and nanoseconds since the epoch as `vfs tree` writes them (UTC, nanoseconds).
fn rfc3339(seconds: i64, nanos: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

fn tree_json(args: &[&str]) -> Vec<serde_json::Value> {
    let output = Command::new(vfs_binary())
        .arg("tree")
        .args(args)
        .arg("--json")
        .output()
        .expect("run vfs tree");
    assert!(
        output.status.success(),
        "vfs tree {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{line}: {error}")))
        .collect()
}

/// The differences between each node of `nodes` and what `stat` says through `mount`.
fn differences(nodes: &[serde_json::Value], mount: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for node in nodes {
        let path = node["path"].as_str().expect("path");
        let on_mount = mount.join(path.trim_start_matches('/'));
        let metadata = match std::fs::symlink_metadata(&on_mount) {
            Ok(metadata) => metadata,
            Err(error) => {
                found.push(format!("{path}: {error}"));
                continue;
            }
        };
        let kind = if metadata.is_dir() {
            "dir"
        } else if metadata.file_type().is_symlink() {
            "link"
        } else {
            "file"
        };
        if node["kind"] != kind {
            found.push(format!("{path}: kind {} vs {kind}", node["kind"]));
        }
        let time = rfc3339(metadata.mtime(), metadata.mtime_nsec());
        if node["time"] != time.as_str() {
            found.push(format!("{path}: time {} vs {time}", node["time"]));
        }
        if let Some(size) = node["size"].as_u64() {
            if size != metadata.len() {
                found.push(format!("{path}: size {size} vs {}", metadata.len()));
            }
        }
        if kind == "link" {
            let target = std::fs::read_link(&on_mount).map(|t| t.display().to_string());
            if node["target"].as_str() != target.as_deref().ok() {
                found.push(format!("{path}: target {} vs {target:?}", node["target"]));
            }
        }
    }
    found
}

#[test]
fn tree_json_matches_stat_for_every_node_of_a_gitconfig_mount() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let mnt = work.path().join("mnt");
    std::fs::create_dir_all(src.join("conf")).unwrap();
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(
        src.join("docker-compose.yml"),
        "services:\n  web:\n    image: app\n  db:\n    image: pg\n",
    )
    .unwrap();
    std::fs::write(src.join("conf/plain.txt"), "hello\n").unwrap();
    std::os::unix::fs::symlink("docker-compose.yml", src.join("link.yml")).unwrap();
    git(&src, &["init", "-q"], None);
    git(&src, &["add", "."], None);
    git(&src, &["commit", "-q", "-m", "first"], Some(1_700_000_000));
    let state = work.path().join("state");
    let state = state.to_str().unwrap();
    let (src_text, mnt_text) = (src.to_str().unwrap(), mnt.to_str().unwrap());
    let _mount = VfsMount::start_with_env(
        &["mount", "gitconfig", src_text, mnt_text],
        &mnt,
        &[("VFS_STATE_DIR", state)],
    );
    let output = Command::new(vfs_binary())
        .env("VFS_STATE_DIR", state)
        .args(["tree", "gitconfig", src_text, "--json"])
        .output()
        .unwrap();
    let nodes: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(nodes.len() >= 8, "{nodes:?}");
    assert!(nodes.iter().any(|node| node["kind"] == "link"));
    assert!(nodes.iter().any(|node| node["size"].as_u64().is_some()));
    let found = differences(&nodes, &mnt);
    assert!(
        found.is_empty(),
        "tree --json differs from stat:\n{}",
        found.join("\n")
    );
}

#[test]
fn tree_json_matches_stat_for_every_node_of_a_docker_mount() {
    if !fuse_available() || !docker_available() {
        return;
    }
    let _engine = common::EngineLock::shared();
    let work = tempfile::tempdir().unwrap();
    let mnt = work.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _mount = VfsMount::start(&["mount", "docker", mnt.to_str().unwrap()], &mnt);
    // Other tests change the engine meanwhile: a walk that met a change is walked again.
    let mut last = Vec::new();
    for _ in 0..5 {
        let nodes = tree_json(&["docker"]);
        assert!(
            nodes.iter().any(|node| node["path"] == "/networks"),
            "{nodes:?}"
        );
        last = differences(&nodes, &mnt);
        if last.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("tree --json differs from stat:\n{}", last.join("\n"));
}

#[test]
fn a_subtree_to_a_depth_and_only_trees_options() {
    if !docker_available() {
        return;
    }
    let nodes = tree_json(&["docker", "--path", "/networks", "--depth", "1"]);
    assert_eq!(nodes[0]["path"], "/networks");
    assert!(nodes.len() > 1);
    for node in &nodes[1..] {
        let path = node["path"].as_str().unwrap();
        assert_eq!(
            path.matches('/').count(),
            2,
            "{path} is not directly below /networks"
        );
    }
    let help = Command::new(vfs_binary())
        .args(["tree", "docker", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for mount_only in [
        "--ttl",
        "--allow-other",
        "--debug-fuse",
        "MOUNTPOINT",
        "--daemon",
    ] {
        assert!(
            !help.contains(mount_only),
            "tree --help lists {mount_only}:\n{help}"
        );
    }
    for own in ["--json", "--path", "--depth"] {
        assert!(help.contains(own), "tree --help lacks {own}:\n{help}");
    }
    for stray in [&["docker", "stray"][..], &["gitconfig", "/tmp", "stray"]] {
        let output = Command::new(vfs_binary())
            .arg("tree")
            .args(stray)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{stray:?} was accepted");
        assert!(String::from_utf8_lossy(&output.stderr).contains("stray"));
    }
}
