//! `vfs mount docker [SOURCE] [MOUNTPOINT]`: the command line and building the provider (the
//! command line adds MOUNTPOINT; DockerFS reads it too, to take the two in either order).

use std::path::PathBuf;
use std::sync::Arc;

use vfs_core::clap::{Arg, ArgAction, ArgMatches, Command};
use vfs_core::{BuildError, Built};

use crate::provider::DockerProvider;
use crate::source::{self, looks_like_source, TlsFlags};

pub const DEFAULT_MOUNTPOINT: &str = ".dockerfs";

pub fn args(command: Command) -> Command {
    command
        .arg(
            Arg::new("host")
                .short('H')
                .long("host")
                .value_name("SOURCE")
                .help("Docker engine to use, as with the docker CLI (unix://…, tcp://…, https://…, ssh://…)"),
        )
        .arg(
            Arg::new("tls")
                .long("tls")
                .action(ArgAction::SetTrue)
                .help("Use TLS; implied by --tlsverify (as the docker CLI; DOCKER_TLS)"),
        )
        .arg(
            Arg::new("tlsverify")
                .long("tlsverify")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_parser(vfs_core::clap::value_parser!(bool))
                .help("Use TLS and verify the engine (DOCKER_TLS_VERIFY)"),
        )
        .arg(
            Arg::new("tlscacert")
                .long("tlscacert")
                .value_name("FILE")
                .value_parser(vfs_core::clap::value_parser!(PathBuf))
                .help("Trust certificates signed by this CA (default DOCKER_CERT_PATH/ca.pem)"),
        )
        .arg(
            Arg::new("tlscert")
                .long("tlscert")
                .value_name("FILE")
                .value_parser(vfs_core::clap::value_parser!(PathBuf))
                .help("TLS client certificate (default DOCKER_CERT_PATH/cert.pem)"),
        )
        .arg(
            Arg::new("tlskey")
                .long("tlskey")
                .value_name("FILE")
                .value_parser(vfs_core::clap::value_parser!(PathBuf))
                .help("TLS client key (default DOCKER_CERT_PATH/key.pem)"),
        )
        .arg(Arg::new("first").value_name("SOURCE").help(
            "Docker engine (unix://…, tcp://…, http://…, https://…, ssh://… or a socket path); \
             default: DOCKER_HOST, DOCKER_CONTEXT, the docker CLI's current context, then the \
             first of /var/run/docker.sock, $XDG_RUNTIME_DIR/docker.sock, \
             $XDG_RUNTIME_DIR/podman/podman.sock and /run/podman/podman.sock that exists",
        ))
}

/// The source word and the mountpoint among the positional words: a source is told apart by
/// its scheme or by being a socket, so either order works.
pub fn split_positionals<'a>(
    words: &[&'a str],
    is_source: impl Fn(&str) -> bool,
) -> Result<(Option<&'a str>, Option<&'a str>), BuildError> {
    match words {
        [] => Ok((None, None)),
        [word] if is_source(word) => Ok((Some(word), None)),
        [word] => Ok((None, Some(word))),
        [first, second] => match (is_source(first), is_source(second)) {
            (true, false) => Ok((Some(first), Some(second))),
            (false, true) => Ok((Some(second), Some(first))),
            (true, true) => Err(BuildError(format!(
                "two Docker sources given ({first} and {second}); give one source and a mountpoint"
            ))),
            (false, false) => Err(BuildError(format!(
                "neither {first:?} nor {second:?} is a Docker source (unix://, tcp://, http://, https://, ssh:// or a socket path)"
            ))),
        },
        _ => Err(BuildError("expected at most a source and a mountpoint".into())),
    }
}

