//! `--time` values: seconds since 1970 with up to nine decimals, kept to the nanosecond.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `1700000000` or `1700000000.123456789` exactly (a float would lose nanoseconds).
pub fn parse(text: &str) -> Result<SystemTime, String> {
    let invalid = || format!("{text:?} is not a time in seconds since 1970 (e.g. 1700000000.5)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 9 {
        return Err(invalid());
    }
    let seconds: u64 = whole.parse().map_err(|_| invalid())?;
    let nanos: u32 = format!("{fraction:0<9}").parse().map_err(|_| invalid())?;
    UNIX_EPOCH
        .checked_add(Duration::new(seconds, nanos))
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_nanosecond() {
        assert_eq!(
            parse("1700000000.000000001"),
            Ok(UNIX_EPOCH + Duration::new(1_700_000_000, 1))
        );
        assert_eq!(
            parse("12.5"),
            Ok(UNIX_EPOCH + Duration::new(12, 500_000_000))
        );
        assert_eq!(parse("7"), Ok(UNIX_EPOCH + Duration::from_secs(7)));
        for bad in ["", ".5", "-1", "1.2.3", "1.0000000001", "soon"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
