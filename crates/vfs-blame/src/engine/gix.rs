use std::collections::HashMap;
use std::path::Path;

use gix::bstr::ByteSlice;
use gix::ObjectId;

use super::BlameEngine;
use crate::error::BlameError;
use crate::origin::LineOrigin;
use crate::repository::{HeadFile, RepositoryHandle};
use crate::settings::HistorySettings;

/// gix-blame (gitoxide), following renames like `git blame` does.
pub(crate) struct GixEngine {
    repository: gix::ThreadSafeRepository,
}

impl GixEngine {
    pub fn new(repository: &RepositoryHandle) -> Result<Self, BlameError> {
        let repository =
            gix::ThreadSafeRepository::open(repository.git_dir()).map_err(gix_error)?;
        Ok(Self { repository })
    }
}

impl BlameEngine for GixEngine {
    fn blame_committed(
        &self,
        file: &HeadFile,
        relative_path: &Path,
        _settings: &HistorySettings,
    ) -> Result<Vec<LineOrigin>, BlameError> {
        let repository = self.repository.to_thread_local();
        let path = gix::path::os_str_into_bstr(relative_path.as_os_str()).map_err(|_| {
            BlameError::Git(format!(
                "path is not valid UTF-8: {}",
                relative_path.display()
            ))
        })?;
        let path = gix::path::to_unix_separators_on_windows(path);
        let commit = file.commit;
        let options = gix::repository::blame_file::Options {
            diff_algorithm: Some(gix::diff::blob::Algorithm::Myers),
            rewrites: Some(gix::diff::Rewrites::default()),
            ..Default::default()
        };
        let outcome = repository
            .blame_file(path.as_bstr(), commit, options)
            .map_err(gix_error)?;
        let mut commit_times: HashMap<ObjectId, i64> = HashMap::new();
        let mut lines: Vec<Option<LineOrigin>> = Vec::new();
        for entry in &outcome.entries {
            let commit_time = match commit_times.get(&entry.commit_id) {
                Some(time) => *time,
                None => {
                    let time = repository
                        .find_commit(entry.commit_id)
                        .map_err(gix_error)?
                        .time()
                        .map_err(gix_error)?
                        .seconds;
                    commit_times.insert(entry.commit_id, time);
                    time
                }
            };
            let first = entry.start_in_blamed_file as usize;
            let end = first + entry.len.get() as usize;
            if lines.len() < end {
                lines.resize(end, None);
            }
            let origin = LineOrigin::Committed {
                commit_time,
                commit: entry.commit_id.to_string(),
            };
            for line in &mut lines[first..end] {
                *line = Some(origin.clone());
            }
        }
        lines
            .into_iter()
            .map(|line| {
                line.ok_or_else(|| BlameError::Git("gix blame left a line unassigned".to_string()))
            })
            .collect()
    }
}

fn gix_error(error: impl std::fmt::Display) -> BlameError {
    BlameError::Git(error.to_string())
}
