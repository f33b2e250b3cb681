//! The column check: references to columns that cannot exist are refused before evaluation.

use super::*;

pub(super) fn initial_schema(rows: &[Row]) -> Vec<String> {
    let mut schema: Vec<String> = ARG_COLUMNS.iter().map(|c| c.to_string()).collect();
    for key in rows.iter().flat_map(Map::keys) {
        if !schema.contains(key) {
            schema.push(key.clone());
        }
    }
    schema
}

/// Rejects references to columns that cannot exist at that point of the pipeline, and works out
/// the columns of each join's output. Returns the query's output columns.
pub(super) fn check_query(
    query: &mut Query,
    schemas: &HashMap<&str, Vec<String>>,
) -> Result<Vec<String>> {
    let schema = match &mut query.source {
        Source::Table(name) => schemas.get(name.as_str()).cloned().unwrap_or_default(),
        Source::Union(items) => union_schema(Vec::new(), items, schemas)?,
    };
    check_columns(&mut query.ops, schema, schemas)
}

/// `union`'s columns: every column of every side, in order of appearance.
pub(super) fn union_schema(
    mut schema: Vec<String>,
    items: &mut [Query],
    schemas: &HashMap<&str, Vec<String>>,
) -> Result<Vec<String>> {
    for item in items {
        for column in check_query(item, schemas)? {
            if !schema.contains(&column) {
                schema.push(column);
            }
        }
    }
    Ok(schema)
}

pub(super) fn check_columns(
    ops: &mut [Op],
    mut schema: Vec<String>,
    schemas: &HashMap<&str, Vec<String>>,
) -> Result<Vec<String>> {
    for op in ops {
        match op {
            Op::Join {
                right, on, shape, ..
            } => {
                let right_schema = check_query(right, schemas)?;
                for (left, left_pos, right, right_pos) in on.iter() {
                    check_column(left, *left_pos, &schema)?;
                    check_column(right, *right_pos, &right_schema)?;
                }
                *shape = join_shape(&schema, &right_schema);
                schema = shape
                    .left
                    .iter()
                    .chain(shape.right.iter().map(|(_, out)| out))
                    .cloned()
                    .collect();
            }
            Op::Union(items) => schema = union_schema(schema, items, schemas)?,
            Op::Parse { source, cols, .. } => {
                check_expr(source, &schema)?;
                for (name, _) in cols.iter() {
                    if !schema.contains(name) {
                        schema.push(name.clone());
                    }
                }
            }
            Op::Where(expr) => check_expr(expr, &schema)?,
            Op::Project(cols) => {
                check_all(cols, &schema)?;
                schema = cols.iter().map(|(n, _)| n.clone()).collect();
            }
            Op::Extend(cols) | Op::MvExpand { cols, .. } => {
                for (name, expr) in cols {
                    check_expr(expr, &schema)?;
                    if !schema.contains(name) {
                        schema.push(name.clone());
                    }
                }
            }
            Op::ProjectAway(patterns) => {
                for (pattern, pos) in patterns.iter() {
                    if !pattern.contains('*') {
                        check_column(pattern, *pos, &schema)?;
                    }
                }
                schema.retain(|c| !patterns.iter().any(|(p, _)| glob(p, c)));
            }
            Op::ProjectRename(renames) => {
                for (new, old, pos) in renames.iter() {
                    check_column(old, *pos, &schema)?;
                    schema.retain(|c| c != old);
                    schema.push(new.clone());
                }
            }
            Op::Summarize { aggs, by } => {
                check_all(by, &schema)?;
                for arg in aggs.iter().filter_map(|(_, agg)| agg.arg.as_ref()) {
                    check_expr(arg, &schema)?;
                }
                schema = by
                    .iter()
                    .map(|(n, _)| n.clone())
                    .chain(aggs.iter().map(|(n, _)| n.clone()))
                    .collect();
            }
            Op::Count => schema = vec!["Count".to_string()],
            Op::Take(_) | Op::Distinct(None) => {}
            Op::Sort(keys) | Op::Top { keys, .. } => {
                for key in keys {
                    check_expr(&key.expr, &schema)?;
                }
            }
            Op::Distinct(Some(cols)) => {
                check_all(cols, &schema)?;
                schema = cols.iter().map(|(n, _)| n.clone()).collect();
            }
        }
    }
    Ok(schema)
}

