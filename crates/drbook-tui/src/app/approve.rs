//! Roles on the screen: what this terminal's role may do (a scribe only writes notes), and
//! the two-person approval: a commander approves someone else's step; at a single keyboard
//! the operator hands over to a commander, who gives their name (not the operator's).
//! The engine checks the same rules again, whatever sends the approval.

use super::{App, Dialog, Purpose};
use crate::keys::Action;
use drbook_core::roles::{self, Act, Role};
use drbook_core::runbook::plan::StepKey;

impl App {
    /// This terminal's role, as the incident log records it (an operator until it says
    /// otherwise: logs from before roles).
    pub fn role(&self) -> Role {
        self.state.role_of(&self.info.operator)
    }

    /// This terminal's operator became a scribe: the questions put to them are withdrawn.
    pub(super) fn role_logged(&mut self, e: &drbook_core::incident::Event) {
        let drbook_core::incident::EventKind::RoleTaken { operator, role } = &e.kind else {
            return;
        };
        if !roles::same_person(operator, &self.info.operator) {
            return;
        }
        if *role == Role::Commander {
            // Approvals other drbooks asked for before this terminal knew its role.
            self.ask_waiting_elsewhere();
        }
        if *role != Role::Scribe {
            return;
        }
        self.prompts.clear();
        if matches!(
            self.dialog,
            Some(Dialog::Confirm { .. } | Dialog::Manual { .. } | Dialog::Approve { .. })
        ) {
            self.dialog = None;
        }
    }

    /// Is an approval for a step run by `operator` this terminal's to give, so it is put to
    /// it like a confirmation: a commander, and someone else's step.
    pub(super) fn approves_for(&self, operator: &str) -> bool {
        !self.info.review
            && self.role() == Role::Commander
            && !roles::same_person(operator, &self.info.operator)
    }

    /// Can an approval be given at this keyboard: by its commander, or (its own step) by a
    /// commander who comes to it. Not by a scribe.
    pub fn can_approve_here(&self, key: &StepKey) -> bool {
        let Some(operator) = self.awaiting(key).map(|(op, _)| op) else {
            return false;
        };
        match self.role() {
            Role::Scribe => false,
            Role::Commander => true,
            Role::Operator => roles::same_person(&operator, &self.info.operator),
        }
    }

    /// Why this terminal's role may not do `action`, if it may not.
    /// Whether pressing `action` does what the help says, rather than being refused: a review
    /// changes nothing, and a role refuses what it may not do.
    pub fn offers(&self, action: Action) -> bool {
        !(self.info.review && super::bindings::CHANGES.contains(&action))
            && self.role_refuses(action).is_none()
    }

    pub(super) fn role_refuses(&self, action: Action) -> Option<String> {
        let act = match action {
            Action::Run | Action::RunAllReady | Action::Autopilot => Act::Start,
            Action::Yes => Act::Answer,
            Action::Fail => Act::Manual,
            Action::Skip => Act::Skip,
            Action::Recheck => Act::Retry,
            Action::Pause => Act::Pause,
            Action::Abort => Act::Abort,
            Action::Approve => Act::Approve,
            _ => return None,
        };
        roles::refusal(&self.info.operator, self.role(), act)
    }

    /// Who runs `key` and what it will do, while it waits for an approval.
    fn awaiting(&self, key: &StepKey) -> Option<(String, String)> {
        self.state
            .step(&key.runbook, &key.step)
            .and_then(|s| s.approval.as_ref())
            .filter(|a| a.answer.is_none())
            .map(|a| (a.operator.clone(), a.prompt.clone()))
            .or_else(|| self.remote_awaiting(key))
    }

    /// Opens the approval of `key`: for this terminal's commander, or asking the name of the
    /// commander who approves at this keyboard when the step is this terminal's own.
    pub(super) fn ask_approval(&mut self, key: StepKey) {
        let Some((operator, what)) = self.awaiting(&key) else {
            self.say(format!("{key} does not wait for an approval"));
            return;
        };
        let me = self.info.operator.clone();
        let own = roles::same_person(&operator, &me);
        match self.role() {
            Role::Scribe => {
                let why = roles::refusal(&me, Role::Scribe, Act::Approve).unwrap_or_default();
                self.say(why);
            }
            Role::Commander if !own => {
                self.dialog = Some(Dialog::Approve {
                    key,
                    what,
                    operator,
                    by: me,
                    keyboard: None,
                });
            }
            _ if own => {
                self.dialog = Some(Dialog::Input {
                    purpose: Purpose::Approver(key),
                    text: String::new(),
                });
            }
            _ => self.say(format!(
                "{key} awaits an incident commander's approval; {me} is an operator and cannot give it"
            )),
        }
    }

    /// The name typed for the approver at this keyboard: someone other than the operator.
    pub(super) fn approver_named(&mut self, key: StepKey, name: &str) {
        let name = name.trim();
        let Some((operator, what)) = self.awaiting(&key) else {
            self.say(format!("{key} does not wait for an approval"));
            return;
        };
        if name.is_empty() {
            self.say("nothing approved: no approver's name given");
            return;
        }
        if roles::same_person(name, &operator) {
            self.say(format!(
                "{name} runs {key} and cannot approve it too: a second person, a commander, must"
            ));
            return;
        }
        self.dialog = Some(Dialog::Approve {
            key,
            what,
            operator,
            by: name.to_string(),
            keyboard: Some(self.info.operator.clone()),
        });
    }

    /// The role an approval is given with: this terminal's for its own operator; for someone
    /// named at this keyboard, the role the log knows them by, else the commander they said
    /// they are (the dialog asks for a commander).
    pub(super) fn role_of_approver(&self, by: &str, keyboard: Option<&str>) -> Role {
        if keyboard.is_none() {
            return self.role();
        }
        self.state
            .roles
            .iter()
            .find(|(name, _)| roles::same_person(name, by))
            .map_or(Role::Commander, |(_, r)| *r)
    }
}
