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
use drbook_core::incident::event::{RehearsalLevel, Verdict};
use drbook_core::incident::{Event, StepStatus};
use drbook_core::roles::Role;

mod detail;
mod dialogs;
mod header;
mod help;
mod runbooks;
mod status;
mod steps;
mod summary;
mod timeline_pane;

use detail::*;
pub use dialogs::dialog_max_scroll;
use dialogs::*;
use header::*;
use help::*;
use runbooks::*;
use status::*;
use steps::*;
pub use summary::incident_verdict;
use summary::*;
use timeline_pane::*;

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

fn kv<'a>(t: &Theme, k: &'a str, v: String) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{k}: "), t.muted), Span::raw(v)])
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
    use crate::app::Pane;
    use crate::keys::Action;

    #[test]
    fn the_review_status_bar_offers_only_keys_that_act() {
        let dir =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("runbooks");
        let mut review = crate::fixture::review_app(&dir).unwrap();
        for b in crate::bindings::REVIEW_BAR {
            let k = review.keys.bindings(b.action)[0];
            review.message = None;
            review.dialog = None;
            review.update(crate::app::Msg::Key(crossterm::event::KeyEvent::new(
                k.code,
                k.modifiers,
            )));
            assert_ne!(
                review.message.as_deref(),
                Some("a past incident is read-only"),
                "{}",
                b.action
            );
            assert!(review.offers(b.action), "{}", b.action);
        }
    }

    #[test]
    fn the_help_in_a_review_offers_only_keys_that_act() {
        let dir =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("runbooks");
        let mut live = crate::fixture::app(&dir, 0).unwrap();
        live.focus = Pane::Steps;
        let (_, acts) = super::here(&live, None);
        assert!(acts.contains(&Action::Run) && acts.contains(&Action::Skip));
        let mut review = crate::fixture::review_app(&dir).unwrap();
        review.focus = Pane::Steps;
        let (name, acts) = super::here(&review, None);
        assert_eq!(name, "the steps pane");
        assert_eq!(acts, [Action::Copy, Action::ListFilter, Action::Zoom]);
        // What is offered acts: pressing it is not refused as read-only.
        for a in acts {
            review.update(crate::app::Msg::Key(crossterm::event::KeyEvent::new(
                review.keys.bindings(a)[0].code,
                review.keys.bindings(a)[0].modifiers,
            )));
            assert_ne!(
                review.message.as_deref(),
                Some("a past incident is read-only"),
                "{a}"
            );
        }
    }

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
