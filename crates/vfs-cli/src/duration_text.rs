//! Parsing of `--ttl` values.

use std::time::Duration;

/// Parses a duration as users write it: `500ms`, `2s`, `1.5s`, `1m`, or a bare number of
/// seconds such as `0.25`. Zero is allowed (no caching).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split_at = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split_at);
    let seconds_per_unit = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "m" | "min" => 60.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use ms, s or m (e.g. 500ms, 2s, 0.25)"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 2s, 0.25)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} is not a duration of zero or more"));
    }
    Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|_| format!("{text:?} is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_units_and_bare_seconds() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(" 3 "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["", "ms", "fast", "-1s", "2h", "1e400", "NaN", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        let message = parse_duration("2h").unwrap_err();
        assert!(message.contains("unknown unit"), "{message}");
    }
}
