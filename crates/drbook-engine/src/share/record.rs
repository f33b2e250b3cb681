//! One line of the shared timeline. Each names its writer (`sid`, a stable id of the writer's
//! local log, and the operator and role) and carries either one event of that local log,
//! exactly as the local line reads (so each writer's hash chain still verifies from the
//! share), a claim on a step, or a sign of life.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use drbook_core::incident::{Event, chain, event::format_ts};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub sid: String,
    pub op: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// Line `seq` of the writer's local log (`e` is that line's JSON object).
    Event { seq: u64, e: Value },
    /// The writer holds this step from here on; `from` names whose claim it took over.
    Claim {
        runbook: String,
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        ts: DateTime<Utc>,
    },
    /// The writer is here (written when it joins and after a quiet minute).
    Alive { ts: DateTime<Utc> },
    /// The writer left the incident cleanly.
    Left { ts: DateTime<Utc> },
}

impl Record {
    /// The shared form of a local event: the line the local log holds, rebuilt from the event
    /// (the log's encoding is deterministic, so the hash comes out the same).
    pub fn of_event(sid: &str, op: &str, role: &str, ev: &Event) -> Option<Record> {
        let body = chain::body(ev.seq, &format_ts(&ev.ts), &ev.actor, &ev.kind, &ev.prev).ok()?;
        // The event's own hash, not one computed here: a keyed log's is an HMAC.
        let line = chain::with_hash(&body, &ev.hash);
        let e: Value = serde_json::from_str(&line).ok()?;
        Some(Record {
            sid: sid.into(),
            op: op.into(),
            role: role.into(),
            body: Body::Event { seq: ev.seq, e },
        })
    }

    /// One line, with its newline.
    pub fn line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The local event this record carries, decoded as the local log would decode it.
    pub fn event(&self) -> Option<Event> {
        match &self.body {
            Body::Event { e, .. } => Event::decode(e.to_string().as_bytes()).ok(),
            _ => None,
        }
    }

    pub fn ts(&self) -> Option<DateTime<Utc>> {
        match &self.body {
            Body::Event { e, .. } => e
                .get("ts")
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc)),
            Body::Claim { ts, .. } | Body::Alive { ts } | Body::Left { ts } => Some(*ts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::incident::{EventKind, IncidentLog, Redactor};

    #[test]
    fn an_event_is_shared_as_the_exact_local_line() {
        let dir = tempfile::tempdir().unwrap();
        let header = drbook_core::incident::event::tests::sample_header();
        let mut log =
            IncidentLog::create(dir.path(), header, Redactor::new(Vec::<String>::new())).unwrap();
        let a = log
            .append(
                "alice",
                EventKind::Note {
                    runbook: None,
                    step: None,
                    text: "hello \"there\"".into(),
                },
            )
            .unwrap();
        let rec = Record::of_event("abc", "alice", "operator", &a.event).unwrap();
        let line = rec.line();
        let back: Record = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.event().unwrap(), a.event);
        let on_disk = std::fs::read_to_string(log.path()).unwrap();
        let local_line = on_disk.lines().nth(1).unwrap();
        let Body::Event { e, seq } = &back.body else {
            panic!("not an event")
        };
        assert_eq!(*seq, 2);
        assert_eq!(e, &serde_json::from_str::<Value>(local_line).unwrap());
        assert_eq!(e["hash"].as_str().unwrap(), a.hash);
    }
}
