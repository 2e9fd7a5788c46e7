//! Freshness: inotify watches on the directories the mount has listed and on the repository's
//! HEAD, refs and index, turned into change notices.
//!
//! Directories are watched lazily, when first listed, so a large tree costs one watch per
//! directory someone looked at, not one per directory it has.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Weak;

use notify::event::{EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use vfs_core::{ChangeNotifier, NodePath};

use crate::mirror::HIDDEN_NAME;
use crate::provider::Inner;

pub struct SourceWatcher {
    watcher: RecommendedWatcher,
    watched: HashSet<PathBuf>,
}

impl SourceWatcher {
    /// Starts watching SOURCE's root and the repository; `None` (with a warning) when inotify
    /// is not available, in which case changes are seen after the TTL.
    pub fn start(
        source: PathBuf,
        git_dir: Option<PathBuf>,
        notifier: ChangeNotifier,
        inner: Weak<Inner>,
    ) -> Option<SourceWatcher> {
        let handler_source = source.clone();
        let handler_git_dir = git_dir.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            announce(
                &event,
                &handler_source,
                handler_git_dir.as_deref(),
                &notifier,
                &inner,
            );
        };
        let watcher = match notify::recommended_watcher(handler) {
            Ok(watcher) => watcher,
            Err(error) => {
                tracing::warn!(
                    "cannot watch {}: {error}; changes are seen after the TTL",
                    source.display()
                );
                return None;
            }
        };
        let mut watcher = SourceWatcher {
            watcher,
            watched: HashSet::new(),
        };
        watcher.watch_directory(&source);
        if let Some(git_dir) = git_dir {
            watcher.watch(&git_dir, RecursiveMode::NonRecursive);
            watcher.watch(&git_dir.join("refs"), RecursiveMode::Recursive);
        }
        Some(watcher)
    }

    /// Watches a directory of SOURCE (once).
    pub fn watch_directory(&mut self, path: &Path) {
        self.watch(path, RecursiveMode::NonRecursive);
    }

    fn watch(&mut self, path: &Path, mode: RecursiveMode) {
        if self.watched.contains(path) {
            return;
        }
        match self.watcher.watch(path, mode) {
            Ok(()) => {
                self.watched.insert(path.to_path_buf());
            }
            Err(error) => tracing::debug!("cannot watch {}: {error}", path.display()),
        }
    }
}

/// Sends the notices one inotify event calls for.
fn announce(
    event: &notify::Event,
    source: &Path,
    git_dir: Option<&Path>,
    notifier: &ChangeNotifier,
    inner: &Weak<Inner>,
) {
    if matches!(event.kind, EventKind::Access(_)) {
        return;
    }
    let mut repository_moved = false;
    for path in &event.paths {
        if let Some(inside) = git_dir.and_then(|git_dir| path.strip_prefix(git_dir).ok()) {
            repository_moved |= moves_blame(inside);
            continue;
        }
        let Some(node) = node_path(source, path) else {
            continue;
        };
        let content_only = matches!(
            event.kind,
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Metadata(_))
        );
        match (content_only, node.parent()) {
            (false, Some(parent)) => notifier.changed(parent),
            _ => notifier.changed(node),
        }
    }
    if repository_moved {
        // HEAD moved (commit, checkout, reset): the times of every YAML file shown may move.
        let Some(inner) = inner.upgrade() else { return };
        for file in inner.sections.timed_files() {
            if let Some(node) = node_path(&inner.source, &file) {
                notifier.changed(node);
            }
        }
    }
}

/// Whether a change to this file of the git directory can change what blame answers.
fn moves_blame(inside_git_dir: &Path) -> bool {
    let mut components = inside_git_dir.components();
    match components.next() {
        Some(Component::Normal(first)) => {
            first == "HEAD" || first == "packed-refs" || first == "index" || first == "refs"
        }
        _ => false,
    }
}

/// The node path of a path under SOURCE; `None` outside it or inside a `.git`.
fn node_path(source: &Path, path: &Path) -> Option<NodePath> {
    let relative = path.strip_prefix(source).ok()?;
    let mut names = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) if name != HIDDEN_NAME => names.push(name.to_os_string()),
            _ => return None,
        }
    }
    Some(NodePath::from_names(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_head_refs_and_index_move_blame() {
        assert!(moves_blame(Path::new("HEAD")));
        assert!(moves_blame(Path::new("refs/heads/main")));
        assert!(moves_blame(Path::new("index")));
        assert!(moves_blame(Path::new("packed-refs")));
        assert!(!moves_blame(Path::new("index.lock")));
        assert!(!moves_blame(Path::new("objects/ab/cdef")));
    }

    #[test]
    fn paths_inside_git_directories_are_not_nodes() {
        let source = Path::new("/src");
        assert_eq!(
            node_path(source, Path::new("/src/a/b.yml")),
            Some(NodePath::parse("a/b.yml"))
        );
        assert_eq!(node_path(source, Path::new("/src/sub/.git/HEAD")), None);
        assert_eq!(node_path(source, Path::new("/elsewhere")), None);
        assert_eq!(node_path(source, Path::new("/src")), Some(NodePath::root()));
    }
}
