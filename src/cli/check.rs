//! `drbook check`: the read-only steps of runbooks against live state, as a table or JSON.
//! Exit 0 when every step holds, 1 when some fail, 2 on usage or sign-in errors, 130 when
//! interrupted (Ctrl-C cancels the reads in flight).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use comfy_table::{ContentArrangement, Table, presets};

use super::target::{self, TargetArgs};
use super::{
    Format, load, parse_var, refuse_undeclared_vars, report_load_errors, runtime_or_report,
};
use crate::checks::run::{CheckOptions, CheckRow, Summary, check_all, summarize};
use crate::checks::scope::Scope;
use crate::incident::redact::printable;
use crate::runbook::vars;
use crate::secrets::SecretMatcher;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  drbook check runbooks/ --target sim\n  drbook check runbooks/ --target sim --scenario runbooks/scenarios/westeurope-outage.toml --at start\n  drbook check runbooks/data-sql.toml --target azure --subscription $SUB --format json\n  drbook check runbooks/ --target azure --arm-endpoint http://127.0.0.1:8443 --auth sim"
)]
pub struct CheckArgs {
    /// Runbook files or folders
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Set a variable, overriding the environment, the plan and the default
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// How `check` steps read their resource: one GET each, or one Resource Graph query for
    /// all. Graph is much faster but serves the last known state: it lags live state by
    /// minutes and still lists a failed region's resources as they were, so use it to ask
    /// "is the secondary ready?", not to confirm an outage
    #[arg(long, value_enum, default_value_t = Via::Arm)]
    pub via: Via,
    /// Also run the steps that verify a change (after an action or a command),
    /// e.g. to confirm the end state after a failover
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Via {
    Arm,
    Graph,
}

pub fn run(args: CheckArgs) -> ExitCode {
    let Some(rt) = runtime_or_report() else {
        return ExitCode::from(2);
    };
    rt.block_on(check(args))
}

async fn check(args: CheckArgs) -> ExitCode {
    let set = match load(&args.paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if report_load_errors(&set) {
        return ExitCode::from(1);
    }
    if let Err(code) = refuse_undeclared_vars(&set, &args.vars) {
        return code;
    }
    let mut overrides: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    if let Some(s) = &args.target.subscription {
        overrides
            .entry("subscription".into())
            .or_insert_with(|| s.clone());
    }
    let env = |k: &str| std::env::var(k).ok();
    let mut work = Vec::new();
    let mut secrets: Vec<String> = Vec::new();
    for rb in &set.runbooks {
        let plan = set.plans.iter().find(|p| {
            p.groups
                .iter()
                .any(|g| g.runbooks.iter().any(|r| r.get_ref() == rb.id()))
        });
        let (v, missing) = vars::resolve_partial(rb, plan.map(|p| &p.vars), &overrides, env);
        let incident = BTreeMap::from([
            ("id".to_string(), "check".to_string()),
            ("mode".to_string(), "check".to_string()),
            ("operator".to_string(), whoami()),
            (
                "started".to_string(),
                crate::time::rfc3339_millis(chrono::Utc::now()),
            ),
        ]);
        secrets.extend(
            v.values
                .values()
                .filter(|x| x.secret && x.value.chars().count() >= crate::secrets::MIN_SECRET)
                .map(|x| x.value.clone()),
        );
        let mut scope = Scope::new(rb, v, incident);
        // Steps that need a missing variable are skipped and say how to set it.
        scope.missing = missing.into_iter().map(|m| (m.name, m.how)).collect();
        work.push((rb.clone(), scope));
    }
    if work.is_empty() {
        eprintln!(
            "drbook: no runbooks under {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(2);
    }
    let connected = match target::connect(&args.target, env).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("drbook: {e}");
            return ExitCode::from(2);
        }
    };
    // Ctrl-C cancels the reads in flight; the table then shows what finished and what did not.
    let cancel = connected.reader.arm.cancel_token();
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupted.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            cancel.cancel();
        }
    });
    let started = Instant::now();
    let rows = check_all(
        &connected.reader,
        work,
        CheckOptions {
            via_graph: args.via == Via::Graph,
            include_after_changes: args.all,
        },
    )
    .await;
    let elapsed = started.elapsed();
    watcher.abort();
    let summary = summarize(&rows);
    if let Some(sim) = connected.sim {
        sim.shutdown().await;
    }
    let mut text = Vec::new();
    let written = match args.format {
        Format::Json => write_json(&mut text, &connected.description, &rows, &summary, elapsed),
        Format::Human => {
            let how = match args.via {
                Via::Arm => format!("concurrency {}", args.target.concurrency),
                Via::Graph => {
                    "check steps read through Resource Graph: last known state, may lag".to_string()
                }
            };
            write_table(
                &mut text,
                &connected.description,
                &rows,
                &summary,
                elapsed,
                &how,
            )
        }
    }
    .and_then(|()| {
        // The last word on what reaches the terminal: whatever a row kept of a secret (in
        // any form) or of a server's terminal escapes goes no further.
        let text = String::from_utf8_lossy(&text);
        let text = SecretMatcher::cached(&secrets.iter().map(String::as_str).collect::<Vec<_>>())
            .mask(&text)
            .into_owned();
        let mut out = std::io::stdout().lock();
        out.write_all(printable(&text).as_bytes())?;
        out.flush()
    });
    // A reader that went away (`| head`) is no failure of the check: its verdict stands.
    if let Err(e) = written.as_ref()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("drbook: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        eprintln!("drbook: interrupted; reads still in flight were cancelled");
        ExitCode::from(130)
    } else if summary.auth_error {
        ExitCode::from(2)
    } else if summary.fail + summary.error > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn whoami() -> String {
    std::env::var("DRBOOK_OPERATOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

fn write_json(
    out: &mut impl Write,
    target: &str,
    rows: &[CheckRow],
    summary: &Summary,
    elapsed: std::time::Duration,
) -> std::io::Result<()> {
    let report = serde_json::json!({
        "target": target,
        "elapsed_ms": elapsed.as_millis() as u64,
        "summary": summary,
        "results": rows,
    });
    serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::other)?;
    writeln!(out)
}

fn write_table(
    out: &mut impl Write,
    target: &str,
    rows: &[CheckRow],
    s: &Summary,
    elapsed: std::time::Duration,
    how: &str,
) -> std::io::Result<()> {
    writeln!(out, "target: {target}")?;
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "runbook", "step", "expected", "actual", "verdict", "latency",
        ]);
    if table.width().is_none() {
        // Not a terminal: wide enough to read in a CI log.
        table.set_width(160);
    }
    for r in rows {
        let latency = if r.result.latency.is_zero() {
            String::new()
        } else {
            format!("{:.0} ms", r.result.latency.as_secs_f64() * 1000.0)
        };
        table.add_row([
            r.runbook.clone(),
            r.step.clone(),
            clip(&r.result.expected),
            clip(&r.result.actual),
            r.result.verdict.as_str().to_string(),
            latency,
        ]);
    }
    writeln!(out, "{table}")?;
    let errors: Vec<&CheckRow> = rows.iter().filter(|r| r.result.error.is_some()).collect();
    if !errors.is_empty() {
        writeln!(out, "\nerrors:")?;
        for r in errors {
            if let Some(e) = &r.result.error {
                writeln!(out, "  {}/{}: {e}", r.runbook, r.step)?;
            }
        }
    }
    writeln!(
        out,
        "\n{} read-only steps: {} pass, {} fail, {} error, {} skipped, in {:.2}s ({how})",
        s.total,
        s.pass,
        s.fail,
        s.error,
        s.skipped,
        elapsed.as_secs_f64()
    )
}

/// Long cells (a whole JSON array) shortened for the table; `--format json` keeps them whole.
fn clip(s: &str) -> String {
    const MAX: usize = 120;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX - 1).collect::<String>())
    }
}
