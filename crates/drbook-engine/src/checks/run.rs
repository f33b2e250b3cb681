//! `drbook check`: every read-only step of many runbooks, as concurrently as the client allows.
//! Steps that read an earlier read step's outputs wait for it; steps that need what only a run
//! produces (an action's output, a manual step's outcome) are skipped and say why. With
//! `via_graph`, the resources of all `check` steps of a wave are read in one Resource Graph
//! query instead of one GET each.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use tokio::task::JoinSet;

use super::eval;
use super::read::{ReadResult, Reader, Verdict, target_text};
use super::scope::Scope;
use drbook_core::runbook::model::{Assertion, Outcome, Runbook, Step, StepKind};

/// One row of the table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckRow {
    pub runbook: String,
    pub step: String,
    pub kind: StepKind,
    pub title: String,
    #[serde(flatten)]
    pub result: ReadResult,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Read `check` resources through Resource Graph, one query per wave.
    pub via_graph: bool,
    /// Also run the steps that verify a change (those after an action or a command): useful
    /// after a failover, to confirm the end state.
    pub include_after_changes: bool,
}

/// The first step that changes state (an action or a command) among `step`'s dependencies,
/// direct or transitive. Manual steps and waits are gates, not changes: what follows them
/// still describes the state before the failover.
pub fn change_before(rb: &Runbook, step: &Step) -> Option<(String, StepKind)> {
    let by_id: BTreeMap<&str, &Step> = rb
        .steps
        .iter()
        .map(|s| (s.id.get_ref().as_str(), s))
        .collect();
    let mut stack: Vec<&str> = step
        .depends_on
        .iter()
        .map(|d| d.get_ref().as_str())
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(dep) = by_id.get(id) else { continue };
        if matches!(dep.kind.get_ref(), StepKind::Action | StepKind::Command) {
            return Some((id.to_string(), *dep.kind.get_ref()));
        }
        stack.extend(dep.depends_on.iter().map(|d| d.get_ref().as_str()));
    }
    None
}

/// The read steps that verify the change `change` (an action or a command): those downstream
/// of it with no other change in between, the inverse of `change_before` on every path. A
/// `graph` step that asserts nothing is left out: its read succeeding says nothing of the
/// change. Linear in the runbook's size.
pub fn verifiers_of<'a>(rb: &'a Runbook, change: &str) -> Vec<&'a Step> {
    let mut dependents: HashMap<&str, Vec<(usize, &Step)>> = HashMap::new();
    for (i, s) in rb.steps.iter().enumerate() {
        for d in &s.depends_on {
            dependents
                .entry(d.get_ref().as_str())
                .or_default()
                .push((i, s));
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<(usize, &Step)> = dependents.get(change).cloned().unwrap_or_default();
    while let Some((i, s)) = stack.pop() {
        let id = s.id.get_ref().as_str();
        if !seen.insert(id) {
            continue;
        }
        let kind = *s.kind.get_ref();
        if matches!(kind, StepKind::Action | StepKind::Command) {
            continue;
        }
        let asserts = kind != StepKind::Graph || s.expect.is_some() || s.expect_rows.is_some();
        if kind.is_read_only() && asserts {
            out.push((i, s));
        }
        stack.extend(dependents.get(id).into_iter().flatten().copied());
    }
    // In the runbook's order, so the log reads them as the runbook lists them.
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, s)| s).collect()
}

/// Every string of a step that may hold `${steps...}` references.
fn step_strings(step: &Step) -> Vec<String> {
    let mut out: Vec<String> = [
        &step.resource,
        &step.url,
        &step.query,
        &step.body_matches,
        &step.container_url,
        &step.prefix,
        &step.max_age,
    ]
    .into_iter()
    .flatten()
    .map(|s| s.get_ref().clone())
    .collect();
    if let Some(h) = &step.headers {
        out.extend(h.get_ref().values().map(|v| v.get_ref().clone()));
    }
    if let Some(s) = &step.subscriptions {
        out.extend(s.get_ref().iter().map(|v| v.get_ref().clone()));
    }
    for (a, _) in step.expectations() {
        assertion_strings(a, &mut out);
    }
    if let Some(a) = &step.expect_rows {
        assertion_strings(a.get_ref(), &mut out);
    }
    if let Some(w) = &step.when {
        assertion_strings(w.get_ref(), &mut out);
    }
    out.extend(step.outputs.values().map(|v| v.get_ref().clone()));
    out
}

