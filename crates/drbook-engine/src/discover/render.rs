//! `Discovery` as text (a terminal) and Markdown (a pull request, a wiki). JSON is its serde
//! serialisation.

use std::fmt::Write;

use super::{Discovery, Severity};

/// The last path segment of an id: its name.
fn name(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

pub fn text(d: &Discovery) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "subscription {}: {} resources, primary {}, secondary {}",
        d.subscription, d.resources, d.primary, d.secondary
    );
    for c in &d.components {
        let _ = writeln!(
            o,
            "\n{} ({} resources) → runbook {}",
            c.component,
            c.resources.len(),
            c.runbook
        );
        if let Some(r) = d.readiness.iter().find(|r| r.component == c.component) {
            let _ = writeln!(
                o,
                "  {}: RTO {}, RPO {} ({})",
                if r.ready { "ready" } else { "NOT READY" },
                r.rto,
                r.rpo,
                r.basis
            );
        }
        for (i, (p, s)) in c.pairs.iter().enumerate() {
            let rule = c.rules.get(i).map_or("", String::as_str);
            if p == s {
                let _ = writeln!(o, "  pair {} (spans both regions) [{rule}]", name(p));
            } else {
                let _ = writeln!(o, "  pair {} ↔ {} [{rule}]", name(p), name(s));
            }
        }
    }
    let _ = writeln!(o, "\nfindings: {}", summary(d));
    for f in &d.findings {
        let _ = writeln!(
            o,
            "  {:<8} {:<32} {}",
            f.severity.as_str(),
            f.code,
            f.resource
        );
        let _ = writeln!(o, "           {}", f.message);
        let _ = writeln!(o, "           fix: {}", f.fix);
    }
    if !d.uncovered.is_empty() {
        let _ = writeln!(o, "\nnot covered by any component ({}):", d.uncovered.len());
        for u in &d.uncovered {
            let _ = writeln!(o, "  {u}");
        }
    }
    o
}

fn summary(d: &Discovery) -> String {
    let count = |s: Severity| d.findings.iter().filter(|f| f.severity == s).count();
    format!(
        "{} critical, {} high, {} medium, {} low",
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low)
    )
}

/// Markdown: `|` in a cell escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(d: &Discovery) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# DR readiness: {} → {}\n", d.primary, d.secondary);
    let _ = writeln!(
        o,
        "Subscription `{}`, {} resources. Findings: {}.\n",
        d.subscription,
        d.resources,
        summary(d)
    );
    let _ = writeln!(o, "## Components\n");
    let _ = writeln!(o, "| component | runbook | ready | RTO | RPO | pairs |");
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for c in &d.components {
        let r = d.readiness.iter().find(|r| r.component == c.component);
        let pairs: Vec<String> = c
            .pairs
            .iter()
            .enumerate()
            .map(|(i, (p, s))| {
                format!(
                    "`{}` ↔ `{}` ({})",
                    name(p),
                    name(s),
                    c.rules.get(i).map_or("", String::as_str)
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "| {} | `{}` | {} | {} | {} | {} |",
            c.component,
            c.runbook,
            r.map_or("?", |r| if r.ready { "yes" } else { "**no**" }),
            cell(r.map_or("", |r| r.rto.as_str())),
            cell(r.map_or("", |r| r.rpo.as_str())),
            cell(&pairs.join("<br>"))
        );
    }
    let _ = writeln!(o, "\n## Findings\n");
    if d.findings.is_empty() {
        let _ = writeln!(o, "None.");
    } else {
        let _ = writeln!(o, "| severity | code | resource | message | fix |");
        let _ = writeln!(o, "|---|---|---|---|---|");
        for f in &d.findings {
            let _ = writeln!(
                o,
                "| {} | `{}` | `{}` | {} | {} |",
                f.severity.as_str(),
                f.code,
                cell(&f.resource),
                cell(&f.message),
                cell(&f.fix)
            );
        }
    }
    if !d.uncovered.is_empty() {
        let _ = writeln!(o, "\n## Not covered\n");
        for u in &d.uncovered {
            let _ = writeln!(o, "- `{u}`");
        }
    }
    o
}
