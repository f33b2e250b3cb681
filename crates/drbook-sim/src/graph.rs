//! Azure Resource Graph: every resource as an ARG row (type lower-cased, resource group and
//! subscription split out, last known state even for resources whose region is down), the
//! subscriptions and resource groups as `ResourceContainers` rows, queried with the simulator's
//! KQL and paged as Resource Graph pages.

use serde_json::{Value, json};

use super::armid::{ResourceId, normalize_region};
use super::reply::{Reply, bad_body};
use super::state::{SimState, TENANT};

/// Traffic Manager endpoints are not resources of their own in Resource Graph: they are the
/// profile's `properties.endpoints` (Profile-GET-WithEndpoints in the Traffic Manager spec).
const TM_PROFILE: &str = "microsoft.network/trafficmanagerprofiles";

fn is_tm_endpoint(type_name: &str) -> bool {
    type_name
        .strip_prefix(TM_PROFILE)
        .and_then(|t| t.strip_prefix('/'))
        .is_some_and(|t| t.ends_with("endpoints") && !t.contains('/'))
}

/// Child types Resource Graph's `Resources` table does not hold (its table reference,
/// `supported-tables-resources`, lists their parents and not them): SQL failover groups,
/// Service Bus geo-DR configs, queues and topics, federated identity credentials, and
/// deployments. Reading them takes a GET.
const NOT_IN_RESOURCES: &[&str] = &[
    "microsoft.sql/servers/failovergroups",
    "microsoft.servicebus/namespaces/disasterrecoveryconfigs",
    "microsoft.servicebus/namespaces/queues",
    "microsoft.servicebus/namespaces/topics",
    "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials",
    "microsoft.resources/deployments",
];

/// DNS record sets are in Resource Graph's `dnsresources` table; of them, its reference lists
/// only A and CNAME record sets in `Resources` too.
fn is_unlisted_dns_record_set(type_name: &str) -> bool {
    type_name
        .strip_prefix("microsoft.network/dnszones/")
        .is_some_and(|t| !t.contains('/') && t != "a" && t != "cname")
}

/// Front Door (Standard/Premium) origin groups and origins are in the `cdnresources` table
/// (as the Azure Proactive Resiliency Library's Front Door queries read them).
fn is_cdn_child(type_name: &str) -> bool {
    type_name.starts_with("microsoft.cdn/profiles/origingroups")
}

/// The Resource Graph table that holds resources of `type_name`, if the simulator serves it.
fn table_of(type_name: &str) -> Option<&'static str> {
    if is_cdn_child(type_name) {
        Some("cdnresources")
    } else if is_tm_endpoint(type_name)
        || is_unlisted_dns_record_set(type_name)
        || NOT_IN_RESOURCES.contains(&type_name)
    {
        None
    } else {
        Some("resources")
    }
}

/// The rows ARG holds for the state in `table` (`resources` or `cdnresources`), limited to
/// `subscriptions` when any are given.
pub fn rows(st: &SimState, subscriptions: &[String], table: &str) -> Vec<Value> {
    st.resources
        .iter()
        .filter_map(|(key, r)| {
            let rid = ResourceId::parse(&r.id)?;
            if !subscriptions.is_empty()
                && !subscriptions
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&rid.subscription))
            {
                return None;
            }
            let type_name = rid.type_name().to_ascii_lowercase();
            if table_of(&type_name) != Some(table) {
                return None;
            }
            let mut v = st.rendered(r);
            if type_name == TM_PROFILE {
                let endpoints = tm_endpoints(st, key);
                if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
                    props.insert("endpoints".into(), Value::Array(endpoints));
                }
            }
            let field = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
            Some(json!({
                "id": r.id,
                "name": rid.name(),
                "type": type_name,
                "tenantId": TENANT,
                "kind": v.get("kind").cloned().unwrap_or(json!("")),
                // Resource Graph keeps the normalised name: `westeurope` where a GET may
                // answer `West Europe` (Cosmos DB) or `Global` (Front Door).
                "location": v.get("location").and_then(Value::as_str).map_or(Value::Null, |l| json!(normalize_region(l))),
                "resourceGroup": rid.resource_group.clone().unwrap_or_default(),
                "subscriptionId": rid.subscription,
                "managedBy": v.get("managedBy").cloned().unwrap_or(json!("")),
                "sku": field("sku"),
                "plan": field("plan"),
                "tags": field("tags"),
                "properties": field("properties"),
                "identity": field("identity"),
                "zones": field("zones"),
                "extendedLocation": field("extendedLocation"),
            }))
        })
        .collect()
}

/// The endpoints of the profile keyed `profile`, in their current state, as the profile lists
/// them: id, name, ARM type and properties.
fn tm_endpoints(st: &SimState, profile: &str) -> Vec<Value> {
    let prefix = format!("{profile}/");
    st.resources
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(_, r)| {
            let rid = ResourceId::parse(&r.id)?;
            if !is_tm_endpoint(&rid.type_name().to_ascii_lowercase()) {
                return None;
            }
            let v = st.rendered(r);
            Some(json!({
                "id": r.id,
                "name": rid.name(),
                "type": rid.type_name(),
                "properties": v.get("properties").cloned().unwrap_or(Value::Null),
            }))
        })
        .collect()
}

