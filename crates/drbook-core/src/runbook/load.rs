//! Loading: find the TOML files under the given paths, parse each into the typed model, and
//! collect every problem on the way (syntax, unknown fields, wrong types) with its span.
//!
//! Each section, variable and step is deserialized on its own, so one bad step does not hide
//! the problems of the next; unknown keys are found by comparing against the fields serde
//! knows, so every one of them is reported, not just the first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, OnceLock};

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde_aux::serde_introspection::serde_introspect;
use thiserror::Error;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::model::{Assertion, Group, Plan, PlanMeta, Runbook, RunbookMeta, Step, VarDef, VarSpec};
use crate::diag::{Diagnostic, SourceFile, did_you_mean};
pub use crate::files::ReadError;
use crate::files::file_kind;

/// Problems with the paths themselves: these are usage errors, not runbook errors.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{path}: no such file or folder")]
    NotFound { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no .toml files found")]
    Empty { path: PathBuf },
}

/// Everything loaded from a set of paths.
#[derive(Debug, Default)]
pub struct LoadSet {
    pub sources: Vec<Arc<SourceFile>>,
    pub runbooks: Vec<Runbook>,
    pub plans: Vec<Plan>,
    pub diagnostics: Vec<Diagnostic>,
    /// Files recognised as simulator scenarios and left alone.
    pub skipped: Vec<PathBuf>,
    /// `sources` by displayed path, built on first use: one diagnostic per file of 10,000
    /// files made a scan per diagnostic quadratic (13 s).
    by_file: OnceLock<HashMap<String, usize>>,
}

impl LoadSet {
    pub fn source(&self, file: &str) -> Option<&SourceFile> {
        let index = self.by_file.get_or_init(|| {
            let mut m = HashMap::with_capacity(self.sources.len());
            for (i, s) in self.sources.iter().enumerate() {
                m.entry(s.path.display().to_string()).or_insert(i);
            }
            m
        });
        let hit = index.get(file).and_then(|&i| self.sources.get(i));
        match hit {
            Some(s) if s.path.display().to_string() == file => Some(s.as_ref()),
            // Sources added after the index was built: look the slow way.
            _ => self
                .sources
                .iter()
                .find(|s| s.path.display().to_string() == file)
                .map(|s| s.as_ref()),
        }
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// What one file turned out to hold.
#[derive(Debug, Default)]
pub struct FileOutcome {
    pub runbook: Option<Runbook>,
    pub plan: Option<Plan>,
    pub scenario: bool,
    /// Not a drbook file (no `[runbook]`, `[plan]` or `[scenario]`): its text is never quoted
    /// in a diagnostic, as it could be anything (`/proc/self/environ`, a key file).
    pub foreign: bool,
    pub diagnostics: Vec<Diagnostic>,
}

/// A runbook file larger than this is refused unread: the largest real runbook is a few
/// tens of KiB, and a link to `/dev/zero` or a huge file must not be read until memory runs out.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What `discover` found: the files to read, and the entries refused without being opened
/// (each with why), which become diagnostics naming the file.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    pub refused: Vec<(PathBuf, String)>,
}

/// Every `*.toml` file under the given paths (folders recursively), sorted, without repeats.
///
/// A folder is walked without leaving it: a symbolic link whose target lies outside the
/// folder is refused (a pull request could otherwise have `validate` quote `/etc/shadow` or
/// `/proc/self/environ` in CI), and each folder is walked once, by its canonical path, so
/// links to `.` cannot make the walk loop. Entries that are not regular files (a FIFO, a
/// device) are refused here, before anything opens them.
pub fn discover(paths: &[PathBuf]) -> Result<Discovered, LoadError> {
    let mut found = Discovered::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound { path: path.clone() },
            _ => LoadError::Io {
                path: path.clone(),
                source: e,
            },
        })?;
        if meta.is_dir() {
            let root = std::fs::canonicalize(path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            let before = found.files.len() + found.refused.len();
            let mut walk = Walk {
                root: &root,
                visited: HashSet::new(),
                seen_files: HashSet::new(),
                out: &mut found,
            };
            walk.dir(path, &root)?;
            if found.files.len() + found.refused.len() == before {
                return Err(LoadError::Empty { path: path.clone() });
            }
        } else {
            // A file named on the command line is the operator's own choice; it is still
            // read only if it is a regular file of sane size (see `read_regular`).
            found.files.push(path.clone());
        }
    }
    found.files.sort();
    found.files.dedup();
    found.refused.sort();
    found.refused.dedup();
    Ok(found)
}

