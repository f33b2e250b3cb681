//! Probe endpoints: an HTTP request for a scenario host (`Host: shop.example.com`) is answered
//! by the first backend whose region is up and whose condition holds, as Front Door or
//! Traffic Manager would route it.

use super::json::loosely_equal;
use super::reply::Reply;
use super::state::SimState;
use drbook_core::runbook::path::JsonPath;

/// Whether a `Host` header (without its port) names the simulator itself rather than a
/// scenario endpoint.
pub fn is_local(host: &str) -> bool {
    let h = host_without_port(host);
    h.is_empty() || h.eq_ignore_ascii_case("localhost") || h == "127.0.0.1" || h == "::1"
}

pub fn host_without_port(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

fn norm_path(p: &str) -> &str {
    let p = p.split('?').next().unwrap_or("");
    let t = p.trim_end_matches('/');
    if t.is_empty() { "/" } else { t }
}

/// Whether every query parameter the endpoint's URL names is in the request with that value
/// (so `?services=Boards` and `?services=Repos` are different endpoints on one path).
fn query_matches(url: &url::Url, query: &str) -> bool {
    let asked: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs().all(|(k, v)| {
        asked
            .iter()
            .any(|(ak, av)| ak.eq_ignore_ascii_case(&k) && *av == v)
    })
}

/// Answers a probe of `host` for `path` (with its `query`).
pub fn probe(st: &SimState, host: &str, path: &str, query: &str) -> Reply {
    let host = host_without_port(host);
    let mut host_known = false;
    for ep in &st.endpoints {
        let Ok(url) = url::Url::parse(&ep.url) else {
            continue;
        };
        if !url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host)) {
            continue;
        }
        host_known = true;
        if norm_path(url.path()) != norm_path(path) || !query_matches(&url, query) {
            continue;
        }
        return match ep.backends.iter().find(|b| serves(st, b)) {
            Some(b) => {
                let body = ep.body.replace("${region}", &b.region);
                let ctype = if body.trim_start().starts_with(['{', '[']) {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                };
                Reply::text(ep.status, body)
                    .header("Content-Type", ctype)
                    .header("X-Served-By-Region", b.region.clone())
            }
            None => Reply::text(503, "no healthy backend"),
        };
    }
    if host_known {
        Reply::text(404, format!("no endpoint {path} on {host} in the scenario"))
    } else {
        Reply::text(502, format!("unknown host {host} in scenario"))
    }
}

/// A backend serves when its region is up and its condition (if any) holds.
fn serves(st: &SimState, b: &super::scenario::Backend) -> bool {
    if st.is_down(&b.region) {
        return false;
    }
    let Some(id) = &b.resource else {
        return true;
    };
    let Some(res) = st.get(id) else {
        return false;
    };
    let (Some(path), Some(expected)) = (&b.path, &b.equals) else {
        return true;
    };
    let doc = st.rendered(res);
    JsonPath::parse(path)
        .map(|p| {
            p.select(&doc)
                .first()
                .is_some_and(|v| loosely_equal(v, expected))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(is_local("127.0.0.1:8443"));
        assert!(is_local("localhost"));
        assert!(is_local("[::1]:80"));
        assert!(!is_local("shop.example.com"));
        assert_eq!(
            host_without_port("shop.example.com:443"),
            "shop.example.com"
        );
        assert_eq!(norm_path("/healthz/?x=1"), "/healthz");
        assert_eq!(norm_path(""), "/");
    }

    #[test]
    fn endpoint_queries_must_be_present() {
        let u = url::Url::parse("https://s.example/x?services=Boards&geo=EU").unwrap();
        assert!(query_matches(&u, "geo=EU&services=Boards&extra=1"));
        assert!(!query_matches(&u, "services=Repos&geo=EU"));
        assert!(!query_matches(&u, ""));
        let plain = url::Url::parse("https://s.example/x").unwrap();
        assert!(query_matches(&plain, "anything=1"));
    }
}
