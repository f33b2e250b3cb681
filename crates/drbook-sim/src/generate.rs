//! `[[generate]]` blocks of a scenario: many copies of a few resource (and resource group)
//! templates, so a large estate is a few dozen lines of TOML rather than a hundred thousand.
//!
//! ```toml
//! [[generate]]
//! count = 1000                      # copies 0..999
//! subscriptions = ["sub-a", "sub-b"] # copy i goes to subscriptions[i % 2]
//! [[generate.resource]]
//! id = "/subscriptions/{sub}/resourceGroups/rg-apps/providers/Microsoft.Web/sites/app-{i}"
//! location = "eastus2"
//! ```
//!
//! In every string value of a template (not in keys), `{i}` is the copy's number (0 to
//! count - 1), `{sub}` the copy's subscription and `{n}` the copy's number within that
//! subscription (i / the number of subscriptions). Nothing else is touched, so time templates
//! such as `${now-4m}` pass through. A template is an ordinary `[[resource]]` or
//! `[[resource_group]]` table; each copy is checked as one. Generated ids must differ from each
//! other and from the ids written out in the file.
//!
//! Format reference: runbooks/scenarios/README.md ("Generated resources").

use std::collections::HashSet;

use serde::Deserialize;

use super::scenario::{ResourceDef, ResourceGroupDef};

/// The most resources (and groups) the generators of one scenario may produce.
pub const MAX_GENERATED: usize = 200_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// How many copies of the templates.
    pub count: usize,
    /// Copy `i` goes to `subscriptions[i % len]` (`{sub}`); none: `{sub}` may not be used.
    #[serde(default)]
    pub subscriptions: Vec<String>,
    #[serde(default, rename = "resource_group")]
    pub resource_groups: Vec<toml::Table>,
    #[serde(default, rename = "resource")]
    pub resources: Vec<toml::Table>,
}

/// What a set of generators produced.
#[derive(Debug, Default)]
pub struct Generated {
    pub resource_groups: Vec<ResourceGroupDef>,
    pub resources: Vec<ResourceDef>,
}

/// An error of one generator: which one (0-based, in file order) and why.
#[derive(Debug, PartialEq)]
pub struct GenerateError {
    pub index: usize,
    pub message: String,
}

/// Expands `gens`; `taken` holds the (lower-cased) ids written out in the file, which a
/// generated resource or group may not repeat.
pub fn expand(gens: &[Generate], taken: &HashSet<String>) -> Result<Generated, GenerateError> {
    let mut out = Generated::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut total = 0usize;
    for (index, g) in gens.iter().enumerate() {
        let err = |message: String| GenerateError { index, message };
        if g.count == 0 {
            return Err(err("`count` must be at least 1".into()));
        }
        if g.resources.is_empty() && g.resource_groups.is_empty() {
            return Err(err(
                "nothing to generate: give a [[generate.resource]] or [[generate.resource_group]]"
                    .into(),
            ));
        }
        if g.subscriptions.iter().any(|s| s.trim().is_empty()) {
            return Err(err("`subscriptions` holds an empty id".into()));
        }
        let per_copy = g.resources.len() + g.resource_groups.len();
        total = g
            .count
            .checked_mul(per_copy)
            .and_then(|n| n.checked_add(total))
            .filter(|n| *n <= MAX_GENERATED)
            .ok_or_else(|| {
                err(format!(
                    "{} copies of {per_copy} template(s) is more than the {MAX_GENERATED} \
                     generated resources a scenario may hold",
                    g.count
                ))
            })?;
        for i in 0..g.count {
            let vars = Vars::new(i, &g.subscriptions);
            for (t, template) in g.resource_groups.iter().enumerate() {
                let what = format!("resource_group #{} (copy {i})", t + 1);
                let def: ResourceGroupDef = instantiate(template, &vars)
                    .map_err(|m| err(format!("{what}: {m}")))?
                    .try_into()
                    .map_err(|e: toml::de::Error| err(format!("{what}: {}", e.message())))?;
                claim(&def.id, taken, &mut seen).map_err(|m| err(format!("{what}: {m}")))?;
                out.resource_groups.push(def);
            }
            for (t, template) in g.resources.iter().enumerate() {
                let what = format!("resource #{} (copy {i})", t + 1);
                let def: ResourceDef = instantiate(template, &vars)
                    .map_err(|m| err(format!("{what}: {m}")))?
                    .try_into()
                    .map_err(|e: toml::de::Error| err(format!("{what}: {}", e.message())))?;
                claim(&def.id, taken, &mut seen).map_err(|m| err(format!("{what}: {m}")))?;
                out.resources.push(def);
            }
        }
    }
    Ok(out)
}

fn claim(id: &str, taken: &HashSet<String>, seen: &mut HashSet<String>) -> Result<(), String> {
    let key = id.to_ascii_lowercase();
    if taken.contains(&key) {
        return Err(format!(
            "`{id}` is also written out in the file; put `{{i}}` in the template's id"
        ));
    }
    if !seen.insert(key) {
        return Err(format!(
            "`{id}` is generated twice; put `{{i}}` (or `{{sub}}`) in the template's id"
        ));
    }
    Ok(())
}

struct Vars<'a> {
    i: String,
    n: String,
    sub: Option<&'a str>,
}

