//! drbook-core: what a runbook is and what happened in an incident. `runbook` loads,
//! validates and plans runbooks; `incident` is the append-only, fsynced, hash-chained log, its
//! events, their wording and the state they fold into. `time` is the one home of durations,
//! RFC 3339 and percentiles; `secrets` masks secret values wherever text is shown or logged.

/// `println!` that never panics: when the reader of stdout goes away (`| head`), a command
/// that carries out an incident keeps going (the log is its record) instead of panicking
/// mid-step; see `cli::sigpipe`.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod diag;
pub mod files;
pub mod incident;
pub mod roles;
pub mod runbook;
pub mod secrets;
pub mod startup;
pub mod time;
