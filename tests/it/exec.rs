//! The executor against the simulator: every step kind, `on_failure` choices, confirmations,
//! manual answers, retries and abort, with a recorder that keeps what would go to the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::recorder::Memory;
use drbook::checks::scope::Scope;
use drbook::cli::target::Connected;
use drbook::cli::target::{TargetArgs, connect};
use drbook::diag::SourceFile;
use drbook::exec::engine::{Control, Engine, ExecEvent, Options, Restored, Update};
use drbook::exec::headless::{Answers, drive};
use drbook::exec::steps::Outcome;
use drbook::runbook::load::parse_source;
use drbook::runbook::model::Runbook;
use drbook::runbook::plan::{self, StepKey};
use drbook::runbook::{load_paths, vars};
use tokio::sync::mpsc;

async fn sim() -> Connected {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/scenarios/westeurope-outage.toml"
    );
    let args = TargetArgs {
        timeout: Duration::from_secs(10),
        retries: 1,
        ..TargetArgs::simulator(Some(scenario.into()), "end")
    };
    connect(&args, |_| None).await.expect("simulator")
}

fn shipped(ids: &[&str]) -> Vec<(Runbook, Scope)> {
    let set = load_paths(&[concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks").into()]).expect("load");
    ids.iter()
        .map(|id| {
            let rb = set
                .runbooks
                .iter()
                .find(|r| r.id() == *id)
                .expect("shipped runbook")
                .clone();
            let (v, _) = vars::resolve_partial(
                &rb,
                set.plans.first().map(|p| &p.vars),
                &BTreeMap::new(),
                |_| None,
            );
            let scope = Scope::new(&rb, v, BTreeMap::new());
            (rb, scope)
        })
        .collect()
}

fn inline(text: &str) -> Vec<(Runbook, Scope)> {
    let out = parse_source(&SourceFile::new(std::path::Path::new("inline.toml"), text));
    let rb = out
        .runbook
        .unwrap_or_else(|| panic!("{:?}", out.diagnostics));
    let (v, _) = vars::resolve_partial(&rb, None, &BTreeMap::new(), |_| None);
    let scope = Scope::new(&rb, v, BTreeMap::new());
    vec![(rb, scope)]
}

fn options(auto_approve: bool) -> Options {
    // Waits and retry delays capped, as a fast rehearsal does.
    Options {
        operator: "alice".into(),
        auto_approve,
        dry_run: false,
        autopilot: true,
        max_delay: Some(Duration::from_millis(200)),
        read_only: false,
        skip_commands: None,
        share: None,
        claim_wait: Duration::ZERO,
        run_unclaimed: false,
    }
}

fn engine(c: &Connected, rbs: Vec<(Runbook, Scope)>, rec: Arc<Memory>, opts: Options) -> Engine {
    let only: Vec<Runbook> = rbs.iter().map(|(r, _)| r.clone()).collect();
    let groups = plan::groups(None, &only);
    Engine::new(rbs, groups, c.reader.clone(), rec, opts)
}

fn finished(events: &[ExecEvent], step: &str) -> Option<(Outcome, String)> {
    events.iter().find_map(|e| match e {
        ExecEvent::StepFinished {
            key,
            outcome,
            summary,
            ..
        } if key.step == step => Some((*outcome, summary.clone())),
        _ => None,
    })
}

fn skipped(events: &[ExecEvent], step: &str) -> Option<String> {
    events.iter().find_map(|e| match e {
        ExecEvent::StepSkipped { key, reason, .. } if key.step == step => Some(reason.clone()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_runbook_runs_headless_with_answers_and_auto_approval() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let answers: Answers = toml::from_str(
        r#"[manual]
"*" = { outcome = "ok", note = "done by hand" }"#,
    )
    .expect("answers");
    let e = engine(
        &c,
        shipped(&["data-sql-failover"]),
        rec.clone(),
        options(true),
    );
    let ending =
        tokio::time::timeout(Duration::from_secs(90), drive(e, &answers, "alice", |_| {})).await;
    let ev = rec.events();
    let ending = ending.unwrap_or_else(|_| panic!("did not finish: {ev:#?}"));
    // `sqlcmd` is not installed here: the step says so, is not retried, and stops the runbook.
    let (o, s) = finished(&ev, "listener-writable").expect("ran");
    assert_eq!(o, Outcome::Failed);
    assert!(
        s.contains("cannot start `sqlcmd`: not found on PATH"),
        "{s}"
    );
    assert!(
        !ev.iter()
            .any(|e| matches!(e, ExecEvent::Retry { key, .. } if key.step == "listener-writable"))
    );
    assert!(!ending.finished);
    // The failover itself, auto-approved and recorded as such, then verified.
    assert!(ev.iter().any(
        |e| matches!(e, ExecEvent::Confirmed { key, auto: true, .. } if key.step == "failover")
    ));
    let (o, s) = finished(&ev, "failover").expect("ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(s.contains("long-running operation Succeeded"), "{s}");
    assert_eq!(
        finished(&ev, "secondary-is-primary").map(|f| f.0),
        Some(Outcome::Ok)
    );
    // The fallback for a failover that did not go through is not needed.
    assert!(skipped(&ev, "geo-restore-fallback").is_some());
    // A read of the down primary is an assessment: finding it down is a finding, not a failure.
    let (o, s) = finished(&ev, "fog-primary").expect("ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(s.starts_with("finding: down"), "{s}");
    assert!(s.contains("503 ServiceUnavailable"), "{s}");
    // Manual steps carry who and the note.
    assert!(ev.iter().any(|e| matches!(e, ExecEvent::StepFinished { key, by: Some(by), note: Some(n), .. } if key.step == "decide-failover" && by == "alice (answers file)" && n == "done by hand")));
    // Check results are recorded with expected and actual.
    assert!(ev.iter().any(|e| matches!(e, ExecEvent::CheckResult { key, actual, .. } if key.step == "secondary-is-primary" && actual == "Primary")));
    // Every start has its end, in order.
    for (i, e) in ev.iter().enumerate() {
        if let ExecEvent::StepFinished { key, .. } = e {
            assert!(
                ev[..i]
                    .iter()
                    .any(|s| matches!(s, ExecEvent::StepStarted { key: k, .. } if k == key)),
                "{key} finished before it started"
            );
        }
    }
}

fn finished_in(events: &[ExecEvent], runbook: &str, step: &str) -> Option<(Outcome, String)> {
    events.iter().find_map(|e| match e {
        ExecEvent::StepFinished {
            key,
            outcome,
            summary,
            ..
        } if key.runbook == runbook && key.step == step => Some((*outcome, summary.clone())),
        _ => None,
    })
}

fn skipped_in(events: &[ExecEvent], runbook: &str, step: &str) -> Option<String> {
    events.iter().find_map(|e| match e {
        ExecEvent::StepSkipped { key, reason, .. }
            if key.runbook == runbook && key.step == step =>
        {
            Some(reason.clone())
        }
        _ => None,
    })
}

/// A rehearsal of the three data runbooks together on the shipped outage scenario (West
/// Europe down): Cosmos DB's write region is taken offline, never moved by a priority change
/// (which does not succeed while the write region is down); SQL fails over in one call; the
/// storage account goes straight to the unplanned failover and ends LRS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_of_the_data_runbooks_takes_the_cosmos_write_region_offline() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let answers: Answers = toml::from_str(
        r#"[manual]
"*" = { outcome = "ok", note = "done in the drill" }"#,
    )
    .expect("answers");
    let rbs = shipped(&[
        "data-sql-failover",
        "data-cosmos-failover",
        "data-storage-failover",
    ]);
    let groups = vec![plan::Group {
        name: "Data".into(),
        runbooks: rbs.iter().map(|(r, _)| r.id().to_string()).collect(),
        parallel: true,
    }];
    let opts = Options {
        skip_commands: Some("a rehearsal on the simulator".into()),
        ..options(true)
    };
    let e = Engine::new(rbs, groups, c.reader.clone(), rec.clone(), opts);
    let ending = tokio::time::timeout(
        Duration::from_secs(120),
        drive(e, &answers, "alice", |_| {}),
    )
    .await;
    let ev = rec.events();
    ending.unwrap_or_else(|_| panic!("did not finish: {ev:#?}"));
    let sim = c.sim.as_ref().expect("the simulator");
    let sub = "/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups";

    // Cosmos DB: the write region's gateway does not answer (an assessment's finding, not a
    // failure), so the region goes offline.
    let cosmos = "data-cosmos-failover";
    let (o, s) = finished_in(&ev, cosmos, "write-region-answers").expect("assessed");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(s.starts_with("finding: down"), "{s}");
    let (o, s) = finished_in(&ev, cosmos, "offline-write-region").expect("offlineRegion ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(s.contains("long-running operation Succeeded"), "{s}");
    assert!(ev.iter().any(|e| matches!(e, ExecEvent::Confirmed { key, auto: true, .. } if key.runbook == cosmos && key.step == "offline-write-region")));
    assert!(skipped_in(&ev, cosmos, "change-priority").is_some());
    assert!(!ev.iter().any(|e| matches!(e, ExecEvent::Retry { key, .. } if key.runbook == cosmos && key.step == "offline-write-region")));
    assert_eq!(
        finished_in(&ev, cosmos, "write-region-moved").map(|f| f.0),
        Some(Outcome::Ok)
    );
    assert!(skipped_in(&ev, cosmos, "restore-fallback").is_some());
    let account = sim
        .resource(&format!(
            "{sub}/rg-shop-global/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-shop"
        ))
        .expect("account");
    let p = &account["properties"];
    assert_eq!(p["writeLocations"][0]["locationName"], "North Europe");
    // Offline, not reprioritised: West Europe serves nothing and comes last.
    let reads: Vec<&serde_json::Value> = p["readLocations"]
        .as_array()
        .expect("readLocations")
        .iter()
        .map(|l| &l["locationName"])
        .collect();
    assert_eq!(reads, [&serde_json::json!("North Europe")]);
    let we = p["failoverPolicies"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["locationName"] == "West Europe"))
        .expect("West Europe is still a region of the account");
    assert_eq!(we["failoverPriority"], 1);

    // SQL: one tryPlannedBeforeForcedFailover, no separate planned then forced call.
    let sql = "data-sql-failover";
    let (o, s) = finished_in(&ev, sql, "failover").expect("the failover ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert_eq!(
        finished_in(&ev, sql, "secondary-is-primary").map(|f| f.0),
        Some(Outcome::Ok)
    );
    assert!(skipped_in(&ev, sql, "geo-restore-fallback").is_some());
    let fog = sim
        .resource(&format!("{sub}/rg-shop-northeurope/providers/Microsoft.Sql/servers/sql-shop-northeurope/failoverGroups/fog-shop"))
        .expect("fog");
    assert_eq!(fog["properties"]["replicationRole"], "Primary");

    // Storage: Resource Health is not Available (found down), so no planned attempt eats the
    // RTO.
    let st = "data-storage-failover";
    let (o, s) = finished_in(&ev, st, "account-health").expect("assessed");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(s.starts_with("finding: down"), "{s}");
    assert!(skipped_in(&ev, st, "planned-failover").is_some());
    let (o, s) = finished_in(&ev, st, "unplanned-failover").expect("unplanned ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    let acct = sim
        .resource(&format!(
            "{sub}/rg-shop-global/providers/Microsoft.Storage/storageAccounts/stshopdata"
        ))
        .expect("storage account");
    assert_eq!(acct["sku"]["name"], "Standard_LRS");
    assert_eq!(acct["properties"]["primaryLocation"], "northeurope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_approval_a_destructive_step_is_declined_and_nothing_is_written() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let answers: Answers =
        toml::from_str("[manual]\n\"decide-failover\" = \"ok\"\n").expect("answers");
    let e = engine(
        &c,
        shipped(&["data-sql-failover"]),
        rec.clone(),
        options(false),
    );
    let _ = tokio::time::timeout(Duration::from_secs(20), drive(e, &answers, "bob", |_| {})).await;
    let ev = rec.events();
    assert!(ev.iter().any(|e| matches!(e, ExecEvent::ConfirmationRequested { key, what } if key.step == "failover" && what.contains("POST") && what.contains("tryPlannedBeforeForcedFailover"))), "{ev:#?}");
    // Nobody answered it: drbook declined it, crediting neither bob nor the answers.
    let reason = skipped(&ev, "failover").expect("declined");
    assert_eq!(reason, "declined by drbook (no answer in the answers)");
    // No write reached the simulator: the group is still Secondary.
    let fog = c.sim.as_ref().and_then(|s| s.resource("/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-northeurope/providers/Microsoft.Sql/servers/sql-shop-northeurope/failoverGroups/fog-shop"));
    assert_eq!(
        fog.as_ref()
            .map(|f| f["properties"]["replicationRole"].clone()),
        Some(serde_json::json!("Secondary"))
    );
    // The read that verifies the failover neither pretends it happened nor polls for its 20
    // minutes: it is skipped at once, saying why.
    assert!(!ev.iter().any(
        |e| matches!(e, ExecEvent::StepStarted { key, .. } if key.step == "secondary-is-primary")
    ));
    let why = skipped(&ev, "secondary-is-primary").expect("the verifier is skipped");
    assert_eq!(
        why,
        "verifies `failover`, which did not happen: declined by drbook (no answer in the answers)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_step_without_an_answer_fails_and_says_why() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let e = engine(
        &c,
        shipped(&["data-sql-failover"]),
        rec.clone(),
        options(true),
    );
    let ending = tokio::time::timeout(
        Duration::from_secs(60),
        drive(e, &Answers::default(), "erin", |_| {}),
    )
    .await;
    let ev = rec.events();
    let ending = ending.unwrap_or_else(|_| panic!("did not finish: {ev:#?}"));
    assert!(!ending.finished);
    let failed = ev.iter().find_map(|e| match e {
        ExecEvent::StepFinished {
            key,
            outcome: Outcome::Failed,
            note: Some(n),
            ..
        } => Some((key.step.clone(), n.clone())),
        _ => None,
    });
    let (step, note) = failed.expect("a manual step failed");
    assert_eq!(step, "decide-failover");
    // No answers file was given: none is credited, the note says why it failed.
    assert!(
        note.contains("no answer: no --answers file was given"),
        "{note}"
    );
    assert!(!note.contains("in --answers"), "{note}");
    // The runbook stops there: nothing after it started.
    assert!(
        !ev.iter()
            .any(|e| matches!(e, ExecEvent::StepStarted { key, .. } if key.step == "failover"))
    );
}

const RETRY_AND_ABORT: &str = r#"
[runbook]
id = "local"
title = "Local commands"
component = "code"

[[step]]
id = "flaky"
title = "Fails twice, then works"
kind = "command"
argv = ["sh", "-c", "n=$(cat \"$COUNTER\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$COUNTER\"; echo attempt $n; [ $n -ge 3 ]"]
env = { COUNTER = "${counter}" }
confirm = false
retries = 2
retry_delay = "100ms"

[[step]]
id = "long"
title = "Runs until aborted"
kind = "command"
argv = ["sh", "-c", "echo started; sleep 30"]
depends_on = ["flaky"]
confirm = false
on_failure = "rollback"
rollback = "undo"

[[rollback]]
id = "undo"
title = "Undo"
kind = "command"
argv = ["echo", "undone"]
confirm = false

[vars]
counter = "/dev/null"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stream_output_and_an_abort_runs_the_rollback() {
    let c = sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let counter = dir.path().join("n");
    let text = RETRY_AND_ABORT.replace(
        "counter = \"/dev/null\"",
        &format!("counter = \"{}\"", counter.display()),
    );
    let rec = Arc::new(Memory::default());
    let e = engine(&c, inline(&text), rec.clone(), options(false));
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let (up_tx, mut up_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(e.run(ctl_rx, up_tx));
    while let Some(u) = up_rx.recv().await {
        if let Update::Recorded(ExecEvent::OutputLine { key, line, .. }) = &u
            && key.step == "long"
            && line == "started"
        {
            let _ = ctl_tx.send(Control::Abort {
                key: key.clone(),
                by: "carol".into(),
            });
        }
    }
    let _ = task.await;
    let ev = rec.events();
    let retries = ev
        .iter()
        .filter(|e| matches!(e, ExecEvent::Retry { key, .. } if key.step == "flaky"))
        .count();
    assert_eq!(retries, 2, "{ev:#?}");
    assert_eq!(finished(&ev, "flaky").map(|f| f.0), Some(Outcome::Ok));
    assert!(ev.iter().any(|e| matches!(e, ExecEvent::OutputLine { key, line, .. } if key.step == "flaky" && line == "attempt 3")));
    assert!(
        ev.iter()
            .any(|e| matches!(e, ExecEvent::AbortRequested { by, .. } if by == "carol"))
    );
    let (o, s) = finished(&ev, "long").expect("long ended");
    assert_eq!(o, Outcome::Failed);
    assert!(s.starts_with("aborted"), "{s}");
    assert!(
        ev.iter().any(
            |e| matches!(e, ExecEvent::RollbackStarted { rollback, .. } if rollback == "undo")
        )
    );
    assert_eq!(finished(&ev, "undo").map(|f| f.0), Some(Outcome::Ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_touches_nothing_and_says_what_it_would_do() {
    let c = sim().await;
    let before = c
        .sim
        .as_ref()
        .map(|s| s.request_count())
        .unwrap_or_default();
    let rec = Arc::new(Memory::default());
    let answers: Answers = toml::from_str("[manual]\n\"*\" = \"ok\"\n").expect("answers");
    let e = engine(
        &c,
        shipped(&["network-failover"]),
        rec.clone(),
        Options {
            dry_run: true,
            ..options(false)
        },
    );
    let ending = drive(e, &answers, "dave", |_| {}).await;
    let ev = rec.events();
    assert!(ending.finished, "{ev:#?}");
    let after = c
        .sim
        .as_ref()
        .map(|s| s.request_count())
        .unwrap_or_default();
    assert_eq!(before, after, "a dry run sent requests");
    // Its condition reads what only a run knows: the call is described, as one that would run
    // only if the condition held.
    let s = skipped(&ev, "tm-disable-primary").expect("described");
    assert!(
        s.starts_with(
            "dry run: would run if ${steps.tm-primary.status} = Enabled: would PATCH /subscriptions/"
        ),
        "{s}"
    );
    assert!(s.contains("endpointStatus"), "{s}");
    assert!(finished(&ev, "tm-disable-primary").is_none());
    // What needs no earlier result is described as it would run.
    let (_, s) = finished(&ev, "tm-secondary").expect("described");
    assert!(s.starts_with("dry run: would read /subscriptions/"), "{s}");
}

#[test]
fn answers_files_report_their_errors_with_a_location() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("a.toml");
    std::fs::write(&p, "[manual]\n\"x\" = \"maybe\"\n").expect("write");
    let e = Answers::load(&p).expect_err("bad outcome");
    assert!(e.contains("a.toml:2:"), "{e}");
    let _ = StepKey::new("a", "b");
}

const ROLLBACK_ONCE: &str = r#"
[runbook]
id = "local"
title = "Rollbacks"
component = "code"

[[step]]
id = "change"
title = "A change that fails"
kind = "command"
argv = ["sh", "-c", "exit 1"]
confirm = false
on_failure = "rollback"
rollback = "undo"

[[step]]
id = "decide"
title = "The operator marks this failed"
kind = "manual"
depends_on = ["change"]
on_failure = "rollback"
rollback = "restore"

[[rollback]]
id = "undo"
title = "An undo that fails and rolls back to itself"
kind = "command"
argv = ["sh", "-c", "echo undo >> \"$COUNTER\"; exit 1"]
env = { COUNTER = "${counter}" }
confirm = false
on_failure = "rollback"
rollback = "undo"

[[rollback]]
id = "restore"
title = "Restore"
kind = "command"
argv = ["echo", "restored"]
confirm = false

[vars]
counter = "/dev/null"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_runs_at_most_once_and_a_manual_step_marked_failed_rolls_back() {
    let c = sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let counter = dir.path().join("n");
    let text = ROLLBACK_ONCE.replace(
        "counter = \"/dev/null\"",
        &format!("counter = \"{}\"", counter.display()),
    );
    let rec = Arc::new(Memory::default());
    // `change` fails and stops the runbook; its rollback fails and names itself.
    let e = engine(&c, inline(&text), rec.clone(), options(false));
    let answers: Answers = toml::from_str("[manual]\ndecide = \"failed\"\n").expect("answers");
    let ending =
        tokio::time::timeout(Duration::from_secs(15), drive(e, &answers, "alice", |_| {})).await;
    let ev = rec.events();
    assert!(ending.is_ok(), "the rollback loops: {} events", ev.len());
    let undone = std::fs::read_to_string(&counter).unwrap_or_default();
    assert_eq!(undone.lines().count(), 1, "the rollback ran {undone:?}");
    let started = |name: &str| {
        ev.iter()
            .filter(
                |e| matches!(e, ExecEvent::RollbackStarted { rollback, .. } if rollback == name),
            )
            .count()
    };
    assert_eq!(started("undo"), 1, "{ev:#?}");
    assert!(ev.iter().any(|e| matches!(
        e,
        ExecEvent::Note { key: Some(k), text, .. }
            if k.step == "undo" && text.contains("rollback `undo` has already run")
    )));

    // A manual step marked failed with `on_failure = "rollback"` runs its rollback.
    let text = text.replace("argv = [\"sh\", \"-c\", \"exit 1\"]", "argv = [\"true\"]");
    let rec = Arc::new(Memory::default());
    let e = engine(&c, inline(&text), rec.clone(), options(false));
    let ending =
        tokio::time::timeout(Duration::from_secs(15), drive(e, &answers, "alice", |_| {})).await;
    let ev = rec.events();
    assert!(ending.is_ok(), "{ev:#?}");
    assert_eq!(finished(&ev, "decide").map(|f| f.0), Some(Outcome::Failed));
    assert!(
        ev.iter().any(
            |e| matches!(e, ExecEvent::RollbackStarted { key, rollback } if key.step == "decide" && rollback == "restore")
        ),
        "{ev:#?}"
    );
    assert_eq!(finished(&ev, "restore").map(|f| f.0), Some(Outcome::Ok));
}

const VERIFIER: &str = r#"
[runbook]
id = "verify"
title = "A change and its verifier"
component = "network"

[[step]]
id = "disable"
title = "Disable the primary endpoint"
kind = "action"
method = "PATCH"
resource = "/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.Network/trafficmanagerprofiles/tm-shop/azureEndpoints/ep-westeurope"
api_version = "2022-04-01"
body = { properties = { endpointStatus = "Disabled" } }
confirm = true

[[step]]
id = "disabled"
title = "The primary endpoint is disabled"
kind = "check"
resource = "/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.Network/trafficmanagerprofiles/tm-shop/azureEndpoints/ep-westeurope"
api_version = "2022-04-01"
depends_on = ["disable"]
expect = { path = "properties.endpointStatus", equals = "Disabled" }
poll = "30s"
timeout = "20m"
"#;

/// A change nobody could claim on the shared timeline (restored from a log here, as after a
/// resume) did not happen: its verifier is skipped at once, saying why, instead of polling
/// for 20 minutes. One skipped by its condition still has its result checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_of_an_unclaimed_change_is_skipped_at_once() {
    let c = sim().await;
    for (reason, verified) in [
        ("not claimed: kim holds it since 10:00:00 UTC", false),
        ("its condition does not hold", true),
    ] {
        let rec = Arc::new(Memory::default());
        let mut e = engine(&c, inline(VERIFIER), rec.clone(), options(true));
        e.restore(
            StepKey::new("verify", "disable"),
            Restored {
                progress: plan::Progress::Skipped,
                outputs: BTreeMap::new(),
                skip_reason: Some(reason.into()),
                interrupted: false,
            },
        );
        // Long enough to finish when the verifier is skipped; a polling one is left polling.
        let wait = Duration::from_secs(if verified { 2 } else { 10 });
        let ending =
            tokio::time::timeout(wait, drive(e, &Answers::default(), "alice", |_| {})).await;
        let ev = rec.events();
        if verified {
            // The endpoint was never disabled: the check polls (stopped by the timeout here).
            assert!(ev.iter().any(
                |e| matches!(e, ExecEvent::StepStarted { key, .. } if key.step == "disabled")
            ));
        } else {
            assert!(ending.is_ok(), "{ev:#?}");
            assert_eq!(
                skipped(&ev, "disabled").as_deref(),
                Some(format!("verifies `disable`, which did not happen: {reason}").as_str())
            );
        }
    }
}

fn confirmations(events: &[ExecEvent], step: &str) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ExecEvent::ConfirmationRequested { key, .. } if key.step == step))
        .count()
}

fn reads_logged(events: &[ExecEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ExecEvent::CheckResult { .. }))
        .count()
}

/// Killed while a change was in flight (restored here as after a resume): its verifier is read
/// once. Still not holding: the change is confirmed again, as before. Holding (the change
/// happened before the kill): the change is ok without being confirmed or sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_change_whose_verifier_holds_is_not_sent_again() {
    let c = sim().await;
    let Some(simh) = c.sim.as_ref() else {
        panic!("a simulator")
    };
    let interrupted = || Restored {
        progress: plan::Progress::Active,
        outputs: BTreeMap::new(),
        skip_reason: None,
        interrupted: true,
    };
    let key = StepKey::new("verify", "disable");

    // The endpoint is still enabled: the verifier does not hold, the change is confirmed
    // again (declined here), and what was read is in the log.
    let rec = Arc::new(Memory::default());
    let mut e = engine(&c, inline(VERIFIER), rec.clone(), options(true));
    e.restore(key.clone(), interrupted());
    let answers: Answers = toml::from_str("[confirm]\ndisable = false\n").expect("answers");
    let ending =
        tokio::time::timeout(Duration::from_secs(15), drive(e, &answers, "alice", |_| {})).await;
    let ev = rec.events();
    assert!(ending.is_ok(), "{ev:#?}");
    assert!(
        ev.iter().any(|e| matches!(e,
            ExecEvent::CheckResult { key, verdict, source, .. }
                if key.step == "disable" && verdict == "FAIL" && source.contains("verifier `disabled` read once on resume"))),
        "{ev:#?}"
    );
    assert_eq!(confirmations(&ev, "disable"), 1, "{ev:#?}");
    assert_eq!(
        skipped(&ev, "disable").as_deref(),
        Some("declined by alice (answers file)")
    );

    // The change is made (as the run killed mid-request had made it).
    let rec = Arc::new(Memory::default());
    let e = engine(&c, inline(VERIFIER), rec.clone(), options(true));
    let ending = tokio::time::timeout(
        Duration::from_secs(15),
        drive(e, &Answers::default(), "alice", |_| {}),
    )
    .await;
    assert!(ending.is_ok());
    assert_eq!(
        finished(&rec.events(), "disabled").map(|f| f.0),
        Some(Outcome::Ok)
    );

    // Resumed now: the verifier holds, so the change is ok, not confirmed, not sent.
    let rec = Arc::new(Memory::default());
    let mut e = engine(&c, inline(VERIFIER), rec.clone(), options(true));
    e.restore(key.clone(), interrupted());
    let before = simh.request_count();
    let ending = tokio::time::timeout(
        Duration::from_secs(15),
        drive(e, &Answers::default(), "alice", |_| {}),
    )
    .await;
    let ev = rec.events();
    assert!(ending.is_ok(), "{ev:#?}");
    assert_eq!(confirmations(&ev, "disable"), 0, "{ev:#?}");
    assert_eq!(
        finished(&ev, "disable"),
        Some((
            Outcome::Ok,
            "done before the interruption: verified by `disabled` on resume".into()
        ))
    );
    assert_eq!(finished(&ev, "disabled").map(|f| f.0), Some(Outcome::Ok));
    // Every request was a logged read (the verifier once on resume, then as its own step):
    // no PATCH went out.
    assert_eq!(reads_logged(&ev), 2, "{ev:#?}");
    assert_eq!(simh.request_count() - before, reads_logged(&ev) as u64);

    // A read after the change that does not read what it wrote (here the profile, which holds
    // whatever became of the endpoint) proves nothing: the change is confirmed again.
    let c = sim().await;
    let text = VERIFIER
        .replace(
            "resource = \"/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.Network/trafficmanagerprofiles/tm-shop/azureEndpoints/ep-westeurope\"\napi_version = \"2022-04-01\"\ndepends_on",
            "resource = \"/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.Network/trafficmanagerprofiles/tm-shop\"\napi_version = \"2022-04-01\"\ndepends_on",
        )
        .replace(
            "expect = { path = \"properties.endpointStatus\", equals = \"Disabled\" }",
            "expect = { path = \"name\", equals = \"tm-shop\" }",
        );
    assert_ne!(text, VERIFIER);
    let rec = Arc::new(Memory::default());
    let mut e = engine(&c, inline(&text), rec.clone(), options(true));
    e.restore(key.clone(), interrupted());
    let ending =
        tokio::time::timeout(Duration::from_secs(15), drive(e, &answers, "alice", |_| {})).await;
    let ev = rec.events();
    assert!(ending.is_ok(), "{ev:#?}");
    assert_eq!(confirmations(&ev, "disable"), 1, "{ev:#?}");
    assert_eq!(
        skipped(&ev, "disable").as_deref(),
        Some("declined by alice (answers file)")
    );
}

const ALREADY: &str = r#"
[runbook]
id = "already"
title = "A failover Azure may already be running"
component = "data"

[[step]]
id = "failover"
title = "Fail the storage account over"
kind = "action"
method = "POST"
resource = "/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.Storage/storageAccounts/stshopdata/failover"
api_version = "2023-05-01"
confirm = false
retries = 2
retry_delay = "1s"
already = [{ status = 409, code = "FailoverInProgress" }]
"#;

/// An answer the runbook declares `already` makes the action ok, with the answer in its
/// summary and outputs, and it is not retried; an undeclared 409 still fails (after its
/// retries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_already_answer_is_ok_and_not_retried_an_undeclared_one_fails() {
    use drbook::sim::{InjectedFault, Injection};
    for (code, count) in [("FailoverInProgress", 1), ("Conflict", 3)] {
        let c = sim().await;
        let Some(simh) = c.sim.as_ref() else {
            panic!("a simulator")
        };
        simh.inject(Injection {
            path_contains: Some("stshopdata/failover".into()),
            count,
            fault: InjectedFault::Status {
                status: 409,
                code: code.into(),
                retry_after: None,
            },
        });
        let rec = Arc::new(Memory::default());
        let e = engine(&c, inline(ALREADY), rec.clone(), options(true));
        let before = simh.request_count();
        let ending = tokio::time::timeout(
            Duration::from_secs(15),
            drive(e, &Answers::default(), "alice", |_| {}),
        )
        .await;
        let ev = rec.events();
        assert!(ending.is_ok(), "{ev:#?}");
        let retries = ev
            .iter()
            .filter(|e| matches!(e, ExecEvent::Retry { .. }))
            .count();
        let sent = simh.request_count() - before;
        let (outcome, summary) = finished(&ev, "failover").expect("finished");
        if code == "FailoverInProgress" {
            assert_eq!(outcome, Outcome::Ok, "{summary}");
            assert!(
                summary.starts_with("already under way: FailoverInProgress (POST ")
                    && summary.contains("HTTP 409"),
                "{summary}"
            );
            assert_eq!(retries, 0, "{ev:#?}");
            assert_eq!(sent, 1);
            assert!(ev.iter().any(|e| matches!(e,
                ExecEvent::StepFinished { outputs, .. }
                    if outputs.get("code").map(String::as_str) == Some("FailoverInProgress")
                        && outputs.get("status").map(String::as_str) == Some("409"))));
        } else {
            assert_eq!(outcome, Outcome::Failed, "{summary}");
            assert!(summary.contains("Conflict"), "{summary}");
            assert_eq!(retries, 2, "{ev:#?}");
            assert_eq!(sent, 3);
        }
    }
}

/// The pre-flight of a runbook that writes in an outage: when the scenario puts the resource
/// group holding its targets in the failed region, the check fails on the group's location,
/// says why and what to do, and the runbook stops before any write is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_located_in_the_primary_stops_the_runbook_at_its_pre_flight() {
    let shipped_scenario = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/scenarios/westeurope-outage.toml"
    ))
    .expect("scenario");
    let global = "resourceGroups/rg-shop-global\"\nlocation = \"swedencentral\"";
    assert!(
        shipped_scenario.contains(global),
        "the estate declares rg-shop-global"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("rg-in-primary.toml");
    std::fs::write(
        &path,
        shipped_scenario.replace(
            global,
            "resourceGroups/rg-shop-global\"\nlocation = \"westeurope\"",
        ),
    )
    .expect("write scenario");
    let args = TargetArgs {
        timeout: Duration::from_secs(10),
        retries: 1,
        ..TargetArgs::simulator(Some(path), "end")
    };
    let c = connect(&args, |_| None).await.expect("simulator");
    let rbs = shipped(&["network-failover"]);
    let rb = rbs[0].0.clone();
    let writes: Vec<String> = rb
        .steps
        .iter()
        .filter(|s| *s.kind.get_ref() == drbook::runbook::model::StepKind::Action)
        .map(|s| s.id.get_ref().clone())
        .collect();
    assert!(!writes.is_empty());
    let rec = Arc::new(Memory::default());
    let answers: Answers = toml::from_str("[manual]\n\"*\" = \"ok\"\n").expect("answers");
    let e = engine(&c, rbs, rec.clone(), options(true));
    let ending =
        tokio::time::timeout(Duration::from_secs(30), drive(e, &answers, "alice", |_| {})).await;
    let ev = rec.events();
    let ending = ending.unwrap_or_else(|_| panic!("did not finish: {ev:#?}"));
    assert!(!ending.finished);
    let (o, s) = finished(&ev, "group-location").expect("the pre-flight ran");
    assert_eq!(o, Outcome::Failed, "{s}");
    assert!(s.contains("westeurope"), "{s}");
    for w in &writes {
        assert!(
            !ev.iter()
                .any(|e| matches!(e, ExecEvent::StepStarted { key, .. } if &key.step == w)),
            "{w} was started: {ev:#?}"
        );
    }
    let pre = rb
        .steps
        .iter()
        .find(|s| s.id.get_ref() == "group-location")
        .expect("pre-flight");
    let text = pre.instructions.as_ref().expect("instructions").get_ref();
    assert!(
        text.contains("Why:") && text.contains("What to do"),
        "{text}"
    );

    // The shipped estate passes the same pre-flight.
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let e = engine(
        &c,
        shipped(&["network-failover"]),
        rec.clone(),
        options(true),
    );
    let _ =
        tokio::time::timeout(Duration::from_secs(30), drive(e, &answers, "alice", |_| {})).await;
    let (o, s) = finished(&rec.events(), "group-location").expect("the pre-flight ran");
    assert_eq!(o, Outcome::Ok, "{s}");
}

/// The standby cluster's pods sign in through a federated credential whose issuer is that
/// cluster's OIDC issuer: when the credential names another issuer (the cluster was
/// recreated), the check fails and the workloads are not scaled up to fail at sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_credential_for_another_issuer_stops_the_aks_failover() {
    let shipped_scenario = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/scenarios/westeurope-outage.toml"
    ))
    .expect("scenario");
    let issuer = "issuer = \"https://northeurope.oic.prod-aks.azure.com/";
    assert_eq!(
        shipped_scenario.matches(issuer).count(),
        1,
        "one credential"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("stale-credential.toml");
    std::fs::write(
        &path,
        shipped_scenario.replace(
            issuer,
            "issuer = \"https://northeurope.oic.prod-aks.azure.com/old-cluster/",
        ),
    )
    .expect("write scenario");
    let args = TargetArgs {
        timeout: Duration::from_secs(10),
        retries: 1,
        ..TargetArgs::simulator(Some(path), "end")
    };
    let c = connect(&args, |_| None).await.expect("simulator");
    let rec = Arc::new(Memory::default());
    let mut opts = options(true);
    opts.skip_commands = Some("no commands in tests".into());
    let e = engine(&c, shipped(&["aks-failover"]), rec.clone(), opts);
    let ending = tokio::time::timeout(
        Duration::from_secs(30),
        drive(e, &Answers::default(), "alice", |_| {}),
    )
    .await;
    let ev = rec.events();
    assert!(ending.is_ok(), "{ev:#?}");
    let (o, s) = finished(&ev, "workload-identity-trust").expect("the check ran");
    assert_eq!(o, Outcome::Failed, "{s}");
    assert!(s.contains("old-cluster"), "{s}");
    // Never reached: neither started nor passed over as a command (as it is below).
    assert!(
        !ev.iter()
            .any(|e| matches!(e, ExecEvent::StepStarted { key, .. } if key.step == "scale-up")),
        "{ev:#?}"
    );
    assert_eq!(skipped(&ev, "scale-up"), None, "{ev:#?}");

    // The shipped estate's credential matches the standby cluster's issuer.
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let mut opts = options(true);
    opts.skip_commands = Some("no commands in tests".into());
    let e = engine(&c, shipped(&["aks-failover"]), rec.clone(), opts);
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        drive(e, &Answers::default(), "alice", |_| {}),
    )
    .await;
    let ev = rec.events();
    let (o, s) = finished(&ev, "workload-identity-trust").expect("the check ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert_eq!(
        skipped(&ev, "scale-up").as_deref(),
        Some("no commands in tests"),
        "{ev:#?}"
    );
}

