//! The lock that keeps tests which stop the Docker engine apart from tests which use it.
//!
//! Test binaries run in parallel (cargo runs each test crate's tests on threads, and several
//! crates may run at once), and one test restarts the machine's dockerd. Every engine test holds
//! a shared `flock` on one file; a test that stops the engine holds it exclusively, so it waits
//! for the others and they wait for it. Every crate must use the same file.

use std::fs::File;
use std::os::fd::AsRawFd;

/// The lock file every engine test of every crate locks.
pub const ENGINE_LOCK: &str = "/tmp/vfs-docker-engine.lock";

/// A held `flock` on [`ENGINE_LOCK`]; released when dropped (the file is closed).
pub struct EngineLock {
    _held: File,
}

impl EngineLock {
    /// The hold of a test that uses the engine: many may hold it at once.
    pub fn shared() -> EngineLock {
        Self::take(libc::LOCK_SH)
    }

    /// The hold of a test that stops or restarts the engine: alone.
    pub fn exclusive() -> EngineLock {
        Self::take(libc::LOCK_EX)
    }

    fn take(operation: i32) -> EngineLock {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(ENGINE_LOCK)
            .expect("open the engine lock file");
        // SAFETY: flock(2) on a descriptor we own; it is released when the file is closed.
        let result = unsafe { libc::flock(file.as_raw_fd(), operation) };
        assert_eq!(result, 0, "flock {ENGINE_LOCK}");
        EngineLock { _held: file }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether another descriptor could take `operation` on the lock file right now.
    fn could_take(operation: i32) -> bool {
        let file = std::fs::File::open(ENGINE_LOCK).expect("open the engine lock file");
        // SAFETY: flock(2) on a descriptor we own; closing it releases whatever it took.
        unsafe { libc::flock(file.as_raw_fd(), operation | libc::LOCK_NB) == 0 }
    }

    #[test]
    fn shared_holds_admit_each_other_and_keep_an_exclusive_one_out() {
        let first = EngineLock::shared();
        let second = EngineLock::shared();
        assert!(
            could_take(libc::LOCK_SH),
            "a third shared hold must be possible"
        );
        assert!(
            !could_take(libc::LOCK_EX),
            "an exclusive hold must wait while shared ones are held"
        );
        drop((first, second));
    }
}
