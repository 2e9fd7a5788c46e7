//! The config file formats shown as folders of their sections: YAML, JSON (and JSON with
//! comments), TOML, INI and `.env`. Each is read into the same node arena ([`YamlFile`]), so
//! folders, names, escapes, section times and meaning are the same for every format.

mod arena;
mod ini;
mod json;
mod toml;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::yaml::{Limits, YamlError, YamlFile};

/// A format a file can be read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Yaml,
    /// JSON; with comments and trailing commas where the file's name says so.
    Json {
        comments: bool,
    },
    Toml,
    Ini,
    Env,
}

/// A family of formats, as `--formats` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Yaml,
    Json,
    Toml,
    /// INI files and `.env` files.
    Ini,
}

impl Family {
    pub const ALL: [Family; 4] = [Family::Yaml, Family::Json, Family::Toml, Family::Ini];

    pub fn parse(name: &str) -> Option<Family> {
        match name.trim() {
            "yaml" | "yml" => Some(Family::Yaml),
            "json" => Some(Family::Json),
            "toml" => Some(Family::Toml),
            "ini" | "env" => Some(Family::Ini),
            _ => None,
        }
    }
}

impl Format {
    fn family(self) -> Family {
        match self {
            Format::Yaml => Family::Yaml,
            Format::Json { .. } => Family::Json,
            Format::Toml => Family::Toml,
            Format::Ini | Format::Env => Family::Ini,
        }
    }

    /// The format a file's name says it has, if any.
    pub fn of_name(name: &OsStr) -> Option<Format> {
        let name = name.to_str()?;
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yml") || lower.ends_with(".yaml") {
            return Some(Format::Yaml);
        }
        if lower.ends_with(".jsonc") {
            return Some(Format::Json { comments: true });
        }
        if lower.ends_with(".json") {
            // Files whose tools read them with comments (TypeScript, VS Code dev containers).
            let comments = lower.starts_with("tsconfig")
                || lower.starts_with("jsconfig")
                || lower == "devcontainer.json"
                || lower == ".devcontainer.json";
            return Some(Format::Json { comments });
        }
        if lower.ends_with(".toml") {
            return Some(Format::Toml);
        }
        if lower.ends_with(".ini") || lower.ends_with(".cfg") {
            return Some(Format::Ini);
        }
        if lower == ".env" || lower.ends_with(".env") || lower.starts_with(".env.") {
            return Some(Format::Env);
        }
        None
    }

    /// Reads `bytes` in this format.
    pub fn parse(self, bytes: &[u8], limits: Limits) -> Result<YamlFile, YamlError> {
        if self == Format::Yaml {
            return crate::yaml::parse(bytes, limits);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| YamlError::NotUtf8)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match self {
            Format::Yaml => crate::yaml::parse(bytes, limits),
            Format::Json { comments } => json::parse(text, comments, limits),
            Format::Toml => toml::parse(text, limits),
            Format::Ini => ini::parse_ini(text, limits),
            Format::Env => ini::parse_env(text, limits),
        }
    }
}

/// Which files are read as which format: `--formats` (default: all four families) and, when
/// given, `--parse` globs that a file's path (relative to SOURCE) or name must match.
#[derive(Clone, Debug)]
pub struct Formats {
    families: BTreeSet<Family>,
    globs: Option<GlobSet>,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            families: Family::ALL.into_iter().collect(),
            globs: None,
        }
    }
}

/// A `--formats` or `--parse` value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FormatsError {
    #[error("unknown format {0:?} (known: yaml, json, toml, ini)")]
    UnknownFamily(String),
    #[error("bad glob {glob:?}: {message}")]
    BadGlob { glob: String, message: String },
}

impl Formats {
    /// From a comma-separated list of families and a list of globs (empty: every file).
    pub fn new(families: &str, globs: &[String]) -> Result<Formats, FormatsError> {
        let families = families
            .split(',')
            .filter(|name| !name.trim().is_empty())
            .map(|name| {
                Family::parse(name).ok_or_else(|| FormatsError::UnknownFamily(name.trim().into()))
            })
            .collect::<Result<BTreeSet<Family>, FormatsError>>()?;
        let globs = match globs.is_empty() {
            true => None,
            false => {
                let mut builder = GlobSetBuilder::new();
                for glob in globs {
                    let parsed = Glob::new(glob).map_err(|error| FormatsError::BadGlob {
                        glob: glob.clone(),
                        message: error.kind().to_string(),
                    })?;
                    builder.add(parsed);
                }
                Some(builder.build().map_err(|error| FormatsError::BadGlob {
                    glob: globs.join(","),
                    message: error.kind().to_string(),
                })?)
            }
        };
        Ok(Formats { families, globs })
    }

