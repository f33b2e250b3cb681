//! `templates/` and the generator behind `drbook discover --out`: the templates validate
//! `--strict` as shipped; runbooks generated from them for the shop's estate (values from
//! runbooks/*.toml and the demo scenario) and for another estate load and validate `--strict`
//! with their plan, carry the header, the values and every comment of the template; a missing
//! var is an error that names it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use chrono::{DateTime, Utc};
use drbook_core::runbook::generate::{self, Component, GenerateError, Source, Templates};

use crate::support::cli;

const SUB: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";

fn drbook(args: &[&str]) -> Output {
    cli::drbook()
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the drbook binary runs")
}

fn id(sub: &str, rg: &str, provider: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider}/{name}")
}

fn comp(
    kind: &str,
    runbook: &str,
    resources: &[String],
    pairs: &[(String, String)],
    vars: &[(&str, &str)],
) -> Component {
    Component {
        component: kind.into(),
        runbook: runbook.into(),
        resources: resources.to_vec(),
        pairs: pairs.to_vec(),
        rules: Vec::new(),
        to_set: Vec::new(),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// An estate's components, written out as discovery would fill them. `n` names the app
/// (`shop`), `p`/`s` the regions, `ps`/`ss` their short forms for storage account names.
fn estate(sub: &str, n: &str, p: &str, s: &str, ss: &str) -> Vec<Component> {
    let (prg, srg, grg) = (
        format!("rg-{n}-{p}"),
        format!("rg-{n}-{s}"),
        format!("rg-{n}-global"),
    );
    let base = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut v = vec![
            ("subscription".to_string(), sub.to_string()),
            ("primary".to_string(), p.to_string()),
            ("secondary".to_string(), s.to_string()),
        ];
        v.extend(extra.iter().map(|(k, x)| (k.to_string(), x.to_string())));
        v
    };
    let mk = |kind: &str,
              runbook: &str,
              res: Vec<String>,
              pairs: Vec<(String, String)>,
              vars: Vec<(String, String)>| {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        comp(kind, runbook, &res, &pairs, &vars)
    };
    let pair = |a: &String, b: &String| (a.clone(), b.clone());
    let site =
        |rg: &str, r: &str, what: &str| id(sub, rg, "Microsoft.Web/sites", &format!("{what}-{r}"));
    let (web_p, web_s) = (
        site(&prg, p, &format!("app-{n}")),
        site(&srg, s, &format!("app-{n}")),
    );
    let (fn_p, fn_s) = (
        site(&prg, p, &format!("func-{n}-orders")),
        site(&srg, s, &format!("func-{n}-orders")),
    );
    let aks = |rg: &str, r: &str| {
        id(
            sub,
            rg,
            "Microsoft.ContainerService/managedClusters",
            &format!("aks-{n}-{r}"),
        )
    };
    let logic = |rg: &str, r: &str| {
        id(
            sub,
            rg,
            "Microsoft.Logic/workflows",
            &format!("logic-{n}-erp-sync-{r}"),
        )
    };
    let sql = |rg: &str, r: &str| id(sub, rg, "Microsoft.Sql/servers", &format!("sql-{n}-{r}"));
    let sb_p = id(
        sub,
        &prg,
        "Microsoft.ServiceBus/namespaces",
        &format!("sb-{n}"),
    );
    let sb_s = id(
        sub,
        &srg,
        "Microsoft.ServiceBus/namespaces",
        &format!("sb-{n}-{s}"),
    );
    let kv = |rg: &str, r: &str| id(sub, rg, "Microsoft.KeyVault/vaults", &format!("kv-{n}-{r}"));
    let vmss = |rg: &str, r: &str| {
        id(
            sub,
            rg,
            "Microsoft.Compute/virtualMachineScaleSets",
            &format!("vmss-agents-{r}"),
        )
    };
    let cosmos = id(
        sub,
        &grg,
        "Microsoft.DocumentDB/databaseAccounts",
        &format!("cosmos-{n}"),
    );
    let st = id(
        sub,
        &grg,
        "Microsoft.Storage/storageAccounts",
        &format!("st{n}data"),
    );
    let acr = id(
        sub,
        &grg,
        "Microsoft.ContainerRegistry/registries",
        &format!("cr{n}"),
    );
    let afd = id(sub, &grg, "Microsoft.Cdn/profiles", &format!("afd-{n}"));
    let tm = id(
        sub,
        &grg,
        "Microsoft.Network/trafficManagerProfiles",
        &format!("tm-{n}"),
    );
    let dns = id(
        sub,
        &grg,
        "Microsoft.Network/dnsZones",
        &format!("{n}.example.com"),
    );
    let name = |x: &str| x.rsplit('/').next().unwrap_or_default().to_string();
    vec![
        mk(
            "data-sql",
            "data-sql-failover",
            vec![sql(&prg, p), sql(&srg, s)],
            vec![pair(&sql(&prg, p), &sql(&srg, s))],
            base(&[
                ("primary_rg", &prg),
                ("secondary_rg", &srg),
                ("server_primary", &name(&sql(&prg, p))),
                ("server_secondary", &name(&sql(&srg, s))),
                ("failover_group", &format!("fog-{n}")),
                ("database", &format!("sqldb-{n}")),
            ]),
        ),
        mk(
            "data-cosmos",
            "data-cosmos-failover",
            vec![cosmos.clone()],
            vec![],
            base(&[
                ("global_rg", &grg),
                ("account", &name(&cosmos)),
                ("primary_display", &display(p)),
                ("secondary_display", &display(s)),
            ]),
        ),
        mk(
            "data-storage",
            "data-storage-failover",
            vec![st.clone()],
            vec![],
            base(&[
                ("global_rg", &grg),
                ("account", &name(&st)),
                ("probe_container", "product-images"),
            ]),
        ),
        mk(
            "web",
            "web-failover",
            vec![web_p.clone(), web_s.clone()],
            vec![pair(&web_p, &web_s)],
            base(&[
                ("primary_rg", &prg),
                ("secondary_rg", &srg),
                ("site_primary", &name(&web_p)),
                ("site_secondary", &name(&web_s)),
                ("plan_secondary", &format!("plan-{n}-{s}")),
            ]),
        ),
        mk(
            "function",
            "function-failover",
            vec![fn_p.clone(), fn_s.clone(), sb_s.clone()],
            vec![pair(&fn_p, &fn_s)],
            base(&[
                ("primary_rg", &prg),
                ("secondary_rg", &srg),
                ("func_primary", &name(&fn_p)),
                ("func_secondary", &name(&fn_s)),
                ("func_storage_secondary", &format!("stfunc{n}{ss}")),
                ("sb_primary", &name(&sb_p)),
                ("sb_secondary", &name(&sb_s)),
                ("sb_alias", &format!("sb-{n}-alias")),
                ("queue", "orders"),
            ]),
        ),
        mk(
            "servicebus",
            "servicebus-failover",
            vec![sb_p.clone(), sb_s.clone()],
            vec![pair(&sb_p, &sb_s)],
            base(&[
                ("primary_rg", &prg),
                ("secondary_rg", &srg),
                ("sb_primary", &name(&sb_p)),
                ("sb_secondary", &name(&sb_s)),
                ("sb_alias", &format!("sb-{n}-alias")),
                ("queue", "orders"),
            ]),
        ),
        mk(
            "aks",
            "aks-failover",
            vec![aks(&prg, p), aks(&srg, s)],
            vec![pair(&aks(&prg, p), &aks(&srg, s))],
            base(&[
                ("primary_rg", &prg),
                ("secondary_rg", &srg),
                ("global_rg", &grg),
                ("cluster_primary", &name(&aks(&prg, p))),
                ("cluster_secondary", &name(&aks(&srg, s))),
                ("namespace", n),
                ("replicas", "3"),
                ("workload_identity", &format!("id-{n}-api")),
                ("service_account", &format!("{n}-api")),
                ("registry", &name(&acr)),
                ("api_host", &format!("api.{n}.example.com")),
            ]),
        ),
        mk(
            "logic",
            "logic-failover",
            vec![logic(&prg, p), logic(&srg, s)],
            vec![pair(&logic(&prg, p), &logic(&srg, s))],
            base(&[
                ("primary_rg", &prg),
                ("secondary_rg", &srg),
                ("workflow_primary", &name(&logic(&prg, p))),
                ("workflow_secondary", &name(&logic(&srg, s))),
                ("trigger", "Recurrence"),
            ]),
        ),
        mk(
            "network",
            "network-failover",
            vec![afd.clone(), tm.clone(), dns.clone()],
            vec![],
            base(&[
                ("global_rg", &grg),
                ("tm_profile", &name(&tm)),
                ("afd_profile", &name(&afd)),
                ("origin_group", &format!("og-{n}")),
                ("zone", &name(&dns)),
                ("public_url", &format!("https://{n}.example.com")),
                ("api_url", &format!("https://api.{n}.example.com")),
            ]),
        ),
        mk(
            "acr",
            "acr-continuity",
            vec![acr.clone()],
            vec![],
            base(&[
                ("global_rg", &grg),
                ("registry", &name(&acr)),
                ("repository", &format!("{n}/catalog")),
            ]),
        ),
        mk(
            "keyvault",
            "keyvault-continuity",
            vec![kv(&prg, p), kv(&srg, s)],
            vec![pair(&kv(&prg, p), &kv(&srg, s))],
            base(&[
                ("primary_rg", &prg),
                ("secondary_rg", &srg),
                ("vault_primary", &name(&kv(&prg, p))),
                ("vault_secondary", &name(&kv(&srg, s))),
            ]),
        ),
        mk(
            "pipelines",
            "pipelines-failover",
            vec![vmss(&prg, p), vmss(&srg, s)],
            vec![pair(&vmss(&prg, p), &vmss(&srg, s))],
            base(&[
                ("primary_rg", &prg),
                ("secondary_rg", &srg),
                ("vmss_primary", &name(&vmss(&prg, p))),
                ("vmss_secondary", &name(&vmss(&srg, s))),
                ("ado_org", &format!("contoso-{n}")),
                ("project", n),
            ]),
        ),
    ]
}

/// A Logic App Standard pair (sites of kind `functionapp,workflowapp` on Workflow Standard
/// plans), as discovery fills the `logic-standard` component. Not in `estate`: the shop's
/// demo scenario, which the shop's generated plan rehearses against, has no Standard app.
fn logic_standard(sub: &str, n: &str, p: &str, s: &str) -> Component {
    let (prg, srg) = (format!("rg-{n}-{p}"), format!("rg-{n}-{s}"));
    let site = |rg: &str, r: &str| {
        id(
            sub,
            rg,
            "Microsoft.Web/sites",
            &format!("logic-{n}-orders-{r}"),
        )
    };
    let plan = |rg: &str, r: &str| {
        id(
            sub,
            rg,
            "Microsoft.Web/serverfarms",
            &format!("plan-{n}-workflows-{r}"),
        )
    };
    let name = |id: &str| id.rsplit('/').next().expect("a name").to_string();
    let (sp, ss, ps) = (site(&prg, p), site(&srg, s), plan(&srg, s));
    comp(
        "logic-standard",
        "logic-standard-failover",
        &[sp.clone(), ss.clone(), ps.clone()],
        &[(sp.clone(), ss.clone())],
        &[
            ("subscription", sub),
            ("primary", p),
            ("secondary", s),
            ("primary_rg", &prg),
            ("secondary_rg", &srg),
            ("site_primary", &name(&sp)),
            ("site_secondary", &name(&ss)),
            ("plan_secondary", &name(&ps)),
            ("workers", "2"),
        ],
    )
}

fn display(region: &str) -> String {
    match region {
        "westeurope" => "West Europe",
        "northeurope" => "North Europe",
        "eastus2" => "East US 2",
        "centralus" => "Central US",
        other => other,
    }
    .to_string()
}

fn shop() -> Vec<Component> {
    estate(SUB, "shop", "westeurope", "northeurope", "neu")
}

fn source(p: &str, s: &str) -> Source {
    Source {
        subscriptions: vec![SUB.to_string()],
        primary: p.into(),
        secondary: s.into(),
    }
}

fn write_all(dir: &Path, files: &[(String, String)]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write a generated file");
    }
}

