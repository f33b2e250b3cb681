//! The shared incident log: several operators, one timeline on an Azure Storage append blob.
//! Each drbook keeps its own local log (the source of truth, which works offline) and copies
//! every event to the share; claims on steps are compare-and-append records on the same blob.

pub mod claims;
pub mod record;
pub mod remote;
pub mod sync;
pub mod timeline;

pub use claims::{ClaimOutcome, Claims, Request};
pub use sync::{Holder, Me, Peer, RemoteRecord, ShareHandle, ShareView};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use tokio::sync::mpsc;

use drbook_azure::blob::{BlobError, Store};
use drbook_core::incident::Event;

/// How long a report or a review waits for the shared timeline.
pub const SHARE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Opens the share at `url` (credentials from the environment, else the Azure CLI's Entra
/// sign-in for https accounts). Only a malformed URL or a missing credential fails here: a
/// share that cannot be reached is "offline", and drbook works on.
pub fn open_store(url: &str) -> Result<Store, BlobError> {
    Store::open(
        url,
        |k| std::env::var(k).ok(),
        || {
            azure_identity::DeveloperToolsCredential::new(None)
                .ok()
                .map(|c| c as Arc<dyn TokenCredential>)
        },
    )
    .map(Store::without_retries)
}

/// The shared timeline as this drbook read it, kept beside the local log.
pub fn mirror_path(log: &Path) -> PathBuf {
    let stem = log
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "incident".into());
    log.with_file_name(format!("{stem}.shared.ndjson"))
}

/// A stable id of a local log: its header's hash, shortened.
pub fn writer_id(history: &[Event]) -> String {
    history
        .first()
        .map(|h| h.hash.chars().take(12).collect())
        .unwrap_or_else(|| format!("{:012x}", rand::random::<u64>() >> 16))
}

/// Starts the syncer for a local log.
#[allow(clippy::too_many_arguments)]
pub fn start(
    store: Store,
    operator: &str,
    role: &str,
    log_path: &Path,
    history: &[Event],
    local: mpsc::UnboundedReceiver<Event>,
    forward: Option<mpsc::UnboundedSender<Event>>,
    remote: Option<mpsc::UnboundedSender<RemoteRecord>>,
) -> ShareHandle {
    sync::spawn(sync::Setup {
        store,
        me: Me {
            sid: writer_id(history),
            op: operator.to_string(),
            role: role.to_string(),
        },
        history: history.to_vec(),
        local,
        forward,
        remote,
        mirror: Some(mirror_path(log_path)),
        blocks_per_blob: sync::MAX_BLOCKS,
    })
}

/// The incident a share holds: the first header on its timeline, and who wrote it. `None`
/// when the share has no timeline yet.
pub async fn first_header(
    store: &Store,
) -> Result<Option<(String, drbook_core::incident::Header)>, BlobError> {
    let name = store.loc.blob_name(sync::TIMELINE);
    let Some((bytes, _)) = remote::read_from(store, &name, 0).await? else {
        return Ok(None);
    };
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(rec) = serde_json::from_slice::<record::Record>(line) else {
            continue;
        };
        if let Some(drbook_core::incident::EventKind::IncidentStarted(h)) =
            rec.event().map(|e| e.kind)
        {
            return Ok(Some((rec.op, h)));
        }
    }
    Ok(None)
}

/// The whole shared timeline at `store`: every segment (`timeline.jsonl`, `timeline-2.jsonl`,
/// ...) in order, each ending in a newline. Empty when the share has no timeline.
pub async fn read_timeline(store: &Store) -> Result<Vec<u8>, BlobError> {
    let mut all = Vec::new();
    for n in 0.. {
        let name = store.loc.blob_name(&sync::segment_name(n));
        let Some((bytes, _)) = remote::read_from(store, &name, 0).await? else {
            break;
        };
        all.extend_from_slice(&bytes);
        if !all.is_empty() && !all.ends_with(b"\n") {
            all.push(b'\n');
        }
    }
    Ok(all)
}

/// The shared timeline for checking `log`'s head against (`review`/`report --share`): read
/// from `url`, or, when `url` is empty, from the share the log's header names. Gives up after
/// `limit`: a share that does not answer must not hold a review.
pub async fn timeline_for(
    log: &Path,
    url: &str,
    limit: std::time::Duration,
) -> Result<Vec<u8>, String> {
    let url = if url.is_empty() {
        let (events, _) = drbook_core::incident::read_log(log).map_err(|e| e.to_string())?;
        match events.first().map(|e| &e.kind) {
            Some(drbook_core::incident::EventKind::IncidentStarted(h)) if h.share.is_some() => {
                h.share.clone().unwrap_or_default()
            }
            _ => {
                return Err(format!(
                    "{}: its header names no share; give --share URL",
                    log.display()
                ));
            }
        }
    } else {
        url.to_string()
    };
    let store = open_store(&url).map_err(|e| format!("--share: {e}"))?;
    match tokio::time::timeout(limit, read_timeline(&store)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(format!("cannot read the shared timeline: {e}")),
        Err(_) => Err(format!(
            "the shared timeline did not answer within {}s",
            limit.as_secs()
        )),
    }
}
