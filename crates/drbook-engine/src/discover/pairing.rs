//! Components and pairing. A resource belongs to the component of its top-level type (a
//! `microsoft.web/sites` by its kind: function app, Logic App Standard, or web app); an App
//! Service plan to the component of the sites it hosts.
//!
//! Each resource in the primary region is paired with its counterpart by the first of these
//! rules that matches, and the pair keeps the rule's name:
//!
//! | rule | how |
//! |---|---|
//! | `same-resource-multi-region` | Cosmos DB with a location in the secondary; storage with a geo-redundant SKU replicating to it; ACR with a replication there |
//! | `failover-group-partner` | a SQL failover group's partner server (and its group and databases of the same names) |
//! | `geo-replica` | a SQL database in the secondary marked as its geo-secondary (`secondaryType: Geo` or `sourceDatabaseId`) |
//! | `servicebus-geo-dr` | a Service Bus namespace's `disasterRecoveryConfigs` partner |
//! | `frontdoor-origins` | a site that is an origin of a Front Door origin group holding an origin on a site of the secondary |
//! | `trafficmanager-endpoints` | a resource a Traffic Manager profile routes to, beside an endpoint on a resource of the secondary |
//! | `tag:role+app` | the one resource of the same component in the secondary with the same `app` tag and a `role` of standby/secondary/dr |
//! | `name-pattern` | the resource whose id is this one's with the region (or its short code) swapped |
//! | `plan-of-paired-site` | an App Service plan whose site is paired: the plan of that site's counterpart |

use std::collections::BTreeMap;

use serde_json::Value;

use super::Component;
use super::inventory::{Inventory, Resource, parent_id};
use super::regions;

/// The components in the order they are listed.
pub const COMPONENTS: &[(&str, &str)] = &[
    ("network", "network-failover"),
    ("data-sql", "data-sql-failover"),
    ("data-cosmos", "data-cosmos-failover"),
    ("data-storage", "data-storage-failover"),
    ("servicebus", "servicebus-failover"),
    ("keyvault", "keyvault-failover"),
    ("acr", "artifacts-continuity"),
    ("web", "web-failover"),
    ("function", "function-failover"),
    ("logic", "logic-failover"),
    ("logic-standard", "logic-standard-failover"),
    ("aks", "aks-failover"),
    ("pipelines", "pipelines-failover"),
];

/// What the rules read: the inventory and the two regions.
pub struct Ctx<'a> {
    pub inv: &'a Inventory,
    pub primary: String,
    pub secondary: String,
}

impl<'a> Ctx<'a> {
    pub fn new(inv: &'a Inventory, primary: &str, secondary: &str) -> Ctx<'a> {
        Ctx {
            inv,
            primary: primary.to_string(),
            secondary: secondary.to_string(),
        }
    }

    pub(super) fn in_secondary(&self, r: &Resource) -> bool {
        r.location == self.secondary
    }

    pub(super) fn in_primary(&self, r: &Resource) -> bool {
        r.location == self.primary
    }

    /// The component of `r`, if drbook knows its kind.
    pub fn component_of(&self, r: &Resource) -> Option<&'static str> {
        let top = top_type(&r.type_);
        match top.as_str() {
            "microsoft.web/sites" => {
                // A slot or config child: its site's kind decides.
                let site = if r.parent().is_some() {
                    self.inv.get(top_id(&r.id))?
                } else {
                    r
                };
                Some(site_component(site))
            }
            "microsoft.web/serverfarms" => Some(
                self.inv
                    .sites_on_plan(&r.id)
                    .next()
                    .map_or("web", site_component),
            ),
            "microsoft.logic/workflows" => Some("logic"),
            "microsoft.containerservice/managedclusters" => Some("aks"),
            "microsoft.sql/servers" => Some("data-sql"),
            "microsoft.documentdb/databaseaccounts" => Some("data-cosmos"),
            "microsoft.storage/storageaccounts" => Some("data-storage"),
            "microsoft.cdn/profiles"
            | "microsoft.network/frontdoors"
            | "microsoft.network/trafficmanagerprofiles"
            | "microsoft.network/dnszones" => Some("network"),
            "microsoft.containerregistry/registries" => Some("acr"),
            "microsoft.servicebus/namespaces" => Some("servicebus"),
            "microsoft.keyvault/vaults" => Some("keyvault"),
            "microsoft.compute/virtualmachinescalesets" => Some("pipelines"),
            _ => None,
        }
    }

