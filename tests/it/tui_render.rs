//! Render tests: every screen and dialog of the TUI drawn with ratatui's `TestBackend` from a
//! fixed incident over the shipped runbooks, at 80x24 and 160x48, compared with insta
//! snapshots. Behaviour tests drive `App::update` with keys and check what it asks the engine.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use drbook::exec::engine::Control;
use drbook::exec::steps::Outcome;
use drbook::runbook::plan::StepKey;
use drbook::tui::app::{App, Dialog, Effect, Msg, Pane, Purpose};
use drbook::tui::fixture;
use drbook::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app() -> App {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    fixture::app(&dir, 0).expect("the fixture builds over the shipped runbooks")
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

/// Selects `runbook`/`step` the way an operator would: through the panes, with keys.
fn go_to(app: &mut App, runbook: &str, step: &str) {
    app.focus = Pane::Runbooks;
    code(app, KeyCode::Home);
    while app.selected_runbook().map(|r| r.id.as_str()) != Some(runbook) {
        let before = app.rb_sel;
        key(app, 'j');
        assert_ne!(before, app.rb_sel, "runbook {runbook} not found");
    }
    code(app, KeyCode::Tab);
    assert_eq!(app.focus, Pane::Steps);
    while app.selected_key().map(|k| k.step) != Some(step.to_string()) {
        let before = app.step_sel;
        key(app, 'j');
        assert_ne!(before, app.step_sel, "step {step} not found");
    }
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

#[test]
fn main_screen() {
    both_sizes("main", |_| {});
}

#[test]
fn main_screen_on_a_failed_step() {
    both_sizes("failed_step", |a| {
        go_to(a, "artifacts-continuity", "registry")
    });
}

#[test]
fn help_dialog() {
    both_sizes("help", |a| {
        key(a, '?');
    });
}

#[test]
fn confirm_dialog_shows_exactly_what_will_run() {
    both_sizes("confirm", |a| {
        go_to(a, "backlog-continuity", "incident-item");
        code(a, KeyCode::Enter);
        assert!(matches!(a.dialog, Some(Dialog::Confirm { .. })));
    });
}

#[test]
fn manual_step_dialog() {
    both_sizes("manual", |a| {
        go_to(a, "code-continuity", "communicate");
        code(a, KeyCode::Enter);
        assert!(matches!(a.dialog, Some(Dialog::Manual { .. })));
    });
}

#[test]
fn note_input() {
    both_sizes("note", |a| {
        go_to(a, "artifacts-continuity", "registry");
        key(a, ':');
        typed(a, "registry is back");
    });
}

#[test]
fn timeline_filter() {
    both_sizes("filter", |a| {
        key(a, '/');
        typed(a, "registry");
    });
}

#[test]
fn quit_dialog_while_steps_wait() {
    both_sizes("quit", |a| {
        let effects = key(a, 'q');
        assert!(
            effects.is_empty(),
            "two steps wait for an answer: q must ask first"
        );
    });
}

#[test]
fn abort_dialog() {
    both_sizes("abort", |a| {
        go_to(a, "artifacts-continuity", "registry");
        // Make the step run again so there is something to abort.
        a.update(Msg::Logged(drbook::incident::Event {
            seq: 99,
            ts: fixture::start() + chrono::Duration::seconds(700),
            actor: "drbook".into(),
            kind: drbook::incident::EventKind::StepStarted {
                runbook: "artifacts-continuity".into(),
                step: "registry".into(),
                title: None,
                attempt: 3,
            },
            prev: String::new(),
            hash: String::new(),
        }));
        // Questions wait in the queue: nothing opened over the screen.
        assert!(a.dialog.is_none());
        go_to(a, "artifacts-continuity", "registry");
        key(a, 'x');
        assert!(matches!(a.dialog, Some(Dialog::Abort { .. })));
    });
}

#[test]
fn yes_on_a_confirmation_approves_it_as_the_operator() {
    let mut a = app();
    go_to(&mut a, "backlog-continuity", "incident-item");
    code(&mut a, KeyCode::Enter);
    let effects = key(&mut a, 'y');
    assert_eq!(
        effects,
        vec![Effect::Control(Control::Answer {
            key: StepKey::new("backlog-continuity", "incident-item"),
            yes: true,
            by: "alice".into(),
        })]
    );
    assert!(a.dialog.is_none());
}

#[test]
fn n_declines_a_confirmation_but_writes_a_note_elsewhere() {
    let mut a = app();
    go_to(&mut a, "backlog-continuity", "incident-item");
    let effects = key(&mut a, 'n');
    assert_eq!(
        effects,
        vec![Effect::Control(Control::Answer {
            key: StepKey::new("backlog-continuity", "incident-item"),
            yes: false,
            by: "alice".into(),
        })]
    );
    go_to(&mut a, "code-continuity", "ado-status");
    assert!(key(&mut a, 'n').is_empty());
    assert!(matches!(
        a.dialog,
        Some(Dialog::Input {
            purpose: Purpose::Note(Some(_)),
            ..
        })
    ));
}

#[test]
fn a_manual_step_is_marked_done_with_its_note() {
    let mut a = app();
    go_to(&mut a, "code-continuity", "communicate");
    code(&mut a, KeyCode::Enter);
    key(&mut a, ':');
    typed(&mut a, "posted in #shop-engineering");
    code(&mut a, KeyCode::Enter);
    assert!(matches!(
        a.dialog,
        Some(Dialog::Manual { note: Some(_), .. })
    ));
    let effects = key(&mut a, 'y');
    assert_eq!(
        effects,
        vec![Effect::Control(Control::Manual {
            key: StepKey::new("code-continuity", "communicate"),
            outcome: Outcome::Ok,
            note: Some("posted in #shop-engineering".into()),
            by: "alice".into(),
        })]
    );
}

#[test]
fn skip_asks_why_and_retry_only_applies_to_failed_or_finished_checks() {
    let mut a = app();
    go_to(&mut a, "artifacts-continuity", "registry");
    assert_eq!(
        key(&mut a, 'r'),
        vec![Effect::Control(Control::Retry(StepKey::new(
            "artifacts-continuity",
            "registry"
        )))]
    );
    key(&mut a, 's');
    typed(&mut a, "registry owned by platform");
    let effects = code(&mut a, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Control(Control::Skip {
            key: StepKey::new("artifacts-continuity", "registry"),
            reason: "skipped by alice: registry owned by platform".into(),
            by: "alice".into(),
        })]
    );
    go_to(&mut a, "code-continuity", "ado-main");
    assert!(
        key(&mut a, 'r').is_empty(),
        "a skipped command is not re-run by r"
    );
    assert!(a.message.is_some());
}

#[test]
fn pause_toggles_and_run_all_ready_starts_what_can_start() {
    let mut a = app();
    assert_eq!(
        key(&mut a, 'p'),
        vec![Effect::Control(Control::Pause { by: "alice".into() })]
    );
    assert_eq!(
        key(&mut a, 'A'),
        vec![Effect::Control(Control::StartAllReady)]
    );
}

fn logged(a: &mut App, secs: i64, actor: &str, kind: drbook::incident::EventKind) -> Vec<Effect> {
    let seq = a.timeline.events.len() as u64 + 1;
    a.update(Msg::Logged(drbook::incident::Event {
        seq,
        ts: fixture::start() + chrono::Duration::seconds(secs),
        actor: actor.into(),
        kind,
        prev: String::new(),
        hash: String::new(),
    }))
}

fn note(text: &str, by: &str) -> Effect {
    Effect::Control(Control::Note {
        key: None,
        text: text.into(),
        by: by.into(),
    })
}

#[test]
fn the_autopilot_starts_what_becomes_ready_and_nothing_while_paused() {
    use drbook::incident::EventKind;
    let mut a = app();
    assert!(!a.ready.is_empty(), "the fixture has steps ready");
    assert_eq!(
        key(&mut a, 'a'),
        vec![
            note(
                "autopilot on: every step starts as it becomes ready",
                "alice"
            ),
            Effect::Control(Control::StartAllReady)
        ],
        "turned on: noted by the operator, then what is ready starts"
    );
    assert!(a.autopilot);
    // The engine starts one: the others were asked for already, so nothing is sent again.
    let first = a.ready[0].clone();
    let fx = logged(
        &mut a,
        800,
        "drbook",
        EventKind::StepStarted {
            runbook: first.runbook.clone(),
            step: first.step.clone(),
            title: None,
            attempt: 1,
        },
    );
    assert!(fx.is_empty(), "{fx:?}");
    // Paused: nothing starts, whatever happens.
    assert!(logged(&mut a, 801, "alice", EventKind::Paused { reason: None }).is_empty());
    let fx = logged(
        &mut a,
        802,
        "drbook",
        EventKind::StepSkipped {
            runbook: first.runbook.clone(),
            step: first.step.clone(),
            reason: "test".into(),
        },
    );
    assert!(fx.is_empty(), "paused, yet {fx:?}");
    // Resumed: what is ready is asked for again (a start sent during the pause was ignored).
    assert_eq!(
        logged(&mut a, 803, "alice", EventKind::Resumed {}),
        vec![Effect::Control(Control::StartAllReady)]
    );
    while a.dialog.is_some() {
        code(&mut a, KeyCode::Esc);
    }
    assert_eq!(key(&mut a, 'a'), vec![note("autopilot off", "alice")]);
    assert!(!a.autopilot);
    assert!(logged(&mut a, 804, "alice", EventKind::Resumed {}).is_empty());
    // On again while paused: the pause is lifted; its `Resumed` will start what is ready.
    logged(&mut a, 805, "alice", EventKind::Paused { reason: None });
    while a.dialog.is_some() {
        code(&mut a, KeyCode::Esc);
    }
    assert_eq!(
        key(&mut a, 'a'),
        vec![
            note(
                "autopilot on: every step starts as it becomes ready",
                "alice"
            ),
            Effect::Control(Control::Resume { by: "alice".into() })
        ]
    );
}

#[test]
fn the_next_action_line_names_the_oldest_question_and_the_next_breach() {
    use drbook::tui::app::Next;
    use drbook::tui::model::{Rollup, Shown};
    let mut a = app();
    let Next::Yours { what, more } = a.next_action() else {
        panic!("two questions wait: {:?}", a.next_action());
    };
    assert!(
        what.starts_with("confirm: ") && what.ends_with("(backlog-continuity)"),
        "{what}"
    );
    assert_eq!(more, 1);
    let c = a.counts();
    assert_eq!(c.waiting, 2);
    assert_eq!(c.ready, a.ready.len());
    // "Running" only where something runs: artifacts-continuity is under way, its registry
    // step failed and nothing of it runs.
    for rb in &a.board.runbooks {
        let r = a.board.rollup(rb, &a.state, &a.ready);
        let runs = rb.steps.iter().any(|s| a.shown(&s.key) == Shown::Running);
        assert_eq!(r == Rollup::Running, runs, "{}: {r:?}", rb.id);
    }
    let artifacts = a
        .board
        .runbooks
        .iter()
        .find(|r| r.id == "artifacts-continuity")
        .expect("in the fixture");
    assert_eq!(a.board.rollup(artifacts, &a.state, &a.ready), Rollup::Ready);
    let b = a.next_breach().expect("the fixture's runbooks have RTOs");
    let screen = render(&mut a, 160, 48);
    assert!(
        screen.contains(&format!("{} RTO breach in", b.who)),
        "{screen}"
    );
}

/// The next-action line and the status bar: the last two rows.
fn bottom(a: &mut App, w: u16, h: u16) -> String {
    let screen = render(a, w, h);
    let rows: Vec<&str> = screen.lines().collect();
    rows[rows.len().saturating_sub(2)..].join("\n")
}

#[test]
fn status_bar_and_next_line_show_the_autopilot_off_on_and_paused() {
    use drbook::incident::EventKind;
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app();
        insta::assert_snapshot!(format!("autopilot_off_{w}x{h}"), bottom(&mut a, w, h));
        key(&mut a, 'a');
        insta::assert_snapshot!(format!("autopilot_on_{w}x{h}"), bottom(&mut a, w, h));
        // A dialog open: the status bar still says the autopilot is on.
        go_to(&mut a, "backlog-continuity", "incident-item");
        code(&mut a, KeyCode::Enter);
        assert!(matches!(a.dialog, Some(Dialog::Confirm { .. })));
        let asking = bottom(&mut a, w, h);
        assert!(asking.contains("autopilot ON"), "{asking}");
        code(&mut a, KeyCode::Esc);
        logged(&mut a, 800, "alice", EventKind::Paused { reason: None });
        while a.dialog.is_some() {
            code(&mut a, KeyCode::Esc);
        }
        a.message = None;
        let paused = bottom(&mut a, w, h);
        assert!(!paused.contains("autopilot ON"), "{paused}");
        insta::assert_snapshot!(format!("autopilot_paused_{w}x{h}"), paused);
    }
}

