//! The real binary killed with SIGKILL at random moments of a rehearsal: every log parses and
//! verifies, every event the operator was shown is in the log, and the incident resumes to its
//! end. 50 trials here; `DRBOOK_CRASH_TRIALS=1000 cargo test --test run_crash` soaks.
//! Resume decides as an uninterrupted run would, after a kill at any event; one drbook at a
//! time writes a log.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use drbook::incident::{EventKind, IncidentState, read_log};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn rehearse(
    dir: &std::path::Path,
    answers: &std::path::Path,
    resume: Option<&std::path::Path>,
) -> Command {
    rehearse_approved("runbooks/network.toml", dir, answers, resume)
}

/// `rehearse_fixture` of `runbook` with --auto-approve, as the crash tests run it.
fn rehearse_approved(runbook: &str, logs: &Path, answers: &Path, resume: Option<&Path>) -> Command {
    let mut c = rehearse_fixture(runbook, answers, logs, "crash-test", resume, "200ms");
    c.arg("--auto-approve");
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
    // A change interrupted by the kill is confirmed again on resume: yes.
    std::fs::write(
        &answers,
        "[manual]\n\"*\" = \"ok\"\n[confirm]\n\"*\" = true\n",
    )
    .expect("answers");
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
        let Some(log) = find_log(&logs) else {
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
        // Every tenth trial: resume to the end; the chain still holds. A run that had
        // finished closed its incident, which a resume does not reopen unasked.
        if trial % 10 == 0 {
            let mut resume = rehearse(&logs, &answers, Some(&log));
            if closed(&log) {
                let before = std::fs::read(&log).expect("log");
                let o = finish(rehearse(&logs, &answers, Some(&log)));
                assert_eq!(
                    o.status.code(),
                    Some(2),
                    "trial {trial}: a closed incident reopened"
                );
                assert!(String::from_utf8_lossy(&o.stderr).contains("--reopen"));
                assert_eq!(std::fs::read(&log).expect("log"), before);
                resume.arg("--reopen");
            }
            // Never hangs: a resumed rehearsal gets a fresh simulator, so a check interrupted
            // while verifying a change polls for a change that simulator never saw, up to its
            // own timeout (e.g. trial 70 of a soak).
            let status = finish(resume).status;
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
    let storage = |resume: Option<&Path>| {
        let mut c = rehearse_approved("runbooks/data-storage.toml", &logs, &answers, resume);
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
        let found = find_log(&logs);
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

    let status = resume_within_a_minute(storage(Some(&log)));
    assert_eq!(status.code(), Some(0));
    let (events, integrity) = read_log(&log).expect("readable");
    assert!(integrity.is_trustworthy(), "{integrity}");
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::StepFinished { step, outcome: drbook::incident::Outcome::Ok, .. }
            if step == "failover-complete")));
}

