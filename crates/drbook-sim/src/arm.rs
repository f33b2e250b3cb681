//! ARM routes over the state: resources (GET, PUT, PATCH, DELETE), collections, resource
//! groups, subscriptions, Resource Health, and the status of long-running operations. A
//! request reaches here already authenticated, with its faults decided and `api-version`
//! present; everything is synchronous over `&mut SimState`.

use std::time::Duration;

use chrono::{DateTime, Utc};
pub use drbook_core::time::rfc3339_millis;
use serde_json::{Map, Value, json};

use super::armid::{self, ResourceId, normalize_region, segments};
use super::faults::OutageArm;
use super::json::merge_patch;
use super::reply::{Reply, bad_body, region_unavailable};
use super::state::{Effect, Group, OpStatus, Res, SimState, TENANT, group_key};

/// One ARM request.
pub struct Req<'a> {
    /// Upper case.
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    pub api_version: &'a str,
    /// e.g. `{"$expand": "geoReplicationStats"}`, `failoverType=Planned`.
    pub query: &'a [(String, String)],
    /// `http://127.0.0.1:PORT`, for the URLs of long-running operations.
    pub base: &'a str,
    /// Time since the simulator started.
    pub elapsed: Duration,
}

impl Req<'_> {
    /// The body as JSON: `Ok(None)` when empty, an ARM 400 when it is not JSON.
    pub fn json(&self) -> Result<Option<Value>, Reply> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(self.body)
            .map(Some)
            .map_err(|e| bad_body(&e.to_string()))
    }

    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn method_not_allowed(method: &str) -> Reply {
    Reply::error(
        405,
        "MethodNotAllowed",
        format!("The requested resource does not support http method '{method}'."),
    )
}

fn invalid_uri(path: &str) -> Reply {
    Reply::error(
        400,
        "InvalidRequestUri",
        format!("The request URI '{path}' is not valid for Azure Resource Manager."),
    )
}

