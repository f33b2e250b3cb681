//! The header's clock: time since the outage began (or since drbook started, until someone
//! says when it began), the tightest RTO in play, the worst-case finish by step timeouts and
//! the time left on waits; once the plan is done, the time it took and the scorecard's verdict.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::app::App;
use drbook_core::incident::StepStatus;
use drbook_core::runbook::model::StepKind;
use drbook_core::runbook::plan::StepKey;
use drbook_core::time::parse_duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    /// Since the outage began (or the incident started), stopped at the plan's end.
    pub elapsed: Duration,
    /// `elapsed` counts from a logged outage start, not from when drbook started.
    pub from_outage: bool,
    /// The plan is done: whether it recovered, as the scorecard says.
    pub verdict: Option<bool>,
    /// The runbook not yet recovered whose RTO ends first, and that RTO.
    pub tightest: Option<(String, Duration)>,
    pub finish: Option<Finish>,
    /// The running step whose wait (a `wait` step, else its timeout) ends first, and what is
    /// left of it.
    pub wait: Option<(StepKey, Duration)>,
}

/// When the remaining steps are done at the latest, by their timeouts.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub at: DateTime<Utc>,
    /// Steps left that wait on a person and have no timeout: not counted in `at`.
    pub untimed: usize,
}

pub fn of(app: &App) -> Clock {
    let state = &app.state;
    let from = state.outage_since.or(state.started);
    let v = app.incident_verdict();
    let done = state.closed.is_some() || app.idle == Some(true);
    // The one verdict (`report::verdict`): RECOVERED only when every runbook is.
    let verdict = done.then_some(v.recovered);
    let running = from
        .and_then(|s| (app.now - s).to_std().ok())
        .unwrap_or_default();
    let elapsed = match (done, v.took) {
        (true, Some(took)) => took,
        _ => running,
    };
    let recovered = |id: &str| v.runbook(id).is_some_and(|c| c.recovered());
    let tightest = app
        .board
        .runbooks
        .iter()
        .filter(|r| !recovered(&r.id))
        .filter_map(|r| r.rto.map(|d| (r.id.clone(), d)))
        .min_by_key(|(_, d)| *d);
    Clock {
        elapsed,
        from_outage: state.outage_since.is_some(),
        verdict,
        tightest: if done { None } else { tightest },
        finish: (!done).then(|| finish(app)).flatten(),
        wait: if done { None } else { soonest_wait(app) },
    }
}

/// What is left of a running step's wait: a `wait` step's duration, else its timeout.
fn left_of_step(app: &App, key: &StepKey) -> Option<Duration> {
    let (_, step) = app.board.model_step(key)?;
    let st = app.state.step(&key.runbook, &key.step)?;
    let began = st.attempt_started.or(st.started)?;
    let limit = match step.kind.get_ref() {
        StepKind::Wait => step
            .duration
            .as_ref()
            .and_then(|d| parse_duration(d.get_ref()).ok())?,
        StepKind::Manual => return None,
        _ => drbook_engine::exec::steps::timeout_of(step),
    };
    let spent = (app.now - began).to_std().unwrap_or_default();
    Some(limit.saturating_sub(spent))
}

fn soonest_wait(app: &App) -> Option<(StepKey, Duration)> {
    app.board
        .runbooks
        .iter()
        .flat_map(|r| &r.steps)
        .filter(|s| {
            app.state
                .step(&s.key.runbook, &s.key.step)
                .is_some_and(|st| st.status == StepStatus::Running)
        })
        .filter_map(|s| left_of_step(app, &s.key).map(|d| (s.key.clone(), d)))
        .min_by_key(|(_, d)| *d)
}

/// The worst case by what the runbooks declare: groups one after the other, a group as long
/// as its longest runbook, a runbook as long as its unfinished steps' declared timeouts (and
/// waits) one after the other, a running step for what is left of it. A step without a
/// declared timeout is a read that takes seconds, counted as none; steps waiting on a person
/// have no timeout and are counted apart.
fn finish(app: &App) -> Option<Finish> {
    let mut total = Duration::ZERO;
    let mut untimed = 0;
    let mut any = false;
    for g in 0..app.board.groups.len() {
        let mut longest = Duration::ZERO;
        for rb in app.board.runbooks.iter().filter(|r| r.group == g) {
            let mut sum = Duration::ZERO;
            for s in &rb.steps {
                let status = app
                    .state
                    .step(&s.key.runbook, &s.key.step)
                    .map_or(StepStatus::NotStarted, |st| st.status);
                match status {
                    StepStatus::Done | StepStatus::Skipped | StepStatus::Failed => continue,
                    _ => any = true,
                }
                if s.kind == StepKind::Manual {
                    untimed += 1;
                    continue;
                }
                let declared = app.board.model_step(&s.key).is_some_and(|(_, st)| {
                    st.timeout.is_some() || *st.kind.get_ref() == StepKind::Wait
                });
                if !declared {
                    continue;
                }
                let left = if status == StepStatus::Running {
                    left_of_step(app, &s.key)
                } else {
                    app.board
                        .model_step(&s.key)
                        .map(|(_, st)| match st.kind.get_ref() {
                            StepKind::Wait => st
                                .duration
                                .as_ref()
                                .and_then(|d| parse_duration(d.get_ref()).ok())
                                .unwrap_or_default(),
                            _ => drbook_engine::exec::steps::timeout_of(st),
                        })
                };
                sum += left.unwrap_or_default();
            }
            longest = longest.max(sum);
        }
        total += longest;
    }
    let at = app.now + chrono::Duration::from_std(total).ok()?;
    any.then_some(Finish { at, untimed })
}
