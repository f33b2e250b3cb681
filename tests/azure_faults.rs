//! The real Azure client against the simulator over loopback HTTP, one test per fault class:
//! throttling, a 5xx burst, timeouts, dropped connections, an expired token, a region going
//! down, long-running operations and cancellation. Each asserts what the operator would see.

use std::sync::Arc;
use std::time::{Duration, Instant};

use drbook::azure::auth::SimCredential;
use drbook::azure::{ArmClient, ClientOptions, Cloud, ErrorKind, TokenCache};
use drbook::sim::scenario::Scenario;
use drbook::sim::{self, InjectedFault, Injection, SimHandle, SimOptions};
use reqwest::Method;
use url::Url;

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
    assert!(e.to_string().contains("re-check before retrying"), "{e}");
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