/// The shipped outage scenario, changed as `change` says, served by a fresh simulator (the
/// temporary folder must outlive it).
async fn sim_with(change: impl Fn(String) -> String) -> (Connected, tempfile::TempDir) {
    let shipped_scenario = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/scenarios/westeurope-outage.toml"
    ))
    .expect("scenario");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("variant.toml");
    std::fs::write(&path, change(shipped_scenario)).expect("write scenario");
    let args = TargetArgs {
        timeout: Duration::from_secs(10),
        retries: 1,
        ..TargetArgs::simulator(Some(path), "end")
    };
    (connect(&args, |_| None).await.expect("simulator"), dir)
}

/// A partial outage: West Europe is down, yet the West Europe gateway of the Cosmos DB account
/// still answers its 401 (as the review reproduced it).
fn gateway_still_answers(scenario: String) -> String {
    let url = "url = \"https://cosmos-shop-westeurope.documents.azure.com/\"";
    let at = scenario.find(url).expect("the West Europe gateway");
    let backends = "backends = [{ region = \"westeurope\" }]";
    let off = scenario[at..].find(backends).expect("its backends") + at;
    let mut s = scenario;
    s.replace_range(
        off..off + backends.len(),
        "backends = [{ region = \"northeurope\" }]",
    );
    s
}

