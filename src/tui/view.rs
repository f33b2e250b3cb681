//! Drawing: reads the `App` and changes nothing. One layout function serves drawing and mouse
//! hit-testing, so a click lands on what is drawn.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::app::{App, Dialog, Pane, Purpose};
use super::keys::{Action, KeyMap};
use super::model::{Rollup, Shown};
use super::theme::Theme;
use super::timeline::{self, Tone, clock};
use crate::incident::event::{RehearsalLevel, Verdict};
use crate::incident::{Event, StepStatus};
use crate::roles::Role;

pub struct Areas {
    pub header: Rect,
    pub runbooks: Rect,
    pub steps: Rect,
    pub detail: Rect,
    pub timeline: Rect,
    pub status: Rect,
}

/// Where each pane goes for a terminal of `size`. At 80x24 every pane keeps a few rows.
pub fn areas(size: Rect) -> Areas {
    let timeline_rows = if size.height >= 40 {
        size.height / 3
    } else {
        6
    };
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(2),
            Constraint::Min(6),
            Constraint::Length(timeline_rows),
            Constraint::Length(1),
        ])
        .split(size);
    let left = if size.width >= 120 { 34 } else { 26 };
    let body = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(left), Constraint::Min(20)])
        .split(rows[1]);
    let right = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(45), Constraint::Percentage(55)])
        .split(body[1]);
    Areas {
        header: rows[0],
        runbooks: body[0],
        steps: right[0],
        detail: right[1],
        timeline: rows[2],
        status: rows[3],
    }
}

/// The first row shown of a list of `len` rows with `visible` on screen, keeping `sel` in
/// view (the same arithmetic for drawing and for clicks).
pub fn list_offset(sel: usize, len: usize, visible: usize) -> usize {
    if visible == 0 || len <= visible {
        return 0;
    }
    sel.saturating_sub(visible - 1).min(len - visible)
}

fn tone(t: &Theme, tone: Tone) -> Style {
    match tone {
        Tone::Ok => t.ok,
        Tone::Fail => t.fail,
        Tone::Warn => t.warn,
        Tone::Running => t.running,
        Tone::Waiting => t.waiting,
        Tone::Note => t.base.add_modifier(Modifier::ITALIC),
        Tone::Plain => t.base,
        Tone::Muted => t.muted,
    }
}

fn shown_style(t: &Theme, s: Shown) -> Style {
    match s {
        Shown::NotStarted => t.pending,
        Shown::Ready => t.ready,
        Shown::Running => t.running,
        Shown::NeedsYou | Shown::AwaitsApproval => t.waiting,
        Shown::Done => t.ok,
        Shown::Failed => t.fail,
        Shown::Skipped => t.skipped,
        Shown::Interrupted => t.interrupted,
    }
}

fn rollup_style(t: &Theme, r: Rollup) -> Style {
    match r {
        Rollup::NotStarted => t.pending,
        Rollup::Blocked => t.muted,
        Rollup::Running => t.running,
        Rollup::NeedsYou | Rollup::AwaitsApproval => t.waiting,
        Rollup::Done => t.ok,
        Rollup::Failed => t.fail,
    }
}

fn block<'a>(app: &App, title: &'a str, pane: Pane) -> Block<'a> {
    let focused = app.focus == pane && app.dialog.is_none();
    let (style, kind) = if focused {
        (app.theme.border_focus, BorderType::Thick)
    } else {
        (app.theme.border, BorderType::Plain)
    };
    let title = if focused {
        format!(" ▸ {title} ")
    } else {
        format!(" {title} ")
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(kind)
        .border_style(style)
        .title(Span::styled(title, app.theme.title))
}

pub fn draw(f: &mut Frame, app: &App) {
    let size = f.area();
    f.render_widget(Block::default().style(app.theme.base), size);
    let a = areas(size);
    header(f, app, a.header);
    runbooks(f, app, a.runbooks);
    steps(f, app, a.steps);
    detail(f, app, a.detail);
    timeline_pane(f, app, a.timeline);
    status(f, app, a.status);
    if let Some(d) = &app.dialog {
        dialog(f, app, d, size);
    }
}

fn left_of(deadline: std::time::Duration, elapsed: std::time::Duration) -> String {
    if elapsed <= deadline {
        format!("{} left", clock((deadline - elapsed).as_secs()))
    } else {
        format!("OVER by {}", clock((elapsed - deadline).as_secs()))
    }
}

