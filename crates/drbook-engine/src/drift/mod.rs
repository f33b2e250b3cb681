//! `drbook drift`: have the runbooks and the estate drifted apart? Every resource a runbook
//! names must still exist with the type its step's path implies; every resource of the
//! components discovery finds today must be named by some runbook; and, against the snapshot
//! `drbook discover --out` wrote (`discovery.json`), what went away and what is new. Reads
//! only: the two Resource Graph queries of discovery's inventory, and a GET for each named
//! resource whose type Resource Graph does not list.
//!
//! - `refs`: the resources runbooks name, with their variables filled in.
//! - `compare`: the comparison itself, with no I/O.
//! - `render`: the text report (JSON is `Drift`'s serialisation).

pub mod compare;
pub mod refs;
pub mod render;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use drbook_azure::{ArmClient, AzureError, ErrorKind};

use crate::discover::inventory::{self, Inventory, ReadError, Scope};
use crate::discover::regions;
pub use compare::{Estate, Fetched, compare, to_fetch};
pub use refs::{Reference, Refs, Unchecked, references};

/// A referenced resource that exists with another type than its step's path implies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The resource the step names.
    pub resource: String,
    /// The type its path implies (lower case).
    pub expected: String,
    /// The type of what is there (lower case).
    pub found: String,
    /// The id of what is there (the same name, in the same place).
    pub found_id: String,
    pub file: String,
    pub step: String,
}

/// A resource that went away or is new since the runbooks were generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub resource: String,
    /// The component it belonged to (gone) or belongs to now (new).
    pub component: String,
}

/// A resource no runbook covers that was a known gap when the runbooks were generated:
/// `discovery.json`'s findings name it (or what holds it, or something inside it). Discover
/// reports these; drift lists them apart and does not count them as drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub resource: String,
    /// The finding's code (`sql-no-geo-replication`, ...).
    pub finding: String,
}

/// The result of `drbook drift`. Serialises to the JSON of `drbook drift --format json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Drift {
    /// Resources a runbook names that no longer exist.
    pub missing: Vec<String>,
    /// Resources a runbook names that exist with another type.
    pub type_mismatch: Vec<Mismatch>,
    /// Resources of today's components that no runbook covers (known gaps aside).
    pub uncovered: Vec<String>,
    /// Resources no runbook covers that were known gaps at generation (not drift).
    pub gaps: Vec<Gap>,
    /// In a component of the snapshot, not in the estate now.
    pub gone: Vec<Change>,
    /// In a component now, not in the snapshot.
    pub new: Vec<Change>,
    /// When the snapshot was written (`null` without one).
    pub generated: Option<String>,
    pub subscriptions: Vec<String>,
    pub primary: String,
    pub secondary: String,
    /// How many distinct resources the runbooks name (and were checked).
    pub referenced: usize,
    /// Named resources read with a GET because Resource Graph does not list their type.
    pub read_by_get: Vec<String>,
    /// Steps whose resource cannot be checked, and why.
    pub unchecked: Vec<Unchecked>,
    /// Lower-case id → the (file, step)s that name it.
    #[serde(skip)]
    pub named_by: BTreeMap<String, Vec<(String, String)>>,
    /// Lower-case id → its component now (for the uncovered).
    #[serde(skip)]
    pub component_of: BTreeMap<String, String>,
    /// Whether a snapshot was compared with.
    #[serde(skip)]
    pub snapshot: bool,
}

impl Drift {
    /// Whether anything drifted (exit 1).
    pub fn drifted(&self) -> bool {
        !(self.missing.is_empty()
            && self.type_mismatch.is_empty()
            && self.uncovered.is_empty()
            && self.gone.is_empty()
            && self.new.is_empty())
    }
}

/// What `discovery.json` says of the estate when the runbooks were generated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub generated: Option<String>,
    pub subscriptions: Vec<String>,
    pub primary: Option<String>,
    pub secondary: Option<String>,
    /// (resource id, component) of every component's resources.
    pub resources: Vec<(String, String)>,
    /// (resource id, code) of every finding.
    pub findings: Vec<(String, String)>,
}

