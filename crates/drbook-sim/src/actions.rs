//! Resource actions (`POST {id}/{action}`) and long-running operations: starting them
//! (`202 Accepted` with `Azure-AsyncOperation` and `Location`) and what each does to the
//! state when it finishes, `lro_delay` later.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::arm::{Req, down_check, not_found, op_urls, rfc3339_millis};
use super::armid::{self, ResourceId, normalize_region};
use super::faults::{Doomed, doomed};
use super::reply::{Reply, bad_body, region_unavailable};
use super::state::{Effect, OpError, OpStatus, Operation, Res, SimState};

/// `POST {rid}/{action}`.
pub fn action(st: &mut SimState, req: &Req, rid: &ResourceId, action: &str) -> Reply {
    let t = rid.type_name().to_ascii_lowercase();
    let a = action.to_ascii_lowercase();
    if t == "microsoft.logic/workflows/triggers" && a == "run" {
        return run_trigger(st, rid);
    }
    if let Err(r) = down_check(st, rid) {
        return r;
    }
    if st.get(&rid.to_path()).is_none() {
        return not_found(rid);
    }
    match (t.as_str(), a.as_str()) {
        ("microsoft.web/sites" | "microsoft.web/sites/slots", "start" | "stop" | "restart") => {
            let state = if a == "stop" { "Stopped" } else { "Running" };
            set_props(st, rid, &[("state", json!(state))]);
            Reply::empty(200)
        }
        ("microsoft.logic/workflows", "enable" | "disable") => {
            let state = if a == "enable" { "Enabled" } else { "Disabled" };
            set_props(st, rid, &[("state", json!(state))]);
            Reply::empty(200)
        }
        ("microsoft.containerservice/managedclusters", "start" | "stop") => {
            let running = a == "start";
            let during = if running { "Starting" } else { "Stopping" };
            set_props(st, rid, &[("provisioningState", json!(during))]);
            start_lro(st, req, rid, Effect::AksPower { running }, false).only_location()
        }
        ("microsoft.documentdb/databaseaccounts", "failoverprioritychange") => {
            match cosmos_request(st, req, rid) {
                Ok(list) => {
                    set_props(st, rid, &[("provisioningState", json!("Updating"))]);
                    let due = cosmos_change_due(st, req, rid);
                    start_lro_due(st, req, rid, Effect::CosmosPriorities(list), false, due)
                }
                Err(r) => r,
            }
        }
        ("microsoft.documentdb/databaseaccounts", "offlineregion" | "onlineregion") => {
            cosmos_region(st, req, rid, a == "onlineregion")
        }
        (
            "microsoft.sql/servers/failovergroups",
            "failover" | "forcefailoverallowdataloss" | "tryplannedbeforeforcedfailover",
        ) => {
            // tryPlannedBeforeForcedFailover synchronises when the primary answers and forces
            // otherwise, inside one operation: it ends where a forced failover ends, so it
            // never fails for a primary that does not answer.
            let forced = a != "failover";
            if let Some(r) = sql_busy(st, rid, action) {
                return r;
            }
            start_lro(st, req, rid, Effect::SqlFailover { forced }, true).only_location()
        }
        ("microsoft.storage/storageaccounts", "failover") => {
            let planned = req
                .query_value("failoverType")
                .is_some_and(|t| t.eq_ignore_ascii_case("Planned"));
            if let Err(r) = storage_request(st, rid, planned) {
                return r;
            }
            set_props(st, rid, &[("failoverInProgress", json!(true))]);
            start_lro(st, req, rid, Effect::StorageFailover { planned }, false).only_location()
        }
        (
            "microsoft.servicebus/namespaces/disasterrecoveryconfigs"
            | "microsoft.eventhub/namespaces/disasterrecoveryconfigs",
            "failover" | "breakpairing",
        ) => geo_dr_failover(st, req, rid, &a),
        _ => Reply::error(
            400,
            "UnsupportedAction",
            format!(
                "The action '{action}' is not supported for resource type '{}'.",
                rid.type_name()
            ),
        ),
    }
}

/// Sets top-level properties of a resource.
fn set_props(st: &mut SimState, rid: &ResourceId, kv: &[(&str, Value)]) {
    if let Some(p) = st
        .get_mut(&rid.to_path())
        .and_then(|r| r.body.get_mut("properties"))
        .and_then(Value::as_object_mut)
    {
        for (k, v) in kv {
            p.insert((*k).to_string(), v.clone());
        }
    }
}

