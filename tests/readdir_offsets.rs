//! Readdir through a real mount with the C library's own calls (`opendir`, `readdir`,
//! `telldir`, `seekdir`, `rewinddir`), over a provider whose notices are complete, where the
//! kernel opens folders without asking the mount (OPENDIR answered ENOSYS) and reads them with
//! handle 0: offsets must still be stable, a listing larger than one readdir buffer whole, a
//! seek or a rewind correct, and a listing that changes between two reads must neither skip
//! nor repeat a name that did not change.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::ffi::{CStr, CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    fuse_available, fuse_requests, request_kinds, vfs_command_logged, wait_until, VfsMount,
};

/// Files in the folder: with names this long, several times what one readdir buffer holds.
const FILES: usize = 3000;

fn name(n: usize) -> String {
    format!("a-file-with-a-rather-long-name-{n:05}.txt")
}

/// A folder opened with `opendir(3)`, closed on drop.
struct Dir(*mut libc::DIR);

impl Dir {
    fn open(path: &Path) -> Dir {
        let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; the result is checked.
        let dir = unsafe { libc::opendir(c_path.as_ptr()) };
        assert!(
            !dir.is_null(),
            "opendir {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        Dir(dir)
    }

    /// The next name, `None` at the end (an error fails the test).
    fn next(&mut self) -> Option<OsString> {
        // SAFETY: errno is thread-local; readdir on an open DIR; the entry is copied out
        // before the next call.
        unsafe {
            *libc::__errno_location() = 0;
            let entry = libc::readdir(self.0);
            if entry.is_null() {
                let errno = *libc::__errno_location();
                assert_eq!(
                    errno,
                    0,
                    "readdir: {}",
                    std::io::Error::from_raw_os_error(errno)
                );
                return None;
            }
            let name = CStr::from_ptr((*entry).d_name.as_ptr());
            Some(OsString::from_vec(name.to_bytes().to_vec()))
        }
    }

    fn tell(&mut self) -> libc::c_long {
        // SAFETY: telldir on an open DIR.
        let position = unsafe { libc::telldir(self.0) };
        assert!(
            position >= 0,
            "telldir: {}",
            std::io::Error::last_os_error()
        );
        position
    }

    fn seek(&mut self, position: libc::c_long) {
        // SAFETY: seekdir on an open DIR with a value telldir gave for it.
        unsafe { libc::seekdir(self.0, position) }
    }

    fn rewind(&mut self) {
        // SAFETY: rewinddir on an open DIR.
        unsafe { libc::rewinddir(self.0) }
    }

    /// Every name from here to the end, `.` and `..` left out.
    fn rest(&mut self) -> Vec<OsString> {
        std::iter::from_fn(|| self.next())
            .filter(|name| name != "." && name != "..")
            .collect()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: closes the DIR opened in `open`, once.
        unsafe {
            libc::closedir(self.0);
        }
    }
}

fn names(range: impl Iterator<Item = usize>) -> BTreeSet<OsString> {
    range.map(|n| OsString::from(name(n))).collect()
}

/// How many names, and the first few: a failure stays readable.
fn few<'a>(names: impl IntoIterator<Item = &'a OsString>) -> String {
    let names: Vec<&OsString> = names.into_iter().collect();
    let shown: Vec<&&OsString> = names.iter().take(5).collect();
    format!("{} names, first {shown:?}", names.len())
}

fn no_repeats(listed: &[OsString], what: &str) -> BTreeSet<OsString> {
    let mut seen = HashSet::new();
    let repeated: Vec<&OsString> = listed.iter().filter(|name| !seen.insert(*name)).collect();
    assert!(
        repeated.is_empty(),
        "{what}: listed twice: {}",
        few(repeated)
    );
    listed.iter().cloned().collect()
}

