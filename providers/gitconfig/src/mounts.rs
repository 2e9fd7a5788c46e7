//! The FUSE mountpoints of this process's mount table, read again only when the table changed.
//!
//! The mirror must never look inside a FUSE mount below SOURCE: a mountpoint inside SOURCE is
//! usually this mount's own (`vfs mount gitconfig . .cfgfs`), and a `stat`, an `open` or an
//! inotify watch there would ask this very process, possibly while it waits on that answer.
//! So the mount table decides, by path, without touching the mount.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rustix::event::{PollFd, PollFlags};

const MOUNTINFO: &str = "/proc/self/mountinfo";

pub struct FuseMounts {
    state: Mutex<State>,
}

struct State {
    /// Kept open: `poll` on it reports a change of the mount table since it was last read.
    table: Option<File>,
    points: HashSet<PathBuf>,
}

impl FuseMounts {
    pub fn new() -> FuseMounts {
        let table = File::open(MOUNTINFO)
            .inspect_err(|error| {
                tracing::warn!(
                    "cannot read {MOUNTINFO} ({error}): FUSE mounts inside SOURCE cannot be hidden"
                )
            })
            .ok();
        let mut state = State {
            table,
            points: HashSet::new(),
        };
        state.reread();
        FuseMounts {
            state: Mutex::new(state),
        }
    }

    /// Whether a FUSE file system is mounted at `path` (canonical, as the table spells it).
    pub fn is_fuse_mountpoint(&self, path: &Path) -> bool {
        let mut state = self.state.lock();
        if state.changed() {
            state.reread();
        }
        state.points.contains(path)
    }
}

impl State {
    /// Whether the table changed since it was last read (a poll that does not wait).
    fn changed(&self) -> bool {
        let Some(table) = &self.table else {
            return false;
        };
        let mut fds = [PollFd::new(table, PollFlags::PRI)];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(_) => fds[0].revents().intersects(PollFlags::PRI | PollFlags::ERR),
            Err(_) => true,
        }
    }

    fn reread(&mut self) {
        let Some(table) = &mut self.table else {
            return;
        };
        let mut text = Vec::new();
        let read = table
            .seek(SeekFrom::Start(0))
            .and_then(|_| table.read_to_end(&mut text));
        if let Err(error) = read {
            tracing::warn!("cannot read {MOUNTINFO}: {error}");
            return;
        }
        self.points = fuse_mountpoints(&text);
    }
}

/// The mountpoints of FUSE file systems in mountinfo text (`proc_pid_mountinfo(5)`): the fifth
/// field is the mountpoint, the first field after the ` - ` separator the file system type.
fn fuse_mountpoints(table: &[u8]) -> HashSet<PathBuf> {
    table
        .split(|byte| *byte == b'\n')
        .filter_map(|line| {
            let fields: Vec<&[u8]> = line.split(|byte| *byte == b' ').collect();
            let point = fields.get(4)?;
            let separator = fields.iter().position(|field| *field == b"-")?;
            let fs_type = fields.get(separator + 1)?;
            let is_fuse = fs_type.starts_with(b"fuse");
            is_fuse.then(|| PathBuf::from(OsStr::from_bytes(&unescape(point))))
        })
        .collect()
}

/// Undoes the table's octal escapes (`\040` for a space, `\134` for a backslash).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut index = 0;
    while index < field.len() {
        let digits = field
            .get(index + 1..index + 4)
            .filter(|digits| digits.iter().all(|digit| (b'0'..=b'7').contains(digit)));
        match (field[index], digits) {
            (b'\\', Some(digits)) => {
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
    fn only_fuse_mountpoints_are_found_with_their_escapes_undone() {
        let table = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            40 22 0:40 / /r/with\\040space/.cfgfs ro,nosuid shared:1 - fuse vfs-gitconfig ro\n\
            41 22 0:41 / /r/b rw - fuse.bindfs /x rw\n\
            42 22 0:42 / /r/t rw - tmpfs tmpfs rw\n";
        let points = fuse_mountpoints(table);
        assert_eq!(
            points,
            HashSet::from([PathBuf::from("/r/with space/.cfgfs"), PathBuf::from("/r/b")])
        );
    }

    #[test]
    fn reads_this_process_table() {
        // Whatever is mounted here, reading and polling the real table works.
        let mounts = FuseMounts::new();
        assert!(!mounts.is_fuse_mountpoint(Path::new("/nonexistent/place")));
    }
}
