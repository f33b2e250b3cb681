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
use crate::exec::steps::Outcome;
use crate::incident::event::RehearsalLevel;
use crate::incident::{Event, EventKind, IncidentState};
use crate::runbook::model::StepKind;
use crate::runbook::plan::StepKey;

mod approve;
mod autopilot;
mod share;

pub use autopilot::{Breach, Counts, Next, short};

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

pub const PANES: [Pane; 4] = [Pane::Runbooks, Pane::Steps, Pane::Detail, Pane::Timeline];

impl Pane {
    pub fn name(self) -> &'static str {
        match self {
            Pane::Runbooks => "runbooks",
            Pane::Steps => "steps",
            Pane::Detail => "detail",
            Pane::Timeline => "timeline",
        }
    }
}

/// Which rows the runbook and step lists show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListFilter {
    #[default]
    All,
    Failed,
    /// Waiting for a person: a question, a manual step, an approval.
    NeedsMe,
    Running,
}

impl ListFilter {
    fn next(self) -> ListFilter {
        match self {
            ListFilter::All => ListFilter::Failed,
            ListFilter::Failed => ListFilter::NeedsMe,
            ListFilter::NeedsMe => ListFilter::Running,
            ListFilter::Running => ListFilter::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ListFilter::All => "all",
            ListFilter::Failed => "failed",
            ListFilter::NeedsMe => "needs me",
            ListFilter::Running => "running",
        }
    }

