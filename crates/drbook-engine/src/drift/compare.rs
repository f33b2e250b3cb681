//! The comparison of `drbook drift`, with no I/O: the references against the inventory (and
//! the few GETs of types Resource Graph does not list), today's components against the
//! references, and today's components against the snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use drbook_azure::path::{GROUP_TYPE, SUBSCRIPTION_TYPE, target_of};

use super::refs::{Reference, Refs, Unchecked};
use super::{Change, Drift, Gap, Mismatch, Snapshot};
use crate::discover::Component;
use crate::discover::inventory::{Inventory, Resource};

/// Child resource types that Resource Graph's `Resources` table lists (Microsoft's "Azure
/// Resource Graph table and resource type reference"). Top-level types are listed as well.
/// Other child types (Traffic Manager endpoints, SQL failover groups, DNS record sets,
/// Front Door origins, Service Bus geo-DR aliases, federated credentials, ...) are read
/// with one GET each.
const GRAPH_CHILD_TYPES: &[&str] = &[
    "microsoft.sql/servers/databases",
    "microsoft.sql/servers/elasticpools",
    "microsoft.sql/managedinstances/databases",
    "microsoft.web/sites/slots",
    "microsoft.compute/virtualmachines/extensions",
    "microsoft.cdn/profiles/endpoints",
    "microsoft.cdn/profiles/afdendpoints",
];

/// Whether Resource Graph lists resources of `type_` (lower case): resource groups and
/// subscriptions in `ResourceContainers`, top-level types and a few child types in
/// `Resources`.
pub fn graph_lists(type_: &str) -> bool {
    type_ == GROUP_TYPE
        || type_ == SUBSCRIPTION_TYPE
        || (type_.matches('/').count() == 1 && !GRAPH_UNLISTED_TYPES.contains(&type_))
        || GRAPH_CHILD_TYPES.contains(&type_)
}

/// Top-level types the `Resources` table does not list either: deployments (at subscription
/// or group scope; Resource Graph has only deployment stacks, in `deploymentresources`).
const GRAPH_UNLISTED_TYPES: &[&str] = &["microsoft.resources/deployments"];

/// Whether the Graph row of what holds `id` settles that `id` exists, for child resources ARM
/// serves on their own but Resource Graph keeps inside their holder's row: a Logic App's
/// triggers (`properties.definition.triggers`) and a Traffic Manager profile's endpoints
/// (`properties.endpoints`, as in the spec's Profile-GET-WithEndpoints). `None` when the row
/// does not say (no holder listed, nothing of the kind in it).
fn in_holder_row(inv: &Inventory, id: &str, type_: &str) -> Option<bool> {
    let t = target_of(id)?;
    let name = t.id.rsplit('/').next()?;
    let holder = || inv.get(&t.container()?);
    if type_ == "microsoft.logic/workflows/triggers" {
        let triggers = holder()?.prop("definition.triggers")?.as_object()?;
        return Some(triggers.keys().any(|k| k.eq_ignore_ascii_case(name)));
    }
    let is_endpoint = type_
        .strip_prefix("microsoft.network/trafficmanagerprofiles/")
        .is_some_and(|k| k.ends_with("endpoints") && !k.contains('/'));
    if is_endpoint {
        let endpoints = holder()?.prop("endpoints")?.as_array()?;
        return Some(endpoints.iter().any(|e| {
            e.get("id")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(&t.id))
        }));
    }
    None
}

/// What a GET of a resource Resource Graph does not list answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// It exists; its `type` (lower case), when the answer holds one.
    Found(Option<String>),
    NotFound,
}

/// What is known of one referenced resource.
enum State {
    Present,
    Absent,
    Other(String, String),
    Unchecked(String),
}

fn in_subs(subs: &[String], id: &str) -> bool {
    target_of(id).is_some_and(|t| subs.iter().any(|s| s.eq_ignore_ascii_case(&t.subscription)))
}

/// The nearest holder of `id` that Resource Graph lists (`id` itself if it is listed).
fn listed_holder(id: &str) -> Option<(String, String)> {
    let mut t = target_of(id)?;
    while !graph_lists(&t.type_) {
        t = target_of(&t.container()?)?;
    }
    Some((t.id, t.type_))
}