/// The clean-ups a rehearsal would owe: those of the steps that succeeded (as `--cleanup`
/// reads them from the log).
fn owed_cleanups(events: &[ExecEvent], rb: &Runbook) -> Vec<String> {
    rb.steps
        .iter()
        .filter(|s| finished_in(events, rb.id(), s.id.get_ref()).map(|f| f.0) == Some(Outcome::Ok))
        .filter_map(|s| s.cleanup.as_ref().map(|c| c.get_ref().clone()))
        .collect()
}

async fn run_cosmos(c: &Connected) -> (Vec<ExecEvent>, Runbook) {
    let rec = Arc::new(Memory::default());
    let answers: Answers = toml::from_str(
        r#"[manual]
"*" = { outcome = "ok", note = "done in the drill" }"#,
    )
    .expect("answers");
    let rbs = shipped(&["data-cosmos-failover"]);
    let rb = rbs[0].0.clone();
    let e = engine(c, rbs, rec.clone(), options(true));
    let ending =
        tokio::time::timeout(Duration::from_secs(90), drive(e, &answers, "alice", |_| {})).await;
    let ev = rec.events();
    ending.unwrap_or_else(|_| panic!("did not finish: {ev:#?}"));
    (ev, rb)
}

fn started(events: &[ExecEvent], step: &str) -> bool {
    events
        .iter()
        .any(|e| matches!(e, ExecEvent::StepStarted { key, .. } if key.step == step))
}

