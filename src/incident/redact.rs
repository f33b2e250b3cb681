//! Redaction: every text the log writes passes through a `Redactor` first, which masks the
//! run's secret values (as written, URL-encoded and JSON-escaped) and anything token-shaped
//! (JWTs, bearer tokens, Authorization headers, storage keys, SAS signatures).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::event::{EventKind, Header};
use crate::runbook::vars::{MASK, Vars};

/// Masks secrets in text. Cheap to clone; the empty one still masks token shapes. Its
/// `Debug` shows how many secrets it holds, never the secrets.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is masked whole.
    secrets: Vec<String>,
}

/// (pattern, replacement): the replacement keeps the label and hides the value.
static PATTERNS: LazyLock<Vec<(Regex, String)>> = LazyLock::new(|| {
    let raw: [(&str, &str); 5] = [
        // Authorization / Proxy-Authorization headers, in HTTP dumps, curl -v, JSON or YAML.
        (
            r#"(?i)\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|digest|negotiate|sharedkey|sharedaccesssignature)\s+)?[^\s"',;}]+"#,
            "${1}",
        ),
        (r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}", "${1}"),
        // JWTs (what Entra ID issues) wherever they appear.
        (
            r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            "",
        ),
        // Connection strings: storage, Service Bus, Event Hubs, SQL.
        (
            r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret|client_secret)(\s*=\s*)[^;\s&'\x22]+",
            "${1}${2}",
        ),
        // SAS tokens in URLs.
        (r"(?i)([?&]sig=)[^&\s'\x22]+", "${1}"),
    ];
    raw.iter()
        .filter_map(|(re, keep)| Regex::new(re).ok().map(|re| (re, format!("{keep}{MASK}"))))
        .collect()
});

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secret forms)", self.secrets.len())
    }
}

impl Redactor {
    pub fn new<S: Into<String>>(secrets: impl IntoIterator<Item = S>) -> Redactor {
        let mut r = Redactor::default();
        for s in secrets {
            r.add_secret(s);
        }
        r
    }

    /// Every secret variable's value.
    pub fn from_vars(vars: &Vars) -> Redactor {
        Redactor::new(
            vars.values
                .values()
                .filter(|v| v.secret)
                .map(|v| v.value.clone()),
        )
    }

