//! The timeline pane.

use super::*;

pub(super) fn timeline_pane(f: &mut Frame, app: &App, area: Rect) {
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

pub(super) fn event_line<'a>(t: &Theme, e: &Event) -> Line<'a> {
    let l = timeline::line(e);
    Line::from(vec![
        Span::styled(format!("{} ", l.time), t.muted),
        Span::styled(format!("{:<8.8} ", l.actor), t.muted),
        Span::styled(format!("{} ", l.icon), tone(t, l.tone)),
        Span::styled(l.text, tone(t, l.tone)),
    ])
}