fn exists_in_graph(inv: &Inventory, id: &str, type_: &str) -> bool {
    let Some(t) = target_of(id) else { return false };
    match type_ {
        SUBSCRIPTION_TYPE => inv
            .subscriptions
            .keys()
            .any(|s| s.eq_ignore_ascii_case(&t.subscription)),
        GROUP_TYPE => t
            .resource_group
            .as_deref()
            .is_some_and(|g| inv.group(&t.subscription, g).is_some()),
        _ => inv.get(id).is_some(),
    }
}

/// The references Resource Graph cannot settle: `(id, api_version)` to GET, once each. Those
/// whose listed holder is gone need no GET (they are gone with it), nor those outside the
/// subscriptions read.
pub fn to_fetch(inv: &Inventory, refs: &Refs, subs: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    for r in &refs.refs {
        if graph_lists(&r.type_) || !in_subs(subs, &r.resource) || inv.get(&r.resource).is_some() {
            continue;
        }
        if in_holder_row(inv, &r.resource, &r.type_).is_some() {
            continue;
        }
        let Some(api) = api_of(refs, &r.resource) else {
            continue;
        };
        let holder_there =
            listed_holder(&r.resource).is_some_and(|(id, ty)| exists_in_graph(inv, &id, &ty));
        if holder_there && seen.insert(r.resource.to_ascii_lowercase()) {
            out.push((r.resource.clone(), api));
        }
    }
    out
}

/// The api-version a step naming `id` reads it with.
fn api_of(refs: &Refs, id: &str) -> Option<String> {
    refs.refs
        .iter()
        .filter(|r| r.resource.eq_ignore_ascii_case(id))
        .find_map(|r| r.api_version.clone())
}

/// Types that replace one another when a service moves to its successor, keeping the name:
/// a Consumption Logic App rebuilt as a Standard one (a site), Front Door classic migrated to
/// Standard/Premium (a `Microsoft.Cdn` profile), CDN endpoints to Front Door endpoints, single
/// servers to flexible servers, Redis to Redis Enterprise, a web app moved to Container Apps,
/// Cosmos DB for MongoDB (RU) to vCore. Only these count as "the same resource with another
/// type": a plan or an Application Insights component named like a deleted site is no stand-in.
const SUCCESSORS: &[(&str, &str)] = &[
    ("microsoft.logic/workflows", "microsoft.web/sites"),
    ("microsoft.network/frontdoors", "microsoft.cdn/profiles"),
    (
        "microsoft.cdn/profiles/endpoints",
        "microsoft.cdn/profiles/afdendpoints",
    ),
    (
        "microsoft.dbforpostgresql/servers",
        "microsoft.dbforpostgresql/flexibleservers",
    ),
    (
        "microsoft.dbformysql/servers",
        "microsoft.dbformysql/flexibleservers",
    ),
    ("microsoft.cache/redis", "microsoft.cache/redisenterprise"),
    ("microsoft.web/sites", "microsoft.app/containerapps"),
    (
        "microsoft.documentdb/databaseaccounts",
        "microsoft.documentdb/mongoclusters",
    ),
];

fn stands_in(a: &str, b: &str) -> bool {
    SUCCESSORS
        .iter()
        .any(|(x, y)| (*x == a && *y == b) || (*x == b && *y == a))
}

/// `(holder id, name)`, lower case: where a resource of a successor type with the same name
/// would stand in for the one a step names.
fn place(id: &str) -> Option<(String, String)> {
    let t = target_of(id)?;
    let name = t.id.rsplit('/').next()?.to_ascii_lowercase();
    Some((t.container()?.to_ascii_lowercase(), name))
}

