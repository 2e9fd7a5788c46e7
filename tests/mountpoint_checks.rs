//! What `vfs mount` does with an unlucky mountpoint: a provider that cannot start leaves no
//! folder behind, mounting over a non-empty folder warns, mounting SOURCE onto itself (or onto
//! a folder above it) is refused before anything is mounted.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{fuse_available, is_mounted, vfs_binary, vfs_command_logged, VfsMount};
use vfs_testkit::mounts::UnmountGuard;

/// `vfs ARGS…` run to its end; killed (and the test failed) after `limit`.
fn vfs_within(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(vfs_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vfs");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait for vfs").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("reap vfs");
            panic!(
                "vfs {args:?} still running after {limit:?} (mounted or hung); stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("reap vfs")
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn a_source_that_is_missing_leaves_no_mountpoint_folder_behind() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("no-such-source");
    let mnt = work.path().join("x/new");
    let _guard = UnmountGuard(mnt.clone());

    let output = vfs_within(
        &[
            "mount",
            "--mkdir",
            "gitconfig",
            &text(&missing),
            &text(&mnt),
        ],
        Duration::from_secs(20),
    );

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the mount succeeded: {stderr}");
    assert!(
        stderr.contains("no-such-source"),
        "the error names SOURCE: {stderr}"
    );
    assert!(!is_mounted(&mnt));
    assert!(
        !work.path().join("x").exists(),
        "the mountpoint's folders were created and left behind"
    );
}

#[test]
fn mounting_over_a_non_empty_folder_warns_how_many_entries_it_hides() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (src, mnt) = (work.path().join("src"), work.path().join("mnt"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("served.txt"), "served\n").unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::write(mnt.join("hidden.txt"), "hidden\n").unwrap();
    std::fs::write(mnt.join(".dotfile"), "").unwrap();
    let log = work.path().join("vfs.log");

    let mount = VfsMount::start_command(
        vfs_command_logged(&["mount", "gitconfig", &text(&src), &text(&mnt)], &log),
        &mnt,
    );

    assert_eq!(
        std::fs::read_to_string(mnt.join("served.txt")).unwrap(),
        "served\n",
        "the mount works"
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    let warning = format!(
        "vfs: warning: mountpoint {} is not empty: its 2 entries are hidden while mounted",
        mnt.display()
    );
    assert_eq!(
        stderr.lines().filter(|line| *line == warning).count(),
        1,
        "one warning line {warning:?} in: {stderr}"
    );
    drop(mount);
    assert_eq!(
        std::fs::read_to_string(mnt.join("hidden.txt")).unwrap(),
        "hidden\n"
    );
}

#[test]
fn mounting_source_onto_itself_is_refused_in_one_line() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.yml"), "a: 1\n").unwrap();
    let _guard = UnmountGuard(dir.clone());

    let output = vfs_within(
        &["mount", "gitconfig", &text(&dir), &text(&dir)],
        Duration::from_secs(10),
    );

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the mount succeeded: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "vfs: error: mountpoint {} is SOURCE itself: mount it elsewhere \
             (a folder inside SOURCE works)",
            dir.display()
        )
    );
    assert!(!is_mounted(&dir), "something was mounted");
}

#[test]
fn mounting_over_a_folder_above_source_is_refused_in_one_line() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (top, src) = (work.path().join("top"), work.path().join("top/src"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.yml"), "a: 1\n").unwrap();
    let _guard = UnmountGuard(top.clone());

    let output = vfs_within(
        &["mount", "gitconfig", &text(&src), &text(&top)],
        Duration::from_secs(10),
    );

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the mount succeeded: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "vfs: error: mountpoint {} holds SOURCE {}: the mount would hide it; \
             mount it elsewhere (a folder inside SOURCE works)",
            top.display(),
            src.display()
        )
    );
    assert!(!is_mounted(&top), "something was mounted");
}

#[test]
fn a_missing_mountpoint_is_an_error_unless_it_is_a_default_name_or_mkdir_is_given() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // A typo: one line, non-zero, no folder made.
    let typo = work.path().join(".cfgsf");
    let output = vfs_within(
        &["mount", "gitconfig", &text(&src), &text(&typo)],
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "vfs: error: mountpoint {} does not exist: create it, or pass --mkdir \
             (only .dockerfs and .cfgfs are created without asking)",
            text(&typo)
        )
    );
    assert!(!typo.exists(), "a typo made a folder");
    // The documented name, and any name with --mkdir, are made and mounted.
    for (mountpoint, extra) in [
        (work.path().join(".cfgfs"), None),
        (typo.clone(), Some("--mkdir")),
    ] {
        let _guard = UnmountGuard(mountpoint.clone());
        let mut args = vec!["mount", "-d"];
        args.extend(extra);
        let (src_text, mnt_text) = (text(&src), text(&mountpoint));
        args.extend(["gitconfig", &src_text, &mnt_text]);
        let output = vfs_within(&args, Duration::from_secs(20));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(is_mounted(&mountpoint));
        let output = vfs_within(&["unmount", &mnt_text], Duration::from_secs(20));
        assert!(output.status.success());
    }
}
