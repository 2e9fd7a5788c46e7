//! The command tree: fixed commands plus one subcommand per registered provider.
//!
//! The options every command understands (`-v`, `-q`, `--ttl`, …) are copied into each level by
//! hand instead of clap's `global(true)`: a provider's own arguments are not ours to control, and
//! an option that would collide with one of them is left out of that provider's subcommand
//! rather than making clap panic.

use std::path::PathBuf;
use std::time::Duration;

use clap::{value_parser, Arg, ArgAction, ArgMatches, Command};
use vfs_core::ProviderRegistration;

use crate::commands::tree::TreeOptions;
use crate::duration_text::parse_duration;
use crate::host;

const VERBOSE: &str = "vfs-verbose";
const QUIET: &str = "vfs-quiet";
const DEBUG_FUSE: &str = "vfs-debug-fuse";
const TTL: &str = "vfs-ttl";
const ALLOW_OTHER: &str = "vfs-allow-other";
const DAEMON: &str = "vfs-daemon";
const MKDIR: &str = "vfs-mkdir";
const LOG_FILE: &str = "vfs-log-file";
const SYSLOG: &str = "vfs-syslog";
pub(crate) const OPTIONS: &str = "vfs-options";
const JSON: &str = "vfs-json";
const TREE_PATH: &str = "vfs-path";
const DEPTH: &str = "vfs-depth";
const MOUNTPOINT: &str = "mountpoint";
const SHELL: &str = "shell";
const MAN_DIR: &str = "vfs-man-dir";
/// The value name of the MOUNTPOINT the command line adds for every provider.
const MOUNTPOINT_VALUE: &str = "MOUNTPOINT";
/// Set in the matches of a provider built for `tree` (see `provider_subcommand`).
const TREE_MARKER: &str = "vfs-tree";

const ALLOW_OTHER_HELP: &str = "Let other users read the mount (FUSE allow_other; needs \
user_allow_other in /etc/fuse.conf unless root). RISK: everything the provider shows becomes \
readable by every local user its permission bits allow, secrets included. Off by default: the \
mount is private to the user who mounted it";

/// The options accepted by every command, gathered from every level of the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedOptions {
    pub verbose: u8,
    pub quiet: bool,
    pub debug_fuse: bool,
    /// `None`: the host's default for the provider (see `vfs_host::default_ttl`).
    pub ttl: Option<Duration>,
    pub allow_other: bool,
    /// `--log-file`: log there instead of stderr.
    pub log_file: Option<PathBuf>,
    /// `--syslog`: log to the system log (journald reads it) instead of stderr.
    pub syslog: bool,
}

/// What the user asked for.
pub enum Invocation<'a> {
    Providers,
    Sync {
        provider: ProviderChoice<'a>,
        flags: crate::commands::sync::SyncFlags,
    },
    Mount {
        provider: ProviderChoice<'a>,
        daemon: bool,
        /// Create a missing mountpoint whatever its name (`--mkdir`).
        mkdir: bool,
    },
    Unmount {
        mountpoint: PathBuf,
    },
    Wait {
        mountpoint: PathBuf,
    },
    Tree {
        provider: ProviderChoice<'a>,
        options: TreeOptions,
    },
    Generate(Generated),
}

/// `completions SHELL` or `man [--dir DIR]`: generated from this command line.
pub enum Generated {
    Completions(clap_complete::Shell),
    Man { dir: Option<PathBuf> },
}

/// The provider named after `mount` or `tree`, with its own parsed arguments.
pub enum ProviderChoice<'a> {
    Known {
        registration: &'static ProviderRegistration,
        matches: &'a ArgMatches,
    },
    Unknown {
        name: String,
    },
}

/// The options every command takes: how much to log, and where.
fn verbosity_args() -> Vec<Arg> {
    vec![
        Arg::new(VERBOSE)
            .short('v')
            .long("verbose")
            .action(ArgAction::Count)
            .help("Log more (-v info, -vv debug, -vvv trace); RUST_LOG overrides"),
        Arg::new(QUIET)
            .short('q')
            .long("quiet")
            .action(ArgAction::SetTrue)
            .help("Log errors only, and do not announce the mount"),
    ]
}

