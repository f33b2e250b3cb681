//! The engine's events written to the incident log: each `record` returns once the event is
//! fsynced, so nothing is shown before it is on disk.

use crate::exec::engine::{ExecEvent, Recorder};
use crate::exec::steps::Outcome;
use drbook_core::incident::{
    EventKind, LogHandle, Outcome as LogOutcome, Stream as LogStream, Verdict as LogVerdict,
};

pub struct LogRecorder {
    log: LogHandle,
    /// Who acts when the engine does something by itself (the autopilot, a condition).
    engine_actor: String,
}

impl LogRecorder {
    pub fn new(log: LogHandle, engine_actor: impl Into<String>) -> LogRecorder {
        LogRecorder {
            log,
            engine_actor: engine_actor.into(),
        }
    }

    pub async fn close(self) -> Result<(), String> {
        self.log
            .close()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub fn handle(&self) -> &LogHandle {
        &self.log
    }
}

fn outcome(o: Outcome) -> LogOutcome {
    match o {
        Outcome::Ok => LogOutcome::Ok,
        Outcome::Failed => LogOutcome::Failed,
        Outcome::Skipped => LogOutcome::Skipped,
    }
}

/// The log event for an engine event, and who did it; `None` for what the log already implies
/// (a manual step waiting for its operator is its `step_started`).
pub fn to_log(ev: &ExecEvent, engine: &str) -> Option<(String, Vec<EventKind>)> {
    let me = engine.to_string();
    let (actor, kinds) = match ev.clone() {
        ExecEvent::StepStarted {
            key,
            attempt,
            title,
            ..
        } => (
            me,
            vec![EventKind::StepStarted {
                runbook: key.runbook,
                step: key.step,
                title: Some(title),
                attempt,
            }],
        ),
        ExecEvent::ConfirmationRequested { key, what } => (
            me,
            vec![EventKind::ConfirmationRequested {
                runbook: key.runbook,
                step: key.step,
                prompt: what,
            }],
        ),
        ExecEvent::Confirmed { key, by, yes, auto } => {
            let by = if auto {
                format!("{by} (--auto-approve)")
            } else {
                by
            };
            (
                by.clone(),
                vec![EventKind::Confirmed {
                    runbook: key.runbook,
                    step: key.step,
                    by,
                    approved: yes,
                }],
            )
        }
        ExecEvent::WaitingForOperator { .. } => return None,
        ExecEvent::ApprovalRequested {
            key,
            operator,
            what,
        } => (
            me,
            vec![EventKind::ApprovalRequested {
                runbook: key.runbook,
                step: key.step,
                operator,
                prompt: what,
            }],
        ),
        ExecEvent::Approved {
            key,
            by,
            role,
            yes,
            keyboard,
        } => (
            by.clone(),
            vec![EventKind::Approved {
                runbook: key.runbook,
                step: key.step,
                by,
                role,
                approved: yes,
                keyboard,
            }],
        ),
        ExecEvent::RoleTaken { who, role } => (
            who.clone(),
            vec![EventKind::RoleTaken {
                operator: who,
                role,
            }],
        ),
        ExecEvent::OutputLine { key, stream, line } => {
            let stream = match stream {
                crate::exec::command::Stream::Stdout => LogStream::Stdout,
                crate::exec::command::Stream::Stderr => LogStream::Stderr,
            };
            (
                me,
                vec![EventKind::OutputLine {
                    runbook: key.runbook,
                    step: key.step,
                    stream,
                    line,
                }],
            )
        }
        ExecEvent::CheckResult {
            key,
            expected,
            actual,
            verdict,
            source,
            latency_ms,
        } => {
            let verdict = match verdict.as_str() {
                "PASS" => LogVerdict::Pass,
                "FAIL" => LogVerdict::Fail,
                "FINDING" => LogVerdict::Finding,
                _ => LogVerdict::Error,
            };
            (
                me,
                vec![EventKind::CheckResult {
                    runbook: key.runbook,
                    step: key.step,
                    expected,
                    actual,
                    verdict,
                    source,
                    latency_ms,
                }],
            )
        }
        ExecEvent::StepFinished {
            key,
            outcome: o,
            summary,
            mut outputs,
            duration_ms,
            note,
            by,
        } => {
            let mut kinds = Vec::new();
            if let Some(text) = note {
                kinds.push(EventKind::Note {
                    runbook: Some(key.runbook.clone()),
                    step: Some(key.step.clone()),
                    text,
                });
            }
            let error = (o == Outcome::Failed).then(|| summary.clone());
            if o != Outcome::Failed {
                outputs.insert("summary".into(), summary);
            }
            // Only an assessment has a `finding` output (`validate` reserves the name): it
            // is logged as a finding, which no reader takes for a failure.
            let logged = if o == Outcome::Ok && outputs.contains_key("finding") {
                LogOutcome::Finding
            } else {
                outcome(o)
            };
            kinds.push(EventKind::StepFinished {
                runbook: key.runbook,
                step: key.step,
                outcome: logged,
                duration_ms,
                outputs,
                error,
            });
            (by.unwrap_or(me), kinds)
        }
        ExecEvent::StepSkipped { key, reason, by } => (
            by.unwrap_or(me),
            vec![EventKind::StepSkipped {
                runbook: key.runbook,
                step: key.step,
                reason,
            }],
        ),
        ExecEvent::Retry {
            key,
            attempt,
            reason,
        } => (
            me,
            vec![EventKind::Retry {
                runbook: key.runbook,
                step: key.step,
                attempt,
                reason,
                delay_ms: 0,
            }],
        ),
        ExecEvent::RollbackStarted { key, rollback } => (
            me,
            vec![EventKind::RollbackStarted {
                runbook: key.runbook,
                reason: Some(format!("`{}` failed: running `{rollback}`", key.step)),
            }],
        ),
        ExecEvent::AbortRequested { key, by } => (
            by,
            vec![EventKind::AbortRequested {
                reason: Some(format!("abort {key}")),
            }],
        ),
        ExecEvent::Note { key, text, by } => {
            let (runbook, step) = key.map(|k| (k.runbook, k.step)).unzip();
            (
                by,
                vec![EventKind::Note {
                    runbook,
                    step,
                    text,
                }],
            )
        }
        ExecEvent::OutageStart { at, previous, by } => {
            (by, vec![EventKind::OutageStart { at, previous }])
        }
        ExecEvent::Paused { by } => (by, vec![EventKind::Paused { reason: None }]),
        ExecEvent::Resumed { by } => (by, vec![EventKind::Resumed {}]),
        ExecEvent::Claimed {
            key,
            from,
            by,
            offline,
        } => (
            by,
            vec![EventKind::StepClaimed {
                runbook: key.runbook,
                step: key.step,
                from,
                offline,
            }],
        ),
        ExecEvent::ClaimRefused {
            key,
            holder,
            reason,
            by,
        } => (
            by,
            vec![EventKind::ClaimRefused {
                runbook: key.runbook,
                step: key.step,
                holder,
                reason,
            }],
        ),
    };
    Some((actor, kinds))
}

#[async_trait::async_trait]
impl Recorder for LogRecorder {
    async fn record(&self, ev: &ExecEvent) -> Result<(), String> {
        let Some((actor, kinds)) = to_log(ev, &self.engine_actor) else {
            return Ok(());
        };
        for kind in kinds {
            self.log
                .append(actor.clone(), kind)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
