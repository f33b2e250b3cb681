//! Azure's paired regions and the short codes teams put in resource names.
//!
//! The pairs are Microsoft's table "Azure region pairs" (learn.microsoft.com/azure/reliability/
//! cross-region-replication-azure, "Azure cross-region replication pairings for all
//! geographies"). Most pairs go both ways; a few do not (Brazil Southeast → Brazil South, but
//! Brazil South → South Central US; West India → South India; West US 3 → East US). Regions
//! without a pair (Sweden South's partner aside, e.g. Italy North, Poland Central, Spain
//! Central, Qatar Central) need `--secondary`.

/// `(region, its paired region)`, one row per direction.
const PAIRS: &[(&str, &str)] = &[
    ("eastasia", "southeastasia"),
    ("southeastasia", "eastasia"),
    ("australiaeast", "australiasoutheast"),
    ("australiasoutheast", "australiaeast"),
    ("australiacentral", "australiacentral2"),
    ("australiacentral2", "australiacentral"),
    ("brazilsouth", "southcentralus"),
    ("brazilsoutheast", "brazilsouth"),
    ("canadacentral", "canadaeast"),
    ("canadaeast", "canadacentral"),
    ("chinanorth", "chinaeast"),
    ("chinaeast", "chinanorth"),
    ("chinanorth2", "chinaeast2"),
    ("chinaeast2", "chinanorth2"),
    ("chinanorth3", "chinaeast3"),
    ("chinaeast3", "chinanorth3"),
    ("northeurope", "westeurope"),
    ("westeurope", "northeurope"),
    ("francecentral", "francesouth"),
    ("francesouth", "francecentral"),
    ("germanywestcentral", "germanynorth"),
    ("germanynorth", "germanywestcentral"),
    ("centralindia", "southindia"),
    ("southindia", "centralindia"),
    ("westindia", "southindia"),
    ("japaneast", "japanwest"),
    ("japanwest", "japaneast"),
    ("koreacentral", "koreasouth"),
    ("koreasouth", "koreacentral"),
    ("eastus", "westus"),
    ("westus", "eastus"),
    ("eastus2", "centralus"),
    ("centralus", "eastus2"),
    ("northcentralus", "southcentralus"),
    ("southcentralus", "northcentralus"),
    ("westus2", "westcentralus"),
    ("westcentralus", "westus2"),
    ("westus3", "eastus"),
    ("norwayeast", "norwaywest"),
    ("norwaywest", "norwayeast"),
    ("southafricanorth", "southafricawest"),
    ("southafricawest", "southafricanorth"),
    ("swedencentral", "swedensouth"),
    ("swedensouth", "swedencentral"),
    ("switzerlandnorth", "switzerlandwest"),
    ("switzerlandwest", "switzerlandnorth"),
    ("uaenorth", "uaecentral"),
    ("uaecentral", "uaenorth"),
    ("uksouth", "ukwest"),
    ("ukwest", "uksouth"),
    ("usgovvirginia", "usgovtexas"),
    ("usgovtexas", "usgovarizona"),
    ("usgovarizona", "usgovtexas"),
];

/// Short codes found in resource names (the Cloud Adoption Framework's abbreviations and
/// common variants), besides the region's own name.
const SHORT: &[(&str, &[&str])] = &[
    ("westeurope", &["weu", "we"]),
    ("northeurope", &["neu", "ne"]),
    ("eastus", &["eus", "use"]),
    ("eastus2", &["eus2", "use2"]),
    ("westus", &["wus", "usw"]),
    ("westus2", &["wus2", "usw2"]),
    ("westus3", &["wus3", "usw3"]),
    ("centralus", &["cus", "usc"]),
    ("northcentralus", &["ncus"]),
    ("southcentralus", &["scus"]),
    ("westcentralus", &["wcus"]),
    ("eastasia", &["ea"]),
    ("southeastasia", &["sea"]),
    ("australiaeast", &["ae", "aue"]),
    ("australiasoutheast", &["ase", "ause"]),
    ("canadacentral", &["cac", "cc"]),
    ("canadaeast", &["cae", "ce"]),
    ("francecentral", &["frc"]),
    ("francesouth", &["frs"]),
    ("germanywestcentral", &["gwc", "dewc"]),
    ("germanynorth", &["gn", "den"]),
    ("japaneast", &["jpe", "je"]),
    ("japanwest", &["jpw", "jw"]),
    ("koreacentral", &["krc"]),
    ("koreasouth", &["krs"]),
    ("uksouth", &["uks"]),
    ("ukwest", &["ukw"]),
    ("swedencentral", &["sdc", "sec"]),
    ("swedensouth", &["sds"]),
    ("switzerlandnorth", &["szn", "chn"]),
    ("switzerlandwest", &["szw", "chw"]),
    ("norwayeast", &["nwe", "noe"]),
    ("norwaywest", &["nww", "now"]),
    ("centralindia", &["inc", "cin"]),
    ("southindia", &["ins", "sin"]),
    ("uaenorth", &["uaen"]),
    ("uaecentral", &["uaec"]),
    ("brazilsouth", &["brs"]),
    ("southafricanorth", &["san"]),
    ("southafricawest", &["saw"]),
];