#[test]
fn the_autopilot_key_shown_is_the_live_one() {
    use drbook::tui::keys::{Action, KeyMap};
    let mut a = app();
    a.keys = KeyMap::default()
        .with_overrides(&std::collections::BTreeMap::from([(
            Action::Autopilot,
            vec!["ctrl-a".to_string()],
        )]))
        .expect("a free key");
    let off = bottom(&mut a, 160, 48);
    assert!(off.contains("ctrl-a autopilot"), "{off}");
    assert!(!off.contains(" a autopilot"), "{off}");
    assert!(key(&mut a, 'a').is_empty(), "a is no longer the autopilot");
    a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('a'),
        KeyModifiers::CONTROL,
    )));
    assert!(a.autopilot);
    let on = bottom(&mut a, 160, 48);
    assert!(
        on.contains("autopilot ON") && on.contains("ctrl-a stop"),
        "{on}"
    );
}

fn asked(a: &mut App, runbook: &str, step: &str, prompt: &str) {
    a.update(Msg::Logged(drbook::incident::Event {
        seq: 50,
        ts: fixture::start() + chrono::Duration::seconds(760),
        actor: "drbook".into(),
        kind: drbook::incident::EventKind::ConfirmationRequested {
            runbook: runbook.into(),
            step: step.into(),
            prompt: prompt.into(),
        },
        prev: String::new(),
        hash: String::new(),
    }));
}

