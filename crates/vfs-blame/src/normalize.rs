//! The content git would store for a file of the work tree: what `git add` (and `git blame`, for the
//! working-tree content it compares with HEAD) makes of it, git's "convert_to_git".
//!
//! With `core.autocrlf=true`, or a `.gitattributes` line such as `*.yml text eol=crlf`, the work tree
//! holds CRLF where the blobs hold LF; comparing the raw bytes with HEAD's blob would find every line
//! changed. The conversion follows the repository's configuration (`core.autocrlf`, `core.eol`) and its
//! attributes (`text`, `text=auto`, `-text`/`binary`, `eol`, `crlf`, `ident`, `working-tree-encoding`), read
//! as git reads them when it adds a file: the work tree's `.gitattributes` first, the index's where the
//! work tree has none, then `.git/info/attributes` and the global attributes file. `text=auto` and
//! `core.autocrlf` leave binary-looking content, and a file whose indexed blob has CRs, as they are, as git does.
//!
//! Left out, on purpose:
//! - clean filters run by an external command (`filter=<driver>` with `filter.<driver>.clean` or `.process`,
//!   e.g. Git LFS): a read of the mount never starts a program the repository's configuration names. Such a
//!   file is compared as its other attributes leave it;
//! - `core.safecrlf`: git only warns (or refuses to add); here the content is converted all the same;
//! - a conversion that changes the number of lines (a `working-tree-encoding` such as UTF-16, whose bytes
//!   split on '\n' differently): the caller numbers the lines of the bytes it read, so such content is
//!   compared raw. CRLF → LF and `ident` keep lines one to one.
//!
//! The configuration is read when the [`crate::Blamer`] is made; `.gitattributes` and the index at each call.
//! Without the `gix-engine` feature nothing is converted (content is compared as read).

use std::path::Path;

use crate::error::BlameError;
use crate::lines::split_lines;
use crate::repository::RepositoryHandle;

/// Converts work-tree content into the content git would store for it.
pub(crate) struct Normalizer {
    #[cfg(feature = "gix-engine")]
    repository: gix::ThreadSafeRepository,
}

impl Normalizer {
    #[cfg(feature = "gix-engine")]
    pub fn new(repository: &RepositoryHandle) -> Result<Self, BlameError> {
        // Opened at the work tree so that gix reads the work tree's .gitattributes (from the git dir
        // alone it may take the repository for a bare one).
        let repository =
            gix::ThreadSafeRepository::open(repository.workdir()).map_err(gix_error)?;
        Ok(Self { repository })
    }

    #[cfg(not(feature = "gix-engine"))]
    pub fn new(_repository: &RepositoryHandle) -> Result<Self, BlameError> {
        Ok(Self {})
    }

    /// The bytes git would store for `content` found at `relative_path` (relative to the work tree), or None
    /// where it stores them as they are. A returned conversion has as many lines as `content`, each the
    /// conversion of the line at the same place.
    pub fn to_git(
        &self,
        relative_path: &Path,
        content: &[u8],
    ) -> Result<Option<Vec<u8>>, BlameError> {
        let Some(converted) = self.convert(relative_path, content)? else {
            return Ok(None);
        };
        if converted == content || split_lines(&converted).len() != split_lines(content).len() {
            return Ok(None);
        }
        Ok(Some(converted))
    }

    #[cfg(not(feature = "gix-engine"))]
    fn convert(
        &self,
        _relative_path: &Path,
        _content: &[u8],
    ) -> Result<Option<Vec<u8>>, BlameError> {
        Ok(None)
    }

    #[cfg(feature = "gix-engine")]
    fn convert(&self, relative_path: &Path, content: &[u8]) -> Result<Option<Vec<u8>>, BlameError> {
        use gix::filter::plumbing::pipeline::{convert::ToGitOutcome, CrlfRoundTripCheck};
        use gix::prelude::FindExt as _;

        let repository = self.repository.to_thread_local();
        // The work tree's attributes first, then the index's (gix's WorktreeThenIdMapping), as `git add` does.
        let (pipeline, index) = repository.filter_pipeline(None).map_err(gix_error)?;
        let (mut pipeline, mut attributes) = pipeline.into_parts();
        let options = pipeline.options_mut();
        options.drivers.clear();
        options.crlf_roundtrip_check = CrlfRoundTripCheck::Skip;

        let path_in_index = gix::path::to_unix_separators_on_windows(
            gix::path::os_str_into_bstr(relative_path.as_os_str()).map_err(|_| {
                BlameError::Git(format!(
                    "path is not valid UTF-8: {}",
                    relative_path.display()
                ))
            })?,
        )
        .into_owned();
        let attributes_here = attributes
            .at_path(
                relative_path,
                Some(gix::index::entry::Mode::FILE),
                &repository.objects,
            )
            .map_err(|error| BlameError::Io {
                context: format!("reading the attributes of {}", relative_path.display()),
                source: error,
            })?;
        let outcome = pipeline
            .convert_to_git(
                content,
                relative_path,
                &mut |_, found| {
                    attributes_here.matching_attributes(found);
                },
                // text=auto and core.autocrlf leave a file alone whose indexed blob has CRs: they ask for it here.
                &mut |buffer| {
                    let Some(entry) = index.entry_by_path(path_in_index.as_ref()) else {
                        return Ok(None);
                    };
                    match repository.objects.find_blob(&entry.id, buffer) {
                        Ok(_) => Ok(Some(())),
                        Err(_) => Ok(None),
                    }
                },
            )
            .map_err(gix_error)?;
        Ok(match outcome {
            ToGitOutcome::Unchanged(_) => None,
            ToGitOutcome::Buffer(converted) => Some(converted.to_vec()),
            // Only a driver's process streams its output, and no driver is configured.
            ToGitOutcome::Process(_) => None,
        })
    }
}

#[cfg(feature = "gix-engine")]
fn gix_error(error: impl std::fmt::Display) -> BlameError {
    BlameError::Git(error.to_string())
}
