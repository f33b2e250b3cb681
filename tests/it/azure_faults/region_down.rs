//! The ARM client when a region goes down (hangs, 5xx, stale reads), a revoked token, lists
//! read page by page and asynchronous writes.

use super::*;

// ------------------------------------------------------------- the ways a region goes down

#[tokio::test]
async fn a_region_that_hangs_times_out_naming_the_resource_and_a_post_may_have_happened() {
    let sim = start("").await;
    let arm = client(
        &sim,
        ClientOptions {
            timeout: Duration::from_millis(300),
            max_retries: 1,
            ..quick()
        },
    );
    sim.region_outage(
        "westeurope",
        Outage {
            arm: OutageArm::Hang,
            health_unknown: false,
        },
    );
    let t = Instant::now();
    let e = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect_err("no answer");
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.attempts, 2, "a read is retried");
    let text = e.to_string();
    assert!(text.contains("app-westeurope"), "{text}");
    assert!(
        text.contains("no answer within the per-call timeout"),
        "{text}"
    );
    let e = post(
        &arm,
        &site("westeurope"),
        "restart",
        "2023-12-01",
        Duration::from_secs(10),
    )
    .await
    .expect_err("no answer");
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.attempts, 1, "an action is never sent twice on a timeout");
    assert!(
        e.to_string()
            .contains(drbook::azure::client::MAY_HAVE_HAPPENED),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // The other region is unaffected.
    arm.get(&site("northeurope"), "2023-12-01")
        .await
        .expect("northeurope answers");
}

#[tokio::test]
async fn a_region_answering_5xx_is_reported_with_status_code_and_resource() {
    let sim = start("").await;
    let arm = client(
        &sim,
        ClientOptions {
            max_retries: 2,
            ..quick()
        },
    );
    for (status, code) in [
        (500, "InternalServerError"),
        (502, "BadGateway"),
        (504, "GatewayTimeout"),
    ] {
        sim.region_outage(
            "westeurope",
            Outage {
                arm: OutageArm::Status(status),
                health_unknown: false,
            },
        );
        let e = arm
            .get(&site("westeurope"), "2023-12-01")
            .await
            .expect_err("region fails");
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert_eq!(e.status, Some(status));
        assert_eq!(e.code.as_deref(), Some(code));
        assert_eq!(e.attempts, 3, "retried as a transient 5xx");
        let text = e.to_string();
        assert!(text.contains("app-westeurope"), "{text}");
        assert!(text.contains("westeurope"), "{text}");
    }
    // A 504 to an action: the service may have acted before the gateway gave up.
    let e = post(
        &arm,
        &site("westeurope"),
        "restart",
        "2023-12-01",
        Duration::from_secs(10),
    )
    .await
    .expect_err("gateway timeout");
    assert_eq!(e.status, Some(504));
    assert_eq!(e.attempts, 1);
    assert!(
        e.to_string()
            .contains(drbook::azure::client::MAY_HAVE_HAPPENED),
        "{e}"
    );
    // What to do next agrees: read first, never "retry".
    assert!(e.may_have_happened);
    let next = e.to_string();
    let next = next.split(". Next: ").nth(1).unwrap_or_default();
    assert!(next.starts_with("read the resource"), "{e}");
    assert!(!next.contains("then retry"), "{e}");
}

#[tokio::test]
async fn a_region_serving_stale_reads_answers_200_with_its_last_state_and_refuses_writes() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    sim.region_outage(
        "westeurope",
        Outage {
            arm: OutageArm::Stale,
            health_unknown: true,
        },
    );
    let r = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect("a stale read answers");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["state"], "Running");
    // Only Resource Health can tell the read is stale, and here it cannot tell either.
    let h = arm
        .health(&site("westeurope"), None)
        .await
        .expect("health answers");
    assert_eq!(h["properties"]["availabilityState"], "Unknown");
    let e = post(
        &arm,
        &site("westeurope"),
        "stop",
        "2023-12-01",
        Duration::from_secs(10),
    )
    .await
    .expect_err("writes are refused");
    assert_eq!(e.status, Some(503));
}

