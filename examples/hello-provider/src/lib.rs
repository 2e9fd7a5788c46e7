//! An example vfs provider: a greeting as a small tree of files.
//!
//! ```text
//! /
//! ├── greeting.txt       a file of known size: the greeting and a newline
//! ├── words/             a directory: one file per word (1, 2, …)
//! ├── ticks/             a directory whose time moves with each tick
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
use std::time::{Duration, SystemTime};

use vfs_core::clap;
use vfs_core::{BuildError, Built};

pub use provider::{Hello, HelloConfig, PollConfig};

vfs_core::register_provider! {
    name: "hello",
    about: "A greeting as files: the example provider of the tutorial",
    args: HelloArgs,
    build: build_hello,
}

/// The provider's own arguments: `hello-vfs mount hello [OPTIONS] MOUNTPOINT`. The command
/// line adds MOUNTPOINT (and `-v`, `--ttl`, …) itself.
#[derive(clap::Args, Debug)]
struct HelloArgs {
    /// What greeting.txt says
    #[arg(long, value_name = "TEXT", default_value = "Hello, world!")]
    greeting: String,
    /// The time of the greeting, e.g. 1700000000.5 [default: now]
    #[arg(long, value_name = "UNIX_SECONDS", value_parser = unix_time::parse)]
    time: Option<SystemTime>,
    /// Count up ticks/count every SECONDS, with a change notice each time
    #[arg(long, value_name = "SECONDS", value_parser = parse_tick)]
    tick: Option<Duration>,
    /// Show the files of DIR in polled/, read again every --poll-every
    #[arg(long, value_name = "DIR")]
    poll: Option<PathBuf>,
    /// How often --poll reads DIR
    #[arg(long, value_name = "SECONDS", value_parser = parse_tick, default_value = "1")]
    poll_every: Duration,
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
fn build_hello(args: HelloArgs) -> Result<Built, BuildError> {
    if args.greeting.contains('\0') {
        return Err(BuildError("--greeting cannot contain NUL".into()));
    }
    let poll = match args.poll {
        // Absolute at once, so that messages and logs name the folder whole; `absolute`
        // touches no file system (`build` stays offline) and keeps symlinks and `..`.
        Some(dir) => Some(PollConfig {
            dir: std::path::absolute(&dir)
                .map_err(|error| BuildError(format!("--poll {}: {error}", dir.display())))?,
            every: args.poll_every,
        }),
        None => None,
    };
    Ok(Built::new(Hello::new(HelloConfig {
        greeting: args.greeting,
        time: args.time.unwrap_or_else(SystemTime::now),
        tick: args.tick,
        poll,
    })))
}