struct Walk<'a> {
    /// The canonical path of the folder named on the command line.
    root: &'a Path,
    /// Canonical folders already walked: a link back to one of them is not walked again.
    visited: HashSet<PathBuf>,
    /// Canonical files already listed: a second link to the same file is not read twice.
    seen_files: HashSet<PathBuf>,
    out: &'a mut Discovered,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, canonical: &Path) -> Result<(), LoadError> {
        if !self.visited.insert(canonical.to_path_buf()) {
            return Ok(());
        }
        let io = |source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut entries: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            entries.push(entry.map_err(io)?.path());
        }
        entries.sort();
        for path in entries {
            self.entry(path, canonical)?;
        }
        Ok(())
    }

    fn entry(&mut self, path: PathBuf, parent: &Path) -> Result<(), LoadError> {
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        // Not following links: what the entry itself is.
        let Ok(own) = std::fs::symlink_metadata(&path) else {
            return Ok(()); // gone since the folder was listed
        };
        let target = if own.file_type().is_symlink() {
            let Ok(canonical) = std::fs::canonicalize(&path) else {
                if is_toml {
                    self.refuse(
                        path,
                        "a symbolic link that leads nowhere (dangling or looping)",
                    );
                }
                return Ok(());
            };
            if !canonical.starts_with(self.root) {
                if is_toml || canonical.is_dir() {
                    self.refuse(
                        path,
                        "a symbolic link that points outside the runbook folder: not followed",
                    );
                }
                return Ok(());
            }
            canonical
        } else {
            // Not a link: its canonical path is its folder's and its name.
            match path.file_name() {
                Some(name) => parent.join(name),
                None => return Ok(()),
            }
        };
        let Ok(meta) = std::fs::metadata(&target) else {
            return Ok(());
        };
        if meta.is_dir() {
            return self.dir(&path, &target);
        }
        if !is_toml {
            return Ok(());
        }
        if !meta.is_file() {
            self.refuse(
                path,
                &format!("{}: only regular files are read", file_kind(&meta)),
            );
        } else if meta.len() > MAX_FILE_BYTES {
            self.refuse(path, &too_large(meta.len()));
        } else if self.seen_files.insert(target) {
            self.out.files.push(path);
        }
        Ok(())
    }

    fn refuse(&mut self, path: PathBuf, why: &str) {
        self.out.refused.push((path, why.to_string()));
    }
}

fn too_large(len: u64) -> String {
    format!("too large ({len} bytes; a runbook file is at most {MAX_FILE_BYTES} bytes)")
}

/// Reads a runbook (or plan) file: only a regular file, at most `MAX_FILE_BYTES`.
pub fn read_regular(path: &Path) -> Result<Vec<u8>, ReadError> {
    crate::files::read_regular(path, MAX_FILE_BYTES)
}

/// Loads every file under `paths`, in parallel; per-file problems become diagnostics.
pub fn load_paths(paths: &[PathBuf]) -> Result<LoadSet, LoadError> {
    let found = discover(paths)?;
    let loaded = read_and_parse(&found.files);
    let mut set = LoadSet::default();
    for (path, why) in found.refused {
        let file = SourceFile::unread(&path);
        set.diagnostics.push(
            Diagnostic::error("unsafe-file", &file, 0..0, format!("not read: {why}")).with_help(
                "runbook folders hold regular *.toml files (links within the folder are followed)",
            ),
        );
        set.sources.push(Arc::new(file));
    }
    for (src, outcome) in loaded {
        if outcome.scenario {
            set.skipped.push(src.path.to_path_buf());
        }
        set.runbooks.extend(outcome.runbook);
        set.plans.extend(outcome.plan);
        set.diagnostics.extend(outcome.diagnostics);
        set.sources.push(src);
    }
    add_plan_siblings(&mut set);
    super::validate::validate_set(&mut set);
    Ok(set)
}

