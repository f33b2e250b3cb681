//! Step kinds that read state (check, health, graph, probe): evaluating what they read against
//! their expectations. Knows nothing of the screen.

pub mod eval;
