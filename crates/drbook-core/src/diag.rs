//! Diagnostics: problems found in user files, each tied to a file and a byte span, and their
//! rendering for people (an excerpt with a caret) and for tools (JSON).

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A file as read from disk, shared by every diagnostic that points into it.
#[derive(Debug)]
pub struct SourceFile {
    pub path: Arc<Path>,
    pub text: Arc<str>,
    line_starts: Vec<usize>,
    /// Whether a diagnostic may show an excerpt of the text: not for a file that turned out
    /// not to be a runbook (it could be a key file), nor for one that was never read.
    pub quotable: bool,
}

impl SourceFile {
    pub fn new(path: impl Into<Arc<Path>>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
            quotable: true,
        }
    }

    /// A file that was not read (refused, or unreadable): a diagnostic names it, quoting nothing.
    pub fn unread(path: &Path) -> Self {
        let mut file = SourceFile::new(path, "");
        file.quotable = false;
        file
    }

    /// The byte range of the 0-based line `line`, without its line break.
    fn line_range(&self, line: usize) -> Range<usize> {
        let start = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let end = end.max(start);
        // A CRLF line ends before its CR.
        if self.text.as_bytes().get(end.wrapping_sub(1)) == Some(&b'\r') && end > start {
            start..end - 1
        } else {
            start..end
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// One problem in one place.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable, kebab-case name of the problem class (see runbooks/README.md).
    pub code: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// What to do about it, when we know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip)]
    pub span: Range<usize>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        code: &'static str,
        src: &SourceFile,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let len = src.text.len();
        let start = span.start.min(len);
        let end = span.end.clamp(start, len);
        let (line, column) = src.line_col(start);
        let (end_line, end_column) = src.line_col(end);
        Diagnostic {
            severity,
            code,
            message: message.into(),
            file: src.path.display().to_string(),
            line,
            column,
            end_line,
            end_column,
            help: None,
            span: start..end,
        }
    }

    pub fn error(
        code: &'static str,
        src: &SourceFile,
        span: Range<usize>,
        msg: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, src, span, msg)
    }

    pub fn warning(
        code: &'static str,
        src: &SourceFile,
        span: Range<usize>,
        msg: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, src, span, msg)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// An excerpt shows at most this many bytes of the erroneous line: a minified or binary file
/// has one enormous "line", and a diagnostic must never print a file.
pub const MAX_EXCERPT: usize = 200;

