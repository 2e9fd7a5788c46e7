//! Test support shared by the test crates of vfs (and usable by a third party's provider tests).
//!
//! Every helper here serves a rule of the project: tests use real components (FUSE, a Docker
//! engine, git), a missing component is a failure in CI (`CI=true`) and a printed skip elsewhere,
//! every mount is unmounted even when a test fails, and tests that stop the engine do not run
//! under tests that use it. Failures panic: this is test code, and a panic is how a test fails.

pub mod churn;
mod command;
pub mod docker;
pub mod dockerd;
pub mod engine;
pub mod env;
pub mod git;
pub mod mounts;
pub mod sshd;
pub mod throwaway;
