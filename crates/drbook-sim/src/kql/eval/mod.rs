//! The evaluator: tabular operators over rows (where, project, summarize, join, ...).

use super::*;

mod expr;

pub(super) use expr::Env;
use expr::*;

pub(super) fn eval_query(query: &Query, env: &Env) -> Result<Vec<Row>> {
    let rows = match &query.source {
        Source::Table(name) => env.table(name),
        Source::Union(items) => union_rows(Vec::new(), items, env)?,
    };
    query
        .ops
        .iter()
        .try_fold(rows, |rows, op| apply(op, rows, env))
}

pub(super) fn union_rows(mut rows: Vec<Row>, items: &[Query], env: &Env) -> Result<Vec<Row>> {
    for item in items {
        rows.extend(eval_query(item, env)?);
    }
    Ok(rows)
}

/// The values of `columns` in `row` as one comparable key; `None` when one is null, since a
/// null key matches nothing.
pub(super) fn join_key<'a>(
    row: &Row,
    mut columns: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let mut key = String::new();
    columns.try_for_each(|column| match row.get(column) {
        None | Some(Value::Null) => None,
        Some(value) => {
            key.push_str(&value.to_string());
            key.push('\u{1f}');
            Some(())
        }
    })?;
    Some(key)
}

pub(super) fn join(
    left: Vec<Row>,
    right: Vec<Row>,
    kind: JoinKind,
    on: &[(String, usize, String, usize)],
    shape: &JoinShape,
) -> Result<Vec<Row>> {
    let left_key = |row: &Row| join_key(row, on.iter().map(|(l, ..)| l.as_str()));
    let right_key = |row: &Row| join_key(row, on.iter().map(|(_, _, r, _)| r.as_str()));
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, row) in right.iter().enumerate() {
        if let Some(key) = right_key(row) {
            index.entry(key).or_default().push(i);
        }
    }
    // The right side's columns under their output names, nulls where a row has none.
    let right_part = |row: Option<&Row>, out: &mut Row| {
        for (column, name) in &shape.right {
            let value = row.and_then(|r| r.get(column)).cloned();
            out.insert(name.clone(), value.unwrap_or(Value::Null));
        }
    };
    let mut out = Vec::new();
    let mut matched = vec![false; right.len()];
    let mut seen = HashSet::new();
    for row in left {
        let key = left_key(&row);
        if kind == JoinKind::InnerUnique {
            // innerunique keeps one left row per key before joining.
            match &key {
                Some(k) if !seen.insert(k.clone()) => continue,
                _ => {}
            }
        }
        let hits = key.as_ref().and_then(|k| index.get(k));
        match hits {
            Some(hits) => {
                if out.len().saturating_add(hits.len()) > MAX_JOIN_ROWS {
                    return Err(eval_err(format!(
                        "the join makes more than {MAX_JOIN_ROWS} rows: narrow its sides or \
                         its key"
                    )));
                }
                for &i in hits {
                    let mut joined = row.clone();
                    right_part(right.get(i), &mut joined);
                    if let Some(m) = matched.get_mut(i) {
                        *m = true;
                    }
                    out.push(joined);
                }
            }
            None if matches!(kind, JoinKind::LeftOuter | JoinKind::FullOuter) => {
                let mut joined = row;
                right_part(None, &mut joined);
                out.push(joined);
            }
            None => {}
        }
    }
    if kind == JoinKind::FullOuter {
        for (row, _) in right.iter().zip(&matched).filter(|(_, m)| !**m) {
            let mut joined: Row = shape
                .left
                .iter()
                .map(|c| (c.clone(), Value::Null))
                .collect();
            right_part(Some(row), &mut joined);
            out.push(joined);
        }
    }
    Ok(out)
}

