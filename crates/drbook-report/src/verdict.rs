//! The one verdict on an incident: per runbook recovered or not and against its RTO, the
//! step totals (runbooks that never started included), the plan's RECOVERED or NOT
//! RECOVERED with the reason, the critical path as it ran and whether the clean-up is done.
//! The headless scorecard, the review and TUI summaries, the header and every report format
//! read it from here, so no two of them can disagree on the same log.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::sources::{FileStatus, Sources};
use drbook_core::incident::state::{RunbookState, StepState};
use drbook_core::incident::{
    IncidentOutcome, IncidentState, Outcome, RehearsalLevel, RunbookRef, StepRef, StepStatus,
};
use drbook_core::time::parse_duration;

/// Where a runbook got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunbookStatus {
    /// Every step done or deliberately skipped.
    Recovered,
    /// At least one step failed (or was interrupted and not run again).
    Failed,
    /// No step of it ran.
    NotStarted,
    /// Some steps ran, none failed, but not all of them are done or skipped.
    NotFinished,
    /// None failed, but a change was declined at its confirmation (by a person, or by drbook
    /// for want of an answer): what it would have changed did not happen.
    Declined,
}

/// One runbook's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct RunbookVerdict {
    pub id: String,
    /// As written (`30m`): from the log header, else the runbook file.
    pub rto_text: Option<String>,
    pub rto: Option<Duration>,
    /// First recovery step's start and last one's end (clean-up steps left out).
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub took: Option<Duration>,
    /// Steps finished in any way (done, failed, skipped).
    pub steps_done: usize,
    /// Steps done or deliberately skipped.
    pub steps_settled: usize,
    /// Steps failed or interrupted.
    pub steps_failed: usize,
    /// Changes declined at their confirmation (skipped, but no recovery).
    pub steps_declined: usize,
    /// Its steps, from the log header (or the unchanged file); `None`: unknown (an old log
    /// whose runbook file changed or is gone).
    pub steps_total: Option<usize>,
    pub status: RunbookStatus,
    /// Steps the log names that are not the runbook's own (clean-up and rollback steps):
    /// left out of its counts and time.
    pub other_steps: Vec<String>,
}

impl RunbookVerdict {
    pub fn recovered(&self) -> bool {
        self.status == RunbookStatus::Recovered
    }

    /// Within its RTO: only ever said of a recovered runbook with an RTO.
    pub fn within_rto(&self) -> Option<bool> {
        if !self.recovered() {
            return None;
        }
        Some(self.took? <= self.rto?)
    }

    /// `28/156`, or `28/?` when the total is unknown.
    pub fn steps_text(&self) -> String {
        steps_text(self.steps_done, self.steps_total)
    }

    /// ✔ only for a recovered runbook.
    pub fn mark(&self) -> &'static str {
        match self.status {
            RunbookStatus::Recovered => "✔",
            RunbookStatus::Failed => "✘",
            RunbookStatus::NotFinished => "…",
            RunbookStatus::Declined => "✘",
            RunbookStatus::NotStarted => "·",
        }
    }

    /// The verdict in words: `within RTO (5% used)`, `OVER RTO by 2m`, `NOT RECOVERED: 1
    /// failed`, `not finished: 5 of 14 done or skipped`, `not started`.
    pub fn words(&self) -> String {
        match self.status {
            RunbookStatus::Recovered => against(self.took, self.rto, "recovered; no RTO set"),
            RunbookStatus::Failed => format!("NOT RECOVERED: {} failed", self.steps_failed),
            RunbookStatus::NotFinished => format!(
                "not finished: {} of {} done or skipped",
                self.steps_settled,
                self.steps_total.map_or("?".into(), |t| t.to_string())
            ),
            RunbookStatus::NotStarted => "not started".into(),
            RunbookStatus::Declined => format!(
                "NOT RECOVERED: {} {} declined",
                self.steps_declined,
                if self.steps_declined == 1 {
                    "change"
                } else {
                    "changes"
                }
            ),
        }
    }
}

/// Whether the clean-up a full rehearsal owes is done (from the log alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupStatus {
    /// Nothing with a `cleanup` changed anything.
    NotNeeded,
    /// Every clean-up begun or owed finished ok.
    Done,
    /// A step with a `cleanup` is done and its clean-up has not run (or not finished).
    Owed,
    /// A clean-up finished otherwise than ok.
    Failed,
}

