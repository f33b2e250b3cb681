//! Recovery time against the RTO, per runbook and for the whole incident, from the incident
//! state (the fold of the log), so a live run, a resumed one and a replayed one agree.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::incident::{IncidentState, StepStatus};
use crate::runbook::validate::parse_duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub rto: Option<Duration>,
    /// From its first step's start (or from when the outage began, when the log says) to its
    /// last step's end.
    pub took: Option<Duration>,
    pub steps_done: usize,
    pub steps_total: usize,
    /// Steps that ended failed (or were interrupted and not resumed).
    pub steps_failed: usize,
    /// Steps done or deliberately skipped: a runbook is recovered only when all of them are.
    pub steps_settled: usize,
}

impl Row {
    /// Whether every step is done or deliberately skipped: only then is the time taken a
    /// recovery time, to be held against the RTO.
    pub fn recovered(&self) -> bool {
        self.steps_failed == 0 && self.steps_settled >= self.steps_total && self.steps_total > 0
    }

    pub fn verdict(&self) -> String {
        if self.took.is_some() && self.steps_failed > 0 {
            return format!("NOT RECOVERED: {} failed", self.steps_failed);
        }
        if self.took.is_some() && !self.recovered() {
            return format!(
                "not finished: {} of {} done or skipped",
                self.steps_settled, self.steps_total
            );
        }
        match (self.took, self.rto) {
            (None, _) => "not started".into(),
            (Some(_), None) => "no RTO set".into(),
            (Some(t), Some(r)) if t <= r => format!(
                "within RTO ({:.0}% used)",
                100.0 * t.as_secs_f64() / r.as_secs_f64().max(0.001)
            ),
            (Some(t), Some(r)) => {
                format!("OVER RTO by {}", humantime::format_duration(round(t - r)))
            }
        }
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64 / 100 * 100)
}

/// One row per runbook of the state, then the incident's total against `plan_rto`.
pub fn scorecard(
    state: &IncidentState,
    rtos: &BTreeMap<String, String>,
    plan_rto: Option<&str>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let (mut first, mut last) = (None, None);
    for rb in &state.runbooks {
        let start = rb.steps.iter().filter_map(|s| s.started).min();
        // The RTO counts from the outage, not from when drbook was started.
        let start = start.map(|s| state.outage_since.unwrap_or(s));
        let end = rb.steps.iter().filter_map(|s| s.finished).max();
        if let Some(s) = start {
            first = Some(first.map_or(s, |f: chrono::DateTime<chrono::Utc>| f.min(s)));
        }
        if let Some(e) = end {
            last = Some(last.map_or(e, |l: chrono::DateTime<chrono::Utc>| l.max(e)));
        }
        let done = rb.steps.iter().filter(|s| s.finished.is_some()).count();
        let failed = rb
            .steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Failed | StepStatus::Interrupted))
            .count();
        let settled = rb
            .steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Done | StepStatus::Skipped))
            .count();
        rows.push(Row {
            name: rb.id.clone(),
            rto: rtos.get(&rb.id).and_then(|r| parse_duration(r).ok()),
            took: start.zip(end).and_then(|(s, e)| (e - s).to_std().ok()),
            steps_done: done,
            steps_total: rb.steps.len(),
            steps_failed: failed,
            steps_settled: settled,
        });
    }
    rows.push(Row {
        name: "whole incident".into(),
        rto: plan_rto.and_then(|r| parse_duration(r).ok()),
        took: first.zip(last).and_then(|(s, e)| (e - s).to_std().ok()),
        steps_done: rows.iter().map(|r| r.steps_done).sum(),
        steps_total: rows.iter().map(|r| r.steps_total).sum(),
        steps_failed: rows.iter().map(|r| r.steps_failed).sum(),
        steps_settled: rows.iter().map(|r| r.steps_settled).sum(),
    });
    rows
}

/// The scorecard as text.
pub fn render(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<28} {:>8} {:>10} {:>7}  {}\n",
        "runbook", "RTO", "took", "steps", "verdict"
    );
    for r in rows {
        let rto = r
            .rto
            .map_or("-".into(), |d| humantime::format_duration(d).to_string());
        let took = r
            .took
            .map_or("-".into(), |d| format!("{:.1}s", d.as_secs_f64()));
        out.push_str(&format!(
            "{:<28} {:>8} {:>10} {:>7}  {}\n",
            r.name,
            rto,
            took,
            format!("{}/{}", r.steps_done, r.steps_total),
            r.verdict()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_compare_time_taken_with_the_rto() {
        let row = |took: Option<u64>, rto: Option<u64>| Row {
            name: "x".into(),
            rto: rto.map(Duration::from_secs),
            took: took.map(Duration::from_secs),
            steps_done: 1,
            steps_total: 1,
            steps_failed: 0,
            steps_settled: 1,
        };
        assert_eq!(row(Some(60), Some(600)).verdict(), "within RTO (10% used)");
        assert_eq!(row(Some(900), Some(600)).verdict(), "OVER RTO by 5m");
        assert_eq!(row(None, Some(600)).verdict(), "not started");
        assert_eq!(row(Some(1), None).verdict(), "no RTO set");
    }

    /// "within RTO" is said only of a recovered runbook: one with a failed step, or with steps
    /// neither done nor skipped, says so however little time it took.
    #[test]
    fn only_a_recovered_runbook_is_within_its_rto() {
        let stopped = Row {
            name: "x".into(),
            rto: Some(Duration::from_secs(600)),
            took: Some(Duration::from_secs(10)),
            steps_done: 6,
            steps_total: 14,
            steps_failed: 1,
            steps_settled: 5,
        };
        assert!(!stopped.recovered());
        assert_eq!(stopped.verdict(), "NOT RECOVERED: 1 failed");
        let unfinished = Row {
            steps_failed: 0,
            ..stopped.clone()
        };
        assert_eq!(
            unfinished.verdict(),
            "not finished: 5 of 14 done or skipped"
        );
        let done = Row {
            steps_failed: 0,
            steps_settled: 14,
            ..stopped
        };
        assert!(done.recovered());
        assert_eq!(done.verdict(), "within RTO (2% used)");
    }
}
