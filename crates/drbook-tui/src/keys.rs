//! The key map: which key does what. Keys are written as strings ("q", "ctrl-q", "pgdn"), so
//! the config's `[keys]` table can rebind them; one key never means two actions.
//! Ctrl-C is not here: the app always treats it as quit, whatever the map says.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use thiserror::Error;

/// Every action; the order of declaration is the order the help lists them. The names (serde's
/// and strum's, which must agree: the config's `[keys]` table and its error messages use them)
/// are kebab-case.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Deserialize,
    serde::Serialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    /// Focus a pane by its number: runbooks, steps, detail, timeline.
    #[serde(rename = "pane-1")]
    #[strum(serialize = "pane-1")]
    Pane1,
    #[serde(rename = "pane-2")]
    #[strum(serialize = "pane-2")]
    Pane2,
    #[serde(rename = "pane-3")]
    #[strum(serialize = "pane-3")]
    Pane3,
    #[serde(rename = "pane-4")]
    #[strum(serialize = "pane-4")]
    Pane4,
    /// Show the focused pane alone, or all of them again.
    Zoom,
    /// Open the oldest question waiting for the operator (they queue, never pop up).
    Answer,
    Run,
    Yes,
    No,
    Skip,
    Fail,
    Recheck,
    /// Keeps starting every step as it becomes ready, until pressed again (or paused).
    Autopilot,
    RunAllReady,
    /// Approve (or decline) a two-person step, as an incident commander.
    Approve,
    /// Shared incidents: start a step someone else holds, taking their claim over.
    Takeover,
    Pause,
    Abort,
    Note,
    /// Set or correct when the outage began (the RTO counts from there).
    OutageStart,
    Filter,
    /// Show only some rows of the runbook or step list: all, failed, needs me, running.
    ListFilter,
    /// Copy the selected step's resource id, URL or command to the clipboard (OSC 52).
    Copy,
    Help,
    Quit,
    /// Review: one event back in time.
    Earlier,
    /// Review: one event forward.
    Later,
    /// Review: a minute of incident time back.
    EarlierMore,
    /// Review: a minute forward.
    LaterMore,
    /// Review: the summary (RTO achieved, the critical path, waits on people).
    Summary,
    /// The readiness screen: discover the estate the runbooks name (or close the screen).
    Readiness,
    /// On the readiness screen: write a runbook per component and a plan into a folder.
    WriteRunbooks,
}

