//! TEMPORARY stand-in with the contract's signatures until crates/vfs-host exposes `mount`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_TTL: Duration = Duration::from_millis(500);

pub struct MountConfig {
    pub ttl: Duration,
    pub allow_other: bool,
    pub fs_name: String,
}

#[derive(Debug)]
pub enum HostError {
    NotYet,
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the FUSE host is not there yet")
    }
}

impl std::error::Error for HostError {}

pub struct Mounted {
    mountpoint: PathBuf,
}

impl Mounted {
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }
    pub async fn unmount(self) -> Result<(), HostError> {
        Err(HostError::NotYet)
    }
    pub async fn ended(&self) {}
}

pub async fn mount(
    _provider: Arc<dyn vfs_core::Provider>,
    _mountpoint: &Path,
    _config: MountConfig,
) -> Result<Mounted, HostError> {
    Err(HostError::NotYet)
}

pub fn unmount_path(_mountpoint: &Path) -> Result<(), HostError> {
    Err(HostError::NotYet)
}
