//! Scenarios and runbooks stay consistent.
//!
//! Every scenario under runbooks/scenarios/ must load. The westeurope-outage scenario, the demo
//! estate of the shipped runbooks, must hold every resource a shipped runbook step reads or
//! writes, an endpoint for every URL a probe calls, every property path a check expects or
//! extracts, and the resources the Resource Graph queries select, so that a typo on either side
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

// ------------------------------------------------------------------ Resource Graph

/// The subset of KQL the shipped runbooks use, enough to find which scenario resources a query
/// selects: `Resources | where <field> =~ '<v>' and <field> in~ ('a', 'b') ... | project a, b =
/// path | summarize count() by type`.
#[derive(Debug, Default)]
struct Query {
    /// field -> allowed values (lower case)
    filters: Vec<(String, Vec<String>)>,
    /// column -> JSON path in the resource
    project: Vec<(String, String)>,
    summarize_by: Option<String>,
}

fn parse_query(q: &str) -> Result<Query, String> {
    let mut out = Query::default();
    let mut stages = q.split('|').map(str::trim);
    let first = stages.next().unwrap_or_default();
    if !first.eq_ignore_ascii_case("resources") {
        return Err(format!("the query starts with `{first}`, not `Resources`"));
    }
    let quoted = |s: &str| -> Result<String, String> {
        let s = s.trim();
        s.strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .map(|s| s.to_ascii_lowercase())
            .ok_or_else(|| format!("expected a quoted string, found `{s}`"))
    };
    for stage in stages {
        if let Some(preds) = stage.strip_prefix("where ") {
            for pred in preds.split(" and ") {
                let pred = pred.trim();
                if let Some((f, v)) = pred.split_once(" in~ ").or_else(|| pred.split_once(" in ")) {
                    let list = v
                        .trim()
                        .strip_prefix('(')
                        .and_then(|v| v.strip_suffix(')'))
                        .ok_or_else(|| format!("`{pred}`: expected a list in parentheses"))?;
                    let values = list.split(',').map(quoted).collect::<Result<_, _>>()?;
                    out.filters.push((f.trim().to_string(), values));
                } else if let Some((f, v)) =
                    pred.split_once(" =~ ").or_else(|| pred.split_once(" == "))
                {
                    out.filters.push((f.trim().to_string(), vec![quoted(v)?]));
                } else {
                    return Err(format!("predicate `{pred}` is not supported by this test"));
                }
            }
        } else if let Some(cols) = stage.strip_prefix("project ") {
            for col in cols.split(',') {
                let (name, path) = match col.split_once('=') {
                    Some((n, p)) => (n.trim(), p.trim()),
                    None => (col.trim(), col.trim()),
                };
                out.project.push((name.to_string(), path.to_string()));
            }
        } else if let Some(by) = stage.strip_prefix("summarize count() by ") {
            out.summarize_by = Some(by.trim().to_string());
        } else {
            return Err(format!("stage `{stage}` is not supported by this test"));
        }
    }
    Ok(out)
}

fn field_text(doc: &Value, field: &str) -> Option<String> {
    let found = JsonPath::parse(field).ok()?.select(doc);
    found.first().map(|v| eval::show(v).to_ascii_lowercase())
}

