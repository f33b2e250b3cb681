//! The runbook (and plan) files a log names, as they are on disk now: their RTO, RPO, step
//! titles, kinds and dependencies, and whether each is still the file that ran (the log
//! header holds the SHA-256 of what ran; the file may since have changed or gone).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use drbook_core::incident::Header;
use drbook_core::incident::chain::sha256_hex;
use drbook_core::runbook::model::OnFailure;
use drbook_core::runbook::plan::{self, Group};
use drbook_core::runbook::{self, Runbook, vars};
use drbook_engine::checks::scope::Scope;

/// Whether a runbook file is still what the log says ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FileStatus {
    /// Same bytes as when it ran.
    Unchanged,
    /// The file is there but its content is not what ran.
    Changed { now_sha256: String },
    /// Cannot be read (moved, deleted, or the report runs elsewhere).
    Missing { reason: String },
    /// The log does not say which file it was.
    Unknown,
}

impl std::fmt::Display for FileStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileStatus::Unchanged => write!(f, "unchanged since the run"),
            FileStatus::Changed { now_sha256 } => write!(
                f,
                "CHANGED since the run (now sha256 {}…)",
                super::stats::short_hash(now_sha256)
            ),
            FileStatus::Missing { reason } => write!(f, "not found now ({reason})"),
            FileStatus::Unknown => write!(f, "file not named in the log"),
        }
    }
}

/// What a report knows of one step from its runbook file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepInfo {
    pub title: String,
    pub kind: String,
    pub depends_on: Vec<String>,
    /// `on_failure` is not `continue`: its failure stops the runbook.
    pub stops_on_failure: bool,
    /// `traffic = true`: it moves users' traffic to the healthy region.
    pub traffic: bool,
}

/// What a report knows of one runbook from its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunbookInfo {
    pub title: Option<String>,
    pub rto: Option<String>,
    pub rpo: Option<String>,
    /// In file order.
    pub steps: Vec<(String, StepInfo)>,
}

impl RunbookInfo {
    pub fn step(&self, id: &str) -> Option<&StepInfo> {
        self.steps.iter().find(|(s, _)| s == id).map(|(_, i)| i)
    }

