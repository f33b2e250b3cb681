//! One incident log, analysed: the integrity verdict, what ran and against what, recovery
//! time against the RTO per runbook and for the plan, a row per step, what failed, was
//! skipped or retried, the notes, the critical path and where people were waited on. This is
//! the JSON report as it stands, and what the Markdown and HTML reports and the review TUI
//! read.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::ReportError;
use super::sources::{FileStatus, Sources};
use drbook_core::incident::event::RPO_OUTPUT;
use drbook_core::incident::{
    Event, EventKind, Head, IncidentOutcome, IncidentState, Integrity, Mode, RehearsalLevel,
    StepRef, StepStatus,
};

/// How many of the longest waits on a person the analysis keeps.
pub const TOP_HUMAN_WAITS: usize = 5;

/// Everything a report says about one log. Serialized as is for `--format json`; times are
/// RFC 3339 UTC, durations are milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// The log file, when read from one.
    pub log: Option<String>,
    pub integrity: IntegrityReport,
    /// `None` only when the log has no header (then little else is known).
    pub incident: Option<IncidentFacts>,
    /// The header's operators, then everyone else who acted, in order of first appearance.
    pub operators: Vec<String>,
    /// The role each person took (`role_taken`); empty for logs from before roles.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub roles: std::collections::BTreeMap<String, drbook_core::roles::Role>,
    /// One per runbook, in the log's order.
    pub runbooks: Vec<RunbookReport>,
    /// The whole incident against the plan's RTO.
    pub plan: PlanReport,
    /// Every step the log mentions, by start time (not started last).
    pub steps: Vec<StepRow>,
    pub failed: Vec<StepRef>,
    /// Assessments carried out, with what they found (the failed region is down): not
    /// failures.
    #[serde(default)]
    pub findings: Vec<StepRef>,
    pub skipped: Vec<StepRef>,
    /// Steps that needed more than one attempt.
    pub retried: Vec<StepRef>,
    /// Incident notes and step notes, by time.
    pub notes: Vec<NoteRow>,
    /// The steps that set the finish time, first to last.
    pub critical_path: Vec<StepRef>,
    /// The longest waits on a person (confirmations, manual steps), longest first.
    pub human_waits: Vec<HumanWait>,
    /// The plan's groups in order (name, runbook ids), when the plan file is found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<(String, Vec<String>)>,
    /// A rehearsal's clean-up (`--cleanup`): one row per clean-up step, in the order they
    /// were owed; empty when none ran.
    pub cleanups: Vec<CleanupRow>,
}

/// One clean-up step of a rehearsal and how it ended (its last attempt).
#[derive(Debug, Clone, Serialize)]
pub struct CleanupRow {
    pub runbook: String,
    pub step: String,
    /// The step whose change it undoes (`None` in logs from before it was recorded).
    pub undoes: Option<String>,
    /// `done`, `failed`, `skipped` or `not_run`.
    pub outcome: &'static str,
    /// Why it failed or was not done.
    pub reason: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// Who confirmed or declined it (the operator, `--auto-approve`, an answers file), else
    /// who carried it out (`drbook` for the engine).
    pub by: Option<String>,
}

/// The hash-chain verdict on the file.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrityReport {
    /// `intact`, `truncated`, `altered`, `unreadable`, `unverified` or `not_a_log`.
    pub verdict: String,
    /// Intact or truncated: what the report says can be trusted.
    pub trustworthy: bool,
    /// For `altered`: the first event that cannot be trusted.
    pub first_bad_seq: Option<u64>,
    /// For `truncated` and `altered`: the line where trust ends.
    pub line: Option<usize>,
    /// The events the report is built from.
    pub events_used: usize,
    /// One sentence, as `drbook` prints it elsewhere.
    pub message: String,
    /// The last trusted event (seq and hash), to quote in the incident ticket; `None` for a
    /// shared timeline (each writer's head is in `message`) or a log with no event.
    pub head: Option<Head>,
    /// The chain is keyed (HMAC-SHA256 with `DRBOOK_LOG_KEY`): only who holds the key could
    /// have re-chained it.
    pub keyed: bool,
    /// What the shared timeline (read with `--share`, else the `.shared.ndjson` copy beside
    /// the log) says of this log's head: matches, or the log was cut short or changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
}

impl IntegrityReport {
    /// Takes in what the share anchors: a log cut short or changed since it was shared is
    /// not intact, whatever its own chain says.
    pub fn anchor(&mut self, a: &drbook_engine::share::timeline::Anchored) {
        use drbook_engine::share::timeline::Anchored;
        match a {
            Anchored::Behind { .. } => {
                if self.verdict == "intact" {
                    self.verdict = "truncated".into();
                }
                self.message = format!("{a}. {}", self.message);
            }
            Anchored::Diverges { seq } => {
                self.verdict = "altered".into();
                self.trustworthy = false;
                self.first_bad_seq = Some(self.first_bad_seq.map_or(*seq, |s| s.min(*seq)));
                self.message = format!("{a}. {}", self.message);
            }
            Anchored::Matches { .. } | Anchored::NotShared => {}
        }
        self.anchor = Some(a.to_string());
    }
}

impl IntegrityReport {
    fn new(i: &Integrity, events: &[Event]) -> IntegrityReport {
        let (verdict, first_bad_seq, line) = match i {
            Integrity::Intact { .. } => ("intact", None, None),
            Integrity::Truncated { at_line, .. } => ("truncated", None, Some(*at_line)),
            Integrity::Altered {
                first_bad_seq,
                line,
                ..
            } => ("altered", Some(*first_bad_seq), Some(*line)),
            Integrity::Unreadable { .. } => ("unreadable", None, None),
            Integrity::NotALog { .. } => ("not_a_log", None, None),
            Integrity::Unverified { .. } => ("unverified", None, None),
        };
        let keyed = matches!(
            events.first().map(|e| &e.kind),
            Some(EventKind::IncidentStarted(h)) if h.keyed.is_some()
        );
        let message = match i {
            Integrity::Intact { .. } | Integrity::Truncated { .. } if keyed => {
                format!("{i} (keyed: HMAC-SHA256 with DRBOOK_LOG_KEY)")
            }
            _ => i.to_string(),
        };
        IntegrityReport {
            verdict: verdict.into(),
            trustworthy: i.is_trustworthy(),
            first_bad_seq,
            line,
            events_used: events.len(),
            message,
            head: Head::of(events),
            keyed,
            anchor: None,
        }
    }

