//! Keys under load (issue 5: "never blocks: keys stay responsive while hundreds of checks are
//! in flight"). The release binary in a real terminal (tmux, 120x40), measured in one run:
//!
//! 1. generated in a temp dir: a runbook of 300 independent `check` steps (no `depends_on`)
//!    that read one simulator resource and never see what they expect, so each polls
//!    (`poll = "1s"`, `timeout = "10m"`) and stays running; and a scenario whose every ARM
//!    answer takes 2 s (plus up to 0.5 s jitter). `drbook validate` must accept the runbook;
//! 2. `drbook rehearse <runbook> --target sim --scenario <scenario> --concurrency 256`: once
//!    its first frame shows, a baseline: `j` and `k` pressed in turn, each timed from
//!    `tmux send-keys` until the `Detail` pane's first line names the newly selected step
//!    (`capture-pane` every 2 ms). Nothing is running;
//! 3. `a` (start every ready step): all 300 start (counted in the incident log); then the same
//!    presses while they are in flight: 256 ARM reads outstanding at once, each step
//!    re-reading every ~3.5 s, each answer an engine update for the screen. The steps still in
//!    flight are counted in the log before and after the presses.
//!
//! Presses are spaced 100 ms apart so they span more than one round of answers. The baseline
//! holds the cost of tmux and the polling; the ratio is what the load adds.
//!
//! Run: cargo bench --bench keys (build `cargo build --release` first; it is skipped with a
//! message when the binary or tmux is missing). Without `--bench` on its command line (as
//! under `cargo test --benches`) it runs a tiny version, only to show it still works.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Timings, Tmux, ms, release_binary};

const SUB: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
/// The bar for a key: the screen answers within this, whatever is running.
const KEY_TARGET: Duration = Duration::from_millis(100);
/// The client's concurrency: `--concurrency` (its maximum).
const CONCURRENCY: u16 = 256;
/// What the simulator adds to every ARM answer.
const LATENCY: &str = "2s";
const JITTER: &str = "500ms";

/// How much work the run does.
struct Sizes {
    /// Independent check steps in the runbook.
    steps: usize,
    /// Key presses timed, idle and under load each.
    presses: usize,
    /// Pause between presses.
    gap: Duration,
}

const FULL: Sizes = Sizes {
    steps: 300,
    presses: 40,
    gap: Duration::from_millis(100),
};

const QUICK: Sizes = Sizes {
    steps: 20,
    presses: 4,
    gap: Duration::from_millis(10),
};

fn title(i: usize) -> String {
    format!("Slow read number {i:03}")
}

/// The first line of the `Detail` pane when step `i` is selected: "<icon> <word> <title>  [check]".
fn detail_marker(i: usize) -> String {
    format!("{}  [check]", title(i))
}

fn scenario() -> String {
    format!(
        r#"[scenario]
id = "keys-bench"
title = "Every ARM answer is slow"
description = "The keys bench: checks stay in flight for seconds."

[faults]
latency = "{LATENCY}"
jitter = "{JITTER}"

[[subscription]]
id = "{SUB}"
name = "bench"

[[resource]]
id = "/subscriptions/{SUB}/resourceGroups/rg-bench/providers/Microsoft.Web/sites/app-bench"
location = "northeurope"
kind = "app"
properties = {{ state = "Running", availabilityState = "Normal" }}
"#
    )
}

/// `steps` independent checks of one site, none of which ever holds: each polls until timeout.
fn runbook(steps: usize) -> String {
    let mut s = String::from(
        r#"[runbook]
id = "keys-load"
title = "Hundreds of slow reads"
component = "web"

[vars]
"#,
    );
    let _ = writeln!(s, "subscription = \"{SUB}\"");
    for i in 0..steps {
        let _ = write!(
            s,
            r#"
[[step]]
id = "read-{i:03}"
title = "{}"
kind = "check"
resource = "/subscriptions/${{subscription}}/resourceGroups/rg-bench/providers/Microsoft.Web/sites/app-bench"
api_version = "2023-12-01"
expect = {{ path = "properties.state", equals = "Stopped" }}
poll = "1s"
timeout = "10m"
"#,
            title(i)
        );
    }
    s
}

/// Sends `key` and times it until `what` shows.
fn press_until(tmux: &Tmux, key: &str, what: &str) -> Result<Duration, String> {
    let t = Instant::now();
    tmux.run(&["send-keys", "-t", "b", key])?;
    tmux.until(t, what, Duration::from_secs(10))
}

/// Steps started and finished so far, from the incident log(s) in `logs`.
fn started_finished(logs: &Path) -> (usize, usize) {
    let (mut started, mut finished) = (0, 0);
    for entry in std::fs::read_dir(logs).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        started += text.matches("\"event\":\"step_started\"").count();
        finished += text.matches("\"event\":\"step_finished\"").count();
    }
    (started, finished)
}

/// `presses` presses of `j` then `k` in turn (step 0 selected before and after each pair).
fn navigate(tmux: &Tmux, presses: usize, gap: Duration) -> Result<Timings, String> {
    let mut each = Vec::with_capacity(presses);
    for i in 0..presses {
        let (key, to) = if i % 2 == 0 { ("j", 1) } else { ("k", 0) };
        each.push(press_until(tmux, key, &detail_marker(to))?);
        std::thread::sleep(gap);
    }
    Ok(Timings::new(each))
}

