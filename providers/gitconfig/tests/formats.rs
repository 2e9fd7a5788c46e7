//! JSON, TOML, INI and `.env` files as folders of sections (issue 11): times from real
//! repositories with fixed commit dates, trees that round-trip to the reference parsers'
//! data (serde_json, toml, Python's configparser), and the formats switch.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use proptest::prelude::*;
use support::*;
use vfs_core::NodeKind;
use vfs_gitconfig::formats::{Format, Formats};
use vfs_gitconfig::yaml::parse::YamlNodeKind;
use vfs_gitconfig::yaml::{Limits, NodeId, YamlFile};
use vfs_gitconfig::GitConfigProvider;

const T1: i64 = 1_600_000_000;
const T2: i64 = 1_600_100_000;

async fn started(repo: &Repo, formats: Option<Formats>) -> GitConfigProvider {
    let provider = GitConfigProvider::new(repo.path());
    start(match formats {
        Some(formats) => provider.with_formats(formats),
        None => provider,
    })
    .await
}

const PACKAGE: &str = r#"{
  "name": "app",
  "version": "1.0.0",
  "scripts": {
    "test": "jest"
  },
  "dependencies": {
    "left-pad": "1.3.0"
  }
}
"#;

const CARGO: &str = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\n\n[profile.release]\ndebug = false\n";

const SETUP_CFG: &str =
    "[metadata]\nname = app\n\n[options]\ninstall_requires =\n    requests\n    click\n";

const DOT_ENV: &str = "# settings\nexport DATABASE_URL=postgres://db/app\nDEBUG=false\n";

#[tokio::test]
async fn each_format_times_its_sections_by_their_own_commits() {
    let repo = Repo::new();
    repo.write("package.json", PACKAGE);
    repo.write("Cargo.toml", CARGO);
    repo.write("setup.cfg", SETUP_CFG);
    repo.write(".env", DOT_ENV);
    repo.commit_all(T1);
    // One section of each file changes in a later commit.
    repo.write("package.json", &PACKAGE.replace("\"jest\"", "\"vitest\""));
    repo.write(
        "Cargo.toml",
        &CARGO.replace("debug = false", "debug = true"),
    );
    repo.write("setup.cfg", &SETUP_CFG.replace("click", "typer"));
    repo.write(".env", &DOT_ENV.replace("DEBUG=false", "DEBUG=true"));
    repo.commit_all(T2);
    let provider = started(&repo, None).await;
    for (path, time) in [
        ("package.json/scripts", T2),
        ("package.json/scripts/test", T2),
        ("package.json/dependencies", T1),
        ("package.json/name", T1),
        ("package.json", T2),
        ("Cargo.toml/package", T1),
        ("Cargo.toml/dependencies/serde", T1),
        ("Cargo.toml/profile/release", T2),
        ("Cargo.toml/profile", T2),
        ("setup.cfg/metadata/name", T1),
        ("setup.cfg/options/install_requires", T2),
        (".env/DATABASE_URL", T1),
        (".env/DEBUG", T2),
    ] {
        assert_eq!(node(&provider, path).await.mtime, at(time), "{path}");
    }
    assert_eq!(
        read_text(&provider, "package.json/scripts/test").await,
        "vitest\n"
    );
    assert_eq!(
        read_text(&provider, "Cargo.toml/package/version").await,
        "0.1.0\n"
    );
    assert_eq!(
        read_text(&provider, "setup.cfg/options/install_requires").await,
        // As configparser reads it: the empty first line, then the continuation lines.
        "\nrequests\ntyper\n"
    );
    assert_eq!(
        read_text(&provider, ".env/DATABASE_URL").await,
        "postgres://db/app\n"
    );
    // An uncommitted edit of one section moves that section alone.
    std::thread::sleep(std::time::Duration::from_millis(20));
    repo.write(
        "package.json",
        &PACKAGE
            .replace("\"jest\"", "\"vitest\"")
            .replace("1.3.0", "1.3.1"),
    );
    let mtime = mtime_of(&repo.path().join("package.json"));
    let fresh = started(&repo, None).await;
    assert_eq!(node(&fresh, "package.json/dependencies").await.mtime, mtime);
    assert_eq!(node(&fresh, "package.json/scripts").await.mtime, at(T2));
}

#[tokio::test]
async fn a_format_switched_off_or_outside_the_globs_stays_a_plain_file() {
    let repo = Repo::new();
    repo.write("package.json", PACKAGE);
    repo.write("deploy/app.toml", CARGO);
    repo.write("broken.json", "{\"a\": ");
    repo.commit_all(T1);
    let provider = started(&repo, Some(Formats::new("toml", &[]).unwrap())).await;
    let plain = node(&provider, "package.json").await;
    assert!(matches!(plain.kind, NodeKind::File { .. }), "json is off");
    assert!(matches!(
        node(&provider, "deploy/app.toml").await.kind,
        NodeKind::Directory
    ));
    let provider = started(
        &repo,
        Some(Formats::new("json,toml", &["deploy/**".into()]).unwrap()),
    )
    .await;
    assert!(matches!(
        node(&provider, "package.json").await.kind,
        NodeKind::File { .. }
    ));
    assert!(matches!(
        node(&provider, "deploy/app.toml").await.kind,
        NodeKind::Directory
    ));
    // A file that does not parse stays plain, with its exact bytes.
    let provider = started(&repo, None).await;
    assert!(matches!(
        node(&provider, "broken.json").await.kind,
        NodeKind::File { .. }
    ));
    assert_eq!(read_text(&provider, "broken.json").await, "{\"a\": ");
}

