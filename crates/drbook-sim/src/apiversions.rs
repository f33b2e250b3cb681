//! The `api-version` check ARM makes before anything else: each resource type accepts only the
//! versions its provider registered. The table is read from tests/contracts/arm.toml (the
//! versions the Azure REST API specs list, with their evidence), compiled in.
//!
//! Refusals answer as ARM does: types served by ARM itself (Microsoft.Resources) with 400
//! `InvalidApiVersionParameter`, resource providers' types with 400
//! `NoRegisteredProviderFound`, an unknown type of a known namespace with 404
//! `InvalidResourceType`, an unknown namespace with 400 `InvalidResourceNamespace`.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::arm::Req;
use super::armid::{ResourceId, normalize_region, segments};
use super::reply::Reply;
use super::state::{SimState, group_key};

pub struct TypeVersions {
    /// `Microsoft.Web/sites`, nested types with every type segment.
    pub name: &'static str,
    /// Served by ARM itself rather than by a resource provider.
    pub arm: bool,
    /// Oldest first.
    pub versions: Vec<&'static str>,
}

/// The `[[type]]` tables of the contracts, compiled in: one source for the tests and the
/// simulator, read once on the first request.
static TYPES: LazyLock<Vec<TypeVersions>> = LazyLock::new(|| {
    #[derive(serde::Deserialize)]
    struct Contract {
        #[serde(rename = "type")]
        types: Vec<ContractType>,
    }
    #[derive(serde::Deserialize)]
    struct ContractType {
        #[serde(rename = "type")]
        name: String,
        #[serde(default)]
        arm: bool,
        api_versions: Vec<String>,
    }
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    // ok: a file compiled into the binary, not input; the unit tests parse it too.
    let c: Contract = toml::from_str(include_str!("../../../tests/contracts/arm.toml"))
        .expect("tests/contracts/arm.toml parses");
    c.types
        .into_iter()
        .map(|t| TypeVersions {
            name: leak(t.name),
            arm: t.arm,
            versions: t.api_versions.into_iter().map(leak).collect(),
        })
        .collect()
});

/// The versions `type_name` accepts (its name compares without case).
pub fn supported(type_name: &str) -> Option<&'static TypeVersions> {
    TYPES
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(type_name))
}

/// What a request addresses, for the api-version check: `None` when the simulator does not
/// check it (its own operation URLs, extension resources, paths no route serves).
pub fn type_of(method: &str, path: &str) -> Option<String> {
    let segs = segments(path);
    let is = |i: usize, w: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(w));
    let providers: Vec<usize> = (0..segs.len()).filter(|&i| is(i, "providers")).collect();
    if let Some(&i) = providers.last()
        && is(i + 1, "Microsoft.ResourceHealth")
    {
        return is(i + 2, "availabilityStatuses")
            .then(|| "Microsoft.ResourceHealth/availabilityStatuses".to_string());
    }
    match providers.as_slice() {
        [] => {
            if !is(0, "subscriptions") {
                return None;
            }
            let arm = |t: &str| Some(format!("Microsoft.Resources/{t}"));
            match segs.len() {
                1 | 2 => arm("subscriptions"),
                3 if is(2, "resources") => arm("resources"),
                3 | 4 if is(2, "resourceGroups") => arm("resourceGroups"),
                5 if is(2, "resourceGroups") && is(4, "resources") => arm("resources"),
                _ => None,
            }
        }
        [i] => {
            let after = &segs[i + 1..];
            let (ns, mut rest) = after.split_first()?;
            if ns.eq_ignore_ascii_case("Microsoft.Simulator") || rest.is_empty() {
                return None;
            }
            // A POST names an action after the resource: `.../sites/x/start`.
            if method.eq_ignore_ascii_case("POST") && rest.len() > 1 && rest.len() % 2 == 1 {
                rest = &rest[..rest.len() - 1];
            }
            let types: Vec<&str> = rest.iter().step_by(2).map(String::as_str).collect();
            Some(format!("{ns}/{}", types.join("/")))
        }
        // Extension resources (`{id}/providers/Microsoft.Insights/...`) are not served.
        _ => None,
    }
}

