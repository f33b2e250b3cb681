//! Evaluating an expectation against a JSON document: pure, so every operator is tested
//! without I/O. The result says what was expected and what was found, in words an operator
//! reads at a glance.

use chrono::{DateTime, Utc};
use serde_json::Value;

use drbook_core::runbook::model::{Assertion, Op};
use drbook_core::runbook::path::JsonPath;
use drbook_core::time::parse_duration;

/// The outcome of one expectation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub holds: bool,
    /// e.g. `properties.state = Running`
    pub expected: String,
    /// e.g. `Stopped`, or `absent`
    pub actual: String,
}

/// Text of a JSON value as an operator reads it: strings without quotes.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn show_toml(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A TOML operand as JSON, for comparison.
fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn loosely_equal(actual: &Value, expected: &toml::Value) -> bool {
    match (actual, expected) {
        (Value::String(a), toml::Value::String(e)) => a == e,
        (_, toml::Value::Integer(_) | toml::Value::Float(_)) => {
            let e = match expected {
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Float(f) => *f,
                _ => return false,
            };
            as_number(actual).is_some_and(|a| a == e)
        }
        (Value::Bool(a), toml::Value::Boolean(e)) => a == e,
        (Value::String(a), toml::Value::Boolean(e)) => a.eq_ignore_ascii_case(&e.to_string()),
        (a, e) => *a == to_json(e),
    }
}

/// The operator applied to one value (`None`: the path reached nothing).
fn apply(op: &Op, actual: Option<&Value>, now: DateTime<Utc>) -> Result<bool, String> {
    let Some(actual) = actual else {
        return Ok(matches!(op, Op::Exists(false)));
    };
    Ok(match op {
        Op::Exists(want) => *want,
        Op::Equals(e) => loosely_equal(actual, e),
        Op::NotEquals(e) => !loosely_equal(actual, e),
        Op::OneOf(list) => list.iter().any(|e| loosely_equal(actual, e)),
        Op::Matches(pat) => {
            let re = regex::Regex::new(pat).map_err(|e| format!("bad regular expression: {e}"))?;
            re.is_match(&show(actual))
        }
        Op::Contains(e) => match actual {
            Value::Array(items) => items.iter().any(|i| loosely_equal(i, e)),
            other => show(other).contains(&show_toml(e)),
        },
        Op::Gt(n) => as_number(actual).is_some_and(|a| a > *n),
        Op::Gte(n) => as_number(actual).is_some_and(|a| a >= *n),
        Op::Lt(n) => as_number(actual).is_some_and(|a| a < *n),
        Op::Lte(n) => as_number(actual).is_some_and(|a| a <= *n),
        Op::NewerThan(d) | Op::OlderThan(d) => {
            let limit = parse_duration(d)?;
            let text = show(actual);
            let at = DateTime::parse_from_rfc3339(&text)
                .map_err(|_| format!("`{text}` is not an RFC 3339 time"))?
                .with_timezone(&Utc);
            let age = now.signed_duration_since(at);
            let limit = chrono::Duration::from_std(limit).map_err(|e| e.to_string())?;
            match op {
                Op::NewerThan(_) => age < limit,
                _ => age > limit,
            }
        }
    })
}

fn describe(op: &Op) -> String {
    match op {
        Op::Exists(true) => "exists".into(),
        Op::Exists(false) => "is absent".into(),
        Op::Equals(v) => format!("= {}", show_toml(v)),
        Op::NotEquals(v) => format!("≠ {}", show_toml(v)),
        Op::OneOf(l) => format!(
            "one of {}",
            l.iter().map(show_toml).collect::<Vec<_>>().join(", ")
        ),
        Op::Matches(p) => format!("matches /{p}/"),
        Op::Contains(v) => format!("contains {}", show_toml(v)),
        Op::Gt(n) => format!("> {n}"),
        Op::Gte(n) => format!("≥ {n}"),
        Op::Lt(n) => format!("< {n}"),
        Op::Lte(n) => format!("≤ {n}"),
        Op::NewerThan(d) => format!("newer than {d}"),
        Op::OlderThan(d) => format!("older than {d}"),
    }
}

