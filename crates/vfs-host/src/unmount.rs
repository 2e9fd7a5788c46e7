//! `vfs unmount`: taking down a mount by its path, including a stale one whose process was
//! killed ("Transport endpoint is not connected").

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::HostError;

const FUSERMOUNT: &str = "fusermount3";

/// Unmounts `mountpoint`: `fusermount3 -u`, then a lazy unmount (`fusermount3 -uz`, or
/// `umount2(MNT_DETACH)`) when the mount is stale or busy.
pub fn unmount_path(mountpoint: &Path) -> Result<(), HostError> {
    let target = mount_table_path(mountpoint);
    if !is_mounted(&target) {
        return Err(HostError::NotMounted(mountpoint.to_path_buf()));
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
    umount(target, libc::MNT_DETACH).map_err(|error| format!("{fusermount}; umount2: {error}"))
}

fn umount(target: &Path, flags: libc::c_int) -> io::Result<()> {
    let path = CString::new(target.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    let status = unsafe { libc::umount2(path.as_ptr(), flags) };
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The path as the mount table spells it. The mountpoint itself may be unreachable (a stale
/// mount), so only its parent is resolved.
pub(crate) fn mount_table_path(mountpoint: &Path) -> PathBuf {
    let absolute = std::path::absolute(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|parent| parent.join(name))
            .unwrap_or(absolute.clone()),
        _ => absolute,
    }
}

/// Whether the mount table has a mount at `target`.
pub(crate) fn is_mounted(target: &Path) -> bool {
    let Ok(table) = std::fs::read("/proc/self/mountinfo") else {
        return false;
    };
    table
        .split(|byte| *byte == b'\n')
        .filter_map(|line| line.split(|byte| *byte == b' ').nth(4))
        .any(|field| unescape(field) == target.as_os_str().as_bytes())
}

/// Undoes the mount table's octal escapes (`\040` for a space).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut index = 0;
    while index < field.len() {
        let octal = field.get(index + 1..index + 4);
        match (field[index], octal) {
            (b'\\', Some(digits)) if digits.iter().all(|digit| (b'0'..=b'7').contains(digit)) => {
                let value = digits
                    .iter()
                    .fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'));
                out.push(value as u8);
                index += 4;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_table_escapes_are_undone() {
        assert_eq!(unescape(br"/mnt/a\040b\011c"), b"/mnt/a b\tc");
        assert_eq!(unescape(br"/plain\x"), br"/plain\x");
    }

    #[test]
    fn the_root_is_mounted_and_a_temp_dir_is_not() {
        assert!(is_mounted(Path::new("/")));
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_mounted(&mount_table_path(dir.path())));
        assert!(matches!(
            unmount_path(dir.path()),
            Err(HostError::NotMounted(_))
        ));
    }
}
