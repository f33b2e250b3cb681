//! Carrying out the step kinds that need no operator: reads (with `poll`: until they hold,
//! bounded by `timeout`), ARM writes followed to their end, commands, waits. Each returns a
//! report; the engine records it. A dry run describes the call and touches nothing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::command::{self, CommandSpec, Stream};
use crate::checks::eval;
use crate::checks::read::{ReadResult, Reader, Verdict};
use crate::checks::scope::Scope;
use drbook_core::runbook::model::{ParseAs, Step, StepKind};
use drbook_core::time::parse_duration;

/// A step's default timeout (the format's documented default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// What happened, for the log and the screen; secrets already masked.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub outcome: Outcome,
    /// One line: what was done and what came of it.
    pub summary: String,
    pub outputs: BTreeMap<String, String>,
    /// The last read of a read step (expected vs actual).
    pub check: Option<ReadResult>,
    /// False when trying again cannot help (a program that is not installed, a reference
    /// that cannot be filled in): `retries` are not spent on it.
    pub retryable: bool,
}

impl StepReport {
    fn new(outcome: Outcome, summary: impl Into<String>) -> StepReport {
        StepReport {
            outcome,
            summary: summary.into(),
            outputs: BTreeMap::new(),
            check: None,
            retryable: true,
        }
    }

    fn hopeless(summary: impl Into<String>) -> StepReport {
        StepReport {
            retryable: false,
            ..StepReport::new(Outcome::Failed, summary)
        }
    }
}

/// What a step runs with.
pub struct StepContext<'a> {
    pub reader: &'a Reader,
    pub scope: &'a Scope,
    pub cancel: CancellationToken,
    /// Output lines of commands, as they come.
    pub lines: mpsc::UnboundedSender<(Stream, String)>,
    /// Describe every call and command; do none.
    pub dry_run: bool,
    /// Each re-read of a polling step, for the screen ("still Secondary, 12s").
    pub progress: mpsc::UnboundedSender<String>,
    /// Rehearsals against the simulator may cap waits and poll intervals (`--fast`).
    pub max_delay: Option<Duration>,
}

impl StepContext<'_> {
    pub fn delay(&self, d: Duration) -> Duration {
        self.max_delay.map_or(d, |m| d.min(m))
    }
}

