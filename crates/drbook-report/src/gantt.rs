//! The SVG charts of the HTML report: a Gantt of steps by runbook over time (bars coloured
//! and labelled by outcome, the critical path outlined) and a sparkline of recovery times.
//! Plain SVG text, no script, so the page stays self-contained.

use std::fmt::Write;

use super::analysis::Analysis;
use super::html::escape;
use drbook_core::time::compact_ms as ms;

const LABEL_W: f64 = 330.0;
const CHART_W: f64 = 900.0;
const OUTCOME_W: f64 = 150.0;
const ROW_H: f64 = 20.0;
/// The band of marker labels (RTOs, traffic restored), then the axis' tick labels.
const MARK_H: f64 = 16.0;
const AXIS_H: f64 = 50.0;
/// The chart's whole width: every label stays inside it.
pub const WIDTH: f64 = LABEL_W + CHART_W + OUTCOME_W;

/// Round tick spacings, in seconds: 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3,
/// 6, 12 h, a day.
const TICKS: [u64; 18] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/// The roundest spacing that puts at most 8 ticks on `total_ms`.
pub fn tick_step(total_ms: u64) -> u64 {
    let total_s = total_ms.div_ceil(1000);
    TICKS
        .iter()
        .copied()
        .find(|t| total_s / t <= 8)
        .unwrap_or(86400)
}

/// About how wide `s` is in the chart's 11-12px fonts: labels are placed so they end inside.
pub fn text_width(s: &str) -> f64 {
    s.chars().count() as f64 * 7.0
}

/// A label at `x` that stays inside the chart: it ends at `x` when it would not fit after it.
fn label(x: f64, y: f64, class: &str, fill: &str, text: &str) -> String {
    let w = text_width(text);
    let (x, anchor) = if x + w > WIDTH - 2.0 {
        ((x - 4.0).max(w), "end")
    } else {
        (x, "start")
    };
    format!(
        r#"<text x="{x:.1}" y="{y:.1}" class="{class}" fill="{fill}" text-anchor="{anchor}">{}</text>"#,
        escape(text)
    )
}

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

/// The runbooks in plan order, each with the name of the group it starts (for the boundary).
fn ordered(a: &Analysis) -> Vec<(Option<&str>, &super::analysis::RunbookReport)> {
    let mut out = Vec::new();
    let mut placed = std::collections::BTreeSet::new();
    for (name, ids) in &a.groups {
        let mut first = true;
        for id in ids {
            if let Some(rb) = a.runbooks.iter().find(|r| &r.id == id) {
                out.push((first.then_some(name.as_str()), rb));
                first = false;
                placed.insert(rb.id.as_str());
            }
        }
    }
    let rest: Vec<_> = a
        .runbooks
        .iter()
        .filter(|r| !placed.contains(r.id.as_str()))
        .collect();
    for (i, rb) in rest.into_iter().enumerate() {
        let name = (i == 0 && !a.groups.is_empty()).then_some("not in the plan");
        out.push((name, rb));
    }
    out
}

