//! The TUI's state and the one place it changes: `App::update` takes a message (a key, a
//! mouse event, an event now on disk, an engine update, a tick) and returns what the runner
//! must do (controls for the engine, quit). Drawing only reads this state.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::keys::{Action, KeyMap};
use super::model::{Board, Rollup, Shown};
use super::theme::Theme;
use super::timeline::Timeline;
use super::view;
use crate::exec::engine::{Control, Update};
use crate::exec::plan::StepKey;
use crate::exec::steps::Outcome;
use crate::incident::event::RehearsalLevel;
use crate::incident::{Event, EventKind, IncidentState};
use crate::runbook::model::StepKind;

mod approve;
mod share;

/// What the header says about the run.
#[derive(Debug, Clone)]
pub struct Info {
    pub title: String,
    pub rehearsal: bool,
    pub level: Option<RehearsalLevel>,
    pub target: String,
    pub operator: String,
    pub log_path: String,
    pub plan_rto: Option<Duration>,
    /// Reviewing a past incident: nothing can be changed.
    pub review: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Runbooks,
    Steps,
    Detail,
    Timeline,
}

const PANES: [Pane; 4] = [Pane::Runbooks, Pane::Steps, Pane::Detail, Pane::Timeline];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    Note(Option<StepKey>),
    Skip(StepKey),
    Filter,
    ManualNote(StepKey),
    /// The name of the commander approving a two-person step at this keyboard.
    Approver(StepKey),
    /// When the outage began (`--since`'s forms).
    OutageStart,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    Help,
    /// RTO achieved, the critical path, the longest waits on people.
    Summary,
    /// A step asks before it changes anything: `what` says exactly what will be called.
    Confirm {
        key: StepKey,
        what: String,
    },
    /// A manual step: the operator does it and says how it went.
    Manual {
        key: StepKey,
        note: Option<String>,
    },
    Input {
        purpose: Purpose,
        text: String,
    },
    Quit {
        busy: usize,
    },
    Abort {
        key: StepKey,
    },
    /// Shared incidents: start a step `holder` holds, taking their claim over.
    Takeover {
        key: StepKey,
        holder: String,
        since: DateTime<Utc>,
    },
    /// Shared incidents: the share is offline, so the step cannot be claimed; run it anyway?
    Unclaimed {
        key: StepKey,
        problem: String,
    },
    /// A two-person step: `by` (a commander other than `operator`, who runs it) approves or
    /// declines it. `keyboard`: this terminal's operator, when `by` is someone else at it.
    Approve {
        key: StepKey,
        what: String,
        operator: String,
        by: String,
        keyboard: Option<String>,
    },
}

/// A read made for the screen only (not a step run): the live value of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRead {
    pub at: DateTime<Utc>,
    pub verdict: String,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Tick(DateTime<Utc>),
    /// An event, once it is on disk.
    Logged(Event),
    Engine(Update),
    Live(StepKey, LiveRead),
    /// The shared timeline's state (online, who is there, who holds which step).
    Share(crate::share::ShareView),
    /// Someone else's record on the shared timeline.
    Remote(crate::share::RemoteRecord),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Control(Control),
    Quit,
}

pub struct App {
    pub info: Info,
    pub board: Board,
    pub state: IncidentState,
    pub timeline: Timeline,
    /// Steps that could start now (worked out after each event).
    pub ready: Vec<StepKey>,
    /// The latest progress line of running steps (not logged: polling, waiting...).
    pub progress: HashMap<StepKey, String>,
    pub live: HashMap<StepKey, LiveRead>,
    pub now: DateTime<Utc>,
    pub focus: Pane,
    pub rb_sel: usize,
    pub step_sel: usize,
    /// Timeline rows scrolled back from the newest (0: follow new events).
    pub timeline_back: usize,
    pub detail_scroll: u16,
    pub dialog: Option<Dialog>,
    /// Steps waiting for an answer, oldest first.
    pub prompts: VecDeque<StepKey>,
    /// Prompts the operator put aside (Esc): not opened again by themselves.
    dismissed: HashSet<StepKey>,
    pub message: Option<String>,
    /// The engine has nothing to do: `Some(true)` when every runbook is done.
    pub idle: Option<bool>,
    pub log_failed: Option<String>,
    pub keys: KeyMap,
    pub theme: Theme,
    /// The terminal's size, for mouse hit-testing.
    pub size: Rect,
    /// Reviewing a past incident: the moment shown, and what the chain check said.
    pub replay: Option<Replay>,
    /// A shared incident: the share as last seen.
    pub share: Option<crate::share::ShareView>,
    /// The other operators' events folded together: what they run and what waits on them.
    pub others: IncidentState,
    /// The log's head as last written (live) or verified (review), for the header: taken
    /// from the events as they come, never from reading the file again.
    pub head: Option<crate::incident::Head>,
}

