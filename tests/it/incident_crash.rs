//! The incident log survives SIGKILL at any moment: a child process appends events as fast
//! as it can and prints each seq only after `append` returned (the event is fsynced); the
//! test kills it at random moments and checks that the log reads back, its chain verifies
//! (intact, or truncated with recovery), every acknowledged event is there with its content,
//! and the log can be resumed and continued. A copy cut at a random byte after the last
//! acknowledged line stands in for a power cut, which may lose what was not yet fsynced.
//!
//! The child is this very test binary, re-run with `DRBOOK_CRASH_CHILD` set; odd trials use
//! the async `LogHandle` with four concurrent writers. `DRBOOK_CRASH_TRIALS` (default 50)
//! and `DRBOOK_CRASH_SEED` tune it; scripts/log-soak.sh runs a thousand.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use drbook::incident::{
    EventKind, Header, IncidentLog, Integrity, LogHandle, Mode, Redactor, RunbookRef, read_log,
};

const CHILD_DIR: &str = "DRBOOK_CRASH_CHILD";
const CHILD_ASYNC: &str = "DRBOOK_CRASH_CHILD_ASYNC";
const SECRET: &str = "child-secret-7f3a";

fn header() -> Header {
    Header {
        incident_id: "crash-test".into(),
        title: "crash test".into(),
        mode: Mode::Live,
        level: None,
        operators: vec!["child".into()],
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

fn note(task: usize, i: usize) -> EventKind {
    EventKind::Note {
        runbook: None,
        step: None,
        text: format!("t{task} n{i} {SECRET}"),
    }
}

fn ack(seq: u64, task: usize, i: usize) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the parent is gone: nothing left to tell.
    let _ = writeln!(out, "ack {seq} {task} {i}").and_then(|()| out.flush());
}

/// The child: not a test of its own; does nothing unless re-run by the parent.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let Ok(log) = IncidentLog::create(Path::new(&dir), header(), Redactor::new([SECRET])) else {
        std::process::exit(3);
    };
    if std::env::var_os(CHILD_ASYNC).is_none() {
        append_forever(log)
    } else {
        append_forever_async(log)
    }
}

fn append_forever(mut log: IncidentLog) -> ! {
    for i in 0.. {
        match log.append("child", note(0, i)) {
            Ok(a) => ack(a.seq, 0, i),
            Err(_) => std::process::exit(4),
        }
    }
    std::process::exit(0)
}

/// Four tasks appending at once through the async handle (events share fsyncs).
fn append_forever_async(log: IncidentLog) -> ! {
    let Ok(handle) = LogHandle::spawn(log) else {
        std::process::exit(5)
    };
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    else {
        std::process::exit(6);
    };
    rt.block_on(async move {
        let tasks: Vec<_> = (0..4)
            .map(|task| {
                let h = handle.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        match h.append("child", note(task, i)).await {
                            Ok(a) => ack(a.seq, task, i),
                            Err(_) => std::process::exit(4),
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
    std::process::exit(0)
}

/// xorshift64*: deterministic from its seed, so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

#[derive(Default, Debug)]
struct Figures {
    trials: u64,
    acknowledged: u64,
    events_on_disk: u64,
    unacknowledged_on_disk: u64,
    /// Power-cut copies that lost some unacknowledged bytes.
    power_cuts: u64,
    truncated: u64,
    /// Killed before the log (header included) was on disk: nothing was promised yet.
    killed_before_file: u64,
    resumed: u64,
}

/// One kill: returns what the child acknowledged as (seq, task, i).
fn run_child(dir: &Path, asynchronous: bool, kill_after: Duration) -> Vec<(u64, usize, usize)> {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "incident_crash::crash_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_DIR, dir)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if asynchronous {
        cmd.env(CHILD_ASYNC, "1");
    }
    let mut child = cmd.spawn().expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| {
                let mut w = l.strip_prefix("ack ")?.split(' ');
                Some((
                    w.next()?.parse().ok()?,
                    w.next()?.parse().ok()?,
                    w.next()?.parse().ok()?,
                ))
            })
            .collect::<Vec<(u64, usize, usize)>>()
    });
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL the child"); // std sends SIGKILL on unix
    child.wait().expect("reap the child");
    reader.join().expect("reader thread")
}

fn the_log(dir: &Path) -> Option<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the test dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert!(logs.len() <= 1, "{logs:?}");
    logs.pop()
}

