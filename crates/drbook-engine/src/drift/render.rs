//! The text report of `drbook drift`: grouped, one line per resource, with the runbook file
//! and step that name it (or the component it belongs to).

use std::fmt::Write;

use super::Drift;

/// The report as text.
pub fn text(d: &Drift) -> String {
    let mut out = String::new();
    let _ = write_text(&mut out, d);
    out
}

fn write_text(out: &mut String, d: &Drift) -> std::fmt::Result {
    writeln!(
        out,
        "drift: {} resources named by the runbooks, checked in {} ({} → {})",
        d.referenced,
        d.subscriptions.join(", "),
        d.primary,
        d.secondary
    )?;
    match &d.generated {
        Some(g) => writeln!(out, "runbooks generated {g} (discovery.json)")?,
        None if d.snapshot => writeln!(out, "discovery.json gives no generation time")?,
        None => writeln!(
            out,
            "no discovery.json beside the runbooks: nothing to say what changed since they were generated"
        )?,
    }
    let named_by = |id: &str| -> String {
        d.named_by
            .get(&id.to_ascii_lowercase())
            .map(|v| {
                v.iter()
                    .map(|(f, s)| format!("{f} step {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    section(
        out,
        "missing: named by a runbook, no longer in the estate",
        d.missing
            .iter()
            .map(|id| format!("{id}  (named by {})", named_by(id))),
    )?;
    section(
        out,
        "type mismatch: named by a runbook, there with another type",
        d.type_mismatch.iter().map(|m| {
            format!(
                "{}  ({} step {} expects {}; found {}: {})",
                m.resource, m.file, m.step, m.expected, m.found, m.found_id
            )
        }),
    )?;
    section(
        out,
        "uncovered: in a component today, named by no runbook",
        d.uncovered.iter().map(|id| {
            let c = d
                .component_of
                .get(&id.to_ascii_lowercase())
                .map_or("", String::as_str);
            format!("{id}  (component {c})")
        }),
    )?;
    section(
        out,
        "known gaps: covered by no runbook, found by discover when the runbooks were generated (not drift)",
        d.gaps
            .iter()
            .map(|g| format!("{}  (finding {})", g.resource, g.finding)),
    )?;
    section(
        out,
        "gone since the runbooks were generated",
        d.gone.iter().map(|c| {
            let by = named_by(&c.resource);
            let by = if by.is_empty() {
                String::new()
            } else {
                format!("; named by {by}")
            };
            format!("{}  (was in component {}{by})", c.resource, c.component)
        }),
    )?;
    section(
        out,
        "new since the runbooks were generated",
        d.new
            .iter()
            .map(|c| format!("{}  (component {})", c.resource, c.component)),
    )?;
    section(
        out,
        "not checked",
        d.unchecked
            .iter()
            .map(|u| format!("{}  ({} step {}: {})", u.resource, u.file, u.step, u.reason)),
    )?;
    if !d.read_by_get.is_empty() {
        writeln!(
            out,
            "\n{} named resources read with a GET each: Resource Graph does not list their types",
            d.read_by_get.len()
        )?;
    }
    let verdict = if d.drifted() {
        format!(
            "DRIFTED: {} missing, {} type mismatch, {} uncovered, {} gone, {} new",
            d.missing.len(),
            d.type_mismatch.len(),
            d.uncovered.len(),
            d.gone.len(),
            d.new.len()
        )
    } else {
        "no drift: every named resource is there with its type, and the runbooks cover every component"
            .to_string()
    };
    writeln!(out, "\n{verdict}")
}

fn section(out: &mut String, title: &str, lines: impl Iterator<Item = String>) -> std::fmt::Result {
    let lines: Vec<String> = lines.collect();
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title} ({}):", lines.len())?;
    for l in lines {
        writeln!(out, "  {l}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::{Change, Mismatch};

    #[test]
    fn each_group_names_its_resources_and_who_names_them() {
        let mut d = Drift {
            missing: vec!["/x/sites/a".into()],
            type_mismatch: vec![Mismatch {
                resource: "/x/workflows/w".into(),
                expected: "microsoft.logic/workflows".into(),
                found: "microsoft.web/sites".into(),
                found_id: "/x/sites/w".into(),
                file: "logic.toml".into(),
                step: "enable".into(),
            }],
            new: vec![Change {
                resource: "/x/sites/n".into(),
                component: "web".into(),
            }],
            referenced: 2,
            subscriptions: vec!["s".into()],
            ..Drift::default()
        };
        d.named_by.insert(
            "/x/sites/a".into(),
            vec![("web.toml".into(), "start".into())],
        );
        let t = text(&d);
        assert!(t.contains("missing: named by a runbook, no longer in the estate (1):\n  /x/sites/a  (named by web.toml step start)\n"), "{t}");
        assert!(t.contains("/x/workflows/w  (logic.toml step enable expects microsoft.logic/workflows; found microsoft.web/sites: /x/sites/w)\n"), "{t}");
        assert!(
            t.contains(
                "new since the runbooks were generated (1):\n  /x/sites/n  (component web)\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("DRIFTED: 1 missing, 1 type mismatch, 0 uncovered, 0 gone, 1 new"),
            "{t}"
        );
        assert!(t.contains("no discovery.json"), "{t}");
        assert!(
            !t.contains("uncovered: in"),
            "empty groups are left out: {t}"
        );
        let t = text(&Drift::default());
        assert!(t.contains("no drift"), "{t}");
    }
}
