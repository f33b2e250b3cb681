//! Finding a run's secret values in text, in every form drbook itself gives them. A leaf
//! module: the runbook's variables (which mask their own output) and the incident log's
//! redactor both use it, and it imports neither.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use regex::Regex;

/// Secrets shorter than this are not masked (see `Vars::weak_secrets`).
pub const MIN_SECRET: usize = 4;

/// What is shown in place of a secret.
pub const MASK: &str = "••••••";

/// Finds a set of secrets in the forms drbook's own output gives them: as written, in any
/// letter case (URL parsing lower-cases hosts; hex digits of escapes come in either case),
/// percent-encoded once or twice (with `+` for a space), JSON-escaped (`\"`, `\/`, `\n`
/// and `\uXXXX`, also escaped again inside JSON), any of these mixed character by
/// character, and the part of a secret before or after a `?` or `#` in it (a URL ends its
/// path there). Transformations drbook does not make itself (base64, hashing, a child
/// process's own rewriting) are not recognised: see the README.
#[derive(Default)]
pub struct SecretMatcher {
    /// `None` when there is nothing to find.
    re: Option<Regex>,
    /// Literal forms, used only when the pattern is too large to compile.
    literal: Vec<String>,
}

impl SecretMatcher {
    /// A matcher for `secrets` (empty ones are ignored).
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> SecretMatcher {
        let mut parts: Vec<String> = Vec::new();
        for s in secrets.iter().map(AsRef::as_ref).filter(|s| !s.is_empty()) {
            parts.push(s.to_string());
            // A URL ends its path at `?` and its query at `#`: what a request shows of the
            // secret may be only the piece on one side.
            for (at, _) in s.match_indices(['?', '#']) {
                for piece in [&s[..at], &s[at + 1..]] {
                    if piece.chars().count() >= MIN_SECRET {
                        parts.push(piece.to_string());
                    }
                }
            }
            // A secret in a host name goes on the wire as punycode.
            if !s.is_ascii()
                && let Ok(host) = url::Url::parse(&format!("http://{s}/"))
                && let Some(h) = host.host_str()
                && h != s
                && h.chars().count() >= MIN_SECRET
            {
                parts.push(h.to_string());
            }
        }
        parts.sort_by_key(|s| std::cmp::Reverse(s.len()));
        parts.dedup();
        if parts.is_empty() {
            return SecretMatcher::default();
        }
        // Longest first: the regex takes the first alternative that matches at a position,
        // so a secret that contains another is masked whole. Then the pieces of a secret that
        // a message cut short leaves (a server echoing the first bytes of a query, a column
        // clipped to its width).
        let whole = parts
            .iter()
            .map(|p| p.chars().map(char_forms).collect::<String>());
        let cut = parts.iter().flat_map(|p| cut_forms(p));
        let pattern = format!("(?im:{})", whole.chain(cut).collect::<Vec<_>>().join("|"));
        match regex::RegexBuilder::new(&pattern)
            .size_limit(64 << 20)
            .build()
        {
            Ok(re) => SecretMatcher {
                re: Some(re),
                literal: Vec::new(),
            },
            // A secret of many kilobytes: mask the commonest forms literally.
            Err(_) => SecretMatcher {
                re: None,
                literal: literal_forms(&parts),
            },
        }
    }

