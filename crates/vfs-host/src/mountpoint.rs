//! The one check of a mountpoint: what is at its path, decided here for the command line
//! ([`check_mountpoint`], before anything starts) and for `mount` (which creates a
//! missing one once the provider has started).

use std::io;
use std::path::{Component, Path, PathBuf};

/// A mountpoint [`check_mountpoint`] accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mountpoint {
    /// Canonical; for a missing mountpoint, the path it will have once created.
    pub path: PathBuf,
    /// Missing: `mount` creates it once the provider has started.
    pub missing: bool,
}

/// Why [`check_mountpoint`] refused a mountpoint. `program` is the binary named in the advice
/// (`vfs unmount …`).
#[derive(Debug, thiserror::Error)]
pub enum MountpointError {
    #[error("cannot resolve mountpoint {}", .mountpoint.display())]
    Unresolved {
        mountpoint: PathBuf,
        #[source]
        cause: io::Error,
    },
    #[error("mountpoint {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// Missing, and not to be created: the caller says how to have it created.
    #[error("mountpoint {} does not exist", .0.display())]
    Missing(PathBuf),
    /// The mount of a process that died is still there (`ENOTCONN`).
    #[error(
        "mountpoint {path} still holds the mount of a process that is gone ({cause}): \
         run `{program} unmount {path}` first",
        path = .mountpoint.display()
    )]
    Stale {
        mountpoint: PathBuf,
        cause: io::Error,
        program: String,
    },
    #[error("cannot use mountpoint {}", .mountpoint.display())]
    Unusable {
        mountpoint: PathBuf,
        #[source]
        cause: io::Error,
    },
    /// Mounting over it would hide that mount, and `unmount` could not tell the two apart.
    #[error(
        "mountpoint {path} already holds a FUSE mount ({mounted}): \
         run `{program} unmount {path}` first",
        path = .mountpoint.display()
    )]
    HoldsFuseMount {
        mountpoint: PathBuf,
        mounted: String,
        program: String,
    },
}

/// Checks the mountpoint `path` (made absolute) before anything starts: a directory, or missing
/// when `may_create` allows it for that absolute path (it is then resolved as the folder it will
/// be, and nothing is created). Refuses anything else, a mountpoint that still holds the mount
/// of a process that died, and one that already holds a FUSE mount.
pub fn check_mountpoint(
    path: &Path,
    may_create: impl FnOnce(&Path) -> bool,
    program: &str,
) -> Result<Mountpoint, MountpointError> {
    let absolute = std::path::absolute(path).map_err(|cause| MountpointError::Unresolved {
        mountpoint: path.to_path_buf(),
        cause,
    })?;
    let unresolved = |cause| MountpointError::Unresolved {
        mountpoint: absolute.clone(),
        cause,
    };
    match look_at(&absolute) {
        Found::Directory => {}
        Found::NotADirectory => return Err(MountpointError::NotADirectory(absolute)),
        Found::Missing => {
            if !may_create(&absolute) {
                return Err(MountpointError::Missing(absolute));
            }
            let path = resolve_missing(&absolute).map_err(unresolved)?;
            return Ok(Mountpoint {
                path,
                missing: true,
            });
        }
        Found::Unusable(cause) if cause.raw_os_error() == Some(libc::ENOTCONN) => {
            return Err(MountpointError::Stale {
                mountpoint: absolute,
                cause,
                program: program.to_string(),
            })
        }
        Found::Unusable(cause) => {
            return Err(MountpointError::Unusable {
                mountpoint: absolute,
                cause,
            })
        }
    }
    let canonical = absolute.canonicalize().map_err(unresolved)?;
    // Unreadable mount table (no procfs, or not Linux): nothing to compare with, so nothing to
    // refuse.
    if let Ok(Some(mounted)) = vfs_mounts::mounted_at(&canonical) {
        if mounted.is_fuse() {
            return Err(MountpointError::HoldsFuseMount {
                mountpoint: canonical,
                mounted: mounted.source,
                program: program.to_string(),
            });
        }
    }
    Ok(Mountpoint {
        path: canonical,
        missing: false,
    })
}

/// What is at a mountpoint's path.
pub(crate) enum Found {
    Directory,
    Missing,
    NotADirectory,
    /// It cannot be looked at (a stale mount answers `ENOTCONN`).
    Unusable(io::Error),
}

pub(crate) fn look_at(path: &Path) -> Found {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Found::Directory,
        Ok(_) => Found::NotADirectory,
        Err(error) if error.kind() == io::ErrorKind::NotFound => Found::Missing,
        Err(error) => Found::Unusable(error),
    }
}

/// The canonical path a missing folder will have once created: its nearest existing ancestor
/// resolved, the rest appended as written (`..` climbs, as it will once the folders exist).
fn resolve_missing(absolute: &Path) -> io::Result<PathBuf> {
    let mut existing = absolute;
    let mut tail = Vec::new();
    let mut resolved = loop {
        match existing.canonicalize() {
            Ok(resolved) => break resolved,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let (Some(parent), Some(name)) =
                    (existing.parent(), existing.components().next_back())
                else {
                    return Err(error);
                };
                tail.push(name);
                existing = parent;
            }
            Err(error) => return Err(error),
        }
    };
    for component in tail.into_iter().rev() {
        match component {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => resolved.push(name),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_mountpoint_is_created_only_when_its_caller_allows() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = dir.path().join("a/../b");
        let refused = check_mountpoint(&wanted, |_| false, "vfs").unwrap_err();
        assert!(matches!(refused, MountpointError::Missing(_)), "{refused}");
        let mut asked = None;
        let allowed = check_mountpoint(
            &wanted,
            |absolute| {
                asked = Some(absolute.to_path_buf());
                true
            },
            "vfs",
        )
        .unwrap();
        assert_eq!(asked, Some(std::path::absolute(&wanted).unwrap()));
        assert_eq!(
            allowed,
            Mountpoint {
                path: dir.path().canonicalize().unwrap().join("b"),
                missing: true,
            }
        );
        assert!(!dir.path().join("b").exists(), "nothing is created");
    }

    #[test]
    fn refusals_say_what_to_do_in_one_line() {
        let stale = MountpointError::Stale {
            mountpoint: "/m".into(),
            cause: io::Error::from_raw_os_error(libc::ENOTCONN),
            program: "hello-vfs".into(),
        };
        assert_eq!(
            stale.to_string(),
            format!(
                "mountpoint /m still holds the mount of a process that is gone ({}): \
                 run `hello-vfs unmount /m` first",
                io::Error::from_raw_os_error(libc::ENOTCONN)
            )
        );
        let fuse = MountpointError::HoldsFuseMount {
            mountpoint: "/m".into(),
            mounted: "vfs-docker".into(),
            program: "vfs".into(),
        };
        assert_eq!(
            fuse.to_string(),
            "mountpoint /m already holds a FUSE mount (vfs-docker): run `vfs unmount /m` first"
        );
    }
}
