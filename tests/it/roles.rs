//! Roles and the two-person rule in the engine: a step marked `approval = "two-person"` waits,
//! once it would start, for an incident commander other than its operator; operators, the
//! operator himself and scribes are refused with a reason; `--auto-approve` does not bypass
//! it; a headless run stops there and says so. Then the same seen in the incident log, in
//! `drbook report` and through the real binary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::recorder::Memory;
use drbook::checks::scope::Scope;
use drbook::cli::target::Connected;
use drbook::cli::target::{TargetArgs, connect};
use drbook::diag::SourceFile;
use drbook::exec::engine::{Control, Engine, ExecEvent, Options, Update};
use drbook::exec::headless::{Answers, drive};
use drbook::exec::journal::to_log;
use drbook::exec::steps::Outcome;
use drbook::incident::EventKind;
use drbook::roles::Role;
use drbook::runbook::load::parse_source;
use drbook::runbook::model::Runbook;
use drbook::runbook::plan::{self, StepKey};
use drbook::runbook::vars;
use tokio::sync::mpsc;

async fn sim() -> Connected {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/scenarios/westeurope-outage.toml"
    );
    let args = TargetArgs {
        timeout: Duration::from_secs(10),
        retries: 1,
        ..TargetArgs::simulator(Some(scenario.into()), "end")
    };
    connect(&args, |_| None).await.expect("simulator")
}

/// `shift` (a command, two-person, asks first), `tell` (manual, two-person) after it, and
/// `other` (a command with no rule) beside them.
const RUNBOOK: &str = r#"
[runbook]
id = "rb"
title = "Two-person"
component = "network"

[[step]]
id = "shift"
title = "Shift the traffic"
kind = "command"
argv = ["true"]
confirm = true
approval = "two-person"

[[step]]
id = "tell"
title = "Tell the business"
kind = "manual"
instructions = "Call the duty manager."
depends_on = ["shift"]
approval = "two-person"

[[step]]
id = "other"
title = "Something else"
kind = "command"
argv = ["true"]
confirm = false
"#;

fn runbook() -> Vec<(Runbook, Scope)> {
    let out = parse_source(&SourceFile::new(std::path::Path::new("rb.toml"), RUNBOOK));
    let rb = out
        .runbook
        .unwrap_or_else(|| panic!("{:?}", out.diagnostics));
    let (v, _) = vars::resolve_partial(&rb, None, &BTreeMap::new(), |_| None);
    let scope = Scope::new(&rb, v, BTreeMap::new());
    vec![(rb, scope)]
}

fn options(autopilot: bool, auto_approve: bool) -> Options {
    Options {
        operator: "alice".into(),
        auto_approve,
        dry_run: false,
        autopilot,
        max_delay: Some(Duration::from_millis(100)),
        read_only: false,
        skip_commands: None,
        share: None,
        claim_wait: Duration::ZERO,
        run_unclaimed: false,
    }
}

fn engine(c: &Connected, rec: Arc<Memory>, opts: Options) -> Engine {
    let rbs = runbook();
    let only: Vec<Runbook> = rbs.iter().map(|(r, _)| r.clone()).collect();
    let groups = plan::groups(None, &only);
    Engine::new(rbs, groups, c.reader.clone(), rec, opts)
}

fn key(step: &str) -> StepKey {
    StepKey::new("rb", step)
}

/// An engine run by hand (no autopilot), as the TUI drives it.
struct Driven {
    ctl: mpsc::UnboundedSender<Control>,
    up: mpsc::UnboundedReceiver<Update>,
}

impl Driven {
    fn start(engine: Engine) -> Driven {
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let (up_tx, up) = mpsc::unbounded_channel();
        tokio::spawn(engine.run(ctl_rx, up_tx));
        Driven { ctl, up }
    }

    fn send(&self, c: Control) {
        self.ctl.send(c).expect("engine alive");
    }

    /// The first update that `want` picks, within five seconds.
    async fn until<T>(&mut self, what: &str, want: impl Fn(&Update) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let u = tokio::time::timeout_at(deadline, self.up.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within 5s"))
                .unwrap_or_else(|| panic!("engine ended before {what}"));
            if let Some(t) = want(&u) {
                return t;
            }
        }
    }

