//! Real repositories made with the git CLI, with fixed dates so every expected time is exact,
//! and `git blame --porcelain` as the oracle.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use vfs_blame::LineOrigin;

/// The committer time of the first commit a TestRepo makes; each next commit is one minute later.
pub const FIRST_COMMIT_TIME: i64 = 1_600_000_000;

pub struct TestRepo {
    dir: tempfile::TempDir,
    next_time: i64,
}

impl TestRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let repo = TestRepo {
            dir,
            next_time: FIRST_COMMIT_TIME,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Tester"]);
        repo.git(&["config", "user.email", "tester@example.com"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, relative: &str) -> PathBuf {
        self.path().join(relative)
    }

    pub fn write(&self, relative: &str, content: &[u8]) {
        let path = self.file(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(path, content).expect("write file");
    }

    pub fn read(&self, relative: &str) -> Vec<u8> {
        std::fs::read(self.file(relative)).expect("read file")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE");
        command
    }

    pub fn git(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().expect("run git");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    pub fn git_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run git");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write to git");
        let output = child.wait_with_output().expect("wait for git");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Commits everything in the work tree at the next fixed time; returns (commit id, committer time).
    pub fn commit_all(&mut self, message: &str) -> (String, i64) {
        self.git(&["add", "-A"]);
        self.commit_staged(message)
    }

    /// Commits the index as it is, at the next fixed time.
    pub fn commit_staged(&mut self, message: &str) -> (String, i64) {
        let time = self.next_time;
        self.next_time += 60;
        let date = format!("{time} +0000");
        let output = self
            .command(&["commit", "-q", "--allow-empty", "-m", message])
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("run git commit");
        assert!(
            output.status.success(),
            "git commit failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        (self.head(), time)
    }

    /// Merges `branch` into the current branch with a merge commit at the next fixed time.
    pub fn merge(&mut self, branch: &str) -> (String, i64) {
        let time = self.next_time;
        self.next_time += 60;
        let date = format!("{time} +0000");
        let output = self
            .command(&["merge", "-q", "--no-ff", "-m", "merge", branch])
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("run git merge");
        assert!(
            output.status.success(),
            "git merge failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        (self.head(), time)
    }

    /// A clone of this repository with `git clone --depth <depth> file://…` (a shallow clone: `.git/shallow`
    /// lists the commits whose parents it lacks). The clone's own commits continue this one's fixed times.
    pub fn shallow_clone(&self, depth: usize) -> TestRepo {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("file://{}", self.path().display());
        let target = dir.path().join("clone");
        let output = self
            .command(&["clone", "-q", "--depth", &depth.to_string(), &url])
            .arg(&target)
            .output()
            .expect("run git clone");
        assert!(
            output.status.success(),
            "git clone failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Move the clone to the temporary directory's root, so path() is its work tree.
        for entry in std::fs::read_dir(&target).expect("read the clone") {
            let entry = entry.expect("clone entry");
            std::fs::rename(entry.path(), dir.path().join(entry.file_name())).expect("move entry");
        }
        std::fs::remove_dir(&target).expect("remove the emptied clone directory");
        let clone = TestRepo {
            dir,
            next_time: self.next_time,
        };
        clone.git(&["config", "user.name", "Tester"]);
        clone.git(&["config", "user.email", "tester@example.com"]);
        clone.git(&["config", "commit.gpgsign", "false"]);
        assert!(
            clone.file(".git/shallow").is_file(),
            "git clone --depth {depth} made no shallow clone"
        );
        clone
    }

    pub fn head(&self) -> String {
        String::from_utf8(self.git(&["rev-parse", "HEAD"]).stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }

    /// What `git blame --porcelain --contents - -- path` says of `content`: the oracle.
    pub fn oracle(&self, relative: &str, content: &[u8]) -> Vec<LineOrigin> {
        let output = self.git_with_input(
            &["blame", "--porcelain", "--contents", "-", "--", relative],
            content,
        );
        parse_oracle(&output.stdout)
    }

    /// The oracle run with the global configuration of `home` (`$HOME/.gitconfig`, `$HOME/.config/git/config`)
    /// instead of none.
    pub fn oracle_with_home(&self, relative: &str, content: &[u8], home: &Path) -> Vec<LineOrigin> {
        let mut child = self
            .command(&["blame", "--porcelain", "--contents", "-", "--", relative])
            .env_remove("GIT_CONFIG_GLOBAL")
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run git");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(content)
            .expect("write to git");
        let output = child.wait_with_output().expect("wait for git");
        assert!(
            output.status.success(),
            "git blame failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        parse_oracle(&output.stdout)
    }
}

/// Reads porcelain output: the null commit is "Not Committed Yet".
fn parse_oracle(output: &[u8]) -> Vec<LineOrigin> {
    let text = String::from_utf8_lossy(output);
    let mut times: HashMap<String, i64> = HashMap::new();
    let mut result: Vec<(usize, LineOrigin)> = Vec::new();
    let mut current: Option<(String, usize)> = None;
    for line in text.split('\n') {
        if line.starts_with('\t') {
            let (commit, final_line) = current.take().expect("content after a header");
            let origin = if commit.chars().all(|c| c == '0') {
                LineOrigin::Uncommitted
            } else {
                LineOrigin::Committed {
                    commit_time: times[&commit],
                    commit,
                }
            };
            result.push((final_line, origin));
        } else if let Some((commit, _)) = &current {
            if let Some(time) = line.strip_prefix("committer-time ") {
                times.insert(commit.clone(), time.parse().expect("time"));
            }
        } else if !line.is_empty() {
            let fields: Vec<&str> = line.split(' ').collect();
            current = Some((
                fields[0].to_string(),
                fields[2].parse().expect("line number"),
            ));
        }
    }
    result.sort_by_key(|(line, _)| *line);
    for (index, (line, _)) in result.iter().enumerate() {
        assert_eq!(*line, index + 1, "oracle skipped a line");
    }
    result.into_iter().map(|(_, origin)| origin).collect()
}

pub fn committed(commit: &str, commit_time: i64) -> LineOrigin {
    LineOrigin::Committed {
        commit_time,
        commit: commit.to_string(),
    }
}
