//! The incident log's events: one JSON object per line, an envelope (`seq`, `ts`, `actor`,
//! `prev`, `hash`) around one kind of event (`"event": "step_finished"`, ...). Owns the
//! event types and how a line is encoded and decoded; kinds this drbook does not know (a log
//! written by a newer one) are kept whole as raw JSON.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::roles::Role;

/// The step output that measures a data runbook's data-loss window: a duration (`3m 12s`,
/// what a failover at that moment loses) or the RFC 3339 time of the last write known safe
/// (`lastSyncTime`, a replica's last replicated time). The `storage` step writes it from
/// `geoReplicationStats.lastSyncTime`; any step may declare it as an output.
pub const RPO_OUTPUT: &str = "rpo_achieved";

/// One event as read back from a log, or as written by `append`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// 1 for the header, then one more per line: `seq` is also the line number.
    pub seq: u64,
    /// UTC, millisecond precision.
    pub ts: DateTime<Utc>,
    /// Who did it: an operator's name, or `drbook` for what the engine did by itself.
    pub actor: String,
    pub kind: EventKind,
    /// The previous line's `hash` (64 zeros for the header).
    pub prev: String,
    /// Lowercase hex SHA-256 of this line without its `hash` member (see `chain`).
    pub hash: String,
}

/// What happened. Serialized with its name in the `event` field, snake_case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// Always the first line.
    IncidentStarted(Header),
    /// What the incident hits.
    ScopeSet {
        #[serde(default)]
        regions: Vec<String>,
        #[serde(default)]
        components: Vec<String>,
    },
    StepStarted {
        runbook: String,
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// 1 for the first attempt.
        #[serde(default = "one")]
        attempt: u32,
    },
    CheckResult {
        runbook: String,
        step: String,
        expected: String,
        actual: String,
        verdict: Verdict,
        /// Where the value was read: a resource id, a URL, a Resource Graph query.
        source: String,
        latency_ms: u64,
    },
    OutputLine {
        runbook: String,
        step: String,
        stream: Stream,
        line: String,
    },
    ConfirmationRequested {
        runbook: String,
        step: String,
        #[serde(default)]
        prompt: String,
    },
    Confirmed {
        runbook: String,
        step: String,
        by: String,
        /// `true` for yes.
        approved: bool,
    },
    /// A two-person step waits for an incident commander other than `operator` (who runs it).
    ApprovalRequested {
        runbook: String,
        step: String,
        operator: String,
        #[serde(default)]
        prompt: String,
    },
    /// The second person's answer to `approval_requested`.
    Approved {
        runbook: String,
        step: String,
        by: String,
        /// The role `by` held when approving (a commander, or the approval would not count).
        role: Role,
        /// `true` for yes.
        approved: bool,
        /// Whose terminal it was given at, when not the approver's own (two people at one
        /// keyboard).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keyboard: Option<String>,
    },
    StepFinished {
        runbook: String,
        step: String,
        outcome: Outcome,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        outputs: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Skipped without being started (a condition, a dependency that failed, the operator).
    StepSkipped {
        runbook: String,
        step: String,
        #[serde(default)]
        reason: String,
    },
    /// Attempt `attempt` failed and another follows.
    Retry {
        runbook: String,
        step: String,
        attempt: u32,
        #[serde(default)]
        reason: String,
        #[serde(default)]
        delay_ms: u64,
    },
    Note {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        runbook: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        text: String,
    },
    Paused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Resumed {},
    /// On a shared incident: this operator holds the step from here on (`from`: whose claim
    /// was taken over, explicitly; `offline`: the share could not be reached, and the
    /// operator chose to run the step without a claim; the claim goes on the share when it is
    /// back).
    StepClaimed {
        runbook: String,
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        offline: bool,
    },
    /// On a shared incident: the step was not claimed, so it did not start (`holder`: who
    /// holds it; none when the share could not be reached).
    ClaimRefused {
        runbook: String,
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        holder: Option<String>,
        reason: String,
    },
    AbortRequested {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    RollbackStarted {
        runbook: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Rehearsal clean-up (undoing what a full rehearsal changed) begins for a runbook.
    /// The step events of `steps` that follow are clean-up, not recovery (a report keeps
    /// them out of the RTO and lists them on their own).
    CleanupStarted {
        runbook: String,
        /// Each clean-up step and the step whose change it undoes (empty in older logs).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        steps: Vec<CleanupStep>,
    },
    CleanupFinished {
        runbook: String,
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// When the outage began (`--since`, or set or corrected in the TUI by the actor): the
    /// RTO counts from here, not from when drbook started. The last one in the log stands.
    OutageStart {
        at: DateTime<Utc>,
        /// The time it replaces, when corrected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<DateTime<Utc>>,
    },
    /// Someone joined the incident, or took another role: what they may do from here on.
    RoleTaken {
        operator: String,
        role: Role,
    },
    /// drbook was started again on this log (after a crash, a lost terminal, a reboot).
    IncidentResumed {
        by: String,
        /// Steps that had started and not finished: they are `interrupted` from here on.
        #[serde(default)]
        interrupted: Vec<StepRef>,
        /// The incident had been closed, with this outcome, and `by` opened it again on
        /// purpose (`--reopen`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reopened: Option<IncidentOutcome>,
    },
    /// Written by `open_for_resume` when it cut off a torn last line.
    LogRecovered {
        /// The line that was cut off.
        line: u64,
        dropped_bytes: u64,
    },
    IncidentClosed {
        outcome: IncidentOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
    /// A kind this drbook does not know, kept as it was read (never written by this drbook
    /// except to copy it).
    #[serde(skip)]
    Unknown {
        event: String,
        fields: Map<String, Value>,
    },
}

fn one() -> u32 {
    1
}

/// The header: what the incident is and exactly what it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub incident_id: String,
    pub title: String,
    pub mode: Mode,
    /// Only for rehearsals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<RehearsalLevel>,
    #[serde(default)]
    pub operators: Vec<String>,
    pub drbook_version: String,
    /// The target as the operator would recognise it: `azure (AzureCloud)`, `sim:westeurope-down`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default)]
    pub runbooks: Vec<RunbookRef>,
    #[serde(default)]
    pub auto_approve: bool,
    /// The shared timeline this incident also writes to (its URL, never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    /// Every line's hash is an HMAC with a key kept out of the log (`DRBOOK_LOG_KEY`):
    /// only who holds the key can re-chain an edited log. `None`: plain SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyed: Option<KeyedChain>,
}

/// How a keyed chain is keyed: never the key, only which one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedChain {
    /// `hmac-sha256`.
    pub alg: String,
    /// A fingerprint of the key (see `chain::LogKey::id`), to tell a wrong key from an edit.
    pub key_id: String,
}

/// A runbook used in the incident, with the hash of the exact file content that ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookRef {
    pub id: String,
    pub file: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Its steps (not its rollbacks), in file order: with them the log alone says how many
    /// steps a runbook that never started had. Empty in logs from before they were written
    /// (then the total is unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// Its RTO as written (`30m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<String>,
    /// The steps that name a `cleanup`: once one of them is done in a full rehearsal, a
    /// clean-up is owed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleanups: Vec<String>,
}

/// A clean-up step of a rehearsal, and the step whose change it undoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupStep {
    pub step: String,
    pub undoes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StepRef {
    pub runbook: String,
    pub step: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Live,
    Rehearsal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RehearsalLevel {
    DryRun,
    ReadOnly,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The value could not be read.
    Error,
    /// The read of an assessment (`assess = true`): what it found is the step's `finding`,
    /// not a failure.
    Finding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
    Skipped,
    Interrupted,
    /// An assessment (`assess = true`) was carried out: what it found (`up`, `down`) is its
    /// `finding` output. Settled, like `ok`; never a failure.
    Finding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentOutcome {
    Recovered,
    PartiallyRecovered,
    Failed,
    Aborted,
    /// A rehearsal that finished.
    Rehearsed,
}

impl EventKind {
    /// The `event` field's value.
    pub fn name(&self) -> &str {
        use EventKind::*;
        match self {
            IncidentStarted(_) => "incident_started",
            ScopeSet { .. } => "scope_set",
            StepStarted { .. } => "step_started",
            CheckResult { .. } => "check_result",
            OutputLine { .. } => "output_line",
            ConfirmationRequested { .. } => "confirmation_requested",
            Confirmed { .. } => "confirmed",
            ApprovalRequested { .. } => "approval_requested",
            Approved { .. } => "approved",
            RoleTaken { .. } => "role_taken",
            OutageStart { .. } => "outage_start",
            StepFinished { .. } => "step_finished",
            StepSkipped { .. } => "step_skipped",
            Retry { .. } => "retry",
            Note { .. } => "note",
            Paused { .. } => "paused",
            Resumed {} => "resumed",
            StepClaimed { .. } => "step_claimed",
            ClaimRefused { .. } => "claim_refused",
            AbortRequested { .. } => "abort_requested",
            RollbackStarted { .. } => "rollback_started",
            CleanupStarted { .. } => "cleanup_started",
            CleanupFinished { .. } => "cleanup_finished",
            IncidentResumed { .. } => "incident_resumed",
            LogRecovered { .. } => "log_recovered",
            IncidentClosed { .. } => "incident_closed",
            Unknown { event, .. } => event,
        }
    }

    /// The runbook and step this event is about, if it is about one step.
    pub fn step_ref(&self) -> Option<(&str, &str)> {
        use EventKind::*;
        match self {
            StepStarted { runbook, step, .. }
            | CheckResult { runbook, step, .. }
            | OutputLine { runbook, step, .. }
            | ConfirmationRequested { runbook, step, .. }
            | Confirmed { runbook, step, .. }
            | ApprovalRequested { runbook, step, .. }
            | Approved { runbook, step, .. }
            | StepFinished { runbook, step, .. }
            | StepSkipped { runbook, step, .. }
            | Retry { runbook, step, .. }
            | StepClaimed { runbook, step, .. }
            | ClaimRefused { runbook, step, .. } => Some((runbook, step)),
            Note {
                runbook: Some(r),
                step: Some(s),
                ..
            } => Some((r, s)),
            _ => None,
        }
    }

    /// The kind as a JSON object text beginning with its `event` member.
    pub(crate) fn to_json(&self) -> Result<String, serde_json::Error> {
        match self {
            EventKind::Unknown { event, fields } => {
                let mut out = String::from("{\"event\":");
                out.push_str(&serde_json::to_string(event)?);
                for (k, v) in fields
                    .iter()
                    .filter(|(k, _)| !ENVELOPE.contains(&k.as_str()) && *k != "event")
                {
                    out.push(',');
                    out.push_str(&serde_json::to_string(k)?);
                    out.push(':');
                    out.push_str(&serde_json::to_string(v)?);
                }
                out.push('}');
                Ok(out)
            }
            known => serde_json::to_string(known),
        }
    }
}

/// The envelope's members; everything else on a line belongs to the kind.
pub(crate) const ENVELOPE: &[&str] = &["seq", "ts", "actor", "prev", "hash"];

/// `2026-11-25T01:52:03.412Z`.
pub fn format_ts(ts: &DateTime<Utc>) -> String {
    crate::time::rfc3339_millis(*ts)
}

/// Drops sub-millisecond precision, so what is written is exactly what is read back.
pub fn to_millis(ts: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ts.timestamp_millis()).unwrap_or(ts)
}

/// Why a line could not be read as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not UTF-8 text")]
    NotText,
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("field `{0}` is missing or has the wrong type")]
    Field(&'static str),
}

impl Event {
    /// Reads one line (without its newline). Kinds that do not parse as a known kind are
    /// kept as `EventKind::Unknown`, so a newer writer never makes this reader fail.
    pub fn decode(line: &[u8]) -> Result<Event, DecodeError> {
        match Event::decode_typed(line) {
            Some(event) => Ok(event),
            None => Event::decode_value(line),
        }
    }

    /// The fast path of `decode`: the envelope and a known kind read straight from the
    /// line's bytes, with no `serde_json::Value` in between. `None` whenever anything is
    /// unusual (not UTF-8, a missing or mistyped field, a duplicate key, a kind this drbook
    /// does not know or cannot read, a line that is not JSON): `decode_value` then decides,
    /// so what it returns, and every error, are exactly what `decode_value` gives. When this
    /// returns `Some`, the line is proven to be one whole JSON object.
    pub(crate) fn decode_typed(line: &[u8]) -> Option<Event> {
        let text = std::str::from_utf8(line).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let event = serde::Deserializer::deserialize_map(&mut de, LineVisitor).ok()?;
        de.end().ok()?;
        Some(event)
    }

    /// `decode` through a `serde_json::Value`: the reference reading of a line, and the only
    /// one for unknown kinds and for lines that are not events.
    pub(crate) fn decode_value(line: &[u8]) -> Result<Event, DecodeError> {
        let text = std::str::from_utf8(line).map_err(|_| DecodeError::NotText)?;
        let value: Value =
            serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(DecodeError::NotJson("not an object".into()));
        };
        let seq = map
            .remove("seq")
            .and_then(|v| v.as_u64())
            .ok_or(DecodeError::Field("seq"))?;
        let ts = map
            .remove("ts")
            .and_then(|v| v.as_str().and_then(parse_ts))
            .ok_or(DecodeError::Field("ts"))?;
        let actor = match map.remove("actor") {
            None => String::new(),
            Some(Value::String(s)) => s,
            Some(_) => return Err(DecodeError::Field("actor")),
        };
        let prev = take_string(&mut map, "prev")?;
        let hash = take_string(&mut map, "hash")?;
        let event = match map.get("event") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(DecodeError::Field("event")),
        };
        let value = Value::Object(map);
        let kind = match EventKind::deserialize(&value) {
            Ok(kind) => kind,
            Err(_) => {
                let Value::Object(mut map) = value else {
                    unreachable!("built as an object just above")
                };
                map.remove("event");
                EventKind::Unknown { event, fields: map }
            }
        };
        Ok(Event {
            seq,
            ts,
            actor,
            kind,
            prev,
            hash,
        })
    }
}

