//! `${...}` references in runbook strings: finding them (for validation) and filling them in
//! (for execution). `$${` is a literal `${`.

use std::fmt;

/// What a `${...}` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ref {
    /// `${name}`: a variable from `[vars]`.
    Var(String),
    /// `${steps.<id>.<field>}`: an output of an earlier step.
    Step { step: String, field: String },
    /// `${runbook.<field>}`
    Runbook(String),
    /// `${incident.<field>}`
    Incident(String),
}

pub const RUNBOOK_FIELDS: &[&str] = &["id", "title", "component", "owner", "rto", "rpo"];
pub const INCIDENT_FIELDS: &[&str] = &["id", "mode", "operator", "started"];

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Var(n) => write!(f, "${{{n}}}"),
            Ref::Step { step, field } => write!(f, "${{steps.{step}.{field}}}"),
            Ref::Runbook(n) => write!(f, "${{runbook.{n}}}"),
            Ref::Incident(n) => write!(f, "${{incident.{n}}}"),
        }
    }
}

/// A reference and where it sits in its string (byte offsets of `${` and one past `}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefAt {
    pub reference: Ref,
    pub start: usize,
    pub end: usize,
}

/// A malformed reference, with its byte offset in the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Ref(RefAt),
}

/// Splits a string into literal text and references.
pub fn parse(s: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest_start = 0;
    let mut i = 0;
    let bytes = s.as_bytes();
    while let Some(off) = s[i..].find('$') {
        let at = i + off;
        if s[at..].starts_with("$${") {
            out.push(Piece::Text(&s[rest_start..at]));
            out.push(Piece::Text("${"));
            i = at + 3;
            rest_start = i;
            continue;
        }
        if bytes.get(at + 1) != Some(&b'{') {
            i = at + 1;
            continue;
        }
        let Some(close) = s[at + 2..].find('}') else {
            return Err(TemplateError {
                offset: at,
                len: 2,
                message: "`${` is never closed: add `}` (or write `$${` for a literal `${`)".into(),
            });
        };
        let inner = &s[at + 2..at + 2 + close];
        let end = at + 2 + close + 1;
        let reference = parse_ref(inner).map_err(|message| TemplateError {
            offset: at,
            len: end - at,
            message,
        })?;
        out.push(Piece::Text(&s[rest_start..at]));
        out.push(Piece::Ref(RefAt {
            reference,
            start: at,
            end,
        }));
        i = end;
        rest_start = i;
    }
    out.push(Piece::Text(&s[rest_start..]));
    out.retain(|p| !matches!(p, Piece::Text("")));
    Ok(out)
}

/// The references in a string.
pub fn refs(s: &str) -> Result<Vec<RefAt>, TemplateError> {
    Ok(parse(s)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
        .collect())
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_ref(inner: &str) -> Result<Ref, String> {
    let inner = inner.trim();
    if inner.is_empty() {
        return Err("empty reference `${}`".into());
    }
    let parts: Vec<&str> = inner.split('.').collect();
    let bad = || format!("`${{{inner}}}` is not a valid reference");
    match parts.as_slice() {
        [name] if is_name(name) => Ok(Ref::Var(name.to_string())),
        ["steps", step, field] if is_name(step) && is_name(field) => Ok(Ref::Step {
            step: step.to_string(),
            field: field.to_string(),
        }),
        ["steps", ..] => Err(format!(
            "`${{{inner}}}`: a step output is written `${{steps.<step-id>.<field>}}`"
        )),
        ["runbook", field] if is_name(field) => Ok(Ref::Runbook(field.to_string())),
        ["incident", field] if is_name(field) => Ok(Ref::Incident(field.to_string())),
        _ => Err(bad()),
    }
}

/// Fills in every reference with `lookup`; the first reference it cannot resolve is returned
/// as the error.
pub fn render(
    s: &str,
    mut lookup: impl FnMut(&Ref) -> Option<String>,
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(s.len());
    for piece in parse(s).map_err(RenderError::Malformed)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(r) => match lookup(&r.reference) {
                Some(v) => out.push_str(&v),
                None => return Err(RenderError::Unresolved(r.reference)),
            },
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{}", .0.message)]
    Malformed(TemplateError),
    #[error("{0} has no value")]
    Unresolved(Ref),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind_of_reference_with_offsets() {
        let s = "a ${primary} b ${steps.read-fog.role} ${runbook.rpo} ${incident.id}";
        let r = refs(s).expect("valid");
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].reference, Ref::Var("primary".into()));
        assert_eq!(&s[r[0].start..r[0].end], "${primary}");
        assert_eq!(
            r[1].reference,
            Ref::Step {
                step: "read-fog".into(),
                field: "role".into()
            }
        );
        assert_eq!(r[2].reference, Ref::Runbook("rpo".into()));
        assert_eq!(r[3].reference, Ref::Incident("id".into()));
    }

    #[test]
    fn escaped_dollar_brace_is_literal() {
        let out = render("cost $${x} ${y}", |_| Some("Y".into())).expect("renders");
        assert_eq!(out, "cost ${x} Y");
        assert!(refs("$${not a ref").expect("valid").is_empty());
    }

    #[test]
    fn plain_dollars_are_text() {
        let out = render("?$expand=geo $5", |_| None).expect("no refs");
        assert_eq!(out, "?$expand=geo $5");
    }

    #[test]
    fn malformed_references_say_where_and_why() {
        let e = refs("x ${steps.only}").expect_err("bad");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("steps.<step-id>.<field>"));
        let e = refs("abc ${open").expect_err("unclosed");
        assert_eq!(e.offset, 4);
        assert!(refs("${}").is_err());
        assert!(refs("${a b}").is_err());
    }

    #[test]
    fn render_names_the_missing_reference() {
        let e = render("${a}-${b}", |r| {
            (r == &Ref::Var("a".into())).then(|| "1".into())
        })
        .expect_err("b missing");
        assert_eq!(e.to_string(), "${b} has no value");
    }
}
