//! RFC 3339 timestamps (`2025-03-01T02:00:00Z`, `2025-03-01T02:00:00.5+01:00`)
//! as campaign folders record when they started: parsed to UTC seconds, and
//! the UTC day they fall on.

use std::fmt;

/// A moment as seconds since 1970-01-01T00:00:00Z (whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// A calendar day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> Day {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Day { year, month, day }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn number(text: &str, what: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected digits for the {what}, found {text:?}"));
    }
    text.parse()
        .map_err(|_| format!("the {what} {text:?} is out of range"))
}

impl Timestamp {
    /// Parses an RFC 3339 date-time. The message says what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected =
            || format!("expected an RFC 3339 time such as 2025-03-01T02:00:00Z, found {text:?}");
        let bytes = text.as_bytes();
        // RFC 3339 is ASCII; checking first keeps every slice below on a char boundary.
        if !text.is_ascii() || bytes.len() < 20 || !matches!(bytes[10], b'T' | b't' | b' ') {
            return Err(expected());
        }
        let (date, rest) = (&text[..10], &text[11..]);
        if date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
            return Err(expected());
        }
        let year = i64::from(number(&date[..4], "year")?);
        let month = number(&date[5..7], "month")?;
        let day = number(&date[8..10], "day")?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(format!("{text:?} is not a calendar date"));
        }
        if rest.len() < 9 || rest.as_bytes()[2] != b':' || rest.as_bytes()[5] != b':' {
            return Err(expected());
        }
        let hour = number(&rest[..2], "hour")?;
        let minute = number(&rest[3..5], "minute")?;
        let second = number(&rest[6..8], "second")?;
        if hour > 23 || minute > 59 || second > 60 {
            return Err(format!("{text:?} is not a time of day"));
        }
        let mut zone = &rest[8..];
        if let Some(fraction) = zone.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(expected());
            }
            zone = &fraction[digits..];
        }
        let offset_minutes: i64 = match zone {
            "Z" | "z" => 0,
            _ if zone.len() == 6
                && matches!(zone.as_bytes()[0], b'+' | b'-')
                && zone.as_bytes()[3] == b':' =>
            {
                let h = i64::from(number(&zone[1..3], "offset hours")?);
                let m = i64::from(number(&zone[4..6], "offset minutes")?);
                if h > 23 || m > 59 {
                    return Err(expected());
                }
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                sign * (h * 60 + m)
            }
            _ => return Err(expected()),
        };
        let days = days_from_civil(year, month, day);
        let local = days * 86_400
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(second.min(59));
        Ok(Timestamp(local - offset_minutes * 60))
    }

    /// The UTC day of this moment.
    pub fn day(&self) -> Day {
        civil_from_days(self.0.div_euclid(86_400))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.rem_euclid(86_400);
        write!(
            f,
            "{} {:02}:{:02} UTC",
            self.day(),
            secs / 3600,
            (secs % 3600) / 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_offsets() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z"), Ok(Timestamp(0)));
        let t = Timestamp::parse("2025-03-01T02:30:00Z").expect("valid");
        assert_eq!(t.0, 1_740_796_200);
        assert_eq!(t.day().to_string(), "2025-03-01");
        // 00:30 at +01:00 is the previous UTC day.
        let early = Timestamp::parse("2025-03-01T00:30:00.123+01:00").expect("valid");
        assert_eq!(early.day().to_string(), "2025-02-28");
        assert_eq!(early.to_string(), "2025-02-28 23:30 UTC");
        assert_eq!(
            Timestamp::parse("2024-02-29 12:00:00-05:00").map(|t| t.day().to_string()),
            Ok("2024-02-29".to_string())
        );
    }

    #[test]
    fn rejects_what_is_not_rfc_3339() {
        for bad in [
            "",
            "2025-03-01",
            "2025-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-03-01T24:00:00Z",
            "2025-03-01T00:00:00",
            "2025-03-01T00:00:00+0100",
            "yesterday at noon, roughly",
            "2025-03-01T00:00:0é+01:00",
            "2025-03-01T00:00:00.é1Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}
