//! Engines that blame HEAD's version of a file. Each answers the same question; which one is fastest
//! is measured by `scripts/bench-blame` (see docs/benchmarks.md, "## Blame").

mod cli;
#[cfg(feature = "bench")]
mod gix;
#[cfg(feature = "gix-engine")]
mod history;
#[cfg(feature = "bench")]
mod libgit2;
#[cfg(feature = "gix-engine")]
mod parallel;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::BlameError;
use crate::origin::LineOrigin;
use crate::repository::{HeadFile, RepositoryHandle};
use crate::settings::HistorySettings;

/// Which implementation of blame a [`crate::Blamer`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// `git blame --porcelain` run as a subprocess.
    GitCli,
    /// libgit2's blame (through the git2 crate); feature `bench`.
    #[cfg(feature = "bench")]
    Libgit2,
    /// gix-blame (gitoxide), in process; feature `bench`.
    #[cfg(feature = "bench")]
    Gix,
    /// Diffs of a file's versions on every core at once, for a file whose history is a chain; the git CLI otherwise.
    #[cfg(feature = "gix-engine")]
    Parallel,
}

impl EngineKind {
    /// The engine used by [`crate::Blamer::discover`]: the fastest correct one in docs/benchmarks.md.
    #[cfg(feature = "gix-engine")]
    pub const DEFAULT: EngineKind = EngineKind::Parallel;
    /// The engine used by [`crate::Blamer::discover`]: without gix, the git CLI.
    #[cfg(not(feature = "gix-engine"))]
    pub const DEFAULT: EngineKind = EngineKind::GitCli;

    /// Every engine compiled into this build.
    pub const ALL: &'static [EngineKind] = &[
        EngineKind::GitCli,
        #[cfg(feature = "bench")]
        EngineKind::Libgit2,
        #[cfg(feature = "bench")]
        EngineKind::Gix,
        #[cfg(feature = "gix-engine")]
        EngineKind::Parallel,
    ];

    /// A short name for reports and benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::GitCli => "git-cli",
            #[cfg(feature = "bench")]
            EngineKind::Libgit2 => "libgit2",
            #[cfg(feature = "bench")]
            EngineKind::Gix => "gix",
            #[cfg(feature = "gix-engine")]
            EngineKind::Parallel => "parallel",
        }
    }

    pub(crate) fn build(
        self,
        repository: &RepositoryHandle,
    ) -> Result<Box<dyn BlameEngine>, BlameError> {
        Ok(match self {
            EngineKind::GitCli => Box::new(cli::GitCliEngine::new(repository)),
            #[cfg(feature = "bench")]
            EngineKind::Libgit2 => Box::new(libgit2::Libgit2Engine::new(repository)),
            #[cfg(feature = "bench")]
            EngineKind::Gix => Box::new(gix::GixEngine::new(repository)?),
            #[cfg(feature = "gix-engine")]
            EngineKind::Parallel => Box::new(parallel::ParallelEngine::new(repository)?),
        })
    }
}

/// Which files of HEAD have their histories walked together: those under `under` (relative to the work
/// tree) that `include` accepts (given paths relative to the work tree).
#[derive(Clone)]
pub(crate) struct Scope {
    pub under: PathBuf,
    pub include: Arc<dyn Fn(&Path) -> bool + Send + Sync>,
}

/// Blames the version of a file held by one commit.
pub(crate) trait BlameEngine: Send + Sync {
    /// From now on, the histories of the files of `scope` may be walked together, once for all of them
    /// (the answers stay the same). Engines that walk one file at a time ignore it.
    fn share_history_walk(&mut self, _scope: Scope) {}

    /// One [`LineOrigin::Committed`] per line of `file.content` (the blob of `relative_path` at `file.commit`),
    /// as `git blame` gives them under `settings` (read just before: the caches are keyed on them). The git
    /// CLI and the parallel engine honour the ignored revisions; libgit2's and gix-blame's (feature `bench`)
    /// do not.
    fn blame_committed(
        &self,
        file: &HeadFile,
        relative_path: &Path,
        settings: &HistorySettings,
    ) -> Result<Vec<LineOrigin>, BlameError>;
}
