//! How a down region fails, injected faults, probes, the timeline, the `drbook sim` command
//! and ARM's own regional rules.

use super::*;

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