    fn from_runbook(rb: &Runbook, scope: &Scope) -> RunbookInfo {
        RunbookInfo {
            title: Some(scope.shown(rb.meta.title.get_ref())),
            rto: rb.meta.rto.as_ref().map(|r| r.get_ref().clone()),
            rpo: rb.meta.rpo.as_ref().map(|r| r.get_ref().clone()),
            steps: rb
                .steps
                .iter()
                .map(|s| {
                    (
                        s.id.get_ref().clone(),
                        StepInfo {
                            title: scope.shown(s.title.get_ref()),
                            kind: s.kind.get_ref().as_str().into(),
                            depends_on: s.depends_on.iter().map(|d| d.get_ref().clone()).collect(),
                            stops_on_failure: s
                                .on_failure
                                .as_ref()
                                .is_none_or(|o| *o.get_ref() != OnFailure::Continue),
                            traffic: s.traffic.as_ref().is_some_and(|t| *t.get_ref()),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// The plan the log ran, when its file is found beside the runbooks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanInfo {
    pub id: String,
    pub rto: Option<String>,
    pub groups: Vec<Group>,
}

/// Everything a report takes from files other than the log. `Sources::default()` knows
/// nothing, and the report still works from the log alone.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub runbooks: BTreeMap<String, RunbookInfo>,
    pub status: BTreeMap<String, FileStatus>,
    pub plan: Option<PlanInfo>,
}

impl Sources {
    /// Reads the files the header names, relative to the current directory (where drbook
    /// ran, usually) and else to `base` (say, the log's folder).
    pub fn for_header(header: &Header, base: Option<&Path>) -> Sources {
        let mut out = Sources::default();
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut models: Vec<Runbook> = Vec::new();
        for r in &header.runbooks {
            let Some(path) = locate(&r.file, base) else {
                out.status.insert(
                    r.id.clone(),
                    FileStatus::Missing {
                        reason: format!("{}: no such file", r.file),
                    },
                );
                continue;
            };
            // A log names the file: only a regular file of runbook size is read (not a FIFO).
            let bytes = match runbook::load::read_regular(&path) {
                Ok(b) => b,
                Err(e) => {
                    let reason = format!("{}: {e}", path.display());
                    out.status
                        .insert(r.id.clone(), FileStatus::Missing { reason });
                    continue;
                }
            };
            let now = sha256_hex(&bytes);
            let status = if now == r.sha256 {
                FileStatus::Unchanged
            } else {
                FileStatus::Changed { now_sha256: now }
            };
            out.status.insert(r.id.clone(), status);
            if let Some(dir) = path.parent().map(Path::to_path_buf)
                && !dirs.contains(&dir)
            {
                dirs.push(dir);
            }
            // A runbook that no longer parses tells nothing about its steps; the log still does.
            if let Ok(set) = runbook::load_paths(&[path])
                && let Some(rb) = set.runbooks.into_iter().find(|rb| rb.id() == r.id)
            {
                models.push(rb);
            }
        }
        let mut plan_vars = None;
        if let Some(id) = &header.plan
            && let Some((info, vars)) = find_plan(id, &dirs)
        {
            out.plan = Some(info);
            plan_vars = Some(vars);
        }
        // Titles as the run showed them. The log keeps the title of every step that started;
        // a step that never did is named from its file, with the values the files give (its
        // defaults, the plan's): `--var` and the environment of the run are not in the log.
        let mut incident = BTreeMap::new();
        incident.insert("id".to_string(), header.incident_id.clone());
        for rb in &models {
            let (values, _) =
                vars::resolve_partial(rb, plan_vars.as_ref(), &BTreeMap::new(), |_| None);
            let scope = Scope::new(rb, values, incident.clone());
            out.runbooks
                .insert(rb.id().to_string(), RunbookInfo::from_runbook(rb, &scope));
        }
        out
    }

    /// What the runbooks loaded for a run (and its plan's groups and RTO) say: the files are
    /// the ones running, so nothing is changed or missing. Titles are filled from each
    /// runbook's scope as the run resolved it (no second resolution of its variables).
    pub fn from_runbooks<'a>(
        runbooks: impl IntoIterator<Item = (&'a Runbook, &'a Scope)>,
        groups: &[Group],
        plan: Option<(&str, Option<&str>)>,
    ) -> Sources {
        Sources {
            runbooks: runbooks
                .into_iter()
                .map(|(rb, scope)| (rb.id().to_string(), RunbookInfo::from_runbook(rb, scope)))
                .collect(),
            status: BTreeMap::new(),
            plan: plan.map(|(id, rto)| PlanInfo {
                id: id.into(),
                rto: rto.map(str::to_string),
                groups: groups.to_vec(),
            }),
        }
    }

    pub fn runbook(&self, id: &str) -> Option<&RunbookInfo> {
        self.runbooks.get(id)
    }

    pub fn file_status(&self, id: &str) -> FileStatus {
        self.status.get(id).cloned().unwrap_or(FileStatus::Unknown)
    }
}

/// The file as named, or relative to `base`.
pub fn locate(file: &str, base: Option<&Path>) -> Option<PathBuf> {
    let p = PathBuf::from(file);
    if p.is_file() {
        return Some(p);
    }
    let b = base?.join(file);
    b.is_file().then_some(b)
}

/// The plan `id` among the files of `dirs` (a plan sits beside its runbooks), and its
/// variables.
fn find_plan(id: &str, dirs: &[PathBuf]) -> Option<(PlanInfo, PlanVars)> {
    let set = runbook::load_paths(dirs).ok()?;
    let p = set.plans.iter().find(|p| p.id() == id)?;
    let info = PlanInfo {
        id: id.into(),
        rto: p.meta.rto.as_ref().map(|r| r.get_ref().clone()),
        groups: plan::groups(Some(p), &set.runbooks),
    };
    Some((info, p.vars.clone()))
}

type PlanVars = BTreeMap<String, toml::Spanned<toml::Value>>;
