//! The precedence-climbing parser: tokens to a [`Query`], depth-capped so it never panics.

use super::*;

pub(super) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    eof: Token,
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str) -> Result<Self> {
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

    pub(super) fn parse_query(&mut self) -> Result<Query> {
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

pub(super) fn check_arity(
    name: &str,
    pos: usize,
    found: usize,
    min: usize,
    max: usize,
) -> Result<()> {
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

pub(super) fn compile_regex(pattern: &str, pos: usize) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| parse_err(pos, format!("invalid regular expression at {pos}: {e}")))
}

pub(super) fn parse_datetime_literal(raw: &str, pos: usize) -> Result<Val> {
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
pub(super) fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

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
}
