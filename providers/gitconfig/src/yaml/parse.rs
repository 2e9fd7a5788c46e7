//! YAML text to a small arena of nodes that remember their source lines.
//!
//! Built from saphyr's event stream (saphyr-parser 0.3, the parser under `saphyr`'s
//! `MarkedYaml`) rather than its loaded document, for two reasons: aliases stay aliases (so an
//! alias bomb costs nothing until it is expanded, and the expansion can be counted), and every
//! event carries its span.
//!
//! Line ranges come only from the spans of scalars and of collection *starts*: the end marker of
//! a block collection sits on the next token's line, and an empty scalar's zero-width span sits
//! wherever the next token is, so neither is trusted (see `docs/gitconfig.md`).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Index of a node in [`YamlFile::nodes`]. Nodes are numbered in the order they complete, so
/// children (and alias targets, which are always complete when used) come before their parents.
pub type NodeId = usize;

/// First and last line (1-based, inclusive) of a piece of source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRange {
    pub first: usize,
    pub last: usize,
}

impl LineRange {
    pub fn line(line: usize) -> Self {
        LineRange {
            first: line,
            last: line,
        }
    }

    pub fn union(self, other: Option<LineRange>) -> LineRange {
        match other {
            Some(other) => LineRange {
                first: self.first.min(other.first),
                last: self.last.max(other.last),
            },
            None => self,
        }
    }
}

/// Joins two optional ranges.
pub fn union(a: Option<LineRange>, b: Option<LineRange>) -> Option<LineRange> {
    match (a, b) {
        (Some(a), b) => Some(a.union(b)),
        (None, b) => b,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum YamlNodeKind {
    Scalar(String),
    /// Key and value of each pair, in source order (duplicates kept).
    Mapping(Vec<(NodeId, NodeId)>),
    Sequence(Vec<NodeId>),
    /// An alias to the (complete) anchored node.
    Alias(NodeId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct YamlNode {
    pub kind: YamlNodeKind,
    /// The lines the node itself occupies; `None` for an empty scalar (it has no text).
    pub lines: Option<LineRange>,
    /// Where the node was met, even when it has no text of its own.
    pub position_line: usize,
    /// A scalar written plain and without a tag (`80`, `true`, `~`, `nginx`): its value is
    /// resolved by the YAML core schema. Quoted, block and tagged scalars are strings as written.
    pub plain: bool,
}

/// A parsed YAML file: its documents' roots and every node.
#[derive(Debug)]
pub struct YamlFile {
    pub nodes: Vec<YamlNode>,
    pub documents: Vec<NodeId>,
    /// Whether `<<` keys merge mappings (YAML's merge key); in other formats `<<` is a key.
    pub merge_keys: bool,
}

/// Limits that keep one hostile file from costing more than a bounded amount of work.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Nesting depth of collections.
    pub max_depth: usize,
    /// Nodes in the source.
    pub max_nodes: usize,
    /// Nodes once every alias is expanded (what a full walk of the mount would visit).
    pub max_expanded: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_nodes: 200_000,
            max_expanded: 1_000_000,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum YamlError {
    #[error("not valid UTF-8")]
    NotUtf8,
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("more than {0} nodes")]
    TooManyNodes(usize),
    #[error("more than {0} nodes once its aliases are expanded")]
    TooLargeExpanded(u64),
    #[error("an alias refers to a node that contains it")]
    RecursiveAlias,
}

enum Frame {
    Mapping {
        pairs: Vec<(NodeId, NodeId)>,
        pending_key: Option<NodeId>,
        anchor: usize,
        start: Span,
    },
    Sequence {
        items: Vec<NodeId>,
        anchor: usize,
        start: Span,
    },
}

struct Builder<'text> {
    text: &'text str,
    limits: Limits,
    nodes: Vec<YamlNode>,
    documents: Vec<NodeId>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, NodeId>,
}

/// Parses `bytes` into a [`YamlFile`].
pub fn parse(bytes: &[u8], limits: Limits) -> Result<YamlFile, YamlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| YamlError::NotUtf8)?;
    let mut builder = Builder {
        text,
        limits,
        nodes: Vec::new(),
        documents: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| YamlError::Syntax {
            line: error.marker().line(),
            message: error.info().to_string(),
        })?;
        builder.accept(event, span)?;
    }
    let file = YamlFile {
        nodes: builder.nodes,
        documents: builder.documents,
        merge_keys: true,
    };
    let expanded = file.expanded_size();
    if expanded > limits.max_expanded {
        return Err(YamlError::TooLargeExpanded(limits.max_expanded));
    }
    Ok(file)
}

