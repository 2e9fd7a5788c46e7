//! `vfs unmount MOUNTPOINT`.

use std::path::Path;

use anyhow::Context as _;

use crate::{host, Context};

pub fn run(context: &Context, mountpoint: &Path) -> anyhow::Result<()> {
    // Not canonicalize: a stale mount cannot be stat'ed ("Transport endpoint is not connected").
    let absolute = std::path::absolute(mountpoint)
        .with_context(|| format!("cannot resolve {}", mountpoint.display()))?;
    host::unmount_path(&absolute)?;
    if !context.options.quiet {
        tracing::info!("unmounted {}", absolute.display());
    }
    Ok(())
}
