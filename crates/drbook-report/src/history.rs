//! A folder of rehearsals of the same plan: the runs in start order, per-step p50 and p95
//! durations, the trend of total recovery time, and regressions flagged in the latest run (a
//! step slower than every earlier run's p95, or failing when it did not before).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::analysis::{Analysis, analyze};
use super::compare::ABSOLUTE_THRESHOLD_MS;
use super::diff::{self, Changes};
use super::error::ReportError;
use super::markdown::{cell, serde_plain, ts};
use super::stats::opt_ms;
use drbook_core::incident::RehearsalLevel;
use drbook_core::time::{compact_ms as ms, percentile};

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub dir: String,
    /// The plan id (or `runbooks:<ids>` for runs without a plan) of the newest log.
    pub plan: String,
    /// Runs of that plan, oldest first.
    pub runs: Vec<RunPoint>,
    /// Logs in the folder of other plans, and logs that could not be read, with why.
    pub ignored: Vec<Ignored>,
    pub steps: Vec<StepStats>,
    /// What the latest run did worse than the ones before it.
    pub regressions: Vec<Regression>,
    /// The runbooks changed since the last successful drill.
    pub changes: Changes,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunPoint {
    pub log: Option<String>,
    pub incident_id: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub integrity: String,
    /// How it closed (`rehearsed`, `failed`, ...); `None` if it never closed.
    pub outcome: Option<String>,
    /// Total recovery time.
    pub took_ms: Option<u64>,
    pub failed_steps: usize,
    /// The plan's verdict, as every report says it.
    pub verdict: String,
    pub recovered: bool,
    /// Why its time is kept out of the trend (failed, open, dry run, read-only, scoped);
    /// `None`: in it.
    pub left_out: Option<String>,
}

