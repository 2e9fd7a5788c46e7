//! Mounting a provider and taking the mount down again.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use fuser::{BackgroundSession, Config, MountOption, Session, SessionACL};
use tokio::runtime::Handle;
use tokio::sync::watch;
use vfs_core::{ChangeNotifier, Provider};

use crate::attrs::Owner;
use crate::fuse::{FuseHost, KernelNotifier};
use crate::host::Host;
use crate::notices::NoticeThread;
use crate::unmount::{detach, is_mounted, mount_table_path};
use crate::{HostError, MountConfig, FUSE_DEVICE};

/// FUSE threads reading requests; provider calls run on the tokio runtime, so few are needed.
const FUSE_THREADS: usize = 2;

/// Mounts `provider` at `mountpoint` (created if missing). Must be called inside a tokio
/// multi-thread runtime (the host spawns provider calls on it). Checks `/dev/fuse` and the
/// mountpoint, calls `provider.start(notifier)`, mounts, starts the thread that handles change
/// notices, and returns once the mount answers requests.
pub async fn mount(
    provider: Arc<dyn Provider>,
    mountpoint: &Path,
    config: MountConfig,
) -> Result<Mounted, HostError> {
    if !Path::new(FUSE_DEVICE).exists() {
        return Err(HostError::NoFuseDevice);
    }
    prepare_mountpoint(mountpoint)?;
    let runtime = Handle::try_current().map_err(|_| HostError::Mount {
        mountpoint: mountpoint.to_path_buf(),
        source: io::Error::other("vfs_host::mount must be called inside a tokio runtime"),
    })?;

    let (notifier, notices) = ChangeNotifier::channel();
    provider.start(notifier).await?;

    let ttl = config
        .ttl
        .unwrap_or_else(|| crate::default_ttl(provider.change_notices()));
    let host = Arc::new(Host::new(provider.clone(), ttl, Owner::mounting_user()));
    let (ended_sender, ended) = watch::channel(false);
    let kernel_for_requests = Arc::new(OnceLock::new());
    let filesystem = FuseHost::new(
        host.clone(),
        runtime.clone(),
        ended_sender,
        kernel_for_requests.clone(),
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
            let _ = unmount_session(background, mountpoint);
            provider.stop().await;
            return Err(HostError::mounting(mountpoint.to_path_buf(), error));
        }
    };
    tracing::info!(mountpoint = %mountpoint.display(), ?ttl, "mounted");
    Ok(Mounted {
        mountpoint: mountpoint.to_path_buf(),
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
        MountOption::Subtype("vfs".into()),
    ];
    if config.allow_other {
        options.acl = SessionACL::All;
    }
    options.n_threads = Some(FUSE_THREADS);
    options
}

fn prepare_mountpoint(mountpoint: &Path) -> Result<(), HostError> {
    match std::fs::metadata(mountpoint) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(HostError::MountpointNotADirectory(mountpoint.to_path_buf())),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(mountpoint)
                .map_err(|error| HostError::mounting(mountpoint.to_path_buf(), error))
        }
        Err(error) => Err(HostError::mounting(mountpoint.to_path_buf(), error)),
    }
}

/// Unmounts a session, detaching it lazily when it is busy so that it goes away once unused.
fn unmount_session(session: BackgroundSession, mountpoint: &Path) -> Result<(), HostError> {
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
        let result = tokio::task::spawn_blocking(move || {
            let result = session.map_or(Ok(()), |session| unmount_session(session, &mountpoint));
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
            if let Err(error) = unmount_session(session, &self.mountpoint) {
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
