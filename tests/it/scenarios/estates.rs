//! The estates besides the shop that `drbook discover` is tested and measured on.
//!
//! travel-eastus2.toml: another application in another region pair, with planted gaps. Its
//! gaps are data (tests/data/travel-gaps.toml); these tests check that each planted gap really
//! is one in the scenario (so a discover test that finds it finds something true), that the
//! components meant to be paired really have their counterparts (so a finding on them would be
//! a false alarm), and that the simulator serves the estate as Resource Graph would: resource
//! groups in `ResourceContainers`, not in `Resources`.
//!
//! large-estate.toml: 10,000 resources in four subscriptions written with `[[generate]]`; they
//! must all be there, and paging through Resource Graph must return each exactly once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use drbook::sim::scenario::ResourceDef;
use drbook::sim::{self, Scenario, SimHandle, SimOptions};
use serde::Deserialize;
use serde_json::{Value, json};

use super::root;

const GRAPH: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";

fn load(name: &str) -> Scenario {
    let path = root().join("runbooks/scenarios").join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GapFile {
    pub(crate) estate: GapEstate,
    pub(crate) gap: Vec<Gap>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GapEstate {
    pub(crate) scenario: String,
    pub(crate) primary: String,
    pub(crate) secondary: String,
    pub(crate) subscriptions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Gap {
    pub(crate) resource: String,
    pub(crate) code: String,
    pub(crate) severity: String,
    pub(crate) why: String,
}

pub(crate) fn gaps() -> GapFile {
    let path = root().join("tests/data/travel-gaps.toml");
    let text = std::fs::read_to_string(&path).expect("tests/data/travel-gaps.toml");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The last segment of an ARM id.
fn name(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or("")
}

/// `Microsoft.Web/sites` from an id (nested types keep every type segment).
fn arm_type(id: &str) -> String {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let Some(p) = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    else {
        return "Microsoft.Resources/resourceGroups".into();
    };
    let rest = &segs[p + 1..];
    let mut out = rest.first().map(|s| s.to_string()).unwrap_or_default();
    for t in rest[1..].iter().step_by(2) {
        out.push('/');
        out.push_str(t);
    }
    out
}

struct Estate<'a> {
    by_id: BTreeMap<String, &'a ResourceDef>,
}

impl<'a> Estate<'a> {
    fn new(sc: &'a Scenario) -> Estate<'a> {
        Estate {
            by_id: sc
                .resources
                .iter()
                .map(|r| (r.id.to_ascii_lowercase(), r))
                .collect(),
        }
    }

    fn get(&self, id: &str) -> Option<&'a ResourceDef> {
        self.by_id.get(&id.to_ascii_lowercase()).copied()
    }

    /// Direct and nested children of `id` of the given type (`.../originGroups/origins`).
    fn children(&self, id: &str, type_suffix: &str) -> Vec<&'a ResourceDef> {
        let prefix = format!("{}/", id.to_ascii_lowercase());
        self.by_id
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, r)| *r)
            .filter(|r| {
                arm_type(&r.id)
                    .to_ascii_lowercase()
                    .ends_with(&type_suffix.to_ascii_lowercase())
            })
            .collect()
    }

    fn prop(&self, id: &str, key: &str) -> Option<&'a toml::Value> {
        self.get(id)?.properties.get(key)
    }
}

fn region(r: &ResourceDef) -> String {
    r.location.to_ascii_lowercase().replace(' ', "")
}

// ------------------------------------------------------------------------------ travel