pub(super) fn apply(op: &Op, mut rows: Vec<Row>, env: &Env) -> Result<Vec<Row>> {
    match op {
        Op::Join {
            kind,
            right,
            on,
            shape,
        } => {
            let right_rows = eval_query(right, env)?;
            join(rows, right_rows, *kind, on, shape)
        }
        Op::Union(items) => union_rows(rows, items, env),
        Op::Parse { source, re, cols } => {
            for row in &mut rows {
                let text = eval(source, row, env)?.text().into_owned();
                let captures = re.captures(&text);
                for (i, (name, kind)) in cols.iter().enumerate() {
                    let value = captures
                        .as_ref()
                        .and_then(|c| c.name(&format!("c{i}")))
                        .map_or(Val::Null, |m| parsed(m.as_str(), *kind));
                    row.insert(name.clone(), value.into_json());
                }
            }
            Ok(rows)
        }
        Op::Where(predicate) => where_rows(rows, predicate, env),
        Op::Project(cols) => project_rows(rows, cols, env),
        Op::ProjectAway(patterns) => {
            for row in &mut rows {
                row.retain(|key, _| !patterns.iter().any(|(p, _)| glob(p, key)));
            }
            Ok(rows)
        }
        Op::ProjectRename(renames) => {
            for row in &mut rows {
                for (new, old, _) in renames {
                    if let Some(value) = row.remove(old) {
                        row.insert(new.clone(), value);
                    }
                }
            }
            Ok(rows)
        }
        Op::Extend(cols) => {
            for row in &mut rows {
                for (name, expr) in cols {
                    let value = eval(expr, row, env)?.into_json();
                    row.insert(name.clone(), value);
                }
            }
            Ok(rows)
        }
        Op::Summarize { aggs, by } => summarize(&rows, aggs, by, env),
        Op::Count => {
            let mut row = Row::new();
            row.insert("Count".to_string(), Value::from(rows.len()));
            Ok(vec![row])
        }
        Op::Take(n) => {
            rows.truncate(*n);
            Ok(rows)
        }
        Op::Sort(keys) => sort_rows(rows, keys, env),
        Op::Top { n, keys } => {
            let mut sorted = sort_rows(rows, keys, env)?;
            sorted.truncate(*n);
            Ok(sorted)
        }
        Op::Distinct(cols) => distinct(rows, cols.as_deref(), env),
        Op::MvExpand { cols, limit } => mv_expand(rows, cols, *limit, env),
    }
}

pub(super) fn where_rows(rows: Vec<Row>, predicate: &Expr, env: &Env) -> Result<Vec<Row>> {
    let mut kept = Vec::new();
    for row in rows {
        match eval(predicate, &row, env)? {
            Val::Bool(true) => kept.push(row),
            Val::Bool(false) | Val::Null => {}
            Val::Dyn(Value::Null) => {}
            other => {
                let shown: String = other.text().chars().take(40).collect();
                return Err(eval_err(format!(
                    "`where` needs a true/false condition, got `{shown}`"
                )));
            }
        }
    }
    Ok(kept)
}

/// `project` over rows it owns: a column projected as itself, once, is moved out of the row
/// rather than cloned (a large estate's `properties` are most of its bytes). The result is
/// that of [`project_row`].
fn project_rows(rows: Vec<Row>, cols: &[(String, Expr)], env: &Env) -> Result<Vec<Row>> {
    fn plain(e: &Expr) -> Option<&str> {
        match e {
            Expr::Col { name, .. } => Some(name.as_str()),
            _ => None,
        }
    }
    let names: HashSet<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    if names.len() != cols.len() {
        // A name given twice: the last wins, as project_row has it.
        return rows.iter().map(|row| project_row(row, cols, env)).collect();
    }
    let moved: Vec<Option<&str>> = cols
        .iter()
        .map(|(_, e)| {
            plain(e).filter(|&src| cols.iter().filter(|(_, o)| plain(o) == Some(src)).count() == 1)
        })
        .collect();
    rows.into_iter()
        .map(|mut row| {
            let mut out = Row::new();
            // Every other expression first, while the row is whole.
            for ((name, expr), m) in cols.iter().zip(&moved) {
                if m.is_none() {
                    out.insert(name.clone(), eval(expr, &row, env)?.into_json());
                }
            }
            for ((name, _), m) in cols.iter().zip(&moved) {
                if let Some(src) = m {
                    let value = row.remove(*src).unwrap_or(Value::Null);
                    out.insert(name.clone(), as_column(value));
                }
            }
            Ok(out)
        })
        .collect()
}

/// A value read as a column and written back (`Val::from_json`, then `into_json`), without
/// the copy: numbers become a long or a real, the rest stays as it is.
fn as_column(value: Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(Value::Null),
        other => other,
    }
}

pub(super) fn project_row(row: &Row, cols: &[(String, Expr)], env: &Env) -> Result<Row> {
    cols.iter()
        .map(|(name, expr)| Ok((name.clone(), eval(expr, row, env)?.into_json())))
        .collect()
}

