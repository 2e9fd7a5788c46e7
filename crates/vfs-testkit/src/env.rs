//! Whether the real components a test needs are here.
//!
//! In CI (`CI=true`) a missing component must fail the test, never skip it silently: a green
//! run there means the tests ran. Elsewhere a test may skip, and says why on stderr.

use std::path::Path;
use std::process::{Command, Stdio};

/// True when running in CI, where a missing FUSE device or Docker engine is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// Whether FUSE tests can run: `/dev/fuse` exists and `fusermount3` can be run (it is what
/// unmounts, for the guards too). Panics in CI when either is missing; prints a skip otherwise.
pub fn fuse_available() -> bool {
    let present = Path::new("/dev/fuse").exists()
        && Command::new("fusermount3")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    if !present {
        assert!(!in_ci(), "CI=true but /dev/fuse or fusermount3 is missing");
        eprintln!("skipped: /dev/fuse or fusermount3 is missing");
    }
    present
}

/// Whether a Docker engine answers `docker info`. Panics in CI when none does; prints a skip
/// otherwise.
pub fn docker_available() -> bool {
    let answers = engine_answers();
    if !answers {
        assert!(
            !in_ci(),
            "CI=true but no Docker engine answers `docker info`"
        );
        eprintln!("skipped: no Docker engine answers `docker info`");
    }
    answers
}

/// Whether a Docker engine answers `docker info` right now, with no CI rule attached (for
/// waiting on an engine that is coming back).
pub fn engine_answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_ci_follows_the_ci_variable_exactly() {
        // Only the literal "true" counts, as CI systems set it; the variable is read, not set,
        // so this holds whichever way the suite runs.
        let expected = std::env::var("CI").is_ok_and(|value| value == "true");
        assert_eq!(in_ci(), expected);
    }
}
