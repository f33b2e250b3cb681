//! What can stop a report: a log or folder that cannot be read at all. A log that reads but
//! is truncated or altered is not an error: the report says so.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Log(#[from] drbook_core::incident::LogError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no incident logs (*.jsonl) in this folder")]
    NoLogs { path: PathBuf },
    #[error("cannot encode the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}
