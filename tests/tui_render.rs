//! Render tests: every screen and dialog of the TUI drawn with ratatui's `TestBackend` from a
//! fixed incident over the shipped runbooks, at 80x24 and 160x48, compared with insta
//! snapshots. Behaviour tests drive `App::update` with keys and check what it asks the engine.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use drbook::exec::engine::Control;
use drbook::exec::plan::StepKey;
use drbook::exec::steps::Outcome;
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
        // The questions waiting open by themselves: put them aside first.
        while a.dialog.is_some() {
            code(a, KeyCode::Esc);
        }
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
        key(&mut a, 'a'),
        vec![Effect::Control(Control::StartAllReady)]
    );
}

#[test]
fn a_new_confirmation_opens_its_dialog_and_selects_the_step() {
    let mut a = app();
    a.update(Msg::Logged(drbook::incident::Event {
        seq: 50,
        ts: fixture::start() + chrono::Duration::seconds(760),
        actor: "drbook".into(),
        kind: drbook::incident::EventKind::ConfirmationRequested {
            runbook: "code-continuity".into(),
            step: "push-to-github".into(),
            prompt: "RUN git push --mirror".into(),
        },
        prev: String::new(),
        hash: String::new(),
    }));
    // The older question (backlog) opens first; Esc puts it aside, then Enter on the new one.
    assert!(
        matches!(a.dialog, Some(Dialog::Confirm { ref key, .. }) if key.runbook == "backlog-continuity")
    );
    code(&mut a, KeyCode::Esc);
    assert!(a.dialog.is_none());
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
    let areas = view::areas(ratatui::layout::Rect::new(0, 0, 80, 24));
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
    a.update(Msg::Logged(drbook::incident::Event {
        seq: 50,
        ts: fixture::start() + chrono::Duration::seconds(760),
        actor: "drbook".into(),
        kind: drbook::incident::EventKind::ConfirmationRequested {
            runbook: "network-failover".into(),
            step: "tm-disable-primary".into(),
            prompt: long,
        },
        prev: String::new(),
        hash: String::new(),
    }));
    while !matches!(&a.dialog, Some(Dialog::Confirm { key, .. }) if key.step == "tm-disable-primary")
    {
        assert!(a.dialog.is_some(), "the new confirmation opens in turn");
        code(&mut a, KeyCode::Esc);
        go_to(&mut a, "network-failover", "tm-disable-primary");
        code(&mut a, KeyCode::Enter);
    }
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