pub fn timeout_of(step: &Step) -> Duration {
    step.timeout
        .as_ref()
        .and_then(|t| parse_duration(t.get_ref()).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Carries out a step that needs no operator. Manual steps and confirmations are the engine's.
pub async fn run(step: &Step, ctx: &StepContext<'_>) -> StepReport {
    let redact = |s: String| ctx.scope.vars.redact(&s);
    let mut r = match step.kind.get_ref() {
        StepKind::Check
        | StepKind::Health
        | StepKind::Graph
        | StepKind::Probe
        | StepKind::Storage => read(step, ctx).await,
        StepKind::Action => action(step, ctx).await,
        StepKind::Command => run_command(step, ctx).await,
        StepKind::Wait => wait(step, ctx).await,
        StepKind::Manual => StepReport::new(
            Outcome::Failed,
            "a manual step is carried out by the operator",
        ),
    };
    r.summary = redact(r.summary);
    r.outputs = r.outputs.into_iter().map(|(k, v)| (k, redact(v))).collect();
    r.outputs
        .insert("outcome".into(), r.outcome.as_str().into());
    r
}

async fn read(step: &Step, ctx: &StepContext<'_>) -> StepReport {
    if ctx.dry_run {
        let what = crate::checks::read::target_text(step, ctx.scope);
        return StepReport::new(
            Outcome::Ok,
            format!("dry run: would read {}", ctx.scope.vars.redact(&what)),
        );
    }
    let poll = step
        .poll
        .as_ref()
        .and_then(|p| parse_duration(p.get_ref()).ok());
    let deadline = Instant::now() + timeout_of(step);
    let started = Instant::now();
    loop {
        let r = ctx.reader.read(step, ctx.scope, None).await;
        let holds = r.verdict == Verdict::Pass;
        let give_up = poll.is_none() || Instant::now() >= deadline || ctx.cancel.is_cancelled();
        if holds || give_up {
            let outcome = if holds { Outcome::Ok } else { Outcome::Failed };
            let mut summary = format!(
                "{}: expected {}, actual {}",
                r.verdict.as_str(),
                r.expected,
                r.actual
            );
            if let Some(e) = &r.error {
                summary = format!("{summary}\n{e}");
            }
            if !holds && poll.is_some() && !ctx.cancel.is_cancelled() {
                summary = format!(
                    "{summary} (still not holding after {}s)",
                    started.elapsed().as_secs()
                );
            }
            let mut outputs = r.outputs.clone();
            // A failed read keeps Azure's request ids as fields of the log event too.
            for (k, v) in r.error.iter().flat_map(|e| e.ids.fields()) {
                outputs.insert(k.to_string(), v);
            }
            let mut outcome = outcome;
            if step.assesses() {
                match crate::checks::read::finding(&r) {
                    // Found, either way: the step did its job. The finding decides the
                    // branches; retries are for an assessment that could not be made.
                    Some(f) => {
                        outcome = Outcome::Ok;
                        outputs.insert("finding".into(), f.as_str().into());
                        // Said neutrally: "FAIL" would read as the step failing.
                        summary = format!(
                            "finding: {}: expected {}, actual {}",
                            f.as_str(),
                            r.expected,
                            r.actual
                        );
                        if let Some(e) = &r.error {
                            summary = format!("{summary}\n{e}");
                        }
                    }
                    None => summary = format!("could not assess: {summary}"),
                }
            }
            return StepReport {
                outcome,
                summary,
                outputs,
                check: Some(r),
                retryable: true,
            };
        }
        let _ = ctx.progress.send(format!(
            "not yet: {} (after {}s)",
            r.actual,
            started.elapsed().as_secs()
        ));
        let wait = ctx
            .delay(poll.unwrap_or_default())
            .min(deadline.saturating_duration_since(Instant::now()));
        tokio::select! {
            () = ctx.cancel.cancelled() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

fn render(ctx: &StepContext<'_>, s: Option<&String>) -> Result<String, String> {
    ctx.scope
        .render(s.map(String::as_str).unwrap_or_default())
        .map_err(|e| {
            format!(
                "cannot fill in `{}`: {e}",
                s.map(String::as_str).unwrap_or_default()
            )
        })
}

async fn action(step: &Step, ctx: &StepContext<'_>) -> StepReport {
    let id = match render(ctx, step.resource.as_ref().map(|r| r.get_ref())) {
        Ok(id) => id,
        Err(e) => return StepReport::hopeless(e),
    };
    let method_text = step
        .method
        .as_ref()
        .map_or("POST".to_string(), |m| m.get_ref().to_ascii_uppercase());
    let Ok(method) = Method::from_bytes(method_text.as_bytes()) else {
        return StepReport::new(
            Outcome::Failed,
            format!("`{method_text}` is not an HTTP method"),
        );
    };
    let api = step
        .api_version
        .as_ref()
        .map(|a| a.get_ref().clone())
        .unwrap_or_default();
    let body = match step
        .body
        .as_ref()
        .map(|b| ctx.scope.render_value(b.get_ref()))
        .transpose()
    {
        Ok(b) => b,
        Err(e) => return StepReport::new(Outcome::Failed, format!("cannot fill in the body: {e}")),
    };
    if ctx.dry_run {
        let body = body.map(|b| format!(" with body {b}")).unwrap_or_default();
        return StepReport::new(
            Outcome::Ok,
            format!("dry run: would {method_text} {id}?api-version={api}{body}"),
        );
    }
    let progress = ctx.progress.clone();
    let report = move |s: &str| {
        let _ = progress.send(format!("long-running operation: {s}"));
    };
    match ctx
        .reader
        .arm
        .write(method, &id, &api, body, timeout_of(step), &report)
        .await
    {
        Ok(out) => {
            let lro = out
                .lro
                .as_ref()
                .map(|l| {
                    format!(
                        ", long-running operation {} after {} polls",
                        l.status, l.polls
                    )
                })
                .unwrap_or_default();
            let mut r = StepReport::new(
                Outcome::Ok,
                format!(
                    "{method_text} {id}: HTTP {}{lro} in {:.1}s",
                    out.status,
                    out.elapsed.as_secs_f64()
                ),
            );
            r.outputs.insert("status".into(), out.status.to_string());
            extract(step, ctx, &out.body, &mut r);
            r
        }
        Err(e) => {
            let already = step.already.as_ref().and_then(|l| {
                l.get_ref()
                    .iter()
                    .find(|a| a.matches(e.status, e.code.as_deref()))
            });
            let mut r = match already {
                // The runbook says this answer means the change is already under way or done
                // (a failover the first, interrupted request started): the step did its part,
                // and sending it again would only meet the same answer.
                Some(a) => {
                    let code = a.code.get_ref().trim().to_string();
                    let status = *a.status.get_ref();
                    let mut r = StepReport::new(
                        Outcome::Ok,
                        format!(
                            "already under way: {code} ({method_text} {id}: HTTP {status} {}: {})",
                            e.code.as_deref().unwrap_or_default(),
                            e.message
                        ),
                    );
                    r.outputs.insert("code".into(), code);
                    r.outputs.insert("already".into(), "true".into());
                    r
                }
                // Trying again cannot change the allowlist: fail at once.
                None if e.kind == drbook_azure::ErrorKind::WriteRefused => {
                    StepReport::hopeless(e.to_string())
                }
                None => StepReport::new(Outcome::Failed, e.to_string()),
            };
            // Fields of the log event, so a support case can quote them.
            for (k, v) in e.ids.fields() {
                r.outputs.insert(k.to_string(), v);
            }
            if let Some(s) = e.status {
                r.outputs.insert("status".into(), s.to_string());
            }
            r
        }
    }
}

async fn run_command(step: &Step, ctx: &StepContext<'_>) -> StepReport {
    let mut argv = Vec::new();
    for a in step
        .argv
        .as_ref()
        .map(|a| a.get_ref().as_slice())
        .unwrap_or_default()
    {
        match render(ctx, Some(a.get_ref())) {
            Ok(v) => argv.push(v),
            Err(e) => return StepReport::hopeless(e),
        }
    }
    let mut env = Vec::new();
    for (k, v) in step
        .env
        .as_ref()
        .map(|e| e.get_ref().iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        match render(ctx, Some(v.get_ref())) {
            Ok(v) => env.push((k.clone(), v)),
            Err(e) => return StepReport::hopeless(e),
        }
    }
    let cwd = match step
        .cwd
        .as_ref()
        .map(|c| render(ctx, Some(c.get_ref())))
        .transpose()
    {
        Ok(c) => c.map(Into::into),
        Err(e) => return StepReport::new(Outcome::Failed, e),
    };
    let shown = argv
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if ctx.dry_run {
        return StepReport::new(Outcome::Ok, format!("dry run: would run {shown}"));
    }
    let spec = CommandSpec {
        argv,
        cwd,
        env,
        timeout: timeout_of(step),
    };
    match command::run(&spec, ctx.lines.clone(), ctx.cancel.clone()).await {
        Err(e) => StepReport::hopeless(e.to_string()),
        Ok(out) => {
            let code = out
                .exit_code
                .map_or("killed".to_string(), |c| c.to_string());
            let why = if out.timed_out {
                format!(
                    ", killed after the step's timeout of {}s",
                    spec.timeout.as_secs()
                )
            } else if out.cancelled {
                ", aborted by the operator".to_string()
            } else {
                String::new()
            };
            let mut r = StepReport::new(
                if out.succeeded() {
                    Outcome::Ok
                } else {
                    Outcome::Failed
                },
                format!(
                    "{shown}: exit {code}{why} in {:.1}s",
                    out.duration.as_secs_f64()
                ),
            );
            r.outputs.insert("exit_code".into(), code);
            r.outputs
                .insert("stdout".into(), out.stdout.trim_end().to_string());
            let parsed = match step.parse.as_ref().map(|p| *p.get_ref()) {
                Some(ParseAs::Json) => match serde_json::from_str::<serde_json::Value>(&out.stdout)
                {
                    Ok(v) => Some(v),
                    Err(e) => {
                        if r.outcome == Outcome::Ok {
                            r.outcome = Outcome::Failed;
                            r.summary = format!("{}; its output is not JSON: {e}", r.summary);
                        }
                        None
                    }
                },
                _ => Some(serde_json::Value::String(out.stdout.trim_end().to_string())),
            };
            if let Some(doc) = parsed {
                extract(step, ctx, &doc, &mut r);
                if r.outcome == Outcome::Ok && !step.expectations().is_empty() {
                    judge_into(step, ctx, &doc, &mut r);
                }
            }
            r
        }
    }
}

/// `outputs = { name = "path" }` from a document.
fn extract(step: &Step, ctx: &StepContext<'_>, doc: &serde_json::Value, r: &mut StepReport) {
    for (name, path) in &step.outputs {
        let Ok(p) = ctx.scope.render(path.get_ref()) else {
            continue;
        };
        if let Ok(jp) = drbook_core::runbook::path::JsonPath::parse(&p)
            && let Some(v) = jp.select(doc).first()
        {
            r.outputs.insert(name.clone(), eval::show(v));
        }
    }
}

/// A command's `expect` against its (parsed) output.
fn judge_into(step: &Step, ctx: &StepContext<'_>, doc: &serde_json::Value, r: &mut StepReport) {
    let mut exps = Vec::new();
    for (a, _) in step.expectations() {
        let Some(op) = eval::the_op(a) else { continue };
        let render = |s: &str| ctx.scope.render(s).map_err(|e| e.to_string());
        let Ok(op) = eval::render_op(&op, &render) else {
            continue;
        };
        let path = a
            .path
            .as_ref()
            .map(|p| p.get_ref().clone())
            .unwrap_or_default();
        exps.push((path, op));
    }
    let j = crate::checks::read::judge(&exps, doc, "command");
    if j.verdict != Verdict::Pass {
        r.outcome = Outcome::Failed;
    }
    r.summary = format!(
        "{}; expected {}, actual {}",
        r.summary, j.expected, j.actual
    );
    r.check = Some(j);
}

async fn wait(step: &Step, ctx: &StepContext<'_>) -> StepReport {
    let d = ctx.delay(
        step.duration
            .as_ref()
            .and_then(|d| parse_duration(d.get_ref()).ok())
            .unwrap_or_default(),
    );
    if ctx.dry_run {
        return StepReport::new(
            Outcome::Ok,
            format!("dry run: would wait {}", drbook_core::time::exact(d)),
        );
    }
    tokio::select! {
        () = ctx.cancel.cancelled() => StepReport::new(Outcome::Failed, "wait aborted by the operator"),
        () = tokio::time::sleep(d) => StepReport::new(Outcome::Ok, format!("waited {}", drbook_core::time::exact(d))),
    }
}
