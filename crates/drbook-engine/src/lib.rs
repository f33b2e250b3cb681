//! drbook-engine: carries out runbooks. `checks` reads live state, `exec` runs the steps
//! (one task owns an incident's execution and journals every event to the log before it is
//! shown), `share` puts an incident on an append blob for several operators, and `target`
//! is the endpoint and readers a run talks to. Configured by plain structs: no clap, no
//! screen, and no simulator (reached over HTTP like Azure).

pub mod checks;
pub mod discover;
pub mod drift;
pub mod exec;
pub mod share;
pub mod target;
