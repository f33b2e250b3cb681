//! End to end: the real binary in a real terminal (tmux). Opens the demo, carries out the
//! westeurope plan as an operator would (run what is ready, answer every confirmation and
//! manual step, skip a failed step that holds the plan), writes a note, quits, and then reads
//! the incident log: intact chain, every confirmation by the operator, the note, the close.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::tmux::{Tmux, log_in};
use drbook::incident::{EventKind, Integrity, read_log};

#[test]
fn the_demo_carries_out_the_plan_with_confirmations_a_note_and_a_clean_quit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    let done_file = tmp.path().join("exit-code");
    let tmux = Tmux::new("drbook-e2e", "e2e");
    start(&tmux, tmp.path(), "", &done_file, (120, 40));
    let first = tmux.wait_for("REHEARSAL", Duration::from_secs(20));
    assert!(first.contains("Runbooks"), "{first}");
    assert!(first.contains("Timeline"), "{first}");

    // The operator's loop: answer what is asked, unblock what is stuck, run what is ready.
    let mut confirmed = 0;
    let mut manual = 0;
    let mut skipped = 0;
    let until = Instant::now() + Duration::from_secs(300);
    loop {
        let s = tmux.screen();
        if s.contains("every runbook done") {
            break;
        }
        assert!(
            Instant::now() < until,
            "the plan did not finish; the screen:\n{s}"
        );
        if s.contains("Confirm: this changes live state") {
            tmux.keys(&["y"]);
            confirmed += 1;
        } else if s.contains("Manual step: do it") {
            tmux.keys(&["y"]);
            manual += 1;
        } else if s.contains("waiting: press w to answer") {
            // Questions wait in a queue: the operator opens the next one.
            tmux.keys(&["w"]);
        } else if s.contains("holds the plan") {
            tmux.keys(&["s"]);
            tmux.wait_for("Why skip", Duration::from_secs(5));
            tmux.text("game day: not reachable in the simulated outage");
            tmux.keys(&["Enter"]);
            skipped += 1;
        } else {
            // Shift-a: what is ready now, once (a is the autopilot, tested on its own).
            tmux.keys(&["A"]);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(confirmed > 0, "the plan has steps that ask first");
    assert!(manual > 0, "the plan has manual steps");

    // A note, then quit: nothing runs any more, so q quits at once.
    tmux.keys(&[":"]);
    tmux.wait_for("Note ", Duration::from_secs(5));
    tmux.text("e2e: failover rehearsal complete");
    tmux.keys(&["Enter"]);
    tmux.wait_for("e2e: failover rehearsal complete", Duration::from_secs(5));
    tmux.keys(&["q"]);
    let code = wait_file(&done_file, &tmux);
    assert_eq!(code, "0", "exit code; screen:\n{}", tmux.screen());
    let after = tmux.screen();
    assert!(
        after.contains("the incident is closed"),
        "the terminal is back and says how it ended:\n{after}"
    );
    assert!(
        !after.contains("┌ Runbooks"),
        "the alternate screen was left:\n{after}"
    );

    let path = log_in(&logs);
    let (events, integrity) = read_log(&path).expect("the log reads");
    assert!(
        matches!(integrity, Integrity::Intact { .. }),
        "{integrity:?}"
    );
    let approvals = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Confirmed { by, approved: true, .. } if by == "tester"))
        .count();
    assert_eq!(
        approvals, confirmed,
        "every y on a confirmation is in the log, by the operator"
    );
    let manual_done = events
        .iter()
        .filter(|e| {
            e.actor == "tester"
                && matches!(&e.kind, EventKind::StepFinished { outputs, .. } if outputs.get("outcome").map(String::as_str) == Some("ok"))
        })
        .count();
    assert!(
        manual_done >= manual,
        "{manual_done} manual steps logged done, {manual} answered"
    );
    let skips = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::StepSkipped { reason, .. } if reason.contains("game day")))
        .count();
    assert_eq!(skips, skipped);
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::Note { text, .. } if text == "e2e: failover rehearsal complete")
        && e.actor == "tester"));
    assert!(matches!(
        events.last().map(|e| &e.kind),
        Some(EventKind::IncidentClosed { .. })
    ));
    // The report credits the operator at the keyboard, and no answers file or --auto-approve.
    let report = std::process::Command::new("timeout")
        .arg("15")
        .arg(env!("CARGO_BIN_EXE_drbook"))
        .arg("report")
        .arg(&path)
        .output()
        .expect("drbook report");
    let md = String::from_utf8_lossy(&report.stdout);
    assert!(md.contains("confirmed by tester"), "{md}");
    assert!(
        !md.contains("answers file") && !md.contains("--auto-approve"),
        "{md}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// The "done when": one key starts the autopilot, the operator only answers the
/// dialogs it reaches, and the plan runs to its end; the screen then gives the verdict in words.
#[test]
fn the_autopilot_runs_the_demo_to_its_verdict_with_the_operator_only_answering() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    let done_file = tmp.path().join("exit-code");
    let tmux = Tmux::new("drbook-e2e-auto", "e2e");
    start(&tmux, tmp.path(), "", &done_file, (120, 40));
    let first = tmux.wait_for("REHEARSAL", Duration::from_secs(20));
    assert!(
        first.contains("a autopilot"),
        "the key is offered:\n{first}"
    );
    assert!(first.contains("nothing runs"), "{first}");
    tmux.keys(&["a"]);
    tmux.wait_for("autopilot ON", Duration::from_secs(10));

    let mut confirmed = 0;
    let mut manual = 0;
    let until = Instant::now() + Duration::from_secs(300);
    let end = loop {
        let s = tmux.screen();
        if s.contains("■ RECOVERED") || s.contains("■ NOT RECOVERED") {
            break s;
        }
        assert!(
            Instant::now() < until,
            "the plan did not come to an end; the screen:\n{s}"
        );
        if s.contains("Confirm: this changes live state") {
            tmux.keys(&["y"]);
            confirmed += 1;
            // Not the same dialog twice: wait for it to close (or the next to open).
            std::thread::sleep(Duration::from_millis(300));
        } else if s.contains("Manual step: do it") {
            tmux.keys(&["y"]);
            manual += 1;
            std::thread::sleep(Duration::from_millis(300));
        } else if s.contains("waiting: press w to answer") {
            // Questions queue, never opening by themselves: the operator opens the next.
            tmux.keys(&["w"]);
            std::thread::sleep(Duration::from_millis(200));
        } else {
            std::thread::sleep(Duration::from_millis(150));
        }
    };
    assert!(confirmed > 0, "the plan has steps that ask first");
    assert!(manual > 0, "the plan has manual steps");
    assert!(
        end.contains("autopilot stopped: nothing left to run"),
        "the autopilot stops by itself:\n{end}"
    );
    assert!(!end.contains("autopilot ON"), "{end}");

    tmux.keys(&["q"]);
    assert_eq!(wait_file(&done_file, &tmux), "0", "{}", tmux.screen());
    let path = log_in(&logs);
    let (events, integrity) = read_log(&path).expect("the log reads");
    assert!(
        matches!(integrity, Integrity::Intact { .. }),
        "{integrity:?}"
    );
    let answers: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Confirmed { by, .. } => Some(by.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), confirmed, "every y is in the log once");
    assert!(
        answers.iter().all(|by| *by == "tester"),
        "every confirmation is the operator's: {answers:?}"
    );
    let notes: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { text, .. } if text.starts_with("autopilot") => {
                Some((e.actor.as_str(), text.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        notes.first().map(|n| n.0),
        Some("tester"),
        "turned on by the operator: {notes:?}"
    );
    assert!(notes[0].1.starts_with("autopilot on"), "{notes:?}");
    assert_eq!(
        notes.last().copied(),
        Some(("drbook", "autopilot off: nothing left to run")),
        "turned off by drbook itself"
    );
}

fn start(tmux: &Tmux, tmp: &Path, extra: &str, code_file: &Path, (w, h): (u16, u16)) {
    let command = format!(
        "env XDG_DATA_HOME={} DRBOOK_CONFIG={} {} --log-dir {} --operator tester {extra}; echo $? > {}; sleep 60",
        tmp.join("data").display(),
        tmp.join("no-config.toml").display(),
        env!("CARGO_BIN_EXE_drbook"),
        tmp.join("logs").display(),
        code_file.display(),
    );
    // A second start reuses the pane: killing the last session makes the tmux server exit, and a
    // new-session sent while it exits fails ("server exited unexpectedly"; seen on CI).
    if tmux.cmd(&["has-session", "-t", "e2e"]).status.success() {
        let out = tmux.cmd(&["respawn-pane", "-k", "-t", "e2e", &command]);
        assert!(out.status.success(), "tmux respawn-pane: {out:?}");
        return;
    }
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        &w.to_string(),
        "-y",
        &h.to_string(),
        &command,
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");
}

fn wait_file(path: &Path, tmux: &Tmux) -> String {
    let until = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < until,
            "drbook did not exit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    std::fs::read_to_string(path)
        .expect("exit code")
        .trim()
        .to_string()
}

#[test]
fn sigterm_restores_the_terminal_keeps_the_log_and_the_incident_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("drbook-e2e-term", "e2e");
    let first = tmp.path().join("first-exit");
    start(&tmux, tmp.path(), "", &first, (100, 30));
    tmux.wait_for("REHEARSAL", Duration::from_secs(20));
    tmux.keys(&["a"]);
    tmux.wait_for("started", Duration::from_secs(10));
    let pane = tmux.cmd(&["display", "-p", "-t", "e2e", "#{pane_pid}"]);
    let shell = String::from_utf8_lossy(&pane.stdout).trim().to_string();
    let kids = Command::new("pgrep")
        .args(["-P", &shell])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&kids.stdout)
        .lines()
        .next()
        .expect("drbook runs under the pane's shell")
        .to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_eq!(wait_file(&first, &tmux), "143", "exit status of a SIGTERM");
    let screen = tmux.screen();
    assert!(
        !screen.contains("┌ Runbooks"),
        "the alternate screen was left:\n{screen}"
    );
    assert!(screen.contains("the incident is still open"), "{screen}");

    let logs = tmp.path().join("logs");
    let path = log_in(&logs);
    let (events, integrity) = read_log(&path).expect("the log reads");
    assert!(
        matches!(integrity, Integrity::Intact { .. }),
        "{integrity:?}"
    );
    assert!(events.len() > 2, "the run had started steps");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::IncidentClosed { .. })),
        "a signal leaves the incident open"
    );

    // Resume it: the same log continues, and says so.
    let second = tmp.path().join("second-exit");
    start(
        &tmux,
        tmp.path(),
        &format!("--resume {}", path.display()),
        &second,
        (100, 30),
    );
    tmux.wait_for("incident resumed by tester", Duration::from_secs(20));
    tmux.keys(&["q"]);
    // The resumed steps may be running or asking again: then q asks first.
    let until = Instant::now() + Duration::from_secs(20);
    while !second.exists() && Instant::now() < until {
        if tmux.screen().contains("Quit?") {
            tmux.keys(&["y"]);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(wait_file(&second, &tmux), "0");
    let (after, integrity) = read_log(&path).expect("the log reads");
    assert!(
        matches!(integrity, Integrity::Intact { .. }),
        "{integrity:?}"
    );
    assert!(after.len() > events.len());
    assert_eq!(
        &after[..events.len()],
        &events[..],
        "nothing before the resume changed"
    );
    // (Only logs: the note saying which drbook holds a log may sit next to it.)
    assert_eq!(
        std::fs::read_dir(&logs)
            .expect("dir")
            .filter(|e| e
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "jsonl")))
            .count(),
        1,
        "no second log"
    );
}

