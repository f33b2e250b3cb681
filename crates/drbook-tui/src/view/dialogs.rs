//! Dialogs over the panes, the approval dialog among them.

use super::*;
use crate::app::dialog_text::dialog_frame;

pub(super) fn dialog(f: &mut Frame, app: &App, d: &Dialog, size: Rect) {
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
