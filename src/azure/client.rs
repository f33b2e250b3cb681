//! ARM requests: bounded concurrency, a per-call timeout, retries with exponential backoff and
//! jitter for 5xx, connection errors and timeouts, `Retry-After` on 429, a fresh token when
//! Azure says the old one expired, and cancellation when the operator aborts. A throttled or
//! failing region makes a call fail in bounded time; it never hangs drbook.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::auth::TokenCache;
use super::cloud::Cloud;
use super::error::{AzureError, ErrorKind, azure_error_body};

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

/// Why an ARM path would not reach the resource it names, if so. URL parsers and servers
/// normalise `.` and `..` segments away, so `/subscriptions/a/../b` is a request for
/// `/subscriptions/b`: not what the operator confirmed nor what the log says. The same goes
/// for their percent-encoded forms (`%2e`, any case, or double-encoded as `%252e`), an
/// encoded slash or backslash (`%2f`, `%5c`) that a proxy or server may decode, a raw
/// backslash (read as `/`), and a `#`, which cuts the path short. Only the path is looked
/// at: what follows `?` is the query, the server's to read.
pub fn path_problem(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    for (enc, what) in [
        ("%2e", "an encoded `.` (`%2e`)"),
        ("%2f", "an encoded `/` (`%2f`)"),
        ("%5c", "an encoded `\\` (`%5c`)"),
        ("%25", "an encoded `%` (`%25`, a double encoding)"),
    ] {
        if lower.contains(enc) {
            return Some(what.to_string());
        }
    }
    if path.contains('\\') {
        return Some("a backslash (read as `/`)".to_string());
    }
    if path.contains('#') {
        return Some("a `#` (it cuts the path short)".to_string());
    }
    path.split('/')
        .find(|seg| *seg == "." || *seg == "..")
        .map(|seg| format!("a `{seg}` segment"))
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
    http: reqwest::Client,
    cloud: Cloud,
    tokens: TokenCache,
    permits: Semaphore,
    options: ClientOptions,
    cancel: CancellationToken,
}

impl ArmClient {
    pub fn new(
        cloud: Cloud,
        tokens: TokenCache,
        options: ClientOptions,
    ) -> Result<ArmClient, AzureError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("drbook/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(options.concurrency.max(1))
            .build()
            .map_err(|e| {
                AzureError::new(
                    "start the HTTP client",
                    cloud.arm.as_str(),
                    ErrorKind::Client,
                    e.to_string(),
                )
            })?;
        Ok(ArmClient {
            inner: Arc::new(Inner {
                http,
                permits: Semaphore::new(options.concurrency.max(1)),
                cloud,
                tokens,
                options,
                cancel: CancellationToken::new(),
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
        let arm = &self.inner.cloud.arm;
        if url.host_str() != arm.host_str()
            || url.port_or_known_default() != arm.port_or_known_default()
        {
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
        let started = Instant::now();
        let opts = &self.inner.options;
        let fail = |kind: ErrorKind, msg: String, attempts: u32| {
            AzureError::new(req.operation.clone(), req.resource_name(), kind, msg)
                .attempts(attempts)
        };
        let mut attempt = 0u32;
        let mut refreshed_token = false;
        loop {
            attempt += 1;
            if self.inner.cancel.is_cancelled() {
                return Err(fail(ErrorKind::Cancelled, "cancelled".into(), attempt - 1));
            }
            let outcome = tokio::select! {
                biased;
                () = self.inner.cancel.cancelled() => return Err(fail(ErrorKind::Cancelled, "cancelled".into(), attempt)),
                r = self.attempt(req, &url) => r,
            };
            let retries_left = attempt <= opts.max_retries;
            let wait = match outcome {
                Attempt::Answer {
                    status,
                    headers,
                    text,
                } => {
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
                    let err = AzureError::from_answer(
                        &req.operation,
                        &req.resource_name(),
                        status,
                        &text,
                    )
                    .attempts(attempt);
                    match status {
                        401 if !refreshed_token && token_refusal(&text) => {
                            // Expired or revoked: one fresh token, then the same request again.
                            refreshed_token = true;
                            self.inner.tokens.invalidate().await;
                            Duration::ZERO
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
                        let message = if req.idempotent {
                            message
                        } else {
                            format!(
                                "{message}; the request may or may not have reached Azure, so it was not sent again"
                            )
                        };
                        return Err(fail(kind, message, attempt));
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
    async fn attempt(&self, req: &ArmRequest, url: &Url) -> Attempt {
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
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), url.clone())
            .header(AUTHORIZATION, format!("Bearer {}", token.secret()))
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

    /// GET a resource.
    pub async fn get(&self, id: &str, api_version: &str) -> Result<ArmResponse, AzureError> {
        self.send(&ArmRequest::get(id, api_version)).await
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
    fn a_401_is_retried_only_for_token_problems() {
        assert!(token_refusal(
            r#"{"error":{"code":"ExpiredAuthenticationToken","message":"x"}}"#
        ));
        assert!(!token_refusal(
            r#"{"error":{"code":"AuthorizationFailed","message":"x"}}"#
        ));
    }
}
