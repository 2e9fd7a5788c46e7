//! Bad input through a GitConfigFS mount: every input of the YAML test suite
//! (`../shared/yaml-test-suite`), and hostile files (100 MB, 10,000 levels deep, an alias
//! bomb, too many nodes). No panic, no hang, bounded time and memory; what does not parse, or
//! is too costly, stays a plain mirrored file, with a warning.

mod common;

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{fuse_available, memory_kib, within, GitconfigScene};

/// The YAML test suite beside the repository (CI clones it next to the checkout).
fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/yaml-test-suite")
}

/// Every case of the suite: (name, folder holding in.yaml).
fn suite_cases() -> Vec<(String, PathBuf)> {
    let root = suite_dir();
    let mut cases = Vec::new();
    let mut top: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("the YAML test suite at {}: {error}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    top.sort();
    for dir in top {
        let id = dir.file_name().unwrap().to_string_lossy().into_owned();
        if dir.join("in.yaml").is_file() {
            cases.push((id.clone(), dir.clone()));
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.join("in.yaml").is_file())
            .collect();
        subs.sort();
        for sub in subs {
            let name = format!("{id}-{}", sub.file_name().unwrap().to_string_lossy());
            cases.push((name, sub));
        }
    }
    cases
}

/// Walks a YAML file's folder, reading every section; returns how many entries it holds.
fn walk(dir: &Path) -> std::io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        count += 1;
        let metadata = std::fs::symlink_metadata(&path)?;
        if metadata.is_dir() {
            count += walk(&path)?;
        } else {
            let content = std::fs::read(&path)?;
            assert_eq!(content.len() as u64, metadata.len(), "{}", path.display());
            assert_eq!(content.last(), Some(&b'\n'), "{}", path.display());
        }
    }
    Ok(count)
}

#[test]
fn every_yaml_test_suite_input_is_mirrored_without_panic_or_hang() {
    if !fuse_available() {
        return;
    }
    let cases = suite_cases();
    assert!(cases.len() > 300, "only {} cases found", cases.len());
    let scene = GitconfigScene::new();
    for (name, dir) in &cases {
        std::fs::copy(
            dir.join("in.yaml"),
            scene.src().join(format!("{name}.yaml")),
        )
        .unwrap();
    }
    let mut mount = scene.mount();
    let mnt = scene.mnt();
    let started = Instant::now();
    let report = within(Duration::from_secs(120), "walking the whole suite", {
        let cases = cases.clone();
        move || {
            let mut folders = 0;
            let mut plain_valid = Vec::new();
            let mut invalid_as_folders = Vec::new();
            let mut failures = Vec::new();
            for (name, dir) in &cases {
                let path = mnt.join(format!("{name}.yaml"));
                let invalid = dir.join("error").exists();
                let metadata = match std::fs::symlink_metadata(&path) {
                    Ok(metadata) => metadata,
                    Err(error) => {
                        failures.push(format!("{name}: stat: {error}"));
                        continue;
                    }
                };
                if metadata.is_dir() {
                    folders += 1;
                    if invalid {
                        invalid_as_folders.push(name.clone());
                    }
                    if let Err(error) = walk(&path) {
                        failures.push(format!("{name}: walk: {error}"));
                    }
                } else {
                    let original = std::fs::read(dir.join("in.yaml")).unwrap();
                    match std::fs::read(&path) {
                        Ok(served) if served == original => {}
                        Ok(_) => failures.push(format!("{name}: plain file differs")),
                        Err(error) => failures.push(format!("{name}: read: {error}")),
                    }
                    if !invalid {
                        plain_valid.push(name.clone());
                    }
                }
            }
            (folders, plain_valid, invalid_as_folders, failures)
        }
    });
    let (folders, plain_valid, invalid_as_folders, failures) = report;
    let log = scene.log_text();
    let refused: Vec<&String> = plain_valid
        .iter()
        .filter(|name| log.contains(&format!("/{name}.yaml: not shown as sections")))
        .collect();
    eprintln!(
        "valid inputs the parser refused (plain, with a warning): {} {refused:?}",
        refused.len()
    );
    eprintln!(
        "{} inputs in {:?}: {folders} folders, {} valid ones plain (scalar or empty documents, \
         or refused by the parser): {plain_valid:?}",
        cases.len(),
        started.elapsed(),
        plain_valid.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        invalid_as_folders.is_empty(),
        "invalid inputs shown as folders: {invalid_as_folders:?}"
    );
    assert!(folders > 150, "only {folders} inputs became folders");
    scene.assert_alive(&mut mount);
}

/// Writes a file through a buffer; returns its path.
fn write_file(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    fill(&mut out).unwrap();
    out.flush().unwrap();
}

fn hundred_megabytes(out: &mut dyn Write) -> std::io::Result<()> {
    let mut written = 0usize;
    let mut index = 0usize;
    while written < 100 * 1024 * 1024 {
        let line = format!("key{index:09}:\n  value: {index}\n  list: [a, b, c]\n");
        out.write_all(line.as_bytes())?;
        written += line.len();
        index += 1;
    }
    Ok(())
}

/// The hostile inputs: (file name, how it is written).
type Fill = fn(&mut dyn Write) -> std::io::Result<()>;

