//! Carrying out one read-only step (check, health, graph, probe) against live state: render its
//! templates, read, evaluate the expectations, extract outputs. Used by `drbook check` and by
//! the executor alike.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use super::eval::{self, show};
use super::probe::ProbeClient;
use super::scope::Scope;
use drbook_azure::{ArmClient, AzureError, ErrorKind};
use drbook_core::runbook::model::{Assertion, Finding, OneOrMany, Op, Step, StepKind};
use drbook_core::time::parse_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every expectation holds.
    Pass,
    /// The read worked; an expectation does not hold.
    Fail,
    /// The read itself failed (Azure error, timeout, unreachable).
    Error,
    /// Not run (needs a step `check` does not run, or its condition).
    Skipped,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
            Verdict::Skipped => "SKIP",
        }
    }
}

/// The result of one read-only step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadResult {
    pub verdict: Verdict,
    /// What was read: a resource id, a query, a URL.
    pub target: String,
    pub expected: String,
    pub actual: String,
    #[serde(skip)]
    pub outputs: BTreeMap<String, String>,
    pub error: Option<AzureError>,
    #[serde(serialize_with = "ser_ms", rename = "latency_ms")]
    pub latency: Duration,
    /// `arm`, `resource-graph`, `resource-health`, `http`.
    pub source: &'static str,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0)
}

impl ReadResult {
    pub fn skipped(target: String, why: String) -> ReadResult {
        ReadResult {
            verdict: Verdict::Skipped,
            target,
            expected: String::new(),
            actual: why,
            outputs: BTreeMap::new(),
            error: None,
            latency: Duration::ZERO,
            source: "",
        }
    }
}

/// What an assessment (`assess = true`) found in a read, or `None` when the read could not
/// be carried out at all. Only an answer from the thing assessed counts: its expectations not
/// holding, a probe getting no answer, or Azure saying the service is unavailable there (5xx)
/// is "down"; our own sign-in failing, a 403 on the reader, a 404, a bad request or a
/// reference that cannot be filled in say nothing about the region, so they stay failures.
pub fn finding(r: &ReadResult) -> Option<Finding> {
    match r.verdict {
        Verdict::Pass => Some(Finding::Up),
        Verdict::Fail => Some(Finding::Down),
        Verdict::Error => r
            .error
            .as_ref()
            .filter(|e| e.kind == ErrorKind::Unavailable)
            .map(|_| Finding::Down),
        Verdict::Skipped => None,
    }
}

/// What read steps read through.
#[derive(Debug, Clone)]
pub struct Reader {
    pub arm: ArmClient,
    pub probe: ProbeClient,
    /// Resource Graph's scope when a step names none and the runbook has no `subscription`.
    pub subscriptions: Vec<String>,
    /// How `storage` steps sign in to Blob Storage.
    pub blob: super::storage::BlobAccess,
}

/// A document already read for a `check` step (from a batched Resource Graph query).
pub type Prefetched = Option<Value>;

impl Reader {
    /// Runs `step` once (no polling) with the references of `scope`.
    pub async fn read(&self, step: &Step, scope: &Scope, prefetched: Prefetched) -> ReadResult {
        let started = Instant::now();
        let target = target_text(step, scope);
        let mut r = match self.read_inner(step, scope, prefetched).await {
            Ok(r) => r,
            Err(Failure::Render(m)) => ReadResult {
                verdict: Verdict::Error,
                actual: m,
                ..ReadResult::skipped(target.clone(), String::new())
            },
            Err(Failure::Azure(e)) => ReadResult {
                verdict: Verdict::Error,
                expected: expected_text(step, scope),
                actual: e.short(),
                error: Some(e),
                ..ReadResult::skipped(target.clone(), String::new())
            },
        };
        r.target = scope.vars.redact(&target);
        r.expected = scope.vars.redact(&r.expected);
        r.actual = scope.vars.redact(&r.actual);
        // The error quotes the resource, the query or the URL as sent, and the server's own
        // message, any of which may hold a secret variable's value.
        if let Some(e) = &mut r.error {
            for text in [&mut e.operation, &mut e.resource, &mut e.message] {
                *text = scope.vars.redact(text);
            }
            e.code = e.code.as_deref().map(|c| scope.vars.redact(c));
        }
        r.latency = started.elapsed();
        r.outputs.insert(
            "outcome".into(),
            if r.verdict == Verdict::Pass {
                "ok"
            } else {
                "failed"
            }
            .into(),
        );
        r
    }

