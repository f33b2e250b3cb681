//! The writer: creates an incident log (0600, in a 0700 directory), appends events with one
//! write and an fsync before it returns, and reopens a log after a crash, cutting off a torn
//! last line and saying so in the log itself.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::chain::{self, GENESIS, Integrity, LogKey};
use super::error::LogError;
use super::event::{Event, EventKind, Header, format_ts, to_millis};
use super::lock::{self, LockHolder};
use super::redact::Redactor;
use super::state::IncidentState;

/// An open incident log, positioned to append. One writer per file.
#[derive(Debug)]
pub struct IncidentLog {
    path: PathBuf,
    file: File,
    /// Bytes of whole, acknowledged-or-written lines.
    len: u64,
    next_seq: u64,
    last_hash: String,
    last_ts: DateTime<Utc>,
    redactor: Redactor,
    /// Set when a write or fsync failed in a way that leaves the file's tail uncertain.
    poisoned: Option<String>,
    /// A keyed chain's key: every line's hash is an HMAC with it.
    key: Option<LogKey>,
    /// The lock note of a previous writer that was gone when this one took the log over.
    taken_over: Option<LockHolder>,
}

impl Drop for IncidentLog {
    fn drop(&mut self) {
        lock::release_note(&self.path);
    }
}

/// An event that is on disk: written and fsynced.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    pub seq: u64,
    pub hash: String,
    /// The event exactly as written (redacted): what state should be updated from.
    pub event: Event,
}

/// `~/.local/share/drbook/incidents` (the XDG data directory) or its platform equivalent.
pub fn default_dir() -> Result<PathBuf, LogError> {
    directories::ProjectDirs::from("", "", "drbook")
        .map(|d| d.data_dir().join("incidents"))
        .ok_or(LogError::NoDataDir)
}

/// Creates `dir` (and its parents) readable by the owner only, if it does not exist yet.
pub fn ensure_dir(dir: &Path) -> Result<(), LogError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(LogError::io(dir, "create directory"))
}

/// `2026-11-25T01-48-03Z-westeurope-outage.jsonl`: sorts by start time, safe on any filesystem.
pub fn file_name(start: DateTime<Utc>, title: &str) -> String {
    format!(
        "{}-{}.jsonl",
        start.format("%Y-%m-%dT%H-%M-%SZ"),
        slug(title)
    )
}

/// Lowercase ASCII letters and digits joined by single dashes, at most 60 characters.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "incident".into()
    } else {
        out.into()
    }
}

impl IncidentLog {
    /// Creates a new log in `dir` whose first event is `header`, written by its first
    /// operator. Returns once the header and the file's directory entry are on disk.
    pub fn create(dir: &Path, header: Header, redactor: Redactor) -> Result<IncidentLog, LogError> {
        IncidentLog::create_keyed(dir, header, redactor, None)
    }

    /// `create`, with a keyed chain when `key` is given (the header records which key,
    /// never the key itself).
    pub fn create_keyed(
        dir: &Path,
        mut header: Header,
        redactor: Redactor,
        key: Option<LogKey>,
    ) -> Result<IncidentLog, LogError> {
        ensure_dir(dir)?;
        header.keyed = key.as_ref().map(LogKey::chain);
        let header = redactor.redact_header(header);
        let start = to_millis(Utc::now());
        let actor = header
            .operators
            .first()
            .cloned()
            .unwrap_or_else(|| "drbook".into());
        let base = file_name(start, &header.title);
        // The header is written under a hidden temporary name and the log appears under
        // its real name only once the header is on disk: every `*.jsonl` begins whole.
        let partial = dir.join(format!(".{base}.{}.partial", std::process::id()));
        let _ = std::fs::remove_file(&partial); // a leftover of an earlier process with our pid
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .map_err(LogError::io(&partial, "create"))?;
        // Locked before the log has its name: nobody can get in between.
        lock::lock(&file, &partial)?;
        let mut log = IncidentLog {
            path: partial.clone(),
            file,
            len: 0,
            next_seq: 1,
            last_hash: GENESIS.into(),
            last_ts: start,
            redactor,
            poisoned: None,
            key,
            taken_over: None,
        };
        let published = log
            .append(&actor, EventKind::IncidentStarted(header))
            .and_then(|_| publish(&partial, dir, &base));
        let _ = std::fs::remove_file(&partial);
        log.path = published?;
        sync_dir(dir)?;
        log.taken_over = lock::claim_note(&log.path)?;
        Ok(log)
    }

