//! Issue 18's "done when", on the travel estate (runbooks/scenarios/travel-eastus2.toml,
//! written for the tests, not the shop): `drbook discover` finds every gap planted in it
//! (tests/data/travel-gaps.toml), raises no high or critical finding on a correctly paired
//! resource, writes runbooks that pass `drbook validate --strict`, and the plan it writes
//! rehearses end to end against that estate's outage.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::scenarios::estates::{GapFile, gaps};
use crate::support::cli;

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        other => panic!("not a severity: {other}"),
    }
}

fn discover(g: &GapFile, extra: &[&str]) -> Output {
    let mut cmd = cli::drbook();
    cmd.args([
        "discover",
        "--target",
        "sim",
        "--scenario",
        &g.estate.scenario,
    ])
    .args(["--primary", &g.estate.primary])
    .env_remove("AZURE_SUBSCRIPTION_ID");
    for s in &g.estate.subscriptions {
        cmd.args(["--subscription", s]);
    }
    cmd.args(extra).output().expect("run drbook discover")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", cli::text(o)))
}

/// Every resource that is one side of a pair, in any component.
fn paired(d: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in d["components"].as_array().expect("components") {
        for p in c["pairs"].as_array().expect("pairs") {
            for side in [&p[0], &p[1]] {
                out.push(side.as_str().expect("id").to_ascii_lowercase());
            }
        }
    }
    out
}

