//! Files: `open` fetches the content into a handle, learning the length of files of unknown
//! size.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use vfs_core::{Content, NodeKind};

use crate::handles::OpenFile;

use super::marker::is_marker;
use super::{errno_of, Errno, Host};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Opened {
    pub(crate) handle: u64,
    pub(crate) direct_io: bool,
    /// The open learnt a size of unknown-size file that the kernel's copy of its attributes
    /// lacks: they must be invalidated before the open returns, so that an `fstat` right after
    /// it sees the content's length.
    pub(crate) size_learnt: bool,
}

impl Host {
    /// Fetches the file's content into a new handle. Files of unknown size (or whose content
    /// disagrees with their size) are served with direct I/O so readers get all of it.
    pub(crate) async fn open(&self, ino: u64) -> Result<Opened, Errno> {
        let (path, node, _) = self.node_of(ino, "open").await?;
        let failed = |error| errno_of(error, "open", &path);
        let size = match node.kind {
            NodeKind::File { size } => size,
            NodeKind::Directory => return Err(libc::EISDIR),
            NodeKind::Symlink { .. } => return Err(libc::ELOOP),
        };
        let content = if is_marker(&path) {
            tracing::debug!("settling: the marker file is read");
            self.settle().await.map(Content::Bytes)
        } else {
            let count = self.calls.read.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::debug!(%path, count, "provider.read");
            self.bounded("read", &path, self.provider.read(&path)).await
        };
        let file = match content.map_err(failed)? {
            Content::Bytes(bytes) => OpenFile::Bytes(bytes),
            Content::File(file) => OpenFile::File(file),
        };
        let length = file.len().map_err(|error| {
            tracing::warn!(%path, "cannot size the content: {error}");
            error.raw_os_error().unwrap_or(libc::EIO)
        })?;
        let direct_io = match size {
            // The barrier: every read of the marker must reach the host, never the page cache.
            _ if is_marker(&path) => true,
            // A file on disk may shrink while it is read. Through the page cache the kernel
            // takes a short read as the file's new end only if no other answer changed the
            // inode's attributes since it sent that read (`fuse_short_read`); a getattr, a
            // change notice or another short read between the two made it keep the old end
            // and the zeros it filled the read's pages with, and the reader got zeros as the
            // file's bytes. Read directly, a reader gets exactly the bytes the host read.
            _ if file.reads_from_disk() => true,
            None => true,
            Some(announced) if announced != length => {
                tracing::debug!(%path, announced, length, "content length differs from the node's size");
                true
            }
            Some(_) => false,
        };
        let (mut attrs, size_learnt) = {
            let mut tables = self.tables();
            let size_learnt = size.is_none() && tables.cache.learn_size(&path, node.mtime, length);
            let attrs = self
                .attributes_of(&mut tables, &path, &node, Instant::now())
                .0;
            (attrs, size_learnt)
        };
        // What the reader has is the truth for this handle, whatever the node announced.
        attrs.size = length;
        Ok(Opened {
            handle: self.handles.open_file(attrs, file),
            direct_io,
            size_learnt,
        })
    }

    pub(crate) fn open_file(&self, handle: u64) -> Option<Arc<OpenFile>> {
        self.handles.file(handle)
    }

    pub(crate) fn release(&self, handle: u64) {
        self.handles.release_file(handle);
    }

    pub(crate) fn open_counts(&self) -> (usize, usize) {
        self.handles.open_counts()
    }
}