fn props_mut(res: &mut Res) -> Option<&mut serde_json::Map<String, Value>> {
    if !res.body.get("properties").is_some_and(Value::is_object)
        && let Value::Object(o) = &mut res.body
    {
        o.insert("properties".into(), json!({}));
    }
    res.body
        .get_mut("properties")
        .and_then(Value::as_object_mut)
}

/// `.../workflows/W/triggers/T/run`: 202 when the workflow is enabled (no state to keep).
fn run_trigger(st: &SimState, rid: &ResourceId) -> Reply {
    let Some(wf) = rid.parent() else {
        return not_found(rid);
    };
    if let Err(r) = down_check(st, &wf) {
        return r;
    }
    let Some(res) = st.get(&wf.to_path()) else {
        return not_found(&wf);
    };
    if res
        .body
        .pointer("/properties/state")
        .and_then(Value::as_str)
        == Some("Disabled")
    {
        return Reply::error(
            409,
            "WorkflowDisabled",
            format!("The workflow '{}' is disabled.", wf.name()),
        );
    }
    Reply::empty(202)
}

/// Registers a long-running operation and answers `202 Accepted` with both its URLs; an
/// operation whose spec example answers with `Location` alone drops the other
/// (`Reply::only_location`), so polling goes the way it does in Azure.
fn start_lro(
    st: &mut SimState,
    req: &Req,
    rid: &ResourceId,
    effect: Effect,
    result_body: bool,
) -> Reply {
    start_lro_due(st, req, rid, effect, result_body, None)
}

/// `start_lro`, for an operation that ends `due` after the simulator's start rather than
/// `lro_delay` from now.
fn start_lro_due(
    st: &mut SimState,
    req: &Req,
    rid: &ResourceId,
    effect: Effect,
    result_body: bool,
    due: Option<Duration>,
) -> Reply {
    let (opid, sub, loc) = register(st, req, rid, effect, result_body);
    if let (Some(due), Some(op)) = (due, st.ops.get_mut(&opid)) {
        op.due = due;
    }
    let (async_op, location) = op_urls(req.base, &sub, &loc, &opid, req.api_version);
    Reply::empty(202)
        .header("Azure-AsyncOperation", async_op)
        .header("Location", location)
        .header("Retry-After", "1")
}

pub(super) fn register(
    st: &mut SimState,
    req: &Req,
    rid: &ResourceId,
    effect: Effect,
    result_body: bool,
) -> (String, String, String) {
    let opid = st.new_op_id();
    let res = st.get(&rid.to_path());
    let home = res
        .and_then(|r| r.body.get("location"))
        .and_then(Value::as_str)
        .map(normalize_region)
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "global".into());
    // The operation's status is served from a region that took the request: the resource's
    // location, or, when that is down and the request was still accepted (a multi-region
    // account's control plane), the region the resource answers from.
    let loc = match res.map(|r| normalize_region(&r.region)) {
        Some(serving) if st.is_down(&home) && !st.is_down(&serving) => serving,
        _ => home,
    };
    let op = Operation {
        id: opid.clone(),
        subscription: rid.subscription.clone(),
        location: loc.clone(),
        api_version: req.api_version.to_string(),
        target: armid::key(&rid.to_path()),
        effect,
        result_body,
        started: st.at(req.elapsed),
        due: req.elapsed.saturating_add(st.lro_delay),
        status: OpStatus::InProgress,
        ended: None,
        error: None,
    };
    st.ops.insert(opid.clone(), op);
    (opid, rid.subscription.clone(), loc)
}

