//! The workspace's layers, held as a test so a new dependency cannot quietly point up: the
//! compiler refuses a circle between crates, this refuses an edge the design does not allow
//! (a screen library below the TUI, the simulator under the engine, clap below the CLI), and
//! a source file that has grown past the size a reviewer can hold in mind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Each crate of `crates/` and the `[dependencies]` it declares (not dev-dependencies).
fn crates() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let dir = root().join("crates");
    for e in std::fs::read_dir(&dir).expect("crates/").flatten() {
        let manifest = e.path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("a crate's Cargo.toml");
        let doc: toml::Table = toml::from_str(&text).expect("Cargo.toml parses");
        let name = doc["package"]["name"].as_str().expect("name").to_string();
        let deps = doc
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        out.insert(name, deps);
    }
    out
}

/// Lower layers first: a crate may depend only on crates listed before it.
const LAYERS: &[(&str, &[&str])] = &[
    ("drbook-azure", &[]),
    ("drbook-core", &["drbook-azure"]),
    ("drbook-sim", &["drbook-core"]),
    ("drbook-engine", &["drbook-azure", "drbook-core"]),
    ("drbook-report", &["drbook-core", "drbook-engine"]),
    (
        "drbook-tui",
        &["drbook-core", "drbook-engine", "drbook-report"],
    ),
];

#[test]
fn every_dependency_between_crates_points_down() {
    let crates = crates();
    assert!(crates.len() >= 5, "{crates:?}");
    for (name, deps) in &crates {
        let allowed = LAYERS
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("{name} is in no layer: add it to LAYERS"));
        for d in deps.iter().filter(|d| d.starts_with("drbook")) {
            assert!(
                allowed.contains(&d.as_str()),
                "{name} depends on {d}, which is not below it"
            );
        }
    }
}

#[test]
fn only_the_tui_draws_and_only_the_binary_parses_arguments() {
    for (name, deps) in crates() {
        for lib in ["ratatui", "crossterm"] {
            assert!(
                name == "drbook-tui" || !deps.iter().any(|d| d == lib),
                "{name} depends on {lib}"
            );
        }
        assert!(
            !deps.iter().any(|d| d == "clap" || d == "clap_complete"),
            "{name} depends on clap: the engine is configured by plain structs"
        );
        // The simulator is reached over HTTP like Azure; only the binary starts it.
        assert!(
            !deps.iter().any(|d| d == "drbook-sim"),
            "{name} depends on the simulator for normal builds"
        );
    }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_source_file_is_over_1500_lines() {
    let mut files = Vec::new();
    for d in [
        "src",
        "crates",
        "tests",
        "benches",
        "xtask",
        "fuzz/fuzz_targets",
    ] {
        sources(&root().join(d), &mut files);
    }
    assert!(files.len() > 100, "{} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n > 1500).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert_eq!(long, Vec::<String>::new());
}