/// Where logs go; the options of a mount and the commands around it.
fn log_args() -> Vec<Arg> {
    vec![
        Arg::new(LOG_FILE)
            .long("log-file")
            .value_name("PATH")
            .value_parser(value_parser!(PathBuf))
            .help(
                "Append the log to PATH instead of stderr (rotate it with logrotate's \
                 copytruncate); `mount -d` logs to a file by default: \
                 $VFS_STATE_DIR/log/, else /var/log/vfs/ for root, else \
                 $XDG_STATE_HOME/vfs/log/ or ~/.local/state/vfs/log/, one file per mountpoint",
            ),
        Arg::new(SYSLOG)
            .long("syslog")
            .action(ArgAction::SetTrue)
            .conflicts_with(LOG_FILE)
            .help("Log to the system log (/dev/log, read by journald) instead of stderr"),
    ]
}

/// Every option that is not a command's own: verbosity, logs, and a mount's settings.
fn shared_args() -> Vec<Arg> {
    let mut args = verbosity_args();
    args.extend(log_args());
    args.extend(mount_args());
    args
}

fn mount_args() -> Vec<Arg> {
    vec![
        Arg::new(DEBUG_FUSE)
            .long("debug-fuse")
            .action(ArgAction::SetTrue)
            .help("Log every FUSE request and reply (fuser's own logging, debug; trace with -vv)"),
        Arg::new(TTL)
            .long("ttl")
            .value_name("DURATION")
            .value_parser(parse_duration)
            .help(format!(
                "How long the kernel and the host trust an entry without a change notice \
                 (e.g. 500ms, 2s, 0.25) [default: {}ms; {}s for a provider that announces \
                 every change]",
                host::DEFAULT_TTL.as_millis(),
                host::COMPLETE_NOTICES_TTL.as_secs()
            )),
        Arg::new(ALLOW_OTHER)
            .long("allow-other")
            .action(ArgAction::SetTrue)
            .help(ALLOW_OTHER_HELP),
    ]
}

/// The MOUNTPOINT that `unmount` and `wait` take.
fn mountpoint_arg() -> Arg {
    Arg::new(MOUNTPOINT)
        .value_name("MOUNTPOINT")
        .required(true)
        .value_parser(value_parser!(PathBuf))
}

fn mkdir_arg() -> Arg {
    Arg::new(MKDIR)
        .long("mkdir")
        .action(ArgAction::SetTrue)
        .help(
            "Create the mountpoint (and its missing parents) when it does not exist; a \
             provider's default mountpoint is created without it, any other missing \
             mountpoint is an error (a typo must not make a folder)",
        )
}

fn options_arg() -> Arg {
    Arg::new(OPTIONS)
        .short('o')
        .long("options")
        .value_name("OPTIONS")
        .action(ArgAction::Append)
        .help(
            "Mount options as mount(8) spells them, comma-separated: every long option of \
             `mount` and of the provider, `_` for `-` (allow_other, ttl=2s, log_file=PATH, \
             mkdir, host=…); ro, rw, defaults, _netdev, nofail, auto, noauto, user, users, \
             nosuid, nodev, noexec, x-* and comment=* are accepted and change nothing (the \
             mount is always read-only, nosuid and nodev)",
        )
}

/// `vfs tree`'s own options.
fn tree_args() -> Vec<Arg> {
    vec![
        Arg::new(JSON).long("json").action(ArgAction::SetTrue).help(
            "One JSON object per node and line: path, kind (dir, file, link), time \
                 (RFC 3339, UTC, nanoseconds), size (bytes; null for folders, links and files \
                 of unknown size), target (links only)",
        ),
        Arg::new(TREE_PATH)
            .long("path")
            .value_name("SUBTREE")
            .help("Start at this path of the tree (e.g. /images) instead of the root"),
        Arg::new(DEPTH)
            .long("depth")
            .value_name("N")
            .value_parser(value_parser!(usize))
            .help("Go at most N levels below the start (0: the start alone)"),
    ]
}