impl CleanupStatus {
    pub fn words(self) -> &'static str {
        match self {
            CleanupStatus::NotNeeded => "not needed",
            CleanupStatus::Done => "done",
            CleanupStatus::Owed => "OWED: what the rehearsal changed is not undone",
            CleanupStatus::Failed => "FAILED: check by hand",
        }
    }

    /// Nothing is left to undo.
    pub fn is_clear(self) -> bool {
        matches!(self, CleanupStatus::NotNeeded | CleanupStatus::Done)
    }
}

/// The incident's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Every runbook of the incident (those in the header first), in the log's order.
    pub runbooks: Vec<RunbookVerdict>,
    pub plan_rto_text: Option<String>,
    pub plan_rto: Option<Duration>,
    /// First recovery step's start to the last one's end, over every runbook.
    pub took: Option<Duration>,
    pub steps_done: usize,
    pub steps_settled: usize,
    pub steps_failed: usize,
    /// `None` when some runbook's total is unknown.
    pub steps_total: Option<usize>,
    /// Runbooks by status.
    pub failed: usize,
    /// Runbooks none of whose steps failed, with a change declined.
    pub declined: usize,
    pub not_started: usize,
    pub not_finished: usize,
    /// Every runbook in scope recovered (and the incident not closed as failed or aborted).
    pub recovered: bool,
    /// How the incident closed; `None` while it is open.
    pub closed: Option<IncidentOutcome>,
    /// A dry run: nothing was changed, so nothing was recovered for real.
    pub dry_run: bool,
    /// A read-only rehearsal: every change skipped, so nothing recovered for real either.
    pub read_only: bool,
    /// Run for some regions or components only.
    pub scoped: bool,
    /// The steps that set the finish, first to last.
    pub critical_path: Vec<StepRef>,
    pub cleanup: CleanupStatus,
}

impl Verdict {
    /// `RECOVERED; within RTO (40% used)`, `NOT RECOVERED: 2 runbooks failed, 10 not started`;
    /// a dry run says it changed nothing.
    pub fn words(&self) -> String {
        let dry = match (self.dry_run, self.read_only) {
            (true, _) => "dry run: ",
            (_, true) => "read-only: ",
            _ => "",
        };
        if self.recovered && !dry.is_empty() {
            // Nothing was changed: the rehearsal shows the plan holds together, not a recovery.
            return format!("{dry}every step done or skipped, nothing changed");
        }
        if self.recovered {
            let t = against(self.took, self.plan_rto, "no plan RTO set");
            let mut words = format!("RECOVERED; {t}");
            // The plan within its RTO says nothing of a runbook that broke its own.
            let over: Vec<String> = self
                .runbooks
                .iter()
                .filter(|r| r.within_rto() == Some(false))
                .filter_map(|r| {
                    let by = r.took?.checked_sub(r.rto?)?;
                    Some(format!(
                        "{} by {}",
                        r.id,
                        drbook_core::time::exact(round(by))
                    ))
                })
                .collect();
            if !over.is_empty() {
                words.push_str(&format!(
                    "; {} over {} RTO: {}",
                    if over.len() == 1 {
                        "1 runbook".to_string()
                    } else {
                        format!("{} runbooks", over.len())
                    },
                    if over.len() == 1 { "its" } else { "their" },
                    over.join(", ")
                ));
            }
            match self.cleanup {
                CleanupStatus::Failed => words.push_str("; clean-up FAILED: check by hand"),
                CleanupStatus::Owed if self.closed.is_some() => {
                    words.push_str("; clean-up OWED: what the rehearsal changed is not undone")
                }
                _ => {}
            }
            return words;
        }
        format!("{dry}NOT RECOVERED: {}", self.reason())
    }

    /// Why it is not recovered: `1 failed, 10 not started, 1 not finished` (runbooks).
    pub fn reason(&self) -> String {
        let mut why = Vec::new();
        for (n, what) in [
            (self.failed, "failed"),
            (self.declined, "with a change declined"),
            (self.not_started, "not started"),
            (self.not_finished, "not finished"),
        ] {
            if n > 0 {
                let rb = if why.is_empty() {
                    if n == 1 { " runbook" } else { " runbooks" }
                } else {
                    ""
                };
                why.push(format!("{n}{rb} {what}"));
            }
        }
        if why.is_empty() {
            return match self.closed {
                _ if self.runbooks.is_empty() => "no runbook ran".into(),
                Some(o) => format!("closed as {}", outcome_words(o)),
                None => "the incident is still open".into(),
            };
        }
        why.join(", ")
    }

