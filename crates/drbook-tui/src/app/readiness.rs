//! The readiness screen's state (issue 18): what `drbook discover` found, full screen. Its
//! components with their readiness verdict, the pairs of the selected component with the rule
//! that matched each, the findings grouped by severity (critical first), and a key that writes
//! the runbooks. Discovery and writing run in tasks of the runner's: they come back here as a
//! `Msg::Readiness`, so nothing here waits on the network or the disk.

use std::path::PathBuf;
use std::sync::Arc;

use drbook_engine::discover::{Discovery, Severity};

use super::*;

/// A discovery shared between the screen and the task that writes its runbooks. Two are equal
/// when they are the same discovery (the effect's comparison, for tests).
#[derive(Debug, Clone)]
pub struct Shared(pub Arc<Discovery>);

impl PartialEq for Shared {
    fn eq(&self, other: &Shared) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What a discovery or writing task says back.
#[derive(Debug)]
pub enum ReadinessMsg {
    /// Where a running discovery is ("reading Resources through Resource Graph").
    Progress(String),
    /// The discovery ended: what it found, or why it could not.
    Discovered(Result<Discovery, String>),
    /// Writing the runbooks into `dir` ended.
    Written {
        dir: PathBuf,
        result: Result<WriteReport, WriteFailure>,
    },
}

/// Files written, and what validating them as `drbook validate --strict` does found.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteReport {
    pub files: Vec<PathBuf>,
    /// `file:line:col: message [code]`, one a problem: empty when they pass.
    pub diagnostics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteFailure {
    /// These files exist in the folder: replacing them needs a second, explicit yes.
    Exists(Vec<String>),
    /// Anything else, said as it is (a template, the disk).
    Failed(String),
}

#[derive(Debug, Clone)]
pub enum Phase {
    Discovering { since: DateTime<Utc>, step: String },
    Failed(String),
    Shown(Arc<Discovery>),
}

/// The list the moving keys act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum List {
    #[default]
    Components,
    Pairs,
    Findings,
}

impl List {
    fn next(self, back: bool) -> List {
        const ALL: [List; 3] = [List::Components, List::Pairs, List::Findings];
        let i = ALL.iter().position(|l| *l == self).unwrap_or(0);
        ALL[if back { (i + 2) % 3 } else { (i + 1) % 3 }]
    }