fn assertion_strings(a: &Assertion, out: &mut Vec<String>) {
    for s in [&a.path, &a.value, &a.matches, &a.newer_than, &a.older_than]
        .into_iter()
        .flatten()
    {
        out.push(s.get_ref().clone());
    }
    for v in [&a.equals, &a.not_equals, &a.contains]
        .into_iter()
        .flatten()
    {
        if let toml::Value::String(s) = v.get_ref() {
            out.push(s.clone());
        }
    }
    if let Some(s) = &a.step {
        // `{ step = "x", outcome = ... }` needs x as much as a reference does.
        out.push(format!("${{steps.{}.outcome}}", s.get_ref()));
    }
    for sub in a.all.iter().chain(a.any.iter()).flatten() {
        assertion_strings(sub.get_ref(), out);
    }
    if let Some(n) = &a.not {
        assertion_strings(n.get_ref(), out);
    }
}

struct Pending {
    runbook: usize,
    step: usize,
    deps: BTreeSet<String>,
}

/// Runs the read-only steps of `runbooks` (each with its scope) and returns one row per step,
/// in runbook and step order.
pub async fn check_all(
    reader: &Reader,
    runbooks: Vec<(Runbook, Scope)>,
    opts: CheckOptions,
) -> Vec<CheckRow> {
    let runbooks: Vec<(Arc<Runbook>, Scope)> = runbooks
        .into_iter()
        .map(|(r, s)| (Arc::new(r), s))
        .collect();
    let mut rows: HashMap<(usize, usize), CheckRow> = HashMap::new();
    let mut scopes: Vec<Scope> = runbooks.iter().map(|(_, s)| s.clone()).collect();
    let mut pending: Vec<Pending> = Vec::new();

    for (ri, (rb, scope)) in runbooks.iter().enumerate() {
        let kinds: BTreeMap<&str, StepKind> = rb
            .steps
            .iter()
            .map(|s| (s.id.get_ref().as_str(), *s.kind.get_ref()))
            .collect();
        for (si, step) in rb.steps.iter().enumerate() {
            if !step.kind.get_ref().is_read_only() {
                continue;
            }
            if !opts.include_after_changes
                && let Some((id, kind)) = change_before(rb, step)
            {
                let why = format!(
                    "verifies the result of `{id}` ({kind}), which only a run carries out (--all runs it anyway)"
                );
                rows.insert(
                    (ri, si),
                    row(rb, step, ReadResult::skipped(target_text(step, scope), why)),
                );
                continue;
            }
            let strings = step_strings(step);
            if let Some((name, how)) = strings.iter().flat_map(|s| scope.missing_in(s)).next() {
                let why = format!("needs variable `{name}`: {how}");
                rows.insert(
                    (ri, si),
                    row(rb, step, ReadResult::skipped(target_text(step, scope), why)),
                );
                continue;
            }
            let deps: BTreeSet<String> = strings.iter().flat_map(|s| Scope::step_refs(s)).collect();
            let blocker = deps
                .iter()
                .find(|d| kinds.get(d.as_str()).is_none_or(|k| !k.is_read_only()));
            if let Some(b) = blocker {
                let why = match kinds.get(b.as_str()) {
                    Some(k) => format!("needs step `{b}` ({k}), which only a run carries out"),
                    None => format!("needs step `{b}`, which is not in this runbook"),
                };
                rows.insert(
                    (ri, si),
                    row(rb, step, ReadResult::skipped(target_text(step, scope), why)),
                );
                continue;
            }
            pending.push(Pending {
                runbook: ri,
                step: si,
                deps,
            });
        }
    }

    // Waves: every step whose dependencies have finished runs now, all at once (the client
    // bounds how many requests are actually in flight).
    let mut done: BTreeSet<(usize, String)> = BTreeSet::new();
    while !pending.is_empty() {
        let (ready, waiting): (Vec<Pending>, Vec<Pending>) = pending.into_iter().partition(|p| {
            p.deps
                .iter()
                .all(|d| done.contains(&(p.runbook, d.clone())))
        });
        pending = waiting;
        if ready.is_empty() {
            // Only a cycle gets here, and `validate` rejects cycles; skip rather than spin.
            for p in pending.drain(..) {
                let (rb, _) = &runbooks[p.runbook];
                let step = &rb.steps[p.step];
                rows.insert(
                    (p.runbook, p.step),
                    row(
                        rb,
                        step,
                        ReadResult::skipped(String::new(), "dependency cycle".into()),
                    ),
                );
            }
            break;
        }
        let prefetched = if opts.via_graph {
            prefetch(reader, &runbooks, &scopes, &ready).await
        } else {
            HashMap::new()
        };
        let mut tasks = JoinSet::new();
        for p in &ready {
            let (rb, _) = &runbooks[p.runbook];
            let step = rb.steps[p.step].clone();
            let scope = scopes[p.runbook].clone();
            let key = p_key(p);
            if let Some(w) = &step.when {
                let why = match condition(w.get_ref(), &scope) {
                    Some(true) => None,
                    Some(false) => Some("its condition does not hold"),
                    None => Some("its condition cannot be decided without a run"),
                };
                if let Some(why) = why {
                    tasks.spawn(async move {
                        (
                            key,
                            ReadResult::skipped(target_text(&step, &scope), why.into()),
                        )
                    });
                    continue;
                }
            }
            let reader = reader.clone();
            let doc = resource_key(&step, &scope).and_then(|k| prefetched.get(&k).cloned());
            tasks.spawn(async move { (key, reader.read(&step, &scope, doc).await) });
        }
        while let Some(joined) = tasks.join_next().await {
            // A panicking read would be a bug; its row is then missing and reported below.
            let Ok(((ri, si), result)) = joined else {
                continue;
            };
            let (rb, _) = &runbooks[ri];
            let step = &rb.steps[si];
            let mut outputs = result.outputs.clone();
            if result.verdict == Verdict::Skipped {
                outputs.insert("outcome".into(), "skipped".into());
            } else if step.assesses()
                && let Some(f) = crate::checks::read::finding(&result)
            {
                outputs.insert("finding".into(), f.as_str().into());
            }
            scopes[ri]
                .outputs
                .insert(step.id.get_ref().clone(), outputs);
            done.insert((ri, step.id.get_ref().clone()));
            rows.insert((ri, si), row(rb, step, result));
        }
        for p in &ready {
            done.insert((
                p.runbook,
                runbooks[p.runbook].0.steps[p.step].id.get_ref().clone(),
            ));
        }
    }

    let mut keys: Vec<(usize, usize)> = rows.keys().copied().collect();
    keys.sort_unstable();
    keys.into_iter()
        .filter_map(|k| {
            let mut row = rows.remove(&k)?;
            if let Some(scope) = scopes.get(k.0) {
                row.title = scope.shown(&row.title);
            }
            Some(row)
        })
        .collect()
}

