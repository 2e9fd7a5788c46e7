//! The branch-switch rule: blame alone gives a section the time of an old commit after a
//! checkout, although its text changed under the targets built from it. So the mount remembers
//! a fingerprint of each section's text as last served; when the text differs from what was
//! served before, the section is at least as new as the file's mtime from then on.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A section: its file (relative to SOURCE) and the names leading to it inside the file.
type SectionKey = (PathBuf, Vec<Vec<u8>>);

#[derive(Clone, Copy)]
struct Served {
    fingerprint: u64,
    /// The lowest time the section may have from now on (nanoseconds).
    floor: i64,
}

#[derive(Default)]
pub struct ServedSections {
    served: Mutex<HashMap<SectionKey, Served>>,
}

impl ServedSections {
    /// The time to serve for a section whose text has `fingerprint` and whose lines say
    /// `blame_time`, in a file last modified at `file_mtime`.
    pub fn time(
        &self,
        file: &Path,
        names: &[Vec<u8>],
        fingerprint: u64,
        blame_time: i64,
        file_mtime: i64,
    ) -> i64 {
        let mut served = self.served.lock();
        let key = (file.to_path_buf(), names.to_vec());
        let record = served.entry(key).or_insert(Served {
            fingerprint,
            floor: i64::MIN,
        });
        if record.fingerprint != fingerprint {
            record.fingerprint = fingerprint;
            record.floor = record.floor.max(file_mtime);
        }
        blame_time.max(record.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_text_is_at_least_as_new_as_the_file_from_then_on() {
        let sections = ServedSections::default();
        let file = Path::new("c.yml");
        let web = vec![b"web".to_vec()];
        assert_eq!(sections.time(file, &web, 1, 100, 500), 100);
        assert_eq!(sections.time(file, &web, 1, 100, 600), 100, "same text");
        assert_eq!(sections.time(file, &web, 2, 50, 700), 700, "text changed");
        assert_eq!(sections.time(file, &web, 2, 50, 800), 700, "floor kept");
        assert_eq!(sections.time(file, &web, 2, 900, 800), 900, "newer commit");
        assert_eq!(sections.time(file, &[], 9, 10, 20), 10, "other section");
    }
}
