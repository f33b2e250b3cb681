//! `drbook rehearse` / `drbook run` end to end (the real binary, the in-process simulator):
//! the log it leaves, the rehearsal levels, clean-up and the RTO scorecard.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::cli::{self, text};
use drbook::incident::{EventKind, Integrity, Mode, Outcome, RehearsalLevel, read_log};

mod endings;

fn drbook(args: &[&str], dir: &Path) -> Output {
    let answers = dir.join("answers.toml");
    let _ = std::fs::write(
        &answers,
        "[manual]\n\"*\" = { outcome = \"ok\", note = \"done in the drill\" }\n",
    );
    cli::drbook()
        .args(args)
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(dir.join("logs"))
        .args(["--max-delay", "200ms", "--operator", "gameday"])
        .output()
        .expect("run drbook")
}

fn the_log(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("logs"))
        .ok()
        .and_then(|mut d| {
            d.find_map(|e| {
                e.ok()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            })
        })
        .expect("a log was written")
}

#[test]
fn a_full_rehearsal_with_cleanup_leaves_a_complete_verified_log_and_a_scorecard() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = drbook(
        &[
            "rehearse",
            "runbooks/network.toml",
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
            "--cleanup",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("network-failover") && out.contains("within RTO"),
        "{out}"
    );
    let log = the_log(dir.path());
    let mode = std::fs::metadata(&log)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("meta");
    assert_eq!(mode, 0o600);
    let (events, integrity) = read_log(&log).expect("readable");
    assert!(matches!(integrity, Integrity::Intact { .. }), "{integrity}");
    let EventKind::IncidentStarted(h) = &events[0].kind else {
        panic!("no header")
    };
    assert_eq!(h.mode, Mode::Rehearsal);
    assert_eq!(h.level, Some(RehearsalLevel::Full));
    assert!(h.auto_approve);
    assert_eq!(h.runbooks.len(), 1);
    assert_eq!(h.runbooks[0].sha256.len(), 64);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    for k in [
        "step_started",
        "check_result",
        "confirmed",
        "step_finished",
        "note",
        "cleanup_started",
        "cleanup_finished",
        "incident_closed",
    ] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::StepFinished { step, .. } if step == "tm-enable-primary")), "the cleanup ran");
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::CleanupFinished {
            outcome: drbook::incident::Outcome::Ok,
            ..
        }
    )));
    // The summary quotes the head of the log as it ends, for the incident ticket.
    let last = events.last().expect("events");
    let head = format!("log head: #{} {} (intact", last.seq, &last.hash[..8]);
    assert!(out.contains(&head), "no `{head}` in {out}");
}

#[test]
fn a_read_only_rehearsal_reads_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = drbook(
        &[
            "rehearse",
            "runbooks/network.toml",
            "--target",
            "sim",
            "--non-interactive",
            "--read-only",
        ],
        dir.path(),
    );
    let (events, _) = read_log(&the_log(dir.path())).expect("readable");
    let skipped: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepSkipped { step, reason, .. }
                if reason.contains("read-only rehearsal") =>
            {
                Some(step.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        skipped.contains(&"tm-disable-primary".to_string()),
        "{skipped:?}\n{}",
        text(&o)
    );
    assert!(!events.iter().any(
        |e| matches!(&e.kind, EventKind::StepStarted { step, .. } if step == "tm-disable-primary")
    ));
    assert!(
        events.iter().any(
            |e| matches!(&e.kind, EventKind::CheckResult { step, .. } if step == "tm-secondary")
        )
    );
}

#[test]
fn run_refuses_the_simulator_and_rehearse_on_azure_shows_a_banner() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = drbook(
        &[
            "run",
            "runbooks/network.toml",
            "--target",
            "sim",
            "--non-interactive",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("use `drbook rehearse`"));
    let o = drbook(
        &[
            "rehearse",
            "runbooks/network.toml",
            "--target",
            "azure",
            "--arm-endpoint",
            "http://127.0.0.1:9",
            "--auth",
            "cli",
            "--non-interactive",
            "--dry-run",
        ],
        dir.path(),
    );
    assert!(text(&o).contains("REHEARSAL AGAINST AZURE"), "{}", text(&o));
    // `drbook sim` reached as Azure (--auth sim) is a simulator still: no such warning.
    let o = drbook(
        &[
            "rehearse",
            "runbooks/network.toml",
            "--target",
            "azure",
            "--arm-endpoint",
            "http://127.0.0.1:9",
            "--auth",
            "sim",
            "--non-interactive",
            "--dry-run",
        ],
        dir.path(),
    );
    assert!(
        !text(&o).contains("REHEARSAL AGAINST AZURE"),
        "{}",
        text(&o)
    );
}

