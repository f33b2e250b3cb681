//! `drbook discover` end to end: the real binary against the in-process simulator, on the
//! shop's estate (every pair found, no false alarm) and on a small travel estate written here
//! with planted gaps (each found, with its code and severity, and nothing flagged that is
//! paired).

use std::collections::BTreeSet;
use std::process::Output;

use serde_json::Value;

use crate::support::cli;

const SHOP_SUB: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
const SHOP: &str = "runbooks/scenarios/westeurope-outage.toml";
const TRAVEL_SUB: &str = "11111111-2222-4333-8444-555555555555";

/// A travel booking application in East US 2 (paired with Central US) with planted gaps:
/// a Function App without a counterpart, Cosmos DB in one region, a SQL database without
/// geo-replication, an LRS storage account, a registry without a replica, a Traffic Manager
/// profile with one endpoint, and a shared resource group located in the primary region.
/// Correctly paired: the web app (Front Door origins), its plan, AKS (short-code names), Service
/// Bus (geo-DR), Key Vault (tags), the Logic App (names) and a GZRS storage account.
fn travel() -> String {
    let s = TRAVEL_SUB;
    let p =
        |rg: &str, rest: &str| format!("/subscriptions/{s}/resourceGroups/{rg}/providers/{rest}");
    let e = "rg-travel-eastus2";
    let c = "rg-travel-centralus";
    let g = "rg-travel-shared";
    format!(
        r#"
[scenario]
id = "travel"
title = "travel estate with planted gaps"

[[subscription]]
id = "{s}"
name = "travel-production"

[[resource_group]]
id = "/subscriptions/{s}/resourceGroups/{e}"
location = "eastus2"

[[resource_group]]
id = "/subscriptions/{s}/resourceGroups/{c}"
location = "centralus"

[[resource_group]]
id = "/subscriptions/{s}/resourceGroups/{g}"
location = "eastus2"

[[resource]]
id = "{plan_e}"
location = "eastus2"
kind = "linux"
sku = {{ name = "P1v3", tier = "PremiumV3", capacity = 2 }}
[resource.properties]
status = "Ready"

[[resource]]
id = "{app_e}"
location = "eastus2"
kind = "app,linux"
[resource.properties]
state = "Running"
defaultHostName = "app-travel-eastus2.azurewebsites.net"
serverFarmId = "{plan_e}"

[[resource]]
id = "{plan_c}"
location = "centralus"
kind = "linux"
sku = {{ name = "P1v3", tier = "PremiumV3", capacity = 1 }}
[resource.properties]
status = "Ready"

[[resource]]
id = "{app_c}"
location = "centralus"
kind = "app,linux"
[resource.properties]
state = "Running"
defaultHostName = "app-travel-centralus.azurewebsites.net"
serverFarmId = "{plan_c}"

[[resource]]
id = "{func_e}"
location = "eastus2"
kind = "functionapp,linux"
[resource.properties]
state = "Running"
defaultHostName = "func-travel-booking-eus2.azurewebsites.net"
serverFarmId = "{plan_e}"

[[resource]]
id = "{aks_e}"
location = "eastus2"
[resource.properties]
provisioningState = "Succeeded"
powerState = {{ code = "Running" }}

[[resource]]
id = "{aks_c}"
location = "centralus"
[resource.properties]
provisioningState = "Succeeded"
powerState = {{ code = "Stopped" }}

[[resource]]
id = "{sql_e}"
location = "eastus2"
kind = "v12.0"
[resource.properties]
state = "Ready"

[[resource]]
id = "{sql_e}/databases/sqldb-travel"
location = "eastus2"
[resource.properties]
status = "Online"

[[resource]]
id = "{st_lrs}"
location = "eastus2"
kind = "StorageV2"
sku = {{ name = "Standard_LRS", tier = "Standard" }}
[resource.properties]
primaryLocation = "eastus2"

[[resource]]
id = "{st_gzrs}"
location = "eastus2"
kind = "StorageV2"
sku = {{ name = "Standard_GZRS", tier = "Standard" }}
[resource.properties]
primaryLocation = "eastus2"
secondaryLocation = "centralus"

[[resource]]
id = "{cosmos}"
location = "East US 2"
kind = "GlobalDocumentDB"
[resource.properties]
consistencyPolicy = {{ defaultConsistencyLevel = "Session" }}
locations = [{{ locationName = "East US 2", failoverPriority = 0 }}]

[[resource]]
id = "{acr}"
location = "eastus2"
sku = {{ name = "Premium", tier = "Premium" }}
[resource.properties]
loginServer = "crtravel.azurecr.io"

[[resource]]
id = "{sb_e}"
location = "eastus2"
sku = {{ name = "Premium", tier = "Premium", capacity = 1 }}
[resource.properties]
status = "Active"

[[resource]]
id = "{sb_e}/disasterRecoveryConfigs/sb-travel"
location = "eastus2"
[resource.properties]
role = "Primary"
partnerNamespace = "{sb_c}"

[[resource]]
id = "{sb_c}"
location = "centralus"
sku = {{ name = "Premium", tier = "Premium", capacity = 1 }}
[resource.properties]
status = "Active"

[[resource]]
id = "{kv_e}"
location = "eastus2"
tags = {{ app = "travel", role = "primary" }}
[resource.properties]
vaultUri = "https://kv-travel-eastus2.vault.azure.net/"

[[resource]]
id = "{kv_c}"
location = "centralus"
tags = {{ app = "travel", role = "standby" }}
[resource.properties]
vaultUri = "https://kv-travel-dr.vault.azure.net/"

[[resource]]
id = "{logic_e}"
location = "eastus2"
[resource.properties]
state = "Enabled"

[[resource]]
id = "{logic_c}"
location = "centralus"
[resource.properties]
state = "Disabled"

[[resource]]
id = "{afd}"
location = "Global"
kind = "frontdoor"
sku = {{ name = "Standard_AzureFrontDoor" }}
[resource.properties]
resourceState = "Active"

[[resource]]
id = "{afd}/originGroups/og-travel"
location = "Global"
[resource.properties]
provisioningState = "Succeeded"

[[resource]]
id = "{afd}/originGroups/og-travel/origins/origin-eastus2"
location = "Global"
[resource.properties]
hostName = "app-travel-eastus2.azurewebsites.net"
priority = 1

[[resource]]
id = "{afd}/originGroups/og-travel/origins/origin-centralus"
location = "Global"
[resource.properties]
hostName = "app-travel-centralus.azurewebsites.net"
priority = 2

[[resource]]
id = "{tm}"
location = "global"
[resource.properties]
profileStatus = "Enabled"
trafficRoutingMethod = "Priority"

[[resource]]
id = "{tm}/azureEndpoints/ep-eastus2"
location = "global"
[resource.properties]
endpointStatus = "Enabled"
targetResourceId = "{app_e}"
priority = 1

[[resource]]
id = "{pip}"
location = "eastus2"
[resource.properties]
ipAddress = "20.1.2.3"
"#,
        plan_e = p(e, "Microsoft.Web/serverfarms/plan-travel-eastus2"),
        app_e = p(e, "Microsoft.Web/sites/app-travel-eastus2"),
        plan_c = p(c, "Microsoft.Web/serverfarms/plan-travel-centralus"),
        app_c = p(c, "Microsoft.Web/sites/app-travel-centralus"),
        func_e = p(e, "Microsoft.Web/sites/func-travel-booking-eus2"),
        aks_e = p(
            e,
            "Microsoft.ContainerService/managedClusters/aks-travel-eus2"
        ),
        aks_c = p(
            c,
            "Microsoft.ContainerService/managedClusters/aks-travel-cus"
        ),
        sql_e = p(e, "Microsoft.Sql/servers/sql-travel-eastus2"),
        st_lrs = p(e, "Microsoft.Storage/storageAccounts/sttraveleus2"),
        st_gzrs = p(g, "Microsoft.Storage/storageAccounts/sttraveldata"),
        cosmos = p(g, "Microsoft.DocumentDB/databaseAccounts/cosmos-travel"),
        acr = p(g, "Microsoft.ContainerRegistry/registries/crtravel"),
        sb_e = p(e, "Microsoft.ServiceBus/namespaces/sb-travel-eastus2"),
        sb_c = p(c, "Microsoft.ServiceBus/namespaces/sb-travel-centralus"),
        kv_e = p(e, "Microsoft.KeyVault/vaults/kv-travel-eastus2"),
        kv_c = p(c, "Microsoft.KeyVault/vaults/kv-travel-dr"),
        logic_e = p(e, "Microsoft.Logic/workflows/logic-travel-sync-eastus2"),
        logic_c = p(c, "Microsoft.Logic/workflows/logic-travel-sync-centralus"),
        afd = p(g, "Microsoft.Cdn/profiles/afd-travel"),
        tm = p(g, "Microsoft.Network/trafficManagerProfiles/tm-travel"),
        pip = p(e, "Microsoft.Network/publicIPAddresses/pip-travel-eastus2"),
    )
}

