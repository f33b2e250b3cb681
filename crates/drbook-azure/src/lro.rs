//! ARM writes followed to completion. When Azure answers 201/202 with `Azure-AsyncOperation`
//! or `Location`, or a PUT/PATCH answers 200 with `Azure-AsyncOperation`, the operation is
//! polled (at the interval Azure asks for) until it succeeds, fails or the deadline passes;
//! then the final state is read. A PUT/PATCH answered 200/201 with no operation header but a
//! non-terminal `properties.provisioningState` (Updating, Creating, ...) is followed by
//! reading the resource until its state is terminal: ARM's async PUT contract allows both.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::client::{ArmClient, ArmRequest, ArmResponse, retry_after};
use super::error::{AzureError, ErrorKind};

/// The end of a write.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    /// Status of the first answer (200, 201, 202, 204).
    pub status: u16,
    /// The final body: the resource after a PUT/PATCH, the operation's result after a POST.
    pub body: Value,
    /// Set when the write was a long-running operation.
    pub lro: Option<LroSummary>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LroSummary {
    pub polls: u32,
    /// The operation's last status, e.g. `Succeeded`.
    pub status: String,
}

/// Progress reports while polling, for the UI and the log.
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

impl ArmClient {
    /// Sends a write and follows it to completion within `deadline`.
    pub async fn write(
        &self,
        method: Method,
        id: &str,
        api_version: &str,
        body: Option<Value>,
        deadline: Duration,
        progress: Progress<'_>,
    ) -> Result<WriteOutcome, AzureError> {
        let started = Instant::now();
        let operation = match id.rsplit('/').next() {
            Some(action) if method == Method::POST => {
                format!("POST {}", action.split('?').next().unwrap_or(action))
            }
            _ => method.to_string(),
        };
        let mut req =
            ArmRequest::new(method.clone(), id, Some(api_version)).operation(operation.clone());
        if let Some(b) = body {
            req = req.body(b);
        }
        let first = self.send(&req).await?;
        let is_put = matches!(method, Method::PUT | Method::PATCH);
        let pending = is_put && matches!(first.status, 200 | 201) && pending_state(&first.body);
        let op = match OperationUrls::from(&first, &self.cloud().arm) {
            // A 200 is final unless it names an Azure-AsyncOperation; its Location means nothing.
            Some(op) if first.status == 200 => {
                (is_put && op.async_operation.is_some()).then_some(OperationUrls {
                    location: None,
                    ..op
                })
            }
            Some(op) if matches!(first.status, 201 | 202) => Some(op),
            _ => None,
        };
        if op.is_none() && !pending {
            return Ok(WriteOutcome {
                status: first.status,
                body: first.body,
                lro: None,
                elapsed: started.elapsed(),
            });
        }
        let op = op.unwrap_or_default();
        let resource = id.split('?').next().unwrap_or(id).to_string();
        let read_back = ArmRequest::get(&resource, api_version).operation(format!(
            "{operation} (read the resource's provisioningState)"
        ));
        let (status, polls) = self
            .poll(
                &op,
                &first,
                &operation,
                &resource,
                is_put.then_some(&read_back),
                started,
                deadline,
                progress,
            )
            .await?;
        // The final state: the resource itself after PUT/PATCH, the Location result after POST.
        let body = if matches!(method, Method::PUT | Method::PATCH) {
            self.send(
                &ArmRequest::get(&resource, api_version)
                    .operation(format!("{operation} (read the result)")),
            )
            .await?
            .body
        } else if let Some(loc) = &op.location {
            let r = self.send(&polling(loc, &operation, &resource)).await?;
            if r.status == 202 { Value::Null } else { r.body }
        } else {
            Value::Null
        };
        Ok(WriteOutcome {
            status: first.status,
            body,
            lro: Some(LroSummary { polls, status }),
            elapsed: started.elapsed(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn poll(
        &self,
        op: &OperationUrls,
        first: &ArmResponse,
        operation: &str,
        resource: &str,
        read_back: Option<&ArmRequest>,
        started: Instant,
        deadline: Duration,
        progress: Progress<'_>,
    ) -> Result<(String, u32), AzureError> {
        let mut wait = retry_after(&first.headers).unwrap_or(Duration::from_secs(2));
        let mut polls = 0u32;
        let cancel = self.cancel_token();
        loop {
            let left = deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                // Accepted and still running: never to be sent again before it is read.
                return Err(AzureError {
                    may_have_happened: true,
                    ..AzureError::new(
                        operation,
                        resource,
                        ErrorKind::Timeout,
                        format!("the long-running operation was still running after {}s (its status read {polls} times); it may still finish: re-check the resource", deadline.as_secs()),
                    )
                    .attempts(1)
                });
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(AzureError::new(operation, resource, ErrorKind::Cancelled, "cancelled while the operation ran; Azure may still finish it")),
                () = tokio::time::sleep(wait.min(left).clamp(Duration::from_millis(50), Duration::from_secs(60))) => {}
            }
            polls += 1;
            let (req, is_async) = match (&op.async_operation, &op.location, read_back) {
                (Some(a), _, _) => (polling(a, operation, resource), true),
                (None, Some(l), _) => (polling(l, operation, resource), false),
                (None, None, Some(get)) => (get.clone(), false),
                (None, None, None) => return Ok(("Succeeded".into(), polls)),
            };
            let r = self.send(&req).await?;
            wait = retry_after(&r.headers).unwrap_or(wait);
            let status = if is_async {
                r.body
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("InProgress")
                    .to_string()
            } else if r.status == 202 {
                "InProgress".to_string()
            } else if op.location.is_none() {
                // Reading the resource itself: its provisioningState is the operation's.
                provisioning_state(&r.body)
                    .unwrap_or("Succeeded")
                    .to_string()
            } else {
                "Succeeded".to_string()
            };
            progress(&status);
            match status.as_str() {
                "Succeeded" => return Ok((status, polls)),
                "Failed" | "Canceled" | "Cancelled" => {
                    let err = r.body.get("error");
                    let code = err
                        .and_then(|e| e.get("code"))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    let message = err
                        .and_then(|e| e.get("message"))
                        .and_then(Value::as_str)
                        .map_or_else(
                            || format!("the operation ended {status}"),
                            |m| format!("the operation ended {status}: {m}"),
                        );
                    // Sent once: the polls read its status, they did not send it again.
                    let message = format!("{message} (read {polls} times while it ran)");
                    // The poll itself answered (often 200): its HTTP status says nothing about
                    // the operation, so none is shown; the operation's own error code is.
                    return Err(AzureError {
                        code,
                        status: None,
                        ..AzureError::new(operation, resource, ErrorKind::OperationFailed, message)
                            .attempts(1)
                    });
                }
                _ => {}
            }
        }
    }
}

fn provisioning_state(body: &Value) -> Option<&str> {
    body.get("properties")?.get("provisioningState")?.as_str()
}

/// A provisioningState that says the resource is still changing.
fn pending_state(body: &Value) -> bool {
    provisioning_state(body).is_some_and(|s| {
        !s.is_empty()
            && !["Succeeded", "Failed", "Canceled", "Cancelled"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(s))
    })
}

fn polling(url: &Url, operation: &str, resource: &str) -> ArmRequest {
    let mut req = ArmRequest::new(Method::GET, url.path(), None)
        .operation(format!("{operation} (poll the operation)"))
        .resource(resource);
    req.url = Some(url.clone());
    req
}

#[derive(Debug, Default, Clone)]
struct OperationUrls {
    async_operation: Option<Url>,
    location: Option<Url>,
}

impl OperationUrls {
    fn from(r: &ArmResponse, base: &Url) -> Option<OperationUrls> {
        let parse = |name: &str| r.header(name).and_then(|v| base.join(v).ok());
        let op = OperationUrls {
            async_operation: parse("azure-asyncoperation"),
            location: parse("location"),
        };
        (op.async_operation.is_some() || op.location.is_some()).then_some(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn operation_urls_come_from_either_header_and_resolve_relative_ones() {
        let base = Url::parse("http://127.0.0.1:9/").expect("literal");
        let mut headers = HeaderMap::new();
        headers.insert(
            "location",
            HeaderValue::from_static("/subscriptions/s/operationResults/1?api-version=x"),
        );
        let r = ArmResponse {
            status: 202,
            headers,
            body: Value::Null,
            elapsed: Duration::ZERO,
            attempts: 1,
        };
        let op = OperationUrls::from(&r, &base).expect("has location");
        assert!(op.async_operation.is_none());
        assert_eq!(
            op.location.map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:9/subscriptions/s/operationResults/1?api-version=x")
        );
        let none = ArmResponse {
            headers: HeaderMap::new(),
            ..r
        };
        assert!(OperationUrls::from(&none, &base).is_none());
    }
}
