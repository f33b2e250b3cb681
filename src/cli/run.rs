//! `drbook run` and `drbook rehearse`: carry out a plan (or runbooks) against a target. With
//! `--non-interactive` the autopilot runs every ready step and an answers file stands in for
//! the operator; every event goes to the incident log before it is printed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::target::{self, TargetArgs, TargetKind};
use super::{load, parse_var, refuse_undeclared_vars, report_load_errors, runtime_or_report};
use crate::checks::scope::Scope;
use crate::exec::engine::{Engine, ExecEvent, Options, Update};
use crate::exec::headless::{Answers, drive};
use crate::exec::journal::LogRecorder;
use crate::exec::session::{
    self, Opening, Session, SessionConfig, close_incident, report_share, share_flush_limit,
};
use crate::incident::redact::printable;
use crate::incident::{self, EventKind, Mode, RehearsalLevel, StepStatus};
use crate::report::scorecard;
use crate::roles::Role;
use crate::runbook::model::Runbook;
use crate::runbook::plan;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A plan file, runbook files, or a folder holding them (the plan is used when there is one)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// No TUI: every ready step starts by itself; manual steps and confirmations are answered
    /// from --answers (without an answer a manual step fails and a confirmation is declined)
    #[arg(long)]
    pub non_interactive: bool,
    /// Answers for manual steps and confirmations (TOML; see `drbook run --help`)
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Carry out steps marked `confirm = true` without asking (recorded in the log). Never
    /// covers `approval = "two-person"`: those always wait for an incident commander other
    /// than the operator
    #[arg(long)]
    pub auto_approve: bool,
    /// Who is at the keyboard (default: $DRBOOK_OPERATOR, then $USER)
    #[arg(long)]
    pub operator: Option<String>,
    /// Your role in the incident (recorded in the log; default: the config file's, then
    /// operator): a commander may also approve two-person steps run by someone else; a
    /// scribe only writes notes
    #[arg(long, value_parser = super::values::role())]
    pub role: Option<Role>,
    /// Set a variable, overriding the environment, the plan and the default
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Print every call and command, touch nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Cap waits, poll intervals and retry delays at this (rehearsals on the simulator)
    #[arg(long, value_name = "DURATION", value_parser = crate::time::parse_duration)]
    pub max_delay: Option<Duration>,
    /// Rehearsal: run the checks against the target, skip every action and command
    #[arg(long, conflicts_with = "dry_run")]
    pub read_only: bool,
    /// Where incident logs go (default: the user's data directory, drbook/incidents)
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// The incident's title (default: the plan's)
    #[arg(long)]
    pub title: Option<String>,
    /// Continue an interrupted incident from its log: finished steps stay finished; a step
    /// that had started is read again, or confirmed again when it changes state
    #[arg(long, value_name = "LOG")]
    pub resume: Option<PathBuf>,
    /// With --resume: resume an incident that was closed (finished, failed or aborted),
    /// opening it again
    #[arg(long, requires = "resume")]
    pub reopen: bool,
    /// What is hit: a region (repeatable). Only runbooks that involve it run (one of their
    /// variables names it, e.g. `primary`)
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// What is hit: a component (repeatable): code, pipelines, artifacts, backlog,
    /// infrastructure, aks, web, function, logic, data, network
    #[arg(long = "component", value_name = "COMPONENT")]
    pub components: Vec<String>,
    /// Against the simulator, also run command steps (`az`, `kubectl`, ...). They reach
    /// whatever those tools are logged in to, not the simulator, so they are skipped by default
    #[arg(long)]
    pub run_commands: bool,
    /// Rehearsal: afterwards, undo what it changed: run the `cleanup` step of every step that
    /// succeeded, newest first (each is confirmed like any step, or --auto-approve)
    #[arg(long)]
    pub cleanup: bool,
    /// TUI colours: dark, light, high-contrast, colorblind, or a theme file (default: the
    /// config file's, then dark; NO_COLOR turns colours off)
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Several operators, one timeline: also append every event to a shared log in Azure
    /// Blob Storage, e.g. https://ACCOUNT.blob.core.windows.net/CONTAINER/INCIDENT (use an
    /// account outside the failed region). Credentials: AZURE_STORAGE_SAS_TOKEN or
    /// AZURE_STORAGE_KEY, else Entra ID (az login). Steps that change things are claimed on
    /// the share before they start. A resumed incident keeps the share its log names
    #[arg(long, value_name = "URL")]
    pub share: Option<String>,
    /// Shared incidents, --non-interactive: how long to wait for a share that cannot be
    /// reached to claim a step before skipping it (in the TUI, T runs it without a claim)
    #[arg(long, value_name = "DURATION", value_parser = crate::time::parse_duration, default_value = "2m")]
    pub claim_wait: Duration,
    /// Shared incidents, --non-interactive: when the share cannot be reached, run steps
    /// without a claim at once (recorded as such; claimed when the share is back) instead of
    /// waiting --claim-wait and skipping them. A step someone else holds is still skipped
    #[arg(long)]
    pub run_unclaimed: bool,
    /// When the outage began: the RTO counts from here, not from when drbook started (RFC
    /// 3339, HH:MM today in UTC, or an age such as "25m ago"). On --resume it corrects the
    /// time logged before. In the TUI, `O` sets it too
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// How to resume, as shown when the TUI quits (the demo sets its own)
    #[arg(skip)]
    pub resume_cmd: Option<String>,
    /// The incident this log is part of (`drbook join`: the commander's); a new one when
    /// `None`
    #[arg(skip)]
    pub incident: Option<String>,
}

