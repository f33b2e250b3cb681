//! The readiness screen (issue 18, "In the TUI"): drawn with ratatui's `TestBackend` over a
//! real discovery (`discover::analyse` on an estate written here, with a finding of every
//! severity and a pair), compared with insta snapshots; its keys driven through
//! `App::update` (move, switch lists, write the runbooks into a folder, replace them only on
//! a second yes) with the writing done for real; and what the screen discovers from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use drbook::checks::scope::Scope;
use drbook::discover::{self, Discovery, Inventory, Severity};
use drbook::runbook::generate::Templates;
use drbook::runbook::{load_paths, vars};
use drbook::tui::app::readiness::{List, WriteState};
use drbook::tui::app::{App, Dialog, Effect, Msg, Purpose, ReadinessMsg, WriteFailure};
use drbook::tui::{discovery, fixture, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

const SUB: &str = "0b7c4a1e-2d3f-4e5a-8b6c-7d8e9f0a1b2c";

/// A Resource Graph row of `Resources`, as `project id, name, type, ...` returns it.
fn row(rg: &str, rest: &str, location: &str, sku: Value, properties: Value) -> Value {
    let id = format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/{rest}");
    let after: Vec<&str> = rest.split('/').collect();
    let mut t = vec![after[0].to_string(), after[1].to_string()];
    t.extend(after.iter().skip(3).step_by(2).map(|s| s.to_string()));
    json!({
        "id": id, "name": id.rsplit('/').next(), "type": t.join("/").to_ascii_lowercase(),
        "kind": "", "location": location, "resourceGroup": rg, "subscriptionId": SUB,
        "sku": sku, "tags": {}, "properties": properties,
    })
}

/// A small shop in UK South / UK West: its web app paired by name; a database with no
/// geo-replica (critical), a locally redundant storage account (high), a build scale set with
/// no counterpart (medium), a key vault only in the primary (low).
fn estate() -> Discovery {
    analyse(estate_rows())
}

fn estate_rows() -> Vec<Value> {
    let a = "rg-shop-uksouth";
    let b = "rg-shop-ukwest";
    vec![
        row(
            a,
            "Microsoft.Web/serverfarms/plan-shop-uksouth",
            "uksouth",
            json!({"name": "P1v3"}),
            json!({}),
        ),
        row(
            a,
            "Microsoft.Web/sites/app-shop-uksouth",
            "uksouth",
            Value::Null,
            json!({"defaultHostName": "app-shop-uksouth.azurewebsites.net",
                   "serverFarmId": format!("/subscriptions/{SUB}/resourceGroups/{a}/providers/Microsoft.Web/serverfarms/plan-shop-uksouth")}),
        ),
        row(
            b,
            "Microsoft.Web/serverfarms/plan-shop-ukwest",
            "ukwest",
            json!({"name": "P1v3"}),
            json!({}),
        ),
        row(
            b,
            "Microsoft.Web/sites/app-shop-ukwest",
            "ukwest",
            Value::Null,
            json!({"defaultHostName": "app-shop-ukwest.azurewebsites.net",
                   "serverFarmId": format!("/subscriptions/{SUB}/resourceGroups/{b}/providers/Microsoft.Web/serverfarms/plan-shop-ukwest")}),
        ),
        row(
            a,
            "Microsoft.Sql/servers/sql-shop-uksouth",
            "uksouth",
            Value::Null,
            json!({}),
        ),
        row(
            a,
            "Microsoft.Sql/servers/sql-shop-uksouth/databases/orders",
            "uksouth",
            json!({"name": "S1"}),
            json!({}),
        ),
        row(
            a,
            "Microsoft.Storage/storageAccounts/stshopexports",
            "uksouth",
            json!({"name": "Standard_LRS"}),
            json!({}),
        ),
        row(
            a,
            "Microsoft.Compute/virtualMachineScaleSets/vmss-build-uksouth",
            "uksouth",
            json!({"name": "Standard_D2s_v5", "capacity": 2}),
            json!({}),
        ),
        row(
            a,
            "Microsoft.KeyVault/vaults/kv-shop-uksouth",
            "uksouth",
            json!({"name": "standard"}),
            json!({}),
        ),
    ]
}

fn analyse(rows: Vec<Value>) -> Discovery {
    let inv = Inventory::from_rows(&rows, &[], &discover::Scope::default()).expect("the rows read");
    discover::analyse(&inv, &[SUB.to_string()], "uksouth", "ukwest")
}

/// The shop with its gaps closed: only the web apps and their plans, each paired. Each
/// component's template values are the ones its built-in template declares: what the screen
/// does with a write is tested here, not how discovery names a template's variables (the
/// generator's own tests hold that).
fn paired_estate() -> Discovery {
    let mut rows = estate_rows();
    rows.truncate(4);
    let mut d = analyse(rows);
    let templates = Templates::builtin();
    for c in &mut d.components {
        let text = templates.get(&c.component).expect("a built-in template");
        let doc: toml::Table = toml::from_str(text).expect("the template parses");
        let vars = doc
            .get("vars")
            .and_then(toml::Value::as_table)
            .expect("[vars]");
        c.vars = vars
            .iter()
            .map(|(k, v)| (k.clone(), vars::scalar_text(v)))
            .collect();
    }
    d
}

fn app() -> App {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    fixture::app(&dir, 0).expect("the fixture builds over the shipped runbooks")
}

fn render(app: &mut App, w: u16, h: u16) -> String {
    app.update(Msg::Resize(w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|f| view::draw(f, app)).expect("draws");
    term.backend().to_string()
}

fn key(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

fn code(app: &mut App, k: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(k, KeyModifiers::NONE)))
}

/// The write key (ctrl-w by default).
fn write_key(app: &mut App) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('w'),
        KeyModifiers::CONTROL,
    )))
}

