//! TOML files as trees: tables (`[a]`, `[a.b]`, dotted keys, inline tables) as folders, arrays
//! and arrays of tables (`[[x]]`) as `0, 1, …`, values as files. Read with `toml_edit`, which
//! keeps every key's and value's byte range.

use toml_edit::{Item, Table, Value};

use super::arena::{bracket_depth, Arena, LineIndex};
use crate::yaml::{Limits, LineRange, NodeId, YamlError, YamlFile};

pub fn parse(text: &str, limits: Limits) -> Result<YamlFile, YamlError> {
    if bracket_depth(text) > limits.max_depth {
        return Err(YamlError::TooDeep(limits.max_depth));
    }
    let lines = LineIndex::new(text);
    let document = toml_edit::Document::parse(text).map_err(|error| YamlError::Syntax {
        line: error.span().map_or(1, |span| lines.line(span.start)),
        message: error.message().to_string(),
    })?;
    let mut reader = Reader {
        arena: Arena::new(limits),
        lines,
    };
    let root = reader.table(document.as_table(), 1, 0)?;
    Ok(reader.arena.finish(root))
}

struct Reader {
    arena: Arena,
    lines: LineIndex,
}

impl Reader {
    fn lines_of(&self, span: Option<std::ops::Range<usize>>, fallback: usize) -> LineRange {
        match span {
            Some(span) => self.lines.range(span.start, span.end),
            None => LineRange::line(fallback),
        }
    }

    /// A table: its header's line (or, for an implicit one, `start`) to its last entry's.
    fn table(&mut self, table: &Table, start: usize, depth: usize) -> Result<NodeId, YamlError> {
        self.arena.enter(depth)?;
        let start = table
            .span()
            .map_or(start, |span| self.lines.line(span.start));
        let mut pairs = Vec::new();
        for (name, _) in table.iter() {
            let Some((key, item)) = table.get_key_value(name) else {
                continue;
            };
            let key_lines = self.lines_of(key.span(), start);
            let key_node = self.arena.scalar(name.to_string(), key_lines, false)?;
            let value = match item {
                Item::None => continue,
                Item::Value(value) => self.value(value, key_lines.first, depth + 1)?,
                Item::Table(inner) => self.table(inner, key_lines.first, depth + 1)?,
                Item::ArrayOfTables(tables) => {
                    let mut items = Vec::new();
                    for inner in tables.iter() {
                        items.push(self.table(inner, key_lines.first, depth + 1)?);
                    }
                    let first = tables
                        .span()
                        .map_or(key_lines.first, |span| self.lines.line(span.start));
                    self.arena.sequence(first, items)?
                }
            };
            pairs.push((key_node, value));
        }
        self.arena.mapping(start, pairs)
    }

    fn value(&mut self, value: &Value, start: usize, depth: usize) -> Result<NodeId, YamlError> {
        self.arena.enter(depth)?;
        let lines = self.lines_of(value.span(), start);
        match value {
            Value::String(text) => self.arena.scalar(text.value().clone(), lines, false),
            Value::Integer(number) => self.arena.scalar(number.value().to_string(), lines, true),
            Value::Float(number) => self.arena.scalar(float_text(*number.value()), lines, true),
            Value::Boolean(flag) => self.arena.scalar(flag.value().to_string(), lines, true),
            Value::Datetime(when) => self.arena.scalar(when.value().to_string(), lines, false),
            Value::Array(array) => {
                let mut items = Vec::with_capacity(array.len());
                for item in array.iter() {
                    items.push(self.value(item, lines.first, depth + 1)?);
                }
                self.arena.sequence(lines.first, items)
            }
            Value::InlineTable(table) => {
                let mut pairs = Vec::new();
                for (name, _) in table.iter() {
                    let Some((key, item)) = table.get_key_value(name) else {
                        continue;
                    };
                    let Item::Value(inner) = item else { continue };
                    let key_lines = self.lines_of(key.span(), lines.first);
                    let key_node = self.arena.scalar(name.to_string(), key_lines, false)?;
                    let value = self.value(inner, key_lines.first, depth + 1)?;
                    pairs.push((key_node, value));
                }
                self.arena.mapping(lines.first, pairs)
            }
        }
    }
}

/// A float as the YAML core schema spells it, so its meaning is a float's (`1.0`, `.inf`).
fn float_text(value: f64) -> String {
    if value.is_nan() {
        ".nan".into()
    } else if value.is_infinite() {
        if value > 0.0 { ".inf" } else { "-.inf" }.into()
    } else {
        format!("{value:?}")
    }
}
