//! The words for each incident event, in one place: the TUI's timeline and the headless
//! printer say the same thing about the same event. Plain text and an icon, no colour: the
//! `Tone` says what kind of news it is and the screen picks the style.

use chrono::{DateTime, Utc};

use super::event::{EventKind, IncidentOutcome, Outcome, Stream, Verdict};
use crate::roles::Role;

/// What kind of news an event is; the icon carries the meaning without colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Fail,
    Warn,
    Running,
    Waiting,
    Note,
    Plain,
    Muted,
    /// What an assessment found: neither success nor failure.
    Finding,
}

/// `runbook/step`.
pub fn step(rb: &str, st: &str) -> String {
    format!("{rb}/{st}")
}

/// Icon, word and tone of a step's outcome.
pub fn outcome(o: &Outcome) -> (&'static str, &'static str, Tone) {
    match o {
        Outcome::Ok => ("✔", "done", Tone::Ok),
        Outcome::Failed => ("✘", "FAILED", Tone::Fail),
        Outcome::Skipped => ("↷", "skipped", Tone::Muted),
        Outcome::Interrupted => ("⚠", "interrupted", Tone::Warn),
        Outcome::Finding => ("◆", "assessed", Tone::Finding),
    }
}

/// `net/dns started`, `net/dns started (attempt 2)`.
pub fn started(step: &str, attempt: u32) -> String {
    if attempt > 1 {
        format!("{step} started (attempt {attempt})")
    } else {
        format!("{step} started")
    }
}

pub fn confirm_asked(step: &str, prompt: &str) -> String {
    format!("{step} asks to confirm: {prompt}")
}

/// The operator's yes or no to a confirmation.
pub fn confirmed(step: &str, by: &str, yes: bool) -> (&'static str, String, Tone) {
    if yes {
        ("✓", format!("{step} confirmed by {by}"), Tone::Ok)
    } else {
        ("✗", format!("{step} declined by {by}"), Tone::Warn)
    }
}

pub fn approval_asked(step: &str, operator: &str) -> String {
    format!("{step} awaits approval by a commander other than {operator} (two-person rule)")
}

/// The second person's answer to a two-person step.
pub fn approved(
    step: &str,
    by: &str,
    role: Role,
    yes: bool,
    keyboard: Option<&str>,
) -> (&'static str, String, Tone) {
    let at = keyboard
        .map(|k| format!(" at {k}'s keyboard"))
        .unwrap_or_default();
    let (icon, word, tone) = if yes {
        ("✓", "approved", Tone::Ok)
    } else {
        ("✗", "declined", Tone::Warn)
    };
    (
        icon,
        format!("{step} two-person {word} by {by} ({}){at}", role.title()),
        tone,
    )
}

pub fn role_taken(who: &str, role: Role) -> String {
    format!("{who} is the {}", role.title())
}

pub fn output_line(step: &str, stream: Stream, line: &str) -> String {
    let s = match stream {
        Stream::Stdout => "out",
        Stream::Stderr => "err",
    };
    format!("{step} {s}: {line}")
}

/// `net/dns done in 1.2s` (what follows, the error or summary, is the caller's).
pub fn finished(step: &str, word: &str, duration_ms: u64) -> String {
    format!("{step} {word} in {}", crate::time::took(duration_ms))
}

pub fn skipped(step: &str, reason: &str) -> String {
    format!("{step} skipped: {reason}")
}

pub fn retry(step: &str, attempt: u32, reason: &str) -> String {
    format!("{step} attempt {attempt}: {reason}")
}

/// A step's claim on the share: taken, taken over from someone, or run without one.
pub fn claimed(step: &str, from: Option<&str>, offline: bool) -> (String, Tone) {
    match (from, offline) {
        (_, true) => (
            format!("{step} run WITHOUT A CLAIM: the share was offline (claimed when it is back)"),
            Tone::Warn,
        ),
        (Some(f), false) => (format!("{step} claimed, taken over from {f}"), Tone::Plain),
        (None, false) => (format!("{step} claimed"), Tone::Plain),
    }
}

