//! Expectations and conditions: one operator each, operands that parse, and what an
//! assessment's condition may read.

use super::*;

impl Rv<'_> {
    /// One expectation: a path (optional), exactly one operator, valid operands.
    pub(super) fn expectation(&mut self, a: &Assertion, span: Range<usize>, field: &str) {
        for (name, present) in [
            ("value", a.value.is_some()),
            ("step", a.step.is_some()),
            ("outcome", a.outcome.is_some()),
            ("finding", a.finding.is_some()),
            ("all", a.all.is_some()),
            ("any", a.any.is_some()),
            ("not", a.not.is_some()),
        ] {
            if present {
                let d = self.err(
                    "bad-expectation",
                    span.clone(),
                    format!("`{name}` belongs in a `when` condition, not in `{field}`"),
                );
                Self::help(d, "an expectation is a `path` and one operator");
            }
        }
        if let Some(p) = &a.path
            && let Err(e) = JsonPath::parse(p.get_ref())
        {
            self.err("bad-expectation", p.span(), format!("bad path: {e}"));
        }
        self.operator(a, span, field);
    }

    pub(super) fn operator(&mut self, a: &Assertion, span: Range<usize>, field: &str) {
        let ops = a.ops();
        match ops.len() {
            0 => {
                let d = self.err(
                    "bad-expectation",
                    span,
                    format!("`{field}` has no operator"),
                );
                Self::help(
                    d,
                    "add one of: equals, not_equals, one_of, exists, matches, contains, gt, gte, lt, lte, newer_than, older_than",
                );
            }
            1 => {}
            _ => {
                let names: Vec<&str> = ops.iter().map(|o| o.0).collect();
                let d = self.err(
                    "bad-expectation",
                    ops[1].2.clone(),
                    format!(
                        "`{field}` has several operators ({}); one is allowed",
                        names.join(", ")
                    ),
                );
                Self::help(
                    d,
                    "write a list of expectations instead: `expect = [{ ... }, { ... }]`",
                );
            }
        }
        if let Some(m) = &a.matches {
            self.regex(&format!("{field}.matches"), m);
        }
        for d in [&a.newer_than, &a.older_than] {
            self.duration("newer_than/older_than", d);
        }
    }

    pub(super) fn condition(
        &mut self,
        step: &Step,
        c: &Assertion,
        span: Range<usize>,
        rollback: bool,
    ) {
        let shapes = [
            c.step.is_some(),
            c.value.is_some(),
            c.all.is_some(),
            c.any.is_some(),
            c.not.is_some(),
        ];
        let count = shapes.iter().filter(|x| **x).count();
        if count != 1 {
            let d = self.err(
                "bad-expectation",
                span.clone(),
                "a `when` condition needs exactly one of `step`, `value`, `all`, `any`, `not`",
            );
            Self::help(
                d,
                "e.g. `when = { step = \"probe-primary\", outcome = \"failed\" }`",
            );
            return;
        }
        if let Some(p) = &c.path {
            self.err(
                "bad-expectation",
                p.span(),
                "`path` belongs in `expect`; a condition reads a `value`",
            );
        }
        if let (Some(f), None) = (&c.finding, &c.step) {
            self.err(
                "bad-expectation",
                f.span(),
                "`finding` goes with `step`: `when = { step = \"<assessment>\", finding = \"down\" }`",
            );
        }
        if let Some(s) = &c.step {
            match (&c.outcome, &c.finding) {
                (None, None) => {
                    let d = self.err(
                        "bad-expectation",
                        span.clone(),
                        "a `step` condition needs an `outcome` (or, for an assessment, a `finding`)",
                    );
                    Self::help(d, "add `outcome = \"ok\"`, `\"failed\"` or `\"skipped\"`");
                }
                (Some(_), Some(f)) => {
                    let d = self.err(
                        "bad-expectation",
                        f.span(),
                        "a `step` condition takes an `outcome` or a `finding`, not both",
                    );
                    Self::help(d, "write two conditions under `all` or `any`");
                }
                _ => {}
            }
            self.assessment_condition(c, s);
            self.step_ref("when", s, rollback);
            if !rollback
                && self.steps.contains_key(s.get_ref().as_str())
                && !self.upstream(step, s.get_ref())
            {
                let d = self.err(
                    "output-not-upstream",
                    s.span(),
                    format!(
                        "`when` reads the outcome of `{}`, but this step does not depend on it",
                        s.get_ref()
                    ),
                );
                Self::help(d, format!("add \"{}\" to depends_on", s.get_ref()));
            }
            if !c.ops().is_empty() {
                self.err(
                    "bad-expectation",
                    span,
                    "a `step` condition takes an `outcome`, not an operator",
                );
            }
        } else if c.value.is_some() {
            self.operator(c, span, "when");
        } else {
            for sub in c
                .all
                .iter()
                .flatten()
                .chain(c.any.iter().flatten())
                .chain(c.not.as_deref())
            {
                self.condition(step, sub.get_ref(), sub.span(), rollback);
            }
        }
    }

    /// `finding` is only read of an assessment; the `outcome` of an assessment is `ok` whether
    /// it found the resource up or down, so reading `ok` of it is almost surely a mistake.
    pub(super) fn assessment_condition(&mut self, c: &Assertion, s: &Spanned<String>) {
        let Some(&t) = self.steps.get(s.get_ref().as_str()) else {
            return; // an unknown step: reported by `step_ref`
        };
        if c.finding.is_some() && !t.assesses() {
            self.not_an_assessment(t, s.span());
        }
        if t.assesses()
            && let Some(o) = &c.outcome
            && *o.get_ref() == Outcome::Ok
        {
            let d = self.warn(
                "bad-assess",
                o.span(),
                format!(
                    "`{}` is an assessment: its outcome is `ok` whether it found the resource up or down",
                    s.get_ref()
                ),
            );
            Self::help(
                d,
                "read what it found: `finding = \"up\"` or `finding = \"down\"` (`outcome = \"failed\"`: it could not assess)",
            );
        }
    }

    pub(super) fn not_an_assessment(&mut self, t: &Step, at: Range<usize>) {
        let d = self.err(
            "bad-assess",
            at,
            format!(
                "`{}` is not an assessment: it has no `finding`",
                t.id.get_ref()
            ),
        );
        Self::help(
            d,
            format!(
                "add `assess = true` to `{}` (a read-only step), or read its `outcome`",
                t.id.get_ref()
            ),
        );
    }

    /// `assess = true` says a read's answer is a finding, not a failure: only a step that
    /// reads can assess. The output name `finding` is drbook's on an assessment.
    pub(super) fn assess(&mut self, step: &Step, kind: StepKind) {
        if let Some(a) = &step.assess
            && *a.get_ref()
            && !kind.is_read_only()
        {
            let d = self.err(
                "bad-assess",
                a.span(),
                format!(
                    "a step of kind `{kind}` cannot assess: only check, health, graph, probe and storage steps read without changing anything"
                ),
            );
            Self::help(
                d,
                "remove `assess`, or assess in a read step before this one",
            );
        }
        if let Some(p) = step.outputs.get("finding") {
            let d = self.err(
                "bad-assess",
                p.span(),
                "`finding` is the output drbook gives an assessment (`assess = true`): name this output otherwise",
            );
            Self::help(d, "e.g. `outputs = { state = \"...\" }`");
        }
    }
}
