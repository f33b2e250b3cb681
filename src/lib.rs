//! drbook: a terminal runbook assistant for disaster recovery of Azure applications.
//!
//! The engine (`runbook`, and later `azure`, `exec`, `incident`, `sim`) knows nothing of the
//! screen; `cli` wires commands to it.

/// `println!` that never panics: when the reader of stdout goes away (`| head`), a command
/// that carries out an incident keeps going (the log is its record) instead of panicking
/// mid-step; see `cli::sigpipe`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod azure;
pub mod blob;
pub mod checks;
pub mod cli;
pub mod demo;
pub mod diag;
pub mod exec;
pub mod files;
pub mod incident;
pub mod report;
pub mod roles;
pub mod runbook;
pub mod secrets;
pub mod share;
pub mod sim;
pub mod startup;
pub mod target;
pub mod time;
pub mod tui;
