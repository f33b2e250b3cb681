//! The runbooks pane.

use super::*;

pub(super) fn runbooks(f: &mut Frame, app: &App, area: Rect) {
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
pub(super) fn none_shown(app: &App, f: ListFilter) -> Paragraph<'static> {
    Paragraph::new(format!(
        "none {}: {} shows the next filter",
        f.label(),
        app.key_of(Action::ListFilter)
    ))
    .style(app.theme.muted)
    .wrap(Wrap { trim: true })
}
