//! The fuzz target of the YAML-to-tree mapping and the name escaping, as property tests.
//!
//! - Generated documents (awkward keys, duplicates, nesting, every scalar) parse, and the tree
//!   they map to names every key reversibly: unescaping a name gives the key back.
//! - Arbitrary bytes and YAML-ish token soup never panic, and walking what parses stays within
//!   the limits (bounded memory).
//! - Alias bombs and deep nesting are refused by the limits, quickly.
//! - The committed corpus (`tests/corpus/*.yaml`) and regressions
//!   (`tests/proptest_mapping.proptest-regressions`) are replayed on every run.
//!
//! CI runs proptest's default 256 cases per property. The long campaign is
//! `PROPTEST_CASES=200000 cargo test --release -p vfs-gitconfig --test proptest_mapping`.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use vfs_gitconfig::escape::{escape, split_occurrence, unescape, with_occurrence};
use vfs_gitconfig::yaml::{children, parse, scalar_text, top_entries, Limits, YamlError, YamlFile};

/// A generated YAML value.
#[derive(Clone, Debug)]
enum Value {
    Scalar(String),
    Sequence(Vec<Value>),
    /// Pairs in order; keys may repeat.
    Mapping(Vec<(String, Value)>),
}

/// Keys chosen to hit every escape: `/`, `%`, NUL, `.`, `..`, empty, look-alikes of escapes.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("...".to_string()),
        Just("%".to_string()),
        Just("%2F".to_string()),
        Just("%~2".to_string()),
        Just("a/b".to_string()),
        Just("nul\0byte".to_string()),
        "[a-z]{1,6}",
        "[a-z%/.~0-9 ]{0,8}",
        "\\PC{0,6}",
    ]
    .prop_filter("the merge key has its own meaning", |key| key != "<<")
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 ]{0,12}",
        "\\PC{0,10}",
        Just("multi\nline".to_string()),
        Just(String::new()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = scalar().prop_map(Value::Scalar);
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Sequence),
            prop::collection::vec((key(), inner), 0..6).prop_map(Value::Mapping),
        ]
    })
}

fn document() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec((key(), value()), 1..8)
}

/// A YAML double-quoted string holding exactly `text`.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{85}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c == '\u{2028}' || c == '\u{2029}' || c == '\u{feff}' || c == '\u{a0}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn flow(value: &Value, out: &mut String) {
    match value {
        Value::Scalar(text) => out.push_str(&quoted(text)),
        Value::Sequence(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                flow(item, out);
            }
            out.push(']');
        }
        Value::Mapping(pairs) => {
            out.push('{');
            for (index, (key, item)) in pairs.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quoted(key));
                out.push_str(": ");
                flow(item, out);
            }
            out.push('}');
        }
    }
}

/// Block style at the top, each value in flow style: the shape of real config files.
fn render(document: &[(String, Value)]) -> String {
    let mut out = String::new();
    for (key, value) in document {
        out.push_str(&quoted(key));
        out.push_str(": ");
        flow(value, &mut out);
        out.push('\n');
    }
    out
}

/// Checks that the entries of node `id` are exactly `expected`, named reversibly.
fn check_mapping(file: &YamlFile, id: Option<usize>, expected: &[(String, Value)]) {
    let entries = match id {
        None => top_entries(file).expect("a mapping document is a folder"),
        Some(id) => children(file, id).expect("a mapping is a folder"),
    };
    assert_eq!(entries.len(), expected.len());
    let mut seen: Vec<&str> = Vec::new();
    for (entry, (key, value)) in entries.iter().zip(expected) {
        let occurrence = seen.iter().filter(|earlier| *earlier == key).count() + 1;
        seen.push(key);
        assert_eq!(
            entry.name,
            with_occurrence(&escape(key.as_bytes()), occurrence),
            "name of {key:?}"
        );
        assert!(!entry.name.is_empty() && !entry.name.contains(&b'/') && !entry.name.contains(&0));
        assert!(entry.name != b"." && entry.name != b"..");
        let (plain, found) = split_occurrence(&entry.name);
        assert_eq!(found, occurrence);
        assert_eq!(unescape(plain).as_deref(), Some(key.as_bytes()), "{key:?}");
        check_value(file, entry.value, value);
    }
}

fn check_value(file: &YamlFile, id: usize, expected: &Value) {
    match expected {
        Value::Scalar(text) => assert_eq!(scalar_text(file, id), Some(text.as_str())),
        Value::Sequence(items) => {
            let entries = children(file, id).expect("a sequence is a folder");
            assert_eq!(entries.len(), items.len());
            for (index, (entry, item)) in entries.iter().zip(items).enumerate() {
                assert_eq!(entry.name, index.to_string().into_bytes());
                check_value(file, entry.value, item);
            }
        }
        Value::Mapping(pairs) => check_mapping(file, Some(id), pairs),
    }
}

