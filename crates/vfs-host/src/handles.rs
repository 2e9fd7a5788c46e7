//! Open files and open directories: what `open` fetched and what `opendir` saw, kept until
//! the kernel releases them so that reads are consistent while the provider changes.

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::attrs::{Attributes, EntryKind};
use crate::cache::Listing;

/// The content of an open file.
#[derive(Debug)]
pub(crate) enum OpenFile {
    Bytes(Vec<u8>),
    File(File),
}

/// Bytes served by a read.
#[derive(Debug)]
pub(crate) enum ReadData {
    Shared(Arc<OpenFile>, Range<usize>),
    Owned(Vec<u8>),
}

impl ReadData {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            ReadData::Shared(file, range) => match file.as_ref() {
                OpenFile::Bytes(bytes) => &bytes[range.clone()],
                OpenFile::File(_) => &[],
            },
            ReadData::Owned(bytes) => bytes,
        }
    }
}

impl OpenFile {
    /// The content's length, for files whose node did not say.
    pub(crate) fn len(&self) -> io::Result<u64> {
        match self {
            OpenFile::Bytes(bytes) => Ok(bytes.len() as u64),
            OpenFile::File(file) => file.metadata().map(|metadata| metadata.len()),
        }
    }

    /// True when reading needs I/O (and so should not run on a request thread).
    pub(crate) fn reads_from_disk(&self) -> bool {
        matches!(self, OpenFile::File(_))
    }

    /// Up to `size` bytes from `offset`; fewer only at the end.
    pub(crate) fn read(self: &Arc<Self>, offset: u64, size: u32) -> io::Result<ReadData> {
        match self.as_ref() {
            OpenFile::Bytes(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = start.saturating_add(size as usize).min(bytes.len());
                Ok(ReadData::Shared(self.clone(), start..end))
            }
            OpenFile::File(file) => {
                let mut buffer = vec![0; size as usize];
                let mut filled = 0;
                while filled < buffer.len() {
                    match file.read_at(&mut buffer[filled..], offset + filled as u64) {
                        Ok(0) => break,
                        Ok(read) => filled += read,
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(error) => return Err(error),
                    }
                }
                buffer.truncate(filled);
                Ok(ReadData::Owned(buffer))
            }
        }
    }
}

/// One entry of a directory as `opendir` saw it.
#[derive(Clone, Debug)]
pub(crate) struct DirItem {
    pub(crate) name: OsString,
    pub(crate) attrs: Attributes,
    /// Until when the kernel may trust `attrs`.
    pub(crate) expires: Instant,
    /// Attributes the kernel must ask for again (see `Host::attributes_of`).
    pub(crate) provisional: bool,
}

/// A directory's entries frozen at `opendir`, with `.` and `..` first; the readdir offset of
/// an entry is its index here, so pieces never skip or repeat.
#[derive(Debug)]
pub(crate) struct DirSnapshot {
    pub(crate) items: Vec<DirItem>,
    /// The cache generation when taken: a later change notice makes the attributes suspect.
    pub(crate) generation: u64,
    /// What the kernel's cached listing of the directory holds once filled from this handle
    /// (names, inode numbers and types; see [`DirSnapshot::fingerprint_of`]).
    pub(crate) fingerprint: u64,
}

impl DirSnapshot {
    /// A hash of what a readdir hands the kernel to cache: each item's name, number and type.
    pub(crate) fn fingerprint_of(items: &[DirItem]) -> u64 {
        fingerprint(
            items
                .iter()
                .map(|item| (item.name.as_os_str(), item.attrs.ino, item.attrs.kind)),
        )
    }
}

/// A hash of the names, numbers and types a listing hands the kernel, in order.
pub(crate) fn fingerprint<'a>(items: impl Iterator<Item = (&'a OsStr, u64, EntryKind)>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for (name, ino, kind) in items {
        name.hash(&mut hasher);
        ino.hash(&mut hasher);
        (kind as u8).hash(&mut hasher);
    }
    hasher.finish()
}

/// The low bits of a handle-less readdir offset: the index of the next entry, plus one.
const INDEX_BITS: u32 = 32;
/// Serials stay below 2^31, so that an offset stays a positive `loff_t`.
const SERIAL_LIMIT: u64 = 1 << 31;

/// One version of a folder's names as readdirs without a handle see them (once OPENDIR is
/// answered ENOSYS the kernel sends none, and every READDIR comes with handle 0): the listing
/// it serves, with a serial of its own that every offset it hands out carries. A readdir at
/// such an offset continues in this very version, even after the folder changed, so a listing
/// read in pieces (or across `telldir`/`seekdir`) never skips or repeats a name.
#[derive(Debug)]
pub(crate) struct ListedDir {
    pub(crate) serial: u64,
    /// Of the names, numbers and types served, `.` and `..` first (see [`fingerprint`]).
    pub(crate) fingerprint: u64,
    /// The numbers of `.` and `..`, served before the listing's entries.
    pub(crate) dots: [u64; 2],
    pub(crate) listing: Arc<Listing>,
    /// When it was kept.
    kept: Instant,
}

