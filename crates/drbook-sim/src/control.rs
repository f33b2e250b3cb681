//! `/sim/*`: the simulator's own controls, exempt from faults and auth. Tokens, fault knobs,
//! injections, regions down and up, and a summary of the state.

use serde_json::{Value, json};

use super::armid::normalize_region;
use super::faults::{InjectionRequest, Outage, OutageDef};
use super::reply::{Reply, bad_body};
use super::scenario::Faults;
use super::server::{Shared, issue_token};
use super::state::OpStatus;

pub fn handle(sh: &Shared, method: &str, path: &str, body: &[u8]) -> Reply {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let json_body = || -> Result<Option<Value>, Reply> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(body)
            .map(Some)
            .map_err(|e| bad_body(&e.to_string()))
    };
    match (method, segs.as_slice()) {
        ("POST", ["sim", "token"]) => {
            // The scope is accepted and ignored: every token is good for every route.
            if let Err(r) = json_body() {
                return r;
            }
            let mut st = sh.lock();
            let lifetime = Faults::duration(&st.faults.token_lifetime);
            let (token, expiry) = issue_token(&mut st, lifetime);
            Reply::json(
                200,
                json!({
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_on": expiry.timestamp(),
                    "expires_in": lifetime.as_secs(),
                }),
            )
        }
        ("GET", ["sim", "state"]) => Reply::json(200, summary(sh)),
        ("GET", ["sim", "faults"]) => Reply::json(200, json!(sh.lock().faults)),
        ("POST", ["sim", "faults"]) => {
            let table = match json_body() {
                Ok(Some(v @ Value::Object(_))) => match toml::Table::try_from(v) {
                    Ok(t) => t,
                    Err(e) => return bad_body(&e.to_string()),
                },
                Ok(_) => return bad_body("the body must be a JSON object of fault knobs"),
                Err(r) => return r,
            };
            let mut st = sh.lock();
            let mut faults = st.faults.clone();
            if let Err(e) = faults.apply(&table) {
                return Reply::error(400, "InvalidFaults", e);
            }
            let reseed = table.contains_key("seed");
            set_faults(&mut st, faults, reseed);
            Reply::json(200, json!(st.faults))
        }
        ("POST", ["sim", "inject"]) => {
            let req: InjectionRequest = match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => return bad_body(&e.to_string()),
            };
            match req.into_injection() {
                Ok(i) => {
                    let mut st = sh.lock();
                    st.injections.push(i);
                    Reply::json(200, json!({ "pending": st.injections.len() }))
                }
                Err(e) => Reply::error(400, "InvalidInjection", e),
            }
        }
        ("POST", ["sim", "tokens", "revoke"]) => {
            revoke_tokens(sh);
            Reply::json(200, json!({ "revoked": true }))
        }
        ("POST", ["sim", "regions", region, "down"]) => {
            // An optional body says how the region answers: {"arm":"hang","health":"Unknown"}.
            let outage = match json_body() {
                Ok(None) => None,
                Ok(Some(v)) => match serde_json::from_value::<OutageDef>(v)
                    .map_err(|e| e.to_string())
                    .and_then(|d| d.parse())
                {
                    Ok(o) => Some(o),
                    Err(e) => return Reply::error(400, "InvalidOutage", e),
                },
                Err(r) => return r,
            };
            match outage {
                Some(o) => set_outage(sh, region, o),
                None => set_region(sh, region, true),
            }
            Reply::json(
                200,
                json!({ "region": normalize_region(region), "down": true }),
            )
        }
        ("POST", ["sim", "regions", region, "up"]) => {
            set_region(sh, region, false);
            Reply::json(
                200,
                json!({ "region": normalize_region(region), "down": false }),
            )
        }
        _ => Reply::error(
            404,
            "NotFound",
            format!(
                "No simulator control at {method} {path}. Controls: POST /sim/token, GET /sim/state, \
                 GET|POST /sim/faults, POST /sim/inject, POST /sim/regions/{{region}}/down|up, \
                 POST /sim/tokens/revoke."
            ),
        ),
    }
}

/// Replaces the fault knobs; a new seed restarts the random draws.
pub fn set_faults(st: &mut super::state::SimState, faults: Faults, reseed: bool) {
    use rand::SeedableRng;
    if reseed || faults.seed != st.faults.seed {
        st.rng = rand::rngs::StdRng::seed_from_u64(faults.seed);
    }
    st.faults = faults;
}

pub fn set_region(sh: &Shared, region: &str, down: bool) {
    let mut st = sh.lock();
    let at = st.at(sh.elapsed());
    st.set_region(region, down, at);
    sh.log(&format!(
        "[sim +{:.1}s] region {} {} (control)",
        sh.elapsed().as_secs_f64(),
        normalize_region(region),
        if down { "goes down" } else { "is back" }
    ));
}

/// Takes a region down answering as `outage` says.
pub fn set_outage(sh: &Shared, region: &str, outage: Outage) {
    let mut st = sh.lock();
    let at = st.at(sh.elapsed());
    st.set_outage(region, outage, at);
    sh.log(&format!(
        "[sim +{:.1}s] region {} goes down, ARM answers {:?} (control)",
        sh.elapsed().as_secs_f64(),
        normalize_region(region),
        outage.arm
    ));
}

/// Forgets every token issued so far: ARM refuses them as invalid (a revoked sign-in).
pub fn revoke_tokens(sh: &Shared) {
    sh.lock().tokens.clear();
    sh.log(&format!(
        "[sim +{:.1}s] every token issued so far is revoked (control)",
        sh.elapsed().as_secs_f64()
    ));
}

fn summary(sh: &Shared) -> Value {
    let st = sh.lock();
    let ops: Vec<Value> = st
        .ops
        .values()
        .map(|o| json!({ "id": o.id, "status": o.status.as_str(), "target": o.target }))
        .collect();
    json!({
        "scenario": st.scenario_id,
        "title": st.title,
        "elapsed_secs": sh.elapsed().as_secs_f64(),
        "regions_down": st.down.keys().collect::<Vec<_>>(),
        "outages": st.outages,
        "faults": st.faults,
        "injections_pending": st.injections.iter().map(|i| i.count).sum::<u32>(),
        "requests": sh.requests.load(std::sync::atomic::Ordering::SeqCst),
        "resources": st.resources.len(),
        "operations_in_progress": st.ops.values().filter(|o| o.status == OpStatus::InProgress).count(),
        "operations": ops,
        "events": {
            "applied": st.next_event,
            "total": st.events.len(),
            "next_at_secs": st.events.get(st.next_event).map(|(at, _)| at.as_secs_f64()),
        },
    })
}
