//! The Markdown reports: a postmortem-ready document for one log, and the comparison and
//! history documents. Plain GitHub-flavoured Markdown (tables, no HTML) so it pastes into a
//! wiki or an issue as is.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::analysis::{Analysis, StepRow};
use super::stats::opt_ms;
use drbook_core::incident::StepRef;
use drbook_core::time::compact_ms as ms;

/// The postmortem document for one log.
pub fn render(a: &Analysis) -> String {
    let mut o = String::new();
    let title = a
        .incident
        .as_ref()
        .map_or("(no header)", |i| i.title.as_str());
    let _ = writeln!(o, "# Postmortem: {}\n", cell(title));
    // What a reader of a postmortem asks first: did it recover, and against which targets.
    // Never "RECOVERED" beside a verdict that says otherwise.
    let word = if a.plan.recovered && !a.plan.verdict.starts_with("NOT RECOVERED") {
        "RECOVERED"
    } else {
        "NOT RECOVERED"
    };
    let why = a
        .plan
        .verdict
        .strip_prefix("NOT RECOVERED: ")
        .or_else(|| a.plan.verdict.strip_prefix("RECOVERED; "))
        .unwrap_or(&a.plan.verdict);
    let _ = writeln!(o, "**Verdict:** **{word}** — {}\n", cell(why));
    targets(&mut o, a);
    let _ = writeln!(o, "**Log integrity:** {}\n", verdict_line(a));
    summary(&mut o, a);
    timeline(&mut o, a);
    step_list(&mut o, a, "Failed steps", &a.failed, |s| {
        let went_on = if s.stops_on_failure == Some(false) {
            " (`on_failure = \"continue\"`: the runbook went on)"
        } else {
            ""
        };
        format!("{}{went_on}", s.error.as_deref().unwrap_or("failed"))
    });
    // What the assessments found (the failed region down) is the expected picture, not a
    // failure: its own section, never under "Failed steps" (none without assessments).
    if !a.findings.is_empty() {
        step_list(&mut o, a, "Findings", &a.findings, |s| {
            format!("finding: {}", s.finding.as_deref().unwrap_or("assessed"))
        });
    }
    step_list(&mut o, a, "Skipped steps", &a.skipped, |s| {
        s.skip_reason.clone().unwrap_or_else(|| "skipped".into())
    });
    step_list(&mut o, a, "Retried steps", &a.retried, |s| {
        let mut reasons: Vec<(&str, usize)> = Vec::new();
        for r in &s.retries {
            match reasons.last_mut() {
                Some((last, n)) if *last == r.reason => *n += 1,
                _ => reasons.push((&r.reason, 1)),
            }
        }
        let reasons: Vec<String> = reasons
            .iter()
            .map(|(r, n)| {
                if *n > 1 {
                    format!("{r} (×{n})")
                } else {
                    r.to_string()
                }
            })
            .collect();
        format!(
            "{} attempts; retried after: {}",
            s.attempts,
            reasons.join("; ")
        )
    });
    cleanups(&mut o, a);
    notes(&mut o, a);
    critical(&mut o, a);
    waits(&mut o, a);
    integrity(&mut o, a);
    // Notes, command output and errors are pasted in as written: no terminal escape survives.
    drbook_core::incident::redact::printable(&o).into_owned()
}

/// A one-line verdict with a mark that survives plain text.
pub fn verdict_line(a: &Analysis) -> String {
    let mark = match a.integrity.verdict.as_str() {
        "intact" => "✅",
        "truncated" => "⚠️",
        _ => "❌",
    };
    match &a.integrity.head {
        // The head pins the log up to there: quoted in the ticket, a log later cut short or
        // re-chained no longer matches it.
        Some(h) => format!("{mark} {} · head `{h}`", a.integrity.message),
        None => format!("{mark} {}", a.integrity.message),
    }
}

