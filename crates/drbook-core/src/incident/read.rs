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
    let bytes = read_bytes(path)?;
    let walk = chain::walk_with(&bytes, key);
    Ok((walk.events, walk.integrity))
}

/// The most of a log that is read: far above any real incident (100,000 events are some
/// 50 MB), far below what would exhaust memory.
pub const MAX_LOG_BYTES: u64 = 1 << 30;

/// A log file's bytes: only a regular file (a FIFO or a device named like a log is refused at
/// once, not read until it blocks or memory runs out), at most `MAX_LOG_BYTES`.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, LogError> {
    crate::files::read_regular(path, MAX_LOG_BYTES).map_err(|e| match e {
        crate::files::ReadError::Io(source) => LogError::io(path, "read")(source),
        other => LogError::io(path, "read")(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            other.to_string(),
        )),
    })
}
