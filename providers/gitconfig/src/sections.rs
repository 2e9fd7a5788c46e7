//! One YAML file's state: read, parsed and timed, cached per file on its content, HEAD and
//! mtime. Only the current version of each file is kept, and the whole cache is bounded by an
//! estimate of the memory it holds: a large file rewritten again and again costs one version.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, MutexGuard};
use vfs_blame::{Blamer, LineOrigin};

use crate::formats::Format;
use crate::source::EntryStat;
use crate::yaml::meaning::MeaningPrints;
use crate::yaml::{top_entries, Entry, Limits, SectionTimes, SourceLines, YamlFile};

/// Files larger than this stay plain files: a config file is not this big.
pub const MAX_YAML_BYTES: u64 = 8 * 1024 * 1024;
/// What the cache may hold, by the estimate of [`ParsedYaml::estimated_bytes`] and
/// [`TimedYaml::estimated_bytes`]; least recently used files are forgotten past it.
pub const MAX_CACHED_BYTES: usize = 192 * 1024 * 1024;
/// The estimated cost of a cached file beyond its parsed and timed state (its path, the map).
const ENTRY_OVERHEAD: usize = 256;

/// A YAML file shown as a folder.
#[derive(Debug)]
pub struct ParsedYaml {
    pub bytes: Vec<u8>,
    pub file: YamlFile,
    pub lines: SourceLines,
    /// The meaning of every node, and of the whole file (`file_meaning`).
    pub meaning: MeaningPrints,
    pub file_meaning: u64,
    pub top: Vec<Entry>,
}

impl ParsedYaml {
    /// `bytes` read as `format`: `None` when it has no document to show as a folder (empty, or
    /// a single scalar), an error when it does not parse.
    fn parse(
        bytes: Vec<u8>,
        format: Format,
        limits: Limits,
    ) -> Result<Option<ParsedYaml>, crate::yaml::YamlError> {
        let file = format.parse(&bytes, limits)?;
        Ok(top_entries(&file).map(|top| {
            let lines = SourceLines::new(&bytes);
            let meaning = MeaningPrints::new(&file);
            let file_meaning = meaning.file(&file);
            ParsedYaml {
                bytes,
                file,
                lines,
                meaning,
                file_meaning,
                top,
            }
        }))
    }

    /// About how much memory this holds: the text, its scalars (at most the text again), the
    /// nodes with their child lists, and the per-line and per-alias tables.
    pub fn estimated_bytes(&self) -> usize {
        let per_node = std::mem::size_of::<crate::yaml::parse::YamlNode>() + 32;
        self.bytes.len() * 2
            + self.file.nodes.len() * per_node
            + self.lines.count() * 8
            + self.top.len() * std::mem::size_of::<Entry>()
    }
}

/// A parsed YAML file with the time of each of its lines.
#[derive(Debug)]
pub struct TimedYaml {
    pub parsed: Arc<ParsedYaml>,
    pub times: SectionTimes,
    /// The file's mtime (nanoseconds), the floor of the branch-switch rule.
    pub mtime: i64,
}

impl TimedYaml {
    /// About how much memory the times hold (the parsed file is counted on its own).
    fn estimated_bytes(&self) -> usize {
        (self.parsed.lines.count() + self.parsed.file.nodes.len()) * 8
    }
}

/// What a `*.yml`/`*.yaml` file is shown as.
pub enum YamlState {
    Folder(Arc<TimedYaml>),
    /// Not parsable, too big, or a single scalar document: the file is mirrored as it is.
    Plain,
}

#[derive(Clone, PartialEq, Eq)]
struct TimedKey {
    head: Option<String>,
    mtime: i64,
}

/// Where the line times come from: the repository, when SOURCE is in one.
pub struct Repository {
    pub blamer: Blamer,
    /// SOURCE's path inside the work tree.
    pub source_in_workdir: PathBuf,
}

