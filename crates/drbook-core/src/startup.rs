//! Where launch time goes, for profiling the time to the first frame: with
//! `DRBOOK_TRACE_START=FILE`, each `mark` appends the milliseconds since `main` began and its
//! label to FILE. Without it a mark costs one check of a cached flag.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<(Instant, Option<std::path::PathBuf>)> = OnceLock::new();

fn start() -> &'static (Instant, Option<std::path::PathBuf>) {
    START.get_or_init(|| {
        (
            Instant::now(),
            std::env::var_os("DRBOOK_TRACE_START").map(Into::into),
        )
    })
}

/// Called first thing in `main`: the clock starts here.
pub fn begin() {
    start();
}

pub fn mark(what: &str) {
    let (t0, file) = start();
    let Some(file) = file else { return };
    let line = format!("{:8.2} ms  {what}\n", t0.elapsed().as_secs_f64() * 1e3);
    // Profiling only: a trace that cannot be written is no reason to stop.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = f.write_all(line.as_bytes());
    }
}
