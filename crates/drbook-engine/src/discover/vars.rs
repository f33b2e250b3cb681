//! The `[vars]` of the runbook generated for a component, named as its template
//! (`templates/<component>.toml`) names them, with the values read from the estate.
//!
//! A component's runbook recovers one pair: the first paired resource of its main type (the
//! first resource when none is paired). What Azure Resource Manager does not hold (a container
//! repository, a Kubernetes replica count, an Azure DevOps organisation, a blob container to
//! probe) is left to the user: it is listed in `to_set`, and the generated file keeps the
//! template's example value with a comment saying so.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Component;
use super::inventory::Resource;
use super::pairing::Ctx;
use super::regions;

/// The values found, and the template variables no value was found for.
pub struct Found {
    pub vars: BTreeMap<String, String>,
    pub to_set: Vec<String>,
}

struct Vars<'c, 'a> {
    ctx: &'c Ctx<'a>,
    c: &'c Component,
    rs: &'c [&'a Resource],
    vars: BTreeMap<String, String>,
    to_set: Vec<String>,
}

impl<'c, 'a> Vars<'c, 'a> {
    fn put(&mut self, k: &str, v: Option<&str>) {
        match v.filter(|v| !v.is_empty()) {
            Some(v) => {
                self.vars.insert(k.to_string(), v.to_string());
            }
            None => {
                if !self.to_set.iter().any(|n| n == k) {
                    self.to_set.push(k.to_string());
                }
            }
        }
    }

    /// The component's first paired resource of `type_` and its counterpart, or its first
    /// resource of that type and none.
    fn main(&self, type_: &str) -> (Option<&'a Resource>, Option<&'a Resource>) {
        let paired = self.c.pairs.iter().find_map(|(p, s)| {
            let pr = self.ctx.inv.get(p)?;
            (pr.type_ == type_).then(|| (pr, self.ctx.inv.get(s)))
        });
        match paired {
            Some((p, s)) => (Some(p), s),
            None => (self.rs.iter().find(|r| r.type_ == type_).copied(), None),
        }
    }

    /// `<prefix>_primary`, `<prefix>_secondary` and the two resource groups, from the main
    /// pair of `type_`.
    fn pair(&mut self, prefix: &str, type_: &str) -> (Option<&'a Resource>, Option<&'a Resource>) {
        let (p, s) = self.main(type_);
        self.put(&format!("{prefix}_primary"), p.map(|r| r.name.as_str()));
        self.put(&format!("{prefix}_secondary"), s.map(|r| r.name.as_str()));
        (p, s)
    }

    fn groups(&mut self, p: Option<&Resource>, s: Option<&Resource>) {
        self.put("primary_rg", p.map(|r| r.resource_group.as_str()));
        self.put("secondary_rg", s.map(|r| r.resource_group.as_str()));
    }

    /// The estate's first resource of `type_` with a counterpart (or spanning both regions),
    /// else its first: for values a runbook takes from another component (the registry an
    /// AKS cluster pulls from, the namespace a Function App reads).
    fn estate_main(&self, type_: &str) -> Option<&'a Resource> {
        let all: Vec<&'a Resource> = self.ctx.inv.of_type(type_).collect();
        all.iter()
            .find(|r| spans_both(self.ctx, r))
            .or_else(|| all.iter().find(|r| self.ctx.in_primary(r)))
            .or(all.first())
            .copied()
    }
}

/// Whether `r` has a copy in the secondary region by itself (a multi-region Cosmos DB
/// account, a registry with a replication there, a Traffic Manager profile or Front Door
/// origin group reaching it).
fn spans_both(ctx: &Ctx, r: &Resource) -> bool {
    match r.type_.as_str() {
        "microsoft.containerregistry/registries" => ctx
            .inv
            .children(&r.id, "microsoft.containerregistry/registries/replications")
            .any(|rep| rep.location == ctx.secondary),
        "microsoft.documentdb/databaseaccounts" => r
            .prop("locations")
            .and_then(Value::as_array)
            .is_some_and(|ls| {
                ls.iter()
                    .filter_map(|l| l.get("locationName").and_then(Value::as_str))
                    .any(|l| regions::normalize(l) == ctx.secondary)
            }),
        _ => false,
    }
}

