//! The simulator end to end: a scenario served on loopback, driven with a raw HTTP client as
//! the Azure client would, checking the ARM shapes, actions, long-running operations,
//! outages, faults, probes and the timeline.

use std::time::{Duration, Instant};

use drbook::sim::{
    self, Faults, InjectedFault, Injection, Outage, OutageArm, Scenario, SimHandle, SimOptions,
};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

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
    assert_eq!(n, 16, "every resource of the scenario but the endpoint");
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
        .find(|r| r["id"] == fog("northeurope"))
        .cloned()
        .unwrap();
    assert_eq!(row["type"], "microsoft.sql/servers/failovergroups");
    assert_eq!(row["resourceGroup"], "rg-shop-northeurope");
    assert_eq!(row["subscriptionId"], SUB);
    assert_eq!(row["name"], "fog-shop");
    assert_eq!(row["location"], "northeurope");

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
            Some(q("Resources | where type =~ 'microsoft.sql/servers/failovergroups' and resourceGroup =~ 'RG-SHOP-NORTHEUROPE' | project name, location, role = properties.replicationRole")),
        )
        .await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(
        g.body["data"],
        json!([{"name": "fog-shop", "location": "northeurope", "role": "Secondary"}])
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
    assert!(n > 10, "{n}");
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
    let cube = "Resources | project id, subscriptionId | join kind=inner (Resources | project s2 = subscriptionId) on $left.subscriptionId == $right.s2 | join kind=inner (Resources | project s3 = subscriptionId) on $left.subscriptionId == $right.s3";
    let rows = tokio::time::timeout(Duration::from_secs(15), arm.graph(&[SUB.to_string()], cube))
        .await
        .expect("in time")
        .expect("graph");
    assert_eq!(rows.len(), n * n * n);
    assert!(n * n * n > 1000, "more than one page");
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
    let in_groups = shipped_graph(
        &st,
        "Resources | where type == 'microsoft.sql/servers/databases' | project db = id, fog = tostring(properties.failoverGroupId) | join kind=inner (Resources | where type == 'microsoft.sql/servers/failovergroups' | mv-expand member = properties.databases | project fog = id, member = tostring(member)) on fog | where member =~ db | summarize count()",
    );
    assert_eq!(in_groups, [json!({"count_": 2})]);
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

// ------------------------------------------------------------------------------- actions

#[tokio::test]
async fn synchronous_actions_change_state() {
    let t = estate().await;
    let s = site("northeurope");
    assert_eq!(t.post(&format!("{s}/start"), None).await.status, 200);
    assert_eq!(
        t.sim.resource(&s).unwrap()["properties"]["state"],
        "Running"
    );
    assert_eq!(t.post(&format!("{s}/stop"), None).await.status, 200);
    assert_eq!(
        t.sim.resource(&s).unwrap()["properties"]["state"],
        "Stopped"
    );
    assert_eq!(t.post(&format!("{s}/restart"), None).await.status, 200);
    assert_eq!(t.get(&s).await.body["properties"]["state"], "Running");

    let w = workflow();
    let run = format!("{w}/triggers/manual/run");
    let r = t.post(&run, None).await;
    assert_eq!(r.status, 409, "a disabled workflow does not run");
    assert_eq!(t.post(&format!("{w}/enable"), None).await.status, 200);
    assert_eq!(t.get(&w).await.body["properties"]["state"], "Enabled");
    assert_eq!(t.post(&run, None).await.status, 202);
    assert_eq!(t.post(&format!("{w}/disable"), None).await.status, 200);
    assert_eq!(t.get(&w).await.body["properties"]["state"], "Disabled");

    let r = t.post(&format!("{s}/explode"), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "UnsupportedAction");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("explode") && msg.contains("Microsoft.Web/sites"),
        "{msg}"
    );

    let r = t
        .post(
            &format!(
                "{}/providers/Microsoft.Web/sites/ghost/start",
                rg("rg-shop-northeurope")
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn aks_start_is_long_running_polled_by_location() {
    let t = estate().await;
    let r = t.post(&format!("{}/start", aks()), None).await;
    assert_eq!(r.status, 202);
    // ManagedClusters_Start's example answers 202 with Location alone.
    assert!(r.header("azure-asyncoperation").is_none());
    let loc = r.header("location").unwrap().to_string();
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(loc.starts_with(&format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.Simulator/locations/northeurope/operationResults/",
        t.base
    )));
    // The operation is polled at the api-version of the request that started it.
    assert!(loc.ends_with(&format!("api-version={}", api_for(&aks()))));
    // Its status URL still answers, for a client that knows it.
    let op = loc.replace("/operationResults/", "/operationStatuses/");

    let during = t.get(&aks()).await;
    assert_eq!(during.body["properties"]["provisioningState"], "Starting");
    assert_eq!(t.get(&loc).await.status, 202);
    let s = t.get(&op).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["status"], "InProgress");
    assert!(s.body["startTime"].is_string());
    assert!(s.body.get("endTime").is_none());

    let done = t.poll_status(&op).await;
    assert_eq!(done.body["status"], "Succeeded");
    assert!(done.body["endTime"].is_string());
    let name = done.body["name"].as_str().unwrap();
    assert!(op.contains(name));
    let c = t.get(&aks()).await;
    assert_eq!(c.body["properties"]["powerState"]["code"], "Running");
    assert_eq!(c.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        c.body["properties"]["agentPoolProfiles"][0]["powerState"]["code"],
        "Running"
    );
    // an action without a body: the result is 204
    assert_eq!(t.get(&loc).await.status, 204);

    let r = t.post(&format!("{}/stop", aks()), None).await;
    let done = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(done.status, 204);
    assert_eq!(
        t.sim.resource(&aks()).unwrap()["properties"]["powerState"]["code"],
        "Stopped"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn cosmos_failover_priority_change_polled_by_location() {
    let t = estate().await;
    let action = format!("{}/failoverPriorityChange", cosmos());
    let bad = t
        .post(
            &action,
            Some(json!({"failoverPolicies": [{"locationName": "Mars", "failoverPriority": 0}]})),
        )
        .await;
    assert_eq!(bad.status, 400);
    let r = t
        .post(
            &action,
            Some(json!({"failoverPolicies": [
                {"locationName": "northeurope", "failoverPriority": 0},
                {"locationName": "westeurope", "failoverPriority": 1},
            ]})),
        )
        .await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();
    let first = t.get(&loc).await;
    assert_eq!(first.status, 202);
    assert!(first.header("location").is_some());
    assert_eq!(
        t.get(&cosmos()).await.body["properties"]["provisioningState"],
        "Updating"
    );
    let done = t.poll_location(&loc).await;
    assert_eq!(done.status, 204);
    let a = t.get(&cosmos()).await.body;
    assert_eq!(
        a["properties"]["writeLocations"][0]["locationName"],
        "North Europe"
    );
    assert_eq!(
        a["properties"]["readLocations"][0]["locationName"],
        "North Europe"
    );
    assert_eq!(a["properties"]["readLocations"][0]["failoverPriority"], 0);
    assert_eq!(a["properties"]["readLocations"][1]["failoverPriority"], 1);
    let ne = a["properties"]["failoverPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["locationName"] == "North Europe")
        .unwrap();
    assert_eq!(ne["failoverPriority"], 0);
    assert_eq!(a["properties"]["provisioningState"], "Succeeded");
    t.sim.shutdown().await;
}

fn write_region(a: &Value) -> &str {
    a["properties"]["writeLocations"][0]["locationName"]
        .as_str()
        .unwrap_or("")
}

fn read_regions(a: &Value) -> Vec<&str> {
    a["properties"]["readLocations"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|e| e["locationName"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn cosmos_priority_change_with_the_write_region_down_never_completes_by_default() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let r = t
        .post(
            &format!("{}/failoverPriorityChange", cosmos()),
            Some(json!({"failoverPolicies": [
                {"locationName": "North Europe", "failoverPriority": 0},
                {"locationName": "West Europe", "failoverPriority": 1},
            ]})),
        )
        .await;
    // ARM accepts it; Microsoft says it "will not succeed": it stays in progress, well past
    // the 300ms every other operation of this estate takes, and the caller's timeout decides.
    assert_eq!(r.status, 202);
    let op = r.header("azure-asyncoperation").unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = t.get(&op).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["status"], "InProgress", "{}", s.body);
    let a = t.get(&cosmos()).await.body;
    assert_eq!(write_region(&a), "West Europe");
    assert_eq!(a["properties"]["provisioningState"], "Updating");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn cosmos_priority_change_with_the_write_region_down_can_be_made_to_fail_later() {
    let t = estate().await;
    t.sim.set_faults(Faults {
        failover_in_outage: "fail after 1s".into(),
        ..Faults::default()
    });
    t.sim.region_down("westeurope");
    let started = Instant::now();
    let r = t
        .post(
            &format!("{}/failoverPriorityChange", cosmos()),
            Some(json!({"failoverPolicies": [
                {"locationName": "North Europe", "failoverPriority": 0},
                {"locationName": "West Europe", "failoverPriority": 1},
            ]})),
        )
        .await;
    assert_eq!(r.status, 202);
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(s.body["status"], "Failed", "{}", s.body);
    let message = s.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("West Europe"), "{}", s.body);
    // ARM says what happened, not what to do next.
    assert!(!message.contains("offlineRegion") && !message.contains("instead"));
    let a = t.get(&cosmos()).await.body;
    assert_eq!(write_region(&a), "West Europe");
    assert_eq!(a["properties"]["provisioningState"], "Succeeded");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn cosmos_offline_region_moves_the_writes_and_online_region_brings_a_read_region_back() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let offline = format!("{}/offlineRegion", cosmos());
    let online = format!("{}/onlineRegion", cosmos());
    for bad in [json!({}), json!({"region": "Mars"})] {
        let r = t.post(&offline, Some(bad.clone())).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let r = t
        .post(&offline, Some(json!({"region": "West Europe"})))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(r.header("location").is_some());
    assert_eq!(
        t.get(&cosmos()).await.body["properties"]["provisioningState"],
        "Updating"
    );
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(s.body["status"], "Succeeded", "{}", s.body);
    let a = t.get(&cosmos()).await.body;
    assert_eq!(write_region(&a), "North Europe");
    assert_eq!(read_regions(&a), ["North Europe"]);
    let we = a["properties"]["failoverPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["locationName"] == "West Europe")
        .unwrap();
    assert_eq!(we["failoverPriority"], 1);
    assert_eq!(a["properties"]["provisioningState"], "Succeeded");

    // Neither the last online region nor one already offline can go offline.
    let r = t
        .post(&offline, Some(json!({"region": "North Europe"})))
        .await;
    assert_eq!(r.status, 400);
    let r = t
        .post(&offline, Some(json!({"region": "westeurope"})))
        .await;
    assert_eq!(r.status, 400);

    // Back online only once the region has recovered, and then as a read region.
    let r = t
        .post(&online, Some(json!({"region": "West Europe"})))
        .await;
    assert_eq!(r.status, 202);
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(s.body["status"], "Failed", "{}", s.body);
    assert_eq!(read_regions(&t.get(&cosmos()).await.body), ["North Europe"]);
    t.sim.region_up("westeurope");
    let r = t
        .post(&online, Some(json!({"region": "West Europe"})))
        .await;
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(s.body["status"], "Succeeded", "{}", s.body);
    let a = t.get(&cosmos()).await.body;
    assert_eq!(write_region(&a), "North Europe");
    assert_eq!(read_regions(&a), ["North Europe", "West Europe"]);

    // Only then does a priority change move the writes back.
    let r = t
        .post(
            &format!("{}/failoverPriorityChange", cosmos()),
            Some(json!({"failoverPolicies": [
                {"locationName": "West Europe", "failoverPriority": 0},
                {"locationName": "North Europe", "failoverPriority": 1},
            ]})),
        )
        .await;
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(s.body["status"], "Succeeded", "{}", s.body);
    assert_eq!(write_region(&t.get(&cosmos()).await.body), "West Europe");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sql_a_second_failover_while_one_runs_is_refused_busy() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    // A planned failover that cannot synchronise, then a forced one sent behind it: the
    // collision the two-step runbook could run into.
    let planned = t
        .post(&format!("{}/failover", fog("northeurope")), None)
        .await;
    assert_eq!(planned.status, 202);
    let forced = t
        .post(
            &format!("{}/forceFailoverAllowDataLoss", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(forced.status, 409, "{}", forced.body);
    assert_eq!(forced.code(), "FailoverGroupBusy");
    let other = t
        .post(
            &format!("{}/tryPlannedBeforeForcedFailover", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(other.status, 409);
    let s = t.poll_location(planned.header("location").unwrap()).await;
    assert_eq!(s.code(), "PlannedFailoverTimedOut");
    // once it has ended, the next one goes through
    let forced = t
        .post(
            &format!("{}/forceFailoverAllowDataLoss", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(forced.status, 202);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sql_try_planned_before_forced_failover_works_with_the_primary_down_or_up() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let r = t
        .post(
            &format!("{}/tryPlannedBeforeForcedFailover", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    let res = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(res.status, 200, "the result carries the failover group");
    assert_eq!(res.body["properties"]["replicationRole"], "Primary");
    assert_eq!(
        t.sim.resource(&fog("westeurope")).unwrap()["properties"]["replicationRole"],
        "Secondary"
    );
    // and back, planned this time, with both regions up
    t.sim.region_up("westeurope");
    let r = t
        .post(
            &format!("{}/tryPlannedBeforeForcedFailover", fog("westeurope")),
            None,
        )
        .await;
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(
        t.get(&fog("westeurope")).await.body["properties"]["replicationRole"],
        "Primary"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sql_forced_failover_swaps_roles_of_both_groups() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let r = t
        .post(
            &format!("{}/forceFailoverAllowDataLoss", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    let res = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(res.status, 200, "the result carries the failover group");
    assert_eq!(res.body["properties"]["replicationRole"], "Primary");
    let ne = t.sim.resource(&fog("northeurope")).unwrap();
    assert_eq!(ne["properties"]["replicationRole"], "Primary");
    assert_eq!(
        ne["properties"]["partnerServers"][0]["replicationRole"],
        "Secondary"
    );
    let we = t.sim.resource(&fog("westeurope")).unwrap();
    assert_eq!(we["properties"]["replicationRole"], "Secondary");
    assert_eq!(
        we["properties"]["partnerServers"][0]["replicationRole"],
        "Primary"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sql_planned_failover_fails_when_the_primary_is_down() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let r = t
        .post(&format!("{}/failover", fog("northeurope")), None)
        .await;
    assert_eq!(r.status, 202);
    // As the spec's example answers: Location alone, no Azure-AsyncOperation.
    assert!(r.header("azure-asyncoperation").is_none());
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(s.code(), "PlannedFailoverTimedOut");
    let l = t.get(r.header("location").unwrap()).await;
    assert_eq!(l.status, 500);
    assert_eq!(l.code(), "PlannedFailoverTimedOut");
    assert_eq!(
        t.sim.resource(&fog("northeurope")).unwrap()["properties"]["replicationRole"],
        "Secondary"
    );

    // with the primary up, the planned failover works
    t.sim.region_up("westeurope");
    let r = t
        .post(&format!("{}/failover", fog("northeurope")), None)
        .await;
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(
        t.get(&fog("westeurope")).await.body["properties"]["replicationRole"],
        "Secondary"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn storage_failover_swaps_primary_and_secondary() {
    let t = estate().await;
    let r = t
        .post(
            &format!("{}/failover?failoverType=Planned", storage()),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        t.get(&storage()).await.body["properties"]["failoverInProgress"],
        true
    );
    assert!(r.header("azure-asyncoperation").is_none());
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert!(matches!(s.status, 200 | 204), "{} {}", s.status, s.body);
    let a = t
        .get(&format!("{}?$expand=geoReplicationStats", storage()))
        .await
        .body;
    assert_eq!(a["properties"]["primaryLocation"], "northeurope");
    assert_eq!(a["properties"]["secondaryLocation"], "westeurope");
    assert_eq!(a["properties"]["statusOfPrimary"], "available");
    assert_eq!(a["location"], "northeurope");
    assert!(a["properties"]["lastGeoFailoverTime"].is_string());
    assert_eq!(
        a["sku"]["name"], "Standard_RAGZRS",
        "a planned failover stays geo-redundant"
    );
    // the account is now served from its new primary
    t.sim.region_down("westeurope");
    assert_eq!(t.get(&storage()).await.status, 200);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn storage_unplanned_failover_when_the_primary_is_unavailable() {
    let t = estate().await;
    // the primary's endpoints are gone (the account's control plane still answers)
    let planned = format!("{}/failover?failoverType=Planned", storage());
    t.send(
        "PATCH",
        &storage(),
        Some(json!({"properties": {"statusOfPrimary": "unavailable"}})),
    )
    .await;
    let r = t.post(&planned, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "FailoverFailed");

    let r = t.post(&format!("{}/failover", storage()), None).await;
    assert_eq!(r.status, 202);
    let again = t.post(&format!("{}/failover", storage()), None).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "FailoverInProgress");
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert!(matches!(s.status, 200 | 204), "{} {}", s.status, s.body);
    let a = t
        .get(&format!("{}?$expand=geoReplicationStats", storage()))
        .await
        .body;
    assert_eq!(a["properties"]["primaryLocation"], "northeurope");
    assert_eq!(a["properties"]["statusOfPrimary"], "available");
    assert!(a["properties"].get("secondaryLocation").is_none());
    assert!(a["properties"].get("secondaryEndpoints").is_none());
    // The secondary copy of RA-GZRS is LRS, and that copy becomes the primary.
    assert_eq!(
        a["sku"]["name"], "Standard_LRS",
        "an unplanned failover leaves LRS"
    );
    assert_eq!(a["properties"]["geoReplicationStats"]["canFailover"], false);
    // failing back needs geo-redundancy first
    let r = t.post(&planned, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "FailoverNotSupported");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn service_bus_failover() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let cfg = format!(
        "{}/disasterRecoveryConfigs/shop-orders",
        sb_ns("northeurope")
    );
    let r = t
        .post(
            &format!("{cfg}/failover"),
            Some(json!({"properties": {"IsSafeFailover": true}})),
        )
        .await;
    assert_eq!(r.status, 400, "a safe failover needs the primary");
    assert_eq!(t.get(&cfg).await.body["properties"]["role"], "Secondary");
    let r = t
        .post(
            &format!("{cfg}/failover"),
            Some(json!({"properties": {"IsSafeFailover": false}})),
        )
        .await;
    assert_eq!(r.status, 200);
    let c = t.get(&cfg).await.body;
    assert_eq!(c["properties"]["role"], "PrimaryNotReplicating");
    assert_eq!(c["properties"]["provisioningState"], "Succeeded");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn deployment_put_is_long_running() {
    let t = estate().await;
    let id = format!("/subscriptions/{SUB}/providers/Microsoft.Resources/deployments/shop-dr");
    let r = t
        .send(
            "PUT",
            &id,
            Some(json!({"location": "northeurope", "properties": {"mode": "Incremental", "templateLink": {"uri": "https://example.com/t.json"}}})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Accepted");
    let op = r.header("azure-asyncoperation").unwrap().to_string();
    assert_eq!(
        t.get(&id).await.body["properties"]["provisioningState"],
        "Running"
    );
    let s = t.poll_status(&op).await;
    assert_eq!(s.body["status"], "Succeeded");
    let d = t.get(&id).await.body;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded");
    assert_eq!(d["type"], "Microsoft.Resources/deployments");
    let res = t.get(r.header("location").unwrap()).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["name"], "shop-dr");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn writes_have_the_side_effects_of_the_real_services() {
    let t = estate().await;
    let ep = tm_endpoint();
    let r = t
        .send(
            "PATCH",
            &ep,
            Some(json!({"properties": {"endpointStatus": "Disabled"}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["endpointMonitorStatus"], "Disabled");
    t.sim.region_down("westeurope");
    let r = t
        .send(
            "PATCH",
            &ep,
            Some(json!({"properties": {"endpointStatus": "Enabled"}})),
        )
        .await;
    assert_eq!(r.body["properties"]["endpointMonitorStatus"], "Degraded");

    let r = t
        .send(
            "PATCH",
            &origin("westeurope"),
            Some(json!({"properties": {"enabledState": "Disabled"}})),
        )
        .await;
    assert_eq!(r.body["properties"]["enabledState"], "Disabled");
    // Front Door deploys the change to its edge asynchronously.
    assert_eq!(r.body["properties"]["deploymentStatus"], "NotStarted");
    let done = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(done.body["status"], "Succeeded");
    let after = t.get(&origin("westeurope")).await;
    assert_eq!(after.body["properties"]["deploymentStatus"], "Succeeded");
    t.sim.shutdown().await;
}

fn vmss() -> String {
    format!(
        "{}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-agents-northeurope",
        rg("rg-shop-northeurope")
    )
}

#[tokio::test]
async fn writes_of_asynchronous_types_answer_as_their_specs_and_finish_later() {
    let t = estate().await;
    // AFD origin PATCH: 202, Azure-AsyncOperation and Location, provisioningState Updating
    // (Microsoft.Cdn 2024-02-01 AFDOrigins_Update).
    let r = t
        .send(
            "PATCH",
            &origin("northeurope"),
            Some(json!({"properties": {"priority": 2}})),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["properties"]["provisioningState"], "Updating");
    assert_eq!(r.body["properties"]["priority"], 2);
    let op = r
        .header("azure-asyncoperation")
        .expect("async op")
        .to_string();
    assert!(op.contains("/operationStatuses/"), "{op}");
    assert!(r.header("location").is_some());
    assert_eq!(r.header("retry-after"), Some("1"));
    let during = t.get(&origin("northeurope")).await;
    assert_eq!(during.body["properties"]["provisioningState"], "Updating");
    assert_eq!(t.get(&op).await.body["status"], "InProgress");
    assert_eq!(t.poll_status(&op).await.body["status"], "Succeeded");
    let after = t.get(&origin("northeurope")).await;
    assert_eq!(after.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(after.body["properties"]["priority"], 2);

    // Scale set PUT creating: 201 Creating with Azure-AsyncOperation, no Location
    // (Microsoft.Compute 2024-07-01); PATCH then: 200 Updating.
    let r = t
        .send(
            "PUT",
            &vmss(),
            Some(json!({"location": "northeurope", "sku": {"name": "Standard_D2s_v5", "capacity": 0}})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["properties"]["provisioningState"], "Creating");
    assert!(r.header("location").is_none());
    let op = r
        .header("azure-asyncoperation")
        .expect("async op")
        .to_string();
    assert_eq!(t.poll_status(&op).await.body["status"], "Succeeded");
    let r = t
        .send("PATCH", &vmss(), Some(json!({"sku": {"capacity": 4}})))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["provisioningState"], "Updating");
    assert_eq!(r.body["sku"]["capacity"], 4);
    let op = r
        .header("azure-asyncoperation")
        .expect("async op")
        .to_string();
    // The operation's result is the resource, provisioned.
    let loc = op.replace("/operationStatuses/", "/operationResults/");
    assert_eq!(t.poll_status(&op).await.body["status"], "Succeeded");
    let res = t.get(&loc).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["properties"]["provisioningState"], "Succeeded");

    // A registry replication: 201 Creating while it runs, also for a PATCH
    // (Microsoft.ContainerRegistry 2023-07-01); the registry itself is synchronous.
    let acr = format!(
        "{}/providers/Microsoft.ContainerRegistry/registries/acrshop",
        rg("rg-shop-northeurope")
    );
    let r = t
        .send("PUT", &acr, Some(json!({"location": "northeurope"})))
        .await;
    assert_eq!(r.status, 201);
    assert!(r.header("azure-asyncoperation").is_none());
    let repl = format!("{acr}/replications/westeurope");
    let r = t
        .send("PUT", &repl, Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Creating");
    let op = r
        .header("azure-asyncoperation")
        .expect("async op")
        .to_string();
    assert_eq!(t.poll_status(&op).await.body["status"], "Succeeded");
    let r = t
        .send(
            "PATCH",
            &repl,
            Some(json!({"properties": {"regionEndpointEnabled": false}})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Updating");
    assert!(r.header("azure-asyncoperation").is_some());

    // Synchronous types keep answering at once.
    let r = t
        .send(
            "PATCH",
            &tm_endpoint(),
            Some(json!({"properties": {"weight": 5}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("azure-asyncoperation").is_none());
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    t.sim.shutdown().await;
}

// --------------------------------------------------------------------------------- paging

#[tokio::test]
async fn lists_longer_than_a_page_carry_next_link_to_the_rest() {
    let toml = scenario_toml().replace(
        "lro_delay = \"300ms\"",
        "lro_delay = \"300ms\"\npage_size = 2",
    );
    let t = start_toml(
        &toml,
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await;
    let mut names = Vec::new();
    let mut url = t.url(&format!("/subscriptions/{SUB}/resources"));
    let asked_version = url
        .split(['?', '&'])
        .find(|p| p.starts_with("api-version="))
        .unwrap_or("api-version=?")
        .to_string();
    let mut pages = 0;
    loop {
        let r = t.get(&url).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let value = r.body["value"].as_array().expect("value").clone();
        assert!(value.len() <= 2, "{value:?}");
        names.extend(
            value
                .iter()
                .map(|v| v["name"].as_str().unwrap_or("").to_string()),
        );
        pages += 1;
        match r.body["nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&t.base), "{next}");
                assert!(next.contains(&asked_version), "{next}");
                assert!(next.contains("%24skiptoken="), "{next}");
                assert!(!value.is_empty());
                url = next.to_string();
            }
            None => break,
        }
        assert!(pages < 50, "paging never ends");
    }
    // Every top-level resource once, in as many pages as it takes.
    let all = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all, "no resource twice");
    assert!(all > 4, "{names:?}");
    assert_eq!(pages, all.div_ceil(2));
    assert!(names.contains(&"app-shop-westeurope".to_string()));

    let groups = t.get(&format!("/subscriptions/{SUB}/resourceGroups")).await;
    assert_eq!(groups.body["value"].as_array().map(Vec::len), Some(2));
    assert!(groups.body["nextLink"].is_string());

    let bad = t
        .get(&format!("/subscriptions/{SUB}/resources?$skiptoken=forged"))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "InvalidSkipToken");
    t.sim.shutdown().await;
}

// ------------------------------------------------------------------ ways a region fails

#[tokio::test]
async fn a_down_region_can_answer_5xx_hang_or_serve_stale_reads() {
    let t = estate().await;
    let we = site("westeurope");
    for (status, code) in [
        (500, "InternalServerError"),
        (502, "BadGateway"),
        (504, "GatewayTimeout"),
    ] {
        t.sim.region_outage(
            "westeurope",
            Outage {
                arm: OutageArm::Status(status),
                health_unknown: false,
            },
        );
        let r = t.get(&we).await;
        assert_eq!(r.status, status, "{:?}", r.body);
        assert_eq!(r.code(), code);
        let msg = r.body["error"]["message"].as_str().unwrap_or("");
        assert!(
            msg.contains("westeurope") && msg.contains("app-shop-westeurope"),
            "{msg}"
        );
        // Resource Health, a global service, still answers.
        let h = t
            .get(&format!(
                "{we}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
            ))
            .await;
        assert_eq!(h.body["properties"]["availabilityState"], "Unavailable");
    }

    // Hang: accepted, never answered; only the client's timeout ends the request.
    t.sim.region_outage(
        "westeurope",
        Outage {
            arm: OutageArm::Hang,
            health_unknown: true,
        },
    );
    let started = Instant::now();
    let err = t
        .http
        .get(t.url(&we))
        .bearer_auth(&t.token)
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Resource Health lost the region too: Unknown, not Unavailable.
    let h = t
        .get(&format!(
            "{we}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
        ))
        .await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["properties"]["availabilityState"], "Unknown");
    assert!(
        h.body["properties"]["summary"]
            .as_str()
            .unwrap_or("")
            .contains("unable to determine"),
        "{:?}",
        h.body
    );
    // Other regions answer meanwhile.
    assert_eq!(t.get(&site("northeurope")).await.status, 200);

    // Stale: reads answer 200 with the state the region had when it went down; writes 503.
    t.sim.region_up("westeurope");
    let st = storage();
    let before = t.get(&format!("{st}?$expand=geoReplicationStats")).await;
    let synced_before = before.body["properties"]["geoReplicationStats"]["lastSyncTime"]
        .as_str()
        .unwrap_or("")
        .to_string();
    t.sim.region_outage(
        "westeurope",
        Outage {
            arm: OutageArm::Stale,
            health_unknown: false,
        },
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = t.get(&we).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["properties"]["state"], "Running");
    let later = t.get(&format!("{st}?$expand=geoReplicationStats")).await;
    assert_eq!(later.status, 200);
    let synced_later = later.body["properties"]["geoReplicationStats"]["lastSyncTime"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // Rendered at the moment the region went down, not now: at most that old.
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("time");
    assert!(at(&synced_later) <= at(&synced_before) + chrono::TimeDelta::milliseconds(1100));
    let fresh = chrono::Utc::now() - chrono::TimeDelta::minutes(2);
    assert!(
        at(&synced_later) < fresh - chrono::TimeDelta::milliseconds(900),
        "{synced_later}"
    );
    let w = t
        .send(
            "PATCH",
            &we,
            Some(json!({"properties": {"state": "Stopped"}})),
        )
        .await;
    assert_eq!(w.status, 503);
    assert_eq!(w.code(), "ServiceUnavailable");
    let h = t
        .get(&format!(
            "{we}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
        ))
        .await;
    assert_eq!(h.body["properties"]["availabilityState"], "Unavailable");

    t.sim.region_up("westeurope");
    assert_eq!(t.get(&we).await.status, 200);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_timeline_event_sets_how_the_region_fails_and_can_revoke_tokens() {
    let toml = scenario_toml().replace(
        "[[event]]\nat = \"1h\"",
        "[[event]]\nat = \"0s\"\nregion_down = \"westeurope\"\noutage = { arm = \"504\", health = \"Unknown\" }\n\n[[event]]\nat = \"400ms\"\nrevoke_tokens = true\n\n[[event]]\nat = \"1h\"",
    );
    let t = start_toml(
        &toml,
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await;
    let r = t.get(&site("westeurope")).await;
    assert_eq!(r.status, 504, "{:?}", r.body);
    assert_eq!(r.code(), "GatewayTimeout");
    let h = t
        .get(&format!(
            "{}/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
            site("westeurope")
        ))
        .await;
    assert_eq!(h.body["properties"]["availabilityState"], "Unknown");

    // After the revocation, the token issued at the start is refused as invalid.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = t.get(&site("northeurope")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    let fresh = t.sim.issue_token(Duration::from_secs(3600));
    let ok = read(
        t.http
            .get(t.url(&site("northeurope")))
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, 200);
    // And the control does the same.
    t.sim.revoke_tokens();
    let r = read(
        t.http
            .get(t.url(&site("northeurope")))
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    t.sim.shutdown().await;

    for (bad, why) in [
        (
            "[[event]]\nat = \"1s\"\noutage = { arm = \"hang\" }\n",
            "goes with `region_down`",
        ),
        (
            "[[event]]\nat = \"1s\"\nregion_down = \"westeurope\"\noutage = { arm = \"418\" }\n",
            "one of 503",
        ),
        (
            "[[event]]\nat = \"1s\"\nregion_down = \"westeurope\"\noutage = { health = \"Sad\" }\n",
            "Unavailable or Unknown",
        ),
    ] {
        let text = format!("{}\n{bad}", scenario_toml());
        let e = Scenario::parse("t.toml", &text).expect_err(bad).to_string();
        assert!(e.contains(why), "{e}");
    }
    let zero = scenario_toml().replace(
        "lro_delay = \"300ms\"",
        "lro_delay = \"300ms\"\npage_size = 0",
    );
    assert!(Scenario::parse("t.toml", &zero).is_err());
}

// -------------------------------------------------------------------------------- faults

#[tokio::test]
async fn throttling_answers_429_with_retry_after() {
    let t = estate().await;
    t.sim.set_faults(Faults {
        throttle_rate: 1.0,
        retry_after: "3s".into(),
        ..Faults::default()
    });
    let r = t.get(&site("westeurope")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "TooManyRequests");
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(
        r.header("x-ms-ratelimit-remaining-subscription-reads"),
        Some("0")
    );
    // controls and probes are exempt
    let s = read(
        t.http
            .get(format!("{}/sim/state", t.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["faults"]["throttle_rate"], 1.0);
    let p = t
        .http
        .get(format!("{}/healthz", t.base))
        .header("Host", "shop.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(p.status(), 200);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn error_rate_answers_the_configured_status() {
    let t = estate().await;
    for (status, code) in [
        (503, "ServiceUnavailable"),
        (500, "InternalServerError"),
        (504, "GatewayTimeout"),
    ] {
        t.sim.set_faults(Faults {
            error_rate: 1.0,
            error_status: status,
            ..Faults::default()
        });
        let r = t.get(&site("westeurope")).await;
        assert_eq!(r.status, status);
        assert_eq!(r.code(), code);
    }
    t.sim.set_faults(Faults::default());
    assert_eq!(t.get(&site("westeurope")).await.status, 200);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_are_errors_not_hangs() {
    let t = estate().await;
    t.sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let started = Instant::now();
    let err = t
        .http
        .get(t.url(&site("westeurope")))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    t.sim.set_faults(Faults::default());
    assert_eq!(t.get(&site("westeurope")).await.status, 200);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn slow_answers_trip_client_timeouts_and_latency_adds_up() {
    let t = estate().await;
    t.sim.set_faults(Faults {
        slow_rate: 1.0,
        slow: "2s".into(),
        ..Faults::default()
    });
    let err = t
        .http
        .get(t.url(&site("westeurope")))
        .bearer_auth(&t.token)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");

    t.sim.set_faults(Faults {
        latency: "200ms".into(),
        jitter: "50ms".into(),
        ..Faults::default()
    });
    let started = Instant::now();
    assert_eq!(t.get(&site("westeurope")).await.status, 200);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    // probes keep the latency
    let started = Instant::now();
    let p = t
        .http
        .get(format!("{}/healthz", t.base))
        .header("Host", "shop.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(p.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn injections_hit_the_next_matching_requests_only() {
    let t = estate().await;
    t.sim.inject(Injection {
        path_contains: Some("failoverGroups".into()),
        count: 2,
        fault: InjectedFault::Status {
            status: 503,
            code: "ServiceUnavailable".into(),
            retry_after: Some(Duration::from_secs(2)),
        },
    });
    let before = t.sim.request_count();
    assert_eq!(t.get(&site("westeurope")).await.status, 200, "no match");
    let r = t.get(&fog("northeurope")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.code(), "ServiceUnavailable");
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(t.get(&fog("northeurope")).await.status, 503);
    assert_eq!(t.get(&fog("northeurope")).await.status, 200, "used up");
    assert_eq!(t.sim.request_count() - before, 4);

    t.sim.inject(Injection {
        path_contains: None,
        count: 1,
        fault: InjectedFault::Status {
            status: 429,
            code: "TooManyRequests".into(),
            retry_after: Some(Duration::from_secs(1)),
        },
    });
    let r = t.get(&site("westeurope")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));

    t.sim.inject(Injection {
        path_contains: None,
        count: 1,
        fault: InjectedFault::Drop,
    });
    let err = t
        .http
        .get(t.url(&site("westeurope")))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request() || err.is_connect(), "{err:?}");

    t.sim.inject(Injection {
        path_contains: None,
        count: 1,
        fault: InjectedFault::Delay(Duration::from_millis(300)),
    });
    let started = Instant::now();
    assert_eq!(t.get(&site("westeurope")).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // injections win over the rates
    t.sim.set_faults(Faults {
        throttle_rate: 1.0,
        ..Faults::default()
    });
    t.sim.inject(Injection {
        path_contains: None,
        count: 1,
        fault: InjectedFault::Status {
            status: 500,
            code: "InternalServerError".into(),
            retry_after: None,
        },
    });
    assert_eq!(t.get(&site("westeurope")).await.status, 500);
    assert_eq!(t.get(&site("westeurope")).await.status, 429);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn http_controls() {
    let t = estate().await;
    let ctl = |p: &str| format!("{}/sim/{p}", t.base);
    let r = read(
        t.http
            .post(ctl("faults"))
            .json(&json!({"throttle_rate": 1.0, "retry_after": "5s"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["retry_after"], "5s");
    assert_eq!(r.body["error_status"], 503, "other knobs are kept");
    assert_eq!(
        t.get(&site("westeurope")).await.header("retry-after"),
        Some("5")
    );
    let r = read(
        t.http
            .post(ctl("faults"))
            .json(&json!({"throttle_rate": 0.0}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    let bad = t
        .http
        .post(ctl("faults"))
        .json(&json!({"throttle_rate": 7.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = t
        .http
        .post(ctl("faults"))
        .json(&json!({"no_such_knob": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let r = t
        .http
        .post(ctl("inject"))
        .json(&json!({"path_contains": "sites", "count": 1, "fault": "status", "status": 502, "code": "BadGateway"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t.get(&site("westeurope")).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.code(), "BadGateway");

    let r = t
        .http
        .post(ctl("regions/westeurope/down"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(t.get(&site("westeurope")).await.status, 503);
    let s = read(t.http.get(ctl("state")).send().await.unwrap()).await;
    assert_eq!(s.body["regions_down"], json!(["westeurope"]));
    assert_eq!(s.body["scenario"], "test-estate");
    t.http
        .post(ctl("regions/westeurope/up"))
        .send()
        .await
        .unwrap();
    assert_eq!(t.get(&site("westeurope")).await.status, 200);

    // How the region fails, over HTTP; a bad one is refused and changes nothing.
    let r = t
        .http
        .post(ctl("regions/westeurope/down"))
        .json(&json!({"arm": "teapot"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(t.get(&site("westeurope")).await.status, 200);
    let r = t
        .http
        .post(ctl("regions/westeurope/down"))
        .json(&json!({"arm": "504", "health": "Unknown"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(t.get(&site("westeurope")).await.status, 504);
    let s = read(t.http.get(ctl("state")).send().await.unwrap()).await;
    assert_eq!(
        s.body["outages"]["westeurope"]["arm"],
        json!({"Status": 504})
    );
    t.http
        .post(ctl("regions/westeurope/up"))
        .send()
        .await
        .unwrap();
    let s = read(t.http.get(ctl("state")).send().await.unwrap()).await;
    assert_eq!(s.body["outages"], json!({}));
    let r = t.http.post(ctl("tokens/revoke")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = t.get(&site("westeurope")).await;
    assert_eq!(r.code(), "InvalidAuthenticationToken");

    let r = t.http.get(ctl("nothing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    t.sim.shutdown().await;
}

// -------------------------------------------------------------------------------- probes

async fn probe(t: &T, host: &str, path: &str) -> (u16, String) {
    let r = t
        .http
        .get(format!("{}{path}", t.base))
        .header("Host", host)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn probes_fail_over_to_the_next_backend() {
    let t = estate().await;
    let (s, body) = probe(&t, "shop.example.com", "/healthz").await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, json!({"status": "ok", "region": "westeurope"}));

    t.sim.region_down("westeurope");
    let (s, body) = probe(&t, "shop.example.com:443", "/healthz").await;
    assert_eq!(s, 200);
    assert!(body.contains("\"region\":\"northeurope\""), "{body}");

    // the second backend's condition stops holding: nobody serves
    t.send(
        "PATCH",
        &origin("northeurope"),
        Some(json!({"properties": {"enabledState": "Disabled"}})),
    )
    .await;
    let (s, body) = probe(&t, "shop.example.com", "/healthz").await;
    assert_eq!(s, 503);
    assert_eq!(body, "no healthy backend");

    let (s, body) = probe(&t, "other.example.org", "/").await;
    assert_eq!(s, 502);
    assert!(body.contains("unknown host other.example.org"), "{body}");
    let (s, _) = probe(&t, "shop.example.com", "/nothing-here").await;
    assert_eq!(s, 404);

    // endpoints told apart by their query strings
    assert_eq!(
        probe(&t, "status.example.com", "/health?service=boards&x=1").await,
        (200, "boards ok".to_string())
    );
    assert_eq!(
        probe(&t, "status.example.com", "/health?service=repos").await,
        (500, "repos broken".to_string())
    );
    assert_eq!(probe(&t, "status.example.com", "/health").await.0, 404);
    t.sim.shutdown().await;
}

// ------------------------------------------------------------------------------ timeline

fn timeline_toml() -> String {
    format!(
        r#"
[scenario]
id = "timeline"
title = "Timeline"

[[resource]]
id = "{site_we}"
location = "westeurope"
properties = {{ state = "Running" }}

[[resource]]
id = "{tm}"
location = "global"
properties = {{ endpointMonitorStatus = "Online" }}

[[event]]
at = "300ms"
note = "West Europe goes down"
region_down = "westeurope"

[[event]]
at = "300ms"
set = {{ resource = "{tm}", path = "properties.endpointMonitorStatus", value = "Degraded" }}

[[event]]
at = "300ms"
set = {{ resource = "{tm}", path = "properties.lastChange", value = "${{now}}" }}

[[event]]
at = "300ms"
faults = {{ throttle_rate = 1.0, retry_after = "4s" }}

[[event]]
at = "2s"
health = {{ resource = "{tm}", state = "Degraded" }}
"#,
        site_we = site("westeurope"),
        tm = tm_endpoint(),
    )
}

#[tokio::test]
async fn timeline_events_fire_on_time() {
    let t = start_toml(
        &timeline_toml(),
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(t.get(&site("westeurope")).await.status, 200);
    assert_eq!(
        t.sim.resource(&tm_endpoint()).unwrap()["properties"]["endpointMonitorStatus"],
        "Online"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tm = t.sim.resource(&tm_endpoint()).unwrap();
    assert_eq!(tm["properties"]["endpointMonitorStatus"], "Degraded");
    assert!(
        tm["properties"]["lastChange"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let r = t.get(&site("westeurope")).await;
    assert_eq!(r.status, 429, "the faults event is in force");
    assert_eq!(r.header("retry-after"), Some("4"));
    t.sim.set_faults(Faults::default());
    assert_eq!(t.get(&site("westeurope")).await.status, 503);
    let s = read(
        t.http
            .get(format!("{}/sim/state", t.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s.body["events"]["applied"], 4);
    assert_eq!(s.body["events"]["total"], 5);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn start_at_plays_the_timeline_up_to_that_point() {
    let t = start_toml(
        &timeline_toml(),
        SimOptions {
            quiet: true,
            start_at: Duration::from_secs(10),
            ..Default::default()
        },
    )
    .await;
    t.sim.set_faults(Faults::default());
    assert_eq!(t.get(&site("westeurope")).await.status, 503);
    let h = t
        .get(&format!(
            "{}/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
            tm_endpoint()
        ))
        .await;
    assert_eq!(h.body["properties"]["availabilityState"], "Degraded");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving_even_with_slow_requests_in_flight() {
    let t = estate().await;
    t.sim.set_faults(Faults {
        slow_rate: 1.0,
        slow: "60s".into(),
        ..Faults::default()
    });
    let url = t.url(&site("westeurope"));
    let http = t.http.clone();
    let token = t.token.clone();
    let pending = tokio::spawn(async move { http.get(url).bearer_auth(token).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let addr = t.sim.addr();
    t.sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(4));
    let answered = pending.await.unwrap();
    if let Ok(r) = answered {
        assert_eq!(r.status(), 503);
    }
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

// ----------------------------------------------------------------------------------- CLI

#[test]
fn drbook_sim_rejects_a_bad_scenario_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[scenario]\nid = \"x\"\ntitle = \"x\"\nbogus = 1\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(["sim", "--scenario"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:4:1"), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn drbook_sim_serves_and_prints_its_url() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.toml");
    std::fs::write(&path, scenario_toml()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(["sim", "--quiet", "--scenario"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .map(str::to_string);
    let reachable = url.as_deref().is_some_and(|u| {
        let addr = u.trim_start_matches("http://");
        std::net::TcpStream::connect(addr).is_ok()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("test-estate"), "{line}");
    assert!(reachable, "{line}");
}

#[tokio::test]
async fn odd_requests_get_arm_errors_never_a_dropped_connection() {
    let t = estate().await;
    let paths = [
        "/".to_string(),
        "//".to_string(),
        "/subscriptions".to_string(),
        "/subscriptions/".to_string(),
        format!("/subscriptions/{SUB}/resourceGroups/"),
        format!("/subscriptions/{SUB}/providers"),
        format!("/subscriptions/{SUB}/providers/Microsoft.Web"),
        format!("/subscriptions/{SUB}/resourceGroups/rg-shop-westeurope/providers"),
        format!("{}/providers/Microsoft.ResourceHealth", site("westeurope")),
        format!(
            "{}/providers/Microsoft.ResourceHealth/x/y/z",
            site("westeurope")
        ),
        format!(
            "{}/providers/Microsoft.Insights/diagnosticSettings/x",
            site("westeurope")
        ),
        format!(
            "/subscriptions/{SUB}/providers/Microsoft.Simulator/locations/x/operationStatuses/nope"
        ),
        format!("/subscriptions/{SUB}/providers/Microsoft.Simulator/locations/x/other/nope"),
        "/providers/Microsoft.ResourceGraph/resources".to_string(),
        "/%%%/%zz/%E9".to_string(),
        format!("{}/%00/%ff", site("westeurope")),
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-shop-westeurope/providers/Microsoft.Web/sites/app-shop-westeurope/a/b/c/d/e/f"
        ),
    ];
    let bodies = [
        None,
        Some(json!([])),
        Some(json!("text")),
        Some(json!({"properties": 5, "location": 7})),
        Some(json!({"failoverPolicies": "x", "query": 3})),
    ];
    for path in &paths {
        for method in ["GET", "PUT", "PATCH", "DELETE", "POST", "OPTIONS"] {
            for body in &bodies {
                let r = t.send(method, path, body.clone()).await;
                assert!(
                    (200..500).contains(&r.status) && r.status != 401,
                    "{method} {path} {body:?}: {} {}",
                    r.status,
                    r.body
                );
                if r.status >= 400 {
                    assert!(
                        r.body["error"]["code"].is_string(),
                        "{method} {path}: {}",
                        r.body
                    );
                }
            }
        }
    }
    t.sim.shutdown().await;
}

// ------------------------------------------------------------------ ARM's own regional rules

fn control_plane_toml() -> String {
    format!(
        r#"
[scenario]
id = "control-plane"
title = "Groups located in a region, a registry with a home region"

[[subscription]]
id = "{SUB}"
name = "test"

[[resource_group]]
id = "{global}"
location = "West Europe"

[[resource_group]]
id = "{ne}"
location = "northeurope"

[[resource]]
id = "{global}/providers/Microsoft.Network/trafficManagerProfiles/tm/azureEndpoints/ep-ne"
location = "global"
properties = {{ endpointStatus = "Enabled", endpointMonitorStatus = "Online" }}

[[resource]]
id = "{global}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos"
location = "North Europe"
region = "global"
properties = {{ provisioningState = "Succeeded" }}

[[resource]]
id = "{ne}/providers/Microsoft.Web/sites/app-ne"
location = "northeurope"
properties = {{ state = "Running" }}

[[resource]]
id = "{implied}/providers/Microsoft.Storage/storageAccounts/st"
location = "westeurope"
region = "global"
properties = {{ statusOfPrimary = "available" }}

[[resource]]
id = "{ne}/providers/Microsoft.ContainerRegistry/registries/cr"
location = "westeurope"
sku = {{ name = "Premium" }}
properties = {{ loginServer = "cr.azurecr.io" }}

[[resource]]
id = "{ne}/providers/Microsoft.ContainerRegistry/registries/cr/replications/northeurope"
location = "northeurope"
properties = {{ regionEndpointEnabled = true, status = {{ displayStatus = "Ready" }} }}
"#,
        global = rg("rg-global"),
        ne = rg("rg-ne"),
        implied = rg("rg-implied"),
    )
}

/// ARM keeps a resource group's metadata in the group's location and routes writes through
/// it: while that region is down, the group's resources can be read but not changed, wherever
/// they run. A group whose location was only guessed from its first resource is not held to
/// it.
#[tokio::test]
async fn writes_to_a_group_located_in_a_down_region_are_refused_and_reads_work() {
    let t = start_toml(
        &control_plane_toml(),
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await;
    let ep = format!(
        "{}/providers/Microsoft.Network/trafficManagerProfiles/tm/azureEndpoints/ep-ne",
        rg("rg-global")
    );
    let cosmos = format!(
        "{}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos",
        rg("rg-global")
    );
    let disable = json!({"properties": {"endpointStatus": "Disabled"}});
    let g = t.get(&rg("rg-global")).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body["location"], "westeurope");
    assert_eq!(
        t.send("PATCH", &ep, Some(disable.clone())).await.status,
        200
    );

    t.sim.region_down("westeurope");
    // Reads of the group and of its resources in healthy regions still work.
    assert_eq!(t.get(&rg("rg-global")).await.status, 200);
    let r = t.get(&ep).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["endpointStatus"], "Disabled");
    assert_eq!(t.get(&cosmos).await.status, 200);
    // Every kind of write is refused, naming the group and its location.
    for (m, path, body) in [
        ("PATCH", ep.clone(), Some(disable.clone())),
        (
            "PUT",
            ep.clone(),
            Some(json!({"properties": {"weight": 1}})),
        ),
        ("DELETE", ep.clone(), None),
        (
            "POST",
            format!("{cosmos}/failoverPriorityChange"),
            Some(json!({"failoverPolicies": []})),
        ),
        (
            "PUT",
            format!("{}/providers/Microsoft.Web/sites/new-site", rg("rg-global")),
            Some(json!({"location": "northeurope"})),
        ),
    ] {
        let r = t.send(m, &path, body).await;
        assert_eq!(r.status, 503, "{m} {path}: {:?}", r.body);
        assert_eq!(r.code(), "ServiceUnavailable");
        let msg = r.body["error"]["message"].as_str().unwrap_or("");
        assert!(
            msg.contains("'rg-global'") && msg.contains("'westeurope'"),
            "{msg}"
        );
    }
    assert_eq!(
        t.get(&cosmos).await.body["properties"]["provisioningState"],
        "Succeeded",
        "nothing was changed"
    );
    // Other groups are not affected; nor is a group whose location was never given.
    let site = format!("{}/providers/Microsoft.Web/sites/app-ne", rg("rg-ne"));
    assert_eq!(
        t.send("PATCH", &site, Some(json!({"tags": {"a": "b"}})))
            .await
            .status,
        200
    );
    let st = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/st",
        rg("rg-implied")
    );
    assert_eq!(
        t.send("PATCH", &st, Some(json!({"tags": {"a": "b"}})))
            .await
            .status,
        200
    );

    t.sim.region_up("westeurope");
    let enable = json!({"properties": {"endpointStatus": "Enabled"}});
    assert_eq!(t.send("PATCH", &ep, Some(enable)).await.status, 200);
    t.sim.shutdown().await;
}

/// A container registry's control plane lives in its home region: while it is down, ARM reads
/// and writes of the registry and of all its replications fail, the healthy replica's too.
#[tokio::test]
async fn a_registry_is_managed_only_through_its_home_region() {
    let t = start_toml(
        &control_plane_toml(),
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await;
    let cr = format!(
        "{}/providers/Microsoft.ContainerRegistry/registries/cr",
        rg("rg-ne")
    );
    let replica = format!("{cr}/replications/northeurope");
    let off = json!({"properties": {"regionEndpointEnabled": false}});
    assert_eq!(t.get(&replica).await.status, 200);

    t.sim.region_down("westeurope");
    assert_eq!(t.get(&cr).await.status, 503);
    for (m, body) in [
        ("GET", None),
        ("PATCH", Some(off.clone())),
        ("DELETE", None),
    ] {
        let r = t.send(m, &replica, body).await;
        assert_eq!(r.status, 503, "{m}: {:?}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains("home region 'westeurope'"), "{msg}");
    }
    // The replica is untouched, and manageable again once the home region is back.
    t.sim.region_up("westeurope");
    let r = t.get(&replica).await;
    assert_eq!(r.body["properties"]["regionEndpointEnabled"], true);
    // Replications_Update answers 200 or 201 (an asynchronous write, as its spec example shows).
    let st = t.send("PATCH", &replica, Some(off)).await.status;
    assert!(matches!(st, 200 | 201), "{st}");
    t.sim.shutdown().await;
}

/// An operation's status lives in the region that took the operation: while that region is
/// down, its URLs answer as the region does, and again once it is back.
#[tokio::test]
async fn an_operation_of_a_down_region_answers_as_the_region_does() {
    let t = estate().await;
    let r = t.post(&format!("{}/start", aks()), None).await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();
    assert!(loc.contains("/locations/northeurope/"), "{loc}");
    let status = loc.replace("/operationResults/", "/operationStatuses/");
    t.sim.region_down("northeurope");
    for url in [&loc, &status] {
        let a = t.get(url).await;
        assert_eq!(a.status, 503, "{url}: {}", a.body);
        assert_eq!(a.code(), "ServiceUnavailable");
    }
    t.sim.region_outage(
        "northeurope",
        Outage {
            arm: OutageArm::Status(504),
            health_unknown: false,
        },
    );
    assert_eq!(t.get(&status).await.status, 504);
    t.sim.region_up("northeurope");
    let done = t.poll_location(&loc).await;
    assert_eq!(done.status, 204);
    t.sim.shutdown().await;
}

/// Resource Graph's per-user quota: every answer says what is left and when it resets
/// (`hh:mm:ss`), and once it is spent the next query gets 429 with Retry-After until the
/// window resets.
#[tokio::test]
async fn resource_graph_answers_carry_the_user_quota_and_throttle_once_it_is_spent() {
    let t = estate().await;
    t.sim.set_faults(Faults {
        graph_quota: 3,
        graph_quota_window: "2s".into(),
        ..Faults::default()
    });
    let q = json!({"subscriptions": [SUB], "query": "Resources | project id"});
    let url = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";
    let mut left = Vec::new();
    for _ in 0..3 {
        let g = t.post(url, Some(q.clone())).await;
        assert_eq!(g.status, 200, "{}", g.body);
        let resets = g
            .header("x-ms-user-quota-resets-after")
            .unwrap()
            .to_string();
        assert!(
            resets == "00:00:02" || resets == "00:00:01",
            "resets after {resets}"
        );
        left.push(g.header("x-ms-user-quota-remaining").unwrap().to_string());
    }
    assert_eq!(left, ["2", "1", "0"]);
    let g = t.post(url, Some(q.clone())).await;
    assert_eq!(g.status, 429, "{}", g.body);
    assert_eq!(g.code(), "RateLimiting");
    let wait: u64 = g.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert_eq!(g.header("x-ms-user-quota-remaining"), Some("0"));
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
    let g = t.post(url, Some(q)).await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(g.header("x-ms-user-quota-remaining"), Some("2"));
    t.sim.shutdown().await;
}
