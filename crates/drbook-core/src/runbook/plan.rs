//! What can run now: the plan's groups in order (a group's runbooks together when it is
//! `parallel`, else one after another), and within a runbook the steps whose dependencies have
//! finished. Pure functions over the progress of each step, so resume and replay use them too.

use std::collections::{BTreeMap, HashMap};

use crate::runbook::model::{OnFailure, Plan, Runbook, Step};

/// A step of a runbook.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct StepKey {
    pub runbook: String,
    pub step: String,
}

impl StepKey {
    pub fn new(runbook: impl Into<String>, step: impl Into<String>) -> StepKey {
        StepKey {
            runbook: runbook.into(),
            step: step.into(),
        }
    }
}

impl std::fmt::Display for StepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.runbook, self.step)
    }
}

/// How far a step has got, as the scheduler needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    NotStarted,
    /// Started, waiting for a confirmation or the operator, or interrupted by a crash.
    Active,
    Done,
    Skipped,
    Failed,
}

/// A group of runbooks of the plan, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub runbooks: Vec<String>,
    pub parallel: bool,
}

/// The order in which runbooks run: the plan's groups, or without a plan each runbook on its
/// own, in the order given.
pub fn groups(plan: Option<&Plan>, runbooks: &[Runbook]) -> Vec<Group> {
    match plan {
        Some(p) => p
            .groups
            .iter()
            .map(|g| Group {
                name: g.name.get_ref().clone(),
                runbooks: g.runbooks.iter().map(|r| r.get_ref().clone()).collect(),
                parallel: g.parallel,
            })
            .collect(),
        None => runbooks
            .iter()
            .map(|r| Group {
                name: r.meta.title.get_ref().clone(),
                runbooks: vec![r.id().to_string()],
                parallel: false,
            })
            .collect(),
    }
}

fn stops_on_failure(step: &Step) -> bool {
    step.on_failure
        .as_ref()
        .is_none_or(|o| *o.get_ref() != OnFailure::Continue)
}

/// Whether a step lets the steps after it go on.
fn settled(step: &Step, p: Progress) -> bool {
    match p {
        Progress::Done | Progress::Skipped => true,
        Progress::Failed => !stops_on_failure(step),
        Progress::NotStarted | Progress::Active => false,
    }
}

/// Where a runbook stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunbookState {
    NotStarted,
    Running,
    /// A step failed and its runbook stops there.
    Failed,
    Done,
}

pub fn runbook_state(rb: &Runbook, progress: &dyn Fn(&StepKey) -> Progress) -> RunbookState {
    let key = |s: &Step| StepKey::new(rb.id(), s.id.get_ref().clone());
    let ps: Vec<(&Step, Progress)> = rb.steps.iter().map(|s| (s, progress(&key(s)))).collect();
    if ps
        .iter()
        .any(|(s, p)| *p == Progress::Failed && stops_on_failure(s))
    {
        return RunbookState::Failed;
    }
    if ps.iter().all(|(s, p)| settled(s, *p)) {
        return RunbookState::Done;
    }
    if ps.iter().all(|(_, p)| *p == Progress::NotStarted) {
        RunbookState::NotStarted
    } else {
        RunbookState::Running
    }
}

/// The runbooks that may run now: those of the first group not yet finished (all of them when
/// the group is parallel, else the first unfinished one). A failed runbook holds its group, and
/// so the plan, until the operator decides (retry, skip).
pub fn active_runbooks<'a>(
    groups: &'a [Group],
    runbooks: &BTreeMap<&str, &Runbook>,
    progress: &dyn Fn(&StepKey) -> Progress,
) -> Vec<&'a str> {
    for g in groups {
        let open: Vec<&str> = g
            .runbooks
            .iter()
            .map(String::as_str)
            .filter(|r| {
                runbooks
                    .get(r)
                    .is_some_and(|rb| runbook_state(rb, progress) != RunbookState::Done)
            })
            .collect();
        if open.is_empty() {
            continue;
        }
        return if g.parallel {
            open
        } else {
            open.into_iter().take(1).collect()
        };
    }
    Vec::new()
}

