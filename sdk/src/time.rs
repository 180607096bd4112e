//! Instants: the platforms' local-time strings, Unix seconds, SAP and OData forms ↔ UTC ms.
//!
//! Taobao, JD and Douyin send `yyyy-MM-dd HH:mm:ss` without a zone, meaning Asia/Shanghai.
//! China has used a fixed UTC+8 without daylight saving since 1991, so the conversion is a
//! fixed offset plus civil-calendar arithmetic, done here without a time-zone database (which
//! would bloat every plugin). The calendar is proleptic Gregorian.

use thiserror::Error;

/// Asia/Shanghai is UTC+8 all year (no DST since 1991).
pub const SHANGHAI_OFFSET_MINUTES: i32 = 8 * 60;

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_DAY: i64 = 86_400 * MS_PER_SECOND;

/// The layout Taobao, JD and Douyin use, in Asia/Shanghai.
pub const LOCAL_DATETIME_LAYOUT: &str = "yyyy-MM-dd HH:mm:ss";

/// Why a string is not the instant or date it should be.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    #[error("expected {expected}, got {input:?}")]
    Malformed { input: String, expected: &'static str },
    #[error("expected {what} in {min}..={max}, got {value} in {input:?}")]
    OutOfRange { input: String, what: &'static str, value: i64, min: i64, max: i64 },
    #[error("expected an instant representable in 64-bit milliseconds, got {input:?}")]
    Overflow { input: String },
}

/// A calendar date and wall-clock time, without a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Whether `year` has a 29 February.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1..=12) of `year`.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to the given date (negative before it).
///
/// Counts in 400-year eras (146 097 days each) starting on 1 March, so that the leap day falls
/// at the end of the counting year and the month lengths before it follow a fixed pattern.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (y, m) = if month <= 2 { (year - 1, i64::from(month) + 9) } else { (year, i64::from(month) - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    // Days from 1 March to the first of month m (m counted from March = 0): 153 days per
    // 5 months, the standard 30.6-day month approximation rounded.
    let day_of_year = (153 * m + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719 468 days lie between 0000-03-01 and 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01: the inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let m = (5 * day_of_year + 2) / 153; // March = 0
    let day = (day_of_year - (153 * m + 2) / 5 + 1) as u32;
    let month = if m < 10 { m + 3 } else { m - 9 } as u32;
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year, month, day)
}

impl CivilDateTime {
    /// Milliseconds since the epoch of this wall-clock time at `offset_minutes` east of UTC.
    pub fn to_ms(&self, offset_minutes: i32) -> Option<i64> {
        let days = days_from_civil(self.year, self.month, self.day);
        let seconds_of_day = i64::from(self.hour) * 3_600 + i64::from(self.minute) * 60 + i64::from(self.second);
        days.checked_mul(MS_PER_DAY)?
            .checked_add(seconds_of_day * MS_PER_SECOND)?
            .checked_sub(i64::from(offset_minutes) * MS_PER_MINUTE)
    }

    /// The wall-clock time at `offset_minutes` east of UTC of an instant (milliseconds are
    /// dropped, rounding toward the past).
    pub fn from_ms(ms: i64, offset_minutes: i32) -> Self {
        // i128: ms near i64::MAX plus an offset must not overflow.
        let local = i128::from(ms) + i128::from(offset_minutes) * i128::from(MS_PER_MINUTE);
        let days = local.div_euclid(i128::from(MS_PER_DAY)) as i64;
        let ms_of_day = local.rem_euclid(i128::from(MS_PER_DAY)) as i64;
        let (year, month, day) = civil_from_days(days);
        let seconds = ms_of_day / MS_PER_SECOND;
        Self {
            year,
            month,
            day,
            hour: (seconds / 3_600) as u32,
            minute: (seconds / 60 % 60) as u32,
            second: (seconds % 60) as u32,
        }
    }
}

