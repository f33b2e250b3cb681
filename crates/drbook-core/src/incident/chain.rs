//! The hash chain: how a line is hashed, how a line is built so that its hash is checkable
//! with nothing but string operations, and `verify`, which says whether a log is intact,
//! truncated (a torn last line) or altered, and from which event.
//!
//! # The canonical form, exactly
//!
//! Every line is UTF-8 JSON ending in `"prev":"<64 hex>","hash":"<64 hex>"}` and a newline.
//! The `hash` member is always last, so the canonical serialization of an event without its
//! hash is simply **the line's bytes up to (not including) `,"hash":"`, followed by `}`** —
//! equivalently, the line without its newline minus its last 75 bytes, plus `}`.
//! `hash` is the lowercase hex SHA-256 of those bytes; `prev` is the previous line's `hash`,
//! or 64 zeros on the first line (the `incident_started` header). `seq` counts lines from 1.
//! Hashing the bytes as written (rather than re-serializing parsed JSON) makes any edit,
//! even of whitespace or key order, visible, and needs no JSON canonicalization to check:
//!
//! ```text
//! python3 -c 'import sys,hashlib
//! prev="0"*64
//! for n,l in enumerate(open(sys.argv[1],"rb").read().split(b"\n")[:-1],1):
//!     body,h=l[:-75]+b"}",l[-66:-2].decode()
//!     assert hashlib.sha256(body).hexdigest()==h and f"\"prev\":\"{prev}\"".encode() in body, n
//!     prev=h' LOG.jsonl
//! ```
//!
//! or for one line in a shell: `l=$(sed -n 7p LOG.jsonl); printf '%s}' "${l%,\"hash\":*}" | sha256sum`.

use sha2::{Digest, Sha256};

use super::event::{Event, EventKind, Header};

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_KEY: &[u8] = b",\"hash\":\"";
/// `,"hash":"` + 64 hex + `"}`.
const HASH_MEMBER_LEN: usize = HASH_KEY.len() + 64 + 2;

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The environment variable that holds the key of a keyed chain (hex or base64).
pub const KEY_ENV: &str = "DRBOOK_LOG_KEY";
/// The one keyed algorithm.
pub const KEYED_ALG: &str = "hmac-sha256";
/// Fewer bytes than this is a password, not a key.
const MIN_KEY_BYTES: usize = 16;

/// The key of a keyed chain: each line's hash is HMAC-SHA256 over the same bytes that a
/// plain chain hashes with SHA-256, so without the key an edited log cannot be re-chained.
/// Never printed: `Debug` shows only its id.
#[derive(Clone)]
pub struct LogKey {
    key: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogKey(id {})", self.id)
    }
}

/// A key that cannot be used; says why without quoting it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{KEY_ENV} {0}: give at least {MIN_KEY_BYTES} random bytes as hex or base64 (e.g. `openssl rand -hex 32`)"
)]
pub struct KeyError(&'static str);

impl LogKey {
    /// Reads a key given as hex or base64 (standard or URL-safe, padded or not); surrounding
    /// whitespace (a newline from `az ... -o tsv`) is ignored.
    pub fn parse(text: &str) -> Result<LogKey, KeyError> {
        use base64::Engine;
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError("is empty"));
        }
        let key = if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| KeyError("is not hex"))?
        } else {
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::STANDARD_NO_PAD,
                base64::engine::general_purpose::URL_SAFE,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|e| e.decode(text).ok())
                .ok_or(KeyError("is neither hex nor base64"))?
        };
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError("is too short"));
        }
        let id = hex::encode(mac(&key, b"drbook log key id"))[..8].to_string();
        Ok(LogKey { key, id })
    }

    /// The key in `DRBOOK_LOG_KEY`, if set.
    pub fn from_env() -> Result<Option<LogKey>, KeyError> {
        match std::env::var(KEY_ENV) {
            Ok(v) => LogKey::parse(&v).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError("is not text")),
        }
    }

    /// A fingerprint of the key (8 hex of an HMAC of a fixed text): names the key in the
    /// log's header so a wrong key is told from an edit, and reveals nothing of it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What a header records of this key.
    pub fn chain(&self) -> super::event::KeyedChain {
        super::event::KeyedChain {
            alg: KEYED_ALG.into(),
            key_id: self.id.clone(),
        }
    }
}

fn mac(key: &[u8], bytes: &[u8]) -> [u8; 32] {
    mac_parts(key, &[bytes])
}

fn mac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    // HMAC takes a key of any length, so this cannot fail.
    let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// A line's hash: SHA-256 of its canonical body, or HMAC-SHA256 with `key`.
pub fn line_hash(body: &[u8], key: Option<&LogKey>) -> String {
    match key {
        None => sha256_hex(body),
        Some(k) => hex::encode(mac(&k.key, body)),
    }
}

/// Builds the canonical body of a line: `{"seq":..,"ts":..,"actor":..,<kind members>,"prev":..}`.
pub fn body(
    seq: u64,
    ts: &str,
    actor: &str,
    kind: &EventKind,
    prev: &str,
) -> Result<String, serde_json::Error> {
    let kind = kind.to_json()?;
    // `to_json` always yields an object that starts with its `event` member.
    let inner = kind
        .strip_prefix('{')
        .and_then(|k| k.strip_suffix('}'))
        .unwrap_or("\"event\":\"unknown\"");
    Ok(format!(
        "{{\"seq\":{seq},\"ts\":{},\"actor\":{},{inner},\"prev\":\"{prev}\"}}",
        serde_json::to_string(ts)?,
        serde_json::to_string(actor)?
    ))
}

