//! The user's config file (`~/.config/drbook/config.toml`, or `$DRBOOK_CONFIG`): who is at the
//! keyboard, the theme, the default target and key overrides. A missing file is the defaults;
//! a wrong one is an error naming file, line, column and field, found before the screen opens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::cli::target::TargetKind;
use crate::diag::TomlError;
use crate::roles::Role;
use crate::tui::keys::{Action, KeyError, KeyMap, parse_key};
use crate::tui::theme::{Theme, ThemeError, is_path};

/// The variable that points at another config file.
pub const CONFIG_ENV: &str = "DRBOOK_CONFIG";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// Who is at the keyboard, for the incident log.
    pub operator: Option<String>,
    /// A built-in name, a name in `<dir>/themes/`, or a path (relative to `dir`).
    pub theme: Option<String>,
    /// The default target of `drbook run` and `rehearse`.
    pub target: Option<TargetKind>,
    /// The default `--role` of `drbook run` and `rehearse`.
    pub role: Option<Role>,
    /// Subscriptions `--target azure` may write to (the write guard's allowlist).
    pub allow_write_subscriptions: Vec<String>,
    /// Action → keys; each entry replaces that action's default keys.
    pub keys: BTreeMap<Action, Vec<String>>,
    /// The file this came from (also when it did not exist).
    pub path: Option<PathBuf>,
    /// The directory of that file: user themes live in `<dir>/themes/`.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(transparent)]
    Parse(#[from] TomlError),
    #[error("cannot read the config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {source}")]
    Theme { origin: String, source: ThemeError },
    #[error("{origin}: [keys]: {source}")]
    Keys { origin: String, source: KeyError },
}

/// The file as written; spans kept so problems found after parsing can still be located.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    operator: Option<Spanned<String>>,
    theme: Option<String>,
    target: Option<TargetKind>,
    role: Option<Role>,
    #[serde(default)]
    allow_write_subscriptions: Vec<String>,
    #[serde(default)]
    keys: BTreeMap<Action, Vec<Spanned<String>>>,
}

/// `$DRBOOK_CONFIG` if set, else `config.toml` in the platform's config directory
/// (`~/.config/drbook/` on Linux). None when there is no home directory to speak of.
pub fn config_path(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(p) = env(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "drbook").map(|d| d.config_dir().join("config.toml"))
}

/// Reads the config at `path`; a file that does not exist gives the defaults.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let defaults = Config {
        path: Some(path.to_path_buf()),
        dir: Some(dir_of(path)),
        ..Config::default()
    };
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, defaults),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(defaults),
        Err(source) => Err(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The config at `config_path(env)`, or the defaults when there is none.
pub fn load_default(env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    match config_path(env) {
        Some(path) => load(&path),
        None => Ok(Config::default()),
    }
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Parses `text` into `base` (which carries the path), checking the key bindings too so a
/// bad key is reported at its line rather than when the screen opens.
fn parse(text: &str, base: Config) -> Result<Config, ConfigError> {
    let file = base
        .path
        .as_ref()
        .map_or_else(|| "config".to_string(), |p| p.display().to_string());
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let mut err = TomlError::from_toml(&file, text, &e);
        if err.field.as_deref().is_some_and(|f| f.starts_with("keys."))
            && err.message.starts_with("unknown value")
        {
            err.message = unknown_action_message(&err.message);
        }
        err
    })?;
    let operator = match raw.operator {
        Some(op) if op.get_ref().trim().is_empty() => {
            return Err(TomlError::at(&file, text, op.span(), "the operator name is empty").into());
        }
        Some(op) => Some(op.into_inner().trim().to_string()),
        None => None,
    };
    check_keys(&raw.keys, &file, text)?;
    Ok(Config {
        operator,
        theme: raw.theme,
        target: raw.target,
        role: raw.role,
        allow_write_subscriptions: raw.allow_write_subscriptions,
        keys: raw
            .keys
            .into_iter()
            .map(|(a, keys)| (a, keys.into_iter().map(Spanned::into_inner).collect()))
            .collect(),
        ..base
    })
}

/// serde says "unknown variant"; the user wrote an action name.
fn unknown_action_message(msg: &str) -> String {
    let got = msg.split('`').nth(1).unwrap_or_default();
    let names: Vec<&str> = <Action as strum::IntoEnumIterator>::iter()
        .map(Action::name)
        .collect();
    format!(
        "unknown action `{got}`: the actions are {}",
        names.join(", ")
    )
}

/// Every key string parses, and no key ends up with two actions; errors point at the string.
fn check_keys(
    keys: &BTreeMap<Action, Vec<Spanned<String>>>,
    file: &str,
    text: &str,
) -> Result<(), TomlError> {
    for key in keys.values().flatten() {
        if let Err(e) = parse_key(key.get_ref()) {
            return Err(TomlError::at(file, text, key.span(), e.to_string()));
        }
    }
    let plain: BTreeMap<Action, Vec<String>> = keys
        .iter()
        .map(|(a, ks)| (*a, ks.iter().map(|k| k.get_ref().clone()).collect()))
        .collect();
    match KeyMap::default().with_overrides(&plain) {
        Ok(_) => Ok(()),
        Err(e) => {
            let span = conflict_span(keys, &e).unwrap_or(0..0);
            Err(TomlError::at(file, text, span, e.to_string()))
        }
    }
}

