//! Validation: the checks serde cannot make. Ids, dependencies and cycles, references to
//! variables and step outputs, durations, expectations, what each step kind needs, and
//! warnings for state-changing steps without a confirmation. Pure: loaded model in,
//! diagnostics out.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use rayon::prelude::*;
use toml::Spanned;

use super::load::LoadSet;
use super::model::{Assertion, OnFailure, OneOrMany, Outcome, ParseAs, Runbook, Step, StepKind};
use super::path::JsonPath;
use super::template::{self, INCIDENT_FIELDS, RUNBOOK_FIELDS, Ref};
use crate::diag::{Diagnostic, SourceFile, did_you_mean};
use crate::time::parse_duration;

mod conditions;
mod plans;
mod refs;

use plans::{validate_ids_across_files, validate_plans};

/// Validates everything in the set and appends the diagnostics, sorted by file and position.
pub fn validate_set(set: &mut LoadSet) {
    let sources: HashMap<&std::path::Path, &SourceFile> =
        set.sources.iter().map(|s| (&*s.path, &**s)).collect();
    let one = |rb: &Runbook| match sources.get(&*rb.file) {
        Some(src) => validate_runbook(rb, src),
        None => Vec::new(),
    };
    // A plan's dozen runbooks are validated faster than rayon's pool starts (see `load`).
    let per_runbook: Vec<Vec<Diagnostic>> = if set.runbooks.len() < super::load::PARALLEL_FROM {
        set.runbooks.iter().map(one).collect()
    } else {
        set.runbooks.par_iter().map(one).collect()
    };
    let mut diags: Vec<Diagnostic> = per_runbook.into_iter().flatten().collect();
    validate_ids_across_files(set, &sources, &mut diags);
    validate_plans(set, &sources, &mut diags);
    set.diagnostics.extend(diags);
    set.diagnostics
        .sort_by(|a, b| (&a.file, a.span.start, a.code).cmp(&(&b.file, b.span.start, b.code)));
}

/// The size limit regular expressions are compiled with, at run time as here: regex's own
/// default, named so validate refuses what the run could not compile.
pub const REGEX_SIZE_LIMIT: usize = 10 * (1 << 20);

/// The most `retries` a step may have: more only hammers a failing service for hours.
pub const MAX_RETRIES: u32 = 20;

/// Waits and timeouts above this are typos (`99999999999h`), not plans.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// Ages and objectives (`rto`, `rpo`, `max_age`, `newer_than`) may be longer, but not absurd.
const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(366 * 24 * 3600);
/// Polling faster than this hammers Azure's throttling limits; `0s` would spin.
const MIN_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a duration that parses is still refused for `field`, if it is.
fn duration_out_of_range(field: &str, d: std::time::Duration) -> Option<String> {
    let (max, max_text) = match field {
        "timeout" | "retry_delay" | "poll" | "duration" => (MAX_WAIT, "7 days"),
        _ => (MAX_AGE, "366 days"),
    };
    if d > max {
        return Some(format!("is above the maximum of {max_text}"));
    }
    if field == "poll" && d < MIN_POLL {
        return Some("is too short: poll at least every `1s`".to_string());
    }
    None
}

fn is_id(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The outputs every step of a kind has without declaring them.
pub fn builtin_outputs(kind: StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::Check | StepKind::Health => &["outcome", "value"],
        StepKind::Graph => &["outcome", "count"],
        StepKind::Action => &["outcome", "status"],
        StepKind::Command => &["outcome", "stdout", "exit_code"],
        StepKind::Probe => &["outcome", "status", "body"],
        StepKind::Manual => &["outcome", "note"],
        StepKind::Wait => &["outcome"],
        StepKind::Storage => &[
            "outcome",
            "newest",
            "newest_modified",
            "age_s",
            "blobs",
            "last_sync_time",
            "sync_age_s",
            "geo_status",
            "rpo_achieved",
        ],
    }
}

