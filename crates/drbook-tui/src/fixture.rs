//! A fixed incident over the shipped runbooks, at a fixed time, for render tests and the
//! render benchmarks: the same events every run, so snapshots only change when drawing does.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration as Delta, TimeZone, Utc};

use super::app::{App, Info};
use super::keys::KeyMap;
use super::model::Board;
use super::theme::Theme;
use drbook_core::incident::event::{Header, Mode, Outcome, RehearsalLevel, Stream, Verdict};
use drbook_core::incident::{Event, EventKind};
use drbook_core::runbook::plan;
use drbook_core::runbook::{load_paths, vars};
use drbook_engine::checks::scope::Scope;

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0)
        .single()
        .unwrap_or_default()
}

struct Script {
    events: Vec<Event>,
    at: DateTime<Utc>,
}

impl Script {
    fn add(&mut self, secs: i64, actor: &str, kind: EventKind) {
        self.at += Delta::seconds(secs);
        self.events.push(Event {
            seq: self.events.len() as u64 + 1,
            ts: self.at,
            actor: actor.into(),
            kind,
            prev: String::new(),
            hash: String::new(),
        });
    }
}

fn started(rb: &str, st: &str) -> EventKind {
    EventKind::StepStarted {
        runbook: rb.into(),
        step: st.into(),
        title: None,
        attempt: 1,
    }
}

fn finished(rb: &str, st: &str, outcome: Outcome, ms: u64, error: Option<&str>) -> EventKind {
    EventKind::StepFinished {
        runbook: rb.into(),
        step: st.into(),
        outcome,
        duration_ms: ms,
        outputs: BTreeMap::new(),
        error: error.map(str::to_string),
    }
}

fn check(rb: &str, st: &str, expected: &str, actual: &str, verdict: Verdict) -> EventKind {
    EventKind::CheckResult {
        runbook: rb.into(),
        step: st.into(),
        expected: expected.into(),
        actual: actual.into(),
        verdict,
        source: "arm".into(),
        latency_ms: 42,
    }
}

/// The events of a rehearsal twelve minutes in: checks passed and failed, a command's output,
/// a retry, a note, a manual step and a confirmation waiting for the operator. `filler` more
/// output lines are added before the last events (a long timeline).
fn script(filler: usize) -> Vec<Event> {
    let mut s = Script {
        events: Vec::new(),
        at: start(),
    };
    s.add(
        0,
        "alice",
        EventKind::IncidentStarted(Header {
            incident_id: "20261125T030000Z-d00d".into(),
            title: "westeurope outage".into(),
            mode: Mode::Rehearsal,
            level: Some(RehearsalLevel::Full),
            operators: vec!["alice".into()],
            drbook_version: "0.1.0".into(),
            target: "simulator (westeurope-outage)".into(),
            plan: Some("westeurope-outage".into()),
            runbooks: Vec::new(),
            auto_approve: false,
            share: None,
            keyed: None,
        }),
    );
    s.add(
        5,
        "alice",
        EventKind::ScopeSet {
            regions: vec!["westeurope".into()],
            components: Vec::new(),
        },
    );
    let b = "backlog-continuity";
    s.add(10, "drbook", started(b, "boards-status"));
    s.add(
        1,
        "drbook",
        check(b, "boards-status", "HTTP 200", "HTTP 503", Verdict::Fail),
    );
    s.add(
        0,
        "drbook",
        finished(b, "boards-status", Outcome::Ok, 1_200, None),
    );
    s.add(2, "drbook", started(b, "export-open-items"));
    for i in 0..3 {
        s.add(
            1,
            "drbook",
            EventKind::OutputLine {
                runbook: b.into(),
                step: "export-open-items".into(),
                stream: Stream::Stdout,
                line: format!("exported work item {} of 3", i + 1),
            },
        );
    }
    s.add(
        1,
        "drbook",
        finished(b, "export-open-items", Outcome::Ok, 3_400, None),
    );
    s.add(
        3,
        "drbook",
        EventKind::ConfirmationRequested {
            runbook: b.into(),
            step: "incident-item".into(),
            prompt: "RUN az boards work-item create --title 'DR: westeurope outage' --type Epic (as argv, no shell)".into(),
        },
    );
    let c = "code-continuity";
    s.add(4, "drbook", started(c, "ado-status"));
    s.add(
        1,
        "drbook",
        check(c, "ado-status", "HTTP 200", "HTTP 200", Verdict::Pass),
    );
    s.add(
        0,
        "drbook",
        finished(c, "ado-status", Outcome::Ok, 800, None),
    );
    s.add(
        1,
        "drbook",
        EventKind::StepSkipped {
            runbook: c.into(),
            step: "ado-main".into(),
            reason: "not run against the simulator: commands reach real systems".into(),
        },
    );
    let a = "artifacts-continuity";
    s.add(2, "drbook", started(a, "registry"));
    s.add(
        5,
        "drbook",
        EventKind::Retry {
            runbook: a.into(),
            step: "registry".into(),
            attempt: 2,
            reason: "503 ServiceUnavailable: region westeurope is down".into(),
            delay_ms: 2_000,
        },
    );
    s.add(2, "drbook", started(a, "registry"));
    s.add(
        1,
        "drbook",
        finished(
            a,
            "registry",
            Outcome::Failed,
            8_100,
            Some("ERROR: 503 ServiceUnavailable reading the registry in westeurope"),
        ),
    );
    for i in 0..filler {
        s.events.push(Event {
            seq: s.events.len() as u64 + 1,
            ts: s.at,
            actor: "drbook".into(),
            kind: EventKind::OutputLine {
                runbook: c.into(),
                step: "fetch-from-ado".into(),
                stream: if i.is_multiple_of(7) {
                    Stream::Stderr
                } else {
                    Stream::Stdout
                },
                line: format!(
                    "remote: Counting objects: {}% ({i}/{filler})",
                    i * 100 / filler.max(1)
                ),
            },
            prev: String::new(),
            hash: String::new(),
        });
    }
    s.add(
        20,
        "alice",
        EventKind::Note {
            runbook: Some(a.into()),
            step: Some("registry".into()),
            text: "paged the platform team about the registry".into(),
        },
    );
    s.add(3, "drbook", started(c, "communicate"));
    chained(s.events)
}