/// The full line (with newline) for a body, and the body's hash.
pub fn seal(body: &str) -> (String, String) {
    seal_with(body, None)
}

/// `seal`, keyed when `key` is given.
pub(crate) fn seal_with(body: &str, key: Option<&LogKey>) -> (String, String) {
    let hash = line_hash(body.as_bytes(), key);
    (with_hash(body, &hash), hash)
}

/// The line (with newline) of a body whose hash is known.
pub fn with_hash(body: &str, hash: &str) -> String {
    let open = body.strip_suffix('}').unwrap_or(body);
    format!("{open},\"hash\":\"{hash}\"}}\n")
}

/// How a walk checks each line's content against its hash.
#[derive(Clone, Copy)]
enum Check<'a> {
    Sha256,
    Hmac(&'a LogKey),
    /// A keyed log without its key: only the links (seq, prev, header) can be checked.
    LinksOnly,
}

/// Whether the hash a line (without newline) claims is the hash of its canonical body;
/// `None` if the line does not end in a well-formed `hash` member.
#[cfg(test)]
fn hash_matches(line: &[u8]) -> Option<bool> {
    hash_matches_with(line, Check::Sha256)
}

fn hash_matches_with(line: &[u8], check: Check<'_>) -> Option<bool> {
    let cut = line.len().checked_sub(HASH_MEMBER_LEN)?;
    let (open, member) = line.split_at(cut);
    let claimed = member.strip_prefix(HASH_KEY)?.strip_suffix(b"\"}")?;
    if !claimed
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return None;
    }
    let digest: [u8; 32] = match check {
        Check::Sha256 => {
            let mut hasher = Sha256::new();
            hasher.update(open);
            hasher.update(b"}");
            hasher.finalize().into()
        }
        Check::Hmac(key) => mac_parts(&key.key, &[open, b"}"]),
        Check::LinksOnly => return Some(true),
    };
    let mut actual = [0u8; 64];
    hex::encode_to_slice(digest, &mut actual).ok()?;
    Some(claimed == actual)
}

/// The last trusted event of a chain: its seq and hash pin everything before it, so quoted
/// in the incident ticket they reveal a log later cut short or re-chained.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    /// Characters of the hash shown: enough to tell two chains apart by eye.
    pub const SHORT: usize = 8;

    /// The head of `events` as a walk returned them (the last one).
    pub fn of(events: &[Event]) -> Option<Head> {
        events.last().map(Head::at)
    }

    pub fn at(event: &Event) -> Head {
        Head {
            seq: event.seq,
            hash: event.hash.clone(),
        }
    }

    /// The first `SHORT` characters of the hash (by character: a hash read from a log is
    /// input).
    pub fn short(&self) -> String {
        self.hash.chars().take(Head::SHORT).collect()
    }
}

/// `#412 3f9a1c2e`: what to quote.
impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} {}", self.seq, self.short())
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// Every line is whole and chained.
    Intact { events: usize },
    /// The last line was torn (a crash or power loss mid-write); every line before it is
    /// whole and chained. `open_for_resume` cuts the torn line off and says so in the log.
    Truncated {
        /// 1-based line number of the torn line.
        at_line: usize,
        /// Whole events before it.
        recovered_events: usize,
        /// Bytes of the torn line.
        dropped_bytes: u64,
    },
    /// A whole line was edited, deleted, inserted or moved: events before `first_bad_seq`
    /// can be trusted, it and everything after cannot.
    Altered {
        first_bad_seq: u64,
        line: usize,
        reason: String,
    },
    /// The file could not be read.
    Unreadable { reason: String },
    /// A file that is not an incident log at all (empty, random text, JSON or bytes whose
    /// first line is not a drbook event): said as such, never as a damaged log.
    NotALog { why: String },
    /// A keyed chain read without its key (or with another key): its links hold, but whether
    /// a line's content is what was written cannot be checked, so it is not called intact.
    /// Or (`keyed: false`) a plain chain read by someone who holds the key and so expects a
    /// keyed one: its SHA-256 chain holds, but anyone could have re-chained it.
    Unverified {
        events: usize,
        keyed: bool,
        reason: String,
    },
}

impl Integrity {
    /// Intact or truncated: the log can be trusted up to where it ends.
    pub fn is_trustworthy(&self) -> bool {
        matches!(self, Integrity::Intact { .. } | Integrity::Truncated { .. })
    }
}

impl std::fmt::Display for Integrity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Integrity::Intact { events } => {
                write!(f, "intact: {events} events, hash chain verified")
            }
            Integrity::Truncated {
                at_line,
                recovered_events,
                dropped_bytes,
            } => write!(
                f,
                "truncated: line {at_line} was cut off mid-write ({dropped_bytes} bytes); the {recovered_events} events before it are intact"
            ),
            Integrity::Altered {
                first_bad_seq,
                line,
                reason,
            } => write!(
                f,
                "ALTERED from event {first_bad_seq} (line {line}): {reason}; events before it are intact, it and everything after cannot be trusted"
            ),
            Integrity::Unreadable { reason } => write!(f, "unreadable: {reason}"),
            Integrity::NotALog { why } => write!(f, "not a drbook incident log ({why})"),
            Integrity::Unverified {
                events,
                keyed: true,
                reason,
            } => write!(
                f,
                "keyed: {reason} ({events} events whose links hold; their content cannot be checked)"
            ),
            Integrity::Unverified {
                events,
                keyed: false,
                reason,
            } => write!(f, "{reason} ({events} events; their SHA-256 chain holds)"),
        }
    }
}