fn check_trial(
    dir: &Path,
    acks: &[(u64, usize, usize)],
    rng: &mut Rng,
    figures: &mut Figures,
    what: &str,
) {
    figures.acknowledged += acks.len() as u64;
    let Some(path) = the_log(dir) else {
        assert!(
            acks.is_empty(),
            "{what}: acknowledged events but no log file"
        );
        figures.killed_before_file += 1;
        return;
    };
    let bytes = std::fs::read(&path).expect("read the log");
    assert!(
        !bytes.is_empty(),
        "{what}: a log appeared without its header"
    );
    let events = check_and_resume(&path, acks, figures, what);
    figures.events_on_disk += events as u64;
    figures.unacknowledged_on_disk += (events as u64).saturating_sub(1 + acks.len() as u64);

    // A power cut may also lose any part of what was written but not yet acknowledged:
    // cut a copy anywhere after the last acknowledged line and check it the same way.
    let last_acked = acks.iter().map(|a| a.0).max().unwrap_or(1) as usize;
    let keep = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(last_acked - 1)
        .map(|(i, _)| i + 1);
    let keep =
        keep.unwrap_or_else(|| panic!("{what}: acknowledged line {last_acked} is not whole"));
    let cut = keep + rng.below((bytes.len() - keep + 1) as u64) as usize;
    let copy = dir.join("power-cut.log");
    std::fs::write(&copy, &bytes[..cut]).expect("write the cut copy");
    if cut < bytes.len() {
        figures.power_cuts += 1;
    }
    check_and_resume(
        &copy,
        acks,
        figures,
        &format!("{what}, cut at byte {cut} of {}", bytes.len()),
    );
}

/// Checks the log at `path` holds every acknowledged event, then resumes and continues it.
/// Returns how many events it held.
fn check_and_resume(
    path: &Path,
    acks: &[(u64, usize, usize)],
    figures: &mut Figures,
    what: &str,
) -> usize {
    let (events, integrity) = read_log(path).expect("read the log");
    match integrity {
        Integrity::Intact { .. } => {}
        Integrity::Truncated { .. } => figures.truncated += 1,
        other => panic!("{what}: {other}"),
    }
    for &(seq, task, i) in acks {
        let Some(e) = events.get(seq as usize - 1) else {
            panic!(
                "{what}: acknowledged seq {seq} is missing; the log has {} events",
                events.len()
            )
        };
        assert_eq!(e.seq, seq, "{what}");
        let want = format!("t{task} n{i} ••••••");
        assert!(
            matches!(&e.kind, EventKind::Note { text, .. } if *text == want),
            "{what}: seq {seq} is {:?}, not {want}",
            e.kind
        );
    }
    let (mut log, resumed) =
        IncidentLog::open_for_resume(path, Redactor::new([SECRET])).expect("resume");
    let recovered = resumed.len() - events.len();
    assert_eq!(
        recovered,
        usize::from(matches!(integrity, Integrity::Truncated { .. })),
        "{what}"
    );
    for i in 0..3 {
        log.append("parent", note(9, i))
            .expect("append after resume");
    }
    let (after, integrity) = read_log(path).expect("read the resumed log");
    assert_eq!(
        integrity,
        Integrity::Intact {
            events: resumed.len() + 3
        },
        "{what}"
    );
    assert_eq!(after.len(), resumed.len() + 3);
    figures.resumed += 1;
    events.len()
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_event() {
    let trials: u64 = std::env::var("DRBOOK_CRASH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("DRBOOK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    let mut rng = Rng(seed);
    let mut figures = Figures::default();
    let started = Instant::now();
    for trial in 0..trials {
        let tmp = tempfile::tempdir().expect("temp dir");
        let asynchronous = trial % 2 == 1;
        // Up to 60 ms: some kills land before the log exists, most mid-stream.
        let kill_after = Duration::from_micros(rng.below(60_000));
        let acks = run_child(tmp.path(), asynchronous, kill_after);
        let what = format!(
            "trial {trial} (DRBOOK_CRASH_SEED={seed}, {} child, killed after {kill_after:?})",
            if asynchronous { "async" } else { "sync" }
        );
        check_trial(tmp.path(), &acks, &mut rng, &mut figures, &what);
        figures.trials += 1;
    }
    eprintln!(
        "incident log crash test (seed {seed}, {:.1?}): {figures:?}; acknowledged events lost: 0",
        started.elapsed()
    );
    assert!(
        figures.acknowledged > 0,
        "the child never got going: {figures:?}"
    );
}
