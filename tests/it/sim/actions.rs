//! The simulator's actions, long-running operations and list paging, as ARM answers them.

use super::*;

// ------------------------------------------------------------------------------- actions

#[tokio::test]
async fn synchronous_actions_change_state() {
    let t = estate().await;
    let s = site("northeurope");
    assert_eq!(t.post(&format!("{s}/start"), None).await.status, 200);
    assert_eq!(
        t.sim.resource(&s).unwrap()["properties"]["state"],
        "Running"
    );
    assert_eq!(t.post(&format!("{s}/stop"), None).await.status, 200);
    assert_eq!(
        t.sim.resource(&s).unwrap()["properties"]["state"],
        "Stopped"
    );
    assert_eq!(t.post(&format!("{s}/restart"), None).await.status, 200);
    assert_eq!(t.get(&s).await.body["properties"]["state"], "Running");

    let w = workflow();
    let run = format!("{w}/triggers/manual/run");
    let r = t.post(&run, None).await;
    assert_eq!(r.status, 409, "a disabled workflow does not run");
    assert_eq!(t.post(&format!("{w}/enable"), None).await.status, 200);
    assert_eq!(t.get(&w).await.body["properties"]["state"], "Enabled");
    assert_eq!(t.post(&run, None).await.status, 202);
    assert_eq!(t.post(&format!("{w}/disable"), None).await.status, 200);
    assert_eq!(t.get(&w).await.body["properties"]["state"], "Disabled");

    let r = t.post(&format!("{s}/explode"), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "UnsupportedAction");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("explode") && msg.contains("Microsoft.Web/sites"),
        "{msg}"
    );

    let r = t
        .post(
            &format!(
                "{}/providers/Microsoft.Web/sites/ghost/start",
                rg("rg-shop-northeurope")
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn aks_start_is_long_running_polled_by_location() {
    let t = estate().await;
    let r = t.post(&format!("{}/start", aks()), None).await;
    assert_eq!(r.status, 202);
    // ManagedClusters_Start's example answers 202 with Location alone.
    assert!(r.header("azure-asyncoperation").is_none());
    let loc = r.header("location").unwrap().to_string();
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(loc.starts_with(&format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.Simulator/locations/northeurope/operationResults/",
        t.base
    )));
    // The operation is polled at the api-version of the request that started it.
    assert!(loc.ends_with(&format!("api-version={}", api_for(&aks()))));
    // Its status URL still answers, for a client that knows it.
    let op = loc.replace("/operationResults/", "/operationStatuses/");

    let during = t.get(&aks()).await;
    assert_eq!(during.body["properties"]["provisioningState"], "Starting");
    assert_eq!(t.get(&loc).await.status, 202);
    let s = t.get(&op).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["status"], "InProgress");
    assert!(s.body["startTime"].is_string());
    assert!(s.body.get("endTime").is_none());

    let done = t.poll_status(&op).await;
    assert_eq!(done.body["status"], "Succeeded");
    assert!(done.body["endTime"].is_string());
    let name = done.body["name"].as_str().unwrap();
    assert!(op.contains(name));
    let c = t.get(&aks()).await;
    assert_eq!(c.body["properties"]["powerState"]["code"], "Running");
    assert_eq!(c.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        c.body["properties"]["agentPoolProfiles"][0]["powerState"]["code"],
        "Running"
    );
    // an action without a body: the result is 204
    assert_eq!(t.get(&loc).await.status, 204);

    let r = t.post(&format!("{}/stop", aks()), None).await;
    let done = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(done.status, 204);
    assert_eq!(
        t.sim.resource(&aks()).unwrap()["properties"]["powerState"]["code"],
        "Stopped"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn cosmos_failover_priority_change_polled_by_location() {
    let t = estate().await;
    let action = format!("{}/failoverPriorityChange", cosmos());
    let bad = t
        .post(
            &action,
            Some(json!({"failoverPolicies": [{"locationName": "Mars", "failoverPriority": 0}]})),
        )
        .await;
    assert_eq!(bad.status, 400);
    let r = t
        .post(
            &action,
            Some(json!({"failoverPolicies": [
                {"locationName": "northeurope", "failoverPriority": 0},
                {"locationName": "westeurope", "failoverPriority": 1},
            ]})),
        )
        .await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();
    let first = t.get(&loc).await;
    assert_eq!(first.status, 202);
    assert!(first.header("location").is_some());
    assert_eq!(
        t.get(&cosmos()).await.body["properties"]["provisioningState"],
        "Updating"
    );
    let done = t.poll_location(&loc).await;
    assert_eq!(done.status, 204);
    let a = t.get(&cosmos()).await.body;
    assert_eq!(
        a["properties"]["writeLocations"][0]["locationName"],
        "North Europe"
    );
    assert_eq!(
        a["properties"]["readLocations"][0]["locationName"],
        "North Europe"
    );
    assert_eq!(a["properties"]["readLocations"][0]["failoverPriority"], 0);
    assert_eq!(a["properties"]["readLocations"][1]["failoverPriority"], 1);
    let ne = a["properties"]["failoverPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["locationName"] == "North Europe")
        .unwrap();
    assert_eq!(ne["failoverPriority"], 0);
    assert_eq!(a["properties"]["provisioningState"], "Succeeded");
    t.sim.shutdown().await;
}

fn write_region(a: &Value) -> &str {
    a["properties"]["writeLocations"][0]["locationName"]
        .as_str()
        .unwrap_or("")
}

fn read_regions(a: &Value) -> Vec<&str> {
    a["properties"]["readLocations"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|e| e["locationName"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn cosmos_priority_change_with_the_write_region_down_never_completes_by_default() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let r = t
        .post(
            &format!("{}/failoverPriorityChange", cosmos()),
            Some(json!({"failoverPolicies": [
                {"locationName": "North Europe", "failoverPriority": 0},
                {"locationName": "West Europe", "failoverPriority": 1},
            ]})),
        )
        .await;
    // ARM accepts it; Microsoft says it "will not succeed": it stays in progress, well past
    // the 300ms every other operation of this estate takes, and the caller's timeout decides.
    assert_eq!(r.status, 202);
    let op = r.header("azure-asyncoperation").unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = t.get(&op).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["status"], "InProgress", "{}", s.body);
    let a = t.get(&cosmos()).await.body;
    assert_eq!(write_region(&a), "West Europe");
    assert_eq!(a["properties"]["provisioningState"], "Updating");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn cosmos_priority_change_with_the_write_region_down_can_be_made_to_fail_later() {
    let t = estate().await;
    t.sim.set_faults(Faults {
        failover_in_outage: "fail after 1s".into(),
        ..Faults::default()
    });
    t.sim.region_down("westeurope");
    let started = Instant::now();
    let r = t
        .post(
            &format!("{}/failoverPriorityChange", cosmos()),
            Some(json!({"failoverPolicies": [
                {"locationName": "North Europe", "failoverPriority": 0},
                {"locationName": "West Europe", "failoverPriority": 1},
            ]})),
        )
        .await;
    assert_eq!(r.status, 202);
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(s.body["status"], "Failed", "{}", s.body);
    let message = s.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("West Europe"), "{}", s.body);
    // ARM says what happened, not what to do next.
    assert!(!message.contains("offlineRegion") && !message.contains("instead"));
    let a = t.get(&cosmos()).await.body;
    assert_eq!(write_region(&a), "West Europe");
    assert_eq!(a["properties"]["provisioningState"], "Succeeded");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn cosmos_offline_region_moves_the_writes_and_online_region_brings_a_read_region_back() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let offline = format!("{}/offlineRegion", cosmos());
    let online = format!("{}/onlineRegion", cosmos());
    for bad in [json!({}), json!({"region": "Mars"})] {
        let r = t.post(&offline, Some(bad.clone())).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let r = t
        .post(&offline, Some(json!({"region": "West Europe"})))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(r.header("location").is_some());
    assert_eq!(
        t.get(&cosmos()).await.body["properties"]["provisioningState"],
        "Updating"
    );
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(s.body["status"], "Succeeded", "{}", s.body);
    let a = t.get(&cosmos()).await.body;
    assert_eq!(write_region(&a), "North Europe");
    assert_eq!(read_regions(&a), ["North Europe"]);
    let we = a["properties"]["failoverPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["locationName"] == "West Europe")
        .unwrap();
    assert_eq!(we["failoverPriority"], 1);
    assert_eq!(a["properties"]["provisioningState"], "Succeeded");

    // Neither the last online region nor one already offline can go offline.
    let r = t
        .post(&offline, Some(json!({"region": "North Europe"})))
        .await;
    assert_eq!(r.status, 400);
    let r = t
        .post(&offline, Some(json!({"region": "westeurope"})))
        .await;
    assert_eq!(r.status, 400);

    // Back online only once the region has recovered, and then as a read region.
    let r = t
        .post(&online, Some(json!({"region": "West Europe"})))
        .await;
    assert_eq!(r.status, 202);
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(s.body["status"], "Failed", "{}", s.body);
    assert_eq!(read_regions(&t.get(&cosmos()).await.body), ["North Europe"]);
    t.sim.region_up("westeurope");
    let r = t
        .post(&online, Some(json!({"region": "West Europe"})))
        .await;
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(s.body["status"], "Succeeded", "{}", s.body);
    let a = t.get(&cosmos()).await.body;
    assert_eq!(write_region(&a), "North Europe");
    assert_eq!(read_regions(&a), ["North Europe", "West Europe"]);

    // Only then does a priority change move the writes back.
    let r = t
        .post(
            &format!("{}/failoverPriorityChange", cosmos()),
            Some(json!({"failoverPolicies": [
                {"locationName": "West Europe", "failoverPriority": 0},
                {"locationName": "North Europe", "failoverPriority": 1},
            ]})),
        )
        .await;
    let s = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(s.body["status"], "Succeeded", "{}", s.body);
    assert_eq!(write_region(&t.get(&cosmos()).await.body), "West Europe");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sql_a_second_failover_while_one_runs_is_refused_busy() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    // A planned failover that cannot synchronise, then a forced one sent behind it: the
    // collision the two-step runbook could run into.
    let planned = t
        .post(&format!("{}/failover", fog("northeurope")), None)
        .await;
    assert_eq!(planned.status, 202);
    let forced = t
        .post(
            &format!("{}/forceFailoverAllowDataLoss", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(forced.status, 409, "{}", forced.body);
    assert_eq!(forced.code(), "FailoverGroupBusy");
    let other = t
        .post(
            &format!("{}/tryPlannedBeforeForcedFailover", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(other.status, 409);
    let s = t.poll_location(planned.header("location").unwrap()).await;
    assert_eq!(s.code(), "PlannedFailoverTimedOut");
    // once it has ended, the next one goes through
    let forced = t
        .post(
            &format!("{}/forceFailoverAllowDataLoss", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(forced.status, 202);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sql_try_planned_before_forced_failover_works_with_the_primary_down_or_up() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let r = t
        .post(
            &format!("{}/tryPlannedBeforeForcedFailover", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    let res = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(res.status, 200, "the result carries the failover group");
    assert_eq!(res.body["properties"]["replicationRole"], "Primary");
    assert_eq!(
        t.sim.resource(&fog("westeurope")).unwrap()["properties"]["replicationRole"],
        "Secondary"
    );
    // and back, planned this time, with both regions up
    t.sim.region_up("westeurope");
    let r = t
        .post(
            &format!("{}/tryPlannedBeforeForcedFailover", fog("westeurope")),
            None,
        )
        .await;
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(
        t.get(&fog("westeurope")).await.body["properties"]["replicationRole"],
        "Primary"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sql_forced_failover_swaps_roles_of_both_groups() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let r = t
        .post(
            &format!("{}/forceFailoverAllowDataLoss", fog("northeurope")),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    let res = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(res.status, 200, "the result carries the failover group");
    assert_eq!(res.body["properties"]["replicationRole"], "Primary");
    let ne = t.sim.resource(&fog("northeurope")).unwrap();
    assert_eq!(ne["properties"]["replicationRole"], "Primary");
    assert_eq!(
        ne["properties"]["partnerServers"][0]["replicationRole"],
        "Secondary"
    );
    let we = t.sim.resource(&fog("westeurope")).unwrap();
    assert_eq!(we["properties"]["replicationRole"], "Secondary");
    assert_eq!(
        we["properties"]["partnerServers"][0]["replicationRole"],
        "Primary"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn sql_planned_failover_fails_when_the_primary_is_down() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let r = t
        .post(&format!("{}/failover", fog("northeurope")), None)
        .await;
    assert_eq!(r.status, 202);
    // As the spec's example answers: Location alone, no Azure-AsyncOperation.
    assert!(r.header("azure-asyncoperation").is_none());
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(s.code(), "PlannedFailoverTimedOut");
    let l = t.get(r.header("location").unwrap()).await;
    assert_eq!(l.status, 500);
    assert_eq!(l.code(), "PlannedFailoverTimedOut");
    assert_eq!(
        t.sim.resource(&fog("northeurope")).unwrap()["properties"]["replicationRole"],
        "Secondary"
    );

    // with the primary up, the planned failover works
    t.sim.region_up("westeurope");
    let r = t
        .post(&format!("{}/failover", fog("northeurope")), None)
        .await;
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(
        t.get(&fog("westeurope")).await.body["properties"]["replicationRole"],
        "Secondary"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn storage_failover_swaps_primary_and_secondary() {
    let t = estate().await;
    let r = t
        .post(
            &format!("{}/failover?failoverType=Planned", storage()),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        t.get(&storage()).await.body["properties"]["failoverInProgress"],
        true
    );
    assert!(r.header("azure-asyncoperation").is_none());
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert!(matches!(s.status, 200 | 204), "{} {}", s.status, s.body);
    let a = t
        .get(&format!("{}?$expand=geoReplicationStats", storage()))
        .await
        .body;
    assert_eq!(a["properties"]["primaryLocation"], "northeurope");
    assert_eq!(a["properties"]["secondaryLocation"], "westeurope");
    assert_eq!(a["properties"]["statusOfPrimary"], "available");
    assert_eq!(a["location"], "northeurope");
    assert!(a["properties"]["lastGeoFailoverTime"].is_string());
    assert_eq!(
        a["sku"]["name"], "Standard_RAGZRS",
        "a planned failover stays geo-redundant"
    );
    // the account is now served from its new primary
    t.sim.region_down("westeurope");
    assert_eq!(t.get(&storage()).await.status, 200);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn storage_unplanned_failover_when_the_primary_is_unavailable() {
    let t = estate().await;
    // the primary's endpoints are gone (the account's control plane still answers)
    let planned = format!("{}/failover?failoverType=Planned", storage());
    t.send(
        "PATCH",
        &storage(),
        Some(json!({"properties": {"statusOfPrimary": "unavailable"}})),
    )
    .await;
    let r = t.post(&planned, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "FailoverFailed");

    let r = t.post(&format!("{}/failover", storage()), None).await;
    assert_eq!(r.status, 202);
    let again = t.post(&format!("{}/failover", storage()), None).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "FailoverInProgress");
    let s = t.poll_location(r.header("location").unwrap()).await;
    assert!(matches!(s.status, 200 | 204), "{} {}", s.status, s.body);
    let a = t
        .get(&format!("{}?$expand=geoReplicationStats", storage()))
        .await
        .body;
    assert_eq!(a["properties"]["primaryLocation"], "northeurope");
    assert_eq!(a["properties"]["statusOfPrimary"], "available");
    assert!(a["properties"].get("secondaryLocation").is_none());
    assert!(a["properties"].get("secondaryEndpoints").is_none());
    // The secondary copy of RA-GZRS is LRS, and that copy becomes the primary.
    assert_eq!(
        a["sku"]["name"], "Standard_LRS",
        "an unplanned failover leaves LRS"
    );
    assert_eq!(a["properties"]["geoReplicationStats"]["canFailover"], false);
    // failing back needs geo-redundancy first
    let r = t.post(&planned, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "FailoverNotSupported");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn service_bus_failover() {
    let t = estate().await;
    t.sim.region_down("westeurope");
    let cfg = format!(
        "{}/disasterRecoveryConfigs/shop-orders",
        sb_ns("northeurope")
    );
    let r = t
        .post(
            &format!("{cfg}/failover"),
            Some(json!({"properties": {"IsSafeFailover": true}})),
        )
        .await;
    assert_eq!(r.status, 400, "a safe failover needs the primary");
    assert_eq!(t.get(&cfg).await.body["properties"]["role"], "Secondary");
    let r = t
        .post(
            &format!("{cfg}/failover"),
            Some(json!({"properties": {"IsSafeFailover": false}})),
        )
        .await;
    assert_eq!(r.status, 200);
    let c = t.get(&cfg).await.body;
    assert_eq!(c["properties"]["role"], "PrimaryNotReplicating");
    assert_eq!(c["properties"]["provisioningState"], "Succeeded");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn deployment_put_is_long_running() {
    let t = estate().await;
    let id = format!("/subscriptions/{SUB}/providers/Microsoft.Resources/deployments/shop-dr");
    let r = t
        .send(
            "PUT",
            &id,
            Some(json!({"location": "northeurope", "properties": {"mode": "Incremental", "templateLink": {"uri": "https://example.com/t.json"}}})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Accepted");
    let op = r.header("azure-asyncoperation").unwrap().to_string();
    assert_eq!(
        t.get(&id).await.body["properties"]["provisioningState"],
        "Running"
    );
    let s = t.poll_status(&op).await;
    assert_eq!(s.body["status"], "Succeeded");
    let d = t.get(&id).await.body;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded");
    assert_eq!(d["type"], "Microsoft.Resources/deployments");
    let res = t.get(r.header("location").unwrap()).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["name"], "shop-dr");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn writes_have_the_side_effects_of_the_real_services() {
    let t = estate().await;
    let ep = tm_endpoint();
    let r = t
        .send(
            "PATCH",
            &ep,
            Some(json!({"properties": {"endpointStatus": "Disabled"}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["endpointMonitorStatus"], "Disabled");
    t.sim.region_down("westeurope");
    let r = t
        .send(
            "PATCH",
            &ep,
            Some(json!({"properties": {"endpointStatus": "Enabled"}})),
        )
        .await;
    assert_eq!(r.body["properties"]["endpointMonitorStatus"], "Degraded");

    let r = t
        .send(
            "PATCH",
            &origin("westeurope"),
            Some(json!({"properties": {"enabledState": "Disabled"}})),
        )
        .await;
    assert_eq!(r.body["properties"]["enabledState"], "Disabled");
    // Front Door deploys the change to its edge asynchronously.
    assert_eq!(r.body["properties"]["deploymentStatus"], "NotStarted");
    let done = t
        .poll_status(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(done.body["status"], "Succeeded");
    let after = t.get(&origin("westeurope")).await;
    assert_eq!(after.body["properties"]["deploymentStatus"], "Succeeded");
    t.sim.shutdown().await;
}

fn vmss() -> String {
    format!(
        "{}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-agents-northeurope",
        rg("rg-shop-northeurope")
    )
}

#[tokio::test]
async fn writes_of_asynchronous_types_answer_as_their_specs_and_finish_later() {
    let t = estate().await;
    // AFD origin PATCH: 202, Azure-AsyncOperation and Location, provisioningState Updating
    // (Microsoft.Cdn 2024-02-01 AFDOrigins_Update).
    let r = t
        .send(
            "PATCH",
            &origin("northeurope"),
            Some(json!({"properties": {"priority": 2}})),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["properties"]["provisioningState"], "Updating");
    assert_eq!(r.body["properties"]["priority"], 2);
    let op = r
        .header("azure-asyncoperation")
        .expect("async op")
        .to_string();
    assert!(op.contains("/operationStatuses/"), "{op}");
    assert!(r.header("location").is_some());
    assert_eq!(r.header("retry-after"), Some("1"));
    let during = t.get(&origin("northeurope")).await;
    assert_eq!(during.body["properties"]["provisioningState"], "Updating");
    assert_eq!(t.get(&op).await.body["status"], "InProgress");
    assert_eq!(t.poll_status(&op).await.body["status"], "Succeeded");
    let after = t.get(&origin("northeurope")).await;
    assert_eq!(after.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(after.body["properties"]["priority"], 2);

    // Scale set PUT creating: 201 Creating with Azure-AsyncOperation, no Location
    // (Microsoft.Compute 2024-07-01); PATCH then: 200 Updating.
    let r = t
        .send(
            "PUT",
            &vmss(),
            Some(json!({"location": "northeurope", "sku": {"name": "Standard_D2s_v5", "capacity": 0}})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["properties"]["provisioningState"], "Creating");
    assert!(r.header("location").is_none());
    let op = r
        .header("azure-asyncoperation")
        .expect("async op")
        .to_string();
    assert_eq!(t.poll_status(&op).await.body["status"], "Succeeded");
    let r = t
        .send("PATCH", &vmss(), Some(json!({"sku": {"capacity": 4}})))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["provisioningState"], "Updating");
    assert_eq!(r.body["sku"]["capacity"], 4);
    let op = r
        .header("azure-asyncoperation")
        .expect("async op")
        .to_string();
    // The operation's result is the resource, provisioned.
    let loc = op.replace("/operationStatuses/", "/operationResults/");
    assert_eq!(t.poll_status(&op).await.body["status"], "Succeeded");
    let res = t.get(&loc).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["properties"]["provisioningState"], "Succeeded");

    // A registry replication: 201 Creating while it runs, also for a PATCH
    // (Microsoft.ContainerRegistry 2023-07-01); the registry itself is synchronous.
    let acr = format!(
        "{}/providers/Microsoft.ContainerRegistry/registries/acrshop",
        rg("rg-shop-northeurope")
    );
    let r = t
        .send("PUT", &acr, Some(json!({"location": "northeurope"})))
        .await;
    assert_eq!(r.status, 201);
    assert!(r.header("azure-asyncoperation").is_none());
    let repl = format!("{acr}/replications/westeurope");
    let r = t
        .send("PUT", &repl, Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Creating");
    let op = r
        .header("azure-asyncoperation")
        .expect("async op")
        .to_string();
    assert_eq!(t.poll_status(&op).await.body["status"], "Succeeded");
    let r = t
        .send(
            "PATCH",
            &repl,
            Some(json!({"properties": {"regionEndpointEnabled": false}})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["properties"]["provisioningState"], "Updating");
    assert!(r.header("azure-asyncoperation").is_some());

    // Synchronous types keep answering at once.
    let r = t
        .send(
            "PATCH",
            &tm_endpoint(),
            Some(json!({"properties": {"weight": 5}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("azure-asyncoperation").is_none());
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    t.sim.shutdown().await;
}

// --------------------------------------------------------------------------------- paging

#[tokio::test]
async fn lists_longer_than_a_page_carry_next_link_to_the_rest() {
    let toml = scenario_toml().replace(
        "lro_delay = \"300ms\"",
        "lro_delay = \"300ms\"\npage_size = 2",
    );
    let t = start_toml(
        &toml,
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await;
    let mut names = Vec::new();
    let mut url = t.url(&format!("/subscriptions/{SUB}/resources"));
    let asked_version = url
        .split(['?', '&'])
        .find(|p| p.starts_with("api-version="))
        .unwrap_or("api-version=?")
        .to_string();
    let mut pages = 0;
    loop {
        let r = t.get(&url).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let value = r.body["value"].as_array().expect("value").clone();
        assert!(value.len() <= 2, "{value:?}");
        names.extend(
            value
                .iter()
                .map(|v| v["name"].as_str().unwrap_or("").to_string()),
        );
        pages += 1;
        match r.body["nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&t.base), "{next}");
                assert!(next.contains(&asked_version), "{next}");
                assert!(next.contains("%24skiptoken="), "{next}");
                assert!(!value.is_empty());
                url = next.to_string();
            }
            None => break,
        }
        assert!(pages < 50, "paging never ends");
    }
    // Every top-level resource once, in as many pages as it takes.
    let all = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all, "no resource twice");
    assert!(all > 4, "{names:?}");
    assert_eq!(pages, all.div_ceil(2));
    assert!(names.contains(&"app-shop-westeurope".to_string()));

    let groups = t.get(&format!("/subscriptions/{SUB}/resourceGroups")).await;
    assert_eq!(groups.body["value"].as_array().map(Vec::len), Some(2));
    assert!(groups.body["nextLink"].is_string());

    let bad = t
        .get(&format!("/subscriptions/{SUB}/resources?$skiptoken=forged"))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "InvalidSkipToken");
    t.sim.shutdown().await;
}