/// The result of walking a log: the trusted events, where they end in the bytes, and the
/// verdict.
#[derive(Debug, Clone)]
pub struct Walk {
    pub events: Vec<Event>,
    /// Bytes of the trusted prefix (whole, chained lines).
    pub good_len: u64,
    pub integrity: Integrity,
}

/// Verifies a log's bytes.
pub fn verify(bytes: &[u8]) -> Integrity {
    walk(bytes).integrity
}

/// Whether the log in `bytes` says its chain is keyed (its header, unchecked).
pub fn is_keyed(bytes: &[u8]) -> bool {
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    matches!(
        Event::decode(first).map(|e| e.kind),
        Ok(EventKind::IncidentStarted(Header { keyed: Some(_), .. }))
    )
}

/// Verifies a log's bytes, a keyed log with `key`.
pub fn verify_with(bytes: &[u8], key: Option<&LogKey>) -> Integrity {
    walk_with(bytes, key).integrity
}

/// Verifies a log file; a file that cannot be read is `Unreadable`.
pub fn verify_file(path: &std::path::Path) -> Integrity {
    match super::read::read_bytes(path) {
        Ok(bytes) => verify(&bytes),
        Err(e) => Integrity::Unreadable {
            reason: e.to_string(),
        },
    }
}

/// Lines per rayon task when checking lines in parallel: enough that a task's work dwarfs
/// handing it out.
const LINES_PER_TASK: usize = 256;

/// Walks every line, checking hash, chain and sequence, and decoding events.
///
/// What a line can be checked for on its own (is it whole JSON, does its content match its
/// hash, does it decode, is its `seq` its line number) is checked for all lines in
/// parallel; then the links (`prev` against the previous line's `hash`, the header first and
/// only first) are checked in order, and the walk stops at the first problem exactly as a
/// line-by-line walk does.
pub fn walk(bytes: &[u8]) -> Walk {
    walk_with(bytes, None)
}

/// `walk`, checking a keyed log's hashes with `key` (a plain log is checked as ever, and
/// called `Unverified` rather than intact: who holds the key expects a keyed log).
pub fn walk_with(bytes: &[u8], key: Option<&LogKey>) -> Walk {
    use rayon::prelude::*;

    // The lines in order, without their newlines: a last line without a newline counts, the
    // empty "line" after a final newline does not.
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for newline in memchr::memchr_iter(b'\n', bytes) {
        lines.push(&bytes[start..newline]);
        start = newline + 1;
    }
    if start < bytes.len() {
        lines.push(&bytes[start..]);
    }
    // The header says how the lines are hashed.
    let header = lines.first().and_then(|l| Event::decode(l).ok());
    let (check, unverified) = match header.as_ref().map(|e| &e.kind) {
        Some(EventKind::IncidentStarted(h)) => match (&h.keyed, key) {
            (None, None) => (Check::Sha256, None),
            // Who holds the key expects keyed logs: one without it was written without the
            // key, or re-chained by someone who does not have it (key stripped).
            (None, Some(_)) => (
                Check::Sha256,
                Some(format!(
                    "NOT KEYED, though {KEY_ENV} is set: written without the key, or re-chained by someone without it"
                )),
            ),
            (Some(k), _) if k.alg != KEYED_ALG => (
                Check::LinksOnly,
                Some(format!("not verified: unknown keyed algorithm `{}`", k.alg)),
            ),
            (Some(k), Some(key)) if k.key_id == key.id() => (Check::Hmac(key), None),
            (Some(k), Some(key)) => (
                Check::LinksOnly,
                Some(format!(
                    "not verified: {KEY_ENV} is not this log's key (its key id is {}, {KEY_ENV}'s is {})",
                    k.key_id,
                    key.id()
                )),
            ),
            (Some(_), None) => (
                Check::LinksOnly,
                Some(format!("not verified without {KEY_ENV}")),
            ),
        },
        _ => (Check::Sha256, None),
    };
    // Each line's event (a stand-in where the line is at fault) and its fault, each
    // written straight into its place: no second vector of events to move them into.
    let mut events: Vec<Event> = Vec::new();
    let mut faults: Vec<Option<LineFault>> = Vec::new();
    lines
        .par_iter()
        .with_min_len(LINES_PER_TASK)
        .enumerate()
        .map(
            |(i, line)| match check_unlinked(line, i as u64 + 1, check) {
                Ok(event) => (event, None),
                Err(fault) => (stand_in(), Some(fault)),
            },
        )
        .unzip_into_vecs(&mut events, &mut faults);
    let (trusted, good_len, mut integrity) = link(bytes, &lines, &events, &faults);
    // Every line before `trusted` is an event, not a stand-in.
    events.truncate(trusted);
    if trusted == 0 {
        integrity = without_header(integrity, header.as_ref());
    }
    if let Some(reason) = unverified
        && matches!(
            integrity,
            Integrity::Intact { .. } | Integrity::Truncated { .. }
        )
    {
        let reason = match integrity {
            Integrity::Truncated { at_line, .. } => {
                format!("{reason}; line {at_line} was cut off mid-write")
            }
            _ => reason,
        };
        integrity = Integrity::Unverified {
            events: events.len(),
            keyed: !matches!(check, Check::Sha256),
            reason,
        };
    }
    Walk {
        events,
        good_len,
        integrity,
    }
}

