//! Two logs of the same plan side by side: per step how much faster or slower the second run
//! was, what failed in one and not the other, and which runbooks' files differ between them.

use std::fmt::Write;

use serde::Serialize;

use super::analysis::Analysis;
use super::markdown::{cell, status, verdict_line};
use super::stats::{delta, opt_ms};

/// A change smaller than this fraction of the first run's duration is noise.
pub const RELATIVE_THRESHOLD: f64 = 0.20;
/// ... and so is one smaller than this, however large relatively (simulated steps take tens
/// of milliseconds, and jitter of that size says nothing).
pub const ABSOLUTE_THRESHOLD_MS: u64 = 250;

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: RunSummary,
    pub b: RunSummary,
    /// Every step of either run, in the first run's order then the second's.
    pub steps: Vec<StepDelta>,
    /// Failed in one run and not in the other.
    pub failed_in_one: Vec<StepDelta>,
    pub runbook_changes: Vec<RunbookChange>,
    /// Whole incident, B minus A.
    pub total_delta_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub log: Option<String>,
    pub incident_id: Option<String>,
    pub started: Option<chrono::DateTime<chrono::Utc>>,
    pub integrity: String,
    pub took_ms: Option<u64>,
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepDelta {
    pub runbook: String,
    pub step: String,
    pub a_status: Option<&'static str>,
    pub b_status: Option<&'static str>,
    pub a_ms: Option<u64>,
    pub b_ms: Option<u64>,
    /// B minus A.
    pub delta_ms: Option<i64>,
    /// `faster`, `slower`, `same`, `only_in_a`, `only_in_b` (not in the other's runbook),
    /// `not_run_in_a`, `not_run_in_b`, `not_timed` (neither finished with a duration).
    pub change: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunbookChange {
    pub runbook: String,
    pub a_sha256: Option<String>,
    pub b_sha256: Option<String>,
}

fn summary(a: &Analysis) -> RunSummary {
    RunSummary {
        log: a.log.clone(),
        incident_id: a.incident.as_ref().map(|i| i.id.clone()),
        started: a.incident.as_ref().and_then(|i| i.started),
        integrity: verdict_line(a),
        took_ms: a.plan.took_ms,
        verdict: a.plan.verdict.clone(),
    }
}

/// How the step's duration moved, with the thresholds above.
pub fn classify(a_ms: u64, b_ms: u64) -> &'static str {
    let d = b_ms.abs_diff(a_ms);
    if d < ABSOLUTE_THRESHOLD_MS || (d as f64) < RELATIVE_THRESHOLD * a_ms as f64 {
        "same"
    } else if b_ms > a_ms {
        "slower"
    } else {
        "faster"
    }
}

