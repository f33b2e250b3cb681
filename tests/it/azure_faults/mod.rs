//! The real Azure client against the simulator over loopback HTTP, one test per fault class:
//! throttling, a 5xx burst, timeouts, dropped connections, an expired token, a region going
//! down, long-running operations and cancellation. Each asserts what the operator would see.
//! Then the same client against a small stand-in ARM of its own (not the simulator) that
//! answers as Azure does: request ids, paging, 200 + Azure-AsyncOperation, budgets, the
//! write guard.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::recorder::Memory;
use drbook::azure::auth::SimCredential;
use drbook::azure::{ArmClient, ClientOptions, Cloud, ErrorKind, TokenCache};
use drbook::sim::scenario::Scenario;
use drbook::sim::{self, InjectedFault, Injection, Outage, OutageArm, SimHandle, SimOptions};
use reqwest::Method;
use url::Url;

mod region_down;

const SUB: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";

fn site(region: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-{region}/providers/Microsoft.Web/sites/app-{region}"
    )
}

fn cosmos() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-global/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-shop"
    )
}

fn aks() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-northeurope/providers/Microsoft.ContainerService/managedClusters/aks-ne"
    )
}

fn scenario(extra_faults: &str) -> Scenario {
    let text = format!(
        r#"
[scenario]
id = "faults"
title = "fault tests"
lro_delay = "300ms"

[faults]
{extra_faults}

[[subscription]]
id = "{SUB}"
name = "test"

[[resource]]
id = "{we}"
location = "westeurope"
kind = "app"
properties = {{ state = "Running", defaultHostName = "app-westeurope.azurewebsites.net" }}

[[resource]]
id = "{ne}"
location = "northeurope"
kind = "app"
properties = {{ state = "Stopped", defaultHostName = "app-northeurope.azurewebsites.net" }}

[[resource]]
id = "{cosmos}"
location = "westeurope"
region = "global"
kind = "GlobalDocumentDB"
properties = {{ writeLocations = [{{ locationName = "West Europe" }}], readLocations = [{{ locationName = "West Europe" }}, {{ locationName = "North Europe" }}], failoverPolicies = [{{ locationName = "West Europe", failoverPriority = 0 }}, {{ locationName = "North Europe", failoverPriority = 1 }}] }}

[[resource]]
id = "{aks}"
location = "northeurope"
properties = {{ provisioningState = "Succeeded", powerState = {{ code = "Stopped" }} }}
"#,
        we = site("westeurope"),
        ne = site("northeurope"),
        cosmos = cosmos(),
        aks = aks(),
    );
    match Scenario::parse("faults.toml", &text) {
        Ok(s) => s,
        Err(e) => panic!("test scenario: {e}"),
    }
}

