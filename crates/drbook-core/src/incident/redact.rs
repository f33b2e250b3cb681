//! Redaction: every text the log writes passes through a `Redactor` first, which masks the
//! run's secret values (in every form drbook itself gives them, see `SecretMatcher`) and
//! anything token-shaped (JWTs, bearer tokens, Authorization headers, storage keys, SAS
//! signatures). `printable` strips terminal escapes from text bound for a terminal or a
//! document.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::Value;

use super::event::{EventKind, Header};
use crate::runbook::vars::Vars;
use crate::secrets::{MASK, SecretMatcher};

/// Masks secrets in text. Cheap to clone; the empty one still masks token shapes. Its
/// `Debug` shows how many secrets it holds, never the secrets.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
    matcher: Arc<SecretMatcher>,
}

/// `text` without terminal control: escape sequences (CSI, OSC such as the OSC 52 clipboard
/// write, DCS and the other string commands, in their 7-bit and 8-bit forms) are removed
/// whole, and other control characters dropped, keeping line breaks and tabs. Command output,
/// notes and server messages are shown to a terminal or pasted into a document: they must
/// not be able to move the cursor, retitle the window or write the clipboard.
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut it = text.chars().peekable();
    // Skips a string command's body up to its terminator: BEL, ESC \ or the 8-bit ST.
    fn skip_string(it: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        while let Some(c) = it.next() {
            match c {
                '\u{7}' | '\u{9c}' => return,
                '\u{1b}' => {
                    if it.peek() == Some(&'\\') {
                        it.next();
                    }
                    return;
                }
                _ => {}
            }
        }
    }
    // Skips a CSI's parameters and intermediates up to its final byte.
    fn skip_csi(it: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        for c in it.by_ref() {
            if ('\u{40}'..='\u{7e}').contains(&c) || !('\u{20}'..='\u{3f}').contains(&c) {
                return;
            }
        }
    }
    while let Some(c) = it.next() {
        match c {
            '\u{1b}' => match it.next() {
                Some('[') => skip_csi(&mut it),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut it),
                // nF sequences: intermediates, then one final byte.
                Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
                    while it.peek().is_some_and(|c| ('\u{20}'..='\u{2f}').contains(c)) {
                        it.next();
                    }
                    it.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut it),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut it),
            c if unsafe_char(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
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
            let s = s.into();
            if !s.is_empty() && !r.secrets.contains(&s) {
                r.secrets.push(s);
            }
        }
        r.matcher = Arc::new(SecretMatcher::new(&r.secrets));
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

    /// Adds a secret (and every form `SecretMatcher` knows). Empty strings are ignored;
    /// short ones are masked all the same: a readable log never outranks a leaked secret.
    pub fn add_secret(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.is_empty() || self.secrets.contains(&secret) {
            return;
        }
        self.secrets.push(secret);
        self.matcher = Arc::new(SecretMatcher::new(&self.secrets));
    }

    /// `text` with every secret and token shape masked.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = match self.matcher.mask(text) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(o) => Cow::Owned(o),
        };
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
            CleanupStarted { runbook, steps } => {
                f(runbook);
                for s in steps {
                    f(&mut s.step);
                    f(&mut s.undoes);
                }
            }
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
            IncidentResumed {
                by, interrupted, ..
            } => {
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
            Resumed {} | LogRecovered { .. } | OutageStart { .. } => {}
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
            r.steps.iter_mut().chain(&mut r.rto).for_each(&mut *f);
            r.cleanups.iter_mut().for_each(&mut *f);
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

    /// Each form a secret takes in drbook's own output, one by one.
    #[test]
    fn a_secret_cut_short_is_masked_as_far_as_it_goes() {
        let secret = "TopSecretToken-9f8e7d6c5b4a";
        let r = Redactor::new([secret]);
        for (what, text) in [
            (
                "start, then an ellipsis",
                "query x == 'TopSecretToken-…: HTTP 400",
            ),
            ("start, then three dots", "x == 'TopSecretTok... (cut)"),
            (
                "start at the end of a line",
                "no endpoint /aaaa…/TopSecretToken-9f8e7d\nnext",
            ),
            ("start, lower-cased", "host topsecrettoken-9f…"),
            ("end, after an ellipsis", "…Token-9f8e7d6c5b4a' was refused"),
            ("percent-encoded start", "q=TopSecret%54oken…"),
        ] {
            let masked = r.redact(text);
            assert!(masked.contains(MASK), "{what}: {masked}");
            for piece in ["TopSec", "topsec", "6c5b4a", "%54oken"] {
                assert!(!masked.contains(piece), "{what}: {masked}");
            }
        }
        // The ellipsis stays, so the reader still sees the text was cut.
        assert_eq!(r.redact("x == 'TopSecretToken-…"), format!("x == '{MASK}…"));
        // A few characters alike are not a secret.
        assert_eq!(r.redact("TopSe…"), "TopSe…");
        assert_eq!(r.redact("the Top of the list"), "the Top of the list");
    }

    #[test]
    fn derived_forms_of_a_secret_are_masked() {
        let secret = "Sec/ret Ké?y#12\"x";
        let r = Redactor::new([secret]);
        let url_path: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let json = serde_json::to_string(secret).unwrap();
        let ascii_json: String = secret
            .encode_utf16()
            .map(|u| format!("\\u{u:04x}"))
            .collect();
        let double = url_path.replace('%', "%25");
        let forms = [
            ("as written", secret.to_string()),
            ("lower-cased (a host)", secret.to_lowercase()),
            ("upper-cased", secret.to_uppercase()),
            ("form-encoded", url_path.clone()),
            ("percent-encoded", url_path.replace('+', "%20")),
            ("lower-case hex", url_path.to_lowercase()),
            ("double-encoded", double),
            ("JSON", json.trim_matches('"').to_string()),
            (
                "JSON in JSON",
                serde_json::to_string(json.trim_matches('"'))
                    .unwrap()
                    .trim_matches('"')
                    .to_string(),
            ),
            ("full \\u escaping", ascii_json.clone()),
            ("\\u escaping in JSON", ascii_json.replace('\\', "\\\\")),
            ("part before ?", "Sec/ret Ké".to_string()),
            (
                "part before ? in a URL path",
                "Sec/ret%20K%C3%A9".to_string(),
            ),
            ("part after ?", "y#12\"x".to_string()),
            ("part after # in JSON", "12\\\"x".to_string()),
        ];
        for (what, form) in forms {
            let text = format!("GET https://h/{form}?a=1 failed");
            let out = r.redact(&text);
            assert_eq!(
                out,
                format!("GET https://h/{MASK}?a=1 failed"),
                "{what}: {form}"
            );
        }
        // A URL parser turns a non-ASCII host into punycode.
        let r = Redactor::new(["bücher-secret"]);
        let host = url::Url::parse("http://bücher-secret/").unwrap();
        let out = r.redact(host.as_str());
        assert!(!out.contains("xn--"), "{out}");
        // Nothing else is touched.
        let r = Redactor::new(["hunter22"]);
        assert!(matches!(r.redact("hunter2 hunter 22"), Cow::Borrowed(_)));
        assert!(!format!("{:?}", SecretMatcher::new(&["hunter22"])).contains("hunter"));
    }

    #[test]
    fn vars_mask_the_same_forms_and_skip_weak_secrets() {
        use crate::runbook::vars::{Origin, Value as Var};
        let var = |v: &str, secret| Var {
            value: v.into(),
            secret,
            origin: Origin::CommandLine,
        };
        let vars = Vars {
            values: BTreeMap::from([
                ("pw".into(), var("Tr0ub4dor&3", true)),
                ("pin".into(), var("123", true)),
                ("region".into(), var("westeurope", false)),
            ]),
        };
        let out = vars.redact("tr0ub4dor%263 Tr0ub4dor\\u00263 123 westeurope");
        assert_eq!(out, format!("{MASK} {MASK} 123 westeurope"));
    }

    #[test]
    fn terminal_escapes_are_stripped_whole() {
        let cases = [
            ("\x1b]52;c;aGVsbG8=\x07after", "after"),
            ("\x1b]52;c;aGVsbG8=\x1b\\after", "after"),
            ("\x1b]0;title\x07x", "x"),
            ("\x1b[31mred\x1b[0m \x1b[2J\x1b[1;1H", "red "),
            ("a\rb\x08c\x00d", "abcd"),
            ("\u{9b}31mc1\u{9d}52;c;eA==\u{9c}", "c1"),
            ("\x1bPdcs body\x1b\\ok", "ok"),
            ("\x1b(Bcharset \x1b7saved", "charset saved"),
            ("lines\n\tkept", "lines\n\tkept"),
            ("trailing \x1b]52;c;unterminated", "trailing "),
        ];
        for (input, want) in cases {
            assert_eq!(printable(input), want, "{input:?}");
        }
        assert!(matches!(printable("plain ✔ text"), Cow::Borrowed(_)));
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

    /// The header's step lists and RTOs are text too: a secret pasted into one is masked.
    #[test]
    fn a_runbook_ref_is_redacted_whole() {
        let secret = "s3cr3t-value";
        let r = Redactor::new([secret]);
        let mut h = crate::incident::event::tests::sample_header();
        h.runbooks[0].steps = vec![format!("step-{secret}")];
        h.runbooks[0].rto = Some(format!("30m {secret}"));
        h.runbooks[0].cleanups = vec![format!("undo-{secret}")];
        let json = serde_json::to_string(&r.redact_header(h)).unwrap();
        assert!(!json.contains(secret), "{json}");
        assert_eq!(json.matches(MASK).count(), 3, "{json}");
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