    pub fn name(self) -> &'static str {
        match self {
            List::Components => "components",
            List::Pairs => "pairs",
            List::Findings => "findings",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteState {
    Writing { dir: PathBuf },
    Done { dir: PathBuf, report: WriteReport },
    Failed { dir: PathBuf, error: String },
}

#[derive(Debug, Clone)]
pub struct ReadinessView {
    pub phase: Phase,
    /// On screen (closing keeps the last discovery, and a running one goes on).
    pub open: bool,
    pub focus: List,
    pub comp_sel: usize,
    pub pair_sel: usize,
    pub finding_sel: usize,
    pub write: Option<WriteState>,
    /// `drbook discover --tui`: the screen is the whole program, so closing it quits.
    pub standalone: bool,
}

impl ReadinessView {
    fn discovering(now: DateTime<Utc>) -> ReadinessView {
        ReadinessView {
            phase: Phase::Discovering {
                since: now,
                step: "starting".into(),
            },
            open: true,
            focus: List::Components,
            comp_sel: 0,
            pair_sel: 0,
            finding_sel: 0,
            write: None,
            standalone: false,
        }
    }

    pub fn discovery(&self) -> Option<&Arc<Discovery>> {
        match &self.phase {
            Phase::Shown(d) => Some(d),
            _ => None,
        }
    }

    /// The findings in the order shown: critical first, then high, medium, low; within a
    /// severity as discovery listed them.
    pub fn findings_order(d: &Discovery) -> Vec<usize> {
        let mut order: Vec<usize> = (0..d.findings.len()).collect();
        order.sort_by_key(|i| d.findings[*i].severity);
        order
    }

    /// The selected component's pairs with their rules.
    pub fn pairs(&self) -> Vec<(&str, &str, &str)> {
        let Some(c) = self
            .discovery()
            .and_then(|d| d.components.get(self.comp_sel))
        else {
            return Vec::new();
        };
        c.pairs
            .iter()
            .enumerate()
            .map(|(i, (p, s))| {
                (
                    p.as_str(),
                    s.as_str(),
                    c.rules.get(i).map_or("", String::as_str),
                )
            })
            .collect()
    }

    fn len(&self, list: List) -> usize {
        match (list, self.discovery()) {
            (_, None) => 0,
            (List::Components, Some(d)) => d.components.len(),
            (List::Pairs, Some(_)) => self.pairs().len(),
            (List::Findings, Some(d)) => d.findings.len(),
        }
    }

    fn move_by(&mut self, by: i64) {
        let len = self.len(self.focus);
        let sel = match self.focus {
            List::Components => &mut self.comp_sel,
            List::Pairs => &mut self.pair_sel,
            List::Findings => &mut self.finding_sel,
        };
        let max = len.saturating_sub(1) as i64;
        let to = (*sel as i64).saturating_add(by).clamp(0, max) as usize;
        let changed = to != *sel;
        *sel = to;
        if changed && self.focus == List::Components {
            self.pair_sel = 0;
        }
    }

    /// Counts of findings by severity, most severe first.
    pub fn counts(d: &Discovery) -> [(Severity, usize); 4] {
        [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ]
        .map(|s| (s, d.findings.iter().filter(|f| f.severity == s).count()))
    }
}

/// The folder offered for the runbooks of `d`: `./runbooks-<primary>`.
pub fn default_folder(d: &Discovery) -> String {
    format!("./runbooks-{}", d.primary)
}

impl App {
    /// The readiness screen is on screen (and takes the keys no dialog takes).
    pub fn readiness_open(&self) -> bool {
        self.readiness.as_ref().is_some_and(|r| r.open)
    }

    /// `drbook discover --tui`: the screen shows `d` and is the whole program.
    pub fn show_discovery(&mut self, d: Discovery) {
        let mut v = ReadinessView::discovering(self.now);
        v.phase = Phase::Shown(Arc::new(d));
        v.standalone = true;
        self.readiness = Some(v);
    }

    /// The `readiness` key outside the screen: a new discovery, unless one runs (then the
    /// screen just opens again on it).
    pub(super) fn open_readiness(&mut self) -> Vec<Effect> {
        if self.info.review {
            self.say("a past incident: `drbook discover --tui` shows the estate's readiness now");
            return Vec::new();
        }
        if let Some(v) = &mut self.readiness
            && matches!(v.phase, Phase::Discovering { .. })
        {
            v.open = true;
            return Vec::new();
        }
        self.readiness = Some(ReadinessView::discovering(self.now));
        vec![Effect::Discover]
    }

    /// A key on the readiness screen (no dialog open): only what its table declares acts.
    pub(super) fn readiness_key(&mut self, action: Option<Action>, esc: bool) -> Vec<Effect> {
        let action = action.filter(|a| Component::Readiness.handles(*a));
        let standalone = self.readiness.as_ref().is_some_and(|v| v.standalone);
        if esc || matches!(action, Some(Action::Quit | Action::Readiness)) {
            if standalone {
                return vec![Effect::Quit];
            }
            if let Some(v) = &mut self.readiness {
                v.open = false;
            }
            return Vec::new();
        }
        let Some(action) = action else {
            return Vec::new();
        };
        if action == Action::Help {
            self.dialog = Some(Dialog::Help);
            return Vec::new();
        }
        if action == Action::WriteRunbooks {
            let v = self.readiness.as_ref();
            let writing = v.is_some_and(|v| matches!(v.write, Some(WriteState::Writing { .. })));
            // The folder written last, else the default for the discovery's primary region.
            let last = v.and_then(|v| match &v.write {
                Some(WriteState::Done { dir, .. } | WriteState::Failed { dir, .. }) => {
                    Some(dir.display().to_string())
                }
                _ => None,
            });
            let folder = v
                .and_then(|v| v.discovery())
                .map(|d| last.unwrap_or_else(|| default_folder(d)));
            match folder {
                _ if writing => self.say("the runbooks are being written: wait for the result"),
                Some(text) => {
                    self.dialog = Some(Dialog::Input {
                        purpose: Purpose::RunbooksFolder,
                        text,
                    })
                }
                None => self.say("nothing to write: there is no discovery on screen"),
            }
            return Vec::new();
        }
        let Some(v) = &mut self.readiness else {
            return Vec::new();
        };
        match action {
            Action::Up => v.move_by(-1),
            Action::Down => v.move_by(1),
            Action::PageUp => v.move_by(-10),
            Action::PageDown => v.move_by(10),
            Action::Top => v.move_by(i64::MIN / 2),
            Action::Bottom => v.move_by(i64::MAX / 2),
            Action::NextPane | Action::PrevPane => {
                v.focus = v.focus.next(action == Action::PrevPane);
            }
            _ => {}
        }
        Vec::new()
    }

    /// The folder was named: write into it (a file there is replaced only with `force`).
    pub(super) fn write_runbooks(&mut self, dir: String, force: bool) -> Vec<Effect> {
        let dir = dir.trim();
        if dir.is_empty() {
            self.say("nothing written: no folder was named");
            return Vec::new();
        }
        let Some(v) = &mut self.readiness else {
            return Vec::new();
        };
        let Some(d) = v.discovery().cloned() else {
            return Vec::new();
        };
        let dir = PathBuf::from(dir);
        v.write = Some(WriteState::Writing { dir: dir.clone() });
        vec![Effect::WriteRunbooks {
            discovery: Shared(d),
            dir,
            force,
        }]
    }

    pub(super) fn readiness_msg(&mut self, m: ReadinessMsg) {
        let Some(v) = &mut self.readiness else {
            return;
        };
        match m {
            ReadinessMsg::Progress(text) => {
                if let Phase::Discovering { step, .. } = &mut v.phase {
                    *step = text;
                }
            }
            ReadinessMsg::Discovered(Ok(d)) => {
                v.phase = Phase::Shown(Arc::new(d));
                v.comp_sel = 0;
                v.pair_sel = 0;
                v.finding_sel = 0;
            }
            ReadinessMsg::Discovered(Err(e)) => v.phase = Phase::Failed(e),
            ReadinessMsg::Written { dir, result } => match result {
                Ok(report) => v.write = Some(WriteState::Done { dir, report }),
                Err(WriteFailure::Exists(files)) => {
                    v.write = None;
                    self.dialog = Some(Dialog::Overwrite { dir, files });
                }
                Err(WriteFailure::Failed(error)) => {
                    v.write = Some(WriteState::Failed { dir, error })
                }
            },
        }
    }
}
