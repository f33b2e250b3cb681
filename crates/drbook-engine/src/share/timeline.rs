//! Reading a shared timeline back (the blob, or a drbook's `.shared.ndjson` copy of it) for
//! `review` and `report`: each writer's events checked against its own hash chain, then
//! merged in the share's order into one list that the local-log readers understand.
//!
//! The merge is a view, not a log: events are renumbered in share order, a writer's own
//! header after the first becomes a note that says who joined, and the skips of a step
//! another drbook held ("not claimed: ...") are left out, so a step shows what its holder
//! did. Each writer's local log stays the record of what that drbook did.

use std::collections::BTreeMap;
use std::path::Path;

use super::record::{Body, Record};
use drbook_core::incident::chain::{self, GENESIS, Head, Integrity, KEY_ENV, LogKey};
use drbook_core::incident::event::format_ts;
use drbook_core::incident::{Event, EventKind, LogError};

/// One writer on the shared timeline, and what its chain check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Writer {
    pub sid: String,
    pub op: String,
    pub role: String,
    /// Its events that can be trusted (before the first problem).
    pub events: usize,
    pub integrity: Integrity,
    /// It said goodbye (`left`): it shared everything it had when it stopped.
    pub left: bool,
    /// Its last trusted event: what the share anchors of that drbook's local log.
    pub head: Option<Head>,
}

/// The shared timeline merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub events: Vec<Event>,
    /// Intact when every writer's chain is; else where the first problem is, by writer.
    pub integrity: Integrity,
    /// In order of first appearance.
    pub writers: Vec<Writer>,
    /// Lines that are not drbook records (another tool's, or torn).
    pub foreign_lines: usize,
}

impl Merged {
    /// One line on the writers, as `review` and `report` show it.
    pub fn summary(&self) -> String {
        let who: Vec<String> = self
            .writers
            .iter()
            .map(|w| {
                let state = match &w.integrity {
                    Integrity::Intact { .. } => "intact".to_string(),
                    other => other.to_string(),
                };
                let left = if w.left { "" } else { ", did not leave" };
                let head = w
                    .head
                    .as_ref()
                    .map_or_else(String::new, |h| format!(", head {h}"));
                format!("{} ({} events, {state}{left}{head})", w.op, w.events)
            })
            .collect();
        let foreign = match self.foreign_lines {
            0 => String::new(),
            n => format!("; {n} line(s) that are not drbook records skipped"),
        };
        format!(
            "shared timeline of {} drbook(s), each chain checked: {}{foreign}",
            self.writers.len(),
            who.join("; ")
        )
    }
}

/// Whether `bytes` look like a shared timeline: its first line is a drbook share record.
pub fn is_shared(bytes: &[u8]) -> bool {
    bytes
        .split(|b| *b == b'\n')
        .find(|l| !l.is_empty())
        .is_some_and(|l| serde_json::from_slice::<Record>(l).is_ok())
}

/// A writer's chain, checked event by event as its records come.
struct Chain<'k> {
    writer: Writer,
    prev: String,
    /// How its lines are hashed, from its header: `None` before the header, or for a keyed
    /// chain without its key (then only the links are checked).
    key: Option<Option<&'k LogKey>>,
    /// A keyed chain that could not be checked, and why.
    unverified: Option<String>,
    /// The first problem: (seq, share line, reason).
    broken: Option<(u64, usize, String)>,
}

impl<'k> Chain<'k> {
    /// Checks `ev` (share line `line`) against the chain so far; `true` if it is trusted.
    fn accept(&mut self, ev: &Event, line: usize, key: Option<&'k LogKey>) -> bool {
        if self.broken.is_some() {
            return false;
        }
        if let EventKind::IncidentStarted(h) = &ev.kind
            && ev.seq == 1
        {
            self.key = Some(match &h.keyed {
                None => None,
                Some(k) if key.is_some_and(|key| key.id() == k.key_id) => key,
                Some(_) => {
                    self.unverified = Some(format!("not verified without its {KEY_ENV}"));
                    None
                }
            });
        }
        let want = self.writer.events as u64 + 1;
        let problem = if ev.seq != want {
            Some(format!("event {want} expected, {} found", ev.seq))
        } else if ev.prev != self.prev {
            Some("its `prev` is not the hash of the writer's event before".to_string())
        } else if (ev.seq == 1) != matches!(ev.kind, EventKind::IncidentStarted(_)) {
            Some("the header must come first, and only first".to_string())
        } else if self.unverified.is_none() && !hash_holds(ev, self.key.flatten()) {
            Some("its content does not match its hash".to_string())
        } else {
            None
        };
        match problem {
            Some(reason) => {
                self.broken = Some((want, line, reason));
                false
            }
            None => {
                self.writer.events += 1;
                self.writer.head = Some(Head::at(ev));
                self.prev.clone_from(&ev.hash);
                true
            }
        }
    }

