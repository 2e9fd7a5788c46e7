//! The thin FUSE glue: translates kernel requests into [`Host`] calls and answers into replies.
//!
//! A request the cache can answer is answered on the FUSE thread at once; so is one whose host
//! call is ready at its first poll (the provider answered from memory). A request whose call
//! pends moves, with its reply, into a task on the tokio runtime, so one slow provider call never
//! holds up the requests behind it.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use fuser::{
    AccessFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, Notifier, OpenFlags, RenameFlags,
    ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::attrs::{Attributes, EntryKind, BLOCK_SIZE};
use crate::host::{EntryAnswer, Host, ListedAt, Lookup, OpenedDir};
use crate::kernel::KernelCache;

const GENERATION: Generation = Generation(0);

pub(crate) struct FuseHost {
    host: Arc<Host>,
    runtime: Handle,
    /// Set when the session ends, whoever ended it.
    ended: watch::Sender<bool>,
    /// The kernel's caches, for the invalidation made while answering an `open` that learnt a
    /// file's length (the host makes the other, of a folder's attributes); set once the
    /// session exists.
    kernel: Arc<OnceLock<KernelNotifier>>,
    /// The provider announces every change ([`vfs_core::ChangeNotices::Complete`]): the kernel
    /// may keep listings until a notice drops them, without asking at each opendir.
    notices_complete: bool,
    /// OPENDIR is answered ENOSYS, after which the kernel sends neither OPENDIR nor RELEASEDIR
    /// and reads folders with handle 0 (decided at `init`).
    without_opendir: bool,
}

impl FuseHost {
    pub(crate) fn new(
        host: Arc<Host>,
        runtime: Handle,
        ended: watch::Sender<bool>,
        kernel: Arc<OnceLock<KernelNotifier>>,
        notices_complete: bool,
    ) -> FuseHost {
        FuseHost {
            host,
            runtime,
            ended,
            kernel,
            notices_complete,
            without_opendir: false,
        }
    }
}

fn file_type(kind: EntryKind) -> FileType {
    match kind {
        EntryKind::Directory => FileType::Directory,
        EntryKind::File => FileType::RegularFile,
        EntryKind::Symlink => FileType::Symlink,
    }
}

fn file_attr(attrs: &Attributes) -> FileAttr {
    FileAttr {
        ino: INodeNo(attrs.ino),
        size: attrs.size,
        blocks: attrs.size.div_ceil(512),
        atime: attrs.atime,
        mtime: attrs.mtime,
        ctime: attrs.ctime,
        crtime: attrs.mtime,
        kind: file_type(attrs.kind),
        perm: attrs.perm,
        nlink: attrs.nlink,
        uid: attrs.uid,
        gid: attrs.gid,
        rdev: 0,
        blksize: BLOCK_SIZE,
        flags: 0,
    }
}

fn reply_entry(reply: ReplyEntry, answer: Result<EntryAnswer, i32>) {
    match answer {
        Ok(answer) => reply.entry_with_ttls(
            &answer.attr_ttl,
            &answer.entry_ttl,
            &file_attr(&answer.attrs),
            GENERATION,
        ),
        Err(errno) => reply.error(Errno::from_i32(errno)),
    }
}

/// A missing name is answered as an entry of inode 0: the kernel keeps that as a negative
/// entry for its TTL (an error reply it would not keep at all), and a change notice drops it.
fn reply_lookup(reply: ReplyEntry, answer: Result<Lookup, i32>) {
    match answer {
        Ok(Lookup::Found(answer)) => reply_entry(reply, Ok(answer)),
        Ok(Lookup::Missing { ttl }) => {
            let nothing = FileAttr {
                ino: INodeNo(0),
                size: 0,
                blocks: 0,
                atime: SystemTime::UNIX_EPOCH,
                mtime: SystemTime::UNIX_EPOCH,
                ctime: SystemTime::UNIX_EPOCH,
                crtime: SystemTime::UNIX_EPOCH,
                kind: FileType::RegularFile,
                perm: 0,
                nlink: 0,
                uid: 0,
                gid: 0,
                rdev: 0,
                blksize: BLOCK_SIZE,
                flags: 0,
            };
            reply.entry_with_ttls(&ttl, &ttl, &nothing, GENERATION);
        }
        Err(errno) => reply.error(Errno::from_i32(errno)),
    }
}

