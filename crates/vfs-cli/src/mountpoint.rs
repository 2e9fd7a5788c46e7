//! Checks and creates the directory a provider is mounted on.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// The absolute, canonical path of `path`, created if missing. Refuses a path that is not a
/// directory, one that still holds the mount of a process that died, and one that already holds
/// a FUSE mount (mounting over it would hide it, and `unmount` could not tell them apart).
pub fn prepare(program: &str, path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("cannot resolve mountpoint {}", path.display()))?;
    match std::fs::metadata(&absolute) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => bail!("mountpoint {} is not a directory", absolute.display()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&absolute)
                .with_context(|| format!("cannot create mountpoint {}", absolute.display()))?;
        }
        Err(error) if error.raw_os_error() == Some(libc::ENOTCONN) => bail!(
            "mountpoint {0} still holds the mount of a process that is gone ({error}): \
             run `{program} unmount {0}` first",
            absolute.display()
        ),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot use mountpoint {}", absolute.display()))
        }
    }
    let canonical = absolute
        .canonicalize()
        .with_context(|| format!("cannot resolve mountpoint {}", absolute.display()))?;
    // Unreadable /proc/mounts (no procfs): nothing to compare with, so nothing to refuse.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if let Some(source) = fuse_mount_at(&mounts, &canonical) {
        bail!(
            "mountpoint {0} already holds a FUSE mount ({source}): \
             run `{program} unmount {0}` first",
            canonical.display()
        );
    }
    Ok(canonical)
}

/// The source (fsname) of a FUSE mount at `mountpoint` in `mounts` (/proc/mounts text).
fn fuse_mount_at(mounts: &str, mountpoint: &Path) -> Option<String> {
    mounts.lines().find_map(|line| {
        let mut fields = line.split(' ');
        let source = fields.next()?;
        let point = fields.next()?;
        let fs_type = fields.next()?;
        let is_fuse = fs_type == "fuse" || fs_type.starts_with("fuse.");
        (is_fuse && Path::new(&unescape_octal(point)) == mountpoint).then(|| unescape_octal(source))
    })
}

/// Undoes the `\NNN` octal escapes /proc/mounts uses for spaces, tabs, newlines and `\`.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes
            .get(index + 1..index + 4)
            .filter(|digits| digits.iter().all(|digit| (b'0'..=b'7').contains(digit)))
            .and_then(|digits| {
                let value = digits
                    .iter()
                    .fold(0u16, |value, digit| value * 8 + u16::from(digit - b'0'));
                u8::try_from(value).ok()
            });
        match (bytes[index], escaped) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                index += 4;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_missing_mountpoint_and_returns_it_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = dir.path().join("a/b");
        let prepared = prepare("vfs", &wanted).unwrap();
        assert!(prepared.is_dir());
        assert_eq!(prepared, wanted.canonicalize().unwrap());
    }

    #[test]
    fn finds_fuse_mounts_only_and_reads_escaped_paths() {
        let mounts = "proc /proc proc rw 0 0\n\
                      tmpfs /tmp/plain tmpfs rw 0 0\n\
                      vfs-hello /tmp/with\\040space fuse ro,nosuid 0 0\n\
                      sshfs#host: /mnt/remote fuse.sshfs rw 0 0\n";
        assert_eq!(
            fuse_mount_at(mounts, Path::new("/tmp/with space")),
            Some("vfs-hello".to_owned())
        );
        assert_eq!(
            fuse_mount_at(mounts, Path::new("/mnt/remote")),
            Some("sshfs#host:".to_owned())
        );
        assert_eq!(fuse_mount_at(mounts, Path::new("/tmp/plain")), None);
        assert_eq!(fuse_mount_at(mounts, Path::new("/tmp/with")), None);
        assert_eq!(unescape_octal("a\\134b\\011c\\x\\+12"), "a\\b\tc\\x\\+12");
    }

    #[test]
    fn refuses_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let error = prepare("vfs", &file).unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            format!("mountpoint {} is not a directory", file.display())
        );
    }
}
