//! `vfs wait MOUNTPOINT`: the mount's barrier, from the command line; also a folder kept by
//! `vfs sync` (asked through its `.vfs.sock`, see `vfs_sync::wait`).

use std::path::Path;

use anyhow::{bail, Context as _};

use crate::Context;

/// The host's marker file at the root of every mount; reading it is the barrier.
const MARKER: &str = ".vfs";

/// Returns once the mount at `mountpoint` has applied every change of its source completed
/// before the call (reads `MOUNTPOINT/.vfs`, which the host answers only then). One line and
/// an error when `mountpoint` is not a vfs mount or the barrier fails or times out.
pub fn run(_context: &Context, mountpoint: &Path) -> anyhow::Result<()> {
    let absolute = std::path::absolute(mountpoint)
        .with_context(|| format!("cannot resolve {}", mountpoint.display()))?;
    let target = vfs_mounts::mount_table_path(&absolute);
    let entry = match vfs_mounts::mounted_at(&target) {
        Ok(entry) => entry,
        // No mount table on this system (not Linux): a folder kept by vfs sync is known by its
        // marker; anything else is taken for a mount and its `.vfs` read, unchecked.
        Err(error) if error.kind() == std::io::ErrorKind::Unsupported => {
            if vfs_sync::read_marker(&absolute).is_some() {
                return wait_for_sync(&absolute);
            }
            tracing::debug!("{error}: {} taken for a vfs mount", mountpoint.display());
            return read_barrier(mountpoint, &target);
        }
        Err(error) => return Err(error).context("cannot read the mount table"),
    };
    match entry {
        None if vfs_sync::read_marker(&absolute).is_some() => return wait_for_sync(&absolute),
        None => bail!(
            "{} is not mounted (nor a folder kept by vfs sync)",
            mountpoint.display()
        ),
        Some(entry) if !entry.is_vfs() => bail!(
            "{} is {}, not a vfs mount",
            mountpoint.display(),
            entry.describe()
        ),
        Some(_) => {}
    }
    read_barrier(mountpoint, &target)
}

/// Reads the mount's `.vfs`, which the host answers once it settled.
fn read_barrier(mountpoint: &Path, target: &Path) -> anyhow::Result<()> {
    let answer = std::fs::read(target.join(MARKER)).with_context(|| {
        format!(
            "{} did not settle (reading {})",
            mountpoint.display(),
            target.join(MARKER).display()
        )
    })?;
    tracing::debug!(
        "{}: {}",
        mountpoint.display(),
        String::from_utf8_lossy(&answer).trim().replace('\n', "; ")
    );
    Ok(())
}

/// A synced folder: its `vfs sync` answers once it applied every change made before; a folder
/// written with `--once` has nothing following it, so there is nothing to wait for.
fn wait_for_sync(dir: &Path) -> anyhow::Result<()> {
    match vfs_sync::wait(dir)? {
        vfs_sync::Waited::Settled => tracing::debug!("{}: settled", dir.display()),
        vfs_sync::Waited::Once => tracing::info!(
            "{}: written once (vfs sync --once); nothing follows it",
            dir.display()
        ),
    }
    Ok(())
}
