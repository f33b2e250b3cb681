//! Errors from Azure calls. Each names the operation, the resource, the HTTP status, Azure's
//! error code and message, and what the operator can do next. Tokens never appear: requests'
//! headers are never formatted, and anything token-shaped in a server message is masked.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No credential, or the credential could not get a token.
    Auth,
    /// The identity may not do this (403).
    Forbidden,
    NotFound,
    /// 429 beyond what retries absorb.
    Throttled,
    /// 5xx: Azure (or the region) is degraded.
    Unavailable,
    Timeout,
    /// Connection refused, reset or dropped.
    Connection,
    /// Another 4xx: the request itself is wrong.
    BadRequest,
    /// A long-running operation ended Failed or Canceled.
    OperationFailed,
    /// The operator aborted.
    Cancelled,
    /// drbook's write guard: the subscription is not on the allowlist for writes.
    WriteRefused,
    /// drbook's own setup: bad endpoint, unusable answer.
    Client,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AzureError {
    /// What drbook was doing, e.g. `GET`, `read Resource Health`, `Resource Graph query`.
    pub operation: String,
    /// The resource id (or the query) concerned.
    pub resource: String,
    pub kind: ErrorKind,
    pub status: Option<u16>,
    /// Azure's error code, e.g. `ResourceNotFound`.
    pub code: Option<String>,
    pub message: String,
    /// How many times the request was sent.
    pub attempts: u32,
    /// A write whose answer was lost (timeout, dropped connection, 504): Azure may have made
    /// the change. It is never sent again blindly; the hint says to read the resource first.
    pub may_have_happened: bool,
    /// The ids a support case quotes: drbook's `x-ms-client-request-id` and the service's
    /// `x-ms-request-id` and `x-ms-correlation-request-id`, when there were any.
    /// Boxed: errors travel in `Result`s and should stay small.
    pub ids: Box<RequestIds>,
}

/// Request ids of one ARM call. Microsoft support finds a failed call by these, so they are
/// kept on every error, shown, and written to the incident log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestIds {
    /// Sent by drbook (`x-ms-client-request-id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
    /// The service's `x-ms-request-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The service's `x-ms-correlation-request-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_request_id: Option<String>,
}

impl RequestIds {
    pub fn is_empty(&self) -> bool {
        self.client_request_id.is_none()
            && self.request_id.is_none()
            && self.correlation_request_id.is_none()
    }

    /// `(log field, value)` pairs, for the incident log.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        [
            ("x-ms-client-request-id", &self.client_request_id),
            ("x-ms-request-id", &self.request_id),
            ("x-ms-correlation-request-id", &self.correlation_request_id),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }
}

impl fmt::Display for RequestIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .fields()
            .into_iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        write!(f, "{}", parts.join(", "))
    }
}

impl std::error::Error for AzureError {}

impl AzureError {
    pub fn new(
        operation: impl Into<String>,
        resource: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        AzureError {
            operation: operation.into(),
            resource: resource.into(),
            kind,
            status: None,
            code: None,
            message: mask_tokens(&message.into()),
            attempts: 0,
            may_have_happened: false,
            ids: Box::default(),
        }
    }

    /// Builds the error for an HTTP answer, reading Azure's `{"error":{"code","message"}}`.
    pub fn from_answer(operation: &str, resource: &str, status: u16, body: &str) -> Self {
        let (code, message) = azure_error_body(body);
        let kind = match status {
            401 => ErrorKind::Auth,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::Throttled,
            500..=599 => ErrorKind::Unavailable,
            _ => ErrorKind::BadRequest,
        };
        let message = message.unwrap_or_else(|| {
            let text = body.trim();
            if text.is_empty() {
                reason(status).to_string()
            } else {
                text.chars().take(300).collect()
            }
        });
        AzureError {
            status: Some(status),
            code,
            ..AzureError::new(operation, resource, kind, message)
        }
    }

    pub fn attempts(mut self, n: u32) -> Self {
        self.attempts = n;
        self
    }

    pub fn ids(mut self, ids: RequestIds) -> Self {
        self.ids = Box::new(ids);
        self
    }

    /// Whether this stops everything (exit code 2 for `drbook check`), not just one step.
    pub fn is_auth(&self) -> bool {
        self.kind == ErrorKind::Auth
    }