fn drbook(args: &[&str]) -> Output {
    cli::drbook()
        .args(args)
        .env_remove("AZURE_SUBSCRIPTION_ID")
        .output()
        .expect("run drbook")
}

fn discover_json(scenario: &str, sub: &str, extra: &[&str]) -> (Value, i32) {
    let mut args = vec![
        "discover",
        "--target",
        "sim",
        "--scenario",
        scenario,
        "--subscription",
        sub,
        "--format",
        "json",
    ];
    args.extend(extra);
    let o = drbook(&args);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (v, o.status.code().unwrap_or(-1))
}

fn travel_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("travel.toml");
    std::fs::write(&path, travel()).unwrap();
    let p = path.display().to_string();
    (dir, p)
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn ends(id: &Value, tail: &str) -> bool {
    id.as_str()
        .is_some_and(|s| s.to_ascii_lowercase().ends_with(&tail.to_ascii_lowercase()))
}

/// The pair whose primary ends with `tail`, as (primary, secondary).
fn pair_of<'a>(d: &'a Value, tail: &str) -> Option<(&'a Value, &'a Value)> {
    d["components"].as_array()?.iter().find_map(|c| {
        c["pairs"]
            .as_array()?
            .iter()
            .find(|p| ends(&p[0], tail))
            .map(|p| (&p[0], &p[1]))
    })
}

