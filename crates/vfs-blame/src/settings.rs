//! What, besides HEAD and the file, changes `git blame`'s answer for a commit, read at each call so that
//! the caches are keyed on it:
//!
//! - a shallow clone's boundary (`shallow` in the common git dir, one commit id a line): lines whose history
//!   runs past it are the boundary commit's. Every engine follows it by itself (git and gix read the file);
//!   `git fetch --deepen`/`--unshallow` rewrites it and leaves HEAD, so it is part of the key;
//! - `blame.ignoreRevsFile` (git config, possibly several, relative to the work tree): the commits listed
//!   in those files are passed over. The key holds the files' content, not their names. The configuration
//!   is read as git reads it (system, global, local and worktree files, includes) and read again when one
//!   of those files changes, as libgit2 did.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use gix::ObjectId;
use parking_lot::Mutex;

use crate::error::BlameError;
use crate::repository::blob_id;

/// The state of the repository, beyond HEAD, that a blame depends on. Cheap to compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct HistorySettings {
    /// The id (as a blob's) of the `shallow` file's content; None in a complete repository.
    pub shallow: Option<ObjectId>,
    /// The ignored revisions; None where no configured file lists any.
    pub ignore_revs: Option<IgnoreRevs>,
}

/// The content of the configured `blame.ignoreRevsFile`s that exist, in one list.
#[derive(Debug, Clone)]
pub(crate) struct IgnoreRevs {
    id: ObjectId,
    /// The files' contents one after the other, each ending in a newline: what `git blame` is given.
    pub content: Arc<[u8]>,
    /// The full hex ids listed, lowercase (read by the parallel engine).
    #[cfg_attr(not(feature = "gix-engine"), allow(dead_code))]
    pub ids: Arc<[String]>,
    /// Whether a line is neither blank, a comment nor a full hex id (`git blame` stops on it).
    #[cfg_attr(not(feature = "gix-engine"), allow(dead_code))]
    pub malformed: bool,
}

impl PartialEq for IgnoreRevs {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for IgnoreRevs {}

impl std::hash::Hash for IgnoreRevs {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl HistorySettings {
    /// Reads the settings now: the `shallow` file under `common_dir`, and the configured ignore `files`.
    pub fn read(files: &[PathBuf], common_dir: &Path) -> Result<Self, BlameError> {
        let shallow = match read_if_present(&common_dir.join("shallow"))? {
            Some(content) if !content.is_empty() => Some(blob_id(&content)?),
            _ => None,
        };
        let mut content = Vec::new();
        for file in files {
            if let Some(listed) = read_if_present(file)? {
                content.extend_from_slice(&listed);
                if !listed.is_empty() && !listed.ends_with(b"\n") {
                    content.push(b'\n');
                }
            }
        }
        Ok(Self {
            shallow,
            ignore_revs: IgnoreRevs::parse(content)?,
        })
    }
}

impl IgnoreRevs {
    /// The list as `git blame` reads it (a `#` starts a comment, blanks around are dropped); None where it
    /// names nothing, which ignores nothing.
    fn parse(content: Vec<u8>) -> Result<Option<Self>, BlameError> {
        let mut ids = Vec::new();
        let mut malformed = false;
        for line in content.split(|byte| *byte == b'\n') {
            let line = match line.iter().position(|byte| *byte == b'#') {
                Some(comment) => &line[..comment],
                None => line,
            };
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            if line.len() == 40 && line.iter().all(u8::is_ascii_hexdigit) {
                ids.push(String::from_utf8_lossy(line).to_ascii_lowercase());
            } else {
                malformed = true;
            }
        }
        if ids.is_empty() && !malformed {
            return Ok(None);
        }
        Ok(Some(Self {
            id: blob_id(&content)?,
            content: content.into(),
            ids: ids.into(),
            malformed,
        }))
    }
}

/// The `blame.ignoreRevsFile` values of a repository's configuration, kept with the state of every file
/// the configuration was (or would be) read from, and read again when one of those changes.
pub(crate) struct IgnoreRevsConfig {
    git_dir: PathBuf,
    common_dir: PathBuf,
    state: Mutex<ConfigState>,
}

struct ConfigState {
    /// The configuration files that may exist (local, worktree, global, system) and the files read
    /// (those and their includes), each with its state when the values were read (None: missing).
    sources: Vec<(PathBuf, Option<FileState>)>,
    /// The non-empty values, in the configuration's order.
    values: Vec<Vec<u8>>,
}

/// What changes when a file is written or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileState {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: (u64, u64),
    #[cfg(unix)]
    changed: (i64, i64),
}

impl IgnoreRevsConfig {
    /// The values of `repository`'s configuration, as it was just read.
    pub fn new(repository: &gix::Repository, git_dir: &Path, common_dir: &Path) -> Self {
        let candidates = states_of(candidate_files(git_dir, common_dir));
        Self {
            git_dir: git_dir.to_path_buf(),
            common_dir: common_dir.to_path_buf(),
            state: Mutex::new(ConfigState::read(repository, candidates)),
        }
    }

