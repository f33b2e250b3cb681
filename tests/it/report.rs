//! `drbook report` end to end, on logs left by real rehearsals (the binary against the
//! in-process simulator): one log in Markdown, JSON and HTML, a truncated and a tampered log,
//! two runs compared, and a folder of runs as a history with a regression and a changed
//! runbook.

use crate::support::cli::{self, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The runs every test reads, made once: `good` (200ms waits) twice, `slow` (2s waits, so
/// its wait step regresses), and `failing` (a copy of the runbook with a check that cannot
/// pass). `history` holds good, good, slow; the runbook copy changed after them.
struct Runs {
    dir: PathBuf,
    good: PathBuf,
    slow: PathBuf,
    failing: PathBuf,
    history: PathBuf,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-runs");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rb")).expect("mkdir");
        std::fs::create_dir_all(dir.join("broken")).expect("mkdir");
        std::fs::create_dir_all(dir.join("history")).expect("mkdir");
        let original = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/network.toml"),
        )
        .expect("runbook");
        let runbook = dir.join("rb/network.toml");
        std::fs::write(&runbook, &original).expect("write");
        std::fs::write(
            dir.join("broken/network.toml"),
            original.replace(
                r#"equals = "${tm_profile}.trafficmanager.net""#,
                r#"equals = "elsewhere.trafficmanager.net""#,
            ),
        )
        .expect("write");
        let mut history = Vec::new();
        for (i, delay) in ["200ms", "200ms", "2s"].iter().enumerate() {
            let log = rehearse(&dir, &runbook, delay, &format!("run{i}"));
            let copy = dir.join(format!("history/run{i}.jsonl"));
            std::fs::copy(&log, &copy).expect("copy");
            history.push(copy);
        }
        // 1s waits between its attempts: the steps that do not need the failing check have long
        // finished (or not started) by the time it gives up, whatever the machine's speed.
        let failing = rehearse(&dir, &dir.join("broken/network.toml"), "1s", "failing");
        // Changed after the last successful drill: the history must say so.
        std::fs::write(
            &runbook,
            original.replace(
                "title = \"Traffic: send shop and API traffic to the paired region\"",
                "title = \"Traffic: move shop and API traffic to the paired region\"",
            ),
        )
        .expect("write");
        Runs {
            good: history[0].clone(),
            slow: history[2].clone(),
            failing,
            history: dir.join("history"),
            dir,
        }
    })
}

fn rehearse(dir: &Path, runbook: &Path, delay: &str, name: &str) -> PathBuf {
    let answers = dir.join("answers.toml");
    std::fs::write(
        &answers,
        "[manual]\n\"*\" = { outcome = \"ok\", note = \"done in the drill\" }\n",
    )
    .expect("answers");
    let logs = dir.join(format!("logs-{name}"));
    let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("rehearse")
        .arg(runbook)
        .args(["--target", "sim", "--non-interactive", "--auto-approve"])
        // Undone as a drill should be: a run whose clean-up is owed is no successful drill.
        .arg("--cleanup")
        .args(["--max-delay", delay, "--operator", "gameday"])
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(&logs)
        .output()
        .expect("run drbook");
    std::fs::read_dir(&logs)
        .ok()
        .and_then(|mut d| {
            d.find_map(|e| {
                e.ok()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            })
        })
        .unwrap_or_else(|| panic!("no log from {name}: {}", text(&o)))
}

