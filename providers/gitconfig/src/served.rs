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
//! (appended to, or rewritten atomically by rename) before a changed time is served, so a crash
//! never serves a time the store forgot. A missing or corrupt store loses the memory, never the
//! mount. Memory holds at most about [`MAX_REMEMBERED`] records: past it, the store (its records
//! sorted by key, fixed-width) is the truth, and a record memory forgot is found in it by
//! bisection; without a state folder, a temporary file plays the store.

use std::collections::HashMap;
use std::fs::File;
use std::hash::Hasher;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use fnv::FnvHasher;
use parking_lot::Mutex;

/// The first line of a store file, then the number of sorted records after it (16 hex digits);
/// anything else is not ours.
const HEADER: &str = "vfs-gitconfig served sections 2";
/// The first line of the stores of earlier versions (variable-width lines), read once and
/// rewritten in the current form.
const HEADER_V1: &str = "vfs-gitconfig served sections 1";
/// One record's line: key, meaning and time (the bits of the i64), 16 hex digits each.
const RECORD_BYTES: usize = 3 * 17;
/// The header's line: [`HEADER`], a space, the sorted records' count and a newline.
const HEADER_BYTES: usize = HEADER.len() + 18;
/// Records kept in memory at most (about 40 bytes each), beyond those waiting to be written: past
/// it, records are written to the store, forgotten here, and looked up in the store when asked.
pub const MAX_REMEMBERED: usize = 1 << 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Served {
    meaning: u64,
    /// The time served with that meaning (nanoseconds since the epoch).
    time: i64,
}

/// The store file: a header, records sorted by key (looked up by bisection), then the records
/// appended since (unsorted; a later line wins), which are all in memory too.
struct Store {
    path: PathBuf,
    /// Open for looking up the sorted records; None until they are needed.
    reader: Option<File>,
    sorted: u64,
    /// Lines appended after the sorted records.
    appended: usize,
    /// The temporary file that is the store where no state folder was given (removed with it).
    _temporary: Option<tempfile::TempPath>,
}

struct State {
    /// Every record appended to the store since its sorted records were written, and every
    /// record not written yet: what the sorted records do not say. All records where `all_here`.
    records: HashMap<u64, Served>,
    /// Records read from the sorted part of the store, kept until there are too many.
    read: HashMap<u64, Served>,
    /// Whether `records` holds every record there is (the store adds nothing).
    all_here: bool,
    /// Records changed since the store was last written (their keys, in order).
    changed: Vec<u64>,
    /// Whether the file holds every record (then changes are appended to it).
    file_complete: bool,
    store: Option<Store>,
    /// A failed write is told once (then again once after a write succeeded).
    write_failed: bool,
    /// [`MAX_REMEMBERED`], or less in tests.
    limit: usize,
}

impl Default for State {
    fn default() -> Self {
        State {
            records: HashMap::new(),
            read: HashMap::new(),
            all_here: true,
            changed: Vec::new(),
            file_complete: false,
            store: None,
            write_failed: false,
            limit: MAX_REMEMBERED,
        }
    }
}

#[derive(Default)]
pub struct ServedSections {
    state: Mutex<State>,
}

/// What a store file held when it was attached.
enum Loaded {
    /// Every record (a small store, or one of an earlier version).
    All(HashMap<u64, Served>),
    /// A store larger than memory may hold: its sorted records stay in the file.
    Large {
        sorted: u64,
        appended: HashMap<u64, Served>,
        appended_lines: usize,
    },
}

impl ServedSections {
    /// Sections that keep at most about `limit` records in memory.
    #[cfg(test)]
    fn with_limit(limit: usize) -> Self {
        let sections = ServedSections::default();
        sections.state.lock().limit = limit;
        sections
    }

