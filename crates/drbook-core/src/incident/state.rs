//! The incident's state as a pure fold over its events: per runbook and step (status,
//! times, confirmations, notes, outputs, retries, last check) and for the incident (mode,
//! operators, paused, closed). Resume and replay use the same fold: a step that started and
//! never finished becomes `interrupted` once the incident is resumed or closed, never `done`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::event::{
    Event, EventKind, Header, IncidentOutcome, Mode, Outcome, RehearsalLevel, Role, StepRef,
    Stream, Verdict,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepStatus {
    #[default]
    NotStarted,
    Running,
    WaitingForConfirmation,
    /// A two-person step waits for an incident commander other than its operator.
    WaitingForApproval,
    Done,
    Failed,
    Skipped,
    /// An assessment carried out: what it found is its `finding` output. Settled, as done.
    Assessed,
    /// Started and never finished: drbook stopped (crash, kill, power loss) or the incident
    /// was closed while it ran. What it did is unknown: look before running it again.
    Interrupted,
}

impl StepStatus {
    /// Started and not finished, as far as the log says.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            StepStatus::Running
                | StepStatus::WaitingForConfirmation
                | StepStatus::WaitingForApproval
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteEntry {
    pub ts: DateTime<Utc>,
    pub actor: String,
    pub runbook: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryEntry {
    pub ts: DateTime<Utc>,
    pub attempt: u32,
    pub reason: String,
    pub delay_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckEntry {
    pub ts: DateTime<Utc>,
    pub expected: String,
    pub actual: String,
    pub verdict: Verdict,
    pub source: String,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputEntry {
    pub ts: DateTime<Utc>,
    pub stream: Stream,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub requested: DateTime<Utc>,
    pub prompt: String,
    /// `None` while waiting.
    pub answer: Option<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub ts: DateTime<Utc>,
    pub by: String,
    pub approved: bool,
}

/// The two-person rule on one step: asked of a commander other than `operator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub requested: DateTime<Utc>,
    /// Who runs the step (and so cannot approve it).
    pub operator: String,
    pub prompt: String,
    /// `None` while waiting.
    pub answer: Option<ApprovalAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalAnswer {
    pub ts: DateTime<Utc>,
    pub by: String,
    pub role: Role,
    pub approved: bool,
    /// Whose terminal it was given at, when not the approver's.
    pub keyboard: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepState {
    pub id: String,
    pub title: Option<String>,
    pub status: StepStatus,
    /// When the first attempt started.
    pub started: Option<DateTime<Utc>>,
    /// When the last attempt started.
    pub attempt_started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// As the executor measured it (`step_finished`).
    pub duration_ms: Option<u64>,
    pub attempts: u32,
    pub retries: Vec<RetryEntry>,
    pub confirmation: Option<Confirmation>,
    /// The latest two-person approval asked for, and its answer.
    pub approval: Option<Approval>,
    pub notes: Vec<NoteEntry>,
    pub outputs: BTreeMap<String, String>,
    pub output: Vec<OutputEntry>,
    pub checks: u32,
    pub last_check: Option<CheckEntry>,
    pub error: Option<String>,
    pub skip_reason: Option<String>,
}

impl StepState {
    /// Who approved or declined it, if anyone was asked.
    pub fn confirmed_by(&self) -> Option<&str> {
        self.confirmation
            .as_ref()?
            .answer
            .as_ref()
            .map(|a| a.by.as_str())
    }

    /// Who approved it under the two-person rule (or declined: see `approval`).
    pub fn approved_by(&self) -> Option<&ApprovalAnswer> {
        self.approval.as_ref()?.answer.as_ref()
    }

    /// Who approved it, for a table cell: "bob (commander)", "declined by bob".
    pub fn approval_text(&self) -> Option<String> {
        let a = self.approved_by()?;
        let at = a
            .keyboard
            .as_ref()
            .map(|k| format!(" at {k}'s keyboard"))
            .unwrap_or_default();
        Some(if a.approved {
            format!("approved by {} ({}){at}", a.by, a.role)
        } else {
            format!("declined by {} ({}){at}", a.by, a.role)
        })
    }

    /// How long it took, or has taken so far at `now`.
    pub fn elapsed_ms(&self, now: DateTime<Utc>) -> Option<u64> {
        if let Some(d) = self.duration_ms {
            return Some(d);
        }
        let start = self.attempt_started.or(self.started)?;
        let end = self.finished.unwrap_or(now);
        Some(u64::try_from((end - start).num_milliseconds()).unwrap_or(0))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunbookState {
    pub id: String,
    /// From the header, when the runbook was declared there.
    pub file: Option<String>,
    pub sha256: Option<String>,
    /// In the order the log first mentions them.
    pub steps: Vec<StepState>,
    pub rollback_started: Option<DateTime<Utc>>,
    pub cleanup_started: Option<DateTime<Utc>>,
    pub cleanup_outcome: Option<Outcome>,
    /// Steps run as a rehearsal's clean-up (listed by `cleanup_started`): they undo the
    /// drill after the recovery, so they are not part of it (nor of its time).
    pub cleanup_steps: Vec<String>,
}

impl RunbookState {
    pub fn step(&self, id: &str) -> Option<&StepState> {
        self.steps.iter().find(|s| s.id == id)
    }

    fn step_mut(&mut self, id: &str) -> &mut StepState {
        match self.steps.iter().position(|s| s.id == id) {
            Some(i) => &mut self.steps[i],
            None => {
                self.steps.push(StepState {
                    id: id.into(),
                    ..StepState::default()
                });
                let last = self.steps.len() - 1;
                &mut self.steps[last]
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub ts: DateTime<Utc>,
    pub outcome: IncidentOutcome,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeEntry {
    pub ts: DateTime<Utc>,
    pub by: String,
    pub interrupted: Vec<StepRef>,
    /// What the incident had been closed as, when this resume reopened it.
    pub reopened: Option<IncidentOutcome>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncidentState {
    pub header: Option<Header>,
    pub started: Option<DateTime<Utc>>,
    /// The header's operators, then everyone else who acted, in order of first appearance.
    pub operators: Vec<String>,
    /// The role each person last took (`role_taken`); someone never named there is an
    /// operator (logs from before roles).
    pub roles: BTreeMap<String, Role>,
    pub regions: Vec<String>,
    pub components: Vec<String>,
    /// Declared in the header first, then in order of first mention.
    pub runbooks: Vec<RunbookState>,
    /// Notes not about one step.
    pub notes: Vec<NoteEntry>,
    pub paused_since: Option<DateTime<Utc>>,
    /// Time spent paused before `paused_since`.
    pub paused_ms: u64,
    pub abort_requested: Option<DateTime<Utc>>,
    /// When the outage began, as last set (`outage_start`): the RTO counts from here.
    pub outage_since: Option<DateTime<Utc>>,
    pub closed: Option<Closed>,
    pub resumes: Vec<ResumeEntry>,
    /// (line, dropped bytes) for each torn line cut off on resume.
    pub recoveries: Vec<(u64, u64)>,
    /// Events of kinds this drbook does not know (written by a newer one).
    pub unknown_events: u64,
    pub last_seq: u64,
    pub last_ts: Option<DateTime<Utc>>,
    /// Hash of the last event folded.
    pub head: String,
}

impl IncidentState {
    /// The state after every event.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> IncidentState {
        let mut state = IncidentState::default();
        let mut index = Index::default();
        for e in events {
            state.apply_with(e, Some(&mut index));
        }
        state
    }

    /// The state as it was at `ts`: the events up to and including it (replay).
    pub fn fold_until(events: &[Event], ts: DateTime<Utc>) -> IncidentState {
        IncidentState::fold(events.iter().take_while(|e| e.ts <= ts))
    }

    /// The state right after event `seq`.
    pub fn fold_through(events: &[Event], seq: u64) -> IncidentState {
        IncidentState::fold(events.iter().take_while(|e| e.seq <= seq))
    }

    pub fn mode(&self) -> Option<Mode> {
        self.header.as_ref().map(|h| h.mode)
    }

    pub fn level(&self) -> Option<RehearsalLevel> {
        self.header.as_ref().and_then(|h| h.level)
    }

    /// The role `who` holds (an operator unless the log says otherwise).
    pub fn role_of(&self, who: &str) -> Role {
        self.roles
            .iter()
            .find(|(name, _)| crate::roles::same_person(name, who))
            .map_or(Role::Operator, |(_, r)| *r)
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    pub fn runbook(&self, id: &str) -> Option<&RunbookState> {
        self.runbooks.iter().find(|r| r.id == id)
    }

    pub fn step(&self, runbook: &str, step: &str) -> Option<&StepState> {
        self.runbook(runbook)?.step(step)
    }

    /// Steps that started and have not finished: what a resume must mark interrupted.
    pub fn unfinished_steps(&self) -> Vec<StepRef> {
        self.runbooks
            .iter()
            .flat_map(|r| {
                r.steps
                    .iter()
                    .filter(|s| s.status.is_unfinished())
                    .map(|s| StepRef {
                        runbook: r.id.clone(),
                        step: s.id.clone(),
                    })
            })
            .collect()
    }

    /// The runbook `id`, added at the end if the log has not mentioned it yet. With an
    /// index (a fold from the start) it is found without searching.
    fn runbook_mut(&mut self, id: &str, index: Option<&mut Index>) -> &mut RunbookState {
        let at = match index {
            Some(index) => match index.runbooks.get(id) {
                Some(&i) => Some(i),
                None => {
                    index.runbooks.insert(id.into(), self.runbooks.len());
                    index.steps.push(HashMap::new());
                    None
                }
            },
            None => self.runbooks.iter().position(|r| r.id == id),
        };
        match at {
            Some(i) => &mut self.runbooks[i],
            None => {
                self.runbooks.push(RunbookState {
                    id: id.into(),
                    ..RunbookState::default()
                });
                let last = self.runbooks.len() - 1;
                &mut self.runbooks[last]
            }
        }
    }

    /// The step `step` of runbook `runbook`, each added at the end if new.
    fn step_mut(&mut self, runbook: &str, step: &str, index: Option<&mut Index>) -> &mut StepState {
        let Some(index) = index else {
            return self.runbook_mut(runbook, None).step_mut(step);
        };
        let rb = self.runbook_mut(runbook, Some(&mut *index));
        let r = index.runbooks[runbook];
        let steps = &mut index.steps[r];
        match steps.get(step) {
            Some(&i) => &mut rb.steps[i],
            None => {
                steps.insert(step.into(), rb.steps.len());
                rb.steps.push(StepState {
                    id: step.into(),
                    ..StepState::default()
                });
                let last = rb.steps.len() - 1;
                &mut rb.steps[last]
            }
        }
    }

    fn interrupt_unfinished(&mut self) {
        for s in self.runbooks.iter_mut().flat_map(|r| r.steps.iter_mut()) {
            if s.status.is_unfinished() {
                s.status = StepStatus::Interrupted;
            }
        }
    }

    fn add_operator(&mut self, who: &str) {
        // drbook itself is no operator, even when it records why it answered ("drbook (no
        // --answers file)").
        if !who.is_empty()
            && who != "drbook"
            && !who.starts_with("drbook (")
            && !self.operators.iter().any(|o| o == who)
        {
            self.operators.push(who.into());
        }
    }

    /// Applies one event (what the executor does right after `append` returns).
    pub fn apply(&mut self, e: &Event) {
        self.apply_with(e, None);
    }

    /// `apply`, finding runbooks and steps through `index` when the state was folded from
    /// the start with it (and by searching otherwise).
    fn apply_with(&mut self, e: &Event, mut index: Option<&mut Index>) {
        use EventKind::*;
        let ts = e.ts;
        self.last_seq = e.seq;
        self.last_ts = Some(ts);
        self.head.clone_from(&e.hash);
        match &e.kind {
            IncidentStarted(h) => {
                self.started = Some(ts);
                for op in &h.operators {
                    self.add_operator(op);
                }
                for r in &h.runbooks {
                    let rb = self.runbook_mut(&r.id, index.as_deref_mut());
                    rb.file = Some(r.file.clone());
                    rb.sha256 = Some(r.sha256.clone());
                }
                self.header = Some(h.clone());
            }
            ScopeSet {
                regions,
                components,
            } => {
                self.regions.clone_from(regions);
                self.components.clone_from(components);
            }
            StepStarted {
                runbook,
                step,
                title,
                attempt,
            } => {
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                s.status = StepStatus::Running;
                s.started.get_or_insert(ts);
                s.attempt_started = Some(ts);
                s.attempts = (*attempt).max(s.attempts + 1);
                if title.is_some() {
                    s.title.clone_from(title);
                }
                s.finished = None;
                s.duration_ms = None;
                s.error = None;
            }
            CheckResult {
                runbook,
                step,
                expected,
                actual,
                verdict,
                source,
                latency_ms,
            } => {
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                s.checks += 1;
                s.last_check = Some(CheckEntry {
                    ts,
                    expected: expected.clone(),
                    actual: actual.clone(),
                    verdict: *verdict,
                    source: source.clone(),
                    latency_ms: *latency_ms,
                });
            }
            OutputLine {
                runbook,
                step,
                stream,
                line,
            } => {
                self.step_mut(runbook, step, index.as_deref_mut())
                    .output
                    .push(OutputEntry {
                        ts,
                        stream: *stream,
                        line: line.clone(),
                    });
            }
            ConfirmationRequested {
                runbook,
                step,
                prompt,
            } => {
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                s.status = StepStatus::WaitingForConfirmation;
                s.confirmation = Some(Confirmation {
                    requested: ts,
                    prompt: prompt.clone(),
                    answer: None,
                });
            }
            Confirmed {
                runbook,
                step,
                by,
                approved,
            } => {
                self.add_operator(by);
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                let answer = Answer {
                    ts,
                    by: by.clone(),
                    approved: *approved,
                };
                match &mut s.confirmation {
                    Some(c) => c.answer = Some(answer),
                    None => {
                        s.confirmation = Some(Confirmation {
                            requested: ts,
                            prompt: String::new(),
                            answer: Some(answer),
                        })
                    }
                }
                // The executor records what follows (finished, skipped); until then the step
                // is in hand, or not yet begun if it was asked before starting.
                if s.status == StepStatus::WaitingForConfirmation {
                    s.status = if s.started.is_some() {
                        StepStatus::Running
                    } else {
                        StepStatus::NotStarted
                    };
                }
            }
            ApprovalRequested {
                runbook,
                step,
                operator,
                prompt,
            } => {
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                s.status = StepStatus::WaitingForApproval;
                s.approval = Some(Approval {
                    requested: ts,
                    operator: operator.clone(),
                    prompt: prompt.clone(),
                    answer: None,
                });
            }
            Approved {
                runbook,
                step,
                by,
                role,
                approved,
                keyboard,
            } => {
                self.add_operator(by);
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                let answer = ApprovalAnswer {
                    ts,
                    by: by.clone(),
                    role: *role,
                    approved: *approved,
                    keyboard: keyboard.clone(),
                };
                match &mut s.approval {
                    Some(a) => a.answer = Some(answer),
                    None => {
                        s.approval = Some(Approval {
                            requested: ts,
                            operator: String::new(),
                            prompt: String::new(),
                            answer: Some(answer),
                        })
                    }
                }
                // As after a confirmation: what follows (started, skipped) is recorded next.
                if s.status == StepStatus::WaitingForApproval {
                    s.status = if s.started.is_some() {
                        StepStatus::Running
                    } else {
                        StepStatus::NotStarted
                    };
                }
            }
            RoleTaken { operator, role } => {
                self.add_operator(operator);
                self.roles
                    .retain(|name, _| !crate::roles::same_person(name, operator));
                self.roles.insert(operator.clone(), *role);
            }
            StepFinished {
                runbook,
                step,
                outcome,
                duration_ms,
                outputs,
                error,
            } => {
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                s.status = match outcome {
                    Outcome::Ok => StepStatus::Done,
                    Outcome::Failed => StepStatus::Failed,
                    Outcome::Skipped => StepStatus::Skipped,
                    Outcome::Interrupted => StepStatus::Interrupted,
                    Outcome::Finding => StepStatus::Assessed,
                };
                s.finished = Some(ts);
                s.duration_ms = Some(*duration_ms);
                s.outputs
                    .extend(outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
                s.error.clone_from(error);
            }
            StepSkipped {
                runbook,
                step,
                reason,
            } => {
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                s.status = StepStatus::Skipped;
                s.finished = Some(ts);
                s.skip_reason = Some(reason.clone());
            }
            Retry {
                runbook,
                step,
                attempt,
                reason,
                delay_ms,
            } => {
                let s = self.step_mut(runbook, step, index.as_deref_mut());
                s.status = StepStatus::Running;
                s.retries.push(RetryEntry {
                    ts,
                    attempt: *attempt,
                    reason: reason.clone(),
                    delay_ms: *delay_ms,
                });
            }
            Note {
                runbook,
                step,
                text,
            } => {
                let note = NoteEntry {
                    ts,
                    actor: e.actor.clone(),
                    runbook: runbook.clone(),
                    text: text.clone(),
                };
                match (runbook, step) {
                    (Some(r), Some(s)) => {
                        self.step_mut(r, s, index.as_deref_mut()).notes.push(note)
                    }
                    _ => self.notes.push(note),
                }
            }
            Paused { .. } => {
                self.paused_since.get_or_insert(ts);
            }
            // Who holds a step shows on the shared timeline; the local state is unchanged.
            StepClaimed { .. } | ClaimRefused { .. } => {}
            Resumed {} => {
                if let Some(since) = self.paused_since.take() {
                    self.paused_ms += u64::try_from((ts - since).num_milliseconds()).unwrap_or(0);
                }
            }
            AbortRequested { .. } => {
                self.abort_requested.get_or_insert(ts);
            }
            OutageStart { at, .. } => self.outage_since = Some(*at),
            RollbackStarted { runbook, .. } => {
                self.runbook_mut(runbook, index.as_deref_mut())
                    .rollback_started
                    .get_or_insert(ts);
            }
            CleanupStarted { runbook, steps } => {
                let r = self.runbook_mut(runbook, index.as_deref_mut());
                r.cleanup_started.get_or_insert(ts);
                r.cleanup_outcome = None;
                for s in steps {
                    if !r.cleanup_steps.contains(&s.step) {
                        r.cleanup_steps.push(s.step.clone());
                    }
                }
            }
            CleanupFinished {
                runbook, outcome, ..
            } => {
                self.runbook_mut(runbook, index.as_deref_mut())
                    .cleanup_outcome = Some(*outcome);
            }
            IncidentResumed {
                by,
                interrupted,
                reopened,
            } => {
                self.add_operator(by);
                // Resuming a closed incident (`--reopen`) opens it again until it closes anew.
                self.closed = None;
                for r in interrupted {
                    let s = self.step_mut(&r.runbook, &r.step, index.as_deref_mut());
                    if s.status.is_unfinished() || s.status == StepStatus::NotStarted {
                        s.status = StepStatus::Interrupted;
                    }
                }
                self.interrupt_unfinished();
                self.resumes.push(ResumeEntry {
                    ts,
                    by: by.clone(),
                    interrupted: interrupted.clone(),
                    reopened: *reopened,
                });
            }
            LogRecovered {
                line,
                dropped_bytes,
            } => self.recoveries.push((*line, *dropped_bytes)),
            IncidentClosed { outcome, summary } => {
                self.interrupt_unfinished();
                self.closed = Some(Closed {
                    ts,
                    outcome: *outcome,
                    summary: summary.clone(),
                });
            }
            Unknown { .. } => self.unknown_events += 1,
        }
        self.add_operator(&e.actor);
    }
}

/// Where each runbook is in `IncidentState::runbooks`, and each of its steps in its
/// `steps`, while a fold builds them: a fold then finds them without searching, in the same
/// order (runbooks in header order then first mention, steps in first-mention order).
#[derive(Default)]
struct Index {
    runbooks: HashMap<String, usize>,
    /// By runbook position.
    steps: Vec<HashMap<String, usize>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::event::tests::sample_header;
    use chrono::TimeDelta;

    const RB: &str = "web-failover";

    /// Events one second apart from 01:00:00, chained by seq only (fold trusts its input).
    fn events(kinds: Vec<(&str, EventKind)>) -> Vec<Event> {
        let t0 = DateTime::parse_from_rfc3339("2026-11-25T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut all = vec![("alice", EventKind::IncidentStarted(sample_header()))];
        all.extend(kinds);
        all.into_iter()
            .enumerate()
            .map(|(i, (actor, kind))| Event {
                seq: i as u64 + 1,
                ts: t0 + TimeDelta::seconds(i as i64),
                actor: actor.into(),
                kind,
                prev: String::new(),
                hash: format!("h{}", i + 1),
            })
            .collect()
    }

    fn started(step: &str) -> EventKind {
        EventKind::StepStarted {
            runbook: RB.into(),
            step: step.into(),
            title: None,
            attempt: 1,
        }
    }

    fn finished(step: &str, outcome: Outcome) -> EventKind {
        EventKind::StepFinished {
            runbook: RB.into(),
            step: step.into(),
            outcome,
            duration_ms: 1000,
            outputs: BTreeMap::from([("hostname".into(), "app-ne.example".into())]),
            error: (outcome == Outcome::Failed).then(|| "HTTP 409".into()),
        }
    }

    fn status(state: &IncidentState, step: &str) -> StepStatus {
        state.step(RB, step).map(|s| s.status).unwrap_or_default()
    }

    #[test]
    fn roles_and_a_two_person_approval_fold() {
        let ev = events(vec![
            (
                "alice",
                EventKind::RoleTaken {
                    operator: "alice".into(),
                    role: Role::Operator,
                },
            ),
            (
                "bob",
                EventKind::RoleTaken {
                    operator: "bob".into(),
                    role: Role::Commander,
                },
            ),
            (
                "drbook",
                EventKind::ApprovalRequested {
                    runbook: RB.into(),
                    step: "shift".into(),
                    operator: "alice".into(),
                    prompt: "PATCH tm".into(),
                },
            ),
        ]);
        let state = IncidentState::fold(&ev);
        assert_eq!(status(&state, "shift"), StepStatus::WaitingForApproval);
        assert!(state.unfinished_steps().iter().any(|r| r.step == "shift"));
        assert_eq!(state.role_of("BOB"), Role::Commander);
        assert_eq!(state.role_of("alice"), Role::Operator);
        assert_eq!(state.role_of("zed"), Role::Operator);
        let mut more = ev.clone();
        more.extend(
            events(vec![(
                "bob",
                EventKind::Approved {
                    runbook: RB.into(),
                    step: "shift".into(),
                    by: "bob".into(),
                    role: Role::Commander,
                    approved: true,
                    keyboard: None,
                },
            )])
            .into_iter()
            .skip(1)
            .map(|mut e| {
                e.seq += ev.len() as u64;
                e.ts += TimeDelta::seconds(10);
                e
            }),
        );
        more.extend(
            events(vec![("drbook", started("shift"))])
                .into_iter()
                .skip(1)
                .map(|mut e| {
                    e.seq += ev.len() as u64 + 1;
                    e.ts += TimeDelta::seconds(11);
                    e
                }),
        );
        let state = IncidentState::fold(&more);
        let st = state.step(RB, "shift").unwrap();
        assert_eq!(st.status, StepStatus::Running);
        assert_eq!(st.approved_by().map(|a| a.by.as_str()), Some("bob"));
        assert_eq!(
            st.approval_text().as_deref(),
            Some("approved by bob (commander)")
        );
        assert_eq!(
            st.approval.as_ref().map(|a| a.operator.as_str()),
            Some("alice")
        );
    }

    #[test]
    fn the_header_sets_mode_operators_and_declared_runbooks() {
        let s = IncidentState::fold(&events(vec![]));
        assert_eq!(s.mode(), Some(Mode::Rehearsal));
        assert_eq!(s.level(), Some(RehearsalLevel::DryRun));
        assert_eq!(s.operators, ["alice"]);
        assert_eq!(
            s.runbook(RB).unwrap().sha256.as_deref(),
            Some("ab".repeat(32).as_str())
        );
        assert!(s.started.is_some() && s.closed.is_none() && !s.is_paused());
        assert_eq!((s.last_seq, s.head.as_str()), (1, "h1"));
        assert_eq!(status(&s, "never-mentioned"), StepStatus::NotStarted);
    }

    #[test]
    fn a_confirmed_step_runs_and_finishes() {
        let ev = events(vec![
            ("alice", started("shift")),
            (
                "drbook",
                EventKind::ConfirmationRequested {
                    runbook: RB.into(),
                    step: "shift".into(),
                    prompt: "Disable?".into(),
                },
            ),
            (
                "bob",
                EventKind::Confirmed {
                    runbook: RB.into(),
                    step: "shift".into(),
                    by: "bob".into(),
                    approved: true,
                },
            ),
            (
                "drbook",
                EventKind::OutputLine {
                    runbook: RB.into(),
                    step: "shift".into(),
                    stream: Stream::Stdout,
                    line: "ok".into(),
                },
            ),
            ("drbook", finished("shift", Outcome::Ok)),
        ]);
        let at = |seq| status(&IncidentState::fold_through(&ev, seq), "shift");
        assert_eq!(at(1), StepStatus::NotStarted);
        assert_eq!(at(2), StepStatus::Running);
        assert_eq!(at(3), StepStatus::WaitingForConfirmation);
        assert_eq!(at(4), StepStatus::Running);
        assert_eq!(at(6), StepStatus::Done);
        let s = IncidentState::fold(&ev);
        let step = s.step(RB, "shift").unwrap();
        assert_eq!(step.confirmed_by(), Some("bob"));
        assert_eq!(step.started, Some(ev[1].ts));
        assert_eq!(step.finished, Some(ev[5].ts));
        assert_eq!(step.elapsed_ms(ev[5].ts), Some(1000));
        assert_eq!(step.outputs["hostname"], "app-ne.example");
        assert_eq!(step.output.len(), 1);
        assert_eq!(s.operators, ["alice", "bob"]);
    }

    #[test]
    fn confirmation_asked_before_starting_leaves_the_step_not_started() {
        let ev = events(vec![
            (
                "drbook",
                EventKind::ConfirmationRequested {
                    runbook: RB.into(),
                    step: "s".into(),
                    prompt: String::new(),
                },
            ),
            (
                "alice",
                EventKind::Confirmed {
                    runbook: RB.into(),
                    step: "s".into(),
                    by: "alice".into(),
                    approved: false,
                },
            ),
        ]);
        let s = IncidentState::fold(&ev);
        assert_eq!(status(&s, "s"), StepStatus::NotStarted);
        assert!(
            !s.step(RB, "s")
                .unwrap()
                .confirmation
                .as_ref()
                .unwrap()
                .answer
                .as_ref()
                .unwrap()
                .approved
        );
    }

    #[test]
    fn failures_skips_retries_and_checks_are_recorded() {
        let ev = events(vec![
            ("drbook", started("a")),
            (
                "drbook",
                EventKind::CheckResult {
                    runbook: RB.into(),
                    step: "a".into(),
                    expected: "Running".into(),
                    actual: "Stopped".into(),
                    verdict: Verdict::Fail,
                    source: "/sub/x".into(),
                    latency_ms: 80,
                },
            ),
            (
                "drbook",
                EventKind::Retry {
                    runbook: RB.into(),
                    step: "a".into(),
                    attempt: 1,
                    reason: "429".into(),
                    delay_ms: 500,
                },
            ),
            (
                "drbook",
                EventKind::StepStarted {
                    runbook: RB.into(),
                    step: "a".into(),
                    title: None,
                    attempt: 2,
                },
            ),
            ("drbook", finished("a", Outcome::Failed)),
            (
                "drbook",
                EventKind::StepSkipped {
                    runbook: RB.into(),
                    step: "b".into(),
                    reason: "a failed".into(),
                },
            ),
            ("drbook", finished("c", Outcome::Skipped)),
        ]);
        let s = IncidentState::fold(&ev);
        let a = s.step(RB, "a").unwrap();
        assert_eq!(a.status, StepStatus::Failed);
        assert_eq!((a.attempts, a.retries.len(), a.checks), (2, 1, 1));
        assert_eq!(
            a.started,
            Some(ev[1].ts),
            "the first attempt's start is kept"
        );
        assert_eq!(a.attempt_started, Some(ev[4].ts));
        assert_eq!(a.error.as_deref(), Some("HTTP 409"));
        assert_eq!(a.last_check.as_ref().unwrap().verdict, Verdict::Fail);
        assert_eq!(
            s.step(RB, "b").unwrap().skip_reason.as_deref(),
            Some("a failed")
        );
        assert_eq!(status(&s, "c"), StepStatus::Skipped);
        let names: Vec<&str> = s
            .runbook(RB)
            .unwrap()
            .steps
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn a_step_started_and_never_finished_is_interrupted_after_resume_never_done() {
        let ev = events(vec![
            ("alice", started("a")),
            ("alice", finished("a", Outcome::Ok)),
            ("alice", started("b")),
            (
                "drbook",
                EventKind::ConfirmationRequested {
                    runbook: RB.into(),
                    step: "c".into(),
                    prompt: String::new(),
                },
            ),
        ]);
        let before = IncidentState::fold(&ev);
        // Replayed up to the crash, the step was running then: that is what the log says.
        assert_eq!(status(&before, "b"), StepStatus::Running);
        let unfinished = before.unfinished_steps();
        assert_eq!(unfinished.len(), 2);
        let mut ev = ev;
        ev.extend(
            events(vec![(
                "bob",
                EventKind::IncidentResumed {
                    by: "bob".into(),
                    interrupted: unfinished,
                    reopened: None,
                },
            )])
            .pop(),
        );
        let after = IncidentState::fold(&ev);
        assert_eq!(status(&after, "a"), StepStatus::Done);
        assert_eq!(status(&after, "b"), StepStatus::Interrupted);
        assert_eq!(status(&after, "c"), StepStatus::Interrupted);
        assert!(after.unfinished_steps().is_empty());
        assert_eq!(after.step(RB, "b").unwrap().finished, None);
        // Run again after the resume: running, second attempt.
        let mut again = after.clone();
        let mut e = ev[3].clone();
        e.seq = 99;
        again.apply(&e);
        assert_eq!(status(&again, "b"), StepStatus::Running);
        assert_eq!(again.step(RB, "b").unwrap().attempts, 2);
    }

    #[test]
    fn closing_with_a_step_running_interrupts_it() {
        let ev = events(vec![
            ("alice", started("a")),
            (
                "alice",
                EventKind::IncidentClosed {
                    outcome: IncidentOutcome::Aborted,
                    summary: None,
                },
            ),
        ]);
        let s = IncidentState::fold(&ev);
        assert_eq!(status(&s, "a"), StepStatus::Interrupted);
        assert_eq!(s.closed.as_ref().unwrap().outcome, IncidentOutcome::Aborted);
        let ev = events(vec![
            ("alice", started("a")),
            ("drbook", finished("a", Outcome::Interrupted)),
        ]);
        assert_eq!(
            status(&IncidentState::fold(&ev), "a"),
            StepStatus::Interrupted
        );
    }

    #[test]
    fn pauses_aborts_notes_rollback_cleanup_and_unknown_kinds() {
        let ev = events(vec![
            (
                "alice",
                EventKind::ScopeSet {
                    regions: vec!["westeurope".into()],
                    components: vec!["web".into()],
                },
            ),
            ("alice", EventKind::Paused { reason: None }),
            ("alice", EventKind::Paused { reason: None }),
            ("alice", EventKind::Resumed {}),
            (
                "carol",
                EventKind::Note {
                    runbook: None,
                    step: None,
                    text: "called Microsoft".into(),
                },
            ),
            (
                "carol",
                EventKind::Note {
                    runbook: Some(RB.into()),
                    step: Some("a".into()),
                    text: "slow".into(),
                },
            ),
            (
                "alice",
                EventKind::AbortRequested {
                    reason: Some("wrong region".into()),
                },
            ),
            (
                "drbook",
                EventKind::RollbackStarted {
                    runbook: RB.into(),
                    reason: None,
                },
            ),
            (
                "drbook",
                EventKind::CleanupStarted {
                    runbook: RB.into(),
                    steps: vec![crate::incident::CleanupStep {
                        step: "undo-a".into(),
                        undoes: "a".into(),
                    }],
                },
            ),
            (
                "drbook",
                EventKind::CleanupFinished {
                    runbook: RB.into(),
                    outcome: Outcome::Ok,
                    error: None,
                },
            ),
            (
                "drbook",
                EventKind::LogRecovered {
                    line: 9,
                    dropped_bytes: 12,
                },
            ),
            (
                "x",
                EventKind::Unknown {
                    event: "future".into(),
                    fields: Default::default(),
                },
            ),
            ("alice", EventKind::Paused { reason: None }),
        ]);
        let s = IncidentState::fold(&ev);
        assert_eq!(
            (s.regions.as_slice(), s.components.as_slice()),
            (&["westeurope".to_string()][..], &["web".to_string()][..])
        );
        assert_eq!(s.paused_ms, 2000, "paused at 01:00:02, resumed at 01:00:04");
        assert_eq!(s.paused_since, Some(ev[13].ts));
        assert_eq!(s.notes.len(), 1);
        assert_eq!(s.step(RB, "a").unwrap().notes[0].actor, "carol");
        assert_eq!(
            status(&s, "a"),
            StepStatus::NotStarted,
            "a note does not start a step"
        );
        assert_eq!(s.abort_requested, Some(ev[7].ts));
        let rb = s.runbook(RB).unwrap();
        assert!(rb.rollback_started.is_some() && rb.cleanup_started.is_some());
        assert_eq!(rb.cleanup_outcome, Some(Outcome::Ok));
        assert_eq!(rb.cleanup_steps, ["undo-a"]);
        assert_eq!(s.recoveries, [(9, 12)]);
        assert_eq!(s.unknown_events, 1);
        assert_eq!(s.operators, ["alice", "carol", "x"]);
    }

    #[test]
    fn fold_until_is_the_state_at_that_moment() {
        let ev = events(vec![
            ("alice", started("a")),
            ("alice", finished("a", Outcome::Ok)),
            ("alice", started("b")),
        ]);
        let t = |secs| ev[0].ts + TimeDelta::milliseconds(secs);
        assert_eq!(
            status(&IncidentState::fold_until(&ev, t(999)), "a"),
            StepStatus::NotStarted
        );
        assert_eq!(
            status(&IncidentState::fold_until(&ev, t(1000)), "a"),
            StepStatus::Running
        );
        let mid = IncidentState::fold_until(&ev, t(2500));
        assert_eq!(
            (status(&mid, "a"), status(&mid, "b")),
            (StepStatus::Done, StepStatus::NotStarted)
        );
        assert_eq!(
            IncidentState::fold_until(&ev, t(-1)),
            IncidentState::default()
        );
        // Every prefix folds to the same state as applying events one by one.
        let mut live = IncidentState::default();
        for (i, e) in ev.iter().enumerate() {
            live.apply(e);
            assert_eq!(live, IncidentState::fold(&ev[..=i]));
        }
    }
}