    /// Reopens a log to continue it: verifies it, cuts off a torn last line (and records
    /// that in a `log_recovered` event), and continues the chain. Returns the trusted events,
    /// the recovery event included. An altered or unreadable log is not resumed.
    pub fn open_for_resume(
        path: &Path,
        redactor: Redactor,
    ) -> Result<(IncidentLog, Vec<Event>), LogError> {
        IncidentLog::open_for_resume_keyed(path, redactor, None)
    }

    /// `open_for_resume`; a keyed log needs its `key` (without it, it is not resumed: the
    /// chain could not be checked, nor continued).
    pub fn open_for_resume_keyed(
        path: &Path,
        redactor: Redactor,
        key: Option<LogKey>,
    ) -> Result<(IncidentLog, Vec<Event>), LogError> {
        // Not a regular file (a FIFO would block the read below forever): refused unopened.
        let meta = std::fs::metadata(path).map_err(LogError::io(path, "open"))?;
        if !meta.is_file() {
            return Err(LogError::io(path, "open")(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{}: only a regular file can be resumed",
                    crate::files::file_kind(&meta)
                ),
            )));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(LogError::io(path, "open"))?;
        // Before anything is read or cut off: a torn last line may be another drbook's
        // write in progress.
        lock::lock(&file, path)?;
        let taken_over = lock::claim_note(path)?;
        let bytes = {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut b).map_err(LogError::io(path, "read"))?;
            b
        };
        // A plain log goes on plain whatever key is at hand: one log, one way of hashing.
        let key = if chain::is_keyed(&bytes) { key } else { None };
        let walk = chain::walk_with(&bytes, key.as_ref());
        let mut events = walk.events;
        let Some(last) = events.last() else {
            lock::release_note(path);
            return Err(LogError::NotResumable {
                path: path.into(),
                integrity: walk.integrity,
            });
        };
        let mut log = IncidentLog {
            path: path.into(),
            file,
            len: walk.good_len,
            next_seq: last.seq + 1,
            last_hash: last.hash.clone(),
            last_ts: last.ts,
            redactor,
            poisoned: None,
            key,
            taken_over,
        };
        match walk.integrity {
            Integrity::Intact { .. } => {}
            Integrity::Truncated {
                at_line,
                dropped_bytes,
                ..
            } => {
                if dropped_bytes > 0 {
                    log.file
                        .set_len(walk.good_len)
                        .map_err(LogError::io(path, "cut off the torn last line"))?;
                } else {
                    // The last event is whole but its newline never reached the disk.
                    log.file
                        .write_all(b"\n")
                        .map_err(LogError::io(path, "end the last line"))?;
                    log.len += 1;
                }
                log.file.sync_data().map_err(LogError::io(path, "fsync"))?;
                let recovered = EventKind::LogRecovered {
                    line: at_line as u64,
                    dropped_bytes,
                };
                events.push(log.append("drbook", recovered)?.event);
            }
            Integrity::Unverified { reason, .. } => {
                return Err(LogError::NeedsKey {
                    path: path.into(),
                    reason,
                });
            }
            integrity @ (Integrity::Altered { .. }
            | Integrity::Unreadable { .. }
            | Integrity::NotALog { .. }) => {
                return Err(LogError::NotResumable {
                    path: path.into(),
                    integrity,
                });
            }
        }
        Ok((log, events))
    }

    /// Resumes an incident after a crash: `open_for_resume`, then an `incident_resumed`
    /// event by `by` naming the steps that had started and not finished (from here on
    /// `interrupted`). Returns the log and the incident's state.
    pub fn resume(
        path: &Path,
        by: &str,
        redactor: Redactor,
        reopen: bool,
    ) -> Result<(IncidentLog, IncidentState), LogError> {
        IncidentLog::resume_keyed(path, by, redactor, None, reopen)
    }

    /// `resume`, with the key a keyed log needs.
    pub fn resume_keyed(
        path: &Path,
        by: &str,
        redactor: Redactor,
        key: Option<LogKey>,
        reopen: bool,
    ) -> Result<(IncidentLog, IncidentState), LogError> {
        let (mut log, events) = IncidentLog::open_for_resume_keyed(path, redactor, key)?;
        let mut state = IncidentState::fold(&events);
        if let Some(closed) = state.closed.as_ref().filter(|_| !reopen) {
            return Err(LogError::Closed {
                path: path.into(),
                outcome: closed.outcome,
                at: closed.ts,
            });
        }
        let interrupted = state.unfinished_steps();
        let reopened = state.closed.as_ref().map(|c| c.outcome);
        let appended = log.append(
            by,
            EventKind::IncidentResumed {
                by: by.into(),
                interrupted,
                reopened,
            },
        )?;
        state.apply(&appended.event);
        Ok((log, state))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The note of a previous writer that had gone (killed: its lock went with it) when this
    /// one took the log, for the operator to hear of.
    pub fn taken_over(&self) -> Option<&LockHolder> {
        self.taken_over.as_ref()
    }

    /// The seq the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The hash of the last event on disk (worth quoting in the incident ticket: it pins
    /// the whole log up to there).
    pub fn head(&self) -> &str {
        &self.last_hash
    }

    /// Appends one event: assigns seq, ts, prev and hash, redacts, writes the line with one
    /// write, and fsyncs. Only when this returns `Ok` is the event on disk.
    pub fn append(&mut self, actor: &str, kind: EventKind) -> Result<Appended, LogError> {
        let appended = self.write(actor, kind)?;
        self.sync()?;
        Ok(appended)
    }

    /// Writes one line without fsync; the caller must `sync` before acknowledging it.
    pub(crate) fn write(&mut self, actor: &str, kind: EventKind) -> Result<Appended, LogError> {
        if let Some(cause) = &self.poisoned {
            return Err(LogError::Poisoned {
                path: self.path.clone(),
                cause: cause.clone(),
            });
        }
        let kind = self.redactor.redact_kind(kind);
        let actor = self.redactor.redact(actor).into_owned();
        let ts = to_millis(Utc::now()).max(self.last_ts);
        let seq = self.next_seq;
        let body = chain::body(seq, &format_ts(&ts), &actor, &kind, &self.last_hash)?;
        let (line, hash) = chain::seal_with(&body, self.key.as_ref());
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            self.undo_partial_write(&e);
            return Err(LogError::Io {
                path: self.path.clone(),
                op: "write",
                source: e,
            });
        }
        self.len += line.len() as u64;
        let prev = std::mem::replace(&mut self.last_hash, hash.clone());
        self.next_seq += 1;
        self.last_ts = ts;
        Ok(Appended {
            seq,
            hash: hash.clone(),
            event: Event {
                seq,
                ts,
                actor,
                kind,
                prev,
                hash,
            },
        })
    }

    /// Makes everything written so far durable.
    pub(crate) fn sync(&mut self) -> Result<(), LogError> {
        if let Some(cause) = &self.poisoned {
            return Err(LogError::Poisoned {
                path: self.path.clone(),
                cause: cause.clone(),
            });
        }
        let done = self.file.flush().and_then(|()| self.file.sync_data());
        done.map_err(|e| {
            // After a failed fsync the kernel may have dropped the dirty pages: nothing written
            // since the last good fsync can be trusted, so stop rather than chain onto it.
            self.poisoned = Some(format!("fsync: {e}"));
            LogError::Io {
                path: self.path.clone(),
                op: "fsync",
                source: e,
            }
        })
    }

    /// A failed write (disk full) may have left part of a line: cut it off so the next
    /// append starts on a clean line, or stop taking events if even that fails.
    fn undo_partial_write(&mut self, e: &std::io::Error) {
        let cut = self
            .file
            .set_len(self.len)
            .and_then(|()| self.file.sync_data());
        if let Err(cut) = cut {
            self.poisoned = Some(format!("write: {e}; cutting off the partial line: {cut}"));
        }
    }
}

