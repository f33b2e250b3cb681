//! The `storage` step end to end: backup freshness against Azurite (Microsoft's Storage
//! emulator) and geo-replication against the simulator, through the real binary (`drbook
//! check`, and a headless rehearsal whose incident log records the result), plus the paged
//! listing through the library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::azurite::Azurite;
use crate::support::cli;
use azure_core::http::RequestContent;
use azure_storage_blob::models::{BlobClientUploadOptions, BlobContainerClientCreateOptions};
use drbook::blob::{Store, newest_blob};
use drbook::incident::{EventKind, read_log};
use serde_json::Value;

const SUB: &str = "0a0b0c0d-0000-4000-8000-000000000001";

fn account(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/{name}"
    )
}

/// drbook with no storage credentials from the environment (Azurite's well-known account
/// needs none).
fn drbook(args: &[&str]) -> Output {
    cli::drbook()
        .args(args)
        .env_remove("AZURE_STORAGE_SAS_TOKEN")
        .env_remove("AZURE_STORAGE_KEY")
        .env_remove("AZURE_SUBSCRIPTION_ID")
        .env("NO_COLOR", "1")
        .output()
        .expect("run drbook")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn check_json(args: &[&str]) -> (Value, Option<i32>, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    let o = drbook(&all);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    (v, o.status.code(), text(&o))
}

fn row<'a>(report: &'a Value, step: &str) -> &'a Value {
    report["results"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["step"] == step))
        .unwrap_or_else(|| panic!("no row for {step}: {report:#}"))
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write a test file");
    p
}

