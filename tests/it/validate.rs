//! `drbook validate` end to end: the real binary on the shipped runbooks and on a folder of
//! deliberately broken ones. Each broken file states what it must produce, in comments:
//! `# expect: CODE @COLUMN ~ text` means a diagnostic CODE on the next line (that is not itself
//! an expectation), at COLUMN, whose
//! message or help contains `text`. The test demands exactly those diagnostics, no more.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::cli;
use serde_json::Value;

fn drbook(args: &[&str]) -> Output {
    cli::drbook()
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the drbook binary runs")
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    code: String,
    line: u64,
    column: u64,
    text: String,
}

fn expectations(path: &Path) -> Vec<Expected> {
    let text = std::fs::read_to_string(path).expect("broken file readable");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("# expect:") else {
            continue;
        };
        let (spec, want) = rest.split_once('~').unwrap_or((rest, ""));
        let mut parts = spec.split_whitespace();
        let code = parts.next().expect("a code").to_string();
        let column = parts
            .next()
            .and_then(|c| c.strip_prefix('@'))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("{}:{}: `@COLUMN` expected", path.display(), i + 1));
        // The expectation is about the next line that is not itself an expectation.
        let target = (i + 1..lines.len())
            .find(|&j| !lines[j].trim_start().starts_with("# expect:"))
            .unwrap_or(i + 1);
        out.push(Expected {
            code,
            line: target as u64 + 1,
            column,
            text: want.trim().to_string(),
        });
    }
    out
}

fn json_report(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["validate", "--format", "json"];
    all.extend_from_slice(args);
    let out = drbook(&all);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report for {args:?}: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

fn broken_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/broken exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn check_against_expectations(target: &str, files: &[PathBuf]) {
    let (code, report) = json_report(&[target]);
    let mut want: Vec<(String, Expected)> = files
        .iter()
        .flat_map(|f| {
            let rel = f
                .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .expect("under the crate")
                .display()
                .to_string();
            expectations(f).into_iter().map(move |e| (rel.clone(), e))
        })
        .collect();
    assert!(!want.is_empty(), "{target} states no expectations");
    let got = report["diagnostics"].as_array().expect("diagnostics array");
    let mut unmatched = Vec::new();
    for d in got {
        let file = d["file"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("./");
        let pos = want.iter().position(|(f, e)| {
            file.ends_with(f.as_str())
                && d["code"] == e.code.as_str()
                && d["line"] == e.line
                && d["column"] == e.column
        });
        match pos {
            Some(i) => {
                let (_, e) = want.remove(i);
                let said = format!(
                    "{} {}",
                    d["message"].as_str().unwrap_or_default(),
                    d["help"].as_str().unwrap_or_default()
                );
                assert!(
                    said.contains(&e.text),
                    "{target}: {} at {}:{} says {said:?}, expected it to mention {:?}",
                    e.code,
                    e.line,
                    e.column,
                    e.text
                );
            }
            None => unmatched.push(d.clone()),
        }
    }
    assert!(
        want.is_empty(),
        "{target}: expected diagnostics not reported: {want:#?}\nreported instead: {unmatched:#?}"
    );
    assert!(
        unmatched.is_empty(),
        "{target}: unexpected diagnostics: {unmatched:#?}"
    );
    let errors = report["errors"].as_u64().expect("error count");
    assert_eq!(
        code,
        Some(if errors > 0 { 1 } else { 0 }),
        "{target}: exit code"
    );
}

#[test]
fn every_broken_file_reports_exactly_its_expected_diagnostics() {
    let files = broken_files();
    assert!(
        files.len() >= 15,
        "the broken corpus covers every error class"
    );
    for f in &files {
        let rel = f
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .expect("under the crate")
            .display()
            .to_string();
        check_against_expectations(&rel, std::slice::from_ref(f));
    }
}

#[test]
fn duplicate_runbook_ids_across_files_are_reported() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken/dup-across");
    let files = vec![dir.join("a.toml"), dir.join("b.toml")];
    check_against_expectations("tests/broken/dup-across", &files);
}

#[test]
fn two_plans_in_one_folder_are_an_error_naming_both_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken/two-plans");
    let files = vec![dir.join("a.toml"), dir.join("b.toml")];
    check_against_expectations("tests/broken/two-plans", &files);
}

