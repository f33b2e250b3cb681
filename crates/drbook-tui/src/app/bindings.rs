//! Which actions each screen component handles, and what its hints call them. One static table
//! per component (no component is handed every event): the key handler lets through only the
//! actions the open component declares, and the dialog's keys line and the `?` help are drawn
//! from the same table with the live keymap's keys, so a hint cannot name an action the
//! handler ignores, nor a key the config rebound.

use super::{Dialog, Pane};
use crate::keys::Action;

/// One action a component handles. `hint` is what its keys line says; `None` is an alias the
/// component accepts without advertising it (Enter for "done" in a manual step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub action: Action,
    pub hint: Option<&'static str>,
}

const fn shown(action: Action, hint: &'static str) -> Binding {
    Binding {
        action,
        hint: Some(hint),
    }
}

const fn alias(action: Action) -> Binding {
    Binding { action, hint: None }
}

/// A part of the screen that takes keys: a pane (with no dialog open) or a dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Component {
    Runbooks,
    Steps,
    Detail,
    Timeline,
    Confirm,
    Manual,
    Approve,
    Quit,
    Takeover,
    Unclaimed,
    Abort,
    Summary,
    Help,
    /// The readiness screen (issue 18): full screen, over the panes.
    Readiness,
    /// The readiness screen: replace the runbooks that exist in the folder?
    Overwrite,
}

/// What changes the incident: a past incident's review refuses these (and so does not offer
/// them).
pub const CHANGES: &[Action] = &[
    Action::Run,
    Action::Yes,
    Action::No,
    Action::Skip,
    Action::Fail,
    Action::Recheck,
    Action::RunAllReady,
    Action::Autopilot,
    Action::Pause,
    Action::Abort,
    Action::Note,
    Action::Approve,
    Action::OutageStart,
];

/// The status bar's hints with no dialog open, while reviewing a past incident.
pub const REVIEW_BAR: &[Binding] = &[
    shown(Action::Earlier, "earlier"),
    shown(Action::Later, "later"),
    shown(Action::EarlierMore, "-1 min"),
    shown(Action::LaterMore, "+1 min"),
    shown(Action::Summary, "summary"),
    shown(Action::NextPane, "pane"),
    shown(Action::Filter, "filter"),
    shown(Action::Help, "help"),
    shown(Action::Quit, "quit"),
];

/// The status bar for a scribe, who writes notes: the keys that change things are not offered.
pub const SCRIBE_BAR: &[Binding] = &[
    shown(Action::Note, "note"),
    shown(Action::Filter, "filter"),
    shown(Action::Help, "help"),
    shown(Action::Quit, "quit"),
];

/// The status bar of a live incident, after the selected step's own hints (pause is left out
/// while paused: the bar then leads with "resume").
pub const LIVE_BAR: &[Binding] = &[
    shown(Action::Help, "help"),
    shown(Action::Quit, "quit"),
    shown(Action::Pause, "pause"),
    shown(Action::Note, "note"),
    shown(Action::Filter, "filter"),
];

/// Every dialog scrolls its text and opens the help over itself.
const DIALOG: &[Binding] = &[
    alias(Action::Up),
    alias(Action::Down),
    alias(Action::PageUp),
    alias(Action::PageDown),
    alias(Action::Top),
    alias(Action::Bottom),
    alias(Action::Help),
];

/// A question (they queue): the answer key puts it back and opens the next one.
const QUESTION: &[Binding] = &[alias(Action::Answer)];

const RUNBOOKS: &[Binding] = &[
    shown(Action::Down, "down"),
    shown(Action::Up, "up"),
    shown(Action::ListFilter, "list"),
    shown(Action::RunAllReady, "run ready"),
    shown(Action::Zoom, "zoom"),
];
const STEPS: &[Binding] = &[
    shown(Action::Run, "run"),
    shown(Action::Skip, "skip"),
    shown(Action::Recheck, "re-check"),
    shown(Action::Abort, "abort"),
    shown(Action::Note, "note"),
    shown(Action::Copy, "copy"),
    shown(Action::ListFilter, "list"),
    shown(Action::Zoom, "zoom"),
];
const DETAIL: &[Binding] = &[
    shown(Action::Down, "down"),
    shown(Action::Up, "up"),
    shown(Action::PageDown, "page"),
    shown(Action::Copy, "copy"),
    shown(Action::Note, "note"),
    shown(Action::Zoom, "zoom"),
];
const TIMELINE: &[Binding] = &[
    shown(Action::Up, "up"),
    shown(Action::Down, "down"),
    shown(Action::PageUp, "page"),
    shown(Action::Filter, "filter"),
    shown(Action::Zoom, "zoom"),
];
const CONFIRM: &[Binding] = &[
    shown(Action::Yes, "yes, do it"),
    shown(Action::No, "no, skip it"),
];
const MANUAL: &[Binding] = &[
    shown(Action::Yes, "done"),
    shown(Action::Fail, "failed"),
    shown(Action::Skip, "skip"),
    shown(Action::Note, "note"),
    alias(Action::Run),
    alias(Action::No),
];
const APPROVE: &[Binding] = &[
    shown(Action::Yes, "approve"),
    shown(Action::No, "decline (skips it)"),
];
const QUIT: &[Binding] = &[
    shown(Action::Yes, "quit"),
    shown(Action::No, "stay"),
    alias(Action::Quit),
];
const TAKEOVER: &[Binding] = &[
    shown(Action::Yes, "take it over and start it"),
    shown(Action::No, "leave it"),
];
const UNCLAIMED: &[Binding] = &[
    shown(Action::Yes, "run it without a claim"),
    shown(Action::No, "wait for the share"),
];
const ABORT: &[Binding] = &[shown(Action::Yes, "abort"), shown(Action::No, "let it run")];
const SUMMARY: &[Binding] = &[
    shown(Action::Summary, "close"),
    alias(Action::Help),
    alias(Action::Quit),
];
const READINESS: &[Binding] = &[
    shown(Action::Down, "move"),
    alias(Action::Up),
    shown(Action::NextPane, "next list"),
    shown(Action::WriteRunbooks, "write runbooks"),
    shown(Action::Help, "help"),
    shown(Action::Quit, "close"),
    alias(Action::PrevPane),
    alias(Action::Readiness),
];
const OVERWRITE: &[Binding] = &[
    shown(Action::Yes, "replace them"),
    shown(Action::No, "keep them"),
];
const HELP: &[Binding] = &[
    shown(Action::Help, "close"),
    alias(Action::Quit),
    alias(Action::Summary),
];