async fn start(faults: &str) -> SimHandle {
    sim::start(
        scenario(faults),
        SimOptions {
            port: 0,
            quiet: true,
            start_at: Duration::ZERO,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("simulator: {e}"))
}

fn client(sim: &SimHandle, options: ClientOptions) -> ArmClient {
    let cloud = Cloud::custom(Url::parse(&sim.base_url()).expect("sim url"));
    let cred = Arc::new(SimCredential::new(&cloud.arm).expect("sim credential"));
    let tokens = TokenCache::new(cred, cloud.scope.clone());
    ArmClient::new(cloud, tokens, options).expect("client")
}

/// Fast retries so the suite stays quick; the policy is the same as in production.
fn quick() -> ClientOptions {
    ClientOptions {
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

fn inject(sim: &SimHandle, path: &str, count: u32, fault: InjectedFault) {
    sim.inject(Injection {
        path_contains: Some(path.to_string()),
        count,
        fault,
    });
}

fn status(status: u16, code: &str, retry_after: Option<Duration>) -> InjectedFault {
    InjectedFault::Status {
        status,
        code: code.to_string(),
        retry_after,
    }
}

/// `POST {id}/{action}` with no body, followed to completion within `deadline`.
async fn post(
    arm: &ArmClient,
    id: &str,
    action: &str,
    api: &str,
    deadline: Duration,
) -> Result<drbook::azure::lro::WriteOutcome, drbook::azure::AzureError> {
    arm.write(
        Method::POST,
        &format!("{id}/{action}"),
        api,
        None,
        deadline,
        &|_| {},
    )
    .await
}

#[tokio::test]
async fn throttling_waits_for_retry_after_then_succeeds() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    inject(
        &sim,
        "app-westeurope",
        2,
        status(429, "TooManyRequests", Some(Duration::from_secs(1))),
    );
    let t = Instant::now();
    let r = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect("succeeds after throttling");
    assert_eq!(r.attempts, 3);
    assert_eq!(r.body["properties"]["state"], "Running");
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "honoured Retry-After twice: {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn throttling_beyond_the_retries_names_resource_status_and_advice() {
    let sim = start("").await;
    let arm = client(
        &sim,
        ClientOptions {
            max_retries: 2,
            ..quick()
        },
    );
    inject(
        &sim,
        "app-westeurope",
        10,
        status(429, "TooManyRequests", Some(Duration::from_millis(0))),
    );
    let e = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect_err("still throttled");
    assert_eq!(e.kind, ErrorKind::Throttled);
    assert_eq!(e.attempts, 3);
    let text = e.to_string();
    assert!(text.contains(&site("westeurope")), "{text}");
    assert!(text.contains("HTTP 429 TooManyRequests"), "{text}");
    assert!(text.contains("lower --concurrency"), "{text}");
}

#[tokio::test]
async fn a_5xx_burst_is_retried_with_backoff() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    inject(
        &sim,
        "app-northeurope",
        3,
        status(503, "ServiceUnavailable", None),
    );
    let r = arm
        .get(&site("northeurope"), "2023-12-01")
        .await
        .expect("recovers");
    assert_eq!(r.attempts, 4);
    assert_eq!(r.body["properties"]["state"], "Stopped");
}

#[tokio::test]
async fn a_non_idempotent_write_is_not_resent_after_a_500() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    inject(
        &sim,
        "app-northeurope/start",
        1,
        status(500, "InternalServerError", None),
    );
    let e = post(
        &arm,
        &site("northeurope"),
        "start",
        "2023-12-01",
        Duration::from_secs(10),
    )
    .await
    .expect_err("a POST that got a 500 is reported, not repeated");
    assert_eq!(e.attempts, 1);
    assert_eq!(e.status, Some(500));
    assert!(
        e.to_string().starts_with(&format!(
            "POST start {}/start: HTTP 500 InternalServerError",
            site("northeurope")
        )),
        "{e}"
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_and_the_retry_gets_through() {
    let sim = start("").await;
    let arm = client(
        &sim,
        ClientOptions {
            timeout: Duration::from_millis(300),
            ..quick()
        },
    );
    inject(
        &sim,
        "app-westeurope",
        1,
        InjectedFault::Delay(Duration::from_secs(5)),
    );
    let t = Instant::now();
    let r = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect("second attempt answers");
    assert_eq!(r.attempts, 2);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "did not wait for the slow answer: {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn an_endpoint_that_never_answers_fails_in_bounded_time() {
    let sim = start("").await;
    let arm = client(
        &sim,
        ClientOptions {
            timeout: Duration::from_millis(200),
            max_retries: 2,
            ..quick()
        },
    );
    inject(
        &sim,
        "app-westeurope",
        10,
        InjectedFault::Delay(Duration::from_secs(30)),
    );
    let t = Instant::now();
    let e = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect_err("times out");
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.attempts, 3);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(
        e.to_string()
            .contains("no answer within the per-call timeout"),
        "{e}"
    );
}

#[tokio::test]
async fn dropped_connections_are_retried_for_reads_and_reported_for_writes() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    inject(&sim, "app-westeurope", 2, InjectedFault::Drop);
    let r = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect("third attempt");
    assert_eq!(r.attempts, 3);

    inject(&sim, "app-northeurope/start", 1, InjectedFault::Drop);
    let e = post(
        &arm,
        &site("northeurope"),
        "start",
        "2023-12-01",
        Duration::from_secs(10),
    )
    .await
    .expect_err("ambiguous write");
    assert_eq!(e.kind, ErrorKind::Connection);
    assert!(
        e.to_string().contains("may or may not have reached Azure"),
        "{e}"
    );
    assert!(e.may_have_happened);
    assert!(
        e.to_string()
            .contains("read the resource (the step's check) to see whether the change was made"),
        "{e}"
    );
}

#[tokio::test]
async fn an_expired_token_is_replaced_and_the_request_repeated() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    arm.get(&site("westeurope"), "2023-12-01")
        .await
        .expect("first read");
    inject(
        &sim,
        "app-westeurope",
        1,
        status(401, "ExpiredAuthenticationToken", None),
    );
    let r = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect("fresh token");
    assert_eq!(r.attempts, 2);
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    // Tokens live 1s; the cache renews them a fifth of that early, so a read 1.1s later is
    // sent with a new token and is never refused.
    let sim = start(r#"token_lifetime = "1s""#).await;
    let arm = client(&sim, quick());
    arm.get(&site("westeurope"), "2023-12-01")
        .await
        .expect("first");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect("second, new token");
    assert_eq!(r.attempts, 1, "no 401 round trip");
}

