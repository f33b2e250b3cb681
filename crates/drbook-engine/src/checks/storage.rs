//! The `storage` step: are the backups fresh, and is the account's geo-replication within the
//! RPO? Backup freshness is the newest blob under a prefix of a container (listed through
//! `azure_storage_blob`); geo-replication is `geoReplicationStats.lastSyncTime` of the account
//! (ARM, `$expand=geoReplicationStats`). Each must be younger than the step's `max_age`,
//! which defaults to the runbook's RPO.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::read::{Failure, ReadResult, Reader, Verdict};
use super::scope::Scope;
use drbook_azure::blob::{self, BlobError, ListError, Store};
use drbook_azure::{AzureError, ErrorKind};
use drbook_core::runbook::model::Step;
use drbook_core::time::{parse_duration, rfc3339_secs};

/// The api-version of `Microsoft.Storage/storageAccounts` reads when the step gives none.
pub const GEO_API_VERSION: &str = "2023-05-01";

/// How a storage step signs in to Blob Storage: the storage variables of the environment,
/// read once when drbook connects, and the Entra ID credential the ARM client uses (none
/// against the simulator, whose tokens mean nothing to a real account). `Debug` shows
/// neither secret.
#[derive(Clone, Default)]
pub struct BlobAccess {
    sas: Option<String>,
    key: Option<String>,
    entra: Option<Arc<dyn TokenCredential>>,
}

impl std::fmt::Debug for BlobAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobAccess")
            .field("sas", &self.sas.as_ref().map(|_| ".."))
            .field("key", &self.key.as_ref().map(|_| ".."))
            .field("entra", &self.entra.is_some())
            .finish()
    }
}

impl BlobAccess {
    pub fn new(
        env: impl Fn(&str) -> Option<String>,
        entra: Option<Arc<dyn TokenCredential>>,
    ) -> BlobAccess {
        BlobAccess {
            sas: env("AZURE_STORAGE_SAS_TOKEN"),
            key: env("AZURE_STORAGE_KEY"),
            entra,
        }
    }

    /// A signed-in store for `url` (see `blob::Credentials::from_env` for the order).
    pub fn open(&self, url: &str) -> Result<Store, BlobError> {
        Store::open(
            url,
            |k| match k {
                "AZURE_STORAGE_SAS_TOKEN" => self.sas.clone(),
                "AZURE_STORAGE_KEY" => self.key.clone(),
                _ => None,
            },
            || self.entra.clone(),
        )
        .map(|s| s.with_access(blob::Access::List))
    }
}

/// What a storage step reads, its templates filled in.
struct Plan {
    container_url: Option<String>,
    prefix: String,
    account: Option<String>,
    api_version: String,
    max_age: Duration,
    max_age_text: String,
}

/// One half of the step (freshness or geo-replication), judged.
struct Part {
    verdict: Verdict,
    expected: String,
    actual: String,
    error: Option<AzureError>,
}

