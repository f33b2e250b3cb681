//! A shared incident on the screen: other operators' events in the timeline, who holds which
//! step, steps waiting for this terminal's commander on someone else's drbook, and taking a
//! claim over.

use super::App;
use drbook_core::incident::{Event, EventKind};
use drbook_core::runbook::plan::StepKey;
use drbook_engine::share::Holder;

impl App {
    /// Someone else's event: into the timeline, and folded with the others' events; an
    /// approval they wait for is put to this terminal's commander.
    pub(super) fn remote(&mut self, e: Event) {
        self.others.apply(&e);
        if let Some((rb, st)) = e.kind.step_ref() {
            let key = StepKey::new(rb, st);
            match &e.kind {
                EventKind::ApprovalRequested { operator, .. } if self.approves_for(operator) => {
                    self.push_prompt(key)
                }
                EventKind::Approved { .. }
                | EventKind::StepFinished { .. }
                | EventKind::StepSkipped { .. } => self.settle_prompt(&key),
                _ => {}
            }
        }
        self.timeline.push(e);
        if self.timeline_back > 0 {
            self.timeline_back += 1;
        }
    }

    /// Puts to this terminal every approval waiting on another drbook that it may give.
    pub(super) fn ask_waiting_elsewhere(&mut self) {
        let waiting: Vec<(StepKey, String)> = self
            .others
            .runbooks
            .iter()
            .flat_map(|rb| {
                rb.steps.iter().filter_map(|st| {
                    let a = st.approval.as_ref().filter(|a| a.answer.is_none())?;
                    Some((
                        StepKey::new(rb.id.clone(), st.id.clone()),
                        a.operator.clone(),
                    ))
                })
            })
            .collect();
        for (key, operator) in waiting {
            if self.approves_for(&operator) {
                self.push_prompt(key);
            }
        }
    }

    /// Who else holds `key` on the shared timeline, if someone does.
    pub fn held_by_other(&self, key: &StepKey) -> Option<&Holder> {
        let share = self.share.as_ref()?;
        share
            .holders
            .get(key)
            .filter(|h| !drbook_core::roles::same_person(&h.op, &self.info.operator))
    }

    /// Why the share cannot be reached, while it cannot (a shared incident only).
    pub fn share_offline(&self) -> Option<String> {
        let s = self.share.as_ref()?;
        (!s.online).then(|| {
            s.problem
                .clone()
                .unwrap_or_else(|| "not reached yet".into())
        })
    }

    /// Does `key` wait, on another operator's drbook, for a commander's approval?
    pub(super) fn awaits_elsewhere(&self, key: &StepKey) -> bool {
        self.remote_awaiting(key).is_some()
    }

    /// Who runs `key` elsewhere and what it will do, while it waits for an approval there.
    pub(super) fn remote_awaiting(&self, key: &StepKey) -> Option<(String, String)> {
        self.others
            .step(&key.runbook, &key.step)?
            .approval
            .as_ref()
            .filter(|a| a.answer.is_none())
            .map(|a| (a.operator.clone(), a.prompt.clone()))
    }
}
