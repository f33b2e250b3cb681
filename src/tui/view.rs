//! Drawing: reads the `App` and changes nothing. One layout function serves drawing and mouse
//! hit-testing, so a click lands on what is drawn.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::app::{App, Dialog, ListFilter, Next, Pane, Purpose, short};
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
    /// What waits for the operator, what holds the plan, the next RTO breach.
    pub next: Rect,
    pub status: Rect,
}

/// The smallest terminal every pane and dialog is drawn for; below it the screen says so.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Where each pane goes for a terminal of `size`. At 80x24 every pane keeps a few rows.
pub fn areas(size: Rect) -> Areas {
    areas_zoomed(size, None)
}

/// The same, with `zoom`'s pane alone between the header and the status bar (the others
/// get no room, so nothing is drawn or clicked there).
pub fn areas_zoomed(size: Rect, zoom: Option<super::app::Pane>) -> Areas {
    let a = areas_all(size);
    let Some(p) = zoom else {
        return a;
    };
    let body = Rect::new(
        size.x,
        a.header.bottom(),
        size.width,
        a.next.y.saturating_sub(a.header.bottom()),
    );
    let none = Rect::new(size.x, a.header.bottom(), 0, 0);
    let at = |q: Pane| if q == p { body } else { none };
    Areas {
        header: a.header,
        runbooks: at(Pane::Runbooks),
        steps: at(Pane::Steps),
        detail: at(Pane::Detail),
        timeline: at(Pane::Timeline),
        next: a.next,
        status: a.status,
    }
}

fn areas_all(size: Rect) -> Areas {
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
        next: rows[3],
        status: rows[4],
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
        Tone::Finding => t.finding,
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
        Shown::Finding => t.finding,
    }
}

