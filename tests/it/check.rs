//! `drbook check` end to end: the real binary against the in-process simulator with the
//! shipped runbooks and the westeurope-outage scenario, and the check engine's rules (what it
//! skips and why) through the library.

use std::process::{Command, Output};

use crate::support::cli;
use serde_json::Value;

fn drbook(args: &[&str]) -> Output {
    cli::drbook()
        .args(args)
        .env_remove("AZURE_SUBSCRIPTION_ID")
        .output()
        .expect("run drbook")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(args: &[&str]) -> (Value, i32) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let o = drbook(&all);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            text(&o),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (v, o.status.code().unwrap_or(-1))
}

fn row<'a>(report: &'a Value, runbook: &str, step: &str) -> &'a Value {
    report["results"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["runbook"] == runbook && r["step"] == step)
        })
        .unwrap_or_else(|| panic!("no row {runbook}/{step}"))
}

#[test]
fn during_the_outage_the_primary_fails_and_the_secondary_is_ready() {
    let o = drbook(&[
        "check",
        "runbooks/",
        "--target",
        "sim",
        "--scenario",
        "runbooks/scenarios/westeurope-outage.toml",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "some checks fail while westeurope is down"
    );
    let out = text(&o);
    for header in [
        "runbook", "step", "expected", "actual", "verdict", "latency",
    ] {
        assert!(out.contains(header), "table header {header}: {out}");
    }
    // The operator sees why a primary resource cannot be read, with the next step.
    assert!(out.contains("HTTP 503 ServiceUnavailable"), "{out}");
    assert!(
        out.contains("sql-shop-westeurope/failoverGroups/fog-shop"),
        "{out}"
    );
    assert!(out.contains("Next: Azure is degraded here"), "{out}");
    assert!(out.contains("read-only steps:"), "{out}");

    let (report, code) = json(&["check", "runbooks/", "--target", "sim"]);
    assert_eq!(code, 1);
    let health = row(&report, "web-failover", "primary-health");
    assert_eq!(health["verdict"], "fail");
    assert_eq!(health["actual"], "Unavailable");
    assert_eq!(health["source"], "resource-health");
    let fog = row(&report, "data-sql-failover", "fog-primary");
    assert_eq!(fog["verdict"], "error");
    assert_eq!(fog["error"]["status"], 503);
    assert_eq!(fog["error"]["code"], "ServiceUnavailable");
    let ready = row(&report, "data-sql-failover", "fog-secondary");
    assert_eq!(ready["verdict"], "pass", "{ready}");
    assert_eq!(
        row(&report, "network-failover", "secondary-origin-answers")["verdict"],
        "pass"
    );
    // Summary adds up.
    let s = &report["summary"];
    let sum: u64 = ["pass", "fail", "error", "skipped"]
        .iter()
        .map(|k| s[k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(Some(sum), s["total"].as_u64());
    assert_eq!(
        report["results"].as_array().map(Vec::len) as Option<usize>,
        s["total"].as_u64().map(|n| n as usize)
    );
}

#[test]
fn before_the_outage_the_same_runbook_holds_and_exits_0() {
    let (report, code) = json(&[
        "check",
        "runbooks/web.toml",
        "--target",
        "sim",
        "--at",
        "start",
    ]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        row(&report, "web-failover", "primary-health")["verdict"],
        "pass"
    );
    assert_eq!(
        row(&report, "web-failover", "primary-probe")["verdict"],
        "pass"
    );
    let (report, code) = json(&[
        "check",
        "runbooks/web.toml",
        "--target",
        "sim",
        "--at",
        "1m",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        row(&report, "web-failover", "primary-probe")["actual"],
        "HTTP 503 no healthy backend"
    );
}

#[test]
fn steps_that_verify_a_change_are_skipped_with_the_reason_unless_all() {
    let (report, _) = json(&["check", "runbooks/web.toml", "--target", "sim"]);
    let r = row(&report, "web-failover", "site-running");
    assert_eq!(r["verdict"], "skipped");
    assert!(
        r["actual"].as_str().is_some_and(|a| a
            .contains("verifies the result of `start-site` (action)")
            || a.contains("verifies the result of `scale-out` (command)")),
        "{r}"
    );
    let (report, _) = json(&["check", "runbooks/web.toml", "--target", "sim", "--all"]);
    assert_ne!(
        row(&report, "web-failover", "site-running")["verdict"],
        "skipped"
    );
}

#[test]
fn resource_graph_reads_the_same_healthy_state_but_the_last_known_state_of_a_down_region() {
    let (arm, _) = json(&["check", "runbooks/", "--target", "sim"]);
    let (graph, _) = json(&["check", "runbooks/", "--target", "sim", "--via", "graph"]);
    let rows = |r: &Value| r["results"].as_array().cloned().unwrap_or_default();
    let mut compared = 0;
    let mut from_graph = 0;
    for a in rows(&arm) {
        let g = row(
            &graph,
            a["runbook"].as_str().unwrap_or_default(),
            a["step"].as_str().unwrap_or_default(),
        );
        if a["verdict"] == "error" {
            if g["source"] == "resource-graph" {
                // A GET fails in the down region; Graph still lists the resource as it was.
                assert_ne!(g["verdict"], "error", "{g}");
                from_graph += 1;
            } else {
                // Resource Graph does not list failover groups or geo-DR aliases: they are
                // read with a GET there too, which fails as it did.
                assert!(
                    a["target"].as_str().is_some_and(|t| {
                        t.contains("/failoverGroups/") || t.contains("/disasterRecoveryConfigs/")
                    }),
                    "{a}"
                );
                assert_eq!(g["verdict"], "error", "{g}");
            }
        } else {
            assert_eq!(a["verdict"], g["verdict"], "{a} vs {g}");
            compared += 1;
        }
    }
    assert!(compared > 30, "{compared}");
    assert!(
        from_graph > 0,
        "Graph answered for no resource of the down region"
    );
}

#[test]
fn resource_health_unknown_is_never_ok_and_says_it_cannot_tell() {
    // The outage scenario, with Resource Health's own pipeline down in West Europe too.
    let dir = tempfile::tempdir().expect("tempdir");
    let original = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("runbooks/scenarios/westeurope-outage.toml"),
    )
    .expect("scenario");
    let marker = "region_down = \"westeurope\"\n";
    assert!(original.contains(marker));
    let scenario = dir.path().join("unknown-health.toml");
    std::fs::write(
        &scenario,
        original.replacen(
            marker,
            "region_down = \"westeurope\"\noutage = { health = \"Unknown\" }\n",
            1,
        ),
    )
    .expect("write scenario");
    let site = "/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-westeurope/providers/Microsoft.Web/sites/app-shop-westeurope";
    let runbook = dir.path().join("health.toml");
    std::fs::write(
        &runbook,
        format!(
            r#"[runbook]
id = "health-unknown"
title = "Resource Health that cannot tell"
component = "web"
owner = "team-test"
rto = "30m"
description = "Two readings of the primary site's Resource Health."

[[step]]
id = "is-available"
title = "Resource Health says Available"
kind = "health"
resource = "{site}"
instructions = "Default expectation: Available."

[[step]]
id = "is-not-available"
title = "Resource Health confirms the outage"
kind = "health"
resource = "{site}"
expect = [{{ path = "properties.availabilityState", not_equals = "Available" }}]
instructions = "Unknown is not a confirmation of the outage."
"#
        ),
    )
    .expect("write runbook");
    let (report, code) = json(&[
        "check",
        runbook.to_str().expect("utf-8 path"),
        "--target",
        "sim",
        "--scenario",
        scenario.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 1, "{report}");
    for step in ["is-available", "is-not-available"] {
        let r = row(&report, "health-unknown", step);
        assert_eq!(r["verdict"], "fail", "{r}");
        let actual = r["actual"].as_str().unwrap_or_default();
        assert!(actual.starts_with("Unknown"), "{actual}");
        assert!(actual.contains("Resource Health cannot tell"), "{actual}");
    }
}

#[test]
fn sign_in_problems_exit_2_and_name_what_is_missing() {
    let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args([
            "check",
            "runbooks/web.toml",
            "--target",
            "azure",
            "--auth",
            "service-principal",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_CLIENT_SECRET")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"),
        "{err}"
    );

    // A simulator endpoint that is not there: the token cannot be fetched.
    let (report, code) = json(&[
        "check",
        "runbooks/network.toml",
        "--target",
        "azure",
        "--arm-endpoint",
        "http://127.0.0.1:9",
        "--auth",
        "sim",
        "--retries",
        "0",
    ]);
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["summary"]["auth_error"], true);
}

#[test]
fn usage_errors_exit_2() {
    let o = drbook(&["check", "runbooks/", "--target", "sim", "--at", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--at `yesterday`"));
    let o = drbook(&[
        "check",
        "runbooks/",
        "--target",
        "sim",
        "--scenario",
        "nope.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.toml"));
    let o = drbook(&["check", "runbooks/"]);
    assert_eq!(o.status.code(), Some(2), "--target is required");
}

#[test]
fn secret_variables_never_reach_the_output() {
    let secret = "s3cr3t-pat-value-7731";
    let var = format!("ado_pat={secret}");
    for format in ["human", "json"] {
        let o = drbook(&[
            "check",
            "runbooks/",
            "--target",
            "sim",
            "--var",
            &var,
            "--format",
            format,
        ]);
        let all = format!("{}{}", text(&o), String::from_utf8_lossy(&o.stderr));
        assert!(!all.contains(secret), "secret shown in {format} output");
        assert!(
            all.contains("backlog-continuity"),
            "the runbook that declares it was checked"
        );
    }
}

/// A secret that ends up in a resource id, a graph query and the errors the simulator answers
/// with (which quote the id, or the part of it before the `?` that ends a URL's path) is masked
/// in the table, the `errors:` section and every field of `--format json`, in every form.
#[test]
fn a_secret_in_resources_queries_and_errors_is_masked_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leak.toml"),
        r#"
[runbook]
id = "leak"
title = "Secrets in reads"
component = "web"

[vars]
subscription = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
token = { secret = true, env = "LEAK_TOKEN" }
cut = { secret = true, env = "LEAK_CUT" }

[[step]]
id = "site"
title = "A site named after the token"
kind = "check"
resource = "/subscriptions/${subscription}/resourceGroups/rg-shop-westeurope/providers/Microsoft.Web/sites/${token}"
api_version = "2023-12-01"
expect = { path = "properties.state", equals = "Running" }

[[step]]
id = "group"
title = "A group named after the token"
kind = "check"
resource = "/subscriptions/${subscription}/resourceGroups/${token}"
api_version = "2021-04-01"
expect = { path = "properties.provisioningState", equals = "Succeeded" }

[[step]]
id = "inventory"
title = "A query naming the token"
kind = "graph"
query = "Resources | where name =~ '${token}' | frobnicate ${token}"
expect_rows = { equals = 1 }

[[step]]
id = "long-query"
title = "A query whose echo is cut short inside the token"
kind = "graph"
query = "Resources | whre name == 'padding-padding-padding-padding-padding-padding-padding-padding-pad' or x == '${cut}'"
expect_rows = { equals = 1 }
"#,
    )
    .unwrap();
    let secret = "Zebra Sec?ret#Tok3n";
    let forms = [
        secret.to_string(),
        secret.to_lowercase(),
        "Zebra%20Sec".into(),
        "Zebra+Sec".into(),
        "Zebra Sec".into(),
        "TopSecret".into(),
        "ret#Tok3n".into(),
        "Tok3n".into(),
    ];
    for format in ["human", "json"] {
        let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
            .args(["check", "--target", "sim", "--format", format])
            .arg(dir.path())
            .env("LEAK_TOKEN", secret)
            .env("LEAK_CUT", "TopSecretToken-9f8e7d6c5b4a")
            .env_remove("AZURE_SUBSCRIPTION_ID")
            .output()
            .expect("run drbook");
        let out = text(&o);
        let all = format!("{out}{}", String::from_utf8_lossy(&o.stderr));
        for form in &forms {
            assert!(
                !all.to_lowercase().contains(&form.to_lowercase()),
                "{format}: `{form}` shown:\n{all}"
            );
        }
        assert_eq!(o.status.code(), Some(1), "{all}");
        if format == "json" {
            let v: Value = serde_json::from_str(&out).expect("still JSON");
            let inv = row(&v, "leak", "inventory");
            assert!(
                inv["error"]["resource"]
                    .as_str()
                    .unwrap()
                    .contains("••••••"),
                "{inv}"
            );
            let site = row(&v, "leak", "site");
            assert!(
                site["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("••••••"),
                "{site}"
            );
        } else {
            assert!(
                out.contains("errors:") && out.contains("leak/group"),
                "{out}"
            );
        }
    }
}

#[test]
fn a_separately_running_simulator_is_reached_as_a_custom_arm_endpoint() {
    use std::io::BufRead;
    // `drbook sim` on its own (the built-in scenario), then `check --target azure` pointed at
    // it: the path real Azure takes, with only the endpoint and the credential changed.
    let mut sim = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(["sim", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start drbook sim");
    let mut line = String::new();
    if let Some(out) = sim.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .map(str::to_string);
    let result = url.as_deref().map(|u| {
        json(&[
            "check",
            "runbooks/network.toml",
            "--target",
            "azure",
            "--arm-endpoint",
            u,
            "--auth",
            "sim",
        ])
    });
    let _ = sim.kill();
    let _ = sim.wait();
    let (report, code) = result.unwrap_or_else(|| panic!("no URL in {line:?}"));
    assert_eq!(code, 0, "{report}");
    assert!(
        report["target"]
            .as_str()
            .is_some_and(|t| t.contains("auth Sim")),
        "{}",
        report["target"]
    );
    assert_eq!(
        row(&report, "network-failover", "tm-secondary")["verdict"],
        "pass"
    );
    assert_eq!(
        row(&report, "network-failover", "secondary-origin-answers")["verdict"],
        "pass",
        "probes go to the simulator too"
    );
}

#[test]
fn the_config_file_sets_the_default_target() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "target = \"sim\"\n").expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "runbooks/network.toml"])
        .env("DRBOOK_CONFIG", &config)
        .output()
        .expect("drbook runs");
    let t = text(&out);
    assert!(t.contains("PASS"), "checked against the simulator: {t}");
    // Without the config, --target is required.
    let out = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "runbooks/network.toml"])
        .env("DRBOOK_CONFIG", tmp.path().join("none.toml"))
        .output()
        .expect("drbook runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--target"), "{err}");
}
