//! UTC calendar dates of Unix times (proleptic Gregorian, Howard Hinnant's day-count
//! algorithms): ISO 8601 written to the second (Locust's CSV `First Seen`) or the microsecond
//! (probe templates' `{{sent_at_iso}}`), and read back (`--probe-ts-unit iso8601`); a
//! cookie's `Expires` date read (`cookie_date`, RFC 6265 5.1.1).

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-01-02T03:04:05.123456Z` for Unix µs.
pub fn iso8601(us: u64) -> String {
    let secs = (us / 1_000_000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{:06}Z", us % 1_000_000)
}

/// Unix µs of an ISO 8601 / RFC 3339 time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; a time
/// without an offset is taken as UTC.
pub fn parse_iso8601_us(s: &str) -> Option<u64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<u32> { s.get(a..b)?.parse().ok() };
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac_us = 0u64;
    if let Some(f) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut padded: String = f[..digits.min(6)].to_string();
        while padded.len() < 6 {
            padded.push('0');
        }
        frac_us = padded.parse().ok()?;
        rest = &f[digits..];
    }
    let offset_s: i64 = match rest {
        "" | "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let (oh, om): (i64, i64) = (o[1..3].parse().ok()?, o[4..6].parse().ok()?);
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y as i64, mo, d) * 86_400 + (h * 3600 + mi * 60 + sec) as i64 - offset_s;
    u64::try_from(secs).ok().map(|s| s * 1_000_000 + frac_us)
}

/// `2026-11-27T17:43:21Z` for a Unix second.
pub fn iso8601_seconds(unix: u64) -> String {
    let (days, rem) = ((unix / 86_400) as i64, unix % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// A wall-clock time as nanoseconds since the Unix epoch (0 before it): how reports carry the
/// start of a run.
pub fn unix_ns(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The wall-clock time `ns` nanoseconds after the Unix epoch.
pub fn from_unix_ns(ns: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns)
}

/// Unix seconds of a cookie's `Expires` date, read as RFC 6265 5.1.1 says: tokens in any order,
/// the first `hh:mm:ss`, day of month, month name and year found (`Sun, 06 Nov 1994 08:49:37
/// GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`). `None`: not a date.
pub fn cookie_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    let delimiter = |c: char| !(c.is_ascii_alphanumeric() || c == ':');
    for token in text.split(delimiter).filter(|t| !t.is_empty()) {
        let digits = token.bytes().take_while(u8::is_ascii_digit).count();
        if time.is_none() {
            let parts: Vec<&str> = token.split(':').collect();
            if parts.len() == 3
                && parts.iter().all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            {
                let n = |i: usize| parts[i].parse::<u32>().ok();
                time = Some((n(0)?, n(1)?, n(2)?));
                continue;
            }
        }
        if day.is_none() && (1..=2).contains(&digits) {
            day = token[..digits].parse::<u32>().ok();
            continue;
        }
        if month.is_none() && token.len() >= 3 {
            let name = token[..3].to_ascii_lowercase();
            if let Some(i) = MONTHS.iter().position(|m| *m == name) {
                month = Some(i as u32 + 1);
                continue;
            }
        }
        if year.is_none() && (2..=4).contains(&digits) {
            year = token[..digits].parse::<i64>().ok();
        }
    }
    let (h, mi, s) = time?;
    let (d, m, y) = (day?, month?, year?);
    let y = match y {
        70..=99 => y + 1900,
        0..=69 => y + 2000,
        y => y,
    };
    if !(1..=31).contains(&d) || y < 1601 || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_round_trips() {
        let us = 1_795_801_354_123_456;
        let s = iso8601(us);
        assert_eq!(parse_iso8601_us(&s), Some(us));
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(parse_iso8601_us("2000-03-01T00:00:00+01:00"), Some(951_865_200_000_000));
        assert_eq!(parse_iso8601_us("2000-03-01T00:00:00.5"), Some(951_868_800_500_000));
        assert_eq!(parse_iso8601_us("yesterday"), None);
    }

    #[test]
    fn whole_seconds_as_locust_writes_them() {
        assert_eq!(iso8601_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_seconds(1_795_801_401), "2026-11-27T17:43:21Z");
        assert_eq!(iso8601_seconds(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn cookie_dates_in_the_forms_servers_send() {
        // 784111777 = 1994-11-06T08:49:37Z, the RFC's example.
        for text in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(cookie_date(text), Some(784_111_777), "{text}");
        }
        assert_eq!(cookie_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(cookie_date("tomorrow"), None);
        assert_eq!(cookie_date("Sun, 32 Nov 1994 08:49:37 GMT"), None);
    }
}
