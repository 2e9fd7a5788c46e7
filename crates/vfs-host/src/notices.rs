//! The thread that turns a provider's change notices into forgotten caches: the host's own,
//! then the kernel's. It is not a FUSE request handler, because invalidating the kernel from
//! inside a request can deadlock.

use std::ffi::{OsStr, OsString};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use vfs_core::{ChangeReceiver, NodePath, Notice, Reach, Received};

use crate::host::{Host, KernelTarget};

/// How often the thread checks whether the mount is going away while no notice arrives.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// The kernel's caches, as far as a notice needs them.
pub(crate) trait KernelCache: Send + 'static {
    /// Forget the attributes and cached data of an inode.
    fn forget_inode(&self, ino: u64) -> io::Result<()>;
    /// Forget only the attributes of an inode: its cached data (a directory's listing, a
    /// symlink's target) stays.
    fn forget_attributes(&self, ino: u64) -> io::Result<()>;
    /// Forget the directory entry `name` in `parent`.
    fn forget_entry(&self, parent: u64, name: &OsStr) -> io::Result<()>;
}

/// What the notice thread does.
#[derive(Debug)]
pub(crate) enum Work {
    /// A provider's change notice.
    Notice(Notice),
    /// The host learnt something the kernel's copy of these attributes lacks (a directory's
    /// link count once it is listed): the kernel should ask again. Its cached data stays.
    Refresh(u64),
    /// The kernel's cached data of this inode (a listing, a link target) is out of date,
    /// though no notice said so: it should drop it.
    Reload(u64),
    /// An inode number the host no longer answers for (its path changed kind and has
    /// another number now): the kernel should forget it and the name leading to it.
    Forget(KernelTarget),
    /// A barrier's mark ([`vfs_core::ChangeNotifier::mark`]): once the notices before it are
    /// applied to the kernel, the host is told ([`Host::marks_applied`]).
    Mark(u64),
}

/// Two threads: one forwards the provider's notices, one does the work (so the host can queue
/// work too). Both stop with the mount.
pub(crate) struct NoticeThread {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl NoticeThread {
    pub(crate) fn start(
        host: Arc<Host>,
        notices: ChangeReceiver,
        kernel: impl KernelCache,
    ) -> io::Result<NoticeThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, work) = mpsc::channel();
        host.set_work_queue(sender.clone());
        let mut thread = NoticeThread {
            stop: stop.clone(),
            threads: Vec::new(),
        };
        let stop_seen = stop.clone();
        thread.threads.push(
            std::thread::Builder::new()
                .name("vfs-notices".into())
                .spawn(move || forward(&notices, &sender, &stop_seen))?,
        );
        thread.threads.push(
            std::thread::Builder::new()
                .name("vfs-invalidate".into())
                .spawn(move || run(&host, &work, &kernel, &stop))?,
        );
        Ok(thread)
    }

    /// Stops the threads and waits for them (at most about [`STOP_CHECK`]).
    pub(crate) fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::warn!("a change-notice thread panicked");
            }
        }
    }
}

impl Drop for NoticeThread {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn forward(notices: &ChangeReceiver, work: &Sender<Work>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match notices.recv_timeout_or_mark(STOP_CHECK) {
            Ok(Some(received)) => {
                let item = match received {
                    Received::Notice(notice) => Work::Notice(notice),
                    Received::Mark(token) => Work::Mark(token),
                };
                if work.send(item).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(()) => {
                tracing::debug!("every change notifier is gone; no more notices");
                return;
            }
        }
    }
}

fn run(host: &Host, work: &Receiver<Work>, kernel: &impl KernelCache, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let first = match work.recv_timeout(STOP_CHECK) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut notices = Vec::new();
        let mut mark = None;
        for item in std::iter::once(first).chain(work.try_iter()) {
            match item {
                Work::Notice(notice) => notices.push(notice),
                // Marks come in the order sent: the last one covers the others.
                Work::Mark(token) => mark = Some(token),
                Work::Refresh(ino) => {
                    if let Err(error) = kernel.forget_attributes(ino) {
                        tracing::debug!(ino, "kernel refused to invalidate attributes: {error}");
                    }
                }
                Work::Reload(ino) => forget(kernel, &KernelTarget { ino, entry: None }),
                Work::Forget(target) => forget(kernel, &target),
            }
        }
        for notice in coalesce(notices) {
            match notice.reach {
                Reach::Subtree => apply(host, kernel, &notice.path),
                Reach::Node => apply_to_node(host, kernel, &notice.path),
            }
        }
        // Every notice queued before the mark is applied (with those after it in this burst).
        if let Some(token) = mark {
            host.marks_applied(token);
        }
    }
}