fn rollup_style(t: &Theme, r: Rollup) -> Style {
    match r {
        Rollup::NotStarted => t.pending,
        Rollup::Blocked => t.muted,
        Rollup::Running => t.running,
        Rollup::Ready => t.ready,
        Rollup::Stalled => t.warn,
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
    let title = match (focused, app.zoom) {
        (true, true) => format!(" ▸ {title} · {} unzooms ", app.key_of(Action::Zoom)),
        (true, false) => format!(" ▸ {title} "),
        _ => format!(" {title} "),
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(kind)
        .border_style(style)
        .title(Span::styled(title, app.theme.title))
}

/// Draws one pane into its area.
type PaneFn = fn(&mut Frame, &App, Rect);

pub fn draw(f: &mut Frame, app: &App) {
    let size = f.area();
    f.render_widget(Block::default().style(app.theme.base), size);
    if size.width < MIN_WIDTH || size.height < MIN_HEIGHT {
        // Panes squeezed below their minimum overlap and cut text mid-word: say so instead.
        let text = format!(
            "terminal too small: {}x{}, need {MIN_WIDTH}x{MIN_HEIGHT}",
            size.width, size.height
        );
        let p = Paragraph::new(text)
            .style(app.theme.warn)
            .wrap(Wrap { trim: true });
        f.render_widget(p, size);
        return;
    }
    let a = areas_zoomed(size, app.zoomed());
    header(f, app, a.header);
    let panes: [(Rect, PaneFn); 4] = [
        (a.runbooks, runbooks),
        (a.steps, steps),
        (a.detail, detail),
        (a.timeline, timeline_pane),
    ];
    for (area, pane) in panes {
        if !area.is_empty() {
            pane(f, app, area);
        }
    }
    next_line(f, app, a.next);
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
    let title = match app.rb_filter {
        ListFilter::All => "Runbooks".to_string(),
        f => format!("Runbooks · {}", f.label()),
    };
    let b = block(app, &title, Pane::Runbooks);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let rows = app.visible_runbooks();
    if rows.is_empty() {
        f.render_widget(none_shown(app, app.rb_filter), inner);
        return;
    }
    let at = rows.iter().position(|i| *i == app.rb_sel).unwrap_or(0);
    let visible = usize::from(inner.height);
    let off = list_offset(at, rows.len(), visible);
    let width = usize::from(inner.width);
    let lines: Vec<Line> = rows
        .iter()
        .filter_map(|i| app.board.runbooks.get(*i).map(|rb| (*i, rb)))
        .skip(off)
        .take(visible)
        .map(|(i, rb)| {
            let mut r = app.board.rollup(rb, &app.state, &app.ready);
            let (mut icon, mut word) = r.label();
            // Done with a failed step (`on_failure = "continue"`): finished, not recovered,
            // so never ✔ (the verdict says the same).
            if r == Rollup::Done
                && app.state.runbook(&rb.id).is_some_and(|s| {
                    s.steps
                        .iter()
                        .any(|st| matches!(st.status, StepStatus::Failed | StepStatus::Interrupted))
                })
            {
                (icon, word, r) = ("✘", "done, failed", Rollup::Failed);
            }
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

/// What an empty filtered list says, and how to see everything again.
fn none_shown(app: &App, f: ListFilter) -> Paragraph<'static> {
    Paragraph::new(format!(
        "none {}: {} shows the next filter",
        f.label(),
        app.key_of(Action::ListFilter)
    ))
    .style(app.theme.muted)
    .wrap(Wrap { trim: true })
}

/// `s` cut to `w` characters, with an ellipsis when cut.
pub fn shorten(s: &str, w: usize) -> String {
    truncate(s, w)
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
    // The filter goes first: a long runbook title is cut at the right.
    let title = match app.step_filter {
        ListFilter::All => title,
        f => format!("{} steps · {title}", f.label()),
    };
    let b = block(app, &title, Pane::Steps);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(rb) = app.selected_runbook() else {
        return;
    };
    let shown_rows = app.visible_steps();
    if shown_rows.is_empty() {
        f.render_widget(none_shown(app, app.step_filter), inner);
        return;
    }
    let at = shown_rows
        .iter()
        .position(|i| *i == app.step_sel)
        .unwrap_or(0);
    let visible = usize::from(inner.height);
    let off = list_offset(at, shown_rows.len(), visible);
    // Who confirmed a step shows when there is room for it.
    let wide = inner.width >= 70;
    let rows: Vec<Row> = shown_rows
        .iter()
        .filter_map(|i| rb.steps.get(*i).map(|s| (*i, s)))
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
        // An assessment's read is what it found, shown neutrally: its FAIL is no failure.
        let found = (st.status == StepStatus::Assessed)
            .then(|| st.outputs.get("finding"))
            .flatten();
        if let Some(f) = found {
            lines.push(Line::from(vec![
                Span::styled("finding: ", t.muted),
                Span::styled(f.clone(), t.finding.add_modifier(Modifier::BOLD)),
                Span::styled(" (what the assessment found, not a failure)", t.muted),
            ]));
        }
        if let Some(c) = &st.last_check {
            let v = match c.verdict {
                _ if found.is_some() => "assessed",
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Error => "ERROR",
                Verdict::Finding => "assessed",
            };
            lines.push(kv(t, "expected", c.expected.clone()));
            lines.push(Line::from(vec![
                Span::styled("actual: ", t.muted),
                Span::raw(c.actual.clone()),
                Span::styled(
                    format!("  {v} at {} ({} ms)", c.ts.format("%H:%M:%S"), c.latency_ms),
                    if found.is_some() {
                        t.finding
                    } else if c.verdict == Verdict::Pass {
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
        lines.extend(reflow(&i).into_iter().map(Line::from));
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
            StepStatus::Assessed => "assessed",
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
            add(Action::Help, "help");
            add(Action::Quit, "quit");
            if !app.state.is_paused() {
                add(Action::Pause, "pause");
            }
            add(Action::Note, "note");
            add(Action::Filter, "filter");
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
fn next_line(f: &mut Frame, app: &App, area: Rect) {
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

/// A dialog as drawn: its text, its keys line, where it goes, how far its text scrolls.
struct DialogFrame {
    title: String,
    body: Vec<Line<'static>>,
    footer: Option<Line<'static>>,
    area: Rect,
    /// Rows the body's text takes, wrapped, and rows it has on screen.
    rows: u16,
    body_rows: u16,
}

/// How far the open dialog's text can scroll (0 when it fits).
pub fn dialog_max_scroll(app: &App) -> u16 {
    app.dialog.as_ref().map_or(0, |d| {
        let fr = dialog_frame(app, d, app.size);
        fr.rows.saturating_sub(fr.body_rows)
    })
}

/// A key shown in a dialog's keys line: the live keymap's, never a default.
fn chip(app: &App, a: Action) -> Span<'static> {
    Span::styled(
        format!(" {} ", app.key_of(a)),
        app.theme.key.add_modifier(Modifier::REVERSED),
    )
}

fn dialog_content(app: &App, d: &Dialog) -> (String, Vec<Line<'static>>, u16, u16) {
    let t = &app.theme;
    match d {
        Dialog::Help => ("Help".into(), help_lines(app, app.help_context()), 78, 22),
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
                chip(app, Action::Yes),
                Span::raw(" yes, do it    "),
                chip(app, Action::No),
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
                body.extend(reflow(&i).into_iter().map(Line::from));
                body.push(Line::default());
            }
            if let Some(n) = note {
                body.push(kv(t, "note", n.clone()));
            }
            body.push(Line::from(vec![
                chip(app, Action::Yes),
                Span::raw(" done  "),
                chip(app, Action::Fail),
                Span::raw(" failed  "),
                chip(app, Action::Skip),
                Span::raw(" skip  "),
                chip(app, Action::Note),
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
                Purpose::OutageStart => match app.state.outage_since {
                    // The field starts empty (typing never runs into the old value): say it.
                    Some(t) => format!(
                        "When did the outage begin? Now {} (UTC: 01:40, 2026-11-25T01:40:00Z, 25m ago)",
                        t.format("%Y-%m-%dT%H:%M:%SZ")
                    ),
                    None => {
                        "When did the outage begin? (UTC: 01:40, 2026-11-25T01:40:00Z, 25m ago)"
                            .into()
                    }
                },
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
                    chip(app, Action::Yes),
                    Span::raw(" quit   "),
                    chip(app, Action::No),
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
                    chip(app, Action::Yes),
                    Span::raw(" take it over and start it   "),
                    chip(app, Action::No),
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
                    chip(app, Action::Yes),
                    Span::raw(" run it without a claim   "),
                    chip(app, Action::No),
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
                    chip(app, Action::Yes),
                    Span::raw(" abort   "),
                    chip(app, Action::No),
                    Span::raw(" let it run"),
                ]),
            ];
            ("Abort?".into(), body, 70, 7)
        }
    }
}

fn dialog_frame(app: &App, d: &Dialog, size: Rect) -> DialogFrame {
    let (title, mut body, w, h) = dialog_content(app, d);
    // The keys line stays at the bottom, whatever the body's length: it must never be cut.
    let footer = match d {
        Dialog::Help | Dialog::Summary | Dialog::Input { .. } => None,
        _ => body.pop(),
    };
    let inner_w = w.min(size.width).saturating_sub(2).max(1);
    let para = Paragraph::new(body.clone()).wrap(Wrap { trim: false });
    let rows = u16::try_from(para.line_count(inner_w)).unwrap_or(u16::MAX);
    let extra = u16::from(footer.is_some());
    // Sized to the content; help keeps its own height.
    let h = if matches!(d, Dialog::Help | Dialog::Summary) {
        h.max(rows.saturating_add(2))
    } else {
        rows.saturating_add(2 + extra)
    };
    let area = centered(size, w, h);
    let inner_h = area.height.saturating_sub(2);
    DialogFrame {
        title,
        body,
        footer,
        area,
        rows,
        body_rows: inner_h.saturating_sub(extra),
    }
}

fn dialog(f: &mut Frame, app: &App, d: &Dialog, size: Rect) {
    let t = &app.theme;
    let fr = dialog_frame(app, d, size);
    let max = fr.rows.saturating_sub(fr.body_rows);
    let scroll = app.dialog_scroll.min(max);
    f.render_widget(Clear, fr.area);
    let mut b = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(t.dialog_border)
        .title(Span::styled(format!(" {} ", fr.title), t.title))
        .style(t.dialog);
    // Text below or above the window is announced, with the keys that reach it: safety
    // text at the end of long instructions must never be silently cut off.
    let (down, up) = (app.key_of(Action::Down), app.key_of(Action::Up));
    if scroll < max {
        b = b.title_bottom(
            Line::from(Span::styled(
                format!(" more ↓ {down}/{up} scroll "),
                t.warn.add_modifier(Modifier::BOLD),
            ))
            .right_aligned(),
        );
    } else if scroll > 0 {
        b = b.title_bottom(
            Line::from(Span::styled(format!(" ↑ {up} scrolls back "), t.muted)).right_aligned(),
        );
    }
    let inner = b.inner(fr.area);
    f.render_widget(b, fr.area);
    let extra = u16::from(fr.footer.is_some());
    let para = Paragraph::new(fr.body)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0));
    f.render_widget(
        para,
        Rect::new(
            inner.x,
            inner.y,
            inner.width,
            fr.body_rows.min(inner.height),
        ),
    );
    if let Some(footer) = fr.footer {
        let at = Rect::new(
            inner.x,
            inner.y + fr.body_rows.min(inner.height),
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
        chip(app, Action::Yes),
        Span::raw(" approve    "),
        chip(app, Action::No),
        Span::raw(" decline (skips it)    "),
        Span::styled(" Esc ", t.key.add_modifier(Modifier::REVERSED)),
        Span::raw(" later"),
    ]));
    ("Two-person rule: a commander approves".into(), body, 72, 16)
}

/// The incident's one verdict (`report::verdict`) as it stands, from the log's fold and the
/// runbooks on the board: what the header, the `i` summary and every report say.
pub fn incident_verdict(app: &App) -> crate::report::Verdict {
    let plan_rto = app
        .info
        .plan_rto
        .map(|d| humantime::format_duration(d).to_string());
    let plan_id = app.state.header.as_ref().and_then(|h| h.plan.as_deref());
    let sources = app
        .board
        .sources(plan_id.map(|id| (id, plan_rto.as_deref())));
    crate::report::verdict(&app.state, &sources)
}

/// RTO achieved per runbook and for the plan, the critical path with what each step took,
/// and the steps that waited longest on a person (a confirmation, a manual step).
fn summary_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let verdict = incident_verdict(app);
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
        crate::report::scorecard::render(&verdict)
            .lines()
            .map(|l| Line::from(format!("  {l}"))),
    );
    // As it ran, the same chain the reports give.
    let path = verdict.critical_path;
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!(
            "Critical path: {} step{}",
            path.len(),
            if path.len() == 1 { "" } else { "s" }
        ),
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

/// The actions that do something where the operator is: the open dialog, else the
/// focused pane.
fn here(app: &App, over: Option<&Dialog>) -> (String, Vec<Action>) {
    use Action as A;
    let scroll = [A::Down, A::Up, A::PageDown, A::PageUp, A::Bottom, A::Top];
    let (name, mut acts): (String, Vec<Action>) = match over {
        Some(Dialog::Confirm { .. }) => ("this confirmation".into(), vec![A::Yes, A::No]),
        Some(Dialog::Manual { .. }) => (
            "this manual step".into(),
            vec![A::Yes, A::Fail, A::Skip, A::Note],
        ),
        Some(Dialog::Approve { .. }) => ("this approval".into(), vec![A::Yes, A::No]),
        Some(Dialog::Summary) => ("the summary".into(), vec![A::Summary]),
        Some(_) => ("this dialog".into(), vec![A::Yes, A::No]),
        None => {
            let pane = app.focus;
            let acts = match pane {
                Pane::Runbooks => vec![A::Down, A::Up, A::ListFilter, A::RunAllReady, A::Zoom],
                Pane::Steps => vec![
                    A::Run,
                    A::Skip,
                    A::Recheck,
                    A::Abort,
                    A::Note,
                    A::Copy,
                    A::ListFilter,
                    A::Zoom,
                ],
                Pane::Detail => vec![A::Down, A::Up, A::PageDown, A::Copy, A::Note, A::Zoom],
                Pane::Timeline => vec![A::Up, A::Down, A::PageUp, A::Filter, A::Zoom],
            };
            (format!("the {} pane", pane.name()), acts)
        }
    };
    if over.is_some() {
        acts.extend(scroll);
    }
    if !app.prompts.is_empty() && over.is_none() {
        acts.insert(0, A::Answer);
    }
    (name, acts)
}

fn key_line(app: &App, a: Action) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("{:>12}  ", app.keys.keys_for(a).join(" ")),
            app.theme.key,
        ),
        Span::raw(KeyMap::describe(a).to_string()),
    ])
}

fn help_lines(app: &App, over: Option<&Dialog>) -> Vec<Line<'static>> {
    let t = &app.theme;
    let (name, first) = here(app, over);
    let mut lines = vec![Line::from(Span::styled(format!("Keys in {name}"), t.title))];
    lines.extend(first.iter().map(|a| key_line(app, *a)));
    if over.is_some() {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>12}  ", "Esc"), t.key),
            Span::raw("put it back in the queue, unanswered (or close it)"),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("Every key", t.title)));
    // Every action but the one its opposite already explains.
    let actions: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| *a != Action::PrevPane)
        .collect();
    lines.extend(actions.iter().map(|a| key_line(app, *a)));
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

