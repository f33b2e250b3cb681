//! A shared incident on the screen: who is online (or that the share is offline and how much
//! waits), who holds which step, other operators' events in the timeline under their names,
//! taking a claim over, and a commander approving a step that waits on another drbook.
//! Behaviour through `App::update`; screens as insta snapshots.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use drbook::exec::engine::Control;
use drbook::incident::{Event, EventKind};
use drbook::roles::Role;
use drbook::runbook::plan::StepKey;
use drbook::share::record::{Body, Record};
use drbook::share::{Holder, Peer, RemoteRecord, ShareView};
use drbook::tui::app::{App, Dialog, Effect, Msg, Pane};
use drbook::tui::fixture;
use drbook::tui::model::Shown;
use drbook::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const RB: &str = "network-failover";
const STEP: &str = "tm-disable-primary";

fn app() -> App {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    fixture::app(&dir, 0).expect("the fixture builds over the shipped runbooks")
}

fn at(secs: i64) -> chrono::DateTime<chrono::Utc> {
    fixture::start() + Duration::seconds(secs)
}

fn peer(op: &str, role: &str, seen: i64) -> Peer {
    Peer {
        op: op.into(),
        role: role.into(),
        last_seen: at(seen),
        left: false,
    }
}

fn view_with(online: bool, holders: &[(&str, &str, &str)]) -> ShareView {
    ShareView {
        url: "https://stdrshared.blob.core.windows.net/incidents/INC-42".into(),
        online,
        problem: (!online).then(|| "append to the timeline: connection refused".into()),
        queued: if online { 0 } else { 17 },
        records: 240,
        peers: BTreeMap::from([
            ("s-alice".into(), peer("alice", "operator", 700)),
            ("s-bob".into(), peer("bob", "operator", 690)),
            ("s-carol".into(), peer("carol", "commander", 650)),
        ]),
        holders: holders
            .iter()
            .map(|(rb, st, op)| {
                (
                    StepKey::new(*rb, *st),
                    Holder {
                        sid: format!("s-{op}"),
                        op: (*op).into(),
                        since: at(640),
                    },
                )
            })
            .collect(),
        me: "alice".into(),
    }
}

/// Someone else's event, as the share delivers it.
fn remote(app: &mut App, op: &str, actor: &str, secs: i64, kind: EventKind) {
    let e = Event {
        seq: 1,
        ts: at(secs),
        actor: actor.into(),
        kind,
        prev: String::new(),
        hash: String::new(),
    };
    app.update(Msg::Remote(RemoteRecord {
        record: Record {
            sid: format!("s-{op}"),
            op: op.into(),
            role: "operator".into(),
            body: Body::Event {
                seq: 1,
                e: serde_json::Value::Null,
            },
        },
        event: Some(e),
    }));
}

fn render(app: &mut App, w: u16, h: u16) -> String {
    app.update(Msg::Resize(w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|f| view::draw(f, app)).expect("draws");
    term.backend().to_string()
}

fn key(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

fn select_step(app: &mut App) {
    while app.dialog.is_some() {
        app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    }
    let key = StepKey::new(RB, STEP);
    app.select(&key);
    app.focus = Pane::Steps;
    assert_eq!(app.selected_key(), Some(key));
}

fn set_now(app: &mut App, secs: i64) {
    app.update(Msg::Tick(at(secs)));
}

#[test]
fn a_shared_incident_shows_who_is_online_who_holds_a_step_and_their_events() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app();
        set_now(&mut a, 705);
        a.update(Msg::Share(view_with(true, &[(RB, STEP, "bob")])));
        remote(
            &mut a,
            "bob",
            "bob",
            641,
            EventKind::StepClaimed {
                runbook: RB.into(),
                step: STEP.into(),
                from: None,
                offline: false,
            },
        );
        remote(
            &mut a,
            "bob",
            "drbook",
            642,
            EventKind::StepStarted {
                runbook: RB.into(),
                step: STEP.into(),
                title: None,
                attempt: 1,
            },
        );
        select_step(&mut a);
        let screen = render(&mut a, w, h);
        if w == 160 {
            assert!(
                screen.contains("shared ● alice, bob, carol (IC)"),
                "{screen}"
            );
            assert!(screen.contains("⚑ bob"), "{screen}");
            assert!(
                screen.contains("held by bob since 03:10:40 UTC"),
                "{screen}"
            );
        }
        // What bob's drbook did shows under bob's name.
        let last = a.timeline.events.last().expect("the remote event");
        assert_eq!(last.actor, "bob");
        insta::assert_snapshot!(format!("shared_{w}x{h}"), screen);
    }
}

