//! ARM requests: bounded concurrency, a per-call timeout, retries with exponential backoff and
//! jitter for 5xx, connection errors and timeouts, `Retry-After` on 429, a fresh token when
//! Azure says the old one expired, and cancellation when the operator aborts. A throttled or
//! failing region makes a call fail in bounded time; it never hangs drbook.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::auth::TokenCache;
use super::cloud::Cloud;
use super::error::{AzureError, ErrorKind, RequestIds, azure_error_body};
use super::path::path_problem;

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests in flight at once (`--concurrency`).
    pub concurrency: usize,
    /// Per attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A 429 asking to wait longer than this fails at once rather than stall the operator.
    pub max_retry_after: Duration,
    /// The write guard for real subscriptions: when set, PUT/PATCH/POST/DELETE go only to
    /// these subscriptions (reads and Resource Graph queries are never blocked). `None` (the
    /// simulator) allows every write.
    pub write_subscriptions: Option<Vec<String>>,
    /// Rows asked for per Resource Graph page (`options.$top`, 1 to 1000): Resource Graph's
    /// maximum, 1000, unless a test wants many small pages.
    pub graph_page: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            concurrency: 16,
            timeout: Duration::from_secs(30),
            max_retries: 4,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            write_subscriptions: None,
            graph_page: 1000,
        }
    }
}

/// One ARM request. `path` is a resource id (optionally with a query string and a suffix such
/// as `/start`); `url` overrides it with an absolute URL (polling a long-running operation).
#[derive(Debug, Clone)]
pub struct ArmRequest {
    pub method: Method,
    pub path: String,
    pub url: Option<Url>,
    pub api_version: Option<String>,
    pub body: Option<Value>,
    /// What the error messages call this, e.g. `GET` or `read Resource Health`.
    pub operation: String,
    /// The resource the error messages name (default: `path`).
    pub resource: Option<String>,
    /// Safe to send again after an ambiguous failure (a dropped connection, a timeout).
    pub idempotent: bool,
}

impl ArmRequest {
    pub fn new(method: Method, path: impl Into<String>, api_version: Option<&str>) -> ArmRequest {
        let idempotent = method != Method::POST && method != Method::PATCH;
        ArmRequest {
            operation: method.to_string(),
            method,
            path: path.into(),
            url: None,
            api_version: api_version.map(str::to_string),
            body: None,
            resource: None,
            idempotent,
        }
    }

    pub fn get(path: impl Into<String>, api_version: &str) -> ArmRequest {
        ArmRequest::new(Method::GET, path, Some(api_version))
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn operation(mut self, op: impl Into<String>) -> Self {
        self.operation = op.into();
        self
    }

    pub fn resource(mut self, r: impl Into<String>) -> Self {
        self.resource = Some(r.into());
        self
    }

    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    fn resource_name(&self) -> String {
        self.resource
            .clone()
            .unwrap_or_else(|| self.path.split('?').next().unwrap_or_default().to_string())
    }
}

#[derive(Debug, Clone)]
pub struct ArmResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON body; `Null` when there is none.
    pub body: Value,
    /// From the first attempt to the answer, retries included.
    pub elapsed: Duration,
    pub attempts: u32,
}

/// The subscription a path names (`/subscriptions/{id}/...`), if any.
pub fn subscription_of(path: &str) -> Option<&str> {
    let mut segs = path.split('?').next().unwrap_or_default().split('/');
    while let Some(seg) = segs.next() {
        if seg.eq_ignore_ascii_case("subscriptions") {
            return segs.next().filter(|s| !s.is_empty());
        }
    }
    None
}

