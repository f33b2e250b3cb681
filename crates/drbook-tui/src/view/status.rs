//! The bottom lines: what waits next, and the status bar with its key hints.

use super::*;
use crate::app::bindings;

pub(super) fn hint(keys: &KeyMap, a: Action, what: &str) -> Vec<Span<'static>> {
    let k = keys.keys_for(a).into_iter().next().unwrap_or_default();
    vec![Span::raw(format!(" {k}")), Span::raw(format!(" {what} "))]
}

/// A status bar table's hints, in order.
fn bar(add: &mut impl FnMut(Action, &str), table: &[bindings::Binding]) {
    for b in table {
        if let Some(what) = b.hint {
            add(b.action, what);
        }
    }
}

pub(super) fn status(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans: Vec<Span> = Vec::new();
    // The autopilot's state, dialog or not: it decides whether anything starts by itself.
    let badge = if app.info.review || !app.role().acts() {
        None
    } else if app.state.is_paused() {
        Some(Span::styled(
            " ⏸ paused ",
            t.warn.add_modifier(Modifier::REVERSED),
        ))
    } else if app.autopilot {
        Some(Span::styled(
            " autopilot ON ",
            t.running.add_modifier(Modifier::REVERSED),
        ))
    } else {
        None
    };
    let mut add = |a: Action, what: &str| {
        let mut h = hint(&app.keys, a, what);
        h[0].style = t.key;
        spans.extend(h);
    };
    match (&app.dialog, app.info.review) {
        (Some(Dialog::Input { .. }), _) => {
            spans.push(Span::styled(" Enter", t.key));
            spans.push(Span::raw(" save "));
            spans.push(Span::styled(" Esc", t.key));
            spans.push(Span::raw(" cancel "));
        }
        (Some(_), _) => {
            add(Action::Help, "keys");
            spans.insert(0, Span::styled(" Esc", t.key));
            spans.insert(1, Span::raw(" close "));
        }
        (None, true) => bar(&mut add, bindings::REVIEW_BAR),
        (None, false) if !app.role().acts() => bar(&mut add, bindings::SCRIBE_BAR),
        (None, false) => {
            if app.state.is_paused() {
                add(Action::Pause, "resume");
            } else if app.autopilot {
                add(Action::Autopilot, "stop");
            } else {
                add(Action::Autopilot, "autopilot");
            }
            let sel = app.selected_key();
            match sel.as_ref().map(|k| app.shown(k)) {
                Some(Shown::AwaitsApproval) => {
                    if sel.as_ref().is_some_and(|k| app.can_approve_here(k)) {
                        add(Action::Approve, "approve");
                    }
                    add(Action::Skip, "skip");
                }
                Some(Shown::Ready)
                    if sel.as_ref().is_some_and(|k| app.held_by_other(k).is_some()) =>
                {
                    add(Action::Takeover, "take over")
                }
                Some(Shown::Ready) if app.share_offline().is_some() => {
                    add(Action::Run, "run");
                    add(Action::Takeover, "run unclaimed");
                }
                Some(Shown::Ready) => add(Action::Run, "run"),
                Some(Shown::NeedsYou) => add(Action::Run, "answer"),
                Some(Shown::Failed) => {
                    add(Action::Recheck, "retry");
                    add(Action::Skip, "skip");
                }
                Some(Shown::Running) => add(Action::Abort, "abort"),
                Some(Shown::Done | Shown::Finding) => add(Action::Recheck, "re-check"),
                _ => {}
            }
            let paused = app.state.is_paused();
            for b in bindings::LIVE_BAR {
                if let Some(what) = b.hint
                    && !(paused && b.action == Action::Pause)
                {
                    add(b.action, what);
                }
            }
        }
    }
    let waiting = app.queued();
    // The autopilot's state leads: a message must never hide whether steps start by themselves.
    let mut line: Vec<Span> = badge.into_iter().collect();
    // The questions waiting always show: they never open by themselves.
    if waiting > 0 {
        // With a question open, the count is of the others: "more", so it agrees with the
        // next-action line's count of everything that needs a person.
        let more = if app.prompts.len() > waiting {
            " more"
        } else {
            ""
        };
        line.push(Span::styled(
            format!(
                " {waiting}{more} waiting: press {} to answer ",
                app.key_of(Action::Answer)
            ),
            t.waiting.add_modifier(Modifier::REVERSED),
        ));
    }
    if app.all_done() && app.message.is_none() {
        line.push(Span::styled(format!(" {} ", app.all_done_text()), t.ok));
    } else if let Some(m) = &app.message {
        let style = if app.log_failed.is_some() {
            t.fail
        } else {
            t.warn
        };
        line.push(Span::styled(format!(" {m} "), style));
    } else if waiting > 0 {
        // The count above is what matters now.
    } else if let Some(n) = awaiting_approval(app) {
        line.push(Span::styled(
            format!(" ⚖ {n} awaiting approval by a commander "),
            t.waiting.add_modifier(Modifier::REVERSED),
        ));
    } else if let Some(done) = app.idle {
        let failed = app
            .board
            .runbooks
            .iter()
            .any(|r| app.board.rollup(r, &app.state, &app.ready) == Rollup::Failed);
        let text = if done {
            format!(" {} ", app.all_done_text())
        } else if app.state.is_paused() {
            format!(" ⏸ paused: {} resumes ", app.key_of(Action::Pause))
        } else if failed {
            format!(
                " nothing can start: a failed step holds the plan ({} retry, {} skip) ",
                app.key_of(Action::Recheck),
                app.key_of(Action::Skip)
            )
        } else {
            " nothing can start now ".to_string()
        };
        line.push(Span::styled(text, if done { t.ok } else { t.warn }));
    }
    line.extend(spans);
    f.render_widget(Paragraph::new(Line::from(line)).style(t.muted), area);
}

