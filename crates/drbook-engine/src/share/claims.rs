//! What the engine and a shared timeline ask of each other, as the engine sees it: claims on
//! steps (`Claims`), and what other operators' records ask of this drbook's engine
//! (`Request`). The share implements `Claims`; the engine knows only the trait, so neither
//! reaches into the other's internals.

use tokio::sync::mpsc;

use super::sync::Holder;
use drbook_core::roles::Role;
use drbook_core::runbook::plan::StepKey;

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This drbook holds the step (`from`: whose claim it took over).
    Granted { from: Option<String> },
    /// Someone else does; taking it over must be explicit.
    HeldBy(Holder),
    /// The share cannot be reached, so no claim can be made or checked.
    Offline(String),
}

/// What someone else's record on the shared timeline asks of this drbook's engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `who` holds `role` from now on.
    TakeRole { who: String, role: Role },
    /// A commander's approval (or refusal) of a two-person step, given at their own drbook.
    Approve {
        key: StepKey,
        by: String,
        role: Role,
        yes: bool,
    },
}

/// Claims on steps that change things, so two operators never run the same one.
#[async_trait::async_trait]
pub trait Claims: Send + Sync {
    /// Claims `key` for this drbook (`takeover`: taking someone else's claim over).
    async fn claim(&self, key: StepKey, takeover: bool) -> ClaimOutcome;
    /// What others' records ask of this engine from now on (roles taken before included).
    fn requests(&self) -> mpsc::UnboundedReceiver<Request>;
}

#[async_trait::async_trait]
impl Claims for super::ShareHandle {
    async fn claim(&self, key: StepKey, takeover: bool) -> ClaimOutcome {
        super::ShareHandle::claim(self, key, takeover).await
    }

    fn requests(&self) -> mpsc::UnboundedReceiver<Request> {
        super::ShareHandle::requests(self)
    }
}

// The engine's options are printed in debugging; the share's state is not theirs to print.
impl std::fmt::Debug for dyn Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Claims")
    }
}
