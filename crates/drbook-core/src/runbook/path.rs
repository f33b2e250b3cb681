//! Paths into JSON documents, as written in expectations and outputs:
//! `properties.state`, `properties.locations[0].locationName`,
//! `properties.locations[locationName=North Europe].failoverPriority`, `value[*].name`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// `[field=value]`: the first element whose `field` is `value` (compared as text).
    Filter {
        field: String,
        value: String,
    },
    /// `[*]`: every element.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {offset} of the path)")]
pub struct PathError {
    pub offset: usize,
    pub message: String,
}

/// A parsed path. The empty path means the whole document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPath(pub Vec<Segment>);

impl JsonPath {
    pub fn parse(s: &str) -> Result<JsonPath, PathError> {
        let err = |offset: usize, message: &str| PathError {
            offset,
            message: message.to_string(),
        };
        let mut segs = Vec::new();
        let mut i = 0;
        let b = s.as_bytes();
        let mut expect_key = true;
        while i < s.len() {
            match b[i] {
                b'[' => {
                    let close = s[i..]
                        .find(']')
                        .ok_or_else(|| err(i, "`[` is never closed"))?;
                    let inner = s[i + 1..i + close].trim();
                    let seg = if inner == "*" {
                        Segment::All
                    } else if let Ok(n) = inner.parse::<usize>() {
                        Segment::Index(n)
                    } else if let Some((f, v)) = inner.split_once('=') {
                        let (f, v) = (f.trim(), v.trim().trim_matches(|c| c == '\'' || c == '"'));
                        if f.is_empty() {
                            return Err(err(i, "a filter needs a field: `[field=value]`"));
                        }
                        Segment::Filter {
                            field: f.to_string(),
                            value: v.to_string(),
                        }
                    } else {
                        return Err(err(i, "expected `[number]`, `[*]` or `[field=value]`"));
                    };
                    segs.push(seg);
                    i += close + 1;
                    expect_key = false;
                }
                b'.' => {
                    if expect_key {
                        return Err(err(i, "empty name before `.`"));
                    }
                    i += 1;
                    expect_key = true;
                    if i == s.len() {
                        return Err(err(i, "the path ends with `.`"));
                    }
                }
                _ if !expect_key => return Err(err(i, "expected `.` or `[` here")),
                _ => {
                    let end = s[i..].find(['.', '[', ']']).map_or(s.len(), |e| i + e);
                    if b.get(end) == Some(&b']') {
                        return Err(err(end, "`]` without `[`"));
                    }
                    segs.push(Segment::Key(s[i..end].to_string()));
                    i = end;
                    expect_key = false;
                }
            }
        }
        Ok(JsonPath(segs))
    }

    /// Every value the path reaches (several when it holds `[*]`); none when it reaches nothing.
    pub fn select<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![doc];
        for seg in &self.0 {
            let mut next = Vec::with_capacity(current.len());
            for v in current {
                match seg {
                    Segment::Key(k) => next.extend(v.get(k.as_str())),
                    Segment::Index(n) => next.extend(v.get(*n)),
                    Segment::All => {
                        if let Some(a) = v.as_array() {
                            next.extend(a.iter());
                        }
                    }
                    Segment::Filter { field, value } => {
                        let hit = v.as_array().and_then(|a| {
                            a.iter().find(|item| {
                                item.get(field.as_str()).is_some_and(|f| text_eq(f, value))
                            })
                        });
                        next.extend(hit);
                    }
                }
            }
            current = next;
        }
        current
    }

    pub fn has_wildcard(&self) -> bool {
        self.0.contains(&Segment::All)
    }
}

/// Compares a JSON value to text the way an operator would read it: `"North Europe"` matches
/// `North Europe`, `0` matches `0`; names compare case-insensitively, as Azure treats them.
fn text_eq(v: &Value, text: &str) -> bool {
    match v {
        Value::String(s) => s.eq_ignore_ascii_case(text),
        Value::Number(n) => text.parse::<f64>().ok() == n.as_f64(),
        Value::Bool(b) => text.parse::<bool>() == Ok(*b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_keys_indexes_filters_and_wildcards() {
        let doc = json!({"properties": {"locations": [
            {"locationName": "West Europe", "failoverPriority": 0},
            {"locationName": "North Europe", "failoverPriority": 1}
        ]}});
        let p = |s: &str| JsonPath::parse(s).expect("valid path");
        assert_eq!(
            p("properties.locations[1].failoverPriority").select(&doc),
            vec![&json!(1)]
        );
        assert_eq!(
            p("properties.locations[locationName=north europe].failoverPriority").select(&doc),
            vec![&json!(1)]
        );
        assert_eq!(
            p("properties.locations[*].failoverPriority")
                .select(&doc)
                .len(),
            2
        );
        assert!(p("properties.missing.x").select(&doc).is_empty());
        assert_eq!(p("").select(&doc), vec![&doc]);
    }

    #[test]
    fn bad_paths_say_where() {
        for (s, at) in [
            ("a..b", 2),
            ("a[", 1),
            ("a[x]", 1),
            ("a]", 1),
            ("a.", 2),
            ("a[0]b", 4),
        ] {
            let e = JsonPath::parse(s).expect_err(s);
            assert_eq!(e.offset, at, "{s}: {e}");
        }
    }
}
