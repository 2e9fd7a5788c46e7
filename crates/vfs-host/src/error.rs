use std::io;
use std::path::PathBuf;

/// Why the host could not mount or unmount: one clear line each, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No FUSE here (a container without `/dev/fuse`, a locked-down host): the message points
    /// to the backend that needs none.
    #[error(
        "FUSE is not available (/dev/fuse is missing or not a device): install fuse3 and load \
         the fuse module, or run `sync` instead of `mount` to keep a plain folder in step \
         without FUSE (docs/sync.md)"
    )]
    NoFuseDevice,
    #[error("mountpoint {} is not a directory", .0.display())]
    MountpointNotADirectory(PathBuf),
    #[error("permission denied mounting {}: {detail}", .mountpoint.display())]
    PermissionDenied { mountpoint: PathBuf, detail: String },
    #[error("{} is not mounted", .0.display())]
    NotMounted(PathBuf),
    /// Something else is mounted there (a disk, a tmpfs, another FUSE filesystem): left alone.
    #[error(
        "{} holds {mounted}, not a vfs mount: not unmounting it",
        .mountpoint.display()
    )]
    NotVfsMount {
        mountpoint: PathBuf,
        mounted: String,
    },
    #[error("cannot read the mount table: {0}")]
    MountTable(io::Error),
    /// Mounting over the provider's own source would make it read itself through the mount.
    #[error(
        "mountpoint {} is SOURCE itself: mount it elsewhere (a folder inside SOURCE works)",
        .0.display()
    )]
    MountpointIsSource(PathBuf),
    #[error(
        "mountpoint {} holds SOURCE {}: the mount would hide it; mount it elsewhere \
         (a folder inside SOURCE works)",
        .mountpoint.display(),
        .source_dir.display()
    )]
    MountpointHoldsSource {
        mountpoint: PathBuf,
        source_dir: PathBuf,
    },
    /// The provider's `start` failed: its message is the line shown.
    #[error(transparent)]
    Provider(#[from] vfs_core::ProviderError),
    /// The OS error is part of the message, not a `source()` (a chain printer would repeat it).
    #[error("cannot mount {}: {error}", .mountpoint.display())]
    Mount {
        mountpoint: PathBuf,
        error: io::Error,
    },
    #[error("cannot unmount {}: {detail}", .mountpoint.display())]
    Unmount { mountpoint: PathBuf, detail: String },
}

impl HostError {
    /// Classifies an OS error met while mounting at `mountpoint`.
    pub(crate) fn mounting(mountpoint: PathBuf, error: io::Error) -> HostError {
        let detail = without_repeated_half(&error.to_string());
        match error.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => {
                HostError::PermissionDenied { mountpoint, detail }
            }
            // fusermount3 refuses an unprivileged user in words, not with an errno.
            None if detail.contains("no write access") || detail.contains("ermission denied") => {
                HostError::PermissionDenied { mountpoint, detail }
            }
            _ if error.kind() == io::ErrorKind::NotFound && !crate::fuse_device_present() => {
                HostError::NoFuseDevice
            }
            _ => HostError::Mount { mountpoint, error },
        }
    }
}

/// fuser reports fusermount3's message as "MESSAGE : MESSAGE"; one copy is enough.
fn without_repeated_half(text: &str) -> String {
    match text.split_once(" : ") {
        Some((first, second)) if first.trim() == second.trim() => first.trim().to_string(),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_naming_the_path() {
        let errors = [
            HostError::NoFuseDevice,
            HostError::MountpointNotADirectory("/x/file".into()),
            HostError::mounting("/m".into(), io::Error::from_raw_os_error(libc::EPERM)),
            HostError::NotMounted("/m".into()),
            HostError::Provider(vfs_core::ProviderError::Unavailable(
                "docker engine down".into(),
            )),
            HostError::mounting("/m".into(), io::Error::from_raw_os_error(libc::ENOTCONN)),
        ];
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines[0],
            "FUSE is not available (/dev/fuse is missing or not a device): install fuse3 and load the fuse module, or run `sync` instead of `mount` to keep a plain folder in step without FUSE (docs/sync.md)"
        );
        assert_eq!(lines[1], "mountpoint /x/file is not a directory");
        assert!(
            lines[2].starts_with("permission denied mounting /m: "),
            "{}",
            lines[2]
        );
        assert_eq!(lines[3], "/m is not mounted");
        assert_eq!(lines[4], "source unavailable: docker engine down");
        assert!(
            lines[5].starts_with("cannot mount /m: Transport endpoint"),
            "{}",
            lines[5]
        );
        assert!(lines.iter().all(|line| !line.contains('\n')));
    }

    #[test]
    fn an_os_error_is_said_once_also_by_a_printer_of_causes() {
        let errors = [
            HostError::mounting("/m".into(), io::Error::from_raw_os_error(libc::ENOTCONN)),
            HostError::Provider(vfs_core::ProviderError::io(
                "reading /src",
                io::Error::from_raw_os_error(libc::ENOENT),
            )),
        ];
        for error in errors {
            let mut line = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(next) = cause {
                line = format!("{line}: {next}");
                cause = next.source();
            }
            assert_eq!(line.matches("(os error").count(), 1, "{line}");
        }
    }

    #[test]
    fn fusermount_refusals_are_permission_denied_said_once() {
        let refusal = io::Error::other(
            "fusermount3: user has no write access to mountpoint /m : \
             fusermount3: user has no write access to mountpoint /m",
        );
        let error = HostError::mounting("/m".into(), refusal);
        assert!(
            matches!(error, HostError::PermissionDenied { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "permission denied mounting /m: fusermount3: user has no write access to mountpoint /m"
        );
    }
}
