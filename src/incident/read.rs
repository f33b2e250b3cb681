//! Reading a log back for `review`, `report` and resume: the trusted events and a verdict
//! on the whole file, tolerant of a torn last line.

use std::path::Path;

use super::chain::{self, Integrity};
use super::error::LogError;
use super::event::Event;

/// The events that can be trusted (every whole, chained line before the first problem) and
/// what `verify` says of the file. Only failing to read the file at all is an error.
pub fn read_log(path: &Path) -> Result<(Vec<Event>, Integrity), LogError> {
    let bytes = std::fs::read(path).map_err(LogError::io(path, "read"))?;
    let walk = chain::walk(&bytes);
    Ok((walk.events, walk.integrity))
}
