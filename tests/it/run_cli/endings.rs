//! When the RTO counts from, and how a rehearsal ends: its reader gone, references left
//! unfilled, changes declined.

use super::*;

/// A runbook of two quick commands, RTO 1h.
fn quick_runbook(dir: &Path) -> PathBuf {
    let rb = dir.join("quick.toml");
    std::fs::write(
        &rb,
        r#"
[runbook]
id = "quick"
title = "Quick"
component = "web"
rto = "1h"

[[step]]
id = "look"
title = "Look"
kind = "command"
argv = ["true"]
destructive = false
"#,
    )
    .expect("runbook");
    rb
}

/// Headless output words each event as the TUI's timeline does (`incident::wording`): the
/// line for a step's start and finish says what the timeline says of the logged event.
#[test]
fn headless_lines_say_what_the_timeline_says() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = quick_runbook(dir.path());
    let o = drbook(
        &[
            "rehearse",
            rb.to_str().expect("utf-8 path"),
            "--target",
            "sim",
            "--non-interactive",
            "--run-commands",
        ],
        dir.path(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // Without a plan, the one runbook's RTO is the incident's: the start says the target the
    // scorecard judges against, not "none set".
    assert!(out.contains("RTO 1h (quick, no plan)"), "{out}");
    let (events, _) = read_log(&the_log(dir.path())).expect("log");
    let mut seen = 0;
    for e in &events {
        if matches!(
            e.kind,
            EventKind::StepStarted { .. } | EventKind::StepFinished { .. }
        ) {
            let (icon, words, _) = drbook::incident::wording::describe(&e.kind);
            let said = format!("{icon} {words}");
            assert!(
                out.lines().any(|l| l.contains(&said)),
                "no headless line says `{said}`:\n{out}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 2, "{out}");
}

/// `--since "30m ago"`: the outage start is logged, and the scorecard's recovery time counts
/// from it, not from when drbook started.
#[test]
fn the_rto_counts_from_the_outage_start_given_with_since() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = quick_runbook(dir.path());
    let o = drbook(
        &[
            "rehearse",
            rb.to_str().expect("utf-8 path"),
            "--target",
            "sim",
            "--non-interactive",
            "--run-commands",
            "--since",
            "30m ago",
        ],
        dir.path(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("✔ quick "))
        .unwrap_or_else(|| panic!("no table row: {out}"));
    // Taken as the report prints durations: `30m 09s`.
    let words: Vec<&str> = row.split_whitespace().collect();
    let took: u64 = words
        .windows(2)
        .find_map(|w| {
            let m: u64 = w[0].strip_suffix('m')?.parse().ok()?;
            let s: u64 = w[1].strip_suffix('s')?.parse().ok()?;
            Some(m * 60 + s)
        })
        .unwrap_or_else(|| panic!("no time taken in {row}"));
    assert!((1800..1900).contains(&took), "{row}");
    assert!(row.contains("within RTO (50% used)"), "{row}");
    let (events, _) = read_log(&the_log(dir.path())).expect("log");
    let at = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::OutageStart { at, previous: None } => Some(*at),
            _ => None,
        })
        .expect("an outage_start event");
    let before = events[0].ts - at;
    assert!(
        (1799..1805).contains(&before.num_seconds()),
        "{before:?} before the header"
    );
}

/// An outage start in the future, or unreadable, is refused before any incident is opened.
#[test]
fn since_in_the_future_or_unreadable_is_refused_before_a_log_is_opened() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = quick_runbook(dir.path());
    for (since, says) in [
        ("2999-01-01T00:00:00Z", "in the future"),
        ("half past two", "is not a time"),
    ] {
        let o = drbook(
            &[
                "rehearse",
                rb.to_str().expect("utf-8 path"),
                "--target",
                "sim",
                "--non-interactive",
                "--since",
                since,
            ],
            dir.path(),
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(out.contains("--since") && out.contains(says), "{out}");
        assert!(!out.contains("panicked"), "{out}");
    }
    assert!(
        !dir.path().join("logs").exists()
            || std::fs::read_dir(dir.path().join("logs")).is_ok_and(|mut d| d.next().is_none())
    );
}

/// `drbook rehearse ... | head`: the reader going away mid-incident neither panics drbook
/// (exit 101, the incident left open) nor stops the run: it ends as it would have, the log
/// closed and whole.
#[test]
fn a_rehearsal_whose_reader_goes_away_still_finishes_its_log() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = { outcome = \"ok\" }\n").expect("answers");
    let (reader, writer) = nix::unistd::pipe().expect("a pipe");
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rehearse", "runbooks/network.toml", "--target", "sim"])
        .args([
            "--non-interactive",
            "--auto-approve",
            "--max-delay",
            "100ms",
        ])
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .env("DRBOOK_CONFIG", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .expect("run drbook");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the rehearsal did not finish within 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    let (events, integrity) = read_log(&the_log(dir.path())).expect("readable");
    assert!(matches!(integrity, Integrity::Intact { .. }), "{integrity}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::IncidentClosed { .. })),
        "the incident was closed"
    );
}

/// A finished rehearsal of the shipped plan (given alone) leaves no unfilled `${...}` in its
/// log or in any postmortem format: step titles, confirmations and reports show the values
/// (the data-loss confirmation says "Make North Europe the write region").
#[test]
fn a_rehearsed_plan_and_its_postmortem_have_no_unfilled_references() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = { outcome = \"ok\" }\n").expect("answers");
    let timed = |args: &[&str]| -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_drbook"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .env("DRBOOK_CONFIG", "/nonexistent")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run drbook");
        let out = child.stdout.take();
        let err = child.stderr.take();
        let read = |p: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = p {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let (out, err) = (
            read(out.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>)),
            read(err.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>)),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("drbook {args:?} did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    };
    let logs = dir.path().join("logs");
    let o = timed(&[
        "rehearse",
        "runbooks/plan-westeurope-outage.toml",
        "--target",
        "sim",
        "--non-interactive",
        "--auto-approve",
        "--answers",
        answers.to_str().expect("utf-8"),
        "--log-dir",
        logs.to_str().expect("utf-8"),
        "--max-delay",
        "20ms",
        "--operator",
        "gameday",
    ]);
    let out = text(&o);
    assert!(out.contains("finished"), "the plan alone ran: {out}");
    assert!(!out.contains("${"), "{out}");
    let log = the_log(dir.path());
    let (events, _) = read_log(&log).expect("readable");
    let titled = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::StepStarted { title: Some(_), .. }))
        .count();
    assert!(titled > 100, "the log keeps each started step's title");
    let raw = std::fs::read_to_string(&log).expect("log text");
    assert!(!raw.contains("${"), "the log has an unfilled reference");
    assert!(
        raw.contains("The write region is North Europe"),
        "a started step is logged with its title filled in"
    );
    for format in ["md", "html", "json"] {
        let r = timed(&["report", log.to_str().expect("utf-8"), "--format", format]);
        let report = String::from_utf8_lossy(&r.stdout);
        assert!(report.len() > 1000, "{format}: {}", text(&r));
        // A step that never ran is named from its file, filled in as well.
        assert!(
            report.contains("Make North Europe the write region"),
            "{format}: the data-loss step is named with its region"
        );
        let at = report.find("${");
        assert!(
            at.is_none(),
            "{format} report has an unfilled reference: {}",
            at.map(|i| &report[i.saturating_sub(80)..(i + 80).min(report.len())])
                .unwrap_or_default()
        );
    }
}

/// Changes declined at their confirmation (here by drbook: the answers file answers only the
/// manual steps, and there is no `--auto-approve`) are no recovery: traffic never moved. The
/// scorecard says NOT RECOVERED with the declines, the run exits 1, and the report agrees.
#[test]
fn a_rehearsal_whose_changes_were_declined_is_not_recovered() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = drbook(
        &[
            "rehearse",
            "runbooks/network.toml",
            "--target",
            "sim",
            "--non-interactive",
        ],
        dir.path(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(" declined by drbook (no answer in answers file"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.contains("network-failover") && l.contains("NOT RECOVERED"))
        .unwrap_or_else(|| panic!("no NOT RECOVERED row: {out}"));
    assert!(row.starts_with('✘') && row.contains("declined"), "{row}");
    assert!(!out.contains("within RTO"), "{out}");
    let md = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(["report"])
        .arg(the_log(dir.path()))
        .output()
        .expect("report runs");
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("**Verdict:** **NOT RECOVERED**"), "{md}");
    assert!(md.contains("change") && md.contains("declined"), "{md}");
}
