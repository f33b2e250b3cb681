//! Runs the TUI over a session: the engine in its own task, the terminal in this one. Keys,
//! engine updates, logged events, live reads, ticks and signals all become `Msg`s for
//! `App::update`; nothing here waits on the network or the disk.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::app::{App, Effect, Info, Msg};
use super::keys::KeyMap;
use super::model::Board;
use super::term::Term;
use super::theme::Theme;
use super::{discovery, live, view};
use drbook_engine::exec::engine::Control;
use drbook_engine::exec::session::{Session, close_incident};

/// How often live values of the runbook on screen are read again.
const LIVE_EVERY: Duration = Duration::from_secs(15);
/// Events handled before the screen is drawn again, in a burst.
const BURST: usize = 512;

/// What the screen looks like and answers to, from the config file and the command line.
pub struct UiSetup {
    pub theme: Theme,
    pub keys: KeyMap,
    /// The config file's operator name.
    pub operator: Option<String>,
    /// The command that resumes this incident, without `--resume LOG`.
    pub resume_cmd: String,
}

/// Both ends of the terminal are a terminal (not a pipe or a file).
pub fn is_terminal() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// The first frame, drawn from the runbooks alone while the session still opens (the
/// simulator starts, the log is created and fsynced): the plan and its steps, no event, as
/// nothing has happened yet. `None` when the terminal cannot be set up: `run` tries again
/// and says why.
pub fn first_frame(
    work: &[(
        drbook_core::runbook::Runbook,
        drbook_engine::checks::scope::Scope,
    )],
    groups: &[drbook_core::runbook::plan::Group],
    info: Info,
    ui: &UiSetup,
) -> Option<Term> {
    let mut term = Term::enter().ok()?;
    let board = Board::new(work, groups.to_vec());
    let mut app = App::new(
        info,
        board,
        Vec::new(),
        ui.keys.clone(),
        ui.theme.clone(),
        Utc::now(),
    );
    if let Ok(s) = term.screen.size() {
        app.update(Msg::Resize(s.width, s.height));
    }
    term.screen.draw(|f| view::draw(f, &app)).ok()?;
    drbook_core::startup::mark("first frame drawn, the session still opening");
    Some(term)
}

