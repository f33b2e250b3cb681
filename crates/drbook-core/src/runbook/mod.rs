//! Runbooks and plans: the TOML schema, loading with spans, variable references and their
//! resolution, and validation. Knows nothing of Azure or the screen.

pub mod generate;
pub mod load;
pub mod model;
pub mod path;
pub mod plan;
pub mod template;
pub mod validate;
pub mod vars;

pub use load::{LoadError, LoadSet, load_paths, parse_source};
pub use model::{Component, Plan, Runbook, Step, StepKind};
