//! `vfs mount PROVIDER …`: mounts in the foreground until a signal or an outside unmount, or
//! with `-d` returns once the mount is ready (see [`crate::daemon`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tokio::signal::unix::{signal, Signal, SignalKind};
use vfs_core::{Provider, ProviderRegistration};

use crate::{
    daemon, fuse_conf, host, log_file, logging, memory, mountpoint, notify, Context, UsageError,
};

pub fn run(
    context: &Context,
    registration: &ProviderRegistration,
    matches: &clap::ArgMatches,
    background: bool,
    mkdir: bool,
) -> anyhow::Result<()> {
    let name = registration.name;
    let built = super::build(registration, matches)?;
    let requested = built.mountpoint.ok_or_else(|| {
        UsageError(format!(
            "{name}: no mountpoint given (see `{} mount {name} --help`)",
            context.program
        ))
    })?;
    if context.options.allow_other {
        fuse_conf::check_allow_other(std::path::Path::new(fuse_conf::FUSE_CONF))
            .map_err(UsageError)?;
    }
    // The provider's default mountpoint is created when missing, as `--mkdir` would.
    let is_default = registration
        .default_mountpoint
        .is_some_and(|default| requested.file_name() == Path::new(default).file_name());
    let mountpoint = mountpoint::prepare(&context.program, &requested, mkdir || is_default)?;
    // Counted now, while the entries can still be seen; said once the mount hides them.
    let hidden = mountpoint::entry_count(&mountpoint);
    let log = log_destination(context, &mountpoint, background || daemon::is_child())?;
    if daemon::is_child() {
        daemon::start_session();
        if context.options.log_file.is_none() {
            if let LogDestination::File(path) = &log {
                logging::to_file(path)?;
            }
        }
    } else if background {
        let pid = daemon::spawn_and_wait(&mountpoint)?;
        warn_hidden(context, &mountpoint, hidden);
        if !context.options.quiet {
            eprintln!(
                "{0}: {name} mounted at {1} in the background (pid {pid}; log: {log}; `{0} unmount {1}` to stop)",
                context.program,
                mountpoint.display()
            );
        }
        return Ok(());
    }
    let runtime = super::runtime()?;
    let served = runtime.block_on(serve(
        context,
        name,
        built.provider,
        mountpoint,
        hidden,
        &log,
    ));
    // Provider tasks that ignore shutdown must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    served
}

/// Where a mount's log goes, for the message that it is ready.
enum LogDestination {
    Stderr,
    Syslog,
    File(PathBuf),
}

impl std::fmt::Display for LogDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogDestination::Stderr => f.write_str("stderr"),
            LogDestination::Syslog => f.write_str("syslog"),
            LogDestination::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// `--log-file`, `--syslog`, or for a background mount its default file (see [`log_file`]).
fn log_destination(
    context: &Context,
    mountpoint: &Path,
    background: bool,
) -> anyhow::Result<LogDestination> {
    if let Some(path) = &context.options.log_file {
        return Ok(LogDestination::File(
            std::path::absolute(path).unwrap_or(path.clone()),
        ));
    }
    if context.options.syslog {
        return Ok(LogDestination::Syslog);
    }
    if !background {
        return Ok(LogDestination::Stderr);
    }
    log_file::default_for(mountpoint)
        .map(LogDestination::File)
        .ok_or_else(|| {
            UsageError(
                "no folder for the background mount's log (no VFS_STATE_DIR, XDG_STATE_HOME \
                 or HOME): give --log-file or --syslog"
                    .to_owned(),
            )
            .into()
        })
}

/// SIGINT, SIGTERM and SIGHUP: each one ends the mount cleanly.
struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    fn install() -> anyhow::Result<StopSignals> {
        let listen = |kind: SignalKind| signal(kind).context("cannot listen for signals");
        Ok(StopSignals {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
        })
    }

    /// The name of the next signal received.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

async fn serve(
    context: &Context,
    name: &str,
    provider: Arc<dyn Provider>,
    mountpoint: PathBuf,
    hidden: usize,
    log: &LogDestination,
) -> anyhow::Result<()> {
    // Listening before mounting: a signal during start-up must not kill the process half-way.
    let mut stop = StopSignals::install()?;
    let config = host::MountConfig {
        ttl: context.options.ttl,
        allow_other: context.options.allow_other,
        fs_name: format!("vfs-{name}"),
    };
    // The host creates a missing mountpoint once the provider has started, and removes it
    // again when the mount fails or is given up half-way (its future dropped, as a signal here
    // does).
    let mounted = tokio::select! {
        mounted = host::mount(provider, &mountpoint, config) => {
            mounted.map_err(|error| mount_error(name, error))?
        }
        signal = stop.next() => {
            tracing::info!("{signal} before {} was mounted: giving up", mountpoint.display());
            return Ok(());
        }
    };
    warn_hidden(context, &mountpoint, hidden);
    tracing::info!("{name} mounted at {} (log: {log})", mountpoint.display());
    notify::ready(&format!("{name} mounted at {}", mountpoint.display()));
    announce_ready(context, name, &mountpoint, log);
    // Freed memory goes back to the system once the mount has worked (memory.rs).
    let trimming = tokio::spawn(memory::give_back_after_work());
    let signal = tokio::select! {
        signal = stop.next() => Some(signal),
        () = mounted.ended() => None,
    };
    trimming.abort();
    notify::stopping();
    match signal {
        Some(signal) => {
            tracing::info!("{signal}: unmounting {}", mountpoint.display());
            mounted.unmount().await?;
        }
        None => {
            tracing::info!("{} was unmounted from outside", mountpoint.display());
            // Still stops the provider; the unmount itself has already happened.
            if let Err(error) = mounted.unmount().await {
                tracing::debug!("after the outside unmount: {error}");
            }
        }
    }
    Ok(())
}

/// A provider that refused to start is named, as `tree` names it.
pub(crate) fn mount_error(name: &str, error: host::HostError) -> anyhow::Error {
    match error {
        host::HostError::Provider(cause) => {
            anyhow::Error::new(cause).context(format!("{name}: cannot start"))
        }
        other => other.into(),
    }
}

/// One line when the mount hides `hidden` entries of its folder; not repeated by the background
/// child of `-d` (its parent says it).
fn warn_hidden(context: &Context, mountpoint: &Path, hidden: usize) {
    if hidden > 0 && !daemon::is_child() && !context.options.quiet {
        eprintln!(
            "{}: warning: {}",
            context.program,
            mountpoint::hidden_entries_warning(mountpoint, hidden)
        );
    }
}

fn announce_ready(context: &Context, name: &str, mountpoint: &Path, log: &LogDestination) {
    if daemon::is_child() {
        daemon::report_ready(logging::file_descriptor());
    } else if !context.options.quiet {
        eprintln!(
            "{0}: {name} mounted at {1} (log: {log}; Ctrl-C or `{0} unmount {1}` to stop)",
            context.program,
            mountpoint.display()
        );
    }
}