    /// Adds a secret (and the forms it takes in URLs and JSON). Empty strings are ignored;
    /// short ones are masked all the same: a readable log never outranks a leaked secret.
    pub fn add_secret(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.is_empty() {
            return;
        }
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let json = serde_json::to_string(&secret).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        for s in [form.replace('+', "%20"), form, json, secret] {
            if !s.is_empty() && !self.secrets.contains(&s) {
                self.secrets.push(s);
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every secret and token shape masked.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
        for (re, with) in PATTERNS.iter() {
            if re.is_match(&out) {
                out = Cow::Owned(re.replace_all(&out, with.as_str()).into_owned());
            }
        }
        out
    }

    fn redact_in_place(&self, s: &mut String) {
        if let Cow::Owned(o) = self.redact(s) {
            *s = o;
        }
    }

    pub fn redact_header(&self, mut header: Header) -> Header {
        header.for_each_text(&mut |s| self.redact_in_place(s));
        header
    }

    /// The event with every text in it redacted (enum fields such as outcomes are not text).
    pub fn redact_kind(&self, mut kind: EventKind) -> EventKind {
        kind.for_each_text(&mut |s| self.redact_in_place(s));
        kind
    }
}

impl EventKind {
    /// Calls `f` on every free text the event holds, map keys included.
    pub(crate) fn for_each_text(&mut self, f: &mut dyn FnMut(&mut String)) {
        use EventKind::*;
        match self {
            IncidentStarted(h) => h.for_each_text(f),
            ScopeSet {
                regions,
                components,
            } => regions.iter_mut().chain(components).for_each(f),
            StepStarted {
                runbook,
                step,
                title,
                ..
            } => {
                [runbook, step].into_iter().chain(title).for_each(f);
            }
            CheckResult {
                runbook,
                step,
                expected,
                actual,
                source,
                ..
            } => {
                [runbook, step, expected, actual, source]
                    .into_iter()
                    .for_each(f);
            }
            OutputLine {
                runbook,
                step,
                line,
                ..
            } => [runbook, step, line].into_iter().for_each(f),
            ConfirmationRequested {
                runbook,
                step,
                prompt,
            } => [runbook, step, prompt].into_iter().for_each(f),
            Confirmed {
                runbook, step, by, ..
            } => [runbook, step, by].into_iter().for_each(f),
            ApprovalRequested {
                runbook,
                step,
                operator,
                prompt,
            } => [runbook, step, operator, prompt].into_iter().for_each(f),
            Approved {
                runbook,
                step,
                by,
                keyboard,
                ..
            } => [runbook, step, by].into_iter().chain(keyboard).for_each(f),
            RoleTaken { operator, .. } => f(operator),
            StepFinished {
                runbook,
                step,
                outputs,
                error,
                ..
            } => {
                [runbook, step].into_iter().chain(error).for_each(&mut *f);
                map_texts(outputs, f);
            }
            StepSkipped {
                runbook,
                step,
                reason,
            }
            | Retry {
                runbook,
                step,
                reason,
                ..
            } => {
                [runbook, step, reason].into_iter().for_each(f);
            }
            Note {
                runbook,
                step,
                text,
            } => runbook.iter_mut().chain(step).chain([text]).for_each(f),
            Paused { reason } | AbortRequested { reason } => reason.iter_mut().for_each(f),
            RollbackStarted { runbook, reason } => [runbook].into_iter().chain(reason).for_each(f),
            CleanupStarted { runbook } => f(runbook),
            StepClaimed {
                runbook,
                step,
                from,
                ..
            } => [runbook, step].into_iter().chain(from).for_each(f),
            ClaimRefused {
                runbook,
                step,
                holder,
                reason,
            } => [runbook, step, reason]
                .into_iter()
                .chain(holder)
                .for_each(f),
            CleanupFinished { runbook, error, .. } => {
                [runbook].into_iter().chain(error).for_each(f)
            }
            IncidentResumed { by, interrupted } => {
                f(by);
                for r in interrupted {
                    f(&mut r.runbook);
                    f(&mut r.step);
                }
            }
            IncidentClosed { summary, .. } => summary.iter_mut().for_each(f),
            Unknown { event, fields } => {
                f(event);
                let mut v = Value::Object(std::mem::take(fields));
                value_texts(&mut v, f);
                if let Value::Object(m) = v {
                    *fields = m;
                }
            }
            Resumed {} | LogRecovered { .. } => {}
        }
    }
}

impl Header {
    fn for_each_text(&mut self, f: &mut dyn FnMut(&mut String)) {
        [
            &mut self.incident_id,
            &mut self.title,
            &mut self.drbook_version,
            &mut self.target,
        ]
        .into_iter()
        .chain(&mut self.operators)
        .chain(&mut self.plan)
        .for_each(&mut *f);
        for r in &mut self.runbooks {
            f(&mut r.id);
            f(&mut r.file);
            f(&mut r.sha256);
        }
    }
}

fn map_texts(map: &mut BTreeMap<String, String>, f: &mut dyn FnMut(&mut String)) {
    *map = std::mem::take(map)
        .into_iter()
        .map(|(mut k, mut v)| {
            f(&mut k);
            f(&mut v);
            (k, v)
        })
        .collect();
}

fn value_texts(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter_mut().for_each(|x| value_texts(x, f)),
        Value::Object(m) => {
            *m = std::mem::take(m)
                .into_iter()
                .map(|(mut k, mut x)| {
                    f(&mut k);
                    value_texts(&mut x, f);
                    (k, x)
                })
                .collect();
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::event::Outcome;

    const JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQ.sig_part-1";

    #[test]
    fn secrets_are_masked_in_every_form() {
        let r = Redactor::new(["p@ss word\"1", "hunter2"]);
        let text = r#"pw=p@ss word"1 url=p%40ss%20word%221 form=p%40ss+word%221 json="p@ss word\"1" and hunter2hunter2"#;
        let out = r.redact(text);
        assert!(
            !out.contains("ss word")
                && !out.contains("ss%20")
                && !out.contains("ss+")
                && !out.contains("hunter2"),
            "{out}"
        );
        assert_eq!(out.matches(MASK).count(), 6, "{out}");
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn token_shapes_are_masked_and_their_labels_kept() {
        let r = Redactor::default();
        let cases = [
            (format!("token {JWT} here"), format!("token {MASK} here")),
            ("Authorization: Bearer abc.def-123456".into(), format!("Authorization: {MASK}")),
            (r#"{"authorization":"Basic dXNlcjpwYXNz"}"#.into(), format!(r#"{{"authorization":"{MASK}"}}"#)),
            ("curl -H 'bearer 0123456789abcdef'".into(), format!("curl -H 'bearer {MASK}'")),
            (
                "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=abc+/==;EndpointSuffix=core".into(),
                format!("DefaultEndpointsProtocol=https;AccountName=st;AccountKey={MASK};EndpointSuffix=core"),
            ),
            (
                "https://st.blob.core.windows.net/c/b?sv=2022&sig=AbC%2Bd&se=1".into(),
                format!("https://st.blob.core.windows.net/c/b?sv=2022&sig={MASK}&se=1"),
            ),
            ("Server=sql;User Id=sa;Password=Tr0ub4dor;".into(), format!("Server=sql;User Id=sa;Password={MASK};")),
        ];
        for (input, want) in cases {
            assert_eq!(r.redact(&input), want, "{input}");
        }
        // Ordinary prose passes untouched, and without a copy.
        let plain = "basic authentication is off; bearer of bad news";
        assert!(matches!(r.redact(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn every_text_of_every_kind_is_redacted() {
        let secret = "s3cr3t-value";
        let r = Redactor::new([secret]);
        for kind in crate::incident::event::tests::every_kind() {
            let mut dirty = kind.clone();
            dirty.for_each_text(&mut |s| s.push_str(secret));
            let clean = r.redact_kind(dirty);
            let json = clean.to_json().unwrap();
            assert!(!json.contains(secret), "{json}");
            let mut count = 0;
            kind.clone().for_each_text(&mut |_| count += 1);
            assert_eq!(json.matches(MASK).count(), count, "{json}");
        }
        let kind = EventKind::StepFinished {
            runbook: "rb".into(),
            step: "st".into(),
            outcome: Outcome::Failed,
            duration_ms: 1,
            outputs: BTreeMap::from([(format!("k{secret}"), format!("Bearer {secret}xyz"))]),
            error: Some(format!("401 for {JWT}")),
        };
        let json = r.redact_kind(kind).to_json().unwrap();
        assert!(!json.contains(secret) && !json.contains("eyJ0"), "{json}");
        let unknown = EventKind::Unknown {
            event: "future".into(),
            fields: serde_json::from_str(&format!(
                r#"{{"deep":[{{"{secret}":"{secret}"}}],"n":1}}"#
            ))
            .unwrap(),
        };
        let json = r.redact_kind(unknown).to_json().unwrap();
        assert!(!json.contains(secret), "{json}");
    }
}