impl RunArgs {
    /// The role at this keyboard (`carry_out` settles it from the config file first).
    pub fn role(&self) -> Role {
        self.role.unwrap_or_default()
    }
}

/// `drbook join URL PATH...`: the incident on the share, with this operator's runbooks.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The shared timeline's URL, as the incident commander gave it (--share)
    #[arg(value_name = "URL")]
    pub url: String,
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn join(args: JoinArgs) -> ExitCode {
    let Some(rt) = runtime_or_report() else {
        return ExitCode::from(2);
    };
    rt.block_on(async move {
        let JoinArgs { url, mut run } = args;
        let store = match crate::share::open_store(&url) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("drbook join: {e}");
                return ExitCode::from(2);
            }
        };
        let shown = store.loc.to_string();
        let (by, header) = match crate::share::first_header(&store).await {
            Ok(Some(h)) => h,
            Ok(None) => {
                eprintln!(
                    "drbook join: no incident on {shown} yet: the commander starts it with `drbook run PLAN --share {shown}`"
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("drbook join: cannot read the shared timeline: {e}");
                return ExitCode::from(2);
            }
        };
        let rehearsal = header.mode == Mode::Rehearsal;
        eprintln!(
            "drbook join: {} \"{}\", started by {by} on {}",
            if rehearsal { "rehearsal" } else { "LIVE incident" },
            header.title,
            header.target
        );
        run.title.get_or_insert(header.title);
        // This drbook's log is its part of the commander's incident: one id for all.
        run.incident = Some(header.incident_id);
        run.share = Some(url);
        carry_out(run, rehearsal).await
    })
}

/// What the session says while it opens behind the first frame: held, as on the alternate
/// screen it would be lost, and said once the terminal is back (`release_stderr`).
static HELD: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

fn say_err(line: String) {
    if let Ok(mut held) = HELD.lock()
        && let Some(lines) = held.as_mut()
    {
        lines.push(line);
        return;
    }
    eprintln!("{line}");
}

/// `eprintln!` for what opening a session says: held while the first frame is up.
macro_rules! errln {
    ($($arg:tt)*) => {
        say_err(format!($($arg)*))
    };
}

fn hold_stderr() {
    if let Ok(mut held) = HELD.lock() {
        held.get_or_insert_with(Vec::new);
    }
}

fn release_stderr() {
    let lines = HELD.lock().ok().and_then(|mut h| h.take());
    for line in lines.unwrap_or_default() {
        eprintln!("{line}");
    }
}

pub fn run(args: RunArgs, rehearsal: bool) -> ExitCode {
    let Some(rt) = runtime_or_report() else {
        return ExitCode::from(2);
    };
    rt.block_on(carry_out(args, rehearsal))
}