/// The `ResourceContainers` table: the subscriptions, then their resource groups, limited to
/// `subscriptions` when any are given. Shapes as Resource Graph returns them: a subscription's
/// `name` is its display name and its `properties` hold `state`, `subscriptionPolicies` and
/// `managementGroupAncestorsChain`; a resource group has a `location` and a provisioning state.
pub fn containers(st: &SimState, subscriptions: &[String]) -> Vec<Value> {
    let wanted = |sub: &str| {
        subscriptions.is_empty() || subscriptions.iter().any(|s| s.eq_ignore_ascii_case(sub))
    };
    let mut subs: Vec<(String, String)> = st.subscriptions.clone();
    for g in st.groups.values() {
        if !subs
            .iter()
            .any(|(id, _)| id.eq_ignore_ascii_case(&g.subscription))
        {
            subs.push((g.subscription.clone(), g.subscription.clone()));
        }
    }
    let container = |id: String, name: &str, kind: &str, location: &str, rg: &str, sub: &str| {
        json!({
            "id": id,
            "name": name,
            "type": kind,
            "tenantId": TENANT,
            "kind": "",
            "location": location,
            "resourceGroup": rg,
            "subscriptionId": sub,
            "managedBy": "",
            "sku": null,
            "plan": null,
            "tags": {},
            "identity": null,
            "zones": null,
            "extendedLocation": null,
        })
    };
    let mut rows = Vec::new();
    for (id, name) in subs.iter().filter(|(id, _)| wanted(id)) {
        let mut row = container(
            format!("/subscriptions/{id}"),
            name,
            "microsoft.resources/subscriptions",
            "",
            "",
            id,
        );
        row["properties"] = json!({
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "EnterpriseAgreement_2014-09-01",
                "spendingLimit": "Off",
            },
            // Placed directly under the tenant root group.
            "managementGroupAncestorsChain": [
                { "displayName": "Tenant Root Group", "name": TENANT },
            ],
        });
        rows.push(row);
    }
    for g in st.groups.values().filter(|g| wanted(&g.subscription)) {
        let mut row = container(
            format!(
                "/subscriptions/{}/resourceGroups/{}",
                g.subscription, g.name
            ),
            &g.name,
            "microsoft.resources/subscriptions/resourcegroups",
            &g.location,
            &g.name,
            &g.subscription,
        );
        row["properties"] = json!({ "provisioningState": "Succeeded" });
        rows.push(row);
    }
    rows
}

/// Rows per page when the request names no `$top`, and the most a page holds.
const PAGE: usize = 1000;

/// `POST /providers/Microsoft.ResourceGraph/resources`.
///
/// Pages as Resource Graph does: an answer longer than `options.$top` (at most 1000) is cut,
/// with a `$skipToken` to read on when the result has an `id` column, and with only
/// `resultTruncated: "true"` when it has not (Resource Graph can page only by `id`).
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
    let options = body.get("options");
    let option = |name: &str| options.and_then(|o| o.get(name));
    // The REST API's bounds for `$top`: 1 to 1000.
    let top = match option("$top").map(|t| t.as_u64().filter(|t| (1..=PAGE as u64).contains(t))) {
        None => PAGE,
        Some(Some(t)) => t as usize,
        Some(None) => return bad_body("`options.$top` must be a whole number from 1 to 1000"),
    };
    let mut skip = match option("$skip").map(Value::as_u64) {
        None => 0,
        Some(Some(s)) => usize::try_from(s).unwrap_or(usize::MAX),
        Some(None) => return bad_body("`options.$skip` must be a whole number"),
    };
    if let Some(token) = option("$skipToken") {
        match token.as_str().and_then(read_token) {
            Some(offset) => skip = offset,
            None => return bad_body("`options.$skipToken` is not a token this query gave"),
        }
    }
    let tables = |name: &str| match name {
        "resources" | "cdnresources" => Some(rows(st, &subs, name)),
        "resourcecontainers" => Some(containers(st, &subs)),
        _ => None,
    };
    let answer = match super::kql::run_tables(q, &tables) {
        Ok(a) => a,
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
    let total = answer.rows.len();
    let end = skip.saturating_add(top).min(total);
    let more = end < total;
    let pageable = answer.columns.iter().any(|c| c == "id");
    let data: Vec<Value> = answer
        .rows
        .into_iter()
        .skip(skip)
        .take(end.saturating_sub(skip))
        .collect();
    let table = option("resultFormat")
        .and_then(Value::as_str)
        .is_some_and(|f| f.eq_ignore_ascii_case("table"));
    let count = data.len();
    let data = if table {
        as_table(&answer.columns, &data)
    } else {
        Value::Array(data)
    };
    let mut out = json!({
        "totalRecords": total,
        "count": count,
        "data": data,
        "facets": [],
        "resultTruncated": if more && !pageable { "true" } else { "false" },
    });
    if more && pageable {
        out["$skipToken"] = json!(make_token(end));
    }
    Reply::json(200, out)
}

/// An opaque `$skipToken` for the rows from `offset` on.
fn make_token(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("drbook-sim:{offset}"))
}

fn read_token(token: &str) -> Option<usize> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("drbook-sim:")?
        .parse()
        .ok()
}

/// The older `table` result format: the result's columns, typed by their first non-null value,
/// and rows as arrays.
fn as_table(names: &[String], rows: &[Value]) -> Value {
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
            let t = rows
                .iter()
                .filter_map(|r| r.get(n))
                .find(|v| !v.is_null())
                .map_or("object", kind);
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