#[test]
fn scoping_to_the_damage_trims_the_plan_and_is_logged() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = drbook(
        &[
            "rehearse",
            "runbooks/",
            "--target",
            "sim",
            "--non-interactive",
            // Not a dry run: that one says nothing of the RTO (it changes nothing).
            "--read-only",
            "--component",
            "network",
        ],
        dir.path(),
    );
    let out = text(&o);
    assert!(out.contains("scope: 1 runbook(s) involve network"), "{out}");
    assert!(out.contains("critical path:"), "{out}");
    // Time against the plan's RTO, as it goes and when everything has settled.
    assert!(
        out.lines().any(|l| l.starts_with("⏱ ")
            && l.contains("18/18 steps settled")
            && l.contains("RTO 4h")),
        "{out}"
    );
    let (events, _) = read_log(&the_log(dir.path())).expect("readable");
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::ScopeSet { components, .. } if components == &["network".to_string()])));
    let runbooks: std::collections::BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e.kind.step_ref().map(|(r, _)| r))
        .collect();
    assert_eq!(
        runbooks.into_iter().collect::<Vec<_>>(),
        ["network-failover"]
    );
    let o = drbook(
        &[
            "rehearse",
            "runbooks/",
            "--target",
            "sim",
            "--non-interactive",
            "--dry-run",
            "--region",
            "mars",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn commands_are_not_run_against_the_simulator_unless_asked() {
    let dir = tempfile::tempdir().expect("tmp");
    let _ = drbook(
        &[
            "rehearse",
            "runbooks/data-storage.toml",
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
        ],
        dir.path(),
    );
    let (events, _) = read_log(&the_log(dir.path())).expect("readable");
    let skipped = events.iter().any(|e| matches!(&e.kind, EventKind::StepSkipped { step, reason, .. } if step == "read-test" && reason.contains("commands reach real systems")));
    assert!(
        skipped,
        "{:#?}",
        events.iter().map(|e| e.kind.name()).collect::<Vec<_>>()
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::StepStarted { step, .. } if step == "read-test"))
    );
}

/// A rehearsal on the simulator runs no command, so the secrets only commands use may be
/// unset: they stand in, each told once in the log; with `--run-commands` they are needed.
#[test]
fn unset_secrets_stand_in_on_the_simulator_and_are_needed_when_commands_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let rehearse = |extra: &[&str], logs: &str| {
        Command::new(env!("CARGO_BIN_EXE_drbook"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("AZURE_DEVOPS_EXT_PAT")
            .env_remove("GH_TOKEN")
            .env_remove("DRBOOK_VAR_ADO_PAT")
            .env_remove("DRBOOK_VAR_GITHUB_TOKEN")
            .args(["rehearse", "runbooks/code.toml", "--target", "sim"])
            .args([
                "--non-interactive",
                "--auto-approve",
                "--max-delay",
                "200ms",
            ])
            .arg("--log-dir")
            .arg(dir.path().join(logs))
            .args(extra)
            .output()
            .expect("run drbook")
    };
    let o = rehearse(&[], "logs");
    let out = text(&o);
    assert!(!out.contains("has no value"), "{out}");
    let (events, integrity) = read_log(&the_log(dir.path())).expect("readable");
    assert!(matches!(integrity, Integrity::Intact { .. }), "{integrity}");
    let notes: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { text, .. } if text.contains("stand in") => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        [
            "unset secrets stand in, as no command runs against the simulator; a real incident \
          needs them: ado_pat ($AZURE_DEVOPS_EXT_PAT) of code-continuity; github_token \
          ($GH_TOKEN) of code-continuity"
        ]
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::StepSkipped { reason, .. } if reason.contains("commands reach real systems"))),
        "the command steps are skipped, not run with a stand-in"
    );

    let o = rehearse(&["--run-commands"], "logs-commands");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("variable `ado_pat` of runbook `code-continuity` has no value: set $AZURE_DEVOPS_EXT_PAT"),
        "{out}"
    );
    assert!(
        !dir.path().join("logs-commands").exists(),
        "no log for a run that never started"
    );
}