fn open_key(a: &App) -> Option<StepKey> {
    match &a.dialog {
        Some(Dialog::Confirm { key, .. } | Dialog::Manual { key, .. }) => Some(key.clone()),
        _ => None,
    }
}

#[test]
fn a_new_confirmation_waits_in_the_queue_and_opens_on_the_answer_key() {
    let mut a = app();
    go_to(&mut a, "artifacts-continuity", "registry");
    asked(
        &mut a,
        "code-continuity",
        "push-to-github",
        "RUN git push --mirror",
    );
    // Nothing pops up over what the operator reads, and the selection stays.
    assert!(a.dialog.is_none());
    assert_eq!(
        a.selected_key(),
        Some(StepKey::new("artifacts-continuity", "registry"))
    );
    let screen = render(&mut a, 80, 24);
    assert!(screen.contains("3 waiting: press w to answer"), "{screen}");
    // The oldest first; Esc sends it back to the end of the queue, unanswered.
    assert!(key(&mut a, 'w').is_empty());
    let first = open_key(&a).expect("w opens the oldest question");
    assert_eq!(first.runbook, "backlog-continuity");
    assert!(code(&mut a, KeyCode::Esc).is_empty(), "Esc answers nothing");
    assert!(a.dialog.is_none());
    assert_eq!(
        a.prompts.back(),
        Some(&first),
        "put aside: last in the queue"
    );
    assert_eq!(a.prompts.len(), 3);
    key(&mut a, 'w');
    assert_ne!(open_key(&a), Some(first.clone()), "the next one opens");
    code(&mut a, KeyCode::Esc);
    key(&mut a, 'w');
    assert_eq!(
        open_key(&a),
        Some(StepKey::new("code-continuity", "push-to-github"))
    );
    code(&mut a, KeyCode::Esc);
    // A question asked while the operator reads a dialog waits behind it.
    key(&mut a, '?');
    asked(
        &mut a,
        "network-failover",
        "tm-disable-primary",
        "PATCH ...",
    );
    assert_eq!(a.dialog, Some(Dialog::Help));
    assert_eq!(a.prompts.len(), 4);
    code(&mut a, KeyCode::Esc);
    go_to(&mut a, "code-continuity", "push-to-github");
    code(&mut a, KeyCode::Enter);
    assert!(
        matches!(a.dialog, Some(Dialog::Confirm { ref what, .. }) if what == "RUN git push --mirror")
    );
}

#[test]
fn the_mouse_selects_what_it_clicks_and_scrolls_what_it_is_over() {
    let mut a = app();
    a.update(Msg::Resize(80, 24));
    let areas = drbook::tui::layout::areas(ratatui::layout::Rect::new(0, 0, 80, 24));
    // The third runbook row (inside the border).
    a.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: areas.runbooks.x + 3,
        row: areas.runbooks.y + 3,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.rb_sel, 2);
    assert_eq!(a.focus, Pane::Runbooks);
    a.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: areas.timeline.x + 5,
        row: areas.timeline.y + 2,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.timeline_back, 3);
    assert_eq!(a.focus, Pane::Runbooks, "scrolling does not move the focus");
}

#[test]
fn status_is_never_told_by_colour_alone() {
    let mut a = app();
    a.theme = drbook::tui::theme::Theme::no_color();
    let mut screen = render(&mut a, 80, 24);
    go_to(&mut a, "artifacts-continuity", "registry");
    screen.push_str(&render(&mut a, 80, 24));
    for word in ["✘", "failed", "✔", "done", "?", "needs you"] {
        assert!(screen.contains(word), "`{word}` missing from\n{screen}");
    }
}

#[test]
fn secrets_never_reach_the_screen() {
    let mut a = app();
    for (rb, st) in [
        ("code-continuity", "ado-main"),
        ("backlog-continuity", "export-open-items"),
    ] {
        go_to(&mut a, rb, st);
        let screen = render(&mut a, 160, 48);
        assert!(!screen.contains("fixture-ado_pat-secret"), "{screen}");
        assert!(!screen.contains("fixture-github_token-secret"), "{screen}");
    }
}

