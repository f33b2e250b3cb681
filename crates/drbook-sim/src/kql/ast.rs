//! The syntax tree the parser builds and the column check annotates.

use super::*;

/// The type of a column `parse` extracts (`name:long`); `string` when none is given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum ParseType {
    Str,
    Long,
    Real,
    Bool,
    DateTime,
    Dynamic,
}

/// A tabular expression: a source and the operators piped after it.
#[derive(Debug)]
pub(super) struct Query {
    pub(super) source: Source,
    pub(super) ops: Vec<Op>,
}

#[derive(Debug)]
pub(super) enum Source {
    /// A Resource Graph table, by its lower-case name.
    Table(String),
    /// `union A, (B | ...)` at the start of a query.
    Union(Vec<Query>),
}

/// The join flavours Resource Graph supports (learn.microsoft.com, "Understanding the Azure
/// Resource Graph query language"), with KQL's default `innerunique`: the left side
/// deduplicated on the key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
    FullOuter,
}

pub(super) const JOIN_KINDS: &[(&str, JoinKind)] = &[
    ("innerunique", JoinKind::InnerUnique),
    ("inner", JoinKind::Inner),
    ("leftouter", JoinKind::LeftOuter),
    ("fullouter", JoinKind::FullOuter),
];

/// Kusto's other join flavours, which Resource Graph refuses.
pub(super) const UNSUPPORTED_JOIN_KINDS: &[&str] = &[
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
pub(super) struct JoinShape {
    pub(super) left: Vec<String>,
    /// (the right side's column, its name in the output)
    pub(super) right: Vec<(String, String)>,
}

#[derive(Debug)]
pub(super) enum Op {
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
pub(super) struct SortKey {
    pub(super) expr: Expr,
    pub(super) desc: bool,
    pub(super) nulls_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum AggKind {
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
pub(super) struct Agg {
    pub(super) kind: AggKind,
    pub(super) arg: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum StrKind {
    Contains,
    StartsWith,
    EndsWith,
    Has,
    HasPrefix,
    HasSuffix,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum BinOp {
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
pub(super) enum Step {
    Field(String),
    Index(Expr),
}

#[derive(Debug)]
pub(super) enum Expr {
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
pub(super) enum Infix {
    Bin(BinOp),
    In { negated: bool, ci: bool },
    HasAny,
    Matches,
}

pub(super) fn infix_of(tok: &Tok) -> Option<(Infix, u8)> {
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

pub(super) fn string_op(word: &str) -> Option<BinOp> {
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
pub(super) fn infer_name(expr: &Expr) -> Option<String> {
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
pub(super) fn dedupe_names<'a>(names: impl IntoIterator<Item = &'a mut String>) {
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