/// The values for `c`'s template.
pub fn vars(ctx: &Ctx, c: &Component, rs: &[&Resource]) -> Found {
    let mut v = Vars {
        ctx,
        c,
        rs,
        vars: BTreeMap::new(),
        to_set: Vec::new(),
    };
    let main_sub = rs
        .iter()
        .find(|r| ctx.in_primary(r))
        .or(rs.first())
        .map(|r| r.subscription.as_str());
    v.put("subscription", main_sub);
    v.put("primary", Some(&ctx.primary));
    v.put("secondary", Some(&ctx.secondary));
    match c.component.as_str() {
        "web" => {
            let (p, s) = v.pair("site", "microsoft.web/sites");
            v.groups(p, s);
            let plan = s
                .and_then(|s| s.prop_str("serverFarmId"))
                .and_then(|id| ctx.inv.get(id))
                .map(|r| r.name.as_str());
            v.put("plan_secondary", plan);
        }
        "function" => {
            let (p, s) = v.pair("func", "microsoft.web/sites");
            v.groups(p, s);
            let storage = s.and_then(|s| function_storage(ctx, s));
            v.put("func_storage_secondary", storage);
            servicebus(&mut v);
        }
        "servicebus" => {
            let (p, s) = v.main("microsoft.servicebus/namespaces");
            v.groups(p, s);
            servicebus(&mut v);
        }
        "logic" => {
            let (p, s) = v.pair("workflow", "microsoft.logic/workflows");
            v.groups(p, s);
            let trigger = p
                .and_then(|p| p.prop("definition.triggers"))
                .and_then(Value::as_object)
                .and_then(|t| t.keys().next().cloned());
            v.put("trigger", trigger.as_deref());
        }
        "logic-standard" => {
            // A Logic App Standard is a site (kind `functionapp,workflowapp`) on a Workflow
            // Standard plan; its workflows are not ARM resources, so the runbook names the sites.
            let (p, s) = v.pair("site", "microsoft.web/sites");
            v.groups(p, s);
            let plan_of = |r: Option<&Resource>| {
                r.and_then(|r| r.prop_str("serverFarmId"))
                    .and_then(|id| ctx.inv.get(id))
            };
            v.put("plan_secondary", plan_of(s).map(|r| r.name.as_str()));
            // The primary plan's instance count (for an elastic plan, its always-ready ones).
            let workers = plan_of(p)
                .and_then(|r| r.sku.get("capacity"))
                .and_then(Value::as_u64)
                .map(|n| n.to_string());
            v.put("workers", workers.as_deref());
        }
        "aks" => {
            let (p, s) = v.pair("cluster", "microsoft.containerservice/managedclusters");
            v.groups(p, s);
            aks_identity(&mut v, s);
            let registry = v.estate_main("microsoft.containerregistry/registries");
            v.put("registry", registry.map(|r| r.name.as_str()));
            let host = api_host(ctx);
            v.put("api_host", host.as_deref());
            v.put("replicas", None);
        }
        "data-sql" => {
            let (p, s) = v.pair("server", "microsoft.sql/servers");
            v.groups(p, s);
            let (db, _) = v.main("microsoft.sql/servers/databases");
            v.put("database", db.map(|r| r.name.as_str()));
            // The group the database names (Resource Graph does not list the groups).
            let fog = db
                .and_then(|d| d.prop_str("failoverGroupId"))
                .and_then(|g| g.rsplit('/').next())
                .or_else(|| {
                    v.main("microsoft.sql/servers/failovergroups")
                        .0
                        .map(|r| r.name.as_str())
                });
            v.put("failover_group", fog);
        }
        "data-cosmos" => {
            let (a, _) = v.main("microsoft.documentdb/databaseaccounts");
            v.put("account", a.map(|r| r.name.as_str()));
            v.put("global_rg", a.map(|r| r.resource_group.as_str()));
            v.put("primary_display", Some(&regions::display(&ctx.primary)));
            v.put("secondary_display", Some(&regions::display(&ctx.secondary)));
        }
        "data-storage" => {
            // The data account: one that replicates to the secondary by itself, not the
            // per-region host storage of a Function App.
            let a = c
                .pairs
                .iter()
                .find(|(p, s)| p.eq_ignore_ascii_case(s))
                .and_then(|(p, _)| ctx.inv.get(p))
                .or_else(|| v.main("microsoft.storage/storageaccounts").0);
            v.put("account", a.map(|r| r.name.as_str()));
            v.put("global_rg", a.map(|r| r.resource_group.as_str()));
            v.put("probe_container", None);
        }
        "acr" => {
            let r = v.main("microsoft.containerregistry/registries").0;
            v.put("registry", r.map(|r| r.name.as_str()));
            v.put("global_rg", r.map(|r| r.resource_group.as_str()));
            v.put("repository", None);
        }
        "keyvault" => {
            let (p, s) = v.pair("vault", "microsoft.keyvault/vaults");
            v.groups(p, s);
        }
        "pipelines" => {
            let (p, s) = v.pair("vmss", "microsoft.compute/virtualmachinescalesets");
            v.groups(p, s);
            v.put("ado_org", None);
            v.put("project", None);
        }
        "network" => network(&mut v),
        _ => {}
    }
    Found {
        vars: v.vars,
        to_set: v.to_set,
    }
}

