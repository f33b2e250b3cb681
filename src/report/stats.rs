//! Small helpers shared by the renderings: percentiles and durations as people read them.

/// The nearest-rank percentile `p` (0..=100) of `values`, `None` when there are none.
pub fn percentile(values: &[u64], p: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(rank.clamp(1, v.len()) - 1).copied()
}

/// `37ms`, `1.2s`, `3m 04s`, `1h 02m`: short enough for a table cell.
pub fn ms(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        _ if ms < 1000 => format!("{ms}ms"),
        0..60 => format!("{:.1}s", ms as f64 / 1000.0),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A signed difference: `+1.2s`, `-300ms` style.
pub fn delta(d: i64) -> String {
    let sign = if d < 0 { "-" } else { "+" };
    format!("{sign}{}", ms(d.unsigned_abs()))
}

/// The first 12 characters of a hash (by character: a hash read from a log is input).
pub fn short_hash(s: &str) -> String {
    s.chars().take(12).collect()
}

pub fn opt_ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), ms)
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
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(ms(1234), "1.2s");
        assert_eq!(ms(37), "37ms");
        assert_eq!(ms(184_000), "3m 04s");
        assert_eq!(ms(3_720_000), "1h 02m");
        assert_eq!(delta(-1500), "-1.5s");
    }
}
