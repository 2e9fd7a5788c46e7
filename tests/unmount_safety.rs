//! `vfs unmount` takes down vfs mounts only: a bindfs mount, a tmpfs, a busy bind mount are
//! refused with one line naming what is mounted there, and stay mounted; a plain folder is "not
//! mounted"; a vfs mount is unmounted.
//!
//! Mounting a tmpfs or a bind mount needs root: without it these tests skip, saying why.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{fuse_available, is_mounted, run, vfs_binary, within, VfsMount};

/// Whether this process may mount a tmpfs and bind mounts (root), and FUSE is there.
fn can_mount() -> bool {
    if !fuse_available() {
        return false;
    }
    // SAFETY: geteuid(2) takes no arguments and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: mounting a tmpfs or a bind mount needs root");
    }
    root
}

/// Unmounts a mount the test made (not vfs's) when dropped, even when the test fails:
/// `fusermount3 -u` for a FUSE mount, `umount` otherwise, lazily as a last resort.
struct Cleanup {
    path: PathBuf,
    fuse: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !is_mounted(&self.path) {
            return;
        }
        let (program, args): (&str, &[&str]) = if self.fuse {
            ("fusermount3", &["-u"])
        } else {
            ("umount", &[])
        };
        let done = Command::new(program)
            .args(args)
            .arg(&self.path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !done {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.path)
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs `program args… path`, checks that `path` is mounted, and returns its cleanup guard.
fn mount_with(program: &str, args: &[&str], path: &Path, fuse: bool) -> Cleanup {
    let mut all: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    all.push(path.display().to_string());
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let cleanup = Cleanup {
        path: path.to_path_buf(),
        fuse,
    };
    run(program, &all, None);
    assert!(
        is_mounted(path),
        "{program} did not mount {}",
        path.display()
    );
    cleanup
}

/// `vfs unmount PATH`, bounded in time.
fn vfs_unmount(path: &Path) -> Output {
    let path = path.to_path_buf();
    within(Duration::from_secs(20), "vfs unmount", move || {
        Command::new(vfs_binary())
            .arg("unmount")
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .expect("run vfs unmount")
    })
}

/// The refusal: non-zero exit and exactly one stderr line, naming the path and what is there.
fn assert_refused(output: &Output, path: &Path, mounted: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "vfs unmount succeeded: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "vfs: error: {} holds {mounted}, not a vfs mount: not unmounting it",
            path.display()
        ),
        "one line naming the mount"
    );
}

/// A folder of its own on a fresh tmpfs: what is under it is the test's alone.
fn tmpfs_at(path: &Path) -> Cleanup {
    std::fs::create_dir_all(path).unwrap();
    mount_with("mount", &["-t", "tmpfs", "tmpfs"], path, false)
}

#[test]
fn a_bindfs_mount_is_refused_and_stays_mounted() {
    if !can_mount() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (src, mnt) = (work.path().join("src"), work.path().join("mnt"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::write(src.join("kept.txt"), "kept\n").unwrap();
    let _bindfs = mount_with("bindfs", &[&src.display().to_string()], &mnt, true);
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // As root bindfs mounts with type `fuse` (through fusermount3 it would be `fuse.bindfs`).
    let fs_type = if table.contains(&format!("{} - fuse.bindfs ", mnt.display())) {
        "fuse.bindfs"
    } else {
        "fuse"
    };

    let output = vfs_unmount(&mnt);

    assert_refused(
        &output,
        &mnt,
        &format!("a {fs_type} mount ({})", src.display()),
    );
    assert!(is_mounted(&mnt), "the bindfs mount was unmounted");
    assert_eq!(
        std::fs::read_to_string(mnt.join("kept.txt")).unwrap(),
        "kept\n"
    );
}

#[test]
fn a_tmpfs_mount_is_refused_and_stays_mounted() {
    if !can_mount() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let mnt = work.path().join("mnt");
    let _tmpfs = tmpfs_at(&mnt);
    std::fs::write(mnt.join("kept.txt"), "kept\n").unwrap();

    let output = vfs_unmount(&mnt);

    assert_refused(&output, &mnt, "a tmpfs mount (tmpfs)");
    assert!(is_mounted(&mnt), "the tmpfs was unmounted");
    assert_eq!(
        std::fs::read_to_string(mnt.join("kept.txt")).unwrap(),
        "kept\n"
    );
}

/// A process whose working directory is `dir` (the mount there is busy while it lives).
struct Resident(Child);

impl Resident {
    fn in_dir(dir: &Path) -> Resident {
        let child = Command::new("sleep")
            .arg("300")
            .current_dir(dir)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Resident(child)
    }
}

impl Drop for Resident {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_busy_bind_mount_is_refused_not_detached() {
    if !can_mount() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (base, mnt) = (work.path().join("base"), work.path().join("mnt"));
    // Dropped last: the bind mount and its resident go first.
    let _base = tmpfs_at(&base);
    std::fs::create_dir(base.join("inner")).unwrap();
    std::fs::write(base.join("inner/kept.txt"), "kept\n").unwrap();
    std::fs::create_dir(&mnt).unwrap();
    let _bind = mount_with(
        "mount",
        &["--bind", &base.join("inner").display().to_string()],
        &mnt,
        false,
    );
    let resident = Resident::in_dir(&mnt);

    let output = vfs_unmount(&mnt);

    assert_refused(&output, &mnt, "a tmpfs mount (tmpfs)");
    assert!(
        is_mounted(&mnt),
        "the busy bind mount was detached from the tree"
    );
    assert_eq!(
        std::fs::read_to_string(mnt.join("kept.txt")).unwrap(),
        "kept\n"
    );
    drop(resident);
}

#[test]
fn a_plain_folder_is_not_mounted() {
    let work = tempfile::tempdir().unwrap();

    let output = vfs_unmount(work.path());

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(
        stderr.trim_end(),
        format!("vfs: error: {} is not mounted", work.path().display())
    );
}

#[test]
fn a_vfs_mount_is_unmounted() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (src, mnt) = (work.path().join("src"), work.path().join("mnt"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::write(src.join("a.txt"), "a\n").unwrap();
    let mut mount = VfsMount::start(
        &[
            "mount",
            "gitconfig",
            &src.display().to_string(),
            &mnt.display().to_string(),
        ],
        &mnt,
    );
    assert_eq!(std::fs::read_to_string(mnt.join("a.txt")).unwrap(), "a\n");

    let output = vfs_unmount(&mnt);

    assert!(
        output.status.success(),
        "vfs unmount: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!is_mounted(&mnt), "still mounted");
    // The foreground vfs sees the outside unmount and ends cleanly.
    assert_eq!(mount.stop_with(libc::SIGTERM), Some(0));
}
