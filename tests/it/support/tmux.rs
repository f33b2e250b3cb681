//! drbook in a real terminal: a private tmux server (its own socket) with one session.
//! The end-to-end tests of the TUI and of the shared incident drive it through this.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    session: &'static str,
}

impl Tmux {
    /// A server of its own for one test. All tests share one process, so the process id alone
    /// would give two tests the same server: a counter tells them apart.
    pub fn new(name: &str, session: &'static str) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Tmux {
            socket: format!("{name}-{}-{n}", std::process::id()),
            session,
        }
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (install it: apt-get install tmux, or run `cargo xtask test`)")
    }

    /// Runs `cmd` in a 140x40 terminal, in this server's session.
    pub fn start(&self, cmd: &str) {
        let out = self.cmd(&[
            "new-session",
            "-d",
            "-s",
            self.session,
            "-x",
            "140",
            "-y",
            "40",
            "sh",
            "-c",
            cmd,
        ]);
        assert!(out.status.success(), "{out:?}");
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(out.status.success(), "send-keys {keys:?}: {out:?}");
    }

    pub fn text(&self, text: &str) {
        let out = self.cmd(&["send-keys", "-t", self.session, "-l", text]);
        assert!(out.status.success());
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(
            &self
                .cmd(&["capture-pane", "-p", "-J", "-t", self.session])
                .stdout,
        )
        .into_owned()
    }

    pub fn wait_for(&self, what: &str, within: Duration) -> String {
        let until = Instant::now() + within;
        loop {
            let s = self.screen();
            // A capture can land between two writes of one frame: what is sought is
            // returned only from a screen that stays the same for a moment.
            if s.contains(what) {
                std::thread::sleep(Duration::from_millis(60));
                if self.screen() == s {
                    return s;
                }
            }
            assert!(
                Instant::now() < until,
                "`{what}` did not appear; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The incident log drbook wrote into `dir`.
pub fn log_in(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("log dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("an incident log was written")
}
