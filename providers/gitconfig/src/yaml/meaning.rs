//! A section's meaning: its value as YAML data, fingerprinted.
//!
//! Two texts mean the same when they load to the same data, after anchors, aliases and merge
//! keys are applied: comments, blank lines, indentation, quoting of strings, flow or block style
//! and the order of a mapping's keys are not meaning; a sequence's order, every value and its
//! type are. Plain scalars are resolved as the YAML 1.2 core schema says (`80` is an integer,
//! `"80"` a string, `0x50` the integer 80, `~` and `null` the same null), so a change of type is
//! a change of meaning.
//!
//! The fingerprints are kept across mounts (the served-sections store), so they are computed
//! with a hash whose output never changes with the toolchain (FNV-1a over explicit bytes).

use std::hash::Hasher;

use fnv::FnvHasher;

use super::parse::{YamlFile, YamlNodeKind};
use super::view::{children, top_entries, Entry};

/// The meaning fingerprint of every node of a file (an alias has its target's).
#[derive(Debug)]
pub struct MeaningPrints(Vec<u64>);

/// Tags that keep the kinds of value apart in a fingerprint.
#[derive(Clone, Copy)]
enum Kind {
    Null = 1,
    Bool = 2,
    Int = 3,
    Float = 4,
    Str = 5,
    Sequence = 6,
    Mapping = 7,
    Document = 8,
}

fn print(kind: Kind, parts: impl FnOnce(&mut FnvHasher)) -> u64 {
    let mut hasher = FnvHasher::default();
    hasher.write(&[kind as u8]);
    parts(&mut hasher);
    hasher.finish()
}

fn write_bytes(hasher: &mut FnvHasher, bytes: &[u8]) {
    hasher.write(&(bytes.len() as u64).to_le_bytes());
    hasher.write(bytes);
}

impl MeaningPrints {
    pub fn new(file: &YamlFile) -> MeaningPrints {
        let mut prints: Vec<u64> = Vec::with_capacity(file.nodes.len());
        // Children and alias targets have smaller ids, so one pass in id order suffices.
        for (id, node) in file.nodes.iter().enumerate() {
            let value = match &node.kind {
                YamlNodeKind::Scalar(text) => scalar_print(text, node.plain),
                YamlNodeKind::Alias(target) => prints[*target],
                YamlNodeKind::Sequence(items) => print(Kind::Sequence, |hasher| {
                    for &item in items {
                        hasher.write(&prints[item].to_le_bytes());
                    }
                }),
                YamlNodeKind::Mapping(_) => {
                    let entries = children(file, id).unwrap_or_default();
                    mapping_print(&entries, &prints)
                }
            };
            prints.push(value);
        }
        MeaningPrints(prints)
    }

    /// The meaning of a section (its value; the key is its name).
    pub fn section(&self, entry: &Entry) -> u64 {
        self.0[entry.value]
    }

    /// The meaning of a whole file shown as a folder: its top entries and their values.
    pub fn file(&self, file: &YamlFile) -> u64 {
        let entries = top_entries(file).unwrap_or_default();
        let top = mapping_print(&entries, &self.0);
        print(Kind::Document, |hasher| {
            hasher.write(&(file.documents.len() as u64).to_le_bytes());
            hasher.write(&top.to_le_bytes());
        })
    }
}

/// A mapping as the unordered set of its (name, value) pairs; merged keys are among them, the
/// `<<` entries themselves are not (see `view::children`).
fn mapping_print(entries: &[Entry], prints: &[u64]) -> u64 {
    let mut pairs: Vec<(&[u8], u64)> = entries
        .iter()
        .map(|entry| (entry.name.as_slice(), prints[entry.value]))
        .collect();
    pairs.sort_unstable();
    print(Kind::Mapping, |hasher| {
        for (name, value) in pairs {
            write_bytes(hasher, name);
            hasher.write(&value.to_le_bytes());
        }
    })
}

/// A scalar's value: resolved by the core schema when plain, a string otherwise.
fn scalar_print(text: &str, plain: bool) -> u64 {
    if plain {
        match text {
            "" | "~" | "null" | "Null" | "NULL" => return print(Kind::Null, |_| {}),
            "true" | "True" | "TRUE" => return print(Kind::Bool, |hasher| hasher.write(&[1])),
            "false" | "False" | "FALSE" => return print(Kind::Bool, |hasher| hasher.write(&[0])),
            _ => {}
        }
        if let Some(value) = core_int(text) {
            return print(Kind::Int, |hasher| hasher.write(&value.to_le_bytes()));
        }
        if let Some(value) = core_float(text) {
            return print(Kind::Float, |hasher| hasher.write(&value.to_le_bytes()));
        }
    }
    print(Kind::Str, |hasher| write_bytes(hasher, text.as_bytes()))
}

/// An integer of the core schema: `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
fn core_int(text: &str) -> Option<i128> {
    if let Some(octal) = text.strip_prefix("0o") {
        return i128::from_str_radix(octal, 8)
            .ok()
            .filter(|_| !octal.is_empty());
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16)
            .ok()
            .filter(|_| !hex.is_empty());
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse::<i128>().ok()
}

