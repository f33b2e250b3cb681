//! The steps pane.

use super::*;

pub(super) fn steps(f: &mut Frame, app: &App, area: Rect) {
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
                .map(drbook_core::time::took)
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
