//! The critical path of an incident as it ran: which chain of steps set the finish time.

use std::collections::{HashMap, HashSet};

use drbook_core::incident::state::{RunbookState, StepState};
use drbook_core::incident::{IncidentState, StepRef};
use drbook_core::runbook::plan::Group;

use super::sources::{RunbookInfo, Sources, StepInfo};

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
    // Looked up by id and sorted by finish once: a scan per hop made a long chain quadratic.
    let by_id: HashMap<&str, &StepState> =
        rb.steps.iter().rev().map(|s| (s.id.as_str(), s)).collect();
    let deps: Option<HashMap<&str, &StepInfo>> = info.map(|i| {
        i.steps
            .iter()
            .rev()
            .map(|(id, s)| (id.as_str(), s))
            .collect()
    });
    // Finished steps in order of finish; equal times keep the file order (a stable sort), so
    // the last of them is the one `max_by_key` picked.
    let mut finished: Vec<&StepState> = rb.steps.iter().filter(|s| s.finished.is_some()).collect();
    finished.sort_by_key(|s| s.finished);
    let Some(mut at) = finished.last().copied() else {
        return Vec::new();
    };
    let mut chain = vec![at.id.clone()];
    let mut on_chain: HashSet<&str> = HashSet::from([at.id.as_str()]);
    // Bounded by the number of steps, so a cycle in a changed file cannot loop forever.
    for _ in 0..rb.steps.len() {
        let before = match deps.as_ref().and_then(|d| d.get(at.id.as_str())) {
            Some(si) => si
                .depends_on
                .iter()
                .filter_map(|d| by_id.get(d.as_str()).copied())
                .filter(|s| s.finished.is_some())
                .max_by_key(|s| s.finished),
            None => {
                // The last step that finished by the time this one started, itself excepted.
                let upto = finished.partition_point(|s| s.finished <= at.started);
                finished[..upto]
                    .iter()
                    .rev()
                    .find(|s| s.id != at.id)
                    .copied()
            }
        };
        match before {
            Some(b) if on_chain.insert(b.id.as_str()) => {
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
