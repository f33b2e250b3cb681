//! Scenarios and runbooks stay consistent, and both stay with Azure's own contracts.
//!
//! Every scenario under runbooks/scenarios/ must load. The westeurope-outage scenario, the demo
//! estate of the shipped runbooks, must hold every resource a shipped runbook step reads or
//! writes and an endpoint for every URL a probe calls, so that a typo on either side shows up
//! here rather than in the middle of a demo.
//!
//! Which api-versions, statuses and keys are right is not decided by the scenario (written for
//! the runbooks) but by tests/contracts/arm.toml, the facts of Azure's REST API specs: every ARM
//! call of a runbook must use an api-version the specs list and read only keys the spec's
//! answer has, and the simulator must answer each of those calls with the spec's status,
//! headers and keys.
//!
//! References are rendered with each runbook's variable defaults. A `${steps.<id>.<field>}`
//! reference is resolved when `<id>` is a check step whose resource is in the scenario (its
//! output is read from the scenario's JSON, e.g. a site's host name); steps that still cannot
//! be rendered are skipped, counted and printed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use drbook::azure::reads::{GRAPH_API_VERSION, HEALTH_API_VERSION};
use drbook::checks::eval;
use drbook::checks::storage::GEO_API_VERSION;
use drbook::runbook::model::{Assertion, Runbook, Step, StepKind};
use drbook::runbook::path::{JsonPath, Segment};
use drbook::runbook::template::{self, Ref};
use drbook::runbook::vars::scalar_text;
use drbook::sim::scenario::{ResourceDef, Scenario};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) mod estates;
mod sim_answers;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = root().join("runbooks/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("runbooks/scenarios exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_loads() {
    let files = scenario_files();
    assert!(!files.is_empty(), "no scenario in runbooks/scenarios");
    for f in files {
        if let Err(e) = Scenario::load(&f) {
            panic!("{e}");
        }
    }
}

// ------------------------------------------------------------------ the estate as JSON

/// The scenario's resources as the ARM JSON the simulator serves, by lower-cased id.
struct Estate {
    docs: HashMap<String, Value>,
}

/// `Microsoft.Web/sites/x` from `/subscriptions/../providers/Microsoft.Web/sites/x`; nested
/// types keep every type segment (`Microsoft.Sql/servers/databases`).
fn arm_type(id: &str) -> String {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let Some(p) = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    else {
        return String::new();
    };
    let rest = &segs[p + 1..];
    let mut out = rest.first().map(|s| s.to_string()).unwrap_or_default();
    for t in rest[1..].iter().step_by(2) {
        out.push('/');
        out.push_str(t);
    }
    out
}

fn resource_group(id: &str) -> String {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    segs.iter()
        .position(|s| s.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| segs.get(i + 1))
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn to_json<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("TOML converts to JSON")
}

fn resource_doc(r: &ResourceDef) -> Value {
    let name = r.id.rsplit('/').next().unwrap_or_default();
    let mut doc = json!({
        "id": r.id,
        "name": name,
        "type": arm_type(&r.id),
        "location": r.location,
        "resourceGroup": resource_group(&r.id),
        "properties": to_json(&r.properties),
    });
    let obj = doc.as_object_mut().expect("an object");
    if let Some(k) = &r.kind {
        obj.insert("kind".into(), json!(k));
    }
    if let Some(s) = &r.sku {
        obj.insert("sku".into(), to_json(s));
    }
    if let Some(t) = &r.tags {
        obj.insert("tags".into(), to_json(t));
    }
    if let Some(extra) = &r.extra {
        for (k, v) in extra {
            obj.insert(k.clone(), to_json(v));
        }
    }
    doc
}

impl Estate {
    fn new(sc: &Scenario) -> Estate {
        let mut docs = HashMap::new();
        for r in &sc.resources {
            let prev = docs.insert(r.id.to_ascii_lowercase(), resource_doc(r));
            assert!(prev.is_none(), "resource `{}` is defined twice", r.id);
        }
        // Declared resource groups, as `GET /subscriptions/{s}/resourceGroups/{g}` answers.
        for g in &sc.resource_groups {
            let name = g.id.rsplit('/').next().unwrap_or_default();
            docs.insert(
                g.id.to_ascii_lowercase(),
                json!({
                    "id": g.id,
                    "name": name,
                    "type": "Microsoft.Resources/resourceGroups",
                    "location": g.location.to_ascii_lowercase().replace(' ', ""),
                    "properties": { "provisioningState": "Succeeded" },
                }),
            );
        }
        Estate { docs }
    }

    fn get(&self, id: &str) -> Option<&Value> {
        self.docs.get(&id.to_ascii_lowercase())
    }
}

fn westeurope() -> (Scenario, Estate) {
    let sc = Scenario::load(&root().join("runbooks/scenarios/westeurope-outage.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let estate = Estate::new(&sc);
    (sc, estate)
}

fn shipped_runbooks() -> Vec<Runbook> {
    let set = drbook::runbook::load_paths(&[root().join("runbooks")]).expect("runbooks load");
    assert_eq!(
        set.error_count(),
        0,
        "the shipped runbooks have errors: {:?}",
        set.diagnostics
    );
    assert!(
        set.runbooks.len() >= 13,
        "expected the 13 shipped runbooks, found {}",
        set.runbooks.len()
    );
    set.runbooks
}

// ------------------------------------------------------------------ rendering

/// Renders runbook strings with the variable defaults, and step outputs read from the estate.
struct Renderer<'a> {
    rb: &'a Runbook,
    estate: &'a Estate,
    vars: BTreeMap<String, String>,
}

impl<'a> Renderer<'a> {
    fn new(rb: &'a Runbook, estate: &'a Estate) -> Self {
        let vars = rb
            .vars
            .iter()
            .filter_map(|v| {
                v.default
                    .as_ref()
                    .map(|d| (v.name.get_ref().clone(), scalar_text(d.get_ref())))
            })
            .collect();
        Renderer { rb, estate, vars }
    }

    fn step(&self, id: &str) -> Option<&'a Step> {
        self.rb
            .steps
            .iter()
            .chain(&self.rb.rollbacks)
            .find(|s| s.id.get_ref() == id)
    }

    /// An output of a check step whose resource is in the estate, read from its JSON.
    fn output(&self, step: &str, field: &str) -> Option<String> {
        let s = self.step(step)?;
        if *s.kind.get_ref() != StepKind::Check {
            return None;
        }
        let path = s.outputs.get(field)?;
        let id = self.render(s.resource.as_ref()?.get_ref()).ok()?;
        let doc = self.estate.get(strip_query(&id))?;
        let found = JsonPath::parse(path.get_ref()).ok()?.select(doc);
        found.first().map(|v| eval::show(v))
    }

    /// `Err` names the reference that cannot be rendered.
    fn render(&self, s: &str) -> Result<String, String> {
        template::render(s, |r| match r {
            Ref::Var(n) => self.vars.get(n).cloned(),
            Ref::Runbook(f) => match f.as_str() {
                "id" => Some(self.rb.id().to_string()),
                "title" => Some(self.rb.meta.title.get_ref().clone()),
                "component" => Some(self.rb.meta.component.get_ref().as_str().to_string()),
                "owner" => self.rb.meta.owner.as_ref().map(|o| o.get_ref().clone()),
                "rto" => self.rb.meta.rto.as_ref().map(|o| o.get_ref().clone()),
                "rpo" => self.rb.meta.rpo.as_ref().map(|o| o.get_ref().clone()),
                _ => None,
            },
            Ref::Step { step, field } => self.output(step, field),
            Ref::Incident(_) => None,
        })
        .map_err(|e| e.to_string())
    }
}

fn strip_query(id: &str) -> &str {
    id.split('?').next().unwrap_or(id)
}

/// The resource an ARM step is about. A POST always names an action: the resource is the id
/// without it (`.../sites/x/start` -> `.../sites/x`); the simulator runs a Logic App trigger
/// (`.../workflows/w/triggers/t/run`) as an action of its workflow. PUT, PATCH, DELETE and
/// reads are about the id itself.
fn target(id: &str, method: Option<&str>) -> String {
    let id = strip_query(id);
    if !method.is_some_and(|m| m.eq_ignore_ascii_case("POST")) {
        return id.to_string();
    }
    let mut segs: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    segs.pop();
    let n = segs.len();
    if n >= 2 && segs[n - 2].eq_ignore_ascii_case("triggers") {
        segs.truncate(n - 2);
    }
    segs.join("/")
}

/// A PUT of a deployment creates it: it need not be in the scenario beforehand.
fn created_by_put(id: &str, method: Option<&str>) -> bool {
    method.is_some_and(|m| m.eq_ignore_ascii_case("PUT"))
        && arm_type(id).eq_ignore_ascii_case("Microsoft.Resources/deployments")
}

fn all_steps(rb: &Runbook) -> impl Iterator<Item = &Step> {
    rb.steps.iter().chain(&rb.rollbacks)
}

fn where_(rb: &Runbook, step: &Step) -> String {
    format!(
        "runbook `{}` ({}), step `{}`",
        rb.id(),
        rb.file.display(),
        step.id.get_ref()
    )
}

// ------------------------------------------------------------------ resources and endpoints

#[test]
fn every_resource_a_runbook_touches_is_in_the_scenario() {
    let (_, estate) = westeurope();
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut skipped = Vec::new();
    for rb in shipped_runbooks() {
        let r = Renderer::new(&rb, &estate);
        for step in all_steps(&rb) {
            let kind = *step.kind.get_ref();
            if !matches!(kind, StepKind::Check | StepKind::Health | StepKind::Action) {
                continue;
            }
            let Some(resource) = &step.resource else {
                continue;
            };
            let id = match r.render(resource.get_ref()) {
                Ok(id) => id,
                Err(why) => {
                    skipped.push(format!("{}: {why}", where_(&rb, step)));
                    continue;
                }
            };
            let method = step.method.as_ref().map(|m| m.get_ref().as_str());
            let want = target(&id, method);
            checked += 1;
            if estate.get(&want).is_none() && !created_by_put(&want, method) {
                problems.push(format!(
                    "{} ({kind}): no resource `{want}` in the scenario",
                    where_(&rb, step)
                ));
            }
        }
    }
    println!("resources checked: {checked}; skipped: {}", skipped.len());
    for s in &skipped {
        println!("  skipped {s}");
    }
    assert!(
        checked >= 70,
        "only {checked} resource references were checked"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_probed_url_has_an_endpoint() {
    let (sc, estate) = westeurope();
    let urls: BTreeSet<&str> = sc.endpoints.iter().map(|e| e.url.as_str()).collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut skipped = Vec::new();
    for rb in shipped_runbooks() {
        let r = Renderer::new(&rb, &estate);
        for step in all_steps(&rb) {
            if *step.kind.get_ref() != StepKind::Probe {
                continue;
            }
            let Some(url) = &step.url else { continue };
            let url = match r.render(url.get_ref()) {
                Ok(u) => u,
                Err(why) => {
                    skipped.push(format!("{}: {why}", where_(&rb, step)));
                    continue;
                }
            };
            checked += 1;
            if !urls.contains(url.as_str()) {
                problems.push(format!(
                    "{}: no [[endpoint]] for `{url}` in the scenario",
                    where_(&rb, step)
                ));
            }
        }
    }
    println!("probe URLs checked: {checked}; skipped: {}", skipped.len());
    for s in &skipped {
        println!("  skipped {s}");
    }
    assert!(checked >= 10, "only {checked} probe URLs were checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ------------------------------------------------------------------ resource groups

/// ARM refuses writes to every resource of a group located in a down region. So each group a
/// runbook writes into in an outage is declared in the estate, located outside the primary,
/// and the runbook checks that first: a `group-location` step reading the group, expecting
/// its `location` not to be the primary, that every write depends on or comes after as the
/// runbook's first step. Exempt: clean-up steps (failback, run once the primary is back), and a
/// group that only best-effort writes (`on_failure = "continue"`, e.g. disabling what runs in
/// the primary) go to while the estate locates it in the primary. A change whose outcome a
/// later check verifies (`on_failure = "continue"` on a failover) still needs the pre-flight.
#[test]
fn every_group_a_runbook_writes_into_is_checked_first_and_outside_the_primary() {
    let (sc, estate) = westeurope();
    let mut problems = Vec::new();
    let mut checked = 0;
    for rb in shipped_runbooks() {
        let r = Renderer::new(&rb, &estate);
        let primary = r.vars.get("primary").cloned().unwrap_or_default();
        let cleanups: BTreeSet<&str> = rb
            .steps
            .iter()
            .filter_map(|s| s.cleanup.as_ref().map(|c| c.get_ref().as_str()))
            .collect();
        let mut writes: BTreeMap<String, bool> = BTreeMap::new();
        for s in rb
            .steps
            .iter()
            .filter(|s| *s.kind.get_ref() == StepKind::Action)
            .filter(|s| !cleanups.contains(s.id.get_ref().as_str()))
        {
            let Some(id) = s.resource.as_ref().and_then(|x| r.render(x.get_ref()).ok()) else {
                continue;
            };
            if resource_group(&id).is_empty() {
                continue;
            }
            let sub = id.split('/').nth(2).unwrap_or_default().to_string();
            let g = format!(
                "/subscriptions/{sub}/resourceGroups/{}",
                resource_group(&id)
            );
            let best_effort = s
                .on_failure
                .as_ref()
                .is_some_and(|o| *o.get_ref() == drbook::runbook::model::OnFailure::Continue);
            let all_best_effort = writes.entry(g).or_insert(true);
            *all_best_effort &= best_effort;
        }
        let groups: BTreeSet<String> = writes
            .into_iter()
            .filter(|(g, all_best_effort)| {
                let in_primary = estate
                    .get(g)
                    .is_some_and(|doc| doc["location"] == json!(primary));
                !(*all_best_effort && in_primary)
            })
            .map(|(g, _)| g)
            .collect();
        for g in groups {
            checked += 1;
            match estate.get(&g) {
                Some(doc) if doc["location"] != json!(primary) => {}
                Some(_) => problems.push(format!(
                    "runbook `{}` writes into {g}, which the estate locates in {primary}",
                    rb.id()
                )),
                None => problems.push(format!(
                    "runbook `{}` writes into {g}, which the estate does not declare",
                    rb.id()
                )),
            }
            let pre = rb.steps.first().filter(|s| {
                s.id.get_ref() == "group-location"
                    && *s.kind.get_ref() == StepKind::Check
                    && s.resource
                        .as_ref()
                        .and_then(|x| r.render(x.get_ref()).ok())
                        .is_some_and(|x| x.eq_ignore_ascii_case(&g))
                    && s.expectations().iter().any(|(a, _)| {
                        a.path.as_ref().is_some_and(|p| p.get_ref() == "location")
                            && a.not_equals
                                .as_ref()
                                .is_some_and(|v| v.get_ref().as_str() == Some("${primary}"))
                    })
            });
            if pre.is_none() {
                problems.push(format!(
                    "runbook `{}` writes into {g} without first checking (step `group-location`) that it is not located in `${{primary}}`",
                    rb.id()
                ));
            }
        }
    }
    assert!(
        sc.resource_groups.len() >= 3,
        "the estate declares its groups"
    );
    // A registry is managed only through its home region, down in the outage: no runbook
    // step may depend on changing one through ARM.
    for rb in shipped_runbooks() {
        for s in rb
            .steps
            .iter()
            .filter(|s| *s.kind.get_ref() == StepKind::Action)
        {
            let res = s
                .resource
                .as_ref()
                .map(|r| r.get_ref().to_ascii_lowercase());
            if res.is_some_and(|r| r.contains("/microsoft.containerregistry/")) {
                problems.push(format!(
                    "{}: writes to a container registry through ARM",
                    where_(&rb, s)
                ));
            }
        }
    }
    assert!(checked >= 9, "only {checked} groups were checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// Graph queries, the state after the outage and every step's outcome are checked against the
// running simulator (real KQL engine, real client) in tests/carry_out.rs and tests/check.rs.

// ------------------------------------------------------------------ the scenario itself

#[test]
fn the_outage_and_its_side_events_are_on_the_timeline() {
    let (sc, estate) = westeurope();
    let down: Vec<&str> = sc
        .events
        .iter()
        .filter_map(|e| e.region_down.as_deref())
        .collect();
    assert_eq!(
        down,
        ["westeurope"],
        "the scenario takes West Europe down, once"
    );
    // Everything a failover is driven through must stay reachable while West Europe is down.
    for (what, id_part) in [
        ("Cosmos DB account", "/databaseAccounts/cosmos-shop"),
        ("Traffic Manager profile", "/trafficManagerProfiles/tm-shop"),
        ("Front Door profile", "/profiles/afd-shop"),
        ("storage account", "/storageAccounts/stshopdata"),
    ] {
        let r = sc
            .resources
            .iter()
            .find(|r| {
                r.id.to_ascii_lowercase()
                    .ends_with(&id_part.to_ascii_lowercase())
            })
            .unwrap_or_else(|| panic!("no {what}"));
        let region = r.region.as_deref().unwrap_or(&r.location);
        assert_ne!(
            region.to_ascii_lowercase().replace(' ', ""),
            "westeurope",
            "the {what} must not go down with West Europe"
        );
    }
    // Every backend condition names a value the resource has.
    for ep in &sc.endpoints {
        for b in &ep.backends {
            if let (Some(id), Some(path)) = (&b.resource, &b.path) {
                let doc = estate.get(id).expect("checked by Scenario::load");
                let found = JsonPath::parse(path)
                    .unwrap_or_else(|e| panic!("endpoint {}: {e}", ep.url))
                    .select(doc);
                assert!(
                    !found.is_empty(),
                    "endpoint {}: backend condition on `{path}`, which `{id}` does not have",
                    ep.url
                );
            }
        }
    }
    // Set events change values that exist (a typo would add a new, unused property).
    for e in &sc.events {
        if let Some(set) = &e.set {
            let doc = estate
                .get(&set.resource)
                .expect("checked by Scenario::load");
            let found = JsonPath::parse(&set.path)
                .unwrap_or_else(|err| panic!("event at {}: {err}", e.at))
                .select(doc);
            assert!(
                !found.is_empty(),
                "event at {}: sets `{}`, which `{}` does not have",
                e.at,
                set.path,
                set.resource
            );
        }
    }
    // Fault bursts stay small enough for the demo to remain usable.
    let mut faults = sc.faults.clone();
    for e in &sc.events {
        if let Some(f) = &e.faults {
            faults.apply(f).expect("valid fault knobs");
            for rate in [
                faults.throttle_rate,
                faults.error_rate,
                faults.drop_rate,
                faults.slow_rate,
            ] {
                assert!(rate <= 0.1, "event at {}: a fault rate above 10%", e.at);
            }
        }
    }
    assert_eq!(
        faults.throttle_rate, 0.0,
        "throttling ends before the timeline does"
    );
}

// ------------------------------------------------------------------ Azure's contracts
//
// The runbooks and the simulator are both held to tests/contracts/arm.toml, the facts kept
// from Azure's own REST API specifications, rather than to each other: a runbook may only use
// an api-version the specs list for its type, and only read keys the spec's answer has; the
// simulator must answer each call the runbooks make with the spec's status, headers and keys.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Contracts {
    #[serde(rename = "type")]
    types: Vec<ContractType>,
    #[serde(rename = "operation")]
    operations: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractType {
    #[serde(rename = "type")]
    name: String,
    spec: String,
    #[serde(default)]
    arm: bool,
    api_versions: Vec<String>,
    evidence: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Statuses {
    /// `"any"`: the spec's only answer is `default`.
    Any(String),
    Codes(Vec<u16>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Operation {
    id: String,
    #[serde(rename = "type")]
    type_name: String,
    method: String,
    action: Option<String>,
    #[serde(default)]
    collection: bool,
    api_version: String,
    /// The same operation, with the same answer, at these api-versions too.
    #[serde(default)]
    also: Vec<String>,
    status: Statuses,
    #[serde(default)]
    lro: bool,
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
    example: String,
    commit: String,
    #[serde(default)]
    schema_paths: Vec<String>,
    #[serde(default)]
    expand_only: Vec<String>,
    #[serde(default)]
    sometimes: Vec<String>,
    #[allow(dead_code)]
    evidence: Option<String>,
    response: Option<String>,
    request: Option<String>,
}

impl Operation {
    fn serves(&self, api_version: &str) -> bool {
        self.api_version == api_version || self.also.iter().any(|a| a == api_version)
    }

    fn allows(&self, status: u16) -> bool {
        match &self.status {
            Statuses::Any(_) => true,
            Statuses::Codes(c) => c.contains(&status),
        }
    }

    fn response(&self) -> Option<Value> {
        self.response
            .as_deref()
            .map(|r| serde_json::from_str(r).expect("checked by the_contracts_are_well_formed"))
    }

    fn name(&self) -> String {
        format!(
            "{} ({} {}{}, api-version {})",
            self.id,
            self.method,
            self.type_name,
            self.action
                .as_ref()
                .map(|a| format!("/{a}"))
                .unwrap_or_default(),
            self.api_version
        )
    }
}

fn contracts() -> Contracts {
    let path = root().join("tests/contracts/arm.toml");
    let text = std::fs::read_to_string(&path).expect("tests/contracts/arm.toml exists");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Contracts {
    fn type_of(&self, name: &str) -> Option<&ContractType> {
        self.types
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    fn operation(&self, call: &Call) -> Option<&Operation> {
        self.operations.iter().find(|o| {
            o.type_name.eq_ignore_ascii_case(&call.type_name)
                && o.method.eq_ignore_ascii_case(&call.method)
                && o.collection == call.collection
                && o.serves(&call.api_version)
                && match (&o.action, &call.action) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    (None, None) => true,
                    _ => false,
                }
        })
    }
}

#[test]
fn the_contracts_are_well_formed() {
    let text = std::fs::read_to_string(root().join("tests/contracts/arm.toml")).expect("exists");
    let head: String = text.lines().take(12).collect::<Vec<_>>().join("\n");
    assert!(
        head.contains("github.com/Azure/azure-rest-api-specs") && head.contains("MIT"),
        "the contracts name their source and its licence at the top"
    );
    let c = contracts();
    let hex = |s: &str| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let version = |v: &str| {
        let d = v.strip_suffix("-preview").unwrap_or(v);
        d.len() == 10 && d.split('-').map(str::len).eq([4, 2, 2])
    };
    let mut problems = Vec::new();
    for t in &c.types {
        if !t.spec.starts_with("specification/") || t.evidence.is_empty() {
            problems.push(format!("type {}: no spec folder or no evidence", t.name));
        }
        if t.api_versions.is_empty() || !t.api_versions.iter().all(|v| version(v)) {
            problems.push(format!(
                "type {}: api_versions {:?}",
                t.name, t.api_versions
            ));
        }
        let mut sorted = t.api_versions.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != t.api_versions {
            problems.push(format!("type {}: api_versions not oldest first", t.name));
        }
        // ARM itself serves Microsoft.Resources; everything else is a resource provider's.
        if t.arm != t.name.starts_with("Microsoft.Resources/") {
            problems.push(format!("type {}: arm = {}", t.name, t.arm));
        }
        let same = c
            .types
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case(&t.name))
            .count();
        if same != 1 {
            problems.push(format!("type {} is listed {same} times", t.name));
        }
    }
    for o in &c.operations {
        let Some(t) = c.type_of(&o.type_name) else {
            problems.push(format!("{}: type {} is not a [[type]]", o.id, o.type_name));
            continue;
        };
        for v in std::iter::once(&o.api_version).chain(&o.also) {
            if !t.api_versions.contains(v) {
                problems.push(format!(
                    "{}: api-version {v} is not one of its type's",
                    o.id
                ));
            }
        }
        if !hex(&o.commit) || !o.example.starts_with("specification/") {
            problems.push(format!(
                "{}: example {} at commit {}",
                o.id, o.example, o.commit
            ));
        }
        if o.method.eq_ignore_ascii_case("POST") != o.action.is_some()
            && o.type_name != "Microsoft.ResourceGraph/resources"
        {
            problems.push(format!(
                "{}: a POST names its action, nothing else does",
                o.id
            ));
        }
        if let Statuses::Any(a) = &o.status
            && a != "any"
        {
            problems.push(format!("{}: status is a list of codes or \"any\"", o.id));
        }
        for (code, names) in &o.headers {
            match code.parse::<u16>() {
                Ok(s) if o.allows(s) && !names.is_empty() => {}
                _ => problems.push(format!("{}: headers for status {code}", o.id)),
            }
        }
        for (what, json) in [("response", &o.response), ("request", &o.request)] {
            if let Some(j) = json
                && serde_json::from_str::<Value>(j).is_err()
            {
                problems.push(format!("{}: its {what} is not JSON", o.id));
            }
        }
        for p in o
            .schema_paths
            .iter()
            .chain(&o.expand_only)
            .chain(&o.sometimes)
        {
            if JsonPath::parse(p).is_err() {
                problems.push(format!("{}: path `{p}`", o.id));
            }
        }
        let twins = c
            .operations
            .iter()
            .filter(|x| {
                x.type_name.eq_ignore_ascii_case(&o.type_name)
                    && x.method == o.method
                    && x.action == o.action
                    && x.collection == o.collection
                    && std::iter::once(&x.api_version)
                        .chain(&x.also)
                        .any(|v| o.serves(v))
            })
            .count();
        if twins != 1 {
            problems.push(format!("{}: {twins} operations answer the same call", o.id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ------------------------------------------------------------------ what a step asks of ARM

/// One ARM call a step makes, as far as the contracts are concerned.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    /// `Microsoft.Web/sites`; nested types with every type segment.
    type_name: String,
    /// The action a POST names (`start`, `failover`).
    action: Option<String>,
    /// A GET of a collection (`.../federatedIdentityCredentials`).
    collection: bool,
    api_version: String,
}

/// `s` with every reference replaced by a placeholder: enough to know the type of a resource
/// and the shape of a path, whatever the variables hold.
fn placeholders(s: &str) -> String {
    template::render(s, |_| Some("x".to_string())).unwrap_or_else(|_| s.to_string())
}

/// The ARM call of a step, `None` for steps that make none; `Err` says why it cannot be known.
fn call_of(step: &Step) -> Option<Result<Call, String>> {
    let kind = *step.kind.get_ref();
    let api = step.api_version.as_ref().map(|a| a.get_ref().clone());
    let resource = step
        .resource
        .as_ref()
        .map(|r| placeholders(strip_query(r.get_ref())));
    let (method, path, api) = match kind {
        StepKind::Check => ("GET".to_string(), resource?, api),
        StepKind::Action => (
            step.method
                .as_ref()
                .map_or("POST".into(), |m| m.get_ref().to_ascii_uppercase()),
            resource?,
            api,
        ),
        StepKind::Health => (
            "GET".to_string(),
            format!(
                "{}/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
                resource?
            ),
            Some(api.unwrap_or_else(|| HEALTH_API_VERSION.to_string())),
        ),
        StepKind::Storage => (
            "GET".to_string(),
            resource?,
            Some(api.unwrap_or_else(|| GEO_API_VERSION.to_string())),
        ),
        StepKind::Graph => (
            "POST".to_string(),
            "/providers/Microsoft.ResourceGraph/resources".to_string(),
            Some(GRAPH_API_VERSION.to_string()),
        ),
        _ => return None,
    };
    let Some(api_version) = api else {
        return Some(Err("it names no api_version".into()));
    };
    let Some(type_name) = drbook::sim::apiversions::type_of(&method, &path) else {
        return Some(Err(format!("`{path}` is not an ARM resource path")));
    };
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
        .map_or(&segs[..0], |p| &segs[(p + 2).min(segs.len())..]);
    let odd = rest.len() % 2 == 1;
    let action =
        (method == "POST" && odd && rest.len() > 1).then(|| rest[rest.len() - 1].to_string());
    let collection = method == "GET" && odd && kind != StepKind::Health;
    Some(Ok(Call {
        method,
        type_name,
        action,
        collection,
        api_version,
    }))
}

fn short_where(rb: &Runbook, step: &Step) -> String {
    let file = rb
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "runbook `{}` ({file}), step `{}`",
        rb.id(),
        step.id.get_ref()
    )
}

/// Every path a step reads from the answer to its call: expectations (but those that the
/// value is absent), outputs, and conditions on its own answer.
fn paths_read(step: &Step) -> Vec<(String, String)> {
    fn conditions(a: &Assertion, out: &mut Vec<(String, String)>) {
        if let Some(p) = &a.path {
            out.push(("reads in its `when`".into(), p.get_ref().clone()));
        }
        for c in a.all.iter().chain(&a.any).flatten() {
            conditions(c.get_ref(), out);
        }
        if let Some(n) = &a.not {
            conditions(n.get_ref(), out);
        }
    }
    let mut out = Vec::new();
    for (a, _) in step.expectations() {
        let Some(p) = &a.path else { continue };
        if a.exists.as_ref().is_some_and(|e| !*e.get_ref()) {
            continue;
        }
        out.push(("expects".into(), p.get_ref().clone()));
    }
    for (name, p) in &step.outputs {
        out.push((format!("extracts (output `{name}`)"), p.get_ref().clone()));
    }
    if let Some(w) = &step.when {
        conditions(w.get_ref(), &mut out);
    }
    out
}

/// The path with every index and filter made `[*]`: its shape, whatever the values.
fn shape(p: &JsonPath) -> String {
    let mut out = String::new();
    for s in &p.0 {
        match s {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            _ => out.push_str("[*]"),
        }
    }
    out
}

/// Does `doc` have the keys of `path`? Filters and indexes stand for any element; a key whose
/// value is null is there.
fn has_path(doc: &Value, segs: &[Segment]) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        return true;
    };
    match first {
        Segment::Key(k) => match doc.as_object().and_then(|o| o.get(k)) {
            Some(Value::Null) => rest.is_empty(),
            Some(v) => has_path(v, rest),
            None => false,
        },
        _ => doc
            .as_array()
            .is_some_and(|a| a.iter().any(|e| has_path(e, rest))),
    }
}

/// Does the spec's answer of `op` have `path`, in its example or in its swagger definition?
fn spec_has(op: &Operation, path: &JsonPath) -> bool {
    if op.response().is_some_and(|r| has_path(&r, &path.0)) {
        return true;
    }
    let want = shape(path);
    op.schema_paths.iter().any(|s| {
        let s = JsonPath::parse(s).map(|p| shape(&p)).unwrap_or_default();
        s == want || s.starts_with(&format!("{want}.")) || s.starts_with(&format!("{want}["))
    })
}

/// Every way the runbooks' ARM calls depart from Azure's contracts; and how many calls were
/// checked.
fn contract_problems(runbooks: &[Runbook], c: &Contracts) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut checked = 0;
    for rb in runbooks {
        for step in all_steps(rb) {
            let Some(call) = call_of(step) else { continue };
            let at = short_where(rb, step);
            let call = match call {
                Ok(c) => c,
                Err(why) => {
                    problems.push(format!("{at}: {why}"));
                    continue;
                }
            };
            checked += 1;
            let Some(t) = c.type_of(&call.type_name) else {
                problems.push(format!(
                    "{at}: {} {} is a type tests/contracts/arm.toml does not know; add it with the \
                     api-versions Azure's specs list for it",
                    call.method, call.type_name
                ));
                continue;
            };
            if !t.api_versions.contains(&call.api_version) {
                problems.push(format!(
                    "{at}: api-version {} is not one Azure's specs list for {} ({})",
                    call.api_version,
                    t.name,
                    t.api_versions.join(", ")
                ));
                continue;
            }
            let Some(op) = c.operation(&call) else {
                problems.push(format!(
                    "{at}: tests/contracts/arm.toml has no operation for {} {}{}{} at api-version \
                     {}",
                    call.method,
                    call.type_name,
                    call.action
                        .as_ref()
                        .map(|a| format!("/{a}"))
                        .unwrap_or_default(),
                    if call.collection { " (a list)" } else { "" },
                    call.api_version
                ));
                continue;
            };
            if let Some(body) = &step.body {
                body_problems(&at, op, body.get_ref(), &mut problems);
            }
            // A query's expectations read the rows its KQL projects, not the answer's keys.
            if *step.kind.get_ref() == StepKind::Graph {
                continue;
            }
            for (what, raw) in paths_read(step) {
                let path = match JsonPath::parse(&placeholders(&raw)) {
                    Ok(p) => p,
                    Err(e) => {
                        problems.push(format!("{at}: path `{raw}`: {e}"));
                        continue;
                    }
                };
                if !spec_has(op, &path) {
                    problems.push(format!(
                        "{at}: {what} `{raw}`, which the answer of {} does not have (spec: {})",
                        op.name(),
                        op.example
                    ));
                }
            }
        }
    }
    (problems, checked)
}

/// Every key a step sends in its body must be one the spec's request takes.
fn body_problems(at: &str, op: &Operation, body: &toml::Value, problems: &mut Vec<String>) {
    fn leaves(v: &Value, at: Vec<Segment>, out: &mut Vec<Vec<Segment>>) {
        match v {
            Value::Object(o) if !o.is_empty() => {
                for (k, x) in o {
                    let mut p = at.clone();
                    p.push(Segment::Key(k.clone()));
                    leaves(x, p, out);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for x in a {
                    let mut p = at.clone();
                    p.push(Segment::All);
                    leaves(x, p, out);
                }
            }
            _ => out.push(at),
        }
    }
    let Some(want) = op
        .request
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
    else {
        problems.push(format!(
            "{at}: sends a body, which {} takes none of in tests/contracts/arm.toml",
            op.name()
        ));
        return;
    };
    let mut paths = Vec::new();
    leaves(&to_json(body), Vec::new(), &mut paths);
    for p in paths {
        if !has_path(&want, &p) {
            problems.push(format!(
                "{at}: sends `{}` in its body, which the request of {} does not take (spec: {})",
                shape(&JsonPath(p)),
                op.name(),
                op.example
            ));
        }
    }
}

#[test]
fn every_arm_call_of_the_runbooks_is_in_azures_specs() {
    let (problems, checked) = contract_problems(&shipped_runbooks(), &contracts());
    println!("ARM calls checked against the specs: {checked}");
    assert!(checked >= 80, "only {checked} ARM calls were checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The templates `drbook discover --out` writes runbooks from are held to the same specs.
#[test]
fn every_arm_call_of_the_templates_is_in_azures_specs() {
    let set = drbook::runbook::load_paths(&[root().join("templates")]).expect("templates load");
    assert_eq!(set.error_count(), 0, "{:?}", set.diagnostics);
    let (problems, checked) = contract_problems(&set.runbooks, &contracts());
    assert!(checked >= 80, "only {checked} ARM calls were checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The Logic App Standard template's reads and writes of its sites and plan among them.
    let std: Vec<Runbook> = set
        .runbooks
        .into_iter()
        .filter(|rb| rb.id() == "logic-standard-failover")
        .collect();
    let (_, checked) = contract_problems(&std, &contracts());
    assert!(
        checked >= 8,
        "only {checked} ARM calls of logic-standard-failover"
    );
}

/// The check above is no rubber stamp: a runbook that uses an api-version or reads a key the
/// specs do not have is reported, with the step, the spec and what it lists.
#[test]
fn a_runbook_off_the_specs_is_reported() {
    let original =
        std::fs::read_to_string(root().join("runbooks/web.toml")).expect("runbooks/web.toml");
    let mutate = |text: &str, from: &str, to: &str| {
        assert!(
            text.contains(from),
            "runbooks/web.toml has no `{from}` to change"
        );
        text.replacen(from, to, 1)
    };
    let text = mutate(
        &original,
        "api_version = \"2023-12-01\"",
        "api_version = \"2023-12-02\"",
    );
    let text = mutate(
        &text,
        "\"properties.defaultHostName\"",
        "\"properties.defaultHostname\"",
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("web.toml"), &text).expect("write the copy");
    let set = drbook::runbook::load_paths(&[dir.path().to_path_buf()]).expect("the copy loads");
    assert_eq!(set.error_count(), 0, "{:?}", set.diagnostics);
    let (problems, _) = contract_problems(&set.runbooks, &contracts());

    // Which steps the two changes landed in, as the messages name them.
    let rb = &set.runbooks[0];
    let step_with = |needle: &str| {
        all_steps(rb)
            .find(|s| {
                s.api_version
                    .as_ref()
                    .is_some_and(|a| a.get_ref() == needle)
                    || s.outputs.values().any(|p| p.get_ref() == needle)
            })
            .map(|s| s.id.get_ref().clone())
            .expect("a changed step")
    };
    let (bad_version, bad_path) = (
        step_with("2023-12-02"),
        step_with("properties.defaultHostname"),
    );
    let output = rb
        .steps
        .iter()
        .find(|s| *s.id.get_ref() == bad_path)
        .and_then(|s| {
            s.outputs
                .iter()
                .find(|(_, p)| p.get_ref() == "properties.defaultHostname")
        })
        .map(|(n, _)| n.clone())
        .expect("the changed output");
    let kind = rb
        .steps
        .iter()
        .find(|s| *s.id.get_ref() == bad_version)
        .and_then(call_of)
        .and_then(Result::ok)
        .map(|c| c.type_name)
        .expect("the changed step's type");
    let listed = contracts()
        .type_of(&kind)
        .expect("the step's type is in the contracts")
        .api_versions
        .join(", ");
    let expected = [
        format!(
            "runbook `{id}` (web.toml), step `{bad_version}`: api-version 2023-12-02 is not one \
             Azure's specs list for {kind} ({listed})",
            id = rb.id()
        ),
        format!(
            "runbook `{id}` (web.toml), step `{bad_path}`: extracts (output `{output}`) \
             `properties.defaultHostname`, which the answer of WebApps_Get (GET \
             Microsoft.Web/sites, api-version 2023-12-01) does not have (spec: \
             specification/web/resource-manager/Microsoft.Web/stable/2023-12-01/examples/GetWebApp.json)",
            id = rb.id()
        ),
    ];
    for p in &problems {
        println!("{p}");
    }
    assert_eq!(problems, expected);
}
