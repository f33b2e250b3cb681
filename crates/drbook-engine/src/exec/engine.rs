//! The engine: one task that owns the run. Operator controls come in; every change is first
//! recorded (the recorder returns only once the event is durable), then applied to the state
//! and announced. Step work runs in its own tasks, so controls are handled while checks,
//! writes and commands are in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::command::Stream;
use super::steps::{self, Outcome, StepContext, StepReport};
use crate::checks::read::Reader;
use crate::checks::run::{condition, condition_text};
use crate::checks::scope::Scope;
use drbook_core::runbook::model::{OnFailure, Runbook, Step, StepKind};
use drbook_core::runbook::plan::{self, Group, Progress, StepKey};
use drbook_core::time::parse_duration;

mod approval;
mod claims;
mod rollback;
pub use approval::Roles;
use drbook_core::roles::Role;

/// How a step is to be claimed on the shared timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimMode {
    /// Only if nobody else holds it.
    Normal,
    /// Taking someone else's claim over, explicitly.
    Takeover,
    /// Claimed if the share answers and nobody else holds it; run without a claim if the
    /// share cannot be reached (the operator's explicit decision, recorded as such).
    OrOffline,
}

/// Everything the engine records. The recorder turns these into incident-log events.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecEvent {
    StepStarted {
        key: StepKey,
        kind: StepKind,
        attempt: u32,
        /// The title as shown: variables filled in, secrets masked.
        title: String,
    },
    ConfirmationRequested {
        key: StepKey,
        what: String,
    },
    Confirmed {
        key: StepKey,
        by: String,
        yes: bool,
        auto: bool,
    },
    WaitingForOperator {
        key: StepKey,
    },
    /// A two-person step waits for an incident commander other than `operator`.
    ApprovalRequested {
        key: StepKey,
        operator: String,
        what: String,
    },
    /// The second person's answer.
    Approved {
        key: StepKey,
        by: String,
        role: Role,
        yes: bool,
        keyboard: Option<String>,
    },
    /// Someone takes a role in the incident (joins, or changes role).
    RoleTaken {
        who: String,
        role: Role,
    },
    OutputLine {
        key: StepKey,
        stream: Stream,
        line: String,
    },
    CheckResult {
        key: StepKey,
        expected: String,
        actual: String,
        verdict: String,
        source: String,
        latency_ms: u64,
    },
    StepFinished {
        key: StepKey,
        outcome: Outcome,
        summary: String,
        outputs: BTreeMap<String, String>,
        duration_ms: u64,
        note: Option<String>,
        by: Option<String>,
    },
    StepSkipped {
        key: StepKey,
        reason: String,
        by: Option<String>,
    },
    Retry {
        key: StepKey,
        attempt: u32,
        reason: String,
    },
    RollbackStarted {
        key: StepKey,
        rollback: String,
    },
    AbortRequested {
        key: StepKey,
        by: String,
    },
    Note {
        /// The step it is about, if any.
        key: Option<StepKey>,
        text: String,
        by: String,
    },
    /// `by` set when the outage began (`previous`: the time it corrects).
    OutageStart {
        at: chrono::DateTime<chrono::Utc>,
        previous: Option<chrono::DateTime<chrono::Utc>>,
        by: String,
    },
    Paused {
        by: String,
    },
    Resumed {
        by: String,
    },
    /// Shared incidents: this operator holds the step (`from`: whose claim was taken over;
    /// `offline`: the share could not be reached and the operator ran it without a claim).
    Claimed {
        key: StepKey,
        from: Option<String>,
        by: String,
        offline: bool,
    },
    /// Shared incidents: the step did not start because it could not be claimed.
    ClaimRefused {
        key: StepKey,
        holder: Option<String>,
        reason: String,
        by: String,
    },
}

/// Where events go before anything is shown: the incident log (fsynced), or a test's list.
#[async_trait::async_trait]
pub trait Recorder: Send + Sync {
    async fn record(&self, ev: &ExecEvent) -> Result<(), String>;
}