/// Where the file binds the key of a conflict: the later of the places, as that is usually
/// the line just edited.
fn conflict_span(
    keys: &BTreeMap<Action, Vec<Spanned<String>>>,
    err: &KeyError,
) -> Option<std::ops::Range<usize>> {
    let KeyError::Conflict { key, first, second } = err else {
        return None;
    };
    let wanted = parse_key(key).ok()?;
    [first, second]
        .into_iter()
        .filter_map(|a| keys.get(a))
        .flatten()
        .filter(|k| parse_key(k.get_ref()).ok() == Some(wanted))
        .map(Spanned::span)
        .max_by_key(|s| s.start)
}

impl Config {
    /// The default key map with this config's `[keys]` applied.
    pub fn keymap(&self) -> Result<KeyMap, ConfigError> {
        KeyMap::default()
            .with_overrides(&self.keys)
            .map_err(|source| ConfigError::Keys {
                origin: self.origin(),
                source,
            })
    }

    /// The theme: `cli` (`--theme`) first, then the config's `theme`, then NO_COLOR, then the
    /// default. A relative path in the config is taken from the config's directory.
    pub fn theme(
        &self,
        cli: Option<&str>,
        no_color_env: Option<&str>,
    ) -> Result<Theme, ConfigError> {
        let (name, origin) = match (cli, &self.theme) {
            (Some(name), _) => (Some(name.to_string()), "--theme".to_string()),
            (None, Some(name)) => (
                Some(self.relative(name)),
                format!("`theme` in {}", self.origin()),
            ),
            (None, None) => (None, "theme".to_string()),
        };
        Theme::resolve(name.as_deref(), self.dir.as_deref(), no_color_env)
            .map_err(|source| ConfigError::Theme { origin, source })
    }

    fn relative(&self, name: &str) -> String {
        match &self.dir {
            Some(dir) if is_path(name) && Path::new(name).is_relative() => {
                dir.join(name).display().to_string()
            }
            _ => name.to_string(),
        }
    }

    fn origin(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "config".to_string(), |p| p.display().to_string())
    }
}

