//! DockerFS: a Docker engine's objects as files that make can depend on.
//!
//! `vfs mount docker [SOURCE] [MOUNTPOINT]` shows containers, images (by id and by every tag,
//! with and without a colon), volumes, networks and compose services; each object's file holds
//! its `docker inspect` JSON and carries the time make should compare (see docs/docker.md).
//!
//! The whole tree is kept in memory and answered from there: the engine is asked only when a
//! file is read, and when its event stream says something changed.

mod applied;
mod args;
mod engine;
mod images;
mod json_indent;
mod outage;
mod provider;
mod shared;
mod source;
mod ssh;
mod state;
mod swarm;
mod tag_times;
mod timestamp;
mod tls;
mod transport;
mod tree;
mod watch;

pub use args::DEFAULT_MOUNTPOINT;
pub use provider::DockerProvider;
pub use source::{
    looks_like_source, resolve_default, resolve_default_with_tls, DockerSource, SourceError,
    TlsFlags, DEFAULT_HOST,
};
pub use timestamp::parse_rfc3339;
pub use tls::TlsSettings;

vfs_core::register_provider! {
    name: "docker",
    about: "A Docker engine's containers, images, volumes, networks and compose services as files",
    command: args::args,
    build: args::build,
    default_mountpoint: args::DEFAULT_MOUNTPOINT,
}

/// Builds the provider for `source` (for tests and embedding without the command line).
pub fn provider_for(source: DockerSource) -> std::sync::Arc<DockerProvider> {
    std::sync::Arc::new(DockerProvider::new(source))
}