fn header(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let (badge, style) = if app.info.rehearsal {
        let level = match app.info.level {
            Some(RehearsalLevel::DryRun) => " DRY RUN",
            Some(RehearsalLevel::ReadOnly) => " READ-ONLY",
            _ => "",
        };
        (format!(" REHEARSAL{level} "), t.rehearsal)
    } else {
        (" LIVE ".to_string(), t.live)
    };
    let mut first = Vec::new();
    if app.info.review {
        first.push(Span::styled(
            " REVIEW ",
            t.title.add_modifier(Modifier::REVERSED),
        ));
        first.push(Span::raw(" "));
    }
    first.extend([
        Span::styled(badge, style),
        Span::styled(
            format!(" {} ", app.info.title),
            t.header.add_modifier(Modifier::BOLD),
        ),
    ]);
    // The log's head, right-aligned, to quote in the incident ticket: it wins its room over
    // the target's name, which the operator knows anyway.
    let head = app
        .head
        .as_ref()
        .map_or_else(String::new, |h| format!(" log {h} "));
    let used: usize = first.iter().map(Span::width).sum();
    let room = usize::from(area.width).saturating_sub(used + head.chars().count());
    let target = truncate(&format!("on {}", app.info.target), room);
    let pad = room.saturating_sub(target.chars().count());
    first.push(Span::styled(target, t.muted));
    if !head.is_empty() {
        first.push(Span::raw(" ".repeat(pad)));
        first.push(Span::styled(head, t.muted));
    }
    let first = Line::from(first);
    let wide = area.width >= 120;
    let mut second = Vec::new();
    if let Some(r) = &app.replay {
        // What moment this is, and whether the log can be trusted, come first in a review.
        let total = app.timeline.events.len();
        second.push(Span::styled(
            format!(
                " at {} · event {}/{total} ",
                app.now.format("%H:%M:%S"),
                r.at
            ),
            t.header.add_modifier(Modifier::BOLD),
        ));
        let (mark, style) = match (r.intact, r.trusted) {
            (true, _) => ("✔", t.ok),
            (false, true) => ("⚠", t.warn),
            (false, false) => ("✘", t.fail),
        };
        second.push(Span::styled(format!("{mark} {} ", r.verdict), style));
    } else {
        // Narrow screens name the role only when it is not the default (operator), and the
        // commander as IC, so the RTO countdowns keep their room.
        let role = app.role();
        let me = &app.info.operator;
        second.push(Span::styled(
            match (wide, role) {
                (true, r) => format!(" {} {me} ", r.title()),
                (false, Role::Operator) => format!(" {me} "),
                (false, Role::Commander) => format!(" {me} (IC) "),
                (false, r) => format!(" {me} ({r}) "),
            },
            if role == Role::Operator {
                t.header
            } else {
                t.header.add_modifier(Modifier::BOLD)
            },
        ));
    }
    let c = super::clock::of(app);
    let elapsed = c.elapsed;
    let since = match (c.from_outage, wide) {
        (true, true) => " since the outage",
        (true, false) => " outage",
        (false, _) => "",
    };
    let stopped = if c.verdict.is_some() { "⏹" } else { "⏱" };
    second.push(Span::styled(
        format!("│ {stopped} {}{since} ", clock(elapsed.as_secs())),
        t.header,
    ));
    match c.verdict {
        // The scorecard's verdict, in words: the clock has stopped.
        Some(true) => second.push(Span::styled(
            " RECOVERED ",
            t.ok.add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )),
        Some(false) => second.push(Span::styled(
            " NOT RECOVERED ",
            t.fail.add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )),
        None => {}
    }
    if let Some((rb, r)) = &c.tightest {
        let text = if wide {
            format!(
                "│ next RTO {rb} {} {} ",
                clock(r.as_secs()),
                left_of(*r, elapsed)
            )
        } else {
            format!("│ RTO {} ", left_of(*r, elapsed))
        };
        let style = if elapsed > *r { t.fail } else { t.header };
        second.push(Span::styled(text, style));
    }
    if let Some(r) = app.info.plan_rto.filter(|_| c.verdict.is_none()) {
        let style = if elapsed > r { t.fail } else { t.header };
        let text = if wide {
            format!("│ plan RTO {} {} ", clock(r.as_secs()), left_of(r, elapsed))
        } else {
            format!("│ plan {} ", left_of(r, elapsed))
        };
        second.push(Span::styled(text, style));
    }
    if let Some(s) = &app.share {
        second.push(share_badge(app, s, wide));
    }
    if app.state.is_paused() {
        second.push(Span::styled(
            " ⏸ PAUSED ",
            t.warn.add_modifier(Modifier::REVERSED),
        ));
    }
    if app.state.closed.is_some() {
        second.push(Span::styled(
            " ■ CLOSED ",
            t.muted.add_modifier(Modifier::REVERSED),
        ));
    }
    // Estimates last: the share, a pause and a closed incident keep their room.
    let mut later = Vec::new();
    if let Some((key, left)) = &c.wait {
        let text = if wide {
            format!("│ ⧗ {key} {} left ", clock(left.as_secs()))
        } else {
            format!("│ ⧗{} ", clock(left.as_secs()))
        };
        later.push(Span::styled(text, t.header));
    }
    if let Some(f) = &c.finish {
        // An upper bound, and said to be one: timeouts, not history.
        let untimed = match f.untimed {
            0 => String::new(),
            n => format!("; {n} manual"),
        };
        let text = if wide {
            format!("│ done ≤{} (by timeouts{untimed}) ", f.at.format("%H:%M"))
        } else {
            format!("│ done ≤{} ", f.at.format("%H:%M"))
        };
        later.push(Span::styled(text, t.muted));
    }
    second.extend(later);
    let p = Paragraph::new(vec![first, Line::from(second)]).style(t.header);
    f.render_widget(p, area);
}