pub fn gantt(a: &Analysis) -> String {
    let Some((first, t1)) = a.span() else {
        return "<p>No step started: nothing to chart.</p>".into();
    };
    let outage = a.incident.as_ref().and_then(|i| i.outage_since);
    // The clock starts at the outage when it is known: the RTO counts from there.
    let t0 = outage.map_or(first, |o| o.min(first));
    let total_ms = (t1 - t0).num_milliseconds().max(1) as f64;
    let x = |t: chrono::DateTime<chrono::Utc>| {
        LABEL_W + CHART_W * ((t - t0).num_milliseconds() as f64 / total_ms).clamp(0.0, 1.0)
    };
    let mut rows = String::new();
    let mut y = AXIS_H;
    for (group, rb) in ordered(a) {
        if let Some(name) = group {
            let _ = writeln!(
                rows,
                r#"<line x1="0" x2="{WIDTH:.1}" y1="{y:.1}" y2="{y:.1}" class="group"/>{}"#,
                label(4.0, y + 14.0, "grp", "#37474f", &format!("▌{name}"))
            );
            y += ROW_H;
        }
        let _ = writeln!(
            rows,
            r#"{}<line x1="0" x2="{WIDTH:.1}" y1="{:.1}" y2="{:.1}" class="sep"/>"#,
            label(4.0, y + 14.0, "rb", "#222", &rb.id),
            y + ROW_H,
            y + ROW_H
        );
        y += ROW_H;
        for s in a.steps.iter().filter(|s| s.runbook == rb.id) {
            let (fill, word) = style(s.status);
            rows.push_str(&label(14.0, y + 14.0, "step", "#222", &s.step));
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
                    escape(&tip)
                );
                let text = format!("{word} {}", s.duration_ms.map_or(String::new(), ms));
                rows.push_str(&label(x1 + 4.0, y + 14.0, "out", fill, text.trim_end()));
            } else if let Some(at) = s.finished {
                // Skipped without starting: a tick where it was decided.
                let x0 = x(at);
                let _ = write!(
                    rows,
                    r#"<rect x="{:.1}" y="{:.1}" width="2" height="{:.1}" fill="{fill}"/>"#,
                    x0 - 1.0,
                    y + 3.0,
                    ROW_H - 6.0,
                );
                rows.push_str(&label(x0 + 4.0, y + 14.0, "out", fill, word));
            } else {
                rows.push_str(&label(LABEL_W + 4.0, y + 14.0, "out", "#607d8b", word));
            }
            rows.push('\n');
            y += ROW_H;
        }
    }
    let mut axis = String::new();
    let step_s = tick_step(total_ms as u64);
    let mut k = 0u64;
    while (k * step_s * 1000) as f64 <= total_ms {
        let tx = LABEL_W + CHART_W * ((k * step_s * 1000) as f64 / total_ms);
        let text = format!(
            "+{}",
            drbook_core::time::exact(std::time::Duration::from_secs(k * step_s))
        );
        let _ = write!(
            axis,
            r#"<line x1="{tx:.1}" x2="{tx:.1}" y1="{:.1}" y2="{y:.1}" class="grid"/><text x="{tx:.1}" y="{:.1}" class="tick">{}</text>"#,
            AXIS_H - 6.0,
            MARK_H + 24.0,
            escape(&text)
        );
        k += 1;
    }
    let (marks, beyond) = markers(a, t0, t1, outage);
    let mut lines = String::new();
    for (i, (at, text, color)) in marks.iter().enumerate() {
        let mx = x(*at);
        // Alternate rows, so labels of deadlines close together do not overwrite each other.
        let ly = if i % 2 == 0 { 11.0 } else { 24.0 };
        let _ = write!(
            lines,
            r#"<line x1="{mx:.1}" x2="{mx:.1}" y1="2" y2="{y:.1}" stroke="{color}" stroke-width="1.5" stroke-dasharray="5 3" class="mark"/>{}"#,
            label(mx + 3.0, ly, "mk", color, text)
        );
    }
    let mut foot = String::new();
    if !beyond.is_empty() {
        y += 6.0;
        foot = label(
            4.0,
            y + 12.0,
            "out",
            "#c62828",
            &format!("Beyond the chart: {}", beyond.join("; ")),
        );
        y += ROW_H;
    }
    let h = y + 6.0;
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{WIDTH:.0}" height="{h:.0}" viewBox="0 0 {WIDTH:.0} {h:.0}" role="img" aria-label="Timeline of steps by runbook, in plan order">
<style>.rb{{font:bold 13px sans-serif}} .grp{{font:bold 12px sans-serif}} .step{{font:12px monospace}} .out,.mk{{font:11px sans-serif}} .tick{{font:11px sans-serif;text-anchor:middle;fill:#555}} .grid{{stroke:#ddd}} .sep{{stroke:#eee}} .group{{stroke:#90a4ae;stroke-width:2}}</style>
{axis}
{rows}{lines}{foot}</svg>"#
    )
}

type Mark = (chrono::DateTime<chrono::Utc>, String, &'static str);

/// The vertical markers inside the chart (the outage start, each RTO deadline, traffic
/// restored) and, in words, the RTO deadlines past its end.
fn markers(
    a: &Analysis,
    t0: chrono::DateTime<chrono::Utc>,
    t1: chrono::DateTime<chrono::Utc>,
    outage: Option<chrono::DateTime<chrono::Utc>>,
) -> (Vec<Mark>, Vec<String>) {
    let mut marks: Vec<Mark> = Vec::new();
    let mut beyond = Vec::new();
    if let Some(o) = outage {
        marks.push((o, "outage began".into(), "#6a1b9a"));
    }
    let origin = outage.unwrap_or(t0);
    let mut rtos: Vec<(String, String)> = a
        .plan
        .rto_target
        .iter()
        .map(|r| ("plan".to_string(), r.clone()))
        .collect();
    rtos.extend(
        a.runbooks
            .iter()
            .filter_map(|r| r.rto_target.as_ref().map(|t| (r.id.clone(), t.clone()))),
    );
    // One marker per deadline, naming every runbook that shares it.
    let mut deadlines: Vec<(chrono::DateTime<chrono::Utc>, String, Vec<String>)> = Vec::new();
    for (who, rto) in rtos {
        let Some(d) = drbook_core::time::parse_duration(&rto)
            .ok()
            .and_then(|d| chrono::Duration::from_std(d).ok())
        else {
            continue;
        };
        let at = origin + d;
        match deadlines.iter_mut().find(|(t, _, _)| *t == at) {
            Some((_, _, names)) => names.push(who),
            None => deadlines.push((at, rto, vec![who])),
        }
    }
    deadlines.sort_by_key(|(t, _, _)| *t);
    let mut late_runbooks = 0;
    for (at, rto, names) in deadlines {
        if at <= t1 {
            marks.push((at, format!("RTO {rto}: {}", names.join(", ")), "#c62828"));
        } else {
            if names.iter().any(|n| n == "plan") {
                beyond.push(format!("the plan's RTO ({rto})"));
            }
            late_runbooks += names.iter().filter(|n| *n != "plan").count();
        }
    }
    if late_runbooks > 0 {
        beyond.push(format!("the RTO of {late_runbooks} runbook(s)"));
    }
    let restored = a
        .steps
        .iter()
        .filter(|s| s.traffic && s.status == "done")
        .filter_map(|s| s.finished)
        .max();
    if let Some(at) = restored {
        marks.push((at, "traffic restored".into(), "#2e7d32"));
    }
    (marks, beyond)
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