async fn carry_out(mut args: RunArgs, rehearsal: bool) -> ExitCode {
    if !rehearsal && args.target.target == TargetKind::Sim {
        eprintln!("drbook run: --target sim is a rehearsal: use `drbook rehearse`");
        return ExitCode::from(2);
    }
    // The config file names who is at the keyboard and their role, with or without the TUI;
    // the command line wins.
    let config = match crate::cli::config::load_default(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("drbook: {e}");
            return ExitCode::from(2);
        }
    };
    args.role = Some(args.role.or(config.role).unwrap_or_default());
    // The write guard's allowlist: the config file's and the command line's together.
    args.target
        .allow_write_subscription
        .extend(config.allow_write_subscriptions.iter().cloned());
    if args.operator.is_none() {
        args.operator = config.operator.clone();
    }
    // Said before anything runs, not first learnt from a failed step in the middle of an outage.
    if !args.target.is_simulated()
        && args.target.allow_write_subscription.is_empty()
        && !args.dry_run
        && !args.read_only
    {
        eprintln!(
            "drbook: no subscription is allowed writes, so every change this run tries will be refused \
             before it is sent; allow one with --allow-write-subscription SUB or the config file's \
             allow_write_subscriptions"
        );
    }
    // Said before anything runs: the TUI has no clean-up, and a flag that silently does
    // nothing would leave the drill's changes in place while the operator thinks them undone.
    if args.cleanup && !args.non_interactive {
        eprintln!(
            "drbook: --cleanup runs a rehearsal's clean-up with --non-interactive only (the TUI \
             does not run it); add --non-interactive, with --answers or --auto-approve for the \
             clean-up steps that ask first"
        );
        return ExitCode::from(2);
    }
    if args.cleanup && !rehearsal {
        eprintln!(
            "drbook: --cleanup undoes a rehearsal's changes; a live incident has none to undo \
             (use `drbook rehearse`)"
        );
        return ExitCode::from(2);
    }
    if args.non_interactive && args.role() == Role::Scribe {
        eprintln!(
            "drbook: --role scribe only writes notes, so it cannot carry out a --non-interactive run"
        );
        return ExitCode::from(2);
    }
    let answers = match &args.answers {
        Some(p) => match Answers::load(p) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("drbook: {e}");
                return ExitCode::from(2);
            }
        },
        None => Answers::default(),
    };
    let ui = if args.non_interactive {
        None
    } else {
        match crate::cli::config::ui_setup(args.theme.as_deref()) {
            Ok(mut ui) => {
                ui.resume_cmd = args.resume_cmd.clone().unwrap_or_else(|| {
                    let mut cmd = vec![
                        if rehearsal {
                            "drbook rehearse"
                        } else {
                            "drbook run"
                        }
                        .to_string(),
                    ];
                    cmd.extend(args.paths.iter().map(|p| p.display().to_string()));
                    if args.target.target == TargetKind::Sim {
                        cmd.push("--target sim".into());
                    } else {
                        cmd.push("--target azure".into());
                    }
                    cmd.join(" ")
                });
                Some(ui)
            }
            Err(e) => {
                eprintln!("drbook: {e}");
                return ExitCode::from(2);
            }
        }
    };
    crate::startup::mark("config and theme loaded");
    let operator = args
        .operator
        .clone()
        .or_else(|| std::env::var("DRBOOK_OPERATOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into());
    if rehearsal && !args.target.is_simulated() {
        eprintln!("==================================================================");
        eprintln!("  REHEARSAL AGAINST AZURE: this changes real resources. Use a");
        eprintln!("  rehearsal subscription. --dry-run or --read-only touch nothing.");
        eprintln!("==================================================================");
    }
    // Before anything is opened: a TUI run without a terminal would leave an empty incident.
    if ui.is_some() && !crate::tui::runner::is_terminal() {
        eprintln!(
            "drbook: the TUI needs a terminal; use --non-interactive (with --answers) in scripts"
        );
        return ExitCode::from(2);
    }
    // The TUI's first frame is drawn as soon as the runbooks are loaded; starting the
    // simulator, creating and fsyncing the log and the rest come after it (issue 16).
    let mut early = None;
    let opened = {
        let mut first_frame = |o: Opening<'_>| {
            let Some(ui) = &ui else { return };
            let info = crate::tui::app::Info {
                title: o.title.to_string(),
                rehearsal,
                level: o.level,
                target: if args.target.is_simulated() {
                    "the simulator (starting)".into()
                } else {
                    "Azure (connecting)".into()
                },
                operator: operator.clone(),
                log_path: "(opening)".into(),
                plan_rto: o.plan_rto.and_then(|r| crate::time::parse_duration(r).ok()),
                review: false,
            };
            early = crate::tui::runner::first_frame(o.work, o.groups, info, ui);
            if early.is_some() {
                hold_stderr();
            }
        };
        open_session(
            &args,
            rehearsal,
            operator.clone(),
            ui.is_some(),
            &mut first_frame,
        )
        .await
    };
    let session = match opened {
        Ok(s) => s,
        Err(code) => {
            // The terminal is restored first, so what went wrong is read on the screen.
            drop(early);
            release_stderr();
            return code;
        }
    };
    match ui {
        Some(ui) => {
            let code = crate::tui::run(session, ui, early).await;
            release_stderr();
            code
        }
        None => headless(session, &args, &answers).await,
    }
}