/// The incident's screen, `D` pressed, and the discovery's task answering with `d`.
fn opened(d: Discovery) -> App {
    let mut a = app();
    let effects = key(&mut a, 'D');
    assert_eq!(effects, [Effect::Discover], "D starts a discovery task");
    assert!(a.readiness_open());
    a.update(Msg::Readiness(ReadinessMsg::Discovered(Ok(d))));
    a
}

#[test]
fn the_estate_has_a_finding_of_every_severity_and_a_pair() {
    let d = estate();
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        assert!(
            d.findings.iter().any(|f| f.severity == s),
            "no {} finding: {:#?}",
            s.as_str(),
            d.findings
        );
    }
    let web = d.components.iter().find(|c| c.component == "web");
    assert!(
        web.is_some_and(|w| w
            .pairs
            .iter()
            .any(|(p, s)| p.ends_with("/app-shop-uksouth") && s.ends_with("/app-shop-ukwest"))),
        "{:#?}",
        d.components
    );
}

#[test]
fn the_readiness_screen_renders_components_pairs_and_findings_by_severity() {
    let d = estate();
    let critical = d
        .findings
        .iter()
        .find(|f| f.severity == Severity::Critical)
        .expect("a critical finding")
        .clone();
    let web = d
        .components
        .iter()
        .position(|c| c.component == "web")
        .expect("web");
    let mut a = opened(d);
    // The web component selected, as an operator would: its pairs are shown.
    for _ in 0..web {
        key(&mut a, 'j');
    }
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = render(&mut a, w, h);
        insta::assert_snapshot!(format!("readiness_{w}x{h}"), screen);
        assert!(screen.contains("uksouth → ukwest"), "{screen}");
        assert!(screen.contains(SUB), "{screen}");
        assert!(screen.contains("CRITICAL (1)"), "{screen}");
        assert!(screen.contains("NOT READY"), "{screen}");
        assert!(
            screen.contains("app-shop-uksouth ↔ app-shop-ukwest"),
            "{screen}"
        );
    }
    // Critical first, whatever the order of discovery.
    let screen = render(&mut a, 160, 48);
    let at = |s: &str| screen.find(s).unwrap_or_else(|| panic!("{s}:\n{screen}"));
    assert!(
        at("CRITICAL (") < at("HIGH (")
            && at("HIGH (") < at("MEDIUM (")
            && at("MEDIUM (") < at("LOW (")
    );
    // The findings list focused, its first row is the critical one, in full below.
    code(&mut a, KeyCode::Tab);
    code(&mut a, KeyCode::Tab);
    let v = a.readiness.as_ref().expect("open");
    assert_eq!(v.focus, List::Findings);
    let screen = render(&mut a, 160, 48);
    insta::assert_snapshot!("readiness_finding_160x48", screen);
    assert!(screen.contains(&critical.resource), "{screen}");
    assert!(screen.contains(&critical.code), "{screen}");
    assert!(
        screen.contains(&critical.fix[..40.min(critical.fix.len())]),
        "{screen}"
    );
}

