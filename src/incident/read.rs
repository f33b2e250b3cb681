//! Reading a log back for `review`, `report` and resume: the trusted events and a verdict
//! on the whole file, tolerant of a torn last line.

use std::path::Path;

use super::chain::{self, Integrity, LogKey};
use super::error::LogError;
use super::event::Event;

/// The events that can be trusted (every whole, chained line before the first problem) and
/// what `verify` says of the file; a keyed log is checked with the key in `DRBOOK_LOG_KEY`
/// (without it, it is `Unverified`). Only failing to read the file at all, or a malformed
/// key, is an error.
pub fn read_log(path: &Path) -> Result<(Vec<Event>, Integrity), LogError> {
    let key = LogKey::from_env()?;
    read_log_keyed(path, key.as_ref())
}

/// `read_log` with the key given.
pub fn read_log_keyed(
    path: &Path,
    key: Option<&LogKey>,
) -> Result<(Vec<Event>, Integrity), LogError> {
    let bytes = std::fs::read(path).map_err(LogError::io(path, "read"))?;
    let walk = chain::walk_with(&bytes, key);
    Ok((walk.events, walk.integrity))
}
