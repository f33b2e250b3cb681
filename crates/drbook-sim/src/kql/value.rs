//! Runtime values and KQL's comparison, equality and string-matching rules.

use super::*;

/// A runtime value: JSON's scalars plus KQL's datetime and timespan; arrays and objects stay JSON.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(String),
    DateTime(DateTime<Utc>),
    Span(TimeDelta),
    Dyn(Value),
}

impl Val {
    pub(super) fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map(Val::Long)
                .or_else(|| n.as_f64().map(Val::Real))
                .unwrap_or(Val::Null),
            Value::String(s) => Val::Str(s.clone()),
            other => Val::Dyn(other.clone()),
        }
    }

    pub(super) fn into_json(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::Long(n) => Value::from(n),
            Val::Real(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s),
            Val::DateTime(_) | Val::Span(_) => Value::String(self.text().into_owned()),
            Val::Dyn(v) => v,
        }
    }

    pub(super) fn is_null(&self) -> bool {
        matches!(self, Val::Null | Val::Dyn(Value::Null))
    }

    /// `tostring()` semantics: null reads as the empty string.
    pub(super) fn text(&self) -> Cow<'_, str> {
        match self {
            Val::Null => Cow::Borrowed(""),
            Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Val::Long(n) => Cow::Owned(n.to_string()),
            Val::Real(f) => Cow::Owned(f.to_string()),
            Val::Str(s) => Cow::Borrowed(s),
            Val::DateTime(dt) => Cow::Owned(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Val::Span(span) => Cow::Owned(format_span(*span)),
            Val::Dyn(v) => Cow::Owned(v.to_string()),
        }
    }

    pub(super) fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Long(n) => Some(*n as f64),
            Val::Real(f) => Some(*f),
            _ => None,
        }
    }

    pub(super) fn truth(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.is_null() || matches!(self, Val::Str(s) if s.is_empty())
    }

    /// Rank of the value's type, so sorting mixed columns is a total order.
    pub(super) fn rank(&self) -> u8 {
        match self {
            Val::Null => 0,
            Val::Bool(_) => 1,
            Val::Long(_) | Val::Real(_) => 2,
            Val::DateTime(_) => 3,
            Val::Span(_) => 4,
            Val::Str(_) => 5,
            Val::Dyn(_) => 6,
        }
    }
}

