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

/// Parses a duration such as `90s`, `5m`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| e.to_string())
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
            if let Some(why) = crate::azure::client::path_problem(text) {
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
                && let Err(e) = crate::blob::Location::parse(text)
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

    /// One expectation: a path (optional), exactly one operator, valid operands.
    fn expectation(&mut self, a: &Assertion, span: Range<usize>, field: &str) {
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

    fn operator(&mut self, a: &Assertion, span: Range<usize>, field: &str) {
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

    fn condition(&mut self, step: &Step, c: &Assertion, span: Range<usize>, rollback: bool) {
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
    fn assessment_condition(&mut self, c: &Assertion, s: &Spanned<String>) {
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

    fn not_an_assessment(&mut self, t: &Step, at: Range<usize>) {
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
    fn assess(&mut self, step: &Step, kind: StepKind) {
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

    /// Every `${...}` in the step's strings must name something that exists and is in reach.
    fn references(&mut self, step: &'a Step, rollback: bool) {
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

    fn refs_in(&mut self, step: &Step, text: &str, span: Range<usize>, rollback: bool) {
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

    fn step_output_ref(
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
    fn cycles(&mut self, steps: &'a [Step]) {
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
    fn rollback_cycles(&mut self, rollbacks: &'a [Step]) {
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

    fn rollback_cycle(&mut self, rollbacks: &'a [Step], cycle: &[usize]) {
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

type Sources<'a> = HashMap<&'a std::path::Path, &'a SourceFile>;

fn validate_ids_across_files(set: &LoadSet, sources: &Sources<'_>, diags: &mut Vec<Diagnostic>) {
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

fn validate_plans(set: &LoadSet, sources: &Sources<'_>, diags: &mut Vec<Diagnostic>) {
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