fn daemon_arg() -> Arg {
    Arg::new(DAEMON)
        .short('d')
        .long("daemon")
        .action(ArgAction::SetTrue)
        .help("Return once the mount is ready, leaving it served in the background")
}

/// Adds each of `args` that collides with none of `command`'s own arguments.
fn with_args_that_fit(mut command: Command, args: Vec<Arg>) -> Command {
    for arg in args {
        let collides = command.get_arguments().any(|existing| {
            existing.get_id() == arg.get_id()
                || (arg.get_short().is_some() && existing.get_short() == arg.get_short())
                || (arg.get_long().is_some() && existing.get_long() == arg.get_long())
        });
        if !collides {
            command = command.arg(arg);
        }
    }
    command
}

/// The MOUNTPOINT the command line adds after a provider's own arguments, for `mount` (or,
/// named FOLDER, for `sync`): the same for every provider, with the provider's default if it
/// has one.
fn provider_mountpoint_arg(registration: &ProviderRegistration, value_name: &'static str) -> Arg {
    let what = if value_name == MOUNTPOINT_VALUE {
        "Where to mount"
    } else {
        "The folder to keep in step"
    };
    let help = match registration.default_mountpoint {
        Some(default) => format!("{what} [default: {default}]"),
        None => what.to_owned(),
    };
    Arg::new(vfs_core::MOUNTPOINT_ARG)
        .value_name(value_name)
        .value_parser(value_parser!(PathBuf))
        .help(help)
}

/// A provider's subcommand with its own arguments and the registration's `about`, set after
/// the arguments: a derived `clap::Args` sets its struct's doc comment as the command's about
/// (and long about), which `mount --help` would then show instead of the registration's line.
fn provider_own_command(registration: &ProviderRegistration) -> Command {
    (registration.args)(Command::new(registration.name))
        .about(registration.about)
        .long_about(None)
}

/// A provider's subcommand: its own arguments, then MOUNTPOINT (not for `tree`, which mounts
/// nothing: a stray word is then an error rather than a mountpoint nobody uses), then `extra`
/// where it fits. `tree`'s subcommands carry the hidden flag `vfs-tree`, which tells a provider
/// that places its words by their form (docker) that none of them may be a mountpoint.
fn provider_subcommand(
    registration: &ProviderRegistration,
    extra: &[Arg],
    mounting: bool,
) -> Command {
    let own = provider_own_command(registration);
    let own = if mounting {
        with_args_that_fit(
            own,
            vec![provider_mountpoint_arg(registration, MOUNTPOINT_VALUE)],
        )
    } else {
        own.arg(
            Arg::new(TREE_MARKER)
                .long(TREE_MARKER)
                .hide(true)
                .action(ArgAction::SetTrue)
                .default_value("true"),
        )
    };
    with_args_that_fit(own, extra.to_vec())
}