    /// The resources of the secondary region of `type_`.
    fn secondaries<'b>(&'b self, type_: &'b str) -> impl Iterator<Item = &'b Resource> {
        self.inv
            .of_type(type_)
            .filter(move |r| self.in_secondary(r))
    }
}

fn site_component(site: &Resource) -> &'static str {
    let kind = site.kind.to_ascii_lowercase();
    if kind.contains("workflowapp") {
        "logic-standard"
    } else if kind.contains("functionapp") {
        "function"
    } else {
        "web"
    }
}

/// `microsoft.sql/servers/databases` → `microsoft.sql/servers`.
pub fn top_type(t: &str) -> String {
    t.split('/').take(2).collect::<Vec<_>>().join("/")
}

/// The id of the top-level resource of `id`.
fn top_id(id: &str) -> &str {
    let Some(p) = id.to_ascii_lowercase().rfind("/providers/") else {
        return id;
    };
    // providers / NS / type / name
    let mut end = p + 1;
    for _ in 0..4 {
        match id[end..].find('/') {
            Some(i) => end += i + 1,
            None => return id,
        }
    }
    &id[..end - 1]
}

/// Whether the resource is one discovery pairs (in the primary region, of a kind with a
/// regional counterpart).
pub fn pairable(ctx: &Ctx, r: &Resource) -> bool {
    if r.location != ctx.primary {
        return false;
    }
    matches!(
        r.type_.as_str(),
        "microsoft.web/sites"
            | "microsoft.web/serverfarms"
            | "microsoft.logic/workflows"
            | "microsoft.containerservice/managedclusters"
            | "microsoft.sql/servers"
            | "microsoft.sql/servers/databases"
            | "microsoft.sql/servers/failovergroups"
            | "microsoft.documentdb/databaseaccounts"
            | "microsoft.storage/storageaccounts"
            | "microsoft.containerregistry/registries"
            | "microsoft.servicebus/namespaces"
            | "microsoft.servicebus/namespaces/disasterrecoveryconfigs"
            | "microsoft.keyvault/vaults"
            | "microsoft.compute/virtualmachinescalesets"
    ) && !(r.type_ == "microsoft.sql/servers/databases" && r.name.eq_ignore_ascii_case("master"))
}

