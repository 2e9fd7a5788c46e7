//! The plain mirror: entries of SOURCE as nodes, with their own sizes, modes and times.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vfs_core::{Node, NodePath, ProviderError};

/// Entries with this name are never shown: a repository's database is not part of its content.
pub const HIDDEN_NAME: &str = ".git";

/// The kinds of entry the mirror shows.
pub fn is_mirrored(metadata: &Metadata) -> bool {
    let kind = metadata.file_type();
    kind.is_dir() || kind.is_file() || kind.is_symlink()
}

/// Whether a file is a YAML file by its name.
pub fn has_yaml_name(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.ends_with(b".yml") || name.ends_with(b".yaml")
}

/// The node for a disk entry (the symlink itself, never its target).
pub fn disk_node(name: &OsStr, path: &Path, metadata: &Metadata) -> Result<Node, std::io::Error> {
    let mtime = seconds_and_nanos(metadata.mtime(), metadata.mtime_nsec());
    let kind = metadata.file_type();
    let node = if kind.is_dir() {
        Node::directory(name, mtime)
    } else if kind.is_symlink() {
        Node::symlink(name, mtime, std::fs::read_link(path)?)
    } else {
        Node::file(name, mtime, Some(metadata.len()))
    };
    Ok(with_stat_times(node, metadata))
}

/// Sets a node's ctime, atime and permission bits from an entry's metadata.
pub fn with_stat_times(node: Node, metadata: &Metadata) -> Node {
    node.with_ctime(seconds_and_nanos(metadata.ctime(), metadata.ctime_nsec()))
        .with_atime(seconds_and_nanos(metadata.atime(), metadata.atime_nsec()))
        .with_perm(perm_bits(metadata))
}

pub fn perm_bits(metadata: &Metadata) -> u16 {
    (metadata.mode() & 0o7777) as u16
}

/// The file's mode with search bits wherever it is readable: the mode of a YAML file's folders.
pub fn folder_perm(file_perm: u16) -> u16 {
    file_perm | ((file_perm & 0o444) >> 2)
}

pub fn mtime_nanos(metadata: &Metadata) -> i64 {
    metadata
        .mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(metadata.mtime_nsec())
}

pub fn seconds_and_nanos(seconds: i64, nanos: i64) -> SystemTime {
    nanos_to_time(seconds.saturating_mul(1_000_000_000).saturating_add(nanos))
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