fn state_of(
    inv: &Inventory,
    r: &Reference,
    refs: &Refs,
    fetched: &BTreeMap<String, Fetched>,
    subs: &[String],
    by_place: &HashMap<(String, String), Vec<&Resource>>,
) -> State {
    if !in_subs(subs, &r.resource) {
        return State::Unchecked(format!(
            "its subscription is not among those read ({}): pass it with --subscription",
            subs.join(", ")
        ));
    }
    // Resource Graph may list more than the types it is known to (never fewer): what it
    // lists is settled by it.
    if let Some(found) = inv.get(&r.resource) {
        return if found.type_ == r.type_ {
            State::Present
        } else {
            State::Other(found.type_.clone(), found.id.clone())
        };
    }
    if graph_lists(&r.type_) {
        if exists_in_graph(inv, &r.resource, &r.type_) {
            return State::Present;
        }
        let other = place(&r.resource)
            .and_then(|p| by_place.get(&p))
            .and_then(|v| v.iter().find(|x| stands_in(&x.type_, &r.type_)));
        return match other {
            Some(x) => State::Other(x.type_.clone(), x.id.clone()),
            None => State::Absent,
        };
    }
    match in_holder_row(inv, &r.resource, &r.type_) {
        Some(true) => return State::Present,
        Some(false) => return State::Absent,
        None => {}
    }
    match fetched.get(&r.resource.to_ascii_lowercase()) {
        Some(Fetched::Found(Some(t))) if *t != r.type_ => {
            State::Other(t.clone(), r.resource.clone())
        }
        Some(Fetched::Found(_)) => State::Present,
        Some(Fetched::NotFound) => State::Absent,
        None => match listed_holder(&r.resource) {
            Some((id, ty)) if !exists_in_graph(inv, &id, &ty) => State::Absent,
            _ if api_of(refs, &r.resource).is_none() => State::Unchecked(format!(
                "Resource Graph does not list {}, and no step naming it gives an api_version to GET it with",
                r.type_
            )),
            _ => State::Unchecked("not read: its GET did not finish".into()),
        },
    }
}

/// Whether `id` is inside `outer` (a child, grandchild, ... resource of it), both lower case.
fn inside(id: &str, outer: &str) -> bool {
    id.len() > outer.len() + 1 && id.starts_with(outer) && id.as_bytes()[outer.len()] == b'/'
}

/// Which resources of the components the runbooks cover. A runbook covers what a step names,
/// what holds it (a step on a database covers its server), and what is inside what it covers
/// (a Service Bus geo-DR alias covers its namespace, and so the namespace's queues, which
/// geo-DR replicates); a plan when it covers a site the plan hosts; and the counterpart of a
/// covered resource when the two are paired one to one (failing over to a standby plan
/// covers the primary plan it stands in for). Resource groups and subscriptions cover
/// nothing inside them: a step reading a group's location does not fail over its resources.
struct Coverage {
    /// Lower-case ids named by a step, with every holder of each.
    named: BTreeSet<String>,
    /// Lower-case plan id → the sites it hosts.
    hosts: HashMap<String, Vec<String>>,
    /// Lower-case id → its one-to-one counterpart.
    partner: HashMap<String, String>,
}

impl Coverage {
    fn new(inv: &Inventory, refs: &Refs, components: &[Component]) -> Coverage {
        let mut named = BTreeSet::new();
        for r in &refs.refs {
            let mut t = target_of(&r.resource);
            while let Some(x) = t {
                named.insert(x.id.to_ascii_lowercase());
                t = x.container().as_deref().and_then(target_of);
            }
        }
        let mut hosts: HashMap<String, Vec<String>> = HashMap::new();
        for site in inv.of_type("microsoft.web/sites") {
            if let Some(plan) = site.prop_str("serverFarmId") {
                hosts
                    .entry(plan.to_ascii_lowercase())
                    .or_default()
                    .push(site.id.to_ascii_lowercase());
            }
        }
        let mut count: HashMap<String, usize> = HashMap::new();
        for c in components {
            for (a, b) in &c.pairs {
                *count.entry(a.to_ascii_lowercase()).or_default() += 1;
                *count.entry(b.to_ascii_lowercase()).or_default() += 1;
            }
        }
        let mut partner = HashMap::new();
        for c in components {
            for (a, b) in &c.pairs {
                let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
                if a != b && count.get(&a) == Some(&1) && count.get(&b) == Some(&1) {
                    partner.insert(a.clone(), b.clone());
                    partner.insert(b, a);
                }
            }
        }
        Coverage {
            named,
            hosts,
            partner,
        }
    }