/// Instructions as the runbook wrote them, re-flowed once: lines of a paragraph (wrapped by
/// hand in the TOML) are joined, so wrapping them again at the pane's width does not leave
/// ragged half-lines. Blank lines, list items (`- `, `* `, `1. `) and indented blocks (4
/// spaces or more: commands, samples) keep their own lines.
pub fn reflow(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Whether the last line may take the next one's words.
    let mut open = false;
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with("```") {
            fenced = !fenced;
            out.push(line.to_string());
            open = false;
            continue;
        }
        let blank = trimmed.is_empty();
        let block = fenced || line.starts_with('\t') || (indent >= 4 && !open);
        if blank || block {
            out.push(line.trim_end().to_string());
            open = false;
            continue;
        }
        if open && !list_item(trimmed) {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(trimmed.trim_end());
            }
            continue;
        }
        out.push(line.trim_end().to_string());
        open = true;
    }
    out
}

fn list_item(s: &str) -> bool {
    if s.starts_with("- ") || s.starts_with("* ") || s.starts_with("+ ") {
        return true;
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && (s[digits..].starts_with(". ") || s[digits..].starts_with(") "))
}

#[cfg(test)]
mod tests {
    use super::reflow;

    #[test]
    fn reflow_joins_hand_wrapped_paragraphs_and_keeps_lists_and_blocks() {
        let text = "Post the outcome in the incident log:\n\n- Repos: ok\n- Mirror: the\n  push ran\n\nIf both are down, ask engineers not to delete or re-clone their\nlocal copies; the freshest clone wins.\n3. If `SEEDING`, STOP and mark this step\n   failed.\n\n    az sql failover-group show\n    --name fog\nDone.";
        assert_eq!(
            reflow(text),
            [
                "Post the outcome in the incident log:",
                "",
                "- Repos: ok",
                "- Mirror: the push ran",
                "",
                "If both are down, ask engineers not to delete or re-clone their local copies; the freshest clone wins.",
                "3. If `SEEDING`, STOP and mark this step failed.",
                "",
                "    az sql failover-group show",
                "    --name fog",
                "Done.",
            ]
        );
    }
}
