//! The incident log (issue 4): appending events with fsync, and folding a 100,000-event log
//! (the bar: under 200 ms). Measured in one run, in a temporary directory (on the disk that
//! holds `TMPDIR`; set it to measure another disk):
//!
//! 1. one writer through `LogHandle`, awaiting each append before the next (what the engine
//!    does): events per second and the latency of each append (p50, p99, max);
//! 2. 16 writers (tokio tasks) sharing the cloned handle: what group commit (one fsync for the
//!    events that arrive together) buys over (1);
//! 3. `IncidentLog::append` directly, one write and one fsync per event, no writer thread;
//! 4. a log of 100,000 events of many runbooks and steps: `read_log` (parse and verify the
//!    chain), `IncidentState::fold`, and the two together, each the median of several runs.
//!
//! Run: cargo bench --bench log. Without `--bench` on its command line (as under
//! `cargo test --benches`) it runs a tiny version, only to show it still works.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use drbook::incident::{
    Event, EventKind, Header, IncidentLog, IncidentOutcome, IncidentState, Integrity, LogHandle,
    Mode, Outcome, Redactor, RehearsalLevel, RunbookRef, Stream, Verdict, read_log,
};

const SUB: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
/// Steps per runbook in the generated incidents (as in the `load` bench).
const STEPS: usize = 100;
const FOLD_TARGET: Duration = Duration::from_millis(200);

/// How much work each part does.
struct Sizes {
    /// Appends by the one writer of (1) and by the direct writer of (3).
    appends: usize,
    /// Writers of (2); they append `appends` events between them.
    writers: usize,
    /// Events in the log of (4), header included.
    fold_events: usize,
    /// Runs of each measurement of (4); the median is reported.
    fold_runs: usize,
    /// Concurrent lanes writing the log of (4): up to this many events share one fsync.
    gen_lanes: usize,
}

const FULL: Sizes = Sizes {
    appends: 2_000,
    writers: 16,
    fold_events: 100_000,
    fold_runs: 7,
    gen_lanes: 128,
};

const QUICK: Sizes = Sizes {
    appends: 40,
    writers: 4,
    fold_events: 2_000,
    fold_runs: 1,
    gen_lanes: 16,
};

fn rb_id(rb: usize) -> String {
    const COMPONENTS: [&str; 6] = ["web", "api", "sql", "storage", "aks", "servicebus"];
    format!("{}-failover-{rb:03}", COMPONENTS[rb % COMPONENTS.len()])
}

fn header(runbooks: usize) -> Header {
    Header {
        incident_id: "inc-2026-11-25-bench".into(),
        title: "westeurope down (bench)".into(),
        mode: Mode::Rehearsal,
        level: Some(RehearsalLevel::Full),
        operators: vec!["alice".into(), "bob".into()],
        drbook_version: env!("CARGO_PKG_VERSION").into(),
        target: "sim:westeurope-down".into(),
        plan: Some("westeurope-outage".into()),
        runbooks: (0..runbooks)
            .map(|rb| RunbookRef {
                id: rb_id(rb),
                file: format!("runbooks/{}.toml", rb_id(rb)),
                sha256: format!("{:064x}", rb * 7919 + 1),
                ..RunbookRef::default()
            })
            .collect(),
        auto_approve: false,
        share: None,
        keyed: None,
    }
}

/// The secrets a run would hold: every text of every event is searched for them.
fn redactor() -> Redactor {
    Redactor::new([
        "s3cr3t-Client-Secret-value-0123456789",
        "AccountKeyValue+/==bench",
    ])
}

