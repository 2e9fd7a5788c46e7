//! Logs to stderr through tracing; fuser's `log` records are bridged in.

use std::io::IsTerminal;

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

/// Starts logging to stderr. RUST_LOG, when set, replaces the levels chosen by -v/-q
/// (`--debug-fuse` still adds fuser's own logging).
pub fn init(options: &SharedOptions) {
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
    // A second initialisation (in tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
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