/// KQL's timespan text: `[-][d.]hh:mm:ss[.fffffff]`.
pub(super) fn format_span(span: TimeDelta) -> String {
    let nanos = i128::from(span.num_seconds()) * 1_000_000_000 + i128::from(span.subsec_nanos());
    let sign = if nanos < 0 { "-" } else { "" };
    let nanos = nanos.unsigned_abs();
    let ticks = (nanos % 1_000_000_000) / 100;
    let secs = nanos / 1_000_000_000;
    let (days, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if ticks > 0 {
        out.push_str(&format!(".{ticks:07}"));
    }
    out
}

/// Reads KQL's timespan text back (`[-][d.]hh:mm:ss[.fffffff]`), as stored by `extend`.
pub(super) fn parse_span(text: &str) -> Option<TimeDelta> {
    let text = text.trim();
    let (negative, text) = text.strip_prefix('-').map_or((false, text), |t| (true, t));
    let (days, clock) = match text.split_once('.') {
        Some((days, clock)) if !days.contains(':') && clock.contains(':') => {
            (days.parse::<i64>().ok()?, clock)
        }
        _ => (0, text),
    };
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let fields: Vec<i64> = clock
        .split(':')
        .map(|f| f.parse::<i64>().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = fields.as_slice() else {
        return None;
    };
    if fraction.len() > 9 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac_nanos = format!("{fraction:0<9}").parse::<i64>().ok()?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(h.checked_mul(3_600)?)?
        .checked_add(m.checked_mul(60)?)?;
    let nanos = secs
        .checked_add(*s)?
        .checked_mul(1_000_000_000)?
        .checked_add(frac_nanos)?;
    Some(TimeDelta::nanoseconds(if negative {
        nanos.checked_neg()?
    } else {
        nanos
    }))
}

pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Comparison for `<`, `==` and friends; `None` when either side is null or they don't compare.
pub(super) fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    use Val::*;
    match (a, b) {
        (Long(x), Long(y)) => Some(x.cmp(y)),
        (Long(_) | Real(_), Long(_) | Real(_)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Bool(x), Str(s)) => Some(x.cmp(&parse_bool(s)?)),
        (Str(s), Bool(y)) => Some(parse_bool(s)?.cmp(y)),
        (DateTime(x), DateTime(y)) => Some(x.cmp(y)),
        (DateTime(x), Str(s)) => Some(x.cmp(&parse_datetime(s)?)),
        (Str(s), DateTime(y)) => Some(parse_datetime(s)?.cmp(y)),
        (Span(x), Span(y)) => Some(x.cmp(y)),
        (Span(x), Str(s)) => Some(x.cmp(&parse_span(s)?)),
        (Str(s), Span(y)) => Some(parse_span(s)?.cmp(y)),
        (Str(s), Long(_) | Real(_)) => s.trim().parse::<f64>().ok()?.partial_cmp(&b.as_f64()?),
        (Long(_) | Real(_), Str(s)) => a.as_f64()?.partial_cmp(&s.trim().parse::<f64>().ok()?),
        _ => None,
    }
}

pub(super) fn equals(a: &Val, b: &Val) -> Option<bool> {
    match (a, b) {
        _ if a.is_null() || b.is_null() => None,
        (Val::Dyn(x), Val::Dyn(y)) => Some(x == y),
        _ => Some(compare(a, b) == Some(Ordering::Equal)),
    }
}

pub(super) fn equals_ci(a: &Val, b: &Val) -> Option<bool> {
    if a.is_null() || b.is_null() {
        return None;
    }
    Some(a.text().to_lowercase() == b.text().to_lowercase())
}

/// A total order for sorting: by type rank, then by value.
pub(super) fn total_cmp(a: &Val, b: &Val) -> Ordering {
    use Val::*;
    match (a, b) {
        (Long(x), Long(y)) => x.cmp(y),
        (Long(_) | Real(_), Long(_) | Real(_)) => {
            let key = |v: &Val| match v {
                Long(n) => (*n as f64, 0, *n),
                Real(f) => (*f, 1, 0),
                _ => (0.0, 2, 0),
            };
            let ((fa, ka, ia), (fb, kb, ib)) = (key(a), key(b));
            fa.total_cmp(&fb).then(ka.cmp(&kb)).then(ia.cmp(&ib))
        }
        (Bool(x), Bool(y)) => x.cmp(y),
        (DateTime(x), DateTime(y)) => x.cmp(y),
        (Span(x), Span(y)) => x.cmp(y),
        (Str(x), Str(y)) => x.cmp(y),
        (Dyn(x), Dyn(y)) => x.to_string().cmp(&y.to_string()),
        _ => a.rank().cmp(&b.rank()),
    }
}

/// `has`: the needle occurs as a whole term, delimited by non-alphanumeric characters.
pub(super) fn has_term(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let needle_starts = is_word(needle.chars().next());
    let needle_ends = is_word(needle.chars().next_back());
    haystack.match_indices(needle).any(|(i, m)| {
        let before = haystack.get(..i).and_then(|s| s.chars().next_back());
        let after = haystack.get(i + m.len()..).and_then(|s| s.chars().next());
        let glued_before = needle_starts && is_word(before);
        let glued_after = needle_ends && is_word(after);
        !(glued_before || glued_after)
    })
}

pub(super) fn string_match(kind: StrKind, cs: bool, haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = if cs {
        (Cow::Borrowed(haystack), Cow::Borrowed(needle))
    } else {
        (
            Cow::Owned(haystack.to_lowercase()),
            Cow::Owned(needle.to_lowercase()),
        )
    };
    match kind {
        StrKind::Contains => haystack.contains(needle.as_ref()),
        StrKind::StartsWith => haystack.starts_with(needle.as_ref()),
        StrKind::EndsWith => haystack.ends_with(needle.as_ref()),
        StrKind::Has => has_term(&haystack, &needle),
        StrKind::HasPrefix => haystack
            .split(|c: char| !c.is_alphanumeric())
            .any(|term| term.starts_with(needle.as_ref())),
        StrKind::HasSuffix => haystack
            .split(|c: char| !c.is_alphanumeric())
            .any(|term| !term.is_empty() && term.ends_with(needle.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn equality_is_case_sensitive_and_tilde_is_not() {
        assert_eq!(count("Resources | where location == 'WestEurope'"), 0);
        assert_eq!(count("Resources | where location =~ 'WestEurope'"), 5);
        assert_eq!(count("Resources | where location != 'WestEurope'"), 8);
        assert_eq!(count("Resources | where location !~ 'WestEurope'"), 3);
        assert_eq!(count("Resources | where location <> 'westeurope'"), 3);
    }

    #[test]
    fn contains_family() {
        assert_eq!(count("Resources | where name contains 'SHOP'"), 6);
        assert_eq!(count("Resources | where name contains_cs 'SHOP'"), 0);
        assert_eq!(count("Resources | where name contains_cs 'shop'"), 6);
        assert_eq!(
            names("Resources | where name !contains 'Shop' | order by name asc"),
            ["app-admin-weu", "stlogsneu"]
        );
        assert_eq!(count("Resources | where name !contains_cs 'SHOP'"), 8);
    }

    #[test]
    fn has_matches_whole_terms() {
        assert_eq!(count("Resources | where name has 'shop'"), 5);
        assert_eq!(count("Resources | where name has 'SHOP'"), 5);
        assert_eq!(count("Resources | where name has_cs 'SHOP'"), 0);
        assert_eq!(count("Resources | where name !has 'shop'"), 3);
        assert_eq!(count("Resources | where id has 'Microsoft.Web'"), 3);
        assert_eq!(
            names("Resources | where name has_any ('admin', 'logs')"),
            ["app-admin-weu"]
        );
        assert_eq!(
            count("Resources | where name has_any (dynamic(['neu', 'weu']))"),
            3
        );
        assert_eq!(count("Resources | where name hasprefix 'sho'"), 5);
    }

    #[test]
    fn startswith_and_endswith() {
        assert_eq!(count("Resources | where name startswith 'APP-'"), 3);
        assert_eq!(count("Resources | where name startswith_cs 'APP-'"), 0);
        assert_eq!(count("Resources | where name !startswith 'app'"), 5);
        assert_eq!(
            names("Resources | where name endswith '-weu' | order by name asc"),
            ["app-admin-weu", "app-shop-weu"]
        );
        assert_eq!(count("Resources | where name endswith_cs 'WEU'"), 0);
        assert_eq!(count("Resources | where name !endswith 'weu'"), 5);
    }

    #[test]
    fn matches_regex() {
        assert_eq!(
            count("Resources | where name matches regex '^app-[a-z]+-(weu|neu)$'"),
            3
        );
        assert_eq!(count(r"Resources | where name matches regex @'^st\w+$'"), 2);
        assert_eq!(
            count(r#"Resources | where name matches regex "^st\\w+weu$""#),
            1
        );
    }

    #[test]
    fn in_operators() {
        assert_eq!(
            count("Resources | where location in ('northeurope', 'uksouth')"),
            3
        );
        assert_eq!(count("Resources | where location !in ('northeurope')"), 5);
        assert_eq!(count("Resources | where location in ('NorthEurope')"), 0);
        assert_eq!(count("Resources | where location in~ ('NorthEurope')"), 3);
        assert_eq!(
            count("Resources | where location !in~ ('NORTHEUROPE', 'WestEurope')"),
            0
        );
        assert_eq!(
            count("Resources | where location in (dynamic(['northeurope']))"),
            3
        );
        assert_eq!(count("Resources | where properties.instances in (0, 3)"), 2);
        assert_eq!(count("Resources | where properties.missing !in ('x')"), 0);
    }

    #[test]
    fn null_rules() {
        assert_eq!(count("Resources | where properties.missing == 'x'"), 0);
        assert_eq!(count("Resources | where properties.missing != 'x'"), 0);
        assert_eq!(
            count("Resources | where properties.missing < 1 or properties.missing >= 1"),
            0
        );
        assert_eq!(count("Resources | where isnull(properties.missing)"), 8);
        assert_eq!(count("Resources | where properties.missing == null"), 0);
        assert_eq!(names("Resources | where isnull(tags)"), ["stlogsneu"]);
        assert_eq!(
            names("Resources | where tags.env != 'prod'"),
            ["app-admin-weu"]
        );
        assert_eq!(count("Resources | where tags.env == 'prod'"), 6);
        assert_eq!(count("Resources | where isempty(tags.env)"), 1);
        assert_eq!(count("Resources | where isnotempty(tags.env)"), 7);
        assert_eq!(count("Resources | where isnotnull(sku)"), 2);
        // String operators read null as "".
        assert_eq!(
            count("Resources | where properties.missing contains 'x'"),
            0
        );
        assert_eq!(
            count("Resources | where properties.missing !contains 'x'"),
            8
        );
        // Three-valued logic: null or true is true, not(null) is null.
        assert_eq!(
            count("Resources | where isnull(properties.instances) or properties.instances > 2"),
            6
        );
        assert_eq!(
            names("Resources | where not(properties.instances > 0)"),
            ["app-shop-neu"]
        );
        assert_eq!(
            count("Resources | where properties.instances > 0 and true"),
            2
        );
    }

    #[test]
    fn numeric_comparisons() {
        assert_eq!(count("Resources | where properties.instances >= 1"), 2);
        assert_eq!(count("Resources | where properties.instances < 1"), 1);
        assert_eq!(count("Resources | where properties.instances <= 3"), 3);
        assert_eq!(
            count(
                "Resources | where properties.readWriteEndpoint.failoverWithDataLossGracePeriodMinutes == 60"
            ),
            2
        );
        assert_eq!(
            count(
                "Resources | where properties.readWriteEndpoint.failoverWithDataLossGracePeriodMinutes > 59.5"
            ),
            2
        );
        assert_eq!(
            count("Resources | where properties.enableAutomaticFailover == true"),
            1
        );
        assert_eq!(
            count("Resources | where properties.geoReplicationStats.canFailover"),
            1
        );
    }

    #[test]
    fn span_text_round_trips() {
        for text in [
            "00:00:00",
            "02:00:00",
            "00:02:59.8765433",
            "1.01:30:00",
            "-00:05:00",
            "12.00:00:00.0000001",
        ] {
            let span = parse_span(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(format_span(span), text);
        }
        assert_eq!(parse_span("nope"), None);
        assert_eq!(parse_span("1:2"), None);
    }
}