fn validate_strict(dir: &Path) -> Output {
    drbook(&["validate", "--strict", dir.to_str().expect("utf-8 path")])
}

fn vars_of(text: &str) -> BTreeMap<String, toml::Value> {
    let doc: toml::Table = toml::from_str(text).expect("generated file is TOML");
    doc.get("vars")
        .and_then(|v| v.as_table())
        .map(|t| t.clone().into_iter().collect())
        .unwrap_or_default()
}

/// Every comment line of the template (but its own `# Template:` note) is in the generated
/// file, in the same order.
fn comments_kept(template: &str, generated: &str) -> Result<(), String> {
    let mut rest = generated;
    for line in template
        .lines()
        .filter(|l| l.trim_start().starts_with('#') && !l.starts_with("# Template:"))
    {
        match rest.find(line) {
            Some(at) => rest = &rest[at + line.len()..],
            None => return Err(format!("comment missing or out of order: {line}")),
        }
    }
    Ok(())
}

/// Every resource of the component is what some step of its runbook reads or changes (or a
/// parent of it), once the runbook's `[vars]` are put in: the values land where the template
/// uses them.
fn resources_reached(c: &Component, text: &str) -> Result<(), String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let vars: Vec<(String, String)> = vars_of(text)
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (format!("${{{k}}}"), s.to_string())))
        .collect();
    let mut reached = Vec::new();
    for table in ["step", "rollback"] {
        for step in doc
            .get(table)
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(r) = step.get("resource").and_then(|r| r.as_str()) {
                let mut r = r.to_string();
                for (k, v) in &vars {
                    r = r.replace(k, v);
                }
                reached.push(r.to_ascii_lowercase());
            }
        }
    }
    for id in &c.resources {
        let id = id.to_ascii_lowercase();
        if !reached.iter().any(|r| {
            r == &id || r.starts_with(&format!("{id}/")) || r.starts_with(&format!("{id}?"))
        }) {
            return Err(format!("no step of {} reaches {id}", c.runbook));
        }
    }
    Ok(())
}

