//! Claims on the shared timeline: a step that changes something is claimed before it starts,
//! the answer comes back in the run loop, and a headless run waits a while for a share that
//! is down.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::*;

/// A headless run whose share is offline tries a claim again this often, until its
/// `claim_wait` is over; then it skips the step.
const CLAIM_RETRY: Duration = Duration::from_secs(3);

impl Engine {
    /// The operator asked for an explicit claim (a takeover, or a run without the share).
    pub(super) fn claim_on_request(&mut self, key: StepKey, mode: ClaimMode, work: &mut Work) {
        if self.progress_of(&key) == Progress::NotStarted
            && self.ready().contains(&key)
            && self.options.share.is_some()
        {
            self.request_claim(key, mode, work);
        }
    }

    /// Asks the share for the step; the answer comes back in the run loop, so the engine
    /// keeps running other steps while the share is slow or down.
    pub(super) fn request_claim(&mut self, key: StepKey, mode: ClaimMode, work: &mut Work) {
        self.claim_after(key, mode, Duration::ZERO, work);
    }

    pub(super) fn claim_after(
        &mut self,
        key: StepKey,
        mode: ClaimMode,
        wait: Duration,
        work: &mut Work,
    ) {
        let Some(share) = self.options.share.clone() else {
            return;
        };
        self.progress.insert(key.clone(), Progress::Active);
        work.claims.spawn(async move {
            tokio::time::sleep(wait).await;
            let outcome = share.claim(key.clone(), mode == ClaimMode::Takeover).await;
            (key, mode, outcome)
        });
    }

    pub(super) async fn claim_answered(
        &mut self,
        key: StepKey,
        mode: ClaimMode,
        outcome: crate::share::ClaimOutcome,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        use crate::share::ClaimOutcome;
        // With nobody at the keyboard, a share that is briefly down is waited for (the step
        // stays unclaimed and unstarted meanwhile), for `claim_wait`; then the step is skipped.
        if self.options.autopilot
            && mode == ClaimMode::Normal
            && let ClaimOutcome::Offline(why) = &outcome
        {
            let since = *self
                .claim_since
                .entry(key.clone())
                .or_insert_with(Instant::now);
            let left = self.options.claim_wait.saturating_sub(since.elapsed());
            if !left.is_zero() {
                let _ = updates.send(Update::Progress {
                    key: key.clone(),
                    text: format!(
                        "waiting up to {}s more for the share to claim it: {why}",
                        left.as_secs()
                    ),
                });
                self.claim_after(key, mode, CLAIM_RETRY.min(left), work);
                return Ok(());
            }
        }
        self.claim_since.remove(&key);
        self.progress.insert(key.clone(), Progress::NotStarted);
        let by = self.options.operator.clone();
        let granted = match outcome {
            ClaimOutcome::Granted { from } => Ok((from, false)),
            ClaimOutcome::Offline(_) if mode == ClaimMode::OrOffline => Ok((None, true)),
            ClaimOutcome::HeldBy(h) => Err((
                Some(h.op.clone()),
                format!(
                    "{} holds it since {} UTC; taking it over must be explicit",
                    h.op,
                    h.since.format("%H:%M:%S")
                ),
            )),
            ClaimOutcome::Offline(why) => Err((
                None,
                format!("the share is offline, so the step cannot be claimed: {why}"),
            )),
        };
        let (holder, reason) = match granted {
            Ok((from, offline)) => {
                self.claimed.insert(key.clone());
                self.record(
                    ExecEvent::Claimed {
                        key: key.clone(),
                        from,
                        by,
                        offline,
                    },
                    updates,
                )
                .await?;
                return self.start(key, work, updates).await;
            }
            Err(refused) => refused,
        };
        self.record(
            ExecEvent::ClaimRefused {
                key: key.clone(),
                holder,
                reason: reason.clone(),
                by,
            },
            updates,
        )
        .await?;
        if self.options.autopilot {
            // Nobody is there to take it over: leave it to whoever holds it.
            self.skip(key, format!("not claimed: {reason}"), None, updates)
                .await?;
        }
        Ok(())
    }
}