#[test]
fn travel_is_another_application_in_another_region_pair() {
    let sc = load("travel-eastus2.toml");
    let shop = load("westeurope-outage.toml");
    let g = gaps();
    assert_eq!(g.estate.scenario, "runbooks/scenarios/travel-eastus2.toml");
    assert_eq!(
        (g.estate.primary.as_str(), g.estate.secondary.as_str()),
        ("eastus2", "centralus")
    );

    // Its own subscriptions, none of the shop's.
    let subs: BTreeSet<&str> = sc.subscriptions.iter().map(|s| s.id.as_str()).collect();
    let wanted: BTreeSet<&str> = g.estate.subscriptions.iter().map(String::as_str).collect();
    assert_eq!(subs, wanted);
    assert!(subs.len() >= 2, "{subs:?}");
    for s in &shop.subscriptions {
        assert!(
            !subs.contains(s.id.as_str()),
            "shares {} with the shop",
            s.id
        );
    }

    // Every resource's group is declared, with a location.
    let groups: HashMap<String, &str> = sc
        .resource_groups
        .iter()
        .map(|g| (g.id.to_ascii_lowercase(), g.location.as_str()))
        .collect();
    for r in &sc.resources {
        let segs: Vec<&str> = r.id.split('/').collect();
        if segs.len() > 4 && segs[3].eq_ignore_ascii_case("resourceGroups") {
            let gid = segs[..5].join("/").to_ascii_lowercase();
            assert!(groups.contains_key(&gid), "{}: group not declared", r.id);
        }
        if let Some(tags) = &r.tags {
            assert_eq!(
                tags.get("app").and_then(|v| v.as_str()),
                Some("travel"),
                "{}",
                r.id
            );
        }
    }

    // Resources of every type discover must recognise.
    let types: BTreeSet<String> = sc.resources.iter().map(|r| arm_type(&r.id)).collect();
    for t in [
        "Microsoft.Web/serverfarms",
        "Microsoft.Web/sites",
        "Microsoft.Logic/workflows",
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.Sql/servers",
        "Microsoft.Sql/servers/databases",
        "Microsoft.Sql/servers/failoverGroups",
        "Microsoft.DocumentDB/databaseAccounts",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Cdn/profiles",
        "Microsoft.Cdn/profiles/afdEndpoints",
        "Microsoft.Cdn/profiles/originGroups",
        "Microsoft.Cdn/profiles/originGroups/origins",
        "Microsoft.Network/trafficManagerProfiles",
        "Microsoft.Network/trafficManagerProfiles/azureEndpoints",
        "Microsoft.Network/dnsZones",
        "Microsoft.ContainerRegistry/registries",
        "Microsoft.ContainerRegistry/registries/replications",
        "Microsoft.ServiceBus/namespaces",
        "Microsoft.ServiceBus/namespaces/disasterRecoveryConfigs",
        "Microsoft.KeyVault/vaults",
        "Microsoft.Compute/virtualMachineScaleSets",
    ] {
        assert!(types.contains(t), "no {t} in the travel estate");
    }
    // Sites of each kind: web app, Function App, Logic App Standard.
    let kinds: BTreeSet<&str> = sc
        .resources
        .iter()
        .filter(|r| arm_type(&r.id) == "Microsoft.Web/sites")
        .filter_map(|r| r.kind.as_deref())
        .collect();
    for k in ["app,linux", "functionapp,linux", "functionapp,workflowapp"] {
        assert!(kinds.contains(k), "no site of kind {k}: {kinds:?}");
    }

    // The outage of the primary is on the timeline, so a plan can be rehearsed against it.
    assert!(
        sc.events
            .iter()
            .any(|e| e.region_down.as_deref() == Some("eastus2")),
        "no eastus2 outage on the timeline"
    );
}