/// Renders one diagnostic as text: a title, the file:line:col, an excerpt of the erroneous
/// line (only that line, cut to `MAX_EXCERPT`, and none for a file that is not quotable) with
/// a caret, and a help line. `color` adds ANSI styling.
pub fn render(diag: &Diagnostic, src: Option<&SourceFile>, color: bool) -> String {
    let level = match diag.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(diag.message.as_str()).id(diag.code);
    let mut report: Vec<Group<'_>> = Vec::with_capacity(2);
    // Lines added by hand after the title, when annotate-snippets does not draw the excerpt.
    let mut manual: Option<String> = None;
    match src {
        Some(src) if src.quotable => {
            let line = diag.line.saturating_sub(1);
            let lr = src.line_range(line);
            // Underline within the first line only: a span that runs into the next line
            // reads as noise. A zero-width span still deserves a visible caret.
            let start = diag.span.start.clamp(lr.start, lr.end);
            let mut span = start..diag.span.end.clamp(start, lr.end);
            if span.is_empty()
                && let Some(c) = src
                    .text
                    .get(span.start..lr.end)
                    .and_then(|t| t.chars().next())
            {
                span.end = span.start + c.len_utf8();
            }
            if lr.len() <= MAX_EXCERPT {
                let snippet = Snippet::source(&src.text[lr.clone()])
                    .line_start(line + 1)
                    .path(diag.file.as_str())
                    .annotation(
                        AnnotationKind::Primary.span(span.start - lr.start..span.end - lr.start),
                    );
                report.push(title.element(snippet));
            } else {
                report.push(Group::with_title(title));
                manual = Some(long_line_excerpt(diag, src, lr, span));
            }
        }
        _ => {
            report.push(Group::with_title(title));
            manual = Some(format!(" --> {}:{}:{}", diag.file, diag.line, diag.column));
        }
    }
    if let Some(help) = &diag.help {
        report.push(Group::with_title(
            Level::HELP.secondary_title(help.as_str()),
        ));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let out = renderer.render(&report);
    match manual {
        Some(lines) => match out.split_once('\n') {
            Some((first, rest)) => format!("{first}\n{lines}\n{rest}"),
            None => format!("{out}\n{lines}"),
        },
        None => out,
    }
}

/// A window of at most `MAX_EXCERPT` bytes of a long line around the span, with a caret.
fn long_line_excerpt(
    diag: &Diagnostic,
    src: &SourceFile,
    line: Range<usize>,
    span: Range<usize>,
) -> String {
    let text = &src.text;
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let from = floor(span.start.saturating_sub(MAX_EXCERPT / 2).max(line.start));
    let to = floor((from + MAX_EXCERPT).min(line.end));
    // Control characters shown as symbols, as annotate-snippets does for short lines: a
    // runbook's line must not drive the terminal (an OSC 52 clipboard write, say).
    let window: String = text[from..to]
        .chars()
        .map(|c| match c {
            '\t' => ' ',
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('?'),
            '\u{7f}' => '\u{2421}',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    let caret_at = text[from..span.start.min(to)].chars().count();
    let caret_len = text
        .get(span.start.min(to)..span.end.min(to))
        .map_or(0, |s| s.chars().count())
        .max(1);
    let number = diag.line.to_string();
    let pad = " ".repeat(number.len());
    let before = if from > line.start { "…" } else { "" };
    let after = if to < line.end { "…" } else { "" };
    let shift = usize::from(!before.is_empty());
    format!(
        "{pad}--> {}:{}:{}\n{pad} |\n{number} | {before}{window}{after}\n{pad} | {}{}",
        diag.file,
        diag.line,
        diag.column,
        " ".repeat(caret_at + shift),
        "^".repeat(caret_len)
    )
}

/// "did you mean" for a misspelt name: the closest candidate, if it is close enough.
pub fn did_you_mean<'a>(
    got: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(got, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A small TOML file (a theme, the config) that stops at its first problem: where it is (1-based
/// line and column), which field (a dotted path such as `styles.fail.fg`, when the problem is
/// inside one) and why. Runbooks collect every problem as `Diagnostic`s instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {}{message}", field.as_ref().map(|f| format!("`{f}`: ")).unwrap_or_default())]
pub struct TomlError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: Option<String>,
    pub message: String,
}

impl TomlError {
    /// From a `toml` error: its span gives the place, and the field is found by looking for
    /// the innermost key or value of the document that holds that span.
    pub fn from_toml(file: &str, text: &str, err: &toml::de::Error) -> TomlError {
        let span = err.span().unwrap_or(0..0);
        // serde speaks of Rust types; the user wrote TOML.
        let mut message = err.message().trim_end().replace("invalid type: ", "");
        for (rust, toml) in [
            ("unknown variant", "unknown value"),
            ("expected a sequence", "expected a list `[...]`"),
            ("expected a map", "expected a table `{ ... }`"),
        ] {
            message = message.replace(rust, toml);
        }
        TomlError::at(file, text, span, message)
    }

    /// A problem found after deserializing, at `span` (from a `toml::Spanned`).
    pub fn at(file: &str, text: &str, span: Range<usize>, message: impl Into<String>) -> TomlError {
        let src = SourceFile::new(Path::new(file), text);
        let (line, column) = src.line_col(span.start);
        TomlError {
            file: file.to_string(),
            line,
            column,
            field: toml_field_at(text, &span),
            message: message.into(),
        }
    }
}

/// The dotted path of the innermost key or value of `text` whose span holds `span`.
pub fn toml_field_at(text: &str, span: &Range<usize>) -> Option<String> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut best = None;
    walk_table(root.get_ref(), "", span, &mut best);
    best.map(|(_, path)| path)
}

/// Keeps in `best` the smallest (span length, path) seen that holds `want`.
fn walk_table(
    table: &toml::de::DeTable<'_>,
    prefix: &str,
    want: &Range<usize>,
    best: &mut Option<(usize, String)>,
) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        consider(key.span(), &path, want, best);
        walk_value(value, &path, want, best);
    }
}

fn walk_value(
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    path: &str,
    want: &Range<usize>,
    best: &mut Option<(usize, String)>,
) {
    consider(value.span(), path, want, best);
    match value.get_ref() {
        toml::de::DeValue::Table(t) => walk_table(t, path, want, best),
        toml::de::DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_value(item, &format!("{path}[{i}]"), want, best);
            }
        }
        _ => {}
    }
}

