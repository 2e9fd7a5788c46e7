//! One YAML file's state: read, parsed (cached on its content) and timed (cached on its
//! content, HEAD and mtime).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use vfs_blame::{Blamer, LineOrigin};

use crate::mirror::mtime_nanos;
use crate::yaml::timing::AliasFingerprints;
use crate::yaml::{parse, top_entries, Entry, Limits, SectionTimes, SourceLines, YamlFile};

/// Files larger than this stay plain files: a config file is not this big.
pub const MAX_YAML_BYTES: u64 = 8 * 1024 * 1024;
/// Parsed files kept; the cache is emptied when it grows past this.
const MAX_PARSED: usize = 1024;

/// A YAML file shown as a folder.
#[derive(Debug)]
pub struct ParsedYaml {
    pub bytes: Vec<u8>,
    pub file: YamlFile,
    pub lines: SourceLines,
    pub prints: AliasFingerprints,
    pub top: Vec<Entry>,
    pub content_hash: u64,
}

/// A parsed YAML file with the time of each of its lines.
#[derive(Debug)]
pub struct TimedYaml {
    pub parsed: Arc<ParsedYaml>,
    pub times: SectionTimes,
    /// The file's mtime (nanoseconds), the floor of the branch-switch rule.
    pub mtime: i64,
}

/// What a `*.yml`/`*.yaml` file is shown as.
pub enum YamlState {
    Folder(Arc<TimedYaml>),
    /// Not parsable, too big, or a single scalar document: the file is mirrored as it is.
    Plain,
}

#[derive(Clone, PartialEq, Eq)]
struct TimedKey {
    content_hash: u64,
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

#[derive(Default)]
pub struct SectionCache {
    parsed: Mutex<HashMap<u64, Option<Arc<ParsedYaml>>>>,
    timed: Mutex<HashMap<PathBuf, (TimedKey, Arc<TimedYaml>)>>,
    warned: Mutex<HashSet<(PathBuf, KeptPlain)>>,
    limits: Limits,
}

impl SectionCache {
    /// The state of the YAML file at `disk_path` (`relative` to SOURCE), read now.
    pub fn load(
        &self,
        disk_path: &Path,
        relative: &Path,
        metadata: &Metadata,
        repository: Option<&Repository>,
    ) -> std::io::Result<YamlState> {
        let size = metadata.len();
        if size > MAX_YAML_BYTES {
            self.warn_once(
                disk_path,
                KeptPlain::TooBig { size },
                &format!("{size} bytes is over the limit of {MAX_YAML_BYTES}"),
            );
            return Ok(YamlState::Plain);
        }
        let bytes = std::fs::read(disk_path)?;
        let content_hash = content_hash(&bytes);
        let Some(parsed) = self.parsed(disk_path, bytes, content_hash) else {
            return Ok(YamlState::Plain);
        };
        let head = repository.and_then(|repository| repository.blamer.head_commit().ok().flatten());
        let key = TimedKey {
            content_hash,
            head,
            mtime: mtime_nanos(metadata),
        };
        if let Some((cached_key, timed)) = self.lock_timed().get(disk_path) {
            if *cached_key == key {
                return Ok(YamlState::Folder(timed.clone()));
            }
        }
        let line_times = line_times(&parsed, relative, key.mtime, repository);
        let timed = Arc::new(TimedYaml {
            times: SectionTimes::new(&parsed.file, line_times, key.mtime),
            parsed,
            mtime: key.mtime,
        });
        self.lock_timed()
            .insert(disk_path.to_path_buf(), (key, timed.clone()));
        Ok(YamlState::Folder(timed))
    }

    fn parsed(
        &self,
        disk_path: &Path,
        bytes: Vec<u8>,
        content_hash: u64,
    ) -> Option<Arc<ParsedYaml>> {
        if let Some(cached) = self.lock_parsed().get(&content_hash) {
            return cached.clone();
        }
        let parsed = match parse(&bytes, self.limits) {
            Ok(file) => top_entries(&file).map(|top| {
                let lines = SourceLines::new(&bytes);
                let prints = AliasFingerprints::new(&file, &bytes, &lines);
                Arc::new(ParsedYaml {
                    bytes,
                    file,
                    lines,
                    prints,
                    top,
                    content_hash,
                })
            }),
            Err(error) => {
                self.warn_once(
                    disk_path,
                    KeptPlain::Unparsable { content_hash },
                    &error.to_string(),
                );
                None
            }
        };
        let mut cache = self.lock_parsed();
        if cache.len() >= MAX_PARSED {
            cache.clear();
        }
        cache.insert(content_hash, parsed.clone());
        parsed
    }

    fn warn_once(&self, disk_path: &Path, why: KeptPlain, reason: &str) {
        let first_time = self
            .warned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert((disk_path.to_path_buf(), why));
        if first_time {
            tracing::warn!(
                "{}: not shown as sections, kept as a plain file: {reason}",
                disk_path.display()
            );
        }
    }

    /// Forgets the timed state of every file (after HEAD moved), returning their paths.
    pub fn timed_files(&self) -> Vec<PathBuf> {
        self.lock_timed().keys().cloned().collect()
    }

    fn lock_parsed(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Option<Arc<ParsedYaml>>>> {
        self.parsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_timed(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (TimedKey, Arc<TimedYaml>)>> {
        self.timed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    fn load_plain(cache: &SectionCache, path: &Path) -> bool {
        let metadata = std::fs::metadata(path).unwrap();
        matches!(
            cache.load(path, Path::new("big.yaml"), &metadata, None),
            Ok(YamlState::Plain)
        )
    }

    fn warnings(cache: &SectionCache) -> Vec<(PathBuf, KeptPlain)> {
        cache.warned.lock().unwrap().iter().cloned().collect()
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
        assert_eq!(
            warnings(&cache),
            vec![(
                path.clone(),
                KeptPlain::TooBig {
                    size: MAX_YAML_BYTES + 1
                }
            )]
        );
        file.set_len(MAX_YAML_BYTES + 2).unwrap();
        assert!(load_plain(&cache, &path));
        assert_eq!(warnings(&cache).len(), 2);
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
        let metadata = std::fs::metadata(&path).unwrap();
        assert!(matches!(
            cache.load(&path, Path::new("big.yaml"), &metadata, None),
            Ok(YamlState::Folder(_))
        ));
        assert!(warnings(&cache).is_empty());
    }
}