#[test]
fn discovering_shows_its_progress_and_a_failure_is_an_error_not_an_empty_screen() {
    let mut a = app();
    key(&mut a, 'D');
    a.update(Msg::Readiness(ReadinessMsg::Progress(
        "reading Resources through Resource Graph (1 subscription(s))".into(),
    )));
    let screen = render(&mut a, 100, 30);
    assert!(screen.contains("discovering…"), "{screen}");
    assert!(
        screen.contains("reading Resources through Resource Graph"),
        "{screen}"
    );
    // D while it runs only opens the screen again: no second discovery.
    key(&mut a, 'q');
    assert!(!a.readiness_open());
    assert_eq!(key(&mut a, 'D'), []);
    assert!(a.readiness_open());
    a.update(Msg::Readiness(ReadinessMsg::Discovered(Err(
        "Resource Graph (Resources): 503 Service Unavailable".into(),
    ))));
    let screen = render(&mut a, 100, 30);
    assert!(screen.contains("the discovery failed"), "{screen}");
    assert!(screen.contains("503 Service Unavailable"), "{screen}");
    assert!(!screen.contains("Components ("), "{screen}");
    // Nothing to write from a failed discovery.
    assert_eq!(write_key(&mut a), []);
    assert!(a.dialog.is_none());
}

#[test]
fn keys_move_through_the_lists_and_the_incident_keys_do_not_reach_past_the_screen() {
    let d = estate();
    let n_components = d.components.len();
    let n_findings = d.findings.len();
    let mut a = opened(d);
    let sel = |a: &App| {
        let v = a.readiness.as_ref().expect("open");
        (v.focus, v.comp_sel, v.pair_sel, v.finding_sel)
    };
    assert_eq!(sel(&a), (List::Components, 0, 0, 0));
    key(&mut a, 'j');
    assert_eq!(sel(&a).1, 1.min(n_components - 1));
    key(&mut a, 'G');
    assert_eq!(sel(&a).1, n_components - 1);
    key(&mut a, 'g');
    assert_eq!(sel(&a).1, 0);
    code(&mut a, KeyCode::PageDown);
    assert_eq!(sel(&a).1, n_components - 1, "a page down stops at the last");
    code(&mut a, KeyCode::BackTab);
    assert_eq!(sel(&a).0, List::Findings);
    key(&mut a, 'G');
    assert_eq!(sel(&a).3, n_findings - 1);
    key(&mut a, 'k');
    assert_eq!(sel(&a).3, n_findings - 2);
    // The step keys of the incident are not taken here.
    let before = a.rb_sel;
    assert_eq!(code(&mut a, KeyCode::Enter), []);
    assert_eq!(key(&mut a, 's'), []);
    assert!(a.dialog.is_none());
    assert_eq!(a.rb_sel, before);
    // The help lists the screen's own keys first.
    key(&mut a, '?');
    assert_eq!(a.dialog, Some(Dialog::Help));
    let screen = render(&mut a, 100, 40);
    assert!(screen.contains("Keys in the readiness screen"), "{screen}");
    assert!(screen.contains("write the runbooks"), "{screen}");
    code(&mut a, KeyCode::Esc);
    assert!(a.dialog.is_none() && a.readiness_open());
    // q closes the screen over a live incident; the incident's screen is back.
    key(&mut a, 'q');
    assert!(!a.readiness_open());
    assert!(
        a.dialog.is_none(),
        "no quit question: only the screen closed"
    );
}