pub(super) fn key_error(e: serde_json::Error) -> KqlError {
    eval_err(format!("cannot group by value: {e}"))
}

/// A running aggregation.
pub(super) enum Acc {
    Count(u64),
    Distinct(HashSet<String>),
    Min(Option<Val>),
    Max(Option<Val>),
    Sum(Option<Val>),
    Avg(f64, u64),
    List(Vec<Value>),
    Set(Vec<Value>, HashSet<String>),
    Any(Option<Value>),
}

impl Acc {
    pub(super) fn new(kind: AggKind) -> Self {
        match kind {
            AggKind::Count | AggKind::CountIf => Acc::Count(0),
            AggKind::DCount => Acc::Distinct(HashSet::new()),
            AggKind::Min => Acc::Min(None),
            AggKind::Max => Acc::Max(None),
            AggKind::Sum => Acc::Sum(None),
            AggKind::Avg => Acc::Avg(0.0, 0),
            AggKind::MakeList => Acc::List(Vec::new()),
            AggKind::MakeSet => Acc::Set(Vec::new(), HashSet::new()),
            AggKind::Any => Acc::Any(None),
        }
    }

    pub(super) fn add(&mut self, agg: &Agg, row: &Row, env: &Env) -> Result<()> {
        let value = match &agg.arg {
            Some(expr) => eval(expr, row, env)?,
            None => Val::Bool(true),
        };
        match self {
            Acc::Count(n) => {
                if agg.kind == AggKind::Count || value.truth() == Some(true) {
                    *n += 1;
                }
            }
            _ if value.is_null() => {}
            Acc::Distinct(seen) => {
                seen.insert(value.into_json().to_string());
            }
            Acc::Min(current) => keep_if(current, value, Ordering::Less),
            Acc::Max(current) => keep_if(current, value, Ordering::Greater),
            Acc::Sum(current) => {
                let total = match current.take() {
                    None => value,
                    Some(Val::Long(x)) => match value {
                        Val::Long(y) => x
                            .checked_add(y)
                            .map_or(Val::Real(x as f64 + y as f64), Val::Long),
                        other => arith(BinOp::Add, Val::Long(x), other)?,
                    },
                    Some(total) => arith(BinOp::Add, total, value)?,
                };
                *current = Some(total);
            }
            Acc::Avg(sum, n) => {
                if let Some(f) = to_double(value).as_f64() {
                    *sum += f;
                    *n += 1;
                }
            }
            Acc::List(items) => items.push(value.into_json()),
            Acc::Set(items, seen) => {
                let json = value.into_json();
                if seen.insert(json.to_string()) {
                    items.push(json);
                }
            }
            Acc::Any(current) => {
                if current.is_none() && !value.is_empty() {
                    *current = Some(value.into_json());
                }
            }
        }
        Ok(())
    }

    pub(super) fn finish(self) -> Value {
        match self {
            Acc::Count(n) => Value::from(n),
            Acc::Distinct(seen) => Value::from(seen.len()),
            Acc::Min(v) | Acc::Max(v) => v.map_or(Value::Null, Val::into_json),
            Acc::Sum(v) => v.map_or(Value::from(0), Val::into_json),
            Acc::Avg(sum, n) if n > 0 => Val::Real(sum / n as f64).into_json(),
            Acc::Avg(..) => Value::Null,
            Acc::List(items) | Acc::Set(items, _) => Value::Array(items),
            Acc::Any(v) => v.unwrap_or(Value::Null),
        }
    }
}

/// Replaces `current` with `value` when there is none yet or `value` compares as `wanted`.
pub(super) fn keep_if(current: &mut Option<Val>, value: Val, wanted: Ordering) {
    let better = current
        .as_ref()
        .is_none_or(|c| compare(&value, c) == Some(wanted));
    if better {
        *current = Some(value);
    }
}