    /// Covered by what steps name, what holds it or what it holds.
    fn named(&self, id: &str) -> bool {
        let id = id.to_ascii_lowercase();
        if self.named.contains(&id) {
            return true;
        }
        let mut t = target_of(&id)
            .and_then(|t| t.container())
            .and_then(|c| target_of(&c));
        while let Some(x) = t {
            if x.type_ != GROUP_TYPE && x.type_ != SUBSCRIPTION_TYPE && self.named.contains(&x.id) {
                return true;
            }
            t = x.container().as_deref().and_then(target_of);
        }
        self.hosts
            .get(&id)
            .is_some_and(|sites| sites.iter().any(|s| self.named.contains(s)))
    }

    fn covers(&self, id: &str) -> bool {
        self.named(id)
            || self
                .partner
                .get(&id.to_ascii_lowercase())
                .is_some_and(|p| self.named(p))
    }
}

/// The estate as read, and where the application is.
#[derive(Debug, Clone, Copy)]
pub struct Estate<'a> {
    /// Everything in the subscriptions read: what a named resource is looked up in.
    pub inv: &'a Inventory,
    /// Only the application's resources (`--resource-group`, `--tag`): what the components
    /// (uncovered, new) are found in. `None`: all of `inv`.
    pub scoped: Option<&'a Inventory>,
    pub subs: &'a [String],
    pub primary: &'a str,
    pub secondary: &'a str,
}

