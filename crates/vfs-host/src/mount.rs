//! Mounting a provider and taking the mount down again.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use fuser::{BackgroundSession, Config, MountOption, Session, SessionACL};
use tokio::runtime::Handle;
use tokio::sync::watch;
use vfs_core::{ChangeNotifier, Provider};

use crate::attrs::Owner;
use crate::fuse::{FuseHost, KernelNotifier};
use crate::host::Host;
use crate::mountpoint::{look_at, Found};
use crate::notices::NoticeThread;
use crate::unmount::detach;
use crate::{HostError, MountConfig};
use vfs_mounts::{is_mounted, mount_table_path};

/// FUSE threads reading requests; provider calls run on the tokio runtime, so few are needed.
const FUSE_THREADS: usize = 2;

/// Mounts `provider` at `mountpoint` (created if missing). Must be called inside a tokio
/// multi-thread runtime (the host spawns provider calls on it). Checks `/dev/fuse` and the
/// mountpoint (refusing one that is, or holds, one of the provider's
/// [`Provider::local_sources`]), calls `provider.start(notifier)`, creates a missing mountpoint,
/// mounts, starts the thread that handles change notices, and returns once the mount answers
/// requests. A mountpoint it created is removed again when the mount fails, and when the
/// returned future is dropped before it is ready (a mount given up half-way).
pub async fn mount(
    provider: Arc<dyn Provider>,
    mountpoint: &Path,
    config: MountConfig,
) -> Result<Mounted, HostError> {
    if !crate::fuse_device_present() {
        return Err(HostError::NoFuseDevice);
    }
    let missing = check_mountpoint(mountpoint)?;
    refuse_mounting_over_sources(provider.as_ref(), mountpoint)?;
    let runtime = Handle::try_current().map_err(|_| HostError::Mount {
        mountpoint: mountpoint.to_path_buf(),
        error: io::Error::other("vfs_host::mount must be called inside a tokio runtime"),
    })?;

    let (notifier, notices) = ChangeNotifier::channel();
    // The host's own end, for the marks of its barrier (`.vfs`): they travel behind the
    // provider's notices, in the same channel.
    let marks = notifier.clone();
    provider.start(notifier).await?;
    // Created only now: a provider that cannot start leaves no folder behind.
    let created = if missing {
        match CreatedDirs::create(mountpoint) {
            Ok(created) => created,
            Err(error) => {
                provider.stop().await;
                return Err(error);
            }
        }
    } else {
        CreatedDirs::default()
    };

    let announced = provider.change_notices();
    let ttl = config.ttl.unwrap_or_else(|| crate::default_ttl(announced));
    let name = config
        .fs_name
        .strip_prefix("vfs-")
        .unwrap_or(&config.fs_name);
    let host = Arc::new(
        Host::new(provider.clone(), ttl, Owner::mounting_user()).with_name(name.to_string()),
    );
    host.set_marks(marks);
    let (ended_sender, ended) = watch::channel(false);
    let kernel_for_requests = Arc::new(OnceLock::new());
    let filesystem = FuseHost::new(
        host.clone(),
        runtime.clone(),
        ended_sender,
        kernel_for_requests.clone(),
        announced == vfs_core::ChangeNotices::Complete,
    );
    let options = session_config(&config);
    let target = mountpoint.to_path_buf();
    let session = tokio::task::spawn_blocking(move || Session::new(filesystem, &target, &options))
        .await
        .map_err(io::Error::other)
        .and_then(|result| result);
    let session = match session {
        Ok(session) => session,
        Err(error) => {
            provider.stop().await;
            return Err(HostError::mounting(mountpoint.to_path_buf(), error));
        }
    };
    let kernel = KernelNotifier(session.notifier());
    let _ = kernel_for_requests.set(KernelNotifier(session.notifier()));
    host.set_kernel(Box::new(KernelNotifier(session.notifier())));
    let ours = OurMount::of(&session);
    let background = match session.spawn() {
        Ok(background) => background,
        Err(error) => {
            provider.stop().await;
            return Err(HostError::mounting(mountpoint.to_path_buf(), error));
        }
    };
    let notice_thread = match NoticeThread::start(host.clone(), notices, kernel) {
        Ok(thread) => thread,
        Err(error) => {
            let _ = unmount_session(background, mountpoint, &ours);
            provider.stop().await;
            return Err(HostError::mounting(mountpoint.to_path_buf(), error));
        }
    };
    created.keep();
    tracing::info!(mountpoint = %mountpoint.display(), ?ttl, "mounted");
    Ok(Mounted {
        mountpoint: mountpoint.to_path_buf(),
        ours,
        session: Some(background),
        notice_thread: Some(notice_thread),
        provider: Some(provider),
        ended,
        runtime,
    })
}