/// `PUT .../Microsoft.Resources/deployments/NAME`: 201 with the deployment `Accepted`, then
/// `Running`, `Succeeded` after `lro_delay`.
pub fn put_deployment(st: &mut SimState, req: &Req, rid: &ResourceId) -> Reply {
    let body = match req.json() {
        Ok(Some(b @ Value::Object(_))) => b,
        Ok(_) => return bad_body("the body must be a JSON object with `properties`"),
        Err(r) => return r,
    };
    if let Some(rg) = &rid.resource_group
        && let Some(g) = st
            .groups
            .get(&super::state::group_key(&rid.subscription, rg))
        && st.is_down(&g.location)
    {
        return region_unavailable(&g.location, &format!("deployment '{}'", rid.name()));
    }
    let given = body.get("properties").cloned().unwrap_or(json!({}));
    let now = st.at(req.elapsed);
    let mut props = json!({
        "provisioningState": "Running",
        "mode": given.get("mode").cloned().unwrap_or(json!("Incremental")),
        "timestamp": rfc3339_millis(now),
        "correlationId": format!("{:08x}-0000-4000-8000-{:012x}", st.next_op, st.next_op),
    });
    if let Value::Object(p) = &mut props {
        for k in ["parameters", "templateLink", "parametersLink"] {
            if let Some(v) = given.get(k) {
                p.insert(k.into(), v.clone());
            }
        }
    }
    let mut doc = json!({
        "id": rid.to_path(),
        "name": rid.name(),
        "type": "Microsoft.Resources/deployments",
        "properties": props,
    });
    if let (Some(l), Value::Object(d)) = (body.get("location"), &mut doc) {
        d.insert("location".into(), l.clone());
    }
    let created = st.get(&rid.to_path()).is_none();
    st.resources.insert(
        armid::key(&rid.to_path()),
        Res {
            id: rid.to_path(),
            body: doc.clone(),
            region: "global".into(),
            health: "Available".into(),
            health_since: now,
        },
    );
    let (opid, sub, loc) = register(st, req, rid, Effect::Deployment, true);
    let (async_op, location) = op_urls(req.base, &sub, &loc, &opid, req.api_version);
    if let Some(p) = doc.get_mut("properties").and_then(Value::as_object_mut) {
        p.insert("provisioningState".into(), json!("Accepted"));
    }
    Reply::json(if created { 201 } else { 200 }, doc)
        .header("Azure-AsyncOperation", async_op)
        .header("Location", location)
        .header("Retry-After", "1")
}

/// Checks a failoverPriorityChange body against the account's regions; returns the new
/// priorities with the account's own spelling of each region ("North Europe").
fn cosmos_request(st: &SimState, req: &Req, rid: &ResourceId) -> Result<Vec<(String, i64)>, Reply> {
    let bad = |m: String| Reply::error(400, "BadRequest", m);
    let body = req
        .json()?
        .ok_or_else(|| bad_body("the body must hold `failoverPolicies`"))?;
    let given = body
        .get("failoverPolicies")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_body("the body must hold a `failoverPolicies` list"))?;
    let account = st.get(&rid.to_path()).ok_or_else(|| not_found(rid))?;
    let known = cosmos_regions(&account.body);
    let mut out = Vec::new();
    for p in given {
        let name = p.get("locationName").and_then(Value::as_str).unwrap_or("");
        let prio = p.get("failoverPriority").and_then(Value::as_i64);
        let Some(prio) = prio else {
            return Err(bad(format!(
                "failoverPriority is missing or not a number for '{name}'."
            )));
        };
        let Some(display) = known
            .iter()
            .find(|k| normalize_region(k) == normalize_region(name))
        else {
            return Err(bad(format!(
                "Failover priority change request contains region '{name}', which is not a \
                 region of database account '{}'.",
                rid.name()
            )));
        };
        if out.iter().any(|(d, q)| d == display || *q == prio) {
            return Err(bad(format!(
                "Failover priority change request repeats a region or a priority ('{name}', {prio})."
            )));
        }
        out.push((display.clone(), prio));
    }
    if out.len() != known.len() || !out.iter().any(|(_, p)| *p == 0) {
        return Err(bad(format!(
            "Failover priority change request must list all {} regions of the account with \
             exactly one at priority 0.",
            known.len()
        )));
    }
    out.sort_by_key(|(_, p)| *p);
    Ok(out)
}

/// `offlineRegion` / `onlineRegion` with `{"region": "West Europe"}`: `202 Accepted` with the
/// operation's URLs, as the 2024-08-15 spec examples answer; the account changes when the
/// operation ends. A region that is offline is listed in `locations` and `failoverPolicies`
/// (last) but no longer in `readLocations`, since it serves nothing.
fn cosmos_region(st: &mut SimState, req: &Req, rid: &ResourceId, online: bool) -> Reply {
    let body = match req.json() {
        Ok(Some(b)) => b,
        Ok(None) => return bad_body("the body must hold `region`"),
        Err(r) => return r,
    };
    let Some(name) = body.get("region").and_then(Value::as_str) else {
        return bad_body("the body must hold `region`, the name of a region of the account");
    };
    let Some(account) = st.get(&rid.to_path()) else {
        return not_found(rid);
    };
    let bad = |m: String| Reply::error(400, "BadRequest", m);
    let Some(display) = cosmos_regions(&account.body)
        .into_iter()
        .find(|k| normalize_region(k) == normalize_region(name))
    else {
        return bad(format!(
            "Region '{name}' is not a region of database account '{}'.",
            rid.name()
        ));
    };
    let serving = cosmos_online(&account.body);
    let is_online = serving
        .iter()
        .any(|o| normalize_region(o) == normalize_region(&display));
    if online && is_online {
        return bad(format!(
            "Region '{display}' of database account '{}' is already online.",
            rid.name()
        ));
    }
    if !online && !is_online {
        return bad(format!(
            "Region '{display}' of database account '{}' is already offline.",
            rid.name()
        ));
    }
    if !online && serving.len() < 2 {
        return bad(format!(
            "Region '{display}' is the only online region of database account '{}'; it cannot \
             be taken offline.",
            rid.name()
        ));
    }
    set_props(st, rid, &[("provisioningState", json!("Updating"))]);
    let effect = if online {
        Effect::CosmosOnline(display)
    } else {
        Effect::CosmosOffline(display)
    };
    start_lro(st, req, rid, effect, false)
}

