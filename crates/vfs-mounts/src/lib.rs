//! The mount table as vfs reads it: what is mounted at a path, whether it is a FUSE mount and
//! whether the vfs host made it. Read without touching the mounts themselves, which may be
//! stale (ENOTCONN) or hang.
//!
//! The one reader of the table in vfs: the FUSE host (unmount), the command line (mountpoint
//! checks, `vfs wait`), GitConfigFS (never looking inside a FUSE mount below SOURCE) and the
//! test kit (unmount guards, aborting a hung connection) all use it. It depends on nothing of
//! vfs, so providers and tests may use it without the host.
//!
//! # Platforms
//!
//! The table is read from `/proc/self/mountinfo`, which only Linux has. Everywhere else (macOS,
//! the BSDs) reading it fails with [`std::io::ErrorKind::Unsupported`]: [`mounted_at`] answers
//! that error, [`is_mounted`] answers `false` and [`WatchedTable::open`] fails, so callers treat
//! the table as unknown (their documented fallback), never as "nothing is mounted anywhere"
//! where that matters. The parsing itself is plain code and is compiled and tested everywhere.
//! (The `procfs` crate was considered: it neither undoes the table's octal escapes nor reads a
//! table holding a path that is not UTF-8, which anyone can mount.)

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
mod watched;
#[cfg(target_os = "linux")]
pub use watched::WatchedTable;

#[cfg(not(target_os = "linux"))]
mod unsupported;
#[cfg(not(target_os = "linux"))]
pub use unsupported::WatchedTable;

/// Where Linux shows this process's mount table.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

/// The source (fsname) of a mount the vfs host made with its default configuration.
pub const VFS_FS_NAME: &str = "vfs";
/// The subtype the vfs host gives every mount; the type reads `fuse.vfs` when the kernel keeps
/// it.
pub const VFS_SUBTYPE: &str = "vfs";

/// One mount of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    mount_id: u64,
    parent_id: u64,
    /// The device number's major and minor (for a FUSE mount, the minor names its connection in
    /// `/sys/fs/fuse/connections`).
    pub device: (u32, u32),
    /// Where it is mounted, escapes undone.
    pub mount_point: PathBuf,
    /// The filesystem type: `ext4`, `tmpfs`, `fuse`, `fuse.bindfs`, …
    pub fs_type: String,
    /// The mount source (a device, or a FUSE filesystem's fsname), escapes undone.
    pub source: String,
}

impl MountEntry {
    /// Whether it is a FUSE mount (type `fuse`, `fuseblk` or `fuse.SUBTYPE`).
    pub fn is_fuse(&self) -> bool {
        self.fs_type == "fuse" || self.fs_type == "fuseblk" || self.fs_type.starts_with("fuse.")
    }

    /// Whether the vfs host mounted it (any binary built on the host: `vfs`, `hello-vfs`, …).
    ///
    /// The host mounts with subtype [`VFS_SUBTYPE`] and fsname `vfs` or `vfs-PROVIDER`
    /// ([`VFS_FS_NAME`]). Mounted through `fusermount3` the type reads `fuse.vfs`; mounted by
    /// root with mount(2), fuser drops the subtype and the type reads `fuse`, so then the fsname
    /// tells: `vfs` or `vfs-…`.
    pub fn is_vfs(&self) -> bool {
        let subtype = self.fs_type.strip_prefix("fuse.");
        subtype == Some(VFS_SUBTYPE)
            || (self.fs_type == "fuse"
                && (self.source == VFS_FS_NAME
                    || self.source.starts_with(&format!("{VFS_FS_NAME}-"))))
    }

    /// "a tmpfs mount (tmpfs)", "an ext4 mount (/dev/sda1)": for messages.
    pub fn describe(&self) -> String {
        let article = match self.fs_type.chars().next() {
            Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
            _ => "a",
        };
        format!("{article} {} mount ({})", self.fs_type, self.source)
    }
}

/// Every mount of this process's table, in the table's order (newer mounts later).
///
/// Fails with [`io::ErrorKind::Unsupported`] where there is no `/proc/self/mountinfo` (every
/// system but Linux).
pub fn entries() -> io::Result<Vec<MountEntry>> {
    #[cfg(target_os = "linux")]
    {
        Ok(parse(&std::fs::read(MOUNTINFO)?))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(unsupported::error())
    }
}

/// The mount at `target` (a path as the table spells it: absolute, symlinks resolved, see
/// [`mount_table_path`]), the topmost one when several are stacked there; `None` when nothing
/// is mounted there. Fails like [`entries`].
pub fn mounted_at(target: &Path) -> io::Result<Option<MountEntry>> {
    Ok(topmost_at(entries()?, target))
}

