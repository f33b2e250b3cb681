//! The shared incident log on Azurite (Microsoft's Storage emulator): real drbook processes
//! writing to one append blob at once, the share stopped and started mid-incident, and
//! claims on the same step racing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::support::azurite::Azurite;
use drbook::blob::Store;
use drbook::incident::{Event, EventKind, read_log};
use drbook::runbook::plan::StepKey;
use drbook::share::record::{Body, Record};
use drbook::share::sync::{self, Setup};
use drbook::share::{ClaimOutcome, Me, remote};

/// A runbook whose command steps print `lines` lines each (one event per line).
fn chatty(id: &str, lines: u32, pause: &str) -> String {
    format!(
        r#"
[runbook]
id = "{id}"
title = "Chatty {id}"
component = "code"

[[step]]
id = "first"
title = "Prints {lines} lines"
kind = "command"
argv = ["sh", "-c", "i=0; while [ $i -lt {lines} ]; do i=$((i+1)); echo {id} line $i; {pause}; done"]
confirm = false

[[step]]
id = "second"
title = "Prints {lines} more"
kind = "command"
argv = ["sh", "-c", "i=0; while [ $i -lt {lines} ]; do i=$((i+1)); echo {id} again $i; {pause}; done"]
depends_on = ["first"]
confirm = false

[[step]]
id = "linger"
title = "Stays a moment, reading the others"
kind = "wait"
duration = "3s"
depends_on = ["second"]
"#
    )
}

fn spawn(dir: &Path, runbook: &Path, operator: &str, share: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_drbook"))
        .arg("rehearse")
        .arg(runbook)
        .args(["--target", "sim", "--non-interactive", "--run-commands"])
        .args([
            "--max-delay",
            "5s",
            "--operator",
            operator,
            "--share",
            share,
        ])
        .arg("--log-dir")
        .arg(dir.join(operator))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start drbook")
}

fn finish(c: Child) -> Output {
    let o = c.wait_with_output().expect("drbook ran");
    assert!(
        o.status.code().is_some(),
        "drbook was killed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(suffix));
    v
}

fn local_log(dir: &Path) -> PathBuf {
    files(dir, ".jsonl")
        .into_iter()
        .find(|p| !p.to_string_lossy().ends_with(".shared.ndjson"))
        .expect("a local log")
}

async fn blob_bytes(az: &Azurite, prefix: &str) -> Vec<u8> {
    let store = Store::open(&az.url(prefix), |_| None, || None).unwrap();
    let name = store.loc.blob_name(sync::TIMELINE);
    let (bytes, _) = remote::read_from(&store, &name, 0)
        .await
        .unwrap()
        .expect("the timeline exists");
    bytes.to_vec()
}

fn records(bytes: &[u8]) -> Vec<Record> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("every line of the blob is a whole record"))
        .collect()
}

/// Each writer's events on the blob, as (sid, seq) in blob order.
fn shared_events(recs: &[Record]) -> Vec<(String, u64, Event)> {
    recs.iter()
        .filter_map(|r| match &r.body {
            Body::Event { seq, .. } => Some((r.sid.clone(), *seq, r.event().expect("decodes"))),
            _ => None,
        })
        .collect()
}

