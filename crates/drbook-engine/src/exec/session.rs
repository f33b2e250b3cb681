//! A session: everything a run needs, opened and ready (the runbooks in scope, the target,
//! the incident log, the share and the engine), then closed. The headless driver and the TUI
//! both start from `open` and end with `close_incident` and `report_share`; the command line
//! only turns its flags into a `SessionConfig`.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::checks::scope::Scope;
use crate::exec::engine::{Engine, Options, Restored};
use crate::exec::journal::LogRecorder;
use crate::target::Connected;
use drbook_core::incident::redact::printable;
use drbook_core::incident::{
    self, EventKind, Header, IncidentLog, IncidentOutcome, LogHandle, Mode, Redactor,
    RehearsalLevel, RunbookRef, StepStatus,
};
use drbook_core::roles::Role;
use drbook_core::runbook::LoadSet;
use drbook_core::runbook::model::Runbook;
use drbook_core::runbook::plan;
use drbook_core::runbook::vars;

/// How to open a session: what the command line (or the demo) decided, as plain values.
#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    /// A rehearsal (`drbook rehearse`), not a live incident.
    pub rehearsal: bool,
    /// Who is at the keyboard.
    pub operator: String,
    pub role: Role,
    /// A screen drives the engine (no autopilot; the tap feeds the screen).
    pub interactive: bool,
    /// `--var NAME=VALUE`, in order.
    pub vars: Vec<(String, String)>,
    pub regions: Vec<String>,
    pub components: Vec<String>,
    /// The target is a simulator: no command runs unless `run_commands`.
    pub simulated: bool,
    pub run_commands: bool,
    pub dry_run: bool,
    pub read_only: bool,
    pub auto_approve: bool,
    pub max_delay: Option<Duration>,
    /// The incident's title (default: the plan's).
    pub title: Option<String>,
    /// When the outage began, as the operator wrote it.
    pub since: Option<String>,
    /// The shared timeline's URL.
    pub share: Option<String>,
    pub claim_wait: Duration,
    pub run_unclaimed: bool,
    /// The log to resume, and whether a closed incident may be reopened.
    pub resume: Option<PathBuf>,
    pub reopen: bool,
    /// The incident this log is part of (a joined share); a new one when `None`.
    pub incident: Option<String>,
    /// Where a new log goes (default: the user's data directory).
    pub log_dir: Option<PathBuf>,
}

/// Why a session could not be opened. Each says what to fix; none holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no runbook involves {0}")]
    NothingInScope(String),
    /// Each unset variable, as its own message.
    #[error("{}", .0.join("; "))]
    Unset(Vec<String>),
    #[error("{0}")]
    Target(String),
    #[error("{0}")]
    LogKey(String),
    #[error("--since: {0}")]
    Since(String),
    #[error("--share: {0}")]
    Share(String),
    #[error("{0}; pass --log-dir")]
    LogDir(String),
    #[error("cannot open the incident log: {0}")]
    OpenLog(String),
    #[error("cannot write the incident log: {0}")]
    WriteLog(String),
    #[error("{0}")]
    Estate(String),
    #[error("cannot read back the incident log: {0}")]
    ReadBack(String),
    #[error("the incident's share: {0}")]
    IncidentShare(String),
    #[error("cannot start the incident log writer: {0}")]
    Writer(String),
}

impl SessionError {
    /// What to say, a line each (every unset variable on its own).
    pub fn lines(&self) -> Vec<String> {
        match self {
            SessionError::Unset(each) => each.clone(),
            other => vec![other.to_string()],
        }
    }
}

/// What the first frame needs, known before anything is started or opened.
pub struct Opening<'a> {
    pub work: &'a [(Runbook, Scope)],
    pub groups: &'a [plan::Group],
    pub title: &'a str,
    pub level: Option<RehearsalLevel>,
    pub plan_rto: Option<&'a str>,
}