/// Whether a storage SKU replicates to another region (GRS, RA-GRS, GZRS, RA-GZRS).
pub fn geo_redundant_sku(sku: &str) -> bool {
    let s = sku.to_ascii_uppercase();
    s.ends_with("GRS") || s.ends_with("GZRS")
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The counterpart of `r` and the rule that found it. `paired` holds the pairs found so far
/// (plans are paired after their sites).
pub fn counterpart(
    ctx: &Ctx,
    r: &Resource,
    paired: &BTreeMap<String, (String, String)>,
) -> Option<(String, &'static str)> {
    let rules: [fn(&Ctx, &Resource) -> Option<String>; 8] = [
        same_resource,
        failover_group_partner,
        geo_replica,
        servicebus_geo_dr,
        frontdoor_origins,
        trafficmanager_endpoints,
        tag_role_app,
        name_pattern,
    ];
    const NAMES: [&str; 8] = [
        "same-resource-multi-region",
        "failover-group-partner",
        "geo-replica",
        "servicebus-geo-dr",
        "frontdoor-origins",
        "trafficmanager-endpoints",
        "tag:role+app",
        "name-pattern",
    ];
    for (rule, name) in rules.iter().zip(NAMES) {
        if let Some(s) = rule(ctx, r) {
            return Some((s, name));
        }
    }
    if r.type_ == "microsoft.web/serverfarms" {
        // The plan of a paired site's counterpart.
        for site in ctx.inv.sites_on_plan(&r.id) {
            if let Some((other, _)) = paired.get(&site.id.to_ascii_lowercase())
                && let Some(plan) = ctx.inv.get(other).and_then(|o| o.prop_str("serverFarmId"))
                && ctx.inv.get(plan).is_some()
            {
                return Some((plan.to_string(), "plan-of-paired-site"));
            }
        }
    }
    None
}

fn same_resource(ctx: &Ctx, r: &Resource) -> Option<String> {
    match r.type_.as_str() {
        "microsoft.documentdb/databaseaccounts" => {
            let locs = r.prop("locations")?.as_array()?;
            locs.iter()
                .filter_map(|l| l.get("locationName").and_then(Value::as_str))
                .any(|l| regions::normalize(l) == ctx.secondary)
                .then(|| r.id.clone())
        }
        "microsoft.storage/storageaccounts" => {
            let to = r
                .prop_str("secondaryLocation")
                .map(regions::normalize)
                .or_else(|| regions::paired(&r.location).map(str::to_string));
            (geo_redundant_sku(r.sku_name()) && to.as_deref() == Some(ctx.secondary.as_str()))
                .then(|| r.id.clone())
        }
        "microsoft.containerregistry/registries" => ctx
            .inv
            .children(&r.id, "microsoft.containerregistry/registries/replications")
            .find(|rep| ctx.in_secondary(rep))
            .map(|rep| rep.id.clone()),
        _ => None,
    }
}

/// The partner servers of the failover groups of `server`, in the secondary.
fn fog_partners(ctx: &Ctx, server: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for fog in ctx
        .inv
        .children(server, "microsoft.sql/servers/failovergroups")
    {
        for p in fog
            .prop("partnerServers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = p.get("id").and_then(Value::as_str) else {
                continue;
            };
            let loc = ctx.inv.get(id).map(|s| s.location.clone()).or_else(|| {
                p.get("location")
                    .and_then(Value::as_str)
                    .map(regions::normalize)
            });
            if loc.as_deref() == Some(ctx.secondary.as_str()) {
                out.push((fog.name.clone(), id.to_string()));
            }
        }
    }
    out
}

fn failover_group_partner(ctx: &Ctx, r: &Resource) -> Option<String> {
    match r.type_.as_str() {
        "microsoft.sql/servers" => fog_partners(ctx, &r.id)
            .first()
            .map(|(_, p)| p.clone())
            .or_else(|| {
                // Resource Graph does not list failover groups: the server of the partner
                // database of one of this server's databases in a group.
                ctx.inv
                    .children(&r.id, "microsoft.sql/servers/databases")
                    .filter(|d| d.prop_str("failoverGroupId").is_some())
                    .find_map(|d| failover_group_partner(ctx, d))
                    .and_then(|db| parent_id(&db).map(str::to_string))
            }),
        "microsoft.sql/servers/failovergroups" => {
            let server = r.parent()?;
            let (_, partner) = fog_partners(ctx, server)
                .into_iter()
                .find(|(f, _)| same(f, &r.name))?;
            let theirs = format!("{partner}/failoverGroups/{}", r.name);
            Some(ctx.inv.get(&theirs).map_or(partner, |f| f.id.clone()))
        }
        "microsoft.sql/servers/databases" => {
            let server = r.parent()?;
            // The database is in a group: its own `failoverGroupId`, or the group's list.
            let fogs: Vec<&Resource> = ctx
                .inv
                .children(server, "microsoft.sql/servers/failovergroups")
                .filter(|f| {
                    r.prop_str("failoverGroupId")
                        .is_some_and(|g| same(g, &f.id))
                        || f.prop("databases")
                            .and_then(Value::as_array)
                            .is_some_and(|d| {
                                d.iter().any(|d| d.as_str().is_some_and(|d| same(d, &r.id)))
                            })
                })
                .collect();
            let partners = fog_partners(ctx, server);
            fogs.iter()
                .find_map(|f| {
                    let (_, partner) = partners.iter().find(|(n, _)| same(n, &f.name))?;
                    ctx.inv
                        .get(&format!("{partner}/databases/{}", r.name))
                        .map(|d| d.id.clone())
                })
                .or_else(|| {
                    // Where the groups themselves are not listed: the database's own
                    // `failoverGroupId`, and a database of the same name in the secondary in a
                    // group of the same name.
                    let group = r.prop_str("failoverGroupId")?.rsplit('/').next()?;
                    ctx.secondaries("microsoft.sql/servers/databases")
                        .find(|d| {
                            same(&d.name, &r.name)
                                && d.prop_str("failoverGroupId")
                                    .and_then(|g| g.rsplit('/').next())
                                    .is_some_and(|g| same(g, group))
                        })
                        .map(|d| d.id.clone())
                })
        }
        _ => None,
    }
}