/// Steps that can start now: not started, in an active runbook, every dependency settled.
pub fn ready(
    groups: &[Group],
    runbooks: &BTreeMap<&str, &Runbook>,
    progress: &dyn Fn(&StepKey) -> Progress,
) -> Vec<StepKey> {
    let mut out = Vec::new();
    for id in active_runbooks(groups, runbooks, progress) {
        let Some(rb) = runbooks.get(id) else { continue };
        if runbook_state(rb, progress) == RunbookState::Failed {
            continue;
        }
        let by_id: BTreeMap<&str, &Step> = rb
            .steps
            .iter()
            .map(|s| (s.id.get_ref().as_str(), s))
            .collect();
        for s in &rb.steps {
            let key = StepKey::new(id, s.id.get_ref().clone());
            if progress(&key) != Progress::NotStarted {
                continue;
            }
            let deps_ok = s.depends_on.iter().all(|d| {
                let dk = StepKey::new(id, d.get_ref().clone());
                by_id
                    .get(d.get_ref().as_str())
                    .is_some_and(|ds| settled(ds, progress(&dk)))
            });
            if deps_ok {
                out.push(key);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceFile;
    use std::collections::HashMap;
    use std::path::Path;

    fn rb(text: &str) -> Runbook {
        let src = SourceFile::new(Path::new("t.toml"), text);
        let out = crate::runbook::load::parse_source(&src);
        match out.runbook {
            Some(r) => r,
            None => panic!("{:?}", out.diagnostics),
        }
    }

    fn two() -> (Runbook, Runbook) {
        let a = rb(r#"
[runbook]
id = "a"
title = "A"
component = "data"
[[step]]
id = "one"
title = "one"
kind = "manual"
instructions = "x"
[[step]]
id = "two"
title = "two"
kind = "manual"
instructions = "x"
depends_on = ["one"]
on_failure = "continue"
[[step]]
id = "three"
title = "three"
kind = "manual"
instructions = "x"
depends_on = ["two"]
"#);
        let b = rb(r#"
[runbook]
id = "b"
title = "B"
component = "web"
[[step]]
id = "x"
title = "x"
kind = "manual"
instructions = "x"
"#);
        (a, b)
    }

    fn keys(v: &[StepKey]) -> Vec<String> {
        v.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn groups_run_in_order_and_steps_follow_their_dependencies() {
        let (a, b) = two();
        let map: BTreeMap<&str, &Runbook> = [("a", &a), ("b", &b)].into_iter().collect();
        let gs = vec![
            Group {
                name: "data".into(),
                runbooks: vec!["a".into()],
                parallel: false,
            },
            Group {
                name: "web".into(),
                runbooks: vec!["b".into()],
                parallel: false,
            },
        ];
        let mut p: HashMap<String, Progress> = HashMap::new();
        let get = |p: &HashMap<String, Progress>| {
            let p = p.clone();
            move |k: &StepKey| {
                p.get(&k.to_string())
                    .copied()
                    .unwrap_or(Progress::NotStarted)
            }
        };
        assert_eq!(keys(&ready(&gs, &map, &get(&p))), ["a/one"]);
        p.insert("a/one".into(), Progress::Done);
        assert_eq!(keys(&ready(&gs, &map, &get(&p))), ["a/two"]);
        // `two` may fail (on_failure = continue): `three` goes on.
        p.insert("a/two".into(), Progress::Failed);
        assert_eq!(keys(&ready(&gs, &map, &get(&p))), ["a/three"]);
        // `three` stops its runbook on failure: the plan holds there.
        p.insert("a/three".into(), Progress::Failed);
        assert_eq!(runbook_state(&a, &get(&p)), RunbookState::Failed);
        assert!(ready(&gs, &map, &get(&p)).is_empty());
        // Skipped by the operator: the next group opens.
        p.insert("a/three".into(), Progress::Skipped);
        assert_eq!(runbook_state(&a, &get(&p)), RunbookState::Done);
        assert_eq!(keys(&ready(&gs, &map, &get(&p))), ["b/x"]);
    }

    #[test]
    fn a_parallel_group_opens_all_its_runbooks() {
        let (a, b) = two();
        let map: BTreeMap<&str, &Runbook> = [("a", &a), ("b", &b)].into_iter().collect();
        let gs = vec![Group {
            name: "all".into(),
            runbooks: vec!["a".into(), "b".into()],
            parallel: true,
        }];
        let none = |_: &StepKey| Progress::NotStarted;
        assert_eq!(keys(&ready(&gs, &map, &none)), ["a/one", "b/x"]);
        let serial = vec![Group {
            parallel: false,
            ..gs[0].clone()
        }];
        assert_eq!(keys(&ready(&serial, &map, &none)), ["a/one"]);
    }
}

/// The longest chain of steps through a runbook's dependencies.
///
/// Linear in steps and dependencies (Kahn's order, each step keeping only its chain's length
/// and the dependency it extends): keeping each step's whole chain took memory quadratic in
/// the length of a chain, and a 20,000-step chain aborted. Ties go as they always have: among
/// a step's dependencies with equally long chains the last listed, among equally long chains
/// the one ending at the greatest id. A step in a cycle, or depending on a step that does not
/// exist, is left out (validate rejects both).
fn longest_chain(rb: &Runbook) -> Vec<String> {
    let steps = &rb.steps;
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.get_ref().as_str(), i))
        .collect();
    // Dependencies not yet placed, per step; usize::MAX never reaches 0 (an unknown dependency).
    let mut pending: Vec<usize> = Vec::with_capacity(steps.len());
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        let mut n = 0usize;
        for d in &s.depends_on {
            match index.get(d.get_ref().as_str()) {
                Some(&j) => {
                    dependents[j].push(i);
                    n += 1;
                }
                None => n = usize::MAX,
            }
            if n == usize::MAX {
                break;
            }
        }
        pending.push(n);
    }
    // (length of the longest chain ending here, the dependency it extends)
    let mut best: Vec<Option<(usize, Option<usize>)>> = vec![None; steps.len()];
    let mut ready: Vec<usize> = (0..steps.len()).filter(|&i| pending[i] == 0).collect();
    while let Some(i) = ready.pop() {
        let mut longest: Option<(usize, usize)> = None;
        for d in &steps[i].depends_on {
            let Some(&j) = index.get(d.get_ref().as_str()) else {
                continue;
            };
            if let Some((len, _)) = best[j]
                && longest.is_none_or(|(l, _)| len >= l)
            {
                longest = Some((len, j));
            }
        }
        best[i] = Some(match longest {
            Some((len, j)) => (len + 1, Some(j)),
            None => (1, None),
        });
        for &k in &dependents[i] {
            if pending[k] != usize::MAX {
                pending[k] -= 1;
                if pending[k] == 0 {
                    ready.push(k);
                }
            }
        }
    }
    let end = (0..steps.len())
        .filter_map(|i| best[i].map(|(len, _)| (len, steps[i].id.get_ref().as_str(), i)))
        .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut chain = Vec::new();
    let mut at = end.map(|(_, _, i)| i);
    while let Some(i) = at {
        chain.push(steps[i].id.get_ref().clone());
        at = best[i].and_then(|(_, prev)| prev);
    }
    chain.reverse();
    chain
}

/// The critical path of a plan by number of steps: groups one after another; within a
/// parallel group its longest runbook, within a sequential one all of them in turn.
pub fn critical_path(groups: &[Group], runbooks: &BTreeMap<&str, &Runbook>) -> Vec<StepKey> {
    let mut path = Vec::new();
    for g in groups {
        let chains: Vec<Vec<StepKey>> = g
            .runbooks
            .iter()
            .filter_map(|id| runbooks.get(id.as_str()))
            .map(|rb| {
                longest_chain(rb)
                    .into_iter()
                    .map(|s| StepKey::new(rb.id(), s))
                    .collect()
            })
            .collect();
        if g.parallel {
            path.extend(chains.into_iter().max_by_key(Vec::len).unwrap_or_default());
        } else {
            path.extend(chains.into_iter().flatten());
        }
    }
    path
}

/// Trims the groups to the runbooks that matter for what is hit: a runbook matters when its
/// component is named, or when any of its variables is a named region (its `primary`, say).
/// With nothing named, everything matters.
pub fn scope(
    groups: &[Group],
    runbooks: &BTreeMap<&str, (&Runbook, Vec<String>)>,
    regions: &[String],
    components: &[String],
) -> Vec<Group> {
    if regions.is_empty() && components.is_empty() {
        return groups.to_vec();
    }
    let matters = |id: &str| {
        runbooks.get(id).is_some_and(|(rb, values)| {
            components
                .iter()
                .any(|c| c.eq_ignore_ascii_case(rb.meta.component.get_ref().as_str()))
                || values
                    .iter()
                    .any(|v| regions.iter().any(|r| r.eq_ignore_ascii_case(v)))
        })
    };
    groups
        .iter()
        .map(|g| Group {
            runbooks: g.runbooks.iter().filter(|r| matters(r)).cloned().collect(),
            ..g.clone()
        })
        .filter(|g| !g.runbooks.is_empty())
        .collect()
}

#[cfg(test)]
mod path_tests {
    use super::*;
    use crate::diag::SourceFile;
    use std::path::Path;

    fn rb(text: &str) -> Runbook {
        let out = crate::runbook::load::parse_source(&SourceFile::new(Path::new("t.toml"), text));
        out.runbook
            .unwrap_or_else(|| panic!("{:?}", out.diagnostics))
    }

    const A: &str = "[runbook]\nid = \"a\"\ntitle = \"A\"\ncomponent = \"data\"\n[vars]\nprimary = \"westeurope\"\n\
[[step]]\nid = \"one\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\n\
[[step]]\nid = \"two\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\ndepends_on = [\"one\"]\n\
[[step]]\nid = \"side\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\n";
    const B: &str = "[runbook]\nid = \"b\"\ntitle = \"B\"\ncomponent = \"web\"\n[vars]\nprimary = \"eastus\"\n\
[[step]]\nid = \"x\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\n";

    #[test]
    fn a_chain_of_twenty_thousand_steps_has_its_critical_path_computed() {
        const N: usize = 20_000;
        let mut text =
            String::from("[runbook]\nid = \"long\"\ntitle = \"L\"\ncomponent = \"web\"\n");
        // Declared last first: each step waits for the one declared after it.
        for i in (0..N).rev() {
            text.push_str(&format!(
                "[[step]]\nid = \"s{i}\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\n"
            ));
            if i > 0 {
                text.push_str(&format!("depends_on = [\"s{}\"]\n", i - 1));
            }
        }
        // A side branch, shorter: not on the path.
        text.push_str("[[step]]\nid = \"side\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\ndepends_on = [\"s0\"]\n");
        let long = rb(&text);
        let map: BTreeMap<&str, &Runbook> = [("long", &long)].into_iter().collect();
        let g = vec![Group {
            name: "g".into(),
            runbooks: vec!["long".into()],
            parallel: false,
        }];
        let path = critical_path(&g, &map);
        assert_eq!(path.len(), N);
        assert_eq!(path[0].to_string(), "long/s0");
        assert_eq!(path[N - 1].to_string(), format!("long/s{}", N - 1));
        assert!(path.windows(2).all(|w| w[0].step != w[1].step));
    }

    #[test]
    fn ties_and_cycles_in_the_longest_chain() {
        // Two chains of two: the one ending at the greater id; a dependency cycle is left out;
        // among equally long dependencies, the last listed.
        let text = "[runbook]\nid = \"t\"\ntitle = \"T\"\ncomponent = \"web\"\n\
[[step]]\nid = \"a\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\n\
[[step]]\nid = \"b\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\n\
[[step]]\nid = \"c\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\ndepends_on = [\"a\"]\n\
[[step]]\nid = \"d\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\ndepends_on = [\"b\"]\n\
[[step]]\nid = \"e\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\ndepends_on = [\"c\", \"d\"]\n\
[[step]]\nid = \"x\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\ndepends_on = [\"y\"]\n\
[[step]]\nid = \"y\"\ntitle = \"t\"\nkind = \"manual\"\ninstructions = \"x\"\ndepends_on = [\"x\"]\n";
        let t = rb(text);
        assert_eq!(longest_chain(&t), ["b", "d", "e"]);
    }

    #[test]
    fn the_critical_path_follows_the_longest_chains_and_scope_trims_by_region_or_component() {
        let (a, b) = (rb(A), rb(B));
        let map: BTreeMap<&str, &Runbook> = [("a", &a), ("b", &b)].into_iter().collect();
        let par = vec![Group {
            name: "g".into(),
            runbooks: vec!["a".into(), "b".into()],
            parallel: true,
        }];
        let keys: Vec<String> = critical_path(&par, &map)
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(keys, ["a/one", "a/two"]);
        let seq = vec![Group {
            parallel: false,
            ..par[0].clone()
        }];
        assert_eq!(critical_path(&seq, &map).len(), 3);

        let vals: BTreeMap<&str, (&Runbook, Vec<String>)> = [
            ("a", (&a, vec!["westeurope".to_string()])),
            ("b", (&b, vec!["eastus".to_string()])),
        ]
        .into_iter()
        .collect();
        let only = |g: Vec<Group>| g.into_iter().flat_map(|g| g.runbooks).collect::<Vec<_>>();
        assert_eq!(only(scope(&par, &vals, &["WestEurope".into()], &[])), ["a"]);
        assert_eq!(only(scope(&par, &vals, &[], &["web".into()])), ["b"]);
        assert_eq!(only(scope(&par, &vals, &[], &[])), ["a", "b"]);
    }
}