/// The events one runbook of `STEPS` steps writes, as the engine writes them: the step
/// kinds of the `load` bench in turn (check, action, probe, command, manual), checks that
/// poll until they pass, confirmations, retries, command output, operators' notes.
fn runbook_events(rb: usize) -> Vec<EventKind> {
    let runbook = rb_id(rb);
    let mut out = Vec::new();
    let started = |s: usize, attempt: u32| EventKind::StepStarted {
        runbook: runbook.clone(),
        step: format!("s{s}"),
        title: Some(format!("Step {s} of {runbook}")),
        attempt,
    };
    let finished = |s: usize, outputs: BTreeMap<String, String>| EventKind::StepFinished {
        runbook: runbook.clone(),
        step: format!("s{s}"),
        outcome: Outcome::Ok,
        duration_ms: 1_000 + (s as u64 * 37 % 20_000),
        outputs,
        error: None,
    };
    for s in 0..STEPS {
        let step = format!("s{s}");
        let mix = rb * 31 + s * 17;
        match s % 5 {
            // check: polls until the secondary is Running.
            0 => {
                out.push(started(s, 1));
                let polls = 1 + mix % 3;
                for p in 0..polls {
                    let pass = p + 1 == polls;
                    out.push(EventKind::CheckResult {
                        runbook: runbook.clone(),
                        step: step.clone(),
                        expected: "properties.state == \"Running\"".into(),
                        actual: if pass { "\"Running\"" } else { "\"Starting\"" }.into(),
                        verdict: if pass { Verdict::Pass } else { Verdict::Fail },
                        source: format!(
                            "/subscriptions/{SUB}/resourceGroups/rg-northeurope/providers/Microsoft.Web/sites/app-{rb}-{s}"
                        ),
                        latency_ms: 40 + (mix % 200) as u64,
                    });
                }
                let outputs = BTreeMap::from([(
                    "host".to_string(),
                    format!("app-{rb}-{s}.azurewebsites.net"),
                )]);
                out.push(finished(s, outputs));
            }
            // action: confirmed by an operator, sometimes retried.
            1 => {
                out.push(EventKind::ConfirmationRequested {
                    runbook: runbook.clone(),
                    step: step.clone(),
                    prompt: format!(
                        "PATCH traffic manager endpoint ep-{s} of {runbook}: endpointStatus = Disabled?"
                    ),
                });
                out.push(EventKind::Confirmed {
                    runbook: runbook.clone(),
                    step: step.clone(),
                    by: "alice".into(),
                    approved: true,
                });
                out.push(started(s, 1));
                if mix.is_multiple_of(7) {
                    out.push(EventKind::Retry {
                        runbook: runbook.clone(),
                        step: step.clone(),
                        attempt: 1,
                        reason: "429 Too Many Requests: retry after 2s".into(),
                        delay_ms: 2_000,
                    });
                    out.push(started(s, 2));
                }
                out.push(finished(s, BTreeMap::new()));
            }
            // probe
            2 => {
                out.push(started(s, 1));
                out.push(EventKind::CheckResult {
                    runbook: runbook.clone(),
                    step: step.clone(),
                    expected: "status in [200, 204], body matches ok|healthy".into(),
                    actual: "200, {\"status\":\"healthy\"}".into(),
                    verdict: Verdict::Pass,
                    source: format!("https://app-{rb}-{}.azurewebsites.net/healthz", s - 2),
                    latency_ms: 80 + (mix % 300) as u64,
                });
                out.push(finished(s, BTreeMap::new()));
            }
            // command: kubectl output, a line of stderr now and then.
            3 => {
                out.push(started(s, 1));
                for l in 0..(8 + mix % 24) {
                    let (stream, line) = if l % 11 == 10 {
                        (
                            Stream::Stderr,
                            "Warning: short name \"deploy\" could also match lower priority resource deployments.apps".to_string(),
                        )
                    } else {
                        (
                            Stream::Stdout,
                            format!(
                                "shop-{rb}-frontend-7d9c8b6f5-{l:05}   1/1     Running   0          {}m   10.244.{}.{}   aks-nodepool1-{:08}-vmss00000{}",
                                l + 3,
                                l % 4,
                                l + 10,
                                rb * 1000 + s,
                                l % 3
                            ),
                        )
                    };
                    out.push(EventKind::OutputLine {
                        runbook: runbook.clone(),
                        step: step.clone(),
                        stream,
                        line,
                    });
                }
                out.push(finished(s, BTreeMap::new()));
            }
            // manual: an operator's note, then done.
            _ => {
                out.push(started(s, 1));
                out.push(EventKind::Note {
                    runbook: Some(runbook.clone()),
                    step: Some(step.clone()),
                    text: format!(
                        "Dashboard for northeurope shows {} req/s on the secondary; told #incident-westeurope.",
                        1_000 + mix % 5_000
                    ),
                });
                out.push(finished(s, BTreeMap::new()));
            }
        }
    }
    out
}

/// A stream of `n` realistic events, runbook after runbook.
fn event_mix(n: usize) -> Vec<EventKind> {
    (0..).flat_map(runbook_events).take(n).collect::<Vec<_>>()
}

fn actor(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Note { .. } | EventKind::Confirmed { .. } => "alice",
        _ => "drbook",
    }
}

fn new_log(dir: &Path, runbooks: usize) -> IncidentLog {
    IncidentLog::create(dir, header(runbooks), redactor()).expect("create the incident log")
}

struct Latencies {
    sorted: Vec<Duration>,
    wall: Duration,
}