    /// What the operator can do next.
    pub fn hint(&self) -> &'static str {
        if self.may_have_happened {
            return "read the resource (the step's check) to see whether the change was made before sending it again; do not resend it blindly";
        }
        match (self.kind, self.code.as_deref()) {
            (ErrorKind::Auth, Some("ExpiredAuthenticationToken")) => {
                "the token expired and a fresh one was refused: sign in again (`az login`) or check the identity"
            }
            (ErrorKind::Auth, Some("InvalidAuthenticationToken")) => {
                "Azure refused the token and a fresh one too: sign in again (`az login`), and check the tenant and the identity drbook signs in as"
            }
            (ErrorKind::Auth, _) => {
                "sign in again (`az login`), or pick another credential with --auth"
            }
            (ErrorKind::NotFound, Some("ContainerNotFound")) => {
                "check the container in the step's container_url: it does not exist in this storage account"
            }
            (
                ErrorKind::Forbidden,
                Some(
                    "AuthorizationFailure"
                    | "AuthenticationFailed"
                    | "AuthorizationPermissionMismatch"
                    | "AuthorizationResourceTypeMismatch",
                ),
            ) => {
                "Blob Storage refused the credential: check AZURE_STORAGE_SAS_TOKEN (its permissions include list, it has not expired) or AZURE_STORAGE_KEY, or give the identity `Storage Blob Data Reader` on the container"
            }
            (ErrorKind::Forbidden, _) => {
                "the identity lacks a role on this resource: ask for Reader (checks) or Contributor (actions)"
            }
            (ErrorKind::NotFound, _) => {
                "check the resource id, the subscription and the variables; the resource may not exist in this region"
            }
            (ErrorKind::Throttled, _) => {
                "ARM is throttling this subscription: lower --concurrency, read many resources through one Resource Graph query, or wait"
            }
            (ErrorKind::Unavailable, _) => {
                "Azure is degraded here: check Resource Health and the Azure status page, then retry or work from the paired region"
            }
            (ErrorKind::Timeout, _) => {
                "no answer in time: the region may be down; check Resource Health, or raise the step's timeout"
            }
            (ErrorKind::Connection, _) => {
                "could not reach the endpoint: check network, proxy and --arm-endpoint; a write may or may not have happened, so re-check before retrying"
            }
            (ErrorKind::BadRequest, _) => {
                "Azure rejected the request: check the runbook's api_version, body and resource id"
            }
            (ErrorKind::OperationFailed, _) => {
                "the operation ran and failed: read Azure's message above and the activity log of the resource"
            }
            (ErrorKind::Cancelled, _) => {
                "aborted by the operator; the resource may be mid-change, so re-check it"
            }
            (ErrorKind::Client, _) => {
                "a drbook setup problem: check --arm-endpoint and the credential"
            }
            (ErrorKind::WriteRefused, _) => {
                "add the subscription to `allow_write_subscriptions` in the config file, or pass --allow-write-subscription SUB"
            }
        }
    }

    /// One line, for tables.
    pub fn short(&self) -> String {
        let mut out = String::new();
        if let Some(s) = self.status {
            out.push_str(&format!("{s} "));
        }
        match &self.code {
            Some(c) => out.push_str(c),
            None => out.push_str(&format!("{:?}", self.kind)),
        }
        out
    }
}

impl fmt::Display for AzureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.operation, self.resource)?;
        if let Some(s) = self.status {
            write!(f, "HTTP {s} ")?;
        }
        if let Some(c) = &self.code {
            write!(f, "{c}: ")?;
        }
        write!(f, "{}", self.message)?;
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        if !self.ids.is_empty() {
            write!(f, " [{}]", self.ids)?;
        }
        write!(f, ". Next: {}", self.hint())
    }
}

/// Azure's error code and message from an answer body, when it has the usual shape
/// (`{"error":{"code","message","details"}}`, or the flat `{"code","message"}` some RPs use).
pub fn azure_error_body(body: &str) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return (None, None);
    };
    let e = v.get("error").unwrap_or(&v);
    let code = e.get("code").and_then(|c| c.as_str()).map(str::to_string);
    let mut message = e
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_string);
    // Resource Graph and others put the useful part in details.
    if let Some(details) = e.get("details").and_then(|d| d.as_array()) {
        let extra: Vec<String> = details
            .iter()
            .filter_map(|d| d.get("message").and_then(|m| m.as_str()))
            .map(str::to_string)
            .collect();
        if !extra.is_empty() {
            message = Some(match message {
                Some(m) => format!("{m} ({})", extra.join("; ")),
                None => extra.join("; "),
            });
        }
    }
    (code, message.map(|m| mask_tokens(&m)))
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
}

static TOKENISH: LazyLock<Regex> = LazyLock::new(|| {
    // JWTs (what Entra ID issues) and bearer headers.
    Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
        .expect("constant regex") // ok: a constant, not input
});

/// Masks anything shaped like a token, so a server that echoes one cannot leak it to the screen.
pub fn mask_tokens(s: &str) -> String {
    TOKENISH.replace_all(s, "[token hidden]").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resource_status_code_message_and_next_step() {
        let body = r#"{"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.Web/sites/app' was not found."}}"#;
        let e = AzureError::from_answer(
            "GET",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app",
            404,
            body,
        );
        let text = e.to_string();
        assert!(text.starts_with("GET /subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app: HTTP 404 ResourceNotFound: The Resource"), "{text}");
        assert!(text.contains("Next: check the resource id"), "{text}");
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn graph_details_are_kept_and_bodies_without_json_still_explain() {
        let body = r#"{"error":{"code":"BadRequest","message":"Query is invalid.","details":[{"code":"InvalidQuery","message":"unknown operator `wher`"}]}}"#;
        let e = AzureError::from_answer("Resource Graph query", "Resources | wher", 400, body);
        assert_eq!(e.message, "Query is invalid. (unknown operator `wher`)");
        let e = AzureError::from_answer("GET", "/x", 502, "");
        assert_eq!(e.message, "Bad Gateway");
        assert_eq!(e.kind, ErrorKind::Unavailable);
    }

    #[test]
    fn tokens_in_server_messages_are_masked() {
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQ.sig_part-1";
        let body = format!(
            r#"{{"error":{{"code":"InvalidAuthenticationToken","message":"token {jwt} is bad; Bearer abcdefghijkl"}}}}"#
        );
        let e = AzureError::from_answer("GET", "/x", 401, &body);
        assert!(!e.to_string().contains("eyJ0eXAi"), "{e}");
        assert!(!e.to_string().contains("abcdefghijkl"), "{e}");
        assert!(e.to_string().contains("[token hidden]"));
    }
}
