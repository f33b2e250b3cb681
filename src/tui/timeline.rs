//! The incident timeline: one readable line per log event, and the filtered view over them.
//! Lines are formatted only for the rows on screen, so a 100,000-event log draws as fast as a
//! short one; the filter keeps a list of matching indices, extended as events arrive.

use crate::incident::event::{IncidentOutcome, Outcome, Stream, Verdict};
use crate::incident::{Event, EventKind};

/// How an event should look: its tone picks the theme style; the icon carries the meaning
/// without colour.
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

pub struct Line {
    pub time: String,
    pub actor: String,
    pub icon: &'static str,
    pub text: String,
    pub tone: Tone,
}

fn step(rb: &str, st: &str) -> String {
    format!("{rb}/{st}")
}

fn outcome(o: &Outcome) -> (&'static str, &'static str, Tone) {
    match o {
        Outcome::Ok => ("✔", "done", Tone::Ok),
        Outcome::Failed => ("✘", "FAILED", Tone::Fail),
        Outcome::Skipped => ("↷", "skipped", Tone::Muted),
        Outcome::Interrupted => ("⚠", "interrupted", Tone::Warn),
        Outcome::Finding => ("◆", "assessed", Tone::Finding),
    }
}

/// The text of one event (without time and actor).
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
        } => {
            let again = if *attempt > 1 {
                format!(" (attempt {attempt})")
            } else {
                String::new()
            };
            (
                "▶",
                format!("{} started{again}", step(runbook, st)),
                Tone::Running,
            )
        }
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
        } => {
            let s = match stream {
                Stream::Stdout => "out",
                Stream::Stderr => "err",
            };
            (
                "│",
                format!("{} {s}: {line}", step(runbook, st)),
                Tone::Muted,
            )
        }
        EventKind::ConfirmationRequested {
            runbook,
            step: st,
            prompt,
        } => (
            "?",
            format!("{} asks to confirm: {prompt}", step(runbook, st)),
            Tone::Waiting,
        ),
        EventKind::Confirmed {
            runbook,
            step: st,
            by,
            approved,
        } => {
            if *approved {
                (
                    "✓",
                    format!("{} approved by {by}", step(runbook, st)),
                    Tone::Ok,
                )
            } else {
                (
                    "✗",
                    format!("{} declined by {by}", step(runbook, st)),
                    Tone::Warn,
                )
            }
        }
        EventKind::ApprovalRequested {
            runbook,
            step: st,
            operator,
            ..
        } => (
            "?",
            format!(
                "{} awaits approval by a commander other than {operator} (two-person rule)",
                step(runbook, st)
            ),
            Tone::Waiting,
        ),
        EventKind::Approved {
            runbook,
            step: st,
            by,
            role,
            approved,
            keyboard,
        } => {
            let at = keyboard
                .as_ref()
                .map(|k| format!(" at {k}'s keyboard"))
                .unwrap_or_default();
            let (icon, word, tone) = if *approved {
                ("✓", "approved", Tone::Ok)
            } else {
                ("✗", "declined", Tone::Warn)
            };
            (
                icon,
                format!(
                    "{} two-person {word} by {by} ({}){at}",
                    step(runbook, st),
                    role.title()
                ),
                tone,
            )
        }
        EventKind::RoleTaken { operator, role } => (
            "☺",
            format!("{operator} is the {}", role.title()),
            Tone::Plain,
        ),
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
                format!(
                    "{} {word} in {}{why}",
                    step(runbook, st),
                    seconds(*duration_ms)
                ),
                tone,
            )
        }
        EventKind::StepSkipped {
            runbook,
            step: st,
            reason,
        } => (
            "↷",
            format!("{} skipped: {reason}", step(runbook, st)),
            Tone::Muted,
        ),
        EventKind::Retry {
            runbook,
            step: st,
            attempt,
            reason,
            ..
        } => (
            "↻",
            format!("{} attempt {attempt}: {reason}", step(runbook, st)),
            Tone::Warn,
        ),
        EventKind::Note {
            runbook,
            step: st,
            text,
        } => {
            let on = match (runbook, st) {
                (Some(r), Some(s)) => format!("on {}: ", step(r, s)),
                (Some(r), None) => format!("on {r}: "),
                _ => String::new(),
            };
            ("✎", format!("note {on}{text}"), Tone::Note)
        }
        EventKind::Paused { reason } => (
            "⏸",
            format!(
                "paused{}",
                reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            Tone::Warn,
        ),
        EventKind::Resumed {} => ("⏵", "resumed".into(), Tone::Plain),
        EventKind::StepClaimed {
            runbook,
            step: st,
            from,
            offline,
        } => match (from, offline) {
            (_, true) => (
                "⚑",
                format!(
                    "{} run WITHOUT A CLAIM: the share was offline (claimed when it is back)",
                    step(runbook, st)
                ),
                Tone::Warn,
            ),
            (Some(f), false) => (
                "⚑",
                format!("{} claimed, taken over from {f}", step(runbook, st)),
                Tone::Plain,
            ),
            (None, false) => ("⚑", format!("{} claimed", step(runbook, st)), Tone::Plain),
        },
        EventKind::ClaimRefused {
            runbook,
            step: st,
            reason,
            ..
        } => (
            "⚑",
            format!("{} not started: {reason}", step(runbook, st)),
            Tone::Warn,
        ),
        EventKind::AbortRequested { reason } => (
            "■",
            format!(
                "abort requested{}",
                reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            Tone::Fail,
        ),
        EventKind::RollbackStarted { runbook, reason } => (
            "⟲",
            format!(
                "{runbook} rolling back{}",
                reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
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
        EventKind::OutageStart { at, previous } => (
            "⏱",
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
            },
            Tone::Plain,
        ),
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
                format!(
                    "incident closed: {o:?}{}",
                    summary
                        .as_ref()
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default()
                ),
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

pub fn seconds(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        clock(ms / 1000)
    }
}

/// `1:02:03` or `2:03`.
pub fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

pub fn line(e: &Event) -> Line {
    let (icon, text, tone) = describe(&e.kind);
    // The same stripping as headless output and reports: ratatui drops control characters,
    // but would show the rest of an escape sequence (`]52;c;...`) as text.
    let text = crate::incident::redact::printable(&text).into_owned();
    Line {
        time: e.ts.format("%H:%M:%S").to_string(),
        actor: e.actor.clone(),
        icon,
        text,
        tone,
    }
}

/// The events, and which of them the filter lets through.
#[derive(Default)]
pub struct Timeline {
    pub events: Vec<Event>,
    filter: String,
    /// Indices into `events` that match `filter` (all of them when it is empty).
    shown: Vec<usize>,
    /// Review: only events before this index exist yet (the moment being replayed).
    end: Option<usize>,
    /// Each event's searchable text, lowercased: made at the first filter, then kept, so a
    /// keystroke in the filter scans strings instead of formatting 100,000 events again.
    haystack: Vec<String>,
}

fn haystack(e: &Event) -> String {
    let (_, text, _) = describe(&e.kind);
    format!("{}\n{}\n{}", text, e.actor, e.kind.name()).to_lowercase()
}

impl Timeline {
    pub fn new(events: Vec<Event>) -> Timeline {
        let shown = (0..events.len()).collect();
        Timeline {
            events,
            filter: String::new(),
            shown,
            end: None,
            haystack: Vec::new(),
        }
    }

    pub fn push(&mut self, e: Event) {
        if self.filter.is_empty() {
            self.shown.push(self.events.len());
        } else {
            let text = haystack(&e);
            if text.contains(&self.filter) {
                self.shown.push(self.events.len());
            }
            if self.haystack.len() == self.events.len() {
                self.haystack.push(text);
            }
        }
        self.events.push(e);
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Case-insensitive: text, actor or event kind.
    pub fn set_filter(&mut self, f: &str) {
        self.filter = f.trim().to_lowercase();
        if self.filter.is_empty() {
            self.shown = (0..self.events.len()).collect();
            return;
        }
        if self.haystack.len() < self.events.len() {
            let from = self.haystack.len();
            let more: Vec<String> = self.events[from..].iter().map(haystack).collect();
            self.haystack.extend(more);
        }
        let needle = &self.filter;
        self.shown = self
            .haystack
            .iter()
            .enumerate()
            .filter(|(_, h)| h.contains(needle.as_str()))
            .map(|(i, _)| i)
            .collect();
    }

    /// Review: show the events before index `end` only (`None`: all of them).
    pub fn set_end(&mut self, end: Option<usize>) {
        self.end = end;
    }

    /// How many of `shown` are visible (before `end`).
    fn visible(&self) -> usize {
        match self.end {
            Some(end) => self.shown.partition_point(|&i| i < end),
            None => self.shown.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.visible()
    }

    pub fn is_empty(&self) -> bool {
        self.visible() == 0
    }

    /// The `rows` events to show, newest at the bottom, `back` rows up from the newest.
    pub fn window(&self, rows: usize, back: usize) -> impl Iterator<Item = &Event> {
        let end = self.visible().saturating_sub(back);
        let start = end.saturating_sub(rows);
        self.shown[start..end].iter().map(|&i| &self.events[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ev(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            ts: chrono::Utc
                .with_ymd_and_hms(2026, 11, 25, 3, 0, seq as u32 % 60)
                .single()
                .expect("valid time"),
            actor: if seq.is_multiple_of(2) {
                "alice"
            } else {
                "drbook"
            }
            .into(),
            kind,
            prev: String::new(),
            hash: String::new(),
        }
    }

    fn note(seq: u64, text: &str) -> Event {
        ev(
            seq,
            EventKind::Note {
                runbook: None,
                step: None,
                text: text.into(),
            },
        )
    }

    #[test]
    fn the_window_ends_at_the_newest_and_scrolls_back() {
        let t = Timeline::new((1..=10).map(|i| note(i, &format!("n{i}"))).collect());
        let seqs: Vec<u64> = t.window(3, 0).map(|e| e.seq).collect();
        assert_eq!(seqs, vec![8, 9, 10]);
        let seqs: Vec<u64> = t.window(3, 2).map(|e| e.seq).collect();
        assert_eq!(seqs, vec![6, 7, 8]);
        let seqs: Vec<u64> = t.window(3, 50).map(|e| e.seq).collect();
        assert!(seqs.is_empty());
    }

    #[test]
    fn the_filter_matches_text_actor_and_kind_and_follows_new_events() {
        let mut t = Timeline::new(vec![note(1, "DNS switched"), note(2, "paging sql team")]);
        t.set_filter("SQL");
        assert_eq!(t.len(), 1);
        t.push(note(3, "sql failover done"));
        t.push(note(5, "unrelated"));
        assert_eq!(
            t.window(10, 0).map(|e| e.seq).collect::<Vec<_>>(),
            vec![2, 3]
        );
        t.set_filter("alice");
        assert_eq!(t.len(), 1, "seq 2 is alice's");
        t.set_filter("note");
        assert_eq!(t.len(), 4, "every event is a note");
        t.set_filter("");
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn a_replay_shows_only_what_had_happened() {
        let mut t = Timeline::new((1..=10).map(|i| note(i, &format!("n{i}"))).collect());
        t.set_end(Some(4));
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.window(2, 0).map(|e| e.seq).collect::<Vec<_>>(),
            vec![3, 4]
        );
        t.set_filter("n1");
        assert_eq!(t.len(), 1, "n10 is after the moment");
        t.set_end(None);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn every_line_carries_its_meaning_in_the_icon_and_text() {
        let e = ev(
            4,
            EventKind::StepFinished {
                runbook: "data-sql".into(),
                step: "failover".into(),
                outcome: Outcome::Failed,
                duration_ms: 61_500,
                outputs: Default::default(),
                error: Some("Conflict".into()),
            },
        );
        let l = line(&e);
        assert_eq!(l.icon, "✘");
        assert_eq!(l.text, "data-sql/failover FAILED in 1:01: Conflict");
        assert_eq!(l.tone, Tone::Fail);
        assert_eq!(l.time, "03:00:04");
    }
}
