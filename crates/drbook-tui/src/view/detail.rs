//! The detail pane: the selected step, its approvals and its history.

use super::*;

pub(super) fn detail(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let b = block(app, "Detail", Pane::Detail);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(s) = app.selected_step() else {
        return;
    };
    let st = app.state.step(&s.key.runbook, &s.key.step);
    let shown = app.shown(&s.key);
    let (icon, word) = shown.label();
    let mut lines: Vec<Line> = Vec::new();
    let confirm = if s.confirm { " · asks first" } else { "" };
    let two = if s.two_person { " · two-person" } else { "" };
    lines.push(Line::from(vec![
        Span::styled(format!("{icon} {word} "), shown_style(t, shown)),
        Span::styled(s.title.clone(), t.base.add_modifier(Modifier::BOLD)),
        Span::styled(format!("  [{}{confirm}{two}]", s.kind), t.muted),
    ]));
    if let Some(a) = st.and_then(|x| x.approval.as_ref()) {
        lines.push(approval_line(t, a));
    }
    if let Some(h) = app.held_by_other(&s.key) {
        lines.push(Line::from(Span::styled(
            format!(
                "⚑ held by {} since {} UTC on the shared timeline: {} takes it over",
                h.op,
                h.since.format("%H:%M:%S"),
                app.keys
                    .keys_for(Action::Takeover)
                    .first()
                    .cloned()
                    .unwrap_or_default()
            ),
            t.warn,
        )));
    }
    if !s.target.is_empty() {
        lines.push(kv(t, "target", s.target.clone()));
    }
    if let Some(p) = app.progress.get(&s.key) {
        lines.push(kv(t, "now", p.clone()));
    }
    if let Some(st) = st {
        // An assessment's read is what it found, shown neutrally: its FAIL is no failure.
        let found = (st.status == StepStatus::Assessed)
            .then(|| st.outputs.get("finding"))
            .flatten();
        if let Some(f) = found {
            lines.push(Line::from(vec![
                Span::styled("finding: ", t.muted),
                Span::styled(f.clone(), t.finding.add_modifier(Modifier::BOLD)),
                Span::styled(" (what the assessment found, not a failure)", t.muted),
            ]));
        }
        if let Some(c) = &st.last_check {
            let v = match c.verdict {
                _ if found.is_some() => "assessed",
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Error => "ERROR",
                Verdict::Finding => "assessed",
            };
            lines.push(kv(t, "expected", c.expected.clone()));
            lines.push(Line::from(vec![
                Span::styled("actual: ", t.muted),
                Span::raw(c.actual.clone()),
                Span::styled(
                    format!("  {v} at {} ({} ms)", c.ts.format("%H:%M:%S"), c.latency_ms),
                    if found.is_some() {
                        t.finding
                    } else if c.verdict == Verdict::Pass {
                        t.ok
                    } else {
                        t.fail
                    },
                ),
            ]));
        }
        if let Some(e) = &st.error {
            lines.push(Line::from(Span::styled(format!("error: {e}"), t.fail)));
        }
        if let Some(r) = &st.skip_reason {
            lines.push(kv(t, "skipped", r.clone()));
        }
    }
    if let Some(l) = app.live.get(&s.key) {
        lines.push(Line::from(vec![
            Span::styled("live: ", t.muted),
            Span::raw(format!("{} ", l.actual)),
            Span::styled(
                format!(
                    "{} at {} (read for the screen, not logged)",
                    l.verdict,
                    l.at.format("%H:%M:%S")
                ),
                if l.verdict == "PASS" { t.ok } else { t.warn },
            ),
        ]));
    }
    if let Some(i) = app.board.instructions(&s.key, &app.state) {
        lines.push(Line::default());
        lines.extend(reflow(&i).into_iter().map(Line::from));
    }
    if let Some(st) = st {
        if !st.output.is_empty() {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled("output (newest last):", t.muted)));
            for o in st.output.iter().rev().take(8).rev() {
                lines.push(Line::from(format!("  {}", o.line)));
            }
        }
        history(t, st, &mut lines);
    }
    let p = Paragraph::new(Text::from(lines))
        .style(t.base)
        .wrap(Wrap { trim: false })
        .scroll((app.detail_scroll, 0));
    f.render_widget(p, inner);
}

/// Where a two-person step stands: who it waits for, or who approved it.
pub(super) fn approval_line(
    t: &Theme,
    a: &drbook_core::incident::state::Approval,
) -> Line<'static> {
    match &a.answer {
        None => Line::from(Span::styled(
            format!(
                "⚖ awaits approval by a commander other than {} (two-person rule)",
                a.operator
            ),
            t.waiting,
        )),
        Some(ans) => {
            let at = ans
                .keyboard
                .as_ref()
                .map(|k| format!(" at {k}'s keyboard"))
                .unwrap_or_default();
            let word = if ans.approved { "approved" } else { "declined" };
            Line::from(Span::styled(
                format!(
                    "⚖ {word} by {} ({}){at}, run by {}",
                    ans.by,
                    ans.role.title(),
                    a.operator
                ),
                if ans.approved { t.ok } else { t.warn },
            ))
        }
    }
}

pub(super) fn history(t: &Theme, st: &drbook_core::incident::StepState, lines: &mut Vec<Line>) {
    let mut h: Vec<(chrono::DateTime<chrono::Utc>, String)> = Vec::new();
    if let Some(s) = st.started {
        h.push((s, "started".into()));
    }
    if let Some(c) = &st.confirmation {
        h.push((c.requested, "asked to confirm".into()));
        if let Some(a) = &c.answer {
            let w = if a.approved { "approved" } else { "declined" };
            h.push((a.ts, format!("{w} by {}", a.by)));
        }
    }
    if let Some(a) = &st.approval {
        h.push((a.requested, "asked a commander to approve".into()));
        if let Some(ans) = &a.answer {
            let w = if ans.approved { "approved" } else { "declined" };
            h.push((ans.ts, format!("{w} by {} ({})", ans.by, ans.role.title())));
        }
    }
    for r in &st.retries {
        h.push((r.ts, format!("attempt {}: {}", r.attempt, r.reason)));
    }
    for n in &st.notes {
        h.push((n.ts, format!("note by {}: {}", n.actor, n.text)));
    }
    if let Some(fin) = st.finished {
        let w = match st.status {
            StepStatus::Done => "done",
            StepStatus::Assessed => "assessed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            _ => "finished",
        };
        h.push((fin, w.into()));
    }
    if h.is_empty() {
        return;
    }
    h.sort_by_key(|(ts, _)| *ts);
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("history:", t.muted)));
    for (ts, what) in h {
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", ts.format("%H:%M:%S")), t.muted),
            Span::raw(what),
        ]));
    }
}
