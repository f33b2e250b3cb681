//! What changed in the runbooks since the last successful drill (recovered, clean-up done,
//! see `Analysis::succeeded`): the log header holds each file's SHA-256, not its content, so the old content
//! is looked for in the file's git history (a version whose SHA-256 matches); found, the
//! change is shown as a unified diff, else by its hashes.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::analysis::Analysis;
use super::compare::short;
use super::sources::{FileStatus, locate};
use drbook_core::incident::chain::sha256_hex;

/// How far back the git history is searched for the old content.
const GIT_COMMITS: usize = 50;

#[derive(Debug, Clone, Serialize)]
pub struct Changes {
    /// The last successful drill; `None` when no run succeeded.
    pub since: Option<DrillRef>,
    /// Runbooks whose file is not what that drill ran.
    pub runbooks: Vec<RunbookDiff>,
    /// Runbooks unchanged since.
    pub unchanged: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillRef {
    pub log: Option<String>,
    pub incident_id: Option<String>,
    pub started: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunbookDiff {
    pub runbook: String,
    pub file: Option<String>,
    pub then_sha256: Option<String>,
    pub now: FileStatus,
    /// Where the old content came from (`git <commit>`), when found.
    pub old_from: Option<String>,
    /// A unified diff, old → now, when the old content was found.
    pub diff: Option<String>,
}

/// Against the newest run of `runs` (oldest first) that succeeded.
pub fn changes_since_last_success(runs: &[Analysis]) -> Changes {
    let Some(drill) = runs.iter().rev().find(|a| a.succeeded()) else {
        return Changes {
            since: None,
            runbooks: Vec::new(),
            unchanged: Vec::new(),
        };
    };
    let base = drill.log.as_deref().and_then(|l| Path::new(l).parent());
    let mut out = Changes {
        since: Some(DrillRef {
            log: drill.log.clone(),
            incident_id: drill.incident.as_ref().map(|i| i.id.clone()),
            started: drill.incident.as_ref().and_then(|i| i.started),
        }),
        runbooks: Vec::new(),
        unchanged: Vec::new(),
    };
    for r in &drill.runbooks {
        if r.file_status == FileStatus::Unchanged {
            out.unchanged.push(r.id.clone());
            continue;
        }
        let path = r.file.as_deref().and_then(|f| locate(f, base));
        let old = match (&path, &r.sha256) {
            (Some(p), Some(sha)) => old_content_from_git(p, sha),
            _ => None,
        };
        let diff = match (&old, &path) {
            (Some((_, old)), Some(p)) => std::fs::read_to_string(p).ok().map(|now| {
                let name = p.display().to_string();
                unified(old, &now, &format!("{name} (last successful drill)"), &name)
            }),
            _ => None,
        };
        out.runbooks.push(RunbookDiff {
            runbook: r.id.clone(),
            file: r.file.clone(),
            then_sha256: r.sha256.clone(),
            now: r.file_status.clone(),
            old_from: old.map(|(from, _)| from),
            diff,
        });
    }
    out
}

/// A unified diff of two texts, three lines of context.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// The content `path` had when its SHA-256 was `sha256`, from its git history (the last
/// `GIT_COMMITS` commits that touched it). `None` outside git, or when no commit matches.
pub fn old_content_from_git(path: &Path, sha256: &str) -> Option<(String, String)> {
    let dir: PathBuf = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.into(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name()?.to_str()?;
    let log = Command::new("git")
        .arg("-C")
        .arg(&dir)
        .args([
            "log",
            "--format=%H",
            "-n",
            &GIT_COMMITS.to_string(),
            "--",
            name,
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let commits = String::from_utf8(log.stdout).ok()?;
    commits.lines().find_map(|c| {
        let show = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["show", &format!("{c}:./{name}")])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        (sha256_hex(&show.stdout) == sha256).then(|| {
            (
                format!("git {}", super::stats::short_hash(c)),
                String::from_utf8_lossy(&show.stdout).into_owned(),
            )
        })
    })
}

pub fn render_markdown(c: &Changes) -> String {
    let mut o = String::from("## What changed since the last successful drill\n\n");
    let Some(since) = &c.since else {
        o.push_str("No successful drill (closed as rehearsed or recovered) in these logs.\n\n");
        return o;
    };
    let _ = writeln!(
        o,
        "Last successful drill: `{}` ({}).\n",
        since.incident_id.as_deref().unwrap_or("?"),
        since.started.map_or("-".into(), super::markdown::ts)
    );
    if c.runbooks.is_empty() {
        let _ = writeln!(
            o,
            "No runbook changed: every file still has the content that drill ran.\n"
        );
    }
    for r in &c.runbooks {
        let _ = writeln!(
            o,
            "### `{}` ({})\n\n{}; then sha256 `{}`.\n",
            r.runbook,
            r.file.as_deref().unwrap_or("?"),
            r.now,
            short(r.then_sha256.as_deref())
        );
        match (&r.diff, &r.old_from) {
            (Some(d), Some(from)) => {
                let _ = writeln!(o, "Old content from {from}:\n\n```diff\n{}```\n", d);
            }
            _ => {
                let _ = writeln!(
                    o,
                    "The old content is not stored in the log and was not found in git history: compare by hand.\n"
                );
            }
        }
    }
    if !c.unchanged.is_empty() {
        let _ = writeln!(o, "Unchanged: {}.\n", c.unchanged.join(", "));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unified_diff_marks_removed_and_added_lines() {
        let d = unified("a\nb\nc\n", "a\nB\nc\n", "old", "new");
        assert!(d.contains("--- old") && d.contains("+++ new"), "{d}");
        assert!(d.contains("-b\n") && d.contains("+B\n"), "{d}");
    }

    #[test]
    fn the_old_content_is_found_in_git_history_by_its_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !git(&["init", "-q"]) {
            eprintln!("git not available: skipped");
            return;
        }
        let file = dir.path().join("web.toml");
        std::fs::write(&file, "rto = \"30m\"\n").unwrap();
        assert!(git(&["add", "web.toml"]) && git(&["commit", "-qm", "one"]));
        let then = sha256_hex(b"rto = \"30m\"\n");
        std::fs::write(&file, "rto = \"45m\"\n").unwrap();
        assert!(git(&["commit", "-qam", "two"]));
        let (from, old) = old_content_from_git(&file, &then).expect("found");
        assert!(from.starts_with("git "), "{from}");
        assert_eq!(old, "rto = \"30m\"\n");
        assert!(old_content_from_git(&file, &"0".repeat(64)).is_none());
    }
}
