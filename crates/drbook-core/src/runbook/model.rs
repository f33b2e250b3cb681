//! The typed runbook and plan model, as deserialized from TOML. Fields keep their source spans
//! (`Spanned`) so validation can point at the exact place of a problem.
//!
//! A step is one flat struct rather than an enum per kind: serde's tagged enums lose spans and
//! stop at the first unknown field, while a flat struct lets the validator say precisely which
//! field a kind needs or does not use.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Code,
    Pipelines,
    Artifacts,
    Backlog,
    Infrastructure,
    Aks,
    Web,
    Function,
    Logic,
    Data,
    Network,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Code => "code",
            Component::Pipelines => "pipelines",
            Component::Artifacts => "artifacts",
            Component::Backlog => "backlog",
            Component::Infrastructure => "infrastructure",
            Component::Aks => "aks",
            Component::Web => "web",
            Component::Function => "function",
            Component::Logic => "logic",
            Component::Data => "data",
            Component::Network => "network",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Check,
    Health,
    Graph,
    Action,
    Command,
    Probe,
    Manual,
    Wait,
    Storage,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Check => "check",
            StepKind::Health => "health",
            StepKind::Graph => "graph",
            StepKind::Action => "action",
            StepKind::Command => "command",
            StepKind::Probe => "probe",
            StepKind::Manual => "manual",
            StepKind::Wait => "wait",
            StepKind::Storage => "storage",
        }
    }

    /// Kinds that change things (or have a person change them): those a second person may
    /// have to approve.
    pub fn changes_things(self) -> bool {
        matches!(
            self,
            StepKind::Action | StepKind::Command | StepKind::Manual
        )
    }

    /// Kinds that only read state.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            StepKind::Check
                | StepKind::Health
                | StepKind::Graph
                | StepKind::Probe
                | StepKind::Storage
        )
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    #[default]
    Stop,
    Continue,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    Skipped,
}

/// What an assessment step found. An assessment reads the state of something that may be
/// down (the failed region): finding it down is the expected answer during an outage, not a
/// failure of the step, and it decides which branch of the runbook follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Finding {
    /// Every expectation holds.
    Up,
    /// An expectation does not hold, or the service answered that it is unavailable.
    Down,
}

impl Finding {
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Up => "up",
            Finding::Down => "down",
        }
    }
}

/// `approval`: who else must agree before a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    /// An incident commander other than the operator running it approves it first.
    TwoPerson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParseAs {
    Json,
    Text,
}

/// `[runbook]`
#[derive(Debug, Clone, Deserialize)]
pub struct RunbookMeta {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    pub component: Spanned<Component>,
    pub owner: Option<Spanned<String>>,
    pub rto: Option<Spanned<String>>,
    pub rpo: Option<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub description: Option<String>,
}

/// The table form of a `[vars]` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct VarSpec {
    pub default: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub secret: bool,
    pub env: Option<Spanned<String>>,
    pub description: Option<String>,
}

/// A declared variable, whichever form it was written in.
#[derive(Debug, Clone)]
pub struct VarDef {
    pub name: Spanned<String>,
    pub default: Option<Spanned<toml::Value>>,
    pub secret: bool,
    pub env: Option<String>,
    pub description: Option<String>,
}

/// An expectation (`expect`) or a condition (`when`): one struct so the operators are written
/// once; the validator checks which fields make sense where.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Assertion {
    // Where the value comes from.
    pub path: Option<Spanned<String>>,
    pub value: Option<Spanned<String>>,
    pub step: Option<Spanned<String>>,
    pub outcome: Option<Spanned<Outcome>>,
    /// What an assessment step (`assess = true`) found: `up` or `down` (conditions only).
    pub finding: Option<Spanned<Finding>>,
    // Combinators (conditions only).
    pub all: Option<Vec<Spanned<Assertion>>>,
    pub any: Option<Vec<Spanned<Assertion>>>,
    pub not: Option<Box<Spanned<Assertion>>>,
    // Operators.
    pub equals: Option<Spanned<toml::Value>>,
    pub not_equals: Option<Spanned<toml::Value>>,
    pub one_of: Option<Spanned<Vec<toml::Value>>>,
    pub exists: Option<Spanned<bool>>,
    pub matches: Option<Spanned<String>>,
    pub contains: Option<Spanned<toml::Value>>,
    pub gt: Option<Spanned<f64>>,
    pub gte: Option<Spanned<f64>>,
    pub lt: Option<Spanned<f64>>,
    pub lte: Option<Spanned<f64>>,
    pub newer_than: Option<Spanned<String>>,
    pub older_than: Option<Spanned<String>>,
}

