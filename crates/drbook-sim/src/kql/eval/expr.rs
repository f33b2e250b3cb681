//! Expression evaluation: property paths, operators and the scalar functions.

use super::*;

pub(in super::super) struct Env {
    pub(in super::super) now: DateTime<Utc>,
    /// Each table's rows and how many more times the query reads it: the last read takes them.
    pub(in super::super) tables: RefCell<HashMap<String, (usize, Vec<Row>)>>,
}

impl Env {
    pub(super) fn table(&self, name: &str) -> Vec<Row> {
        let mut tables = self.tables.borrow_mut();
        match tables.get_mut(name) {
            Some((uses, rows)) if *uses <= 1 => {
                *uses = 0;
                std::mem::take(rows)
            }
            Some((uses, rows)) => {
                *uses -= 1;
                rows.clone()
            }
            None => Vec::new(),
        }
    }
}

pub(super) fn opt_bool(b: Option<bool>) -> Val {
    b.map_or(Val::Null, Val::Bool)
}

pub(super) fn eval(expr: &Expr, row: &Row, env: &Env) -> Result<Val> {
    Ok(match expr {
        Expr::Lit(value) => value.clone(),
        Expr::Col { name, .. } => row.get(name).map_or(Val::Null, Val::from_json),
        Expr::Path(base, steps) => eval_path(base, steps, row, env)?,
        Expr::Neg(inner) => negate(eval(inner, row, env)?),
        Expr::Bin(op, lhs, rhs) => eval_binary(*op, lhs, rhs, row, env)?,
        Expr::In {
            lhs,
            list,
            negated,
            ci,
        } => eval_in(lhs, list, *negated, *ci, row, env)?,
        Expr::HasAny(lhs, list) => {
            let text = eval(lhs, row, env)?.text().to_lowercase();
            let mut found = false;
            for item in list {
                for candidate in flatten(eval(item, row, env)?) {
                    found |= has_term(&text, &candidate.text().to_lowercase());
                }
            }
            Val::Bool(found)
        }
        Expr::Matches(lhs, re) => match eval(lhs, row, env)? {
            v if v.is_null() => Val::Null,
            v => Val::Bool(re.is_match(&v.text())),
        },
        Expr::Call(func, args) => call(*func, args, row, env)?,
        Expr::Extract { re, group, source } => {
            let group = eval(group, row, env)?;
            let source = eval(source, row, env)?;
            let captured = match group {
                Val::Long(g) => usize::try_from(g).ok().and_then(|g| {
                    let text = source.text();
                    re.captures(&text)
                        .and_then(|c| c.get(g))
                        .map(|m| m.as_str().to_string())
                }),
                _ => None,
            };
            Val::Str(captured.unwrap_or_default())
        }
    })
}

