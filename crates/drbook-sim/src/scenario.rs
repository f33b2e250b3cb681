//! Scenario files: the simulated Azure estate (subscriptions, resources with their ARM JSON,
//! HTTP endpoints that probes reach), fault knobs, and a timeline of events such as a region
//! going down. Format reference: runbooks/scenarios/README.md.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use drbook_core::time::parse_duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Meta,
    #[serde(default)]
    pub faults: Faults,
    #[serde(default, rename = "subscription")]
    pub subscriptions: Vec<Subscription>,
    /// Resource groups with their own location; a group only implied by its resources' ids
    /// takes the location of its first resource.
    #[serde(default, rename = "resource_group")]
    pub resource_groups: Vec<ResourceGroupDef>,
    #[serde(default, rename = "resource")]
    pub resources: Vec<ResourceDef>,
    #[serde(default, rename = "endpoint")]
    pub endpoints: Vec<Endpoint>,
    #[serde(default, rename = "event")]
    pub events: Vec<Event>,
    /// Many copies of resource templates (a large estate); expanded into `resources` and
    /// `resource_groups` when the file is parsed. See generate.rs.
    #[serde(default, rename = "generate")]
    pub generate: Vec<toml::Spanned<super::generate::Generate>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// How long a long-running operation (failover, cluster start) takes. Default 2s.
    pub lro_delay: Option<String>,
    /// Items per page of an ARM list; a longer list carries `nextLink`. Default 1000.
    pub page_size: Option<usize>,
}

/// Fault knobs, applied to every ARM request while in force. Events can change them.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Added to every answer, e.g. "50ms".
    pub latency: String,
    /// Up to this much more, at random.
    pub jitter: String,
    /// Fraction of requests answered 429 with Retry-After.
    pub throttle_rate: f64,
    /// The Retry-After sent with a 429.
    pub retry_after: String,
    /// Fraction of requests answered with `error_status`.
    pub error_rate: f64,
    pub error_status: u16,
    /// Fraction of requests whose connection is dropped without an answer.
    pub drop_rate: f64,
    /// Fraction of requests answered only after `slow` (to exercise client timeouts).
    pub slow_rate: f64,
    pub slow: String,
    /// Lifetime of the tokens the simulator issues.
    pub token_lifetime: String,
    /// Seed for the random draws, so a run can be repeated.
    pub seed: u64,
    /// How an operation Azure accepts but says will not succeed in an outage ends (a Cosmos
    /// DB priority change while the write region is down): "hang" (stays InProgress) or
    /// "fail after DURATION".
    pub failover_in_outage: String,
    /// Resource Graph queries a caller may send per `graph_quota_window` (Azure's documented
    /// example: 15 per 5 seconds); answers carry what is left, and 429 once it is spent.
    pub graph_quota: u32,
    pub graph_quota_window: String,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: "0ms".into(),
            jitter: "0ms".into(),
            throttle_rate: 0.0,
            retry_after: "1s".into(),
            error_rate: 0.0,
            error_status: 503,
            drop_rate: 0.0,
            slow_rate: 0.0,
            slow: "60s".into(),
            token_lifetime: "1h".into(),
            seed: 1,
            failover_in_outage: "hang".into(),
            graph_quota: 15,
            graph_quota_window: "5s".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub id: String,
    pub name: String,
}

/// A resource group and where ARM keeps its metadata: while that region is down, ARM refuses
/// writes to every resource in the group, wherever the resource itself runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceGroupDef {
    /// `/subscriptions/{id}/resourceGroups/{name}`.
    pub id: String,
    pub location: String,
}

