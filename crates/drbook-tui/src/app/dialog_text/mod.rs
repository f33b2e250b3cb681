//! What a dialog says, without drawing it: its title, its text lines, its keys line and the
//! room it takes. The app's scrolling (`dialog_max_scroll`) needs the laid-out text as much as
//! the view does, so it is built here, on the app side, and `view` only draws it.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::bindings::Component;
use super::{App, Dialog, Purpose};
use crate::keys::Action;
use crate::layout::reflow;
use crate::theme::Theme;

pub(crate) mod help;
mod summary;

use help::help_lines;
use summary::summary_lines;

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
pub(crate) struct DialogFrame {
    pub(crate) title: String,
    pub(crate) body: Vec<Line<'static>>,
    pub(crate) footer: Option<Line<'static>>,
    pub(crate) area: Rect,
    /// Rows the body's text takes, wrapped, and rows it has on screen.
    pub(crate) rows: u16,
    pub(crate) body_rows: u16,
}

/// How far the open dialog's text can scroll (0 when it fits).
pub fn dialog_max_scroll(app: &App) -> u16 {
    app.dialog.as_ref().map_or(0, |d| {
        let fr = dialog_frame(app, d, app.size);
        fr.rows.saturating_sub(fr.body_rows)
    })
}

/// A dialog's keys line, from its component's table (so it offers only what the handler takes)
/// with the live keymap's keys; `later` adds Esc, which puts a question back in the queue.
fn keys_line(app: &App, c: Component, gap: &str, later: bool) -> Line<'static> {
    let hints: Vec<(Action, &str)> = c.hints().collect();
    let mut spans = Vec::new();
    for (i, (a, hint)) in hints.iter().enumerate() {
        spans.push(chip(app, *a));
        let sep = if i + 1 < hints.len() || later {
            gap
        } else {
            ""
        };
        spans.push(Span::raw(format!(" {hint}{sep}")));
    }
    if later {
        spans.push(Span::styled(
            " Esc ",
            app.theme.key.add_modifier(Modifier::REVERSED),
        ));
        spans.push(Span::raw(" later"));
    }
    Line::from(spans)
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
            body.push(keys_line(app, Component::Confirm, "    ", true));
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
            body.push(keys_line(app, Component::Manual, "  ", true));
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
                        drbook_core::time::rfc3339_secs(t)
                    ),
                    None => {
                        "When did the outage begin? (UTC: 01:40, 2026-11-25T01:40:00Z, 25m ago)"
                            .into()
                    }
                },
                Purpose::RunbooksFolder => {
                    "Write the runbooks, a plan and discovery.json into this folder (Ctrl-U clears):"
                        .into()
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
                keys_line(app, Component::Quit, "   ", false),
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
                keys_line(app, Component::Takeover, "   ", false),
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
                keys_line(app, Component::Unclaimed, "   ", false),
            ];
            ("Run without a claim?".into(), body, 76, 10)
        }
        Dialog::Overwrite { dir, files } => {
            let mut body = vec![
                Line::from(format!(
                    "These {} file(s) exist in {}:",
                    files.len(),
                    dir.display()
                )),
                Line::from(Span::styled(files.join(", "), t.muted)),
                Line::from(
                    "Replace them with the ones generated now? Edits made to them are lost.",
                ),
                Line::default(),
            ];
            body.push(keys_line(app, Component::Overwrite, "   ", false));
            ("Replace the runbooks?".into(), body, 76, 8)
        }
        Dialog::Abort { key } => {
            let body = vec![
                Line::from(format!("Abort {key} while it runs?")),
                Line::from("A command is killed with its process group; an Azure operation"),
                Line::from("already accepted may still complete: check the resource after."),
                Line::default(),
                keys_line(app, Component::Abort, "   ", false),
            ];
            ("Abort?".into(), body, 70, 7)
        }
    }
}

pub(crate) fn dialog_frame(app: &App, d: &Dialog, size: Rect) -> DialogFrame {
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

/// The two-person approval: the step, exactly what it will do, who runs it and who approves.
fn approve_dialog(
    app: &App,
    key: &drbook_core::runbook::plan::StepKey,
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
    body.push(keys_line(app, Component::Approve, "    ", true));
    ("Two-person rule: a commander approves".into(), body, 72, 16)
}

/// A `key: value` line, the key muted: detail and dialogs alike.
pub fn kv<'a>(t: &Theme, k: &'a str, v: String) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{k}: "), t.muted), Span::raw(v)])
}
