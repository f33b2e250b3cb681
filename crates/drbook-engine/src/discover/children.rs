//! Child resources Resource Graph's `Resources` table does not hold: from the table that does
//! (one paged query), or with one list GET per parent that needs them.
//!
//! Resource Graph's table reference (`supported-tables-resources`) lists SQL servers and their
//! databases, Front Door profiles and their endpoints, Service Bus namespaces and user-assigned
//! identities in `Resources`, but not SQL failover groups, Front Door origin groups and
//! origins, Service Bus geo-DR configs and queues, or federated identity credentials.
//! Discovery needs some of them:
//!
//! - SQL failover groups: no GET. A database's own `failoverGroupId` (in Graph) names its
//!   group, and the partner is the database of the same name in a group of the same name in
//!   the secondary (`pairing::failover_group_partner`). A 10,000-resource estate has thousands
//!   of servers: a GET each would cost more than the whole Graph read.
//! - Front Door (Standard/Premium) origin groups and origins: the `cdnresources` table, one
//!   paged query (the Azure Proactive Resiliency Library's Front Door checks read them there),
//!   kept when their profile is in scope.
//! - Service Bus geo-DR configs: one list per Premium namespace (only Premium has geo-DR), and
//!   the queues of the namespaces that are a geo-DR primary (the runbooks name one).
//! - Federated identity credentials: one list per user-assigned identity, when the estate has
//!   an AKS cluster (they tie a cluster's pods to an identity).
//!
//! The rows are given the shape Graph gives (`id`, `name`, lower-case `type`, `location`,
//! `resourceGroup`, `subscriptionId`, `properties`, `tags`) so the analysis reads one kind of
//! row. A list that fails fails the discovery, naming the resource and the reason: half an
//! estate would give false findings.

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Value, json};

use drbook_azure::{ArmClient, AzureError};

use super::inventory::{Inventory, Resource};

/// Lists in flight at once.
const CONCURRENCY: usize = 16;

/// `(parent type, child collection, api-version)`.
struct List {
    parent: &'static str,
    collection: &'static str,
    api_version: &'static str,
}

const GEO_DR: List = List {
    parent: "microsoft.servicebus/namespaces",
    collection: "disasterRecoveryConfigs",
    api_version: "2021-11-01",
};
const QUEUES: List = List {
    parent: "microsoft.servicebus/namespaces",
    collection: "queues",
    api_version: "2021-11-01",
};
const CREDENTIALS: List = List {
    parent: "microsoft.managedidentity/userassignedidentities",
    collection: "federatedIdentityCredentials",
    api_version: "2023-01-31",
};

/// The `cdnresources` query: Front Door origin groups and origins, paged by `id`.
pub const CDN_QUERY: &str = "cdnresources | where type in~ ('microsoft.cdn/profiles/origingroups', 'microsoft.cdn/profiles/origingroups/origins') | project id, name, type, location, resourceGroup, subscriptionId, tags, properties";

/// `/subscriptions/.../profiles/p` of a Front Door child's id.
fn profile_of(id: &str) -> Option<&str> {
    let lower = id.to_ascii_lowercase();
    let i = lower.find("/origingroups/")?;
    Some(&id[..i])
}

