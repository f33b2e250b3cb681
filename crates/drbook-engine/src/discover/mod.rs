//! `drbook discover`: reads an estate through Resource Graph, recognises the components whose
//! disaster recovery drbook knows, pairs each resource in the primary region with its
//! counterpart in the secondary (saying which rule matched), lists the gaps as findings and
//! gives a coarse readiness verdict (which RTO/RPO the estate can meet) per component.
//!
//! - `inventory`: one paged query on `Resources`, one on `ResourceContainers`.
//! - `regions`: Azure's paired regions (the secondary's default) and region short codes.
//! - `pairing`: components and the pairing rules, tried in order.
//! - `findings`: the gaps and the readiness verdicts, with the Microsoft docs they rest on.
//! - `render`: text and Markdown (JSON is `Discovery`'s serialisation).

pub mod findings;
pub mod inventory;
pub mod pairing;
pub mod regions;
pub mod render;

use std::collections::BTreeMap;

use serde::Serialize;

use drbook_azure::ArmClient;

pub use findings::{Finding, Readiness, Severity};
pub use inventory::{Inventory, Resource, Scope};

/// What to discover.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub scope: Scope,
    pub primary: String,
    /// Default: Azure's paired region of `primary`.
    pub secondary: Option<String>,
}

/// One component: the resources of one kind of workload and their pairs, and what a runbook
/// generated for it needs (`vars`, named as the shipped runbooks name their `[vars]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// web | function | logic | aks | data-sql | data-cosmos | data-storage | network | acr |
    /// servicebus | keyvault | pipelines
    pub component: String,
    /// The runbook id for it (the shipped runbook's id where drbook ships one).
    pub runbook: String,
    pub resources: Vec<String>,
    /// `(primary id, secondary id)`; the same id twice for a resource that spans both regions
    /// (Cosmos DB, geo-redundant storage).
    pub pairs: Vec<(String, String)>,
    /// The rule that made each pair, parallel to `pairs`.
    #[serde(skip)]
    pub rules: Vec<String>,
    #[serde(skip)]
    pub vars: BTreeMap<String, String>,
}

impl Component {
    /// The rule that paired `primary`, if it is paired.
    pub fn rule_of(&self, primary: &str) -> Option<&str> {
        self.pairs
            .iter()
            .position(|(p, _)| p.eq_ignore_ascii_case(primary))
            .and_then(|i| self.rules.get(i))
            .map(String::as_str)
    }
}

/// The result of a discovery. Serialises to the JSON of `drbook discover --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    /// The subscriptions read, comma-separated.
    pub subscription: String,
    pub primary: String,
    pub secondary: String,
    /// How many resources Resource Graph listed.
    pub resources: usize,
    pub components: Vec<Component>,
    pub findings: Vec<Finding>,
    /// Resources no component covers.
    pub uncovered: Vec<String>,
    #[serde(skip)]
    pub readiness: Vec<Readiness>,
}

impl Discovery {
    /// Whether any finding is critical (exit 1).
    pub fn has_critical(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Critical)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Read(#[from] inventory::ReadError),
}

impl DiscoverError {
    /// A sign-in or permission error (exit 2 like usage), as opposed to Azure failing.
    pub fn is_auth(&self) -> bool {
        matches!(self, DiscoverError::Read(inventory::ReadError::Azure(e)) if e.is_auth())
    }
}

/// The primary and secondary regions of `opts`, checked.
pub fn regions_of(opts: &Options) -> Result<(String, String), DiscoverError> {
    let primary = regions::normalize(&opts.primary);
    if primary.is_empty() {
        return Err(DiscoverError::Usage("--primary: a region is needed".into()));
    }
    let secondary = match &opts.secondary {
        Some(s) => regions::normalize(s),
        None => regions::paired(&primary).map(str::to_string).ok_or_else(|| {
            DiscoverError::Usage(format!(
                "--primary {primary}: Azure pairs no region with it (or drbook does not know it): name the secondary with --secondary"
            ))
        })?,
    };
    if secondary == primary {
        return Err(DiscoverError::Usage(format!(
            "--secondary {secondary} is the primary region: name another region"
        )));
    }
    Ok((primary, secondary))
}

/// Reads the estate and analyses it.
pub async fn discover(arm: &ArmClient, opts: &Options) -> Result<Discovery, DiscoverError> {
    let (primary, secondary) = regions_of(opts)?;
    let inv = inventory::read(arm, &opts.scope).await?;
    Ok(analyse(
        &inv,
        &opts.scope.subscriptions,
        &primary,
        &secondary,
    ))
}

/// The analysis of an inventory already read (no network).
pub fn analyse(
    inv: &Inventory,
    subscriptions: &[String],
    primary: &str,
    secondary: &str,
) -> Discovery {
    let primary = regions::normalize(primary);
    let secondary = regions::normalize(secondary);
    let ctx = pairing::Ctx::new(inv, &primary, &secondary);
    let (components, uncovered) = pairing::components(&ctx);
    let findings = findings::findings(&ctx, &components);
    let readiness = findings::readiness(&ctx, &components, &findings);
    let mut subs: Vec<String> = if subscriptions.is_empty() {
        let mut s: Vec<String> = inv
            .resources
            .iter()
            .map(|r| r.subscription.clone())
            .collect();
        s.sort();
        s.dedup();
        s
    } else {
        subscriptions.to_vec()
    };
    subs.retain(|s| !s.is_empty());
    Discovery {
        subscription: subs.join(","),
        primary,
        secondary,
        resources: inv.resources.len(),
        components,
        findings,
        uncovered,
        readiness,
    }
}
