//! Azure Resource Graph: every resource as an ARG row (type lower-cased, resource group and
//! subscription split out, last known state even for resources whose region is down), the
//! subscriptions and resource groups as `ResourceContainers` rows, queried with the simulator's
//! KQL and paged as Resource Graph pages.

use serde_json::{Map, Value, json};

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
    use rayon::prelude::*;
    // Every resource is rendered into a row of its own: on all cores (a 10,000-resource
    // estate costs some 150 ms on one), in the map's order.
    st.resources
        .par_iter()
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
            // Moved out of the rendered copy into the row, not copied again (`json!` would
            // serialise every value into a new one): this runs for every resource.
            let mut field = |k: &str| v.as_object_mut().and_then(|o| o.remove(k));
            let location = field("location")
                .as_ref()
                .and_then(Value::as_str)
                // Resource Graph keeps the normalised name: `westeurope` where a GET may
                // answer `West Europe` (Cosmos DB) or `Global` (Front Door).
                .map_or(Value::Null, |l| Value::String(normalize_region(l)));
            let mut row = Map::new();
            let text = |s: &str| Value::String(s.to_string());
            row.insert("id".into(), text(&r.id));
            row.insert("name".into(), text(rid.name()));
            row.insert("type".into(), Value::String(type_name));
            row.insert("tenantId".into(), text(TENANT));
            row.insert("kind".into(), field("kind").unwrap_or_else(|| text("")));
            row.insert("location".into(), location);
            row.insert(
                "resourceGroup".into(),
                text(rid.resource_group.as_deref().unwrap_or_default()),
            );
            row.insert("subscriptionId".into(), text(&rid.subscription));
            row.insert(
                "managedBy".into(),
                field("managedBy").unwrap_or_else(|| text("")),
            );
            for k in [
                "sku",
                "plan",
                "tags",
                "properties",
                "identity",
                "zones",
                "extendedLocation",
            ] {
                row.insert(k.into(), field(k).unwrap_or(Value::Null));
            }
            Some(Value::Object(row))
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

/// `POST /providers/Microsoft.ResourceGraph/resources`, evaluating the query for every page
/// (no cache): what a caller holding the state read-only gets. The server answers through
/// [`query_cached`].
pub fn query(st: &SimState, body: Option<&Value>) -> Reply {
    query_with(st, body, None)
}

/// `POST /providers/Microsoft.ResourceGraph/resources` with the state's page cache: a page after
/// the first costs the rows of that page, not a new evaluation over every row (see
/// [`PageCache`]).
pub fn query_cached(st: &mut SimState, body: Option<&Value>) -> Reply {
    let mut cache = std::mem::take(&mut st.graph_pages);
    let reply = query_with(st, body, Some(&mut cache));
    st.graph_pages = cache;
    reply
}

