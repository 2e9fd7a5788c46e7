//! The table kept open, read again only when it changed (Linux).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use rustix::event::{PollFd, PollFlags};

use crate::{parse, MountEntry, MOUNTINFO};

/// The mount table kept open: [`changed`](Self::changed) tells, without reading it, whether
/// anything was mounted or unmounted since it was last [`read`](Self::read) (the kernel reports
/// a change of `/proc/self/mountinfo` as `POLLPRI`), so a caller that asks often reads it only
/// when it moved.
#[derive(Debug)]
pub struct WatchedTable {
    file: File,
}

impl WatchedTable {
    /// Opens the table; fails where there is none (not Linux, no procfs).
    pub fn open() -> io::Result<WatchedTable> {
        Ok(WatchedTable {
            file: File::open(MOUNTINFO)?,
        })
    }

    /// Whether the table changed since it was last read (a poll that does not wait); `true`
    /// when that cannot be told.
    pub fn changed(&self) -> bool {
        let mut fds = [PollFd::new(&self.file, PollFlags::PRI)];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(_) => fds[0].revents().intersects(PollFlags::PRI | PollFlags::ERR),
            Err(_) => true,
        }
    }

    /// Every mount of the table now; resets [`changed`](Self::changed).
    pub fn read(&mut self) -> io::Result<Vec<MountEntry>> {
        let mut text = Vec::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_end(&mut text)?;
        Ok(parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_table_reads_and_polls() {
        let mut table = WatchedTable::open().unwrap();
        let entries = table.read().unwrap();
        assert!(entries
            .iter()
            .any(|entry| entry.mount_point == std::path::Path::new("/")));
        // Nothing is mounted by this test; whatever others do, asking must not fail or block.
        let _ = table.changed();
    }
}