/// Each planted gap is what its code says, in the scenario's own data.
#[test]
fn every_planted_gap_is_real_in_the_travel_estate() {
    let sc = load("travel-eastus2.toml");
    let est = Estate::new(&sc);
    let g = gaps();
    let (primary, secondary) = (g.estate.primary.as_str(), g.estate.secondary.as_str());
    assert!(g.gap.len() >= 8, "{} gaps", g.gap.len());
    let codes: BTreeSet<&str> = g.gap.iter().map(|x| x.code.as_str()).collect();
    assert_eq!(codes.len(), g.gap.len(), "one gap per code");
    for gap in &g.gap {
        let id = gap.resource.as_str();
        assert!(
            ["critical", "high", "medium", "low"].contains(&gap.severity.as_str()),
            "{id}: severity {}",
            gap.severity
        );
        assert!(!gap.why.trim().is_empty(), "{id}: say why");
        match gap.code.as_str() {
            "global-group-in-primary" => {
                let group = sc
                    .resource_groups
                    .iter()
                    .find(|g| g.id.eq_ignore_ascii_case(id))
                    .unwrap_or_else(|| panic!("{id}: not a declared group"));
                assert_eq!(group.location, primary, "{id}");
                let prefix = format!("{}/", id.to_ascii_lowercase());
                let global = sc
                    .resources
                    .iter()
                    .filter(|r| r.id.to_ascii_lowercase().starts_with(&prefix))
                    .filter(|r| region(r) == "global")
                    .count();
                assert!(global > 0, "{id}: holds no global resource");
            }
            "function-no-secondary" => {
                let r = est.get(id).unwrap_or_else(|| panic!("{id}: absent"));
                assert_eq!(region(r), primary, "{id}");
                let stem = name(id).replace(&format!("-{primary}"), "");
                let t = arm_type(id);
                let twins: Vec<&str> = sc
                    .resources
                    .iter()
                    .filter(|o| arm_type(&o.id) == t && region(o) == secondary)
                    .filter(|o| name(&o.id).contains(&stem))
                    .map(|o| o.id.as_str())
                    .collect();
                assert!(twins.is_empty(), "{id} has counterparts {twins:?}");
            }
            "cosmos-single-region" => {
                let locations = est
                    .prop(id, "locations")
                    .and_then(|v| v.as_array())
                    .unwrap_or_else(|| panic!("{id}: no locations"));
                assert_eq!(locations.len(), 1, "{id}");
            }
            "storage-no-geo-redundancy" => {
                let r = est.get(id).unwrap_or_else(|| panic!("{id}: absent"));
                let sku = r
                    .sku
                    .as_ref()
                    .and_then(|s| s.get("name"))
                    .and_then(|n| n.as_str())
                    .unwrap_or("");
                assert!(
                    sku.ends_with("_LRS") || sku.ends_with("_ZRS"),
                    "{id}: {sku}"
                );
                assert!(est.prop(id, "secondaryLocation").is_none(), "{id}");
            }
            "sql-no-geo-replication" => {
                assert!(est.get(id).is_some(), "{id}: absent");
                assert!(est.prop(id, "failoverGroupId").is_none(), "{id}");
                let listed = sc
                    .resources
                    .iter()
                    .filter(|r| arm_type(&r.id) == "Microsoft.Sql/servers/failoverGroups")
                    .filter_map(|r| r.properties.get("databases").and_then(|d| d.as_array()))
                    .flatten()
                    .any(|d| d.as_str().is_some_and(|d| d.eq_ignore_ascii_case(id)));
                assert!(!listed, "{id}: in a failover group");
                let replicas = sc
                    .resources
                    .iter()
                    .filter(|r| arm_type(&r.id) == "Microsoft.Sql/servers/databases")
                    .filter(|r| !r.id.eq_ignore_ascii_case(id) && name(&r.id) == name(id))
                    .count();
                assert_eq!(replicas, 0, "{id}: has a geo-replica");
            }
            "acr-no-replica" => {
                assert!(est.get(id).is_some(), "{id}: absent");
                assert!(est.children(id, "/replications").is_empty(), "{id}");
            }
            "frontdoor-single-origin" => {
                assert!(est.get(id).is_some(), "{id}: absent");
                assert_eq!(est.children(id, "/origins").len(), 1, "{id}");
            }
            "trafficmanager-single-endpoint" => {
                assert!(est.get(id).is_some(), "{id}: absent");
                assert_eq!(est.children(id, "Endpoints").len(), 1, "{id}");
            }
            other => panic!("{id}: unknown code `{other}`: teach this test what it means"),
        }
    }
}