pub fn not_found(rid: &ResourceId) -> Reply {
    let mut what = rid.namespace.clone();
    for (t, n) in rid.types.iter().zip(&rid.names) {
        what.push_str(&format!("/{t}/{n}"));
    }
    let under = rid
        .resource_group
        .as_ref()
        .map(|rg| format!(" under resource group '{rg}'"))
        .unwrap_or_default();
    Reply::error(
        404,
        "ResourceNotFound",
        format!(
            "The Resource '{what}'{under} was not found. For more details please go to \
             https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

fn group_not_found(rg: &str) -> Reply {
    Reply::error(
        404,
        "ResourceGroupNotFound",
        format!("Resource group '{rg}' could not be found."),
    )
}

fn subscription_not_found(sub: &str) -> Reply {
    Reply::error(
        404,
        "SubscriptionNotFound",
        format!("The subscription '{sub}' could not be found."),
    )
}

/// The outage's answer when the resource at `rid` (or the nearest ancestor that exists) is in
/// a down region: a 503 unless the scenario made the region hang or answer otherwise.
pub fn down_check(st: &SimState, rid: &ResourceId) -> Result<(), Reply> {
    match st.nearest(rid) {
        Some(r) if st.is_down(&r.region) => Err(outage_reply(
            st,
            &r.region,
            &format!("{} '{}'", rid.type_name(), rid.name()),
        )),
        _ => Ok(()),
    }
}

/// How a down region answers a request for `what`. A stale region refuses writes like a plain
/// outage; its reads are served by `get` before this.
pub fn outage_reply(st: &SimState, region: &str, what: &str) -> Reply {
    match st.outage(region).arm {
        OutageArm::Unavailable | OutageArm::Stale | OutageArm::Status(503) => {
            region_unavailable(region, what)
        }
        OutageArm::Hang => Reply::hang(),
        OutageArm::Status(504) => Reply::error(
            504,
            "GatewayTimeout",
            format!(
                "The gateway did not receive a response from region '{region}' for {what} \
                 within the specified time period."
            ),
        ),
        OutageArm::Status(502) => Reply::error(
            502,
            "BadGateway",
            format!("The gateway received an invalid response from region '{region}' for {what}."),
        ),
        OutageArm::Status(status) => Reply::error(
            status,
            "InternalServerError",
            format!(
                "Encountered internal server error serving {what} in region '{region}'. \
                 Diagnostic information: timestamp '{}'.",
                Utc::now().format("%Y%m%dT%H%M%SZ")
            ),
        ),
    }
}

/// When the resource at `rid` is in a region down in `stale` mode: the moment it went down,
/// whose state reads keep answering with.
fn stale_since(st: &SimState, rid: &ResourceId) -> Option<DateTime<Utc>> {
    let r = st.nearest(rid)?;
    if !st.is_down(&r.region) || st.outage(&r.region).arm != OutageArm::Stale {
        return None;
    }
    st.down.get(&normalize_region(&r.region)).copied()
}

/// Where ARM itself, not the resource's region, decides. Two of Azure's rules:
/// - The resource group's location holds the metadata of every resource in the group, and
///   writes go through it: while that region is down, writes (PUT, PATCH, DELETE, actions)
///   fail for every resource of the group, wherever the resource runs; reads still work.
///   Only for a group whose location was given: one guessed from its first resource would
///   refuse writes the scenario's author never meant to refuse.
///   Microsoft documents the effect ("effectively read-only"), not an error code, so the
///   answer is ARM's generic 503, naming the group and its location.
/// - A container registry's control plane lives in its home region (the registry's
///   location): while it is down, management operations on the registry and everything
///   under it (replications, webhooks, ...) fail, even for a replica in a healthy region.
///   Push and pull (the data plane, `*.azurecr.io`) go on through the other replicas.
fn control_plane_check(st: &SimState, method: &str, rid: &ResourceId) -> Result<(), Reply> {
    let write = matches!(method, "PUT" | "PATCH" | "DELETE" | "POST");
    if write
        && let Some(rg) = &rid.resource_group
        && let Some(g) = st.groups.get(&group_key(&rid.subscription, rg))
        && g.declared
        && st.is_down(&g.location)
    {
        return Err(Reply::error(
            503,
            "ServiceUnavailable",
            format!(
                "Resource group '{}' is located in '{}', which is unavailable: Azure Resource \
                 Manager cannot update its resources ({} '{}').",
                g.name,
                g.location,
                rid.type_name(),
                rid.name()
            ),
        ));
    }
    if rid
        .namespace
        .eq_ignore_ascii_case("Microsoft.ContainerRegistry")
        && rid
            .types
            .first()
            .is_some_and(|t| t.eq_ignore_ascii_case("registries"))
        && rid.types.len() > 1
    {
        let mut registry = rid.clone();
        registry.types.truncate(1);
        registry.names.truncate(1);
        if let Some(home) = st.get(&registry.to_path()).map(|r| r.region.clone())
            && st.is_down(&home)
        {
            return Err(Reply::error(
                503,
                "ServiceUnavailable",
                format!(
                    "The home region '{home}' of registry '{}' is unavailable: management \
                     operations on the registry and its {} cannot be served.",
                    registry.name(),
                    rid.types[1..].join("/")
                ),
            ));
        }
    }
    Ok(())
}

/// Every ARM route.
pub fn dispatch(st: &mut SimState, req: &Req) -> Reply {
    if let Err(r) = super::apiversions::check(st, req) {
        return r;
    }
    let segs = segments(req.path);
    let is = |i: usize, w: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(w));
    if segs.len() == 3
        && is(0, "providers")
        && is(1, "Microsoft.ResourceGraph")
        && is(2, "resources")
    {
        return match req.method {
            "POST" => match graph_quota(st, req.elapsed) {
                Err(r) => r,
                Ok((left, resets)) => {
                    let reply = match req.json() {
                        Ok(body) => super::graph::query_cached(st, body.as_ref()),
                        Err(r) => r,
                    };
                    reply
                        .header("x-ms-user-quota-remaining", left.to_string())
                        .header("x-ms-user-quota-resets-after", hms(resets))
                }
            },
            m => method_not_allowed(m),
        };
    }
    // Anything but a read may change the estate (a POST action too): Resource Graph pages
    // evaluated before it are not reused.
    if !req.method.eq_ignore_ascii_case("GET") {
        st.changed();
    }
    if let Some(i) =
        (1..segs.len()).find(|&i| is(i, "providers") && is(i + 1, "Microsoft.ResourceHealth"))
    {
        return health(st, req, &segs[..i], &segs[i + 2..]);
    }
    if segs.len() == 8
        && is(0, "subscriptions")
        && is(2, "providers")
        && is(3, "Microsoft.Simulator")
        && is(4, "locations")
    {
        return operation(st, req, &segs[6], &segs[7]);
    }
    if !is(0, "subscriptions") {
        return invalid_uri(req.path);
    }
    let Some(sub) = segs.get(1) else {
        return match req.method {
            "GET" => list_subscriptions(st, req),
            m => method_not_allowed(m),
        };
    };
    if !st.subscription_known(sub) {
        return subscription_not_found(sub);
    }
    if segs.len() == 2 {
        return match req.method {
            "GET" => Reply::json(200, subscription_json(st, sub)),
            m => method_not_allowed(m),
        };
    }
    if is(2, "resources") && segs.len() == 3 {
        return list_generic(st, req, sub, None);
    }
    let mut at = 2;
    if is(2, "resourceGroups") {
        let Some(rg) = segs.get(3) else {
            return match req.method {
                "GET" => list_groups(st, req, sub),
                m => method_not_allowed(m),
            };
        };
        if segs.len() == 4 {
            return group_route(st, req, sub, rg);
        }
        if !st.groups.contains_key(&group_key(sub, rg)) {
            return group_not_found(rg);
        }
        if is(4, "resources") && segs.len() == 5 {
            return list_generic(st, req, sub, Some(rg));
        }
        at = 4;
    }
    if !is(at, "providers") || segs.len() < at + 3 {
        return invalid_uri(req.path);
    }
    let after = &segs[at + 1..];
    if after
        .iter()
        .skip(1)
        .any(|s| s.eq_ignore_ascii_case("providers"))
    {
        return Reply::error(
            400,
            "NoRegisteredProviderFound",
            format!(
                "The simulator serves no extension resources at '{}'.",
                req.path
            ),
        );
    }
    let pairs = after.len() - 1;
    if req.method == "POST" {
        let Some((action, res)) = segs.split_last() else {
            return invalid_uri(req.path);
        };
        let res_path = format!("/{}", res.join("/"));
        return match ResourceId::parse(&res_path) {
            Some(rid) => match control_plane_check(st, req.method, &rid) {
                Ok(()) => super::actions::action(st, req, &rid, action),
                Err(r) => r,
            },
            None => invalid_uri(req.path),
        };
    }
    if pairs % 2 == 1 {
        return match req.method {
            "GET" => list_collection(st, req, &segs),
            m => method_not_allowed(m),
        };
    }
    let Some(rid) = ResourceId::parse(req.path) else {
        return invalid_uri(req.path);
    };
    if let Err(r) = control_plane_check(st, req.method, &rid) {
        return r;
    }
    match req.method {
        "GET" => get(st, req, &rid),
        "PUT"
            if rid
                .type_name()
                .eq_ignore_ascii_case("Microsoft.Resources/deployments") =>
        {
            super::actions::put_deployment(st, req, &rid)
        }
        "PUT" => put(st, req, &rid),
        "PATCH" => patch(st, req, &rid),
        "DELETE" => delete(st, &rid),
        m => method_not_allowed(m),
    }
}

fn get(st: &SimState, req: &Req, rid: &ResourceId) -> Reply {
    let stale = stale_since(st, rid);
    if stale.is_none()
        && let Err(r) = down_check(st, rid)
    {
        return r;
    }
    match st.get(&rid.to_path()) {
        Some(r) => {
            let mut doc = match stale {
                Some(since) => super::json::render_times(&r.body, since),
                None => st.rendered(r),
            };
            if rid
                .type_name()
                .eq_ignore_ascii_case("Microsoft.Storage/storageAccounts")
            {
                let expand = req
                    .query_value("$expand")
                    .is_some_and(|e| e.to_ascii_lowercase().contains("georeplicationstats"));
                geo_replication_stats(st, r, &mut doc, expand);
            }
            if rid
                .type_name()
                .eq_ignore_ascii_case("Microsoft.Network/trafficManagerProfiles")
            {
                traffic_manager_endpoints(st, r, &mut doc);
            }
            Reply::json(200, doc)
        }
        None => not_found(rid),
    }
}

/// A Traffic Manager profile carries its endpoints in `properties.endpoints`, as Azure serves
/// it (Profile-GET-WithEndpoints in the specs); the simulator keeps them as child resources.
fn traffic_manager_endpoints(st: &SimState, profile: &Res, doc: &mut Value) {
    let Some(props) = doc.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    if props.contains_key("endpoints") {
        return;
    }
    let prefix = format!("{}/", armid::key(&profile.id));
    let endpoints: Vec<Value> = st
        .resources
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(&prefix)
                .is_some_and(|rest| rest.split('/').count() == 2)
        })
        .map(|(_, r)| st.rendered(r))
        .collect();
    props.insert("endpoints".into(), Value::Array(endpoints));
}

