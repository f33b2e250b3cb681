//! Pure JSON helpers for the simulator: `${now-2m}` time templates rendered at serve time,
//! JSON merge patch (RFC 7386) for `PATCH`, setting a value at a dotted path, and TOML to JSON.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Replaces `${now}`, `${now-2m}`, `${now+1h}` (units ms, s, m, h, d) in every string of `v`
/// with the RFC 3339 UTC time they name. Other text is left alone.
pub fn render_times(v: &Value, now: DateTime<Utc>) -> Value {
    // A structural clone, then the few strings that name a time rewritten in place: cheaper
    // than rebuilding every object key by key (Resource Graph renders every resource).
    let mut out = v.clone();
    render_in_place(&mut out, now);
    out
}

fn render_in_place(v: &mut Value, now: DateTime<Utc>) {
    match v {
        Value::String(s) if s.contains("${now") => *s = render_str(s, now),
        Value::Array(a) => a.iter_mut().for_each(|x| render_in_place(x, now)),
        Value::Object(o) => o.values_mut().for_each(|x| render_in_place(x, now)),
        _ => {}
    }
}

fn render_str(s: &str, now: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${now") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after
            .find('}')
            .and_then(|end| time_of(&after[2..end], now).map(|t| (t, end)))
        {
            Some((t, end)) => {
                out.push_str(&drbook_core::time::rfc3339_secs(t));
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${now");
                rest = &after[5..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `now`, `now-2m`, `now + 1h` → the time; anything else → None.
fn time_of(expr: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let e: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let offset = e.strip_prefix("now")?;
    if offset.is_empty() {
        return Some(now);
    }
    let (sign, amount) = if let Some(a) = offset.strip_prefix('+') {
        (1, a)
    } else {
        (-1, offset.strip_prefix('-')?)
    };
    let digits = amount.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = amount[..digits].parse().ok()?;
    let ms = match &amount[digits..] {
        "ms" => n,
        "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    now.checked_add_signed(chrono::TimeDelta::try_milliseconds(sign * ms)?)
}

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Sets the value at a dotted path (`properties.a.b`, `properties.list[1].x`), creating
/// objects on the way. Fails when an index is out of range or a step is not a container.
pub fn set_path(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, idx) = match part.find('[') {
            Some(b) => (&part[..b], Some(&part[b..])),
            None => (part, None),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        if let Some(mut idx) = idx {
            while let Some(inner) = idx.strip_prefix('[') {
                let close = inner
                    .find(']')
                    .ok_or(format!("`[` never closed in `{path}`"))?;
                let n = inner[..close]
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{}` is not an index in `{path}`", &inner[..close]))?;
                steps.push(Step::Index(n));
                idx = &inner[close + 1..];
            }
        }
    }
    if steps.is_empty() {
        return Err("empty path".into());
    }
    let mut cur = doc;
    for step in &steps {
        cur = match step {
            Step::Key(k) => {
                if !cur.is_object() {
                    *cur = Value::Object(Map::new());
                }
                match cur {
                    Value::Object(o) => o.entry(k.clone()).or_insert(Value::Null),
                    _ => return Err(format!("`{k}` is not inside an object in `{path}`")),
                }
            }
            Step::Index(n) => cur
                .as_array_mut()
                .and_then(|a| a.get_mut(*n))
                .ok_or(format!("no element [{n}] in `{path}`"))?,
        };
    }
    *cur = value;
    Ok(())
}

enum Step {
    Key(String),
    Index(usize),
}

pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Loose equality of a JSON value with a scenario (TOML) value: strings exactly, numbers
/// numerically (also against numeric strings), booleans (also against "true"/"false").
pub fn loosely_equal(actual: &Value, expected: &toml::Value) -> bool {
    match (actual, expected) {
        (Value::String(a), toml::Value::String(e)) => a == e,
        (Value::Bool(a), toml::Value::Boolean(e)) => a == e,
        (Value::String(a), toml::Value::Boolean(e)) => a.eq_ignore_ascii_case(&e.to_string()),
        (a, toml::Value::Integer(_) | toml::Value::Float(_)) => {
            let e = match expected {
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Float(f) => *f,
                _ => return false,
            };
            let a = match a {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            a == Some(e)
        }
        (a, e) => *a == toml_to_json(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T01:48:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn renders_now_with_offsets() {
        let v = json!({"a": "${now}", "b": ["${now-2m}", "${now + 1h}"], "c": "at ${now-90s}!", "d": 3});
        let r = render_times(&v, at());
        assert_eq!(r["a"], "2026-11-25T01:48:00Z");
        assert_eq!(r["b"][0], "2026-11-25T01:46:00Z");
        assert_eq!(r["b"][1], "2026-11-25T02:48:00Z");
        assert_eq!(r["c"], "at 2026-11-25T01:46:30Z!");
        assert_eq!(r["d"], 3);
    }

    #[test]
    fn renders_every_unit_and_leaves_junk() {
        let r = |s: &str| render_str(s, at());
        assert_eq!(r("${now-1d}"), "2026-11-24T01:48:00Z");
        assert_eq!(r("${now+500ms}"), "2026-11-25T01:48:00Z");
        assert_eq!(r("${now-2w}"), "${now-2w}");
        assert_eq!(r("${nowhere"), "${nowhere");
        assert_eq!(r("${now*3s}"), "${now*3s}");
        assert_eq!(r("${nowé}"), "${nowé}");
        assert_eq!(r("${now-99999999999999d}"), "${now-99999999999999d}");
    }

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 1});
        merge_patch(
            &mut t,
            &json!({"a": {"b": null, "x": 9}, "d": [3], "f": {"g": true}}),
        );
        assert_eq!(
            t,
            json!({"a": {"c": 2, "x": 9}, "d": [3], "e": 1, "f": {"g": true}})
        );
    }

    #[test]
    fn set_path_creates_objects_and_indexes_arrays() {
        let mut d = json!({"properties": {"list": [{"x": 1}]}});
        set_path(&mut d, "properties.new.deep", json!("v")).unwrap();
        set_path(&mut d, "properties.list[0].x", json!(2)).unwrap();
        assert_eq!(d["properties"]["new"]["deep"], "v");
        assert_eq!(d["properties"]["list"][0]["x"], 2);
        assert!(set_path(&mut d, "properties.list[5].x", json!(1)).is_err());
        assert!(set_path(&mut d, "", json!(1)).is_err());
    }

    #[test]
    fn loose_equality() {
        assert!(loosely_equal(
            &json!("Enabled"),
            &toml::Value::String("Enabled".into())
        ));
        assert!(!loosely_equal(
            &json!("enabled"),
            &toml::Value::String("Enabled".into())
        ));
        assert!(loosely_equal(&json!("4"), &toml::Value::Integer(4)));
        assert!(loosely_equal(&json!(true), &toml::Value::Boolean(true)));
        assert!(!loosely_equal(&Value::Null, &toml::Value::Integer(0)));
    }
}