    fn finish(mut self) -> Writer {
        self.writer.integrity = match (self.broken, self.unverified) {
            (Some((first_bad_seq, line, reason)), _) => Integrity::Altered {
                first_bad_seq,
                line,
                reason,
            },
            (None, Some(reason)) => Integrity::Unverified {
                events: self.writer.events,
                keyed: true,
                reason,
            },
            (None, None) => Integrity::Intact {
                events: self.writer.events,
            },
        };
        self.writer
    }
}

/// The local line's canonical body, rebuilt from the event (the log's encoding is
/// deterministic), hashes to the hash the line claims.
fn hash_holds(ev: &Event, key: Option<&LogKey>) -> bool {
    chain::body(ev.seq, &format_ts(&ev.ts), &ev.actor, &ev.kind, &ev.prev)
        .is_ok_and(|b| chain::line_hash(b.as_bytes(), key) == ev.hash)
}

/// Merges the shared timeline in `bytes`.
pub fn merge(bytes: &[u8]) -> Merged {
    merge_with(bytes, None)
}

/// `merge`, checking keyed writers' chains with `key`.
pub fn merge_with(bytes: &[u8], key: Option<&LogKey>) -> Merged {
    let mut chains: BTreeMap<String, Chain> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut events = Vec::new();
    let mut foreign_lines = 0;
    let mut first_header = true;
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let Ok(rec) = serde_json::from_slice::<Record>(line) else {
            foreign_lines += 1;
            continue;
        };
        let chain = chains.entry(rec.sid.clone()).or_insert_with(|| {
            order.push(rec.sid.clone());
            Chain {
                writer: Writer {
                    sid: rec.sid.clone(),
                    op: rec.op.clone(),
                    role: rec.role.clone(),
                    events: 0,
                    integrity: Integrity::Intact { events: 0 },
                    left: false,
                    head: None,
                },
                prev: GENESIS.to_string(),
                key: None,
                unverified: None,
                broken: None,
            }
        });
        chain.writer.role.clone_from(&rec.role);
        match &rec.body {
            Body::Left { .. } => chain.writer.left = true,
            Body::Event { .. } => {
                let Some(ev) = rec.event() else {
                    chain.broken.get_or_insert((
                        chain.writer.events as u64 + 1,
                        n + 1,
                        "an event that cannot be read".into(),
                    ));
                    continue;
                };
                if !chain.accept(&ev, n + 1, key) {
                    continue;
                }
                if let Some(ev) = as_merged(ev, &rec.op, &mut first_header) {
                    events.push(ev);
                }
            }
            Body::Claim { .. } | Body::Alive { .. } => {}
        }
    }
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
    }
    let writers: Vec<Writer> = order
        .iter()
        .filter_map(|sid| chains.remove(sid))
        .map(Chain::finish)
        .collect();
    let integrity = match writers
        .iter()
        .find(|w| !matches!(w.integrity, Integrity::Intact { .. }))
    {
        Some(w) => match &w.integrity {
            Integrity::Altered {
                first_bad_seq,
                line,
                reason,
            } => Integrity::Altered {
                first_bad_seq: *first_bad_seq,
                line: *line,
                reason: format!("{}'s event {first_bad_seq}: {reason}", w.op),
            },
            Integrity::Unverified {
                events,
                keyed,
                reason,
            } => Integrity::Unverified {
                events: *events,
                keyed: *keyed,
                reason: format!("{}'s chain {reason}", w.op),
            },
            other => other.clone(),
        },
        None if writers.is_empty() => Integrity::Unreadable {
            reason: "no drbook record on the shared timeline".into(),
        },
        None => Integrity::Intact {
            events: events.len(),
        },
    };
    Merged {
        events,
        integrity,
        writers,
        foreign_lines,
    }
}

/// How a writer's event reads in the merged view (`None`: left out).
fn as_merged(mut ev: Event, op: &str, first_header: &mut bool) -> Option<Event> {
    // What a writer's engine did, it did for that writer's operator (as the live screen
    // shows others' events).
    if ev.actor == "drbook" {
        ev.actor = op.to_string();
    }
    match &ev.kind {
        EventKind::IncidentStarted(h) if !*first_header => {
            ev.kind = EventKind::Note {
                runbook: None,
                step: None,
                text: format!(
                    "{op} joined the incident with {} runbook(s) on {}",
                    h.runbooks.len(),
                    h.target
                ),
            };
            Some(ev)
        }
        EventKind::IncidentStarted(_) => {
            *first_header = false;
            Some(ev)
        }
        EventKind::StepSkipped { reason, .. } if reason.starts_with("not claimed:") => None,
        _ => Some(ev),
    }
}

