use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::BlameEngine;
use crate::error::BlameError;
use crate::origin::LineOrigin;
use crate::repository::{HeadFile, RepositoryHandle};
use crate::settings::HistorySettings;

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
        settings: &HistorySettings,
    ) -> Result<Vec<LineOrigin>, BlameError> {
        let mut command = Command::new("git");
        command
            .arg("--git-dir")
            .arg(&self.git_dir)
            .arg("--work-tree")
            .arg(&self.workdir)
            .args(["blame", "--porcelain"])
            // The configured ignore files are replaced by the list the settings were read with (given on
            // stdin), so the answer is the one the caches key it on, and a missing file is no error.
            .arg("--no-ignore-revs-file");
        let ignored = settings.ignore_revs.as_ref().map(|revs| &revs.content);
        if ignored.is_some() {
            command.arg("--ignore-revs-file=/dev/stdin");
        }
        command
            .arg(file.commit.to_string())
            .arg("--")
            .arg(relative_path)
            .current_dir(&self.workdir)
            .stdin(if ignored.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let running = |source| BlameError::Io {
            context: "running git blame".to_string(),
            source,
        };
        let mut child = command.spawn().map_err(running)?;
        let input = child.stdin.take();
        let output = std::thread::scope(|scope| {
            if let (Some(mut input), Some(ignored)) = (input, ignored) {
                // git reads the list before it blames; one that stops early (a malformed list) closes the
                // pipe, and its error is the one reported.
                scope.spawn(move || {
                    let _ = std::io::Write::write_all(&mut input, ignored);
                });
            }
            child.wait_with_output()
        })
        .map_err(running)?;
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