#[test]
fn every_error_class_is_covered_by_the_corpus() {
    let mut codes: Vec<String> = broken_files()
        .iter()
        .flat_map(|f| expectations(f))
        .map(|e| e.code)
        .collect();
    codes.sort();
    codes.dedup();
    for class in [
        "toml-syntax",
        "unknown-field",
        "missing-field",
        "wrong-type",
        "duplicate-id",
        "unknown-dependency",
        "dependency-cycle",
        "rollback-cycle",
        "out-of-range",
        "bad-resource",
        "undefined-variable",
        "bad-duration",
        "unknown-kind",
        "missing-api-version",
        "unconfirmed-destructive",
        "output-not-upstream",
        "bad-expectation",
        "kind-field",
        "unknown-runbook",
        "bad-url",
        "bad-already",
        "bad-assess",
    ] {
        assert!(
            codes.iter().any(|c| c == class),
            "no broken file proves `{class}`"
        );
    }
}

#[test]
fn shipped_runbooks_are_valid_without_warnings() {
    let (code, report) = json_report(&["--strict", "runbooks/"]);
    assert_eq!(
        report["diagnostics"].as_array().map(Vec::len),
        Some(0),
        "{report:#}"
    );
    assert_eq!(code, Some(0));
    assert!(report["runbooks"].as_u64() >= Some(11), "{report:#}");
    assert!(report["plans"].as_u64() >= Some(1), "{report:#}");
}

/// A plan given alone takes the runbooks it names from its own folder: the shipped plan
/// validates as the whole folder does, with every runbook it names.
#[test]
fn a_plan_given_alone_loads_its_runbooks_from_its_folder() {
    let (code, alone) = json_report(&["runbooks/plan-westeurope-outage.toml"]);
    assert_eq!(code, Some(0), "{alone:#}");
    assert_eq!(alone["errors"], 0, "{alone:#}");
    assert_eq!(alone["plans"], 1, "{alone:#}");
    let (_, folder) = json_report(&["runbooks/"]);
    assert_eq!(
        alone["runbooks"], folder["runbooks"],
        "{alone:#}\n{folder:#}"
    );
    assert_eq!(alone["steps"], folder["steps"], "{alone:#}\n{folder:#}");
}