/// A storage account's `geoReplicationStats`, as Azure serves them: only when asked for with
/// `$expand=geoReplicationStats`, and with the last sync frozen at the moment the primary
/// region went down (nothing reaches the secondary after that, so the lag grows with the
/// outage). The scenario's value (`${now-4m}`: always four minutes behind) is what it was
/// at that moment.
fn geo_replication_stats(st: &SimState, res: &Res, doc: &mut Value, expand: bool) {
    let Some(props) = doc.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    if !expand {
        props.remove("geoReplicationStats");
        return;
    }
    let primary = props
        .get("primaryLocation")
        .and_then(Value::as_str)
        .map(normalize_region);
    let Some(since) = primary.and_then(|p| st.down.get(&p).copied()) else {
        return;
    };
    let then = super::json::render_times(&res.body, since);
    if let (Some(frozen), Some(stats)) = (
        then.pointer("/properties/geoReplicationStats/lastSyncTime"),
        props
            .get_mut("geoReplicationStats")
            .and_then(Value::as_object_mut),
    ) {
        stats.insert("lastSyncTime".into(), frozen.clone());
    }
}

/// PUT: top-level fields given replace the old ones; `properties` merge into the old ones so
/// read-only properties (host names, endpoints) survive, as the real providers keep them.
fn put(st: &mut SimState, req: &Req, rid: &ResourceId) -> Reply {
    let body = match req.json() {
        Ok(Some(Value::Object(b))) => b,
        Ok(_) => return bad_body("the body must be a JSON object"),
        Err(r) => return r,
    };
    if let Err(r) = down_check(st, rid) {
        return r;
    }
    let existing = st.get(&rid.to_path()).cloned();
    if let Some(parent) = rid.parent()
        && st.get(&parent.to_path()).is_none()
    {
        return Reply::error(
            404,
            "ParentResourceNotFound",
            format!(
                "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                parent.names.join("/")
            ),
        );
    }
    let ancestor = rid.parent().and_then(|p| st.nearest(&p).cloned());
    let group_loc = rid
        .resource_group
        .as_ref()
        .and_then(|rg| st.groups.get(&group_key(&rid.subscription, rg)))
        .map(|g| g.location.clone());
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| existing.as_ref().and_then(|e| loc_of(&e.body)))
        .or_else(|| ancestor.as_ref().and_then(|a| loc_of(&a.body)))
        .or(group_loc)
        .unwrap_or_else(|| "global".into());
    let region = existing
        .as_ref()
        .map(|e| e.region.clone())
        .or_else(|| ancestor.as_ref().map(|a| a.region.clone()))
        .unwrap_or_else(|| normalize_region(&location));
    if st.is_down(&region) {
        return outage_reply(
            st,
            &region,
            &format!("{} '{}'", rid.type_name(), rid.name()),
        );
    }
    let mut doc = existing
        .as_ref()
        .map_or_else(|| Value::Object(Map::new()), |e| e.body.clone());
    let mut props = doc.get("properties").cloned().unwrap_or(json!({}));
    if let Some(p) = body.get("properties") {
        merge_patch(&mut props, p);
    }
    if let Value::Object(d) = &mut doc {
        for (k, v) in &body {
            if !matches!(k.as_str(), "id" | "name" | "type" | "properties") {
                d.insert(k.clone(), v.clone());
            }
        }
        d.insert("location".into(), json!(location));
        d.insert("properties".into(), props);
    }
    let id = existing
        .as_ref()
        .map_or_else(|| rid.to_path(), |e| e.id.clone());
    finish_write(st, req, rid, &id, doc, region, existing.is_none())
}