/// ARM's answer to an `api-version` the addressed type does not accept, or to a type no
/// provider registered. Called first in the dispatch, as ARM checks it before the resource.
pub fn check(st: &SimState, req: &Req) -> Result<(), Reply> {
    let Some(type_name) = type_of(req.method, req.path) else {
        return Ok(());
    };
    let Some(t) = supported(&type_name) else {
        return Err(unknown_type(&type_name, req.api_version));
    };
    if t.versions.contains(&req.api_version) {
        return Ok(());
    }
    let newest_first = || t.versions.iter().rev().copied();
    if t.arm {
        return Err(Reply::error(
            400,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{}' is invalid. The supported versions are '{}'.",
                req.api_version,
                newest_first().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let short = t.name.split_once('/').map_or(t.name, |(_, s)| s);
    Err(Reply::error(
        400,
        "NoRegisteredProviderFound",
        format!(
            "No registered resource provider found for location '{}' and API version '{}' for \
             type '{short}'. The supported api-versions are '{}'. The supported locations are \
             '{}'.",
            location_of(st, req.path),
            req.api_version,
            newest_first().collect::<Vec<_>>().join(", "),
            regions(st).join(", ")
        ),
    ))
}

fn unknown_type(type_name: &str, api_version: &str) -> Reply {
    let (ns, short) = type_name.split_once('/').unwrap_or((type_name, ""));
    let known_ns = TYPES.iter().any(|t| {
        t.name
            .split_once('/')
            .is_some_and(|(n, _)| n.eq_ignore_ascii_case(ns))
    });
    if known_ns {
        Reply::error(
            404,
            "InvalidResourceType",
            format!(
                "The resource type '{short}' could not be found in the namespace '{ns}' for api \
                 version '{api_version}'."
            ),
        )
    } else {
        Reply::error(
            400,
            "InvalidResourceNamespace",
            format!("The resource namespace '{ns}' is invalid."),
        )
    }
}

/// The location of the request's scope, as ARM names it: the addressed resource's (or its
/// nearest ancestor's) ARM `location`, else its group's. Not the region whose outage takes the
/// resource down, which for a multi-region account is `global`.
fn location_of(st: &SimState, path: &str) -> String {
    let rid = ResourceId::parse(path).or_else(|| {
        // An action or a collection: its parent resource.
        let segs = segments(path);
        ResourceId::parse(&format!(
            "/{}",
            segs[..segs.len().saturating_sub(1)].join("/")
        ))
    });
    let Some(rid) = rid else {
        // A collection of a group (`.../resourceGroups/rg/providers/NS/type`): the group's.
        let segs = segments(path);
        return segs
            .iter()
            .position(|s| s.eq_ignore_ascii_case("resourceGroups"))
            .and_then(|i| Some((segs.get(1)?, segs.get(i + 1)?)))
            .and_then(|(sub, rg)| st.groups.get(&group_key(sub, rg)))
            .map_or_else(|| "global".into(), |g| normalize_region(&g.location));
    };
    if let Some(loc) = st
        .nearest(&rid)
        .and_then(|r| r.body.get("location"))
        .and_then(serde_json::Value::as_str)
        .map(normalize_region)
        .filter(|l| !l.is_empty())
    {
        return loc;
    }
    rid.resource_group
        .as_ref()
        .and_then(|rg| st.groups.get(&group_key(&rid.subscription, rg)))
        .map_or_else(|| "global".into(), |g| normalize_region(&g.location))
}

fn regions(st: &SimState) -> Vec<String> {
    let set: BTreeSet<String> = st
        .resources
        .values()
        .map(|r| r.region.clone())
        .chain(st.resources.values().filter_map(|r| {
            r.body
                .get("location")
                .and_then(serde_json::Value::as_str)
                .map(normalize_region)
        }))
        .chain(st.groups.values().map(|g| normalize_region(&g.location)))
        .filter(|r| r != "global")
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Contract {
        #[serde(rename = "type")]
        types: Vec<ContractType>,
    }

    #[derive(serde::Deserialize)]
    struct ContractType {
        #[serde(rename = "type")]
        name: String,
        #[serde(default)]
        arm: bool,
        api_versions: Vec<String>,
    }

    /// The compiled table says what tests/contracts/arm.toml says, type for type.
    #[test]
    fn the_table_is_the_contracts() {
        let c: Contract = toml::from_str(include_str!("../../../tests/contracts/arm.toml"))
            .expect("tests/contracts/arm.toml parses");
        let mut problems = Vec::new();
        for ct in &c.types {
            match TYPES.iter().find(|t| t.name == ct.name) {
                None => problems.push(format!("{} is in the contracts, not in TYPES", ct.name)),
                Some(t) => {
                    if t.arm != ct.arm {
                        problems.push(format!("{}: arm is {} in TYPES", ct.name, t.arm));
                    }
                    if t.versions != ct.api_versions.as_slice() {
                        problems.push(format!(
                            "{}: TYPES lists {:?}, the contracts {:?}",
                            ct.name, t.versions, ct.api_versions
                        ));
                    }
                }
            }
        }
        for t in TYPES.iter() {
            if !c.types.iter().any(|ct| ct.name == t.name) {
                problems.push(format!("{} is in TYPES, not in the contracts", t.name));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn requests_name_their_type() {
        let rg = "/subscriptions/s/resourceGroups/rg";
        for (method, path, want) in [
            (
                "GET",
                "/subscriptions",
                Some("Microsoft.Resources/subscriptions"),
            ),
            (
                "GET",
                "/subscriptions/s",
                Some("Microsoft.Resources/subscriptions"),
            ),
            ("GET", rg, Some("Microsoft.Resources/resourceGroups")),
            (
                "GET",
                "/subscriptions/s/resourceGroups",
                Some("Microsoft.Resources/resourceGroups"),
            ),
            (
                "GET",
                &format!("{rg}/resources"),
                Some("Microsoft.Resources/resources"),
            ),
            (
                "GET",
                &format!("{rg}/providers/Microsoft.Web/sites/a"),
                Some("Microsoft.Web/sites"),
            ),
            (
                "POST",
                &format!("{rg}/providers/Microsoft.Web/sites/a/start"),
                Some("Microsoft.Web/sites"),
            ),
            (
                "GET",
                &format!("{rg}/providers/Microsoft.Web/sites"),
                Some("Microsoft.Web/sites"),
            ),
            (
                "POST",
                &format!("{rg}/providers/Microsoft.Logic/workflows/w/triggers/t/run"),
                Some("Microsoft.Logic/workflows/triggers"),
            ),
            (
                "GET",
                &format!("{rg}/providers/Microsoft.Sql/servers/s/failoverGroups/f"),
                Some("Microsoft.Sql/servers/failoverGroups"),
            ),
            (
                "GET",
                &format!(
                    "{rg}/providers/Microsoft.Web/sites/a/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
                ),
                Some("Microsoft.ResourceHealth/availabilityStatuses"),
            ),
            (
                "POST",
                "/providers/Microsoft.ResourceGraph/resources",
                Some("Microsoft.ResourceGraph/resources"),
            ),
            (
                "GET",
                &format!(
                    "{rg}/providers/Microsoft.Web/sites/a/providers/Microsoft.Insights/diagnosticSettings/x"
                ),
                None,
            ),
            (
                "GET",
                "/subscriptions/s/providers/Microsoft.Simulator/locations/l/operationStatuses/o",
                None,
            ),
            ("GET", "/nonsense/path", None),
        ] {
            assert_eq!(type_of(method, path).as_deref(), want, "{method} {path}");
        }
    }
}
