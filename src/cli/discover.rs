//! `drbook discover`: reads an estate through Resource Graph, pairs its resources across the
//! region pair and prints the components, the findings and a readiness verdict. Exit 0 when
//! nothing critical is found, 1 when something is, 2 on usage, sign-in or read errors.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::runtime_or_report;
use super::target::{self, ReadTargetArgs, TargetArgs};
use crate::discover::{self, Options, Scope};
use crate::runbook::generate::Templates;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DiscoverFormat {
    Text,
    Json,
    Md,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  drbook discover --target sim --subscription 6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f --primary westeurope\n  drbook discover --target azure --subscription $SUB --tag app=travel --primary eastus2 --format json\n  drbook discover --target azure --subscription $SUB --resource-group rg-shop-westeurope --resource-group rg-shop-northeurope --primary westeurope --format md > readiness.md"
)]
pub struct DiscoverArgs {
    #[command(flatten)]
    pub read: ReadTargetArgs,
    /// Subscriptions to read (repeat for more)
    #[arg(long, required = true, value_name = "SUB")]
    pub subscription: Vec<String>,
    /// Only these resource groups (repeat for more)
    #[arg(long = "resource-group", value_name = "RG")]
    pub resource_group: Vec<String>,
    /// Only resources with this tag (and their child resources)
    #[arg(long, value_name = "NAME=VALUE", value_parser = super::parse_var)]
    pub tag: Option<(String, String)>,
    /// The region the application runs in today
    #[arg(long, value_name = "REGION")]
    pub primary: String,
    /// The region to recover to (default: Azure's paired region of the primary)
    #[arg(long, value_name = "REGION")]
    pub secondary: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiscoverFormat::Text)]
    pub format: DiscoverFormat,
    /// Write a runbook per component, a plan and discovery.json (for `drbook drift`) here
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out: replace files that exist there
    #[arg(long, requires = "out")]
    pub force: bool,
    /// With --out: generate from the templates in this folder instead of the built-in ones
    #[arg(long, value_name = "DIR", requires = "out")]
    pub templates: Option<PathBuf>,
    /// Show the result on the TUI's readiness screen (w writes the runbooks, q quits)
    #[arg(long, conflicts_with_all = ["format", "out"])]
    pub tui: bool,
}

impl DiscoverArgs {
    fn target_args(&self) -> TargetArgs {
        self.read.target_args(self.subscription.first().cloned())
    }

    fn options(&self) -> Options {
        Options {
            scope: Scope {
                subscriptions: self.subscription.clone(),
                resource_groups: self.resource_group.clone(),
                tag: self.tag.clone(),
            },
            primary: self.primary.clone(),
            secondary: self.secondary.clone(),
        }
    }
}

pub fn run(args: DiscoverArgs) -> ExitCode {
    let Some(rt) = runtime_or_report() else {
        return ExitCode::from(2);
    };
    rt.block_on(discover_cmd(args))
}

async fn discover_cmd(args: DiscoverArgs) -> ExitCode {
    let opts = args.options();
    // Regions first: a usage error needs no sign-in.
    if let Err(e) = discover::regions_of(&opts) {
        eprintln!("drbook: {e}");
        return ExitCode::from(2);
    }
    if !discover::regions::known(&opts.primary) {
        eprintln!(
            "drbook: warning: {} is not a region drbook knows; names are matched as given",
            opts.primary
        );
    }
    let env = |k: &str| std::env::var(k).ok();
    let connected = match target::connect(&args.target_args(), env).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("drbook: {e}");
            return ExitCode::from(2);
        }
    };
    if args.tui && !crate::tui::runner::is_terminal() {
        eprintln!("drbook: --tui needs a terminal; leave it out in scripts");
        return ExitCode::from(2);
    }
    let progress = std::io::stderr().is_terminal();
    if progress {
        eprintln!(
            "drbook: reading {} through Resource Graph ({} subscription(s))…",
            connected.description,
            opts.scope.subscriptions.len()
        );
    }
    let started = std::time::Instant::now();
    // Progress on one line that rewrites itself, only on a terminal.
    let mut drew = false;
    let mut on_page = |p: discover::inventory::Progress| {
        if progress {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\x1b[K", p.line());
            let _ = err.flush();
            drew = true;
        }
    };
    let result = discover::discover_with_progress(&connected.reader.arm, &opts, &mut on_page).await;
    if drew {
        eprintln!();
    }
    if let Some(sim) = connected.sim {
        sim.shutdown().await;
    }
    let d = match result {
        Ok(d) => d,
        Err(e) => {
            eprintln!("drbook: discover: {e}");
            return ExitCode::from(2);
        }
    };
    if progress {
        eprintln!(
            "drbook: {} resources read and analysed in {:.1}s",
            d.resources,
            started.elapsed().as_secs_f64()
        );
    }
    if args.tui {
        return tui(d).await;
    }
    let text = match args.format {
        DiscoverFormat::Json => match serde_json::to_string_pretty(&d) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("drbook: cannot write the JSON: {e}");
                return ExitCode::from(2);
            }
        },
        DiscoverFormat::Text => discover::render::text(&d),
        DiscoverFormat::Md => discover::render::markdown(&d),
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("drbook: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    if let Some(dir) = &args.out
        && let Err(code) = write_out(&d, dir, args.templates.as_deref(), args.force)
    {
        return code;
    }
    if d.has_critical() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--tui`: the readiness screen over `d` until `q`; the exit code is the same as without it.
async fn tui(d: discover::Discovery) -> ExitCode {
    let critical = d.has_critical();
    let shown = match super::config::ui_setup(None) {
        Ok(ui) => crate::tui::runner::readiness(d, ui).await,
        Err(e) => Err(e),
    };
    match shown {
        Err(e) => {
            eprintln!("drbook: {e}");
            ExitCode::from(2)
        }
        Ok(()) if critical => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}

/// `--out DIR`: the runbooks, the plan and the snapshot, then what validating them found.
fn write_out(
    d: &discover::Discovery,
    dir: &std::path::Path,
    templates: Option<&std::path::Path>,
    force: bool,
) -> Result<(), ExitCode> {
    let templates = match templates {
        None => Templates::builtin(),
        Some(t) => Templates::from_dir(t).map_err(|e| {
            eprintln!("drbook: --templates {}: {e}", t.display());
            ExitCode::from(2)
        })?,
    };
    let written = discover::write::write_runbooks(d, &templates, dir, chrono::Utc::now(), force)
        .map_err(|e| {
            eprintln!("drbook: --out: {e}");
            ExitCode::from(2)
        })?;
    eprintln!(
        "drbook: wrote {} files to {}",
        written.files.len(),
        dir.display()
    );
    for c in d.components.iter().filter(|c| !c.to_set.is_empty()) {
        eprintln!(
            "drbook: {}: set by hand (Azure does not hold them; marked SET THIS): {}",
            c.file_name(),
            c.to_set.join(", ")
        );
    }
    if written.diagnostics.is_empty() {
        eprintln!("drbook: they pass `drbook validate --strict`; edit them, then commit them");
        Ok(())
    } else {
        for diag in &written.diagnostics {
            eprintln!(
                "drbook: {}:{}:{}: {} [{}]",
                diag.file, diag.line, diag.column, diag.message, diag.code
            );
        }
        eprintln!(
            "drbook: the generated files do not pass `drbook validate --strict` ({} problems): a template needs fixing",
            written.diagnostics.len()
        );
        Err(ExitCode::from(1))
    }
}