fn geo_replica(ctx: &Ctx, r: &Resource) -> Option<String> {
    let replica_of = |d: &Resource, db: &Resource| {
        d.prop_str("sourceDatabaseId")
            .is_some_and(|s| same(s, &db.id))
            || (same(&d.name, &db.name)
                && d.prop_str("secondaryType").is_some_and(|t| same(t, "Geo")))
    };
    match r.type_.as_str() {
        "microsoft.sql/servers/databases" => ctx
            .secondaries("microsoft.sql/servers/databases")
            .find(|d| replica_of(d, r))
            .map(|d| d.id.clone()),
        "microsoft.sql/servers" => ctx
            .inv
            .children(&r.id, "microsoft.sql/servers/databases")
            .find_map(|db| {
                ctx.secondaries("microsoft.sql/servers/databases")
                    .find(|d| replica_of(d, db))
                    .and_then(|d| d.parent().map(str::to_string))
            }),
        _ => None,
    }
}

fn servicebus_geo_dr(ctx: &Ctx, r: &Resource) -> Option<String> {
    let partner_of = |ns: &str| {
        ctx.inv
            .children(
                ns,
                "microsoft.servicebus/namespaces/disasterrecoveryconfigs",
            )
            .find_map(|c| {
                let p = c.prop_str("partnerNamespace")?;
                ctx.inv
                    .get(p)
                    .filter(|p| ctx.in_secondary(p))
                    .map(|p| (c.name.clone(), p.id.clone()))
            })
    };
    match r.type_.as_str() {
        "microsoft.servicebus/namespaces" => partner_of(&r.id).map(|(_, p)| p),
        "microsoft.servicebus/namespaces/disasterrecoveryconfigs" => {
            let (alias, partner) = partner_of(r.parent()?)?;
            ctx.inv
                .get(&format!("{partner}/disasterRecoveryConfigs/{alias}"))
                .map(|a| a.id.clone())
        }
        _ => None,
    }
}

/// The site an origin or endpoint points at (by resource id, or host name).
fn target_site<'b>(ctx: &'b Ctx, id: Option<&str>, host: Option<&str>) -> Option<&'b Resource> {
    if let Some(r) = id.and_then(|i| ctx.inv.get(i)) {
        return Some(r);
    }
    ctx.inv.site_by_host(host?)
}