/// The shared timeline in the header: who is online, or that it is offline and how much
/// waits to be shared.
fn share_badge<'a>(app: &App, s: &crate::share::ShareView, wide: bool) -> Span<'a> {
    let t = &app.theme;
    if !s.online && s.problem.is_none() {
        return Span::styled("│ share: connecting… ".to_string(), t.muted);
    }
    if !s.online {
        let why = match (&s.problem, wide) {
            (Some(p), true) => format!(": {p}"),
            _ => String::new(),
        };
        return Span::styled(
            format!(" SHARE OFFLINE · {} queued{why} ", s.queued),
            t.warn.add_modifier(Modifier::REVERSED),
        );
    }
    let online = s.online_peers(app.now);
    let text = if wide {
        let names: Vec<String> = online
            .iter()
            .map(|p| match p.role.as_str() {
                "commander" => format!("{} (IC)", p.op),
                "scribe" => format!("{} (scribe)", p.op),
                _ => p.op.clone(),
            })
            .collect();
        format!("│ shared ● {} ", names.join(", "))
    } else {
        format!("│ shared ● {} online ", online.len())
    };
    Span::styled(text, t.ok)
}

fn runbooks(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let b = block(app, "Runbooks", Pane::Runbooks);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let n = app.board.runbooks.len();
    let visible = usize::from(inner.height);
    let off = list_offset(app.rb_sel, n, visible);
    let width = usize::from(inner.width);
    let lines: Vec<Line> = app
        .board
        .runbooks
        .iter()
        .enumerate()
        .skip(off)
        .take(visible)
        .map(|(i, rb)| {
            let r = app.board.rollup(rb, &app.state, &app.ready);
            let (icon, word) = r.label();
            let name_w = width.saturating_sub(word.len() + 4).max(4);
            let name = truncate(&rb.id, name_w);
            let pad = width.saturating_sub(2 + name.chars().count() + word.len() + 1);
            let mut spans = vec![
                Span::styled(format!("{icon} "), rollup_style(t, r)),
                Span::raw(name),
                Span::raw(" ".repeat(pad.max(1))),
                Span::styled(word, rollup_style(t, r)),
            ];
            if i == app.rb_sel {
                for s in &mut spans {
                    s.style = s.style.patch(t.selection);
                }
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines).style(t.base), inner);
}

fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn steps(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let title = app.selected_runbook().map_or("Steps".to_string(), |r| {
        let rto = r
            .rto_text
            .as_ref()
            .map(|x| format!(" · RTO {x}"))
            .unwrap_or_default();
        format!("{} · {}{rto}", r.title, r.component)
    });
    let b = block(app, &title, Pane::Steps);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(rb) = app.selected_runbook() else {
        return;
    };
    let visible = usize::from(inner.height);
    let off = list_offset(app.step_sel, rb.steps.len(), visible);
    // Who confirmed a step shows when there is room for it.
    let wide = inner.width >= 70;
    let rows: Vec<Row> = rb
        .steps
        .iter()
        .enumerate()
        .skip(off)
        .take(visible)
        .map(|(i, s)| {
            let shown = app.shown(&s.key);
            let (icon, word) = shown.label();
            let st = app.state.step(&s.key.runbook, &s.key.step);
            let dur = st
                .and_then(|x| x.elapsed_ms(app.now))
                .map(timeline::seconds)
                .unwrap_or_default();
            // The second person, when there was one, else who confirmed it; on a shared
            // incident, who else holds it.
            let who = st
                .and_then(|x| {
                    x.approved_by()
                        .map(|a| format!("⚖ {}", a.by))
                        .or_else(|| x.confirmed_by().map(str::to_string))
                })
                .or_else(|| app.held_by_other(&s.key).map(|h| format!("⚑ {}", h.op)))
                .unwrap_or_default();
            let style = shown_style(t, shown);
            let mut cells = vec![
                Cell::from(Span::styled(icon, style)),
                Cell::from(format!("{}. {}", i + 1, s.title)),
                Cell::from(Span::styled(word, style)),
                Cell::from(dur),
            ];
            if wide {
                cells.push(Cell::from(who));
            }
            let mut row = Row::new(cells);
            if i == app.step_sel {
                row = row.style(t.selection);
            }
            row
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Min(12),
        Constraint::Length(11),
        Constraint::Length(6),
    ];
    if wide {
        widths.push(Constraint::Length(12));
    }
    let table = Table::new(rows, widths).column_spacing(1).style(t.base);
    f.render_widget(table, inner);
}

fn kv<'a>(t: &Theme, k: &'a str, v: String) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{k}: "), t.muted), Span::raw(v)])
}

