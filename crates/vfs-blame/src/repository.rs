use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::error::BlameError;
use crate::settings::{HistorySettings, IgnoreRevsConfig};

/// The version of a file that HEAD holds.
pub(crate) struct HeadFile {
    pub commit: ObjectId,
    pub blob: ObjectId,
    pub content: Vec<u8>,
}

/// Read access to one repository for the questions every engine shares: where it is, what HEAD is,
/// and what HEAD holds at a path.
pub(crate) struct RepositoryHandle {
    workdir: PathBuf,
    git_dir: PathBuf,
    // Where `shallow` lives: the main repository's git dir for a linked work tree.
    common_dir: PathBuf,
    // Each call takes a thread-local handle of its own: HEAD and the refs are read from disk at each
    // call, and objects written since (new commits, new packs) are found.
    repository: gix::ThreadSafeRepository,
    // The configured `blame.ignoreRevsFile`s, read again when a configuration file changes.
    ignore_revs_config: IgnoreRevsConfig,
}

impl RepositoryHandle {
    /// The repository whose work tree holds `path`, found upwards from it as libgit2 and git find it
    /// (across file systems; a repository the current user does not own is refused, as git does unless
    /// `safe.directory` names it).
    pub fn discover(path: &Path) -> Result<Self, BlameError> {
        let options = open_options();
        let discovery = gix::discover::upwards::Options {
            cross_fs: true,
            ..Default::default()
        };
        // From an absolute path, so that the repository's paths stay right if the process changes folder.
        let start = std::path::absolute(path).map_err(|source| BlameError::Io {
            context: format!("resolving {}", path.display()),
            source,
        })?;
        let repository = gix::ThreadSafeRepository::discover_opts(
            &start,
            discovery,
            gix::sec::trust::Mapping {
                full: options.clone(),
                reduced: options,
            },
        )
        .map_err(|error| {
            if finds_no_repository(&error) {
                BlameError::NotARepository(path.to_path_buf())
            } else {
                BlameError::from(error)
            }
        })?;
        let workdir = repository
            .work_dir()
            .ok_or_else(|| BlameError::NotARepository(path.to_path_buf()))?;
        let workdir = real_path(workdir)?;
        let local = repository.to_thread_local();
        let git_dir = real_path(local.git_dir())?;
        let common_dir = real_path(local.common_dir())?;
        let ignore_revs_config = IgnoreRevsConfig::new(&local, &git_dir, &common_dir);
        drop(local);
        Ok(Self {
            workdir,
            git_dir,
            common_dir,
            repository,
            ignore_revs_config,
        })
    }

    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    pub fn head_commit(&self) -> Result<Option<ObjectId>, BlameError> {
        let repository = self.repository.to_thread_local();
        let mut head = repository.head()?;
        if head.is_unborn() {
            return Ok(None);
        }
        let commit = head.peel_to_commit()?.id;
        Ok(Some(commit))
    }

    /// The shallow boundary and the ignored revisions, as they are now.
    pub fn history_settings(&self) -> Result<HistorySettings, BlameError> {
        let files = self.ignore_revs_config.files(&self.workdir, || {
            Ok(
                gix::ThreadSafeRepository::open_opts(&self.git_dir, open_options())?
                    .to_thread_local(),
            )
        })?;
        HistorySettings::read(&files, &self.common_dir)
    }

    /// The blob at `relative_path` in `commit`, or None where that commit does not track a regular file
    /// there (nothing, a folder, a symbolic link or a submodule).
    pub fn file_at(
        &self,
        commit: ObjectId,
        relative_path: &Path,
    ) -> Result<Option<HeadFile>, BlameError> {
        let repository = self.repository.to_thread_local();
        let tree = repository.find_commit(commit)?.tree()?;
        let Some(entry) = tree.lookup_entry_by_path(relative_path)? else {
            return Ok(None);
        };
        // A regular file, executable or not; not a link (whose blob is its target's name).
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        let blob = repository.find_blob(entry.object_id())?;
        Ok(Some(HeadFile {
            commit,
            blob: blob.id,
            content: blob.detach().data,
        }))
    }
}

/// The blob id git would give `content` (`git hash-object`), to recognise content identical to HEAD's
/// without a diff.
pub(crate) fn blob_id(content: &[u8]) -> Result<ObjectId, BlameError> {
    gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, content)
        .map_err(|error| BlameError::Git(format!("hashing content: {error}")))
}

/// How the repository is opened: all the configuration git reads (system, global, local, worktree,
/// includes, `GIT_CONFIG_*`), and no repository the current user does not own (unless `safe.directory`
/// allows it), as libgit2 refused one.
fn open_options() -> gix::open::Options {
    gix::open::Options::default().bail_if_untrusted(true)
}

/// Whether discovery failed because no repository is there, rather than because one could not be read.
fn finds_no_repository(error: &gix::Error) -> bool {
    use gix::discover::upwards::Error;
    if let Some(error) = error.downcast_any_ref::<Error>() {
        return matches!(
            error,
            Error::NoGitRepository { .. }
                | Error::NoGitRepositoryWithinCeiling { .. }
                | Error::NoGitRepositoryWithinFs { .. }
        );
    }
    // A start that does not exist has no repository (libgit2 answered "not found" there too).
    error
        .downcast_any_ref::<std::io::Error>()
        .is_some_and(|error| error.kind() == std::io::ErrorKind::NotFound)
}

/// `path` with symbolic links resolved, as libgit2 gave the repository's paths.
fn real_path(path: &Path) -> Result<PathBuf, BlameError> {
    std::fs::canonicalize(path).map_err(|source| BlameError::Io {
        context: format!("resolving {}", path.display()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use super::blob_id;

    /// `git hash-object --stdin` is the oracle.
    #[test]
    fn blob_ids_are_gits() {
        for content in [&b""[..], b"a: 1\n", b"a: 1\r\nb: 2", b"\0binary\xff\n"] {
            let mut git = Command::new("git")
                .args(["hash-object", "--stdin"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("run git");
            git.stdin
                .take()
                .expect("stdin")
                .write_all(content)
                .expect("write to git");
            let output = git.wait_with_output().expect("wait for git");
            assert!(output.status.success());
            let expected = String::from_utf8(output.stdout).expect("hex");
            assert_eq!(
                blob_id(content).expect("hash").to_string(),
                expected.trim(),
                "{content:?}"
            );
        }
    }
}
