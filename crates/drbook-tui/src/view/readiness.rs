//! The readiness screen, full screen: the estate's header (subscriptions, primary → secondary,
//! counts), the components with their verdict, the pairs of the selected one with the rule
//! that matched, the findings by severity (critical first), the selected item in full, and
//! what writing the runbooks did.

use ratatui::layout::Layout;

use super::*;
use crate::app::bindings::Component;
use crate::app::readiness::{List, Phase, ReadinessView, WriteState};
use drbook_engine::discover::{Discovery, Severity};

/// The last path segment of an id: its name.
fn name(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn severity_style(t: &Theme, s: Severity) -> Style {
    match s {
        Severity::Critical => t.fail.add_modifier(Modifier::BOLD),
        Severity::High => t.warn,
        Severity::Medium => t.waiting,
        Severity::Low => t.muted,
    }
}

fn list_block<'a>(app: &App, title: String, focused: bool) -> Block<'a> {
    let (style, kind) = if focused && app.dialog.is_none() {
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

/// The row style of row `i` of a list whose selection is `sel`.
fn row_style(t: &Theme, i: usize, sel: usize, focused: bool) -> Style {
    match (i == sel, focused) {
        (true, true) => t.selection,
        (true, false) => t.base.add_modifier(Modifier::BOLD),
        _ => t.base,
    }
}

pub(super) fn readiness(f: &mut Frame, app: &App, v: &ReadinessView, size: Rect) {
    let t = &app.theme;
    let write_rows = match &v.write {
        None => 0,
        Some(WriteState::Done { report, .. }) if !report.diagnostics.is_empty() => {
            (1 + report.diagnostics.len() as u16).min(4)
        }
        Some(WriteState::Failed { .. }) => 3,
        Some(_) => 2,
    };
    let [head, body, write, bar] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(5),
        Constraint::Length(write_rows),
        Constraint::Length(1),
    ])
    .areas(size);
    header_lines(f, app, v, head);
    match &v.phase {
        Phase::Discovering { since, step } => {
            let took = (app.now - *since).num_seconds().max(0);
            let lines = vec![
                Line::default(),
                Line::from(Span::styled(
                    format!("discovering… {took}s"),
                    t.running.add_modifier(Modifier::BOLD),
                )),
                Line::from(step.clone()),
            ];
            let b = list_block(app, "Readiness".into(), true);
            f.render_widget(
                Paragraph::new(lines)
                    .block(b)
                    .alignment(ratatui::layout::Alignment::Center)
                    .wrap(Wrap { trim: true }),
                body,
            );
        }
        Phase::Failed(e) => {
            let r = app.key_of(Action::Readiness);
            let lines = vec![
                Line::from(Span::styled(
                    "✘ the discovery failed",
                    t.fail.add_modifier(Modifier::BOLD),
                )),
                Line::default(),
                Line::from(Span::styled(e.clone(), t.fail)),
                Line::default(),
                Line::from(Span::styled(
                    format!("{r} closes this screen; {r} again discovers anew"),
                    t.muted,
                )),
            ];
            let b = list_block(app, "Readiness".into(), true);
            f.render_widget(
                Paragraph::new(lines).block(b).wrap(Wrap { trim: false }),
                body,
            );
        }
        Phase::Shown(d) => shown(f, app, v, d, body),
    }
    write_lines(f, app, v, write);
    status_line(f, app, v, bar);
}

fn header_lines(f: &mut Frame, app: &App, v: &ReadinessView, area: Rect) {
    let t = &app.theme;
    let mut lines = Vec::new();
    match v.discovery() {
        Some(d) => {
            let subs: Vec<&str> = d.subscription.split(',').collect();
            lines.push(Line::from(vec![
                Span::styled(" DR readiness ", t.header.add_modifier(Modifier::BOLD)),
                Span::styled(
                    format!(
                        " subscription{} {}",
                        if subs.len() > 1 { "s" } else { "" },
                        subs.join(", ")
                    ),
                    t.base,
                ),
            ]));
            lines.push(Line::from(vec![
                Span::styled(format!(" {} → {}", d.primary, d.secondary), t.title),
                Span::raw(format!(
                    " · {} resources · {} components · {} uncovered",
                    d.resources,
                    d.components.len(),
                    d.uncovered.len()
                )),
            ]));
            let mut spans = vec![Span::raw(" findings:")];
            for (s, n) in ReadinessView::counts(d) {
                let style = if n > 0 { severity_style(t, s) } else { t.muted };
                spans.push(Span::styled(format!(" {n} {}", s.as_str()), style));
            }
            lines.push(Line::from(spans));
        }
        None => {
            lines.push(Line::from(Span::styled(
                " DR readiness ",
                t.header.add_modifier(Modifier::BOLD),
            )));
            lines.push(Line::from(Span::styled(
                format!(" target: {}", app.info.target),
                t.muted,
            )));
        }
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn shown(f: &mut Frame, app: &App, v: &ReadinessView, d: &Discovery, area: Rect) {
    let comp_h = (d.components.len() as u16 + 3).clamp(4, area.height.saturating_mul(2) / 5);
    let [top, mid, detail] = Layout::vertical([
        Constraint::Length(comp_h),
        Constraint::Min(4),
        Constraint::Length((area.height / 4).clamp(4, 7)),
    ])
    .areas(area);
    components(f, app, v, d, top);
    let [pairs_a, findings_a] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(mid);
    pairs(f, app, v, d, pairs_a);
    findings(f, app, v, d, findings_a);
    detail_box(f, app, v, d, detail);
}

fn components(f: &mut Frame, app: &App, v: &ReadinessView, d: &Discovery, area: Rect) {
    let t = &app.theme;
    let focused = v.focus == List::Components;
    let b = list_block(app, format!("Components ({})", d.components.len()), focused);
    let visible = area.height.saturating_sub(3) as usize;
    let off = list_offset(v.comp_sel, d.components.len(), visible);
    let rows: Vec<Row> = d
        .components
        .iter()
        .enumerate()
        .skip(off)
        .take(visible)
        .map(|(i, c)| {
            let r = d.readiness.iter().find(|r| r.component == c.component);
            let (verdict, vstyle) = match r {
                Some(r) if r.ready => ("ready", t.ok),
                Some(_) => ("NOT READY", t.fail.add_modifier(Modifier::BOLD)),
                None => ("?", t.muted),
            };
            let rto = r.map_or(String::new(), |r| format!("RTO {} · RPO {}", r.rto, r.rpo));
            let mark = if i == v.comp_sel { "▸ " } else { "  " };
            Row::new(vec![
                Cell::from(format!("{mark}{}", c.component)),
                Cell::from(c.runbook_id().to_string()),
                Cell::from(format!("{:>4}", c.resources.len())),
                Cell::from(Span::styled(verdict, vstyle)),
                Cell::from(rto),
            ])
            .style(row_style(t, i, v.comp_sel, focused))
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(15),
            Constraint::Length(24),
            Constraint::Length(5),
            Constraint::Length(10),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(vec!["  kind", "runbook", " res", "verdict", "RTO · RPO"]).style(t.muted))
    .block(b);
    f.render_widget(table, area);
}

fn pairs(f: &mut Frame, app: &App, v: &ReadinessView, d: &Discovery, area: Rect) {
    let t = &app.theme;
    let focused = v.focus == List::Pairs;
    let kind = d
        .components
        .get(v.comp_sel)
        .map_or("", |c| c.component.as_str());
    let pairs = v.pairs();
    let b = list_block(app, format!("Pairs of {kind} ({})", pairs.len()), focused);
    let inner_w = area.width.saturating_sub(2) as usize;
    let visible = area.height.saturating_sub(2) as usize;
    let off = list_offset(v.pair_sel, pairs.len(), visible);
    let mut lines: Vec<Line> = pairs
        .iter()
        .enumerate()
        .skip(off)
        .take(visible)
        .map(|(i, (p, s, rule))| {
            let text = if p == s {
                format!("{} (spans both regions)", name(p))
            } else {
                format!("{} ↔ {}", name(p), name(s))
            };
            // The pair first; the rule in what room is left (in full in the detail below).
            let text = truncate(&text, inner_w);
            let room = inner_w.saturating_sub(text.chars().count());
            let rule = truncate(&format!(" [{rule}]"), room);
            Line::from(vec![Span::raw(text), Span::styled(rule, t.muted)])
                .style(row_style(t, i, v.pair_sel, focused))
        })
        .collect();
    if pairs.is_empty() {
        lines.push(Line::from(Span::styled(
            "no pair (global resources need none; a regional one without a counterpart is a finding)",
            t.warn,
        )));
    }
    f.render_widget(Paragraph::new(lines).block(b), area);
}

fn findings(f: &mut Frame, app: &App, v: &ReadinessView, d: &Discovery, area: Rect) {
    let t = &app.theme;
    let focused = v.focus == List::Findings;
    let order = ReadinessView::findings_order(d);
    let b = list_block(app, format!("Findings ({})", d.findings.len()), focused);
    let inner_w = area.width.saturating_sub(2) as usize;
    // A heading row before each severity's first finding.
    let mut rows: Vec<Line> = Vec::new();
    let mut sel_row = 0;
    let mut last: Option<Severity> = None;
    for (pos, i) in order.iter().enumerate() {
        let fd = &d.findings[*i];
        if last != Some(fd.severity) {
            let n = d
                .findings
                .iter()
                .filter(|x| x.severity == fd.severity)
                .count();
            rows.push(Line::from(Span::styled(
                format!("{} ({n})", fd.severity.as_str().to_uppercase()),
                severity_style(t, fd.severity),
            )));
            last = Some(fd.severity);
        }
        if pos == v.finding_sel {
            sel_row = rows.len();
        }
        let text = format!("  {}  {}", name(&fd.resource), fd.code);
        rows.push(
            Line::from(Span::raw(truncate(&text, inner_w))).style(row_style(
                t,
                pos,
                v.finding_sel,
                focused,
            )),
        );
    }
    if rows.is_empty() {
        rows.push(Line::from(Span::styled("no finding", t.ok)));
    }
    let visible = area.height.saturating_sub(2) as usize;
    let off = list_offset(sel_row, rows.len(), visible);
    let shown: Vec<Line> = rows.into_iter().skip(off).take(visible).collect();
    f.render_widget(Paragraph::new(shown).block(b), area);
}

fn detail_box(f: &mut Frame, app: &App, v: &ReadinessView, d: &Discovery, area: Rect) {
    let t = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    let title = match v.focus {
        List::Components => {
            if let Some(c) = d.components.get(v.comp_sel) {
                lines.push(kv(
                    t,
                    "component",
                    format!(
                        "{} → runbook {} · {} resources · {} pairs",
                        c.component,
                        c.runbook_id(),
                        c.resources.len(),
                        c.pairs.len()
                    ),
                ));
                if let Some(r) = d.readiness.iter().find(|r| r.component == c.component) {
                    lines.push(Line::from(vec![
                        Span::styled("verdict: ", t.muted),
                        if r.ready {
                            Span::styled("ready", t.ok)
                        } else {
                            Span::styled("NOT READY", t.fail.add_modifier(Modifier::BOLD))
                        },
                        Span::raw(format!(": RTO {}, RPO {}", r.rto, r.rpo)),
                    ]));
                    lines.push(kv(t, "basis", r.basis.clone()));
                }
            }
            "Component"
        }
        List::Pairs => {
            if let Some((p, s, rule)) = v.pairs().get(v.pair_sel) {
                lines.push(kv(t, "primary", p.to_string()));
                lines.push(kv(t, "secondary", s.to_string()));
                lines.push(kv(t, "rule", rule.to_string()));
            }
            "Pair"
        }
        List::Findings => {
            let order = ReadinessView::findings_order(d);
            if let Some(fd) = order.get(v.finding_sel).map(|i| &d.findings[*i]) {
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("{} ", fd.severity.as_str()),
                        severity_style(t, fd.severity),
                    ),
                    Span::styled(fd.code.clone(), t.title),
                    Span::raw(format!("  {}", fd.resource)),
                ]));
                lines.push(Line::from(fd.message.clone()));
                lines.push(kv(t, "fix", fd.fix.clone()));
            }
            "Finding"
        }
    };
    let b = list_block(app, title.into(), false);
    f.render_widget(
        Paragraph::new(lines).block(b).wrap(Wrap { trim: false }),
        area,
    );
}