fn reply_attr(reply: ReplyAttr, answer: Result<EntryAnswer, i32>) {
    match answer {
        Ok(answer) => reply.attr(&answer.attr_ttl, &file_attr(&answer.attrs)),
        Err(errno) => reply.error(Errno::from_i32(errno)),
    }
}

fn reply_opendir(reply: ReplyOpen, answer: Result<OpenedDir, i32>) {
    match answer {
        Ok(opened) => {
            // The kernel keeps the listing it reads (until the notices thread drops it); it may
            // reuse one from before only if it is this very listing.
            let mut flags = FopenFlags::FOPEN_CACHE_DIR;
            if opened.keep_cache {
                flags |= FopenFlags::FOPEN_KEEP_CACHE;
            }
            reply.opened(FileHandle(opened.handle), flags);
        }
        Err(errno) => reply.error(Errno::from_i32(errno)),
    }
}

fn reply_data(reply: ReplyData, answer: Result<std::ffi::OsString, i32>) {
    match answer {
        Ok(target) => reply.data(target.as_bytes()),
        Err(errno) => reply.error(Errno::from_i32(errno)),
    }
}

fn wants_write(flags: OpenFlags) -> bool {
    flags.0 & libc::O_ACCMODE != libc::O_RDONLY || flags.0 & libc::O_TRUNC != 0
}

/// The handle of a folder the kernel reads without opening it (see `FuseHost::without_opendir`).
const NO_HANDLE: u64 = 0;

impl FuseHost {
    /// Runs a host call and hands its answer to `then`: on the FUSE thread when the call needs
    /// no waiting (most calls the provider answers from memory), else in a tokio task, so that a
    /// slow provider call never holds up the requests behind it (see [`crate::inline`]).
    fn answer<T: Send + 'static>(
        &self,
        call: impl std::future::Future<Output = T> + Send + 'static,
        then: impl FnOnce(T) + Send + 'static,
    ) {
        crate::inline::answer(&self.runtime, call, then);
    }

    /// A readdir without a handle: `serve` gets where to serve it from (or the errno), on the
    /// FUSE thread when the cache has the listing, else in a task once it is loaded (the host
    /// forgets the folder's attributes in the kernel then, before the answer: the link count).
    fn readdir_listed(
        &self,
        ino: INodeNo,
        offset: u64,
        serve: impl FnOnce(&Host, Result<ListedAt, i32>) + Send + 'static,
    ) {
        if let Some(answer) = self.host.cached_listed(ino.0, offset) {
            return serve(&self.host, answer);
        }
        let host = self.host.clone();
        let served = host.clone();
        self.answer(
            async move { host.listed(ino.0, offset).await },
            move |answer| serve(&served, answer),
        );
    }
}