pub(super) fn eval_path(base: &Expr, steps: &[Step], row: &Row, env: &Env) -> Result<Val> {
    if let Expr::Col { name, .. } = base {
        let Some(root) = row.get(name) else {
            return Ok(Val::Null);
        };
        return Ok(walk(root, steps, row, env)?.map_or(Val::Null, Val::from_json));
    }
    let value = match eval(base, row, env)? {
        Val::Dyn(value) => value,
        Val::Str(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
        _ => return Ok(Val::Null),
    };
    Ok(walk(&value, steps, row, env)?.map_or(Val::Null, Val::from_json))
}

pub(super) fn walk<'v>(
    mut current: &'v Value,
    steps: &[Step],
    row: &Row,
    env: &Env,
) -> Result<Option<&'v Value>> {
    for step in steps {
        let next = match step {
            Step::Field(field) => current.get(field.as_str()),
            Step::Index(index) => match eval(index, row, env)? {
                Val::Long(i) => current.as_array().and_then(|items| array_get(items, i)),
                Val::Str(key) => current.get(key.as_str()),
                _ => None,
            },
        };
        match next {
            Some(value) => current = value,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// Array element `i`, counting from the end when negative.
pub(super) fn array_get(items: &[Value], i: i64) -> Option<&Value> {
    let index = if i < 0 {
        items
            .len()
            .checked_sub(usize::try_from(i.unsigned_abs()).ok()?)?
    } else {
        usize::try_from(i).ok()?
    };
    items.get(index)
}

pub(super) fn negate(value: Val) -> Val {
    match value {
        Val::Long(n) => n.checked_neg().map_or(Val::Null, Val::Long),
        Val::Real(f) => Val::Real(-f),
        Val::Span(span) => TimeDelta::zero()
            .checked_sub(&span)
            .map_or(Val::Null, Val::Span),
        _ => Val::Null,
    }
}

pub(super) fn eval_binary(op: BinOp, lhs: &Expr, rhs: &Expr, row: &Row, env: &Env) -> Result<Val> {
    match op {
        BinOp::And => {
            let a = eval(lhs, row, env)?.truth();
            if a == Some(false) {
                return Ok(Val::Bool(false));
            }
            Ok(match (a, eval(rhs, row, env)?.truth()) {
                (_, Some(false)) => Val::Bool(false),
                (Some(true), Some(true)) => Val::Bool(true),
                _ => Val::Null,
            })
        }
        BinOp::Or => {
            let a = eval(lhs, row, env)?.truth();
            if a == Some(true) {
                return Ok(Val::Bool(true));
            }
            Ok(match (a, eval(rhs, row, env)?.truth()) {
                (_, Some(true)) => Val::Bool(true),
                (Some(false), Some(false)) => Val::Bool(false),
                _ => Val::Null,
            })
        }
        _ => binary_values(op, eval(lhs, row, env)?, eval(rhs, row, env)?),
    }
}

pub(super) fn binary_values(op: BinOp, a: Val, b: Val) -> Result<Val> {
    let ordered = |test: fn(Ordering) -> bool| opt_bool(compare(&a, &b).map(test));
    Ok(match op {
        BinOp::Eq => opt_bool(equals(&a, &b)),
        BinOp::Ne => opt_bool(equals(&a, &b).map(|e| !e)),
        BinOp::EqCi => opt_bool(equals_ci(&a, &b)),
        BinOp::NeCi => opt_bool(equals_ci(&a, &b).map(|e| !e)),
        BinOp::Lt => ordered(Ordering::is_lt),
        BinOp::Le => ordered(Ordering::is_le),
        BinOp::Gt => ordered(Ordering::is_gt),
        BinOp::Ge => ordered(Ordering::is_ge),
        BinOp::Str { kind, cs, negated } => {
            Val::Bool(string_match(kind, cs, &a.text(), &b.text()) != negated)
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => arith(op, a, b)?,
        BinOp::And | BinOp::Or => Val::Null,
    })
}

pub(super) fn arith(op: BinOp, a: Val, b: Val) -> Result<Val> {
    use Val::*;
    Ok(match (op, a, b) {
        (_, a, b) if a.is_null() || b.is_null() => Null,
        (op, Long(x), Long(y)) => {
            let result = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Div => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            result.map_or(Null, Long)
        }
        (op, a @ (Long(_) | Real(_)), b @ (Long(_) | Real(_))) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            Real(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                _ => x % y,
            })
        }
        (BinOp::Add, DateTime(d), Span(s)) | (BinOp::Add, Span(s), DateTime(d)) => {
            d.checked_add_signed(s).map_or(Null, DateTime)
        }
        (BinOp::Sub, DateTime(d), Span(s)) => d.checked_sub_signed(s).map_or(Null, DateTime),
        (BinOp::Sub, DateTime(x), DateTime(y)) => Span(x.signed_duration_since(y)),
        (BinOp::Add, Span(x), Span(y)) => x.checked_add(&y).map_or(Null, Span),
        (BinOp::Sub, Span(x), Span(y)) => x.checked_sub(&y).map_or(Null, Span),
        (BinOp::Mul, Span(s), Long(n)) | (BinOp::Mul, Long(n), Span(s)) => s
            .num_nanoseconds()
            .and_then(|ns| ns.checked_mul(n))
            .map_or(Null, |ns| Span(TimeDelta::nanoseconds(ns))),
        (BinOp::Div, Span(s), Long(n)) => s
            .num_nanoseconds()
            .and_then(|ns| ns.checked_div(n))
            .map_or(Null, |ns| Span(TimeDelta::nanoseconds(ns))),
        (BinOp::Div, Span(x), Span(y)) => match (x.num_nanoseconds(), y.num_nanoseconds()) {
            (Some(x), Some(y)) if y != 0 => Real(x as f64 / y as f64),
            _ => Null,
        },
        (BinOp::Add, Str(_), Str(_)) => {
            return Err(eval_err("`+` does not join strings; use strcat(a, b)"));
        }
        (op, Str(s), other @ (Span(_) | DateTime(_))) => match parse_datetime(&s) {
            Some(d) => arith(op, DateTime(d), other)?,
            None => Null,
        },
        (op, other @ DateTime(_), Str(s)) => match parse_datetime(&s) {
            Some(d) => arith(op, other, DateTime(d))?,
            None => Null,
        },
        _ => Null,
    })
}

/// The elements of a dynamic array, or the value itself.
pub(super) fn flatten(value: Val) -> Vec<Val> {
    match value {
        Val::Dyn(Value::Array(items)) => items.iter().map(Val::from_json).collect(),
        other => vec![other],
    }
}

pub(super) fn eval_in(
    lhs: &Expr,
    list: &[Expr],
    negated: bool,
    ci: bool,
    row: &Row,
    env: &Env,
) -> Result<Val> {
    let value = eval(lhs, row, env)?;
    if value.is_null() {
        return Ok(Val::Null);
    }
    let mut found = false;
    for item in list {
        for candidate in flatten(eval(item, row, env)?) {
            let hit = if ci {
                equals_ci(&value, &candidate)
            } else {
                equals(&value, &candidate)
            };
            found |= hit == Some(true);
        }
    }
    Ok(Val::Bool(found != negated))
}

pub(super) fn call(func: Func, args: &[Expr], row: &Row, env: &Env) -> Result<Val> {
    let arg = |i: usize| args.get(i).map_or(Ok(Val::Null), |e| eval(e, row, env));
    Ok(match func {
        Func::IsNull => Val::Bool(arg(0)?.is_null()),
        Func::IsNotNull => Val::Bool(!arg(0)?.is_null()),
        Func::IsEmpty => Val::Bool(arg(0)?.is_empty()),
        Func::IsNotEmpty => Val::Bool(!arg(0)?.is_empty()),
        Func::ToLower => Val::Str(arg(0)?.text().to_lowercase()),
        Func::ToUpper => Val::Str(arg(0)?.text().to_uppercase()),
        Func::ToString => Val::Str(arg(0)?.text().into_owned()),
        Func::ToLong => to_long(arg(0)?),
        Func::ToDouble => to_double(arg(0)?),
        Func::ToBool => to_bool(arg(0)?),
        Func::ToDateTime => match arg(0)? {
            Val::DateTime(d) => Val::DateTime(d),
            Val::Str(s) => parse_datetime(&s).map_or(Val::Null, Val::DateTime),
            _ => Val::Null,
        },
        Func::StrLen => {
            Val::Long(i64::try_from(arg(0)?.text().chars().count()).unwrap_or(i64::MAX))
        }
        Func::Substring => substring(&arg(0)?.text(), arg(1)?, arg(2)?),
        Func::Split => split(&arg(0)?.text(), &arg(1)?.text(), arg(2)?),
        Func::StrCat => {
            let mut out = String::new();
            for i in 0..args.len() {
                out.push_str(&arg(i)?.text());
            }
            Val::Str(out)
        }
        Func::ReplaceString => {
            let (text, lookup, rewrite) = (arg(0)?, arg(1)?, arg(2)?);
            let lookup = lookup.text();
            let text = text.text();
            Val::Str(if lookup.is_empty() {
                text.into_owned()
            } else {
                text.replace(lookup.as_ref(), &rewrite.text())
            })
        }
        Func::Iff => {
            if arg(0)?.truth() == Some(true) {
                arg(1)?
            } else {
                arg(2)?
            }
        }
        Func::Case => {
            let mut i = 0;
            while i + 1 < args.len() {
                if arg(i)?.truth() == Some(true) {
                    return arg(i + 1);
                }
                i += 2;
            }
            arg(i)?
        }
        Func::Coalesce => {
            for i in 0..args.len() {
                let value = arg(i)?;
                if !value.is_empty() {
                    return Ok(value);
                }
            }
            Val::Null
        }
        Func::ArrayLength => match arg(0)? {
            Val::Dyn(Value::Array(items)) => {
                Val::Long(i64::try_from(items.len()).unwrap_or(i64::MAX))
            }
            _ => Val::Null,
        },
        Func::ParseJson => match arg(0)? {
            Val::Str(s) => {
                serde_json::from_str::<Value>(&s).map_or(Val::Str(s), |v| Val::from_json(&v))
            }
            other => other,
        },
        Func::Now => match arg(0)? {
            Val::Span(offset) => env
                .now
                .checked_add_signed(offset)
                .map_or(Val::Null, Val::DateTime),
            _ => Val::DateTime(env.now),
        },
        Func::Ago => match arg(0)? {
            Val::Span(span) => env
                .now
                .checked_sub_signed(span)
                .map_or(Val::Null, Val::DateTime),
            _ => Val::Null,
        },
        Func::Not => opt_bool(arg(0)?.truth().map(|b| !b)),
        Func::StrCatArray => match arg(0)? {
            Val::Dyn(Value::Array(items)) => {
                let delimiter = arg(1)?;
                let parts: Vec<String> = items
                    .iter()
                    .map(|v| Val::from_json(v).text().into_owned())
                    .collect();
                Val::Str(parts.join(&delimiter.text()))
            }
            _ => Val::Null,
        },
        Func::IndexOf => index_of(arg(0)?, arg(1)?, arg(2)?, arg(3)?, arg(4)?),
        Func::ArraySlice => match arg(0)? {
            Val::Dyn(Value::Array(items)) => array_slice(items, arg(1)?, arg(2)?),
            _ => Val::Null,
        },
        Func::ArrayConcat => {
            let mut out = Vec::new();
            for i in 0..args.len() {
                match arg(i)? {
                    Val::Dyn(Value::Array(items)) => out.extend(items),
                    _ => return Ok(Val::Null),
                }
            }
            Val::Dyn(Value::Array(out))
        }
        Func::PackArray => Val::Dyn(Value::Array(
            (0..args.len())
                .map(|i| arg(i).map(Val::into_json))
                .collect::<Result<_>>()?,
        )),
        Func::BagKeys => match arg(0)? {
            Val::Dyn(Value::Object(map)) => Val::Dyn(Value::Array(
                map.keys().cloned().map(Value::String).collect(),
            )),
            _ => Val::Null,
        },
        Func::SetHasElement => match arg(0)? {
            Val::Dyn(Value::Array(items)) => {
                let wanted = arg(1)?;
                Val::Bool(
                    items
                        .iter()
                        .any(|v| equals(&Val::from_json(v), &wanted) == Some(true)),
                )
            }
            _ => Val::Null,
        },
        Func::StringSize => Val::Long(i64::try_from(arg(0)?.text().len()).unwrap_or(i64::MAX)),
        Func::ReplaceRegex => replace_regex(&arg(0)?.text(), &arg(1)?.text(), &arg(2)?.text())?,
        Func::Replace => replace_regex(&arg(2)?.text(), &arg(0)?.text(), &arg(1)?.text())?,
        Func::DynamicToJson => Val::Str(arg(0)?.into_json().to_string()),
        Func::Math(f) => real(to_double(arg(0)?).as_f64().map(|x| f.apply(x))),
        Func::Pow => match (to_double(arg(0)?).as_f64(), to_double(arg(1)?).as_f64()) {
            (Some(x), Some(y)) => real(Some(x.powf(y))),
            _ => Val::Null,
        },
        // Parsed into `Expr::Extract`; never reaches here.
        Func::Extract => Val::Null,
    })
}

/// `indexof(source, lookup[, start[, length[, occurrence]]])`: the character position of the
/// `occurrence`th `lookup` from `start`, within `length` characters (-1: to the end); -1 when
/// not found, null for a start or occurrence out of range.
pub(super) fn index_of(source: Val, lookup: Val, start: Val, length: Val, occurrence: Val) -> Val {
    let text: Vec<char> = source.text().chars().collect();
    let lookup: Vec<char> = lookup.text().chars().collect();
    let whole = |v: &Val, default: i64| match v {
        Val::Null => Some(default),
        Val::Long(n) => Some(*n),
        _ => None,
    };
    let (Some(start), Some(length), Some(occurrence)) =
        (whole(&start, 0), whole(&length, -1), whole(&occurrence, 1))
    else {
        return Val::Null;
    };
    let len = i64::try_from(text.len()).unwrap_or(i64::MAX);
    let start = if start < 0 { len + start } else { start };
    if start < 0 || start > len || length < -1 || occurrence < 1 {
        return Val::Null;
    }
    let end = if length == -1 {
        len
    } else {
        start.saturating_add(length).min(len)
    };
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Val::Null;
    };
    let mut found = 0;
    let mut i = start;
    while i + lookup.len() <= end {
        if text.get(i..i + lookup.len()) == Some(lookup.as_slice()) {
            found += 1;
            if found == occurrence {
                return Val::Long(i64::try_from(i).unwrap_or(i64::MAX));
            }
        }
        i += 1;
    }
    Val::Long(-1)
}