#[test]
fn a_long_confirmation_never_hides_its_keys() {
    let mut a = app();
    let long = format!(
        "PATCH /subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg-shop-global/providers/Microsoft.Network/trafficmanagerprofiles/tm-shop/azureEndpoints/ep-westeurope?api-version=2022-04-01 with body {}",
        "{\"properties\":{\"endpointStatus\":\"Disabled\"}} ".repeat(6)
    );
    asked(&mut a, "network-failover", "tm-disable-primary", &long);
    go_to(&mut a, "network-failover", "tm-disable-primary");
    code(&mut a, KeyCode::Enter);
    assert!(
        matches!(&a.dialog, Some(Dialog::Confirm { key, .. }) if key.step == "tm-disable-primary")
    );
    let screen = render(&mut a, 80, 24);
    assert!(screen.contains("yes, do it"), "{screen}");
    assert!(screen.contains("no, skip it"), "{screen}");
}

fn review() -> App {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    fixture::review_app(&dir).expect("the review fixture builds")
}

#[test]
fn review_screen_and_summary() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = review();
        let screen = render(&mut a, w, h);
        insta::assert_snapshot!(format!("review_{w}x{h}"), screen);
        key(&mut a, 'i');
        assert_eq!(a.dialog, Some(Dialog::Summary));
        let screen = render(&mut a, w, h);
        insta::assert_snapshot!(format!("review_summary_{w}x{h}"), screen);
    }
}

#[test]
fn review_moves_through_time_and_changes_nothing() {
    let mut a = review();
    let total = a.timeline.events.len();
    assert_eq!(a.replay.as_ref().map(|r| r.at), Some(total));
    let registry = StepKey::new("artifacts-continuity", "registry");
    assert_eq!(a.shown(&registry), drbook::tui::model::Shown::Failed);
    // Back before the registry read failed: it was running then.
    for _ in 0..4 {
        code(&mut a, KeyCode::Left);
    }
    assert_eq!(a.replay.as_ref().map(|r| r.at), Some(total - 4));
    assert_eq!(a.timeline.len(), total - 4);
    assert_eq!(a.shown(&registry), drbook::tui::model::Shown::Running);
    // A minute back goes past several events at once; forward comes back.
    key(&mut a, '{');
    let at = a.replay.as_ref().map_or(0, |r| r.at);
    assert!(at < total - 4, "{at}");
    for _ in 0..total {
        key(&mut a, ']');
    }
    assert_eq!(a.replay.as_ref().map(|r| r.at), Some(total));
    assert_eq!(a.shown(&registry), drbook::tui::model::Shown::Failed);
    // Nothing can be changed from here.
    for c in ['a', 'p', 's', 'r', 'y', ':'] {
        assert!(key(&mut a, c).is_empty(), "`{c}` in a review");
    }
    assert!(a.dialog.is_none());
}

/// The header quotes the log's head as last written: each event on disk moves it, so what
/// the operator reads off the screen for the ticket pins the log up to there.
#[test]
fn the_header_shows_the_head_of_the_log_as_it_grows() {
    let mut a = app();
    let last = a.timeline.events.last().expect("events").clone();
    let before = format!("log #{} {}", last.seq, &last.hash[..8]);
    assert!(render(&mut a, 80, 24).contains(&before), "{before}");
    let hash = "c0ffee".repeat(10) + "abcd";
    a.update(Msg::Logged(drbook::incident::Event {
        seq: last.seq + 1,
        ts: last.ts,
        actor: "alice".into(),
        kind: drbook::incident::EventKind::Note {
            runbook: None,
            step: None,
            text: "still here".into(),
        },
        prev: last.hash.clone(),
        hash,
    }));
    let screen = render(&mut a, 80, 24);
    assert!(
        screen.contains(&format!("log #{} c0ffeec0", last.seq + 1)),
        "{screen}"
    );
    assert!(!screen.contains(&before), "{screen}");
}

/// A review checks the log's head against the shared timeline: a log cut short after it was
/// shared says so in the header and the summary, and is not trusted.
#[test]
fn review_says_a_log_cut_short_after_it_was_shared_is_truncated() {
    use drbook::incident::{EventKind, Header, IncidentLog, Redactor, read_log};
    use drbook::share::record::Record;
    let tmp = tempfile::tempdir().expect("tmp");
    let header: Header = serde_json::from_str(
        r#"{"incident_id":"anchor","title":"anchored","mode":"live","drbook_version":"0.1.0","target":"none"}"#,
    )
    .expect("header");
    let mut log = IncidentLog::create(tmp.path(), header, Redactor::default()).expect("log");
    for i in 0..6 {
        let text = format!("note {i}");
        log.append(
            "alice",
            EventKind::Note {
                runbook: None,
                step: None,
                text,
            },
        )
        .expect("append");
    }
    let path = log.path().to_path_buf();
    drop(log);
    let (events, _) = read_log(&path).expect("read");
    let sid = drbook::share::writer_id(&events);
    let shared: Vec<u8> = events
        .iter()
        .filter_map(|e| Record::of_event(&sid, "alice", "operator", e))
        .flat_map(|r| r.line())
        .collect();
    let text = std::fs::read_to_string(&path).expect("log");
    let kept: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, kept).expect("cut");
    let ui = || drbook::tui::runner::UiSetup {
        theme: drbook::tui::theme::Theme::builtin("dark").expect("theme"),
        keys: drbook::tui::keys::KeyMap::default(),
        operator: None,
        resume_cmd: String::new(),
    };
    let mut app = drbook::tui::review::open(&path, ui(), Some(&shared)).expect("opens");
    let replay = app.replay.clone().expect("a review");
    assert!(!replay.trusted && !replay.intact, "{replay:?}");
    assert_eq!(replay.verdict, "TRUNCATED: the share holds events up to #7");
    let screen = render(&mut app, 160, 48);
    assert!(
        screen.contains("TRUNCATED: the share holds events up to #7"),
        "{screen}"
    );
    assert!(screen.contains("log #4 "), "{screen}");
    // Without the share, the cut log's own chain holds.
    let app = drbook::tui::review::open(&path, ui(), None).expect("opens");
    assert!(app.replay.expect("a review").intact);
}

