//! The incident's state as a pure fold over its events: per runbook and step (status,
//! times, confirmations, notes, outputs, retries, last check) and for the incident (mode,
//! operators, paused, closed). Resume and replay use the same fold: a step that started and
//! never finished becomes `interrupted` once the incident is resumed or closed, never `done`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::event::{
    Event, EventKind, Header, IncidentOutcome, Mode, Outcome, RehearsalLevel, StepRef, Stream,
    Verdict,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepStatus {
    #[default]
    NotStarted,
    Running,
    WaitingForConfirmation,
    Done,
    Failed,
    Skipped,
    /// Started and never finished: drbook stopped (crash, kill, power loss) or the incident
    /// was closed while it ran. What it did is unknown: look before running it again.
    Interrupted,
}

impl StepStatus {
    /// Started and not finished, as far as the log says.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            StepStatus::Running | StepStatus::WaitingForConfirmation
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
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncidentState {
    pub header: Option<Header>,
    pub started: Option<DateTime<Utc>>,
    /// The header's operators, then everyone else who acted, in order of first appearance.
    pub operators: Vec<String>,
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
        for e in events {
            state.apply(e);
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

    fn runbook_mut(&mut self, id: &str) -> &mut RunbookState {
        match self.runbooks.iter().position(|r| r.id == id) {
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

    fn step_mut(&mut self, runbook: &str, step: &str) -> &mut StepState {
        self.runbook_mut(runbook).step_mut(step)
    }

    fn interrupt_unfinished(&mut self) {
        for s in self.runbooks.iter_mut().flat_map(|r| r.steps.iter_mut()) {
            if s.status.is_unfinished() {
                s.status = StepStatus::Interrupted;
            }
        }
    }

    fn add_operator(&mut self, who: &str) {
        if !who.is_empty() && who != "drbook" && !self.operators.iter().any(|o| o == who) {
            self.operators.push(who.into());
        }
    }

    /// Applies one event (what the executor does right after `append` returns).
    pub fn apply(&mut self, e: &Event) {
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
                    let rb = self.runbook_mut(&r.id);
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
                let s = self.step_mut(runbook, step);
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
                let s = self.step_mut(runbook, step);
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
                self.step_mut(runbook, step).output.push(OutputEntry {
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
                let s = self.step_mut(runbook, step);
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
                let s = self.step_mut(runbook, step);
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
            StepFinished {
                runbook,
                step,
                outcome,
                duration_ms,
                outputs,
                error,
            } => {
                let s = self.step_mut(runbook, step);
                s.status = match outcome {
                    Outcome::Ok => StepStatus::Done,
                    Outcome::Failed => StepStatus::Failed,
                    Outcome::Skipped => StepStatus::Skipped,
                    Outcome::Interrupted => StepStatus::Interrupted,
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
                let s = self.step_mut(runbook, step);
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
                let s = self.step_mut(runbook, step);
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
                    (Some(r), Some(s)) => self.step_mut(r, s).notes.push(note),
                    _ => self.notes.push(note),
                }
            }
            Paused { .. } => {
                self.paused_since.get_or_insert(ts);
            }
            Resumed {} => {
                if let Some(since) = self.paused_since.take() {
                    self.paused_ms += u64::try_from((ts - since).num_milliseconds()).unwrap_or(0);
                }
            }
            AbortRequested { .. } => {
                self.abort_requested.get_or_insert(ts);
            }
            RollbackStarted { runbook, .. } => {
                self.runbook_mut(runbook).rollback_started.get_or_insert(ts);
            }
            CleanupStarted { runbook } => {
                let r = self.runbook_mut(runbook);
                r.cleanup_started.get_or_insert(ts);
                r.cleanup_outcome = None;
            }
            CleanupFinished {
                runbook, outcome, ..
            } => {
                self.runbook_mut(runbook).cleanup_outcome = Some(*outcome);
            }
            IncidentResumed { by, interrupted } => {
                self.add_operator(by);
                for r in interrupted {
                    let s = self.step_mut(&r.runbook, &r.step);
                    if s.status.is_unfinished() || s.status == StepStatus::NotStarted {
                        s.status = StepStatus::Interrupted;
                    }
                }
                self.interrupt_unfinished();
                self.resumes.push(ResumeEntry {
                    ts,
                    by: by.clone(),
                    interrupted: interrupted.clone(),
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
