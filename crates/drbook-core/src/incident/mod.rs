//! The incident log: the source of truth of an incident. Owns the event types (`event`),
//! the append-only, fsynced, redacted JSONL writer (`log`, and `handle` for async callers),
//! the hash chain and its verification (`chain`), reading back (`read`), and the fold of
//! events into incident state (`state`) that resume and replay share.

pub mod chain;
pub mod error;
pub mod event;
pub mod handle;
pub mod lock;
pub mod log;
pub mod read;
pub mod redact;
pub mod state;
pub mod wording;

pub use chain::{Head, Integrity, LogKey, verify, verify_file};
pub use error::LogError;
pub use event::{
    CleanupStep, Event, EventKind, Header, IncidentOutcome, Mode, Outcome, RehearsalLevel,
    RunbookRef, StepRef, Stream, Verdict,
};
pub use handle::LogHandle;
pub use lock::LockHolder;
pub use log::{Appended, IncidentLog, default_dir, ensure_dir};
pub use read::{read_log, read_log_keyed};
pub use redact::Redactor;
pub use state::{IncidentState, StepState, StepStatus};