/// The events chained as the log writer chains them, so the head in the header is a real,
/// stable one.
fn chained(mut events: Vec<Event>) -> Vec<Event> {
    let mut prev = drbook_core::incident::chain::GENESIS.to_string();
    for e in &mut events {
        let ts = drbook_core::incident::event::format_ts(&e.ts);
        if let Ok(body) = drbook_core::incident::chain::body(e.seq, &ts, &e.actor, &e.kind, &prev) {
            e.hash = drbook_core::incident::chain::seal(&body).1;
        }
        e.prev = std::mem::replace(&mut prev, e.hash.clone());
    }
    events
}

fn work(
    set: &drbook_core::runbook::LoadSet,
) -> Result<Vec<(drbook_core::runbook::model::Runbook, Scope)>, String> {
    let plan = set.plans.first();
    let overrides: BTreeMap<String, String> = ["ado_pat", "github_token"]
        .iter()
        .map(|k| (k.to_string(), format!("fixture-{k}-secret")))
        .collect();
    let mut work = Vec::new();
    for rb in &set.runbooks {
        let v = vars::resolve(rb, plan.map(|p| &p.vars), &overrides, |_| None)
            .map_err(|m| format!("{}: {m:?}", rb.id()))?;
        work.push((rb.clone(), Scope::new(rb, v, BTreeMap::new())));
    }
    Ok(work)
}

fn board(set: &drbook_core::runbook::LoadSet) -> Result<Board, String> {
    Ok(Board::new(
        &work(set)?,
        plan::groups(set.plans.first(), &set.runbooks),
    ))
}

/// An app over the runbooks in `dir` (the shipped ones in tests) with the fixed incident,
/// drawn as if at 03:12:34 UTC, twelve and a half minutes in.
pub fn app(dir: &Path, filler: usize) -> Result<App, String> {
    let set = load_paths(&[dir.to_path_buf()]).map_err(|e| e.to_string())?;
    let plan = set.plans.first();
    let board = board(&set)?;
    let info = Info {
        title: "westeurope outage".into(),
        rehearsal: true,
        level: Some(RehearsalLevel::Full),
        target: "simulator (westeurope-outage)".into(),
        operator: "alice".into(),
        log_path: "/var/lib/drbook/incidents/2026-11-25T03-00-00Z-westeurope-outage.jsonl".into(),
        plan_rto: plan
            .and_then(|p| p.meta.rto.as_ref())
            .and_then(|r| drbook_core::time::parse_duration(r.get_ref()).ok()),
        review: false,
    };
    let theme = Theme::builtin("dark").ok_or("the dark theme is built in")?;
    let now = start() + Delta::seconds(754);
    let mut app = App::new(info, board, script(filler), KeyMap::default(), theme, now);
    // The questions are shown as they were left: put aside, nothing opened by itself.
    app.dialog = None;
    Ok(app)
}

/// The same incident, reviewed afterwards: read-only, at its last event.
pub fn review_app(dir: &Path) -> Result<App, String> {
    let live = app(dir, 0)?;
    let events = live.timeline.events.clone();
    let verdict = super::review::verdict(&drbook_core::incident::Integrity::Intact {
        events: events.len(),
    });
    let mut info = live.info.clone();
    info.review = true;
    let set = load_paths(&[dir.to_path_buf()]).map_err(|e| e.to_string())?;
    let board = board(&set)?;
    Ok(App::review(
        info,
        board,
        events,
        verdict,
        KeyMap::default(),
        live.theme.clone(),
    ))
}
