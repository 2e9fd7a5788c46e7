//! What, besides HEAD and the file, changes `git blame`'s answer for a commit, read at each call so that
//! the caches are keyed on it:
//!
//! - a shallow clone's boundary (`shallow` in the common git dir, one commit id a line): lines whose history
//!   runs past it are the boundary commit's. Every engine follows it by itself (git and gix read the file);
//!   `git fetch --deepen`/`--unshallow` rewrites it and leaves HEAD, so it is part of the key;
//! - `blame.ignoreRevsFile` (git config, possibly several, relative to the work tree): the commits listed
//!   in those files are passed over. The key holds the files' content, not their names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{ErrorCode, Oid, Repository};

use crate::error::BlameError;
use crate::repository::blob_id;

/// The state of the repository, beyond HEAD, that a blame depends on. Cheap to compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct HistorySettings {
    /// The id (as a blob's) of the `shallow` file's content; None in a complete repository.
    pub shallow: Option<Oid>,
    /// The ignored revisions; None where no configured file lists any.
    pub ignore_revs: Option<IgnoreRevs>,
}

/// The content of the configured `blame.ignoreRevsFile`s that exist, in one list.
#[derive(Debug, Clone)]
pub(crate) struct IgnoreRevs {
    id: Oid,
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
    /// Reads the settings now: the `shallow` file under `common_dir`, and the `blame.ignoreRevsFile` values of
    /// `repository`'s configuration (libgit2 rereads a configuration file that changed) and their files.
    pub fn read(
        repository: &Repository,
        common_dir: &Path,
        workdir: &Path,
    ) -> Result<Self, BlameError> {
        let shallow = match read_if_present(&common_dir.join("shallow"))? {
            Some(content) if !content.is_empty() => Some(blob_id(&content)?),
            _ => None,
        };
        let files = configured_files(repository, workdir)?;
        let mut content = Vec::new();
        for file in files {
            if let Some(listed) = read_if_present(&file)? {
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

/// The `blame.ignoreRevsFile` values, as `git blame` takes them: every non-empty value, a relative one under
/// the work tree (git runs blame from the top of the work tree), `~/` under $HOME. git keeps the configured
/// names sorted and without repeats, so an empty value (which its documentation says resets the list) sorts
/// first and resets nothing; the order does not matter otherwise, the lists are merged.
fn configured_files(repository: &Repository, workdir: &Path) -> Result<Vec<PathBuf>, BlameError> {
    let config = repository.config()?;
    let mut entries = match config.multivar("blame.ignoreRevsFile", None) {
        Ok(entries) => entries,
        Err(error) if error.code() == ErrorCode::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error.into()),
    };
    let mut files = Vec::new();
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let value = entry.value_bytes();
        if value.is_empty() {
            continue;
        }
        files.push(resolve(path_of(value), workdir));
    }
    Ok(files)
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