/// Runs a storage step once.
pub(crate) async fn read(
    reader: &Reader,
    step: &Step,
    scope: &Scope,
    timeout: Duration,
) -> Result<ReadResult, Failure> {
    let plan = plan(step, scope)?;
    let (fresh, geo) = tokio::join!(
        async {
            match &plan.container_url {
                Some(url) => Some(freshness(reader, url, &plan, timeout).await),
                None => None,
            }
        },
        async {
            match &plan.account {
                Some(id) => Some(geo_replication(reader, id, &plan).await),
                None => None,
            }
        }
    );
    let mut doc = json!({});
    let mut outputs = std::collections::BTreeMap::new();
    let mut parts = Vec::new();
    if let Some((part, newest)) = fresh {
        if let Some(n) = newest {
            let age = age_s(n.last_modified);
            outputs.insert("newest".to_string(), n.name.clone());
            outputs.insert("newest_modified".into(), rfc3339_secs(n.last_modified));
            outputs.insert("age_s".into(), age.to_string());
            outputs.insert("blobs".into(), n.count.to_string());
            doc["newest"] = json!({
                "name": n.name,
                "last_modified": rfc3339_secs(n.last_modified),
                "size": n.size,
                "age_s": age,
            });
            doc["blobs"] = json!(n.count);
        }
        parts.push(part);
    }
    if let Some((part, account)) = geo {
        if let Some(a) = account {
            let stats = a
                .pointer("/properties/geoReplicationStats")
                .cloned()
                .unwrap_or(Value::Null);
            if let Some(t) = stats.get("lastSyncTime").and_then(Value::as_str) {
                outputs.insert("last_sync_time".into(), t.to_string());
                if let Some(when) = parse_time(t) {
                    let age = age_s(when);
                    outputs.insert("sync_age_s".into(), age.to_string());
                    // What a failover now would lose: the report holds it against the RPO.
                    outputs.insert(
                        drbook_core::incident::event::RPO_OUTPUT.into(),
                        drbook_core::time::exact(Duration::from_secs(age.max(0) as u64))
                            .to_string(),
                    );
                }
            }
            if let Some(s) = stats.get("status").and_then(Value::as_str) {
                outputs.insert("geo_status".into(), s.to_string());
            }
            doc["account"] = a;
        }
        parts.push(part);
    }
    let verdict = if parts.iter().any(|p| p.verdict == Verdict::Error) {
        Verdict::Error
    } else if parts.iter().all(|p| p.verdict == Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let source = match (&plan.container_url, &plan.account) {
        (Some(_), Some(_)) => "blob+arm",
        (Some(_), None) => "blob",
        _ => "arm",
    };
    let join = |f: fn(&Part) -> &str| parts.iter().map(f).collect::<Vec<_>>().join("; ");
    let mut r = ReadResult {
        verdict,
        expected: join(|p| &p.expected),
        actual: join(|p| &p.actual),
        error: parts.iter().find_map(|p| p.error.clone()),
        source,
        ..ReadResult::skipped(String::new(), String::new())
    };
    r.outputs = outputs;
    super::read::extract_outputs(step, scope, &doc, &mut r)?;
    Ok(r)
}

fn plan(step: &Step, scope: &Scope) -> Result<Plan, Failure> {
    let render = |s: &str| {
        scope
            .render(s)
            .map_err(|e| Failure::Render(format!("cannot fill in `{s}`: {e}")))
    };
    let opt =
        |f: &Option<toml::Spanned<String>>| f.as_ref().map(|x| render(x.get_ref())).transpose();
    let container_url = opt(&step.container_url)?;
    let account = opt(&step.resource)?;
    if container_url.is_none() && account.is_none() {
        return Err(Failure::Render(
            "a storage step needs `container_url`, `resource`, or both".into(),
        ));
    }
    let max_age_text = match opt(&step.max_age)? {
        Some(m) => m,
        None => scope.runbook.get("rpo").cloned().ok_or_else(|| {
            Failure::Render("no `max_age` on the step and no `rpo` in [runbook]".into())
        })?,
    };
    let max_age = parse_duration(&max_age_text).map_err(|e| {
        Failure::Render(format!("max_age: `{max_age_text}` is not a duration ({e})"))
    })?;
    Ok(Plan {
        container_url,
        prefix: opt(&step.prefix)?.unwrap_or_default(),
        account,
        api_version: opt(&step.api_version)?.unwrap_or_else(|| GEO_API_VERSION.into()),
        max_age,
        max_age_text,
    })
}

/// The newest blob under the prefix, against the maximum age.
async fn freshness(
    reader: &Reader,
    url: &str,
    plan: &Plan,
    timeout: Duration,
) -> (Part, Option<blob::Newest>) {
    let store = match reader.blob.open(url) {
        Ok(s) => s.with_max_retries(reader.arm.options().max_retries),
        Err(e) => {
            let shown = blob::strip_query(url);
            return (
                error_part(
                    format!("newest blob in {shown} younger than {}", plan.max_age_text),
                    AzureError::new("open", shown, ErrorKind::Client, e.to_string()),
                ),
                None,
            );
        }
    };
    let prefix = full_prefix(&store.loc.prefix, &plan.prefix);
    let container = store.loc.container_shown();
    let under = if prefix.is_empty() {
        format!("in {}", store.loc.container)
    } else {
        format!("under {prefix}")
    };
    let expected = format!("newest blob {under} younger than {}", plan.max_age_text);
    let cancel = reader.arm.cancel_token();
    let listed = tokio::select! {
        () = cancel.cancelled() => Err(AzureError::new("list the blobs in", &container, ErrorKind::Cancelled, "cancelled")),
        r = tokio::time::timeout(timeout, blob::newest_blob(&store, &prefix, None)) => match r {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(list_error(&container, e)),
            Err(_) => Err(AzureError::new(
                "list the blobs in",
                &container,
                ErrorKind::Timeout,
                format!("no answer within {}", drbook_core::time::exact(timeout)),
            )),
        },
    };
    match listed {
        Err(e) => (error_part(expected, e), None),
        Ok(None) => (
            Part {
                verdict: Verdict::Fail,
                expected,
                actual: format!("no blobs {under} in {container}"),
                error: None,
            },
            None,
        ),
        Ok(Some(n)) => {
            let age = Utc::now().signed_duration_since(n.last_modified);
            let fresh = age.to_std().map_or(true, |a| a <= plan.max_age);
            (
                Part {
                    verdict: if fresh { Verdict::Pass } else { Verdict::Fail },
                    expected,
                    actual: format!("{}, {} old", n.name, human_age(age)),
                    error: None,
                },
                Some(n),
            )
        }
    }
}

/// The account's last geo-sync, against the maximum age.
async fn geo_replication(reader: &Reader, id: &str, plan: &Plan) -> (Part, Option<Value>) {
    let bare = id.split('?').next().unwrap_or(id);
    let name = bare.rsplit('/').next().unwrap_or(bare);
    let expected = format!(
        "geo-replication of {name} last synced within {}",
        plan.max_age_text
    );
    let path = if id.contains("geoReplicationStats") {
        id.to_string()
    } else if id.contains('?') {
        format!("{id}&$expand=geoReplicationStats")
    } else {
        format!("{id}?$expand=geoReplicationStats")
    };
    let doc = match reader.arm.get(&path, &plan.api_version).await {
        Ok(r) => r.body,
        Err(e) => return (error_part(expected, e), None),
    };
    let stats = doc.pointer("/properties/geoReplicationStats");
    let status = stats
        .and_then(|s| s.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let last = stats
        .and_then(|s| s.get("lastSyncTime"))
        .and_then(Value::as_str);
    let (verdict, actual) = match (stats, last.and_then(parse_time)) {
        (None, _) => {
            let sku = doc
                .pointer("/sku/name")
                .and_then(Value::as_str)
                .unwrap_or("unknown SKU");
            (
                Verdict::Fail,
                format!("no geoReplicationStats: {name} is not geo-redundant ({sku})"),
            )
        }
        (Some(_), None) => (
            Verdict::Fail,
            format!(
                "no last sync time (status {status}): the secondary has no known copy{}",
                last.map(|l| format!(" (`{l}`)")).unwrap_or_default()
            ),
        ),
        (Some(_), Some(when)) => {
            let age = Utc::now().signed_duration_since(when);
            let fresh = age.to_std().map_or(true, |a| a <= plan.max_age);
            (
                if fresh { Verdict::Pass } else { Verdict::Fail },
                format!(
                    "last sync {}, {} ago (status {status})",
                    rfc3339_secs(when),
                    human_age(age)
                ),
            )
        }
    };
    (
        Part {
            verdict,
            expected,
            actual,
            error: None,
        },
        Some(doc),
    )
}

fn error_part(expected: String, e: AzureError) -> Part {
    Part {
        verdict: Verdict::Error,
        expected,
        actual: e.short(),
        error: Some(e),
    }
}

/// A listing failure as the error every read reports: the container, the status, the
/// service's code and what to do next.
fn list_error(container: &str, e: ListError) -> AzureError {
    let kind = match e.status {
        Some(401) => ErrorKind::Auth,
        Some(403) => ErrorKind::Forbidden,
        Some(404) => ErrorKind::NotFound,
        Some(408) => ErrorKind::Timeout,
        Some(429) => ErrorKind::Throttled,
        Some(500..=599) => ErrorKind::Unavailable,
        Some(_) => ErrorKind::BadRequest,
        None => ErrorKind::Connection,
    };
    AzureError {
        status: e.status,
        code: e.code,
        ..AzureError::new(
            "list the blobs in",
            container,
            kind,
            e.message.trim_end_matches('.'),
        )
    }
}

/// The URL's folder and the step's `prefix`: `backups` + `sql/` is `backups/sql/`.
fn full_prefix(url_folder: &str, prefix: &str) -> String {
    match (url_folder.is_empty(), prefix.is_empty()) {
        (true, _) => prefix.to_string(),
        (false, true) => format!("{url_folder}/"),
        (false, false) => format!("{url_folder}/{}", prefix.trim_start_matches('/')),
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn age_s(t: DateTime<Utc>) -> i64 {
    Utc::now().signed_duration_since(t).num_seconds()
}

/// `4m12s`; a time in the future (clock skew) reads `0s`.
fn human_age(age: chrono::TimeDelta) -> String {
    let secs = u64::try_from(age.num_seconds()).unwrap_or(0);
    drbook_core::time::exact(Duration::from_secs(secs)).replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_join_the_url_folder_and_the_field() {
        assert_eq!(full_prefix("", "backups/sql/"), "backups/sql/");
        assert_eq!(full_prefix("backups", ""), "backups/");
        assert_eq!(full_prefix("backups", "sql/"), "backups/sql/");
        assert_eq!(full_prefix("backups", "/sql"), "backups/sql");
        assert_eq!(full_prefix("", ""), "");
    }

    #[test]
    fn ages_read_compactly() {
        assert_eq!(human_age(chrono::TimeDelta::seconds(252)), "4m12s");
        assert_eq!(human_age(chrono::TimeDelta::seconds(3725)), "1h2m5s");
        assert_eq!(human_age(chrono::TimeDelta::seconds(-3)), "0s");
    }

    #[test]
    fn listing_errors_keep_status_code_and_container() {
        let e = list_error(
            "http://127.0.0.1:1/devstoreaccount1/nope",
            ListError {
                error: BlobError::Call {
                    what: "list the blobs".into(),
                    url: "http://127.0.0.1:1/devstoreaccount1/nope".into(),
                    reason: "HTTP 404 ContainerNotFound: The specified container does not exist."
                        .into(),
                },
                status: Some(404),
                code: Some("ContainerNotFound".into()),
                message: "The specified container does not exist.".into(),
            },
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.short(), "404 ContainerNotFound");
        let text = e.to_string();
        assert!(
            text.starts_with("list the blobs in http://127.0.0.1:1/devstoreaccount1/nope: HTTP 404 ContainerNotFound: The specified container does not exist. Next: check the container"),
            "{text}"
        );
    }

    #[test]
    fn the_access_never_shows_its_secrets() {
        let a = BlobAccess::new(|k| Some(format!("SECRET-{k}")), None);
        let shown = format!("{a:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