/// Gives the file at `partial` its real name, `base` or `base` with `-2`, `-3`, ... before
/// `.jsonl` if that exists, never replacing another log.
fn publish(partial: &Path, dir: &Path, base: &str) -> Result<PathBuf, LogError> {
    let stem = base.strip_suffix(".jsonl").unwrap_or(base);
    for n in 1..=1000 {
        let name = if n == 1 {
            base.to_string()
        } else {
            format!("{stem}-{n}.jsonl")
        };
        let path = dir.join(name);
        // A hard link fails if the name is taken, where a rename would replace it.
        match std::fs::hard_link(partial, &path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // Filesystems without hard links: rename, having checked the name is free.
            Err(_) if !path.exists() => {
                std::fs::rename(partial, &path).map_err(LogError::io(&path, "rename"))?;
                return Ok(path);
            }
            Err(e) => {
                return Err(LogError::Io {
                    path,
                    op: "link",
                    source: e,
                });
            }
        }
    }
    Err(LogError::Io {
        path: dir.join(base),
        op: "create",
        source: std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "1000 logs with this name already exist",
        ),
    })
}

/// fsyncs a directory, so a file just created in it survives a power loss.
fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LogError::io(dir, "fsync directory"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::event::tests::sample_header;
    use crate::incident::event::{Outcome, Stream};
    use crate::incident::read::read_log;
    use crate::incident::state::StepStatus;
    use std::os::unix::fs::PermissionsExt;

    fn note(text: &str) -> EventKind {
        EventKind::Note {
            runbook: None,
            step: None,
            text: text.into(),
        }
    }

    fn new_log(dir: &Path) -> IncidentLog {
        IncidentLog::create(dir, sample_header(), Redactor::default()).unwrap()
    }

    #[test]
    fn create_writes_the_header_owner_only_under_a_dated_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("deep/incidents");
        let log = new_log(&dir);
        let name = log
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(name.ends_with("Z-westeurope-down.jsonl"), "{name}");
        assert_eq!(
            name.len(),
            "2026-11-25T01-48-03Z-westeurope-down.jsonl".len(),
            "{name}"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(log.path()), 0o600);
        assert_eq!(mode(&dir), 0o700);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        // The log, and while it is open the note saying who writes it.
        let note = format!(".{name}.lock");
        assert_eq!(
            names.iter().filter(|n| **n != note).count(),
            1,
            "no partial file is left behind: {names:?}"
        );
        assert!(names.contains(&note), "{names:?}");
        let (events, integrity) = read_log(log.path()).unwrap();
        assert_eq!(integrity, Integrity::Intact { events: 1 });
        assert_eq!(
            (
                events[0].seq,
                events[0].prev.as_str(),
                events[0].actor.as_str()
            ),
            (1, GENESIS, "alice")
        );
        assert_eq!(events[0].kind, EventKind::IncidentStarted(sample_header()));
        assert_eq!(log.next_seq(), 2);
        assert_eq!(log.head(), events[0].hash);
    }

    #[test]
    fn a_second_log_in_the_same_second_gets_its_own_file() {
        let tmp = tempfile::tempdir().unwrap();
        let a = new_log(tmp.path());
        let b = new_log(tmp.path());
        assert_ne!(a.path(), b.path());
        let a_name = a.path().file_name().unwrap().to_string_lossy().to_string();
        let b_name = b.path().file_name().unwrap().to_string_lossy().to_string();
        assert!(
            a_name == b_name.replace("-2.jsonl", ".jsonl") || a_name[..20] != b_name[..20],
            "{a_name} {b_name}"
        );
    }

    #[test]
    fn appends_chain_count_and_keep_time_moving_forward() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = new_log(tmp.path());
        let mut last = log.head().to_string();
        for i in 0..20 {
            let a = log.append("alice", note(&format!("n{i}"))).unwrap();
            assert_eq!(a.seq, i + 2);
            assert_eq!(a.event.prev, last);
            assert_eq!(a.hash, a.event.hash);
            last = a.hash;
        }
        let (events, integrity) = read_log(log.path()).unwrap();
        assert_eq!(integrity, Integrity::Intact { events: 21 });
        assert!(events.windows(2).all(|w| w[0].ts <= w[1].ts));
        let bytes = std::fs::read(log.path()).unwrap();
        assert!(
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .all(|l| l.starts_with("{\"seq\":"))
        );
    }

    #[test]
    fn nothing_secret_reaches_the_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = "Pa55-w0rd-very-secret";
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQ.sig_part-1";
        let mut header = sample_header();
        header.target = format!("azure with {secret}");
        let mut log = IncidentLog::create(tmp.path(), header, Redactor::new([secret])).unwrap();
        let kinds = [
            EventKind::OutputLine {
                runbook: "rb".into(),
                step: "st".into(),
                stream: Stream::Stdout,
                line: format!("curl -H 'Authorization: Bearer {jwt}' -d pw={secret}"),
            },
            EventKind::StepFinished {
                runbook: "rb".into(),
                step: "st".into(),
                outcome: Outcome::Failed,
                duration_ms: 3,
                outputs: [("token".to_string(), jwt.to_string())].into(),
                error: Some(format!("login as admin:{secret} failed")),
            },
            note(&format!("{{\"password\":\"{secret}\"}}")),
        ];
        for k in kinds {
            let a = log.append(&format!("ops-{secret}"), k).unwrap();
            assert!(!a.event.kind.to_json().unwrap().contains(secret));
        }
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(
            !text.contains(secret) && !text.contains("eyJ0eXAi") && !text.contains("very-secret"),
            "{text}"
        );
        assert!(text.contains(crate::secrets::MASK));
        assert_eq!(
            read_log(log.path()).unwrap().1,
            Integrity::Intact { events: 4 }
        );
    }

    #[test]
    fn resume_continues_the_chain() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = new_log(tmp.path());
        log.append("alice", note("before")).unwrap();
        let path = log.path().to_path_buf();
        let head = log.head().to_string();
        drop(log);
        let (mut log, events) = IncidentLog::open_for_resume(&path, Redactor::default()).unwrap();
        assert_eq!(events.len(), 2);
        let a = log.append("bob", note("after")).unwrap();
        assert_eq!((a.seq, a.event.prev.as_str()), (3, head.as_str()));
        assert_eq!(read_log(&path).unwrap().1, Integrity::Intact { events: 3 });
    }

    #[test]
    fn resume_cuts_a_torn_line_off_and_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = new_log(tmp.path());
        log.append("alice", note("kept")).unwrap();
        let whole = std::fs::metadata(log.path()).unwrap().len();
        log.append("alice", note("torn by a power cut")).unwrap();
        let path = log.path().to_path_buf();
        drop(log);
        let full = std::fs::read(&path).unwrap();
        for cut in (whole + 1)..(full.len() as u64 - 1) {
            std::fs::write(&path, &full[..cut as usize]).unwrap();
            let (mut log, events) =
                IncidentLog::open_for_resume(&path, Redactor::default()).unwrap();
            assert_eq!(events.len(), 3, "cut at {cut}");
            assert_eq!(
                events[2].kind,
                EventKind::LogRecovered {
                    line: 3,
                    dropped_bytes: cut - whole
                }
            );
            assert_eq!(events[2].seq, 3);
            log.append("bob", note("after")).unwrap();
            let (events, integrity) = read_log(&path).unwrap();
            assert_eq!(integrity, Integrity::Intact { events: 4 }, "cut at {cut}");
            assert_eq!(events[3].prev, events[2].hash);
        }
        // Only the newline lost: the event is whole and kept.
        std::fs::write(&path, &full[..full.len() - 1]).unwrap();
        let (_, events) = IncidentLog::open_for_resume(&path, Redactor::default()).unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(
            events[3].kind,
            EventKind::LogRecovered {
                line: 3,
                dropped_bytes: 0
            }
        );
        assert_eq!(read_log(&path).unwrap().1, Integrity::Intact { events: 4 });
    }

    #[test]
    fn an_altered_or_empty_log_is_not_resumed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = new_log(tmp.path());
        log.append("alice", note("original")).unwrap();
        log.append("alice", note("later")).unwrap();
        let path = log.path().to_path_buf();
        drop(log);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("original", "rewritten");
        std::fs::write(&path, text).unwrap();
        let err = IncidentLog::open_for_resume(&path, Redactor::default()).unwrap_err();
        assert!(matches!(
            &err,
            LogError::NotResumable {
                integrity: Integrity::Altered {
                    first_bad_seq: 2,
                    ..
                },
                ..
            }
        ));
        assert!(
            err.to_string().contains("Start a new incident log"),
            "{err}"
        );
        std::fs::write(&path, "").unwrap();
        assert!(matches!(
            IncidentLog::open_for_resume(&path, Redactor::default()),
            Err(LogError::NotResumable {
                integrity: Integrity::NotALog { .. },
                ..
            })
        ));
        assert!(matches!(
            IncidentLog::open_for_resume(&tmp.path().join("missing.jsonl"), Redactor::default()),
            Err(LogError::Io { op: "open", .. })
        ));
    }

    #[test]
    fn one_writer_per_log_the_second_is_refused_naming_the_first_and_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = new_log(tmp.path());
        log.append("alice", note("mine")).unwrap();
        let path = log.path().to_path_buf();
        let before = std::fs::read(&path).unwrap();
        for second in [
            IncidentLog::open_for_resume(&path, Redactor::default()).map(|_| ()),
            IncidentLog::resume(&path, "bob", Redactor::default(), true).map(|_| ()),
        ] {
            let err = second.unwrap_err();
            let LogError::Locked {
                holder: Some(h), ..
            } = &err
            else {
                panic!("{err}")
            };
            assert_eq!(h.pid, std::process::id());
            let text = err.to_string();
            assert!(
                text.contains(&format!("in use by drbook pid {} on ", h.pid))
                    && text.contains(&format!("since {}", h.since)),
                "{text}"
            );
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the refused one wrote"
        );
        // Reading takes no lock.
        assert!(read_log(&path).is_ok());
        // Let go, it can be taken; nothing stale is left when a writer ends normally.
        drop(log);
        let (again, _) = IncidentLog::open_for_resume(&path, Redactor::default()).unwrap();
        assert_eq!(again.taken_over(), None);
    }

    #[test]
    fn a_closed_incident_is_resumed_only_when_reopened() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = new_log(tmp.path());
        log.append(
            "alice",
            EventKind::IncidentClosed {
                outcome: crate::incident::IncidentOutcome::Failed,
                summary: None,
            },
        )
        .unwrap();
        let path = log.path().to_path_buf();
        drop(log);
        let before = std::fs::read(&path).unwrap();
        let err = IncidentLog::resume(&path, "bob", Redactor::default(), false).unwrap_err();
        assert!(matches!(err, LogError::Closed { .. }), "{err}");
        assert!(
            err.to_string().contains("was closed (failed)") && err.to_string().contains("--reopen"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let (_log, state) = IncidentLog::resume(&path, "bob", Redactor::default(), true).unwrap();
        assert!(
            state.closed.is_none(),
            "reopened: the incident is open again"
        );
    }

    #[test]
    fn resume_marks_the_running_step_interrupted_never_done() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = new_log(tmp.path());
        let started = |step: &str| EventKind::StepStarted {
            runbook: "web-failover".into(),
            step: step.into(),
            title: None,
            attempt: 1,
        };
        log.append("alice", started("confirm-outage")).unwrap();
        log.append(
            "drbook",
            EventKind::StepFinished {
                runbook: "web-failover".into(),
                step: "confirm-outage".into(),
                outcome: Outcome::Ok,
                duration_ms: 10,
                outputs: Default::default(),
                error: None,
            },
        )
        .unwrap();
        log.append("alice", started("shift-traffic")).unwrap();
        let path = log.path().to_path_buf();
        drop(log); // the crash
        let (_log, state) = IncidentLog::resume(&path, "bob", Redactor::default(), false).unwrap();
        assert_eq!(
            state.step("web-failover", "confirm-outage").unwrap().status,
            StepStatus::Done
        );
        assert_eq!(
            state.step("web-failover", "shift-traffic").unwrap().status,
            StepStatus::Interrupted
        );
        assert_eq!(state.resumes.len(), 1);
        assert_eq!(state.operators, ["alice", "bob"]);
        let (events, integrity) = read_log(&path).unwrap();
        assert_eq!(integrity, Integrity::Intact { events: 5 });
        let again = crate::incident::state::IncidentState::fold(&events);
        assert_eq!(again, state, "replay and resume agree");
    }

    /// A log edited and re-chained by someone without the key: a plain-SHA-256 chain after a
    /// keyed header.
    fn rechain_plain(text: &str) -> String {
        let mut prev = GENESIS.to_string();
        let mut out = String::new();
        for line in text.lines() {
            let e = crate::incident::event::Event::decode(line.as_bytes()).unwrap();
            let body = chain::body(
                e.seq,
                &crate::incident::event::format_ts(&e.ts),
                &e.actor,
                &e.kind,
                &prev,
            )
            .unwrap();
            let (l, h) = chain::seal(&body);
            out.push_str(&l);
            prev = h;
        }
        out
    }

    #[test]
    fn a_keyed_chain_needs_its_key_and_catches_a_plain_rechain() {
        use crate::incident::read::read_log_keyed;
        let tmp = tempfile::tempdir().unwrap();
        let raw = "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef";
        let key = LogKey::parse(raw).unwrap();
        let other = LogKey::parse(&"ab".repeat(32)).unwrap();
        assert_ne!(key.id(), other.id());
        let mut log = IncidentLog::create_keyed(
            tmp.path(),
            sample_header(),
            Redactor::default(),
            Some(key.clone()),
        )
        .unwrap();
        log.append("alice", note("failover started")).unwrap();
        log.append("alice", note("failover done")).unwrap();
        let path = log.path().to_path_buf();
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!(
                "\"keyed\":{{\"alg\":\"hmac-sha256\",\"key_id\":\"{}\"}}",
                key.id()
            )),
            "{text}"
        );
        assert!(!text.contains(raw) && !format!("{key:?}").contains(raw));
        let verdict = |k: Option<&LogKey>| read_log_keyed(&path, k).unwrap().1;
        assert_eq!(verdict(Some(&key)), Integrity::Intact { events: 3 });
        let without = verdict(None);
        assert!(
            matches!(&without, Integrity::Unverified { events: 3, .. }),
            "{without:?}"
        );
        assert!(
            without
                .to_string()
                .starts_with("keyed: not verified without DRBOOK_LOG_KEY"),
            "{without}"
        );
        assert!(!without.is_trustworthy());
        assert!(
            verdict(Some(&other))
                .to_string()
                .contains("is not this log's key"),
            "{}",
            verdict(Some(&other))
        );
        // Edited and re-chained with plain SHA-256: the key tells.
        let forged = rechain_plain(&text.replace("failover done", "failover skipped"));
        assert!(forged.contains("\"keyed\""));
        std::fs::write(&path, &forged).unwrap();
        assert!(
            matches!(
                verdict(Some(&key)),
                Integrity::Altered {
                    first_bad_seq: 1,
                    ..
                }
            ),
            "{:?}",
            verdict(Some(&key))
        );
        assert!(
            chain::verify(forged.as_bytes()) != Integrity::Intact { events: 3 },
            "without the key a keyed log is never called intact"
        );
        // The key stripped from the header and everything re-chained: a plain log, which
        // who holds the key does not take for intact.
        let stripped = rechain_plain(&text.replace(
            &format!(
                ",\"keyed\":{{\"alg\":\"hmac-sha256\",\"key_id\":\"{}\"}}",
                key.id()
            ),
            "",
        ));
        std::fs::write(&path, &stripped).unwrap();
        let got = verdict(Some(&key));
        assert!(
            matches!(
                &got,
                Integrity::Unverified {
                    events: 3,
                    keyed: false,
                    ..
                }
            ),
            "{got:?}"
        );
        assert!(
            got.to_string()
                .starts_with("NOT KEYED, though DRBOOK_LOG_KEY is set"),
            "{got}"
        );
        assert_eq!(verdict(None), Integrity::Intact { events: 3 });
        // Resume needs the key, and goes on keyed.
        std::fs::write(&path, &text).unwrap();
        let err = IncidentLog::open_for_resume(&path, Redactor::default()).unwrap_err();
        assert!(matches!(err, LogError::NeedsKey { .. }), "{err}");
        assert!(err.to_string().contains("set DRBOOK_LOG_KEY"), "{err}");
        let (mut log, events) =
            IncidentLog::open_for_resume_keyed(&path, Redactor::default(), Some(key.clone()))
                .unwrap();
        assert_eq!(events.len(), 3);
        log.append("bob", note("after the resume")).unwrap();
        assert_eq!(verdict(Some(&key)), Integrity::Intact { events: 4 });
    }

    #[test]
    fn log_keys_are_read_from_hex_or_base64_and_never_quoted() {
        let hex = "00112233445566778899aabbccddeeff";
        let b64 = "ABEiM0RVZneImaq7zN3u/w==";
        let a = LogKey::parse(hex).unwrap();
        assert_eq!(a.id(), LogKey::parse(b64).unwrap().id());
        assert_eq!(a.id(), LogKey::parse(&format!("{hex}\n")).unwrap().id());
        for bad in ["", "short", "00112233", "not base64 at all!!!!!!!!!!"] {
            let e = LogKey::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("DRBOOK_LOG_KEY "), "{e}");
            assert!(bad.is_empty() || !e.contains(bad), "{e}");
        }
    }

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("West Europe: DOWN (again)!"), "west-europe-down-again");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("日本"), "incident");
        assert_eq!(slug(&"x".repeat(500)).len(), 60);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_async_handle_acknowledges_after_fsync_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let log = new_log(tmp.path());
        let path = log.path().to_path_buf();
        let handle = crate::incident::LogHandle::spawn(log).unwrap();
        let mut tasks = Vec::new();
        for t in 0..8 {
            let h = handle.clone();
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..25 {
                    let a = h
                        .append(format!("op{t}"), note(&format!("{t}/{i}")))
                        .await
                        .unwrap();
                    seqs.push(a.seq);
                }
                seqs
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            let seqs = t.await.unwrap();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "one task's events stay in its order"
            );
            all.extend(seqs);
        }
        all.sort_unstable();
        assert_eq!(all, (2..=201).collect::<Vec<u64>>());
        let log = handle.close().await.unwrap();
        assert_eq!(log.next_seq(), 202);
        assert_eq!(
            read_log(&path).unwrap().1,
            Integrity::Intact { events: 201 }
        );
    }
}