/// Why a file was kept plain, as told once in the log: a file is warned about again only when
/// its content (or size) changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum KeptPlain {
    Unparsable { content_hash: u64 },
    TooBig { size: u64 },
}

/// A file as `stat` saw it when its content was read: while a later `stat` shows the same, the
/// content is the one read, and the file need not be read again. Git's "racy" rule applies: a
/// file modified within [`RACY_NANOS`] before it was read could change again within the same
/// clock tick without its time moving, so such a read is never trusted this way.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    ino: u64,
    size: u64,
    mtime: i64,
    ctime: i64,
}

/// File times move in clock ticks (4 ms here, 10 ms on some kernels); a read this long after
/// the file's last change is safe to trust from its `stat`.
const RACY_NANOS: i64 = 100_000_000;

impl Identity {
    fn of(stat: &EntryStat) -> Identity {
        Identity {
            ino: stat.ino,
            size: stat.size,
            mtime: stat.mtime,
            ctime: stat.ctime,
        }
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
        })
}

/// The cached state of one file: its current content's parse (`None`: not parsable) and, once
/// asked, its times.
struct CachedFile {
    content_hash: u64,
    /// The file as it was when read, if that read can vouch for later identical `stat`s.
    identity: Option<Identity>,
    parsed: Option<Arc<ParsedYaml>>,
    timed: Option<(TimedKey, Arc<TimedYaml>)>,
    /// When it was last used, in uses of the cache.
    used: u64,
}

impl CachedFile {
    fn estimated_bytes(&self) -> usize {
        ENTRY_OVERHEAD
            + self
                .parsed
                .as_ref()
                .map_or(0, |parsed| parsed.estimated_bytes())
            + self
                .timed
                .as_ref()
                .map_or(0, |(_, timed)| timed.estimated_bytes())
    }
}

#[derive(Default)]
struct Files {
    by_path: HashMap<PathBuf, CachedFile>,
    /// The sum of the entries' estimates.
    bytes: usize,
    uses: u64,
}

impl Files {
    /// Puts `file` in place of what `path` held, then forgets the least recently used files
    /// until the estimate is within `budget` (the newest file always stays).
    fn put(&mut self, path: &Path, mut file: CachedFile, budget: usize) {
        self.uses += 1;
        file.used = self.uses;
        self.bytes += file.estimated_bytes();
        if let Some(old) = self.by_path.insert(path.to_path_buf(), file) {
            self.bytes -= old.estimated_bytes();
        }
        while self.bytes > budget && self.by_path.len() > 1 {
            let Some(oldest) = self
                .by_path
                .iter()
                .filter(|(cached, _)| cached.as_path() != path)
                .min_by_key(|(_, cached)| cached.used)
                .map(|(oldest, _)| oldest.clone())
            else {
                break;
            };
            if let Some(old) = self.by_path.remove(&oldest) {
                self.bytes -= old.estimated_bytes();
            }
        }
    }

    fn touch(&mut self, path: &Path) {
        self.uses += 1;
        let uses = self.uses;
        if let Some(file) = self.by_path.get_mut(path) {
            file.used = uses;
        }
    }
}

pub struct SectionCache {
    files: Mutex<Files>,
    /// Every file whose times were computed: a path each, whatever the budget forgets.
    served_files: Mutex<HashSet<PathBuf>>,
    /// How many "kept as a plain file" warnings were told.
    told: AtomicUsize,
    /// The last reason each file was kept plain for, so it is told once per content.
    warned: Mutex<HashMap<PathBuf, KeptPlain>>,
    limits: Limits,
    budget: usize,
}

impl Default for SectionCache {
    fn default() -> Self {
        SectionCache::with_budget(MAX_CACHED_BYTES)
    }
}

impl SectionCache {
    /// A cache that holds about `budget` bytes at most (beyond the file in use).
    pub fn with_budget(budget: usize) -> Self {
        SectionCache {
            files: Mutex::default(),
            served_files: Mutex::default(),
            told: AtomicUsize::new(0),
            warned: Mutex::default(),
            limits: Limits::default(),
            budget,
        }
    }