#[tokio::test]
async fn a_down_region_answers_503_and_resource_health_says_unavailable() {
    let sim = start("").await;
    sim.region_down("westeurope");
    let arm = client(
        &sim,
        ClientOptions {
            max_retries: 1,
            ..quick()
        },
    );
    let e = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect_err("region down");
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert_eq!(e.status, Some(503));
    assert!(e.to_string().contains("check Resource Health"), "{e}");
    let health = arm
        .health(&site("westeurope"), None)
        .await
        .expect("Resource Health is global");
    assert_eq!(health["properties"]["availabilityState"], "Unavailable");
    let ok = arm
        .get(&site("northeurope"), "2023-12-01")
        .await
        .expect("the paired region answers");
    assert_eq!(ok.body["name"], "app-northeurope");
    let rows = arm
        .graph(
            &[SUB.to_string()],
            "Resources | where type =~ 'microsoft.web/sites' | project name, location",
        )
        .await
        .expect("Resource Graph still lists the down region");
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn long_running_failover_is_followed_to_the_end() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    let polls = std::sync::Mutex::new(Vec::new());
    let body = serde_json::json!({ "failoverPolicies": [
        { "locationName": "North Europe", "failoverPriority": 0 },
        { "locationName": "West Europe", "failoverPriority": 1 } ] });
    let out = arm
        .write(
            Method::POST,
            &format!("{}/failoverPriorityChange", cosmos()),
            "2024-11-15",
            Some(body),
            Duration::from_secs(20),
            &|s| {
                polls
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(s.to_string())
            },
        )
        .await
        .expect("failover succeeds");
    assert_eq!(out.status, 202);
    let lro = out.lro.expect("it was long-running");
    assert_eq!(lro.status, "Succeeded");
    assert!(lro.polls >= 1);
    assert_eq!(
        polls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .map(String::as_str),
        Some("Succeeded")
    );
    let acct = arm.get(&cosmos(), "2024-11-15").await.expect("read back");
    assert_eq!(
        acct.body["properties"]["writeLocations"][0]["locationName"],
        "North Europe"
    );
}

#[tokio::test]
async fn a_long_running_operation_past_its_deadline_says_it_may_still_finish() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    let e = post(
        &arm,
        &aks(),
        "start",
        "2024-09-01",
        Duration::from_millis(100),
    )
    .await
    .expect_err("deadline shorter than the operation");
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.to_string().contains("it may still finish"), "{e}");
}

#[tokio::test]
async fn aks_start_completes_and_the_cluster_runs() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    let out = post(&arm, &aks(), "start", "2024-09-01", Duration::from_secs(20))
        .await
        .expect("start");
    assert!(out.lro.is_some());
    let c = arm.get(&aks(), "2024-09-01").await.expect("read back");
    assert_eq!(c.body["properties"]["powerState"]["code"], "Running");
}

#[tokio::test]
async fn cancelling_aborts_calls_in_flight_at_once() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    inject(
        &sim,
        "app-westeurope",
        1,
        InjectedFault::Delay(Duration::from_secs(10)),
    );
    let cancel = arm.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let t = Instant::now();
    let e = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect_err("cancelled");
    assert_eq!(e.kind, ErrorKind::Cancelled);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let sim = start(r#"latency = "100ms""#).await;
    let arm = client(
        &sim,
        ClientOptions {
            concurrency: 4,
            ..quick()
        },
    );
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let arm = arm.clone();
        tasks.spawn(async move {
            arm.get(&site("northeurope"), "2023-12-01")
                .await
                .map(|r| r.attempts)
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.expect("task").expect("read"), 1);
    }
    // 16 requests, 4 at a time, 100 ms each: at least four rounds.
    assert!(
        t.elapsed() >= Duration::from_millis(390),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn errors_name_the_missing_resource_and_never_carry_the_token() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    let missing = format!(
        "/subscriptions/{SUB}/resourceGroups/rg-westeurope/providers/Microsoft.Web/sites/nope"
    );
    let e = arm.get(&missing, "2023-12-01").await.expect_err("404");
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.to_string().contains(&missing));
    assert!(!format!("{e:?}").to_lowercase().contains("bearer"));
}

/// A resource id that names one resource but, once `..` or its encoded forms are normalised
/// away, reaches another: refused before any request, whatever the spelling.
#[tokio::test]
async fn a_path_that_would_normalise_to_another_resource_is_never_sent() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    // Make the client warm (token, connection) so a later request would surely be counted.
    arm.get(&site("westeurope"), "2023-12-01")
        .await
        .expect("a plain read works");
    let before = sim.request_count();
    let we = site("westeurope");
    let ne = site("northeurope");
    let tail = ne.trim_start_matches('/');
    for dodge in [
        format!("{we}/../../../../../../../{tail}"),
        format!("{we}/%2e%2e/%2E%2e/x"),
        format!("{we}/%2E%2E%2f%2e%2e/x"),
        format!("{we}%2fstop"),
        format!("{we}/%252e%252e/x"),
        format!("{we}/./stop"),
        format!("{we}\\..\\x"),
        format!("{we}#/../x"),
    ] {
        let e = tokio::time::timeout(
            Duration::from_secs(15),
            post(&arm, &dodge, "stop", "2023-12-01", Duration::from_secs(5)),
        )
        .await
        .expect("answers in time")
        .expect_err(&dodge);
        let text = e.to_string();
        assert!(text.contains("refusing"), "{dodge}: {text}");
        let r = tokio::time::timeout(Duration::from_secs(15), arm.get(&dodge, "2023-12-01"))
            .await
            .expect("answers in time");
        assert!(r.is_err(), "{dodge}: a read went through");
    }
    assert_eq!(
        sim.request_count(),
        before,
        "a refused request reached the server"
    );
    // The query is the server's: an encoded slash there is fine.
    arm.get(
        &format!("{we}?$filter=name%20eq%20%27a%2Fb%27"),
        "2023-12-01",
    )
    .await
    .expect("an encoded character in the query is not refused");
    let state = sim.resource(&we).expect("the site");
    assert_eq!(state["properties"]["state"], "Running", "untouched");
}

