//! References: every `${...}` names something in reach, and no chain of steps or rollbacks
//! comes back on itself.

use super::*;

impl<'a> Rv<'a> {
    /// Every `${...}` in the step's strings must name something that exists and is in reach.
    pub(super) fn references(&mut self, step: &'a Step, rollback: bool) {
        let mut strings: Vec<(&'a str, Range<usize>)> = Vec::new();
        let singles = [
            &step.instructions,
            &step.resource,
            &step.query,
            &step.cwd,
            &step.url,
            &step.body_matches,
            &step.container_url,
            &step.prefix,
            &step.max_age,
        ];
        for s in singles.into_iter().flatten() {
            strings.push((s.get_ref().as_str(), s.span()));
        }
        strings.push((step.title.get_ref(), step.title.span()));
        for list in [&step.argv, &step.subscriptions].into_iter().flatten() {
            strings.extend(
                list.get_ref()
                    .iter()
                    .map(|s| (s.get_ref().as_str(), s.span())),
            );
        }
        for map in [&step.env, &step.headers].into_iter().flatten() {
            strings.extend(
                map.get_ref()
                    .values()
                    .map(|s| (s.get_ref().as_str(), s.span())),
            );
        }
        if let Some(body) = &step.body {
            collect_strings(body.get_ref(), body.span(), &mut strings);
        }
        if let Some(e) = &step.expect {
            for (a, _) in OneOrMany::items(e) {
                assertion_strings(a, &mut strings);
            }
        }
        if let Some(w) = &step.when {
            assertion_strings(w.get_ref(), &mut strings);
        }
        for (text, span) in strings {
            self.refs_in(step, text, span, rollback);
        }
    }

    pub(super) fn refs_in(&mut self, step: &Step, text: &str, span: Range<usize>, rollback: bool) {
        let found = match template::refs(text) {
            Ok(r) => r,
            Err(e) => {
                let at = locate(self.src, &span, &text[e.offset..e.offset + e.len]);
                self.err("bad-reference", at, e.message);
                return;
            }
        };
        for r in found {
            let at = locate(self.src, &span, &text[r.start..r.end]);
            match &r.reference {
                Ref::Var(name) => {
                    if self.rb.var(name).is_none() {
                        let names = self.rb.vars.iter().map(|v| v.name.get_ref().as_str());
                        let hint = did_you_mean(name, names);
                        let d = self.err(
                            "undefined-variable",
                            at,
                            format!("undefined variable `{name}`"),
                        );
                        Self::help(
                            d,
                            match hint {
                                Some(h) => format!("did you mean `{h}`?"),
                                None => format!("declare it under [vars]: `{name} = \"...\"`"),
                            },
                        );
                    }
                }
                Ref::Runbook(f) | Ref::Incident(f) => {
                    let (fields, what) = match &r.reference {
                        Ref::Runbook(_) => (RUNBOOK_FIELDS, "runbook"),
                        _ => (INCIDENT_FIELDS, "incident"),
                    };
                    if !fields.contains(&f.as_str()) {
                        let d = self.err(
                            "undefined-variable",
                            at,
                            format!("`{}` is not a field of `{what}`", f),
                        );
                        Self::help(
                            d,
                            format!(
                                "known: {}",
                                fields
                                    .iter()
                                    .map(|f| format!("{what}.{f}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    }
                }
                Ref::Step {
                    step: target,
                    field,
                } => self.step_output_ref(step, target, field, at, rollback),
            }
        }
    }

    pub(super) fn step_output_ref(
        &mut self,
        step: &Step,
        target: &str,
        field: &str,
        at: Range<usize>,
        rollback: bool,
    ) {
        let Some(&t) = self.steps.get(target) else {
            if self.ids.contains_key(target) {
                return; // a step that failed to load: already reported
            }
            let ids: Vec<&str> = self.steps.keys().copied().collect();
            let d = self.err(
                "undefined-variable",
                at,
                format!("`${{steps.{target}.{field}}}`: there is no step `{target}`"),
            );
            if let Some(h) = did_you_mean(target, ids) {
                Self::help(d, format!("did you mean `{h}`?"));
            }
            return;
        };
        let kind = *t.kind.get_ref();
        if field == "finding" && !t.assesses() {
            self.not_an_assessment(t, at);
            return;
        }
        let builtin = builtin_outputs(kind);
        if field != "finding" && !builtin.contains(&field) && !t.outputs.contains_key(field) {
            let mut known: Vec<&str> = builtin.to_vec();
            known.extend(t.outputs.keys().map(String::as_str));
            let d = self.err(
                "undefined-variable",
                at.clone(),
                format!("step `{target}` has no output `{field}`"),
            );
            Self::help(
                d,
                format!(
                    "its outputs are: {} (declare more with `outputs = {{ {field} = \"<path>\" }}` on `{target}`)",
                    known.join(", ")
                ),
            );
            return;
        }
        let target_is_rollback = self.ids.get(target).copied().unwrap_or(false);
        if !rollback
            && !target_is_rollback
            && target != step.id.get_ref()
            && !self.upstream(step, target)
        {
            let d = self.err(
                "output-not-upstream",
                at,
                format!(
                    "step `{}` uses an output of `{target}` but does not depend on it",
                    step.id.get_ref()
                ),
            );
            Self::help(
                d,
                format!("add \"{target}\" to depends_on, so its output exists when this step runs"),
            );
        }
    }

    /// Reports each dependency cycle once, naming its steps in order.
    pub(super) fn cycles(&mut self, steps: &'a [Step]) {
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.get_ref().as_str(), i))
            .collect();
        // 0 = unvisited, 1 = on the current path, 2 = done
        let mut color = vec![0u8; steps.len()];
        let mut seen_cycles: HashSet<Vec<usize>> = HashSet::new();
        for start in 0..steps.len() {
            if color[start] != 0 {
                continue;
            }
            // Iterative DFS: (node, next dependency to look at)
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            color[start] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let deps = &steps[node].depends_on;
                if *next >= deps.len() {
                    color[node] = 2;
                    stack.pop();
                    continue;
                }
                let dep = &deps[*next];
                *next += 1;
                let Some(&to) = index.get(dep.get_ref().as_str()) else {
                    continue;
                };
                if to == node {
                    continue; // self-dependency, reported with the step
                }
                match color[to] {
                    0 => {
                        color[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                        let mut cycle: Vec<usize> = stack[from..].iter().map(|(n, _)| *n).collect();
                        let mut key = cycle.clone();
                        key.sort_unstable();
                        if seen_cycles.insert(key) {
                            cycle.push(to);
                            // Read in execution order: each step waits for the next.
                            let names: Vec<&str> = cycle
                                .iter()
                                .map(|&i| steps[i].id.get_ref().as_str())
                                .collect();
                            let d = self.err(
                                "dependency-cycle",
                                dep.span(),
                                format!("dependency cycle: {}", names.join(" -> ")),
                            );
                            Self::help(
                                d,
                                "each step in the cycle waits for the next, so none can start: remove one of these depends_on",
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

impl<'a> Rv<'a> {
    /// A failed rollback step may run its own `rollback`: a chain of them that comes back to
    /// one already run would loop forever issuing writes. Each rollback step names at most
    /// one other, so following each chain once, with colours, finds every cycle in linear
    /// time; each is reported once, where it closes.
    pub(super) fn rollback_cycles(&mut self, rollbacks: &'a [Step]) {
        let index: HashMap<&str, usize> = rollbacks
            .iter()
            .enumerate()
            .rev()
            .map(|(i, s)| (s.id.get_ref().as_str(), i))
            .collect();
        let next = |i: usize| {
            rollbacks[i]
                .rollback
                .as_ref()
                .and_then(|r| index.get(r.get_ref().as_str()).copied())
        };
        // 0 = unvisited, 1 = on the chain being followed, 2 = done
        let mut color = vec![0u8; rollbacks.len()];
        for start in 0..rollbacks.len() {
            let mut chain = Vec::new();
            let mut at = Some(start);
            while let Some(i) = at {
                if color[i] != 0 {
                    if color[i] == 1 {
                        let from = chain.iter().position(|&c| c == i).unwrap_or(0);
                        self.rollback_cycle(rollbacks, &chain[from..]);
                    }
                    break;
                }
                color[i] = 1;
                chain.push(i);
                at = next(i);
            }
            for i in chain {
                color[i] = 2;
            }
        }
    }

    pub(super) fn rollback_cycle(&mut self, rollbacks: &'a [Step], cycle: &[usize]) {
        let Some(&last) = cycle.last() else { return };
        let Some(at) = rollbacks[last].rollback.as_ref() else {
            return;
        };
        let mut names: Vec<&str> = cycle
            .iter()
            .map(|&i| rollbacks[i].id.get_ref().as_str())
            .collect();
        let msg = if let [only] = names.as_slice() {
            format!("rollback step `{only}` rolls back to itself")
        } else {
            names.push(names[0]);
            format!("rollback cycle: {}", names.join(" -> "))
        };
        let d = self.err("rollback-cycle", at.span(), msg);
        Self::help(
            d,
            "a failed rollback step would start the chain again, forever: remove one of these `rollback`",
        );
    }
}

fn assertion_strings<'a>(a: &'a Assertion, out: &mut Vec<(&'a str, Range<usize>)>) {
    for s in [&a.value, &a.matches, &a.newer_than, &a.older_than]
        .into_iter()
        .flatten()
    {
        out.push((s.get_ref().as_str(), s.span()));
    }
    for v in [&a.equals, &a.not_equals, &a.contains]
        .into_iter()
        .flatten()
    {
        collect_strings(v.get_ref(), v.span(), out);
    }
    if let Some(list) = &a.one_of {
        for v in list.get_ref() {
            collect_strings(v, list.span(), out);
        }
    }
    for sub in a
        .all
        .iter()
        .flatten()
        .chain(a.any.iter().flatten())
        .chain(a.not.as_deref())
    {
        assertion_strings(sub.get_ref(), out);
    }
}

fn collect_strings<'a>(
    v: &'a toml::Value,
    span: Range<usize>,
    out: &mut Vec<(&'a str, Range<usize>)>,
) {
    match v {
        toml::Value::String(s) => out.push((s.as_str(), span)),
        toml::Value::Array(a) => a.iter().for_each(|v| collect_strings(v, span.clone(), out)),
        toml::Value::Table(t) => t
            .values()
            .for_each(|v| collect_strings(v, span.clone(), out)),
        _ => {}
    }
}