/// What the operator (or the autopilot) asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Start(StepKey),
    /// Start a step someone else holds on the shared timeline, taking their claim over.
    Takeover(StepKey),
    /// Start a step although the share cannot be reached to claim it (claimed if it can be).
    RunUnclaimed(StepKey),
    StartAllReady,
    Answer {
        key: StepKey,
        yes: bool,
        by: String,
    },
    Manual {
        key: StepKey,
        outcome: Outcome,
        note: Option<String>,
        by: String,
    },
    Skip {
        key: StepKey,
        reason: String,
        by: String,
    },
    /// Run a failed step again, or read a finished read-only step again (re-check).
    Retry(StepKey),
    Abort {
        key: StepKey,
        by: String,
    },
    Note {
        key: Option<StepKey>,
        text: String,
        by: String,
    },
    /// Sets (or corrects) when the outage began: the RTO counts from there.
    SetOutageStart {
        at: chrono::DateTime<chrono::Utc>,
        previous: Option<chrono::DateTime<chrono::Utc>>,
        by: String,
    },
    Pause {
        by: String,
    },
    Resume {
        by: String,
    },
    /// A two-person step's approval (or refusal, `yes = false`) by `by`, who holds `role`. Any
    /// part of the program may send it (this terminal, a shared incident's syncer); the engine
    /// checks the rule: a commander who is not the step's operator. `keyboard`: whose
    /// terminal it was typed at, when not the approver's own.
    Approve {
        key: StepKey,
        by: String,
        role: Role,
        yes: bool,
        keyboard: Option<String>,
    },
    /// `who` holds `role` from now on (recorded): someone joining a shared incident.
    TakeRole {
        who: String,
        role: Role,
    },
    Shutdown,
}

impl From<crate::share::Request> for Control {
    fn from(r: crate::share::Request) -> Control {
        use crate::share::Request;
        match r {
            Request::TakeRole { who, role } => Control::TakeRole { who, role },
            // Given at the approver's own drbook: no other keyboard typed it.
            Request::Approve { key, by, role, yes } => Control::Approve {
                key,
                by,
                role,
                yes,
                keyboard: None,
            },
        }
    }
}

/// Sent to the screen after an event is durable, or as transient progress.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Recorded(ExecEvent),
    Progress {
        key: StepKey,
        text: String,
    },
    /// Nothing runs or waits and nothing more can start: the plan is finished or stuck.
    Idle {
        finished: bool,
    },
    /// The recorder failed: nothing further is done (the log is the source of truth).
    LogFailed(String),
    /// A control was not carried out, and why (a scribe starting a step, an operator
    /// approving one): for the screen, so nothing is dropped silently.
    Refused {
        key: Option<StepKey>,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct Options {
    pub operator: String,
    /// Run confirmable steps without asking (recorded with each step).
    pub auto_approve: bool,
    pub dry_run: bool,
    /// Start every ready step as soon as it is ready (headless runs).
    pub autopilot: bool,
    /// Cap on waits, poll intervals and retry delays (fast rehearsals on the simulator).
    pub max_delay: Option<Duration>,
    /// Read-only rehearsal: actions and commands are skipped, reads run against the target.
    pub read_only: bool,
    /// Command steps are not run, for this reason (a rehearsal on the simulator: `az` or
    /// `kubectl` would reach real systems, not the simulated ones).
    pub skip_commands: Option<String>,
    /// A shared incident: steps that change things are claimed on the shared timeline first.
    pub share: Option<Arc<dyn crate::share::Claims>>,
    /// How long an autopilot run waits for an offline share to claim a step before it skips
    /// the step.
    pub claim_wait: Duration,
    /// An offline share does not hold steps back: they run without a claim (recorded).
    pub run_unclaimed: bool,
}

/// What an incident log says of one step, for `Engine::restore` on resume.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub progress: Progress,
    /// Its outputs as the log has them.
    pub outputs: BTreeMap<String, String>,
    /// Why it was skipped, when it was.
    pub skip_reason: Option<String>,
    /// It had started and not finished when drbook stopped: it may have changed something.
    pub interrupted: bool,
}

enum Waiting {
    Confirmation,
    Operator,
    /// A two-person step, for an incident commander other than `operator`.
    Approval {
        operator: String,
    },
}

pub struct Engine {
    runbooks: BTreeMap<String, Arc<Runbook>>,
    scopes: BTreeMap<String, Scope>,
    groups: Vec<Group>,
    progress: HashMap<StepKey, Progress>,
    attempts: HashMap<StepKey, u32>,
    started: HashMap<StepKey, Instant>,
    waiting: HashMap<StepKey, Waiting>,
    cancels: HashMap<StepKey, CancellationToken>,
    /// Steps interrupted by a crash: a change they may have made is confirmed again, always.
    reconfirm: std::collections::HashSet<StepKey>,
    /// Rollback steps started in this incident (resume included): each runs at most once, so
    /// a rollback naming itself, or a cycle of them, cannot keep issuing writes.
    rollbacks_run: std::collections::HashSet<StepKey>,
    /// Why each skipped step was skipped (restored on resume too).
    skip_reasons: HashMap<StepKey, String>,
    reader: Reader,
    recorder: Arc<dyn Recorder>,
    options: Options,
    paused: bool,
    /// Steps this drbook holds on the shared timeline.
    claimed: std::collections::HashSet<StepKey>,
    /// When each claim was first tried while the share was offline (headless runs try again
    /// until `claim_wait` is over).
    claim_since: HashMap<StepKey, Instant>,
    roles: Roles,
}

type Done = (StepKey, StepReport);

