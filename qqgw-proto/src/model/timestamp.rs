//! Timestamps as QQ sends them: RFC 3339 text or Unix seconds.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A point in time exactly as QQ sent it.
///
/// Guild-side events send RFC 3339 text (`"2024-05-20T15:14:58+08:00"`); group and friend
/// lifecycle events send integer Unix seconds (`1699240248`); a few fields carry Unix
/// seconds as a numeric string. All three are accepted and kept unchanged, so nothing is
/// lost by re-serializing; [`unix_seconds`](Self::unix_seconds) reads any of them.
///
/// # Examples
///
/// ```
/// use qqgw_proto::model::Timestamp;
///
/// let text: Timestamp = serde_json::from_str(r#""2024-05-20T15:14:58+08:00""#).unwrap();
/// let unix: Timestamp = serde_json::from_str("1716189298").unwrap();
/// assert_eq!(text.unix_seconds(), Some(1_716_189_298));
/// assert_eq!(unix.unix_seconds(), text.unix_seconds());
/// assert_eq!(text.as_text(), Some("2024-05-20T15:14:58+08:00"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timestamp {
    /// Sent as a string: RFC 3339 text, a numeric string, or anything else (even `""`).
    Text(String),
    /// Sent as an integer number of Unix seconds.
    Unix(i64),
}

impl Timestamp {
    /// Seconds since the Unix epoch, if the value is an integer, a numeric string, or
    /// RFC 3339 text of the form `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`. Fractions of a
    /// second are dropped.
    #[must_use]
    pub fn unix_seconds(&self) -> Option<i64> {
        match self {
            Self::Unix(secs) => Some(*secs),
            Self::Text(text) => {
                let text = text.trim();
                text.parse::<i64>().ok().or_else(|| parse_rfc3339(text))
            }
        }
    }

    /// The text as sent, if it was sent as a string.
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Unix(_) => None,
        }
    }
}

impl fmt::Display for Timestamp {
    /// The value as sent: the text, or the decimal number of seconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) => f.write_str(text),
            Self::Unix(secs) => write!(f, "{secs}"),
        }
    }
}

/// Serialized in the form it was received: a string or an integer.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::Unix(secs) => serializer.serialize_i64(*secs),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 string or integer Unix seconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        Ok(Timestamp::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Timestamp, E> {
        Ok(Timestamp::Text(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        Ok(Timestamp::Unix(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        // Beyond i64 it cannot be a real time; keep the digits anyway.
        Ok(i64::try_from(v).map_or_else(|_| Timestamp::Text(v.to_string()), Timestamp::Unix))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        // Fractional seconds: keep the text; `unix_seconds` will not read it, but nothing is lost.
        Ok(Timestamp::Text(v.to_string()))
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (also `t`/space as separator, `z`, and
/// `±HHMM`) into Unix seconds.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let mut p = Cursor(text.as_bytes());
    let year = p.digits(4)?;
    p.eat(b'-')?;
    let month = p.digits(2)?;
    p.eat(b'-')?;
    let day = p.digits(2)?;
    match p.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = p.digits(2)?;
    p.eat(b':')?;
    let minute = p.digits(2)?;
    p.eat(b':')?;
    let second = p.digits(2)?;
    if p.peek() == Some(b'.') {
        p.next();
        let mut any = false;
        while p.peek().is_some_and(|b| b.is_ascii_digit()) {
            p.next();
            any = true;
        }
        if !any {
            return None;
        }
    }
    let offset = match p.next()? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let hours = p.digits(2)?;
            if p.peek() == Some(b':') {
                p.next();
            }
            let minutes = p.digits(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = hours * 3600 + minutes * 60;
            if sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    if !p.0.is_empty() {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn digits(&mut self, count: usize) -> Option<i64> {
        let mut value = 0;
        for _ in 0..count {
            let b = self.next()?;
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
        }
        Some(value)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(s: &str) -> Timestamp {
        Timestamp::Text(s.to_owned())
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(text("1970-01-01T00:00:00Z").unix_seconds(), Some(0));
        assert_eq!(text("2024-05-20T15:14:58+08:00").unix_seconds(), Some(1_716_189_298));
        assert_eq!(text("2024-05-20T07:14:58Z").unix_seconds(), Some(1_716_189_298));
        assert_eq!(text("2024-05-20T07:14:58.123456z").unix_seconds(), Some(1_716_189_298));
        assert_eq!(text("2024-05-20 15:14:58+0800").unix_seconds(), Some(1_716_189_298));
        assert_eq!(text("2024-05-19T23:14:58-08:00").unix_seconds(), Some(1_716_189_298));
        assert_eq!(text("2000-02-29T00:00:00Z").unix_seconds(), Some(951_782_400));
        assert_eq!(text("1969-12-31T23:59:59Z").unix_seconds(), Some(-1));
        assert_eq!(text(" 1699240248 ").unix_seconds(), Some(1_699_240_248));
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "2024-05-20",
            "2024-05-20T15:14:58",
            "2024-13-20T15:14:58Z",
            "2023-02-29T00:00:00Z",
            "2024-05-20T24:00:00Z",
            "2024-05-20T15:14:58.Z",
            "2024-05-20T15:14:58+08:00 extra",
            "2024-05-20T15:14:58+25:00",
            "２０２４-05-20T15:14:58Z",
        ] {
            assert_eq!(text(bad).unix_seconds(), None, "{bad}");
        }
    }

    #[test]
    fn serde_keeps_the_form() {
        for json in [r#""2024-05-20T15:14:58+08:00""#, "1699240248", r#""1699240248""#, r#""""#] {
            let ts: Timestamp = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&ts).unwrap(), json);
        }
        assert_eq!(
            serde_json::from_str::<Timestamp>("18446744073709551615").unwrap(),
            text("18446744073709551615")
        );
        assert!(serde_json::from_str::<Timestamp>("{}").is_err());
    }
}