pub(super) fn summarize(
    rows: &[Row],
    aggs: &[(String, Agg)],
    by: &[(String, Expr)],
    env: &Env,
) -> Result<Vec<Row>> {
    let fresh = || {
        aggs.iter()
            .map(|(_, agg)| Acc::new(agg.kind))
            .collect::<Vec<_>>()
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(Vec<Value>, Vec<Acc>)> = Vec::new();
    for row in rows {
        let keys = by
            .iter()
            .map(|(_, e)| eval(e, row, env).map(Val::into_json))
            .collect::<Result<Vec<_>>>()?;
        let key = serde_json::to_string(&keys).map_err(key_error)?;
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push((keys, fresh()));
            groups.len() - 1
        });
        if let Some((_, accs)) = groups.get_mut(slot) {
            for ((_, agg), acc) in aggs.iter().zip(accs.iter_mut()) {
                acc.add(agg, row, env)?;
            }
        }
    }
    if by.is_empty() && groups.is_empty() {
        groups.push((Vec::new(), fresh()));
    }
    let out = groups.into_iter().map(|(keys, accs)| {
        let by_cols = by.iter().map(|(name, _)| name.clone()).zip(keys);
        let agg_cols = aggs
            .iter()
            .map(|(name, _)| name.clone())
            .zip(accs.into_iter().map(Acc::finish));
        by_cols.chain(agg_cols).collect()
    });
    Ok(out.collect())
}