/// Reads a whole line in one pass for `Event::decode_typed`: the envelope members are
/// taken out as the parser meets them (`Envelope`), and every other member goes on to the
/// kind's own `Deserialize`, which therefore sees the line without its envelope, exactly as
/// `decode_value` shows it the kind. The envelope members are those `decode_value` accepts,
/// with the same types (`actor` may be missing but not `null`); a member twice is an error
/// (a `Value` would keep the last one: `decode_value` then decides).
struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event as a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Event, A::Error> {
        let mut env = Envelope::default();
        let kind =
            EventKind::deserialize(MapAccessDeserializer::new(Envelope::split(map, &mut env)))?;
        let missing = <A::Error as de::Error>::missing_field;
        Ok(Event {
            seq: env.seq.ok_or_else(|| missing("seq"))?,
            ts: env.ts.ok_or_else(|| missing("ts"))?,
            actor: env.actor.unwrap_or_default(),
            kind,
            prev: env.prev.ok_or_else(|| missing("prev"))?,
            hash: env.hash.ok_or_else(|| missing("hash"))?,
        })
    }
}

/// The envelope members of a line, as `LineVisitor` meets them.
#[derive(Default)]
struct Envelope {
    seq: Option<u64>,
    ts: Option<DateTime<Utc>>,
    actor: Option<String>,
    prev: Option<String>,
    hash: Option<String>,
}