/// The operator of an expectation, once validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Equals(toml::Value),
    NotEquals(toml::Value),
    OneOf(Vec<toml::Value>),
    Exists(bool),
    Matches(String),
    Contains(toml::Value),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    NewerThan(String),
    OlderThan(String),
}

impl Assertion {
    /// Every operator written in this assertion, with the span of its value.
    pub fn ops(&self) -> Vec<(&'static str, Op, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        macro_rules! op {
            ($field:ident, $name:literal, $ctor:expr) => {
                if let Some(v) = &self.$field {
                    out.push(($name, $ctor(v.get_ref().clone()), v.span()));
                }
            };
        }
        op!(equals, "equals", Op::Equals);
        op!(not_equals, "not_equals", Op::NotEquals);
        op!(one_of, "one_of", Op::OneOf);
        op!(exists, "exists", Op::Exists);
        op!(matches, "matches", Op::Matches);
        op!(contains, "contains", Op::Contains);
        op!(gt, "gt", Op::Gt);
        op!(gte, "gte", Op::Gte);
        op!(lt, "lt", Op::Lt);
        op!(lte, "lte", Op::Lte);
        op!(newer_than, "newer_than", Op::NewerThan);
        op!(older_than, "older_than", Op::OlderThan);
        out
    }
}

/// A field that takes one item or a list of them (`expect = {..}` or `expect = [{..}, {..}]`).
/// Hand-written rather than `#[serde(untagged)]`, which would lose the spans inside.
#[derive(Debug, Clone)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<Spanned<T>>),
}