/// Below this many files, they are parsed on the calling thread: starting rayon's pool
/// costs more than parsing a plan's dozen runbooks (milliseconds before the TUI's first
/// frame, tens of them on a loaded machine), and folders of hundreds still go in parallel.
pub(super) const PARALLEL_FROM: usize = 64;

/// Reads and parses files, in parallel when there are many.
fn read_and_parse(files: &[PathBuf]) -> Vec<(Arc<SourceFile>, FileOutcome)> {
    let one = |path: &PathBuf| {
        let (mut src, read_error) = read_source(path);
        let outcome = match read_error {
            Some(d) => FileOutcome {
                diagnostics: vec![d],
                ..FileOutcome::default()
            },
            None => parse_source(&src),
        };
        if outcome.foreign {
            src.quotable = false;
        }
        (Arc::new(src), outcome)
    };
    if files.len() < PARALLEL_FROM {
        files.iter().map(one).collect()
    } else {
        files.par_iter().map(one).collect()
    }
}

/// A plan given without its runbooks (`drbook validate runbooks/plan.toml`) takes the ones it
/// names, and only those, from its own folder (walked as `drbook validate <folder>` would
/// walk it): the plan is written next to its runbooks, and asking the operator to list them
/// again at 3 a.m. only invites a plan run with half its runbooks. Runbooks given on the
/// command line win; other files of the folder are not loaded, so their problems are not
/// reported. A name found nowhere stays an `unknown-runbook` error.
fn add_plan_siblings(set: &mut LoadSet) {
    let loaded: HashSet<String> = set.runbooks.iter().map(|r| r.id().to_string()).collect();
    let mut wanted: BTreeMap<PathBuf, HashSet<String>> = BTreeMap::new();
    for plan in &set.plans {
        let missing: HashSet<String> = plan
            .groups
            .iter()
            .flat_map(|g| g.runbooks.iter().map(|r| r.get_ref()))
            .filter(|id| !loaded.contains(*id))
            .cloned()
            .collect();
        if missing.is_empty() {
            continue;
        }
        let dir = match plan.file.parent() {
            Some(d) if d.as_os_str().is_empty() => Path::new("."),
            Some(d) => d,
            None => continue,
        };
        wanted.entry(dir.to_path_buf()).or_default().extend(missing);
    }
    let known: HashSet<PathBuf> = set
        .sources
        .iter()
        .filter_map(|s| std::fs::canonicalize(&s.path).ok())
        .collect();
    for (dir, mut missing) in wanted {
        // A folder that cannot be walked adds nothing: the names stay unknown and say so.
        let Ok(found) = discover(std::slice::from_ref(&dir)) else {
            continue;
        };
        let files: Vec<PathBuf> = found
            .files
            .into_iter()
            .filter(|f| std::fs::canonicalize(f).is_ok_and(|c| !known.contains(&c)))
            .collect();
        for (src, outcome) in read_and_parse(&files) {
            let Some(rb) = outcome.runbook else { continue };
            if !missing.remove(rb.id()) {
                continue;
            }
            set.runbooks.push(rb);
            set.diagnostics.extend(outcome.diagnostics);
            set.sources.push(src);
        }
    }
}

/// Reads a file; a file that cannot be read or is not UTF-8 still yields a source (for the
/// diagnostic to point into) and the diagnostic itself.
fn read_source(path: &Path) -> (SourceFile, Option<Diagnostic>) {
    match read_regular(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => (SourceFile::new(path, text), None),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                // Binary is no runbook: its text is never quoted.
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let mut file = SourceFile::new(path, text);
                file.quotable = false;
                let d = Diagnostic::error("not-utf8", &file, at..at, "the file is not valid UTF-8");
                (file, Some(d))
            }
        },
        Err(e) => {
            let file = SourceFile::unread(path);
            let d = match e {
                ReadError::Io(_) => Diagnostic::error("io", &file, 0..0, e.to_string()),
                _ => Diagnostic::error("unsafe-file", &file, 0..0, format!("not read: {e}")),
            };
            (file, Some(d))
        }
    }
}

