//! The drbook binary as the tests run it: one place that knows where it is and where it runs.

use std::process::{Command, Output};

/// The binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_drbook");

/// The repository root: the tests name runbooks/ and tests/data relative to it.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// drbook, run from the repository root; the caller adds arguments and environment.
pub fn drbook() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(ROOT);
    cmd
}

/// What a run printed, standard output then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