/// Fields a kind needs, and fields it may have, beyond those every step has.
fn kind_fields(kind: StepKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        StepKind::Check => (&["resource", "api_version", "expect"], &["poll"]),
        StepKind::Health => (&["resource"], &["api_version", "expect", "poll"]),
        StepKind::Graph => (
            &["query"],
            &["subscriptions", "expect_rows", "expect", "poll"],
        ),
        StepKind::Action => (&["method", "resource", "api_version"], &["body", "already"]),
        StepKind::Command => (&["argv"], &["cwd", "env", "destructive", "parse", "expect"]),
        StepKind::Probe => (
            &["url"],
            &["method", "headers", "expect_status", "body_matches", "poll"],
        ),
        StepKind::Manual => (&["instructions"], &[]),
        StepKind::Wait => (&["duration"], &[]),
        // At least one of container_url and resource: see `Rv::storage`.
        StepKind::Storage => (
            &[],
            &[
                "container_url",
                "prefix",
                "max_age",
                "resource",
                "api_version",
                "poll",
            ],
        ),
    }
}

/// Words in a command's argv that usually mean it changes state.
const MUTATING_VERBS: &[&str] = &[
    "apply", "create", "delete", "deploy", "destroy", "drain", "failover", "import", "patch",
    "purge", "push", "remove", "restart", "rollout", "scale", "set", "start", "stop", "swap",
    "update", "cordon", "uncordon", "upgrade", "replace",
];

/// The kind-specific fields that are set on a step, with their spans.
fn kind_specific_present(s: &Step) -> Vec<(&'static str, Range<usize>)> {
    let mut v = Vec::new();
    macro_rules! f {
        ($($name:ident),*) => {$(
            if let Some(x) = &s.$name { v.push((stringify!($name), x.span())); }
        )*};
    }
    f!(
        resource,
        api_version,
        expect,
        poll,
        method,
        body,
        query,
        subscriptions,
        expect_rows
    );
    f!(
        argv,
        cwd,
        env,
        destructive,
        parse,
        url,
        headers,
        expect_status,
        body_matches,
        duration
    );
    f!(container_url, prefix, max_age, already);
    if let Some(x) = &s.instructions {
        v.push(("instructions", x.span()));
    }
    v
}

static EMPTY: LazyLock<HashSet<&'static str>> = LazyLock::new(HashSet::new);

struct Rv<'a> {
    rb: &'a Runbook,
    src: &'a SourceFile,
    diags: Vec<Diagnostic>,
    /// Every step id (main and rollback, broken included) -> is it a rollback step.
    ids: HashMap<&'a str, bool>,
    /// Main and rollback steps by id.
    steps: HashMap<&'a str, &'a Step>,
    /// Per step named by a far-reaching `upstream` question: every step downstream of it.
    /// Built on demand, so a long chain whose steps all read the first one is linear.
    downstream: HashMap<&'a str, HashSet<&'a str>>,
    /// "Did you mean" suggestions still to be looked for: each compares a name with every step
    /// id, so a file with thousands of unknown names would take quadratic time for hints no
    /// one reads past the first screens.
    suggestions_left: usize,
}

/// Unknown step names per runbook that get a "did you mean" hint; the rest are errors alone.
const MAX_SUGGESTIONS: usize = 50;

/// Validates one runbook.
pub fn validate_runbook(rb: &Runbook, src: &SourceFile) -> Vec<Diagnostic> {
    let mut v = Rv {
        rb,
        src,
        diags: Vec::new(),
        ids: HashMap::new(),
        steps: HashMap::new(),
        downstream: HashMap::new(),
        suggestions_left: MAX_SUGGESTIONS,
    };
    v.meta();
    v.vars();
    v.collect_ids();
    for (step, rollback) in rb
        .steps
        .iter()
        .map(|s| (s, false))
        .chain(rb.rollbacks.iter().map(|s| (s, true)))
    {
        v.step(step, rollback);
    }
    v.cycles(&rb.steps);
    v.cycles(&rb.rollbacks);
    v.rollback_cycles(&rb.rollbacks);
    v.diags
}

