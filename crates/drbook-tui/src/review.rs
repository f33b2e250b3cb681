//! `drbook review`: a past incident in the TUI, read-only. The log is read and its hash chain
//! checked; the runbooks come from the files its header names (said so when they changed
//! since, or are gone); the arrows move through the incident's time. A folder lists the
//! incidents in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;

use super::app::{App, Effect, Info, Msg, Replay};
use super::model::Board;
use super::term::Term;
use super::view;
use super::{UiSetup, runner};
use drbook_core::incident::{self, Event, EventKind, IncidentState, Integrity, Mode};
use drbook_core::runbook::plan;
use drbook_core::runbook::{load_paths, vars};
use drbook_engine::checks::scope::Scope;

/// The runbooks an incident ran, as their files are now: those whose content hash still
/// matches, those that changed, and those that are gone.
struct Sources {
    work: Vec<(drbook_core::runbook::model::Runbook, Scope)>,
    groups: Vec<plan::Group>,
    plan_rto: Option<std::time::Duration>,
    changed: Vec<String>,
    missing: Vec<String>,
}

fn sources(header: Option<&incident::event::Header>) -> Sources {
    let mut out = Sources {
        work: Vec::new(),
        groups: Vec::new(),
        plan_rto: None,
        changed: Vec::new(),
        missing: Vec::new(),
    };
    let Some(h) = header else {
        return out;
    };
    let dirs: BTreeSet<PathBuf> = h
        .runbooks
        .iter()
        .filter_map(|r| Path::new(&r.file).parent().map(Path::to_path_buf))
        .filter(|d| d.is_dir())
        .collect();
    let set = if dirs.is_empty() {
        None
    } else {
        load_paths(&dirs.into_iter().collect::<Vec<_>>()).ok()
    };
    let plan = set
        .as_ref()
        .and_then(|s| s.plans.iter().find(|p| Some(p.id()) == h.plan.as_deref()));
    for r in &h.runbooks {
        let found = set
            .as_ref()
            .and_then(|s| s.runbooks.iter().find(|rb| rb.id() == r.id));
        let Some(rb) = found else {
            out.missing.push(r.id.clone());
            continue;
        };
        let now = std::fs::read(&*rb.file).map(|b| incident::chain::sha256_hex(&b));
        if now.as_deref().ok() != Some(r.sha256.as_str()) {
            out.changed.push(r.id.clone());
        }
        let (v, _) = vars::resolve_partial(rb, plan.map(|p| &p.vars), &BTreeMap::new(), |_| None);
        out.work
            .push((rb.clone(), Scope::new(rb, v, BTreeMap::new())));
    }
    let models: Vec<_> = out.work.iter().map(|(r, _)| r.clone()).collect();
    out.groups = plan::groups(plan, &models)
        .into_iter()
        .map(|mut g| {
            g.runbooks.retain(|id| models.iter().any(|m| m.id() == id));
            g
        })
        .filter(|g| !g.runbooks.is_empty())
        .collect();
    out.plan_rto = plan
        .and_then(|p| p.meta.rto.as_ref())
        .and_then(|r| drbook_core::time::parse_duration(r.get_ref()).ok());
    out
}

/// The verdict of the chain check, short and in full.
pub fn verdict(integrity: &Integrity) -> Replay {
    let verdict = match integrity {
        Integrity::Intact { events } => format!("chain intact ({events} events)"),
        Integrity::Truncated { at_line, .. } => format!("truncated at line {at_line}"),
        Integrity::Altered { first_bad_seq, .. } => format!("ALTERED from event {first_bad_seq}"),
        Integrity::Unreadable { .. } => "unreadable".to_string(),
        Integrity::NotALog { .. } => "not a drbook incident log".to_string(),
        Integrity::Unverified { keyed: true, .. } => "keyed: NOT VERIFIED".to_string(),
        Integrity::Unverified { keyed: false, .. } => "NOT KEYED".to_string(),
    };
    Replay {
        at: 0,
        verdict,
        detail: integrity.to_string(),
        intact: matches!(integrity, Integrity::Intact { .. }),
        trusted: integrity.is_trustworthy(),
    }
}

