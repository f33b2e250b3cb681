//! The readiness screen's work, off the screen's loop: discovering the estate the runbooks name
//! (Resource Graph, through the target the TUI is connected to) and writing the runbooks. Each
//! runs in a task of its own and answers with `Msg::Readiness`; nothing here draws.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::app::{Msg, ReadinessMsg, WriteFailure, WriteReport};
use drbook_core::runbook::generate::Templates;
use drbook_core::runbook::model::Runbook;
use drbook_engine::checks::read::Reader;
use drbook_engine::checks::scope::Scope;
use drbook_engine::discover::{self, Discovery, Options, inventory};

/// What to discover from the runbooks on screen: the subscriptions of the connected target
/// (else the runbooks' `subscription` variables), the `primary` and `secondary` regions of
/// the plan's variables (or a runbook's). Why not, when a value is missing.
pub fn options_of(work: &[(Runbook, Scope)], subscriptions: &[String]) -> Result<Options, String> {
    let var = |name: &str| -> Vec<String> {
        let mut v: Vec<String> = work
            .iter()
            .filter_map(|(_, s)| s.vars.values.get(name))
            .map(|v| v.value.trim().to_string())
            .filter(|v| !v.is_empty() && !v.contains("${"))
            .collect();
        v.dedup();
        v
    };
    let mut subs: Vec<String> = subscriptions.to_vec();
    if subs.is_empty() {
        subs = var("subscription");
        subs.sort();
        subs.dedup();
    }
    if subs.is_empty() {
        return Err(
            "no subscription to read: the target names none and no runbook has a `subscription` variable"
                .into(),
        );
    }
    let Some(primary) = var("primary").into_iter().next() else {
        return Err(
            "no `primary` variable in the plan or the runbooks: the readiness screen needs the region the application runs in (run `drbook discover --tui --primary REGION`)"
                .into(),
        );
    };
    let opts = Options {
        scope: discover::Scope {
            subscriptions: subs,
            ..Default::default()
        },
        primary,
        secondary: var("secondary").into_iter().next(),
    };
    // The regions are checked before anything is read, as the command line does.
    discover::regions_of(&opts).map_err(|e| e.to_string())?;
    Ok(opts)
}

/// Discovers in a task: each phase said as progress, then the result (or why it failed).
pub fn spawn_discover(reader: Reader, opts: Options, tx: UnboundedSender<Msg>) {
    tokio::spawn(async move {
        let result = discover(&reader, &opts, &tx).await;
        let _ = tx.send(Msg::Readiness(ReadinessMsg::Discovered(result)));
    });
}

/// `discover::discover`, phase by phase so the screen can say where it is: one paged query on
/// `Resources`, one on `ResourceContainers`, then the analysis.
async fn discover(
    reader: &Reader,
    opts: &Options,
    tx: &UnboundedSender<Msg>,
) -> Result<Discovery, String> {
    let say = |text: String| {
        let _ = tx.send(Msg::Readiness(ReadinessMsg::Progress(text)));
    };
    let (primary, secondary) = discover::regions_of(opts).map_err(|e| e.to_string())?;
    let arm = &reader.arm;
    let subs = &opts.scope.subscriptions;
    say(format!(
        "reading Resources through Resource Graph ({} subscription(s))",
        subs.len()
    ));
    let resources = arm
        .graph(subs, &inventory::resources_query(&opts.scope))
        .await
        .map_err(|e| format!("Resource Graph (Resources): {e}"))?;
    say(format!(
        "{} resources read; reading ResourceContainers",
        resources.len()
    ));
    let containers = arm
        .graph(subs, &inventory::containers_query())
        .await
        .map_err(|e| format!("Resource Graph (ResourceContainers): {e}"))?;
    say(format!("analysing {} resources", resources.len()));
    let scope = opts.scope.clone();
    let subs = subs.clone();
    // Ten thousand resources take a moment to pair: off the runtime's worker threads.
    tokio::task::spawn_blocking(move || {
        let inv = inventory::Inventory::from_rows(&resources, &containers, &scope)
            .map_err(|e| format!("Resource Graph answered in an unexpected shape: {e}"))?;
        Ok(discover::analyse(&inv, &subs, &primary, &secondary))
    })
    .await
    .map_err(|e| format!("the analysis stopped: {e}"))?
}

/// Writes the runbooks of `d` into `dir` in a task (the disk is never touched on the screen's
/// loop), then says what was written and whether it passes `drbook validate --strict`.
pub fn spawn_write(d: Arc<Discovery>, dir: PathBuf, force: bool, tx: UnboundedSender<Msg>) {
    tokio::spawn(async move {
        let at = dir.clone();
        let result = tokio::task::spawn_blocking(move || write(&d, &at, force))
            .await
            .unwrap_or_else(|e| Err(WriteFailure::Failed(format!("writing stopped: {e}"))));
        let _ = tx.send(Msg::Readiness(ReadinessMsg::Written { dir, result }));
    });
}

/// The writing itself, as `drbook discover --out DIR [--force]` does it.
pub fn write(
    d: &Discovery,
    dir: &std::path::Path,
    force: bool,
) -> Result<WriteReport, WriteFailure> {
    use discover::write::{WriteError, write_runbooks};
    match write_runbooks(d, &Templates::builtin(), dir, chrono::Utc::now(), force) {
        Ok(w) => Ok(WriteReport {
            files: w.files,
            diagnostics: w
                .diagnostics
                .iter()
                .map(|g| {
                    format!(
                        "{}:{}:{}: {} [{}]",
                        g.file, g.line, g.column, g.message, g.code
                    )
                })
                .collect(),
        }),
        Err(WriteError::Exists { files, .. }) => Err(WriteFailure::Exists(files)),
        Err(e) => Err(WriteFailure::Failed(e.to_string())),
    }
}
