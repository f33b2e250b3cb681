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
//!
//! A query passes through the submodules in turn: `lexer` (tokens), `parser` (the `ast`, using
//! the words of `vocab`), `check` (columns), then `eval` (operators; `eval/expr` for expressions
//! and functions) under the `value` rules. They were one file and still share one namespace
//! (`use super::*`), each item `pub(super)`: private to the query engine, which only [`run`]
//! and [`run_tables`] (the fuzz target's entry) enter.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Number, Value};

mod ast;
mod check;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod testutil;
mod value;
mod vocab;

use ast::*;
use check::*;
use eval::*;
use lexer::*;
use parser::*;
use value::*;
pub use vocab::TABLES;
use vocab::*;

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

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use serde_json::json;

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

    /// The rows the fuzz target (`fuzz/fuzz_targets/kql.rs`) queries: a few of two tables.
    fn fuzz_tables(name: &str) -> Option<Vec<Value>> {
        match name {
            "resources" => Some(vec![
                json!({"id": "/s/1/rg/a/p/x", "name": "x", "type": "microsoft.web/sites", "location": "westeurope",
                       "resourceGroup": "a", "subscriptionId": "1", "tags": {"env": "prod"},
                       "properties": {"state": "Running", "list": [1, "two", {"three": 3}], "when": "2026-01-01T00:00:00Z"}}),
                json!({"id": "/s/1/rg/b/p/y", "name": "y", "type": "microsoft.sql/servers/databases", "location": "northeurope",
                       "resourceGroup": "b", "subscriptionId": "1", "tags": null, "properties": {"failoverGroupId": "/f"}}),
            ]),
            "resourcecontainers" => Some(vec![
                json!({"id": "/s/1", "name": "sub", "type": "microsoft.resources/subscriptions", "subscriptionId": "1"}),
                json!({"id": "/s/1/rg/a", "name": "a", "type": "microsoft.resources/subscriptions/resourcegroups", "location": "westeurope"}),
            ]),
            _ => None,
        }
    }

    /// What the fuzz target does with its bytes, plus the bare parser: either may refuse, and a
    /// panic fails the test.
    fn fuzz_once(data: &[u8]) {
        let query = String::from_utf8_lossy(data);
        let _ = Parser::new(&query).and_then(|mut parser| parser.parse_query());
        let _ = run_tables_at(&query, &fuzz_tables, now());
    }

    /// The fuzz corpus runs in every `cargo test`, not only under cargo-fuzz (which needs a
    /// nightly toolchain): each seed, every truncation, byte flips (which also split UTF-8
    /// sequences) and seeds spliced into each other.
    #[test]
    fn fuzz_seeds_and_their_mutations_never_panic() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("fuzz/seeds-kql");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("seed directory entry").path())
            .collect();
        paths.sort();
        let seeds: Vec<Vec<u8>> = paths
            .iter()
            .map(|path| std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .collect();
        assert!(
            seeds.len() >= 4,
            "{} seeds in {}",
            seeds.len(),
            dir.display()
        );
        let mut tried = 0;
        for (path, seed) in paths.iter().zip(&seeds) {
            let query = String::from_utf8_lossy(seed);
            // A seed that does not parse only explores the error path; keep the corpus valid.
            assert!(
                Parser::new(&query)
                    .and_then(|mut parser| parser.parse_query())
                    .is_ok(),
                "{} does not parse",
                path.display()
            );
            fuzz_once(seed);
            for cut in 0..seed.len() {
                fuzz_once(&seed[..cut]);
                fuzz_once(&seed[cut..]);
                tried += 2;
            }
            let mut rng = Lcg(seed.len() as u64);
            for _ in 0..200 {
                let mut mutated = seed.clone();
                for _ in 0..=rng.next(4) {
                    let at = rng.next(mutated.len());
                    let mask = [0x01, 0x20, 0x80, 0xff][rng.next(4)];
                    if let Some(byte) = mutated.get_mut(at) {
                        *byte ^= mask;
                    }
                }
                fuzz_once(&mutated);
                tried += 1;
            }
            for other in &seeds {
                let (head, tail) = (rng.next(seed.len()), rng.next(other.len()));
                fuzz_once(&[&seed[..head], &other[tail..]].concat());
                tried += 1;
            }
        }
        assert!(tried > 1_000, "{tried}");
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
