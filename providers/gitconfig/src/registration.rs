//! `vfs mount gitconfig SOURCE [MOUNTPOINT]` and `vfs tree gitconfig SOURCE`.

use std::path::PathBuf;
use std::sync::Arc;

use vfs_core::clap::{value_parser, Arg, ArgMatches, Command};
use vfs_core::{BuildError, Built};

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
            Arg::new("mountpoint")
                .value_name("MOUNTPOINT")
                .value_parser(value_parser!(PathBuf))
                .help("Where to mount (for `vfs mount`)"),
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
}

fn build(matches: &ArgMatches) -> Result<Built, BuildError> {
    let source = matches
        .get_one::<PathBuf>("source")
        .ok_or_else(|| BuildError("SOURCE is required".into()))?;
    let mut provider = GitConfigProvider::new(source.clone());
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
    Ok(Built {
        provider: Arc::new(provider),
        mountpoint: matches.get_one::<PathBuf>("mountpoint").cloned(),
    })
}

vfs_core::register_provider! {
    name: "gitconfig",
    about: "A directory mirrored read-only; YAML files as folders of sections timed by git blame",
    args: arguments,
    build: build,
}