/// Command output and notes with terminal escapes (an OSC 52 clipboard write, a window title,
/// cursor moves, colours) are kept in the log as written, but neither the headless run's
/// output nor the Markdown (or HTML) report passes them on raw.
#[test]
fn terminal_escapes_in_output_and_notes_reach_neither_the_terminal_nor_the_report() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = dir.path().join("esc.toml");
    std::fs::write(
        &rb,
        r#"
[runbook]
id = "esc"
title = "Escapes in output and notes"
component = "web"

[[step]]
id = "say"
title = "A command that prints escapes"
kind = "command"
# printf makes the escapes: a runbook's own text may hold no control character.
argv = ["printf", "before \\033]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\007 \\033[31mred\\033[0m \\033[2J\\033]0;pwned\\033\\\\after\\n"]
destructive = false

[[step]]
id = "confirm"
title = "Someone confirms"
kind = "manual"
depends_on = ["say"]
instructions = "Confirm."
"#,
    )
    .expect("runbook");
    let answers = dir.path().join("esc-answers.toml");
    std::fs::write(
        &answers,
        "[manual]\n\"*\" = { outcome = \"ok\", note = \"noted \\u001b]52;c;ZXZpbA==\\u0007 and \\u001b[1;1H\\u001b[2Kthere\" }\n",
    )
    .expect("answers");
    let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(["rehearse", "--target", "sim", "--non-interactive"])
        .args(["--auto-approve", "--run-commands", "--max-delay", "200ms"])
        .arg(&rb)
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .output()
        .expect("run drbook");
    // An escape is gone whole: no control character, and no `]52;` left where one was cut
    // (the command line itself spells `\033]52;` out as text, which is harmless).
    let raw = |t: &str| {
        t.contains(['\x1b', '\x07', '\u{9b}', '\u{9d}'])
            || t.replace("\\033]52;", "").contains("]52;")
    };
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!raw(&out), "escapes on the terminal: {out:?}");
    assert!(out.contains("before  red after"), "{out}");
    assert!(out.contains("noted  and there"), "{out}");
    let log = the_log(dir.path());
    let (events, _) = read_log(&log).expect("readable");
    assert!(
        events.iter().any(
            |e| matches!(&e.kind, EventKind::OutputLine { line, .. } if line.contains("\x1b]52;"))
        ),
        "the log keeps the output as it was"
    );
    for format in ["md", "html"] {
        let r = Command::new(env!("CARGO_BIN_EXE_drbook"))
            .args(["report", "--format", format])
            .arg(&log)
            .output()
            .expect("run drbook report");
        let report = text(&r);
        assert!(r.status.success(), "{report}");
        assert!(!raw(&report), "escapes in the {format} report: {report:?}");
        assert!(report.contains("noted  and there"), "{report}");
    }
}

/// `--share` over plain http to another machine is refused before anything is sent or opened,
/// whatever credential the environment holds, and the message shows no secret.
#[test]
fn a_share_over_plain_http_to_another_machine_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().expect("tmp");
    for (env, value) in [
        ("AZURE_STORAGE_KEY", drbook::blob::DEV_KEY),
        (
            "AZURE_STORAGE_SAS_TOKEN",
            "sv=2022-11-02&sr=c&sp=racw&sig=TOPSECRET",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("AZURE_STORAGE_KEY")
            .env_remove("AZURE_STORAGE_SAS_TOKEN")
            .env(env, value)
            .args(["rehearse", "runbooks/network.toml", "--target", "sim"])
            .args(["--non-interactive", "--auto-approve", "--share"])
            .arg("http://stdrshared.blob.core.windows.net/incidents/INC-1")
            .arg("--log-dir")
            .arg(dir.path().join("logs"))
            .output()
            .expect("run drbook");
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{env}: {out}");
        assert!(
            out.contains("--share") && out.contains("plain http"),
            "{out}"
        );
        assert!(
            !out.contains("TOPSECRET") && !out.contains(&value[..12]),
            "{out}"
        );
        assert!(!dir.path().join("logs").exists(), "no incident was opened");
    }
}

/// The TUI without a terminal (a script that forgot --non-interactive) is refused before an
/// incident is opened: no empty log is left behind to be mistaken for one.
#[test]
fn the_tui_without_a_terminal_is_refused_and_opens_no_incident() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rehearse", "runbooks/network.toml", "--target", "sim"])
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run drbook");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("the TUI needs a terminal; use --non-interactive"),
        "{out}"
    );
    let logs = std::fs::read_dir(dir.path().join("logs")).map_or(0, |d| d.count());
    assert_eq!(logs, 0, "an incident was opened: {out}");
}