/// Everything a run needs, opened and ready: the runbooks in scope, the target, the incident
/// log (header written) and the engine. The headless driver and the TUI both start from here.
pub struct Session {
    pub rehearsal: bool,
    pub level: Option<RehearsalLevel>,
    pub title: String,
    pub operator: String,
    pub log_path: PathBuf,
    pub recorder: Arc<LogRecorder>,
    pub engine: Engine,
    /// The runbooks in scope, each with its variables.
    pub work: Vec<(Runbook, Scope)>,
    pub groups: Vec<plan::Group>,
    /// Runbook id → its RTO as written ("30m").
    pub rtos: BTreeMap<String, String>,
    pub plan_rto: Option<String>,
    pub connected: Connected,
    pub options: Options,
    /// The log as it was when opened: the header, and on resume everything before.
    pub history: Vec<incident::Event>,
    /// Every event appended from now on, once it is on disk (interactive runs).
    pub tap: Option<tokio::sync::mpsc::UnboundedReceiver<incident::Event>>,
    /// Steps restored from the log on resume, with what they were.
    pub restored: Vec<(plan::StepKey, StepStatus)>,
    /// What the operator said is hit, when the plan was trimmed to it.
    pub scoped: Option<String>,
    /// The shared timeline, with `--share`.
    pub share: Option<crate::share::ShareHandle>,
    /// Other operators' records from the share, for the screen.
    pub remote: Option<tokio::sync::mpsc::UnboundedReceiver<crate::share::RemoteRecord>>,
}