impl Filesystem for FuseHost {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // Each is optional: an older kernel lacking one still mounts.
        for wanted in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_AUTO_INVAL_DATA,
            // Link targets stay cached until the notices thread invalidates the inode.
            InitFlags::FUSE_CACHE_SYMLINKS,
        ] {
            if let Err(missing) = config.add_capabilities(wanted) {
                tracing::debug!(?missing, "kernel lacks a FUSE capability");
            }
        }
        // Since Linux 5.1 an OPENDIR answered ENOSYS tells the kernel to send no OPENDIR or
        // RELEASEDIR again; it then keeps each listing it reads until the notices thread drops
        // it. Only complete notices make that safe: nothing else would tell it of a change.
        let capable = config
            .capabilities()
            .contains(InitFlags::FUSE_NO_OPENDIR_SUPPORT);
        self.without_opendir = self.notices_complete && capable;
        if self.without_opendir {
            self.host.set_without_handles();
        }
        tracing::debug!(
            without_opendir = self.without_opendir,
            capable,
            "listings read without opendir"
        );
        Ok(())
    }

    fn destroy(&mut self) {
        let (root, list, read) = self.host.calls().snapshot();
        let (open_files, open_dirs) = self.host.open_counts();
        tracing::debug!(
            root,
            list,
            read,
            inodes = self.host.inode_count(),
            open_files,
            open_dirs,
            "session ended; provider calls"
        );
        self.ended.send_replace(true);
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if let Some(answer) = self.host.cached_lookup_entry(parent.0, name) {
            return reply_lookup(reply, answer);
        }
        let host = self.host.clone();
        let name = name.to_os_string();
        self.answer(
            async move { host.lookup_entry(parent.0, &name).await },
            move |answer| reply_lookup(reply, answer),
        );
    }

    /// Also BATCH_FORGET: fuser's default hands each of its nodes here (its `ForgetOne` cannot be
    /// named outside fuser 0.18, so the batch cannot be taken whole).
    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.host.forget(&[(ino.0, nlookup)]);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        // The handle matters when the file is gone but still open (see `Host::still_open`).
        let handle = fh.map(|fh| fh.0);
        if let Some(answer) = self.host.cached_getattr(ino.0, handle) {
            return reply_attr(reply, answer);
        }
        let host = self.host.clone();
        self.answer(
            async move { host.getattr(ino.0, handle).await },
            move |answer| reply_attr(reply, answer),
        );
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        if let Some(answer) = self.host.cached_readlink(ino.0) {
            return reply_data(reply, answer);
        }
        let host = self.host.clone();
        self.answer(async move { host.readlink(ino.0).await }, move |answer| {
            reply_data(reply, answer)
        });
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        if self.without_opendir {
            // Once: the kernel opens folders itself from now on (see `init`).
            return reply.error(Errno::from_i32(libc::ENOSYS));
        }
        if let Some(answer) = self.host.cached_opendir(ino.0) {
            return reply_opendir(reply, answer);
        }
        let host = self.host.clone();
        // A listing loaded here forgets the folder's attributes in the kernel before the open
        // returns (the link count; see the host's `forget_attributes_now`).
        self.answer(async move { host.opendir(ino.0).await }, move |answer| {
            reply_opendir(reply, answer)
        });
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if fh.0 == NO_HANDLE {
            return self.readdir_listed(ino, offset, move |host, at| match at {
                Ok(at) => {
                    let entries = host.each_listed(&at, |item| {
                        reply.add(
                            INodeNo(item.attrs.ino),
                            item.next,
                            file_type(item.attrs.kind),
                            item.name,
                        )
                    });
                    host.replying_listing(ino.0, entries);
                    reply.ok();
                }
                Err(errno) => reply.error(Errno::from_i32(errno)),
            });
        }
        let Some(snapshot) = self.host.dir_snapshot(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        self.host.reading_snapshot(ino.0, &snapshot);
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut entries = 0;
        for (index, item) in snapshot.items.iter().enumerate().skip(start) {
            let next = index as u64 + 1;
            if reply.add(
                INodeNo(item.attrs.ino),
                next,
                file_type(item.attrs.kind),
                &item.name,
            ) {
                break;
            }
            entries += 1;
        }
        self.host.replying_listing(ino.0, entries);
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        if fh.0 == NO_HANDLE {
            return self.readdir_listed(ino, offset, move |host, at| match at {
                Ok(at) => {
                    let mut handed_out = Vec::new();
                    let entries = host.each_listed(&at, |item| {
                        let full = reply.add(
                            INodeNo(item.attrs.ino),
                            item.next,
                            item.name,
                            &item.ttl,
                            &file_attr(&item.attrs),
                            GENERATION,
                        );
                        // The kernel counts a lookup for every entry but `.` and `..`.
                        if !full && item.name != "." && item.name != ".." {
                            handed_out.push(item.attrs.ino);
                        }
                        full
                    });
                    host.handed_out(&handed_out);
                    host.replying_listing(ino.0, entries);
                    reply.ok();
                }
                Err(errno) => reply.error(Errno::from_i32(errno)),
            });
        }
        let Some(snapshot) = self.host.dir_snapshot(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        self.host.reading_snapshot(ino.0, &snapshot);
        let now = Instant::now();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut handed_out = Vec::new();
        let mut entries = 0;
        for (index, item) in snapshot.items.iter().enumerate().skip(start) {
            let next = index as u64 + 1;
            let ttl = self.host.snapshot_ttl(&snapshot, item, now);
            let attr = file_attr(&item.attrs);
            if reply.add(
                INodeNo(item.attrs.ino),
                next,
                &item.name,
                &ttl,
                &attr,
                GENERATION,
            ) {
                break;
            }
            entries += 1;
            // The kernel counts a lookup for every entry but `.` and `..`.
            if item.name != "." && item.name != ".." {
                handed_out.push(item.attrs.ino);
            }
        }
        self.host.handed_out(&handed_out);
        self.host.replying_listing(ino.0, entries);
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.host.releasedir(fh.0);
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if wants_write(flags) {
            return reply.error(Errno::from_i32(libc::EROFS));
        }
        let host = self.host.clone();
        let kernel = self.kernel.clone();
        self.runtime.spawn(async move {
            match host.open(ino.0).await {
                Ok(opened) => {
                    if opened.size_learnt {
                        forget_attributes_before_open_returns(&kernel, ino.0);
                    }
                    let flags = if opened.direct_io {
                        FopenFlags::FOPEN_DIRECT_IO
                    } else {
                        FopenFlags::empty()
                    };
                    reply.opened(FileHandle(opened.handle), flags);
                }
                Err(errno) => reply.error(Errno::from_i32(errno)),
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(file) = self.host.open_file(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let from_disk = file.reads_from_disk();
        let serve = move || match file.read(offset, size) {
            Ok(data) => reply.data(data.as_slice()),
            Err(error) => {
                tracing::warn!("reading an open file failed: {error}");
                reply.error(Errno::from(error));
            }
        };
        if from_disk {
            self.runtime.spawn_blocking(serve);
        } else {
            serve();
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.host.release(fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let files = self.host.inode_count() as u64;
        reply.statfs(0, 0, 0, files, 0, BLOCK_SIZE, 255, BLOCK_SIZE);
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        let (uid, gid, mask) = (req.uid(), req.gid(), mask.bits());
        let check = move |answer: Result<EntryAnswer, i32>| match answer
            .and_then(|answer| Host::check_access(&answer.attrs, uid, gid, mask))
        {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(Errno::from_i32(errno)),
        };
        if let Some(answer) = self.host.cached_getattr(ino.0, None) {
            return check(answer);
        }
        let host = self.host.clone();
        self.answer(async move { host.getattr(ino.0, None).await }, check);
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        // No extended attributes: ENOSYS once, and the kernel answers every later getxattr
        // itself (EOPNOTSUPP, as a filesystem without them does), so `ls -l`'s probe of each
        // entry for ACLs and labels never reaches the mount.
        reply.error(Errno::from_i32(libc::ENOSYS));
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        // As `getxattr`: the kernel stops asking.
        reply.error(Errno::from_i32(libc::ENOSYS));
    }

    // ---- everything that writes: a vfs mount is read-only ---------------------------------

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn mkdir(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::from_i32(libc::EROFS));
    }
}

/// The one kernel invalidation sent while a request is being answered: the attributes (not the
/// data, not an entry) of the inode being opened. It takes none of the locks an open holds (only
/// the connection's and the inode's own spin lock), unlike an entry invalidation, which takes the
/// parent directory's lock that a lookup in flight may hold; and it must land before the open
/// returns, or an `fstat` right after it would see the size from before.
fn forget_attributes_before_open_returns(kernel: &OnceLock<KernelNotifier>, ino: u64) {
    let Some(kernel) = kernel.get() else {
        return;
    };
    if let Err(error) = kernel.forget_attributes(ino) {
        // ENOENT: the kernel holds no such inode any more; nothing to forget.
        if error.raw_os_error() != Some(libc::ENOENT) {
            tracing::debug!(
                ino,
                "kernel refused to invalidate attributes at open: {error}"
            );
        }
    }
}

/// The kernel side of change notices, through fuser's notifier.
pub(crate) struct KernelNotifier(pub(crate) Notifier);

impl KernelCache for KernelNotifier {
    fn forget_inode(&self, ino: u64) -> io::Result<()> {
        self.0.inval_inode(INodeNo(ino), 0, 0)
    }

    fn forget_attributes(&self, ino: u64) -> io::Result<()> {
        // A negative offset leaves the page cache alone.
        self.0.inval_inode(INodeNo(ino), -1, 0)
    }

    fn forget_entry(&self, parent: u64, name: &OsStr) -> io::Result<()> {
        self.0.inval_entry(INodeNo(parent), name)
    }
}
