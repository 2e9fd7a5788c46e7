//! INI files (`*.ini`, `*.cfg`) and `.env` files as trees, read line by line.
//!
//! INI: `[section]` headers are folders; `key = value` and `key: value` lines are files in the
//! section they follow (keys before the first header are at the top); a line indented under a
//! key continues its value (as Python's configparser reads it); lines starting with `#` or `;`
//! are comments. Values are text as written, trimmed. Anything else fails the parse, and the
//! file stays a plain file.
//!
//! `.env`: `KEY=value` lines, with an optional `export ` prefix; a value in single quotes is
//! taken as written, one in double quotes has `\n`, `\t`, `\"`, `\\` escapes and may run over
//! several lines; an unquoted value ends at ` #` (a comment) and is trimmed.

use super::arena::Arena;
use crate::yaml::{Limits, LineRange, NodeId, YamlError, YamlFile};

/// One key and its value, with the lines they take.
struct Pair {
    key: String,
    value: String,
    lines: LineRange,
}

/// A section: its header's name and line (`None` for the keys before the first header).
struct Section {
    header: Option<(String, usize)>,
    pairs: Vec<Pair>,
}

pub fn parse_ini(text: &str, limits: Limits) -> Result<YamlFile, YamlError> {
    let mut sections = vec![Section {
        header: None,
        pairs: Vec::new(),
    }];
    let mut continues = false;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continues = false;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let section = sections
            .last_mut()
            .ok_or_else(|| syntax(number, "no section"))?;
        if indented && continues {
            if let Some(pair) = section.pairs.last_mut() {
                pair.value.push('\n');
                pair.value.push_str(trimmed);
                pair.lines.last = number;
                continue;
            }
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            sections.push(Section {
                header: Some((name.trim().to_string(), number)),
                pairs: Vec::new(),
            });
            continues = false;
            continue;
        }
        let Some(split) = trimmed.find(['=', ':']) else {
            return Err(syntax(
                number,
                "neither a [section], a key = value, nor a comment",
            ));
        };
        let key = trimmed[..split].trim();
        if key.is_empty() {
            return Err(syntax(number, "a value without a key"));
        }
        section.pairs.push(Pair {
            key: key.to_string(),
            value: trimmed[split + 1..].trim().to_string(),
            lines: LineRange::line(number),
        });
        continues = true;
    }
    build(sections, limits)
}

pub fn parse_env(text: &str, limits: Limits) -> Result<YamlFile, YamlError> {
    let mut pairs = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let number = index + 1;
        let line = lines[index].trim_end_matches('\r').trim();
        index += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(syntax(number, "not a KEY=value line"));
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(syntax(number, "not a KEY=value line"));
        }
        let rest = rest.trim_start();
        let (value, last) = match rest.chars().next() {
            Some('\'') => match rest[1..].find('\'') {
                Some(end) => (rest[1..1 + end].to_string(), number),
                None => return Err(syntax(number, "an unclosed single quote")),
            },
            Some('"') => {
                // A double-quoted value may run over the next lines.
                let mut text = rest[1..].to_string();
                let mut last = number;
                loop {
                    if let Some(value) = double_quoted(&text) {
                        break (value, last);
                    }
                    let Some(next) = lines.get(index) else {
                        return Err(syntax(number, "an unclosed double quote"));
                    };
                    text.push('\n');
                    text.push_str(next.trim_end_matches('\r'));
                    index += 1;
                    last = index;
                }
            }
            _ => {
                let value = rest.split(" #").next().unwrap_or_default();
                (value.trim().to_string(), number)
            }
        };
        pairs.push(Pair {
            key: key.to_string(),
            value,
            lines: LineRange {
                first: number,
                last,
            },
        });
    }
    build(
        vec![Section {
            header: None,
            pairs,
        }],
        limits,
    )
}

/// The value of a double-quoted string whose opening quote was cut off, once its closing quote
/// is in `text`; `None` while it is not.
fn double_quoted(text: &str) -> Option<String> {
    let mut value = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next() {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some('r') => value.push('\r'),
                Some(other) => value.push(other),
                None => return None,
            },
            other => value.push(other),
        }
    }
    None
}

fn syntax(line: usize, message: &str) -> YamlError {
    YamlError::Syntax {
        line,
        message: message.into(),
    }
}

fn build(sections: Vec<Section>, limits: Limits) -> Result<YamlFile, YamlError> {
    let mut arena = Arena::new(limits);
    let mut top = Vec::new();
    for section in sections {
        let mut pairs = Vec::new();
        for pair in section.pairs {
            pairs.push(leaf(&mut arena, pair)?);
        }
        match section.header {
            None => top.extend(pairs),
            Some((name, line)) => {
                let key = arena.scalar(name, LineRange::line(line), false)?;
                let folder = arena.mapping(line, pairs)?;
                top.push((key, folder));
            }
        }
    }
    let root = arena.mapping(1, top)?;
    Ok(arena.finish(root))
}

fn leaf(arena: &mut Arena, pair: Pair) -> Result<(NodeId, NodeId), YamlError> {
    let key = arena.scalar(pair.key, LineRange::line(pair.lines.first), false)?;
    let value = arena.scalar(pair.value, pair.lines, false)?;
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{children, scalar_text, top_entries};

    fn flat(file: &YamlFile) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for entry in top_entries(file).unwrap_or_default() {
            let name = String::from_utf8(entry.name.clone()).unwrap();
            match scalar_text(file, entry.value) {
                Some(text) => out.push((name, text.to_string())),
                None => {
                    for inner in children(file, entry.value).unwrap_or_default() {
                        let text = scalar_text(file, inner.value).unwrap_or_default();
                        let inner_name = String::from_utf8(inner.name.clone()).unwrap();
                        out.push((format!("{name}/{inner_name}"), text.to_string()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn ini_sections_keys_comments_and_continuations() {
        let text = "top = 1\n; comment\n[server]\nhost = example.org\nport: 8080\n\n[paths]\nlist = a\n  b\n# done\n";
        let file = parse_ini(text, Limits::default()).unwrap();
        assert_eq!(
            flat(&file),
            [
                ("top".into(), "1".into()),
                ("server/host".into(), "example.org".into()),
                ("server/port".into(), "8080".into()),
                ("paths/list".into(), "a\nb".into()),
            ]
        );
        assert!(parse_ini("just words\n", Limits::default()).is_err());
        assert!(parse_ini("= no key\n", Limits::default()).is_err());
    }

    #[test]
    fn env_exports_quotes_and_comments() {
        let text = "# settings\nexport A=1\nB = 'two # not a comment'\nC=\"three\\n\\\"3\\\"\"\nD=four # a comment\nE=\"multi\nline\"\nF=\n";
        let file = parse_env(text, Limits::default()).unwrap();
        assert_eq!(
            flat(&file),
            [
                ("A".into(), "1".into()),
                ("B".into(), "two # not a comment".into()),
                ("C".into(), "three\n\"3\"".into()),
                ("D".into(), "four".into()),
                ("E".into(), "multi\nline".into()),
                ("F".into(), "".into()),
            ]
        );
        assert!(parse_env("not an assignment\n", Limits::default()).is_err());
        assert!(parse_env("A=\"open\n", Limits::default()).is_err());
    }
}
