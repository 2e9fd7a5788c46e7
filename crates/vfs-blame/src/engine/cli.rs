use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::BlameEngine;
use crate::error::BlameError;
use crate::origin::LineOrigin;
use crate::repository::{HeadFile, RepositoryHandle};

/// Runs `git blame --porcelain <commit> -- <path>` and reads its output.
pub(crate) struct GitCliEngine {
    workdir: PathBuf,
    git_dir: PathBuf,
}

impl GitCliEngine {
    pub fn new(repository: &RepositoryHandle) -> Self {
        Self {
            workdir: repository.workdir().to_path_buf(),
            git_dir: repository.git_dir().to_path_buf(),
        }
    }
}

impl BlameEngine for GitCliEngine {
    fn blame_committed(
        &self,
        file: &HeadFile,
        relative_path: &Path,
    ) -> Result<Vec<LineOrigin>, BlameError> {
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(&self.git_dir)
            .arg("--work-tree")
            .arg(&self.workdir)
            .args(["blame", "--porcelain"])
            .arg(file.commit.to_string())
            .arg("--")
            .arg(relative_path)
            .current_dir(&self.workdir)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| BlameError::Io {
                context: "running git blame".to_string(),
                source,
            })?;
        if !output.status.success() {
            return Err(BlameError::Git(format!(
                "git blame {}: {}",
                relative_path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        parse_porcelain(&output.stdout)
    }
}

/// Reads `git blame --porcelain` output into one origin per line, in final-line order.
pub(crate) fn parse_porcelain(output: &[u8]) -> Result<Vec<LineOrigin>, BlameError> {
    let mut commit_times: HashMap<String, i64> = HashMap::new();
    let mut lines: Vec<Option<LineOrigin>> = Vec::new();
    let mut current: Option<(String, usize)> = None;
    for record in output.split(|byte| *byte == b'\n') {
        if let Some(b'\t') = record.first() {
            let (commit, final_line) = current
                .take()
                .ok_or_else(|| malformed("content line without a header"))?;
            let commit_time = *commit_times
                .get(&commit)
                .ok_or_else(|| malformed("commit without committer-time"))?;
            if lines.len() < final_line {
                lines.resize(final_line, None);
            }
            lines[final_line - 1] = Some(if is_null_id(&commit) {
                LineOrigin::Uncommitted
            } else {
                LineOrigin::Committed {
                    commit_time,
                    commit,
                }
            });
            continue;
        }
        let text = std::str::from_utf8(record).map_err(|_| malformed("header is not UTF-8"))?;
        if text.is_empty() {
            continue;
        }
        match &current {
            None => current = Some(parse_header(text)?),
            Some((commit, _)) => {
                if let Some(time) = text.strip_prefix("committer-time ") {
                    let time = time
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| malformed("committer-time is not a number"))?;
                    commit_times.insert(commit.clone(), time);
                }
            }
        }
    }
    lines
        .into_iter()
        .map(|line| line.ok_or_else(|| malformed("a line is missing")))
        .collect()
}

fn parse_header(text: &str) -> Result<(String, usize), BlameError> {
    let mut fields = text.split(' ');
    let commit = fields.next().unwrap_or_default();
    if commit.len() < 40 || !commit.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(malformed("header does not start with a commit id"));
    }
    let _original_line = fields.next();
    let final_line = fields
        .next()
        .and_then(|field| field.parse::<usize>().ok())
        .filter(|line| *line >= 1)
        .ok_or_else(|| malformed("header has no final line number"))?;
    Ok((commit.to_string(), final_line))
}

fn is_null_id(commit: &str) -> bool {
    commit.bytes().all(|byte| byte == b'0')
}

fn malformed(what: &str) -> BlameError {
    BlameError::Git(format!("unexpected git blame --porcelain output: {what}"))
}
