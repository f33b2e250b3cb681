//! The blob operations the shared log needs, on top of `blob::Store`: each says what it did
//! to which blob, and sorts the answers the syncer acts on (a lost race, a blob that is not
//! there) from real failures.

use azure_core::http::{Etag, RequestContent, StatusCode};
use azure_storage_blob::models::AppendBlobClientAppendBlockResultHeaders;
use azure_storage_blob::models::{
    AppendBlobClientAppendBlockOptions, AppendBlobClientCreateOptions, BlobClientDownloadOptions,
    BlobClientUploadOptions, BlobContainerClientCreateOptions,
};
use bytes::Bytes;

use drbook_azure::blob::{BlobError, Store};

/// Where a blob ended when we last saw it: its length, and its ETag and committed blocks
/// when the service said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct End {
    pub len: u64,
    pub etag: Option<Etag>,
    pub blocks: Option<u32>,
}

/// What an append with an append-position and ETag condition came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// The block is in, and this is the blob's end now.
    At(End),
    /// Someone appended first, or the blob changed (another length or another ETag: replaced,
    /// or its data lost) since we saw it: read the tail.
    Moved,
    /// There is no such blob (yet, or any more).
    Missing,
    /// The blob holds all the blocks an append blob can (50,000).
    Full,
}

fn status(e: &azure_core::Error) -> Option<StatusCode> {
    e.http_status()
}

fn code(e: &azure_core::Error) -> Option<&str> {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

fn fail(store: &Store, what: &str, name: &str, e: &azure_core::Error) -> BlobError {
    BlobError::Call {
        what: what.into(),
        url: store.shown(name),
        reason: drbook_azure::error::mask_tokens(&first_line(&e.to_string())),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// Creates the container unless it is there.
pub async fn ensure_container(store: &Store) -> Result<(), BlobError> {
    let c = store.container_to_create()?;
    match c.create(None::<BlobContainerClientCreateOptions<'_>>).await {
        Ok(_) => Ok(()),
        Err(e) if status(&e) == Some(StatusCode::Conflict) => Ok(()),
        Err(e) => Err(fail(store, "create the container", "", &e)),
    }
}

/// Creates the append blob `name` unless it exists (`If-None-Match: *`, so a blob someone
/// else created a moment ago is never replaced).
pub async fn ensure_append_blob(store: &Store, name: &str) -> Result<(), BlobError> {
    let b = store.append_blob(name)?;
    let options = AppendBlobClientCreateOptions {
        if_none_match: Some("*".into()),
        blob_content_type: Some("application/x-ndjson".into()),
        ..Default::default()
    };
    match b.create(Some(options)).await {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                status(&e),
                Some(StatusCode::Conflict | StatusCode::PreconditionFailed)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(fail(store, "create the append blob", name, &e)),
    }
}

/// Appends `block` if the blob is still as we last saw it: exactly `end.len` bytes long
/// (`x-ms-blob-condition-appendpos`) and, when we know its ETag, unchanged since (`If-Match`),
/// so a block never lands after data we have not read, nor on a blob replaced meanwhile by
/// one of the same length.
pub async fn append_at(
    store: &Store,
    name: &str,
    block: Bytes,
    end: &End,
) -> Result<Appended, BlobError> {
    let b = store.append_blob(name)?;
    let len = block.len() as u64;
    let options = AppendBlobClientAppendBlockOptions {
        append_position: Some(end.len as i64),
        if_match: end.etag.clone(),
        ..Default::default()
    };
    match b
        .append_block(RequestContent::from(block.to_vec()), len, Some(options))
        .await
    {
        Ok(r) => Ok(Appended::At(End {
            len: end.len + len,
            etag: r.etag().ok().flatten(),
            blocks: r
                .blob_committed_block_count()
                .ok()
                .flatten()
                .and_then(|n| u32::try_from(n).ok()),
        })),
        Err(e) if status(&e) == Some(StatusCode::PreconditionFailed) => Ok(Appended::Moved),
        Err(e)
            if status(&e) == Some(StatusCode::Conflict)
                && code(&e) == Some("BlockCountExceedsLimit") =>
        {
            Ok(Appended::Full)
        }
        Err(e) if status(&e) == Some(StatusCode::NotFound) => Ok(Appended::Missing),
        Err(e) => Err(fail(store, "append to", name, &e)),
    }
}

/// The bytes of `name` from `offset` to its end, and where it ends (with its ETag when there
/// were bytes to read); `None` when the blob does not exist.
pub async fn read_from(
    store: &Store,
    name: &str,
    offset: u64,
) -> Result<Option<(Bytes, End)>, BlobError> {
    let b = store.blob(name)?;
    let options = BlobClientDownloadOptions {
        range: Some((offset..).into()),
        ..Default::default()
    };
    match b.download(Some(options)).await {
        Ok(r) => {
            let etag = r.properties.etag.clone();
            let blocks = r
                .properties
                .blob_committed_block_count
                .and_then(|n| u32::try_from(n).ok());
            let body = r
                .body
                .collect()
                .await
                .map_err(|e| fail(store, "read", name, &e))?;
            let len = offset + body.len() as u64;
            Ok(Some((body, End { len, etag, blocks })))
        }
        Err(e) if status(&e) == Some(StatusCode::RequestedRangeNotSatisfiable) => Ok(Some((
            Bytes::new(),
            End {
                len: offset,
                ..End::default()
            },
        ))),
        Err(e) if status(&e) == Some(StatusCode::NotFound) => Ok(None),
        Err(e) => Err(fail(store, "read", name, &e)),
    }
}

/// Writes the small block blob `name` whole (presence).
pub async fn put(store: &Store, name: &str, body: Bytes) -> Result<(), BlobError> {
    let b = store.blob(name)?;
    b.upload(
        RequestContent::from(body.to_vec()),
        None::<BlobClientUploadOptions<'_>>,
    )
    .await
    .map(|_| ())
    .map_err(|e| fail(store, "write", name, &e))
}