impl Snapshot {
    /// Parses `discovery.json`; errors name the file and the field.
    pub fn parse(text: &str, file: &str) -> Result<Snapshot, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("{file}:{}:{}: not JSON: {e}", e.line(), e.column()))?;
        let text_field = |k: &str| -> Result<Option<String>, String> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("{file}: `{k}` is not a string")),
            }
        };
        let components = v
            .get("components")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{file}: no `components` array: is this the discovery.json `drbook discover --out` writes?"))?;
        let mut resources = Vec::new();
        for (i, c) in components.iter().enumerate() {
            let component = c
                .get("component")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{file}: components[{i}].component is not a string"))?;
            let ids = c
                .get("resources")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{file}: components[{i}].resources is not an array"))?;
            for (j, id) in ids.iter().enumerate() {
                let id = id.as_str().ok_or_else(|| {
                    format!("{file}: components[{i}].resources[{j}] is not a string")
                })?;
                resources.push((id.to_string(), component.to_string()));
            }
        }
        let mut findings = Vec::new();
        if let Some(list) = v.get("findings") {
            let list = list
                .as_array()
                .ok_or_else(|| format!("{file}: `findings` is not an array"))?;
            for (i, f) in list.iter().enumerate() {
                let field = |k: &str| {
                    f.get(k)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| format!("{file}: findings[{i}].{k} is not a string"))
                };
                findings.push((field("resource")?, field("code")?));
            }
        }
        Ok(Snapshot {
            findings,
            generated: text_field("generated")?,
            subscriptions: text_field("subscription")?
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            primary: text_field("primary")?,
            secondary: text_field("secondary")?,
            resources,
        })
    }
}

/// What to compare with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Default: the snapshot's, and those the runbooks name.
    pub subscriptions: Vec<String>,
    /// Default: the snapshot's, else the runbooks' `primary` variable.
    pub primary: Option<String>,
    /// Default: the snapshot's, else the runbooks' `secondary`, else Azure's pair.
    pub secondary: Option<String>,
    /// Only these resource groups (any case) are the application's, when not empty: the
    /// components (uncovered, new) are found among their resources only. Named resources
    /// are looked up everywhere.
    pub resource_groups: Vec<String>,
    /// Only resources with this tag (and their child resources) are the application's.
    pub tag: Option<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Get(AzureError),
}

impl DriftError {
    /// A sign-in or permission error.
    pub fn is_auth(&self) -> bool {
        match self {
            DriftError::Read(ReadError::Azure(e)) | DriftError::Get(e) => e.is_auth(),
            _ => false,
        }
    }
}

/// The subscriptions and regions to compare in: from `opts`, else the snapshot, else the
/// runbooks. Checked before anything is read.
pub fn settle(
    opts: &Options,
    refs: &Refs,
    snapshot: Option<&Snapshot>,
) -> Result<(Vec<String>, String, String), DriftError> {
    let mut subs = opts.subscriptions.clone();
    if subs.is_empty() {
        subs = snapshot
            .map(|s| s.subscriptions.clone())
            .unwrap_or_default();
        for s in refs.subscriptions() {
            if !subs.iter().any(|x| x.eq_ignore_ascii_case(&s)) {
                subs.push(s);
            }
        }
    }
    if subs.is_empty() {
        return Err(DriftError::Usage(
            "no subscription to read: the runbooks name no resource, and there is no discovery.json; pass --subscription".into(),
        ));
    }
    let primary = opts
        .primary
        .clone()
        .or_else(|| snapshot.and_then(|s| s.primary.clone()))
        .or_else(|| refs.primary.clone())
        .map(|p| regions::normalize(&p))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            DriftError::Usage(
                "no primary region: no discovery.json names it and the runbooks agree on no `primary` variable; set one with --var primary=REGION".into(),
            )
        })?;
    let secondary = opts
        .secondary
        .clone()
        .or_else(|| snapshot.and_then(|s| s.secondary.clone()))
        .or_else(|| refs.secondary.clone())
        .map(|s| regions::normalize(&s))
        .filter(|s| !s.is_empty())
        .or_else(|| regions::paired(&primary).map(str::to_string))
        .ok_or_else(|| {
            DriftError::Usage(format!(
                "no secondary region: Azure pairs none with {primary}; set one with --var secondary=REGION"
            ))
        })?;
    Ok((subs, primary, secondary))
}