/// The manual step with the longest instructions among the shipped runbooks, as filled in.
fn longest_manual(a: &App) -> (StepKey, String) {
    a.board
        .runbooks
        .iter()
        .flat_map(|r| &r.steps)
        .filter(|s| s.kind == drbook::runbook::model::StepKind::Manual)
        .filter_map(|s| {
            a.board
                .instructions(&s.key, &a.state)
                .map(|i| (s.key.clone(), i))
        })
        .max_by_key(|(_, i)| i.len())
        .expect("the shipped runbooks have manual steps")
}

/// Every screen of a dialog, from its top to where scrolling down stops.
fn dialog_pages(a: &mut App) -> Vec<String> {
    let mut pages = vec![render(a, 80, 24)];
    for _ in 0..200 {
        key(a, 'j');
        let page = render(a, 80, 24);
        if pages.last() == Some(&page) {
            break;
        }
        pages.push(page);
    }
    pages
}

#[test]
fn at_80x24_the_longest_dialog_scrolls_to_its_last_line() {
    let mut a = app();
    let (step, text) = longest_manual(&a);
    a.dialog = Some(Dialog::Manual {
        key: step.clone(),
        note: None,
    });
    let top = render(&mut a, 80, 24);
    assert!(
        top.contains("more ↓"),
        "{step} does not fit: says so\n{top}"
    );
    assert!(top.contains("done"), "the keys line stays\n{top}");
    let pages = dialog_pages(&mut a);
    let end = pages.last().cloned().unwrap_or_default();
    assert!(!end.contains("more ↓"), "{end}");
    assert!(end.contains("done"), "the keys line stays\n{end}");
    // The last words of the text are on the last page, and every word was on some page.
    let last: Vec<&str> = text.split_whitespace().rev().take(3).collect();
    for w in &last {
        assert!(
            end.contains(w),
            "`{w}` missing at the end of {step}:\n{end}"
        );
    }
    let all = pages.concat();
    for w in text.split_whitespace().filter(|w| w.chars().count() < 40) {
        assert!(all.contains(w), "`{w}` of {step} never shown");
    }
    // G goes to the end at once; g back to the top.
    a.dialog_scroll = 0;
    key(&mut a, 'G');
    assert_eq!(render(&mut a, 80, 24), end);
    key(&mut a, 'g');
    assert_eq!(render(&mut a, 80, 24), top);
    insta::assert_snapshot!("longest_dialog_end_80x24", end);
}

#[test]
fn the_seeding_stop_is_never_cut_off_at_80x24() {
    let mut a = app();
    let step = StepKey::new("data-sql-failover", "decide-failover");
    a.dialog = Some(Dialog::Manual {
        key: step.clone(),
        note: None,
    });
    let pages = dialog_pages(&mut a).concat();
    assert!(pages.contains("`SEEDING`, STOP"), "{pages}");
    assert!(pages.contains("Mark this step done to continue"), "{pages}");
}

#[test]
fn zoom_and_number_keys_drive_the_panes() {
    let mut a = app();
    key(&mut a, '4');
    assert_eq!(a.focus, Pane::Timeline);
    key(&mut a, 'z');
    let zoomed = render(&mut a, 80, 24);
    assert!(
        zoomed.contains("Timeline · 21 events · z unzooms"),
        "{zoomed}"
    );
    assert!(!zoomed.contains("Runbooks"), "{zoomed}");
    // The zoomed timeline shows more of the log than its six rows.
    assert!(zoomed.contains("03:00:20"), "{zoomed}");
    insta::assert_snapshot!("zoom_timeline_80x24", zoomed);
    // A number moves the zoom to that pane; z shows every pane again.
    key(&mut a, '3');
    let detail = render(&mut a, 80, 24);
    assert!(detail.contains("Detail · z unzooms"), "{detail}");
    key(&mut a, 'z');
    let all = render(&mut a, 80, 24);
    assert!(
        all.contains("Runbooks") && all.contains("Timeline"),
        "{all}"
    );
    key(&mut a, '1');
    assert_eq!(a.focus, Pane::Runbooks);
    key(&mut a, '2');
    assert_eq!(a.focus, Pane::Steps);
}

#[test]
fn copy_puts_the_steps_resource_id_or_command_on_the_clipboard() {
    let mut a = app();
    go_to(&mut a, "network-failover", "tm-disable-primary");
    let effects = key(&mut a, 'c');
    let [Effect::Clipboard(text)] = effects.as_slice() else {
        panic!("one clipboard write: {effects:?}");
    };
    assert!(text.starts_with("/subscriptions/"), "{text}");
    assert!(text.contains("/azureEndpoints/"), "{text}");
    let screen = render(&mut a, 160, 48);
    assert!(
        screen.contains("copied resource id of network-failover/tm-disable-primary"),
        "{screen}"
    );
    // A command's argv, with every secret masked as on the screen.
    go_to(&mut a, "code-continuity", "ado-main");
    let effects = key(&mut a, 'c');
    let [Effect::Clipboard(cmd)] = effects.as_slice() else {
        panic!("one clipboard write: {effects:?}");
    };
    assert!(cmd.starts_with("az "), "{cmd}");
    assert!(!cmd.contains("fixture-ado_pat-secret"), "{cmd}");
    // A manual step has nothing to copy, and says so.
    go_to(&mut a, "code-continuity", "communicate");
    assert!(key(&mut a, 'c').is_empty());
    assert!(
        a.message.as_deref().unwrap_or("").contains("nothing")
            || a.message.as_deref().unwrap_or("").contains("no resource")
    );
}

