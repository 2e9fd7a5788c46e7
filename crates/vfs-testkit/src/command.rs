//! Running an oracle CLI (docker, git): its output or a failed test.

use std::process::Command;

/// Runs `command` (`program` with `args`) and returns its stdout (untrimmed); panics with its
/// stderr when it fails, naming the command.
pub(crate) fn stdout_of(mut command: Command, program: &str, args: &[&str]) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
