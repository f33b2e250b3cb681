//! Drawing: reads the `App` and changes nothing. The layout it draws into is `crate::layout`,
//! the same the app's mouse hit-testing reads, so a click lands on what is drawn; a dialog's
//! text comes laid out from `app::dialog_text`. Nothing on the app side imports this module.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::app::dialog_text::kv;
use super::app::{App, Dialog, ListFilter, Next, Pane, short};
use super::keys::{Action, KeyMap};
use super::layout::{MIN_HEIGHT, MIN_WIDTH, areas_zoomed, list_offset, reflow, truncate};
use super::model::{Rollup, Shown};
use super::theme::Theme;
use super::timeline::{self, Tone, clock};
use drbook_core::incident::event::{RehearsalLevel, Verdict};
use drbook_core::incident::{Event, StepStatus};
use drbook_core::roles::Role;

mod detail;
mod dialogs;
mod header;
mod readiness;
mod runbooks;
mod status;
mod steps;
mod timeline_pane;

use detail::*;
use dialogs::*;
use header::*;
use runbooks::*;
use status::*;
use steps::*;
use timeline_pane::*;

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
    if let Some(v) = app.readiness.as_ref().filter(|v| v.open) {
        readiness::readiness(f, app, v, size);
        if let Some(d) = &app.dialog {
            dialog(f, app, d, size);
        }
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

#[cfg(test)]
mod tests {
    use crate::app::Pane;
    use crate::keys::Action;
    use crate::layout::reflow;

    #[test]
    fn the_review_status_bar_offers_only_keys_that_act() {
        let dir =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("runbooks");
        let mut review = crate::fixture::review_app(&dir).unwrap();
        for b in crate::app::bindings::REVIEW_BAR {
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
        let (_, acts) = crate::app::dialog_text::help::here(&live, None);
        assert!(acts.contains(&Action::Run) && acts.contains(&Action::Skip));
        let mut review = crate::fixture::review_app(&dir).unwrap();
        review.focus = Pane::Steps;
        let (name, acts) = crate::app::dialog_text::help::here(&review, None);
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

    /// The app's test holds the dialog's text; this one, that the screen draws it: a rebound
    /// key is what the drawn keys line offers.
    #[test]
    fn a_rebound_key_is_drawn_in_the_dialog() {
        let dir =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("runbooks");
        let mut a = crate::fixture::app(&dir, 0).unwrap();
        a.keys = crate::keys::KeyMap::default()
            .with_overrides(&std::collections::BTreeMap::from([(
                Action::Yes,
                vec!["Y".to_string()],
            )]))
            .unwrap();
        let key = a.board.runbooks[0].steps[0].key.clone();
        a.dialog = Some(crate::app::Dialog::Confirm {
            key,
            what: "PATCH ...".into(),
        });
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
        term.draw(|f| super::draw(f, &a)).unwrap();
        let screen: String = term
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(screen.contains(" Y  yes, do it"), "{screen}");
        assert!(!screen.contains(" y  yes, do it"));
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
