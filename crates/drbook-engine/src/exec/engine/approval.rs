//! Roles and the two-person rule inside the engine: which controls each role may send (a
//! scribe only writes notes), and steps marked `approval = "two-person"` waiting, once they
//! would start, for an incident commander other than their operator. The rules themselves
//! are `drbook_core::roles`; this is where the engine applies them.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use super::{Control, Engine, ExecEvent, Update, Waiting, Work};
use drbook_core::roles::{self, Act, Role};
use drbook_core::runbook::model::StepKind;
use drbook_core::runbook::plan::StepKey;

/// Who holds which role, as far as this engine knows: the local operator's from the command
/// line, others' from `Control::TakeRole`. Someone it has never heard of is an operator.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    roster: BTreeMap<String, Role>,
    /// Approvals may come from elsewhere (a shared incident): a headless run then waits at a
    /// two-person step rather than stopping.
    approvals_elsewhere: bool,
}

impl Roles {
    fn role_of(&self, who: &str) -> Role {
        self.roster
            .iter()
            .find(|(name, _)| roles::same_person(name, who))
            .map_or(Role::Operator, |(_, r)| *r)
    }

    fn set(&mut self, who: &str, role: Role) {
        self.roster.retain(|name, _| !roles::same_person(name, who));
        self.roster.insert(who.to_string(), role);
    }
}

impl Engine {
    /// The role of the operator at this engine's keyboard (default: operator). Controls that
    /// name nobody (`Start`, `StartAllReady`, `Retry`) are theirs.
    pub fn with_role(mut self, role: Role) -> Engine {
        let me = self.options.operator.clone();
        self.roles.set(&me, role);
        self
    }

    /// Approvals can reach this engine from elsewhere (a shared incident's commanders): a
    /// headless run waits at a two-person step instead of stopping there.
    pub fn approvals_from_elsewhere(mut self, yes: bool) -> Engine {
        self.roles.approvals_elsewhere = yes;
        self
    }

    pub(super) fn local_acts(&self) -> bool {
        self.roles.role_of(&self.options.operator).acts()
    }

    /// Something waits that can still be answered: a person's answer, or an approval that can
    /// come from elsewhere. A headless run stops once only unanswerable approvals wait.
    pub(super) fn anyone_can_answer(&self) -> bool {
        self.waiting.values().any(|w| match w {
            Waiting::Approval { .. } => self.roles.approvals_elsewhere,
            _ => true,
        })
    }

    /// Why a control is not carried out for the role of whoever sent it, if it is not.
    pub(super) fn refusal(&self, c: &Control) -> Option<(Option<StepKey>, String)> {
        let me = self.options.operator.as_str();
        let (who, act, key) = match c {
            Control::Start(k) | Control::Takeover(k) | Control::RunUnclaimed(k) => {
                (me, Act::Start, Some(k))
            }
            Control::StartAllReady => (me, Act::Start, None),
            Control::Retry(k) => (me, Act::Retry, Some(k)),
            Control::Answer { key, by, .. } => (by.as_str(), Act::Answer, Some(key)),
            Control::Manual { key, by, .. } => (by.as_str(), Act::Manual, Some(key)),
            Control::Skip { key, by, .. } => (by.as_str(), Act::Skip, Some(key)),
            Control::Abort { key, by } => (by.as_str(), Act::Abort, Some(key)),
            Control::Pause { by } | Control::Resume { by } => (by.as_str(), Act::Pause, None),
            // Approvals carry their role and have their own rule (`approve`); when the outage
            // began is a fact anyone at the incident may record, as a note.
            Control::Note { .. }
            | Control::SetOutageStart { .. }
            | Control::Approve { .. }
            | Control::TakeRole { .. }
            | Control::Shutdown => return None,
        };
        roles::refusal(who, self.roles.role_of(who), act).map(|r| (key.cloned(), r))
    }

    /// Does this step wait for a second person before it runs? Not in a dry run, which
    /// touches nothing.
    fn needs_approval(&self, key: &StepKey) -> bool {
        !self.options.dry_run && self.step(key).is_some_and(|(_, s)| s.two_person())
    }

    /// The step would start now, run by `operator`: it does, unless it waits for approval.
    pub(super) async fn proceed(
        &mut self,
        key: StepKey,
        operator: String,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        if self.needs_approval(&key) {
            let what = self
                .step(&key)
                .map(|(_, s)| self.describe(&s, &key))
                .unwrap_or_default();
            self.waiting.insert(
                key.clone(),
                Waiting::Approval {
                    operator: operator.clone(),
                },
            );
            return self
                .record(
                    ExecEvent::ApprovalRequested {
                        key,
                        operator,
                        what,
                    },
                    updates,
                )
                .await;
        }
        self.begin(key, work, updates).await
    }

    /// Carries the step out: a manual one waits for its operator, any other runs.
    async fn begin(
        &mut self,
        key: StepKey,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let manual = self
            .step(&key)
            .is_some_and(|(_, s)| *s.kind.get_ref() == StepKind::Manual);
        if manual {
            self.begin_manual(key, updates).await
        } else {
            self.launch(key, work, updates).await
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn approve(
        &mut self,
        key: StepKey,
        by: String,
        role: Role,
        yes: bool,
        keyboard: Option<String>,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let refuse = |reason: String| {
            let _ = updates.send(Update::Refused {
                key: Some(key.clone()),
                reason,
            });
            Ok(())
        };
        let Some(Waiting::Approval { operator }) = self.waiting.get(&key) else {
            // On a shared incident a commander approves steps other drbooks wait on: the
            // approval is recorded here, shared, and checked again by the drbook that waits.
            if self.options.share.is_some() && keyboard.is_none() && role == Role::Commander {
                return self
                    .record(
                        ExecEvent::Approved {
                            key,
                            by,
                            role,
                            yes,
                            keyboard,
                        },
                        updates,
                    )
                    .await;
            }
            return refuse(format!("{key} does not wait for an approval"));
        };
        if let Some(reason) = roles::approval_refusal(&by, role, operator) {
            return refuse(reason);
        }
        self.waiting.remove(&key);
        self.record(
            ExecEvent::Approved {
                key: key.clone(),
                by: by.clone(),
                role,
                yes,
                keyboard,
            },
            updates,
        )
        .await?;
        if yes {
            self.begin(key, work, updates).await
        } else {
            let reason = format!("declined by {by} ({}, two-person rule)", role.title());
            self.skip(key, reason, Some(by), updates).await
        }
    }

    pub(super) async fn take_role(
        &mut self,
        who: String,
        role: Role,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let known = self
            .roles
            .roster
            .iter()
            .any(|(name, r)| roles::same_person(name, &who) && *r == role);
        if known {
            // Said again (a shared timeline read anew): nothing changes.
            return Ok(());
        }
        self.roles.set(&who, role);
        self.record(ExecEvent::RoleTaken { who, role }, updates)
            .await
    }
}