/// A real rehearsal's log (the network runbook against the simulator), headless.
fn rehearsal_log(dir: &Path) -> PathBuf {
    let answers = dir.join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = { outcome = \"ok\" }\n").expect("answers");
    let out = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rehearse", "runbooks/network.toml", "--target", "sim"])
        .args([
            "--non-interactive",
            "--auto-approve",
            "--max-delay",
            "200ms",
        ])
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(dir.join("logs"))
        .output()
        .expect("drbook runs");
    assert!(out.status.success(), "{out:?}");
    log_in(&dir.join("logs"))
}

fn review(args: &[&Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_drbook"))
        .arg("review")
        .args(args)
        .env("DRBOOK_CONFIG", "/nonexistent/drbook.toml")
        .output()
        .expect("drbook runs")
}

#[test]
fn review_lists_incidents_and_says_whether_each_log_holds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = rehearsal_log(tmp.path());
    let listed = review(&[&tmp.path().join("logs")]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        text.contains("rehearsal") && text.contains("intact"),
        "{text}"
    );
    assert!(text.contains("rehearsed"), "the outcome: {text}");

    // Truncated by a power loss: still trusted up to the cut, and said so.
    let cut = tmp.path().join("cut");
    std::fs::create_dir_all(&cut).expect("dir");
    let bytes = std::fs::read(&log).expect("log");
    std::fs::write(cut.join("cut.jsonl"), &bytes[..bytes.len() - 40]).expect("write");
    let listed = review(&[&cut]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed:?}");
    assert!(text.contains("truncated"), "{text}");

    // Tampered: a line in the middle edited. The list says from which event, and exits 1.
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).expect("dir");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mid = lines.len() / 2;
    let edited: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == mid {
                l.replacen("\"actor\":\"", "\"actor\":\"x", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(bad.join("bad.jsonl"), edited.join("\n") + "\n").expect("write");
    let listed = review(&[&bad]);
    let out = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(1), "{listed:?}");
    assert!(
        out.contains(&format!("ALTERED from event {}", mid + 1)),
        "{out}"
    );

    // Files that are not incident logs are called that, never trusted nor "ALTERED".
    let strangers = tmp.path().join("strangers");
    std::fs::create_dir_all(&strangers).expect("dir");
    std::fs::write(strangers.join("notes.jsonl"), "hello\n").expect("write");
    std::fs::write(strangers.join("torn.jsonl"), &bytes[..30]).expect("write");
    std::fs::write(strangers.join("other.jsonl"), "{\"level\":\"info\"}\n").expect("write");
    let listed = review(&[&strangers]);
    let out = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(1), "{listed:?}");
    assert_eq!(out.matches("not a drbook incident log").count(), 3, "{out}");
    assert!(
        !out.contains("ALTERED") && !out.contains("truncated") && !out.contains("intact"),
        "{out}"
    );

    // A log without a terminal points at the report instead of drawing.
    let no_tty = review(&[&log]);
    assert_eq!(no_tty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_tty.stderr).contains("drbook report"));
}