/// The verdict on a file whose first line is at fault. A first line that is a drbook event
/// (an edited header, or another event where the header was deleted) is an alteration; one
/// that is not an event at all makes a file that is not an incident log, whatever else it
/// is (never "altered", and never "truncated", which would call it trusted). Every log
/// starts whole: its header is on disk before it gets its name.
fn without_header(integrity: Integrity, first: Option<&Event>) -> Integrity {
    if matches!(
        integrity,
        Integrity::Unreadable { .. } | Integrity::NotALog { .. }
    ) || first.is_some()
    {
        return integrity;
    }
    let why = match &integrity {
        Integrity::Altered { reason, .. } => reason.clone(),
        _ => "line 1 is not a whole event".to_string(),
    };
    Integrity::NotALog {
        why: format!("first line is not an incident header: {why}"),
    }
}

/// What stands in `walk`'s events for a line at fault (never returned: the walk stops
/// before it); allocates nothing.
fn stand_in() -> Event {
    Event {
        seq: 0,
        ts: chrono::DateTime::UNIX_EPOCH,
        actor: String::new(),
        kind: EventKind::Resumed {},
        prev: String::new(),
        hash: String::new(),
    }
}

/// Follows the chain through the checked lines: how many events can be trusted, the bytes
/// they take, and the verdict.
fn link(
    bytes: &[u8],
    lines: &[&[u8]],
    events: &[Event],
    faults: &[Option<LineFault>],
) -> (usize, u64, Integrity) {
    let mut prev = GENESIS;
    let mut offset = 0usize;
    for (i, ((line, event), fault)) in lines.iter().zip(events).zip(faults).enumerate() {
        let line_no = i + 1;
        let seq = line_no as u64;
        // Whether the line's newline is there.
        let whole = offset + line.len() < bytes.len();
        let is_last = offset + line.len() + usize::from(whole) >= bytes.len();
        let unlinked;
        let fault = match fault {
            None => match check_link(event, seq, prev) {
                Ok(()) if !whole => {
                    // A complete, chained line whose newline never reached the disk: keep
                    // the event, restore the newline on resume.
                    let integrity = Integrity::Truncated {
                        at_line: line_no,
                        recovered_events: line_no,
                        dropped_bytes: 0,
                    };
                    return (line_no, bytes.len() as u64, integrity);
                }
                Ok(()) => {
                    prev = &event.hash;
                    offset += line.len() + 1;
                    continue;
                }
                Err(fault) => {
                    unlinked = fault;
                    &unlinked
                }
            },
            Some(fault) => fault,
        };
        let integrity = match fault {
            LineFault::Torn if is_last => Integrity::Truncated {
                at_line: line_no,
                recovered_events: line_no - 1,
                dropped_bytes: (bytes.len() - offset) as u64,
            },
            fault => Integrity::Altered {
                first_bad_seq: seq,
                line: line_no,
                reason: fault.to_string(),
            },
        };
        return (line_no - 1, offset as u64, integrity);
    }
    if lines.is_empty() {
        let integrity = Integrity::NotALog {
            why: "first line is not an incident header: the file is empty".into(),
        };
        return (0, 0, integrity);
    }
    let integrity = Integrity::Intact {
        events: lines.len(),
    };
    (lines.len(), bytes.len() as u64, integrity)
}

#[derive(Debug, thiserror::Error)]
enum LineFault {
    /// Not a JSON line at all: what a torn write leaves.
    #[error("line is not a whole event")]
    Torn,
    #[error("line does not end in a well-formed `hash` member")]
    NoHash,
    #[error("content does not match its hash: the line was edited")]
    Edited,
    #[error(
        "`prev` does not match the previous line's hash: a line before it was deleted, inserted or moved"
    )]
    Unchained,
    #[error("seq {found} where {expected} was expected: lines were deleted, inserted or moved")]
    Seq { found: u64, expected: u64 },
    #[error("the first event is `{0}`, not `incident_started`")]
    NoHeader(String),
    #[error("`incident_started` after the first line")]
    SecondHeader,
    #[error("the hash matches but the line is not an event: {0}")]
    Undecodable(String),
}

/// The checks of one line that do not need the line before it, in the order a reader
/// meets the problems: not JSON, no hash member, content not matching its hash, not an
/// event, `seq` out of place.
fn check_unlinked(line: &[u8], seq: u64, check: Check<'_>) -> Result<Event, LineFault> {
    let event = match Event::decode_typed(line) {
        // Decoding it proved it is whole JSON.
        Some(event) => {
            if !hash_matches_with(line, check).ok_or(LineFault::NoHash)? {
                return Err(LineFault::Edited);
            }
            event
        }
        None => {
            if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
                return Err(LineFault::Torn);
            }
            if !hash_matches_with(line, check).ok_or(LineFault::NoHash)? {
                return Err(LineFault::Edited);
            }
            Event::decode_value(line).map_err(|e| LineFault::Undecodable(e.to_string()))?
        }
    };
    if event.seq != seq {
        return Err(LineFault::Seq {
            found: event.seq,
            expected: seq,
        });
    }
    Ok(event)
}