fn session_config(config: &MountConfig) -> Config {
    let mut options = Config::default();
    options.mount_options = vec![
        MountOption::RO,
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::DefaultPermissions,
        MountOption::FSName(config.fs_name.clone()),
        MountOption::Subtype(vfs_mounts::VFS_SUBTYPE.into()),
    ];
    if config.allow_other {
        options.acl = SessionACL::All;
    }
    options.n_threads = Some(FUSE_THREADS);
    options
}

/// Whether the mountpoint is missing (to be created once the provider has started); an error
/// when it is something other than a directory or cannot be looked at.
fn check_mountpoint(mountpoint: &Path) -> Result<bool, HostError> {
    match look_at(mountpoint) {
        Found::Directory => Ok(false),
        Found::Missing => Ok(true),
        Found::NotADirectory => Err(HostError::MountpointNotADirectory(mountpoint.to_path_buf())),
        Found::Unusable(error) => Err(HostError::mounting(mountpoint.to_path_buf(), error)),
    }
}

/// Refuses a mountpoint that is one of the provider's local sources, or a folder above one: the
/// mount would hide the source, and the provider would then read itself through the mount (a
/// deadlock). A mountpoint inside a source is fine.
fn refuse_mounting_over_sources(
    provider: &dyn Provider,
    mountpoint: &Path,
) -> Result<(), HostError> {
    // A missing mountpoint neither is nor holds an existing folder.
    let Ok(mountpoint_real) = mountpoint.canonicalize() else {
        return Ok(());
    };
    for source in provider.local_sources() {
        // A source that cannot be resolved is for `start` to report.
        let Ok(source) = source.canonicalize() else {
            continue;
        };
        if source == mountpoint_real {
            return Err(HostError::MountpointIsSource(mountpoint.to_path_buf()));
        }
        if source.starts_with(&mountpoint_real) {
            return Err(HostError::MountpointHoldsSource {
                mountpoint: mountpoint.to_path_buf(),
                source_dir: source,
            });
        }
    }
    Ok(())
}

/// The folders `mount` created for a missing mountpoint, outermost first: removed again,
/// innermost first, when dropped (a failed mount, or one given up half-way) unless kept. One that
/// is no longer empty stays, and so does what is above it.
#[derive(Default)]
struct CreatedDirs(Vec<PathBuf>);

impl CreatedDirs {
    fn create(mountpoint: &Path) -> Result<CreatedDirs, HostError> {
        let mut missing = Vec::new();
        let mut dir = Some(mountpoint);
        while let Some(path) = dir.filter(|path| std::fs::symlink_metadata(path).is_err()) {
            missing.push(path.to_path_buf());
            dir = path.parent();
        }
        missing.reverse();
        let created = CreatedDirs(missing);
        std::fs::create_dir_all(mountpoint)
            .map_err(|error| HostError::mounting(mountpoint.to_path_buf(), error))?;
        Ok(created)
    }

    /// The mount stands: its folders stay.
    fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        for dir in self.0.iter().rev() {
            if let Err(error) = std::fs::remove_dir(dir) {
                tracing::debug!(dir = %dir.display(), "created for the mount, not removed: {error}");
                return;
            }
        }
    }
}

/// This session's FUSE connection, through a duplicate of its `/dev/fuse` descriptor: whether
/// the kernel still serves it is how the host tells its own mount from one made at the same path
/// since.
struct OurMount(Option<OwnedFd>);

impl OurMount {
    fn of(session: &Session<FuseHost>) -> OurMount {
        OurMount(session.as_fd().try_clone_to_owned().ok())
    }

