//! The critical path of an incident as it ran: which chain of steps set the finish time.

use crate::exec::plan::Group;
use crate::incident::state::RunbookState;
use crate::incident::{IncidentState, StepRef};

use super::sources::{RunbookInfo, Sources};

/// The chain of steps that set the finish: the plan's groups in order (within a parallel
/// group the runbook that finished last, a sequential group's runbooks each in turn), and
/// within a runbook, back from its last-finishing step, each step's latest-finishing
/// dependency (from the runbook file; without it, the step that finished last before it
/// started).
pub fn critical_path(state: &IncidentState, sources: &Sources) -> Vec<StepRef> {
    let groups: Vec<Group> = match &sources.plan {
        Some(p) => p.groups.clone(),
        None => state
            .runbooks
            .iter()
            .map(|r| Group {
                name: r.id.clone(),
                runbooks: vec![r.id.clone()],
                parallel: false,
            })
            .collect(),
    };
    let finish = |id: &str| {
        state
            .runbook(id)
            .and_then(|r| r.steps.iter().filter_map(|s| s.finished).max())
    };
    let mut path = Vec::new();
    for g in &groups {
        let chosen: Vec<&String> = if g.parallel {
            g.runbooks
                .iter()
                .filter(|id| finish(id).is_some())
                .max_by_key(|id| finish(id))
                .into_iter()
                .collect()
        } else {
            g.runbooks.iter().collect()
        };
        for id in chosen {
            if let Some(rb) = state.runbook(id) {
                path.extend(chain_in_runbook(rb, sources.runbook(id)));
            }
        }
    }
    path
}

fn chain_in_runbook(rb: &RunbookState, info: Option<&RunbookInfo>) -> Vec<StepRef> {
    let finished: Vec<_> = rb.steps.iter().filter(|s| s.finished.is_some()).collect();
    let Some(mut at) = finished.iter().max_by_key(|s| s.finished).copied() else {
        return Vec::new();
    };
    let mut chain = vec![at.id.clone()];
    // Bounded by the number of steps, so a cycle in a changed file cannot loop forever.
    for _ in 0..rb.steps.len() {
        let before = match info.and_then(|i| i.step(&at.id)) {
            Some(si) => si
                .depends_on
                .iter()
                .filter_map(|d| rb.step(d))
                .filter(|s| s.finished.is_some())
                .max_by_key(|s| s.finished),
            None => finished
                .iter()
                .filter(|s| s.id != at.id && s.finished <= at.started)
                .max_by_key(|s| s.finished)
                .copied(),
        };
        match before {
            Some(b) if !chain.contains(&b.id) => {
                chain.push(b.id.clone());
                at = b;
            }
            _ => break,
        }
    }
    chain
        .into_iter()
        .rev()
        .map(|step| StepRef {
            runbook: rb.id.clone(),
            step,
        })
        .collect()
}
