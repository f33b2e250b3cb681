//! Runbooks from templates: what `drbook discover --out DIR` writes.
//!
//! A template (`templates/*.toml` at the top of the repository) is itself a valid runbook whose
//! estate-specific values (resource ids, names, regions, host names) are its `[vars]`, with the
//! sample shop's values as defaults. Generating one sets those values to what discovery found,
//! with `toml_edit`, so the template's comments, layout and prose stay as they were, and puts
//! a header in front saying the file was generated, from what and when. The plan template's
//! groups name template runbooks; the generated plan names the generated ones in their place.
//!
//! Pure: no network, no disk (except [`Templates::from_dir`], which reads a folder of
//! templates a user keeps instead of the built-in ones).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use toml_edit::{Array, DocumentMut, Item, Table, Value};

/// One discovered component: the type `drbook discover` fills and this module renders. It
/// serialises to one entry of `components` in `drbook discover --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Component {
    /// The component kind, which is also the template's name: `web`, `function`, `logic`,
    /// `logic-standard`, `aks`, `data-sql`, `data-cosmos`, `data-storage`, `network`, `acr`, `servicebus`,
    /// `keyvault`, `pipelines`.
    pub component: String,
    /// The generated runbook's id, also its file name (with or without `.toml`).
    pub runbook: String,
    /// The ARM ids of the component's resources.
    pub resources: Vec<String>,
    /// Primary resource id, its counterpart in the secondary region; the same id twice for a
    /// resource that spans both regions (Cosmos DB, geo-redundant storage).
    pub pairs: Vec<(String, String)>,
    /// The pairing rule that made each pair, parallel to `pairs` (said in the header).
    #[serde(skip)]
    pub rules: Vec<String>,
    /// A value for every `[vars]` entry the template declares (secrets excepted), but those
    /// in `to_set`.
    #[serde(skip)]
    pub vars: BTreeMap<String, String>,
    /// Template variables discovery found no value for (Azure does not hold them: a
    /// container repository, an Azure DevOps organisation): the generated file keeps the
    /// template's example with a comment saying to set it, and the header lists them.
    #[serde(skip)]
    pub to_set: Vec<String>,
}

impl Component {
    /// The generated runbook's id: `runbook` without a `.toml` suffix.
    pub fn runbook_id(&self) -> &str {
        self.runbook.strip_suffix(".toml").unwrap_or(&self.runbook)
    }

    /// The generated runbook's file name.
    pub fn file_name(&self) -> String {
        format!("{}.toml", self.runbook_id())
    }

    /// The rule that paired `primary`, if it is paired.
    pub fn rule_of(&self, primary: &str) -> Option<&str> {
        self.pairs
            .iter()
            .position(|(p, _)| p.eq_ignore_ascii_case(primary))
            .and_then(|i| self.rules.get(i))
            .map(String::as_str)
    }
}

/// What the runbooks were generated from, for the header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub subscriptions: Vec<String>,
    pub primary: String,
    pub secondary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("template `{template}` is not valid TOML: {message}")]
    Parse { template: String, message: String },
    #[error("template `{template}`: {message}")]
    Shape { template: String, message: String },
    #[error(
        "no template `{template}` for component `{component}` (runbook `{runbook}`); known templates: {known}"
    )]
    NoTemplate {
        template: String,
        component: String,
        runbook: String,
        known: String,
    },
    #[error("{0}")]
    Vars(Box<VarsError>),
    #[error(
        "component `{component}`: runbook id `{runbook}` is not valid: use lowercase letters, digits and '-'"
    )]
    BadId { component: String, runbook: String },
    #[error("two components generate the runbook `{runbook}`")]
    Duplicate { runbook: String },
    #[error(
        "plan template `{template}`: no group names the `{component}` template's runbook `{id}`, so runbook `{runbook}` would be in no group"
    )]
    NoGroup {
        template: String,
        component: String,
        id: String,
        runbook: String,
    },
    #[error("cannot read templates from {}: {message}", .path.display())]
    Read { path: PathBuf, message: String },
}

/// The variables a component and its template disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarsError {
    pub template: String,
    pub component: String,
    pub runbook: String,
    /// Declared by the template, not given by the component.
    pub missing: Vec<String>,
    /// Given by the component, not declared by the template.
    pub unknown: Vec<String>,
    /// Given for a variable the template marks secret: never written to a file.
    pub secret: Vec<String>,
}

impl std::fmt::Display for VarsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&vars_message(self))
    }
}