    /// Keeps the store in `file` from now on, starting from what it holds.
    pub fn attach(&self, file: PathBuf) {
        let limit = self.state.lock().limit;
        let loaded = match load(&file, limit) {
            Ok(Some(loaded)) => loaded,
            Ok(None) => {
                tracing::warn!(
                    "{}: not a served-sections store; starting with no memory of served sections (times follow git blame until served again)",
                    file.display()
                );
                Loaded::All(HashMap::new())
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Loaded::All(HashMap::new())
            }
            Err(error) => {
                tracing::warn!(
                    "cannot read {} ({error}); starting with no memory of served sections",
                    file.display()
                );
                Loaded::All(HashMap::new())
            }
        };
        let mut state = self.state.lock();
        let (records, all_here, sorted, appended) = match loaded {
            Loaded::All(records) => (records, true, 0, 0),
            Loaded::Large {
                sorted,
                appended,
                appended_lines,
            } => (appended, false, sorted, appended_lines),
        };
        state.records = records;
        state.read.clear();
        state.all_here = all_here;
        // A large store is held open: its sorted records are read from this file, whatever
        // replaces it by name.
        let reader = match all_here {
            true => None,
            false => File::open(&file).ok(),
        };
        state.store = Some(Store {
            path: file,
            reader,
            sorted,
            appended,
            _temporary: None,
        });
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
        let time = match state.served(key) {
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
    /// is rewritten whole (atomically, its records sorted) when it first is, once appended lines
    /// outnumber the records, and once more records wait in memory than it may hold (they are
    /// then forgotten here, and read from the file when asked). Without a state folder, a
    /// temporary file plays the store once memory is full. Not synced to disk: a crash of vfs
    /// loses nothing, a crash of the machine may lose the last records (those sections then
    /// follow blame until served again).
    pub fn save(&self) {
        let mut state = self.state.lock();
        if state.changed.is_empty() {
            return;
        }
        let full = state.records.len() > state.limit;
        if state.store.is_none() {
            if !full {
                state.changed.clear();
                return;
            }
            match temporary_store() {
                Ok(store) => state.store = Some(store),
                Err(error) => {
                    if !state.write_failed {
                        tracing::warn!(
                            "cannot make a temporary file for served sections ({error}); they are all kept in memory"
                        );
                    }
                    state.write_failed = true;
                    state.changed.clear();
                    return;
                }
            }
        }
        let (appended, sorted) = state
            .store
            .as_ref()
            .map_or((0, 0), |store| (store.appended, store.sorted as usize));
        let records = match state.all_here {
            true => state.records.len(),
            false => sorted + state.records.len(),
        };
        let compact = !state.file_complete || full || appended > 2 * records + 1024;
        let written = match compact {
            true => state.rewrite(),
            false => state.append(),
        };
        match written {
            Ok(()) => {
                state.changed.clear();
                state.file_complete = true;
                state.write_failed = false;
                if state.records.len() > state.limit {
                    // All of them are in the file's sorted records now.
                    state.records.clear();
                    state.read.clear();
                    state.all_here = false;
                }
            }
            Err(error) => {
                if !state.write_failed {
                    let shown = state
                        .store
                        .as_ref()
                        .map(|store| store.path.display().to_string())
                        .unwrap_or_default();
                    tracing::warn!(
                        "cannot write {shown} ({error}); served sections are remembered until unmount only"
                    );
                }
                state.write_failed = true;
                state.file_complete = false;
            }
        }
    }

    /// How many records are in memory (those read from the store included).
    #[cfg(test)]
    fn in_memory(&self) -> usize {
        let state = self.state.lock();
        state.records.len() + state.read.len()
    }
}

impl State {
    /// What was served last for `key`: in memory, else in the store's sorted records.
    fn served(&mut self, key: u64) -> Option<Served> {
        if let Some(served) = self.records.get(&key).or_else(|| self.read.get(&key)) {
            return Some(*served);
        }
        if self.all_here {
            return None;
        }
        let found = self.look_up(key);
        if let Some(served) = found {
            if self.read.len() >= self.limit {
                self.read.clear();
            }
            self.read.insert(key, served);
        }
        found
    }

    /// `key` in the store's sorted records, by bisection; None where the file cannot be read.
    fn look_up(&mut self, key: u64) -> Option<Served> {
        let store = self.store.as_mut()?;
        if store.reader.is_none() {
            store.reader = File::open(&store.path).ok();
        }
        let reader = store.reader.as_ref()?;
        let (mut low, mut high) = (0, store.sorted);
        let mut line = [0u8; RECORD_BYTES];
        while low < high {
            let middle = low + (high - low) / 2;
            let offset = HEADER_BYTES as u64 + middle * RECORD_BYTES as u64;
            reader.read_exact_at(&mut line, offset).ok()?;
            let (found, served) = parse_record(&line)?;
            match found.cmp(&key) {
                std::cmp::Ordering::Equal => return Some(served),
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
            }
        }
        None
    }

    /// Appends the changed records to the store (which holds every earlier record).
    fn append(&mut self) -> std::io::Result<()> {
        let lines: String = self
            .changed
            .iter()
            .filter_map(|key| self.records.get(key).map(|served| record(*key, served)))
            .collect();
        let store = self
            .store
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no store"))?;
        append(&store.path, &lines)?;
        store.appended += self.changed.len();
        Ok(())
    }

    /// Writes the store whole: the records in memory, and (where memory does not hold them all)
    /// the file's sorted records they do not replace, all sorted.
    fn rewrite(&mut self) -> std::io::Result<()> {
        let store = self
            .store
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no store"))?;
        let mut ours: Vec<(u64, Served)> = self
            .records
            .iter()
            .map(|(key, served)| (*key, *served))
            .collect();
        ours.sort_unstable_by_key(|(key, _)| *key);
        let mut theirs = match self.all_here || store.sorted == 0 {
            true => None,
            false => {
                if store.reader.is_none() {
                    store.reader = Some(File::open(&store.path)?);
                }
                match &store.reader {
                    Some(file) => Some(SortedRecords::open(file.try_clone()?, store.sorted)?),
                    None => None,
                }
            }
        };
        let dir = store
            .path
            .parent()
            .ok_or_else(|| std::io::Error::other("the store has no folder"))?;
        std::fs::create_dir_all(dir)?;
        let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
        let mut out = std::io::BufWriter::new(temporary.as_file_mut());
        out.write_all(header(0).as_bytes())?;
        let mut count: u64 = 0;
        let mut ours = ours.into_iter().peekable();
        let mut next_theirs = match &mut theirs {
            Some(records) => records.next()?,
            None => None,
        };
        loop {
            let take_ours = match (ours.peek(), &next_theirs) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((key, _)), Some((their_key, _))) => key <= their_key,
            };
            let (key, served) = match take_ours {
                true => {
                    let (key, served) =
                        ours.next().ok_or_else(|| std::io::Error::other("merge"))?;
                    if next_theirs.is_some_and(|(their_key, _)| their_key == key) {
                        next_theirs = theirs.as_mut().map_or(Ok(None), SortedRecords::next)?;
                    }
                    (key, served)
                }
                false => {
                    let taken = next_theirs.ok_or_else(|| std::io::Error::other("merge"))?;
                    next_theirs = theirs.as_mut().map_or(Ok(None), SortedRecords::next)?;
                    taken
                }
            };
            out.write_all(record(key, &served).as_bytes())?;
            count += 1;
        }
        out.flush()?;
        drop(out);
        let file = temporary.as_file_mut();
        file.seek(SeekFrom::Start(0))?;
        file.write_all(header(count).as_bytes())?;
        temporary
            .persist(&store.path)
            .map_err(|error| error.error)?;
        store.reader = None;
        store.sorted = count;
        store.appended = 0;
        Ok(())
    }
}

