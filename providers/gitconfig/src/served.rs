//! What each section meant when the mount last served it, and the time it was served with: the
//! rule that keeps a section's time still while its meaning is, and moves it when it is not.
//!
//! - Same meaning as stored: the stored time, whatever happened in between (a commit of an edit
//!   already served, a reword rebase, a comment or formatting edit, an edit of another section,
//!   a checkout round trip that was not served in between).
//! - Another meaning than stored: the newest of blame's time for its meaningful lines and the
//!   file's mtime (the new meaning reached the working tree no earlier than the file's last
//!   write), so a target built from the older meaning is older than the section.
//! - Nothing stored (the first mount ever): blame's time.
//!
//! The store is a small text file outside the mirrored tree (see [`default_state_dir`]), written
//! (atomically, by rename) before a changed time is served, so a crash never serves a time the
//! store forgot. A missing or corrupt store loses the memory, never the mount.

use std::collections::HashMap;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use fnv::FnvHasher;
use parking_lot::Mutex;

/// The first line of a store file; anything else is not ours (or an older format).
const HEADER: &str = "vfs-gitconfig served sections 1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Served {
    meaning: u64,
    /// The time served with that meaning (nanoseconds since the epoch).
    time: i64,
}

#[derive(Default)]
struct State {
    records: HashMap<u64, Served>,
    /// Records changed since the store was last written.
    dirty: bool,
    /// Where the store is kept; `None`: in memory only.
    file: Option<PathBuf>,
    /// A failed write is told once (then again once after a write succeeded).
    write_failed: bool,
}

#[derive(Default)]
pub struct ServedSections {
    state: Mutex<State>,
}