impl Component {
    pub fn of_pane(p: Pane) -> Component {
        match p {
            Pane::Runbooks => Component::Runbooks,
            Pane::Steps => Component::Steps,
            Pane::Detail => Component::Detail,
            Pane::Timeline => Component::Timeline,
        }
    }

    /// The component an open dialog is; a text input takes every key as text, so none.
    pub fn of_dialog(d: &Dialog) -> Option<Component> {
        Some(match d {
            Dialog::Confirm { .. } => Component::Confirm,
            Dialog::Manual { .. } => Component::Manual,
            Dialog::Approve { .. } => Component::Approve,
            Dialog::Quit { .. } => Component::Quit,
            Dialog::Takeover { .. } => Component::Takeover,
            Dialog::Unclaimed { .. } => Component::Unclaimed,
            Dialog::Abort { .. } => Component::Abort,
            Dialog::Summary => Component::Summary,
            Dialog::Help => Component::Help,
            Dialog::Overwrite { .. } => Component::Overwrite,
            Dialog::Input { .. } => return None,
        })
    }

    /// Whether it filters the actions it takes: a dialog, or the readiness screen (which is
    /// drawn over the panes and lets none of their actions through).
    fn is_dialog(self) -> bool {
        !matches!(
            self,
            Component::Runbooks | Component::Steps | Component::Detail | Component::Timeline
        )
    }

    /// What the help calls it: "Keys in {name}".
    pub fn name(self) -> &'static str {
        match self {
            Component::Runbooks => "the runbooks pane",
            Component::Steps => "the steps pane",
            Component::Detail => "the detail pane",
            Component::Timeline => "the timeline pane",
            Component::Confirm => "this confirmation",
            Component::Manual => "this manual step",
            Component::Approve => "this approval",
            Component::Summary => "the summary",
            Component::Readiness => "the readiness screen",
            _ => "this dialog",
        }
    }

    /// Its own table: what its keys line and the help's "Keys in ..." advertise, in order.
    pub fn own(self) -> &'static [Binding] {
        match self {
            Component::Runbooks => RUNBOOKS,
            Component::Steps => STEPS,
            Component::Detail => DETAIL,
            Component::Timeline => TIMELINE,
            Component::Confirm => CONFIRM,
            Component::Manual => MANUAL,
            Component::Approve => APPROVE,
            Component::Quit => QUIT,
            Component::Takeover => TAKEOVER,
            Component::Unclaimed => UNCLAIMED,
            Component::Abort => ABORT,
            Component::Summary => SUMMARY,
            Component::Help => HELP,
            Component::Readiness => READINESS,
            Component::Overwrite => OVERWRITE,
        }
    }

    /// The actions advertised, with their hint, in the order they are shown.
    pub fn hints(self) -> impl Iterator<Item = (Action, &'static str)> {
        self.own()
            .iter()
            .filter_map(|b| b.hint.map(|h| (b.action, h)))
    }

    /// Whether the handler lets `action` through to this component. A pane hands on every
    /// action: with no dialog open, moving, step actions and the rest act whichever pane has
    /// the focus (the pane's table says what the help puts first).
    pub fn handles(self, action: Action) -> bool {
        if !self.is_dialog() {
            return true;
        }
        let question = matches!(
            self,
            Component::Confirm | Component::Manual | Component::Approve
        );
        self.own()
            .iter()
            .chain(DIALOG)
            .chain(if question { QUESTION } else { &[] })
            .any(|b| b.action == action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_advertised_action_is_handled_and_advertised_once() {
        for c in Component::iter() {
            let hinted: Vec<Action> = c.hints().map(|(a, _)| a).collect();
            assert!(!hinted.is_empty(), "{c:?} advertises nothing");
            for (i, a) in hinted.iter().enumerate() {
                assert!(c.handles(*a), "{c:?} advertises {a} but ignores it");
                assert!(!hinted[..i].contains(a), "{c:?} advertises {a} twice");
            }
        }
    }

    #[test]
    fn dialogs_let_through_only_what_they_declare() {
        assert!(Component::Confirm.handles(Action::Yes));
        assert!(Component::Confirm.handles(Action::Answer));
        assert!(!Component::Confirm.handles(Action::Skip));
        assert!(!Component::Abort.handles(Action::Answer));
        assert!(!Component::Quit.handles(Action::Run));
        assert!(Component::Manual.handles(Action::Run));
        assert!(!Component::Help.handles(Action::Yes));
        // The readiness screen is not a pane: the incident's actions do not reach past it.
        assert!(Component::Readiness.handles(Action::WriteRunbooks));
        assert!(Component::Readiness.handles(Action::PageDown));
        assert!(!Component::Readiness.handles(Action::Run));
        assert!(!Component::Readiness.handles(Action::Skip));
    }
}