/// Replaces `${...}` in the string operands of an operator.
pub fn render_op(op: &Op, render: &dyn Fn(&str) -> Result<String, String>) -> Result<Op, String> {
    fn val(
        v: &toml::Value,
        r: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<toml::Value, String> {
        Ok(match v {
            toml::Value::String(s) => toml::Value::String(r(s)?),
            other => other.clone(),
        })
    }
    Ok(match op {
        Op::Equals(v) => Op::Equals(val(v, render)?),
        Op::NotEquals(v) => Op::NotEquals(val(v, render)?),
        Op::Contains(v) => Op::Contains(val(v, render)?),
        Op::OneOf(l) => Op::OneOf(l.iter().map(|v| val(v, render)).collect::<Result<_, _>>()?),
        Op::Matches(p) => Op::Matches(render(p)?),
        Op::NewerThan(d) => Op::NewerThan(render(d)?),
        Op::OlderThan(d) => Op::OlderThan(render(d)?),
        other => other.clone(),
    })
}

/// Evaluates an expectation whose operands are already rendered. `path` defaults to the
/// whole document. With `[*]` in the path, every value reached must satisfy the operator.
pub fn evaluate(path: &str, op: &Op, doc: &Value, now: DateTime<Utc>) -> Verdict {
    let label = if path.is_empty() {
        "value".to_string()
    } else {
        path.to_string()
    };
    let expected = format!("{label} {}", describe(op));
    let parsed = match JsonPath::parse(path) {
        Ok(p) => p,
        Err(e) => {
            return Verdict {
                holds: false,
                expected,
                actual: format!("bad path: {e}"),
            };
        }
    };
    let found = parsed.select(doc);
    let actual = match found.as_slice() {
        [] => "absent".to_string(),
        [one] => show(one),
        many => format!(
            "[{}]",
            many.iter().map(|v| show(v)).collect::<Vec<_>>().join(", ")
        ),
    };
    let result = if found.is_empty() {
        apply(op, None, now)
    } else {
        found
            .iter()
            .try_fold(true, |acc, v| apply(op, Some(v), now).map(|ok| acc && ok))
    };
    match result {
        Ok(holds) => Verdict {
            holds,
            expected,
            actual,
        },
        Err(why) => Verdict {
            holds: false,
            expected,
            actual: format!("{actual} ({why})"),
        },
    }
}

/// The single operator of a validated assertion.
pub fn the_op(a: &Assertion) -> Option<Op> {
    a.ops().into_iter().next().map(|(_, op, _)| op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T02:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn s(v: &str) -> toml::Value {
        toml::Value::String(v.into())
    }

    #[test]
    fn each_operator_holds_and_fails_where_it_should() {
        let doc = json!({"properties": {
            "state": "Running", "capacity": 4, "count": "3",
            "tags": ["a", "b"], "endpoint": "https://x.documents.azure.com:443/",
            "lastSyncTime": "2026-11-25T01:57:00Z",
            "locations": [{"name": "westeurope", "ok": true}, {"name": "northeurope", "ok": true}]
        }});
        let cases: Vec<(&str, Op, bool)> = vec![
            ("properties.state", Op::Equals(s("Running")), true),
            ("properties.state", Op::Equals(s("running")), false),
            ("properties.state", Op::NotEquals(s("Stopped")), true),
            (
                "properties.state",
                Op::OneOf(vec![s("Stopped"), s("Running")]),
                true,
            ),
            ("properties.state", Op::Exists(true), true),
            ("properties.nope", Op::Exists(false), true),
            ("properties.nope", Op::Equals(s("x")), false),
            (
                "properties.endpoint",
                Op::Matches("^https://.*:443/$".into()),
                true,
            ),
            ("properties.tags", Op::Contains(s("b")), true),
            ("properties.endpoint", Op::Contains(s("documents")), true),
            ("properties.capacity", Op::Gte(4.0), true),
            ("properties.capacity", Op::Gt(4.0), false),
            ("properties.count", Op::Lt(4.0), true),
            (
                "properties.capacity",
                Op::Equals(toml::Value::Integer(4)),
                true,
            ),
            ("properties.lastSyncTime", Op::NewerThan("5m".into()), true),
            ("properties.lastSyncTime", Op::NewerThan("2m".into()), false),
            ("properties.lastSyncTime", Op::OlderThan("1m".into()), true),
            (
                "properties.locations[*].ok",
                Op::Equals(toml::Value::Boolean(true)),
                true,
            ),
            (
                "properties.locations[*].name",
                Op::Equals(s("westeurope")),
                false,
            ),
            (
                "properties.locations[name=northeurope].ok",
                Op::Exists(true),
                true,
            ),
        ];
        for (path, op, want) in cases {
            let v = evaluate(path, &op, &doc, now());
            assert_eq!(v.holds, want, "{path} {op:?}: {v:?}");
        }
    }

    #[test]
    fn verdict_reads_as_expected_versus_actual() {
        let doc = json!({"properties": {"state": "Stopped"}});
        let v = evaluate("properties.state", &Op::Equals(s("Running")), &doc, now());
        assert_eq!(v.expected, "properties.state = Running");
        assert_eq!(v.actual, "Stopped");
        let v = evaluate("properties.x", &Op::Exists(true), &doc, now());
        assert_eq!(v.actual, "absent");
        let v = evaluate("properties.state", &Op::NewerThan("5m".into()), &doc, now());
        assert!(!v.holds);
        assert!(v.actual.contains("not an RFC 3339 time"), "{v:?}");
    }

    #[test]
    fn operands_are_rendered_before_use() {
        let op = Op::OneOf(vec![s("${secondary}"), s("x")]);
        let r = render_op(&op, &|t: &str| Ok(t.replace("${secondary}", "northeurope")))
            .expect("renders");
        assert_eq!(r, Op::OneOf(vec![s("northeurope"), s("x")]));
    }
}