#[test]
fn an_offline_share_says_so_and_how_much_waits() {
    let mut a = app();
    a.update(Msg::Share(view_with(false, &[])));
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("SHARE OFFLINE · 17 queued"), "{screen}");
    insta::assert_snapshot!("share_offline_160x48", screen);
}

#[test]
fn taking_a_held_step_over_asks_first_and_sends_a_takeover() {
    let mut a = app();
    set_now(&mut a, 705);
    a.update(Msg::Share(view_with(true, &[(RB, STEP, "bob")])));
    select_step(&mut a);
    let shown = a.shown(&StepKey::new(RB, STEP));
    assert!(
        matches!(shown, Shown::Ready | Shown::NotStarted),
        "{shown:?}"
    );
    assert!(
        key(&mut a, 'T').is_empty(),
        "nothing is sent before the answer"
    );
    assert!(
        matches!(&a.dialog, Some(Dialog::Takeover { holder, .. }) if holder == "bob"),
        "{:?}",
        a.dialog
    );
    insta::assert_snapshot!("takeover_dialog_100x30", render(&mut a, 100, 30));
    // No leaves it.
    assert!(key(&mut a, 'n').is_empty());
    assert!(a.dialog.is_none());
    key(&mut a, 'T');
    assert_eq!(
        key(&mut a, 'y'),
        vec![Effect::Control(Control::Takeover(StepKey::new(RB, STEP)))]
    );

    // Nobody else holds it: T says so and sends nothing.
    let mut b = app();
    b.update(Msg::Share(view_with(true, &[])));
    select_step(&mut b);
    assert!(key(&mut b, 'T').is_empty());
    assert!(b.dialog.is_none());
    assert!(
        b.message
            .as_deref()
            .unwrap_or("")
            .contains("nobody else holds")
    );
}

#[test]
fn while_the_share_is_offline_t_offers_to_run_a_step_without_a_claim() {
    let mut a = app();
    set_now(&mut a, 705);
    a.update(Msg::Share(view_with(false, &[])));
    select_step(&mut a);
    assert!(
        key(&mut a, 'T').is_empty(),
        "nothing is sent before the answer"
    );
    assert!(
        matches!(&a.dialog, Some(Dialog::Unclaimed { problem, .. }) if problem.contains("connection refused")),
        "{:?}",
        a.dialog
    );
    let screen = render(&mut a, 100, 30);
    assert!(screen.contains("Run without a claim?"), "{screen}");
    insta::assert_snapshot!("unclaimed_dialog_100x30", screen);
    assert!(key(&mut a, 'n').is_empty());
    assert!(a.dialog.is_none());
    key(&mut a, 'T');
    assert_eq!(
        key(&mut a, 'y'),
        vec![Effect::Control(Control::RunUnclaimed(StepKey::new(
            RB, STEP
        )))]
    );
    // The run without a claim stands out in the timeline.
    let seq = a.state.last_seq + 1;
    a.update(Msg::Logged(Event {
        seq,
        ts: at(706),
        actor: "alice".into(),
        kind: EventKind::StepClaimed {
            runbook: RB.into(),
            step: STEP.into(),
            from: None,
            offline: true,
        },
        prev: String::new(),
        hash: String::new(),
    }));
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("run WITHOUT A CLAIM"), "{screen}");

    // With the share online and nobody holding the step, T offers nothing.
    let mut b = app();
    b.update(Msg::Share(view_with(true, &[])));
    select_step(&mut b);
    key(&mut b, 'T');
    assert!(b.dialog.is_none());
}