/// Builds the review screen of the log at `path`; a local log's head is checked against
/// the shared timeline `share` (its bytes), else the `.shared.ndjson` copy beside it.
pub fn open(path: &Path, ui: UiSetup, share: Option<&[u8]>) -> Result<App, String> {
    let (events, integrity, shared, anchored) =
        drbook_engine::share::timeline::read_anchored(path, share).map_err(|e| e.to_string())?;
    if events.is_empty() {
        return Err(format!(
            "{}: no event could be read ({integrity})",
            path.display()
        ));
    }
    let state = IncidentState::fold(&events);
    let header = state.header.as_ref();
    let src = sources(header);
    let info = Info {
        title: header.map_or("(no header)".to_string(), |h| h.title.clone()),
        rehearsal: header.is_some_and(|h| h.mode == Mode::Rehearsal),
        level: header.and_then(|h| h.level),
        target: header.map_or(String::new(), |h| h.target.clone()),
        operator: state.operators.join(", "),
        log_path: path.display().to_string(),
        plan_rto: src.plan_rto,
        review: true,
    };
    let mut board = Board::new(&src.work, src.groups);
    board.add_unknown(&state);
    let mut replay = verdict(&integrity);
    if let Some(m) = &shared {
        // A shared timeline: every writer's chain was checked on its own.
        replay.verdict = format!("shared by {}: {}", m.writers.len(), replay.verdict);
        replay.detail = format!("{}. {}", m.summary(), replay.detail);
    }
    if let Some(a) = &anchored {
        if a.is_problem() {
            replay.verdict = match a {
                drbook_engine::share::timeline::Anchored::Behind { shared, .. } => {
                    format!("TRUNCATED: the share holds events up to #{}", shared.seq)
                }
                _ => "ALTERED since shared".to_string(),
            };
            // Cut short or changed on purpose, unlike a torn last line: not to be trusted.
            replay.intact = false;
            replay.trusted = false;
        }
        replay.detail = format!("{a}. {}", replay.detail);
    }
    let mut app = App::review(info, board, events, replay, ui.keys, ui.theme);
    if shared.is_some() {
        // Merged events are renumbered: their last is no chain's head (each writer's is in
        // the summary).
        app.head = None;
    }
    let mut notes = Vec::new();
    if !src.changed.is_empty() {
        notes.push(format!(
            "changed since the incident (shown as they are now): {}",
            src.changed.join(", ")
        ));
    }
    if !src.missing.is_empty() {
        notes.push(format!("runbook files gone: {}", src.missing.join(", ")));
    }
    if !notes.is_empty() {
        app.message = Some(notes.join("; "));
    }
    Ok(app)
}

