//! `drbook report`: wiring from the command line to `crate::report` (one log, two logs, or a
//! folder of them) and writing the result to stdout or a file.
//! Exit codes: 0 fine; 1 a log is not intact or the history flags a regression; 2 usage or a
//! file that cannot be read or written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::report::{self, compare, history, html, markdown};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    /// A postmortem-ready Markdown document
    Md,
    /// The analysis, for other tools
    Json,
    /// A self-contained page with a timeline chart
    Html,
}

#[derive(Debug, Args)]
#[command(long_about = "Postmortem report from incident logs.\n\n\
  drbook report LOG           one incident: summary, timeline, RTO/RPO, failures, notes, integrity\n\
  drbook report LOG1 LOG2     two runs of the same plan compared step by step\n\
  drbook report DIR           every run in DIR of the newest run's plan: p50/p95 per step, the\n\
                              recovery-time trend, regressions, and what changed in the runbooks\n\
                              since the last successful drill\n\n\
Runbook files named in the log are read (relative to the current directory, else the log's\n\
folder) for RTO/RPO targets, titles and dependencies.\n\n\
Exit status: 0 fine, 1 a log is not intact or the latest run regressed, 2 usage or read error.")]
pub struct ReportArgs {
    /// An incident log, two of them (compared), or a folder of logs (history)
    #[arg(required = true, num_args = 1..=2, value_name = "LOG|DIR")]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// Write the report to FILE instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Check the log's head against the shared timeline at URL (without URL: the share the
    /// log's header names), so a log cut short or changed since it was shared is caught
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub share: Option<String>,
}

/// What was produced, and whether it found a problem.
struct Made {
    text: String,
    problem: bool,
}

pub fn run(args: &ReportArgs) -> ExitCode {
    let made = match args.paths.as_slice() {
        [dir] if dir.is_dir() => one_folder(dir, args.format),
        [log] => one_log(log, args.format, args.share.as_deref()),
        [a, b] if !a.is_dir() && !b.is_dir() => two_logs(a, b, args.format),
        _ => Err("give one log, two logs, or one folder".to_string()),
    };
    let made = match made {
        Ok(m) => m,
        Err(e) => {
            eprintln!("drbook report: {e}");
            return ExitCode::from(2);
        }
    };
    let written = match &args.out {
        Some(path) => std::fs::write(path, &made.text)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(made.text.as_bytes())
                .and_then(|_| out.flush())
            {
                // The reader went away (`| head`): what it read was the report.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|e| format!("cannot write the report: {e}")),
            }
        }
    };
    if let Err(e) = written {
        eprintln!("drbook report: {e}");
        return ExitCode::from(2);
    }
    if made.problem {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| report::ReportError::from(e).to_string())
}

fn one_log(log: &Path, format: ReportFormat, share: Option<&str>) -> Result<Made, String> {
    let shared = match share {
        Some(url) => Some(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start: {e}"))?
                .block_on(crate::share::timeline_for(
                    log,
                    url,
                    crate::share::SHARE_LIMIT,
                ))?,
        ),
        None => None,
    };
    let a = report::analyze_anchored(log, shared.as_deref()).map_err(|e| e.to_string())?;
    // Not an incident log at all: there is nothing to report on, not even an empty postmortem.
    if a.integrity.verdict == "not_a_log" {
        return Err(format!("{}: {}", log.display(), a.integrity.message));
    }
    if !a.integrity.is_intact() {
        eprintln!("drbook report: {}: {}", log.display(), a.integrity.message);
    }
    let text = match format {
        ReportFormat::Md => markdown::render(&a),
        ReportFormat::Json => json(&a)?,
        ReportFormat::Html => html::render(&a),
    };
    Ok(Made {
        text,
        problem: !a.integrity.is_intact(),
    })
}

fn two_logs(a: &Path, b: &Path, format: ReportFormat) -> Result<Made, String> {
    let (x, y) = (
        report::analyze(a).map_err(|e| e.to_string())?,
        report::analyze(b).map_err(|e| e.to_string())?,
    );
    if x.plan_key() != y.plan_key() {
        eprintln!(
            "drbook report: the two logs ran different plans ({} and {}); comparing what they share",
            x.plan_key(),
            y.plan_key()
        );
    }
    let c = compare::compare(&x, &y);
    let text = match format {
        ReportFormat::Md => compare::render_markdown(&c),
        ReportFormat::Json => json(&c)?,
        ReportFormat::Html => html::render_comparison(&c),
    };
    Ok(Made {
        text,
        problem: !x.integrity.is_intact() || !y.integrity.is_intact(),
    })
}

fn one_folder(dir: &Path, format: ReportFormat) -> Result<Made, String> {
    let h = history::history(dir).map_err(|e| e.to_string())?;
    let text = match format {
        ReportFormat::Md => history::render_markdown(&h),
        ReportFormat::Json => json(&h)?,
        ReportFormat::Html => html::render_history(&h),
    };
    let altered = h.runs.iter().any(|r| r.integrity != "intact");
    Ok(Made {
        text,
        problem: altered || !h.regressions.is_empty(),
    })
}
