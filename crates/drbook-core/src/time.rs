//! Durations and times as drbook reads and writes them, in one place: the duration grammar
//! of runbooks, scenarios and flags (`90s`, `5m`, `1h 30m`), the printers (compact for
//! tables and verdicts, exact for what a step waited, a clock for the screen), the RFC 3339
//! timestamps of logs, checks and the simulator, and the nearest-rank percentile.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses a duration such as `90s`, `5m`, `1h 30m` (surrounding blanks ignored).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| e.to_string())
}

/// `37ms`, `1.2s`, `3m 04s`, `1h 02m`: short enough for a table cell, read at a glance.
pub fn compact_ms(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        _ if ms < 1000 => format!("{ms}ms"),
        0..60 => format!("{:.1}s", ms as f64 / 1000.0),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// [`compact_ms`] of a `Duration`.
pub fn compact(d: Duration) -> String {
    compact_ms(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Every unit spelled out, nothing rounded away: `1h 2m 3s`, `250ms`. For a duration that
/// was given (an RTO, a wait, a timeout) and is shown back as it was written.
pub fn exact(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// How long a step took, as the timeline says it: `8.1s` under a minute, then a clock (`1:01`).
pub fn took(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        clock(ms / 1000)
    }
}

/// A clock for the screen: `4:07`, `1:02:09`.
pub fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// `2026-03-01T10:00:00Z`: UTC to the second.
pub fn rfc3339_secs(t: DateTime<Utc>) -> String {
    rfc3339(t, SecondsFormat::Secs)
}

/// `2026-03-01T10:00:00.123Z`: UTC to the millisecond, as the log and ARM write times.
pub fn rfc3339_millis(t: DateTime<Utc>) -> String {
    rfc3339(t, SecondsFormat::Millis)
}

fn rfc3339(t: DateTime<Utc>, precision: SecondsFormat) -> String {
    t.to_rfc3339_opts(precision, true)
}

/// The nearest-rank percentile `p` (0..=100) of `values`, `None` when there are none.
pub fn percentile<T: Copy + Ord>(values: &[T], p: f64) -> Option<T> {
    let mut v = values.to_vec();
    v.sort_unstable();
    percentile_sorted(&v, p)
}

/// [`percentile`] of values already in ascending order (no copy).
pub fn percentile_sorted<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(100));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile::<u64>(&[], 50.0), None);
        let d = [Duration::from_millis(3), Duration::from_millis(1)];
        assert_eq!(percentile(&d, 50.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(compact_ms(1234), "1.2s");
        assert_eq!(compact_ms(37), "37ms");
        assert_eq!(compact_ms(184_000), "3m 04s");
        assert_eq!(compact_ms(3_720_000), "1h 02m");
        assert_eq!(compact(Duration::from_millis(1_809_800)), "30m 09s");
        assert_eq!(exact(Duration::from_secs(3723)), "1h 2m 3s");
        assert_eq!(clock(247), "4:07");
        assert_eq!(clock(3729), "1:02:09");
    }

    #[test]
    fn durations_parse_with_blanks_and_refuse_garbage() {
        assert_eq!(parse_duration(" 1h 30m "), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn times_are_utc_with_a_z() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T11:00:00.123+01:00")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(rfc3339_secs(t), "2026-03-01T10:00:00Z");
        assert_eq!(rfc3339_millis(t), "2026-03-01T10:00:00.123Z");
    }
}