fn detail(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let b = block(app, "Detail", Pane::Detail);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(s) = app.selected_step() else {
        return;
    };
    let st = app.state.step(&s.key.runbook, &s.key.step);
    let shown = app.shown(&s.key);
    let (icon, word) = shown.label();
    let mut lines: Vec<Line> = Vec::new();
    let confirm = if s.confirm { " · asks first" } else { "" };
    let two = if s.two_person { " · two-person" } else { "" };
    lines.push(Line::from(vec![
        Span::styled(format!("{icon} {word} "), shown_style(t, shown)),
        Span::styled(s.title.clone(), t.base.add_modifier(Modifier::BOLD)),
        Span::styled(format!("  [{}{confirm}{two}]", s.kind), t.muted),
    ]));
    if let Some(a) = st.and_then(|x| x.approval.as_ref()) {
        lines.push(approval_line(t, a));
    }
    if let Some(h) = app.held_by_other(&s.key) {
        lines.push(Line::from(Span::styled(
            format!(
                "⚑ held by {} since {} UTC on the shared timeline: {} takes it over",
                h.op,
                h.since.format("%H:%M:%S"),
                app.keys
                    .keys_for(Action::Takeover)
                    .first()
                    .cloned()
                    .unwrap_or_default()
            ),
            t.warn,
        )));
    }
    if !s.target.is_empty() {
        lines.push(kv(t, "target", s.target.clone()));
    }
    if let Some(p) = app.progress.get(&s.key) {
        lines.push(kv(t, "now", p.clone()));
    }
    if let Some(st) = st {
        if let Some(c) = &st.last_check {
            let v = match c.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Error => "ERROR",
            };
            lines.push(kv(t, "expected", c.expected.clone()));
            lines.push(Line::from(vec![
                Span::styled("actual: ", t.muted),
                Span::raw(c.actual.clone()),
                Span::styled(
                    format!("  {v} at {} ({} ms)", c.ts.format("%H:%M:%S"), c.latency_ms),
                    if c.verdict == Verdict::Pass {
                        t.ok
                    } else {
                        t.fail
                    },
                ),
            ]));
        }
        if let Some(e) = &st.error {
            lines.push(Line::from(Span::styled(format!("error: {e}"), t.fail)));
        }
        if let Some(r) = &st.skip_reason {
            lines.push(kv(t, "skipped", r.clone()));
        }
    }
    if let Some(l) = app.live.get(&s.key) {
        lines.push(Line::from(vec![
            Span::styled("live: ", t.muted),
            Span::raw(format!("{} ", l.actual)),
            Span::styled(
                format!(
                    "{} at {} (read for the screen, not logged)",
                    l.verdict,
                    l.at.format("%H:%M:%S")
                ),
                if l.verdict == "PASS" { t.ok } else { t.warn },
            ),
        ]));
    }
    if let Some(i) = app.board.instructions(&s.key, &app.state) {
        lines.push(Line::default());
        for l in i.lines() {
            lines.push(Line::from(l.to_string()));
        }
    }
    if let Some(st) = st {
        if !st.output.is_empty() {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled("output (newest last):", t.muted)));
            for o in st.output.iter().rev().take(8).rev() {
                lines.push(Line::from(format!("  {}", o.line)));
            }
        }
        history(t, st, &mut lines);
    }
    let p = Paragraph::new(Text::from(lines))
        .style(t.base)
        .wrap(Wrap { trim: false })
        .scroll((app.detail_scroll, 0));
    f.render_widget(p, inner);
}

/// Where a two-person step stands: who it waits for, or who approved it.
fn approval_line(t: &Theme, a: &crate::incident::state::Approval) -> Line<'static> {
    match &a.answer {
        None => Line::from(Span::styled(
            format!(
                "⚖ awaits approval by a commander other than {} (two-person rule)",
                a.operator
            ),
            t.waiting,
        )),
        Some(ans) => {
            let at = ans
                .keyboard
                .as_ref()
                .map(|k| format!(" at {k}'s keyboard"))
                .unwrap_or_default();
            let word = if ans.approved { "approved" } else { "declined" };
            Line::from(Span::styled(
                format!(
                    "⚖ {word} by {} ({}){at}, run by {}",
                    ans.by,
                    ans.role.title(),
                    a.operator
                ),
                if ans.approved { t.ok } else { t.warn },
            ))
        }
    }
}