fn loc_of(v: &Value) -> Option<String> {
    v.get("location")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// PATCH: JSON merge patch of the body onto the resource.
fn patch(st: &mut SimState, req: &Req, rid: &ResourceId) -> Reply {
    let body = match req.json() {
        Ok(Some(b @ Value::Object(_))) => b,
        Ok(_) => return bad_body("the body must be a JSON object"),
        Err(r) => return r,
    };
    if let Err(r) = down_check(st, rid) {
        return r;
    }
    let Some(existing) = st.get(&rid.to_path()).cloned() else {
        return not_found(rid);
    };
    let mut doc = existing.body.clone();
    merge_patch(&mut doc, &body);
    finish_write(
        st,
        req,
        rid,
        &existing.id,
        doc,
        existing.region.clone(),
        false,
    )
}

/// Stores a written resource: identity fields restored, provisioning done (or, for a type
/// Azure provisions asynchronously, under way), side effects the real service has (Traffic
/// Manager monitor status, Front Door deployment status).
fn finish_write(
    st: &mut SimState,
    req: &Req,
    rid: &ResourceId,
    id: &str,
    mut doc: Value,
    region: String,
    created: bool,
) -> Reply {
    let first_status = async_write_status(rid, req.method, created);
    if let Value::Object(d) = &mut doc {
        d.insert("id".into(), json!(id));
        d.insert("name".into(), json!(rid.name()));
        d.insert("type".into(), json!(rid.type_name()));
        if !d.get("properties").is_some_and(Value::is_object) {
            d.insert("properties".into(), json!({}));
        }
    }
    if let Some(p) = doc.get_mut("properties").and_then(Value::as_object_mut) {
        let (state, deployment) = match (first_status, created) {
            (None, _) => ("Succeeded", "Succeeded"),
            (Some(_), true) => ("Creating", "NotStarted"),
            (Some(_), false) => ("Updating", "NotStarted"),
        };
        p.insert("provisioningState".into(), json!(state));
        if p.contains_key("deploymentStatus") {
            p.insert("deploymentStatus".into(), json!(deployment));
        }
    }
    traffic_manager_monitor(st, rid, &mut doc);
    let (health, since) = st
        .get(id)
        .map(|r| (r.health.clone(), r.health_since))
        .unwrap_or_else(|| ("Available".into(), Utc::now()));
    let location = loc_of(&doc).unwrap_or_else(|| "global".into());
    st.ensure_group(rid, &location);
    let res = Res {
        id: id.to_string(),
        body: doc,
        region,
        health,
        health_since: since,
    };
    let out = st.rendered(&res);
    st.resources.insert(armid::key(id), res);
    let Some(status) = first_status else {
        return Reply::json(if created { 201 } else { 200 }, out);
    };
    let (opid, sub, loc) = super::actions::register(st, req, rid, Effect::AsyncWrite, true);
    let (async_op, location) = op_urls(req.base, &sub, &loc, &opid, req.api_version);
    let reply = Reply::json(status, out)
        .header("Azure-AsyncOperation", async_op)
        .header("Retry-After", "1");
    // A 202 names where the result will be, as ARM's async contract asks of an Accepted answer.
    if status == 202 {
        reply.header("Location", location)
    } else {
        reply
    }
}

/// The first answer's status when Azure provisions this type's PUT/PATCH asynchronously (the
/// operation is `x-ms-long-running-operation` in azure-rest-api-specs, answered with
/// `Azure-AsyncOperation` and a non-terminal provisioningState); `None` when it is synchronous.
/// From the specs' examples: AFD origins and origin groups (Microsoft.Cdn 2024-02-01: PATCH
/// 202 with `Updating`; PUT 200/201/202), scale sets (Microsoft.Compute 2024-07-01: PUT
/// 200/201 `Creating`, PATCH 200), AKS clusters (PUT 200/201, PATCH of tags 200), container
/// registry replications (Microsoft.ContainerRegistry 2023-07-01: 201 `Creating` with
/// Azure-AsyncOperation). Traffic Manager endpoints, App Service PATCH and resource groups
/// answer synchronously.
fn async_write_status(rid: &ResourceId, method: &str, created: bool) -> Option<u16> {
    let created_or_ok = if created { 201 } else { 200 };
    let t = rid.type_name().to_ascii_lowercase();
    match (t.as_str(), method) {
        (
            "microsoft.cdn/profiles/origingroups/origins" | "microsoft.cdn/profiles/origingroups",
            "PATCH",
        ) => Some(202),
        (
            "microsoft.cdn/profiles/origingroups/origins"
            | "microsoft.cdn/profiles/origingroups"
            | "microsoft.compute/virtualmachinescalesets"
            | "microsoft.containerservice/managedclusters",
            "PUT",
        ) => Some(created_or_ok),
        (
            "microsoft.compute/virtualmachinescalesets"
            | "microsoft.containerservice/managedclusters",
            "PATCH",
        ) => Some(200),
        // Its specs answer 200 only when the change is already done, 201 while it runs.
        ("microsoft.containerregistry/registries/replications", "PUT" | "PATCH") => Some(201),
        _ => None,
    }
}

/// The end of an asynchronous PUT/PATCH: the resource is provisioned (and a Front Door
/// resource deployed to the edge). `None`: the resource is gone.
pub fn async_write_done(st: &mut SimState, target: &str) -> Option<()> {
    let p = st
        .resources
        .get_mut(target)?
        .body
        .get_mut("properties")?
        .as_object_mut()?;
    p.insert("provisioningState".into(), json!("Succeeded"));
    if p.contains_key("deploymentStatus") {
        p.insert("deploymentStatus".into(), json!("Succeeded"));
    }
    Some(())
}

/// A Traffic Manager endpoint's monitor status follows its endpoint status: `Disabled` when
/// disabled; when enabled again, `Online` unless its location is down (`Degraded`).
fn traffic_manager_monitor(st: &SimState, rid: &ResourceId, doc: &mut Value) {
    let t = rid.type_name().to_ascii_lowercase();
    if !(t.starts_with("microsoft.network/trafficmanagerprofiles/") && t.ends_with("endpoints")) {
        return;
    }
    let Some(p) = doc.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    let status = p
        .get("endpointStatus")
        .and_then(Value::as_str)
        .unwrap_or("");
    let monitor = p
        .get("endpointMonitorStatus")
        .and_then(Value::as_str)
        .unwrap_or("");
    let new = match status {
        "Disabled" => Some("Disabled"),
        "Enabled" if monitor.is_empty() || monitor == "Disabled" => {
            let region = p
                .get("endpointLocation")
                .and_then(Value::as_str)
                .map(normalize_region)
                .or_else(|| {
                    p.get("targetResourceId")
                        .and_then(Value::as_str)
                        .and_then(|t| st.get(t))
                        .map(|r| r.region.clone())
                });
            Some(if region.is_some_and(|r| st.is_down(&r)) {
                "Degraded"
            } else {
                "Online"
            })
        }
        _ => None,
    };
    if let Some(m) = new {
        p.insert("endpointMonitorStatus".into(), json!(m));
    }
}

fn delete(st: &mut SimState, rid: &ResourceId) -> Reply {
    if let Err(r) = down_check(st, rid) {
        return r;
    }
    let key = armid::key(&rid.to_path());
    if st.resources.remove(&key).is_none() {
        return Reply::empty(204);
    }
    let prefix = format!("{key}/");
    st.resources.retain(|k, _| !k.starts_with(&prefix));
    Reply::empty(200)
}

fn group_json(g: &Group) -> Value {
    json!({
        "id": format!("/subscriptions/{}/resourceGroups/{}", g.subscription, g.name),
        "name": g.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": g.location,
        "properties": { "provisioningState": "Succeeded" },
    })
}

fn group_route(st: &mut SimState, req: &Req, sub: &str, rg: &str) -> Reply {
    let key = group_key(sub, rg);
    match req.method {
        "GET" => match st.groups.get(&key) {
            Some(g) => Reply::json(200, group_json(g)),
            None => group_not_found(rg),
        },
        "PUT" => {
            let loc = match req.json() {
                Ok(Some(b)) => b
                    .get("location")
                    .and_then(Value::as_str)
                    .map(normalize_region),
                Ok(None) => None,
                Err(r) => return r,
            };
            let Some(location) = loc else {
                return Reply::error(
                    400,
                    "LocationRequired",
                    "The location property is required for this definition.",
                );
            };
            let created = !st.groups.contains_key(&key);
            let g = Group {
                subscription: sub.to_string(),
                name: rg.to_string(),
                location,
                declared: true,
            };
            let out = group_json(&g);
            st.groups.insert(key, g);
            Reply::json(if created { 201 } else { 200 }, out)
        }
        "DELETE" => {
            if st.groups.remove(&key).is_none() {
                return group_not_found(rg);
            }
            let prefix = format!("{key}/");
            st.resources.retain(|k, _| !k.starts_with(&prefix));
            Reply::empty(200)
        }
        m => method_not_allowed(m),
    }
}

fn subscription_json(st: &SimState, sub: &str) -> Value {
    let (id, name) = st
        .subscriptions
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(sub))
        .cloned()
        .unwrap_or_else(|| (sub.to_string(), sub.to_string()));
    json!({
        "id": format!("/subscriptions/{id}"),
        "subscriptionId": id,
        "displayName": name,
        "state": "Enabled",
        "tenantId": TENANT,
    })
}

