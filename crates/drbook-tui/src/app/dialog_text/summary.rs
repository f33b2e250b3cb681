//! The review summary: the verdict, RTO achieved, the critical path, waits on people.

use super::*;

/// RTO achieved per runbook and for the plan, the critical path with what each step took,
/// and the steps that waited longest on a person (a confirmation, a manual step).
pub(super) fn summary_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let verdict = app.incident_verdict();
    let mut lines = Vec::new();
    if let Some(r) = &app.replay {
        let style = if r.intact { t.ok } else { t.fail };
        let head = app
            .head
            .as_ref()
            .map_or_else(String::new, |h| format!(" · head {h}"));
        lines.push(Line::from(Span::styled(
            format!("Log: {}{head}", r.detail),
            style,
        )));
        lines.push(Line::from(format!(
            "Operators: {}",
            app.state.operators.join(", ")
        )));
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled("RTO achieved", t.title)));
    lines.extend(
        drbook_report::scorecard::render(&verdict)
            .lines()
            .map(|l| Line::from(format!("  {l}"))),
    );
    // As it ran, the same chain the reports give.
    let path = verdict.critical_path;
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!(
            "Critical path: {} step{}",
            path.len(),
            if path.len() == 1 { "" } else { "s" }
        ),
        t.title,
    )));
    // By runbook: the steps of each and the time they took, in the order they ran.
    let mut legs: Vec<(String, usize, u64)> = Vec::new();
    for k in &path {
        let ms = app
            .state
            .step(&k.runbook, &k.step)
            .and_then(|s| s.elapsed_ms(app.now))
            .unwrap_or(0);
        match legs.last_mut() {
            Some((rb, n, total)) if *rb == k.runbook => {
                *n += 1;
                *total += ms;
            }
            _ => legs.push((k.runbook.clone(), 1, ms)),
        }
    }
    let shown: Vec<String> = legs
        .iter()
        .map(|(rb, n, ms)| format!("{rb} ({n} steps, {})", drbook_core::time::took(*ms)))
        .collect();
    lines.push(Line::from(format!("  {}", shown.join(" → "))));
    let mut waits: Vec<(u64, String)> = Vec::new();
    for rb in &app.state.runbooks {
        for st in &rb.steps {
            let key = drbook_core::runbook::plan::StepKey::new(rb.id.clone(), st.id.clone());
            if let Some(c) = &st.confirmation {
                let end = c.answer.as_ref().map_or(app.now, |a| a.ts);
                let ms = u64::try_from((end - c.requested).num_milliseconds()).unwrap_or(0);
                let who = c
                    .answer
                    .as_ref()
                    .map_or("nobody yet".to_string(), |a| a.by.clone());
                waits.push((ms, format!("{key}: confirmation, answered by {who}")));
            }
            let manual = app
                .board
                .step(&key)
                .is_some_and(|s| s.kind == drbook_core::runbook::model::StepKind::Manual);
            if manual && let Some(ms) = st.elapsed_ms(app.now) {
                waits.push((ms, format!("{key}: manual step")));
            }
        }
    }
    waits.sort_by_key(|w| std::cmp::Reverse(w.0));
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("Longest waits on people", t.title)));
    if waits.is_empty() {
        lines.push(Line::from("  none"));
    }
    for (ms, what) in waits.into_iter().take(5) {
        lines.push(Line::from(format!(
            "  {:>7}  {what}",
            drbook_core::time::took(ms)
        )));
    }
    lines
}