#[test]
fn discover_finds_every_planted_gap_and_flags_nothing_that_is_paired() {
    let g = gaps();
    let o = discover(&g, &["--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "critical gaps: exit 1: {}",
        cli::text(&o)
    );
    let d = json(&o);
    assert_eq!(d["primary"], g.estate.primary.as_str());
    assert_eq!(
        d["secondary"],
        g.estate.secondary.as_str(),
        "the paired region by default"
    );
    let findings = d["findings"].as_array().expect("findings");
    for gap in &g.gap {
        let hit = findings.iter().find(|f| {
            f["resource"]
                .as_str()
                .is_some_and(|r| r.eq_ignore_ascii_case(&gap.resource))
                && f["code"] == gap.code.as_str()
        });
        let f = hit.unwrap_or_else(|| {
            panic!(
                "planted gap not found: {} {} ({})\nfindings: {findings:#?}",
                gap.code, gap.resource, gap.why
            )
        });
        let sev = f["severity"].as_str().expect("severity");
        assert!(
            rank(sev) >= rank(&gap.severity),
            "{}: {sev}, at least {} expected",
            gap.resource,
            gap.severity
        );
        for key in ["message", "fix"] {
            assert!(
                f[key].as_str().is_some_and(|s| s.len() > 10),
                "{key} of {f}"
            );
        }
    }
    // No false alarm: every high or critical finding is a planted gap, and none names a
    // resource that is paired.
    let paired = paired(&d);
    for f in findings {
        let sev = f["severity"].as_str().expect("severity");
        let id = f["resource"].as_str().expect("resource");
        if rank(sev) >= rank("high") {
            assert!(
                g.gap
                    .iter()
                    .any(|gap| gap.resource.eq_ignore_ascii_case(id)),
                "a {sev} finding that is no planted gap: {f}"
            );
            assert!(
                !paired.contains(&id.to_ascii_lowercase()),
                "a {sev} finding on a paired resource: {f}"
            );
        }
    }
    // The SQL failover group, the Front Door origins and the Service Bus alias are not in
    // Resource Graph's `Resources`: the pairs they make are found all the same (a database
    // names its group; the others are listed with a GET per parent).
    let pairs = &paired;
    for tail in [
        "/servers/sql-travel-centralus/databases/sqldb-travel",
        "/sites/app-travel-centralus",
        "/namespaces/sb-travel-centralus",
    ] {
        assert!(
            pairs.iter().any(|id| id.ends_with(tail)),
            "{tail} is not paired: {d:#}"
        );
    }
    // The unpaired Function App is not given the other app's standby.
    let payments = g
        .gap
        .iter()
        .find(|x| x.code == "function-no-secondary")
        .expect("the planted unpaired Function App");
    assert!(
        !paired.contains(&payments.resource.to_ascii_lowercase()),
        "{} has no standby, yet it is paired",
        payments.resource
    );
}

fn rehearse(dir: &Path, scenario: &str, tmp: &Path) -> Output {
    let answers = tmp.join("answers.toml");
    std::fs::write(
        &answers,
        "[manual]\n\"*\" = { outcome = \"ok\", note = \"done in the drill\" }\n",
    )
    .expect("answers");
    std::process::Command::new("timeout")
        .arg("300")
        .arg(cli::BIN)
        .current_dir(cli::ROOT)
        .arg("rehearse")
        .arg(dir)
        .args(["--target", "sim", "--scenario", scenario])
        .args(["--non-interactive", "--auto-approve"])
        .args(["--max-delay", "200ms", "--operator", "gameday"])
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(tmp.join("logs"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run drbook rehearse")
}

#[test]
fn the_runbooks_discover_writes_validate_strict_and_rehearse_against_the_estates_outage() {
    let g = gaps();
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("travel-runbooks");
    let o = discover(
        &g,
        &["--format", "json", "--out", out.to_str().expect("utf-8")],
    );
    let text = cli::text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("they pass `drbook validate --strict`"),
        "{text}"
    );
    let d = json(&o);
    let components = d["components"].as_array().expect("components");

    // One runbook per component, the plan and the snapshot.
    for c in components {
        let file = out.join(format!("{}.toml", c["runbook"].as_str().expect("runbook")));
        let body =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            body.starts_with("# Generated by drbook discover at "),
            "{body}"
        );
        assert!(body.contains(&g.estate.primary) && body.contains(&g.estate.secondary));
    }
    let plan = out.join(format!("plan-{}-outage.toml", g.estate.primary));
    assert!(plan.is_file(), "{}", plan.display());
    let snapshot: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("discovery.json")).expect("discovery.json"),
    )
    .expect("JSON");
    assert_eq!(snapshot["components"], d["components"]);
    assert!(
        snapshot["generated"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );

    // The real estate's values, not the template's examples: the travel names are in, and
    // what Azure does not hold is marked for the user to set.
    let aks = std::fs::read_to_string(out.join("aks-failover.toml")).expect("aks");
    let vars: toml::Table = toml::from_str::<toml::Table>(&aks).expect("TOML")["vars"]
        .as_table()
        .expect("[vars]")
        .clone();
    assert_eq!(
        vars["cluster_secondary"].as_str(),
        Some("aks-travel-centralus")
    );
    assert_eq!(vars["workload_identity"].as_str(), Some("id-travel-api"));
    assert_eq!(
        vars["namespace"].as_str(),
        Some("travel"),
        "from the federated credential"
    );
    assert_eq!(vars["api_host"].as_str(), Some("api.travel.example.com"));
    assert!(
        aks.lines()
            .any(|l| l.starts_with("replicas = ") && l.contains("SET THIS")),
        "replicas is not in Azure: marked"
    );
    // The Logic App Standard pair (itinerary) has its own runbook, which starts the standby
    // site, not the Consumption workflow's.
    let itinerary = components
        .iter()
        .find(|c| {
            c["pairs"].as_array().is_some_and(|ps| {
                ps.iter().any(|p| {
                    p[0].as_str()
                        .is_some_and(|s| s.ends_with("/sites/logic-travel-itinerary-eastus2"))
                        && p[1]
                            .as_str()
                            .is_some_and(|s| s.ends_with("/sites/logic-travel-itinerary-centralus"))
                })
            })
        })
        .unwrap_or_else(|| panic!("no component pairs the itinerary Logic App: {components:#?}"));
    assert_eq!(itinerary["component"], "logic-standard");
    assert_eq!(itinerary["runbook"], "logic-standard-failover");
    let std_rb =
        std::fs::read_to_string(out.join("logic-standard-failover.toml")).expect("logic-standard");
    let std_vars: toml::Table = toml::from_str::<toml::Table>(&std_rb).expect("TOML")["vars"]
        .as_table()
        .expect("[vars]")
        .clone();
    assert_eq!(
        std_vars["site_secondary"].as_str(),
        Some("logic-travel-itinerary-centralus")
    );
    assert_eq!(
        std_vars["plan_secondary"].as_str(),
        Some("plan-travel-workflows-centralus")
    );
    let plan_text = std::fs::read_to_string(&plan).expect("plan");
    assert!(
        plan_text.contains("\"logic-standard-failover\""),
        "the plan runs it: {plan_text}"
    );
    let all: String = std::fs::read_dir(&out)
        .expect("read out")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    for shop in ["rg-shop-", "westeurope", "cosmos-shop", "fog-shop"] {
        assert!(
            !all.contains(shop),
            "a value of the shop's example left in: {shop}"
        );
    }

    // The folder passes `drbook validate --strict`, as the CLI said.
    let v = cli::drbook()
        .args(["validate", "--strict"])
        .arg(&out)
        .output()
        .expect("validate");
    assert_eq!(v.status.code(), Some(0), "{}", cli::text(&v));

    // A second --out into the same folder refuses to overwrite what the user may have edited.
    let again = discover(&g, &["--out", out.to_str().expect("utf-8")]);
    assert_eq!(again.status.code(), Some(2), "{}", cli::text(&again));
    assert!(
        cli::text(&again).contains("--force"),
        "{}",
        cli::text(&again)
    );

    // The plan rehearses end to end against the estate's outage.
    let r = rehearse(&out, &g.estate.scenario, tmp.path());
    let log = cli::text(&r);
    assert_eq!(r.status.code(), Some(0), "{log}");
    assert!(log.contains("finished: every runbook done"), "{log}");
    let whole = log
        .lines()
        .find(|l| l.contains("whole incident"))
        .unwrap_or_else(|| panic!("no verdict line: {log}"));
    assert!(whole.contains("RECOVERED"), "{whole}");
    for c in components {
        let id = c["runbook"].as_str().expect("runbook");
        assert!(
            log.lines()
                .any(|l| l.starts_with('✔') && l.split_whitespace().nth(1) == Some(id)),
            "{id} not done: {log}"
        );
    }
    // The itinerary pair's runbook is done, and it started the standby site.
    assert!(
        log.lines().any(|l| l.starts_with('✔')
            && l.split_whitespace().nth(1) == Some("logic-standard-failover")),
        "logic-standard-failover not done: {log}"
    );
    // Every read of the standby passed against the estate as Azure answers it, and the
    // standby was started.
    for (step, what) in [
        ("secondary-site", "PASS"),
        ("secondary-plan", "PASS"),
        ("connections", "PASS"),
        ("start-site", "HTTP 200"),
        ("site-running", "PASS"),
        ("site-health", "PASS"),
    ] {
        let done = format!("✔ logic-standard-failover/{step} done");
        assert!(
            log.lines().any(|l| l.contains(&done) && l.contains(what)),
            "{done} ({what}) not in: {log}"
        );
    }
}