impl Latencies {
    fn new(mut each: Vec<Duration>, wall: Duration) -> Latencies {
        each.sort();
        Latencies { sorted: each, wall }
    }

    /// Nearest rank.
    fn pct(&self, p: f64) -> Duration {
        drbook::time::percentile_sorted(&self.sorted, p).unwrap_or(Duration::ZERO)
    }

    fn per_sec(&self) -> f64 {
        self.sorted.len() as f64 / self.wall.as_secs_f64()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

/// (1): one writer awaiting each append.
async fn one_writer(dir: &Path, kinds: &[EventKind]) -> Latencies {
    let handle = LogHandle::spawn(new_log(dir, 1)).expect("start the log writer");
    // Warm up: the first fsyncs of a new file also write its metadata.
    for kind in kinds.iter().take(20) {
        handle
            .append(actor(kind), kind.clone())
            .await
            .expect("append");
    }
    let mut each = Vec::with_capacity(kinds.len());
    let t = Instant::now();
    for kind in kinds {
        let kind = kind.clone();
        let a = Instant::now();
        handle.append(actor(&kind), kind).await.expect("append");
        each.push(a.elapsed());
    }
    let wall = t.elapsed();
    handle.close().await.expect("close the log writer");
    Latencies::new(each, wall)
}

/// (2): `writers` tasks sharing the handle, each awaiting its own appends.
async fn many_writers(dir: &Path, kinds: &[EventKind], writers: usize) -> Latencies {
    let handle = LogHandle::spawn(new_log(dir, writers)).expect("start the log writer");
    for kind in kinds.iter().take(20) {
        handle
            .append(actor(kind), kind.clone())
            .await
            .expect("append");
    }
    let per_writer = kinds.len() / writers;
    let t = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let handle = handle.clone();
            let mine = kinds[w * per_writer..(w + 1) * per_writer].to_vec();
            tokio::spawn(async move {
                let mut each = Vec::with_capacity(mine.len());
                for kind in mine {
                    let a = Instant::now();
                    handle.append(actor(&kind), kind).await.expect("append");
                    each.push(a.elapsed());
                }
                each
            })
        })
        .collect();
    let mut each = Vec::with_capacity(kinds.len());
    for task in tasks {
        each.extend(task.await.expect("writer task"));
    }
    let wall = t.elapsed();
    handle.close().await.expect("close the log writer");
    Latencies::new(each, wall)
}

/// (3): `IncidentLog::append`, one write and one fsync per event, on this thread.
fn direct(dir: &Path, kinds: &[EventKind]) -> Latencies {
    let mut log = new_log(dir, 1);
    for kind in kinds.iter().take(20) {
        log.append(actor(kind), kind.clone()).expect("append");
    }
    let mut each = Vec::with_capacity(kinds.len());
    let t = Instant::now();
    for kind in kinds {
        let kind = kind.clone();
        let a = Instant::now();
        log.append(actor(&kind), kind).expect("append");
        each.push(a.elapsed());
    }
    Latencies::new(each, t.elapsed())
}

