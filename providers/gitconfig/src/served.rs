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
    /// Records changed since the store was last written (their keys, in order).
    changed: Vec<u64>,
    /// Whether the file holds every record: it is appended to while it does.
    file_complete: bool,
    /// Record lines in the file (later lines win); rewritten whole once it grows to twice the
    /// records it stands for.
    file_lines: usize,
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
        state.file_lines = records.len();
        state.records = records;
        state.file = Some(file);
        state.changed.clear();
        // Rewritten whole at the first save: what was read is all the file needs to hold.
        state.file_complete = false;
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
        state.changed.push(key);
        time
    }

    /// Writes the records changed since the last write, before the times just computed are
    /// served: appended to the file as lines (a later line wins), so a first walk over thousands
    /// of sections costs one short write per listing, not a rewrite of the whole store; the file
    /// is rewritten whole (atomically) when it first is and once appended lines outnumber the
    /// records. Not synced to disk: a crash of vfs loses nothing, a crash of the machine may
    /// lose the last records (those sections then follow blame until served again).
    pub fn save(&self) {
        let mut state = self.state.lock();
        if state.changed.is_empty() {
            return;
        }
        let Some(file) = state.file.clone() else {
            state.changed.clear();
            return;
        };
        let compact = !state.file_complete || state.file_lines > 2 * state.records.len() + 1024;
        let written = match compact {
            true => write_atomically(&file, &render(&state.records)).map(|()| state.records.len()),
            false => {
                let lines: String = state
                    .changed
                    .iter()
                    .filter_map(|key| state.records.get(key).map(|served| line(*key, served)))
                    .collect();
                append(&file, &lines).map(|()| state.file_lines + state.changed.len())
            }
        };
        match written {
            Ok(lines) => {
                state.changed.clear();
                state.file_complete = true;
                state.file_lines = lines;
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
                state.file_complete = false;
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

fn line(key: u64, served: &Served) -> String {
    format!("{key:016x} {:016x} {}\n", served.meaning, served.time)
}

fn render(records: &HashMap<u64, Served>) -> String {
    let mut lines: Vec<String> = records
        .iter()
        .map(|(key, served)| line(*key, served))
        .collect();
    lines.sort_unstable();
    let mut text = String::with_capacity(HEADER.len() + 1 + lines.len() * 56);
    text.push_str(HEADER);
    text.push('\n');
    for line in lines {
        text.push_str(&line);
    }
    text
}

/// Appends `lines` to the store (already holding its header and every earlier record).
fn append(file: &Path, lines: &str) -> std::io::Result<()> {
    let mut out = std::fs::OpenOptions::new().append(true).open(file)?;
    out.write_all(lines.as_bytes())
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
    fn saves_append_later_lines_win_and_the_file_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_file(dir.path(), Path::new("/repo"));
        let file = Path::new("c.yml");
        let sections = ServedSections::default();
        sections.attach(store.clone());
        let line_count = || std::fs::read_to_string(&store).unwrap().lines().count();
        // 3,000 sections served one listing at a time: each save appends its own lines.
        for index in 0..3_000u64 {
            sections.time(file, &[index.to_string().into_bytes()], 1, 100, 500);
            sections.save();
        }
        assert_eq!(line_count(), 1 + 3_000);
        // One section changes meaning again and again: appended, then compacted.
        for meaning in 2..7_000u64 {
            sections.time(file, &[b"0".to_vec()], meaning, 100, 500 + meaning as i64);
            sections.save();
        }
        assert!(
            line_count() <= 1 + 2 * 3_000 + 1_024 + 1,
            "{}",
            line_count()
        );
        let reloaded = ServedSections::default();
        reloaded.attach(store.clone());
        assert_eq!(
            reloaded.time(file, &[b"0".to_vec()], 6_999, 0, 0),
            500 + 6_999,
            "the last line wins"
        );
        assert_eq!(reloaded.time(file, &[b"1".to_vec()], 1, 0, 0), 100);
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