/// With `DRBOOK_LOG_KEY` the chain is keyed: the header says so (never the key), the report
/// verifies it with the key and will not call it intact without; a resume needs the key; a
/// malformed key is refused without being quoted.
#[test]
fn a_keyed_log_is_verified_with_its_key_and_never_called_intact_without() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = "5eed5eed5eed5eed5eed5eed5eed5eed0123456789abcdef0123456789abcdef";
    let with_key = |args: &[&str], key: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_drbook"));
        c.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
        match key {
            Some(k) => c.env("DRBOOK_LOG_KEY", k),
            None => c.env_remove("DRBOOK_LOG_KEY"),
        };
        c.output().expect("run drbook")
    };
    let logs = dir.path().join("logs");
    let logs_arg = logs.to_str().expect("utf-8");
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = { outcome = \"ok\" }\n").expect("answers");
    let rehearse = [
        "rehearse",
        "runbooks/network.toml",
        "--target",
        "sim",
        "--non-interactive",
        "--auto-approve",
        "--max-delay",
        "200ms",
        "--answers",
        answers.to_str().expect("utf-8"),
        "--log-dir",
        logs_arg,
    ];
    let o = with_key(&rehearse, Some(key));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("log head: #"), "{}", text(&o));
    assert!(
        text(&o).contains("keyed with DRBOOK_LOG_KEY"),
        "{}",
        text(&o)
    );
    let log = the_log(dir.path());
    let bytes = std::fs::read_to_string(&log).expect("log");
    assert!(
        bytes
            .lines()
            .next()
            .expect("header")
            .contains("\"keyed\":{\"alg\":\"hmac-sha256\""),
        "{bytes}"
    );
    assert!(!bytes.contains(key) && !text(&o).contains(key));
    let log_arg = log.to_str().expect("utf-8");

    let o = with_key(&["report", log_arg, "--format", "json"], Some(key));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["integrity"]["verdict"], "intact");

    let o = with_key(&["report", log_arg], None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("keyed: not verified without DRBOOK_LOG_KEY"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("✅ intact"), "{}", text(&o));

    // A resume without the key is refused, and nothing is appended.
    let mut resume: Vec<&str> = rehearse.to_vec();
    resume.extend(["--resume", log_arg]);
    let o = with_key(&resume, None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("set DRBOOK_LOG_KEY"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&log).expect("log"), bytes);

    // A malformed key stops drbook before anything is written, and is not quoted.
    let o = with_key(&rehearse, Some("hunter2-not-a-key"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("DRBOOK_LOG_KEY"), "{}", text(&o));
    assert!(!text(&o).contains("hunter2"), "{}", text(&o));
}

/// `--non-interactive` takes who is at the keyboard and their role from the config file, as
/// the TUI does (the command line still wins).
#[test]
fn a_headless_run_takes_the_operator_and_role_from_the_config_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "operator = \"zoe\"\nrole = \"commander\"\n").expect("config");
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = \"ok\"\n").expect("answers");
    let o = Command::new("timeout")
        .arg("15")
        .arg(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rehearse", "tests/resume/slow.toml", "--target", "sim"])
        .args(["--non-interactive", "--max-delay", "10ms", "--answers"])
        .arg(&answers)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .env("DRBOOK_CONFIG", &config)
        .env_remove("DRBOOK_OPERATOR")
        .output()
        .expect("run drbook");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (events, _) = read_log(&the_log(dir.path())).expect("readable");
    let EventKind::IncidentStarted(h) = &events[0].kind else {
        panic!("no header")
    };
    assert_eq!(h.operators, ["zoe"]);
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            EventKind::RoleTaken { operator, role: drbook::roles::Role::Commander } if operator == "zoe"
        )),
        "{events:#?}"
    );
    // zoe, through the answers file, which the log names.
    let by_file = format!("zoe (answers file {})", answers.display());
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::StepFinished { .. }) && e.actor == by_file),
        "{events:#?}"
    );
}

/// `${incident.id}`, `${incident.mode}`, `${incident.operator}` and `${incident.started}` have
/// the incident's values in a run: a command receives them, and a step conditioned on the mode
/// runs (they were empty, so every step that named them failed or was skipped).
/// The headless table says "within RTO" only of a recovered runbook: one that stopped at a
/// failed step (the step after it never ran) says NOT RECOVERED, however little time it took.
#[test]
fn a_runbook_stopped_by_a_failed_step_is_not_within_its_rto() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = dir.path().join("stops.toml");
    std::fs::write(
        &rb,
        r#"
[runbook]
id = "stops"
title = "Stops at a decision"
component = "web"
rto = "1h"

[[step]]
id = "look"
title = "Look"
kind = "command"
argv = ["true"]
destructive = false

[[step]]
id = "decide"
title = "A check that fails"
kind = "command"
argv = ["false"]
destructive = false
depends_on = ["look"]

[[step]]
id = "act"
title = "Act"
kind = "command"
argv = ["true"]
destructive = false
depends_on = ["decide"]
"#,
    )
    .expect("runbook");
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
    assert_ne!(o.status.code(), Some(0), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("✘ stops "))
        .unwrap_or_else(|| panic!("no table row: {out}"));
    assert!(row.contains("NOT RECOVERED: 1 failed"), "{row}");
    assert!(!row.contains("within RTO"), "{row}");
}

/// The undo list printed after a rehearsal shows titles with their variables filled in, as
/// every other screen does (not `${...}`).
#[test]
fn the_undo_list_after_a_rehearsal_fills_in_its_titles() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = dir.path().join("undo-titles.toml");
    std::fs::write(
        &rb,
        r#"
[runbook]
id = "undo-titles"
title = "Undo titles"
component = "web"

[vars]
who = "North Europe"

[[step]]
id = "change"
title = "Change something in ${who}"
kind = "command"
argv = ["true"]
destructive = false
cleanup = "undo"

[[rollback]]
id = "undo"
title = "Bring ${who} back"
kind = "command"
argv = ["true"]
destructive = false
"#,
    )
    .expect("runbook");
    let o = drbook(
        &[
            "rehearse",
            rb.to_str().expect("utf-8 path"),
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
            "--run-commands",
        ],
        dir.path(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("to undo this rehearsal"), "{out}");
    assert!(
        out.contains("undo-titles/undo: Bring North Europe back"),
        "{out}"
    );
    assert!(!out.contains("${who}"), "{out}");
    // The command it prints undoes it, as printed.
    let cmd = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("to undo this rehearsal, run: ")
                .and_then(|c| c.strip_suffix(" (or by hand):"))
        })
        .expect("the command that undoes the rehearsal");
    let cmd = cmd.replacen("drbook", env!("CARGO_BIN_EXE_drbook"), 1);
    let undo = Command::new("timeout")
        .args(["60", "sh", "-c", &cmd])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the printed command");
    assert_eq!(undo.status.code(), Some(0), "{cmd}\n{}", text(&undo));
    assert!(
        text(&undo).contains("clean-up undo-titles/undo (undoes change): done"),
        "{}",
        text(&undo)
    );
}