    /// `text` with every form of every secret replaced by the mask.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if let Some(re) = &self.re {
            // A cut-short piece keeps its ellipsis: the reader still sees the text was cut.
            return re.replace_all(text, |c: &regex::Captures<'_>| {
                let m = &c[0];
                let mark = |s: &str| ["…", "..."].into_iter().find(|e| s.ends_with(e));
                let lead = ["…", "..."].into_iter().find(|e| m.starts_with(e));
                format!(
                    "{}{MASK}{}",
                    lead.unwrap_or_default(),
                    mark(m).filter(|_| lead.is_none()).unwrap_or_default()
                )
            });
        }
        let mut out = Cow::Borrowed(text);
        for s in &self.literal {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
        out
    }

    /// The matcher for `secrets`, built once per set: building one compiles a regex, and
    /// `Vars::redact` runs on every line a step prints.
    pub fn cached(secrets: &[&str]) -> Arc<SecretMatcher> {
        static CACHE: LazyLock<Mutex<HashMap<Vec<String>, Arc<SecretMatcher>>>> =
            LazyLock::new(Default::default);
        let mut key: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        key.sort();
        key.dedup();
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = cache.get(&key) {
            return m.clone();
        }
        // Runs see a handful of sets; a process that sees many keeps only the recent ones.
        if cache.len() >= 64 {
            cache.clear();
        }
        let m = Arc::new(SecretMatcher::new(&key));
        cache.insert(key, m.clone());
        m
    }
}

impl std::fmt::Debug for SecretMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pattern spells the secrets out: never shown.
        f.write_str("SecretMatcher(..)")
    }
}

/// How much of a secret, cut short, is still masked: fewer characters than this say too little
/// of it to be worth the false alarms.
const MIN_CUT: usize = 6;

/// A secret cut short where a text is: its start at least `MIN_CUT` characters long, up to an
/// ellipsis (`…`, `...`) or the end of a line; and its end, from an ellipsis or the start of a
/// line. Empty for a secret too short to cut.
fn cut_forms(secret: &str) -> Vec<String> {
    let forms: Vec<String> = secret.chars().map(char_forms).collect();
    let n = forms.len();
    if n <= MIN_CUT {
        return Vec::new();
    }
    // c1 .. c6 (?:c7 (?:c8 ...)?)? : any start from MIN_CUT characters up.
    let mut start = String::new();
    for f in forms[MIN_CUT..].iter().rev() {
        start = format!("(?:{f}{start})?");
    }
    let start = format!("{}{start}", forms[..MIN_CUT].concat());
    let mut end = String::new();
    for f in &forms[..n - MIN_CUT] {
        end = format!("(?:{end}{f})?");
    }
    let end = format!("{end}{}", forms[n - MIN_CUT..].concat());
    vec![
        format!(r"{start}(?:…|\.\.\.|$)"),
        format!(r"(?:…|\.\.\.|^){end}"),
    ]
}

/// The pattern for one character of a secret: itself, or any escape that stands for it.
fn char_forms(c: char) -> String {
    let mut alts = vec![regex::escape(c.encode_utf8(&mut [0; 4]))];
    // Percent-encoded, once (`%2F`) or twice (`%252F`), byte by byte.
    let mut buf = [0; 4];
    let pct: String = c
        .encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%(?:25)*{b:02X}"))
        .collect();
    alts.push(pct);
    if c == ' ' {
        alts.push(r"\+".into());
    }
    // JSON escapes, with any run of backslashes (JSON inside JSON escapes them again).
    let mut units = [0u16; 2];
    let json: String = c
        .encode_utf16(&mut units)
        .iter()
        .map(|u| format!(r"\\+u{u:04X}"))
        .collect();
    alts.push(json);
    let short = match c {
        '"' => Some("\""),
        '\\' => Some("\\"),
        '/' => Some("/"),
        '\n' => Some("n"),
        '\r' => Some("r"),
        '\t' => Some("t"),
        '\u{8}' => Some("b"),
        '\u{c}' => Some("f"),
        _ => None,
    };
    if let Some(s) = short {
        alts.push(format!(r"\\+{}", regex::escape(s)));
    }
    format!("(?:{})", alts.join("|"))
}

/// The forms a matcher too large to compile still masks: as written, lower-cased,
/// percent-encoded (`+` or `%20` for a space) and JSON-escaped.
fn literal_forms(parts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        let form: String = url::form_urlencoded::byte_serialize(p.as_bytes()).collect();
        let json = serde_json::to_string(p).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        for s in [
            form.replace('+', "%20"),
            form,
            json,
            p.to_lowercase(),
            p.clone(),
        ] {
            if !s.is_empty() && !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}
