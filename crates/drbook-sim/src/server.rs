//! The HTTP front: one axum handler that tells probes (by `Host`), simulator controls
//! (`/sim/*`) and ARM requests apart, and puts every ARM request through faults, auth and
//! `api-version` before the routes in `arm`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body as AxumBody;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use rand::RngExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::arm::{self, Req};
use super::conn::ConnInfo;
use super::faults::{Decision, InjectedFault, decide, retry_after_secs};
use super::reply::{Body, Reply, missing_api_version};
use super::state::{SimState, TENANT};

/// What the server, the timeline task and the handle share.
pub struct Shared {
    state: Mutex<SimState>,
    started: Instant,
    /// The timeline began this many nanoseconds before `started` (`SimOptions::start_at`, or
    /// the saved clock of a resumed incident).
    offset_nanos: AtomicU64,
    /// Where the estate is saved after each change (`SimHandle::keep_beside`), if anywhere.
    persist: Mutex<Option<PathBuf>>,
    /// One save at a time, so the last file written holds the latest state.
    save_lock: tokio::sync::Mutex<()>,
    pub base: String,
    pub quiet: bool,
    pub requests: AtomicU64,
    /// Wakes the timeline task when an operation starts (its due time may be the next one).
    pub wake: Notify,
    pub cancel: CancellationToken,
}

impl Shared {
    pub fn new(
        state: SimState,
        base: String,
        quiet: bool,
        started: Instant,
        offset: Duration,
    ) -> Shared {
        Shared {
            state: Mutex::new(state),
            started,
            offset_nanos: AtomicU64::new(nanos(offset)),
            persist: Mutex::new(None),
            save_lock: tokio::sync::Mutex::new(()),
            base,
            quiet,
            requests: AtomicU64::new(0),
            wake: Notify::new(),
            cancel: CancellationToken::new(),
        }
    }

    /// The state, brought up to date: every event and operation due by now has happened.
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for line in st.advance(self.elapsed()) {
            self.log(&line);
        }
        st
    }

    pub fn log(&self, line: &str) {
        if !self.quiet {
            // A closed stderr must not take the simulator down.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    /// Time on the scenario's timeline.
    pub fn elapsed(&self) -> Duration {
        let offset = Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst));
        self.started.elapsed().saturating_add(offset)
    }

    /// Moves the timeline so that it began at `began` (a restored estate's clock).
    pub fn set_timeline_start(&self, began: DateTime<Utc>) {
        let since = (Utc::now() - began).to_std().unwrap_or_default();
        let offset = since.saturating_sub(self.started.elapsed());
        self.offset_nanos.store(nanos(offset), Ordering::SeqCst);
    }

    /// From now on, saves the estate to `path` after every change.
    pub fn persist_to(&self, path: PathBuf) {
        *self.persist.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
    }

    /// Saves the estate where `persist_to` said, if anywhere; off the async threads.
    pub async fn save(&self) -> Result<(), super::persist::PersistError> {
        let Some(path) = self
            .persist
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return Ok(());
        };
        let _one = self.save_lock.lock().await;
        let bytes = super::persist::encode(&self.lock());
        tokio::task::spawn_blocking(move || super::persist::write(&path, &bytes))
            .await
            .unwrap_or_else(|e| {
                Err(super::persist::PersistError::Write {
                    path: PathBuf::new(),
                    source: std::io::Error::other(e.to_string()),
                })
            })
    }

    /// Sleeps unless the simulator shuts down first (then false).
    async fn pause(&self, d: Duration) -> bool {
        if d.is_zero() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.cancel.cancelled() => false,
        }
    }
}

fn shutting_down() -> Reply {
    Reply::error(503, "ServiceUnavailable", "The simulator is shutting down.")
}

/// Every request enters here.
pub async fn entry(
    State(sh): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 8 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return to_response(Reply::error(
                413,
                "RequestEntityTooLarge",
                "The request body is larger than 8 MiB or could not be read.",
            ));
        }
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    // HEAD is answered as GET (hyper leaves the body out), as ARM's existence checks expect.
    let method = match parts.method.as_str().to_ascii_uppercase() {
        m if m == "HEAD" => "GET".to_string(),
        m => m,
    };
    if !super::probe::is_local(&host) {
        sh.requests.fetch_add(1, Ordering::SeqCst);
        let latency = {
            let mut guard = sh.lock();
            let st = &mut *guard;
            decide_latency(st)
        };
        if !sh.pause(latency).await {
            return to_response(shutting_down());
        }
        let reply = super::probe::probe(&sh.lock(), &host, path, query);
        return to_response(reply);
    }
    if path == "/sim" || path.starts_with("/sim/") {
        let reply = super::control::handle(&sh, &method, path, &bytes);
        return to_response(saved(&sh, &method, reply).await);
    }
    let started = Instant::now();
    let (reply, latency_left) =
        arm_request(&sh, &conn, &method, path, query, &parts.headers, &bytes).await;
    if reply.as_ref().is_some_and(|r| r.body == Body::Hang) {
        // Held until the client gives up and closes the connection (which drops this
        // future) or the simulator stops: a front end that accepted and never answers.
        sh.pause(Duration::from_secs(24 * 3600)).await;
        return to_response(shutting_down());
    }
    let reply = match reply {
        // A query changes nothing: there is nothing to save.
        Some(r) if is_graph_query(&method, path) => Some(r),
        Some(r) => Some(saved(&sh, &method, r).await),
        None => None,
    };
    let response = match reply {
        Some(r) => to_response(with_arm_headers(r, &method)),
        // The connection is already dead; this answer is never written.
        None => Response::new(AxumBody::empty()),
    };
    // What is left of the latency of an answer computed while it ran.
    if let Some(latency) = latency_left
        && !sh.pause(latency.saturating_sub(started.elapsed())).await
    {
        return to_response(shutting_down());
    }
    response
}