/// `mount` or `tree`: one subcommand per provider; `extra` goes to both levels.
fn provider_commands(
    name: &'static str,
    about: &'static str,
    registrations: &[&'static ProviderRegistration],
    extra: &[Arg],
    mounting: bool,
) -> Command {
    let command = Command::new(name)
        .about(about)
        .subcommand_required(true)
        .allow_external_subcommands(true)
        .subcommand_value_name("PROVIDER")
        .subcommand_help_heading("Providers")
        // `help` is no provider; `mount --help` and `mount NAME --help` cover it.
        .disable_help_subcommand(true)
        .args(extra.iter().cloned());
    registrations.iter().fold(command, |command, registration| {
        command.subcommand(provider_subcommand(registration, extra, mounting))
    })
}

/// The whole command line of a vfs binary named `program` that links `registrations`.
pub fn command(program: &str, registrations: &[&'static ProviderRegistration]) -> Command {
    let mut mount = vec![daemon_arg(), mkdir_arg(), options_arg()];
    mount.extend(shared_args());
    let mut tree = tree_args();
    tree.extend(verbosity_args());
    Command::new("vfs")
        .bin_name(program)
        .display_name(program)
        .about("Virtual filesystems from plugins (providers), mounted with FUSE")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .args(shared_args())
        .subcommand(
            Command::new("providers")
                .about("List the providers this binary knows")
                .args(shared_args()),
        )
        .subcommand(provider_commands(
            "mount",
            "Mount a provider (foreground until Ctrl-C, SIGTERM or `unmount`; -d returns once ready)",
            registrations,
            &mount,
            true,
        ))
        .subcommand(sync_commands(registrations))
        .subcommand(
            Command::new("unmount")
                .about("Unmount a vfs mount, also a stale one left by a killed process")
                .arg(mountpoint_arg())
                .args(shared_args()),
        )
        .subcommand(
            Command::new("wait")
                .about(
                    "Return once the mount has applied every change of its source made before \
                     (reads MOUNTPOINT/.vfs); end a recipe with it before the next one relies on the mount",
                )
                .arg(mountpoint_arg())
                .args(shared_args()),
        )
        .subcommand(
            Command::new("completions")
                .about("Print the shell completion script (bash, zsh, fish, elvish, powershell)")
                .arg(
                    Arg::new(SHELL)
                        .value_name("SHELL")
                        .required(true)
                        .value_parser(value_parser!(clap_complete::Shell)),
                ),
        )
        .subcommand(
            Command::new("man")
                .about("Print the man page, or write one page per command into a folder")
                .arg(
                    Arg::new(MAN_DIR)
                        .long("dir")
                        .value_name("DIR")
                        .value_parser(value_parser!(PathBuf))
                        .help("Write vfs.1, vfs-mount.1, … there instead of vfs.1 to stdout"),
                ),
        )
        .subcommand(provider_commands(
            "tree",
            "Print a provider's tree (or a subtree) with each node's time and kind, without FUSE",
            registrations,
            &tree,
            false,
        ))
}

/// The matches of each level, outermost first, down to the provider's.
fn levels(matches: &ArgMatches) -> Vec<&ArgMatches> {
    let mut levels = vec![matches];
    let mut current = matches;
    while let Some((_, inner)) = current.subcommand() {
        levels.push(inner);
        current = inner;
    }
    levels
}

fn flag_anywhere(levels: &[&ArgMatches], id: &str) -> bool {
    levels
        .iter()
        .any(|level| matches!(level.try_get_one::<bool>(id), Ok(Some(true))))
}

/// The value given at the innermost level (typed last) of an option that takes one.
fn innermost<T: Clone + Send + Sync + 'static>(levels: &[&ArgMatches], id: &str) -> Option<T> {
    levels
        .iter()
        .rev()
        .find_map(|level| level.try_get_one::<T>(id).ok().flatten())
        .cloned()
}

impl SharedOptions {
    pub fn from_matches(matches: &ArgMatches) -> SharedOptions {
        let levels = levels(matches);
        let verbose = levels
            .iter()
            .filter_map(|level| level.try_get_one::<u8>(VERBOSE).ok().flatten())
            .fold(0u8, |total, count| total.saturating_add(*count));
        // The innermost --ttl wins, as it was typed last.
        let ttl = innermost::<Duration>(&levels, TTL);
        SharedOptions {
            verbose,
            quiet: flag_anywhere(&levels, QUIET),
            debug_fuse: flag_anywhere(&levels, DEBUG_FUSE),
            ttl,
            allow_other: flag_anywhere(&levels, ALLOW_OTHER),
            log_file: innermost::<PathBuf>(&levels, LOG_FILE),
            syslog: flag_anywhere(&levels, SYSLOG),
        }
    }
}

fn provider_choice<'a>(
    matches: &'a ArgMatches,
    registrations: &[&'static ProviderRegistration],
) -> Option<ProviderChoice<'a>> {
    let (name, provider_matches) = matches.subcommand()?;
    let found = registrations
        .iter()
        .find(|registration| registration.name == name);
    Some(match found {
        Some(&registration) => ProviderChoice::Known {
            registration,
            matches: provider_matches,
        },
        None => ProviderChoice::Unknown {
            name: name.to_owned(),
        },
    })
}