/// A partial outage of the write region: its gateway still answers 401, but Resource Health
/// says `Degraded`. A 401 is no proof of health: the write region is taken offline, the
/// failover priority change (to be avoided while the write region is down) is never sent,
/// and the rehearsal owes no priority change as its clean-up, only bringing the region online.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_cosmos_outage_takes_the_write_region_offline_not_a_priority_change() {
    let (c, _dir) = sim_with(gateway_still_answers).await;
    let (ev, rb) = run_cosmos(&c).await;
    let cosmos = "data-cosmos-failover";
    let (o, s) = finished_in(&ev, cosmos, "write-region-answers").expect("assessed");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(
        s.starts_with("finding: up"),
        "the gateway still answers in this scenario: {s}"
    );
    let (o, s) = finished_in(&ev, cosmos, "account-health").expect("assessed");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(
        s.starts_with("finding: down"),
        "Resource Health is Degraded: {s}"
    );
    assert!(!started(&ev, "change-priority"), "{ev:#?}");
    let (o, s) = finished_in(&ev, cosmos, "offline-write-region").expect("offlineRegion ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert_eq!(
        finished_in(&ev, cosmos, "write-region-moved").map(|f| f.0),
        Some(Outcome::Ok)
    );
    assert!(skipped_in(&ev, cosmos, "restore-fallback").is_some());
    assert_eq!(owed_cleanups(&ev, &rb), ["online-region"]);
    assert!(skipped_in(&ev, cosmos, "planned-move").is_some());
    let account = c
        .sim
        .as_ref()
        .expect("the simulator")
        .resource("/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-shop")
        .expect("account");
    assert_eq!(
        account["properties"]["writeLocations"][0]["locationName"],
        "North Europe"
    );
}

