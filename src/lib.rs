//! drbook: a terminal runbook assistant for disaster recovery of Azure applications.
//!
//! The binary's library: the command line (`cli`) and the demo. The layers below are their own
//! crates (see ARCHITECTURE.md), re-exported here under their old paths so tests and benches
//! read `drbook::runbook::...`.

#[macro_use]
extern crate drbook_core;

pub use drbook_azure as azure;
pub use drbook_azure::blob;
pub use drbook_core::{diag, files, incident, roles, runbook, secrets, startup, time};
pub use drbook_engine::{checks, discover, drift, exec, share, target};
pub use drbook_report as report;
pub use drbook_sim as sim;
pub use drbook_tui as tui;

pub mod cli;
pub mod demo;
