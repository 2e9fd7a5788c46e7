//! Whether a path is a mountpoint, and a guard that unmounts it whatever happens.
//!
//! A failing test must not leave a mount behind: the next run would find a busy or stale
//! mountpoint, and a stale FUSE mount blocks whoever touches it. So every mount in a test is
//! owned by an [`UnmountGuard`], dropped on unwinding too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vfs_mounts::{mount_table_path, mounted_at};

/// True when `path` is a mountpoint listed in the mount table (`vfs-mounts`).
///
/// Works on a stale mount (its process killed) and never touches the mount itself, so it
/// cannot hang on a filesystem that does not answer: the path is compared as the table spells
/// it (made absolute, its parent resolved). False where the table cannot be read (not Linux).
pub fn is_mounted(path: &Path) -> bool {
    vfs_mounts::is_mounted(&mount_table_path(path))
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
    let Ok(Some(mounted)) = mounted_at(&mount_table_path(mountpoint)) else {
        return false;
    };
    let minor = mounted.device.1;
    let connections = Path::new("/sys/fs/fuse/connections");
    if std::fs::read_dir(connections).map_or(true, |mut entries| entries.next().is_none()) {
        // fusectl not mounted (some containers, or after a restart): mount it, as root may,
        // with mount(2) itself. Not by running mount(8): a test process wedged in the hung
        // mount can block a child it forks before its exec, and the abort never came.
        mount_fusectl();
    }
    std::fs::write(connections.join(minor.to_string()).join("abort"), b"1").is_ok()
}

/// `mount -t fusectl none /sys/fs/fuse/connections`, as a system call.
fn mount_fusectl() {
    // SAFETY: three NUL-terminated static strings, and no data.
    let _ = unsafe {
        libc::mount(
            c"none".as_ptr(),
            c"/sys/fs/fuse/connections".as_ptr(),
            c"fusectl".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
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