fn report(args: &[&Path], extra: &[&str]) -> Output {
    cli::drbook()
        .arg("report")
        .args(args)
        .args(extra)
        .output()
        .expect("run drbook report")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn markdown_of_a_good_run_has_every_section_and_an_intact_verdict() {
    let r = runs();
    let o = report(&[&r.good], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = stdout(&o);
    for section in [
        "# Postmortem:",
        "## Summary",
        "## RTO and RPO",
        "## Timeline",
        "## Failed steps",
        "## Skipped steps",
        "## Retried steps",
        "## Notes",
        "## Critical path",
        "## Longest waits on a person",
        "## Integrity",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains("✅ intact: "), "{md}");
    assert!(md.contains("closed as **rehearsed**"), "{md}");
    assert!(md.contains("| `network-failover` | 18/18 |"), "{md}");
    assert!(md.contains("| 20m | within RTO"), "{md}");
    // The note came with the answer from the answers file, which the report names.
    let answers = r.dir.join("answers.toml");
    assert!(
        md.contains(&format!(
            "**gameday (answers file {})** on `network-failover/customer-journey`: done in the drill",
            answers.display()
        )),
        "{md}"
    );
    // The runbook copy was edited after the runs: the report must say the file changed.
    assert!(md.contains("CHANGED since the run"), "{md}");
}

#[test]
fn json_parses_and_has_the_documented_fields() {
    let r = runs();
    let o = report(&[&r.failing], &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["integrity"]["verdict"], "intact");
    assert_eq!(v["incident"]["mode"], "rehearsal");
    assert_eq!(v["incident"]["closed"]["outcome"], "failed");
    assert_eq!(v["runbooks"][0]["id"], "network-failover");
    assert_eq!(v["runbooks"][0]["rto_target"], "20m");
    assert_eq!(v["runbooks"][0]["recovered"], false);
    assert_eq!(v["plan"]["recovered"], false);
    assert_eq!(v["failed"][0]["step"], "dns-api");
    assert_eq!(v["retried"][0]["step"], "dns-api");
    let dns_api = v["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == "dns-api"))
        .expect("dns-api row");
    assert_eq!(dns_api["status"], "failed");
    assert_eq!(dns_api["attempts"], 3);
    assert!(
        dns_api["error"]
            .as_str()
            .is_some_and(|e| e.contains("elsewhere"))
    );
    for field in [
        "operators",
        "notes",
        "critical_path",
        "human_waits",
        "skipped",
    ] {
        assert!(v[field].is_array(), "{field}");
    }
}

#[test]
fn a_truncated_log_says_so_and_still_reports() {
    let r = runs();
    let bytes = std::fs::read(&r.good).expect("log");
    let body = &bytes[..bytes.len() - 1];
    let last_line = body.iter().rposition(|b| *b == b'\n').expect("lines") + 1;
    let cut = last_line + (body.len() - last_line) / 2;
    let torn = r.dir.join("torn.jsonl");
    std::fs::write(&torn, &bytes[..cut]).expect("write");
    let o = report(&[&torn], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let md = stdout(&o);
    assert!(md.contains("⚠️ truncated: line"), "{md}");
    // The torn line was the close: the incident reads as still open, the steps are all there.
    assert!(md.contains("still open"), "{md}");
    assert!(md.contains("| `network-failover` | 18/18 |"), "{md}");
}

#[test]
fn a_tampered_log_says_altered_from_the_edited_event_and_exits_1() {
    let r = runs();
    let log = std::fs::read_to_string(&r.good).expect("log");
    let mut lines: Vec<String> = log.lines().map(str::to_string).collect();
    let (at, line) = lines
        .iter()
        .enumerate()
        .skip(lines.len() / 2)
        .find(|(_, l)| l.contains(r#""event":"step_finished""#))
        .map(|(i, l)| (i, l.clone()))
        .expect("a step_finished in the second half");
    lines[at] = line.replacen(r#""outcome":"ok""#, r#""outcome":"failed""#, 1);
    let tampered = r.dir.join("tampered.jsonl");
    std::fs::write(&tampered, lines.join("\n") + "\n").expect("write");
    let o = report(&[&tampered], &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let seq = at as u64 + 1;
    assert_eq!(v["integrity"]["verdict"], "altered");
    assert_eq!(v["integrity"]["first_bad_seq"], seq);
    assert_eq!(v["integrity"]["events_used"], seq - 1);
    // Nothing from the edited event on is believed: the forged failure is not reported.
    assert_eq!(v["failed"].as_array().map(Vec::len), Some(0));
    let md = stdout(&report(&[&tampered], &[]));
    assert!(md.contains(&format!("❌ ALTERED from event {seq}")), "{md}");
}

/// Files that are not incident logs (empty, text, another tool's JSON, bytes) are called
/// that by every reader, never "ALTERED" or "truncated"; a log with a broken chain still is
/// ALTERED (above).
#[test]
fn a_file_that_is_no_incident_log_is_called_so_by_report_review_and_resume() {
    let r = runs();
    let dir = r.dir.join("strangers");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let files = [
        ("empty.jsonl", Vec::new()),
        ("text.jsonl", b"hello world\nsecond line\n".to_vec()),
        (
            "json.jsonl",
            b"{\"level\":\"info\",\"msg\":\"started\"}\n".to_vec(),
        ),
        (
            "binary.jsonl",
            vec![0x7f, b'E', b'L', b'F', 0, 0xff, 0xfe, b'\n', 1, 2],
        ),
    ];
    let said = "not a drbook incident log (first line is not an incident header";
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let o = report(&[&path], &[]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        let all = text(&o);
        assert!(all.contains(said), "{name}: {all}");
        assert!(
            !all.contains("ALTERED") && !all.contains("truncated"),
            "{name}: {all}"
        );
        // Nothing to report on: no postmortem body, in any format.
        for format in ["md", "json", "html"] {
            let o = report(&[&path], &["--format", format]);
            assert!(o.stdout.is_empty(), "{name} {format}: {}", text(&o));
            assert_eq!(o.status.code(), Some(2), "{name} {format}");
        }
        // Without a terminal, review reads the log before it needs one.
        let o = Command::new("timeout")
            .arg("15")
            .arg(env!("CARGO_BIN_EXE_drbook"))
            .arg("review")
            .arg(&path)
            .output()
            .expect("run drbook review");
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains(said), "{name}: {}", text(&o));
        let o = Command::new("timeout")
            .arg("15")
            .arg(env!("CARGO_BIN_EXE_drbook"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["rehearse", "runbooks/network.toml", "--target", "sim"])
            .args(["--non-interactive", "--resume"])
            .arg(&path)
            .output()
            .expect("run drbook rehearse");
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains(said), "{name}: {}", text(&o));
        assert!(!text(&o).contains("ALTERED"), "{name}: {}", text(&o));
    }
}

#[test]
fn two_runs_compare_step_by_step() {
    let r = runs();
    let o = report(&[&r.good, &r.slow], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = stdout(&o);
    assert!(md.contains("# Comparison of two runs"), "{md}");
    assert!(md.contains("| `network-failover` | `dns-caches` |"), "{md}");
    assert!(md.contains("| **slower** |"), "{md}");
    assert!(
        md.contains("None: both runs ran the same runbook files."),
        "{md}"
    );

    let o = report(&[&r.good, &r.failing], &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["failed_in_one"][0]["step"], "dns-api");
    assert_eq!(v["failed_in_one"][0]["a_status"], "done");
    assert_eq!(v["failed_in_one"][0]["b_status"], "failed");
    assert_eq!(v["runbook_changes"][0]["runbook"], "network-failover");
}

#[test]
fn a_folder_of_runs_is_a_history_with_the_regression_and_the_changed_runbook() {
    let r = runs();
    let o = report(&[&r.history], &[]);
    // The latest run regressed: exit 1, for CI.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let md = stdout(&o);
    assert!(
        md.contains("# History of `runbooks:network-failover`"),
        "{md}"
    );
    assert!(md.contains("3 run(s)"), "{md}");
    assert!(
        md.contains("`network-failover/dns-caches` **slower**"),
        "{md}"
    );
    assert!(md.contains("## Step durations"), "{md}");
    assert!(
        md.contains("## What changed since the last successful drill"),
        "{md}"
    );
    assert!(md.contains("### `network-failover`"), "{md}");
    assert!(md.contains("CHANGED since the run"), "{md}");

    let o = report(&[&r.history], &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["runs"].as_array().map(Vec::len), Some(3));
    let dns = v["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == "dns-caches"))
        .expect("dns-caches");
    assert!(dns["p50_ms"].as_u64().is_some_and(|p| p < 1000), "{dns}");
    assert!(dns["last_ms"].as_u64().is_some_and(|l| l >= 1900), "{dns}");
    assert_eq!(v["regressions"][0]["kind"], "slower");
}

/// Titles are the runbook author's text: in the HTML page (text, attributes, the chart's
/// labels and tooltips) a quote or a tag is shown, never read as markup.
#[test]
fn html_escapes_quotes_and_tags_in_titles() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html-escape");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let rb = dir.join("quote.toml");
    std::fs::write(
        &rb,
        r#"
[runbook]
id = "quote"
title = "O'Brien's <script>alert(1)</script> failover"
component = "web"
rto = "1h"

[[step]]
id = "look"
title = "Look at O'Brien's <script>x</script> app"
kind = "manual"
instructions = "Look."
"#,
    )
    .expect("runbook");
    let answers = dir.join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = \"ok\"\n").expect("answers");
    let logs = dir.join("logs");
    let o = Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("rehearse")
        .arg(&rb)
        .args(["--target", "sim", "--non-interactive", "--auto-approve"])
        .args(["--max-delay", "200ms", "--operator", "gameday"])
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(&logs)
        .output()
        .expect("run drbook");
    let log = std::fs::read_dir(&logs)
        .ok()
        .and_then(|mut d| {
            d.find_map(|e| {
                e.ok()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            })
        })
        .unwrap_or_else(|| panic!("no log: {}", text(&o)));
    let html = stdout(&report(&[&log], &["--format", "html"]));
    assert!(
        html.contains("Look at O&#39;Brien&#39;s &lt;script&gt;x&lt;/script&gt; app"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("O'Brien"), "a raw quote: {html}");
}

#[test]
fn html_is_one_self_contained_page_with_the_chart() {
    let r = runs();
    let out = r.dir.join("report.html");
    let out_arg = out.display().to_string();
    let o = report(&[&r.failing], &["--format", "html", "--out", &out_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let html = std::fs::read_to_string(&out).expect("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<svg") && html.contains("class=\"gantt\""),
        "no chart"
    );
    assert!(
        html.contains("✘ failed") && html.contains("✔ done"),
        "bars labelled"
    );
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "fetches nothing"
    );
    assert!(!html.contains("<script"), "no script");
    let o = report(&[&r.history], &["--format", "html"]);
    assert!(stdout(&o).contains("class=\"spark\""), "history sparkline");
}

/// The Markdown report, with what changes from run to run redacted and the order of steps
/// that ran at the same time (which varies with timing) made stable.
#[test]
fn markdown_snapshot() {
    let r = runs();
    let md = stdout(&report(&[&r.failing], &[]));
    let md = stable_order(&md);
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "[date]"),
        (r"\d{2}:\d{2}:\d{2}\.\d{3}", "[time]"),
        (r"`\d{8}T\d{6}Z-[0-9a-f]+`", "`[incident]`"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"\+?\d+(\.\d+)?(ms|s)\b", "[dur]"),
        (r"`[0-9a-f]{12}…`", "`[sha]…`"),
        (r"`#\d+ [0-9a-f]{8}`", "`#[seq] [head]`"),
        (r"\d+% used", "[n]% used"),
        (r"\d+ events", "[n] events"),
        (r"`[^`]*report-runs[^`]*`", "`[path]`"),
        (r"\d+\.\d+\.\d+\n", "[version]\n"),
    ]}, {
        insta::assert_snapshot!(md);
    });
}

/// Timeline rows by what follows their start time and offset, other rows as they are.
fn sort_rows(rows: &mut [String]) {
    rows.sort_by_key(|l| l.splitn(4, '|').nth(3).unwrap_or(l).to_string());
}

/// Sorts the rows of tables and lists (steps that ran together come out in either order)
/// and drops the critical-path list and markers, which follow the same timing.
fn stable_order(md: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let mut in_critical = false;
    for line in md.lines() {
        if line.starts_with("## ") {
            in_critical = line == "## Critical path";
        }
        if in_critical && line.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            continue;
        }
        let line = line.replace(" ◆", "");
        let row = line.starts_with("| `")
            || line.starts_with("- `")
            || (line.starts_with("| ") && line[2..].starts_with(|c: char| c.is_ascii_digit()));
        if row {
            block.push(line);
            continue;
        }
        sort_rows(&mut block);
        out.append(&mut block);
        out.push(line);
    }
    sort_rows(&mut block);
    out.append(&mut block);
    out.join("\n")
}

/// The head (seq and short hash of the last event) is in every format, from the one check
/// of the log, so it can be quoted in the incident ticket.
#[test]
fn every_format_quotes_the_head_of_the_log() {
    let r = runs();
    let (events, _) = drbook::incident::read_log(&r.good).expect("log");
    let last = events.last().expect("events");
    let quoted = format!("#{} {}", last.seq, &last.hash[..8]);
    for format in ["md", "html"] {
        let o = report(&[&r.good], &["--format", format]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(stdout(&o).contains(&quoted), "{format}: no {quoted}");
    }
    let o = report(&[&r.good], &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["integrity"]["head"]["seq"], last.seq);
    assert_eq!(v["integrity"]["head"]["hash"], last.hash.as_str());
}

/// A FIFO or a device named like a log (alone, or in a folder of logs) is refused at once:
/// never a hang, never a read until memory runs out.
#[test]
fn a_fifo_or_a_device_is_no_incident_log_and_hangs_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("f.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("z.jsonl")).expect("symlink");
    let drbook = env!("CARGO_BIN_EXE_drbook");
    for args in [
        vec!["report".to_string(), fifo.display().to_string()],
        vec!["report".into(), "/dev/zero".into()],
        vec!["report".into(), dir.path().display().to_string()],
        vec!["review".into(), dir.path().display().to_string()],
    ] {
        let o = Command::new("timeout")
            .arg("15")
            .arg(drbook)
            .args(&args)
            .output()
            .expect("run drbook");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_ne!(o.status.code(), Some(124), "{args:?} hung");
        assert!(
            all.contains("only regular files are read") || all.contains("unreadable"),
            "{args:?}: {all}"
        );
    }
}

/// A headless rehearsal in its own log folder: the log and what it printed.
fn rehearse_printing(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, Output) {
    let logs = dir.join(format!("logs-{name}"));
    let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("rehearse")
        .args(args)
        .args(["--target", "sim", "--non-interactive"])
        .args(["--max-delay", "200ms", "--operator", "gameday"])
        .arg("--log-dir")
        .arg(&logs)
        .output()
        .expect("run drbook");
    let log = std::fs::read_dir(&logs)
        .ok()
        .and_then(|mut d| {
            d.find_map(|e| {
                e.ok()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            })
        })
        .unwrap_or_else(|| panic!("no log from {name}: {}", text(&o)));
    (log, o)
}

/// One scorecard row as printed: ✔ or not, `done/total`, the verdict in words.
#[derive(Debug, PartialEq)]
struct Row {
    mark: String,
    steps: String,
    verdict: String,
}

/// The scorecard's rows by runbook (and `whole incident`), from the header line on.
fn scorecard_rows(out: &str) -> std::collections::BTreeMap<String, Row> {
    let mut rows = std::collections::BTreeMap::new();
    let lines = out
        .lines()
        .skip_while(|l| !(l.contains("runbook") && l.contains("verdict") && l.contains("steps")))
        .skip(1)
        .take_while(|l| !l.trim().is_empty());
    for l in lines {
        let (mark, rest) = l.split_once(' ').expect("a mark");
        let name = if rest.starts_with("whole incident") {
            "whole incident".to_string()
        } else {
            rest.split_whitespace().next().expect("a name").to_string()
        };
        let steps_re = rest
            .split_whitespace()
            .find(|w| {
                w.split_once('/').is_some_and(|(a, b)| {
                    a.chars().all(|c| c.is_ascii_digit())
                        && (b == "?" || b.chars().all(|c| c.is_ascii_digit()))
                })
            })
            .expect("a steps column")
            .to_string();
        let at = rest
            .find(&format!(" {steps_re}  "))
            .expect("steps then verdict");
        let verdict = rest[at + steps_re.len() + 3..].to_string();
        rows.insert(
            name,
            Row {
                mark: mark.to_string(),
                steps: steps_re,
                verdict,
            },
        );
    }
    rows
}

fn steps_of(done: &serde_json::Value, total: &serde_json::Value) -> String {
    match total.as_u64() {
        Some(t) => format!("{done}/{t}"),
        None => format!("{done}/?"),
    }
}

/// The headless scorecard, review's summary and `drbook report` (JSON and Markdown) say the
/// same of the same log: recovered or not per runbook, step totals (never-started runbooks
/// included), the plan's verdict and the critical path. Over a recovered run, a run stopped
/// by a failed step, the demo plan with nobody to answer its manual steps (runbooks that
/// never started) and a dry run.
#[test]
fn scorecard_review_and_report_agree_over_several_logs() {
    let r = runs();
    let dir = r.dir.join("agree");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let answers = dir.join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = { outcome = \"ok\" }\n").expect("answers");
    let answers = answers.to_str().expect("utf-8");
    let broken = r.dir.join("broken/network.toml");
    let broken = broken.to_str().expect("utf-8");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "recovered",
            vec![
                "runbooks/network.toml",
                "--auto-approve",
                "--cleanup",
                "--answers",
                answers,
            ],
        ),
        (
            "failed",
            vec![broken, "--auto-approve", "--answers", answers],
        ),
        ("unanswered", vec!["runbooks/"]),
        ("dry-run", vec!["runbooks/network.toml", "--dry-run"]),
    ];
    let mut plan_verdicts = Vec::new();
    let mut unanswered_exit_ok = true;
    for (name, args) in &cases {
        let (log, o) = rehearse_printing(&dir, name, args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let card = scorecard_rows(&out);
        let json = report(&[&log], &["--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&json.stdout)
            .unwrap_or_else(|e| panic!("{name}: {e}: {}", text(&json)));
        let md = stdout(&report(&[&log], &[]));
        let ui = drbook::tui::runner::UiSetup {
            theme: drbook::tui::theme::Theme::builtin("dark").expect("theme"),
            keys: drbook::tui::keys::KeyMap::default(),
            operator: None,
            resume_cmd: String::new(),
        };
        let app = drbook::tui::review::open(&log, ui, None).expect("review opens");
        let review = app.incident_verdict();

        let runbooks = v["runbooks"].as_array().expect("runbooks");
        // A dry run changed nothing: it prints no scorecard and no RTO verdict at all.
        let dry = *name == "dry-run";
        if dry {
            assert!(card.is_empty(), "{name}: a scorecard: {out}");
            assert!(
                out.contains("no RTO verdict") && !out.contains("within RTO"),
                "{out}"
            );
        } else {
            assert_eq!(card.len(), runbooks.len() + 1, "{name}: {out}");
        }
        assert_eq!(review.runbooks.len(), runbooks.len(), "{name}");
        for rb in runbooks {
            let id = rb["id"].as_str().expect("id");
            let recovered = rb["recovered"].as_bool().expect("recovered");
            let steps = steps_of(&rb["steps_done"], &rb["steps_total"]);
            let words = rb["verdict"].as_str().expect("verdict");
            if !dry {
                let row = card
                    .get(id)
                    .unwrap_or_else(|| panic!("{name}: no row {id}: {out}"));
                assert_eq!(row.mark == "✔", recovered, "{name}/{id}: {row:?} vs {rb}");
                assert_eq!(
                    (row.steps.as_str(), row.verdict.as_str()),
                    (steps.as_str(), words)
                );
            }
            // "within RTO" is only said of a recovered runbook, anywhere.
            assert!(recovered || !words.contains("within RTO"), "{name}/{id}");
            let rv = review.runbook(id).expect("in review");
            assert_eq!(
                (rv.recovered(), rv.steps_text(), rv.words()),
                (recovered, steps.clone(), words.to_string()),
                "{name}/{id}"
            );
            let bold = if recovered {
                words.to_string()
            } else {
                format!("**{words}**")
            };
            assert!(
                md.contains(&format!("| `{id}` | {steps} |")) && md.contains(&bold),
                "{name}/{id}: {steps} {bold} not in {md}"
            );
        }
        let plan = &v["plan"];
        let plan_words = plan["verdict"].as_str().expect("plan verdict");
        let plan_steps = steps_of(&plan["steps_done"], &plan["steps_total"]);
        if !dry {
            let whole = card.get("whole incident").expect("whole incident row");
            assert_eq!(
                (whole.steps.as_str(), whole.verdict.as_str()),
                (plan_steps.as_str(), plan_words),
                "{name}"
            );
            assert_eq!(
                whole.mark == "✔",
                plan["recovered"].as_bool().expect("bool"),
                "{name}"
            );
        }
        assert_eq!(
            (review.words(), review.steps_text()),
            (plan_words.to_string(), plan_steps.clone()),
            "{name}"
        );
        assert!(
            md.contains(&format!("| **whole incident** | {plan_steps} |"))
                && md.contains(&format!("— {plan_words}")),
            "{name}: {md}"
        );
        let path: Vec<String> = v["critical_path"]
            .as_array()
            .expect("path")
            .iter()
            .map(|s| format!("{}/{}", s["runbook"], s["step"]).replace('"', ""))
            .collect();
        let review_path: Vec<String> = review
            .critical_path
            .iter()
            .map(|s| format!("{}/{}", s.runbook, s.step))
            .collect();
        assert_eq!(review_path, path, "{name}: the critical path");
        assert!(!path.is_empty(), "{name}: a critical path");
        // Not recovered: the run says so with its exit code, and never calls it recovered.
        let recovered = plan["recovered"].as_bool().expect("bool");
        // Once a step failed, the running RTO clock no longer says it is on course.
        let after_failure: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.contains(" FAILED in "))
            .filter(|l| l.starts_with("⏱ ") && l.contains("RTO"))
            .collect();
        assert!(
            after_failure
                .iter()
                .all(|l| !l.contains("within") && l.contains("NOT RECOVERED as it stands")),
            "{name}: {after_failure:?}"
        );
        // A run that did not recover exits non-zero (a dry run recovers nothing and says so:
        // it exits 0).
        assert!(
            recovered || dry || !o.status.success(),
            "{name}: {}",
            text(&o)
        );
        assert!(!recovered || o.status.success(), "{name}: {}", text(&o));
        if *name == "unanswered" {
            unanswered_exit_ok = o.status.success();
        }
        plan_verdicts.push((
            name.to_string(),
            recovered,
            plan_steps,
            plan_words.to_string(),
        ));
    }
    let by = |n: &str| {
        plan_verdicts
            .iter()
            .find(|p| p.0 == n)
            .cloned()
            .expect("case")
    };
    assert!(by("recovered").1, "{:?}", by("recovered"));
    assert!(!by("failed").1 && by("failed").3.contains("1 runbook failed"));
    // The demo plan with nobody to answer: runbooks that never started count in the totals.
    let (_, ok, steps, words) = by("unanswered");
    assert!(!ok && words.contains("not started"), "{words}");
    assert!(
        !unanswered_exit_ok,
        "a run with unanswered manual steps exits non-zero"
    );
    let (done, total) = steps.split_once('/').expect("steps");
    let (done, total): (usize, usize) = (
        done.parse().expect("n"),
        total.parse().expect("total known"),
    );
    assert!(total > 100 && done < total, "{steps}");
    assert!(
        by("dry-run").3.starts_with("dry run: "),
        "{:?}",
        by("dry-run")
    );
}

/// History: a failed run, a dry run and a run whose clean-up is owed are shown but kept out
/// of the trend, and the last successful drill is one that recovered with its clean-up done
/// (a newer recovered run whose clean-up is owed is not).
#[test]
fn history_keeps_failed_and_dry_runs_out_of_the_trend_and_needs_the_clean_up_done() {
    let r = runs();
    let dir = r.dir.join("trend");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("h")).expect("mkdir");
    let answers = dir.join("answers.toml");
    std::fs::write(&answers, "[manual]\n\"*\" = { outcome = \"ok\" }\n").expect("answers");
    let answers = answers.to_str().expect("utf-8");
    let rb = "runbooks/network.toml";
    let (dry, _) = rehearse_printing(&dir, "dry", &[rb, "--dry-run"]);
    let (owed, _) = rehearse_printing(&dir, "owed", &[rb, "--auto-approve", "--answers", answers]);
    for (from, to) in [
        (&r.good, "1-good.jsonl"),
        (&r.failing, "2-failing.jsonl"),
        (&dry, "3-dry.jsonl"),
        (&owed, "4-owed.jsonl"),
    ] {
        std::fs::copy(from, dir.join("h").join(to)).expect("copy");
    }
    let o = report(&[&dir.join("h")], &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let runs = v["runs"].as_array().expect("runs");
    let left_out: Vec<Option<&str>> = runs.iter().map(|r| r["left_out"].as_str()).collect();
    assert_eq!(
        left_out,
        [
            None,
            Some("not recovered"),
            Some("dry run"),
            Some("clean-up not done")
        ],
        "{v}"
    );
    assert!(
        runs[3]["verdict"]
            .as_str()
            .is_some_and(|s| s.contains("clean-up OWED")),
        "{}",
        runs[3]
    );
    let since = v["changes"]["since"]["log"].as_str().expect("a last drill");
    assert!(since.ends_with("1-good.jsonl"), "{since}");
    let md = stdout(&report(&[&dir.join("h")], &[]));
    assert!(md.contains("(not in the trend: dry run)"), "{md}");
    assert!(md.contains("3 run(s) left out"), "{md}");
    assert_eq!(md.matches("clean-up OWED").count(), 1, "said once: {md}");
}

/// The data runbooks of the shipped plan, rehearsed on the shipped scenario with the outage
/// begun 35 minutes ago: once, shared by the RPO and HTML layout tests.
fn data_run() -> &'static PathBuf {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-data-run");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let answers = dir.join("answers.toml");
        std::fs::write(
            &answers,
            "[manual]\n\"*\" = { outcome = \"ok\", note = \"done in the drill\" }\n",
        )
        .expect("answers");
        let logs = dir.join("logs");
        let o = Command::new("timeout")
            .arg("120")
            .arg(env!("CARGO_BIN_EXE_drbook"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["rehearse", "runbooks/", "--component", "data"])
            .args(["--target", "sim", "--non-interactive", "--auto-approve"])
            .args(["--max-delay", "200ms", "--operator", "gameday"])
            .args(["--since", "35m ago"])
            .arg("--answers")
            .arg(&answers)
            .arg("--log-dir")
            .arg(&logs)
            .output()
            .expect("run drbook");
        std::fs::read_dir(&logs)
            .ok()
            .and_then(|mut d| {
                d.find_map(|e| {
                    e.ok()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                })
            })
            .unwrap_or_else(|| panic!("no log from the data rehearsal: {}", text(&o)))
    })
}

/// The storage runbook reads `geoReplicationStats.lastSyncTime` before it fails over: the
/// window is in the log as the step's `rpo_achieved`, and every report format holds it
/// against the runbook's RPO.
#[test]
fn the_rpo_a_data_runbook_measures_is_logged_and_reported_against_its_target() {
    let log = data_run();
    let (events, _) = drbook::incident::read_log(log).expect("log");
    let measured = events
        .iter()
        .find_map(|e| match &e.kind {
            drbook::incident::EventKind::StepFinished {
                runbook, outputs, ..
            } if runbook == "data-storage-failover" => outputs.get("rpo_achieved").cloned(),
            _ => None,
        })
        .expect("the storage runbook logged rpo_achieved");
    assert!(
        drbook::time::parse_duration(&measured).is_ok(),
        "{measured} is a duration"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&report(&[log], &["--format", "json"]))).expect("json");
    let storage = json["runbooks"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == "data-storage-failover"))
        .expect("the storage runbook");
    let ms = storage["rpo_achieved_ms"]
        .as_u64()
        .expect("rpo_achieved_ms");
    let target =
        drbook::time::parse_duration(storage["rpo_target"].as_str().expect("rpo")).expect("target");
    assert_eq!(
        storage["within_rpo"].as_bool(),
        Some(u128::from(ms) <= target.as_millis())
    );
    assert!(
        json["incident"]["outage_since"].is_string(),
        "{}",
        json["incident"]
    );
    let md = stdout(&report(&[log], &[]));
    let row = md
        .lines()
        .find(|l| l.starts_with("| `data-storage-failover`"))
        .unwrap_or_else(|| panic!("no row: {md}"));
    assert!(
        row.contains("RPO") && row.contains("sync-within-rpo"),
        "{row}"
    );
    // The table comes first: before the integrity line and the summary.
    let (t, i, s) = (
        md.find("## RTO and RPO").expect("table"),
        md.find("**Log integrity:**").expect("integrity"),
        md.find("## Summary").expect("summary"),
    );
    assert!(
        md.find("**Verdict:**").is_some_and(|v| v < t) && t < i && i < s,
        "{md}"
    );
}

