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