/// Loads the runbooks and opens the session over them, with this command line's flags.
async fn open_session(
    args: &RunArgs,
    rehearsal: bool,
    operator: String,
    interactive: bool,
    first_frame: &mut dyn FnMut(Opening<'_>),
) -> Result<Session, ExitCode> {
    let set = load(&args.paths)?;
    crate::startup::mark("runbooks loaded");
    if report_load_errors(&set) {
        return Err(ExitCode::from(1));
    }
    refuse_undeclared_vars(&set, &args.vars)?;
    let cfg = SessionConfig {
        rehearsal,
        operator,
        role: args.role(),
        interactive,
        vars: args.vars.clone(),
        regions: args.regions.clone(),
        components: args.components.clone(),
        simulated: args.target.is_simulated(),
        run_commands: args.run_commands,
        dry_run: args.dry_run,
        read_only: args.read_only,
        auto_approve: args.auto_approve,
        max_delay: args.max_delay,
        title: args.title.clone(),
        since: args.since.clone(),
        share: args.share.clone(),
        claim_wait: args.claim_wait,
        run_unclaimed: args.run_unclaimed,
        resume: args.resume.clone(),
        reopen: args.reopen,
        incident: args.incident.clone(),
        log_dir: args.log_dir.clone(),
    };
    let connect = async {
        target::connect(&args.target, |k| std::env::var(k).ok())
            .await
            .map(target::Connected::into_engine)
    };
    let mut warn = |line: String| errln!("drbook: {line}");
    session::open(&cfg, &set, connect, first_frame, &mut warn)
        .await
        .map_err(|e| {
            for line in e.lines() {
                errln!("drbook: {line}");
            }
            ExitCode::from(2)
        })
}

/// `--non-interactive`: the autopilot starts every ready step; `answers` stands in for the
/// operator. Prints as it goes, then the scorecard from the log.
async fn headless(session: Session, args: &RunArgs, answers: &Answers) -> ExitCode {
    let Session {
        rehearsal,
        level,
        title,
        operator,
        log_path,
        recorder,
        engine,
        work: kept,
        groups,
        plan_rto,
        connected,
        options,
        restored,
        scoped,
        share,
        history,
        ..
    } = session;
    let mode = if rehearsal { "REHEARSAL" } else { "LIVE" };
    outln!("drbook {mode}: {title} on {}", connected.description);
    outln!("incident log: {}", log_path.display());
    if let Some(s) = scoped {
        outln!("scope: {s}");
    }
    for (key, status) in &restored {
        outln!("resumed: {key} was {status:?}");
    }
    {
        let map: BTreeMap<&str, &Runbook> = kept.iter().map(|(r, _)| (r.id(), r)).collect();
        // From where the incident stands: on resume, what is done is not offered again.
        let ready = engine.ready();
        let path = plan::critical_path(&groups, &map);
        outln!(
            "can start now: {}",
            ready
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        // The verdict's rule (report::verdict): without a plan, one runbook's RTO is the
        // incident's, so this line names the target the scorecard will judge against.
        let rto = match (&plan_rto, kept.as_slice()) {
            (Some(r), _) => format!("plan RTO {r}"),
            (None, [(only, _)]) => only.meta.rto.as_ref().map_or_else(
                || "no RTO set".to_string(),
                |r| format!("RTO {} ({}, no plan)", r.get_ref(), only.id()),
            ),
            (None, _) => "no plan RTO set".to_string(),
        };
        outln!(
            "critical path: {} steps, {rto}: {}",
            path.len(),
            path.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" → ")
        );
    }
    if let Some(share) = &share {
        outln!("shared timeline: {}", share.view.borrow().url);
        tokio::spawn(print_share_changes(share.view.clone()));
    }
    let total_steps: usize = kept.iter().map(|(rb, _)| rb.steps.len()).sum();
    // A dry run changes nothing and recovers nothing: its pace says nothing of the RTO.
    let mut clock = RtoClock::new(
        total_steps,
        plan_rto
            .as_deref()
            .and_then(|r| crate::time::parse_duration(r).ok())
            .filter(|_| !args.dry_run),
    );
    // The log has the outage start (`--since`, or set before a resume).
    if let Some(since) = incident::IncidentState::fold(&history).outage_since {
        clock.head_start = (chrono::Utc::now() - since).to_std().unwrap_or_default();
    }
    let ending = drive(engine, answers, &operator, |u| {
        print_update(u);
        if let Some(line) = clock.tick(u) {
            outln!("{line}");
        }
    })
    .await;
    // `Some(false)`: a clean-up ran and something was not undone.
    let mut cleaned = None;
    if ending.log_failed.is_none() && rehearsal && level == Some(RehearsalLevel::Full) {
        let undo = undo_list(&log_path, &kept);
        if undo.is_empty() {
            outln!("nothing to undo: no step with a `cleanup` changed anything");
        } else if args.cleanup {
            match clean_up(
                undo,
                &connected,
                recorder.clone(),
                options,
                answers,
                &operator,
            )
            .await
            {
                Ok(all) => cleaned = Some(all),
                Err(e) => {
                    eprintln!("drbook: the incident log failed during clean-up: {e}");
                    return ExitCode::from(2);
                }
            }
        } else {
            outln!(
                "to undo this rehearsal, run: {} (or by hand):",
                resume_command(&log_path, &kept, true)
            );
            for (rb, scope, _) in &undo {
                for st in &rb.steps {
                    let raw = st.title.get_ref();
                    let title = crate::runbook::template::render(raw, |r| {
                        Some(scope.lookup(r).unwrap_or_else(|| "…".into()))
                    })
                    .unwrap_or_else(|_| raw.clone());
                    outln!(
                        "  {}/{}: {}",
                        rb.id(),
                        st.id.get_ref(),
                        scope.vars.redact(&title)
                    );
                }
            }
        }
    }
    if let Some(estate) = connected.estate {
        estate.shutdown().await;
    }
    if let Some(e) = ending.log_failed {
        eprintln!("drbook: the incident log failed, so the run stopped: {e}");
        return ExitCode::from(2);
    }
    if !ending.awaiting_approval.is_empty() {
        return stopped_for_approval(&ending.awaiting_approval, &log_path, rehearsal);
    }
    if let Err(e) = close_incident(&recorder, &operator, ending.finished, rehearsal).await {
        eprintln!("drbook: cannot close the incident log: {e}");
        return ExitCode::from(2);
    }
    drop(recorder);
    if let Some(share) = &share {
        outln!("{}", report_share(share, share_flush_limit()).await);
    }
    // The scorecard comes from the log itself: what is on disk is what counts.
    let mut head = None;
    let mut recovered = false;
    if let Ok((events, integrity)) = incident::read_log(&log_path) {
        let state = incident::IncidentState::fold(&events);
        if args.dry_run {
            outln!("\n{}", dry_run_summary(&state));
        } else {
            let plan_id = state.header.as_ref().and_then(|h| h.plan.clone());
            let sources = crate::report::Sources::from_runbooks(
                kept.iter().map(|(rb, scope)| (rb, scope)),
                &groups,
                plan_id.as_deref().map(|id| (id, plan_rto.as_deref())),
            );
            let verdict = crate::report::verdict(&state, &sources);
            recovered = verdict.recovered;
            outln!("\n{}", scorecard::render(&verdict));
        }
        let keyed = matches!(
            events.first().map(|e| &e.kind),
            Some(EventKind::IncidentStarted(h)) if h.keyed.is_some()
        );
        head = incident::Head::of(&events).map(|h| (h, integrity, keyed));
    }
    outln!("incident log: {}", log_path.display());
    if let Some((h, integrity, keyed)) = head {
        let keyed = if keyed {
            format!(", keyed with {}", incident::chain::KEY_ENV)
        } else {
            String::new()
        };
        outln!("log head: {h} ({integrity}{keyed}); quote it in the incident ticket");
    }
    if cleaned == Some(false) {
        outln!(
            "CLEAN-UP INCOMPLETE: some of what the rehearsal changed is not undone (see above); \
             fix the cause and run the rest of it with: {}",
            resume_command(&log_path, &kept, true)
        );
    }
    if ending.finished && args.dry_run {
        outln!("dry run finished: every runbook walked through, nothing changed");
        ExitCode::SUCCESS
    } else if ending.finished && recovered && cleaned != Some(false) {
        outln!("finished: every runbook done");
        ExitCode::SUCCESS
    } else if ending.finished && !recovered {
        // Every runbook ran to its end, some through a failure it goes on from
        // (`on_failure = "continue"`): the run did not stop, but it is no recovery.
        outln!("finished: every runbook ran to its end, but NOT RECOVERED (see the verdict above)");
        ExitCode::from(1)
    } else if ending.finished {
        outln!("finished: every runbook done, but the clean-up is not");
        ExitCode::from(1)
    } else {
        outln!(
            "stopped: some runbook did not finish (see the failed steps above); fix the cause and resume with: {}",
            resume_command(&log_path, &kept, false)
        );
        ExitCode::from(1)
    }
}

/// What a dry run did, in place of the RTO scorecard: it changed nothing, so no runbook
/// recovered and no time is held against an RTO.
fn dry_run_summary(state: &incident::IncidentState) -> String {
    let steps = state.runbooks.iter().flat_map(|r| &r.steps);
    let (mut described, mut undecided, mut skipped, mut failed) = (0, 0, 0, 0);
    let mut manual = 0;
    for s in steps {
        let reason = s.skip_reason.as_deref().unwrap_or_default();
        match s.status {
            StepStatus::Skipped if reason.starts_with("dry run: would run if") => undecided += 1,
            StepStatus::Skipped if reason.starts_with("dry run: would ask the operator") => {
                manual += 1
            }
            StepStatus::Skipped => skipped += 1,
            StepStatus::Failed | StepStatus::Interrupted => failed += 1,
            StepStatus::NotStarted => {}
            _ => described += 1,
        }
    }
    let mut out = format!(
        "dry run: nothing was changed; no RTO verdict\n  {described} steps described, {manual} manual steps the operator would be asked to do, {undecided} would run only if an earlier result allows (\"would run if\" above), {skipped} skipped"
    );
    if failed > 0 {
        out.push_str(&format!(", {failed} could not be described (✘ above)"));
    }
    out
}

/// A headless run reached two-person steps nobody here can approve: the incident stays open
/// (not closed as failed) so a commander can approve them when it is resumed in the TUI.
fn stopped_for_approval(
    keys: &[plan::StepKey],
    log_path: &std::path::Path,
    rehearsal: bool,
) -> ExitCode {
    for key in keys {
        outln!(
            "stopped: {key} awaits approval by an incident commander other than its operator \
             (two-person rule); a --non-interactive run cannot give it, and --auto-approve does not cover it"
        );
    }
    outln!(
        "the incident stays open: resume it in the TUI with a commander at hand (drbook {} ... --resume {} --role commander, or a second person at the keyboard)",
        if rehearsal { "rehearse" } else { "run" },
        log_path.display()
    );
    if let Ok((events, integrity)) = incident::read_log(log_path)
        && let Some(h) = incident::Head::of(&events)
    {
        outln!("log head: {h} ({integrity}); quote it in the incident ticket");
    }
    ExitCode::from(1)
}

/// The cleanup steps owed by a rehearsal, per runbook, newest change first: for every step the
/// log says succeeded and that names a `cleanup`, with the step it undoes. Each is a runbook
/// of its own whose steps run one after the other, with the outputs of the steps they undo.
/// A clean-up change that fails does not stop the next (every change left behind is one more
/// to undo by hand, so each is tried); a clean-up check that fails does: it is the gate a
/// runbook puts before an undo that is only safe once it holds (see `data-cosmos.toml`).
fn undo_list(
    log: &std::path::Path,
    work: &[(crate::runbook::model::Runbook, Scope)],
) -> Vec<(
    crate::runbook::model::Runbook,
    Scope,
    Vec<incident::CleanupStep>,
)> {
    let Ok((events, _)) = incident::read_log(log) else {
        return Vec::new();
    };
    let state = incident::IncidentState::fold(&events);
    let mut out = Vec::new();
    for (rb, scope) in work {
        let Some(rs) = state.runbook(rb.id()) else {
            continue;
        };
        let mut done: Vec<&incident::StepState> = rs
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Done)
            .collect();
        done.sort_by_key(|s| std::cmp::Reverse(s.finished));
        let mut owed: Vec<incident::CleanupStep> = Vec::new();
        for st in done {
            let cleanup = rb
                .steps
                .iter()
                .find(|s| s.id.get_ref() == &st.id)
                .and_then(|s| s.cleanup.as_ref())
                .map(|c| c.get_ref().clone());
            if let Some(c) = cleanup
                && !owed.iter().any(|o| o.step == c)
                && rs.step(&c).is_none_or(|s| s.status != StepStatus::Done)
            {
                owed.push(incident::CleanupStep {
                    step: c,
                    undoes: st.id.clone(),
                });
            }
        }
        let mut steps = Vec::new();
        let mut listed = Vec::new();
        for o in owed {
            let Some(mut st) = rb
                .rollbacks
                .iter()
                .find(|s| s.id.get_ref() == &o.step)
                .cloned()
            else {
                continue;
            };
            st.depends_on = listed
                .last()
                .map(|prev: &incident::CleanupStep| {
                    vec![toml::Spanned::new(0..0, prev.step.clone())]
                })
                .unwrap_or_default();
            st.when = None;
            if !st.kind.get_ref().is_read_only() {
                st.on_failure = Some(toml::Spanned::new(
                    0..0,
                    crate::runbook::model::OnFailure::Continue,
                ));
            }
            st.rollback = None;
            steps.push(st);
            listed.push(o);
        }
        if steps.is_empty() {
            continue;
        }
        let mut undo = rb.clone();
        undo.steps = steps;
        undo.rollbacks = Vec::new();
        let mut scope = scope.clone();
        for st in &rs.steps {
            scope.outputs.insert(st.id.clone(), st.outputs.clone());
        }
        out.push((undo, scope, listed));
    }
    out
}

