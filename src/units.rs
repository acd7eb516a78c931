//! Human-written quantities: parsers for durations, rates, counts and sizes, and printers for
//! rates and durations in the same notation.

use std::time::Duration;

/// `500ms`, `10s`, `2m`, `1h`, `250us`, `1.5s`. A bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("'{s}' is not a duration (try 500ms, 10s, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("'{s}': unknown duration unit '{other}' (use us, ms, s, m, h)")),
    };
    if !secs.is_finite() || secs > 365.0 * 86400.0 {
        return Err(format!("'{s}' is not a sensible duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Requests per second from `166000`, `166k`, `10M/min`, `2000/s`, `5/s`, `0.5`.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (amount, per) = match t.split_once('/') {
        Some((a, p)) => (a.trim(), p.trim()),
        None => (t, "s"),
    };
    let per_secs = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("'{s}': unknown rate unit '/{other}' (use /s, /min, /h)")),
    };
    let value = parse_scaled(amount).ok_or_else(|| format!("'{s}' is not a rate (try 166000, 166k, 10M/min)"))?;
    let rate = value / per_secs;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!("rate must be greater than 0, got '{s}'"));
    }
    if rate > 100_000_000.0 {
        return Err(format!("rate '{s}' is above 100M req/s"));
    }
    Ok(rate)
}

/// A rate as the user may have written it: per second from 1/s up (`2000/s`); under that per
/// minute or hour with the per-second figure beside it (`30/min (0.5/s)`, `1/min (0.01667/s)`),
/// so that `--rate 0.5` and `--rate 30/min` both find their own words.
pub fn rate_as_written(rate: f64) -> String {
    let per_s = format!("{}/s", significant(rate, 4));
    if rate >= 1.0 {
        per_s
    } else {
        format!("{} ({per_s})", rate_text(rate))
    }
}

/// A rate as a person writes it, in the largest unit in which it is at least 1, to 4
/// significant digits: `2000/s`, `30/min`, `10/h`.
pub fn rate_text(rate: f64) -> String {
    let (value, unit) = if rate >= 1.0 {
        (rate, "s")
    } else if rate * 60.0 >= 1.0 - 1e-9 {
        (rate * 60.0, "min")
    } else {
        (rate * 3600.0, "h")
    };
    format!("{}/{unit}", significant(value, 4))
}

/// Requests per second for a report: whole numbers from 1/s up (`2000 req/s`), below that 4
/// significant digits and the rate as written (`0.002778 req/s (10/h)`), never `0 req/s`.
pub fn per_second_text(rate: f64) -> String {
    if rate >= 1.0 || rate <= 0.0 {
        format!("{rate:.0} req/s")
    } else {
        format!("{} req/s ({})", significant(rate, 4), rate_text(rate))
    }
}

/// A duration in the notation `parse_duration` reads: `6m`, `1h`, `90s`, `1.5s`.
pub fn duration_text(d: Duration) -> String {
    let secs = d.as_secs();
    match (d.subsec_nanos(), secs) {
        (0, s) if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        (0, s) if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        (0, s) => format!("{s}s"),
        _ => format!("{}s", significant(d.as_secs_f64(), 6)),
    }
}