/// The engine's work in flight: step tasks, retry timers, and where their output goes.
struct Work {
    tasks: JoinSet<Done>,
    timers: JoinSet<StepKey>,
    /// Claims on the shared timeline in flight.
    claims: JoinSet<(StepKey, ClaimMode, crate::share::ClaimOutcome)>,
    lines: mpsc::UnboundedSender<(StepKey, Stream, String)>,
    prog: mpsc::UnboundedSender<(StepKey, String)>,
}

impl Engine {
    pub fn new(
        runbooks: Vec<(Runbook, Scope)>,
        groups: Vec<Group>,
        reader: Reader,
        recorder: Arc<dyn Recorder>,
        options: Options,
    ) -> Engine {
        let mut rbs = BTreeMap::new();
        let mut scopes = BTreeMap::new();
        for (rb, scope) in runbooks {
            scopes.insert(rb.id().to_string(), scope);
            rbs.insert(rb.id().to_string(), Arc::new(rb));
        }
        Engine {
            runbooks: rbs,
            scopes,
            groups,
            progress: HashMap::new(),
            attempts: HashMap::new(),
            started: HashMap::new(),
            waiting: HashMap::new(),
            cancels: HashMap::new(),
            reconfirm: std::collections::HashSet::new(),
            rollbacks_run: std::collections::HashSet::new(),
            skip_reasons: HashMap::new(),
            reader,
            recorder,
            options,
            paused: false,
            claimed: std::collections::HashSet::new(),
            claim_since: HashMap::new(),
            roles: Roles::default(),
        }
    }

    /// Progress restored from a log (resume): finished steps stay finished, with the outcome
    /// and outputs the engine had given them, so conditions decide as they would have; a
    /// step that had started and not finished is left for the operator to re-check or
    /// re-confirm.
    pub fn restore(&mut self, key: StepKey, r: Restored) {
        let outcome = match r.progress {
            Progress::Done => Some(Outcome::Ok),
            Progress::Failed => Some(Outcome::Failed),
            Progress::Skipped => Some(Outcome::Skipped),
            Progress::NotStarted | Progress::Active => None,
        };
        let outputs = match outcome {
            Some(o) => {
                // `skip` leaves a step only its outcome (a `step_skipped` event carries no
                // outputs), whatever an earlier failed attempt had produced.
                let mut m = if o == Outcome::Skipped
                    && r.outputs.get("outcome").map(String::as_str) != Some(o.as_str())
                {
                    BTreeMap::new()
                } else {
                    r.outputs
                };
                m.insert("outcome".into(), o.as_str().into());
                Some(m)
            }
            None => (!r.outputs.is_empty()).then_some(r.outputs),
        };
        if let Some(o) = outputs
            && let Some(scope) = self.scopes.get_mut(&key.runbook)
        {
            scope.outputs.insert(key.step.clone(), o);
        }
        if self.is_rollback(&key) {
            self.rollbacks_run.insert(key.clone());
        }
        if let (Progress::Skipped, Some(why)) = (r.progress, r.skip_reason) {
            self.skip_reasons.insert(key.clone(), why);
        }
        // An interrupted step is not started again by itself; what it may have changed is
        // confirmed again before it runs.
        let p = if r.progress == Progress::Active {
            if r.interrupted {
                self.reconfirm.insert(key.clone());
            }
            Progress::NotStarted
        } else {
            r.progress
        };
        self.progress.insert(key, p);
    }

    fn is_rollback(&self, key: &StepKey) -> bool {
        self.runbooks
            .get(&key.runbook)
            .is_some_and(|rb| rb.rollbacks.iter().any(|s| s.id.get_ref() == &key.step))
    }

    fn step(&self, key: &StepKey) -> Option<(Arc<Runbook>, Step)> {
        let rb = self.runbooks.get(&key.runbook)?;
        let s = rb
            .steps
            .iter()
            .chain(rb.rollbacks.iter())
            .find(|s| s.id.get_ref() == &key.step)?
            .clone();
        Some((rb.clone(), s))
    }

    fn progress_of(&self, k: &StepKey) -> Progress {
        self.progress
            .get(k)
            .copied()
            .unwrap_or(Progress::NotStarted)
    }