/// Both signals say West Europe is healthy (gateway answers, Resource Health `Available`), so
/// the operator's planned priority change is tried; the write region is in fact down, so it
/// fails. The runbook re-reads the account and takes the region offline, rather than sending
/// the operator to the hours-long backup restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_cosmos_priority_change_leads_to_the_offline_path_not_the_restore() {
    let (c, _dir) = sim_with(|s| {
        let degraded = "databaseAccounts/cosmos-shop\", state = \"Degraded\"";
        assert!(s.contains(degraded), "the scenario degrades cosmos-shop");
        // Azure's priority change with the write region down does not succeed: by default the
        // simulator leaves it running (the step's 15m timeout would end it); here it fails
        // after a moment, so the test sees where the runbook goes next.
        assert!(s.contains("\n[faults]\n"), "the scenario has [faults]");
        gateway_still_answers(
            s.replace(
                degraded,
                "databaseAccounts/cosmos-shop\", state = \"Available\"",
            )
            .replacen(
                "\n[faults]\n",
                "\n[faults]\nfailover_in_outage = \"fail after 2s\"\n",
                1,
            ),
        )
    })
    .await;
    let (ev, rb) = run_cosmos(&c).await;
    let cosmos = "data-cosmos-failover";
    assert_eq!(
        finished_in(&ev, cosmos, "account-health").map(|f| f.0),
        Some(Outcome::Ok)
    );
    let (o, s) = finished_in(&ev, cosmos, "change-priority").expect("the planned move ran");
    assert_eq!(o, Outcome::Failed, "{s}");
    assert!(
        !ev.iter()
            .any(|e| matches!(e, ExecEvent::Retry { key, .. } if key.step == "change-priority")),
        "a priority change is never retried"
    );
    let (o, s) = finished_in(&ev, cosmos, "offline-write-region").expect("offlineRegion ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert_eq!(
        finished_in(&ev, cosmos, "write-region-moved").map(|f| f.0),
        Some(Outcome::Ok)
    );
    assert!(skipped_in(&ev, cosmos, "restore-fallback").is_some());
    // The failed priority change changed nothing: nothing to move back.
    assert_eq!(owed_cleanups(&ev, &rb), ["online-region"]);
    assert_eq!(
        finished_in(&ev, cosmos, "planned-move").map(|f| f.0),
        Some(Outcome::Ok)
    );
    assert_eq!(
        finished_in(&ev, cosmos, "priority-change-result").map(|f| f.0),
        Some(Outcome::Failed)
    );
}