fn frontdoor_origins(ctx: &Ctx, r: &Resource) -> Option<String> {
    if r.type_ != "microsoft.web/sites" {
        return None;
    }
    let origins: Vec<&Resource> = ctx
        .inv
        .of_type("microsoft.cdn/profiles/origingroups/origins")
        .collect();
    let targets = |o: &Resource| {
        target_site(
            ctx,
            o.prop("azureOrigin")
                .and_then(|a| a.get("id"))
                .and_then(Value::as_str),
            o.prop_str("hostName"),
        )
    };
    for o in &origins {
        if !targets(o).is_some_and(|s| same(&s.id, &r.id)) {
            continue;
        }
        let group = o.parent()?;
        for other in origins
            .iter()
            .filter(|x| x.parent().is_some_and(|g| same(g, group)))
        {
            if let Some(s) = targets(other)
                && ctx.in_secondary(s)
                && s.type_ == r.type_
            {
                return Some(s.id.clone());
            }
        }
    }
    None
}

fn trafficmanager_endpoints(ctx: &Ctx, r: &Resource) -> Option<String> {
    for profile in ctx.inv.of_type("microsoft.network/trafficmanagerprofiles") {
        let endpoints: Vec<&Value> = profile
            .prop("endpoints")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let target = |e: &Value| {
            let p = e.get("properties")?;
            target_site(
                ctx,
                p.get("targetResourceId").and_then(Value::as_str),
                p.get("target").and_then(Value::as_str),
            )
        };
        if !endpoints
            .iter()
            .any(|e| target(e).is_some_and(|t| same(&t.id, &r.id)))
        {
            continue;
        }
        if let Some(t) = endpoints
            .iter()
            .filter_map(|e| target(e))
            .find(|t| ctx.in_secondary(t) && t.type_ == r.type_)
        {
            return Some(t.id.clone());
        }
    }
    None
}

