//! Reading back a log written by the real writer: what `read_log` says of an unknown event
//! kind, an edited line and a torn last line, pinned to the exact verdicts, messages and
//! events that the line-by-line reader gave before reading became parallel (issue 4).

use std::path::{Path, PathBuf};

use drbook::incident::{
    EventKind, Header, IncidentLog, IncidentState, Integrity, Mode, Redactor, RunbookRef, read_log,
    verify_file,
};

fn header() -> Header {
    Header {
        incident_id: "read-test".into(),
        title: "read test".into(),
        mode: Mode::Live,
        level: None,
        operators: vec!["alice".into()],
        drbook_version: env!("CARGO_PKG_VERSION").into(),
        target: "none".into(),
        plan: None,
        runbooks: vec![RunbookRef {
            id: "rb".into(),
            file: "rb.toml".into(),
            sha256: "0".repeat(64),
            ..RunbookRef::default()
        }],
        auto_approve: false,
        share: None,
        keyed: None,
    }
}

fn unknown() -> EventKind {
    EventKind::Unknown {
        event: "quantum_failover".into(),
        fields: serde_json::from_str(r#"{"qubits":7,"nested":{"a":[1,"two",null]}}"#).unwrap(),
    }
}

/// A log of 1000 events: the header, steps of runbook `rb`, an event of a kind from a newer
/// drbook at seq 500, and notes. Returns its path and its bytes.
fn write_log(dir: &Path) -> (PathBuf, Vec<u8>) {
    let mut log = IncidentLog::create(dir, header(), Redactor::new(["not-a-secret"])).unwrap();
    for i in 2..=1000u64 {
        let kind = match i {
            500 => unknown(),
            i if i % 3 == 0 => EventKind::StepStarted {
                runbook: "rb".into(),
                step: format!("s{}", i % 40),
                title: Some(format!("Step \"{i}\" ünïcode")),
                attempt: 1,
            },
            i => EventKind::Note {
                runbook: None,
                step: None,
                text: format!("note {i}"),
            },
        };
        assert_eq!(log.append("alice", kind).unwrap().seq, i);
    }
    let path = log.path().to_path_buf();
    drop(log);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

#[test]
fn unknown_kinds_edits_and_torn_lines_read_exactly_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = write_log(dir.path());
    let starts = line_starts(&bytes);
    assert_eq!(starts.len(), 1001, "1000 lines and the end");

    // Intact, the unknown kind kept with its fields.
    let (events, integrity) = read_log(&path).unwrap();
    assert_eq!(integrity, Integrity::Intact { events: 1000 });
    assert_eq!(
        integrity.to_string(),
        "intact: 1000 events, hash chain verified"
    );
    assert_eq!(events.len(), 1000);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        assert_eq!(e.actor, "alice");
    }
    assert_eq!(events[499].kind, unknown());
    assert_eq!(events[499].kind.name(), "quantum_failover");
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev, pair[0].hash);
    }
    let state = IncidentState::fold(&events);
    assert_eq!(state.unknown_events, 1);
    assert_eq!(state.runbooks.len(), 1);
    assert_eq!(state.runbooks[0].steps.len(), 40);
    let first_steps: Vec<&str> = state.runbooks[0].steps[..4]
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(first_steps, ["s3", "s6", "s9", "s12"]);

    // An edited line (line 700): events before it are handed out, the verdict names it.
    let mut edited = bytes.clone();
    let at = starts[699]
        + std::str::from_utf8(&bytes[starts[699]..starts[700]])
            .unwrap()
            .find("note 700")
            .unwrap();
    edited[at + 5] = b'X';
    std::fs::write(&path, &edited).unwrap();
    let (events, integrity) = read_log(&path).unwrap();
    assert_eq!(
        integrity,
        Integrity::Altered {
            first_bad_seq: 700,
            line: 700,
            reason: "content does not match its hash: the line was edited".into(),
        }
    );
    assert_eq!(
        integrity.to_string(),
        "ALTERED from event 700 (line 700): content does not match its hash: the line was edited; \
         events before it are intact, it and everything after cannot be trusted"
    );
    assert_eq!(events.len(), 699);
    assert_eq!(verify_file(&path), integrity);

    // The unknown kind's line edited: the same, at 500.
    let mut edited = bytes.clone();
    let at = starts[499]
        + std::str::from_utf8(&bytes[starts[499]..starts[500]])
            .unwrap()
            .find("\"qubits\":7")
            .unwrap();
    edited[at + 9] = b'8';
    std::fs::write(&path, &edited).unwrap();
    let (events, integrity) = read_log(&path).unwrap();
    assert_eq!(
        integrity,
        Integrity::Altered {
            first_bad_seq: 500,
            line: 500,
            reason: "content does not match its hash: the line was edited".into(),
        }
    );
    assert_eq!(events.len(), 499);

    // A line deleted (line 300): found at the line that now stands there.
    let mut deleted = bytes[..starts[299]].to_vec();
    deleted.extend_from_slice(&bytes[starts[300]..]);
    std::fs::write(&path, &deleted).unwrap();
    let (events, integrity) = read_log(&path).unwrap();
    assert_eq!(
        integrity,
        Integrity::Altered {
            first_bad_seq: 300,
            line: 300,
            reason: "seq 301 where 300 was expected: lines were deleted, inserted or moved".into(),
        }
    );
    assert_eq!(events.len(), 299);

    // A torn last line (17 bytes of it reached the disk): truncated, the rest intact.
    let torn = &bytes[..starts[999] + 17];
    std::fs::write(&path, torn).unwrap();
    let (events, integrity) = read_log(&path).unwrap();
    assert_eq!(
        integrity,
        Integrity::Truncated {
            at_line: 1000,
            recovered_events: 999,
            dropped_bytes: 17,
        }
    );
    assert_eq!(
        integrity.to_string(),
        "truncated: line 1000 was cut off mid-write (17 bytes); the 999 events before it are intact"
    );
    assert_eq!(events.len(), 999);
    assert_eq!(events[499].kind, unknown());

    // Only the last newline missing: the last event is whole and kept.
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let (events, integrity) = read_log(&path).unwrap();
    assert_eq!(
        integrity,
        Integrity::Truncated {
            at_line: 1000,
            recovered_events: 1000,
            dropped_bytes: 0,
        }
    );
    assert_eq!(events.len(), 1000);

    // A torn line that is not the last one is an alteration, not a truncation.
    let mut torn_inside = bytes[..starts[400] + 17].to_vec();
    torn_inside.push(b'\n');
    torn_inside.extend_from_slice(&bytes[starts[401]..]);
    std::fs::write(&path, &torn_inside).unwrap();
    let (events, integrity) = read_log(&path).unwrap();
    assert_eq!(
        integrity,
        Integrity::Altered {
            first_bad_seq: 401,
            line: 401,
            reason: "line is not a whole event".into(),
        }
    );
    assert_eq!(events.len(), 400);
}