/// What the shared timeline says of a local log: every event a drbook writes goes to the
/// share too (with its seq and hash), so the share anchors the local log's head where whoever
/// edits the local file cannot reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchored {
    /// The share holds this log up to `shared` (no further, or the events after were not
    /// shared yet), and every event there matches the local one.
    Matches { shared: Head },
    /// The share holds events after this log's last: the local log was cut short.
    Behind { shared: Head, local: Option<Head> },
    /// An event on the share is not the local one of the same seq.
    Diverges { seq: u64 },
    /// The share holds no event of this log: it was never shared, or its header changed.
    NotShared,
}

impl std::fmt::Display for Anchored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Anchored::Matches { shared } => write!(
                f,
                "anchored: the share holds this log up to {shared}, and it matches"
            ),
            Anchored::Behind { shared, local } => {
                let ends = local
                    .as_ref()
                    .map_or_else(|| "holds no event".to_string(), |l| format!("ends at {l}"));
                write!(
                    f,
                    "TRUNCATED: the share holds events up to #{} ({shared}); this log {ends}: events after it were deleted",
                    shared.seq
                )
            }
            Anchored::Diverges { seq } => write!(
                f,
                "ALTERED: event {seq} is not the one on the share: this log was changed after it was shared"
            ),
            Anchored::NotShared => write!(
                f,
                "the share holds no event of this log (never shared, or its header was changed)"
            ),
        }
    }
}

impl Anchored {
    /// The local log is missing events, or holds others than it shared.
    pub fn is_problem(&self) -> bool {
        matches!(self, Anchored::Behind { .. } | Anchored::Diverges { .. })
    }
}

/// Compares a local log's trusted `events` with the shared timeline in `shared`: the events
/// its writer (the sid of its header) put there.
pub fn anchor(events: &[Event], shared: &[u8]) -> Anchored {
    let sid = super::writer_id(events);
    let mut on_share: BTreeMap<u64, String> = BTreeMap::new();
    for line in shared.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(rec) = serde_json::from_slice::<Record>(line) else {
            continue;
        };
        if rec.sid != sid || events.is_empty() {
            continue;
        }
        if let Body::Event { seq, e } = &rec.body
            && let Some(hash) = e.get("hash").and_then(serde_json::Value::as_str)
        {
            on_share.insert(*seq, hash.to_string());
        }
    }
    let Some((&last, last_hash)) = on_share.last_key_value() else {
        return Anchored::NotShared;
    };
    // A walk's events are seq 1, 2, ... in order.
    let local = |seq: u64| {
        usize::try_from(seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| events.get(i))
    };
    for (seq, hash) in &on_share {
        if let Some(e) = local(*seq)
            && &e.hash != hash
        {
            return Anchored::Diverges { seq: *seq };
        }
    }
    let shared = Head {
        seq: last,
        hash: last_hash.clone(),
    };
    match Head::of(events) {
        Some(l) if l.seq >= last => Anchored::Matches { shared },
        local => Anchored::Behind { shared, local },
    }
}

/// `path` read as a local log, or merged when it is a shared timeline (then with its
/// writers).
/// A keyed log (or writer) is checked with the key in `DRBOOK_LOG_KEY`, when set.
pub fn read_any(path: &Path) -> Result<(Vec<Event>, Integrity, Option<Merged>), LogError> {
    let key = LogKey::from_env()?;
    let bytes = drbook_core::incident::read::read_bytes(path)?;
    if is_shared(&bytes) {
        let m = merge_with(&bytes, key.as_ref());
        return Ok((m.events.clone(), m.integrity.clone(), Some(m)));
    }
    let walk = chain::walk_with(&bytes, key.as_ref());
    Ok((walk.events, walk.integrity, None))
}

/// A log's events, chain verdict, merge (a shared timeline) and anchoring (a local log).
pub type ReadAnchored = (Vec<Event>, Integrity, Option<Merged>, Option<Anchored>);