#[test]
fn the_templates_validate_strict_as_shipped() {
    let out = drbook(&["validate", "--strict", "templates/"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::text(&out));
    // Every template is loaded: 12 runbooks and a plan, none skipped.
    let out = drbook(&["validate", "--strict", "--format", "json", "templates/"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let files = std::fs::read_dir(Path::new(cli::ROOT).join("templates"))
        .expect("templates/ exists")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count();
    assert_eq!(files, 14, "one template per component kind and the plan");
    assert_eq!(out.status.code(), Some(0), "{text}");
}

#[test]
fn the_folder_holds_the_templates_compiled_in() {
    let dir = Templates::from_dir(&Path::new(cli::ROOT).join("templates")).expect("templates load");
    let builtin = Templates::builtin();
    assert_eq!(
        dir.names().collect::<Vec<_>>(),
        builtin.names().collect::<Vec<_>>()
    );
    for name in builtin.names() {
        assert_eq!(dir.get(name), builtin.get(name), "{name}");
    }
}

#[test]
fn the_shops_runbooks_generate_and_validate_strict_with_their_plan() {
    let templates = Templates::builtin();
    let now = Utc::now();
    let components = shop();
    let files = templates
        .generate_all(&components, now, &source("westeurope", "northeurope"))
        .expect("the shop's components generate");
    assert_eq!(files.len(), components.len() + 1);
    let dir = tempfile::tempdir().expect("temp dir");
    write_all(dir.path(), &files);
    let out = validate_strict(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", cli::text(&out));

    let stamp = drbook_core::time::rfc3339_secs(now);
    for (c, (name, text)) in components.iter().zip(&files) {
        assert_eq!(name, &format!("{}.toml", c.runbook));
        assert!(
            text.starts_with(&format!("# Generated by drbook discover at {stamp}")),
            "{name}"
        );
        assert!(text.contains("Edit and commit this file"), "{name}");
        assert!(text.contains(&format!("# Estate: subscription {SUB}, primary region westeurope, secondary region northeurope.")), "{name}");
        for r in &c.resources {
            assert!(
                text.contains(&format!("#   {r}\n")),
                "{name}: resource {r} not in the header"
            );
        }
        let vars = vars_of(text);
        for (k, v) in &c.vars {
            let got = vars.get(k).map(|x| match x {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            assert_eq!(got.as_deref(), Some(v.as_str()), "{name}: var {k}");
        }
        let doc: toml::Table = toml::from_str(text).expect("TOML");
        assert_eq!(doc["runbook"]["id"].as_str(), Some(c.runbook.as_str()));
        let template = templates.get(&c.component).expect("template");
        comments_kept(template, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        resources_reached(c, text).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn another_estate_gets_its_own_values_and_a_plan_in_recovery_order() {
    let sub = "0b1c2d3e-1111-4222-8333-944455566677";
    let mut components = estate(sub, "travel", "eastus2", "centralus", "cus");
    components.push(logic_standard(sub, "travel", "eastus2", "centralus"));
    // A second web app of the same kind gets its own runbook.
    let mut second = components
        .iter()
        .find(|c| c.component == "web")
        .cloned()
        .expect("a web component");
    second.runbook = "web-failover-booking".into();
    for v in second.vars.values_mut().chain(second.resources.iter_mut()) {
        *v = v.replace("app-travel", "app-booking");
    }
    for (p, s) in second.pairs.iter_mut() {
        *p = p.replace("app-travel", "app-booking");
        *s = s.replace("app-travel", "app-booking");
    }
    components.push(second);
    let templates = Templates::builtin();
    let src = Source {
        subscriptions: vec![sub.into()],
        primary: "eastus2".into(),
        secondary: "centralus".into(),
    };
    let files = templates
        .generate_all(&components, Utc::now(), &src)
        .expect("the travel estate generates");
    let dir = tempfile::tempdir().expect("temp dir");
    write_all(dir.path(), &files);
    let out = validate_strict(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", cli::text(&out));

    for (c, (_, text)) in components.iter().zip(&files) {
        resources_reached(c, text).unwrap_or_else(|e| panic!("{e}"));
    }
    // No value of the sample shop is left in any [vars].
    for (name, text) in &files {
        for (k, v) in vars_of(text) {
            let s = v.to_string();
            assert!(
                !s.contains("shop") && !s.contains("europe") && !s.contains("6f1c2d3e"),
                "{name}: var {k} = {s}"
            );
        }
    }
    let (plan_name, plan) = files.last().expect("a plan");
    assert_eq!(plan_name, "plan-eastus2-outage.toml");
    let doc: toml::Table = toml::from_str(plan).expect("plan TOML");
    assert_eq!(doc["plan"]["id"].as_str(), Some("eastus2-outage"));
    assert_eq!(
        doc["plan"]["title"].as_str(),
        Some("Regional outage in eastus2: recover in centralus")
    );
    assert_eq!(doc["vars"]["primary"].as_str(), Some("eastus2"));
    assert_eq!(doc["vars"]["secondary"].as_str(), Some("centralus"));
    let groups: Vec<Vec<String>> = doc["group"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            g["runbooks"]
                .as_array()
                .expect("runbooks")
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .collect();
    let group_of = |rb: &str| groups.iter().position(|g| g.iter().any(|r| r == rb));
    // Every runbook is in exactly one group.
    for c in &components {
        assert_eq!(
            groups.iter().flatten().filter(|r| **r == c.runbook).count(),
            1,
            "{}",
            c.runbook
        );
    }
    // Data decisions first, beside the dependencies; compute after; traffic after compute;
    // delivery last.
    let data = group_of("data-sql-failover");
    assert_eq!(group_of("data-cosmos-failover"), data);
    assert_eq!(group_of("keyvault-continuity"), data);
    let compute = group_of("web-failover");
    assert_eq!(group_of("web-failover-booking"), compute);
    assert_eq!(group_of("aks-failover"), compute);
    assert_eq!(group_of("logic-failover"), compute);
    assert_eq!(group_of("logic-standard-failover"), compute);
    assert!(data < compute);
    assert!(compute < group_of("network-failover"));
    assert_eq!(group_of("pipelines-failover"), Some(groups.len() - 1));
}

/// The Logic App Standard template recovers a site, not a `Microsoft.Logic/workflows`: the
/// generated runbook reads and starts the standby site on its Workflow Standard plan, asks the
/// runtime for its workflows, stops the standby again as its rollback, and carries the
/// estate's values.
#[test]
fn a_logic_app_standard_gets_a_runbook_that_starts_its_standby_site() {
    let c = logic_standard(SUB, "shop", "westeurope", "northeurope");
    let text = generate::generate(
        &c,
        Templates::builtin()
            .get("logic-standard")
            .expect("the logic-standard template is built in"),
        Utc::now(),
        &source("westeurope", "northeurope"),
    )
    .expect("generates");
    resources_reached(&c, &text).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("logic-standard-failover.toml"), &text).expect("write");
    let out = validate_strict(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", cli::text(&out));

    let doc: toml::Table = toml::from_str(&text).expect("TOML");
    assert_eq!(
        doc["runbook"]["id"].as_str(),
        Some("logic-standard-failover")
    );
    let vars = vars_of(&text);
    assert_eq!(vars["workers"].as_str(), Some("2"), "the estate's value");
    let steps = doc["step"].as_array().expect("steps");
    let step = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("no step {id}"))
    };
    let site = "/subscriptions/${subscription}/resourceGroups/${secondary_rg}/providers/Microsoft.Web/sites/${site_secondary}";
    assert_eq!(step("secondary-site")["resource"].as_str(), Some(site));
    assert_eq!(
        step("start-site")["resource"].as_str(),
        Some(format!("{site}/start").as_str())
    );
    assert_eq!(step("start-site")["rollback"].as_str(), Some("stop-site"));
    assert_eq!(step("start-site")["cleanup"].as_str(), Some("stop-site"));
    assert!(
        step("secondary-plan")["resource"]
            .as_str()
            .is_some_and(|r| r.ends_with("/serverfarms/${plan_secondary}"))
    );
    assert_eq!(step("site-health")["kind"].as_str(), Some("health"));
    let argv: Vec<&str> = step("workflows")["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        argv.iter().any(|a| a.contains(
            "/sites/${site_secondary}/hostruntime/runtime/webhooks/workflow/api/management/workflows?api-version="
        )),
        "{argv:?}"
    );
    let rollbacks = doc["rollback"].as_array().expect("rollbacks");
    let stop = rollbacks
        .iter()
        .find(|r| r["id"].as_str() == Some("stop-site"))
        .expect("stop-site");
    assert_eq!(
        stop["resource"].as_str(),
        Some(format!("{site}/stop").as_str())
    );
    // Not the Consumption template: no step reaches a Microsoft.Logic/workflows.
    for s in steps.iter().chain(rollbacks) {
        assert!(
            !s.get("resource")
                .and_then(|r| r.as_str())
                .is_some_and(|r| r.contains("Microsoft.Logic/")),
            "{s:?}"
        );
    }
}

#[test]
fn a_plan_of_some_components_drops_the_empty_groups() {
    let components: Vec<Component> = shop()
        .into_iter()
        .filter(|c| c.component == "web" || c.component == "network")
        .collect();
    let files = Templates::builtin()
        .generate_all(
            &components,
            Utc::now(),
            &source("westeurope", "northeurope"),
        )
        .expect("generates");
    let dir = tempfile::tempdir().expect("temp dir");
    write_all(dir.path(), &files);
    let out = validate_strict(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", cli::text(&out));
    let doc: toml::Table = toml::from_str(&files[2].1).expect("plan TOML");
    let groups = doc["group"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["runbooks"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_missing_var_is_an_error_naming_template_var_and_component() {
    let templates = Templates::builtin();
    let mut web = shop()
        .into_iter()
        .find(|c| c.component == "web")
        .expect("web");
    web.vars.remove("site_secondary");
    web.vars.insert("site_secundary".into(), "x".into());
    let err = generate::generate(
        &web,
        templates.get("web").expect("web template"),
        Utc::now(),
        &source("westeurope", "northeurope"),
    )
    .expect_err("a missing var is an error");
    match &err {
        GenerateError::Vars(v) => {
            assert_eq!(v.template, "web.toml");
            assert_eq!(v.component, "web");
            assert_eq!(v.missing, vec!["site_secondary".to_string()]);
            assert_eq!(v.unknown, vec!["site_secundary".to_string()]);
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("`site_secondary`")
            && msg.contains("web.toml")
            && msg.contains("`web-failover`"),
        "{msg}"
    );

    // An unknown component kind names the templates there are.
    let mut odd = shop().remove(0);
    odd.component = "mainframe".into();
    let err = templates
        .generate_all(&[odd], Utc::now(), &source("westeurope", "northeurope"))
        .expect_err("no template");
    assert!(
        err.to_string().contains("no template `mainframe`") && err.to_string().contains("web"),
        "{err}"
    );
}

#[test]
fn a_generated_runbook_snapshot() {
    let web = shop()
        .into_iter()
        .find(|c| c.component == "web")
        .expect("web");
    let now: DateTime<Utc> = Utc::now();
    let text = generate::generate(
        &web,
        Templates::builtin().get("web").expect("web template"),
        now,
        &source("westeurope", "northeurope"),
    )
    .expect("generates");
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "[TIME]"),
    ]}, {
        insta::assert_snapshot!("generated_web_runbook", text);
    });
}

/// The shop's runbooks generated from the templates rehearse end to end, as a plan, against
/// the shop's outage on the simulator (the built-in demo scenario).
#[test]
fn the_shops_generated_plan_rehearses_on_the_demo_scenario() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("runbooks");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let files = Templates::builtin()
        .generate_all(&shop(), Utc::now(), &source("westeurope", "northeurope"))
        .expect("generates");
    write_all(&out_dir, &files);
    let answers = dir.path().join("answers.toml");
    std::fs::write(
        &answers,
        "[manual]\n\"*\" = { outcome = \"ok\", note = \"done in the drill\" }\n",
    )
    .expect("answers");
    let logs = dir.path().join("logs");
    let o = std::process::Command::new("timeout")
        .arg("300")
        .arg(cli::BIN)
        .current_dir(cli::ROOT)
        .arg("rehearse")
        .arg(&out_dir)
        .args(["--target", "sim", "--non-interactive", "--auto-approve"])
        .args(["--max-delay", "200ms", "--operator", "gameday"])
        .arg("--answers")
        .arg(&answers)
        .arg("--log-dir")
        .arg(&logs)
        .env("NO_COLOR", "1")
        .output()
        .expect("run drbook");
    let out = cli::text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("finished: every runbook done"), "{out}");
    let whole = out
        .lines()
        .find(|l| l.contains("whole incident"))
        .unwrap_or_else(|| panic!("no verdict line: {out}"));
    assert!(whole.contains("RECOVERED"), "{whole}");
    for c in shop() {
        assert!(
            out.lines()
                .any(|l| l.starts_with('✔')
                    && l.split_whitespace().nth(1) == Some(c.runbook.as_str())),
            "{} not done: {out}",
            c.runbook
        );
    }
}