#[test]
fn review_replays_a_real_log_in_the_terminal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = rehearsal_log(tmp.path());
    let total = read_log(&log).expect("reads").0.len();
    let tmux = Tmux::new("drbook-e2e-review", "e2e");
    let done = tmp.path().join("review-exit");
    let command = format!(
        "env DRBOOK_CONFIG=/nonexistent/drbook.toml {} review {}; echo $? > {}; sleep 60",
        env!("CARGO_BIN_EXE_drbook"),
        log.display(),
        done.display()
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "140",
        "-y",
        "40",
        &command,
    ]);
    assert!(out.status.success());
    let first = tmux.wait_for("REVIEW", Duration::from_secs(20));
    assert!(first.contains(&format!("event {total}/{total}")), "{first}");
    assert!(first.contains("chain intact"), "{first}");
    tmux.keys(&["Left", "Left", "Left"]);
    tmux.wait_for(
        &format!("event {}/{total}", total - 3),
        Duration::from_secs(5),
    );
    tmux.keys(&["i"]);
    tmux.wait_for("RTO achieved", Duration::from_secs(5));
    tmux.keys(&["Escape"]);
    // An Esc and a q read together are Alt-q: q goes once the summary has closed.
    let until = Instant::now() + Duration::from_secs(5);
    while tmux.screen().contains("RTO achieved") {
        assert!(Instant::now() < until, "Esc did not close the summary");
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.keys(&["q"]);
    assert_eq!(wait_file(&done, &tmux), "0");
    tmux.wait_for("hash chain verified", Duration::from_secs(5));
}