fn vars_message(e: &VarsError) -> String {
    let VarsError {
        template,
        component,
        runbook,
        missing,
        unknown,
        secret,
    } = e;
    let list = |v: &[String]| {
        v.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "no value for {} (declared in the template's [vars])",
            list(missing)
        ));
    }
    if !unknown.is_empty() {
        parts.push(format!(
            "values for {} that the template does not declare",
            list(unknown)
        ));
    }
    if !secret.is_empty() {
        parts.push(format!(
            "values for secret variables {} (secrets come from the environment, never from a file)",
            list(secret)
        ));
    }
    format!(
        "template `{template}`, component `{component}` (runbook `{runbook}`): {}",
        parts.join("; ")
    )
}

/// The name of the plan template.
pub const PLAN: &str = "plan";

/// The templates compiled into the binary, by name, so it works from any directory.
const BUILTIN: &[(&str, &str)] = &[
    ("acr", include_str!("../../../../templates/acr.toml")),
    ("aks", include_str!("../../../../templates/aks.toml")),
    (
        "data-cosmos",
        include_str!("../../../../templates/data-cosmos.toml"),
    ),
    (
        "data-sql",
        include_str!("../../../../templates/data-sql.toml"),
    ),
    (
        "data-storage",
        include_str!("../../../../templates/data-storage.toml"),
    ),
    (
        "function",
        include_str!("../../../../templates/function.toml"),
    ),
    (
        "keyvault",
        include_str!("../../../../templates/keyvault.toml"),
    ),
    ("logic", include_str!("../../../../templates/logic.toml")),
    (
        "logic-standard",
        include_str!("../../../../templates/logic-standard.toml"),
    ),
    (
        "network",
        include_str!("../../../../templates/network.toml"),
    ),
    (
        "pipelines",
        include_str!("../../../../templates/pipelines.toml"),
    ),
    (PLAN, include_str!("../../../../templates/plan.toml")),
    (
        "servicebus",
        include_str!("../../../../templates/servicebus.toml"),
    ),
    ("web", include_str!("../../../../templates/web.toml")),
];

/// A set of templates by name (the file stem): the built-in ones or a folder's.
#[derive(Debug, Clone)]
pub struct Templates {
    by_name: BTreeMap<String, String>,
}

impl Templates {
    pub fn builtin() -> Self {
        Templates {
            by_name: BUILTIN
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
        }
    }

    /// Every `*.toml` of `dir` (not recursive), by file stem.
    pub fn from_dir(dir: &Path) -> Result<Self, GenerateError> {
        let read_err = |path: &Path, e: std::io::Error| GenerateError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut by_name = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| read_err(dir, e))? {
            let path = entry.map_err(|e| read_err(dir, e))?.path();
            if path.extension().is_none_or(|e| e != "toml") || !path.is_file() {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
            by_name.insert(stem.to_string(), text);
        }
        if !by_name.contains_key(PLAN) {
            return Err(GenerateError::Read {
                path: dir.to_path_buf(),
                message: format!("no plan template `{PLAN}.toml`"),
            });
        }
        Ok(Templates { by_name })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(String::as_str)
    }