/// Reads the estate and compares it with the runbooks' references and the snapshot.
pub async fn drift(
    arm: &ArmClient,
    refs: &Refs,
    snapshot: Option<&Snapshot>,
    opts: &Options,
) -> Result<Drift, DriftError> {
    let (subs, primary, secondary) = settle(opts, refs, snapshot)?;
    let all = Scope {
        subscriptions: subs.clone(),
        ..Scope::default()
    };
    // One query per table, unfiltered: a named resource is looked up wherever it is; the
    // application's part is then cut from the same rows.
    let rows = arm
        .graph(&subs, &inventory::resources_query(&all))
        .await
        .map_err(ReadError::Azure)?;
    let containers = arm
        .graph(&subs, &inventory::containers_query())
        .await
        .map_err(ReadError::Azure)?;
    let mut inv = Inventory::from_rows(&rows, &containers, &all).map_err(ReadError::Shape)?;
    // The child resources discovery reads beyond Graph, so today's components are seen as
    // discovery saw them when it wrote the snapshot.
    crate::discover::children::read(arm, &subs, &mut inv)
        .await
        .map_err(ReadError::Azure)?;
    let scoped = if opts.resource_groups.is_empty() && opts.tag.is_none() {
        None
    } else {
        let in_groups = |row: &&Value| {
            opts.resource_groups.is_empty()
                || row
                    .get("resourceGroup")
                    .and_then(Value::as_str)
                    .is_some_and(|g| {
                        opts.resource_groups
                            .iter()
                            .any(|w| w.eq_ignore_ascii_case(g))
                    })
        };
        let kept: Vec<Value> = rows.iter().filter(in_groups).cloned().collect();
        let scope = Scope {
            subscriptions: subs.clone(),
            resource_groups: opts.resource_groups.clone(),
            tag: opts.tag.clone(),
        };
        let mut scoped =
            Inventory::from_rows(&kept, &containers, &scope).map_err(ReadError::Shape)?;
        // The child resources read beyond Graph for the whole estate, those of the
        // application's resources: no second round of reads.
        scoped.add_children_from(&inv);
        Some(scoped)
    };
    // The few GETs at once; the client bounds how many are in flight.
    let mut gets = tokio::task::JoinSet::new();
    for (id, api_version) in to_fetch(&inv, refs, &subs) {
        let arm = arm.clone();
        gets.spawn(async move {
            let answer = arm.get(&id, &api_version).await;
            (id, answer)
        });
    }
    let mut fetched = BTreeMap::new();
    while let Some(joined) = gets.join_next().await {
        // A read task that died is no answer: never a resource taken for missing.
        let (id, answer) = joined.map_err(|e| {
            DriftError::Get(AzureError::new(
                "GET",
                "a named resource",
                ErrorKind::Client,
                format!("the read task failed: {e}"),
            ))
        })?;
        let got = match answer {
            Ok(answer) => Fetched::Found(
                answer
                    .body
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase),
            ),
            Err(e) if e.kind == ErrorKind::NotFound => Fetched::NotFound,
            Err(e) => return Err(DriftError::Get(e)),
        };
        fetched.insert(id.to_ascii_lowercase(), got);
    }
    let estate = Estate {
        inv: &inv,
        scoped: scoped.as_ref(),
        subs: &subs,
        primary: &primary,
        secondary: &secondary,
    };
    Ok(compare(&estate, refs, &fetched, snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_is_read_and_its_faults_are_named() {
        let s = Snapshot::parse(
            r#"{"generated": "2026-12-01T02:00:00Z", "subscription": "a,b", "primary": "eastus2",
                "secondary": "centralus", "components": [{"component": "web", "resources": ["/x"]}]}"#,
            "out/discovery.json",
        )
        .unwrap();
        assert_eq!(s.subscriptions, ["a", "b"]);
        assert_eq!(s.resources, [("/x".to_string(), "web".to_string())]);
        assert_eq!(s.generated.as_deref(), Some("2026-12-01T02:00:00Z"));
        for (text, says) in [
            ("{", "out/discovery.json:1:1: not JSON"),
            ("{}", "no `components` array"),
            (
                r#"{"components": [{"component": "web", "resources": [3]}]}"#,
                "components[0].resources[0] is not a string",
            ),
            (
                r#"{"components": [], "primary": 1}"#,
                "`primary` is not a string",
            ),
        ] {
            let e = Snapshot::parse(text, "out/discovery.json").unwrap_err();
            assert!(e.contains(says) && e.contains("out/discovery.json"), "{e}");
        }
    }

    #[test]
    fn regions_and_subscriptions_come_from_the_flags_then_the_snapshot_then_the_runbooks() {
        let refs = Refs {
            primary: Some("East US 2".into()),
            ..Refs::default()
        };
        let snap = Snapshot {
            subscriptions: vec!["s".into()],
            primary: Some("westeurope".into()),
            ..Snapshot::default()
        };
        let (subs, p, s) = settle(&Options::default(), &refs, Some(&snap)).unwrap();
        assert_eq!(
            (subs, p.as_str(), s.as_str()),
            (vec!["s".to_string()], "westeurope", "northeurope")
        );
        let e = settle(&Options::default(), &refs, None).unwrap_err();
        assert!(e.to_string().contains("--subscription"), "{e}");
        let opts = Options {
            subscriptions: vec!["t".into()],
            ..Options::default()
        };
        let (_, p, s) = settle(&opts, &refs, None).unwrap();
        assert_eq!((p.as_str(), s.as_str()), ("eastus2", "centralus"));
        let e = settle(&opts, &Refs::default(), None).unwrap_err();
        assert!(e.to_string().contains("primary"), "{e}");
    }
}