/// Parses `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai into UTC ms: `"2016-01-01 12:00:00"` →
/// `1451620800000`.
pub fn shanghai_to_ms(input: &str) -> Result<i64, TimeError> {
    local_datetime_to_ms(input, SHANGHAI_OFFSET_MINUTES)
}

/// Formats an instant as `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai (sub-second part dropped).
pub fn ms_to_shanghai(ms: i64) -> String {
    ms_to_local_datetime(ms, SHANGHAI_OFFSET_MINUTES)
}

/// Parses `yyyy-MM-dd HH:mm:ss` at a fixed offset (minutes east of UTC) into UTC ms.
pub fn local_datetime_to_ms(input: &str, offset_minutes: i32) -> Result<i64, TimeError> {
    const EXPECTED: &str = "a local time `yyyy-MM-dd HH:mm:ss` like \"2016-01-01 12:00:00\"";
    let b = input.as_bytes();
    let shape_ok = b.len() == 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':' && b[16] == b':';
    if !shape_ok {
        return Err(malformed(input, EXPECTED));
    }
    let civil = CivilDateTime {
        year: digits(input, 0..4, EXPECTED)?,
        month: digits(input, 5..7, EXPECTED)? as u32,
        day: digits(input, 8..10, EXPECTED)? as u32,
        hour: digits(input, 11..13, EXPECTED)? as u32,
        minute: digits(input, 14..16, EXPECTED)? as u32,
        second: digits(input, 17..19, EXPECTED)? as u32,
    };
    check_date(input, civil.year, civil.month, civil.day)?;
    check_time(input, civil.hour, civil.minute, civil.second)?;
    civil.to_ms(offset_minutes).ok_or_else(|| TimeError::Overflow { input: input.to_owned() })
}

/// Formats an instant as `yyyy-MM-dd HH:mm:ss` at a fixed offset (minutes east of UTC).
pub fn ms_to_local_datetime(ms: i64, offset_minutes: i32) -> String {
    let c = CivilDateTime::from_ms(ms, offset_minutes);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// Unix seconds (ECShop, Douyin) → ms.
pub fn unix_seconds_to_ms(seconds: i64) -> Result<i64, TimeError> {
    seconds.checked_mul(MS_PER_SECOND).ok_or_else(|| TimeError::Overflow { input: seconds.to_string() })
}

/// ms → Unix seconds, rounding toward the past (an instant inside second N is in second N).
pub fn ms_to_unix_seconds(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_SECOND)
}

/// The smallest whole second at or after `ms` (None on overflow).
pub fn ceil_to_second(ms: i64) -> Option<i64> {
    let floor = ms.div_euclid(MS_PER_SECOND) * MS_PER_SECOND;
    if floor == ms { Some(ms) } else { floor.checked_add(MS_PER_SECOND) }
}

/// A calendar date `YYYY-MM-DD` → midnight UTC of that date, in ms.
pub fn calendar_date_to_ms(input: &str) -> Result<i64, TimeError> {
    let (year, month, day) = parse_calendar_date(input)?;
    Ok(days_from_civil(year, month, day) * MS_PER_DAY)
}

/// The calendar date `YYYY-MM-DD` an instant falls on at `offset_minutes` east of UTC.
pub fn ms_to_calendar_date(ms: i64, offset_minutes: i32) -> String {
    let c = CivilDateTime::from_ms(ms, offset_minutes);
    format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
}

/// Validates a canonical calendar date `YYYY-MM-DD` and returns its parts.
pub fn parse_calendar_date(input: &str) -> Result<(i64, u32, u32), TimeError> {
    const EXPECTED: &str = "a calendar date `YYYY-MM-DD` like \"2025-05-30\"";
    let b = input.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(malformed(input, EXPECTED));
    }
    let year = digits(input, 0..4, EXPECTED)?;
    let month = digits(input, 5..7, EXPECTED)? as u32;
    let day = digits(input, 8..10, EXPECTED)? as u32;
    check_date(input, year, month, day)?;
    Ok((year, month, day))
}

