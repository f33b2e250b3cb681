//! What can go wrong with an incident log, said so the operator knows what to do next.

use std::path::PathBuf;

use super::chain::Integrity;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("incident log {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("no data directory for the incident logs (is $HOME set?); pass --log-dir")]
    NoDataDir,
    #[error(
        "cannot resume {path}: {integrity}. Start a new incident log; keep this one for review"
    )]
    NotResumable { path: PathBuf, integrity: Integrity },
    #[error(
        "cannot resume {path}: its hash chain is keyed and {reason}; set DRBOOK_LOG_KEY to the key it was started with (see the README: it can come from Key Vault) and resume again"
    )]
    NeedsKey { path: PathBuf, reason: String },
    #[error("cannot encode event: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(
        "incident log {path} stopped taking events after a failed write or fsync ({cause}); what was acknowledged before is safe. Resume it with a new drbook process"
    )]
    Poisoned { path: PathBuf, cause: String },
    #[error(
        "incident log {path} is in use by {}: one drbook at a time writes an incident log. Wait for it to end (or stop it), then resume; `drbook review` and `drbook report` can read the log meanwhile",
        holder.as_ref().map_or_else(|| "another drbook".to_string(), ToString::to_string)
    )]
    Locked {
        path: PathBuf,
        holder: Option<super::lock::LockHolder>,
    },
    #[error(
        "incident {path} was closed ({}) at {}: resuming it reopens it; pass --reopen to do so",
        outcome_name(*outcome),
        at.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    Closed {
        path: PathBuf,
        outcome: super::event::IncidentOutcome,
        at: chrono::DateTime<chrono::Utc>,
    },
    #[error("the incident log writer has stopped")]
    WriterGone,
    #[error(transparent)]
    Key(#[from] super::chain::KeyError),
}

fn outcome_name(o: super::event::IncidentOutcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{o:?}"))
}

impl LogError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        op: &'static str,
    ) -> impl FnOnce(std::io::Error) -> LogError {
        let path = path.into();
        move |source| LogError::Io { path, op, source }
    }
}
