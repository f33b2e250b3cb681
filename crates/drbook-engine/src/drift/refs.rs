//! The resources runbooks name: each step's ARM path (`resource` of check, health, action and
//! storage steps) with the runbook's variables filled in, reduced by the ARM path grammar to
//! the resource it reads or acts on and that resource's type; and the resource groups a graph
//! step's query filters on. What cannot be known before a run (a step's output, a variable
//! with no value) is kept aside with the reason, never guessed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use drbook_azure::path::{ArmTarget, GROUP_TYPE, target_of};
use drbook_core::runbook::LoadSet;
use drbook_core::runbook::model::{Runbook, Step, StepKind};
use drbook_core::runbook::template::{Ref, RenderError};
use drbook_core::runbook::vars;

use crate::checks::scope::Scope;

/// One resource a step names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// The resource's id (the step's path without its action or query).
    pub resource: String,
    /// The type the path implies, lower case (`microsoft.web/sites`).
    #[serde(rename = "type")]
    pub type_: String,
    pub file: String,
    pub runbook: String,
    pub step: String,
    /// The step's `api_version`: what a GET of the resource uses when Resource Graph does
    /// not list its type.
    #[serde(skip)]
    pub api_version: Option<String>,
}

/// A step whose resource cannot be checked, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    /// The path or query as written (variables not filled in), or the resource id.
    pub resource: String,
    pub file: String,
    pub runbook: String,
    pub step: String,
    pub reason: String,
}

/// Every reference of a set of runbooks, and what the runbooks say of the estate.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    pub refs: Vec<Reference>,
    pub unchecked: Vec<Unchecked>,
    /// The `primary` and `secondary` variables, when the runbooks agree on one value.
    pub primary: Option<String>,
    pub secondary: Option<String>,
    /// The values of secret variables, to mask wherever the report is shown.
    pub secrets: Vec<String>,
}

impl Refs {
    /// The subscriptions the references name, in order, each once.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut subs: Vec<String> = Vec::new();
        for r in &self.refs {
            if let Some(t) = target_of(&r.resource)
                && !subs.iter().any(|s| s.eq_ignore_ascii_case(&t.subscription))
            {
                subs.push(t.subscription);
            }
        }
        subs
    }
}

/// The references of every runbook of `set`, with variables resolved as `drbook check`
/// resolves them: `--var` (`overrides`), the environment (`env`), the plan, the default.
pub fn references(
    set: &LoadSet,
    overrides: &BTreeMap<String, String>,
    env: impl Fn(&str) -> Option<String>,
) -> Refs {
    let mut out = Refs::default();
    let mut regions: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for rb in &set.runbooks {
        let plan = set.plans.iter().find(|p| {
            p.groups
                .iter()
                .any(|g| g.runbooks.iter().any(|r| r.get_ref() == rb.id()))
        });
        let (v, missing) = vars::resolve_partial(rb, plan.map(|p| &p.vars), overrides, &env);
        out.secrets.extend(
            v.values
                .values()
                .filter(|x| x.secret && x.value.chars().count() >= drbook_core::secrets::MIN_SECRET)
                .map(|x| x.value.clone()),
        );
        for name in ["primary", "secondary"] {
            if let Some(value) = v.get(name) {
                regions.entry(name).or_default().push(value.to_string());
            }
        }
        let mut scope = Scope::new(rb, v, BTreeMap::new());
        scope.missing = missing.into_iter().map(|m| (m.name, m.how)).collect();
        for step in rb.steps.iter().chain(&rb.rollbacks) {
            step_refs(rb, step, &scope, &mut out);
        }
    }
    let agreed = |values: Option<&Vec<String>>| {
        let values = values?;
        let first = values.first()?;
        values
            .iter()
            .all(|v| v.eq_ignore_ascii_case(first))
            .then(|| first.clone())
    };
    out.primary = agreed(regions.get("primary"));
    out.secondary = agreed(regions.get("secondary"));
    out
}