/// The sorted records of a store, read in order.
struct SortedRecords {
    reader: BufReader<File>,
    left: u64,
}

impl SortedRecords {
    /// The sorted records of the store open as `file`, which must still be the one whose header
    /// said `count` (another mount of the same SOURCE may have replaced it since).
    fn open(mut file: File, count: u64) -> std::io::Result<Self> {
        let mut first = [0u8; HEADER_BYTES];
        file.read_exact_at(&mut first, 0)?;
        if first != header(count).as_bytes() {
            return Err(std::io::Error::other(
                "the store was replaced by another mount",
            ));
        }
        file.seek(SeekFrom::Start(HEADER_BYTES as u64))?;
        Ok(SortedRecords {
            reader: BufReader::new(file),
            left: count,
        })
    }

    fn next(&mut self) -> std::io::Result<Option<(u64, Served)>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut line = [0u8; RECORD_BYTES];
        self.reader.read_exact(&mut line)?;
        parse_record(&line)
            .map(Some)
            .ok_or_else(|| std::io::Error::other("a damaged record"))
    }
}

/// A store without a state folder: a temporary file, removed when the sections are.
fn temporary_store() -> std::io::Result<Store> {
    let path = tempfile::Builder::new()
        .prefix("vfs-served-")
        .tempfile()?
        .into_temp_path();
    Ok(Store {
        path: path.to_path_buf(),
        reader: None,
        sorted: 0,
        appended: 0,
        _temporary: Some(path),
    })
}

