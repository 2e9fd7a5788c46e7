//! `vfs wait MOUNTPOINT`: the mount's barrier, from the command line.

use std::path::Path;

use anyhow::{bail, Context as _};

use crate::{host, Context};

/// The host's marker file at the root of every mount; reading it is the barrier.
const MARKER: &str = ".vfs";

/// Returns once the mount at `mountpoint` has applied every change of its source completed
/// before the call (reads `MOUNTPOINT/.vfs`, which the host answers only then). One line and
/// an error when `mountpoint` is not a vfs mount or the barrier fails or times out.
pub fn run(_context: &Context, mountpoint: &Path) -> anyhow::Result<()> {
    let absolute = std::path::absolute(mountpoint)
        .with_context(|| format!("cannot resolve {}", mountpoint.display()))?;
    let target = host::mount_table_path(&absolute);
    let entry = host::mounted_at(&target).context("cannot read the mount table")?;
    match entry {
        None => bail!("{} is not mounted", mountpoint.display()),
        Some(entry) if !entry.is_vfs() => bail!(
            "{} is {}, not a vfs mount",
            mountpoint.display(),
            entry.describe()
        ),
        Some(_) => {}
    }
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
