//! The simulator's Azure Resource Graph query engine: a subset of KQL (Kusto Query Language)
//! evaluated over an in-memory table of ARM resources.
//!
//! This module owns the whole query path (tokenizer, precedence-climbing parser, column check
//! and evaluator); it knows nothing of where the rows come from. Supported subset:
//!
//! - tables: `Resources` (also when a query starts with `where` or `| where`), the tables of
//!   [`TABLES`] (the caller of [`run_tables`] gives the rows of those it holds; the others are
//!   empty), a query in parentheses, or `union`;
//! - operators: `where`, `project` (with `name = expr`), `project-away`, `project-rename`,
//!   `extend`, `summarize ... by ...`, `count`, `take`/`limit`, `top N by`, `order by`/`sort by`,
//!   `distinct`, `mv-expand`, `join` (Resource Graph's kinds, default `innerunique`, `on col` and
//!   `on $left.a == $right.b`), `union`, `parse` (simple and regex kinds);
//! - aggregations: `count`, `countif`, `dcount`, `min`, `max`, `sum`, `avg`, `make_list`,
//!   `make_set`, `any`, `take_any`;
//! - expressions: property paths (`properties.a['b'][0]`), literals (strings, numbers,
//!   timespans such as `5m`, `true`/`false`/`null`, `datetime(...)`, `dynamic(...)`),
//!   comparisons, `and`/`or`/`not()`, string operators, `in`/`!in`/`in~`/`!in~`, `matches regex`,
//!   arithmetic on numbers, datetimes and timespans, and the scalar functions listed by
//!   [`supported`].
//!
//! Semantics follow KQL: `==` is case-sensitive and `=~` is not; `contains`, `has`, `startswith`
//! and `endswith` are case-insensitive unless suffixed `_cs`; a missing property is null and
//! comparisons with null are false (string operators read null as `""`); a string meeting a
//! datetime is read as a datetime. Operator keywords are accepted in any case. Parsing never
//! panics: nesting is capped at [`MAX_DEPTH`] and every error names a byte offset.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Number, Value};

/// Deepest nesting of parentheses, operators and `dynamic()` values a query may use.
const MAX_DEPTH: usize = 64;
/// Most rows one join may make: a key shared by many rows on both sides multiplies them, and
/// the simulator must not run out of memory on a careless (or fuzzed) query.
const MAX_JOIN_ROWS: usize = 200_000;
/// Compiled-size cap for `matches regex` and `extract()` patterns.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

type Row = Map<String, Value>;
type Result<T, E = KqlError> = std::result::Result<T, E>;

/// Why a query could not be run.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum KqlError {
    /// The query is not valid in the supported subset; `position` is a byte offset into it.
    #[error("{message}")]
    Parse { position: usize, message: String },
    /// The query uses a real KQL feature the simulator does not implement.
    #[error(
        "{what} is not supported by the simulated Resource Graph. Supported: {}",
        supported()
    )]
    Unsupported { what: String },
    /// The query parsed but failed on the data.
    #[error("query evaluation failed: {message}")]
    Eval { message: String },
}

/// Runs `query` over `rows`, the `Resources` table (ARM resource objects as Resource Graph
/// presents them); every other table is empty.
pub fn run(query: &str, rows: &[Value]) -> Result<Vec<Value>> {
    run_at(query, rows, Utc::now())
}

/// A query's answer: its rows, and the columns of its result (rows may omit null ones).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub columns: Vec<String>,
    pub rows: Vec<Value>,
}

/// Runs `query` over Resource Graph's tables: `tables` gets a lower-case table name of
/// [`TABLES`] and gives its rows, or `None` for a table it holds nothing of. It is asked only
/// for the tables the query reads, once each.
pub fn run_tables(query: &str, tables: &dyn Fn(&str) -> Option<Vec<Value>>) -> Result<Answer> {
    run_tables_at(query, tables, Utc::now())
}

/// One-paragraph description of the supported KQL subset, for docs and error hints.
pub fn supported() -> &'static str {
    "a subset of KQL as used by Azure Resource Graph: a table (`Resources`, `ResourceContainers` and \
     Resource Graph's other tables; `Resources` when the query starts with an operator) or `union`, then \
     `|`-separated operators `where`, `project` (with `name = expr`), `project-away`, `project-rename`, \
     `extend`, `summarize` (aggregations `count()`, `countif()`, `dcount()`, `min()`, `max()`, `sum()`, \
     `avg()`, `make_list()`, `make_set()`, `any()`/`take_any()`, optionally `by` columns or expressions), \
     `count`, `take`/`limit`, `top N by`, `order by`/`sort by` (`asc`/`desc`, `nulls first`/`nulls last`), \
     `distinct`, `mv-expand`, `join` (Resource Graph's kinds: innerunique, the default, inner, leftouter and \
     fullouter; `on column` or `on $left.a == $right.b`), \
     `union` and `parse` (`kind=simple` or `kind=regex`, typed columns); expressions with property paths (`properties.a['b'][0]`), string, number, \
     boolean, `null`, timespan (`5m`, `1h`), `datetime(...)` and `dynamic(...)` literals, `==`, `!=`, `=~`, \
     `!~`, `<`, `<=`, `>`, `>=`, `and`, `or`, `not()`, `contains`, `startswith`, `endswith`, `has` (with \
     `!` and `_cs` variants), `has_any`, `matches regex`, `in`, `!in`, `in~`, `!in~`, `+ - * / %` on numbers, \
     datetimes and timespans, and the functions `isnull`, `isnotnull`, `isempty`, `isnotempty`, `tolower`, \
     `toupper`, `tostring`, `toint`, `tolong`, `todouble`, `toreal`, `tobool`, `todatetime`, `strlen`, \
     `string_size`, `substring`, `split`, `strcat`, `strcat_array`, `indexof`, `replace_string`, \
     `replace_regex`, `extract`, `iff`/`iif`, `case`, `coalesce`, `array_length`, `array_slice`, \
     `array_concat`, `pack_array`, `bag_keys`, `set_has_element`, `parse_json`/`todynamic`, \
     `dynamic_to_json`, `exp`, `exp2`, `exp10`, `log`, `log2`, `log10`, `pow`, `sqrt`, `now` and `ago`"
}

/// [`run`] with a fixed clock, so `now()` and `ago()` are deterministic.
fn run_at(query: &str, rows: &[Value], now: DateTime<Utc>) -> Result<Vec<Value>> {
    let resources = |name: &str| (name == "resources").then(|| rows.to_vec());
    run_tables_at(query, &resources, now).map(|answer| answer.rows)
}

fn run_tables_at(
    query: &str,
    tables: &dyn Fn(&str) -> Option<Vec<Value>>,
    now: DateTime<Utc>,
) -> Result<Answer> {
    let mut query = Parser::new(query)?.parse_query()?;
    let mut uses: Vec<String> = Vec::new();
    tables_of(&query, &mut uses);
    let mut loaded: HashMap<String, (usize, Vec<Row>)> = HashMap::new();
    for name in uses {
        if let Some((n, _)) = loaded.get_mut(&name) {
            *n += 1;
            continue;
        }
        let rows = tables(&name)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, row)| match row {
                Value::Object(map) => Ok(map),
                _ => Err(eval_err(format!(
                    "input row {i} of {name} is not a JSON object"
                ))),
            })
            .collect::<Result<Vec<Row>>>()?;
        loaded.insert(name, (1, rows));
    }
    let schemas: HashMap<&str, Vec<String>> = loaded
        .iter()
        .map(|(name, (_, rows))| (name.as_str(), initial_schema(rows)))
        .collect();
    let columns = check_query(&mut query, &schemas)?;
    let env = Env {
        now,
        tables: RefCell::new(loaded),
    };
    let out = eval_query(&query, &env)?;
    Ok(Answer {
        columns,
        rows: out.into_iter().map(Value::Object).collect(),
    })
}

/// Every table `query` reads, once per use.
fn tables_of(query: &Query, out: &mut Vec<String>) {
    match &query.source {
        Source::Table(name) => out.push(name.clone()),
        Source::Union(items) => items.iter().for_each(|q| tables_of(q, out)),
    }
    for op in &query.ops {
        match op {
            Op::Join { right, .. } => tables_of(right, out),
            Op::Union(items) => items.iter().for_each(|q| tables_of(q, out)),
            _ => {}
        }
    }
}

fn parse_err(position: usize, message: impl Into<String>) -> KqlError {
    KqlError::Parse {
        position,
        message: message.into(),
    }
}

fn unsupported(what: impl Into<String>) -> KqlError {
    KqlError::Unsupported { what: what.into() }
}

fn unknown_table(word: &str) -> KqlError {
    unsupported(format!(
        "table `{word}` (Resource Graph's tables are {}{})",
        TABLES.join(", "),
        did_you_mean(word, TABLES.iter().copied())
    ))
}