/// `array_slice(array, start, end)`: elements `start` to `end` inclusive, negative indexes
/// counting from the end.
pub(super) fn array_slice(items: Vec<Value>, start: Val, end: Val) -> Val {
    let (Val::Long(start), Val::Long(end)) = (start, end) else {
        return Val::Null;
    };
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let at = |i: i64| if i < 0 { len + i } else { i };
    let (start, end) = (at(start).max(0), at(end).min(len - 1));
    if start > end {
        return Val::Dyn(Value::Array(Vec::new()));
    }
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Val::Dyn(Value::Array(Vec::new()));
    };
    Val::Dyn(Value::Array(
        items
            .into_iter()
            .skip(start)
            .take(end - start + 1)
            .collect(),
    ))
}

/// `replace_regex(text, regex, rewrite)`, with KQL's `\1` group references.
pub(super) fn replace_regex(text: &str, pattern: &str, rewrite: &str) -> Result<Val> {
    let re = RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| eval_err(format!("invalid regex `{pattern}`: {e}")))?;
    let group = Regex::new(r"\\(\d)").map_err(|e| eval_err(e.to_string()))?;
    let escaped = rewrite.replace('$', "$$");
    let rewrite = group.replace_all(&escaped, "$${$1}");
    Ok(Val::Str(
        re.replace_all(text, rewrite.as_ref()).into_owned(),
    ))
}