    pub fn is_intact(&self) -> bool {
        self.verdict == "intact"
    }
}

/// The header, and how the incident ended.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentFacts {
    pub id: String,
    pub title: String,
    pub mode: Mode,
    pub level: Option<RehearsalLevel>,
    pub target: String,
    pub plan: Option<String>,
    pub drbook_version: String,
    pub auto_approve: bool,
    pub started: Option<DateTime<Utc>>,
    /// When the outage began (`outage_start`): the RTO counts from here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage_since: Option<DateTime<Utc>>,
    /// The last trusted event.
    pub last_event: Option<DateTime<Utc>>,
    /// `None`: the log ends with the incident still open (a crash, or still running).
    pub closed: Option<ClosedFacts>,
    pub paused_ms: u64,
    /// How many times it was resumed after drbook stopped.
    pub resumes: usize,
    /// Run for some regions or components only (`--region`, `--component`).
    pub scoped: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClosedFacts {
    pub ts: DateTime<Utc>,
    pub outcome: IncidentOutcome,
    pub summary: Option<String>,
}

/// A runbook: its file then and now, and its recovery time against its targets.
#[derive(Debug, Clone, Serialize)]
pub struct RunbookReport {
    pub id: String,
    pub title: Option<String>,
    pub file: Option<String>,
    /// What ran (from the header).
    pub sha256: Option<String>,
    pub file_status: FileStatus,
    /// As written in the runbook (`20m`); `None` when unset or the file is unknown.
    pub rto_target: Option<String>,
    pub rpo_target: Option<String>,
    /// The data-loss window measured (`rpo_achieved`, the last step to write it), counted to
    /// the outage start when the log has one and the measure was taken after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo_achieved_ms: Option<u64>,
    /// The step that measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo_measured_by: Option<String>,
    /// The window no longer than the RPO target; `None` without both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_rpo: Option<bool>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// First step's start to last step's end.
    pub took_ms: Option<u64>,
    /// Took no longer than the target; `None` when there is no target or it did not
    /// recover (only a recovered runbook is within its RTO).
    pub within_rto: Option<bool>,
    /// Every step of the runbook done or skipped (a failed or unstarted step means the
    /// recovery was not achieved, however quick).
    pub recovered: bool,
    /// `recovered`, `failed`, `not_started` or `not_finished` (see `report::verdict`).
    pub status: super::verdict::RunbookStatus,
    /// As the scorecard says it (`within RTO (5% used)`, `OVER RTO by 2m`), or why it
    /// did not recover.
    pub verdict: String,
    /// Steps that finished in any way (done, failed, skipped); clean-up steps left out.
    pub steps_done: usize,
    pub steps_failed: usize,
    /// Its steps, from the log header (else the unchanged file); `None`: unknown.
    pub steps_total: Option<usize>,
}

