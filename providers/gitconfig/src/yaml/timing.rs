//! Section times from per-line times (the meaningful lines only).

use super::parse::{LineRange, YamlFile, YamlNodeKind};
use super::view::Entry;

/// Times are nanoseconds since the Unix epoch; `NO_TIME` means "no line".
pub const NO_TIME: i64 = i64::MIN;

/// Where each line of a file starts, to cut the text of a section.
#[derive(Debug)]
pub struct SourceLines {
    starts: Vec<usize>,
    length: usize,
}

impl SourceLines {
    pub fn new(bytes: &[u8]) -> Self {
        let mut starts = vec![0];
        starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|&(_, &byte)| byte == b'\n')
                .map(|(index, _)| index + 1),
        );
        if starts.last() == Some(&bytes.len()) && starts.len() > 1 {
            starts.pop();
        }
        if bytes.is_empty() {
            starts.clear();
        }
        SourceLines {
            starts,
            length: bytes.len(),
        }
    }

    /// Lines in the file (a last line without a newline counts).
    pub fn count(&self) -> usize {
        self.starts.len()
    }

    /// The bytes of lines `range` (1-based, inclusive), clamped to the file.
    pub fn text<'a>(&self, bytes: &'a [u8], range: LineRange) -> &'a [u8] {
        let start = self
            .starts
            .get(range.first.saturating_sub(1))
            .copied()
            .unwrap_or(self.length);
        let end = self.starts.get(range.last).copied().unwrap_or(self.length);
        bytes.get(start..end.max(start)).unwrap_or(&[])
    }
}

/// The time of every line, and from them the time of every node (aliases followed).
#[derive(Debug)]
pub struct SectionTimes {
    line_times: Vec<i64>,
    /// Used for lines the blame does not cover (there should be none).
    fallback: i64,
    deep: Vec<i64>,
}

impl SectionTimes {
    /// `line_times[i]` is the time of line `i + 1`. Only lines that hold a value (a key, a
    /// scalar, an alias: see [`meaningful_lines`]) count: a comment or a blank line edited, added
    /// or committed moves no section.
    pub fn new(file: &YamlFile, mut line_times: Vec<i64>, fallback: i64) -> Self {
        let meaningful = meaningful_lines(file, line_times.len());
        for (time, meaningful) in line_times.iter_mut().zip(meaningful) {
            if !meaningful {
                *time = NO_TIME;
            }
        }
        let mut times = SectionTimes {
            line_times,
            fallback,
            deep: Vec::with_capacity(file.nodes.len()),
        };
        // Children and alias targets have smaller ids, so one pass in id order suffices.
        for (id, node) in file.nodes.iter().enumerate() {
            let own = node.lines.map_or(NO_TIME, |range| times.lines_time(range));
            let deep = file
                .dependencies(id)
                .into_iter()
                .fold(own, |newest, dependency| newest.max(times.deep[dependency]));
            times.deep.push(deep);
        }
        times
    }

    /// The newest time among lines `range`.
    pub fn lines_time(&self, range: LineRange) -> i64 {
        (range.first..=range.last)
            .map(|line| {
                line.checked_sub(1)
                    .and_then(|index| self.line_times.get(index))
                    .copied()
                    .unwrap_or(self.fallback)
            })
            .max()
            .unwrap_or(NO_TIME)
    }

    /// The time of a section: its own lines, and the anchored sections its aliases pull in.
    pub fn entry_time(&self, entry: &Entry) -> i64 {
        let mut newest = self.lines_time(entry.section).max(self.deep[entry.value]);
        if let Some(key) = entry.key {
            newest = newest.max(self.deep[key]);
        }
        if newest == NO_TIME {
            self.fallback
        } else {
            newest
        }
    }

    /// The newest meaningful line of the whole file.
    pub fn file_time(&self) -> i64 {
        match self.line_times.iter().copied().max() {
            Some(newest) if newest != NO_TIME => newest,
            _ => self.fallback,
        }
    }
}

/// Which of a file's `count` lines hold meaning: those covered by a scalar (keys and values,
/// every line of a block scalar, blank ones included) or an alias. Comments, blank lines between
/// entries, document markers and lines of brackets alone hold none.
pub fn meaningful_lines(file: &YamlFile, count: usize) -> Vec<bool> {
    let mut meaningful = vec![false; count];
    for node in &file.nodes {
        if !matches!(node.kind, YamlNodeKind::Scalar(_) | YamlNodeKind::Alias(_)) {
            continue;
        }
        if let Some(range) = node.lines {
            let first = range.first.saturating_sub(1);
            for line in meaningful.iter_mut().take(range.last).skip(first) {
                *line = true;
            }
        }
    }
    meaningful
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{children, parse, top_entries, Limits};

    #[test]
    fn source_lines_cut_sections() {
        let text = b"a: 1\nb:\n  c: 2\n";
        let lines = SourceLines::new(text);
        assert_eq!(lines.count(), 3);
        assert_eq!(
            lines.text(text, LineRange { first: 2, last: 3 }),
            b"b:\n  c: 2\n"
        );
        assert_eq!(SourceLines::new(b"x").count(), 1);
        assert_eq!(SourceLines::new(b"").count(), 0);
    }

    #[test]
    fn a_section_takes_its_newest_line_and_its_aliases() {
        let text = "d: &d\n  x: 1\ne:\n  <<: *d\n  y: 2\nf: 3\n";
        let file = parse(text.as_bytes(), Limits::default()).unwrap();
        let times = SectionTimes::new(&file, vec![10, 60, 20, 30, 40, 50], 0);
        let entries = top_entries(&file).unwrap();
        assert_eq!(times.entry_time(&entries[0]), 60);
        assert_eq!(
            times.entry_time(&entries[1]),
            60,
            "e merges d, edited at 60"
        );
        assert_eq!(times.entry_time(&entries[2]), 50);
        let e_children = children(&file, entries[1].value).unwrap();
        assert_eq!(times.entry_time(&e_children[0]), 40, "e/y");
        assert_eq!(times.entry_time(&e_children[1]), 60, "e/x comes from d");
        assert_eq!(times.file_time(), 60);
    }
}
