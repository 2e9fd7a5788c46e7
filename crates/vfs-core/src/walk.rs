use crate::{ChangeNotifier, Node, NodeKind, NodePath, Provider, ProviderError};

/// One node met by [`walk`], with its path from the root.
#[derive(Clone, Debug)]
pub struct WalkEntry {
    pub path: NodePath,
    pub node: Node,
}

/// Visits the whole tree of `provider` depth-first, root first, directories before their
/// children, in the provider's order: the tree exactly as the host would see it, without FUSE.
///
/// `walk` calls `root` and `list` only: it does **not** call [`Provider::start`] (nor `stop`),
/// so a test can start a provider with a notifier of its own, change its source, and walk it
/// again. A provider that needs `start` before it can answer (one that connects there) must be
/// started first; [`walk_started`] does start, walk and stop in one call, as `vfs tree` does.
///
/// A directory that vanished between being listed and being visited is skipped, as `find`
/// would; any other error stops the walk.
pub async fn walk(provider: &dyn Provider) -> Result<Vec<WalkEntry>, ProviderError> {
    let root = provider.root().await?;
    let mut entries = Vec::new();
    let mut pending = vec![WalkEntry {
        path: NodePath::root(),
        node: root,
    }];
    while let Some(entry) = pending.pop() {
        let children = match &entry.node.kind {
            NodeKind::Directory => match provider.list(&entry.path).await {
                Ok(children) => Some(children),
                Err(ProviderError::NotFound(_)) if !entry.path.is_root() => None,
                Err(error) => return Err(error),
            },
            NodeKind::File { .. } | NodeKind::Symlink { .. } => None,
        };
        let path = entry.path.clone();
        entries.push(entry);
        for child in children.into_iter().flatten().rev() {
            pending.push(WalkEntry {
                path: path.join(&child.name),
                node: child,
            });
        }
    }
    Ok(entries)
}

/// What `vfs tree` does: [`Provider::start`] with a notifier whose notices go nowhere,
/// [`Provider::settle`] (an error of it is ignored: the tree is walked as it is), [`walk`],
/// then [`Provider::stop`] (also when the walk fails). An error of `start` is returned as it
/// is, before anything is walked.
pub async fn walk_started(provider: &dyn Provider) -> Result<Vec<WalkEntry>, ProviderError> {
    provider.start(ChangeNotifier::detached()).await?;
    let _ = provider.settle().await;
    let walked = walk(provider).await;
    provider.stop().await;
    walked
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::Content;

    struct TwoLevels;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[crate::async_trait]
    impl Provider for TwoLevels {
        async fn root(&self) -> Result<Node, ProviderError> {
            Ok(Node::directory("", at(3)))
        }
        async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
            match dir.to_string().as_str() {
                "/" => Ok(vec![
                    Node::directory("lazy", at(2)),
                    Node::directory("second", at(1)),
                    Node::symlink("link", at(1), "lazy"),
                ]),
                "/lazy" => Ok(vec![Node::file("leaf", at(2), None)]),
                "/second" => Ok(vec![Node::file("inner", at(1), Some(3))]),
                _ => Err(ProviderError::NotFound(dir.clone())),
            }
        }
        async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
            Err(ProviderError::NotFound(path.clone()))
        }
    }

    #[tokio::test]
    async fn walks_directories_depth_first_in_the_providers_order() {
        let entries = walk(&TwoLevels).await.unwrap();
        let paths: Vec<String> = entries.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "/",
                "/lazy",
                "/lazy/leaf",
                "/second",
                "/second/inner",
                "/link"
            ]
        );
    }
}