fn p_key(p: &Pending) -> (usize, usize) {
    (p.runbook, p.step)
}

fn row(rb: &Runbook, step: &Step, result: ReadResult) -> CheckRow {
    CheckRow {
        runbook: rb.id().to_string(),
        step: step.id.get_ref().clone(),
        kind: *step.kind.get_ref(),
        title: step.title.get_ref().clone(),
        result,
    }
}

/// The lowercased resource id a `check` step reads, when Resource Graph can serve it (no query
/// string: `$expand` and friends need ARM).
fn resource_key(step: &Step, scope: &Scope) -> Option<String> {
    if *step.kind.get_ref() != StepKind::Check {
        return None;
    }
    let id = scope.render(step.resource.as_ref()?.get_ref()).ok()?;
    (!id.contains('?')).then(|| id.to_ascii_lowercase())
}

/// One Resource Graph query for the `check` steps of a wave; ids Graph does not list (child
/// resources it does not index, resources in subscriptions out of scope) fall back to GET.
async fn prefetch(
    reader: &Reader,
    runbooks: &[(Arc<Runbook>, Scope)],
    scopes: &[Scope],
    ready: &[Pending],
) -> HashMap<String, Value> {
    let mut ids = BTreeSet::new();
    let mut subs = BTreeSet::new();
    for p in ready {
        let step = &runbooks[p.runbook].0.steps[p.step];
        if let Some(k) = resource_key(step, &scopes[p.runbook]) {
            if let Some(sub) = k.split('/').nth(2) {
                subs.insert(sub.to_string());
            }
            ids.insert(k);
        }
    }
    let mut out = HashMap::new();
    let ids: Vec<String> = ids.into_iter().collect();
    let subs: Vec<String> = subs.into_iter().collect();
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(|i| format!("'{}'", i.replace('\'', "\\'")))
            .collect::<Vec<_>>()
            .join(", ");
        let query = format!("Resources | where id in~ ({list})");
        // A failed batch is not fatal: each step then reads its resource itself.
        if let Ok(found) = reader.arm.graph(&subs, &query).await {
            for r in found {
                if let Some(id) = r.get("id").and_then(Value::as_str) {
                    out.insert(id.to_ascii_lowercase(), r.clone());
                }
            }
        }
    }
    out
}

