//! Variable values for a run: each declared variable's value from, highest first, `--var`,
//! its `env` variable, `DRBOOK_VAR_<NAME>`, the plan, then its default. Secret values are
//! remembered so they can be masked wherever text is shown or logged.

use std::collections::BTreeMap;
use std::fmt;

use super::model::Runbook;
use crate::secrets::{MASK, MIN_SECRET, SecretMatcher};

/// Where a variable's value came from (shown to the operator, never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    Env(String),
    Plan,
    Default,
    /// A secret no one set, on the simulator: it runs no command that would use it.
    StandIn,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::CommandLine => f.write_str("--var"),
            Origin::Env(name) => write!(f, "${name}"),
            Origin::Plan => f.write_str("plan"),
            Origin::Default => f.write_str("default"),
            Origin::StandIn => f.write_str("unset (a stand-in on the simulator)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub value: String,
    pub secret: bool,
    pub origin: Origin,
}

/// The variables of one runbook, resolved.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub values: BTreeMap<String, Value>,
}

/// A variable with no value from anywhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable `{name}` of runbook `{runbook}` has no value: {how}")]
pub struct Missing {
    pub runbook: String,
    pub name: String,
    pub how: String,
    pub secret: bool,
    /// The environment variable that would give it a value.
    pub env: String,
}

/// Text of a TOML scalar as it is substituted into strings.
pub fn scalar_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The conventional environment variable for a runbook variable.
pub fn env_name(var: &str) -> String {
    format!("DRBOOK_VAR_{}", var.to_ascii_uppercase().replace('-', "_"))
}

/// The `--var` names that no runbook or plan of the set declares, each with its message: a
/// misspelt override would otherwise be ignored silently while the default it meant to replace
/// is used.
pub fn undeclared<'a>(
    names: impl IntoIterator<Item = &'a str>,
    runbooks: &[Runbook],
    plan_vars: &[&BTreeMap<String, toml::Spanned<toml::Value>>],
) -> Vec<String> {
    let declared: std::collections::BTreeSet<&str> = runbooks
        .iter()
        .flat_map(|rb| rb.vars.iter().map(|v| v.name.get_ref().as_str()))
        .chain(plan_vars.iter().flat_map(|m| m.keys().map(String::as_str)))
        .collect();
    names
        .into_iter()
        .filter(|n| !declared.contains(n))
        .map(|n| {
            let hint = crate::diag::did_you_mean(n, declared.iter().copied())
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            format!("--var {n}: no runbook or plan here declares a variable `{n}`{hint}")
        })
        .collect()
}