/// The first frame comes before the simulator starts and the log is created (issue 16), and
/// what goes wrong after it is still read on the screen once the terminal is restored.
#[test]
fn the_first_frame_comes_before_the_log_and_a_later_error_is_still_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tmux = Tmux::new("drbook-first", "e2e");
    // A log folder that cannot be made: a file is in its way.
    std::fs::write(tmp.path().join("logs"), "not a folder").expect("file");
    let trace = tmp.path().join("trace.txt");
    let code_file = tmp.path().join("code");
    let command = format!(
        "env DRBOOK_TRACE_START={} XDG_DATA_HOME={} DRBOOK_CONFIG={} {} --log-dir {} --operator tester; echo $? > {}; sleep 60",
        trace.display(),
        tmp.path().join("data").display(),
        tmp.path().join("no-config.toml").display(),
        env!("CARGO_BIN_EXE_drbook"),
        tmp.path().join("logs").display(),
        code_file.display(),
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");
    assert_eq!(wait_file(&code_file, &tmux), "2");
    let screen = tmux.wait_for("cannot open the incident log", Duration::from_secs(10));
    assert!(
        !screen.contains("REHEARSAL"),
        "the terminal is restored:\n{screen}"
    );
    let stages = std::fs::read_to_string(&trace).expect("the launch trace");
    let at = |what: &str| {
        stages
            .lines()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` in the trace:\n{stages}"))
    };
    assert!(
        at("first frame drawn") < at("target connected"),
        "the first frame waits for nothing but the runbooks:\n{stages}"
    );
}

/// Issue 18, the readiness screen end to end: from the demo, `D` discovers the simulated
/// estate through Resource Graph and shows its components and pairs; ctrl-w asks for a folder,
/// writes the runbooks there in a task, and the screen says the files pass `validate --strict`,
/// which the real `drbook validate --strict` then confirms.
#[test]
fn the_demo_discovers_its_estate_and_writes_runbooks_that_validate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let done_file = tmp.path().join("exit-code");
    let out = tmp.path().join("generated runbooks");
    let tmux = Tmux::new("drbook-e2e-ready", "e2e");
    start(&tmux, tmp.path(), "", &done_file, (160, 45));
    tmux.wait_for("REHEARSAL", Duration::from_secs(20));
    tmux.keys(&["D"]);
    let s = tmux.wait_for("Components (", Duration::from_secs(60));
    assert!(s.contains("westeurope → northeurope"), "{s}");
    assert!(s.contains(SHOP_SUB), "{s}");
    // The shop's SQL server and its partner in the failover group, with the rule.
    while !tmux.screen().contains("▸ data-sql") {
        tmux.keys(&["j"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = tmux.wait_for("Pairs of data-sql", Duration::from_secs(5));
    assert!(
        s.contains("sql-shop-westeurope ↔ sql-shop-northeurope [failover-group-partner]"),
        "{s}"
    );

    tmux.keys(&["C-w"]);
    tmux.wait_for("> ./runbooks-westeurope", Duration::from_secs(5));
    tmux.keys(&["C-u"]);
    tmux.text(&out.display().to_string());
    tmux.keys(&["Enter"]);
    tmux.wait_for(" into ", Duration::from_secs(30));
    let s = tmux.wait_for("validate --strict", Duration::from_secs(30));
    assert!(s.contains("they pass `drbook validate --strict`"), "{s}");
    // What Azure does not hold is said, not hidden in the files.
    assert!(
        s.contains("set by hand, marked SET THIS")
            && s.contains("data-storage-failover.toml (probe_container)"),
        "{s}"
    );
    assert!(out.join("discovery.json").is_file());
    let tomls = std::fs::read_dir(&out)
        .expect("the folder was made")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .count();
    assert_eq!(tomls, 13, "the shop's 12 runbooks and a plan");
    let validated = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .arg("validate")
        .arg("--strict")
        .arg(&out)
        .output()
        .expect("drbook validate");
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
    // q closes the screen; the incident's screen is back, and q there quits as ever.
    tmux.keys(&["q"]);
    tmux.wait_for("Runbooks", Duration::from_secs(5));
    tmux.keys(&["q"]);
    assert_eq!(wait_file(&done_file, &tmux), "0", "{}", tmux.screen());

    // `drbook discover --tui`: the same screen on its own; q quits, with discover's exit code
    // (0: nothing critical in the shop).
    let discover_done = tmp.path().join("discover-exit");
    let command = format!(
        "env XDG_DATA_HOME={} DRBOOK_CONFIG={} {} discover --target sim --subscription {SHOP_SUB} --primary westeurope --tui; echo $? > {}; sleep 60",
        tmp.path().join("data").display(),
        tmp.path().join("no-config.toml").display(),
        env!("CARGO_BIN_EXE_drbook"),
        discover_done.display(),
    );
    let out = tmux.cmd(&["respawn-pane", "-k", "-t", "e2e", &command]);
    assert!(out.status.success(), "tmux respawn-pane: {out:?}");
    let s = tmux.wait_for("Components (", Duration::from_secs(30));
    assert!(s.contains("findings: 0 critical"), "{s}");
    assert!(s.contains(" q quit "), "{s}");
    tmux.keys(&["q"]);
    assert_eq!(wait_file(&discover_done, &tmux), "0", "{}", tmux.screen());
}

const SHOP_SUB: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
