//! Every shipped runbook carried out, start to finish, against the westeurope-outage scenario,
//! in the plan's order, through the real client. A small driver stands in for the executor:
//! reads poll until they hold (bounded), actions are sent and followed to their end, `when`
//! conditions are honoured; commands (`az`, `kubectl`, `terraform`), manual steps and waits
//! cannot run here and count as done. A step may fail only when its runbook says failure is
//! fine there (`on_failure = "continue"`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use drbook::checks::read::Verdict;
use drbook::checks::run::condition;
use drbook::checks::scope::Scope;
use drbook::cli::target::{TargetArgs, connect};
use drbook::runbook::model::{OnFailure, Runbook, Step, StepKind};
use drbook::runbook::{load_paths, vars};
use reqwest::Method;

/// Steps in dependency order, file order among equals.
fn ordered(rb: &Runbook) -> Vec<&Step> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    while out.len() < rb.steps.len() {
        let next = rb.steps.iter().find(|s| {
            !done.contains(s.id.get_ref().as_str())
                && s.depends_on
                    .iter()
                    .all(|d| done.contains(d.get_ref().as_str()))
        });
        let Some(s) = next else { break };
        done.insert(s.id.get_ref());
        out.push(s);
    }
    out
}

fn args() -> TargetArgs {
    TargetArgs {
        timeout: Duration::from_secs(10),
        retries: 1,
        ..TargetArgs::simulator(
            Some("runbooks/scenarios/westeurope-outage.toml".into()),
            "end",
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_runbook_can_be_carried_out_against_the_outage_scenario() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd");
    let set = load_paths(&["runbooks".into()]).expect("load");
    assert_eq!(set.error_count(), 0);
    let plan = set.plans.first().expect("the shipped plan");
    let connected = connect(&args(), |_| None).await.expect("simulator");
    let reader = &connected.reader;
    let mut report = Vec::new();
    let mut problems = Vec::new();
    let mut writes = BTreeSet::new();

    for group in &plan.groups {
        for id in &group.runbooks {
            let rb = set
                .runbooks
                .iter()
                .find(|r| r.id() == id.get_ref())
                .expect("plan names a shipped runbook");
            let (v, _missing) =
                vars::resolve_partial(rb, Some(&plan.vars), &BTreeMap::new(), |_| None);
            let mut scope = Scope::new(rb, v, BTreeMap::new());
            for step in ordered(rb) {
                let sid = step.id.get_ref().clone();
                let skip = step
                    .when
                    .as_ref()
                    .is_some_and(|w| condition(w.get_ref(), &scope) == Some(false));
                let (ok, detail, outputs) = if skip {
                    (
                        true,
                        "skipped: condition false".to_string(),
                        BTreeMap::from([("outcome".to_string(), "skipped".to_string())]),
                    )
                } else {
                    run_step(reader, step, &scope).await
                };
                if !ok
                    && step.on_failure.as_ref().map(|o| *o.get_ref()) != Some(OnFailure::Continue)
                {
                    problems.push(format!("{}/{sid}: {detail}", rb.id()));
                }
                if *step.kind.get_ref() == StepKind::Action && ok && !skip {
                    writes.insert(format!("{}/{sid}", rb.id()));
                }
                report.push(format!(
                    "{:<22} {:<28} {:<8} {}",
                    rb.id(),
                    sid,
                    if ok { "ok" } else { "FAILED" },
                    detail
                ));
                scope.outputs.insert(sid, outputs);
            }
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        problems.is_empty(),
        "steps that failed where their runbook does not allow it:\n{}",
        problems.join("\n")
    );
    // The failovers themselves went through, each confirmed by the checks after it.
    for must in [
        "data-sql-failover/failover",
        "data-cosmos-failover/offline-write-region",
        "data-storage-failover/unplanned-failover",
        "function-failover/sb-forced-failover",
        "function-failover/start-func",
        "logic-failover/enable-secondary",
        "network-failover/afd-disable-primary",
        "network-failover/tm-disable-primary",
    ] {
        assert!(writes.contains(must), "{must} did not run: {writes:?}");
    }
}

/// Carries out one step: (succeeded, what happened, outputs).
async fn run_step(
    reader: &drbook::checks::read::Reader,
    step: &Step,
    scope: &Scope,
) -> (bool, String, BTreeMap<String, String>) {
    let done = |what: &str| {
        (
            true,
            what.to_string(),
            BTreeMap::from([("outcome".to_string(), "ok".to_string())]),
        )
    };
    match step.kind.get_ref() {
        StepKind::Check
        | StepKind::Health
        | StepKind::Graph
        | StepKind::Probe
        | StepKind::Storage => {
            // Poll like the executor will: long-running effects (a failover) take a few seconds.
            let deadline = Instant::now()
                + if step.poll.is_some() {
                    Duration::from_secs(20)
                } else {
                    Duration::ZERO
                };
            loop {
                let r = reader.read(step, scope, None).await;
                if r.verdict == Verdict::Pass || Instant::now() >= deadline {
                    let ok = r.verdict == Verdict::Pass;
                    return (
                        ok,
                        format!(
                            "{} | expected {} | actual {}",
                            r.verdict.as_str(),
                            r.expected,
                            r.actual
                        ),
                        r.outputs,
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        StepKind::Action => {
            let render = |s: &str| {
                scope
                    .render(s)
                    .unwrap_or_else(|e| panic!("{}: {e}", step.id.get_ref()))
            };
            let id = render(
                step.resource
                    .as_ref()
                    .map(|r| r.get_ref().as_str())
                    .unwrap_or_default(),
            );
            let api = step
                .api_version
                .as_ref()
                .map(|a| a.get_ref().clone())
                .unwrap_or_default();
            let method = Method::from_bytes(
                step.method
                    .as_ref()
                    .map(|m| m.get_ref().as_bytes())
                    .unwrap_or(b"POST"),
            )
            .expect("method");
            let body = step
                .body
                .as_ref()
                .map(|b| scope.render_value(b.get_ref()).expect("body renders"));
            match reader
                .arm
                .write(
                    method.clone(),
                    &id,
                    &api,
                    body,
                    Duration::from_secs(60),
                    &|_| {},
                )
                .await
            {
                Ok(out) => {
                    let lro = out
                        .lro
                        .map(|l| format!(", long-running: {} after {} polls", l.status, l.polls))
                        .unwrap_or_default();
                    let outputs = BTreeMap::from([
                        ("outcome".to_string(), "ok".to_string()),
                        ("status".to_string(), out.status.to_string()),
                    ]);
                    (
                        true,
                        format!("{method} answered {}{lro}", out.status),
                        outputs,
                    )
                }
                Err(e) => (
                    false,
                    e.to_string(),
                    BTreeMap::from([("outcome".to_string(), "failed".to_string())]),
                ),
            }
        }
        StepKind::Command => done("command: not run here (counts as done)"),
        StepKind::Manual => done("manual: counts as done"),
        StepKind::Wait => done("wait: skipped"),
    }
}
