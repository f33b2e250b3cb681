//! The estate as Resource Graph lists it: one paged query on `Resources` and one on
//! `ResourceContainers` (subscriptions and resource groups, which Resource Graph keeps there and
//! not in `Resources`). Never one GET per resource.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use drbook_azure::{ArmClient, AzureError, GraphProgress};

use super::regions::normalize;

/// One row of `Resources`, the fields discovery reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    pub name: String,
    /// Lower case, as Resource Graph gives it: `microsoft.web/sites`.
    pub type_: String,
    pub kind: String,
    /// Normalised (`westeurope`); `global` for global services; empty when none.
    pub location: String,
    pub resource_group: String,
    pub subscription: String,
    pub sku: Value,
    pub tags: BTreeMap<String, String>,
    pub properties: Value,
}

impl Resource {
    /// A property by dotted path (`geoReplicationStats.status`).
    pub fn prop(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .try_fold(&self.properties, |v, k| v.get(k))
            .filter(|v| !v.is_null())
    }

    pub fn prop_str(&self, path: &str) -> Option<&str> {
        self.prop(path).and_then(Value::as_str)
    }

    /// The value of the first tag whose key is `key` in any case.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub fn sku_name(&self) -> &str {
        self.sku.get("name").and_then(Value::as_str).unwrap_or("")
    }

    /// The resource's parent id (`…/servers/x` for `…/servers/x/databases/y`), if it is a
    /// child resource.
    pub fn parent(&self) -> Option<&str> {
        parent_id(&self.id)
    }

    /// The resource group's id.
    pub fn group_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.resource_group
        )
    }
}

/// `…/providers/NS/a/x/b/y` → `…/providers/NS/a/x`; `None` for a top-level resource.
pub fn parent_id(id: &str) -> Option<&str> {
    let (_, after) = id.rsplit_once("/providers/")?;
    // NS / type / name / (childtype / childname)*
    if after.split('/').count() <= 3 {
        return None;
    }
    let cut = id.rfind('/')?;
    let cut = id[..cut].rfind('/')?;
    Some(&id[..cut])
}

/// A resource group, with the location ARM keeps its metadata in.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub subscription: String,
    pub location: String,
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub subscriptions: Vec<String>,
    /// Only these resource groups (any case) when not empty.
    pub resource_groups: Vec<String>,
    /// Only resources with this tag (and their child resources, which carry no tags).
    pub tag: Option<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub resources: Vec<Resource>,
    pub groups: Vec<Group>,
    /// Subscription id → display name.
    pub subscriptions: BTreeMap<String, String>,
    /// Lower-case id → index in `resources`.
    by_id: HashMap<String, usize>,
    /// Lower-case parent id → indexes of its children.
    by_parent: HashMap<String, Vec<usize>>,
    /// Type → indexes of the resources of that type.
    by_type: HashMap<String, Vec<usize>>,
    /// (type, lower-case name) → indexes.
    by_name: HashMap<(String, String), Vec<usize>>,
    /// Lower-case host name of a site → its index.
    by_host: HashMap<String, usize>,
    /// Lower-case plan id (a site's `serverFarmId`) → indexes of the sites on it.
    by_plan: HashMap<String, Vec<usize>>,
    /// (type, lower-case value of the `app` tag) → indexes.
    by_app: HashMap<(String, String), Vec<usize>>,
}