impl ListedDir {
    /// How many items it serves, `.` and `..` included.
    pub(crate) fn len(&self) -> usize {
        self.listing.entries().len() + 2
    }

    /// The offset a readdir continues at after item `index`.
    pub(crate) fn offset_after(&self, index: usize) -> u64 {
        (self.serial << INDEX_BITS) | (index as u64 + 1)
    }
}

/// Where a handle-less readdir at `offset` starts: the serial of the version that handed the
/// offset out (0 for the start of a listing) and the index of the next item in it.
pub(crate) fn position(offset: u64) -> (u64, usize) {
    let index = usize::try_from(offset & ((1 << INDEX_BITS) - 1)).unwrap_or(usize::MAX);
    (offset >> INDEX_BITS, index)
}

/// The versions of each folder's names that handle-less readdirs may still continue in, the
/// newest last.
#[derive(Debug, Default)]
pub(crate) struct ListedDirs {
    by_dir: HashMap<u64, VecDeque<Arc<ListedDir>>>,
    last_serial: u64,
    /// Folders are swept (see [`ListedDirs::sweep`]) when this many hold versions.
    sweep_at: usize,
    /// The kernel reads listings without a handle and keeps them until told (set once the
    /// session told it to send no OPENDIR).
    pub(crate) without_handles: bool,
}

impl ListedDirs {
    /// Versions kept per folder: a reader that paused in an older one still finds it.
    const KEPT: usize = 4;
    /// How long a version the host's cache no longer holds is kept for readers in it.
    const GRACE: Duration = Duration::from_secs(60);
    const MIN_SWEEP: usize = 1024;

    pub(crate) fn newest(&self, ino: u64) -> Option<&Arc<ListedDir>> {
        self.by_dir.get(&ino).and_then(|versions| versions.back())
    }

    /// Forgets every version of folder `ino` (its number is gone).
    pub(crate) fn forget(&mut self, ino: u64) {
        self.by_dir.remove(&ino);
    }

    /// The version of folder `ino` with `serial`, and whether it is the newest.
    pub(crate) fn version(&self, ino: u64, serial: u64) -> Option<(Arc<ListedDir>, bool)> {
        let versions = self.by_dir.get(&ino)?;
        let found = versions.iter().rposition(|dir| dir.serial == serial)?;
        Some((versions[found].clone(), found + 1 == versions.len()))
    }

    /// Keeps `listing` as the newest version of folder `ino`. The same names, numbers and types
    /// as the newest version keep its serial (and so its offsets, which the kernel may hold);
    /// anything else gets a new one.
    pub(crate) fn keep(
        &mut self,
        ino: u64,
        fingerprint: u64,
        dots: [u64; 2],
        listing: Arc<Listing>,
    ) -> Arc<ListedDir> {
        let now = Instant::now();
        if self.by_dir.len() >= self.sweep_at.max(Self::MIN_SWEEP) {
            self.sweep(now);
            self.sweep_at = self.by_dir.len() * 2;
        }
        let versions = self.by_dir.entry(ino).or_default();
        let serial = match versions.back() {
            Some(newest) if newest.fingerprint == fingerprint => {
                let serial = newest.serial;
                versions.pop_back();
                serial
            }
            _ => {
                self.last_serial = self.last_serial % (SERIAL_LIMIT - 1) + 1;
                self.last_serial
            }
        };
        let kept = Arc::new(ListedDir {
            serial,
            fingerprint,
            dots,
            listing,
            kept: now,
        });
        versions.push_back(kept.clone());
        while versions.len() > Self::KEPT {
            versions.pop_front();
        }
        kept
    }

    /// Forgets the versions whose listing the host's cache no longer holds (a notice dropped it,
    /// or it was replaced) and that were kept longer than [`ListedDirs::GRACE`] ago, so that
    /// folders gone or changed long ago hold no memory. A reader still in such a version goes
    /// on at the same place in the newest one.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.by_dir.retain(|_, versions| {
            versions.retain(|version| {
                Arc::strong_count(&version.listing) > 1
                    || now.saturating_duration_since(version.kept) < Self::GRACE
            });
            !versions.is_empty()
        });
    }

    /// How many folders hold versions.
    #[cfg(test)]
    pub(crate) fn folders(&self) -> usize {
        self.by_dir.len()
    }
}

/// An open file and what it was when opened: the kernel may ask for its attributes after
/// its source is gone (it does at end of file and for `fstat`).
#[derive(Debug)]
struct OpenHandle {
    ino: u64,
    attrs: Attributes,
    file: Arc<OpenFile>,
}

#[derive(Debug, Default)]
pub(crate) struct Handles {
    next: AtomicU64,
    files: Mutex<HashMap<u64, OpenHandle>>,
    dirs: Mutex<HashMap<u64, Arc<DirSnapshot>>>,
}