/// A GitConfigFS mount (complete notices: inotify watches the source) in a folder of its own,
/// with `--debug-fuse` logging to `log`. The source's folder `d` (the folder the tests read: the
/// root also holds the mount's `.vfs`) holds `FILES` files; `source` and `mnt` are that folder
/// in the source and in the mount.
struct Mounted {
    source: PathBuf,
    mnt: PathBuf,
    log: PathBuf,
    _mount: VfsMount,
    _work: tempfile::TempDir,
}

impl Mounted {
    fn new() -> Mounted {
        let work = tempfile::tempdir().unwrap();
        let (source, mnt, log) = (
            work.path().join("src"),
            work.path().join("mnt"),
            work.path().join("vfs.log"),
        );
        std::fs::create_dir_all(source.join("d")).unwrap();
        std::fs::create_dir_all(&mnt).unwrap();
        for n in 0..FILES {
            std::fs::write(source.join("d").join(name(n)), "x\n").unwrap();
        }
        let (source_text, mnt_text) = (source.to_str().unwrap(), mnt.to_str().unwrap());
        let command = vfs_command_logged(
            &["--debug-fuse", "mount", "gitconfig", source_text, mnt_text],
            &log,
        );
        let mount = VfsMount::start_command(command, &mnt);
        Mounted {
            source: source.join("d"),
            mnt: mnt.join("d"),
            log,
            _mount: mount,
            _work: work,
        }
    }
}

/// How many OPENDIR requests reached the mount (FUSE requests in a `--debug-fuse` log).
fn opendirs(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    request_kinds(&fuse_requests(&text))
        .into_iter()
        .filter(|kind| *kind == "OPENDIR")
        .count()
}

#[test]
fn large_listings_seekdir_and_rewinddir_stay_correct_without_opendir() {
    if !fuse_available() {
        return;
    }
    let mounted = Mounted::new();
    let (mnt, log) = (mounted.mnt.clone(), mounted.log.clone());
    let expected = names(0..FILES);

    for round in ["first, from the mount", "again, from the kernel's cache"] {
        let mut dir = Dir::open(&mnt);
        let listed = dir.rest();
        assert_eq!(no_repeats(&listed, round), expected, "{round}");
    }

    // Every position telldir gave is where seekdir goes back to: the same names follow.
    let mut dir = Dir::open(&mnt);
    let mut sequence = Vec::new();
    loop {
        let position = dir.tell();
        let Some(name) = dir.next() else { break };
        sequence.push((position, name));
    }
    assert_eq!(sequence.len(), FILES + 2, "with . and ..");
    for index in [FILES + 1, FILES / 2, 1, 0, 7, FILES - 3, 123] {
        let (position, ref name) = sequence[index];
        dir.seek(position);
        assert_eq!(dir.next().as_ref(), Some(name), "seekdir to item {index}");
        let following: Vec<OsString> = std::iter::from_fn(|| dir.next()).take(3).collect();
        let expected: Vec<OsString> = sequence[index + 1..]
            .iter()
            .take(3)
            .map(|(_, name)| name.clone())
            .collect();
        assert_eq!(following, expected, "after seekdir to item {index}");
    }
    dir.rewind();
    let again: Vec<OsString> = std::iter::from_fn(|| dir.next()).collect();
    let first: Vec<OsString> = sequence.into_iter().map(|(_, name)| name).collect();
    assert_eq!(again, first, "rewinddir starts over in the same order");
    drop(dir);

    assert!(
        opendirs(&log) <= 1,
        "the kernel asked OPENDIR more than once (it must stop after the ENOSYS): {}",
        opendirs(&log)
    );
}