/// A log as `read_any` reads it, and for a local log its head checked against the shared
/// timeline `share` (its bytes, read from the share), else against the `.shared.ndjson` copy
/// beside the log when there is one. Review and report both read a log this way.
pub fn read_anchored(path: &Path, share: Option<&[u8]>) -> Result<ReadAnchored, LogError> {
    let (events, integrity, shared) = read_any(path)?;
    let anchored = match (&shared, share) {
        (Some(_), _) => None,
        (None, Some(bytes)) => Some(anchor(&events, bytes)),
        (None, None) => drbook_core::incident::read::read_bytes(&super::mirror_path(path))
            .ok()
            .filter(|b| is_shared(b))
            .map(|b| anchor(&events, &b)),
    };
    Ok((events, integrity, shared, anchored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::incident::{IncidentLog, Redactor};

    /// A local log by `op` with a note and a skip of a step someone else held, as records.
    fn writer(dir: &Path, op: &str) -> Vec<Record> {
        let mut header = drbook_core::incident::event::tests::sample_header();
        header.title = format!("{op}'s part");
        let mut log =
            IncidentLog::create(&dir.join(op), header, Redactor::new(Vec::<String>::new()))
                .unwrap();
        for kind in [
            EventKind::Note {
                runbook: None,
                step: None,
                text: format!("{op} here"),
            },
            EventKind::StepSkipped {
                runbook: "web".into(),
                step: "swap".into(),
                reason: "not claimed: kim holds it".into(),
            },
        ] {
            log.append("drbook", kind).unwrap();
        }
        let (events, _) = drbook_core::incident::read_log(log.path()).unwrap();
        events
            .iter()
            .filter_map(|e| Record::of_event(&format!("s-{op}"), op, "operator", e))
            .collect()
    }

    fn bytes(recs: &[Record]) -> Vec<u8> {
        recs.iter().flat_map(Record::line).collect()
    }

    /// A local log of `n` notes by `op` (keyed with `key`) and its events as shared.
    fn shared_log(
        dir: &Path,
        op: &str,
        n: usize,
        key: Option<LogKey>,
    ) -> (Vec<Event>, Vec<Record>) {
        let header = drbook_core::incident::event::tests::sample_header();
        let mut log =
            IncidentLog::create_keyed(&dir.join(op), header, Redactor::default(), key).unwrap();
        for i in 0..n {
            let text = format!("{op} note {i}");
            let kind = EventKind::Note {
                runbook: None,
                step: None,
                text,
            };
            log.append(op, kind).unwrap();
        }
        let bytes = std::fs::read(log.path()).unwrap();
        let events = chain::walk(&bytes).events;
        let sid = crate::share::writer_id(&events);
        let recs = events
            .iter()
            .filter_map(|e| Record::of_event(&sid, op, "operator", e))
            .collect();
        (events, recs)
    }

    #[test]
    fn the_share_anchors_a_local_log_cut_short_or_changed() {
        let dir = tempfile::tempdir().unwrap();
        let (events, recs) = shared_log(dir.path(), "erin", 5, None);
        let all = bytes(&recs);
        assert_eq!(
            anchor(&events, &all),
            Anchored::Matches {
                shared: Head::at(&events[5])
            }
        );
        // Not shared yet past #3: what there is matches.
        assert!(matches!(
            anchor(&events, &bytes(&recs[..3])),
            Anchored::Matches { shared } if shared.seq == 3
        ));
        // The local log cut at #4: the share holds #6.
        let cut = anchor(&events[..4], &all);
        assert_eq!(
            cut,
            Anchored::Behind {
                shared: Head::at(&events[5]),
                local: Some(Head::at(&events[3]))
            }
        );
        assert!(cut.is_problem());
        assert!(
            cut.to_string()
                .starts_with("TRUNCATED: the share holds events up to #6"),
            "{cut}"
        );
        // A local event that is not the shared one (its seq and the chain kept).
        let mut changed = events.clone();
        changed[2].hash = "0".repeat(64);
        assert_eq!(anchor(&changed, &all), Anchored::Diverges { seq: 3 });
        // Another log's records, or none: not shared.
        let (other, _) = shared_log(dir.path(), "fay", 2, None);
        assert_eq!(anchor(&other, &all), Anchored::NotShared);
        assert!(!Anchored::NotShared.is_problem());
    }

    #[test]
    fn a_keyed_writer_is_checked_with_its_key_on_the_share() {
        let dir = tempfile::tempdir().unwrap();
        let key = LogKey::parse(&"5e".repeat(32)).unwrap();
        let (_, recs) = shared_log(dir.path(), "gus", 3, Some(key.clone()));
        let all = bytes(&recs);
        assert_eq!(
            merge_with(&all, Some(&key)).integrity,
            Integrity::Intact { events: 4 }
        );
        let without = merge(&all).integrity;
        assert!(
            matches!(&without, Integrity::Unverified { events: 4, keyed: true, reason } if reason.starts_with("gus's chain not verified")),
            "{without:?}"
        );
        // An edit, re-sealed with plain SHA-256 by someone without the key.
        let text = String::from_utf8(all).unwrap();
        let line = text.lines().nth(2).unwrap();
        let rec: Record = serde_json::from_str(line).unwrap();
        let mut ev = rec.event().unwrap();
        ev.kind = EventKind::Note {
            runbook: None,
            step: None,
            text: "gus did nothing".into(),
        };
        let body = chain::body(ev.seq, &format_ts(&ev.ts), &ev.actor, &ev.kind, &ev.prev).unwrap();
        ev.hash = chain::sha256_hex(body.as_bytes());
        let forged = Record::of_event(&rec.sid, "gus", "operator", &ev).unwrap();
        let text = text.replacen(
            line,
            String::from_utf8(forged.line()).unwrap().trim_end(),
            1,
        );
        assert!(matches!(
            merge_with(text.as_bytes(), Some(&key)).integrity,
            Integrity::Altered {
                first_bad_seq: 3,
                ..
            }
        ));
    }

    #[test]
    fn writers_interleaved_merge_in_share_order_with_each_chain_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (writer(dir.path(), "alice"), writer(dir.path(), "bob"));
        let mixed = vec![
            a[0].clone(),
            b[0].clone(),
            a[1].clone(),
            b[1].clone(),
            b[2].clone(),
            a[2].clone(),
        ];
        let mut all = bytes(&mixed);
        all.extend_from_slice(b"not a record\n");
        assert!(is_shared(&all));
        let m = merge(&all);
        assert_eq!(m.integrity, Integrity::Intact { events: 4 });
        assert_eq!(m.foreign_lines, 1);
        assert_eq!(
            m.writers
                .iter()
                .map(|w| (w.op.as_str(), w.events))
                .collect::<Vec<_>>(),
            [("alice", 3), ("bob", 3)]
        );
        // One header; bob's became a note; the skips of a held step are left out.
        let kinds: Vec<&str> = m.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["incident_started", "note", "note", "note"]);
        assert!(
            matches!(&m.events[1].kind, EventKind::Note { text, .. } if text.starts_with("bob joined"))
        );
        assert_eq!(m.events[2].actor, "alice");
        assert_eq!(
            m.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert!(m.summary().contains("2 drbook(s)"), "{}", m.summary());
    }

    #[test]
    fn an_edited_event_or_a_gap_breaks_only_that_writers_chain_from_there() {
        let dir = tempfile::tempdir().unwrap();
        let (a, mut b) = (writer(dir.path(), "alice"), writer(dir.path(), "bob"));
        let Body::Event { e, .. } = &mut b[1].body else {
            panic!("an event")
        };
        e["text"] = serde_json::Value::String("bob was never here".into());
        let m = merge(&bytes(&[a.clone(), b.clone()].concat()));
        let bob = &m.writers[1];
        assert!(
            matches!(&bob.integrity, Integrity::Altered { first_bad_seq: 2, reason, .. } if reason.contains("does not match its hash")),
            "{:?}",
            bob.integrity
        );
        assert_eq!(m.writers[0].integrity, Integrity::Intact { events: 3 });
        assert!(
            matches!(&m.integrity, Integrity::Altered { reason, .. } if reason.starts_with("bob's event 2"))
        );
        // Nothing of bob's after the edit is taken.
        // Bob's header is taken; nothing of his from the edit on.
        let notes: Vec<&str> = m
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Note { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0] == "alice here" && notes[1].starts_with("bob joined"),
            "{notes:?}"
        );

        let gap = merge(&bytes(&[a[0].clone(), a[2].clone()]));
        assert!(
            matches!(&gap.writers[0].integrity, Integrity::Altered { first_bad_seq: 2, reason, .. } if reason.contains("event 2 expected, 3 found")),
            "{:?}",
            gap.writers[0].integrity
        );
    }

    #[test]
    fn a_local_log_is_not_taken_for_a_shared_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let a = writer(dir.path(), "alice");
        let log = std::fs::read_dir(dir.path().join("alice"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let local = std::fs::read(&log).unwrap();
        assert!(!is_shared(&local));
        let (events, integrity, merged) = read_any(&log).unwrap();
        assert!(merged.is_none());
        assert_eq!(events.len(), a.len());
        assert!(integrity.is_trustworthy());
        assert!(!is_shared(b""));
    }
}