impl Inventory {
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.by_id
            .get(&id.to_ascii_lowercase())
            .and_then(|&i| self.resources.get(i))
    }

    /// The resources of `type_` (lower case).
    pub fn of_type<'a>(&'a self, type_: &str) -> impl Iterator<Item = &'a Resource> {
        self.by_type
            .get(type_)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.resources.get(i))
    }

    /// The resources of `type_` named `name` (any case).
    pub fn named<'a>(&'a self, type_: &str, name: &str) -> impl Iterator<Item = &'a Resource> {
        self.by_name
            .get(&(type_.to_string(), name.to_ascii_lowercase()))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.resources.get(i))
    }

    /// The site that answers on `host`.
    pub fn site_by_host(&self, host: &str) -> Option<&Resource> {
        self.by_host
            .get(&host.to_ascii_lowercase())
            .and_then(|&i| self.resources.get(i))
    }

    /// The sites whose `serverFarmId` is `plan` (any case).
    pub fn sites_on_plan<'a>(&'a self, plan: &str) -> impl Iterator<Item = &'a Resource> {
        self.by_plan
            .get(&plan.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .filter_map(|&i| self.resources.get(i))
    }

    /// The resources of `type_` (lower case) whose `app` tag (its first key equal to `app` in
    /// any case) has the value `app` (any case).
    pub fn tagged_app<'a>(&'a self, type_: &str, app: &str) -> impl Iterator<Item = &'a Resource> {
        self.by_app
            .get(&(type_.to_string(), app.to_ascii_lowercase()))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.resources.get(i))
    }

    /// Builds the look-up indexes; called once the resources are final.
    fn index(&mut self) {
        self.by_id.clear();
        self.by_parent.clear();
        self.by_type.clear();
        self.by_name.clear();
        self.by_host.clear();
        self.by_plan.clear();
        self.by_app.clear();
        for (i, r) in self.resources.iter().enumerate() {
            if let Some(app) = r.tag("app") {
                self.by_app
                    .entry((r.type_.clone(), app.to_ascii_lowercase()))
                    .or_default()
                    .push(i);
            }
            self.by_id.insert(r.id.to_ascii_lowercase(), i);
            if let Some(p) = r.parent() {
                self.by_parent
                    .entry(p.to_ascii_lowercase())
                    .or_default()
                    .push(i);
            }
            self.by_type.entry(r.type_.clone()).or_default().push(i);
            self.by_name
                .entry((r.type_.clone(), r.name.to_ascii_lowercase()))
                .or_default()
                .push(i);
            if r.type_ == "microsoft.web/sites" {
                let hosts = r.prop_str("defaultHostName").into_iter().chain(
                    r.prop("hostNames")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                );
                for h in hosts {
                    self.by_host.entry(h.to_ascii_lowercase()).or_insert(i);
                }
                if let Some(plan) = r.prop_str("serverFarmId") {
                    self.by_plan
                        .entry(plan.to_ascii_lowercase())
                        .or_default()
                        .push(i);
                }
            }
        }
    }

    pub fn group(&self, subscription: &str, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| {
            g.subscription.eq_ignore_ascii_case(subscription) && g.name.eq_ignore_ascii_case(name)
        })
    }

    /// The children of `id` of `type_` (lower case, full: `microsoft.sql/servers/databases`).
    pub fn children<'a>(
        &'a self,
        id: &'a str,
        type_: &'a str,
    ) -> impl Iterator<Item = &'a Resource> {
        self.by_parent
            .get(&id.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .filter_map(|&i| self.resources.get(i))
            .filter(move |r| r.type_ == type_)
    }

    /// Builds an inventory from Resource Graph rows (`Resources`, then `ResourceContainers`),
    /// applying the tag filter. Rows without an `id` or `type` are an error naming the row.
    pub fn from_rows(
        resources: &[Value],
        containers: &[Value],
        scope: &Scope,
    ) -> Result<Inventory, String> {
        Self::from_owned_rows(resources.to_vec(), containers, scope)
    }

    /// [`Inventory::from_rows`], moving the rows' values rather than copying them.
    pub fn from_owned_rows(
        resources: Vec<Value>,
        containers: &[Value],
        scope: &Scope,
    ) -> Result<Inventory, String> {
        let resources = resources
            .into_iter()
            .enumerate()
            .map(|(i, row)| resource_of_row(i + 1, row))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_resources(resources, containers, scope)
    }

    /// An inventory of resources already read from their rows ([`resource_of_row`]) and the
    /// `ResourceContainers` rows, applying the scope's tag and group filters.
    fn from_resources(
        resources: Vec<Resource>,
        containers: &[Value],
        scope: &Scope,
    ) -> Result<Inventory, String> {
        let mut inv = Inventory {
            resources,
            ..Inventory::default()
        };
        for (i, row) in containers.iter().enumerate() {
            let field = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let (id, ty) = (field("id"), field("type").to_ascii_lowercase());
            if id.is_empty() {
                return Err(format!(
                    "ResourceContainers row {}: no `id` string ({})",
                    i + 1,
                    short(row)
                ));
            }
            match ty.as_str() {
                "microsoft.resources/subscriptions" => {
                    inv.subscriptions
                        .insert(field("subscriptionId"), field("name"));
                }
                "microsoft.resources/subscriptions/resourcegroups" => inv.groups.push(Group {
                    id,
                    name: field("name"),
                    subscription: field("subscriptionId"),
                    location: normalize(&field("location")),
                }),
                _ => {}
            }
        }
        if let Some((k, v)) = &scope.tag {
            let tagged: Vec<String> = inv
                .resources
                .iter()
                .filter(|r| r.parent().is_none())
                .filter(|r| {
                    r.tags
                        .iter()
                        .any(|(tk, tv)| tk.eq_ignore_ascii_case(k) && tv.eq_ignore_ascii_case(v))
                })
                .map(|r| r.id.to_ascii_lowercase())
                .collect();
            inv.resources.retain(|r| {
                let lower = r.id.to_ascii_lowercase();
                tagged
                    .iter()
                    .any(|t| lower == *t || lower.starts_with(&format!("{t}/")))
            });
        }
        if !scope.resource_groups.is_empty() {
            inv.groups.retain(|g| {
                scope
                    .resource_groups
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&g.name))
            });
        }
        inv.resources.sort_by(|a, b| a.id.cmp(&b.id));
        inv.index();
        Ok(inv)
    }
}

