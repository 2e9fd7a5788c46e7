//! Blame for a file whose history is a chain (no merge changed it, no rename created it): the diffs
//! between consecutive versions do not depend on each other, so they are computed on every core while
//! one thread carries the still-unblamed lines back through them. Anything else goes to the git CLI,
//! which measured at least as fast as gix-blame there (docs/benchmarks.md).
//!
//! The history is the one `git rev-list --parents HEAD -- path` simplifies to, which is also the one
//! `git blame` walks: a merge whose version equals one parent's follows that parent only. For a file
//! of the shared scope ([`ParallelEngine::share_history_walk`]) it comes from one walk of the history
//! for every file of the scope (`history.rs`); for any other file, from `git rev-list`.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};

use gix::ObjectId;
use gix_imara_diff::{Algorithm, Diff, Hunk, InternedInput};
use parking_lot::Mutex;

use super::cli::GitCliEngine;
use super::history::{HistoryIndex, Walked};
use super::BlameEngine;
use super::Scope;
use crate::error::BlameError;
use crate::lines::split_lines;
use crate::origin::LineOrigin;
use crate::repository::{HeadFile, RepositoryHandle};
use crate::settings::{HistorySettings, IgnoreRevs};

/// Consecutive diffs one worker takes at a time: each version is decoded once per batch, and a
/// finished blame wastes at most one batch per worker.
const BATCH: usize = 16;

/// Commits whose renames are remembered ([`ParallelEngine::was_renamed_in`]); all are forgotten past it.
const REMEMBERED_RENAMES: usize = 4096;

pub(crate) struct ParallelEngine {
    repository: gix::ThreadSafeRepository,
    workdir: PathBuf,
    git_dir: PathBuf,
    fallback: GitCliEngine,
    /// The files whose histories are walked together, if any.
    scope: Option<Scope>,
    /// The shared walk of the latest HEAD (and shallow boundary) asked about.
    shared: Mutex<Option<Arc<SharedWalk>>>,
    /// The files each commit renamed (by `git diff-tree -M`); None where git could not say.
    renames: Mutex<HashMap<ObjectId, Option<Arc<HashSet<PathBuf>>>>>,
}

/// The history of every file of the scope from one HEAD, walked once, by the first blame that needs it.
struct SharedWalk {
    head: ObjectId,
    shallow: Option<ObjectId>,
    /// None where the walk could not be made: each file walks on its own then.
    index: OnceLock<Option<HistoryIndex>>,
}

/// One version of the file on its chain, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub commit: ObjectId,
    /// The blob at `commit`; None where the chain reached a commit without the file.
    pub blob: Option<ObjectId>,
}

impl ParallelEngine {
    pub fn new(repository: &RepositoryHandle) -> Result<Self, BlameError> {
        Ok(Self {
            repository: gix::ThreadSafeRepository::open(repository.git_dir()).map_err(gix_error)?,
            workdir: repository.workdir().to_path_buf(),
            git_dir: repository.git_dir().to_path_buf(),
            fallback: GitCliEngine::new(repository),
            scope: None,
            shared: Mutex::new(None),
            renames: Mutex::new(HashMap::new()),
        })
    }

    /// The shared walk's answer for `relative_path` from `head`, where the file is in the scope and
    /// the walk could be made.
    pub(super) fn walked(
        &self,
        head: ObjectId,
        relative_path: &Path,
        settings: &HistorySettings,
    ) -> Option<Walked> {
        let scope = self.scope.as_ref()?;
        if !relative_path.starts_with(&scope.under) || !(scope.include)(relative_path) {
            return None;
        }
        let shared = {
            let mut slot = self.shared.lock();
            match slot.as_ref() {
                Some(shared) if shared.head == head && shared.shallow == settings.shallow => {
                    shared.clone()
                }
                _ => {
                    let shared = Arc::new(SharedWalk {
                        head,
                        shallow: settings.shallow,
                        index: OnceLock::new(),
                    });
                    *slot = Some(shared.clone());
                    shared
                }
            }
        };
        // The first caller walks; the others wait for it (they would walk the same commits).
        let index = shared.index.get_or_init(|| {
            let mut repository = self.repository.to_thread_local();
            repository.object_cache_size_if_unset(16 * 1024 * 1024);
            HistoryIndex::build(&repository, head, scope).ok().flatten()
        });
        index.as_ref()?.take(relative_path)
    }

