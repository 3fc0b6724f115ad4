//! Timestamps as PostgREST sends them. The cursor keeps the exact string (a
//! JS `Date` would drop microseconds and skip or repeat rows); this module
//! only turns it into microseconds since the epoch for comparisons and the
//! look-back window's arithmetic.

/// Microseconds since 1970-01-01T00:00:00Z of an ISO 8601 timestamp:
/// `YYYY-MM-DD[T ]HH:MM[:SS[.f{1,9}]][Z|±HH[:MM[:SS]]]`; no offset means
/// UTC (a `timestamp without time zone` column). PostgreSQL writes offsets
/// with seconds for historical local mean times (`+05:53:28`).
pub fn parse_micros(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b' ' | b't'))
    {
        return None;
    }
    let (hour, minute) = (num(11..13)?, num(14..16)?);
    if b.get(13) != Some(&b':') {
        return None;
    }
    let mut at = 16;
    let mut second = 0;
    if b.get(at) == Some(&b':') {
        second = num(17..19)?;
        at = 19;
    }
    let mut micros = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let fraction = &b[start..at];
        if fraction.is_empty() {
            return None;
        }
        for i in 0..6 {
            micros = micros * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0'));
        }
    }
    let offset_seconds = match b.get(at) {
        None => 0,
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let hours = num(at + 1..at + 3)?;
            let (minutes, offset_secs) = match b.get(at + 3) {
                None => (0, 0),
                Some(b':') if b.len() == at + 6 => (num(at + 4..at + 6)?, 0),
                Some(b':') if b.len() == at + 9 && b.get(at + 6) == Some(&b':') => {
                    (num(at + 4..at + 6)?, num(at + 7..at + 9)?)
                }
                Some(_) if b.len() == at + 5 => (num(at + 3..at + 5)?, 0),
                _ => return None,
            };
            if minutes > 59 || offset_secs > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60 + offset_secs;
            if sign == b'+' {
                seconds
            } else {
                -seconds
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * 1_000_000 + micros)
}

/// The inverse of [`parse_micros`], in UTC with six fractional digits, as a
/// value PostgreSQL casts without loss.
/// The earliest and latest instants the browser orders: 0001-01-01 and
/// 9999-12-31T23:59:59.999999, both UTC.
pub const ORDERABLE_MICROS: std::ops::RangeInclusive<i64> =
    -62_135_596_800_000_000..=253_402_300_799_999_999;

/// Where a timestamp PostgreSQL wrote but the browser cannot read sorts:
/// before every orderable instant (a year BC) or after all of them (a year
/// past 9999). `None` for anything else.
pub fn out_of_range_bound(text: &str) -> Option<i64> {
    let text = text.trim();
    let year_digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if text.ends_with(" BC") && year_digits >= 4 {
        Some(*ORDERABLE_MICROS.start())
    } else if year_digits > 4 && text.as_bytes().get(year_digits) == Some(&b'-') {
        Some(*ORDERABLE_MICROS.end())
    } else {
        None
    }
}

pub fn format_micros(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}+00:00",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgrest_timestamps_keep_microseconds() {
        assert_eq!(parse_micros("1970-01-01T00:00:00+00:00"), Some(0));
        assert_eq!(parse_micros("1970-01-01T00:00:00.000001+00:00"), Some(1));
        assert_eq!(
            parse_micros("2026-11-28T23:11:24.416195+00:00"),
            Some(1_795_907_484_416_195)
        );
        assert_eq!(
            parse_micros("2026-11-28T23:11:24.4+00:00"),
            Some(1_795_907_484_400_000)
        );
    }

    #[test]
    fn offsets_and_separators() {
        let utc = parse_micros("2024-02-29T12:00:00Z").unwrap();
        assert_eq!(parse_micros("2024-02-29 14:00:00+02:00"), Some(utc));
        assert_eq!(parse_micros("2024-02-29T07:00:00-05"), Some(utc));
        assert_eq!(parse_micros("2024-02-29T17:30:00+0530"), Some(utc));
        assert_eq!(
            parse_micros("2024-02-29T12:00:00"),
            Some(utc),
            "no offset: UTC"
        );
        assert_eq!(parse_micros("2024-02-29T12:00"), Some(utc));
        assert_eq!(
            parse_micros("2024-02-29T17:30:00+05:30:00"),
            Some(utc),
            "offsets with seconds, as PostgreSQL writes local mean times"
        );
        assert_eq!(
            parse_micros("1880-01-01T05:53:28+05:53:28"),
            parse_micros("1880-01-01T00:00:00Z")
        );
        assert_eq!(parse_micros("2024-02-29T17:30:00+05:30:0"), None);
        assert_eq!(parse_micros("2024-02-29T17:30:00+05:61"), None);
    }

    #[test]
    fn order_is_preserved_where_string_order_is_not() {
        let a = parse_micros("2024-01-01T10:00:00.5+00:00").unwrap();
        let b = parse_micros("2024-01-01T10:00:00.123456+00:00").unwrap();
        assert!(b < a);
        let c = parse_micros("2024-01-01T11:00:00+02:00").unwrap();
        assert!(c < b);
    }

    #[test]
    fn formatting_round_trips() {
        for text in [
            "1970-01-01T00:00:00.000000+00:00",
            "2024-02-29T23:59:59.999999+00:00",
            "1969-12-31T23:59:59.500000+00:00",
            "2100-03-01T00:00:00.000001+00:00",
        ] {
            assert_eq!(format_micros(parse_micros(text).unwrap()), text);
        }
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-01",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0",
            "2024/01/01T00:00:00Z",
            "2024-01-01T00:00:00Zjunk",
        ] {
            assert_eq!(parse_micros(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_out_of_the_browsers_range_sort_at_its_ends() {
        let (first, last) = (*ORDERABLE_MICROS.start(), *ORDERABLE_MICROS.end());
        assert_eq!(format_micros(first), "0001-01-01T00:00:00.000000+00:00");
        assert_eq!(parse_micros("9999-12-31T23:59:59.999999+00:00"), Some(last));
        assert_eq!(
            out_of_range_bound("0044-03-15T12:00:00+00:00 BC"),
            Some(first)
        );
        assert_eq!(out_of_range_bound("10000-01-01T00:00:00+00:00"), Some(last));
        assert_eq!(out_of_range_bound("2026-01-01T00:00:00+00:00"), None);
        assert_eq!(out_of_range_bound("soon"), None);
    }
}