fn history(t: &Theme, st: &crate::incident::StepState, lines: &mut Vec<Line>) {
    let mut h: Vec<(chrono::DateTime<chrono::Utc>, String)> = Vec::new();
    if let Some(s) = st.started {
        h.push((s, "started".into()));
    }
    if let Some(c) = &st.confirmation {
        h.push((c.requested, "asked to confirm".into()));
        if let Some(a) = &c.answer {
            let w = if a.approved { "approved" } else { "declined" };
            h.push((a.ts, format!("{w} by {}", a.by)));
        }
    }
    if let Some(a) = &st.approval {
        h.push((a.requested, "asked a commander to approve".into()));
        if let Some(ans) = &a.answer {
            let w = if ans.approved { "approved" } else { "declined" };
            h.push((ans.ts, format!("{w} by {} ({})", ans.by, ans.role.title())));
        }
    }
    for r in &st.retries {
        h.push((r.ts, format!("attempt {}: {}", r.attempt, r.reason)));
    }
    for n in &st.notes {
        h.push((n.ts, format!("note by {}: {}", n.actor, n.text)));
    }
    if let Some(fin) = st.finished {
        let w = match st.status {
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            _ => "finished",
        };
        h.push((fin, w.into()));
    }
    if h.is_empty() {
        return;
    }
    h.sort_by_key(|(ts, _)| *ts);
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("history:", t.muted)));
    for (ts, what) in h {
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", ts.format("%H:%M:%S")), t.muted),
            Span::raw(what),
        ]));
    }
}

fn timeline_pane(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let filter = app.timeline.filter();
    let title = match (filter.is_empty(), app.timeline_back) {
        (true, 0) => format!("Timeline · {} events", app.timeline.len()),
        (true, b) => format!("Timeline · {} events · {b} back", app.timeline.len()),
        (false, b) => format!(
            "Timeline · filter \"{filter}\" · {} match · {b} back",
            app.timeline.len()
        ),
    };
    let b = block(app, &title, Pane::Timeline);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let rows = usize::from(inner.height);
    let lines: Vec<Line> = app
        .timeline
        .window(rows, app.timeline_back)
        .map(|e| event_line(t, e))
        .collect();
    f.render_widget(Paragraph::new(lines).style(t.base), inner);
}

fn event_line<'a>(t: &Theme, e: &Event) -> Line<'a> {
    let l = timeline::line(e);
    Line::from(vec![
        Span::styled(format!("{} ", l.time), t.muted),
        Span::styled(format!("{:<8.8} ", l.actor), t.muted),
        Span::styled(format!("{} ", l.icon), tone(t, l.tone)),
        Span::styled(l.text, tone(t, l.tone)),
    ])
}

fn hint(keys: &KeyMap, a: Action, what: &str) -> Vec<Span<'static>> {
    let k = keys.keys_for(a).into_iter().next().unwrap_or_default();
    vec![Span::raw(format!(" {k}")), Span::raw(format!(" {what} "))]
}

fn status(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans: Vec<Span> = Vec::new();
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
            spans.push(Span::styled(" Esc", t.key));
            spans.push(Span::raw(" close "));
        }
        (None, true) => {
            add(Action::Earlier, "earlier");
            add(Action::Later, "later");
            add(Action::EarlierMore, "-1 min");
            add(Action::LaterMore, "+1 min");
            add(Action::Summary, "summary");
            add(Action::NextPane, "pane");
            add(Action::Filter, "filter");
            add(Action::Help, "help");
            add(Action::Quit, "quit");
        }
        (None, false) if !app.role().acts() => {
            // A scribe writes notes: the keys that change things are not offered.
            add(Action::Note, "note");
            add(Action::Filter, "filter");
            add(Action::Help, "help");
            add(Action::Quit, "quit");
        }
        (None, false) => {
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
                Some(Shown::Done) => add(Action::Recheck, "re-check"),
                _ => {}
            }
            add(Action::Help, "help");
            add(Action::Quit, "quit");
            add(Action::RunAllReady, "run ready");
            add(
                Action::Pause,
                if app.state.is_paused() {
                    "resume"
                } else {
                    "pause"
                },
            );
            add(Action::Note, "note");
            add(Action::Filter, "filter");
        }
    }
    let waiting = app.prompts.len();
    let mut line = Vec::new();
    if app.all_done() && app.message.is_none() {
        line.push(Span::styled(
            " ✔ every runbook done: q closes the incident ",
            t.ok,
        ));
    } else if let Some(m) = &app.message {
        let style = if app.log_failed.is_some() {
            t.fail
        } else {
            t.warn
        };
        line.push(Span::styled(format!(" {m} "), style));
    } else if waiting > 0 {
        line.push(Span::styled(
            format!(" {waiting} waiting for you "),
            t.waiting.add_modifier(Modifier::REVERSED),
        ));
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
            " ✔ every runbook done: q closes the incident "
        } else if app.state.is_paused() {
            " ⏸ paused: p resumes "
        } else if failed {
            " nothing can start: a failed step holds the plan (r retry, s skip) "
        } else {
            " nothing can start now "
        };
        line.push(Span::styled(text, if done { t.ok } else { t.warn }));
    }
    line.extend(spans);
    f.render_widget(Paragraph::new(Line::from(line)).style(t.muted), area);
}

