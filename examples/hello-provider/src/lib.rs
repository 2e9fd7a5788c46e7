//! An example vfs provider: a greeting as a small tree of files.
//!
//! ```text
//! /
//! ├── greeting.txt       a file of known size: the greeting and a newline
//! ├── words/             a directory handed over at once: one file per word (1, 2, …)
//! ├── ticks/             a directory listed on demand
//! │   └── count          a file of unknown size: how many times --tick fired
//! └── latest -> greeting.txt
//! ```
//!
//! `hello` registers itself with the vfs command line below; a binary that links this crate
//! (`use hello_provider as _;`) and calls `vfs_cli::main()` can then run
//! `hello-vfs mount hello /tmp/hello` or `hello-vfs tree hello`.

mod provider;
mod unix_time;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use vfs_core::clap::{value_parser, Arg, ArgMatches, Command};
use vfs_core::{BuildError, Built};

pub use provider::{Hello, HelloConfig};

vfs_core::register_provider! {
    name: "hello",
    about: "A greeting as files: the example provider of the tutorial",
    args: hello_args,
    build: build_hello,
}

/// The provider's own arguments: `vfs mount hello [OPTIONS] [MOUNTPOINT]`.
fn hello_args(command: Command) -> Command {
    command
        .arg(
            Arg::new("greeting")
                .long("greeting")
                .value_name("TEXT")
                .default_value("Hello, world!")
                .help("What greeting.txt says"),
        )
        .arg(
            Arg::new("time")
                .long("time")
                .value_name("UNIX_SECONDS")
                .value_parser(unix_time::parse)
                .help("The time of the greeting, e.g. 1700000000.5 [default: now]"),
        )
        .arg(
            Arg::new("tick")
                .long("tick")
                .value_name("SECONDS")
                .value_parser(parse_tick)
                .help("Count up ticks/count every SECONDS, with a change notice each time"),
        )
        .arg(
            // Optional, so that `tree` works without one; `mount` insists on it.
            Arg::new("mountpoint")
                .value_name("MOUNTPOINT")
                .value_parser(value_parser!(PathBuf))
                .help("Where to mount"),
        )
}

fn parse_tick(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    match Duration::try_from_secs_f64(seconds) {
        Ok(period) if !period.is_zero() => Ok(period),
        _ => Err(format!(
            "{text:?} is not a period of more than zero seconds"
        )),
    }
}

/// Turns the parsed arguments into a provider. Cheap and offline: nothing starts here.
fn build_hello(matches: &ArgMatches) -> Result<Built, BuildError> {
    let greeting = matches
        .get_one::<String>("greeting")
        .cloned()
        .unwrap_or_default();
    if greeting.contains('\0') {
        return Err(BuildError("--greeting cannot contain NUL".into()));
    }
    let config = HelloConfig {
        greeting,
        time: matches
            .get_one::<SystemTime>("time")
            .copied()
            .unwrap_or_else(SystemTime::now),
        tick: matches.get_one::<Duration>("tick").copied(),
    };
    Ok(Built {
        provider: Arc::new(Hello::new(config)),
        mountpoint: matches.get_one::<PathBuf>("mountpoint").cloned(),
    })
}
