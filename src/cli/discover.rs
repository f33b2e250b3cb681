//! `drbook discover`: reads an estate through Resource Graph, pairs its resources across the
//! region pair and prints the components, the findings and a readiness verdict. Exit 0 when
//! nothing critical is found, 1 when something is, 2 on usage, sign-in or read errors.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use url::Url;

use super::runtime_or_report;
use super::target::{self, TargetArgs, TargetKind};
use crate::azure::{AuthMethod, Cloud};
use crate::discover::{self, Options, Scope};

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
    /// What to read: Azure, or the simulator started in-process with --scenario
    #[arg(long, value_enum)]
    pub target: TargetKind,
    /// Simulator scenario (default: the built-in westeurope-outage demo)
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Simulator: play the scenario's timeline up to this point first ("start", "10s", "end")
    #[arg(long, value_name = "WHEN", default_value = "start")]
    pub at: String,
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
    /// How to sign in (default: cli for Azure, sim for the simulator)
    #[arg(long, value_parser = super::values::auth())]
    pub auth: Option<AuthMethod>,
    /// Azure cloud: public, usgov or china
    #[arg(long, default_value = "public")]
    pub cloud: Cloud,
    /// A custom ARM endpoint (a `drbook sim` already running)
    #[arg(long, value_name = "URL")]
    pub arm_endpoint: Option<Url>,
    /// Timeout of each Azure request
    #[arg(long, default_value = "30s", value_parser = crate::time::parse_duration)]
    pub timeout: Duration,
    /// Retries of a failed Azure request (5xx, throttling, timeouts)
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
}

impl DiscoverArgs {
    fn target_args(&self) -> TargetArgs {
        TargetArgs {
            target: self.target,
            auth: self.auth,
            cloud: self.cloud.clone(),
            arm_endpoint: self.arm_endpoint.clone(),
            subscription: self.subscription.first().cloned(),
            timeout: self.timeout,
            retries: self.retries,
            ..TargetArgs::simulator(self.scenario.clone(), &self.at)
        }
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
    if d.has_critical() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
