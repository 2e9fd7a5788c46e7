//! How a parsed YAML file is shown: which entries a folder has, their names and their lines.

use std::collections::HashSet;

use super::parse::{union, LineRange, NodeId, YamlFile, YamlNodeKind};
use crate::escape::{escape, with_occurrence};

/// The merge key of YAML 1.1, as Docker Compose files use it.
const MERGE_KEY: &str = "<<";
/// How many merges inside merged mappings are followed before `<<` is shown as a plain key.
const MAX_MERGE_DEPTH: usize = 32;
/// Longest text a non-scalar key is rendered to.
const MAX_KEY_TEXT: usize = 1024;

/// One entry of a folder made from YAML.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The file name: the escaped key (or index), with an occurrence suffix for duplicates.
    pub name: Vec<u8>,
    pub key: Option<NodeId>,
    /// The value as written (an alias is not resolved here, so its times can be followed).
    pub value: NodeId,
    /// The lines of the section: from the key's line to the value's last line.
    pub section: LineRange,
}

/// What a YAML file's folder holds; `None` when the file is shown as a plain file (no
/// document, or a single document whose root is a scalar).
pub fn top_entries(file: &YamlFile) -> Option<Vec<Entry>> {
    match file.documents.as_slice() {
        [] => None,
        [root] => children(file, *root),
        roots => Some(
            roots
                .iter()
                .enumerate()
                .map(|(index, &root)| Entry {
                    name: index.to_string().into_bytes(),
                    key: None,
                    value: root,
                    section: own_range(file, root),
                })
                .collect(),
        ),
    }
}

/// The entries of the folder for node `id`; `None` when it resolves to a scalar (a file).
pub fn children(file: &YamlFile, id: NodeId) -> Option<Vec<Entry>> {
    let resolved = file.resolve(id);
    match &file.nodes[resolved].kind {
        YamlNodeKind::Scalar(_) | YamlNodeKind::Alias(_) => None,
        YamlNodeKind::Sequence(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(index, &item)| Entry {
                    name: index.to_string().into_bytes(),
                    key: None,
                    value: item,
                    section: own_range(file, item),
                })
                .collect(),
        ),
        YamlNodeKind::Mapping(_) => {
            let keyed = mapping_entries(file, resolved, 0);
            Some(name_entries(keyed))
        }
    }
}

/// The text of a scalar node (after following aliases); `None` for a collection.
pub fn scalar_text(file: &YamlFile, id: NodeId) -> Option<&str> {
    match &file.nodes[file.resolve(id)].kind {
        YamlNodeKind::Scalar(text) => Some(text),
        _ => None,
    }
}

struct KeyedEntry {
    key_text: Vec<u8>,
    key: NodeId,
    value: NodeId,
    section: LineRange,
}

/// A mapping's pairs with merge keys applied: explicit keys first in source order, then merged
/// keys that no explicit key overrides (earlier merge sources win, as YAML 1.1 says).
fn mapping_entries(file: &YamlFile, mapping: NodeId, depth: usize) -> Vec<KeyedEntry> {
    let YamlNodeKind::Mapping(pairs) = &file.nodes[mapping].kind else {
        return Vec::new();
    };
    let mut explicit = Vec::new();
    let mut merge_sources = Vec::new();
    for &(key, value) in pairs {
        let key_text = key_text(file, key);
        if file.merge_keys && key_text == MERGE_KEY.as_bytes() && depth < MAX_MERGE_DEPTH {
            if let Some(sources) = merge_sources_of(file, value) {
                merge_sources.extend(sources);
                continue;
            }
        }
        let section = union(file.nodes[key].lines, file.nodes[value].lines)
            .unwrap_or(LineRange::line(file.nodes[key].position_line));
        explicit.push(KeyedEntry {
            key_text,
            key,
            value,
            section,
        });
    }
    let mut present: HashSet<Vec<u8>> = explicit.iter().map(|e| e.key_text.clone()).collect();
    for source in merge_sources {
        for merged in mapping_entries(file, source, depth + 1) {
            if present.insert(merged.key_text.clone()) {
                explicit.push(merged);
            }
        }
    }
    explicit
}