/// Whether anything is mounted at `target` (as the table spells it); an unreadable or missing
/// table counts as nothing.
pub fn is_mounted(target: &Path) -> bool {
    matches!(mounted_at(target), Ok(Some(_)))
}

/// The path as the mount table spells it: absolute, its parent's symlinks and `..` resolved.
/// The mountpoint itself may be unreachable (a stale mount), so only its parent is resolved;
/// when even that fails, the absolute path as given.
pub fn mount_table_path(mountpoint: &Path) -> PathBuf {
    let absolute = std::path::absolute(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|parent| parent.join(name))
            .unwrap_or(absolute.clone()),
        _ => absolute,
    }
}

/// Of the mounts at `target`, the one no other mount there sits on (a mount stacked on another
/// has it as its parent). The last listed wins a tie, as newer mounts are listed later.
fn topmost_at(entries: Vec<MountEntry>, target: &Path) -> Option<MountEntry> {
    let here: Vec<MountEntry> = entries
        .into_iter()
        .filter(|entry| entry.mount_point == target)
        .collect();
    let covered = |entry: &MountEntry| {
        here.iter()
            .any(|other| other.parent_id == entry.mount_id && other.mount_id != entry.mount_id)
    };
    here.iter().rev().find(|entry| !covered(entry)).cloned()
}

/// The entries of mountinfo text (`proc_pid_mountinfo(5)`); a line that does not parse is
/// skipped (the table is the kernel's, but nothing here may panic on it).
pub fn parse(table: &[u8]) -> Vec<MountEntry> {
    table
        .split(|byte| *byte == b'\n')
        .filter_map(parse_line)
        .collect()
}

/// `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL…] - TYPE SOURCE SUPER_OPTIONS`
fn parse_line(line: &[u8]) -> Option<MountEntry> {
    let fields: Vec<&[u8]> = line.split(|byte| *byte == b' ').collect();
    let text = |field: &[u8]| String::from_utf8_lossy(&unescape(field)).into_owned();
    let number = |field: &[u8]| std::str::from_utf8(field).ok()?.parse::<u64>().ok();
    let mount_id = number(fields.first()?)?;
    let parent_id = number(fields.get(1)?)?;
    let (major, minor) = std::str::from_utf8(fields.get(2)?).ok()?.split_once(':')?;
    let device = (major.parse().ok()?, minor.parse().ok()?);
    let mount_point = PathBuf::from(OsString::from_vec(unescape(fields.get(4)?)));
    // The optional fields vary in number; the separator `-` ends them.
    let separator = fields.iter().skip(6).position(|field| *field == b"-")? + 6;
    Some(MountEntry {
        mount_id,
        parent_id,
        device,
        mount_point,
        fs_type: text(fields.get(separator + 1)?),
        source: text(fields.get(separator + 2)?),
    })
}

