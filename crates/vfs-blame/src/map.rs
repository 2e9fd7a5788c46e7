use std::ops::Range;

use imara_diff::intern::InternedInput;
use imara_diff::intern::TokenSource;
use imara_diff::{diff, Algorithm};

use crate::lines::split_lines;
use crate::origin::LineOrigin;

/// Carries HEAD's per-line origins over to `content`: lines kept by a line diff (Myers, as `git blame`
/// uses for its working-tree pseudo-commit) keep their origin, every other line is Uncommitted.
pub(crate) fn map_onto_content(
    head_content: &[u8],
    head_lines: &[LineOrigin],
    content: &[u8],
) -> Vec<LineOrigin> {
    let before = split_lines(head_content);
    let after = split_lines(content);
    let input = InternedInput::new(Lines(&before), Lines(&after));
    let mut mapped = Vec::with_capacity(after.len());
    let mut before_cursor = 0usize;
    let mut after_cursor = 0usize;
    let carry_unchanged = |mapped: &mut Vec<LineOrigin>,
                           until_after: usize,
                           before_cursor: &mut usize,
                           after_cursor: &mut usize| {
        while *after_cursor < until_after {
            mapped.push(
                head_lines
                    .get(*before_cursor)
                    .cloned()
                    .unwrap_or(LineOrigin::Uncommitted),
            );
            *before_cursor += 1;
            *after_cursor += 1;
        }
    };
    diff(
        Algorithm::Myers,
        &input,
        |removed: Range<u32>, added: Range<u32>| {
            carry_unchanged(
                &mut mapped,
                added.start as usize,
                &mut before_cursor,
                &mut after_cursor,
            );
            before_cursor = removed.end as usize;
            for _ in added.clone() {
                mapped.push(LineOrigin::Uncommitted);
            }
            after_cursor = added.end as usize;
        },
    );
    carry_unchanged(
        &mut mapped,
        after.len(),
        &mut before_cursor,
        &mut after_cursor,
    );
    mapped
}

/// Lines (with their terminators) as diff tokens.
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
