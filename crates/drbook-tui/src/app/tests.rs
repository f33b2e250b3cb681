//! The app's own tests: questions, dialogs and their keys.

use super::*;

fn app() -> App {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("runbooks");
    super::super::fixture::app(&dir, 0).expect("the fixture builds")
}

fn event(seq: u64, kind: EventKind) -> Event {
    Event {
        seq,
        ts: super::super::fixture::start() + chrono::Duration::seconds(800),
        actor: "drbook".into(),
        kind,
        prev: String::new(),
        hash: String::new(),
    }
}

fn ask(a: &mut App, runbook: &str, step: &str) {
    a.update(Msg::Logged(event(
        60,
        EventKind::ConfirmationRequested {
            runbook: runbook.into(),
            step: step.into(),
            prompt: "PATCH ...".into(),
        },
    )));
}

fn press(a: &mut App, action: Action) -> Vec<Effect> {
    let k = a
        .keys
        .bindings(action)
        .first()
        .copied()
        .expect("a default key");
    a.update(Msg::Key(KeyEvent::new(k.code, k.modifiers)))
}

/// Every dialog that takes keys, about the first step.
fn dialogs(a: &App) -> Vec<Dialog> {
    let key = a.board.runbooks[0].steps[0].key.clone();
    vec![
        Dialog::Help,
        Dialog::Summary,
        Dialog::Confirm {
            key: key.clone(),
            what: "PATCH ...".into(),
        },
        Dialog::Manual {
            key: key.clone(),
            note: None,
        },
        Dialog::Quit { busy: 1 },
        Dialog::Abort { key: key.clone() },
        Dialog::Takeover {
            key: key.clone(),
            holder: "bob".into(),
            since: super::super::fixture::start(),
        },
        Dialog::Unclaimed {
            key: key.clone(),
            problem: "the share is offline".into(),
        },
        Dialog::Approve {
            key,
            what: "PATCH ...".into(),
            operator: "bob".into(),
            by: "alice".into(),
            keyboard: None,
        },
    ]
}

#[test]
fn every_key_a_dialog_advertises_does_something() {
    let mut seen = 0;
    for d in dialogs(&app()) {
        let c = Component::of_dialog(&d).expect("a dialog that takes keys");
        for (action, hint) in c.hints() {
            let mut a = app();
            a.dialog = Some(d.clone());
            let effects = press(&mut a, action);
            assert!(
                !effects.is_empty() || a.dialog.as_ref() != Some(&d),
                "{c:?} advertises {action} ({hint}) but nothing happens"
            );
            seen += 1;
        }
    }
    assert!(seen >= 18, "{seen}");
}

#[test]
fn a_dialog_ignores_what_it_does_not_declare() {
    let mut a = app();
    let d = dialogs(&a).swap_remove(2);
    a.dialog = Some(d.clone());
    // Skip means something outside the dialog; a confirmation does not take it.
    assert!(press(&mut a, Action::Skip).is_empty());
    assert_eq!(a.dialog, Some(d));
}

#[test]
fn a_rebound_key_is_advertised_and_handled_by_its_new_key() {
    let mut a = app();
    a.keys = KeyMap::default()
        .with_overrides(&std::collections::BTreeMap::from([(
            Action::Yes,
            vec!["Y".to_string()],
        )]))
        .unwrap();
    let d = dialogs(&a).swap_remove(2);
    a.dialog = Some(d.clone());
    // The dialog's text as the view draws it, word for word (its keys line is the footer).
    let fr = dialog_text::dialog_frame(&a, &d, Rect::new(0, 0, 100, 30));
    let screen: String = fr
        .body
        .iter()
        .chain(&fr.footer)
        .flat_map(|l| &l.spans)
        .map(|s| s.content.as_ref())
        .collect();
    assert!(screen.contains(" Y  yes, do it"), "{screen}");
    assert!(!screen.contains(" y  yes, do it"));
    // The old key does nothing; the new one answers.
    assert!(
        a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('y'),
            KeyModifiers::NONE
        )))
        .is_empty()
    );
    assert_eq!(a.dialog, Some(d));
    assert!(
        !a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('Y'),
            KeyModifiers::NONE
        )))
        .is_empty()
    );
    assert_eq!(a.dialog, None);
}

#[test]
fn pane_and_list_filter_names_are_the_words_on_screen() {
    let panes: Vec<&str> = PANES.iter().map(|p| p.name()).collect();
    assert_eq!(panes, ["runbooks", "steps", "detail", "timeline"]);
    let mut f = ListFilter::All;
    let mut labels = Vec::new();
    for _ in 0..4 {
        labels.push(f.label());
        f = f.next();
    }
    assert_eq!(labels, ["all", "failed", "needs me", "running"]);
}

#[test]
fn questions_queue_in_order_and_never_open_by_themselves() {
    let mut a = app();
    let before = a.prompts.len();
    ask(&mut a, "network-failover", "tm-disable-primary");
    assert!(a.dialog.is_none());
    assert_eq!(a.prompts.len(), before + 1);
    assert_eq!(a.queued(), before + 1);
    assert_eq!(
        a.prompts.back(),
        Some(&StepKey::new("network-failover", "tm-disable-primary"))
    );
    // Asked twice (a resumed log) is still one question.
    ask(&mut a, "network-failover", "tm-disable-primary");
    assert_eq!(a.prompts.len(), before + 1);
    // Opening one leaves the others counted as waiting.
    press(&mut a, Action::Answer);
    assert!(a.dialog.is_some());
    assert_eq!(a.queued(), before);
}

#[test]
fn dismissing_requeues_last_and_answering_settles() {
    let mut a = app();
    ask(&mut a, "network-failover", "tm-disable-primary");
    let first = a.prompts.front().cloned().expect("a question waits");
    press(&mut a, Action::Answer);
    assert!(matches!(&a.dialog, Some(Dialog::Confirm { key, .. }) if *key == first));
    assert!(
        a.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)))
            .is_empty()
    );
    assert_eq!(a.prompts.back(), Some(&first));
    assert!(a.prompts.contains(&first), "dismissed, not answered");
    // The answer, once logged, takes it off the queue and closes its dialog.
    let tm = StepKey::new("network-failover", "tm-disable-primary");
    a.select(&tm);
    press(&mut a, Action::Run);
    assert!(matches!(&a.dialog, Some(Dialog::Confirm { key, .. }) if *key == tm));
    a.update(Msg::Logged(event(
        61,
        EventKind::Confirmed {
            runbook: tm.runbook.clone(),
            step: tm.step.clone(),
            approved: true,
            by: "alice".into(),
        },
    )));
    assert!(a.dialog.is_none());
    assert!(!a.prompts.contains(&tm));
}

#[test]
fn the_answer_key_in_a_question_moves_on_to_the_next() {
    let mut a = app();
    assert!(
        a.prompts.len() >= 2,
        "the fixture has two questions waiting"
    );
    press(&mut a, Action::Answer);
    let first = a.prompts.front().cloned();
    press(&mut a, Action::Answer);
    let open = match &a.dialog {
        Some(Dialog::Confirm { key, .. } | Dialog::Manual { key, .. }) => Some(key.clone()),
        _ => None,
    };
    assert!(open.is_some());
    assert_ne!(open, first, "the next question opened");
    assert_eq!(
        a.prompts.back().cloned(),
        first,
        "the first went back, last"
    );
}

#[test]
fn the_answer_key_with_nothing_waiting_says_so() {
    let mut a = app();
    a.prompts.clear();
    press(&mut a, Action::Answer);
    assert!(a.dialog.is_none());
    assert_eq!(a.message.as_deref(), Some("nothing waits for you"));
}
