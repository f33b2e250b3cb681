//! The TUI (issue 5): time to first frame (the bar: under 50 ms with the shipped runbooks) and
//! the time to draw a frame over a 100,000-event timeline (the bar: under 5 ms). Measured in
//! one run:
//!
//! 1. in-process, from nothing to the first frame in a ratatui `TestBackend` (120x40): load
//!    the shipped `runbooks/`, resolve variables, build the `Board` and `App` (the render
//!    fixture, as the binary does before its first frame), and one `terminal.draw`;
//! 2. the real binary (`target/release/drbook`, the built-in demo) in a real terminal (tmux,
//!    120x40): from launching it until `REHEARSAL` is on the screen, polling `capture-pane`.
//!    This adds what (1) leaves out: process start, writing the demo runbooks, starting the
//!    in-process simulator, creating the incident log (header fsynced), entering the
//!    alternate screen. The floor (the same launch of a command that prints `REHEARSAL` at
//!    once) is shown beside it: tmux and the polling, not drbook;
//! 3. one frame of the fixture's incident with 100,000 output lines in the timeline, at 80x24
//!    and 200x60: following the newest events, filtered (`/remote`), and scrolled back
//!    50,000 rows;
//! 4. applying one logged event (`Msg::Logged`) to that app, as a command's output streams in:
//!    folds it into the state, extends the timeline and works out which steps are ready.
//!
//! Run: cargo bench --bench tui (build `cargo build --release` first for part 2; it is skipped
//! with a message when the binary or tmux is missing). Without `--bench` on its command line
//! (as under `cargo test --benches`) it runs a tiny version, only to show it still works.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Timings, Tmux, ms, release_binary};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use drbook::incident::{Event, EventKind, Stream};
use drbook::tui::app::{App, Msg, Pane};
use drbook::tui::{fixture, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const FIRST_FRAME_TARGET: Duration = Duration::from_millis(50);
/// The binary's launch to first frame, less the floor of the measurement (issue 16).
const LAUNCH_TARGET: Duration = Duration::from_millis(20);
const FRAME_TARGET: Duration = Duration::from_millis(5);
/// Output lines added to the fixture's timeline for (3) and (4).
const EVENTS: usize = 100_000;

/// How much work each part does.
struct Sizes {
    /// In-process first frames of (1).
    first_frames: usize,
    /// Launches of the binary in (2).
    launches: usize,
    /// Timeline lines of (3) and (4).
    events: usize,
    /// Frames drawn per case of (3).
    frames: usize,
    /// Events applied in (4).
    logged: usize,
}

const FULL: Sizes = Sizes {
    first_frames: 30,
    launches: 10,
    events: EVENTS,
    frames: 200,
    logged: 2_000,
};

const QUICK: Sizes = Sizes {
    first_frames: 2,
    launches: 1,
    events: 2_000,
    frames: 3,
    logged: 20,
};

fn ratio(d: Duration, target: Duration) -> f64 {
    d.as_secs_f64() / target.as_secs_f64()
}

fn runbooks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks")
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn draw(term: &mut Terminal<TestBackend>, app: &App) {
    term.draw(|f| view::draw(f, app)).expect("draws");
}

/// (1): nothing → App → first frame, in this process.
fn first_frame(dir: &Path, runs: usize) -> (Timings, Timings, Timings) {
    let (mut total, mut build, mut frame) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let mut app = fixture::app(dir, 0).expect("the fixture builds over the shipped runbooks");
        let built = t.elapsed();
        app.update(Msg::Resize(120, 40));
        let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
        draw(&mut term, &app);
        let all = t.elapsed();
        assert!(
            term.backend().to_string().contains("REHEARSAL"),
            "the first frame shows the header"
        );
        std::hint::black_box(&term);
        total.push(all);
        build.push(built);
        frame.push(all - built);
    }
    (
        Timings::new(total),
        Timings::new(build),
        Timings::new(frame),
    )
}

/// Replaces what runs in the pane with `command` and times it until `what` shows.
fn launch_until(
    tmux: &Tmux,
    command: &str,
    what: &str,
    within: Duration,
) -> Result<Duration, String> {
    let t = Instant::now();
    tmux.run(&["respawn-pane", "-k", "-t", "b", command])?;
    tmux.until(t, what, within)
}