struct Report {
    idle: Timings,
    loaded: Timings,
    /// Time from `a` until the status line says the steps are starting.
    start_key: Duration,
    /// From `a` until the log holds every step's start.
    all_started: Duration,
    /// Steps in flight (started, not finished) before and after the presses under load.
    in_flight: (usize, usize),
    /// How long the presses under load took, first to last.
    span: Duration,
}

fn measure(bin: &Path, sz: &Sizes, tmp: &Path) -> Result<Report, String> {
    let scenario_path = tmp.join("scenario.toml");
    let runbook_path = tmp.join("runbook.toml");
    std::fs::write(&scenario_path, scenario()).map_err(|e| e.to_string())?;
    std::fs::write(&runbook_path, runbook(sz.steps)).map_err(|e| e.to_string())?;
    let valid = Command::new(bin)
        .arg("validate")
        .arg(&runbook_path)
        .output()
        .map_err(|e| e.to_string())?;
    if !valid.status.success() {
        return Err(format!(
            "the generated runbook does not validate:\n{}{}",
            String::from_utf8_lossy(&valid.stdout),
            String::from_utf8_lossy(&valid.stderr)
        ));
    }
    let logs = tmp.join("logs");
    let command = format!(
        "env XDG_DATA_HOME={} DRBOOK_CONFIG=/nonexistent {} rehearse {} --target sim --scenario {} \
         --concurrency {CONCURRENCY} --log-dir {} --operator bench",
        tmp.join("data").display(),
        bin.display(),
        runbook_path.display(),
        scenario_path.display(),
        logs.display(),
    );
    let tmux = Tmux::start("keys", &command)?;
    // The first frame, with the first step selected.
    tmux.until(
        Instant::now(),
        &format!("ready {}", detail_marker(0)),
        Duration::from_secs(20),
    )?;

    let idle = navigate(&tmux, sz.presses, sz.gap)?;

    let t = Instant::now();
    tmux.run(&["send-keys", "-t", "b", "a"])?;
    let start_key = tmux.until(
        t,
        &format!("starting {} ready step(s)", sz.steps),
        Duration::from_secs(10),
    )?;
    let all_started = loop {
        if started_finished(&logs).0 >= sz.steps {
            break t.elapsed();
        }
        if t.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "only {} of {} steps started within 30 s",
                started_finished(&logs).0,
                sz.steps
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    tmux.until(
        t,
        &format!("running {}", detail_marker(0)),
        Duration::from_secs(10),
    )?;

    let (s0, f0) = started_finished(&logs);
    let t = Instant::now();
    let loaded = navigate(&tmux, sz.presses, sz.gap)?;
    let span = t.elapsed();
    let (s1, f1) = started_finished(&logs);
    Ok(Report {
        idle,
        loaded,
        start_key,
        all_started,
        in_flight: (s0 - f0, s1 - f1),
        span,
    })
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sz = if full { FULL } else { QUICK };
    let tmp = tempfile::tempdir().expect("temp dir");
    let report = match release_binary() {
        None => Err("target/release/drbook is missing: run `cargo build --release` first".into()),
        Some(bin) => measure(&bin, &sz, tmp.path()),
    };

    if !full {
        println!("quick run (no --bench): sizes cut down, figures meaningless");
    }
    println!(
        "keys under load: the release binary in tmux 120x40, `rehearse` on the simulator, {} independent checks \
         (every ARM answer {LATENCY} + up to {JITTER}, poll 1s, never holding), --concurrency {CONCURRENCY}",
        sz.steps
    );
    println!(
        "key to screen: `tmux send-keys j|k` until the Detail pane names the new selection (capture-pane every 2 ms; {} presses each, {} ms apart)",
        sz.presses,
        sz.gap.as_millis()
    );
    match report {
        Ok(r) => {
            let row = |name: &str, t: &Timings| {
                println!(
                    "  {name:<38} median {:>6.1} ms   p95 {:>6.1} ms   max {:>6.1} ms  = {:.2}x the 100 ms target (max)",
                    ms(t.median()),
                    ms(t.pct(95.0)),
                    ms(t.max()),
                    ms(t.max()) / ms(KEY_TARGET),
                );
            };
            row("baseline, nothing running:", &r.idle);
            row(
                &format!("{} checks in flight:", r.in_flight.0.min(r.in_flight.1)),
                &r.loaded,
            );
            println!(
                "  under load / baseline: median {:.2}x   p95 {:.2}x   max {:.2}x",
                ms(r.loaded.median()) / ms(r.idle.median()),
                ms(r.loaded.pct(95.0)) / ms(r.idle.pct(95.0)),
                ms(r.loaded.max()) / ms(r.idle.max()),
            );
            println!(
                "  in flight (incident log: started, not finished): {} when the presses began, {} after them ({:.1} s later)",
                r.in_flight.0,
                r.in_flight.1,
                r.span.as_secs_f64()
            );
            println!(
                "  `a` until \"starting {} ready step(s)\" shows: {:.1} ms; until the log holds all {} starts: {:.1} ms",
                sz.steps,
                ms(r.start_key),
                sz.steps,
                ms(r.all_started)
            );
        }
        Err(e) => println!("  skipped: {e}"),
    }
}
