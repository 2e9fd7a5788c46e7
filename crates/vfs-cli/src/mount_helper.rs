//! The binary as a mount(8) helper: installed as `/sbin/mount.fuse.vfs` (for `-t fuse.vfs` and
//! fstab lines of that type) or `/sbin/mount.vfs`, it is called as
//! `mount.fuse.vfs SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] [-t TYPE]` and runs
//! `vfs mount -d PROVIDER [ARGUMENT] MOUNTPOINT -o OPTIONS`: mount(8) returns once the mount
//! is ready. SOURCE is the provider's name, with its first argument after a colon when it
//! takes one: `docker`, `docker:unix:///run/docker.sock`, `gitconfig:/srv/app`.

use std::ffi::OsString;

use crate::UsageError;

/// The names the binary answers to as a mount helper.
pub const NAMES: &[&str] = &["mount.vfs", "mount.fuse.vfs"];

pub fn is_helper(program: &str) -> bool {
    NAMES.contains(&program)
}

/// What mount(8) asked for.
#[derive(Debug, PartialEq)]
pub enum HelperCall {
    /// The `vfs` command line to run.
    Mount(Vec<OsString>),
    /// `-f`: mount(8)'s dry run; nothing to do.
    Fake,
}

/// The `vfs` command line for a helper call's arguments (without the program name).
pub fn command_line(program: &str, args: &[OsString]) -> Result<HelperCall, UsageError> {
    let usage = || {
        UsageError(format!(
            "usage: {program} SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] (SOURCE: a provider, \
             or PROVIDER:ARGUMENT)"
        ))
    };
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut verbose = 0;
    let mut fake = false;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let text = word.to_str().ok_or_else(usage)?;
        match text {
            "-o" => options.push(words.next().ok_or_else(usage)?.clone()),
            // mount(8) names the type; ours is the only one this helper serves.
            "-t" => {
                words.next().ok_or_else(usage)?;
            }
            "-N" => {
                return Err(UsageError(format!(
                    "{program}: mounting in another namespace (-N) is not supported"
                )))
            }
            flags if flags.starts_with("-o") && flags.len() > 2 => {
                options.push(OsString::from(&flags[2..]))
            }
            flags if flags.starts_with('-') && flags.len() > 1 => {
                for flag in flags[1..].chars() {
                    match flag {
                        'f' => fake = true,
                        'v' => verbose += 1,
                        // No mtab to skip writing; sloppy options are refused all the same.
                        'n' | 's' => {}
                        _ => return Err(usage()),
                    }
                }
            }
            _ => positional.push(word.clone()),
        }
    }
    let [source, mountpoint] = positional.as_slice() else {
        return Err(usage());
    };
    if fake {
        return Ok(HelperCall::Fake);
    }
    let source = source.to_str().ok_or_else(usage)?;
    let mut line: Vec<OsString> = vec![program.into(), "mount".into(), "-d".into()];
    line.extend((0..verbose).map(|_| OsString::from("-v")));
    match source.split_once(':') {
        Some((provider, argument)) => {
            line.push(provider.into());
            line.push(argument.into());
        }
        None => line.push(source.into()),
    }
    line.push(mountpoint.clone());
    for value in options {
        line.push("-o".into());
        line.push(value);
    }
    Ok(HelperCall::Mount(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> Result<HelperCall, UsageError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        command_line("mount.fuse.vfs", &args)
    }

    fn line(words: &[&str]) -> HelperCall {
        HelperCall::Mount(words.iter().map(OsString::from).collect())
    }

    #[test]
    fn mounts_call_is_a_background_mount() {
        assert_eq!(
            call(&[
                "docker",
                "/mnt/d",
                "-o",
                "rw,allow_other,ttl=2s",
                "-t",
                "fuse.vfs"
            ])
            .unwrap(),
            line(&[
                "mount.fuse.vfs",
                "mount",
                "-d",
                "docker",
                "/mnt/d",
                "-o",
                "rw,allow_other,ttl=2s"
            ])
        );
        assert_eq!(
            call(&["gitconfig:/srv/app", "/m", "-nv"]).unwrap(),
            line(&[
                "mount.fuse.vfs",
                "mount",
                "-d",
                "-v",
                "gitconfig",
                "/srv/app",
                "/m"
            ])
        );
        assert_eq!(call(&["docker", "/m", "-f"]).unwrap(), HelperCall::Fake);
    }

    #[test]
    fn a_wrong_call_is_a_usage_error() {
        assert!(call(&["docker"]).is_err());
        assert!(call(&["docker", "/m", "-x"]).is_err());
        assert!(call(&["docker", "/m", "-o"]).is_err());
    }
}