    /// `28/156`, or `28/?` when some total is unknown.
    pub fn steps_text(&self) -> String {
        steps_text(self.steps_done, self.steps_total)
    }

    /// Within the plan's RTO: only ever said of a recovered plan with an RTO.
    pub fn within_rto(&self) -> Option<bool> {
        if !self.recovered {
            return None;
        }
        Some(self.took? <= self.plan_rto?)
    }

    pub fn runbook(&self, id: &str) -> Option<&RunbookVerdict> {
        self.runbooks.iter().find(|r| r.id == id)
    }
}

fn outcome_words(o: IncidentOutcome) -> &'static str {
    match o {
        IncidentOutcome::Recovered => "recovered",
        IncidentOutcome::PartiallyRecovered => "partially recovered",
        IncidentOutcome::Failed => "failed",
        IncidentOutcome::Aborted => "aborted",
        IncidentOutcome::Rehearsed => "rehearsed",
    }
}

fn steps_text(done: usize, total: Option<usize>) -> String {
    match total {
        Some(t) => format!("{done}/{t}"),
        None => format!("{done}/?"),
    }
}

/// `took` against `rto`: `within RTO (5% used)`, `OVER RTO by 2m`, or `none` without one.
fn against(took: Option<Duration>, rto: Option<Duration>, none: &str) -> String {
    match (took, rto) {
        (Some(t), Some(r)) if t <= r => format!(
            "within RTO ({:.0}% used)",
            100.0 * t.as_secs_f64() / r.as_secs_f64().max(0.001)
        ),
        (Some(t), Some(r)) => format!("OVER RTO by {}", drbook_core::time::exact(round(t - r))),
        (None, Some(_)) => "took no time".into(),
        (_, None) => none.into(),
    }
}

/// To the second: `OVER RTO by 6m 12s`, not `6m 12s 500ms`; under a second, `1s`.
fn round(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().max(1))
}

