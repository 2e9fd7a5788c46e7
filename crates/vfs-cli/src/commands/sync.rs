//! `vfs sync PROVIDER … DIR`: the provider's tree kept in a plain folder by the second host
//! backend (`vfs-sync`), for machines without FUSE. `--once` writes it and exits; otherwise it
//! follows the provider until SIGINT/SIGTERM, or with `-d` returns once the folder is in step.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Arg, ArgAction};
use tokio::signal::unix::{signal, SignalKind};
use vfs_core::{Provider, ProviderRegistration};

use crate::{daemon, logging, mountpoint, Context, UsageError};

pub const ONCE: &str = "vfs-sync-once";
pub const CONTENTS: &str = "vfs-sync-contents";

/// What `sync` takes besides the provider's arguments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncFlags {
    pub daemon: bool,
    pub mkdir: bool,
    pub once: bool,
    pub contents: bool,
}

/// `sync`'s own options.
pub fn args() -> Vec<Arg> {
    vec![
        Arg::new(ONCE).long("once").action(ArgAction::SetTrue).help(
            "Write the tree into DIR and exit (for CI: `vfs sync --once docker .dockerfs && make`)",
        ),
        Arg::new(CONTENTS)
            .long("contents")
            .action(ArgAction::SetTrue)
            .help(
                "Write the files' real content instead of empty stand-ins with the right times \
                 (where the provider allows it; docker only into an owner-only DIR)",
            ),
    ]
}

pub fn run(
    context: &Context,
    registration: &ProviderRegistration,
    matches: &clap::ArgMatches,
    flags: SyncFlags,
) -> anyhow::Result<()> {
    let name = registration.name;
    let built = super::build(registration, matches)?;
    let dir = built.mountpoint.ok_or_else(|| {
        UsageError(format!(
            "{name}: no folder given (see `{} sync {name} --help`)",
            context.program
        ))
    })?;
    let options = vfs_sync::SyncOptions {
        name: name.to_owned(),
        contents: flags.contents,
        create_missing: flags.mkdir || mountpoint::is_default_name(&dir),
        ttl: context.options.ttl,
    };
    if flags.once {
        let runtime = super::runtime()?;
        let written = runtime.block_on(vfs_sync::once(built.provider, &dir, &options));
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        let changes = written.map_err(|error| sync_error(name, error))?;
        tracing::info!(?changes, "{name} written into {}", dir.display());
        return Ok(());
    }
    if daemon::is_child() {
        daemon::start_session();
    } else if flags.daemon {
        let pid = daemon::spawn_and_wait(&dir)?;
        if !context.options.quiet {
            eprintln!(
                "{0}: {name} kept in step in {1} in the background (pid {pid}; `kill {pid}` to stop)",
                context.program,
                dir.display()
            );
        }
        return Ok(());
    }
    let runtime = super::runtime()?;
    let served = runtime.block_on(follow(context, name, built.provider, &dir, &options));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    served
}

async fn follow(
    context: &Context,
    name: &str,
    provider: Arc<dyn Provider>,
    dir: &Path,
    options: &vfs_sync::SyncOptions,
) -> anyhow::Result<()> {
    // Listening first: a signal during the first pass must not kill the process half-way.
    let listen = |kind: SignalKind| signal(kind).context("cannot listen for signals");
    let (mut interrupt, mut terminate, mut hangup) = (
        listen(SignalKind::interrupt())?,
        listen(SignalKind::terminate())?,
        listen(SignalKind::hangup())?,
    );
    let following = vfs_sync::follow(provider, dir, options)
        .await
        .map_err(|error| sync_error(name, error))?;
    let shown = following.dir();
    if daemon::is_child() {
        daemon::report_ready(logging::file_descriptor());
    } else if !context.options.quiet {
        eprintln!(
            "{}: {name} kept in step in {} (Ctrl-C to stop)",
            context.program,
            shown.display()
        );
    }
    let signal = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
        _ = hangup.recv() => "SIGHUP",
    };
    tracing::info!(
        "{signal}: no longer following; {} stays as it is",
        shown.display()
    );
    following.stop().await?;
    Ok(())
}

/// A provider that refused to start is named, as `mount` names it.
fn sync_error(name: &str, error: vfs_sync::SyncError) -> anyhow::Error {
    match error {
        vfs_sync::SyncError::Provider(cause) => {
            anyhow::Error::new(cause).context(format!("{name}: cannot start"))
        }
        other => other.into(),
    }
}