    async fn read_inner(
        &self,
        step: &Step,
        scope: &Scope,
        prefetched: Prefetched,
    ) -> Result<ReadResult, Failure> {
        let render = |s: &str| {
            scope
                .render(s)
                .map_err(|e| Failure::Render(format!("cannot fill in `{s}`: {e}")))
        };
        let timeout = step
            .timeout
            .as_ref()
            .and_then(|t| parse_duration(t.get_ref()).ok())
            .unwrap_or(Duration::from_secs(30));
        match step.kind.get_ref() {
            StepKind::Check | StepKind::Health => {
                let id = render(
                    step.resource
                        .as_ref()
                        .map(|r| r.get_ref().as_str())
                        .unwrap_or_default(),
                )?;
                let api = step.api_version.as_ref().map(|a| a.get_ref().as_str());
                let (doc, source) = match (step.kind.get_ref(), prefetched) {
                    (StepKind::Check, Some(doc)) => (doc, "resource-graph"),
                    (StepKind::Check, None) => (
                        self.arm
                            .get(&id, api.unwrap_or_default())
                            .await
                            .map_err(Failure::Azure)?
                            .body,
                        "arm",
                    ),
                    _ => (
                        self.arm.health(&id, api).await.map_err(Failure::Azure)?,
                        "resource-health",
                    ),
                };
                let mut exps = expectations(step, scope)?;
                if exps.is_empty() && *step.kind.get_ref() == StepKind::Health {
                    exps.push((
                        "properties.availabilityState".into(),
                        Op::Equals(toml::Value::String("Available".into())),
                    ));
                }
                let mut r = judge(&exps, &doc, source);
                if *step.kind.get_ref() == StepKind::Health
                    && doc
                        .pointer("/properties/availabilityState")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.eq_ignore_ascii_case("Unknown"))
                {
                    // Unknown proves nothing either way (Resource Health has had no signal),
                    // so no expectation passes on it, not even "not Available".
                    r.verdict = Verdict::Fail;
                    r.actual = format!(
                        "{} (Resource Health cannot tell: it has had no recent signal from this \
                         resource; confirm its state another way)",
                        r.actual
                    );
                }
                if let Some((path, _)) = exps.first()
                    && let Some(v) = drbook_core::runbook::path::JsonPath::parse(path)
                        .ok()
                        .and_then(|p| p.select(&doc).first().map(|v| show(v)))
                {
                    r.outputs.insert("value".into(), v);
                }
                extract_outputs(step, scope, &doc, &mut r)?;
                Ok(r)
            }
            StepKind::Graph => {
                let query = render(
                    step.query
                        .as_ref()
                        .map(|q| q.get_ref().as_str())
                        .unwrap_or_default(),
                )?;
                let subs = match &step.subscriptions {
                    Some(s) => s
                        .get_ref()
                        .iter()
                        .map(|x| render(x.get_ref()))
                        .collect::<Result<Vec<_>, _>>()?,
                    None => scope
                        .vars
                        .get("subscription")
                        .map(|s| vec![s.to_string()])
                        .unwrap_or_else(|| self.subscriptions.clone()),
                };
                let rows = self
                    .arm
                    .graph(&subs, &query)
                    .await
                    .map_err(Failure::Azure)?;
                let doc = Value::Array(rows.clone());
                let mut checks: Vec<(String, Op)> = Vec::new();
                if let Some(a) = &step.expect_rows
                    && let Some(op) = render_assertion(a.get_ref(), scope)?
                {
                    checks.push(("__rows".into(), op.1));
                }
                let count_doc = serde_json::json!({ "__rows": rows.len() });
                let mut parts = Vec::new();
                let mut holds = true;
                for (path, op) in &checks {
                    let v = eval::evaluate(path, op, &count_doc, Utc::now());
                    holds &= v.holds;
                    parts.push((v.expected.replace("__rows", "rows"), v.actual));
                }
                for (path, op) in expectations(step, scope)? {
                    // Every row must meet each `expect`.
                    let each = if path.is_empty() {
                        "[*]".to_string()
                    } else {
                        format!("[*].{path}")
                    };
                    let v = eval::evaluate(&each, &op, &doc, Utc::now());
                    holds &= v.holds || rows.is_empty();
                    parts.push((
                        format!("every row: {}", v.expected.trim_start_matches("[*].")),
                        v.actual,
                    ));
                }
                let (expected, actual) = join_parts(parts, || format!("{} rows", rows.len()));
                let mut r = ReadResult {
                    verdict: if holds { Verdict::Pass } else { Verdict::Fail },
                    expected,
                    actual,
                    source: "resource-graph",
                    ..ReadResult::skipped(String::new(), String::new())
                };
                r.outputs.insert("count".into(), rows.len().to_string());
                extract_outputs(step, scope, &doc, &mut r)?;
                Ok(r)
            }
            StepKind::Probe => {
                let url = render(
                    step.url
                        .as_ref()
                        .map(|u| u.get_ref().as_str())
                        .unwrap_or_default(),
                )?;
                let method = step
                    .method
                    .as_ref()
                    .map_or("GET".to_string(), |m| m.get_ref().clone());
                let headers = match &step.headers {
                    Some(h) => h
                        .get_ref()
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), render(v.get_ref())?)))
                        .collect::<Result<Vec<_>, Failure>>()?,
                    None => Vec::new(),
                };
                let statuses: Vec<u16> = step.expect_status.as_ref().map_or(vec![200], |s| {
                    OneOrMany::items(s).into_iter().map(|(c, _)| *c).collect()
                });
                let pattern = match &step.body_matches {
                    Some(p) => Some(render(p.get_ref())?),
                    None => None,
                };
                let mut expected = format!(
                    "HTTP {}",
                    statuses
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                );
                if let Some(p) = &pattern {
                    expected.push_str(&format!(", body matches /{p}/"));
                }
                let answer = match self.probe.probe(&method, &url, &headers, timeout).await {
                    Ok(a) => a,
                    Err(why) => {
                        return Ok(ReadResult {
                            verdict: Verdict::Fail,
                            expected,
                            actual: why,
                            source: "http",
                            ..ReadResult::skipped(String::new(), String::new())
                        });
                    }
                };
                let status_ok = statuses.contains(&answer.status);
                let body_ok = match &pattern {
                    Some(p) => regex::Regex::new(p)
                        .map_err(|e| Failure::Render(format!("body_matches: {e}")))?
                        .is_match(&answer.body),
                    None => true,
                };
                let snippet: String = answer
                    .body
                    .chars()
                    .take(80)
                    .collect::<String>()
                    .replace('\n', " ");
                let mut r = ReadResult {
                    verdict: if status_ok && body_ok {
                        Verdict::Pass
                    } else {
                        Verdict::Fail
                    },
                    expected,
                    actual: format!("HTTP {} {}", answer.status, snippet),
                    source: "http",
                    ..ReadResult::skipped(String::new(), String::new())
                };
                r.outputs.insert("status".into(), answer.status.to_string());
                r.outputs.insert("body".into(), answer.body.clone());
                let doc = serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body));
                extract_outputs(step, scope, &doc, &mut r)?;
                Ok(r)
            }
            StepKind::Storage => super::storage::read(self, step, scope, timeout).await,
            other => Err(Failure::Render(format!(
                "`{other}` steps change state; only check, health, graph, probe and storage steps read"
            ))),
        }
    }
}