/// Every x coordinate of the SVG, with the text it places (if a text).
fn svg_xs(svg: &str) -> Vec<(f64, Option<(String, bool)>)> {
    let mut out = Vec::new();
    for (tag, rest) in svg.split('<').filter_map(|t| t.split_once(' ')) {
        for attr in ["x=\"", "x1=\"", "x2=\""] {
            if let Some(v) = rest
                .split_once(&format!(" {attr}"))
                .map(|(_, v)| v)
                .or_else(|| rest.strip_prefix(attr))
                .and_then(|v| v.split('"').next())
                .and_then(|v| v.parse::<f64>().ok())
            {
                let text = (tag == "text" && attr == "x=\"").then(|| {
                    let body = rest.split_once('>').map_or("", |(_, b)| b).to_string();
                    (body, rest.contains("text-anchor=\"end\""))
                });
                out.push((v, text));
            }
        }
    }
    out
}

/// The HTML report: the verdict and the RTO/RPO table first (NOT RECOVERED in red), then
/// the Gantt in the plan's group order with its boundaries, the outage start and the RTO
/// deadlines marked, ticks on round durations, and nothing past the right edge.
#[test]
fn html_puts_the_verdict_first_and_charts_in_plan_order_inside_its_width() {
    let r = runs();
    let failing = stdout(&report(&[&r.failing], &["--format", "html"]));
    let verdict = failing
        .find("class=\"verdict bad\"")
        .expect("a red verdict");
    let table = failing.find("<h2>RTO and RPO</h2>").expect("table");
    let chart = failing.find("<svg").expect("chart");
    let summary = failing.find("<h2>Summary</h2>").expect("summary");
    assert!(verdict < table && table < chart && chart < summary);
    assert!(failing.contains("<span class=\"bad\">NOT RECOVERED</span>"));
    assert!(failing.contains(".bad{color:#c62828"), "red");
    let good = stdout(&report(&[&r.good], &["--format", "html"]));
    assert!(
        good.contains("traffic restored"),
        "the traffic step is marked"
    );

    let html = stdout(&report(&[data_run()], &["--format", "html"]));
    let svg = &html[html.find("<svg").expect("svg")..html.find("</svg>").expect("end")];
    let width: f64 = svg
        .split_once("viewBox=\"0 0 ")
        .and_then(|(_, v)| v.split(' ').next())
        .and_then(|w| w.parse().ok())
        .expect("viewBox width");
    for (x, text) in svg_xs(svg) {
        assert!((0.0..=width).contains(&x), "x {x} outside 0..{width}");
        if let Some((t, end)) = text {
            let w = drbook::report::gantt::text_width(&t);
            if end {
                assert!(x - w >= -1.0, "`{t}` ends at {x}, starts before 0");
            } else {
                assert!(x + w <= width, "`{t}` at {x} runs past {width}");
            }
        }
    }
    // Round ticks: every one a whole multiple of one round step.
    let ticks: Vec<u64> = svg
        .split("class=\"tick\">+")
        .skip(1)
        .filter_map(|t| t.split('<').next())
        .map(|t| drbook::time::parse_duration(t).expect("a tick").as_secs())
        .collect();
    assert!(ticks.len() >= 3, "{ticks:?}");
    let step = ticks[1];
    assert!(
        [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].contains(&step),
        "{ticks:?}"
    );
    assert!(ticks.iter().enumerate().all(|(i, t)| *t == i as u64 * step));
    // Plan order: each group's name, then its runbooks, as the plan lists them.
    let groups = svg.matches("class=\"grp\"").count();
    assert!(groups >= 1, "group boundaries");
    let at = |id: &str| svg.find(&format!(">{id}</text>")).expect(id);
    let plan = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/plan-westeurope-outage.toml"),
    )
    .expect("plan");
    let mut ids = [
        "data-sql-failover",
        "data-cosmos-failover",
        "data-storage-failover",
    ];
    ids.sort_by_key(|id| plan.find(&format!("\"{id}\"")).unwrap_or(usize::MAX));
    assert!(
        at(ids[0]) < at(ids[1]) && at(ids[1]) < at(ids[2]),
        "{ids:?}"
    );
    assert!(svg.contains("outage began"), "the outage start is marked");
    assert!(svg.contains("RTO 30m: data-sql-failover"), "an RTO marker");
}
