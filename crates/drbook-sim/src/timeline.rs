//! The scenario's timeline: applying one event to the state (regions, values, health, fault
//! knobs) and describing it in a log line.

use chrono::{DateTime, Utc};

use super::armid::normalize_region;
use super::json::{set_path, toml_to_json};
use super::scenario::Event;
use super::state::SimState;

/// Applies every part of an event; returns what happened, for the log (the event's note when
/// it has one).
pub fn apply_event(st: &mut SimState, ev: &Event, when: DateTime<Utc>) -> String {
    let mut did = Vec::new();
    if let Some(r) = &ev.region_down {
        match ev.outage.as_ref().map(|o| o.parse()) {
            Some(Ok(o)) => {
                st.set_outage(r, o, when);
                did.push(format!(
                    "region {} goes down (ARM answers {:?}{})",
                    normalize_region(r),
                    o.arm,
                    if o.health_unknown {
                        ", Resource Health Unknown"
                    } else {
                        ""
                    }
                ));
            }
            // Checked when the scenario was read; a bad one still takes the region down.
            Some(Err(_)) | None => {
                st.set_region(r, true, when);
                did.push(format!("region {} goes down", normalize_region(r)));
            }
        }
    }
    if let Some(r) = &ev.region_up {
        st.set_region(r, false, when);
        did.push(format!("region {} is back", normalize_region(r)));
    }
    if ev.revoke_tokens {
        st.tokens.clear();
        did.push("every token issued so far is revoked".into());
    }
    if let Some(set) = &ev.set {
        let value = toml_to_json(&set.value);
        match st.get_mut(&set.resource) {
            Some(res) => match set_path(&mut res.body, &set.path, value.clone()) {
                Ok(()) => did.push(format!("{} {} = {}", short(&set.resource), set.path, value)),
                Err(e) => did.push(format!(
                    "cannot set {} on {}: {e}",
                    set.path,
                    short(&set.resource)
                )),
            },
            None => did.push(format!(
                "no resource {} to set {} on",
                set.resource, set.path
            )),
        }
    }
    if let Some(h) = &ev.health {
        match st.get_mut(&h.resource) {
            Some(res) => {
                res.health = h.state.clone();
                res.health_since = when;
                did.push(format!("{} health {}", short(&h.resource), h.state));
            }
            None => did.push(format!("no resource {} for health", h.resource)),
        }
    }
    if let Some(f) = &ev.faults {
        let seed = st.faults.seed;
        match st.faults.apply(f) {
            Ok(()) => {
                if st.faults.seed != seed {
                    use rand::SeedableRng;
                    st.rng = rand::rngs::StdRng::seed_from_u64(st.faults.seed);
                }
                let knobs: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v}")).collect();
                did.push(format!("faults {}", knobs.join(", ")));
            }
            Err(e) => did.push(format!("faults not changed: {e}")),
        }
    }
    match &ev.note {
        Some(n) => n.clone(),
        None if did.is_empty() => "(event with nothing to do)".into(),
        None => did.join("; "),
    }
}

/// The last two segments of an id (`sites/app-we`), enough to recognise it in a log line.
fn short(id: &str) -> String {
    let parts: Vec<&str> = id.rsplit('/').take(2).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn describes_events_without_notes() {
        let sc = Scenario::parse(
            "t.toml",
            r#"
[scenario]
id = "t"
title = "T"
[[resource]]
id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/a"
location = "westeurope"
[[event]]
at = "1s"
set = { resource = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/a", path = "properties.state", value = "Stopped" }
health = { resource = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/a", state = "Degraded" }
faults = { throttle_rate = 0.5, seed = 9 }
"#,
        )
        .unwrap();
        let mut st = SimState::new(&sc, Utc::now());
        let ev = sc.events[0].clone();
        let line = apply_event(&mut st, &ev, Utc::now());
        assert!(
            line.contains("sites/a properties.state = \"Stopped\""),
            "{line}"
        );
        assert!(line.contains("health Degraded"), "{line}");
        assert!(line.contains("throttle_rate=0.5"), "{line}");
        assert_eq!(st.faults.throttle_rate, 0.5);
        assert_eq!(st.faults.seed, 9);
        let r = st
            .get("/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/a")
            .unwrap();
        assert_eq!(r.health, "Degraded");
        assert_eq!(r.body["properties"]["state"], "Stopped");
    }
}