/// The verdict of `state` (the fold of a log), with what `sources` knows of the runbook and
/// plan files (RTOs, dependencies, groups). The log header's step lists and RTOs come first:
/// a file that changed since the run says nothing of what ran.
pub fn verdict(state: &IncidentState, sources: &Sources) -> Verdict {
    let refs: Vec<&RunbookRef> = state
        .header
        .as_ref()
        .map(|h| h.runbooks.iter().collect())
        .unwrap_or_default();
    let closed = state.closed.as_ref().map(|c| c.outcome);
    let closed_ok = matches!(
        closed,
        Some(IncidentOutcome::Recovered | IncidentOutcome::Rehearsed)
    );
    // The runbooks with only their recovery steps (and only what the verdict reads of
    // them, so the header can ask every frame): clean-up and rollback steps are not part of
    // the recovery, so neither its time nor its critical path.
    let mut recovery = IncidentState::default();
    let mut runbooks = Vec::new();
    for rb in &state.runbooks {
        let r = refs.iter().find(|r| r.id == rb.id).copied();
        let planned = planned_steps(r, sources, &rb.id);
        recovery
            .runbooks
            .push(recovery_steps(rb, planned.as_deref()));
        let rb = recovery.runbooks.last().unwrap_or(rb);
        let rto_text = r
            .and_then(|r| r.rto.clone())
            .or_else(|| sources.runbook(&rb.id).and_then(|i| i.rto.clone()));
        let mut card = runbook_verdict(
            rb,
            planned.as_deref(),
            rto_text,
            closed_ok,
            state.outage_since,
        );
        card.other_steps = state
            .runbook(&card.id)
            .map(|all| {
                all.steps
                    .iter()
                    .filter(|s| rb.step(&s.id).is_none())
                    .map(|s| s.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        runbooks.push(card);
    }
    // Without a plan, one runbook's RTO is the incident's: "no plan RTO set" would hide a
    // target the run has.
    let plan_rto_text = match (&sources.plan, runbooks.as_slice()) {
        (Some(p), _) => p.rto.clone(),
        (None, [only]) => only.rto_text.clone(),
        (None, _) => None,
    };
    let first = runbooks.iter().filter_map(|r| r.started).min();
    let last = runbooks.iter().filter_map(|r| r.finished).max();
    let count = |s: RunbookStatus| runbooks.iter().filter(|r| r.status == s).count();
    let declined = count(RunbookStatus::Declined);
    let (failed, not_started, not_finished) = (
        count(RunbookStatus::Failed),
        count(RunbookStatus::NotStarted),
        count(RunbookStatus::NotFinished),
    );
    let recovered = !runbooks.is_empty()
        && runbooks.iter().all(RunbookVerdict::recovered)
        && !matches!(
            closed,
            Some(IncidentOutcome::Failed | IncidentOutcome::Aborted)
        );
    Verdict {
        plan_rto: plan_rto_text
            .as_deref()
            .and_then(|r| parse_duration(r).ok()),
        plan_rto_text,
        took: first.zip(last).and_then(|(s, e)| (e - s).to_std().ok()),
        steps_done: runbooks.iter().map(|r| r.steps_done).sum(),
        steps_settled: runbooks.iter().map(|r| r.steps_settled).sum(),
        steps_failed: runbooks.iter().map(|r| r.steps_failed).sum(),
        steps_total: runbooks.iter().map(|r| r.steps_total).sum(),
        failed,
        declined,
        not_started,
        not_finished,
        recovered,
        closed,
        dry_run: state.level() == Some(RehearsalLevel::DryRun),
        read_only: state.level() == Some(RehearsalLevel::ReadOnly),
        scoped: !(state.regions.is_empty() && state.components.is_empty()),
        critical_path: super::critical::critical_path(&recovery, sources),
        cleanup: cleanup_status(state, &refs),
        runbooks,
    }
}

/// The runbook's steps: from the log header, else from its file when that is still the file
/// that ran; `None` when neither says.
fn planned_steps(r: Option<&RunbookRef>, sources: &Sources, id: &str) -> Option<Vec<String>> {
    if let Some(r) = r.filter(|r| !r.steps.is_empty()) {
        return Some(r.steps.clone());
    }
    match sources.file_status(id) {
        FileStatus::Unchanged | FileStatus::Unknown => sources
            .runbook(id)
            .filter(|i| !i.steps.is_empty())
            .map(|i| i.steps.iter().map(|(s, _)| s.clone()).collect()),
        FileStatus::Changed { .. } | FileStatus::Missing { .. } => None,
    }
}

/// The runbook without the steps that are not its own: with its step list, those not in it
/// (rollbacks, clean-up steps); without it, those begun after its clean-up began.
fn recovery_steps(rb: &RunbookState, planned: Option<&[String]>) -> RunbookState {
    let cleanup = rb.cleanup_started;
    let steps = rb
        .steps
        .iter()
        .filter(|s| match planned {
            Some(p) => p.contains(&s.id),
            None => cleanup.is_none_or(|c| s.started.or(s.finished).is_none_or(|t| t < c)),
        })
        .map(|s| StepState {
            id: s.id.clone(),
            status: s.status,
            started: s.started,
            attempt_started: s.attempt_started,
            finished: s.finished,
            duration_ms: s.duration_ms,
            attempts: s.attempts,
            // Whether it was declined: no recovery.
            confirmation: s.confirmation.clone(),
            ..StepState::default()
        })
        .collect();
    RunbookState {
        id: rb.id.clone(),
        steps,
        ..RunbookState::default()
    }
}

/// Skipped because its confirmation was answered no.
fn declined(s: &StepState) -> bool {
    s.status == StepStatus::Skipped
        && s.confirmation
            .as_ref()
            .and_then(|c| c.answer.as_ref())
            .is_some_and(|a| !a.approved)
}

fn runbook_verdict(
    rb: &RunbookState,
    planned: Option<&[String]>,
    rto_text: Option<String>,
    closed_ok: bool,
    outage_since: Option<DateTime<Utc>>,
) -> RunbookVerdict {
    let steps = &rb.steps;
    // The RTO counts from the outage (`--since`), not from when drbook was started.
    let started = steps
        .iter()
        .filter_map(|s| s.started)
        .min()
        .map(|s| outage_since.unwrap_or(s));
    let finished = steps.iter().filter_map(|s| s.finished).max();
    let done = steps.iter().filter(|s| s.finished.is_some()).count();
    // An assessment's finding (the failed region is down) is what it was for: settled.
    let settled = steps
        .iter()
        .filter(|s| {
            matches!(
                s.status,
                StepStatus::Done | StepStatus::Skipped | StepStatus::Assessed
            )
        })
        .count();
    let failed = steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Failed | StepStatus::Interrupted))
        .count();
    // A change declined at its confirmation is skipped, but no recovery: what it would have
    // changed (traffic, the write region) did not happen, and the steps that verify it are
    // skipped as moot. Not settled, however deliberate.
    let declined = steps.iter().filter(|s| declined(s)).count();
    let settled = settled - declined;
    let total = planned.map(<[String]>::len);
    let touched = steps.iter().any(|s| s.status != StepStatus::NotStarted);
    let status = if failed > 0 {
        RunbookStatus::Failed
    } else if declined > 0 {
        RunbookStatus::Declined
    } else if !touched {
        RunbookStatus::NotStarted
    } else {
        match total {
            Some(t) if settled >= t => RunbookStatus::Recovered,
            Some(_) => RunbookStatus::NotFinished,
            // Without the step list, every step the log names settled is not enough: the
            // executor closing the incident as recovered says nothing was left.
            None if settled == steps.len() && closed_ok => RunbookStatus::Recovered,
            None => RunbookStatus::NotFinished,
        }
    };
    RunbookVerdict {
        id: rb.id.clone(),
        rto: rto_text.as_deref().and_then(|r| parse_duration(r).ok()),
        rto_text,
        started,
        finished,
        took: started
            .zip(finished)
            .and_then(|(s, e)| (e - s).to_std().ok()),
        steps_done: done,
        steps_settled: settled,
        steps_failed: failed,
        steps_declined: declined,
        steps_total: total,
        status,
        other_steps: Vec::new(),
    }
}

/// From the log: a clean-up is owed for a runbook once a full rehearsal has done one of the
/// steps the header says name a `cleanup`, and for any runbook whose clean-up began; it is
/// done when each of those finished ok.
fn cleanup_status(state: &IncidentState, refs: &[&RunbookRef]) -> CleanupStatus {
    let full = state.level() == Some(RehearsalLevel::Full);
    let mut owed = false;
    for rb in &state.runbooks {
        let changed = full
            && refs.iter().find(|r| r.id == rb.id).is_some_and(|r| {
                r.cleanups
                    .iter()
                    .any(|c| rb.step(c).is_some_and(|s| s.status == StepStatus::Done))
            });
        match rb.cleanup_outcome {
            Some(Outcome::Ok) => {}
            Some(_) => return CleanupStatus::Failed,
            None if changed || rb.cleanup_started.is_some() => owed = true,
            None => {}
        }
    }
    let began = state
        .runbooks
        .iter()
        .any(|r| r.cleanup_outcome.is_some() || r.cleanup_started.is_some());
    match (owed, began) {
        (true, _) => CleanupStatus::Owed,
        (false, true) => CleanupStatus::Done,
        (false, false) => CleanupStatus::NotNeeded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::incident::event::tests::sample_header;
    use drbook_core::incident::{Event, EventKind};
    use std::collections::BTreeMap;

    fn ev(seq: u64, secs: i64, kind: EventKind) -> Event {
        Event {
            seq,
            ts: DateTime::parse_from_rfc3339("2026-11-25T01:00:00Z")
                .expect("ts")
                .with_timezone(&Utc)
                + chrono::TimeDelta::seconds(secs),
            actor: "drbook".into(),
            kind,
            prev: String::new(),
            hash: format!("h{seq}"),
        }
    }

    fn ran(rb: &str, step: &str, at: i64, outcome: Outcome) -> Vec<(i64, EventKind)> {
        vec![
            (
                at,
                EventKind::StepStarted {
                    runbook: rb.into(),
                    step: step.into(),
                    title: None,
                    attempt: 1,
                },
            ),
            (
                at + 10,
                EventKind::StepFinished {
                    runbook: rb.into(),
                    step: step.into(),
                    outcome,
                    duration_ms: 10_000,
                    outputs: BTreeMap::new(),
                    error: None,
                },
            ),
        ]
    }

    /// Two runbooks in the header (web: a, b with a clean-up on b; db: x, y, z), then `rest`.
    fn log(rest: Vec<(i64, EventKind)>) -> IncidentState {
        let mut h = sample_header();
        h.level = Some(RehearsalLevel::Full);
        h.runbooks[0].steps = vec!["a".into(), "b".into()];
        h.runbooks[0].rto = Some("1m".into());
        h.runbooks[0].cleanups = vec!["b".into()];
        h.runbooks.push(RunbookRef {
            id: "db".into(),
            steps: vec!["x".into(), "y".into(), "z".into()],
            ..RunbookRef::default()
        });
        let mut all = vec![(0, EventKind::IncidentStarted(h))];
        all.extend(rest);
        let events: Vec<Event> = all
            .into_iter()
            .enumerate()
            .map(|(i, (at, k))| ev(i as u64 + 1, at, k))
            .collect();
        IncidentState::fold(&events)
    }

    #[test]
    fn never_started_runbooks_count_in_the_totals_and_the_plan_is_not_recovered() {
        let mut rest = ran("web-failover", "a", 1, Outcome::Ok);
        rest.extend(ran("web-failover", "b", 11, Outcome::Ok));
        let v = verdict(&log(rest), &Sources::default());
        let web = v.runbook("web-failover").expect("web");
        assert!(web.recovered());
        assert_eq!(web.mark(), "✔");
        assert_eq!(web.words(), "within RTO (33% used)");
        let db = v.runbook("db").expect("db");
        assert_eq!(db.status, RunbookStatus::NotStarted);
        assert_eq!(v.steps_text(), "2/5");
        assert!(!v.recovered);
        assert_eq!(v.words(), "NOT RECOVERED: 1 runbook not started");
        // b names a cleanup and is done in a full rehearsal: the clean-up is owed.
        assert_eq!(v.cleanup, CleanupStatus::Owed);
    }

    /// A change declined at its confirmation (here by drbook, for want of an answer) is no
    /// recovery: the runbook is NOT RECOVERED, never ✔, and the plan with it.
    #[test]
    fn a_declined_change_is_no_recovery() {
        let mut rest = ran("web-failover", "a", 1, Outcome::Ok);
        rest.push((
            11,
            EventKind::Confirmed {
                runbook: "web-failover".into(),
                step: "b".into(),
                by: "drbook (no --answers file)".into(),
                approved: false,
            },
        ));
        rest.push((
            12,
            EventKind::StepSkipped {
                runbook: "web-failover".into(),
                step: "b".into(),
                reason: "declined".into(),
            },
        ));
        let v = verdict(&log(rest), &Sources::default());
        let web = v.runbook("web-failover").expect("web");
        assert_eq!(web.status, RunbookStatus::Declined, "{web:?}");
        assert_eq!(web.mark(), "✘");
        assert_eq!(web.words(), "NOT RECOVERED: 1 change declined");
        assert!(!v.recovered);
        assert!(
            v.words().contains("1 runbook with a change declined"),
            "{}",
            v.words()
        );
    }

    /// The plan within its RTO names a runbook that broke its own.
    #[test]
    fn a_recovered_plan_names_the_runbooks_over_their_rto() {
        let mut rest = ran("web-failover", "a", 1, Outcome::Ok);
        // 1m 59s against web-failover's 1m RTO.
        rest.extend(ran("web-failover", "b", 110, Outcome::Ok));
        for (i, step) in ["x", "y", "z"].into_iter().enumerate() {
            rest.extend(ran("db", step, 1 + i as i64, Outcome::Ok));
        }
        let state = log(rest);
        let sources = Sources {
            plan: Some(super::super::sources::PlanInfo {
                id: "p".into(),
                rto: Some("1h".into()),
                groups: Vec::new(),
            }),
            ..Sources::default()
        };
        let v = verdict(&state, &sources);
        assert!(v.recovered, "{v:?}");
        assert!(
            v.words().starts_with("RECOVERED; within RTO")
                && v.words()
                    .contains("1 runbook over its RTO: web-failover by 59s"),
            "{}",
            v.words()
        );
    }

    /// An assessment's finding (the failed region is down) settles its step: the runbook is
    /// recovered, not "NOT RECOVERED: 1 failed".
    #[test]
    fn a_finding_counts_as_settled() {
        let mut rest = ran("web-failover", "a", 1, Outcome::Finding);
        rest.extend(ran("web-failover", "b", 11, Outcome::Ok));
        let v = verdict(&log(rest), &Sources::default());
        let web = v.runbook("web-failover").expect("web");
        assert_eq!(web.status, RunbookStatus::Recovered, "{web:?}");
        assert!(web.words().starts_with("within RTO"), "{}", web.words());
    }

    #[test]
    fn a_failed_step_is_never_recovered_nor_within_rto_and_cleanup_time_is_not_recovery() {
        let mut rest = ran("web-failover", "a", 1, Outcome::Ok);
        rest.extend(ran("web-failover", "b", 11, Outcome::Ok));
        rest.extend(ran("db", "x", 1, Outcome::Ok));
        rest.extend(ran("db", "y", 11, Outcome::Failed));
        rest.push((
            100,
            EventKind::CleanupStarted {
                runbook: "web-failover".into(),
                steps: vec![],
            },
        ));
        // The clean-up step (a rollback, not in the header's list) takes 10 minutes.
        rest.extend(ran("web-failover", "undo-b", 101, Outcome::Ok));
        rest.push((
            700,
            EventKind::CleanupFinished {
                runbook: "web-failover".into(),
                outcome: Outcome::Ok,
                error: None,
            },
        ));
        let v = verdict(&log(rest), &Sources::default());
        let web = v.runbook("web-failover").expect("web");
        assert_eq!(web.took, Some(Duration::from_secs(20)));
        assert_eq!(web.steps_text(), "2/2");
        assert_eq!(web.within_rto(), Some(true));
        let db = v.runbook("db").expect("db");
        assert_eq!(db.status, RunbookStatus::Failed);
        assert_eq!(db.within_rto(), None);
        assert_ne!(db.mark(), "✔");
        assert_eq!(db.words(), "NOT RECOVERED: 1 failed");
        assert_eq!(v.steps_text(), "4/5");
        assert_eq!(v.words(), "NOT RECOVERED: 1 runbook failed");
        assert_eq!(v.took, Some(Duration::from_secs(20)));
        assert_eq!(v.cleanup, CleanupStatus::Done);
        assert!(v.critical_path.iter().all(|s| s.step != "undo-b"));
    }

    #[test]
    fn a_recovered_runbook_is_held_against_its_rto() {
        let rv = |took: u64, rto: Option<u64>, status| RunbookVerdict {
            id: "x".into(),
            rto_text: None,
            rto: rto.map(Duration::from_secs),
            started: None,
            finished: None,
            took: Some(Duration::from_secs(took)),
            steps_done: 1,
            steps_settled: 1,
            steps_failed: 0,
            steps_declined: 0,
            steps_total: Some(1),
            status,
            other_steps: Vec::new(),
        };
        let ok = RunbookStatus::Recovered;
        assert_eq!(rv(60, Some(600), ok).words(), "within RTO (10% used)");
        assert_eq!(rv(900, Some(600), ok).words(), "OVER RTO by 5m");
        assert_eq!(rv(900, Some(600), ok).within_rto(), Some(false));
        assert_eq!(rv(1, None, ok).words(), "recovered; no RTO set");
        let not = rv(1, Some(600), RunbookStatus::NotStarted);
        assert_eq!(
            (not.words().as_str(), not.within_rto()),
            ("not started", None)
        );
    }

    #[test]
    fn an_old_log_without_step_lists_says_the_total_is_unknown() {
        let mut state = log(ran("web-failover", "a", 1, Outcome::Ok));
        if let Some(h) = state.header.as_mut() {
            for r in &mut h.runbooks {
                r.steps.clear();
            }
        }
        let v = verdict(&state, &Sources::default());
        assert_eq!(v.steps_total, None);
        assert_eq!(v.steps_text(), "1/?");
        let web = v.runbook("web-failover").expect("web");
        // Open, and nothing says what was left: not called recovered.
        assert_eq!(web.words(), "not finished: 1 of ? done or skipped");
        assert!(!v.recovered);
    }
}
