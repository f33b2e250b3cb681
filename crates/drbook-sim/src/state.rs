//! The simulated estate as it stands: resources with their ARM JSON, resource groups, regions
//! that are down, fault knobs and injections, issued tokens, long-running operations, and the
//! timeline's progress. Time moves only through `advance`, so every reader sees a state in
//! which all due events and operations have happened.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::armid::{self, ResourceId, normalize_region};
use super::faults::{Injection, Outage};
use super::json::{render_times, toml_to_json};
use super::scenario::{Endpoint, Event, Faults, ResourceDef, Scenario};

/// One resource: its ARM JSON as GET returns it (before `${now}` rendering).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Res {
    pub id: String,
    pub body: Value,
    /// Normalised region whose outage takes it down; "global" never goes down.
    pub region: String,
    /// Resource Health while its region is up.
    pub health: String,
    pub health_since: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub subscription: String,
    pub name: String,
    pub location: String,
    /// The location was given (a `[[resource_group]]`, a PUT), not guessed from the first
    /// resource seen in the group: only then does ARM's rule on the group's region apply.
    #[serde(default)]
    pub declared: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpStatus {
    InProgress,
    Succeeded,
    Failed,
}

impl OpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OpStatus::InProgress => "InProgress",
            OpStatus::Succeeded => "Succeeded",
            OpStatus::Failed => "Failed",
        }
    }
}

/// What a long-running operation does when it finishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Effect {
    AksPower {
        running: bool,
    },
    CosmosPriorities(Vec<(String, i64)>),
    CosmosOffline(String),
    CosmosOnline(String),
    SqlFailover {
        forced: bool,
    },
    StorageFailover {
        planned: bool,
    },
    Deployment,
    /// A PUT/PATCH of a type Azure provisions asynchronously: its provisioningState ends.
    AsyncWrite,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    pub subscription: String,
    pub location: String,
    pub api_version: String,
    /// Key of the resource it acts on.
    pub target: String,
    pub effect: Effect,
    /// Whether the operation result (Location) carries the resource body (200) or nothing (204).
    pub result_body: bool,
    pub started: DateTime<Utc>,
    /// Time after the simulator's start at which it finishes.
    pub due: Duration,
    pub status: OpStatus,
    pub ended: Option<DateTime<Utc>>,
    pub error: Option<OpError>,
}

pub struct SimState {
    pub scenario_id: String,
    pub title: String,
    pub started_utc: DateTime<Utc>,
    pub lro_delay: Duration,
    pub subscriptions: Vec<(String, String)>,
    /// Keyed by `armid::key(id)`.
    pub resources: BTreeMap<String, Res>,
    /// Keyed by `armid::key("/subscriptions/S/resourceGroups/RG")`.
    pub groups: BTreeMap<String, Group>,
    /// Down regions and since when.
    pub down: BTreeMap<String, DateTime<Utc>>,
    /// How each down region answers, when not with a plain 503.
    pub outages: BTreeMap<String, Outage>,
    /// Items per page of a list before it carries `nextLink`.
    pub page_size: usize,
    pub faults: Faults,
    pub injections: Vec<Injection>,
    pub rng: StdRng,
    pub tokens: HashMap<String, DateTime<Utc>>,
    pub ops: BTreeMap<String, Operation>,
    pub endpoints: Vec<Endpoint>,
    /// Timeline, sorted by time (file order at equal times).
    pub events: Vec<(Duration, Event)>,
    pub next_event: usize,
    pub next_op: u64,
    /// Resource Graph's quota: when the current window opened (time after start) and how many
    /// queries it has taken.
    pub graph_window: (Duration, u32),
    /// Counts the changes to the estate (resources, groups, regions, the timeline, operations):
    /// a Resource Graph answer cached for paging is reused only within one generation.
    pub generation: u64,
    /// Evaluated Resource Graph answers being paged (`graph::PageCache`).
    pub graph_pages: super::graph::PageCache,
}

