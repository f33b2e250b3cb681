//! The words of the supported subset: operators, tables, aggregations, functions and their
//! arity, and the near-miss suggestions of errors.

pub(super) const OPERATORS: &[&str] = &[
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

pub(super) const UNSUPPORTED_OPERATORS: &[&str] = &[
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

pub(super) const AGGREGATIONS: &[&str] = &[
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

pub(super) const UNSUPPORTED_AGGREGATIONS: &[&str] = &[
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

pub(super) const UNSUPPORTED_FUNCTIONS: &[&str] = &[
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

pub(super) const ARG_COLUMNS: &[&str] = &[
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
pub(super) enum Func {
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
pub(super) enum MathFn {
    Exp,
    Exp2,
    Exp10,
    Ln,
    Log2,
    Log10,
    Sqrt,
}

impl MathFn {
    pub(super) fn apply(self, x: f64) -> f64 {
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
pub(super) const FUNCTIONS: &[(&str, Func, usize, usize)] = &[
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
pub(super) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
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
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

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
}