/// Only the runbooks the plan names are taken from its folder (a broken file beside it that
/// the plan does not name is not reported), one given on the command line is not loaded
/// twice, and a name found nowhere stays an error.
#[test]
fn a_plan_alone_takes_only_the_runbooks_it_names() {
    let dir = tempfile::tempdir().expect("tmp");
    let runbook = |id: &str| {
        format!(
            "[runbook]\nid = \"{id}\"\ntitle = \"{id}\"\ncomponent = \"web\"\nrto = \"1h\"\n\n\
             [[step]]\nid = \"look\"\ntitle = \"Look\"\nkind = \"manual\"\ninstructions = \"Look.\"\n"
        )
    };
    std::fs::write(dir.path().join("a.toml"), runbook("a")).expect("a");
    std::fs::create_dir(dir.path().join("sub")).expect("sub");
    std::fs::write(dir.path().join("sub/b.toml"), runbook("b")).expect("b");
    std::fs::write(dir.path().join("other.toml"), runbook("other")).expect("other");
    std::fs::write(dir.path().join("junk.toml"), "[runbook]\nid = \n").expect("junk");
    let plan = |names: &str| {
        format!(
            "[plan]\nid = \"p\"\ntitle = \"P\"\nrto = \"4h\"\n\n[[group]]\nname = \"All\"\nrunbooks = [{names}]\n"
        )
    };
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).expect("plans dir");
    std::fs::write(dir.path().join("plan.toml"), plan("\"a\", \"b\"")).expect("plan");
    let p = dir.path().join("plan.toml");
    let (code, report) = json_report(&[p.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["runbooks"], 2, "{report:#}");
    assert_eq!(report["files"], 3, "{report:#}");
    let a = dir.path().join("a.toml");
    let (code, report) = json_report(&[p.to_str().expect("utf-8"), a.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        report["runbooks"], 2,
        "given and found are one runbook: {report:#}"
    );

    std::fs::write(plans.join("plan.toml"), plan("\"a\", \"missing\"")).expect("plan");
    let (code, report) = json_report(&[plans.join("plan.toml").to_str().expect("utf-8")]);
    assert_eq!(code, Some(1), "{report:#}");
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(codes, ["unknown-runbook", "unknown-runbook"], "{report:#}");
}

#[test]
fn human_output_shows_location_excerpt_caret_and_hint() {
    let out = drbook(&["validate", "tests/broken/unknown-field.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    insta::assert_snapshot!("unknown_field_human", text);
}

#[test]
fn a_broken_storage_step_is_named_by_file_line_column_and_field() {
    let out = drbook(&["validate", "tests/broken/storage.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "error[kind-field]: a `storage` step needs `container_url` (backup freshness), `resource` (geo-replication), or both",
        "--> tests/broken/storage.toml:15:8",
        "error[bad-duration]: `max_age`: `fifteen minutes` is not a duration",
        "--> tests/broken/storage.toml:25:11",
        "error[bad-url]: `container_url`: https://stshopdata.blob.core.windows.net/: no container in the URL",
        "--> tests/broken/storage.toml:32:17",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let missing = drbook(&["validate", "no/such/folder"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no/such/folder: no such file or folder")
    );
    let bad_flag = drbook(&["validate", "--format", "yaml", "runbooks/"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    let no_paths = drbook(&["validate"]);
    assert_eq!(no_paths.status.code(), Some(2));
}

#[test]
fn warnings_fail_only_with_strict() {
    let file = "tests/broken/unconfirmed-destructive.toml";
    assert_eq!(drbook(&["validate", file]).status.code(), Some(0));
    assert_eq!(
        drbook(&["validate", "--strict", file]).status.code(),
        Some(1)
    );
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = drbook(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("validate") && text.contains("rehearse"),
            "{shell}"
        );
    }
}

/// A `--var` that no runbook declares is a usage error naming the closest declared variable,
/// for every command that takes `--var`: a typo must not leave the default in force silently.
#[test]
fn a_var_no_runbook_declares_is_refused_with_did_you_mean() {
    for args in [
        vec!["vars", "runbooks/web.toml"],
        vec!["check", "runbooks/web.toml", "--target", "sim"],
        vec![
            "rehearse",
            "runbooks/web.toml",
            "--target",
            "sim",
            "--non-interactive",
        ],
    ] {
        // Refused before anything is loaded into a session: no log is opened.
        let out = Command::new(env!("CARGO_BIN_EXE_drbook"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(&args)
            .args(["--var", "secundary=swedencentral"])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(
                "--var secundary: no runbook or plan here declares a variable `secundary` (did you mean `secondary`?)"
            ),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn vars_shows_origins_and_masks_secrets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rb.toml");
    std::fs::write(
        &file,
        r#"
[runbook]
id = "v"
title = "V"
component = "data"
[vars]
region = "westeurope"
token = { secret = true, env = "DRBOOK_TEST_TOKEN" }
"#,
    )
    .expect("write");
    let path = file.display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(["vars", &path, "--var", "region=northeurope"])
        .env("DRBOOK_TEST_TOKEN", "tok-123-secret")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("northeurope") && text.contains("(--var)"),
        "{text}"
    );
    assert!(text.contains("($DRBOOK_TEST_TOKEN)"), "{text}");
    assert!(!text.contains("tok-123-secret"), "secret leaked: {text}");

    let out = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(["vars", &path])
        .env_remove("DRBOOK_TEST_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISSING: set $DRBOOK_TEST_TOKEN"));
}

/// Runs the real binary in `dir` under a 15 s deadline: a hang is a failure, never a stuck test.
fn drbook_timed(dir: &Path, args: &[&str]) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the drbook binary runs");
    let mut pipes = (child.stdout.take(), child.stderr.take());
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = pipes.0.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = pipes.1.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("drbook {args:?} did not finish within 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const TINY: &str = "[runbook]\nid = \"tiny\"\ntitle = \"Tiny\"\ncomponent = \"web\"\n\n\
[[step]]\nid = \"pause\"\ntitle = \"Pause\"\nkind = \"wait\"\nduration = \"1s\"\n";

#[test]
fn a_link_out_of_the_folder_is_refused_and_no_foreign_file_is_ever_quoted() {
    const SECRET: &str = "fake-secret-4f1c9e";
    let tmp = tempfile::tempdir().expect("tmp");
    let rb = tmp.path().join("rb");
    std::fs::create_dir(&rb).expect("mkdir");
    std::fs::write(rb.join("tiny.toml"), TINY).expect("write");
    // Outside the folder: a file a pull request could try to dump (an environment, a key).
    let outside = tmp.path().join("environ");
    std::fs::write(&outside, format!("TOKEN={SECRET}\0HOME=/root\0")).expect("write");
    std::os::unix::fs::symlink(&outside, rb.join("leak.toml")).expect("symlink");
    // Inside, but not runbooks: valid TOML of something else, and invalid TOML.
    std::fs::write(rb.join("other.toml"), format!("password = \"{SECRET}\"\n")).expect("write");
    std::fs::write(rb.join("garbage.toml"), format!("x = {SECRET}\n")).expect("write");
    // A runbook whose erroneous line is enormous: only a window of it is shown.
    let long = format!(
        "[runbook]\nid = \"long\"\ntitle = \"{}\"\ncomponent = \"web\"\nownr = \"{}\"\n",
        "t".repeat(50),
        "x".repeat(100_000)
    );
    std::fs::write(rb.join("long.toml"), long).expect("write");

    let text_out = drbook_timed(tmp.path(), &["validate", "rb"]);
    let json_out = drbook_timed(tmp.path(), &["validate", "--format", "json", "rb"]);
    for o in [&text_out, &json_out] {
        let all = both(o);
        assert_eq!(o.status.code(), Some(1), "{all}");
        assert!(!all.contains(SECRET), "a foreign file was quoted:\n{all}");
        assert!(all.contains("leak.toml"), "{all}");
        assert!(all.contains("points outside the runbook folder"), "{all}");
        assert!(all.contains("unsafe-file"), "{all}");
    }
    let text = both(&text_out);
    assert!(text.contains("unknown field `ownr`"), "{text}");
    let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest < 400, "a line of {longest} characters was printed");
    // The named file itself, given on the command line, is read but never quoted either.
    let direct = drbook_timed(tmp.path(), &["validate", "rb/leak.toml"]);
    assert!(!both(&direct).contains(SECRET), "{}", both(&direct));
}

#[test]
fn fifos_devices_and_link_loops_are_refused_at_once_by_every_command() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let rb = dir.join("rb");
    std::fs::create_dir(&rb).expect("mkdir");
    std::fs::write(rb.join("tiny.toml"), TINY).expect("write");
    // A log of a clean run first, for review and report to find the folder from.
    let o = drbook_timed(
        dir,
        &[
            "rehearse",
            "rb",
            "--target",
            "sim",
            "--non-interactive",
            "--max-delay",
            "10ms",
            "--log-dir",
            "logs",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let log = std::fs::read_dir(dir.join("logs"))
        .expect("logs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a log");
    let log = log.display().to_string();

    let made = Command::new("mkfifo")
        .arg(rb.join("pipe.toml"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // Two links to `.`: about 2^depth paths for a walk that follows them blindly.
    std::os::unix::fs::symlink(".", rb.join("loop1")).expect("symlink");
    std::os::unix::fs::symlink(".", rb.join("loop2")).expect("symlink");
    std::os::unix::fs::symlink("/dev/zero", rb.join("zero.toml")).expect("symlink");
    // A regular file too large for a runbook (sparse: no disk used).
    std::fs::File::create(rb.join("big.toml"))
        .and_then(|f| f.set_len(5 * 1024 * 1024))
        .expect("big file");

    let refusing: [&[&str]; 5] = [
        &["validate", "rb"],
        &["vars", "rb"],
        &["check", "rb", "--target", "sim"],
        &[
            "rehearse",
            "rb",
            "--target",
            "sim",
            "--non-interactive",
            "--log-dir",
            "l2",
        ],
        &[
            "run",
            "rb",
            "--target",
            "azure",
            "--auth",
            "sim",
            "--arm-endpoint",
            "http://127.0.0.1:9",
            "--non-interactive",
            "--log-dir",
            "l2",
        ],
    ];
    for args in refusing {
        let o = drbook_timed(dir, args);
        let all = both(&o);
        assert_ne!(o.status.code(), Some(0), "{args:?}: {all}");
        assert!(
            all.contains("pipe.toml") && all.contains("FIFO"),
            "{args:?} does not name the FIFO: {all}"
        );
        assert!(all.contains("zero.toml"), "{args:?}: {all}");
        assert!(
            all.contains("big.toml") && all.contains("too large"),
            "{args:?}: {all}"
        );
    }
    // Reading a log loads its runbooks' folder too: it must finish, not hang.
    let o = drbook_timed(dir, &["report", &log]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let o = drbook_timed(dir, &["review", "logs"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));

    // Named directly: a device or a FIFO is refused without being opened.
    for f in ["/dev/zero", "rb/pipe.toml"] {
        let o = drbook_timed(dir, &["validate", f]);
        assert_eq!(o.status.code(), Some(1), "{}", both(&o));
        assert!(
            both(&o).contains("only regular files are read"),
            "{}",
            both(&o)
        );
    }
}

/// One error per file for 10,000 files: reporting them is linear (it was quadratic: 13 s).
/// Not a timed assertion: it must simply finish well within the deadline.
#[test]
fn ten_thousand_empty_files_are_validated_without_delay() {
    let tmp = tempfile::tempdir().expect("tmp");
    for i in 0..10_000 {
        std::fs::write(tmp.path().join(format!("f{i}.toml")), "").expect("write");
    }
    let dir = tmp.path().display().to_string();
    for format in ["human", "json"] {
        let o = drbook_timed(tmp.path(), &["validate", "--format", format, &dir]);
        assert_eq!(o.status.code(), Some(1), "{}", both(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let tail: Vec<&str> = out.lines().rev().take(12).collect();
        assert!(
            out.contains("10000 errors") || out.contains("\"errors\": 10000"),
            "{tail:?}"
        );
    }
}

/// A 20,000-step chain whose every step reads the first one: "is it upstream?" is answered
/// from one set per target, not by walking the chain for each step (that was quadratic).
#[test]
fn a_twenty_thousand_step_chain_that_reads_its_first_step_validates() {
    use std::fmt::Write as _;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut text = String::from("[runbook]\nid = \"long\"\ntitle = \"L\"\ncomponent = \"web\"\n");
    for i in 0..20_000 {
        let _ = write!(
            text,
            "[[step]]\nid = \"s{i}\"\ntitle = \"t\"\nkind = \"wait\"\nduration = \"1s\"\n"
        );
        if i > 0 {
            let _ = write!(
                text,
                "depends_on = [\"s{}\"]\nwhen = {{ step = \"s0\", outcome = \"ok\" }}\n",
                i - 1
            );
        }
    }
    std::fs::write(tmp.path().join("long.toml"), text).expect("write");
    let o = drbook_timed(tmp.path(), &["validate", "long.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(both(&o).contains("20000 steps"), "{}", both(&o));
}

/// Thousands of unknown step names: each is an error, but only the first ones are compared
/// with every step id for a "did you mean" (comparing them all was quadratic: 2,000 took 10 s).
#[test]
fn thousands_of_unknown_dependencies_are_all_reported_and_only_the_first_get_a_hint() {
    use std::fmt::Write as _;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut text = String::from("[runbook]\nid = \"many\"\ntitle = \"M\"\ncomponent = \"web\"\n");
    for i in 0..5_000 {
        let _ = write!(
            text,
            "[[step]]\nid = \"step{i}\"\ntitle = \"t\"\nkind = \"wait\"\nduration = \"1s\"\ndepends_on = [\"step{i}x\"]\n"
        );
    }
    std::fs::write(tmp.path().join("many.toml"), text).expect("write");
    let dir = tmp.path().display().to_string();
    let o = drbook_timed(tmp.path(), &["validate", "--format", "json", &dir]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.matches("but there is no such step").count(), 5_000);
    let hints = out.matches("did you mean `step").count();
    assert!((1..=50).contains(&hints), "{hints} hints");
}

/// The Azure permission a write step needs: `Microsoft.X/type/.../write` for PUT and PATCH,
/// `.../delete` for DELETE, `.../ACTION/action` for a POST to `{id}/ACTION`.
fn permission(method: &str, resource: &str) -> Option<String> {
    let path = resource.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let at = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))?;
    let rest = &segs[at + 1..];
    let (namespace, pairs) = rest.split_first()?;
    // Type, name, type, name, ...; a segment left over is a POST's action.
    let mut parts = vec![namespace.to_string()];
    parts.extend(
        pairs
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| c[0].to_string()),
    );
    let action = (pairs.len() % 2 == 1).then(|| pairs[pairs.len() - 1]);
    let verb = match (method.to_ascii_uppercase().as_str(), action) {
        ("POST", Some(a)) => format!("{a}/action"),
        ("PUT" | "PATCH", None) => "write".into(),
        ("DELETE", None) => "delete".into(),
        _ => return None,
    };
    Some(format!("{}/{verb}", parts.join("/")))
}

/// The README's least-privilege role lists exactly what the shipped runbooks write with, so
/// it cannot drift: change a runbook's action and this test prints the list to paste.
#[test]
fn the_readme_role_lists_every_write_permission_the_runbooks_use() {
    use drbook::runbook::model::StepKind;
    let set =
        drbook::runbook::load_paths(&[concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks").into()])
            .expect("load the shipped runbooks");
    let mut wanted = std::collections::BTreeSet::new();
    for rb in &set.runbooks {
        for step in rb.steps.iter().chain(&rb.rollbacks) {
            if *step.kind.get_ref() != StepKind::Action {
                continue;
            }
            let method = step
                .method
                .as_ref()
                .map_or("POST".to_string(), |m| m.get_ref().clone());
            let resource = step
                .resource
                .as_ref()
                .map(|r| r.get_ref().clone())
                .unwrap_or_default();
            let p = permission(&method, &resource).unwrap_or_else(|| {
                panic!("{}: {method} {resource}: no permission derived", rb.id())
            });
            wanted.insert(p);
        }
    }
    assert!(!wanted.is_empty());
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let block = readme
        .split("<!-- write-permissions:start -->")
        .nth(1)
        .and_then(|r| r.split("<!-- write-permissions:end -->").next())
        .expect("README has the write-permissions block");
    let listed: std::collections::BTreeSet<String> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split('"').next())
        .filter(|p| p.contains('/') && *p != "*/read")
        .map(str::to_string)
        .collect();
    let expected: Vec<String> = wanted.iter().map(|p| format!("    \"{p}\",")).collect();
    assert_eq!(
        listed,
        wanted,
        "README.md's write-permissions block must list exactly:\n{}",
        expected.join("\n")
    );
}

#[test]
fn permissions_are_derived_from_the_resource_type_and_action() {
    assert_eq!(
        permission("POST", "/subscriptions/${s}/resourceGroups/rg/providers/Microsoft.Sql/servers/a/failoverGroups/f/failover").as_deref(),
        Some("Microsoft.Sql/servers/failoverGroups/failover/action")
    );
    assert_eq!(
        permission("PATCH", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cdn/profiles/p/originGroups/g/origins/o").as_deref(),
        Some("Microsoft.Cdn/profiles/originGroups/origins/write")
    );
    assert_eq!(
        permission("POST", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/failover?failoverType=Planned").as_deref(),
        Some("Microsoft.Storage/storageAccounts/failover/action")
    );
    assert_eq!(
        permission("PATCH", "/subscriptions/s/resourceGroups/rg"),
        None
    );
}

/// A change of a database's write region is never sent twice blindly: an answer lost to a
/// timeout or a 5xx may hide a change that happened, and a second request would collide with
/// it (409) or, for a priority change, fight it. The steps after each change read what
/// happened instead.
#[test]
fn write_region_changes_of_the_shipped_runbooks_are_never_retried() {
    use drbook::runbook::model::StepKind;
    let set =
        drbook::runbook::load_paths(&[concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks").into()])
            .expect("load the shipped runbooks");
    let changes = [
        "/offlineRegion",
        "/onlineRegion",
        "/failoverPriorityChange",
        "/tryPlannedBeforeForcedFailover",
        "/forceFailoverAllowDataLoss",
    ];
    let mut seen = std::collections::BTreeSet::new();
    let duration = |d: Option<&toml::Spanned<String>>, default: &str| {
        drbook::time::parse_duration(d.map_or(default, |d| d.get_ref())).expect("a duration")
    };
    for rb in &set.runbooks {
        // Worst case of the changes a runbook may send one after another (a planned attempt,
        // then the forced one): together they must leave the RTO standing.
        let mut budget = std::time::Duration::ZERO;
        for step in rb.steps.iter().chain(&rb.rollbacks) {
            if *step.kind.get_ref() != StepKind::Action {
                continue;
            }
            let resource = step
                .resource
                .as_ref()
                .map(|r| r.get_ref().clone())
                .unwrap_or_default();
            // `.../failover?failoverType=Planned` is the same change as `.../failover`.
            let resource = resource.split('?').next().unwrap_or_default();
            // Failovers named `/failover` by several providers: SQL failover groups, storage
            // accounts (planned or not) and Service Bus Geo-DR aliases (a forced one breaks
            // the pairing and can run only once).
            let failover = resource.ends_with("/failover").then(|| {
                if resource.contains("/failoverGroups/") {
                    "sql /failover"
                } else if resource.contains("/storageAccounts/") {
                    "storage /failover"
                } else if resource.contains("/disasterRecoveryConfigs/") {
                    "servicebus /failover"
                } else {
                    "other /failover"
                }
            });
            let Some(change) = changes
                .iter()
                .find(|c| resource.ends_with(*c))
                .map(|c| c.to_string())
                .or_else(|| failover.map(str::to_string))
            else {
                continue;
            };
            seen.insert(change);
            let retries = step.retries.as_ref().map_or(0, |r| *r.get_ref());
            assert_eq!(
                retries,
                0,
                "{}/{}: a write-region change is retried",
                rb.id(),
                step.id.get_ref()
            );
            if rb.steps.iter().any(|s| s.id.get_ref() == step.id.get_ref()) {
                budget += duration(step.timeout.as_ref(), "10m");
            }
        }
        if budget > std::time::Duration::ZERO {
            let rto = duration(rb.meta.rto.as_ref(), "0s");
            assert!(
                budget <= rto,
                "{}: its write-region changes may take {budget:?}, over its RTO {rto:?}",
                rb.id()
            );
        }
    }
    for c in [
        "/offlineRegion",
        "/failoverPriorityChange",
        "/tryPlannedBeforeForcedFailover",
        "storage /failover",
        "servicebus /failover",
    ] {
        assert!(seen.contains(c), "no shipped runbook calls {c}: {seen:?}");
    }
}

/// The data decisions (and any data loss) are taken at once, beside the tooling: no group
/// waits before them, so a slow tooling runbook (a mirror fetched three times) cannot hold
/// back the SQL, Cosmos DB and storage failovers.
#[test]
fn the_shipped_plan_starts_the_data_runbooks_in_its_first_group() {
    use drbook::runbook::model::Component;
    let set =
        drbook::runbook::load_paths(&[concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks").into()])
            .expect("load the shipped runbooks");
    let plan = set.plans.first().expect("the shipped plan");
    let first = plan.groups.first().expect("a first group");
    assert!(
        first.parallel,
        "the first group runs its runbooks in parallel"
    );
    let data: Vec<&str> = set
        .runbooks
        .iter()
        .filter(|r| *r.meta.component.get_ref() == Component::Data)
        .map(|r| r.id())
        .collect();
    assert_eq!(data.len(), 3, "{data:?}");
    for id in data {
        assert!(
            first.runbooks.iter().any(|r| r.get_ref() == id),
            "{id} waits behind another group of the plan"
        );
    }
}

/// Runs the real binary with its stdout a pipe whose reader is already gone (`| head` after
/// its first line), under a 15 s deadline; the output holds stderr only.
pub fn drbook_into_closed_pipe(dir: &Path, args: &[&str]) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let (reader, writer) = nix::unistd::pipe().expect("a pipe");
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DRBOOK_CONFIG", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .expect("the drbook binary runs");
    let mut stderr = child.stderr.take();
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = stderr.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("drbook {args:?} did not finish within 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: Vec::new(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `drbook validate runbooks/ | head -1`: a reader that goes away ends a printing command
/// quietly, as it ends `cat` (SIGPIPE), never with a panic (exit 101) or an error message.
#[test]
fn printing_commands_end_quietly_when_the_reader_goes_away() {
    use std::os::unix::process::ExitStatusExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for args in [
        vec!["validate", "runbooks/"],
        vec!["validate", "tests/broken"],
        vec!["validate", "--format", "json", "runbooks/"],
        vec!["vars", "runbooks/"],
        vec!["completions", "bash"],
        vec!["--help"],
    ] {
        let out = drbook_into_closed_pipe(root, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.is_empty(), "drbook {args:?} said: {err}");
        assert!(
            out.status.signal() == Some(13) || out.status.code().is_some_and(|c| c < 100),
            "drbook {args:?}: {:?}",
            out.status
        );
    }
}