pub(super) fn sort_rows(rows: Vec<Row>, keys: &[SortKey], env: &Env) -> Result<Vec<Row>> {
    let mut keyed = rows
        .into_iter()
        .map(|row| {
            let values = keys
                .iter()
                .map(|k| eval(&k.expr, &row, env))
                .collect::<Result<Vec<_>>>()?;
            Ok((values, row))
        })
        .collect::<Result<Vec<_>>>()?;
    keyed.sort_by(|(a, _), (b, _)| {
        a.iter()
            .zip(b)
            .zip(keys)
            .map(|((x, y), key)| sort_order(x, y, key))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

pub(super) fn sort_order(x: &Val, y: &Val, key: &SortKey) -> Ordering {
    let nulls = if key.nulls_first {
        Ordering::Less
    } else {
        Ordering::Greater
    };
    match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => nulls,
        (false, true) => nulls.reverse(),
        (false, false) if key.desc => total_cmp(x, y).reverse(),
        (false, false) => total_cmp(x, y),
    }
}

pub(super) fn distinct(
    rows: Vec<Row>,
    cols: Option<&[(String, Expr)]>,
    env: &Env,
) -> Result<Vec<Row>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for row in rows {
        let row = match cols {
            Some(cols) => project_row(&row, cols, env)?,
            None => row,
        };
        if seen.insert(serde_json::to_string(&row).map_err(key_error)?) {
            out.push(row);
        }
    }
    Ok(out)
}

pub(super) fn mv_expand(
    rows: Vec<Row>,
    cols: &[(String, Expr)],
    limit: Option<usize>,
    env: &Env,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for row in rows {
        let columns = cols
            .iter()
            .map(|(_, e)| Ok(expand_items(eval(e, &row, env)?)))
            .collect::<Result<Vec<_>>>()?;
        let count = columns.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..limit.map_or(count, |l| count.min(l)) {
            let mut expanded = row.clone();
            for ((name, _), items) in cols.iter().zip(&columns) {
                expanded.insert(name.clone(), items.get(i).cloned().unwrap_or(Value::Null));
            }
            out.push(expanded);
        }
    }
    Ok(out)
}

/// What `mv-expand` makes rows of: array elements, one-property bags of an object, or the value.
pub(super) fn expand_items(value: Val) -> Vec<Value> {
    match value {
        Val::Dyn(Value::Array(items)) => items,
        Val::Dyn(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| Value::Object(std::iter::once((k, v)).collect()))
            .collect(),
        other => vec![other.into_json()],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    /// Resource groups of the fixture (`rg-admin` has none) as a second table.
    fn groups_and_resources(query: &str) -> Vec<Value> {
        let groups = vec![
            json!({"name": "rg-shop-westeurope", "location": "westeurope", "id": "/rg/1"}),
            json!({"name": "rg-shop-northeurope", "location": "northeurope", "id": "/rg/2"}),
            json!({"name": "rg-empty", "location": "swedencentral", "id": "/rg/3"}),
        ];
        let tables = |name: &str| match name {
            "resources" => Some(fixture()),
            "resourcecontainers" => Some(groups.clone()),
            _ => None,
        };
        run_tables_at(query, &tables, now())
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .rows
    }

    fn pairs(rows: &[Value], a: &str, b: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r[a].as_str().unwrap_or("-").to_string(),
                    r[b].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// The moving `project` answers what evaluating each column answers: a column projected
    /// twice, a column also read by an expression, renamed and missing columns.
    #[test]
    fn project_moves_columns_and_answers_as_evaluating_them() {
        let rows = fixture();
        let run = |q: &str| run_at(q, &rows, now()).unwrap_or_else(|e| panic!("{q}: {e}"));
        let plain = run("Resources | project id, name, properties");
        assert_eq!(plain.len(), rows.len());
        for (out, src) in plain.iter().zip(&rows) {
            assert_eq!(
                *out,
                json!({"id": src["id"], "name": src["name"], "properties": src["properties"]})
            );
        }
        for (out, src) in run("Resources | project id, again = id, name")
            .iter()
            .zip(&rows)
        {
            assert_eq!(out["again"], src["id"]);
            assert_eq!(out["id"], src["id"]);
        }
        for (out, src) in run("Resources | project n = name, shout = toupper(name), tags")
            .iter()
            .zip(&rows)
        {
            let name = src["name"].as_str().expect("name");
            assert_eq!(out["n"], name);
            assert_eq!(out["shout"], name.to_uppercase());
            assert_eq!(out["tags"], src["tags"]);
        }
        for (out, src) in
            run("Resources | project props = properties, instances = properties.instances, s = sku")
                .iter()
                .zip(&rows)
        {
            assert_eq!(out["props"], src["properties"]);
            assert_eq!(out["instances"], src["properties"]["instances"]);
            assert_eq!(out["s"], src.get("sku").cloned().unwrap_or(Value::Null));
        }
    }

    #[test]
    fn join_kinds() {
        let base = "Resources | where type == 'microsoft.web/sites' | project site = name, resourceGroup | join kind=KIND (ResourceContainers | project resourceGroup = name, rgLocation = location) on resourceGroup";
        let with = |kind: &str| groups_and_resources(&base.replace("KIND", kind));
        let inner = with("inner");
        assert_eq!(
            pairs(&inner, "site", "rgLocation"),
            [
                ("app-shop-neu".into(), "northeurope".into()),
                ("app-shop-weu".into(), "westeurope".into())
            ]
        );
        // The right side's clashing key column is kept, renamed.
        assert!(
            inner
                .iter()
                .all(|r| r["resourceGroup1"] == r["resourceGroup"]),
            "{inner:?}"
        );
        let left = with("leftouter");
        assert_eq!(left.len(), 3);
        let admin = left.iter().find(|r| r["site"] == "app-admin-weu").unwrap();
        assert_eq!(admin["rgLocation"], Value::Null);
        assert_eq!(admin["resourceGroup1"], Value::Null);
        let full = with("fullouter");
        assert_eq!(full.len(), 4, "{full:?}");
        assert!(
            full.iter()
                .any(|r| r["site"].is_null() && r["rgLocation"] == "swedencentral")
        );
        // Kusto's other flavours are refused, as Resource Graph refuses them.
        for kind in [
            "rightouter",
            "leftsemi",
            "rightsemi",
            "leftanti",
            "anti",
            "rightanti",
        ] {
            let query = base.replace("KIND", kind);
            match run_at(&query, &fixture(), now()) {
                Err(KqlError::Unsupported { what }) => {
                    assert!(what.contains(&format!("kind={kind}")), "{what}")
                }
                other => panic!("{kind}: {other:?}"),
            }
        }
    }

    #[test]
    fn join_explosion_is_an_error() {
        let rows: Vec<Value> = (0..500)
            .map(|i| json!({"id": i.to_string(), "k": 1}))
            .collect();
        let query =
            "Resources | join kind=inner (Resources) on k | join kind=inner (Resources) on k";
        match run_at(query, &rows, now()) {
            Err(KqlError::Eval { message }) => assert!(message.contains("more than"), "{message}"),
            other => panic!("{:?}", other.map(|r| r.len())),
        }
    }

    #[test]
    fn join_default_is_innerunique() {
        // Two left rows share a key: innerunique keeps one, inner keeps both.
        let q = "Resources | where type == 'microsoft.web/sites' and location == 'westeurope' | project location | join KIND (ResourceContainers | project location, rg = name) on location";
        assert_eq!(groups_and_resources(&q.replace("KIND", "")).len(), 1);
        assert_eq!(
            groups_and_resources(&q.replace("KIND", "kind=innerunique")).len(),
            1
        );
        assert_eq!(
            groups_and_resources(&q.replace("KIND", "kind=inner")).len(),
            2
        );
    }

    #[test]
    fn join_on_left_and_right_columns() {
        let rows = groups_and_resources(
            "ResourceContainers | join kind = leftouter hint.strategy=shuffle (Resources | summarize n = count() by resourceGroup) on $left.name == $right.resourceGroup | project name, n",
        );
        let mut got: Vec<(String, Value)> = rows
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r["n"].clone()))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            [
                ("rg-empty".into(), Value::Null),
                ("rg-shop-northeurope".into(), json!(3)),
                ("rg-shop-westeurope".into(), json!(4))
            ]
        );
        // Either way round, and several keys with `and`.
        let swapped = groups_and_resources(
            "ResourceContainers | join (Resources | distinct resourceGroup, location) on $right.resourceGroup == $left.name and location",
        );
        assert_eq!(swapped.len(), 2, "{swapped:?}");
        // Full Resources on both sides: every clashing column gets a number.
        let row = &groups_and_resources(
            "Resources | where name == 'cosmos-shop' | join (Resources) on id",
        )[0];
        assert_eq!(row["name1"], "cosmos-shop");
        assert_eq!(row["id1"], row["id"]);
    }

    #[test]
    fn join_errors_name_the_problem() {
        let tables = |name: &str| (name == "resources").then(fixture);
        let e = |q: &str| run_tables_at(q, &tables, now()).unwrap_err().to_string();
        assert!(
            e("Resources | join kind=sideways (Resources) on id")
                .contains("unknown join kind `sideways`")
        );
        assert!(
            e("Resources | join (Resources | project name) on id").contains("unknown column `id`")
        );
        assert!(
            e("Resources | join (Resources) on $left.id == $left.name").contains("`$right.column`")
        );
        assert!(e("Resources | join (Resources) id").contains("`on`"));
        assert!(e("Resources | join (Resources on id").contains("`)`"));
    }

    #[test]
    fn union_of_tables() {
        let rows = groups_and_resources(
            "union (Resources | project name), (ResourceContainers | project name, location) | summarize count()",
        );
        assert_eq!(rows, [json!({"count_": 11})]);
        let rows = groups_and_resources(
            "Resources | where name == 'cosmos-shop' | union ResourceContainers | project name",
        );
        assert_eq!(rows.len(), 4);
        let rows = groups_and_resources(
            "Resources | take 1 | project a = 1 | union (ResourceContainers | take 1 | project b = 2)",
        );
        assert_eq!(rows, [json!({"a": 1}), json!({"b": 2})]);
    }

    #[test]
    fn parse_extracts_columns() {
        let rows = q(
            "Resources | where name == 'cosmos-shop' | parse id with * '/resourceGroups/' rg '/providers/' provider '/' rest | project rg, provider, rest",
        );
        assert_eq!(
            rows,
            [
                json!({"rg": "rg-shop-westeurope", "provider": "Microsoft.DocumentDB", "rest": "databaseAccounts/cosmos-shop"})
            ]
        );
        let rows = q(
            "Resources | where name == 'app-shop-weu' | extend t = 'n=42; ok=true' | parse t with 'n=' n:long '; ok=' ok:bool | project n, ok",
        );
        assert_eq!(rows, [json!({"n": 42, "ok": true})]);
        // Text after the last constant is ignored; a `long` column takes digits only.
        let rows = q(
            "Resources | where name == 'app-shop-weu' | extend t = 'id=7x; rest' | parse t with 'id=' n:long 'x;' | project n",
        );
        assert_eq!(rows, [json!({"n": 7})]);
        // kind=regex: the constants are regexes; no match gives nulls.
        let rows = q(
            "Resources | where name == 'app-shop-weu' | parse kind=regex name with '([a-z]+)-' kind '-(weu|neu)' | extend miss = 'x' | parse miss with 'y' z | project kind, z",
        );
        assert_eq!(rows, [json!({"kind": "shop", "z": null})]);
        parse_error("Resources | parse name with", 27, &["`parse` pattern"]);
        parse_error(
            "Resources | parse name with 'a' *",
            33,
            &["column to extract"],
        );
    }

    #[test]
    fn project_names() {
        let rows = q("Resources | where name == 'stshopweu' \
                      | project name, state = properties.geoReplicationStats.status, properties.primaryLocation, \
                        tostring(sku.name), strcat(name, '!'), now()");
        assert_eq!(
            rows,
            vec![json!({
                "name": "stshopweu", "state": "Live", "properties_primaryLocation": "westeurope",
                "sku_name": "Standard_RAGRS", "Column1": "stshopweu!", "Column2": "2026-03-01T12:00:00Z"
            })]
        );
        let rows = q("Resources | take 1 | project name, name, location");
        assert_eq!(rows[0].as_object().map(|m| m.len()), Some(3));
        assert!(rows[0].get("name1").is_some());
    }

    #[test]
    fn project_away_and_rename() {
        let rows = q("Resources | where name == 'cosmos-shop' | project-away properties, tags, id");
        let keys = sorted_keys(&rows[0]);
        assert_eq!(keys, ["kind", "location", "name", "resourceGroup", "type"]);
        let rows =
            q("Resources | where name == 'cosmos-shop' | project-away *Group, prop*, t*, id, k*nd");
        let keys = sorted_keys(&rows[0]);
        assert_eq!(keys, ["location", "name"]);
        let rows = q(
            "Resources | where name == 'cosmos-shop' | project name, location | project-rename region = location",
        );
        assert_eq!(
            rows,
            vec![json!({"name": "cosmos-shop", "region": "westeurope"})]
        );
    }

    #[test]
    fn extend_adds_columns_in_order() {
        let rows = q(
            "Resources | where name == 'app-shop-weu' | extend a = 2, b = a * 3 | project name, a, b",
        );
        assert_eq!(rows, vec![json!({"name": "app-shop-weu", "a": 2, "b": 6})]);
        let rows = q(
            "Resources | where name == 'app-shop-weu' | extend name = toupper(name) | project name",
        );
        assert_eq!(rows, vec![json!({"name": "APP-SHOP-WEU"})]);
    }

    #[test]
    fn summarize_aggregations() {
        assert_eq!(
            q("Resources | summarize count()"),
            vec![json!({"count_": 8})]
        );
        let rows = q(
            "Resources | summarize n = count(), running = countif(properties.state == 'Running'), \
                      regions = dcount(location) by type | where type == 'microsoft.web/sites'",
        );
        assert_eq!(
            rows,
            vec![json!({"type": "microsoft.web/sites", "n": 3, "running": 2, "regions": 2})]
        );
        let rows = q(
            "Resources | summarize min(properties.instances), max(properties.instances), \
                      sum(properties.instances), avg(properties.instances)",
        );
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row["min_properties_instances"], json!(0));
        assert_eq!(row["max_properties_instances"], json!(3));
        assert_eq!(row["sum_properties_instances"], json!(4));
        let avg = row["avg_properties_instances"].as_f64().unwrap_or_default();
        assert!((avg - 4.0 / 3.0).abs() < 1e-9, "{avg}");
        let rows = q(
            "Resources | where type =~ 'microsoft.web/sites' | order by name asc \
                      | summarize names = make_list(name), regions = make_set(location)",
        );
        assert_eq!(
            rows,
            vec![json!({
                "names": ["app-admin-weu", "app-shop-neu", "app-shop-weu"],
                "regions": ["westeurope", "northeurope"]
            })]
        );
        let rows = q(
            "Resources | where type =~ 'microsoft.storage/storageaccounts' \
                      | summarize any(location), take_any(kind), sum(properties.missing), max(todatetime(properties.geoReplicationStats.lastSyncTime))",
        );
        assert_eq!(rows[0]["any_location"], json!("westeurope"));
        assert_eq!(rows[0]["kind"], json!("StorageV2"));
        assert_eq!(rows[0]["sum_properties_missing"], json!(0));
        assert_eq!(
            rows[0]["max_properties_geoReplicationStats_lastSyncTime"],
            json!("2026-03-01T11:57:00.123456700Z")
        );
    }

    #[test]
    fn summarize_by_expressions() {
        let mut rows = q("Resources | summarize count() by env = tostring(tags.env)");
        rows.sort_by_key(|r| r["env"].to_string());
        assert_eq!(
            rows,
            vec![
                json!({"env": "", "count_": 1}),
                json!({"env": "dev", "count_": 1}),
                json!({"env": "prod", "count_": 6})
            ]
        );
        let rows =
            q("Resources | summarize count() by tostring(tags.env) | where tags_env == 'dev'");
        assert_eq!(rows, vec![json!({"tags_env": "dev", "count_": 1})]);
        let rows = q(
            "Resources | summarize regions = make_set(location) by kind, upper = toupper(type) \
                      | where upper == 'MICROSOFT.WEB/SITES'",
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["kind"], json!("app,linux"));
        assert_eq!(count("Resources | summarize by location"), 2);
        let rows = q("Resources | summarize count(), count() by count_ = location");
        let keys = sorted_keys(&rows[0]);
        assert_eq!(keys, ["count_", "count_1", "count_2"]);
    }

    #[test]
    fn summarize_empty_input() {
        assert_eq!(
            q("Resources | where name == 'nope' | summarize count()"),
            vec![json!({"count_": 0})]
        );
        assert_eq!(
            count("Resources | where name == 'nope' | summarize count() by type"),
            0
        );
    }

    #[test]
    fn count_take_limit() {
        assert_eq!(
            q("Resources | where location == 'westeurope' | count"),
            vec![json!({"Count": 5})]
        );
        assert_eq!(
            q("Resources | where location == 'mars' | count"),
            vec![json!({"Count": 0})]
        );
        assert_eq!(count("Resources | take 3"), 3);
        assert_eq!(count("Resources | limit 0"), 0);
        assert_eq!(count("Resources | take 100"), 8);
    }

    #[test]
    fn order_and_sort() {
        assert_eq!(names("Resources | order by name | take 1"), ["stshopweu"]);
        assert_eq!(
            names("Resources | sort by name asc | take 1"),
            ["app-admin-weu"]
        );
        assert_eq!(
            names(
                "Resources | where type =~ 'microsoft.web/sites' | order by location asc, name desc"
            ),
            ["app-shop-neu", "app-shop-weu", "app-admin-weu"]
        );
        let instances = |query: &str| q(query).iter().map(|r| r["i"].clone()).collect::<Vec<_>>();
        let base = "Resources | project name, i = properties.instances | ";
        assert_eq!(
            instances(&format!("{base} order by i asc"))[..4],
            [Value::Null, Value::Null, Value::Null, Value::Null]
        );
        assert_eq!(
            instances(&format!("{base} order by i desc"))[..4],
            [json!(3), json!(1), json!(0), Value::Null]
        );
        assert_eq!(
            instances(&format!("{base} order by i asc nulls last"))[..4],
            [json!(0), json!(1), json!(3), Value::Null]
        );
        assert_eq!(
            instances(&format!("{base} order by i desc nulls first"))[5..],
            [json!(3), json!(1), json!(0)]
        );
    }

    #[test]
    fn top_n() {
        assert_eq!(
            names("Resources | top 2 by name asc"),
            ["app-admin-weu", "app-shop-neu"]
        );
        assert_eq!(
            names("Resources | top 1 by properties.instances"),
            ["app-shop-weu"]
        );
        assert_eq!(
            names(
                "Resources | top 1 by todatetime(properties.geoReplicationStats.lastSyncTime) desc"
            ),
            ["stshopweu"]
        );
    }

    #[test]
    fn distinct_rows() {
        assert_eq!(count("Resources | distinct location"), 2);
        assert_eq!(count("Resources | distinct location, type"), 7);
        assert_eq!(count("Resources | distinct *"), 8);
        assert_eq!(count("Resources | project location | distinct *"), 2);
        assert_eq!(
            q("Resources | where name == 'fog-shop' | distinct name"),
            vec![json!({"name": "fog-shop"})]
        );
    }

    #[test]
    fn mv_expand_arrays_and_objects() {
        let rows = q(
            "Resources | where name == 'cosmos-shop' | mv-expand properties.readLocations \
                      | project r = properties_readLocations.locationName",
        );
        assert_eq!(
            rows,
            vec![json!({"r": "West Europe"}), json!({"r": "North Europe"})]
        );
        assert_eq!(
            count(
                "Resources | where name == 'cosmos-shop' | mv-expand loc = properties.readLocations limit 1"
            ),
            1
        );
        assert_eq!(
            count("Resources | mv-expand p = properties.partnerServers"),
            2 + 6
        );
        let rows =
            q("Resources | where name == 'app-shop-neu' | mv-expand tag = tags | project tag");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], json!({"tag": {"app": "shop"}}));
        assert_eq!(count("Resources | mv-expand e = dynamic([]) "), 0);
    }
}