#[test]
fn incident_references_have_the_incident_values_in_a_rehearsal() {
    let dir = tempfile::tempdir().expect("tmp");
    let rb = dir.path().join("incident-refs.toml");
    std::fs::write(
        &rb,
        r#"
[runbook]
id = "incident-refs"
title = "Incident references"
component = "web"

[[step]]
id = "say"
title = "A command that prints the incident's values"
kind = "command"
argv = ["printf", "id=%s|mode=%s|operator=%s|started=%s\\n", "${incident.id}", "${incident.mode}", "${incident.operator}", "${incident.started}"]
destructive = false

[[step]]
id = "drill-only"
title = "Runs only in a rehearsal"
kind = "manual"
depends_on = ["say"]
when = { value = "${incident.mode}", equals = "rehearsal" }
instructions = "Drill ${incident.id}."
"#,
    )
    .expect("runbook");
    let o = drbook(
        &[
            "rehearse",
            rb.to_str().expect("utf-8 path"),
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
            "--run-commands",
        ],
        dir.path(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let (events, _) = read_log(&the_log(dir.path())).expect("readable");
    let Some(EventKind::IncidentStarted(h)) = events.first().map(|e| &e.kind) else {
        panic!("no header");
    };
    let started = events[0]
        .ts
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let line = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::OutputLine { step, line, .. } if step == "say" => Some(line.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no output from `say`: {out}"));
    assert_eq!(
        line,
        format!(
            "id={}|mode=rehearsal|operator=gameday|started={started}",
            h.incident_id
        )
    );
    assert!(!h.incident_id.is_empty());
    assert!(
        events.iter().any(|e| matches!(&e.kind,
            EventKind::StepFinished { step, outcome: Outcome::Ok, .. } if step == "drill-only")),
        "the rehearsal-only step ran: {:#?}",
        events.iter().map(|e| e.kind.name()).collect::<Vec<_>>()
    );
}

/// Two changes, each with a clean-up; the newest one's clean-up (`undo-b`) fails until the
/// file `flag` exists.
fn cleanup_runbook(dir: &Path, flag: &Path) -> PathBuf {
    let rb = dir.join("undo-all.toml");
    std::fs::write(
        &rb,
        format!(
            r#"
[runbook]
id = "undo-all"
title = "Undo all"
component = "web"

[[step]]
id = "a"
title = "Change A"
kind = "command"
argv = ["true"]
destructive = false
cleanup = "undo-a"

[[step]]
id = "b"
title = "Change B"
kind = "command"
argv = ["true"]
destructive = false
depends_on = ["a"]
cleanup = "undo-b"

[[rollback]]
id = "undo-a"
title = "Undo A"
kind = "command"
argv = ["true"]
destructive = false

[[rollback]]
id = "undo-b"
title = "Undo B"
kind = "command"
argv = ["test", "-e", "{}"]
destructive = false
"#,
            flag.display()
        ),
    )
    .expect("runbook");
    rb
}

/// `--cleanup` tries every clean-up even after one fails, says how each ended, exits 1, and
/// the command it prints to finish the job works: run as printed, it does the clean-up left
/// (and not again what is done). The log says which steps were clean-up, and the report has
/// a clean-up section.
#[test]
fn cleanup_tries_every_step_reports_each_and_its_printed_command_finishes_the_job() {
    let dir = tempfile::tempdir().expect("tmp");
    let flag = dir.path().join("undo-b-can-run");
    let rb = cleanup_runbook(dir.path(), &flag);
    let o = drbook(
        &[
            "rehearse",
            rb.to_str().expect("utf-8 path"),
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
            "--run-commands",
            "--cleanup",
        ],
        dir.path(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("clean-up undo-all/undo-b (undoes b): FAILED"),
        "{out}"
    );
    // Tried after undo-b failed.
    assert!(
        out.contains("clean-up undo-all/undo-a (undoes a): done"),
        "{out}"
    );
    assert!(!out.contains("finished: every runbook done\n"), "{out}");
    let log = the_log(dir.path());
    let (events, _) = read_log(&log).expect("readable");
    let listed: Vec<(String, String)> = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::CleanupStarted { steps, .. } => Some(
                steps
                    .iter()
                    .map(|s| (s.step.clone(), s.undoes.clone()))
                    .collect(),
            ),
            _ => None,
        })
        .expect("cleanup_started");
    assert_eq!(
        listed,
        [
            ("undo-b".to_string(), "b".to_string()),
            ("undo-a".to_string(), "a".to_string())
        ]
    );
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::CleanupFinished { outcome: Outcome::Failed, error: Some(why), .. }
            if why.contains("undo-b failed")
    )));
    let md = report_of(&log);
    assert!(md.contains("## Clean-up"), "{md}");
    assert!(
        md.contains("| `undo-all` | `undo-b` | `b` | ❌ FAILED |"),
        "{md}"
    );
    assert!(
        md.contains("| `undo-all` | `undo-a` | `a` | ✅ done |"),
        "{md}"
    );
    assert!(md.contains("1 clean-up step(s) not done"), "{md}");
    let json = report_as(&log, "json");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let rows: Vec<(&str, &str, &str)> = v["cleanups"]
        .as_array()
        .expect("cleanups")
        .iter()
        .map(|c| {
            (
                c["step"].as_str().unwrap_or_default(),
                c["undoes"].as_str().unwrap_or_default(),
                c["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(rows, [("undo-b", "b", "failed"), ("undo-a", "a", "done")]);
    assert!(
        v["cleanups"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("exit 1")),
        "{json}"
    );
    let html = report_as(&log, "html");
    assert!(html.contains("<h2>Clean-up</h2>"), "{html}");

    // The command it printed, run as printed once the cause is fixed.
    let cmd = out
        .lines()
        .find_map(|l| l.split_once("run the rest of it with: ").map(|(_, c)| c))
        .expect("a command to finish the clean-up");
    assert!(
        cmd.contains("--reopen") && cmd.contains("--cleanup"),
        "{cmd}"
    );
    std::fs::write(&flag, "").expect("flag");
    let cmd = cmd.replacen("drbook", env!("CARGO_BIN_EXE_drbook"), 1);
    let again = Command::new("timeout")
        .args(["60", "sh", "-c", &cmd])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the printed command");
    let out = text(&again);
    assert_eq!(again.status.code(), Some(0), "{cmd}\n{out}");
    assert!(
        out.contains("clean-up undo-all/undo-b (undoes b): done"),
        "{out}"
    );
    assert!(!out.contains("undo-all/undo-a (undoes a)"), "{out}");
    let (events, _) = read_log(&log).expect("readable");
    let ran = |step: &str| {
        events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::StepFinished { step: s, .. } if s == step))
            .count()
    };
    assert_eq!((ran("undo-a"), ran("undo-b")), (1, 2));
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::IncidentResumed {
            reopened: Some(_),
            ..
        }
    )));
    let md = report_of(&log);
    assert!(
        md.contains("| `undo-all` | `undo-b` | `b` | ✅ done |"),
        "{md}"
    );
    assert!(
        md.contains("| `undo-all` | `undo-a` | `a` | ✅ done |"),
        "{md}"
    );
    assert!(!md.contains("not done"), "{md}");
}