/// A value `parse` extracted, as its column's type; null when it does not read as one.
pub(super) fn parsed(text: &str, kind: ParseType) -> Val {
    let text = Val::Str(text.to_string());
    match kind {
        ParseType::Str => text,
        ParseType::Long => to_long(text),
        ParseType::Real => to_double(text),
        ParseType::Bool => to_bool(text),
        ParseType::DateTime => match &text {
            Val::Str(s) => parse_datetime(s).map_or(Val::Null, Val::DateTime),
            _ => Val::Null,
        },
        ParseType::Dynamic => match &text {
            Val::Str(s) => {
                serde_json::from_str::<Value>(s).map_or(text.clone(), |v| Val::from_json(&v))
            }
            _ => Val::Null,
        },
    }
}

/// A real result; NaN and infinities are null, as JSON cannot hold them.
pub(super) fn real(value: Option<f64>) -> Val {
    value.filter(|f| f.is_finite()).map_or(Val::Null, Val::Real)
}

pub(super) fn to_long(value: Val) -> Val {
    let from_real = |f: f64| {
        if f.is_finite() && f.abs() < 9.2e18 {
            Val::Long(f.trunc() as i64)
        } else {
            Val::Null
        }
    };
    match value {
        Val::Long(n) => Val::Long(n),
        Val::Real(f) => from_real(f),
        Val::Bool(b) => Val::Long(i64::from(b)),
        Val::Str(s) => match s.trim().parse::<i64>() {
            Ok(n) => Val::Long(n),
            Err(_) => s.trim().parse::<f64>().map_or(Val::Null, from_real),
        },
        Val::Span(span) => span
            .num_nanoseconds()
            .map_or(Val::Null, |ns| Val::Long(ns / 100)),
        _ => Val::Null,
    }
}