#[test]
fn standalone_q_quits() {
    let mut a = app();
    a.show_discovery(estate());
    assert!(a.readiness_open());
    let screen = render(&mut a, 120, 30);
    assert!(screen.contains(" q quit "), "{screen}");
    assert_eq!(key(&mut a, 'q'), [Effect::Quit]);
}

/// What the runner does with a write effect, done here in the test's thread.
fn carry_out(a: &mut App, effects: Vec<Effect>) -> (PathBuf, bool) {
    let [
        Effect::WriteRunbooks {
            discovery: d,
            dir,
            force,
        },
    ] = effects.as_slice()
    else {
        panic!("one write effect expected: {effects:?}");
    };
    let result = discovery::write(&d.0, dir, *force);
    a.update(Msg::Readiness(ReadinessMsg::Written {
        dir: dir.clone(),
        result,
    }));
    (dir.clone(), *force)
}

#[test]
fn w_asks_for_a_folder_writes_there_and_replaces_only_on_a_second_yes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("runbooks-uksouth");
    let mut a = opened(paired_estate());
    assert_eq!(write_key(&mut a), []);
    match &a.dialog {
        Some(Dialog::Input {
            purpose: Purpose::RunbooksFolder,
            text,
        }) => assert_eq!(text, "./runbooks-uksouth"),
        other => panic!("the folder is asked: {other:?}"),
    }
    let screen = render(&mut a, 100, 30);
    assert!(screen.contains("> ./runbooks-uksouth"), "{screen}");
    a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    for c in out.display().to_string().chars() {
        key(&mut a, c);
    }
    let effects = code(&mut a, KeyCode::Enter);
    // While the task writes, the screen says so.
    assert!(matches!(
        a.readiness.as_ref().and_then(|v| v.write.clone()),
        Some(WriteState::Writing { .. })
    ));
    let (dir, force) = carry_out(&mut a, effects);
    assert_eq!((dir.as_path(), force), (out.as_path(), false));
    let v = a.readiness.clone().expect("open");
    let Some(WriteState::Done { report, .. }) = v.write else {
        panic!("{:?}", v.write);
    };
    assert!(report.diagnostics.is_empty(), "{:#?}", report.diagnostics);
    for f in &report.files {
        assert!(f.is_file(), "{} was written", f.display());
    }
    assert!(out.join("discovery.json").is_file());
    let set = load_paths(std::slice::from_ref(&out)).expect("the folder loads");
    assert!(
        !set.runbooks.is_empty() && !set.plans.is_empty(),
        "{}",
        set.runbooks.len()
    );
    let screen = render(&mut a, 160, 48);
    assert!(
        screen.contains("pass `drbook validate --strict`"),
        "{screen}"
    );
    assert!(screen.contains(&format!("wrote {} files", report.files.len())));

    // Again into the same folder: the files exist; nothing is replaced without a second yes.
    let mark = "# edited by hand\n";
    let first = report.files[0].clone();
    let edited = format!("{mark}{}", std::fs::read_to_string(&first).expect("reads"));
    std::fs::write(&first, &edited).expect("writes");
    write_key(&mut a);
    // The folder offered is the one written last.
    assert!(
        matches!(&a.dialog, Some(Dialog::Input { text, .. }) if *text == out.display().to_string()),
        "{:?}",
        a.dialog
    );
    a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    for c in out.display().to_string().chars() {
        key(&mut a, c);
    }
    let effects = code(&mut a, KeyCode::Enter);
    let (_, force) = carry_out(&mut a, effects);
    assert!(!force);
    let Some(Dialog::Overwrite { files, .. }) = &a.dialog else {
        panic!("a second confirmation: {:?}", a.dialog);
    };
    assert!(files.iter().any(|f| f == "discovery.json"), "{files:?}");
    let screen = render(&mut a, 100, 30);
    assert!(screen.contains("Replace the runbooks?"), "{screen}");
    assert_eq!(key(&mut a, 'n'), []);
    assert!(a.dialog.is_none());
    assert_eq!(std::fs::read_to_string(&first).expect("reads"), edited);
    assert!(
        a.message
            .as_deref()
            .is_some_and(|m| m.contains("nothing written")),
        "{:?}",
        a.message
    );
    // And once more, answering yes: replaced.
    write_key(&mut a);
    a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    for c in out.display().to_string().chars() {
        key(&mut a, c);
    }
    let effects = code(&mut a, KeyCode::Enter);
    carry_out(&mut a, effects);
    let effects = key(&mut a, 'y');
    let (_, force) = carry_out(&mut a, effects);
    assert!(force, "the second yes replaces");
    assert!(
        !std::fs::read_to_string(&first)
            .expect("reads")
            .starts_with(mark)
    );
    assert!(matches!(
        a.readiness.as_ref().and_then(|v| v.write.clone()),
        Some(WriteState::Done { .. })
    ));
}