    /// Whether the kernel ended this connection: the mount was unmounted (`vfs unmount`,
    /// `fusermount3 -u`) or its connection aborted. `/dev/fuse` then polls as `POLLERR`, as
    /// libfuse's `fuse_kern_unmount` checks. Unknown (no descriptor) counts as alive.
    fn ended(&self) -> bool {
        let Some(device) = &self.0 else {
            return false;
        };
        let mut poll = libc::pollfd {
            fd: device.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        loop {
            // SAFETY: `poll` is one valid pollfd for the call's duration; the descriptor is
            // owned by `self` and open.
            let ready = unsafe { libc::poll(&mut poll, 1, 0) };
            if ready < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return ready == 1 && poll.revents & libc::POLLERR != 0;
        }
    }
}

/// Unmounts a session, detaching it lazily when it is busy so that it goes away once unused.
///
/// fuser 0.18 unmounts by path, after a check meant to skip a session the kernel already ended
/// that does not work (it takes the device's `POLLERR`, which says the connection is dead, for
/// "mounted": cberner/fuser#703). So after `vfs unmount` and a new mount at the same path (a
/// restart), the old process's exit would unmount the new one. When the kernel has ended this
/// session's connection, nothing at the path is touched, as libfuse does (an aborted mount left
/// behind is for `vfs unmount`); the session is let go without fuser's unmount (its thread ends
/// with the connection; what leaks is the closed connection's descriptor, once).
fn unmount_session(
    session: BackgroundSession,
    mountpoint: &Path,
    ours: &OurMount,
) -> Result<(), HostError> {
    if ours.ended() {
        tracing::debug!(
            mountpoint = %mountpoint.display(),
            "the kernel ended this mount already: nothing at the path is touched"
        );
        std::mem::forget(session);
        return Ok(());
    }
    match session.umount_and_join() {
        Ok(()) => Ok(()),
        // Someone else unmounted it already (`fusermount3 -u`, `vfs unmount`).
        Err(_) if !is_mounted(&mount_table_path(mountpoint)) => Ok(()),
        Err(error) => {
            tracing::debug!(mountpoint = %mountpoint.display(), "unmount failed ({error}); detaching lazily");
            detach(mountpoint).map_err(|detail| HostError::Unmount {
                mountpoint: mountpoint.to_path_buf(),
                detail: format!("{error}; lazy unmount: {detail}"),
            })
        }
    }
}

/// A mounted provider. Dropping it unmounts too.
pub struct Mounted {
    mountpoint: PathBuf,
    ours: OurMount,
    session: Option<BackgroundSession>,
    notice_thread: Option<NoticeThread>,
    provider: Option<Arc<dyn Provider>>,
    ended: watch::Receiver<bool>,
    runtime: Handle,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounted")
            .field("mountpoint", &self.mountpoint)
            .field("mounted", &self.session.is_some())
            .finish()
    }
}

impl Mounted {
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Unmounts, stops the notice thread, calls `provider.stop()`. Dropping a `Mounted` does
    /// the same (without waiting for `stop`).
    pub async fn unmount(mut self) -> Result<(), HostError> {
        let session = self.session.take();
        let notice_thread = self.notice_thread.take();
        let mountpoint = self.mountpoint.clone();
        let ours = std::mem::replace(&mut self.ours, OurMount(None));
        let result = tokio::task::spawn_blocking(move || {
            let result = session.map_or(Ok(()), |session| {
                unmount_session(session, &mountpoint, &ours)
            });
            if let Some(thread) = notice_thread {
                thread.stop();
            }
            result
        })
        .await
        .unwrap_or_else(|error| {
            Err(HostError::Unmount {
                mountpoint: self.mountpoint.clone(),
                detail: error.to_string(),
            })
        });
        if let Some(provider) = self.provider.take() {
            provider.stop().await;
        }
        tracing::info!(mountpoint = %self.mountpoint.display(), "unmounted");
        result
    }

    /// Resolves when the session ends by itself (someone ran `fusermount3 -u` on it).
    pub async fn ended(&self) {
        let mut ended = self.ended.clone();
        // An error means the session is gone without saying so: ended as well.
        let _ = ended.wait_for(|ended| *ended).await;
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            if let Err(error) = unmount_session(session, &self.mountpoint, &self.ours) {
                tracing::warn!("{error}");
            }
        }
        if let Some(thread) = self.notice_thread.take() {
            thread.stop();
        }
        if let Some(provider) = self.provider.take() {
            self.runtime.spawn(async move { provider.stop().await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_made_for_an_interrupted_mount_go_and_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mountpoint = dir.path().join("a/b/c");
        let created = CreatedDirs::create(&mountpoint).unwrap();
        assert_eq!(
            created.0,
            [
                dir.path().join("a"),
                dir.path().join("a/b"),
                mountpoint.clone()
            ]
        );
        assert!(mountpoint.is_dir());
        // Something of someone else's in `a` meanwhile; the mount is given up.
        std::fs::write(dir.path().join("a/theirs"), "x").unwrap();
        drop(created);
        assert!(!dir.path().join("a/b").exists());
        assert!(dir.path().join("a/theirs").exists());
        assert!(dir.path().exists());
        // Nothing made: nothing removed.
        drop(CreatedDirs::create(dir.path()).unwrap());
        assert!(dir.path().exists());
        // A mount that stands keeps what was made for it.
        CreatedDirs::create(&mountpoint).unwrap().keep();
        assert!(mountpoint.is_dir());
    }
}