/// The whole incident against the plan's RTO.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub id: Option<String>,
    pub rto_target: Option<String>,
    pub took_ms: Option<u64>,
    pub within_rto: Option<bool>,
    /// Every runbook in scope recovered (and the incident not closed as failed or aborted).
    pub recovered: bool,
    /// `RECOVERED; within RTO (40% used)`, `NOT RECOVERED: 1 runbook failed, 10 not started`.
    pub verdict: String,
    /// Over every runbook in scope, never-started ones included.
    pub steps_done: usize,
    /// `None` when some runbook's step list is unknown (an old log).
    pub steps_total: Option<usize>,
    pub runbooks_failed: usize,
    pub runbooks_not_started: usize,
    pub runbooks_not_finished: usize,
    /// Whether what a full rehearsal changed is undone: `not_needed`, `done`, `owed`,
    /// `failed`.
    pub cleanup: super::verdict::CleanupStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub runbook: String,
    pub step: String,
    /// From the log, else from the runbook file.
    pub title: Option<String>,
    /// From the runbook file (`check`, `manual`, ...).
    pub kind: Option<String>,
    /// `not_started`, `running`, `waiting_for_confirmation`, `done`, `failed`, `skipped`,
    /// `interrupted`.
    pub status: &'static str,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// As measured by the executor for the last attempt, else end minus start.
    pub duration_ms: Option<u64>,
    pub attempts: u32,
    pub retries: Vec<RetryRow>,
    /// Who approved or declined it.
    pub confirmed_by: Option<String>,
    /// The answer `confirmed_by` gave: `true` confirmed, `false` declined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    /// The two-person approval: "approved by bob (commander)", "declined by ...".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The person who finished or skipped it (for manual steps); `None` when drbook did.
    pub acted_by: Option<String>,
    /// Confirmation asked → answered, or a manual step's start → finish.
    pub human_wait_ms: Option<u64>,
    pub error: Option<String>,
    /// An assessment's finding, e.g. `down: expected ..., actual ...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
    pub skip_reason: Option<String>,
    /// From the runbook file: `false` when `on_failure = "continue"` (a failure the runbook
    /// goes on from); `None` when the file is unknown.
    pub stops_on_failure: Option<bool>,
    pub on_critical_path: bool,
    /// A clean-up or rollback step, not part of the recovery (nor of its time and totals).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cleanup: bool,
    /// `traffic = true` in the runbook file: it moves users' traffic.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub traffic: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetryRow {
    pub ts: DateTime<Utc>,
    pub attempt: u32,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoteRow {
    pub ts: DateTime<Utc>,
    pub actor: String,
    pub runbook: Option<String>,
    pub step: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HumanWait {
    pub runbook: String,
    pub step: String,
    /// `confirmation`, `manual` or `approval` (a two-person step waiting for a commander).
    pub what: &'static str,
    pub ms: u64,
    pub who: Option<String>,
}

/// Reads `path` and analyses it, taking RTOs and step details from the runbook files the
/// header names (relative to the current directory, else to the log's folder).
pub fn analyze(path: &Path) -> Result<Analysis, ReportError> {
    analyze_anchored(path, None)
}

/// `analyze`, with a local log's head checked against the shared timeline `share` (its
/// bytes, read from the share), else against the `.shared.ndjson` copy beside the log when
/// there is one.
pub fn analyze_anchored(path: &Path, share: Option<&[u8]>) -> Result<Analysis, ReportError> {
    let (events, integrity, shared, anchored) =
        drbook_engine::share::timeline::read_anchored(path, share)?;
    let sources = match events.first().map(|e| &e.kind) {
        Some(EventKind::IncidentStarted(h)) => Sources::for_header(h, path.parent()),
        _ => Sources::default(),
    };
    let mut a = analyze_events(&events, &integrity, &sources);
    a.log = Some(path.display().to_string());
    if let Some(m) = shared {
        a.integrity.message = format!("{}. {}", m.summary(), a.integrity.message);
        // Merged events are renumbered: their last is no chain's head.
        a.integrity.head = None;
    }
    if let Some(anchored) = &anchored {
        a.integrity.anchor(anchored);
    }
    Ok(a)
}

/// The analysis of trusted `events` (as `read_log` returns them) with `integrity`'s verdict,
/// and what `sources` knows of the runbook files. Pure: no I/O.
pub fn analyze_events(events: &[Event], integrity: &Integrity, sources: &Sources) -> Analysis {
    let state = IncidentState::fold(events);
    let acted = who_acted(events);
    let v = super::verdict::verdict(&state, sources);
    let runbooks: Vec<RunbookReport> = v
        .runbooks
        .iter()
        .map(|card| {
            let rb = state.runbook(&card.id);
            let info = sources.runbook(&card.id);
            let rpo_target = info.and_then(|i| i.rpo.clone());
            let rpo = rb.and_then(|rb| rpo_achieved(rb, state.outage_since));
            let within_rpo = rpo_target
                .as_deref()
                .and_then(scorecard_duration)
                .zip(rpo.as_ref())
                .map(|(t, (ms, _))| *ms <= t.as_millis() as u64);
            RunbookReport {
                id: card.id.clone(),
                title: info.and_then(|i| i.title.clone()),
                file: rb.and_then(|r| r.file.clone()),
                sha256: rb.and_then(|r| r.sha256.clone()),
                file_status: sources.file_status(&card.id),
                rto_target: card.rto_text.clone(),
                rpo_target,
                rpo_achieved_ms: rpo.as_ref().map(|(ms, _)| *ms),
                rpo_measured_by: rpo.map(|(_, by)| by),
                within_rpo,
                started: card.started,
                finished: card.finished,
                took_ms: card.took.map(|d| d.as_millis() as u64),
                within_rto: card.within_rto(),
                recovered: card.recovered(),
                status: card.status,
                verdict: card.words(),
                steps_done: card.steps_done,
                steps_failed: card.steps_failed,
                steps_total: card.steps_total,
            }
        })
        .collect();
    let plan = PlanReport {
        id: state.header.as_ref().and_then(|h| h.plan.clone()),
        rto_target: v.plan_rto_text.clone(),
        took_ms: v.took.map(|d| d.as_millis() as u64),
        within_rto: v.within_rto(),
        recovered: v.recovered,
        verdict: v.words(),
        steps_done: v.steps_done,
        steps_total: v.steps_total,
        runbooks_failed: v.failed,
        runbooks_not_started: v.not_started,
        runbooks_not_finished: v.not_finished,
        cleanup: v.cleanup,
    };

    let critical_path = v.critical_path.clone();
    // A set, not a scan of the path per step: linear for a long chain.
    let on_path: std::collections::BTreeSet<&StepRef> = critical_path.iter().collect();
    let mut steps = Vec::new();
    for rb in &state.runbooks {
        let info = sources.runbook(&rb.id);
        for s in &rb.steps {
            let step_info = info.and_then(|i| i.step(&s.id));
            let kind = step_info.map(|i| i.kind.clone());
            let acted_by = acted.get(&(rb.id.clone(), s.id.clone())).cloned();
            let key = StepRef {
                runbook: rb.id.clone(),
                step: s.id.clone(),
            };
            steps.push(StepRow {
                runbook: rb.id.clone(),
                step: s.id.clone(),
                title: s
                    .title
                    .clone()
                    .or_else(|| step_info.map(|i| i.title.clone())),
                status: status_name(s.status),
                started: s.started,
                finished: s.finished,
                duration_ms: s.duration_ms.or_else(|| between(s.started, s.finished)),
                attempts: s.attempts,
                retries: s
                    .retries
                    .iter()
                    .map(|r| RetryRow {
                        ts: r.ts,
                        attempt: r.attempt,
                        reason: r.reason.clone(),
                    })
                    .collect(),
                confirmed_by: s.confirmed_by().map(str::to_string),
                confirmed: s
                    .confirmation
                    .as_ref()
                    .and_then(|c| c.answer.as_ref())
                    .map(|a| a.approved),
                approval: s.approval_text(),
                human_wait_ms: human_wait(s, kind.as_deref(), acted_by.is_some()),
                acted_by,
                kind,
                error: s.error.clone(),
                finding: finding_text(s),
                skip_reason: s.skip_reason.clone(),
                stops_on_failure: step_info.map(|i| i.stops_on_failure),
                on_critical_path: on_path.contains(&key),
                cleanup: v
                    .runbook(&rb.id)
                    .is_some_and(|c| c.other_steps.contains(&s.id)),
                traffic: step_info.is_some_and(|i| i.traffic),
            });
        }
    }
    // Steps of the runbook (as the header lists them, else its unchanged file) the log
    // never mentions: they never started.
    for rb in &state.runbooks {
        let trusted = steps_trusted(sources, &rb.id);
        let listed: Vec<String> = state
            .header
            .as_ref()
            .and_then(|h| h.runbooks.iter().find(|r| r.id == rb.id))
            .map(|r| r.steps.clone())
            .filter(|s| !s.is_empty())
            .or_else(|| trusted.map(|i| i.steps.iter().map(|(id, _)| id.clone()).collect()))
            .unwrap_or_default();
        for id in &listed {
            let si = sources.runbook(&rb.id).and_then(|i| i.step(id));
            if rb.step(id).is_none() {
                steps.push(StepRow {
                    runbook: rb.id.clone(),
                    step: id.clone(),
                    title: si.map(|si| si.title.clone()),
                    kind: si.map(|si| si.kind.clone()),
                    status: status_name(StepStatus::NotStarted),
                    started: None,
                    finished: None,
                    duration_ms: None,
                    attempts: 0,
                    retries: Vec::new(),
                    confirmed_by: None,
                    confirmed: None,
                    approval: None,
                    acted_by: None,
                    human_wait_ms: None,
                    error: None,
                    finding: None,
                    skip_reason: None,
                    stops_on_failure: si.map(|si| si.stops_on_failure),
                    on_critical_path: false,
                    cleanup: false,
                    traffic: si.is_some_and(|si| si.traffic),
                });
            }
        }
    }
    // Stable: steps that started at the same moment keep the log's order.
    // Steps skipped without starting sit where they were decided.
    steps.sort_by_key(|s| {
        let at = s.started.or(s.finished);
        (at.is_none(), at)
    });

    let pick = |f: &dyn Fn(&StepRow) -> bool| -> Vec<StepRef> {
        steps
            .iter()
            .filter(|s| f(s))
            .map(|s| StepRef {
                runbook: s.runbook.clone(),
                step: s.step.clone(),
            })
            .collect()
    };
    let failed = pick(&|s| s.status == "failed");
    let findings = pick(&|s| s.finding.is_some());
    let skipped = pick(&|s| s.status == "skipped");
    let retried = pick(&|s| s.attempts > 1 || !s.retries.is_empty());

    let mut human_waits: Vec<HumanWait> = steps
        .iter()
        .filter_map(|s| {
            // Zero: nobody was waited on (an auto-approved confirmation).
            let ms = s.human_wait_ms.filter(|ms| *ms > 0)?;
            let manual = s.kind.as_deref() == Some("manual") || s.confirmed_by.is_none();
            Some(HumanWait {
                runbook: s.runbook.clone(),
                step: s.step.clone(),
                what: if manual { "manual" } else { "confirmation" },
                ms,
                who: s.confirmed_by.clone().or_else(|| s.acted_by.clone()),
            })
        })
        .collect();
    human_waits.extend(approval_waits(&state));
    human_waits.sort_by_key(|w| std::cmp::Reverse(w.ms));
    human_waits.truncate(TOP_HUMAN_WAITS);

    Analysis {
        log: None,
        integrity: IntegrityReport::new(integrity, events),
        incident: state.header.as_ref().map(|h| IncidentFacts {
            id: h.incident_id.clone(),
            title: h.title.clone(),
            mode: h.mode,
            level: h.level,
            target: h.target.clone(),
            plan: h.plan.clone(),
            drbook_version: h.drbook_version.clone(),
            auto_approve: h.auto_approve,
            started: state.started,
            outage_since: state.outage_since,
            last_event: state.last_ts,
            closed: state.closed.as_ref().map(|c| ClosedFacts {
                ts: c.ts,
                outcome: c.outcome,
                summary: c.summary.clone(),
            }),
            paused_ms: state.paused_ms,
            resumes: state.resumes.len(),
            scoped: v.scoped,
        }),
        operators: operators(&state.operators),
        roles: state.roles.clone(),
        runbooks,
        plan,
        steps,
        failed,
        findings,
        skipped,
        retried,
        notes: notes(&state),
        critical_path,
        human_waits,
        cleanups: cleanups(events),
        groups: sources
            .plan
            .as_ref()
            .map(|p| {
                p.groups
                    .iter()
                    .map(|g| (g.name.clone(), g.runbooks.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The clean-up steps a rehearsal ran, from its `cleanup_started` events (which list them)
/// and the step events that follow; in a log from before the list, every step of the runbook
/// between `cleanup_started` and `cleanup_finished`.
fn cleanups(events: &[Event]) -> Vec<CleanupRow> {
    let mut rows: Vec<CleanupRow> = Vec::new();
    // Runbooks whose clean-up is under way, and whether their steps were listed.
    let mut open: BTreeMap<String, bool> = BTreeMap::new();
    let row = |rows: &mut Vec<CleanupRow>, runbook: &str, step: &str| -> usize {
        match rows
            .iter()
            .position(|r| r.runbook == runbook && r.step == step)
        {
            Some(i) => i,
            None => {
                rows.push(CleanupRow {
                    runbook: runbook.to_string(),
                    step: step.to_string(),
                    undoes: None,
                    outcome: "not_run",
                    reason: None,
                    started: None,
                    finished: None,
                    by: None,
                });
                rows.len() - 1
            }
        }
    };
    for e in events {
        match &e.kind {
            EventKind::CleanupStarted { runbook, steps } => {
                open.insert(runbook.clone(), !steps.is_empty());
                for s in steps {
                    let i = row(&mut rows, runbook, &s.step);
                    // A clean-up run again (after --reopen) is reported as it ended last.
                    rows[i] = CleanupRow {
                        undoes: Some(s.undoes.clone()),
                        outcome: "not_run",
                        reason: None,
                        started: None,
                        finished: None,
                        by: None,
                        ..rows[i].clone()
                    };
                }
                continue;
            }
            EventKind::CleanupFinished { runbook, .. } => {
                open.remove(runbook);
                continue;
            }
            _ => {}
        }
        let Some((runbook, step)) = e.kind.step_ref() else {
            continue;
        };
        let Some(listed) = open.get(runbook) else {
            continue;
        };
        let i = match rows
            .iter()
            .position(|r| r.runbook == runbook && r.step == step)
        {
            Some(i) => i,
            None if !listed => row(&mut rows, runbook, step),
            None => continue,
        };
        let r = &mut rows[i];
        match &e.kind {
            EventKind::StepStarted { .. } => {
                r.started.get_or_insert(e.ts);
            }
            EventKind::Confirmed { by, .. } => r.by = Some(by.clone()),
            EventKind::StepFinished { outcome, error, .. } => {
                r.finished = Some(e.ts);
                r.outcome = match outcome {
                    // A clean-up that assesses has read what it was for: done.
                    drbook_core::incident::Outcome::Ok
                    | drbook_core::incident::Outcome::Finding => "done",
                    drbook_core::incident::Outcome::Failed
                    | drbook_core::incident::Outcome::Interrupted => "failed",
                    drbook_core::incident::Outcome::Skipped => "skipped",
                };
                r.reason = error.clone();
                if r.by.is_none() {
                    r.by = Some(e.actor.clone());
                }
            }
            EventKind::StepSkipped { reason, .. } => {
                r.finished = Some(e.ts);
                r.outcome = "skipped";
                r.reason = Some(reason.clone());
                if r.by.is_none() {
                    r.by = Some(e.actor.clone());
                }
            }
            _ => {}
        }
    }
    rows
}

impl Analysis {
    /// The step row of `runbook`/`step`.
    pub fn step(&self, runbook: &str, step: &str) -> Option<&StepRow> {
        self.steps
            .iter()
            .find(|s| s.runbook == runbook && s.step == step)
    }

    /// Where the steps' times start and end (for charts).
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let start = self.steps.iter().filter_map(|s| s.started).min()?;
        let end = self
            .steps
            .iter()
            .filter_map(|s| s.finished.or(s.started))
            .chain(self.incident.as_ref().and_then(|i| i.last_event))
            .max()?;
        Some((start, end.max(start)))
    }

    /// A drill that counts as a success: closed, every runbook recovered, its clean-up
    /// done, the whole plan run for real (not a dry run, not scoped), and a log to trust.
    pub fn succeeded(&self) -> bool {
        self.incident.as_ref().is_some_and(|i| i.closed.is_some())
            && self.plan.recovered
            && self.plan.cleanup.is_clear()
            && self.integrity.trustworthy
            && self.left_out_of_trend().is_none()
    }

    /// Why this run's recovery time is no point of a trend: it failed, is still open, was a
    /// dry run or a read-only rehearsal, or ran part of the plan. `None`: it belongs in the
    /// trend.
    pub fn left_out_of_trend(&self) -> Option<&'static str> {
        let i = self.incident.as_ref()?;
        if i.closed.is_none() {
            Some("still open")
        } else if i.level == Some(RehearsalLevel::DryRun) {
            Some("dry run")
        } else if i.level == Some(RehearsalLevel::ReadOnly) {
            Some("read-only rehearsal")
        } else if i.scoped {
            Some("scoped to part of the plan")
        } else if !self.plan.recovered {
            Some("not recovered")
        } else if !self.plan.cleanup.is_clear() {
            // What the drill changed is not undone: its times are not a clean drill's.
            Some("clean-up not done")
        } else {
            None
        }
    }

    /// The key that says two logs ran the same plan: the plan id, else the runbook ids.
    pub fn plan_key(&self) -> String {
        match self.incident.as_ref().and_then(|i| i.plan.clone()) {
            Some(p) => p,
            None => {
                let mut ids: Vec<&str> = self.runbooks.iter().map(|r| r.id.as_str()).collect();
                ids.sort_unstable();
                format!("runbooks:{}", ids.join(","))
            }
        }
    }
}

/// The runbook file's steps when they are the ones that ran: not when the file has changed
/// since (its steps may have been added, removed or renamed) or is gone.
fn steps_trusted<'a>(sources: &'a Sources, id: &str) -> Option<&'a super::sources::RunbookInfo> {
    match sources.file_status(id) {
        FileStatus::Unchanged | FileStatus::Unknown => sources.runbook(id),
        FileStatus::Changed { .. } | FileStatus::Missing { .. } => None,
    }
}

/// What an assessment found, with the read behind it (`down: expected ..., actual ...`).
fn finding_text(s: &drbook_core::incident::StepState) -> Option<String> {
    if s.status != StepStatus::Assessed {
        return None;
    }
    let found = s.outputs.get("finding")?;
    let detail = s
        .outputs
        .get("summary")
        .and_then(|t| t.strip_prefix(&format!("finding: {found}: ")))
        .and_then(|t| t.lines().next());
    Some(match detail {
        Some(d) => format!("{found}: {d}"),
        None => found.clone(),
    })
}

/// The operators once each: `alice (--auto-approve)` or `alice (answers file a.toml)` (how
/// an answer is attributed) is alice; drbook answering what nobody answered is no operator.
fn operators(all: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for o in all {
        let name = match o.find(" (") {
            Some(i) if o.ends_with(')') => &o[..i],
            _ => o.as_str(),
        };
        if name == "drbook" {
            continue;
        }
        if !out.iter().any(|x| x == name) {
            out.push(name.to_string());
        }
    }
    out
}

fn between(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<u64> {
    u64::try_from((b? - a?).num_milliseconds()).ok()
}

pub fn status_name(s: StepStatus) -> &'static str {
    match s {
        StepStatus::NotStarted => "not_started",
        StepStatus::Running => "running",
        StepStatus::WaitingForConfirmation => "waiting_for_confirmation",
        StepStatus::WaitingForApproval => "waiting_for_approval",
        StepStatus::Done => "done",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "skipped",
        StepStatus::Interrupted => "interrupted",
        StepStatus::Assessed => "assessed",
    }
}

/// Who (other than drbook itself) finished or skipped each step.
fn who_acted(events: &[Event]) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for e in events {
        if let EventKind::StepFinished { runbook, step, .. }
        | EventKind::StepSkipped { runbook, step, .. } = &e.kind
            && e.actor != "drbook"
        {
            out.insert((runbook.clone(), step.clone()), e.actor.clone());
        }
    }
    out
}

/// Two-person steps waiting for a commander: asked → answered, one wait each.
fn approval_waits(state: &IncidentState) -> Vec<HumanWait> {
    state
        .runbooks
        .iter()
        .flat_map(|r| r.steps.iter().map(move |s| (r, s)))
        .filter_map(|(r, s)| {
            let a = s.approval.as_ref()?;
            let ans = a.answer.as_ref()?;
            let ms = u64::try_from((ans.ts - a.requested).num_milliseconds()).ok()?;
            (ms > 0).then(|| HumanWait {
                runbook: r.id.clone(),
                step: s.id.clone(),
                what: "approval",
                ms,
                who: Some(ans.by.clone()),
            })
        })
        .collect()
}

/// Time spent waiting on a person: an answered confirmation's ask → answer, and a manual
/// step's start → finish (a step a person finished counts as manual when the file is
/// unknown).
fn human_wait(
    s: &drbook_core::incident::StepState,
    kind: Option<&str>,
    finished_by_person: bool,
) -> Option<u64> {
    let confirm = s
        .confirmation
        .as_ref()
        .and_then(|c| Some((c.answer.as_ref()?.ts - c.requested).num_milliseconds()))
        .and_then(|ms| u64::try_from(ms).ok());
    let manual = match kind {
        Some(k) => k == "manual",
        None => finished_by_person,
    };
    let by_hand = if manual {
        between(s.started, s.finished)
    } else {
        None
    };
    match (confirm, by_hand) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

fn notes(state: &IncidentState) -> Vec<NoteRow> {
    let mut out: Vec<NoteRow> = state
        .notes
        .iter()
        .map(|n| (n, None))
        .chain(state.runbooks.iter().flat_map(|r| {
            r.steps
                .iter()
                .flat_map(|s| s.notes.iter().map(|n| (n, Some(s.id.clone()))))
        }))
        .map(|(n, step)| NoteRow {
            ts: n.ts,
            actor: n.actor.clone(),
            runbook: n.runbook.clone(),
            step,
            text: n.text.clone(),
        })
        .collect();
    out.sort_by_key(|n| n.ts);
    out
}

/// A runbook's measured data-loss window in milliseconds, and the step that measured it: the
/// last finished step with an `rpo_achieved` output. A duration is the window at the time it
/// was read; from then back to the outage start nothing more was written to the failed
/// region, so that part is taken off when the log says when the outage began.
fn rpo_achieved(
    rb: &drbook_core::incident::state::RunbookState,
    outage: Option<DateTime<Utc>>,
) -> Option<(u64, String)> {
    let (st, raw) = rb
        .steps
        .iter()
        .filter_map(|s| s.outputs.get(RPO_OUTPUT).map(|v| (s, v)))
        .max_by_key(|(s, _)| s.finished)?;
    let measured = st.finished.or(st.started)?;
    let safe_until = match DateTime::parse_from_rfc3339(raw.trim()) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => {
            let window = scorecard_duration(raw)?;
            measured - chrono::Duration::from_std(window).ok()?
        }
    };
    let lost_until = outage
        .filter(|o| *o > safe_until && *o < measured)
        .unwrap_or(measured);
    let ms = (lost_until - safe_until).num_milliseconds().max(0) as u64;
    Some((ms, format!("{}/{}", rb.id, st.id)))
}

fn scorecard_duration(s: &str) -> Option<std::time::Duration> {
    drbook_core::time::parse_duration(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{RunbookInfo, StepInfo};
    use chrono::TimeDelta;
    use drbook_core::incident::Outcome;
    use drbook_core::incident::event::tests::sample_header;

    const RB: &str = "web-failover";

    /// Events at the given second offsets from 01:00:00, after the header.
    fn events(kinds: Vec<(i64, &str, EventKind)>) -> Vec<Event> {
        let t0 = DateTime::parse_from_rfc3339("2026-11-25T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut all = vec![(0, "alice", EventKind::IncidentStarted(sample_header()))];
        all.extend(kinds);
        all.into_iter()
            .enumerate()
            .map(|(i, (at, actor, kind))| Event {
                seq: i as u64 + 1,
                ts: t0 + TimeDelta::seconds(at),
                actor: actor.into(),
                kind,
                prev: String::new(),
                hash: format!("h{}", i + 1),
            })
            .collect()
    }

    fn start(step: &str) -> EventKind {
        EventKind::StepStarted {
            runbook: RB.into(),
            step: step.into(),
            title: None,
            attempt: 1,
        }
    }

    fn finish(step: &str, secs: u64) -> EventKind {
        EventKind::StepFinished {
            runbook: RB.into(),
            step: step.into(),
            outcome: Outcome::Ok,
            duration_ms: secs * 1000,
            outputs: BTreeMap::new(),
            error: None,
        }
    }

    /// a and b in parallel (b slower), c after both with a confirmation bob takes 3s to give,
    /// then the manual step m that alice takes 3s over.
    fn incident() -> Vec<Event> {
        events(vec![
            (1, "drbook", start("a")),
            (1, "drbook", start("b")),
            (2, "drbook", finish("a", 1)),
            (5, "drbook", finish("b", 4)),
            (
                5,
                "drbook",
                EventKind::ConfirmationRequested {
                    runbook: RB.into(),
                    step: "c".into(),
                    prompt: "Go?".into(),
                },
            ),
            (
                8,
                "bob",
                EventKind::Confirmed {
                    runbook: RB.into(),
                    step: "c".into(),
                    by: "bob".into(),
                    approved: true,
                },
            ),
            (8, "drbook", start("c")),
            (9, "drbook", finish("c", 1)),
            (9, "drbook", start("m")),
            (
                10,
                "alice",
                EventKind::Note {
                    runbook: Some(RB.into()),
                    step: Some("m".into()),
                    text: "status page updated".into(),
                },
            ),
            (12, "alice", finish("m", 3)),
            (
                13,
                "alice",
                EventKind::IncidentClosed {
                    outcome: IncidentOutcome::Rehearsed,
                    summary: None,
                },
            ),
        ])
    }

    fn sources() -> Sources {
        let step = |kind: &str, deps: &[&str]| StepInfo {
            title: "t".into(),
            kind: kind.into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            stops_on_failure: true,
            traffic: false,
        };
        let mut s = Sources::default();
        s.runbooks.insert(
            RB.into(),
            RunbookInfo {
                title: Some("Web".into()),
                rto: Some("30m".into()),
                rpo: Some("5m".into()),
                steps: vec![
                    ("a".into(), step("check", &[])),
                    ("b".into(), step("check", &[])),
                    ("c".into(), step("action", &["a", "b"])),
                    ("m".into(), step("manual", &["c"])),
                    ("never".into(), step("probe", &["m"])),
                ],
            },
        );
        s
    }

    fn path(a: &Analysis) -> Vec<&str> {
        a.critical_path.iter().map(|r| r.step.as_str()).collect()
    }

    #[test]
    fn the_critical_path_follows_the_latest_finishing_dependency() {
        let a = analyze_events(&incident(), &Integrity::Intact { events: 13 }, &sources());
        assert_eq!(path(&a), ["b", "c", "m"]);
        assert!(a.step(RB, "b").unwrap().on_critical_path);
        assert!(!a.step(RB, "a").unwrap().on_critical_path);
        // Without the runbook file, the order in time gives the same chain here.
        let a = analyze_events(
            &incident(),
            &Integrity::Intact { events: 13 },
            &Sources::default(),
        );
        assert_eq!(path(&a), ["b", "c", "m"]);
    }

    #[test]
    fn waits_on_people_targets_and_notes_are_reported() {
        let a = analyze_events(&incident(), &Integrity::Intact { events: 13 }, &sources());
        let waits: Vec<(&str, &str, u64)> = a
            .human_waits
            .iter()
            .map(|w| (w.step.as_str(), w.what, w.ms))
            .collect();
        assert_eq!(waits, [("c", "confirmation", 3000), ("m", "manual", 3000)]);
        assert_eq!(a.step(RB, "m").unwrap().acted_by.as_deref(), Some("alice"));
        assert_eq!(
            a.step(RB, "c").unwrap().confirmed_by.as_deref(),
            Some("bob")
        );
        let rb = &a.runbooks[0];
        assert_eq!(
            (rb.rto_target.as_deref(), rb.rpo_target.as_deref()),
            (Some("30m"), Some("5m"))
        );
        // `never` is in the file and never ran: the runbook did not recover, so neither did
        // the plan, however the incident was closed.
        assert!(!rb.recovered && !a.plan.recovered);
        assert_eq!(rb.verdict, "not finished: 4 of 5 done or skipped");
        assert_eq!(
            a.plan.verdict,
            "dry run: NOT RECOVERED: 1 runbook not finished"
        );
        assert_eq!((a.plan.steps_done, a.plan.steps_total), (4, Some(5)));
        assert_eq!(a.step(RB, "never").unwrap().status, "not_started");
        assert_eq!(a.notes[0].text, "status page updated");
        assert_eq!(a.notes[0].step.as_deref(), Some("m"));
        assert_eq!(a.operators, ["alice", "bob"]);
    }

    #[test]
    fn the_critical_path_of_a_twenty_thousand_step_chain_is_computed() {
        const N: usize = 20_000;
        let ids: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
        let mut kinds = Vec::with_capacity(2 * N);
        for (i, id) in ids.iter().enumerate() {
            kinds.push((i as i64 + 1, "drbook", start(id)));
            kinds.push((i as i64 + 1, "drbook", finish(id, 0)));
        }
        let events = events(kinds);
        let state = IncidentState::fold(&events);
        // From the file's depends_on, and without the file (by time).
        let mut with_file = Sources::default();
        with_file.runbooks.insert(
            RB.into(),
            RunbookInfo {
                steps: ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let deps = if i == 0 {
                            vec![]
                        } else {
                            vec![ids[i - 1].clone()]
                        };
                        (
                            id.clone(),
                            StepInfo {
                                title: "t".into(),
                                kind: "manual".into(),
                                depends_on: deps,
                                stops_on_failure: true,
                                traffic: false,
                            },
                        )
                    })
                    .collect(),
                ..RunbookInfo::default()
            },
        );
        for sources in [with_file, Sources::default()] {
            let path = super::super::critical::critical_path(&state, &sources);
            assert_eq!(path.len(), N);
            assert_eq!(path[0].step, "s0");
            assert_eq!(path[N - 1].step, format!("s{}", N - 1));
        }
    }

    fn cleanup_started(steps: &[(&str, &str)]) -> EventKind {
        EventKind::CleanupStarted {
            runbook: RB.into(),
            steps: steps
                .iter()
                .map(|(step, undoes)| drbook_core::incident::CleanupStep {
                    step: step.to_string(),
                    undoes: undoes.to_string(),
                })
                .collect(),
        }
    }

    fn cleanup_finished() -> EventKind {
        EventKind::CleanupFinished {
            runbook: RB.into(),
            outcome: Outcome::Ok,
            error: None,
        }
    }

    #[test]
    fn the_cleanups_are_rows_of_their_own_with_how_each_last_ended() {
        let failed = EventKind::StepFinished {
            runbook: RB.into(),
            step: "undo-b".into(),
            outcome: Outcome::Failed,
            duration_ms: 10,
            outputs: BTreeMap::new(),
            error: Some("HTTP 409".into()),
        };
        let declined = EventKind::StepSkipped {
            runbook: RB.into(),
            step: "undo-a".into(),
            reason: "declined by drbook (no --answers file)".into(),
        };
        let a = analyze_events(
            &events(vec![
                (1, "drbook", start("a")),
                (2, "drbook", finish("a", 1)),
                (3, "drbook", start("b")),
                (4, "drbook", finish("b", 1)),
                (
                    5,
                    "drbook",
                    cleanup_started(&[("undo-b", "b"), ("undo-a", "a")]),
                ),
                (6, "drbook", start("undo-b")),
                (7, "drbook", failed),
                (
                    8,
                    "drbook (no --answers file)",
                    EventKind::Confirmed {
                        runbook: RB.into(),
                        step: "undo-a".into(),
                        by: "drbook (no --answers file)".into(),
                        approved: false,
                    },
                ),
                (8, "drbook (no --answers file)", declined),
                (9, "drbook", cleanup_finished()),
            ]),
            &Integrity::Intact { events: 11 },
            &Sources::default(),
        );
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
        );
        let rows: Vec<Row> = a
            .cleanups
            .iter()
            .map(|c| {
                (
                    c.step.as_str(),
                    c.undoes.as_deref(),
                    c.outcome,
                    c.reason.as_deref(),
                    c.by.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "undo-b",
                    Some("b"),
                    "failed",
                    Some("HTTP 409"),
                    Some("drbook")
                ),
                (
                    "undo-a",
                    Some("a"),
                    "skipped",
                    Some("declined by drbook (no --answers file)"),
                    Some("drbook (no --answers file)")
                ),
            ]
        );
        // Nobody but drbook answered: no operator is made up from its attribution.
        assert_eq!(a.operators, ["alice"]);
        assert_eq!(a.step(RB, "undo-a").unwrap().confirmed, Some(false));
        // The steps of the recovery are no clean-up.
        assert!(a.cleanups.iter().all(|c| c.step != "a" && c.step != "b"));
    }

    #[test]
    fn an_older_log_s_cleanup_is_the_runbook_s_steps_between_start_and_finish() {
        let a = analyze_events(
            &events(vec![
                (1, "drbook", start("a")),
                (2, "drbook", finish("a", 1)),
                (3, "drbook", cleanup_started(&[])),
                (4, "drbook", start("undo-a")),
                (5, "drbook", finish("undo-a", 1)),
                (6, "drbook", cleanup_finished()),
                (7, "drbook", start("after")),
            ]),
            &Integrity::Intact { events: 8 },
            &Sources::default(),
        );
        let rows: Vec<(&str, Option<&str>, &str)> = a
            .cleanups
            .iter()
            .map(|c| (c.step.as_str(), c.undoes.as_deref(), c.outcome))
            .collect();
        assert_eq!(rows, [("undo-a", None, "done")]);
    }

    #[test]
    fn without_the_file_a_finished_incident_is_recovered_within_no_target() {
        let a = analyze_events(
            &incident(),
            &Integrity::Intact { events: 13 },
            &Sources::default(),
        );
        // Closed as rehearsed with every step the log names settled: recovered, but a dry
        // run is no successful drill.
        assert!(a.plan.recovered && !a.succeeded());
        assert_eq!(a.left_out_of_trend(), Some("dry run"));
        assert_eq!(a.plan.took_ms, Some(11_000));
        assert_eq!(a.runbooks[0].verdict, "recovered; no RTO set");
        assert_eq!(
            a.plan.verdict,
            "dry run: every step done or skipped, nothing changed"
        );
        assert_eq!(a.plan.steps_total, None);
        assert_eq!(a.plan_key(), "westeurope-outage");
    }

    /// An assessment that found the primary down is a finding: settled (the runbook
    /// recovers), listed under findings with what it read, never under failed steps.
    #[test]
    fn a_finding_is_settled_and_reported_apart_from_failures() {
        let found = EventKind::StepFinished {
            runbook: RB.into(),
            step: "a".into(),
            outcome: Outcome::Finding,
            duration_ms: 1000,
            outputs: BTreeMap::from([
                ("finding".to_string(), "down".to_string()),
                (
                    "summary".to_string(),
                    "finding: down: expected properties.availabilityState = Available, actual Unavailable"
                        .to_string(),
                ),
            ]),
            error: None,
        };
        let evs = events(vec![
            (1, "drbook", start("a")),
            (2, "drbook", found),
            (2, "drbook", start("b")),
            (3, "drbook", finish("b", 1)),
            (
                4,
                "alice",
                EventKind::IncidentClosed {
                    outcome: drbook_core::incident::IncidentOutcome::Rehearsed,
                    summary: None,
                },
            ),
        ]);
        let mut s = sources();
        if let Some(rb) = s.runbooks.get_mut(RB) {
            rb.steps.truncate(2);
        }
        let a = analyze_events(&evs, &Integrity::Intact { events: evs.len() }, &s);
        assert!(a.failed.is_empty(), "{:?}", a.failed);
        assert_eq!(a.findings.len(), 1);
        let row = a.step(RB, "a").unwrap();
        assert_eq!(row.status, "assessed");
        assert_eq!(
            row.finding.as_deref(),
            Some("down: expected properties.availabilityState = Available, actual Unavailable")
        );
        assert!(a.runbooks[0].recovered, "{:?}", a.runbooks[0]);
        let md = crate::markdown::render(&a);
        let findings = md.split("## Findings").nth(1).unwrap_or_default();
        assert!(
            findings.contains("`web-failover/a` (t): finding: down: expected"),
            "{md}"
        );
        let failed = md.split("## Failed steps").nth(1).unwrap_or_default();
        let failed = failed.split("## ").next().unwrap_or_default();
        assert!(failed.contains("None."), "{md}");
    }
}
