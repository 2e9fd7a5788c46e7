//! Checks the architecture invariants of docs/architecture.md that can be checked mechanically.

use std::fs;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_below(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_below(&path, found);
        } else if path
            .extension()
            .is_some_and(|extension| extension == "rs" || extension == "toml")
        {
            found.push(path);
        }
    }
}

/// The provider side of the boundary: vfs-core, every provider, and the example.
fn provider_side_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    files_below(&root.join("crates/vfs-core"), &mut files);
    files_below(&root.join("examples/hello-provider/src"), &mut files);
    files_below(&root.join("providers"), &mut files);
    files
}

#[test]
fn no_fuse_type_crosses_into_providers() {
    let files = provider_side_files();
    assert!(
        files.len() > 10,
        "expected the provider sources, found {files:?}"
    );
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let reaches_in = if file
            .extension()
            .is_some_and(|extension| extension == "toml")
        {
            text.lines().any(|line| {
                let line = line.trim_start();
                line.starts_with("fuser")
                    || line.starts_with("vfs-host")
                    || line.starts_with("vfs-sync")
            })
        } else {
            text.contains("fuser::") || text.contains("vfs_host::") || text.contains("vfs_sync::")
        };
        assert!(
            !reaches_in,
            "{} reaches into FUSE or a host (vfs-host, vfs-sync); providers must know nothing of them",
            file.display()
        );
    }
}

/// `vfs sync` is the host's second backend, for machines without FUSE: it must build without
/// fuser and the FUSE host.
#[test]
fn the_sync_backend_needs_no_fuse() {
    let mut files = Vec::new();
    files_below(&workspace_root().join("crates/vfs-sync"), &mut files);
    assert!(
        files.len() > 5,
        "expected the vfs-sync sources, found {files:?}"
    );
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains("fuser") && !text.contains("vfs-host") && !text.contains("vfs_host"),
            "{} reaches into FUSE or the FUSE host",
            file.display()
        );
    }
}

#[test]
fn the_vfs_binary_links_every_provider_crate() {
    let root = workspace_root();
    let main = fs::read_to_string(root.join("src/main.rs")).unwrap_or_default();
    let providers = fs::read_dir(root.join("providers")).map(|entries| {
        entries
            .flatten()
            .filter(|entry| entry.path().join("Cargo.toml").exists())
            .map(|entry| entry.path())
            .collect::<Vec<_>>()
    });
    let providers = providers.unwrap_or_default();
    assert!(!providers.is_empty());
    for provider in providers {
        let manifest = fs::read_to_string(provider.join("Cargo.toml")).unwrap_or_default();
        let name = manifest
            .lines()
            .find_map(|line| line.strip_prefix("name = "))
            .map(|quoted| quoted.trim_matches('"').replace('-', "_"))
            .unwrap_or_default();
        assert!(
            main.contains(&format!("use {name} as _;")),
            "src/main.rs must name {name} or its inventory registration is dropped at link time"
        );
    }
}

#[test]
fn gitconfig_reaches_source_only_through_directory_descriptors() {
    // docs/architecture.md: GitConfigFS opens nothing in SOURCE by name after checking it (a
    // symlink or FIFO could be swapped in between); `source.rs` is the one way in.
    let mut files = Vec::new();
    files_below(
        &workspace_root().join("providers/gitconfig/src"),
        &mut files,
    );
    assert!(
        files.len() > 5,
        "expected the gitconfig sources, found {files:?}"
    );
    let by_name = [
        "fs::read(",
        "fs::read_to_string(",
        "File::open(",
        "read_dir(",
        "symlink_metadata(",
        "fs::metadata(",
        "fs::read_link(",
    ];
    for file in files {
        // `served.rs` reads the store under the state folder, never SOURCE.
        if ["source.rs", "served.rs"]
            .iter()
            .any(|name| file.ends_with(name))
        {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        // Unit tests set up their folders by name; only the code that serves the mount counts.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for call in by_name {
            assert!(
                !code.contains(call),
                "{} calls {call} by name: reach SOURCE through vfs_gitconfig's source module",
                file.display()
            );
        }
    }
}

/// The non-test sources of the workspace: every crate's and provider's `src`, the binary's, the
/// example's.
fn shipped_sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    files_below(&root.join("src"), &mut files);
    files_below(&root.join("examples/hello-provider/src"), &mut files);
    for parent in ["crates", "providers"] {
        for entry in fs::read_dir(root.join(parent))
            .into_iter()
            .flatten()
            .flatten()
        {
            files_below(&entry.path().join("src"), &mut files);
        }
    }
    files.retain(|file| file.extension().is_some_and(|extension| extension == "rs"));
    files
}

/// Code lines of `text`: comments left out, and unit tests (after `#[cfg(test)]`).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
}