/// What the screen looks like and answers to: the config file's theme and keys, `--theme`
/// and `$NO_COLOR`, handed to the TUI as plain values.
pub fn ui_setup(theme: Option<&str>) -> Result<crate::tui::UiSetup, String> {
    let env = |k: &str| std::env::var(k).ok();
    let cfg = load_default(env).map_err(|e| e.to_string())?;
    let no_color = std::env::var("NO_COLOR").ok();
    let theme = cfg
        .theme(theme, no_color.as_deref())
        .map_err(|e| e.to_string())?;
    let keys = cfg.keymap().map_err(|e| e.to_string())?;
    Ok(crate::tui::UiSetup {
        theme,
        keys,
        operator: cfg.operator.clone(),
        resume_cmd: "drbook run".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Config, ConfigError> {
        parse(
            text,
            Config {
                path: Some(PathBuf::from("/home/a/.config/drbook/config.toml")),
                dir: Some(PathBuf::from("/home/a/.config/drbook")),
                ..Config::default()
            },
        )
    }

    fn located(r: Result<Config, ConfigError>) -> TomlError {
        match r {
            Err(ConfigError::Parse(e)) => e,
            other => panic!("expected a located error, got {other:?}"),
        }
    }

    #[test]
    fn parses_every_field() {
        let c = parse_text(
            "operator = \"alice\"\ntheme = \"high-contrast\"\ntarget = \"azure\"\nrole = \"commander\"\n[keys]\nskip = [\"S\"]\nquit = [\"q\", \"ctrl-q\"]\nrun-all-ready = [\"A\"]\n",
        )
        .unwrap();
        assert_eq!(c.operator.as_deref(), Some("alice"));
        assert_eq!(c.theme.as_deref(), Some("high-contrast"));
        assert_eq!(c.target, Some(TargetKind::Azure));
        assert_eq!(c.role, Some(Role::Commander));
        assert_eq!(
            c.keys,
            BTreeMap::from([
                (Action::Skip, vec!["S".to_string()]),
                (Action::RunAllReady, vec!["A".to_string()]),
                (Action::Quit, vec!["q".to_string(), "ctrl-q".to_string()]),
            ])
        );
        assert_eq!(c.dir, Some(PathBuf::from("/home/a/.config/drbook")));
        let map = c.keymap().unwrap();
        assert_eq!(map.keys_for(Action::Skip), ["S"]);
        assert_eq!(map.keys_for(Action::Quit), ["q", "ctrl-q"]);
        assert_eq!(c.theme(None, None).unwrap().name, "high-contrast");
        assert_eq!(c.theme(Some("light"), None).unwrap().name, "light");
        assert_eq!(
            parse_text("target = \"sim\"").unwrap().target,
            Some(TargetKind::Sim)
        );
    }

    #[test]
    fn missing_file_gives_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let c = load(&path).unwrap();
        assert_eq!(
            c,
            Config {
                path: Some(path.clone()),
                dir: Some(dir.path().to_path_buf()),
                ..Config::default()
            }
        );
        assert_eq!(c.keymap().unwrap(), KeyMap::default());
        assert_eq!(c.theme(None, None).unwrap().name, "dark");
        assert_eq!(c.theme(None, Some("1")).unwrap(), Theme::no_color());
    }

    #[test]
    fn unknown_field_names_line_column_and_lists_the_allowed() {
        let e = located(parse_text("operator = \"alice\"\ncolour = \"dark\"\n"));
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.field.as_deref(), Some("colour"));
        for allowed in ["operator", "theme", "target", "keys"] {
            assert!(e.message.contains(allowed), "{e}");
        }
        assert!(
            e.to_string()
                .starts_with("/home/a/.config/drbook/config.toml:2:1: `colour`: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn unknown_action_lists_the_actions() {
        let e = located(parse_text("[keys]\nskip = [\"s\"]\njump = [\"J\"]\n"));
        assert_eq!((e.line, e.column), (3, 1));
        assert_eq!(e.field.as_deref(), Some("keys.jump"));
        assert!(
            e.message
                .starts_with("unknown action `jump`: the actions are up, down, page-up"),
            "{e}"
        );
    }

    #[test]
    fn bad_target_and_empty_operator_are_located() {
        let e = located(parse_text("\ntarget = \"prod\"\n"));
        assert_eq!(
            (e.line, e.column, e.field.as_deref()),
            (2, 10, Some("target"))
        );
        assert!(
            e.message.contains("`sim`") && e.message.contains("`azure`"),
            "{e}"
        );

        let e = located(parse_text("operator = \"  \"\n"));
        assert_eq!(
            (e.line, e.column, e.field.as_deref()),
            (1, 12, Some("operator"))
        );
    }

    #[test]
    fn bad_key_and_conflict_point_at_the_key_string() {
        let e = located(parse_text("[keys]\nquit = [\"q\", \"ctrl-qq\"]\n"));
        assert_eq!((e.line, e.column), (2, 14));
        assert_eq!(e.field.as_deref(), Some("keys.quit[1]"));
        assert!(e.message.contains("`ctrl-qq` is not a key"), "{e}");

        let e = located(parse_text("[keys]\nskip = [\"s\"]\nabort = [\"ctrl-c\"]\n"));
        assert_eq!((e.line, e.column), (3, 10));
        assert!(e.message.contains("always quits"), "{e}");

        let e = located(parse_text("[keys]\nskip = [\"j\"]\n"));
        assert_eq!(
            (e.line, e.column, e.field.as_deref()),
            (2, 9, Some("keys.skip[0]"))
        );
        assert!(
            e.message.contains("`down`") && e.message.contains("`skip`"),
            "{e}"
        );
    }

    #[test]
    fn keymap_of_a_hand_built_config_reports_conflicts() {
        let c = Config {
            keys: BTreeMap::from([(Action::Help, vec!["q".to_string()])]),
            ..Config::default()
        };
        let err = c.keymap().unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Keys {
                source: KeyError::Conflict { .. },
                ..
            }
        ));
    }

    #[test]
    fn drbook_config_env_is_respected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("elsewhere.toml");
        std::fs::write(&path, "operator = \"bob\"\n").unwrap();
        let env = |k: &str| (k == CONFIG_ENV).then(|| path.display().to_string());
        assert_eq!(config_path(env), Some(path.clone()));
        let c = load_default(env).unwrap();
        assert_eq!(c.operator.as_deref(), Some("bob"));
        assert_eq!(c.path, Some(path.clone()));

        // Empty means unset: the platform's path, whatever it is, not "".
        let empty = config_path(|_| Some(String::new()));
        assert_ne!(empty, Some(PathBuf::new()));
        if let Some(p) = empty {
            assert!(
                p.ends_with("drbook/config.toml") || p.ends_with("config.toml"),
                "{p:?}"
            );
        }
    }

    #[test]
    fn theme_path_in_the_config_is_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.toml"),
            "[styles]\nok = { fg = \"cyan\" }\n",
        )
        .unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "theme = \"./mine.toml\"\n").unwrap();
        let c = load(&path).unwrap();
        let theme = c.theme(None, Some("1")).unwrap();
        assert_eq!(theme.name, "mine");

        let bad = Config {
            theme: Some("nope".into()),
            ..c
        };
        let err = bad.theme(None, None).unwrap_err().to_string();
        assert!(
            err.contains("`theme` in") && err.contains("unknown theme `nope`"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_config_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be.
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Io { .. }), "{err}");
    }

    /// The README's example is a config that loads.
    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme.find("## Configuration").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let c = parse_text(example).unwrap();
        assert_eq!(c.operator.as_deref(), Some("alice"));
        assert_eq!(c.target, Some(TargetKind::Sim));
        assert_eq!(c.keymap().unwrap().keys_for(Action::Quit), ["q", "ctrl-q"]);
    }
}