/// Everything in the primary group that is not a gap has its counterpart: a finding on it
/// would be a false alarm.
#[test]
fn the_paired_components_of_travel_have_their_counterparts() {
    let sc = load("travel-eastus2.toml");
    let est = Estate::new(&sc);
    let g = gaps();
    let (p, s) = (g.estate.primary.as_str(), g.estate.secondary.as_str());
    let gap_ids: BTreeSet<String> = g
        .gap
        .iter()
        .map(|x| x.resource.to_ascii_lowercase())
        .collect();
    // A gap's own plan, and the server of a gap's database, go with it.
    let serving_gaps: BTreeSet<String> = gap_ids
        .iter()
        .filter_map(|id| est.prop(id, "serverFarmId"))
        .filter_map(|v| v.as_str().map(str::to_ascii_lowercase))
        .collect();
    let primary_group = format!("/resourcegroups/rg-travel-{p}/");
    let mut paired = 0;
    for r in &sc.resources {
        let key = r.id.to_ascii_lowercase();
        let top_level = arm_type(&r.id).matches('/').count() == 1;
        if !key.contains(&primary_group)
            || !top_level
            || !name(&r.id).ends_with(&format!("-{p}"))
            || gap_ids.contains(&key)
            || serving_gaps.contains(&key)
            || gap_ids.iter().any(|g| g.starts_with(&format!("{key}/")))
        {
            continue;
        }
        let twin = r.id.replace(&format!("-{p}"), &format!("-{s}"));
        let other = est
            .get(&twin)
            .unwrap_or_else(|| panic!("{}: no counterpart {twin}", r.id));
        assert_eq!(region(other), s, "{twin}");
        assert_eq!(other.kind, r.kind, "{twin}: another kind");
        paired += 1;
    }
    assert!(paired >= 10, "only {paired} pairs by name");

    // Failover group partners name each other.
    let fogs: Vec<&ResourceDef> = sc
        .resources
        .iter()
        .filter(|r| arm_type(&r.id) == "Microsoft.Sql/servers/failoverGroups")
        .collect();
    assert_eq!(fogs.len(), 2);
    for f in &fogs {
        let partners = f.properties["partnerServers"]
            .as_array()
            .expect("partnerServers");
        for partner in partners {
            let pid = partner["id"].as_str().expect("partner id");
            assert!(est.get(pid).is_some(), "{}: partner {pid} absent", f.id);
            let same = format!("{pid}/failoverGroups/{}", name(&f.id));
            assert!(est.get(&same).is_some(), "{same} absent");
        }
    }
    // One resource in two regions.
    let find = |n: &str| {
        sc.resources
            .iter()
            .find(|r| name(&r.id) == n)
            .unwrap_or_else(|| panic!("{n} absent"))
    };
    let cosmos = find("cosmos-travel");
    assert_eq!(
        cosmos.properties["locations"].as_array().map(Vec::len),
        Some(2)
    );
    let st = find("sttraveldata");
    assert_eq!(st.properties["secondaryLocation"].as_str(), Some(s));
    let acr = find("crtravel");
    let replicas: BTreeSet<String> = est
        .children(&acr.id, "/replications")
        .iter()
        .map(|r| region(r))
        .collect();
    assert_eq!(replicas, [p.to_string(), s.to_string()].into());
    // Front Door origins and Traffic Manager endpoints in both regions.
    let og = find("og-travel");
    let hosts: BTreeSet<String> = est
        .children(&og.id, "/origins")
        .iter()
        .filter_map(|o| o.properties["hostName"].as_str().map(str::to_string))
        .collect();
    let sites: BTreeSet<String> = [p, s]
        .iter()
        .map(|r| {
            find(&format!("app-travel-{r}")).properties["defaultHostName"]
                .as_str()
                .expect("defaultHostName")
                .to_string()
        })
        .collect();
    assert_eq!(hosts, sites);
    let tm = find("tm-travel");
    let regions: BTreeSet<String> = est
        .children(&tm.id, "Endpoints")
        .iter()
        .filter_map(|e| e.properties["endpointLocation"].as_str())
        .map(|l| l.to_ascii_lowercase().replace(' ', ""))
        .collect();
    assert_eq!(regions, [p.to_string(), s.to_string()].into());
}

// ------------------------------------------------------------------ through the simulator

struct Sim {
    sim: SimHandle,
    http: reqwest::Client,
    token: String,
}

impl Sim {
    async fn start(sc: Scenario) -> Sim {
        let sim = sim::start(
            sc,
            SimOptions {
                quiet: true,
                ..Default::default()
            },
        )
        .await
        .expect("the simulator starts");
        let token = sim.issue_token(Duration::from_secs(3600));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Sim { sim, http, token }
    }

    async fn graph(&self, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{GRAPH}", self.sim.base_url()))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("graph answers");
        let status = r.status().as_u16();
        let v: Value = r.json().await.expect("JSON");
        assert_eq!(status, 200, "{body}: {v}");
        v
    }
}