/// A float of the core schema (decimal with a point or an exponent, `.inf`, `.nan`), as its
/// bits; an integer too large for `i128` is a float too.
fn core_float(text: &str) -> Option<u64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    let value = match unsigned {
        ".inf" | ".Inf" | ".INF" => f64::INFINITY,
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => {
            return Some(f64::NAN.to_bits())
        }
        _ => {
            let mut parts = unsigned.splitn(2, ['e', 'E']);
            let mantissa = parts.next().unwrap_or_default();
            let exponent_ok = parts.next().is_none_or(|exponent| {
                let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
                !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
            });
            let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let digits_ok = (!whole.is_empty() || !fraction.is_empty())
                && whole
                    .bytes()
                    .chain(fraction.bytes())
                    .all(|byte| byte.is_ascii_digit());
            if !exponent_ok || !digits_ok {
                return None;
            }
            unsigned.parse::<f64>().ok()?
        }
    };
    let value = if negative { -value } else { value };
    // 0.0 and -0.0 are equal numbers.
    Some(if value == 0.0 {
        0.0f64.to_bits()
    } else {
        value.to_bits()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{parse, Limits};

    /// The meaning of `path` (names from the top) in `text`.
    fn meaning(text: &str, path: &[&str]) -> u64 {
        let file = parse(text.as_bytes(), Limits::default()).unwrap();
        let prints = MeaningPrints::new(&file);
        let mut entries = top_entries(&file).unwrap();
        let mut found = None;
        for name in path {
            let entry = entries
                .iter()
                .find(|entry| entry.name == name.as_bytes())
                .unwrap_or_else(|| panic!("no {name} in {text}"))
                .clone();
            entries = children(&file, entry.value).unwrap_or_default();
            found = Some(entry);
        }
        match found {
            Some(entry) => prints.section(&entry),
            None => prints.file(&file),
        }
    }

    const WEB: &str = "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:80\"\n    environment:\n      A: 1\n      B: two\n";

    #[test]
    fn comments_blank_lines_indentation_quoting_style_and_key_order_are_not_meaning() {
        let same = [
            "# a comment\nservices:\n\n  web:   # trailing\n    image: 'nginx'\n    ports: [\"80:80\"]\n    environment: {B: \"two\", A: 1}\n",
            "services:\n    web:\n        environment:\n            B: two\n            A: 1\n        ports:\n        - '80:80'\n        image: \"nginx\"\n",
            "services: {web: {image: nginx, ports: ['80:80'], environment: {A: 0x1, B: two}}}\n",
        ];
        let web = meaning(WEB, &["services", "web"]);
        for text in same {
            assert_eq!(meaning(text, &["services", "web"]), web, "{text}");
        }
        assert_eq!(meaning(same[0], &[]), meaning(WEB, &[]), "the whole file");
    }

    #[test]
    fn values_types_and_sequence_order_are_meaning() {
        let web = meaning(WEB, &["services", "web"]);
        let different = [
            WEB.replace("nginx", "httpd"),
            WEB.replace("A: 1", "A: \"1\""),
            WEB.replace("A: 1", "A: 1.0"),
            WEB.replace("B: two", "B: two\n      C: ~"),
            WEB.replace("- \"80:80\"", "- \"80:80\"\n      - \"443:443\""),
        ];
        for text in &different {
            assert_ne!(meaning(text, &["services", "web"]), web, "{text}");
        }
        let order = |a: &str, b: &str| meaning(&format!("s:\n  - {a}\n  - {b}\n"), &["s"]);
        assert_ne!(order("x", "y"), order("y", "x"), "a sequence's order");
        assert_eq!(meaning("a: ~\n", &["a"]), meaning("a: null\n", &["a"]));
        assert_eq!(meaning("a: 1e3\n", &["a"]), meaning("a: 1000.0\n", &["a"]));
        assert_ne!(meaning("a: true\n", &["a"]), meaning("a: 'true'\n", &["a"]));
    }

    #[test]
    fn anchors_aliases_and_merge_keys_are_applied() {
        let merged =
            "x-base: &base\n  restart: always\n  image: app\nweb:\n  <<: *base\n  image: web\n";
        let written_out =
            "x-base:\n  restart: always\n  image: app\nweb:\n  restart: always\n  image: web\n";
        assert_eq!(meaning(merged, &["web"]), meaning(written_out, &["web"]));
        let base_changed = merged.replace("restart: always", "restart: never");
        assert_ne!(meaning(&base_changed, &["web"]), meaning(merged, &["web"]));
        let overridden = merged.replace("image: app", "image: other");
        assert_eq!(
            meaning(&overridden, &["web"]),
            meaning(merged, &["web"]),
            "a merged key that web overrides is not part of web's meaning"
        );
        let alias = "a: &v [1, 2]\nb: *v\n";
        assert_eq!(meaning(alias, &["b"]), meaning("b: [1, 2]\n", &["b"]));
    }

    #[test]
    fn core_schema_scalars() {
        assert_eq!(core_int("0x1F"), Some(31));
        assert_eq!(core_int("0o17"), Some(15));
        assert_eq!(core_int("-12"), Some(-12));
        assert_eq!(core_int("1_000"), None);
        assert_eq!(core_int("0x"), None);
        assert_eq!(core_float("1.5"), Some(1.5f64.to_bits()));
        assert_eq!(core_float("-.inf"), Some(f64::NEG_INFINITY.to_bits()));
        assert_eq!(core_float("-0.0"), core_float("0.0"));
        assert_eq!(core_float("."), None);
        assert_eq!(core_float("1e"), None);
        assert_eq!(core_float("abc"), None);
    }
}