/// (2): the binary's first frame in tmux, and the floor of the same measurement.
fn binary_first_frame(
    bin: &Path,
    launches: usize,
    tmp: &Path,
) -> Result<(Timings, Timings), String> {
    let tmux = Tmux::start("bench", "sleep 600")?;
    let within = Duration::from_secs(20);
    let floor_cmd = "printf 'REHEARSAL\\n'; sleep 600";
    // One untimed launch of each: the page cache holds the binary afterwards.
    launch_until(&tmux, floor_cmd, "REHEARSAL", within)?;
    let run = |i: usize| -> Result<Duration, String> {
        let base = tmp.join(format!("launch-{i}"));
        let command = format!(
            "env XDG_DATA_HOME={} DRBOOK_CONFIG=/nonexistent {} --log-dir {} --operator bench",
            base.join("data").display(),
            bin.display(),
            base.join("logs").display(),
        );
        launch_until(&tmux, &command, "REHEARSAL", within)
    };
    run(usize::MAX)?;
    let (mut drbook, mut floor) = (Vec::new(), Vec::new());
    for i in 0..launches {
        drbook.push(run(i)?);
        floor.push(launch_until(&tmux, floor_cmd, "REHEARSAL", within)?);
    }
    Ok((Timings::new(drbook), Timings::new(floor)))
}

