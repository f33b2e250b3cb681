//! Rollbacks (`on_failure = "rollback"`, and those a crash interrupted), and the verifiers
//! that settle, on resume, whether an interrupted change happened.

use super::*;

/// The longest a verifier's single read on resume may take before the interrupted change it
/// verifies is confirmed again instead.
const VERIFY_ON_RESUME: Duration = Duration::from_secs(60);

impl Engine {
    /// A failed step with `on_failure = "rollback"` starts its rollback, once per incident.
    pub(super) async fn roll_back_if_asked(
        &mut self,
        key: &StepKey,
        outcome: Outcome,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let Some((rb, step)) = self.step(key) else {
            return Ok(());
        };
        let Some(rollback) = step.rollback.as_ref().map(|r| r.get_ref().clone()) else {
            return Ok(());
        };
        if outcome != Outcome::Failed
            || step.on_failure.as_ref().map(|o| *o.get_ref()) != Some(OnFailure::Rollback)
            || !rb.rollbacks.iter().any(|r| r.id.get_ref() == &rollback)
        {
            return Ok(());
        }
        let rk = StepKey::new(key.runbook.clone(), rollback.clone());
        if !self.rollbacks_run.insert(rk.clone()) {
            return self
                .record(
                    ExecEvent::Note {
                        key: Some(key.clone()),
                        text: format!(
                            "rollback `{rollback}` has already run in this incident: it is not run again"
                        ),
                        by: "drbook".into(),
                    },
                    updates,
                )
                .await;
        }
        self.record(
            ExecEvent::RollbackStarted {
                key: key.clone(),
                rollback,
            },
            updates,
        )
        .await?;
        self.start(rk, work, updates).await
    }

    /// On resume: a rollback that a failed step asked for and that had not begun, or had not
    /// finished, when drbook stopped is started now (an interrupted one is confirmed again),
    /// as the uninterrupted run would have. Nothing to do on a fresh run.
    pub(super) async fn resume_rollbacks(
        &mut self,
        work: &mut Work,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<(), String> {
        let mut failed: Vec<StepKey> = self
            .progress
            .iter()
            .filter(|(_, p)| **p == Progress::Failed)
            .map(|(k, _)| k.clone())
            .collect();
        failed.sort();
        for key in failed {
            let Some(rollback) = self
                .step(&key)
                .filter(|(_, s)| {
                    s.on_failure.as_ref().map(|o| *o.get_ref()) == Some(OnFailure::Rollback)
                })
                .and_then(|(_, s)| s.rollback.map(|r| r.into_inner()))
            else {
                continue;
            };
            let rk = StepKey::new(key.runbook.clone(), rollback);
            if !self.rollbacks_run.contains(&rk) {
                self.roll_back_if_asked(&key, Outcome::Failed, work, updates)
                    .await?;
            } else if self.progress_of(&rk) == Progress::NotStarted && self.is_rollback(&rk) {
                // Restored as begun and unfinished (see `restore`).
                self.start(rk, work, updates).await?;
            }
        }
        Ok(())
    }

    /// On resume, before an interrupted change is confirmed again and re-sent: reads its
    /// verifiers once each (no polling), each read logged against the change. When every one
    /// holds, the change happened before the interruption (a failover Azure finished while
    /// drbook was down): their ids, and the change is not sent again. None when there is no
    /// verifier or one does not hold (or cannot be read): the change is confirmed again, as
    /// before. The engine waits for these few reads, once per interrupted step.
    pub(super) async fn verified_on_resume(
        &self,
        rb: &Runbook,
        key: &StepKey,
        updates: &mpsc::UnboundedSender<Update>,
    ) -> Result<Option<String>, String> {
        let scope = self.scopes.get(&key.runbook).cloned().unwrap_or_default();
        let Some((_, change)) = self.step(key) else {
            return Ok(None);
        };
        // Only reads of what the change wrote say whether it happened: a probe after it (the
        // registry answers) holds whether the change was made or refused.
        let verifiers: Vec<&Step> = crate::checks::run::verifiers_of(rb, &key.step)
            .into_iter()
            .filter(|v| reads_what_it_changed(&change, v, &scope))
            .collect();
        if verifiers.is_empty() {
            return Ok(None);
        }
        let mut ids = Vec::new();
        for v in verifiers {
            let vid = v.id.get_ref().clone();
            let limit = steps::timeout_of(v).min(VERIFY_ON_RESUME);
            let Ok(r) = tokio::time::timeout(limit, self.reader.read(v, &scope, None)).await else {
                self.record(
                    ExecEvent::Note {
                        key: Some(key.clone()),
                        text: format!(
                            "resume: verifier `{vid}` did not answer within {}s; the change is confirmed again",
                            limit.as_secs()
                        ),
                        by: "drbook".into(),
                    },
                    updates,
                )
                .await?;
                return Ok(None);
            };
            self.record(
                ExecEvent::CheckResult {
                    key: key.clone(),
                    expected: r.expected.clone(),
                    actual: r.actual.clone(),
                    verdict: r.verdict.as_str().to_string(),
                    source: format!("verifier `{vid}` read once on resume: {}", r.target),
                    latency_ms: r.latency.as_millis() as u64,
                },
                updates,
            )
            .await?;
            if r.verdict != crate::checks::read::Verdict::Pass {
                return Ok(None);
            }
            ids.push(vid);
        }
        Ok(Some(ids.join("`, `")))
    }

    /// Why a check, probe or wait after a change has nothing to verify: the change it
    /// verifies was declined or could not be claimed, so polling for its effect would only
    /// run into the step's own timeout. (A change skipped by its condition may have nothing
    /// left to do: what follows it still verifies the state.)
    pub(super) fn verifies_what_did_not_happen(
        &self,
        rb: &Runbook,
        step: &Step,
        key: &StepKey,
    ) -> Option<String> {
        let (id, _) = crate::checks::run::change_before(rb, step)?;
        let ck = StepKey::new(key.runbook.clone(), id.clone());
        if self.progress_of(&ck) != Progress::Skipped {
            return None;
        }
        let why = self.skip_reasons.get(&ck)?;
        (why.starts_with("declined by") || why.starts_with("not claimed"))
            .then(|| format!("verifies `{id}`, which did not happen: {why}"))
    }
}

/// Does `verifier` read the ARM resource `change` wrote: the same id, or the resource an
/// action such as `.../storageAccounts/x/failover` acts on (ids compared without case, queries
/// ignored)? Commands, probes and graph queries never qualify: nothing ties them to the write.
fn reads_what_it_changed(change: &Step, verifier: &Step, scope: &Scope) -> bool {
    if *change.kind.get_ref() != StepKind::Action
        || !matches!(verifier.kind.get_ref(), StepKind::Check | StepKind::Storage)
    {
        return false;
    }
    let id = |s: &Step| {
        let raw = s.resource.as_ref()?.get_ref();
        let text = scope.render(raw).ok()?;
        let path = text.split('?').next().unwrap_or_default();
        Some(path.trim_end_matches('/').to_ascii_lowercase())
    };
    let (Some(wrote), Some(read)) = (id(change), id(verifier)) else {
        return false;
    };
    wrote == read
        || wrote
            .strip_prefix(&read)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|action| !action.is_empty() && !action.contains('/'))
}
