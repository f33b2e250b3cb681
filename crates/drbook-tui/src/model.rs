//! What the screen shows of the plan: the runbooks in plan order and their steps, rendered
//! once with their variables (secrets masked), and each step's status read from the incident
//! state. Pure data: built from the session, drawn by `view`.

use std::collections::BTreeMap;
use std::time::Duration;

use drbook_core::incident::{IncidentState, StepStatus};
use drbook_core::runbook::model::{Runbook, Step, StepKind};
use drbook_core::runbook::plan::{self, Group, Progress, StepKey};
use drbook_core::runbook::template::{self, Ref};
use drbook_core::time::parse_duration;
use drbook_engine::checks::read::target_text;
use drbook_engine::checks::scope::Scope;

#[derive(Debug, Clone)]
pub struct StepView {
    pub key: StepKey,
    pub title: String,
    pub kind: StepKind,
    pub confirm: bool,
    /// `approval = "two-person"` on a kind that changes things.
    pub two_person: bool,
    /// What it reads or changes: a resource id, a query, a URL, an argv, a duration.
    pub target: String,
    /// The instructions as written; `Board::instructions` renders them with what is known.
    pub has_instructions: bool,
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RunbookView {
    pub id: String,
    pub title: String,
    pub component: &'static str,
    pub rto: Option<Duration>,
    pub rto_text: Option<String>,
    /// Index of its plan group.
    pub group: usize,
    pub steps: Vec<StepView>,
}

/// A runbook's roll-up, as the list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollup {
    NotStarted,
    /// Waits for an earlier group of the plan.
    Blocked,
    /// A step of it runs now.
    Running,
    /// Under way, nothing of it runs, and a step of it could start.
    Ready,
    /// Under way, nothing of it runs, and none of its steps can start (an interrupted step, a
    /// failed one its next steps need): "running" would be untrue.
    Stalled,
    /// A step waits for an answer from the operator.
    NeedsYou,
    /// A two-person step waits for an incident commander's approval.
    AwaitsApproval,
    Done,
    Failed,
}

/// A step's status as shown: the log's, plus "ready" for what could start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    NotStarted,
    Ready,
    Running,
    /// A confirmation or a manual step waits for the operator.
    NeedsYou,
    /// A two-person step waits for an incident commander other than its operator.
    AwaitsApproval,
    Done,
    Failed,
    Skipped,
    Interrupted,
    /// An assessment carried out: its finding (the primary is down) is shown neutrally.
    Finding,
}

impl Shown {
    /// Icon and word: the status is never told by colour alone.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Shown::NotStarted => ("·", "pending"),
            Shown::Ready => ("◌", "ready"),
            Shown::Running => ("▶", "running"),
            Shown::NeedsYou => ("?", "needs you"),
            Shown::AwaitsApproval => ("⚖", "approval"),
            Shown::Done => ("✔", "done"),
            Shown::Failed => ("✘", "failed"),
            Shown::Skipped => ("↷", "skipped"),
            Shown::Interrupted => ("⚠", "interrupted"),
            Shown::Finding => ("◆", "finding"),
        }
    }
}

impl Rollup {
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Rollup::NotStarted => ("·", "to do"),
            Rollup::Blocked => ("⧗", "blocked"),
            Rollup::Running => ("▶", "running"),
            Rollup::Ready => ("◌", "ready"),
            Rollup::Stalled => ("⧗", "stalled"),
            Rollup::NeedsYou => ("?", "needs you"),
            Rollup::AwaitsApproval => ("⚖", "approval"),
            Rollup::Done => ("✔", "done"),
            Rollup::Failed => ("✘", "failed"),
        }
    }
}

