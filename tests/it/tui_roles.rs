//! Roles and the two-person rule on the screen: the role in the header, a step awaiting a
//! commander's approval, the approval dialog (a commander approving someone else's step, and a
//! second person giving their name at a single keyboard), and a scribe who only writes notes.
//! Behaviour through `App::update`; screens as insta snapshots at 80x24 and 160x48.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use drbook::exec::engine::{Control, Update};
use drbook::incident::{Event, EventKind};
use drbook::roles::Role;
use drbook::runbook::plan::StepKey;
use drbook::tui::app::{App, Dialog, Effect, Msg, Pane, Purpose};
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

fn log(app: &mut App, actor: &str, kind: EventKind) {
    let seq = app.state.last_seq + 1;
    app.update(Msg::Logged(Event {
        seq,
        ts: fixture::start() + chrono::Duration::seconds(700 + seq as i64),
        actor: actor.into(),
        kind,
        prev: String::new(),
        hash: String::new(),
    }));
}

fn role(app: &mut App, who: &str, role: Role) {
    log(
        app,
        who,
        EventKind::RoleTaken {
            operator: who.into(),
            role,
        },
    );
}

/// `STEP` asks for a commander's approval; `operator` runs it.
fn awaits_approval(app: &mut App, operator: &str) {
    log(
        app,
        "drbook",
        EventKind::ApprovalRequested {
            runbook: RB.into(),
            step: STEP.into(),
            operator: operator.into(),
            prompt: "PATCH /subscriptions/6f1c/resourceGroups/rg-shop-global/providers/Microsoft.Network/trafficmanagerprofiles/tm-shop/azureEndpoints/ep-westeurope?api-version=2022-04-01 with body {\"properties\":{\"endpointStatus\":\"Disabled\"}}".into(),
        },
    );
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

fn code(app: &mut App, k: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(k, KeyModifiers::NONE)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, c);
    }
}

/// Puts aside the questions that opened by themselves, then selects `STEP`.
fn select_step(app: &mut App) {
    while app.dialog.is_some() {
        code(app, KeyCode::Esc);
    }
    let key = StepKey::new(RB, STEP);
    app.select(&key);
    app.focus = Pane::Steps;
    assert_eq!(app.selected_key(), Some(key));
}

