//! Who may do what in an incident: the three roles (incident commander, operator, scribe) and
//! the two-person rule. Pure rules: the engine enforces them on every control, whatever sent
//! it (this terminal, an answers file, a shared incident); the TUI uses them to show only the
//! keys a role may use.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Incident commander: everything an operator does, and approves two-person steps run by
    /// someone else
    Commander,
    /// Carries out steps: starts, answers, skips, retries, aborts
    #[default]
    Operator,
    /// Keeps the record: writes notes, changes nothing
    Scribe,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Commander => "commander",
            Role::Operator => "operator",
            Role::Scribe => "scribe",
        }
    }

    /// In words, for people.
    pub fn title(self) -> &'static str {
        match self {
            Role::Commander => "incident commander",
            Role::Operator => "operator",
            Role::Scribe => "scribe",
        }
    }

    /// May this role start, answer or stop steps (everything but notes)?
    pub fn acts(self) -> bool {
        self != Role::Scribe
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a control asks for, as far as roles are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Start,
    Answer,
    Manual,
    Skip,
    Retry,
    Abort,
    Pause,
    Approve,
    Note,
}

impl Act {
    fn verb(self) -> &'static str {
        match self {
            Act::Start => "start steps",
            Act::Answer => "answer confirmations",
            Act::Manual => "mark manual steps done or failed",
            Act::Skip => "skip steps",
            Act::Retry => "run steps again",
            Act::Abort => "abort steps",
            Act::Pause => "pause or resume the plan",
            Act::Approve => "approve steps",
            Act::Note => "write notes",
        }
    }
}

/// Why `who`, holding `role`, may not do `act`; `None` when they may. Approvals have their
/// own rule on top of this one (`approval_refusal`).
pub fn refusal(who: &str, role: Role, act: Act) -> Option<String> {
    match (role, act) {
        (_, Act::Note) => None,
        (Role::Scribe, _) => Some(format!(
            "{who} is the scribe and cannot {}: a scribe only writes notes",
            act.verb()
        )),
        _ => None,
    }
}

/// The two-person rule: why `approver` (holding `role`) may not approve a step that
/// `operator` is running; `None` when the approval counts.
pub fn approval_refusal(approver: &str, role: Role, operator: &str) -> Option<String> {
    if let Some(r) = refusal(approver, role, Act::Approve) {
        return Some(r);
    }
    if role != Role::Commander {
        return Some(format!(
            "{approver} is an {} and cannot approve: a two-person step needs an incident commander",
            role.title()
        ));
    }
    if same_person(approver, operator) {
        return Some(format!(
            "{approver} is running this step and cannot approve it too: a second commander must"
        ));
    }
    None
}

/// Whether two names written in the log are the same person: case and spacing aside, and
/// without a note in brackets after the name ("alice (answers file)" is alice).
pub fn same_person(a: &str, b: &str) -> bool {
    let bare = |s: &str| {
        let s = s.trim();
        let s = match s.find(" (") {
            Some(i) if s.ends_with(')') => &s[..i],
            _ => s,
        };
        s.trim().to_lowercase()
    };
    bare(a) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scribe_only_writes_notes() {
        for act in [
            Act::Start,
            Act::Answer,
            Act::Manual,
            Act::Skip,
            Act::Retry,
            Act::Abort,
            Act::Pause,
            Act::Approve,
        ] {
            let why = refusal("sam", Role::Scribe, act).expect("refused");
            assert!(why.contains("only writes notes"), "{why}");
            assert_eq!(refusal("olga", Role::Operator, act), None);
            assert_eq!(refusal("cora", Role::Commander, act), None);
        }
        assert_eq!(refusal("sam", Role::Scribe, Act::Note), None);
    }

    #[test]
    fn only_another_commander_approves() {
        assert_eq!(approval_refusal("bob", Role::Commander, "alice"), None);
        let op = approval_refusal("bob", Role::Operator, "alice").expect("refused");
        assert!(op.contains("needs an incident commander"), "{op}");
        let me =
            approval_refusal("Alice ", Role::Commander, "alice (answers file)").expect("refused");
        assert!(me.contains("second commander"), "{me}");
        assert!(approval_refusal("sam", Role::Scribe, "alice").is_some());
    }

    #[test]
    fn names_compare_without_case_or_bracketed_notes() {
        assert!(same_person("alice", "ALICE"));
        assert!(same_person("alice (--auto-approve)", "alice"));
        assert!(!same_person("alice", "alicia"));
        assert!(!same_person("al (ice", "al"));
    }
}