// ---------------------------------------------------------------------------- tokens

#[tokio::test]
async fn a_revoked_token_is_replaced_once_and_a_second_refusal_says_so() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    arm.get(&site("westeurope"), "2023-12-01")
        .await
        .expect("first read");
    sim.revoke_tokens();
    let r = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect("a fresh token is fetched");
    assert_eq!(r.attempts, 2, "one 401, then the fresh token");

    inject(
        &sim,
        "app-westeurope",
        2,
        status(401, "InvalidAuthenticationToken", None),
    );
    let e = arm
        .get(&site("westeurope"), "2023-12-01")
        .await
        .expect_err("refused twice");
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.code.as_deref(), Some("InvalidAuthenticationToken"));
    assert_eq!(
        e.attempts, 2,
        "the token is re-acquired once, not in a loop"
    );
    let text = e.to_string();
    assert!(
        text.contains("refused again with a freshly acquired token"),
        "{text}"
    );
    assert!(e.hint().contains("sign in again"), "{}", e.hint());
}

// ------------------------------------------------------------ lists and asynchronous writes

#[tokio::test]
async fn a_list_is_read_page_by_page_through_next_link() {
    let mut sc = scenario("");
    sc.scenario.page_size = Some(1);
    let sim = sim::start(
        sc,
        SimOptions {
            port: 0,
            quiet: true,
            start_at: Duration::ZERO,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("simulator: {e}"));
    let arm = client(&sim, quick());
    let before = sim.request_count();
    let r = arm
        .get(&format!("/subscriptions/{SUB}/resources"), "2021-04-01")
        .await
        .expect("all pages");
    let names: Vec<&str> = r.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names.contains(&"cosmos-shop") && names.contains(&"aks-ne"),
        "{names:?}"
    );
    assert!(r.body.get("nextLink").is_none());
    assert_eq!(sim.request_count() - before, 4, "one request per page");
}

#[tokio::test]
async fn an_asynchronous_patch_is_followed_until_the_resource_is_provisioned() {
    let sim = start("").await;
    let arm = client(&sim, quick());
    let states = std::sync::Mutex::new(Vec::new());
    let out = arm
        .write(
            Method::PATCH,
            &aks(),
            "2024-09-01",
            Some(serde_json::json!({ "tags": { "drill": "yes" } })),
            Duration::from_secs(20),
            &|s| {
                states
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(s.to_string())
            },
        )
        .await
        .expect("the update finishes");
    assert_eq!(out.status, 200);
    assert_eq!(out.lro.expect("followed").status, "Succeeded");
    assert_eq!(out.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(out.body["tags"]["drill"], "yes");
    assert_eq!(
        states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .map(String::as_str),
        Some("Succeeded")
    );
}

/// The simulator's Resource Graph quota (x-ms-user-quota-remaining / -resets-after, 429 once
/// spent) meets the client's pacing: eight queries on a quota of four per two seconds take at
/// least a window, and every one is sent once (a 429 would have been retried, adding requests).
#[tokio::test]
async fn the_simulators_graph_quota_makes_the_client_slow_down_before_a_429() {
    let sim = start("graph_quota = 4\ngraph_quota_window = \"2s\"").await;
    let arm = client(&sim, quick());
    let run = async {
        let subs = [SUB.to_string()];
        let before = sim.request_count();
        let t = Instant::now();
        for _ in 0..8 {
            arm.graph(&subs, "Resources | project id")
                .await
                .expect("graph");
        }
        assert!(
            t.elapsed() >= Duration::from_millis(1900),
            "the queries were not spread over the window ({:?})",
            t.elapsed()
        );
        assert_eq!(
            sim.request_count() - before,
            8,
            "a query was refused and sent again"
        );
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("within 20s");
    sim.shutdown().await;
}
