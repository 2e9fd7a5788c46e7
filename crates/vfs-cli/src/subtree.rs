//! Walking part of a provider's tree for `vfs tree --path SUBTREE --depth N`: the node at a
//! path, found by listing each folder on the way (as the kernel's lookups would), then the
//! nodes below it down to a depth, in `vfs_core::walk`'s order.

use thiserror::Error;
use vfs_core::{Node, NodePath, Provider, ProviderError, WalkEntry};

#[derive(Debug, Error)]
pub enum SubtreeError {
    #[error("{0}: no such path in the tree")]
    NotFound(NodePath),
    #[error("{0}: not a folder")]
    NotAFolder(NodePath),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// The children of `dir` (at `path`) from the provider; `None` when `dir` is not a folder.
async fn children(
    provider: &dyn Provider,
    path: &NodePath,
    dir: &Node,
) -> Result<Option<Vec<Node>>, ProviderError> {
    if !dir.is_directory() {
        return Ok(None);
    }
    provider.list(path).await.map(Some)
}

/// The node at `path`, looked up name by name from the root.
pub async fn find(provider: &dyn Provider, path: &NodePath) -> Result<Node, SubtreeError> {
    let mut node = provider.root().await?;
    let mut at = NodePath::root();
    for name in path.names() {
        let listed = match children(provider, &at, &node).await {
            Ok(Some(listed)) => listed,
            Ok(None) => return Err(SubtreeError::NotAFolder(at)),
            Err(ProviderError::NotFound(_)) => return Err(SubtreeError::NotFound(path.clone())),
            Err(error) => return Err(error.into()),
        };
        at = at.join(name);
        node = listed
            .into_iter()
            .find(|child| &child.name == name)
            .ok_or_else(|| SubtreeError::NotFound(path.clone()))?;
    }
    Ok(node)
}

/// `start` and the nodes below it, depth-first, folders before their children, in the
/// provider's order; `depth` limits how far below `start` (0: `start` alone). A folder that
/// vanished while walking is skipped, as `find` would.
pub async fn walk(
    provider: &dyn Provider,
    start: &NodePath,
    depth: Option<usize>,
) -> Result<Vec<WalkEntry>, SubtreeError> {
    let node = find(provider, start).await?;
    let mut entries = Vec::new();
    let mut pending = vec![(
        0usize,
        WalkEntry {
            path: start.clone(),
            node,
        },
    )];
    while let Some((level, entry)) = pending.pop() {
        let deeper = depth.is_none_or(|limit| level < limit);
        let listed = if deeper {
            match children(provider, &entry.path, &entry.node).await {
                Ok(listed) => listed,
                Err(ProviderError::NotFound(_)) if entry.path != *start => None,
                Err(error) => return Err(error.into()),
            }
        } else {
            None
        };
        let path = entry.path.clone();
        entries.push(entry);
        for child in listed.into_iter().flatten().rev() {
            pending.push((
                level + 1,
                WalkEntry {
                    path: path.join(&child.name),
                    node: child,
                },
            ));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use vfs_core::{async_trait, Content};

    use super::*;

    struct Three;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[async_trait]
    impl Provider for Three {
        async fn root(&self) -> Result<Node, ProviderError> {
            Ok(Node::directory("", at(1)))
        }
        async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
            match dir.to_string().as_str() {
                "/" => Ok(vec![
                    Node::directory("a", at(2)),
                    Node::file("f", at(3), Some(1)),
                ]),
                "/a" => Ok(vec![Node::directory("b", at(4))]),
                "/a/b" => Ok(vec![Node::file("c", at(5), None)]),
                _ => Err(ProviderError::NotFound(dir.clone())),
            }
        }
        async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
            Err(ProviderError::NotFound(path.clone()))
        }
    }

    fn paths(entries: &[WalkEntry]) -> Vec<String> {
        entries.iter().map(|entry| entry.path.to_string()).collect()
    }

    #[tokio::test]
    async fn a_subtree_is_walked_to_its_depth() {
        let all = walk(&Three, &NodePath::root(), None).await.unwrap();
        assert_eq!(paths(&all), ["/", "/a", "/a/b", "/a/b/c", "/f"]);
        let one = walk(&Three, &NodePath::root(), Some(1)).await.unwrap();
        assert_eq!(paths(&one), ["/", "/a", "/f"]);
        let below = walk(&Three, &NodePath::parse("a"), Some(1)).await.unwrap();
        assert_eq!(paths(&below), ["/a", "/a/b"]);
        let alone = walk(&Three, &NodePath::parse("/a/b/c"), None)
            .await
            .unwrap();
        assert_eq!(paths(&alone), ["/a/b/c"]);
    }

    #[tokio::test]
    async fn a_missing_path_or_a_file_on_the_way_is_named() {
        let missing = walk(&Three, &NodePath::parse("a/x"), None).await;
        assert_eq!(
            missing.unwrap_err().to_string(),
            "/a/x: no such path in the tree"
        );
        let through_file = walk(&Three, &NodePath::parse("f/x"), None).await;
        assert_eq!(through_file.unwrap_err().to_string(), "/f: not a folder");
    }
}