pub(super) fn to_double(value: Val) -> Val {
    match value {
        Val::Long(n) => Val::Real(n as f64),
        Val::Real(f) => Val::Real(f),
        Val::Bool(b) => Val::Real(if b { 1.0 } else { 0.0 }),
        Val::Str(s) => s.trim().parse::<f64>().map_or(Val::Null, Val::Real),
        _ => Val::Null,
    }
}

pub(super) fn to_bool(value: Val) -> Val {
    match value {
        Val::Bool(b) => Val::Bool(b),
        Val::Long(n) => Val::Bool(n != 0),
        Val::Real(f) => Val::Bool(f != 0.0),
        Val::Str(s) => opt_bool(parse_bool(&s)),
        _ => Val::Null,
    }
}

pub(super) fn substring(text: &str, start: Val, length: Val) -> Val {
    let Val::Long(start) = start else {
        return Val::Null;
    };
    let start = usize::try_from(start.max(0)).unwrap_or(usize::MAX);
    let chars = text.chars().skip(start);
    Val::Str(match length {
        Val::Long(n) => chars
            .take(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
            .collect(),
        _ => chars.collect(),
    })
}

pub(super) fn split(text: &str, delimiter: &str, index: Val) -> Val {
    let parts: Vec<Value> = if delimiter.is_empty() {
        vec![Value::from(text)]
    } else {
        text.split(delimiter).map(Value::from).collect()
    };
    Val::Dyn(Value::Array(match index {
        Val::Long(i) => array_get(&parts, i).cloned().into_iter().collect(),
        _ => parts,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::super::testutil::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn array_and_string_functions_of_real_queries() {
        assert_eq!(
            value_for("cosmos-shop", "strcat_array(dynamic(['a', 1, 'b']), ', ')"),
            json!("a, 1, b")
        );
        assert_eq!(value_for("cosmos-shop", "indexof('abcabc', 'c')"), json!(2));
        assert_eq!(
            value_for("cosmos-shop", "indexof('abcabc', 'c', 3)"),
            json!(5)
        );
        assert_eq!(
            value_for("cosmos-shop", "indexof('abcabc', 'c', 0, -1, 2)"),
            json!(5)
        );
        assert_eq!(value_for("cosmos-shop", "indexof('abc', 'z')"), json!(-1));
        assert_eq!(
            value_for("cosmos-shop", "array_slice(dynamic([1,2,3,4]), 1, 2)"),
            json!([2, 3])
        );
        assert_eq!(
            value_for("cosmos-shop", "array_slice(dynamic([1,2,3,4]), -2, -1)"),
            json!([3, 4])
        );
        assert_eq!(
            value_for("cosmos-shop", "array_slice(dynamic([1,2,3,4]), 3, 1)"),
            json!([])
        );
        assert_eq!(
            value_for("cosmos-shop", "set_has_element(dynamic(['1','2']), '2')"),
            json!(true)
        );
        assert_eq!(value_for("cosmos-shop", "string_size('é')"), json!(2));
        assert_eq!(
            value_for("cosmos-shop", "replace_regex('a1b22', @'(\\d+)', @'<\\1>')"),
            json!("a<1>b<22>")
        );
        assert_eq!(
            value_for("cosmos-shop", "replace(@'b', 'c', 'abb')"),
            json!("acc")
        );
        assert_eq!(
            value_for(
                "cosmos-shop",
                "dynamic_to_json(dynamic({'b': 1, 'a': [true]}))"
            ),
            json!("{\"a\":[true],\"b\":1}")
        );
        assert_eq!(
            value_for(
                "cosmos-shop",
                "array_concat(dynamic([1]), pack_array(2, 'x'))"
            ),
            json!([1, 2, "x"])
        );
        assert_eq!(
            value_for("cosmos-shop", "bag_keys(dynamic({'k': 1}))"),
            json!(["k"])
        );
    }

    #[test]
    fn property_access_forms() {
        assert_eq!(
            count("Resources | where properties['state'] == 'Running'"),
            2
        );
        assert_eq!(
            names("Resources | where tags['env'] == 'dev'"),
            ["app-admin-weu"]
        );
        assert_eq!(
            names("Resources | where tags[\"env\"] == 'dev'"),
            ["app-admin-weu"]
        );
        assert_eq!(
            count("Resources | where properties.writeLocations[0].locationName == 'West Europe'"),
            1
        );
        assert_eq!(
            value_for("cosmos-shop", "properties.readLocations[-1].locationName"),
            json!("North Europe")
        );
        assert_eq!(
            value_for("cosmos-shop", "properties.readLocations[5].locationName"),
            Value::Null
        );
        assert_eq!(
            value_for(
                "cosmos-shop",
                "properties['readLocations'][1]['failoverPriority']"
            ),
            json!(1)
        );
        assert_eq!(
            names("Resources | where sku.name == 'Standard_GRS'"),
            ["stlogsneu"]
        );
        assert_eq!(
            count("Resources | where properties['geoReplicationStats']['status'] == 'Live'"),
            2
        );
        assert_eq!(count("Resources | where ['name'] == 'cosmos-shop'"), 1);
        assert_eq!(
            value_for("cosmos-shop", "properties.consistencyPolicy"),
            json!({"defaultConsistencyLevel": "Session"})
        );
        assert_eq!(
            value_for("cosmos-shop", "properties.state.deeper[0]"),
            Value::Null
        );
    }

    #[test]
    fn string_functions() {
        let v = |expr: &str| value_for("stshopweu", expr);
        assert_eq!(v("tolower(sku.name)"), json!("standard_ragrs"));
        assert_eq!(v("toupper(location)"), json!("WESTEUROPE"));
        assert_eq!(
            v("tostring(properties.geoReplicationStats.canFailover)"),
            json!("true")
        );
        assert_eq!(
            v("tostring(sku)"),
            json!(r#"{"name":"Standard_RAGRS","tier":"Standard"}"#)
        );
        assert_eq!(v("tostring(properties.missing)"), json!(""));
        assert_eq!(v("strlen(name)"), json!(9));
        assert_eq!(v("strlen(properties.missing)"), json!(0));
        assert_eq!(v("split(id, '/')[4]"), json!("rg-shop-westeurope"));
        assert_eq!(v("split(id, '/', 4)"), json!(["rg-shop-westeurope"]));
        assert_eq!(v("split('a,b', ',')"), json!(["a", "b"]));
        assert_eq!(
            v("strcat(name, '@', location, 1)"),
            json!("stshopweu@westeurope1")
        );
        assert_eq!(v("extract('^st([a-z]+)weu$', 1, name)"), json!("shop"));
        assert_eq!(v("extract('^x(.*)$', 1, name)"), json!(""));
        assert_eq!(
            v("extract('/resourceGroups/([^/]+)/', 1, id)"),
            json!("rg-shop-westeurope")
        );
        assert_eq!(v("substring(name, 2, 4)"), json!("shop"));
        assert_eq!(v("substring(name, 6)"), json!("weu"));
        assert_eq!(v("replace_string(name, 'weu', 'neu')"), json!("stshopneu"));
        assert_eq!(v("array_length(split(name, 'o'))"), json!(2));
        assert_eq!(v("array_length(name)"), Value::Null);
    }

    #[test]
    fn conversion_functions() {
        let v = |expr: &str| value_for("app-shop-weu", expr);
        assert_eq!(v("toint('42')"), json!(42));
        assert_eq!(v("tolong('7.9')"), json!(7));
        assert_eq!(v("tolong('seven')"), Value::Null);
        assert_eq!(v("toint(properties.instances) + 1"), json!(4));
        assert_eq!(v("todouble('2.5')"), json!(2.5));
        assert_eq!(v("toreal(3)"), json!(3.0));
        assert_eq!(v("tobool('TRUE')"), json!(true));
        assert_eq!(v("parse_json('{\"a\": [1, 2]}').a[1]"), json!(2));
        assert_eq!(v("todynamic('not json')"), json!("not json"));
        assert_eq!(v("todatetime('2026-01-02')"), json!("2026-01-02T00:00:00Z"));
        assert_eq!(v("todatetime('garbage')"), Value::Null);
    }

    #[test]
    fn conditional_functions() {
        let v = |expr: &str| value_for("stlogsneu", expr);
        assert_eq!(
            v("iff(location == 'westeurope', 'primary', 'secondary')"),
            json!("secondary")
        );
        assert_eq!(
            v("iif(location == 'northeurope', 'primary', 'secondary')"),
            json!("primary")
        );
        assert_eq!(v("iff(properties.missing == 1, 'yes', 'no')"), json!("no"));
        let case = "case(sku.name == 'Standard_RAGRS', 'ragrs', sku.name == 'Standard_GRS', 'grs', 'other')";
        assert_eq!(v(case), json!("grs"));
        assert_eq!(v("case(false, 1, false, 2, 3)"), json!(3));
        assert_eq!(
            v("coalesce(properties.missing, '', tags.env, 'fallback')"),
            json!("fallback")
        );
        assert_eq!(
            v("coalesce(properties.missing, sku.tier)"),
            json!("Standard")
        );
        assert_eq!(v("isnull(coalesce(properties.missing))"), json!(true));
        assert_eq!(v("not(isnull(tags))"), json!(false));
    }

    #[test]
    fn arithmetic() {
        let v = |expr: &str| value_for("app-shop-weu", expr);
        assert_eq!(v("properties.instances * 2 + 1"), json!(7));
        assert_eq!(v("1 + 2 * 3"), json!(7));
        assert_eq!(v("(1 + 2) * 3"), json!(9));
        assert_eq!(v("10 - 4 - 3"), json!(3));
        assert_eq!(v("7 / 2"), json!(3));
        assert_eq!(v("7.0 / 2"), json!(3.5));
        assert_eq!(v("7 % 3"), json!(1));
        assert_eq!(v("-properties.instances"), json!(-3));
        assert_eq!(v("1 / 0"), Value::Null);
        assert_eq!(v("9223372036854775807 + 1"), Value::Null);
        assert_eq!(v("properties.missing + 1"), Value::Null);
        assert!(matches!(
            err("Resources | extend x = name + 'x'"),
            KqlError::Eval { .. }
        ));
    }

    #[test]
    fn datetime_comparisons_with_ago() {
        let recent =
            "Resources | where todatetime(properties.geoReplicationStats.lastSyncTime) > ago(15m)";
        assert_eq!(names(recent), ["stshopweu"]);
        // An RFC 3339 string meeting a datetime compares as a datetime.
        assert_eq!(
            names("Resources | where properties.geoReplicationStats.lastSyncTime > ago(15m)"),
            ["stshopweu"]
        );
        assert_eq!(
            names("Resources | where ago(1h) > properties.geoReplicationStats.lastSyncTime"),
            ["stlogsneu"]
        );
        assert_eq!(
            count(
                "Resources | where properties.geoReplicationStats.lastSyncTime >= datetime(2026-03-01T10:00:00Z)"
            ),
            2
        );
        assert_eq!(
            count(
                "Resources | where properties.geoReplicationStats.lastSyncTime > datetime(2026-03-01 10:00)"
            ),
            1
        );
        assert_eq!(count("Resources | where datetime(2026-03-01) < now()"), 8);
        assert_eq!(count("Resources | where name < ago(1d)"), 0);
        assert_eq!(
            count(
                "Resources | where todatetime(properties.geoReplicationStats.lastSyncTime) == datetime(2026-03-01T10:00:00Z)"
            ),
            1
        );
    }

    #[test]
    fn datetime_arithmetic_and_timespans() {
        let v = |expr: &str| value_for("app-shop-weu", expr);
        assert_eq!(v("ago(30s)"), json!("2026-03-01T11:59:30Z"));
        assert_eq!(v("ago(100ms)"), json!("2026-03-01T11:59:59.900Z"));
        assert_eq!(v("ago(1h)"), json!("2026-03-01T11:00:00Z"));
        assert_eq!(v("ago(2d)"), json!("2026-02-27T12:00:00Z"));
        assert_eq!(v("ago(5m)"), json!("2026-03-01T11:55:00Z"));
        assert_eq!(v("ago(1.5h)"), json!("2026-03-01T10:30:00Z"));
        assert_eq!(v("now() - 2d"), json!("2026-02-27T12:00:00Z"));
        assert_eq!(v("now(-1h)"), json!("2026-03-01T11:00:00Z"));
        assert_eq!(
            v("datetime(2026-01-01T00:00:00Z) + 36h"),
            json!("2026-01-02T12:00:00Z")
        );
        assert_eq!(
            v("now() - datetime(2026-02-28T10:30:00Z)"),
            json!("1.01:30:00")
        );
        assert_eq!(v("2h + 30m"), json!("02:30:00"));
        assert_eq!(v("1h / 30m"), json!(2.0));
        let lag = |name: &str| {
            value_for(
                name,
                "now() - todatetime(properties.geoReplicationStats.lastSyncTime)",
            )
        };
        assert_eq!(lag("stshopweu"), json!("00:02:59.8765433"));
        assert_eq!(lag("stlogsneu"), json!("02:00:00"));
        // A timespan stored by `extend` still compares as a timespan.
        let stale = "Resources | extend lag = now() - todatetime(properties.geoReplicationStats.lastSyncTime) \
                     | where lag > 1h | project name";
        assert_eq!(names(stale), ["stlogsneu"]);
        assert_eq!(
            value_for(
                "stlogsneu",
                "properties.geoReplicationStats.lastSyncTime + 1h"
            ),
            json!("2026-03-01T11:00:00Z")
        );
    }

    #[test]
    fn eval_errors() {
        assert!(matches!(
            err("Resources | where name"),
            KqlError::Eval { .. }
        ));
        let bad = run_at("Resources", &[json!(1)], now());
        assert!(matches!(bad, Err(KqlError::Eval { .. })), "{bad:?}");
        assert_eq!(
            run_at("Resources | where name == 'x'", &[], now()),
            Ok(vec![])
        );
        assert!(run("Resources | where ago(1d) < now() | count", &fixture()).is_ok());
    }
}
