//! `drbook discover --out DIR`: the runbooks and the plan generated from the templates for the
//! discovered components, and `discovery.json`, the estate as discovery saw it (what
//! `drbook drift` compares today's estate with). Every file is written whole (a temporary
//! file, fsynced, renamed), and the folder is then loaded and validated as `drbook validate
//! --strict` would, so the caller can say truthfully whether what it wrote passes.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use drbook_core::diag::Diagnostic;
use drbook_core::runbook::generate::{GenerateError, Source, Templates};
use drbook_core::runbook::load_paths;

use super::Discovery;

/// The snapshot of the estate beside the generated runbooks.
pub const SNAPSHOT: &str = "discovery.json";

/// What [`write_runbooks`] wrote, and what validating it found.
#[derive(Debug)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// The diagnostics of loading the folder (errors and warnings): empty when the files pass
    /// `drbook validate --strict`.
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Generate(#[from] GenerateError),
    #[error(
        "{dir}: these files exist and would be replaced: {}; move them away or pass --force",
        .files.join(", ")
    )]
    Exists { dir: String, files: Vec<String> },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the snapshot: {0}")]
    Json(#[from] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The header's estate: the subscriptions and the regions of `d`.
pub fn source_of(d: &Discovery) -> Source {
    Source {
        subscriptions: d
            .subscription
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        primary: d.primary.clone(),
        secondary: d.secondary.clone(),
    }
}

/// Every file `--out` writes: `(file name, text)`, generated in memory (nothing written yet).
pub fn render_all(
    d: &Discovery,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, WriteError> {
    let mut files = templates.generate_all(&d.components, now, &source_of(d))?;
    files.push((
        SNAPSHOT.to_string(),
        serde_json::to_string_pretty(&Snapshot {
            generated: drbook_core::time::rfc3339_secs(now),
            discovery: d,
        })? + "\n",
    ));
    Ok(files)
}

#[derive(serde::Serialize)]
struct Snapshot<'a> {
    /// RFC 3339 in seconds, UTC, as the headers of the generated files say it.
    generated: String,
    #[serde(flatten)]
    discovery: &'a Discovery,
}

/// Writes the runbooks, the plan and the snapshot into `dir` (created if missing), refusing to
/// replace a file that exists unless `force`, then validates the folder.
pub fn write_runbooks(
    d: &Discovery,
    templates: &Templates,
    dir: &Path,
    now: DateTime<Utc>,
    force: bool,
) -> Result<Written, WriteError> {
    let files = render_all(d, templates, now)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if !force {
        let exists: Vec<String> = files
            .iter()
            .filter(|(name, _)| dir.join(name).exists())
            .map(|(name, _)| name.clone())
            .collect();
        if !exists.is_empty() {
            return Err(WriteError::Exists {
                dir: dir.display().to_string(),
                files: exists,
            });
        }
    }
    let mut written = Vec::with_capacity(files.len());
    for (name, text) in &files {
        let path = dir.join(name);
        write_whole(&path, text.as_bytes())?;
        written.push(path);
    }
    let diagnostics = match load_paths(&[dir.to_path_buf()]) {
        Ok(set) => set.diagnostics,
        Err(e) => {
            return Err(WriteError::Io {
                path: dir.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            });
        }
    };
    Ok(Written {
        files: written,
        diagnostics,
    })
}

/// `path` replaced whole: a temporary sibling written and fsynced, then renamed over it.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| WriteError::Io {
        path: path.display().to_string(),
        source: e.error,
    })?;
    Ok(())
}