/// A fresh random UUID (version 4), for `x-ms-client-request-id`.
pub fn new_uuid() -> String {
    let n: u128 = rand::random();
    // Version 4, variant 10xx, as RFC 9562 says.
    let n = (n & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A W3C `traceparent` for one attempt: the trace is the logical request (its client request
/// id without dashes), the parent id is fresh each time.
fn traceparent(client_request_id: &str) -> String {
    let span: u64 = rand::random::<u64>() | 1;
    format!("00-{}-{span:016x}-01", client_request_id.replace('-', ""))
}

/// Which throttling budget a request spends: ARM counts reads and writes apart, and Resource
/// Graph has its own per-user quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bucket {
    Reads,
    Writes,
    Graph,
}

impl Bucket {
    fn of(req: &ArmRequest) -> Bucket {
        if req.url.is_none()
            && req
                .path
                .to_ascii_lowercase()
                .starts_with("/providers/microsoft.resourcegraph/")
        {
            Bucket::Graph
        } else if req.method == Method::GET {
            Bucket::Reads
        } else {
            Bucket::Writes
        }
    }
}

/// ARM budgets at or below this many requests left make drbook space its requests out.
const ARM_LOW_REMAINING: u64 = 20;
/// The spacing per request below that mark: at 0 left, 20 × 50ms = 1s, in which ARM's token
/// bucket refills (25 reads a second for a subscription).
const ARM_PACE_UNIT: Duration = Duration::from_millis(50);
/// Resource Graph quotas at or below this make drbook spread what is left over the window.
const GRAPH_LOW_REMAINING: u64 = 3;

/// How long to hold the next request of `bucket` so the budget Azure reports is not spent to
/// a 429: `x-ms-ratelimit-remaining-*` for ARM, `x-ms-user-quota-remaining` and
/// `x-ms-user-quota-resets-after` (hh:mm:ss) for Resource Graph. `None` when there is room.
fn pace(headers: &HeaderMap, bucket: Bucket) -> Option<Duration> {
    let num = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if bucket == Bucket::Graph {
        let left = num("x-ms-user-quota-remaining")?;
        if left > GRAPH_LOW_REMAINING {
            return None;
        }
        let window = headers
            .get("x-ms-user-quota-resets-after")
            .and_then(|v| v.to_str().ok())
            .and_then(hms)
            .unwrap_or(Duration::from_secs(5));
        return Some(window / (left as u32 + 1));
    }
    let names: &[&str] = match bucket {
        Bucket::Reads => &[
            "x-ms-ratelimit-remaining-subscription-reads",
            "x-ms-ratelimit-remaining-tenant-reads",
            "x-ms-ratelimit-remaining-subscription-resource-requests",
            "x-ms-ratelimit-remaining-subscription-resource-entities-read",
        ],
        _ => &[
            "x-ms-ratelimit-remaining-subscription-writes",
            "x-ms-ratelimit-remaining-subscription-deletes",
            "x-ms-ratelimit-remaining-tenant-writes",
            "x-ms-ratelimit-remaining-subscription-resource-requests",
        ],
    };
    let left = names.iter().filter_map(|n| num(n)).min()?;
    (left <= ARM_LOW_REMAINING).then(|| ARM_PACE_UNIT * (ARM_LOW_REMAINING - left) as u32)
}

/// `hh:mm:ss` (Resource Graph's `x-ms-user-quota-resets-after`).
fn hms(v: &str) -> Option<Duration> {
    let mut secs = 0f64;
    for part in v.trim().split(':') {
        secs = secs * 60.0
            + part
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)?;
    }
    Some(Duration::from_secs_f64(secs.min(3600.0)))
}

impl ArmResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The ARM client. Cheap to clone; clones share the connection pool, the token cache, the
/// concurrency limit and the cancellation token.
#[derive(Clone, Debug)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: super::http::LazyHttp,
    cloud: Cloud,
    tokens: TokenCache,
    permits: Semaphore,
    options: ClientOptions,
    cancel: CancellationToken,
    /// Per budget, when the next request may go (see `pace`).
    not_before: Mutex<HashMap<Bucket, Instant>>,
}