/// How one clean-up step ended: done, failed (why), or not done (why).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Undone {
    Done,
    Failed(String),
    Skipped(String),
    NotRun,
}

/// Runs every clean-up owed, each tried even when another failed, and says how each ended.
/// `Ok(true)`: every clean-up is done.
async fn clean_up(
    undo: Vec<(
        crate::runbook::model::Runbook,
        Scope,
        Vec<incident::CleanupStep>,
    )>,
    connected: &crate::target::Connected,
    recorder: Arc<LogRecorder>,
    options: Options,
    answers: &Answers,
    operator: &str,
) -> Result<bool, String> {
    for (rb, _, steps) in &undo {
        recorder
            .handle()
            .append(
                operator,
                EventKind::CleanupStarted {
                    runbook: rb.id().to_string(),
                    steps: steps.clone(),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    outln!("clean-up: undoing what the rehearsal changed");
    let owed: Vec<(String, Vec<incident::CleanupStep>)> = undo
        .iter()
        .map(|(r, _, s)| (r.id().to_string(), s.clone()))
        .collect();
    // The clean-up checks: one that fails holds the clean-up after it.
    let checks: std::collections::BTreeSet<plan::StepKey> = undo
        .iter()
        .flat_map(|(r, _, _)| {
            r.steps
                .iter()
                .filter(|s| s.kind.get_ref().is_read_only())
                .map(|s| plan::StepKey::new(r.id(), s.id.get_ref().clone()))
        })
        .collect();
    let mut ended: BTreeMap<plan::StepKey, Undone> = BTreeMap::new();
    // One engine per runbook, one after the other: a gate that holds one runbook's clean-up
    // (a failed check) holds no other's.
    for (rb, scope, _) in undo {
        let groups = plan::groups(None, std::slice::from_ref(&rb));
        let engine = Engine::new(
            vec![(rb, scope)],
            groups,
            connected.reader.clone(),
            recorder.clone(),
            options.clone(),
        );
        let ending = drive(engine, answers, operator, |u| {
            match u {
                Update::Recorded(ExecEvent::StepFinished {
                    key,
                    outcome,
                    summary,
                    ..
                }) => {
                    let how = match outcome {
                        crate::exec::steps::Outcome::Ok => Undone::Done,
                        crate::exec::steps::Outcome::Failed => Undone::Failed(summary.clone()),
                        crate::exec::steps::Outcome::Skipped => Undone::Skipped(summary.clone()),
                    };
                    ended.insert(key.clone(), how);
                }
                Update::Recorded(ExecEvent::StepSkipped { key, reason, .. }) => {
                    ended.insert(key.clone(), Undone::Skipped(reason.clone()));
                }
                _ => {}
            }
            print_update(u);
        })
        .await;
        if let Some(e) = ending.log_failed {
            return Err(e);
        }
    }
    let mut all_done = true;
    for (id, steps) in owed {
        let mut problems = Vec::new();
        let mut outcome = incident::Outcome::Ok;
        // The clean-up check that failed before a step, which held it.
        let mut gate: Option<&str> = None;
        for s in &steps {
            let key = plan::StepKey::new(id.clone(), s.step.clone());
            let how = ended.get(&key).cloned().unwrap_or(Undone::NotRun);
            let held =
                gate.map(|g| format!("did not run: the clean-up check `{g}` before it failed"));
            if matches!(how, Undone::Failed(_)) && gate.is_none() && checks.contains(&key) {
                gate = Some(&s.step);
            }
            let said = match &how {
                Undone::Done => "done".to_string(),
                Undone::Failed(why) => {
                    outcome = incident::Outcome::Failed;
                    problems.push(format!("{} failed: {why}", s.step));
                    format!("FAILED: {why}")
                }
                Undone::Skipped(why) => {
                    if outcome == incident::Outcome::Ok {
                        outcome = incident::Outcome::Skipped;
                    }
                    problems.push(format!("{} not done: {why}", s.step));
                    format!("NOT DONE: skipped: {why}")
                }
                Undone::NotRun => {
                    if outcome == incident::Outcome::Ok {
                        outcome = incident::Outcome::Skipped;
                    }
                    let why = held.unwrap_or_else(|| "did not run".to_string());
                    problems.push(format!("{} {why}", s.step));
                    format!("NOT DONE: {why}")
                }
            };
            outln!(
                "clean-up {id}/{} (undoes {}): {}",
                s.step,
                s.undoes,
                printable(&said.replace('\n', " | "))
            );
        }
        all_done &= outcome == incident::Outcome::Ok;
        let error = (!problems.is_empty()).then(|| {
            format!(
                "{}; check the resources by hand",
                problems.join("; ").replace('\n', " ")
            )
        });
        recorder
            .handle()
            .append(
                operator,
                EventKind::CleanupFinished {
                    runbook: id.clone(),
                    outcome,
                    error,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(all_done)
}

/// The command that runs this rehearsal's clean-up again on its log: the command line as
/// given, resuming `log` (reopened: by then the incident is closed) with `--cleanup`, and
/// secrets masked.
/// The command line that goes on with this incident: the one given, less what a resume must
/// not repeat (the log's place, `--since`: the outage start is in the log, and "25m ago" would
/// move it), plus `--resume LOG --reopen` (and `--cleanup` for what is left to undo).
fn resume_command(log: &std::path::Path, work: &[(Runbook, Scope)], cleanup: bool) -> String {
    let mut args = std::env::args().skip(1);
    let mut out = vec!["drbook".to_string()];
    while let Some(a) = args.next() {
        match a.as_str() {
            "--resume" | "--log-dir" | "--since" => {
                args.next();
            }
            "--cleanup" | "--reopen" => {}
            _ if a.starts_with("--resume=")
                || a.starts_with("--log-dir=")
                || a.starts_with("--since=") => {}
            _ => out.push(shell_quote(&a)),
        }
    }
    if !out.iter().any(|a| a == "--non-interactive") {
        out.push("--non-interactive".into());
    }
    out.extend([
        "--resume".to_string(),
        shell_quote(&log.display().to_string()),
        "--reopen".into(),
    ]);
    if cleanup {
        out.push("--cleanup".into());
    }
    let mut cmd = out.join(" ");
    for (_, scope) in work {
        cmd = scope.vars.redact(&cmd);
    }
    cmd
}

/// `s` as one shell word.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Headless runs say when the share goes offline and when it is back.
async fn print_share_changes(mut view: tokio::sync::watch::Receiver<crate::share::ShareView>) {
    let mut online = None;
    while view.changed().await.is_ok() {
        let v = view.borrow().clone();
        // Not tried yet: neither online nor offline.
        if !v.online && v.problem.is_none() {
            continue;
        }
        if online == Some(v.online) || (online.is_none() && v.online) {
            online = Some(v.online);
            continue;
        }
        online = Some(v.online);
        let now = chrono::Utc::now().format("%H:%M:%S%.3f");
        if v.online {
            outln!("{now} share back online: queued events are being shared");
        } else {
            outln!(
                "{now} share OFFLINE ({}): events queue here and are shared when it is back",
                printable(v.problem.as_deref().unwrap_or("no answer"))
            );
        }
    }
}

/// Time against the plan's RTO while it runs: elapsed, steps settled, and a projected finish
/// at the pace so far. Printed at most every 10 seconds, and when the last step settles.
struct RtoClock {
    started: std::time::Instant,
    /// How long the outage had lasted when this drbook started: the RTO counts from it.
    head_start: Duration,
    total: usize,
    settled: usize,
    /// Steps that failed: from the first, the run is not on course for the RTO whatever
    /// the pace.
    failed: usize,
    rto: Option<Duration>,
    last: Option<std::time::Instant>,
}

impl RtoClock {
    fn new(total: usize, rto: Option<Duration>) -> RtoClock {
        RtoClock {
            started: std::time::Instant::now(),
            head_start: Duration::ZERO,
            total,
            settled: 0,
            failed: 0,
            rto,
            last: None,
        }
    }

    fn tick(&mut self, u: &Update) -> Option<String> {
        if !matches!(
            u,
            Update::Recorded(ExecEvent::StepFinished { .. } | ExecEvent::StepSkipped { .. })
        ) {
            return None;
        }
        self.settled += 1;
        if let Update::Recorded(ExecEvent::StepFinished {
            outcome: crate::exec::steps::Outcome::Failed,
            ..
        }) = u
        {
            self.failed += 1;
        }
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
            || self.settled >= self.total;
        if !due || self.total == 0 {
            return None;
        }
        self.last = Some(std::time::Instant::now());
        let ran = self.started.elapsed();
        let elapsed = self.head_start + ran;
        let projected =
            self.head_start + ran.mul_f64(self.total as f64 / self.settled.max(1) as f64);
        let fmt = |d: Duration| crate::time::exact(Duration::from_secs(d.as_secs()));
        let rto = match self.rto {
            Some(r) if self.failed > 0 => format!(
                ", RTO {}: {} left, {} failed: NOT RECOVERED as it stands",
                fmt(r),
                fmt(r.saturating_sub(elapsed)),
                self.failed
            ),
            Some(r) if projected <= r => format!(
                ", RTO {}: {} left, projected within",
                fmt(r),
                fmt(r.saturating_sub(elapsed))
            ),
            Some(r) => format!(
                ", RTO {}: {} left, PROJECTED OVER by {}",
                fmt(r),
                fmt(r.saturating_sub(elapsed)),
                fmt(projected - r)
            ),
            None => String::new(),
        };
        Some(format!(
            "⏱ {} elapsed, {}/{} steps settled, projected finish {}{rto}",
            fmt(elapsed),
            self.settled.min(self.total),
            self.total,
            fmt(projected)
        ))
    }
}

fn print_update(u: &Update) {
    use crate::incident::event::{Outcome as Said, Stream as LogStream};
    use crate::incident::wording as say;
    let now = chrono::Utc::now().format("%H:%M:%S%.3f");
    // The words are the timeline's (`incident::wording`); what only a terminal shows beside
    // them (the step kind, the summary, who did it) is added here.
    let line = match u {
        Update::Recorded(ev) => match ev {
            ExecEvent::StepStarted {
                key, kind, attempt, ..
            } => format!("▶ {} [{kind}]", say::started(&key.to_string(), *attempt)),
            ExecEvent::ConfirmationRequested { key, what } => {
                format!("? {}", say::confirm_asked(&key.to_string(), what))
            }
            ExecEvent::Confirmed { key, by, yes, auto } => {
                let (icon, text, _) = say::confirmed(&key.to_string(), by, *yes);
                let auto = if *auto { " (--auto-approve)" } else { "" };
                format!("{icon} {text}{auto}")
            }
            ExecEvent::WaitingForOperator { key } => format!("… {key} waits for the operator"),
            ExecEvent::ApprovalRequested { key, operator, .. } => {
                format!("? {}", say::approval_asked(&key.to_string(), operator))
            }
            ExecEvent::Approved {
                key,
                by,
                role,
                yes,
                keyboard,
            } => {
                let (icon, text, _) =
                    say::approved(&key.to_string(), by, *role, *yes, keyboard.as_deref());
                format!("{icon} {text}")
            }
            ExecEvent::RoleTaken { who, role } => format!("☺ {}", say::role_taken(who, *role)),
            ExecEvent::OutputLine { key, stream, line } => {
                let stream = match stream {
                    crate::exec::command::Stream::Stdout => LogStream::Stdout,
                    crate::exec::command::Stream::Stderr => LogStream::Stderr,
                };
                format!("  {}", say::output_line(&key.to_string(), stream, line))
            }
            ExecEvent::CheckResult { .. } => return,
            ExecEvent::StepFinished {
                key,
                outcome,
                summary,
                duration_ms,
                note,
                outputs,
                ..
            } => {
                // An assessment's finding is neither ok nor failed (see journal.rs).
                let found =
                    *outcome == crate::exec::steps::Outcome::Ok && outputs.contains_key("finding");
                let (mark, word, _) = match outcome {
                    _ if found => say::outcome(&Said::Finding),
                    // Only described: nothing was read or changed, so nothing is "done".
                    crate::exec::steps::Outcome::Ok if summary.starts_with("dry run: ") => {
                        ("·", "described", say::Tone::Muted)
                    }
                    crate::exec::steps::Outcome::Ok => say::outcome(&Said::Ok),
                    crate::exec::steps::Outcome::Failed => say::outcome(&Said::Failed),
                    crate::exec::steps::Outcome::Skipped => say::outcome(&Said::Skipped),
                };
                let note = note
                    .as_ref()
                    .map(|n| format!(" — note: {n}"))
                    .unwrap_or_default();
                format!(
                    "{mark} {}: {}{note}",
                    say::finished(&key.to_string(), word, *duration_ms),
                    summary.replace('\n', " | ")
                )
            }
            ExecEvent::StepSkipped { key, reason, .. } => {
                format!("↷ {}", say::skipped(&key.to_string(), reason))
            }
            ExecEvent::Retry {
                key,
                attempt,
                reason,
            } => format!("↻ {}", say::retry(&key.to_string(), *attempt, reason)),
            ExecEvent::RollbackStarted { key, rollback } => {
                format!("⟲ {key} failed: rolling back with `{rollback}`")
            }
            ExecEvent::AbortRequested { key, by } => {
                format!("■ {key} {} by {by}", say::abort_requested(None))
            }
            ExecEvent::Note { key, text, by } => {
                let on = key.as_ref().map(ToString::to_string);
                format!("✎ {by}: {}", say::note(on.as_deref(), text))
            }
            ExecEvent::OutageStart { at, by, previous } => {
                format!("⏱ {by}: {}", say::outage(at, previous.as_ref()))
            }
            ExecEvent::Paused { by } => format!("⏸ {} by {by}", say::paused(None)),
            ExecEvent::Resumed { by } => format!("⏵ resumed by {by}"),
            ExecEvent::Claimed {
                key,
                from,
                by,
                offline,
            } => {
                let (text, _) = say::claimed(&key.to_string(), from.as_deref(), *offline);
                format!("⚑ {by}: {text}")
            }
            ExecEvent::ClaimRefused { key, reason, .. } => {
                format!("⚑ {}", say::claim_refused(&key.to_string(), reason))
            }
        },
        Update::Progress { key, text } => format!("  {key}: {text}"),
        Update::Refused { reason, .. } => format!("⊘ refused: {reason}"),
        Update::Idle { .. } | Update::LogFailed(_) => return,
    };
    // Command output and notes are shown as text: their escapes must not drive the terminal.
    outln!("{now} {}", printable(&line));
}
