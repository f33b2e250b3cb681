//! End to end on a shared incident: an operator's headless drbook reaches a two-person step
//! and waits; the incident commander, in the TUI of another drbook in a real terminal (tmux)
//! joined to the same share on Azurite, is asked, approves, and the operator's step runs.
//! And with the share down, an operator in the TUI runs a step without a claim, which is
//! claimed on the share once it is back.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::azurite::Azurite;
use crate::support::tmux::{Tmux, log_in};
use drbook::incident::{EventKind, read_log};
use drbook::roles::Role;

const PAIR: &str = r#"
[runbook]
id = "pair"
title = "A change two people agree on"
component = "code"

[[step]]
id = "flip"
title = "Flip the switch"
kind = "command"
argv = ["echo", "flipped"]
approval = "two-person"
confirm = false
"#;

#[test]
fn a_commander_in_the_tui_approves_a_step_waiting_on_an_operators_drbook() {
    let az = Azurite::start();
    let tmp = tempfile::tempdir().unwrap();
    let rb = tmp.path().join("pair.toml");
    std::fs::write(&rb, PAIR).unwrap();
    let share = az.url("drbook/pair");
    let bin = env!("CARGO_BIN_EXE_drbook");

    // The operator: headless, waits at the two-person step for a commander elsewhere.
    let bob = Command::new(bin)
        .arg("rehearse")
        .arg(&rb)
        .args(["--target", "sim", "--non-interactive", "--run-commands"])
        .args(["--operator", "bob", "--share", &share])
        .arg("--log-dir")
        .arg(tmp.path().join("bob"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Once bob's drbook has put the incident on the share (its copy of the timeline is
    // written as it reads and appends), the commander joins it in a terminal.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let mirror = std::fs::read_dir(tmp.path().join("bob"))
            .ok()
            .and_then(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .find(|p| p.to_string_lossy().ends_with(".shared.ndjson"))
            })
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        if mirror.contains("incident_started") {
            break;
        }
        assert!(
            Instant::now() < until,
            "bob's drbook never shared its header"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let tmux = Tmux::new("drbook-share-ic", "ic");
    let cmd = format!(
        "{bin} join '{share}' '{}' --target sim --role commander --operator carol --log-dir '{}'; sleep 60",
        rb.display(),
        tmp.path().join("carol").display()
    );
    tmux.start(&cmd);
    // The approval waits in the commander's queue until they open it.
    tmux.wait_for("waiting: press w to answer", Duration::from_secs(60));
    let out = tmux.cmd(&["send-keys", "-t", "ic", "w"]);
    assert!(out.status.success());
    let asked = tmux.wait_for("run by: bob", Duration::from_secs(60));
    assert!(asked.contains("Two-person rule"), "{asked}");
    assert!(asked.contains("approver: carol"), "{asked}");
    tmux.wait_for("shared ●", Duration::from_secs(20));
    let out = tmux.cmd(&["send-keys", "-t", "ic", "y"]);
    assert!(out.status.success());

    let until = Instant::now() + Duration::from_secs(60);
    let mut bob = bob;
    let status = loop {
        if let Some(s) = bob.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < until,
            "bob's drbook never got the approval; the commander's screen:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = bob.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (events, _) = read_log(&log_in(&tmp.path().join("bob"))).unwrap();
    let approved = events.iter().find_map(|e| match &e.kind {
        EventKind::Approved {
            step,
            by,
            role,
            approved,
            ..
        } if step == "flip" => Some((by.clone(), *role, *approved)),
        _ => None,
    });
    assert_eq!(approved, Some(("carol".into(), Role::Commander, true)));
    let ran = events.iter().any(|e| {
        matches!(&e.kind, EventKind::OutputLine { step, line, .. } if step == "flip" && line == "flipped")
    });
    assert!(ran, "the step ran after the approval: {text}");
    // The commander's screen shows the operator's step finishing under his name.
    tmux.wait_for("bob", Duration::from_secs(10));
    // Who joins takes part in the same incident: one id in both logs' headers.
    let id = |events: &[drbook::incident::Event]| match events.first().map(|e| &e.kind) {
        Some(EventKind::IncidentStarted(h)) => h.incident_id.clone(),
        other => panic!("no header: {other:?}"),
    };
    let (carol, _) = read_log(&log_in(&tmp.path().join("carol"))).unwrap();
    assert_eq!(id(&carol), id(&events));
}

const SOLO: &str = r#"
[runbook]
id = "solo"
title = "A change while the share is down"
component = "code"

[[step]]
id = "flip"
title = "Flip the switch"
kind = "command"
argv = ["echo", "flipped"]
confirm = false
"#;

#[test]
fn with_the_share_down_t_runs_a_step_without_a_claim_and_it_is_claimed_once_back() {
    let mut az = Azurite::start();
    let share = az.url("drbook/solo");
    az.stop();
    let tmp = tempfile::tempdir().unwrap();
    let rb = tmp.path().join("solo.toml");
    std::fs::write(&rb, SOLO).unwrap();
    let tmux = Tmux::new("drbook-share-solo", "ic");
    let cmd = format!(
        "{} rehearse '{}' --target sim --run-commands --operator dora --share '{share}' --log-dir '{}'; sleep 60",
        env!("CARGO_BIN_EXE_drbook"),
        rb.display(),
        tmp.path().join("dora").display()
    );
    tmux.start(&cmd);
    tmux.wait_for("SHARE OFFLINE", Duration::from_secs(30));
    // Enter tries to claim it: not possible, and the screen says what T does.
    tmux.cmd(&["send-keys", "-t", "ic", "Enter"]);
    tmux.wait_for("T runs it without a claim", Duration::from_secs(30));
    tmux.cmd(&["send-keys", "-t", "ic", "T"]);
    let asked = tmux.wait_for("Run without a claim?", Duration::from_secs(10));
    assert!(asked.contains("cannot be claimed"), "{asked}");
    tmux.cmd(&["send-keys", "-t", "ic", "y"]);
    tmux.wait_for("run WITHOUT A CLAIM", Duration::from_secs(30));
    tmux.wait_for("flip done", Duration::from_secs(30));

    // The share comes back: the header says so, and the claim lands on it under dora.
    az.restart();
    tmux.wait_for("shared ●", Duration::from_secs(60));
    let until = Instant::now() + Duration::from_secs(30);
    let claims = loop {
        let mirror = std::fs::read_dir(tmp.path().join("dora"))
            .ok()
            .and_then(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .find(|p| p.to_string_lossy().ends_with(".shared.ndjson"))
            })
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let claims: Vec<String> = mirror
            .lines()
            .filter(|l| l.contains("\"claim\""))
            .map(String::from)
            .collect();
        if !claims.is_empty() {
            break claims;
        }
        assert!(
            Instant::now() < until,
            "no claim reached the share:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert!(claims[0].contains("\"op\":\"dora\"") && claims[0].contains("\"step\":\"flip\""));
    let (events, _) = read_log(&log_in(&tmp.path().join("dora"))).unwrap();
    let unclaimed = events.iter().any(
        |e| matches!(&e.kind, EventKind::StepClaimed { step, offline: true, .. } if step == "flip"),
    );
    assert!(unclaimed, "the log records that it ran without a claim");
    tmux.cmd(&["send-keys", "-t", "ic", "q"]);
}
