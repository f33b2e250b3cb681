//! The screen's geometry and text widths, shared by drawing (`view`) and the app's mouse
//! hit-testing and messages: one layout, so a click lands on what is drawn. A leaf: it reads
//! no `App` and draws nothing, so both sides import it and neither imports the other.

use ratatui::layout::{Constraint, Direction, Layout, Rect};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Pane {
    Runbooks,
    Steps,
    Detail,
    Timeline,
}

pub const PANES: [Pane; 4] = [Pane::Runbooks, Pane::Steps, Pane::Detail, Pane::Timeline];

impl Pane {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

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
pub fn areas_zoomed(size: Rect, zoom: Option<Pane>) -> Areas {
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

/// `s` cut to `w` characters, with an ellipsis when cut: pane text and the app's messages.
pub fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
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