    /// The format the file at `relative` (to SOURCE) is read as; `None`: it stays a plain file.
    pub fn of(&self, relative: &Path) -> Option<Format> {
        let format = Format::of_name(relative.file_name()?)?;
        if !self.families.contains(&format.family()) {
            return None;
        }
        if let Some(globs) = &self.globs {
            let name = relative.file_name().map(Path::new);
            if !globs.is_match(relative) && !name.is_some_and(|name| globs.is_match(name)) {
                return None;
            }
        }
        Some(format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_the_format() {
        let of = |name: &str| Format::of_name(OsStr::new(name));
        assert_eq!(of("docker-compose.yml"), Some(Format::Yaml));
        assert_eq!(of("package.json"), Some(Format::Json { comments: false }));
        assert_eq!(
            of("tsconfig.build.json"),
            Some(Format::Json { comments: true })
        );
        assert_eq!(of("settings.jsonc"), Some(Format::Json { comments: true }));
        assert_eq!(of("Cargo.toml"), Some(Format::Toml));
        assert_eq!(of("setup.cfg"), Some(Format::Ini));
        assert_eq!(of(".env"), Some(Format::Env));
        assert_eq!(of("prod.env"), Some(Format::Env));
        assert_eq!(of(".env.local"), Some(Format::Env));
        assert_eq!(of("main.rs"), None);
    }

    #[test]
    fn families_and_globs_choose_the_files() {
        let formats = Formats::new("json,ini", &[]).unwrap();
        assert_eq!(formats.of(Path::new("a/c.yml")), None, "yaml is off");
        assert!(formats.of(Path::new("a/package.json")).is_some());
        let formats = Formats::new(
            "yaml,json,toml,ini",
            &["deploy/**".into(), "package.json".into()],
        )
        .unwrap();
        assert!(formats.of(Path::new("deploy/k8s/app.yaml")).is_some());
        assert!(
            formats.of(Path::new("web/package.json")).is_some(),
            "a name glob"
        );
        assert_eq!(formats.of(Path::new("other/c.yml")), None);
        assert!(
            matches!(Formats::new("yaml,xml", &[]), Err(FormatsError::UnknownFamily(name)) if name == "xml")
        );
        assert!(Formats::new("yaml", &["[".into()]).is_err());
    }

    fn tree(format: Format, text: &str) -> Vec<(String, String, usize, usize)> {
        use crate::yaml::{children, scalar_text, top_entries};
        let file = format.parse(text.as_bytes(), Limits::default()).unwrap();
        let mut out = Vec::new();
        let mut pending: Vec<(String, crate::yaml::Entry)> = top_entries(&file)
            .unwrap_or_default()
            .into_iter()
            .map(|entry| (String::new(), entry))
            .collect();
        while let Some((prefix, entry)) = pending.pop() {
            let name = format!("{prefix}{}", String::from_utf8_lossy(&entry.name));
            match scalar_text(&file, entry.value) {
                Some(text) => out.push((
                    name,
                    text.to_string(),
                    entry.section.first,
                    entry.section.last,
                )),
                None => {
                    out.push((
                        name.clone(),
                        String::new(),
                        entry.section.first,
                        entry.section.last,
                    ));
                    for inner in children(&file, entry.value).unwrap_or_default() {
                        pending.push((format!("{name}/"), inner));
                    }
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn json_objects_arrays_and_scalars_with_their_lines() {
        let text = "{\n  \"name\": \"app\",\n  \"scripts\": {\n    \"test\": \"jest\"\n  },\n  \"files\": [\"a\", 2, true, null]\n}\n";
        let tree = tree(Format::Json { comments: false }, text);
        let find = |name: &str| tree.iter().find(|(n, ..)| n == name).cloned().unwrap();
        assert_eq!(find("name"), ("name".into(), "app".into(), 2, 2));
        assert_eq!(find("scripts"), ("scripts".into(), String::new(), 3, 4));
        assert_eq!(
            find("scripts/test"),
            ("scripts/test".into(), "jest".into(), 4, 4)
        );
        assert_eq!(find("files/1").1, "2");
        assert_eq!(find("files/3").1, "null");
        assert!(Format::Json { comments: false }
            .parse(b"{\"a\": 1, // no\n}", Limits::default())
            .is_err());
        assert!(Format::Json { comments: true }
            .parse(b"{\"a\": 1, // yes\n}", Limits::default())
            .is_ok());
        let deep = "[".repeat(10_000);
        assert!(matches!(
            Format::Json { comments: false }.parse(deep.as_bytes(), Limits::default()),
            Err(YamlError::TooDeep(_))
        ));
    }

    #[test]
    fn toml_tables_dotted_keys_and_arrays_of_tables() {
        let text = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\ntokio.version = \"1\"\n\n[[bin]]\nname = \"a\"\n\n[[bin]]\nname = \"b\"\n";
        let tree = tree(Format::Toml, text);
        let find = |name: &str| {
            tree.iter()
                .find(|(n, ..)| n == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name} in {tree:?}"))
        };
        assert_eq!(
            find("package/name"),
            ("package/name".into(), "app".into(), 2, 2)
        );
        assert_eq!((find("package").2, find("package").3), (1, 3));
        assert_eq!(find("dependencies/serde/features/0").1, "derive");
        assert_eq!(find("dependencies/tokio/version").1, "1");
        assert_eq!(
            find("bin/1/name"),
            ("bin/1/name".into(), "b".into(), 13, 13)
        );
        assert!(Format::Toml.parse(b"a = ", Limits::default()).is_err());
    }
}
