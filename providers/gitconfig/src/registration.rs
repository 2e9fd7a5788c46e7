//! `vfs mount gitconfig SOURCE [MOUNTPOINT]` and `vfs tree gitconfig SOURCE`.

use std::path::PathBuf;

use vfs_core::clap::{value_parser, Arg, ArgAction, ArgMatches, Command};
use vfs_core::{BuildError, Built};

use crate::formats::Formats;
use crate::served::default_state_dir;
use crate::GitConfigProvider;

fn arguments(command: Command) -> Command {
    command
        .arg(
            Arg::new("source")
                .value_name("SOURCE")
                .required(true)
                .value_parser(value_parser!(PathBuf))
                .help("The directory to mirror (usually a git work tree)"),
        )
        .arg(
            Arg::new("state-dir")
                .long("state-dir")
                .value_name("DIR")
                .value_parser(value_parser!(PathBuf))
                .help(
                    "Where the memory of served sections is kept [default: $VFS_STATE_DIR, \
                     else $XDG_STATE_HOME/vfs, else ~/.local/state/vfs]",
                ),
        )
        .arg(
            Arg::new("formats")
                .long("formats")
                .value_name("LIST")
                .default_value("yaml,json,toml,ini")
                .help(
                    "Which formats become folders of their sections: yaml (*.yml, *.yaml), json \
                     (*.json, *.jsonc), toml (*.toml), ini (*.ini, *.cfg, .env, *.env)",
                ),
        )
        .arg(
            Arg::new("parse")
                .long("parse")
                .value_name("GLOB")
                .action(ArgAction::Append)
                .help(
                    "Only files whose path (relative to SOURCE) or name matches one of these \
                     globs become folders (repeatable; default: every file of a chosen format)",
                ),
        )
}

fn build(matches: &ArgMatches) -> Result<Built, BuildError> {
    let source = matches
        .get_one::<PathBuf>("source")
        .ok_or_else(|| BuildError("SOURCE is required".into()))?;
    let families = matches
        .get_one::<String>("formats")
        .map_or("yaml,json,toml,ini", String::as_str);
    let globs: Vec<String> = matches
        .get_many::<String>("parse")
        .map(|globs| globs.cloned().collect())
        .unwrap_or_default();
    let formats = Formats::new(families, &globs).map_err(|error| BuildError(error.to_string()))?;
    let mut provider = GitConfigProvider::new(source.clone()).with_formats(formats);
    let state_dir = matches
        .get_one::<PathBuf>("state-dir")
        .cloned()
        .or_else(default_state_dir);
    match state_dir {
        Some(state_dir) => provider = provider.with_state_dir(state_dir),
        None => tracing::warn!(
            "no state folder (no HOME): the memory of served sections lasts until unmount"
        ),
    }
    // The command line adds MOUNTPOINT (for `mount` and `sync`) and reads it itself.
    Ok(Built::new(provider))
}

vfs_core::register_provider! {
    name: "gitconfig",
    about: "A directory mirrored read-only; YAML, JSON, TOML, INI and .env files as folders of sections timed by their meaning's history",
    command: arguments,
    build: build,
    default_mountpoint: ".cfgfs",
}