/// Pages as Resource Graph does: an answer longer than `options.$top` (at most 1000) is cut,
/// with a `$skipToken` to read on when the result has an `id` column, and with only
/// `resultTruncated: "true"` when it has not (Resource Graph can page only by `id`).
fn query_with(st: &SimState, body: Option<&Value>, cache: Option<&mut PageCache>) -> Reply {
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
    let mut entry_of_token = None;
    if let Some(token) = option("$skipToken") {
        match token.as_str().and_then(read_token) {
            Some((offset, entry)) => {
                skip = offset;
                entry_of_token = entry;
            }
            None => return bad_body("`options.$skipToken` is not a token this query gave"),
        }
    }
    let key = Key {
        query: q.to_string(),
        subscriptions: subs.clone(),
        generation: st.generation,
    };
    let mut cache = cache;
    let cached = match (&mut cache, entry_of_token) {
        (Some(c), Some(id)) => c.take(id, &key, skip),
        _ => None,
    };
    let mut answer = match cached {
        Some(a) => a,
        None => {
            let tables = |name: &str| match name {
                "resources" | "cdnresources" => Some(rows(st, &subs, name)),
                "resourcecontainers" => Some(containers(st, &subs)),
                _ => None,
            };
            match super::kql::run_tables(q, &tables) {
                Ok(a) => Cached {
                    id: cache.as_mut().map_or(0, |c| c.new_id()),
                    key,
                    columns: a.columns,
                    rows: a.rows,
                    served: 0,
                },
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
            }
        }
    };
    let total = answer.rows.len();
    let end = skip.saturating_add(top).min(total);
    let more = end < total;
    let pageable = answer.columns.iter().any(|c| c == "id");
    // The page's rows are moved out of the answer, not copied: pages are read in order, and a
    // page asked for again (a retry) is evaluated again (`PageCache::take`).
    let data: Vec<Value> = answer
        .rows
        .get_mut(skip.min(total)..end)
        .unwrap_or_default()
        .iter_mut()
        .map(Value::take)
        .collect();
    answer.served = answer.served.max(end);
    let table = option("resultFormat")
        .and_then(Value::as_str)
        .is_some_and(|f| f.eq_ignore_ascii_case("table"));
    let count = data.len();
    let data = if table {
        as_table(&answer.columns, &data)
    } else {
        Value::Array(data)
    };
    // Built by moving `data` in: `json!` would serialise the page into a copy of itself.
    let mut out = json!({
        "totalRecords": total,
        "count": count,
        "facets": [],
        "resultTruncated": if more && !pageable { "true" } else { "false" },
    });
    out["data"] = data;
    if more && pageable {
        let entry = cache.map(|c| {
            let id = answer.id;
            c.put(answer);
            id
        });
        out["$skipToken"] = json!(make_token(end, entry));
    }
    Reply::json(200, out)
}

/// What a cached answer was evaluated from: the query, its subscriptions and the state's
/// generation ([`SimState::generation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    query: String,
    subscriptions: Vec<String>,
    generation: u64,
}

#[derive(Debug)]
struct Cached {
    id: u64,
    key: Key,
    columns: Vec<String>,
    rows: Vec<Value>,
    /// The rows before this offset have been served (moved out of `rows`).
    served: usize,
}

/// The evaluated answers of the queries being paged, so that a page after the first costs its
/// own rows (O(page)) rather than a new evaluation over every row.
///
/// Azure's Resource Graph keeps no snapshot of a paged query: each page is evaluated again, so
/// a resource created or deleted between two page requests shifts the rows after it, and the
/// caller sees a duplicate or misses one ("Pagination limitations scenario: pagination in
/// dynamic environments", learn.microsoft.com/azure/governance/resource-graph/concepts/
/// paging-results). The simulator answers the same: an answer is reused only while the state
/// is the one it was evaluated from (the same [`SimState::generation`], the same query and
/// subscriptions). After any change the next page is evaluated again over the current state
/// and cut at the token's offset, exactly as without the cache. A token whose answer was
/// evicted, or that another query gave, is read the same way; a token the simulator never gave
/// is the 400 it always was.
///
/// A page is moved out of the answer as it is served, so a page asked for again (a client's
/// retry after a lost answer) is evaluated again, like any page without its cached answer.
/// At most [`PageCache::CAPACITY`] answers are kept, the least recently paged evicted first;
/// an answer whose last page has been served is dropped.
#[derive(Debug, Default)]
pub struct PageCache {
    next_id: u64,
    entries: std::collections::VecDeque<Cached>,
}

impl PageCache {
    /// Answers kept at most (each holds its whole result: 10,000 rows of a large estate).
    pub const CAPACITY: usize = 4;

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Removes and returns the answer `id` if it was evaluated from `key` and still holds the
    /// rows from `offset` on; otherwise it is dropped (the next page is evaluated afresh).
    fn take(&mut self, id: u64, key: &Key, offset: usize) -> Option<Cached> {
        let at = self.entries.iter().position(|e| e.id == id)?;
        let entry = self.entries.remove(at)?;
        (entry.key == *key && offset >= entry.served).then_some(entry)
    }

    /// Keeps `answer` as the most recently paged, evicting the least recently paged beyond
    /// the capacity.
    fn put(&mut self, answer: Cached) {
        while self.entries.len() >= Self::CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(answer);
    }
}

