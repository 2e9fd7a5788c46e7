//! JSON (and JSON with comments) files as trees: objects as folders, arrays as `0, 1, …`,
//! scalars as files. Read with `jsonc-parser`, which gives every value its byte range.

use jsonc_parser::ast::{ObjectPropName, Value};
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions};

use super::arena::{bracket_depth, Arena, LineIndex};
use crate::yaml::{Limits, NodeId, YamlError, YamlFile};

/// Parses `text` as strict JSON, or as JSON with comments (and trailing commas) when
/// `comments` is set (`tsconfig.json`, `*.jsonc`).
pub fn parse(text: &str, comments: bool, limits: Limits) -> Result<YamlFile, YamlError> {
    if bracket_depth(text) > limits.max_depth {
        return Err(YamlError::TooDeep(limits.max_depth));
    }
    let options = ParseOptions {
        allow_comments: comments,
        allow_loose_object_property_names: false,
        allow_trailing_commas: comments,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let collect = CollectOptions {
        comments: CommentCollectionStrategy::Off,
        tokens: false,
    };
    let lines = LineIndex::new(text);
    let parsed = jsonc_parser::parse_to_ast(text, &collect, &options).map_err(|error| {
        YamlError::Syntax {
            line: lines.line(error.range().start),
            message: error.kind().to_string(),
        }
    })?;
    let Some(value) = parsed.value else {
        // Nothing but whitespace (and comments): no document, a plain file.
        return Err(YamlError::Syntax {
            line: 1,
            message: "no value".into(),
        });
    };
    let mut reader = Reader {
        arena: Arena::new(limits),
        lines,
    };
    let root = reader.value(&value, 0)?;
    Ok(reader.arena.finish(root))
}

struct Reader {
    arena: Arena,
    lines: LineIndex,
}

impl Reader {
    fn value(&mut self, value: &Value<'_>, depth: usize) -> Result<NodeId, YamlError> {
        self.arena.enter(depth)?;
        match value {
            Value::StringLit(string) => {
                let lines = self.lines.range(string.range.start, string.range.end);
                self.arena.scalar(string.value.to_string(), lines, false)
            }
            Value::NumberLit(number) => {
                let lines = self.lines.range(number.range.start, number.range.end);
                self.arena.scalar(number.value.to_string(), lines, true)
            }
            Value::BooleanLit(boolean) => {
                let lines = self.lines.range(boolean.range.start, boolean.range.end);
                self.arena.scalar(boolean.value.to_string(), lines, true)
            }
            Value::NullKeyword(null) => {
                let lines = self.lines.range(null.range.start, null.range.end);
                self.arena.scalar("null".into(), lines, true)
            }
            Value::Array(array) => {
                let mut items = Vec::with_capacity(array.elements.len());
                for element in &array.elements {
                    items.push(self.value(element, depth + 1)?);
                }
                self.arena
                    .sequence(self.lines.line(array.range.start), items)
            }
            Value::Object(object) => {
                let mut pairs = Vec::with_capacity(object.properties.len());
                for property in &object.properties {
                    let (text, range) = match &property.name {
                        ObjectPropName::String(name) => (name.value.to_string(), name.range),
                        ObjectPropName::Word(word) => (word.value.to_string(), word.range),
                    };
                    let key_lines = self.lines.range(range.start, range.end);
                    let key = self.arena.scalar(text, key_lines, false)?;
                    let value = self.value(&property.value, depth + 1)?;
                    pairs.push((key, value));
                }
                self.arena
                    .mapping(self.lines.line(object.range.start), pairs)
            }
        }
    }
}
