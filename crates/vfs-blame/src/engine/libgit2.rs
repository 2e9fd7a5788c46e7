use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::{BlameOptions, Oid, Repository};

use super::BlameEngine;
use crate::error::BlameError;
use crate::origin::LineOrigin;
use crate::repository::{HeadFile, RepositoryHandle};
use crate::settings::HistorySettings;

/// libgit2's blame, with a repository opened per call (git2::Repository is not Sync).
pub(crate) struct Libgit2Engine {
    git_dir: PathBuf,
}

impl Libgit2Engine {
    pub fn new(repository: &RepositoryHandle) -> Self {
        Self {
            git_dir: repository.git_dir().to_path_buf(),
        }
    }
}

impl BlameEngine for Libgit2Engine {
    fn blame_committed(
        &self,
        file: &HeadFile,
        relative_path: &Path,
        _settings: &HistorySettings,
    ) -> Result<Vec<LineOrigin>, BlameError> {
        let repository = Repository::open(&self.git_dir)?;
        let mut options = BlameOptions::new();
        // The ids meet here: gix's (the repository handle's) and libgit2's are the same bytes.
        options.newest_commit(Oid::from_bytes(file.commit.as_bytes())?);
        let blame = repository.blame_file(relative_path, Some(&mut options))?;
        let mut commit_times: HashMap<Oid, i64> = HashMap::new();
        let mut lines = Vec::new();
        for hunk in blame.iter() {
            let commit = hunk.final_commit_id();
            let commit_time = match commit_times.get(&commit) {
                Some(time) => *time,
                None => {
                    let time = repository.find_commit(commit)?.committer().when().seconds();
                    commit_times.insert(commit, time);
                    time
                }
            };
            let first = hunk.final_start_line().saturating_sub(1);
            let end = first + hunk.lines_in_hunk();
            if lines.len() < end {
                lines.resize(end, None);
            }
            let origin = LineOrigin::Committed {
                commit_time,
                commit: commit.to_string(),
            };
            for line in &mut lines[first..end] {
                *line = Some(origin.clone());
            }
        }
        lines
            .into_iter()
            .map(|line| {
                line.ok_or_else(|| {
                    BlameError::Git("libgit2 blame left a line unassigned".to_string())
                })
            })
            .collect()
    }
}
