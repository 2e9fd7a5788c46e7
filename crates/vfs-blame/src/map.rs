use gix_imara_diff::{Algorithm, Diff, InternedInput, TokenSource};

use crate::lines::split_lines;
use crate::origin::LineOrigin;

/// Carries HEAD's per-line origins over to `content`: lines kept by a line diff (Myers with git's slider
/// post-processing, as `git blame` uses for its working-tree pseudo-commit) keep their origin; every
/// other line is Uncommitted.
pub(crate) fn map_onto_content(
    head_content: &[u8],
    head_lines: &[LineOrigin],
    content: &[u8],
) -> Vec<LineOrigin> {
    let before = split_lines(head_content);
    let after = split_lines(content);
    let input = InternedInput::new(Lines(&before), Lines(&after));
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_lines(&input);

    let mut mapped = Vec::with_capacity(after.len());
    let mut before_cursor = 0usize;
    for hunk in diff.hunks() {
        while mapped.len() < hunk.after.start as usize {
            mapped.push(origin_of(head_lines, before_cursor));
            before_cursor += 1;
        }
        before_cursor = hunk.before.end as usize;
        mapped.extend(hunk.after.map(|_| LineOrigin::Uncommitted));
    }
    while mapped.len() < after.len() {
        mapped.push(origin_of(head_lines, before_cursor));
        before_cursor += 1;
    }
    mapped
}

fn origin_of(head_lines: &[LineOrigin], index: usize) -> LineOrigin {
    head_lines
        .get(index)
        .cloned()
        .unwrap_or(LineOrigin::Uncommitted)
}

/// Lines, each with its terminator (so a last line without '\n' differs from the same text with one, as in git).
struct Lines<'a, 'b>(&'b [&'a [u8]]);

impl<'a, 'b> TokenSource for Lines<'a, 'b> {
    type Token = &'a [u8];
    type Tokenizer = std::iter::Copied<std::slice::Iter<'b, &'a [u8]>>;

    fn tokenize(&self) -> Self::Tokenizer {
        self.0.iter().copied()
    }

    fn estimate_tokens(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(u32::MAX)
    }
}