/// Resolves every variable of `rb`. `env` reads the environment (a parameter so tests need
/// not touch the process's own).
pub fn resolve(
    rb: &Runbook,
    plan: Option<&BTreeMap<String, toml::Spanned<toml::Value>>>,
    overrides: &BTreeMap<String, String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vars, Vec<Missing>> {
    let (vars, missing) = resolve_partial(rb, plan, overrides, env);
    if missing.is_empty() {
        Ok(vars)
    } else {
        Err(missing)
    }
}

/// Like `resolve`, but keeps what it found alongside what is missing, for commands that can
/// go on without the steps that need a missing variable.
pub fn resolve_partial(
    rb: &Runbook,
    plan: Option<&BTreeMap<String, toml::Spanned<toml::Value>>>,
    overrides: &BTreeMap<String, String>,
    env: impl Fn(&str) -> Option<String>,
) -> (Vars, Vec<Missing>) {
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for def in &rb.vars {
        let name = def.name.get_ref();
        let generic = env_name(name);
        let found = overrides
            .get(name)
            .map(|v| (v.clone(), Origin::CommandLine))
            .or_else(|| {
                let e = def.env.as_ref()?;
                env(e).map(|v| (v, Origin::Env(e.clone())))
            })
            .or_else(|| env(&generic).map(|v| (v, Origin::Env(generic.clone()))))
            .or_else(|| {
                plan?
                    .get(name)
                    .map(|v| (scalar_text(v.get_ref()), Origin::Plan))
            })
            .or_else(|| {
                def.default
                    .as_ref()
                    .map(|v| (scalar_text(v.get_ref()), Origin::Default))
            });
        match found {
            Some((value, origin)) => {
                values.insert(
                    name.clone(),
                    Value {
                        value,
                        secret: def.secret,
                        origin,
                    },
                );
            }
            None => {
                let mut how = match &def.env {
                    Some(e) => format!("set ${e} or pass --var {name}=..."),
                    None => format!("pass --var {name}=... or set ${generic}"),
                };
                if let Some(d) = &def.description {
                    how = format!("{how} ({d})");
                }
                missing.push(Missing {
                    runbook: rb.id().to_string(),
                    name: name.clone(),
                    how,
                    secret: def.secret,
                    env: def.env.clone().unwrap_or(generic),
                });
            }
        }
    }
    (Vars { values }, missing)
}

impl Vars {
    /// Gives the missing secret `m` a stand-in value, for a run whose commands do not run
    /// (the simulator): the value is no one's secret, and is masked like one all the same.
    pub fn stand_in(&mut self, m: &Missing) {
        self.values.insert(
            m.name.clone(),
            Value {
                value: format!("unset-{}", m.name),
                secret: true,
                origin: Origin::StandIn,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.value.as_str())
    }

    /// The value as it may be displayed: secrets masked.
    pub fn display(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|v| if v.secret { MASK } else { v.value.as_str() })
    }

    /// Secret values too short to mask without masking ordinary text (a one-letter "secret"
    /// would blank every such letter of the log): warned about, not masked.
    pub fn weak_secrets(&self) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(_, v)| {
                v.secret && !v.value.is_empty() && v.value.chars().count() < MIN_SECRET
            })
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Replaces every secret value inside `text` with the mask, in every form drbook's own
    /// output gives it (see `secrets::SecretMatcher`).
    pub fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = self
            .values
            .values()
            .filter(|v| v.secret && v.value.chars().count() >= MIN_SECRET)
            .map(|v| v.value.as_str())
            .collect();
        if secrets.is_empty() {
            return text.to_string();
        }
        SecretMatcher::cached(&secrets).mask(text).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceFile;
    use std::path::Path;

    fn runbook() -> Runbook {
        let text = r#"
[runbook]
id = "r"
title = "R"
component = "data"
[vars]
region = "westeurope"
count = 3
password = { secret = true, env = "SHOP_SQL_PASSWORD", description = "SQL admin password" }
plan_only = { description = "set by the plan" }
"#;
        let out = crate::runbook::parse_source(&SourceFile::new(Path::new("r.toml"), text));
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        out.runbook.expect("parses")
    }

    #[test]
    fn precedence_is_cli_then_env_then_plan_then_default() {
        let rb = runbook();
        let mut plan = BTreeMap::new();
        plan.insert(
            "plan_only".to_string(),
            toml::Spanned::new(0..0, toml::Value::from("p")),
        );
        plan.insert(
            "region".to_string(),
            toml::Spanned::new(0..0, toml::Value::from("plan-region")),
        );
        let env = |k: &str| match k {
            "SHOP_SQL_PASSWORD" => Some("hunter2".to_string()),
            "DRBOOK_VAR_COUNT" => Some("5".to_string()),
            _ => None,
        };
        let mut cli = BTreeMap::new();
        cli.insert("region".to_string(), "northeurope".to_string());
        let vars = resolve(&rb, Some(&plan), &cli, env).expect("all resolved");
        assert_eq!(vars.values["region"].origin, Origin::CommandLine);
        assert_eq!(vars.get("region"), Some("northeurope"));
        assert_eq!(vars.get("count"), Some("5"));
        assert_eq!(
            vars.values["password"].origin,
            Origin::Env("SHOP_SQL_PASSWORD".into())
        );
        assert_eq!(vars.get("plan_only"), Some("p"));

        let vars =
            resolve(&rb, Some(&plan), &BTreeMap::new(), |_| None).expect_err("password missing");
        assert_eq!(vars.len(), 1);
        assert!(
            vars[0].to_string().contains("SHOP_SQL_PASSWORD"),
            "{}",
            vars[0]
        );
        assert!(vars[0].to_string().contains("SQL admin password"));
    }

    #[test]
    fn secrets_are_masked_in_display_and_text() {
        let rb = runbook();
        let mut cli = BTreeMap::new();
        cli.insert("password".to_string(), "s3cr3t-value".to_string());
        cli.insert("plan_only".to_string(), "x".to_string());
        let vars = resolve(&rb, None, &cli, |_| None).expect("resolved");
        assert_eq!(vars.display("password"), Some(MASK));
        assert_eq!(vars.display("region"), Some("westeurope"));
        let text = vars.redact("login failed for sa with s3cr3t-value at westeurope");
        assert!(!text.contains("s3cr3t-value"));
        assert!(text.contains(MASK) && text.contains("westeurope"));
    }
}