fn report_of(log: &Path) -> String {
    report_as(log, "md")
}

fn report_as(log: &Path, format: &str) -> String {
    let o = Command::new("timeout")
        .arg("15")
        .arg(env!("CARGO_BIN_EXE_drbook"))
        .arg("report")
        .arg(log)
        .args(["--format", format])
        .output()
        .expect("drbook report");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A step that asks first, then a change with a clean-up.
const ASKS: &str = r#"
[runbook]
id = "asks"
title = "Asks first"
component = "web"

[[step]]
id = "go"
title = "Change something"
kind = "command"
argv = ["true"]
destructive = false
confirm = true
"#;

/// Who answered a confirmation is in the log and the report: --auto-approve, an answers
/// file (by its path), or nobody (a headless run without answers declines, and credits no
/// answers file).
#[test]
fn confirmations_say_who_or_what_answered_in_the_log_and_the_report() {
    let run = |extra: &[&str], name: &str| -> (Vec<drbook::incident::Event>, String, String) {
        let dir = tempfile::tempdir().expect("tmp");
        let rb = dir.path().join("asks.toml");
        std::fs::write(&rb, ASKS).expect("runbook");
        let o = Command::new("timeout")
            .arg("30")
            .arg(env!("CARGO_BIN_EXE_drbook"))
            .current_dir(dir.path())
            .args([
                "rehearse",
                "asks.toml",
                "--target",
                "sim",
                "--non-interactive",
            ])
            .args([
                "--run-commands",
                "--operator",
                "gameday",
                "--log-dir",
                "logs",
            ])
            .args(extra)
            .output()
            .expect("run drbook");
        let log = the_log(dir.path());
        let (events, _) = read_log(&log).expect("readable");
        let confirmed = events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::Confirmed { by, .. } => Some(by.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: no confirmation: {}", text(&o)));
        (events, confirmed, report_of(&log))
    };

    let (_, by, md) = run(&["--auto-approve"], "auto");
    assert_eq!(by, "gameday (--auto-approve)");
    assert!(md.contains("confirmed by gameday (--auto-approve)"), "{md}");
    assert!(!md.contains("answers file"), "{md}");

    let answers = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(answers.path(), "[confirm]\n\"asks/go\" = true\n").expect("answers");
    let path = answers.path().display().to_string();
    let (_, by, md) = run(&["--answers", &path], "answers");
    assert_eq!(by, format!("gameday (answers file {path})"));
    assert!(
        md.contains(&format!("confirmed by gameday (answers file {path})")),
        "{md}"
    );

    // No --answers: declined by default, and no answers file is credited.
    let (events, by, md) = run(&[], "none");
    assert_eq!(by, "drbook (no --answers file)");
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::StepSkipped { reason, .. } if reason == "declined by drbook (no --answers file)")));
    assert!(
        md.contains("declined by drbook (no --answers file)"),
        "{md}"
    );
    assert!(!md.contains("(answers file"), "{md}");
    assert!(!md.contains("confirmed by"), "{md}");
}

