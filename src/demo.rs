//! The built-in demo: the shipped runbooks and plan travel inside the binary, so `drbook` with
//! no arguments shows the whole product from any directory. They are written out to the data
//! directory before loading, so the log's header points at files a reviewer can open.

use std::path::{Path, PathBuf};

/// Every file of `runbooks/` (a test keeps this list and the folder in step).
pub const RUNBOOKS: &[(&str, &str)] = &[
    ("aks.toml", include_str!("../runbooks/aks.toml")),
    ("artifacts.toml", include_str!("../runbooks/artifacts.toml")),
    ("backlog.toml", include_str!("../runbooks/backlog.toml")),
    ("code.toml", include_str!("../runbooks/code.toml")),
    (
        "data-cosmos.toml",
        include_str!("../runbooks/data-cosmos.toml"),
    ),
    ("data-sql.toml", include_str!("../runbooks/data-sql.toml")),
    (
        "data-storage.toml",
        include_str!("../runbooks/data-storage.toml"),
    ),
    ("function.toml", include_str!("../runbooks/function.toml")),
    (
        "infrastructure.toml",
        include_str!("../runbooks/infrastructure.toml"),
    ),
    ("logic.toml", include_str!("../runbooks/logic.toml")),
    ("network.toml", include_str!("../runbooks/network.toml")),
    ("pipelines.toml", include_str!("../runbooks/pipelines.toml")),
    (
        "plan-westeurope-outage.toml",
        include_str!("../runbooks/plan-westeurope-outage.toml"),
    ),
    ("web.toml", include_str!("../runbooks/web.toml")),
];

/// Writes the demo runbooks under `base` (replacing what an older drbook wrote there) and
/// returns the folder.
pub fn extract(base: &Path) -> std::io::Result<PathBuf> {
    let dir = base.join(format!("demo-runbooks-{}", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(&dir)?;
    for (name, text) in RUNBOOKS {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
            std::fs::write(&path, text)?;
        }
    }
    Ok(dir)
}

/// Where the demo runbooks go: the user's data directory, or the temp directory without one.
pub fn default_base() -> PathBuf {
    directories::ProjectDirs::from("", "", "drbook").map_or_else(
        || std::env::temp_dir().join("drbook"),
        |d| d.data_dir().to_path_buf(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_runbooks_are_exactly_the_shipped_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("runbooks/ exists")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = RUNBOOKS.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "add new runbooks to demo::RUNBOOKS");
        for (name, text) in RUNBOOKS {
            let disk = std::fs::read_to_string(dir.join(name)).expect("readable");
            assert_eq!(&disk, text, "{name}");
        }
    }

    #[test]
    fn extract_writes_every_file_once() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = extract(tmp.path()).expect("extract");
        assert_eq!(
            std::fs::read_dir(&dir).expect("dir").count(),
            RUNBOOKS.len()
        );
        let again = extract(tmp.path()).expect("extract again");
        assert_eq!(dir, again);
    }
}
