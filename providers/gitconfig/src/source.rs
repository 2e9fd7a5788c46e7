//! Race-free access to SOURCE: every entry is reached relative to an already open directory
//! descriptor, never by re-resolving a path by name.
//!
//! Why: checking a path with `lstat` and then opening it again by name lets a symlink swapped
//! in between lead the mount outside SOURCE (with `--allow-other`, to files the reader could
//! not read), and a FIFO swapped in blocks an `open` for ever. So each step opens the entry it
//! checked (`openat` with `O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`), looks at the descriptor it
//! got (`fstat`), and goes on from that descriptor. Nothing here can block without bound, and
//! no path length limit applies: a path of any length is a chain of short names.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, CWD};

use crate::mounts::FuseMounts;

/// What kind of entry a name is, as the mirror sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    File,
    Symlink,
    /// FIFOs, sockets, devices: never shown, never opened for reading.
    Other,
}

/// The `stat` of an entry (of the entry itself, never a symlink's target).
#[derive(Clone, Copy, Debug)]
pub struct EntryStat {
    pub kind: EntryKind,
    /// Permission and set-id bits (`mode & 0o7777`).
    pub perm: u16,
    pub size: u64,
    /// Nanoseconds since the epoch.
    pub mtime: i64,
    pub ctime: i64,
    pub atime: i64,
    pub ino: u64,
}

impl EntryStat {
    fn of(stat: &rustix::fs::Stat) -> EntryStat {
        let kind = match rustix::fs::FileType::from_raw_mode(stat.st_mode) {
            rustix::fs::FileType::Directory => EntryKind::Directory,
            rustix::fs::FileType::RegularFile => EntryKind::File,
            rustix::fs::FileType::Symlink => EntryKind::Symlink,
            _ => EntryKind::Other,
        };
        let nanos =
            |seconds: i64, nanos: i64| seconds.saturating_mul(1_000_000_000).saturating_add(nanos);
        EntryStat {
            kind,
            perm: (stat.st_mode & 0o7777) as u16,
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mtime: nanos(stat.st_mtime, stat.st_mtime_nsec as i64),
            ctime: nanos(stat.st_ctime, stat.st_ctime_nsec as i64),
            atime: nanos(stat.st_atime, stat.st_atime_nsec as i64),
            ino: stat.st_ino,
        }
    }

    /// The `stat` of an open descriptor.
    #[cfg(test)]
    pub fn of_fd(fd: impl AsFd) -> io::Result<EntryStat> {
        Ok(EntryStat::of(&rustix::fs::fstat(fd)?))
    }

    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Directory
    }

    pub fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }

    /// Whether the mirror shows entries of this kind.
    pub fn is_mirrored(&self) -> bool {
        self.kind != EntryKind::Other
    }
}

#[derive(Debug)]
/// An open directory of SOURCE, with the path it was reached by (for watches, logs and the
/// mount table; never opened by that path).
pub struct OpenDir {
    fd: OwnedFd,
    pub stat: EntryStat,
    pub path: PathBuf,
}

/// SOURCE, held open from the start.
pub struct SourceTree {
    root: OwnedFd,
    /// SOURCE's canonical path, as the mount table spells paths.
    path: PathBuf,
    mounts: FuseMounts,
}

/// The error for an entry that is no longer what it was when it was checked (swapped for a
/// symlink, a FIFO, a device): to the reader, that entry is gone.
fn changed_kind(name: &OsStr) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} changed kind while opened", name.to_string_lossy()),
    )
}

impl SourceTree {
    /// Opens SOURCE (a symlink given as SOURCE is followed once, here, by the user's choice).
    pub fn open(source: &Path) -> io::Result<SourceTree> {
        let root = rustix::fs::open(
            source,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|error| match error {
            rustix::io::Errno::NOTDIR => {
                io::Error::new(io::ErrorKind::NotADirectory, "not a directory")
            }
            error => io::Error::from(error),
        })?;
        let path = source.canonicalize()?;
        Ok(SourceTree {
            root,
            path,
            mounts: FuseMounts::new(),
        })
    }