/// `early`: the terminal of the first frame, when `first_frame` drew it.
pub async fn run(session: Session, ui: UiSetup, early: Option<Term>) -> ExitCode {
    if !is_terminal() {
        eprintln!(
            "drbook: the TUI needs a terminal; use --non-interactive (with --answers) in scripts. \
             The incident log was opened at {}",
            session.log_path.display()
        );
        return ExitCode::from(2);
    }
    let Session {
        rehearsal,
        level,
        title,
        operator,
        log_path,
        recorder,
        engine,
        work,
        groups,
        plan_rto,
        connected,
        history,
        tap,
        share,
        remote,
        ..
    } = session;
    let info = Info {
        title,
        rehearsal,
        level,
        target: connected.description.clone(),
        operator: operator.clone(),
        log_path: log_path.display().to_string(),
        plan_rto: plan_rto
            .as_deref()
            .and_then(|r| drbook_core::time::parse_duration(r).ok()),
        review: false,
    };
    drbook_core::startup::mark("session open");
    let board = Board::new(&work, groups);
    let mut app = App::new(info, board, history, ui.keys, ui.theme, Utc::now());
    drbook_core::startup::mark("board and app built");
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let (up_tx, mut up_rx) = mpsc::unbounded_channel();
    let engine_task = tokio::spawn(engine.run(ctl_rx, up_tx));
    let (_keep, spare) = mpsc::unbounded_channel();
    let mut tap = tap.unwrap_or(spare);
    let (live_tx, mut live_rx) = mpsc::unbounded_channel::<Msg>();
    // The readiness screen discovers the estate these runbooks name, through this target.
    let bg = Background {
        reader: Some(connected.reader.clone()),
        opts: discovery::options_of(&work, &connected.reader.subscriptions),
        tx: live_tx.clone(),
    };
    let (_keep_remote, no_remote) = mpsc::unbounded_channel();
    let mut remote = remote.unwrap_or(no_remote);
    let mut share_view = share.as_ref().map(|s| s.view.clone());
    if let Some(v) = &share_view {
        app.update(Msg::Share(v.borrow().clone()));
    }

    let ended = {
        let entered = match early {
            Some(t) => Ok(t),
            None => Term::enter(),
        };
        let mut term = match entered {
            Ok(t) => t,
            Err(e) => {
                eprintln!("drbook: cannot set up the terminal: {e}");
                let _ = ctl_tx.send(Control::Shutdown);
                let _ = engine_task.await;
                return ExitCode::from(2);
            }
        };
        if let Ok(s) = term.screen.size() {
            app.update(Msg::Resize(s.width, s.height));
        }
        drbook_core::startup::mark("terminal entered");
        let mut keys = EventStream::new();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut sigterm = signal(SignalKind::terminate()).ok();
        let mut sighup = signal(SignalKind::hangup()).ok();
        let mut last_live: Option<(usize, Instant)> = None;
        let mut clip: Vec<String> = Vec::new();
        loop {
            for text in clip.drain(..) {
                // Into the same buffered output as the frame, flushed with it: never a wait
                // of its own. A terminal without OSC 52 ignores it.
                let _ = std::io::Write::write_all(
                    term.screen.backend_mut(),
                    crate::term::osc52(&text).as_bytes(),
                );
            }
            if let Err(e) = term.screen.draw(|f| view::draw(f, &app)) {
                break Ended::Error(format!("cannot draw: {e}"));
            }
            drbook_core::startup::mark("frame drawn");
            refresh_live(&app, &work, &connected, &live_tx, &mut last_live);
            let msg = tokio::select! {
                // The operator first: a key is never queued behind a flood of events (keys
                // are rare, so the rest is never starved); then events in log order.
                biased;
                Some(()) = recv(&mut sigterm) => break Ended::Signal(143),
                Some(()) = recv(&mut sighup) => break Ended::Signal(129),
                k = keys.next() => match k {
                    Some(Ok(TermEvent::Key(k))) => Msg::Key(k),
                    Some(Ok(TermEvent::Mouse(m))) => Msg::Mouse(m),
                    Some(Ok(TermEvent::Resize(w, h))) => Msg::Resize(w, h),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break Ended::Error(format!("cannot read the terminal: {e}")),
                    None => break Ended::Error("the terminal closed".into()),
                },
                Some(e) = tap.recv() => Msg::Logged(e),
                Some(u) = up_rx.recv() => Msg::Engine(u),
                Some(r) = remote.recv() => Msg::Remote(r),
                Some(v) = share_changed(&mut share_view) => Msg::Share(v),
                Some(m) = live_rx.recv() => m,
                _ = tick.tick() => Msg::Tick(Utc::now()),
            };
            if apply(&mut app, msg, &ctl_tx, &mut clip, &bg) {
                break Ended::Quit;
            }
            // A burst (a command's output, a plan finishing) is drawn once.
            let mut quit = false;
            for _ in 0..BURST {
                let m = match tap.try_recv() {
                    Ok(e) => Msg::Logged(e),
                    Err(_) => match up_rx.try_recv() {
                        Ok(u) => Msg::Engine(u),
                        Err(_) => match remote.try_recv() {
                            Ok(r) => Msg::Remote(r),
                            Err(_) => break,
                        },
                    },
                };
                if apply(&mut app, m, &ctl_tx, &mut clip, &bg) {
                    quit = true;
                    break;
                }
            }
            if quit {
                break Ended::Quit;
            }
        }
        // The guard restores the terminal here, before anything is printed.
    };
    let _ = ctl_tx.send(Control::Shutdown);
    let _ = engine_task.await;
    let finished = app.all_done() && app.log_failed.is_none();
    let mut closed = app.state.closed.is_some();
    if finished && !closed {
        match close_incident(&recorder, &operator, true, rehearsal).await {
            Ok(()) => closed = true,
            Err(e) => eprintln!("drbook: cannot close the incident log: {e}"),
        }
    }
    if let Some(share) = &share {
        // Quitting never waits long on a share that is down: what is left goes on resume.
        outln!(
            "{}",
            drbook_engine::exec::session::report_share(share, Duration::from_secs(5)).await
        );
    }
    if let Some(estate) = connected.estate {
        estate.shutdown().await;
    }
    outln!("incident log: {}", log_path.display());
    if let Some(e) = &app.log_failed {
        eprintln!("drbook: the incident log failed, so the run stopped: {e}");
    }
    if closed {
        outln!("the incident is closed: every runbook done");
    } else {
        outln!(
            "the incident is still open: resume with `{} --resume {}`",
            ui.resume_cmd,
            log_path.display()
        );
    }
    match ended {
        Ended::Quit if app.log_failed.is_none() => ExitCode::SUCCESS,
        Ended::Quit => ExitCode::from(2),
        Ended::Signal(code) => ExitCode::from(code),
        Ended::Error(e) => {
            eprintln!("drbook: {e}");
            ExitCode::from(2)
        }
    }
}

enum Ended {
    Quit,
    Signal(u8),
    Error(String),
}