/// `West Europe`, `westeurope` → `westeurope`.
pub fn normalize(region: &str) -> String {
    region
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Azure's paired region of `region`, if it has one.
pub fn paired(region: &str) -> Option<&'static str> {
    let r = normalize(region);
    PAIRS.iter().find(|(a, _)| *a == r).map(|(_, b)| *b)
}

/// Whether `region` is a region drbook knows (in the pair or short-code tables).
pub fn known(region: &str) -> bool {
    let r = normalize(region);
    PAIRS.iter().any(|(a, b)| *a == r || *b == r) || SHORT.iter().any(|(a, _)| *a == r)
}

/// The names of `region` as they appear inside resource names: the region itself, then its
/// short codes.
pub fn tokens(region: &str) -> Vec<String> {
    let r = normalize(region);
    let mut out = vec![r.clone()];
    if let Some((_, codes)) = SHORT.iter().find(|(a, _)| *a == r) {
        out.extend(codes.iter().map(|c| c.to_string()));
    }
    out
}

/// The short code most used for `region` (its first), or the region itself.
pub fn short(region: &str) -> String {
    tokens(region)
        .get(1)
        .cloned()
        .unwrap_or_else(|| normalize(region))
}

/// `westeurope` → `West Europe`, as Cosmos DB and Traffic Manager spell regions.
pub fn display(region: &str) -> String {
    let r = normalize(region);
    const WORDS: &[&str] = &[
        "north",
        "south",
        "east",
        "west",
        "central",
        "europe",
        "asia",
        "us",
        "uk",
        "india",
        "japan",
        "korea",
        "france",
        "germany",
        "canada",
        "australia",
        "brazil",
        "norway",
        "sweden",
        "switzerland",
        "uae",
        "africa",
        "china",
        "usgov",
    ];
    let mut out: Vec<String> = Vec::new();
    let mut rest = r.as_str();
    'outer: while !rest.is_empty() {
        for w in WORDS.iter().copied().filter(|w| *w != "usgov") {
            if let Some(tail) = rest.strip_prefix(w) {
                let word = match w {
                    "us" | "uk" | "uae" => w.to_ascii_uppercase(),
                    _ => {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    }
                };
                out.push(word);
                rest = tail;
                continue 'outer;
            }
        }
        // A digit suffix (eastus2) or a word not in the list: kept as it is.
        out.push(rest.to_string());
        break;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_follow_microsofts_table_including_the_one_way_pairs() {
        assert_eq!(paired("westeurope"), Some("northeurope"));
        assert_eq!(paired("North Europe"), Some("westeurope"));
        assert_eq!(paired("eastus2"), Some("centralus"));
        assert_eq!(paired("brazilsouth"), Some("southcentralus"));
        assert_eq!(paired("westus3"), Some("eastus"));
        assert_eq!(paired("eastus"), Some("westus"));
        assert_eq!(paired("polandcentral"), None);
        for (a, b) in PAIRS {
            assert!(
                paired(b).is_some(),
                "{a} pairs with {b}, which has no pair row"
            );
        }
    }

    #[test]
    fn names_and_codes() {
        assert_eq!(short("westeurope"), "weu");
        assert_eq!(short("polandcentral"), "polandcentral");
        assert_eq!(display("westeurope"), "West Europe");
        assert_eq!(display("eastus2"), "East US 2");
        assert_eq!(display("swedencentral"), "Sweden Central");
    }
}