/// A past incident replayed: every event is in the timeline; the state is as it was after
/// the first `at` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub at: usize,
    /// The hash chain's verdict, in a few words (the header) and in full (the summary).
    pub verdict: String,
    pub detail: String,
    /// Every event is there and the chain holds.
    pub intact: bool,
    /// The events read can be trusted (intact, or only a torn last line cut off).
    pub trusted: bool,
}

impl App {
    pub fn new(
        info: Info,
        board: Board,
        history: Vec<Event>,
        keys: KeyMap,
        theme: Theme,
        now: DateTime<Utc>,
    ) -> App {
        let state = IncidentState::fold(&history);
        let mut app = App {
            info,
            board,
            state,
            timeline: Timeline::new(Vec::new()),
            ready: Vec::new(),
            progress: HashMap::new(),
            live: HashMap::new(),
            now,
            focus: Pane::Steps,
            rb_sel: 0,
            step_sel: 0,
            timeline_back: 0,
            detail_scroll: 0,
            dialog: None,
            prompts: VecDeque::new(),
            dismissed: HashSet::new(),
            message: None,
            idle: None,
            log_failed: None,
            keys,
            theme,
            size: Rect::new(0, 0, 80, 24),
            replay: None,
            share: None,
            others: IncidentState::default(),
            head: crate::incident::Head::of(&history),
        };
        for e in &history {
            app.track_prompts(e);
        }
        app.timeline = Timeline::new(history);
        app.ready = app.board.ready(&app.state);
        app
    }

    /// A past incident, read-only, shown as it ended; the arrows move through its time.
    pub fn review(
        mut info: Info,
        board: Board,
        events: Vec<Event>,
        verdict: Replay,
        keys: KeyMap,
        theme: Theme,
    ) -> App {
        info.review = true;
        let now = events.last().map_or_else(Utc::now, |e| e.ts);
        let at = events.len();
        let mut app = App::new(info, board, events, keys, theme, now);
        app.prompts.clear();
        app.replay = Some(Replay { at, ..verdict });
        app
    }

    /// Review: shows the incident as it was right after its first `at` events.
    pub fn replay_to(&mut self, at: usize) {
        let Some(r) = &self.replay else {
            return;
        };
        let total = self.timeline.events.len();
        let at = at.clamp(1.min(total), total);
        let from = r.at;
        if at >= from {
            // Forward is cheap: apply what follows.
            for e in &self.timeline.events[from..at] {
                self.state.apply(e);
            }
        } else {
            self.state = IncidentState::fold(&self.timeline.events[..at]);
        }
        if let Some(r) = &mut self.replay {
            r.at = at;
        }
        self.timeline
            .set_end(if at == total { None } else { Some(at) });
        self.timeline_back = 0;
        self.ready = self.board.ready(&self.state);
        if let Some(e) = at.checked_sub(1).and_then(|i| self.timeline.events.get(i)) {
            self.now = e.ts;
        }
    }

    /// Review: the index `secs` of incident time away from the moment shown.
    fn replay_jump(&self, secs: i64) -> usize {
        let Some(r) = &self.replay else {
            return 0;
        };
        let events = &self.timeline.events;
        let Some(cur) = r.at.checked_sub(1).and_then(|i| events.get(i)) else {
            return r.at;
        };
        let target = cur.ts + chrono::Duration::seconds(secs);
        let n = events.partition_point(|e| e.ts <= target);
        if secs < 0 {
            n.min(r.at.saturating_sub(1))
        } else {
            n.max(r.at + 1)
        }
    }

    pub fn selected_runbook(&self) -> Option<&super::model::RunbookView> {
        self.board.runbooks.get(self.rb_sel)
    }