#[test]
fn a_write_that_fails_says_why() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A file where the folder should be.
    let blocker = tmp.path().join("not-a-folder");
    std::fs::write(&blocker, "x").expect("writes");
    let d = paired_estate();
    let result = discovery::write(&d, &blocker, false);
    assert!(
        matches!(&result, Err(WriteFailure::Failed(e)) if e.contains("not-a-folder")),
        "{result:?}"
    );
    let mut a = opened(d);
    a.update(Msg::Readiness(ReadinessMsg::Written {
        dir: blocker.clone(),
        result,
    }));
    let screen = render(&mut a, 160, 40);
    assert!(screen.contains("nothing written into"), "{screen}");
    assert!(screen.contains("not-a-folder"), "{screen}");
}

/// The runbooks' variables, resolved as a session resolves them (the plan's first).
fn work(dir: &Path) -> Vec<(drbook::runbook::Runbook, Scope)> {
    let set = load_paths(&[dir.to_path_buf()]).expect("loads");
    let plan = set.plans.first();
    set.runbooks
        .iter()
        .map(|rb| {
            let (v, _) =
                vars::resolve_partial(rb, plan.map(|p| &p.vars), &BTreeMap::new(), |_| None);
            (rb.clone(), Scope::new(rb, v, BTreeMap::new()))
        })
        .collect()
}

#[test]
fn the_demo_discovers_its_plan_regions_in_the_targets_subscription() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let w = work(&dir);
    let o = discovery::options_of(&w, &[]).expect("the plan names the regions");
    assert_eq!(
        (o.primary.as_str(), o.secondary.as_deref()),
        ("westeurope", Some("northeurope"))
    );
    assert_eq!(
        o.scope.subscriptions,
        ["6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"]
    );
    // The target's subscriptions come first.
    let o = discovery::options_of(&w, &["other".to_string()]).expect("options");
    assert_eq!(o.scope.subscriptions, ["other"]);
    // Runbooks with no regions: said, not guessed.
    let e = discovery::options_of(&[], &["s".to_string()]).unwrap_err();
    assert!(e.contains("`primary`"), "{e}");
}

