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

use super::event::{Event, EventKind};

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_KEY: &[u8] = b",\"hash\":\"";
/// `,"hash":"` + 64 hex + `"}`.
const HASH_MEMBER_LEN: usize = HASH_KEY.len() + 64 + 2;

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Builds the canonical body of a line: `{"seq":..,"ts":..,"actor":..,<kind members>,"prev":..}`.
pub(crate) fn body(
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
pub(crate) fn seal(body: &str) -> (String, String) {
    let hash = sha256_hex(body.as_bytes());
    let open = body.strip_suffix('}').unwrap_or(body);
    (format!("{open},\"hash\":\"{hash}\"}}\n"), hash)
}

/// The hash a line (without newline) claims, and the hash of its canonical body; `None` if
/// the line does not end in a well-formed `hash` member.
fn claimed_and_actual(line: &[u8]) -> Option<(&str, String)> {
    let cut = line.len().checked_sub(HASH_MEMBER_LEN)?;
    let (open, member) = line.split_at(cut);
    let claimed = member.strip_prefix(HASH_KEY)?.strip_suffix(b"\"}")?;
    let claimed = std::str::from_utf8(claimed).ok()?;
    if !claimed
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(open);
    hasher.update(b"}");
    Some((claimed, hex::encode(hasher.finalize())))
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
    /// Not a log at all (empty, no header, or the file could not be read).
    Unreadable { reason: String },
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

/// Verifies a log file; a file that cannot be read is `Unreadable`.
pub fn verify_file(path: &std::path::Path) -> Integrity {
    match std::fs::read(path) {
        Ok(bytes) => verify(&bytes),
        Err(e) => Integrity::Unreadable {
            reason: format!("{}: {e}", path.display()),
        },
    }
}

/// Walks every line, checking hash, chain and sequence, and decoding events.
pub fn walk(bytes: &[u8]) -> Walk {
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
        let stop = |integrity| Walk {
            events: Vec::new(),
            good_len: offset as u64,
            integrity,
        };
        let checked = check_line(line, seq, &prev);
        match checked {
            Ok(event) => {
                if !whole {
                    // A complete, chained line whose newline never reached the disk: keep the
                    // event, restore the newline on resume.
                    events.push(event);
                    let mut w = stop(Integrity::Truncated {
                        at_line: line_no,
                        recovered_events: events.len(),
                        dropped_bytes: 0,
                    });
                    w.events = events;
                    w.good_len = bytes.len() as u64;
                    return w;
                }
                prev = event.hash.clone();
                events.push(event);
                offset += line.len() + 1;
            }
            Err(LineFault::Torn) if is_last => {
                let mut w = stop(Integrity::Truncated {
                    at_line: line_no,
                    recovered_events: events.len(),
                    dropped_bytes: (bytes.len() - offset) as u64,
                });
                w.events = events;
                return w;
            }
            Err(fault) => {
                let mut w = stop(Integrity::Altered {
                    first_bad_seq: seq,
                    line: line_no,
                    reason: fault.to_string(),
                });
                w.events = events;
                return w;
            }
        }
    }
    if events.is_empty() {
        return Walk {
            events,
            good_len: 0,
            integrity: Integrity::Unreadable {
                reason: "empty: no header".into(),
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

fn check_line(line: &[u8], seq: u64, prev: &str) -> Result<Event, LineFault> {
    if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
        return Err(LineFault::Torn);
    }
    let (claimed, actual) = claimed_and_actual(line).ok_or(LineFault::NoHash)?;
    if claimed != actual {
        return Err(LineFault::Edited);
    }
    let event = Event::decode(line).map_err(|e| LineFault::Undecodable(e.to_string()))?;
    if event.seq != seq {
        return Err(LineFault::Seq {
            found: event.seq,
            expected: seq,
        });
    }
    if event.prev != prev {
        return Err(LineFault::Unchained);
    }
    match (&event.kind, seq) {
        (EventKind::IncidentStarted(_), 1) => {}
        (EventKind::IncidentStarted(_), _) => return Err(LineFault::SecondHeader),
        (other, 1) => return Err(LineFault::NoHeader(other.name().to_string())),
        _ => {}
    }
    Ok(event)
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
                Integrity::Unreadable {
                    reason: "empty: no header".into(),
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
