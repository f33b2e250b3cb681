//! The `?` help: the keys that act here, then every key.

use super::*;
use crate::keys::KeyMap;

/// The actions that do something where the operator is: the open dialog, else the
/// focused pane, as that component's table declares them.
pub(crate) fn here(app: &App, over: Option<&Dialog>) -> (String, Vec<Action>) {
    use Action as A;
    let scroll = [A::Down, A::Up, A::PageDown, A::PageUp, A::Bottom, A::Top];
    let component = match over {
        Some(d) => Component::of_dialog(d),
        None if app.readiness_open() => Some(Component::Readiness),
        None => Some(Component::of_pane(app.focus)),
    };
    let (name, mut acts): (String, Vec<Action>) = match component {
        // A pane offers only what acts here: in a review, or for a scribe, the step actions
        // are refused, so the help does not list them.
        Some(c) => (
            c.name().into(),
            c.hints()
                .map(|(a, _)| a)
                .filter(|a| over.is_some() || app.offers(*a))
                .collect(),
        ),
        // A text input takes keys as text and is never under the help.
        None => ("this dialog".into(), vec![A::Yes, A::No]),
    };
    if over.is_some() {
        acts.extend(scroll);
    }
    if !app.prompts.is_empty() && over.is_none() && !app.readiness_open() {
        acts.insert(0, A::Answer);
    }
    (name, acts)
}

pub(super) fn key_line(app: &App, a: Action) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("{:>12}  ", app.keys.keys_for(a).join(" ")),
            app.theme.key,
        ),
        Span::raw(KeyMap::describe(a).to_string()),
    ])
}

pub(super) fn help_lines(app: &App, over: Option<&Dialog>) -> Vec<Line<'static>> {
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
    let actions: Vec<Action> = <Action as strum::IntoEnumIterator>::iter()
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
