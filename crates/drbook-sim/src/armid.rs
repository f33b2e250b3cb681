//! ARM resource ids and request paths: splitting a path into subscription, resource group,
//! provider namespace and type/name pairs, deriving the ARM `type`, and the loose comparisons
//! ARM makes (ids case-insensitive, region names without spaces).

/// A request path split into segments, percent-decoded, empty segments dropped.
pub fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

/// The canonical lowercase key of an id or path: ARM matches ids case-insensitively.
pub fn key(path: &str) -> String {
    let segs = segments(path);
    let mut out = String::with_capacity(path.len());
    for s in segs {
        out.push('/');
        out.push_str(&s.to_lowercase());
    }
    out
}

/// `"West Europe"` and `"westeurope"` name the same region.
pub fn normalize_region(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The parts of a resource id such as
/// `/subscriptions/S/resourceGroups/RG/providers/Microsoft.Sql/servers/X/failoverGroups/F`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId {
    pub subscription: String,
    pub resource_group: Option<String>,
    pub namespace: String,
    /// `["servers", "failoverGroups"]`
    pub types: Vec<String>,
    /// `["X", "F"]`
    pub names: Vec<String>,
}

impl ResourceId {
    /// Parses a full resource id (an even number of segments after the namespace). Extension
    /// resources (a second `providers`) are not resource ids here.
    pub fn parse(path: &str) -> Option<ResourceId> {
        let segs = segments(path);
        let (subscription, resource_group, rest) = scope(&segs)?;
        let (ns, pairs) = rest.split_first()?;
        if pairs.is_empty() || pairs.len() % 2 != 0 {
            return None;
        }
        if pairs.iter().any(|s| s.eq_ignore_ascii_case("providers")) {
            return None;
        }
        Some(ResourceId {
            subscription,
            resource_group,
            namespace: ns.clone(),
            types: pairs.iter().step_by(2).cloned().collect(),
            names: pairs.iter().skip(1).step_by(2).cloned().collect(),
        })
    }

    /// `Microsoft.Sql/servers/failoverGroups`
    pub fn type_name(&self) -> String {
        let mut t = self.namespace.clone();
        for part in &self.types {
            t.push('/');
            t.push_str(part);
        }
        t
    }

    pub fn name(&self) -> &str {
        self.names.last().map_or("", String::as_str)
    }

    /// The id of the resource this one is a child of, if it is a child.
    pub fn parent(&self) -> Option<ResourceId> {
        if self.types.len() < 2 {
            return None;
        }
        let mut p = self.clone();
        p.types.pop();
        p.names.pop();
        Some(p)
    }

    pub fn to_path(&self) -> String {
        let mut out = format!("/subscriptions/{}", self.subscription);
        if let Some(rg) = &self.resource_group {
            out.push_str("/resourceGroups/");
            out.push_str(rg);
        }
        out.push_str("/providers/");
        out.push_str(&self.namespace);
        for (t, n) in self.types.iter().zip(&self.names) {
            out.push('/');
            out.push_str(t);
            out.push('/');
            out.push_str(n);
        }
        out
    }
}

/// Splits `subscriptions/S[/resourceGroups/RG]/providers/...` into (S, RG, segments after
/// `providers`).
pub fn scope(segs: &[String]) -> Option<(String, Option<String>, &[String])> {
    let is = |i: usize, word: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(word));
    if !is(0, "subscriptions") {
        return None;
    }
    let sub = segs.get(1)?.clone();
    let (rg, at) = if is(2, "resourceGroups") {
        (Some(segs.get(3)?.clone()), 4)
    } else {
        (None, 2)
    };
    if !is(at, "providers") {
        return None;
    }
    Some((sub, rg, &segs[at + 1..]))
}

/// Decodes `%20`-style escapes; malformed escapes stay as written.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOG: &str = "/subscriptions/s1/resourceGroups/rg-a/providers/Microsoft.Sql/servers/sql-a/failoverGroups/fog";

    #[test]
    fn parses_child_resource_ids() {
        let id = ResourceId::parse(FOG).unwrap();
        assert_eq!(id.subscription, "s1");
        assert_eq!(id.resource_group.as_deref(), Some("rg-a"));
        assert_eq!(id.type_name(), "Microsoft.Sql/servers/failoverGroups");
        assert_eq!(id.name(), "fog");
        assert_eq!(id.to_path(), FOG);
        let parent = id.parent().unwrap();
        assert_eq!(parent.type_name(), "Microsoft.Sql/servers");
        assert_eq!(parent.name(), "sql-a");
        assert!(parent.parent().is_none());
    }

    #[test]
    fn subscription_scoped_ids_and_dns_records() {
        let d = ResourceId::parse("/subscriptions/s/providers/Microsoft.Resources/deployments/d1")
            .unwrap();
        assert_eq!(d.resource_group, None);
        assert_eq!(d.type_name(), "Microsoft.Resources/deployments");
        let a = ResourceId::parse(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/dnsZones/shop.example.com/A/@",
        )
        .unwrap();
        assert_eq!(a.type_name(), "Microsoft.Network/dnsZones/A");
        assert_eq!(a.name(), "@");
    }

    #[test]
    fn collections_and_extensions_are_not_ids() {
        assert!(
            ResourceId::parse("/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites")
                .is_none()
        );
        assert!(ResourceId::parse("/subscriptions/s/resourceGroups/g").is_none());
        assert!(
            ResourceId::parse(&format!(
                "{FOG}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
            ))
            .is_none()
        );
        assert!(ResourceId::parse("/tenants/x").is_none());
    }

    #[test]
    fn keys_ignore_case_and_trailing_slashes() {
        assert_eq!(
            key("/Subscriptions/S//resourceGroups/RG/"),
            "/subscriptions/s/resourcegroups/rg"
        );
        assert_eq!(key("/a/b%20c"), "/a/b c");
    }

    #[test]
    fn regions_normalise() {
        assert_eq!(normalize_region("West Europe"), "westeurope");
        assert_eq!(normalize_region("northeurope"), "northeurope");
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
