//! `vfs unmount`: taking down a mount by its path, including a stale one whose process was
//! killed ("Transport endpoint is not connected").

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use crate::HostError;
use vfs_mounts::{is_mounted, mount_table_path, mounted_at};

const FUSERMOUNT: &str = "fusermount3";

/// Unmounts the vfs mount at `mountpoint`: `fusermount3 -u`, then a lazy unmount
/// (`fusermount3 -uz`, or `umount2(MNT_DETACH)`) when the mount is stale or busy. Without
/// `fusermount3` (macOS) the system call itself: `unmount(2)`, forced when busy.
///
/// The mount is found in the mount table (`vfs-mounts`), which only Linux has: elsewhere this
/// fails with [`HostError::MountTable`] (unsupported) instead of guessing what is mounted.
///
/// Only a mount the vfs host made is touched (see [`crate::MountEntry::is_vfs`]): as root,
/// `fusermount3 -u` unmounts anything, and a lazy unmount would even detach a busy disk.
pub fn unmount_path(mountpoint: &Path) -> Result<(), HostError> {
    let target = mount_table_path(mountpoint);
    let entry = mounted_at(&target)
        .map_err(HostError::MountTable)?
        .ok_or_else(|| HostError::NotMounted(mountpoint.to_path_buf()))?;
    if !entry.is_vfs() {
        return Err(HostError::NotVfsMount {
            mountpoint: mountpoint.to_path_buf(),
            mounted: entry.describe(),
        });
    }
    let failure = match Command::new(FUSERMOUNT).arg("-u").arg(&target).output() {
        Ok(output) if output.status.success() => return Ok(()),
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_string(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => match umount(&target, 0) {
            Ok(()) => return Ok(()),
            Err(error) => error.to_string(),
        },
        Err(error) => error.to_string(),
    };
    let stale_or_busy = ["not connected", "busy"]
        .iter()
        .any(|sign| failure.to_lowercase().contains(sign));
    if !stale_or_busy {
        if !is_mounted(&target) {
            return Err(HostError::NotMounted(mountpoint.to_path_buf()));
        }
        return Err(HostError::Unmount {
            mountpoint: mountpoint.to_path_buf(),
            detail: failure,
        });
    }
    tracing::debug!(mountpoint = %target.display(), "{failure}; unmounting lazily");
    detach(&target).map_err(|detail| HostError::Unmount {
        mountpoint: mountpoint.to_path_buf(),
        detail: format!("{failure}; lazy unmount: {detail}"),
    })
}

/// Lazy unmount: the mount leaves the tree now and goes away once nothing uses it.
pub(crate) fn detach(target: &Path) -> Result<(), String> {
    let fusermount = match Command::new(FUSERMOUNT).arg("-uz").arg(target).output() {
        Ok(output) if output.status.success() => return Ok(()),
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_string(),
        Err(error) => error.to_string(),
    };
    umount(target, LAZY).map_err(|error| format!("{fusermount}; {UMOUNT}: {error}"))
}

/// The unmount call's flag for taking a busy or stale mount away: Linux detaches it lazily
/// (`MNT_DETACH`); the BSDs and macOS have no lazy unmount, and force it (`MNT_FORCE`).
#[cfg(target_os = "linux")]
const LAZY: libc::c_int = libc::MNT_DETACH;
#[cfg(not(target_os = "linux"))]
const LAZY: libc::c_int = libc::MNT_FORCE;

#[cfg(target_os = "linux")]
const UMOUNT: &str = "umount2";
#[cfg(not(target_os = "linux"))]
const UMOUNT: &str = "unmount";

/// `umount2(2)` on Linux, `unmount(2)` elsewhere (macOS, the BSDs; not verified there).
fn umount(target: &Path, flags: libc::c_int) -> io::Result<()> {
    let path = CString::new(target.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    #[cfg(target_os = "linux")]
    let status = unsafe { libc::umount2(path.as_ptr(), flags) };
    // SAFETY: as above.
    #[cfg(not(target_os = "linux"))]
    let status = unsafe { libc::unmount(path.as_ptr(), flags) };
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Refusals of mounts that are not vfs's are tested end to end (tests/unmount_safety.rs),
    // on mounts made for the test: a bug here must not be able to unmount the machine's own.
    #[test]
    fn a_temp_dir_is_not_mounted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            unmount_path(dir.path()),
            Err(HostError::NotMounted(_))
        ));
    }
}