    fn git(&self, args: &[&str], path: &Path) -> Result<String, BlameError> {
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(&self.git_dir)
            .arg("--work-tree")
            .arg(&self.workdir)
            .args(args)
            .arg("--")
            .arg(path)
            .current_dir(&self.workdir)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| BlameError::Io {
                context: format!("running git {}", args.first().copied().unwrap_or_default()),
                source,
            })?;
        if !output.status.success() {
            return Err(BlameError::Git(format!(
                "git {args:?}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        String::from_utf8(output.stdout)
            .map_err(|_| BlameError::Git("git printed non-UTF-8 ids".to_string()))
    }

    /// The file's chain of versions from `head` back, or None where the history is not a chain.
    fn chain(
        &self,
        head: ObjectId,
        relative_path: &Path,
        settings: &HistorySettings,
    ) -> Result<Option<Vec<Version>>, BlameError> {
        let walked = match self.walked(head, relative_path, settings) {
            Some(walked) => walked,
            None => self.listed_chain(head, relative_path)?,
        };
        let Walked::Chain { versions, created } = walked else {
            return Ok(None);
        };
        if versions.is_empty() {
            return Ok(None);
        }
        if let Some(created) = created {
            // Made from a parent without the file: git blame follows a rename there.
            let repository = self.repository.to_thread_local();
            if self.was_renamed_in(created, &repository, relative_path)? {
                return Ok(None);
            }
        }
        Ok(Some(versions))
    }

    /// The file's history as `git rev-list --parents HEAD -- path` lists it.
    pub(super) fn listed_chain(
        &self,
        head: ObjectId,
        relative_path: &Path,
    ) -> Result<Walked, BlameError> {
        let listing = self.git(&["rev-list", "--parents", &head.to_string()], relative_path)?;
        let repository = self.repository.to_thread_local();
        let mut versions = Vec::new();
        let mut created = None;
        // The newest listed commit is the last to change the file, which HEAD holds as that commit left it.
        let mut expected_next: Option<String> = None;
        for line in listing.lines() {
            let ids: Vec<&str> = line.split(' ').collect();
            let chained =
                expected_next.is_none() || expected_next.as_deref() == ids.first().copied();
            if ids.len() > 2 || !chained {
                return Ok(Walked::NotAChain);
            }
            let commit = ObjectId::from_hex(ids[0].as_bytes()).map_err(gix_error)?;
            let blob = blob_at(&repository, commit, relative_path)?;
            if blob.is_some() && ids.len() == 1 {
                // Nothing older is listed: the file was made here.
                created = Some(commit);
            }
            versions.push(Version { commit, blob });
            expected_next = ids.get(1).map(|id| id.to_string());
            if blob.is_none() {
                // The file did not exist here: lines of the newer version were added by it.
                break;
            }
        }
        if versions.len() >= 2 && versions[versions.len() - 1].blob.is_none() {
            // The oldest version was made from a parent without the file.
            created = Some(versions[versions.len() - 2].commit);
        }
        Ok(Walked::Chain { versions, created })
    }

    fn was_renamed_in(
        &self,
        commit: ObjectId,
        repository: &gix::Repository,
        relative_path: &Path,
    ) -> Result<bool, BlameError> {
        let has_parent = repository
            .find_commit(commit)
            .map_err(gix_error)?
            .parent_ids()
            .next()
            .is_some();
        if !has_parent {
            return Ok(false);
        }
        let known = self.renames.lock().get(&commit).cloned();
        let destinations = match known {
            Some(destinations) => destinations,
            None => {
                let destinations = self.renamed_by(commit)?;
                let mut renames = self.renames.lock();
                if renames.len() >= REMEMBERED_RENAMES {
                    renames.clear();
                }
                renames.insert(commit, destinations.clone());
                destinations
            }
        };
        Ok(destinations.is_none_or(|destinations| destinations.contains(relative_path)))
    }

    /// The files `commit` made by renaming another, as `git diff-tree -M` sees them; None where git
    /// could not say.
    fn renamed_by(&self, commit: ObjectId) -> Result<Option<Arc<HashSet<PathBuf>>>, BlameError> {
        // Without a pathspec the rename's source is visible; filter the printed destinations ourselves.
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(&self.git_dir)
            .args([
                "diff-tree",
                "-M",
                "-r",
                "--diff-filter=R",
                "--name-only",
                "--no-commit-id",
            ])
            .arg(commit.to_string())
            .stdin(Stdio::null())
            .output()
            .map_err(|source| BlameError::Io {
                context: "running git diff-tree".to_string(),
                source,
            })?;
        if !output.status.success() {
            return Ok(None);
        }
        let destinations = String::from_utf8_lossy(&output.stdout);
        Ok(Some(Arc::new(
            destinations.lines().map(PathBuf::from).collect(),
        )))
    }
}

impl BlameEngine for ParallelEngine {
    fn share_history_walk(&mut self, scope: Scope) {
        self.scope = Some(scope);
        *self.shared.get_mut() = None;
    }

    fn blame_committed(
        &self,
        file: &HeadFile,
        relative_path: &Path,
        settings: &HistorySettings,
    ) -> Result<Vec<LineOrigin>, BlameError> {
        let head = file.commit;
        let Some(versions) = self.chain(head, relative_path, settings)? else {
            return self.fallback.blame_committed(file, relative_path, settings);
        };
        if let Some(ignored) = &settings.ignore_revs {
            if self.may_pass_over(ignored, &versions)? {
                return self.fallback.blame_committed(file, relative_path, settings);
            }
        }
        let line_count = split_lines(&file.content).len();
        let blamed = self.walk(&versions, line_count)?;
        let repository = self.repository.to_thread_local();
        let mut origins: HashMap<usize, LineOrigin> = HashMap::new();
        let mut lines = Vec::with_capacity(line_count);
        for version in blamed {
            let origin = match origins.entry(version) {
                Entry::Occupied(known) => known.get().clone(),
                Entry::Vacant(unknown) => {
                    let commit = versions[version].commit;
                    let commit_time = repository
                        .find_commit(commit)
                        .map_err(gix_error)?
                        .time()
                        .map_err(gix_error)?
                        .seconds;
                    unknown
                        .insert(LineOrigin::Committed {
                            commit_time,
                            commit: commit.to_string(),
                        })
                        .clone()
                }
            };
            lines.push(origin);
        }
        Ok(lines)
    }
}

impl ParallelEngine {
    /// Whether `git blame` may pass over a commit of the chain: one is listed, or a listed object is a tag
    /// (git peels it to its commit) or something git may stop on. Ignoring a commit that did not change the
    /// file changes nothing, so only then does the git CLI blame instead.
    fn may_pass_over(
        &self,
        ignored: &IgnoreRevs,
        versions: &[Version],
    ) -> Result<bool, BlameError> {
        if ignored.malformed {
            return Ok(true);
        }
        let repository = self.repository.to_thread_local();
        let chain: HashSet<ObjectId> = versions.iter().map(|version| version.commit).collect();
        for id in ignored.ids.iter() {
            let id = ObjectId::from_hex(id.as_bytes()).map_err(gix_error)?;
            if chain.contains(&id) {
                return Ok(true);
            }
            match repository.try_find_header(id).map_err(gix_error)? {
                None => {}
                Some(header) if header.kind() == gix::object::Kind::Commit => {}
                Some(_) => return Ok(true),
            }
        }
        Ok(false)
    }

    /// For each line of the newest version, the index in `versions` of the version that introduced it.
    fn walk(&self, versions: &[Version], line_count: usize) -> Result<Vec<usize>, BlameError> {
        // Pair k compares version k (newer) with version k + 1 (older), where the older one has the file.
        let pairs = versions
            .iter()
            .skip(1)
            .take_while(|version| version.blob.is_some())
            .count();
        let mut origin: Vec<Option<usize>> = vec![None; line_count];
        // (line in the newest version, its position in the version being looked at), ordered by position.
        let mut pending: Vec<(usize, u32)> =
            (0..line_count).map(|line| (line, line as u32)).collect();
        let workers = std::thread::available_parallelism()
            .map_or(2, |count| count.get())
            .clamp(1, 4);
        let next_batch = AtomicUsize::new(0);
        let finished = AtomicBool::new(false);
        let result = std::thread::scope(|scope| -> Result<(), BlameError> {
            let (sender, receiver) = mpsc::channel::<Result<(usize, Vec<Hunk>), BlameError>>();
            for _ in 0..workers {
                let sender = sender.clone();
                let (next_batch, finished) = (&next_batch, &finished);
                scope.spawn(move || {
                    let repository = self.repository.to_thread_local();
                    loop {
                        let start = next_batch.fetch_add(BATCH, Ordering::Relaxed);
                        if start >= pairs || finished.load(Ordering::Relaxed) {
                            return;
                        }
                        let end = (start + BATCH).min(pairs);
                        if let Err(error) =
                            diff_batch(&repository, versions, start..end, &sender, finished)
                        {
                            let _ = sender.send(Err(error));
                            return;
                        }
                    }
                });
            }
            drop(sender);
            let mut waiting: HashMap<usize, Vec<Hunk>> = HashMap::new();
            let mut pair = 0;
            while pair < pairs && !pending.is_empty() {
                let hunks = match waiting.remove(&pair) {
                    Some(hunks) => hunks,
                    None => match receiver.recv() {
                        Ok(Ok((index, hunks))) => {
                            waiting.insert(index, hunks);
                            continue;
                        }
                        Ok(Err(error)) => {
                            finished.store(true, Ordering::Relaxed);
                            return Err(error);
                        }
                        Err(_) => {
                            return Err(BlameError::Git("a diff worker stopped early".to_string()));
                        }
                    },
                };
                pending = pass_to_parent(std::mem::take(&mut pending), &hunks, pair, &mut origin);
                pair += 1;
            }
            finished.store(true, Ordering::Relaxed);
            Ok(())
        });
        result?;
        // What is left was there when the oldest version with the file was made.
        for (line, _) in pending {
            origin[line] = Some(pairs);
        }
        Ok(origin
            .into_iter()
            .map(|version| version.unwrap_or(pairs))
            .collect())
    }
}

/// Lines inside a hunk's new side were made by version `pair`; the others move to their place in the older version.
fn pass_to_parent(
    pending: Vec<(usize, u32)>,
    hunks: &[Hunk],
    pair: usize,
    origin: &mut [Option<usize>],
) -> Vec<(usize, u32)> {
    let mut remaining = Vec::with_capacity(pending.len());
    let mut hunk_index = 0;
    let mut shift: i64 = 0;
    for (line, position) in pending {
        while hunk_index < hunks.len() && hunks[hunk_index].after.end <= position {
            let hunk = &hunks[hunk_index];
            shift += i64::from(hunk.before.len() as u32) - i64::from(hunk.after.len() as u32);
            hunk_index += 1;
        }
        match hunks.get(hunk_index) {
            Some(hunk) if hunk.after.contains(&position) => origin[line] = Some(pair),
            _ => remaining.push((line, (i64::from(position) + shift) as u32)),
        }
    }
    remaining
}

/// Diffs pairs `range` (each version against the next older one) with git blame's line diff (Myers with
/// git's slider heuristics). Each version is decoded and its lines interned once per batch.
fn diff_batch(
    repository: &gix::Repository,
    versions: &[Version],
    range: std::ops::Range<usize>,
    sender: &mpsc::Sender<Result<(usize, Vec<Hunk>), BlameError>>,
    finished: &AtomicBool,
) -> Result<(), BlameError> {
    let blobs = versions[range.start..=range.end]
        .iter()
        .map(|version| read_blob(repository, version.blob))
        .collect::<Result<Vec<_>, _>>()?;
    let mut input: InternedInput<&[u8]> = InternedInput::default();
    input.update_before(lines_of(&blobs[0]));
    for (offset, pair) in range.enumerate() {
        if finished.load(Ordering::Relaxed) {
            return Ok(());
        }
        std::mem::swap(&mut input.before, &mut input.after);
        input.update_before(lines_of(&blobs[offset + 1]));
        let mut diff = Diff::compute(Algorithm::Myers, &input);
        diff.postprocess_lines(&input);
        if sender.send(Ok((pair, diff.hunks().collect()))).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

fn lines_of(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    content.split_inclusive(|byte| *byte == b'\n')
}

fn read_blob(repository: &gix::Repository, blob: Option<ObjectId>) -> Result<Vec<u8>, BlameError> {
    match blob {
        Some(id) => Ok(repository.find_blob(id).map_err(gix_error)?.detach().data),
        None => Ok(Vec::new()),
    }
}

fn blob_at(
    repository: &gix::Repository,
    commit: ObjectId,
    relative_path: &Path,
) -> Result<Option<ObjectId>, BlameError> {
    let tree = repository
        .find_commit(commit)
        .map_err(gix_error)?
        .tree()
        .map_err(gix_error)?;
    Ok(tree
        .lookup_entry_by_path(relative_path)
        .map_err(gix_error)?
        .filter(|entry| entry.mode().is_blob())
        .map(|entry| entry.object_id()))
}

fn gix_error(error: impl std::fmt::Display) -> BlameError {
    BlameError::Git(error.to_string())
}