fn findings_on<'a>(d: &'a Value, tail: &str) -> Vec<&'a Value> {
    d["findings"]
        .as_array()
        .map(|f| f.iter().filter(|f| ends(&f["resource"], tail)).collect())
        .unwrap_or_default()
}

#[test]
fn the_json_has_exactly_the_issues_shape() {
    let (tmp, path) = travel_file();
    let (d, _) = discover_json(&path, TRAVEL_SUB, &["--primary", "eastus2"]);
    drop(tmp);
    assert_eq!(
        keys(&d),
        BTreeSet::from([
            "subscription",
            "primary",
            "secondary",
            "resources",
            "components",
            "findings",
            "uncovered"
        ])
    );
    assert_eq!(d["subscription"], TRAVEL_SUB);
    assert_eq!(d["primary"], "eastus2");
    assert_eq!(d["secondary"], "centralus", "the paired region by default");
    let listed = d["resources"].as_u64().unwrap();
    assert_eq!(
        listed as usize,
        travel().matches("[[resource]]").count() - 1,
        "every resource but the TM endpoint, which Resource Graph folds into its profile"
    );
    for c in d["components"].as_array().unwrap() {
        assert_eq!(
            keys(c),
            BTreeSet::from(["component", "runbook", "resources", "pairs"])
        );
        for p in c["pairs"].as_array().unwrap() {
            assert_eq!(p.as_array().map(Vec::len), Some(2), "{p}");
        }
    }
    for f in d["findings"].as_array().unwrap() {
        assert_eq!(
            keys(f),
            BTreeSet::from(["resource", "severity", "code", "message", "fix"])
        );
        assert!(["critical", "high", "medium", "low"].contains(&f["severity"].as_str().unwrap()));
        assert!(
            !f["message"].as_str().unwrap().is_empty() && !f["fix"].as_str().unwrap().is_empty()
        );
    }
    assert!(
        d["uncovered"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| ends(u, "/pip-travel-eastus2"))
    );
}

