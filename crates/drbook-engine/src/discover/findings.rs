//! Findings (the gaps that stand between the estate and a recovery in the secondary region)
//! and the readiness verdict per component.
//!
//! The RTO/RPO each pattern can meet are coarse, from Microsoft's documentation:
//! - SQL Database: active geo-replication and failover groups, RPO 5 s and RTO 30 s on
//!   failover ("Overview of business continuity with Azure SQL Database", the table
//!   "geo-replication / failover groups / geo-restore"); without them geo-restore from
//!   geo-replicated backups, RPO 1 h and RTO 12 h.
//! - Storage: geo-redundant replication is asynchronous, "typically less than 15 minutes"
//!   behind (RPO, `lastSyncTime`); a customer-managed failover "typically takes about an
//!   hour" ("Azure Storage disaster recovery planning and failover").
//! - Cosmos DB with a read region in the secondary, single write region: RPO "< 15 minutes"
//!   for Session, Consistent prefix and Eventual, K/T for Bounded staleness, 0 for Strong;
//!   RTO < 15 minutes ("High availability in Azure Cosmos DB", "RTO and RPO"). In one region:
//!   nothing until the region comes back.
//! - App Service, Functions, Logic Apps, AKS with a deployed standby: as fast as traffic moves
//!   (Front Door / Traffic Manager health probes and DNS TTL, minutes); stateless, no RPO of
//!   their own. Without one: a redeploy, hours. A Logic App Standard keeps its run history and
//!   trigger state in its own host storage account, which nothing replicates ("Business
//!   continuity and disaster recovery for Azure Logic Apps"): the standby starts without them.
//! - Service Bus Geo-disaster recovery replicates metadata, not messages: messages in the
//!   primary wait for it ("Azure Service Bus Geo-disaster recovery").
//! - Container Registry geo-replication serves pulls from the replica (Premium).
//! - Key Vault replicates a vault to the paired region itself; during an outage it is read-only
//!   ("Azure Key Vault availability and redundancy").

use serde::Serialize;
use serde_json::Value;

use super::Component;
use super::inventory::Resource;
use super::pairing::{Ctx, geo_redundant_sku, pairable};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub resource: String,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub fix: String,
}

/// Which RTO/RPO a component can meet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    pub component: String,
    /// Whether every resource of the component that needs a counterpart has one.
    pub ready: bool,
    pub rto: String,
    pub rpo: String,
    /// Why, in a sentence.
    pub basis: String,
}

fn finding(r: &str, severity: Severity, code: &str, message: String, fix: &str) -> Finding {
    Finding {
        resource: r.to_string(),
        severity,
        code: code.to_string(),
        message,
        fix: fix.to_string(),
    }
}

/// The lower-case ids of every paired primary resource.
fn paired_ids(components: &[Component]) -> std::collections::HashSet<String> {
    components
        .iter()
        .flat_map(|c| c.pairs.iter().map(|(p, _)| p.to_ascii_lowercase()))
        .collect()
}

/// The gaps, most severe first.
pub fn findings(ctx: &Ctx, components: &[Component]) -> Vec<Finding> {
    let mut out = Vec::new();
    let sec = &ctx.secondary;
    let paired = paired_ids(components);
    for r in ctx.inv.resources.iter().filter(|r| pairable(ctx, r)) {
        if paired.contains(&r.id.to_ascii_lowercase()) {
            continue;
        }
        if let Some(f) = unpaired(ctx, r, sec) {
            out.push(f);
        }
    }
    for r in &ctx.inv.resources {
        match r.type_.as_str() {
            "microsoft.documentdb/databaseaccounts" => {
                let n = r
                    .prop("locations")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if n < 2 {
                    out.push(finding(&r.id, Severity::Critical, "cosmos-single-region",
                        format!("Cosmos DB account {} has one region ({}): an outage there takes its data offline, and nothing is left to fail over to", r.name, r.location),
                        &format!("add a read region in {sec} (az cosmosdb update --locations ...), with service-managed or customer-managed failover")));
                }
            }
            "microsoft.cdn/profiles/origingroups" => {
                let n = ctx
                    .inv
                    .children(&r.id, "microsoft.cdn/profiles/origingroups/origins")
                    .count();
                if n < 2 {
                    out.push(finding(&r.id, Severity::High, "frontdoor-single-origin",
                        format!("Front Door origin group {} has {n} origin(s): Front Door has nowhere else to send traffic when it fails", r.name),
                        &format!("add an origin in {sec} to the group, at a lower priority, with a health probe")));
                }
            }
            "microsoft.network/trafficmanagerprofiles" => {
                let n = r
                    .prop("endpoints")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if n < 2 {
                    out.push(finding(&r.id, Severity::High, "trafficmanager-single-endpoint",
                        format!("Traffic Manager profile {} has {n} endpoint(s): DNS has no other answer when it fails", r.name),
                        &format!("add an endpoint in {sec} (priority routing: a higher priority number)")));
                }
            }
            _ => {}
        }
    }
    out.extend(global_groups_in_primary(ctx));
    out.sort_by(|a, b| (a.severity, &a.code, &a.resource).cmp(&(b.severity, &b.code, &b.resource)));
    out
}