impl Builder<'_> {
    fn accept(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let lines = self.scalar_lines(span);
                let id = self.add(YamlNode {
                    kind: YamlNodeKind::Scalar(value.into_owned()),
                    lines,
                    position_line: span.start.line(),
                    plain: style == ScalarStyle::Plain && tag.is_none(),
                })?;
                self.remember_anchor(anchor, id);
                self.complete(id);
            }
            Event::Alias(anchor) => {
                let target = *self.anchors.get(&anchor).ok_or(YamlError::RecursiveAlias)?;
                let id = self.add(YamlNode {
                    kind: YamlNodeKind::Alias(target),
                    lines: Some(LineRange::line(span.start.line())),
                    position_line: span.start.line(),
                    plain: false,
                })?;
                self.complete(id);
            }
            Event::MappingStart(anchor, _tag) => self.open(Frame::Mapping {
                pairs: Vec::new(),
                pending_key: None,
                anchor,
                start: span,
            })?,
            Event::SequenceStart(anchor, _tag) => self.open(Frame::Sequence {
                items: Vec::new(),
                anchor,
                start: span,
            })?,
            Event::MappingEnd | Event::SequenceEnd => self.close()?,
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError::TooDeep(self.limits.max_depth));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (kind, anchor, start, children): (_, _, _, Vec<NodeId>) = match frame {
            Frame::Mapping {
                pairs,
                anchor,
                start,
                pending_key,
            } => {
                let mut children: Vec<NodeId> = pairs.iter().flat_map(|&(k, v)| [k, v]).collect();
                children.extend(pending_key);
                (YamlNodeKind::Mapping(pairs), anchor, start, children)
            }
            Frame::Sequence {
                items,
                anchor,
                start,
            } => (YamlNodeKind::Sequence(items.clone()), anchor, start, items),
        };
        let own = LineRange::line(start.start.line());
        let lines = children
            .iter()
            .fold(own, |range, &child| range.union(self.nodes[child].lines));
        let id = self.add(YamlNode {
            kind,
            lines: Some(lines),
            position_line: start.start.line(),
            plain: false,
        })?;
        self.remember_anchor(anchor, id);
        self.complete(id);
        Ok(())
    }

    fn add(&mut self, node: YamlNode) -> Result<NodeId, YamlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(YamlError::TooManyNodes(self.limits.max_nodes));
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn remember_anchor(&mut self, anchor: usize, id: NodeId) {
        if anchor > 0 {
            self.anchors.insert(anchor, id);
        }
    }

    /// Hands a finished node to the collection (or document) it belongs to.
    fn complete(&mut self, id: NodeId) {
        match self.stack.last_mut() {
            Some(Frame::Mapping {
                pairs, pending_key, ..
            }) => match pending_key.take() {
                Some(key) => pairs.push((key, id)),
                None => *pending_key = Some(id),
            },
            Some(Frame::Sequence { items, .. }) => items.push(id),
            None => self.documents.push(id),
        }
    }

    /// The lines of a scalar: none when it is empty (its zero-width span is wherever the next
    /// token starts); otherwise from its start to its last character, without the line breaks
    /// and blank lines a block scalar's span runs on over.
    fn scalar_lines(&self, span: Span) -> Option<LineRange> {
        if span.end.index() <= span.start.index() {
            return None;
        }
        let first = span.start.line();
        let mut last = span.end.line();
        if span.end.col() == 0 && last > first {
            last -= 1;
        }
        while last > first && self.line_is_blank(last) {
            last -= 1;
        }
        Some(LineRange { first, last })
    }

    fn line_is_blank(&self, line: usize) -> bool {
        self.text
            .lines()
            .nth(line.saturating_sub(1))
            .is_none_or(|text| text.trim().is_empty())
    }
}