#[test]
fn a_listing_changed_between_two_reads_skips_and_repeats_no_unchanged_name() {
    if !fuse_available() {
        return;
    }
    let mounted = Mounted::new();
    let (source, mnt, log) = (
        mounted.source.clone(),
        mounted.mnt.clone(),
        mounted.log.clone(),
    );

    // Twice: a listing read first from the mount (the kernel filling its cache), then one
    // read from the kernel's cache, each changed half-way.
    for (round, offset) in [(0, 0), (1, FILES)] {
        let before = names(offset..offset + FILES);
        if round == 1 {
            // The kernel's cache holds this listing before the reader starts.
            assert_eq!(no_repeats(&Dir::open(&mnt).rest(), "warm-up"), before);
        }
        let mut dir = Dir::open(&mnt);
        let mut listed: Vec<OsString> = Vec::new();
        let mut middle = None;
        while listed.len() < FILES / 2 {
            if listed.len() == FILES / 4 {
                middle = Some((dir.tell(), listed.len()));
            }
            match dir.next() {
                Some(name) if name == "." || name == ".." => {}
                Some(name) => listed.push(name),
                None => panic!("round {round}: the listing ended early"),
            }
        }
        // Names read already and names still to come disappear; others appear. The next
        // round's listing is all new.
        let gone: BTreeSet<OsString> = before.iter().step_by(7).cloned().collect();
        for name in &gone {
            std::fs::remove_file(source.join(name)).unwrap();
        }
        let added = names(offset + FILES..offset + FILES + 200);
        for name in &added {
            std::fs::write(source.join(name), "y\n").unwrap();
        }
        let last_added = mnt.join(added.iter().next_back().unwrap());
        let first_gone = mnt.join(gone.iter().next().unwrap());
        wait_until(
            Duration::from_secs(5),
            "the change shows in the mount",
            || last_added.exists() && !first_gone.exists(),
        );

        listed.extend(dir.rest());
        let ordered = listed;
        let listed = no_repeats(&ordered, "read across the change");
        let unchanged: BTreeSet<OsString> = before.difference(&gone).cloned().collect();
        let skipped: Vec<&OsString> = unchanged.difference(&listed).collect();
        assert!(
            skipped.is_empty(),
            "round {round}: unchanged names skipped: {}",
            few(skipped)
        );
        let strange: Vec<&OsString> = listed
            .iter()
            .filter(|name| !before.contains(*name) && !added.contains(*name))
            .collect();
        assert!(
            strange.is_empty(),
            "round {round}: names that never existed: {}",
            few(strange)
        );

        // A telldir position from before the change still continues where it was.
        let (position, read_before) = middle.unwrap();
        dir.seek(position);
        let after_seek = no_repeats(&dir.rest(), "after seekdir across the change");
        let skipped: Vec<&OsString> = ordered[read_before..]
            .iter()
            .filter(|name| unchanged.contains(*name) && !after_seek.contains(*name))
            .collect();
        assert!(
            skipped.is_empty(),
            "round {round}: after seekdir to a position from before the change, unchanged names skipped: {}",
            few(skipped)
        );

        // A rewind, and a fresh open, see the folder as it is now.
        let now: BTreeSet<OsString> = unchanged.union(&added).cloned().collect();
        dir.rewind();
        assert_eq!(
            no_repeats(&dir.rest(), "after rewinddir"),
            now,
            "round {round}: rewinddir"
        );
        assert_eq!(
            no_repeats(&Dir::open(&mnt).rest(), "reopened"),
            now,
            "round {round}: reopened"
        );

        // The next round starts from a folder of FILES new names.
        for name in now.iter() {
            std::fs::remove_file(source.join(name)).unwrap();
        }
        for n in offset + FILES..offset + 2 * FILES {
            std::fs::write(source.join(name(n)), "x\n").unwrap();
        }
        let next = names(offset + FILES..offset + 2 * FILES);
        wait_until(Duration::from_secs(5), "the next round's folder", || {
            Dir::open(&mnt).rest().into_iter().collect::<BTreeSet<_>>() == next
        });
    }
    assert!(
        opendirs(&log) <= 1,
        "OPENDIR after the ENOSYS: {}",
        opendirs(&log)
    );
}
