//! The git CLI, run with fixed dates: git is the oracle of the tests, and fixed author and
//! committer dates make every time a test expects exact.

use std::path::Path;
use std::process::Command;

use crate::command::stdout_of;

/// Runs `git ARGS…` in `dir` and returns its stdout. With `seconds`, the author and committer
/// dates are that Unix time (UTC), so commit times are known in advance. Panics with git's
/// stderr when git fails.
pub fn git(dir: &Path, args: &[&str], seconds: Option<i64>) -> String {
    let mut command = Command::new("git");
    command.args(args).current_dir(dir);
    if let Some(seconds) = seconds {
        let date = format!("@{seconds} +0000");
        command
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_AUTHOR_DATE", &date);
    }
    stdout_of(command, "git", args)
}

/// Makes `dir` (which must exist) a git repository on branch `main` whose commits carry a test
/// identity and no signature, whatever the user's own git config says.
pub fn init_repo(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"], None);
    git(dir, &["config", "user.name", "Test"], None);
    git(dir, &["config", "user.email", "test@example.com"], None);
    git(dir, &["config", "commit.gpgsign", "false"], None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_carries_the_given_time_as_author_and_committer_time() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let dir = dir.path();
        init_repo(dir);
        std::fs::write(dir.join("a"), "a\n").expect("write a file");
        git(dir, &["add", "a"], None);
        git(dir, &["commit", "-q", "-m", "a"], Some(1_600_000_123));
        let times = git(dir, &["log", "-1", "--format=%at %ct"], None);
        assert_eq!(times.trim(), "1600000123 1600000123");
    }

    #[test]
    #[should_panic(expected = "git [\"no-such-command\"] failed")]
    fn a_failing_git_panics_with_its_arguments() {
        let dir = tempfile::tempdir().expect("temporary directory");
        git(dir.path(), &["no-such-command"], None);
    }
}