/// Undoes the table's octal escapes (`\040` for a space, `\011` a tab, `\012` a newline,
/// `\134` a backslash); a backslash not followed by three octal digits of one byte stays.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut index = 0;
    while index < field.len() {
        let escaped = field
            .get(index + 1..index + 4)
            .filter(|digits| {
                field[index] == b'\\' && digits.iter().all(|digit| (b'0'..=b'7').contains(digit))
            })
            .and_then(|digits| {
                let value = digits
                    .iter()
                    .fold(0u16, |value, digit| value * 8 + u16::from(digit - b'0'));
                u8::try_from(value).ok()
            });
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 4;
            }
            None => {
                out.push(field[index]);
                index += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    const TABLE: &[u8] = b"\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
30 22 0:25 / /proc rw,nosuid - proc proc rw\n\
41 22 0:39 / /tmp/with\\040space ro,nosuid shared:7 master:2 - fuse vfs-gitconfig ro,user_id=0\n\
42 22 0:40 / /tmp/bind rw - fuse.bindfs /srv/a\\134b rw\n\
43 22 0:41 / /tmp/stack rw - tmpfs tmpfs rw\n\
44 43 0:42 / /tmp/stack ro - fuse.vfs vfs-hello ro\n\
45 22 8:1 /home/x /tmp/\\377odd rw - ext4 /dev/sda1 rw\n\
garbage line\n\
46 22 0:43 / /tmp/short rw -\n";

    fn at(path: &[u8]) -> Option<MountEntry> {
        topmost_at(parse(TABLE), Path::new(std::ffi::OsStr::from_bytes(path)))
    }

    #[test]
    fn entries_are_read_with_escapes_undone_and_odd_lines_skipped() {
        let spaced = at(b"/tmp/with space").unwrap();
        assert_eq!(
            (spaced.fs_type.as_str(), spaced.source.as_str()),
            ("fuse", "vfs-gitconfig")
        );
        assert_eq!(spaced.device, (0, 39));
        assert_eq!(at(b"/tmp/bind").unwrap().source, "/srv/a\\b");
        let odd = at(b"/tmp/\xffodd").unwrap();
        assert_eq!(odd.mount_point.as_os_str().as_bytes(), b"/tmp/\xffodd");
        assert_eq!(at(b"/tmp/with"), None);
        assert_eq!(at(b"/tmp/short"), None);
        assert_eq!(parse(TABLE).len(), 7);
    }

    #[test]
    fn the_escapes_are_undone_and_broken_ones_kept() {
        assert_eq!(
            unescape(br"/tmp/a\040b\011c\012d\134e"),
            b"/tmp/a b\tc\nd\\e".to_vec()
        );
        assert_eq!(unescape(br"/tmp/x\04"), br"/tmp/x\04".to_vec());
        assert_eq!(unescape(br"/tmp/\999"), br"/tmp/\999".to_vec());
        assert_eq!(
            unescape(br"/tmp/\777"),
            br"/tmp/\777".to_vec(),
            "not one byte"
        );
    }

    #[test]
    fn the_topmost_of_stacked_mounts_is_the_one_at_the_path() {
        assert_eq!(at(b"/tmp/stack").unwrap().fs_type, "fuse.vfs");
    }

    #[test]
    fn only_the_hosts_own_mounts_are_vfs_mounts() {
        let vfs = |path: &[u8]| at(path).unwrap().is_vfs();
        assert!(
            vfs(b"/tmp/with space"),
            "root mount: type fuse, fsname vfs-…"
        );
        assert!(vfs(b"/tmp/stack"), "fusermount3 mount: type fuse.vfs");
        assert!(!vfs(b"/tmp/bind"));
        assert!(!vfs(b"/proc"));
        assert!(!vfs(b"/"));
        let entry = |fs_type: &str, source: &str| MountEntry {
            mount_id: 1,
            parent_id: 0,
            device: (0, 1),
            mount_point: "/m".into(),
            fs_type: fs_type.into(),
            source: source.into(),
        };
        assert!(entry("fuse", "vfs").is_vfs());
        assert!(
            !entry("fuse", "/srv/vfs-data").is_vfs(),
            "bindfs of a folder, as root"
        );
        assert!(!entry("fuse", "vfsx").is_vfs());
        assert!(!entry("tmpfs", "vfs-x").is_vfs());
        assert!(!entry("fuse.vfsx", "vfs").is_vfs());
        assert!(entry("fuse.bindfs", "x").is_fuse() && !entry("tmpfs", "x").is_fuse());
        assert!(entry("fuseblk", "/dev/sdb1").is_fuse());
        assert!(
            !entry("fusectl", "fusectl").is_fuse(),
            "the control file system"
        );
    }

    #[test]
    fn descriptions_name_type_and_source() {
        assert_eq!(
            at(b"/tmp/stack").unwrap().describe(),
            "a fuse.vfs mount (vfs-hello)"
        );
        assert_eq!(at(b"/").unwrap().describe(), "an ext4 mount (/dev/sda1)");
    }

    #[test]
    fn table_paths_resolve_the_parent_only() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("a")).unwrap();
        std::os::unix::fs::symlink(real.join("a"), real.join("link")).unwrap();
        assert_eq!(
            mount_table_path(&real.join("link/m")),
            real.join("a/m"),
            "the parent's symlink resolved, the missing name kept"
        );
        assert_eq!(mount_table_path(&real.join("a/../x")), real.join("x"));
        assert_eq!(
            mount_table_path(&real.join("link")),
            real.join("link"),
            "the name itself is not followed: it may be a stale mount"
        );
        assert_eq!(mount_table_path(Path::new("/")), PathBuf::from("/"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_live_table_has_the_root_and_proc_and_not_a_fresh_directory() {
        assert!(is_mounted(Path::new("/")));
        assert!(is_mounted(&mount_table_path(Path::new("/tmp/../proc"))));
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_mounted(&mount_table_path(dir.path())));
        assert!(!is_mounted(&mount_table_path(&dir.path().join("missing"))));
    }

    #[cfg(not(target_os = "linux"))]
    #[test]
    fn elsewhere_the_table_is_unknown() {
        assert_eq!(entries().unwrap_err().kind(), io::ErrorKind::Unsupported);
        assert!(!is_mounted(Path::new("/")));
    }
}
