//! Logs through tracing to stderr, to a file (`--log-file`, and a background mount's default)
//! or to the system log (`--syslog`); fuser's `log` records are bridged in.
//!
//! The file can be chosen after logging started: a background mount knows its mountpoint,
//! and so its default log file, only once the provider has been built.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Context as _};
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriter};
use tracing_subscriber::EnvFilter;

use crate::args::SharedOptions;

/// The target fuser logs under (through the `log` crate, bridged to tracing).
const FUSER_TARGET: &str = "fuser";

/// The filter directives for `options` when RUST_LOG is not set.
fn default_directives(options: &SharedOptions) -> String {
    let level = match (options.quiet, options.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    format!("{level},{}", fuser_directive(options))
}

/// fuser logs every request at debug: only `--debug-fuse` lets that through.
fn fuser_directive(options: &SharedOptions) -> String {
    let level = match (options.debug_fuse, options.verbose) {
        (true, 0 | 1) => "debug",
        (true, _) => "trace",
        (false, _) if options.quiet => "error",
        (false, _) => "warn",
    };
    format!("{FUSER_TARGET}={level}")
}

/// The log file, once chosen; until then logs go to stderr.
static FILE: OnceLock<File> = OnceLock::new();

/// Writes each formatted event to the log file when there is one, else to stderr.
#[derive(Clone, Copy)]
struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match FILE.get() {
            Some(mut file) => file.write(buf),
            None => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match FILE.get() {
            Some(mut file) => file.flush(),
            None => io::stderr().flush(),
        }
    }
}

impl MakeWriter<'_> for Sink {
    type Writer = Sink;
    fn make_writer(&self) -> Sink {
        Sink
    }
}

/// From now on, logs are appended to `path` (created with its folders, readable by the user
/// alone: logs name containers, images and paths).
pub fn to_file(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the log folder {}", parent.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open the log file {}", path.display()))?;
    FILE.set(file)
        .map_err(|_| anyhow!("the log file was already chosen"))
}

/// The log file's descriptor, for a background mount to point its stdout and stderr at (so a
/// panic's message lands there too).
pub fn file_descriptor() -> Option<RawFd> {
    FILE.get().map(AsRawFd::as_raw_fd)
}

/// Starts logging: to `--log-file` when given, to the system log with `--syslog`, else to
/// stderr (until [`to_file`]). `colour` allows ANSI colours on a terminal. RUST_LOG, when set,
/// replaces the levels chosen by -v/-q (`--debug-fuse` still adds fuser's own logging).
pub fn init(options: &SharedOptions, colour: bool) -> anyhow::Result<()> {
    let directives = match std::env::var("RUST_LOG") {
        Ok(from_env) if !from_env.trim().is_empty() => {
            if options.debug_fuse {
                format!("{from_env},{}", fuser_directive(options))
            } else {
                from_env
            }
        }
        _ => default_directives(options),
    };
    let filter = EnvFilter::builder().parse_lossy(directives);
    if let Some(path) = &options.log_file {
        to_file(path)?;
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second initialisation (in tests) is harmless: the first subscriber stays.
    if options.syslog {
        let _ = builder
            .with_writer(syslog_writer()?)
            .with_ansi(false)
            .without_time()
            .with_level(true)
            .try_init();
    } else {
        let colour = colour && options.log_file.is_none() && io::stderr().is_terminal();
        let _ = builder.with_writer(Sink).with_ansi(colour).try_init();
    }
    Ok(())
}

/// The system log (syslog(3): /dev/log, which journald reads), as the program's name.
fn syslog_writer() -> anyhow::Result<BoxMakeWriter> {
    let (options, facility) = Default::default();
    let syslog = syslog_tracing::Syslog::new(c"vfs", options, facility)
        .ok_or_else(|| anyhow!("cannot log to syslog: already in use by this process"))?;
    Ok(BoxMakeWriter::new(syslog))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(verbose: u8, quiet: bool, debug_fuse: bool) -> SharedOptions {
        SharedOptions {
            verbose,
            quiet,
            debug_fuse,
            ttl: None,
            allow_other: false,
            log_file: None,
            syslog: false,
        }
    }

    #[test]
    fn verbosity_chooses_the_level_and_fuser_stays_quiet_unless_asked() {
        assert_eq!(
            default_directives(&options(0, false, false)),
            "warn,fuser=warn"
        );
        assert_eq!(
            default_directives(&options(2, false, false)),
            "debug,fuser=warn"
        );
        assert_eq!(
            default_directives(&options(1, true, false)),
            "error,fuser=error"
        );
        assert_eq!(
            default_directives(&options(0, false, true)),
            "warn,fuser=debug"
        );
        assert_eq!(
            default_directives(&options(3, false, true)),
            "trace,fuser=trace"
        );
    }
}