#[test]
fn every_planted_gap_is_found_and_no_paired_resource_is_flagged() {
    let (tmp, path) = travel_file();
    let (d, code) = discover_json(&path, TRAVEL_SUB, &["--primary", "eastus2"]);
    drop(tmp);
    assert_eq!(code, 1, "critical findings: exit 1\n{d:#}");
    let planted = [
        (
            "/func-travel-booking-eus2",
            "function-no-secondary",
            "critical",
        ),
        ("/cosmos-travel", "cosmos-single-region", "critical"),
        (
            "/databases/sqldb-travel",
            "sql-no-geo-replication",
            "critical",
        ),
        ("/sttraveleus2", "storage-no-geo-redundancy", "high"),
        ("/crtravel", "acr-no-replica", "high"),
        ("/tm-travel", "trafficmanager-single-endpoint", "high"),
        (
            "/resourcegroups/rg-travel-shared",
            "global-group-in-primary",
            "high",
        ),
    ];
    for (tail, code, severity) in planted {
        let found = findings_on(&d, tail);
        assert!(
            found
                .iter()
                .any(|f| f["code"] == code && f["severity"] == severity),
            "{tail}: expected {code} ({severity}), found {found:#?}"
        );
    }
    let paired = [
        ("/sites/app-travel-eastus2", "/sites/app-travel-centralus"),
        (
            "/serverfarms/plan-travel-eastus2",
            "/serverfarms/plan-travel-centralus",
        ),
        ("/aks-travel-eus2", "/aks-travel-cus"),
        (
            "/namespaces/sb-travel-eastus2",
            "/namespaces/sb-travel-centralus",
        ),
        ("/kv-travel-eastus2", "/kv-travel-dr"),
        ("/logic-travel-sync-eastus2", "/logic-travel-sync-centralus"),
        ("/sttraveldata", "/sttraveldata"),
    ];
    for (p, s) in paired {
        let (_, secondary) = pair_of(&d, p).unwrap_or_else(|| panic!("{p} is not paired:\n{d:#}"));
        assert!(ends(secondary, s), "{p} paired with {secondary}, not {s}");
        let bad: Vec<&Value> = findings_on(&d, p)
            .into_iter()
            .filter(|f| f["severity"] == "critical" || f["severity"] == "high")
            .collect();
        assert!(bad.is_empty(), "{p} is paired, yet flagged: {bad:#?}");
    }
    // The paired origin group has two origins: no single-origin finding.
    assert!(findings_on(&d, "/originGroups/og-travel").is_empty());
}

