//! `vfs mount gitconfig SOURCE [MOUNTPOINT]` and `vfs tree gitconfig SOURCE`.

use std::path::PathBuf;
use std::sync::Arc;

use vfs_core::clap::{value_parser, Arg, ArgMatches, Command};
use vfs_core::{BuildError, Built};

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
            Arg::new("mountpoint")
                .value_name("MOUNTPOINT")
                .value_parser(value_parser!(PathBuf))
                .help("Where to mount (for `vfs mount`)"),
        )
}

fn build(matches: &ArgMatches) -> Result<Built, BuildError> {
    let source = matches
        .get_one::<PathBuf>("source")
        .ok_or_else(|| BuildError("SOURCE is required".into()))?;
    Ok(Built {
        provider: Arc::new(GitConfigProvider::new(source.clone())),
        mountpoint: matches.get_one::<PathBuf>("mountpoint").cloned(),
    })
}

vfs_core::register_provider! {
    name: "gitconfig",
    about: "A directory mirrored read-only; YAML files as folders of sections timed by git blame",
    args: arguments,
    build: build,
}
