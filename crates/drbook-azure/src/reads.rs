//! Reads beyond a plain GET: Azure Resource Health and Azure Resource Graph.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{ArmClient, ArmRequest};
use super::error::{AzureError, ErrorKind};

/// Resource Health's api-version when a step names none.
pub const HEALTH_API_VERSION: &str = "2025-05-01";
pub const GRAPH_API_VERSION: &str = "2022-10-01";
/// Rows per Resource Graph page at most (`$top`'s bound).
const GRAPH_PAGE: u32 = 1000;
/// Rows at most, so a runaway query cannot read forever.
const GRAPH_MAX_ROWS: u32 = 100_000;

impl ArmClient {
    /// `{id}/providers/Microsoft.ResourceHealth/availabilityStatuses/current`.
    pub async fn health(&self, id: &str, api_version: Option<&str>) -> Result<Value, AzureError> {
        let id = id.split('?').next().unwrap_or(id).trim_end_matches('/');
        let path = format!("{id}/providers/Microsoft.ResourceHealth/availabilityStatuses/current");
        let req = ArmRequest::get(path, api_version.unwrap_or(HEALTH_API_VERSION))
            .operation("read Resource Health of")
            .resource(id);
        Ok(self.send(&req).await?.body)
    }

    /// Runs a Resource Graph query over `subscriptions` and returns every row, following
    /// `$skipToken` pages.
    pub async fn graph(
        &self,
        subscriptions: &[String],
        query: &str,
    ) -> Result<Vec<Value>, AzureError> {
        self.graph_paged(subscriptions, query, &mut |_| {}).await
    }

    /// [`ArmClient::graph`], calling `on_page` as each page arrives with the rows read so far,
    /// the total Resource Graph announced (`totalRecords`) and the pages read.
    pub async fn graph_paged(
        &self,
        subscriptions: &[String],
        query: &str,
        on_page: &mut (dyn FnMut(GraphProgress) + Send),
    ) -> Result<Vec<Value>, AzureError> {
        let mut rows = Vec::new();
        self.graph_pages(subscriptions, query, &mut |progress, data| {
            rows.extend(data);
            on_page(progress);
        })
        .await?;
        Ok(rows)
    }

    /// Runs a Resource Graph query and hands each page's rows to `on_page` in order, with how
    /// far the query has read. The request for the next page is sent before `on_page` runs, so
    /// what the caller does with a page overlaps the wait for the next one.
    pub async fn graph_pages(
        &self,
        subscriptions: &[String],
        query: &str,
        on_page: &mut (dyn FnMut(GraphProgress, Vec<Value>) + Send),
    ) -> Result<(), AzureError> {
        let top = self.options().graph_page.clamp(1, GRAPH_PAGE);
        let mut read = 0;
        let mut skip: Option<String> = None;
        let mut pending: Option<(GraphProgress, Vec<Value>)> = None;
        for page in 1..=GRAPH_MAX_ROWS.div_ceil(top) {
            let mut options = json!({ "resultFormat": "objectArray", "$top": top });
            if let Some(t) = &skip {
                options["$skipToken"] = json!(t);
            }
            let body =
                json!({ "subscriptions": subscriptions, "query": query, "options": options });
            // A query reads only: safe to send again after any failure.
            let req = ArmRequest::new(
                Method::POST,
                "/providers/Microsoft.ResourceGraph/resources",
                Some(GRAPH_API_VERSION),
            )
            .body(body)
            .operation("Resource Graph query")
            .resource(one_line(query))
            .idempotent(true);
            let sent = match pending.take() {
                // The previous page is handed over while this request is on its way.
                Some((progress, data)) => {
                    let (sent, ()) =
                        tokio::join!(self.send(&req), async { on_page(progress, data) });
                    sent
                }
                None => self.send(&req).await,
            };
            let mut answer = sent?.body;
            let Some(Value::Array(data)) = answer.get_mut("data").map(Value::take) else {
                return Err(AzureError::new(
                    "Resource Graph query",
                    one_line(query),
                    ErrorKind::Client,
                    "the answer has no `data` array",
                ));
            };
            read += data.len();
            let progress = GraphProgress {
                rows: read,
                total: answer
                    .get("totalRecords")
                    .and_then(Value::as_u64)
                    .and_then(|t| usize::try_from(t).ok()),
                pages: page,
            };
            skip = answer
                .get("$skipToken")
                .and_then(Value::as_str)
                .map(str::to_string);
            if skip.is_none() {
                // Resource Graph pages only queries whose rows carry `id`; others are cut at
                // the page size with `resultTruncated` and no token, silently short.
                let truncated = match answer.get("resultTruncated") {
                    Some(Value::Bool(b)) => *b,
                    Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                    _ => false,
                };
                if truncated {
                    return Err(AzureError::new(
                        "Resource Graph query",
                        one_line(query),
                        ErrorKind::BadRequest,
                        format!(
                            "Resource Graph cut the answer short after {read} rows (resultTruncated) and gave no $skipToken to read the rest: project `id` in the query (e.g. `| project id, ...`) so it can be paged"
                        ),
                    ));
                }
                on_page(progress, data);
                return Ok(());
            }
            pending = Some((progress, data));
        }
        Err(AzureError::new(
            "Resource Graph query",
            one_line(query),
            ErrorKind::BadRequest,
            format!("more than {GRAPH_MAX_ROWS} rows: narrow the query"),
        ))
    }
}

/// How far a paged Resource Graph query has read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphProgress {
    /// Rows read so far.
    pub rows: usize,
    /// The rows the query matches, as the last page said (`totalRecords`), when it said.
    pub total: Option<usize>,
    /// Pages read so far.
    pub pages: u32,
}

/// A query on one line, shortened, for error messages.
fn one_line(q: &str) -> String {
    let flat = q.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 120 {
        format!("{}…", flat.chars().take(119).collect::<String>())
    } else {
        flat
    }
}