/// The share's new state, when it changes (never, without a share).
async fn share_changed(
    v: &mut Option<tokio::sync::watch::Receiver<drbook_engine::share::ShareView>>,
) -> Option<drbook_engine::share::ShareView> {
    match v {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            Err(_) => {
                *v = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Updates the app; sends its controls to the engine; keeps what goes to the clipboard for
/// the next frame. True when the app asks to quit.
fn apply(
    app: &mut App,
    msg: Msg,
    ctl: &mpsc::UnboundedSender<Control>,
    clip: &mut Vec<String>,
    bg: &Background,
) -> bool {
    for effect in app.update(msg) {
        match effect {
            Effect::Control(c) => {
                let _ = ctl.send(c);
            }
            Effect::Clipboard(text) => clip.push(text),
            Effect::Quit => return true,
            other => bg.start(other),
        }
    }
    false
}

/// What the readiness screen's tasks need: the target to read (none for `drbook discover
/// --tui`, which discovered before the screen opened), what to read, where to answer.
struct Background {
    reader: Option<drbook_engine::checks::read::Reader>,
    opts: Result<drbook_engine::discover::Options, String>,
    tx: mpsc::UnboundedSender<Msg>,
}

impl Background {
    /// Starts the task an effect asks for; it answers on `tx`, never here.
    fn start(&self, effect: Effect) {
        use super::app::ReadinessMsg;
        match effect {
            Effect::Discover => match (&self.reader, &self.opts) {
                (Some(r), Ok(o)) => {
                    discovery::spawn_discover(r.clone(), o.clone(), self.tx.clone())
                }
                (_, Err(e)) => {
                    let why = format!("cannot discover: {e}");
                    let _ = self
                        .tx
                        .send(Msg::Readiness(ReadinessMsg::Discovered(Err(why))));
                }
                (None, Ok(_)) => {
                    let why = "cannot discover again here: run `drbook discover` again".to_string();
                    let _ = self
                        .tx
                        .send(Msg::Readiness(ReadinessMsg::Discovered(Err(why))));
                }
            },
            Effect::WriteRunbooks {
                discovery: d,
                dir,
                force,
            } => discovery::spawn_write(d.0, dir, force, self.tx.clone()),
            Effect::Control(_) | Effect::Clipboard(_) | Effect::Quit => {}
        }
    }
}

/// `drbook discover --tui`: the readiness screen over `d`, alone (no incident, no engine);
/// `q` quits. Writing the runbooks runs in a task, as on the incident's screen.
pub async fn readiness(d: drbook_engine::discover::Discovery, ui: UiSetup) -> Result<(), String> {
    if !is_terminal() {
        return Err("the readiness screen needs a terminal; leave out --tui in scripts".into());
    }
    let info = Info {
        title: format!("DR readiness: {} → {}", d.primary, d.secondary),
        rehearsal: false,
        level: None,
        target: d.subscription.clone(),
        operator: ui.operator.clone().unwrap_or_default(),
        log_path: String::new(),
        plan_rto: None,
        review: false,
    };
    let board = Board::new(&[], Vec::new());
    let mut app = App::new(info, board, Vec::new(), ui.keys, ui.theme, Utc::now());
    app.show_discovery(d);
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let bg = Background {
        reader: None,
        opts: Err("this screen shows the discovery it was started with".into()),
        tx,
    };
    let (ctl, _ctl_rx) = mpsc::unbounded_channel();
    let mut clip: Vec<String> = Vec::new();
    let mut term = Term::enter().map_err(|e| format!("cannot set up the terminal: {e}"))?;
    if let Ok(s) = term.screen.size() {
        app.update(Msg::Resize(s.width, s.height));
    }
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        for text in clip.drain(..) {
            let _ = std::io::Write::write_all(
                term.screen.backend_mut(),
                crate::term::osc52(&text).as_bytes(),
            );
        }
        term.screen
            .draw(|f| view::draw(f, &app))
            .map_err(|e| format!("cannot draw: {e}"))?;
        let msg = tokio::select! {
            biased;
            k = keys.next() => match k {
                Some(Ok(TermEvent::Key(k))) => Msg::Key(k),
                Some(Ok(TermEvent::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(format!("cannot read the terminal: {e}")),
                None => return Ok(()),
            },
            Some(m) = rx.recv() => m,
            _ = tick.tick() => Msg::Tick(Utc::now()),
        };
        if apply(&mut app, msg, &ctl, &mut clip, &bg) {
            return Ok(());
        }
    }
}

/// Reads the selected runbook's finished checks again when it changes, then on an interval.
fn refresh_live(
    app: &App,
    work: &[(
        drbook_core::runbook::model::Runbook,
        drbook_engine::checks::scope::Scope,
    )],
    connected: &drbook_engine::target::Connected,
    tx: &mpsc::UnboundedSender<Msg>,
    last: &mut Option<(usize, Instant)>,
) {
    let due = match last {
        Some((rb, at)) => *rb != app.rb_sel || at.elapsed() >= LIVE_EVERY,
        None => true,
    };
    if !due {
        return;
    }
    *last = Some((app.rb_sel, Instant::now()));
    let Some(view) = app.selected_runbook() else {
        return;
    };
    let Some((rb, scope)) = work.iter().find(|(r, _)| r.id() == view.id) else {
        return;
    };
    let items = live::wanted(rb, scope, &app.state);
    if !items.is_empty() {
        live::spawn(connected.reader.clone(), rb.clone(), items, tx.clone());
    }
}
