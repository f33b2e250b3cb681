//! The grammar of an ARM path, with no client: what runbook validation and the client both
//! check before a request names a resource.

/// Why an ARM path would not reach the resource it names, if so. URL parsers and servers
/// normalise `.` and `..` segments away, so `/subscriptions/a/../b` is a request for
/// `/subscriptions/b`: not what the operator confirmed nor what the log says. The same goes
/// for their percent-encoded forms (`%2e`, any case, or double-encoded as `%252e`), an
/// encoded slash or backslash (`%2f`, `%5c`) that a proxy or server may decode, a raw
/// backslash (read as `/`), and a `#`, which cuts the path short. Only the path is looked
/// at: what follows `?` is the query, the server's to read.
pub fn path_problem(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    for (enc, what) in [
        ("%2e", "an encoded `.` (`%2e`)"),
        ("%2f", "an encoded `/` (`%2f`)"),
        ("%5c", "an encoded `\\` (`%5c`)"),
        ("%25", "an encoded `%` (`%25`, a double encoding)"),
    ] {
        if lower.contains(enc) {
            return Some(what.to_string());
        }
    }
    if path.contains('\\') {
        return Some("a backslash (read as `/`)".to_string());
    }
    if path.contains('#') {
        return Some("a `#` (it cuts the path short)".to_string());
    }
    path.split('/')
        .find(|seg| *seg == "." || *seg == "..")
        .map(|seg| format!("a `{seg}` segment"))
}