fn both_sizes(name: &str, setup: impl Fn(&mut App)) {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app();
        a.update(Msg::Resize(w, h));
        setup(&mut a);
        let screen = render(&mut a, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

fn approve(by: &str, role: Role, yes: bool, keyboard: Option<&str>) -> Vec<Effect> {
    vec![Effect::Control(Control::Approve {
        key: StepKey::new(RB, STEP),
        by: by.into(),
        role,
        yes,
        keyboard: keyboard.map(str::to_string),
    })]
}

#[test]
fn a_step_awaiting_approval_says_so_and_offers_the_key() {
    both_sizes("awaiting_approval", |a| {
        awaits_approval(a, "alice");
        select_step(a);
        assert_eq!(a.shown(&StepKey::new(RB, STEP)), Shown::AwaitsApproval);
    });
}

#[test]
fn a_commander_approves_someone_elses_step_in_a_dialog() {
    both_sizes("approve_dialog", |a| {
        role(a, "alice", Role::Commander);
        awaits_approval(a, "bob");
        select_step(a);
        key(a, 'v');
        assert!(matches!(
            &a.dialog,
            Some(Dialog::Approve { by, keyboard: None, operator, .. }) if by == "alice" && operator == "bob"
        ));
    });
    let mut a = app();
    role(&mut a, "alice", Role::Commander);
    awaits_approval(&mut a, "bob");
    // Put to the commander like a confirmation: it is among the questions waiting.
    assert!(a.prompts.contains(&StepKey::new(RB, STEP)));
    select_step(&mut a);
    key(&mut a, 'v');
    assert_eq!(
        key(&mut a, 'y'),
        approve("alice", Role::Commander, true, None)
    );
    assert!(a.dialog.is_none());
    // Declining is `n`, through Enter on the step.
    code(&mut a, KeyCode::Enter);
    assert_eq!(
        key(&mut a, 'n'),
        approve("alice", Role::Commander, false, None)
    );
}

#[test]
fn at_one_keyboard_a_second_person_gives_their_name() {
    both_sizes("approver_name", |a| {
        awaits_approval(a, "alice");
        select_step(a);
        code(a, KeyCode::Enter);
        typed(a, "bob");
    });
    both_sizes("approve_at_keyboard", |a| {
        role(a, "alice", Role::Commander);
        awaits_approval(a, "alice");
        select_step(a);
        key(a, 'v');
        typed(a, "bob");
        code(a, KeyCode::Enter);
    });
    let mut a = app();
    awaits_approval(&mut a, "alice");
    select_step(&mut a);
    key(&mut a, 'v');
    assert!(matches!(
        a.dialog,
        Some(Dialog::Input {
            purpose: Purpose::Approver(_),
            ..
        })
    ));
    // The operator cannot be the second person.
    typed(&mut a, "Alice");
    assert!(code(&mut a, KeyCode::Enter).is_empty());
    assert!(a.dialog.is_none());
    let m = a.message.clone().unwrap_or_default();
    assert!(m.contains("cannot approve it too"), "{m}");
    key(&mut a, 'v');
    typed(&mut a, "bob");
    code(&mut a, KeyCode::Enter);
    assert_eq!(
        key(&mut a, 'y'),
        approve("bob", Role::Commander, true, Some("alice"))
    );
    // Someone the log knows as an operator is named with that role (and the engine refuses).
    let mut a = app();
    role(&mut a, "olga", Role::Operator);
    awaits_approval(&mut a, "alice");
    select_step(&mut a);
    key(&mut a, 'v');
    typed(&mut a, "olga");
    code(&mut a, KeyCode::Enter);
    assert_eq!(
        key(&mut a, 'y'),
        approve("olga", Role::Operator, true, Some("alice"))
    );
}

#[test]
fn an_operator_cannot_approve_someone_elses_step() {
    let mut a = app();
    awaits_approval(&mut a, "bob");
    assert!(!a.prompts.contains(&StepKey::new(RB, STEP)));
    select_step(&mut a);
    assert!(!a.can_approve_here(&StepKey::new(RB, STEP)));
    assert!(key(&mut a, 'v').is_empty());
    assert!(a.dialog.is_none());
    let m = a.message.clone().unwrap_or_default();
    assert!(m.contains("cannot give it"), "{m}");
}

#[test]
fn the_engine_refusing_shows_why() {
    let mut a = app();
    a.update(Msg::Engine(Update::Refused {
        key: Some(StepKey::new(RB, STEP)),
        reason: "olga is an operator and cannot approve".into(),
    }));
    let m = a.message.clone().unwrap_or_default();
    assert!(m.starts_with("refused: olga is an operator"), "{m}");
}

#[test]
fn a_scribe_only_writes_notes() {
    both_sizes("scribe", |a| {
        role(a, "alice", Role::Scribe);
        awaits_approval(a, "bob");
        select_step(a);
    });
    let mut a = app();
    role(&mut a, "alice", Role::Scribe);
    assert!(a.prompts.is_empty(), "questions are not put to a scribe");
    assert!(a.dialog.is_none());
    select_step(&mut a);
    for c in ['a', 'y', 'r', 's', 'p', 'x', 'f', 'v'] {
        assert!(key(&mut a, c).is_empty(), "{c}");
        let m = a.message.clone().unwrap_or_default();
        assert!(m.contains("only writes notes"), "{c}: {m}");
        assert!(a.dialog.is_none(), "{c}");
    }
    code(&mut a, KeyCode::Enter);
    assert!(a.dialog.is_none());
    // `n` and `:` write a note.
    key(&mut a, 'n');
    typed(&mut a, "bridge call opened");
    assert_eq!(
        code(&mut a, KeyCode::Enter),
        vec![Effect::Control(Control::Note {
            key: Some(StepKey::new(RB, STEP)),
            text: "bridge call opened".into(),
            by: "alice".into(),
        })]
    );
}

#[test]
fn the_approver_shows_in_the_steps_and_the_timeline() {
    both_sizes("approved", |a| {
        awaits_approval(a, "alice");
        log(
            a,
            "bob",
            EventKind::Approved {
                runbook: RB.into(),
                step: STEP.into(),
                by: "bob".into(),
                role: Role::Commander,
                approved: true,
                keyboard: Some("alice".into()),
            },
        );
        select_step(a);
        assert_eq!(
            a.state
                .step(RB, STEP)
                .and_then(|s| s.approval_text())
                .as_deref(),
            Some("approved by bob (commander) at alice's keyboard")
        );
    });
}