#[test]
fn a_commander_is_asked_to_approve_a_step_waiting_on_another_drbook() {
    let mut a = app();
    // This terminal's operator (alice) is the incident commander.
    let seq = a.state.last_seq + 1;
    a.update(Msg::Logged(Event {
        seq,
        ts: at(700),
        actor: "alice".into(),
        kind: EventKind::RoleTaken {
            operator: "alice".into(),
            role: Role::Commander,
        },
        prev: String::new(),
        hash: String::new(),
    }));
    select_step(&mut a);
    a.update(Msg::Share(view_with(true, &[(RB, STEP, "bob")])));
    remote(
        &mut a,
        "bob",
        "drbook",
        701,
        EventKind::ApprovalRequested {
            runbook: RB.into(),
            step: STEP.into(),
            operator: "bob".into(),
            prompt: "PATCH .../azureEndpoints/ep-westeurope".into(),
        },
    );
    assert_eq!(a.shown(&StepKey::new(RB, STEP)), Shown::AwaitsApproval);
    // The question is put to this terminal (after the ones already waiting), naming who runs it.
    assert!(a.prompts.contains(&StepKey::new(RB, STEP)));
    // It waits in the queue: no dialog opens over what the commander reads.
    assert!(a.dialog.is_none(), "{:?}", a.dialog);
    select_step(&mut a);
    key(&mut a, 'v');
    let Some(Dialog::Approve { operator, by, .. }) = &a.dialog else {
        panic!("no approval dialog: {:?}", a.dialog);
    };
    assert_eq!((operator.as_str(), by.as_str()), ("bob", "alice"));
    assert_eq!(
        key(&mut a, 'y'),
        vec![Effect::Control(Control::Approve {
            key: StepKey::new(RB, STEP),
            by: "alice".into(),
            role: Role::Commander,
            yes: true,
            keyboard: None,
        })]
    );
    // Once bob's drbook records the approval, the question is gone.
    remote(
        &mut a,
        "bob",
        "alice",
        703,
        EventKind::Approved {
            runbook: RB.into(),
            step: STEP.into(),
            by: "alice".into(),
            role: Role::Commander,
            approved: true,
            keyboard: None,
        },
    );
    assert!(!a.prompts.contains(&StepKey::new(RB, STEP)));
    assert_ne!(a.shown(&StepKey::new(RB, STEP)), Shown::AwaitsApproval);
}

#[test]
fn an_operator_is_not_asked_to_approve_for_someone_else() {
    let mut a = app();
    select_step(&mut a);
    remote(
        &mut a,
        "bob",
        "drbook",
        701,
        EventKind::ApprovalRequested {
            runbook: RB.into(),
            step: STEP.into(),
            operator: "bob".into(),
            prompt: String::new(),
        },
    );
    assert!(
        !matches!(a.dialog, Some(Dialog::Approve { .. })),
        "{:?}",
        a.dialog
    );
    assert!(!a.prompts.contains(&StepKey::new(RB, STEP)));
    // It shows as waiting for approval all the same.
    assert_eq!(a.shown(&StepKey::new(RB, STEP)), Shown::AwaitsApproval);
}

#[test]
fn on_a_shared_incident_this_drbooks_own_engine_events_are_its_operators() {
    let mut a = app();
    let me = a.info.operator.clone();
    let started = |actor: &str, seq: u64| Event {
        seq,
        ts: at(700),
        actor: actor.into(),
        kind: EventKind::StepStarted {
            runbook: RB.into(),
            step: STEP.into(),
            title: None,
            attempt: 1,
        },
        hash: String::new(),
        prev: String::new(),
    };
    // Alone, what the engine did is drbook's: it tells automation from people.
    a.update(Msg::Logged(started("drbook", 900)));
    assert_eq!(
        a.timeline.events.last().map(|e| e.actor.as_str()),
        Some("drbook")
    );
    // Shared, it is the operator's, as others see it and as the shared review shows it.
    a.update(Msg::Share(view_with(true, &[])));
    a.update(Msg::Logged(started("drbook", 901)));
    assert_eq!(
        a.timeline.events.last().map(|e| e.actor.as_str()),
        Some(me.as_str())
    );
    assert_ne!(me, "drbook");
}