/// The regions of an account that serve (its `readLocations`, else every region).
fn cosmos_online(account: &Value) -> Vec<String> {
    match account
        .pointer("/properties/readLocations")
        .and_then(Value::as_array)
    {
        Some(a) => a
            .iter()
            .filter_map(|x| x.get("locationName").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
        None => cosmos_regions(account),
    }
}

fn cosmos_regions(account: &Value) -> Vec<String> {
    for list in ["failoverPolicies", "locations", "readLocations"] {
        if let Some(a) = account
            .pointer(&format!("/properties/{list}"))
            .and_then(Value::as_array)
        {
            let names: Vec<String> = a
                .iter()
                .filter_map(|x| {
                    x.get("locationName")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect();
            if !names.is_empty() {
                return names;
            }
        }
    }
    Vec::new()
}

/// Service Bus / Event Hubs geo-DR: the config on this namespace becomes
/// `PrimaryNotReplicating` (the pairing is broken). A safe failover needs the partner.
fn geo_dr_failover(st: &mut SimState, req: &Req, rid: &ResourceId, action: &str) -> Reply {
    let body = match req.json() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let safe = body
        .as_ref()
        .and_then(|b| b.get("properties"))
        .and_then(Value::as_object)
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("isSafeFailover"))
        })
        .and_then(|(_, v)| v.as_bool())
        .unwrap_or(false);
    let partner_down = st
        .get(&rid.to_path())
        .and_then(|r| r.body.pointer("/properties/partnerNamespace"))
        .and_then(Value::as_str)
        .and_then(|p| st.get(p))
        .filter(|p| st.is_down(&p.region))
        .map(|p| p.id.clone());
    if action == "failover"
        && safe
        && let Some(p) = partner_down
    {
        return Reply::error(
            400,
            "BadRequest",
            format!(
                "Safe failover cannot complete: the primary namespace '{p}' does not answer, so \
                 pending replication cannot drain."
            ),
        );
    }
    set_props(
        st,
        rid,
        &[
            ("role", json!("PrimaryNotReplicating")),
            ("partnerNamespace", json!("")),
            ("provisioningState", json!("Succeeded")),
            ("pendingReplicationOperationsCount", json!(0)),
        ],
    );
    Reply::empty(200)
}

/// Finishes a due operation: applies its effect, or records why it failed.
pub fn complete(st: &mut SimState, opid: &str, when: DateTime<Utc>) {
    let Some(op) = st.ops.get(opid).cloned() else {
        return;
    };
    let result = match &op.effect {
        Effect::AksPower { running } => aks_done(st, &op.target, *running),
        Effect::CosmosPriorities(list) => cosmos_done(st, &op.target, list),
        Effect::CosmosOffline(region) => cosmos_region_done(st, &op.target, region, false),
        Effect::CosmosOnline(region) => cosmos_region_done(st, &op.target, region, true),
        Effect::SqlFailover { forced } => sql_done(st, &op.target, *forced),
        Effect::StorageFailover { planned } => storage_done(st, &op.target, *planned, when),
        Effect::Deployment => deployment_done(st, &op.target, op.started, when),
        Effect::AsyncWrite => {
            super::arm::async_write_done(st, &op.target).ok_or_else(|| gone(&op.target))
        }
    };
    if let Some(o) = st.ops.get_mut(opid) {
        o.ended = Some(when);
        match result {
            Ok(()) => o.status = OpStatus::Succeeded,
            Err(e) => {
                o.status = OpStatus::Failed;
                o.error = Some(e);
            }
        }
    }
}