/// `drbook review PATH`: a folder lists its incidents; a log opens in the TUI, looking as
/// `ui_setup` says (the CLI reads the user's config).
pub async fn review(
    path: &Path,
    ui_setup: impl FnOnce() -> Result<UiSetup, String>,
    share: Option<&str>,
) -> ExitCode {
    if path.is_dir() {
        return list(path);
    }
    let shared = match share {
        Some(url) => {
            match drbook_engine::share::timeline_for(path, url, drbook_engine::share::SHARE_LIMIT)
                .await
            {
                Ok(b) => Some(b),
                Err(e) => {
                    eprintln!("drbook review: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        None => None,
    };
    let ui = match ui_setup() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("drbook: {e}");
            return ExitCode::from(2);
        }
    };
    let app = match open(path, ui, shared.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("drbook review: {e}");
            return ExitCode::from(2);
        }
    };
    if !runner::is_terminal() {
        eprintln!(
            "drbook review: needs a terminal; `drbook report {}` writes the same as a document",
            path.display()
        );
        return ExitCode::from(2);
    }
    let trusted = app.replay.as_ref().is_some_and(|r| r.trusted);
    let verdict = app
        .replay
        .as_ref()
        .map(|r| r.detail.clone())
        .unwrap_or_default();
    if let Err(e) = show(app).await {
        eprintln!("drbook review: {e}");
        return ExitCode::from(2);
    }
    outln!("{}: {verdict}", path.display());
    if trusted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn show(mut app: App) -> Result<(), String> {
    let mut term = Term::enter().map_err(|e| format!("cannot set up the terminal: {e}"))?;
    if let Ok(s) = term.screen.size() {
        app.update(Msg::Resize(s.width, s.height));
    }
    let mut keys = EventStream::new();
    loop {
        term.screen
            .draw(|f| view::draw(f, &app))
            .map_err(|e| format!("cannot draw: {e}"))?;
        let msg = match keys.next().await {
            Some(Ok(TermEvent::Key(k))) => Msg::Key(k),
            Some(Ok(TermEvent::Mouse(m))) => Msg::Mouse(m),
            Some(Ok(TermEvent::Resize(w, h))) => Msg::Resize(w, h),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("cannot read the terminal: {e}")),
            None => return Ok(()),
        };
        for effect in app.update(msg) {
            match effect {
                Effect::Quit => return Ok(()),
                // A resource id or URL copied from a past incident, as in a live one.
                Effect::Clipboard(text) => {
                    let _ = std::io::Write::write_all(
                        term.screen.backend_mut(),
                        crate::term::osc52(&text).as_bytes(),
                    );
                }
                Effect::Control(_) | Effect::Discover | Effect::WriteRunbooks { .. } => {}
            }
        }
    }
}

/// One row per incident log in `dir`, oldest first.
fn list(dir: &Path) -> ExitCode {
    let mut logs: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect(),
        Err(e) => {
            eprintln!("drbook review: cannot read {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    logs.sort();
    if logs.is_empty() {
        outln!("no incident logs (*.jsonl) in {}", dir.display());
        return ExitCode::SUCCESS;
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "started (UTC)",
        "title",
        "mode",
        "outcome",
        "verdict",
        "took of RTO",
        "log",
        "file",
    ]);
    let mut all_intact = true;
    for path in &logs {
        let name = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let Ok((events, integrity)) = incident::read_log(path) else {
            all_intact = false;
            table.add_row([
                "?",
                "(unreadable)",
                "",
                "",
                "",
                "",
                "unreadable",
                name.as_str(),
            ]);
            continue;
        };
        all_intact &= integrity.is_trustworthy();
        table.add_row(row(&events, &integrity, &name, path.parent()));
    }
    outln!("{table}");
    if all_intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn row(events: &[Event], integrity: &Integrity, name: &str, base: Option<&Path>) -> Vec<String> {
    let state = IncidentState::fold(events);
    let h = state.header.as_ref();
    let started = state
        .started
        .map_or("?".into(), |t| t.format("%Y-%m-%d %H:%M").to_string());
    let mode = match h.map(|h| h.mode) {
        Some(Mode::Live) => "live",
        Some(Mode::Rehearsal) => "rehearsal",
        None => "?",
    };
    let outcome = match &state.closed {
        Some(c) => format!("{:?}", c.outcome).to_lowercase(),
        None => "open".into(),
    };
    let src = h.map_or_else(drbook_report::Sources::default, |h| {
        drbook_report::Sources::for_header(h, base)
    });
    let v = drbook_report::verdict(&state, &src);
    let fmt = |d: std::time::Duration| {
        drbook_core::time::exact(std::time::Duration::from_secs(d.as_secs()))
    };
    let took = match (v.took, v.plan_rto) {
        (Some(t), Some(rto)) => format!("{} of {}", fmt(t), fmt(rto)),
        (Some(t), None) => fmt(t),
        (None, _) => "-".into(),
    };
    let log = match integrity {
        Integrity::Intact { .. } => "intact".to_string(),
        // "not an incident log (...)": said as it is, not as a broken log.
        Integrity::NotALog { .. } => integrity.to_string(),
        Integrity::Unreadable { reason } => reason.clone(),
        other => other.to_string(),
    };
    let closed_event = events
        .iter()
        .rev()
        .any(|e| matches!(e.kind, EventKind::IncidentClosed { .. }));
    vec![
        started,
        h.map_or("?".into(), |h| h.title.clone()),
        mode.into(),
        if closed_event { outcome } else { "open".into() },
        v.words(),
        took,
        log,
        name.into(),
    ]
}