    /// The configured files as `git blame` takes them: every non-empty value, a relative one under the
    /// work tree (git runs blame from the top of the work tree), `~/` under $HOME. git keeps the configured
    /// names sorted and without repeats, so an empty value (which its documentation says resets the list)
    /// sorts first and resets nothing; the order does not matter otherwise, the lists are merged.
    /// Where a configuration file changed since the values were read, `reopen` gives the repository
    /// with its configuration read again.
    pub fn files(
        &self,
        workdir: &Path,
        reopen: impl FnOnce() -> Result<gix::Repository, BlameError>,
    ) -> Result<Vec<PathBuf>, BlameError> {
        let mut state = self.state.lock();
        let changed = state
            .sources
            .iter()
            .any(|(path, known)| file_state(path) != *known);
        if changed {
            // The files' states are taken before they are read: a change while reading is seen next time.
            let candidates = states_of(candidate_files(&self.git_dir, &self.common_dir));
            *state = ConfigState::read(&reopen()?, candidates);
        }
        Ok(state
            .values
            .iter()
            .map(|value| resolve(path_of(value), workdir))
            .collect())
    }
}

impl ConfigState {
    fn read(repository: &gix::Repository, mut sources: Vec<(PathBuf, Option<FileState>)>) -> Self {
        let snapshot = repository.config_snapshot();
        let config = snapshot.plumbing();
        for section in config.sections() {
            if let Some(path) = &section.meta().path {
                if !sources.iter().any(|(known, _)| known == path) {
                    sources.push((path.clone(), file_state(path)));
                }
            }
        }
        let values = config
            .strings("blame.ignoreRevsFile")
            .unwrap_or_default()
            .into_iter()
            .filter(|value| !value.is_empty())
            .map(Vec::from)
            .collect();
        Self { sources, values }
    }
}

/// The files git reads configuration from, whether they exist or not, where gix looks for them: the
/// repository's `config` and `config.worktree`, the global ones (`$XDG_CONFIG_HOME/git/config` or
/// `~/.config/git/config`, `~/.gitconfig`, or `$GIT_CONFIG_GLOBAL`) and the system's (`/etc/gitconfig`,
/// `$GIT_CONFIG_SYSTEM`, none under `GIT_CONFIG_NOSYSTEM`).
fn candidate_files(git_dir: &Path, common_dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![common_dir.join("config"), git_dir.join("config.worktree")];
    let mut environment = |name: &str| std::env::var_os(name);
    for source in [
        gix::config::Source::System,
        gix::config::Source::Git,
        gix::config::Source::User,
    ] {
        if let Some(path) = source.storage_location(&mut environment) {
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    files
}

fn states_of(files: Vec<PathBuf>) -> Vec<(PathBuf, Option<FileState>)> {
    files
        .into_iter()
        .map(|path| {
            let state = file_state(&path);
            (path, state)
        })
        .collect()
}

fn file_state(path: &Path) -> Option<FileState> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    use std::os::unix::fs::MetadataExt as _;
    Some(FileState {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        #[cfg(unix)]
        inode: (metadata.dev(), metadata.ino()),
        #[cfg(unix)]
        changed: (metadata.ctime(), metadata.ctime_nsec()),
    })
}

fn resolve(value: &Path, workdir: &Path) -> PathBuf {
    if let Ok(rest) = value.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(rest);
        }
    }
    workdir.join(value)
}

/// The file's bytes, or None where it does not exist. A configured ignore file that does not exist is
/// skipped (`git blame` would stop with "could not open object name list").
fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, BlameError> {
    match std::fs::read(path) {
        Ok(content) => Ok(Some(content)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BlameError::Io {
            context: format!("reading {}", path.display()),
            source,
        }),
    }
}

/// A configured path: on Unix any bytes name a file; elsewhere config values are UTF-8 (one that is not
/// names no file).
#[cfg(unix)]
fn path_of(bytes: &[u8]) -> &Path {
    Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_of(bytes: &[u8]) -> &Path {
    Path::new(std::str::from_utf8(bytes).unwrap_or_default())
}