/// Parses one file's text. Never panics, whatever the text.
pub fn parse_source(src: &SourceFile) -> FileOutcome {
    let mut cx = Cx {
        src,
        diags: Vec::new(),
    };
    let mut out = FileOutcome::default();
    let (root, errors) = DeTable::parse_recoverable(&src.text);
    if !errors.is_empty() {
        out.foreign = !has_drbook_header(&src.text);
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            cx.diags.push(Diagnostic::error(
                "toml-syntax",
                src,
                span,
                format!("invalid TOML: {}", e.message().trim_end()),
            ));
        }
        out.diagnostics = cx.diags;
        return out;
    }
    let root_span = root.span();
    let root = root.into_inner();
    cx.control_chars(&root, "");
    let is = |k: &str| root.contains_key(k);
    match (is("runbook"), is("plan"), is("scenario")) {
        (true, false, _) => out.runbook = cx.runbook(root),
        (false, true, _) => out.plan = cx.plan(root),
        (false, false, true) => out.scenario = true,
        (true, true, _) => {
            let span = key_span(&root, "plan").unwrap_or(root_span);
            cx.error(
                "not-drbook",
                span,
                "a file holds either a [runbook] or a [plan], not both",
            );
        }
        (false, false, false) => {
            out.foreign = true;
            let span = root.keys().next().map_or(0..0, |k| k.span());
            cx.diags.push(
                Diagnostic::error(
                    "not-drbook",
                    src,
                    span,
                    "not a drbook file: there is no [runbook] or [plan] table",
                )
                .with_help("start a runbook with a [runbook] table (see runbooks/README.md)"),
            );
        }
    }
    cx.diags.sort_by_key(|d| d.span.start);
    out.diagnostics = cx.diags;
    out
}

/// Whether a file that is not valid TOML still looks like a drbook file, by its table headers.
fn has_drbook_header(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        [
            "[runbook]",
            "[plan]",
            "[scenario]",
            "[[step]]",
            "[[rollback]]",
            "[[group]]",
        ]
        .iter()
        .any(|h| l.starts_with(h))
    })
}

fn key_span(table: &DeTable<'_>, key: &str) -> Option<Range<usize>> {
    table.get_key_value(key).map(|(k, _)| k.span())
}

struct Cx<'a> {
    src: &'a SourceFile,
    diags: Vec<Diagnostic>,
}

/// The field names serde knows for each section, computed once.
static STEP_FIELDS: LazyLock<&'static [&'static str]> = LazyLock::new(serde_introspect::<Step>);
static ASSERTION_FIELDS: LazyLock<&'static [&'static str]> =
    LazyLock::new(serde_introspect::<Assertion>);

const RUNBOOK_SECTIONS: &[&str] = &["runbook", "vars", "step", "rollback"];
const PLAN_SECTIONS: &[&str] = &["plan", "vars", "group"];

