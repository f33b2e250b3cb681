//! Live values for the screen: while a runbook is on screen its finished read-only steps are
//! read again on an interval, in the background, so the detail pane tells the truth about now.
//! These reads are for the eyes only: they change nothing and are not logged.

use std::collections::BTreeMap;

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;

use super::app::{LiveRead, Msg};
use drbook_core::incident::IncidentState;
use drbook_core::runbook::model::Runbook;
use drbook_core::runbook::plan::StepKey;
use drbook_engine::checks::read::{Reader, Verdict};
use drbook_engine::checks::scope::Scope;

/// The steps of `rb` worth reading again: read-only kinds that finished, with the outputs the
/// log holds for the steps before them.
pub fn wanted(rb: &Runbook, scope: &Scope, state: &IncidentState) -> Vec<(StepKey, Scope)> {
    let Some(rs) = state.runbook(rb.id()) else {
        return Vec::new();
    };
    let mut scope = scope.clone();
    for st in &rs.steps {
        scope.outputs.insert(st.id.clone(), st.outputs.clone());
    }
    rb.steps
        .iter()
        .filter(|s| s.kind.get_ref().is_read_only())
        .filter(|s| {
            rs.step(s.id.get_ref()).is_some_and(|x| {
                matches!(
                    x.status,
                    drbook_core::incident::StepStatus::Done
                        | drbook_core::incident::StepStatus::Assessed
                )
            })
        })
        .map(|s| (StepKey::new(rb.id(), s.id.get_ref().clone()), scope.clone()))
        .collect()
}

/// Reads each step once, concurrently (the client bounds concurrency), and reports each.
pub fn spawn(reader: Reader, rb: Runbook, items: Vec<(StepKey, Scope)>, tx: UnboundedSender<Msg>) {
    let steps: BTreeMap<String, _> = rb
        .steps
        .iter()
        .map(|s| (s.id.get_ref().clone(), s.clone()))
        .collect();
    for (key, scope) in items {
        let Some(step) = steps.get(&key.step).cloned() else {
            continue;
        };
        let reader = reader.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let r = reader.read(&step, &scope, None).await;
            if r.verdict == Verdict::Skipped {
                return;
            }
            let actual = match &r.error {
                Some(e) => e.short(),
                None => scope.vars.redact(&r.actual),
            };
            let read = LiveRead {
                at: Utc::now(),
                verdict: r.verdict.as_str().to_string(),
                expected: r.expected,
                actual,
            };
            let _ = tx.send(Msg::Live(key, read));
        });
    }
}
