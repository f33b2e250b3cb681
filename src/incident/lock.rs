//! One writer per incident log. The writer holds an exclusive advisory lock (`flock`) on the
//! log file itself for as long as it has it open, and says who it is (pid, host, since when)
//! in a small file next to it, `.<log name>.lock`, so a second drbook is refused with a
//! message naming the holder. The lock is the kernel's: it goes with the process, so a
//! drbook killed with SIGKILL leaves no lock behind, only its note, which the next writer
//! reports as stale and replaces. Readers (`review`, `report`) take no lock.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use super::error::LogError;

/// Who holds (or held) an incident log for writing, as its lock note says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    pub host: String,
    /// When it took the log (RFC 3339), as written.
    pub since: String,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "drbook pid {} on {} since {}",
            self.pid, self.host, self.since
        )
    }
}

/// The note next to `log`: `.<name>.lock` in the same folder.
pub fn note_path(log: &Path) -> PathBuf {
    let name = log
        .file_name()
        .map_or_else(|| "incident".into(), |n| n.to_string_lossy().into_owned());
    log.with_file_name(format!(".{name}.lock"))
}

/// What the note next to `log` says, if there is one that can be read.
pub fn holder(log: &Path) -> Option<LockHolder> {
    let text = std::fs::read_to_string(note_path(log)).ok()?;
    let mut pid = None;
    let mut host = None;
    let mut since = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("pid", v)) => pid = v.trim().parse().ok(),
            Some(("host", v)) => host = Some(v.trim().to_string()),
            Some(("since", v)) => since = Some(v.trim().to_string()),
            _ => {}
        }
    }
    Some(LockHolder {
        pid: pid?,
        host: host.unwrap_or_else(|| "an unknown host".into()),
        since: since.unwrap_or_else(|| "an unknown time".into()),
    })
}

/// This process, now.
fn me(now: DateTime<Utc>) -> LockHolder {
    LockHolder {
        pid: std::process::id(),
        host: nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "an unknown host".into()),
        since: now.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// Takes the exclusive lock on `file` (the log at `path`) without waiting: another drbook
/// holding it is an error naming it.
pub fn lock(file: &File, path: &Path) -> Result<(), LogError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(LogError::Locked {
            path: path.into(),
            holder: holder(path),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(LogError::Io {
            path: path.into(),
            op: "lock",
            source,
        }),
    }
}

/// With the lock held: writes this process's note next to `path`. Returns the note a
/// previous writer left, if any: it was killed (its lock went with it) or could not remove
/// it, and it is taken over.
pub fn claim_note(path: &Path) -> Result<Option<LockHolder>, LogError> {
    let stale = holder(path);
    let note = note_path(path);
    let me = me(Utc::now());
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&note)
        .map_err(LogError::io(&note, "write the lock note"))?;
    writeln!(f, "pid={}\nhost={}\nsince={}", me.pid, me.host, me.since)
        .map_err(LogError::io(&note, "write the lock note"))?;
    Ok(stale.filter(|s| *s != me))
}

/// Removes this process's note when it lets the log go (the lock itself goes with the file).
pub fn release_note(path: &Path) {
    if holder(path).is_some_and(|h| h.pid == std::process::id()) {
        let _ = std::fs::remove_file(note_path(path));
    }
}