/// What the store at `path` holds: every record where they fit in `limit` (or the store is of an
/// earlier version), else the appended ones only (the sorted ones are checked, not kept); None
/// where the file is not a store or is damaged.
fn load(path: &Path, limit: usize) -> std::io::Result<Option<Loaded>> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    if first.trim_end() == HEADER_V1 {
        let mut text = String::new();
        reader.read_to_string(&mut text)?;
        return Ok(parse_v1(&text).map(Loaded::All));
    }
    let Some(sorted) = first
        .strip_prefix(HEADER)
        .and_then(|rest| rest.strip_prefix(' '))
        .and_then(|rest| rest.strip_suffix('\n'))
        .filter(|count| count.len() == 16)
        .and_then(|count| u64::from_str_radix(count, 16).ok())
    else {
        return Ok(None);
    };
    let total = std::fs::metadata(path)?
        .len()
        .saturating_sub(HEADER_BYTES as u64);
    if total % RECORD_BYTES as u64 != 0 || total / (RECORD_BYTES as u64) < sorted {
        return Ok(None);
    }
    let keep_all = total / RECORD_BYTES as u64 <= limit as u64;
    let mut all = HashMap::new();
    let mut appended = HashMap::new();
    let mut appended_lines = 0;
    let mut previous: Option<u64> = None;
    let mut line = [0u8; RECORD_BYTES];
    for index in 0..total / RECORD_BYTES as u64 {
        reader.read_exact(&mut line)?;
        let Some((key, served)) = parse_record(&line) else {
            return Ok(None);
        };
        if index < sorted {
            if previous.is_some_and(|previous| previous >= key) {
                return Ok(None);
            }
            previous = Some(key);
        } else {
            appended_lines += 1;
            appended.insert(key, served);
        }
        if keep_all {
            all.insert(key, served);
        }
    }
    Ok(Some(match keep_all {
        true => Loaded::All(all),
        false => Loaded::Large {
            sorted,
            appended,
            appended_lines,
        },
    }))
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

fn header(sorted: u64) -> String {
    format!("{HEADER} {sorted:016x}\n")
}

fn record(key: u64, served: &Served) -> String {
    format!(
        "{key:016x} {:016x} {:016x}\n",
        served.meaning, served.time as u64
    )
}

fn parse_record(line: &[u8; RECORD_BYTES]) -> Option<(u64, Served)> {
    let field = |index: usize| {
        let start = index * 17;
        let text = std::str::from_utf8(&line[start..start + 16]).ok()?;
        let separator = if index == 2 { b'\n' } else { b' ' };
        (line[start + 16] == separator)
            .then(|| u64::from_str_radix(text, 16).ok())
            .flatten()
    };
    Some((
        field(0)?,
        Served {
            meaning: field(1)?,
            time: field(2)? as i64,
        },
    ))
}

/// Appends `lines` to the store (already holding its header and every earlier record).
fn append(file: &Path, lines: &str) -> std::io::Result<()> {
    let mut out = std::fs::OpenOptions::new().append(true).open(file)?;
    out.write_all(lines.as_bytes())
}