/// The mappings a merge key's value pulls in, or `None` when it is not a valid merge.
fn merge_sources_of(file: &YamlFile, value: NodeId) -> Option<Vec<NodeId>> {
    let resolved = file.resolve(value);
    match &file.nodes[resolved].kind {
        YamlNodeKind::Mapping(_) => Some(vec![resolved]),
        YamlNodeKind::Sequence(items) => items
            .iter()
            .map(|&item| {
                let target = file.resolve(item);
                matches!(file.nodes[target].kind, YamlNodeKind::Mapping(_)).then_some(target)
            })
            .collect(),
        _ => None,
    }
}

fn name_entries(keyed: Vec<KeyedEntry>) -> Vec<Entry> {
    let mut seen: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
    keyed
        .into_iter()
        .map(|entry| {
            let escaped = escape(&entry.key_text);
            let occurrence = seen.entry(escaped.clone()).or_insert(0);
            *occurrence += 1;
            Entry {
                name: with_occurrence(&escaped, *occurrence),
                key: Some(entry.key),
                value: entry.value,
                section: entry.section,
            }
        })
        .collect()
}

fn own_range(file: &YamlFile, id: NodeId) -> LineRange {
    let node = &file.nodes[id];
    node.lines.unwrap_or(LineRange::line(node.position_line))
}

/// The text a key is named by: a scalar's own text; a collection's flow form (`[a, b]`,
/// `{x: 1}`), since a file name cannot hold the structure itself.
pub fn key_text(file: &YamlFile, key: NodeId) -> Vec<u8> {
    let mut text = String::new();
    render_flow(file, key, &mut text);
    text.into_bytes()
}

fn render_flow(file: &YamlFile, id: NodeId, out: &mut String) {
    if out.len() > MAX_KEY_TEXT {
        return;
    }
    match &file.nodes[file.resolve(id)].kind {
        YamlNodeKind::Scalar(text) => out.push_str(text),
        YamlNodeKind::Sequence(items) => {
            out.push('[');
            for (index, &item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                render_flow(file, item, out);
            }
            out.push(']');
        }
        YamlNodeKind::Mapping(pairs) => {
            out.push('{');
            for (index, &(key, value)) in pairs.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                render_flow(file, key, out);
                out.push_str(": ");
                render_flow(file, value, out);
            }
            out.push('}');
        }
        YamlNodeKind::Alias(_) => {}
    }
    if out.len() > MAX_KEY_TEXT {
        let mut cut = MAX_KEY_TEXT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::{parse, Limits};

    fn names(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    fn file(text: &str) -> YamlFile {
        parse(text.as_bytes(), Limits::default()).unwrap()
    }

    #[test]
    fn keys_are_escaped_and_duplicates_numbered() {
        let yaml = file("a/b: 1\n'.': 2\n'': 3\nx: 4\nx: 5\n? [1, 2]\n: 6\n7: 8\n");
        let entries = top_entries(&yaml).unwrap();
        assert_eq!(
            names(&entries),
            ["a%2Fb", "%2E", "%", "x", "x%~2", "[1, 2]", "7"]
        );
        assert_eq!(scalar_text(&yaml, entries[4].value), Some("5"));
    }

    #[test]
    fn merge_keys_pull_in_unoverridden_keys_with_their_own_lines() {
        let yaml = file(
            "x-defaults: &defaults\n  restart: always\n  image: base\nservices:\n  web:\n    <<: *defaults\n    image: web\n",
        );
        let services = top_entries(&yaml).unwrap()[1].clone();
        let web = children(&yaml, services.value).unwrap()[0].clone();
        assert_eq!(web.section, LineRange { first: 5, last: 7 });
        let web_entries = children(&yaml, web.value).unwrap();
        assert_eq!(names(&web_entries), ["image", "restart"]);
        assert_eq!(scalar_text(&yaml, web_entries[0].value), Some("web"));
        assert_eq!(web_entries[1].section, LineRange { first: 2, last: 2 });
    }

    #[test]
    fn documents_sequences_and_scalar_roots() {
        let multi = file("a: 1\n---\n- x\n- y\n--- plain\n");
        assert_eq!(names(&top_entries(&multi).unwrap()), ["0", "1", "2"]);
        let list = file("- x\n- y\n");
        assert_eq!(names(&top_entries(&list).unwrap()), ["0", "1"]);
        assert_eq!(top_entries(&file("just text\n")), None);
        assert_eq!(top_entries(&file("")), None);
        assert_eq!(top_entries(&file("# only a comment\n")), None);
    }
}