// ---------------------------------------------------------------------------------------------
// A stand-in ARM, not the drbook simulator: a few routes that answer as the real one does
// (Retry-After on 429, x-ms-request-id on every answer, nextLink lists, Resource Graph
// $skipToken pages, a PATCH answered 200 + Azure-AsyncOperation), recording every request.

mod standin {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, Response, Uri};
    use serde_json::{Value, json};

    pub const SUB: &str = "0b7c3a42-1111-4c6d-8e7f-9a0b1c2d3e4f";
    pub const OTHER_SUB: &str = "0b7c3a42-2222-4c6d-8e7f-9a0b1c2d3e4f";

    #[derive(Debug, Clone)]
    pub struct Seen {
        pub method: String,
        /// Path and query.
        pub uri: String,
        pub client_request_id: Option<String>,
        pub traceparent: Option<String>,
    }

    #[derive(Default)]
    pub struct Inner {
        pub seen: Vec<Seen>,
        /// Requests per route, for answers that change (429 then 200, InProgress then done).
        counts: std::collections::HashMap<String, u32>,
    }

    pub type Shared = Arc<Mutex<Inner>>;

    pub struct Standin {
        pub base: String,
        pub state: Shared,
        _server: tokio::task::JoinHandle<()>,
    }

    impl Standin {
        pub fn seen(&self) -> Vec<Seen> {
            self.state
                .lock()
                .map(|s| s.seen.clone())
                .unwrap_or_default()
        }
        /// ARM requests only (not the token endpoint).
        pub fn arm_seen(&self) -> Vec<Seen> {
            self.seen()
                .into_iter()
                .filter(|s| !s.uri.starts_with("/sim/token"))
                .collect()
        }
    }

    pub async fn start() -> Standin {
        let state: Shared = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let app = Router::new()
            .fallback(answer)
            .with_state((state.clone(), base.clone()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Standin {
            base,
            state,
            _server: server,
        }
    }

    fn reply(
        status: u16,
        request_id: &str,
        headers: &[(&str, String)],
        body: Value,
    ) -> Response<Body> {
        let mut r = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-ms-request-id", request_id)
            .header("x-ms-correlation-request-id", format!("corr-{request_id}"));
        for (k, v) in headers {
            r = r.header(*k, v.as_str());
        }
        r.body(Body::from(body.to_string())).expect("response")
    }

    async fn answer(
        State((state, base)): State<(Shared, String)>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response<Body> {
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let path = uri.path().to_string();
        let query = uri.query().unwrap_or_default().to_string();
        let n = {
            let mut st = state.lock().expect("state");
            st.seen.push(Seen {
                method: method.to_string(),
                uri: uri.to_string(),
                client_request_id: h("x-ms-client-request-id"),
                traceparent: h("traceparent"),
            });
            let key = format!("{method} {path} {}", query.contains("skiptoken"));
            let c = st.counts.entry(key).or_default();
            *c += 1;
            *c
        };
        let sites = format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites");
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match (method.as_str(), path.as_str()) {
            ("POST", "/sim/token") => reply(
                200,
                "token",
                &[],
                json!({ "access_token": "standin-token", "expires_on": chrono::Utc::now().timestamp() + 3600 }),
            ),
            // Throttled once, then served.
            ("GET", p) if p == format!("{sites}/busy") => {
                if n == 1 {
                    reply(
                        429,
                        "throttled-1",
                        &[("retry-after", "1".into())],
                        json!({ "error": { "code": "TooManyRequests", "message": "slow down" } }),
                    )
                } else {
                    reply(
                        200,
                        "busy-ok",
                        &[],
                        json!({ "name": "busy", "properties": { "state": "Running" } }),
                    )
                }
            }
            ("GET", p) if p == format!("{sites}/missing") => reply(
                404,
                "req-404",
                &[],
                json!({ "error": { "code": "ResourceNotFound", "message": "The Resource 'Microsoft.Web/sites/missing' under resource group 'rg' was not found." } }),
            ),
            // A list in two pages.
            ("GET", p) if p == sites => {
                if query.contains("skiptoken=page2") {
                    reply(200, "list-2", &[], json!({ "value": [{ "name": "c" }] }))
                } else {
                    reply(
                        200,
                        "list-1",
                        &[],
                        json!({ "value": [{ "name": "a" }, { "name": "b" }], "nextLink": format!("{base}{sites}?api-version=2023-12-01&$skiptoken=page2") }),
                    )
                }
            }
            // PATCH answered 200 + Azure-AsyncOperation, with the resource still Updating.
            ("PATCH", p) if p == format!("{sites}/app") => reply(
                200,
                "patch-app",
                &[
                    (
                        "azure-asyncoperation",
                        format!(
                            "{base}/subscriptions/{SUB}/providers/Microsoft.Web/locations/westeurope/operationStatuses/op-1?api-version=2023-12-01"
                        ),
                    ),
                    ("retry-after", "0".into()),
                ],
                json!({ "name": "app", "properties": { "provisioningState": "Updating", "state": "Stopped" } }),
            ),
            ("GET", p) if p.ends_with("/operationStatuses/op-1") => {
                let status = if n < 3 { "InProgress" } else { "Succeeded" };
                reply(
                    200,
                    &format!("op-{n}"),
                    &[("retry-after", "0".into())],
                    json!({ "status": status }),
                )
            }
            ("GET", p) if p == format!("{sites}/app") => reply(
                200,
                "get-app",
                &[],
                json!({ "name": "app", "properties": { "provisioningState": "Succeeded", "state": "Running" } }),
            ),
            // PUT answered 201 with a non-terminal provisioningState and no operation header.
            ("PUT", p) if p == format!("{sites}/new") => reply(
                201,
                "put-new",
                &[("retry-after", "0".into())],
                json!({ "name": "new", "properties": { "provisioningState": "Creating" } }),
            ),
            ("GET", p) if p == format!("{sites}/new") => {
                let state = if n < 2 { "Creating" } else { "Succeeded" };
                reply(
                    200,
                    &format!("new-{n}"),
                    &[("retry-after", "0".into())],
                    json!({ "name": "new", "properties": { "provisioningState": state } }),
                )
            }
            // An answer that comes after the client's per-call timeout.
            ("POST", p) if p == format!("{sites}/slow/restart") => {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                reply(200, "slow", &[], json!({}))
            }
            // An action accepted, whose operation then ends Failed (polled with 200).
            ("POST", p) if p == format!("{sites}/doomed/restart") => reply(
                202,
                "doomed",
                &[
                    (
                        "azure-asyncoperation",
                        format!(
                            "{base}/subscriptions/{SUB}/providers/Microsoft.Web/locations/westeurope/operationStatuses/op-doomed?api-version=2023-12-01"
                        ),
                    ),
                    ("retry-after", "0".into()),
                ],
                json!({}),
            ),
            ("GET", p) if p.ends_with("/operationStatuses/op-doomed") => reply(
                200,
                "op-doomed",
                &[("retry-after", "0".into())],
                json!({ "status": "Failed", "error": { "code": "Conflict", "message": "The site is locked." } }),
            ),
            ("POST", p) if p == format!("{sites}/app/restart") => reply(
                504,
                "gw-504",
                &[],
                json!({ "error": { "code": "GatewayTimeout", "message": "The gateway did not receive a response within the specified time period." } }),
            ),
            // Budgets nearly spent: drbook should slow down before a 429.
            ("GET", p) if p == format!("{sites}/scarce") => reply(
                200,
                "scarce",
                &[("x-ms-ratelimit-remaining-subscription-reads", "0".into())],
                json!({ "name": "scarce" }),
            ),
            ("POST", "/providers/Microsoft.ResourceGraph/resources") => {
                let query = body
                    .get("query")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let token = body.pointer("/options/$skipToken").and_then(Value::as_str);
                let quota = if query.contains("quota") { "0" } else { "14" };
                let q = [
                    ("x-ms-user-quota-remaining", quota.to_string()),
                    ("x-ms-user-quota-resets-after", "00:00:01".to_string()),
                ];
                if query.contains("summarize") {
                    reply(
                        200,
                        "graph-cut",
                        &q,
                        json!({ "totalRecords": 1500, "count": 1000, "data": [{ "n": 1 }], "resultTruncated": "true" }),
                    )
                } else if token == Some("page-2") {
                    reply(
                        200,
                        "graph-2",
                        &q,
                        json!({ "totalRecords": 3, "count": 1, "data": [{ "id": "/x/3" }], "resultTruncated": "false" }),
                    )
                } else {
                    reply(
                        200,
                        "graph-1",
                        &q,
                        json!({ "totalRecords": 3, "count": 2, "data": [{ "id": "/x/1" }, { "id": "/x/2" }], "$skipToken": "page-2", "resultTruncated": "false" }),
                    )
                }
            }
            _ => reply(
                404,
                "no-route",
                &[],
                json!({ "error": { "code": "NoRoute", "message": format!("stand-in has no {method} {path}") } }),
            ),
        }
    }
}

fn standin_client(s: &standin::Standin, write_subscriptions: Option<Vec<String>>) -> ArmClient {
    let cloud = Cloud::custom(Url::parse(&s.base).expect("stand-in url"));
    let cred = Arc::new(SimCredential::new(&cloud.arm).expect("credential"));
    let tokens = TokenCache::new(cred, cloud.scope.clone());
    ArmClient::new(
        cloud,
        tokens,
        ClientOptions {
            write_subscriptions,
            ..quick()
        },
    )
    .expect("client")
}

fn standin_site(name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites/{name}",
        standin::SUB
    )
}

#[tokio::test]
async fn against_a_stand_in_arm_ids_are_sent_kept_and_pages_and_operations_followed() {
    let s = standin::start().await;
    let arm = standin_client(&s, None);
    let run = async {
        // 429 + Retry-After: waited for, then served.
        let started = Instant::now();
        let r = arm
            .get(&standin_site("busy"), "2023-12-01")
            .await
            .expect("busy");
        assert_eq!(r.attempts, 2);
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "Retry-After honoured"
        );

        // An error keeps the service's ids and shows them.
        let e = arm
            .get(&standin_site("missing"), "2023-12-01")
            .await
            .expect_err("404");
        assert_eq!(e.ids.request_id.as_deref(), Some("req-404"));
        assert_eq!(
            e.ids.correlation_request_id.as_deref(),
            Some("corr-req-404")
        );
        let text = e.to_string();
        assert!(text.contains("x-ms-request-id: req-404"), "{text}");
        assert!(
            text.contains("x-ms-correlation-request-id: corr-req-404"),
            "{text}"
        );
        let sent = e.ids.client_request_id.clone().expect("client id kept");
        assert!(text.contains(&sent), "{text}");

        // A list with nextLink: both pages, joined.
        let list = arm
            .get(
                &format!(
                    "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites",
                    standin::SUB
                ),
                "2023-12-01",
            )
            .await
            .expect("list");
        let names: Vec<&str> = list.body["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(list.body.get("nextLink").is_none());

        // Resource Graph $skipToken pages.
        let rows = arm
            .graph(&[standin::SUB.to_string()], "Resources | project id")
            .await
            .expect("graph");
        assert_eq!(rows.len(), 3, "{rows:?}");
        // Cut short with no token: an error that says what to do.
        let e = arm
            .graph(
                &[standin::SUB.to_string()],
                "Resources | summarize count() by type",
            )
            .await
            .expect_err("truncated");
        assert!(e.to_string().contains("project `id`"), "{e}");

        // PATCH answered 200 + Azure-AsyncOperation: followed to its end, then read.
        let out = arm
            .write(
                Method::PATCH,
                &standin_site("app"),
                "2023-12-01",
                Some(serde_json::json!({ "properties": { "state": "Running" } })),
                Duration::from_secs(10),
                &|_| {},
            )
            .await
            .expect("patch");
        assert_eq!(out.status, 200);
        let lro = out.lro.expect("followed as a long-running operation");
        assert_eq!(lro.status, "Succeeded");
        assert_eq!(lro.polls, 3);
        assert_eq!(out.body["properties"]["state"], "Running");

        // PUT answered 201 Creating, no operation header: the resource is read until done.
        let out = arm
            .write(
                Method::PUT,
                &standin_site("new"),
                "2023-12-01",
                Some(serde_json::json!({ "location": "westeurope" })),
                Duration::from_secs(10),
                &|_| {},
            )
            .await
            .expect("put");
        assert_eq!(out.lro.map(|l| l.status).as_deref(), Some("Succeeded"));
        assert_eq!(out.body["properties"]["provisioningState"], "Succeeded");

        // A POST answered 504 may have happened: not resent, and the operator is told.
        let e = post(
            &arm,
            &standin_site("app"),
            "restart",
            "2023-12-01",
            Duration::from_secs(5),
        )
        .await
        .expect_err("504");
        assert!(
            e.to_string()
                .contains("this may have happened: check before retrying"),
            "{e}"
        );
        assert_eq!(e.ids.request_id.as_deref(), Some("gw-504"));
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("stand-in run within 30s");

    let seen = s.arm_seen();
    assert_eq!(
        seen.iter()
            .filter(|r| r.uri.ends_with("/restart?api-version=2023-12-01"))
            .count(),
        1,
        "the POST is sent once"
    );
    let mut ids = std::collections::BTreeSet::new();
    for r in &seen {
        let id = r
            .client_request_id
            .as_deref()
            .unwrap_or_else(|| panic!("no x-ms-client-request-id on {} {}", r.method, r.uri));
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert_eq!(&id[14..15], "4", "version 4: {id}");
        let tp = r.traceparent.as_deref().expect("traceparent");
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len()),
            ("00", 32, 16),
            "{tp}"
        );
        assert_eq!(
            parts[1],
            id.replace('-', ""),
            "the trace is the request: {tp}"
        );
        ids.insert(id.to_string());
    }
    // One id per logical request, kept over its retries (the 429 and its retry share one).
    let busy: Vec<&standin::Seen> = seen
        .iter()
        .filter(|r| r.uri.contains("/sites/busy"))
        .collect();
    assert_eq!(busy.len(), 2);
    assert_eq!(busy[0].client_request_id, busy[1].client_request_id);
    assert_ne!(
        busy[0].traceparent, busy[1].traceparent,
        "a new span per attempt"
    );
    assert_eq!(
        ids.len(),
        seen.len() - 1,
        "every other request has its own id"
    );
}

