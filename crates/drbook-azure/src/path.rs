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

/// What an ARM request path names: the resource it reads or acts on, and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmTarget {
    /// The resource's id as written: no query, no action segment, nothing of an extension
    /// resource (`…/providers/Microsoft.ResourceHealth/…` after the resource).
    pub id: String,
    /// The ARM type, lower case, as Resource Graph spells it: `microsoft.web/sites`,
    /// `microsoft.sql/servers/databases`; `microsoft.resources/subscriptions/resourcegroups`
    /// for a resource group and `microsoft.resources/subscriptions` for a subscription.
    pub type_: String,
    pub subscription: String,
    /// The resource group, if the resource is in one.
    pub resource_group: Option<String>,
    /// What the path asks of the resource beyond reading it: the action segment (`start`,
    /// `failover`) or the extension resource (`providers/Microsoft.ResourceHealth/…`).
    pub action: Option<String>,
}

/// Resource group type, as Resource Graph (`ResourceContainers`) spells it.
pub const GROUP_TYPE: &str = "microsoft.resources/subscriptions/resourcegroups";
/// Subscription type, as Resource Graph (`ResourceContainers`) spells it.
pub const SUBSCRIPTION_TYPE: &str = "microsoft.resources/subscriptions";

impl ArmTarget {
    /// The id of what holds this resource: its parent resource, else its resource group,
    /// else its subscription; `None` for a subscription.
    pub fn container(&self) -> Option<String> {
        if self.type_ == SUBSCRIPTION_TYPE {
            return None;
        }
        if self.type_ == GROUP_TYPE {
            return Some(format!("/subscriptions/{}", self.subscription));
        }
        let (head, after) = self.id.rsplit_once("/providers/")?;
        // NS / type / name (/ type / name)*: a child drops its last pair.
        let parts: Vec<&str> = after.split('/').collect();
        if parts.len() > 3 {
            Some(format!(
                "{head}/providers/{}",
                parts[..parts.len() - 2].join("/")
            ))
        } else {
            Some(head.to_string())
        }
    }
}

/// The resource an ARM path names, by the grammar of ARM ids: `/subscriptions/S`,
/// `/subscriptions/S/resourceGroups/G`, then `/providers/Namespace/type/name` with
/// `/childType/childName` pairs; one segment more is an action (`…/sites/x/start`), and a
/// second `/providers/` starts an extension resource of the one before it. `None` when the
/// path is not an ARM id (no `subscriptions`, a missing name).
pub fn target_of(path: &str) -> Option<ArmTarget> {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let is = |i: usize, w: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(w));
    if !is(0, "subscriptions") {
        return None;
    }
    let subscription = segs.get(1)?.to_string();
    let mut at = 2;
    let mut resource_group = None;
    if is(2, "resourceGroups") {
        resource_group = Some(segs.get(3)?.to_string());
        at = 4;
    }
    let join = |n: usize| format!("/{}", segs[..n].join("/"));
    let rest = |n: usize| (segs.len() > n).then(|| segs[n..].join("/"));
    if !is(at, "providers") {
        let type_ = if resource_group.is_some() {
            GROUP_TYPE
        } else {
            SUBSCRIPTION_TYPE
        };
        return Some(ArmTarget {
            id: join(at),
            type_: type_.to_string(),
            subscription,
            resource_group,
            action: rest(at),
        });
    }
    let ns = segs.get(at + 1)?;
    let mut type_ = ns.to_ascii_lowercase();
    let mut i = at + 2;
    // type/name pairs until the path ends, an action, or a nested `providers`.
    while i + 1 < segs.len() && !segs[i].eq_ignore_ascii_case("providers") {
        type_.push('/');
        type_.push_str(&segs[i].to_ascii_lowercase());
        i += 2;
    }
    if i == at + 2 {
        return None;
    }
    Some(ArmTarget {
        id: join(i),
        type_,
        subscription,
        resource_group,
        action: rest(i),
    })
}

#[cfg(test)]
mod target_tests {
    use super::*;

    const RG: &str = "/subscriptions/s/resourceGroups/rg";

    #[test]
    fn the_type_comes_from_the_pairs_and_an_odd_segment_is_an_action() {
        let t = target_of(&format!("{RG}/providers/Microsoft.Web/sites/app/start")).unwrap();
        assert_eq!(t.id, format!("{RG}/providers/Microsoft.Web/sites/app"));
        assert_eq!(t.type_, "microsoft.web/sites");
        assert_eq!(t.action.as_deref(), Some("start"));
        assert_eq!(t.resource_group.as_deref(), Some("rg"));
        let t = target_of(&format!(
            "{RG}/providers/Microsoft.Network/dnsZones/z.com/CNAME/api?api-version=1"
        ))
        .unwrap();
        assert_eq!(t.type_, "microsoft.network/dnszones/cname");
        assert_eq!(t.action, None);
        assert_eq!(
            t.container().as_deref(),
            Some(&*format!("{RG}/providers/Microsoft.Network/dnsZones/z.com"))
        );
        let t = target_of(&format!(
            "{RG}/providers/Microsoft.Sql/servers/a/failoverGroups/f/failover"
        ))
        .unwrap();
        assert_eq!(t.type_, "microsoft.sql/servers/failovergroups");
        assert_eq!(t.action.as_deref(), Some("failover"));
    }

    #[test]
    fn groups_subscriptions_and_extensions() {
        let t = target_of(RG).unwrap();
        assert_eq!((t.type_.as_str(), t.id.as_str()), (GROUP_TYPE, RG));
        assert_eq!(t.container().as_deref(), Some("/subscriptions/s"));
        let t = target_of("/subscriptions/s").unwrap();
        assert_eq!(t.type_, SUBSCRIPTION_TYPE);
        assert_eq!(t.container(), None);
        let t = target_of(&format!(
            "{RG}/providers/Microsoft.Web/sites/app/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
        ))
        .unwrap();
        assert_eq!(t.id, format!("{RG}/providers/Microsoft.Web/sites/app"));
        assert_eq!(
            t.action.as_deref(),
            Some("providers/Microsoft.ResourceHealth/availabilityStatuses/current")
        );
        assert_eq!(t.container().as_deref(), Some(RG));
        for bad in [
            "/resourceGroups/rg",
            "/subscriptions",
            &format!("{RG}/providers/Microsoft.Web"),
            "https://example.com/x",
        ] {
            assert_eq!(target_of(bad), None, "{bad}");
        }
    }
}
