//! The log for async code: a writer thread owns the `IncidentLog`; `LogHandle::append`
//! sends it an event and resolves only after the event is fsynced, so the UI never blocks on
//! the disk yet never shows what is not on it. Events that arrive together share one fsync.

use tokio::sync::{mpsc, oneshot};

use super::error::LogError;
use super::event::{Event, EventKind};
use super::log::{Appended, IncidentLog};

/// Events queued beyond this make `append` wait (back-pressure, not loss).
const QUEUE: usize = 1024;
/// At most this many queued events are written before one fsync acknowledges them all.
const BATCH: usize = 256;

type Ack = oneshot::Sender<Result<Appended, LogError>>;

enum Request {
    Append {
        actor: String,
        // Boxed: the header is far larger than every other kind.
        kind: Box<EventKind>,
        ack: Ack,
    },
    Close {
        ack: oneshot::Sender<IncidentLog>,
    },
}

/// A cloneable handle to the writer thread.
#[derive(Debug, Clone)]
pub struct LogHandle {
    tx: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Append { kind, .. } => write!(f, "Append({})", kind.name()),
            Request::Close { .. } => f.write_str("Close"),
        }
    }
}

impl LogHandle {
    /// Moves `log` to its own writer thread (fsync blocks; it must not block the runtime's
    /// workers). Needs no runtime to start.
    pub fn spawn(log: IncidentLog) -> Result<LogHandle, LogError> {
        LogHandle::spawn_tapped(log, None)
    }

    /// As `spawn`, and every event, once fsynced and before its writer hears so, is also sent
    /// to `tap`: a screen that folds what it receives shows exactly what is on disk, in order.
    pub fn spawn_tapped(
        log: IncidentLog,
        tap: Option<mpsc::UnboundedSender<Event>>,
    ) -> Result<LogHandle, LogError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let path = log.path().to_path_buf();
        std::thread::Builder::new()
            .name("drbook-incident-log".into())
            .spawn(move || run(log, rx, tap))
            .map_err(LogError::io(path, "start the log writer"))?;
        Ok(LogHandle { tx })
    }

    /// Appends `kind` by `actor`; resolves once it is on disk.
    pub async fn append(
        &self,
        actor: impl Into<String>,
        kind: EventKind,
    ) -> Result<Appended, LogError> {
        let (ack, done) = oneshot::channel();
        let req = Request::Append {
            actor: actor.into(),
            kind: Box::new(kind),
            ack,
        };
        self.tx.send(req).await.map_err(|_| LogError::WriterGone)?;
        done.await.map_err(|_| LogError::WriterGone)?
    }

    /// Stops the writer once everything queued before is written, and hands the log back.
    pub async fn close(self) -> Result<IncidentLog, LogError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Request::Close { ack })
            .await
            .map_err(|_| LogError::WriterGone)?;
        done.await.map_err(|_| LogError::WriterGone)
    }
}

fn run(
    mut log: IncidentLog,
    mut rx: mpsc::Receiver<Request>,
    tap: Option<mpsc::UnboundedSender<Event>>,
) {
    let mut pending: Vec<(Ack, Result<Appended, LogError>)> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        let mut close = None;
        while let Some(req) = next.take() {
            match req {
                Request::Append { actor, kind, ack } => {
                    let written = log.write(&actor, *kind);
                    pending.push((ack, written));
                }
                Request::Close { ack } => {
                    close = Some(ack);
                    break;
                }
            }
            if pending.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if pending.iter().any(|(_, w)| w.is_ok())
            && let Err(e) = log.sync()
        {
            let cause = e.to_string();
            for (_, w) in pending.iter_mut().filter(|(_, w)| w.is_ok()) {
                *w = Err(LogError::Poisoned {
                    path: log.path().into(),
                    cause: cause.clone(),
                });
            }
        }
        for (ack, result) in pending.drain(..) {
            if let (Some(tap), Ok(a)) = (&tap, &result) {
                let _ = tap.send(a.event.clone());
            }
            // The caller may have stopped waiting; the event is on disk all the same.
            let _ = ack.send(result);
        }
        if let Some(ack) = close {
            let _ = ack.send(log);
            return;
        }
    }
}