#[tokio::test]
async fn travel_groups_are_containers_and_endpoints_stay_inside_their_profile() {
    let sc = load("travel-eastus2.toml");
    let subs: Vec<String> = sc.subscriptions.iter().map(|s| s.id.clone()).collect();
    let declared: BTreeMap<String, String> = sc
        .resource_groups
        .iter()
        .map(|g| (name(&g.id).to_string(), g.location.clone()))
        .collect();
    let t = Sim::start(sc).await;

    let groups = t
        .graph(json!({"subscriptions": subs, "query": "ResourceContainers | where type == 'microsoft.resources/subscriptions/resourcegroups' | project id, name, location"}))
        .await;
    let got: BTreeMap<String, String> = groups["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_string(),
                r["location"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(got, declared);

    let subs_rows = t
        .graph(json!({"subscriptions": subs, "query": "ResourceContainers | where type == 'microsoft.resources/subscriptions' | project id, name"}))
        .await;
    assert_eq!(subs_rows["totalRecords"], 2, "{subs_rows}");

    let none = t
        .graph(json!({"subscriptions": subs, "query": "Resources | where type contains 'resourcegroups' or type == 'microsoft.resources/subscriptions' | project id"}))
        .await;
    assert_eq!(none["totalRecords"], 0, "{none}");

    let profiles = t
        .graph(json!({"subscriptions": subs, "query": "Resources | where type == 'microsoft.network/trafficmanagerprofiles' | project id, name, properties"}))
        .await;
    let counts: BTreeMap<String, usize> = profiles["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_string(),
                r["properties"]["endpoints"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("tm-travel".to_string(), 2),
            ("tm-travel-partners".to_string(), 1)
        ]
        .into()
    );
    let endpoint_rows = t
        .graph(json!({"subscriptions": subs, "query": "Resources | where type contains 'endpoints' and type startswith 'microsoft.network/trafficmanagerprofiles/' | project id"}))
        .await;
    assert_eq!(endpoint_rows["totalRecords"], 0, "{endpoint_rows}");
    t.sim.shutdown().await;
}

// ------------------------------------------------------------------------- large estate

#[test]
fn large_estate_expands_to_ten_thousand_resources_in_four_subscriptions() {
    let sc = load("large-estate.toml");
    assert_eq!(sc.resources.len(), 10_000);
    assert_eq!(sc.subscriptions.len(), 4);
    assert_eq!(sc.resource_groups.len(), 12);
    let ids: BTreeSet<String> = sc
        .resources
        .iter()
        .map(|r| r.id.to_ascii_lowercase())
        .collect();
    assert_eq!(ids.len(), 10_000, "ids repeat");
    let mut per_sub: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &sc.resources {
        let sub = r.id.split('/').nth(2).unwrap_or("");
        *per_sub.entry(sub).or_default() += 1;
    }
    let declared: BTreeSet<&str> = sc.subscriptions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(per_sub.keys().copied().collect::<BTreeSet<_>>(), declared);
    assert!(per_sub.values().all(|n| *n == 2_500), "{per_sub:?}");
    // Templates are filled in everywhere, not only in ids.
    for r in &sc.resources {
        let text = format!("{:?}", r);
        assert!(!text.contains("{i}") && !text.contains("{sub}"), "{}", r.id);
    }
    // Each generated failover group names an existing partner.
    let est = Estate::new(&sc);
    for f in sc
        .resources
        .iter()
        .filter(|r| arm_type(&r.id) == "Microsoft.Sql/servers/failoverGroups")
    {
        let pid = f.properties["partnerServers"][0]["id"]
            .as_str()
            .expect("partner");
        assert!(est.get(pid).is_some(), "{}: {pid}", f.id);
    }
}

#[tokio::test]
async fn large_estate_pages_through_resource_graph_each_resource_once() {
    let sc = load("large-estate.toml");
    let subs: Vec<String> = sc.subscriptions.iter().map(|s| s.id.clone()).collect();
    assert_eq!(sc.resources.len(), 10_000);
    // Resource Graph's `Resources` holds them all but the failover groups (no table holds
    // those: discovery pairs SQL through the databases' `failoverGroupId`).
    let expected: BTreeSet<String> = sc
        .resources
        .iter()
        .filter(|r| arm_type(&r.id) != "Microsoft.Sql/servers/failoverGroups")
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(expected.len(), 8_400);
    let t = Sim::start(sc).await;

    let mut seen: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut options = json!({"$top": 1000, "resultFormat": "objectArray"});
        if let Some(tok) = &token {
            options["$skipToken"] = json!(tok);
        }
        let page = t
            .graph(json!({"subscriptions": subs, "query": "Resources | project id, name, type, location", "options": options}))
            .await;
        pages += 1;
        assert!(pages <= 11, "the tokens never end");
        assert_eq!(page["totalRecords"], 8_400);
        assert_eq!(page["resultTruncated"], "false");
        let data = page["data"].as_array().expect("data");
        assert_eq!(page["count"], data.len());
        let want = if pages < 9 { 1000 } else { 400 };
        assert_eq!(data.len(), want, "page {pages}");
        seen.extend(
            data.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string)),
        );
        token = page["$skipToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 9);
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a resource came twice");
    assert_eq!(unique, expected);

    let containers = t
        .graph(json!({"subscriptions": subs, "query": "ResourceContainers | project id, type, location"}))
        .await;
    let rows = containers["data"].as_array().expect("data");
    let groups = rows
        .iter()
        .filter(|r| r["type"] == "microsoft.resources/subscriptions/resourcegroups")
        .count();
    assert_eq!((rows.len(), groups), (16, 12));
    t.sim.shutdown().await;
}

// ------------------------------------------------------------------------------ the CLI

/// `drbook validate` recognises every scenario (the new ones too) and leaves it alone.
#[test]
fn validate_recognises_the_scenarios_and_skips_them() {
    let dir = root().join("runbooks/scenarios");
    let n = super::scenario_files().len();
    assert!(n >= 3, "{n} scenarios");
    let out = crate::support::cli::drbook()
        .args(["validate", "--strict"])
        .arg(&dir)
        .output()
        .expect("drbook runs");
    let text = crate::support::cli::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("skipped {n} simulator scenario file(s)")),
        "{text}"
    );
}