#[test]
fn list_filters_show_failed_needs_me_and_running_in_the_title() {
    let mut a = app();
    key(&mut a, '1');
    key(&mut a, 'F');
    let failed = render(&mut a, 80, 24);
    // No runbook of the fixture has failed as a whole: the list says so, and how to go on.
    assert!(failed.contains("Runbooks · failed"), "{failed}");
    assert!(failed.contains("none failed: F shows"), "{failed}");
    assert!(!failed.contains("? backlog-co… needs"), "{failed}");
    key(&mut a, 'F');
    let needs = render(&mut a, 80, 24);
    assert!(needs.contains("Runbooks · needs me"), "{needs}");
    assert!(
        needs.contains("backlog-co") && needs.contains("code-conti"),
        "{needs}"
    );
    assert!(!needs.contains("▶ artifacts-co… running"), "{needs}");
    insta::assert_snapshot!("runbooks_needs_me_80x24", needs);
    // Moving goes over the rows shown only.
    key(&mut a, 'j');
    assert_eq!(
        a.selected_runbook().map(|r| r.id.as_str()),
        Some("code-continuity")
    );
    key(&mut a, 'F');
    let running = render(&mut a, 80, 24);
    assert!(running.contains("Runbooks · running"), "{running}");
    // Nothing of the fixture runs (the registry step failed): the list says so.
    assert!(running.contains("none running: F shows"), "{running}");
    assert!(!running.contains("? backlog-co… needs"), "{running}");
    key(&mut a, 'F');
    assert!(render(&mut a, 80, 24).contains("┏ ▸ Runbooks ━"));
    // Steps: the failed one of artifacts-continuity; the one waiting for a person in backlog.
    go_to(&mut a, "artifacts-continuity", "registry");
    key(&mut a, 'F');
    let steps = render(&mut a, 160, 48);
    assert!(steps.contains("failed steps · "), "{steps}");
    assert_eq!(a.visible_steps(), vec![a.step_sel]);
    // The steps filter stays on from one runbook to the next: failed, then needs me.
    go_to(&mut a, "backlog-continuity", "boards-status");
    key(&mut a, 'F');
    let steps = render(&mut a, 80, 24);
    assert!(steps.contains("needs me steps · "), "{steps}");
    assert!(steps.contains("3. Create the incident"), "{steps}");
    assert!(!steps.contains("1. Azure DevOps status"), "{steps}");
    assert_eq!(
        a.selected_key().map(|k| k.step),
        Some("incident-item".into())
    );
    key(&mut a, 'F');
    let none = render(&mut a, 80, 24);
    assert!(
        none.contains("none running: F shows the next filter"),
        "{none}"
    );
}

#[test]
fn hints_and_messages_name_the_keys_the_config_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[keys]\nrun = [\"space\"]\nrecheck = [\"R\"]\nskip = [\"S\"]\nanswer = [\"W\"]\nyes = [\"Y\"]\nhelp = [\"h\"]\n",
    )
    .expect("config written");
    let config = drbook::cli::config::load(&path).expect("the config loads");
    let mut a = app();
    a.keys = config.keymap().expect("the keys bind");
    go_to(&mut a, "artifacts-continuity", "registry");
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("2 waiting: press W to answer"), "{screen}");
    assert!(screen.contains(" R retry  S skip  h help"), "{screen}");
    assert!(!screen.contains(" r retry"), "{screen}");
    // The run key on a failed step: the message names the keys that help.
    code(&mut a, KeyCode::Char(' '));
    let screen = render(&mut a, 160, 48);
    assert!(
        screen.contains("this step failed: R runs it again, S skips it"),
        "{screen}"
    );
    go_to(&mut a, "backlog-continuity", "offline-tracking");
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains(" space run"), "{screen}");
    assert!(!screen.contains(" enter run"), "{screen}");
    code(&mut a, KeyCode::Home);
    go_to(&mut a, "backlog-continuity", "boards-status");
    code(&mut a, KeyCode::Down);
    code(&mut a, KeyCode::Down);
    code(&mut a, KeyCode::Char(' '));
    let screen = render(&mut a, 80, 24);
    assert!(screen.contains(" Y  yes, do it"), "{screen}");
    assert!(!screen.contains(" y  yes"), "{screen}");
}

#[test]
fn help_lists_the_keys_of_the_pane_or_dialog_first() {
    let mut a = app();
    key(&mut a, '4');
    key(&mut a, '?');
    let help = render(&mut a, 80, 24);
    assert!(help.contains("Keys in the timeline pane"), "{help}");
    code(&mut a, KeyCode::Esc);
    // Over a confirmation: its keys, then Esc brings the confirmation back.
    go_to(&mut a, "backlog-continuity", "incident-item");
    code(&mut a, KeyCode::Enter);
    let asked = a.dialog.clone();
    assert!(matches!(asked, Some(Dialog::Confirm { .. })));
    key(&mut a, '?');
    let help = render(&mut a, 80, 24);
    assert!(help.contains("Keys in this confirmation"), "{help}");
    let first_keys: Vec<&str> = help.lines().skip(1).take(6).collect();
    assert!(
        first_keys.iter().any(|l| l.contains("answer yes")),
        "{help}"
    );
    code(&mut a, KeyCode::Esc);
    assert_eq!(a.dialog, asked);
}

#[test]
fn a_terminal_too_small_says_so() {
    let mut a = app();
    let screen = render(&mut a, 60, 20);
    assert!(
        screen.contains("terminal too small: 60x20, need 80x24"),
        "{screen}"
    );
    assert!(!screen.contains("Runbooks"), "{screen}");
}

/// A runbook that went to its end with a failed step it goes on from
/// (`on_failure = "continue"`) is finished but not recovered: its row never shows ✔.
#[test]
fn a_runbook_done_with_a_failed_step_is_not_ticked() {
    let mut a = app();
    let rb = "backlog-continuity";
    let steps: Vec<String> = a
        .board
        .runbooks
        .iter()
        .find(|r| r.id == rb)
        .expect("backlog in the plan")
        .steps
        .iter()
        .map(|s| s.key.step.clone())
        .collect();
    let mut seq = a.state.last_seq;
    let mut log = |a: &mut App, kind: drbook::incident::EventKind| {
        seq += 1;
        a.update(Msg::Logged(drbook::incident::Event {
            seq,
            ts: fixture::start() + chrono::Duration::seconds(760),
            actor: "drbook".into(),
            kind,
            prev: String::new(),
            hash: String::new(),
        }));
    };
    for (i, step) in steps.iter().enumerate() {
        let kind = if i == 0 {
            // boards-status: `on_failure = "continue"`.
            drbook::incident::EventKind::StepFinished {
                runbook: rb.into(),
                step: step.clone(),
                outcome: drbook::incident::Outcome::Failed,
                duration_ms: 10,
                outputs: Default::default(),
                error: Some("HTTP 503".into()),
            }
        } else {
            drbook::incident::EventKind::StepSkipped {
                runbook: rb.into(),
                step: step.clone(),
                reason: "not needed".into(),
            }
        };
        log(&mut a, kind);
    }
    let screen = render(&mut a, 160, 48);
    let row = screen
        .lines()
        // The name may be cut short to leave room for its state.
        .find(|l| l.contains("backlog-continu") && l.contains("done"))
        .unwrap_or_else(|| panic!("no finished row for {rb}: {screen}"));
    // The runbooks pane only (the steps pane beside it is another runbook's).
    let row = row.split("││").next().unwrap_or(row);
    assert!(!row.contains('✔') && row.contains('✘'), "{row}");
}

