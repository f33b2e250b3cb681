//! The autopilot: once on, every step is started as it becomes ready, until the operator turns
//! it off or pauses, or the plan has nothing left to run. It never answers anything: the
//! confirmations, manual steps and approvals it reaches wait for a person. Also what the
//! "next action" line says: what waits for the operator, what holds the plan, the next RTO
//! breach, and at the end the plan's verdict.

use std::time::Duration;

use super::{App, Effect};
use crate::keys::Action;
use crate::model::{Rollup, Shown};
use drbook_core::incident::EventKind;
use drbook_core::runbook::model::StepKind;
use drbook_core::runbook::plan::StepKey;
use drbook_engine::exec::engine::Control;

/// How many steps are where, over the whole plan, as the screen shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ready: usize,
    pub running: usize,
    /// Confirmations, manual steps and approvals: a person must act.
    pub waiting: usize,
}

/// The one thing the operator should know next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A question waits for this operator (`more`: how many others wait behind it).
    Yours { what: String, more: usize },
    /// Something else holds the plan: a failed step, a pause, a group still running.
    Holds(String),
    /// Nothing is running and nothing waits: say what would move the plan.
    Idle(String),
    /// The plan has nothing left to run: its verdict.
    Over { recovered: bool, verdict: String },
}

/// The RTO that will be breached first, or the one already breached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// A runbook id, or "plan".
    pub who: String,
    /// Positive: seconds left; negative: seconds over.
    pub left_secs: i64,
}

impl App {
    fn first_key(&self, a: Action) -> String {
        self.keys.keys_for(a).into_iter().next().unwrap_or_default()
    }

    /// The autopilot key as the live keymap spells it.
    pub fn autopilot_key(&self) -> String {
        self.first_key(Action::Autopilot)
    }

    /// The operator pressed the autopilot key: turns it on (resuming a pause) or off. Each
    /// change is a note in the log, by the operator, so the review shows who let drbook drive.
    pub(super) fn toggle_autopilot(&mut self) -> Vec<Effect> {
        let by = self.info.operator.clone();
        let key = self.autopilot_key();
        if self.autopilot {
            self.autopilot = false;
            self.say(format!(
                "autopilot off: running steps finish, nothing new starts by itself ({key}: on)"
            ));
            return self.control(Control::Note {
                key: None,
                text: "autopilot off".into(),
                by,
            });
        }
        if self.plan_over() {
            let (_, verdict) = self.verdict();
            self.say(format!("nothing left to run: {verdict}"));
            return Vec::new();
        }
        self.autopilot = true;
        self.autopilot_asked.clear();
        self.say(format!(
            "each step starts as it becomes ready; questions wait for you ({key}: off)"
        ));
        let mut out = self.control(Control::Note {
            key: None,
            text: "autopilot on: every step starts as it becomes ready".into(),
            by: by.clone(),
        });
        if self.state.is_paused() {
            // Its `Resumed`, once logged, lets the autopilot start what is ready.
            out.extend(self.control(Control::Resume { by }));
        } else {
            out.extend(self.autopilot_tick());
        }
        out
    }

    /// After each event and each time the engine goes idle: starts what became ready, or
    /// stops the autopilot when the plan has nothing left to run.
    pub(super) fn autopilot_tick(&mut self) -> Vec<Effect> {
        if self.log_failed.is_some() {
            // Nothing is carried out any more: the screen must not say the autopilot drives.
            self.autopilot = false;
        }
        if !self.autopilot || self.info.review || self.state.is_paused() {
            return Vec::new();
        }
        // A step is asked for once: the events of a running command must not each send the
        // engine a start (it starts what is ready anyway, and refuses what it cannot).
        let fresh: Vec<StepKey> = self
            .ready
            .iter()
            .filter(|k| !self.autopilot_asked.contains(*k))
            .cloned()
            .collect();
        if !fresh.is_empty() {
            self.autopilot_asked.extend(fresh);
            return self.control(Control::StartAllReady);
        }
        if !self.plan_over() {
            return Vec::new();
        }
        self.autopilot = false;
        let (_, verdict) = self.verdict();
        // drbook stopped it, not the operator: the note says so by its actor.
        let text = match self.holder() {
            Some(k) => {
                self.say(format!(
                    "autopilot stopped: {k} failed and holds the plan ({} retries, {} skips, \
                     then {} again) · so far {verdict}",
                    self.first_key(Action::Recheck),
                    self.first_key(Action::Skip),
                    self.autopilot_key()
                ));
                format!("autopilot off: nothing can start, {k} failed and holds the plan")
            }
            None => {
                self.say(format!(
                    "autopilot stopped: nothing left to run · {verdict}"
                ));
                "autopilot off: nothing left to run".into()
            }
        };
        self.control(Control::Note {
            key: None,
            text,
            by: "drbook".into(),
        })
    }

    /// A logged event the autopilot cares about: a resume lets it ask again for steps it
    /// asked for while the engine was (about to be) paused.
    pub(super) fn autopilot_logged(&mut self, kind: &EventKind) {
        if matches!(kind, EventKind::Resumed { .. }) {
            self.autopilot_asked.clear();
        }
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in self.board.runbooks.iter().flat_map(|r| &r.steps) {
            match self.shown(&s.key) {
                Shown::Ready => c.ready += 1,
                Shown::Running => c.running += 1,
                Shown::NeedsYou | Shown::AwaitsApproval => c.waiting += 1,
                _ => {}
            }
        }
        c
    }

    /// Nothing can move the plan any more by itself or by an answer: nothing is ready,
    /// running or waiting for a person, and it is not paused (a pause holds, it does not end).
    pub fn plan_over(&self) -> bool {
        if self.state.is_paused() || !self.ready.is_empty() {
            return false;
        }
        self.counts() == Counts::default()
    }

