//! The SVG charts of the HTML report: a Gantt of steps by runbook over time (bars coloured
//! and labelled by outcome, the critical path outlined) and a sparkline of recovery times.
//! Plain SVG text, no script, so the page stays self-contained.

use std::fmt::Write;

use super::analysis::Analysis;
use super::stats::ms;

const LABEL_W: f64 = 330.0;
const CHART_W: f64 = 900.0;
const OUTCOME_W: f64 = 110.0;
const ROW_H: f64 = 20.0;
const AXIS_H: f64 = 28.0;

/// Fill colour and label of a status: the label is written next to each bar so the chart
/// reads without colour.
pub fn style(status: &str) -> (&'static str, &'static str) {
    match status {
        "done" => ("#2e7d32", "✔ done"),
        "failed" => ("#c62828", "✘ failed"),
        "assessed" => ("#5c6bc0", "◆ finding"),
        "skipped" => ("#757575", "↷ skipped"),
        "interrupted" => ("#ef6c00", "⚡ interrupted"),
        "not_started" => ("#cfd8dc", "· not started"),
        _ => ("#1565c0", "… unfinished"),
    }
}

pub fn gantt(a: &Analysis) -> String {
    let Some((t0, t1)) = a.span() else {
        return "<p>No step started: nothing to chart.</p>".into();
    };
    let total_ms = (t1 - t0).num_milliseconds().max(1) as f64;
    let x = |t: chrono::DateTime<chrono::Utc>| {
        LABEL_W + CHART_W * ((t - t0).num_milliseconds() as f64 / total_ms)
    };
    let mut rows = String::new();
    let mut y = AXIS_H;
    for rb in &a.runbooks {
        let _ = writeln!(
            rows,
            r#"<text x="4" y="{:.1}" class="rb">{}</text><line x1="0" x2="{:.1}" y1="{:.1}" y2="{:.1}" class="sep"/>"#,
            y + 14.0,
            esc(&rb.id),
            LABEL_W + CHART_W + OUTCOME_W,
            y + ROW_H,
            y + ROW_H
        );
        y += ROW_H;
        for s in a.steps.iter().filter(|s| s.runbook == rb.id) {
            let (fill, label) = style(s.status);
            let _ = write!(
                rows,
                r#"<text x="14" y="{:.1}" class="step">{}</text>"#,
                y + 14.0,
                esc(&s.step)
            );
            if let Some(start) = s.started {
                let end = s.finished.unwrap_or(t1);
                let (x0, x1) = (x(start), x(end).max(x(start) + 2.0));
                let crit = if s.on_critical_path {
                    r##" stroke="#000" stroke-width="2""##
                } else {
                    ""
                };
                let tip = format!(
                    "{}/{}: {} in {}",
                    s.runbook,
                    s.step,
                    s.status,
                    s.duration_ms.map_or("-".into(), ms)
                );
                let _ = write!(
                    rows,
                    r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"{crit}><title>{}</title></rect>"#,
                    y + 3.0,
                    x1 - x0,
                    ROW_H - 6.0,
                    esc(&tip)
                );
                let _ = write!(
                    rows,
                    r#"<text x="{:.1}" y="{:.1}" class="out" fill="{fill}">{} {}</text>"#,
                    (x1 + 4.0).min(LABEL_W + CHART_W + 4.0),
                    y + 14.0,
                    label,
                    s.duration_ms.map_or(String::new(), ms)
                );
            } else if let Some(at) = s.finished {
                // Skipped without starting: a tick where it was decided.
                let x0 = x(at);
                let _ = write!(
                    rows,
                    r#"<rect x="{:.1}" y="{:.1}" width="2" height="{:.1}" fill="{fill}"/><text x="{:.1}" y="{:.1}" class="out" fill="{fill}">{label}</text>"#,
                    x0 - 1.0,
                    y + 3.0,
                    ROW_H - 6.0,
                    (x0 + 4.0).min(LABEL_W + CHART_W + 4.0),
                    y + 14.0
                );
            } else {
                let _ = write!(
                    rows,
                    r##"<text x="{:.1}" y="{:.1}" class="out" fill="#607d8b">{label}</text>"##,
                    LABEL_W + 4.0,
                    y + 14.0
                );
            }
            rows.push('\n');
            y += ROW_H;
        }
    }
    let mut axis = String::new();
    for i in 0..=5 {
        let f = i as f64 / 5.0;
        let tx = LABEL_W + CHART_W * f;
        let _ = write!(
            axis,
            r#"<line x1="{tx:.1}" x2="{tx:.1}" y1="{:.1}" y2="{y:.1}" class="grid"/><text x="{tx:.1}" y="16" class="tick">+{}</text>"#,
            AXIS_H - 6.0,
            ms((total_ms * f) as u64)
        );
    }
    let w = LABEL_W + CHART_W + OUTCOME_W;
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{w:.0}" height="{:.0}" viewBox="0 0 {w:.0} {:.0}" role="img" aria-label="Timeline of steps by runbook">
<style>.rb{{font:bold 13px sans-serif}} .step{{font:12px monospace}} .out{{font:11px sans-serif}} .tick{{font:11px sans-serif;text-anchor:middle;fill:#555}} .grid{{stroke:#ddd}} .sep{{stroke:#eee}}</style>
{axis}
{rows}</svg>"#,
        y + 6.0,
        y + 6.0
    )
}

/// Recovery time per run as a small line, oldest to newest, the last point marked.
pub fn sparkline(values: &[u64]) -> String {
    let (w, h) = (300.0, 50.0);
    let max = values.iter().copied().max().unwrap_or(1).max(1) as f64;
    let n = values.len().max(2) as f64 - 1.0;
    let pts: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                5.0 + (w - 10.0) * i as f64 / n,
                h - 5.0 - (h - 10.0) * (*v as f64 / max),
            )
        })
        .collect();
    let line: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let last = pts.last().map_or(String::new(), |(x, y)| {
        format!(r##"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="#c62828"/>"##)
    });
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{w}" height="{h}" role="img" aria-label="Recovery time per run"><polyline points="{}" fill="none" stroke="#1565c0" stroke-width="2"/>{last}</svg>"##,
        line.join(" ")
    )
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
