//! Azure Resource Graph: every resource as an ARG row (type lower-cased, resource group and
//! subscription split out, last known state even for resources whose region is down), queried
//! with the simulator's KQL subset.

use serde_json::{Value, json};

use super::armid::ResourceId;
use super::reply::{Reply, bad_body};
use super::state::{SimState, TENANT};

/// The rows ARG holds for the state, limited to `subscriptions` when any are given.
pub fn rows(st: &SimState, subscriptions: &[String]) -> Vec<Value> {
    st.resources
        .values()
        .filter_map(|r| {
            let rid = ResourceId::parse(&r.id)?;
            if !subscriptions.is_empty()
                && !subscriptions
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&rid.subscription))
            {
                return None;
            }
            let v = st.rendered(r);
            let field = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
            Some(json!({
                "id": r.id,
                "name": rid.name(),
                "type": rid.type_name().to_ascii_lowercase(),
                "tenantId": TENANT,
                "kind": v.get("kind").cloned().unwrap_or(json!("")),
                "location": field("location"),
                "resourceGroup": rid.resource_group.clone().unwrap_or_default(),
                "subscriptionId": rid.subscription,
                "sku": field("sku"),
                "tags": field("tags"),
                "properties": field("properties"),
            }))
        })
        .collect()
}

/// `POST /providers/Microsoft.ResourceGraph/resources`.
pub fn query(st: &SimState, body: Option<&Value>) -> Reply {
    let Some(body) = body else {
        return bad_body("the body must hold `query`");
    };
    let Some(q) = body.get("query").and_then(Value::as_str) else {
        return bad_body("the body must hold `query` (a string)");
    };
    let subs: Vec<String> = body
        .get("subscriptions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let data = match super::kql::run(q, &rows(st, &subs)) {
        Ok(d) => d,
        Err(e) => {
            return Reply::json(
                400,
                json!({ "error": {
                    "code": "BadRequest",
                    "message": "Please provide below info when asking for support: timestamp = \
                                (simulated), correlationId = 00000000-0000-0000-0000-000000000000.",
                    "details": [{ "code": "InvalidQuery", "message": e.to_string() }],
                }}),
            );
        }
    };
    let options = body.get("options");
    let top = options
        .and_then(|o| o.get("$top"))
        .and_then(Value::as_u64)
        .map(|t| t as usize);
    let total = data.len();
    let (data, truncated) = match top {
        Some(t) if t < total => (data.into_iter().take(t).collect::<Vec<_>>(), true),
        _ => (data, false),
    };
    let table = options
        .and_then(|o| o.get("resultFormat"))
        .and_then(Value::as_str)
        .is_some_and(|f| f.eq_ignore_ascii_case("table"));
    let count = data.len();
    let data = if table {
        as_table(&data)
    } else {
        Value::Array(data)
    };
    Reply::json(
        200,
        json!({
            "totalRecords": total,
            "count": count,
            "data": data,
            "facets": [],
            "resultTruncated": if truncated { "true" } else { "false" },
        }),
    )
}

/// The older `table` result format: columns from the first row's fields, rows as arrays.
fn as_table(rows: &[Value]) -> Value {
    let names: Vec<String> = rows
        .first()
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let kind = |v: &Value| match v {
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "real",
        Value::Bool(_) => "boolean",
        _ => "object",
    };
    let columns: Vec<Value> = names
        .iter()
        .map(|n| {
            let t = rows.first().and_then(|r| r.get(n)).map_or("object", kind);
            json!({ "name": n, "type": t })
        })
        .collect();
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Array(
                names
                    .iter()
                    .map(|n| r.get(n).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    json!({ "columns": columns, "rows": out })
}
