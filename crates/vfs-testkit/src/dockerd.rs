//! Stopping and restarting the machine's own dockerd, for the tests of what a provider does
//! while the engine is gone and when it comes back.
//!
//! Such a test must hold [`crate::engine::EngineLock::exclusive`], and must bring dockerd back
//! even when it fails ([`RestartOnDrop`]), or every later engine test on the machine fails.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::env::engine_answers;

/// Where dockerd writes its pid; a dockerd without it is not one a test may stop.
pub const PID_FILE: &str = "/var/run/docker.pid";

/// Where a restarted dockerd's output goes (it outlives the test).
pub const LOG_FILE: &str = "/var/log/vfs-dockerd.log";

/// How long dockerd may take to answer again after a restart.
const RESTART_LIMIT: Duration = Duration::from_secs(60);

/// The pid in [`PID_FILE`] when that process is alive.
pub fn live_pid() -> Option<i32> {
    std::fs::read_to_string(PID_FILE)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|pid| alive(*pid))
}

/// Whether process `pid` exists (a zombie counts until it is reaped).
pub fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The command line process `pid` was started with (to start dockerd again the same way).
pub fn command_line(pid: i32) -> Vec<String> {
    let command_line: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .expect("dockerd command line")
        .split(|byte| *byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    assert!(
        !command_line.is_empty(),
        "process {pid} has no command line"
    );
    command_line
}

/// Starts dockerd with `command_line`, detached from the test (its own session, output
/// appended to [`LOG_FILE`]), and waits until `docker info` answers.
// dockerd must outlive the test: init reaps it, as it did the one that was stopped.
#[allow(clippy::zombie_processes)]
pub fn start(command_line: &[String]) {
    let _ = std::fs::remove_file(PID_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(LOG_FILE)
        .expect("open the dockerd log");
    let log_err = log.try_clone().expect("clone the log handle");
    // A session of its own (setsid), not just a process group: whatever ends the test's session
    // (a terminal's hangup, a job runner cleaning up) must not take the machine's engine with it.
    Command::new("setsid")
        .args(command_line)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .expect("start dockerd");
    let deadline = Instant::now() + RESTART_LIMIT;
    while !engine_answers() {
        assert!(
            Instant::now() < deadline,
            "dockerd did not come back within {RESTART_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Brings dockerd back (with this command line) if it does not answer when dropped: a test
/// that fails while the engine is down must not leave the machine without one.
pub struct RestartOnDrop(pub Vec<String>);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if !engine_answers() {
            start(&self.0);
        }
    }
}