/// A clean-up check that fails holds the undo after it in its runbook (the gate a runbook puts
/// before an undo that is only safe once the check holds, as in data-cosmos.toml), says so,
/// and holds no other runbook's clean-up.
#[test]
fn a_failed_cleanup_check_gates_the_undo_after_it_and_no_other_runbook() {
    let dir = tempfile::tempdir().expect("tmp");
    let gated = dir.path().join("gated.toml");
    std::fs::write(
        &gated,
        r#"
[runbook]
id = "gated"
title = "Gated"
component = "web"

[[step]]
id = "x"
title = "Change X"
kind = "command"
argv = ["true"]
destructive = false
cleanup = "undo-x"

[[step]]
id = "y"
title = "After X"
kind = "command"
argv = ["true"]
destructive = false
depends_on = ["x"]
cleanup = "x-safe-to-undo"

[[rollback]]
id = "x-safe-to-undo"
title = "The profile is not what it is (so never safe)"
kind = "check"
resource = "/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.Network/trafficmanagerprofiles/tm-shop"
api_version = "2022-04-01"
expect = { path = "name", equals = "not-tm-shop" }

[[rollback]]
id = "undo-x"
title = "Undo X"
kind = "command"
argv = ["true"]
destructive = false
"#,
    )
    .expect("runbook");
    let other = cleanup_runbook(dir.path(), Path::new("/"));
    let o = drbook(
        &[
            "rehearse",
            gated.to_str().expect("utf-8 path"),
            other.to_str().expect("utf-8 path"),
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
            "--run-commands",
            "--cleanup",
        ],
        dir.path(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("clean-up gated/x-safe-to-undo (undoes y): FAILED"),
        "{out}"
    );
    assert!(
        out.contains(
            "clean-up gated/undo-x (undoes x): NOT DONE: did not run: the clean-up check `x-safe-to-undo` before it failed"
        ),
        "{out}"
    );
    // The other runbook's clean-up ran, whole.
    assert!(
        out.contains("clean-up undo-all/undo-b (undoes b): done")
            && out.contains("clean-up undo-all/undo-a (undoes a): done"),
        "{out}"
    );
    let (events, _) = read_log(&the_log(dir.path())).expect("readable");
    assert!(
        !events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::StepStarted { step, .. } if step == "undo-x")),
        "the gated undo never started"
    );
    let md = report_of(&the_log(dir.path()));
    assert!(
        md.contains("| `gated` | `undo-x` | `x` | ⚠️ NOT DONE (did not run) |"),
        "{md}"
    );
}

/// The demo plan on the shipped outage scenario: every read of the failed region that finds it
/// down is an assessment's finding, logged as such, never a failed step; the branches taken
/// are those the runbooks took when those reads were failures (forced SQL failover, Cosmos DB
/// region taken offline, unplanned storage failover, forced Service Bus failover).
#[test]
fn the_demo_rehearsal_logs_findings_where_it_used_to_fail_and_takes_the_same_branches() {
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    std::fs::write(
        &answers,
        "[manual]\n\"*\" = { outcome = \"ok\", note = \"done in the drill\" }\n",
    )
    .expect("answers");
    // `timeout`: a rehearsal that hangs fails the test instead of holding CI.
    let o = Command::new("timeout")
        .arg("180")
        .arg(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "rehearse",
            "runbooks/",
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
            "--max-delay",
            "200ms",
            "--operator",
            "gameday",
        ])
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .output()
        .expect("run drbook");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let (events, integrity) = read_log(&the_log(dir.path())).expect("readable");
    assert!(matches!(integrity, Integrity::Intact { .. }), "{integrity}");
    let mut findings = Vec::new();
    let mut failed = Vec::new();
    let mut ran = std::collections::BTreeSet::new();
    let mut skipped = std::collections::BTreeSet::new();
    for e in &events {
        match &e.kind {
            EventKind::StepFinished {
                runbook,
                step,
                outcome,
                outputs,
                ..
            } => {
                let key = format!("{runbook}/{step}");
                match outcome {
                    Outcome::Finding => {
                        findings.push((key.clone(), outputs.get("finding").cloned()));
                    }
                    Outcome::Failed => failed.push(key.clone()),
                    _ => {}
                }
                ran.insert(key);
            }
            EventKind::StepSkipped { runbook, step, .. } => {
                skipped.insert(format!("{runbook}/{step}"));
            }
            _ => {}
        }
    }
    assert!(failed.is_empty(), "failed steps: {failed:?}\n{out}");
    let assessed: Vec<&str> = findings.iter().map(|(k, _)| k.as_str()).collect();
    for want in [
        "data-sql-failover/fog-primary",
        "data-sql-failover/primary-db-health",
        "data-cosmos-failover/account-health",
        "data-cosmos-failover/write-region-answers",
        "data-storage-failover/account-health",
        "artifacts-continuity/registry",
        "web-failover/primary-health",
        "web-failover/primary-probe",
        "function-failover/primary-func-health",
        "function-failover/sb-alias-primary",
        "aks-failover/primary-health",
        "logic-failover/primary-workflow",
        "pipelines-failover/primary-agents-health",
        "pipelines-failover/ado-status",
    ] {
        assert!(
            assessed.contains(&want),
            "{want} not logged as a finding: {findings:?}"
        );
    }
    assert!(
        findings.iter().all(|(_, f)| f.as_deref() == Some("down")),
        "{findings:?}"
    );
    for step in [
        "data-sql-failover/record-data-loss",
        "data-cosmos-failover/offline-write-region",
        "data-storage-failover/unplanned-failover",
        "function-failover/sb-forced-failover",
        "network-failover/afd-disable-primary",
    ] {
        assert!(ran.contains(step), "{step} did not run");
    }
    for step in [
        "data-cosmos-failover/planned-move",
        "data-cosmos-failover/change-priority",
        "data-cosmos-failover/restore-fallback",
        "data-sql-failover/geo-restore-fallback",
        "data-storage-failover/try-planned",
        "data-storage-failover/planned-failover",
        "function-failover/sb-safe-failover",
        "logic-failover/disable-primary",
        "web-failover/start-site",
    ] {
        assert!(skipped.contains(step), "{step} was not skipped");
    }
    // On the screen too: a finding is `◆`, and no `✘`.
    assert!(
        out.contains("◆ web-failover/primary-health assessed"),
        "{out}"
    );
    assert!(!out.contains('✘'), "{out}");
}