/// Both regions healthy (a rehearsal, a planned move): the write region moves by a priority
/// change, nothing is taken offline, and the clean-up owed is the priority restore, gated by
/// the check that the old write region is an online read region (`primary-back-online`,
/// registered on the step after the change, so that it runs first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_both_regions_healthy_cosmos_moves_by_a_priority_change_with_a_gated_restore() {
    let (c, _dir) = sim_with(|s| {
        let down = "region_down = \"westeurope\"";
        let degraded = "databaseAccounts/cosmos-shop\", state = \"Degraded\"";
        assert!(s.contains(down) && s.contains(degraded));
        gateway_still_answers(s.replace(down, "region_down = \"brazilsouth\"").replace(
            degraded,
            "databaseAccounts/cosmos-shop\", state = \"Available\"",
        ))
    })
    .await;
    let (ev, rb) = run_cosmos(&c).await;
    let cosmos = "data-cosmos-failover";
    let (o, s) = finished_in(&ev, cosmos, "change-priority").expect("the planned move ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(!started(&ev, "offline-write-region"), "{ev:#?}");
    assert_eq!(
        finished_in(&ev, cosmos, "write-region-moved").map(|f| f.0),
        Some(Outcome::Ok)
    );
    assert_eq!(
        owed_cleanups(&ev, &rb),
        ["restore-priority", "primary-back-online"]
    );
}

fn outputs_of(events: &[ExecEvent], step: &str) -> BTreeMap<String, String> {
    events
        .iter()
        .find_map(|e| match e {
            ExecEvent::StepFinished { key, outputs, .. } if key.step == step => {
                Some(outputs.clone())
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// Reading the failed region and finding it down is the finding an assessment is for: the
/// step is not failed, its `finding` decides the branches. An assessment that could not be
/// carried out at all (403 on the reader) says nothing about the region: it stays a failure,
/// with no finding, and neither finding's branch runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assessment_finds_the_region_down_and_a_refused_read_stays_a_failure() {
    let c = sim().await;
    let sim = c.sim.as_ref().expect("a simulator");
    sim.inject(drbook::sim::faults::Injection {
        path_contains: Some("app-shop-northeurope".into()),
        count: 10,
        fault: drbook::sim::faults::InjectedFault::Status {
            status: 403,
            code: "AuthorizationFailed".into(),
            retry_after: None,
        },
    });
    let rec = Arc::new(Memory::default());
    let rbs = inline(
        r#"
[runbook]
id = "assess"
title = "Assessments"
component = "web"

[vars]
sub = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"

[[step]]
id = "primary-health"
title = "Resource Health of the primary site"
kind = "health"
assess = true
resource = "/subscriptions/${sub}/resourceGroups/rg-shop-westeurope/providers/Microsoft.Web/sites/app-shop-westeurope"
on_failure = "continue"

[[step]]
id = "denied"
title = "Resource Health of the secondary site, with a reader that may not read it"
kind = "health"
assess = true
resource = "/subscriptions/${sub}/resourceGroups/rg-shop-northeurope/providers/Microsoft.Web/sites/app-shop-northeurope"
on_failure = "continue"

[[step]]
id = "if-down"
title = "The primary is down"
kind = "wait"
duration = "1s"
depends_on = ["primary-health"]
when = { step = "primary-health", finding = "down" }

[[step]]
id = "if-up"
title = "The primary is up"
kind = "wait"
duration = "1s"
depends_on = ["primary-health"]
when = { step = "primary-health", finding = "up" }

[[step]]
id = "denied-down"
title = "The secondary is down"
kind = "wait"
duration = "1s"
depends_on = ["denied"]
when = { step = "denied", finding = "down" }

[[step]]
id = "denied-failed"
title = "The secondary could not be assessed"
kind = "wait"
duration = "1s"
depends_on = ["denied"]
when = { step = "denied", outcome = "failed" }
"#,
    );
    let e = engine(&c, rbs, rec.clone(), options(true));
    let ending = tokio::time::timeout(
        Duration::from_secs(60),
        drive(e, &Answers::default(), "alice", |_| {}),
    )
    .await;
    let ev = rec.events();
    ending.unwrap_or_else(|_| panic!("did not finish: {ev:#?}"));

    let (o, s) = finished(&ev, "primary-health").expect("ran");
    assert_eq!(o, Outcome::Ok, "{s}");
    assert!(s.starts_with("finding: down:"), "{s}");
    assert!(
        !s.contains("FAIL"),
        "a finding is not worded as a failure: {s}"
    );
    assert_eq!(
        outputs_of(&ev, "primary-health")
            .get("finding")
            .map(String::as_str),
        Some("down")
    );
    assert_eq!(finished(&ev, "if-down").map(|f| f.0), Some(Outcome::Ok));
    assert!(skipped(&ev, "if-up").is_some());

    let (o, s) = finished(&ev, "denied").expect("ran");
    assert_eq!(o, Outcome::Failed, "{s}");
    assert!(s.starts_with("could not assess:"), "{s}");
    assert!(s.contains("403"), "{s}");
    assert!(!outputs_of(&ev, "denied").contains_key("finding"));
    assert!(skipped(&ev, "denied-down").is_some());
    assert_eq!(
        finished(&ev, "denied-failed").map(|f| f.0),
        Some(Outcome::Ok)
    );

    // The log calls the one a finding and the other a failure.
    let logged: Vec<_> = ev
        .iter()
        .filter_map(|e| drbook::exec::journal::to_log(e, "drbook"))
        .flat_map(|(_, kinds)| kinds)
        .filter_map(|k| match k {
            drbook::incident::EventKind::StepFinished { step, outcome, .. } => {
                Some((step, outcome))
            }
            _ => None,
        })
        .collect();
    assert!(logged.contains(&("primary-health".into(), drbook::incident::Outcome::Finding)));
    assert!(logged.contains(&("denied".into(), drbook::incident::Outcome::Failed)));
}
