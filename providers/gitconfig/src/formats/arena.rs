//! Building a [`YamlFile`] (the node arena every format is read into) from another format's
//! values and their byte ranges, so that folders, names, times and meaning work the same for
//! every format.

use crate::yaml::parse::{YamlNode, YamlNodeKind};
use crate::yaml::{Limits, LineRange, NodeId, YamlError, YamlFile};

/// Where each line starts, to turn byte offsets into 1-based line numbers.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, byte)| byte == b'\n')
                .map(|(index, _)| index + 1),
        );
        LineIndex { starts }
    }

    /// The line (1-based) holding byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(index) => index + 1,
            Err(index) => index,
        }
    }

    /// The lines of bytes `start..end` (the last byte is `end - 1`).
    pub fn range(&self, start: usize, end: usize) -> LineRange {
        let first = self.line(start);
        let last = self.line(end.saturating_sub(1).max(start)).max(first);
        LineRange { first, last }
    }
}

/// A file's nodes in the making: children are added before their parent, as the YAML parser
/// numbers them, and the work limits are enforced as nodes come.
pub struct Arena {
    nodes: Vec<YamlNode>,
    limits: Limits,
    /// Merge keys (`<<`) are YAML's alone: another format's `<<` key is an ordinary key.
    merge_keys: bool,
}

impl Arena {
    pub fn new(limits: Limits) -> Arena {
        Arena {
            nodes: Vec::new(),
            limits,
            merge_keys: false,
        }
    }

    fn add(&mut self, node: YamlNode) -> Result<NodeId, YamlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(YamlError::TooManyNodes(self.limits.max_nodes));
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    /// A scalar on `lines`: `typed` when its text is a number, boolean or null to be read as the
    /// YAML core schema reads a plain scalar; a string otherwise.
    pub fn scalar(
        &mut self,
        text: String,
        lines: LineRange,
        typed: bool,
    ) -> Result<NodeId, YamlError> {
        self.add(YamlNode {
            kind: YamlNodeKind::Scalar(text),
            lines: Some(lines),
            position_line: lines.first,
            plain: typed,
        })
    }

    /// A mapping that starts on line `start` with these (key, value) pairs, in source order.
    pub fn mapping(
        &mut self,
        start: usize,
        pairs: Vec<(NodeId, NodeId)>,
    ) -> Result<NodeId, YamlError> {
        let children: Vec<NodeId> = pairs
            .iter()
            .flat_map(|&(key, value)| [key, value])
            .collect();
        let lines = self.span(start, &children);
        self.add(YamlNode {
            kind: YamlNodeKind::Mapping(pairs),
            lines: Some(lines),
            position_line: start,
            plain: false,
        })
    }

    /// A sequence that starts on line `start`.
    pub fn sequence(&mut self, start: usize, items: Vec<NodeId>) -> Result<NodeId, YamlError> {
        let lines = self.span(start, &items);
        self.add(YamlNode {
            kind: YamlNodeKind::Sequence(items.clone()),
            lines: Some(lines),
            position_line: start,
            plain: false,
        })
    }

    /// From line `start` to the last line of any of `children`.
    fn span(&self, start: usize, children: &[NodeId]) -> LineRange {
        children
            .iter()
            .fold(LineRange::line(start), |range, &child| {
                range.union(self.nodes[child].lines)
            })
    }

    /// Checks a nesting depth against the limit.
    pub fn enter(&self, depth: usize) -> Result<(), YamlError> {
        match depth > self.limits.max_depth {
            true => Err(YamlError::TooDeep(self.limits.max_depth)),
            false => Ok(()),
        }
    }

    /// The file, with `root` its one document.
    pub fn finish(self, root: NodeId) -> YamlFile {
        YamlFile {
            nodes: self.nodes,
            documents: vec![root],
            merge_keys: self.merge_keys,
        }
    }
}

/// The deepest nesting of `{`/`[` outside strings: checked before a recursive parser runs, so
/// that a hostile file is refused in linear time instead of overflowing the stack.
pub fn bracket_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for byte in text.bytes() {
        match quote {
            Some(open) => {
                if escaped {
                    escaped = false;
                } else if byte == b'\\' && open == b'"' {
                    escaped = true;
                } else if byte == open || byte == b'\n' {
                    quote = None;
                }
            }
            None => match byte {
                b'"' | b'\'' => quote = Some(byte),
                b'{' | b'[' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines() {
        let index = LineIndex::new("a\nbc\n\nd");
        assert_eq!(index.line(0), 1);
        assert_eq!(index.line(2), 2);
        assert_eq!(index.line(3), 2);
        assert_eq!(index.line(5), 3);
        assert_eq!(index.line(6), 4);
        assert_eq!(index.range(2, 7), LineRange { first: 2, last: 4 });
        assert_eq!(
            index.range(2, 5),
            LineRange { first: 2, last: 2 },
            "a range ending at a newline"
        );
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(bracket_depth("{\"a\": [1, {\"b\": \"[[[\"}]}"), 3);
        assert_eq!(bracket_depth("x = '{{{'\ny = [[1]]"), 2);
    }
}