pub const TENANT: &str = "0c0ffee0-5151-4a1b-9d2e-000000000001";

impl SimState {
    pub fn new(sc: &Scenario, started_utc: DateTime<Utc>) -> SimState {
        let mut st = SimState {
            scenario_id: sc.scenario.id.clone(),
            title: sc.scenario.title.clone(),
            started_utc,
            lro_delay: sc.lro_delay(),
            subscriptions: sc
                .subscriptions
                .iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect(),
            resources: BTreeMap::new(),
            groups: BTreeMap::new(),
            down: BTreeMap::new(),
            outages: BTreeMap::new(),
            page_size: sc.page_size(),
            faults: sc.faults.clone(),
            injections: Vec::new(),
            rng: StdRng::seed_from_u64(sc.faults.seed),
            tokens: HashMap::new(),
            ops: BTreeMap::new(),
            endpoints: sc.endpoints.clone(),
            events: Vec::new(),
            next_event: 0,
            next_op: 1,
            graph_window: (Duration::ZERO, 0),
            generation: 0,
            graph_pages: super::graph::PageCache::default(),
        };
        // Declared first: a declared group keeps its location whatever its resources' are.
        for g in &sc.resource_groups {
            if let Some((sub, name)) = g.parts() {
                st.groups.insert(
                    group_key(sub, name),
                    Group {
                        subscription: sub.to_string(),
                        name: name.to_string(),
                        location: normalize_region(&g.location),
                        declared: true,
                    },
                );
            }
        }
        for def in &sc.resources {
            st.add_def(def, started_utc);
        }
        let mut events: Vec<(Duration, Event)> = sc
            .events
            .iter()
            .map(|e| (Faults::duration(&e.at), e.clone()))
            .collect();
        events.sort_by_key(|(at, _)| *at);
        st.events = events;
        st
    }

    fn add_def(&mut self, def: &ResourceDef, now: DateTime<Utc>) {
        let Some(rid) = ResourceId::parse(&def.id) else {
            return;
        };
        let mut body = Map::new();
        if let Some(extra) = &def.extra {
            for (k, v) in extra {
                body.insert(k.clone(), toml_to_json(v));
            }
        }
        body.insert("id".into(), json!(def.id));
        body.insert("name".into(), json!(rid.name()));
        body.insert("type".into(), json!(rid.type_name()));
        body.insert("location".into(), json!(def.location));
        if let Some(k) = &def.kind {
            body.insert("kind".into(), json!(k));
        }
        for (field, table) in [("sku", &def.sku), ("tags", &def.tags)] {
            if let Some(t) = table {
                body.insert(field.into(), toml_to_json(&toml::Value::Table(t.clone())));
            }
        }
        body.insert(
            "properties".into(),
            toml_to_json(&toml::Value::Table(def.properties.clone())),
        );
        let region = normalize_region(def.region.as_deref().unwrap_or(&def.location));
        self.ensure_group(&rid, &def.location);
        self.resources.insert(
            armid::key(&def.id),
            Res {
                id: def.id.clone(),
                body: Value::Object(body),
                region,
                health: def.health.clone().unwrap_or_else(|| "Available".into()),
                health_since: now,
            },
        );
    }

    /// Registers the resource group of `rid` (if it has one) the first time it is seen.
    pub fn ensure_group(&mut self, rid: &ResourceId, location: &str) {
        let Some(rg) = &rid.resource_group else {
            return;
        };
        let key = group_key(&rid.subscription, rg);
        let loc = normalize_region(location);
        match self.groups.get_mut(&key) {
            Some(g) if g.location == "global" && loc != "global" => g.location = loc,
            Some(_) => {}
            None => {
                self.groups.insert(
                    key,
                    Group {
                        subscription: rid.subscription.clone(),
                        name: rg.clone(),
                        location: loc,
                        declared: false,
                    },
                );
            }
        }
    }