/// An assessment that found the primary down: `◆ finding` in the step list, the timeline and
/// the detail pane, in the neutral colour, never `✘`.
fn with_a_finding(a: &mut App) {
    use drbook::incident::{Event, EventKind, event::Verdict};
    let at = |s: i64| fixture::start() + chrono::Duration::seconds(s);
    let (rb, st) = ("web-failover", "primary-health");
    let events = [
        EventKind::StepStarted {
            runbook: rb.into(),
            step: st.into(),
            title: None,
            attempt: 1,
        },
        EventKind::CheckResult {
            runbook: rb.into(),
            step: st.into(),
            expected: "properties.availabilityState = Available".into(),
            actual: "Unavailable".into(),
            verdict: Verdict::Finding,
            source: "resource-health".into(),
            latency_ms: 40,
        },
        EventKind::StepFinished {
            runbook: rb.into(),
            step: st.into(),
            outcome: drbook::incident::Outcome::Finding,
            duration_ms: 120,
            outputs: [
                ("finding".to_string(), "down".to_string()),
                ("outcome".to_string(), "ok".to_string()),
                (
                    "summary".to_string(),
                    "finding: down: expected properties.availabilityState = Available, actual Unavailable".to_string(),
                ),
            ]
            .into_iter()
            .collect(),
            error: None,
        },
    ];
    for (i, kind) in events.into_iter().enumerate() {
        a.update(Msg::Logged(Event {
            seq: 60 + i as u64,
            ts: at(740 + i as i64),
            actor: "drbook".into(),
            kind,
            prev: String::new(),
            hash: String::new(),
        }));
    }
    a.dialog = None;
    go_to(a, rb, st);
}

#[test]
fn a_finding_is_shown_neutrally_in_the_steps_and_the_detail() {
    both_sizes("finding", with_a_finding);
    let mut a = app();
    with_a_finding(&mut a);
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("◆ finding"), "{screen}");
    assert!(
        screen.contains("finding: down (what the assessment found, not a failure)"),
        "{screen}"
    );
    assert!(!screen.contains("✘ failed"), "{screen}");
    assert!(!screen.contains("primary-health check FAIL"), "{screen}");
    let finding = a.theme.finding;
    assert_ne!(finding, a.theme.fail);
    assert_ne!(finding, a.theme.ok);
    // A finding is settled, and can be assessed again.
    assert_eq!(
        key(&mut a, 'r'),
        vec![Effect::Control(Control::Retry(StepKey::new(
            "web-failover",
            "primary-health"
        )))]
    );
}

/// Settles every step not settled yet (skipped), with the autopilot on; `fix_failed` first
/// runs the fixture's failed step again, successfully. Returns every effect asked for.
fn settle_all(a: &mut App, fix_failed: bool) -> Vec<Effect> {
    use drbook::incident::EventKind;
    use drbook::tui::model::Shown;
    let mut fx = key(a, 'a');
    let mut t = 900;
    let steps: Vec<StepKey> = a
        .board
        .runbooks
        .iter()
        .flat_map(|r| &r.steps)
        .map(|s| s.key.clone())
        .collect();
    for k in steps {
        t += 1;
        let (runbook, step) = (k.runbook.clone(), k.step.clone());
        match a.shown(&k) {
            Shown::Done | Shown::Skipped => {}
            Shown::Failed if !fix_failed => {}
            Shown::Failed => {
                fx.extend(logged(
                    a,
                    t,
                    "drbook",
                    EventKind::Retry {
                        runbook: runbook.clone(),
                        step: step.clone(),
                        attempt: 2,
                        reason: "retried by the operator".into(),
                        delay_ms: 0,
                    },
                ));
                fx.extend(logged(
                    a,
                    t,
                    "drbook",
                    EventKind::StepFinished {
                        runbook,
                        step,
                        outcome: drbook::incident::Outcome::Ok,
                        duration_ms: 100,
                        outputs: Default::default(),
                        error: None,
                    },
                ));
            }
            _ => fx.extend(logged(
                a,
                t,
                "alice",
                EventKind::StepSkipped {
                    runbook,
                    step,
                    reason: "test".into(),
                },
            )),
        }
    }
    fx
}

#[test]
fn the_autopilot_stops_by_itself_at_the_end_and_the_screen_gives_the_verdict() {
    use drbook::tui::app::Next;
    for (fix_failed, recovered) in [(false, false), (true, true)] {
        let mut a = app();
        let fx = settle_all(&mut a, fix_failed);
        assert!(a.plan_over());
        assert!(!a.autopilot, "it stopped by itself");
        assert_eq!(
            fx.last(),
            Some(&note("autopilot off: nothing left to run", "drbook")),
            "drbook says it stopped it"
        );
        let Next::Over {
            recovered: r,
            verdict,
        } = a.next_action()
        else {
            panic!("the plan is over: {:?}", a.next_action());
        };
        assert_eq!(r, recovered, "{verdict}");
        let screen = render(&mut a, 80, 24);
        if recovered {
            assert!(verdict.starts_with("RECOVERED"), "{verdict}");
            assert!(screen.contains("■ RECOVERED"), "{screen}");
        } else {
            // The fixture's failed registry step: never a recovery.
            assert_eq!(verdict, "NOT RECOVERED: 1 runbook failed");
            assert!(
                screen.contains("■ NOT RECOVERED: 1 runbook failed"),
                "{screen}"
            );
        }
        assert!(!screen.contains("autopilot ON"), "{screen}");
        assert!(!screen.contains("RTO breach"), "{screen}");
    }
}