impl<T> OneOrMany<T> {
    /// The items with their spans; a lone item takes the span of the whole field.
    pub fn items(this: &Spanned<Self>) -> Vec<(&T, std::ops::Range<usize>)> {
        match this.get_ref() {
            OneOrMany::One(t) => vec![(t, this.span())],
            OneOrMany::Many(v) => v.iter().map(|s| (s.get_ref(), s.span())).collect(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one value or a list of them")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(OneOrMany::Many(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(de::value::I64Deserializer::new(v)).map(OneOrMany::One)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(de::value::U64Deserializer::new(v)).map(OneOrMany::One)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::new(v)).map(OneOrMany::One)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An error answer of an action that means its change is already under way or already done
/// (`already = [{ status = 409, code = "FailoverInProgress" }]`): the step is then ok, never
/// retried, and its verifier waits for the result as usual. A code is required: a status alone
/// (409 Conflict) also covers errors that mean something else.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Already {
    pub status: Spanned<u16>,
    pub code: Spanned<String>,
}

impl Already {
    /// Does Azure's answer (`status`, `code`) match? Codes compare without case, as ARM's do.
    pub fn matches(&self, status: Option<u16>, code: Option<&str>) -> bool {
        status == Some(*self.status.get_ref())
            && code.is_some_and(|c| c.eq_ignore_ascii_case(self.code.get_ref().trim()))
    }
}

/// `[[step]]` and `[[rollback]]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    pub kind: Spanned<StepKind>,
    pub instructions: Option<Spanned<String>>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    pub when: Option<Spanned<Assertion>>,
    pub confirm: Option<Spanned<bool>>,
    pub approval: Option<Spanned<Approval>>,
    pub timeout: Option<Spanned<String>>,
    pub retries: Option<Spanned<u32>>,
    pub retry_delay: Option<Spanned<String>>,
    pub on_failure: Option<Spanned<OnFailure>>,
    pub rollback: Option<Spanned<String>>,
    pub cleanup: Option<Spanned<String>>,
    /// `true`: the step assesses the damage (reads something that may be down); its result is
    /// a finding (`up`/`down`), not a failure. Read-only kinds only.
    pub assess: Option<Spanned<bool>>,
    /// This step moves users' traffic to the healthy region: the report marks "traffic
    /// restored" when it (the last such step) is done.
    pub traffic: Option<Spanned<bool>>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Spanned<String>>,

    // check, health, action, storage (the storage account, for its geo-replication)
    pub resource: Option<Spanned<String>>,
    pub api_version: Option<Spanned<String>>,
    // check, health, graph
    pub expect: Option<Spanned<OneOrMany<Assertion>>>,
    pub poll: Option<Spanned<String>>,
    // action, probe
    pub method: Option<Spanned<String>>,
    pub body: Option<Spanned<toml::Value>>,
    // action: error answers that mean its change is already under way or done
    pub already: Option<Spanned<Vec<Already>>>,
    // graph
    pub query: Option<Spanned<String>>,
    pub subscriptions: Option<Spanned<Vec<Spanned<String>>>>,
    pub expect_rows: Option<Spanned<Assertion>>,
    // command
    pub argv: Option<Spanned<Vec<Spanned<String>>>>,
    pub cwd: Option<Spanned<String>>,
    pub env: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub destructive: Option<Spanned<bool>>,
    pub parse: Option<Spanned<ParseAs>>,
    // probe
    pub url: Option<Spanned<String>>,
    pub headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub expect_status: Option<Spanned<OneOrMany<u16>>>,
    pub body_matches: Option<Spanned<String>>,
    // wait
    pub duration: Option<Spanned<String>>,
    // storage: the newest blob under `prefix` in the container at `container_url` (backup
    // freshness) and/or the last geo-sync of the account `resource`, each younger than
    // `max_age` (default: the runbook's RPO)
    pub container_url: Option<Spanned<String>>,
    pub prefix: Option<Spanned<String>>,
    pub max_age: Option<Spanned<String>>,
}

impl Step {
    /// Must an incident commander other than its operator approve it before it runs? Only
    /// for kinds that change things (the validator warns about it anywhere else).
    pub fn two_person(&self) -> bool {
        self.approval
            .as_ref()
            .is_some_and(|a| *a.get_ref() == Approval::TwoPerson)
            && self.kind.get_ref().changes_things()
    }

    /// Does the step assess the damage (`assess = true` on a read-only kind)? Its result is
    /// then a finding, not a failure.
    pub fn assesses(&self) -> bool {
        self.assess.as_ref().is_some_and(|a| *a.get_ref()) && self.kind.get_ref().is_read_only()
    }

    /// The expectations with their spans.
    pub fn expectations(&self) -> Vec<(&Assertion, std::ops::Range<usize>)> {
        self.expect.as_ref().map_or_else(Vec::new, OneOrMany::items)
    }
}

/// One loaded runbook file.
#[derive(Debug, Clone)]
pub struct Runbook {
    pub file: Arc<Path>,
    pub meta: RunbookMeta,
    pub vars: Vec<VarDef>,
    pub steps: Vec<Step>,
    pub rollbacks: Vec<Step>,
    /// Ids of steps that failed to deserialize: known to exist, so they do not cause
    /// "unknown dependency" noise, but not checked further.
    pub broken_steps: Vec<String>,
}

impl Runbook {
    pub fn id(&self) -> &str {
        self.meta.id.get_ref()
    }

    pub fn var(&self, name: &str) -> Option<&VarDef> {
        self.vars.iter().find(|v| v.name.get_ref() == name)
    }
}

/// `[plan]`
#[derive(Debug, Clone, Deserialize)]
pub struct PlanMeta {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    pub rto: Option<Spanned<String>>,
    pub owner: Option<Spanned<String>>,
    pub description: Option<String>,
}

/// `[[group]]` of a plan.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    pub name: Spanned<String>,
    pub runbooks: Vec<Spanned<String>>,
    #[serde(default)]
    pub parallel: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub file: Arc<Path>,
    pub meta: PlanMeta,
    pub vars: BTreeMap<String, Spanned<toml::Value>>,
    pub groups: Vec<Group>,
}

impl Plan {
    pub fn id(&self) -> &str {
        self.meta.id.get_ref()
    }
}