impl Envelope {
    fn split<'e, A>(map: A, env: &'e mut Envelope) -> WithoutEnvelope<'e, A> {
        WithoutEnvelope { map, env }
    }
}

/// A line's members without the envelope's, which go into `env` on the way.
struct WithoutEnvelope<'e, A> {
    map: A,
    env: &'e mut Envelope,
}

impl<'de, A: MapAccess<'de>> WithoutEnvelope<'_, A> {
    /// Reads the value of envelope member `key` into `env`; `false` if `key` is not one.
    fn take(&mut self, key: &str) -> Result<bool, A::Error> {
        fn put<T, E: de::Error>(
            slot: &mut Option<T>,
            key: &'static str,
            value: T,
        ) -> Result<(), E> {
            match slot.replace(value) {
                Some(_) => Err(E::duplicate_field(key)),
                None => Ok(()),
            }
        }
        let env = &mut *self.env;
        match key {
            "seq" => put(&mut env.seq, "seq", self.map.next_value()?)?,
            "ts" => put(&mut env.ts, "ts", self.map.next_value_seed(TsSeed)?)?,
            "actor" => put(&mut env.actor, "actor", self.map.next_value()?)?,
            "prev" => put(&mut env.prev, "prev", self.map.next_value()?)?,
            "hash" => put(&mut env.hash, "hash", self.map.next_value()?)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithoutEnvelope<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.map.next_key_seed(KeySeed)? {
                None => return Ok(None),
                Some(Cow::Borrowed(key)) => {
                    if !self.take(key)? {
                        return seed
                            .deserialize(BorrowedStrDeserializer::new(key))
                            .map(Some);
                    }
                }
                Some(Cow::Owned(key)) => {
                    if !self.take(&key)? {
                        return seed.deserialize(StringDeserializer::new(key)).map(Some);
                    }
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A member's name, borrowed from the line unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// `ts` read straight into a time, as `decode_value` reads it.
struct TsSeed;

impl<'de> DeserializeSeed<'de> for TsSeed {
    type Value = DateTime<Utc>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for TsSeed {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an RFC 3339 time")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_ts(v).ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
    }
}

/// `DateTime::parse_from_rfc3339` in UTC, with a shortcut for what the writer writes
/// (`2026-11-25T01:52:03.412Z`, see `format_ts`); anything else goes to chrono.
fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    parse_written_ts(s.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` exactly, seconds below 60 (a leap second goes to chrono).
fn parse_written_ts(b: &[u8]) -> Option<DateTime<Utc>> {
    let b: &[u8; 24] = b.try_into().ok()?;
    if b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, min, sec, milli) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    if sec >= 60 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)?;
    Some(date.and_hms_milli_opt(hour, min, sec, milli)?.and_utc())
}

fn take_string(map: &mut Map<String, Value>, key: &'static str) -> Result<String, DecodeError> {
    match map.remove(key) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(DecodeError::Field(key)),
    }
}

/// Sample events for the tests of this crate and the crates above (feature `test-support`).
#[cfg(any(test, feature = "test-support"))]
pub mod tests {
    use super::*;

    pub fn sample_header() -> Header {
        Header {
            incident_id: "inc-1".into(),
            title: "westeurope down".into(),
            mode: Mode::Rehearsal,
            level: Some(RehearsalLevel::DryRun),
            operators: vec!["alice".into()],
            drbook_version: "0.1.0".into(),
            target: "sim:westeurope-down".into(),
            plan: Some("westeurope-outage".into()),
            runbooks: vec![RunbookRef {
                id: "web-failover".into(),
                file: "runbooks/web.toml".into(),
                sha256: "ab".repeat(32),
                ..RunbookRef::default()
            }],
            auto_approve: false,
            share: None,
            keyed: None,
        }
    }

    pub fn every_kind() -> Vec<EventKind> {
        use EventKind::*;
        let r = || "web-failover".to_string();
        let s = || "shift-traffic".to_string();
        vec![
            IncidentStarted(sample_header()),
            ScopeSet {
                regions: vec!["westeurope".into()],
                components: vec!["web".into()],
            },
            StepStarted {
                runbook: r(),
                step: s(),
                title: Some("Shift".into()),
                attempt: 1,
            },
            CheckResult {
                runbook: r(),
                step: s(),
                expected: "properties.state == Running".into(),
                actual: "Stopped".into(),
                verdict: Verdict::Fail,
                source: "/subscriptions/x".into(),
                latency_ms: 120,
            },
            OutputLine {
                runbook: r(),
                step: s(),
                stream: Stream::Stderr,
                line: "warning: ünïcode \"quoted\"".into(),
            },
            ConfirmationRequested {
                runbook: r(),
                step: s(),
                prompt: "Disable the primary?".into(),
            },
            Confirmed {
                runbook: r(),
                step: s(),
                by: "alice".into(),
                approved: true,
            },
            ApprovalRequested {
                runbook: r(),
                step: s(),
                operator: "alice".into(),
                prompt: "PATCH /subscriptions/x".into(),
            },
            Approved {
                runbook: r(),
                step: s(),
                by: "bob".into(),
                role: Role::Commander,
                approved: true,
                keyboard: Some("alice".into()),
            },
            RoleTaken {
                operator: "carol".into(),
                role: Role::Scribe,
            },
            StepFinished {
                runbook: r(),
                step: s(),
                outcome: Outcome::Ok,
                duration_ms: 5123,
                outputs: BTreeMap::from([("hostname".into(), "app.example".into())]),
                error: None,
            },
            StepSkipped {
                runbook: r(),
                step: s(),
                reason: "dependency failed".into(),
            },
            Retry {
                runbook: r(),
                step: s(),
                attempt: 2,
                reason: "HTTP 429".into(),
                delay_ms: 1500,
            },
            Note {
                runbook: None,
                step: None,
                text: "called the DBA".into(),
            },
            Paused {
                reason: Some("waiting for Microsoft".into()),
            },
            Resumed {},
            AbortRequested { reason: None },
            RollbackStarted {
                runbook: r(),
                reason: Some("smoke failed".into()),
            },
            CleanupStarted {
                runbook: r(),
                steps: vec![CleanupStep {
                    step: "undo-shift".into(),
                    undoes: s(),
                }],
            },
            CleanupFinished {
                runbook: r(),
                outcome: Outcome::Ok,
                error: None,
            },
            IncidentResumed {
                by: "bob".into(),
                interrupted: vec![StepRef {
                    runbook: r(),
                    step: s(),
                }],
                reopened: Some(IncidentOutcome::Failed),
            },
            LogRecovered {
                line: 9,
                dropped_bytes: 17,
            },
            IncidentClosed {
                outcome: IncidentOutcome::Recovered,
                summary: Some("back in westeurope".into()),
            },
        ]
    }

    /// A header from before the step lists still reads (the total is then unknown), and one
    /// without them is written as before.
    #[test]
    fn a_runbook_ref_without_steps_reads_and_writes_as_before() {
        let old = r#"{"id":"rb","file":"rb.toml","sha256":"ab"}"#;
        let r: RunbookRef = serde_json::from_str(old).unwrap();
        assert!(r.steps.is_empty() && r.rto.is_none() && r.cleanups.is_empty());
        assert_eq!(serde_json::to_string(&r).unwrap(), old);
    }

    #[test]
    fn every_kind_round_trips_and_names_itself() {
        for kind in every_kind() {
            let json = kind.to_json().unwrap();
            assert!(
                json.starts_with(&format!("{{\"event\":\"{}\"", kind.name())),
                "{json}"
            );
            let back: EventKind = serde_json::from_str(&json).unwrap();
            assert_eq!(back, kind);
        }
    }

    /// An assessment's finding is written `"outcome":"finding"` (its check `"verdict":"finding"`)
    /// and read back as such; a line from before assessments reads as it always did.
    #[test]
    fn a_finding_is_logged_as_such_and_old_lines_still_read() {
        let line = br#"{"seq":5,"ts":"2026-11-25T01:52:03.412Z","actor":"drbook","event":"step_finished","runbook":"web-failover","step":"primary-health","outcome":"finding","duration_ms":120,"outputs":{"finding":"down"},"prev":"p","hash":"h"}"#;
        let e = Event::decode(line).unwrap();
        let EventKind::StepFinished {
            outcome, outputs, ..
        } = &e.kind
        else {
            panic!("{:?}", e.kind)
        };
        assert_eq!(*outcome, Outcome::Finding);
        assert_eq!(outputs.get("finding").map(String::as_str), Some("down"));
        assert!(e.kind.to_json().unwrap().contains(r#""outcome":"finding""#));
        let line = br#"{"seq":4,"ts":"2026-11-25T01:52:03.400Z","actor":"drbook","event":"check_result","runbook":"web-failover","step":"primary-health","expected":"x","actual":"y","verdict":"finding","source":"arm","latency_ms":4,"prev":"p","hash":"h"}"#;
        assert!(matches!(
            Event::decode(line).unwrap().kind,
            EventKind::CheckResult {
                verdict: Verdict::Finding,
                ..
            }
        ));
        let old = br#"{"seq":5,"ts":"2026-11-25T01:52:03.412Z","actor":"drbook","event":"step_finished","runbook":"web-failover","step":"primary-health","outcome":"failed","duration_ms":120,"error":"FAIL","prev":"p","hash":"h"}"#;
        assert!(matches!(
            Event::decode(old).unwrap().kind,
            EventKind::StepFinished {
                outcome: Outcome::Failed,
                ..
            }
        ));
    }

    #[test]
    fn unknown_kinds_from_a_newer_drbook_are_kept_raw() {
        let line = br#"{"seq":3,"ts":"2026-11-25T01:52:03.412Z","actor":"x","event":"quantum_failover","qubits":7,"prev":"p","hash":"h"}"#;
        let e = Event::decode(line).unwrap();
        assert_eq!(e.kind.name(), "quantum_failover");
        let EventKind::Unknown { fields, .. } = &e.kind else {
            panic!("{:?}", e.kind)
        };
        assert_eq!(fields.get("qubits"), Some(&Value::from(7)));
        assert_eq!(
            e.kind.to_json().unwrap(),
            r#"{"event":"quantum_failover","qubits":7}"#
        );
        // A known kind with fields this drbook cannot read is kept too, not an error.
        let line = br#"{"seq":3,"ts":"2026-11-25T01:52:03.412Z","event":"step_started","runbook":7,"prev":"p","hash":"h"}"#;
        assert!(matches!(
            Event::decode(line).unwrap().kind,
            EventKind::Unknown { .. }
        ));
    }

    #[test]
    fn role_and_approval_events_read_as_written() {
        let line = br#"{"seq":4,"ts":"2026-11-25T01:52:03.412Z","actor":"bob","event":"approved","runbook":"r","step":"s","by":"bob","role":"commander","approved":true,"prev":"p","hash":"h"}"#;
        let e = Event::decode(line).unwrap();
        assert_eq!(
            e.kind,
            EventKind::Approved {
                runbook: "r".into(),
                step: "s".into(),
                by: "bob".into(),
                role: Role::Commander,
                approved: true,
                keyboard: None,
            }
        );
        // A role this drbook does not know (a newer one's) keeps the line, as an unknown kind.
        let line = br#"{"seq":4,"ts":"2026-11-25T01:52:03.412Z","event":"role_taken","operator":"x","role":"observer","prev":"p","hash":"h"}"#;
        assert!(matches!(
            Event::decode(line).unwrap().kind,
            EventKind::Unknown { .. }
        ));
    }

    #[test]
    fn broken_lines_are_errors_not_panics() {
        for bad in [
            &b"\xff\xfe"[..],
            b"",
            b"[]",
            b"{",
            b"{\"seq\":-1}",
            b"{\"seq\":1,\"ts\":\"yesterday\"}",
        ] {
            assert!(
                Event::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_written_time_shortcut_agrees_with_chrono() {
        for ts in [
            "2026-11-25T01:52:03.412Z",
            "1970-01-01T00:00:00.000Z",
            "2028-02-29T23:59:59.999Z",
            "2027-02-29T10:00:00.000Z",
            "2026-13-01T10:00:00.000Z",
            "2026-04-31T10:00:00.000Z",
            "2026-11-25T24:00:00.000Z",
            "2026-11-25T23:60:00.000Z",
            "2016-12-31T23:59:60.500Z",
            "2026-11-25t01:52:03.412z",
            "2026-11-25 01:52:03.412Z",
            "2026-11-25T01:52:03.41Z",
            "2026-11-25T01:52:03.4120Z",
            "2026-11-25T01:52:03Z",
            "2026-11-25T02:52:03.412+01:00",
            "2026-11-25T01:52:0x.412Z",
            "+026-11-25T01:52:03.412Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(ts)
                .ok()
                .map(|t| t.with_timezone(&Utc));
            assert_eq!(parse_ts(ts), chrono, "{ts}");
            if let Some(fast) = parse_written_ts(ts.as_bytes()) {
                assert_eq!(Some(fast), chrono, "{ts}");
            }
        }
        assert!(parse_written_ts(b"2026-11-25T01:52:03.412Z").is_some());
    }

    #[test]
    fn lines_the_writer_writes_take_the_one_pass_reading() {
        let mut prev = crate::incident::chain::GENESIS.to_string();
        for (i, kind) in every_kind().into_iter().enumerate() {
            let seq = i as u64 + 1;
            let body = crate::incident::chain::body(
                seq,
                "2026-11-25T01:52:03.412Z",
                "alice",
                &kind,
                &prev,
            )
            .unwrap();
            let (line, hash) = crate::incident::chain::seal(&body);
            let line = line.trim_end().as_bytes();
            let fast = Event::decode_typed(line).expect("read in one pass");
            assert_eq!(Ok(&fast), Event::decode_value(line).as_ref());
            assert_eq!((fast.seq, fast.kind, &fast.hash), (seq, kind, &hash));
            prev = hash;
        }
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let ts = DateTime::parse_from_rfc3339("2026-11-25T02:52:03.412999+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_ts(&to_millis(ts)), "2026-11-25T01:52:03.412Z");
    }
}