impl<'a> Rv<'a> {
    fn err(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::error(code, self.src, span, msg));
        self.diags.last_mut().expect("just pushed") // ok: pushed on the line above
    }

    fn warn(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::warning(code, self.src, span, msg));
        self.diags.last_mut().expect("just pushed") // ok: pushed on the line above
    }

    fn help(d: &mut Diagnostic, help: impl Into<String>) {
        d.help = Some(help.into());
    }

    fn duration(&mut self, field: &str, value: &Option<Spanned<String>>) {
        let Some(value) = value else { return };
        let text = value.get_ref();
        if text.contains("${") {
            return; // filled in at run time
        }
        match parse_duration(text) {
            Err(e) => {
                let d = self.err(
                    "bad-duration",
                    value.span(),
                    format!("`{field}`: `{text}` is not a duration ({e})"),
                );
                Self::help(d, "write durations like `90s`, `5m`, `1h 30m`");
            }
            Ok(d) => {
                if let Some(msg) = duration_out_of_range(field, d) {
                    self.err(
                        "bad-duration",
                        value.span(),
                        format!("`{field}`: `{text}` {msg}"),
                    );
                }
            }
        }
    }

    fn retries(&mut self, step: &Step) {
        let Some(r) = &step.retries else { return };
        if *r.get_ref() > MAX_RETRIES {
            let d = self.err(
                "out-of-range",
                r.span(),
                format!(
                    "`retries`: {} is above the maximum of {MAX_RETRIES}",
                    r.get_ref()
                ),
            );
            Self::help(
                d,
                "a step that fails this often needs a person, not more attempts: lower `retries`",
            );
        }
    }

    /// `already`: each entry an error status with an ARM error code, each named once.
    fn already(&mut self, step: &Step) {
        let Some(list) = &step.already else { return };
        let mut seen: HashSet<(u16, String)> = HashSet::new();
        for a in list.get_ref() {
            let status = *a.status.get_ref();
            let code = a.code.get_ref().trim();
            if !(400..=599).contains(&status) {
                let d = self.err(
                    "bad-already",
                    a.status.span(),
                    format!("`already`: {status} is not an error status (400-599)"),
                );
                Self::help(
                    d,
                    "`already` names the error answers that mean the change is already under way or done, e.g. { status = 409, code = \"FailoverInProgress\" }",
                );
            }
            if code.is_empty()
                || code
                    .chars()
                    .any(|c| !c.is_ascii_alphanumeric() && c != '.' && c != '_' && c != '-')
            {
                let d = self.err(
                    "bad-already",
                    a.code.span(),
                    format!("`already`: `{code}` is not an ARM error code"),
                );
                Self::help(
                    d,
                    "the `code` of Azure's error answer, as documented or as seen in a log, e.g. `FailoverInProgress`",
                );
            } else if !seen.insert((status, code.to_ascii_lowercase())) {
                self.warn(
                    "bad-already",
                    a.code.span(),
                    format!("`already`: {status} `{code}` is named twice"),
                );
            }
        }
    }

    fn meta(&mut self) {
        let m = &self.rb.meta;
        if !is_id(m.id.get_ref()) {
            let d = self.err(
                "bad-id",
                m.id.span(),
                format!("runbook id `{}` is not a valid id", m.id.get_ref()),
            );
            Self::help(
                d,
                "use lowercase letters, digits and `-`, starting with a letter or digit",
            );
        }
        self.duration("rto", &m.rto);
        self.duration("rpo", &m.rpo);
    }

    fn vars(&mut self) {
        for var in &self.rb.vars {
            let name = var.name.get_ref();
            if !name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                self.err(
                    "bad-id",
                    var.name.span(),
                    format!(
                        "variable name `{name}` is not valid: use letters, digits, `_` and `-`"
                    ),
                );
            }
            if name == "steps" || name == "runbook" || name == "incident" {
                self.err(
                    "bad-id",
                    var.name.span(),
                    format!("`{name}` is reserved for built-in references"),
                );
            }
            if var.secret
                && let Some(default) = &var.default
            {
                let d = self.warn(
                    "secret-in-file",
                    default.span(),
                    format!("secret variable `{name}` has its value written in the runbook"),
                );
                Self::help(
                    d,
                    "remove the default and supply it from the environment (`env = \"...\"`)",
                );
            }
        }
    }

    fn collect_ids(&mut self) {
        let rb = self.rb;
        let mut first: HashMap<&str, Range<usize>> = HashMap::new();
        for (step, rollback) in rb
            .steps
            .iter()
            .map(|s| (s, false))
            .chain(rb.rollbacks.iter().map(|s| (s, true)))
        {
            let id = step.id.get_ref().as_str();
            if !is_id(id) {
                let d = self.err(
                    "bad-id",
                    step.id.span(),
                    format!("step id `{id}` is not a valid id"),
                );
                Self::help(
                    d,
                    "use lowercase letters, digits and `-`, starting with a letter or digit",
                );
            }
            if let Some(prev) = first.get(id) {
                let (line, _) = self.src.line_col(prev.start);
                let d = self.err(
                    "duplicate-id",
                    step.id.span(),
                    format!("duplicate step id `{id}`"),
                );
                Self::help(
                    d,
                    format!(
                        "the first step with this id is on line {line}; step ids must be unique in a runbook"
                    ),
                );
                continue;
            }
            first.insert(id, step.id.span());
            self.ids.insert(id, rollback);
            self.steps.insert(id, step);
        }
        for id in &rb.broken_steps {
            self.ids.entry(id.as_str()).or_insert(false);
        }
    }

    /// Is `target` reachable from `from` through depends_on (i.e. does `from` come after it)?
    /// A short walk up from `from` answers most questions (a step reads a near one); past
    /// `BUDGET` steps the answer comes from the set of steps downstream of `target`, built
    /// once per target: walking up a 20,000-step chain for each step made validate quadratic.
    fn upstream(&mut self, from: &Step, target: &str) -> bool {
        const BUDGET: usize = 32;
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> = from
            .depends_on
            .iter()
            .map(|d| d.get_ref().as_str())
            .collect();
        let mut walked = 0;
        while let Some(id) = stack.pop() {
            if id == target {
                return true;
            }
            if !seen.insert(id) {
                continue;
            }
            walked += 1;
            if walked > BUDGET {
                return self
                    .downstream_of(target)
                    .contains(from.id.get_ref().as_str());
            }
            if let Some(s) = self.steps.get(id) {
                stack.extend(s.depends_on.iter().map(|d| d.get_ref().as_str()));
            }
        }
        false
    }

    /// Every step that depends on `target`, directly or not.
    fn downstream_of(&mut self, target: &str) -> &HashSet<&'a str> {
        if !self.downstream.contains_key(target) {
            let mut dependents: HashMap<&str, Vec<&'a str>> = HashMap::new();
            for (&id, s) in &self.steps {
                for d in &s.depends_on {
                    dependents.entry(d.get_ref().as_str()).or_default().push(id);
                }
            }
            let mut down: HashSet<&'a str> = HashSet::new();
            let mut stack: Vec<&'a str> = dependents.get(target).cloned().unwrap_or_default();
            while let Some(id) = stack.pop() {
                if down.insert(id) {
                    stack.extend(dependents.get(id).into_iter().flatten().copied());
                }
            }
            let key = self.steps.get_key_value(target).map(|(k, _)| *k);
            match key {
                Some(k) => {
                    self.downstream.insert(k, down);
                }
                None => return &EMPTY,
            }
        }
        self.downstream.get(target).unwrap_or(&EMPTY)
    }

    fn step_ref(&mut self, what: &str, id: &Spanned<String>, want_rollback: bool) {
        let name = id.get_ref().as_str();
        match self.ids.get(name) {
            Some(&is_rb) if is_rb == want_rollback => {}
            Some(_) if want_rollback => {
                let d = self.err(
                    "unknown-dependency",
                    id.span(),
                    format!(
                        "`{what}` names `{name}`, which is a [[step]], not a [[rollback]] step"
                    ),
                );
                Self::help(
                    d,
                    "rollback and cleanup steps are declared with [[rollback]]",
                );
            }
            Some(_) => {
                self.err(
                    "unknown-dependency",
                    id.span(),
                    format!("`{what}` names `{name}`, which is a [[rollback]] step"),
                );
            }
            None => {
                let hint = self.suggestions_left > 0;
                self.suggestions_left = self.suggestions_left.saturating_sub(1);
                let candidates: Vec<&str> = self
                    .ids
                    .iter()
                    .filter(|(_, rb)| hint && **rb == want_rollback)
                    .map(|(k, _)| *k)
                    .collect();
                let d = self.err(
                    "unknown-dependency",
                    id.span(),
                    format!("`{what}` names `{name}`, but there is no such step"),
                );
                if let Some(s) = did_you_mean(name, candidates) {
                    Self::help(d, format!("did you mean `{s}`?"));
                }
            }
        }
    }

    fn step(&mut self, step: &'a Step, rollback: bool) {
        let kind = *step.kind.get_ref();
        let step_id = step.id.get_ref();
        for dep in &step.depends_on {
            if dep.get_ref() == step_id {
                self.err(
                    "dependency-cycle",
                    dep.span(),
                    format!("step `{step_id}` depends on itself"),
                );
            } else {
                self.step_ref("depends_on", dep, rollback);
            }
        }
        self.duration("timeout", &step.timeout);
        self.duration("retry_delay", &step.retry_delay);
        self.duration("poll", &step.poll);
        self.duration("duration", &step.duration);
        self.duration("max_age", &step.max_age);
        self.retries(step);
        self.already(step);
        self.failure_handling(step);
        self.kind_fields(step, kind);
        self.method(step, kind);
        self.arm_fields(step);
        if kind == StepKind::Probe {
            self.probe_url(step);
        }
        if kind == StepKind::Storage {
            self.storage(step);
        }
        for (a, span) in step.expectations() {
            self.expectation(a, span, "expect");
        }
        if let Some(rows) = &step.expect_rows {
            if let Some(p) = &rows.get_ref().path {
                self.err(
                    "bad-expectation",
                    p.span(),
                    "`expect_rows` is about the number of rows: it takes no `path`",
                );
            }
            self.expectation(rows.get_ref(), rows.span(), "expect_rows");
        }
        if let Some(w) = &step.when {
            self.condition(step, w.get_ref(), w.span(), rollback);
        }
        if kind == StepKind::Command
            && let Some(e) = &step.expect
            && step.parse.as_ref().map(|p| *p.get_ref()) != Some(ParseAs::Json)
        {
            let d = self.err(
                "kind-field",
                e.span(),
                "`expect` on a command reads its JSON output: it needs `parse = \"json\"`",
            );
            Self::help(
                d,
                "add `parse = \"json\"`, or use a `when` condition on `${steps.<id>.stdout}`",
            );
        }
        for (name, path) in &step.outputs {
            if path.get_ref().contains("${") {
                continue;
            }
            if let Err(e) = JsonPath::parse(path.get_ref()) {
                self.err(
                    "bad-expectation",
                    path.span(),
                    format!("output `{name}`: bad path: {e}"),
                );
            }
        }
        if let Some(p) = &step.body_matches {
            self.regex("body_matches", p);
        }
        self.destructive(step, kind);
        self.approval(step, kind);
        self.assess(step, kind);
        self.references(step, rollback);
        self.secret_in_argv(step);
    }

    /// A secret in a command's argv is readable by every user of the machine (`ps`,
    /// `/proc/<pid>/cmdline`) and by whatever the program logs of its command line: it belongs
    /// in the step's `env`.
    fn secret_in_argv(&mut self, step: &Step) {
        let Some(argv) = &step.argv else { return };
        for arg in argv.get_ref() {
            let Ok(found) = template::refs(arg.get_ref()) else {
                continue; // reported by `references`
            };
            for r in found {
                let Ref::Var(name) = &r.reference else {
                    continue;
                };
                if !self.rb.var(name).is_some_and(|v| v.secret) {
                    continue;
                }
                let at = locate(self.src, &arg.span(), &arg.get_ref()[r.start..r.end]);
                let d = self.warn(
                    "secret-in-argv",
                    at,
                    format!(
                        "secret variable `{name}` is passed in the command's argv, where any user of the machine can read it"
                    ),
                );
                Self::help(
                    d,
                    format!(
                        "pass it in `env` instead (`env = {{ TOKEN = \"${{{name}}}\" }}`) and let the program read it there (for git: a credential helper or `http.extraheader` set through GIT_CONFIG_COUNT / GIT_CONFIG_KEY_0 / GIT_CONFIG_VALUE_0)"
                    ),
                );
            }
        }
    }

    fn failure_handling(&mut self, step: &Step) {
        let on_failure = step.on_failure.as_ref().map(|o| *o.get_ref());
        match (&step.rollback, on_failure) {
            (Some(r), _) => {
                self.step_ref("rollback", r, true);
                if on_failure != Some(OnFailure::Rollback) {
                    let d = self.warn(
                        "kind-field",
                        r.span(),
                        "`rollback` is only run when `on_failure = \"rollback\"`",
                    );
                    Self::help(d, "add `on_failure = \"rollback\"`, or remove `rollback`");
                }
            }
            (None, Some(OnFailure::Rollback)) => {
                let span = step
                    .on_failure
                    .as_ref()
                    .map_or(step.id.span(), |o| o.span());
                let d = self.err(
                    "missing-field",
                    span,
                    "`on_failure = \"rollback\"` needs a `rollback` step to run",
                );
                Self::help(d, "add `rollback = \"<id of a [[rollback]] step>\"`");
            }
            _ => {}
        }
        if let Some(c) = &step.cleanup {
            self.step_ref("cleanup", c, true);
        }
    }

    fn kind_fields(&mut self, step: &Step, kind: StepKind) {
        let (required, optional) = kind_fields(kind);
        let present = kind_specific_present(step);
        for need in required {
            if present.iter().any(|(n, _)| n == need) {
                continue;
            }
            let span = step.kind.span();
            if *need == "api_version" {
                let d = self.err(
                    "missing-api-version",
                    span,
                    format!("a `{kind}` step needs `api_version`"),
                );
                Self::help(
                    d,
                    "add the ARM api-version of the resource type, e.g. `api_version = \"2023-12-01\"`",
                );
            } else {
                self.err(
                    "kind-field",
                    span,
                    format!("a `{kind}` step needs `{need}`"),
                );
            }
        }
        for (name, span) in present {
            if name == "instructions" || required.contains(&name) || optional.contains(&name) {
                continue;
            }
            let d = self.warn(
                "kind-field",
                span,
                format!("`{name}` is not used by a `{kind}` step"),
            );
            Self::help(d, "remove it, or check the step's `kind`");
        }
    }

    fn method(&mut self, step: &Step, kind: StepKind) {
        let Some(m) = &step.method else { return };
        let allowed: &[&str] = match kind {
            StepKind::Action => &["PUT", "PATCH", "POST", "DELETE"],
            StepKind::Probe => &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            _ => return,
        };
        if !allowed.contains(&m.get_ref().as_str()) {
            let d = self.err(
                "wrong-type",
                m.span(),
                format!("`{}` is not a method for a `{kind}` step", m.get_ref()),
            );
            Self::help(d, format!("use one of: {}", allowed.join(", ")));
        }
    }

    fn arm_fields(&mut self, step: &Step) {
        if let Some(r) = &step.resource {
            let text = r.get_ref();
            if !(text.starts_with("/subscriptions/")
                || text.starts_with("${")
                || text.starts_with("/providers/"))
            {
                let d = self.err(
                    "bad-resource",
                    r.span(),
                    "`resource` must be an ARM resource id",
                );
                Self::help(
                    d,
                    "ARM ids start with /subscriptions/<id>/resourceGroups/<group>/providers/...",
                );
            }
            if let Some(why) = drbook_azure::path::path_problem(text) {
                let d = self.err(
                    "bad-resource",
                    r.span(),
                    format!("`resource` holds {why}: the request would reach another path than the one confirmed and logged"),
                );
                Self::help(
                    d,
                    "write the resource id itself, without `.`/`..` segments or percent-encoded `.`, `/`, `\\`, `%`",
                );
            }
        }
        if let Some(v) = &step.api_version {
            let t = v.get_ref();
            let (date, suffix) = t.split_at_checked(10).unwrap_or((t, ""));
            let date_ok = date.len() == 10
                && date.char_indices().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            let suffix_ok = suffix.is_empty() || suffix.starts_with('-');
            if !(date_ok && suffix_ok) {
                let d = self.err(
                    "bad-api-version",
                    v.span(),
                    format!("`{t}` is not an ARM api-version"),
                );
                Self::help(
                    d,
                    "api-versions are dates, optionally with a suffix: `2023-12-01`, `2024-02-01-preview`",
                );
            }
        }
    }

    /// A probe speaks HTTP: any other scheme (`file://` would read a local file into the
    /// step's output and the log) is refused. A URL that starts with a variable is known only
    /// at run time, where the HTTP client refuses other schemes.
    fn probe_url(&mut self, step: &Step) {
        let Some(u) = &step.url else { return };
        let text = u.get_ref().trim();
        if text.starts_with("${") {
            return;
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return;
        }
        let scheme = text
            .split_once(':')
            .map_or(String::new(), |(s, _)| format!(" (`{s}:`)"));
        let d = self.err(
            "bad-url",
            u.span(),
            format!("`url`: a probe reads http:// or https:// URLs only{scheme}"),
        );
        Self::help(d, "e.g. `url = \"https://shop.example.com/healthz\"`");
    }

    /// A storage step reads a container, an account, or both, against a maximum age that is
    /// its own or the runbook's RPO.
    fn storage(&mut self, step: &Step) {
        if step.container_url.is_none() && step.resource.is_none() {
            let d = self.err(
                "kind-field",
                step.kind.span(),
                "a `storage` step needs `container_url` (backup freshness), `resource` (geo-replication), or both",
            );
            Self::help(
                d,
                "e.g. `container_url = \"https://acct.blob.core.windows.net/backups\"`, or `resource` = the storage account's ARM id",
            );
        }
        if step.max_age.is_none() && self.rb.meta.rpo.is_none() {
            let d = self.err(
                "missing-field",
                step.kind.span(),
                "a `storage` step needs `max_age`, or an `rpo` in [runbook] to default to",
            );
            Self::help(
                d,
                "add `max_age = \"15m\"` to the step, or `rpo = \"15m\"` under [runbook]",
            );
        }
        if let (Some(p), None) = (&step.prefix, &step.container_url) {
            let d = self.warn(
                "kind-field",
                p.span(),
                "`prefix` is only used with `container_url`",
            );
            Self::help(d, "add `container_url`, or remove `prefix`");
        }
        if let Some(u) = &step.container_url {
            let text = u.get_ref();
            if text.to_ascii_lowercase().contains("sig=") {
                let d = self.warn(
                    "secret-in-file",
                    u.span(),
                    "`container_url` carries a SAS token written in the runbook",
                );
                Self::help(
                    d,
                    "remove the query and set AZURE_STORAGE_SAS_TOKEN, or put the SAS in a secret variable",
                );
            }
            if !text.contains("${")
                && let Err(e) = drbook_azure::blob::location::Location::parse(text)
            {
                let d = self.err("bad-url", u.span(), format!("`container_url`: {e}"));
                Self::help(
                    d,
                    "write the container's URL: `https://<account>.blob.core.windows.net/<container>`, or for the emulator `http://127.0.0.1:10000/devstoreaccount1/<container>`",
                );
            }
        }
        if let Some(r) = &step.resource {
            let t = r.get_ref().to_ascii_lowercase();
            if t.starts_with("/subscriptions/")
                && !t.contains("${")
                && !t.contains("/providers/microsoft.storage/storageaccounts/")
            {
                let d = self.err(
                    "bad-resource",
                    r.span(),
                    "a `storage` step's `resource` must be a storage account (Microsoft.Storage/storageAccounts)",
                );
                Self::help(
                    d,
                    "its geo-replication is read from `<account id>?$expand=geoReplicationStats`",
                );
            }
        }
    }

    fn regex(&mut self, field: &str, pat: &Spanned<String>) {
        let text = pat.get_ref();
        if text.contains("${") {
            return;
        }
        // Parsing is enough to know the pattern is valid, and far cheaper than compiling it.
        if let Err(e) = regex_syntax::Parser::new().parse(text) {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("invalid").trim().to_string();
            self.err(
                "bad-expectation",
                pat.span(),
                format!("`{field}`: bad regular expression: {last}"),
            );
            return;
        }
        // Only a counted repetition (`{n}`, or a class `\p{..}`) or a long pattern can grow
        // past the size limit the run compiles with; compiling just those keeps validate fast.
        if (text.contains('{') || text.len() > 100)
            && let Err(regex::Error::CompiledTooBig(limit)) = regex::RegexBuilder::new(text)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
        {
            let d = self.err(
                "bad-expectation",
                pat.span(),
                format!("`{field}`: the regular expression is too big (compiled, it exceeds {limit} bytes)"),
            );
            Self::help(
                d,
                "use a smaller pattern: fewer or smaller counted repetitions `{n}`",
            );
        }
    }

    /// `approval` only means something on a step that changes things: a read or a wait has
    /// nothing for a second person to agree to. A warning, like any field a kind does not use,
    /// so the runbook still loads (the engine ignores it there) and `--strict` fails on it.
    fn approval(&mut self, step: &Step, kind: StepKind) {
        let Some(a) = &step.approval else { return };
        if kind.changes_things() {
            return;
        }
        let d = self.warn(
            "kind-field",
            a.span(),
            format!(
                "`approval` is not used by a `{kind}` step: only action, command and manual steps change things"
            ),
        );
        Self::help(
            d,
            "remove `approval`, or put it on the step that makes the change",
        );
    }

    fn destructive(&mut self, step: &Step, kind: StepKind) {
        if step.confirm.is_some() {
            return;
        }
        let why = match kind {
            StepKind::Action => {
                let m = step.method.as_ref().map_or("", |m| m.get_ref().as_str());
                format!("this action ({m}) changes live state")
            }
            StepKind::Command => {
                if step.destructive.as_ref().is_some_and(|d| !*d.get_ref()) {
                    return;
                }
                let verb = step.argv.as_ref().and_then(|argv| {
                    argv.get_ref()
                        .iter()
                        .skip(1)
                        .map(|a| a.get_ref().as_str())
                        .find(|a| MUTATING_VERBS.contains(a))
                });
                match (
                    step.destructive.as_ref().is_some_and(|d| *d.get_ref()),
                    verb,
                ) {
                    (true, _) => "this command is marked destructive".to_string(),
                    (false, Some(v)) => format!("this command looks state-changing (`{v}`)"),
                    (false, None) => return,
                }
            }
            _ => return,
        };
        let d = self.warn(
            "unconfirmed-destructive",
            step.kind.span(),
            format!("step `{}`: {why} but has no `confirm`", step.id.get_ref()),
        );
        Self::help(
            d,
            "add `confirm = true` so the operator approves it, or `confirm = false` to say it needs none",
        );
    }
}

/// The span of `needle` inside the source text of `span` (the whole span if not found, e.g.
/// when the TOML string used escapes).
fn locate(src: &SourceFile, span: &Range<usize>, needle: &str) -> Range<usize> {
    src.text
        .get(span.clone())
        .and_then(|hay| hay.find(needle))
        .map_or(span.clone(), |i| {
            span.start + i..span.start + i + needle.len()
        })
}