/// How many steps wait for a commander's approval, if any.
fn awaiting_approval(app: &App) -> Option<usize> {
    let n = app
        .board
        .runbooks
        .iter()
        .flat_map(|r| &r.steps)
        .filter(|s| app.shown(&s.key) == Shown::AwaitsApproval)
        .count();
    (n > 0 && !app.info.review).then_some(n)
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn dialog(f: &mut Frame, app: &App, d: &Dialog, size: Rect) {
    let t = &app.theme;
    let (title, body, w, h): (String, Vec<Line>, u16, u16) = match d {
        Dialog::Help => ("Help".into(), help_lines(app), 78, 22),
        Dialog::Summary => ("Summary".into(), summary_lines(app), 100, 10),
        Dialog::Confirm { key, what } => {
            let s = app.board.step(key);
            let mut body = vec![
                Line::from(Span::styled(
                    s.map_or(key.to_string(), |s| s.title.clone()),
                    t.base.add_modifier(Modifier::BOLD),
                )),
                Line::from(Span::styled(key.to_string(), t.muted)),
                Line::default(),
            ];
            body.extend(what.lines().map(|l| Line::from(l.to_string())));
            body.push(Line::default());
            body.push(Line::from(vec![
                Span::styled(" y ", t.key.add_modifier(Modifier::REVERSED)),
                Span::raw(" yes, do it    "),
                Span::styled(" n ", t.key.add_modifier(Modifier::REVERSED)),
                Span::raw(" no, skip it    "),
                Span::styled(" Esc ", t.key.add_modifier(Modifier::REVERSED)),
                Span::raw(" later"),
            ]));
            ("Confirm: this changes live state".into(), body, 72, 14)
        }
        Dialog::Manual { key, note } => {
            let s = app.board.step(key);
            let mut body = vec![
                Line::from(Span::styled(
                    s.map_or(key.to_string(), |s| s.title.clone()),
                    t.base.add_modifier(Modifier::BOLD),
                )),
                Line::default(),
            ];
            if let Some(i) = app.board.instructions(key, &app.state) {
                body.extend(i.lines().map(|l| Line::from(l.to_string())));
                body.push(Line::default());
            }
            if let Some(n) = note {
                body.push(kv(t, "note", n.clone()));
            }
            body.push(Line::from(vec![
                Span::styled(" y ", t.key.add_modifier(Modifier::REVERSED)),
                Span::raw(" done  "),
                Span::styled(" f ", t.key.add_modifier(Modifier::REVERSED)),
                Span::raw(" failed  "),
                Span::styled(" s ", t.key.add_modifier(Modifier::REVERSED)),
                Span::raw(" skip  "),
                Span::styled(" : ", t.key.add_modifier(Modifier::REVERSED)),
                Span::raw(" note  "),
                Span::styled(" Esc ", t.key.add_modifier(Modifier::REVERSED)),
                Span::raw(" later"),
            ]));
            (
                "Manual step: do it, then say how it went".into(),
                body,
                74,
                16,
            )
        }
        Dialog::Input { purpose, text } => {
            let label = match purpose {
                Purpose::Note(Some(k)) => format!("Note on {k}:"),
                Purpose::Note(None) => "Note for the incident log:".into(),
                Purpose::Skip(k) => format!("Why skip {k}?"),
                Purpose::Filter => "Filter the timeline (text, operator or event kind):".into(),
                Purpose::ManualNote(k) => format!("Note for {k}:"),
                Purpose::OutageStart => {
                    "When did the outage begin? (UTC: 01:40, 2026-11-25T01:40:00Z, 25m ago)".into()
                }
                Purpose::Approver(k) => format!(
                    "{k} needs a second person. Approver's name (an incident commander, not {}):",
                    app.info.operator
                ),
            };
            let body = vec![
                Line::from(label),
                Line::from(vec![
                    Span::styled(format!("> {text}"), t.input),
                    Span::styled("█", t.input.add_modifier(Modifier::SLOW_BLINK)),
                ]),
            ];
            ("Input".into(), body, 70, 4)
        }
        Dialog::Quit { busy } => {
            let body = vec![
                Line::from(format!(
                    "{busy} step(s) are running or waiting for an answer."
                )),
                Line::from("Quit anyway? Running work is stopped; the incident stays open"),
                Line::from(format!("and can be resumed from {}", app.info.log_path)),
                Line::default(),
                Line::from(vec![
                    Span::styled(" y ", t.key.add_modifier(Modifier::REVERSED)),
                    Span::raw(" quit   "),
                    Span::styled(" n ", t.key.add_modifier(Modifier::REVERSED)),
                    Span::raw(" stay"),
                ]),
            ];
            ("Quit?".into(), body, 76, 7)
        }
        Dialog::Approve {
            key,
            what,
            operator,
            by,
            keyboard,
        } => approve_dialog(app, key, what, operator, by, keyboard.as_deref()),
        Dialog::Takeover { key, holder, since } => {
            let body = vec![
                Line::from(format!(
                    "{holder} holds {key} since {} UTC.",
                    since.format("%H:%M:%S")
                )),
                Line::from(format!(
                    "They may be carrying it out right now: ask {holder} first."
                )),
                Line::from("Taking it over is recorded on the shared timeline, with both names."),
                Line::default(),
                Line::from(vec![
                    Span::styled(" y ", t.key.add_modifier(Modifier::REVERSED)),
                    Span::raw(" take it over and start it   "),
                    Span::styled(" n ", t.key.add_modifier(Modifier::REVERSED)),
                    Span::raw(" leave it"),
                ]),
            ];
            ("Take over?".into(), body, 72, 7)
        }
        Dialog::Unclaimed { key, problem } => {
            let body = vec![
                Line::from(format!("The share is offline, so {key} cannot be claimed.")),
                Line::from(Span::styled(problem.clone(), t.muted)),
                Line::from("Nobody else can see that you run it, and drbook cannot see"),
                Line::from("whether someone else does: agree on who runs it by phone or chat."),
                Line::from("drbook claims it if the share answers now; else it runs unclaimed,"),
                Line::from("recorded as such, and is claimed when the share is back."),
                Line::default(),
                Line::from(vec![
                    Span::styled(" y ", t.key.add_modifier(Modifier::REVERSED)),
                    Span::raw(" run it without a claim   "),
                    Span::styled(" n ", t.key.add_modifier(Modifier::REVERSED)),
                    Span::raw(" wait for the share"),
                ]),
            ];
            ("Run without a claim?".into(), body, 76, 10)
        }
        Dialog::Abort { key } => {
            let body = vec![
                Line::from(format!("Abort {key} while it runs?")),
                Line::from("A command is killed with its process group; an Azure operation"),
                Line::from("already accepted may still complete: check the resource after."),
                Line::default(),
                Line::from(vec![
                    Span::styled(" y ", t.key.add_modifier(Modifier::REVERSED)),
                    Span::raw(" abort   "),
                    Span::styled(" n ", t.key.add_modifier(Modifier::REVERSED)),
                    Span::raw(" let it run"),
                ]),
            ];
            ("Abort?".into(), body, 70, 7)
        }
    };
    // The keys line stays at the bottom, whatever the body's length: it must never be cut.
    let mut body = body;
    let footer = match d {
        Dialog::Help | Dialog::Summary | Dialog::Input { .. } => None,
        _ => body.pop(),
    };
    let inner_w = w.min(size.width).saturating_sub(2).max(1);
    let para = Paragraph::new(body).wrap(Wrap { trim: false });
    let rows = u16::try_from(para.line_count(inner_w)).unwrap_or(u16::MAX);
    let extra = u16::from(footer.is_some());
    // Sized to the content; help keeps its own height.
    let h = if matches!(d, Dialog::Help | Dialog::Summary) {
        h.max(rows.saturating_add(2))
    } else {
        rows.saturating_add(2 + extra)
    };
    let area = centered(size, w, h);
    f.render_widget(Clear, area);
    let b = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(t.dialog_border)
        .title(Span::styled(format!(" {title} "), t.title))
        .style(t.dialog);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let body_rows = inner.height.saturating_sub(extra);
    f.render_widget(para, Rect::new(inner.x, inner.y, inner.width, body_rows));
    if let Some(footer) = footer {
        let at = Rect::new(
            inner.x,
            inner.y + body_rows,
            inner.width,
            extra.min(inner.height),
        );
        f.render_widget(Paragraph::new(footer), at);
    }
}

/// The two-person approval: the step, exactly what it will do, who runs it and who approves.
fn approve_dialog(
    app: &App,
    key: &crate::exec::plan::StepKey,
    what: &str,
    operator: &str,
    by: &str,
    keyboard: Option<&str>,
) -> (String, Vec<Line<'static>>, u16, u16) {
    let t = &app.theme;
    let s = app.board.step(key);
    let mut body = vec![
        Line::from(Span::styled(
            s.map_or(key.to_string(), |s| s.title.clone()),
            t.base.add_modifier(Modifier::BOLD),
        )),
        Line::from(Span::styled(key.to_string(), t.muted)),
        Line::default(),
    ];
    body.extend(what.lines().map(|l| Line::from(l.to_string())));
    body.push(Line::default());
    body.push(kv(t, "run by", operator.to_string()));
    let approver = match keyboard {
        Some(k) => format!("{by}, incident commander, at {k}'s keyboard"),
        None => format!("{by}, incident commander"),
    };
    body.push(kv(t, "approver", approver));
    body.push(Line::default());
    body.push(Line::from(vec![
        Span::styled(" y ", t.key.add_modifier(Modifier::REVERSED)),
        Span::raw(" approve    "),
        Span::styled(" n ", t.key.add_modifier(Modifier::REVERSED)),
        Span::raw(" decline (skips it)    "),
        Span::styled(" Esc ", t.key.add_modifier(Modifier::REVERSED)),
        Span::raw(" later"),
    ]));
    ("Two-person rule: a commander approves".into(), body, 72, 16)
}

/// RTO achieved per runbook and for the plan, the critical path with what each step took,
/// and the steps that waited longest on a person (a confirmation, a manual step).
fn summary_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let plan_rto = app
        .info
        .plan_rto
        .map(|d| humantime::format_duration(d).to_string());
    let rows =
        crate::exec::scorecard::scorecard(&app.state, &app.board.rtos(), plan_rto.as_deref());
    let mut lines = Vec::new();
    if let Some(r) = &app.replay {
        let style = if r.intact { t.ok } else { t.fail };
        let head = app
            .head
            .as_ref()
            .map_or_else(String::new, |h| format!(" · head {h}"));
        lines.push(Line::from(Span::styled(
            format!("Log: {}{head}", r.detail),
            style,
        )));
        lines.push(Line::from(format!(
            "Operators: {}",
            app.state.operators.join(", ")
        )));
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled("RTO achieved", t.title)));
    lines.extend(
        crate::exec::scorecard::render(&rows)
            .lines()
            .map(|l| Line::from(format!("  {l}"))),
    );
    let path = app.board.critical_path();
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!("Critical path: {} steps", path.len()),
        t.title,
    )));
    // By runbook: the steps of each and the time they took, in the order they ran.
    let mut legs: Vec<(String, usize, u64)> = Vec::new();
    for k in &path {
        let ms = app
            .state
            .step(&k.runbook, &k.step)
            .and_then(|s| s.elapsed_ms(app.now))
            .unwrap_or(0);
        match legs.last_mut() {
            Some((rb, n, total)) if *rb == k.runbook => {
                *n += 1;
                *total += ms;
            }
            _ => legs.push((k.runbook.clone(), 1, ms)),
        }
    }
    let shown: Vec<String> = legs
        .iter()
        .map(|(rb, n, ms)| format!("{rb} ({n} steps, {})", timeline::seconds(*ms)))
        .collect();
    lines.push(Line::from(format!("  {}", shown.join(" → "))));
    let mut waits: Vec<(u64, String)> = Vec::new();
    for rb in &app.state.runbooks {
        for st in &rb.steps {
            let key = crate::exec::plan::StepKey::new(rb.id.clone(), st.id.clone());
            if let Some(c) = &st.confirmation {
                let end = c.answer.as_ref().map_or(app.now, |a| a.ts);
                let ms = u64::try_from((end - c.requested).num_milliseconds()).unwrap_or(0);
                let who = c
                    .answer
                    .as_ref()
                    .map_or("nobody yet".to_string(), |a| a.by.clone());
                waits.push((ms, format!("{key}: confirmation, answered by {who}")));
            }
            let manual = app
                .board
                .step(&key)
                .is_some_and(|s| s.kind == crate::runbook::model::StepKind::Manual);
            if manual && let Some(ms) = st.elapsed_ms(app.now) {
                waits.push((ms, format!("{key}: manual step")));
            }
        }
    }
    waits.sort_by_key(|w| std::cmp::Reverse(w.0));
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("Longest waits on people", t.title)));
    if waits.is_empty() {
        lines.push(Line::from("  none"));
    }
    for (ms, what) in waits.into_iter().take(5) {
        lines.push(Line::from(format!(
            "  {:>7}  {what}",
            timeline::seconds(ms)
        )));
    }
    lines
}

fn help_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    // Every action but the one its opposite already explains.
    let actions: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| *a != Action::PrevPane)
        .collect();
    let mut lines: Vec<Line> = actions
        .iter()
        .map(|a| {
            Line::from(vec![
                Span::styled(format!("{:>12}  ", app.keys.keys_for(*a).join(" ")), t.key),
                Span::raw(KeyMap::describe(*a).to_string()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Every event is on disk before it shows. Mouse: wheel scrolls, click selects.",
        t.muted,
    )));
    lines.push(Line::from(Span::styled(
        "Status: ✔ done ✘ failed ▶ running ? needs you ◌ ready ↷ skipped ⚠ interrupted",
        t.muted,
    )));
    lines
}