impl Inventory {
    /// Adds rows read outside Graph (child resources it does not list), in Graph's shape.
    pub fn add_rows(&mut self, rows: &[Value]) -> Result<(), String> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut new = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let r = resource(row.clone()).ok_or_else(|| {
                format!("child row {}: no `id` or `type` ({})", i + 1, short(row))
            })?;
            if self.get(&r.id).is_none() {
                new.push(r);
            }
        }
        self.add(new);
        Ok(())
    }

    /// `new` added, the resources kept in id order and the indexes rebuilt.
    fn add(&mut self, new: Vec<Resource>) {
        if new.is_empty() {
            return;
        }
        self.resources.extend(new);
        self.resources.sort_by(|a, b| a.id.cmp(&b.id));
        self.index();
    }

    /// Adds the resources of `whole` (a wider inventory of the same estate) held, directly or
    /// further down, by a resource of this one and missing here: the child resources read
    /// beyond Graph, for a part of the estate cut from the same rows.
    pub fn add_children_from(&mut self, whole: &Inventory) {
        let held_here = |mut id: &str| {
            while let Some(p) = parent_id(id) {
                if self.get(p).is_some() {
                    return true;
                }
                id = p;
            }
            false
        };
        let extra: Vec<Resource> = whole
            .resources
            .iter()
            .filter(|r| self.get(&r.id).is_none() && held_here(&r.id))
            .cloned()
            .collect();
        self.add(extra);
    }
}

fn short(row: &Value) -> String {
    let s = row.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(79).collect::<String>())
    } else {
        s
    }
}

/// Resources row `n` (from 1) as a resource, or the error naming it.
fn resource_of_row(n: usize, row: Value) -> Result<Resource, String> {
    let shown = (row.get("id").and_then(Value::as_str).is_none()
        || row.get("type").and_then(Value::as_str).is_none())
    .then(|| short(&row));
    resource(row).ok_or_else(|| {
        format!(
            "Resources row {n}: no `id` or `type` string ({})",
            shown.unwrap_or_default()
        )
    })
}