fn summary(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## Summary\n\n| | |\n|---|---|");
    if let Some(i) = &a.incident {
        let mode = match (i.mode, i.level) {
            (drbook_core::incident::Mode::Live, _) => "live incident".to_string(),
            (_, Some(l)) => format!("rehearsal ({})", serde_plain(&l)),
            (_, None) => "rehearsal".into(),
        };
        row(o, "Incident", &format!("`{}`", i.id));
        row(o, "Mode", &mode);
        row(o, "Target", &i.target);
        row(
            o,
            "Plan",
            i.plan.as_deref().unwrap_or("(runbooks without a plan)"),
        );
        if let Some(at) = i.outage_since {
            row(
                o,
                "Outage began",
                &format!("{} (the RTO counts from here)", ts(at)),
            );
        }
        row(o, "Started", &i.started.map_or("-".into(), ts));
        let ended = match &i.closed {
            Some(c) => format!("{} — closed as **{}**", ts(c.ts), serde_plain(&c.outcome)),
            None => format!(
                "still open: the log ends at {}",
                i.last_event.map_or("-".into(), ts)
            ),
        };
        row(o, "Ended", &ended);
        if let Some(s) = i.closed.as_ref().and_then(|c| c.summary.as_deref()) {
            row(o, "Closing summary", s);
        }
        if i.paused_ms > 0 {
            row(o, "Paused", &ms(i.paused_ms));
        }
        if i.resumes > 0 {
            row(
                o,
                "Resumed",
                &format!("{} time(s) after drbook stopped", i.resumes),
            );
        }
        if i.auto_approve {
            row(o, "Confirmations", "auto-approved (`--auto-approve`)");
        }
    }
    row(
        o,
        "Recovery time",
        &format!("{} — {}", opt_ms(a.plan.took_ms), a.plan.verdict),
    );
    // The recovery's steps: clean-up steps are counted in their own section, not here.
    let count = |f: &dyn Fn(&super::analysis::StepRow) -> bool| {
        a.steps.iter().filter(|s| !s.cleanup && f(s)).count()
    };
    row(
        o,
        "Steps",
        &format!(
            "{} done, {}{} failed, {} skipped, {} retried, of {}",
            count(&|s| s.status == "done"),
            match count(&|s| s.status == "assessed") {
                0 => String::new(),
                n => format!("{n} findings, "),
            },
            count(&|s| s.status == "failed"),
            count(&|s| s.status == "skipped"),
            count(&|s| s.attempts > 1 || !s.retries.is_empty()),
            a.plan.steps_total.map_or(
                "an unknown number (the log does not list every runbook's steps)".into(),
                |t| t.to_string()
            )
        ),
    );
    let operators: Vec<String> = a
        .operators
        .iter()
        .map(|op| match a.roles.get(op) {
            Some(r) => format!("{op} ({r})"),
            None => op.clone(),
        })
        .collect();
    row(o, "Operators", &operators.join(", "));
    if let Some(i) = &a.incident {
        row(o, "drbook", &i.drbook_version);
    }
    o.push('\n');
}

fn targets(o: &mut String, a: &Analysis) {
    let _ = writeln!(
        o,
        "## RTO and RPO\n\n| Runbook | Steps | Took | RTO target | Verdict | RPO target | RPO achieved |\n|---|---|---|---|---|---|---|"
    );
    for r in &a.runbooks {
        let verdict = if r.within_rto == Some(false) || !r.recovered {
            format!("**{}**", r.verdict)
        } else {
            r.verdict.clone()
        };
        let rpo = match (r.rpo_achieved_ms, r.within_rpo, &r.rpo_measured_by) {
            (Some(got), within, by) => {
                let by = by
                    .as_deref()
                    .map(|b| format!(" (`{b}`)"))
                    .unwrap_or_default();
                match within {
                    Some(false) => format!("**{} — OVER RPO**{by}", ms(got)),
                    Some(true) => format!("{} — within RPO{by}", ms(got)),
                    None => format!("{}{by}", ms(got)),
                }
            }
            (None, ..) if r.rpo_target.is_some() => "not measured".into(),
            (None, ..) => "-".into(),
        };
        let _ = writeln!(
            o,
            "| `{}` | {}/{} | {} | {} | {} | {} | {} |",
            r.id,
            r.steps_done,
            r.steps_total.map_or("?".into(), |t| t.to_string()),
            opt_ms(r.took_ms),
            r.rto_target.as_deref().unwrap_or("-"),
            cell(&verdict),
            r.rpo_target.as_deref().unwrap_or("-"),
            cell(&rpo),
        );
    }
    let _ = writeln!(
        o,
        "| **whole incident** | {}/{} | {} | {} | {} | | |\n",
        a.plan.steps_done,
        a.plan.steps_total.map_or("?".into(), |t| t.to_string()),
        opt_ms(a.plan.took_ms),
        a.plan.rto_target.as_deref().unwrap_or("-"),
        cell(&a.plan.verdict)
    );
    let from = match a.incident.as_ref().and_then(|i| i.outage_since) {
        Some(at) => format!("from the outage start ({})", ts(at)),
        None => {
            "from each runbook's first step (no outage start was logged; `--since` sets one)".into()
        }
    };
    let _ = writeln!(
        o,
        "Times count {from}. RPO achieved: the data-loss window a data runbook measured (`rpo_achieved`), up to the outage start.\n"
    );
}