impl Action {
    /// The name used in the config's `[keys]` table.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Moving around: these may fire again while the key is held (`Repeat` events).
    fn repeats(self) -> bool {
        matches!(
            self,
            Action::Up
                | Action::Down
                | Action::PageUp
                | Action::PageDown
                | Action::Earlier
                | Action::Later
                | Action::EarlierMore
                | Action::LaterMore
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One key with its modifiers, normalised so that what the terminal sends and what the user
/// wrote compare equal: a character carries no SHIFT (the case says it), BackTab carries none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBinding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl KeyBinding {
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> KeyBinding {
        let mut modifiers =
            modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        // Terminals disagree on whether a capital letter or Shift-Tab comes with SHIFT set.
        if matches!(code, KeyCode::Char(_) | KeyCode::BackTab) {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        KeyBinding { code, modifiers }
    }

    fn is_ctrl_c(&self) -> bool {
        self.modifiers == KeyModifiers::CONTROL && matches!(self.code, KeyCode::Char('c' | 'C'))
    }
}

/// The canonical spelling, the one `parse_key` reads back: "ctrl-q", "G", "pgdn", "space".
impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (m, name) in [
            (KeyModifiers::CONTROL, "ctrl-"),
            (KeyModifiers::ALT, "alt-"),
            (KeyModifiers::SHIFT, "shift-"),
        ] {
            if self.modifiers.contains(m) {
                f.write_str(name)?;
            }
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            code => f.write_str(
                NAMED
                    .iter()
                    .find(|(_, c)| *c == code)
                    .map_or("?", |(name, _)| name),
            ),
        }
    }
}

/// Named keys; the first name of a code is the one shown.
const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("return", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("escape", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("del", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pgup", KeyCode::PageUp),
    ("pageup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("`{key}` is not a key: {reason}")]
    Parse { key: String, reason: String },
    #[error("`{key}` is bound to both `{first}` and `{second}`: give one of them other keys")]
    Conflict {
        key: String,
        first: Action,
        second: Action,
    },
    #[error("`{key}` always quits and cannot be bound")]
    Reserved { key: String },
}

/// Reads a key as written in the config: a single character (case matters: "G" is not "g"),
/// a named key (enter, esc, tab, backtab, up, down, left, right, pgup, pgdn, home, end, space,
/// backspace, delete, insert, f1-f12), with any of the prefixes ctrl-, alt-, shift-.
/// "shift-tab" is backtab and "shift-j" is "J".
pub fn parse_key(s: &str) -> Result<KeyBinding, KeyError> {
    let fail = |reason: &str| KeyError::Parse {
        key: s.to_string(),
        reason: reason.to_string(),
    };
    let mut rest = s;
    let mut modifiers = KeyModifiers::NONE;
    // A lone "-" or "ctrl--" is the minus key, so a prefix needs something after it.
    loop {
        let lower = rest.to_ascii_lowercase();
        let Some((m, len)) = [
            ("ctrl-", KeyModifiers::CONTROL),
            ("alt-", KeyModifiers::ALT),
            ("shift-", KeyModifiers::SHIFT),
        ]
        .into_iter()
        .find(|(p, _)| lower.starts_with(p) && rest.len() > p.len())
        .map(|(p, m)| (m, p.len())) else {
            break;
        };
        modifiers |= m;
        rest = &rest[len..];
    }
    if rest.is_empty() {
        return Err(fail("it is empty"));
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_control() => {
            if modifiers.contains(KeyModifiers::SHIFT) && c.is_lowercase() {
                // What the terminal sends for shift-j is "J".
                KeyCode::Char(c.to_uppercase().next().unwrap_or(c))
            } else {
                KeyCode::Char(c)
            }
        }
        _ => named(&rest.to_ascii_lowercase(), &mut modifiers).ok_or_else(|| {
            fail("use one character, or one of enter, esc, tab, backtab, space, up, down, left, right, pgup, pgdn, home, end, backspace, delete, insert, f1-f12, with ctrl-, alt- or shift- in front if needed")
        })?,
    };
    let binding = KeyBinding::new(code, modifiers);
    if binding.is_ctrl_c() {
        return Err(KeyError::Reserved { key: s.to_string() });
    }
    Ok(binding)
}

fn named(name: &str, modifiers: &mut KeyModifiers) -> Option<KeyCode> {
    if name == "space" {
        return Some(KeyCode::Char(' '));
    }
    if name == "tab" && modifiers.contains(KeyModifiers::SHIFT) {
        return Some(KeyCode::BackTab);
    }
    if let Some(n) = name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
        return (1..=12).contains(&n).then_some(KeyCode::F(n));
    }
    NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Which key does what, both ways: key → action to dispatch, action → keys to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    by_key: HashMap<KeyBinding, Action>,
    by_action: BTreeMap<Action, Vec<KeyBinding>>,
}

/// The default keymap as data, compiled in like the themes: the same `[keys]` table a config
/// overrides.
const DEFAULT_KEYMAP: &str = include_str!("../../../keymaps/default.toml");

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    keys: BTreeMap<Action, Vec<String>>,
}

impl Default for KeyMap {
    fn default() -> KeyMap {
        let empty = KeyMap {
            by_key: HashMap::new(),
            by_action: BTreeMap::new(),
        };
        // The file is compiled in and a test proves it parses and binds every action; should it
        // ever not, the screen still starts (keys unbound) rather than panicking.
        toml::from_str::<KeymapFile>(DEFAULT_KEYMAP)
            .ok()
            .and_then(|file| empty.clone().with_overrides(&file.keys).ok())
            .unwrap_or(empty)
    }
}

impl KeyMap {
    /// Applies overrides from the config: action → list of key strings; replaces that action's
    /// keys (an empty list leaves the action without a key).
    pub fn with_overrides(
        mut self,
        overrides: &BTreeMap<Action, Vec<String>>,
    ) -> Result<KeyMap, KeyError> {
        for (action, keys) in overrides {
            let mut parsed = Vec::with_capacity(keys.len());
            for k in keys {
                let binding = parse_key(k)?;
                if !parsed.contains(&binding) {
                    parsed.push(binding);
                }
            }
            self.by_action.insert(*action, parsed);
        }
        let mut by_key = HashMap::new();
        for (action, keys) in &self.by_action {
            for key in keys {
                if let Some(first) = by_key.insert(*key, *action) {
                    return Err(KeyError::Conflict {
                        key: key.to_string(),
                        first,
                        second: *action,
                    });
                }
            }
        }
        self.by_key = by_key;
        Ok(self)
    }

    /// The action a key event asks for. Key releases never act; held keys repeat only for
    /// moving around, so holding `x` cannot abort twice.
    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        let action = *self.by_key.get(&KeyBinding::new(key.code, key.modifiers))?;
        match key.kind {
            KeyEventKind::Press => Some(action),
            KeyEventKind::Repeat if action.repeats() => Some(action),
            _ => None,
        }
    }

    /// The keys of an action as `parse_key` spells them, e.g. ["up", "k"], for the status bar
    /// and the help.
    pub fn keys_for(&self, action: Action) -> Vec<String> {
        self.bindings(action)
            .iter()
            .map(|k| k.to_string())
            .collect()
    }

    /// The key the screen names for an action (its first), so a hint never advertises a
    /// default the config rebound; "unbound" when the config left it without a key.
    pub fn first(&self, action: Action) -> String {
        self.bindings(action)
            .first()
            .map_or_else(|| "unbound".to_string(), ToString::to_string)
    }

    pub fn bindings(&self, action: Action) -> &[KeyBinding] {
        self.by_action.get(&action).map_or(&[], Vec::as_slice)
    }

    /// One-line help text.
    pub fn describe(action: Action) -> &'static str {
        match action {
            Action::Up => "move up",
            Action::Down => "move down",
            Action::PageUp => "move up a page",
            Action::PageDown => "move down a page",
            Action::Top => "go to the first item",
            Action::Bottom => "go to the last item",
            Action::NextPane => "focus the next pane",
            Action::PrevPane => "focus the previous pane",
            Action::Run => "run the selected step, or answer its question",
            Action::Yes => "answer yes: confirm, or mark a manual step done",
            Action::No => "answer no: decline the confirmation (else: a note)",
            Action::Skip => "skip the selected step",
            Action::Fail => "mark the selected manual step failed",
            Action::Recheck => "run a failed step again, or re-read a finished check",
            Action::RunAllReady => "run every step that is ready now, once",
            Action::Autopilot => "autopilot on/off: start each step as it becomes ready",
            Action::Pause => "pause or resume starting new steps",
            Action::Abort => "abort the selected running step (asks first)",
            Action::Note => "add a note (on the selected step from its panes)",
            Action::Filter => "filter the timeline",
            Action::Help => "show or hide this help",
            Action::Quit => "quit (asks first while steps run)",
            Action::Earlier => "review: one event back in time",
            Action::Later => "review: one event forward",
            Action::EarlierMore => "review: a minute back",
            Action::LaterMore => "review: a minute forward",
            Action::Summary => "review: RTO achieved, critical path, waits on people",
            Action::Approve => "commander: approve or decline a two-person step",
            Action::Takeover => "take over someone's step, or run it unclaimed (asks first)",
            Action::Answer => "open the next question waiting for you",
            Action::Zoom => "show the focused pane alone, or every pane again",
            Action::Copy => "copy the step's resource id, URL or command (OSC 52)",
            Action::ListFilter => "list: all, failed, needs me, running (runbooks, steps)",
            Action::Pane1 => "focus the runbooks pane",
            Action::Pane2 => "focus the steps pane",
            Action::Pane3 => "focus the detail pane",
            Action::Pane4 => "focus the timeline pane",
            Action::OutageStart => "set when the outage began: the RTO counts from there",
            Action::Readiness => "readiness: discover the estate, its pairs and gaps (or close)",
            Action::WriteRunbooks => "readiness: write the runbooks and a plan into a folder",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn ch(c: char) -> KeyEvent {
        press(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn defaults_map_vi_keys_and_arrows() {
        let map = KeyMap::default();
        assert_eq!(map.action(&ch('j')), Some(Action::Down));
        assert_eq!(map.action(&ch('k')), Some(Action::Up));
        assert_eq!(
            map.action(&press(KeyCode::Up, KeyModifiers::NONE)),
            Some(Action::Up)
        );
        assert_eq!(
            map.action(&press(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(map.action(&ch('g')), Some(Action::Top));
        assert_eq!(map.action(&ch('G')), Some(Action::Bottom));
        // Some terminals send the capital with SHIFT, some without.
        assert_eq!(
            map.action(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action(&press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(map.action(&ch('?')), Some(Action::Help));
        assert_eq!(
            map.action(&press(KeyCode::F(1), KeyModifiers::NONE)),
            Some(Action::Help)
        );
        assert_eq!(
            map.action(&press(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Action::Run)
        );
        assert_eq!(map.action(&ch('z')), Some(Action::Zoom));
        assert_eq!(map.action(&ch('Z')), None);
        assert_eq!(
            map.action(&press(KeyCode::Char('j'), KeyModifiers::CONTROL)),
            None
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            None
        );
    }

    /// The hard-coded table keymaps/default.toml replaced, kept to prove the file binds the same.
    const OLD_DEFAULTS: &[(Action, &[&str])] = &[
        (Action::Up, &["up", "k"]),
        (Action::Down, &["down", "j"]),
        (Action::PageUp, &["pgup"]),
        (Action::PageDown, &["pgdn"]),
        (Action::Top, &["home", "g"]),
        (Action::Bottom, &["end", "G"]),
        (Action::NextPane, &["tab"]),
        (Action::PrevPane, &["backtab"]),
        (Action::Run, &["enter"]),
        (Action::Yes, &["y"]),
        (Action::No, &["n"]),
        (Action::Skip, &["s"]),
        (Action::Fail, &["f"]),
        (Action::Recheck, &["r"]),
        (Action::Autopilot, &["a"]),
        (Action::RunAllReady, &["A"]),
        (Action::Pause, &["p"]),
        (Action::Abort, &["x"]),
        (Action::Note, &[":"]),
        (Action::Filter, &["/"]),
        (Action::Help, &["?", "f1"]),
        (Action::Quit, &["q"]),
        (Action::Earlier, &["left", "["]),
        (Action::Later, &["right", "]"]),
        (Action::EarlierMore, &["{"]),
        (Action::LaterMore, &["}"]),
        (Action::Summary, &["i"]),
        (Action::Approve, &["v"]),
        (Action::Takeover, &["T"]),
        (Action::Answer, &["w"]),
        (Action::Zoom, &["z"]),
        (Action::Copy, &["c"]),
        (Action::ListFilter, &["F"]),
        (Action::Pane1, &["1"]),
        (Action::Pane2, &["2"]),
        (Action::Pane3, &["3"]),
        (Action::Pane4, &["4"]),
        (Action::OutageStart, &["O"]),
        (Action::Readiness, &["D"]),
        (Action::WriteRunbooks, &["ctrl-w"]),
    ];

    #[test]
    fn the_default_keymap_file_binds_every_action_as_the_old_table_did() {
        let file: KeymapFile = toml::from_str(DEFAULT_KEYMAP).unwrap();
        assert_eq!(file.keys.len(), Action::iter().count());
        let map = KeyMap::default();
        assert_eq!(OLD_DEFAULTS.len(), Action::iter().count());
        for (action, keys) in OLD_DEFAULTS {
            let want: Vec<String> = keys
                .iter()
                .map(|k| parse_key(k).unwrap().to_string())
                .collect();
            assert_eq!(map.keys_for(*action), want, "{action}");
            for k in *keys {
                let b = parse_key(k).unwrap();
                assert_eq!(
                    map.action(&press(b.code, b.modifiers)),
                    Some(*action),
                    "{k}"
                );
            }
        }
        // A user's override still wins over the file.
        let mine = BTreeMap::from([(Action::Quit, vec!["Q".to_string()])]);
        let map = KeyMap::default().with_overrides(&mine).unwrap();
        assert_eq!(map.action(&ch('Q')), Some(Action::Quit));
        assert_eq!(map.action(&ch('q')), None);
        assert_eq!(map.first(Action::Quit), "Q");
    }

    #[test]
    fn every_action_has_a_default_key_and_help() {
        let map = KeyMap::default();
        for action in Action::iter() {
            assert!(!map.keys_for(action).is_empty(), "{action}");
            assert!(!KeyMap::describe(action).is_empty());
        }
        assert_eq!(map.keys_for(Action::Up), ["up", "k"]);
        assert_eq!(map.keys_for(Action::Help), ["?", "f1"]);
        assert_eq!(map.keys_for(Action::PrevPane), ["backtab"]);
        // Defaults have no conflicts.
        assert!(map.clone().with_overrides(&BTreeMap::new()).is_ok());
    }

    #[test]
    fn every_old_action_name_still_parses() {
        // The names as the hand-written table had them: user configs are written with these.
        let old = [
            (Action::Up, "up"),
            (Action::Down, "down"),
            (Action::PageUp, "page-up"),
            (Action::PageDown, "page-down"),
            (Action::Top, "top"),
            (Action::Bottom, "bottom"),
            (Action::NextPane, "next-pane"),
            (Action::PrevPane, "prev-pane"),
            (Action::Run, "run"),
            (Action::Yes, "yes"),
            (Action::No, "no"),
            (Action::Skip, "skip"),
            (Action::Fail, "fail"),
            (Action::Recheck, "recheck"),
            (Action::RunAllReady, "run-all-ready"),
            (Action::Autopilot, "autopilot"),
            (Action::Pause, "pause"),
            (Action::Abort, "abort"),
            (Action::Note, "note"),
            (Action::Filter, "filter"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
            (Action::Earlier, "earlier"),
            (Action::Later, "later"),
            (Action::EarlierMore, "earlier-more"),
            (Action::LaterMore, "later-more"),
            (Action::Summary, "summary"),
            (Action::Approve, "approve"),
            (Action::Takeover, "takeover"),
            (Action::Answer, "answer"),
            (Action::Zoom, "zoom"),
            (Action::Copy, "copy"),
            (Action::ListFilter, "list-filter"),
            (Action::Pane1, "pane-1"),
            (Action::Pane2, "pane-2"),
            (Action::Pane3, "pane-3"),
            (Action::Pane4, "pane-4"),
            (Action::OutageStart, "outage-start"),
            (Action::Readiness, "readiness"),
            (Action::WriteRunbooks, "write-runbooks"),
        ];
        assert_eq!(old.len(), Action::iter().count());
        for (action, name) in old {
            assert_eq!(action.name(), name);
            assert_eq!(action.to_string(), name);
            assert_eq!(name.parse::<Action>(), Ok(action));
            let toml: BTreeMap<Action, u8> = toml::from_str(&format!("{name} = 1")).unwrap();
            assert_eq!(toml.keys().next(), Some(&action));
        }
        // The help lists them in the order the hand-written `ALL` did.
        let help_order: Vec<&str> = Action::iter().map(Action::name).collect();
        assert_eq!(
            help_order.join(" "),
            "up down page-up page-down top bottom next-pane prev-pane pane-1 pane-2 pane-3 \
             pane-4 zoom answer run yes no skip fail recheck autopilot run-all-ready approve \
             takeover pause abort note outage-start filter list-filter copy help quit earlier \
             later earlier-more later-more summary readiness write-runbooks"
        );
    }

    #[test]
    fn action_names_match_serde() {
        for action in Action::iter() {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.name()));
        }
    }

    #[test]
    fn releases_never_act_and_only_navigation_repeats() {
        let map = KeyMap::default();
        let mut release = ch('x');
        release.kind = KeyEventKind::Release;
        assert_eq!(map.action(&release), None);
        let mut held_abort = ch('x');
        held_abort.kind = KeyEventKind::Repeat;
        assert_eq!(map.action(&held_abort), None);
        let mut held_down = ch('j');
        held_down.kind = KeyEventKind::Repeat;
        assert_eq!(map.action(&held_down), Some(Action::Down));
    }

    #[test]
    fn overrides_replace_an_actions_keys() {
        let overrides = BTreeMap::from([
            (Action::Quit, vec!["Q".to_string(), "ctrl-q".to_string()]),
            (Action::Skip, vec!["S".to_string()]),
        ]);
        let map = KeyMap::default().with_overrides(&overrides).unwrap();
        assert_eq!(map.action(&ch('q')), None);
        assert_eq!(map.action(&ch('Q')), Some(Action::Quit));
        assert_eq!(
            map.action(&press(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(map.action(&ch('s')), None);
        assert_eq!(map.action(&ch('S')), Some(Action::Skip));
        assert_eq!(map.keys_for(Action::Quit), ["Q", "ctrl-q"]);
        // Untouched actions keep their defaults.
        assert_eq!(map.action(&ch('j')), Some(Action::Down));
    }

    #[test]
    fn a_key_bound_twice_names_both_actions() {
        let overrides = BTreeMap::from([(Action::Skip, vec!["n".to_string()])]);
        let err = KeyMap::default().with_overrides(&overrides).unwrap_err();
        assert_eq!(
            err,
            KeyError::Conflict {
                key: "n".into(),
                first: Action::No,
                second: Action::Skip
            }
        );
        assert_eq!(
            err.to_string(),
            "`n` is bound to both `no` and `skip`: give one of them other keys"
        );
        // Moving `no` away as well resolves it.
        let both = BTreeMap::from([
            (Action::Skip, vec!["n".to_string()]),
            (Action::No, vec!["N".to_string()]),
        ]);
        assert!(KeyMap::default().with_overrides(&both).is_ok());
    }

    #[test]
    fn parse_key_round_trips() {
        for s in [
            "q",
            "G",
            "?",
            ":",
            "/",
            "-",
            "enter",
            "esc",
            "tab",
            "backtab",
            "up",
            "down",
            "left",
            "right",
            "pgup",
            "pgdn",
            "home",
            "end",
            "space",
            "f1",
            "f12",
            "ctrl-q",
            "alt-x",
            "ctrl-alt-d",
            "shift-up",
            "backspace",
            "delete",
            "insert",
            "ctrl--",
        ] {
            let key = parse_key(s).unwrap();
            assert_eq!(key.to_string(), s, "{s}");
            assert_eq!(parse_key(&key.to_string()).unwrap(), key);
        }
    }

    #[test]
    fn parse_key_aliases_and_case() {
        assert_eq!(
            parse_key("shift-tab").unwrap(),
            parse_key("backtab").unwrap()
        );
        assert_eq!(parse_key("shift-j").unwrap(), parse_key("J").unwrap());
        assert_eq!(parse_key("Enter").unwrap(), parse_key("enter").unwrap());
        assert_eq!(parse_key("CTRL-q").unwrap(), parse_key("ctrl-q").unwrap());
        assert_ne!(parse_key("g").unwrap(), parse_key("G").unwrap());
        assert_eq!(
            parse_key("space").unwrap(),
            KeyBinding::new(KeyCode::Char(' '), KeyModifiers::NONE)
        );
    }

    #[test]
    fn parse_key_rejects_nonsense_and_ctrl_c() {
        for bad in ["", "ctrl-", "enterr", "f13", "f0", "qq"] {
            assert!(
                matches!(parse_key(bad), Err(KeyError::Parse { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            parse_key("ctrl-c"),
            Err(KeyError::Reserved {
                key: "ctrl-c".into()
            })
        );
    }
}