impl<'a> Invocation<'a> {
    /// `None` only when clap let through a command line it was told to refuse.
    pub fn from_matches(
        matches: &'a ArgMatches,
        registrations: &[&'static ProviderRegistration],
    ) -> Option<Invocation<'a>> {
        let (name, inner) = matches.subcommand()?;
        Some(match name {
            "providers" => Invocation::Providers,
            "sync" => Invocation::Sync {
                provider: provider_choice(inner, registrations)?,
                flags: crate::commands::sync::SyncFlags {
                    daemon: flag_anywhere(&levels(inner), DAEMON),
                    mkdir: flag_anywhere(&levels(inner), MKDIR),
                    once: flag_anywhere(&levels(inner), crate::commands::sync::ONCE),
                    contents: flag_anywhere(&levels(inner), crate::commands::sync::CONTENTS),
                },
            },
            "mount" => Invocation::Mount {
                provider: provider_choice(inner, registrations)?,
                daemon: flag_anywhere(&levels(inner), DAEMON),
                mkdir: flag_anywhere(&levels(inner), MKDIR),
            },
            "unmount" => Invocation::Unmount {
                mountpoint: inner.get_one::<PathBuf>(MOUNTPOINT)?.clone(),
            },
            "completions" => Invocation::Generate(Generated::Completions(
                *inner.get_one::<clap_complete::Shell>(SHELL)?,
            )),
            "man" => Invocation::Generate(Generated::Man {
                dir: inner.get_one::<PathBuf>(MAN_DIR).cloned(),
            }),
            "wait" => Invocation::Wait {
                mountpoint: inner.get_one::<PathBuf>(MOUNTPOINT)?.clone(),
            },
            "tree" => {
                let levels = levels(inner);
                Invocation::Tree {
                    provider: provider_choice(inner, registrations)?,
                    options: TreeOptions {
                        json: flag_anywhere(&levels, JSON),
                        path: innermost::<String>(&levels, TREE_PATH),
                        depth: innermost::<usize>(&levels, DEPTH),
                    },
                }
            }
            _ => return None,
        })
    }
}

