//! `drbook discover`: reads an estate through Resource Graph, recognises the components whose
//! disaster recovery drbook knows, pairs each resource in the primary region with its
//! counterpart in the secondary (saying which rule matched), lists the gaps as findings and
//! gives a coarse readiness verdict (which RTO/RPO the estate can meet) per component.
//!
//! - `inventory`: one paged query on `Resources`, one on `ResourceContainers`.
//! - `regions`: Azure's paired regions (the secondary's default) and region short codes.
//! - `pairing`: components and the pairing rules, tried in order.
//! - `findings`: the gaps and the readiness verdicts, with the Microsoft docs they rest on.
//! - `render`: text and Markdown (JSON is `Discovery`'s serialisation).

pub mod children;
pub mod findings;
pub mod inventory;
pub mod pairing;
pub mod regions;
pub mod render;
pub mod vars;
pub mod write;

use serde::Serialize;

use drbook_azure::ArmClient;

pub use findings::{Finding, Readiness, Severity};
pub use inventory::{Inventory, Resource, Scope};

/// What to discover.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub scope: Scope,
    pub primary: String,
    /// Default: Azure's paired region of `primary`.
    pub secondary: Option<String>,
}

/// One component: the resources of one kind of workload, their pairs and the rule that made
/// each, and the `[vars]` a runbook generated from its template needs.
pub use drbook_core::runbook::generate::Component;

/// The result of a discovery. Serialises to the JSON of `drbook discover --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    /// The subscriptions read, comma-separated.
    pub subscription: String,
    pub primary: String,
    pub secondary: String,
    /// How many resources Resource Graph listed.
    pub resources: usize,
    pub components: Vec<Component>,
    pub findings: Vec<Finding>,
    /// Resources no component covers.
    pub uncovered: Vec<String>,
    #[serde(skip)]
    pub readiness: Vec<Readiness>,
}

