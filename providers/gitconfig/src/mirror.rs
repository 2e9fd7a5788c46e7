//! The plain mirror: entries of SOURCE as nodes, with their own sizes, modes and times.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vfs_core::{Node, NodePath, ProviderError};

use crate::source::{EntryKind, EntryStat};

/// Entries with this name are never shown: a repository's database is not part of its content.
pub const HIDDEN_NAME: &str = ".git";

/// The node for a disk entry (the symlink itself, never its target: `link_target` is the
/// symlink's own text, read by the caller).
pub fn disk_node(name: &OsStr, stat: &EntryStat, link_target: Option<PathBuf>) -> Node {
    let mtime = nanos_to_time(stat.mtime);
    let node = match (stat.kind, link_target) {
        (EntryKind::Directory, _) => Node::directory(name, mtime),
        (EntryKind::Symlink, Some(target)) => Node::symlink(name, mtime, target),
        _ => Node::file(name, mtime, Some(stat.size)),
    };
    with_stat_times(node, stat)
}

/// Sets a node's ctime, atime and permission bits from an entry's `stat`.
pub fn with_stat_times(node: Node, stat: &EntryStat) -> Node {
    node.with_ctime(nanos_to_time(stat.ctime))
        .with_atime(nanos_to_time(stat.atime))
        .with_perm(stat.perm)
}

/// The mode of a section file of a YAML file with mode `file_perm`: data, readable where the
/// file is; never executable, never set-id (write bits are cleared by the host anyway).
pub fn section_perm(file_perm: u16) -> u16 {
    file_perm & 0o444
}

/// The file's read bits with search bits wherever it is readable: the mode of a YAML file's
/// folders.
pub fn folder_perm(file_perm: u16) -> u16 {
    let readable = file_perm & 0o444;
    readable | (readable >> 2)
}

pub fn nanos_to_time(nanos: i64) -> SystemTime {
    if nanos >= 0 {
        UNIX_EPOCH + Duration::from_nanos(nanos as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(nanos.unsigned_abs())
    }
}

/// An I/O error on `path` as the answer the host understands.
pub fn io_error(path: &NodePath, context: &str, error: std::io::Error) -> ProviderError {
    match error.kind() {
        ErrorKind::NotFound => ProviderError::NotFound(path.clone()),
        ErrorKind::PermissionDenied => ProviderError::PermissionDenied(format!("{context} {path}")),
        _ => ProviderError::io(format!("{context} {path}"), error),
    }
}