/// What a step expects, in words, without reading anything (for rows whose read failed).
fn expected_text(step: &Step, scope: &Scope) -> String {
    let mut parts: Vec<String> = expectations(step, scope)
        .unwrap_or_default()
        .iter()
        .map(|(p, op)| eval::evaluate(p, op, &Value::Null, Utc::now()).expected)
        .collect();
    if parts.is_empty() && *step.kind.get_ref() == StepKind::Health {
        parts.push("properties.availabilityState = Available".into());
    }
    parts.join("; ")
}

pub(crate) enum Failure {
    Render(String),
    Azure(AzureError),
}

/// A step's expectations with their templates filled in.
fn expectations(step: &Step, scope: &Scope) -> Result<Vec<(String, Op)>, Failure> {
    let mut out = Vec::new();
    for (a, _) in step.expectations() {
        if let Some(e) = render_assertion(a, scope)? {
            out.push(e);
        }
    }
    Ok(out)
}

fn render_assertion(a: &Assertion, scope: &Scope) -> Result<Option<(String, Op)>, Failure> {
    let Some(op) = eval::the_op(a) else {
        return Ok(None);
    };
    let r = |s: &str| scope.render(s).map_err(|e| e.to_string());
    let op = eval::render_op(&op, &r).map_err(Failure::Render)?;
    let path = match &a.path {
        Some(p) => r(p.get_ref()).map_err(Failure::Render)?,
        None => String::new(),
    };
    Ok(Some((path, op)))
}