impl Discovery {
    /// Whether any finding is critical (exit 1).
    pub fn has_critical(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Critical)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Read(#[from] inventory::ReadError),
}

impl DiscoverError {
    /// A sign-in or permission error (exit 2 like usage), as opposed to Azure failing.
    pub fn is_auth(&self) -> bool {
        matches!(self, DiscoverError::Read(inventory::ReadError::Azure(e)) if e.is_auth())
    }
}

/// The primary and secondary regions of `opts`, checked.
pub fn regions_of(opts: &Options) -> Result<(String, String), DiscoverError> {
    let primary = regions::normalize(&opts.primary);
    if primary.is_empty() {
        return Err(DiscoverError::Usage("--primary: a region is needed".into()));
    }
    let secondary = match &opts.secondary {
        Some(s) => regions::normalize(s),
        None => regions::paired(&primary).map(str::to_string).ok_or_else(|| {
            DiscoverError::Usage(format!(
                "--primary {primary}: Azure pairs no region with it (or drbook does not know it): name the secondary with --secondary"
            ))
        })?,
    };
    if secondary == primary {
        return Err(DiscoverError::Usage(format!(
            "--secondary {secondary} is the primary region: name another region"
        )));
    }
    Ok((primary, secondary))
}

/// Reads the estate and analyses it.
pub async fn discover(arm: &ArmClient, opts: &Options) -> Result<Discovery, DiscoverError> {
    discover_with_progress(arm, opts, &mut |_| {}).await
}

/// [`discover`], calling `on_page` as each Resource Graph page arrives.
pub async fn discover_with_progress(
    arm: &ArmClient,
    opts: &Options,
    on_page: &mut (dyn FnMut(inventory::Progress) + Send),
) -> Result<Discovery, DiscoverError> {
    let (primary, secondary) = regions_of(opts)?;
    let mut inv = inventory::read_with_progress(arm, &opts.scope, on_page).await?;
    children::read(arm, &opts.scope.subscriptions, &mut inv)
        .await
        .map_err(|e| DiscoverError::Read(inventory::ReadError::Azure(e)))?;
    Ok(analyse(
        &inv,
        &opts.scope.subscriptions,
        &primary,
        &secondary,
    ))
}

/// The analysis of an inventory already read (no network).
pub fn analyse(
    inv: &Inventory,
    subscriptions: &[String],
    primary: &str,
    secondary: &str,
) -> Discovery {
    let primary = regions::normalize(primary);
    let secondary = regions::normalize(secondary);
    let ctx = pairing::Ctx::new(inv, &primary, &secondary);
    let (components, uncovered) = pairing::components(&ctx);
    let findings = findings::findings(&ctx, &components);
    let readiness = findings::readiness(&ctx, &components, &findings);
    let mut subs: Vec<String> = if subscriptions.is_empty() {
        let mut s: Vec<String> = inv
            .resources
            .iter()
            .map(|r| r.subscription.clone())
            .collect();
        s.sort();
        s.dedup();
        s
    } else {
        subscriptions.to_vec()
    };
    subs.retain(|s| !s.is_empty());
    Discovery {
        subscription: subs.join(","),
        primary,
        secondary,
        resources: inv.resources.len(),
        components,
        findings,
        uncovered,
        readiness,
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use serde_json::{Value, json};

    pub fn row(id: &str, location: &str, properties: Value) -> Value {
        let type_ = {
            let after = id.rsplit_once("/providers/").map_or("", |(_, a)| a);
            let parts: Vec<&str> = after.split('/').collect();
            let mut t = vec![parts[0]];
            t.extend(parts.iter().skip(1).step_by(2));
            t.join("/").to_ascii_lowercase()
        };
        json!({
            "id": id, "name": id.rsplit('/').next(), "type": type_, "location": location,
            "resourceGroup": id.split('/').nth(4), "subscriptionId": "s", "properties": properties,
        })
    }

    pub const P: &str = "/subscriptions/s/resourceGroups/rg-a/providers";
    pub const S: &str = "/subscriptions/s/resourceGroups/rg-b/providers";

    pub fn run(rows: Vec<Value>) -> Discovery {
        let inv = Inventory::from_rows(&rows, &[], &Scope::default()).expect("rows");
        analyse(&inv, &[], "uksouth", "ukwest")
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn a_geo_replica_pairs_a_database_and_its_server() {
        let d = run(vec![
            row(
                &format!("{P}/Microsoft.Sql/servers/orders-a"),
                "uksouth",
                json!({}),
            ),
            row(
                &format!("{P}/Microsoft.Sql/servers/orders-a/databases/db"),
                "uksouth",
                json!({}),
            ),
            row(
                &format!("{S}/Microsoft.Sql/servers/orders-b"),
                "ukwest",
                json!({}),
            ),
            row(
                &format!("{S}/Microsoft.Sql/servers/orders-b/databases/db"),
                "ukwest",
                json!({ "secondaryType": "Geo" }),
            ),
        ]);
        let sql = d
            .components
            .iter()
            .find(|c| c.component == "data-sql")
            .expect("sql");
        assert_eq!(
            sql.rule_of(&format!("{P}/Microsoft.Sql/servers/orders-a/databases/db")),
            Some("geo-replica")
        );
        assert_eq!(
            sql.rule_of(&format!("{P}/Microsoft.Sql/servers/orders-a")),
            Some("geo-replica")
        );
        assert!(d.findings.is_empty(), "{:?}", d.findings);
        // Without the replica: the database is the gap, not the server.
        let d = run(vec![
            row(
                &format!("{P}/Microsoft.Sql/servers/orders-a"),
                "uksouth",
                json!({}),
            ),
            row(
                &format!("{P}/Microsoft.Sql/servers/orders-a/databases/db"),
                "uksouth",
                json!({}),
            ),
        ]);
        let codes: Vec<(&str, &str)> = d
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.resource.rsplit('/').next().unwrap_or("")))
            .collect();
        assert_eq!(codes, [("sql-no-geo-replication", "db")]);
        assert!(d.has_critical());
    }

    #[test]
    fn traffic_manager_endpoints_pair_sites_whose_names_share_nothing() {
        let a = format!("{P}/Microsoft.Web/sites/blue");
        let b = format!("{S}/Microsoft.Web/sites/green");
        let d = run(vec![
            row(
                &a,
                "uksouth",
                json!({ "defaultHostName": "blue.azurewebsites.net" }),
            ),
            row(
                &b,
                "ukwest",
                json!({ "defaultHostName": "green.azurewebsites.net" }),
            ),
            row(
                "/subscriptions/s/resourceGroups/rg-g/providers/Microsoft.Network/trafficManagerProfiles/tm",
                "global",
                json!({ "endpoints": [
                    { "properties": { "targetResourceId": a } },
                    { "properties": { "target": "green.azurewebsites.net" } },
                ]}),
            ),
        ]);
        let web = d
            .components
            .iter()
            .find(|c| c.component == "web")
            .expect("web");
        assert_eq!(web.pairs, [(a.clone(), b)]);
        assert_eq!(web.rule_of(&a), Some("trafficmanager-endpoints"));
        assert!(
            d.findings.is_empty(),
            "paired and two endpoints: {:?}",
            d.findings
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["components"][1]["pairs"][0][0], a.as_str());
        assert!(json["components"][1].get("vars").is_none() && json.get("readiness").is_none());
    }

    #[test]
    fn regions_are_checked_before_anything_is_read() {
        let opts = |p: &str, s: Option<&str>| Options {
            primary: p.into(),
            secondary: s.map(str::to_string),
            ..Options::default()
        };
        assert_eq!(
            regions_of(&opts("West Europe", None)).unwrap(),
            ("westeurope".into(), "northeurope".into())
        );
        assert!(
            regions_of(&opts("italynorth", None))
                .unwrap_err()
                .to_string()
                .contains("--secondary")
        );
        assert_eq!(
            regions_of(&opts("italynorth", Some("westeurope")))
                .unwrap()
                .1,
            "westeurope"
        );
        assert!(regions_of(&opts("eastus", Some("East US"))).is_err());
    }
}

#[cfg(test)]
mod fog_tests {
    use super::tests_support::*;
    use serde_json::json;