fn step_target(step: &Step, scope: &Scope) -> String {
    let raw = match step.kind.get_ref() {
        StepKind::Action => format!(
            "{} {}",
            step.method
                .as_ref()
                .map_or("POST", |m| m.get_ref().as_str()),
            target_text(step, scope)
        ),
        StepKind::Command => step
            .argv
            .as_ref()
            .map(|a| {
                a.get_ref()
                    .iter()
                    .map(|x| {
                        scope
                            .render(x.get_ref())
                            .unwrap_or_else(|_| scope.shown(x.get_ref()))
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        StepKind::Wait => step
            .timeout
            .as_ref()
            .map(|t| format!("wait {}", t.get_ref()))
            .unwrap_or_default(),
        StepKind::Manual => String::new(),
        _ => target_text(step, scope),
    };
    scope.vars.redact(&raw)
}

fn step_view(rb: &Runbook, step: &Step, scope: &Scope) -> StepView {
    StepView {
        key: StepKey::new(rb.id(), step.id.get_ref().clone()),
        title: scope.shown(step.title.get_ref()),
        kind: *step.kind.get_ref(),
        confirm: step.confirm.as_ref().is_some_and(|c| *c.get_ref()),
        two_person: step.two_person(),
        target: step_target(step, scope),
        has_instructions: step.instructions.is_some(),
        depends_on: step
            .depends_on
            .iter()
            .map(|d| d.get_ref().clone())
            .collect(),
    }
}

/// The plan as drawn, and what it needs to work out readiness.
pub struct Board {
    pub runbooks: Vec<RunbookView>,
    pub groups: Vec<Group>,
    models: Vec<Runbook>,
    scopes: BTreeMap<String, Scope>,
}

fn progress(s: StepStatus) -> Progress {
    match s {
        StepStatus::NotStarted => Progress::NotStarted,
        StepStatus::Done | StepStatus::Assessed => Progress::Done,
        StepStatus::Failed => Progress::Failed,
        StepStatus::Skipped => Progress::Skipped,
        StepStatus::Running
        | StepStatus::WaitingForConfirmation
        | StepStatus::WaitingForApproval
        | StepStatus::Interrupted => Progress::Active,
    }
}

impl Board {
    pub fn new(work: &[(Runbook, Scope)], groups: Vec<Group>) -> Board {
        let mut runbooks = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            for id in &g.runbooks {
                let Some((rb, scope)) = work.iter().find(|(r, _)| r.id() == id) else {
                    continue;
                };
                let rto_text = rb.meta.rto.as_ref().map(|r| r.get_ref().clone());
                runbooks.push(RunbookView {
                    id: rb.id().to_string(),
                    title: scope.shown(rb.meta.title.get_ref()),
                    component: rb.meta.component.get_ref().as_str(),
                    rto: rto_text.as_deref().and_then(|r| parse_duration(r).ok()),
                    rto_text,
                    group: gi,
                    steps: rb.steps.iter().map(|s| step_view(rb, s, scope)).collect(),
                });
            }
        }
        Board {
            runbooks,
            groups,
            models: work.iter().map(|(r, _)| r.clone()).collect(),
            scopes: work
                .iter()
                .map(|(r, s)| (r.id().to_string(), s.clone()))
                .collect(),
        }
    }

    fn progress_fn<'a>(state: &'a IncidentState) -> impl Fn(&StepKey) -> Progress + 'a {
        |k: &StepKey| {
            state
                .step(&k.runbook, &k.step)
                .map_or(Progress::NotStarted, |s| progress(s.status))
        }
    }

    /// The steps that could start now.
    pub fn ready(&self, state: &IncidentState) -> Vec<StepKey> {
        let map: BTreeMap<&str, &Runbook> = self.models.iter().map(|r| (r.id(), r)).collect();
        plan::ready(&self.groups, &map, &Board::progress_fn(state))
    }

    pub fn shown(&self, key: &StepKey, state: &IncidentState, ready: &[StepKey]) -> Shown {
        let kind = self
            .runbooks
            .iter()
            .find(|r| r.id == key.runbook)
            .and_then(|r| r.steps.iter().find(|s| s.key == *key))
            .map(|s| s.kind);
        match state.step(&key.runbook, &key.step).map(|s| s.status) {
            None | Some(StepStatus::NotStarted) if ready.contains(key) => Shown::Ready,
            None | Some(StepStatus::NotStarted) => Shown::NotStarted,
            Some(StepStatus::Running) if kind == Some(StepKind::Manual) => Shown::NeedsYou,
            Some(StepStatus::Running) => Shown::Running,
            Some(StepStatus::WaitingForConfirmation) => Shown::NeedsYou,
            Some(StepStatus::WaitingForApproval) => Shown::AwaitsApproval,
            Some(StepStatus::Done) => Shown::Done,
            Some(StepStatus::Assessed) => Shown::Finding,
            Some(StepStatus::Failed) => Shown::Failed,
            Some(StepStatus::Skipped) => Shown::Skipped,
            Some(StepStatus::Interrupted) => Shown::Interrupted,
        }
    }

    pub fn rollup(&self, rb: &RunbookView, state: &IncidentState, ready: &[StepKey]) -> Rollup {
        let shown: Vec<Shown> = rb
            .steps
            .iter()
            .map(|s| self.shown(&s.key, state, ready))
            .collect();
        if shown.contains(&Shown::NeedsYou) {
            return Rollup::NeedsYou;
        }
        if shown.contains(&Shown::AwaitsApproval) {
            return Rollup::AwaitsApproval;
        }
        let Some(model) = self.models.iter().find(|m| m.id() == rb.id) else {
            return Rollup::NotStarted;
        };
        match plan::runbook_state(model, &Board::progress_fn(state)) {
            plan::RunbookState::Failed => Rollup::Failed,
            plan::RunbookState::Done => Rollup::Done,
            plan::RunbookState::Running if shown.contains(&Shown::Running) => Rollup::Running,
            plan::RunbookState::Running if shown.contains(&Shown::Ready) => Rollup::Ready,
            plan::RunbookState::Running => Rollup::Stalled,
            plan::RunbookState::NotStarted if shown.contains(&Shown::Ready) => Rollup::NotStarted,
            plan::RunbookState::NotStarted => Rollup::Blocked,
        }
    }

    /// The first group not finished: its runbooks' RTO is the countdown that matters now.
    pub fn current_group(&self, state: &IncidentState, ready: &[StepKey]) -> Option<usize> {
        (0..self.groups.len()).find(|&g| {
            self.runbooks
                .iter()
                .filter(|r| r.group == g)
                .any(|r| self.rollup(r, state, ready) != Rollup::Done)
        })
    }

    pub fn step(&self, key: &StepKey) -> Option<&StepView> {
        self.runbooks
            .iter()
            .find(|r| r.id == key.runbook)?
            .steps
            .iter()
            .find(|s| s.key == *key)
    }

    /// Runbooks the log mentions that no file describes any more: shown from the log alone
    /// (step ids and the titles the log kept), in a last group of their own.
    pub fn add_unknown(&mut self, state: &IncidentState) {
        let group = self.groups.len();
        let mut added = Vec::new();
        for rs in &state.runbooks {
            if self.runbooks.iter().any(|r| r.id == rs.id) {
                continue;
            }
            added.push(rs.id.clone());
            self.runbooks.push(RunbookView {
                id: rs.id.clone(),
                title: format!("{} (runbook file not found)", rs.id),
                component: "?",
                rto: None,
                rto_text: None,
                group,
                steps: rs
                    .steps
                    .iter()
                    .map(|st| StepView {
                        key: StepKey::new(rs.id.clone(), st.id.clone()),
                        title: st.title.clone().unwrap_or_else(|| st.id.clone()),
                        kind: StepKind::Check,
                        confirm: false,
                        // The log says whether it was asked for (`approval_requested`).
                        two_person: st.approval.is_some(),
                        target: String::new(),
                        has_instructions: false,
                        depends_on: Vec::new(),
                    })
                    .collect(),
            });
        }
        if !added.is_empty() {
            self.groups.push(Group {
                name: "not in the runbook files".into(),
                runbooks: added,
                parallel: true,
            });
        }
    }

    /// The plan's critical path: the longest chain of steps through its groups.
    pub fn critical_path(&self) -> Vec<StepKey> {
        let map: BTreeMap<&str, &Runbook> = self.models.iter().map(|r| (r.id(), r)).collect();
        plan::critical_path(&self.groups, &map)
    }

    /// What the runbooks on the board (and `plan`, its id and RTO) say, for the verdict.
    pub fn sources(&self, plan: Option<(&str, Option<&str>)>) -> drbook_report::Sources {
        let work = self
            .models
            .iter()
            .filter_map(|r| self.scopes.get(r.id()).map(|s| (r, s)));
        drbook_report::Sources::from_runbooks(work, &self.groups, plan)
    }

    /// RTO as written, per runbook id.
    pub fn rtos(&self) -> BTreeMap<String, String> {
        self.runbooks
            .iter()
            .filter_map(|r| r.rto_text.clone().map(|t| (r.id.clone(), t)))
            .collect()
    }

    /// A step's instructions with every value known so far (outputs of earlier steps come
    /// from the log); what is not known yet shows as `…`. Secrets masked.
    pub fn instructions(&self, key: &StepKey, state: &IncidentState) -> Option<String> {
        let (_, st) = self.model_step(key)?;
        let raw = st.instructions.as_ref()?.get_ref();
        let scope = self.scopes.get(&key.runbook)?;
        let text = template::render(raw, |r| {
            let known = match r {
                Ref::Step { step, field } => state.step(&key.runbook, step).and_then(|s| {
                    s.outputs
                        .get(field)
                        .cloned()
                        .or_else(|| match (field.as_str(), s.status) {
                            ("outcome", StepStatus::Done | StepStatus::Assessed) => {
                                Some("ok".into())
                            }
                            ("outcome", StepStatus::Failed) => Some("failed".into()),
                            ("outcome", StepStatus::Skipped) => Some("skipped".into()),
                            // An assessment that could not be made found nothing.
                            ("finding", StepStatus::Failed) => Some("could not assess".into()),
                            _ => None,
                        })
                }),
                other => scope.lookup(other),
            };
            Some(known.unwrap_or_else(|| "…".into()))
        })
        .unwrap_or_else(|_| raw.clone());
        Some(scope.vars.redact(text.trim()))
    }

    pub fn model_step(&self, key: &StepKey) -> Option<(&Runbook, &Step)> {
        let rb = self.models.iter().find(|m| m.id() == key.runbook)?;
        let st = rb.steps.iter().find(|s| s.id.get_ref() == &key.step)?;
        Some((rb, st))
    }
}
