//! The `vfs` command line: the entry point every vfs binary calls.
//!
//! A binary links the provider crates it wants (`use my_provider as _;`, so that their
//! `inventory` registrations survive linking) and calls [`main`]:
//!
//! ```ignore
//! use hello_provider as _;
//!
//! fn main() -> std::process::ExitCode {
//!     vfs_cli::main()
//! }
//! ```
//!
//! Commands: `providers`, `mount PROVIDER …` (foreground, or `-d` to return once ready),
//! `unmount MOUNTPOINT`, `tree PROVIDER …` (no FUSE). Every error a user can cause ends as one
//! line on stderr, `PROGRAM: error: …`, and a non-zero exit status (2 for usage errors, as clap).

mod args;
mod commands;
mod daemon;
mod duration_text;
mod fuse_conf;
mod host;
mod log_file;
mod logging;
mod memory;
mod mount_helper;
mod mount_options;
mod mountpoint;
mod notify;
mod subtree;
mod time_text;

use std::ffi::OsStr;
use std::path::Path;
use std::process::ExitCode;

use args::{Invocation, ProviderChoice, SharedOptions};

/// Exit status of a command line the user got wrong (clap uses the same).
const USAGE_EXIT: u8 = 2;

/// A mistake in how the command was typed, such as an unknown provider: exit status 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// What every command gets: how the program is called and the shared options.
pub(crate) struct Context {
    pub program: String,
    pub options: SharedOptions,
}

/// Runs the command line of this process and returns its exit status.
pub fn main() -> ExitCode {
    // Read before anything else runs, and before any thread exists (it edits the environment).
    daemon::take_child_marker();
    memory::limit_malloc_arenas();
    let program = program_name();
    let registrations = vfs_core::registrations();
    let argv = match command_line(&program) {
        Ok(Some(argv)) => argv,
        Ok(None) => return ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: error: {error}");
            return ExitCode::from(USAGE_EXIT);
        }
    };
    let command = args::command(&program, &registrations);
    let parsed = command
        .clone()
        .try_get_matches_from(&argv)
        .and_then(|matches| {
            // `-o` options stand for long options: parsed again with them spelt out.
            match mount_options::expand(&command, &matches, &argv) {
                Ok(Some(expanded)) => Ok(Ok(command.clone().try_get_matches_from(expanded)?)),
                Ok(None) => Ok(Ok(matches)),
                Err(error) => Ok(Err(error)),
            }
        });
    let matches = match parsed {
        Ok(Ok(matches)) => matches,
        Ok(Err(error)) => {
            eprintln!("{program}: error: {error}");
            return ExitCode::from(USAGE_EXIT);
        }
        Err(error) => {
            // Help and --version print to stdout and exit 0; usage errors exit 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(USAGE_EXIT));
        }
    };
    let context = Context {
        program,
        options: SharedOptions::from_matches(&matches),
    };
    let invocation = Invocation::from_matches(&matches, &registrations);
    // A background mount's log ends in a file: no colours even while it still is stderr.
    let background =
        daemon::is_child() || matches!(invocation, Some(Invocation::Mount { daemon: true, .. }));
    if let Err(error) = logging::init(&context.options, !background) {
        report(&context.program, &error);
        return ExitCode::FAILURE;
    }
    let outcome = match invocation {
        Some(invocation) => run(&context, invocation, &registrations),
        None => Err(UsageError("no command given: see --help".to_owned()).into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&context.program, &error);
            if error.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(USAGE_EXIT)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// This process's arguments, turned into a `vfs mount` command line when the binary runs as
/// mount(8)'s helper; `None` when there is nothing to do (mount's `-f`).
fn command_line(program: &str) -> Result<Option<Vec<std::ffi::OsString>>, UsageError> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if !mount_helper::is_helper(program) {
        return Ok(Some(argv));
    }
    match mount_helper::command_line(program, argv.get(1..).unwrap_or_default())? {
        mount_helper::HelperCall::Mount(line) => Ok(Some(line)),
        mount_helper::HelperCall::Fake => Ok(None),
    }
}