/// Reads what the analysis needs beyond the `Resources` table and adds it to `inv`: one
/// Graph query on `cdnresources` over `subscriptions`, and list GETs. Returns how many list
/// GETs were made.
pub async fn read(
    arm: &ArmClient,
    subscriptions: &[String],
    inv: &mut Inventory,
) -> Result<usize, AzureError> {
    let mut calls = 0;
    // Front Door origin groups and origins: one query on their table.
    if inv.of_type("microsoft.cdn/profiles").next().is_some() {
        let rows = arm.graph(subscriptions, CDN_QUERY).await?;
        let in_scope: Vec<Value> = rows
            .into_iter()
            .filter(|row| {
                row.get("id")
                    .and_then(Value::as_str)
                    .and_then(profile_of)
                    .is_some_and(|p| inv.get(p).is_some())
            })
            .collect();
        inv.add_rows(&in_scope).map_err(|e| shape_error(&e))?;
    }
    // Round 1: geo-DR configs, credentials.
    let mut round: Vec<(&Resource, &List)> = Vec::new();
    round.extend(
        inv.of_type(GEO_DR.parent)
            .filter(|r| r.sku_name().eq_ignore_ascii_case("premium"))
            .map(|r| (r, &GEO_DR)),
    );
    if inv
        .of_type("microsoft.containerservice/managedclusters")
        .next()
        .is_some()
    {
        round.extend(inv.of_type(CREDENTIALS.parent).map(|r| (r, &CREDENTIALS)));
    }
    calls += round.len();
    let rows = list_all(arm, round).await?;
    inv.add_rows(&rows).map_err(|e| shape_error(&e))?;
    // Round 2: the queues of geo-DR primaries.
    let mut round: Vec<(&Resource, &List)> = Vec::new();
    round.extend(
        inv.of_type("microsoft.servicebus/namespaces/disasterrecoveryconfigs")
            .filter(|a| a.prop_str("role") == Some("Primary"))
            .filter_map(|a| a.parent().and_then(|p| inv.get(p)))
            .map(|ns| (ns, &QUEUES)),
    );
    calls += round.len();
    let rows = list_all(arm, round).await?;
    inv.add_rows(&rows).map_err(|e| shape_error(&e))?;
    Ok(calls)
}

fn shape_error(e: &str) -> AzureError {
    AzureError::new(
        "list",
        "child resources",
        drbook_azure::ErrorKind::Client,
        e.to_string(),
    )
}

/// Every list of `round`, at most [`CONCURRENCY`] at once, as Graph-shaped rows.
async fn list_all(
    arm: &ArmClient,
    round: Vec<(&Resource, &List)>,
) -> Result<Vec<Value>, AzureError> {
    let pages: Vec<Vec<Value>> = stream::iter(round.into_iter().map(|(parent, list)| {
        let path = format!("{}/{}", parent.id, list.collection);
        async move {
            let answer = arm.get(&path, list.api_version).await?;
            Ok::<_, AzureError>(rows_of(parent, &answer.body))
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect()
    .await?;
    Ok(pages.into_iter().flatten().collect())
}

/// The `value` of a list answer as Graph rows: the type from the id, the parent's location
/// where the child has none (origins, queues), the resource group and subscription of the
/// parent.
fn rows_of(parent: &Resource, body: &Value) -> Vec<Value> {
    body.get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let id = item.get("id").and_then(Value::as_str)?;
            let type_ = type_of(id)?;
            let location = item
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or(&parent.location);
            Some(json!({
                "id": id,
                "name": item.get("name").cloned().unwrap_or_else(|| json!(id.rsplit('/').next())),
                "type": type_,
                "location": location,
                "resourceGroup": parent.resource_group,
                "subscriptionId": parent.subscription,
                "tags": item.get("tags").cloned().unwrap_or(Value::Null),
                "sku": item.get("sku").cloned().unwrap_or(Value::Null),
                "properties": item.get("properties").cloned().unwrap_or(Value::Null),
            }))
        })
        .collect()
}

/// `microsoft.cdn/profiles/origingroups` from an id: the provider namespace and every type
/// segment, lower case.
fn type_of(id: &str) -> Option<String> {
    let (_, after) = id.rsplit_once("/providers/")?;
    let segs: Vec<&str> = after.split('/').collect();
    let ns = segs.first()?;
    let mut t = vec![ns.to_ascii_lowercase()];
    t.extend(
        segs.iter()
            .skip(1)
            .step_by(2)
            .map(|s| s.to_ascii_lowercase()),
    );
    (t.len() >= 2).then(|| t.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_childs_type_is_every_type_segment_of_its_id() {
        assert_eq!(
            type_of("/subscriptions/s/resourceGroups/g/providers/Microsoft.Cdn/profiles/p/originGroups/og/origins/o")
                .as_deref(),
            Some("microsoft.cdn/profiles/origingroups/origins")
        );
        assert_eq!(type_of("/subscriptions/s/resourceGroups/g"), None);
    }
}
