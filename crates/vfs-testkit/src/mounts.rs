//! Whether a path is a mountpoint, and a guard that unmounts it whatever happens.
//!
//! A failing test must not leave a mount behind: the next run would find a busy or stale
//! mountpoint, and a stale FUSE mount blocks whoever touches it. So every mount in a test is
//! owned by an [`UnmountGuard`], dropped on unwinding too.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// True when `path` is a mountpoint listed in /proc/mounts.
///
/// Works on a stale mount (its process killed) and never touches the mount itself, so it
/// cannot hang on a filesystem that does not answer: the path is compared as given (made
/// absolute) and with its parent resolved, as the kernel lists it.
pub fn is_mounted(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read("/proc/mounts") else {
        return false;
    };
    let candidates = spellings(path);
    mounts
        .split(|byte| *byte == b'\n')
        .filter_map(|line| line.split(|byte| *byte == b' ').nth(1))
        .map(|field| PathBuf::from(OsString::from_vec(unescape_mount_field(field))))
        .any(|point| candidates.contains(&point))
}

/// The ways /proc/mounts may spell `path`: as given (absolute), and with its parent's symlinks
/// resolved (a mount's own entry is the resolved path).
fn spellings(path: &Path) -> Vec<PathBuf> {
    let mut spellings = Vec::new();
    if let Ok(absolute) = std::path::absolute(path) {
        if let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) {
            if let Ok(parent) = parent.canonicalize() {
                spellings.push(parent.join(name));
            }
        }
        spellings.push(absolute);
    }
    spellings
}

/// Undoes the octal escapes /proc/mounts uses for space, tab, newline and backslash.
fn unescape_mount_field(field: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(field.len());
    let mut index = 0;
    while index < field.len() {
        let escaped = field
            .get(index + 1..index + 4)
            .filter(|digits| {
                field[index] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d))
            })
            .map(|digits| {
                digits
                    .iter()
                    .fold(0u32, |value, d| value * 8 + u32::from(d - b'0'))
            });
        match escaped.and_then(|value| u8::try_from(value).ok()) {
            Some(byte) => {
                bytes.push(byte);
                index += 4;
            }
            None => {
                bytes.push(field[index]);
                index += 1;
            }
        }
    }
    bytes
}

/// Lazily unmounts (`fusermount3 -uz`) whatever is still mounted at `mountpoint`, live or stale;
/// does nothing when nothing is mounted there.
pub fn unmount_lazily(mountpoint: &Path) {
    if is_mounted(mountpoint) {
        let _ = Command::new("fusermount3")
            .arg("-uz")
            .arg(mountpoint)
            .stderr(Stdio::null())
            .status();
    }
}

/// Aborts the FUSE connection of the mount at `mountpoint` (`/sys/fs/fuse/connections/N/abort`,
/// N the mount's device minor, read from the mount table without touching the mount): every
/// request waiting on it fails at once and a process stuck in it is freed, so a test that found
/// a hang can still unmount and end. Returns whether a connection was aborted.
pub fn abort_fuse_connection(mountpoint: &Path) -> bool {
    let Ok(table) = std::fs::read("/proc/self/mountinfo") else {
        return false;
    };
    let candidates = spellings(mountpoint);
    let minor = table.split(|byte| *byte == b'\n').find_map(|line| {
        let fields: Vec<&[u8]> = line.split(|byte| *byte == b' ').collect();
        let point = PathBuf::from(OsString::from_vec(unescape_mount_field(fields.get(4)?)));
        if !candidates.contains(&point) {
            return None;
        }
        let majmin = std::str::from_utf8(fields.get(2)?).ok()?;
        majmin.split(':').nth(1).map(str::to_owned)
    });
    let Some(minor) = minor else {
        return false;
    };
    let connections = Path::new("/sys/fs/fuse/connections");
    if std::fs::read_dir(connections).map_or(true, |mut entries| entries.next().is_none()) {
        // fusectl not mounted (some containers): mount it, as root may.
        let _ = Command::new("mount")
            .args(["-t", "fusectl", "none"])
            .arg(connections)
            .stderr(Stdio::null())
            .status();
    }
    std::fs::write(connections.join(minor).join("abort"), b"1").is_ok()
}

/// Runs `work` on its own thread and panics if it takes longer than `limit` (a hung mount must
/// fail the test rather than hang it; the stuck thread is abandoned, the guard unmounts).
pub fn within<T: Send + 'static>(
    limit: std::time::Duration,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    bounded(
        limit,
        work,
        || panic!("{what}: not done within {limit:?} (hang)"),
        what,
    )
}

/// Runs `work` on its own thread; if it is not done within `limit`, aborts the FUSE connection
/// of `mountpoint` (freeing whatever hangs in it, so the test's guards can unmount and the run
/// ends) and panics naming `what`.
pub fn within_or_abort<T: Send + 'static>(
    mountpoint: &Path,
    limit: std::time::Duration,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let on_hang = || {
        let aborted = abort_fuse_connection(mountpoint);
        panic!("{what}: not done within {limit:?} (hang; FUSE connection aborted: {aborted})")
    };
    bounded(limit, work, on_hang, what)
}

/// `work`'s answer if it comes within `limit`; else what `on_hang` does (it panics).
fn bounded<T: Send + 'static>(
    limit: std::time::Duration,
    work: impl FnOnce() -> T + Send + 'static,
    on_hang: impl FnOnce() -> T,
    what: &str,
) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    match receiver.recv_timeout(limit) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => on_hang(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Lazily unmounts whatever is still mounted at the path when dropped, so a test that fails
/// (panics) between mounting and unmounting leaves nothing mounted.
pub struct UnmountGuard(pub PathBuf);

impl Drop for UnmountGuard {
    fn drop(&mut self) {
        unmount_lazily(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_escapes_of_proc_mounts_are_undone() {
        assert_eq!(
            unescape_mount_field(br"/tmp/a\040b\011c\012d\134e"),
            b"/tmp/a b\tc\nd\\e".to_vec()
        );
        assert_eq!(unescape_mount_field(br"/tmp/x\04"), br"/tmp/x\04".to_vec());
        assert_eq!(unescape_mount_field(br"/tmp/\999"), br"/tmp/\999".to_vec());
    }

    #[test]
    fn the_root_is_mounted_and_a_fresh_directory_is_not() {
        assert!(is_mounted(Path::new("/")));
        let dir = tempfile::tempdir().expect("temporary directory");
        assert!(!is_mounted(dir.path()));
        assert!(!is_mounted(&dir.path().join("missing")));
    }

    #[test]
    fn proc_is_found_through_a_relative_spelling_of_its_parent() {
        // /proc is a mountpoint everywhere Linux runs these tests; `/tmp/../proc` names it too.
        assert!(is_mounted(Path::new("/proc")));
        assert!(is_mounted(Path::new("/tmp/../proc")));
    }
}