pub fn compare(a: &Analysis, b: &Analysis) -> Comparison {
    let mut keys: Vec<(String, String)> = Vec::new();
    for s in a.steps.iter().chain(&b.steps) {
        let k = (s.runbook.clone(), s.step.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let steps: Vec<StepDelta> = keys
        .into_iter()
        .map(|(rb, st)| {
            let (sa, sb) = (a.step(&rb, &st), b.step(&rb, &st));
            let timed = |s: Option<&super::analysis::StepRow>| {
                s.filter(|s| s.finished.is_some())
                    .and_then(|s| s.duration_ms)
            };
            let (a_ms, b_ms) = (timed(sa), timed(sb));
            let ran =
                |s: Option<&super::analysis::StepRow>| s.is_some_and(|s| s.status != "not_started");
            let change = match (sa, sb, a_ms, b_ms) {
                (None, _, _, _) => "only_in_b",
                (_, None, _, _) => "only_in_a",
                _ if !ran(sa) && ran(sb) => "not_run_in_a",
                _ if ran(sa) && !ran(sb) => "not_run_in_b",
                (_, _, Some(x), Some(y)) => classify(x, y),
                _ => "not_timed",
            };
            StepDelta {
                runbook: rb,
                step: st,
                a_status: sa.map(|s| s.status),
                b_status: sb.map(|s| s.status),
                a_ms,
                b_ms,
                delta_ms: a_ms.zip(b_ms).map(|(x, y)| y as i64 - x as i64),
                change,
            }
        })
        .collect();
    let failed_in_one = steps
        .iter()
        .filter(|d| (d.a_status == Some("failed")) != (d.b_status == Some("failed")))
        .cloned()
        .collect();
    let mut runbook_changes = Vec::new();
    for r in a.runbooks.iter().chain(&b.runbooks) {
        if runbook_changes
            .iter()
            .any(|c: &RunbookChange| c.runbook == r.id)
        {
            continue;
        }
        let sha = |x: &Analysis| {
            x.runbooks
                .iter()
                .find(|q| q.id == r.id)
                .and_then(|q| q.sha256.clone())
        };
        let (sa, sb) = (sha(a), sha(b));
        if sa != sb {
            runbook_changes.push(RunbookChange {
                runbook: r.id.clone(),
                a_sha256: sa,
                b_sha256: sb,
            });
        }
    }
    Comparison {
        a: summary(a),
        b: summary(b),
        total_delta_ms: a
            .plan
            .took_ms
            .zip(b.plan.took_ms)
            .map(|(x, y)| y as i64 - x as i64),
        steps,
        failed_in_one,
        runbook_changes,
    }
}

pub fn render_markdown(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Comparison of two runs\n");
    let _ = writeln!(
        o,
        "| | A | B |\n|---|---|---|\n| Log | {} | {} |\n| Incident | {} | {} |\n| Integrity | {} | {} |\n| Recovery time | {} | {} |\n| Verdict | {} | {} |\n",
        cell(c.a.log.as_deref().unwrap_or("-")),
        cell(c.b.log.as_deref().unwrap_or("-")),
        c.a.incident_id.as_deref().unwrap_or("-"),
        c.b.incident_id.as_deref().unwrap_or("-"),
        cell(&c.a.integrity),
        cell(&c.b.integrity),
        opt_ms(c.a.took_ms),
        opt_ms(c.b.took_ms),
        cell(&c.a.verdict),
        cell(&c.b.verdict),
    );
    if let Some(d) = c.total_delta_ms {
        let _ = writeln!(
            o,
            "Whole incident: B is {} than A ({}).\n",
            if d > 0 { "slower" } else { "faster or as fast" },
            delta(d)
        );
    }
    let _ = writeln!(o, "## Failed in one run and not the other\n");
    if c.failed_in_one.is_empty() {
        let _ = writeln!(o, "None.\n");
    }
    for d in &c.failed_in_one {
        let _ = writeln!(
            o,
            "- `{}/{}`: A {}, B {}",
            d.runbook,
            d.step,
            d.a_status.map_or("-".into(), status),
            d.b_status.map_or("-".into(), status)
        );
    }
    if !c.failed_in_one.is_empty() {
        o.push('\n');
    }
    let _ = writeln!(o, "## Runbooks that differ\n");
    if c.runbook_changes.is_empty() {
        let _ = writeln!(o, "None: both runs ran the same runbook files.\n");
    }
    for r in &c.runbook_changes {
        let _ = writeln!(
            o,
            "- `{}`: A sha256 `{}`, B sha256 `{}`",
            r.runbook,
            short(r.a_sha256.as_deref()),
            short(r.b_sha256.as_deref())
        );
    }
    if !c.runbook_changes.is_empty() {
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "## Steps\n\nSlower or faster means by at least {ABSOLUTE_THRESHOLD_MS} ms and {:.0}%.\n\n| Runbook | Step | A | B | Δ | Change |\n|---|---|---|---|---|---|",
        RELATIVE_THRESHOLD * 100.0
    );
    for d in &c.steps {
        let change = match d.change {
            "slower" => "**slower**",
            other => other,
        };
        let _ = writeln!(
            o,
            "| `{}` | `{}` | {} {} | {} {} | {} | {} |",
            d.runbook,
            d.step,
            d.a_status.map_or("-".into(), status),
            opt_ms(d.a_ms),
            d.b_status.map_or("-".into(), status),
            opt_ms(d.b_ms),
            d.delta_ms.map_or("-".into(), delta),
            change
                .replace('_', " ")
                .replace(" in a", " in A")
                .replace(" in b", " in B"),
        );
    }
    o.push('\n');
    // Notes, command output and errors are pasted in as written: no terminal escape survives.
    drbook_core::incident::redact::printable(&o).into_owned()
}

pub fn short(s: Option<&str>) -> String {
    s.map_or("-".into(), |s| super::stats::short_hash(s) + "…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_or_relatively_small_changes_are_the_same() {
        assert_eq!(classify(40, 60), "same");
        assert_eq!(classify(10_000, 11_000), "same");
        assert_eq!(classify(1_000, 2_000), "slower");
        assert_eq!(classify(2_000, 1_000), "faster");
    }
}