    /// SOURCE's root directory, opened anew (so its `stat` is current).
    pub fn root(&self) -> io::Result<OpenDir> {
        let fd = rustix::fs::openat(
            &self.root,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        let stat = EntryStat::of(&rustix::fs::fstat(&fd)?);
        Ok(OpenDir {
            fd,
            stat,
            path: self.path.clone(),
        })
    }

    /// Whether `name` in `dir` is hidden: a FUSE mount (this mount's own mountpoint when it lies
    /// inside SOURCE, or any other). Looking at it would ask that file system, which may be
    /// this very mount waiting on us; so such names are decided from the mount table alone.
    pub fn is_hidden_mount(&self, dir: &OpenDir, name: &OsStr) -> bool {
        self.mounts.is_fuse_mountpoint(&dir.path.join(name))
    }

    /// The `stat` of `name` in `dir` (the entry itself); `None` for a hidden mountpoint.
    pub fn stat(&self, dir: &OpenDir, name: &OsStr) -> io::Result<Option<EntryStat>> {
        if self.is_hidden_mount(dir, name) {
            return Ok(None);
        }
        let stat = rustix::fs::statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(Some(EntryStat::of(&stat)))
    }

    /// Opens the directory `name` in `dir`; a name that is no longer a directory (or became a
    /// symlink, or a hidden mountpoint) is not found.
    pub fn open_dir(&self, dir: &OpenDir, name: &OsStr) -> io::Result<OpenDir> {
        if self.is_hidden_mount(dir, name) {
            return Err(changed_kind(name));
        }
        let fd = rustix::fs::openat(
            &dir.fd,
            name,
            OFlags::RDONLY
                | OFlags::DIRECTORY
                | OFlags::NOFOLLOW
                | OFlags::CLOEXEC
                | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|error| match error {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => changed_kind(name),
            error => io::Error::from(error),
        })?;
        let stat = EntryStat::of(&rustix::fs::fstat(&fd)?);
        Ok(OpenDir {
            fd,
            stat,
            path: dir.path.join(name),
        })
    }

    /// Opens the regular file `name` in `dir` for reading, with its `stat` as opened. Never
    /// blocks (a FIFO swapped in opens at once and is refused) and never follows a symlink.
    pub fn open_file(&self, dir: &OpenDir, name: &OsStr) -> io::Result<(File, EntryStat)> {
        if self.is_hidden_mount(dir, name) {
            return Err(changed_kind(name));
        }
        let fd = rustix::fs::openat(
            &dir.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(|error| match error {
            rustix::io::Errno::LOOP => changed_kind(name),
            error => io::Error::from(error),
        })?;
        let stat = EntryStat::of(&rustix::fs::fstat(&fd)?);
        if !stat.is_file() {
            return Err(changed_kind(name));
        }
        // Reads of a regular file never wait on O_NONBLOCK; clear it all the same, so the
        // file behaves as any other opened for reading.
        rustix::fs::fcntl_setfl(&fd, OFlags::RDONLY)?;
        Ok((File::from(fd), stat))
    }

    /// The target of the symlink `name` in `dir`.
    pub fn read_link(&self, dir: &OpenDir, name: &OsStr) -> io::Result<PathBuf> {
        let target = rustix::fs::readlinkat(&dir.fd, name, Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    /// The names in `dir` (without `.` and `..`), in the order the file system gives them.
    pub fn names(&self, dir: &OpenDir) -> io::Result<Vec<OsString>> {
        let mut reader = rustix::fs::Dir::read_from(dir.fd.as_fd())?;
        let mut names = Vec::new();
        while let Some(entry) = reader.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            names.push(OsStr::from_bytes(name).to_os_string());
        }
        Ok(names)
    }
}

/// Whether `path` names an existing directory (used for a clear error at start only).
pub fn check_directory(path: &Path) -> io::Result<()> {
    let stat = rustix::fs::statat(CWD, path, AtFlags::empty())?;
    match EntryStat::of(&stat).is_dir() {
        true => Ok(()),
        false => Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        rustix::fs::mknodat(
            CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let tree = SourceTree::open(dir.path()).unwrap();
        let root = tree.root().unwrap();
        let error = tree.open_file(&root, OsStr::new("f")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            tree.stat(&root, OsStr::new("f")).unwrap().unwrap().kind,
            EntryKind::Other
        );
    }

    #[test]
    fn a_symlink_is_never_followed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), dir.path().join("f")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("d")).unwrap();
        let tree = SourceTree::open(dir.path()).unwrap();
        let root = tree.root().unwrap();
        assert_eq!(
            tree.open_file(&root, OsStr::new("f")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            tree.open_dir(&root, OsStr::new("d")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            tree.read_link(&root, OsStr::new("f")).unwrap(),
            dir.path().join("secret")
        );
    }

    #[test]
    fn names_list_a_directory_without_dots() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        let tree = SourceTree::open(dir.path()).unwrap();
        let mut names = tree.names(&tree.root().unwrap()).unwrap();
        names.sort();
        assert_eq!(names, vec![OsString::from("a"), OsString::from("b")]);
    }
}