/// `sync`: one subcommand per provider, as `mount`, with `sync`'s own options besides.
fn sync_commands(registrations: &[&'static ProviderRegistration]) -> Command {
    let mut extra = crate::commands::sync::args();
    extra.extend([daemon_arg(), mkdir_arg()]);
    extra.extend(shared_args());
    let command = Command::new("sync")
        .about(
            "Keep a plain folder in step with a provider, without FUSE (--once: write it and \
             exit; else until Ctrl-C or SIGTERM, -d returns once it is in step)",
        )
        .subcommand_required(true)
        .allow_external_subcommands(true)
        .subcommand_value_name("PROVIDER")
        .subcommand_help_heading("Providers")
        .disable_help_subcommand(true)
        .args(extra.iter().cloned());
    registrations.iter().fold(command, |command, registration| {
        let own = provider_own_command(registration);
        let own = with_args_that_fit(own, vec![provider_mountpoint_arg(registration, "FOLDER")]);
        command.subcommand(with_args_that_fit(own, extra.clone()))
    })
}

#[cfg(test)]
mod tests {
    use vfs_core::{
        async_trait, BuildError, Built, Content, Node, NodePath, Provider, ProviderError,
    };

    use super::*;

    struct Empty;

    #[async_trait]
    impl Provider for Empty {
        async fn root(&self) -> Result<Node, ProviderError> {
            Ok(Node::directory("", std::time::UNIX_EPOCH))
        }
        async fn list(&self, _: &NodePath) -> Result<Vec<Node>, ProviderError> {
            Ok(Vec::new())
        }
        async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
            Err(ProviderError::NotFound(path.clone()))
        }
    }

    fn build_empty(_: &ArgMatches) -> Result<Built, BuildError> {
        Ok(Built::new(Empty))
    }

    /// A provider whose own options take `-v`, `-d` and `--ttl` for themselves.
    static GREEDY: ProviderRegistration = ProviderRegistration {
        name: "greedy",
        about: "Takes option names vfs also uses",
        args: |command| {
            command
                .arg(Arg::new("version-of-thing").short('v'))
                .arg(Arg::new("depth").short('d'))
                .arg(Arg::new("ttl").long("ttl"))
        },
        build: build_empty,
        default_mountpoint: None,
    };

    static PLAIN: ProviderRegistration = ProviderRegistration {
        name: "plain",
        about: "Only a mountpoint",
        args: |command| command,
        build: build_empty,
        default_mountpoint: Some(".plain"),
    };

    fn parse(words: &[&str]) -> Result<ArgMatches, clap::Error> {
        command("vfs", &[&GREEDY, &PLAIN]).try_get_matches_from(words)
    }

    /// Arguments derived with clap, with a doc comment of their own (as hello's have).
    #[derive(clap::Args)]
    struct DocumentedArgs {
        /// What to say
        #[arg(long)]
        _say: Option<String>,
    }

    static DERIVED: ProviderRegistration = ProviderRegistration {
        name: "derived",
        about: "The registration's line",
        args: <DocumentedArgs as clap::Args>::augment_args,
        build: build_empty,
        default_mountpoint: None,
    };

    #[test]
    fn a_provider_subcommand_is_about_what_its_registration_says() {
        let mut vfs = command("vfs", &[&DERIVED, &PLAIN]);
        vfs.build();
        for parent in ["mount", "tree", "sync"] {
            let derived = vfs
                .find_subcommand(parent)
                .and_then(|parent| parent.find_subcommand("derived"))
                .unwrap_or_else(|| panic!("{parent} derived"));
            let about = derived.get_about().map(ToString::to_string);
            assert_eq!(
                about.as_deref(),
                Some("The registration's line"),
                "{parent}"
            );
            assert_eq!(derived.get_long_about(), None, "{parent}");
        }
        let help = vfs
            .find_subcommand_mut("mount")
            .map(|mount| mount.render_help().to_string())
            .unwrap_or_default();
        assert!(help.contains("derived  The registration's line"), "{help}");
        assert!(!help.contains("Arguments derived with clap"), "{help}");
    }

    #[test]
    fn the_command_tree_is_consistent() {
        command("vfs", &[&GREEDY, &PLAIN]).debug_assert();
    }

    #[test]
    fn shared_options_are_read_at_every_level() {
        let matches = parse(&[
            "vfs",
            "-v",
            "--ttl",
            "2s",
            "mount",
            "-d",
            "plain",
            "-v",
            "--ttl",
            "250ms",
            "/mnt",
            "--allow-other",
        ])
        .unwrap();
        let options = SharedOptions::from_matches(&matches);
        assert_eq!(options.verbose, 2);
        assert_eq!(options.ttl, Some(Duration::from_millis(250)));
        assert!(options.allow_other);
        assert!(!options.quiet);
        match Invocation::from_matches(&matches, &[&GREEDY, &PLAIN]) {
            Some(Invocation::Mount {
                provider:
                    ProviderChoice::Known {
                        registration,
                        matches,
                    },
                daemon,
                ..
            }) => {
                assert_eq!(registration.name, "plain");
                assert!(daemon);
                assert_eq!(
                    matches.get_one::<PathBuf>(vfs_core::MOUNTPOINT_ARG),
                    Some(&PathBuf::from("/mnt"))
                );
            }
            _ => panic!("not parsed as a mount of plain"),
        }
    }

    #[test]
    fn defaults_apply_when_no_option_is_given() {
        let matches = parse(&["vfs", "tree", "plain"]).unwrap();
        let options = SharedOptions::from_matches(&matches);
        assert_eq!(
            options,
            SharedOptions {
                verbose: 0,
                quiet: false,
                debug_fuse: false,
                ttl: None,
                allow_other: false,
                log_file: None,
                syslog: false,
            }
        );
    }

    #[test]
    fn a_provider_keeps_its_own_option_names() {
        let matches =
            parse(&["vfs", "mount", "greedy", "-v", "x", "-d", "3", "--ttl", "y"]).unwrap();
        let options = SharedOptions::from_matches(&matches);
        assert_eq!(options.verbose, 0);
        assert_eq!(options.ttl, None);
        let Some(Invocation::Mount {
            provider: ProviderChoice::Known { matches, .. },
            daemon,
            ..
        }) = Invocation::from_matches(&matches, &[&GREEDY, &PLAIN])
        else {
            panic!("not parsed as a mount of greedy");
        };
        assert!(!daemon);
        assert_eq!(
            matches.get_one::<String>("depth").map(String::as_str),
            Some("3")
        );
        assert_eq!(
            matches.get_one::<String>("ttl").map(String::as_str),
            Some("y")
        );
    }

    #[test]
    fn the_command_line_owns_every_providers_mountpoint() {
        let matches = parse(&["vfs", "mount", "greedy", "/mnt"]).unwrap();
        let Some(Invocation::Mount {
            provider: ProviderChoice::Known { matches, .. },
            ..
        }) = Invocation::from_matches(&matches, &[&GREEDY, &PLAIN])
        else {
            panic!("not parsed as a mount of greedy");
        };
        assert_eq!(
            matches.get_one::<PathBuf>(vfs_core::MOUNTPOINT_ARG),
            Some(&PathBuf::from("/mnt"))
        );
        let sync = parse(&["vfs", "sync", "plain", "/dir"]).unwrap();
        let (_, sync) = sync.subcommand().unwrap();
        let (_, sync) = sync.subcommand().unwrap();
        assert_eq!(
            sync.get_one::<PathBuf>(vfs_core::MOUNTPOINT_ARG),
            Some(&PathBuf::from("/dir"))
        );
        // `tree` mounts nothing: a word is an error, not a mountpoint.
        assert!(parse(&["vfs", "tree", "plain", "/mnt"]).is_err());
        // The help names the provider's default, and only where there is one.
        let mut command = command("vfs", &[&GREEDY, &PLAIN]);
        let mount = command.find_subcommand_mut("mount").unwrap();
        let help = |name: &str, mount: &mut Command| {
            mount
                .find_subcommand_mut(name)
                .unwrap()
                .render_help()
                .to_string()
        };
        assert!(help("plain", mount).contains("Where to mount [default: .plain]"));
        let greedy = help("greedy", mount);
        assert!(greedy.contains("Where to mount"), "{greedy}");
        assert!(!greedy.contains("[default: ."), "{greedy}");
    }

    #[test]
    fn shared_help_names_no_provider() {
        let help = command("vfs", &[&PLAIN])
            .find_subcommand_mut("mount")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("--allow-other"), "{help}");
        assert!(!help.to_lowercase().contains("docker"), "{help}");
    }

    #[test]
    fn a_bad_ttl_is_a_usage_error() {
        let error = parse(&["vfs", "--ttl", "soon", "tree", "plain"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("soon"), "{error}");
    }

    #[test]
    fn an_unknown_provider_is_parsed_for_a_clear_error() {
        let matches = parse(&["vfs", "mount", "nosuch", "/mnt"]).unwrap();
        match Invocation::from_matches(&matches, &[&GREEDY, &PLAIN]) {
            Some(Invocation::Mount {
                provider: ProviderChoice::Unknown { name },
                ..
            }) => assert_eq!(name, "nosuch"),
            _ => panic!("an unknown provider was not reported as such"),
        }
    }

    #[test]
    fn missing_arguments_are_clap_usage_errors() {
        for words in [
            &["vfs"][..],
            &["vfs", "mount"],
            &["vfs", "unmount"],
            &["vfs", "bogus"],
        ] {
            let error = parse(words).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{words:?}: {error}");
        }
    }
}