fn timeline(o: &mut String, a: &Analysis) {
    let start = a.span().map(|(s, _)| s);
    let _ = writeln!(
        o,
        "## Timeline\n\n| Start (UTC) | + | Runbook | Step | Status | Duration | Attempts | By | Waited on a person |\n|---|---|---|---|---|---|---|---|---|"
    );
    for s in &a.steps {
        let by = s
            .confirmed_by
            .as_deref()
            .map(|c| {
                let said = if s.confirmed == Some(false) {
                    "declined"
                } else {
                    "confirmed"
                };
                format!("{said} by {c}")
            })
            .or_else(|| s.acted_by.clone());
        // The second person of a two-person step, beside whoever confirmed or did it.
        let by = match (by, &s.approval) {
            (Some(b), Some(a)) => format!("{b}; {a}"),
            (b, a) => b.or_else(|| a.clone()).unwrap_or_default(),
        };
        let offset = match (start, s.started) {
            (Some(t0), Some(t)) => {
                format!(
                    "+{}",
                    ms(u64::try_from((t - t0).num_milliseconds()).unwrap_or(0))
                )
            }
            _ => String::new(),
        };
        let crit = if s.on_critical_path { " ◆" } else { "" };
        let _ = writeln!(
            o,
            "| {} | {} | `{}` | {}{} | {} | {} | {} | {} | {} |",
            s.started.map_or("-".into(), time),
            offset,
            s.runbook,
            step_name(s),
            crit,
            status(s.status),
            opt_ms(s.duration_ms),
            s.attempts,
            cell(&by),
            s.human_wait_ms.map_or(String::new(), ms),
        );
    }
    let _ = writeln!(o, "\n◆ on the critical path.\n");
}

fn step_list(
    o: &mut String,
    a: &Analysis,
    heading: &str,
    refs: &[StepRef],
    why: impl Fn(&StepRow) -> String,
) {
    let _ = writeln!(o, "## {heading}\n");
    if refs.is_empty() {
        let _ = writeln!(o, "None.\n");
        return;
    }
    for r in refs {
        match a.step(&r.runbook, &r.step) {
            Some(s) => {
                // One line per item: an error's own line breaks would end the list item.
                let why = why(s).replace('\n', " ");
                let _ = writeln!(o, "- `{}/{}` {}: {why}", r.runbook, r.step, title(s));
            }
            None => {
                let _ = writeln!(o, "- `{}/{}`", r.runbook, r.step);
            }
        }
    }
    o.push('\n');
}

/// A rehearsal's clean-up, when one ran: what each step undid and how it ended. Clean-up
/// comes after the recovery, so its time is not the recovery's.
fn cleanups(o: &mut String, a: &Analysis) {
    if a.cleanups.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "## Clean-up\n\n| Runbook | Clean-up step | Undoes | Outcome | Finished (UTC) | By | Why |\n|---|---|---|---|---|---|---|"
    );
    for c in &a.cleanups {
        let outcome = match c.outcome {
            "done" => "✅ done",
            "failed" => "❌ FAILED",
            "skipped" => "⚠️ NOT DONE (skipped)",
            _ => "⚠️ NOT DONE (did not run)",
        };
        let _ = writeln!(
            o,
            "| `{}` | `{}` | {} | {} | {} | {} | {} |",
            c.runbook,
            c.step,
            c.undoes
                .as_deref()
                .map_or("-".to_string(), |u| format!("`{u}`")),
            outcome,
            c.finished.map_or("-".into(), time),
            cell(c.by.as_deref().unwrap_or("-")),
            cell(&c.reason.clone().unwrap_or_default().replace('\n', " ")),
        );
    }
    let left = a.cleanups.iter().filter(|c| c.outcome != "done").count();
    if left > 0 {
        let _ = writeln!(
            o,
            "\n**{left} clean-up step(s) not done:** what they undo is still changed; check those resources by hand.\n"
        );
    } else {
        o.push('\n');
    }
}

