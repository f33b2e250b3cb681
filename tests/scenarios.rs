//! Scenarios and runbooks stay consistent.
//!
//! Every scenario under runbooks/scenarios/ must load. The westeurope-outage scenario, the demo
//! estate of the shipped runbooks, must hold every resource a shipped runbook step reads or
//! writes, an endpoint for every URL a probe calls, every property path a check expects or
//! extracts, so that a typo on either side
//! shows up here rather than in the middle of a demo.
//!
//! References are rendered with each runbook's variable defaults. A `${steps.<id>.<field>}`
//! reference is resolved when `<id>` is a check step whose resource is in the scenario (its
//! output is read from the scenario's JSON, e.g. a site's host name); steps that still cannot
//! be rendered are skipped, counted and printed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use drbook::checks::eval;
use drbook::runbook::model::{Runbook, Step, StepKind};
use drbook::runbook::path::JsonPath;
use drbook::runbook::template::{self, Ref};
use drbook::runbook::vars::scalar_text;
use drbook::sim::scenario::{ResourceDef, Scenario};
use serde_json::{Value, json};

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
/// runbook's first step. Best-effort writes (`on_failure = "continue"`, e.g. disabling what
/// runs in the primary) are exempt.
#[test]
fn every_group_a_runbook_writes_into_is_checked_first_and_outside_the_primary() {
    let (sc, estate) = westeurope();
    let mut problems = Vec::new();
    let mut checked = 0;
    for rb in shipped_runbooks() {
        let r = Renderer::new(&rb, &estate);
        let primary = r.vars.get("primary").cloned().unwrap_or_default();
        let groups: BTreeSet<String> = rb
            .steps
            .iter()
            .filter(|s| *s.kind.get_ref() == StepKind::Action)
            .filter(|s| {
                !s.on_failure
                    .as_ref()
                    .is_some_and(|o| *o.get_ref() == drbook::runbook::model::OnFailure::Continue)
            })
            .filter_map(|s| r.render(s.resource.as_ref()?.get_ref()).ok())
            .filter(|id| !resource_group(id).is_empty())
            .map(|id| {
                let sub = id.split('/').nth(2).unwrap_or_default().to_string();
                format!(
                    "/subscriptions/{sub}/resourceGroups/{}",
                    resource_group(&id)
                )
            })
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

// ------------------------------------------------------------------ property paths

#[test]
fn every_checked_property_exists_in_the_scenario() {
    let (_, estate) = westeurope();
    let mut problems = Vec::new();
    let mut checked = 0;
    for rb in shipped_runbooks() {
        let r = Renderer::new(&rb, &estate);
        for step in all_steps(&rb) {
            if *step.kind.get_ref() != StepKind::Check {
                continue;
            }
            let Some(id) = step
                .resource
                .as_ref()
                .and_then(|s| r.render(s.get_ref()).ok())
            else {
                continue;
            };
            // Absent resources are reported by the test above (or are created by a PUT).
            let Some(doc) = estate.get(strip_query(&id)) else {
                continue;
            };
            let mut paths: Vec<(String, &str)> = Vec::new();
            for (a, _) in step.expectations() {
                let Some(p) = &a.path else { continue };
                // An expectation that the value is absent needs no value.
                if a.exists.as_ref().is_some_and(|e| !*e.get_ref()) {
                    continue;
                }
                paths.push((p.get_ref().clone(), "expect"));
            }
            for (name, p) in &step.outputs {
                paths.push((p.get_ref().clone(), name.as_str()));
            }
            for (raw, what) in paths {
                let path = match r.render(&raw) {
                    Ok(p) => p,
                    Err(why) => {
                        problems.push(format!("{}: path `{raw}`: {why}", where_(&rb, step)));
                        continue;
                    }
                };
                let parsed = JsonPath::parse(&path)
                    .unwrap_or_else(|e| panic!("{}: path `{path}`: {e}", where_(&rb, step)));
                checked += 1;
                if parsed.select(doc).is_empty() {
                    let which = if what == "expect" {
                        "expects".to_string()
                    } else {
                        format!("extracts (output `{what}`)")
                    };
                    problems.push(format!(
                        "{}: {which} `{path}`, which `{id}` does not have in the scenario",
                        where_(&rb, step)
                    ));
                }
            }
        }
    }
    println!("property paths checked: {checked}");
    assert!(checked > 80, "only {checked} property paths were checked");
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