impl Handles {
    fn next_handle(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Keeps `file`, opened on inode `attrs.ino` whose attributes were then `attrs`.
    pub(crate) fn open_file(&self, attrs: Attributes, file: OpenFile) -> u64 {
        let handle = self.next_handle();
        let open = OpenHandle {
            ino: attrs.ino,
            attrs,
            file: Arc::new(file),
        };
        self.files.lock().insert(handle, open);
        handle
    }

    pub(crate) fn file(&self, handle: u64) -> Option<Arc<OpenFile>> {
        self.files.lock().get(&handle).map(|open| open.file.clone())
    }

    /// The attributes inode `ino` had when opened: through `handle` when that is open on
    /// `ino`, else through the newest handle open on it; `None` when nothing holds it open.
    pub(crate) fn opened_attributes(&self, ino: u64, handle: Option<u64>) -> Option<Attributes> {
        let files = self.files.lock();
        if let Some(open) = handle
            .and_then(|handle| files.get(&handle))
            .filter(|open| open.ino == ino)
        {
            return Some(open.attrs.clone());
        }
        files
            .iter()
            .filter(|(_, open)| open.ino == ino)
            .max_by_key(|(handle, _)| **handle)
            .map(|(_, open)| open.attrs.clone())
    }

    pub(crate) fn release_file(&self, handle: u64) {
        self.files.lock().remove(&handle);
    }

    pub(crate) fn open_dir(&self, snapshot: DirSnapshot) -> u64 {
        let handle = self.next_handle();
        self.dirs.lock().insert(handle, Arc::new(snapshot));
        handle
    }

    pub(crate) fn dir(&self, handle: u64) -> Option<Arc<DirSnapshot>> {
        self.dirs.lock().get(&handle).cloned()
    }

    pub(crate) fn release_dir(&self, handle: u64) {
        self.dirs.lock().remove(&handle);
    }

    pub(crate) fn open_counts(&self) -> (usize, usize) {
        (self.files.lock().len(), self.dirs.lock().len())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::SystemTime;

    use super::*;
    use crate::attrs::EntryKind;

    #[test]
    fn bytes_are_served_in_ranges_up_to_the_end() {
        let file = Arc::new(OpenFile::Bytes(b"hello world".to_vec()));
        assert_eq!(file.read(6, 100).unwrap().as_slice(), b"world");
        assert_eq!(file.read(0, 5).unwrap().as_slice(), b"hello");
        assert_eq!(file.read(50, 5).unwrap().as_slice(), b"");
        assert_eq!(file.len().unwrap(), 11);
    }

    #[test]
    fn files_are_read_with_positional_reads() {
        let mut disk = tempfile::tempfile().unwrap();
        disk.write_all(b"0123456789").unwrap();
        let file = Arc::new(OpenFile::File(disk));
        assert_eq!(file.read(3, 4).unwrap().as_slice(), b"3456");
        assert_eq!(file.read(8, 10).unwrap().as_slice(), b"89");
        assert_eq!(file.len().unwrap(), 10);
    }

    fn attrs_of(ino: u64, size: u64) -> Attributes {
        Attributes {
            ino,
            kind: EntryKind::File,
            size,
            perm: 0o444,
            nlink: 1,
            uid: 0,
            gid: 0,
            mtime: SystemTime::UNIX_EPOCH,
            ctime: SystemTime::UNIX_EPOCH,
            atime: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn handles_are_distinct_and_released() {
        let handles = Handles::default();
        let a = handles.open_file(attrs_of(7, 0), OpenFile::Bytes(vec![]));
        let b = handles.open_file(attrs_of(8, 0), OpenFile::Bytes(vec![]));
        let d = handles.open_dir(DirSnapshot {
            fingerprint: 0,
            items: vec![],
            generation: 0,
        });
        assert!(a != b && a != d && b != d);
        assert_eq!(handles.open_counts(), (2, 1));
        handles.release_file(a);
        handles.release_dir(d);
        assert!(handles.file(a).is_none() && handles.file(b).is_some());
        assert_eq!(handles.open_counts(), (1, 0));
    }

    #[test]
    fn opened_attributes_come_from_the_handle_or_the_newest_on_the_inode() {
        let handles = Handles::default();
        let old = handles.open_file(attrs_of(7, 10), OpenFile::Bytes(vec![0; 10]));
        let new = handles.open_file(attrs_of(7, 20), OpenFile::Bytes(vec![0; 20]));
        let other = handles.open_file(attrs_of(8, 30), OpenFile::Bytes(vec![0; 30]));
        let size = |ino, handle| handles.opened_attributes(ino, handle).map(|a| a.size);
        assert_eq!(size(7, Some(old)), Some(10), "the handle asked through");
        assert_eq!(size(7, None), Some(20), "the newest open on the inode");
        assert_eq!(
            size(7, Some(other)),
            Some(20),
            "a handle of another inode is ignored"
        );
        assert_eq!(size(9, None), None);
        handles.release_file(new);
        handles.release_file(old);
        assert_eq!(size(7, None), None, "released: nothing holds it open");
        assert_eq!(size(8, Some(other)), Some(30));
    }
}
