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
use bindings::Component;
use drbook_core::incident::event::RehearsalLevel;
use drbook_core::incident::{Event, EventKind, IncidentState};
use drbook_core::runbook::model::StepKind;
use drbook_core::runbook::plan::StepKey;
use drbook_engine::exec::engine::{Control, Update};
use drbook_engine::exec::steps::Outcome;

mod actions;
mod approve;
mod autopilot;
pub mod bindings;
pub mod dialog_text;
mod dialogs;
mod filters;
mod navigation;
mod prompts;
pub mod readiness;
mod share;
mod verdict;

pub use crate::layout::{PANES, Pane};
pub use autopilot::{Breach, Counts, Next, short};
pub use readiness::{ReadinessMsg, ReadinessView, Shared, WriteFailure, WriteReport};

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

/// Which rows the runbook and step lists show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum ListFilter {
    #[default]
    All,
    Failed,
    /// Waiting for a person: a question, a manual step, an approval.
    #[strum(serialize = "needs me")]
    NeedsMe,
    Running,
}

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
    /// The readiness screen: the folder the runbooks are written into.
    RunbooksFolder,
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
    /// The readiness screen: these files exist in `dir`; replace them?
    Overwrite {
        dir: std::path::PathBuf,
        files: Vec<String>,
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
    Share(drbook_engine::share::ShareView),
    /// Someone else's record on the shared timeline.
    Remote(drbook_engine::share::RemoteRecord),
    /// A discovery or the writing of its runbooks, from their task.
    Readiness(ReadinessMsg),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Control(Control),
    /// Put this text on the terminal's clipboard (OSC 52): written with the next frame.
    Clipboard(String),
    /// Discover the estate the runbooks name, in a task; it answers with `Msg::Readiness`.
    Discover,
    /// Write the runbooks of `discovery` into `dir`, in a task (replacing files only with
    /// `force`); it answers with `Msg::Readiness`.
    WriteRunbooks {
        discovery: Shared,
        dir: std::path::PathBuf,
        force: bool,
    },
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
    /// Rows of the open dialog scrolled past (the view keeps it within the text).
    pub dialog_scroll: u16,
    /// The dialog the help was opened over: it comes back when the help closes.
    help_over: Option<Dialog>,
    /// Steps waiting for an answer, oldest first. Nothing opens by itself over what the
    /// operator reads: the `answer` key opens the first; putting one aside sends it last.
    pub prompts: VecDeque<StepKey>,
    /// The focused pane fills the screen.
    pub zoom: bool,
    pub rb_filter: ListFilter,
    pub step_filter: ListFilter,
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
    pub share: Option<drbook_engine::share::ShareView>,
    /// The other operators' events folded together: what they run and what waits on them.
    pub others: IncidentState,
    /// The log's head as last written (live) or verified (review), for the header: taken
    /// from the events as they come, never from reading the file again.
    pub head: Option<drbook_core::incident::Head>,
    /// The autopilot starts every step as it becomes ready (`toggle_autopilot`).
    pub autopilot: bool,
    /// Ready steps the autopilot already asked the engine to start.
    autopilot_asked: HashSet<StepKey>,
    /// The readiness screen (issue 18), once opened.
    pub readiness: Option<ReadinessView>,
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
            dialog_scroll: 0,
            help_over: None,
            prompts: VecDeque::new(),
            zoom: false,
            rb_filter: ListFilter::All,
            step_filter: ListFilter::All,
            message: None,
            idle: None,
            log_failed: None,
            keys,
            theme,
            size: Rect::new(0, 0, 80, 24),
            replay: None,
            share: None,
            others: IncidentState::default(),
            head: drbook_core::incident::Head::of(&history),
            autopilot: false,
            autopilot_asked: HashSet::new(),
            readiness: None,
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
        let before = self.dialog.clone();
        let effects = self.update_inner(msg);
        if self.dialog != before {
            self.dialog_scroll = 0;
        }
        effects
    }

    fn update_inner(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(k) => self.key(k),
            Msg::Mouse(m) => {
                // The panes' geometry is not on screen under the readiness screen.
                if !self.readiness_open() {
                    self.mouse(m);
                }
                Vec::new()
            }
            Msg::Readiness(m) => {
                self.readiness_msg(m);
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
                self.autopilot_tick()
            }
            Msg::Engine(u) => {
                let idle = matches!(u, Update::Idle { .. } | Update::LogFailed(_));
                self.engine(u);
                if idle {
                    self.autopilot_tick()
                } else {
                    Vec::new()
                }
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
                        if !drbook_core::roles::same_person(operator, &r.record.op)
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
        self.head = Some(drbook_core::incident::Head::at(&e));
        self.state.apply(&e);
        self.autopilot_logged(&e.kind);
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
    }

    /// The dialog the help was opened over, so the help lists its keys first.
    pub fn help_context(&self) -> Option<&Dialog> {
        self.help_over.as_ref()
    }

    /// The first key bound to `action`, for hints and messages.
    pub fn key_of(&self, action: Action) -> String {
        self.keys.first(action)
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
                    self.say(self.holds_text(&key));
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

    pub fn all_done_text(&self) -> String {
        format!(
            "✔ every runbook done: {} closes the incident",
            self.key_of(Action::Quit)
        )
    }

    fn holds_text(&self, key: &StepKey) -> String {
        format!(
            "{key} failed and holds the plan: {} runs it again, {} skips it",
            self.key_of(Action::Recheck),
            self.key_of(Action::Skip)
        )
    }

    /// The pane drawn alone, when zoomed.
    pub fn zoomed(&self) -> Option<Pane> {
        self.zoom.then_some(self.focus)
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
            Some(d) => {
                // Only what the dialog declares reaches it: its keys line is drawn from the
                // same table.
                let action = self
                    .keys
                    .action(&k)
                    .filter(|a| Component::of_dialog(&d).is_none_or(|c| c.handles(*a)));
                return self.dialog_act(action, k.code == KeyCode::Esc, d);
            }
            None => {}
        }
        if self.readiness_open() {
            let action = self.keys.action(&k);
            if action.is_some() || k.code == KeyCode::Esc {
                self.message = None;
            }
            return self.readiness_key(action, k.code == KeyCode::Esc);
        }
        let Some(action) = self.keys.action(&k) else {
            return Vec::new();
        };
        self.message = None;
        self.act(action)
    }
}

#[cfg(test)]
mod tests;