async fn container(az: &Azurite, name: &str) -> Store {
    let store = Store::open(&az.url(name), |_| None, || None).expect("the emulator's account");
    store
        .container_to_create()
        .expect("a container client")
        .create(None::<BlobContainerClientCreateOptions<'_>>)
        .await
        .expect("create the container");
    store
}

async fn upload(store: &Store, name: &str) {
    store
        .blob(name)
        .expect("a blob client")
        .upload(
            RequestContent::from(format!("backup {name}").into_bytes()),
            None::<BlobClientUploadOptions<'_>>,
        )
        .await
        .unwrap_or_else(|e| panic!("upload {name}: {e}"));
}

/// `Last-Modified` has whole seconds: blobs written further apart than that sort by age.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// Two SQL backups a second apart, then something newer outside `sql/`.
async fn backups(az: &Azurite) -> Store {
    let store = container(az, "backups").await;
    upload(&store, "sql/2026-11-25T02-00.bak").await;
    next_second().await;
    upload(&store, "sql/2026-11-25T03-00.bak").await;
    next_second().await;
    upload(&store, "web/late.bak").await;
    store
}

fn freshness_runbook(az: &Azurite) -> String {
    format!(
        r#"[runbook]
id = "backups"
title = "Backups are fresh"
component = "data"
rpo = "15m"

[vars]
backups = "{backups}"

[[step]]
id = "sql-fresh"
title = "SQL backups within the RPO"
kind = "storage"
container_url = "${{backups}}"
prefix = "sql/"

[[step]]
id = "anything-fresh"
title = "Any backup within the hour"
kind = "storage"
container_url = "${{backups}}"
max_age = "1h"

[[step]]
id = "sql-stale"
title = "SQL backups within a second"
kind = "storage"
container_url = "${{backups}}"
prefix = "sql/"
max_age = "1s"

[[step]]
id = "oracle"
title = "Oracle backups within the RPO"
kind = "storage"
container_url = "${{backups}}"
prefix = "oracle/"

[[step]]
id = "no-container"
title = "A container that does not exist"
kind = "storage"
container_url = "{nope}"
"#,
        backups = az.url("backups"),
        nope = az.url("nope"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_freshness_on_azurite_passes_fails_and_names_the_container() {
    let az = Azurite::start();
    backups(&az).await;
    // The newest SQL backup is now more than a second old; the web one is younger.
    next_second().await;
    let dir = tempfile::tempdir().expect("tmp");
    let rb = write(dir.path(), "backups.toml", &freshness_runbook(&az));
    let rb = rb.to_string_lossy().into_owned();
    let (report, code, out) = check_json(&[&rb, "--target", "sim"]);
    assert_eq!(code, Some(1), "some steps fail: {out}");
    let container = az.url("backups");

    let fresh = row(&report, "sql-fresh");
    assert_eq!(fresh["verdict"], "pass", "{fresh:#}");
    assert_eq!(fresh["kind"], "storage");
    assert_eq!(fresh["expected"], "newest blob under sql/ younger than 15m");
    let actual = fresh["actual"].as_str().unwrap_or_default();
    assert!(
        actual.starts_with("sql/2026-11-25T03-00.bak, ") && actual.ends_with("s old"),
        "{actual}"
    );
    assert_eq!(fresh["target"], container.as_str());
    assert_eq!(fresh["source"], "blob");
    assert!(fresh["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0));

    let any = row(&report, "anything-fresh");
    assert_eq!(any["verdict"], "pass");
    assert_eq!(any["expected"], "newest blob in backups younger than 1h");
    assert!(
        any["actual"]
            .as_str()
            .is_some_and(|a| a.starts_with("web/late.bak, ")),
        "{any:#}"
    );

    let stale = row(&report, "sql-stale");
    assert_eq!(stale["verdict"], "fail", "{stale:#}");
    assert_eq!(stale["expected"], "newest blob under sql/ younger than 1s");
    assert!(
        stale["actual"]
            .as_str()
            .is_some_and(|a| a.starts_with("sql/2026-11-25T03-00.bak, ")),
        "{stale:#}"
    );

    let empty = row(&report, "oracle");
    assert_eq!(empty["verdict"], "fail");
    assert_eq!(
        empty["actual"],
        format!("no blobs under oracle/ in {container}").as_str()
    );

    let missing = row(&report, "no-container");
    assert_eq!(missing["verdict"], "error", "{missing:#}");
    assert_eq!(missing["actual"], "404 ContainerNotFound");
    assert_eq!(missing["error"]["resource"], az.url("nope").as_str());
    assert_eq!(missing["error"]["kind"], "not_found");
    assert_eq!(missing["error"]["operation"], "list the blobs in");

    // The table says it in words too, with the container named.
    let o = drbook(&["check", &rb, "--target", "sim"]);
    let table = text(&o);
    assert!(
        table.contains(&format!(
            "list the blobs in {}: HTTP 404 ContainerNotFound",
            az.url("nope")
        )),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_follows_every_page_to_the_newest_blob() {
    let az = Azurite::start();
    let store = container(&az, "many").await;
    for i in 0..6 {
        upload(&store, &format!("nightly/{i:02}.bak")).await;
    }
    upload(&store, "other/zz.bak").await;
    next_second().await;
    upload(&store, "nightly/00-rerun.bak").await;
    // A store signs for what it does: the uploads' token cannot list, the storage check's can.
    let lister = store.clone().with_access(drbook::blob::Access::List);

    // Three a page: the newest is on the first page by name, but all 7 are counted.
    let n = newest_blob(&lister, "nightly/", Some(3))
        .await
        .expect("listing")
        .expect("some blob");
    assert_eq!(n.name, "nightly/00-rerun.bak");
    assert_eq!(n.count, 7);
    assert_eq!(n.size, Some("backup nightly/00-rerun.bak".len() as u64));
    let age = chrono::Utc::now().signed_duration_since(n.last_modified);
    assert!(age < chrono::TimeDelta::seconds(30), "{age}");

    // The newest by time may be on the last page.
    next_second().await;
    upload(&store, "nightly/99.bak").await;
    let n = newest_blob(&lister, "nightly/", Some(2))
        .await
        .expect("listing")
        .expect("some blob");
    assert_eq!((n.name.as_str(), n.count), ("nightly/99.bak", 8));
    let all = newest_blob(&lister, "", None).await.expect("listing");
    assert_eq!(all.map(|n| n.count), Some(9));
    assert_eq!(
        newest_blob(&lister, "none/", Some(2))
            .await
            .expect("listing"),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sas_in_the_container_url_never_reaches_the_output() {
    let az = Azurite::start();
    backups(&az).await;
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!(
        "{}?sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig=TOPSECRETSIGNATURE",
        az.url("backups")
    );
    let rb = write(
        dir.path(),
        "sas.toml",
        r#"[runbook]
id = "sas"
title = "SAS"
component = "data"
rpo = "15m"

[vars]
sas_url = { secret = true, env = "TEST_BACKUP_URL" }

[[step]]
id = "signed"
title = "Backups through a SAS"
kind = "storage"
container_url = "${sas_url}"
"#,
    );
    let rb = rb.to_string_lossy().into_owned();
    for format in ["human", "json"] {
        let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
            .args(["check", &rb, "--target", "sim", "--format", format])
            .env("TEST_BACKUP_URL", &url)
            .env_remove("AZURE_STORAGE_SAS_TOKEN")
            .env_remove("AZURE_STORAGE_KEY")
            .output()
            .expect("run drbook");
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(!out.contains("TOPSECRETSIGNATURE"), "{out}");
        assert!(!out.contains("sig="), "{out}");
        assert!(out.contains("403"), "the signature is refused: {out}");
    }
}

fn geo_scenario() -> String {
    let acct = |name: &str, primary: &str, extra: &str| {
        format!(
            r#"
[[resource]]
id = "{id}"
location = "{primary}"
region = "global"
kind = "StorageV2"
{extra}
[resource.properties]
primaryLocation = "{primary}"
"#,
            id = account(name),
        )
    };
    format!(
        r#"[scenario]
id = "geo"
title = "Geo-replication lag"

[[subscription]]
id = "{SUB}"
name = "data"
{fresh}geoReplicationStats = {{ status = "Live", lastSyncTime = "${{now-2m}}", canFailover = true }}
{lagging}geoReplicationStats = {{ status = "Live", lastSyncTime = "${{now-40m}}", canFailover = true }}
{in_sync}geoReplicationStats = {{ status = "Live", lastSyncTime = "${{now}}", canFailover = true }}
{local}
[[event]]
at = "1s"
region_down = "westeurope"
"#,
        fresh = acct(
            "stfresh",
            "northeurope",
            r#"sku = { name = "Standard_RAGRS" }"#
        ),
        lagging = acct(
            "stlagging",
            "northeurope",
            r#"sku = { name = "Standard_GRS" }"#
        ),
        in_sync = acct(
            "stwesteurope",
            "westeurope",
            r#"sku = { name = "Standard_RAGZRS" }"#
        ),
        local = acct(
            "stlocal",
            "northeurope",
            r#"sku = { name = "Standard_LRS" }"#
        ),
    )
}

fn geo_runbook() -> String {
    let step = |id: &str, name: &str, extra: &str| {
        format!(
            "\n[[step]]\nid = \"{id}\"\ntitle = \"{id}\"\nkind = \"storage\"\nresource = \"{}\"\n{extra}\n",
            account(name)
        )
    };
    format!(
        "[runbook]\nid = \"geo\"\ntitle = \"Geo\"\ncomponent = \"data\"\nrpo = \"15m\"\n{}{}{}{}{}",
        step("geo-fresh", "stfresh", ""),
        step("geo-lagging", "stlagging", ""),
        step("geo-outage", "stwesteurope", "max_age = \"5m\""),
        step("geo-local", "stlocal", ""),
        step("geo-missing", "stnothere", ""),
    )
}

#[test]
fn geo_replication_through_the_simulator_passes_lags_and_freezes_in_an_outage() {
    let dir = tempfile::tempdir().expect("tmp");
    let sc = write(dir.path(), "geo-scenario.toml", &geo_scenario());
    let rb = write(dir.path(), "geo.toml", &geo_runbook());
    let (sc, rb) = (sc.to_string_lossy(), rb.to_string_lossy());

    // Two seconds in: westeurope went down a second ago, so its account's last sync (in step
    // until then) is about a second old.
    let (report, code, out) =
        check_json(&[&rb, "--target", "sim", "--scenario", &sc, "--at", "2s"]);
    assert_eq!(code, Some(1), "{out}");
    let fresh = row(&report, "geo-fresh");
    assert_eq!(fresh["verdict"], "pass", "{fresh:#}");
    assert_eq!(
        fresh["expected"],
        "geo-replication of stfresh last synced within 15m"
    );
    let a = fresh["actual"].as_str().unwrap_or_default();
    assert!(
        a.starts_with("last sync ") && a.contains(", 2m") && a.ends_with("ago (status Live)"),
        "{a}"
    );
    assert_eq!(fresh["source"], "arm");
    assert_eq!(fresh["target"], account("stfresh").as_str());

    let lagging = row(&report, "geo-lagging");
    assert_eq!(lagging["verdict"], "fail", "{lagging:#}");
    assert!(
        lagging["actual"]
            .as_str()
            .is_some_and(|a| a.contains(", 40m")),
        "{lagging:#}"
    );
    let outage = row(&report, "geo-outage");
    assert_eq!(outage["verdict"], "pass", "{outage:#}");

    let local = row(&report, "geo-local");
    assert_eq!(local["verdict"], "fail");
    assert_eq!(
        local["actual"],
        "no geoReplicationStats: stlocal is not geo-redundant (Standard_LRS)"
    );
    let missing = row(&report, "geo-missing");
    assert_eq!(missing["verdict"], "error");
    assert_eq!(missing["actual"], "404 ResourceNotFound");

    // Ten minutes into the outage nothing has reached the secondary since it began: the
    // last sync is frozen at that moment and now older than the 5m allowed: 9m59s plus however
    // long this machine took between starting the simulator and asking, so "9m5.." or "10m".
    let (report, _, _) = check_json(&[&rb, "--target", "sim", "--scenario", &sc, "--at", "10m"]);
    let outage = row(&report, "geo-outage");
    assert_eq!(outage["verdict"], "fail", "{outage:#}");
    assert!(
        outage["actual"]
            .as_str()
            .is_some_and(|a| a.contains(", 9m5") || a.contains(", 10m")),
        "{outage:#}"
    );
    // The healthy region's account keeps syncing.
    assert_eq!(row(&report, "geo-fresh")["verdict"], "pass");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rehearsal_logs_a_storage_step_with_its_result_and_outputs() {
    let az = Azurite::start();
    backups(&az).await;
    let dir = tempfile::tempdir().expect("tmp");
    let sc = write(dir.path(), "geo-scenario.toml", &geo_scenario());
    let rb = write(
        dir.path(),
        "both.toml",
        &format!(
            r#"[runbook]
id = "restore-readiness"
title = "Backups and geo-replication within the RPO"
component = "data"
rpo = "15m"

[[step]]
id = "backups-and-geo"
title = "SQL backups and the account's geo-sync are within the RPO"
kind = "storage"
container_url = "{url}"
prefix = "sql/"
resource = "{id}"
outputs = {{ newest_name = "newest.name", sku = "account.sku.name" }}

[[step]]
id = "tell"
title = "Tell the incident channel"
kind = "manual"
depends_on = ["backups-and-geo"]
instructions = "Newest backup: ${{steps.backups-and-geo.newest}}, last geo-sync ${{steps.backups-and-geo.last_sync_time}}"
"#,
            url = az.url("backups"),
            id = account("stfresh"),
        ),
    );
    let answers = write(
        dir.path(),
        "answers.toml",
        "[manual]\n\"*\" = { outcome = \"ok\", note = \"told\" }\n",
    );
    let logs = dir.path().join("logs");
    let o = Command::new(env!("CARGO_BIN_EXE_drbook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("rehearse")
        .arg(&rb)
        .args(["--target", "sim", "--scenario"])
        .arg(&sc)
        .args(["--non-interactive", "--answers"])
        .arg(&answers)
        .arg("--log-dir")
        .arg(&logs)
        .env_remove("AZURE_STORAGE_SAS_TOKEN")
        .env_remove("AZURE_STORAGE_KEY")
        .output()
        .expect("run drbook");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = std::fs::read_dir(&logs)
        .expect("a log folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a log");
    let (events, _) = read_log(&log).expect("a readable log");
    let check = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::CheckResult {
                step,
                expected,
                actual,
                source,
                ..
            } if step == "backups-and-geo" => Some((expected, actual, source)),
            _ => None,
        })
        .expect("the storage step's check result is logged");
    assert_eq!(
        check.0,
        "newest blob under sql/ younger than 15m; geo-replication of stfresh last synced within 15m"
    );
    assert!(
        check.1.starts_with("sql/2026-11-25T03-00.bak, ") && check.1.contains("(status Live)"),
        "{}",
        check.1
    );
    assert_eq!(
        check.2,
        &format!("{} + {}", az.url("backups"), account("stfresh"))
    );
    let outputs = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::StepFinished { step, outputs, .. } if step == "backups-and-geo" => {
                Some(outputs.clone())
            }
            _ => None,
        })
        .expect("the step finished");
    assert_eq!(outputs["outcome"], "ok");
    assert_eq!(outputs["newest"], "sql/2026-11-25T03-00.bak");
    assert_eq!(outputs["blobs"], "2");
    assert!(
        outputs["age_s"]
            .parse::<i64>()
            .is_ok_and(|s| (0..60).contains(&s))
    );
    assert!(
        outputs["sync_age_s"]
            .parse::<i64>()
            .is_ok_and(|s| (100..200).contains(&s))
    );
    assert_eq!(outputs["geo_status"], "Live");
    assert_eq!(outputs["newest_name"], "sql/2026-11-25T03-00.bak");
    assert_eq!(outputs["sku"], "Standard_RAGRS");
    assert!(outputs.contains_key("last_sync_time"));
}
