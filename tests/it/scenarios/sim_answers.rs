//! The simulator held to the specs: it answers the runbooks' calls as Azure's REST API
//! specifications do.

use super::*;

// ------------------------------------------------------------------ the simulator, held to the specs

/// What the simulator answered one call of a runbook step.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

struct Sim {
    handle: drbook::sim::SimHandle,
    http: reqwest::Client,
    token: String,
}

/// The demo estate without its timeline or its faults: every answer is the simulator's
/// considered one, whatever the time and the dice.
async fn quiet_sim(sc: &Scenario) -> Sim {
    let mut sc = sc.clone();
    sc.events.clear();
    sc.faults = drbook::sim::Faults::default();
    let handle = drbook::sim::start(
        sc,
        drbook::sim::SimOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .await
    .expect("the simulator starts");
    let token = handle.issue_token(std::time::Duration::from_secs(3600));
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    Sim {
        handle,
        http,
        token,
    }
}

impl Sim {
    async fn send(
        &self,
        method: &str,
        path: &str,
        api: &str,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}api-version={api}", self.handle.base_url());
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut rb = self.http.request(m, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.map_err(|e| e.to_string())?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// The keys `want` has (nested; an array's first element stands for every element) that
/// `got` lacks, as paths. Keys under `skip` are not asked for.
fn missing_keys(want: &Value, got: &Value, at: &str, skip: &[String], out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if skip.contains(&path) {
                    continue;
                }
                match g.get(k) {
                    None => out.push(path),
                    Some(gv) => missing_keys(wv, gv, &path, skip, out),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if let Some(first) = w.first() {
                for (i, e) in g.iter().enumerate() {
                    missing_keys(first, e, &format!("{at}[{i}]"), skip, out);
                }
            }
        }
        // A null or a scalar in the spec's example asks only for the key.
        (Value::Object(_) | Value::Array(_), other) if !other.is_null() => {
            out.push(format!(
                "{at} (not an {})",
                if want.is_object() { "object" } else { "array" }
            ));
        }
        _ => {}
    }
}

/// Renders a step's body as drbook sends it.
fn render_body(r: &Renderer, v: &toml::Value) -> Result<Value, String> {
    Ok(match v {
        toml::Value::String(s) => Value::String(r.render(s)?),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Datetime(d) => json!(d.to_string()),
        toml::Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_body(r, x))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, x)| Ok((k.clone(), render_body(r, x)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Every call a shipped runbook makes (Resource Graph queries aside: tests/carry_out.rs runs
/// them), sent as drbook sends it to the simulator serving the demo estate: the answer must
/// have the status the spec lists, the headers its example carries for that status and the
/// keys of its example's body; and every key the step reads must be in the answer (so the demo
/// holds what the runbooks read, and by the test above, only what Azure has).
#[tokio::test]
async fn the_simulator_answers_the_runbooks_calls_as_the_specs_do() {
    let run = async {
        let (sc, estate) = westeurope();
        let c = contracts();
        let reads = quiet_sim(&sc).await;
        let mut problems = Vec::new();
        let mut answered = 0;
        let mut skipped = Vec::new();
        for rb in shipped_runbooks() {
            let r = Renderer::new(&rb, &estate);
            for step in all_steps(&rb) {
                let kind = *step.kind.get_ref();
                if kind == StepKind::Graph {
                    continue;
                }
                let Some(Ok(call)) = call_of(step) else {
                    continue;
                };
                // Reported by every_arm_call_of_the_runbooks_is_in_azures_specs.
                let Some(op) = c.operation(&call) else {
                    continue;
                };
                let at = short_where(&rb, step);
                let rendered = step
                    .resource
                    .as_ref()
                    .map(|res| r.render(res.get_ref()))
                    .transpose()
                    .and_then(|id| {
                        step.body
                            .as_ref()
                            .map(|b| render_body(&r, b.get_ref()))
                            .transpose()
                            .map(|b| (id, b))
                    });
                let (Some(id), body) = (match rendered {
                    Ok(x) => x,
                    Err(why) => {
                        skipped.push(format!("{at}: {why}"));
                        continue;
                    }
                }) else {
                    continue;
                };
                let path = if kind == StepKind::Health {
                    format!(
                        "{}/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
                        strip_query(&id)
                    )
                } else {
                    id.clone()
                };
                // A call whose precondition the starting estate does not meet: its answer is
                // held to the spec by the test named here, which sets the precondition up.
                if path.to_ascii_lowercase().ends_with("/onlineregion") {
                    skipped.push(format!(
                        "{at}: needs the region offline first (tests/sim.rs \
                         cosmos_offline_region_moves_the_writes_and_online_region_brings_a_read_region_back)"
                    ));
                    continue;
                }
                // A write gets an estate of its own, untouched by the writes before it.
                let own = if call.method == "GET" {
                    None
                } else {
                    Some(quiet_sim(&sc).await)
                };
                let sim = own.as_ref().unwrap_or(&reads);
                let a = match sim
                    .send(&call.method, &path, &call.api_version, body.as_ref())
                    .await
                {
                    Ok(a) => a,
                    Err(e) => {
                        problems.push(format!("{at}: {e}"));
                        continue;
                    }
                };
                answered += 1;
                let what = format!("{at}: {} {path}", call.method);
                if !op.allows(a.status) {
                    problems.push(format!(
                        "{what}: HTTP {} {}, where {} answers {:?}",
                        a.status,
                        a.body,
                        op.name(),
                        op.status
                    ));
                    continue;
                }
                for h in op.headers.get(&a.status.to_string()).into_iter().flatten() {
                    if !a.headers.contains_key(h.as_str()) {
                        problems.push(format!(
                            "{what}: HTTP {} without the {h} header {} sends",
                            a.status,
                            op.name()
                        ));
                    }
                }
                // And no operation header the example lacks: a client must poll the way Azure
                // makes it poll (Location alone, for SQL's and storage's failovers).
                if let Some(listed) = op.headers.get(&a.status.to_string()) {
                    for h in ["Location", "Azure-AsyncOperation"] {
                        if a.headers.contains_key(h)
                            && !listed.iter().any(|l| l.eq_ignore_ascii_case(h))
                        {
                            problems.push(format!(
                                "{what}: HTTP {} with the {h} header {} does not send",
                                a.status,
                                op.name()
                            ));
                        }
                    }
                }
                if op.lro
                    && a.status == 202
                    && !a.headers.contains_key("location")
                    && !a.headers.contains_key("azure-asyncoperation")
                {
                    problems.push(format!(
                        "{what}: 202 of a long-running operation with neither Location nor \
                         Azure-AsyncOperation"
                    ));
                }
                let has_body = a.body.is_object();
                if let (Some(want), true) = (op.response(), has_body) {
                    let mut skip = op.sometimes.clone();
                    if !path.to_ascii_lowercase().contains("$expand") {
                        skip.extend(op.expand_only.iter().cloned());
                    }
                    let mut missing = Vec::new();
                    missing_keys(&want, &a.body, "", &skip, &mut missing);
                    if !missing.is_empty() {
                        problems.push(format!(
                            "{what}: the answer lacks {} that {} has",
                            missing.join(", "),
                            op.example
                        ));
                    }
                }
                if has_body {
                    for (what_read, raw) in paths_read(step) {
                        let Ok(p) = r.render(&raw) else { continue };
                        let Ok(p) = JsonPath::parse(&p) else { continue };
                        if p.select(&a.body).is_empty() {
                            problems.push(format!(
                                "{what}: {what_read} `{raw}`, which the simulator's answer does \
                                 not have"
                            ));
                        }
                    }
                }
                if let Some(own) = own {
                    own.handle.shutdown().await;
                }
            }
        }
        reads.handle.shutdown().await;
        println!("calls answered: {answered}; skipped: {}", skipped.len());
        for s in &skipped {
            println!("  skipped {s}");
        }
        assert!(answered >= 70, "only {answered} calls were answered");
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the calls are answered within two minutes");
}

/// The simulator refuses an api-version its type does not accept, as ARM does: a resource
/// provider's type with NoRegisteredProviderFound, ARM's own with InvalidApiVersionParameter,
/// both listing what is supported.
#[tokio::test]
async fn the_simulator_refuses_an_api_version_the_specs_do_not_list() {
    let run = async {
        let (sc, _) = westeurope();
        let sim = quiet_sim(&sc).await;
        let sub = &sc.subscriptions[0].id;
        let site = format!(
            "/subscriptions/{sub}/resourceGroups/rg-shop-northeurope/providers/Microsoft.Web/sites/app-shop-northeurope"
        );
        let ok = sim
            .send("GET", &site, "2023-12-01", None)
            .await
            .expect("answered");
        assert_eq!(ok.status, 200, "{}", ok.body);

        let a = sim
            .send("GET", &site, "2023-12-02", None)
            .await
            .expect("answered");
        assert_eq!(a.status, 400, "{}", a.body);
        assert_eq!(a.body["error"]["code"], "NoRegisteredProviderFound");
        let msg = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with(
                "No registered resource provider found for location 'northeurope' and API \
                 version '2023-12-02' for type 'sites'. The supported api-versions are '"
            ),
            "{msg}"
        );
        let listed = drbook::sim::apiversions::supported("Microsoft.Web/sites")
            .expect("sites are in the table")
            .versions
            .iter()
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        assert!(msg.contains(&format!("'{listed}'")), "{msg}");

        // Versions the specs list though no runbook uses them are accepted, as ARM accepts
        // them (the review found Resource Graph's 2019-04-01, 2021-03-01 and 2024-04-01 and
        // Cosmos DB's 2021-10-15 and 2023-04-15 refused).
        let query = serde_json::json!({"subscriptions": [sub], "query": "Resources | project id"});
        for v in ["2019-04-01", "2021-03-01", "2024-04-01"] {
            let a = sim
                .send(
                    "POST",
                    "/providers/Microsoft.ResourceGraph/resources",
                    v,
                    Some(&query),
                )
                .await
                .expect("answered");
            assert_eq!(a.status, 200, "Resource Graph at {v}: {}", a.body);
        }
        let cosmos = format!(
            "/subscriptions/{sub}/resourceGroups/rg-shop-global/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-shop"
        );
        for v in ["2021-10-15", "2023-04-15"] {
            let a = sim.send("GET", &cosmos, v, None).await.expect("answered");
            assert_eq!(a.status, 200, "Cosmos DB at {v}: {}", a.body);
        }
        // The location named is the scope's own: the account's (West Europe, though its
        // outages are modelled as `global`), and for a list in a group with no such resource,
        // the group's (Sweden Central).
        let a = sim
            .send("GET", &cosmos, "2023-04-16", None)
            .await
            .expect("answered");
        let msg = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("for location 'westeurope'"), "{msg}");
        let a = sim
            .send(
                "GET",
                &format!("/subscriptions/{sub}/resourceGroups/rg-shop-global/providers/Microsoft.Web/sites"),
                "2023-12-02",
                None,
            )
            .await
            .expect("answered");
        let msg = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("for location 'swedencentral'"), "{msg}");

        let rg = format!("/subscriptions/{sub}/resourceGroups/rg-shop-northeurope");
        let a = sim
            .send("GET", &rg, "2020-01-01", None)
            .await
            .expect("answered");
        assert_eq!(a.status, 400, "{}", a.body);
        assert_eq!(a.body["error"]["code"], "InvalidApiVersionParameter");
        let listed = drbook::sim::apiversions::supported("Microsoft.Resources/resourceGroups")
            .expect("resource groups are in the table")
            .versions
            .iter()
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            a.body["error"]["message"],
            format!(
                "The api-version '2020-01-01' is invalid. The supported versions are '{listed}'."
            )
        );

        // A type no provider serves, in a namespace that exists and in one that does not.
        let a = sim
            .send(
                "GET",
                &format!("{rg}/providers/Microsoft.Web/gadgets/x"),
                "2023-12-01",
                None,
            )
            .await
            .expect("answered");
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (404, Some("InvalidResourceType"))
        );
        let a = sim
            .send(
                "GET",
                &format!("{rg}/providers/Contoso.Gadgets/gadgets/x"),
                "2023-12-01",
                None,
            )
            .await
            .expect("answered");
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (400, Some("InvalidResourceNamespace"))
        );
        sim.handle.shutdown().await;
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("answered within 30 s");
}

/// A body key the spec's request does not take is reported too.
#[test]
fn a_body_off_the_specs_is_reported() {
    let c = contracts();
    let op = c
        .operations
        .iter()
        .find(|o| o.id == "Endpoints_Update")
        .expect("Endpoints_Update is in the contracts");
    let body: toml::Value =
        toml::from_str("properties = { endpointState = \"Disabled\" }").expect("a TOML body");
    let mut problems = Vec::new();
    body_problems("step `x`", op, &body, &mut problems);
    assert_eq!(
        problems,
        [
            "step `x`: sends `properties.endpointState` in its body, which the request of \
          Endpoints_Update (PATCH Microsoft.Network/trafficManagerProfiles/azureEndpoints, \
          api-version 2022-04-01) does not take (spec: \
          specification/trafficmanager/resource-manager/Microsoft.Network/stable/2022-04-01/examples/Endpoint-PATCH-External-Target.json)"
        ]
    );
    let body: toml::Value =
        toml::from_str("properties = { endpointStatus = \"Disabled\" }").expect("a TOML body");
    let mut problems = Vec::new();
    body_problems("step `x`", op, &body, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
}
