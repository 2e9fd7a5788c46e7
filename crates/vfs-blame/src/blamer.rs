use std::path::{Path, PathBuf};
use std::sync::Arc;

use gix::ObjectId;

use crate::cache::StateCache;
use crate::engine::{BlameEngine, EngineKind, Scope};
use crate::error::BlameError;
use crate::lines::split_lines;
use crate::map::map_onto_content;
use crate::normalize::Normalizer;
use crate::origin::{FileBlame, LineOrigin};
use crate::repository::{blob_id, HeadFile, RepositoryHandle};
use crate::settings::HistorySettings;

/// The blame of a file's version in one commit: its content and each line's origin.
struct CommittedBlame {
    file: HeadFile,
    lines: Vec<LineOrigin>,
}

/// Blames files of one repository work tree, caching per file state. Send + Sync; share it in an Arc.
pub struct Blamer {
    repository: RepositoryHandle,
    engine: Box<dyn BlameEngine>,
    engine_kind: EngineKind,
    normalizer: Normalizer,
    // Keyed on (HEAD commit, history settings): an edit to the file reuses this and only runs a diff. The
    // settings (the shallow boundary, the content of the configured ignore-revs files) are read at each call.
    committed: StateCache<(ObjectId, HistorySettings), Option<CommittedBlame>>,
    // Keyed on (HEAD commit, blob id of the content as read, history settings): the answer handed out. A change
    // of attributes or of line-ending configuration alone is not seen until the content or HEAD changes.
    current: StateCache<(Option<ObjectId>, ObjectId, HistorySettings), FileBlame>,
}

impl Blamer {
    /// Opens the repository containing `path` (a directory inside a work tree), with the default engine.
    pub fn discover(path: &Path) -> Result<Blamer, BlameError> {
        Self::discover_with_engine(path, EngineKind::DEFAULT)
    }

    /// Like [`Blamer::discover`], with a chosen engine (for comparisons and benchmarks).
    pub fn discover_with_engine(
        path: &Path,
        engine_kind: EngineKind,
    ) -> Result<Blamer, BlameError> {
        let repository = RepositoryHandle::discover(path)?;
        let engine = engine_kind.build(&repository)?;
        let normalizer = Normalizer::new(&repository)?;
        Ok(Blamer {
            repository,
            engine,
            engine_kind,
            normalizer,
            committed: StateCache::new(),
            current: StateCache::new(),
        })
    }

    /// The same blamer, walking the histories of HEAD's files under `under` (a folder relative to the work
    /// tree) that `include` accepts (given their paths relative to the work tree) together: the first blame
    /// of one of them from a HEAD walks the history once for all of them, and the others' blames from that
    /// HEAD only diff their own versions. For a first pass over many files (a folder tree of config files);
    /// the answers are the same as without it. The parallel engine walks together; the others ignore it.
    pub fn with_shared_history(
        mut self,
        under: impl Into<PathBuf>,
        include: impl Fn(&Path) -> bool + Send + Sync + 'static,
    ) -> Blamer {
        self.engine.share_history_walk(Scope {
            under: under.into(),
            include: Arc::new(include),
        });
        self
    }

    /// The work tree root.
    pub fn workdir(&self) -> &Path {
        self.repository.workdir()
    }

    /// The repository's git directory (HEAD, refs and index live there), for watchers.
    pub fn git_dir(&self) -> &Path {
        self.repository.git_dir()
    }

    /// The engine this blamer uses.
    pub fn engine(&self) -> EngineKind {
        self.engine_kind
    }

    /// Hex id of HEAD's commit; None for an unborn branch.
    pub fn head_commit(&self) -> Result<Option<String>, BlameError> {
        Ok(self
            .repository
            .head_commit()?
            .map(|commit| commit.to_string()))
    }

    /// Per-line origin of `content` (the file's current bytes) for the file at `relative_path` (relative to the
    /// work tree). Lines kept from HEAD's version carry the committer time of the commit that last changed them;
    /// other lines, and every line of a file HEAD does not track, are Uncommitted. The same (HEAD, path, content)
    /// returns the same Arc without recomputing, while the shallow boundary (`shallow`) and the content of the
    /// configured `blame.ignoreRevsFile`s stay the same (they are read at each call).
    ///
    /// `content` is compared with HEAD as git compares it: converted first as `git add` would convert it
    /// (line endings under `core.autocrlf` or `text`/`eol` attributes; see `normalize.rs` for what is left
    /// out), so a work tree checked out with CRLF over LF blobs is not all Uncommitted. The answer has one
    /// entry per line of `content` as given, in its order.
    pub fn blame(
        &self,
        relative_path: &Path,
        content: &[u8],
    ) -> Result<Arc<FileBlame>, BlameError> {
        let head = self.repository.head_commit()?;
        let content_id = blob_id(content)?;
        let settings = self.repository.history_settings()?;
        let key = (head, content_id, settings.clone());
        if let Some(cached) = self.current.get(relative_path, &key) {
            return Ok(cached);
        }
        let committed = match head {
            Some(head) => Some(self.committed_blame(head, relative_path, settings)?),
            None => None,
        };
        let lines = match committed.as_deref() {
            Some(Some(committed)) => {
                let converted = self.normalizer.to_git(relative_path, content)?;
                let (as_git, as_git_id) = match &converted {
                    Some(converted) => (converted.as_slice(), blob_id(converted)?),
                    None => (content, content_id),
                };
                if committed.file.blob == as_git_id {
                    committed.lines.clone()
                } else {
                    map_onto_content(&committed.file.content, &committed.lines, as_git)
                }
            }
            _ => vec![LineOrigin::Uncommitted; split_lines(content).len()],
        };
        Ok(self
            .current
            .insert(relative_path, key, Arc::new(FileBlame { lines })))
    }

    fn committed_blame(
        &self,
        head: ObjectId,
        relative_path: &Path,
        settings: HistorySettings,
    ) -> Result<Arc<Option<CommittedBlame>>, BlameError> {
        let key = (head, settings);
        if let Some(cached) = self.committed.get(relative_path, &key) {
            return Ok(cached);
        }
        let blame = match self.repository.file_at(head, relative_path)? {
            None => None,
            Some(file) => {
                let lines = self.engine.blame_committed(&file, relative_path, &key.1)?;
                let expected = split_lines(&file.content).len();
                if lines.len() != expected {
                    return Err(BlameError::Git(format!(
                        "{} blamed {} lines of {} where HEAD has {expected}",
                        self.engine_kind.name(),
                        lines.len(),
                        relative_path.display()
                    )));
                }
                Some(CommittedBlame { file, lines })
            }
        };
        Ok(self.committed.insert(relative_path, key, Arc::new(blame)))
    }
}