/// An opaque `$skipToken` for the rows from `offset` on, naming the cached answer they come
/// from when there is one.
fn make_token(offset: usize, entry: Option<u64>) -> String {
    use base64::Engine;
    let raw = match entry {
        Some(id) => format!("drbook-sim:{offset}:{id}"),
        None => format!("drbook-sim:{offset}"),
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// The offset and the cached answer's id of a token this simulator gave.
fn read_token(token: &str) -> Option<(usize, Option<u64>)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let rest = raw.strip_prefix("drbook-sim:")?;
    match rest.split_once(':') {
        Some((offset, id)) => Some((offset.parse().ok()?, Some(id.parse().ok()?))),
        None => Some((rest.parse().ok()?, None)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Body;
    use crate::scenario::Scenario;
    use chrono::Utc;

    const SUB: &str = "00000000-0000-4000-8000-00000000000a";

    fn site(i: usize) -> String {
        format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app-{i:03}")
    }

    fn state(n: usize) -> SimState {
        let mut sc = format!(
            "[scenario]\nid = \"paging\"\ntitle = \"paging\"\n\n[[subscription]]\nid = \"{SUB}\"\nname = \"p\"\n\n"
        );
        for i in 0..n {
            sc.push_str(&format!(
                "[[resource]]\nid = \"{}\"\nlocation = \"westeurope\"\n\n",
                site(i)
            ));
        }
        SimState::new(
            &Scenario::parse("paging.toml", &sc).expect("scenario"),
            Utc::now(),
        )
    }

    const Q: &str = "Resources | project id, name";

    /// One page through the server's path (with the cache): (ids, totalRecords, token).
    fn page(st: &mut SimState, token: Option<&str>) -> (Vec<String>, u64, Option<String>) {
        let mut options = json!({ "$top": 10 });
        if let Some(t) = token {
            options["$skipToken"] = json!(t);
        }
        let reply = query_cached(st, Some(&json!({ "query": Q, "options": options })));
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let Body::Json(v) = reply.body else {
            panic!("not JSON")
        };
        let ids = v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_string())
            .collect();
        let token = v["$skipToken"].as_str().map(str::to_string);
        (ids, v["totalRecords"].as_u64().expect("total"), token)
    }

    fn all_pages(st: &mut SimState) -> Vec<String> {
        let (mut ids, _, mut token) = page(st, None);
        while let Some(t) = token {
            let (more, _, next) = page(st, Some(&t));
            ids.extend(more);
            token = next;
        }
        ids
    }

    #[test]
    fn pages_after_the_first_come_from_the_cached_answer() {
        let mut st = state(35);
        let (first, total, token) = page(&mut st, None);
        assert_eq!((first.len(), total), (10, 35));
        assert_eq!(st.graph_pages.len(), 1, "the evaluated answer is kept");
        // A row that appears without the estate being marked changed is not in the pages
        // that follow: they are cut from the answer evaluated for the first page, not
        // evaluated again.
        let sneaked = site(999);
        let sc = Scenario::parse(
            "x.toml",
            &format!(
                "[scenario]\nid = \"x\"\ntitle = \"x\"\n\n[[resource]]\nid = \"{sneaked}\"\nlocation = \"westeurope\"\n"
            ),
        )
        .expect("scenario");
        let extra = SimState::new(&sc, Utc::now());
        st.resources.extend(extra.resources);
        let (second, total, token) = page(&mut st, token.as_deref());
        assert_eq!(total, 35, "the first page's answer");
        assert_eq!(second, (10..20).map(site).collect::<Vec<_>>());
        // Once marked changed, the next page is evaluated over the current state.
        st.changed();
        let (third, total, _) = page(&mut st, token.as_deref());
        assert_eq!(total, 36);
        assert_eq!(third, (20..30).map(site).collect::<Vec<_>>());
    }

    #[test]
    fn every_row_once_and_the_cache_is_emptied_by_the_last_page() {
        let mut st = state(35);
        let uncached = {
            let reply = query(&st, Some(&json!({ "query": Q })));
            let Body::Json(v) = reply.body else {
                panic!("not JSON")
            };
            v["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_string())
                .collect::<Vec<_>>()
        };
        let paged = all_pages(&mut st);
        assert_eq!(paged, uncached);
        assert_eq!(paged.len(), 35);
        assert!(st.graph_pages.is_empty(), "nothing left to page");
    }

    /// Azure evaluates each page again, so a resource deleted between two pages shifts the
    /// rows after it: one is missed (learn.microsoft.com, Resource Graph "Guidance for
    /// pagination", dynamic environments). The simulator answers the same, cache or not.
    #[test]
    fn a_deletion_between_pages_shifts_the_rows_as_in_azure() {
        let mut st = state(30);
        let (_, _, token) = page(&mut st, None);
        let req = crate::arm::Req {
            method: "DELETE",
            path: &site(3),
            body: b"",
            api_version: "2023-12-01",
            query: &[],
            base: "http://127.0.0.1:1",
            elapsed: std::time::Duration::ZERO,
        };
        let before = st.generation;
        let reply = crate::arm::dispatch(&mut st, &req);
        assert!(reply.status < 300, "deleted: {:?}", reply.body);
        assert_ne!(st.generation, before, "a write marks the estate changed");
        let (second, total, _) = page(&mut st, token.as_deref());
        assert_eq!(total, 29);
        // Row 10 moved to offset 9, on the page already read: missed, as Azure misses it.
        assert_eq!(second, (11..21).map(site).collect::<Vec<_>>());
    }

    #[test]
    fn the_cache_is_bounded_and_an_evicted_token_still_reads_on() {
        let mut st = state(25);
        let (_, _, first_token) = page(&mut st, None);
        let first_token = first_token.expect("more pages");
        // More paged queries than the cache keeps: the oldest is evicted.
        for i in 0..PageCache::CAPACITY + 2 {
            let body =
                json!({ "query": format!("{Q} | where name != 'x{i}'"), "options": { "$top": 5 } });
            assert_eq!(query_cached(&mut st, Some(&body)).status, 200);
        }
        assert_eq!(st.graph_pages.len(), PageCache::CAPACITY);
        let (second, total, _) = page(&mut st, Some(&first_token));
        assert_eq!(total, 25);
        assert_eq!(second, (10..20).map(site).collect::<Vec<_>>());
        // A token the simulator never gave is still the 400 it was.
        let body = json!({ "query": Q, "options": { "$skipToken": "bm90LWEtdG9rZW4=" } });
        let reply = query_cached(&mut st, Some(&body));
        assert_eq!(reply.status, 400);
        let Body::Json(v) = reply.body else {
            panic!("not JSON")
        };
        assert!(
            v.to_string().contains("is not a token this query gave"),
            "{v}"
        );
    }

    #[test]
    fn a_page_asked_for_again_answers_the_same_rows() {
        let mut st = state(35);
        let (_, _, token) = page(&mut st, None);
        let (second, _, next) = page(&mut st, token.as_deref());
        // The same token again (the answer was lost): its rows were served, so it is
        // evaluated afresh, with the same rows and a token that reads on.
        let (again, total, again_next) = page(&mut st, token.as_deref());
        assert_eq!(again, second);
        assert_eq!(total, 35);
        assert_eq!(again, (10..20).map(site).collect::<Vec<_>>());
        for t in [next, again_next] {
            let (third, _, _) = page(&mut st, t.as_deref());
            assert_eq!(third, (20..30).map(site).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_token_of_another_query_is_not_answered_from_its_cache() {
        let mut st = state(25);
        let (_, _, token) = page(&mut st, None);
        let body = json!({ "query": "Resources | where name != 'app-000' | project id", "options": { "$top": 10, "$skipToken": token } });
        let reply = query_cached(&mut st, Some(&body));
        let Body::Json(v) = reply.body else {
            panic!("not JSON")
        };
        assert_eq!(v["totalRecords"], 24, "evaluated for its own query: {v}");
        assert_eq!(v["data"][0]["id"], site(11));
    }
}