#[test]
fn the_text_names_the_rule_of_each_pair_and_the_readiness() {
    let (tmp, path) = travel_file();
    let o = drbook(&[
        "discover",
        "--target",
        "sim",
        "--scenario",
        &path,
        "--subscription",
        TRAVEL_SUB,
        "--primary",
        "eastus2",
    ]);

    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    for line in [
        "pair app-travel-eastus2 ↔ app-travel-centralus [frontdoor-origins]",
        "pair aks-travel-eus2 ↔ aks-travel-cus [name-pattern]",
        "pair sb-travel-eastus2 ↔ sb-travel-centralus [servicebus-geo-dr]",
        "pair kv-travel-eastus2 ↔ kv-travel-dr [tag:role+app]",
        "pair sttraveldata (spans both regions) [same-resource-multi-region]",
        "pair plan-travel-eastus2 ↔ plan-travel-centralus",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
    assert!(
        text.contains("NOT READY: RTO 12h, RPO 1h"),
        "SQL without geo-replication:\n{text}"
    );
    let md = drbook(&[
        "discover",
        "--target",
        "sim",
        "--scenario",
        &path,
        "--subscription",
        TRAVEL_SUB,
        "--primary",
        "eastus2",
        "--format",
        "md",
    ]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.starts_with("# DR readiness: eastus2 → centralus"),
        "{md}"
    );
    assert!(md.contains("| critical | `cosmos-single-region` |"), "{md}");
    drop(tmp);
}

#[test]
fn the_shop_is_read_without_false_alarms() {
    let (d, code) = discover_json(SHOP, SHOP_SUB, &["--primary", "westeurope"]);
    assert_eq!(
        code, 0,
        "nothing critical in the shop:\n{:#}",
        d["findings"]
    );
    assert_eq!(d["secondary"], "northeurope");
    let bad: Vec<&Value> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "critical" || f["severity"] == "high")
        .collect();
    assert!(bad.is_empty(), "the shop is fully paired: {bad:#?}");
    for (p, s) in [
        ("/sites/app-shop-westeurope", "/sites/app-shop-northeurope"),
        (
            "/sites/func-shop-orders-westeurope",
            "/sites/func-shop-orders-northeurope",
        ),
        (
            "/serverfarms/plan-shop-westeurope",
            "/serverfarms/plan-shop-northeurope",
        ),
        (
            "/managedClusters/aks-shop-westeurope",
            "/managedClusters/aks-shop-northeurope",
        ),
        (
            "/workflows/logic-shop-erp-sync-westeurope",
            "/workflows/logic-shop-erp-sync-northeurope",
        ),
        (
            "/servers/sql-shop-westeurope",
            "/servers/sql-shop-northeurope",
        ),
        (
            "/sql-shop-westeurope/databases/sqldb-shop",
            "/sql-shop-northeurope/databases/sqldb-shop",
        ),
        ("/namespaces/sb-shop", "/namespaces/sb-shop-northeurope"),
        ("/vaults/kv-shop-westeurope", "/vaults/kv-shop-northeurope"),
        (
            "/virtualMachineScaleSets/vmss-agents-westeurope",
            "/virtualMachineScaleSets/vmss-agents-northeurope",
        ),
        (
            "/storageAccounts/stfuncshopweu",
            "/storageAccounts/stfuncshopneu",
        ),
        ("/storageAccounts/stshopdata", "/storageAccounts/stshopdata"),
        (
            "/databaseAccounts/cosmos-shop",
            "/databaseAccounts/cosmos-shop",
        ),
        (
            "/registries/crshop",
            "/registries/crshop/replications/northeurope",
        ),
    ] {
        let (_, secondary) = pair_of(&d, p).unwrap_or_else(|| panic!("{p} is not paired"));
        assert!(ends(secondary, s), "{p} paired with {secondary}, not {s}");
    }
    // Resource Graph's `Resources` does not hold failover groups: the group is no resource of
    // the component, yet the servers and the database are paired through it.
    let listed = d.to_string();
    assert!(!listed.contains("/failoverGroups/"), "{listed}");
    let o = drbook(&[
        "discover",
        "--target",
        "sim",
        "--scenario",
        SHOP,
        "--subscription",
        SHOP_SUB,
        "--primary",
        "westeurope",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    for line in [
        "pair sql-shop-westeurope ↔ sql-shop-northeurope [failover-group-partner]",
        "pair app-shop-westeurope ↔ app-shop-northeurope [frontdoor-origins]",
        "pair cosmos-shop (spans both regions) [same-resource-multi-region]",
        "pair sb-shop ↔ sb-shop-northeurope [servicebus-geo-dr]",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
}

#[test]
fn filters_narrow_what_is_read() {
    let (tmp, path) = travel_file();
    let (d, code) = discover_json(
        &path,
        TRAVEL_SUB,
        &[
            "--primary",
            "eastus2",
            "--resource-group",
            "rg-travel-centralus",
        ],
    );
    assert_eq!(
        code, 0,
        "only the secondary's group: nothing to fail over, nothing critical"
    );
    let ids: Vec<&str> = d["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["resources"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert!(!ids.is_empty());
    assert!(
        ids.iter()
            .all(|i| i.contains("/resourceGroups/rg-travel-centralus/")),
        "{ids:?}"
    );
    let (d, _) = discover_json(
        &path,
        TRAVEL_SUB,
        &["--primary", "eastus2", "--tag", "app=travel"],
    );
    drop(tmp);
    assert_eq!(d["resources"], 2, "the two tagged vaults: {d:#}");
}

#[test]
fn usage_errors_exit_2() {
    let (tmp, path) = travel_file();
    for (extra, says) in [
        (vec!["--primary", "polandcentral"], "--secondary"),
        (
            vec!["--primary", "eastus2", "--secondary", "East US 2"],
            "is the primary",
        ),
    ] {
        let mut args = vec![
            "discover",
            "--target",
            "sim",
            "--scenario",
            &path,
            "--subscription",
            TRAVEL_SUB,
        ];
        args.extend(extra);
        let o = drbook(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
    let o = drbook(&["discover", "--target", "sim", "--primary", "eastus2"]);
    assert_eq!(o.status.code(), Some(2), "--subscription is required");
    drop(tmp);
}

/// What the templates are filled with: the templates' `[vars]` defaults are the shop's own
/// values, so on the shop's estate every component's `vars` are exactly its template's
/// (every name, every value), but the secrets (never written) and what Azure does not hold
/// (`to_set`, where the template's example stays).
#[tokio::test]
async fn on_the_shop_discovery_fills_each_template_with_exactly_its_own_example_values() {
    use drbook::cli::target::{TargetArgs, connect};
    use drbook::discover::{Options, Scope, discover};
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/scenarios/westeurope-outage.toml"
    );
    let connected = connect(
        &TargetArgs::simulator(Some(scenario.into()), "start"),
        |_| None,
    )
    .await
    .expect("simulator");
    let opts = Options {
        scope: Scope {
            subscriptions: vec![SHOP_SUB.into()],
            ..Scope::default()
        },
        primary: "westeurope".into(),
        secondary: None,
    };
    let d = discover(&connected.reader.arm, &opts)
        .await
        .expect("discover");
    if let Some(sim) = connected.sim {
        sim.shutdown().await;
    }
    let templates = drbook::runbook::generate::Templates::builtin();
    assert_eq!(d.components.len(), 12, "every component of the shop");
    for c in &d.components {
        let text = templates
            .get(&c.component)
            .unwrap_or_else(|| panic!("no template for {}", c.component));
        let doc: toml::Table = toml::from_str(text).expect("template TOML");
        let mut want = std::collections::BTreeMap::new();
        let mut kept = Vec::new();
        for (k, v) in doc["vars"].as_table().expect("[vars]") {
            match v.as_str() {
                Some(_) if c.to_set.contains(k) => kept.push(k.clone()),
                Some(v) => {
                    want.insert(k.clone(), v.to_string());
                }
                None => assert!(
                    !c.vars.contains_key(k),
                    "{}: {k} is a table (a secret): no value",
                    c.component
                ),
            }
        }
        assert_eq!(c.vars, want, "{}", c.component);
        assert_eq!(
            kept.len(),
            c.to_set.len(),
            "{}: {:?}",
            c.component,
            c.to_set
        );
    }
    // What is not in Azure is said, not guessed.
    let to_set: Vec<(&str, &str)> = d
        .components
        .iter()
        .flat_map(|c| c.to_set.iter().map(|v| (c.component.as_str(), v.as_str())))
        .collect();
    assert_eq!(
        to_set,
        [
            ("data-storage", "probe_container"),
            ("acr", "repository"),
            ("aks", "replicas"),
            ("pipelines", "ado_org"),
            ("pipelines", "project"),
        ]
    );
}

#[test]
fn an_azure_that_cannot_be_read_exits_2_and_says_why() {
    // Nothing listens on port 9 of this machine: the Resource Graph query cannot be sent.
    let o = drbook(&[
        "discover",
        "--target",
        "azure",
        "--arm-endpoint",
        "http://127.0.0.1:9",
        "--auth",
        "sim",
        "--retries",
        "0",
        "--timeout",
        "2s",
        "--subscription",
        TRAVEL_SUB,
        "--primary",
        "eastus2",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("Resource Graph"), "{err}");
    assert!(o.stdout.is_empty(), "no verdict without an estate");
}

#[test]
fn several_subscriptions_are_read_in_one_query() {
    let other = "99999999-8888-4777-8666-555555555555";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.toml");
    let extra = format!(
        r#"
[[subscription]]
id = "{other}"
name = "travel-data"

[[resource_group]]
id = "/subscriptions/{other}/resourceGroups/rg-data-eastus2"
location = "eastus2"

[[resource]]
id = "/subscriptions/{other}/resourceGroups/rg-data-eastus2/providers/Microsoft.KeyVault/vaults/kv-data-eastus2"
location = "eastus2"
[resource.properties]
vaultUri = "https://kv-data-eastus2.vault.azure.net/"
"#
    );
    std::fs::write(&path, travel() + &extra).unwrap();
    let path = path.display().to_string();
    let (one, _) = discover_json(&path, TRAVEL_SUB, &["--primary", "eastus2"]);
    let (both, _) = discover_json(
        &path,
        TRAVEL_SUB,
        &["--subscription", other, "--primary", "eastus2"],
    );
    assert_eq!(
        both["resources"].as_u64().unwrap(),
        one["resources"].as_u64().unwrap() + 1
    );
    assert_eq!(both["subscription"], format!("{TRAVEL_SUB},{other}"));
    assert!(
        findings_on(&both, "/kv-data-eastus2")
            .iter()
            .any(|f| f["code"] == "keyvault-no-secondary" && f["severity"] == "low"),
        "{:#}",
        both["findings"]
    );
    assert!(findings_on(&one, "/kv-data-eastus2").is_empty());
}

/// A Logic App Standard (a site of kind `functionapp,workflowapp` on a Workflow Standard plan)
/// is its own component, `logic-standard`, with its plans, recovered by
/// `logic-standard-failover`: on the travel estate the itinerary pair and its plans go there,
/// filled with the estate's values, and the Consumption workflows stay in `logic`.
#[tokio::test]
async fn a_logic_app_standard_is_its_own_component_with_its_plans_and_values() {
    use drbook::cli::target::{TargetArgs, connect};
    use drbook::discover::{Options, Scope, discover};
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/scenarios/travel-eastus2.toml"
    );
    let connected = connect(
        &TargetArgs::simulator(Some(scenario.into()), "start"),
        |_| None,
    )
    .await
    .expect("simulator");
    let opts = Options {
        scope: Scope {
            subscriptions: vec![
                "4a7d2e91-3c5b-4f6e-9d8a-b1c2e3f4a5b6".into(),
                "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b".into(),
            ],
            ..Scope::default()
        },
        primary: "eastus2".into(),
        secondary: None,
    };
    let d = discover(&connected.reader.arm, &opts)
        .await
        .expect("discover");
    if let Some(sim) = connected.sim {
        sim.shutdown().await;
    }
    let std = d
        .components
        .iter()
        .find(|c| c.component == "logic-standard")
        .expect("a logic-standard component");
    assert_eq!(std.runbook, "logic-standard-failover");
    let tail = |id: &str| id.rsplit('/').next().unwrap_or_default().to_string();
    let mut names: Vec<String> = std.resources.iter().map(|r| tail(r)).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "logic-travel-itinerary-centralus",
            "logic-travel-itinerary-eastus2",
            "plan-travel-workflows-centralus",
            "plan-travel-workflows-eastus2",
        ]
    );
    let pairs: Vec<(String, String)> = std.pairs.iter().map(|(p, s)| (tail(p), tail(s))).collect();
    assert!(
        pairs.contains(&(
            "logic-travel-itinerary-eastus2".into(),
            "logic-travel-itinerary-centralus".into()
        )),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&(
            "plan-travel-workflows-eastus2".into(),
            "plan-travel-workflows-centralus".into()
        )),
        "{pairs:?}"
    );
    let v = |k: &str| std.vars.get(k).map(String::as_str);
    assert_eq!(v("site_primary"), Some("logic-travel-itinerary-eastus2"));
    assert_eq!(
        v("site_secondary"),
        Some("logic-travel-itinerary-centralus")
    );
    assert_eq!(v("plan_secondary"), Some("plan-travel-workflows-centralus"));
    assert_eq!(v("primary_rg"), Some("rg-travel-eastus2"));
    assert_eq!(v("secondary_rg"), Some("rg-travel-centralus"));
    assert_eq!(
        v("workers"),
        Some("1"),
        "the primary plan's sku.capacity in the scenario"
    );
    assert_eq!(
        v("subscription"),
        Some("4a7d2e91-3c5b-4f6e-9d8a-b1c2e3f4a5b6")
    );
    assert!(std.to_set.is_empty(), "{:?}", std.to_set);
    // Ready: one app (the plans are not counted as apps), and what is not replicated is said.
    let ready = d
        .readiness
        .iter()
        .find(|r| r.component == "logic-standard")
        .expect("a readiness verdict");
    assert!(ready.ready, "{ready:?}");
    assert!(
        ready.basis.starts_with("1 Logic App(s) Standard"),
        "{ready:?}"
    );
    assert!(ready.rpo.contains("run history"), "{ready:?}");
    // Exactly the names the template declares.
    let template = drbook::runbook::generate::Templates::builtin();
    let doc: toml::Table =
        toml::from_str(template.get("logic-standard").expect("template")).expect("template TOML");
    let declared: BTreeSet<&String> = doc["vars"].as_table().expect("[vars]").keys().collect();
    assert_eq!(std.vars.keys().collect::<BTreeSet<_>>(), declared);
    // The Consumption workflows keep their own component, without the sites.
    let logic = d
        .components
        .iter()
        .find(|c| c.component == "logic")
        .expect("the Consumption workflows");
    assert!(
        logic.resources.iter().all(|r| r
            .to_ascii_lowercase()
            .contains("/microsoft.logic/workflows/")),
        "{:?}",
        logic.resources
    );
}

/// A Logic App Standard without a counterpart is still flagged `logic-no-secondary`, and
/// names what to deploy; its component is `logic-standard`, not ready.
#[test]
fn an_unpaired_logic_app_standard_is_flagged() {
    let s = TRAVEL_SUB;
    let rg = format!("/subscriptions/{s}/resourceGroups/rg-travel-eastus2");
    let extra = format!(
        r#"
[[resource]]
id = "{rg}/providers/Microsoft.Web/serverfarms/plan-travel-flows-eastus2"
location = "eastus2"
kind = "elastic"
sku = {{ name = "WS1", tier = "WorkflowStandard", capacity = 1 }}
[resource.properties]
status = "Ready"

[[resource]]
id = "{rg}/providers/Microsoft.Web/sites/logic-travel-flows-eastus2"
location = "eastus2"
kind = "functionapp,workflowapp"
[resource.properties]
state = "Running"
defaultHostName = "logic-travel-flows-eastus2.azurewebsites.net"
serverFarmId = "{rg}/providers/Microsoft.Web/serverfarms/plan-travel-flows-eastus2"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.toml");
    std::fs::write(&path, travel() + &extra).unwrap();
    let (d, _) = discover_json(
        &path.display().to_string(),
        TRAVEL_SUB,
        &["--primary", "eastus2"],
    );
    let found = findings_on(&d, "/sites/logic-travel-flows-eastus2");
    let f = found
        .iter()
        .find(|f| f["code"] == "logic-no-secondary")
        .unwrap_or_else(|| panic!("no logic-no-secondary: {found:#?}"));
    assert_eq!(f["severity"], "high");
    assert!(
        f["message"]
            .as_str()
            .is_some_and(|m| m.contains("Logic App (Standard)") && m.contains("centralus")),
        "{f}"
    );
    assert!(
        f["fix"]
            .as_str()
            .is_some_and(|m| m.contains("Workflow Standard plan")),
        "{f}"
    );
    let c = d["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["component"] == "logic-standard")
        .unwrap_or_else(|| panic!("no logic-standard component: {d:#}"));
    assert_eq!(c["runbook"], "logic-standard-failover");
    assert!(c["pairs"].as_array().is_some_and(Vec::is_empty), "{c}");
    assert!(
        c["resources"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| ends(r, "/plan-travel-flows-eastus2"))),
        "the plan goes with its site: {c}"
    );
}
