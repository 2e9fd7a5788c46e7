//! The reversible escape that turns any YAML key into a usable file name.
//!
//! Rules (documented in `docs/gitconfig.md`):
//! - `%` becomes `%25`, `/` becomes `%2F`, NUL becomes `%00`; every other byte is kept.
//! - The names `.` and `..` become `%2E` and `%2E%2E`.
//! - The empty key becomes a lone `%`.
//! - The second, third… occurrence of a name in one folder gets the suffix `%~2`, `%~3`…
//!
//! Every `%` that [`escape`] writes is followed by two hexadecimal digits, so a lone `%` and a
//! `%~` can never come from an ordinary key: the scheme is injective and [`unescape`] undoes it.

/// The file name for a key.
pub fn escape(key: &[u8]) -> Vec<u8> {
    match key {
        b"" => return b"%".to_vec(),
        b"." => return b"%2E".to_vec(),
        b".." => return b"%2E%2E".to_vec(),
        _ => {}
    }
    let mut name = Vec::with_capacity(key.len());
    for &byte in key {
        match byte {
            b'%' => name.extend_from_slice(b"%25"),
            b'/' => name.extend_from_slice(b"%2F"),
            0 => name.extend_from_slice(b"%00"),
            other => name.push(other),
        }
    }
    name
}

/// The key a file name stands for; `None` when `name` is not something [`escape`] writes.
pub fn unescape(name: &[u8]) -> Option<Vec<u8>> {
    if name == b"%" {
        return Some(Vec::new());
    }
    let mut key = Vec::with_capacity(name.len());
    let mut rest = name;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let (digits, after) = tail.split_at_checked(2)?;
            let decoded = match digits {
                b"25" => b'%',
                b"2F" => b'/',
                b"00" => 0,
                b"2E" => b'.',
                _ => return None,
            };
            key.push(decoded);
            rest = after;
        } else if byte == b'/' || byte == 0 {
            return None;
        } else {
            key.push(byte);
            rest = tail;
        }
    }
    // Only the exact names `%2E` and `%2E%2E` may use the dot escape.
    let dot_escaped = name.windows(3).any(|window| window == b"%2E");
    if dot_escaped && key != b"." && key != b".." {
        return None;
    }
    Some(key)
}

/// The name of the `occurrence`-th (1-based) entry called `name` in one folder.
pub fn with_occurrence(name: &[u8], occurrence: usize) -> Vec<u8> {
    if occurrence <= 1 {
        return name.to_vec();
    }
    let mut numbered = name.to_vec();
    numbered.extend_from_slice(format!("%~{occurrence}").as_bytes());
    numbered
}

/// Splits a name written by [`with_occurrence`] into the plain name and its occurrence.
pub fn split_occurrence(name: &[u8]) -> (&[u8], usize) {
    let marker = name.windows(2).rposition(|window| window == b"%~");
    if let Some(position) = marker {
        let digits = &name[position + 2..];
        let parsed = std::str::from_utf8(digits)
            .ok()
            .filter(|text| !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|text| text.parse::<usize>().ok())
            .filter(|&occurrence| occurrence >= 2);
        if let Some(occurrence) = parsed {
            return (&name[..position], occurrence);
        }
    }
    (name, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn awkward_keys_get_their_documented_names() {
        assert_eq!(escape(b"web"), b"web");
        assert_eq!(escape(b"a/b"), b"a%2Fb");
        assert_eq!(escape(b"50%"), b"50%25");
        assert_eq!(escape(b"nul\0byte"), b"nul%00byte");
        assert_eq!(escape(b"."), b"%2E");
        assert_eq!(escape(b".."), b"%2E%2E");
        assert_eq!(escape(b"..."), b"...");
        assert_eq!(escape(b""), b"%");
        assert_eq!(with_occurrence(b"web", 2), b"web%~2");
    }

    #[test]
    fn names_escape_never_writes_are_refused() {
        assert_eq!(unescape(b"a%zz"), None);
        assert_eq!(unescape(b"a%2"), None);
        assert_eq!(unescape(b"%2Ex"), None);
        assert_eq!(unescape(b"a/b"), None);
    }

    proptest! {
        #[test]
        fn escape_round_trips_and_makes_valid_names(key in proptest::collection::vec(any::<u8>(), 0..24)) {
            let name = escape(&key);
            prop_assert!(!name.is_empty());
            prop_assert!(!name.contains(&b'/') && !name.contains(&0));
            prop_assert!(name != b"." && name != b"..");
            prop_assert_eq!(unescape(&name), Some(key));
        }

        #[test]
        fn occurrences_round_trip(key in "[a-z%/.~0-9]{0,8}", occurrence in 1usize..50) {
            let name = with_occurrence(&escape(key.as_bytes()), occurrence);
            let (plain, found) = split_occurrence(&name);
            prop_assert_eq!(found, occurrence);
            prop_assert_eq!(unescape(plain), Some(key.into_bytes()));
        }

        #[test]
        fn different_keys_get_different_names(a in ".{0,6}", b in ".{0,6}") {
            prop_assume!(a != b);
            prop_assert_ne!(escape(a.as_bytes()), escape(b.as_bytes()));
        }
    }
}