pub fn build(matches: &ArgMatches) -> Result<Built, BuildError> {
    let first = matches.try_get_one::<String>("first").ok().flatten();
    // The command line's MOUNTPOINT (`MOUNTPOINT SOURCE` puts the source there).
    let second = matches
        .try_get_one::<PathBuf>(vfs_core::MOUNTPOINT_ARG)
        .ok()
        .flatten()
        .map(|path| path.to_string_lossy());
    let words: Vec<&str> = first
        .map(String::as_str)
        .into_iter()
        .chain(second.as_deref())
        .collect();
    let (word, mountpoint) = split_positionals(&words, looks_like_source)?;
    // `vfs tree` takes no mountpoint (and says so with its hidden flag `vfs-tree`): a word
    // that is no source is then a mistake, not a mountpoint nobody would use.
    let tree = matches.try_get_one::<bool>("vfs-tree").ok().flatten() == Some(&true);
    if let (true, Some(stray)) = (tree, mountpoint) {
        return Err(BuildError(format!(
            "{stray:?} is not a Docker source (unix://, tcp://, http:// or a socket path)"
        )));
    }
    let host = matches.try_get_one::<String>("host").ok().flatten();
    let path = |id: &str| matches.try_get_one::<PathBuf>(id).ok().flatten().cloned();
    let flags = TlsFlags {
        tls: matches.try_get_one::<bool>("tls").ok().flatten() == Some(&true),
        verify: matches
            .try_get_one::<bool>("tlsverify")
            .ok()
            .flatten()
            .copied(),
        ca: path("tlscacert"),
        cert: path("tlscert"),
        key: path("tlskey"),
    };
    let env = |key: &str| std::env::var(key).ok();
    let source = match (host, word) {
        (Some(host), Some(word)) => {
            return Err(BuildError(format!(
                "two Docker sources given (-H {host} and {word}); give one"
            )))
        }
        (Some(host), None) => source::from_user_with_tls(host, "-H", &flags, &env),
        (None, Some(word)) => source::from_user_with_tls(word, "command line", &flags, &env),
        (None, None) => source::resolve_default_with_tls(&flags, &env),
    }
    .map_err(|error| BuildError(error.to_string()))?;
    // The first word as the mountpoint is DockerFS's choice; else the command line's
    // MOUNTPOINT stands (or the default, DEFAULT_MOUNTPOINT).
    let first_is_mountpoint = mountpoint.is_some() && mountpoint == first.map(String::as_str);
    Ok(Built {
        provider: Arc::new(DockerProvider::new(source)),
        mountpoint: first.filter(|_| first_is_mountpoint).map(PathBuf::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_source(word: &str) -> bool {
        word.contains("://")
    }

    #[test]
    fn either_order_and_defaults() {
        let split = |words: &[&'static str]| split_positionals(words, is_source).unwrap();
        assert_eq!(split(&[]), (None, None));
        assert_eq!(split(&["mnt"]), (None, Some("mnt")));
        assert_eq!(split(&["tcp://h:1"]), (Some("tcp://h:1"), None));
        assert_eq!(
            split(&["tcp://h:1", "mnt"]),
            (Some("tcp://h:1"), Some("mnt"))
        );
        assert_eq!(
            split(&["mnt", "unix:///s"]),
            (Some("unix:///s"), Some("mnt"))
        );
        assert!(split_positionals(&["a", "b"], is_source).is_err());
        assert!(split_positionals(&["tcp://a", "tcp://b"], is_source).is_err());
    }

    #[test]
    fn build_resolves_the_mountpoint_and_source() {
        // With the MOUNTPOINT the command line adds.
        let command = args(Command::new("docker")).arg(
            Arg::new(vfs_core::MOUNTPOINT_ARG).value_parser(vfs_core::clap::value_parser!(PathBuf)),
        );
        let matches = command
            .clone()
            .try_get_matches_from(["docker", "mnt", "tcp://127.0.0.1:1"])
            .unwrap();
        let built = build(&matches).unwrap();
        assert_eq!(built.mountpoint, Some(PathBuf::from("mnt")));
        // In the usual order the command line's MOUNTPOINT stands, or its default.
        let matches = command
            .clone()
            .try_get_matches_from(["docker", "tcp://127.0.0.1:1", "mnt"])
            .unwrap();
        assert_eq!(build(&matches).unwrap().mountpoint, None);
        let matches = command
            .clone()
            .try_get_matches_from(["docker", "-H", "tcp://127.0.0.1:1"])
            .unwrap();
        assert_eq!(build(&matches).unwrap().mountpoint, None);
        let matches = command
            .try_get_matches_from(["docker", "-H", "tcp://a:1", "unix:///b"])
            .unwrap();
        assert!(build(&matches).is_err());
    }

    #[test]
    fn without_a_mountpoint_argument_a_stray_word_is_refused() {
        let tree = Command::new("docker")
            .arg(Arg::new("first").value_name("SOURCE"))
            .arg(
                Arg::new("vfs-tree")
                    .long("vfs-tree")
                    .action(ArgAction::SetTrue)
                    .default_value("true"),
            );
        let stray = tree
            .clone()
            .try_get_matches_from(["docker", "mnt"])
            .unwrap();
        assert!(build(&stray).is_err());
        let source = tree
            .try_get_matches_from(["docker", "tcp://127.0.0.1:1"])
            .unwrap();
        assert!(build(&source).is_ok());
    }
}