fn step_refs(rb: &Runbook, step: &Step, scope: &Scope, out: &mut Refs) {
    let here = |resource: String| Unchecked {
        resource,
        file: rb.file.display().to_string(),
        runbook: rb.id().to_string(),
        step: step.id.get_ref().clone(),
        reason: String::new(),
    };
    let reference = |t: &ArmTarget| Reference {
        resource: t.id.clone(),
        type_: t.type_.clone(),
        file: rb.file.display().to_string(),
        runbook: rb.id().to_string(),
        step: step.id.get_ref().clone(),
        api_version: step.api_version.as_ref().map(|a| a.get_ref().clone()),
    };
    if let Some(written) = &step.resource {
        let written = written.get_ref();
        let path = match scope.render(written) {
            Ok(p) => p,
            Err(e) => {
                out.unchecked.push(Unchecked {
                    reason: unresolved(&e, scope, written),
                    ..here(written.clone())
                });
                return;
            }
        };
        let Some(t) = target_of(&path) else {
            out.unchecked.push(Unchecked {
                reason: "not an ARM resource path (`/subscriptions/…`)".into(),
                ..here(path)
            });
            return;
        };
        // PUT creates (or replaces) what the path names: it need not exist yet, but what
        // holds it must.
        let creates = *step.kind.get_ref() == StepKind::Action
            && t.action.is_none()
            && step
                .method
                .as_ref()
                .is_some_and(|m| m.get_ref().eq_ignore_ascii_case("PUT"));
        match (creates, t.container().as_deref().and_then(target_of)) {
            (false, _) => out.refs.push(reference(&t)),
            (true, Some(holder)) => out.refs.push(reference(&holder)),
            (true, None) => {}
        }
    }
    if *step.kind.get_ref() == StepKind::Graph
        && let Some(query) = &step.query
    {
        let query = match scope.render(query.get_ref()) {
            Ok(q) => q,
            Err(e) => {
                out.unchecked.push(Unchecked {
                    reason: unresolved(&e, scope, query.get_ref()),
                    ..here(query.get_ref().clone())
                });
                return;
            }
        };
        let groups = groups_in(&query);
        if groups.is_empty() {
            return;
        }
        let subs: Vec<String> = match &step.subscriptions {
            Some(list) => list
                .get_ref()
                .iter()
                .filter_map(|s| scope.render(s.get_ref()).ok())
                .collect(),
            None => scope
                .vars
                .get("subscription")
                .map(str::to_string)
                .into_iter()
                .collect(),
        };
        if subs.is_empty() {
            out.unchecked.push(Unchecked {
                reason: "the query names resource groups, but no subscription (a `subscriptions` field or a `subscription` variable)".into(),
                ..here(query.clone())
            });
            return;
        }
        for sub in &subs {
            for g in &groups {
                out.refs.push(Reference {
                    resource: format!("/subscriptions/{sub}/resourceGroups/{g}"),
                    type_: GROUP_TYPE.into(),
                    file: rb.file.display().to_string(),
                    runbook: rb.id().to_string(),
                    step: step.id.get_ref().clone(),
                    api_version: None,
                });
            }
        }
    }
}

/// Why `written` could not be filled in.
fn unresolved(e: &RenderError, scope: &Scope, written: &str) -> String {
    match e {
        RenderError::Unresolved(Ref::Step { step, field }) => {
            format!("names the output `{field}` of step `{step}`, known only when the runbook runs")
        }
        RenderError::Unresolved(Ref::Var(name)) => match scope.missing_in(written).first() {
            Some((_, how)) => format!("variable `{name}` has no value: {how}"),
            None => format!("variable `{name}` has no value"),
        },
        other => other.to_string(),
    }
}