/// (3): `frames` draws of `app` at `w`x`h`.
fn frames(app: &mut App, w: u16, h: u16, n: usize) -> Timings {
    app.update(Msg::Resize(w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    // Warm up: the first draw fills both buffers.
    draw(&mut term, app);
    let each = (0..n)
        .map(|_| {
            let t = Instant::now();
            draw(&mut term, app);
            t.elapsed()
        })
        .collect();
    Timings::new(each)
}

/// (4): `n` output lines appended, as a running command would.
fn logged(app: &mut App, n: usize) -> Timings {
    let last = app.timeline.events.last().cloned().expect("events");
    let mut seq = last.seq;
    let each = (0..n)
        .map(|i| {
            seq += 1;
            let e = Event {
                seq,
                ts: last.ts,
                actor: "drbook".into(),
                kind: EventKind::OutputLine {
                    runbook: "code-continuity".into(),
                    step: "communicate".into(),
                    stream: Stream::Stdout,
                    line: format!("remote: Resolving deltas: {}% ({i}/{n})", i * 100 / n),
                },
                prev: String::new(),
                hash: String::new(),
            };
            let t = Instant::now();
            app.update(Msg::Logged(e));
            t.elapsed()
        })
        .collect();
    Timings::new(each)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sz = if full { FULL } else { QUICK };
    let dir = runbooks();
    let tmp = tempfile::tempdir().expect("temp dir");

    let (total, build, frame) = first_frame(&dir, sz.first_frames);
    let binary = match release_binary() {
        None => Err("target/release/drbook is missing: run `cargo build --release` first".into()),
        Some(bin) => binary_first_frame(&bin, sz.launches, tmp.path()),
    };

    let t = Instant::now();
    let mut app = fixture::app(&dir, sz.events).expect("the fixture builds");
    let built = t.elapsed();
    let rows = app.timeline.len();
    let sizes = [(80u16, 24u16), (200, 60)];
    let follow: Vec<Timings> = sizes
        .iter()
        .map(|&(w, h)| frames(&mut app, w, h, sz.frames))
        .collect();

    // The filter, typed as an operator would: each key filters the whole timeline again.
    key(&mut app, KeyCode::Char('/'));
    let mut keystrokes = Vec::new();
    for c in "remote".chars() {
        let t = Instant::now();
        key(&mut app, KeyCode::Char(c));
        keystrokes.push(t.elapsed());
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.timeline.filter(), "remote");
    let matching = app.timeline.len();
    let keystrokes = Timings::new(keystrokes);
    let filtered: Vec<Timings> = sizes
        .iter()
        .map(|&(w, h)| frames(&mut app, w, h, sz.frames))
        .collect();
    // Clear the filter (open it, Esc), then scroll half the timeline back.
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.timeline.len(), rows, "the filter is cleared");
    app.focus = Pane::Timeline;
    let back = sz.events / 2;
    app.timeline_back = back;
    let scrolled: Vec<Timings> = sizes
        .iter()
        .map(|&(w, h)| frames(&mut app, w, h, sz.frames))
        .collect();
    app.timeline_back = 0;
    app.focus = Pane::Steps;

    let applied = logged(&mut app, sz.logged);
    key(&mut app, KeyCode::Char('/'));
    for c in "remote".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let applied_filtered = logged(&mut app, sz.logged);

    if !full {
        println!("quick run (no --bench): sizes cut down, figures meaningless");
    }
    println!(
        "time to first frame, in-process (shipped runbooks, TestBackend 120x40, {} runs)",
        sz.first_frames
    );
    let first_row = |name: &str, t: &Timings, target: bool| {
        let of = if target {
            format!(
                "  = {:.2}x the 50 ms target",
                ratio(t.median(), FIRST_FRAME_TARGET)
            )
        } else {
            String::new()
        };
        println!(
            "  {name:<40} median {:>7.2} ms   p95 {:>7.2} ms{of}",
            ms(t.median()),
            ms(t.pct(95.0))
        );
    };
    first_row("load, resolve vars, build Board + App:", &build, false);
    first_row("first terminal.draw:", &frame, false);
    first_row("total:", &total, true);
    println!(
        "time to first frame, the release binary (the demo in tmux 120x40, until REHEARSAL shows)"
    );
    match &binary {
        Ok((drbook, floor)) => {
            println!(
                "  {:<40} median {:>7.1} ms   p95 {:>7.1} ms  = {:.2}x the 50 ms target  ({} launches)",
                "drbook, launch to first frame:",
                ms(drbook.median()),
                ms(drbook.pct(95.0)),
                ratio(drbook.median(), FIRST_FRAME_TARGET),
                drbook.0.len()
            );
            println!(
                "  {:<40} median {:>7.1} ms   p95 {:>7.1} ms  (tmux respawn + capture-pane every 2 ms)",
                "floor, `printf REHEARSAL` instead:",
                ms(floor.median()),
                ms(floor.pct(95.0)),
            );
            let less = drbook.median().saturating_sub(floor.median());
            println!(
                "  drbook less the floor: {:.1} ms = {:.2}x the {} ms target (process start, demo files, runbooks, simulator, log header with fsync, terminal setup, first draw)",
                ms(less),
                ratio(less, LAUNCH_TARGET),
                LAUNCH_TARGET.as_millis()
            );
            println!(
                "  drbook / floor, same run: {:.2}x the floor ({:.1} ms / {:.1} ms): the figure to compare between machines and runs",
                ratio(drbook.median(), floor.median()),
                ms(drbook.median()),
                ms(floor.median())
            );
        }
        Err(e) => println!("  skipped: {e}"),
    }
    println!(
        "frame render time, timeline of {rows} events (fixture + {} output lines; App built in {:.0} ms; {} frames each)",
        sz.events,
        ms(built),
        sz.frames
    );
    let frame_row = |name: &str, (w, h): (u16, u16), t: &Timings| {
        println!(
            "  {name:<28} {w:>3}x{h:<3} median {:>6.3} ms   p95 {:>6.3} ms   p99 {:>6.3} ms  = {:.2}x the 5 ms target",
            ms(t.median()),
            ms(t.pct(95.0)),
            ms(t.pct(99.0)),
            ratio(t.median(), FRAME_TARGET)
        );
    };
    for (i, &s) in sizes.iter().enumerate() {
        frame_row("following the newest:", s, &follow[i]);
    }
    for (i, &s) in sizes.iter().enumerate() {
        frame_row(&format!("filtered /remote ({matching}):"), s, &filtered[i]);
    }
    for (i, &s) in sizes.iter().enumerate() {
        frame_row(&format!("scrolled back {back}:"), s, &scrolled[i]);
    }
    println!(
        "  typing the filter (each key filters all {rows} again): median {:.1} ms, max {:.1} ms per key",
        ms(keystrokes.median()),
        ms(keystrokes.pct(100.0))
    );
    println!(
        "applying one logged event to that app (Msg::Logged: fold, timeline, ready steps; {} events)",
        sz.logged
    );
    let apply_row = |name: &str, t: &Timings| {
        println!(
            "  {name:<28} median {:>7.1} µs   p99 {:>7.1} µs   max {:>7.1} µs",
            t.median().as_secs_f64() * 1e6,
            t.pct(99.0).as_secs_f64() * 1e6,
            t.pct(100.0).as_secs_f64() * 1e6
        );
    };
    apply_row("no filter:", &applied);
    apply_row("filter /remote active:", &applied_filtered);
}