    pub fn ready(&self) -> Vec<StepKey> {
        let map: BTreeMap<&str, &Runbook> = self
            .runbooks
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_ref()))
            .collect();
        plan::ready(&self.groups, &map, &|k| self.progress_of(k))
    }

    async fn record(
        &self,
        ev: ExecEvent,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        self.recorder.record(&ev).await?;
        let _ = updates.send(Update::Recorded(ev));
        Ok(())
    }

    /// Runs until `Shutdown`, or (autopilot) until nothing more can happen.
    pub async fn run(
        mut self,
        mut controls: mpsc::UnboundedReceiver<Control>,
        updates: mpsc::UnboundedSender<Update>,
    ) {
        let (line_tx, mut line_rx) = mpsc::unbounded_channel::<(StepKey, Stream, String)>();
        let (prog_tx, mut prog_rx) = mpsc::unbounded_channel::<(StepKey, String)>();
        // What others on a shared incident ask of this engine (their roles, approvals).
        let (_none, quiet) = mpsc::unbounded_channel();
        let mut shared = self.options.share.as_ref().map_or(quiet, |s| s.requests());
        let mut work = Work {
            tasks: JoinSet::new(),
            timers: JoinSet::new(),
            claims: JoinSet::new(),
            lines: line_tx,
            prog: prog_tx,
        };
        if let Err(e) = self.resume_rollbacks(&mut work, &updates).await {
            let _ = updates.send(Update::LogFailed(e));
            return;
        }
        if self.options.autopilot {
            let _ = self
                .handle(Control::StartAllReady, &mut work, &updates)
                .await;
        }
        loop {
            if work.tasks.is_empty()
                && work.timers.is_empty()
                && work.claims.is_empty()
                && (self.ready().is_empty() || self.paused || !self.local_acts())
                && !self.has_waiting_for_others()
            {
                let finished = self.all_settled();
                let _ = updates.send(Update::Idle { finished });
                if self.options.autopilot && !self.anyone_can_answer() {
                    break;
                }
            }
            let step = tokio::select! {
                c = controls.recv() => match c {
                    None | Some(Control::Shutdown) => break,
                    Some(c) => self.handle(c, &mut work, &updates).await,
                },
                Some(r) = shared.recv() => self.handle(r.into(), &mut work, &updates).await,
                Some(joined) = work.tasks.join_next(), if !work.tasks.is_empty() => match joined {
                    Ok((key, report)) => {
                        // A step's output, all sent before its task ended, goes in the log
                        // before its end (the select may pick the end first).
                        let mut r = Ok(());
                        while r.is_ok() && let Ok((k, stream, line)) = line_rx.try_recv() {
                            let line = self.scopes.get(&k.runbook).map_or(line.clone(), |s| s.vars.redact(&line));
                            r = self.record(ExecEvent::OutputLine { key: k, stream, line }, &updates).await;
                        }
                        match r {
                            Ok(()) => self.finished(key, report, &mut work, &updates).await,
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(format!("a step task failed: {e}")),
                },
                Some((key, stream, line)) = line_rx.recv() => {
                    let line = self.scopes.get(&key.runbook).map_or(line.clone(), |s| s.vars.redact(&line));
                    self.record(ExecEvent::OutputLine { key, stream, line }, &updates).await
                }
                Some((key, text)) = prog_rx.recv() => {
                    let _ = updates.send(Update::Progress { key, text });
                    Ok(())
                }
                Some(Ok(key)) = work.timers.join_next(), if !work.timers.is_empty() => {
                    self.launch(key, &mut work, &updates).await
                }
                Some(joined) = work.claims.join_next(), if !work.claims.is_empty() => match joined {
                    Ok((key, mode, outcome)) => self.claim_answered(key, mode, outcome, &mut work, &updates).await,
                    Err(e) => Err(format!("a claim task failed: {e}")),
                },
            };
            if let Err(e) = step {
                let _ = updates.send(Update::LogFailed(e));
                break;
            }
            if self.options.autopilot
                && !self.paused
                && let Err(e) = self
                    .handle(Control::StartAllReady, &mut work, &updates)
                    .await
            {
                let _ = updates.send(Update::LogFailed(e));
                break;
            }
        }
        for c in self.cancels.values() {
            c.cancel();
        }
    }

    fn has_waiting_for_others(&self) -> bool {
        // Waiting steps keep a run alive only when someone can answer them.
        !self.options.autopilot && !self.waiting.is_empty()
    }

    fn all_settled(&self) -> bool {
        self.runbooks
            .values()
            .all(|rb| plan::runbook_state(rb, &|k| self.progress_of(k)) == plan::RunbookState::Done)
    }

    async fn handle(
        &mut self,
        c: Control,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        if let Some((key, reason)) = self.refusal(&c) {
            let _ = updates.send(Update::Refused { key, reason });
            return Ok(());
        }
        match c {
            Control::StartAllReady => {
                if self.paused {
                    return Ok(());
                }
                // Until nothing new is ready: a skipped step can make the next one ready at once.
                let mut tried = std::collections::HashSet::new();
                loop {
                    let fresh: Vec<StepKey> = self
                        .ready()
                        .into_iter()
                        .filter(|k| !tried.contains(k))
                        .collect();
                    if fresh.is_empty() {
                        return Ok(());
                    }
                    for key in fresh {
                        tried.insert(key.clone());
                        self.start(key, work, updates).await?;
                    }
                }
            }
            Control::Start(key) => {
                if self.progress_of(&key) == Progress::NotStarted && self.ready().contains(&key) {
                    self.start(key, work, updates).await?;
                }
                Ok(())
            }
            Control::Takeover(key) => {
                self.claim_on_request(key, ClaimMode::Takeover, work);
                Ok(())
            }
            Control::RunUnclaimed(key) => {
                self.claim_on_request(key, ClaimMode::OrOffline, work);
                Ok(())
            }
            Control::Answer { key, yes, by } => {
                if !matches!(self.waiting.get(&key), Some(Waiting::Confirmation)) {
                    return Ok(());
                }
                self.waiting.remove(&key);
                self.record(
                    ExecEvent::Confirmed {
                        key: key.clone(),
                        by: by.clone(),
                        yes,
                        auto: false,
                    },
                    updates,
                )
                .await?;
                if yes {
                    // Whoever said yes runs it: the two-person rule needs someone else.
                    self.proceed(key, by, work, updates).await
                } else {
                    self.skip(key, format!("declined by {by}"), Some(by), updates)
                        .await
                }
            }
            Control::Manual {
                key,
                outcome,
                note,
                by,
            } => {
                if !matches!(self.waiting.get(&key), Some(Waiting::Operator)) {
                    return Ok(());
                }
                self.waiting.remove(&key);
                let mut outputs =
                    BTreeMap::from([("outcome".to_string(), outcome.as_str().to_string())]);
                outputs.insert("note".into(), note.clone().unwrap_or_default());
                let summary = format!("marked {} by {by}", outcome.as_str());
                self.finish(
                    key.clone(),
                    outcome,
                    summary,
                    outputs,
                    note,
                    Some(by),
                    updates,
                )
                .await?;
                self.roll_back_if_asked(&key, outcome, work, updates).await
            }
            Control::Skip { key, reason, by } => {
                let p = self.progress_of(&key);
                if matches!(p, Progress::Done | Progress::Skipped)
                    || (p == Progress::Active && !self.waiting.contains_key(&key))
                {
                    return Ok(());
                }
                self.waiting.remove(&key);
                self.skip(key, reason, Some(by), updates).await
            }
            Control::Retry(key) => {
                let p = self.progress_of(&key);
                let recheck = p == Progress::Done
                    && self
                        .step(&key)
                        .is_some_and(|(_, s)| s.kind.get_ref().is_read_only());
                if p == Progress::Failed || recheck {
                    self.progress.insert(key.clone(), Progress::NotStarted);
                    let reason = if recheck {
                        "re-checked by the operator"
                    } else {
                        "retried by the operator"
                    };
                    self.record(
                        ExecEvent::Retry {
                            key: key.clone(),
                            attempt: self.attempts.get(&key).copied().unwrap_or(1) + 1,
                            reason: reason.into(),
                        },
                        updates,
                    )
                    .await?;
                    self.start(key, work, updates).await?;
                }
                Ok(())
            }
            Control::Abort { key, by } => {
                if let Some(c) = self.cancels.get(&key) {
                    self.record(
                        ExecEvent::AbortRequested {
                            key: key.clone(),
                            by,
                        },
                        updates,
                    )
                    .await?;
                    c.cancel();
                }
                Ok(())
            }
            Control::Note { key, text, by } => {
                let text = self.redact_any(&text);
                self.record(ExecEvent::Note { key, text, by }, updates)
                    .await
            }
            Control::SetOutageStart { at, previous, by } => {
                self.record(ExecEvent::OutageStart { at, previous, by }, updates)
                    .await
            }
            Control::Pause { by } => {
                self.paused = true;
                self.record(ExecEvent::Paused { by }, updates).await
            }
            Control::Resume { by } => {
                self.paused = false;
                self.record(ExecEvent::Resumed { by }, updates).await
            }
            Control::Approve {
                key,
                by,
                role,
                yes,
                keyboard,
            } => {
                self.approve(key, by, role, yes, keyboard, work, updates)
                    .await
            }
            Control::TakeRole { who, role } => self.take_role(who, role, updates).await,
            Control::Shutdown => Ok(()),
        }
    }

    /// Masks every runbook's secrets (a note may quote one by mistake).
    fn redact_any(&self, text: &str) -> String {
        self.scopes
            .values()
            .fold(text.to_string(), |t, s| s.vars.redact(&t))
    }

    async fn skip(
        &mut self,
        key: StepKey,
        reason: String,
        by: Option<String>,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        self.record(
            ExecEvent::StepSkipped {
                key: key.clone(),
                reason: reason.clone(),
                by,
            },
            updates,
        )
        .await?;
        self.progress.insert(key.clone(), Progress::Skipped);
        self.skip_reasons.insert(key.clone(), reason);
        if let Some(scope) = self.scopes.get_mut(&key.runbook) {
            scope.outputs.insert(
                key.step.clone(),
                BTreeMap::from([("outcome".to_string(), "skipped".to_string())]),
            );
        }
        Ok(())
    }

    /// What a dry run says a step would do (the call, the command), without running it;
    /// `None` for a manual step, which the operator carries out.
    async fn dry_run_text(&self, key: &StepKey, step: &Step) -> Option<String> {
        if *step.kind.get_ref() == StepKind::Manual {
            return None;
        }
        let mut scope = self.scopes.get(&key.runbook).cloned().unwrap_or_default();
        scope.placeholders = true;
        let (lines, _) = mpsc::unbounded_channel();
        let (progress, _) = mpsc::unbounded_channel();
        let ctx = StepContext {
            reader: &self.reader,
            scope: &scope,
            cancel: CancellationToken::new(),
            lines,
            dry_run: true,
            progress,
            max_delay: self.options.max_delay,
        };
        let report = steps::run(step, &ctx).await;
        report
            .summary
            .strip_prefix("dry run: ")
            .map(|s| s.lines().next().unwrap_or_default().to_string())
    }

    /// A dry run's step whose condition depends on what only a run knows: settled as skipped
    /// so the plan goes on, with nothing in its outputs, so that what depends on it is not
    /// decided by it either.
    async fn undecided(
        &mut self,
        key: StepKey,
        reason: String,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        self.record(
            ExecEvent::StepSkipped {
                key: key.clone(),
                reason: reason.clone(),
                by: None,
            },
            updates,
        )
        .await?;
        self.progress.insert(key.clone(), Progress::Skipped);
        self.skip_reasons.insert(key, reason);
        Ok(())
    }

    /// Conditions, confirmations and manual steps, then the work itself.
    async fn start(
        &mut self,
        key: StepKey,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let Some((rb, step)) = self.step(&key) else {
            return Ok(());
        };
        if let Some(w) = &step.when {
            let scope = self.scopes.get(&key.runbook).cloned().unwrap_or_default();
            // An output a failed step never produced counts as "not met", not as an error; a
            // dry run reads nothing, so what it cannot decide it says, rather than walking
            // branches that exclude each other as if both ran.
            let go = match condition(w.get_ref(), &scope) {
                Some(v) => v,
                None if self.options.dry_run => {
                    let mut why = format!("dry run: would run if {}", condition_text(w.get_ref()));
                    if let Some(what) = self.dry_run_text(&key, &step).await {
                        why = format!("{why}: {what}");
                    }
                    return self.undecided(key, why, updates).await;
                }
                None => false,
            };
            if !go {
                return self
                    .skip(key, "its condition does not hold".into(), None, updates)
                    .await;
            }
        }
        if self.options.share.is_some()
            && self.changes_something(&step)
            && !self.claimed.contains(&key)
        {
            let mode = if self.options.run_unclaimed {
                ClaimMode::OrOffline
            } else {
                ClaimMode::Normal
            };
            self.request_claim(key, mode, work);
            return Ok(());
        }
        if *step.kind.get_ref() == StepKind::Manual && self.options.dry_run {
            // A dry run asks nobody (and fails nothing for want of an answer): it says what the
            // operator would be asked to do, and walks on through the plan.
            let scope = self.scopes.get(&key.runbook).cloned().unwrap_or_default();
            let what = scope.shown(step.title.get_ref());
            return self
                .undecided(
                    key,
                    format!("dry run: would ask the operator to do by hand: {what}"),
                    updates,
                )
                .await;
        }
        self.progress.insert(key.clone(), Progress::Active);
        if *step.kind.get_ref() == StepKind::Manual {
            let operator = self.options.operator.clone();
            return self.proceed(key, operator, work, updates).await;
        }
        let changes = matches!(step.kind.get_ref(), StepKind::Action | StepKind::Command);
        if changes && self.options.read_only {
            return self
                .skip(
                    key,
                    "read-only rehearsal: changes are not carried out".into(),
                    None,
                    updates,
                )
                .await;
        }
        if self.options.read_only
            && step.kind.get_ref().is_read_only()
            && let Some((id, _)) = crate::checks::run::change_before(&rb, &step)
        {
            let why = format!("read-only rehearsal: verifies `{id}`, which was not carried out");
            return self.skip(key, why, None, updates).await;
        }
        if step.kind.get_ref().is_read_only()
            && let Some(why) = self.verifies_what_did_not_happen(&rb, &step, &key)
        {
            return self.skip(key, why, None, updates).await;
        }
        if *step.kind.get_ref() == StepKind::Command
            && !self.options.dry_run
            && let Some(why) = self.options.skip_commands.clone()
        {
            return self.skip(key, why, None, updates).await;
        }
        if changes && self.reconfirm.remove(&key) && !self.options.dry_run {
            if let Some(by) = self.verified_on_resume(&rb, &key, updates).await? {
                let outputs = BTreeMap::from([
                    ("outcome".to_string(), Outcome::Ok.as_str().to_string()),
                    ("verified_by".to_string(), by.clone()),
                ]);
                return self
                    .finish(
                        key,
                        Outcome::Ok,
                        format!("done before the interruption: verified by `{by}` on resume"),
                        outputs,
                        None,
                        None,
                        updates,
                    )
                    .await;
            }
            let what = format!(
                "INTERRUPTED: this step had started when drbook stopped and may have run. Run it again? {}",
                self.describe(&step, &key)
            );
            self.waiting.insert(key.clone(), Waiting::Confirmation);
            return self
                .record(ExecEvent::ConfirmationRequested { key, what }, updates)
                .await;
        }
        if step.confirm.as_ref().is_some_and(|c| *c.get_ref()) && !self.options.dry_run {
            if self.options.auto_approve {
                self.record(
                    ExecEvent::Confirmed {
                        key: key.clone(),
                        by: self.options.operator.clone(),
                        yes: true,
                        auto: true,
                    },
                    updates,
                )
                .await?;
            } else {
                let what = self.describe(&step, &key);
                self.waiting.insert(key.clone(), Waiting::Confirmation);
                return self
                    .record(ExecEvent::ConfirmationRequested { key, what }, updates)
                    .await;
            }
        }
        let operator = self.options.operator.clone();
        self.proceed(key, operator, work, updates).await
    }

    /// A manual step begins: the operator does it and says how it went.
    async fn begin_manual(
        &mut self,
        key: StepKey,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        self.started.insert(key.clone(), Instant::now());
        let title = self.shown_title(&key);
        self.record(
            ExecEvent::StepStarted {
                key: key.clone(),
                kind: StepKind::Manual,
                attempt: 1,
                title,
            },
            updates,
        )
        .await?;
        self.waiting.insert(key.clone(), Waiting::Operator);
        self.record(ExecEvent::WaitingForOperator { key }, updates)
            .await
    }

    /// Whether starting `step` now would change something (and so needs a claim on a shared
    /// incident): actions and commands that will run, and manual steps.
    fn changes_something(&self, step: &Step) -> bool {
        match step.kind.get_ref() {
            StepKind::Manual => true,
            StepKind::Action => !self.options.read_only && !self.options.dry_run,
            StepKind::Command => {
                !self.options.read_only
                    && !self.options.dry_run
                    && self.options.skip_commands.is_none()
            }
            _ => false,
        }
    }

    /// A step's title as shown (variables filled in, secrets masked), for the log.
    fn shown_title(&self, key: &StepKey) -> String {
        let Some((_, step)) = self.step(key) else {
            return key.step.clone();
        };
        match self.scopes.get(&key.runbook) {
            Some(scope) => scope.shown(step.title.get_ref()),
            None => step.title.get_ref().clone(),
        }
    }

    /// Exactly what a confirmable step will do, for the confirmation dialog.
    pub fn describe(&self, step: &Step, key: &StepKey) -> String {
        let scope = self.scopes.get(&key.runbook).cloned().unwrap_or_default();
        let r = |s: Option<&String>| {
            scope.vars.redact(
                &s.map(|x| scope.render(x).unwrap_or_else(|_| scope.shown(x)))
                    .unwrap_or_default(),
            )
        };
        match step.kind.get_ref() {
            StepKind::Action => {
                let body = step
                    .body
                    .as_ref()
                    .and_then(|b| scope.render_value(b.get_ref()).ok())
                    .map(|b| format!(" with body {}", scope.vars.redact(&b.to_string())))
                    .unwrap_or_default();
                format!(
                    "{} {}?api-version={}{body}",
                    step.method
                        .as_ref()
                        .map_or("POST".into(), |m| m.get_ref().to_ascii_uppercase()),
                    r(step.resource.as_ref().map(|x| x.get_ref())),
                    r(step.api_version.as_ref().map(|x| x.get_ref()))
                )
            }
            StepKind::Command => {
                let argv: Vec<String> = step
                    .argv
                    .as_ref()
                    .map(|a| a.get_ref().iter().map(|x| r(Some(x.get_ref()))).collect())
                    .unwrap_or_default();
                format!("run {}", argv.join(" "))
            }
            _ => scope.shown(step.title.get_ref()),
        }
    }

    async fn launch(
        &mut self,
        key: StepKey,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let Some((_, step)) = self.step(&key) else {
            return Ok(());
        };
        let attempt = {
            let a = self.attempts.entry(key.clone()).or_insert(0);
            *a += 1;
            *a
        };
        self.progress.insert(key.clone(), Progress::Active);
        self.started.entry(key.clone()).or_insert_with(Instant::now);
        let title = self.scopes.get(&key.runbook).map_or_else(
            || step.title.get_ref().clone(),
            |s| s.shown(step.title.get_ref()),
        );
        self.record(
            ExecEvent::StepStarted {
                key: key.clone(),
                kind: *step.kind.get_ref(),
                attempt,
                title,
            },
            updates,
        )
        .await?;
        let cancel = self.reader.arm.cancel_token().child_token();
        self.cancels.insert(key.clone(), cancel.clone());
        let reader = self.reader.clone();
        let mut scope = self.scopes.get(&key.runbook).cloned().unwrap_or_default();
        let dry_run = self.options.dry_run;
        scope.placeholders = dry_run;
        let max_delay = self.options.max_delay;
        let (ltx, mut lrx) = mpsc::unbounded_channel();
        let (ptx, mut prx) = mpsc::unbounded_channel();
        let (lines, prog, k1, k2) = (
            work.lines.clone(),
            work.prog.clone(),
            key.clone(),
            key.clone(),
        );
        // The step's lines, with its key; awaited before the step's end is reported, so
        // every line is in the engine's queue before the end (nothing lost when a run
        // finishing on its last step stops at once).
        let forward = tokio::spawn(async move {
            while let Some((s, l)) = lrx.recv().await {
                let _ = lines.send((k1.clone(), s, l));
            }
        });
        tokio::spawn(async move {
            while let Some(t) = prx.recv().await {
                let _ = prog.send((k2.clone(), t));
            }
        });
        work.tasks.spawn(async move {
            let ctx = StepContext {
                reader: &reader,
                scope: &scope,
                cancel,
                lines: ltx,
                dry_run,
                progress: ptx,
                max_delay,
            };
            let report = steps::run(&step, &ctx).await;
            // The last sender of the step's lines goes with the context: the forwarder ends.
            drop(ctx);
            let _ = forward.await;
            (key, report)
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn finished(
        &mut self,
        key: StepKey,
        report: StepReport,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let Some((_, step)) = self.step(&key) else {
            return Ok(());
        };
        let aborted = self.cancels.remove(&key).is_some_and(|c| c.is_cancelled());
        if let Some(c) = &report.check {
            self.record(
                ExecEvent::CheckResult {
                    key: key.clone(),
                    expected: c.expected.clone(),
                    actual: c.actual.clone(),
                    // An assessment's read is a finding whatever it found (see journal.rs).
                    verdict: if report.outputs.contains_key("finding") {
                        "FINDING".to_string()
                    } else {
                        c.verdict.as_str().to_string()
                    },
                    source: c.target.clone(),
                    latency_ms: c.latency.as_millis() as u64,
                },
                updates,
            )
            .await?;
        }
        let attempt = self.attempts.get(&key).copied().unwrap_or(1);
        let retries = step.retries.as_ref().map_or(0, |r| *r.get_ref());
        if report.outcome == Outcome::Failed && report.retryable && !aborted && attempt <= retries {
            let delay = step
                .retry_delay
                .as_ref()
                .and_then(|d| parse_duration(d.get_ref()).ok())
                .unwrap_or(Duration::from_secs(10));
            let delay = self.options.max_delay.map_or(delay, |m| delay.min(m));
            self.record(
                ExecEvent::Retry {
                    key: key.clone(),
                    attempt: attempt + 1,
                    reason: first_line(&report.summary),
                },
                updates,
            )
            .await?;
            let k = key.clone();
            work.timers.spawn(async move {
                tokio::time::sleep(delay).await;
                k
            });
            return Ok(());
        }
        let summary = if aborted {
            format!("aborted: {}", report.summary)
        } else {
            report.summary.clone()
        };
        self.finish(
            key.clone(),
            report.outcome,
            summary,
            report.outputs.clone(),
            None,
            None,
            updates,
        )
        .await?;
        self.roll_back_if_asked(&key, report.outcome, work, updates)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &mut self,
        key: StepKey,
        outcome: Outcome,
        summary: String,
        outputs: BTreeMap<String, String>,
        note: Option<String>,
        by: Option<String>,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let duration_ms = self
            .started
            .remove(&key)
            .map_or(0, |t| t.elapsed().as_millis() as u64);
        let note = note.map(|n| self.redact_any(&n));
        self.record(
            ExecEvent::StepFinished {
                key: key.clone(),
                outcome,
                summary,
                outputs: outputs.clone(),
                duration_ms,
                note,
                by,
            },
            updates,
        )
        .await?;
        self.progress.insert(
            key.clone(),
            match outcome {
                Outcome::Ok => Progress::Done,
                Outcome::Failed => Progress::Failed,
                Outcome::Skipped => Progress::Skipped,
            },
        );
        // A dry run only described the step: it has no outputs, and no outcome conditions
        // could honestly read (a person's answer to a manual step is real, and kept).
        let described = self.options.dry_run
            && self
                .step(&key)
                .is_some_and(|(_, s)| *s.kind.get_ref() != StepKind::Manual);
        if !described && let Some(scope) = self.scopes.get_mut(&key.runbook) {
            scope.outputs.insert(key.step.clone(), outputs);
        }
        Ok(())
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}
