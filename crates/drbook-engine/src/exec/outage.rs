//! When the outage began (`--since`, the TUI's outage-start dialog): the text an operator
//! types, read as a UTC time, and the bounds that keep a slip of the finger out of the RTO.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, Utc};

/// How far before the incident's first event an outage may have begun: further back is more
/// likely a wrong date than an outage nobody acted on for a day.
pub const MAX_BEFORE_INCIDENT: Duration = Duration::hours(24);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SinceError {
    #[error(
        "`{0}` is not a time: give RFC 3339 (2026-11-25T01:40:00Z), HH:MM (today, UTC) or an age (25m ago)"
    )]
    Unreadable(String),
    #[error(
        "`{text}` is {at}, in the future (now {now}); for a time yesterday give the date: {}",
        yesterday(*at)
    )]
    Future {
        text: String,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "`{text}` is {at}, more than a day before the incident began ({first}): check the date"
    )]
    TooEarly {
        text: String,
        at: DateTime<Utc>,
        first: DateTime<Utc>,
    },
}

fn yesterday(at: DateTime<Utc>) -> String {
    (at - Duration::days(1))
        .format("%Y-%m-%dT%H:%M:00Z")
        .to_string()
}

/// Reads `text` as a UTC time relative to `now`: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC),
/// `HH:MM[:SS]` (today, UTC) or `DURATION ago` (`25m ago`, `1h 10m ago`).
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, SinceError> {
    let t = text.trim();
    let unreadable = || SinceError::Unreadable(text.to_string());
    if let Some(age) = t.strip_suffix("ago") {
        let d = drbook_core::time::parse_duration(age).map_err(|_| unreadable())?;
        let d = Duration::from_std(d).map_err(|_| unreadable())?;
        // Milliseconds, as every time in the log.
        return now
            .checked_sub_signed(d)
            .map(|at| at.trunc_subsecs(3))
            .ok_or_else(unreadable);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(at.and_utc());
        }
    }
    for f in ["%H:%M:%S", "%H:%M"] {
        if let Ok(time) = NaiveTime::parse_from_str(t, f) {
            let today: NaiveDate = now.date_naive();
            return Ok(today.and_time(time).and_utc());
        }
    }
    Err(unreadable())
}

/// `parse`, then refused when in the future of `now` or more than a day before `first` (the
/// incident's first event; `now` for an incident about to start).
pub fn parse_checked(
    text: &str,
    now: DateTime<Utc>,
    first: DateTime<Utc>,
) -> Result<DateTime<Utc>, SinceError> {
    let at = parse(text, now)?;
    check(text, at, now, first)?;
    Ok(at)
}

/// The bounds of `parse_checked`, for a time already read.
pub fn check(
    text: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    first: DateTime<Utc>,
) -> Result<(), SinceError> {
    // Whole seconds: "now" typed a moment ago is not the future.
    if at > now + Duration::seconds(1) {
        return Err(SinceError::Future {
            text: text.to_string(),
            at,
            now,
        });
    }
    if at < first - MAX_BEFORE_INCIDENT {
        return Err(SinceError::TooEarly {
            text: text.to_string(),
            at,
            first,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-25T02:10:30Z".parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn reads_rfc3339_clock_times_and_ages() {
        assert_eq!(
            parse("2026-11-25T01:40:00Z", now()),
            Ok(at("2026-11-25T01:40:00Z"))
        );
        assert_eq!(
            parse("2026-11-25T02:40:00+01:00", now()),
            Ok(at("2026-11-25T01:40:00Z"))
        );
        assert_eq!(
            parse("2026-11-25 01:40", now()),
            Ok(at("2026-11-25T01:40:00Z"))
        );
        assert_eq!(parse("01:40", now()), Ok(at("2026-11-25T01:40:00Z")));
        assert_eq!(parse(" 01:40:15 ", now()), Ok(at("2026-11-25T01:40:15Z")));
        assert_eq!(parse("25m ago", now()), Ok(at("2026-11-25T01:45:30Z")));
        assert_eq!(parse("1h 5m ago", now()), Ok(at("2026-11-25T01:05:30Z")));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "25 ago",
            "25:99",
            "ago",
            "2026-13-01T00:00:00Z",
        ] {
            let e = parse(bad, now()).unwrap_err();
            assert!(matches!(e, SinceError::Unreadable(_)), "{bad}: {e}");
            assert!(e.to_string().contains("25m ago"), "{e}");
        }
    }

    #[test]
    fn refuses_the_future_and_more_than_a_day_before_the_incident() {
        let first = at("2026-11-25T01:50:00Z");
        let e = parse_checked("02:30", now(), first).unwrap_err();
        assert!(matches!(e, SinceError::Future { .. }), "{e}");
        assert!(e.to_string().contains("2026-11-24T02:30:00Z"), "{e}");
        let e = parse_checked("2026-11-24T01:49:00Z", now(), first).unwrap_err();
        assert!(matches!(e, SinceError::TooEarly { .. }), "{e}");
        assert!(e.to_string().contains("more than a day"), "{e}");
        assert_eq!(
            parse_checked("2026-11-24T01:51:00Z", now(), first),
            Ok(at("2026-11-24T01:51:00Z"))
        );
        assert_eq!(parse_checked("0s ago", now(), now()), Ok(now()));
    }
}