    /// The state of the YAML file open as `file` (with `stat` as opened), found at `disk_path`
    /// (`relative` to SOURCE).
    pub fn load(
        &self,
        file: File,
        stat: &EntryStat,
        disk_path: &Path,
        relative: &Path,
        format: Format,
        repository: Option<&Repository>,
    ) -> std::io::Result<YamlState> {
        let size = stat.size;
        if size > MAX_YAML_BYTES {
            self.warn_once(
                disk_path,
                KeptPlain::TooBig { size },
                &format!("{size} bytes is over the limit of {MAX_YAML_BYTES}"),
            );
            return Ok(YamlState::Plain);
        }
        let head = repository.and_then(|repository| repository.blamer.head_commit().ok().flatten());
        let key = TimedKey {
            head,
            mtime: stat.mtime,
        };
        // The file as read last time, if nothing about it moved: a listing after a TTL costs a
        // `stat` per file, not a read, a hash and a parse.
        if let Some(state) = self.unchanged(disk_path, stat, &key) {
            return Ok(state);
        }
        let read_at = now_nanos();
        let identity = (stat.mtime < read_at - RACY_NANOS).then(|| Identity::of(stat));
        let mut bytes = Vec::with_capacity(size as usize);
        // Never more than the limit, even when the file grew since its stat.
        file.take(MAX_YAML_BYTES + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_YAML_BYTES || bytes.len() as u64 != size {
            // Changed while read: its next listing reads it again.
            return match bytes.len() as u64 > MAX_YAML_BYTES {
                true => Ok(YamlState::Plain),
                false => self.parse_untrusted(bytes, relative, format, &key, repository),
            };
        }
        let content_hash = content_hash(&bytes);
        let Some(parsed) = self.parsed(disk_path, bytes, content_hash, identity, format) else {
            return Ok(YamlState::Plain);
        };
        if let Some(timed) = self.cached_timed(disk_path, content_hash, &key) {
            return Ok(YamlState::Folder(timed));
        }
        let line_times = line_times(&parsed, relative, key.mtime, repository);
        let timed = Arc::new(TimedYaml {
            times: SectionTimes::new(&parsed.file, line_times, key.mtime),
            parsed: parsed.clone(),
            mtime: key.mtime,
        });
        let cached = CachedFile {
            content_hash,
            identity,
            parsed: Some(parsed),
            timed: Some((key, timed.clone())),
            used: 0,
        };
        self.lock_files().put(disk_path, cached, self.budget);
        self.served_files.lock().insert(disk_path.to_path_buf());
        Ok(YamlState::Folder(timed))
    }

    /// The cached state of the file at `path` when its `stat` is the one it was read with and
    /// HEAD has not moved since its times were computed.
    fn unchanged(&self, path: &Path, stat: &EntryStat, key: &TimedKey) -> Option<YamlState> {
        let mut files = self.lock_files();
        let cached = files.by_path.get(path)?;
        if cached.identity != Some(Identity::of(stat)) {
            return None;
        }
        let state = match (&cached.parsed, &cached.timed) {
            (None, _) => YamlState::Plain,
            (Some(_), Some((cached_key, timed))) if cached_key == key => {
                YamlState::Folder(timed.clone())
            }
            (Some(_), _) => return None,
        };
        files.touch(path);
        Some(state)
    }

    /// A file whose size changed while it was read: parsed and timed as read, cached as nothing.
    fn parse_untrusted(
        &self,
        bytes: Vec<u8>,
        relative: &Path,
        format: Format,
        key: &TimedKey,
        repository: Option<&Repository>,
    ) -> std::io::Result<YamlState> {
        let Ok(Some(parsed)) = ParsedYaml::parse(bytes, format, self.limits) else {
            return Ok(YamlState::Plain);
        };
        let parsed = Arc::new(parsed);
        let line_times = line_times(&parsed, relative, key.mtime, repository);
        Ok(YamlState::Folder(Arc::new(TimedYaml {
            times: SectionTimes::new(&parsed.file, line_times, key.mtime),
            parsed,
            mtime: key.mtime,
        })))
    }

    fn cached_timed(
        &self,
        path: &Path,
        content_hash: u64,
        key: &TimedKey,
    ) -> Option<Arc<TimedYaml>> {
        let mut files = self.lock_files();
        let cached = files.by_path.get(path)?;
        let (cached_key, timed) = cached.timed.as_ref()?;
        if cached.content_hash != content_hash || cached_key != key {
            return None;
        }
        let timed = timed.clone();
        files.touch(path);
        Some(timed)
    }

    /// The parse of `bytes`, the content of the file at `disk_path`: the cached one while the
    /// content is the same, else parsed now (and the file's older version forgotten).
    fn parsed(
        &self,
        disk_path: &Path,
        bytes: Vec<u8>,
        content_hash: u64,
        identity: Option<Identity>,
        format: Format,
    ) -> Option<Arc<ParsedYaml>> {
        {
            let mut files = self.lock_files();
            if let Some(cached) = files.by_path.get_mut(disk_path) {
                if cached.content_hash == content_hash {
                    cached.identity = identity;
                    let parsed = cached.parsed.clone();
                    files.touch(disk_path);
                    return parsed;
                }
            }
        }
        let parsed = match ParsedYaml::parse(bytes, format, self.limits) {
            Ok(parsed) => parsed.map(Arc::new),
            Err(error) => {
                self.warn_once(
                    disk_path,
                    KeptPlain::Unparsable { content_hash },
                    &error.to_string(),
                );
                None
            }
        };
        let cached = CachedFile {
            content_hash,
            identity,
            parsed: parsed.clone(),
            timed: None,
            used: 0,
        };
        self.lock_files().put(disk_path, cached, self.budget);
        parsed
    }

    fn warn_once(&self, disk_path: &Path, why: KeptPlain, reason: &str) {
        let previous = self.warned.lock().insert(disk_path.to_path_buf(), why);
        if previous != Some(why) {
            self.told.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "{}: not shown as sections, kept as a plain file: {reason}",
                disk_path.display()
            );
        }
    }

