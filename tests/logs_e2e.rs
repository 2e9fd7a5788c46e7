//! Where logs go: a warning the foreground prints on stderr lands in `--log-file`, and a
//! background mount (`-d`) writes it to its default file under the state folder; the message
//! that the mount is ready names the log.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fuse_available, vfs_binary, VfsMount};

/// What GitConfigFS warns about when a YAML file cannot be parsed.
const WARNING: &str = "kept as a plain file";

/// A source with a broken YAML file, an empty mountpoint and a state folder.
fn scene() -> (tempfile::TempDir, String, String, String) {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(work.path().join("mnt")).unwrap();
    std::fs::write(src.join("broken.yml"), "a: [unclosed\n").unwrap();
    let text = |name: &str| work.path().join(name).display().to_string();
    let (src, mnt, state) = (text("src"), text("mnt"), text("state"));
    (work, src, mnt, state)
}

fn eventually_contains(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_foreground_warning_goes_to_stderr_or_to_the_log_file() {
    if !fuse_available() {
        return;
    }
    let (work, src, mnt, state) = scene();
    // Foreground, no option: on stderr, and the ready message says so.
    let stderr_path = work.path().join("stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut command = Command::new(vfs_binary());
    command
        .args(["mount", "gitconfig", &src, &mnt])
        .env("VFS_STATE_DIR", &state)
        .stdin(Stdio::null())
        .stderr(stderr);
    let mount = VfsMount::start_command(command, Path::new(&mnt));
    std::fs::read_dir(&mnt).unwrap().for_each(drop);
    let text = eventually_contains(&stderr_path, WARNING);
    assert!(text.contains(WARNING), "{text}");
    assert!(text.contains("(log: stderr;"), "{text}");
    drop(mount);

    // --log-file: in the file, not on stderr; the ready message names the file.
    let log = work.path().join("logs/vfs.log");
    let stderr_path = work.path().join("stderr2");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut command = Command::new(vfs_binary());
    command
        .args(["mount", "gitconfig", &src, &mnt, "--log-file"])
        .arg(&log)
        .env("VFS_STATE_DIR", &state)
        .stdin(Stdio::null())
        .stderr(stderr);
    let mount = VfsMount::start_command(command, Path::new(&mnt));
    std::fs::read_dir(&mnt).unwrap().for_each(drop);
    let text = eventually_contains(&log, WARNING);
    assert!(text.contains(WARNING), "log file: {text}");
    drop(mount);
    let stderr_text = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!stderr_text.contains(WARNING), "{stderr_text}");
    assert!(
        stderr_text.contains(&format!("(log: {};", log.display())),
        "{stderr_text}"
    );
}

#[test]
fn a_background_mount_logs_to_its_default_file() {
    if !fuse_available() {
        return;
    }
    let (_work, src, mnt, state) = scene();
    let guard = vfs_testkit::mounts::UnmountGuard(mnt.clone().into());
    let output = Command::new(vfs_binary())
        .args(["mount", "-d", "gitconfig", &src, &mnt])
        .env("VFS_STATE_DIR", &state)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{said}");
    let canonical = std::fs::canonicalize(&mnt).unwrap();
    let name = canonical
        .display()
        .to_string()
        .trim_start_matches('/')
        .replace('-', "\\x2d")
        .replace('/', "-");
    let log = Path::new(&state).join("log").join(format!("{name}.log"));
    assert!(said.contains(&format!("log: {};", log.display())), "{said}");
    std::fs::read_dir(&mnt).unwrap().for_each(drop);
    let text = eventually_contains(&log, WARNING);
    assert!(text.contains(WARNING), "{}: {text}", log.display());
    let status = Command::new(vfs_binary())
        .args(["unmount", &mnt])
        .status()
        .unwrap();
    assert!(status.success());
    drop(guard);
}
