//! Systems without `/proc/self/mountinfo` (macOS, the BSDs): the table is unknown.

use std::io;

use crate::{MountEntry, MOUNTINFO};

pub(crate) fn error() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("no mount table on this system (vfs reads {MOUNTINFO}, which only Linux has)"),
    )
}

/// The mount table kept open (Linux only): here [`open`](Self::open) always fails with
/// [`io::ErrorKind::Unsupported`].
#[derive(Debug)]
pub struct WatchedTable {
    _never: (),
}

impl WatchedTable {
    /// Fails: there is no table to open on this system.
    pub fn open() -> io::Result<WatchedTable> {
        Err(error())
    }

    /// Never reached (no `WatchedTable` exists here).
    pub fn changed(&self) -> bool {
        true
    }

    /// Never reached (no `WatchedTable` exists here).
    pub fn read(&mut self) -> io::Result<Vec<MountEntry>> {
        Err(error())
    }
}
