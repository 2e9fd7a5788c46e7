//! `vfs tree PROVIDER …`: the provider's whole tree, walked without FUSE.

use anyhow::Context as _;
use vfs_core::{ChangeNotifier, NodeKind, ProviderRegistration, WalkEntry};

use crate::time_text::rfc3339_utc;

/// `TIME KIND PATH`, with ` -> TARGET` after a symlink's path; KIND is dir, file or link.
fn line(entry: &WalkEntry) -> String {
    let time = rfc3339_utc(entry.node.mtime);
    let path = &entry.path;
    match &entry.node.kind {
        NodeKind::Directory { .. } => format!("{time} dir  {path}"),
        NodeKind::File { .. } => format!("{time} file {path}"),
        NodeKind::Symlink { target } => {
            format!("{time} link {path} -> {}", target.to_string_lossy())
        }
    }
}

pub fn run(registration: &ProviderRegistration, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let name = registration.name;
    let provider = super::build(registration, matches)?.provider;
    let entries = super::runtime()?.block_on(async {
        provider
            .start(ChangeNotifier::detached())
            .await
            .with_context(|| format!("{name}: cannot start"))?;
        let walked = vfs_core::walk(provider.as_ref()).await;
        provider.stop().await;
        walked.with_context(|| format!("{name}: cannot walk the tree"))
    })?;
    super::print_lines(entries.iter().map(line))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use vfs_core::{Node, NodePath};

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
}
