//! The header: incident, roles, the RTO clock and the share badge.

use super::*;

pub(super) fn left_of(deadline: std::time::Duration, elapsed: std::time::Duration) -> String {
    if elapsed <= deadline {
        format!("{} left", clock((deadline - elapsed).as_secs()))
    } else {
        format!("OVER by {}", clock((elapsed - deadline).as_secs()))
    }
}

pub(super) fn header(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let (badge, style) = if app.info.rehearsal {
        let level = match app.info.level {
            Some(RehearsalLevel::DryRun) => " DRY RUN",
            Some(RehearsalLevel::ReadOnly) => " READ-ONLY",
            _ => "",
        };
        (format!(" REHEARSAL{level} "), t.rehearsal)
    } else {
        (" LIVE ".to_string(), t.live)
    };
    let mut first = Vec::new();
    if app.info.review {
        first.push(Span::styled(
            " REVIEW ",
            t.title.add_modifier(Modifier::REVERSED),
        ));
        first.push(Span::raw(" "));
    }
    first.extend([
        Span::styled(badge, style),
        Span::styled(
            format!(" {} ", app.info.title),
            t.header.add_modifier(Modifier::BOLD),
        ),
    ]);
    // The log's head, right-aligned, to quote in the incident ticket: it wins its room over
    // the target's name, which the operator knows anyway.
    let head = app
        .head
        .as_ref()
        .map_or_else(String::new, |h| format!(" log {h} "));
    let used: usize = first.iter().map(Span::width).sum();
    let room = usize::from(area.width).saturating_sub(used + head.chars().count());
    let target = truncate(&format!("on {}", app.info.target), room);
    let pad = room.saturating_sub(target.chars().count());
    first.push(Span::styled(target, t.muted));
    if !head.is_empty() {
        first.push(Span::raw(" ".repeat(pad)));
        first.push(Span::styled(head, t.muted));
    }
    let first = Line::from(first);
    let wide = area.width >= 120;
    let mut second = Vec::new();
    if let Some(r) = &app.replay {
        // What moment this is, and whether the log can be trusted, come first in a review.
        let total = app.timeline.events.len();
        second.push(Span::styled(
            format!(
                " at {} · event {}/{total} ",
                app.now.format("%H:%M:%S"),
                r.at
            ),
            t.header.add_modifier(Modifier::BOLD),
        ));
        let (mark, style) = match (r.intact, r.trusted) {
            (true, _) => ("✔", t.ok),
            (false, true) => ("⚠", t.warn),
            (false, false) => ("✘", t.fail),
        };
        second.push(Span::styled(format!("{mark} {} ", r.verdict), style));
    } else {
        // Narrow screens name the role only when it is not the default (operator), and the
        // commander as IC, so the RTO countdowns keep their room.
        let role = app.role();
        let me = &app.info.operator;
        second.push(Span::styled(
            match (wide, role) {
                (true, r) => format!(" {} {me} ", r.title()),
                (false, Role::Operator) => format!(" {me} "),
                (false, Role::Commander) => format!(" {me} (IC) "),
                (false, r) => format!(" {me} ({r}) "),
            },
            if role == Role::Operator {
                t.header
            } else {
                t.header.add_modifier(Modifier::BOLD)
            },
        ));
    }
    let c = crate::clock::of(app);
    let elapsed = c.elapsed;
    let since = match (c.from_outage, wide) {
        (true, true) => " since the outage",
        (true, false) => " outage",
        (false, _) => "",
    };
    let stopped = if c.verdict.is_some() { "⏹" } else { "⏱" };
    second.push(Span::styled(
        format!("│ {stopped} {}{since} ", clock(elapsed.as_secs())),
        t.header,
    ));
    match c.verdict {
        // The scorecard's verdict, in words: the clock has stopped.
        Some(true) => second.push(Span::styled(
            " RECOVERED ",
            t.ok.add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )),
        Some(false) => second.push(Span::styled(
            " NOT RECOVERED ",
            t.fail.add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )),
        None => {}
    }
    if let Some((rb, r)) = &c.tightest {
        let text = if wide {
            format!(
                "│ next RTO {rb} {} {} ",
                clock(r.as_secs()),
                left_of(*r, elapsed)
            )
        } else {
            format!("│ RTO {} ", left_of(*r, elapsed))
        };
        let style = if elapsed > *r { t.fail } else { t.header };
        second.push(Span::styled(text, style));
    }
    if let Some(r) = app.info.plan_rto.filter(|_| c.verdict.is_none()) {
        let style = if elapsed > r { t.fail } else { t.header };
        let text = if wide {
            format!("│ plan RTO {} {} ", clock(r.as_secs()), left_of(r, elapsed))
        } else {
            format!("│ plan {} ", left_of(r, elapsed))
        };
        second.push(Span::styled(text, style));
    }
    if let Some(s) = &app.share {
        second.push(share_badge(app, s, wide));
    }
    if app.state.is_paused() {
        second.push(Span::styled(
            " ⏸ PAUSED ",
            t.warn.add_modifier(Modifier::REVERSED),
        ));
    }
    if app.state.closed.is_some() {
        second.push(Span::styled(
            " ■ CLOSED ",
            t.muted.add_modifier(Modifier::REVERSED),
        ));
    }
    // Estimates last: the share, a pause and a closed incident keep their room.
    let mut later = Vec::new();
    if let Some((key, left)) = &c.wait {
        let text = if wide {
            format!("│ ⧗ {key} {} left ", clock(left.as_secs()))
        } else {
            format!("│ ⧗{} ", clock(left.as_secs()))
        };
        later.push(Span::styled(text, t.header));
    }
    if let Some(f) = &c.finish {
        // An upper bound, and said to be one: timeouts, not history.
        let untimed = match f.untimed {
            0 => String::new(),
            n => format!("; {n} manual"),
        };
        let text = if wide {
            format!("│ done ≤{} (by timeouts{untimed}) ", f.at.format("%H:%M"))
        } else {
            format!("│ done ≤{} ", f.at.format("%H:%M"))
        };
        later.push(Span::styled(text, t.muted));
    }
    second.extend(later);
    let p = Paragraph::new(vec![first, Line::from(second)]).style(t.header);
    f.render_widget(p, area);
}

/// The shared timeline in the header: who is online, or that it is offline and how much
/// waits to be shared.
pub(super) fn share_badge<'a>(
    app: &App,
    s: &drbook_engine::share::ShareView,
    wide: bool,
) -> Span<'a> {
    let t = &app.theme;
    if !s.online && s.problem.is_none() {
        return Span::styled("│ share: connecting… ".to_string(), t.muted);
    }
    if !s.online {
        let why = match (&s.problem, wide) {
            (Some(p), true) => format!(": {p}"),
            _ => String::new(),
        };
        return Span::styled(
            format!(" SHARE OFFLINE · {} queued{why} ", s.queued),
            t.warn.add_modifier(Modifier::REVERSED),
        );
    }
    let online = s.online_peers(app.now);
    let text = if wide {
        let names: Vec<String> = online
            .iter()
            .map(|p| match p.role.as_str() {
                "commander" => format!("{} (IC)", p.op),
                "scribe" => format!("{} (scribe)", p.op),
                _ => p.op.clone(),
            })
            .collect();
        format!("│ shared ● {} ", names.join(", "))
    } else {
        format!("│ shared ● {} online ", online.len())
    };
    Span::styled(text, t.ok)
}