/// A burst of notices reduced to those not already covered by another one: a subtree notice
/// covers every notice at or below its path; a node notice covers only its own duplicates.
pub(crate) fn coalesce(notices: Vec<Notice>) -> Vec<Notice> {
    let mut subtrees: Vec<NodePath> = notices
        .iter()
        .filter(|notice| notice.reach == Reach::Subtree)
        .map(|notice| notice.path.clone())
        .collect();
    // Sorted, every path comes right after the paths it lies below.
    subtrees.sort();
    let mut kept: Vec<NodePath> = Vec::with_capacity(subtrees.len());
    for path in subtrees {
        if !kept.iter().any(|covering| path.starts_with(covering)) {
            kept.push(path);
        }
    }
    let mut nodes: Vec<NodePath> = notices
        .into_iter()
        .filter(|notice| notice.reach == Reach::Node)
        .map(|notice| notice.path)
        .filter(|path| !kept.iter().any(|covering| path.starts_with(covering)))
        .collect();
    nodes.sort();
    nodes.dedup();
    kept.into_iter()
        .map(Notice::subtree)
        .chain(nodes.into_iter().map(Notice::node))
        .collect()
}

pub(crate) fn apply(host: &Host, kernel: &impl KernelCache, path: &NodePath) {
    let targets = host.invalidate(path);
    tracing::debug!(%path, inodes = targets.len(), "change notice");
    tell(kernel, &targets, &host.forget_missing(path));
}

/// A notice for the node at `path` alone: its attributes and cached data (a folder's listing)
/// are forgotten, and the missing names in it, but not the names themselves nor anything below.
pub(crate) fn apply_to_node(host: &Host, kernel: &impl KernelCache, path: &NodePath) {
    let (targets, missing) = host.invalidate_node(path);
    tracing::debug!(%path, inodes = targets.len(), "change notice for the node alone");
    tell(kernel, &targets, &missing);
}

/// Has the kernel forget `targets` and the negative entries `missing` (parent, name).
fn tell(kernel: &impl KernelCache, targets: &[KernelTarget], missing: &[(u64, OsString)]) {
    for target in targets {
        forget(kernel, target);
    }
    for (parent, name) in missing {
        if let Err(error) = kernel.forget_entry(*parent, name) {
            tracing::debug!(
                parent,
                ?name,
                "kernel refused to invalidate a negative entry: {error}"
            );
        }
    }
}

fn forget(kernel: &impl KernelCache, target: &KernelTarget) {
    if let Err(error) = kernel.forget_inode(target.ino) {
        tracing::debug!(
            ino = target.ino,
            "kernel refused to invalidate an inode: {error}"
        );
    }
    if let Some((parent, name)) = &target.entry {
        if let Err(error) = kernel.forget_entry(*parent, name) {
            tracing::debug!(
                parent,
                ?name,
                "kernel refused to invalidate an entry: {error}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subtree(text: &str) -> Notice {
        Notice::subtree(NodePath::parse(text))
    }

    fn node(text: &str) -> Notice {
        Notice::node(NodePath::parse(text))
    }

    #[test]
    fn bursts_collapse_to_the_covering_paths() {
        let notices = ["a/b", "a", "c/d", "c/e", "a/b/c", "ab"]
            .iter()
            .map(|text| subtree(text))
            .collect();
        let kept: Vec<String> = coalesce(notices).iter().map(ToString::to_string).collect();
        assert_eq!(
            kept,
            [
                "/a and below",
                "/ab and below",
                "/c/d and below",
                "/c/e and below"
            ]
        );
        assert_eq!(coalesce(vec![subtree("x"), subtree("")]), vec![subtree("")]);
    }

    #[test]
    fn node_notices_are_kept_unless_a_subtree_notice_covers_them() {
        let kept = coalesce(vec![
            node("images"),
            node("images"),
            node(""),
            subtree("containers"),
            node("containers/web"),
            node("containers"),
            subtree("images/app"),
        ]);
        let kept: Vec<String> = kept.iter().map(ToString::to_string).collect();
        assert_eq!(
            kept,
            [
                "/containers and below",
                "/images/app and below",
                "/ alone",
                "/images alone"
            ]
        );
    }
}
