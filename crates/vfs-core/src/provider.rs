use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{ChangeNotifier, Content, Node, NodePath, ProviderError};

/// A virtual filesystem's content: a tree of timestamped nodes.
///
/// The host calls these methods from many tasks at once (a `make -j8` over the mount is eight
/// readers), so implementations take `&self` and must not hold a lock across a slow call.
/// Every method may be called again at any time for the same path: the host caches answers
/// for a time-to-live (see [`Provider::change_notices`]), and drops them at once on a change
/// notice.
#[crate::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Called once before the first request, with the handle for change notices.
    /// Connect to the source and start watching here; an error aborts the mount with a clear
    /// message, so check here what the user got wrong (an unreachable engine, a missing folder).
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        let _ = notifier;
        Ok(())
    }

    /// The root directory (its name is ignored; its times and permissions are used).
    async fn root(&self) -> Result<Node, ProviderError>;

    /// The entries of the directory at `dir`, in a stable order of the provider's choice.
    /// Answer [`ProviderError::NotFound`] for a path that does not exist (any more).
    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError>;

    /// The entry `name` of the directory at `dir`: the same node [`Provider::list`] would
    /// answer for it, with the same attributes. The host calls it to resolve one name in a
    /// folder whose listing it does not have (a `stat` or `open` of a path, as `make` does for
    /// each prerequisite), so that a provider whose folders are big, or whose entries' times
    /// cost a request each, need not produce the whole folder for one name. Answer
    /// [`ProviderError::NotFound`] (for `dir.join(name)`) when there is no such entry, and
    /// for a `dir` that does not exist.
    ///
    /// The default answers through [`Provider::list`]. The host calls it only for a provider
    /// whose [`Provider::prefers_lookup`] says so (otherwise it lists the folder once and
    /// answers all its names from that). An answer must agree with the listing of the same
    /// moment: the host caches it like an entry of a listing (for the time-to-live, until a
    /// change notice on the path or its folder, or until a listing of the folder supersedes it).
    async fn lookup(&self, dir: &NodePath, name: &OsStr) -> Result<Node, ProviderError> {
        self.list(dir)
            .await?
            .into_iter()
            .find(|node| node.name == name)
            .ok_or_else(|| ProviderError::NotFound(dir.join(name)))
    }

    /// Whether the host should resolve a name in a folder it has no listing of through
    /// [`Provider::lookup`] rather than by listing the folder. The default, false, suits a
    /// provider whose listing costs about what one name does (the host then lists a folder once
    /// and answers every name in it from that). Answer true when you implement `lookup` because
    /// one name is much cheaper than its folder (DockerFS: a tag costs one inspect, `images/`
    /// one per image).
    fn prefers_lookup(&self) -> bool {
        false
    }

    /// The content of the regular file at `path`, fetched when the file is opened.
    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError>;

    /// Whether every change of the tree is announced through the [`ChangeNotifier`]. The host
    /// chooses its default time-to-live from this: short for [`ChangeNotices::Partial`] (a
    /// change shows within a second even without a notice), long for
    /// [`ChangeNotices::Complete`] (answers are kept until a notice, so a second `make` over
    /// an unchanged tree asks nothing at all). A `--ttl` given by the user wins either way.
    fn change_notices(&self) -> ChangeNotices {
        ChangeNotices::Partial
    }

    /// The local folders this provider reads (a mirror's SOURCE), if any. The host refuses a
    /// mountpoint equal to one of them, or above one: the mount would hide the folder and the
    /// provider would then read itself through the mount. A mountpoint inside one is allowed.
    /// Called before [`Provider::start`]; the default, for a provider with no local folder
    /// (an engine, a network service), is none.
    fn local_sources(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    /// Returns once every change of the source completed before the call has been announced
    /// through the [`ChangeNotifier`] (and shows in `root`/`list`). The host calls it when a
    /// reader asks the mount to settle (reading `.vfs` at its root, `vfs wait MOUNTPOINT`), then
    /// waits until it has applied every notice sent before this returned; a `make` run after
    /// that sees every change made before the call. The default, for a provider that sends its
    /// notices as it finds changes (or sends none), returns at once. Answer an error when it
    /// cannot tell (the source is unreachable); the host bounds the wait.
    async fn settle(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Whether a backend that copies the tree into a plain folder (`vfs sync --contents`) may
    /// write the files' bytes there, where the folder's permissions, not a private mount,
    /// decide who reads them. The default allows it: the content is what the mount would show
    /// its owner. Answer [`CopiedContents::OwnerOnly`] for content that must not become
    /// readable by other users (secrets), [`CopiedContents::Refused`] when a copy makes no
    /// sense at all.
    fn copied_contents(&self) -> CopiedContents {
        CopiedContents::Allowed
    }

    /// Called once when the mount goes away: stop background work here.
    async fn stop(&self) {}
}

/// Whether a file's bytes may be copied out of the provider (see [`Provider::copied_contents`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopiedContents {
    Allowed,
    /// Only into a folder no other user can enter; `why` is said to a user who asks otherwise.
    OwnerOnly {
        why: &'static str,
    },
    /// Never; `why` is said to a user who asks.
    Refused {
        why: &'static str,
    },
}

/// How completely a provider announces its changes (see [`Provider::change_notices`]).
///
/// Both hosts (the FUSE mount, `vfs sync`) trust what they read for a time-to-live chosen
/// from it, unless the user gives one: [`ChangeNotices::default_ttl`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeNotices {
    /// Some changes come without a notice (or the provider sends none): the host asks again
    /// after a short time-to-live.
    Partial,
    /// Every change is announced as it happens, also after an outage of the source (a provider
    /// that loses its source announces what changed meanwhile once it is back). Declare this only
    /// when it holds: a change without a notice would then stay unseen for the long time-to-live.
    /// A provider that answers from a [`crate::Poller`]'s snapshots holds it (its answers change
    /// only at a poll, and each poll announces its changes; see there for the interval).
    Complete,
}

impl ChangeNotices {
    /// Without notices for every change, 500 ms: a change shows within a second.
    pub const PARTIAL_TTL: Duration = Duration::from_millis(500);
    /// With complete notices, 10 min: answers stand until a notice, yet a notice lost to a bug
    /// costs minutes, not the host's whole life.
    pub const COMPLETE_TTL: Duration = Duration::from_secs(600);

    /// The time-to-live a host uses when the user chose none.
    pub fn default_ttl(self) -> Duration {
        match self {
            ChangeNotices::Partial => ChangeNotices::PARTIAL_TTL,
            ChangeNotices::Complete => ChangeNotices::COMPLETE_TTL,
        }
    }
}
