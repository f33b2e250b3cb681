//! `drbook drift`: do the runbooks still match the estate? Reads only (Resource Graph, and a
//! GET for each named resource Graph does not list). Exit 0 when nothing drifted, 1 when
//! something did, 2 on usage, sign-in or read errors.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::target::{self, ReadTargetArgs, TargetArgs};
use super::{load, parse_var, refuse_undeclared_vars, runtime_or_report, use_color};
use crate::diag;
use crate::discover::write::SNAPSHOT;
use crate::drift::{self, Options, Snapshot};
use crate::incident::redact::printable;
use crate::secrets::SecretMatcher;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DriftFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  drbook drift runbooks/generated/ --target azure --format json\n  drbook drift runbooks/generated/ --target sim --scenario runbooks/scenarios/travel-eastus2.toml\n  drbook drift runbooks/ --target azure --subscription $SUB --var primary=westeurope\n\nThe subscriptions default to those of discovery.json (written by `drbook discover --out`) \
and those the runbooks name; the regions to discovery.json's, else the runbooks' `primary` and \
`secondary` variables."
)]
pub struct DriftArgs {
    #[command(flatten)]
    pub read: ReadTargetArgs,
    /// Runbook files or folders (a folder's discovery.json is the snapshot compared with)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Subscriptions to read (repeat for more); the runbooks' variables are left as they are
    #[arg(long, value_name = "SUB")]
    pub subscription: Vec<String>,
    /// The application is only these resource groups (repeat for more), as given to
    /// `discover`: components are found among their resources (named ones everywhere)
    #[arg(long = "resource-group", value_name = "RG")]
    pub resource_group: Vec<String>,
    /// The application is only the resources with this tag (and their child resources), as
    /// given to `discover`
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_var)]
    pub tag: Option<(String, String)>,
    /// Set a runbook variable, overriding the environment, the plan and the default
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Output format
    #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
    pub format: DriftFormat,
}

impl DriftArgs {
    fn target_args(&self) -> TargetArgs {
        self.read.target_args(self.subscription.first().cloned())
    }
}

pub fn run(args: DriftArgs) -> ExitCode {
    let Some(rt) = runtime_or_report() else {
        return ExitCode::from(2);
    };
    rt.block_on(drift_cmd(args))
}

/// The snapshot beside the runbooks: `discovery.json` in a folder given (or beside a file
/// given). Two different ones are a usage error.
fn snapshot(paths: &[PathBuf]) -> Result<Option<Snapshot>, String> {
    let mut found: Vec<PathBuf> = Vec::new();
    for p in paths {
        let dir = if p.is_dir() {
            p.as_path()
        } else {
            p.parent().unwrap_or(Path::new("."))
        };
        let file = dir.join(SNAPSHOT);
        if file.is_file() && !found.contains(&file) {
            found.push(file);
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [file] => {
            let shown = file.display().to_string();
            let text = std::fs::read_to_string(file).map_err(|e| format!("{shown}: {e}"))?;
            Snapshot::parse(&text, &shown).map(Some)
        }
        many => Err(format!(
            "several snapshots ({}): drift one generated folder at a time",
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

async fn drift_cmd(args: DriftArgs) -> ExitCode {
    let set = match load(&args.paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if set.error_count() > 0 {
        let color = use_color();
        for d in set.diagnostics.iter().filter(|d| d.is_error()) {
            eprintln!("{}\n", diag::render(d, set.source(&d.file), color));
        }
        eprintln!("drbook: the runbooks have errors; fix them first (`drbook validate`)");
        return ExitCode::from(2);
    }
    if set.runbooks.is_empty() {
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
    if let Err(code) = refuse_undeclared_vars(&set, &args.vars) {
        return code;
    }
    let snap = match snapshot(&args.paths) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("drbook: {e}");
            return ExitCode::from(2);
        }
    };
    let overrides: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let env = |k: &str| std::env::var(k).ok();
    let refs = drift::references(&set, &overrides, env);
    let opts = Options {
        subscriptions: args.subscription.clone(),
        resource_groups: args.resource_group.clone(),
        tag: args.tag.clone(),
        ..Options::default()
    };
    // Usage first: a missing region or subscription needs no sign-in.
    if let Err(e) = drift::settle(&opts, &refs, snap.as_ref()) {
        eprintln!("drbook: {e}");
        return ExitCode::from(2);
    }
    let connected = match target::connect(&args.target_args(), env).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("drbook: {e}");
            return ExitCode::from(2);
        }
    };
    let result = drift::drift(&connected.reader.arm, &refs, snap.as_ref(), &opts).await;
    if let Some(sim) = connected.sim {
        sim.shutdown().await;
    }
    let d = match result {
        Ok(d) => d,
        Err(e) => {
            let what = if e.is_auth() {
                "cannot sign in or may not read"
            } else {
                "cannot read the estate"
            };
            eprintln!("drbook: drift: {what}: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match args.format {
        DriftFormat::Json => match serde_json::to_string_pretty(&d) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("drbook: cannot write the JSON: {e}");
                return ExitCode::from(2);
            }
        },
        DriftFormat::Text => drift::render::text(&d),
    };
    // Secrets in any form and a server's terminal escapes go no further, as in `check`.
    let text = SecretMatcher::cached(&refs.secrets.iter().map(String::as_str).collect::<Vec<_>>())
        .mask(&text)
        .into_owned();
    let text = printable(&text);
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("drbook: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    if d.drifted() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
