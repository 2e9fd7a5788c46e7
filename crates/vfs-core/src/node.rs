use std::ffi::OsString;
use std::fs::File;
use std::time::SystemTime;

/// One entry of a provider's tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The entry's name in its directory: any bytes but `/` and NUL. Ignored for the root.
    pub name: OsString,
    pub kind: NodeKind,
    /// Modification time: what `make` compares.
    pub mtime: SystemTime,
    /// Change time; the host uses `mtime` when absent.
    pub ctime: Option<SystemTime>,
    /// Access time; the host uses `mtime` when absent.
    pub atime: Option<SystemTime>,
    /// Permission bits; the host uses read-only defaults when absent
    /// (0o555 for directories, 0o444 for files, 0o777 for symlinks).
    /// The host always clears the write bits: a vfs mount is read-only.
    pub perm: Option<u16>,
}

/// What kind of entry a [`Node`] is.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A directory: its entries are asked for with [`crate::Provider::list`] (or, one name at a
    /// time, [`crate::Provider::lookup`]) when someone looks inside.
    Directory,
    /// A regular file. `size` is `None` when unknown until the content is read: the host then
    /// serves it with direct I/O so that every reader gets the whole content.
    File { size: Option<u64> },
    /// A symbolic link to `target` (not interpreted by the host).
    Symlink { target: OsString },
}

impl Node {
    fn new(name: impl Into<OsString>, kind: NodeKind, mtime: SystemTime) -> Self {
        Node {
            name: name.into(),
            kind,
            mtime,
            ctime: None,
            atime: None,
            perm: None,
        }
    }

    /// A directory; its entries are listed on demand ([`crate::Provider::list`]).
    pub fn directory(name: impl Into<OsString>, mtime: SystemTime) -> Self {
        Node::new(name, NodeKind::Directory, mtime)
    }

    /// A regular file of known (`Some`) or unknown (`None`) size.
    pub fn file(name: impl Into<OsString>, mtime: SystemTime, size: Option<u64>) -> Self {
        Node::new(name, NodeKind::File { size }, mtime)
    }

    /// A symbolic link to `target`, handed to readers as it is (`readlink`): relative targets
    /// resolve from the link's folder inside the mount, absolute ones from the machine's root.
    /// The kernel follows it, not the host: [`crate::Provider::read`] is never called for it.
    pub fn symlink(
        name: impl Into<OsString>,
        mtime: SystemTime,
        target: impl Into<OsString>,
    ) -> Self {
        Node::new(
            name,
            NodeKind::Symlink {
                target: target.into(),
            },
            mtime,
        )
    }

    /// Sets the permission bits (`0o640`, …; only the low 12 bits count). The host clears the
    /// write bits whatever they are (the mount is read-only), and checks the rest against the
    /// reader's uid and gid like any file system (the kernel checks them: `default_permissions`):
    /// `0o400` makes a file readable by the user who mounted alone (with `--allow-other`, other
    /// users get `EACCES`). Ignored for a symlink (always `0o777`, as Linux shows them).
    pub fn with_perm(mut self, perm: u16) -> Self {
        self.perm = Some(perm);
        self
    }

    /// Sets the change time (`stat`'s `ctime`); without it the host uses `mtime`. `make` never
    /// looks at it.
    pub fn with_ctime(mut self, ctime: SystemTime) -> Self {
        self.ctime = Some(ctime);
        self
    }

    /// Sets the access time (`stat`'s `atime`); without it the host uses `mtime`. Reading does
    /// not move it: the mount is read-only.
    pub fn with_atime(mut self, atime: SystemTime) -> Self {
        self.atime = Some(atime);
        self
    }

    pub fn is_directory(&self) -> bool {
        matches!(self.kind, NodeKind::Directory)
    }

    pub fn is_file(&self) -> bool {
        matches!(self.kind, NodeKind::File { .. })
    }

    pub fn is_symlink(&self) -> bool {
        matches!(self.kind, NodeKind::Symlink { .. })
    }
}

/// The content of a regular file, as a provider hands it over when the file is opened.
#[derive(Debug)]
pub enum Content {
    /// The whole content in memory.
    Bytes(Vec<u8>),
    /// An open file read with positional reads: for mirrors of large files.
    File(File),
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Content::Bytes(bytes)
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Content::Bytes(text.into_bytes())
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::Bytes(text.as_bytes().to_vec())
    }
}

impl From<&[u8]> for Content {
    fn from(bytes: &[u8]) -> Self {
        Content::Bytes(bytes.to_vec())
    }
}

impl From<File> for Content {
    fn from(file: File) -> Self {
        Content::File(file)
    }
}