/// The records of a store of the first version (after its header); `None` when damaged.
fn parse_v1(text: &str) -> Option<HashMap<u64, Served>> {
    let mut records = HashMap::new();
    for line in text.lines() {
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

    /// Serves `count` sections of one file (meaning `meaning`, blame at `blame`), saving after
    /// every listing of 10, and checks memory after each save.
    fn serve_all(sections: &ServedSections, count: u64, meaning: u64, blame: i64, bound: usize) {
        let file = Path::new("big.yml");
        for index in 0..count {
            sections.time(file, &[index.to_string().into_bytes()], meaning, blame, 0);
            if index % 10 == 9 {
                sections.save();
                assert!(
                    sections.in_memory() <= bound,
                    "{} records in memory",
                    sections.in_memory()
                );
            }
        }
        sections.save();
    }

    fn time_of(sections: &ServedSections, index: u64, meaning: u64) -> i64 {
        let name = [index.to_string().into_bytes()];
        sections.time(Path::new("big.yml"), &name, meaning, 1, 2)
    }

    #[test]
    fn memory_is_bounded_and_the_store_answers_what_memory_forgot() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_file(dir.path(), Path::new("/repo"));
        let sections = ServedSections::with_limit(100);
        sections.attach(store.clone());
        serve_all(&sections, 1_000, 7, 100, 200);
        assert!(!sections.state.lock().all_here, "memory forgot records");
        // Every record is remembered, though at most about 100 are in memory.
        for index in 0..1_000 {
            assert_eq!(time_of(&sections, index, 7), 100, "section {index}");
            assert!(sections.in_memory() <= 200);
        }
        // New meanings: the new rule, remembered through the next evictions.
        for index in (0..1_000).step_by(3) {
            assert_eq!(time_of(&sections, index, 8), 2);
            sections.save();
        }
        serve_all(&sections, 1_000, 7, 100, 200);
        for index in 0..1_000 {
            let expected = if index % 3 == 0 { 2 } else { 100 };
            let meaning = if index % 3 == 0 { 8 } else { 7 };
            assert_eq!(time_of(&sections, index, meaning), expected, "{index}");
        }
        sections.save();
        // A new mount reads the store: larger than its memory, or all of it.
        for limit in [100, MAX_REMEMBERED] {
            let again = ServedSections::with_limit(limit);
            again.attach(store.clone());
            assert_eq!(again.state.lock().all_here, limit > 1_000);
            assert!(again.in_memory() <= 200.max(limit.min(1_000)));
            for index in 0..1_000 {
                let expected = if index % 3 == 0 { 2 } else { 100 };
                let meaning = if index % 3 == 0 { 8 } else { 7 };
                assert_eq!(time_of(&again, index, meaning), expected, "{index}");
            }
        }
        let text = std::fs::read_to_string(&store).unwrap();
        assert!(text.starts_with(HEADER));
        assert!(text.lines().count() <= 1 + 2 * 1_000 + 1_024 + 1);
    }

    #[test]
    fn without_a_state_folder_memory_spills_to_a_temporary_store() {
        let sections = ServedSections::with_limit(50);
        serve_all(&sections, 500, 3, 100, 100);
        for index in 0..500 {
            assert_eq!(time_of(&sections, index, 3), 100, "section {index}");
        }
        assert_eq!(time_of(&sections, 0, 4), 2, "a new meaning");
        assert!(sections.in_memory() <= 100);
        assert!(!sections.state.lock().all_here, "memory forgot records");
        let path = {
            let state = sections.state.lock();
            state
                .store
                .as_ref()
                .map(|store| store.path.clone())
                .unwrap()
        };
        assert!(path.exists());
        drop(sections);
        assert!(
            !path.exists(),
            "the temporary store is removed with the sections"
        );
    }

    #[test]
    fn a_store_of_the_first_version_is_read_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_file(dir.path(), Path::new("/repo"));
        let (file, web) = (Path::new("c.yml"), names(WEB));
        let key = section_key(file, &web);
        std::fs::create_dir_all(store.parent().unwrap()).unwrap();
        std::fs::write(
            &store,
            format!("{HEADER_V1}\n{key:016x} {:016x} -5\n", 9u64),
        )
        .unwrap();
        let sections = ServedSections::default();
        sections.attach(store.clone());
        assert_eq!(sections.time(file, &web, 9, 100, 500), -5);
        assert_eq!(sections.time(file, &[], 1, 100, 500), 100);
        sections.save();
        let again = ServedSections::with_limit(1);
        again.attach(store.clone());
        assert_eq!(
            again.time(file, &web, 9, 100, 500),
            -5,
            "negative times too"
        );
        assert!(std::fs::read_to_string(&store).unwrap().starts_with(HEADER));
    }

    #[test]
    fn a_store_whose_sorted_records_are_out_of_order_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_file(dir.path(), Path::new("/repo"));
        std::fs::create_dir_all(store.parent().unwrap()).unwrap();
        let served = Served {
            meaning: 1,
            time: 10,
        };
        let text = header(2) + &record(5, &served) + &record(4, &served);
        std::fs::write(&store, text).unwrap();
        assert!(load(&store, 100).unwrap().is_none());
        let text = header(2) + &record(4, &served) + &record(5, &served) + "tail";
        std::fs::write(&store, text).unwrap();
        assert!(load(&store, 100).unwrap().is_none(), "a partial line");
    }
}
