//! What each action does outside a dialog.

use super::bindings;
use super::*;

impl App {
    pub(super) fn act(&mut self, action: Action) -> Vec<Effect> {
        let by = self.info.operator.clone();
        let key = self.selected_key();
        let shown = key.as_ref().map(|k| self.shown(k));
        let review_refuses = self.info.review && bindings::CHANGES.contains(&action);
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
            Action::Readiness => return self.open_readiness(),
            // Only the readiness screen writes runbooks; it takes its keys itself.
            Action::WriteRunbooks => {
                self.say(format!(
                    "{} opens the readiness screen first",
                    self.key_of(Action::Readiness)
                ));
            }
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

    /// The selected step's resource id, URL or command, as the screen shows it: with every
    /// secret already masked, so the clipboard never gets one.
    pub(super) fn copy(&mut self) -> Vec<Effect> {
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
            crate::layout::truncate(&text, 60)
        ));
        vec![Effect::Clipboard(text)]
    }
}