fn tag_role_app(ctx: &Ctx, r: &Resource) -> Option<String> {
    let tag = |x: &Resource, k: &str| {
        x.tags
            .iter()
            .find(|(tk, _)| tk.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let app = tag(r, "app")?;
    if tag(r, "role").as_deref() != Some("primary") {
        return None;
    }
    let component = ctx.component_of(r);
    let found: Vec<&Resource> = ctx
        .inv
        .tagged_app(&r.type_, &app)
        .filter(|s| ctx.in_secondary(s))
        .filter(|s| {
            matches!(
                tag(s, "role").as_deref(),
                Some("standby" | "secondary" | "dr")
            )
        })
        .filter(|s| ctx.component_of(s) == component)
        .collect();
    let [one] = found.as_slice() else {
        return None;
    };
    // Tags say "the standby of this app", not of which resource: the one standby is this
    // resource's only when their names agree once the regions are taken out, or when no other
    // primary of the app could claim it (two Function Apps, one standby: the standby belongs
    // to the one whose name it shares, and the other has none).
    let same_stem = same(
        &stem(&r.name, &ctx.primary),
        &stem(&one.name, &ctx.secondary),
    );
    let rival = || {
        ctx.inv
            .tagged_app(&r.type_, &app)
            .filter(|x| !same(&x.id, &r.id) && ctx.in_primary(x))
            .filter(|x| tag(x, "role").as_deref() == Some("primary"))
            .any(|x| ctx.component_of(x) == component)
    };
    (same_stem || !rival()).then(|| one.id.clone())
}

/// `s` with every occurrence of `from` (case-insensitive) replaced by `to`.
fn replace_ci(s: &str, from: &str, to: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::new();
    let mut i = 0;
    while let Some(j) = lower[i..].find(from) {
        out.push_str(&s[i..i + j]);
        out.push_str(to);
        i += j + from.len();
    }
    out.push_str(&s[i..]);
    out
}

fn name_pattern(ctx: &Ctx, r: &Resource) -> Option<String> {
    let from = regions::tokens(&ctx.primary);
    let to = regions::tokens(&ctx.secondary);
    for (f, t) in from.iter().zip(to.iter()) {
        let candidate = replace_ci(&r.id, f, t);
        if same(&candidate, &r.id) {
            continue;
        }
        if let Some(c) = ctx.inv.get(&candidate).filter(|c| ctx.in_secondary(c)) {
            return Some(c.id.clone());
        }
        // The same name swapped, in any resource group of the secondary.
        let name = replace_ci(&r.name, f, t);
        if let Some(c) = ctx
            .inv
            .named(&r.type_, &name)
            .find(|c| ctx.in_secondary(c) && r.parent().is_none())
        {
            return Some(c.id.clone());
        }
    }
    None
}

/// `app-shop-westeurope` → `app-shop`: the name with the region (or its code) taken out.
pub fn stem(name: &str, region: &str) -> String {
    let lower = name.to_ascii_lowercase();
    for t in regions::tokens(region) {
        if let Some(i) = lower.find(&format!("-{t}-")) {
            return format!("{}{}", &name[..i], &name[i + t.len() + 1..]);
        }
        if lower.ends_with(&t) && lower.len() > t.len() {
            return name[..name.len() - t.len()]
                .trim_end_matches('-')
                .to_string();
        }
    }
    name.to_string()
}

/// The components of the estate, and the resources no component covers.
pub fn components(ctx: &Ctx) -> (Vec<Component>, Vec<String>) {
    let mut by: BTreeMap<&str, Vec<&Resource>> = BTreeMap::new();
    let mut uncovered = Vec::new();
    for r in &ctx.inv.resources {
        match ctx.component_of(r) {
            Some(c) => by.entry(c).or_default().push(r),
            None => uncovered.push(r.id.clone()),
        }
    }
    // Pairs: everything but plans first, then plans (they follow their sites).
    let mut paired: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut claimed: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for plans in [false, true] {
        for r in ctx
            .inv
            .resources
            .iter()
            .filter(|r| pairable(ctx, r) && (r.type_ == "microsoft.web/serverfarms") == plans)
        {
            if let Some((s, rule)) = counterpart(ctx, r, &paired) {
                // One standby serves one primary: a second claim on it is no pair (two
                // primary sites may share a plan, so plans are exempt; a resource that spans
                // both regions is its own counterpart).
                let key = s.to_ascii_lowercase();
                if !same(&s, &r.id) && !plans && !claimed.insert(key) {
                    continue;
                }
                paired.insert(r.id.to_ascii_lowercase(), (s, rule.to_string()));
            }
        }
    }
    let mut out = Vec::new();
    for (name, runbook) in COMPONENTS {
        let Some(rs) = by.get(name) else { continue };
        let mut c = Component {
            component: name.to_string(),
            runbook: runbook.to_string(),
            resources: rs.iter().map(|r| r.id.clone()).collect(),
            pairs: Vec::new(),
            rules: Vec::new(),
            vars: BTreeMap::new(),
            to_set: Vec::new(),
        };
        for r in rs {
            if let Some((s, rule)) = paired.get(&r.id.to_ascii_lowercase()) {
                c.pairs.push((r.id.clone(), s.clone()));
                c.rules.push(rule.clone());
            }
        }
        let found = super::vars::vars(ctx, &c, rs);
        c.vars = found.vars;
        c.to_set = found.to_set;
        out.push(c);
    }
    (out, uncovered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_swaps() {
        assert_eq!(stem("app-shop-westeurope", "westeurope"), "app-shop");
        assert_eq!(stem("stfuncshopweu", "westeurope"), "stfuncshop");
        assert_eq!(stem("sql-weu-orders", "westeurope"), "sql-orders");
        assert_eq!(stem("fog-shop", "westeurope"), "fog-shop");
        assert_eq!(
            replace_ci("/RG-Shop-WestEurope/x", "westeurope", "northeurope"),
            "/RG-Shop-northeurope/x"
        );
        assert!(geo_redundant_sku("Standard_RAGZRS") && geo_redundant_sku("Standard_GRS"));
        assert!(!geo_redundant_sku("Standard_ZRS") && !geo_redundant_sku("Premium_LRS"));
        assert_eq!(
            top_type("microsoft.sql/servers/databases"),
            "microsoft.sql/servers"
        );
    }
}