#[test]
fn every_graph_query_finds_what_it_expects() {
    let (_, estate) = westeurope();
    let mut docs: Vec<&Value> = estate.docs.values().collect();
    docs.sort_by_key(|d| d["id"].as_str().unwrap_or_default().to_string());
    let now = chrono::Utc::now();
    let mut problems = Vec::new();
    let mut checked = 0;
    for rb in shipped_runbooks() {
        let r = Renderer::new(&rb, &estate);
        for step in all_steps(&rb) {
            if *step.kind.get_ref() != StepKind::Graph {
                continue;
            }
            let at = where_(&rb, step);
            let Some(q) = &step.query else { continue };
            let q = r
                .render(q.get_ref())
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            let query = parse_query(&q).unwrap_or_else(|e| panic!("{at}: {e}\n{q}"));
            checked += 1;
            let selected: Vec<&Value> =
                docs.iter()
                    .copied()
                    .filter(|d| {
                        query.filters.iter().all(|(f, allowed)| {
                            field_text(d, f).is_some_and(|v| allowed.contains(&v))
                        })
                    })
                    .collect();
            // Every value a filter lists must select something: a type or name listed in a
            // query and missing from the estate is a typo on one side.
            for (f, allowed) in &query.filters {
                for v in allowed {
                    if !selected
                        .iter()
                        .any(|d| field_text(d, f).as_deref() == Some(v))
                    {
                        problems.push(format!(
                            "{at}: the query selects {f} `{v}`, and the scenario has no such resource that also meets the other conditions"
                        ));
                    }
                }
            }
            let rows: Vec<Value> = match &query.summarize_by {
                Some(by) => {
                    let groups: BTreeSet<String> =
                        selected.iter().filter_map(|d| field_text(d, by)).collect();
                    groups.into_iter().map(|g| json!({ by: g })).collect()
                }
                None => selected
                    .iter()
                    .map(|d| {
                        let mut row = serde_json::Map::new();
                        for (name, path) in &query.project {
                            let v = JsonPath::parse(path)
                                .ok()
                                .and_then(|p| p.select(d).first().map(|v| (*v).clone()))
                                .unwrap_or(Value::Null);
                            row.insert(name.clone(), v);
                        }
                        Value::Object(row)
                    })
                    .collect(),
            };
            let render = |s: &str| r.render(s);
            if let Some(a) = &step.expect_rows {
                let op = eval::the_op(a.get_ref()).unwrap_or_else(|| panic!("{at}: no operator"));
                let op = eval::render_op(&op, &render).unwrap_or_else(|e| panic!("{at}: {e}"));
                let v = eval::evaluate("", &op, &json!(rows.len()), now);
                if !v.holds {
                    problems.push(format!(
                        "{at}: rows: expected {}, the scenario gives {}",
                        v.expected,
                        rows.len()
                    ));
                }
            }
            for (a, _) in step.expectations() {
                let path = a.path.as_ref().map(|p| p.get_ref().as_str()).unwrap_or("");
                let op = eval::the_op(a).unwrap_or_else(|| panic!("{at}: no operator"));
                let op = eval::render_op(&op, &render).unwrap_or_else(|e| panic!("{at}: {e}"));
                for row in &rows {
                    let v = eval::evaluate(path, &op, row, now);
                    if !v.holds {
                        problems.push(format!(
                            "{at}: row {row}: expected {}, found {}",
                            v.expected, v.actual
                        ));
                    }
                }
            }
        }
    }
    println!("graph queries checked: {checked}");
    assert!(checked >= 4, "only {checked} graph queries were checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

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

// ------------------------------------------------------------------ state after the outage

/// `"${now-4m}"` as the simulator serves it: an RFC 3339 time that long ago.
fn render_times(v: &mut Value, now: chrono::DateTime<chrono::Utc>) {
    match v {
        Value::String(s) => {
            if let Some(ago) = s.strip_prefix("${now-").and_then(|r| r.strip_suffix('}')) {
                let d = drbook::runbook::validate::parse_duration(ago)
                    .unwrap_or_else(|e| panic!("`{s}`: {e}"));
                let at = now - chrono::Duration::from_std(d).expect("a short duration");
                *s = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| render_times(i, now)),
        Value::Object(map) => map.values_mut().for_each(|i| render_times(i, now)),
        _ => {}
    }
}

fn set_path(doc: &mut Value, path: &str, value: Value) {
    let mut at = doc;
    let keys: Vec<&str> = path.split('.').collect();
    for k in &keys[..keys.len() - 1] {
        at = at
            .get_mut(*k)
            .unwrap_or_else(|| panic!("set `{path}`: no `{k}`"));
    }
    at[keys[keys.len() - 1]] = value;
}

/// A step that changes state, or depends (transitively) on one: what it reads depends on what
/// the simulator's actions do, which is the simulator's own tests' business.
fn after_a_change(rb: &Runbook, step: &Step, seen: &mut BTreeSet<String>) -> bool {
    let changes = match step.kind.get_ref() {
        StepKind::Action => true,
        StepKind::Command => step.destructive.as_ref().is_some_and(|d| *d.get_ref()),
        _ => false,
    };
    changes
        || step.depends_on.iter().any(|d| {
            seen.insert(d.get_ref().clone())
                && rb
                    .steps
                    .iter()
                    .find(|s| s.id.get_ref() == d.get_ref())
                    .is_some_and(|s| after_a_change(rb, s, seen))
        })
}

/// The steps that run before anything changes see the estate as the outage left it: a step
/// that reads a resource gone with West Europe must tolerate the failure, and every other
/// check and health step must hold, unless it is informational (`on_failure = "continue"`).
#[test]
fn checks_before_any_change_hold_after_the_outage() {
    use drbook::runbook::model::OnFailure;
    let (sc, mut estate) = westeurope();
    let now = chrono::Utc::now();
    for doc in estate.docs.values_mut() {
        render_times(doc, now);
    }
    let down: BTreeSet<String> = sc
        .events
        .iter()
        .filter_map(|e| e.region_down.clone())
        .collect();
    let region_of: HashMap<String, String> = sc
        .resources
        .iter()
        .map(|r| {
            let region = r.region.clone().unwrap_or_else(|| r.location.clone());
            (
                r.id.to_ascii_lowercase(),
                region.to_ascii_lowercase().replace(' ', ""),
            )
        })
        .collect();
    let mut health: HashMap<String, String> = sc
        .resources
        .iter()
        .map(|r| {
            let h = r.health.clone().unwrap_or_else(|| "Available".into());
            (r.id.to_ascii_lowercase(), h)
        })
        .collect();
    for e in &sc.events {
        if let Some(set) = &e.set {
            let doc = estate
                .docs
                .get_mut(&set.resource.to_ascii_lowercase())
                .expect("checked by Scenario::load");
            set_path(doc, &set.path, to_json(&set.value));
        }
        if let Some(h) = &e.health {
            health.insert(h.resource.to_ascii_lowercase(), h.state.clone());
        }
    }
    let mut problems = Vec::new();
    let mut informational = Vec::new();
    let mut checked = 0;
    for rb in shipped_runbooks() {
        let r = Renderer::new(&rb, &estate);
        for step in &rb.steps {
            let kind = *step.kind.get_ref();
            if !matches!(kind, StepKind::Check | StepKind::Health | StepKind::Action) {
                continue;
            }
            let Some(Ok(id)) = step.resource.as_ref().map(|s| r.render(s.get_ref())) else {
                continue;
            };
            let method = step.method.as_ref().map(|m| m.get_ref().as_str());
            let key = target(&id, method).to_ascii_lowercase();
            let tolerant = step
                .on_failure
                .as_ref()
                .is_some_and(|o| *o.get_ref() == OnFailure::Continue);
            let at = where_(&rb, step);
            if region_of.get(&key).is_some_and(|reg| down.contains(reg)) {
                checked += 1;
                if !tolerant {
                    problems.push(format!(
                        "{at}: `{id}` is down with its region, and the step does not tolerate the failure"
                    ));
                }
                continue;
            }
            if kind == StepKind::Action || after_a_change(&rb, step, &mut BTreeSet::new()) {
                continue;
            }
            let Some(doc) = estate.get(strip_query(&id)) else {
                continue;
            };
            let health_doc;
            let (doc, expectations) = if kind == StepKind::Health {
                let state = health.get(&key).cloned().unwrap_or_default();
                health_doc = json!({ "properties": { "availabilityState": state } });
                let default = (
                    "properties.availabilityState".to_string(),
                    drbook::runbook::model::Op::Equals(toml::Value::from("Available")),
                );
                let ex: Vec<_> = step
                    .expectations()
                    .iter()
                    .map(|(a, _)| {
                        let p = a.path.as_ref().map(|p| p.get_ref().clone());
                        (p.unwrap_or_default(), eval::the_op(a).expect("an operator"))
                    })
                    .collect();
                (&health_doc, if ex.is_empty() { vec![default] } else { ex })
            } else {
                let ex = step
                    .expectations()
                    .iter()
                    .map(|(a, _)| {
                        let p = a.path.as_ref().map(|p| p.get_ref().clone());
                        (p.unwrap_or_default(), eval::the_op(a).expect("an operator"))
                    })
                    .collect();
                (doc, ex)
            };
            let render = |s: &str| r.render(s);
            for (path, op) in expectations {
                let path = r.render(&path).unwrap_or_else(|e| panic!("{at}: {e}"));
                let op = eval::render_op(&op, &render).unwrap_or_else(|e| panic!("{at}: {e}"));
                checked += 1;
                let v = eval::evaluate(&path, &op, doc, now);
                if v.holds {
                    continue;
                }
                let msg = format!("{at}: expected {}, found {}", v.expected, v.actual);
                if tolerant {
                    informational.push(msg);
                } else {
                    problems.push(msg);
                }
            }
        }
    }
    println!("expectations and outage reads checked: {checked}");
    for i in &informational {
        println!("  informational step fails, as designed: {i}");
    }
    assert!(checked >= 40, "only {checked} were checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
