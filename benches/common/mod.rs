//! What the benches that drive the real binary share: percentiles over timings, a private
//! tmux server to run drbook in, and where the release binary is. Each bench uses a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Nearest-rank percentiles over a set of timings.
pub struct Timings(pub Vec<Duration>);

impl Timings {
    pub fn new(mut each: Vec<Duration>) -> Timings {
        each.sort();
        Timings(each)
    }

    pub fn pct(&self, p: f64) -> Duration {
        drbook::time::percentile_sorted(&self.0, p).unwrap_or(Duration::ZERO)
    }

    pub fn median(&self) -> Duration {
        self.pct(50.0)
    }

    pub fn max(&self) -> Duration {
        self.pct(100.0)
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A private tmux server (its own socket) with one 120x40 pane running `command`.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str, command: &str) -> Result<Tmux, String> {
        let tmux = Tmux {
            socket: format!("drbook-{name}-{}", std::process::id()),
        };
        let out = tmux
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "b",
                "-x",
                "120",
                "-y",
                "40",
                command,
            ])
            .map_err(|e| format!("tmux does not run ({e})"))?;
        if !out.status.success() {
            return Err(format!(
                "tmux new-session failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(tmux)
    }

    pub fn cmd(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
    }

    /// Runs a tmux command that must succeed.
    pub fn run(&self, args: &[&str]) -> Result<(), String> {
        let out = self.cmd(args).map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "{}: {}",
                args.first().copied().unwrap_or("tmux"),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "b"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Polls the screen every 2 ms until `what` shows; the time since `t`.
    pub fn until(&self, t: Instant, what: &str, within: Duration) -> Result<Duration, String> {
        loop {
            let s = self.screen();
            if s.contains(what) {
                return Ok(t.elapsed());
            }
            if t.elapsed() > within {
                return Err(format!("`{what}` did not appear within {within:?}:\n{s}"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The release binary next to this crate (or in `CARGO_TARGET_DIR`).
pub fn release_binary() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
            }
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = target.join("release").join("drbook");
    bin.is_file().then_some(bin)
}
