//! Node times as RFC 3339 text, for `vfs tree`.

use std::time::{SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: i64 = 86_400;

/// `time` as RFC 3339 in UTC with nanoseconds, e.g. `2023-11-14T22:13:20.000000005Z`:
/// fixed width, so that lines sort and compare as text.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let (seconds, nanos) = seconds_and_nanos_since_epoch(time);
    let (year, month, day) = civil_date(seconds.div_euclid(SECONDS_PER_DAY));
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Whole seconds (negative before 1970) and the nanoseconds after them (always forward).
fn seconds_and_nanos_since_epoch(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            after.subsec_nanos(),
        ),
        Err(before) => {
            let before = before.duration();
            let seconds = -i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            match before.subsec_nanos() {
                0 => (seconds, 0),
                nanos => (seconds - 1, 1_000_000_000 - nanos),
            }
        }
    }
}

/// The proleptic Gregorian (year, month, day) of a day number counted from 1970-01-01,
/// computed in 400-year eras (146 097 days each) whose years start on March 1st, so that the
/// leap day falls at the end of a year.
fn civil_date(days_since_epoch: i64) -> (i64, u32, u32) {
    const DAYS_PER_ERA: i64 = 146_097;
    // 0000-03-01 is 719 468 days before 1970-01-01.
    let days = days_since_epoch + 719_468;
    let era = days.div_euclid(DAYS_PER_ERA);
    let day_of_era = days.rem_euclid(DAYS_PER_ERA);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
}