/// Killed while the storage failover is in flight (after its request reached Azure, before its
/// end was logged), the resumed rehearsal does what an operator would: it reads the verifier
/// (`failover-complete`) once, and either finds the failover done, or confirms the change again
/// and meets 409 `FailoverInProgress`, which the runbook declares `already`: the step is ok
/// either way, `failover-complete` waits for the result, and the resume ends with exit 0.
#[test]
fn a_kill_during_the_storage_failover_resumes_to_the_end() {
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    // The resume confirms the interrupted failover again (`--auto-approve` never does).
    std::fs::write(
        &answers,
        "[manual]\n\"*\" = \"ok\"\n[confirm]\n\"*\" = true\n",
    )
    .expect("answers");
    let logs = dir.path().join("logs");
    let storage = |resume: Option<&Path>| {
        let mut c = rehearse_approved("runbooks/data-storage.toml", &logs, &answers, resume);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let failover_line = |l: &str, event: &str| {
        l.contains(&format!("\"event\":\"{event}\""))
            && l.contains("\"step\":\"unplanned-failover\"")
    };
    let mut child = storage(None).spawn().expect("start drbook");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Killed once the failover's request has changed the simulated estate (saved beside the
    // log before the answer) and while its long-running operation (3 s) runs.
    let log = loop {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no storage failover in flight within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
        let Some(log) = std::fs::read_dir(&logs).ok().and_then(|mut d| {
            d.find_map(|e| {
                e.ok()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            })
        }) else {
            continue;
        };
        let started = std::fs::read_to_string(&log)
            .is_ok_and(|t| t.lines().any(|l| failover_line(l, "step_started")));
        let in_flight = std::fs::read_to_string(log.with_extension("sim.json"))
            .is_ok_and(|t| t.contains("\"failoverInProgress\":true"));
        if started && in_flight {
            break log;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    // The log as the kill left it, or as a kill before the failover's end would have.
    let text = std::fs::read_to_string(&log).expect("log");
    let kept: String = text
        .split_inclusive('\n')
        .take_while(|l| !failover_line(l, "step_finished"))
        .collect();
    std::fs::write(&log, &kept).expect("truncate");
    let before = kept.lines().count();

    let status = resume_within_a_minute(storage(Some(&log)));
    let (events, integrity) = read_log(&log).expect("readable");
    assert!(integrity.is_trustworthy(), "{integrity}");
    let after: Vec<_> = events.iter().skip(before).collect();
    let summary = after.iter().find_map(|e| match &e.kind {
        EventKind::StepFinished {
            step,
            outcome,
            outputs,
            error,
            ..
        } if step == "unplanned-failover" => Some((
            *outcome,
            error
                .clone()
                .or_else(|| outputs.get("summary").cloned())
                .unwrap_or_default(),
        )),
        _ => None,
    });
    assert_eq!(status.code(), Some(0), "unplanned-failover: {summary:?}");
    let Some((outcome, summary)) = summary else {
        panic!("the failover did not end after the resume")
    };
    assert_eq!(outcome, drbook::incident::Outcome::Ok, "{summary}");
    assert!(
        summary.starts_with("already under way: FailoverInProgress")
            || summary.starts_with("done before the interruption: verified by `failover-complete`"),
        "{summary}"
    );
    eprintln!("resumed failover: {summary}");
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::StepFinished { step, outcome: drbook::incident::Outcome::Ok, .. }
            if step == "failover-complete")));
    assert_eq!(endings(&log).get("unplanned-failover"), Some(&1));
}

fn closed(log: &Path) -> bool {
    read_log(log).is_ok_and(|(events, _)| {
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::IncidentClosed { .. }))
    })
}

/// Waits for `child` to end, killing it after 15 s: a test never hangs.
fn finish(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start drbook");
    wait_for(child)
}

