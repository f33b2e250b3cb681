//! Fixtures and helpers shared by the query engine's unit tests.

use super::*;
use serde_json::json;

pub(super) const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups";

pub(super) fn now() -> DateTime<Utc> {
    parse_datetime("2026-03-01T12:00:00Z").expect("valid test clock")
}

pub(super) fn web(
    name: &str,
    location: &str,
    rg: &str,
    state: &str,
    instances: i64,
    tags: Value,
) -> Value {
    json!({
        "id": format!("{SUB}/{rg}/providers/Microsoft.Web/sites/{name}"),
        "name": name, "type": "microsoft.web/sites", "kind": "app,linux",
        "location": location, "resourceGroup": rg, "subscriptionId": "00000000-0000-0000-0000-000000000001",
        "tags": tags,
        "properties": {"state": state, "defaultHostName": format!("{name}.azurewebsites.net"), "instances": instances}
    })
}

pub(super) fn failover_group(
    location: &str,
    rg: &str,
    role: &str,
    partner_location: &str,
) -> Value {
    json!({
        "id": format!("{SUB}/{rg}/providers/Microsoft.Sql/servers/sql-shop-{location}/failoverGroups/fog-shop"),
        "name": "fog-shop", "type": "microsoft.sql/servers/failovergroups",
        "location": location, "resourceGroup": rg, "tags": {"env": "prod"},
        "properties": {
            "replicationRole": role, "replicationState": "CATCH_UP",
            "readWriteEndpoint": {"failoverPolicy": "Automatic", "failoverWithDataLossGracePeriodMinutes": 60},
            "partnerServers": [{"location": partner_location, "replicationRole": if role == "Primary" { "Secondary" } else { "Primary" }}]
        }
    })
}

pub(super) fn storage(name: &str, location: &str, rg: &str, sku: &str, last_sync: &str) -> Value {
    json!({
        "id": format!("{SUB}/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"),
        "name": name, "type": "microsoft.storage/storageaccounts", "kind": "StorageV2",
        "location": location, "resourceGroup": rg, "sku": {"name": sku, "tier": "Standard"},
        "properties": {
            "primaryLocation": location, "statusOfSecondary": "available",
            "geoReplicationStats": {"status": "Live", "lastSyncTime": last_sync, "canFailover": sku.contains("RAGRS")}
        }
    })
}

/// Eight resources of a two-region shop; `stlogsneu` has no `tags` at all.
pub(super) fn fixture() -> Vec<Value> {
    let prod = json!({"env": "prod", "app": "shop"});
    let mut shop_storage = storage(
        "stshopweu",
        "westeurope",
        "rg-shop-westeurope",
        "Standard_RAGRS",
        "2026-03-01T11:57:00.1234567Z",
    );
    if let Some(map) = shop_storage.as_object_mut() {
        map.insert("tags".to_string(), prod.clone());
    }
    let mut logs = storage(
        "stlogsneu",
        "northeurope",
        "rg-shop-northeurope",
        "Standard_GRS",
        "2026-03-01T10:00:00Z",
    );
    if let Some(map) = logs.as_object_mut() {
        map.remove("tags");
    }
    vec![
        web(
            "app-shop-weu",
            "westeurope",
            "rg-shop-westeurope",
            "Running",
            3,
            prod.clone(),
        ),
        web(
            "app-shop-neu",
            "northeurope",
            "rg-shop-northeurope",
            "Stopped",
            0,
            json!({"env": "prod", "app": "shop", "role": "secondary"}),
        ),
        web(
            "app-admin-weu",
            "westeurope",
            "rg-admin",
            "Running",
            1,
            json!({"env": "dev"}),
        ),
        json!({
            "id": format!("{SUB}/rg-shop-westeurope/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-shop"),
            "name": "cosmos-shop", "type": "microsoft.documentdb/databaseaccounts", "kind": "GlobalDocumentDB",
            "location": "westeurope", "resourceGroup": "rg-shop-westeurope", "tags": prod.clone(),
            "properties": {
                "enableAutomaticFailover": true,
                "writeLocations": [{"locationName": "West Europe", "failoverPriority": 0}],
                "readLocations": [
                    {"locationName": "West Europe", "failoverPriority": 0},
                    {"locationName": "North Europe", "failoverPriority": 1}
                ],
                "consistencyPolicy": {"defaultConsistencyLevel": "Session"}
            }
        }),
        failover_group("westeurope", "rg-shop-westeurope", "Primary", "northeurope"),
        failover_group(
            "northeurope",
            "rg-shop-northeurope",
            "Secondary",
            "westeurope",
        ),
        shop_storage,
        logs,
    ]
}

pub(super) fn q(query: &str) -> Vec<Value> {
    run_at(query, &fixture(), now()).unwrap_or_else(|e| panic!("{query}: {e}"))
}

pub(super) fn count(query: &str) -> usize {
    q(query).len()
}

pub(super) fn names(query: &str) -> Vec<String> {
    q(query)
        .iter()
        .map(|row| row["name"].as_str().unwrap_or("<none>").to_string())
        .collect()
}

pub(super) fn err(query: &str) -> KqlError {
    match run_at(query, &fixture(), now()) {
        Ok(rows) => panic!("{query}: expected an error, got {rows:?}"),
        Err(e) => e,
    }
}

/// Asserts a parse error at `position` whose message contains every one of `needles`.
pub(super) fn parse_error(query: &str, position: usize, needles: &[&str]) {
    match err(query) {
        KqlError::Parse {
            position: p,
            message,
        } => {
            assert_eq!(p, position, "{query}: {message}");
            for needle in needles {
                assert!(
                    message.contains(needle),
                    "{query}: `{message}` lacks `{needle}`"
                );
            }
        }
        other => panic!("{query}: expected a parse error, got {other:?}"),
    }
}

pub(super) fn unsupported_error(query: &str, needle: &str) {
    match err(query) {
        KqlError::Unsupported { what } => assert!(what.contains(needle), "{query}: {what}"),
        other => panic!("{query}: expected Unsupported, got {other:?}"),
    }
}

pub(super) fn sorted_keys(row: &Value) -> Vec<String> {
    let mut keys: Vec<String> = row
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// One value computed for the single row named `name`.
pub(super) fn value_for(name: &str, expr: &str) -> Value {
    let rows = q(&format!(
        "Resources | where name == '{name}' | take 1 | project v = {expr}"
    ));
    assert_eq!(rows.len(), 1, "{expr}");
    rows[0]["v"].clone()
}
