//! The command line: clap definitions and the wiring from each command to the engine.
//! Exit codes: 0 success, 1 the runbooks (or the checked state) are not fine, 2 usage errors.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::diag::{self, Diagnostic};
use crate::runbook::{self, LoadSet, vars};

mod check;
pub mod config;
pub mod discover;
pub mod drift;
pub mod report;
pub mod run;
pub mod target;
pub mod values;

#[derive(Debug, Parser)]
#[command(
    name = "drbook",
    version,
    about = "Disaster-recovery runbooks for Azure, in your terminal",
    long_about = "drbook loads disaster-recovery runbooks (TOML), checks live Azure state, carries out \
or guides each step during a regional outage, and keeps a tamper-evident incident log.\n\n\
Without a command: the TUI on the built-in demo (a simulated westeurope outage).",
    after_help = "Examples:\n  drbook                       # the demo\n  drbook rehearse runbooks/ --target sim\n  drbook review ~/.local/share/drbook/incidents/\n  drbook validate runbooks/\n  drbook validate runbooks/web.toml --format json\n  drbook vars runbooks/ --var primary=westeurope\n  drbook completions bash > ~/.local/share/bash-completion/completions/drbook"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub demo: DemoArgs,
}

/// `drbook` alone: the TUI on the built-in demo (the shipped runbooks against a simulated
/// westeurope outage, a rehearsal).
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Demo: TUI colours (dark, light, high-contrast, colorblind, or a theme file)
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Demo: where the incident log goes (default: the user's data directory)
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Demo: who is at the keyboard
    #[arg(long)]
    pub operator: Option<String>,
    /// Demo: continue an interrupted demo incident from its log
    #[arg(long, value_name = "LOG")]
    pub resume: Option<PathBuf>,
    /// Demo: with --resume, resume a demo incident that was closed, opening it again
    #[arg(long, requires = "resume")]
    pub reopen: bool,
    /// Demo: when the outage began (RFC 3339, HH:MM today in UTC, or "25m ago"): the RTO
    /// counts from here
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check runbooks and plans: schema, references, dependency cycles, with file:line:col
    #[command(
        long_about = "Check runbooks and plans: schema, unknown fields, references to variables and step \
outputs, dependency cycles, durations and what each step kind needs. Every problem is reported \
with its file, line and column.\n\nExit status: 0 valid, 1 invalid, 2 usage error."
    )]
    Validate(ValidateArgs),
    /// Show every variable's value and where it comes from (secrets masked)
    Vars(VarsArgs),
    /// Headless state check: run the read-only steps and report (exit 1 if any fails)
    Check(Box<check::CheckArgs>),
    /// Carry out a plan during a live incident, in the TUI
    Run(Box<run::RunArgs>),
    /// Game day: carry out a plan against the simulator or a rehearsal target
    Rehearse(Box<run::RunArgs>),
    /// Join a shared incident another operator started with --share, with your runbooks
    Join(Box<run::JoinArgs>),
    /// Replay a past incident log in the TUI, read-only (a folder: list its incidents)
    Review(ReviewArgs),
    /// Postmortem report (Markdown, JSON, HTML) from incident logs
    Report(report::ReportArgs),
    /// Read an estate through Resource Graph: components, pairs across the region pair,
    /// findings and a readiness verdict (exit 1 on a critical finding)
    Discover(Box<discover::DiscoverArgs>),
    /// Do the runbooks still match the estate? Named resources gone or of another type,
    /// resources no runbook covers, what changed since they were generated (exit 1 if any)
    Drift(Box<drift::DriftArgs>),
    /// Run the Azure simulator on its own
    Sim(SimArgs),
    /// Print shell completions
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Runbook and plan files, or folders searched recursively for *.toml
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors (exit 1)
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct VarsArgs {
    /// Runbook and plan files, or folders
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Set a variable, overriding the environment, the plan and the default
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Take plan-level variables from this plan (by id); default: the plan that holds the runbook
    #[arg(long)]
    pub plan: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// An incident log (.jsonl), or a folder of them to list
    #[arg(value_name = "LOG|DIR")]
    pub path: PathBuf,
    /// TUI colours: dark, light, high-contrast, colorblind, or a theme file
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Check the log's head against the shared timeline at URL (without URL: the share the
    /// log's header names), so a log cut short or changed since it was shared is caught
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub share: Option<String>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The scenario to serve (format: runbooks/scenarios/README.md; default: the built-in
    /// westeurope-outage demo)
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Port on 127.0.0.1 (0: any free port)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Do not print timeline events
    #[arg(long)]
    pub quiet: bool,
}

/// Parses the command line; `--target` and `--role` default to the config file's `target` and
/// `role` when it has them (a config that does not load is reported by the TUI, not here).
fn parse_with_config_defaults() -> Cli {
    let mut cmd = Cli::command();
    let cfg = crate::cli::config::load_default(|k| std::env::var(k).ok()).ok();
    if let Some(role) = cfg.as_ref().and_then(|c| c.role) {
        for sub in ["run", "rehearse"] {
            cmd = cmd.mut_subcommand(sub, |c| {
                c.mut_arg("role", |a| a.default_value(role.as_str()))
            });
        }
    }
    if let Some(t) = cfg.and_then(|c| c.target) {
        let v = match t {
            crate::cli::target::TargetKind::Sim => "sim",
            crate::cli::target::TargetKind::Azure => "azure",
        };
        for sub in ["run", "rehearse", "check", "discover"] {
            cmd = cmd.mut_subcommand(sub, |c| {
                c.mut_arg("target", |a| a.required(false).default_value(v))
            });
        }
    }
    let matches = cmd.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

pub fn main() -> ExitCode {
    crate::startup::begin();
    sigpipe(true);
    let cli = parse_with_config_defaults();
    crate::startup::mark("command line parsed");
    if !only_prints(&cli) {
        sigpipe(false);
    }
    match cli.command {
        None => demo(cli.demo),
        Some(Command::Validate(args)) => validate(&args),
        Some(Command::Vars(args)) => show_vars(&args),
        Some(Command::Check(args)) => check::run(*args),
        Some(Command::Discover(args)) => discover::run(*args),
        Some(Command::Drift(args)) => drift::run(*args),
        Some(Command::Run(args)) => run::run(*args, false),
        Some(Command::Rehearse(args)) => run::run(*args, true),
        Some(Command::Join(args)) => run::join(*args),
        Some(Command::Sim(args)) => run_sim(&args),
        Some(Command::Review(args)) => match runtime_or_report() {
            Some(rt) => rt.block_on(crate::tui::review::review(
                &args.path,
                || config::ui_setup(args.theme.as_deref()),
                args.share.as_deref(),
            )),
            None => ExitCode::from(2),
        },
        Some(Command::Report(args)) => report::run(&args),
        Some(Command::Completions { shell }) => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "drbook", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

/// Whether the command only prints (and reads local files): such a command may die of
/// SIGPIPE when its reader goes away, as `cat` and `grep` do.
fn only_prints(cli: &Cli) -> bool {
    match &cli.command {
        Some(Command::Validate(_) | Command::Vars(_) | Command::Completions { .. }) => true,
        Some(Command::Report(args)) => args.share.is_none(),
        _ => false,
    }
}

/// What a write to a closed pipe does. `true`: the default, the process ends quietly
/// (`drbook validate runbooks/ | head -1`), as for every Unix filter; Rust ignores SIGPIPE
/// instead, so `println!` panics (exit 101). `false`: ignored, for the commands that carry
/// out an incident, talk to the network or run commands: a socket or pipe closed under them
/// must be an error they handle, never their death mid-step; they print with `outln!`,
/// which drops output nobody reads. Only parsing the command line runs between the two.
fn sigpipe(default: bool) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{SigHandler, Signal, signal};
        let handler = if default {
            SigHandler::SigDfl
        } else {
            SigHandler::SigIgn
        };
        // SAFETY: SIG_DFL and SIG_IGN are no Rust handlers; nothing else sets SIGPIPE.
        let _ = unsafe { signal(Signal::SIGPIPE, handler) };
    }
    #[cfg(not(unix))]
    let _ = default;
}

/// The TUI on the built-in demo: a rehearsal of the shipped plan against the simulator,
/// waits capped at two seconds so the demo moves at the pace of a reader.
fn demo(args: DemoArgs) -> ExitCode {
    let dir = match crate::demo::extract(&crate::demo::default_base()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("drbook: cannot write the demo runbooks: {e}");
            return ExitCode::from(2);
        }
    };
    crate::startup::mark("demo runbooks written");
    let run = run::RunArgs {
        paths: vec![dir],
        target: crate::cli::target::TargetArgs::simulator(None, "end"),
        non_interactive: false,
        answers: None,
        auto_approve: false,
        operator: args.operator,
        role: None,
        // The secrets the runbooks need stand in: command steps, which would use them, are
        // not run against the simulator.
        vars: Vec::new(),
        dry_run: false,
        max_delay: Some(std::time::Duration::from_secs(2)),
        read_only: false,
        log_dir: args.log_dir,
        title: Some("Demo: westeurope outage (simulated)".into()),
        resume: args.resume,
        reopen: args.reopen,
        regions: Vec::new(),
        components: Vec::new(),
        run_commands: false,
        cleanup: false,
        theme: args.theme,
        share: None,
        claim_wait: std::time::Duration::ZERO,
        run_unclaimed: false,
        resume_cmd: Some("drbook".into()),
        incident: None,
        since: args.since,
    };
    run::run(run, true)
}

/// `drbook sim`: serves a scenario until Ctrl-C.
/// The async runtime of the commands that talk to Azure or serve the simulator.
fn runtime_or_report() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("drbook: cannot start the async runtime: {e}");
            None
        }
    }
}