#[test]
fn the_mount_table_has_one_reader() {
    // docs/architecture.md: `vfs-mounts` is the one reader of the mount table; the host, the
    // command line, GitConfigFS and the test kit ask it (tests may read the table themselves,
    // as an oracle).
    let files = shipped_sources();
    assert!(files.len() > 50, "expected the sources, found {files:?}");
    for file in files {
        if file.starts_with(workspace_root().join("crates/vfs-mounts")) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        for line in code_lines(&text) {
            assert!(
                !line.contains("/proc/self/mountinfo") && !line.contains("/proc/mounts"),
                "{} reads the mount table itself: ask vfs_mounts\n{line}",
                file.display()
            );
        }
    }
}

#[test]
fn linux_only_calls_sit_behind_cfg_target_os_linux() {
    // docs/sync.md, "Portability": what only Linux has is named and behind
    // `cfg(target_os = "linux")`, with a fallback for the other systems.
    let linux_only = [
        "libc::umount2",
        "\"/proc/self/exe\"",
        "MNT_DETACH",
        "\"/dev/fuse\"",
    ];
    let testkit = workspace_root().join("crates/vfs-testkit");
    for file in shipped_sources() {
        if file.starts_with(&testkit) {
            // Test support: the tests run on Linux.
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        let lines: Vec<&str> = code_lines(&text).collect();
        for (index, line) in lines.iter().enumerate() {
            let Some(call) = linux_only.iter().find(|call| line.contains(*call)) else {
                continue;
            };
            // The item or statement is marked on one of the lines just above it.
            let marked = lines[index.saturating_sub(4)..index]
                .iter()
                .any(|above| above.contains("cfg(target_os = \"linux\")"));
            assert!(
                marked,
                "{}: {call} is Linux-only: put it behind #[cfg(target_os = \"linux\")] with a \
                 fallback\n{line}",
                file.display()
            );
        }
    }
}

/// The modules of the crate whose sources are in `src` (a file, or a folder of submodules,
/// counts as its top module) and the modules each one names (`crate::module`), tests left out.
fn module_uses(
    src: &Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut files = Vec::new();
    files_below(src, &mut files);
    let mut uses: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for file in files {
        let relative = file.strip_prefix(src).unwrap_or(&file);
        let Some(first) = relative.components().next() else {
            continue;
        };
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let text = fs::read_to_string(&file).unwrap_or_default();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let named = uses.entry(module.clone()).or_default();
        for (index, _) in code.match_indices("crate::") {
            let rest = &code[index + "crate::".len()..];
            let used: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !used.is_empty() && used != module {
                named.insert(used);
            }
        }
    }
    uses
}

/// A circle of modules that name each other, if there is one.
fn module_circle(
    uses: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        uses: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            let mut circle = path[start..].to_vec();
            circle.push(module.to_string());
            return Some(circle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for used in uses.get(module).into_iter().flatten() {
            if let Some(circle) = visit(used, uses, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    uses.keys()
        .find_map(|module| visit(module, uses, &mut Vec::new(), &mut done))
}

#[test]
fn dockerfs_modules_form_no_circle() {
    // docs/architecture.md: DockerFS's modules depend on each other one way (engine below
    // state, the shared state below the provider and its watcher).
    let uses = module_uses(&workspace_root().join("providers/docker/src"));
    assert!(
        uses.len() > 10,
        "expected DockerFS's modules, found {uses:?}"
    );
    assert_eq!(
        module_circle(&uses),
        None,
        "modules that name each other: {uses:#?}"
    );
}

#[test]
fn the_hosts_modules_form_no_circle() {
    // docs/architecture.md: vfs-host's modules depend on each other one way (the tables below
    // `host`, `host` below the notices thread and the fuser glue; `host` does not know them).
    let uses = module_uses(&workspace_root().join("crates/vfs-host/src"));
    assert!(
        uses.len() > 8,
        "expected vfs-host's modules, found {uses:?}"
    );
    assert!(
        uses.get("notices")
            .is_some_and(|named| named.contains("host")),
        "the notices thread names the host: {uses:#?}"
    );
    assert_eq!(
        module_circle(&uses),
        None,
        "modules that name each other: {uses:#?}"
    );
}

#[test]
fn gitconfig_modules_form_no_circle() {
    // docs/architecture.md: GitConfigFS's watcher knows the provider through its WatchedSource
    // trait; the provider uses the watcher, not the other way round.
    let uses = module_uses(&workspace_root().join("providers/gitconfig/src"));
    assert!(
        uses.len() > 8,
        "expected GitConfigFS's modules, found {uses:?}"
    );
    assert_eq!(
        module_circle(&uses),
        None,
        "modules that name each other: {uses:#?}"
    );
}
