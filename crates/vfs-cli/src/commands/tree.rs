//! `vfs tree PROVIDER …`: the provider's tree (or a subtree of it), walked without FUSE, as
//! text lines or as one JSON object per node (`--json`) for scripts.

use anyhow::Context as _;
use serde::Serialize;
use vfs_core::{ChangeNotifier, NodeKind, NodePath, ProviderRegistration, WalkEntry};

use crate::subtree;
use crate::time_text::rfc3339_utc;

/// What `vfs tree` was asked to print.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TreeOptions {
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Where to start (`--path`); the root by default.
    pub path: Option<String>,
    /// How far below the start (`--depth`); no limit by default.
    pub depth: Option<usize>,
}

/// `TIME KIND PATH`, with ` -> TARGET` after a symlink's path; KIND is dir, file or link.
fn line(entry: &WalkEntry) -> String {
    let time = rfc3339_utc(entry.node.mtime);
    let path = &entry.path;
    match &entry.node.kind {
        NodeKind::Directory => format!("{time} dir  {path}"),
        NodeKind::File { .. } => format!("{time} file {path}"),
        NodeKind::Symlink { target } => {
            format!("{time} link {path} -> {}", target.to_string_lossy())
        }
    }
}

/// One node for `--json`. `size` is a file's size in bytes, `null` for a folder, a link, or a
/// file whose size the provider learns only by reading it (the mount reports 0 until opened);
/// `target` only for a link.
#[derive(Serialize)]
struct JsonNode {
    path: String,
    kind: &'static str,
    time: String,
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

fn json_line(entry: &WalkEntry) -> anyhow::Result<String> {
    let (kind, size, target) = match &entry.node.kind {
        NodeKind::Directory => ("dir", None, None),
        NodeKind::File { size } => ("file", *size, None),
        NodeKind::Symlink { target } => ("link", None, Some(target.to_string_lossy().into_owned())),
    };
    let node = JsonNode {
        path: entry.path.to_string(),
        kind,
        time: rfc3339_utc(entry.node.mtime),
        size,
        target,
    };
    serde_json::to_string(&node).context("cannot write a node as JSON")
}

pub fn run(
    registration: &ProviderRegistration,
    matches: &clap::ArgMatches,
    options: &TreeOptions,
) -> anyhow::Result<()> {
    let name = registration.name;
    let provider = super::build(registration, matches)?.provider;
    let start = NodePath::parse(options.path.as_deref().unwrap_or("/"));
    let entries = super::runtime()?.block_on(async {
        provider
            .start(ChangeNotifier::detached())
            .await
            .with_context(|| format!("{name}: cannot start"))?;
        // What the source holds before the walk, announced and shown (DockerFS: the images'
        // times, inspected after start); a provider that cannot tell is walked as it is.
        if let Err(error) = provider.settle().await {
            tracing::debug!(%error, "{name}: not settled before the walk");
        }
        let walked = subtree::walk(provider.as_ref(), &start, options.depth).await;
        provider.stop().await;
        walked.with_context(|| format!("{name}: cannot walk the tree"))
    })?;
    if options.json {
        let lines = entries
            .iter()
            .map(json_line)
            .collect::<anyhow::Result<Vec<_>>>()?;
        super::print_lines(lines)
    } else {
        super::print_lines(entries.iter().map(line))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use vfs_core::Node;

    use super::*;

    fn entry(path: &str, node: Node) -> WalkEntry {
        WalkEntry {
            path: NodePath::parse(path),
            node,
        }
    }

    #[test]
    fn each_kind_has_its_line() {
        let time = UNIX_EPOCH + Duration::new(1_700_000_000, 123);
        assert_eq!(
            line(&entry("", Node::directory("", time))),
            "2023-11-14T22:13:20.000000123Z dir  /"
        );
        assert_eq!(
            line(&entry("a/b", Node::file("b", time, None))),
            "2023-11-14T22:13:20.000000123Z file /a/b"
        );
        assert_eq!(
            line(&entry("a/l", Node::symlink("l", time, "b"))),
            "2023-11-14T22:13:20.000000123Z link /a/l -> b"
        );
    }

    #[test]
    fn each_kind_has_its_json_object() {
        let time = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(
            json_line(&entry("", Node::directory("", time))).unwrap(),
            r#"{"path":"/","kind":"dir","time":"2023-11-14T22:13:20.000000005Z","size":null}"#
        );
        assert_eq!(
            json_line(&entry("a/b", Node::file("b", time, Some(7)))).unwrap(),
            r#"{"path":"/a/b","kind":"file","time":"2023-11-14T22:13:20.000000005Z","size":7}"#
        );
        assert_eq!(
            json_line(&entry("a/l", Node::symlink("l", time, "../x"))).unwrap(),
            r#"{"path":"/a/l","kind":"link","time":"2023-11-14T22:13:20.000000005Z","size":null,"target":"../x"}"#
        );
    }
}