/// The Service Bus values of the function and servicebus templates: the estate's namespace
/// with a geo-DR alias, its partner, the alias and its first queue.
fn servicebus(v: &mut Vars) {
    let ctx = v.ctx;
    let alias = ctx
        .inv
        .of_type("microsoft.servicebus/namespaces/disasterrecoveryconfigs")
        .find(|a| a.prop_str("role") == Some("Primary"))
        .or_else(|| {
            ctx.inv
                .of_type("microsoft.servicebus/namespaces/disasterrecoveryconfigs")
                .next()
        });
    let primary = alias
        .and_then(|a| a.parent())
        .and_then(|p| ctx.inv.get(p))
        .or_else(|| v.estate_main("microsoft.servicebus/namespaces"));
    let secondary = alias
        .and_then(|a| a.prop_str("partnerNamespace"))
        .and_then(|id| ctx.inv.get(id));
    v.put("sb_primary", primary.map(|r| r.name.as_str()));
    v.put("sb_secondary", secondary.map(|r| r.name.as_str()));
    v.put("sb_alias", alias.map(|r| r.name.as_str()));
    let queue = primary.and_then(|p| {
        ctx.inv
            .children(&p.id, "microsoft.servicebus/namespaces/queues")
            .next()
    });
    v.put("queue", queue.map(|r| r.name.as_str()));
}

/// The storage account of a Function App's host in its region: in the site's resource group,
/// named for functions (`stfunc…`) or, failing that, the only account there.
fn function_storage<'a>(ctx: &Ctx<'a>, site: &Resource) -> Option<&'a str> {
    let here: Vec<&'a Resource> = ctx
        .inv
        .of_type("microsoft.storage/storageaccounts")
        .filter(|s| {
            s.subscription.eq_ignore_ascii_case(&site.subscription)
                && s.resource_group.eq_ignore_ascii_case(&site.resource_group)
        })
        .collect();
    here.iter()
        .find(|s| s.name.to_ascii_lowercase().contains("func"))
        .or(match here.as_slice() {
            [one] => Some(one),
            _ => None,
        })
        .map(|s| s.name.as_str())
}

