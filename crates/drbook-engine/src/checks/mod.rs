//! Step kinds that read state (check, health, graph, probe, storage): rendering their references,
//! reading through the Azure client or HTTP, and evaluating what they read against their
//! expectations. Knows nothing of the screen.

pub mod eval;
pub mod probe;
pub mod read;
pub mod run;
pub mod scope;
pub mod storage;