pub fn claim_refused(step: &str, reason: &str) -> String {
    format!("{step} not started: {reason}")
}

fn because(reason: Option<&str>) -> String {
    reason.map(|r| format!(": {r}")).unwrap_or_default()
}

pub fn paused(reason: Option<&str>) -> String {
    format!("paused{}", because(reason))
}

pub fn abort_requested(reason: Option<&str>) -> String {
    format!("abort requested{}", because(reason))
}

/// A note, on a step or runbook when it is about one (`on net/dns: `).
pub fn note(on: Option<&str>, text: &str) -> String {
    match on {
        Some(on) => format!("note on {on}: {text}"),
        None => format!("note {text}"),
    }
}

/// When the outage began, or what it was corrected to.
pub fn outage(at: &DateTime<Utc>, previous: Option<&DateTime<Utc>>) -> String {
    match previous {
        Some(p) => format!(
            "outage start corrected to {} (was {})",
            at.format("%Y-%m-%d %H:%M:%SZ"),
            p.format("%H:%M:%SZ")
        ),
        None => format!(
            "outage began {}: the RTO counts from here",
            at.format("%Y-%m-%d %H:%M:%SZ")
        ),
    }
}

/// The icon, text (without time and actor) and tone of one logged event.
pub fn describe(kind: &EventKind) -> (&'static str, String, Tone) {
    match kind {
        EventKind::IncidentStarted(h) => (
            "●",
            format!(
                "incident {} started: {} ({:?}) on {}",
                h.incident_id, h.title, h.mode, h.target
            ),
            Tone::Plain,
        ),
        EventKind::ScopeSet {
            regions,
            components,
        } => (
            "◎",
            format!(
                "scope: {}",
                [regions.clone(), components.clone()].concat().join(", ")
            ),
            Tone::Plain,
        ),
        EventKind::StepStarted {
            runbook,
            step: st,
            attempt,
            ..
        } => ("▶", started(&step(runbook, st), *attempt), Tone::Running),
        EventKind::CheckResult {
            runbook,
            step: st,
            expected,
            actual,
            verdict,
            ..
        } => {
            let (icon, word, tone) = match verdict {
                Verdict::Pass => ("✔", "PASS", Tone::Ok),
                Verdict::Fail => ("✘", "FAIL", Tone::Fail),
                Verdict::Finding => ("◆", "finding", Tone::Finding),
                Verdict::Error => ("!", "ERROR", Tone::Fail),
            };
            (
                icon,
                format!(
                    "{} check {word}: expected {expected}, actual {actual}",
                    step(runbook, st)
                ),
                tone,
            )
        }
        EventKind::OutputLine {
            runbook,
            step: st,
            stream,
            line,
        } => (
            "│",
            output_line(&step(runbook, st), *stream, line),
            Tone::Muted,
        ),
        EventKind::ConfirmationRequested {
            runbook,
            step: st,
            prompt,
        } => (
            "?",
            confirm_asked(&step(runbook, st), prompt),
            Tone::Waiting,
        ),
        EventKind::Confirmed {
            runbook,
            step: st,
            by,
            approved: yes,
        } => confirmed(&step(runbook, st), by, *yes),
        EventKind::ApprovalRequested {
            runbook,
            step: st,
            operator,
            ..
        } => (
            "?",
            approval_asked(&step(runbook, st), operator),
            Tone::Waiting,
        ),
        EventKind::Approved {
            runbook,
            step: st,
            by,
            role,
            approved: yes,
            keyboard,
        } => approved(&step(runbook, st), by, *role, *yes, keyboard.as_deref()),
        EventKind::RoleTaken { operator, role } => ("☺", role_taken(operator, *role), Tone::Plain),
        EventKind::StepFinished {
            runbook,
            step: st,
            outcome: o,
            duration_ms,
            error,
            outputs,
        } => {
            let (icon, word, tone) = outcome(o);
            let why = error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
            let why = match outputs.get("finding") {
                Some(f) if *o == Outcome::Finding => format!("{why}: finding: {f}"),
                _ => why,
            };
            (
                icon,
                format!("{}{why}", finished(&step(runbook, st), word, *duration_ms)),
                tone,
            )
        }
        EventKind::StepSkipped {
            runbook,
            step: st,
            reason,
        } => ("↷", skipped(&step(runbook, st), reason), Tone::Muted),
        EventKind::Retry {
            runbook,
            step: st,
            attempt,
            reason,
            ..
        } => ("↻", retry(&step(runbook, st), *attempt, reason), Tone::Warn),
        EventKind::Note {
            runbook,
            step: st,
            text,
        } => {
            let on = match (runbook, st) {
                (Some(r), Some(s)) => Some(step(r, s)),
                (Some(r), None) => Some(r.clone()),
                _ => None,
            };
            ("✎", note(on.as_deref(), text), Tone::Note)
        }
        EventKind::Paused { reason } => ("⏸", paused(reason.as_deref()), Tone::Warn),
        EventKind::Resumed {} => ("⏵", "resumed".into(), Tone::Plain),
        EventKind::StepClaimed {
            runbook,
            step: st,
            from,
            offline,
        } => {
            let (text, tone) = claimed(&step(runbook, st), from.as_deref(), *offline);
            ("⚑", text, tone)
        }
        EventKind::ClaimRefused {
            runbook,
            step: st,
            reason,
            ..
        } => ("⚑", claim_refused(&step(runbook, st), reason), Tone::Warn),
        EventKind::AbortRequested { reason } => {
            ("■", abort_requested(reason.as_deref()), Tone::Fail)
        }
        EventKind::RollbackStarted { runbook, reason } => (
            "⟲",
            format!("{runbook} rolling back{}", because(reason.as_deref())),
            Tone::Warn,
        ),
        EventKind::CleanupStarted { runbook, .. } => {
            ("⟲", format!("{runbook} clean-up started"), Tone::Plain)
        }
        EventKind::CleanupFinished {
            runbook,
            outcome: o,
            error,
        } => {
            let (icon, word, tone) = outcome(o);
            let why = error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
            (icon, format!("{runbook} clean-up {word}{why}"), tone)
        }
        EventKind::IncidentResumed {
            by,
            interrupted,
            reopened,
        } => {
            let what = if interrupted.is_empty() {
                String::new()
            } else {
                format!(
                    "; interrupted: {}",
                    interrupted
                        .iter()
                        .map(|s| step(&s.runbook, &s.step))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let how = match reopened {
                Some(o) => format!(
                    "closed incident ({}) reopened",
                    serde_json::to_value(o)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
                None => "incident resumed".to_string(),
            };
            ("⟳", format!("{how} by {by}{what}"), Tone::Warn)
        }
        EventKind::OutageStart { at, previous } => {
            ("⏱", outage(at, previous.as_ref()), Tone::Plain)
        }
        EventKind::LogRecovered {
            line,
            dropped_bytes,
        } => (
            "⚠",
            format!("torn line {line} cut off ({dropped_bytes} bytes) after a crash"),
            Tone::Warn,
        ),
        EventKind::IncidentClosed {
            outcome: o,
            summary,
        } => {
            let tone = match o {
                IncidentOutcome::Failed | IncidentOutcome::Aborted => Tone::Fail,
                _ => Tone::Ok,
            };
            (
                "■",
                format!("incident closed: {o:?}{}", because(summary.as_deref())),
                tone,
            )
        }
        EventKind::Unknown { event, .. } => (
            "·",
            format!("{event} (written by a newer drbook)"),
            Tone::Muted,
        ),
    }
}
