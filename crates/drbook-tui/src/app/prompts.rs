//! Questions waiting for the operator: they queue in arrival order and open only when asked for
//! (they never pop up over what the operator is doing).

use super::*;

impl App {
    /// Confirmations asked and manual steps started wait for the operator until answered.
    pub(super) fn track_prompts(&mut self, e: &Event) {
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
    pub(super) fn settle_prompt(&mut self, key: &StepKey) {
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
    pub(super) fn asks_about(d: &Dialog, key: &StepKey) -> bool {
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

    pub(super) fn push_prompt(&mut self, key: StepKey) {
        if !self.prompts.contains(&key) {
            self.prompts.push_back(key);
        }
    }

    /// Opens the oldest question waiting (the operator asked for it with the `answer` key).
    pub(super) fn open_next_prompt(&mut self) {
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

    pub(super) fn open_prompt(&mut self, key: StepKey) {
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
}
