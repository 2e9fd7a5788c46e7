//! One module per command.

pub mod completions;
pub mod mount;
pub mod providers;
pub mod sync;
pub mod tree;
pub mod unmount;
pub mod wait;

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use vfs_core::{Built, ProviderRegistration};

use crate::UsageError;

/// Builds the provider from its parsed arguments; a refusal is the user's mistake. The
/// mountpoint is the provider's own choice if it made one, else the command line's MOUNTPOINT,
/// else the registration's default.
fn build(
    registration: &ProviderRegistration,
    matches: &clap::ArgMatches,
) -> Result<Built, UsageError> {
    let mut built = (registration.build)(matches)
        .map_err(|error| UsageError(format!("{}: {error}", registration.name)))?;
    if built.mountpoint.is_none() {
        built.mountpoint = matches
            .try_get_one::<PathBuf>(vfs_core::MOUNTPOINT_ARG)
            .ok()
            .flatten()
            .cloned()
            .or_else(|| registration.default_mountpoint.map(PathBuf::from));
    }
    Ok(built)
}

/// Writes `lines` to stdout. A reader that went away (`vfs tree | head`) is not an error.
fn print_lines(lines: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = lines
        .into_iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// A multi-thread runtime, as the host and providers expect; created only after any fork.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vfs-worker")
        .build()
        .context("cannot start the async runtime")
}