/// Evaluates a `when` with what `check` knows: `Some(true/false)`, or `None` when it depends on
/// something only a run decides.
pub fn condition(a: &Assertion, scope: &Scope) -> Option<bool> {
    // Three-valued: one part known false decides an `all`, one known true an `any`, whatever
    // the parts not yet known would say.
    if let Some(all) = &a.all {
        let parts: Vec<Option<bool>> = all.iter().map(|s| condition(s.get_ref(), scope)).collect();
        if parts.contains(&Some(false)) {
            return Some(false);
        }
        return parts
            .into_iter()
            .collect::<Option<Vec<bool>>>()
            .map(|_| true);
    }
    if let Some(any) = &a.any {
        let parts: Vec<Option<bool>> = any.iter().map(|s| condition(s.get_ref(), scope)).collect();
        if parts.contains(&Some(true)) {
            return Some(true);
        }
        return parts
            .into_iter()
            .collect::<Option<Vec<bool>>>()
            .map(|_| false);
    }
    if let Some(n) = &a.not {
        return condition(n.get_ref(), scope).map(|v| !v);
    }
    if let (Some(step), Some(finding)) = (&a.step, &a.finding) {
        // An assessment that could not be carried out, or a step skipped, found nothing: the
        // condition does not hold (it is decided, not waiting for a run).
        let outs = scope.outputs.get(step.get_ref())?;
        return Some(outs.get("finding").map(String::as_str) == Some(finding.get_ref().as_str()));
    }
    if let (Some(step), Some(outcome)) = (&a.step, &a.outcome) {
        let got = scope.outputs.get(step.get_ref())?.get("outcome")?;
        return Some(got == outcome_word(*outcome.get_ref()));
    }
    let value = scope.render(a.value.as_ref()?.get_ref()).ok()?;
    let op = eval::the_op(a)?;
    let op = eval::render_op(&op, &|s: &str| scope.render(s).map_err(|e| e.to_string())).ok()?;
    Some(eval::evaluate("", &op, &Value::String(value), Utc::now()).holds)
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
    }
}