impl<'a> Vars<'a> {
    fn new(i: usize, subs: &'a [String]) -> Vars<'a> {
        let (sub, n) = match subs.len() {
            0 => (None, i),
            len => (Some(subs[i % len].as_str()), i / len),
        };
        Vars {
            i: i.to_string(),
            n: n.to_string(),
            sub,
        }
    }

    fn fill(&self, s: &str) -> Result<String, String> {
        if !s.contains('{') {
            return Ok(s.to_string());
        }
        let mut out = s.replace("{i}", &self.i).replace("{n}", &self.n);
        if out.contains("{sub}") {
            let Some(sub) = self.sub else {
                return Err(format!(
                    "`{s}` uses {{sub}} but the generator lists no `subscriptions`"
                ));
            };
            out = out.replace("{sub}", sub);
        }
        Ok(out)
    }
}

fn instantiate(template: &toml::Table, vars: &Vars<'_>) -> Result<toml::Value, String> {
    fn walk(v: &toml::Value, vars: &Vars<'_>) -> Result<toml::Value, String> {
        Ok(match v {
            toml::Value::String(s) => toml::Value::String(vars.fill(s)?),
            toml::Value::Array(a) => {
                toml::Value::Array(a.iter().map(|x| walk(x, vars)).collect::<Result<_, _>>()?)
            }
            toml::Value::Table(t) => toml::Value::Table(
                t.iter()
                    .map(|(k, x)| Ok((k.clone(), walk(x, vars)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
    walk(&toml::Value::Table(template.clone()), vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gens(text: &str) -> Vec<Generate> {
        #[derive(Deserialize)]
        struct F {
            generate: Vec<Generate>,
        }
        toml::from_str::<F>(text).expect("test TOML").generate
    }

    const TWO_SUBS: &str = r#"
[[generate]]
count = 5
subscriptions = ["s-a", "s-b"]
[[generate.resource_group]]
id = "/subscriptions/{sub}/resourceGroups/rg-{n}"
location = "eastus2"
[[generate.resource]]
id = "/subscriptions/{sub}/resourceGroups/rg-{n}/providers/Microsoft.Web/sites/app-{i}"
location = "eastus2"
tags = { copy = "{i}", app = "large" }
[generate.resource.properties]
defaultHostName = "app-{i}.azurewebsites.net"
hostNames = ["app-{i}.azurewebsites.net"]
lastModifiedTimeUtc = "${now-1d}"
"#;

    #[test]
    fn copies_are_numbered_and_spread_over_the_subscriptions() {
        let out = expand(&gens(TWO_SUBS), &HashSet::new()).expect("expands");
        assert_eq!(out.resources.len(), 5);
        assert_eq!(out.resource_groups.len(), 5);
        let ids: Vec<&str> = out.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids[3],
            "/subscriptions/s-b/resourceGroups/rg-1/providers/Microsoft.Web/sites/app-3"
        );
        assert_eq!(
            ids[4],
            "/subscriptions/s-a/resourceGroups/rg-2/providers/Microsoft.Web/sites/app-4"
        );
        let r = &out.resources[3];
        let tags = r.tags.as_ref().expect("tags");
        assert_eq!(tags["copy"].as_str(), Some("3"));
        assert_eq!(tags["app"].as_str(), Some("large"));
        assert_eq!(
            r.properties["hostNames"].as_array().expect("array")[0].as_str(),
            Some("app-3.azurewebsites.net")
        );
        // Time templates pass through untouched.
        assert_eq!(
            r.properties["lastModifiedTimeUtc"].as_str(),
            Some("${now-1d}")
        );
        assert_eq!(out.resource_groups[2].parts(), Some(("s-a", "rg-1")));
    }

    #[test]
    fn errors_name_the_generator_the_template_and_the_reason() {
        let cases = [
            (
                "[[generate]]\ncount = 0\n[[generate.resource]]\nid = \"/subscriptions/s/x{i}\"\nlocation = \"x\"\n",
                "`count`",
            ),
            ("[[generate]]\ncount = 2\n", "nothing to generate"),
            (
                "[[generate]]\ncount = 2\n[[generate.resource]]\nid = \"/subscriptions/s/resourceGroups/rg/providers/A.B/c/same\"\nlocation = \"x\"\n",
                "generated twice",
            ),
            (
                "[[generate]]\ncount = 2\n[[generate.resource]]\nid = \"/subscriptions/{sub}/r{i}\"\nlocation = \"x\"\n",
                "no `subscriptions`",
            ),
            (
                "[[generate]]\ncount = 2\n[[generate.resource]]\nid = \"/subscriptions/s/r{i}\"\n",
                "resource #1 (copy 0): missing field `location`",
            ),
            (
                "[[generate]]\ncount = 2\n[[generate.resource]]\nid = \"/subscriptions/s/r{i}\"\nlocation = \"x\"\ncolour = \"red\"\n",
                "unknown field `colour`",
            ),
            (
                "[[generate]]\ncount = 100000\n[[generate.resource]]\nid = \"/subscriptions/s/a{i}\"\nlocation = \"x\"\n[[generate.resource]]\nid = \"/subscriptions/s/b{i}\"\nlocation = \"x\"\n[[generate.resource]]\nid = \"/subscriptions/s/c{i}\"\nlocation = \"x\"\n",
                "more than the",
            ),
        ];
        for (text, want) in cases {
            let e = expand(&gens(text), &HashSet::new()).expect_err(text);
            assert_eq!(e.index, 0);
            assert!(e.message.contains(want), "{text}\n=> {}", e.message);
        }
    }

    #[test]
    fn a_generated_id_may_not_repeat_one_written_out() {
        let taken: HashSet<String> = ["/subscriptions/s-b/resourcegroups/rg-0".to_string()].into();
        let e = expand(&gens(TWO_SUBS), &taken).expect_err("collides");
        assert!(e.message.contains("written out"), "{}", e.message);
        assert!(e.message.contains("copy 1"), "{}", e.message);
    }
}