/// The task the `readiness` key starts, against the simulator's Resource Graph: it says each
/// phase as it goes, and its discovery is what the screen shows. With the simulator gone, the
/// same task comes back with the error, and the screen shows it as one.
#[tokio::test(flavor = "multi_thread")]
async fn the_discovery_task_reads_the_simulator_and_a_graph_failure_is_shown_as_an_error() {
    use drbook::cli::target::{TargetArgs, connect};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = TargetArgs::simulator(
        Some(root.join("runbooks/scenarios/travel-eastus2.toml")),
        "start",
    );
    args.retries = 0;
    args.timeout = std::time::Duration::from_secs(5);
    let mut c = connect(&args, |_| None)
        .await
        .expect("the simulator starts");
    let opts = discover::Options {
        scope: discover::Scope {
            subscriptions: vec![
                "4a7d2e91-3c5b-4f6e-9d8a-b1c2e3f4a5b6".into(),
                "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b".into(),
            ],
            ..Default::default()
        },
        primary: "eastus2".into(),
        secondary: None,
    };
    let run = |reader| {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        discovery::spawn_discover(reader, opts.clone(), tx);
        async move {
            let mut progress = Vec::new();
            loop {
                match rx.recv().await {
                    Some(Msg::Readiness(ReadinessMsg::Progress(p))) => progress.push(p),
                    Some(Msg::Readiness(ReadinessMsg::Discovered(r))) => return (progress, r),
                    other => panic!("{other:?}"),
                }
            }
        }
    };
    let (progress, result) = run(c.reader.clone()).await;
    assert_eq!(progress.len(), 3, "{progress:?}");
    assert!(progress[0].starts_with("reading Resources"), "{progress:?}");
    assert!(
        progress[1].contains("reading ResourceContainers"),
        "{progress:?}"
    );
    assert!(progress[2].starts_with("analysing"), "{progress:?}");
    let d = result.expect("the travel estate is discovered");
    assert_eq!(
        (d.primary.as_str(), d.secondary.as_str()),
        ("eastus2", "centralus")
    );
    assert!(d.has_critical(), "{:#?}", d.findings);
    let mut a = opened(d);
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("eastus2 → centralus"), "{screen}");
    assert!(screen.contains("CRITICAL ("), "{screen}");

    if let Some(sim) = c.sim.take() {
        sim.shutdown().await;
    }
    let (_, result) = run(c.reader.clone()).await;
    let e = result.expect_err("nothing answers");
    assert!(e.starts_with("Resource Graph (Resources)"), "{e}");
    let mut a = app();
    key(&mut a, 'D');
    a.update(Msg::Readiness(ReadinessMsg::Discovered(Err(e.clone()))));
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("the discovery failed"), "{screen}");
    assert!(screen.contains("Resource Graph (Resources)"), "{screen}");
}

/// `drbook discover --tui` needs a terminal: in a script it says so, before reading anything.
#[test]
fn discover_tui_without_a_terminal_says_so() {
    let out = crate::support::cli::drbook()
        .args(["discover", "--target", "sim", "--subscription"])
        .arg("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
        .args(["--primary", "westeurope", "--tui"])
        .output()
        .expect("drbook runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tui needs a terminal"), "{err}");
    // It shows the result on the screen instead of printing it.
    let both = crate::support::cli::drbook()
        .args(["discover", "--target", "sim", "--subscription", "s"])
        .args(["--primary", "westeurope", "--tui", "--format", "json"])
        .output()
        .expect("drbook runs");
    assert_eq!(both.status.code(), Some(2), "{both:?}");
}

/// Files that do not pass validation: the screen says so, with the first problems and how to
/// list the rest, never that they pass.
#[test]
fn a_write_that_does_not_validate_names_its_problems() {
    let mut a = opened(estate());
    let diagnostics: Vec<String> = (1..=6)
        .map(|i| format!("web-failover.toml:{i}:1: a problem [code-{i}]"))
        .collect();
    a.update(Msg::Readiness(ReadinessMsg::Written {
        dir: PathBuf::from("out"),
        result: Ok(drbook::tui::app::WriteReport {
            files: vec![PathBuf::from("out/web-failover.toml")],
            diagnostics,
        }),
    }));
    let screen = render(&mut a, 160, 48);
    assert!(
        screen.contains("do NOT pass `drbook validate --strict` (6 problems)"),
        "{screen}"
    );
    assert!(
        screen.contains("web-failover.toml:1:1: a problem [code-1]"),
        "{screen}"
    );
    assert!(
        screen.contains("more: drbook validate --strict out"),
        "{screen}"
    );
    assert!(!screen.contains("they pass"), "{screen}");
}