fn list_subscriptions(st: &SimState, req: &Req) -> Reply {
    let mut ids: Vec<String> = st.subscriptions.iter().map(|(id, _)| id.clone()).collect();
    for g in st.groups.values() {
        if !ids.iter().any(|i| i.eq_ignore_ascii_case(&g.subscription)) {
            ids.push(g.subscription.clone());
        }
    }
    let value: Vec<Value> = ids.iter().map(|s| subscription_json(st, s)).collect();
    page(st, req, value)
}

fn list_groups(st: &SimState, req: &Req, sub: &str) -> Reply {
    let value: Vec<Value> = st
        .groups
        .values()
        .filter(|g| g.subscription.eq_ignore_ascii_case(sub))
        .map(group_json)
        .collect();
    page(st, req, value)
}

/// `.../resources`: the top-level resources of a subscription or group, without properties.
fn list_generic(st: &SimState, req: &Req, sub: &str, rg: Option<&str>) -> Reply {
    if req.method != "GET" {
        return method_not_allowed(req.method);
    }
    let value: Vec<Value> = st
        .resources
        .values()
        .filter(|r| {
            ResourceId::parse(&r.id).is_some_and(|i| {
                i.types.len() == 1
                    && i.subscription.eq_ignore_ascii_case(sub)
                    && rg.is_none_or(|g| {
                        i.resource_group
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(g))
                    })
            })
        })
        .map(|r| {
            let mut v = st.rendered(r);
            if let Value::Object(o) = &mut v {
                o.remove("properties");
            }
            v
        })
        .collect();
    page(st, req, value)
}