fn gone(target: &str) -> OpError {
    OpError {
        status: 404,
        code: "ResourceNotFound".into(),
        message: format!("The resource '{target}' was deleted while the operation ran."),
    }
}

fn aks_done(st: &mut SimState, target: &str, running: bool) -> Result<(), OpError> {
    let res = st.resources.get_mut(target).ok_or_else(|| gone(target))?;
    let code = if running { "Running" } else { "Stopped" };
    let p = props_mut(res).ok_or_else(|| gone(target))?;
    p.insert("powerState".into(), json!({ "code": code }));
    p.insert("provisioningState".into(), json!("Succeeded"));
    if let Some(pools) = p.get_mut("agentPoolProfiles").and_then(Value::as_array_mut) {
        for pool in pools.iter_mut().filter_map(Value::as_object_mut) {
            pool.insert("powerState".into(), json!({ "code": code }));
            pool.insert("provisioningState".into(), json!("Succeeded"));
        }
    }
    Ok(())
}

/// When a priority change asked for while the account's write region is down ends: Microsoft
/// says such a change "will not succeed" and lists it among the operations to avoid during a
/// region outage, not that it is refused. So it is accepted and, by the scenario's
/// `faults.failover_in_outage`, stays `InProgress` (`hang`, the default: the caller's timeout
/// decides) or ends `Failed` after a while (`fail after 30m`). `None`: the usual delay.
fn cosmos_change_due(st: &SimState, req: &Req, rid: &ResourceId) -> Option<Duration> {
    let write = st
        .get(&rid.to_path())?
        .body
        .pointer("/properties/writeLocations/0/locationName")
        .and_then(Value::as_str)?;
    if !st.is_down(write) {
        return None;
    }
    Some(match doomed(&st.faults.failover_in_outage) {
        Ok(Doomed::FailAfter(d)) => req.elapsed.saturating_add(d),
        // Validated with the scenario: anything else is the default.
        Ok(Doomed::Hang) | Err(_) => Duration::MAX,
    })
}