    pub fn selected_step(&self) -> Option<&super::model::StepView> {
        self.selected_runbook()?.steps.get(self.step_sel)
    }

    pub fn selected_key(&self) -> Option<StepKey> {
        self.selected_step().map(|s| s.key.clone())
    }

    pub fn shown(&self, key: &StepKey) -> Shown {
        let here = self.board.shown(key, &self.state, &self.ready);
        // A step another operator runs on a shared incident and that waits for approval.
        if matches!(here, Shown::NotStarted | Shown::Ready) && self.awaits_elsewhere(key) {
            return Shown::AwaitsApproval;
        }
        here
    }

    /// Steps running or waiting for the operator.
    pub fn busy(&self) -> usize {
        self.board
            .runbooks
            .iter()
            .flat_map(|r| &r.steps)
            .filter(|s| matches!(self.shown(&s.key), Shown::Running | Shown::NeedsYou))
            .count()
    }

    /// Elapsed since the outage began, when the log says, else since the incident started.
    pub fn elapsed(&self) -> Duration {
        self.state
            .outage_since
            .or(self.state.started)
            .and_then(|s| (self.now - s).to_std().ok())
            .unwrap_or_default()
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(k) => self.key(k),
            Msg::Mouse(m) => {
                self.mouse(m);
                Vec::new()
            }
            Msg::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Msg::Logged(e) => {
                self.logged(e);
                Vec::new()
            }
            Msg::Engine(u) => {
                self.engine(u);
                Vec::new()
            }
            Msg::Live(key, read) => {
                self.live.insert(key, read);
                Vec::new()
            }
            Msg::Share(v) => {
                self.share = Some(v);
                Vec::new()
            }
            Msg::Remote(r) => {
                // Each drbook records the roles it hears of; only the one whose operator took
                // the role tells the others (else every role shows once per drbook).
                let echo = matches!(
                    &r.event,
                    Some(Event { kind: EventKind::RoleTaken { operator, .. }, .. })
                        if !crate::roles::same_person(operator, &r.record.op)
                );
                if echo {
                    return Vec::new();
                }
                if let Some(mut e) = r.event {
                    // What another drbook's engine did, it did for its operator.
                    if e.actor == "drbook" {
                        e.actor = r.record.op;
                    }
                    self.remote(e);
                }
                Vec::new()
            }
        }
    }

    fn logged(&mut self, e: Event) {
        self.head = Some(crate::incident::Head::at(&e));
        self.state.apply(&e);
        self.role_logged(&e);
        if let Some((rb, st)) = e.kind.step_ref() {
            let key = StepKey::new(rb, st);
            if matches!(
                e.kind,
                EventKind::StepFinished { .. } | EventKind::StepSkipped { .. }
            ) {
                self.progress.remove(&key);
            }
        }
        self.track_prompts(&e);
        if let EventKind::ClaimRefused {
            runbook,
            step,
            holder: None,
            ..
        } = &e.kind
        {
            let t = self
                .keys
                .keys_for(Action::Takeover)
                .first()
                .cloned()
                .unwrap_or_default();
            self.say(format!(
                "{runbook}/{step} not started: the share is offline; {t} runs it without a claim"
            ));
        }
        if self.now < e.ts {
            self.now = e.ts;
        }
        let mut e = e;
        // On a shared incident every drbook's engine acts for its operator: here as on the
        // other screens and in the shared review, its events are theirs.
        if self.share.is_some() && e.actor == "drbook" {
            e.actor = self.info.operator.clone();
        }
        self.timeline.push(e);
        if self.timeline_back > 0 {
            // Keep the rows the operator scrolled to where they are.
            self.timeline_back += 1;
        }
        self.ready = self.board.ready(&self.state);
        self.idle = None;
        self.open_next_prompt();
    }

    /// Confirmations asked and manual steps started wait for the operator until answered.
    fn track_prompts(&mut self, e: &Event) {
        let Some((rb, st)) = e.kind.step_ref() else {
            return;
        };
        let key = StepKey::new(rb, st);
        let manual = self
            .board
            .step(&key)
            .is_some_and(|s| s.kind == StepKind::Manual);
        // A scribe answers nothing: questions are not put to them.
        let answers = self.role().acts();
        match &e.kind {
            EventKind::ConfirmationRequested { .. } if answers => self.push_prompt(key),
            EventKind::StepStarted { .. } if manual && answers => self.push_prompt(key),
            EventKind::ApprovalRequested { operator, .. } if self.approves_for(operator) => {
                self.push_prompt(key)
            }
            EventKind::Confirmed { .. }
            | EventKind::Approved { .. }
            | EventKind::StepFinished { .. }
            | EventKind::StepSkipped { .. } => self.settle_prompt(&key),
            _ => {}
        }
    }

    /// The question about `key` was answered: it is no longer put, and its dialog closes.
    fn settle_prompt(&mut self, key: &StepKey) {
        self.prompts.retain(|k| k != key);
        self.dismissed.remove(key);
        let open = match &self.dialog {
            Some(
                Dialog::Confirm { key: k, .. }
                | Dialog::Manual { key: k, .. }
                | Dialog::Approve { key: k, .. },
            ) => k == key,
            Some(Dialog::Input {
                purpose: Purpose::ManualNote(k) | Purpose::Skip(k) | Purpose::Approver(k),
                ..
            }) => k == key,
            _ => false,
        };
        if open {
            self.dialog = None;
        }
    }

    fn push_prompt(&mut self, key: StepKey) {
        if !self.prompts.contains(&key) {
            self.prompts.push_back(key);
        }
    }

    /// Opens the oldest question not put aside, when no dialog is open.
    fn open_next_prompt(&mut self) {
        if self.dialog.is_some() || self.info.review {
            return;
        }
        let Some(key) = self
            .prompts
            .iter()
            .find(|k| !self.dismissed.contains(*k))
            .cloned()
        else {
            return;
        };
        self.open_prompt(key);
    }

    fn open_prompt(&mut self, key: StepKey) {
        self.select(&key);
        if self.shown(&key) == Shown::AwaitsApproval {
            self.ask_approval(key);
            return;
        }
        let asked = self
            .state
            .step(&key.runbook, &key.step)
            .and_then(|s| s.confirmation.as_ref())
            .filter(|c| c.answer.is_none())
            .map(|c| c.prompt.clone());
        self.dialog = Some(match asked {
            Some(what) => Dialog::Confirm { key, what },
            None => Dialog::Manual { key, note: None },
        });
    }

    /// Moves the selection to `key`.
    pub fn select(&mut self, key: &StepKey) {
        if let Some((ri, rb)) = self
            .board
            .runbooks
            .iter()
            .enumerate()
            .find(|(_, r)| r.id == key.runbook)
        {
            self.rb_sel = ri;
            self.step_sel = rb.steps.iter().position(|s| s.key == *key).unwrap_or(0);
            self.detail_scroll = 0;
        }
    }

    fn engine(&mut self, u: Update) {
        match u {
            Update::Progress { key, text } => {
                self.progress.insert(key, text);
            }
            Update::Idle { finished } => {
                self.idle = Some(finished);
                if let Some(key) = self.holder().filter(|_| !finished) {
                    if self.dialog.is_none() {
                        self.select(&key);
                    }
                    self.say(format!(
                        "{key} failed and holds the plan: r runs it again, s skips it"
                    ));
                }
            }
            Update::LogFailed(e) => {
                self.message = Some(format!(
                    "THE INCIDENT LOG FAILED: nothing more is carried out ({e})"
                ));
                self.log_failed = Some(e);
            }
            Update::Refused { reason, .. } => self.say(format!("refused: {reason}")),
            Update::Recorded(_) => {}
        }
    }

    /// Every runbook of the plan is done (a failed step that may fail counts as settled).
    pub fn all_done(&self) -> bool {
        self.board
            .runbooks
            .iter()
            .all(|r| self.board.rollup(r, &self.state, &self.ready) == Rollup::Done)
    }

    /// The failed step that stops its runbook, and so the plan, if any.
    pub fn holder(&self) -> Option<StepKey> {
        self.board
            .runbooks
            .iter()
            .filter(|r| self.board.rollup(r, &self.state, &self.ready) == Rollup::Failed)
            .flat_map(|r| &r.steps)
            .find(|s| self.shown(&s.key) == Shown::Failed)
            .map(|s| s.key.clone())
    }

    fn say(&mut self, m: impl Into<String>) {
        self.message = Some(m.into());
    }

    fn control(&self, c: Control) -> Vec<Effect> {
        if self.info.review || self.log_failed.is_some() {
            return Vec::new();
        }
        vec![Effect::Control(c)]
    }

    fn key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return match self.dialog {
                Some(Dialog::Quit { .. }) => vec![Effect::Quit],
                _ => self.quit(),
            };
        }
        match self.dialog.clone() {
            Some(Dialog::Input { purpose, text }) => return self.input(k, purpose, text),
            Some(d) => return self.dialog_key(k, d),
            None => {}
        }
        let Some(action) = self.keys.action(&k) else {
            return Vec::new();
        };
        self.message = None;
        self.act(action)
    }

    fn input(&mut self, k: KeyEvent, purpose: Purpose, mut text: String) -> Vec<Effect> {
        match k.code {
            KeyCode::Esc => {
                if purpose == Purpose::Filter {
                    self.timeline.set_filter("");
                }
                self.dialog = match purpose {
                    Purpose::ManualNote(key) => Some(Dialog::Manual { key, note: None }),
                    _ => None,
                };
                return Vec::new();
            }
            KeyCode::Enter => {
                self.dialog = None;
                return self.submit(purpose, text);
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
            _ => {}
        }
        if purpose == Purpose::Filter {
            self.timeline.set_filter(&text);
            self.timeline_back = 0;
        }
        self.dialog = Some(Dialog::Input { purpose, text });
        Vec::new()
    }

    fn submit(&mut self, purpose: Purpose, text: String) -> Vec<Effect> {
        let by = self.info.operator.clone();
        let text = text.trim().to_string();
        match purpose {
            Purpose::Filter => Vec::new(),
            Purpose::Note(_) | Purpose::Skip(_) if text.is_empty() => {
                self.say("nothing written: the text was empty");
                Vec::new()
            }
            Purpose::Note(key) => self.control(Control::Note { key, text, by }),
            Purpose::Skip(key) => self.control(Control::Skip {
                key,
                reason: format!("skipped by {by}: {text}"),
                by,
            }),
            Purpose::ManualNote(key) => {
                let note = (!text.is_empty()).then_some(text);
                self.dialog = Some(Dialog::Manual { key, note });
                Vec::new()
            }
            Purpose::Approver(key) => {
                self.approver_named(key, &text);
                Vec::new()
            }
            Purpose::OutageStart => {
                let first = self.state.started.unwrap_or(self.now);
                match crate::exec::outage::parse_checked(&text, self.now, first) {
                    Ok(at) if Some(at) == self.state.outage_since => Vec::new(),
                    Ok(at) => {
                        let previous = self.state.outage_since;
                        self.control(Control::SetOutageStart { at, previous, by })
                    }
                    Err(e) => {
                        self.say(format!("outage start not changed: {e}"));
                        Vec::new()
                    }
                }
            }
        }
    }

    fn dialog_key(&mut self, k: KeyEvent, d: Dialog) -> Vec<Effect> {
        let action = self.keys.action(&k);
        let esc = k.code == KeyCode::Esc;
        let by = self.info.operator.clone();
        match d {
            Dialog::Help | Dialog::Summary => {
                if esc || matches!(action, Some(Action::Help | Action::Quit | Action::Summary)) {
                    self.dialog = None;
                }
                Vec::new()
            }
            Dialog::Confirm { key, .. } => match action {
                _ if esc => self.put_aside(key),
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.control(Control::Answer { key, yes: true, by })
                }
                Some(Action::No) => {
                    self.dialog = None;
                    self.control(Control::Answer {
                        key,
                        yes: false,
                        by,
                    })
                }
                _ => Vec::new(),
            },
            Dialog::Manual { key, note } => match action {
                _ if esc => self.put_aside(key),
                Some(Action::Yes | Action::Run) => {
                    self.dialog = None;
                    self.control(Control::Manual {
                        key,
                        outcome: Outcome::Ok,
                        note,
                        by,
                    })
                }
                Some(Action::Fail) => {
                    self.dialog = None;
                    self.control(Control::Manual {
                        key,
                        outcome: Outcome::Failed,
                        note,
                        by,
                    })
                }
                Some(Action::Skip) => {
                    self.dialog = Some(Dialog::Input {
                        purpose: Purpose::Skip(key),
                        text: note.unwrap_or_default(),
                    });
                    Vec::new()
                }
                Some(Action::Note | Action::No) => {
                    self.dialog = Some(Dialog::Input {
                        purpose: Purpose::ManualNote(key),
                        text: note.unwrap_or_default(),
                    });
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Quit { .. } => match action {
                Some(Action::Yes | Action::Quit) => vec![Effect::Quit],
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Takeover { key, .. } => match action {
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.say(format!("taking {key} over"));
                    self.control(Control::Takeover(key))
                }
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Unclaimed { key, .. } => match action {
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.say(format!(
                        "running {key} without a claim if the share stays down"
                    ));
                    self.control(Control::RunUnclaimed(key))
                }
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Abort { key } => match action {
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.control(Control::Abort { key, by })
                }
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Approve {
                key, by, keyboard, ..
            } => match action {
                _ if esc => self.put_aside(key),
                Some(Action::Yes | Action::No) => {
                    self.dialog = None;
                    let yes = action == Some(Action::Yes);
                    let role = self.role_of_approver(&by, keyboard.as_deref());
                    self.control(Control::Approve {
                        key,
                        by,
                        role,
                        yes,
                        keyboard,
                    })
                }
                _ => Vec::new(),
            },
            Dialog::Input { .. } => Vec::new(),
        }
    }

    fn put_aside(&mut self, key: StepKey) -> Vec<Effect> {
        self.dismissed.insert(key);
        self.dialog = None;
        self.say("put aside: select the step and press Enter to answer");
        Vec::new()
    }

    fn quit(&mut self) -> Vec<Effect> {
        let busy = self.busy();
        if busy > 0 && self.log_failed.is_none() {
            self.dialog = Some(Dialog::Quit { busy });
            Vec::new()
        } else {
            vec![Effect::Quit]
        }
    }

    fn act(&mut self, action: Action) -> Vec<Effect> {
        let by = self.info.operator.clone();
        let key = self.selected_key();
        let shown = key.as_ref().map(|k| self.shown(k));
        let review_refuses = self.info.review
            && matches!(
                action,
                Action::Run
                    | Action::Yes
                    | Action::No
                    | Action::Skip
                    | Action::Fail
                    | Action::Recheck
                    | Action::RunAllReady
                    | Action::Pause
                    | Action::Abort
                    | Action::Note
                    | Action::Approve
                    | Action::OutageStart
            );
        if review_refuses {
            self.say("a past incident is read-only");
            return Vec::new();
        }
        if action == Action::No && !self.role().acts() {
            // A scribe declines nothing: `n` writes a note, as it does with nothing to decline.
            return self.act(Action::Note);
        }
        if let Some(why) = self.role_refuses(action) {
            self.say(why);
            return Vec::new();
        }
        match action {
            Action::Earlier | Action::Later | Action::EarlierMore | Action::LaterMore => {
                let Some(at) = self.replay.as_ref().map(|r| r.at) else {
                    self.say("moving through time is for reviewing a past incident");
                    return Vec::new();
                };
                let to = match action {
                    Action::Earlier => at.saturating_sub(1),
                    Action::Later => at + 1,
                    Action::EarlierMore => self.replay_jump(-60),
                    _ => self.replay_jump(60),
                };
                self.replay_to(to);
            }
            Action::Summary => self.dialog = Some(Dialog::Summary),
            Action::Approve => match key {
                Some(key) if shown == Some(Shown::AwaitsApproval) => self.ask_approval(key),
                _ => self.say("approve: select a step that awaits a commander's approval"),
            },
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-10),
            Action::PageDown => self.move_by(10),
            Action::Top => self.move_by(i64::MIN / 2),
            Action::Bottom => self.move_by(i64::MAX / 2),
            Action::NextPane | Action::PrevPane => {
                let i = PANES.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = PANES.len();
                let j = if action == Action::NextPane {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.focus = PANES[j];
            }
            Action::Help => self.dialog = Some(Dialog::Help),
            Action::Quit => return self.quit(),
            Action::Filter => {
                self.dialog = Some(Dialog::Input {
                    purpose: Purpose::Filter,
                    text: self.timeline.filter().to_string(),
                })
            }
            Action::OutageStart => {
                let text = self
                    .state
                    .outage_since
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_default();
                self.dialog = Some(Dialog::Input {
                    purpose: Purpose::OutageStart,
                    text,
                });
            }
            Action::Note => {
                let on = key.filter(|_| matches!(self.focus, Pane::Steps | Pane::Detail));
                self.dialog = Some(Dialog::Input {
                    purpose: Purpose::Note(on),
                    text: String::new(),
                });
            }
            Action::RunAllReady => {
                if self.ready.is_empty() {
                    if self.all_done() {
                        self.say("✔ every runbook done: q closes the incident");
                        return Vec::new();
                    }
                    match self.holder() {
                        Some(k) => self.say(format!(
                            "{k} failed and holds the plan: r runs it again, s skips it"
                        )),
                        None if self.busy() > 0 => self.say(format!(
                            "nothing new can start yet: {} step(s) running or waiting for you",
                            self.busy()
                        )),
                        None => self.say("no step can start now"),
                    }
                    return Vec::new();
                }
                let n = self.ready.len();
                self.say(format!("starting {n} ready step(s)"));
                return self.control(Control::StartAllReady);
            }
            Action::Pause => {
                return if self.state.is_paused() {
                    self.control(Control::Resume { by })
                } else {
                    self.say("paused: running steps finish, nothing new starts (p resumes)");
                    self.control(Control::Pause { by })
                };
            }
            Action::Run | Action::Yes | Action::No => {
                let Some(key) = key else {
                    return Vec::new();
                };
                return match shown {
                    Some(Shown::NeedsYou) => {
                        self.dismissed.remove(&key);
                        self.open_prompt(key);
                        match (action, self.dialog.clone()) {
                            (Action::Run, _) | (_, None) => Vec::new(),
                            (_, Some(d)) => self.dialog_key(
                                KeyEvent::new(
                                    KeyCode::Char(if action == Action::Yes { 'y' } else { 'n' }),
                                    KeyModifiers::NONE,
                                ),
                                d,
                            ),
                        }
                    }
                    Some(Shown::AwaitsApproval) if action == Action::Run => {
                        self.ask_approval(key);
                        Vec::new()
                    }
                    Some(Shown::Ready) if action == Action::Run => {
                        if self.state.is_paused() {
                            self.say("paused: p resumes");
                            return Vec::new();
                        }
                        self.control(Control::Start(key))
                    }
                    Some(Shown::Failed) if action == Action::Run => {
                        self.say("this step failed: r runs it again, s skips it");
                        Vec::new()
                    }
                    _ if action == Action::No => {
                        // `n` with nothing to decline writes a note.
                        self.act(Action::Note)
                    }
                    Some(Shown::NotStarted) => {
                        self.say("this step waits for the steps before it");
                        Vec::new()
                    }
                    _ => Vec::new(),
                };
            }
            Action::Skip => {
                let Some(key) = key else {
                    return Vec::new();
                };
                return match shown {
                    Some(Shown::Done | Shown::Skipped) => {
                        self.say("this step is already settled");
                        Vec::new()
                    }
                    Some(Shown::Running) => {
                        self.say("this step is running: x aborts it");
                        Vec::new()
                    }
                    _ => {
                        self.dialog = Some(Dialog::Input {
                            purpose: Purpose::Skip(key),
                            text: String::new(),
                        });
                        Vec::new()
                    }
                };
            }
            Action::Fail => {
                let Some(key) = key else {
                    return Vec::new();
                };
                let manual = self
                    .board
                    .step(&key)
                    .is_some_and(|s| s.kind == StepKind::Manual);
                if manual && shown == Some(Shown::NeedsYou) {
                    return self.control(Control::Manual {
                        key,
                        outcome: Outcome::Failed,
                        note: None,
                        by,
                    });
                }
                self.say("only a manual step waiting for you can be marked failed (x aborts a running step)");
            }
            Action::Recheck => {
                let Some(key) = key else {
                    return Vec::new();
                };
                let read_only = self.board.step(&key).is_some_and(|s| s.kind.is_read_only());
                return match shown {
                    Some(Shown::Failed) => {
                        self.say(format!("running {key} again"));
                        self.control(Control::Retry(key))
                    }
                    Some(Shown::Done) if read_only => {
                        self.say(format!("checking {key} again"));
                        self.control(Control::Retry(key))
                    }
                    _ => {
                        self.say("r runs a failed step again, or re-reads a finished check");
                        Vec::new()
                    }
                };
            }
            Action::Abort => {
                let Some(key) = key else {
                    return Vec::new();
                };
                if shown == Some(Shown::Running) {
                    self.dialog = Some(Dialog::Abort { key });
                } else {
                    self.say("x aborts the selected step while it runs");
                }
            }
            Action::Takeover => {
                let Some(key) = key else {
                    return Vec::new();
                };
                match self.held_by_other(&key) {
                    Some(h) if matches!(shown, Some(Shown::Ready | Shown::NotStarted)) => {
                        self.dialog = Some(Dialog::Takeover {
                            key,
                            holder: h.op.clone(),
                            since: h.since,
                        });
                    }
                    Some(h) => self.say(format!(
                        "{key} is held by {}; it can be taken over once ready",
                        h.op
                    )),
                    None => match self.share_offline() {
                        Some(problem)
                            if matches!(shown, Some(Shown::Ready | Shown::NotStarted)) =>
                        {
                            self.dialog = Some(Dialog::Unclaimed { key, problem });
                        }
                        Some(_) => self.say(format!("{key} is not ready to start")),
                        None => self.say(format!("nobody else holds {key}")),
                    },
                }
            }
        }
        Vec::new()
    }

    fn move_by(&mut self, d: i64) {
        let step = |cur: usize, len: usize| -> usize {
            if len == 0 {
                return 0;
            }
            (cur as i64).saturating_add(d).clamp(0, len as i64 - 1) as usize
        };
        match self.focus {
            Pane::Runbooks => {
                let n = self.board.runbooks.len();
                let next = step(self.rb_sel, n);
                if next != self.rb_sel {
                    self.rb_sel = next;
                    self.step_sel = 0;
                    self.detail_scroll = 0;
                }
            }
            Pane::Steps => {
                let n = self.selected_runbook().map_or(0, |r| r.steps.len());
                self.step_sel = step(self.step_sel, n);
                self.detail_scroll = 0;
            }
            Pane::Detail => {
                self.detail_scroll = (i64::from(self.detail_scroll) + d).clamp(0, 10_000) as u16;
            }
            Pane::Timeline => {
                // Up goes back in time.
                let n = self.timeline.len();
                self.timeline_back = (self.timeline_back as i64 - d).clamp(0, n as i64) as usize;
            }
        }
    }

    fn mouse(&mut self, m: MouseEvent) {
        let areas = view::areas(self.size);
        let at = Position::new(m.column, m.row);
        let pane = [
            (areas.runbooks, Pane::Runbooks),
            (areas.steps, Pane::Steps),
            (areas.detail, Pane::Detail),
            (areas.timeline, Pane::Timeline),
        ]
        .into_iter()
        .find(|(r, _)| r.contains(at));
        let Some((rect, pane)) = pane else {
            return;
        };
        match m.kind {
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                if self.dialog.is_some() {
                    return;
                }
                let keep = self.focus;
                self.focus = pane;
                self.move_by(if m.kind == MouseEventKind::ScrollUp {
                    -3
                } else {
                    3
                });
                self.focus = keep;
            }
            MouseEventKind::Down(MouseButton::Left) => {
                if self.dialog.is_some() {
                    return;
                }
                self.focus = pane;
                let row = usize::from(m.row.saturating_sub(rect.y + 1));
                let visible = usize::from(rect.height.saturating_sub(2));
                match pane {
                    Pane::Runbooks => {
                        let n = self.board.runbooks.len();
                        let i = view::list_offset(self.rb_sel, n, visible) + row;
                        if i < n && i != self.rb_sel {
                            self.rb_sel = i;
                            self.step_sel = 0;
                            self.detail_scroll = 0;
                        }
                    }
                    Pane::Steps => {
                        let n = self.selected_runbook().map_or(0, |r| r.steps.len());
                        let i = view::list_offset(self.step_sel, n, visible) + row;
                        if i < n {
                            self.step_sel = i;
                            self.detail_scroll = 0;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}