    /// The plan's verdict in words, from the incident's one verdict (`report::verdict`):
    /// RECOVERED only when every runbook's steps are done or deliberately skipped.
    pub fn verdict(&self) -> (bool, String) {
        let v = self.incident_verdict();
        if v.recovered && !self.all_done() {
            // The log's steps all settled, yet a runbook of the plan is not done (never
            // started, or held): never claim a recovery the screen contradicts.
            (
                false,
                "NOT RECOVERED: not every runbook of the plan is done".into(),
            )
        } else {
            (v.recovered, v.words())
        }
    }

    /// What the operator should know next, most pressing first.
    pub fn next_action(&self) -> Next {
        if let Some(n) = self.next_question() {
            return n;
        }
        if let Some(k) = self.holder() {
            return Next::Holds(format!(
                "held: {k} failed ({} retries, {} skips)",
                self.first_key(Action::Recheck),
                self.first_key(Action::Skip)
            ));
        }
        if self.state.is_paused() {
            return Next::Holds(format!(
                "paused: nothing new starts ({} resumes)",
                self.first_key(Action::Pause)
            ));
        }
        if self.plan_over() {
            let (recovered, verdict) = self.verdict();
            return Next::Over { recovered, verdict };
        }
        let n = self.ready.len();
        // Something runs: what the plan waits on. Nothing does: what would start it.
        if (n == 0 || self.counts().running > 0)
            && let Some(w) = self.what_holds()
        {
            return Next::Holds(w);
        }
        Next::Idle(if self.autopilot {
            format!("starting {n} ready step(s)")
        } else if self.info.review || !self.role().acts() {
            // Nothing to offer where nothing can be started from this screen.
            format!("{n} step(s) ready")
        } else {
            format!(
                "{n} step(s) ready: {} runs the selected one, {} turns the autopilot on",
                self.first_key(Action::Run),
                self.autopilot_key()
            )
        })
    }

    /// The oldest question put to this operator.
    fn next_question(&self) -> Option<Next> {
        let waiting: Vec<&StepKey> = self
            .prompts
            .iter()
            .filter(|k| matches!(self.shown(k), Shown::NeedsYou | Shown::AwaitsApproval))
            .collect();
        let key = waiting.first()?;
        let st = self.state.step(&key.runbook, &key.step);
        let first_line = |s: &str| s.lines().next().unwrap_or_default().trim().to_string();
        let confirm = st
            .and_then(|s| s.confirmation.as_ref())
            .filter(|c| c.answer.is_none())
            .map(|c| first_line(&c.prompt));
        let approve = st
            .and_then(|s| s.approval.as_ref())
            .filter(|a| a.answer.is_none())
            .map(|a| first_line(&a.prompt));
        let view = self.board.step(key);
        let title = view.map_or_else(|| key.step.clone(), |s| s.title.clone());
        let what = match (confirm, approve) {
            (Some(c), _) => format!("confirm: {c} ({})", key.runbook),
            (None, Some(a)) => format!("approve: {a} ({})", key.runbook),
            (None, None) if view.is_some_and(|s| s.kind == StepKind::Manual) => {
                format!("do: {title} ({})", key.runbook)
            }
            (None, None) => format!("answer: {title} ({})", key.runbook),
        };
        Some(Next::Yours {
            what,
            more: waiting.len() - 1,
        })
    }

    /// The group the plan is in, and the runbooks of it not done yet: the next group waits
    /// for them ("waiting: group 2 needs infra-iac (running 3m)").
    fn what_holds(&self) -> Option<String> {
        let g = self.board.current_group(&self.state, &self.ready)?;
        let open: Vec<&str> = self
            .board
            .runbooks
            .iter()
            .filter(|r| r.group == g)
            .filter(|r| self.board.rollup(r, &self.state, &self.ready) != Rollup::Done)
            .map(|r| r.id.as_str())
            .collect();
        let first = *open.first()?;
        let since = self
            .state
            .runbook(first)
            .and_then(|r| r.steps.iter().filter_map(|s| s.started).min());
        let running = since
            .and_then(|s| (self.now - s).to_std().ok())
            .map_or_else(String::new, |d| format!(" (running {})", short(d)));
        let names = match open.len() {
            1 => first.to_string(),
            n => format!("{first} and {} more", n - 1),
        };
        Some(if g + 1 < self.board.groups.len() {
            format!("waiting: group {} needs {names}{running}", g + 2)
        } else {
            format!("waiting: {names} to finish{running}")
        })
    }

    /// The RTO that breaches first among the runbooks not done (and the plan's), counted as
    /// the header counts it.
    pub fn next_breach(&self) -> Option<Breach> {
        // A past incident (review) or a closed one has no deadline left to count down to.
        if self.replay.is_some() || self.state.closed.is_some() {
            return None;
        }
        let elapsed = self.elapsed().as_secs() as i64;
        let left = |rto: Duration| rto.as_secs() as i64 - elapsed;
        let mut best: Option<Breach> = self
            .board
            .runbooks
            .iter()
            .filter(|r| self.board.rollup(r, &self.state, &self.ready) != Rollup::Done)
            .filter_map(|r| {
                r.rto.map(|rto| Breach {
                    who: r.id.clone(),
                    left_secs: left(rto),
                })
            })
            .min_by_key(|b| b.left_secs);
        if let Some(rto) = self.info.plan_rto.filter(|_| !self.all_done()) {
            let plan = left(rto);
            if best.as_ref().is_none_or(|b| plan < b.left_secs) {
                best = Some(Breach {
                    who: "plan".into(),
                    left_secs: plan,
                });
            }
        }
        best
    }
}

/// "45s", "12m", "2h05m": how long, to the minute once past one.
pub fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}