    #[test]
    fn a_database_in_a_failover_group_pairs_even_when_the_group_is_not_listed() {
        let fog = |s: &str| format!("{s}/Microsoft.Sql/servers/x/failoverGroups/fog-orders");
        let d = run(vec![
            row(
                &format!("{P}/Microsoft.Sql/servers/sql-one"),
                "uksouth",
                json!({}),
            ),
            row(
                &format!("{P}/Microsoft.Sql/servers/sql-one/databases/orders"),
                "uksouth",
                json!({ "failoverGroupId": fog(P) }),
            ),
            row(
                &format!("{S}/Microsoft.Sql/servers/sql-two/databases/orders"),
                "ukwest",
                json!({ "failoverGroupId": fog(S) }),
            ),
        ]);
        let sql = d
            .components
            .iter()
            .find(|c| c.component == "data-sql")
            .expect("sql");
        assert_eq!(
            sql.rule_of(&format!(
                "{P}/Microsoft.Sql/servers/sql-one/databases/orders"
            )),
            Some("failover-group-partner")
        );
        assert!(
            !d.findings
                .iter()
                .any(|f| f.code == "sql-no-geo-replication"),
            "{:?}",
            d.findings
        );
    }
}

#[cfg(test)]
mod scale_tests {
    use super::tests_support::*;
    use serde_json::json;

    /// Ten thousand resources are analysed through the indexes, not by scanning the inventory
    /// for each resource: well within the time of reading them.
    #[test]
    fn ten_thousand_resources_pair_in_one_pass() {
        let mut rows = Vec::new();
        for i in 0..5000 {
            rows.push(row(
                &format!("{P}/Microsoft.Web/sites/app-{i}-uksouth"),
                "uksouth",
                json!({ "defaultHostName": format!("app-{i}-uksouth.azurewebsites.net") }),
            ));
            rows.push(row(
                &format!("{S}/Microsoft.Web/sites/app-{i}-ukwest"),
                "ukwest",
                json!({}),
            ));
        }
        let started = std::time::Instant::now();
        let d = run(rows);
        let took = started.elapsed();
        let web = d
            .components
            .iter()
            .find(|c| c.component == "web")
            .expect("web");
        assert_eq!(web.pairs.len(), 5000);
        assert!(web.rules.iter().all(|r| r == "name-pattern"));
        assert!(d.findings.is_empty());
        assert!(
            took < std::time::Duration::from_secs(20),
            "analysis took {took:?}"
        );
    }
}