/// The new priorities take effect, unless the account's write region is down. Microsoft's
/// Cosmos DB disaster-recovery guidance lists a manual failover (priority change) among the
/// operations not to attempt while the write region is out, as it does not succeed. Such an
/// operation only gets here when the scenario makes it end (`cosmos_change_due`), or when the
/// region went down while it ran: it ends `Failed` with the write region unchanged.
fn cosmos_done(st: &mut SimState, target: &str, list: &[(String, i64)]) -> Result<(), OpError> {
    let res = st.resources.get(target).ok_or_else(|| gone(target))?;
    let write = res
        .body
        .pointer("/properties/writeLocations/0/locationName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let serving = cosmos_online(&res.body);
    let mut order: Vec<(String, i64)> = list.to_vec();
    order.sort_by_key(|(_, p)| *p);
    let new_write = order.first().map(|(d, _)| d.clone()).unwrap_or_default();
    let failed = |status: u16, code: &str, message: String| OpError {
        status,
        code: code.into(),
        message,
    };
    let error = if !write.is_empty() && st.is_down(&write) {
        Some(failed(
            503,
            "ServiceUnavailable",
            format!(
                "The failover priority change did not complete: the current write region \
                 '{write}' is unavailable."
            ),
        ))
    } else if st.is_down(&new_write)
        || !serving
            .iter()
            .any(|s| normalize_region(s) == normalize_region(&new_write))
    {
        Some(failed(
            400,
            "BadRequest",
            format!("Region '{new_write}' cannot become the write region: it is not online."),
        ))
    } else {
        None
    };
    let res = st.resources.get_mut(target).ok_or_else(|| gone(target))?;
    let p = props_mut(res).ok_or_else(|| gone(target))?;
    if let Some(e) = error {
        p.insert("provisioningState".into(), json!("Succeeded"));
        return Err(e);
    }
    let names: Vec<String> = order.into_iter().map(|(d, _)| d).collect();
    cosmos_rebuild(p, &names, &serving);
    Ok(())
}

/// `offlineRegion`: the region goes last in the priorities and stops serving; if it was the
/// write region, the next online region by priority takes the writes. `onlineRegion`: the
/// region serves again as a read region at its (last) priority; it takes writes only after a
/// priority change. Bringing a region online needs it to be up.
fn cosmos_region_done(
    st: &mut SimState,
    target: &str,
    region: &str,
    online: bool,
) -> Result<(), OpError> {
    let down = st.is_down(region);
    let res = st.resources.get_mut(target).ok_or_else(|| gone(target))?;
    let mut serving = cosmos_online(&res.body);
    let mut order = cosmos_by_priority(&res.body);
    let p = props_mut(res).ok_or_else(|| gone(target))?;
    let same = |a: &str| normalize_region(a) == normalize_region(region);
    if online {
        if down {
            p.insert("provisioningState".into(), json!("Succeeded"));
            return Err(OpError {
                status: 503,
                code: "ServiceUnavailable".into(),
                message: format!(
                    "Region '{region}' is unavailable: it can be brought back online only once \
                     it has recovered."
                ),
            });
        }
        serving.push(region.to_string());
    } else {
        serving.retain(|s| !same(s));
        if let Some(i) = order.iter().position(|o| same(o)) {
            let r = order.remove(i);
            order.push(r);
        }
    }
    cosmos_rebuild(p, &order, &serving);
    Ok(())
}

/// The account's regions ordered by failover priority.
fn cosmos_by_priority(account: &Value) -> Vec<String> {
    let mut out: Vec<(i64, String)> = account
        .pointer("/properties/failoverPolicies")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some((
                        x.get("failoverPriority")
                            .and_then(Value::as_i64)
                            .unwrap_or(i64::MAX),
                        x.get("locationName")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if out.is_empty() {
        return cosmos_regions(account);
    }
    out.sort_by_key(|(p, _)| *p);
    out.into_iter().map(|(_, n)| n).collect()
}

/// Rewrites the account's region lists for the priorities `order` (first = 0) with only the
/// regions in `serving` readable and the first of them the write region.
fn cosmos_rebuild(p: &mut serde_json::Map<String, Value>, order: &[String], serving: &[String]) {
    let prio = |name: &str| {
        order
            .iter()
            .position(|o| normalize_region(o) == normalize_region(name))
            .map(|i| i as i64)
    };
    let serves = |name: &str| {
        serving
            .iter()
            .any(|s| normalize_region(s) == normalize_region(name))
    };
    let name_of = |e: &Value| {
        e.get("locationName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let reprioritise = |entries: &mut Vec<Value>| {
        for e in entries.iter_mut() {
            let name = name_of(e);
            if let (Some(i), Some(o)) = (prio(&name), e.as_object_mut()) {
                o.insert("failoverPriority".into(), json!(i));
            }
        }
        entries.sort_by_key(|e| {
            e.get("failoverPriority")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX)
        });
    };
    let mut policies: Vec<Value> = p
        .get("failoverPolicies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| order.iter().map(|d| json!({ "locationName": d })).collect());
    reprioritise(&mut policies);
    let mut locations: Option<Vec<Value>> = p.get("locations").and_then(Value::as_array).cloned();
    if let Some(l) = &mut locations {
        reprioritise(l);
    }
    let mut reads: Vec<Value> = p
        .get("readLocations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    reads.retain(|e| serves(&name_of(e)));
    for name in serving {
        if reads
            .iter()
            .any(|e| normalize_region(&name_of(e)) == normalize_region(name))
        {
            continue;
        }
        let mut entry = locations
            .iter()
            .flatten()
            .find(|e| normalize_region(&name_of(e)) == normalize_region(name))
            .cloned()
            .unwrap_or_else(|| json!({ "locationName": name }));
        if let Some(o) = entry.as_object_mut() {
            o.insert("provisioningState".into(), json!("Succeeded"));
        }
        reads.push(entry);
    }
    reprioritise(&mut reads);
    let write = reads
        .first()
        .cloned()
        .or_else(|| policies.first().cloned())
        .unwrap_or(json!({}));
    p.insert("failoverPolicies".into(), Value::Array(policies));
    if let Some(l) = locations {
        p.insert("locations".into(), Value::Array(l));
    }
    p.insert("readLocations".into(), Value::Array(reads));
    p.insert("writeLocations".into(), json!([write]));
    p.insert("provisioningState".into(), json!("Succeeded"));
}

/// A failover group takes one failover at a time, seen from either server: a second one while
/// the first runs (a forced failover sent while a planned one still synchronises, say) is
/// refused with Azure SQL's `FailoverGroupBusy` (error 40918).
fn sql_busy(st: &SimState, rid: &ResourceId, action: &str) -> Option<Reply> {
    let busy = st.ops.values().any(|op| {
        op.status == OpStatus::InProgress
            && matches!(op.effect, Effect::SqlFailover { .. })
            && st
                .resources
                .get(&op.target)
                .and_then(|r| ResourceId::parse(&r.id))
                .is_some_and(|o| {
                    o.subscription.eq_ignore_ascii_case(&rid.subscription)
                        && o.name().eq_ignore_ascii_case(rid.name())
                })
    });
    busy.then(|| {
        Reply::error(
            409,
            "FailoverGroupBusy",
            format!(
                "The Failover Group '{}' is busy with another operation and cannot perform the \
                 '{action}' operation. Please try again later.",
                rid.name()
            ),
        )
    })
}

/// This server's group becomes Primary; the same-named group on each partner server becomes
/// Secondary. A planned failover needs the partner (the old primary) to answer.
fn sql_done(st: &mut SimState, target: &str, forced: bool) -> Result<(), OpError> {
    let res = st.get(target).cloned().ok_or_else(|| gone(target))?;
    let rid = ResourceId::parse(&res.id).ok_or_else(|| gone(target))?;
    let server = rid.parent().map(|p| p.to_path()).unwrap_or_default();
    let partner_servers: Vec<String> = res
        .body
        .pointer("/properties/partnerServers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut partner_groups: Vec<String> = partner_servers
        .iter()
        .map(|s| armid::key(&format!("{s}/failoverGroups/{}", rid.name())))
        .filter(|k| st.resources.contains_key(k))
        .collect();
    for (k, r) in &st.resources {
        let same = ResourceId::parse(&r.id).is_some_and(|o| {
            o.type_name().eq_ignore_ascii_case(&rid.type_name())
                && o.name().eq_ignore_ascii_case(rid.name())
                && o.subscription.eq_ignore_ascii_case(&rid.subscription)
        });
        if same && k != target && !partner_groups.contains(k) {
            partner_groups.push(k.clone());
        }
    }
    if !forced {
        let down_partner = partner_servers
            .iter()
            .filter_map(|s| st.get(s))
            .chain(partner_groups.iter().filter_map(|k| st.resources.get(k)))
            .find(|r| st.is_down(&r.region))
            .map(|r| r.region.clone());
        if let Some(region) = down_partner {
            return Err(OpError {
                status: 500,
                code: "PlannedFailoverTimedOut".into(),
                message: format!(
                    "The planned failover of failover group '{}' timed out: the primary server \
                     in region '{region}' did not answer.",
                    rid.name()
                ),
            });
        }
    }
    let set_role =
        |r: &mut Res, role: &str, partner_role: &str, partner_is: &dyn Fn(&str) -> bool| {
            if let Some(p) = props_mut(r) {
                p.insert("replicationRole".into(), json!(role));
                if let Some(list) = p.get_mut("partnerServers").and_then(Value::as_array_mut) {
                    for e in list.iter_mut().filter_map(Value::as_object_mut) {
                        let id = e
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        if partner_is(&id) {
                            e.insert("replicationRole".into(), json!(partner_role));
                        }
                    }
                }
            }
        };
    if let Some(r) = st.resources.get_mut(target) {
        set_role(r, "Primary", "Secondary", &|_| true);
    }
    for k in &partner_groups {
        if let Some(r) = st.resources.get_mut(k) {
            set_role(r, "Secondary", "Primary", &|id| {
                id.eq_ignore_ascii_case(&server)
            });
        }
    }
    Ok(())
}

/// Whether a storage failover may start: it needs a secondary, no failover under way, and for
/// a planned one a primary that is available.
fn storage_request(st: &SimState, rid: &ResourceId, planned: bool) -> Result<(), Reply> {
    let Some(res) = st.get(&rid.to_path()) else {
        return Err(not_found(rid));
    };
    let prop = |k: &str| res.body.pointer(&format!("/properties/{k}")).cloned();
    let text = |k: &str| {
        prop(k)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    if prop("failoverInProgress") == Some(json!(true)) {
        return Err(Reply::error(
            409,
            "FailoverInProgress",
            format!(
                "A failover of storage account '{}' is already in progress.",
                rid.name()
            ),
        ));
    }
    if text("secondaryLocation").is_empty() {
        return Err(Reply::error(
            400,
            "FailoverNotSupported",
            format!(
                "The storage account '{}' has no secondary location to fail over to (it is not \
                 geo-redundant).",
                rid.name()
            ),
        ));
    }
    let primary = text("primaryLocation");
    let status = text("statusOfPrimary");
    // Microsoft's planned-failover documentation: "The storage account must be available in
    // both the primary and secondary regions before a planned failover can be initiated", and
    // the REST reference: "Planned failover is only available while the primary and secondary
    // endpoints are available". So it is refused when asked, not accepted to fail later.
    if planned && (st.is_down(&primary) || (!status.is_empty() && status != "available")) {
        return Err(Reply::error(
            400,
            "FailoverFailed",
            format!(
                "A planned failover of storage account '{}' cannot be initiated: the primary \
                 region '{primary}' is unavailable.",
                rid.name()
            ),
        ));
    }
    Ok(())
}

/// The secondary becomes the primary and the account is served from there. A planned failover
/// swaps the regions and stays geo-redundant; an unplanned one leaves the account LRS with no
/// secondary, as Azure does: the secondary region of GRS and GZRS alike holds an LRS copy, and
/// that copy is what becomes the primary (the account's own `postFailoverRedundancy` says so
/// when the scenario gives it).
fn storage_done(
    st: &mut SimState,
    target: &str,
    planned: bool,
    when: DateTime<Utc>,
) -> Result<(), OpError> {
    let res = st.resources.get(target).ok_or_else(|| gone(target))?;
    let primary = res
        .body
        .pointer("/properties/primaryLocation")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let secondary = res
        .body
        .pointer("/properties/secondaryLocation")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let old_primary_down = st.is_down(&primary);
    let res = st.resources.get_mut(target).ok_or_else(|| gone(target))?;
    if res.region == normalize_region(&primary) {
        res.region = normalize_region(&secondary);
    }
    let after = res
        .body
        .pointer("/properties/geoReplicationStats/postFailoverRedundancy")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Value::Object(o) = &mut res.body {
        o.insert("location".into(), json!(secondary));
        if !planned
            && let Some(Value::String(sku)) = o.get_mut("sku").and_then(|s| s.get_mut("name"))
        {
            *sku = after.unwrap_or_else(|| local_sku(sku));
        }
    }
    let p = props_mut(res).ok_or_else(|| gone(target))?;
    p.insert("primaryLocation".into(), json!(secondary));
    p.insert("statusOfPrimary".into(), json!("available"));
    if planned {
        p.insert("secondaryLocation".into(), json!(primary));
        p.insert(
            "statusOfSecondary".into(),
            json!(if old_primary_down {
                "unavailable"
            } else {
                "available"
            }),
        );
    } else {
        p.remove("secondaryLocation");
        p.remove("statusOfSecondary");
        p.remove("secondaryEndpoints");
        if let Some(g) = p
            .get_mut("geoReplicationStats")
            .and_then(Value::as_object_mut)
        {
            g.insert("canFailover".into(), json!(false));
            g.insert("canPlannedFailover".into(), json!(false));
            g.insert("status".into(), json!("Unavailable"));
        }
    }
    p.insert("lastGeoFailoverTime".into(), json!(rfc3339_millis(when)));
    p.insert("provisioningState".into(), json!("Succeeded"));
    p.remove("failoverInProgress");
    Ok(())
}

/// The SKU an unplanned failover leaves: LRS for every geo-redundant SKU, zone-redundant
/// (GZRS) included, since the secondary copy it promotes is locally redundant.
fn local_sku(sku: &str) -> String {
    let (tier, red) = sku.split_once('_').unwrap_or(("Standard", sku));
    match red.to_ascii_uppercase().as_str() {
        "GZRS" | "RAGZRS" | "GRS" | "RAGRS" => format!("{tier}_LRS"),
        _ => sku.to_string(),
    }
}

fn deployment_done(
    st: &mut SimState,
    target: &str,
    started: DateTime<Utc>,
    when: DateTime<Utc>,
) -> Result<(), OpError> {
    let res = st.resources.get_mut(target).ok_or_else(|| gone(target))?;
    let p = props_mut(res).ok_or_else(|| gone(target))?;
    p.insert("provisioningState".into(), json!("Succeeded"));
    p.insert("timestamp".into(), json!(rfc3339_millis(when)));
    p.insert(
        "duration".into(),
        json!(format!(
            "PT{}S",
            (when - started).num_milliseconds().max(0) as f64 / 1000.0
        )),
    );
    p.entry("outputs").or_insert(json!({}));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::local_sku;

    #[test]
    fn unplanned_failover_leaves_local_redundancy() {
        assert_eq!(local_sku("Standard_RAGZRS"), "Standard_LRS");
        assert_eq!(local_sku("Standard_GZRS"), "Standard_LRS");
        assert_eq!(local_sku("Standard_RAGRS"), "Standard_LRS");
        assert_eq!(local_sku("Standard_GRS"), "Standard_LRS");
        assert_eq!(local_sku("Standard_LRS"), "Standard_LRS");
        assert_eq!(local_sku("weird"), "weird");
    }
}
