//! The command line's side of the mountpoint check ([`vfs_host::check_mountpoint`] decides):
//! which missing mountpoints it creates (`--mkdir`, or a provider's default name), its words
//! for one it does not, and the warning for a mount that hides a folder's entries.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::host::{check_mountpoint, MountpointError};

/// The absolute, canonical path of `path` (of the folder it will be when missing; the host
/// creates it once the provider has started, so that a provider that cannot start leaves no
/// folder behind). Refuses what [`check_mountpoint`] refuses, and a missing mountpoint without
/// `mkdir` unless it has a default name.
pub fn prepare(program: &str, path: &Path, mkdir: bool) -> anyhow::Result<PathBuf> {
    prepare_among(program, path, mkdir, &default_names())
}

/// [`prepare`], with `defaults` as the names created without `--mkdir`.
fn prepare_among(
    program: &str,
    path: &Path,
    mkdir: bool,
    defaults: &[&str],
) -> anyhow::Result<PathBuf> {
    let may_create = |absolute: &Path| mkdir || is_named_as(absolute, defaults);
    match check_mountpoint(path, may_create, program) {
        Ok(mountpoint) => Ok(mountpoint.path),
        Err(MountpointError::Missing(absolute)) => {
            if defaults.is_empty() {
                bail!(
                    "mountpoint {} does not exist: create it, or pass --mkdir",
                    absolute.display()
                );
            }
            bail!(
                "mountpoint {} does not exist: create it, or pass --mkdir \
                 (only {} {} created without asking)",
                absolute.display(),
                defaults.join(" and "),
                if defaults.len() == 1 { "is" } else { "are" }
            );
        }
        Err(refused) => Err(refused.into()),
    }
}

/// The names of the providers' default mountpoints this binary links (for `vfs`:
/// `.dockerfs` and `.cfgfs`, the names the documentation uses), in registry order: created when
/// missing. Any other missing mountpoint is refused unless `--mkdir` is given, so that a typo in
/// a Makefile or a unit file fails instead of silently mounting somewhere nobody looks.
pub fn default_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = vfs_core::registrations()
        .into_iter()
        .filter_map(|registration| registration.default_mountpoint)
        .filter_map(|default| Path::new(default).file_name()?.to_str())
        .collect();
    names.dedup();
    names
}

/// Whether `path` is named as one of the providers' default mountpoints.
pub fn is_default_name(path: &Path) -> bool {
    is_named_as(path, &default_names())
}

fn is_named_as(path: &Path, names: &[&str]) -> bool {
    path.file_name()
        .is_some_and(|name| names.iter().any(|default| name == *default))
}

/// How many entries `dir` holds (0 when it cannot be read): a mount over it hides them.
pub fn entry_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

/// The warning for mounting over `count` entries of `dir`.
pub fn hidden_entries_warning(dir: &Path, count: usize) -> String {
    let entries = if count == 1 {
        "its 1 entry is"
    } else {
        &format!("its {count} entries are")
    };
    format!(
        "mountpoint {} is not empty: {entries} hidden while mounted",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_mountpoint_is_resolved_but_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = dir.path().join("a/b");
        let prepared = prepare("vfs", &wanted, true).unwrap();
        assert_eq!(prepared, dir.path().canonicalize().unwrap().join("a/b"));
        assert!(!dir.path().join("a").exists(), "nothing is created");
        let climbing = prepare("vfs", &dir.path().join("a/../c"), true).unwrap();
        assert_eq!(climbing, dir.path().canonicalize().unwrap().join("c"));
    }

    #[test]
    fn a_missing_mountpoint_needs_mkdir_unless_it_is_a_default_name() {
        let dir = tempfile::tempdir().unwrap();
        let typo = dir.path().join(".dokcerfs");
        let defaults = [".dockerfs", ".cfgfs"];
        let error = prepare_among("vfs", &typo, false, &defaults).unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            format!(
                "mountpoint {} does not exist: create it, or pass --mkdir \
                 (only .dockerfs and .cfgfs are created without asking)",
                typo.display()
            )
        );
        for name in defaults {
            assert!(
                prepare_among("vfs", &dir.path().join(name), false, &defaults).is_ok(),
                "{name}"
            );
        }
        assert!(
            prepare_among("vfs", &typo, true, &defaults).is_ok(),
            "--mkdir"
        );
        let alone = prepare_among("hello-vfs", &typo, false, &[".hello"]).unwrap_err();
        assert!(
            format!("{alone:#}").ends_with("(only .hello is created without asking)"),
            "{alone:#}"
        );
        let none = prepare_among("hello-vfs", &typo, false, &[]).unwrap_err();
        assert!(
            format!("{none:#}").ends_with("create it, or pass --mkdir"),
            "{none:#}"
        );
    }

    #[test]
    fn an_existing_mountpoint_is_returned_canonical() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("m")).unwrap();
        let prepared = prepare("vfs", &dir.path().join("./m"), false).unwrap();
        assert_eq!(prepared, dir.path().join("m").canonicalize().unwrap());
    }

    #[test]
    fn refuses_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let error = prepare("vfs", &file, false).unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            format!("mountpoint {} is not a directory", file.display())
        );
    }

    #[test]
    fn the_warning_counts_the_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(entry_count(dir.path()), 0);
        std::fs::write(dir.path().join(".hidden"), b"").unwrap();
        assert_eq!(entry_count(dir.path()), 1);
        assert_eq!(
            hidden_entries_warning(Path::new("/m"), 1),
            "mountpoint /m is not empty: its 1 entry is hidden while mounted"
        );
        assert_eq!(
            hidden_entries_warning(Path::new("/m"), 3),
            "mountpoint /m is not empty: its 3 entries are hidden while mounted"
        );
    }
}
