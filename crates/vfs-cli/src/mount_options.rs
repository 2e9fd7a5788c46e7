//! `-o OPTIONS`, as mount(8) and /etc/fstab spell a mount's settings: each `key[=value]` is
//! the long option `--key[=value]` of `vfs mount` or of the provider (`_` for `-`), so every
//! option has a spelling there. Options mount(8) and fstab hand to every helper, and those
//! that would ask for what a vfs mount always is (read-only, nosuid, nodev), change nothing.

use std::ffi::OsString;

use clap::{ArgMatches, Command};

use crate::args::OPTIONS;
use crate::UsageError;

/// Accepted and ignored: mount(8)'s own (`_netdev`, `nofail`, `auto`, `user`, …), and what a
/// vfs mount is anyway (`ro`, `nosuid`, `nodev`, `noexec`; `rw` cannot make it writable).
const IGNORED: &[&str] = &[
    "defaults",
    "ro",
    "rw",
    "auto",
    "noauto",
    "nofail",
    "_netdev",
    "user",
    "users",
    "nouser",
    "owner",
    "group",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "async",
    "sync",
    "atime",
    "noatime",
    "relatime",
    "nodiratime",
    "lazytime",
    "nolazytime",
];

/// Also ignored: `x-systemd.requires=…` and other `x-*` (read by systemd and mount(8)), and
/// `comment=…`.
fn ignored(key: &str) -> bool {
    IGNORED.contains(&key) || key.starts_with("x-") || key == "comment"
}

/// The `-o` values of a `mount` command line, innermost level last.
fn given(matches: &ArgMatches) -> Option<(&str, Vec<String>)> {
    let (command, inner) = matches.subcommand()?;
    if command != "mount" {
        return None;
    }
    let mut values: Vec<String> = inner
        .try_get_many::<String>(OPTIONS)
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let (provider, innermost) = inner.subcommand()?;
    values.extend(
        innermost
            .try_get_many::<String>(OPTIONS)
            .ok()
            .flatten()
            .into_iter()
            .flatten()
            .cloned(),
    );
    Some((provider, values))
}

/// The long options `values` stand for, checked against the provider's mount subcommand.
pub fn translate(provider: &Command, values: &[String]) -> Result<Vec<OsString>, UsageError> {
    let mut words = Vec::new();
    for option in values.iter().flat_map(|value| value.split(',')) {
        let option = option.trim();
        if option.is_empty() {
            continue;
        }
        let (key, value) = match option.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (option, None),
        };
        if ignored(key) {
            continue;
        }
        let long = key.replace('_', "-");
        let arg = provider
            .get_arguments()
            .filter(|arg| arg.get_id().as_str() != OPTIONS)
            .find(|arg| arg.get_long() == Some(long.as_str()))
            .ok_or_else(|| unknown(provider, key))?;
        let takes_value = arg.get_action().takes_values();
        match (takes_value, value) {
            (true, Some(value)) => words.push(OsString::from(format!("--{long}={value}"))),
            (true, None) => {
                return Err(UsageError(format!(
                    "mount option {key} needs a value ({key}=…)"
                )))
            }
            (false, None) => words.push(OsString::from(format!("--{long}"))),
            (false, Some(_)) => {
                return Err(UsageError(format!("mount option {key} takes no value")))
            }
        }
    }
    Ok(words)
}

fn unknown(provider: &Command, key: &str) -> UsageError {
    let known: Vec<String> = provider
        .get_arguments()
        .filter(|arg| arg.get_id().as_str() != OPTIONS)
        .filter_map(|arg| arg.get_long())
        .filter(|long| *long != "help")
        .map(|long| long.replace('-', "_"))
        .collect();
    UsageError(format!(
        "unknown mount option: {key} (known: {})",
        known.join(", ")
    ))
}

/// `argv` with the long options that its `-o` values stand for, or `None` when it has no
/// `-o`. They go at the end (before a `--`), where the provider's subcommand parses them.
pub fn expand(
    command: &Command,
    matches: &ArgMatches,
    argv: &[OsString],
) -> Result<Option<Vec<OsString>>, UsageError> {
    let Some((provider, values)) = given(matches) else {
        return Ok(None);
    };
    if values.is_empty() {
        return Ok(None);
    }
    let Some(subcommand) = command
        .find_subcommand("mount")
        .and_then(|mount| mount.find_subcommand(provider))
    else {
        // An unknown provider: reported as such later.
        return Ok(None);
    };
    let words = translate(subcommand, &values)?;
    let end = argv
        .iter()
        .position(|word| word == "--")
        .unwrap_or(argv.len());
    let mut expanded = argv[..end].to_vec();
    expanded.extend(words);
    expanded.extend_from_slice(&argv[end..]);
    Ok(Some(expanded))
}

#[cfg(test)]
mod tests {
    use clap::{Arg, ArgAction};

    use super::*;

    fn provider() -> Command {
        Command::new("docker")
            .arg(Arg::new("host").long("host").short('H'))
            .arg(
                Arg::new("vfs-allow-other")
                    .long("allow-other")
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("vfs-ttl").long("ttl"))
            .arg(Arg::new(OPTIONS).short('o').long("options"))
    }

    fn words(values: &[&str]) -> Result<Vec<String>, UsageError> {
        let values: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
        translate(&provider(), &values).map(|words| {
            words
                .into_iter()
                .map(|word| word.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn each_option_is_its_long_option() {
        assert_eq!(
            words(&["allow_other,ttl=2s", "host=unix:///s"]).unwrap(),
            ["--allow-other", "--ttl=2s", "--host=unix:///s"]
        );
    }

    #[test]
    fn mount_and_fstab_options_change_nothing() {
        assert!(
            words(&["defaults,_netdev,x-systemd.requires=docker.service,ro,rw,nofail"])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_unknown_or_misspelt_option_is_named() {
        let error = words(&["allow_others"]).unwrap_err().to_string();
        assert!(
            error.starts_with("unknown mount option: allow_others (known: host, allow_other, ttl"),
            "{error}"
        );
        assert_eq!(
            words(&["ttl"]).unwrap_err().to_string(),
            "mount option ttl needs a value (ttl=…)"
        );
        assert_eq!(
            words(&["allow_other=1"]).unwrap_err().to_string(),
            "mount option allow_other takes no value"
        );
    }
}