/// A condition in words, for "would run if ..." (a dry run cannot decide it).
pub fn condition_text(a: &Assertion) -> String {
    let join = |parts: &[toml::Spanned<Assertion>], sep: &str| {
        let texts: Vec<String> = parts.iter().map(|s| condition_text(s.get_ref())).collect();
        if texts.len() == 1 {
            texts.concat()
        } else {
            format!("({})", texts.join(sep))
        }
    };
    if let Some(all) = &a.all {
        return join(all, " and ");
    }
    if let Some(any) = &a.any {
        return join(any, " or ");
    }
    if let Some(n) = &a.not {
        let n = n.get_ref();
        return match (&n.step, &n.outcome, &n.finding) {
            (Some(s), Some(o), _) => {
                format!("`{}` is not {}", s.get_ref(), outcome_word(*o.get_ref()))
            }
            (Some(s), _, Some(f)) => {
                format!("`{}` does not find {}", s.get_ref(), f.get_ref().as_str())
            }
            _ => format!("not {}", condition_text(n)),
        };
    }
    if let (Some(step), Some(f)) = (&a.step, &a.finding) {
        return format!("`{}` finds {}", step.get_ref(), f.get_ref().as_str());
    }
    if let (Some(step), Some(o)) = (&a.step, &a.outcome) {
        return format!("`{}` is {}", step.get_ref(), outcome_word(*o.get_ref()));
    }
    match (&a.value, eval::the_op(a)) {
        (Some(v), Some(op)) => eval::evaluate(v.get_ref(), &op, &Value::Null, Utc::now()).expected,
        _ => "its condition holds".into(),
    }
}

/// Totals for the summary line and the exit code.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub skipped: usize,
    /// Some read failed for want of a usable credential.
    pub auth_error: bool,
}

pub fn summarize(rows: &[CheckRow]) -> Summary {
    let mut s = Summary {
        total: rows.len(),
        ..Summary::default()
    };
    for r in rows {
        match r.result.verdict {
            Verdict::Pass => s.pass += 1,
            Verdict::Fail => s.fail += 1,
            Verdict::Error => s.error += 1,
            Verdict::Skipped => s.skipped += 1,
        }
        s.auth_error |= r.result.error.as_ref().is_some_and(|e| e.is_auth());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(text: &str) -> Assertion {
        #[derive(serde::Deserialize)]
        struct W {
            when: Assertion,
        }
        toml::from_str::<W>(text)
            .map(|w| w.when)
            .unwrap_or_default()
    }

    /// One part known false decides an `all`, one known true an `any`, however many parts
    /// only a run could decide; otherwise the condition is undecided.
    #[test]
    fn a_condition_is_decided_by_what_is_known() {
        let mut scope = Scope::default();
        scope.outputs.insert(
            "decide".into(),
            BTreeMap::from([("outcome".to_string(), "failed".to_string())]),
        );
        scope.outputs.insert(
            "health".into(),
            BTreeMap::from([
                ("outcome".to_string(), "ok".to_string()),
                ("finding".to_string(), "down".to_string()),
            ]),
        );
        let all = when(
            r#"when = { all = [{ step = "decide", outcome = "ok" }, { step = "unknown", outcome = "ok" }] }"#,
        );
        assert_eq!(condition(&all, &scope), Some(false));
        let any = when(
            r#"when = { any = [{ step = "health", finding = "down" }, { step = "unknown", outcome = "ok" }] }"#,
        );
        assert_eq!(condition(&any, &scope), Some(true));
        let open = when(
            r#"when = { any = [{ step = "health", finding = "up" }, { step = "unknown", outcome = "ok" }] }"#,
        );
        assert_eq!(condition(&open, &scope), None);
        // An assessment that could not be made found nothing: decided, and not "down".
        scope.outputs.insert(
            "denied".into(),
            BTreeMap::from([("outcome".to_string(), "failed".to_string())]),
        );
        let down = when(r#"when = { step = "denied", finding = "down" }"#);
        assert_eq!(condition(&down, &scope), Some(false));
        assert_eq!(
            condition_text(&when(
                r#"when = { all = [{ step = "decide", outcome = "ok" }, { not = { step = "health", finding = "up" } }] }"#
            )),
            "(`decide` is ok and `health` does not find up)"
        );
    }
}