/// An operation that ends Failed is reported as that, with its own code: the poll's 200 is not
/// the operation's status and is never shown as one.
#[tokio::test]
async fn a_failed_operation_is_reported_with_its_code_not_the_polls_status() {
    let s = standin::start().await;
    let arm = standin_client(&s, None);
    let run = async {
        let e = post(
            &arm,
            &standin_site("doomed"),
            "restart",
            "2023-12-01",
            Duration::from_secs(5),
        )
        .await
        .expect_err("the operation failed");
        assert_eq!(e.kind, drbook::azure::ErrorKind::OperationFailed);
        assert_eq!(e.status, None);
        assert_eq!(e.code.as_deref(), Some("Conflict"));
        let text = e.to_string();
        assert!(!text.contains("HTTP 200"), "{text}");
        // The action was sent once; its status was read, not the action resent.
        assert_eq!(e.attempts, 1);
        assert!(!text.contains("attempts"), "{text}");
        assert!(
            text.contains("the operation ended Failed: The site is locked."),
            "{text}"
        );
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("within 30s");
}

#[tokio::test]
async fn low_budgets_space_requests_out_before_a_429() {
    let s = standin::start().await;
    let arm = standin_client(&s, None);
    let run = async {
        arm.get(&standin_site("scarce"), "2023-12-01")
            .await
            .expect("first");
        let t = Instant::now();
        arm.get(&standin_site("scarce"), "2023-12-01")
            .await
            .expect("second");
        assert!(
            t.elapsed() >= Duration::from_millis(900),
            "0 reads left: the next read waits ({:?})",
            t.elapsed()
        );
        // Resource Graph: 0 left in a 1s window, so the next query waits for the window.
        let subs = [standin::SUB.to_string()];
        arm.graph(&subs, "Resources | where name == 'quota' | project id")
            .await
            .expect("graph");
        let t = Instant::now();
        arm.graph(&subs, "Resources | project id")
            .await
            .expect("graph again");
        assert!(
            t.elapsed() >= Duration::from_millis(900),
            "no Graph quota left: the next query waits ({:?})",
            t.elapsed()
        );
        // Writes keep their own budget: reads running low does not hold them.
        arm.get(&standin_site("scarce"), "2023-12-01")
            .await
            .expect("third");
        let t = Instant::now();
        let _ = post(
            &arm,
            &standin_site("app"),
            "restart",
            "2023-12-01",
            Duration::from_secs(5),
        )
        .await;
        assert!(
            t.elapsed() < Duration::from_millis(600),
            "a write waited for the reads' budget ({:?})",
            t.elapsed()
        );
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("within 20s");
}

#[tokio::test]
async fn writes_go_only_to_allowed_subscriptions_and_reads_are_never_blocked() {
    let s = standin::start().await;
    let arm = standin_client(&s, Some(vec![standin::OTHER_SUB.to_string()]));
    let run = async {
        let e = arm
            .write(
                Method::PATCH,
                &standin_site("app"),
                "2023-12-01",
                Some(serde_json::json!({})),
                Duration::from_secs(5),
                &|_| {},
            )
            .await
            .expect_err("not on the allowlist");
        assert_eq!(e.kind, ErrorKind::WriteRefused);
        let text = e.to_string();
        assert!(text.contains(standin::SUB), "{text}");
        assert!(text.contains("--allow-write-subscription"), "{text}");
        let e = post(
            &arm,
            &standin_site("app"),
            "restart",
            "2023-12-01",
            Duration::from_secs(5),
        )
        .await
        .expect_err("a POST action is a write");
        assert_eq!(e.kind, ErrorKind::WriteRefused);
        // Reads and Resource Graph queries (POSTs that only read) pass.
        arm.get(&standin_site("app"), "2023-12-01")
            .await
            .expect("read");
        arm.graph(&[standin::SUB.to_string()], "Resources | project id")
            .await
            .expect("graph");
    };
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .expect("within 15s");
    assert!(
        s.arm_seen()
            .iter()
            .all(|r| r.method != "PATCH" && !r.uri.contains("/restart")),
        "a refused write never leaves drbook"
    );
    // Allowed: the same PATCH goes through.
    let arm = standin_client(&s, Some(vec![standin::SUB.to_uppercase()]));
    let out = tokio::time::timeout(
        Duration::from_secs(15),
        arm.write(
            Method::PATCH,
            &standin_site("app"),
            "2023-12-01",
            Some(serde_json::json!({})),
            Duration::from_secs(10),
            &|_| {},
        ),
    )
    .await
    .expect("within 15s")
    .expect("allowed");
    assert_eq!(out.status, 200);
}

/// What the executor would write to the incident log, kept in memory.
/// Runs a one-step runbook (`extra` added to its step) on `reader` and returns what the log
/// gets.
async fn run_restart(
    reader: drbook::checks::read::Reader,
    extra: &str,
) -> Vec<drbook::incident::event::EventKind> {
    use drbook::checks::scope::Scope;
    use drbook::exec::engine::{Engine, Options};
    use drbook::exec::headless::{Answers, drive};

    let text = format!(
        r#"
[runbook]
id = "restart"
title = "Restart the app"
component = "web"

[[step]]
id = "restart"
title = "Restart"
kind = "action"
method = "POST"
resource = "{}/restart"
api_version = "2023-12-01"
{extra}
"#,
        standin_site("app")
    );
    let out = drbook::runbook::load::parse_source(&drbook::diag::SourceFile::new(
        std::path::Path::new("inline.toml"),
        text.as_str(),
    ));
    let rb = out
        .runbook
        .unwrap_or_else(|| panic!("{:?}", out.diagnostics));
    let (v, _) = drbook::runbook::vars::resolve_partial(
        &rb,
        None,
        &std::collections::BTreeMap::new(),
        |_| None,
    );
    let scope = Scope::new(&rb, v, std::collections::BTreeMap::new());
    let groups = drbook::runbook::plan::groups(None, std::slice::from_ref(&rb));
    let rec = Arc::new(Memory::default());
    let options = Options {
        operator: "alice".into(),
        auto_approve: true,
        dry_run: false,
        autopilot: true,
        max_delay: Some(Duration::from_millis(200)),
        read_only: false,
        skip_commands: None,
        share: None,
        claim_wait: Duration::ZERO,
        run_unclaimed: false,
    };
    let e = Engine::new(vec![(rb, scope)], groups, reader, rec.clone(), options);
    tokio::time::timeout(
        Duration::from_secs(15),
        drive(e, &Answers::default(), "alice", |_| {}),
    )
    .await
    .expect("the run ends within 15s");
    let events = rec.0.lock().map(|v| v.clone()).unwrap_or_default();
    events
        .iter()
        .filter_map(|ev| drbook::exec::journal::to_log(ev, "drbook"))
        .flat_map(|(_, kinds)| kinds)
        .collect()
}

async fn standin_target(s: &standin::Standin) -> drbook::cli::target::Connected {
    use drbook::cli::target::{TargetArgs, TargetKind, connect};
    let args = TargetArgs {
        target: TargetKind::Azure,
        auth: Some(drbook::azure::AuthMethod::Sim),
        arm_endpoint: Some(Url::parse(&s.base).expect("url")),
        retries: 1,
        timeout: Duration::from_secs(5),
        ..TargetArgs::simulator(None, "end")
    };
    connect(&args, |_| None).await.expect("stand-in")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_action_writes_azures_request_ids_into_the_log_event() {
    use drbook::incident::event::EventKind;
    let s = standin::start().await;
    let c = standin_target(&s).await;
    let logged = run_restart(c.reader.clone(), "").await;
    let (outputs, error) = logged
        .iter()
        .find_map(|k| match k {
            EventKind::StepFinished {
                step,
                outputs,
                error,
                ..
            } if step == "restart" => Some((outputs.clone(), error.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no step_finished: {logged:#?}"));
    assert_eq!(
        outputs.get("x-ms-request-id").map(String::as_str),
        Some("gw-504")
    );
    assert_eq!(
        outputs
            .get("x-ms-correlation-request-id")
            .map(String::as_str),
        Some("corr-gw-504")
    );
    let sent = s
        .arm_seen()
        .into_iter()
        .find(|r| r.uri.contains("/restart"))
        .and_then(|r| r.client_request_id)
        .expect("sent with an id");
    assert_eq!(outputs.get("x-ms-client-request-id"), Some(&sent));
    let error = error.unwrap_or_default();
    assert!(error.contains("x-ms-request-id: gw-504"), "{error}");
    assert!(error.contains("this may have happened"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_outside_the_allowlist_fails_its_step_at_once() {
    use drbook::incident::event::EventKind;
    let s = standin::start().await;
    let c = standin_target(&s).await;
    let mut reader = c.reader.clone();
    reader.arm = standin_client(&s, Some(vec![standin::OTHER_SUB.to_string()]));
    let logged = run_restart(reader, "retries = 2\nretry_delay = \"1s\"").await;
    let error = logged
        .iter()
        .find_map(|k| match k {
            EventKind::StepFinished { step, error, .. } if step == "restart" => error.clone(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no step_finished: {logged:#?}"));
    assert!(error.contains(standin::SUB), "{error}");
    assert!(error.contains("--allow-write-subscription"), "{error}");
    assert!(
        !logged.iter().any(|k| matches!(k, EventKind::Retry { .. })),
        "retrying cannot change the allowlist: {logged:#?}"
    );
    assert!(s.arm_seen().iter().all(|r| !r.uri.contains("/restart")));
}

#[tokio::test]
async fn a_post_that_times_out_is_not_resent_and_may_have_happened() {
    let s = standin::start().await;
    let cloud = Cloud::custom(Url::parse(&s.base).expect("stand-in url"));
    let cred = Arc::new(SimCredential::new(&cloud.arm).expect("credential"));
    let tokens = TokenCache::new(cred, cloud.scope.clone());
    let arm = ArmClient::new(
        cloud,
        tokens,
        ClientOptions {
            timeout: Duration::from_millis(500),
            ..quick()
        },
    )
    .expect("client");
    let e = tokio::time::timeout(
        Duration::from_secs(15),
        post(
            &arm,
            &standin_site("slow"),
            "restart",
            "2023-12-01",
            Duration::from_secs(5),
        ),
    )
    .await
    .expect("within 15s")
    .expect_err("timed out");
    assert_eq!(e.kind, ErrorKind::Timeout);
    let text = e.to_string();
    assert!(
        text.contains("this may have happened: check before retrying"),
        "{text}"
    );
    assert!(text.contains("x-ms-client-request-id: "), "{text}");
    assert_eq!(
        s.arm_seen()
            .iter()
            .filter(|r| r.uri.contains("/slow/restart"))
            .count(),
        1,
        "sent once"
    );
}