fn consider(
    span: Range<usize>,
    path: &str,
    want: &Range<usize>,
    best: &mut Option<(usize, String)>,
) {
    let holds = span.start <= want.start && want.end <= span.end && want.start < span.end;
    let len = span.end - span.start;
    if holds && best.as_ref().is_none_or(|(l, _)| len < *l) {
        *best = Some((len, path.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let src = SourceFile::new(Path::new("a.toml"), "ab\nçd = 1\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(3), (2, 1));
        // 'ç' is two bytes but one column.
        assert_eq!(src.line_col(5), (2, 2));
        assert_eq!(src.line_col(1000), (3, 1));
    }

    #[test]
    fn suggests_close_names_only() {
        let fields = ["timeout", "title", "retries"];
        assert_eq!(did_you_mean("tiemout", fields), Some("timeout"));
        assert_eq!(did_you_mean("zzz", fields), None);
    }

    #[test]
    fn a_long_line_is_cut_to_a_window_around_the_error_and_escapes_are_shown() {
        let line = format!("x = \"{}\x1b]52;c;AAAA\x07\" y", "a".repeat(10_000));
        let text = format!("[runbook]\n{line}\nnext = 1\n");
        let src = SourceFile::new(Path::new("l.toml"), text.as_str());
        let at = text.find('\x1b').unwrap();
        let d = Diagnostic::error("wrong-type", &src, at..at + 1, "bad");
        let out = render(&d, Some(&src), false);
        assert!(out.contains("l.toml:2:"), "{out}");
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
        assert!(!out.contains("next = 1"), "only the erroneous line: {out}");
        let longest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(longest <= MAX_EXCERPT + 16, "{longest}: {out}");
        // The caret sits under the escape (shown as a symbol).
        let lines: Vec<&str> = out.lines().collect();
        let excerpt = lines
            .iter()
            .position(|l| l.contains('\u{241b}'))
            .expect("excerpt");
        let col = lines[excerpt]
            .chars()
            .position(|c| c == '\u{241b}')
            .unwrap();
        assert_eq!(
            lines[excerpt + 1].chars().position(|c| c == '^'),
            Some(col),
            "{out}"
        );
        // A file that is not quotable shows its place only.
        let mut secret = SourceFile::new(Path::new("s.toml"), "TOKEN=hunter2\n");
        secret.quotable = false;
        let d = Diagnostic::error("toml-syntax", &secret, 6..13, "invalid");
        let out = render(&d, Some(&secret), false);
        assert!(
            out.contains("s.toml:1:7") && !out.contains("hunter2"),
            "{out}"
        );
    }

    #[test]
    fn renders_excerpt_with_caret_and_help() {
        let src = SourceFile::new(Path::new("x.toml"), "[step]\ntiemout = 3\n");
        let d = Diagnostic::error("unknown-field", &src, 7..14, "unknown field `tiemout`")
            .with_help("did you mean `timeout`?");
        let out = render(&d, Some(&src), false);
        assert!(out.contains("x.toml:2:1"), "{out}");
        assert!(out.contains("tiemout = 3"), "{out}");
        assert!(out.contains("^^^^^^^"), "{out}");
        assert!(out.contains("did you mean `timeout`?"), "{out}");
    }

    #[test]
    fn toml_field_at_names_the_innermost_field() {
        let text = "name = \"x\"\n[styles]\nfail = { fg = \"redd\", bold = true }\n";
        let at = text.find("\"redd\"").unwrap();
        assert_eq!(
            toml_field_at(text, &(at..at + 6)).as_deref(),
            Some("styles.fail.fg")
        );
        let key = text.find("bold").unwrap();
        assert_eq!(
            toml_field_at(text, &(key..key + 4)).as_deref(),
            Some("styles.fail.bold")
        );
        let e = TomlError::at("t.toml", text, at..at + 6, "bad colour");
        assert_eq!(e.to_string(), "t.toml:3:15: `styles.fail.fg`: bad colour");
    }
}