impl ServedSections {
    /// Keeps the store in `file` from now on, starting from what it holds.
    pub fn attach(&self, file: PathBuf) {
        let records = match std::fs::read_to_string(&file) {
            Ok(text) => parse(&text).unwrap_or_else(|| {
                tracing::warn!(
                    "{}: not a served-sections store; starting with no memory of served sections (times follow git blame until served again)",
                    file.display()
                );
                HashMap::new()
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(error) => {
                tracing::warn!(
                    "cannot read {} ({error}); starting with no memory of served sections",
                    file.display()
                );
                HashMap::new()
            }
        };
        let mut state = self.state.lock();
        state.records = records;
        state.file = Some(file);
        state.dirty = false;
    }

    /// The time to serve for a section of `file` reached by `names` whose meaning is `meaning`,
    /// whose meaningful lines say `blame_time`, in a file last modified at `file_mtime`.
    pub fn time(
        &self,
        file: &Path,
        names: &[Vec<u8>],
        meaning: u64,
        blame_time: i64,
        file_mtime: i64,
    ) -> i64 {
        let key = section_key(file, names);
        let mut state = self.state.lock();
        let time = match state.records.get(&key) {
            Some(served) if served.meaning == meaning => return served.time,
            Some(_) => blame_time.max(file_mtime),
            None => blame_time,
        };
        state.records.insert(key, Served { meaning, time });
        state.dirty = true;
        time
    }

    /// Writes the store if a record changed since it was last written. Called before the
    /// times just computed are served.
    pub fn save(&self) {
        let mut state = self.state.lock();
        if !state.dirty {
            return;
        }
        let Some(file) = state.file.clone() else {
            state.dirty = false;
            return;
        };
        match write_atomically(&file, &render(&state.records)) {
            Ok(()) => {
                state.dirty = false;
                state.write_failed = false;
            }
            Err(error) => {
                if !state.write_failed {
                    tracing::warn!(
                        "cannot write {} ({error}); served sections are remembered until unmount only",
                        file.display()
                    );
                }
                state.write_failed = true;
            }
        }
    }
}

/// Where stores are kept when nothing else is said: `$VFS_STATE_DIR`, else
/// `$XDG_STATE_HOME/vfs`, else `$HOME/.local/state/vfs` (for root, `/root/.local/state/vfs`).
pub fn default_state_dir() -> Option<PathBuf> {
    let from = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = from("VFS_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = from("XDG_STATE_HOME") {
        return Some(PathBuf::from(dir).join("vfs"));
    }
    from("HOME").map(|home| PathBuf::from(home).join(".local/state/vfs"))
}

/// The store of the mount of SOURCE (canonical) in `state_dir`: one file per SOURCE.
pub fn store_file(state_dir: &Path, source: &Path) -> PathBuf {
    let mut hasher = FnvHasher::default();
    hasher.write(source.as_os_str().as_encoded_bytes());
    let name = source
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    state_dir
        .join("gitconfig")
        .join(format!("{name}-{:016x}.served", hasher.finish()))
}

/// A section's key in the store: its file (relative to SOURCE) and names, hashed.
fn section_key(file: &Path, names: &[Vec<u8>]) -> u64 {
    let mut hasher = FnvHasher::default();
    let mut write = |bytes: &[u8]| {
        hasher.write(&(bytes.len() as u64).to_le_bytes());
        hasher.write(bytes);
    };
    write(file.as_os_str().as_encoded_bytes());
    for name in names {
        write(name);
    }
    hasher.finish()
}

fn render(records: &HashMap<u64, Served>) -> String {
    let mut lines: Vec<String> = records
        .iter()
        .map(|(key, served)| format!("{key:016x} {:016x} {}", served.meaning, served.time))
        .collect();
    lines.sort_unstable();
    let mut text = String::with_capacity(HEADER.len() + 1 + lines.len() * 56);
    text.push_str(HEADER);
    text.push('\n');
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// The records of a store's text; `None` when it is not a store (or is damaged).
fn parse(text: &str) -> Option<HashMap<u64, Served>> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut records = HashMap::new();
    for line in lines {
        let mut fields = line.split(' ');
        let key = u64::from_str_radix(fields.next()?, 16).ok()?;
        let meaning = u64::from_str_radix(fields.next()?, 16).ok()?;
        let time = fields.next()?.parse().ok()?;
        if fields.next().is_some() {
            return None;
        }
        records.insert(key, Served { meaning, time });
    }
    Some(records)
}

/// Writes `text` to `file` through a temporary file renamed over it, so a reader (or a crash)
/// sees the old store or the new one, never half of one.
fn write_atomically(file: &Path, text: &str) -> std::io::Result<()> {
    let dir = file
        .parent()
        .ok_or_else(|| std::io::Error::other("the store has no folder"))?;
    std::fs::create_dir_all(dir)?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    temporary.write_all(text.as_bytes())?;
    temporary.as_file().sync_data()?;
    temporary.persist(file).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &[&[u8]] = &[b"services", b"web"];

    fn names(names: &[&[u8]]) -> Vec<Vec<u8>> {
        names.iter().map(|name| name.to_vec()).collect()
    }

    #[test]
    fn the_time_moves_when_and_only_when_the_meaning_does() {
        let sections = ServedSections::default();
        let (file, web) = (Path::new("c.yml"), names(WEB));
        assert_eq!(sections.time(file, &web, 1, 100, 500), 100, "first: blame");
        assert_eq!(
            sections.time(file, &web, 1, 300, 600),
            100,
            "same meaning, newer commit"
        );
        assert_eq!(
            sections.time(file, &web, 2, 50, 700),
            700,
            "changed: at least the mtime"
        );
        assert_eq!(
            sections.time(file, &web, 2, 900, 800),
            700,
            "same meaning again"
        );
        assert_eq!(
            sections.time(file, &web, 3, 900, 800),
            900,
            "changed, newer commit"
        );
        assert_eq!(
            sections.time(file, &web, 1, 100, 950),
            950,
            "back to an old meaning"
        );
        assert_eq!(sections.time(file, &[], 9, 10, 20), 10, "another section");
    }

    #[test]
    fn the_store_survives_a_new_mount_and_a_damaged_one_only_loses_the_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_file(dir.path(), Path::new("/repo"));
        let (file, web) = (Path::new("c.yml"), names(WEB));
        let first = ServedSections::default();
        first.attach(store.clone());
        assert_eq!(first.time(file, &web, 1, 100, 500), 100);
        assert_eq!(first.time(file, &web, 2, 100, 700), 700);
        first.save();
        let second = ServedSections::default();
        second.attach(store.clone());
        assert_eq!(
            second.time(file, &web, 2, 50, 900),
            700,
            "remembered across mounts"
        );
        std::fs::write(&store, "garbage\n").unwrap();
        let third = ServedSections::default();
        third.attach(store.clone());
        assert_eq!(third.time(file, &web, 2, 50, 900), 50, "no memory: blame");
        third.save();
        assert!(std::fs::read_to_string(&store).unwrap().starts_with(HEADER));
    }

    #[test]
    fn an_unwritable_store_keeps_serving_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let sections = ServedSections::default();
        // A folder that cannot be made (a file is in the way).
        sections.attach(blocker.join("gitconfig/x.served"));
        let (file, web) = (Path::new("c.yml"), names(WEB));
        assert_eq!(sections.time(file, &web, 1, 100, 500), 100);
        sections.save();
        assert_eq!(sections.time(file, &web, 2, 100, 600), 600);
        sections.save();
    }

    #[test]
    fn stores_of_two_sources_are_apart_and_outside_them() {
        let dir = Path::new("/state");
        let a = store_file(dir, Path::new("/work/a/repo"));
        let b = store_file(dir, Path::new("/work/b/repo"));
        assert_ne!(a, b);
        assert!(a.starts_with("/state/gitconfig"));
        assert!(a
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("repo-"));
    }
}
