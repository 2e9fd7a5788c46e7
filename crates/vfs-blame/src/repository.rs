use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::{ErrorCode, ObjectType, Oid, Repository};

use crate::error::BlameError;
use crate::settings::HistorySettings;

/// The version of a file that HEAD holds.
pub(crate) struct HeadFile {
    pub commit: Oid,
    pub blob: Oid,
    pub content: Vec<u8>,
}

/// Read access to one repository for the questions every engine shares: where it is, what HEAD is,
/// and what HEAD holds at a path.
pub(crate) struct RepositoryHandle {
    workdir: PathBuf,
    git_dir: PathBuf,
    // Where `shallow` lives: the main repository's git dir for a linked work tree.
    common_dir: PathBuf,
    // git2::Repository is Send but not Sync; its lookups are short, so one lock is enough.
    repository: Mutex<Repository>,
}

impl RepositoryHandle {
    pub fn discover(path: &Path) -> Result<Self, BlameError> {
        let repository = Repository::discover(path).map_err(|error| match error.code() {
            ErrorCode::NotFound => BlameError::NotARepository(path.to_path_buf()),
            _ => BlameError::from(error),
        })?;
        let workdir = repository
            .workdir()
            .ok_or_else(|| BlameError::NotARepository(path.to_path_buf()))?
            .to_path_buf();
        let git_dir = repository.path().to_path_buf();
        let common_dir = repository.commondir().to_path_buf();
        Ok(Self {
            workdir: strip_trailing_separator(workdir),
            git_dir: strip_trailing_separator(git_dir),
            common_dir: strip_trailing_separator(common_dir),
            repository: Mutex::new(repository),
        })
    }

    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    fn with_repository<T>(&self, action: impl FnOnce(&Repository) -> T) -> T {
        // A panic while holding the lock cannot leave the repository handle half-changed: it is only read.
        let guard = self
            .repository
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        action(&guard)
    }

    pub fn head_commit(&self) -> Result<Option<Oid>, BlameError> {
        self.with_repository(|repository| match repository.head() {
            Ok(head) => Ok(Some(head.peel_to_commit()?.id())),
            Err(error) if matches!(error.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => {
                Ok(None)
            }
            Err(error) => Err(error.into()),
        })
    }

    /// The shallow boundary and the ignored revisions, as they are now.
    pub fn history_settings(&self) -> Result<HistorySettings, BlameError> {
        self.with_repository(|repository| {
            HistorySettings::read(repository, &self.common_dir, &self.workdir)
        })
    }

    /// The blob at `relative_path` in `commit`, or None where that commit does not track a regular file there.
    pub fn file_at(
        &self,
        commit: Oid,
        relative_path: &Path,
    ) -> Result<Option<HeadFile>, BlameError> {
        self.with_repository(|repository| {
            let tree = repository.find_commit(commit)?.tree()?;
            let entry = match tree.get_path(relative_path) {
                Ok(entry) => entry,
                Err(error) if error.code() == ErrorCode::NotFound => return Ok(None),
                Err(error) => return Err(error.into()),
            };
            if entry.kind() != Some(ObjectType::Blob) {
                return Ok(None);
            }
            let blob = repository.find_blob(entry.id())?;
            Ok(Some(HeadFile {
                commit,
                blob: blob.id(),
                content: blob.content().to_vec(),
            }))
        })
    }
}

/// The blob id git would give `content`, to recognise content identical to HEAD's without a diff.
pub(crate) fn blob_id(content: &[u8]) -> Result<Oid, BlameError> {
    Ok(Oid::hash_object(ObjectType::Blob, content)?)
}

fn strip_trailing_separator(path: PathBuf) -> PathBuf {
    path.components().collect()
}
