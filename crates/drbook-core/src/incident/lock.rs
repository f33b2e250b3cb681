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

use chrono::{DateTime, Utc};

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
        since: crate::time::rfc3339_secs(now),
    }
}

/// The holder named by the note, given a moment to appear: the holder takes the lock first and
/// writes its note just after, so a refusal in between would otherwise name nobody (or the
/// note of a killed earlier holder). Only on the refusal path, at most about a second.
fn live_holder(path: &Path) -> Option<LockHolder> {
    let alive = |pid: u32| {
        i32::try_from(pid)
            .is_ok_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok())
    };
    let mut last = None;
    for _ in 0..40 {
        last = holder(path);
        if last.as_ref().is_some_and(|h| alive(h.pid)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    last
}

/// Takes the exclusive lock on `file` (the log at `path`) without waiting: another drbook
/// holding it is an error naming it.
pub fn lock(file: &File, path: &Path) -> Result<(), LogError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(LogError::Locked {
            path: path.into(),
            holder: live_holder(path),
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
    // Written beside and renamed over: a reader never sees a half-written note.
    let tmp = note.with_file_name(format!(
        "{}.{}",
        note.file_name()
            .map_or_else(|| "note".into(), |n| n.to_string_lossy().into_owned()),
        me.pid
    ));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(LogError::io(&tmp, "write the lock note"))?;
    writeln!(f, "pid={}\nhost={}\nsince={}", me.pid, me.host, me.since)
        .map_err(LogError::io(&tmp, "write the lock note"))?;
    drop(f);
    std::fs::rename(&tmp, &note).map_err(LogError::io(&note, "write the lock note"))?;
    Ok(stale.filter(|s| *s != me))
}

/// Removes this process's note when it lets the log go (the lock itself goes with the file).
pub fn release_note(path: &Path) {
    if holder(path).is_some_and(|h| h.pid == std::process::id()) {
        let _ = std::fs::remove_file(note_path(path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal that comes between the holder taking the lock and writing its note still
    /// names the holder: the note is waited for (the race a loaded CI machine once hit).
    #[test]
    fn a_refusal_waits_for_the_holders_note() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("incident.jsonl");
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(200));
                claim_note(&log).map(|_| ())
            })
        };
        let h = live_holder(&log);
        assert!(matches!(writer.join(), Ok(Ok(()))));
        assert_eq!(h.map(|h| h.pid), Some(std::process::id()));
        // Written whole, under its own name only: no temporary file is left beside it.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        assert_eq!(names, [".incident.jsonl.lock"]);
    }
}