fn eval_err(message: impl Into<String>) -> KqlError {
    KqlError::Eval {
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

const OPERATORS: &[&str] = &[
    "where",
    "filter",
    "project",
    "project-away",
    "project-rename",
    "extend",
    "summarize",
    "count",
    "take",
    "limit",
    "top",
    "order",
    "sort",
    "distinct",
    "mv-expand",
    "mvexpand",
    "join",
    "union",
    "parse",
];

const UNSUPPORTED_OPERATORS: &[&str] = &[
    "parse-where",
    "parse-kv",
    "make-series",
    "render",
    "lookup",
    "evaluate",
    "invoke",
    "as",
    "serialize",
    "mv-apply",
    "sample",
    "sample-distinct",
    "getschema",
    "facet",
    "fork",
    "partition",
    "range",
    "print",
    "search",
    "find",
    "scan",
    "top-nested",
    "top-hitters",
    "reduce",
    "project-keep",
    "project-reorder",
    "consume",
    "externaldata",
    "datatable",
    "let",
    "materialize",
];

/// Resource Graph's tables (learn.microsoft.com, "Azure Resource Graph table and resource type
/// reference"), lower-case. The caller of [`run_tables`] holds the rows of some; the others are
/// empty, as they are for a subscription without such resources.
pub const TABLES: &[&str] = &[
    "resources",
    "resourcecontainers",
    "advisorresources",
    "aksresources",
    "alertsmanagementresources",
    "appserviceresources",
    "authorizationresources",
    "awsresources",
    "azurebusinesscontinuityresources",
    "chaosresources",
    "cdnresources",
    "communitygalleryresources",
    "computeresources",
    "desktopvirtualizationresources",
    "dnsresources",
    "edgeorderresources",
    "elasticsanresources",
    "extendedlocationresources",
    "featureresources",
    "guestconfigurationresources",
    "healthresourcechanges",
    "healthresources",
    "insightsresources",
    "iotsecurityresources",
    "kubernetesconfigurationresources",
    "kustoresources",
    "maintenanceresources",
    "managedservicesresources",
    "networkresources",
    "patchassessmentresources",
    "patchinstallationresources",
    "policyresources",
    "recoveryservicesresources",
    "resourcechanges",
    "resourcecontainerchanges",
    "securityresources",
    "servicehealthresources",
    "spotresources",
    "supportresources",
    "tagsresources",
];

const AGGREGATIONS: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "min",
    "max",
    "sum",
    "avg",
    "make_list",
    "make_set",
    "any",
    "take_any",
];

const UNSUPPORTED_AGGREGATIONS: &[&str] = &[
    "arg_max",
    "arg_min",
    "percentile",
    "percentiles",
    "stdev",
    "variance",
    "make_bag",
    "dcountif",
    "sumif",
    "avgif",
    "minif",
    "maxif",
    "make_list_if",
    "make_set_if",
    "count_distinct",
    "hll",
    "tdigest",
    "take_anyif",
];

const UNSUPPORTED_FUNCTIONS: &[&str] = &[
    "bin",
    "floor",
    "round",
    "format_datetime",
    "format_timespan",
    "datetime_diff",
    "datetime_add",
    "startofday",
    "endofday",
    "bag_pack",
    "pack",
    "parse_url",
    "parse_xml",
    "trim",
    "trim_start",
    "trim_end",
    "array_index_of",
    "set_union",
    "set_intersect",
    "hash",
    "base64_encode_tostring",
    "base64_decode_tostring",
    "row_number",
    "prev",
    "next",
    "toguid",
    "tohex",
    "strrep",
    "reverse",
    "countof",
    "min_of",
    "max_of",
    "totimespan",
    "dayofweek",
    "getmonth",
    "getyear",
    "tobool_or_null",
    "typeof",
    "gettype",
];

const ARG_COLUMNS: &[&str] = &[
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "managedBy",
    "sku",
    "plan",
    "properties",
    "tags",
    "identity",
    "zones",
    "extendedLocation",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    IsNull,
    IsNotNull,
    IsEmpty,
    IsNotEmpty,
    ToLower,
    ToUpper,
    ToString,
    ToLong,
    ToDouble,
    ToBool,
    ToDateTime,
    StrLen,
    Substring,
    Split,
    StrCat,
    ReplaceString,
    Extract,
    Iff,
    Case,
    Coalesce,
    ArrayLength,
    ParseJson,
    Now,
    Ago,
    Not,
    StrCatArray,
    IndexOf,
    ArraySlice,
    ArrayConcat,
    PackArray,
    BagKeys,
    SetHasElement,
    StringSize,
    ReplaceRegex,
    /// The older `replace(regex, rewrite, text)`.
    Replace,
    DynamicToJson,
    Math(MathFn),
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MathFn {
    Exp,
    Exp2,
    Exp10,
    Ln,
    Log2,
    Log10,
    Sqrt,
}

impl MathFn {
    fn apply(self, x: f64) -> f64 {
        match self {
            MathFn::Exp => x.exp(),
            MathFn::Exp2 => x.exp2(),
            MathFn::Exp10 => 10f64.powf(x),
            MathFn::Ln => x.ln(),
            MathFn::Log2 => x.log2(),
            MathFn::Log10 => x.log10(),
            MathFn::Sqrt => x.sqrt(),
        }
    }
}

/// Scalar functions: name, function, minimum and maximum argument count.
const FUNCTIONS: &[(&str, Func, usize, usize)] = &[
    ("isnull", Func::IsNull, 1, 1),
    ("isnotnull", Func::IsNotNull, 1, 1),
    ("isempty", Func::IsEmpty, 1, 1),
    ("isnotempty", Func::IsNotEmpty, 1, 1),
    ("tolower", Func::ToLower, 1, 1),
    ("toupper", Func::ToUpper, 1, 1),
    ("tostring", Func::ToString, 1, 1),
    ("toint", Func::ToLong, 1, 1),
    ("tolong", Func::ToLong, 1, 1),
    ("todouble", Func::ToDouble, 1, 1),
    ("toreal", Func::ToDouble, 1, 1),
    ("tobool", Func::ToBool, 1, 1),
    ("toboolean", Func::ToBool, 1, 1),
    ("todatetime", Func::ToDateTime, 1, 1),
    ("strlen", Func::StrLen, 1, 1),
    ("substring", Func::Substring, 2, 3),
    ("split", Func::Split, 2, 3),
    ("strcat", Func::StrCat, 1, 64),
    ("replace_string", Func::ReplaceString, 3, 3),
    ("extract", Func::Extract, 3, 3),
    ("iff", Func::Iff, 3, 3),
    ("iif", Func::Iff, 3, 3),
    ("case", Func::Case, 3, 129),
    ("coalesce", Func::Coalesce, 1, 64),
    ("array_length", Func::ArrayLength, 1, 1),
    ("parse_json", Func::ParseJson, 1, 1),
    ("todynamic", Func::ParseJson, 1, 1),
    ("now", Func::Now, 0, 1),
    ("ago", Func::Ago, 1, 1),
    ("not", Func::Not, 1, 1),
    ("strcat_array", Func::StrCatArray, 2, 2),
    ("indexof", Func::IndexOf, 2, 5),
    ("array_slice", Func::ArraySlice, 3, 3),
    ("array_concat", Func::ArrayConcat, 1, 64),
    ("pack_array", Func::PackArray, 1, 64),
    ("bag_keys", Func::BagKeys, 1, 1),
    ("set_has_element", Func::SetHasElement, 2, 2),
    ("string_size", Func::StringSize, 1, 1),
    ("replace_regex", Func::ReplaceRegex, 3, 3),
    ("replace", Func::Replace, 3, 3),
    ("dynamic_to_json", Func::DynamicToJson, 1, 1),
    ("exp", Func::Math(MathFn::Exp), 1, 1),
    ("exp2", Func::Math(MathFn::Exp2), 1, 1),
    ("exp10", Func::Math(MathFn::Exp10), 1, 1),
    ("log", Func::Math(MathFn::Ln), 1, 1),
    ("log2", Func::Math(MathFn::Log2), 1, 1),
    ("log10", Func::Math(MathFn::Log10), 1, 1),
    ("sqrt", Func::Math(MathFn::Sqrt), 1, 1),
    ("pow", Func::Pow, 2, 2),
];

/// `; did you mean `x`?` when `word` is close to one of `candidates`.
fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// Edit distance counting an adjacent transposition as one edit (optimal string alignment).
/// Long inputs are never close to anything.
fn edit_distance(a: &str, b: &str) -> usize {
    if a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut d: Vec<usize> = vec![0; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for (i, ca) in a.iter().enumerate().map(|(i, c)| (i + 1, c)) {
        d[at(i, 0)] = i;
        for (j, cb) in b.iter().enumerate().map(|(j, c)| (j + 1, c)) {
            if i == 1 {
                d[at(0, j)] = j;
            }
            let cost = usize::from(ca != cb);
            let mut best = (d[at(i - 1, j)] + 1)
                .min(d[at(i, j - 1)] + 1)
                .min(d[at(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a.get(i - 2) == Some(cb) && b.get(j - 2) == Some(ca) {
                best = best.min(d[at(i - 2, j - 2)] + 1);
            }
            d[at(i, j)] = best;
        }
    }
    match (a.len(), b.len()) {
        (0, n) | (n, 0) => n,
        (m, n) => d[at(m, n)],
    }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Identifiers and keywords, including `!contains`-style and `in~`-style operator words.
    Ident(String),
    Str(String),
    Long(i64),
    Real(f64),
    Span(TimeDelta),
    /// The raw text inside `datetime(...)`.
    DateTime(String),
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
    end: usize,
}

/// Punctuation, longest first.
const SYMBOLS: &[&str] = &[
    "==", "!=", "<>", "=~", "!~", "<=", ">=", "|", "(", ")", "[", "]", "{", "}", ",", ".", ":",
    "=", "<", ">", "+", "-", "*", "/", "%", ";",
];

struct Lexer<'a> {
    src: &'a str,
    i: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.i..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn eat_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        self.src.get(start..self.i).unwrap_or("")
    }

    fn skip_trivia(&mut self) {
        loop {
            self.eat_while(char::is_whitespace);
            if !self.rest().starts_with("//") {
                return;
            }
            self.eat_while(|c| c != '\n');
        }
    }

    fn next_token(&mut self) -> Result<Token> {
        self.skip_trivia();
        let pos = self.i;
        let tok = match self.peek() {
            None => Tok::Eof,
            Some(q @ ('\'' | '"')) => {
                self.bump();
                Tok::Str(self.string_body(pos, q, true)?)
            }
            Some(c @ ('@' | 'h' | 'H')) if matches!(self.peek2(), Some('\'' | '"')) => {
                self.bump();
                let q = self.bump().unwrap_or('"');
                Tok::Str(self.string_body(pos, q, c != '@')?)
            }
            Some(c) if c.is_ascii_digit() => self.number(pos)?,
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.word(pos)?,
            // `$left` and `$right` in a join's `on` clause.
            Some('$') if self.peek2().is_some_and(|c| c.is_ascii_alphabetic()) => {
                self.bump();
                let word = self.identifier();
                Tok::Ident(format!("${word}"))
            }
            Some('!') if self.peek2().is_some_and(|c| c.is_ascii_alphabetic()) => {
                self.bump();
                let word = self.identifier();
                Tok::Ident(format!("!{word}"))
            }
            Some(c) => match SYMBOLS.iter().find(|s| self.rest().starts_with(**s)) {
                Some(sym) => {
                    self.i += sym.len();
                    Tok::Sym(sym)
                }
                None => {
                    return Err(parse_err(
                        pos,
                        format!("unexpected character `{c}` at {pos}"),
                    ));
                }
            },
        };
        Ok(Token {
            tok,
            pos,
            end: self.i,
        })
    }

    /// An identifier, with the `~` of `in~` attached.
    fn identifier(&mut self) -> String {
        let mut word = self
            .eat_while(|c| c.is_ascii_alphanumeric() || c == '_')
            .to_string();
        if word.eq_ignore_ascii_case("in") && self.peek() == Some('~') {
            self.bump();
            word.push('~');
        }
        word
    }

    fn word(&mut self, pos: usize) -> Result<Tok> {
        let word = self.identifier();
        if word.eq_ignore_ascii_case("datetime") {
            let save = self.i;
            self.eat_while(char::is_whitespace);
            if self.peek() == Some('(') {
                self.bump();
                let raw = self.eat_while(|c| c != ')').trim().to_string();
                if self.bump().is_none() {
                    return Err(parse_err(
                        pos,
                        format!("unterminated `datetime(` at {pos}: expected `)`"),
                    ));
                }
                return Ok(Tok::DateTime(raw));
            }
            self.i = save;
        }
        Ok(Tok::Ident(word))
    }

    fn string_body(&mut self, start: usize, quote: char, escapes: bool) -> Result<String> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(parse_err(
                        start,
                        format!("unterminated string starting at {start}"),
                    ));
                }
                Some(c) if c == quote => return Ok(out),
                Some('\\') if escapes => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c @ ('\\' | '\'' | '"')) => out.push(c),
                    // Unknown escapes are kept, so regex classes such as `\d` read naturally.
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => {
                        return Err(parse_err(
                            start,
                            format!("unterminated string starting at {start}"),
                        ));
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn number(&mut self, pos: usize) -> Result<Tok> {
        let mut text = self.eat_while(|c| c.is_ascii_digit()).to_string();
        let mut is_real = false;
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            text.push('.');
            text.push_str(self.eat_while(|c| c.is_ascii_digit()));
            is_real = true;
        }
        if self.at_exponent() {
            text.extend(self.bump());
            if matches!(self.peek(), Some('+' | '-')) {
                text.extend(self.bump());
            }
            text.push_str(self.eat_while(|c| c.is_ascii_digit()));
            is_real = true;
        }
        let too_large = || parse_err(pos, format!("number `{text}` at {pos} is too large"));
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            let unit = self.eat_while(|c| c.is_ascii_alphabetic());
            let per = unit_nanos(unit).ok_or_else(|| {
                parse_err(
                    pos,
                    format!("unknown timespan unit `{unit}` at {pos}; use d, h, m, s, ms, microsecond or tick"),
                )
            })?;
            let nanos = if is_real {
                let nanos = text.parse::<f64>().map_err(|_| too_large())? * per as f64;
                if !nanos.is_finite() || nanos.abs() >= i64::MAX as f64 {
                    return Err(too_large());
                }
                nanos.round() as i64
            } else {
                text.parse::<i64>()
                    .ok()
                    .and_then(|n| n.checked_mul(per))
                    .ok_or_else(too_large)?
            };
            return Ok(Tok::Span(TimeDelta::nanoseconds(nanos)));
        }
        if is_real {
            text.parse().map(Tok::Real).map_err(|_| too_large())
        } else {
            text.parse().map(Tok::Long).map_err(|_| too_large())
        }
    }

    fn at_exponent(&self) -> bool {
        let bytes = self.rest().as_bytes();
        matches!(bytes.first(), Some(b'e' | b'E'))
            && match bytes.get(1) {
                Some(b'+' | b'-') => bytes.get(2).is_some_and(u8::is_ascii_digit),
                Some(b) => b.is_ascii_digit(),
                None => false,
            }
    }
}

fn unit_nanos(unit: &str) -> Option<i64> {
    Some(match unit {
        "d" | "day" | "days" => 86_400_000_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60_000_000_000,
        "s" | "sec" | "second" | "seconds" => 1_000_000_000,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "microsecond" | "microseconds" => 1_000,
        "tick" | "ticks" => 100,
        _ => return None,
    })
}

fn tokenize(src: &str) -> Result<Vec<Token>> {
    let mut lexer = Lexer { src, i: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.tok == Tok::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax tree
// ---------------------------------------------------------------------------------------------

/// The type of a column `parse` extracts (`name:long`); `string` when none is given.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ParseType {
    Str,
    Long,
    Real,
    Bool,
    DateTime,
    Dynamic,
}

/// A tabular expression: a source and the operators piped after it.
#[derive(Debug)]
struct Query {
    source: Source,
    ops: Vec<Op>,
}

#[derive(Debug)]
enum Source {
    /// A Resource Graph table, by its lower-case name.
    Table(String),
    /// `union A, (B | ...)` at the start of a query.
    Union(Vec<Query>),
}

/// The join flavours Resource Graph supports (learn.microsoft.com, "Understanding the Azure
/// Resource Graph query language"), with KQL's default `innerunique`: the left side
/// deduplicated on the key.
#[derive(Debug, Clone, Copy, PartialEq)]
enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
    FullOuter,
}

const JOIN_KINDS: &[(&str, JoinKind)] = &[
    ("innerunique", JoinKind::InnerUnique),
    ("inner", JoinKind::Inner),
    ("leftouter", JoinKind::LeftOuter),
    ("fullouter", JoinKind::FullOuter),
];

/// Kusto's other join flavours, which Resource Graph refuses.
const UNSUPPORTED_JOIN_KINDS: &[&str] = &[
    "rightouter",
    "leftsemi",
    "rightsemi",
    "leftanti",
    "anti",
    "leftantisemi",
    "rightanti",
    "rightantisemi",
];

/// What the column check learns about a join: the output columns of each side, the right
/// side's columns renamed where they clash with the left's (`name` -> `name1`).
#[derive(Debug, Default)]
struct JoinShape {
    left: Vec<String>,
    /// (the right side's column, its name in the output)
    right: Vec<(String, String)>,
}

#[derive(Debug)]
enum Op {
    Join {
        kind: JoinKind,
        right: Box<Query>,
        /// (left column, its position, right column, its position)
        on: Vec<(String, usize, String, usize)>,
        shape: JoinShape,
    },
    Union(Vec<Query>),
    /// `parse [kind=regex] expr with * "const" column:type ...`, compiled to one regex.
    Parse {
        source: Expr,
        re: Box<Regex>,
        cols: Vec<(String, ParseType)>,
    },
    Where(Expr),
    Project(Vec<(String, Expr)>),
    ProjectAway(Vec<(String, usize)>),
    /// (new name, old name, position of the old name)
    ProjectRename(Vec<(String, String, usize)>),
    Extend(Vec<(String, Expr)>),
    Summarize {
        aggs: Vec<(String, Agg)>,
        by: Vec<(String, Expr)>,
    },
    Count,
    Take(usize),
    Top {
        n: usize,
        keys: Vec<SortKey>,
    },
    Sort(Vec<SortKey>),
    Distinct(Option<Vec<(String, Expr)>>),
    MvExpand {
        cols: Vec<(String, Expr)>,
        limit: Option<usize>,
    },
}

#[derive(Debug)]
struct SortKey {
    expr: Expr,
    desc: bool,
    nulls_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AggKind {
    Count,
    CountIf,
    DCount,
    Min,
    Max,
    Sum,
    Avg,
    MakeList,
    MakeSet,
    Any,
}

#[derive(Debug)]
struct Agg {
    kind: AggKind,
    arg: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum StrKind {
    Contains,
    StartsWith,
    EndsWith,
    Has,
    HasPrefix,
    HasSuffix,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    EqCi,
    NeCi,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Str {
        kind: StrKind,
        cs: bool,
        negated: bool,
    },
}

#[derive(Debug)]
enum Step {
    Field(String),
    Index(Expr),
}

#[derive(Debug)]
enum Expr {
    Lit(Val),
    Col {
        name: String,
        pos: usize,
    },
    Path(Box<Expr>, Vec<Step>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    In {
        lhs: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
        ci: bool,
    },
    HasAny(Box<Expr>, Vec<Expr>),
    Matches(Box<Expr>, Box<Regex>),
    Call(Func, Vec<Expr>),
    Extract {
        re: Box<Regex>,
        group: Box<Expr>,
        source: Box<Expr>,
    },
}

/// Infix operators, with their binding power.
enum Infix {
    Bin(BinOp),
    In { negated: bool, ci: bool },
    HasAny,
    Matches,
}

fn infix_of(tok: &Tok) -> Option<(Infix, u8)> {
    let bin = |op| Some((Infix::Bin(op), 3));
    match tok {
        Tok::Sym(s) => match *s {
            "==" => bin(BinOp::Eq),
            "!=" | "<>" => bin(BinOp::Ne),
            "=~" => bin(BinOp::EqCi),
            "!~" => bin(BinOp::NeCi),
            "<" => bin(BinOp::Lt),
            "<=" => bin(BinOp::Le),
            ">" => bin(BinOp::Gt),
            ">=" => bin(BinOp::Ge),
            "+" => Some((Infix::Bin(BinOp::Add), 4)),
            "-" => Some((Infix::Bin(BinOp::Sub), 4)),
            "*" => Some((Infix::Bin(BinOp::Mul), 5)),
            "/" => Some((Infix::Bin(BinOp::Div), 5)),
            "%" => Some((Infix::Bin(BinOp::Mod), 5)),
            _ => None,
        },
        Tok::Ident(word) => match word.to_ascii_lowercase().as_str() {
            "or" => Some((Infix::Bin(BinOp::Or), 1)),
            "and" => Some((Infix::Bin(BinOp::And), 2)),
            "in" => Some((
                Infix::In {
                    negated: false,
                    ci: false,
                },
                3,
            )),
            "!in" => Some((
                Infix::In {
                    negated: true,
                    ci: false,
                },
                3,
            )),
            "in~" => Some((
                Infix::In {
                    negated: false,
                    ci: true,
                },
                3,
            )),
            "!in~" => Some((
                Infix::In {
                    negated: true,
                    ci: true,
                },
                3,
            )),
            "has_any" => Some((Infix::HasAny, 3)),
            "matches" => Some((Infix::Matches, 3)),
            other => string_op(other).and_then(bin),
        },
        _ => None,
    }
}

fn string_op(word: &str) -> Option<BinOp> {
    let (negated, word) = word.strip_prefix('!').map_or((false, word), |w| (true, w));
    let (cs, word) = word
        .strip_suffix("_cs")
        .map_or((false, word), |w| (true, w));
    let kind = match word {
        "contains" => StrKind::Contains,
        "startswith" => StrKind::StartsWith,
        "endswith" => StrKind::EndsWith,
        "has" => StrKind::Has,
        "hasprefix" => StrKind::HasPrefix,
        "hassuffix" => StrKind::HasSuffix,
        _ => return None,
    };
    Some(BinOp::Str { kind, cs, negated })
}

/// The column name KQL derives for an unnamed expression: `properties.state` -> `properties_state`.
fn infer_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Col { name, .. } => Some(name.clone()),
        Expr::Path(base, steps) => {
            let mut name = infer_name(base)?;
            for step in steps {
                name.push('_');
                match step {
                    Step::Field(field) => name.push_str(field),
                    Step::Index(Expr::Lit(Val::Long(i))) => name.push_str(&i.to_string()),
                    Step::Index(_) => return None,
                }
            }
            Some(name)
        }
        Expr::Call(_, args) => match args.as_slice() {
            [arg] => infer_name(arg),
            _ => None,
        },
        _ => None,
    }
}

/// Makes repeated output names unique the way KQL does: `name`, `name1`, `name2`.
fn dedupe_names<'a>(names: impl IntoIterator<Item = &'a mut String>) {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name.clone()) {
            let fresh = (1..)
                .map(|n| format!("{name}{n}"))
                .find(|c| !seen.contains(c))
                .unwrap_or_default();
            seen.insert(fresh.clone());
            *name = fresh;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    eof: Token,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self> {
        let toks = tokenize(src)?;
        let eof = Token {
            tok: Tok::Eof,
            pos: src.len(),
            end: src.len(),
        };
        Ok(Self {
            src,
            toks,
            i: 0,
            depth: 0,
            eof,
        })
    }

    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Token {
        self.toks.get(self.i + n).unwrap_or(&self.eof)
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        token
    }

    fn is_sym(&self, sym: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(s) if *s == sym)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        let hit = self.is_sym(sym);
        if hit {
            self.bump();
        }
        hit
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let hit = self.is_word(word);
        if hit {
            self.bump();
        }
        hit
    }

    fn at_op_end(&self) -> bool {
        matches!(self.peek().tok, Tok::Eof | Tok::Sym("|"))
    }

    /// How a token reads in an error message.
    fn describe(&self, token: &Token) -> String {
        if token.tok == Tok::Eof {
            return "end of query".to_string();
        }
        let text = self.src.get(token.pos..token.end).unwrap_or("?");
        let short: String = text.chars().take(40).collect();
        format!("`{short}`")
    }

    fn expected_at<T>(&self, token: &Token, what: &str) -> Result<T> {
        let found = self.describe(token);
        Err(parse_err(
            token.pos,
            format!("expected {what} at {}, found {found}", token.pos),
        ))
    }

    fn expected<T>(&self, what: &str) -> Result<T> {
        self.expected_at(self.peek(), what)
    }

    fn expect_sym(&mut self, sym: &str) -> Result<Token> {
        if self.is_sym(sym) {
            Ok(self.bump())
        } else {
            self.expected(&format!("`{sym}`"))
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<()> {
        if self.eat_word(word) {
            Ok(())
        } else {
            self.expected(&format!("`{word}`"))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.peek().pos;
            return Err(parse_err(
                pos,
                format!(
                    "expression nested too deeply at {pos} (the limit is {MAX_DEPTH} levels of \
                     nesting and chained operators)"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // -- pipeline ---------------------------------------------------------------------------

    fn parse_query(&mut self) -> Result<Query> {
        let mut ops = Vec::new();
        let source = match self.peek().tok.clone() {
            Tok::Eof => {
                return self.expected("a table such as `Resources` or an operator such as `where`");
            }
            Tok::Sym("|") => Source::Table("resources".to_string()),
            Tok::Sym("(") => self
                .parse_source()?
                .unwrap_or_else(|| Source::Union(Vec::new())),
            Tok::Ident(word) => {
                let lower = word.to_ascii_lowercase();
                if let Some(source) = self.parse_source()? {
                    source
                } else {
                    let known = OPERATORS.contains(&lower.as_str())
                        || UNSUPPORTED_OPERATORS.contains(&lower.as_str());
                    let alone = matches!(self.peek_at(1).tok, Tok::Eof | Tok::Sym("|"));
                    if alone && !known {
                        return Err(unknown_table(&word));
                    }
                    // A query may start with an operator: it reads `Resources`.
                    ops.push(self.parse_operator("a table or an operator")?);
                    Source::Table("resources".to_string())
                }
            }
            _ => {
                return self.expected("a table such as `Resources` or an operator such as `where`");
            }
        };
        ops.extend(self.parse_pipe(false)?);
        Ok(Query { source, ops })
    }

    /// A table name or a leading `union`, if the next token starts one.
    fn parse_source(&mut self) -> Result<Option<Source>> {
        if self.is_sym("(") {
            // A whole query in parentheses, as `(T | ...) | union (...)` starts.
            return Ok(Some(Source::Union(vec![self.parse_tabular()?])));
        }
        let Tok::Ident(word) = &self.peek().tok else {
            return Ok(None);
        };
        let lower = word.to_ascii_lowercase();
        if TABLES.contains(&lower.as_str()) {
            self.bump();
            return Ok(Some(Source::Table(lower)));
        }
        if lower == "union" {
            self.bump();
            return Ok(Some(Source::Union(self.parse_union_items()?)));
        }
        Ok(None)
    }

    /// `| operator` repeatedly; a nested query (inside parentheses) ends at anything else.
    fn parse_pipe(&mut self, nested: bool) -> Result<Vec<Op>> {
        let mut ops = Vec::new();
        loop {
            if self.peek().tok == Tok::Eof || (nested && !self.is_sym("|")) {
                return Ok(ops);
            }
            if !self.eat_sym("|") {
                let hint = if self.is_sym("=") {
                    " (use `==` to compare)"
                } else {
                    ""
                };
                let token = self.peek().clone();
                return self.expected_at(&token, &format!("`|` or end of query{hint}"));
            }
            ops.push(self.parse_operator("an operator after `|`")?);
        }
    }

    /// The tabular argument of `join` or `union`: `(query)` or a table name.
    fn parse_tabular(&mut self) -> Result<Query> {
        if self.eat_sym("(") {
            self.enter()?;
            let source = match self.parse_source()? {
                Some(source) => source,
                None => match &self.peek().tok {
                    Tok::Ident(word)
                        if !OPERATORS.contains(&word.to_ascii_lowercase().as_str()) =>
                    {
                        return Err(unknown_table(word));
                    }
                    _ => return self.expected("a table such as `Resources`"),
                },
            };
            let ops = self.parse_pipe(true)?;
            self.expect_sym(")")?;
            self.leave();
            return Ok(Query { source, ops });
        }
        match self.parse_source()? {
            Some(Source::Table(name)) => Ok(Query {
                source: Source::Table(name),
                ops: Vec::new(),
            }),
            Some(source) => Ok(Query {
                source,
                ops: Vec::new(),
            }),
            None => match &self.peek().tok {
                Tok::Ident(word) => Err(unknown_table(word)),
                _ => self.expected("`(` or a table name"),
            },
        }
    }

    /// `name = value` parameters before a `join`'s or `union`'s tables: `kind=leftouter`,
    /// `hint.strategy=shuffle`, `isfuzzy=true`. Returns the `kind`, if any.
    fn parse_parameters(&mut self, operator: &str) -> Result<Option<(String, usize)>> {
        let mut kind = None;
        loop {
            let Tok::Ident(word) = &self.peek().tok else {
                return Ok(kind);
            };
            let lower = word.to_ascii_lowercase();
            let hinted = lower == "hint" && self.peek_at(1).tok == Tok::Sym(".");
            if !hinted && self.peek_at(1).tok != Tok::Sym("=") {
                return Ok(kind);
            }
            self.bump();
            let mut name = lower.clone();
            if hinted {
                self.bump();
                let (part, _) = self.parse_column_name()?;
                name = format!("hint.{}", part.to_ascii_lowercase());
            }
            self.expect_sym("=")?;
            let token = self.bump();
            let value = match &token.tok {
                Tok::Ident(v) | Tok::Str(v) => v.to_ascii_lowercase(),
                Tok::Long(n) => n.to_string(),
                _ => return self.expected_at(&token, &format!("a value for `{name}`")),
            };
            match name.as_str() {
                "kind" => kind = Some((value, token.pos)),
                // Hints change how Kusto runs a query, never its answer.
                _ if name.starts_with("hint.") => {}
                "isfuzzy" if operator == "union" => {}
                _ => {
                    return Err(unsupported(format!(
                        "the `{name}` parameter of `{operator}`"
                    )));
                }
            }
        }
    }

    fn parse_join(&mut self) -> Result<Op> {
        let kind = match self.parse_parameters("join")? {
            None => JoinKind::InnerUnique,
            Some((name, pos)) => match JOIN_KINDS.iter().find(|(n, _)| *n == name) {
                Some((_, kind)) => *kind,
                None if UNSUPPORTED_JOIN_KINDS.contains(&name.as_str()) => {
                    return Err(unsupported(format!(
                        "`join kind={name}` (Resource Graph joins with innerunique, inner, \
                         leftouter and fullouter)"
                    )));
                }
                None => {
                    let names: Vec<&str> = JOIN_KINDS.iter().map(|(n, _)| *n).collect();
                    return Err(parse_err(
                        pos,
                        format!(
                            "unknown join kind `{name}` at {pos}{}; kinds are {}",
                            did_you_mean(&name, names.iter().copied()),
                            names.join(", ")
                        ),
                    ));
                }
            },
        };
        let right = Box::new(self.parse_tabular()?);
        self.expect_word("on")?;
        let mut on = Vec::new();
        loop {
            on.push(self.parse_join_condition()?);
            if !self.eat_sym(",") && !self.eat_word("and") {
                break;
            }
        }
        Ok(Op::Join {
            kind,
            right,
            on,
            shape: JoinShape::default(),
        })
    }

    /// `column` (the same name on both sides) or `$left.a == $right.b`, either way round.
    fn parse_join_condition(&mut self) -> Result<(String, usize, String, usize)> {
        let side = |p: &mut Self| -> Result<Option<(bool, String, usize)>> {
            let left = if p.eat_word("$left") {
                true
            } else if p.eat_word("$right") {
                false
            } else {
                return Ok(None);
            };
            p.expect_sym(".")?;
            let (name, pos) = p.parse_column_name()?;
            Ok(Some((left, name, pos)))
        };
        let Some((first_left, a, a_pos)) = side(self)? else {
            let (name, pos) = self.parse_column_name()?;
            return Ok((name.clone(), pos, name, pos));
        };
        self.expect_sym("==")?;
        let token = self.peek().clone();
        match side(self)? {
            Some((second_left, b, b_pos)) if second_left != first_left => Ok(if first_left {
                (a, a_pos, b, b_pos)
            } else {
                (b, b_pos, a, a_pos)
            }),
            _ => self.expected_at(
                &token,
                if first_left {
                    "`$right.column`"
                } else {
                    "`$left.column`"
                },
            ),
        }
    }

    /// `parse`: the pattern becomes one regex anchored at the start, `*` any text, a string
    /// constant itself (a regex under `kind=regex`), a column a lazy capture (the last one
    /// greedy).
    fn parse_parse(&mut self) -> Result<Op> {
        let regex_kind = match self.parse_parameters("parse")? {
            None => false,
            Some((kind, _)) if kind == "simple" => false,
            Some((kind, _)) if kind == "regex" => true,
            Some((kind, pos)) => {
                return Err(if kind == "relaxed" {
                    unsupported("`parse kind=relaxed`")
                } else {
                    parse_err(
                        pos,
                        format!("unknown parse kind `{kind}` at {pos}; kinds are simple, regex"),
                    )
                });
            }
        };
        let source = self.parse_expr()?;
        self.expect_word("with")?;
        let pattern_pos = self.peek().pos;
        let mut pattern = String::from("(?s)^");
        let mut cols = Vec::new();
        loop {
            let token = self.peek().clone();
            match &token.tok {
                Tok::Sym("*") => pattern.push_str(".*?"),
                Tok::Str(text) if regex_kind => pattern.push_str(&format!("(?:{text})")),
                Tok::Str(text) => pattern.push_str(&regex::escape(text)),
                Tok::Ident(name) => {
                    self.bump();
                    let mut kind = ParseType::Str;
                    if self.eat_sym(":") {
                        let (type_name, pos) = self.parse_column_name()?;
                        kind = match type_name.to_ascii_lowercase().as_str() {
                            "string" => ParseType::Str,
                            "long" | "int" => ParseType::Long,
                            "real" | "double" | "decimal" => ParseType::Real,
                            "bool" | "boolean" => ParseType::Bool,
                            "datetime" | "date" => ParseType::DateTime,
                            "dynamic" => ParseType::Dynamic,
                            other => {
                                return Err(parse_err(
                                    pos,
                                    format!("unknown type `{other}` at {pos} for a `parse` column"),
                                ));
                            }
                        };
                    }
                    // Named, so groups inside `kind=regex` constants do not shift them; a
                    // `long` matches digits only, as Kusto's generated regex does.
                    let body = if kind == ParseType::Long {
                        r"-?\d+"
                    } else {
                        ".*?"
                    };
                    pattern.push_str(&format!("(?P<c{}>{body})", cols.len()));
                    cols.push((name.clone(), kind));
                    continue;
                }
                _ if cols.is_empty() && pattern.len() == 5 => {
                    return self.expected("a `parse` pattern: `*`, a string or a column name");
                }
                _ => break,
            }
            self.bump();
        }
        if cols.is_empty() {
            return self.expected("a column to extract in the `parse` pattern");
        }
        // Anchored at the start only (Kusto's `*` is what skips leading text); a column that
        // ends the pattern takes the rest of the text.
        if let Some(open) = pattern.strip_suffix(".*?)") {
            pattern = format!("{open}.*)");
        }
        let re = Box::new(compile_regex(&pattern, pattern_pos)?);
        Ok(Op::Parse { source, re, cols })
    }

    /// Tables after `union`: `A, (B | where ...)`.
    fn parse_union_items(&mut self) -> Result<Vec<Query>> {
        if let Some((kind, pos)) = self.parse_parameters("union")?
            && kind != "outer"
        {
            return Err(if kind == "inner" {
                unsupported("`union kind=inner`")
            } else {
                parse_err(
                    pos,
                    format!("unknown union kind `{kind}` at {pos}; kinds are outer, inner"),
                )
            });
        }
        let mut items = Vec::new();
        loop {
            items.push(self.parse_tabular()?);
            if !self.eat_sym(",") {
                return Ok(items);
            }
        }
    }

    /// An operator name, joining hyphenated names such as `project-away`.
    fn operator_name(&mut self) -> Option<(String, Token)> {
        let Tok::Ident(word) = &self.peek().tok else {
            return None;
        };
        let mut name = word.to_ascii_lowercase();
        let mut last = self.bump();
        let first = last.clone();
        while self.is_sym("-")
            && self.peek().pos == last.end
            && self.peek_at(1).pos == self.peek().end
        {
            let Tok::Ident(part) = &self.peek_at(1).tok else {
                break;
            };
            name.push('-');
            name.push_str(&part.to_ascii_lowercase());
            self.bump();
            last = self.bump();
        }
        Some((
            name,
            Token {
                end: last.end,
                ..first
            },
        ))
    }

    fn parse_operator(&mut self, context: &str) -> Result<Op> {
        let Some((name, token)) = self.operator_name() else {
            return self.expected(context);
        };
        Ok(match name.as_str() {
            "where" | "filter" => Op::Where(self.parse_expr()?),
            "project" => Op::Project(self.parse_named_list()?),
            "project-away" => Op::ProjectAway(self.parse_patterns()?),
            "project-rename" => Op::ProjectRename(self.parse_renames()?),
            "extend" => Op::Extend(self.parse_named_list()?),
            "summarize" => self.parse_summarize()?,
            "count" => Op::Count,
            "take" | "limit" => Op::Take(self.parse_limit()?),
            "top" => {
                let n = self.parse_limit()?;
                self.expect_word("by")?;
                Op::Top {
                    n,
                    keys: self.parse_sort_keys()?,
                }
            }
            "order" | "sort" => {
                self.expect_word("by")?;
                Op::Sort(self.parse_sort_keys()?)
            }
            "distinct" => {
                if self.eat_sym("*") {
                    Op::Distinct(None)
                } else {
                    Op::Distinct(Some(self.parse_named_list()?))
                }
            }
            "mv-expand" | "mvexpand" => self.parse_mv_expand()?,
            "join" => self.parse_join()?,
            "union" => Op::Union(self.parse_union_items()?),
            "parse" => self.parse_parse()?,
            other if UNSUPPORTED_OPERATORS.contains(&other) => {
                return Err(unsupported(format!("the `{other}` operator")));
            }
            _ => {
                let hint = did_you_mean(&name, OPERATORS.iter().copied());
                let hint = if hint.is_empty() {
                    format!("; operators are {}", OPERATORS.join(", "))
                } else {
                    hint
                };
                let found = self.describe(&token);
                return Err(parse_err(
                    token.pos,
                    format!("expected {context} at {}, found {found}{hint}", token.pos),
                ));
            }
        })
    }

    fn parse_limit(&mut self) -> Result<usize> {
        match self.peek().tok {
            Tok::Long(n) if n >= 0 => {
                self.bump();
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
            _ => self.expected("a non-negative whole number"),
        }
    }

    /// `name = expr` or `expr`, comma-separated, to the end of the operator.
    fn parse_named_list(&mut self) -> Result<Vec<(String, Expr)>> {
        let mut auto = 0;
        let mut items = Vec::new();
        loop {
            items.push(self.parse_named_expr(&mut auto)?);
            if !self.eat_sym(",") {
                break;
            }
        }
        dedupe_names(items.iter_mut().map(|(name, _)| name));
        Ok(items)
    }

    fn explicit_name(&mut self) -> Option<String> {
        let Tok::Ident(name) = &self.peek().tok else {
            return None;
        };
        if self.peek_at(1).tok != Tok::Sym("=") {
            return None;
        }
        let name = name.clone();
        self.bump();
        self.bump();
        Some(name)
    }

    fn parse_named_expr(&mut self, auto: &mut usize) -> Result<(String, Expr)> {
        if let Some(name) = self.explicit_name() {
            return Ok((name, self.parse_expr()?));
        }
        let expr = self.parse_expr()?;
        let name = infer_name(&expr).unwrap_or_else(|| {
            *auto += 1;
            format!("Column{auto}")
        });
        Ok((name, expr))
    }

    fn parse_column_name(&mut self) -> Result<(String, usize)> {
        let token = self.peek().clone();
        match token.tok {
            Tok::Ident(name) => {
                self.bump();
                Ok((name, token.pos))
            }
            _ => self.expected("a column name"),
        }
    }

    /// Column names for `project-away`, optionally with `*` wildcards.
    fn parse_patterns(&mut self) -> Result<Vec<(String, usize)>> {
        let mut patterns = Vec::new();
        loop {
            let start = self.peek().clone();
            let mut pattern = String::new();
            let mut end = start.pos;
            while self.peek().pos == end || pattern.is_empty() {
                match &self.peek().tok {
                    Tok::Ident(part) => pattern.push_str(part),
                    Tok::Sym("*") => pattern.push('*'),
                    _ => break,
                }
                end = self.bump().end;
            }
            if pattern.is_empty() {
                return self.expected("a column name");
            }
            patterns.push((pattern, start.pos));
            if !self.eat_sym(",") {
                return Ok(patterns);
            }
        }
    }

    fn parse_renames(&mut self) -> Result<Vec<(String, String, usize)>> {
        let mut renames = Vec::new();
        loop {
            let (new, _) = self.parse_column_name()?;
            self.expect_sym("=")?;
            let (old, pos) = self.parse_column_name()?;
            renames.push((new, old, pos));
            if !self.eat_sym(",") {
                return Ok(renames);
            }
        }
    }

    fn parse_sort_keys(&mut self) -> Result<Vec<SortKey>> {
        let mut keys = Vec::new();
        loop {
            let expr = self.parse_expr()?;
            let desc = if self.eat_word("asc") {
                false
            } else {
                self.eat_word("desc");
                true
            };
            let mut nulls_first = !desc;
            if self.eat_word("nulls") {
                if self.eat_word("first") {
                    nulls_first = true;
                } else {
                    self.expect_word("last")?;
                    nulls_first = false;
                }
            }
            keys.push(SortKey {
                expr,
                desc,
                nulls_first,
            });
            if !self.eat_sym(",") {
                return Ok(keys);
            }
        }
    }

    fn parse_summarize(&mut self) -> Result<Op> {
        let mut aggs = Vec::new();
        if !self.is_word("by") && !self.at_op_end() {
            loop {
                aggs.push(self.parse_aggregation()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let mut by = Vec::new();
        if self.eat_word("by") {
            by = self.parse_named_list()?;
        } else if aggs.is_empty() {
            return self.expected("an aggregation such as `count()` or `by`");
        }
        let by_names = by.iter_mut().map(|(name, _)| name);
        dedupe_names(by_names.chain(aggs.iter_mut().map(|(name, _)| name)));
        Ok(Op::Summarize { aggs, by })
    }

    fn parse_aggregation(&mut self) -> Result<(String, Agg)> {
        const WHAT: &str = "an aggregation (count, countif, dcount, min, max, sum, avg, make_list, make_set, any, take_any)";
        let explicit = self.explicit_name();
        let token = self.peek().clone();
        let Tok::Ident(name) = &token.tok else {
            return self.expected(WHAT);
        };
        let lower = name.to_ascii_lowercase();
        if self.peek_at(1).tok != Tok::Sym("(") {
            return self.expected(WHAT);
        }
        let kind = match lower.as_str() {
            "count" => AggKind::Count,
            "countif" => AggKind::CountIf,
            "dcount" => AggKind::DCount,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "sum" => AggKind::Sum,
            "avg" => AggKind::Avg,
            "make_list" | "makelist" => AggKind::MakeList,
            "make_set" | "makeset" => AggKind::MakeSet,
            "any" | "take_any" => AggKind::Any,
            other if UNSUPPORTED_AGGREGATIONS.contains(&other) => {
                return Err(unsupported(format!("the `{other}()` aggregation")));
            }
            _ => {
                let hint = did_you_mean(&lower, AGGREGATIONS.iter().copied());
                let found = self.describe(&token);
                return Err(parse_err(
                    token.pos,
                    format!("expected {WHAT} at {}, found {found}{hint}", token.pos),
                ));
            }
        };
        self.bump();
        self.bump();
        let mut args = self.parse_args()?;
        let (min, max) = match kind {
            AggKind::Count => (0, 0),
            AggKind::DCount => (1, 2),
            _ => (1, 1),
        };
        check_arity(&lower, token.pos, args.len(), min, max)?;
        args.truncate(1);
        let arg = args.pop();
        let derived = || {
            let from_arg = arg.as_ref().and_then(infer_name).unwrap_or_default();
            match (kind, lower.as_str()) {
                (AggKind::Count, _) => "count_".to_string(),
                (AggKind::CountIf, _) => "countif_".to_string(),
                (AggKind::Any, "take_any") if !from_arg.is_empty() => from_arg,
                (AggKind::Any, _) => format!("any_{from_arg}"),
                (AggKind::MakeList, _) => format!("list_{from_arg}"),
                (AggKind::MakeSet, _) => format!("set_{from_arg}"),
                _ => format!("{lower}_{from_arg}"),
            }
        };
        let name = explicit.unwrap_or_else(derived);
        Ok((name, Agg { kind, arg }))
    }

    fn parse_mv_expand(&mut self) -> Result<Op> {
        let mut auto = 0;
        let mut cols = Vec::new();
        loop {
            cols.push(self.parse_named_expr(&mut auto)?);
            if self.eat_word("to") {
                self.expect_word("typeof")?;
                self.expect_sym("(")?;
                self.parse_column_name()?;
                self.expect_sym(")")?;
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        let limit = if self.eat_word("limit") {
            Some(self.parse_limit()?)
        } else {
            None
        };
        Ok(Op::MvExpand { cols, limit })
    }

    // -- expressions ------------------------------------------------------------------------

    fn parse_expr(&mut self) -> Result<Expr> {
        self.parse_binary(0)
    }

    fn parse_binary(&mut self, min_power: u8) -> Result<Expr> {
        self.enter()?;
        // Chained operators build a left-deep tree, so each link counts as a level too.
        let mut levels = 1;
        let mut lhs = self.parse_unary()?;
        loop {
            if let Tok::Ident(word) = &self.peek().tok {
                let lower = word.to_ascii_lowercase();
                if matches!(
                    lower.as_str(),
                    "between" | "!between" | "has_all" | "like" | "notcontains"
                ) {
                    return Err(unsupported(format!("the `{lower}` operator")));
                }
            }
            let Some((infix, power)) = infix_of(&self.peek().tok) else {
                break;
            };
            if power < min_power {
                break;
            }
            self.enter()?;
            levels += 1;
            self.bump();
            lhs = match infix {
                Infix::Bin(op) => {
                    Expr::Bin(op, Box::new(lhs), Box::new(self.parse_binary(power + 1)?))
                }
                Infix::In { negated, ci } => {
                    self.expect_sym("(")?;
                    Expr::In {
                        lhs: Box::new(lhs),
                        list: self.parse_args()?,
                        negated,
                        ci,
                    }
                }
                Infix::HasAny => {
                    self.expect_sym("(")?;
                    Expr::HasAny(Box::new(lhs), self.parse_args()?)
                }
                Infix::Matches => {
                    self.expect_word("regex")?;
                    let token = self.peek().clone();
                    let Tok::Str(pattern) = &token.tok else {
                        return self.expected("a regular expression string");
                    };
                    self.bump();
                    Expr::Matches(Box::new(lhs), Box::new(compile_regex(pattern, token.pos)?))
                }
            };
        }
        self.depth = self.depth.saturating_sub(levels);
        Ok(lhs)
    }

    fn parse_unary(&mut self) -> Result<Expr> {
        if self.eat_sym("-") {
            self.enter()?;
            let operand = self.parse_unary()?;
            self.leave();
            return Ok(match operand {
                Expr::Lit(Val::Long(n)) if n != i64::MIN => Expr::Lit(Val::Long(-n)),
                Expr::Lit(Val::Real(f)) => Expr::Lit(Val::Real(-f)),
                other => Expr::Neg(Box::new(other)),
            });
        }
        if self.eat_sym("+") {
            self.enter()?;
            let operand = self.parse_unary();
            self.leave();
            return operand;
        }
        self.parse_postfix()
    }

    fn parse_postfix(&mut self) -> Result<Expr> {
        let base = self.parse_primary()?;
        let mut steps = Vec::new();
        loop {
            // `a.[0]` reads as `a[0]`, as Resource Graph accepts it.
            if self.is_sym(".") && self.peek_at(1).tok == Tok::Sym("[") {
                self.bump();
            }
            if self.eat_sym(".") {
                let token = self.peek().clone();
                let Tok::Ident(field) = token.tok else {
                    return self.expected("a property name after `.`");
                };
                self.bump();
                steps.push(Step::Field(field));
            } else if self.eat_sym("[") {
                let index = self.parse_expr()?;
                self.expect_sym("]")?;
                steps.push(match index {
                    Expr::Lit(Val::Str(field)) => Step::Field(field),
                    other => Step::Index(other),
                });
            } else {
                break;
            }
        }
        Ok(if steps.is_empty() {
            base
        } else {
            Expr::Path(Box::new(base), steps)
        })
    }

    fn parse_primary(&mut self) -> Result<Expr> {
        let token = self.peek().clone();
        let literal = match &token.tok {
            Tok::Long(n) => Val::Long(*n),
            Tok::Real(f) => Val::Real(*f),
            Tok::Str(s) => Val::Str(s.clone()),
            Tok::Span(span) => Val::Span(*span),
            Tok::DateTime(raw) => parse_datetime_literal(raw, token.pos)?,
            Tok::Sym("(") => {
                self.bump();
                let inner = self.parse_expr()?;
                self.expect_sym(")")?;
                return Ok(inner);
            }
            Tok::Sym("[") => return self.parse_quoted_column(),
            Tok::Ident(word) => {
                let lower = word.to_ascii_lowercase();
                if self.peek_at(1).tok == Tok::Sym("(") {
                    return if lower == "dynamic" {
                        self.parse_dynamic()
                    } else {
                        self.parse_call(word, &token)
                    };
                }
                match lower.as_str() {
                    "true" => Val::Bool(true),
                    "false" => Val::Bool(false),
                    "null" => Val::Null,
                    _ if word.starts_with('!') || lower.ends_with('~') => {
                        return self.expected("an expression");
                    }
                    _ => {
                        self.bump();
                        return Ok(Expr::Col {
                            name: word.clone(),
                            pos: token.pos,
                        });
                    }
                }
            }
            _ => return self.expected("an expression"),
        };
        self.bump();
        Ok(Expr::Lit(literal))
    }

    /// `['column name']`
    fn parse_quoted_column(&mut self) -> Result<Expr> {
        self.bump();
        let token = self.peek().clone();
        let Tok::Str(name) = token.tok else {
            return self.expected("a quoted column name");
        };
        self.bump();
        self.expect_sym("]")?;
        Ok(Expr::Col {
            name,
            pos: token.pos,
        })
    }

    fn parse_dynamic(&mut self) -> Result<Expr> {
        self.bump();
        self.bump();
        let value = self.parse_json_value()?;
        self.expect_sym(")")?;
        Ok(Expr::Lit(Val::from_json(&value)))
    }

    fn parse_json_value(&mut self) -> Result<Value> {
        self.enter()?;
        let token = self.bump();
        let value = match token.tok {
            Tok::Sym("[") => {
                let mut items = Vec::new();
                if !self.eat_sym("]") {
                    loop {
                        items.push(self.parse_json_value()?);
                        if !self.eat_sym(",") {
                            self.expect_sym("]")?;
                            break;
                        }
                    }
                }
                Value::Array(items)
            }
            Tok::Sym("{") => Value::Object(self.parse_json_object()?),
            Tok::Str(s) => Value::String(s),
            Tok::Long(n) => Value::from(n),
            Tok::Real(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Tok::Sym("-") => match self.bump().tok {
                Tok::Long(n) => Value::from(n.saturating_neg()),
                Tok::Real(f) => Number::from_f64(-f).map_or(Value::Null, Value::Number),
                _ => return self.expected_at(&token, "a JSON value inside `dynamic()`"),
            },
            Tok::Ident(word) if word == "true" || word == "false" => Value::Bool(word == "true"),
            Tok::Ident(word) if word == "null" => Value::Null,
            _ => return self.expected_at(&token, "a JSON value inside `dynamic()`"),
        };
        self.leave();
        Ok(value)
    }

    fn parse_json_object(&mut self) -> Result<Map<String, Value>> {
        let mut map = Map::new();
        if self.eat_sym("}") {
            return Ok(map);
        }
        loop {
            let token = self.bump();
            let key = match token.tok {
                Tok::Str(key) | Tok::Ident(key) => key,
                _ => return self.expected_at(&token, "a property name inside `dynamic({...})`"),
            };
            self.expect_sym(":")?;
            map.insert(key, self.parse_json_value()?);
            if !self.eat_sym(",") {
                self.expect_sym("}")?;
                return Ok(map);
            }
        }
    }

    /// Comma-separated expressions up to `)`; the `(` is already consumed.
    fn parse_args(&mut self) -> Result<Vec<Expr>> {
        let mut args = Vec::new();
        if self.eat_sym(")") {
            return Ok(args);
        }
        loop {
            args.push(self.parse_expr()?);
            if self.eat_sym(")") {
                return Ok(args);
            }
            if !self.eat_sym(",") {
                return self.expected("`,` or `)`");
            }
        }
    }

    fn parse_call(&mut self, name: &str, token: &Token) -> Result<Expr> {
        let lower = name.to_ascii_lowercase();
        let pos = token.pos;
        if AGGREGATIONS.contains(&lower.as_str()) {
            return Err(parse_err(
                pos,
                format!("`{name}()` at {pos} is an aggregation; use it in `summarize`"),
            ));
        }
        if UNSUPPORTED_FUNCTIONS.contains(&lower.as_str())
            || UNSUPPORTED_AGGREGATIONS.contains(&lower.as_str())
        {
            return Err(unsupported(format!("the `{lower}()` function")));
        }
        let Some(&(_, func, min, max)) = FUNCTIONS.iter().find(|(n, ..)| *n == lower) else {
            let hint = did_you_mean(&lower, FUNCTIONS.iter().map(|(n, ..)| *n));
            return Err(parse_err(
                pos,
                format!("unknown function `{name}` at {pos}{hint}"),
            ));
        };
        self.bump();
        self.bump();
        let pattern_pos = self.peek().pos;
        let args = self.parse_args()?;
        check_arity(&lower, pos, args.len(), min, max)?;
        if func == Func::Case && args.len() % 2 == 0 {
            return Err(parse_err(
                pos,
                format!("`case()` at {pos} takes condition/value pairs and a final else value"),
            ));
        }
        if func == Func::Extract {
            let mut args = args.into_iter();
            let (Some(Expr::Lit(Val::Str(pattern))), Some(group), Some(source)) =
                (args.next(), args.next(), args.next())
            else {
                return Err(parse_err(
                    pattern_pos,
                    format!("`extract()` at {pos} needs a string literal regex"),
                ));
            };
            let re = Box::new(compile_regex(&pattern, pattern_pos)?);
            return Ok(Expr::Extract {
                re,
                group: Box::new(group),
                source: Box::new(source),
            });
        }
        Ok(Expr::Call(func, args))
    }
}

fn check_arity(name: &str, pos: usize, found: usize, min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&found) {
        return Ok(());
    }
    let wanted = match (min, max) {
        (0, 0) => "no arguments".to_string(),
        (1, 1) => "1 argument".to_string(),
        (a, b) if a == b => format!("{a} arguments"),
        (a, b) => format!("{a} to {b} arguments"),
    };
    Err(parse_err(
        pos,
        format!("`{name}()` at {pos} takes {wanted}, found {found}"),
    ))
}

fn compile_regex(pattern: &str, pos: usize) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| parse_err(pos, format!("invalid regular expression at {pos}: {e}")))
}

fn parse_datetime_literal(raw: &str, pos: usize) -> Result<Val> {
    if raw.eq_ignore_ascii_case("null") {
        return Ok(Val::Null);
    }
    parse_datetime(raw).map(Val::DateTime).ok_or_else(|| {
        parse_err(
            pos,
            format!(
                "invalid datetime `{raw}` at {pos}; expected e.g. datetime(2026-01-01T00:00:00Z)"
            ),
        )
    })
}

/// Reads RFC 3339 and the other ISO 8601 shapes KQL accepts; naive times are UTC.
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.len() < 10 || !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    const FORMATS: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    let trimmed = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(trimmed, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
        })
        .map(|naive| naive.and_utc())
}

// ---------------------------------------------------------------------------------------------
// Column check
// ---------------------------------------------------------------------------------------------

fn initial_schema(rows: &[Row]) -> Vec<String> {
    let mut schema: Vec<String> = ARG_COLUMNS.iter().map(|c| c.to_string()).collect();
    for key in rows.iter().flat_map(Map::keys) {
        if !schema.contains(key) {
            schema.push(key.clone());
        }
    }
    schema
}

/// Rejects references to columns that cannot exist at that point of the pipeline, and works out
/// the columns of each join's output. Returns the query's output columns.
fn check_query(query: &mut Query, schemas: &HashMap<&str, Vec<String>>) -> Result<Vec<String>> {
    let schema = match &mut query.source {
        Source::Table(name) => schemas.get(name.as_str()).cloned().unwrap_or_default(),
        Source::Union(items) => union_schema(Vec::new(), items, schemas)?,
    };
    check_columns(&mut query.ops, schema, schemas)
}

/// `union`'s columns: every column of every side, in order of appearance.
fn union_schema(
    mut schema: Vec<String>,
    items: &mut [Query],
    schemas: &HashMap<&str, Vec<String>>,
) -> Result<Vec<String>> {
    for item in items {
        for column in check_query(item, schemas)? {
            if !schema.contains(&column) {
                schema.push(column);
            }
        }
    }
    Ok(schema)
}

fn check_columns(
    ops: &mut [Op],
    mut schema: Vec<String>,
    schemas: &HashMap<&str, Vec<String>>,
) -> Result<Vec<String>> {
    for op in ops {
        match op {
            Op::Join {
                right, on, shape, ..
            } => {
                let right_schema = check_query(right, schemas)?;
                for (left, left_pos, right, right_pos) in on.iter() {
                    check_column(left, *left_pos, &schema)?;
                    check_column(right, *right_pos, &right_schema)?;
                }
                *shape = join_shape(&schema, &right_schema);
                schema = shape
                    .left
                    .iter()
                    .chain(shape.right.iter().map(|(_, out)| out))
                    .cloned()
                    .collect();
            }
            Op::Union(items) => schema = union_schema(schema, items, schemas)?,
            Op::Parse { source, cols, .. } => {
                check_expr(source, &schema)?;
                for (name, _) in cols.iter() {
                    if !schema.contains(name) {
                        schema.push(name.clone());
                    }
                }
            }
            Op::Where(expr) => check_expr(expr, &schema)?,
            Op::Project(cols) => {
                check_all(cols, &schema)?;
                schema = cols.iter().map(|(n, _)| n.clone()).collect();
            }
            Op::Extend(cols) | Op::MvExpand { cols, .. } => {
                for (name, expr) in cols {
                    check_expr(expr, &schema)?;
                    if !schema.contains(name) {
                        schema.push(name.clone());
                    }
                }
            }
            Op::ProjectAway(patterns) => {
                for (pattern, pos) in patterns.iter() {
                    if !pattern.contains('*') {
                        check_column(pattern, *pos, &schema)?;
                    }
                }
                schema.retain(|c| !patterns.iter().any(|(p, _)| glob(p, c)));
            }
            Op::ProjectRename(renames) => {
                for (new, old, pos) in renames.iter() {
                    check_column(old, *pos, &schema)?;
                    schema.retain(|c| c != old);
                    schema.push(new.clone());
                }
            }
            Op::Summarize { aggs, by } => {
                check_all(by, &schema)?;
                for arg in aggs.iter().filter_map(|(_, agg)| agg.arg.as_ref()) {
                    check_expr(arg, &schema)?;
                }
                schema = by
                    .iter()
                    .map(|(n, _)| n.clone())
                    .chain(aggs.iter().map(|(n, _)| n.clone()))
                    .collect();
            }
            Op::Count => schema = vec!["Count".to_string()],
            Op::Take(_) | Op::Distinct(None) => {}
            Op::Sort(keys) | Op::Top { keys, .. } => {
                for key in keys {
                    check_expr(&key.expr, &schema)?;
                }
            }
            Op::Distinct(Some(cols)) => {
                check_all(cols, &schema)?;
                schema = cols.iter().map(|(n, _)| n.clone()).collect();
            }
        }
    }
    Ok(schema)
}

/// A join's output columns: the left's, then the right's, a right column whose name is taken
/// getting the first free numbered name (`id` -> `id1`), as Kusto names them.
fn join_shape(left: &[String], right: &[String]) -> JoinShape {
    let mut taken: HashSet<String> = left.iter().cloned().collect();
    let mut columns = Vec::new();
    for column in right {
        let name = if taken.contains(column) {
            (1..)
                .map(|n| format!("{column}{n}"))
                .find(|c| !taken.contains(c) && !right.contains(c))
                .unwrap_or_default()
        } else {
            column.clone()
        };
        taken.insert(name.clone());
        columns.push((column.clone(), name));
    }
    JoinShape {
        left: left.to_vec(),
        right: columns,
    }
}

fn check_all(items: &[(String, Expr)], schema: &[String]) -> Result<()> {
    items
        .iter()
        .try_for_each(|(_, expr)| check_expr(expr, schema))
}

fn check_column(name: &str, pos: usize, schema: &[String]) -> Result<()> {
    if schema.iter().any(|c| c == name) {
        return Ok(());
    }
    let mut hint = did_you_mean(name, schema.iter().map(String::as_str));
    if schema.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        hint.push_str(" (column names are case-sensitive)");
    } else if hint.is_empty() {
        let shown: Vec<&str> = schema.iter().map(String::as_str).take(24).collect();
        hint = format!("; columns here are {}", shown.join(", "));
    }
    Err(parse_err(
        pos,
        format!("unknown column `{name}` at {pos}{hint}"),
    ))
}

fn check_expr(expr: &Expr, schema: &[String]) -> Result<()> {
    let all = |exprs: &[Expr]| exprs.iter().try_for_each(|e| check_expr(e, schema));
    match expr {
        Expr::Lit(_) => Ok(()),
        Expr::Col { name, pos } => check_column(name, *pos, schema),
        Expr::Path(base, steps) => {
            check_expr(base, schema)?;
            steps.iter().try_for_each(|step| match step {
                Step::Index(index) => check_expr(index, schema),
                Step::Field(_) => Ok(()),
            })
        }
        Expr::Neg(inner) | Expr::Matches(inner, _) => check_expr(inner, schema),
        Expr::Bin(_, lhs, rhs) => check_expr(lhs, schema).and_then(|()| check_expr(rhs, schema)),
        Expr::In { lhs, list, .. } | Expr::HasAny(lhs, list) => {
            check_expr(lhs, schema).and_then(|()| all(list))
        }
        Expr::Call(_, args) => all(args),
        Expr::Extract { group, source, .. } => {
            check_expr(group, schema).and_then(|()| check_expr(source, schema))
        }
    }
}

/// Matches a column name against a pattern where `*` stands for any run of characters.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = parts.collect();
    let Some(last) = parts.pop() else {
        return pattern == name;
    };
    for part in parts {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.ends_with(last)
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// A runtime value: JSON's scalars plus KQL's datetime and timespan; arrays and objects stay JSON.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(String),
    DateTime(DateTime<Utc>),
    Span(TimeDelta),
    Dyn(Value),
}

impl Val {
    fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map(Val::Long)
                .or_else(|| n.as_f64().map(Val::Real))
                .unwrap_or(Val::Null),
            Value::String(s) => Val::Str(s.clone()),
            other => Val::Dyn(other.clone()),
        }
    }

    fn into_json(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::Long(n) => Value::from(n),
            Val::Real(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s),
            Val::DateTime(_) | Val::Span(_) => Value::String(self.text().into_owned()),
            Val::Dyn(v) => v,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Val::Null | Val::Dyn(Value::Null))
    }

    /// `tostring()` semantics: null reads as the empty string.
    fn text(&self) -> Cow<'_, str> {
        match self {
            Val::Null => Cow::Borrowed(""),
            Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Val::Long(n) => Cow::Owned(n.to_string()),
            Val::Real(f) => Cow::Owned(f.to_string()),
            Val::Str(s) => Cow::Borrowed(s),
            Val::DateTime(dt) => Cow::Owned(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Val::Span(span) => Cow::Owned(format_span(*span)),
            Val::Dyn(v) => Cow::Owned(v.to_string()),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Long(n) => Some(*n as f64),
            Val::Real(f) => Some(*f),
            _ => None,
        }
    }

    fn truth(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        self.is_null() || matches!(self, Val::Str(s) if s.is_empty())
    }

    /// Rank of the value's type, so sorting mixed columns is a total order.
    fn rank(&self) -> u8 {
        match self {
            Val::Null => 0,
            Val::Bool(_) => 1,
            Val::Long(_) | Val::Real(_) => 2,
            Val::DateTime(_) => 3,
            Val::Span(_) => 4,
            Val::Str(_) => 5,
            Val::Dyn(_) => 6,
        }
    }
}

/// KQL's timespan text: `[-][d.]hh:mm:ss[.fffffff]`.
fn format_span(span: TimeDelta) -> String {
    let nanos = i128::from(span.num_seconds()) * 1_000_000_000 + i128::from(span.subsec_nanos());
    let sign = if nanos < 0 { "-" } else { "" };
    let nanos = nanos.unsigned_abs();
    let ticks = (nanos % 1_000_000_000) / 100;
    let secs = nanos / 1_000_000_000;
    let (days, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if ticks > 0 {
        out.push_str(&format!(".{ticks:07}"));
    }
    out
}

/// Reads KQL's timespan text back (`[-][d.]hh:mm:ss[.fffffff]`), as stored by `extend`.
fn parse_span(text: &str) -> Option<TimeDelta> {
    let text = text.trim();
    let (negative, text) = text.strip_prefix('-').map_or((false, text), |t| (true, t));
    let (days, clock) = match text.split_once('.') {
        Some((days, clock)) if !days.contains(':') && clock.contains(':') => {
            (days.parse::<i64>().ok()?, clock)
        }
        _ => (0, text),
    };
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let fields: Vec<i64> = clock
        .split(':')
        .map(|f| f.parse::<i64>().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = fields.as_slice() else {
        return None;
    };
    if fraction.len() > 9 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac_nanos = format!("{fraction:0<9}").parse::<i64>().ok()?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(h.checked_mul(3_600)?)?
        .checked_add(m.checked_mul(60)?)?;
    let nanos = secs
        .checked_add(*s)?
        .checked_mul(1_000_000_000)?
        .checked_add(frac_nanos)?;
    Some(TimeDelta::nanoseconds(if negative {
        nanos.checked_neg()?
    } else {
        nanos
    }))
}

/// Comparison for `<`, `==` and friends; `None` when either side is null or they don't compare.
fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    use Val::*;
    match (a, b) {
        (Long(x), Long(y)) => Some(x.cmp(y)),
        (Long(_) | Real(_), Long(_) | Real(_)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Bool(x), Str(s)) => Some(x.cmp(&parse_bool(s)?)),
        (Str(s), Bool(y)) => Some(parse_bool(s)?.cmp(y)),
        (DateTime(x), DateTime(y)) => Some(x.cmp(y)),
        (DateTime(x), Str(s)) => Some(x.cmp(&parse_datetime(s)?)),
        (Str(s), DateTime(y)) => Some(parse_datetime(s)?.cmp(y)),
        (Span(x), Span(y)) => Some(x.cmp(y)),
        (Span(x), Str(s)) => Some(x.cmp(&parse_span(s)?)),
        (Str(s), Span(y)) => Some(parse_span(s)?.cmp(y)),
        (Str(s), Long(_) | Real(_)) => s.trim().parse::<f64>().ok()?.partial_cmp(&b.as_f64()?),
        (Long(_) | Real(_), Str(s)) => a.as_f64()?.partial_cmp(&s.trim().parse::<f64>().ok()?),
        _ => None,
    }
}

fn equals(a: &Val, b: &Val) -> Option<bool> {
    match (a, b) {
        _ if a.is_null() || b.is_null() => None,
        (Val::Dyn(x), Val::Dyn(y)) => Some(x == y),
        _ => Some(compare(a, b) == Some(Ordering::Equal)),
    }
}

fn equals_ci(a: &Val, b: &Val) -> Option<bool> {
    if a.is_null() || b.is_null() {
        return None;
    }
    Some(a.text().to_lowercase() == b.text().to_lowercase())
}

/// A total order for sorting: by type rank, then by value.
fn total_cmp(a: &Val, b: &Val) -> Ordering {
    use Val::*;
    match (a, b) {
        (Long(x), Long(y)) => x.cmp(y),
        (Long(_) | Real(_), Long(_) | Real(_)) => {
            let key = |v: &Val| match v {
                Long(n) => (*n as f64, 0, *n),
                Real(f) => (*f, 1, 0),
                _ => (0.0, 2, 0),
            };
            let ((fa, ka, ia), (fb, kb, ib)) = (key(a), key(b));
            fa.total_cmp(&fb).then(ka.cmp(&kb)).then(ia.cmp(&ib))
        }
        (Bool(x), Bool(y)) => x.cmp(y),
        (DateTime(x), DateTime(y)) => x.cmp(y),
        (Span(x), Span(y)) => x.cmp(y),
        (Str(x), Str(y)) => x.cmp(y),
        (Dyn(x), Dyn(y)) => x.to_string().cmp(&y.to_string()),
        _ => a.rank().cmp(&b.rank()),
    }
}

/// `has`: the needle occurs as a whole term, delimited by non-alphanumeric characters.
fn has_term(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let needle_starts = is_word(needle.chars().next());
    let needle_ends = is_word(needle.chars().next_back());
    haystack.match_indices(needle).any(|(i, m)| {
        let before = haystack.get(..i).and_then(|s| s.chars().next_back());
        let after = haystack.get(i + m.len()..).and_then(|s| s.chars().next());
        let glued_before = needle_starts && is_word(before);
        let glued_after = needle_ends && is_word(after);
        !(glued_before || glued_after)
    })
}

fn string_match(kind: StrKind, cs: bool, haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = if cs {
        (Cow::Borrowed(haystack), Cow::Borrowed(needle))
    } else {
        (
            Cow::Owned(haystack.to_lowercase()),
            Cow::Owned(needle.to_lowercase()),
        )
    };
    match kind {
        StrKind::Contains => haystack.contains(needle.as_ref()),
        StrKind::StartsWith => haystack.starts_with(needle.as_ref()),
        StrKind::EndsWith => haystack.ends_with(needle.as_ref()),
        StrKind::Has => has_term(&haystack, &needle),
        StrKind::HasPrefix => haystack
            .split(|c: char| !c.is_alphanumeric())
            .any(|term| term.starts_with(needle.as_ref())),
        StrKind::HasSuffix => haystack
            .split(|c: char| !c.is_alphanumeric())
            .any(|term| !term.is_empty() && term.ends_with(needle.as_ref())),
    }
}

// ---------------------------------------------------------------------------------------------
// Expression evaluation
// ---------------------------------------------------------------------------------------------

struct Env {
    now: DateTime<Utc>,
    /// Each table's rows and how many more times the query reads it: the last read takes them.
    tables: RefCell<HashMap<String, (usize, Vec<Row>)>>,
}

impl Env {
    fn table(&self, name: &str) -> Vec<Row> {
        let mut tables = self.tables.borrow_mut();
        match tables.get_mut(name) {
            Some((uses, rows)) if *uses <= 1 => {
                *uses = 0;
                std::mem::take(rows)
            }
            Some((uses, rows)) => {
                *uses -= 1;
                rows.clone()
            }
            None => Vec::new(),
        }
    }
}

fn opt_bool(b: Option<bool>) -> Val {
    b.map_or(Val::Null, Val::Bool)
}

fn eval(expr: &Expr, row: &Row, env: &Env) -> Result<Val> {
    Ok(match expr {
        Expr::Lit(value) => value.clone(),
        Expr::Col { name, .. } => row.get(name).map_or(Val::Null, Val::from_json),
        Expr::Path(base, steps) => eval_path(base, steps, row, env)?,
        Expr::Neg(inner) => negate(eval(inner, row, env)?),
        Expr::Bin(op, lhs, rhs) => eval_binary(*op, lhs, rhs, row, env)?,
        Expr::In {
            lhs,
            list,
            negated,
            ci,
        } => eval_in(lhs, list, *negated, *ci, row, env)?,
        Expr::HasAny(lhs, list) => {
            let text = eval(lhs, row, env)?.text().to_lowercase();
            let mut found = false;
            for item in list {
                for candidate in flatten(eval(item, row, env)?) {
                    found |= has_term(&text, &candidate.text().to_lowercase());
                }
            }
            Val::Bool(found)
        }
        Expr::Matches(lhs, re) => match eval(lhs, row, env)? {
            v if v.is_null() => Val::Null,
            v => Val::Bool(re.is_match(&v.text())),
        },
        Expr::Call(func, args) => call(*func, args, row, env)?,
        Expr::Extract { re, group, source } => {
            let group = eval(group, row, env)?;
            let source = eval(source, row, env)?;
            let captured = match group {
                Val::Long(g) => usize::try_from(g).ok().and_then(|g| {
                    let text = source.text();
                    re.captures(&text)
                        .and_then(|c| c.get(g))
                        .map(|m| m.as_str().to_string())
                }),
                _ => None,
            };
            Val::Str(captured.unwrap_or_default())
        }
    })
}

fn eval_path(base: &Expr, steps: &[Step], row: &Row, env: &Env) -> Result<Val> {
    if let Expr::Col { name, .. } = base {
        let Some(root) = row.get(name) else {
            return Ok(Val::Null);
        };
        return Ok(walk(root, steps, row, env)?.map_or(Val::Null, Val::from_json));
    }
    let value = match eval(base, row, env)? {
        Val::Dyn(value) => value,
        Val::Str(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
        _ => return Ok(Val::Null),
    };
    Ok(walk(&value, steps, row, env)?.map_or(Val::Null, Val::from_json))
}

fn walk<'v>(
    mut current: &'v Value,
    steps: &[Step],
    row: &Row,
    env: &Env,
) -> Result<Option<&'v Value>> {
    for step in steps {
        let next = match step {
            Step::Field(field) => current.get(field.as_str()),
            Step::Index(index) => match eval(index, row, env)? {
                Val::Long(i) => current.as_array().and_then(|items| array_get(items, i)),
                Val::Str(key) => current.get(key.as_str()),
                _ => None,
            },
        };
        match next {
            Some(value) => current = value,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// Array element `i`, counting from the end when negative.
fn array_get(items: &[Value], i: i64) -> Option<&Value> {
    let index = if i < 0 {
        items
            .len()
            .checked_sub(usize::try_from(i.unsigned_abs()).ok()?)?
    } else {
        usize::try_from(i).ok()?
    };
    items.get(index)
}

fn negate(value: Val) -> Val {
    match value {
        Val::Long(n) => n.checked_neg().map_or(Val::Null, Val::Long),
        Val::Real(f) => Val::Real(-f),
        Val::Span(span) => TimeDelta::zero()
            .checked_sub(&span)
            .map_or(Val::Null, Val::Span),
        _ => Val::Null,
    }
}

fn eval_binary(op: BinOp, lhs: &Expr, rhs: &Expr, row: &Row, env: &Env) -> Result<Val> {
    match op {
        BinOp::And => {
            let a = eval(lhs, row, env)?.truth();
            if a == Some(false) {
                return Ok(Val::Bool(false));
            }
            Ok(match (a, eval(rhs, row, env)?.truth()) {
                (_, Some(false)) => Val::Bool(false),
                (Some(true), Some(true)) => Val::Bool(true),
                _ => Val::Null,
            })
        }
        BinOp::Or => {
            let a = eval(lhs, row, env)?.truth();
            if a == Some(true) {
                return Ok(Val::Bool(true));
            }
            Ok(match (a, eval(rhs, row, env)?.truth()) {
                (_, Some(true)) => Val::Bool(true),
                (Some(false), Some(false)) => Val::Bool(false),
                _ => Val::Null,
            })
        }
        _ => binary_values(op, eval(lhs, row, env)?, eval(rhs, row, env)?),
    }
}

fn binary_values(op: BinOp, a: Val, b: Val) -> Result<Val> {
    let ordered = |test: fn(Ordering) -> bool| opt_bool(compare(&a, &b).map(test));
    Ok(match op {
        BinOp::Eq => opt_bool(equals(&a, &b)),
        BinOp::Ne => opt_bool(equals(&a, &b).map(|e| !e)),
        BinOp::EqCi => opt_bool(equals_ci(&a, &b)),
        BinOp::NeCi => opt_bool(equals_ci(&a, &b).map(|e| !e)),
        BinOp::Lt => ordered(Ordering::is_lt),
        BinOp::Le => ordered(Ordering::is_le),
        BinOp::Gt => ordered(Ordering::is_gt),
        BinOp::Ge => ordered(Ordering::is_ge),
        BinOp::Str { kind, cs, negated } => {
            Val::Bool(string_match(kind, cs, &a.text(), &b.text()) != negated)
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => arith(op, a, b)?,
        BinOp::And | BinOp::Or => Val::Null,
    })
}

fn arith(op: BinOp, a: Val, b: Val) -> Result<Val> {
    use Val::*;
    Ok(match (op, a, b) {
        (_, a, b) if a.is_null() || b.is_null() => Null,
        (op, Long(x), Long(y)) => {
            let result = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Div => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            result.map_or(Null, Long)
        }
        (op, a @ (Long(_) | Real(_)), b @ (Long(_) | Real(_))) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            Real(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                _ => x % y,
            })
        }
        (BinOp::Add, DateTime(d), Span(s)) | (BinOp::Add, Span(s), DateTime(d)) => {
            d.checked_add_signed(s).map_or(Null, DateTime)
        }
        (BinOp::Sub, DateTime(d), Span(s)) => d.checked_sub_signed(s).map_or(Null, DateTime),
        (BinOp::Sub, DateTime(x), DateTime(y)) => Span(x.signed_duration_since(y)),
        (BinOp::Add, Span(x), Span(y)) => x.checked_add(&y).map_or(Null, Span),
        (BinOp::Sub, Span(x), Span(y)) => x.checked_sub(&y).map_or(Null, Span),
        (BinOp::Mul, Span(s), Long(n)) | (BinOp::Mul, Long(n), Span(s)) => s
            .num_nanoseconds()
            .and_then(|ns| ns.checked_mul(n))
            .map_or(Null, |ns| Span(TimeDelta::nanoseconds(ns))),
        (BinOp::Div, Span(s), Long(n)) => s
            .num_nanoseconds()
            .and_then(|ns| ns.checked_div(n))
            .map_or(Null, |ns| Span(TimeDelta::nanoseconds(ns))),
        (BinOp::Div, Span(x), Span(y)) => match (x.num_nanoseconds(), y.num_nanoseconds()) {
            (Some(x), Some(y)) if y != 0 => Real(x as f64 / y as f64),
            _ => Null,
        },
        (BinOp::Add, Str(_), Str(_)) => {
            return Err(eval_err("`+` does not join strings; use strcat(a, b)"));
        }
        (op, Str(s), other @ (Span(_) | DateTime(_))) => match parse_datetime(&s) {
            Some(d) => arith(op, DateTime(d), other)?,
            None => Null,
        },
        (op, other @ DateTime(_), Str(s)) => match parse_datetime(&s) {
            Some(d) => arith(op, other, DateTime(d))?,
            None => Null,
        },
        _ => Null,
    })
}

/// The elements of a dynamic array, or the value itself.
fn flatten(value: Val) -> Vec<Val> {
    match value {
        Val::Dyn(Value::Array(items)) => items.iter().map(Val::from_json).collect(),
        other => vec![other],
    }
}

fn eval_in(
    lhs: &Expr,
    list: &[Expr],
    negated: bool,
    ci: bool,
    row: &Row,
    env: &Env,
) -> Result<Val> {
    let value = eval(lhs, row, env)?;
    if value.is_null() {
        return Ok(Val::Null);
    }
    let mut found = false;
    for item in list {
        for candidate in flatten(eval(item, row, env)?) {
            let hit = if ci {
                equals_ci(&value, &candidate)
            } else {
                equals(&value, &candidate)
            };
            found |= hit == Some(true);
        }
    }
    Ok(Val::Bool(found != negated))
}

fn call(func: Func, args: &[Expr], row: &Row, env: &Env) -> Result<Val> {
    let arg = |i: usize| args.get(i).map_or(Ok(Val::Null), |e| eval(e, row, env));
    Ok(match func {
        Func::IsNull => Val::Bool(arg(0)?.is_null()),
        Func::IsNotNull => Val::Bool(!arg(0)?.is_null()),
        Func::IsEmpty => Val::Bool(arg(0)?.is_empty()),
        Func::IsNotEmpty => Val::Bool(!arg(0)?.is_empty()),
        Func::ToLower => Val::Str(arg(0)?.text().to_lowercase()),
        Func::ToUpper => Val::Str(arg(0)?.text().to_uppercase()),
        Func::ToString => Val::Str(arg(0)?.text().into_owned()),
        Func::ToLong => to_long(arg(0)?),
        Func::ToDouble => to_double(arg(0)?),
        Func::ToBool => to_bool(arg(0)?),
        Func::ToDateTime => match arg(0)? {
            Val::DateTime(d) => Val::DateTime(d),
            Val::Str(s) => parse_datetime(&s).map_or(Val::Null, Val::DateTime),
            _ => Val::Null,
        },
        Func::StrLen => {
            Val::Long(i64::try_from(arg(0)?.text().chars().count()).unwrap_or(i64::MAX))
        }
        Func::Substring => substring(&arg(0)?.text(), arg(1)?, arg(2)?),
        Func::Split => split(&arg(0)?.text(), &arg(1)?.text(), arg(2)?),
        Func::StrCat => {
            let mut out = String::new();
            for i in 0..args.len() {
                out.push_str(&arg(i)?.text());
            }
            Val::Str(out)
        }
        Func::ReplaceString => {
            let (text, lookup, rewrite) = (arg(0)?, arg(1)?, arg(2)?);
            let lookup = lookup.text();
            let text = text.text();
            Val::Str(if lookup.is_empty() {
                text.into_owned()
            } else {
                text.replace(lookup.as_ref(), &rewrite.text())
            })
        }
        Func::Iff => {
            if arg(0)?.truth() == Some(true) {
                arg(1)?
            } else {
                arg(2)?
            }
        }
        Func::Case => {
            let mut i = 0;
            while i + 1 < args.len() {
                if arg(i)?.truth() == Some(true) {
                    return arg(i + 1);
                }
                i += 2;
            }
            arg(i)?
        }
        Func::Coalesce => {
            for i in 0..args.len() {
                let value = arg(i)?;
                if !value.is_empty() {
                    return Ok(value);
                }
            }
            Val::Null
        }
        Func::ArrayLength => match arg(0)? {
            Val::Dyn(Value::Array(items)) => {
                Val::Long(i64::try_from(items.len()).unwrap_or(i64::MAX))
            }
            _ => Val::Null,
        },
        Func::ParseJson => match arg(0)? {
            Val::Str(s) => {
                serde_json::from_str::<Value>(&s).map_or(Val::Str(s), |v| Val::from_json(&v))
            }
            other => other,
        },
        Func::Now => match arg(0)? {
            Val::Span(offset) => env
                .now
                .checked_add_signed(offset)
                .map_or(Val::Null, Val::DateTime),
            _ => Val::DateTime(env.now),
        },
        Func::Ago => match arg(0)? {
            Val::Span(span) => env
                .now
                .checked_sub_signed(span)
                .map_or(Val::Null, Val::DateTime),
            _ => Val::Null,
        },
        Func::Not => opt_bool(arg(0)?.truth().map(|b| !b)),
        Func::StrCatArray => match arg(0)? {
            Val::Dyn(Value::Array(items)) => {
                let delimiter = arg(1)?;
                let parts: Vec<String> = items
                    .iter()
                    .map(|v| Val::from_json(v).text().into_owned())
                    .collect();
                Val::Str(parts.join(&delimiter.text()))
            }
            _ => Val::Null,
        },
        Func::IndexOf => index_of(arg(0)?, arg(1)?, arg(2)?, arg(3)?, arg(4)?),
        Func::ArraySlice => match arg(0)? {
            Val::Dyn(Value::Array(items)) => array_slice(items, arg(1)?, arg(2)?),
            _ => Val::Null,
        },
        Func::ArrayConcat => {
            let mut out = Vec::new();
            for i in 0..args.len() {
                match arg(i)? {
                    Val::Dyn(Value::Array(items)) => out.extend(items),
                    _ => return Ok(Val::Null),
                }
            }
            Val::Dyn(Value::Array(out))
        }
        Func::PackArray => Val::Dyn(Value::Array(
            (0..args.len())
                .map(|i| arg(i).map(Val::into_json))
                .collect::<Result<_>>()?,
        )),
        Func::BagKeys => match arg(0)? {
            Val::Dyn(Value::Object(map)) => Val::Dyn(Value::Array(
                map.keys().cloned().map(Value::String).collect(),
            )),
            _ => Val::Null,
        },
        Func::SetHasElement => match arg(0)? {
            Val::Dyn(Value::Array(items)) => {
                let wanted = arg(1)?;
                Val::Bool(
                    items
                        .iter()
                        .any(|v| equals(&Val::from_json(v), &wanted) == Some(true)),
                )
            }
            _ => Val::Null,
        },
        Func::StringSize => Val::Long(i64::try_from(arg(0)?.text().len()).unwrap_or(i64::MAX)),
        Func::ReplaceRegex => replace_regex(&arg(0)?.text(), &arg(1)?.text(), &arg(2)?.text())?,
        Func::Replace => replace_regex(&arg(2)?.text(), &arg(0)?.text(), &arg(1)?.text())?,
        Func::DynamicToJson => Val::Str(arg(0)?.into_json().to_string()),
        Func::Math(f) => real(to_double(arg(0)?).as_f64().map(|x| f.apply(x))),
        Func::Pow => match (to_double(arg(0)?).as_f64(), to_double(arg(1)?).as_f64()) {
            (Some(x), Some(y)) => real(Some(x.powf(y))),
            _ => Val::Null,
        },
        // Parsed into `Expr::Extract`; never reaches here.
        Func::Extract => Val::Null,
    })
}

/// `indexof(source, lookup[, start[, length[, occurrence]]])`: the character position of the
/// `occurrence`th `lookup` from `start`, within `length` characters (-1: to the end); -1 when
/// not found, null for a start or occurrence out of range.
fn index_of(source: Val, lookup: Val, start: Val, length: Val, occurrence: Val) -> Val {
    let text: Vec<char> = source.text().chars().collect();
    let lookup: Vec<char> = lookup.text().chars().collect();
    let whole = |v: &Val, default: i64| match v {
        Val::Null => Some(default),
        Val::Long(n) => Some(*n),
        _ => None,
    };
    let (Some(start), Some(length), Some(occurrence)) =
        (whole(&start, 0), whole(&length, -1), whole(&occurrence, 1))
    else {
        return Val::Null;
    };
    let len = i64::try_from(text.len()).unwrap_or(i64::MAX);
    let start = if start < 0 { len + start } else { start };
    if start < 0 || start > len || length < -1 || occurrence < 1 {
        return Val::Null;
    }
    let end = if length == -1 {
        len
    } else {
        start.saturating_add(length).min(len)
    };
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Val::Null;
    };
    let mut found = 0;
    let mut i = start;
    while i + lookup.len() <= end {
        if text.get(i..i + lookup.len()) == Some(lookup.as_slice()) {
            found += 1;
            if found == occurrence {
                return Val::Long(i64::try_from(i).unwrap_or(i64::MAX));
            }
        }
        i += 1;
    }
    Val::Long(-1)
}

/// `array_slice(array, start, end)`: elements `start` to `end` inclusive, negative indexes
/// counting from the end.
fn array_slice(items: Vec<Value>, start: Val, end: Val) -> Val {
    let (Val::Long(start), Val::Long(end)) = (start, end) else {
        return Val::Null;
    };
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let at = |i: i64| if i < 0 { len + i } else { i };
    let (start, end) = (at(start).max(0), at(end).min(len - 1));
    if start > end {
        return Val::Dyn(Value::Array(Vec::new()));
    }
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Val::Dyn(Value::Array(Vec::new()));
    };
    Val::Dyn(Value::Array(
        items
            .into_iter()
            .skip(start)
            .take(end - start + 1)
            .collect(),
    ))
}

/// `replace_regex(text, regex, rewrite)`, with KQL's `\1` group references.
fn replace_regex(text: &str, pattern: &str, rewrite: &str) -> Result<Val> {
    let re = RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| eval_err(format!("invalid regex `{pattern}`: {e}")))?;
    let group = Regex::new(r"\\(\d)").map_err(|e| eval_err(e.to_string()))?;
    let escaped = rewrite.replace('$', "$$");
    let rewrite = group.replace_all(&escaped, "$${$1}");
    Ok(Val::Str(
        re.replace_all(text, rewrite.as_ref()).into_owned(),
    ))
}

/// A value `parse` extracted, as its column's type; null when it does not read as one.
fn parsed(text: &str, kind: ParseType) -> Val {
    let text = Val::Str(text.to_string());
    match kind {
        ParseType::Str => text,
        ParseType::Long => to_long(text),
        ParseType::Real => to_double(text),
        ParseType::Bool => to_bool(text),
        ParseType::DateTime => match &text {
            Val::Str(s) => parse_datetime(s).map_or(Val::Null, Val::DateTime),
            _ => Val::Null,
        },
        ParseType::Dynamic => match &text {
            Val::Str(s) => {
                serde_json::from_str::<Value>(s).map_or(text.clone(), |v| Val::from_json(&v))
            }
            _ => Val::Null,
        },
    }
}

/// A real result; NaN and infinities are null, as JSON cannot hold them.
fn real(value: Option<f64>) -> Val {
    value.filter(|f| f.is_finite()).map_or(Val::Null, Val::Real)
}

fn to_long(value: Val) -> Val {
    let from_real = |f: f64| {
        if f.is_finite() && f.abs() < 9.2e18 {
            Val::Long(f.trunc() as i64)
        } else {
            Val::Null
        }
    };
    match value {
        Val::Long(n) => Val::Long(n),
        Val::Real(f) => from_real(f),
        Val::Bool(b) => Val::Long(i64::from(b)),
        Val::Str(s) => match s.trim().parse::<i64>() {
            Ok(n) => Val::Long(n),
            Err(_) => s.trim().parse::<f64>().map_or(Val::Null, from_real),
        },
        Val::Span(span) => span
            .num_nanoseconds()
            .map_or(Val::Null, |ns| Val::Long(ns / 100)),
        _ => Val::Null,
    }
}

fn to_double(value: Val) -> Val {
    match value {
        Val::Long(n) => Val::Real(n as f64),
        Val::Real(f) => Val::Real(f),
        Val::Bool(b) => Val::Real(if b { 1.0 } else { 0.0 }),
        Val::Str(s) => s.trim().parse::<f64>().map_or(Val::Null, Val::Real),
        _ => Val::Null,
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn to_bool(value: Val) -> Val {
    match value {
        Val::Bool(b) => Val::Bool(b),
        Val::Long(n) => Val::Bool(n != 0),
        Val::Real(f) => Val::Bool(f != 0.0),
        Val::Str(s) => opt_bool(parse_bool(&s)),
        _ => Val::Null,
    }
}

fn substring(text: &str, start: Val, length: Val) -> Val {
    let Val::Long(start) = start else {
        return Val::Null;
    };
    let start = usize::try_from(start.max(0)).unwrap_or(usize::MAX);
    let chars = text.chars().skip(start);
    Val::Str(match length {
        Val::Long(n) => chars
            .take(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
            .collect(),
        _ => chars.collect(),
    })
}

fn split(text: &str, delimiter: &str, index: Val) -> Val {
    let parts: Vec<Value> = if delimiter.is_empty() {
        vec![Value::from(text)]
    } else {
        text.split(delimiter).map(Value::from).collect()
    };
    Val::Dyn(Value::Array(match index {
        Val::Long(i) => array_get(&parts, i).cloned().into_iter().collect(),
        _ => parts,
    }))
}

// ---------------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------------

fn eval_query(query: &Query, env: &Env) -> Result<Vec<Row>> {
    let rows = match &query.source {
        Source::Table(name) => env.table(name),
        Source::Union(items) => union_rows(Vec::new(), items, env)?,
    };
    query
        .ops
        .iter()
        .try_fold(rows, |rows, op| apply(op, rows, env))
}

fn union_rows(mut rows: Vec<Row>, items: &[Query], env: &Env) -> Result<Vec<Row>> {
    for item in items {
        rows.extend(eval_query(item, env)?);
    }
    Ok(rows)
}

/// The values of `columns` in `row` as one comparable key; `None` when one is null, since a
/// null key matches nothing.
fn join_key<'a>(row: &Row, mut columns: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut key = String::new();
    columns.try_for_each(|column| match row.get(column) {
        None | Some(Value::Null) => None,
        Some(value) => {
            key.push_str(&value.to_string());
            key.push('\u{1f}');
            Some(())
        }
    })?;
    Some(key)
}

fn join(
    left: Vec<Row>,
    right: Vec<Row>,
    kind: JoinKind,
    on: &[(String, usize, String, usize)],
    shape: &JoinShape,
) -> Result<Vec<Row>> {
    let left_key = |row: &Row| join_key(row, on.iter().map(|(l, ..)| l.as_str()));
    let right_key = |row: &Row| join_key(row, on.iter().map(|(_, _, r, _)| r.as_str()));
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, row) in right.iter().enumerate() {
        if let Some(key) = right_key(row) {
            index.entry(key).or_default().push(i);
        }
    }
    // The right side's columns under their output names, nulls where a row has none.
    let right_part = |row: Option<&Row>, out: &mut Row| {
        for (column, name) in &shape.right {
            let value = row.and_then(|r| r.get(column)).cloned();
            out.insert(name.clone(), value.unwrap_or(Value::Null));
        }
    };
    let mut out = Vec::new();
    let mut matched = vec![false; right.len()];
    let mut seen = HashSet::new();
    for row in left {
        let key = left_key(&row);
        if kind == JoinKind::InnerUnique {
            // innerunique keeps one left row per key before joining.
            match &key {
                Some(k) if !seen.insert(k.clone()) => continue,
                _ => {}
            }
        }
        let hits = key.as_ref().and_then(|k| index.get(k));
        match hits {
            Some(hits) => {
                if out.len().saturating_add(hits.len()) > MAX_JOIN_ROWS {
                    return Err(eval_err(format!(
                        "the join makes more than {MAX_JOIN_ROWS} rows: narrow its sides or \
                         its key"
                    )));
                }
                for &i in hits {
                    let mut joined = row.clone();
                    right_part(right.get(i), &mut joined);
                    if let Some(m) = matched.get_mut(i) {
                        *m = true;
                    }
                    out.push(joined);
                }
            }
            None if matches!(kind, JoinKind::LeftOuter | JoinKind::FullOuter) => {
                let mut joined = row;
                right_part(None, &mut joined);
                out.push(joined);
            }
            None => {}
        }
    }
    if kind == JoinKind::FullOuter {
        for (row, _) in right.iter().zip(&matched).filter(|(_, m)| !**m) {
            let mut joined: Row = shape
                .left
                .iter()
                .map(|c| (c.clone(), Value::Null))
                .collect();
            right_part(Some(row), &mut joined);
            out.push(joined);
        }
    }
    Ok(out)
}

fn apply(op: &Op, mut rows: Vec<Row>, env: &Env) -> Result<Vec<Row>> {
    match op {
        Op::Join {
            kind,
            right,
            on,
            shape,
        } => {
            let right_rows = eval_query(right, env)?;
            join(rows, right_rows, *kind, on, shape)
        }
        Op::Union(items) => union_rows(rows, items, env),
        Op::Parse { source, re, cols } => {
            for row in &mut rows {
                let text = eval(source, row, env)?.text().into_owned();
                let captures = re.captures(&text);
                for (i, (name, kind)) in cols.iter().enumerate() {
                    let value = captures
                        .as_ref()
                        .and_then(|c| c.name(&format!("c{i}")))
                        .map_or(Val::Null, |m| parsed(m.as_str(), *kind));
                    row.insert(name.clone(), value.into_json());
                }
            }
            Ok(rows)
        }
        Op::Where(predicate) => where_rows(rows, predicate, env),
        Op::Project(cols) => rows.iter().map(|row| project_row(row, cols, env)).collect(),
        Op::ProjectAway(patterns) => {
            for row in &mut rows {
                row.retain(|key, _| !patterns.iter().any(|(p, _)| glob(p, key)));
            }
            Ok(rows)
        }
        Op::ProjectRename(renames) => {
            for row in &mut rows {
                for (new, old, _) in renames {
                    if let Some(value) = row.remove(old) {
                        row.insert(new.clone(), value);
                    }
                }
            }
            Ok(rows)
        }
        Op::Extend(cols) => {
            for row in &mut rows {
                for (name, expr) in cols {
                    let value = eval(expr, row, env)?.into_json();
                    row.insert(name.clone(), value);
                }
            }
            Ok(rows)
        }
        Op::Summarize { aggs, by } => summarize(&rows, aggs, by, env),
        Op::Count => {
            let mut row = Row::new();
            row.insert("Count".to_string(), Value::from(rows.len()));
            Ok(vec![row])
        }
        Op::Take(n) => {
            rows.truncate(*n);
            Ok(rows)
        }
        Op::Sort(keys) => sort_rows(rows, keys, env),
        Op::Top { n, keys } => {
            let mut sorted = sort_rows(rows, keys, env)?;
            sorted.truncate(*n);
            Ok(sorted)
        }
        Op::Distinct(cols) => distinct(rows, cols.as_deref(), env),
        Op::MvExpand { cols, limit } => mv_expand(rows, cols, *limit, env),
    }
}

fn where_rows(rows: Vec<Row>, predicate: &Expr, env: &Env) -> Result<Vec<Row>> {
    let mut kept = Vec::new();
    for row in rows {
        match eval(predicate, &row, env)? {
            Val::Bool(true) => kept.push(row),
            Val::Bool(false) | Val::Null => {}
            Val::Dyn(Value::Null) => {}
            other => {
                let shown: String = other.text().chars().take(40).collect();
                return Err(eval_err(format!(
                    "`where` needs a true/false condition, got `{shown}`"
                )));
            }
        }
    }
    Ok(kept)
}

fn project_row(row: &Row, cols: &[(String, Expr)], env: &Env) -> Result<Row> {
    cols.iter()
        .map(|(name, expr)| Ok((name.clone(), eval(expr, row, env)?.into_json())))
        .collect()
}

fn key_error(e: serde_json::Error) -> KqlError {
    eval_err(format!("cannot group by value: {e}"))
}

/// A running aggregation.
enum Acc {
    Count(u64),
    Distinct(HashSet<String>),
    Min(Option<Val>),
    Max(Option<Val>),
    Sum(Option<Val>),
    Avg(f64, u64),
    List(Vec<Value>),
    Set(Vec<Value>, HashSet<String>),
    Any(Option<Value>),
}

impl Acc {
    fn new(kind: AggKind) -> Self {
        match kind {
            AggKind::Count | AggKind::CountIf => Acc::Count(0),
            AggKind::DCount => Acc::Distinct(HashSet::new()),
            AggKind::Min => Acc::Min(None),
            AggKind::Max => Acc::Max(None),
            AggKind::Sum => Acc::Sum(None),
            AggKind::Avg => Acc::Avg(0.0, 0),
            AggKind::MakeList => Acc::List(Vec::new()),
            AggKind::MakeSet => Acc::Set(Vec::new(), HashSet::new()),
            AggKind::Any => Acc::Any(None),
        }
    }

    fn add(&mut self, agg: &Agg, row: &Row, env: &Env) -> Result<()> {
        let value = match &agg.arg {
            Some(expr) => eval(expr, row, env)?,
            None => Val::Bool(true),
        };
        match self {
            Acc::Count(n) => {
                if agg.kind == AggKind::Count || value.truth() == Some(true) {
                    *n += 1;
                }
            }
            _ if value.is_null() => {}
            Acc::Distinct(seen) => {
                seen.insert(value.into_json().to_string());
            }
            Acc::Min(current) => keep_if(current, value, Ordering::Less),
            Acc::Max(current) => keep_if(current, value, Ordering::Greater),
            Acc::Sum(current) => {
                let total = match current.take() {
                    None => value,
                    Some(Val::Long(x)) => match value {
                        Val::Long(y) => x
                            .checked_add(y)
                            .map_or(Val::Real(x as f64 + y as f64), Val::Long),
                        other => arith(BinOp::Add, Val::Long(x), other)?,
                    },
                    Some(total) => arith(BinOp::Add, total, value)?,
                };
                *current = Some(total);
            }
            Acc::Avg(sum, n) => {
                if let Some(f) = to_double(value).as_f64() {
                    *sum += f;
                    *n += 1;
                }
            }
            Acc::List(items) => items.push(value.into_json()),
            Acc::Set(items, seen) => {
                let json = value.into_json();
                if seen.insert(json.to_string()) {
                    items.push(json);
                }
            }
            Acc::Any(current) => {
                if current.is_none() && !value.is_empty() {
                    *current = Some(value.into_json());
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Value {
        match self {
            Acc::Count(n) => Value::from(n),
            Acc::Distinct(seen) => Value::from(seen.len()),
            Acc::Min(v) | Acc::Max(v) => v.map_or(Value::Null, Val::into_json),
            Acc::Sum(v) => v.map_or(Value::from(0), Val::into_json),
            Acc::Avg(sum, n) if n > 0 => Val::Real(sum / n as f64).into_json(),
            Acc::Avg(..) => Value::Null,
            Acc::List(items) | Acc::Set(items, _) => Value::Array(items),
            Acc::Any(v) => v.unwrap_or(Value::Null),
        }
    }
}

/// Replaces `current` with `value` when there is none yet or `value` compares as `wanted`.
fn keep_if(current: &mut Option<Val>, value: Val, wanted: Ordering) {
    let better = current
        .as_ref()
        .is_none_or(|c| compare(&value, c) == Some(wanted));
    if better {
        *current = Some(value);
    }
}

fn summarize(
    rows: &[Row],
    aggs: &[(String, Agg)],
    by: &[(String, Expr)],
    env: &Env,
) -> Result<Vec<Row>> {
    let fresh = || {
        aggs.iter()
            .map(|(_, agg)| Acc::new(agg.kind))
            .collect::<Vec<_>>()
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(Vec<Value>, Vec<Acc>)> = Vec::new();
    for row in rows {
        let keys = by
            .iter()
            .map(|(_, e)| eval(e, row, env).map(Val::into_json))
            .collect::<Result<Vec<_>>>()?;
        let key = serde_json::to_string(&keys).map_err(key_error)?;
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push((keys, fresh()));
            groups.len() - 1
        });
        if let Some((_, accs)) = groups.get_mut(slot) {
            for ((_, agg), acc) in aggs.iter().zip(accs.iter_mut()) {
                acc.add(agg, row, env)?;
            }
        }
    }
    if by.is_empty() && groups.is_empty() {
        groups.push((Vec::new(), fresh()));
    }
    let out = groups.into_iter().map(|(keys, accs)| {
        let by_cols = by.iter().map(|(name, _)| name.clone()).zip(keys);
        let agg_cols = aggs
            .iter()
            .map(|(name, _)| name.clone())
            .zip(accs.into_iter().map(Acc::finish));
        by_cols.chain(agg_cols).collect()
    });
    Ok(out.collect())
}

fn sort_rows(rows: Vec<Row>, keys: &[SortKey], env: &Env) -> Result<Vec<Row>> {
    let mut keyed = rows
        .into_iter()
        .map(|row| {
            let values = keys
                .iter()
                .map(|k| eval(&k.expr, &row, env))
                .collect::<Result<Vec<_>>>()?;
            Ok((values, row))
        })
        .collect::<Result<Vec<_>>>()?;
    keyed.sort_by(|(a, _), (b, _)| {
        a.iter()
            .zip(b)
            .zip(keys)
            .map(|((x, y), key)| sort_order(x, y, key))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

fn sort_order(x: &Val, y: &Val, key: &SortKey) -> Ordering {
    let nulls = if key.nulls_first {
        Ordering::Less
    } else {
        Ordering::Greater
    };
    match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => nulls,
        (false, true) => nulls.reverse(),
        (false, false) if key.desc => total_cmp(x, y).reverse(),
        (false, false) => total_cmp(x, y),
    }
}

fn distinct(rows: Vec<Row>, cols: Option<&[(String, Expr)]>, env: &Env) -> Result<Vec<Row>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for row in rows {
        let row = match cols {
            Some(cols) => project_row(&row, cols, env)?,
            None => row,
        };
        if seen.insert(serde_json::to_string(&row).map_err(key_error)?) {
            out.push(row);
        }
    }
    Ok(out)
}

fn mv_expand(
    rows: Vec<Row>,
    cols: &[(String, Expr)],
    limit: Option<usize>,
    env: &Env,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for row in rows {
        let columns = cols
            .iter()
            .map(|(_, e)| Ok(expand_items(eval(e, &row, env)?)))
            .collect::<Result<Vec<_>>>()?;
        let count = columns.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..limit.map_or(count, |l| count.min(l)) {
            let mut expanded = row.clone();
            for ((name, _), items) in cols.iter().zip(&columns) {
                expanded.insert(name.clone(), items.get(i).cloned().unwrap_or(Value::Null));
            }
            out.push(expanded);
        }
    }
    Ok(out)
}

/// What `mv-expand` makes rows of: array elements, one-property bags of an object, or the value.
fn expand_items(value: Val) -> Vec<Value> {
    match value {
        Val::Dyn(Value::Array(items)) => items,
        Val::Dyn(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| Value::Object(std::iter::once((k, v)).collect()))
            .collect(),
        other => vec![other.into_json()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups";

    fn now() -> DateTime<Utc> {
        parse_datetime("2026-03-01T12:00:00Z").expect("valid test clock")
    }

    fn web(
        name: &str,
        location: &str,
        rg: &str,
        state: &str,
        instances: i64,
        tags: Value,
    ) -> Value {
        json!({
            "id": format!("{SUB}/{rg}/providers/Microsoft.Web/sites/{name}"),
            "name": name, "type": "microsoft.web/sites", "kind": "app,linux",
            "location": location, "resourceGroup": rg, "subscriptionId": "00000000-0000-0000-0000-000000000001",
            "tags": tags,
            "properties": {"state": state, "defaultHostName": format!("{name}.azurewebsites.net"), "instances": instances}
        })
    }

    fn failover_group(location: &str, rg: &str, role: &str, partner_location: &str) -> Value {
        json!({
            "id": format!("{SUB}/{rg}/providers/Microsoft.Sql/servers/sql-shop-{location}/failoverGroups/fog-shop"),
            "name": "fog-shop", "type": "microsoft.sql/servers/failovergroups",
            "location": location, "resourceGroup": rg, "tags": {"env": "prod"},
            "properties": {
                "replicationRole": role, "replicationState": "CATCH_UP",
                "readWriteEndpoint": {"failoverPolicy": "Automatic", "failoverWithDataLossGracePeriodMinutes": 60},
                "partnerServers": [{"location": partner_location, "replicationRole": if role == "Primary" { "Secondary" } else { "Primary" }}]
            }
        })
    }

    fn storage(name: &str, location: &str, rg: &str, sku: &str, last_sync: &str) -> Value {
        json!({
            "id": format!("{SUB}/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"),
            "name": name, "type": "microsoft.storage/storageaccounts", "kind": "StorageV2",
            "location": location, "resourceGroup": rg, "sku": {"name": sku, "tier": "Standard"},
            "properties": {
                "primaryLocation": location, "statusOfSecondary": "available",
                "geoReplicationStats": {"status": "Live", "lastSyncTime": last_sync, "canFailover": sku.contains("RAGRS")}
            }
        })
    }

    /// Eight resources of a two-region shop; `stlogsneu` has no `tags` at all.
    fn fixture() -> Vec<Value> {
        let prod = json!({"env": "prod", "app": "shop"});
        let mut shop_storage = storage(
            "stshopweu",
            "westeurope",
            "rg-shop-westeurope",
            "Standard_RAGRS",
            "2026-03-01T11:57:00.1234567Z",
        );
        if let Some(map) = shop_storage.as_object_mut() {
            map.insert("tags".to_string(), prod.clone());
        }
        let mut logs = storage(
            "stlogsneu",
            "northeurope",
            "rg-shop-northeurope",
            "Standard_GRS",
            "2026-03-01T10:00:00Z",
        );
        if let Some(map) = logs.as_object_mut() {
            map.remove("tags");
        }
        vec![
            web(
                "app-shop-weu",
                "westeurope",
                "rg-shop-westeurope",
                "Running",
                3,
                prod.clone(),
            ),
            web(
                "app-shop-neu",
                "northeurope",
                "rg-shop-northeurope",
                "Stopped",
                0,
                json!({"env": "prod", "app": "shop", "role": "secondary"}),
            ),
            web(
                "app-admin-weu",
                "westeurope",
                "rg-admin",
                "Running",
                1,
                json!({"env": "dev"}),
            ),
            json!({
                "id": format!("{SUB}/rg-shop-westeurope/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-shop"),
                "name": "cosmos-shop", "type": "microsoft.documentdb/databaseaccounts", "kind": "GlobalDocumentDB",
                "location": "westeurope", "resourceGroup": "rg-shop-westeurope", "tags": prod.clone(),
                "properties": {
                    "enableAutomaticFailover": true,
                    "writeLocations": [{"locationName": "West Europe", "failoverPriority": 0}],
                    "readLocations": [
                        {"locationName": "West Europe", "failoverPriority": 0},
                        {"locationName": "North Europe", "failoverPriority": 1}
                    ],
                    "consistencyPolicy": {"defaultConsistencyLevel": "Session"}
                }
            }),
            failover_group("westeurope", "rg-shop-westeurope", "Primary", "northeurope"),
            failover_group(
                "northeurope",
                "rg-shop-northeurope",
                "Secondary",
                "westeurope",
            ),
            shop_storage,
            logs,
        ]
    }

    fn q(query: &str) -> Vec<Value> {
        run_at(query, &fixture(), now()).unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    fn count(query: &str) -> usize {
        q(query).len()
    }

    fn names(query: &str) -> Vec<String> {
        q(query)
            .iter()
            .map(|row| row["name"].as_str().unwrap_or("<none>").to_string())
            .collect()
    }

    fn err(query: &str) -> KqlError {
        match run_at(query, &fixture(), now()) {
            Ok(rows) => panic!("{query}: expected an error, got {rows:?}"),
            Err(e) => e,
        }
    }

    /// Asserts a parse error at `position` whose message contains every one of `needles`.
    fn parse_error(query: &str, position: usize, needles: &[&str]) {
        match err(query) {
            KqlError::Parse {
                position: p,
                message,
            } => {
                assert_eq!(p, position, "{query}: {message}");
                for needle in needles {
                    assert!(
                        message.contains(needle),
                        "{query}: `{message}` lacks `{needle}`"
                    );
                }
            }
            other => panic!("{query}: expected a parse error, got {other:?}"),
        }
    }

    fn unsupported_error(query: &str, needle: &str) {
        match err(query) {
            KqlError::Unsupported { what } => assert!(what.contains(needle), "{query}: {what}"),
            other => panic!("{query}: expected Unsupported, got {other:?}"),
        }
    }

    fn sorted_keys(row: &Value) -> Vec<String> {
        let mut keys: Vec<String> = row
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// One value computed for the single row named `name`.
    fn value_for(name: &str, expr: &str) -> Value {
        let rows = q(&format!(
            "Resources | where name == '{name}' | take 1 | project v = {expr}"
        ));
        assert_eq!(rows.len(), 1, "{expr}");
        rows[0]["v"].clone()
    }

    // -- runbook queries ---------------------------------------------------------------------

    #[test]
    fn runbook_web_apps_in_secondary_region() {
        let rows = q(
            "Resources | where type =~ 'microsoft.web/sites' and location == 'northeurope' \
                      | project name, state = properties.state",
        );
        assert_eq!(
            rows,
            vec![json!({"name": "app-shop-neu", "state": "Stopped"})]
        );
    }

    #[test]
    fn runbook_count_by_type_in_resource_group() {
        let mut rows = q(
            "resources | where resourceGroup =~ 'rg-shop-northeurope' | summarize count() by type",
        );
        rows.sort_by_key(|r| r["type"].to_string());
        assert_eq!(
            rows,
            vec![
                json!({"type": "microsoft.sql/servers/failovergroups", "count_": 1}),
                json!({"type": "microsoft.storage/storageaccounts", "count_": 1}),
                json!({"type": "microsoft.web/sites", "count_": 1}),
            ]
        );
    }

    #[test]
    fn runbook_failover_group_roles() {
        let rows = q(
            "Resources | where type == 'microsoft.sql/servers/failovergroups' \
                      | where properties.replicationRole == 'Secondary' \
                      | project name, location, policy = properties.readWriteEndpoint.failoverPolicy",
        );
        assert_eq!(
            rows,
            vec![json!({"name": "fog-shop", "location": "northeurope", "policy": "Automatic"})]
        );
    }

    #[test]
    fn runbook_stale_geo_replication() {
        let stale = names(
            "Resources | where type =~ 'Microsoft.Storage/storageAccounts' \
             | extend lastSync = todatetime(properties.geoReplicationStats.lastSyncTime) \
             | where lastSync < ago(15m) | project name",
        );
        assert_eq!(stale, ["stlogsneu"]);
    }

    #[test]
    fn runbook_cosmos_read_regions() {
        let rows = q(
            "Resources | where type =~ 'Microsoft.DocumentDB/databaseAccounts' \
                      | mv-expand loc = properties.readLocations \
                      | project region = tostring(loc.locationName), priority = toint(loc.failoverPriority) \
                      | order by priority asc",
        );
        assert_eq!(
            rows,
            vec![
                json!({"region": "West Europe", "priority": 0}),
                json!({"region": "North Europe", "priority": 1})
            ]
        );
    }

    // -- tables and keywords -----------------------------------------------------------------

    #[test]
    fn table_name_is_optional() {
        assert_eq!(count("Resources"), 8);
        assert_eq!(count("resources"), 8);
        assert_eq!(count("where location == 'westeurope'"), 5);
        assert_eq!(count("| where location == 'westeurope'"), 5);
        assert_eq!(count("  Resources\n| take 2\n"), 2);
    }

    #[test]
    fn other_tables_are_empty_and_unknown_ones_refused() {
        assert_eq!(count("resourcecontainers | take 1"), 0);
        assert_eq!(count("AdvisorResources"), 0);
        unsupported_error("Foo | where name == 'x'", "Foo");
        unsupported_error("Resources | join (Foo) on id", "Foo");
        match err("Resource | take 1") {
            KqlError::Unsupported { what } => {
                assert!(what.contains("did you mean `resources`"), "{what}")
            }
            other => panic!("{other:?}"),
        }
    }

    // -- join and union ------------------------------------------------------------------

    /// Resource groups of the fixture (`rg-admin` has none) as a second table.
    fn groups_and_resources(query: &str) -> Vec<Value> {
        let groups = vec![
            json!({"name": "rg-shop-westeurope", "location": "westeurope", "id": "/rg/1"}),
            json!({"name": "rg-shop-northeurope", "location": "northeurope", "id": "/rg/2"}),
            json!({"name": "rg-empty", "location": "swedencentral", "id": "/rg/3"}),
        ];
        let tables = |name: &str| match name {
            "resources" => Some(fixture()),
            "resourcecontainers" => Some(groups.clone()),
            _ => None,
        };
        run_tables_at(query, &tables, now())
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .rows
    }

    fn pairs(rows: &[Value], a: &str, b: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r[a].as_str().unwrap_or("-").to_string(),
                    r[b].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn join_kinds() {
        let base = "Resources | where type == 'microsoft.web/sites' | project site = name, resourceGroup | join kind=KIND (ResourceContainers | project resourceGroup = name, rgLocation = location) on resourceGroup";
        let with = |kind: &str| groups_and_resources(&base.replace("KIND", kind));
        let inner = with("inner");
        assert_eq!(
            pairs(&inner, "site", "rgLocation"),
            [
                ("app-shop-neu".into(), "northeurope".into()),
                ("app-shop-weu".into(), "westeurope".into())
            ]
        );
        // The right side's clashing key column is kept, renamed.
        assert!(
            inner
                .iter()
                .all(|r| r["resourceGroup1"] == r["resourceGroup"]),
            "{inner:?}"
        );
        let left = with("leftouter");
        assert_eq!(left.len(), 3);
        let admin = left.iter().find(|r| r["site"] == "app-admin-weu").unwrap();
        assert_eq!(admin["rgLocation"], Value::Null);
        assert_eq!(admin["resourceGroup1"], Value::Null);
        let full = with("fullouter");
        assert_eq!(full.len(), 4, "{full:?}");
        assert!(
            full.iter()
                .any(|r| r["site"].is_null() && r["rgLocation"] == "swedencentral")
        );
        // Kusto's other flavours are refused, as Resource Graph refuses them.
        for kind in [
            "rightouter",
            "leftsemi",
            "rightsemi",
            "leftanti",
            "anti",
            "rightanti",
        ] {
            let query = base.replace("KIND", kind);
            match run_at(&query, &fixture(), now()) {
                Err(KqlError::Unsupported { what }) => {
                    assert!(what.contains(&format!("kind={kind}")), "{what}")
                }
                other => panic!("{kind}: {other:?}"),
            }
        }
    }

    #[test]
    fn join_explosion_is_an_error() {
        let rows: Vec<Value> = (0..500)
            .map(|i| json!({"id": i.to_string(), "k": 1}))
            .collect();
        let query =
            "Resources | join kind=inner (Resources) on k | join kind=inner (Resources) on k";
        match run_at(query, &rows, now()) {
            Err(KqlError::Eval { message }) => assert!(message.contains("more than"), "{message}"),
            other => panic!("{:?}", other.map(|r| r.len())),
        }
    }

    #[test]
    fn join_default_is_innerunique() {
        // Two left rows share a key: innerunique keeps one, inner keeps both.
        let q = "Resources | where type == 'microsoft.web/sites' and location == 'westeurope' | project location | join KIND (ResourceContainers | project location, rg = name) on location";
        assert_eq!(groups_and_resources(&q.replace("KIND", "")).len(), 1);
        assert_eq!(
            groups_and_resources(&q.replace("KIND", "kind=innerunique")).len(),
            1
        );
        assert_eq!(
            groups_and_resources(&q.replace("KIND", "kind=inner")).len(),
            2
        );
    }

    #[test]
    fn join_on_left_and_right_columns() {
        let rows = groups_and_resources(
            "ResourceContainers | join kind = leftouter hint.strategy=shuffle (Resources | summarize n = count() by resourceGroup) on $left.name == $right.resourceGroup | project name, n",
        );
        let mut got: Vec<(String, Value)> = rows
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r["n"].clone()))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            [
                ("rg-empty".into(), Value::Null),
                ("rg-shop-northeurope".into(), json!(3)),
                ("rg-shop-westeurope".into(), json!(4))
            ]
        );
        // Either way round, and several keys with `and`.
        let swapped = groups_and_resources(
            "ResourceContainers | join (Resources | distinct resourceGroup, location) on $right.resourceGroup == $left.name and location",
        );
        assert_eq!(swapped.len(), 2, "{swapped:?}");
        // Full Resources on both sides: every clashing column gets a number.
        let row = &groups_and_resources(
            "Resources | where name == 'cosmos-shop' | join (Resources) on id",
        )[0];
        assert_eq!(row["name1"], "cosmos-shop");
        assert_eq!(row["id1"], row["id"]);
    }

    #[test]
    fn join_errors_name_the_problem() {
        let tables = |name: &str| (name == "resources").then(fixture);
        let e = |q: &str| run_tables_at(q, &tables, now()).unwrap_err().to_string();
        assert!(
            e("Resources | join kind=sideways (Resources) on id")
                .contains("unknown join kind `sideways`")
        );
        assert!(
            e("Resources | join (Resources | project name) on id").contains("unknown column `id`")
        );
        assert!(
            e("Resources | join (Resources) on $left.id == $left.name").contains("`$right.column`")
        );
        assert!(e("Resources | join (Resources) id").contains("`on`"));
        assert!(e("Resources | join (Resources on id").contains("`)`"));
    }

    #[test]
    fn union_of_tables() {
        let rows = groups_and_resources(
            "union (Resources | project name), (ResourceContainers | project name, location) | summarize count()",
        );
        assert_eq!(rows, [json!({"count_": 11})]);
        let rows = groups_and_resources(
            "Resources | where name == 'cosmos-shop' | union ResourceContainers | project name",
        );
        assert_eq!(rows.len(), 4);
        let rows = groups_and_resources(
            "Resources | take 1 | project a = 1 | union (ResourceContainers | take 1 | project b = 2)",
        );
        assert_eq!(rows, [json!({"a": 1}), json!({"b": 2})]);
    }

    #[test]
    fn parse_extracts_columns() {
        let rows = q(
            "Resources | where name == 'cosmos-shop' | parse id with * '/resourceGroups/' rg '/providers/' provider '/' rest | project rg, provider, rest",
        );
        assert_eq!(
            rows,
            [
                json!({"rg": "rg-shop-westeurope", "provider": "Microsoft.DocumentDB", "rest": "databaseAccounts/cosmos-shop"})
            ]
        );
        let rows = q(
            "Resources | where name == 'app-shop-weu' | extend t = 'n=42; ok=true' | parse t with 'n=' n:long '; ok=' ok:bool | project n, ok",
        );
        assert_eq!(rows, [json!({"n": 42, "ok": true})]);
        // Text after the last constant is ignored; a `long` column takes digits only.
        let rows = q(
            "Resources | where name == 'app-shop-weu' | extend t = 'id=7x; rest' | parse t with 'id=' n:long 'x;' | project n",
        );
        assert_eq!(rows, [json!({"n": 7})]);
        // kind=regex: the constants are regexes; no match gives nulls.
        let rows = q(
            "Resources | where name == 'app-shop-weu' | parse kind=regex name with '([a-z]+)-' kind '-(weu|neu)' | extend miss = 'x' | parse miss with 'y' z | project kind, z",
        );
        assert_eq!(rows, [json!({"kind": "shop", "z": null})]);
        parse_error("Resources | parse name with", 27, &["`parse` pattern"]);
        parse_error(
            "Resources | parse name with 'a' *",
            33,
            &["column to extract"],
        );
    }

    #[test]
    fn array_and_string_functions_of_real_queries() {
        assert_eq!(
            value_for("cosmos-shop", "strcat_array(dynamic(['a', 1, 'b']), ', ')"),
            json!("a, 1, b")
        );
        assert_eq!(value_for("cosmos-shop", "indexof('abcabc', 'c')"), json!(2));
        assert_eq!(
            value_for("cosmos-shop", "indexof('abcabc', 'c', 3)"),
            json!(5)
        );
        assert_eq!(
            value_for("cosmos-shop", "indexof('abcabc', 'c', 0, -1, 2)"),
            json!(5)
        );
        assert_eq!(value_for("cosmos-shop", "indexof('abc', 'z')"), json!(-1));
        assert_eq!(
            value_for("cosmos-shop", "array_slice(dynamic([1,2,3,4]), 1, 2)"),
            json!([2, 3])
        );
        assert_eq!(
            value_for("cosmos-shop", "array_slice(dynamic([1,2,3,4]), -2, -1)"),
            json!([3, 4])
        );
        assert_eq!(
            value_for("cosmos-shop", "array_slice(dynamic([1,2,3,4]), 3, 1)"),
            json!([])
        );
        assert_eq!(
            value_for("cosmos-shop", "set_has_element(dynamic(['1','2']), '2')"),
            json!(true)
        );
        assert_eq!(value_for("cosmos-shop", "string_size('é')"), json!(2));
        assert_eq!(
            value_for("cosmos-shop", "replace_regex('a1b22', @'(\\d+)', @'<\\1>')"),
            json!("a<1>b<22>")
        );
        assert_eq!(
            value_for("cosmos-shop", "replace(@'b', 'c', 'abb')"),
            json!("acc")
        );
        assert_eq!(
            value_for(
                "cosmos-shop",
                "dynamic_to_json(dynamic({'b': 1, 'a': [true]}))"
            ),
            json!("{\"a\":[true],\"b\":1}")
        );
        assert_eq!(
            value_for(
                "cosmos-shop",
                "array_concat(dynamic([1]), pack_array(2, 'x'))"
            ),
            json!([1, 2, "x"])
        );
        assert_eq!(
            value_for("cosmos-shop", "bag_keys(dynamic({'k': 1}))"),
            json!(["k"])
        );
    }

    #[test]
    fn operator_keywords_accept_any_case() {
        assert_eq!(
            count("Resources | WHERE location == 'westeurope' | Project name | TAKE 2"),
            2
        );
        assert_eq!(
            names("Resources | Order BY name ASC | Limit 1"),
            ["app-admin-weu"]
        );
        assert_eq!(
            count("Resources | where location == 'westeurope' AND kind == 'StorageV2'"),
            1
        );
    }

    #[test]
    fn comments_are_ignored() {
        let query = "Resources // everything\n| where location == 'westeurope' // west only\n// | take 1\n| count";
        assert_eq!(q(query), vec![json!({"Count": 5})]);
    }

    // -- comparisons, case and null rules ----------------------------------------------------

    #[test]
    fn equality_is_case_sensitive_and_tilde_is_not() {
        assert_eq!(count("Resources | where location == 'WestEurope'"), 0);
        assert_eq!(count("Resources | where location =~ 'WestEurope'"), 5);
        assert_eq!(count("Resources | where location != 'WestEurope'"), 8);
        assert_eq!(count("Resources | where location !~ 'WestEurope'"), 3);
        assert_eq!(count("Resources | where location <> 'westeurope'"), 3);
    }

    #[test]
    fn contains_family() {
        assert_eq!(count("Resources | where name contains 'SHOP'"), 6);
        assert_eq!(count("Resources | where name contains_cs 'SHOP'"), 0);
        assert_eq!(count("Resources | where name contains_cs 'shop'"), 6);
        assert_eq!(
            names("Resources | where name !contains 'Shop' | order by name asc"),
            ["app-admin-weu", "stlogsneu"]
        );
        assert_eq!(count("Resources | where name !contains_cs 'SHOP'"), 8);
    }

    #[test]
    fn has_matches_whole_terms() {
        assert_eq!(count("Resources | where name has 'shop'"), 5);
        assert_eq!(count("Resources | where name has 'SHOP'"), 5);
        assert_eq!(count("Resources | where name has_cs 'SHOP'"), 0);
        assert_eq!(count("Resources | where name !has 'shop'"), 3);
        assert_eq!(count("Resources | where id has 'Microsoft.Web'"), 3);
        assert_eq!(
            names("Resources | where name has_any ('admin', 'logs')"),
            ["app-admin-weu"]
        );
        assert_eq!(
            count("Resources | where name has_any (dynamic(['neu', 'weu']))"),
            3
        );
        assert_eq!(count("Resources | where name hasprefix 'sho'"), 5);
    }

    #[test]
    fn startswith_and_endswith() {
        assert_eq!(count("Resources | where name startswith 'APP-'"), 3);
        assert_eq!(count("Resources | where name startswith_cs 'APP-'"), 0);
        assert_eq!(count("Resources | where name !startswith 'app'"), 5);
        assert_eq!(
            names("Resources | where name endswith '-weu' | order by name asc"),
            ["app-admin-weu", "app-shop-weu"]
        );
        assert_eq!(count("Resources | where name endswith_cs 'WEU'"), 0);
        assert_eq!(count("Resources | where name !endswith 'weu'"), 5);
    }

    #[test]
    fn matches_regex() {
        assert_eq!(
            count("Resources | where name matches regex '^app-[a-z]+-(weu|neu)$'"),
            3
        );
        assert_eq!(count(r"Resources | where name matches regex @'^st\w+$'"), 2);
        assert_eq!(
            count(r#"Resources | where name matches regex "^st\\w+weu$""#),
            1
        );
    }

    #[test]
    fn in_operators() {
        assert_eq!(
            count("Resources | where location in ('northeurope', 'uksouth')"),
            3
        );
        assert_eq!(count("Resources | where location !in ('northeurope')"), 5);
        assert_eq!(count("Resources | where location in ('NorthEurope')"), 0);
        assert_eq!(count("Resources | where location in~ ('NorthEurope')"), 3);
        assert_eq!(
            count("Resources | where location !in~ ('NORTHEUROPE', 'WestEurope')"),
            0
        );
        assert_eq!(
            count("Resources | where location in (dynamic(['northeurope']))"),
            3
        );
        assert_eq!(count("Resources | where properties.instances in (0, 3)"), 2);
        assert_eq!(count("Resources | where properties.missing !in ('x')"), 0);
    }

    #[test]
    fn null_rules() {
        assert_eq!(count("Resources | where properties.missing == 'x'"), 0);
        assert_eq!(count("Resources | where properties.missing != 'x'"), 0);
        assert_eq!(
            count("Resources | where properties.missing < 1 or properties.missing >= 1"),
            0
        );
        assert_eq!(count("Resources | where isnull(properties.missing)"), 8);
        assert_eq!(count("Resources | where properties.missing == null"), 0);
        assert_eq!(names("Resources | where isnull(tags)"), ["stlogsneu"]);
        assert_eq!(
            names("Resources | where tags.env != 'prod'"),
            ["app-admin-weu"]
        );
        assert_eq!(count("Resources | where tags.env == 'prod'"), 6);
        assert_eq!(count("Resources | where isempty(tags.env)"), 1);
        assert_eq!(count("Resources | where isnotempty(tags.env)"), 7);
        assert_eq!(count("Resources | where isnotnull(sku)"), 2);
        // String operators read null as "".
        assert_eq!(
            count("Resources | where properties.missing contains 'x'"),
            0
        );
        assert_eq!(
            count("Resources | where properties.missing !contains 'x'"),
            8
        );
        // Three-valued logic: null or true is true, not(null) is null.
        assert_eq!(
            count("Resources | where isnull(properties.instances) or properties.instances > 2"),
            6
        );
        assert_eq!(
            names("Resources | where not(properties.instances > 0)"),
            ["app-shop-neu"]
        );
        assert_eq!(
            count("Resources | where properties.instances > 0 and true"),
            2
        );
    }

    #[test]
    fn numeric_comparisons() {
        assert_eq!(count("Resources | where properties.instances >= 1"), 2);
        assert_eq!(count("Resources | where properties.instances < 1"), 1);
        assert_eq!(count("Resources | where properties.instances <= 3"), 3);
        assert_eq!(
            count(
                "Resources | where properties.readWriteEndpoint.failoverWithDataLossGracePeriodMinutes == 60"
            ),
            2
        );
        assert_eq!(
            count(
                "Resources | where properties.readWriteEndpoint.failoverWithDataLossGracePeriodMinutes > 59.5"
            ),
            2
        );
        assert_eq!(
            count("Resources | where properties.enableAutomaticFailover == true"),
            1
        );
        assert_eq!(
            count("Resources | where properties.geoReplicationStats.canFailover"),
            1
        );
    }

    #[test]
    fn property_access_forms() {
        assert_eq!(
            count("Resources | where properties['state'] == 'Running'"),
            2
        );
        assert_eq!(
            names("Resources | where tags['env'] == 'dev'"),
            ["app-admin-weu"]
        );
        assert_eq!(
            names("Resources | where tags[\"env\"] == 'dev'"),
            ["app-admin-weu"]
        );
        assert_eq!(
            count("Resources | where properties.writeLocations[0].locationName == 'West Europe'"),
            1
        );
        assert_eq!(
            value_for("cosmos-shop", "properties.readLocations[-1].locationName"),
            json!("North Europe")
        );
        assert_eq!(
            value_for("cosmos-shop", "properties.readLocations[5].locationName"),
            Value::Null
        );
        assert_eq!(
            value_for(
                "cosmos-shop",
                "properties['readLocations'][1]['failoverPriority']"
            ),
            json!(1)
        );
        assert_eq!(
            names("Resources | where sku.name == 'Standard_GRS'"),
            ["stlogsneu"]
        );
        assert_eq!(
            count("Resources | where properties['geoReplicationStats']['status'] == 'Live'"),
            2
        );
        assert_eq!(count("Resources | where ['name'] == 'cosmos-shop'"), 1);
        assert_eq!(
            value_for("cosmos-shop", "properties.consistencyPolicy"),
            json!({"defaultConsistencyLevel": "Session"})
        );
        assert_eq!(
            value_for("cosmos-shop", "properties.state.deeper[0]"),
            Value::Null
        );
    }

    // -- literals ----------------------------------------------------------------------------

    #[test]
    fn literals() {
        let rows = q(
            r#"Resources | take 1 | project s = 'it\'s', d = "a\\b", t = "tab\there", v = @'C:\temp',
                        a = 1.5, b = 2e3, c = -4, yes = true, no = false, nothing = null"#,
        );
        assert_eq!(
            rows,
            vec![json!({
                "s": "it's", "d": "a\\b", "t": "tab\there", "v": "C:\\temp",
                "a": 1.5, "b": 2000.0, "c": -4, "yes": true, "no": false, "nothing": null
            })]
        );
    }

    #[test]
    fn dynamic_literals() {
        let rows = q(
            r#"Resources | take 1 | project d = dynamic({"a": [1, 2, {"b": null}], "c": -1.5, 'e': "x"}),
                        n = array_length(dynamic([1, [2, 3], []])), empty = dynamic([]), scalar = dynamic(7)"#,
        );
        assert_eq!(
            rows,
            vec![
                json!({"d": {"a": [1, 2, {"b": null}], "c": -1.5, "e": "x"}, "n": 3, "empty": [], "scalar": 7})
            ]
        );
        assert_eq!(
            value_for("app-shop-weu", "dynamic({'a': {'b': [10, 20]}}).a.b[1]"),
            json!(20)
        );
    }

    // -- tabular operators -------------------------------------------------------------------

    #[test]
    fn project_names() {
        let rows = q("Resources | where name == 'stshopweu' \
                      | project name, state = properties.geoReplicationStats.status, properties.primaryLocation, \
                        tostring(sku.name), strcat(name, '!'), now()");
        assert_eq!(
            rows,
            vec![json!({
                "name": "stshopweu", "state": "Live", "properties_primaryLocation": "westeurope",
                "sku_name": "Standard_RAGRS", "Column1": "stshopweu!", "Column2": "2026-03-01T12:00:00Z"
            })]
        );
        let rows = q("Resources | take 1 | project name, name, location");
        assert_eq!(rows[0].as_object().map(|m| m.len()), Some(3));
        assert!(rows[0].get("name1").is_some());
    }

    #[test]
    fn project_away_and_rename() {
        let rows = q("Resources | where name == 'cosmos-shop' | project-away properties, tags, id");
        let keys = sorted_keys(&rows[0]);
        assert_eq!(keys, ["kind", "location", "name", "resourceGroup", "type"]);
        let rows =
            q("Resources | where name == 'cosmos-shop' | project-away *Group, prop*, t*, id, k*nd");
        let keys = sorted_keys(&rows[0]);
        assert_eq!(keys, ["location", "name"]);
        let rows = q(
            "Resources | where name == 'cosmos-shop' | project name, location | project-rename region = location",
        );
        assert_eq!(
            rows,
            vec![json!({"name": "cosmos-shop", "region": "westeurope"})]
        );
    }

    #[test]
    fn extend_adds_columns_in_order() {
        let rows = q(
            "Resources | where name == 'app-shop-weu' | extend a = 2, b = a * 3 | project name, a, b",
        );
        assert_eq!(rows, vec![json!({"name": "app-shop-weu", "a": 2, "b": 6})]);
        let rows = q(
            "Resources | where name == 'app-shop-weu' | extend name = toupper(name) | project name",
        );
        assert_eq!(rows, vec![json!({"name": "APP-SHOP-WEU"})]);
    }

    #[test]
    fn summarize_aggregations() {
        assert_eq!(
            q("Resources | summarize count()"),
            vec![json!({"count_": 8})]
        );
        let rows = q(
            "Resources | summarize n = count(), running = countif(properties.state == 'Running'), \
                      regions = dcount(location) by type | where type == 'microsoft.web/sites'",
        );
        assert_eq!(
            rows,
            vec![json!({"type": "microsoft.web/sites", "n": 3, "running": 2, "regions": 2})]
        );
        let rows = q(
            "Resources | summarize min(properties.instances), max(properties.instances), \
                      sum(properties.instances), avg(properties.instances)",
        );
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row["min_properties_instances"], json!(0));
        assert_eq!(row["max_properties_instances"], json!(3));
        assert_eq!(row["sum_properties_instances"], json!(4));
        let avg = row["avg_properties_instances"].as_f64().unwrap_or_default();
        assert!((avg - 4.0 / 3.0).abs() < 1e-9, "{avg}");
        let rows = q(
            "Resources | where type =~ 'microsoft.web/sites' | order by name asc \
                      | summarize names = make_list(name), regions = make_set(location)",
        );
        assert_eq!(
            rows,
            vec![json!({
                "names": ["app-admin-weu", "app-shop-neu", "app-shop-weu"],
                "regions": ["westeurope", "northeurope"]
            })]
        );
        let rows = q(
            "Resources | where type =~ 'microsoft.storage/storageaccounts' \
                      | summarize any(location), take_any(kind), sum(properties.missing), max(todatetime(properties.geoReplicationStats.lastSyncTime))",
        );
        assert_eq!(rows[0]["any_location"], json!("westeurope"));
        assert_eq!(rows[0]["kind"], json!("StorageV2"));
        assert_eq!(rows[0]["sum_properties_missing"], json!(0));
        assert_eq!(
            rows[0]["max_properties_geoReplicationStats_lastSyncTime"],
            json!("2026-03-01T11:57:00.123456700Z")
        );
    }

    #[test]
    fn summarize_by_expressions() {
        let mut rows = q("Resources | summarize count() by env = tostring(tags.env)");
        rows.sort_by_key(|r| r["env"].to_string());
        assert_eq!(
            rows,
            vec![
                json!({"env": "", "count_": 1}),
                json!({"env": "dev", "count_": 1}),
                json!({"env": "prod", "count_": 6})
            ]
        );
        let rows =
            q("Resources | summarize count() by tostring(tags.env) | where tags_env == 'dev'");
        assert_eq!(rows, vec![json!({"tags_env": "dev", "count_": 1})]);
        let rows = q(
            "Resources | summarize regions = make_set(location) by kind, upper = toupper(type) \
                      | where upper == 'MICROSOFT.WEB/SITES'",
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["kind"], json!("app,linux"));
        assert_eq!(count("Resources | summarize by location"), 2);
        let rows = q("Resources | summarize count(), count() by count_ = location");
        let keys = sorted_keys(&rows[0]);
        assert_eq!(keys, ["count_", "count_1", "count_2"]);
    }

    #[test]
    fn summarize_empty_input() {
        assert_eq!(
            q("Resources | where name == 'nope' | summarize count()"),
            vec![json!({"count_": 0})]
        );
        assert_eq!(
            count("Resources | where name == 'nope' | summarize count() by type"),
            0
        );
    }

    #[test]
    fn count_take_limit() {
        assert_eq!(
            q("Resources | where location == 'westeurope' | count"),
            vec![json!({"Count": 5})]
        );
        assert_eq!(
            q("Resources | where location == 'mars' | count"),
            vec![json!({"Count": 0})]
        );
        assert_eq!(count("Resources | take 3"), 3);
        assert_eq!(count("Resources | limit 0"), 0);
        assert_eq!(count("Resources | take 100"), 8);
    }

    #[test]
    fn order_and_sort() {
        assert_eq!(names("Resources | order by name | take 1"), ["stshopweu"]);
        assert_eq!(
            names("Resources | sort by name asc | take 1"),
            ["app-admin-weu"]
        );
        assert_eq!(
            names(
                "Resources | where type =~ 'microsoft.web/sites' | order by location asc, name desc"
            ),
            ["app-shop-neu", "app-shop-weu", "app-admin-weu"]
        );
        let instances = |query: &str| q(query).iter().map(|r| r["i"].clone()).collect::<Vec<_>>();
        let base = "Resources | project name, i = properties.instances | ";
        assert_eq!(
            instances(&format!("{base} order by i asc"))[..4],
            [Value::Null, Value::Null, Value::Null, Value::Null]
        );
        assert_eq!(
            instances(&format!("{base} order by i desc"))[..4],
            [json!(3), json!(1), json!(0), Value::Null]
        );
        assert_eq!(
            instances(&format!("{base} order by i asc nulls last"))[..4],
            [json!(0), json!(1), json!(3), Value::Null]
        );
        assert_eq!(
            instances(&format!("{base} order by i desc nulls first"))[5..],
            [json!(3), json!(1), json!(0)]
        );
    }

    #[test]
    fn top_n() {
        assert_eq!(
            names("Resources | top 2 by name asc"),
            ["app-admin-weu", "app-shop-neu"]
        );
        assert_eq!(
            names("Resources | top 1 by properties.instances"),
            ["app-shop-weu"]
        );
        assert_eq!(
            names(
                "Resources | top 1 by todatetime(properties.geoReplicationStats.lastSyncTime) desc"
            ),
            ["stshopweu"]
        );
    }

    #[test]
    fn distinct_rows() {
        assert_eq!(count("Resources | distinct location"), 2);
        assert_eq!(count("Resources | distinct location, type"), 7);
        assert_eq!(count("Resources | distinct *"), 8);
        assert_eq!(count("Resources | project location | distinct *"), 2);
        assert_eq!(
            q("Resources | where name == 'fog-shop' | distinct name"),
            vec![json!({"name": "fog-shop"})]
        );
    }

    #[test]
    fn mv_expand_arrays_and_objects() {
        let rows = q(
            "Resources | where name == 'cosmos-shop' | mv-expand properties.readLocations \
                      | project r = properties_readLocations.locationName",
        );
        assert_eq!(
            rows,
            vec![json!({"r": "West Europe"}), json!({"r": "North Europe"})]
        );
        assert_eq!(
            count(
                "Resources | where name == 'cosmos-shop' | mv-expand loc = properties.readLocations limit 1"
            ),
            1
        );
        assert_eq!(
            count("Resources | mv-expand p = properties.partnerServers"),
            2 + 6
        );
        let rows =
            q("Resources | where name == 'app-shop-neu' | mv-expand tag = tags | project tag");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], json!({"tag": {"app": "shop"}}));
        assert_eq!(count("Resources | mv-expand e = dynamic([]) "), 0);
    }

    // -- scalar functions --------------------------------------------------------------------

    #[test]
    fn string_functions() {
        let v = |expr: &str| value_for("stshopweu", expr);
        assert_eq!(v("tolower(sku.name)"), json!("standard_ragrs"));
        assert_eq!(v("toupper(location)"), json!("WESTEUROPE"));
        assert_eq!(
            v("tostring(properties.geoReplicationStats.canFailover)"),
            json!("true")
        );
        assert_eq!(
            v("tostring(sku)"),
            json!(r#"{"name":"Standard_RAGRS","tier":"Standard"}"#)
        );
        assert_eq!(v("tostring(properties.missing)"), json!(""));
        assert_eq!(v("strlen(name)"), json!(9));
        assert_eq!(v("strlen(properties.missing)"), json!(0));
        assert_eq!(v("split(id, '/')[4]"), json!("rg-shop-westeurope"));
        assert_eq!(v("split(id, '/', 4)"), json!(["rg-shop-westeurope"]));
        assert_eq!(v("split('a,b', ',')"), json!(["a", "b"]));
        assert_eq!(
            v("strcat(name, '@', location, 1)"),
            json!("stshopweu@westeurope1")
        );
        assert_eq!(v("extract('^st([a-z]+)weu$', 1, name)"), json!("shop"));
        assert_eq!(v("extract('^x(.*)$', 1, name)"), json!(""));
        assert_eq!(
            v("extract('/resourceGroups/([^/]+)/', 1, id)"),
            json!("rg-shop-westeurope")
        );
        assert_eq!(v("substring(name, 2, 4)"), json!("shop"));
        assert_eq!(v("substring(name, 6)"), json!("weu"));
        assert_eq!(v("replace_string(name, 'weu', 'neu')"), json!("stshopneu"));
        assert_eq!(v("array_length(split(name, 'o'))"), json!(2));
        assert_eq!(v("array_length(name)"), Value::Null);
    }

    #[test]
    fn conversion_functions() {
        let v = |expr: &str| value_for("app-shop-weu", expr);
        assert_eq!(v("toint('42')"), json!(42));
        assert_eq!(v("tolong('7.9')"), json!(7));
        assert_eq!(v("tolong('seven')"), Value::Null);
        assert_eq!(v("toint(properties.instances) + 1"), json!(4));
        assert_eq!(v("todouble('2.5')"), json!(2.5));
        assert_eq!(v("toreal(3)"), json!(3.0));
        assert_eq!(v("tobool('TRUE')"), json!(true));
        assert_eq!(v("parse_json('{\"a\": [1, 2]}').a[1]"), json!(2));
        assert_eq!(v("todynamic('not json')"), json!("not json"));
        assert_eq!(v("todatetime('2026-01-02')"), json!("2026-01-02T00:00:00Z"));
        assert_eq!(v("todatetime('garbage')"), Value::Null);
    }

    #[test]
    fn conditional_functions() {
        let v = |expr: &str| value_for("stlogsneu", expr);
        assert_eq!(
            v("iff(location == 'westeurope', 'primary', 'secondary')"),
            json!("secondary")
        );
        assert_eq!(
            v("iif(location == 'northeurope', 'primary', 'secondary')"),
            json!("primary")
        );
        assert_eq!(v("iff(properties.missing == 1, 'yes', 'no')"), json!("no"));
        let case = "case(sku.name == 'Standard_RAGRS', 'ragrs', sku.name == 'Standard_GRS', 'grs', 'other')";
        assert_eq!(v(case), json!("grs"));
        assert_eq!(v("case(false, 1, false, 2, 3)"), json!(3));
        assert_eq!(
            v("coalesce(properties.missing, '', tags.env, 'fallback')"),
            json!("fallback")
        );
        assert_eq!(
            v("coalesce(properties.missing, sku.tier)"),
            json!("Standard")
        );
        assert_eq!(v("isnull(coalesce(properties.missing))"), json!(true));
        assert_eq!(v("not(isnull(tags))"), json!(false));
    }

    #[test]
    fn arithmetic() {
        let v = |expr: &str| value_for("app-shop-weu", expr);
        assert_eq!(v("properties.instances * 2 + 1"), json!(7));
        assert_eq!(v("1 + 2 * 3"), json!(7));
        assert_eq!(v("(1 + 2) * 3"), json!(9));
        assert_eq!(v("10 - 4 - 3"), json!(3));
        assert_eq!(v("7 / 2"), json!(3));
        assert_eq!(v("7.0 / 2"), json!(3.5));
        assert_eq!(v("7 % 3"), json!(1));
        assert_eq!(v("-properties.instances"), json!(-3));
        assert_eq!(v("1 / 0"), Value::Null);
        assert_eq!(v("9223372036854775807 + 1"), Value::Null);
        assert_eq!(v("properties.missing + 1"), Value::Null);
        assert!(matches!(
            err("Resources | extend x = name + 'x'"),
            KqlError::Eval { .. }
        ));
    }

    // -- datetimes ---------------------------------------------------------------------------

    #[test]
    fn datetime_comparisons_with_ago() {
        let recent =
            "Resources | where todatetime(properties.geoReplicationStats.lastSyncTime) > ago(15m)";
        assert_eq!(names(recent), ["stshopweu"]);
        // An RFC 3339 string meeting a datetime compares as a datetime.
        assert_eq!(
            names("Resources | where properties.geoReplicationStats.lastSyncTime > ago(15m)"),
            ["stshopweu"]
        );
        assert_eq!(
            names("Resources | where ago(1h) > properties.geoReplicationStats.lastSyncTime"),
            ["stlogsneu"]
        );
        assert_eq!(
            count(
                "Resources | where properties.geoReplicationStats.lastSyncTime >= datetime(2026-03-01T10:00:00Z)"
            ),
            2
        );
        assert_eq!(
            count(
                "Resources | where properties.geoReplicationStats.lastSyncTime > datetime(2026-03-01 10:00)"
            ),
            1
        );
        assert_eq!(count("Resources | where datetime(2026-03-01) < now()"), 8);
        assert_eq!(count("Resources | where name < ago(1d)"), 0);
        assert_eq!(
            count(
                "Resources | where todatetime(properties.geoReplicationStats.lastSyncTime) == datetime(2026-03-01T10:00:00Z)"
            ),
            1
        );
    }

    #[test]
    fn datetime_arithmetic_and_timespans() {
        let v = |expr: &str| value_for("app-shop-weu", expr);
        assert_eq!(v("ago(30s)"), json!("2026-03-01T11:59:30Z"));
        assert_eq!(v("ago(100ms)"), json!("2026-03-01T11:59:59.900Z"));
        assert_eq!(v("ago(1h)"), json!("2026-03-01T11:00:00Z"));
        assert_eq!(v("ago(2d)"), json!("2026-02-27T12:00:00Z"));
        assert_eq!(v("ago(5m)"), json!("2026-03-01T11:55:00Z"));
        assert_eq!(v("ago(1.5h)"), json!("2026-03-01T10:30:00Z"));
        assert_eq!(v("now() - 2d"), json!("2026-02-27T12:00:00Z"));
        assert_eq!(v("now(-1h)"), json!("2026-03-01T11:00:00Z"));
        assert_eq!(
            v("datetime(2026-01-01T00:00:00Z) + 36h"),
            json!("2026-01-02T12:00:00Z")
        );
        assert_eq!(
            v("now() - datetime(2026-02-28T10:30:00Z)"),
            json!("1.01:30:00")
        );
        assert_eq!(v("2h + 30m"), json!("02:30:00"));
        assert_eq!(v("1h / 30m"), json!(2.0));
        let lag = |name: &str| {
            value_for(
                name,
                "now() - todatetime(properties.geoReplicationStats.lastSyncTime)",
            )
        };
        assert_eq!(lag("stshopweu"), json!("00:02:59.8765433"));
        assert_eq!(lag("stlogsneu"), json!("02:00:00"));
        // A timespan stored by `extend` still compares as a timespan.
        let stale = "Resources | extend lag = now() - todatetime(properties.geoReplicationStats.lastSyncTime) \
                     | where lag > 1h | project name";
        assert_eq!(names(stale), ["stlogsneu"]);
        assert_eq!(
            value_for(
                "stlogsneu",
                "properties.geoReplicationStats.lastSyncTime + 1h"
            ),
            json!("2026-03-01T11:00:00Z")
        );
    }

    #[test]
    fn span_text_round_trips() {
        for text in [
            "00:00:00",
            "02:00:00",
            "00:02:59.8765433",
            "1.01:30:00",
            "-00:05:00",
            "12.00:00:00.0000001",
        ] {
            let span = parse_span(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(format_span(span), text);
        }
        assert_eq!(parse_span("nope"), None);
        assert_eq!(parse_span("1:2"), None);
    }

    // -- errors ------------------------------------------------------------------------------

    #[test]
    fn unknown_operator_suggests() {
        parse_error(
            "Resources | wher location == 'x'",
            12,
            &["expected an operator after `|` at 12, found `wher`; did you mean `where`?"],
        );
        parse_error(
            "Resources | summarise count()",
            12,
            &["did you mean `summarize`?"],
        );
        parse_error("Resources | frobnicate", 12, &["operators are where"]);
        parse_error("wher name == 'x'", 0, &["did you mean `where`?"]);
        parse_error(
            "Resources |",
            11,
            &["expected an operator after `|` at 11, found end of query"],
        );
        parse_error("Resources | where x == 1 | ", 27, &["found end of query"]);
    }

    #[test]
    fn expression_errors_name_positions() {
        parse_error(
            "Resources | where",
            17,
            &["expected an expression at 17, found end of query"],
        );
        parse_error(
            "Resources | where name == 'x",
            26,
            &["unterminated string starting at 26"],
        );
        parse_error(
            "Resources | where name = 'x'",
            23,
            &["expected `|` or end of query (use `==` to compare) at 23"],
        );
        parse_error("Resources | where name == 'a' name", 30, &["found `name`"]);
        parse_error(
            "Resources | where name == 'a' #",
            30,
            &["unexpected character `#` at 30"],
        );
        parse_error(
            "Resources | where (name == 'a'",
            30,
            &["expected `)` at 30"],
        );
        parse_error("Resources | where name in 'a'", 26, &["expected `(`"]);
        parse_error(
            "Resources | where tags. == 'a'",
            24,
            &["a property name after `.`"],
        );
        parse_error(
            "Resources | where tolowr(name) == 'x'",
            18,
            &["unknown function `tolowr` at 18; did you mean `tolower`?"],
        );
        parse_error(
            "Resources | where iff(true, 1) == 1",
            18,
            &["`iff()` at 18 takes 3 arguments, found 2"],
        );
        parse_error(
            "Resources | where case(true, 1, 2, 3) == 1",
            18,
            &["condition/value pairs"],
        );
        parse_error(
            "Resources | where name matches regex '('",
            37,
            &["invalid regular expression at 37"],
        );
        parse_error(
            "Resources | where extract(name, 1, name) == ''",
            26,
            &["string literal regex"],
        );
        parse_error(
            "Resources | where count() > 1",
            18,
            &["is an aggregation; use it in `summarize`"],
        );
        parse_error(
            "Resources | where ago(5y) < now()",
            22,
            &["unknown timespan unit `y` at 22"],
        );
        parse_error(
            "Resources | extend d = datetime(yesterday)",
            23,
            &["invalid datetime `yesterday` at 23"],
        );
        parse_error(
            "Resources | where 99999999999999999999 > 1",
            18,
            &["too large"],
        );
        parse_error(
            "Resources | where dynamic([1,) == 1",
            29,
            &["a JSON value inside `dynamic()`"],
        );
    }

    #[test]
    fn operator_argument_errors() {
        parse_error("Resources | take", 16, &["a non-negative whole number"]);
        parse_error("Resources | take -1", 17, &["a non-negative whole number"]);
        parse_error("Resources | top 3 name", 18, &["expected `by` at 18"]);
        parse_error("Resources | order name", 18, &["expected `by`"]);
        parse_error(
            "Resources | summarize",
            21,
            &["an aggregation such as `count()` or `by`"],
        );
        parse_error(
            "Resources | summarize foo()",
            22,
            &["expected an aggregation"],
        );
        parse_error(
            "Resources | summarize coun()",
            22,
            &["did you mean `count`?"],
        );
        parse_error(
            "Resources | summarize count() by",
            32,
            &["expected an expression"],
        );
        parse_error(
            "Resources | summarize count(name)",
            22,
            &["`count()` at 22 takes no arguments, found 1"],
        );
        parse_error(
            "Resources | summarize name",
            22,
            &["expected an aggregation"],
        );
        parse_error("Resources | project-rename a", 28, &["expected `=`"]);
        parse_error("Resources | project", 19, &["expected an expression"]);
    }

    #[test]
    fn unknown_columns_are_reported() {
        parse_error(
            "Resources | where resourcegroup == 'x'",
            18,
            &[
                "unknown column `resourcegroup` at 18; did you mean `resourceGroup`? (column names are case-sensitive)",
            ],
        );
        parse_error(
            "Resources | project name | where location == 'x'",
            33,
            &["unknown column `location` at 33"],
        );
        parse_error(
            "Resources | summarize count() by type | project name",
            48,
            &["columns here are type, count_"],
        );
        parse_error(
            "Resources | count | project name",
            28,
            &["unknown column `name`"],
        );
        parse_error(
            "Resources | project-away nmae",
            25,
            &["did you mean `name`?"],
        );
        // Columns created along the pipeline are known.
        assert_eq!(
            count("Resources | extend x = 1 | project-rename y = x | where y == 1"),
            8
        );
    }

    #[test]
    fn unsupported_features() {
        unsupported_error("Resources | lookup (Resources) on id", "`lookup`");
        unsupported_error(
            "Resources | union kind=inner ResourceContainers",
            "`union kind=inner`",
        );
        unsupported_error(
            "Resources | join withsource=t (Resources) on id",
            "`withsource` parameter of `join`",
        );
        unsupported_error("Resources | parse-where name with a '-' b", "`parse-where`");
        unsupported_error(
            "Resources | parse kind=relaxed name with a '-' b",
            "`parse kind=relaxed`",
        );
        unsupported_error(
            "Resources | make-series count() on x step 1d",
            "`make-series`",
        );
        unsupported_error("Resources | render table", "`render`");
        unsupported_error("Resources | mv-apply x on (take 1)", "`mv-apply`");
        unsupported_error("let x = 1; Resources", "`let`");
        unsupported_error(
            "Resources | summarize arg_max(name, *) by type",
            "`arg_max()`",
        );
        unsupported_error("Resources | summarize count() by bin(now(), 1h)", "`bin()`");
        unsupported_error(
            "Resources | where properties.instances between (1 .. 3)",
            "`between`",
        );
        let message = err("Resources | lookup (Resources) on id").to_string();
        assert!(
            message.contains("not supported")
                && message.contains("`where`")
                && message.contains("mv-expand"),
            "{message}"
        );
    }

    #[test]
    fn eval_errors() {
        assert!(matches!(
            err("Resources | where name"),
            KqlError::Eval { .. }
        ));
        let bad = run_at("Resources", &[json!(1)], now());
        assert!(matches!(bad, Err(KqlError::Eval { .. })), "{bad:?}");
        assert_eq!(
            run_at("Resources | where name == 'x'", &[], now()),
            Ok(vec![])
        );
        assert!(run("Resources | where ago(1d) < now() | count", &fixture()).is_ok());
    }

    #[test]
    fn nesting_is_capped() {
        let deep = |n: usize| format!("Resources | where {}1{} == 1", "(".repeat(n), ")".repeat(n));
        assert_eq!(count(&deep(40)), 8);
        // The deepest accepted query still evaluates (on a 2 MiB test thread, in debug builds).
        let deepest = (1..MAX_DEPTH * 2)
            .take_while(|&n| run_at(&deep(n), &fixture(), now()).is_ok())
            .last();
        assert_eq!(deepest, Some(MAX_DEPTH - 1));
        let mixed = format!(
            "Resources | where {}",
            "not(-(1 + ".repeat(20) + "1" + &"))".repeat(20)
        );
        assert!(
            run_at(&mixed, &fixture(), now()).is_ok()
                || matches!(err(&mixed), KqlError::Parse { .. })
        );
        parse_error(&deep(500), 18 + MAX_DEPTH, &["nested too deeply"]);
        assert!(matches!(
            err(&format!("Resources | where {}1 == 1", "-".repeat(10_000))),
            KqlError::Parse { .. }
        ));
        assert!(matches!(
            err(&format!(
                "Resources | where {}true{}",
                "not(".repeat(500),
                ")".repeat(500)
            )),
            KqlError::Parse { .. }
        ));
        let dynamic = format!(
            "Resources | extend d = dynamic({}1{})",
            "[".repeat(1_000),
            "]".repeat(1_000)
        );
        assert!(matches!(err(&dynamic), KqlError::Parse { .. }));
        let chain = |n: usize| format!("Resources | where {}", vec!["1 == 1"; n].join(" and "));
        assert_eq!(count(&chain(20)), 8);
        assert!(matches!(err(&chain(2_000)), KqlError::Parse { .. }));
        let sums = format!("Resources | project x = {}", vec!["1"; 5_000].join(" + "));
        assert!(matches!(err(&sums), KqlError::Parse { .. }));
    }

    #[test]
    fn suggestions_tolerate_typos() {
        assert_eq!(edit_distance("wher", "where"), 1);
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            did_you_mean("projct", OPERATORS.iter().copied()),
            "; did you mean `project`?"
        );
        assert_eq!(did_you_mean("zzzzzz", OPERATORS.iter().copied()), "");
    }

    #[test]
    fn supported_describes_the_subset() {
        let text = supported();
        for word in [
            "where",
            "summarize",
            "mv-expand",
            "ago",
            "matches regex",
            "in~",
        ] {
            assert!(text.contains(word), "{word}");
        }
    }

    // -- robustness --------------------------------------------------------------------------

    const VALID: &[&str] = &[
        "Resources | where type =~ 'microsoft.web/sites' and location == 'northeurope' | project name, state = properties.state",
        "resources | where resourceGroup =~ 'rg-shop-northeurope' | summarize count() by type",
        "Resources | where properties.geoReplicationStats.lastSyncTime < ago(15m) | extend lag = now() - todatetime(properties.geoReplicationStats.lastSyncTime) | top 3 by lag desc",
        "Resources | mv-expand loc = properties.readLocations | project r = tostring(loc['locationName']), p = toint(loc.failoverPriority) | order by p asc nulls last",
        "Resources | where name matches regex @'^app-\\w+$' or tags.env in~ ('PROD', \"dev\") | summarize n = countif(isnotempty(tags.app)), l = make_list(name) by kind | take 5",
        "Resources | extend d = dynamic({'a': [1, -2.5e3, {\"b\": null}]}) | project x = iff(d.a[0] == 1, strcat('a', \"b\"), case(false, 'x', 'y')), datetime(2026-01-01T00:00:00Z) + 1d",
        "where split(id, '/')[4] !contains_cs 'X' | distinct location, type | count // done",
        "(Resources | project id, l = location) | join kind=leftouter (Resources | summarize n = count() by l = location) on $left.l == $right.l | union (resourcecontainers | project id) | parse kind=regex id with '/resourceGroups/' rg:string '/' rest | project id, n, rg",
    ];

    /// Tiny deterministic generator for mutation positions and bytes.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, bound: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(self.0 >> 33).unwrap_or(0) % bound.max(1)
        }
    }

    fn exercise(query: &str, rows: &[Value]) {
        // Either answer is fine; the point is that nothing panics.
        let _ = run_at(query, rows, now());
    }

    #[test]
    fn valid_queries_run() {
        for query in VALID {
            assert!(
                run_at(query, &fixture(), now()).is_ok(),
                "{query}: {:?}",
                run_at(query, &fixture(), now())
            );
        }
    }

    #[test]
    fn truncated_and_mutated_queries_never_panic() {
        let rows = fixture();
        let pieces = [
            "(", ")", "'", "\"", "|", "[", "]", "-", "~", "!", "9", "é", "==", ".", ",", "\\", "@",
            "1d", "{", "by", " ",
        ];
        let mut tried = 0;
        for query in VALID {
            let cuts: Vec<usize> = query.char_indices().map(|(i, _)| i).collect();
            for &cut in &cuts {
                exercise(&query[..cut], &rows);
                exercise(&query[cut..], &rows);
                let mut dropped = query.to_string();
                dropped.remove(cut);
                exercise(&dropped, &rows);
                tried += 3;
            }
            let mut rng = Lcg(query.len() as u64);
            for _ in 0..300 {
                let mut mutated = query.to_string();
                for _ in 0..=rng.next(3) {
                    let boundaries: Vec<usize> = mutated
                        .char_indices()
                        .map(|(i, _)| i)
                        .chain([mutated.len()])
                        .collect();
                    let at = boundaries[rng.next(boundaries.len())];
                    mutated.insert_str(at, pieces[rng.next(pieces.len())]);
                }
                exercise(&mutated, &rows);
                tried += 1;
            }
        }
        assert!(tried > 2_000, "{tried}");
    }

    #[test]
    fn hostile_inputs_never_panic() {
        let rows = fixture();
        let weird_rows = vec![
            json!({}),
            json!({"properties": [1, 2]}),
            json!({"name": 5, "tags": "x"}),
            json!({"type": null}),
        ];
        let hostile = [
            String::new(),
            " ".to_string(),
            "|".repeat(100),
            "'".repeat(101),
            "datetime(".to_string(),
            "Resources | where name == @'".to_string(),
            "Resources | where x[".to_string(),
            "Resources | take 99999999999999999999999".to_string(),
            "Resources | extend x = 9223372036854775807 * 2, y = -9223372036854775807 - 2, z = 1e308 * 10".to_string(),
            "Resources | extend t = ago(106751d) - 106751d, u = now() + 9223372036854775807tick".to_string(),
            "Resources | extend s = split(name, ''), t = substring(name, -5, -1), u = properties.x[-9223372036854775807]".to_string(),
            "Resources | where name matches regex 'a{1000}{1000}{1000}'".to_string(),
            "Resources | order by properties desc, tags asc, 1 / 0 | summarize sum(properties), avg(tags), dcount(properties)".to_string(),
            "Resources | mv-expand properties | mv-expand tags | distinct *".to_string(),
            format!("Resources | where name in ({})", vec!["'x'"; 5_000].join(",")),
            format!("Resources | project {}", (0..300).map(|i| format!("c{i} = {i}")).collect::<Vec<_>>().join(", ")),
            "Resources | where 'é' contains 'É' and 'ÄÖ' =~ 'äö' | project strlen('日本'), toupper('straße')".to_string(),
        ];
        for query in &hostile {
            exercise(query, &rows);
            exercise(query, &weird_rows);
        }
        assert_eq!(
            run_at("Resources | where name has 'x'", &weird_rows, now()).map(|r| r.len()),
            Ok(0)
        );
    }
}
