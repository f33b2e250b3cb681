//! Azurite, Microsoft's Azure Storage emulator, on a free loopback port with its own folder.
//! It comes from npm (`package.json` at the repository root): when `node_modules` lacks it,
//! the first test that needs it runs `npm ci` once.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static INSTALL: Mutex<()> = Mutex::new(());

pub struct Azurite {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The azurite-blob launcher, installed with `npm ci` if need be.
pub fn binary() -> PathBuf {
    let bin = root().join("node_modules/.bin/azurite-blob");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !bin.exists() {
        eprintln!("installing Azurite with `npm ci` (package.json)...");
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(root())
            .status()
            .expect("npm is needed to install Azurite for these tests");
        assert!(status.success(), "npm ci failed: {status}");
    }
    assert!(bin.exists(), "no {} after npm ci", bin.display());
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Azurite {
    pub fn start() -> Azurite {
        let dir = tempfile::tempdir().expect("a folder for Azurite");
        let mut a = Azurite {
            child: None,
            port: free_port(),
            dir,
        };
        a.spawn();
        a
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("azurite.log"))
            .expect("Azurite's log");
        let child = Command::new(binary())
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(self.port.to_string())
            .arg("--location")
            .arg(self.dir.path())
            .args([
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--silent",
            ])
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start Azurite");
        self.child = Some(child);
        wait_for_port(
            self.port,
            Duration::from_secs(60),
            &self.dir.path().join("azurite.log"),
        );
    }

    /// Stops it the way an operator would (SIGTERM: it saves its state), and waits.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and folder.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1/{path}", self.port)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for_port(port: u16, limit: Duration, log: &Path) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "Azurite did not listen on {port} within {limit:?}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