#[test]
fn the_autopilot_is_off_once_the_log_fails() {
    use drbook::exec::engine::Update;
    let mut a = app();
    key(&mut a, 'a');
    assert!(a.autopilot);
    a.update(Msg::Engine(Update::LogFailed("disk full".into())));
    assert!(!a.autopilot, "nothing is carried out any more");
    assert!(!bottom(&mut a, 160, 48).contains("autopilot ON"));
}

/// `O` asks when the outage began, and the answer goes to the engine to be logged, with who
/// said it; a time in the future is refused with a message, nothing sent.
#[test]
fn the_outage_start_key_sets_the_start_and_refuses_the_future() {
    let mut a = app();
    key(&mut a, 'O');
    assert!(matches!(
        a.dialog,
        Some(Dialog::Input {
            purpose: Purpose::OutageStart,
            ..
        })
    ));
    typed(&mut a, "30m ago");
    let effects = code(&mut a, KeyCode::Enter);
    let want = a.now - chrono::Duration::minutes(30);
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Control(Control::SetOutageStart { at, previous: None, by })
                if *at == want && by == "alice"
        )),
        "{effects:?}"
    );
    key(&mut a, 'O');
    typed(&mut a, "2999-01-01T00:00:00Z");
    let effects = code(&mut a, KeyCode::Enter);
    assert!(effects.is_empty(), "{effects:?}");
    assert!(
        a.message
            .as_deref()
            .is_some_and(|m| m.contains("in the future")),
        "{:?}",
        a.message
    );
}

/// Correcting the outage start: the field opens empty (what is typed never runs on from the
/// time logged before), and the prompt says the current value.
#[test]
fn correcting_the_outage_start_opens_an_empty_field_and_shows_the_current_one() {
    let mut a = app();
    a.update(Msg::Logged(drbook::incident::Event {
        seq: 99,
        ts: fixture::start() + chrono::Duration::seconds(700),
        actor: "alice".into(),
        kind: drbook::incident::EventKind::OutageStart {
            at: fixture::start() - chrono::Duration::minutes(30),
            previous: None,
        },
        prev: String::new(),
        hash: String::new(),
    }));
    key(&mut a, 'O');
    assert!(
        matches!(&a.dialog, Some(Dialog::Input { purpose: Purpose::OutageStart, text }) if text.is_empty()),
        "{:?}",
        a.dialog
    );
    let screen = render(&mut a, 160, 48);
    let was = (fixture::start() - chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%M:%SZ");
    assert!(screen.contains(&format!("Now {was}")), "{screen}");
}

/// With the outage start logged 30 minutes before the incident, the header's clock counts
/// from it and says so, with the tightest RTO, the worst-case finish and the wait left.
#[test]
fn header_counts_from_the_outage_start() {
    both_sizes("outage_since", |a| {
        a.update(Msg::Logged(drbook::incident::Event {
            seq: 99,
            ts: fixture::start() + chrono::Duration::seconds(700),
            actor: "alice".into(),
            kind: drbook::incident::EventKind::OutageStart {
                at: fixture::start() - chrono::Duration::minutes(30),
                previous: None,
            },
            prev: String::new(),
            hash: String::new(),
        }));
        while a.dialog.is_some() {
            code(a, KeyCode::Esc);
        }
        // 12:34 into the incident, 42:34 into the outage.
        assert_eq!(a.elapsed().as_secs(), 42 * 60 + 34);
    });
}

/// Once the incident is closed the clock stops and the header says the scorecard's verdict
/// in words: an incident closed with steps not done is NOT RECOVERED.
#[test]
fn the_header_stops_the_clock_and_says_the_verdict_when_the_plan_ends() {
    let mut a = app();
    let before = render(&mut a, 160, 48);
    assert!(!before.contains("RECOVERED"), "{before}");
    a.update(Msg::Logged(drbook::incident::Event {
        seq: 99,
        ts: fixture::start() + chrono::Duration::seconds(750),
        actor: "alice".into(),
        kind: drbook::incident::EventKind::IncidentClosed {
            outcome: drbook::incident::IncidentOutcome::Failed,
            summary: None,
        },
        prev: String::new(),
        hash: String::new(),
    }));
    while a.dialog.is_some() {
        code(&mut a, KeyCode::Esc);
    }
    let later = fixture::start() + chrono::Duration::seconds(3000);
    a.update(Msg::Tick(later));
    let screen = render(&mut a, 160, 48);
    let header = screen.lines().nth(1).unwrap_or_default();
    assert!(
        header.contains("⏹") && header.contains("NOT RECOVERED"),
        "{header}"
    );
    // Stopped: the scorecard's time, not the 50 minutes the clock now reads.
    assert!(!header.contains("50:00"), "{header}");
    assert!(
        !header.contains("RTO") && !header.contains("done ≤"),
        "{header}"
    );
}

#[test]
fn outage_start_input() {
    both_sizes("outage_input", |a| {
        key(a, 'O');
        typed(a, "25m ago");
    });
}

/// The step list and detail show titles with their variables filled in: the data-loss step
/// reads "Make North Europe the write region", not `${secondary_display}`.
#[test]
fn step_titles_and_details_have_their_variables_filled_in() {
    let mut a = app();
    go_to(&mut a, "data-cosmos-failover", "change-priority");
    let screen = render(&mut a, 160, 48);
    assert!(
        screen.contains("Make North Europe the write region"),
        "{screen}"
    );
    assert!(!screen.contains("${"), "{screen}");
    for rb in &a.board.runbooks {
        assert!(!rb.title.contains("${"), "{}", rb.title);
        for s in &rb.steps {
            assert!(!s.title.contains("${"), "{}: {}", s.key, s.title);
            assert!(!s.target.contains("${"), "{}: {}", s.key, s.target);
        }
    }
}
