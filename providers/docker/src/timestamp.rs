//! Engine timestamps (RFC 3339, nanoseconds, any offset) as `SystemTime`.

use std::time::{Duration, SystemTime};

/// Parses `2024-05-01T12:34:56.123456789Z` or `…+02:00`; `None` for anything else, and for
/// Go's zero time (`0001-01-01T00:00:00Z`), which the engine uses for "never", and for any
/// time before 1970.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    // jiff's parser also takes what RFC 3339 does not: an offset without its colon
    // (`+0200`) or with seconds, and RFC 9557 annotations (`[…]`). Refused here.
    if !(text.ends_with(['Z', 'z']) || has_rfc3339_offset(text)) {
        return None;
    }
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    if timestamp < jiff::Timestamp::UNIX_EPOCH {
        return None;
    }
    Some(SystemTime::from(timestamp))
}

/// Whether `text` ends with an offset written `+HH:MM` or `-HH:MM`.
fn has_rfc3339_offset(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(offset) = bytes.len().checked_sub(6).map(|start| &bytes[start..]) else {
        return false;
    };
    matches!(offset[0], b'+' | b'-')
        && offset[3] == b':'
        && [1, 2, 4, 5]
            .iter()
            .all(|&index| offset[index].is_ascii_digit())
}

/// Whole seconds since the epoch (what list endpoints give) as `SystemTime`.
pub fn from_unix_seconds(seconds: i64) -> SystemTime {
    match u64::try_from(seconds) {
        Ok(seconds) => SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos)
    }

    #[test]
    fn parses_utc_with_nanoseconds() {
        assert_eq!(
            parse_rfc3339("2024-05-01T12:34:56.123456789Z"),
            Some(at(1_714_566_896, 123_456_789))
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(at(0, 0)));
        assert_eq!(
            parse_rfc3339("2000-02-29T23:59:59.5Z"),
            Some(at(951_868_799, 500_000_000))
        );
    }

    #[test]
    fn applies_offsets() {
        assert_eq!(
            parse_rfc3339("2024-05-01T14:34:56+02:00"),
            Some(at(1_714_566_896, 0))
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T07:04:56.25-05:30"),
            Some(at(1_714_566_896, 250_000_000))
        );
    }

    #[test]
    fn rejects_zero_time_and_garbage() {
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339(""), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56"), None);
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56.Z"), None);
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56+0200"), None);
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56Zjunk"), None);
        assert_eq!(parse_rfc3339("2024-05-01T1é:34:56Z"), None);
    }
}