/// SAP `YYYYMMDD` → canonical `YYYY-MM-DD`. SAP's empty date `00000000` is an error here;
/// callers that accept "no date" check for it first.
pub fn sap_date_to_calendar(input: &str) -> Result<String, TimeError> {
    let (year, month, day) = parse_sap_date(input)?;
    Ok(format!("{year:04}-{month:02}-{day:02}"))
}

/// Canonical `YYYY-MM-DD` → SAP `YYYYMMDD`.
pub fn calendar_to_sap_date(input: &str) -> Result<String, TimeError> {
    let (year, month, day) = parse_calendar_date(input)?;
    Ok(format!("{year:04}{month:02}{day:02}"))
}

/// SAP `YYYYMMDD` + `HHMMSS`, in the SAP system's zone (`offset_minutes` east of UTC) → ms.
pub fn sap_datetime_to_ms(date: &str, time: &str, offset_minutes: i32) -> Result<i64, TimeError> {
    const EXPECTED_TIME: &str = "an SAP time `HHMMSS` like \"235959\"";
    let (year, month, day) = parse_sap_date(date)?;
    if time.len() != 6 {
        return Err(malformed(time, EXPECTED_TIME));
    }
    let hour = digits(time, 0..2, EXPECTED_TIME)? as u32;
    let minute = digits(time, 2..4, EXPECTED_TIME)? as u32;
    let second = digits(time, 4..6, EXPECTED_TIME)? as u32;
    check_time(time, hour, minute, second)?;
    let civil = CivilDateTime { year, month, day, hour, minute, second };
    civil.to_ms(offset_minutes).ok_or_else(|| TimeError::Overflow { input: format!("{date} {time}") })
}

/// An instant → SAP (`YYYYMMDD`, `HHMMSS`) in the SAP system's zone.
pub fn ms_to_sap_datetime(ms: i64, offset_minutes: i32) -> (String, String) {
    let c = CivilDateTime::from_ms(ms, offset_minutes);
    (format!("{:04}{:02}{:02}", c.year, c.month, c.day), format!("{:02}{:02}{:02}", c.hour, c.minute, c.second))
}

/// OData v2 JSON dates: `/Date(1748563200000)/` or with an offset `/Date(1748563200000+0480)/`
/// → ms. The number is UTC ms either way; the offset only says where it was recorded.
pub fn odata_to_ms(input: &str) -> Result<i64, TimeError> {
    const EXPECTED: &str = "an OData date `/Date(<ms>)/` or `/Date(<ms>+0000)/`";
    let inner = input
        .strip_prefix("/Date(")
        .and_then(|rest| rest.strip_suffix(")/"))
        .ok_or_else(|| malformed(input, EXPECTED))?;
    // The offset sign is searched after the first character so a negative instant's own '-'
    // is not taken for it.
    let split = inner.char_indices().skip(1).find(|&(_, c)| c == '+' || c == '-').map(|(i, _)| i);
    let (number, offset) = match split {
        Some(i) => (&inner[..i], Some(&inner[i + 1..])),
        None => (inner, None),
    };
    if let Some(offset) = offset
        && (offset.len() != 4 || !offset.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(malformed(input, EXPECTED));
    }
    let unsigned = number.strip_prefix('-').unwrap_or(number);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(input, EXPECTED));
    }
    number.parse::<i64>().map_err(|_| TimeError::Overflow { input: input.to_owned() })
}

/// An instant → OData v2 `/Date(<ms>)/`.
pub fn ms_to_odata(ms: i64) -> String {
    format!("/Date({ms})/")
}

/// Now, in UTC ms, from the WASI clock (inside a plugin) or the OS clock (native tests).
pub fn now_ms() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