    fn for_component(&self, c: &Component) -> Result<&str, GenerateError> {
        self.get(&c.component)
            .filter(|_| c.component != PLAN)
            .ok_or_else(|| GenerateError::NoTemplate {
                template: c.component.clone(),
                component: c.component.clone(),
                runbook: c.runbook.clone(),
                known: self
                    .names()
                    .filter(|n| *n != PLAN)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every component's runbook and the plan: `(file name, text)`, runbooks in the
    /// components' order, the plan last.
    pub fn generate_all(
        &self,
        components: &[Component],
        now: DateTime<Utc>,
        source: &Source,
    ) -> Result<Vec<(String, String)>, GenerateError> {
        let mut out = Vec::with_capacity(components.len() + 1);
        let mut seen = BTreeSet::new();
        for c in components {
            if !seen.insert(c.runbook_id().to_string()) {
                return Err(GenerateError::Duplicate {
                    runbook: c.runbook_id().to_string(),
                });
            }
            out.push((
                c.file_name(),
                generate(c, self.for_component(c)?, now, source)?,
            ));
        }
        let plan = generate_plan(components, self, now, source)?;
        out.push((format!("plan-{}-outage.toml", source.primary), plan));
        Ok(out)
    }
}

fn is_id(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn parse(template: &str, text: &str) -> Result<DocumentMut, GenerateError> {
    text.parse::<DocumentMut>()
        .map_err(|e| GenerateError::Parse {
            template: template.to_string(),
            message: e.to_string().trim_end().to_string(),
        })
}

fn shape(template: &str, message: impl Into<String>) -> GenerateError {
    GenerateError::Shape {
        template: template.to_string(),
        message: message.into(),
    }
}

/// Replaces a value and keeps the comments and spacing around it.
fn replace_value(slot: &mut Value, new: Value) {
    let decor = slot.decor().clone();
    *slot = new;
    *slot.decor_mut() = decor;
}

/// `given` in the type of the template's value where it parses as that type (an integer
/// stays an integer), else a string.
fn typed(old: &Value, given: &str) -> Value {
    match old {
        Value::Integer(_) => given.parse::<i64>().map(Value::from).ok(),
        Value::Boolean(_) => given.parse::<bool>().map(Value::from).ok(),
        Value::Float(_) => given.parse::<f64>().map(Value::from).ok(),
        _ => None,
    }
    .unwrap_or_else(|| Value::from(given))
}

fn table_mut<'a>(
    doc: &'a mut DocumentMut,
    name: &str,
    template: &str,
) -> Result<&'a mut Table, GenerateError> {
    doc.get_mut(name)
        .and_then(Item::as_table_mut)
        .ok_or_else(|| shape(template, format!("no [{name}] table")))
}

/// The comment on a value discovery could not read from Azure.
pub const TO_SET_MARK: &str =
    "SET THIS: not readable from Azure; the template's example value stands here";

/// The header every generated file starts with.
fn header(
    what: &str,
    template: &str,
    c: Option<&Component>,
    now: DateTime<Utc>,
    source: &Source,
) -> String {
    let mut h = String::new();
    h.push_str(&format!(
        "# Generated by drbook discover at {} from the template `{template}`.\n",
        crate::time::rfc3339_secs(now)
    ));
    h.push_str(&format!(
        "# Estate: subscription {}, primary region {}, secondary region {}.\n",
        if source.subscriptions.is_empty() {
            "(none given)".to_string()
        } else {
            source.subscriptions.join(", ")
        },
        source.primary,
        source.secondary
    ));
    if let Some(c) = c {
        h.push_str(&format!(
            "# {what} for the `{}` component, from these resources:\n",
            c.component
        ));
        for r in &c.resources {
            h.push_str(&format!("#   {r}\n"));
        }
        if !c.pairs.is_empty() {
            h.push_str("# Pairs (primary -> secondary):\n");
            for (i, (p, s)) in c.pairs.iter().enumerate() {
                match c.rules.get(i) {
                    Some(rule) => h.push_str(&format!("#   {p}\n#     -> {s}  (rule: {rule})\n")),
                    None => h.push_str(&format!("#   {p}\n#     -> {s}\n")),
                }
            }
        }
        if !c.to_set.is_empty() {
            h.push_str(&format!(
                "# Set by hand (Azure does not hold them; each is marked below): {}\n",
                c.to_set.join(", ")
            ));
        }
    } else {
        h.push_str(&format!("# {what}.\n"));
    }
    h.push_str(
        "# Edit and commit this file: it is yours now. Check it with `drbook validate --strict`.\n\n",
    );
    h
}

/// The template's own first comment lines (`# Template: ...`) are not for the generated file.
fn strip_template_note(text: &str) -> &str {
    let mut rest = text;
    while let Some(line) = rest.lines().next() {
        if line.starts_with("# Template:") {
            rest = &rest[line.len()..];
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        } else {
            break;
        }
    }
    rest
}

/// One runbook from its template: the component's `vars` fill the template's `[vars]`, its
/// `runbook` becomes the runbook's id, and a header says where it came from.
pub fn generate(
    component: &Component,
    template_text: &str,
    now: DateTime<Utc>,
    source: &Source,
) -> Result<String, GenerateError> {
    let template = format!("{}.toml", component.component);
    let id = component.runbook_id();
    if !is_id(id) {
        return Err(GenerateError::BadId {
            component: component.component.clone(),
            runbook: component.runbook.clone(),
        });
    }
    let mut doc = parse(&template, template_text)?;
    let meta = table_mut(&mut doc, "runbook", &template)?;
    match meta.get_mut("id").and_then(Item::as_value_mut) {
        Some(v) => replace_value(v, Value::from(id)),
        None => return Err(shape(&template, "[runbook] has no `id`")),
    }
    let vars = table_mut(&mut doc, "vars", &template)?;
    let (mut missing, mut secret) = (Vec::new(), Vec::new());
    let mut declared = BTreeSet::new();
    for (name, item) in vars.iter_mut() {
        let name = name.get().to_string();
        declared.insert(name.clone());
        let given = component.vars.get(&name);
        match item.as_value_mut() {
            Some(Value::InlineTable(t)) => {
                // A table: `secret`, `env`, `default`, `description`. A secret is never
                // written; any other gets its `default` set when a value is given.
                let is_secret = t.get("secret").and_then(Value::as_bool) == Some(true);
                match (given, is_secret) {
                    (Some(_), true) => secret.push(name),
                    (Some(g), false) => match t.get_mut("default") {
                        Some(d) => {
                            let new = typed(d, g);
                            replace_value(d, new);
                        }
                        None => {
                            t.insert("default", Value::from(g.as_str()));
                        }
                    },
                    (None, _) => {}
                }
            }
            Some(v) => match given {
                Some(g) => {
                    let new = typed(v, g);
                    replace_value(v, new);
                }
                None if component.to_set.contains(&name) => {
                    v.decor_mut().set_suffix(format!(" # {TO_SET_MARK}"));
                }
                None => missing.push(name),
            },
            None => {
                return Err(shape(
                    &template,
                    format!("[vars] entry `{name}` is neither a value nor an inline table"),
                ));
            }
        }
    }
    let unknown: Vec<String> = component
        .vars
        .keys()
        .filter(|k| !declared.contains(*k))
        .cloned()
        .collect();
    if !missing.is_empty() || !unknown.is_empty() || !secret.is_empty() {
        return Err(GenerateError::Vars(Box::new(VarsError {
            template,
            component: component.component.clone(),
            runbook: component.runbook.clone(),
            missing,
            unknown,
            secret,
        })));
    }
    let text = doc.to_string();
    Ok(format!(
        "{}{}",
        header("Runbook", &template, Some(component), now, source),
        strip_template_note(&text)
    ))
}

/// The plan: the plan template's groups, in their order, each naming the generated runbooks
/// of the components whose template runbook the group names there. Empty groups are dropped.
/// The plan's id and title name the regions; `[vars]` `primary` and `secondary` (when the
/// template declares them) come from `source`.
pub fn generate_plan(
    components: &[Component],
    templates: &Templates,
    now: DateTime<Utc>,
    source: &Source,
) -> Result<String, GenerateError> {
    let template = format!("{PLAN}.toml");
    let text = templates
        .get(PLAN)
        .ok_or_else(|| shape(&template, "no plan template"))?;
    let mut doc = parse(&template, text)?;

    // The template runbook id of each component's template, e.g. web -> web-failover.
    let mut template_id: BTreeMap<&str, String> = BTreeMap::new();
    for c in components {
        if template_id.contains_key(c.component.as_str()) {
            continue;
        }
        let rt = templates.for_component(c)?;
        let rdoc = parse(&format!("{}.toml", c.component), rt)?;
        let id = rdoc
            .get("runbook")
            .and_then(|r| r.get("id"))
            .and_then(Item::as_str)
            .ok_or_else(|| shape(&format!("{}.toml", c.component), "[runbook] has no `id`"))?;
        template_id.insert(c.component.as_str(), id.to_string());
    }

    let plan = table_mut(&mut doc, "plan", &template)?;
    if let Some(v) = plan.get_mut("id").and_then(Item::as_value_mut) {
        let id = format!("{}-outage", source.primary);
        if is_id(&id) {
            replace_value(v, Value::from(id));
        }
    }
    if !source.primary.is_empty()
        && !source.secondary.is_empty()
        && let Some(v) = doc
            .get_mut("plan")
            .and_then(|p| p.get_mut("title"))
            .and_then(Item::as_value_mut)
    {
        let title = format!(
            "Regional outage in {}: recover in {}",
            source.primary, source.secondary
        );
        replace_value(v, Value::from(title));
    }
    if let Some(vars) = doc.get_mut("vars").and_then(Item::as_table_mut) {
        for (name, given) in [
            ("primary", &source.primary),
            ("secondary", &source.secondary),
        ] {
            if let Some(v) = vars.get_mut(name).and_then(Item::as_value_mut) {
                replace_value(v, Value::from(given.as_str()));
            }
        }
    }

    let groups = doc
        .get_mut("group")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| shape(&template, "no [[group]]"))?;
    let mut placed = BTreeSet::new();
    for group in groups.iter_mut() {
        let names: Vec<String> = group
            .get("runbooks")
            .and_then(Item::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut ids = Array::new();
        for name in &names {
            for c in components {
                if template_id.get(c.component.as_str()) == Some(name) {
                    ids.push(c.runbook_id());
                    placed.insert(c.runbook_id().to_string());
                }
            }
        }
        match group.get_mut("runbooks").and_then(Item::as_value_mut) {
            Some(v) => replace_value(v, Value::Array(ids)),
            None => return Err(shape(&template, "a [[group]] has no `runbooks`")),
        }
    }
    groups.retain(|g| {
        g.get("runbooks")
            .and_then(Item::as_array)
            .is_some_and(|a| !a.is_empty())
    });
    if let Some(c) = components.iter().find(|c| !placed.contains(c.runbook_id())) {
        return Err(GenerateError::NoGroup {
            template,
            component: c.component.clone(),
            id: template_id
                .get(c.component.as_str())
                .cloned()
                .unwrap_or_default(),
            runbook: c.runbook_id().to_string(),
        });
    }
    let what = format!(
        "Plan ordering the runbooks {}",
        components
            .iter()
            .map(|c| c.runbook_id())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let text = doc.to_string();
    Ok(format!(
        "{}{}",
        header(&what, &template, None, now, source),
        strip_template_note(&text)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const T: &str = "# Template: note\n[runbook]\nid = \"x-failover\" # the id\ntitle = \"X\"\ncomponent = \"web\"\n\n[vars]\n# the site\nsite = \"app-shop\" # shop's\nreplicas = 3\ntoken = { secret = true, env = \"TOK\" }\ndir = { default = \".\", env = \"DIR\" }\n";

    fn comp(vars: &[(&str, &str)]) -> Component {
        Component {
            component: "x".into(),
            runbook: "x-travel.toml".into(),
            resources: vec![
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/a".into(),
            ],
            pairs: vec![],
            rules: Vec::new(),
            to_set: Vec::new(),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn fills_values_and_keeps_comments_and_types() {
        let out = generate(
            &comp(&[("site", "app-travel"), ("replicas", "5")]),
            T,
            now(),
            &Source::default(),
        )
        .unwrap();
        assert!(
            out.starts_with("# Generated by drbook discover at 2026-01-02T03:04:05Z"),
            "{out}"
        );
        assert!(out.contains("id = \"x-travel\" # the id"), "{out}");
        assert!(
            out.contains("# the site\nsite = \"app-travel\" # shop's"),
            "{out}"
        );
        assert!(out.contains("replicas = 5\n"), "{out}");
        assert!(!out.contains("# Template:"), "{out}");
        assert!(
            out.contains("#   /subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/a")
        );
        let parsed: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(parsed["vars"]["dir"]["default"].as_str(), Some("."));
    }

    #[test]
    fn missing_unknown_and_secret_vars_are_named() {
        let err = generate(
            &comp(&[("sitee", "a"), ("token", "t")]),
            T,
            now(),
            &Source::default(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("template `x.toml`"), "{msg}");
        assert!(msg.contains("component `x`"), "{msg}");
        assert!(msg.contains("no value for `site`, `replicas`"), "{msg}");
        assert!(
            msg.contains("`sitee` that the template does not declare"),
            "{msg}"
        );
        assert!(msg.contains("secret variables `token`"), "{msg}");
    }

    #[test]
    fn bad_runbook_id_and_bad_template_are_errors() {
        let mut c = comp(&[("site", "a"), ("replicas", "1")]);
        c.runbook = "Web Failover".into();
        assert!(matches!(
            generate(&c, T, now(), &Source::default()),
            Err(GenerateError::BadId { .. })
        ));
        c.runbook = "ok".into();
        let err = generate(&c, "[runbook\n", now(), &Source::default()).unwrap_err();
        assert!(matches!(err, GenerateError::Parse { .. }), "{err}");
    }

    #[test]
    fn every_builtin_template_is_there() {
        let t = Templates::builtin();
        for name in [
            "web",
            "function",
            "logic",
            "logic-standard",
            "aks",
            "data-sql",
            "data-cosmos",
            "data-storage",
            "network",
            "acr",
            "servicebus",
            "keyvault",
            "pipelines",
            PLAN,
        ] {
            assert!(t.get(name).is_some(), "{name}");
        }
    }
}