/// The data a parsed file holds, as serde_json sees data (objects, arrays, typed scalars).
fn data(file: &YamlFile, id: NodeId) -> serde_json::Value {
    let node = &file.nodes[file.resolve(id)];
    match &node.kind {
        YamlNodeKind::Scalar(text) if node.plain => typed(text),
        YamlNodeKind::Scalar(text) => serde_json::Value::String(text.clone()),
        YamlNodeKind::Sequence(items) => items.iter().map(|&item| data(file, item)).collect(),
        YamlNodeKind::Mapping(pairs) => pairs
            .iter()
            .map(|&(key, value)| {
                let YamlNodeKind::Scalar(key) = &file.nodes[key].kind else {
                    panic!("a non-scalar key");
                };
                (key.clone(), data(file, value))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        YamlNodeKind::Alias(_) => unreachable!("resolved"),
    }
}

/// A plain scalar's value (std's float parsing is exact; serde_json's default is not).
fn typed(text: &str) -> serde_json::Value {
    match text {
        "null" => serde_json::Value::Null,
        "true" => true.into(),
        "false" => false.into(),
        _ => match (text.parse::<i64>(), text.parse::<f64>()) {
            (Ok(integer), _) => integer.into(),
            (_, Ok(float)) => serde_json::Number::from_f64(float)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            _ => text.into(),
        },
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~\\n\\t\"\\\\é€😀]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z_ .%/-]{0,8}", inner, 0..5)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

fn toml_table() -> impl Strategy<Value = toml::Table> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(toml::Value::from),
        any::<i64>().prop_map(toml::Value::from),
        "[ -~é]{0,12}".prop_map(toml::Value::from),
        (-1.0e6f64..1.0e6).prop_map(toml::Value::from),
    ];
    let value = leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::from),
            prop::collection::btree_map("[a-z_-]{1,8}", inner, 0..4)
                .prop_map(|map| toml::Value::Table(map.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("[a-z_-]{1,8}", value, 0..6)
        .prop_map(|map| map.into_iter().collect())
}

/// TOML data as JSON data (floats as their f64), to compare with what the tree holds.
fn toml_as_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(text) => text.clone().into(),
        toml::Value::Integer(number) => (*number).into(),
        toml::Value::Float(number) => serde_json::Number::from_f64(*number)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        toml::Value::Boolean(flag) => (*flag).into(),
        toml::Value::Datetime(when) => when.to_string().into(),
        toml::Value::Array(items) => items.iter().map(toml_as_json).collect(),
        toml::Value::Table(table) => table
            .iter()
            .map(|(key, value)| (key.clone(), toml_as_json(value)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn json_files_hold_what_serde_json_reads(value in json_value(), pretty in any::<bool>()) {
        let text = match pretty {
            true => serde_json::to_string_pretty(&value).unwrap(),
            false => serde_json::to_string(&value).unwrap(),
        };
        let file = Format::Json { comments: false }.parse(text.as_bytes(), Limits::default()).unwrap();
        prop_assert_eq!(data(&file, file.documents[0]), value);
    }

    #[test]
    fn toml_files_hold_what_the_toml_crate_reads(table in toml_table()) {
        let text = toml::to_string(&table).unwrap();
        let reference: toml::Table = toml::from_str(&text).unwrap();
        let file = Format::Toml.parse(text.as_bytes(), Limits::default()).unwrap();
        let expected = toml_as_json(&toml::Value::Table(reference));
        let mut found = data(&file, file.documents[0]);
        // Floats come back as the core schema reads them: compare them as numbers.
        normalize_numbers(&mut found);
        let mut expected = expected;
        normalize_numbers(&mut expected);
        prop_assert_eq!(found, expected, "{}", text);
    }
}

/// Every number as an f64, so `1.0` read as a float and written as `1.0` compare equal.
fn normalize_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) => {
            if let Some(float) = number.as_f64() {
                if let Some(same) = serde_json::Number::from_f64(float) {
                    *number = same;
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(normalize_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}

/// Real-world INI files, each checked against Python's configparser (sections and their own
/// keys, values as configparser joins continuation lines).
const INI_CORPUS: &[(&str, &str)] = &[
    (
        "setup.cfg",
        "[metadata]\nname = app\nversion = attr: app.__version__\ndescription = An app\n\n[options]\npackages = find:\ninstall_requires =\n    requests>=2\n    click\npython_requires = >=3.8\n\n[options.entry_points]\nconsole_scripts =\n    app = app.cli:main\n\n[flake8]\nmax-line-length = 100\nexclude = .git,__pycache__\n",
    ),
    (
        "tox.ini",
        "[tox]\nenvlist = py38,py39\n\n[testenv]\ndeps =\n    pytest\n    coverage\ncommands = pytest {posargs}\n\n; a comment\n[testenv:lint]\ndeps = flake8\ncommands = flake8 src\n",
    ),
    (
        "php.ini",
        "[PHP]\nengine = On\nshort_open_tag = Off\nprecision = 14\n# comment\n[Date]\ndate.timezone = UTC\n",
    ),
    (
        "my.cnf",
        "[mysqld]\ndatadir=/var/lib/mysql\nsocket=/var/lib/mysql/mysql.sock\n\n[client]\nport: 3306\n",
    ),
];

#[test]
fn ini_files_hold_what_python_configparser_reads() {
    let script = "import configparser, json, sys\n\
p = configparser.ConfigParser(interpolation=None)\n\
p.optionxform = str\n\
p.read_string(sys.stdin.read())\n\
print(json.dumps({s: dict(p._sections[s]) for s in p.sections()}))\n";
    for (name, text) in INI_CORPUS {
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{name}: configparser failed");
        let reference: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_slice(&output.stdout).unwrap();
        let file = Format::Ini
            .parse(text.as_bytes(), Limits::default())
            .unwrap();
        let ours: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_value(data(&file, file.documents[0])).unwrap();
        assert_eq!(ours, reference, "{name}");
    }
}