/// (4): writes an incident of `events` events (header included) with the real writer:
/// `lanes` tasks (parallel branches of the runbooks), each writing its runbooks' events in
/// order, so up to `lanes` events share one fsync. Returns the log's path.
async fn big_log(dir: &Path, events: usize, lanes: usize) -> std::path::PathBuf {
    // Header, scope_set and incident_closed around the runbooks' events.
    let budget = events.saturating_sub(3);
    let mut runbooks: Vec<Vec<EventKind>> = Vec::new();
    let mut total = 0;
    while total < budget {
        let mut rb = runbook_events(runbooks.len());
        rb.truncate(budget - total);
        total += rb.len();
        runbooks.push(rb);
    }
    let log = new_log(dir, runbooks.len());
    let path = log.path().to_path_buf();
    let handle = LogHandle::spawn(log).expect("start the log writer");
    handle
        .append(
            "alice",
            EventKind::ScopeSet {
                regions: vec!["westeurope".into()],
                components: vec!["web".into(), "api".into(), "sql".into()],
            },
        )
        .await
        .expect("append");
    // Each runbook is cut into `lanes / runbooks` branches of whole steps (a step's events
    // stay together and in order), so every lane is busy.
    let mut queues: Vec<Vec<EventKind>> = vec![Vec::new(); lanes];
    let mut lane = 0;
    for rb in runbooks {
        let mut step = Vec::new();
        for kind in rb {
            let ends = matches!(kind, EventKind::StepFinished { .. });
            step.push(kind);
            if ends {
                queues[lane % lanes].append(&mut step);
                lane += 1;
            }
        }
        queues[lane % lanes].append(&mut step);
        lane += 1;
    }
    let tasks: Vec<_> = queues
        .into_iter()
        .map(|q| {
            let handle = handle.clone();
            tokio::spawn(async move {
                for kind in q {
                    handle.append(actor(&kind), kind).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    handle
        .append(
            "alice",
            EventKind::IncidentClosed {
                outcome: IncidentOutcome::Rehearsed,
                summary: Some("Failover to northeurope rehearsed end to end.".into()),
            },
        )
        .await
        .expect("append");
    handle.close().await.expect("close the log writer");
    path
}

fn read(path: &Path) -> Vec<Event> {
    let (events, integrity) = read_log(path).expect("read the log");
    assert!(
        matches!(integrity, Integrity::Intact { .. }),
        "the generated log must verify: {integrity:?}"
    );
    events
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sz = if full { FULL } else { QUICK };
    let dir = tempfile::tempdir().expect("temp dir");
    let sub = |name: &str| dir.path().join(name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let kinds = event_mix(sz.appends);
    let one = rt.block_on(one_writer(&sub("one"), &kinds));
    let many = rt.block_on(many_writers(&sub("many"), &kinds, sz.writers));
    let sync = direct(&sub("direct"), &kinds);
    let bytes_per_event = std::fs::read_dir(sub("one"))
        .expect("list the log directory")
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum::<u64>() as f64
        / (kinds.len() + 21) as f64;

    let t = Instant::now();
    let path = rt.block_on(big_log(&sub("big"), sz.fold_events, sz.gen_lanes));
    let generated = t.elapsed();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let events = read(&path);
    assert_eq!(events.len(), sz.fold_events, "events in the generated log");
    let state = IncidentState::fold(&events);
    let steps: usize = state.runbooks.iter().map(|r| r.steps.len()).sum();
    assert!(
        state.closed.is_some(),
        "the fold must reach incident_closed"
    );

    let reads = median(
        (0..sz.fold_runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(read(&path));
                t.elapsed()
            })
            .collect(),
    );
    let folds = median(
        (0..sz.fold_runs.max(3) * 3)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(IncidentState::fold(std::hint::black_box(&events)));
                t.elapsed()
            })
            .collect(),
    );
    let both = median(
        (0..sz.fold_runs)
            .map(|_| {
                let t = Instant::now();
                let events = read(&path);
                std::hint::black_box(IncidentState::fold(&events));
                t.elapsed()
            })
            .collect(),
    );

    if !full {
        println!("quick run (no --bench): sizes cut down, figures meaningless");
    }
    println!(
        "incident log, appends with fsync ({} events of a runbook's mix, {bytes_per_event:.0} bytes each on average)",
        kinds.len()
    );
    let row = |name: &str, l: &Latencies| {
        println!(
            "  {name:<36} {:>8.0} events/s   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
            l.per_sec(),
            ms(l.pct(50.0)),
            ms(l.pct(99.0)),
            ms(l.pct(100.0))
        );
    };
    row("LogHandle, 1 writer awaiting each:", &one);
    row(
        &format!("LogHandle, {} writers sharing it:", sz.writers),
        &many,
    );
    row("IncidentLog::append (no thread):", &sync);
    println!(
        "  group commit: {} writers append {:.1}x the events/s of 1 writer, p99 {:.2}x; \
         1 writer through the handle gets {:.2}x the events/s of direct appends",
        sz.writers,
        many.per_sec() / one.per_sec(),
        ms(many.pct(99.0)) / ms(one.pct(99.0)),
        one.per_sec() / sync.per_sec()
    );
    println!(
        "folding a {}-event log ({} runbooks, {steps} steps, {:.1} MiB; written in {:.1} s by {} concurrent lanes)",
        events.len(),
        state.runbooks.len(),
        size as f64 / 1_048_576.0,
        generated.as_secs_f64(),
        sz.gen_lanes
    );
    let target = |d: Duration| d.as_secs_f64() / FOLD_TARGET.as_secs_f64();
    println!(
        "  read_log (read, parse, verify chain): {:>8.1} ms  = {:.2}x the 200 ms target  (median of {})",
        ms(reads),
        target(reads),
        sz.fold_runs
    );
    println!(
        "  IncidentState::fold:                  {:>8.1} ms  = {:.2}x the 200 ms target  (median of {})",
        ms(folds),
        target(folds),
        sz.fold_runs.max(3) * 3
    );
    println!(
        "  read_log + fold:                      {:>8.1} ms  = {:.2}x the 200 ms target  (median of {})",
        ms(both),
        target(both),
        sz.fold_runs
    );
}
