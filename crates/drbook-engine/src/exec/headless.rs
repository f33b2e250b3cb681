//! Headless runs (`--non-interactive`, automated drills in CI): an autopilot starts every ready
//! step, and manual steps and confirmations are answered from an answers file. A manual step
//! without an answer fails, saying so; nothing waits for a human who is not there. A
//! two-person step is never answered from here: the run goes on with what does not depend
//! on it, then stops and says which steps await a commander (`Ending::awaiting_approval`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use tokio::sync::mpsc;

use super::engine::{Control, Engine, ExecEvent, Update};
use super::steps::Outcome;
use drbook_core::runbook::plan::StepKey;

/// `--answers FILE`:
/// ```toml
/// [manual]
/// "web-failover/confirm-outage" = { outcome = "ok", note = "status page confirms" }
/// "*" = "ok"                    # every other manual step
/// [confirm]
/// "data-sql-failover/failover" = true
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    #[serde(default)]
    pub manual: BTreeMap<String, ManualAnswer>,
    #[serde(default)]
    pub confirm: BTreeMap<String, bool>,
    /// The file the answers came from (`--answers`), named with every answer taken from it;
    /// `None` for answers built in code, or none at all.
    #[serde(skip)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ManualAnswer {
    Outcome(Outcome),
    Full {
        outcome: Outcome,
        note: Option<String>,
    },
}

impl Answers {
    pub fn load(path: &Path) -> Result<Answers, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut answers: Answers = toml::from_str(&text).map_err(|e| {
            let (line, col) = e.span().map_or((0, 0), |s| line_col(&text, s.start));
            format!("{}:{line}:{col}: {}", path.display(), e.message())
        })?;
        answers.source = Some(path.display().to_string());
        Ok(answers)
    }

    /// Who answered, as the log records it: the operator through the answers file (named
    /// when known). Only said of an answer that is in the file.
    fn answered_by(&self, operator: &str) -> String {
        match &self.source {
            Some(path) => format!("{operator} (answers file {path})"),
            None => format!("{operator} (answers file)"),
        }
    }

    /// Who "answers" what nobody answered: drbook, saying why; never an answers file that
    /// was not given or did not answer.
    fn unanswered(&self) -> (String, String) {
        match &self.source {
            Some(path) => (
                format!("{UNANSWERED_BY} (no answer in answers file {path})"),
                format!(
                    "no answer for this step in the answers file {path} (a non-interactive run cannot ask)"
                ),
            ),
            None if self.manual.is_empty() && self.confirm.is_empty() => (
                format!("{UNANSWERED_BY} (no --answers file)"),
                "no answer: no --answers file was given (a non-interactive run cannot ask)"
                    .to_string(),
            ),
            None => (
                format!("{UNANSWERED_BY} (no answer in the answers)"),
                "no answer for this step in the answers (a non-interactive run cannot ask)"
                    .to_string(),
            ),
        }
    }

    fn lookup<'a, T>(map: &'a BTreeMap<String, T>, key: &StepKey) -> Option<&'a T> {
        map.get(&key.to_string())
            .or_else(|| map.get(&key.step))
            .or_else(|| map.get("*"))
    }

    fn manual(&self, key: &StepKey) -> Option<(Outcome, Option<String>)> {
        Self::lookup(&self.manual, key).map(|a| match a {
            ManualAnswer::Outcome(o) => (*o, None),
            ManualAnswer::Full { outcome, note } => (*outcome, note.clone()),
        })
    }
}

/// The actor of an answer nobody gave (a confirmation declined, a manual step failed, by
/// default in a headless run).
pub const UNANSWERED_BY: &str = "drbook";

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// How a headless run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ending {
    pub finished: bool,
    pub log_failed: Option<String>,
    /// Two-person steps left waiting for a commander's approval when the run stopped: a
    /// headless run has nobody to give one (`--auto-approve` and answers files never do).
    pub awaiting_approval: Vec<StepKey>,
}

/// Runs `engine` to its end, answering from `answers`; `seen` gets every update.
pub async fn drive(
    engine: Engine,
    answers: &Answers,
    operator: &str,
    mut seen: impl FnMut(&Update),
) -> Ending {
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let (up_tx, mut up_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(engine.run(ctl_rx, up_tx));
    let mut ending = Ending::default();
    while let Some(u) = up_rx.recv().await {
        seen(&u);
        match &u {
            Update::Recorded(ExecEvent::WaitingForOperator { key }) => {
                let (outcome, note, by) = match answers.manual(key) {
                    Some((outcome, note)) => (outcome, note, answers.answered_by(operator)),
                    None => {
                        let (by, why) = answers.unanswered();
                        (Outcome::Failed, Some(why), by)
                    }
                };
                let _ = ctl_tx.send(Control::Manual {
                    key: key.clone(),
                    outcome,
                    note,
                    by,
                });
            }
            Update::Recorded(ExecEvent::ConfirmationRequested { key, .. }) => {
                let (yes, by) = match Answers::lookup(&answers.confirm, key) {
                    Some(yes) => (*yes, answers.answered_by(operator)),
                    None => (false, answers.unanswered().0),
                };
                let _ = ctl_tx.send(Control::Answer {
                    key: key.clone(),
                    yes,
                    by,
                });
            }
            Update::Recorded(ExecEvent::ApprovalRequested { key, .. }) => {
                ending.awaiting_approval.push(key.clone());
            }
            Update::Recorded(
                ExecEvent::Approved { key, .. }
                | ExecEvent::StepSkipped { key, .. }
                | ExecEvent::StepFinished { key, .. },
            ) => ending.awaiting_approval.retain(|k| k != key),
            Update::Idle { finished } => ending.finished = *finished,
            Update::LogFailed(e) => ending.log_failed = Some(e.clone()),
            _ => {}
        }
    }
    let _ = task.await;
    ending
}
