/// Where one line of a file's current content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineOrigin {
    /// The line is as HEAD has it; `commit` last changed it.
    Committed {
        /// Committer time of `commit`, unix seconds.
        commit_time: i64,
        /// Hex id of the commit.
        commit: String,
    },
    /// The line is not in HEAD's version of the file (edited, staged or not, new, or the file is untracked).
    Uncommitted,
}

impl LineOrigin {
    /// The committer time, for a committed line.
    pub fn commit_time(&self) -> Option<i64> {
        match self {
            LineOrigin::Committed { commit_time, .. } => Some(*commit_time),
            LineOrigin::Uncommitted => None,
        }
    }
}

/// The origin of every line of a file's content, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBlame {
    /// One entry per line; a last line without '\n' counts as a line.
    pub lines: Vec<LineOrigin>,
}

impl FileBlame {
    /// The newest commit time among lines `first..=last` (0-based), ignoring uncommitted lines.
    pub fn newest_commit_time(&self, first: usize, last: usize) -> Option<i64> {
        self.lines
            .get(first..=last.min(self.lines.len().saturating_sub(1)))?
            .iter()
            .filter_map(LineOrigin::commit_time)
            .max()
    }

    /// Whether any of lines `first..=last` (0-based) is uncommitted.
    pub fn has_uncommitted(&self, first: usize, last: usize) -> bool {
        self.lines
            .get(first..=last.min(self.lines.len().saturating_sub(1)))
            .is_some_and(|lines| lines.contains(&LineOrigin::Uncommitted))
    }
}
