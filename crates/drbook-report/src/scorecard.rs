//! The scorecard: the incident's one verdict (`report::verdict`) as text, a row per runbook
//! then the whole incident, so a live run, a resumed one, a replayed one and every report
//! say the same.

use super::verdict::Verdict;

/// The scorecard as text.
pub fn render(v: &Verdict) -> String {
    let mut out = format!(
        "  {:<28} {:>8} {:>10} {:>7}  {}\n",
        "runbook", "RTO", "took", "steps", "verdict"
    );
    let line = |out: &mut String, mark: &str, name: &str, rto, took, steps: String, words| {
        out.push_str(&format!(
            "{mark} {name:<28} {:>8} {:>10} {steps:>7}  {words}\n",
            fmt_rto(rto),
            fmt_took(took),
        ));
    };
    for r in &v.runbooks {
        line(
            &mut out,
            r.mark(),
            &r.id,
            r.rto,
            r.took,
            r.steps_text(),
            r.words(),
        );
    }
    line(
        &mut out,
        if v.recovered { "✔" } else { "✘" },
        "whole incident",
        v.plan_rto,
        v.took,
        v.steps_text(),
        v.words(),
    );
    out
}

fn fmt_rto(d: Option<std::time::Duration>) -> String {
    d.map_or("-".into(), drbook_core::time::exact)
}

fn fmt_took(d: Option<std::time::Duration>) -> String {
    d.map_or("-".into(), drbook_core::time::compact)
}