    pub fn subscription_known(&self, sub: &str) -> bool {
        self.subscriptions
            .iter()
            .any(|(id, _)| id.eq_ignore_ascii_case(sub))
            || self
                .groups
                .values()
                .any(|g| g.subscription.eq_ignore_ascii_case(sub))
            || self.resources.values().any(|r| {
                ResourceId::parse(&r.id).is_some_and(|i| i.subscription.eq_ignore_ascii_case(sub))
            })
    }

    pub fn is_down(&self, region: &str) -> bool {
        let r = normalize_region(region);
        r != "global" && self.down.contains_key(&r)
    }

    pub fn get(&self, id: &str) -> Option<&Res> {
        self.resources.get(&armid::key(id))
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Res> {
        self.resources.get_mut(&armid::key(id))
    }

    /// The resource or its nearest ancestor that exists (for the region of a missing child).
    pub fn nearest(&self, rid: &ResourceId) -> Option<&Res> {
        let mut cur = Some(rid.clone());
        while let Some(c) = cur {
            if let Some(r) = self.get(&c.to_path()) {
                return Some(r);
            }
            cur = c.parent();
        }
        None
    }

    /// The resource's JSON as GET returns it now.
    pub fn rendered(&self, res: &Res) -> Value {
        render_times(&res.body, Utc::now())
    }

    /// The JSON at a resource id as GET returns it, whether or not its region is down.
    pub fn view(&self, id: &str) -> Option<Value> {
        self.get(id).map(|r| self.rendered(r))
    }

    /// Marks the estate changed: Resource Graph answers cached for paging are no longer used.
    pub fn changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    pub fn set_region(&mut self, region: &str, down: bool, at: DateTime<Utc>) {
        self.changed();
        let r = normalize_region(region);
        if r == "global" {
            return;
        }
        if down {
            self.down.entry(r).or_insert(at);
        } else {
            self.outages.remove(&r);
            self.down.remove(&r);
        }
    }

    /// Takes a region down with this way of answering (a region already down keeps its
    /// `since` and changes only how it answers).
    pub fn set_outage(&mut self, region: &str, outage: Outage, at: DateTime<Utc>) {
        let r = normalize_region(region);
        if r == "global" {
            return;
        }
        self.set_region(&r, true, at);
        self.outages.insert(r, outage);
    }

    /// How a down region answers (a plain 503 unless the scenario said otherwise).
    pub fn outage(&self, region: &str) -> Outage {
        self.outages
            .get(&normalize_region(region))
            .copied()
            .unwrap_or_default()
    }

    /// When the next timeline event or operation falls due (time after start).
    pub fn next_due(&self) -> Option<Duration> {
        let ev = self.events.get(self.next_event).map(|(at, _)| *at);
        let op = self
            .ops
            .values()
            .filter(|o| o.status == OpStatus::InProgress)
            .map(|o| o.due)
            .min();
        match (ev, op) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Applies, in time order, every event and operation due by `elapsed` after the start.
    /// Returns the log lines of the events applied.
    pub fn advance(&mut self, elapsed: Duration) -> Vec<String> {
        let mut log = Vec::new();
        loop {
            let ev = self
                .events
                .get(self.next_event)
                .map(|(at, _)| *at)
                .filter(|at| *at <= elapsed);
            let op = self
                .ops
                .values()
                .filter(|o| o.status == OpStatus::InProgress && o.due <= elapsed)
                .min_by_key(|o| o.due)
                .map(|o| (o.due, o.id.clone()));
            match (ev, op) {
                (Some(at), op) if op.as_ref().is_none_or(|(due, _)| at <= *due) => {
                    self.changed();
                    let event = self.events[self.next_event].1.clone();
                    self.next_event += 1;
                    let when = self.at(at);
                    log.push(format!(
                        "[sim +{:.1}s] {}",
                        at.as_secs_f64(),
                        super::timeline::apply_event(self, &event, when)
                    ));
                }
                (_, Some((due, id))) => {
                    self.changed();
                    let when = self.at(due);
                    super::actions::complete(self, &id, when);
                }
                _ => break,
            }
        }
        log
    }

    /// The wall-clock time of a moment after the start.
    pub fn at(&self, elapsed: Duration) -> DateTime<Utc> {
        chrono::TimeDelta::from_std(elapsed)
            .ok()
            .and_then(|d| self.started_utc.checked_add_signed(d))
            .unwrap_or(self.started_utc)
    }

    pub fn new_op_id(&mut self) -> String {
        let n = self.next_op;
        self.next_op += 1;
        format!("{:08x}-5151-4000-8000-{:012x}", n, n)
    }
}

pub fn group_key(sub: &str, rg: &str) -> String {
    armid::key(&format!("/subscriptions/{sub}/resourceGroups/{rg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SC: &str = r#"
[scenario]
id = "t"
title = "T"
lro_delay = "1s"

[[resource]]
id = "/subscriptions/s1/resourceGroups/rg-we/providers/Microsoft.Web/sites/app-we"
location = "West Europe"
kind = "app"
sku = { name = "P1v3" }
properties = { state = "Running", t = "${now}" }
extra = { identity = { type = "SystemAssigned" } }

[[event]]
at = "2s"
region_down = "westeurope"
note = "WE down"

[[event]]
at = "1s"
set = { resource = "/subscriptions/s1/resourceGroups/rg-we/providers/Microsoft.Web/sites/app-we", path = "properties.state", value = "Stopped" }
"#;

    fn state() -> SimState {
        let sc = Scenario::parse("t.toml", SC).unwrap();
        SimState::new(&sc, Utc::now())
    }

    #[test]
    fn builds_arm_json_from_the_scenario() {
        let st = state();
        let r = st
            .get("/SUBSCRIPTIONS/s1/resourcegroups/RG-WE/providers/microsoft.web/sites/APP-WE")
            .unwrap();
        assert_eq!(r.region, "westeurope");
        assert_eq!(r.body["name"], "app-we");
        assert_eq!(r.body["type"], "Microsoft.Web/sites");
        assert_eq!(r.body["kind"], "app");
        assert_eq!(r.body["sku"]["name"], "P1v3");
        assert_eq!(r.body["identity"]["type"], "SystemAssigned");
        assert_eq!(r.health, "Available");
        let v = st.rendered(r);
        assert!(v["properties"]["t"].as_str().unwrap().ends_with('Z'));
        assert!(st.groups.contains_key(&group_key("s1", "rg-we")));
        assert_eq!(st.groups[&group_key("s1", "rg-we")].location, "westeurope");
        assert!(st.subscription_known("S1"));
        assert!(!st.subscription_known("s2"));
    }

    #[test]
    fn advance_applies_events_in_time_order_once() {
        let mut st = state();
        assert_eq!(st.next_due(), Some(Duration::from_secs(1)));
        assert!(st.advance(Duration::from_millis(500)).is_empty());
        let log = st.advance(Duration::from_millis(1500));
        assert_eq!(log.len(), 1, "{log:?}");
        let id = "/subscriptions/s1/resourceGroups/rg-we/providers/Microsoft.Web/sites/app-we";
        assert_eq!(st.get(id).unwrap().body["properties"]["state"], "Stopped");
        assert!(!st.is_down("West Europe"));
        let log = st.advance(Duration::from_secs(10));
        assert_eq!(log, vec!["[sim +2.0s] WE down".to_string()]);
        assert!(st.is_down("West Europe"));
        assert!(st.view(id).is_some());
        assert!(st.advance(Duration::from_secs(20)).is_empty());
        assert_eq!(st.next_due(), None);
    }

    #[test]
    fn global_never_goes_down() {
        let mut st = state();
        st.set_region("global", true, Utc::now());
        assert!(!st.is_down("global"));
    }
}