fn unpaired(ctx: &Ctx, r: &Resource, sec: &str) -> Option<Finding> {
    let f = |sev, code: &str, what: &str, fix: String| {
        Some(finding(
            &r.id,
            sev,
            code,
            format!(
                "{what} {} in {} has no counterpart in {sec}",
                r.name, ctx.primary
            ),
            &fix,
        ))
    };
    match r.type_.as_str() {
        "microsoft.web/sites" => match ctx.component_of(r)? {
            "function" => f(
                Severity::Critical,
                "function-no-secondary",
                "Function App",
                format!(
                    "deploy the function app to {sec} (stopped, or with its triggers off) from the same pipeline, on its own plan"
                ),
            ),
            "logic-standard" => f(
                Severity::High,
                "logic-no-secondary",
                "Logic App (Standard)",
                format!(
                    "deploy the Logic App to {sec} on its own Workflow Standard plan and host storage account, from the same pipeline, and keep it stopped"
                ),
            ),
            _ => f(
                Severity::Critical,
                "web-no-secondary",
                "Web app",
                format!(
                    "deploy the app to {sec} on its own plan and put both behind Front Door or Traffic Manager"
                ),
            ),
        },
        "microsoft.logic/workflows" => f(
            Severity::High,
            "logic-no-secondary",
            "Logic App workflow",
            format!("deploy the workflow to {sec}, disabled, with its connections"),
        ),
        "microsoft.containerservice/managedclusters" => f(
            Severity::Critical,
            "aks-no-secondary",
            "AKS cluster",
            format!(
                "deploy a standby cluster in {sec} (stopped or scaled down) from the same code, and route to its ingress"
            ),
        ),
        "microsoft.sql/servers/databases" => f(
            Severity::Critical,
            "sql-no-geo-replication",
            "SQL database",
            format!(
                "add the database to a failover group with a server in {sec} (or at least an active geo-replica there)"
            ),
        ),
        "microsoft.sql/servers" => {
            // A server's databases carry the finding; a server without any stands alone.
            let has_db = ctx
                .inv
                .children(&r.id, "microsoft.sql/servers/databases")
                .any(|d| !d.name.eq_ignore_ascii_case("master"));
            if has_db {
                None
            } else {
                f(
                    Severity::Medium,
                    "sql-server-no-secondary",
                    "SQL server",
                    format!("create a server in {sec} and a failover group between them"),
                )
            }
        }
        "microsoft.storage/storageaccounts" => {
            let geo = geo_redundant_sku(r.sku_name());
            let (code, what) = if geo {
                (
                    "storage-replicates-elsewhere",
                    "Geo-redundant storage account (replicating to another region than the secondary)",
                )
            } else {
                (
                    "storage-no-geo-redundancy",
                    "Storage account without geo-redundancy",
                )
            };
            f(if geo { Severity::Medium } else { Severity::High }, code, what,
                "make it GZRS or GRS (RA- for reads from the secondary), or keep a copy in the secondary (object replication)".to_string())
        }
        "microsoft.containerregistry/registries" => f(
            Severity::High,
            "acr-no-replica",
            "Container registry",
            format!(
                "make the registry Premium and add a replication in {sec}, so clusters there can pull"
            ),
        ),
        "microsoft.servicebus/namespaces" => f(
            Severity::High,
            "servicebus-no-geo-dr",
            "Service Bus namespace",
            format!(
                "pair it with a Premium namespace in {sec} (Geo-disaster recovery alias), or add geo-replication"
            ),
        ),
        "microsoft.keyvault/vaults" => f(
            Severity::Low,
            "keyvault-no-secondary",
            "Key vault",
            format!(
                "Key Vault keeps a read-only copy in the paired region during an outage; to write secrets there, keep a vault in {sec} too"
            ),
        ),
        "microsoft.compute/virtualmachinescalesets" => f(
            Severity::Medium,
            "vmss-no-secondary",
            "Scale set",
            format!(
                "deploy a scale set in {sec} (at capacity 0 or 1) so builds and deployments keep running"
            ),
        ),
        _ => None,
    }
}

/// Resources ARM must reach to fail over whichever region is down (global or multi-region
/// ones) in a group located in the primary region: ARM keeps a group's metadata in the group's
/// location, and while that region is down no resource of the group can be changed.
fn global_groups_in_primary(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in ctx.inv.groups.iter().filter(|g| g.location == ctx.primary) {
        let global: Vec<&Resource> = ctx
            .inv
            .resources
            .iter()
            .filter(|r| {
                r.parent().is_none()
                    && r.subscription.eq_ignore_ascii_case(&g.subscription)
                    && r.resource_group.eq_ignore_ascii_case(&g.name)
                    && spans_regions(ctx, r)
            })
            .collect();
        if global.is_empty() {
            continue;
        }
        let names: Vec<&str> = global.iter().map(|r| r.name.as_str()).collect();
        out.push(finding(&g.id, Severity::High, "global-group-in-primary",
            format!("resource group {} is located in {} and holds resources that must be changed to fail over ({}): while {} is down, ARM refuses every change to them", g.name, ctx.primary, names.join(", "), ctx.primary),
            &format!("move them to a resource group located outside {} and {} (e.g. a third region)", ctx.primary, ctx.secondary)));
    }
    out
}