impl ArmClient {
    pub fn new(
        cloud: Cloud,
        tokens: TokenCache,
        options: ClientOptions,
    ) -> Result<ArmClient, AzureError> {
        let (connect_timeout, idle) = (
            options.timeout.min(Duration::from_secs(10)),
            options.concurrency.max(1),
        );
        let http = super::http::LazyHttp::new(move || {
            reqwest::Client::builder()
                .user_agent(concat!("drbook/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(connect_timeout)
                .pool_max_idle_per_host(idle)
        });
        Ok(ArmClient {
            inner: Arc::new(Inner {
                http,
                permits: Semaphore::new(options.concurrency.max(1)),
                cloud,
                tokens,
                options,
                cancel: CancellationToken::new(),
                not_before: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn cloud(&self) -> &Cloud {
        &self.inner.cloud
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Cancelling it aborts every call in flight and every call made after.
    pub fn cancel_token(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }

    /// The URL for `req`. Only URLs on the ARM endpoint's host are allowed: the bearer token
    /// must never be sent anywhere else (an operation URL could point elsewhere).
    fn url_for(&self, req: &ArmRequest) -> Result<Url, AzureError> {
        let bad = |m: String| {
            AzureError::new(
                req.operation.clone(),
                req.resource_name(),
                ErrorKind::Client,
                m,
            )
        };
        let mut url = match &req.url {
            Some(u) => u.clone(),
            None => {
                if !req.path.starts_with('/') {
                    return Err(bad(format!(
                        "`{}` is not an ARM path (it must start with /)",
                        req.path
                    )));
                }
                if let Some(why) = path_problem(&req.path) {
                    return Err(bad(format!(
                        "refusing `{}`: its path holds {why}, so the request would reach another resource than the one named",
                        req.path
                    )));
                }
                let base = self.inner.cloud.arm.as_str().trim_end_matches('/');
                Url::parse(&format!("{base}{}", req.path))
                    .map_err(|e| bad(format!("not a valid URL: {e}")))?
            }
        };
        if !self.inner.cloud.is_arm_url(&url) {
            let arm = &self.inner.cloud.arm;
            return Err(bad(format!(
                "refusing to send credentials to {} (not the ARM endpoint {})",
                url.host_str().unwrap_or("?"),
                arm.host_str().unwrap_or("?")
            )));
        }
        if let Some(v) = &req.api_version {
            let has = url.query_pairs().any(|(k, _)| k == "api-version");
            if !has {
                url.query_pairs_mut().append_pair("api-version", v);
            }
        }
        Ok(url)
    }

    /// Sends `req`, retrying what can be retried, and returns the first successful answer.
    pub async fn send(&self, req: &ArmRequest) -> Result<ArmResponse, AzureError> {
        let url = self.url_for(req)?;
        self.guard_write(req)?;
        let started = Instant::now();
        let opts = &self.inner.options;
        // One id per logical request, kept over its retries as the Azure SDKs do, so a support
        // case can follow every attempt; each attempt gets its own traceparent span.
        let client_request_id = new_uuid();
        let client_ids = RequestIds {
            client_request_id: Some(client_request_id.clone()),
            ..RequestIds::default()
        };
        let fail = |kind: ErrorKind, msg: String, attempts: u32| {
            AzureError::new(req.operation.clone(), req.resource_name(), kind, msg)
                .attempts(attempts)
                .ids(client_ids.clone())
        };
        let bucket = Bucket::of(req);
        let mut attempt = 0u32;
        let mut refreshed_token = false;
        loop {
            attempt += 1;
            if self.inner.cancel.is_cancelled() {
                return Err(fail(ErrorKind::Cancelled, "cancelled".into(), attempt - 1));
            }
            let hold = self.hold(bucket);
            if !hold.is_zero() {
                tokio::select! {
                    biased;
                    () = self.inner.cancel.cancelled() => return Err(fail(ErrorKind::Cancelled, "cancelled".into(), attempt - 1)),
                    () = tokio::time::sleep(hold) => {}
                }
            }
            let outcome = tokio::select! {
                biased;
                () = self.inner.cancel.cancelled() => return Err(fail(ErrorKind::Cancelled, "cancelled".into(), attempt)),
                r = self.attempt(req, &url, &client_request_id) => r,
            };
            let retries_left = attempt <= opts.max_retries;
            let wait = match outcome {
                Attempt::Answer {
                    status,
                    headers,
                    text,
                } => {
                    if let Some(wait) = pace(&headers, bucket) {
                        self.slow_down(bucket, wait.min(opts.max_retry_after));
                    }
                    if (200..300).contains(&status) {
                        let body = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| {
                                fail(
                                    ErrorKind::Client,
                                    format!("the answer is not JSON: {e}"),
                                    attempt,
                                )
                            })?
                        };
                        return Ok(ArmResponse {
                            status,
                            headers,
                            body,
                            elapsed: started.elapsed(),
                            attempts: attempt,
                        });
                    }
                    let mut err = AzureError::from_answer(
                        &req.operation,
                        &req.resource_name(),
                        status,
                        &text,
                    )
                    .attempts(attempt)
                    .ids(ids_of(&headers, &client_request_id));
                    if status == 504 && !req.idempotent {
                        err.message = format!("{}; {MAY_HAVE_HAPPENED}", err.message);
                        err.may_have_happened = true;
                    }
                    match status {
                        401 if !refreshed_token && token_refusal(&text) => {
                            // Expired or revoked: one fresh token, then the same request again.
                            refreshed_token = true;
                            self.inner.tokens.invalidate().await;
                            Duration::ZERO
                        }
                        401 if refreshed_token => {
                            return Err(AzureError {
                                message: format!(
                                    "{} (refused again with a freshly acquired token)",
                                    err.message
                                ),
                                ..err
                            });
                        }
                        429 if retries_left => {
                            let wait =
                                retry_after(&headers).unwrap_or_else(|| self.backoff(attempt));
                            if wait > opts.max_retry_after {
                                return Err(AzureError {
                                    message: format!(
                                        "{} (Azure asks to wait {}s)",
                                        err.message,
                                        wait.as_secs()
                                    ),
                                    ..err
                                });
                            }
                            wait
                        }
                        500 | 502 | 503 | 504
                            if retries_left
                                && (req.idempotent || status == 503 || status == 429) =>
                        {
                            retry_after(&headers)
                                .unwrap_or_else(|| self.backoff(attempt))
                                .min(opts.max_retry_after)
                        }
                        _ => return Err(err),
                    }
                }
                Attempt::Failed { kind, message } => {
                    if !(retries_left && req.idempotent) {
                        let (message, may_have_happened) = if req.idempotent {
                            (message, false)
                        } else {
                            (
                                format!(
                                    "{message}; the request may or may not have reached Azure, so it was not sent again: {MAY_HAVE_HAPPENED}"
                                ),
                                true,
                            )
                        };
                        return Err(AzureError {
                            may_have_happened,
                            ..fail(kind, message, attempt)
                        });
                    }
                    self.backoff(attempt)
                }
            };
            tokio::select! {
                biased;
                () = self.inner.cancel.cancelled() => return Err(fail(ErrorKind::Cancelled, "cancelled while waiting to retry".into(), attempt)),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One attempt: a concurrency permit, a token, the request, the whole body, within the
    /// per-call timeout. The permit is released before any backoff sleep.
    async fn attempt(&self, req: &ArmRequest, url: &Url, client_request_id: &str) -> Attempt {
        let Ok(_permit) = self.inner.permits.acquire().await else {
            return Attempt::Failed {
                kind: ErrorKind::Client,
                message: "the client is shut down".into(),
            };
        };
        let token = match self.inner.tokens.token().await {
            Ok(t) => t,
            Err(e) => {
                return Attempt::Failed {
                    kind: ErrorKind::Auth,
                    message: e.message,
                };
            }
        };
        let http = match self.inner.http.get() {
            Ok(h) => h,
            Err(message) => {
                return Attempt::Failed {
                    kind: ErrorKind::Client,
                    message,
                };
            }
        };
        let mut rb = http
            .request(req.method.clone(), url.clone())
            .header(AUTHORIZATION, format!("Bearer {}", token.secret()))
            .header("x-ms-client-request-id", client_request_id)
            .header("x-ms-return-client-request-id", "true")
            .header("traceparent", traceparent(client_request_id))
            .timeout(self.inner.options.timeout);
        if let Some(b) = &req.body {
            rb = rb.json(b);
        } else if req.method == Method::POST {
            rb = rb.header(reqwest::header::CONTENT_LENGTH, 0);
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::from_reqwest(&e),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        match resp.text().await {
            Ok(text) => Attempt::Answer {
                status,
                headers,
                text,
            },
            Err(e) => Attempt::from_reqwest(&e),
        }
    }

    /// How long the next request of `bucket` must wait, per the budgets Azure reported.
    fn hold(&self, bucket: Bucket) -> Duration {
        let Ok(gates) = self.inner.not_before.lock() else {
            return Duration::ZERO;
        };
        gates.get(&bucket).map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        })
    }

    fn slow_down(&self, bucket: Bucket, wait: Duration) {
        if let Ok(mut gates) = self.inner.not_before.lock() {
            let until = Instant::now() + wait;
            let gate = gates.entry(bucket).or_insert(until);
            *gate = (*gate).max(until);
        }
    }

    /// The write guard: on real Azure, a write goes only to a subscription on the allowlist.
    /// Resource Graph queries are POSTs that only read, so they pass.
    fn guard_write(&self, req: &ArmRequest) -> Result<(), AzureError> {
        let Some(allowed) = &self.inner.options.write_subscriptions else {
            return Ok(());
        };
        if req.method == Method::GET || req.method == Method::HEAD {
            return Ok(());
        }
        if Bucket::of(req) == Bucket::Graph {
            return Ok(());
        }
        let path = req.url.as_ref().map_or(req.path.as_str(), Url::path);
        let refuse = |m: String| {
            Err(AzureError::new(
                req.operation.clone(),
                req.resource_name(),
                ErrorKind::WriteRefused,
                m,
            ))
        };
        match subscription_of(path) {
            Some(sub) if allowed.iter().any(|a| a.eq_ignore_ascii_case(sub)) => Ok(()),
            Some(sub) => refuse(format!(
                "refusing to {} in subscription {sub}: it is not on the write allowlist (add it with --allow-write-subscription {sub} or `allow_write_subscriptions` in the config file)",
                req.method
            )),
            None => refuse(format!(
                "refusing to {} {}: it names no subscription, so the write allowlist cannot allow it",
                req.method, req.path
            )),
        }
    }

    /// Exponential backoff with jitter: between half and all of base × 2^(attempt-1).
    fn backoff(&self, attempt: u32) -> Duration {
        let o = &self.inner.options;
        let full = o
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(o.backoff_max);
        let ms = full.as_millis() as u64;
        Duration::from_millis(if ms < 2 {
            ms
        } else {
            rand::random_range(ms / 2..=ms)
        })
    }

    /// GET a resource. A list (`{"value": [...], "nextLink": ...}`) is read to its end: the
    /// pages' `value`s are joined into the one returned, without `nextLink`.
    pub async fn get(&self, id: &str, api_version: &str) -> Result<ArmResponse, AzureError> {
        let started = Instant::now();
        let mut first = self.send(&ArmRequest::get(id, api_version)).await?;
        let mut next = next_link(&first.body);
        let mut pages = 1u32;
        while let Some(link) = next {
            if pages >= MAX_LIST_PAGES {
                return Err(AzureError::new(
                    "GET",
                    id,
                    ErrorKind::BadRequest,
                    format!("the list has more than {MAX_LIST_PAGES} pages: narrow the request"),
                ));
            }
            let url = self.inner.cloud.arm.join(&link).map_err(|e| {
                AzureError::new(
                    "GET",
                    id,
                    ErrorKind::Client,
                    format!("the answer's nextLink is not a URL: {e}"),
                )
            })?;
            let mut req = ArmRequest::new(Method::GET, url.path(), None)
                .operation("GET (next page)")
                .resource(id.split('?').next().unwrap_or(id));
            req.url = Some(url);
            let page = self.send(&req).await?;
            pages += 1;
            next = next_link(&page.body);
            let more = match page.body.get("value") {
                Some(Value::Array(v)) => v.clone(),
                _ => Vec::new(),
            };
            if let Some(Value::Array(all)) = first.body.get_mut("value") {
                all.extend(more);
            }
            first.attempts += page.attempts;
        }
        if let Some(obj) = first.body.as_object_mut() {
            obj.remove("nextLink");
        }
        first.elapsed = started.elapsed();
        Ok(first)
    }
}

/// Pages of one list at most, so a list that never ends cannot read forever.
const MAX_LIST_PAGES: u32 = 100;

/// What an operator must hear when a write may have been carried out without an answer.
pub const MAY_HAVE_HAPPENED: &str = "this may have happened: check before retrying";

fn next_link(body: &Value) -> Option<String> {
    body.get("value")?;
    body.get("nextLink")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

/// The ids of an answer, with the one drbook sent.
fn ids_of(headers: &HeaderMap, client_request_id: &str) -> RequestIds {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(100).collect::<String>())
    };
    RequestIds {
        client_request_id: Some(client_request_id.to_string()),
        request_id: get("x-ms-request-id"),
        correlation_request_id: get("x-ms-correlation-request-id"),
    }
}

enum Attempt {
    Answer {
        status: u16,
        headers: HeaderMap,
        text: String,
    },
    Failed {
        kind: ErrorKind,
        message: String,
    },
}

impl Attempt {
    fn from_reqwest(e: &reqwest::Error) -> Attempt {
        // `without_url`-style text: the URL carries no secret, but the message is shorter
        // without it and the error already names the resource.
        let detail = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        if e.is_timeout() {
            Attempt::Failed {
                kind: ErrorKind::Timeout,
                message: "no answer within the per-call timeout".into(),
            }
        } else if e.is_connect() {
            Attempt::Failed {
                kind: ErrorKind::Connection,
                message: format!("cannot connect: {detail}"),
            }
        } else {
            Attempt::Failed {
                kind: ErrorKind::Connection,
                message: format!("the connection failed: {detail}"),
            }
        }
    }
}

/// A 401 that a fresh token may cure.
fn token_refusal(body: &str) -> bool {
    matches!(
        azure_error_body(body).0.as_deref(),
        Some(
            "ExpiredAuthenticationToken"
                | "InvalidAuthenticationToken"
                | "InvalidAuthenticationTokenTenant"
        ) | None
    )
}

/// `Retry-After` (seconds or an HTTP date), or Azure's millisecond variants.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = get(name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let v = get(RETRY_AFTER.as_str())?;
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(86_400.0)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
        .or(Some(Duration::ZERO))
}

/// Whether a status is worth polling again (long-running operations use it).
pub fn is_success(status: u16) -> bool {
    StatusCode::from_u16(status).is_ok_and(|s| s.is_success())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a past date means now"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn low_budgets_pace_requests_and_each_budget_is_its_own() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ms-ratelimit-remaining-subscription-reads",
            HeaderValue::from_static("11999"),
        );
        assert_eq!(pace(&h, Bucket::Reads), None);
        h.insert(
            "x-ms-ratelimit-remaining-subscription-reads",
            HeaderValue::from_static("0"),
        );
        assert_eq!(pace(&h, Bucket::Reads), Some(Duration::from_secs(1)));
        assert_eq!(pace(&h, Bucket::Writes), None, "reads do not slow writes");
        h.insert(
            "x-ms-ratelimit-remaining-subscription-writes",
            HeaderValue::from_static("19"),
        );
        assert_eq!(pace(&h, Bucket::Writes), Some(Duration::from_millis(50)));
        let mut g = HeaderMap::new();
        g.insert("x-ms-user-quota-remaining", HeaderValue::from_static("1"));
        g.insert(
            "x-ms-user-quota-resets-after",
            HeaderValue::from_static("00:00:04"),
        );
        assert_eq!(pace(&g, Bucket::Graph), Some(Duration::from_secs(2)));
        g.insert("x-ms-user-quota-remaining", HeaderValue::from_static("10"));
        assert_eq!(pace(&g, Bucket::Graph), None);
        assert_eq!(hms("00:02:03"), Some(Duration::from_secs(123)));
        assert_eq!(hms("soon"), None);
    }

    #[test]
    fn client_request_ids_are_fresh_v4_uuids() {
        let a = new_uuid();
        let b = new_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        let tp = traceparent(&a);
        assert!(
            tp.starts_with(&format!("00-{}-", a.replace('-', ""))),
            "{tp}"
        );
        assert!(tp.ends_with("-01"));
    }

    #[test]
    fn the_subscription_of_a_path() {
        assert_eq!(
            subscription_of("/subscriptions/abc/resourceGroups/rg?x=1"),
            Some("abc")
        );
        assert_eq!(
            subscription_of("/providers/Microsoft.ResourceGraph/resources"),
            None
        );
        assert_eq!(subscription_of("/subscriptions/"), None);
    }

    #[test]
    fn a_401_is_retried_only_for_token_problems() {
        assert!(token_refusal(
            r#"{"error":{"code":"ExpiredAuthenticationToken","message":"x"}}"#
        ));
        assert!(!token_refusal(
            r#"{"error":{"code":"AuthorizationFailed","message":"x"}}"#
        ));
    }
}