fn resource(row: Value) -> Option<Resource> {
    let Value::Object(mut row) = row else {
        return None;
    };
    let id = row.get("id")?.as_str()?.to_string();
    let type_ = row.get("type")?.as_str()?.to_ascii_lowercase();
    let s = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let name = match s("name") {
        n if n.is_empty() => id.rsplit('/').next().unwrap_or("").to_string(),
        n => n,
    };
    let (kind, location) = (s("kind"), normalize(&s("location")));
    let (resource_group, subscription) = (s("resourceGroup"), s("subscriptionId"));
    let tags = match row.remove("tags") {
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(v) => (k, v),
                other => (k, other.to_string()),
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Some(Resource {
        name,
        id,
        type_,
        kind,
        location,
        resource_group,
        subscription,
        sku: row.remove("sku").unwrap_or(Value::Null),
        tags,
        properties: row.remove("properties").unwrap_or(Value::Null),
    })
}

/// A KQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The `Resources` query for `scope`.
pub fn resources_query(scope: &Scope) -> String {
    let mut q = String::from("Resources");
    if !scope.resource_groups.is_empty() {
        let list: Vec<String> = scope.resource_groups.iter().map(|g| quote(g)).collect();
        q.push_str(&format!(" | where resourceGroup in~ ({})", list.join(", ")));
    }
    q.push_str(
        " | project id, name, type, kind, location, resourceGroup, subscriptionId, sku, tags, properties",
    );
    q
}

/// The `ResourceContainers` query: subscriptions and resource groups.
pub fn containers_query() -> String {
    "ResourceContainers | where type =~ 'microsoft.resources/subscriptions' or type =~ 'microsoft.resources/subscriptions/resourcegroups' | project id, name, type, location, subscriptionId, resourceGroup".to_string()
}

/// Reads the estate: one paged query per table.
pub async fn read(arm: &ArmClient, scope: &Scope) -> Result<Inventory, ReadError> {
    read_with_progress(arm, scope, &mut |_| {}).await
}

/// How far reading the estate has come: the table being read and its pages so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// `Resources` or `ResourceContainers`.
    pub table: &'static str,
    pub graph: GraphProgress,
}

impl Progress {
    /// One line for a terminal: `reading Resources: 4,000 / 10,000 rows (4 pages)`.
    pub fn line(&self) -> String {
        let GraphProgress { rows, total, pages } = self.graph;
        let rows = match total {
            Some(t) => format!("{} / {}", grouped(rows), grouped(t)),
            None => grouped(rows),
        };
        let s = if pages == 1 { "" } else { "s" };
        format!("reading {}: {rows} rows ({pages} page{s})", self.table)
    }
}