/// Opens the session over `set` (loaded and checked): scopes the plan to `cfg`'s damage,
/// resolves variables, draws `first_frame`, connects through `connect`, opens (or resumes)
/// the log, starts the share and the engine. `warn` hears what is worth saying but stops
/// nothing.
pub async fn open<C, E>(
    cfg: &SessionConfig,
    set: &LoadSet,
    connect: C,
    first_frame: &mut dyn FnMut(Opening<'_>),
    warn: &mut dyn FnMut(String),
) -> Result<Session, SessionError>
where
    C: Future<Output = Result<Connected, E>>,
    E: std::fmt::Display,
{
    let rehearsal = cfg.rehearsal;
    let interactive = cfg.interactive;
    let operator = cfg.operator.clone();
    let plan = set.plans.first();
    let overrides: BTreeMap<String, String> = cfg.vars.iter().cloned().collect();
    let groups = {
        let all = plan::groups(plan, &set.runbooks);
        // Scope to the damage: each runbook with the values its variables take.
        let values: BTreeMap<&str, (&Runbook, Vec<String>)> = set
            .runbooks
            .iter()
            .map(|rb| {
                let (v, _) = vars::resolve_partial(rb, plan.map(|p| &p.vars), &overrides, |k| {
                    std::env::var(k).ok()
                });
                (
                    rb.id(),
                    (
                        rb,
                        v.values
                            .into_values()
                            .filter(|x| !x.secret)
                            .map(|x| x.value)
                            .collect(),
                    ),
                )
            })
            .collect();
        plan::scope(&all, &values, &cfg.regions, &cfg.components)
    };
    if groups.is_empty() {
        return Err(SessionError::NothingInScope(format!(
            "{:?} {:?}",
            cfg.regions, cfg.components
        )));
    }
    let wanted: std::collections::BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| g.runbooks.iter().map(String::as_str))
        .collect();
    // On the simulator no command runs, so a secret only commands would use may be unset: it
    // stands in, and the log says so (a real incident will need it).
    let commands_run = !cfg.simulated || cfg.run_commands;
    let mut work = Vec::new();
    let mut stand_ins = Vec::new();
    let mut unset = Vec::new();
    for rb in set.runbooks.iter().filter(|r| wanted.contains(r.id())) {
        let (mut v, missing) = vars::resolve_partial(rb, plan.map(|p| &p.vars), &overrides, |k| {
            std::env::var(k).ok()
        });
        for m in missing {
            if m.secret && !commands_run {
                v.stand_in(&m);
                stand_ins.push(m);
            } else {
                unset.push(m.to_string());
            }
        }
        work.push((rb.clone(), Scope::new(rb, v, BTreeMap::new())));
    }
    if !unset.is_empty() {
        return Err(SessionError::Unset(unset));
    }
    drbook_core::startup::mark("variables resolved");
    let level = match (rehearsal, cfg.dry_run, cfg.read_only) {
        (false, _, _) => None,
        (true, true, _) => Some(RehearsalLevel::DryRun),
        (true, _, true) => Some(RehearsalLevel::ReadOnly),
        (true, false, false) => Some(RehearsalLevel::Full),
    };
    let plan_rto = plan.and_then(|p| p.meta.rto.as_ref().map(|r| r.get_ref().clone()));
    let title = cfg
        .title
        .clone()
        .unwrap_or_else(|| plan.map_or("Runbooks".to_string(), |p| p.meta.title.get_ref().clone()));
    first_frame(Opening {
        work: &work,
        groups: &groups,
        title: &title,
        level,
        plan_rto: plan_rto.as_deref(),
    });
    let connected = match connect.await {
        Ok(c) => c,
        Err(e) => return Err(SessionError::Target(e.to_string())),
    };
    drbook_core::startup::mark("target connected");
    let rtos: BTreeMap<String, String> = work
        .iter()
        .filter_map(|(rb, _)| {
            rb.meta
                .rto
                .as_ref()
                .map(|r| (rb.id().to_string(), r.get_ref().clone()))
        })
        .collect();
    let mut redactor = Redactor::new(Vec::<String>::new());
    for (_, scope) in &work {
        for v in scope
            .vars
            .values
            .values()
            .filter(|v| v.secret && !v.value.is_empty())
        {
            redactor.add_secret(v.value.clone());
        }
    }
    // A keyed chain: the key signs every line and must never be written, even when a
    // command prints it.
    let log_key = match incident::LogKey::from_env() {
        Ok(k) => k,
        Err(e) => return Err(SessionError::LogKey(e.to_string())),
    };
    if let Ok(raw) = std::env::var(incident::chain::KEY_ENV)
        && log_key.is_some()
    {
        redactor.add_secret(raw.trim().to_string());
    }
    // Read before the log is opened, so a slip does not leave an empty incident behind; a
    // resumed incident is held to its own first event below.
    let now = chrono::Utc::now();
    let since = match &cfg.since {
        Some(text) => match crate::exec::outage::parse_checked(text, now, now) {
            Ok(at) => Some((text, at)),
            Err(e) => return Err(SessionError::Since(e.to_string())),
        },
        None => None,
    };
    let share_store = match cfg.share.as_deref().map(crate::share::open_store) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Err(SessionError::Share(e.to_string())),
        None => None,
    };
    let opened = match &cfg.resume {
        Some(path) => IncidentLog::resume_keyed(path, &operator, redactor, log_key, cfg.reopen)
            .map(|(log, state)| (log, Some(state))),
        None => {
            let header = Header {
                incident_id: cfg.incident.clone().unwrap_or_else(incident_id),
                title: title.clone(),
                mode: if rehearsal {
                    Mode::Rehearsal
                } else {
                    Mode::Live
                },
                level,
                operators: vec![operator.clone()],
                drbook_version: env!("CARGO_PKG_VERSION").to_string(),
                target: connected.description.clone(),
                plan: plan.map(|p| p.id().to_string()),
                runbooks: work.iter().map(|(rb, _)| runbook_ref(rb)).collect(),
                auto_approve: cfg.auto_approve,
                share: share_store.as_ref().map(|s| s.loc.to_string()),
                keyed: None,
            };
            let dir = match cfg.log_dir.clone().map_or_else(incident::default_dir, Ok) {
                Ok(d) => d,
                Err(e) => return Err(SessionError::LogDir(e.to_string())),
            };
            IncidentLog::create_keyed(&dir, header, redactor, log_key).map(|log| (log, None))
        }
    };
    let (mut log, resumed) = match opened {
        Ok(x) => x,
        Err(e) => return Err(SessionError::OpenLog(e.to_string())),
    };
    if let Some((text, at)) = since {
        let first = resumed.as_ref().and_then(|s| s.started).unwrap_or(now);
        if let Err(e) = crate::exec::outage::check(text, at, now, first) {
            return Err(SessionError::Since(e.to_string()));
        }
        let previous = resumed.as_ref().and_then(|s| s.outage_since);
        if previous != Some(at)
            && let Err(e) = log.append(&operator, EventKind::OutageStart { at, previous })
        {
            return Err(SessionError::WriteLog(e.to_string()));
        }
    }
    let log_path = log.path().to_path_buf();
    drbook_core::startup::mark("log created");
    if let Some(gone) = log.taken_over() {
        warn(format!(
            "{gone} had this incident log and is gone (its lock went with it): this drbook holds it now"
        ));
    }
    // The simulated estate lives beside the log, so a resumed rehearsal meets the Azure it left.
    if let Some(estate) = &connected.estate {
        match estate.keep_beside(&log_path).await {
            Ok(Some(why)) => warn(why),
            Ok(None) => {}
            Err(e) => return Err(SessionError::Estate(e)),
        }
    }
    drbook_core::startup::mark("simulated estate kept beside the log");
    // Read before the writer starts: from here on the tap delivers every new event.
    let history = match incident::read_log(&log_path) {
        Ok((events, _)) => events,
        Err(e) => return Err(SessionError::ReadBack(e.to_string())),
    };
    // `${incident.*}` take the incident's own values, from its header: a resumed incident keeps
    // its id and start, so a step names the same scratch folder or work item after a resume.
    let incident_vars = incident_refs(&history, &operator);
    for (_, scope) in &mut work {
        scope.incident = incident_vars.clone();
    }
    // A resumed shared incident keeps its share unless told otherwise.
    let share_store = match share_store {
        Some(s) => Some(s),
        None => match history.first().map(|e| &e.kind) {
            Some(EventKind::IncidentStarted(h)) if h.share.is_some() => {
                match crate::share::open_store(h.share.as_deref().unwrap_or_default()) {
                    Ok(s) => Some(s),
                    Err(e) => return Err(SessionError::IncidentShare(e.to_string())),
                }
            }
            _ => None,
        },
    };
    let (tap_tx, tap) = if interactive || share_store.is_some() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    // With a share, the syncer sees each event first and hands it on to the screen.
    let (tap, share, remote) = match (share_store, tap) {
        (Some(store), Some(local)) => {
            let (fwd_tx, fwd_rx) = tokio::sync::mpsc::unbounded_channel();
            let (rem_tx, rem_rx) = tokio::sync::mpsc::unbounded_channel();
            let handle = crate::share::start(
                store,
                &operator,
                cfg.role.as_str(),
                &log_path,
                &history,
                local,
                interactive.then_some(fwd_tx),
                interactive.then_some(rem_tx),
            );
            (
                interactive.then_some(fwd_rx),
                Some(handle),
                interactive.then_some(rem_rx),
            )
        }
        (_, tap) => (tap, None, None),
    };
    let handle = match LogHandle::spawn_tapped(log, tap_tx) {
        Ok(h) => h,
        Err(e) => return Err(SessionError::Writer(e.to_string())),
    };
    if let Some(s) = &share {
        s.attach_log(handle.clone());
    }
    let mut scoped = None;
    if resumed.is_none() && !(cfg.regions.is_empty() && cfg.components.is_empty()) {
        let ev = EventKind::ScopeSet {
            regions: cfg.regions.clone(),
            components: cfg.components.clone(),
        };
        if let Err(e) = handle.append(operator.clone(), ev).await {
            return Err(SessionError::WriteLog(e.to_string()));
        }
        scoped = Some(format!(
            "{} runbook(s) involve {}",
            work.len(),
            [cfg.regions.clone(), cfg.components.clone()]
                .concat()
                .join(", ")
        ));
    }
    if resumed.is_none() && !stand_ins.is_empty() {
        // One note: each secret, what would set it, and the runbooks that have it.
        let mut by_name: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        for m in &stand_ins {
            by_name
                .entry((m.name.as_str(), m.env.as_str()))
                .or_default()
                .push(m.runbook.as_str());
        }
        let list: Vec<String> = by_name
            .iter()
            .map(|((name, env), rbs)| format!("{name} (${env}) of {}", rbs.join(", ")))
            .collect();
        let note = EventKind::Note {
            runbook: None,
            step: None,
            text: format!(
                "unset secrets stand in, as no command runs against the simulator; a real \
                 incident needs them: {}",
                list.join("; ")
            ),
        };
        if let Err(e) = handle.append(operator.clone(), note).await {
            return Err(SessionError::WriteLog(e.to_string()));
        }
    }
    // Who holds which role is in the log: the screen, a review and the report read it there.
    let role = EventKind::RoleTaken {
        operator: operator.clone(),
        role: cfg.role,
    };
    if let Err(e) = handle.append(operator.clone(), role).await {
        return Err(SessionError::WriteLog(e.to_string()));
    }
    let options = Options {
        operator: operator.clone(),
        auto_approve: cfg.auto_approve,
        dry_run: cfg.dry_run,
        autopilot: !interactive,
        max_delay: cfg.max_delay,
        read_only: cfg.read_only,
        skip_commands: (cfg.simulated && !cfg.run_commands).then(|| {
            "not run against the simulator: commands reach real systems (--run-commands runs them)".to_string()
        }),
        share: share
            .clone()
            .map(|s| Arc::new(s) as Arc<dyn crate::share::Claims>),
        claim_wait: cfg.claim_wait,
        run_unclaimed: cfg.run_unclaimed,
    };
    drbook_core::startup::mark("log writer started, role logged");
    let recorder = Arc::new(LogRecorder::new(handle, "drbook"));
    let mut engine = Engine::new(
        work.clone(),
        groups.clone(),
        connected.reader.clone(),
        recorder.clone(),
        options.clone(),
    )
    .with_role(cfg.role)
    // On a shared incident a commander elsewhere can approve a two-person step.
    .approvals_from_elsewhere(options.share.is_some());
    let mut restored = Vec::new();
    if let Some(state) = resumed {
        for rb in &state.runbooks {
            for st in &rb.steps {
                let p = match st.status {
                    StepStatus::NotStarted => continue,
                    StepStatus::Done | StepStatus::Assessed => plan::Progress::Done,
                    StepStatus::Failed => plan::Progress::Failed,
                    StepStatus::Skipped => plan::Progress::Skipped,
                    StepStatus::Running
                    | StepStatus::WaitingForConfirmation
                    | StepStatus::WaitingForApproval
                    | StepStatus::Interrupted => plan::Progress::Active,
                };
                let key = plan::StepKey::new(rb.id.clone(), st.id.clone());
                restored.push((key.clone(), st.status));
                engine.restore(
                    key,
                    Restored {
                        progress: p,
                        outputs: st.outputs.clone(),
                        skip_reason: st.skip_reason.clone(),
                        interrupted: st.started.is_some() && p == plan::Progress::Active,
                    },
                );
            }
        }
    }
    Ok(Session {
        rehearsal,
        level,
        title,
        operator,
        log_path,
        recorder,
        engine,
        work,
        groups,
        rtos,
        plan_rto,
        connected,
        options,
        history,
        tap,
        restored,
        scoped,
        share,
        remote,
    })
}