    /// The paths of every file whose times were ever served (to announce them after HEAD
    /// moved): also those the budget has since forgotten here, since the host may still hold
    /// their times (for the long TTL of complete notices).
    pub fn timed_files(&self) -> Vec<PathBuf> {
        self.served_files.lock().iter().cloned().collect()
    }

    /// How many files' times are cached now.
    #[cfg(test)]
    fn cached_timed_count(&self) -> usize {
        self.lock_files()
            .by_path
            .values()
            .filter(|cached| cached.timed.is_some())
            .count()
    }

    /// The cache's estimate of what it holds, in bytes.
    #[cfg(test)]
    pub fn estimated_bytes(&self) -> usize {
        self.lock_files().bytes
    }

    fn lock_files(&self) -> MutexGuard<'_, Files> {
        self.files.lock()
    }
}

pub fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The time of each line: its commit's committer time, or the file's mtime for a line HEAD does
/// not have, for an untracked file, outside a repository, or when git cannot answer.
fn line_times(
    parsed: &ParsedYaml,
    relative: &Path,
    mtime: i64,
    repository: Option<&Repository>,
) -> Vec<i64> {
    let count = parsed.lines.count();
    let Some(repository) = repository else {
        return vec![mtime; count];
    };
    let path_in_workdir = repository.source_in_workdir.join(relative);
    match repository.blamer.blame(&path_in_workdir, &parsed.bytes) {
        Ok(blame) => (0..count)
            .map(|index| match blame.lines.get(index) {
                Some(LineOrigin::Committed { commit_time, .. }) => {
                    commit_time.saturating_mul(1_000_000_000)
                }
                Some(LineOrigin::Uncommitted) | None => mtime,
            })
            .collect(),
        Err(error) => {
            tracing::debug!(
                "{}: no blame ({error}); the file's mtime is used",
                path_in_workdir.display()
            );
            vec![mtime; count]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(cache: &SectionCache, path: &Path) -> YamlState {
        let file = File::open(path).unwrap();
        let stat = EntryStat::of_fd(&file).unwrap();
        cache
            .load(file, &stat, path, Path::new("big.yaml"), Format::Yaml, None)
            .unwrap()
    }

    fn load_plain(cache: &SectionCache, path: &Path) -> bool {
        matches!(load(cache, path), YamlState::Plain)
    }

    #[test]
    fn a_file_over_the_limit_is_plain_and_warned_about_once_per_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_YAML_BYTES + 1).unwrap();
        let cache = SectionCache::default();
        assert!(load_plain(&cache, &path));
        assert!(load_plain(&cache, &path));
        assert_eq!(cache.told.load(Ordering::Relaxed), 1);
        assert_eq!(
            cache.warned.lock().get(&path),
            Some(&KeptPlain::TooBig {
                size: MAX_YAML_BYTES + 1
            })
        );
        file.set_len(MAX_YAML_BYTES + 2).unwrap();
        assert!(load_plain(&cache, &path));
        assert_eq!(cache.told.load(Ordering::Relaxed), 2);
        assert_eq!(cache.warned.lock().len(), 1, "one reason kept per file");
    }

    #[test]
    fn a_file_at_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        let mut text = b"key: ".to_vec();
        text.resize(MAX_YAML_BYTES as usize - 1, b'x');
        text.push(b'\n');
        std::fs::write(&path, &text).unwrap();
        let cache = SectionCache::default();
        assert!(matches!(load(&cache, &path), YamlState::Folder(_)));
        assert_eq!(cache.told.load(Ordering::Relaxed), 0);
    }

    fn services(count: usize, version: usize) -> String {
        (0..count)
            .map(|index| format!("s{index}:\n  image: app{version:03}\n  port: {index}\n"))
            .collect()
    }

    #[test]
    fn a_file_rewritten_again_and_again_costs_one_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        let cache = SectionCache::default();
        std::fs::write(&path, services(2_000, 0)).unwrap();
        assert!(matches!(load(&cache, &path), YamlState::Folder(_)));
        let one_version = cache.estimated_bytes();
        assert!(
            one_version > 2_000 * 30,
            "the estimate counts the text: {one_version}"
        );
        for version in 1..100 {
            std::fs::write(&path, services(2_000, version)).unwrap();
            assert!(matches!(load(&cache, &path), YamlState::Folder(_)));
        }
        let after = cache.estimated_bytes();
        assert!(
            after <= one_version + one_version / 10,
            "100 versions cost {after} bytes, one cost {one_version}"
        );
    }

    #[test]
    fn many_files_stay_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("f0.yaml");
        std::fs::write(&first, services(200, 0)).unwrap();
        let probe = SectionCache::default();
        load(&probe, &first);
        let one_file = probe.estimated_bytes();
        let cache = SectionCache::with_budget(one_file * 5);
        for index in 0..40 {
            let path = dir.path().join(format!("f{index}.yaml"));
            std::fs::write(&path, services(200, index)).unwrap();
            assert!(matches!(load(&cache, &path), YamlState::Folder(_)));
            assert!(cache.estimated_bytes() <= one_file * 5);
        }
        // The newest is kept; the oldest were forgotten and are parsed again when asked.
        assert_eq!(cache.cached_timed_count(), 5);
        // All 40 are still announced when HEAD moves: the host may hold their times.
        assert_eq!(cache.timed_files().len(), 40);
        assert!(matches!(load(&cache, &first), YamlState::Folder(_)));
    }
}