/// `GET .../providers/NS/type[/name/childType]`: the resources directly in that collection.
fn list_collection(st: &SimState, req: &Req, segs: &[String]) -> Reply {
    let (_, parent_segs) = match segs.split_last() {
        Some(x) => x,
        None => return invalid_uri("/"),
    };
    let parent = ResourceId::parse(&format!("/{}", parent_segs.join("/")));
    let stale = parent.as_ref().and_then(|p| stale_since(st, p));
    if let Some(p) = &parent {
        if stale.is_none()
            && let Err(r) = down_check(st, p)
        {
            return r;
        }
        if st.get(&p.to_path()).is_none() {
            return not_found(p);
        }
    }
    let key = armid::key(&format!("/{}", segs.join("/")));
    let top_level_in_sub = parent.is_none()
        && !segs
            .iter()
            .any(|s| s.eq_ignore_ascii_case("resourceGroups"));
    let value: Vec<Value> = st
        .resources
        .iter()
        .filter(|(k, r)| {
            if top_level_in_sub {
                ResourceId::parse(&r.id).is_some_and(|i| {
                    i.types.len() == 1
                        && armid::key(&format!(
                            "/subscriptions/{}/providers/{}",
                            i.subscription,
                            i.type_name()
                        )) == key
                })
            } else {
                k.strip_prefix(&key)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .is_some_and(|name| !name.contains('/'))
            }
        })
        .map(|(_, r)| match stale {
            Some(since) => super::json::render_times(&r.body, since),
            None => st.rendered(r),
        })
        .collect();
    page(st, req, value)
}

