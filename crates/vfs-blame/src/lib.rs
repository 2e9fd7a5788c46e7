//! Per-line commit times of a file's current content, as `git blame` gives them, cached per file state.
//!
//! A [`Blamer`] serves one work tree. [`Blamer::blame`] takes the bytes the caller read and answers one
//! [`LineOrigin`] per line: the committer time and id of the commit that last changed a line that is as HEAD
//! has it, or [`LineOrigin::Uncommitted`] for a line HEAD does not have (edited, staged or not, or new).
//!
//! HEAD's version is blamed once per (HEAD, path, shallow boundary, ignored revisions) by an engine
//! ([`EngineKind`]), as `git blame` gives it in a shallow clone and under `blame.ignoreRevsFile`; the
//! current content is then mapped onto it with a line diff, so editing a file costs a diff, not a new blame. The current content is
//! compared in the form git would store it (line endings converted as `core.autocrlf` and `.gitattributes` say).

mod blamer;
mod cache;
mod engine;
mod error;
mod lines;
mod map;
mod normalize;
mod origin;
mod repository;
mod settings;

pub use blamer::Blamer;
pub use engine::EngineKind;
pub use error::BlameError;
pub use origin::{FileBlame, LineOrigin};