/// `POST /providers/Microsoft.ResourceGraph/resources`: a read, whatever its method.
fn is_graph_query(method: &str, path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    method == "POST"
        && matches!(segs.as_slice(), [p, ns, r]
            if p.eq_ignore_ascii_case("providers")
                && ns.eq_ignore_ascii_case("Microsoft.ResourceGraph")
                && r.eq_ignore_ascii_case("resources"))
}

/// The reply to a request that may have changed the estate, once the change is on disk (when
/// the estate is kept): a resumed drbook must never meet an Azure that forgot what it was told.
async fn saved(sh: &Shared, method: &str, reply: Reply) -> Reply {
    if method == "GET" {
        return reply;
    }
    match sh.save().await {
        Ok(()) => reply,
        Err(e) => Reply::error(500, "InternalServerError", format!("simulator: {e}")),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Latency and jitter alone, for probes: they are exempt from the other faults.
fn decide_latency(st: &mut SimState) -> Duration {
    let f = &st.faults;
    let jitter = super::scenario::Faults::duration(&f.jitter).mul_f64(st.rng.random::<f64>());
    super::scenario::Faults::duration(&f.latency).saturating_add(jitter)
}

/// Faults, then auth, then `api-version`, then the route. `None`: the connection was dropped.
///
/// The latency goes before the answer is computed, except for a Resource Graph query passed
/// by the faults: it is evaluated while its latency runs, and the latency is returned for the
/// caller to wait out what is left of it once the answer is written. A query's answer takes
/// the latency or its evaluation, whichever is longer, as a service's own work is part of
/// the time it takes to answer (a write still lands only after its latency).
async fn arm_request(
    sh: &Shared,
    conn: &ConnInfo,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Option<Reply>, Option<Duration>) {
    let overlap = is_graph_query(method, path);
    let mut latency_left = None;
    let reply = arm_answer(
        sh,
        conn,
        (method, path, query),
        headers,
        body,
        overlap.then_some(&mut latency_left),
    )
    .await;
    (reply, latency_left)
}

async fn arm_answer(
    sh: &Shared,
    conn: &ConnInfo,
    (method, path, query): (&str, &str, &str),
    headers: &HeaderMap,
    body: &[u8],
    overlap: Option<&mut Option<Duration>>,
) -> Option<Reply> {
    sh.requests.fetch_add(1, Ordering::SeqCst);
    let path_and_query = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let (latency, decision) = {
        let mut guard = sh.lock();
        let st = &mut *guard;
        decide(&st.faults, &mut st.injections, &mut st.rng, &path_and_query)
    };
    match (overlap, &decision) {
        (Some(left), Decision::Pass) => *left = Some(latency),
        _ => {
            if !sh.pause(latency).await {
                return Some(shutting_down());
            }
        }
    }
    match decision {
        Decision::Pass => {}
        Decision::Drop | Decision::Injected(InjectedFault::Drop) => {
            conn.kill.kill();
            return None;
        }
        Decision::Throttle { retry_after } => return Some(throttled(method, Some(retry_after))),
        Decision::Error { status } => {
            let code = match status {
                503 => "ServiceUnavailable",
                504 => "GatewayTimeout",
                _ => "InternalServerError",
            };
            return Some(Reply::error(status, code, error_message(code)));
        }
        Decision::Slow(d) | Decision::Injected(InjectedFault::Delay(d)) => {
            if !sh.pause(d).await {
                return Some(shutting_down());
            }
        }
        Decision::Injected(InjectedFault::Status {
            status,
            code,
            retry_after,
        }) => {
            if status == 429 {
                return Some(throttled(method, retry_after));
            }
            let mut r = Reply::error(status, &code, error_message(&code));
            if let Some(ra) = retry_after {
                r = r.header("Retry-After", retry_after_secs(ra).to_string());
            }
            if status == 401 {
                // ARM names the bearer problem in WWW-Authenticate on every 401.
                r = r.header("WWW-Authenticate", www_authenticate(&error_message(&code)));
            }
            return Some(r);
        }
    }
    let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut st = sh.lock();
    if let Err(r) = check_auth(&st, headers, Utc::now()) {
        return Some(r);
    }
    let api_version = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.clone())
        .filter(|v| !v.trim().is_empty());
    let Some(api_version) = api_version else {
        return Some(missing_api_version());
    };
    let req = Req {
        method,
        path,
        body,
        api_version: &api_version,
        query: &query,
        base: &sh.base,
        elapsed: sh.elapsed(),
    };
    let reply = arm::dispatch(&mut st, &req);
    drop(st);
    sh.wake.notify_one();
    Some(reply)
}

fn error_message(code: &str) -> String {
    match code {
        "ServiceUnavailable" => {
            "The server (leased) is currently unable to handle the request. Please try again later."
                .into()
        }
        "GatewayTimeout" => {
            "The gateway did not receive a response within the specified time period.".into()
        }
        "InternalServerError" => {
            "The server encountered an internal error. Please retry the request.".into()
        }
        "TooManyRequests" => "Too many requests. Please retry later.".into(),
        "InvalidAuthenticationToken" => "The access token is invalid.".into(),
        "ExpiredAuthenticationToken" => "The access token has expired.".into(),
        other => format!("The request failed ({other})."),
    }
}

fn throttled(method: &str, retry_after: Option<Duration>) -> Reply {
    let op = if method == "GET" { "Read" } else { "Write" };
    let secs = retry_after.map_or(1, retry_after_secs);
    Reply::error(
        429,
        "TooManyRequests",
        format!(
            "The request is being throttled as the limit has been reached for operation type - \
             {op}_ObservationWindow_00:05:00. For more information, see - https://aka.ms/armthrottling"
        ),
    )
    .header("Retry-After", secs.to_string())
    .header(
        if op == "Read" {
            "x-ms-ratelimit-remaining-subscription-reads"
        } else {
            "x-ms-ratelimit-remaining-subscription-writes"
        },
        "0",
    )
}

fn www_authenticate(description: &str) -> String {
    format!(
        "Bearer authorization_uri=\"https://login.microsoftonline.com/{TENANT}\", \
         error=\"invalid_token\", error_description=\"{description}\""
    )
}

fn arm_time(t: DateTime<Utc>) -> String {
    t.format("%-m/%-d/%Y %-I:%M:%S %p").to_string()
}

/// Bearer tokens issued by `/sim/token`. Tokens are never logged or echoed.
pub fn check_auth(st: &SimState, headers: &HeaderMap, now: DateTime<Utc>) -> Result<(), Reply> {
    let fail = |msg: &str, desc: &str| {
        Reply::error(401, "AuthenticationFailed", msg)
            .header("WWW-Authenticate", www_authenticate(desc))
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(fail(
            "Authentication failed. The 'Authorization' header is missing.",
            "The authentication failed because of missing 'Authorization' header.",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token else {
        return Err(fail(
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            "The authentication failed because of an invalid 'Authorization' header.",
        ));
    };
    match st.tokens.get(token) {
        // ARM's answer to a token it cannot accept (malformed, revoked, signed for another
        // audience), as opposed to a missing header (AuthenticationFailed).
        None => Err(Reply::error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )
        .header(
            "WWW-Authenticate",
            www_authenticate("The access token is invalid."),
        )),
        Some(expiry) if *expiry <= now => Err(Reply::error(
            401,
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                arm_time(*expiry),
                arm_time(now)
            ),
        )
        .header(
            "WWW-Authenticate",
            www_authenticate("The access token has expired."),
        )),
        Some(_) => Ok(()),
    }
}

/// A new opaque token valid for `lifetime`.
pub fn issue_token(st: &mut SimState, lifetime: Duration) -> (String, DateTime<Utc>) {
    let mut rng = rand::rng();
    let token = format!("{:032x}{:032x}", rng.random::<u128>(), rng.random::<u128>());
    let expiry = chrono::TimeDelta::from_std(lifetime)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    st.tokens.insert(token.clone(), expiry);
    (token, expiry)
}

fn with_arm_headers(r: Reply, method: &str) -> Reply {
    let mut rng = rand::rng();
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>() & 0xfff,
        rng.random::<u16>() & 0xfff,
        rng.random::<u64>() & 0xffff_ffff_ffff
    );
    let r = r
        .header("x-ms-request-id", id.clone())
        .header("x-ms-correlation-request-id", id);
    let limit = if method == "GET" {
        "x-ms-ratelimit-remaining-subscription-reads"
    } else {
        "x-ms-ratelimit-remaining-subscription-writes"
    };
    if r.header_value(limit).is_some() {
        r
    } else {
        r.header(limit, "11999")
    }
}

pub fn to_response(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    let body = match r.body {
        Body::Empty | Body::Hang => AxumBody::empty(),
        Body::Json(v) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            AxumBody::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        Body::Text(t) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            AxumBody::from(t)
        }
    };
    for (n, v) in &r.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(n, v);
        }
    }
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}