fn parse_sap_date(input: &str) -> Result<(i64, u32, u32), TimeError> {
    const EXPECTED: &str = "an SAP date `YYYYMMDD` like \"20250530\"";
    if input.len() != 8 {
        return Err(malformed(input, EXPECTED));
    }
    let year = digits(input, 0..4, EXPECTED)?;
    let month = digits(input, 4..6, EXPECTED)? as u32;
    let day = digits(input, 6..8, EXPECTED)? as u32;
    check_date(input, year, month, day)?;
    Ok((year, month, day))
}

fn malformed(input: &str, expected: &'static str) -> TimeError {
    TimeError::Malformed { input: input.to_owned(), expected }
}

/// The ASCII digits at `range` as a number; anything else is `Malformed`.
fn digits(input: &str, range: std::ops::Range<usize>, expected: &'static str) -> Result<i64, TimeError> {
    let slice = input.as_bytes().get(range).ok_or_else(|| malformed(input, expected))?;
    if slice.is_empty() || !slice.iter().all(u8::is_ascii_digit) {
        return Err(malformed(input, expected));
    }
    Ok(slice.iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')))
}

fn check_date(input: &str, year: i64, month: u32, day: u32) -> Result<(), TimeError> {
    let out_of_range = |what, value: u32, max: u32| TimeError::OutOfRange {
        input: input.to_owned(),
        what,
        value: i64::from(value),
        min: 1,
        max: i64::from(max),
    };
    if !(1..=12).contains(&month) {
        return Err(out_of_range("month", month, 12));
    }
    let last = days_in_month(year, month);
    if !(1..=last).contains(&day) {
        return Err(out_of_range("day of month", day, last));
    }
    Ok(())
}

fn check_time(input: &str, hour: u32, minute: u32, second: u32) -> Result<(), TimeError> {
    // Leap seconds (:60) are not representable in Unix time and no platform sends them.
    for (what, value, max) in [("hour", hour, 23), ("minute", minute, 59), ("second", second, 59)] {
        if value > max {
            return Err(TimeError::OutOfRange {
                input: input.to_owned(),
                what,
                value: i64::from(value),
                min: 0,
                max: i64::from(max),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_arithmetic_round_trips_over_centuries() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        let mut expected = (1599, 1, 1);
        for days in days_from_civil(1599, 1, 1)..days_from_civil(2401, 1, 1) {
            let got = civil_from_days(days);
            assert_eq!(got, expected, "day {days}");
            assert_eq!(days_from_civil(got.0, got.1, got.2), days);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn shanghai_local_time() {
        // 2016-01-01 12:00:00 +08:00 = 04:00:00Z.
        assert_eq!(shanghai_to_ms("2016-01-01 12:00:00"), Ok(1_451_620_800_000));
        assert_eq!(shanghai_to_ms("1970-01-01 08:00:00"), Ok(0));
        assert_eq!(shanghai_to_ms("1970-01-01 07:59:59"), Ok(-1_000));
        assert_eq!(shanghai_to_ms("2024-02-29 23:59:59"), Ok(1_709_222_399_000));
        assert_eq!(ms_to_shanghai(1_451_620_800_000), "2016-01-01 12:00:00");
        assert_eq!(ms_to_shanghai(1_451_620_800_999), "2016-01-01 12:00:00");
        assert_eq!(ms_to_shanghai(-1), "1970-01-01 07:59:59");
        // Across a UTC date line: 2026-11-11 00:00:05 Shanghai is the 10th in UTC.
        assert_eq!(shanghai_to_ms("2026-11-11 00:00:05"), Ok(1_794_326_405_000));
        assert_eq!(ms_to_shanghai(1_794_326_405_000), "2026-11-11 00:00:05");
    }

    #[test]
    fn shanghai_rejects_bad_input() {
        for bad in [
            "",
            "2016-01-01",
            "2016-01-01T12:00:00",
            "2016-1-01 12:00:00",
            "2016-01-01 12:00:00Z",
            "abcd-01-01 12:00:00",
            "2016-01-01 12:0a:00",
            "-016-01-01 12:00:00",
        ] {
            assert!(matches!(shanghai_to_ms(bad), Err(TimeError::Malformed { .. })), "{bad:?}");
        }
        for bad in [
            "2016-13-01 12:00:00",
            "2016-00-01 12:00:00",
            "2023-02-29 12:00:00",
            "2016-04-31 12:00:00",
            "2016-01-01 24:00:00",
            "2016-01-01 12:60:00",
            "2016-01-01 12:00:60",
        ] {
            assert!(matches!(shanghai_to_ms(bad), Err(TimeError::OutOfRange { .. })), "{bad:?}");
        }
        let message = shanghai_to_ms("2016/01/01").unwrap_err().to_string();
        assert!(message.contains("yyyy-MM-dd HH:mm:ss") && message.contains("2016/01/01"));
    }

    #[test]
    fn unix_seconds() {
        assert_eq!(unix_seconds_to_ms(1_700_000_000), Ok(1_700_000_000_000));
        assert!(unix_seconds_to_ms(i64::MAX).is_err());
        assert_eq!(ms_to_unix_seconds(1_700_000_000_999), 1_700_000_000);
        assert_eq!(ms_to_unix_seconds(-1), -1);
        assert_eq!(ceil_to_second(1_001), Some(2_000));
        assert_eq!(ceil_to_second(2_000), Some(2_000));
        assert_eq!(ceil_to_second(-1), Some(0));
        assert_eq!(ceil_to_second(i64::MAX), None);
    }

    #[test]
    fn sap_dates_and_times() {
        assert_eq!(sap_date_to_calendar("20250530").as_deref(), Ok("2025-05-30"));
        assert_eq!(calendar_to_sap_date("2025-05-30").as_deref(), Ok("20250530"));
        assert!(sap_date_to_calendar("00000000").is_err());
        assert!(sap_date_to_calendar("2025-05-30").is_err());
        assert!(sap_date_to_calendar("20250230").is_err());
        assert_eq!(sap_datetime_to_ms("20250530", "000000", 0), Ok(1_748_563_200_000));
        assert_eq!(sap_datetime_to_ms("20250530", "080000", 480), Ok(1_748_563_200_000));
        assert!(sap_datetime_to_ms("20250530", "250000", 0).is_err());
        assert!(sap_datetime_to_ms("20250530", "0800", 0).is_err());
        assert_eq!(ms_to_sap_datetime(1_748_563_200_000, 480), ("20250530".to_owned(), "080000".to_owned()));
        assert_eq!(calendar_date_to_ms("2025-05-30"), Ok(1_748_563_200_000));
        assert_eq!(ms_to_calendar_date(1_748_563_200_000 - 1, 0), "2025-05-29");
        assert_eq!(ms_to_calendar_date(1_748_563_200_000 - 1, 480), "2025-05-30");
    }

    #[test]
    fn odata_dates() {
        assert_eq!(odata_to_ms("/Date(1748563200000)/"), Ok(1_748_563_200_000));
        assert_eq!(odata_to_ms("/Date(1748563200000+0000)/"), Ok(1_748_563_200_000));
        assert_eq!(odata_to_ms("/Date(1748563200000-0120)/"), Ok(1_748_563_200_000));
        assert_eq!(odata_to_ms("/Date(-86400000)/"), Ok(-86_400_000));
        assert_eq!(ms_to_odata(1_748_563_200_000), "/Date(1748563200000)/");
        for bad in ["", "Date(1)", "/Date()/", "/Date(abc)/", "/Date(1+00)/", "/Date(1.5)/", "\\/Date(1)\\/"] {
            assert!(matches!(odata_to_ms(bad), Err(TimeError::Malformed { .. })), "{bad:?}");
        }
        assert!(matches!(odata_to_ms("/Date(99999999999999999999)/"), Err(TimeError::Overflow { .. })));
    }

    #[test]
    fn now_is_after_2025() {
        assert!(now_ms() > 1_735_689_600_000);
    }
}