/// One page of a list, as ARM serves lists: `value`, and `nextLink` (the same URL with a
/// `$skiptoken`) while more items follow. The page size is the scenario's `page_size`.
fn page(st: &SimState, req: &Req, items: Vec<Value>) -> Reply {
    let start = match req.query_value("$skiptoken") {
        None => 0,
        Some(t) => match t.strip_prefix("sim-").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => {
                return Reply::error(
                    400,
                    "InvalidSkipToken",
                    format!("The skip token '{t}' is not valid for this list."),
                );
            }
        },
    };
    let total = items.len();
    let end = start.saturating_add(st.page_size).min(total);
    let value: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    if end >= total {
        return Reply::json(200, json!({ "value": value }));
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in req
        .query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
    {
        query.append_pair(k, v);
    }
    query.append_pair("$skiptoken", &format!("sim-{end}"));
    let next = format!("{}{}?{}", req.base, req.path, query.finish());
    Reply::json(200, json!({ "value": value, "nextLink": next }))
}

/// `GET {id}/providers/Microsoft.ResourceHealth/availabilityStatuses[/current]`: answers even
/// when the resource's region is down (Resource Health is a global service).
fn health(st: &SimState, req: &Req, scope: &[String], rest: &[String]) -> Reply {
    if req.method != "GET" {
        return method_not_allowed(req.method);
    }
    let scope_path = format!("/{}", scope.join("/"));
    let Some(rid) = ResourceId::parse(&scope_path) else {
        return invalid_uri(req.path);
    };
    let Some(res) = st.get(&scope_path) else {
        return not_found(&rid);
    };
    let is_statuses = rest
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("availabilityStatuses"));
    let status = health_json(st, res);
    match rest.len() {
        2 if is_statuses && rest[1].eq_ignore_ascii_case("current") => Reply::json(200, status),
        1 if is_statuses => Reply::json(200, json!({ "value": [status] })),
        _ => invalid_uri(req.path),
    }
}

pub fn health_json(st: &SimState, res: &Res) -> Value {
    let kind = res
        .body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("resource");
    let short = kind.rsplit('/').next().unwrap_or(kind);
    let (state, summary, reason, since) = match st.down.get(&res.region) {
        // Resource Health's own pipeline lost the region: it says it cannot tell, as Azure
        // does when it has had no signal from a resource for a while.
        Some(since) if st.outage(&res.region).health_unknown => (
            "Unknown".to_string(),
            format!("We are currently unable to determine the health of this {short}."),
            None,
            *since,
        ),
        Some(since) => (
            "Unavailable".to_string(),
            format!(
                "We're sorry, your {short} '{}' is unavailable because of an outage in region \
                 {}. Microsoft engineers are working to restore service; there is nothing you \
                 need to do to restore it.",
                res.body.get("name").and_then(Value::as_str).unwrap_or(""),
                res.region
            ),
            Some("Unplanned"),
            *since,
        ),
        None => {
            let (summary, reason) = match res.health.as_str() {
                "Available" => (
                    "There aren't any known Azure platform problems affecting this resource."
                        .to_string(),
                    None,
                ),
                "Degraded" => (
                    format!(
                        "We're sorry, your {short} is degraded: some requests may fail or be slow."
                    ),
                    Some("Unplanned"),
                ),
                "Unavailable" => (
                    format!("We're sorry, your {short} isn't available."),
                    Some("Unplanned"),
                ),
                _ => (
                    format!("We are currently unable to determine the health of this {short}."),
                    None,
                ),
            };
            (res.health.clone(), summary, reason, res.health_since)
        }
    };
    let mut props = json!({
        "availabilityState": state,
        "summary": summary,
        "occuredTime": rfc3339_millis(since),
        "reportedTime": rfc3339_millis(Utc::now()),
    });
    if let (Some(r), Value::Object(p)) = (reason, &mut props) {
        p.insert("reasonType".into(), json!(r));
        p.insert("reasonChronicity".into(), json!("Persistent"));
    }
    json!({
        "id": format!("{}/providers/Microsoft.ResourceHealth/availabilityStatuses/current", res.id),
        "name": "current",
        "type": "Microsoft.ResourceHealth/AvailabilityStatuses",
        "location": res.body.get("location").cloned().unwrap_or(Value::Null),
        "properties": props,
    })
}

