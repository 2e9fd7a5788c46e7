use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// The path of a node inside a provider's tree, as a list of names from the root.
///
/// Names are arbitrary bytes except `/` and NUL; the root is the empty path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodePath(Vec<OsString>);

impl NodePath {
    /// The root of the tree.
    pub fn root() -> Self {
        NodePath(Vec::new())
    }

    /// Builds a path from `/`-separated text; empty components are dropped.
    pub fn parse(text: &str) -> Self {
        NodePath(
            text.split('/')
                .filter(|part| !part.is_empty())
                .map(OsString::from)
                .collect(),
        )
    }

    pub fn from_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        NodePath(names.into_iter().map(Into::into).collect())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// This path with one more name at the end.
    pub fn join(&self, name: impl AsRef<OsStr>) -> Self {
        let mut names = self.0.clone();
        names.push(name.as_ref().to_os_string());
        NodePath(names)
    }

    /// The path of the directory holding this node; `None` for the root.
    pub fn parent(&self) -> Option<NodePath> {
        let (_, rest) = self.0.split_last()?;
        Some(NodePath(rest.to_vec()))
    }

    /// The last name; `None` for the root.
    pub fn name(&self) -> Option<&OsStr> {
        self.0.last().map(OsString::as_os_str)
    }

    pub fn names(&self) -> &[OsString] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &NodePath) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for name in &self.0 {
            write!(f, "/{}", String::from_utf8_lossy(name.as_bytes()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_join_parent_round_trip() {
        let path = NodePath::parse("/images/ghcr.io/team//app");
        assert_eq!(path.len(), 4);
        assert_eq!(path.to_string(), "/images/ghcr.io/team/app");
        assert_eq!(path.parent(), Some(NodePath::parse("images/ghcr.io/team")));
        assert_eq!(path.name(), Some(OsStr::new("app")));
        assert_eq!(
            NodePath::parse("images").join("x"),
            NodePath::parse("images/x")
        );
        assert_eq!(NodePath::root().parent(), None);
        assert_eq!(NodePath::root().to_string(), "/");
    }

    #[test]
    fn starts_with_is_component_wise() {
        let images = NodePath::parse("images");
        assert!(NodePath::parse("images/a").starts_with(&images));
        assert!(images.starts_with(&images));
        assert!(!NodePath::parse("imagesx/a").starts_with(&images));
        assert!(images.starts_with(&NodePath::root()));
    }
}