fn run_sim(args: &SimArgs) -> ExitCode {
    let scenario = match crate::cli::target::load_scenario(args.scenario.as_ref()) {
        Ok((s, _)) => s,
        Err(e) => {
            eprintln!("drbook sim: {e}");
            return ExitCode::from(1);
        }
    };
    let Some(runtime) = runtime_or_report() else {
        return ExitCode::from(1);
    };
    runtime.block_on(async {
        let (id, title) = (
            scenario.scenario.id.clone(),
            scenario.scenario.title.clone(),
        );
        let opts = crate::sim::SimOptions {
            port: args.port,
            quiet: args.quiet,
            ..Default::default()
        };
        let handle = match crate::sim::start(scenario, opts).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("drbook sim: {e}");
                return ExitCode::from(1);
            }
        };
        let url = handle.base_url();
        // A closed stdout (the reader went away) must not stop the simulator.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "drbook sim: serving scenario `{id}` ({title}) at {url}"
        );
        let _ = writeln!(
            out,
            "Point drbook at it: --target azure --auth sim --arm-endpoint {url}   \
             (controls: {url}/sim/state, POST {url}/sim/regions/<region>/down). Ctrl-C stops."
        );
        let _ = out.flush();
        drop(out);
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("drbook sim: cannot wait for Ctrl-C: {e}");
        }
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Refuses (exit 2) `--var` names that no loaded runbook or plan declares, with "did you mean".
fn refuse_undeclared_vars(set: &LoadSet, vars: &[(String, String)]) -> Result<(), ExitCode> {
    let plan_vars: Vec<_> = set.plans.iter().map(|p| &p.vars).collect();
    let problems = runbook::vars::undeclared(
        vars.iter().map(|(k, _)| k.as_str()),
        &set.runbooks,
        &plan_vars,
    );
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("drbook: {p}");
    }
    Err(ExitCode::from(2))
}