impl Cx<'_> {
    fn error(&mut self, code: &'static str, span: Range<usize>, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(code, self.src, span, msg));
    }

    /// Reports every string of `table` (at any depth) holding a control character other than
    /// a line break or a tab: titles, instructions and descriptions reach terminals and
    /// documents, and an escape sequence in one (`\u001b]52;...` writes the clipboard, others
    /// move the cursor or retitle the window) has no place in a runbook.
    fn control_chars(&mut self, table: &DeTable<'_>, path: &str) {
        fn walk(cx: &mut Cx<'_>, value: &Spanned<DeValue<'_>>, path: &str) {
            match value.get_ref() {
                DeValue::String(text) => {
                    if let Some(c) = text
                        .chars()
                        .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
                    {
                        cx.error(
                            "control-character",
                            value.span(),
                            format!(
                                "`{path}` holds the control character U+{:04X}: terminal escapes \
                                 have no place in a runbook",
                                c as u32
                            ),
                        );
                    }
                }
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(cx, item, &format!("{path}[{i}]"));
                    }
                }
                DeValue::Table(t) => cx.control_chars(t, path),
                _ => {}
            }
        }
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            let path = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
            walk(self, value, &path);
        }
    }

    /// Reports every key of `table` that is not in `fields`.
    fn check_keys(&mut self, table: &DeTable<'_>, fields: &[&str], what: &str) {
        for key in table.keys() {
            let name: &str = key.get_ref();
            if fields.contains(&name) {
                continue;
            }
            let mut d = Diagnostic::error(
                "unknown-field",
                self.src,
                key.span(),
                format!("unknown field `{name}` in {what}"),
            );
            d = match did_you_mean(name, fields.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("known fields: {}", fields.join(", "))),
            };
            self.diags.push(d);
        }
    }

    /// The table inside `raw`, or a wrong-type diagnostic.
    fn table<'v, 'i>(
        &mut self,
        raw: &'v Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<&'v DeTable<'i>> {
        match raw.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(
                    "wrong-type",
                    raw.span(),
                    format!("{what} must be a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// Deserializes one value; a failure becomes a diagnostic pointing into the value.
    fn de<T: DeserializeOwned>(&mut self, raw: Spanned<DeValue<'_>>) -> Option<T> {
        let whole = raw.span();
        // (key span, value span) of each field, to name the field an error points into.
        let fields: Vec<(Range<usize>, Range<usize>)> = match raw.get_ref() {
            DeValue::Table(t) => t.iter().map(|(k, v)| (k.span(), v.span())).collect(),
            _ => Vec::new(),
        };
        match T::deserialize(ValueDeserializer::from(raw)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diags.push(serde_diag(self.src, &e, whole, &fields));
                None
            }
        }
    }

    fn runbook(&mut self, mut root: DeTable<'_>) -> Option<Runbook> {
        self.check_keys(&root, RUNBOOK_SECTIONS, "a runbook file");
        let raw_meta = root.remove("runbook")?;
        let meta: Option<RunbookMeta> = match self.table(&raw_meta, "[runbook]") {
            Some(t) => {
                self.check_keys(t, serde_introspect::<RunbookMeta>(), "[runbook]");
                self.de(raw_meta)
            }
            None => None,
        };
        let vars = root
            .remove("vars")
            .map(|v| self.vars(v))
            .unwrap_or_default();
        let (steps, mut broken) = self.steps(root.remove("step"), "step");
        let (rollbacks, broken_rb) = self.steps(root.remove("rollback"), "rollback");
        broken.extend(broken_rb);
        Some(Runbook {
            file: self.src.path.clone(),
            meta: meta?,
            vars,
            steps,
            rollbacks,
            broken_steps: broken,
        })
    }

    fn vars(&mut self, raw: Spanned<DeValue<'_>>) -> Vec<VarDef> {
        let Some(table) = self.table(&raw, "[vars]") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in table.iter() {
            let name = Spanned::new(key.span(), key.get_ref().to_string());
            if let DeValue::Table(t) = value.get_ref() {
                self.check_keys(
                    t,
                    serde_introspect::<VarSpec>(),
                    &format!("variable `{}`", name.get_ref()),
                );
                if let Some(spec) = self.de::<VarSpec>(value.clone()) {
                    out.push(VarDef {
                        name,
                        default: spec.default,
                        secret: spec.secret,
                        env: spec.env.map(Spanned::into_inner),
                        description: spec.description,
                    });
                }
            } else if let Some(v) = self.de::<Spanned<toml::Value>>(value.clone()) {
                out.push(VarDef {
                    name,
                    default: Some(v),
                    secret: false,
                    env: None,
                    description: None,
                });
            }
        }
        out
    }

    /// `[[step]]` or `[[rollback]]`: the steps that deserialized, and the ids of those that did not.
    fn steps(
        &mut self,
        raw: Option<Spanned<DeValue<'_>>>,
        section: &str,
    ) -> (Vec<Step>, Vec<String>) {
        let mut steps = Vec::new();
        let mut broken = Vec::new();
        let Some(raw) = raw else {
            return (steps, broken);
        };
        let span = raw.span();
        let DeValue::Array(items) = raw.into_inner() else {
            self.error(
                "wrong-type",
                span,
                format!("`{section}` must be an array of tables: write each one as [[{section}]]"),
            );
            return (steps, broken);
        };
        for item in items {
            let Some(table) = self.table(&item, &format!("each [[{section}]]")) else {
                continue;
            };
            self.check_step_keys(table, section);
            let id = table
                .get("id")
                .and_then(|v| v.get_ref().as_str())
                .map(str::to_string);
            match self.de::<Step>(item) {
                Some(step) => steps.push(step),
                None => broken.extend(id),
            }
        }
        (steps, broken)
    }

    fn check_step_keys(&mut self, table: &DeTable<'_>, section: &str) {
        self.check_keys(table, &STEP_FIELDS, &format!("[[{section}]]"));
        for field in ["expect", "expect_rows", "when"] {
            if let Some(v) = table.get(field) {
                self.check_assertion_keys(v, field);
            }
        }
    }

    fn check_assertion_keys(&mut self, raw: &Spanned<DeValue<'_>>, field: &str) {
        match raw.get_ref() {
            DeValue::Table(t) => {
                self.check_keys(t, &ASSERTION_FIELDS, &format!("`{field}`"));
                for sub in ["all", "any", "not"] {
                    if let Some(v) = t.get(sub) {
                        self.check_assertion_keys(v, field);
                    }
                }
            }
            DeValue::Array(items) => {
                for item in items {
                    self.check_assertion_keys(item, field);
                }
            }
            _ => {}
        }
    }

    fn plan(&mut self, mut root: DeTable<'_>) -> Option<Plan> {
        self.check_keys(&root, PLAN_SECTIONS, "a plan file");
        let raw_meta = root.remove("plan")?;
        let meta: Option<PlanMeta> = match self.table(&raw_meta, "[plan]") {
            Some(t) => {
                self.check_keys(t, serde_introspect::<PlanMeta>(), "[plan]");
                self.de(raw_meta)
            }
            None => None,
        };
        let vars = match root.remove("vars") {
            Some(v) => self
                .de::<BTreeMap<String, Spanned<toml::Value>>>(v)
                .unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let mut groups = Vec::new();
        if let Some(raw) = root.remove("group") {
            let span = raw.span();
            match raw.into_inner() {
                DeValue::Array(items) => {
                    for item in items {
                        let Some(t) = self.table(&item, "each [[group]]") else {
                            continue;
                        };
                        self.check_keys(t, serde_introspect::<Group>(), "[[group]]");
                        groups.extend(self.de::<Group>(item));
                    }
                }
                _ => self.error(
                    "wrong-type",
                    span,
                    "`group` must be an array of tables: write each one as [[group]]",
                ),
            }
        }
        Some(Plan {
            file: self.src.path.clone(),
            meta: meta?,
            vars,
            groups,
        })
    }
}

/// Turns a serde error into a diagnostic with a code, a precise span and a hint.
fn serde_diag(
    src: &SourceFile,
    err: &toml::de::Error,
    whole: Range<usize>,
    fields: &[(Range<usize>, Range<usize>)],
) -> Diagnostic {
    let msg = err.message().trim_end();
    let span = err.span().unwrap_or_else(|| whole.clone());
    // Which field the error is in, when it points inside one.
    let field = fields
        .iter()
        .find(|(_, v)| v.start <= span.start && span.end <= v.end)
        .and_then(|(k, _)| src.text.get(k.clone()))
        .map(|k| k.trim_matches(|c| c == '"' || c == '\'').to_string());
    if let Some(name) = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        // Point at the table's first line rather than its whole body.
        let start = whole.start;
        let end = src.text[start.min(src.text.len())..]
            .find('\n')
            .map_or(src.text.len(), |i| start + i);
        return Diagnostic::error(
            "missing-field",
            src,
            start..end,
            format!("missing field `{name}`"),
        )
        .with_help(format!("add `{name} = ...` to this table"));
    }
    if msg.starts_with("unknown variant") {
        let code = match field.as_deref() {
            Some("kind") => "unknown-kind",
            Some("component") => "unknown-component",
            _ => "wrong-type",
        };
        let got = between(msg, "unknown variant `", "`").unwrap_or_default();
        let expected = expected_list(msg);
        let label = field.as_deref().unwrap_or("value");
        let mut d = Diagnostic::error(code, src, span, format!("unknown {label} `{got}`"));
        d = match did_you_mean(got, expected.iter().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("expected one of: {}", expected.join(", "))),
        };
        return d;
    }
    let plain = plain_types(msg);
    let text = match &field {
        Some(f) => format!("wrong type for `{f}`: {plain}"),
        None => plain,
    };
    Diagnostic::error("wrong-type", src, span, text)
}