/// The pods' workload identity: the user-assigned identity with a federated credential whose
/// issuer is the standby cluster's OIDC issuer, and the namespace and service account of its
/// subject (`system:serviceaccount:<namespace>:<account>`).
fn aks_identity(v: &mut Vars, standby: Option<&Resource>) {
    let ctx = v.ctx;
    let issuer = standby.and_then(|s| s.prop_str("oidcIssuerProfile.issuerURL"));
    let cred = ctx
        .inv
        .of_type("microsoft.managedidentity/userassignedidentities/federatedidentitycredentials")
        .find(|f| {
            issuer.is_some_and(|i| f.prop_str("issuer").is_some_and(|fi| same_url(fi, i)))
                || standby.is_some_and(|s| f.name.eq_ignore_ascii_case(&s.name))
        });
    let identity = cred.and_then(|f| f.parent()).and_then(|p| ctx.inv.get(p));
    v.put("workload_identity", identity.map(|r| r.name.as_str()));
    v.put("global_rg", identity.map(|r| r.resource_group.as_str()));
    let subject = cred
        .and_then(|f| f.prop_str("subject"))
        .and_then(|s| s.strip_prefix("system:serviceaccount:"))
        .and_then(|s| s.split_once(':'));
    v.put("namespace", subject.map(|(ns, _)| ns));
    v.put("service_account", subject.map(|(_, sa)| sa));
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// The API's public host name: the `Host` header Traffic Manager's health probes send (the
/// name clients use), on the profile with endpoints in both regions.
fn api_host(ctx: &Ctx) -> Option<String> {
    ctx.inv
        .of_type("microsoft.network/trafficmanagerprofiles")
        .filter_map(|p| {
            p.prop("monitorConfig.customHeaders")
                .and_then(Value::as_array)?
                .iter()
                .find(|h| {
                    h.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case("host"))
                })
                .and_then(|h| h.get("value").and_then(Value::as_str))
                .map(|h| (endpoint_regions(ctx, p), h.to_string()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, h)| h)
}

/// How many of the two regions a Traffic Manager profile's endpoints reach (Resource Graph
/// lists the endpoints in the profile's `properties.endpoints`).
fn endpoint_regions(ctx: &Ctx, profile: &Resource) -> usize {
    let mut seen = [false, false];
    for ep in profile
        .prop("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let loc = ep
            .pointer("/properties/endpointLocation")
            .and_then(Value::as_str)
            .map(regions::normalize)
            .unwrap_or_default();
        seen[0] |= loc == ctx.primary;
        seen[1] |= loc == ctx.secondary;
    }
    seen.iter().filter(|s| **s).count()
}

/// Traffic Manager, Front Door and DNS: the profile and origin group that reach both regions
/// (the ones with a single endpoint or origin are findings, not what the runbook drives).
fn network(v: &mut Vars) {
    let ctx = v.ctx;
    let tm = ctx
        .inv
        .of_type("microsoft.network/trafficmanagerprofiles")
        .max_by_key(|p| endpoint_regions(ctx, p));
    v.put("tm_profile", tm.map(|r| r.name.as_str()));
    let afd = ctx.inv.of_type("microsoft.cdn/profiles").next();
    v.put("afd_profile", afd.map(|r| r.name.as_str()));
    let og = afd.and_then(|a| {
        ctx.inv
            .children(&a.id, "microsoft.cdn/profiles/origingroups")
            .max_by_key(|g| {
                ctx.inv
                    .children(&g.id, "microsoft.cdn/profiles/origingroups/origins")
                    .count()
            })
    });
    v.put("origin_group", og.map(|r| r.name.as_str()));
    let zone = ctx.inv.of_type("microsoft.network/dnszones").next();
    v.put("zone", zone.map(|r| r.name.as_str()));
    v.put(
        "global_rg",
        tm.or(afd).or(zone).map(|r| r.resource_group.as_str()),
    );
    v.put(
        "public_url",
        zone.map(|z| format!("https://{}", z.name)).as_deref(),
    );
    let api = api_host(ctx);
    v.put("api_url", api.map(|h| format!("https://{h}")).as_deref());
}