    async fn refused(&mut self) -> String {
        self.until("refusal", |u| match u {
            Update::Refused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .await
    }
}

fn approve(step: &str, by: &str, role: Role, yes: bool) -> Control {
    Control::Approve {
        key: key(step),
        by: by.into(),
        role,
        yes,
        keyboard: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_person_step_waits_for_a_commander_other_than_its_operator() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let mut e = Driven::start(engine(&c, rec.clone(), options(false, false)));
    e.send(Control::Start(key("shift")));
    e.until("confirmation", |u| {
        matches!(u, Update::Recorded(ExecEvent::ConfirmationRequested { .. })).then_some(())
    })
    .await;
    e.send(Control::Answer {
        key: key("shift"),
        yes: true,
        by: "alice".into(),
    });
    // Confirmed by its operator, it still waits: for someone else.
    let operator = e
        .until("approval request", |u| match u {
            Update::Recorded(ExecEvent::ApprovalRequested {
                key: k, operator, ..
            }) if *k == key("shift") => Some(operator.clone()),
            _ => None,
        })
        .await;
    assert_eq!(operator, "alice");

    // An operator's approval is refused, and so is the operator's own as a commander.
    e.send(approve("shift", "olga", Role::Operator, true));
    let why = e.refused().await;
    assert!(why.contains("needs an incident commander"), "{why}");
    e.send(approve("shift", "alice", Role::Commander, true));
    let why = e.refused().await;
    assert!(why.contains("cannot approve it too"), "{why}");
    e.send(approve("shift", "sam", Role::Scribe, true));
    let why = e.refused().await;
    assert!(why.contains("only writes notes"), "{why}");
    assert!(
        !rec.events()
            .iter()
            .any(|ev| matches!(ev, ExecEvent::StepStarted { key: k, .. } if *k == key("shift"))),
        "a refused approval let it start: {:#?}",
        rec.events()
    );

    // A commander's approval lets it run.
    e.send(approve("shift", "bob", Role::Commander, true));
    let outcome = e
        .until("shift finished", |u| match u {
            Update::Recorded(ExecEvent::StepFinished {
                key: k, outcome, ..
            }) if *k == key("shift") => Some(*outcome),
            _ => None,
        })
        .await;
    assert_eq!(outcome, Outcome::Ok);
    let ev = rec.events();
    let approved = ev
        .iter()
        .position(|x| matches!(x, ExecEvent::Approved { by, yes: true, role: Role::Commander, .. } if by == "bob"))
        .expect("approval recorded");
    let started = ev
        .iter()
        .position(|x| matches!(x, ExecEvent::StepStarted { key: k, .. } if *k == key("shift")))
        .expect("started");
    assert!(approved < started, "{ev:#?}");

    // The manual step after it waits for approval before its operator is asked.
    e.send(Control::Start(key("tell")));
    e.until("tell's approval request", |u| {
        matches!(u, Update::Recorded(ExecEvent::ApprovalRequested { key: k, .. }) if *k == key("tell"))
            .then_some(())
    })
    .await;
    assert!(
        !rec.events()
            .iter()
            .any(|x| matches!(x, ExecEvent::WaitingForOperator { key: k } if *k == key("tell")))
    );
    e.send(approve("tell", "Bob", Role::Commander, true));
    e.until("tell waits for its operator", |u| {
        matches!(u, Update::Recorded(ExecEvent::WaitingForOperator { key: k }) if *k == key("tell"))
            .then_some(())
    })
    .await;
    e.send(Control::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commander_running_a_step_needs_a_second_commander_and_a_no_skips_it() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let mut e =
        Driven::start(engine(&c, rec.clone(), options(false, true)).with_role(Role::Commander));
    e.send(Control::Start(key("shift")));
    e.until("approval request", |u| {
        matches!(u, Update::Recorded(ExecEvent::ApprovalRequested { .. })).then_some(())
    })
    .await;
    e.send(approve("shift", "ALICE", Role::Commander, true));
    let why = e.refused().await;
    assert!(why.contains("second commander"), "{why}");
    e.send(approve("shift", "carol", Role::Commander, false));
    let reason = e
        .until("skip", |u| match u {
            Update::Recorded(ExecEvent::StepSkipped { key: k, reason, .. })
                if *k == key("shift") =>
            {
                Some(reason.clone())
            }
            _ => None,
        })
        .await;
    assert!(reason.contains("declined by carol"), "{reason}");
    // Approving what no longer waits is refused, visibly.
    e.send(approve("shift", "carol", Role::Commander, true));
    let why = e.refused().await;
    assert!(why.contains("does not wait for an approval"), "{why}");
    e.send(Control::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_approve_does_not_bypass_two_person_and_a_headless_run_stops_there() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let e = engine(&c, rec.clone(), options(true, true));
    let ending = tokio::time::timeout(
        Duration::from_secs(30),
        drive(e, &Answers::default(), "alice", |_| {}),
    )
    .await
    .expect("a headless run stops rather than waiting for ever");
    let ev = rec.events();
    assert_eq!(ending.awaiting_approval, [key("shift")], "{ev:#?}");
    assert!(!ending.finished);
    // --auto-approve answered the confirmation, and only that.
    assert!(ev.iter().any(|x| matches!(
        x,
        ExecEvent::Confirmed { key: k, auto: true, .. } if *k == key("shift")
    )));
    for step in ["shift", "tell"] {
        assert!(
            !ev.iter()
                .any(|x| matches!(x, ExecEvent::StepStarted { key: k, .. } if *k == key(step))),
            "{step} started: {ev:#?}"
        );
    }
    // What does not depend on it ran.
    assert!(ev.iter().any(|x| matches!(
        x,
        ExecEvent::StepFinished { key: k, outcome: Outcome::Ok, .. } if *k == key("other")
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scribe_only_writes_notes() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let mut e = Driven::start(
        engine(
            &c,
            rec.clone(),
            Options {
                operator: "sam".into(),
                ..options(false, false)
            },
        )
        .with_role(Role::Scribe),
    );
    for c in [
        Control::Start(key("other")),
        Control::StartAllReady,
        Control::Retry(key("other")),
        Control::Skip {
            key: key("other"),
            reason: "no".into(),
            by: "sam".into(),
        },
        Control::Answer {
            key: key("shift"),
            yes: true,
            by: "sam".into(),
        },
        Control::Manual {
            key: key("tell"),
            outcome: Outcome::Ok,
            note: None,
            by: "sam".into(),
        },
        Control::Abort {
            key: key("other"),
            by: "sam".into(),
        },
        Control::Pause { by: "sam".into() },
    ] {
        e.send(c.clone());
        let why = e.refused().await;
        assert!(why.contains("sam is the scribe"), "{c:?}: {why}");
    }
    e.send(Control::Note {
        key: None,
        text: "bridge call started".into(),
        by: "sam".into(),
    });
    e.until("the note", |u| {
        matches!(u, Update::Recorded(ExecEvent::Note { by, .. }) if by == "sam").then_some(())
    })
    .await;
    e.send(Control::Shutdown);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ev = rec.events();
    assert!(
        ev.iter().all(|x| matches!(x, ExecEvent::Note { .. })),
        "a scribe changed something: {ev:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_joining_takes_a_role_the_engine_then_enforces() {
    let c = sim().await;
    let rec = Arc::new(Memory::default());
    let mut e = Driven::start(engine(&c, rec.clone(), options(false, false)));
    e.send(Control::TakeRole {
        who: "sam".into(),
        role: Role::Scribe,
    });
    e.until("role", |u| {
        matches!(
            u,
            Update::Recorded(ExecEvent::RoleTaken {
                role: Role::Scribe,
                ..
            })
        )
        .then_some(())
    })
    .await;
    e.send(Control::Skip {
        key: key("other"),
        reason: "no".into(),
        by: "sam".into(),
    });
    let why = e.refused().await;
    assert!(why.contains("only writes notes"), "{why}");
    e.send(Control::Shutdown);
}

#[test]
fn approvals_and_roles_go_to_the_log_with_who_gave_them() {
    let (actor, kinds) = to_log(
        &ExecEvent::Approved {
            key: key("shift"),
            by: "bob".into(),
            role: Role::Commander,
            yes: true,
            keyboard: Some("alice".into()),
        },
        "drbook",
    )
    .expect("logged");
    assert_eq!(actor, "bob");
    assert_eq!(
        kinds,
        [EventKind::Approved {
            runbook: "rb".into(),
            step: "shift".into(),
            by: "bob".into(),
            role: Role::Commander,
            approved: true,
            keyboard: Some("alice".into()),
        }]
    );
    let (actor, kinds) = to_log(
        &ExecEvent::ApprovalRequested {
            key: key("shift"),
            operator: "alice".into(),
            what: "run true".into(),
        },
        "drbook",
    )
    .expect("logged");
    assert_eq!(actor, "drbook");
    assert!(
        matches!(&kinds[..], [EventKind::ApprovalRequested { operator, .. }] if operator == "alice")
    );
}