/// A resource serving both regions, driven during a failover.
fn spans_regions(ctx: &Ctx, r: &Resource) -> bool {
    match r.type_.as_str() {
        "microsoft.documentdb/databaseaccounts" => true,
        "microsoft.network/trafficmanagerprofiles"
        | "microsoft.cdn/profiles"
        | "microsoft.network/frontdoors"
        | "microsoft.network/dnszones" => true,
        "microsoft.storage/storageaccounts" => geo_redundant_sku(r.sku_name()),
        "microsoft.containerregistry/registries" => ctx
            .inv
            .children(&r.id, "microsoft.containerregistry/registries/replications")
            .next()
            .is_some(),
        _ => r.location == "global",
    }
}

/// The readiness verdict of each component.
pub fn readiness(ctx: &Ctx, components: &[Component], findings: &[Finding]) -> Vec<Readiness> {
    components
        .iter()
        .map(|c| {
            let gaps = findings
                .iter()
                .filter(|f| {
                    c.resources
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(&f.resource))
                })
                .filter(|f| f.severity <= Severity::High)
                .count();
            let ready = gaps == 0;
            let (rto, rpo, basis) = verdict(ctx, c, ready);
            Readiness {
                component: c.component.clone(),
                ready,
                rto: rto.to_string(),
                rpo,
                basis,
            }
        })
        .collect()
}

fn verdict(ctx: &Ctx, c: &Component, ready: bool) -> (&'static str, String, String) {
    let n = c.pairs.len();
    match (c.component.as_str(), ready) {
        ("data-sql", true) => {
            let fog = c.rules.iter().any(|r| r == "failover-group-partner");
            (
                "30s after the decision",
                "5s".into(),
                format!(
                    "{} (Microsoft's target: RPO 5 s)",
                    if fog {
                        "failover group"
                    } else {
                        "active geo-replication"
                    }
                ),
            )
        }
        ("data-sql", false) => (
            "12h",
            "1h".into(),
            "no geo-replication: geo-restore from geo-replicated backups".into(),
        ),
        ("data-cosmos", true) => {
            let level = ctx
                .inv
                .resources
                .iter()
                .filter(|r| c.resources.contains(&r.id))
                .find_map(|r| r.prop_str("consistencyPolicy.defaultConsistencyLevel"))
                .unwrap_or("Session");
            let rpo = match level.to_ascii_lowercase().as_str() {
                "strong" => "0".to_string(),
                "boundedstaleness" => {
                    "K operations / T seconds (the bounded staleness window)".to_string()
                }
                _ => "15m".to_string(),
            };
            (
                "15m",
                rpo,
                format!("a read region in {} ({level} consistency)", ctx.secondary),
            )
        }
        ("data-cosmos", false) => (
            "until the region recovers",
            "data written since the last backup".into(),
            "one region".into(),
        ),
        ("data-storage", true) => (
            "1h",
            "15m".into(),
            "geo-redundant replication; customer-managed failover".into(),
        ),
        ("data-storage", false) => (
            "until the region recovers",
            "none: no copy outside the region".into(),
            "locally or zone-redundant only".into(),
        ),
        ("servicebus", true) => (
            "minutes (alias failover)",
            "metadata only: messages in the primary wait for it".into(),
            "Geo-disaster recovery alias".into(),
        ),
        ("acr", true) => (
            "0 (pulls served by the replica)",
            "replication lag (minutes)".into(),
            "geo-replicated registry".into(),
        ),
        ("keyvault", _) => (
            "minutes (read-only copy in the paired region)",
            "0".into(),
            "Key Vault's own replication".into(),
        ),
        ("logic-standard", true) => {
            // The pairs of the sites, not of their plans.
            let apps = c
                .pairs
                .iter()
                .filter(|(p, _)| {
                    p.to_ascii_lowercase()
                        .contains("/providers/microsoft.web/sites/")
                })
                .count();
            (
                "15m (start the deployed standby site)",
                "n/a: run history and trigger state stay in the primary's storage".into(),
                format!("{apps} Logic App(s) Standard with a deployed standby"),
            )
        }
        ("network", true) => (
            "minutes (health probes and DNS TTL)",
            "n/a".into(),
            "traffic can move to the secondary".into(),
        ),
        ("pipelines", true) => (
            "minutes (the standby agents scale out)",
            "n/a (build history stays in Azure DevOps)".into(),
            format!("{n} standby agent pool(s) deployed"),
        ),
        (_, true) => (
            "15m (traffic moves to the deployed standby)",
            "n/a (stateless)".into(),
            format!("{n} pair(s) with a deployed standby"),
        ),
        (_, false) => (
            "hours (redeploy to the secondary)",
            "n/a".into(),
            "resources without a counterpart".into(),
        ),
    }
}
