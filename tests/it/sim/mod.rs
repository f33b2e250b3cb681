//! The simulator end to end: a scenario served on loopback, driven with a raw HTTP client as
//! the Azure client would, checking the ARM shapes, actions, long-running operations,
//! outages, faults, probes and the timeline.

use std::time::{Duration, Instant};

use drbook::sim::{
    self, Faults, InjectedFault, Injection, Outage, OutageArm, Scenario, SimHandle, SimOptions,
};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

mod actions;
mod faults;

const SUB: &str = "11111111-2222-3333-4444-555555555555";

/// An api-version the simulator accepts for what `path` addresses (a resource, a collection,
/// or the resource an action is about), so these tests exercise the routes rather than the
/// api-version check (tested in tests/scenarios.rs). Paths the check leaves alone get any.
fn api_for(path: &str) -> &'static str {
    use drbook::sim::apiversions::{supported, type_of};
    let p = path.split('?').next().unwrap_or(path);
    ["GET", "POST"]
        .iter()
        .find_map(|m| type_of(m, p).and_then(|t| supported(&t)))
        .and_then(|t| t.versions.last().copied())
        .unwrap_or("2023-01-01")
}

fn rg(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

fn site(region: &str) -> String {
    format!(
        "{}/providers/Microsoft.Web/sites/app-shop-{region}",
        rg(&format!("rg-shop-{region}"))
    )
}

fn workflow() -> String {
    format!(
        "{}/providers/Microsoft.Logic/workflows/wf-orders-northeurope",
        rg("rg-shop-northeurope")
    )
}

fn aks() -> String {
    format!(
        "{}/providers/Microsoft.ContainerService/managedClusters/aks-shop-northeurope",
        rg("rg-shop-northeurope")
    )
}

fn cosmos() -> String {
    format!(
        "{}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-shop",
        rg("rg-shop-global")
    )
}

fn server(region: &str) -> String {
    format!(
        "{}/providers/Microsoft.Sql/servers/sql-shop-{region}",
        rg(&format!("rg-shop-{region}"))
    )
}

fn fog(region: &str) -> String {
    format!("{}/failoverGroups/fog-shop", server(region))
}

fn storage() -> String {
    format!(
        "{}/providers/Microsoft.Storage/storageAccounts/stshop",
        rg("rg-shop-westeurope")
    )
}

fn sb_ns(region: &str) -> String {
    format!(
        "{}/providers/Microsoft.ServiceBus/namespaces/sb-shop-{region}",
        rg(&format!("rg-shop-{region}"))
    )
}

fn tm_endpoint() -> String {
    format!(
        "{}/providers/Microsoft.Network/trafficManagerProfiles/tm-shop/azureEndpoints/ep-westeurope",
        rg("rg-shop-global")
    )
}

fn origin(region: &str) -> String {
    format!(
        "{}/providers/Microsoft.Cdn/profiles/afd-shop/originGroups/og-shop/origins/origin-{region}",
        rg("rg-shop-global")
    )
}

fn scenario_toml() -> String {
    format!(
        r#"
[scenario]
id = "test-estate"
title = "A small estate for tests"
lro_delay = "300ms"

[[subscription]]
id = "{SUB}"
name = "shop-test"

[[resource]]
id = "{site_we}"
location = "West Europe"
kind = "app"
sku = {{ name = "P1v3", capacity = 2 }}
tags = {{ env = "prod" }}
properties = {{ state = "Running", availabilityState = "Normal", defaultHostName = "app-shop-westeurope.azurewebsites.net" }}

[[resource]]
id = "{site_ne}"
location = "northeurope"
kind = "app"
properties = {{ state = "Stopped", availabilityState = "Normal" }}
health = "Degraded"

[[resource]]
id = "{workflow}"
location = "northeurope"
properties = {{ state = "Disabled", provisioningState = "Succeeded" }}

[[resource]]
id = "{aks}"
location = "northeurope"
properties = {{ provisioningState = "Succeeded", powerState = {{ code = "Stopped" }}, agentPoolProfiles = [{{ name = "system", powerState = {{ code = "Stopped" }}, provisioningState = "Succeeded" }}] }}

[[resource]]
id = "{cosmos}"
location = "West Europe"
region = "global"
kind = "GlobalDocumentDB"
[resource.properties]
provisioningState = "Succeeded"
documentEndpoint = "https://cosmos-shop.documents.azure.com:443/"
writeLocations = [{{ locationName = "West Europe", failoverPriority = 0 }}]
readLocations = [
  {{ locationName = "West Europe", failoverPriority = 0, provisioningState = "Succeeded" }},
  {{ locationName = "North Europe", failoverPriority = 1, provisioningState = "Succeeded" }},
]
failoverPolicies = [
  {{ id = "cosmos-shop-westeurope", locationName = "West Europe", failoverPriority = 0 }},
  {{ id = "cosmos-shop-northeurope", locationName = "North Europe", failoverPriority = 1 }},
]

[[resource]]
id = "{server_we}"
location = "westeurope"
properties = {{ state = "Ready" }}

[[resource]]
id = "{server_ne}"
location = "northeurope"
properties = {{ state = "Ready" }}

[[resource]]
id = "{fog_we}"
location = "westeurope"
properties = {{ replicationRole = "Primary", replicationState = "CATCH_UP", partnerServers = [{{ id = "{server_ne}", location = "North Europe", replicationRole = "Secondary" }}] }}

[[resource]]
id = "{fog_ne}"
location = "northeurope"
properties = {{ replicationRole = "Secondary", replicationState = "CATCH_UP", partnerServers = [{{ id = "{server_we}", location = "West Europe", replicationRole = "Primary" }}] }}

[[resource]]
id = "{storage}"
location = "westeurope"
kind = "StorageV2"
sku = {{ name = "Standard_RAGZRS" }}
properties = {{ primaryLocation = "westeurope", secondaryLocation = "northeurope", statusOfPrimary = "available", statusOfSecondary = "available", secondaryEndpoints = {{ blob = "https://stshop-secondary.blob.core.windows.net/" }}, provisioningState = "Succeeded", geoReplicationStats = {{ status = "Live", canFailover = true, lastSyncTime = "${{now-2m}}" }} }}

[[resource]]
id = "{sb_we}"
location = "westeurope"

[[resource]]
id = "{sb_we}/disasterRecoveryConfigs/shop-orders"
location = "westeurope"
properties = {{ role = "Primary", partnerNamespace = "{sb_ne}", provisioningState = "Succeeded" }}

[[resource]]
id = "{sb_ne}"
location = "northeurope"

[[resource]]
id = "{sb_ne}/disasterRecoveryConfigs/shop-orders"
location = "northeurope"
properties = {{ role = "Secondary", partnerNamespace = "{sb_we}", provisioningState = "Succeeded" }}

[[resource]]
id = "{tm}"
location = "global"
properties = {{ endpointStatus = "Enabled", endpointMonitorStatus = "Online", endpointLocation = "West Europe" }}

[[resource]]
id = "{origin_we}"
location = "global"
properties = {{ enabledState = "Enabled", deploymentStatus = "NotStarted" }}

[[resource]]
id = "{origin_ne}"
location = "global"
properties = {{ enabledState = "Enabled", deploymentStatus = "NotStarted" }}

[[endpoint]]
url = "https://shop.example.com/healthz"
status = 200
body = '{{"status":"ok","region":"${{region}}"}}'
backends = [
  {{ region = "westeurope", resource = "{origin_we}", path = "properties.enabledState", equals = "Enabled" }},
  {{ region = "northeurope", resource = "{origin_ne}", path = "properties.enabledState", equals = "Enabled" }},
]

[[endpoint]]
url = "https://status.example.com/health?service=boards"
body = "boards ok"
backends = [{{ region = "global" }}]

[[endpoint]]
url = "https://status.example.com/health?service=repos"
status = 500
body = "repos broken"
backends = [{{ region = "global" }}]

[[event]]
at = "1h"
note = "far in the future"
region_down = "northeurope"
"#,
        site_we = site("westeurope"),
        site_ne = site("northeurope"),
        workflow = workflow(),
        aks = aks(),
        cosmos = cosmos(),
        server_we = server("westeurope"),
        server_ne = server("northeurope"),
        fog_we = fog("westeurope"),
        fog_ne = fog("northeurope"),
        storage = storage(),
        sb_we = sb_ns("westeurope"),
        sb_ne = sb_ns("northeurope"),
        tm = tm_endpoint(),
        origin_we = origin("westeurope"),
        origin_ne = origin("northeurope"),
    )
}

struct T {
    sim: SimHandle,
    http: reqwest::Client,
    token: String,
    base: String,
}

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

async fn start_toml(toml: &str, opts: SimOptions) -> T {
    let scenario = Scenario::parse("test.toml", toml).unwrap();
    let sim = sim::start(scenario, opts).await.unwrap();
    let token = sim.issue_token(Duration::from_secs(3600));
    let base = sim.base_url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    T {
        sim,
        http,
        token,
        base,
    }
}

async fn estate() -> T {
    start_toml(
        &scenario_toml(),
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await
}

impl T {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            return path.to_string();
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}api-version={}", self.base, api_for(path))
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(m, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        read(r).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None).await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> Resp {
        self.send("POST", path, body).await
    }

    /// Polls an operation URL until it stops answering InProgress / 202.
    async fn poll_status(&self, url: &str) -> Resp {
        for _ in 0..100 {
            let r = self.get(url).await;
            if r.body["status"] != "InProgress" {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("operation {url} never finished");
    }

    async fn poll_location(&self, url: &str) -> Resp {
        for _ in 0..100 {
            let r = self.get(url).await;
            if r.status != 202 {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("operation {url} never finished");
    }
}

async fn read(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Resp {
        status,
        headers,
        body,
    }
}

// ------------------------------------------------------------------------------ ARM basics

#[tokio::test]
async fn get_returns_arm_json_built_from_the_scenario() {
    let t = estate().await;
    let r = t.get(&site("westeurope")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], site("westeurope"));
    assert_eq!(r.body["name"], "app-shop-westeurope");
    assert_eq!(r.body["type"], "Microsoft.Web/sites");
    assert_eq!(r.body["location"], "West Europe");
    assert_eq!(r.body["kind"], "app");
    assert_eq!(r.body["sku"]["capacity"], 2);
    assert_eq!(r.body["tags"]["env"], "prod");
    assert_eq!(r.body["properties"]["state"], "Running");
    assert!(r.header("x-ms-request-id").is_some());
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );

    // ids match case-insensitively, as in ARM
    let r = t
        .get(
            &site("westeurope")
                .to_uppercase()
                .replace("SUBSCRIPTIONS", "subscriptions"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], "app-shop-westeurope");

    // child types come from the id
    let r = t.get(&tm_endpoint()).await;
    assert_eq!(
        r.body["type"],
        "Microsoft.Network/trafficManagerProfiles/azureEndpoints"
    );
    assert_eq!(r.body["name"], "ep-westeurope");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn put_patch_delete_and_list() {
    let t = estate().await;
    let id = format!(
        "{}/providers/Microsoft.Web/sites/app-new",
        rg("rg-shop-northeurope")
    );
    let body = json!({"location": "northeurope", "kind": "app", "properties": {"state": "Running", "x": 1}});
    let r = t.send("PUT", &id, Some(body.clone())).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(r.body["type"], "Microsoft.Web/sites");
    let r = t.send("PUT", &id, Some(body)).await;
    assert_eq!(r.status, 200);

    let r = t
        .send(
            "PATCH",
            &id,
            Some(json!({"properties": {"state": "Stopped", "x": null}, "tags": {"a": "b"}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["state"], "Stopped");
    assert!(r.body["properties"].get("x").is_none());
    assert_eq!(r.body["tags"]["a"], "b");
    assert_eq!(r.body["kind"], "app", "PATCH keeps what it does not name");
    assert_eq!(
        t.sim.resource(&id).unwrap()["properties"]["state"],
        "Stopped"
    );

    let list = t
        .get(&format!(
            "{}/providers/Microsoft.Web/sites",
            rg("rg-shop-northeurope")
        ))
        .await;
    assert_eq!(list.status, 200);
    let names: Vec<&str> = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["app-new", "app-shop-northeurope"]);

    // children of one resource
    let list = t
        .get(&format!("{}/failoverGroups", server("northeurope")))
        .await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["value"][0]["name"], "fog-shop");

    // subscription-wide listing of a type
    let list = t
        .get(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.Web/sites"
        ))
        .await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 3);

    // a child needs its parent
    let r = t
        .send(
            "PUT",
            &format!(
                "{}/providers/Microsoft.Sql/servers/ghost/databases/db",
                rg("rg-shop-northeurope")
            ),
            Some(json!({"location": "northeurope"})),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "ParentResourceNotFound");
    let r = t
        .send(
            "PUT",
            &format!("{}/databases/sqldb-shop", server("northeurope")),
            Some(json!({"properties": {"status": "Online"}})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.body["location"], "northeurope",
        "a child takes its parent's location"
    );

    let r = t.send("DELETE", &id, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(t.get(&id).await.status, 404);
    assert_eq!(t.send("DELETE", &id, None).await.status, 204);
    assert!(t.sim.resource(&id).is_none());

    // bad bodies are ARM 400s, not crashes
    let r = t
        .http
        .put(t.url(&id))
        .bearer_auth(&t.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let r = read(r).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "InvalidRequestContent");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn resource_groups_and_subscriptions() {
    let t = estate().await;
    let r = t.get(&rg("rg-shop-northeurope")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["type"], "Microsoft.Resources/resourceGroups");
    assert_eq!(r.body["location"], "northeurope");
    let head = |path: String| t.http.head(t.url(&path)).bearer_auth(&t.token).send();
    assert_eq!(head(rg("rg-shop-northeurope")).await.unwrap().status(), 200);
    assert_eq!(head(rg("rg-none")).await.unwrap().status(), 404);
    let r = t.get(&format!("/subscriptions/{SUB}/resourceGroups")).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 3);
    let r = t.get(&format!("/subscriptions/{SUB}")).await;
    assert_eq!(r.body["displayName"], "shop-test");
    let r = t
        .get(&format!("{}/resources", rg("rg-shop-northeurope")))
        .await;
    let v = r.body["value"].as_array().unwrap();
    assert!(v.iter().all(|x| x.get("properties").is_none()));
    assert!(v.iter().any(|x| x["name"] == "aks-shop-northeurope"));
    let r = t
        .send(
            "PUT",
            &rg("rg-new"),
            Some(json!({"location": "swedencentral"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(t.get(&rg("rg-new")).await.status, 200);
    assert_eq!(t.send("DELETE", &rg("rg-new"), None).await.status, 200);
    assert_eq!(t.get(&rg("rg-new")).await.code(), "ResourceGroupNotFound");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn missing_api_version_and_not_found() {
    let t = estate().await;
    let r = t
        .http
        .get(format!("{}{}", t.base, site("westeurope")))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    let r = read(r).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "MissingApiVersionParameter");

    let r = t
        .get(&format!(
            "{}/providers/Microsoft.Web/sites/nope",
            rg("rg-shop-westeurope")
        ))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "ResourceNotFound");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("Microsoft.Web/sites/nope"), "{msg}");
    assert!(msg.contains("rg-shop-westeurope"), "{msg}");

    let r = t
        .get(&format!(
            "{}/providers/Microsoft.Web/sites/x",
            rg("rg-missing")
        ))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "ResourceGroupNotFound");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rg-missing")
    );

    let r = t
        .get("/subscriptions/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(r.code(), "SubscriptionNotFound");
    let r = t.get("/nonsense/path").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "InvalidRequestUri");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn now_templates_render_fresh_at_serve_time() {
    let t = estate().await;
    let r = t
        .get(&format!("{}?$expand=geoReplicationStats", storage()))
        .await;
    assert_eq!(r.status, 200);
    let s = r.body["properties"]["geoReplicationStats"]["lastSyncTime"]
        .as_str()
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(s).unwrap();
    let age = chrono::Utc::now().signed_duration_since(at);
    assert!(
        age >= chrono::TimeDelta::seconds(115) && age <= chrono::TimeDelta::seconds(125),
        "{s} is {age} old"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn geo_replication_stats_come_only_with_expand_as_in_azure() {
    let t = estate().await;
    let plain = t.get(&storage()).await;
    assert_eq!(plain.status, 200);
    assert!(
        plain.body["properties"]
            .get("geoReplicationStats")
            .is_none(),
        "{}",
        plain.body
    );
    assert_eq!(plain.body["properties"]["primaryLocation"], "westeurope");
    let expanded = t
        .get(&format!("{}?$expand=geoReplicationStats", storage()))
        .await;
    assert_eq!(
        expanded.body["properties"]["geoReplicationStats"]["status"],
        "Live"
    );
    t.sim.shutdown().await;
}

// ------------------------------------------------------------------------------------- auth

#[tokio::test]
async fn auth_missing_unknown_and_expired_tokens() {
    let t = estate().await;
    let url = t.url(&site("westeurope"));
    let r = read(t.http.get(&url).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "AuthenticationFailed");
    assert!(r.header("www-authenticate").is_some());

    let r = read(
        t.http
            .get(&url)
            .bearer_auth("made-up-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    assert_eq!(r.body["error"]["message"], "The access token is invalid.");
    assert!(
        r.header("www-authenticate")
            .unwrap_or("")
            .contains("error=\"invalid_token\"")
    );
    assert!(
        !r.body.to_string().contains("made-up-token"),
        "tokens are never echoed"
    );

    let short = t.sim.issue_token(Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let r = read(t.http.get(&url).bearer_auth(&short).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "ExpiredAuthenticationToken");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("The access token expiry UTC time '"),
        "{msg}"
    );
    assert!(msg.contains("is earlier than current UTC time"), "{msg}");
    assert!(!msg.contains(&short));
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );

    // a token from the HTTP endpoint works, and says when it expires
    let tok = read(
        t.http
            .post(format!("{}/sim/token", t.base))
            .json(&json!({"scope": "https://management.azure.com/.default"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(tok.status, 200);
    assert_eq!(tok.body["token_type"], "Bearer");
    let exp = tok.body["expires_on"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now + 3590..=now + 3610).contains(&exp), "{exp} vs {now}");
    let access = tok.body["access_token"].as_str().unwrap();
    let r = read(t.http.get(&url).bearer_auth(access).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    t.sim.shutdown().await;
}

// ----------------------------------------------------------------------------- region down

#[tokio::test]
async fn region_down_answers_503_health_unavailable_graph_still_lists() {
    let t = estate().await;
    t.sim.region_down("West Europe");
    let id = site("westeurope");
    let r = t.get(&id).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.code(), "ServiceUnavailable");
    for (m, path, body) in [
        (
            "PATCH",
            id.clone(),
            Some(json!({"properties": {"state": "Stopped"}})),
        ),
        ("PUT", id.clone(), Some(json!({"location": "westeurope"}))),
        ("DELETE", id.clone(), None),
        ("POST", format!("{id}/restart"), None),
        ("GET", fog("westeurope"), None),
    ] {
        let r = t.send(m, &path, body).await;
        assert_eq!(r.status, 503, "{m} {path}");
    }
    // a resource of another region still answers
    assert_eq!(t.get(&site("northeurope")).await.status, 200);
    // a global resource never goes down
    assert_eq!(t.get(&cosmos()).await.status, 200);

    let h = t
        .get(&format!(
            "{id}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
        ))
        .await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["name"], "current");
    assert_eq!(
        h.body["type"],
        "Microsoft.ResourceHealth/AvailabilityStatuses"
    );
    assert_eq!(h.body["properties"]["availabilityState"], "Unavailable");
    assert_eq!(h.body["properties"]["reasonType"], "Unplanned");
    assert!(
        h.body["properties"]["summary"]
            .as_str()
            .unwrap()
            .contains("westeurope")
    );
    assert!(h.body["properties"]["occuredTime"].is_string());

    let g = t
        .post(
            "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
            Some(json!({"subscriptions": [SUB], "query": "Resources"})),
        )
        .await;
    assert_eq!(g.status, 200);
    let row = g.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(row["properties"]["state"], "Running");

    t.sim.region_up("westeurope");
    assert_eq!(t.get(&id).await.status, 200);
    let h = t
        .get(&format!(
            "{id}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
        ))
        .await;
    assert_eq!(h.body["properties"]["availabilityState"], "Available");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn resource_health_reports_the_scenario_state() {
    let t = estate().await;
    let h = t
        .get(&format!(
            "{}/providers/Microsoft.ResourceHealth/availabilityStatuses/current?api-version=2023-10-01-preview",
            site("northeurope")
        ))
        .await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["properties"]["availabilityState"], "Degraded");
    assert_eq!(h.body["location"], "northeurope");
    let h = t
        .get(&format!(
            "{}/providers/Microsoft.Web/sites/nope/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
            rg("rg-shop-northeurope")
        ))
        .await;
    assert_eq!(h.status, 404);
    t.sim.shutdown().await;
}

// --------------------------------------------------------------------------------- graph

#[tokio::test]
async fn resource_graph_rows_and_query_errors() {
    let t = estate().await;
    let g = t
        .post(
            "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
            Some(json!({"subscriptions": [SUB], "query": "Resources", "options": {"resultFormat": "objectArray"}})),
        )
        .await;
    assert_eq!(g.status, 200);
    let n = g.body["data"].as_array().unwrap().len();
    // Every resource of the scenario but the Traffic Manager endpoint: Resource Graph lists
    // endpoints only inside their profile's `properties.endpoints`.
    // Every resource of the scenario but those Resource Graph's `Resources` table does not
    // hold: the Traffic Manager endpoint (inside its profile's `properties.endpoints`), the two
    // failover groups and the two Service Bus geo-DR configs (in no table: a GET reads them),
    // and the two Front Door origins (in `cdnresources`).
    assert_eq!(n, 10, "the scenario's 17 resources but 7");
    for kept_out in [
        "microsoft.sql/servers/failovergroups",
        "microsoft.servicebus/namespaces/disasterrecoveryconfigs",
        "microsoft.cdn/profiles/origingroups/origins",
    ] {
        assert!(
            g.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["type"] != kept_out),
            "{kept_out}: {}",
            g.body
        );
    }
    let cdn = t
        .post(
            "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
            Some(json!({"subscriptions": [SUB], "query": "cdnresources | where type =~ 'microsoft.cdn/profiles/origingroups/origins' | project id", "options": {"resultFormat": "objectArray"}})),
        )
        .await;
    assert_eq!(cdn.status, 200, "{}", cdn.body);
    assert_eq!(
        cdn.body["count"], 2,
        "the origins are in cdnresources: {}",
        cdn.body
    );
    assert!(
        g.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != tm_endpoint().as_str()),
        "{}",
        g.body
    );
    assert_eq!(g.body["totalRecords"], n);
    assert_eq!(g.body["count"], n);
    assert_eq!(g.body["resultTruncated"], "false");
    assert_eq!(g.body["facets"], json!([]));
    let row = g.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "microsoft.sql/servers" && r["location"] == "northeurope")
        .cloned()
        .unwrap();
    assert_eq!(row["resourceGroup"], "rg-shop-northeurope");
    assert_eq!(row["subscriptionId"], SUB);
    assert!(
        row["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/servers/{}", row["name"].as_str().unwrap()))
    );

    // other subscriptions hold nothing
    let g = t
        .post(
            "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
            Some(json!({"subscriptions": ["other"], "query": "Resources"})),
        )
        .await;
    assert_eq!(g.body["count"], 0);

    let g = t
        .post(
            "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
            Some(json!({"query": "Resources | where ((("})),
        )
        .await;
    assert_eq!(g.status, 400);
    assert_eq!(g.code(), "BadRequest");
    assert_eq!(g.body["error"]["details"][0]["code"], "InvalidQuery");
    assert!(g.body["error"]["details"][0]["message"].is_string());
    t.sim.shutdown().await;
}

#[tokio::test]
async fn resource_graph_runs_the_runbooks_queries() {
    let t = estate().await;
    let q = |query: &str| json!({"subscriptions": [SUB], "query": query, "options": {"resultFormat": "objectArray"}});
    let g = t
        .post(
            "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
            Some(q("Resources | where type =~ 'microsoft.sql/servers' and resourceGroup =~ 'RG-SHOP-NORTHEUROPE' | project name, location")),
        )
        .await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(
        g.body["data"],
        json!([{"name": "sql-shop-northeurope", "location": "northeurope"}])
    );
    let g = t
        .post(
            "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
            Some(q("Resources | where resourceGroup =~ 'rg-shop-northeurope' and type in~ ('microsoft.web/sites', 'microsoft.logic/workflows') | summarize count() by type | order by type asc")),
        )
        .await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(
        g.body["data"],
        json!([
            {"type": "microsoft.logic/workflows", "count_": 1},
            {"type": "microsoft.web/sites", "count_": 1},
        ])
    );
    t.sim.shutdown().await;
}

/// Resource Graph pages by `id`: a result with an `id` column longer than `$top` comes with a
/// `$skipToken` for the rest; one without is cut and says `resultTruncated`. The ARM client
/// follows the tokens, and refuses a truncated answer with a hint to project `id`.
#[tokio::test]
async fn resource_graph_pages_with_skip_token_when_rows_have_id() {
    let t = estate().await;
    let url = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";
    let ask = |query: &str, options: Value| json!({"subscriptions": [SUB], "query": query, "options": options});
    let by_id = "Resources | project id, name | order by id asc";
    let all = t.post(url, Some(ask(by_id, json!({})))).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let every: Vec<Value> = all.body["data"].as_array().cloned().unwrap_or_default();
    let n = every.len();
    assert!(n >= 10, "{n}");
    assert_eq!(all.body["totalRecords"], n);
    assert!(all.body.get("$skipToken").is_none(), "{}", all.body);

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut options = json!({"$top": 5});
        if let Some(tok) = &token {
            options["$skipToken"] = json!(tok);
        }
        let page = t.post(url, Some(ask(by_id, options))).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body["totalRecords"], n);
        assert_eq!(page.body["resultTruncated"], "false");
        let data = page.body["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(page.body["count"], data.len());
        assert!(data.len() <= 5);
        seen.extend(data);
        pages += 1;
        assert!(pages <= n, "the tokens never end");
        token = page.body["$skipToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, every);
    assert_eq!(pages, n.div_ceil(5));

    let skipped = t
        .post(url, Some(ask(by_id, json!({"$skip": 3, "$top": 2}))))
        .await;
    assert_eq!(skipped.body["data"], json!(every[3..5]));

    // Without `id` Resource Graph cannot page: the answer is cut and says so.
    let cut = t
        .post(
            url,
            Some(ask("Resources | project name", json!({"$top": 5}))),
        )
        .await;
    assert_eq!(cut.status, 200);
    assert_eq!(cut.body["resultTruncated"], "true");
    assert_eq!(cut.body["count"], 5);
    assert_eq!(cut.body["totalRecords"], n);
    assert!(cut.body.get("$skipToken").is_none(), "{}", cut.body);

    let bad = t
        .post(url, Some(ask(by_id, json!({"$skipToken": "not-a-token"}))))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    for top in [json!(0), json!(1001), json!("5")] {
        let bad = t.post(url, Some(ask(by_id, json!({"$top": top})))).await;
        assert_eq!(bad.status, 400, "{top}: {}", bad.body);
    }

    // The client reads more than a page (its $top is 1000) by following the tokens.
    use drbook::azure::auth::SimCredential;
    use drbook::azure::{ArmClient, ClientOptions, Cloud, TokenCache};
    let cloud = Cloud::custom(url::Url::parse(&t.sim.base_url()).expect("sim url"));
    let cred = std::sync::Arc::new(SimCredential::new(&cloud.arm).expect("sim credential"));
    let tokens = TokenCache::new(cred, cloud.scope.clone());
    let arm = ArmClient::new(cloud, tokens, ClientOptions::default()).expect("client");
    let cube = "Resources | project id, subscriptionId | join kind=inner (Resources | project s2 = subscriptionId) on $left.subscriptionId == $right.s2 | join kind=inner (Resources | project s3 = subscriptionId) on $left.subscriptionId == $right.s3 | union (Resources | project id, subscriptionId)";
    let rows = tokio::time::timeout(Duration::from_secs(15), arm.graph(&[SUB.to_string()], cube))
        .await
        .expect("in time")
        .expect("graph");
    assert_eq!(rows.len(), n * n * n + n);
    assert!(n * n * n + n > 1000, "more than one page");
    let no_id = format!("{cube} | project subscriptionId");
    let err = tokio::time::timeout(
        Duration::from_secs(15),
        arm.graph(&[SUB.to_string()], &no_id),
    )
    .await
    .expect("in time")
    .expect_err("a truncated answer is an error");
    assert!(err.to_string().contains("project `id`"), "{err}");
    t.sim.shutdown().await;
}

/// The shipped scenario's state as Resource Graph answers `query`: its rows, or the error.
fn shipped_graph(st: &sim::state::SimState, query: &str) -> Vec<Value> {
    let body = json!({"query": query, "options": {"resultFormat": "objectArray"}});
    let reply = sim::graph::query(st, Some(&body));
    match reply.body {
        sim::reply::Body::Json(answer) if reply.status == 200 => {
            answer["data"].as_array().cloned().unwrap_or_default()
        }
        other => panic!("{query}: {} {other:?}", reply.status),
    }
}

fn shipped_state() -> sim::state::SimState {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(&root.join("runbooks/scenarios/westeurope-outage.toml"))
        .expect("the shipped scenario loads");
    sim::state::SimState::new(&scenario, chrono::Utc::now())
}

/// Rows in Resource Graph's shapes: Traffic Manager endpoints inside their profile (and no rows
/// of their own), SQL databases with the failover group they are in, locations normalised.
#[test]
fn resource_graph_rows_have_azure_shapes_on_the_shipped_scenario() {
    let mut st = shipped_state();
    let endpoints = shipped_graph(
        &st,
        "Resources | where type == 'microsoft.network/trafficmanagerprofiles' | mv-expand e = properties.endpoints | project name, e = tostring(e.name), t = tostring(e.type), s = tostring(e.properties.endpointStatus) | order by e asc",
    );
    assert_eq!(
        endpoints,
        [
            json!({"name": "tm-shop", "e": "ep-northeurope", "t": "Microsoft.Network/trafficManagerProfiles/azureEndpoints", "s": "Enabled"}),
            json!({"name": "tm-shop", "e": "ep-westeurope", "t": "Microsoft.Network/trafficManagerProfiles/azureEndpoints", "s": "Enabled"}),
        ]
    );
    let own_rows = shipped_graph(
        &st,
        "Resources | where type startswith 'microsoft.network/trafficmanagerprofiles/'",
    );
    assert_eq!(own_rows, Vec::<Value>::new());
    // APRL 1ad9d7b7 (a profile whose endpoints are all in one region) and 5b422a7f (fewer than
    // two endpoints): tm-shop has two, in two regions.
    let aprl = |path: &str| {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(root.join("tests/data/aprl").join(path)).expect("query")
    };
    for q in [
        "Network/trafficManagerProfiles/1ad9d7b7-9692-1441-a8f4-93792efbe97a.kql",
        "Network/trafficManagerProfiles/5b422a7f-8caa-3d48-becb-511599e5bba9.kql",
        "Network/trafficManagerProfiles/f05a3e6d-49db-2740-88e2-2b13706c1f67.kql",
        // SQL databases outside a failover group: both are in fog-shop.
        "Sql/servers/943c168a-2ec2-a94c-8015-85732a1b4859.kql",
    ] {
        assert_eq!(shipped_graph(&st, &aprl(q)), Vec::<Value>::new(), "{q}");
    }
    // The databases name their group; the groups themselves are not in `Resources`.
    let in_groups = shipped_graph(
        &st,
        "Resources | where type == 'microsoft.sql/servers/databases' and isnotempty(tostring(properties.failoverGroupId)) | summarize count()",
    );
    assert_eq!(in_groups, [json!({"count_": 2})]);
    let groups = shipped_graph(
        &st,
        "Resources | where type == 'microsoft.sql/servers/failovergroups' | summarize count()",
    );
    assert_eq!(groups, [json!({"count_": 0})]);
    // Endpoints are read in their current state: a changed endpoint shows in the profile.
    let ep = "/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.Network/trafficManagerProfiles/tm-shop/azureEndpoints/ep-westeurope";
    let key = st
        .resources
        .keys()
        .find(|k| k.eq_ignore_ascii_case(ep))
        .cloned()
        .expect("ep-westeurope");
    if let Some(r) = st.resources.get_mut(&key) {
        r.body["properties"]["endpointMonitorStatus"] = json!("Degraded");
    }
    let degraded = shipped_graph(
        &st,
        &aprl("Network/trafficManagerProfiles/f05a3e6d-49db-2740-88e2-2b13706c1f67.kql"),
    );
    assert_eq!(degraded.len(), 1, "{degraded:?}");
    assert_eq!(degraded[0]["param1"], "Profile name: ep-westeurope");
    // Locations as Resource Graph keeps them: lower case, no spaces ("West Europe", "Global").
    let locations = shipped_graph(&st, "Resources | distinct location | order by location asc");
    assert_eq!(
        locations,
        [
            json!({"location": "global"}),
            json!({"location": "northeurope"}),
            // The workload identity, in rg-shop-global beside its group.
            json!({"location": "swedencentral"}),
            json!({"location": "westeurope"})
        ]
    );
}

/// The Azure Proactive Resiliency Library v2 queries (tests/data/aprl, see its README) run
/// against the shipped scenario's Resource Graph: real KQL written by Microsoft engineers, not
/// queries written for the simulator. Refusals are printed grouped by reason.
#[test]
fn resource_graph_runs_the_aprl_corpus() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(&root.join("runbooks/scenarios/westeurope-outage.toml"))
        .expect("the shipped scenario loads");
    let st = sim::state::SimState::new(&scenario, chrono::Utc::now());
    let mut files = Vec::new();
    let mut dirs = vec![root.join("tests/data/aprl")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("tests/data/aprl is readable") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "kql") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 202, "the pinned usable queries");
    let mut refused: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for file in &files {
        let query = std::fs::read_to_string(file).expect("query file");
        let body = json!({"query": query, "options": {"resultFormat": "objectArray"}});
        let reply = sim::graph::query(&st, Some(&body));
        let sim::reply::Body::Json(answer) = &reply.body else {
            panic!("{}: not a JSON answer", file.display());
        };
        if reply.status == 200 {
            let rows = answer["data"].as_array().map_or(0, Vec::len);
            if rows > 0 && std::env::var_os("APRL_SHOW").is_some() {
                println!("{}: {rows} rows: {}", file.display(), answer["data"]);
            }
            continue;
        }
        assert_eq!(reply.status, 400, "{}: {answer}", file.display());
        let message = answer["error"]["details"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(!message.is_empty(), "{}: {answer}", file.display());
        // The reason without positions and the list of what is supported.
        let reason: String = message
            .split(" is not supported by")
            .next()
            .unwrap_or(message)
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(100)
            .collect();
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        refused.entry(reason).or_default().push(name.into_owned());
    }
    let refusals: usize = refused.values().map(Vec::len).sum();
    let ran = files.len() - refusals;
    println!(
        "{ran} of {} APRL queries run ({}%), {refusals} refused:",
        files.len(),
        ran * 100 / files.len()
    );
    let mut by_count: Vec<_> = refused.iter().collect();
    by_count.sort_by_key(|(_, f)| std::cmp::Reverse(f.len()));
    for (reason, names) in by_count {
        println!("  {:3}  {reason}  ({})", names.len(), names.join(", "));
    }
    assert!(
        ran * 10 >= files.len() * 9,
        "fewer than 90% of the APRL queries run: {ran} of {}",
        files.len()
    );
}