/// The resource groups a Resource Graph query keeps (`resourceGroup =~ 'x'`,
/// `resourceGroup == "x"`, `resourceGroup in~ ('x', 'y')`).
pub fn groups_in(query: &str) -> Vec<String> {
    static ONE: OnceLock<Option<Regex>> = OnceLock::new();
    static MANY: OnceLock<Option<Regex>> = OnceLock::new();
    let one = ONE
        .get_or_init(|| Regex::new(r#"(?i)\bresourceGroup\s*(?:=~|==)\s*['"]([^'"]+)['"]"#).ok());
    let many = MANY.get_or_init(|| Regex::new(r"(?i)\bresourceGroup\s+in~?\s*\(([^)]*)\)").ok());
    let mut out: Vec<String> = Vec::new();
    let mut add = |g: &str| {
        let g = g.trim().trim_matches(|c| c == '\'' || c == '"').trim();
        if !g.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(g)) {
            out.push(g.to_string());
        }
    };
    if let Some(re) = one {
        for c in re.captures_iter(query) {
            add(&c[1]);
        }
    }
    if let Some(re) = many {
        for c in re.captures_iter(query) {
            c[1].split(',').for_each(&mut add);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::runbook::load_paths;

    fn refs_of(toml: &str) -> Refs {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rb.toml");
        std::fs::write(&file, toml).unwrap();
        let set = load_paths(&[file]).unwrap();
        assert_eq!(set.error_count(), 0, "{:?}", set.diagnostics);
        references(&set, &BTreeMap::new(), |_| None)
    }

    const HEAD: &str = r#"
[runbook]
id = "web-failover"
title = "t"
component = "web"

[vars]
subscription = "s1"
primary = "eastus2"
secondary = "centralus"
rg = "rg-b"
site = "app-b"
"#;

    #[test]
    fn paths_are_filled_in_and_reduced_to_the_resource_they_act_on() {
        let r = refs_of(&format!(
            r#"{HEAD}
[[step]]
id = "read"
title = "t"
kind = "check"
resource = "/subscriptions/${{subscription}}/resourceGroups/${{rg}}/providers/Microsoft.Web/sites/${{site}}"
api_version = "2023-12-01"
expect = {{ path = "properties.state", equals = "Running" }}

[[step]]
id = "start"
title = "t"
kind = "action"
method = "POST"
resource = "/subscriptions/${{subscription}}/resourceGroups/${{rg}}/providers/Microsoft.Web/sites/${{site}}/start"
api_version = "2023-12-01"
depends_on = ["read"]

[[step]]
id = "identity"
title = "t"
kind = "action"
method = "PUT"
resource = "/subscriptions/${{subscription}}/resourceGroups/${{rg}}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id/federatedIdentityCredentials/new"
api_version = "2023-01-31"
body = {{ properties = {{ issuer = "https://x" }} }}
depends_on = ["start"]

[[step]]
id = "inventory"
title = "t"
kind = "graph"
query = "Resources | where resourceGroup =~ '${{rg}}' or resourceGroup in~ ('rg-c', \"rg-b\")"
depends_on = ["read"]
"#
        ));
        let site = "/subscriptions/s1/resourceGroups/rg-b/providers/Microsoft.Web/sites/app-b";
        let got: Vec<(&str, &str, &str)> = r
            .refs
            .iter()
            .map(|x| (x.step.as_str(), x.resource.as_str(), x.type_.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("read", site, "microsoft.web/sites"),
                ("start", site, "microsoft.web/sites"),
                (
                    "identity",
                    "/subscriptions/s1/resourceGroups/rg-b/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
                    "microsoft.managedidentity/userassignedidentities"
                ),
                (
                    "inventory",
                    "/subscriptions/s1/resourceGroups/rg-b",
                    GROUP_TYPE
                ),
                (
                    "inventory",
                    "/subscriptions/s1/resourceGroups/rg-c",
                    GROUP_TYPE
                ),
            ]
        );
        assert!(r.unchecked.is_empty(), "{:?}", r.unchecked);
        assert_eq!(r.primary.as_deref(), Some("eastus2"));
        assert_eq!(r.subscriptions(), ["s1"]);
        assert!(r.refs[0].file.ends_with("rb.toml"), "{}", r.refs[0].file);
    }

    #[test]
    fn what_only_a_run_knows_is_kept_aside_with_the_reason() {
        let r = refs_of(&format!(
            r#"{HEAD}
owner = {{ env = "OWNER_RG" }}

[[step]]
id = "read"
title = "t"
kind = "check"
resource = "/subscriptions/${{subscription}}/resourceGroups/${{owner}}"
api_version = "2021-04-01"
outputs = {{ id = "properties.siteId" }}
expect = {{ path = "location", exists = true }}

[[step]]
id = "next"
title = "t"
kind = "check"
resource = "${{steps.read.id}}"
api_version = "2021-04-01"
depends_on = ["read"]
expect = {{ path = "location", exists = true }}
"#
        ));
        assert!(r.refs.is_empty(), "{:?}", r.refs);
        let reasons: Vec<(&str, &str)> = r
            .unchecked
            .iter()
            .map(|u| (u.step.as_str(), u.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 2);
        assert!(
            reasons[0].1.contains("`owner` has no value") && reasons[0].1.contains("OWNER_RG"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].1.contains("output `id` of step `read`"),
            "{reasons:?}"
        );
    }

    #[test]
    fn secret_values_are_kept_to_be_masked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rb.toml");
        std::fs::write(
            &file,
            format!(
                r#"{HEAD}
token = {{ secret = true, env = "DRIFT_TEST_TOKEN" }}

[[step]]
id = "read"
title = "t"
kind = "check"
resource = "/subscriptions/${{subscription}}/resourceGroups/${{token}}"
api_version = "2021-04-01"
expect = {{ path = "location", exists = true }}
"#
            ),
        )
        .unwrap();
        let set = load_paths(&[file]).unwrap();
        let r = references(&set, &BTreeMap::new(), |k| {
            (k == "DRIFT_TEST_TOKEN").then(|| "s3cr3t-value-long".to_string())
        });
        assert_eq!(r.secrets, ["s3cr3t-value-long"]);
        assert_eq!(r.refs.len(), 1);
    }
}