    fn step(self, s: Shown) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Failed => s == Shown::Failed,
            ListFilter::NeedsMe => matches!(s, Shown::NeedsYou | Shown::AwaitsApproval),
            ListFilter::Running => s == Shown::Running,
        }
    }

    fn runbook(self, r: Rollup) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Failed => r == Rollup::Failed,
            ListFilter::NeedsMe => matches!(r, Rollup::NeedsYou | Rollup::AwaitsApproval),
            ListFilter::Running => r == Rollup::Running,
        }
    }
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
    /// Put this text on the terminal's clipboard (OSC 52): written with the next frame.
    Clipboard(String),
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
    pub share: Option<crate::share::ShareView>,
    /// The other operators' events folded together: what they run and what waits on them.
    pub others: IncidentState,
    /// The log's head as last written (live) or verified (review), for the header: taken
    /// from the events as they come, never from reading the file again.
    pub head: Option<crate::incident::Head>,
    /// The autopilot starts every step as it becomes ready (`toggle_autopilot`).
    pub autopilot: bool,
    /// Ready steps the autopilot already asked the engine to start.
    autopilot_asked: HashSet<StepKey>,
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
            head: crate::incident::Head::of(&history),
            autopilot: false,
            autopilot_asked: HashSet::new(),
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
        if self
            .help_over
            .as_ref()
            .is_some_and(|d| Self::asks_about(d, key))
        {
            self.help_over = None;
        }
        if self
            .dialog
            .as_ref()
            .is_some_and(|d| Self::asks_about(d, key))
        {
            self.dialog = None;
        }
    }

    /// The dialog puts a question about `key` (and closes once it is answered).
    fn asks_about(d: &Dialog, key: &StepKey) -> bool {
        match d {
            Dialog::Confirm { key: k, .. }
            | Dialog::Manual { key: k, .. }
            | Dialog::Approve { key: k, .. } => k == key,
            Dialog::Input {
                purpose: Purpose::ManualNote(k) | Purpose::Skip(k) | Purpose::Approver(k),
                ..
            } => k == key,
            _ => false,
        }
    }

    fn push_prompt(&mut self, key: StepKey) {
        if !self.prompts.contains(&key) {
            self.prompts.push_back(key);
        }
    }

    /// Opens the oldest question waiting (the operator asked for it with the `answer` key).
    fn open_next_prompt(&mut self) {
        match self.prompts.front().cloned() {
            Some(key) => self.open_prompt(key),
            None => self.say("nothing waits for you"),
        }
    }

    /// The questions waiting that no open dialog shows.
    pub fn queued(&self) -> usize {
        let open = |k: &StepKey| {
            self.dialog
                .iter()
                .chain(self.help_over.iter())
                .any(|d| Self::asks_about(d, k))
        };
        self.prompts.iter().filter(|k| !open(k)).count()
    }

    /// The dialog the help was opened over, so the help lists its keys first.
    pub fn help_context(&self) -> Option<&Dialog> {
        self.help_over.as_ref()
    }

    /// The first key bound to `action`, for hints and messages.
    pub fn key_of(&self, action: Action) -> String {
        self.keys.first(action)
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
            // Going to a step shows it, whatever the lists' filters hid.
            if !self.visible_runbooks().contains(&self.rb_sel) {
                self.rb_filter = ListFilter::All;
            }
            if !self.visible_steps().contains(&self.step_sel) {
                self.step_filter = ListFilter::All;
            }
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

    /// The selected step's resource id, URL or command, as the screen shows it: with every
    /// secret already masked, so the clipboard never gets one.
    fn copy(&mut self) -> Vec<Effect> {
        let Some(s) = self.selected_step() else {
            self.say("copy: select a step first");
            return Vec::new();
        };
        let key = s.key.clone();
        let target = s.target.trim();
        let (what, text) = match s.kind {
            StepKind::Action => (
                "resource id",
                // "PATCH /subscriptions/..." : the method is not part of the id.
                target
                    .split_once(' ')
                    .map_or(target, |(_, rest)| rest.trim())
                    .to_string(),
            ),
            StepKind::Command => ("command", target.to_string()),
            StepKind::Graph => ("query", target.to_string()),
            StepKind::Probe => ("URL", target.to_string()),
            _ => ("resource id", target.to_string()),
        };
        if text.is_empty() || matches!(s.kind, StepKind::Manual | StepKind::Wait) {
            self.say(format!("{key} has no resource id, URL or command to copy"));
            return Vec::new();
        }
        self.say(format!(
            "copied {what} of {key} to the clipboard: {}",
            view::shorten(&text, 60)
        ));
        vec![Effect::Clipboard(text)]
    }

    /// The list in the focused pane shows the next subset: all, failed, needs me, running.
    fn cycle_list_filter(&mut self) {
        match self.focus {
            Pane::Runbooks => {
                self.rb_filter = self.rb_filter.next();
                let shown = self.visible_runbooks();
                if !shown.contains(&self.rb_sel)
                    && let Some(&first) = shown.first()
                {
                    self.rb_sel = first;
                    self.step_sel = 0;
                    self.detail_scroll = 0;
                }
            }
            Pane::Steps => {
                self.step_filter = self.step_filter.next();
                let shown = self.visible_steps();
                if !shown.contains(&self.step_sel)
                    && let Some(&first) = shown.first()
                {
                    self.step_sel = first;
                    self.detail_scroll = 0;
                }
            }
            Pane::Detail | Pane::Timeline => self.say(format!(
                "{} filters the runbook and step lists; {} filters the timeline",
                self.key_of(Action::ListFilter),
                self.key_of(Action::Filter)
            )),
        }
    }

    /// The indices of the runbooks the list shows.
    pub fn visible_runbooks(&self) -> Vec<usize> {
        self.board
            .runbooks
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                self.rb_filter
                    .runbook(self.board.rollup(r, &self.state, &self.ready))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The indices of the selected runbook's steps the list shows.
    pub fn visible_steps(&self) -> Vec<usize> {
        self.selected_runbook().map_or_else(Vec::new, |r| {
            r.steps
                .iter()
                .enumerate()
                .filter(|(_, s)| self.step_filter.step(self.shown(&s.key)))
                .map(|(i, _)| i)
                .collect()
        })
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
                let action = self.keys.action(&k);
                return self.dialog_act(action, k.code == KeyCode::Esc, d);
            }
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

    /// A key in an open dialog: moving keys scroll its text, `help` shows the keys that act
    /// in it (and comes back to it), the rest answer it.
    fn dialog_act(&mut self, action: Option<Action>, esc: bool, d: Dialog) -> Vec<Effect> {
        let by = self.info.operator.clone();
        let scroll = match action {
            Some(Action::Up) => Some(-1),
            Some(Action::Down) => Some(1),
            Some(Action::PageUp) => Some(-10),
            Some(Action::PageDown) => Some(10),
            Some(Action::Top) => Some(i64::MIN / 2),
            Some(Action::Bottom) => Some(i64::MAX / 2),
            _ => None,
        };
        if let Some(d) = scroll {
            let max = i64::from(view::dialog_max_scroll(self));
            self.dialog_scroll =
                (i64::from(self.dialog_scroll).saturating_add(d)).clamp(0, max) as u16;
            return Vec::new();
        }
        // The next question while one is open: this one goes back to the queue, unanswered.
        if action == Some(Action::Answer)
            && let Dialog::Confirm { key, .. }
            | Dialog::Manual { key, .. }
            | Dialog::Approve { key, .. } = &d
        {
            self.put_aside(key.clone());
            if self.prompts.len() > 1 {
                self.open_next_prompt();
            }
            return Vec::new();
        }
        if action == Some(Action::Help) && d != Dialog::Help {
            self.help_over = Some(d);
            self.dialog = Some(Dialog::Help);
            return Vec::new();
        }
        match d {
            Dialog::Help | Dialog::Summary => {
                if esc || matches!(action, Some(Action::Help | Action::Quit | Action::Summary)) {
                    self.dialog = if d == Dialog::Help {
                        self.help_over.take()
                    } else {
                        None
                    };
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

    /// Esc on a question: it goes back to the queue, last, unanswered.
    fn put_aside(&mut self, key: StepKey) -> Vec<Effect> {
        let queued = self.prompts.contains(&key);
        self.prompts.retain(|k| *k != key);
        if queued {
            self.prompts.push_back(key);
        }
        self.dialog = None;
        // The queue count beside it says which key opens the next one.
        self.say("put aside, not answered");
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
                    | Action::Autopilot
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
            Action::Pane1 | Action::Pane2 | Action::Pane3 | Action::Pane4 => {
                let i = match action {
                    Action::Pane1 => 0,
                    Action::Pane2 => 1,
                    Action::Pane3 => 2,
                    _ => 3,
                };
                self.focus = PANES[i];
            }
            Action::Zoom => self.zoom = !self.zoom,
            Action::Answer => self.open_next_prompt(),
            Action::Copy => return self.copy(),
            Action::ListFilter => self.cycle_list_filter(),
            Action::Help => self.dialog = Some(Dialog::Help),
            Action::Quit => return self.quit(),
            Action::Filter => {
                self.dialog = Some(Dialog::Input {
                    purpose: Purpose::Filter,
                    text: self.timeline.filter().to_string(),
                })
            }
            Action::OutageStart => {
                // Empty, not the time logged before: what is typed must not run on from it
                // (the prompt shows the current value).
                self.dialog = Some(Dialog::Input {
                    purpose: Purpose::OutageStart,
                    text: String::new(),
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
                        self.say(self.all_done_text());
                        return Vec::new();
                    }
                    match self.holder() {
                        Some(k) => self.say(self.holds_text(&k)),
                        None if self.busy() > 0 => self.say(format!(
                            "nothing new can start yet: {} step(s) running or waiting for you",
                            self.busy()
                        )),
                        None => self.say("no step can start now"),
                    }
                    return Vec::new();
                }
                if self.state.is_paused() {
                    // Nothing starts while paused: never say it does.
                    let p = self
                        .keys
                        .keys_for(Action::Pause)
                        .first()
                        .cloned()
                        .unwrap_or_default();
                    self.say(format!("paused: nothing starts ({p} resumes)"));
                    return Vec::new();
                }
                let n = self.ready.len();
                self.say(format!("starting {n} ready step(s)"));
                return self.control(Control::StartAllReady);
            }
            Action::Autopilot => return self.toggle_autopilot(),
            Action::Pause => {
                return if self.state.is_paused() {
                    self.control(Control::Resume { by })
                } else {
                    self.say(format!(
                        "paused: running steps finish, nothing new starts ({} resumes)",
                        self.key_of(Action::Pause)
                    ));
                    self.control(Control::Pause { by })
                };
            }
            Action::Run | Action::Yes | Action::No => {
                let Some(key) = key else {
                    return Vec::new();
                };
                return match shown {
                    Some(Shown::NeedsYou) => {
                        self.open_prompt(key);
                        match (action, self.dialog.clone()) {
                            (Action::Run, _) | (_, None) => Vec::new(),
                            (_, Some(d)) => self.dialog_act(Some(action), false, d),
                        }
                    }
                    Some(Shown::AwaitsApproval) if action == Action::Run => {
                        self.ask_approval(key);
                        Vec::new()
                    }
                    Some(Shown::Ready) if action == Action::Run => {
                        if self.state.is_paused() {
                            self.say(format!("paused: {} resumes", self.key_of(Action::Pause)));
                            return Vec::new();
                        }
                        self.control(Control::Start(key))
                    }
                    Some(Shown::Failed) if action == Action::Run => {
                        self.say(format!(
                            "this step failed: {} runs it again, {} skips it",
                            self.key_of(Action::Recheck),
                            self.key_of(Action::Skip)
                        ));
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
                    Some(Shown::Done | Shown::Skipped | Shown::Finding) => {
                        self.say("this step is already settled");
                        Vec::new()
                    }
                    Some(Shown::Running) => {
                        self.say(format!(
                            "this step is running: {} aborts it",
                            self.key_of(Action::Abort)
                        ));
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
                self.say(format!(
                    "only a manual step waiting for you can be marked failed ({} aborts a running step)",
                    self.key_of(Action::Abort)
                ));
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
                    Some(Shown::Done | Shown::Finding) if read_only => {
                        self.say(format!("checking {key} again"));
                        self.control(Control::Retry(key))
                    }
                    _ => {
                        self.say(format!(
                            "{} runs a failed step again, or re-reads a finished check",
                            self.key_of(Action::Recheck)
                        ));
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
                    self.say(format!(
                        "{} aborts the selected step while it runs",
                        self.key_of(Action::Abort)
                    ));
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
        // Lists move over the rows their filter shows.
        let within = |rows: &[usize], cur: usize| -> Option<usize> {
            let at = rows.iter().position(|i| *i == cur).unwrap_or(0);
            rows.get(step(at, rows.len())).copied()
        };
        match self.focus {
            Pane::Runbooks => {
                let rows = self.visible_runbooks();
                let Some(next) = within(&rows, self.rb_sel) else {
                    return;
                };
                if next != self.rb_sel {
                    self.rb_sel = next;
                    self.step_sel = 0;
                    self.detail_scroll = 0;
                }
            }
            Pane::Steps => {
                let rows = self.visible_steps();
                if let Some(next) = within(&rows, self.step_sel) {
                    self.step_sel = next;
                }
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
        let areas = view::areas_zoomed(self.size, self.zoomed());
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
                        let rows = self.visible_runbooks();
                        let at = rows.iter().position(|i| *i == self.rb_sel).unwrap_or(0);
                        let i = view::list_offset(at, rows.len(), visible) + row;
                        if let Some(&i) = rows.get(i)
                            && i != self.rb_sel
                        {
                            self.rb_sel = i;
                            self.step_sel = 0;
                            self.detail_scroll = 0;
                        }
                    }
                    Pane::Steps => {
                        let rows = self.visible_steps();
                        let at = rows.iter().position(|i| *i == self.step_sel).unwrap_or(0);
                        let i = view::list_offset(at, rows.len(), visible) + row;
                        if let Some(&i) = rows.get(i) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
        super::super::fixture::app(&dir, 0).expect("the fixture builds")
    }

    fn event(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            ts: super::super::fixture::start() + chrono::Duration::seconds(800),
            actor: "drbook".into(),
            kind,
            prev: String::new(),
            hash: String::new(),
        }
    }

    fn ask(a: &mut App, runbook: &str, step: &str) {
        a.update(Msg::Logged(event(
            60,
            EventKind::ConfirmationRequested {
                runbook: runbook.into(),
                step: step.into(),
                prompt: "PATCH ...".into(),
            },
        )));
    }

    fn press(a: &mut App, action: Action) -> Vec<Effect> {
        let k = a
            .keys
            .bindings(action)
            .first()
            .copied()
            .expect("a default key");
        a.update(Msg::Key(KeyEvent::new(k.code, k.modifiers)))
    }

    #[test]
    fn questions_queue_in_order_and_never_open_by_themselves() {
        let mut a = app();
        let before = a.prompts.len();
        ask(&mut a, "network-failover", "tm-disable-primary");
        assert!(a.dialog.is_none());
        assert_eq!(a.prompts.len(), before + 1);
        assert_eq!(a.queued(), before + 1);
        assert_eq!(
            a.prompts.back(),
            Some(&StepKey::new("network-failover", "tm-disable-primary"))
        );
        // Asked twice (a resumed log) is still one question.
        ask(&mut a, "network-failover", "tm-disable-primary");
        assert_eq!(a.prompts.len(), before + 1);
        // Opening one leaves the others counted as waiting.
        press(&mut a, Action::Answer);
        assert!(a.dialog.is_some());
        assert_eq!(a.queued(), before);
    }

    #[test]
    fn dismissing_requeues_last_and_answering_settles() {
        let mut a = app();
        ask(&mut a, "network-failover", "tm-disable-primary");
        let first = a.prompts.front().cloned().expect("a question waits");
        press(&mut a, Action::Answer);
        assert!(matches!(&a.dialog, Some(Dialog::Confirm { key, .. }) if *key == first));
        assert!(
            a.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)))
                .is_empty()
        );
        assert_eq!(a.prompts.back(), Some(&first));
        assert!(a.prompts.contains(&first), "dismissed, not answered");
        // The answer, once logged, takes it off the queue and closes its dialog.
        let tm = StepKey::new("network-failover", "tm-disable-primary");
        a.select(&tm);
        press(&mut a, Action::Run);
        assert!(matches!(&a.dialog, Some(Dialog::Confirm { key, .. }) if *key == tm));
        a.update(Msg::Logged(event(
            61,
            EventKind::Confirmed {
                runbook: tm.runbook.clone(),
                step: tm.step.clone(),
                approved: true,
                by: "alice".into(),
            },
        )));
        assert!(a.dialog.is_none());
        assert!(!a.prompts.contains(&tm));
    }

    #[test]
    fn the_answer_key_in_a_question_moves_on_to_the_next() {
        let mut a = app();
        assert!(
            a.prompts.len() >= 2,
            "the fixture has two questions waiting"
        );
        press(&mut a, Action::Answer);
        let first = a.prompts.front().cloned();
        press(&mut a, Action::Answer);
        let open = match &a.dialog {
            Some(Dialog::Confirm { key, .. } | Dialog::Manual { key, .. }) => Some(key.clone()),
            _ => None,
        };
        assert!(open.is_some());
        assert_ne!(open, first, "the next question opened");
        assert_eq!(
            a.prompts.back().cloned(),
            first,
            "the first went back, last"
        );
    }

    #[test]
    fn the_answer_key_with_nothing_waiting_says_so() {
        let mut a = app();
        a.prompts.clear();
        press(&mut a, Action::Answer);
        assert!(a.dialog.is_none());
        assert_eq!(a.message.as_deref(), Some("nothing waits for you"));
    }
}