fn write_lines(f: &mut Frame, app: &App, v: &ReadinessView, area: Rect) {
    let t = &app.theme;
    let Some(w) = &v.write else {
        return;
    };
    let lines: Vec<Line> = match w {
        WriteState::Writing { dir } => vec![Line::from(Span::styled(
            format!(" writing the runbooks into {}…", dir.display()),
            t.running,
        ))],
        WriteState::Done { dir, report } if report.diagnostics.is_empty() => {
            let mut l = vec![Line::from(Span::styled(
                format!(
                    " ✔ wrote {} files into {}: they pass `drbook validate --strict`; edit them, then commit them",
                    report.files.len(),
                    dir.display()
                ),
                t.ok,
            ))];
            let components = match &v.phase {
                Phase::Shown(d) => d.components.as_slice(),
                _ => &[],
            };
            let to_set: Vec<String> = components
                .iter()
                .filter(|c| !c.to_set.is_empty())
                .map(|c| format!("{} ({})", c.file_name(), c.to_set.join(", ")))
                .collect();
            if !to_set.is_empty() {
                l.push(Line::from(Span::styled(
                    format!(
                        " set by hand, marked SET THIS (Azure does not hold them): {}",
                        to_set.join("; ")
                    ),
                    t.warn,
                )));
            }
            l
        }
        WriteState::Done { dir, report } => {
            let mut l = vec![Line::from(Span::styled(
                format!(
                    " ✘ wrote {} files into {}, but they do NOT pass `drbook validate --strict` ({} problems):",
                    report.files.len(),
                    dir.display(),
                    report.diagnostics.len()
                ),
                t.fail.add_modifier(Modifier::BOLD),
            ))];
            // The first problems; the rest are one command away.
            let room = usize::from(area.height.saturating_sub(1)).max(1);
            let n = report.diagnostics.len();
            let shown = if n > room { room - 1 } else { n };
            l.extend(
                report.diagnostics[..shown]
                    .iter()
                    .map(|g| Line::from(Span::styled(format!("   {g}"), t.fail))),
            );
            if shown < n {
                l.push(Line::from(Span::styled(
                    format!(
                        "   … {} more: drbook validate --strict {}",
                        n - shown,
                        dir.display()
                    ),
                    t.fail,
                )));
            }
            l
        }
        WriteState::Failed { dir, error } => vec![Line::from(Span::styled(
            format!(" ✘ nothing written into {}: {error}", dir.display()),
            t.fail,
        ))],
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

fn status_line(f: &mut Frame, app: &App, v: &ReadinessView, area: Rect) {
    let t = &app.theme;
    let line = match (&app.message, &app.dialog) {
        (Some(m), _) => Line::from(Span::styled(format!(" {m}"), t.warn)),
        (None, Some(_)) => Line::from(vec![
            Span::styled(" Esc", t.key),
            Span::raw(" close "),
            Span::styled(app.key_of(Action::Help), t.key),
            Span::raw(" keys "),
        ]),
        (None, None) => {
            let mut spans = Vec::new();
            for (a, hint) in Component::Readiness.hints() {
                let hint = if a == Action::Quit && v.standalone {
                    "quit"
                } else {
                    hint
                };
                spans.push(Span::styled(format!(" {}", app.key_of(a)), t.key));
                spans.push(Span::raw(format!(" {hint} ")));
            }
            spans.push(Span::styled(format!("· {}", v.focus.name()), t.muted));
            Line::from(spans)
        }
    };
    f.render_widget(Paragraph::new(line), area);
}