/// The checks of a line against the chain before it: its `prev`, and the header being
/// first and only first.
fn check_link(event: &Event, seq: u64, prev: &str) -> Result<(), LineFault> {
    if event.prev != prev {
        return Err(LineFault::Unchained);
    }
    match (&event.kind, seq) {
        (EventKind::IncidentStarted(_), 1) => {}
        (EventKind::IncidentStarted(_), _) => return Err(LineFault::SecondHeader),
        (other, 1) => return Err(LineFault::NoHeader(other.name().to_string())),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::event::tests::sample_header;

    /// A log of `n` lines built the way the writer builds them: header, then notes.
    fn log_bytes(n: u64) -> Vec<u8> {
        let mut prev = GENESIS.to_string();
        let mut out = String::new();
        for seq in 1..=n {
            let kind = if seq == 1 {
                EventKind::IncidentStarted(sample_header())
            } else {
                EventKind::Note {
                    runbook: None,
                    step: None,
                    text: format!("note {seq}"),
                }
            };
            let ts = format!("2026-11-25T01:52:{:02}.000Z", seq % 60);
            let (line, hash) = seal(&body(seq, &ts, "alice", &kind, &prev).unwrap());
            out.push_str(&line);
            prev = hash;
        }
        out.into_bytes()
    }

    fn lines(bytes: &[u8]) -> Vec<String> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn join(lines: &[String]) -> Vec<u8> {
        lines
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn an_intact_log_verifies_and_the_documented_recipe_agrees() {
        let bytes = log_bytes(5);
        assert_eq!(verify(&bytes), Integrity::Intact { events: 5 });
        // The recipe from the module docs, with string operations only.
        let mut prev = GENESIS.to_string();
        for line in lines(&bytes) {
            let body = format!("{}}}", &line[..line.len() - 75]);
            let hash = &line[line.len() - 66..line.len() - 2];
            assert_eq!(sha256_hex(body.as_bytes()), hash);
            assert!(body.contains(&format!("\"prev\":\"{prev}\"")));
            prev = hash.to_string();
        }
        let w = walk(&bytes);
        assert_eq!(w.events.len(), 5);
        assert_eq!(w.good_len, bytes.len() as u64);
        assert_eq!(w.events[0].prev, GENESIS);
        assert_eq!(w.events[4].prev, w.events[3].hash);
    }

    #[test]
    fn an_edited_field_is_found_at_its_event() {
        let mut l = lines(&log_bytes(6));
        l[2] = l[2].replace("note 3", "note X");
        let got = verify(&join(&l));
        assert!(
            matches!(&got, Integrity::Altered { first_bad_seq: 3, line: 3, reason } if reason.contains("edited")),
            "{got:?}"
        );
        // Even a whitespace change counts.
        let mut l = lines(&log_bytes(6));
        l[3] = l[3].replacen(",\"actor\"", ", \"actor\"", 1);
        assert!(matches!(
            verify(&join(&l)),
            Integrity::Altered {
                first_bad_seq: 4,
                ..
            }
        ));
    }

    #[test]
    fn rehashing_an_edited_line_moves_the_break_but_cannot_hide_it() {
        let mut l = lines(&log_bytes(6));
        let edited = l[2].replace("note 3", "note X");
        let body = format!("{}}}", &edited[..edited.len() - 75]);
        let (line, _) = seal(&body);
        l[2] = line.trim_end().to_string();
        let got = verify(&join(&l));
        assert!(
            matches!(&got, Integrity::Altered { first_bad_seq: 4, reason, .. } if reason.contains("prev")),
            "{got:?}"
        );
        // What came before the break is still handed out.
        assert_eq!(walk(&join(&l)).events.len(), 3);
    }

    #[test]
    fn deleted_inserted_and_reordered_lines_are_found() {
        let l = lines(&log_bytes(6));
        let mut deleted = l.clone();
        deleted.remove(2);
        assert!(
            matches!(verify(&join(&deleted)), Integrity::Altered { first_bad_seq: 3, line: 3, ref reason } if reason.contains("seq 4")),
            "{:?}",
            verify(&join(&deleted))
        );
        let mut swapped = l.clone();
        swapped.swap(3, 4);
        assert!(matches!(
            verify(&join(&swapped)),
            Integrity::Altered {
                first_bad_seq: 4,
                ..
            }
        ));
        let mut duplicated = l.clone();
        duplicated.insert(2, l[1].clone());
        assert!(matches!(
            verify(&join(&duplicated)),
            Integrity::Altered {
                first_bad_seq: 3,
                ..
            }
        ));
        let mut headless = l.clone();
        headless.remove(0);
        assert!(matches!(
            verify(&join(&headless)),
            Integrity::Altered {
                first_bad_seq: 1,
                ..
            }
        ));
        let mut garbage = l;
        garbage[1] = "\0\0\0\0".into();
        assert!(matches!(
            verify(&join(&garbage)),
            Integrity::Altered {
                first_bad_seq: 2,
                ..
            }
        ));
    }

    #[test]
    fn a_cut_anywhere_is_intact_at_line_ends_and_truncated_elsewhere() {
        let bytes = log_bytes(4);
        let ends: Vec<usize> = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        for cut in 0..=bytes.len() {
            let whole = ends.iter().filter(|e| **e <= cut).count();
            let start = ends.iter().rev().find(|e| **e <= cut).copied().unwrap_or(0);
            let got = verify(&bytes[..cut]);
            let want = if cut == 0 {
                Integrity::NotALog {
                    why: "first line is not an incident header: the file is empty".into(),
                }
            } else if whole == 0 && !ends.contains(&(cut + 1)) {
                // A torn header: no drbook log is ever published so (it gets its name once
                // the header is on disk), so this is something else.
                Integrity::NotALog {
                    why: "first line is not an incident header: line 1 is not a whole event".into(),
                }
            } else if ends.contains(&cut) {
                Integrity::Intact { events: whole }
            } else if ends.contains(&(cut + 1)) {
                // Only the newline is missing: the event itself is whole and kept.
                Integrity::Truncated {
                    at_line: whole + 1,
                    recovered_events: whole + 1,
                    dropped_bytes: 0,
                }
            } else {
                Integrity::Truncated {
                    at_line: whole + 1,
                    recovered_events: whole,
                    dropped_bytes: (cut - start) as u64,
                }
            };
            assert_eq!(got, want, "cut at {cut}");
        }
    }

    #[test]
    fn a_torn_last_line_that_ends_in_a_newline_is_truncation() {
        let mut bytes = log_bytes(3);
        bytes.extend_from_slice(b"{\"seq\":4,\"ts\":\0\0\0\n");
        assert!(matches!(
            verify(&bytes),
            Integrity::Truncated {
                at_line: 4,
                recovered_events: 3,
                dropped_bytes: 18
            }
        ));
    }

    #[test]
    fn unknown_kinds_verify_and_are_kept() {
        let mut bytes = log_bytes(2);
        let prev = walk(&bytes).events[1].hash.clone();
        let kind = EventKind::Unknown {
            event: "quantum_failover".into(),
            fields: serde_json::from_str(r#"{"qubits":7}"#).unwrap(),
        };
        let (line, _) = seal(&body(3, "2026-11-25T01:53:00.000Z", "bob", &kind, &prev).unwrap());
        bytes.extend_from_slice(line.as_bytes());
        assert_eq!(verify(&bytes), Integrity::Intact { events: 3 });
        assert_eq!(walk(&bytes).events[2].kind, kind);
    }

    /// The line-by-line walk as it was before lines were checked in parallel, with the
    /// decoding through `serde_json::Value` it used: the reference `walk` must agree with.
    fn reference_walk(bytes: &[u8]) -> Walk {
        fn decode(line: &[u8]) -> Result<Event, crate::incident::event::DecodeError> {
            use crate::incident::event::DecodeError;
            use chrono::{DateTime, Utc};
            use serde_json::Value;
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
                .and_then(|v| {
                    v.as_str()
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                })
                .map(|t| t.with_timezone(&Utc))
                .ok_or(DecodeError::Field("ts"))?;
            let actor = match map.remove("actor") {
                None => String::new(),
                Some(Value::String(s)) => s,
                Some(_) => return Err(DecodeError::Field("actor")),
            };
            let mut take = |key: &'static str| match map.remove(key) {
                Some(Value::String(s)) => Ok(s),
                _ => Err(DecodeError::Field(key)),
            };
            let prev = take("prev")?;
            let hash = take("hash")?;
            let event = match map.get("event") {
                Some(Value::String(s)) => s.clone(),
                _ => return Err(DecodeError::Field("event")),
            };
            let kind = match serde_json::from_value::<EventKind>(Value::Object(map.clone())) {
                Ok(kind) => kind,
                Err(_) => {
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
        fn check_line(line: &[u8], seq: u64, prev: &str) -> Result<Event, LineFault> {
            if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
                return Err(LineFault::Torn);
            }
            if !hash_matches(line).ok_or(LineFault::NoHash)? {
                return Err(LineFault::Edited);
            }
            let event = decode(line).map_err(|e| LineFault::Undecodable(e.to_string()))?;
            if event.seq != seq {
                return Err(LineFault::Seq {
                    found: event.seq,
                    expected: seq,
                });
            }
            check_link(&event, seq, prev)?;
            Ok(event)
        }
        let mut events: Vec<Event> = Vec::new();
        let mut prev = GENESIS.to_string();
        let mut offset = 0usize;
        let mut line_no = 0usize;
        while offset < bytes.len() {
            line_no += 1;
            let rest = &bytes[offset..];
            let (line, whole) = match rest.iter().position(|b| *b == b'\n') {
                Some(n) => (&rest[..n], true),
                None => (rest, false),
            };
            let is_last = offset + line.len() + usize::from(whole) >= bytes.len();
            let seq = line_no as u64;
            match check_line(line, seq, &prev) {
                Ok(event) => {
                    events.push(event);
                    if !whole {
                        let recovered_events = events.len();
                        return Walk {
                            events,
                            good_len: bytes.len() as u64,
                            integrity: Integrity::Truncated {
                                at_line: line_no,
                                recovered_events,
                                dropped_bytes: 0,
                            },
                        };
                    }
                    prev = events[events.len() - 1].hash.clone();
                    offset += line.len() + 1;
                }
                Err(fault) => {
                    let mut integrity = match fault {
                        LineFault::Torn if is_last => Integrity::Truncated {
                            at_line: line_no,
                            recovered_events: events.len(),
                            dropped_bytes: (bytes.len() - offset) as u64,
                        },
                        fault => Integrity::Altered {
                            first_bad_seq: seq,
                            line: line_no,
                            reason: fault.to_string(),
                        },
                    };
                    if events.is_empty() {
                        integrity = without_header(integrity, decode(line).ok().as_ref());
                    }
                    return Walk {
                        events,
                        good_len: offset as u64,
                        integrity,
                    };
                }
            }
        }
        if events.is_empty() {
            return Walk {
                events,
                good_len: 0,
                integrity: Integrity::NotALog {
                    why: "first line is not an incident header: the file is empty".into(),
                },
            };
        }
        Walk {
            good_len: bytes.len() as u64,
            integrity: Integrity::Intact {
                events: events.len(),
            },
            events,
        }
    }

    fn assert_walks_agree(bytes: &[u8], what: &str) {
        let got = walk(bytes);
        let want = reference_walk(bytes);
        assert_eq!(got.integrity, want.integrity, "{what}");
        assert_eq!(got.good_len, want.good_len, "{what}");
        assert_eq!(got.events, want.events, "{what}");
    }

    /// Every kind, an unknown one, and lines that only the `Value` reading can read (or
    /// that nothing can), sealed so that their hashes match.
    fn odd_log() -> Vec<String> {
        let mut kinds = crate::incident::event::tests::every_kind();
        kinds.push(EventKind::Unknown {
            event: "quantum_failover".into(),
            fields: serde_json::from_str(r#"{"qubits":7,"runbook":[1]}"#).unwrap(),
        });
        let mut out = Vec::new();
        let mut prev = GENESIS.to_string();
        for (i, kind) in kinds.iter().enumerate() {
            let seq = i as u64 + 1;
            let ts = format!("2026-11-25T01:52:{:02}.000Z", seq % 60);
            let (line, hash) = seal(&body(seq, &ts, "alice", kind, &prev).unwrap());
            out.push(line.trim_end().to_string());
            prev = hash;
        }
        out
    }

    /// Replaces line `i` of `lines` by `body` (a line without `hash`) sealed, and reseals
    /// what follows so that only `body` can be at fault.
    fn reseal(lines: &[String], i: usize, body_of: impl Fn(&str) -> String) -> Vec<u8> {
        let mut out = String::new();
        let mut prev = GENESIS.to_string();
        for (n, line) in lines.iter().enumerate() {
            let open = &line[..line.len() - HASH_MEMBER_LEN];
            let open = open.replacen(
                &format!("\"prev\":\"{}", &open[open.len() - 64..]),
                &format!("\"prev\":\"{prev}"),
                1,
            );
            let mut body = format!("{open}}}");
            if n == i {
                body = body_of(&body);
            }
            let (line, hash) = seal(&body);
            out.push_str(&line);
            prev = hash;
        }
        out.into_bytes()
    }

    #[test]
    fn the_parallel_walk_agrees_with_the_line_by_line_walk() {
        let lines = odd_log();
        let bytes = join(&lines);
        assert_walks_agree(&bytes, "as written");
        assert!(matches!(verify(&bytes), Integrity::Intact { .. }));
        // Every cut.
        for cut in 0..=bytes.len() {
            assert_walks_agree(&bytes[..cut], &format!("cut at {cut}"));
        }
        // Every byte of two lines overwritten, with bytes that matter to JSON and UTF-8.
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        for line in [1, 7] {
            for at in starts[line]..starts[line + 1] {
                for b in [b'X', b'"', b'}', b'\\', b'\n', 0, 0xff] {
                    let mut edited = bytes.clone();
                    edited[at] = b;
                    assert_walks_agree(&edited, &format!("byte {at} = {b}"));
                }
            }
        }
        // Lines whose hash matches but that are odd, each in the middle and at the end.
        type Edit = Box<dyn Fn(&str) -> String>;
        let odd: Vec<(&str, Edit)> = vec![
            (
                "no actor",
                Box::new(|b: &str| b.replacen(",\"actor\":\"alice\"", "", 1)),
            ),
            (
                "null actor",
                Box::new(|b: &str| b.replacen("\"actor\":\"alice\"", "\"actor\":null", 1)),
            ),
            (
                "numeric actor",
                Box::new(|b: &str| b.replacen("\"actor\":\"alice\"", "\"actor\":7", 1)),
            ),
            (
                "float seq",
                Box::new(|b: &str| b.replacen(",\"ts\"", ".0,\"ts\"", 1)),
            ),
            (
                "duplicate seq",
                Box::new(|b: &str| b.replacen("{\"seq\":", "{\"seq\":0,\"seq\":", 1)),
            ),
            (
                "duplicate event",
                Box::new(|b: &str| b.replacen(",\"event\":", ",\"event\":\"note\",\"event\":", 1)),
            ),
            (
                "duplicate runbook",
                Box::new(|b: &str| {
                    b.replacen(",\"runbook\":", ",\"runbook\":\"x\",\"runbook\":", 1)
                }),
            ),
            (
                "escaped ts",
                Box::new(|b: &str| b.replacen("T01:", "\\u005401:", 1)),
            ),
            ("bad ts", Box::new(|b: &str| b.replacen("T01:", "X01:", 1))),
            (
                "escaped key",
                Box::new(|b: &str| b.replacen("\"runbook\":", "\"run\\u0062ook\":", 1)),
            ),
            (
                "extra member",
                Box::new(|b: &str| {
                    b.replacen(",\"prev\"", ",\"extra\":[1,{\"a\":null}],\"prev\"", 1)
                }),
            ),
            (
                "invalid UTF-8 in an ignored string",
                Box::new(|b: &str| b.replacen(",\"prev\"", ",\"extra\":\"\u{fffd}\",\"prev\"", 1)),
            ),
            ("not an object", Box::new(|b: &str| format!("[{b}]"))),
            (
                "trailing garbage",
                Box::new(|b: &str| b.replacen("{", "{} ", 1)),
            ),
            (
                "unknown event name",
                Box::new(|b: &str| b.replacen(",\"event\":\"", ",\"event\":\"x_", 1)),
            ),
            (
                "event not a string",
                Box::new(|b: &str| b.replacen(",\"event\":", ",\"event\":1,\"was\":", 1)),
            ),
            (
                "no prev",
                Box::new(|b: &str| b.replacen(",\"prev\":", ",\"prv\":", 1)),
            ),
        ];
        for (what, edit) in &odd {
            for i in [3, 5, 8, lines.len() - 1] {
                let bytes = reseal(&lines, i, edit);
                assert_walks_agree(&bytes, &format!("{what} on line {}", i + 1));
                assert_walks_agree(
                    &bytes[..bytes.len() - 1],
                    &format!("{what} on line {}, no newline", i + 1),
                );
            }
        }
        // Invalid UTF-8 in a string of the last line, its hash matching: in a string the
        // kind reads, and in a member nothing reads.
        let last = lines.len() - 1;
        let open = &lines[last][..lines[last].len() - HASH_MEMBER_LEN];
        for (what, body) in [
            ("read", open.replacen("qubits", "qub\u{fc}ts", 1)),
            (
                "ignored",
                open.replacen(",\"prev\"", ",\"extra\":\"\u{fc}\",\"prev\"", 1),
            ),
            ("envelope", open.replacen("alice", "al\u{fc}ce", 1)),
        ] {
            let mut body = format!("{body}}}").into_bytes();
            let at = body
                .windows(2)
                .position(|w| w == "\u{fc}".as_bytes())
                .unwrap();
            body.splice(at..at + 2, [0xff]);
            let hash = sha256_hex(&body);
            let mut bytes = join(&lines[..last]);
            bytes.extend_from_slice(&body[..body.len() - 1]);
            bytes.extend_from_slice(format!(",\"hash\":\"{hash}\"}}\n").as_bytes());
            assert_walks_agree(&bytes, &format!("invalid UTF-8 {what}"));
            assert!(
                matches!(verify(&bytes), Integrity::Altered { ref reason, .. } if reason.contains("UTF-8")),
                "{what}: {:?}",
                verify(&bytes)
            );
        }
    }

    #[test]
    fn a_file_without_a_valid_header_is_not_an_incident_log() {
        let log = log_bytes(3);
        let notes_only = {
            // A whole, chained log of notes only: its first line is no header.
            let text = String::from_utf8(log.clone()).unwrap();
            let first = text.lines().next().unwrap().to_string();
            text.replacen(&first, "", 1).trim_start().to_string()
        };
        for (what, bytes) in [
            ("plain text", b"hello world\n".to_vec()),
            ("one torn line", b"{\"seq\":1,\"ts\":".to_vec()),
            (
                "another tool's JSON",
                b"{\"level\":\"info\"}\n{\"level\":\"warn\"}\n".to_vec(),
            ),
            ("binary", vec![0x00, 0xff, 0xfe, 0x9c, b'\n', 0x01]),
        ] {
            let got = verify(&bytes);
            assert!(
                matches!(&got, Integrity::NotALog { why } if why.starts_with("first line is not an incident header")),
                "{what}: {got:?}"
            );
            assert!(
                got.to_string()
                    .starts_with("not a drbook incident log (first line is not an incident header"),
                "{what}: {got}"
            );
            assert!(!got.is_trustworthy(), "{what}");
        }
        // A log whose header was deleted, or edited, is an altered log, not a stranger.
        assert!(
            matches!(
                verify(notes_only.as_bytes()),
                Integrity::Altered {
                    first_bad_seq: 1,
                    ..
                }
            ),
            "{:?}",
            verify(notes_only.as_bytes())
        );
        let edited = String::from_utf8(log)
            .unwrap()
            .replacen("westeurope", "eastus", 1);
        assert!(
            matches!(
                verify(edited.as_bytes()),
                Integrity::Altered {
                    first_bad_seq: 1,
                    ..
                }
            ),
            "{:?}",
            verify(edited.as_bytes())
        );
    }

    #[test]
    fn verdicts_read_plainly() {
        let t = Integrity::Truncated {
            at_line: 9,
            recovered_events: 8,
            dropped_bytes: 17,
        }
        .to_string();
        assert!(t.contains("line 9") && t.contains("8 events"), "{t}");
        let a = Integrity::Altered {
            first_bad_seq: 4,
            line: 4,
            reason: "x".into(),
        }
        .to_string();
        assert!(a.starts_with("ALTERED from event 4"), "{a}");
    }
}