/// `value` to `digits` significant digits, trailing zeros dropped: 0.002778, 30, 166000.
pub fn significant(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (digits - 1 - value.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{value:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A number with an optional k/M/G (x1000) suffix.
fn parse_scaled(s: &str) -> Option<f64> {
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        _ => (s, 1.0),
    };
    num.trim().parse::<f64>().ok().map(|v| v * mult)
}

/// A positive whole count, with optional k/M suffix: `1000`, `10k`.
pub fn parse_count(s: &str) -> Result<usize, String> {
    let v = parse_scaled(s.trim()).ok_or_else(|| format!("'{s}' is not a count"))?;
    if v < 1.0 || v.fract() != 0.0 || v > 1e12 {
        return Err(format!("'{s}' must be a whole number of at least 1"));
    }
    Ok(v as usize)
}

/// A byte size with binary multiples: `1G` = 1 GiB, `10M`, `512K`, `5MiB`, `1GB`, `4096`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("'{s}' is not a size (e.g. 10M, 1G)")),
    };
    let v: f64 = num.parse().map_err(|_| format!("'{s}' is not a size (e.g. 10M, 1G)"))?;
    let bytes = v * (1u64 << shift) as f64;
    if !(1.0..=(1u64 << 50) as f64).contains(&bytes) || bytes.fract() != 0.0 {
        return Err(format!("'{s}' must be a whole number of bytes between 1 and 1P"));
    }
    Ok(bytes as u64)
}

/// A wall-clock start time: Unix seconds (`1764080000`, `1764080000.5`) no more than an hour
/// ahead and not more than a second past.
pub fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    let secs: f64 = s.trim().parse().map_err(|_| format!("'{s}' is not a time in Unix seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("'{s}' is not a time in Unix seconds"));
    }
    let at = std::time::UNIX_EPOCH + Duration::from_secs_f64(secs);
    let now = std::time::SystemTime::now();
    if at + Duration::from_secs(1) < now {
        return Err(format!("--start-at {s} is in the past"));
    }
    if at > now + Duration::from_secs(3600) {
        return Err(format!("--start-at {s} is more than an hour ahead"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_in_errors_is_the_unit_the_user_wrote() {
        assert_eq!(rate_as_written(0.5), "30/min (0.5/s)");
        assert_eq!(rate_as_written(1.0 / 60.0), "1/min (0.01667/s)");
        assert_eq!(rate_as_written(2000.0), "2000/s");
    }

    #[test]
    fn sizes() {
        for (s, b) in
            [("1G", 1u64 << 30), ("10M", 10 << 20), ("5MiB", 5 << 20), ("4096", 4096), ("1.5K", 1536), ("2gb", 2 << 30)]
        {
            assert_eq!(parse_size(s), Ok(b), "{s}");
        }
        for bad in ["", "G", "10X", "-1M", "0", "0.3"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        let ok = [("10s", 10_000), ("500ms", 500), ("2m", 120_000), ("1.5s", 1500), ("3", 3000), ("1h", 3_600_000)];
        for (s, ms) in ok {
            assert_eq!(parse_duration(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        for bad in ["", "abc", "10x", "-1s", "1e400s", "s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        let ok = [
            ("166000", 166000.0),
            ("166k", 166000.0),
            ("10M/min", 10e6 / 60.0),
            ("2000/s", 2000.0),
            ("0.5", 0.5),
            ("3600/h", 1.0),
            ("10/h", 10.0 / 3600.0),
            ("1/min", 1.0 / 60.0),
            ("0.5/s", 0.5),
        ];
        for (s, r) in ok {
            let got = parse_rate(s).expect(s);
            assert!((got - r).abs() <= r * 1e-12, "{s}: {got}");
        }
        for bad in ["0", "-5", "abc", "10/day", "", "nan", "1G"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_print_as_written() {
        for (written, text) in
            [("10/h", "10/h"), ("1/min", "1/min"), ("0.5", "30/min"), ("2000/s", "2000/s"), ("166k", "166000/s")]
        {
            assert_eq!(rate_text(parse_rate(written).expect(written)), text);
        }
        assert_eq!(per_second_text(10.0 / 3600.0), "0.002778 req/s (10/h)");
        assert_eq!(per_second_text(2.0), "2 req/s");
        for (d, text) in [(360, "6m"), (60, "1m"), (7200, "2h"), (90, "90s"), (1, "1s")] {
            assert_eq!(duration_text(Duration::from_secs(d)), text);
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(d)));
        }
        assert_eq!(duration_text(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("64"), Ok(64));
        for bad in ["0", "1.5", "-3", "x"] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
    }
}
