//! GitConfigFS: a directory mirrored read-only, where every YAML file is a folder of its
//! sections, each timed by the newest commit (git blame) among its lines.
//!
//! `vfs mount gitconfig ./repo .cfgfs` lets a Makefile depend on one section of a config file,
//! such as `.cfgfs/docker-compose.yml/services/web`. The rules are in `docs/gitconfig.md`.
//!
//! Modules: [`escape`] (key names), `yaml` (parsing, folders, section times), `sections`
//! (per-file caches, one version a file, bounded in bytes), `served` (the branch-switch rule),
//! `source` (race-free access to SOURCE through directory descriptors), `mounts` (FUSE
//! mountpoints to hide, from `vfs-mounts`'s table), `mirror` (plain entries), `watch` (inotify,
//! or polling: [`WatchMode`]), `provider` (the [`GitConfigProvider`]).

pub mod escape;
pub mod formats;
mod mirror;
mod mounts;
mod provider;
mod registration;
mod sections;
mod served;
mod source;
mod watch;
pub mod yaml;

pub use provider::{scalar_content, GitConfigProvider};
pub use watch::{WatchMode, WATCH_ENV};
