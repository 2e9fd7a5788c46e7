//! Node times as RFC 3339 text, for `vfs tree`.

use std::time::SystemTime;

use jiff::Timestamp;

/// `time` as RFC 3339 in UTC with nanoseconds, e.g. `2023-11-14T22:13:20.000000005Z`:
/// fixed width, so that lines sort and compare as text. A time beyond jiff's range (years
/// -9999 to 9999) is shown as the nearest time within it.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let timestamp = Timestamp::try_from(time).unwrap_or_else(|_| {
        if time < SystemTime::UNIX_EPOCH {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        }
    });
    timestamp.strftime("%Y-%m-%dT%H:%M:%S.%9fZ").to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn at(seconds: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(seconds, nanos)
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_utc(at(0, 0)), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_utc(at(1_700_000_000, 5)),
            "2023-11-14T22:13:20.000000005Z"
        );
        // A leap day, and the last nanosecond before a new year.
        assert_eq!(
            rfc3339_utc(at(951_782_400, 0)),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(
            rfc3339_utc(at(1_704_067_199, 999_999_999)),
            "2023-12-31T23:59:59.999999999Z"
        );
    }

    #[test]
    fn formats_instants_before_1970() {
        let half_second_before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(
            rfc3339_utc(half_second_before),
            "1969-12-31T23:59:59.500000000Z"
        );
        let leap_day_1968 = UNIX_EPOCH - Duration::from_secs(58_060_800);
        assert_eq!(rfc3339_utc(leap_day_1968), "1968-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn keeps_four_digit_years_and_clamps_beyond_the_range() {
        // 0999-12-31T23:59:59Z, 30,610,224,001 seconds before 1970.
        let year_999 = UNIX_EPOCH - Duration::from_secs(30_610_224_001);
        assert_eq!(rfc3339_utc(year_999), "0999-12-31T23:59:59.000000000Z");
        let far = UNIX_EPOCH + Duration::from_secs(1 << 40);
        // jiff's last instant (its range leaves room for any time zone offset).
        assert_eq!(rfc3339_utc(far), "9999-12-30T22:00:00.999999999Z");
    }
}