impl ResourceGroupDef {
    /// (subscription, name) from the id, if it is a resource group's id.
    pub fn parts(&self) -> Option<(&str, &str)> {
        let segs: Vec<&str> = self.id.trim_matches('/').split('/').collect();
        match segs.as_slice() {
            [s, sub, g, name]
                if s.eq_ignore_ascii_case("subscriptions")
                    && g.eq_ignore_ascii_case("resourceGroups")
                    && !sub.is_empty()
                    && !name.is_empty() =>
            {
                Some((sub, name))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDef {
    /// Full ARM id; name, type, resource group and subscription are derived from it.
    pub id: String,
    /// ARM `location` (e.g. "westeurope", "global").
    pub location: String,
    /// The region whose outage takes this resource down; default: `location`. "global" for
    /// resources no single region's outage affects.
    pub region: Option<String>,
    pub kind: Option<String>,
    pub sku: Option<toml::Table>,
    pub tags: Option<toml::Table>,
    #[serde(default)]
    pub properties: toml::Table,
    /// Other top-level ARM fields (identity, zones, ...).
    pub extra: Option<toml::Table>,
    /// Resource Health availabilityState while its region is up: Available, Degraded,
    /// Unavailable or Unknown. Default Available.
    pub health: Option<String>,
}

/// An HTTP endpoint the simulator answers for probes, served by the first backend whose region
/// is up and whose condition holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub url: String,
    #[serde(default = "default_status")]
    pub status: u16,
    /// Body; `${region}` is replaced by the serving backend's region.
    #[serde(default)]
    pub body: String,
    pub backends: Vec<Backend>,
}

fn default_status() -> u16 {
    200
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    pub region: String,
    /// Optional condition: the resource's value at `path` equals `equals`.
    pub resource: Option<String>,
    pub path: Option<String>,
    pub equals: Option<toml::Value>,
}

/// Something that happens at a time after the simulator starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Time after start, e.g. "5s", "2m".
    pub at: String,
    /// Shown in the simulator's log.
    pub note: Option<String>,
    pub region_down: Option<String>,
    /// How the region of `region_down` answers: `{ arm = "hang", health = "Unknown" }`.
    pub outage: Option<super::faults::OutageDef>,
    pub region_up: Option<String>,
    /// Forget every token issued so far: ARM answers 401 InvalidAuthenticationToken to them.
    #[serde(default)]
    pub revoke_tokens: bool,
    /// Set one value of a resource: `{ resource = "...", path = "properties.x", value = ... }`.
    pub set: Option<SetValue>,
    /// Resource Health of one resource: `{ resource = "...", state = "Degraded" }`.
    pub health: Option<SetHealth>,
    /// New fault knobs (fields not given keep their value).
    pub faults: Option<toml::Table>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetValue {
    pub resource: String,
    pub path: String,
    pub value: toml::Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetHealth {
    pub resource: String,
    pub state: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: cannot read the scenario: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses and checks a scenario; errors carry file, line and column.
    pub fn parse(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let src = drbook_core::diag::SourceFile::new(Path::new(name), text);
        let invalid = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, column) = src.line_col(span.map_or(0, |s| s.start));
            ScenarioError::Invalid {
                path: name.to_string(),
                line,
                column,
                message,
            }
        };
        let mut sc: Scenario =
            toml::from_str(text).map_err(|e| invalid(e.span(), e.message().to_string()))?;
        if !sc.generate.is_empty() {
            let taken: std::collections::HashSet<String> = sc
                .resources
                .iter()
                .map(|r| r.id.to_ascii_lowercase())
                .chain(sc.resource_groups.iter().map(|g| g.id.to_ascii_lowercase()))
                .collect();
            let gens: Vec<super::generate::Generate> =
                sc.generate.iter().map(|g| g.get_ref().clone()).collect();
            let out = super::generate::expand(&gens, &taken).map_err(|e| {
                let span = sc.generate.get(e.index).map(|g| g.span());
                invalid(span, format!("generate #{}: {}", e.index + 1, e.message))
            })?;
            sc.resource_groups.extend(out.resource_groups);
            sc.resources.extend(out.resources);
        }
        sc.check().map_err(|m| invalid(None, m))?;
        Ok(sc)
    }

    /// Checks what serde cannot: durations, ids, references to resources.
    fn check(&self) -> Result<(), String> {
        let dur = |what: &str, s: &str| {
            parse_duration(s)
                .map(|_| ())
                .map_err(|e| format!("{what}: `{s}` is not a duration ({e})"))
        };
        if let Some(d) = &self.scenario.lro_delay {
            dur("lro_delay", d)?;
        }
        self.faults.check()?;
        let mut seen = std::collections::HashSet::new();
        for g in &self.resource_groups {
            if g.parts().is_none() {
                return Err(format!(
                    "resource_group `{}`: write its id as /subscriptions/<id>/resourceGroups/<name>",
                    g.id
                ));
            }
            if g.location.trim().is_empty() || g.location.eq_ignore_ascii_case("global") {
                return Err(format!(
                    "resource_group `{}`: a resource group is located in one region, not `{}`",
                    g.id, g.location
                ));
            }
            if !seen.insert(g.id.to_ascii_lowercase()) {
                return Err(format!("resource_group `{}` is declared twice", g.id));
            }
        }
        for r in &self.resources {
            if !r.id.to_ascii_lowercase().starts_with("/subscriptions/") {
                return Err(format!(
                    "resource `{}`: ids start with /subscriptions/",
                    r.id
                ));
            }
        }
        let known = |id: &str| self.resources.iter().any(|r| r.id.eq_ignore_ascii_case(id));
        if self.scenario.page_size == Some(0) {
            return Err("page_size: a page holds at least one item".into());
        }
        for e in &self.events {
            dur("event `at`", &e.at)?;
            if let Some(o) = &e.outage {
                if e.region_down.is_none() {
                    return Err(format!(
                        "event at {}: `outage` goes with `region_down`",
                        e.at
                    ));
                }
                o.parse().map_err(|m| format!("event at {}: {m}", e.at))?;
            }
            for id in [
                e.set.as_ref().map(|s| &s.resource),
                e.health.as_ref().map(|h| &h.resource),
            ]
            .into_iter()
            .flatten()
            {
                if !known(id) {
                    return Err(format!(
                        "event at {}: no resource `{id}` in the scenario",
                        e.at
                    ));
                }
            }
            if let Some(f) = &e.faults {
                let mut faults = self.faults.clone();
                faults.apply(f)?;
            }
        }
        for ep in &self.endpoints {
            if ep.backends.is_empty() {
                return Err(format!("endpoint `{}` has no backends", ep.url));
            }
            for b in &ep.backends {
                if let Some(id) = &b.resource
                    && !known(id)
                {
                    return Err(format!(
                        "endpoint `{}`: no resource `{id}` in the scenario",
                        ep.url
                    ));
                }
            }
        }
        Ok(())
    }

    /// When the last event of the timeline happens.
    pub fn timeline_end(&self) -> Duration {
        self.events
            .iter()
            .filter_map(|e| parse_duration(&e.at).ok())
            .max()
            .unwrap_or_default()
    }

    pub fn page_size(&self) -> usize {
        self.scenario.page_size.unwrap_or(1000).max(1)
    }

    pub fn lro_delay(&self) -> Duration {
        self.scenario
            .lro_delay
            .as_deref()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(Duration::from_secs(2))
    }
}

impl Faults {
    fn check(&self) -> Result<(), String> {
        for (what, s) in [
            ("latency", &self.latency),
            ("jitter", &self.jitter),
            ("retry_after", &self.retry_after),
            ("slow", &self.slow),
            ("token_lifetime", &self.token_lifetime),
            ("graph_quota_window", &self.graph_quota_window),
        ] {
            parse_duration(s)
                .map_err(|e| format!("faults.{what}: `{s}` is not a duration ({e})"))?;
        }
        if self.graph_quota == 0 {
            return Err("faults.graph_quota: at least 1 query per window".into());
        }
        if Faults::duration(&self.graph_quota_window).is_zero() {
            return Err("faults.graph_quota_window: longer than 0s".into());
        }
        super::faults::doomed(&self.failover_in_outage)
            .map_err(|e| format!("faults.failover_in_outage: {e}"))?;
        for (what, r) in [
            ("throttle_rate", self.throttle_rate),
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
            ("slow_rate", self.slow_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!(
                    "faults.{what}: {r} is not a fraction between 0 and 1"
                ));
            }
        }
        Ok(())
    }

    /// Applies the fields of an event's `faults` table.
    pub fn apply(&mut self, t: &toml::Table) -> Result<(), String> {
        let mut merged = toml::Table::try_from(&*self).map_err(|e| e.to_string())?;
        for (k, v) in t {
            if !merged.contains_key(k) {
                return Err(format!("unknown fault knob `{k}`"));
            }
            merged.insert(k.clone(), v.clone());
        }
        *self = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        self.check()
    }

    pub fn duration(s: &str) -> Duration {
        parse_duration(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "[scenario]\nid = \"t\"\ntitle = \"T\"\n";

    fn with_groups(groups: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse("t.toml", &format!("{HEAD}{groups}"))
    }

    #[test]
    fn declared_groups_load_and_a_bad_one_is_a_clear_error() {
        let sc = with_groups(
            "[[resource_group]]\nid = \"/subscriptions/s1/resourceGroups/rg-global\"\nlocation = \"Sweden Central\"\n",
        )
        .expect("valid");
        assert_eq!(sc.resource_groups[0].parts(), Some(("s1", "rg-global")));
        for (groups, says) in [
            (
                "[[resource_group]]\nid = \"/subscriptions/s1/resourceGroups/rg/providers/x\"\nlocation = \"westeurope\"\n",
                "write its id as /subscriptions/<id>/resourceGroups/<name>",
            ),
            (
                "[[resource_group]]\nid = \"/subscriptions/s1/resourceGroups/rg\"\nlocation = \"global\"\n",
                "located in one region, not `global`",
            ),
            (
                "[[resource_group]]\nid = \"/subscriptions/s1/resourceGroups/rg\"\nlocation = \"westeurope\"\n\
                 [[resource_group]]\nid = \"/subscriptions/s1/resourceGroups/RG\"\nlocation = \"northeurope\"\n",
                "declared twice",
            ),
            (
                "[[resource_group]]\nid = \"/subscriptions/s1/resourceGroups/rg\"\n",
                "missing field `location`",
            ),
        ] {
            let err = with_groups(groups).expect_err(groups).to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn generated_resources_join_the_written_ones_and_errors_point_at_their_block() {
        let text = "[[resource]]\nid = \"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/hand\"\nlocation = \"eastus\"\n\
                    [[generate]]\ncount = 3\nsubscriptions = [\"s1\", \"s2\"]\n\
                    [[generate.resource_group]]\nid = \"/subscriptions/{sub}/resourceGroups/rg-{i}\"\nlocation = \"eastus\"\n\
                    [[generate.resource]]\nid = \"/subscriptions/{sub}/resourceGroups/rg-{i}/providers/Microsoft.Web/sites/app-{i}\"\nlocation = \"eastus\"\n";
        let sc = with_groups(text).expect("valid");
        assert_eq!(sc.resources.len(), 4);
        assert_eq!(sc.resource_groups.len(), 3);
        assert_eq!(
            sc.resources[3].id,
            "/subscriptions/s1/resourceGroups/rg-2/providers/Microsoft.Web/sites/app-2"
        );
        // A copy the checks refuse (here: an id that is not an ARM id) is refused as if written.
        let bad = with_groups(
            "[[generate]]\ncount = 2\n[[generate.resource]]\nid = \"sites/app-{i}\"\nlocation = \"eastus\"\n",
        )
        .expect_err("not an ARM id")
        .to_string();
        assert!(bad.contains("ids start with /subscriptions/"), "{bad}");
        // An error of the generator itself names the file, the block's line and the reason.
        let err = with_groups(
            "[[subscription]]\nid = \"s1\"\nname = \"one\"\n\n[[generate]]\ncount = 2\n[[generate.resource]]\nid = \"/subscriptions/s1/r{i}\"\n",
        )
        .expect_err("no location")
        .to_string();
        assert!(err.starts_with("t.toml:8:"), "{err}");
        assert!(
            err.contains("generate #1: resource #1 (copy 0): missing field `location`"),
            "{err}"
        );
    }
}
