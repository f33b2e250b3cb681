//! PLACEHOLDER until the real Resource Graph query engine lands (written separately, same API):
//! only the bare table `Resources` is understood. Replace this file with the real one.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KqlError(pub String);

pub fn run(query: &str, rows: &[Value]) -> Result<Vec<Value>, KqlError> {
    if query.trim().eq_ignore_ascii_case("resources") {
        Ok(rows.to_vec())
    } else {
        Err(KqlError(format!(
            "the simulator's query engine is not available yet; cannot run `{query}`"
        )))
    }
}