fn hostile_inputs() -> Vec<(&'static str, Fill)> {
    vec![
        ("deep-flow.yaml", |out| {
            out.write_all(b"root: ")?;
            out.write_all(&b"[".repeat(10_000))?;
            out.write_all(&b"]".repeat(10_000))?;
            out.write_all(b"\n")
        }),
        ("deep-flow-map.yaml", |out| {
            out.write_all(&b"{a: ".repeat(10_000))?;
            out.write_all(b"x")?;
            out.write_all(&b"}".repeat(10_000))?;
            out.write_all(b"\n")
        }),
        ("deep-block.yaml", |out| {
            out.write_all(&b"- ".repeat(10_000))?;
            out.write_all(b"x\n")
        }),
        ("deep-indent.yaml", |out| {
            for level in 0..10_000usize {
                writeln!(out, "{}k:", " ".repeat(level))?;
            }
            Ok(())
        }),
        ("billion-laughs.yaml", |out| {
            out.write_all(b"a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")?;
            let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
            for pair in names.windows(2) {
                let (previous, name) = (pair[0], pair[1]);
                let items = vec![format!("*{previous}"); 9].join(",");
                writeln!(out, "{name}: &{name} [{items}]")?;
            }
            Ok(())
        }),
        ("wide.yaml", |out| {
            for index in 0..300_000usize {
                writeln!(out, "k{index}: v")?;
            }
            Ok(())
        }),
    ]
}

#[test]
fn hostile_yaml_files_fall_back_to_plain_files_in_bounded_time_and_memory() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    let inputs = hostile_inputs();
    for (name, fill) in &inputs {
        write_file(&scene.src().join(name), fill);
    }
    write_file(&scene.src().join("huge.yaml"), hundred_megabytes);
    std::fs::write(scene.src().join("fine.yaml"), "ok: yes\n").unwrap();
    let mut mount = scene.mount();
    let pid = mount.pid().unwrap();
    let (_, peak_before) = memory_kib(pid);

    let started = Instant::now();
    let listed = within(Duration::from_secs(60), "listing the hostile files", {
        let mnt = scene.mnt();
        move || -> Vec<(String, bool, u64)> {
            let mut listed: Vec<_> = std::fs::read_dir(&mnt)
                .unwrap()
                .map(|entry| {
                    let entry = entry.unwrap();
                    let metadata = entry.metadata().unwrap();
                    (
                        entry.file_name().to_string_lossy().into_owned(),
                        metadata.is_file(),
                        metadata.len(),
                    )
                })
                .collect();
            listed.sort();
            listed
        }
    });
    let list_time = started.elapsed();
    for (name, is_file, size) in &listed {
        if name == ".vfs" {
            // The host's own marker at the mount's root.
            continue;
        }
        let on_disk = std::fs::metadata(scene.src().join(name)).unwrap().len();
        if name == "fine.yaml" {
            assert!(!is_file, "a good file next to the hostile ones is a folder");
            continue;
        }
        assert!(is_file, "{name} fell back to a plain file");
        assert_eq!(*size, on_disk, "{name}: its own size");
    }
    // Each hostile file reads back whole, byte for byte.
    let started = Instant::now();
    for (name, _, _) in &listed {
        if name == "fine.yaml" || name == ".vfs" {
            continue;
        }
        let (served, original) = (scene.mnt().join(name), scene.src().join(name));
        let same = within(Duration::from_secs(60), name, move || {
            same_bytes(&served, &original)
        });
        assert!(same, "{name} served different bytes");
    }
    let read_time = started.elapsed();
    let (rss, peak) = memory_kib(pid);
    eprintln!(
        "hostile files: listed in {list_time:?}, read back in {read_time:?}; vfs memory: \
         peak before {peak_before} KiB, peak after {peak} KiB, resident {rss} KiB"
    );
    assert!(
        list_time < Duration::from_secs(20),
        "listing took {list_time:?}"
    );
    assert!(
        peak < 256 * 1024,
        "vfs peaked at {peak} KiB with 100 MB and hostile files"
    );
    let log = scene.log_text();
    // Files over the size limit are covered by `a_100_mb_yaml_file_falls_back_with_a_warning`.
    for (name, _) in inputs
        .iter()
        .filter(|(name, _)| *name != "deep-indent.yaml")
    {
        assert_eq!(
            log.lines()
                .filter(|line| line.contains(name) && line.contains("WARN"))
                .count(),
            1,
            "one warning for {name}:\n{log}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(scene.mnt().join("fine.yaml/ok")).unwrap(),
        "yes\n"
    );
    scene.assert_alive(&mut mount);
}

#[test]
fn a_100_mb_yaml_file_falls_back_with_a_warning() {
    if !fuse_available() {
        return;
    }
    let scene = GitconfigScene::new();
    write_file(&scene.src().join("huge.yaml"), hundred_megabytes);
    let deep_indent = hostile_inputs()
        .into_iter()
        .find(|(name, _)| *name == "deep-indent.yaml")
        .unwrap();
    write_file(&scene.src().join(deep_indent.0), deep_indent.1);
    let mut mount = scene.mount();
    for name in ["huge.yaml", "deep-indent.yaml"] {
        let metadata = std::fs::metadata(scene.mnt().join(name)).unwrap();
        assert!(metadata.is_file());
    }
    std::thread::sleep(Duration::from_millis(300));
    let log = scene.log_text();
    for name in ["huge.yaml", "deep-indent.yaml"] {
        assert_eq!(
            log.lines()
                .filter(|line| line.contains(name) && line.contains("WARN"))
                .count(),
            1,
            "one warning for {name}:\n{log}"
        );
    }
    scene.assert_alive(&mut mount);
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    let (mut a, mut b) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut left, mut right) = (vec![0; 1 << 20], vec![0; 1 << 20]);
    loop {
        let read = fill(&mut a, &mut left);
        if read != fill(&mut b, &mut right) || left[..read] != right[..read] {
            return false;
        }
        if read == 0 {
            return true;
        }
    }
}

fn fill(file: &mut std::fs::File, buffer: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]).unwrap() {
            0 => break,
            read => filled += read,
        }
    }
    filled
}
