//! systemd's readiness protocol (`Type=notify`): `READY=1` once the kernel answers the mount,
//! `STOPPING=1` when it is being taken down. Only when systemd (or anything speaking its
//! protocol) set `NOTIFY_SOCKET`; silent otherwise.

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!("cannot tell the service manager (NOTIFY_SOCKET): {error}");
    }
}

/// The mount answers: dependent units may start.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The mount is being taken down.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}