/// Visits every node the mount could show (aliases followed), reading each scalar; returns
/// how many were visited, stopping past `budget`.
fn walk(file: &YamlFile, budget: usize) -> usize {
    let Some(top) = top_entries(file) else {
        return 0;
    };
    let mut pending: Vec<usize> = top.iter().map(|entry| entry.value).collect();
    let mut visited = 0;
    while let Some(id) = pending.pop() {
        visited += 1;
        if visited > budget {
            break;
        }
        match children(file, id) {
            Some(entries) => {
                for entry in entries {
                    let name = &entry.name;
                    assert!(!name.is_empty() && !name.contains(&b'/') && !name.contains(&0));
                    pending.push(entry.value);
                }
            }
            None => {
                let _ = scalar_text(file, id);
            }
        }
    }
    visited
}

/// Any input: parsing never panics, and what parses is walkable within the limits.
fn parse_and_walk(bytes: &[u8]) {
    let limits = Limits::default();
    let started = Instant::now();
    if let Ok(file) = parse(bytes, limits) {
        let visited = walk(&file, 4 * limits.max_expanded as usize);
        assert!(
            visited as u64 <= limits.max_expanded + 1,
            "{visited} nodes visited, over the expansion limit"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "one input took {:?}",
        started.elapsed()
    );
}

/// YAML-ish tokens: anchors, aliases, merges, flow and block indicators, directives.
fn soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("- "),
        Just(": "),
        Just("&a "),
        Just("&b "),
        Just("*a"),
        Just("*b"),
        Just("<<: "),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just(", "),
        Just("\n"),
        Just("  "),
        Just("? "),
        Just("!!str "),
        Just("!tag "),
        Just("|\n"),
        Just(">-\n"),
        Just("'q'"),
        Just("\"d\\n\""),
        Just("# c\n"),
        Just("%YAML 1.2\n"),
        Just("---\n"),
        Just("...\n"),
        Just("k"),
        Just("v"),
        Just("1"),
        Just("\t"),
        Just("\u{feff}"),
        Just("\r\n"),
    ];
    prop::collection::vec(token, 0..80).prop_map(|tokens| tokens.concat())
}

proptest! {
    #[test]
    fn generated_documents_map_to_reversibly_named_trees(document in document()) {
        let text = render(&document);
        let file = parse(text.as_bytes(), Limits::default())
            .unwrap_or_else(|error| panic!("{error}:\n{text}"));
        check_mapping(&file, None, &document);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_and_walk(&bytes);
    }

    #[test]
    fn yaml_token_soup_never_panics(text in soup()) {
        parse_and_walk(text.as_bytes());
    }

    #[test]
    fn escaping_round_trips(key in prop::collection::vec(any::<u8>(), 0..64), occurrence in 1usize..1000) {
        let name = with_occurrence(&escape(&key), occurrence);
        prop_assert!(!name.is_empty() && !name.contains(&b'/') && !name.contains(&0));
        prop_assert!(name != b"." && name != b"..");
        let (plain, found) = split_occurrence(&name);
        prop_assert_eq!(found, occurrence);
        prop_assert_eq!(unescape(plain), Some(key));
    }

    #[test]
    fn alias_bombs_are_refused_quickly(width in 2usize..12, depth in 1u32..14) {
        let mut text = format!("l0: &l0 [{}]\n", vec!["x"; width].join(","));
        for level in 1..=depth {
            let items = vec![format!("*l{}", level - 1); width].join(",");
            text.push_str(&format!("l{level}: &l{level} [{items}]\n"));
        }
        let started = Instant::now();
        let result = parse(text.as_bytes(), Limits::default());
        prop_assert!(started.elapsed() < Duration::from_secs(2));
        let expanded = (0..=depth).map(|level| (width as f64).powi(level as i32 + 1)).sum::<f64>();
        if expanded > 2.0 * Limits::default().max_expanded as f64 {
            prop_assert!(matches!(result, Err(YamlError::TooLargeExpanded(_))), "{expanded}");
        }
        if let Ok(file) = result {
            let visited = walk(&file, usize::MAX);
            prop_assert!(visited as u64 <= Limits::default().max_expanded + 1);
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused(depth in 1usize..2000, flow_style in any::<bool>()) {
        let text = if flow_style {
            format!("k: {}{}\n", "[".repeat(depth), "]".repeat(depth))
        } else {
            format!("k:\n  {}x\n", "- ".repeat(depth))
        };
        let result = parse(text.as_bytes(), Limits::default());
        let limit = Limits::default().max_depth;
        if depth < limit {
            prop_assert!(result.is_ok(), "{depth}: {:?}", result.err());
        }
        if depth > limit {
            prop_assert!(result.is_err(), "{depth} levels accepted");
        }
    }
}

#[test]
fn the_committed_corpus_never_panics_and_stays_bounded() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut count = 0;
    for entry in std::fs::read_dir(&corpus).expect("tests/corpus") {
        let path = entry.expect("corpus entry").path();
        let bytes = std::fs::read(&path).expect("corpus file");
        parse_and_walk(&bytes);
        count += 1;
    }
    assert!(count >= 8, "only {count} corpus files");
}