fn wait_for(mut child: Child) -> Output {
    // Read as it goes: a full pipe would otherwise stop the child.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("drbook did not end within 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `drbook rehearse RUNBOOK` headless on the simulator, logging to `logs` or resuming `resume`.
fn rehearse_fixture(
    runbook: &str,
    answers: &Path,
    logs: &Path,
    operator: &str,
    resume: Option<&Path>,
    delay: &str,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_drbook"));
    c.current_dir(ROOT)
        .args(["rehearse", runbook, "--target", "sim", "--non-interactive"])
        .args(["--max-delay", delay, "--operator", operator])
        .arg("--answers")
        .arg(answers)
        .arg("--log-dir")
        .arg(logs);
    if let Some(log) = resume {
        c.arg("--resume").arg(log);
    }
    c
}

fn only_log(dir: &Path) -> PathBuf {
    find_log(dir).expect("a log")
}

/// The incident log in `dir`, once there is one.
fn find_log(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
}

/// Runs a resume to its end, killing it after a minute: a resume that hangs fails the test.
fn resume_within_a_minute(mut cmd: Command) -> std::process::ExitStatus {
    let mut resumed = cmd.spawn().expect("resume");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = resumed.try_wait().expect("wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = resumed.kill();
            let _ = resumed.wait();
            panic!("the resumed rehearsal did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What became of each step: its status and, when skipped, why.
fn decisions(log: &Path) -> BTreeMap<String, String> {
    let (events, _) = read_log(log).expect("readable");
    let state = IncidentState::fold(&events);
    state
        .runbooks
        .iter()
        .flat_map(|r| r.steps.iter())
        .map(|s| {
            (
                s.id.clone(),
                format!("{:?} {}", s.status, s.skip_reason.as_deref().unwrap_or("")),
            )
        })
        .collect()
}

/// How many times each step ended (finished or skipped) in `log`.
fn endings(log: &Path) -> BTreeMap<String, usize> {
    let (events, _) = read_log(log).expect("readable");
    let mut n = BTreeMap::new();
    for e in &events {
        if let EventKind::StepFinished { step, .. } | EventKind::StepSkipped { step, .. } = &e.kind
        {
            *n.entry(step.clone()).or_insert(0) += 1;
        }
    }
    n
}

/// A SIGKILL after event N leaves exactly the first N lines (each event is fsynced before the
/// next is written). For every N, the resumed run must decide every condition as the
/// uninterrupted run did (a step skipped, declined or failed before the kill included), end
/// each step once, and not offer what is already done as "can start now".
#[test]
fn a_resume_after_a_kill_at_any_event_decides_every_condition_as_an_uninterrupted_run() {
    const RB: &str = "tests/resume/conditions";
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    std::fs::write(
        &answers,
        "[manual]\nbroken = \"failed\"\nrisky = \"failed\"\n\"passed-over\" = \"skipped\"\n\"*\" = \"ok\"\n\
         [confirm]\ndeclined = false\n\"*\" = true\n",
    )
    .expect("answers");
    let o = finish(rehearse_fixture(
        RB,
        &answers,
        &dir.path().join("full"),
        "t",
        None,
        "50ms",
    ));
    // The second runbook fails (and rolls back): the run ends unfinished.
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let full = only_log(&dir.path().join("full"));
    let want = decisions(&full);
    // The plan exercises what must survive a resume.
    for (step, d) in [
        ("broken", "Failed "),
        ("passed-over", "Skipped "),
        (
            "declined",
            &*format!("Skipped declined by t (answers file {})", answers.display()),
        ),
        ("not-needed", "Skipped its condition does not hold"),
        ("after-skip", "Done "),
        ("after-decline", "Done "),
        ("after-failure", "Done "),
        ("never", "Skipped its condition does not hold"),
        ("flip", "Done "),
        ("only-if-disabled", "Skipped its condition does not hold"),
        ("end", "Done "),
        ("risky", "Failed "),
        ("undo-risky", "Done "),
    ] {
        assert_eq!(
            want.get(step).map(String::as_str),
            Some(d),
            "{step}: {want:?}"
        );
    }
    let text = std::fs::read_to_string(&full).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 20, "{}", lines.len());
    let cuts: Vec<usize> = (1..lines.len()).collect();
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for part in cuts.chunks(cuts.len().div_ceil(3)) {
            let (lines, answers, want, failures) = (&lines, &answers, &want, &failures);
            let root = dir.path();
            scope.spawn(move || {
                for &n in part {
                    let cut = root.join(format!("cut-{n}"));
                    std::fs::create_dir_all(&cut).expect("dir");
                    let log = cut.join("incident.jsonl");
                    std::fs::write(&log, lines[..n].join("\n") + "\n").expect("cut");
                    let done_before: BTreeSet<String> = endings(&log).into_keys().collect();
                    let o = finish(rehearse_fixture(RB, answers, &cut, "t", Some(&log), "50ms"));
                    let out = String::from_utf8_lossy(&o.stdout).to_string();
                    let mut wrong = Vec::new();
                    if o.status.code() != Some(1) {
                        wrong.push(format!(
                            "exit {:?}: {out}{}",
                            o.status.code(),
                            String::from_utf8_lossy(&o.stderr)
                        ));
                    }
                    let got = decisions(&log);
                    if &got != want {
                        wrong.push(format!("decided {got:?}"));
                    }
                    let twice: Vec<_> = endings(&log).into_iter().filter(|(_, c)| *c > 1).collect();
                    if !twice.is_empty() {
                        wrong.push(format!("ended twice: {twice:?}"));
                    }
                    let offered = out
                        .lines()
                        .find_map(|l| l.strip_prefix("can start now: "))
                        .unwrap_or_default();
                    for key in offered.split(", ").filter(|k| !k.is_empty()) {
                        let step = key.rsplit('/').next().unwrap_or_default();
                        if done_before.contains(step) {
                            wrong.push(format!("offers {key}, done before the kill"));
                        }
                    }
                    if !wrong.is_empty() {
                        failures
                            .lock()
                            .expect("lock")
                            .push(format!("after event {n}: {}", wrong.join("; ")));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().expect("lock");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!(
        "{} kill points resumed: every one decided as the uninterrupted run and ended each step once",
        cuts.len()
    );

    // The whole log: the incident is closed, and a resume does not reopen it unasked.
    let before = std::fs::read(&full).expect("log");
    let o = finish(rehearse_fixture(
        RB,
        &answers,
        dir.path(),
        "t",
        Some(&full),
        "50ms",
    ));
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("was closed (failed)") && err.contains("--reopen"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&full).expect("log"),
        before,
        "the refusal wrote to the log"
    );
    let mut reopen = rehearse_fixture(RB, &answers, dir.path(), "t", Some(&full), "50ms");
    reopen.arg("--reopen");
    let o = finish(reopen);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    // The reopening is in the log: who, and what the incident had been closed as.
    let (events, _) = read_log(&full).expect("readable");
    assert!(
        events.iter().any(|e| e.actor == "t"
            && matches!(
                &e.kind,
                EventKind::IncidentResumed {
                    by,
                    reopened: Some(drbook::incident::IncidentOutcome::Failed),
                    ..
                } if by == "t"
            )),
        "no reopening in the log"
    );
    assert_eq!(decisions(&full), want);
    assert!(endings(&full).values().all(|&c| c == 1));
}

/// Two `--resume` of one log at once: one is refused, naming who holds the log, and writes
/// nothing; no step ends twice. A drbook killed while it holds the log leaves no lock behind:
/// the next resume takes it over, saying so.
#[test]
fn one_drbook_writes_a_log_a_second_is_refused_and_a_killed_ones_lock_is_taken_over() {
    const RB: &str = "tests/resume/slow.toml";
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = \"ok\"\n").expect("answers");
    let slow = |operator: &str, log: Option<&Path>| {
        // The wait holds the run (and so the log) for two seconds.
        let mut c = rehearse_fixture(RB, &answers, dir.path(), operator, log, "2s");
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    // A log cut after its header: both resumes have every step to do.
    let o = finish(rehearse_fixture(
        RB,
        &answers,
        dir.path(),
        "t",
        None,
        "50ms",
    ));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let log = only_log(dir.path());
    let text = std::fs::read_to_string(&log).expect("log");
    let header = text.lines().next().expect("header").to_string() + "\n";
    std::fs::write(&log, &header).expect("cut");

    let a = slow("alice", Some(&log)).spawn().expect("alice");
    let b = slow("bob", Some(&log)).spawn().expect("bob");
    let (a_pid, b_pid) = (a.id(), b.id());
    let (a, b) = (wait_for(a), wait_for(b));
    let (won, lost, winner) = match (a.status.code(), b.status.code()) {
        (Some(0), Some(2)) => (a, b, (a_pid, "alice", "bob")),
        (Some(2), Some(0)) => (b, a, (b_pid, "bob", "alice")),
        other => panic!("exactly one resume must run: {other:?}\n{a:?}\n{b:?}"),
    };
    let err = String::from_utf8_lossy(&lost.stderr);
    assert!(
        err.contains("is in use by drbook pid") && err.contains(&format!("pid {} on ", winner.0)),
        "the refusal does not name the holder: {err}"
    );
    assert!(String::from_utf8_lossy(&won.stdout).contains("finished: every runbook done"));
    let (events, integrity) = read_log(&log).expect("readable");
    assert!(
        matches!(integrity, drbook::incident::Integrity::Intact { .. }),
        "{integrity}"
    );
    assert!(
        events.iter().all(|e| e.actor != winner.2),
        "the refused drbook wrote to the log"
    );
    assert!(events.iter().any(|e| e.actor == winner.1));
    assert_eq!(
        endings(&log),
        BTreeMap::from([("begin".into(), 1), ("done".into(), 1), ("pause".into(), 1)])
    );

    // Killed while it holds the log (in its wait): the next resume takes the log over.
    std::fs::write(&log, &header).expect("cut");
    let mut victim = slow("carol", Some(&log)).spawn().expect("carol");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !read_log(&log).is_ok_and(|(ev, _)| {
        ev.iter()
            .any(|e| matches!(&e.kind, EventKind::StepStarted { step, .. } if step == "pause"))
    }) {
        assert!(Instant::now() < deadline, "the run never reached its wait");
        std::thread::sleep(Duration::from_millis(20));
    }
    let held = victim.id();
    // A resume while it still runs is refused, naming it.
    let o = finish(slow("eve", Some(&log)));
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("in use by drbook pid {held} on ")),
        "{err}"
    );
    let _ = victim.kill();
    let _ = victim.wait();
    let o = finish(slow("dave", Some(&log)));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("drbook pid {held} on ")) && err.contains("is gone"),
        "the stale lock was not reported: {err}"
    );
    let n = endings(&log);
    assert!(n.values().all(|&c| c == 1), "{n:?}");
    let (events, _) = read_log(&log).expect("readable");
    assert!(
        events.iter().all(|e| e.actor != "eve"),
        "the refused drbook wrote"
    );
}