fn notes(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## Notes\n");
    if a.notes.is_empty() {
        let _ = writeln!(o, "None.\n");
        return;
    }
    for n in &a.notes {
        let about = match (&n.runbook, &n.step) {
            (Some(r), Some(s)) => format!(" on `{r}/{s}`"),
            (Some(r), None) => format!(" on `{r}`"),
            _ => String::new(),
        };
        let _ = writeln!(o, "- {} **{}**{}: {}", time(n.ts), n.actor, about, n.text);
    }
    o.push('\n');
}

fn critical(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## Critical path\n");
    if a.critical_path.is_empty() {
        let _ = writeln!(o, "No step finished.\n");
        return;
    }
    let _ = writeln!(o, "The chain of steps that set the finish time:\n");
    for (i, r) in a.critical_path.iter().enumerate() {
        let how = match a.step(&r.runbook, &r.step) {
            Some(s) if s.status == "done" => opt_ms(s.duration_ms),
            Some(s) => format!("{} {}", s.status.replace('_', " "), opt_ms(s.duration_ms)),
            None => "-".into(),
        };
        let _ = writeln!(o, "{}. `{}/{}` ({how})", i + 1, r.runbook, r.step);
    }
    o.push('\n');
}

fn waits(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## Longest waits on a person\n");
    if a.human_waits.is_empty() {
        let _ = writeln!(
            o,
            "None: no confirmation or manual step waited on anyone.\n"
        );
        return;
    }
    for w in &a.human_waits {
        let who = w
            .who
            .as_deref()
            .map(|w| format!(", {w}"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "- `{}/{}`: {} ({}{})",
            w.runbook,
            w.step,
            ms(w.ms),
            w.what,
            who
        );
    }
    o.push('\n');
}

fn integrity(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## Integrity\n");
    let _ = writeln!(o, "- Log: {}", verdict_line(a));
    if let Some(anchor) = &a.integrity.anchor {
        let _ = writeln!(o, "- Shared timeline: {anchor}");
    }
    if !a.integrity.trustworthy {
        let _ = writeln!(
            o,
            "- This report is built from the {} events before the alteration only.",
            a.integrity.events_used
        );
    }
    for r in &a.runbooks {
        let file = r.file.as_deref().unwrap_or("?");
        let sha = r
            .sha256
            .as_deref()
            .map_or_else(|| "-".into(), super::stats::short_hash);
        let _ = writeln!(
            o,
            "- Runbook `{}` (`{}`, sha256 `{}…`): {}",
            r.id, file, sha, r.file_status
        );
    }
    o.push('\n');
}

fn row(o: &mut String, k: &str, v: &str) {
    let _ = writeln!(o, "| {k} | {} |", cell(v));
}

fn step_name(s: &StepRow) -> String {
    match &s.title {
        Some(t) => format!("`{}` {}", s.step, cell(t)),
        None => format!("`{}`", s.step),
    }
}

fn title(s: &StepRow) -> String {
    s.title
        .as_deref()
        .map(|t| format!("({t})"))
        .unwrap_or_default()
}

/// A status word with a mark readable in plain text and in colour-blind eyes.
pub fn status(s: &str) -> String {
    let mark = match s {
        "done" => "✔",
        "assessed" => "◆",
        "failed" => "✘",
        "skipped" => "↷",
        "interrupted" => "⚡",
        "not_started" => "·",
        _ => "…",
    };
    format!("{mark} {}", s.replace('_', " "))
}

/// Table cells cannot hold pipes or newlines.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn time(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S%.3f").to_string()
}

/// An enum's serde name (`rehearsed`, `dry-run`).
pub fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