fn load(paths: &[PathBuf]) -> Result<LoadSet, ExitCode> {
    runbook::load_paths(paths).map_err(|e| {
        eprintln!("drbook: {e}");
        ExitCode::from(2)
    })
}

fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[derive(Serialize)]
struct ValidateReport<'a> {
    files: usize,
    runbooks: usize,
    plans: usize,
    steps: usize,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

fn validate(args: &ValidateArgs) -> ExitCode {
    let set = match load(&args.paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let errors = set.error_count();
    let warnings = set.diagnostics.len() - errors;
    let report = ValidateReport {
        files: set.sources.len(),
        runbooks: set.runbooks.len(),
        plans: set.plans.len(),
        steps: set
            .runbooks
            .iter()
            .map(|r| r.steps.len() + r.rollbacks.len())
            .sum(),
        errors,
        warnings,
        diagnostics: &set.diagnostics,
    };
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out)),
        Format::Human => write_human(&mut out, &set, &report),
    };
    if let Err(e) = written {
        eprintln!("drbook: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    if errors > 0 || (args.strict && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn write_human(out: &mut impl Write, set: &LoadSet, r: &ValidateReport<'_>) -> std::io::Result<()> {
    let color = use_color();
    for d in &set.diagnostics {
        writeln!(out, "{}\n", diag::render(d, set.source(&d.file), color))?;
    }
    let verdict = if r.errors > 0 { "invalid" } else { "valid" };
    writeln!(
        out,
        "{verdict}: {} ({}, {}, {}), {}, {}",
        plural(r.files, "file"),
        plural(r.runbooks, "runbook"),
        plural(r.plans, "plan"),
        plural(r.steps, "step"),
        plural(r.errors, "error"),
        plural(r.warnings, "warning")
    )?;
    if !set.skipped.is_empty() {
        writeln!(
            out,
            "skipped {} simulator scenario file(s)",
            set.skipped.len()
        )?;
    }
    Ok(())
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Prints the errors of a load set; true when there were any.
fn report_load_errors(set: &LoadSet) -> bool {
    if set.error_count() == 0 {
        return false;
    }
    let color = use_color();
    for d in set.diagnostics.iter().filter(|d| d.is_error()) {
        eprintln!("{}\n", diag::render(d, set.source(&d.file), color));
    }
    eprintln!("drbook: the runbooks have errors; fix them first (`drbook validate`)");
    true
}

fn show_vars(args: &VarsArgs) -> ExitCode {
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
    let overrides: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    for rb in &set.runbooks {
        let plan = set.plans.iter().find(|p| match &args.plan {
            Some(id) => p.id() == id,
            None => p
                .groups
                .iter()
                .any(|g| g.runbooks.iter().any(|r| r.get_ref() == rb.id())),
        });
        let resolved = vars::resolve(rb, plan.map(|p| &p.vars), &overrides, |k| {
            std::env::var(k).ok()
        });
        let _ = writeln!(out, "{}", rb.id());
        match resolved {
            Ok(v) => {
                for (name, value) in &v.values {
                    let shown = v.display(name).unwrap_or_default();
                    let _ = writeln!(out, "  {name:<24} {shown:<48} ({})", value.origin);
                }
            }
            Err(missing) => {
                failed = true;
                for m in missing {
                    let _ = writeln!(out, "  {:<24} MISSING: {}", m.name, m.how);
                }
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