/// A join's output columns: the left's, then the right's, a right column whose name is taken
/// getting the first free numbered name (`id` -> `id1`), as Kusto names them.
pub(super) fn join_shape(left: &[String], right: &[String]) -> JoinShape {
    let mut taken: HashSet<String> = left.iter().cloned().collect();
    let mut columns = Vec::new();
    for column in right {
        let name = if taken.contains(column) {
            (1..)
                .map(|n| format!("{column}{n}"))
                .find(|c| !taken.contains(c) && !right.contains(c))
                .unwrap_or_default()
        } else {
            column.clone()
        };
        taken.insert(name.clone());
        columns.push((column.clone(), name));
    }
    JoinShape {
        left: left.to_vec(),
        right: columns,
    }
}

pub(super) fn check_all(items: &[(String, Expr)], schema: &[String]) -> Result<()> {
    items
        .iter()
        .try_for_each(|(_, expr)| check_expr(expr, schema))
}

pub(super) fn check_column(name: &str, pos: usize, schema: &[String]) -> Result<()> {
    if schema.iter().any(|c| c == name) {
        return Ok(());
    }
    let mut hint = did_you_mean(name, schema.iter().map(String::as_str));
    if schema.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        hint.push_str(" (column names are case-sensitive)");
    } else if hint.is_empty() {
        let shown: Vec<&str> = schema.iter().map(String::as_str).take(24).collect();
        hint = format!("; columns here are {}", shown.join(", "));
    }
    Err(parse_err(
        pos,
        format!("unknown column `{name}` at {pos}{hint}"),
    ))
}

pub(super) fn check_expr(expr: &Expr, schema: &[String]) -> Result<()> {
    let all = |exprs: &[Expr]| exprs.iter().try_for_each(|e| check_expr(e, schema));
    match expr {
        Expr::Lit(_) => Ok(()),
        Expr::Col { name, pos } => check_column(name, *pos, schema),
        Expr::Path(base, steps) => {
            check_expr(base, schema)?;
            steps.iter().try_for_each(|step| match step {
                Step::Index(index) => check_expr(index, schema),
                Step::Field(_) => Ok(()),
            })
        }
        Expr::Neg(inner) | Expr::Matches(inner, _) => check_expr(inner, schema),
        Expr::Bin(_, lhs, rhs) => check_expr(lhs, schema).and_then(|()| check_expr(rhs, schema)),
        Expr::In { lhs, list, .. } | Expr::HasAny(lhs, list) => {
            check_expr(lhs, schema).and_then(|()| all(list))
        }
        Expr::Call(_, args) => all(args),
        Expr::Extract { group, source, .. } => {
            check_expr(group, schema).and_then(|()| check_expr(source, schema))
        }
    }
}

/// Matches a column name against a pattern where `*` stands for any run of characters.
pub(super) fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = parts.collect();
    let Some(last) = parts.pop() else {
        return pattern == name;
    };
    for part in parts {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn unknown_columns_are_reported() {
        parse_error(
            "Resources | where resourcegroup == 'x'",
            18,
            &[
                "unknown column `resourcegroup` at 18; did you mean `resourceGroup`? (column names are case-sensitive)",
            ],
        );
        parse_error(
            "Resources | project name | where location == 'x'",
            33,
            &["unknown column `location` at 33"],
        );
        parse_error(
            "Resources | summarize count() by type | project name",
            48,
            &["columns here are type, count_"],
        );
        parse_error(
            "Resources | count | project name",
            28,
            &["unknown column `name`"],
        );
        parse_error(
            "Resources | project-away nmae",
            25,
            &["did you mean `name`?"],
        );
        // Columns created along the pipeline are known.
        assert_eq!(
            count("Resources | extend x = 1 | project-rename y = x | where y == 1"),
            8
        );
    }
}