/// serde speaks of Rust types; the operator wrote TOML.
fn plain_types(msg: &str) -> String {
    let mut out = msg.replace("invalid type: ", "");
    for (rust, toml) in [
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list `[...]`"),
        ("expected a map", "expected a table `{ ... }`"),
        ("expected a string", "expected a string in quotes"),
    ] {
        out = out.replace(rust, toml);
    }
    out
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let rest = &s[s.find(open)? + open.len()..];
    Some(&rest[..rest.find(close)?])
}

/// The names in serde's "expected one of `a`, `b`" tail.
fn expected_list(msg: &str) -> Vec<String> {
    msg.find("expected")
        .map(|i| {
            msg[i..]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FileOutcome {
        parse_source(&SourceFile::new(Path::new("t.toml"), text))
    }

    #[test]
    fn reports_every_unknown_field_with_a_hint() {
        let out = parse(
            r#"
[runbook]
id = "a"
title = "A"
component = "web"
ownr = "x"

[[step]]
id = "s"
title = "S"
kind = "manual"
instructions = "do it"
tiemout = "5m"
colour = "red"
"#,
        );
        let found: Vec<_> = out
            .diagnostics
            .iter()
            .map(|d| (d.code, d.line, d.column, d.help.clone().unwrap_or_default()))
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].0, "unknown-field");
        assert_eq!((found[0].1, found[0].2), (6, 1));
        assert!(found[0].3.contains("`owner`"));
        assert_eq!((found[1].1, found[1].2), (13, 1));
        assert!(found[1].3.contains("`timeout`"));
        assert_eq!((found[2].1, found[2].2), (14, 1));
        // The bad fields are reported but the runbook still loads.
        let rb = out.runbook.expect("runbook loads despite unknown fields");
        assert_eq!(rb.steps.len(), 1);
    }

    #[test]
    fn unknown_kind_names_the_value_and_suggests() {
        let out = parse(
            "[runbook]\nid='a'\ntitle='A'\ncomponent='web'\n[[step]]\nid='s'\ntitle='S'\nkind='chek'\n",
        );
        let d = &out.diagnostics[0];
        assert_eq!(d.code, "unknown-kind");
        assert_eq!((d.line, d.column), (8, 6));
        assert_eq!(d.help.as_deref(), Some("did you mean `check`?"));
        assert_eq!(
            out.runbook.expect("loads").broken_steps,
            vec!["s".to_string()]
        );
    }

    #[test]
    fn syntax_errors_are_all_reported() {
        let out = parse("[runbook]\nid = @\ntitle = 'x'\n[[step]\nx = 1\n");
        let at: Vec<_> = out
            .diagnostics
            .iter()
            .map(|d| (d.code, d.line, d.column))
            .collect();
        assert!(at.contains(&("toml-syntax", 2, 6)), "{at:?}");
        assert!(at.iter().any(|(_, line, _)| *line == 4), "{at:?}");
        assert!(out.runbook.is_none());
    }

    #[test]
    fn scenario_files_are_recognised_and_skipped() {
        let out = parse("[scenario]\nname = 'x'\n");
        assert!(out.scenario);
        assert!(out.diagnostics.is_empty());
    }

    #[test]
    fn a_file_of_something_else_is_named_as_such() {
        let out = parse("[package]\nname = 'x'\n");
        assert_eq!(out.diagnostics[0].code, "not-drbook");
    }
}