/// A dry run changes nothing, so it gives no RTO verdict; and it reads nothing, so branches
/// that exclude each other are shown as "would run if ...", never both walked as if they ran.
#[test]
fn a_dry_run_gives_no_rto_verdict_and_walks_no_exclusive_branch() {
    let dir = tempfile::tempdir().expect("tmp");
    let answers = dir.path().join("answers.toml");
    std::fs::write(
        &answers,
        "[manual]\n\"*\" = { outcome = \"ok\", note = \"done in the drill\" }\n",
    )
    .expect("answers");
    let o = Command::new("timeout")
        .arg("120")
        .arg(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "rehearse",
            "runbooks/",
            "--target",
            "sim",
            "--non-interactive",
            "--auto-approve",
            "--dry-run",
            "--max-delay",
            "200ms",
        ])
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .output()
        .expect("run drbook");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("dry run: nothing was changed; no RTO verdict"),
        "{out}"
    );
    for claim in ["within RTO", "RECOVERED", "OVER RTO", "projected within"] {
        assert!(!out.contains(claim), "a dry run says `{claim}`:\n{out}");
    }
    assert!(!out.contains('✘'), "{out}");
    let (events, _) = read_log(&the_log(dir.path())).expect("readable");
    let EventKind::IncidentStarted(h) = &events[0].kind else {
        panic!("no header")
    };
    assert_eq!(h.level, Some(RehearsalLevel::DryRun));
    let undecided = |rb: &str, st: &str| {
        events.iter().find_map(|e| match &e.kind {
            EventKind::StepSkipped {
                runbook,
                step,
                reason,
            } if runbook == rb && step == st => Some(reason.clone()),
            _ => None,
        })
    };
    let ran = |rb: &str, st: &str| {
        events.iter().any(|e| {
            matches!(&e.kind, EventKind::StepStarted { runbook, step, .. } if runbook == rb && step == st)
        })
    };
    // Planned or unplanned storage failover, safe or forced Service Bus failover: each pair
    // excludes itself, and a dry run cannot know which one a run would take.
    for (rb, st) in [
        ("data-storage-failover", "planned-failover"),
        ("data-storage-failover", "unplanned-failover"),
        ("function-failover", "sb-safe-failover"),
        ("function-failover", "sb-forced-failover"),
    ] {
        assert!(!ran(rb, st), "{rb}/{st} was walked as if it ran");
        let why = undecided(rb, st).unwrap_or_default();
        assert!(
            why.starts_with("dry run: would run if "),
            "{rb}/{st}: {why}"
        );
    }
    // The condition in words, then the call it would make.
    let why = undecided("function-failover", "sb-safe-failover").unwrap_or_default();
    assert!(
        why.starts_with(
            "dry run: would run if (`decide-sb` is ok and `sb-alias-primary` finds up): would POST /subscriptions/"
        ),
        "{why}"
    );
    // Steps that need no earlier result are described, an earlier read's output shown as a
    // placeholder rather than failing the step.
    assert!(
        out.contains("· web-failover/secondary-probe described in")
            && out.contains("would read https://<steps.secondary-site.host>/healthz"),
        "{out}"
    );
}
