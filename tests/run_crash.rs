//! The real binary killed with SIGKILL at random moments of a rehearsal: every log parses and
//! verifies, every event the operator was shown is in the log, and the incident resumes to its
//! end. 50 trials here; `DRBOOK_CRASH_TRIALS=1000 cargo test --test run_crash` soaks.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use drbook::incident::{EventKind, read_log};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn rehearse(
    dir: &std::path::Path,
    answers: &std::path::Path,
    resume: Option<&std::path::Path>,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_drbook"));
    c.current_dir(ROOT)
        .args([
            "rehearse",
            "runbooks/network.toml",
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
        ])
        .args(["--max-delay", "200ms", "--operator", "crash-test"])
        .arg("--answers")
        .arg(answers)
        .arg("--log-dir")
        .arg(dir);
    if let Some(log) = resume {
        c.arg("--resume").arg(log);
    }
    c
}

/// What the screen said happened: (marker, step key) of each event line.
fn shown(lines: &[String]) -> Vec<(char, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ' ');
            let _time = parts.next()?;
            let mark = parts.next()?.chars().next()?;
            let key = parts.next()?.split_whitespace().next()?.to_string();
            matches!(mark, '▶' | '✔' | '✘' | '↷').then_some((mark, key))
        })
        .collect()
}

#[test]
fn sigkill_at_random_moments_loses_nothing_that_was_shown() {
    let trials: usize = std::env::var("DRBOOK_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = \"ok\"\n").expect("answers");
    let mut resumed = 0;
    let mut shown_total = 0;
    for trial in 0..trials {
        let logs = dir.path().join(format!("t{trial}"));
        let mut child = rehearse(&logs, &answers, None)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start drbook");
        let out = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            std::io::BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        // Anywhere from start-up to the end of the run (about a second).
        let delay = 20 + (trial as u64 * 7919) % 1300;
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let printed = reader.join().unwrap_or_default();
        let Some(log) = std::fs::read_dir(&logs).ok().and_then(|mut d| {
            d.find_map(|e| {
                e.ok()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            })
        }) else {
            // Killed before the log existed: then nothing may have been shown.
            assert!(
                shown(&printed).is_empty(),
                "trial {trial}: events shown without a log: {printed:?}"
            );
            continue;
        };
        let (events, integrity) = read_log(&log).expect("readable");
        assert!(integrity.is_trustworthy(), "trial {trial}: {integrity}");
        let in_log: BTreeSet<(char, String)> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::StepStarted { runbook, step, .. } => {
                    Some(('▶', format!("{runbook}/{step}")))
                }
                EventKind::StepFinished {
                    runbook,
                    step,
                    outcome,
                    ..
                } => {
                    let m = match outcome {
                        drbook::incident::Outcome::Ok => '✔',
                        drbook::incident::Outcome::Skipped => '↷',
                        _ => '✘',
                    };
                    Some((m, format!("{runbook}/{step}")))
                }
                EventKind::StepSkipped { runbook, step, .. } => {
                    Some(('↷', format!("{runbook}/{step}")))
                }
                _ => None,
            })
            .collect();
        for s in shown(&printed) {
            shown_total += 1;
            assert!(
                in_log.contains(&s),
                "trial {trial}: shown but not in the log: {s:?}"
            );
        }
        // Every tenth trial: resume to the end; the chain still holds.
        if trial % 10 == 0 {
            let status = rehearse(&logs, &answers, Some(&log))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("resume");
            assert_eq!(
                status.code(),
                Some(0),
                "trial {trial}: resume did not finish"
            );
            let (events, integrity) = read_log(&log).expect("readable");
            assert!(
                matches!(integrity, drbook::incident::Integrity::Intact { .. }),
                "trial {trial}: {integrity}"
            );
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e.kind, EventKind::IncidentClosed { .. }))
            );
            resumed += 1;
        }
    }
    println!(
        "{trials} trials, {shown_total} events shown and found in their logs, {resumed} resumed to the end"
    );
    assert!(shown_total > 0);
}

/// A rehearsal killed right after the storage failover went through, then resumed: the
/// simulator it meets is the one it left (the estate is saved beside the log), so the check that
/// the failover completed passes at once; a fresh simulator would have it poll for 90 minutes.
#[test]
fn a_resumed_rehearsal_meets_the_simulated_azure_it_left() {
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = \"ok\"\n").expect("answers");
    let logs = dir.path().join("logs");
    let storage = |resume: Option<&std::path::Path>| {
        let mut c = rehearse(&logs, &answers, resume);
        // The same flags as `rehearse`, on the storage runbook instead of the network one.
        let args: Vec<std::ffi::OsString> = c
            .get_args()
            .map(|a| {
                if a == "runbooks/network.toml" {
                    "runbooks/data-storage.toml".into()
                } else {
                    a.to_owned()
                }
            })
            .collect();
        let mut s = Command::new(c.get_program());
        s.current_dir(ROOT).args(args);
        c = s;
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let is_failover = |l: &str| {
        l.contains("\"event\":\"step_finished\"")
            && (l.contains("\"step\":\"unplanned-failover\"")
                || l.contains("\"step\":\"planned-failover\""))
            && l.contains("\"outcome\":\"ok\"")
    };
    let mut child = storage(None).spawn().expect("start drbook");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let log = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no failover within 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
        let found = std::fs::read_dir(&logs).ok().and_then(|mut d| {
            d.find_map(|e| {
                e.ok()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            })
        });
        if let Some(log) = found
            && std::fs::read_to_string(&log).is_ok_and(|t| t.lines().any(is_failover))
        {
            break log;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        log.with_extension("sim.json").is_file(),
        "the simulated estate is kept beside the log"
    );
    // The log as a kill right after the failover's end leaves it.
    let text = std::fs::read_to_string(&log).expect("log");
    let kept: String = text
        .split_inclusive('\n')
        .scan(false, |done, l| {
            let keep = !*done;
            *done |= is_failover(l);
            Some(keep.then_some(l))
        })
        .flatten()
        .collect();
    std::fs::write(&log, kept).expect("truncate");

    let mut resumed = storage(Some(&log)).spawn().expect("resume");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = resumed.try_wait().expect("wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = resumed.kill();
            let _ = resumed.wait();
            panic!("the resumed rehearsal did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let (events, integrity) = read_log(&log).expect("readable");
    assert!(integrity.is_trustworthy(), "{integrity}");
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::StepFinished { step, outcome: drbook::incident::Outcome::Ok, .. }
            if step == "failover-complete")));
}
