//! Across files: runbook ids unique in a set, and plans that name runbooks which exist.

use super::*;

pub(super) type Sources<'a> = HashMap<&'a std::path::Path, &'a SourceFile>;

pub(super) fn validate_ids_across_files(
    set: &LoadSet,
    sources: &Sources<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<&str, &Spanned<String>> = HashMap::new();
    let mut seen_file: HashMap<&str, &std::path::Path> = HashMap::new();
    let all = set
        .runbooks
        .iter()
        .map(|r| (&r.meta.id, &*r.file))
        .chain(set.plans.iter().map(|p| (&p.meta.id, &*p.file)));
    for (id, file) in all {
        let key = id.get_ref().as_str();
        if let Some(prev) = seen_file.get(key) {
            if let Some(src) = sources.get(file) {
                let (line, _) = sources
                    .get(*prev)
                    .map_or((0, 0), |p| p.line_col(seen[key].span().start));
                diags.push(
                    Diagnostic::error("duplicate-id", src, id.span(), format!("duplicate id `{key}`"))
                        .with_help(format!("`{}` line {line} already uses this id; runbook and plan ids must be unique", prev.display())),
                );
            }
            continue;
        }
        seen.insert(key, id);
        seen_file.insert(key, file);
    }
}

pub(super) fn validate_plans(set: &LoadSet, sources: &Sources<'_>, diags: &mut Vec<Diagnostic>) {
    let by_id: HashMap<&str, &Runbook> = set.runbooks.iter().rev().map(|r| (r.id(), r)).collect();
    // drbook carries out one plan: with two, `run` would have to pick one, unseen.
    if let [first, rest @ ..] = set.plans.as_slice() {
        for other in rest {
            let Some(src) = sources.get(&*other.file) else {
                continue;
            };
            diags.push(
                Diagnostic::error(
                    "duplicate-plan",
                    src,
                    other.meta.id.span(),
                    format!(
                        "a second plan: `{}` (plan `{}`) and `{}` (plan `{}`) are loaded together; which plan?",
                        first.file.display(),
                        first.id(),
                        other.file.display(),
                        other.id()
                    ),
                )
                .with_help("keep one plan per runbook folder: move the other plan to a folder of its own"),
            );
        }
    }
    for plan in &set.plans {
        let Some(src) = sources.get(&*plan.file).copied() else {
            continue;
        };
        if let Some(rto) = &plan.meta.rto {
            let problem = match parse_duration(rto.get_ref()) {
                Err(e) => Some(format!("is not a duration ({e})")),
                Ok(d) => duration_out_of_range("rto", d),
            };
            if let Some(p) = problem {
                diags.push(Diagnostic::error(
                    "bad-duration",
                    src,
                    rto.span(),
                    format!("`rto`: `{}` {p}", rto.get_ref()),
                ));
            }
        }
        let mut placed: HashMap<&str, &str> = HashMap::new();
        let mut members: Vec<&Runbook> = Vec::new();
        for group in &plan.groups {
            if group.runbooks.is_empty() {
                diags.push(Diagnostic::warning(
                    "kind-field",
                    src,
                    group.name.span(),
                    format!("group `{}` names no runbooks", group.name.get_ref()),
                ));
            }
            for name in &group.runbooks {
                let id = name.get_ref().as_str();
                match by_id.get(id) {
                    Some(rb) => members.push(rb),
                    None => {
                        let ids = set.runbooks.iter().map(|r| r.id());
                        let mut d = Diagnostic::error(
                            "unknown-runbook",
                            src,
                            name.span(),
                            format!("the plan names runbook `{id}`, which is not loaded"),
                        );
                        d = match did_you_mean(id, ids) {
                            Some(h) => d.with_help(format!("did you mean `{h}`?")),
                            None => d.with_help("no runbook given, nor any in the plan's own folder, has this id: give the folder that holds it too (`drbook validate PLAN RUNBOOK-FOLDER`)"),
                        };
                        diags.push(d);
                    }
                }
                if let Some(prev) = placed.insert(id, group.name.get_ref()) {
                    diags.push(Diagnostic::error(
                        "duplicate-id",
                        src,
                        name.span(),
                        format!("runbook `{id}` is already in group `{prev}`"),
                    ));
                }
            }
        }
        for (name, value) in &plan.vars {
            if !members.is_empty() && !members.iter().any(|rb| rb.var(name).is_some()) {
                diags.push(
                    Diagnostic::warning(
                        "unused-plan-var",
                        src,
                        value.span(),
                        format!(
                            "plan variable `{name}` is declared by none of the plan's runbooks"
                        ),
                    )
                    .with_help("remove it, or check its spelling against the runbooks' [vars]"),
                );
            }
        }
    }
}
