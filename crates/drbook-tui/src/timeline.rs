//! The incident timeline: one readable line per log event, and the filtered view over them.
//! Lines are formatted only for the rows on screen, so a 100,000-event log draws as fast as a
//! short one; the filter keeps a list of matching indices, extended as events arrive.

use drbook_core::incident::Event;
pub use drbook_core::incident::wording::{Tone, describe};
pub use drbook_core::time::clock;

pub struct Line {
    pub time: String,
    pub actor: String,
    pub icon: &'static str,
    pub text: String,
    pub tone: Tone,
}

pub fn line(e: &Event) -> Line {
    let (icon, text, tone) = describe(&e.kind);
    // The same stripping as headless output and reports: ratatui drops control characters,
    // but would show the rest of an escape sequence (`]52;c;...`) as text.
    let text = drbook_core::incident::redact::printable(&text).into_owned();
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
    use drbook_core::incident::EventKind;
    use drbook_core::incident::event::Outcome;

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
