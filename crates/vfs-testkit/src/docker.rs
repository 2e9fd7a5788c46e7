//! The docker CLI, the oracle of the Docker tests: what it says is what the engine holds.

use std::path::Path;
use std::process::Command;

use crate::command::stdout_of;

/// Runs `docker ARGS…` and returns its stdout (untrimmed); panics with its stderr on failure.
pub fn docker(args: &[&str]) -> String {
    docker_in(args, None, &[])
}

/// [`docker`] run in `dir` (when given) with `env` added to its environment (e.g.
/// `DOCKER_BUILDKIT=0` for `docker build`).
pub fn docker_in(args: &[&str], dir: Option<&Path>, env: &[(&str, &str)]) -> String {
    let mut command = Command::new("docker");
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    stdout_of(command, "docker", args)
}
