//! What `${...}` references resolve to while steps run: the runbook's variables, its metadata,
//! the incident, and the outputs of steps that already ran.

use std::collections::BTreeMap;

use drbook_core::runbook::model::Runbook;
use drbook_core::runbook::template::{self, Ref, RenderError};
use drbook_core::runbook::vars::Vars;

#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub vars: Vars,
    pub runbook: BTreeMap<String, String>,
    pub incident: BTreeMap<String, String>,
    /// step id → output name → value
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// Variables with no value, and how to give them one.
    pub missing: BTreeMap<String, String>,
    /// A dry run: an output of an earlier step, which was only described and never read, is
    /// shown as `<steps.x.y>` instead of failing to be filled in.
    pub placeholders: bool,
}

impl Scope {
    pub fn new(rb: &Runbook, vars: Vars, incident: BTreeMap<String, String>) -> Scope {
        let m = &rb.meta;
        let mut runbook = BTreeMap::new();
        runbook.insert("id".into(), m.id.get_ref().clone());
        runbook.insert("title".into(), m.title.get_ref().clone());
        runbook.insert(
            "component".into(),
            m.component.get_ref().as_str().to_string(),
        );
        for (k, v) in [("owner", &m.owner), ("rto", &m.rto), ("rpo", &m.rpo)] {
            if let Some(v) = v {
                runbook.insert(k.into(), v.get_ref().clone());
            }
        }
        Scope {
            vars,
            runbook,
            incident,
            outputs: BTreeMap::new(),
            missing: BTreeMap::new(),
            placeholders: false,
        }
    }

    pub fn lookup(&self, r: &Ref) -> Option<String> {
        match r {
            Ref::Var(n) => self.vars.get(n).map(str::to_string),
            Ref::Step { step, field } => self
                .outputs
                .get(step)
                .and_then(|o| o.get(field))
                .cloned()
                .or_else(|| self.placeholders.then(|| format!("<steps.{step}.{field}>"))),
            Ref::Runbook(f) => self.runbook.get(f).cloned(),
            Ref::Incident(f) => self.incident.get(f).cloned(),
        }
    }

    /// `s` as a person sees it (titles, instructions, dialogs, the log's step titles, reports):
    /// every value known filled in, secrets masked (`••••`, never their value), what is not
    /// known yet `…`; text that is no valid template is shown as written.
    pub fn shown(&self, s: &str) -> String {
        let filled = template::render(s, |r| {
            let known = match r {
                Ref::Var(n) => self.vars.display(n).map(str::to_string),
                other => self.lookup(other),
            };
            Some(known.unwrap_or_else(|| "…".into()))
        })
        .unwrap_or_else(|_| s.to_string());
        self.vars.redact(&filled)
    }

    pub fn render(&self, s: &str) -> Result<String, RenderError> {
        template::render(s, |r| self.lookup(r))
    }

    /// Renders every string inside a TOML value (action bodies) and converts it to JSON.
    pub fn render_value(&self, v: &toml::Value) -> Result<serde_json::Value, RenderError> {
        use serde_json::Value as J;
        Ok(match v {
            toml::Value::String(s) => J::String(self.render(s)?),
            toml::Value::Integer(i) => J::from(*i),
            toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            toml::Value::Boolean(b) => J::Bool(*b),
            toml::Value::Datetime(d) => J::String(d.to_string()),
            toml::Value::Array(a) => J::Array(
                a.iter()
                    .map(|x| self.render_value(x))
                    .collect::<Result<_, _>>()?,
            ),
            toml::Value::Table(t) => J::Object(
                t.iter()
                    .map(|(k, x)| Ok((k.clone(), self.render_value(x)?)))
                    .collect::<Result<_, RenderError>>()?,
            ),
        })
    }

    /// The missing variables `s` uses, with how to set each.
    pub fn missing_in(&self, s: &str) -> Vec<(String, String)> {
        template::refs(s)
            .map(|refs| {
                refs.into_iter()
                    .filter_map(|r| match r.reference {
                        Ref::Var(n) => self.missing.get(&n).map(|how| (n, how.clone())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Steps whose outputs `s` reads.
    pub fn step_refs(s: &str) -> Vec<String> {
        template::refs(s)
            .map(|refs| {
                refs.into_iter()
                    .filter_map(|r| match r.reference {
                        Ref::Step { step, .. } => Some(step),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod shown_tests {
    use super::*;
    use drbook_core::runbook::vars::{Origin, Value};
    use drbook_core::secrets::MASK;

    fn scope() -> Scope {
        let mut s = Scope::default();
        for (name, value, secret) in [
            ("secondary_display", "North Europe", false),
            ("token", "s3cr3t-value", true),
        ] {
            s.vars.values.insert(
                name.into(),
                Value {
                    value: value.into(),
                    secret,
                    origin: Origin::Default,
                },
            );
        }
        s
    }

    /// Shown text has every known value, never a secret's, and `…` for what is not known yet.
    #[test]
    fn shown_text_fills_values_masks_secrets_and_marks_the_unknown() {
        let s = scope();
        assert_eq!(
            s.shown("Make ${secondary_display} the write region"),
            "Make North Europe the write region"
        );
        let with_secret = s.shown("Use ${token} (or s3cr3t-value typed out)");
        assert!(!with_secret.contains("s3cr3t"), "{with_secret}");
        assert_eq!(with_secret.matches(MASK).count(), 2, "{with_secret}");
        assert_eq!(
            s.shown("Lag was ${steps.read.lag}s on ${incident.id}"),
            "Lag was …s on …"
        );
        assert_eq!(s.shown("broken ${unclosed"), "broken ${unclosed");
    }
}