/// Evaluates every expectation on `doc`.
pub fn judge(exps: &[(String, Op)], doc: &Value, source: &'static str) -> ReadResult {
    let now = Utc::now();
    let verdicts: Vec<eval::Verdict> = exps
        .iter()
        .map(|(p, op)| eval::evaluate(p, op, doc, now))
        .collect();
    let holds = verdicts.iter().all(|v| v.holds);
    let (expected, actual) = join_parts(
        verdicts
            .into_iter()
            .map(|v| (v.expected, v.actual))
            .collect(),
        || "read".into(),
    );
    ReadResult {
        verdict: if holds { Verdict::Pass } else { Verdict::Fail },
        expected,
        actual,
        source,
        ..ReadResult::skipped(String::new(), String::new())
    }
}

fn join_parts(parts: Vec<(String, String)>, empty: impl Fn() -> String) -> (String, String) {
    if parts.is_empty() {
        return ("(no expectation)".into(), empty());
    }
    let (e, a): (Vec<String>, Vec<String>) = parts.into_iter().unzip();
    (e.join("; "), a.join("; "))
}

/// `outputs = { name = "path" }`.
pub(crate) fn extract_outputs(
    step: &Step,
    scope: &Scope,
    doc: &Value,
    r: &mut ReadResult,
) -> Result<(), Failure> {
    for (name, path) in &step.outputs {
        let p = scope
            .render(path.get_ref())
            .map_err(|e| Failure::Render(e.to_string()))?;
        if let Ok(jp) = drbook_core::runbook::path::JsonPath::parse(&p)
            && let Some(v) = jp.select(doc).first()
        {
            r.outputs.insert(name.clone(), show(v));
        }
    }
    Ok(())
}

/// What a step reads, for the table: its resource, query or URL, rendered as far as possible.
pub fn target_text(step: &Step, scope: &Scope) -> String {
    let raw = match step.kind.get_ref() {
        StepKind::Graph => step.query.as_ref().map(|q| q.get_ref().clone()),
        StepKind::Probe => step.url.as_ref().map(|u| u.get_ref().clone()),
        StepKind::Storage => return storage_target(step, scope),
        _ => step.resource.as_ref().map(|r| r.get_ref().clone()),
    }
    .unwrap_or_default();
    // What cannot be filled yet shows as `…`, never as `${...}`.
    scope.render(&raw).unwrap_or_else(|_| scope.shown(&raw))
}

/// A storage step's container (never its query, which may be a SAS) and the account whose
/// geo-replication it reads.
fn storage_target(step: &Step, scope: &Scope) -> String {
    let render = |s: &Option<toml::Spanned<String>>| {
        s.as_ref().map(|x| {
            scope
                .render(x.get_ref())
                .unwrap_or_else(|_| scope.shown(x.get_ref()))
        })
    };
    let mut parts = Vec::new();
    if let Some(url) = render(&step.container_url) {
        parts.push(drbook_azure::blob::strip_query(&url));
    }
    if let Some(id) = render(&step.resource) {
        parts.push(id.split('?').next().unwrap_or_default().to_string());
    }
    parts.join(" + ")
}
