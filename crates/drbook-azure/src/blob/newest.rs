//! The newest blob under a prefix: the SDK's `list_blobs` pager, followed through every page
//! (a backup folder can hold far more blobs than one page), keeping the latest `Last-Modified`.

use azure_core::time::OffsetDateTime;
use azure_storage_blob::models::BlobContainerClientListBlobsOptions;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;

use super::{BlobError, Store};
use crate::error::mask_tokens;

/// One blob: its name in the container and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest {
    pub name: String,
    pub last_modified: DateTime<Utc>,
    pub size: Option<u64>,
    /// How many blobs the prefix holds (all pages).
    pub count: usize,
}

/// A failed listing: the message names the container and never its SAS; the status and the
/// service's error code (`ContainerNotFound`, `AuthenticationFailed`) let callers say what to
/// do next.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ListError {
    pub error: BlobError,
    pub status: Option<u16>,
    pub code: Option<String>,
    /// The service's message alone, one line (`The specified container does not exist.`).
    pub message: String,
}

/// The body of a failed Blob Storage call: `<Error><Code>..</Code><Message>..</Message></Error>`.
#[derive(serde::Deserialize)]
struct ServiceError {
    #[serde(rename = "Message")]
    message: Option<String>,
}

/// Lists every blob whose name starts with `prefix` and returns the one written last (`None`
/// when there is none). `page_size` is for tests of the paging; `None` lets the service choose
/// (up to 5000 a page).
pub async fn newest_blob(
    store: &Store,
    prefix: &str,
    page_size: Option<u32>,
) -> Result<Option<Newest>, ListError> {
    let shown = store.loc.container_shown();
    let fail = |e: azure_core::Error| {
        let (status, code, message) = match e.kind() {
            azure_core::error::ErrorKind::HttpResponse {
                status,
                error_code,
                raw_response,
            } => (
                Some(u16::from(*status)),
                error_code.clone(),
                raw_response
                    .as_ref()
                    .and_then(|r| r.body().xml::<ServiceError>().ok())
                    .and_then(|b| b.message),
            ),
            _ => (None, None, None),
        };
        let message = message.unwrap_or_else(|| root_cause(&e));
        ListError {
            error: BlobError::Call {
                what: "list the blobs".into(),
                url: shown.clone(),
                reason: reason(&message, status, code.as_deref()),
            },
            status,
            code,
            message: clean(&message),
        }
    };
    let container = store.container().map_err(|error| ListError {
        message: error.to_string(),
        error,
        status: None,
        code: None,
    })?;
    let options = BlobContainerClientListBlobsOptions {
        prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
        maxresults: page_size.and_then(|n| i32::try_from(n).ok()),
        ..Default::default()
    };
    let mut items = container.list_blobs(Some(options)).map_err(fail)?;
    let mut newest: Option<Newest> = None;
    let mut count = 0;
    while let Some(item) = items.try_next().await.map_err(fail)? {
        count += 1;
        let (Some(name), Some(props)) = (item.name, item.properties) else {
            continue;
        };
        let Some(modified) = props.last_modified.and_then(to_chrono) else {
            continue;
        };
        if newest.as_ref().is_none_or(|n| modified > n.last_modified) {
            newest = Some(Newest {
                name,
                last_modified: modified,
                size: props.content_length,
                count: 0,
            });
        }
    }
    Ok(newest.map(|n| Newest { count, ..n }))
}

fn to_chrono(t: OffsetDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond())
}

/// What went wrong underneath (`Connection refused`), not only the last wrapper ("retry
/// policy expired").
fn root_cause(e: &azure_core::Error) -> String {
    let mut messages = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let m = s.to_string();
        if !messages.iter().any(|x| x.contains(&m)) {
            messages.push(m);
        }
        source = s.source();
    }
    messages.join(": ")
}

/// The first line of a message (the service appends `RequestId:..`, `Time:..` lines), short,
/// with anything secret masked (the SDK may quote a request URL with its SAS).
fn clean(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    mask_tokens(&super::strip_sas(first))
        .chars()
        .take(400)
        .collect()
}

/// `HTTP 404 ContainerNotFound: The specified container does not exist.`
fn reason(message: &str, status: Option<u16>, code: Option<&str>) -> String {
    let message = clean(message);
    match (status, code) {
        (Some(s), Some(c)) => format!("HTTP {s} {c}: {message}"),
        (Some(s), None) => format!("HTTP {s}: {message}"),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_line_with_status_code_and_no_signature() {
        let r = reason(
            "The specified container does not exist.\nRequestId:abc\nTime:now",
            Some(404),
            Some("ContainerNotFound"),
        );
        assert_eq!(
            r,
            "HTTP 404 ContainerNotFound: The specified container does not exist."
        );
        let r = reason("GET https://a/c?comp=list&sig=SECRET failed", None, None);
        assert!(!r.contains("SECRET"), "{r}");
    }
}