/// `10000` → `10,000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// [`read`], calling `on_page` as each Resource Graph page arrives.
pub async fn read_with_progress(
    arm: &ArmClient,
    scope: &Scope,
    on_page: &mut (dyn FnMut(Progress) + Send),
) -> Result<Inventory, ReadError> {
    // Each page's rows become resources while the next page is on its way; the
    // `ResourceContainers` query, independent of it, runs at the same time.
    let mut resources = Vec::new();
    let mut bad: Option<String> = None;
    let mut containers_seen: Option<GraphProgress> = None;
    let query = resources_query(scope);
    let mut each_page = |graph, rows: Vec<Value>| {
        for row in rows {
            if bad.is_some() {
                break;
            }
            match resource_of_row(resources.len() + 1, row) {
                Ok(r) => resources.push(r),
                Err(e) => bad = Some(e),
            }
        }
        on_page(Progress {
            table: "Resources",
            graph,
        })
    };
    let resources_read = arm.graph_pages(&scope.subscriptions, &query, &mut each_page);
    let containers_query = containers_query();
    let mut containers_page = |graph| containers_seen = Some(graph);
    let containers_read = arm.graph_paged(
        &scope.subscriptions,
        &containers_query,
        &mut containers_page,
    );
    let (resources_read, containers) = tokio::join!(resources_read, containers_read);
    resources_read.map_err(ReadError::Azure)?;
    let containers = containers.map_err(ReadError::Azure)?;
    if let Some(graph) = containers_seen {
        on_page(Progress {
            table: "ResourceContainers",
            graph,
        });
    }
    if let Some(e) = bad {
        return Err(ReadError::Shape(e));
    }
    Inventory::from_resources(resources, &containers, scope).map_err(ReadError::Shape)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Azure(AzureError),
    #[error("Resource Graph answered in an unexpected shape: {0}")]
    Shape(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parents_of_child_resources() {
        let db = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/x/databases/y";
        assert_eq!(
            parent_id(db),
            Some("/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/x")
        );
        assert_eq!(
            parent_id("/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/x"),
            None
        );
    }

    #[test]
    fn the_tag_filter_keeps_children_of_tagged_resources_and_bad_rows_are_named() {
        let rows = vec![
            json!({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/a", "type": "microsoft.sql/servers", "tags": {"app": "travel"}}),
            json!({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/a/databases/d", "type": "microsoft.sql/servers/databases"}),
            json!({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/b", "type": "microsoft.sql/servers", "tags": {"app": "shop"}}),
        ];
        let scope = Scope {
            tag: Some(("app".into(), "travel".into())),
            ..Scope::default()
        };
        let inv = Inventory::from_rows(&rows, &[], &scope).unwrap();
        let names: Vec<&str> = inv.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "d"]);
        let e = Inventory::from_rows(&[json!({"name": "x"})], &[], &Scope::default()).unwrap_err();
        assert!(e.contains("Resources row 1"), "{e}");
    }

    #[test]
    fn sites_by_plan_and_resources_by_app_tag_any_case() {
        let plan = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/serverfarms/p";
        let rows = vec![
            json!({"id": plan, "type": "microsoft.web/serverfarms", "tags": {"App": "Shop"}}),
            json!({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/a", "type": "microsoft.web/sites",
                   "tags": {"app": "shop"}, "properties": {"serverFarmId": plan.to_uppercase()}}),
            json!({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/b", "type": "microsoft.web/sites",
                   "tags": {"app": "travel"}, "properties": {"serverFarmId": "/other"}}),
        ];
        let inv = Inventory::from_rows(&rows, &[], &Scope::default()).unwrap();
        let names = |it: &mut dyn Iterator<Item = &Resource>| -> Vec<String> {
            it.map(|r| r.name.clone()).collect()
        };
        assert_eq!(names(&mut inv.sites_on_plan(plan)), ["a"]);
        assert_eq!(
            names(&mut inv.sites_on_plan("/nothing")),
            Vec::<String>::new()
        );
        assert_eq!(
            names(&mut inv.tagged_app("microsoft.web/sites", "SHOP")),
            ["a"]
        );
        assert_eq!(
            names(&mut inv.tagged_app("microsoft.web/serverfarms", "shop")),
            ["p"]
        );
        assert_eq!(inv.resources[0].tag("APP"), Some("Shop"));
    }

    #[test]
    fn a_progress_line_groups_thousands_and_counts_pages() {
        let p = |rows, total, pages| Progress {
            table: "Resources",
            graph: GraphProgress { rows, total, pages },
        };
        assert_eq!(
            p(4000, Some(10000), 4).line(),
            "reading Resources: 4,000 / 10,000 rows (4 pages)"
        );
        assert_eq!(p(12, None, 1).line(), "reading Resources: 12 rows (1 page)");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn a_part_of_the_estate_takes_the_children_read_for_the_whole() {
        let p = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Cdn/profiles/a";
        let q = "/subscriptions/s/resourceGroups/h/providers/Microsoft.Cdn/profiles/b";
        let row =
            |id: &str, t: &str| json!({"id": id, "type": t, "resourceGroup": id.split('/').nth(4)});
        let mut whole = Inventory::from_rows(
            &[
                row(p, "microsoft.cdn/profiles"),
                row(q, "microsoft.cdn/profiles"),
            ],
            &[],
            &Scope::default(),
        )
        .unwrap();
        let og = format!("{p}/originGroups/og");
        let origin = format!("{og}/origins/o");
        whole
            .add_rows(&[
                row(&og, "microsoft.cdn/profiles/origingroups"),
                row(&origin, "microsoft.cdn/profiles/origingroups/origins"),
                row(
                    &format!("{q}/originGroups/other"),
                    "microsoft.cdn/profiles/origingroups",
                ),
            ])
            .unwrap();
        let mut part =
            Inventory::from_rows(&[row(p, "microsoft.cdn/profiles")], &[], &Scope::default())
                .unwrap();
        part.add_children_from(&whole);
        let ids: Vec<&str> = part.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [p, og.as_str(), origin.as_str()]);
        assert_eq!(
            part.children(&og, "microsoft.cdn/profiles/origingroups/origins")
                .count(),
            1
        );
    }

    #[test]
    fn the_query_quotes_group_names() {
        let q = resources_query(&Scope {
            resource_groups: vec!["rg-a".into(), "it's".into()],
            ..Scope::default()
        });
        assert!(q.contains("resourceGroup in~ ('rg-a', 'it\\'s')"), "{q}");
        assert!(q.contains("project id,"), "paged by id: {q}");
    }
}