/// The comparison. `fetched`: the GETs of [`to_fetch`], by lower-case id.
pub fn compare(
    estate: &Estate<'_>,
    refs: &Refs,
    fetched: &BTreeMap<String, Fetched>,
    snapshot: Option<&Snapshot>,
) -> Drift {
    let Estate {
        inv,
        subs,
        primary,
        secondary,
        ..
    } = *estate;
    let mut by_place: HashMap<(String, String), Vec<&Resource>> = HashMap::new();
    for res in &inv.resources {
        if let Some(p) = place(&res.id) {
            by_place.entry(p).or_default().push(res);
        }
    }
    let mut d = Drift {
        generated: snapshot.and_then(|s| s.generated.clone()),
        subscriptions: subs.to_vec(),
        primary: primary.to_string(),
        secondary: secondary.to_string(),
        unchecked: refs.unchecked.clone(),
        snapshot: snapshot.is_some(),
        ..Drift::default()
    };
    let mut states: BTreeMap<String, State> = BTreeMap::new();
    for r in &refs.refs {
        let key = r.resource.to_ascii_lowercase();
        d.named_by
            .entry(key.clone())
            .or_default()
            .push((r.file.clone(), r.step.clone()));
        let state = states
            .entry(key.clone())
            .or_insert_with(|| state_of(inv, r, refs, fetched, subs, &by_place));
        match state {
            State::Present => {}
            State::Absent => {
                if !d
                    .missing
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(&r.resource))
                {
                    d.missing.push(r.resource.clone());
                }
            }
            State::Other(found, found_id) => d.type_mismatch.push(Mismatch {
                resource: r.resource.clone(),
                expected: r.type_.clone(),
                found: found.clone(),
                found_id: found_id.clone(),
                file: r.file.clone(),
                step: r.step.clone(),
            }),
            State::Unchecked(reason) => d.unchecked.push(Unchecked {
                resource: r.resource.clone(),
                file: r.file.clone(),
                runbook: r.runbook.clone(),
                step: r.step.clone(),
                reason: reason.clone(),
            }),
        }
    }
    d.referenced = states.len();
    d.read_by_get = fetched
        .keys()
        .filter_map(|k| {
            refs.refs
                .iter()
                .find(|r| r.resource.eq_ignore_ascii_case(k))
                .map(|r| r.resource.clone())
        })
        .collect();
    let now = crate::discover::analyse(estate.scoped.unwrap_or(inv), subs, primary, secondary);
    let covered = Coverage::new(inv, refs, &now.components);
    let gaps: Vec<(String, String)> = snapshot.map(|s| s.findings.clone()).unwrap_or_default();
    let known_gap = |id: &str| -> Option<String> {
        let id = id.to_ascii_lowercase();
        let before =
            snapshot.is_some_and(|s| s.resources.iter().any(|(r, _)| r.eq_ignore_ascii_case(&id)));
        if !before {
            return None;
        }
        let flagged = |id: &str| {
            let id = id.to_ascii_lowercase();
            gaps.iter()
                .find(|(r, _)| {
                    let r = r.to_ascii_lowercase();
                    r == id || inside(&r, &id) || inside(&id, &r)
                })
                .map(|(_, code)| code.clone())
        };
        flagged(&id).or_else(|| {
            // The App Service plan of sites that are all known gaps (a Function App with no
            // standby, on a plan of its own) is part of their gap.
            let plan = inv
                .get(&id)
                .filter(|r| r.type_ == "microsoft.web/serverfarms")?;
            let codes: Vec<String> = inv
                .of_type("microsoft.web/sites")
                .filter(|site| {
                    site.prop_str("serverFarmId")
                        .is_some_and(|p| p.eq_ignore_ascii_case(&plan.id))
                })
                .map(|site| flagged(&site.id))
                .collect::<Option<Vec<String>>>()?;
            codes.into_iter().next()
        })
    };
    let mut in_now: BTreeSet<String> = BTreeSet::new();
    for c in &now.components {
        for id in &c.resources {
            let key = id.to_ascii_lowercase();
            d.component_of
                .entry(key.clone())
                .or_insert_with(|| c.component.clone());
            if in_now.insert(key) && !covered.covers(id) {
                match known_gap(id) {
                    Some(code) => d.gaps.push(Gap {
                        resource: id.clone(),
                        finding: code,
                    }),
                    None => d.uncovered.push(id.clone()),
                }
            }
        }
    }
    if let Some(s) = snapshot {
        let before: BTreeSet<String> = s
            .resources
            .iter()
            .map(|(id, _)| id.to_ascii_lowercase())
            .collect();
        let mut seen = BTreeSet::new();
        for (id, component) in &s.resources {
            if inv.get(id).is_none() && seen.insert(id.to_ascii_lowercase()) {
                d.gone.push(Change {
                    resource: id.clone(),
                    component: component.clone(),
                });
            }
        }
        for c in &now.components {
            for id in &c.resources {
                if !before.contains(&id.to_ascii_lowercase())
                    && seen.insert(id.to_ascii_lowercase())
                {
                    d.new.push(Change {
                        resource: id.clone(),
                        component: c.component.clone(),
                    });
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::inventory::Scope;
    use crate::drift::Gap;
    use serde_json::{Value, json};

    const P: &str = "/subscriptions/s/resourceGroups/rg-a/providers";
    const S: &str = "/subscriptions/s/resourceGroups/rg-b/providers";

    fn row(id: &str, type_: &str, location: &str, properties: Value) -> Value {
        json!({
            "id": id, "name": id.rsplit('/').next(), "type": type_, "location": location,
            "resourceGroup": id.split('/').nth(4), "subscriptionId": "s", "properties": properties,
        })
    }

    fn groups() -> Vec<Value> {
        ["rg-a", "rg-b"]
            .iter()
            .map(|g| json!({"id": format!("/subscriptions/s/resourceGroups/{g}"), "name": g,
                "type": "microsoft.resources/subscriptions/resourcegroups", "subscriptionId": "s",
                "location": "uksouth"}))
            .chain([json!({"id": "/subscriptions/s", "name": "prod", "type": "microsoft.resources/subscriptions", "subscriptionId": "s"})])
            .collect()
    }

    fn sites(extra: &[&str]) -> Inventory {
        let mut rows = vec![
            row(
                &format!("{P}/Microsoft.Web/sites/app-uksouth"),
                "microsoft.web/sites",
                "uksouth",
                json!({}),
            ),
            row(
                &format!("{S}/Microsoft.Web/sites/app-ukwest"),
                "microsoft.web/sites",
                "ukwest",
                json!({}),
            ),
        ];
        for id in extra {
            rows.push(row(id, "microsoft.web/sites", "uksouth", json!({})));
        }
        Inventory::from_rows(&rows, &groups(), &Scope::default()).unwrap()
    }

    fn reference(id: &str, type_: &str, step: &str) -> Reference {
        Reference {
            resource: id.into(),
            type_: type_.into(),
            file: "web.toml".into(),
            runbook: "web-failover".into(),
            step: step.into(),
            api_version: Some("2024-01-01".into()),
        }
    }

    fn run(
        inv: &Inventory,
        refs: &Refs,
        fetched: &BTreeMap<String, Fetched>,
        snap: Option<&Snapshot>,
    ) -> Drift {
        let estate = Estate {
            inv,
            scoped: None,
            subs: &["s".to_string()],
            primary: "uksouth",
            secondary: "ukwest",
        };
        compare(&estate, refs, fetched, snap)
    }

    #[test]
    fn a_named_resource_that_is_gone_is_missing_and_one_named_by_none_is_uncovered() {
        let a = format!("{P}/Microsoft.Web/sites/app-uksouth");
        let b = format!("{S}/Microsoft.Web/sites/app-ukwest");
        let refs = Refs {
            refs: vec![
                reference(&a, "microsoft.web/sites", "primary"),
                reference(&b, "microsoft.web/sites", "secondary"),
                reference("/subscriptions/s/resourceGroups/rg-b", GROUP_TYPE, "group"),
            ],
            ..Refs::default()
        };
        let d = run(&sites(&[]), &refs, &BTreeMap::new(), None);
        assert!(!d.drifted(), "{d:?}");
        assert_eq!(d.referenced, 3);
        // The secondary site deleted, a second primary site added.
        let extra = format!("{P}/Microsoft.Web/sites/app-two-uksouth");
        let mut inv = sites(&[&extra]);
        inv = Inventory::from_rows(
            &inv.resources
                .iter()
                .filter(|r| r.id != b)
                .map(|r| row(&r.id, &r.type_, &r.location, json!({})))
                .collect::<Vec<_>>(),
            &groups(),
            &Scope::default(),
        )
        .unwrap();
        let snap = Snapshot {
            resources: vec![(a.clone(), "web".into()), (b.clone(), "web".into())],
            ..Snapshot::default()
        };
        let d = run(&inv, &refs, &BTreeMap::new(), Some(&snap));
        assert_eq!(d.missing, [b.as_str()]);
        assert_eq!(d.uncovered, [extra.as_str()]);
        assert_eq!(
            d.gone,
            [Change {
                resource: b,
                component: "web".into()
            }]
        );
        assert_eq!(
            d.new,
            [Change {
                resource: extra,
                component: "web".into()
            }]
        );
        assert!(d.drifted());
        assert_eq!(
            d.named_by[&a.to_ascii_lowercase()],
            [("web.toml".to_string(), "primary".to_string())]
        );
    }

    #[test]
    fn the_same_name_in_the_same_place_with_another_type_is_a_type_mismatch() {
        // The Consumption Logic App the runbook names became a Standard one (a site).
        let wf = format!("{P}/Microsoft.Logic/workflows/app-uksouth");
        let refs = Refs {
            refs: vec![reference(&wf, "microsoft.logic/workflows", "enable")],
            ..Refs::default()
        };
        let d = run(&sites(&[]), &refs, &BTreeMap::new(), None);
        assert!(d.missing.is_empty(), "{:?}", d.missing);
        assert_eq!(
            d.type_mismatch,
            [Mismatch {
                resource: wf,
                expected: "microsoft.logic/workflows".into(),
                found: "microsoft.web/sites".into(),
                found_id: format!("{P}/Microsoft.Web/sites/app-uksouth"),
                file: "web.toml".into(),
                step: "enable".into(),
            }]
        );
    }

    #[test]
    fn a_resource_of_an_unrelated_type_with_the_name_is_no_stand_in() {
        // A plan named like the deleted site.
        let site = format!("{P}/Microsoft.Web/sites/app-uksouth");
        let inv = Inventory::from_rows(
            &[row(
                &format!("{P}/Microsoft.Web/serverfarms/app-uksouth"),
                "microsoft.web/serverfarms",
                "uksouth",
                json!({}),
            )],
            &groups(),
            &Scope::default(),
        )
        .unwrap();
        let refs = Refs {
            refs: vec![reference(&site, "microsoft.web/sites", "read")],
            ..Refs::default()
        };
        let d = run(&inv, &refs, &BTreeMap::new(), None);
        assert_eq!(d.missing, [site.as_str()]);
        assert!(d.type_mismatch.is_empty(), "{:?}", d.type_mismatch);
    }

    #[test]
    fn types_graph_does_not_list_are_read_by_get_unless_their_holder_is_gone() {
        let ep = |srv: &str, f: &str| {
            format!(
                "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.Sql/servers/{srv}/failoverGroups/{f}"
            )
        };
        let t = "microsoft.sql/servers/failovergroups";
        let inv = Inventory::from_rows(
            &[row(
                "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.Sql/servers/tm",
                "microsoft.sql/servers",
                "uksouth",
                json!({}),
            )],
            &groups(),
            &Scope::default(),
        )
        .unwrap();
        let refs = Refs {
            refs: vec![
                reference(&ep("tm", "one"), t, "a"),
                reference(&ep("tm", "two"), t, "b"),
                reference(&ep("gone", "x"), t, "c"),
                reference(&ep("tm", "one"), t, "d"),
                reference("/subscriptions/other/resourceGroups/rg", GROUP_TYPE, "e"),
            ],
            ..Refs::default()
        };
        let subs = ["s".to_string()];
        let want: Vec<String> = to_fetch(&inv, &refs, &subs)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(want, [ep("tm", "one"), ep("tm", "two")]);
        let fetched = BTreeMap::from([
            (
                ep("tm", "one").to_ascii_lowercase(),
                Fetched::Found(Some(t.into())),
            ),
            (ep("tm", "two").to_ascii_lowercase(), Fetched::NotFound),
        ]);
        let d = run(&inv, &refs, &fetched, None);
        assert_eq!(d.missing, [ep("tm", "two"), ep("gone", "x")]);
        assert_eq!(d.read_by_get, [ep("tm", "one"), ep("tm", "two")]);
        assert_eq!(d.unchecked.len(), 1);
        assert!(
            d.unchecked[0].reason.contains("--subscription"),
            "{:?}",
            d.unchecked
        );
    }

    #[test]
    fn endpoints_and_triggers_are_settled_by_their_holders_row() {
        let tm = "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.Network/trafficManagerProfiles/tm";
        let wf = "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.Logic/workflows/wf";
        let inv = Inventory::from_rows(
            &[
                row(tm, "microsoft.network/trafficmanagerprofiles", "global", json!({
                    "endpoints": [{ "id": format!("{tm}/azureEndpoints/ep-a"), "name": "ep-a" }],
                })),
                row(wf, "microsoft.logic/workflows", "uksouth", json!({
                    "definition": { "triggers": { "Recurrence": { "type": "Recurrence" } } },
                })),
            ],
            &groups(),
            &Scope::default(),
        )
        .unwrap();
        let refs = Refs {
            refs: vec![
                reference(
                    &format!("{tm}/azureEndpoints/EP-A"),
                    "microsoft.network/trafficmanagerprofiles/azureendpoints",
                    "a",
                ),
                reference(
                    &format!("{tm}/azureEndpoints/ep-b"),
                    "microsoft.network/trafficmanagerprofiles/azureendpoints",
                    "b",
                ),
                reference(
                    &format!("{wf}/triggers/recurrence"),
                    "microsoft.logic/workflows/triggers",
                    "c",
                ),
                reference(
                    &format!("{wf}/triggers/Hourly"),
                    "microsoft.logic/workflows/triggers",
                    "d",
                ),
            ],
            ..Refs::default()
        };
        assert!(to_fetch(&inv, &refs, &["s".to_string()]).is_empty());
        let d = run(&inv, &refs, &BTreeMap::new(), None);
        assert_eq!(
            d.missing,
            [
                format!("{tm}/azureEndpoints/ep-b"),
                format!("{wf}/triggers/Hourly")
            ]
        );
        assert!(d.unchecked.is_empty() && d.read_by_get.is_empty(), "{d:?}");
    }

    /// Plans named by no step: the standby plan is named; the primary plan is covered as its
    /// one-to-one counterpart and as the plan of a named site; a second primary site on the
    /// same plan, paired with the same standby, is not covered by that standby.
    #[test]
    fn counterparts_plans_and_holders_cover_what_no_step_names() {
        let plan = |rg: &str, n: &str| {
            format!("/subscriptions/s/resourceGroups/{rg}/providers/Microsoft.Web/serverfarms/{n}")
        };
        let site = |rg: &str, n: &str| {
            format!("/subscriptions/s/resourceGroups/{rg}/providers/Microsoft.Web/sites/{n}")
        };
        let (pa, pb) = (plan("rg-a", "plan-uksouth"), plan("rg-b", "plan-ukwest"));
        let (a, b) = (site("rg-a", "app-uksouth"), site("rg-b", "app-ukwest"));
        let rows = |extra: bool| {
            let mut r = vec![
                row(&pa, "microsoft.web/serverfarms", "uksouth", json!({})),
                row(&pb, "microsoft.web/serverfarms", "ukwest", json!({})),
                row(
                    &a,
                    "microsoft.web/sites",
                    "uksouth",
                    json!({ "serverFarmId": pa }),
                ),
                row(
                    &b,
                    "microsoft.web/sites",
                    "ukwest",
                    json!({ "serverFarmId": pb }),
                ),
            ];
            if extra {
                r.push(row(
                    &site("rg-a", "admin-uksouth"),
                    "microsoft.web/sites",
                    "uksouth",
                    json!({ "serverFarmId": pa }),
                ));
            }
            r
        };
        let refs = Refs {
            refs: vec![
                reference(&b, "microsoft.web/sites", "start"),
                reference(&pb, "microsoft.web/serverfarms", "scale"),
            ],
            ..Refs::default()
        };
        let inv = Inventory::from_rows(&rows(false), &groups(), &Scope::default()).unwrap();
        let d = run(&inv, &refs, &BTreeMap::new(), None);
        assert_eq!(
            d.uncovered,
            Vec::<String>::new(),
            "a and its plan by their counterparts"
        );
        let inv = Inventory::from_rows(&rows(true), &groups(), &Scope::default()).unwrap();
        let d = run(&inv, &refs, &BTreeMap::new(), None);
        // The standby now stands in for two primary sites: neither is covered through it.
        assert!(
            d.uncovered.contains(&site("rg-a", "admin-uksouth")),
            "{:?}",
            d.uncovered
        );
    }

    /// What no runbook covers and discover flagged when the runbooks were generated is a known
    /// gap, not drift; a new resource is drift whatever discover says of it.
    #[test]
    fn known_gaps_are_listed_apart_and_new_ones_are_not_known() {
        let a = format!("{P}/Microsoft.Web/sites/app-uksouth");
        let b = format!("{S}/Microsoft.Web/sites/app-ukwest");
        let extra = format!("{P}/Microsoft.Web/sites/app-two-uksouth");
        let inv = sites(&[&extra]);
        // No runbook names the sites.
        let refs = Refs::default();
        let snap = Snapshot {
            resources: vec![(a.clone(), "web".into()), (b.clone(), "web".into())],
            findings: vec![
                (a.clone(), "unpaired".into()),
                (extra.clone(), "unpaired".into()),
            ],
            ..Snapshot::default()
        };
        let d = run(&inv, &refs, &BTreeMap::new(), Some(&snap));
        assert_eq!(
            d.gaps,
            [Gap {
                resource: a,
                finding: "unpaired".into()
            }]
        );
        assert_eq!(d.uncovered, [extra.as_str(), b.as_str()]);
    }
}