/// One line: how many steps are ready, running and waiting for a person; then the one thing
/// to know next (a question, what holds the plan, or the verdict); then the next RTO breach.
pub(super) fn next_line(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let width = usize::from(area.width);
    let c = app.counts();
    let wide = width >= 120;
    // "Running" is said only when something runs.
    let counts = match (wide, c.running) {
        (true, 0) => format!(
            " ◌ {} ready · nothing runs · ? {} need a person ",
            c.ready, c.waiting
        ),
        (true, n) => format!(
            " ◌ {} ready · ▶ {n} running · ? {} need a person ",
            c.ready, c.waiting
        ),
        (false, n) => format!(" ◌{} ▶{n} ?{} ", c.ready, c.waiting),
    };
    let next = app.next_action();
    let over = matches!(next, Next::Over { .. });
    let (text, style) = match next {
        Next::Yours { what, more: 0 } => {
            (format!("▸ {what}"), t.waiting.add_modifier(Modifier::BOLD))
        }
        Next::Yours { what, more } => (
            format!("▸ {what} (+{more} more)"),
            t.waiting.add_modifier(Modifier::BOLD),
        ),
        Next::Holds(w) => (w, t.warn),
        Next::Idle(w) => (w, t.muted),
        Next::Over {
            recovered: true,
            verdict,
        } => (format!("■ {verdict}"), t.ok.add_modifier(Modifier::BOLD)),
        Next::Over { verdict, .. } => (format!("■ {verdict}"), t.fail.add_modifier(Modifier::BOLD)),
    };
    let breach = if over { None } else { app.next_breach() };
    let (btext, bstyle) = match &breach {
        Some(b) if b.left_secs >= 0 => (
            format!(
                " {} RTO breach in {} ",
                b.who,
                short(std::time::Duration::from_secs(b.left_secs.unsigned_abs()))
            ),
            if b.left_secs < 300 { t.warn } else { t.muted },
        ),
        Some(b) => (
            format!(
                " {} RTO OVER by {} ",
                b.who,
                short(std::time::Duration::from_secs(b.left_secs.unsigned_abs()))
            ),
            t.fail,
        ),
        None => (String::new(), t.muted),
    };
    let used = counts.chars().count() + btext.chars().count() + 1;
    let room = width.saturating_sub(used);
    let text = truncate(&text, room);
    let pad = room.saturating_sub(text.chars().count());
    let line = Line::from(vec![
        Span::styled(counts, t.header),
        Span::raw(" "),
        Span::styled(text, style),
        Span::raw(" ".repeat(pad)),
        Span::styled(btext, bstyle),
    ]);
    f.render_widget(Paragraph::new(line).style(t.base), area);
}

/// How many steps wait for a commander's approval, if any.
pub(super) fn awaiting_approval(app: &App) -> Option<usize> {
    let n = app
        .board
        .runbooks
        .iter()
        .flat_map(|r| &r.steps)
        .filter(|s| app.shown(&s.key) == Shown::AwaitsApproval)
        .count();
    (n > 0 && !app.info.review).then_some(n)
}
