//! `mount -d`: return once the mount is ready, leaving it served in the background.
//!
//! Forking a process that has threads (a tokio runtime) is unsafe, so the parent re-executes
//! its own binary with the same arguments and a marker in the environment. The child starts a
//! new session (no terminal can stop it), mounts, and reports on its stdout, a pipe to the
//! parent: `ready`, or `error MESSAGE`. The parent prints the outcome and exits. Until it is
//! it knows its log file (`--log-file`, or the default one per mountpoint, see
//! [`crate::log_file`]) the child logs to the parent's stderr (so `-v` shows how the mount
//! starts) and then to that file; once ready it points stdout and stderr at the log file (a
//! panic's message lands there), or at /dev/null when it logs to syslog, so that nobody waits
//! on the parent's pipes any more.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{anyhow, Context as _};

/// Set in the environment of the background child; removed by the child at once.
const CHILD_MARKER: &str = "VFS_INTERNAL_DAEMON_CHILD";
const READY: &str = "ready";
const FAILED: &str = "error ";

static IS_CHILD: AtomicBool = AtomicBool::new(false);

/// Notes whether this process is the background child, and hides the marker from anything it
/// might start. Call first thing in `main`, while the process has a single thread.
pub fn take_child_marker() {
    if std::env::var_os(CHILD_MARKER).is_some() {
        std::env::remove_var(CHILD_MARKER);
        IS_CHILD.store(true, Ordering::SeqCst);
    }
}

/// True in the background child of `mount -d`.
pub fn is_child() -> bool {
    IS_CHILD.load(Ordering::SeqCst)
}

/// Detaches the background child from the terminal's session (Ctrl-C and hang-ups of the
/// parent's terminal no longer reach it).
pub fn start_session() {
    // SAFETY: setsid(2) takes no pointers; it fails only for a process-group leader, which a
    // freshly spawned child is not, and then nothing changed.
    unsafe {
        libc::setsid();
    }
}

/// In the child: tells the parent the mount is ready, then lets go of its stdout and stderr,
/// pointing them at `log` (the log file's descriptor), or at /dev/null without one.
pub fn report_ready(log: Option<std::os::fd::RawFd>) {
    send(READY);
    // SAFETY: open(2) of a constant C string, and dup2(2)/close(2) of descriptors we own.
    // Replacing fds 1 and 2 under the std handles is fine: they write to whatever the fd is.
    unsafe {
        if let Some(log) = log {
            libc::dup2(log, libc::STDOUT_FILENO);
            libc::dup2(log, libc::STDERR_FILENO);
            return;
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, libc::STDOUT_FILENO);
            libc::dup2(null, libc::STDERR_FILENO);
            libc::close(null);
        }
    }
}

/// In the child: hands the error line to the parent, which prints it.
pub fn report_failure(line: &str) {
    send(&format!("{FAILED}{line}"));
}

fn send(message: &str) {
    let mut stdout = std::io::stdout().lock();
    // A parent that is gone cannot be told; the child's exit status still says it.
    let _ = writeln!(stdout, "{message}").and_then(|()| stdout.flush());
}

/// This process's binary, to start it again. On Linux `/proc/self/exe`, which still works when
/// the binary was replaced or deleted since it started; elsewhere the path it was started from
/// (`std::env::current_exe`), else `vfs` on PATH.
#[cfg(target_os = "linux")]
fn own_executable() -> std::path::PathBuf {
    "/proc/self/exe".into()
}

#[cfg(not(target_os = "linux"))]
fn own_executable() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "vfs".into())
}

/// In the parent: starts the background child with this process's own arguments and waits
/// until it reports. `Ok(pid)` once the mount is ready.
pub fn spawn_and_wait(mountpoint: &Path) -> anyhow::Result<u32> {
    let mut arguments = std::env::args_os();
    let arg0 = arguments.next().unwrap_or_else(|| "vfs".into());
    let mut child = Command::new(own_executable())
        .arg0(arg0)
        .args(arguments)
        .env(CHILD_MARKER, "1")
        // A pipe closed at once rather than /dev/null: the child reads nothing either way, and
        // a machine without /dev (a container) then gets the child's own error, not ENOENT.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the background mount process")?;
    let pid = child.id();
    drop(child.stdin.take());
    let mut report = String::new();
    if let Some(stdout) = child.stdout.take() {
        // Read errors leave `report` empty, which is handled as a silent exit below.
        let _ = BufReader::new(stdout).read_line(&mut report);
    }
    let report = report.trim_end_matches('\n');
    if report == READY {
        return Ok(pid);
    }
    let status = child
        .wait()
        .context("cannot wait for the background mount process")?;
    match report.strip_prefix(FAILED) {
        Some(line) => Err(anyhow!("{line}")),
        None => Err(anyhow!(
            "the background mount process ended ({status}) before {} was mounted",
            mountpoint.display()
        )),
    }
}