fn run(
    context: &Context,
    invocation: Invocation<'_>,
    registrations: &[&'static vfs_core::ProviderRegistration],
) -> anyhow::Result<()> {
    match invocation {
        Invocation::Providers => commands::providers::run(registrations),
        Invocation::Sync { provider, flags } => {
            let (registration, matches) = known(provider, registrations)?;
            commands::sync::run(context, registration, matches, flags)
        }
        Invocation::Mount {
            provider,
            daemon,
            mkdir,
        } => {
            let (registration, matches) = known(provider, registrations)?;
            commands::mount::run(context, registration, matches, daemon, mkdir)
        }
        Invocation::Unmount { mountpoint } => commands::unmount::run(context, &mountpoint),
        Invocation::Wait { mountpoint } => commands::wait::run(context, &mountpoint),
        Invocation::Generate(generated) => {
            let command = args::command(&context.program, registrations);
            match generated {
                args::Generated::Completions(shell) => {
                    commands::completions::completions(command, &context.program, shell)
                }
                args::Generated::Man { dir } => commands::completions::man(command, dir.as_deref()),
            }
        }
        Invocation::Tree { provider, options } => {
            let (registration, matches) = known(provider, registrations)?;
            commands::tree::run(registration, matches, &options)
        }
    }
}

fn known<'a>(
    choice: ProviderChoice<'a>,
    registrations: &[&'static vfs_core::ProviderRegistration],
) -> Result<
    (
        &'static vfs_core::ProviderRegistration,
        &'a clap::ArgMatches,
    ),
    UsageError,
> {
    match choice {
        ProviderChoice::Known {
            registration,
            matches,
        } => Ok((registration, matches)),
        ProviderChoice::Unknown { name } => Err(unknown_provider(&name, registrations)),
    }
}

/// The error for `mount NAME` / `tree NAME` when no provider is registered under NAME.
fn unknown_provider(
    name: &str,
    registrations: &[&'static vfs_core::ProviderRegistration],
) -> UsageError {
    let known: Vec<&str> = registrations.iter().map(|r| r.name).collect();
    if known.is_empty() {
        UsageError(format!(
            "no such provider: {name} (this binary links no provider)"
        ))
    } else {
        UsageError(format!(
            "no such provider: {name} (known providers: {})",
            known.join(", ")
        ))
    }
}

/// The file name this binary was started as (`vfs`, `hello-vfs`, …), for messages and help.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .and_then(|arg0| Path::new(arg0).file_name())
        .and_then(OsStr::to_str)
        .unwrap_or("vfs")
        .to_owned()
}

/// One line, whatever the error: its causes joined with ": ", newlines flattened.
fn error_line(error: &anyhow::Error) -> String {
    format!("{error:#}")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn report(program: &str, error: &anyhow::Error) {
    let line = error_line(error);
    if daemon::is_child() {
        // The parent prints it: the background process has no terminal of its own.
        daemon::report_failure(&line);
    } else {
        eprintln!("{program}: error: {line}");
    }
}

#[cfg(test)]
mod tests {
    use vfs_core::{BuildError, Built, ProviderRegistration};

    use super::*;

    fn never_built(_: &clap::ArgMatches) -> Result<Built, BuildError> {
        Err(BuildError("not used".to_owned()))
    }

    static ALPHA: ProviderRegistration = ProviderRegistration {
        name: "alpha",
        about: "First",
        args: |command| command,
        build: never_built,
        default_mountpoint: None,
    };

    static BETA: ProviderRegistration = ProviderRegistration {
        name: "beta",
        about: "Second",
        args: |command| command,
        build: never_built,
        default_mountpoint: None,
    };

    #[test]
    fn an_unknown_provider_names_the_known_ones() {
        let error = unknown_provider("gamma", &[&ALPHA, &BETA]);
        assert_eq!(
            error.to_string(),
            "no such provider: gamma (known providers: alpha, beta)"
        );
        let alone = unknown_provider("gamma", &[]);
        assert_eq!(
            alone.to_string(),
            "no such provider: gamma (this binary links no provider)"
        );
    }

    #[test]
    fn an_unknown_provider_on_the_command_line_is_a_usage_error() {
        let registrations = [&ALPHA, &BETA];
        let matches = args::command("vfs", &registrations)
            .try_get_matches_from(["vfs", "tree", "gamma"])
            .unwrap();
        let Some(Invocation::Tree { provider, .. }) =
            Invocation::from_matches(&matches, &registrations)
        else {
            panic!("not parsed as tree");
        };
        let error = known(provider, &registrations)
            .err()
            .map(anyhow::Error::from);
        let error = error.expect("gamma was accepted");
        assert!(error.downcast_ref::<UsageError>().is_some());
        assert_eq!(
            error_line(&error),
            "no such provider: gamma (known providers: alpha, beta)"
        );
    }

    #[test]
    fn a_provider_io_error_is_said_once() {
        let missing = std::io::Error::from_raw_os_error(libc::ENOENT);
        let refused =
            host::HostError::Provider(vfs_core::ProviderError::io("reading /nonexistent", missing));
        let error = commands::mount::mount_error("envdir", refused);
        assert_eq!(
            error_line(&error),
            "envdir: cannot start: reading /nonexistent: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn an_error_with_causes_is_one_line() {
        let cause = std::io::Error::other("disk on fire\nand smoking");
        let error = anyhow::Error::from(cause).context("cannot create mountpoint /x");
        assert_eq!(
            error_line(&error),
            "cannot create mountpoint /x: disk on fire and smoking"
        );
    }
}