impl YamlFile {
    /// Nodes a full walk would visit, aliases expanded (saturating).
    pub fn expanded_size(&self) -> u64 {
        let mut sizes: Vec<u64> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let size = match &node.kind {
                YamlNodeKind::Scalar(_) => 1,
                YamlNodeKind::Alias(target) => sizes[*target],
                YamlNodeKind::Mapping(pairs) => pairs.iter().fold(1u64, |total, &(k, v)| {
                    total.saturating_add(sizes[k]).saturating_add(sizes[v])
                }),
                YamlNodeKind::Sequence(items) => items
                    .iter()
                    .fold(1u64, |total, &item| total.saturating_add(sizes[item])),
            };
            sizes.push(size);
        }
        self.documents
            .iter()
            .fold(0u64, |total, &root| total.saturating_add(sizes[root]))
    }

    /// Follows aliases to the node whose content is shown.
    pub fn resolve(&self, mut id: NodeId) -> NodeId {
        // Targets always have smaller ids, so this ends.
        while let YamlNodeKind::Alias(target) = self.nodes[id].kind {
            id = target;
        }
        id
    }

    /// Direct children, keys included, and an alias's target.
    pub fn dependencies(&self, id: NodeId) -> Vec<NodeId> {
        match &self.nodes[id].kind {
            YamlNodeKind::Scalar(_) => Vec::new(),
            YamlNodeKind::Alias(target) => vec![*target],
            YamlNodeKind::Mapping(pairs) => pairs.iter().flat_map(|&(k, v)| [k, v]).collect(),
            YamlNodeKind::Sequence(items) => items.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> YamlFile {
        parse(text.as_bytes(), Limits::default()).unwrap()
    }

    fn root_pairs(file: &YamlFile) -> Vec<(String, Option<LineRange>)> {
        let YamlNodeKind::Mapping(pairs) = &file.nodes[file.documents[0]].kind else {
            panic!("root is not a mapping");
        };
        pairs
            .iter()
            .map(|&(k, v)| {
                let YamlNodeKind::Scalar(key) = &file.nodes[k].kind else {
                    panic!("key is not a scalar")
                };
                (key.clone(), file.nodes[v].lines)
            })
            .collect()
    }

    fn range(first: usize, last: usize) -> Option<LineRange> {
        Some(LineRange { first, last })
    }

    #[test]
    fn block_collections_end_on_their_last_content_line() {
        let file = parsed("a:\n  x: 1\n  y: 2\nb:\n  - 1\n  - 2\n\nc: 3\n");
        assert_eq!(
            root_pairs(&file),
            vec![
                ("a".into(), range(2, 3)),
                ("b".into(), range(5, 6)),
                ("c".into(), range(8, 8)),
            ]
        );
    }

    #[test]
    fn empty_and_trailing_values_have_no_lines_of_their_own() {
        let file = parsed("a:\nb:\n  x:\nc:");
        let pairs = root_pairs(&file);
        assert_eq!(pairs[0], ("a".into(), None));
        assert_eq!(pairs[1], ("b".into(), range(3, 3)));
        assert_eq!(pairs[2], ("c".into(), None));
    }

    #[test]
    fn block_scalars_stop_at_their_last_text_line() {
        let file = parsed("a: |\n  one\n  two\n\n\nb: >-\n  three\n# comment\nc: 1\n");
        let pairs = root_pairs(&file);
        // A block scalar starts on its first text line; its key line is in its section.
        assert_eq!(pairs[0], ("a".into(), range(2, 3)));
        assert_eq!(pairs[1], ("b".into(), range(7, 7)));
        assert_eq!(pairs[2], ("c".into(), range(9, 9)));
    }

    #[test]
    fn aliases_point_at_completed_anchors() {
        let file = parsed("d: &d {x: 1}\ne: *d\n");
        let YamlNodeKind::Mapping(pairs) = &file.nodes[file.documents[0]].kind else {
            panic!()
        };
        let (_, alias) = pairs[1];
        assert_eq!(file.resolve(alias), pairs[0].1);
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let previous = format!("*a{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        assert!(matches!(
            parse(bomb.as_bytes(), Limits::default()),
            Err(YamlError::TooLargeExpanded(_))
        ));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(matches!(
            parse(deep.as_bytes(), Limits::default()),
            Err(YamlError::TooDeep(_))
        ));
        // Deeper still, saphyr's own recursion limit answers first: refused all the same.
        let deeper = "[".repeat(5000) + &"]".repeat(5000);
        assert!(parse(deeper.as_bytes(), Limits::default()).is_err());
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let error = parse(b"a: 1\nb: [\n", Limits::default()).unwrap_err();
        assert!(matches!(error, YamlError::Syntax { .. }), "{error:?}");
    }
}
