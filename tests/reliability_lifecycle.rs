//! The mount's life under signals (SIGKILL then `vfs unmount`; SIGINT/SIGTERM under heavy
//! reads) and its security: private by default, read-only everywhere (EROFS, nothing
//! changed), nothing outside SOURCE served.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    as_nobody, fuse_available, is_mounted, vfs_binary, vfs_command_logged, within, VfsMount,
};

fn source_tree(src: &Path) {
    std::fs::create_dir_all(src.join("dir/deeper")).unwrap();
    std::fs::write(
        src.join("compose.yml"),
        "services:\n  web:\n    image: nginx\n  db:\n    image: pg\n",
    )
    .unwrap();
    std::fs::write(src.join("dir/notes.txt"), "notes\n").unwrap();
    std::fs::write(src.join("dir/deeper/big.bin"), vec![7u8; 2 * 1024 * 1024]).unwrap();
    std::fs::write(src.join("script.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        src.join("script.sh"),
        std::fs::Permissions::from_mode(0o775),
    )
    .unwrap();
}

fn mount_args(src: &Path, mnt: &Path) -> Vec<String> {
    vec![
        "--ttl".into(),
        "200ms".into(),
        "mount".into(),
        "gitconfig".into(),
        src.display().to_string(),
        mnt.display().to_string(),
    ]
}

fn start(src: &Path, mnt: &Path, log: &Path, extra: &[&str]) -> VfsMount {
    let mut args: Vec<String> = extra.iter().map(|arg| arg.to_string()).collect();
    args.extend(mount_args(src, mnt));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    VfsMount::start_command(vfs_command_logged(&args, log), mnt)
}

/// Readers in loops, as separate processes: `cat` of every file, `ls -lR`, again and again.
fn start_readers(mnt: &Path, count: usize) -> Vec<Child> {
    let script = format!(
        "while :; do cat {m}/compose.yml/services/web/image {m}/dir/notes.txt {m}/dir/deeper/big.bin >/dev/null 2>&1; ls -lR {m} >/dev/null 2>&1; done",
        m = mnt.display()
    );
    (0..count)
        .map(|_| {
            Command::new("sh")
                .args(["-c", &script])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

fn stop_readers(readers: Vec<Child>) {
    for mut reader in readers {
        let _ = reader.kill();
        let _ = reader.wait();
    }
}

#[test]
fn after_sigkill_vfs_unmount_clears_the_stale_mount_and_a_new_mount_works() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (src, mnt, log) = (
        work.path().join("src"),
        work.path().join("mnt"),
        work.path().join("vfs.log"),
    );
    source_tree(&src);
    std::fs::create_dir(&mnt).unwrap();
    let mut mount = start(&src, &mnt, &log, &[]);
    assert_eq!(
        std::fs::read_to_string(mnt.join("compose.yml/services/web/image")).unwrap(),
        "nginx\n"
    );
    mount.signal(libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while mount.exited().is_none() {
        assert!(Instant::now() < deadline, "SIGKILL did not end vfs");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Stale: still in the mount table, and the kernel answers ENOTCONN.
    assert!(is_mounted(&mnt), "the killed process left its mount");
    let stale = std::fs::metadata(mnt.join("compose.yml")).unwrap_err();
    assert_eq!(stale.raw_os_error(), Some(libc::ENOTCONN), "{stale}");

    let output = within(Duration::from_secs(20), "vfs unmount", {
        let mnt = mnt.clone();
        move || {
            Command::new(vfs_binary())
                .arg("unmount")
                .arg(&mnt)
                .output()
                .unwrap()
        }
    });
    assert!(
        output.status.success(),
        "vfs unmount: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!is_mounted(&mnt), "vfs unmount cleared the stale mount");
    assert!(std::fs::read_dir(&mnt).unwrap().next().is_none());

    let log2 = work.path().join("vfs2.log");
    let mut again = start(&src, &mnt, &log2, &[]);
    assert_eq!(
        std::fs::read_to_string(mnt.join("compose.yml/services/db/image")).unwrap(),
        "pg\n"
    );
    assert_eq!(again.stop_with(libc::SIGTERM), Some(0));
    assert!(!is_mounted(&mnt));
}

#[test]
fn sigint_and_sigterm_under_heavy_reads_unmount_cleanly_with_exit_0() {
    if !fuse_available() {
        return;
    }
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let work = tempfile::tempdir().unwrap();
        let (src, mnt, log) = (
            work.path().join("src"),
            work.path().join("mnt"),
            work.path().join("vfs.log"),
        );
        source_tree(&src);
        std::fs::create_dir(&mnt).unwrap();
        let mut mount = start(&src, &mnt, &log, &[]);
        let readers = start_readers(&mnt, 6);
        std::thread::sleep(Duration::from_millis(1500));
        let signalled = Instant::now();
        let code = mount.stop_with(signal);
        let took = signalled.elapsed();
        stop_readers(readers);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!("signal {signal}: vfs exited with {code:?} after {took:?}");
        assert_eq!(code, Some(0), "signal {signal}; log:\n{text}");
        assert!(took < Duration::from_secs(10), "took {took:?}");
        assert!(!is_mounted(&mnt), "signal {signal}: mount left behind");
        assert!(!text.contains("panicked"), "{text}");
    }
}

#[test]
fn the_mount_is_private_unless_allow_other_is_given() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (src, mnt, log) = (
        work.path().join("src"),
        work.path().join("mnt"),
        work.path().join("vfs.log"),
    );
    source_tree(&src);
    std::fs::create_dir(&mnt).unwrap();
    let nobody_reads = |path: &Path| {
        let output = as_nobody("cat", &[path.to_str().unwrap()])
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    {
        let _mount = start(&src, &mnt, &log, &[]);
        let (ok, stderr) = nobody_reads(&mnt.join("dir/notes.txt"));
        assert!(!ok, "another user read a private mount");
        assert!(stderr.contains("Permission denied"), "{stderr}");
        let options = mount_options(&mnt);
        assert!(!options.contains("allow_other"), "{options}");
    }
    {
        let _mount = start(&src, &mnt, &log, &["--allow-other"]);
        let options = mount_options(&mnt);
        assert!(options.contains("allow_other"), "{options}");
        assert!(options.contains("default_permissions"), "{options}");
        let (ok, stderr) = nobody_reads(&mnt.join("dir/notes.txt"));
        assert!(ok, "--allow-other: {stderr}");
    }
}

fn mount_options(mnt: &Path) -> String {
    let canonical = mnt.canonicalize().unwrap();
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .find(|line| line.split_whitespace().nth(1) == canonical.to_str())
        .map(|line| line.split_whitespace().nth(3).unwrap_or("").to_string())
        .unwrap_or_default()
}

/// Every write-type operation, with what it touched; each must fail with EROFS.
fn write_attempts(mnt: &Path) -> Vec<(String, std::io::Result<()>)> {
    use std::fs::OpenOptions;
    let file = mnt.join("dir/notes.txt");
    let section = mnt.join("compose.yml/services/web/image");
    let mut attempts: Vec<(String, std::io::Result<()>)> = Vec::new();
    let mut attempt = |what: &str, result: std::io::Result<()>| {
        attempts.push((what.to_string(), result));
    };
    attempt(
        "open for write",
        OpenOptions::new().write(true).open(&file).map(drop),
    );
    attempt(
        "open section for append",
        OpenOptions::new().append(true).open(&section).map(drop),
    );
    attempt(
        "truncate on open",
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&file)
            .map(drop),
    );
    attempt("create", std::fs::write(mnt.join("dir/new.txt"), "x"));
    attempt(
        "create in a YAML folder",
        std::fs::write(mnt.join("compose.yml/services/new"), "x"),
    );
    attempt("mkdir", std::fs::create_dir(mnt.join("newdir")));
    attempt(
        "rename",
        std::fs::rename(&file, mnt.join("dir/renamed.txt")),
    );
    attempt(
        "rename a section",
        std::fs::rename(
            mnt.join("compose.yml/services/web"),
            mnt.join("compose.yml/services/www"),
        ),
    );
    attempt(
        "chmod",
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o777)),
    );
    attempt(
        "chmod a section",
        std::fs::set_permissions(&section, std::fs::Permissions::from_mode(0o666)),
    );
    attempt("unlink", std::fs::remove_file(&file));
    attempt("unlink a section", std::fs::remove_file(&section));
    attempt("rmdir", std::fs::remove_dir(mnt.join("dir/deeper")));
    attempt(
        "symlink",
        std::os::unix::fs::symlink("x", mnt.join("dir/link")),
    );
    attempt("hard link", std::fs::hard_link(&file, mnt.join("dir/hard")));
    let c_path = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
    // SAFETY: chown(2)/truncate(2)/utimes(2) on a NUL-terminated path we own.
    let chown = unsafe { libc::chown(c_path.as_ptr(), 1, 1) };
    attempt("chown", errno_result(chown));
    let truncate = unsafe { libc::truncate(c_path.as_ptr(), 0) };
    attempt("truncate", errno_result(truncate));
    let touch = unsafe { libc::utimes(c_path.as_ptr(), std::ptr::null()) };
    attempt("utimes", errno_result(touch));
    let name = std::ffi::CString::new("user.test").unwrap();
    let set = unsafe { libc::setxattr(c_path.as_ptr(), name.as_ptr(), b"v".as_ptr().cast(), 1, 0) };
    attempt("setxattr", errno_result(set));
    attempts
}

fn errno_result(result: i32) -> std::io::Result<()> {
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// (path, size, mode, mtime) of every entry of `root`, without following symlinks.
fn snapshot(root: &Path) -> Vec<(PathBuf, u64, u32, i64, Vec<u8>)> {
    let mut entries = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let content = if metadata.is_file() {
                std::fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            if metadata.is_dir() {
                pending.push(path.clone());
            }
            entries.push((
                path.strip_prefix(root).unwrap().to_path_buf(),
                metadata.len(),
                metadata.mode(),
                metadata.mtime(),
                content,
            ));
        }
    }
    entries.sort();
    entries
}

#[test]
fn every_write_type_operation_answers_erofs_and_changes_nothing() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (src, mnt, log) = (
        work.path().join("src"),
        work.path().join("mnt"),
        work.path().join("vfs.log"),
    );
    source_tree(&src);
    std::fs::create_dir(&mnt).unwrap();
    let before_source = snapshot(&src);
    let _mount = start(&src, &mnt, &log, &[]);
    let before_mount = snapshot(&mnt);
    for (path, _, mode, _, _) in &before_mount {
        assert_eq!(
            mode & 0o222,
            0,
            "{} shows write bits {:o}",
            path.display(),
            mode
        );
    }
    for (what, result) in write_attempts(&mnt) {
        let error = result.expect_err(&format!("{what} succeeded on a read-only mount"));
        assert_eq!(error.raw_os_error(), Some(libc::EROFS), "{what}: {error}");
    }
    // Also as root through a shell, the way a Makefile recipe would try.
    let shell = Command::new("sh")
        .arg("-c")
        .arg(format!("echo x > {}/dir/notes.txt", mnt.display()))
        .output()
        .unwrap();
    assert!(!shell.status.success());
    assert!(
        String::from_utf8_lossy(&shell.stderr).contains("Read-only file system"),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );
    assert_eq!(snapshot(&src), before_source, "SOURCE changed");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(snapshot(&mnt), before_mount, "the mount changed");
}

#[test]
fn nothing_outside_source_is_served_and_symlinks_are_never_followed_by_the_mount() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (src, log) = (work.path().join("src"), work.path().join("vfs.log"));
    // The mountpoint sits deeper than SOURCE: a link resolved by the mount itself (relative to
    // SOURCE) would reach `outside-secret`, one resolved by the kernel (relative to the mount)
    // cannot.
    let mnt = work.path().join("a/b/mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(work.path().join("outside-secret"), "secret\n").unwrap();
    std::fs::write(work.path().join("outside.yml"), "password: hunter2\n").unwrap();
    std::fs::write(src.join("inside.txt"), "inside\n").unwrap();
    let links = [
        ("up", ".."),
        ("escape", "../outside-secret"),
        ("escape.yml", "../outside.yml"),
        ("absolute", "/etc/hostname"),
        ("absolute-dir", "/etc"),
        ("deep-up", "../../../../../../../.."),
    ];
    for (name, target) in links {
        std::os::unix::fs::symlink(target, src.join(name)).unwrap();
    }
    let _mount = start(&src, &mnt, &log, &[]);

    for (name, target) in links {
        let metadata = std::fs::symlink_metadata(mnt.join(name)).unwrap();
        assert!(metadata.file_type().is_symlink(), "{name} is a symlink");
        assert_eq!(
            std::fs::read_link(mnt.join(name)).unwrap(),
            Path::new(target)
        );
    }
    for name in ["escape", "escape.yml"] {
        // Resolved by the kernel next to the mountpoint, where nothing lies.
        let error = std::fs::read_to_string(mnt.join(name)).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT), "{name}: {error}");
    }
    assert!(
        std::fs::read_dir(mnt.join("escape.yml")).is_err(),
        "a symlinked YAML file is not made a folder"
    );
    // `up` leads to the mountpoint's parent (the kernel's doing), never to SOURCE's parent.
    let up: Vec<String> = std::fs::read_dir(mnt.join("up"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(up, ["mnt"], "up/ is a/b, beside the mountpoint");
    // Names with `..` never reach the provider: the kernel resolves them.
    let parent = std::fs::read_dir(mnt.join("..")).unwrap().count();
    assert_eq!(parent, 1);
    let mut seen = Vec::new();
    let mut pending = vec![mnt.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if entry.path() == mnt.join(".vfs") {
                // The host's own marker, not something from SOURCE.
                continue;
            }
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                seen.push(std::fs::read_to_string(entry.path()).unwrap());
            }
        }
    }
    assert_eq!(seen, ["inside\n"], "only SOURCE's own file is served");
}
