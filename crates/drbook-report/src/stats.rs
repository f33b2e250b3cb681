//! Small helpers shared by the renderings (durations and percentiles are `drbook_core::time`'s).

use drbook_core::time::compact_ms;

/// A signed difference: `+1.2s`, `-300ms` style.
pub fn delta(d: i64) -> String {
    let sign = if d < 0 { "-" } else { "+" };
    format!("{sign}{}", compact_ms(d.unsigned_abs()))
}

/// The first 12 characters of a hash (by character: a hash read from a log is input).
pub fn short_hash(s: &str) -> String {
    s.chars().take(12).collect()
}

pub fn opt_ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), compact_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_carry_their_sign() {
        assert_eq!(delta(-1500), "-1.5s");
    }
}