/// The values of `${incident.id}`, `${incident.mode}`, `${incident.operator}` and
/// `${incident.started}`: the header's id and mode (`dry-run` for a dry-run rehearsal), the
/// time the header was written, and the operator running this drbook.
fn incident_refs(history: &[incident::Event], operator: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert("operator".to_string(), operator.to_string());
    if let Some(first) = history.first()
        && let EventKind::IncidentStarted(h) = &first.kind
    {
        let mode = match (h.mode, h.level) {
            (Mode::Live, _) => "live",
            (Mode::Rehearsal, Some(RehearsalLevel::DryRun)) => "dry-run",
            (Mode::Rehearsal, _) => "rehearsal",
        };
        out.insert("id".to_string(), h.incident_id.clone());
        out.insert("mode".to_string(), mode.to_string());
        out.insert(
            "started".to_string(),
            drbook_core::time::rfc3339_millis(first.ts),
        );
    }
    out
}

/// The last event of a run: recovered (or rehearsed) when every runbook finished.
pub async fn close_incident(
    recorder: &LogRecorder,
    operator: &str,
    finished: bool,
    rehearsal: bool,
) -> Result<(), String> {
    let outcome = match (finished, rehearsal) {
        (true, true) => IncidentOutcome::Rehearsed,
        (true, false) => IncidentOutcome::Recovered,
        (false, _) => IncidentOutcome::Failed,
    };
    recorder
        .handle()
        .append(
            operator,
            EventKind::IncidentClosed {
                outcome,
                summary: None,
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// How long a run that ends waits for the share to take what it has not yet taken
/// (`DRBOOK_SHARE_FLUSH`, e.g. `5s`, changes it).
pub fn share_flush_limit() -> Duration {
    std::env::var("DRBOOK_SHARE_FLUSH")
        .ok()
        .and_then(|v| drbook_core::time::parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(30))
}

/// Shares what is left, says goodbye on the shared timeline, and tells what happened (a line
/// for the operator).
pub async fn report_share(share: &crate::share::ShareHandle, limit: Duration) -> String {
    let left = share.flush(true, limit).await;
    let view = share.view.borrow().clone();
    match left {
        Some(0) => format!(
            "shared timeline: {} ({} records, every event of this log shared)",
            view.url, view.records
        ),
        Some(left) => format!(
            "shared timeline: {} is OFFLINE ({}): {left} event(s) of this log not shared yet; \
             they are shared when the incident is resumed (--resume)",
            view.url,
            printable(view.problem.as_deref().unwrap_or("no answer"))
        ),
        None => format!(
            "shared timeline: {} did not answer within {}s: events of this log may not be \
             shared yet; they are shared when the incident is resumed (--resume)",
            view.url,
            limit.as_secs()
        ),
    }
}

fn incident_id() -> String {
    format!(
        "{}-{:04x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

fn runbook_ref(rb: &drbook_core::runbook::model::Runbook) -> RunbookRef {
    let bytes = std::fs::read(&*rb.file).unwrap_or_default();
    RunbookRef {
        id: rb.id().to_string(),
        file: rb.file.display().to_string(),
        sha256: incident::chain::sha256_hex(&bytes),
        steps: rb.steps.iter().map(|s| s.id.get_ref().clone()).collect(),
        rto: rb.meta.rto.as_ref().map(|r| r.get_ref().clone()),
        cleanups: rb
            .steps
            .iter()
            .filter(|s| s.cleanup.is_some())
            .map(|s| s.id.get_ref().clone())
            .collect(),
    }
}