impl RunPoint {
    /// A point of the recovery-time trend.
    pub fn in_trend(&self) -> bool {
        self.left_out.is_none()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Ignored {
    pub log: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepStats {
    pub runbook: String,
    pub step: String,
    /// Runs in which it finished with a duration.
    pub timed_runs: usize,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub last_ms: Option<u64>,
    pub last_status: Option<&'static str>,
    pub failures: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub runbook: String,
    /// `None` for the whole incident's recovery time.
    pub step: Option<String>,
    /// `slower` or `newly_failing`.
    pub kind: &'static str,
    pub last_ms: Option<u64>,
    /// p95 of the runs before the latest.
    pub p95_before_ms: Option<u64>,
    pub detail: String,
}

/// Reads every `*.jsonl` in `dir` and builds the history of the plan of the newest one.
pub fn history(dir: &Path) -> Result<History, ReportError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ReportError::Io {
        path: dir.into(),
        source,
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(ReportError::NoLogs { path: dir.into() });
    }
    let mut ignored = Vec::new();
    let mut all = Vec::new();
    for p in paths {
        match analyze(&p) {
            Ok(a) if a.incident.is_some() => all.push(a),
            Ok(a) => ignored.push(Ignored {
                log: p.display().to_string(),
                why: a.integrity.message,
            }),
            Err(e) => ignored.push(Ignored {
                log: p.display().to_string(),
                why: e.to_string(),
            }),
        }
    }
    Ok(build(&dir.display().to_string(), all, ignored))
}

/// The history of `runs` (any order) of the newest run's plan. Pure.
pub fn build(dir: &str, mut runs: Vec<Analysis>, mut ignored: Vec<Ignored>) -> History {
    runs.sort_by_key(started);
    let plan = runs.last().map(Analysis::plan_key).unwrap_or_default();
    let (same, other): (Vec<_>, Vec<_>) = runs.into_iter().partition(|a| a.plan_key() == plan);
    ignored.extend(other.iter().map(|a| Ignored {
        log: a.log.clone().unwrap_or_default(),
        why: format!("another plan ({})", a.plan_key()),
    }));
    let steps = step_stats(&same);
    let regressions = regressions(&same);
    History {
        dir: dir.into(),
        plan,
        runs: same.iter().map(point).collect(),
        ignored,
        steps,
        regressions,
        changes: diff::changes_since_last_success(&same),
    }
}

fn started(a: &Analysis) -> Option<DateTime<Utc>> {
    a.incident.as_ref().and_then(|i| i.started)
}

fn point(a: &Analysis) -> RunPoint {
    RunPoint {
        log: a.log.clone(),
        incident_id: a.incident.as_ref().map(|i| i.id.clone()),
        started: started(a),
        integrity: a.integrity.verdict.clone(),
        outcome: a
            .incident
            .as_ref()
            .and_then(|i| i.closed.as_ref())
            .map(|c| serde_plain(&c.outcome)),
        took_ms: a.plan.took_ms,
        failed_steps: a.failed.len(),
        verdict: match a.plan.cleanup {
            super::verdict::CleanupStatus::NotNeeded => a.plan.verdict.clone(),
            // The verdict names a clean-up that failed or is owed itself.
            _ if a.plan.verdict.contains("clean-up") => a.plan.verdict.clone(),
            c => format!("{}; clean-up {}", a.plan.verdict, c.words()),
        },
        recovered: a.plan.recovered,
        left_out: a.left_out_of_trend().map(str::to_string),
    }
}

/// A step's duration in a run, when it finished: not in a dry run, where a step is only
/// described (milliseconds that say nothing of how long it takes).
fn timed(a: &Analysis, rb: &str, st: &str) -> Option<u64> {
    let dry = a.incident.as_ref().and_then(|i| i.level) == Some(RehearsalLevel::DryRun);
    if dry {
        return None;
    }
    a.step(rb, st)
        .filter(|s| matches!(s.status, "done" | "assessed"))
        .and_then(|s| s.duration_ms)
}

fn step_keys(runs: &[Analysis]) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for s in runs.iter().flat_map(|a| &a.steps) {
        let k = (s.runbook.clone(), s.step.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

fn step_stats(runs: &[Analysis]) -> Vec<StepStats> {
    let last = runs.last();
    step_keys(runs)
        .into_iter()
        .map(|(rb, st)| {
            let durations: Vec<u64> = runs.iter().filter_map(|a| timed(a, &rb, &st)).collect();
            let ls = last.and_then(|a| a.step(&rb, &st));
            StepStats {
                timed_runs: durations.len(),
                p50_ms: percentile(&durations, 50.0),
                p95_ms: percentile(&durations, 95.0),
                last_ms: ls.and_then(|s| s.duration_ms),
                last_status: ls.map(|s| s.status),
                failures: runs
                    .iter()
                    .filter(|a| a.step(&rb, &st).is_some_and(|s| s.status == "failed"))
                    .count(),
                runbook: rb,
                step: st,
            }
        })
        .collect()
}

/// The latest run against the ones before it. A slowdown counts only when it is also at
/// least `ABSOLUTE_THRESHOLD_MS` over the earlier p95, so jitter is not flagged.
fn regressions(runs: &[Analysis]) -> Vec<Regression> {
    let Some((last, before)) = runs.split_last() else {
        return Vec::new();
    };
    if before.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (rb, st) in step_keys(std::slice::from_ref(last)) {
        let earlier: Vec<u64> = before.iter().filter_map(|a| timed(a, &rb, &st)).collect();
        let p95 = percentile(&earlier, 95.0);
        let now = last.step(&rb, &st);
        if let (Some(l), Some(p)) = (timed(last, &rb, &st), p95)
            && l > p + ABSOLUTE_THRESHOLD_MS
        {
            out.push(Regression {
                detail: format!("took {} against a p95 of {} before", ms(l), ms(p)),
                runbook: rb.clone(),
                step: Some(st.clone()),
                kind: "slower",
                last_ms: Some(l),
                p95_before_ms: Some(p),
            });
        }
        let failed_before = before
            .last()
            .and_then(|a| a.step(&rb, &st))
            .is_some_and(|s| s.status == "failed");
        if now.is_some_and(|s| s.status == "failed") && !failed_before {
            out.push(Regression {
                detail: format!(
                    "failed: {}",
                    now.and_then(|s| s.error.clone()).unwrap_or_default()
                ),
                runbook: rb,
                step: Some(st),
                kind: "newly_failing",
                last_ms: now.and_then(|s| s.duration_ms),
                p95_before_ms: p95,
            });
        }
    }
    // Failed, open, dry-run and scoped runs took a time that is no recovery time.
    let totals: Vec<u64> = before
        .iter()
        .filter(|a| a.left_out_of_trend().is_none())
        .filter_map(|a| a.plan.took_ms)
        .collect();
    let last_total = last
        .plan
        .took_ms
        .filter(|_| last.left_out_of_trend().is_none());
    if let (Some(l), Some(p)) = (last_total, percentile(&totals, 95.0))
        && l > p + ABSOLUTE_THRESHOLD_MS
    {
        out.push(Regression {
            runbook: "(whole incident)".into(),
            step: None,
            kind: "slower",
            last_ms: Some(l),
            p95_before_ms: Some(p),
            detail: format!("recovery took {} against a p95 of {} before", ms(l), ms(p)),
        });
    }
    out
}

pub fn render_markdown(h: &History) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# History of `{}`\n", h.plan);
    let _ = writeln!(o, "{} run(s) in `{}`.\n", h.runs.len(), cell(&h.dir));
    let _ = writeln!(o, "## Regressions in the latest run\n");
    if h.runs.len() < 2 {
        let _ = writeln!(o, "Only one run: nothing to compare with yet.\n");
    } else if h.regressions.is_empty() {
        let _ = writeln!(o, "None.\n");
    }
    for r in &h.regressions {
        let what = match &r.step {
            Some(s) => format!("`{}/{}`", r.runbook, s),
            None => r.runbook.clone(),
        };
        let _ = writeln!(
            o,
            "- ⚠ {what} **{}**: {}",
            r.kind.replace('_', " "),
            r.detail
        );
    }
    if !h.regressions.is_empty() {
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "## Recovery time per run\n\n{}\n\n| Started | Incident | Outcome | Verdict | Integrity | Failed steps | Recovery time |\n|---|---|---|---|---|---|---|",
        sparkline_text(&h.runs)
    );
    for r in &h.runs {
        let took = match &r.left_out {
            Some(why) => format!("{} (not in the trend: {why})", opt_ms(r.took_ms)),
            None => opt_ms(r.took_ms),
        };
        let _ = writeln!(
            o,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            r.started.map_or("-".into(), ts),
            r.incident_id.as_deref().unwrap_or("-"),
            r.outcome.as_deref().unwrap_or("still open"),
            cell(&r.verdict),
            r.integrity,
            r.failed_steps,
            took
        );
    }
    let _ = writeln!(
        o,
        "\n## Step durations\n\n| Runbook | Step | Runs | p50 | p95 | Latest | Failures |\n|---|---|---|---|---|---|---|"
    );
    for s in &h.steps {
        let _ = writeln!(
            o,
            "| `{}` | `{}` | {} | {} | {} | {} {} | {} |",
            s.runbook,
            s.step,
            s.timed_runs,
            opt_ms(s.p50_ms),
            opt_ms(s.p95_ms),
            opt_ms(s.last_ms),
            s.last_status.unwrap_or("-"),
            s.failures
        );
    }
    o.push('\n');
    o.push_str(&diff::render_markdown(&h.changes));
    if !h.ignored.is_empty() {
        let _ = writeln!(o, "## Logs left out\n");
        for i in &h.ignored {
            let _ = writeln!(o, "- `{}`: {}", i.log, cell(&i.why));
        }
        o.push('\n');
    }
    // Notes, command output and errors are pasted in as written: no terminal escape survives.
    drbook_core::incident::redact::printable(&o).into_owned()
}

/// The trend as block characters, oldest to newest: `▂▂▇`.
pub fn sparkline_text(runs: &[RunPoint]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let vals: Vec<u64> = runs
        .iter()
        .filter(|r| r.in_trend())
        .filter_map(|r| r.took_ms)
        .collect();
    let max = vals.iter().copied().max().unwrap_or(0).max(1);
    let line: String = vals
        .iter()
        .map(|v| BARS[((*v as f64 / max as f64) * 7.0).round() as usize])
        .collect();
    let out = runs.iter().filter(|r| !r.in_trend()).count();
    if out == 0 {
        format!("Trend (oldest → newest): `{line}`")
    } else {
        format!(
            "Trend (oldest → newest): `{line}` ({out} run(s) left out: failed, open, dry-run, read-only, scoped or with its clean-up not done)"
        )
    }
}

/// Per-step durations of every run, for the HTML chart.
pub fn totals(h: &History) -> BTreeMap<usize, u64> {
    h.runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.in_trend())
        .filter_map(|(i, r)| Some((i, r.took_ms?)))
        .collect()
}
