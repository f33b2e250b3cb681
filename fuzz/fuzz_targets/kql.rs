//! Any bytes as a Resource Graph query over a few rows of two tables: the KQL tokenizer,
//! parser, column check and evaluator (joins, unions, `parse`) may refuse, never panic. Run:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run kql fuzz/seeds-kql` (see README).
#![no_main]

use drbook_sim::kql;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn resources() -> Vec<Value> {
    vec![
        json!({"id": "/s/1/rg/a/p/x", "name": "x", "type": "microsoft.web/sites", "location": "westeurope",
               "resourceGroup": "a", "subscriptionId": "1", "tags": {"env": "prod"},
               "properties": {"state": "Running", "list": [1, "two", {"three": 3}], "when": "2026-01-01T00:00:00Z"}}),
        json!({"id": "/s/1/rg/b/p/y", "name": "y", "type": "microsoft.sql/servers/databases", "location": "northeurope",
               "resourceGroup": "b", "subscriptionId": "1", "tags": null, "properties": {"failoverGroupId": "/f"}}),
    ]
}

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let tables = |name: &str| match name {
        "resources" => Some(resources()),
        "resourcecontainers" => Some(vec![
            json!({"id": "/s/1", "name": "sub", "type": "microsoft.resources/subscriptions", "subscriptionId": "1"}),
            json!({"id": "/s/1/rg/a", "name": "a", "type": "microsoft.resources/subscriptions/resourcegroups", "location": "westeurope"}),
        ]),
        _ => None,
    };
    let _ = kql::run_tables(&query, &tables);
});