/// Takes one query from Resource Graph's per-user quota (`faults.graph_quota` per
/// `faults.graph_quota_window`, a fixed window opened by the first query after the last one
/// ended): `Ok((left, resets_after))` for the headers every answer carries, or the 429 with
/// `Retry-After` Resource Graph answers once the window's quota is spent.
fn graph_quota(st: &mut SimState, now: Duration) -> Result<(u32, Duration), Reply> {
    let window = super::scenario::Faults::duration(&st.faults.graph_quota_window);
    let quota = st.faults.graph_quota.max(1);
    let (mut start, mut used) = st.graph_window;
    if now.saturating_sub(start) >= window || now < start {
        (start, used) = (now, 0);
    }
    let resets = (start + window).saturating_sub(now);
    if used >= quota {
        st.graph_window = (start, used);
        return Err(Reply::error(
            429,
            "RateLimiting",
            "Client application has been throttled and should not repeat the request until an \
             amount of time has elapsed.",
        )
        .header(
            "Retry-After",
            (resets.as_secs() + u64::from(resets.subsec_nanos() > 0))
                .max(1)
                .to_string(),
        )
        .header("x-ms-user-quota-remaining", "0")
        .header("x-ms-user-quota-resets-after", hms(resets)));
    }
    used += 1;
    st.graph_window = (start, used);
    Ok((quota - used, resets))
}

/// `hh:mm:ss`, rounded up, as Resource Graph writes `x-ms-user-quota-resets-after`.
fn hms(d: Duration) -> String {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The URLs of a long-running operation: (Azure-AsyncOperation, Location).
pub fn op_urls(
    base: &str,
    sub: &str,
    location: &str,
    opid: &str,
    api_version: &str,
) -> (String, String) {
    let stem =
        format!("{base}/subscriptions/{sub}/providers/Microsoft.Simulator/locations/{location}");
    (
        format!("{stem}/operationStatuses/{opid}?api-version={api_version}"),
        format!("{stem}/operationResults/{opid}?api-version={api_version}"),
    )
}

fn operation(st: &SimState, req: &Req, kind: &str, opid: &str) -> Reply {
    if req.method != "GET" {
        return method_not_allowed(req.method);
    }
    let Some(op) = st.ops.get(opid) else {
        return Reply::error(
            404,
            "OperationNotFound",
            format!("The operation '{opid}' could not be found."),
        );
    };
    // An operation's status lives in the region that took it: while that region is down, its
    // status URL answers as the region does.
    if st.is_down(&op.location) {
        return outage_reply(st, &op.location, &format!("operation '{opid}'"));
    }
    if kind.eq_ignore_ascii_case("operationStatuses") {
        let mut v = json!({
            "id": format!(
                "/subscriptions/{}/providers/Microsoft.Simulator/locations/{}/operationStatuses/{}",
                op.subscription, op.location, op.id
            ),
            "name": op.id,
            "status": op.status.as_str(),
            "startTime": rfc3339_millis(op.started),
        });
        if let Value::Object(o) = &mut v {
            if let Some(end) = op.ended {
                o.insert("endTime".into(), json!(rfc3339_millis(end)));
            }
            if let Some(e) = &op.error {
                o.insert(
                    "error".into(),
                    json!({ "code": e.code, "message": e.message }),
                );
            }
        }
        let r = Reply::json(200, v);
        return if op.status == OpStatus::InProgress {
            r.header("Retry-After", "1")
        } else {
            r
        };
    }
    if !kind.eq_ignore_ascii_case("operationResults") {
        return invalid_uri(req.path);
    }
    match op.status {
        OpStatus::InProgress => {
            let (_, location) = op_urls(
                req.base,
                &op.subscription,
                &op.location,
                &op.id,
                req.api_version,
            );
            Reply::empty(202)
                .header("Location", location)
                .header("Retry-After", "1")
        }
        OpStatus::Failed => {
            let e = op.error.clone().unwrap_or(super::state::OpError {
                status: 500,
                code: "InternalServerError".into(),
                message: "The operation failed.".into(),
            });
            Reply::error(e.status, &e.code, e.message)
        }
        OpStatus::Succeeded => match st.resources.get(&op.target) {
            Some(r) if op.result_body => Reply::json(200, st.rendered(r)),
            _ => Reply::empty(204),
        },
    }
}
