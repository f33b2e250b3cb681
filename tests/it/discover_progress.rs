//! Discovery reports its progress as each Resource Graph page arrives: pages counted against
//! the simulator's own request count, with pages of 10 rows so a small estate spans several.

use std::time::Duration;

use drbook::azure::auth::SimCredential;
use drbook::azure::{ArmClient, ClientOptions, Cloud, GraphProgress, TokenCache};
use drbook::discover::{self, Options, Scope, inventory::Progress};
use drbook::sim::{self, Scenario, SimOptions};

const SUB: &str = "7a000001-0000-4000-8000-000000000001";
const APPS: usize = 12;

/// `APPS` web apps in UK South, each with its twin in UK West: 24 resources.
fn scenario() -> String {
    let mut s = format!(
        "[scenario]\nid = \"progress\"\ntitle = \"progress\"\n\n[[subscription]]\nid = \"{SUB}\"\nname = \"progress\"\n\n\
         [[resource_group]]\nid = \"/subscriptions/{SUB}/resourceGroups/rg-uksouth\"\nlocation = \"uksouth\"\n\n\
         [[resource_group]]\nid = \"/subscriptions/{SUB}/resourceGroups/rg-ukwest\"\nlocation = \"ukwest\"\n\n"
    );
    for i in 0..APPS {
        for region in ["uksouth", "ukwest"] {
            s.push_str(&format!(
                "[[resource]]\nid = \"/subscriptions/{SUB}/resourceGroups/rg-{region}/providers/Microsoft.Web/sites/app-{i:02}-{region}\"\n\
                 location = \"{region}\"\nkind = \"app\"\nproperties = {{ state = \"Running\", defaultHostName = \"app-{i:02}-{region}.azurewebsites.net\" }}\n\n"
            ));
        }
    }
    s
}

#[tokio::test]
async fn each_page_is_reported_as_it_arrives() {
    let sc = Scenario::parse("progress.toml", &scenario()).expect("scenario");
    let handle = sim::start(
        sc,
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await
    .expect("the simulator starts");
    let cloud = Cloud::custom(url::Url::parse(&handle.base_url()).expect("sim url"));
    let cred = std::sync::Arc::new(SimCredential::new(&cloud.arm).expect("sim credential"));
    let tokens = TokenCache::new(cred, cloud.scope.clone());
    let options = ClientOptions {
        graph_page: 10,
        ..ClientOptions::default()
    };
    let arm = ArmClient::new(cloud, tokens, options).expect("client");
    let opts = Options {
        scope: Scope {
            subscriptions: vec![SUB.to_string()],
            ..Scope::default()
        },
        primary: "uksouth".into(),
        secondary: None,
    };

    let before = handle.request_count();
    let mut seen: Vec<Progress> = Vec::new();
    let d = tokio::time::timeout(
        Duration::from_secs(30),
        discover::discover_with_progress(&arm, &opts, &mut |p| seen.push(p)),
    )
    .await
    .expect("in time")
    .expect("discovery");
    let requests = handle.request_count() - before;

    let resources = 2 * APPS;
    let p = |table, rows, total, pages| Progress {
        table,
        graph: GraphProgress {
            rows,
            total: Some(total),
            pages,
        },
    };
    // 24 resources in pages of 10: 10, 20, 24; the subscription and its two groups: 3.
    assert_eq!(
        seen,
        [
            p("Resources", 10, resources, 1),
            p("Resources", 20, resources, 2),
            p("Resources", resources, resources, 3),
            p("ResourceContainers", 3, 3, 1),
        ]
    );
    assert_eq!(
        requests,
        seen.len() as u64,
        "one report per page the simulator answered"
    );
    assert_eq!(d.resources, resources);
    let web = d
        .components
        .iter()
        .find(|c| c.component == "web")
        .expect("web");
    assert_eq!(web.pairs.len(), APPS, "every app paired across the pages");
    assert_eq!(
        seen[1].line(),
        "reading Resources: 20 / 24 rows (2 pages)",
        "the line a terminal shows"
    );

    // Without progress, the same discovery.
    let plain = discover::discover(&arm, &opts).await.expect("discovery");
    assert_eq!(plain.resources, d.resources);
    assert_eq!(plain.components, d.components);
    handle.shutdown().await;
}

/// The simulator evaluates a Resource Graph query while its latency runs (not after it): the
/// answer still never comes before the latency has passed, and the pages still carry every row.
#[tokio::test]
async fn a_resource_graph_answer_still_takes_its_latency() {
    let mut sc = Scenario::parse("progress.toml", &scenario()).expect("scenario");
    sc.faults.latency = "150ms".into();
    let handle = sim::start(
        sc,
        SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await
    .expect("the simulator starts");
    let cloud = Cloud::custom(url::Url::parse(&handle.base_url()).expect("sim url"));
    let cred = std::sync::Arc::new(SimCredential::new(&cloud.arm).expect("sim credential"));
    let tokens = TokenCache::new(cred, cloud.scope.clone());
    let options = ClientOptions {
        graph_page: 10,
        ..ClientOptions::default()
    };
    let arm = ArmClient::new(cloud, tokens, options).expect("client");
    let started = std::time::Instant::now();
    let rows = arm
        .graph(&[SUB.to_string()], "Resources | project id")
        .await
        .expect("graph");
    let took = started.elapsed();
    assert_eq!(rows.len(), 2 * APPS);
    assert!(
        took >= Duration::from_millis(3 * 150),
        "three pages, each at least the latency: {took:?}"
    );
    handle.shutdown().await;
}
