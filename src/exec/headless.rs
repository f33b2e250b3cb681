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
use super::plan::StepKey;
use super::steps::Outcome;

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
        toml::from_str(&text).map_err(|e| {
            let (line, col) = e.span().map_or((0, 0), |s| line_col(&text, s.start));
            format!("{}:{line}:{col}: {}", path.display(), e.message())
        })
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
                let (outcome, note) = answers.manual(key).unwrap_or((
                    Outcome::Failed,
                    Some("no answer for this manual step in --answers (a non-interactive run cannot ask)".into()),
                ));
                let _ = ctl_tx.send(Control::Manual {
                    key: key.clone(),
                    outcome,
                    note,
                    by: operator.to_string(),
                });
            }
            Update::Recorded(ExecEvent::ConfirmationRequested { key, .. }) => {
                let yes = Answers::lookup(&answers.confirm, key)
                    .copied()
                    .unwrap_or(false);
                let _ = ctl_tx.send(Control::Answer {
                    key: key.clone(),
                    yes,
                    by: format!("{operator} (answers file)"),
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