/// Every event of the local log at `log` is on the blob exactly once, in the log's order,
/// and identical (hash included) to the local line.
fn assert_exactly_once(log: &Path, shared: &[(String, u64, Event)]) -> String {
    let (local, _) = read_log(log).expect("the local log reads");
    let sid = drbook::share::writer_id(&local);
    let mine: Vec<&Event> = shared
        .iter()
        .filter(|(s, _, _)| *s == sid)
        .map(|(_, _, e)| e)
        .collect();
    let seqs: Vec<u64> = mine.iter().map(|e| e.seq).collect();
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seqs.len(),
        "{}: an event is on the share twice",
        log.display()
    );
    assert_eq!(
        seqs,
        (1..=local.len() as u64).collect::<Vec<_>>(),
        "{}: the share does not hold every local event once, in order",
        log.display()
    );
    for (l, s) in local.iter().zip(&mine) {
        assert_eq!(&l, s, "the shared copy of event {} differs", l.seq);
    }
    sid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_operators_append_thousands_of_events_each_exactly_once_in_one_order() {
    let az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let share = az.url("drbook/three");
    let ops = ["alice", "bob", "carol"];
    let children: Vec<Child> = ops
        .iter()
        .map(|op| {
            let rb = dir.path().join(format!("{op}.toml"));
            std::fs::write(&rb, chatty(op, 800, ":")).unwrap();
            spawn(dir.path(), &rb, op, &share)
        })
        .collect();
    let outputs: Vec<Output> = children.into_iter().map(finish).collect();
    for (op, o) in ops.iter().zip(&outputs) {
        assert!(
            text(o).contains("every event of this log shared"),
            "{op}: {}",
            text(o)
        );
    }

    let blob = blob_bytes(&az, "drbook/three").await;
    let recs = records(&blob);
    let shared = shared_events(&recs);
    assert!(shared.len() > 4_800, "only {} events shared", shared.len());
    let mut sids = BTreeMap::new();
    for op in ops {
        let log = local_log(&dir.path().join(op));
        sids.insert(op, assert_exactly_once(&log, &shared));
    }
    // Writers interleave on the blob: their blocks went in while the others were writing.
    let order: Vec<&str> = shared.iter().map(|(s, _, _)| s.as_str()).collect();
    let switches = order.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches >= 3,
        "the three never interleaved: {switches} switches"
    );

    // Every drbook's copy of the timeline is the blob's beginning, byte for byte: the same
    // records in the same order for everyone; and each saw the others' events.
    let mut longest = 0;
    for op in ops {
        let mirrors = files(&dir.path().join(op), ".shared.ndjson");
        let mirror = std::fs::read(&mirrors[0]).unwrap();
        assert!(
            blob.starts_with(&mirror),
            "{op}'s copy is not a prefix of the share"
        );
        let seen: BTreeSet<String> = records(&mirror).into_iter().map(|r| r.sid).collect();
        for other in sids.values() {
            assert!(seen.contains(other), "{op} never saw {other}'s records");
        }
        longest = longest.max(mirror.len());
    }
    assert_eq!(
        longest,
        blob.len(),
        "the last to leave read the whole share"
    );

    // The reviewer's view: `drbook report` of the shared timeline checks each writer's chain
    // and reports one incident with everyone in it; an edit is pinned on its writer.
    let file = dir.path().join("timeline.jsonl");
    std::fs::write(&file, &blob).unwrap();
    let report = |f: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
            .arg("report")
            .arg(f)
            .args(["--format", "json"])
            .output()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        v
    };
    let v = report(&file);
    assert_eq!(v["integrity"]["verdict"], "intact", "{}", v["integrity"]);
    let message = v["integrity"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("3 drbook(s)"), "{message}");
    let operators: BTreeSet<&str> = v["operators"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.as_str())
        .collect();
    assert_eq!(operators, BTreeSet::from(["alice", "bob", "carol"]));
    let tampered =
        String::from_utf8(blob.clone())
            .unwrap()
            .replacen("bob line 7\"", "bob line 8\"", 1);
    assert_ne!(tampered.as_bytes(), &blob[..]);
    std::fs::write(&file, tampered).unwrap();
    let v = report(&file);
    assert_eq!(v["integrity"]["verdict"], "altered");
    let message = v["integrity"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("bob's event"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_share_mid_incident_loses_nothing_and_duplicates_nothing() {
    let mut az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let share = az.url("drbook/outage");
    let rb = dir.path().join("dana.toml");
    // About 2,400 events over several seconds; the outage below falls within the first step
    // (a step that starts while the share is down cannot be claimed, and is skipped).
    std::fs::write(&rb, chatty("dana", 1_200, "sleep 0.004")).unwrap();
    let child = spawn(dir.path(), &rb, "dana", &share);
    let log_dir = dir.path().join("dana");
    // Wait until some events are on the share, then take it away for a while.
    let mut waited = 0;
    while waited < 600 {
        let n = std::fs::read(
            files(&log_dir, ".shared.ndjson")
                .first()
                .cloned()
                .unwrap_or_default(),
        )
        .map(|b| b.len())
        .unwrap_or(0);
        if n > 2_000 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    az.stop();
    std::thread::sleep(Duration::from_millis(2_500));
    az.restart();
    let o = finish(child);
    let out = text(&o);
    assert!(
        out.contains("share OFFLINE"),
        "the outage was not noticed: {out}"
    );
    assert!(out.contains("share back online"), "{out}");
    assert!(out.contains("every event of this log shared"), "{out}");

    let blob = blob_bytes(&az, "drbook/outage").await;
    let shared = shared_events(&records(&blob));
    let log = local_log(&log_dir);
    assert_exactly_once(&log, &shared);
    assert!(shared.len() > 2_400, "{}", shared.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_down_for_a_whole_run_holds_back_what_changes_things_and_catches_up_on_resume() {
    let mut az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let share = az.url("drbook/late");
    let rb = dir.path().join("erin.toml");
    std::fs::write(&rb, chatty("erin", 50, ":")).unwrap();
    // Make the container and the timeline exist, then go away before the run.
    let store = Store::open(&share, |_| None, || None).unwrap();
    remote::ensure_container(&store).await.unwrap();
    az.stop();
    let o = rehearse(dir.path(), &rb, "erin", &share, &["--claim-wait", "2s"]);
    let out = text(&o);
    assert!(out.contains("not shared yet"), "{out}");
    assert!(
        out.contains("waiting up to"),
        "the claim was not retried: {out}"
    );
    let log = local_log(&dir.path().join("erin"));
    let (before, _) = read_log(&log).unwrap();
    // Nobody could see a claim, so the commands did not run: skipped, saying why.
    let skipped: Vec<&str> = before
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepSkipped { step, reason, .. } if reason.contains("share is offline") => {
                Some(step.as_str())
            }
            _ => None,
        })
        .collect();
    assert!(skipped.contains(&"first"), "{skipped:?}: {out}");
    assert!(
        !before.iter().any(|e| matches!(
            &e.kind,
            EventKind::StepStarted { step, .. } if step == "first" || step == "second"
        )),
        "a step that changes things started unclaimed"
    );

    az.restart();
    // Resuming takes the share from the log's header.
    let o = resume(&rb, "erin", &log);
    let out = text(&o);
    assert!(out.contains("every event of this log shared"), "{out}");
    let blob = blob_bytes(&az, "drbook/late").await;
    let shared = shared_events(&records(&blob));
    let (after, _) = read_log(&log).unwrap();
    assert!(after.len() > before.len());
    assert_exactly_once(&log, &shared);
}

/// `drbook rehearse` of `runbook` headless as `operator`, with `args`; its output once it
/// ends.
fn rehearse_with(runbook: &Path, operator: &str, args: &[&str]) -> Output {
    finish(
        Command::new(env!("CARGO_BIN_EXE_drbook"))
            .arg("rehearse")
            .arg(runbook)
            .args(["--target", "sim", "--non-interactive", "--run-commands"])
            .args(["--max-delay", "1s", "--operator", operator])
            .args(args)
            .env("DRBOOK_SHARE_FLUSH", "3s")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// As `rehearse_with`, on `share`, logging under `dir/operator`.
fn rehearse(dir: &Path, runbook: &Path, operator: &str, share: &str, extra: &[&str]) -> Output {
    let logs = dir.join(operator).display().to_string();
    let args = [&["--share", share, "--log-dir", &logs], extra].concat();
    rehearse_with(runbook, operator, &args)
}

/// Resumes the incident `log` (its header names the share), reopening it: the first run
/// closed it.
fn resume(runbook: &Path, operator: &str, log: &Path) -> Output {
    rehearse_with(
        runbook,
        operator,
        &["--resume", &log.display().to_string(), "--reopen"],
    )
}

/// The steps of `events` claimed, with whether each ran without a claim.
fn claimed(events: &[Event]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepClaimed { step, offline, .. } => Some((step.clone(), *offline)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_run_waits_for_a_share_that_comes_back_then_claims_and_runs() {
    let mut az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let share = az.url("drbook/back");
    let rb = dir.path().join("ivan.toml");
    std::fs::write(&rb, chatty("ivan", 20, ":")).unwrap();
    az.stop();
    let child = {
        let dir = dir.path().to_path_buf();
        let (rb, share) = (rb.clone(), share.clone());
        std::thread::spawn(move || rehearse(&dir, &rb, "ivan", &share, &["--claim-wait", "60s"]))
    };
    std::thread::sleep(Duration::from_secs(4));
    az.restart();
    let o = child.join().expect("the run ended");
    let out = text(&o);
    assert!(out.contains("waiting up to"), "{out}");
    assert!(out.contains("every event of this log shared"), "{out}");
    let log = local_log(&dir.path().join("ivan"));
    let (events, _) = read_log(&log).unwrap();
    assert_eq!(
        claimed(&events),
        [("first".to_string(), false), ("second".to_string(), false)],
        "{out}"
    );
    let lines = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::OutputLine { .. }))
        .count();
    assert_eq!(lines, 40, "both commands ran once: {out}");
    let shared = shared_events(&records(&blob_bytes(&az, "drbook/back").await));
    assert_exactly_once(&log, &shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_run_unclaimed_while_the_share_is_down_are_claimed_when_it_is_back_and_a_clash_is_told()
 {
    let mut az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let share = az.url("drbook/clash");
    let rb = dir.path().join("judy.toml");
    std::fs::write(&rb, chatty("judy", 10, ":")).unwrap();
    // Kim claims `first` while the share is up; then it goes down.
    let kim = syncer(&az, "drbook/clash", "kim");
    let first = StepKey::new("judy", "first");
    assert_eq!(
        kim.claim(first.clone(), false).await,
        ClaimOutcome::Granted { from: None }
    );
    az.stop();

    // Judy cannot see that: with --run-unclaimed both steps run, recorded as unclaimed.
    let o = rehearse(dir.path(), &rb, "judy", &share, &["--run-unclaimed"]);
    let out = text(&o);
    assert!(out.contains("WITHOUT A CLAIM"), "{out}");
    assert!(out.contains("not shared yet"), "{out}");
    let log = local_log(&dir.path().join("judy"));
    let (before, _) = read_log(&log).unwrap();
    assert_eq!(
        claimed(&before),
        [("first".to_string(), true), ("second".to_string(), true)]
    );
    assert!(before.iter().any(|e| matches!(
        &e.kind,
        EventKind::StepFinished { step, .. } if step == "second"
    )));

    // Back online, the resumed incident shares everything, then claims both steps; the
    // clash over `first` is told in a note that reaches the share.
    az.restart();
    let o = resume(&rb, "judy", &log);
    let out = text(&o);
    assert!(out.contains("every event of this log shared"), "{out}");
    let (after, _) = read_log(&log).unwrap();
    let notes: Vec<(&str, &str)> = after
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note {
                step: Some(s),
                text,
                ..
            } if e.actor == "drbook" => Some((s.as_str(), text.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "first");
    assert!(
        notes[0].1.contains("kim had claimed it") && notes[0].1.contains("judy ran"),
        "{}",
        notes[0].1
    );
    let recs = records(&blob_bytes(&az, "drbook/clash").await);
    let judy = drbook::share::writer_id(&after);
    let judy_claims: Vec<(String, Option<String>)> = recs
        .iter()
        .filter(|r| r.sid == judy)
        .filter_map(|r| match &r.body {
            Body::Claim { step, from, .. } => Some((step.clone(), from.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        judy_claims,
        [
            ("first".to_string(), Some("kim".to_string())),
            ("second".to_string(), None)
        ]
    );
    assert_exactly_once(&log, &shared_events(&recs));
    // Kim sees Judy as the holder now, and the note.
    let _ = kim.flush(false, Duration::from_secs(10)).await;
    let view = kim.view.borrow().clone();
    assert_eq!(
        view.holders.get(&first).map(|h| h.op.as_str()),
        Some("judy")
    );
}

/// `drbook sim` on a free port, and its ARM endpoint.
fn simulator() -> (Child, String) {
    use std::io::BufRead;
    let mut sim = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(["sim", "--port", "0", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start drbook sim");
    let out = sim.stdout.take().expect("stdout");
    let mut first = String::new();
    std::io::BufReader::new(out)
        .read_line(&mut first)
        .expect("the simulator says where it is");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("an address")
        .to_string();
    (sim, url)
}

fn me(op: &str) -> Me {
    Me {
        sid: format!("sid-{op}"),
        op: op.into(),
        role: "operator".into(),
    }
}

fn syncer(az: &Azurite, prefix: &str, op: &str) -> drbook::share::ShareHandle {
    let store = Store::open(&az.url(prefix), |_| None, || None)
        .unwrap()
        .without_retries();
    let (_tx, local) = tokio::sync::mpsc::unbounded_channel();
    // Keep the sender alive for the syncer's lifetime.
    std::mem::forget(_tx);
    sync::spawn(Setup {
        store,
        me: me(op),
        history: Vec::new(),
        local,
        forward: None,
        remote: None,
        mirror: None,
        blocks_per_blob: sync::MAX_BLOCKS,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_racing_for_a_step_never_both_get_it_and_taking_over_is_explicit() {
    let az = Azurite::start();
    let alice = syncer(&az, "drbook/claims", "alice");
    let bob = syncer(&az, "drbook/claims", "bob");
    for i in 0..25 {
        let key = StepKey::new("web-failover", format!("swap-{i}"));
        let (a, b) = tokio::join!(
            alice.claim(key.clone(), false),
            bob.claim(key.clone(), false)
        );
        let granted = [&a, &b]
            .iter()
            .filter(|o| matches!(o, ClaimOutcome::Granted { .. }))
            .count();
        assert_eq!(granted, 1, "step {i}: {a:?} / {b:?}");
        let (winner, loser, loser_name) = if matches!(a, ClaimOutcome::Granted { .. }) {
            (&alice, &bob, "bob")
        } else {
            (&bob, &alice, "alice")
        };
        let held = if loser_name == "bob" { &b } else { &a };
        let ClaimOutcome::HeldBy(h) = held else {
            panic!("the loser was not told who holds it: {held:?}");
        };
        assert_ne!(h.op, loser_name);
        // Asking again changes nothing; the holder asking again keeps it.
        assert!(matches!(
            loser.claim(key.clone(), false).await,
            ClaimOutcome::HeldBy(_)
        ));
        assert_eq!(
            winner.claim(key.clone(), false).await,
            ClaimOutcome::Granted { from: None }
        );
        if i == 0 {
            // Taking over is explicit, and names whose claim it was.
            let t = loser.claim(key.clone(), true).await;
            assert_eq!(
                t,
                ClaimOutcome::Granted {
                    from: Some(h.op.clone())
                }
            );
            assert!(
                matches!(winner.claim(key.clone(), false).await, ClaimOutcome::HeldBy(x) if x.op == loser_name)
            );
        }
    }
    // Both see the same holders.
    let _ = alice.flush(false, Duration::from_secs(10)).await;
    let _ = bob.flush(false, Duration::from_secs(10)).await;
    assert_eq!(alice.view.borrow().holders, bob.view.borrow().holders);
    assert_eq!(alice.view.borrow().holders.len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_share_is_down_the_claims_last_read_still_hold() {
    let mut az = Azurite::start();
    let alice = syncer(&az, "drbook/stale", "alice");
    let bob = syncer(&az, "drbook/stale", "bob");
    let held = StepKey::new("web-failover", "swap");
    let free = StepKey::new("web-failover", "scale");
    assert_eq!(
        alice.claim(held.clone(), false).await,
        ClaimOutcome::Granted { from: None }
    );
    assert!(
        matches!(bob.claim(held.clone(), false).await, ClaimOutcome::HeldBy(h) if h.op == "alice")
    );
    az.stop();
    // Bob's drbook read that alice holds it: offline, that still stands; taking it over needs
    // the share; a step nobody held cannot be claimed; alice still holds hers.
    assert!(
        matches!(bob.claim(held.clone(), false).await, ClaimOutcome::HeldBy(h) if h.op == "alice")
    );
    assert!(matches!(
        bob.claim(held.clone(), true).await,
        ClaimOutcome::Offline(_)
    ));
    assert!(matches!(
        bob.claim(free.clone(), false).await,
        ClaimOutcome::Offline(_)
    ));
    assert_eq!(
        alice.claim(held, false).await,
        ClaimOutcome::Granted { from: None }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_drbooks_on_one_plan_run_a_claimed_destructive_step_once() {
    let az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let share = az.url("drbook/double");
    // One simulated Azure for both, as two engineers share one real Azure.
    let (mut sim, arm) = simulator();
    let both: Vec<Child> = ["frank", "grace"]
        .iter()
        .map(|op| {
            Command::new(env!("CARGO_BIN_EXE_drbook"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(["rehearse", "runbooks/network.toml", "--target", "azure"])
                .args(["--auth", "sim", "--arm-endpoint", &arm])
                .args([
                    "--non-interactive",
                    "--auto-approve",
                    "--max-delay",
                    "100ms",
                ])
                .args(["--operator", op, "--share", &share])
                .arg("--log-dir")
                .arg(dir.path().join(op))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = both.into_iter().map(finish).collect();
    let _ = sim.kill();
    let _ = sim.wait();
    let mut started = BTreeMap::<String, Vec<&str>>::new();
    let mut refused = BTreeMap::<String, Vec<(&str, Option<String>)>>::new();
    let logs: Vec<(&str, Vec<Event>)> = ["frank", "grace"]
        .into_iter()
        .map(|op| (op, read_log(&local_log(&dir.path().join(op))).unwrap().0))
        .collect();
    for (op, events) in &logs {
        for e in events {
            match &e.kind {
                EventKind::StepStarted { runbook, step, .. } if runbook == "network-failover" => {
                    started.entry(step.clone()).or_default().push(op)
                }
                EventKind::ClaimRefused { step, holder, .. } => refused
                    .entry(step.clone())
                    .or_default()
                    .push((op, holder.clone())),
                _ => {}
            }
        }
    }
    for destructive in ["tm-disable-primary", "afd-disable-primary"] {
        let who = started.get(destructive).cloned().unwrap_or_default();
        assert_eq!(
            who.len(),
            1,
            "{destructive} started by {who:?}: {}",
            text(&outs[0])
        );
        let refusals = refused.get(destructive).cloned().unwrap_or_default();
        assert_eq!(refusals.len(), 1, "{destructive}: {refusals:?}");
        assert_ne!(refusals[0].0, who[0]);
        assert_eq!(
            refusals[0].1.as_deref(),
            Some(who[0]),
            "the refusal names the holder"
        );
    }
    // Read-only checks are not claimed: both ran them.
    assert_eq!(started.get("dns-apex").map(Vec::len), Some(2));
}

/// The share holds every event of a local log with its seq and hash: it anchors the head, so
/// a local log cut short (or changed) after it was shared is caught by `report --share`, and
/// by the `.shared.ndjson` copy beside it, where the local chain alone holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_log_cut_short_after_it_was_shared_is_caught_against_the_share() {
    let az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let share = az.url("drbook/anchor");
    let rb = dir.path().join("erin.toml");
    std::fs::write(&rb, chatty("erin", 20, "true")).unwrap();
    let o = rehearse(dir.path(), &rb, "erin", &share, &[]);
    assert!(
        text(&o).contains("every event of this log shared"),
        "{}",
        text(&o)
    );
    let log = local_log(&dir.path().join("erin"));
    let (events, _) = read_log(&log).unwrap();
    let n = events.len();
    let report = |extra: &[&str]| {
        // `timeout`: a share that does not answer must fail the test, not hang it.
        let o = Command::new("timeout")
            .arg("15")
            .arg(env!("CARGO_BIN_EXE_drbook"))
            .arg("report")
            .arg(&log)
            .args(["--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        (o.status.code(), v["integrity"].clone())
    };
    let (code, i) = report(&["--share", &share]);
    assert_eq!(code, Some(0), "{i}");
    let anchored = format!("the share holds this log up to #{n} ");
    assert!(i["anchor"].as_str().unwrap().contains(&anchored), "{i}");

    // The last events deleted: the chain that is left still holds on its own.
    let full = std::fs::read_to_string(&log).unwrap();
    let kept: String = full.lines().take(n / 2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, kept).unwrap();
    let mirror = drbook::share::mirror_path(&log);
    let copy = std::fs::read(&mirror).unwrap();
    std::fs::remove_file(&mirror).unwrap();
    let (code, i) = report(&[]);
    assert_eq!(
        (code, i["verdict"].as_str()),
        (Some(0), Some("intact")),
        "{i}"
    );
    let truncated = format!("TRUNCATED: the share holds events up to #{n} ");
    for args in [&["--share", share.as_str()][..], &["--share"][..]] {
        let (code, i) = report(args);
        assert_eq!(code, Some(1), "{args:?}: {i}");
        assert_eq!(i["verdict"], "truncated", "{args:?}: {i}");
        assert!(
            i["message"].as_str().unwrap().starts_with(&truncated),
            "{args:?}: {i}"
        );
    }
    // The copy of the share beside the log tells as well, without asking the share.
    std::fs::write(&mirror, copy).unwrap();
    let (code, i) = report(&[]);
    assert_eq!(code, Some(1), "{i}");
    assert!(
        i["message"]
            .as_str()
            .unwrap()
            .starts_with("TRUNCATED: the share holds events up to #"),
        "{i}"
    );
}
