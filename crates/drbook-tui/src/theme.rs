//! Themes: a named `Style` for every role on screen (borders, badges, step states...), read
//! from TOML (`themes/*.toml`, compiled in; or the user's own files), and the NO_COLOR theme.
//! The format is documented in `themes/README.md`.

use std::fmt;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use serde::de::{self, Visitor};
use thiserror::Error;
use toml::Spanned;

use drbook_core::diag::TomlError;

/// The theme used when neither `--theme` nor the config names one.
pub const DEFAULT_THEME: &str = "dark";

/// The name `load` gives the NO_COLOR theme, so it can be chosen explicitly too.
pub const NO_COLOR_THEME: &str = "no-color";

/// The shipped themes, compiled in so `--theme dark` works from any directory.
const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../../themes/dark.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
    (
        "colorblind",
        include_str!("../../../themes/colorblind.toml"),
    ),
];

const BUILTIN_NAMES: &[&str] = &["dark", "light", "high-contrast", "colorblind"];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// Ordinary text and the screen's background.
    pub base: Style,
    /// Secondary text: timestamps, hints, descriptions.
    pub muted: Style,
    pub border: Style,
    /// The border of the pane that has the focus.
    pub border_focus: Style,
    /// Pane titles.
    pub title: Style,
    /// The selected row.
    pub selection: Style,
    /// The LIVE badge: this run changes real Azure.
    pub live: Style,
    /// The REHEARSAL badge.
    pub rehearsal: Style,
    pub ok: Style,
    pub fail: Style,
    pub running: Style,
    /// A step waiting for the operator (a manual step, a confirmation).
    pub waiting: Style,
    pub skipped: Style,
    /// A step whose dependencies have not settled yet.
    pub pending: Style,
    /// A step that was running when the run was aborted or the process died.
    pub interrupted: Style,
    /// What an assessment found (the failed region is down): neutral, neither ok nor failed.
    pub finding: Style,
    /// A step whose dependencies are done: it can be run now.
    pub ready: Style,
    pub warn: Style,
    /// Dialog body (confirmations, notes).
    pub dialog: Style,
    pub dialog_border: Style,
    /// Key hints in the status bar and the help.
    pub key: Style,
    /// Table headers.
    pub header: Style,
    /// Text the operator is typing (notes, the filter).
    pub input: Style,
}

#[derive(Debug, Error)]
pub enum ThemeError {
    #[error(transparent)]
    Parse(#[from] TomlError),
    #[error("cannot read theme file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unknown theme `{name}`: the themes are {}; or give the path of a .toml file", available.join(", "))]
    Unknown {
        name: String,
        available: Vec<String>,
    },
}

/// Declares the style slots once: the file's `[styles]` table, how it is applied to a theme, and
/// the list of (name, style) pairs, so a new slot cannot be forgotten in one of them.
macro_rules! slots {
    ($($slot:ident),* $(,)?) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct StyleSlots {
            $($slot: Option<StyleSpec>,)*
        }

        impl StyleSlots {
            fn apply_to(self, theme: &mut Theme) {
                $(if let Some(spec) = self.$slot {
                    theme.$slot = spec.style();
                })*
            }

            /// The slots this file leaves to the theme it extends.
            #[cfg(test)]
            fn missing(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$slot.is_none() {
                    out.push(stringify!($slot));
                })*
                out
            }
        }

        impl Theme {
            /// Every slot's name, in the order of the struct.
            pub const SLOTS: &'static [&'static str] = &[$(stringify!($slot)),*];

            /// Every slot as (name, style), e.g. for a theme preview.
            pub fn styles(&self) -> Vec<(&'static str, Style)> {
                vec![$((stringify!($slot), self.$slot)),*]
            }

            /// A theme with every slot `style`: the ground the built-in files are laid on.
            fn uniform(name: &str, style: Style) -> Theme {
                Theme {
                    name: name.to_string(),
                    $($slot: style,)*
                }
            }
        }
    };
}

slots!(
    base,
    muted,
    border,
    border_focus,
    title,
    selection,
    live,
    rehearsal,
    ok,
    fail,
    running,
    waiting,
    skipped,
    pending,
    interrupted,
    finding,
    ready,
    warn,
    dialog,
    dialog_border,
    key,
    header,
    input,
);

/// A theme file. `extends` names the built-in theme whose slots fill the ones left out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    #[allow(dead_code)] // Read so a file may describe itself; shown nowhere yet.
    description: Option<String>,
    extends: Option<Spanned<String>>,
    #[serde(default)]
    styles: StyleSlots,
}

/// One slot: colours and modifiers. A modifier set to `false` is removed, which matters when
/// the style is laid over another (the selection over a row's own style).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<ColorSpec>,
    bg: Option<ColorSpec>,
    bold: Option<bool>,
    italic: Option<bool>,
    #[serde(alias = "underlined")]
    underline: Option<bool>,
    reversed: Option<bool>,
    dim: Option<bool>,
}

impl StyleSpec {
    fn style(&self) -> Style {
        let mut style = Style::default();
        if let Some(c) = self.fg {
            style = style.fg(c.0);
        }
        if let Some(c) = self.bg {
            style = style.bg(c.0);
        }
        for (set, modifier) in [
            (self.bold, Modifier::BOLD),
            (self.italic, Modifier::ITALIC),
            (self.underline, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
            (self.dim, Modifier::DIM),
        ] {
            style = match set {
                Some(true) => style.add_modifier(modifier),
                Some(false) => style.remove_modifier(modifier),
                None => style,
            };
        }
        style
    }
}

/// A colour as written in a theme: a name, `#rrggbb`, an index 0-255 (string or integer), or
/// `reset` (the terminal's own colour).
#[derive(Debug, Clone, Copy)]
struct ColorSpec(Color);

const COLOR_HELP: &str = "use a name (black, red, green, yellow, blue, magenta, cyan, gray, dark-gray, light-red ... white), \"#rrggbb\", an index 0-255, or \"reset\"";

impl<'de> Deserialize<'de> for ColorSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ColorVisitor;
        impl Visitor<'_> for ColorVisitor {
            type Value = ColorSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a colour: {COLOR_HELP}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ColorSpec, E> {
                s.parse::<Color>()
                    .map(ColorSpec)
                    .map_err(|_| E::custom(format!("unknown colour `{s}`: {COLOR_HELP}")))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ColorSpec, E> {
                u8::try_from(n)
                    .map(|i| ColorSpec(Color::Indexed(i)))
                    .map_err(|_| E::custom(format!("colour index {n} is not in 0-255")))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ColorSpec, E> {
                u8::try_from(n)
                    .map(|i| ColorSpec(Color::Indexed(i)))
                    .map_err(|_| E::custom(format!("colour index {n} is not in 0-255")))
            }
        }
        d.deserialize_any(ColorVisitor)
    }
}

impl Theme {
    /// One of the shipped themes.
    pub fn builtin(name: &str) -> Option<Theme> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        // The shipped files set every slot (a test holds them to it), so the ground they are
        // laid on never shows.
        let ground = Theme::uniform(name, Style::default());
        parse_onto(text, &format!("themes/{name}.toml (built in)"), ground).ok()
    }

    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// `name` is a built-in name, `no-color`, a theme in `<config_dir>/themes/<name>.toml`, or
    /// a path to a .toml file (anything with a `/` or ending in `.toml`).
    pub fn load(name: &str, config_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        if name == NO_COLOR_THEME {
            return Ok(Theme::no_color());
        }
        if let Some(theme) = Theme::builtin(name) {
            return Ok(theme);
        }
        let path = if is_path(name) {
            PathBuf::from(name)
        } else {
            match config_dir.map(|d| d.join("themes").join(format!("{name}.toml"))) {
                Some(p) if p.is_file() => p,
                _ => {
                    return Err(ThemeError::Unknown {
                        name: name.to_string(),
                        available: available(config_dir),
                    });
                }
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ThemeError::Io {
            path: path.clone(),
            source,
        })?;
        Theme::parse(&text, &path.display().to_string())
    }

    /// A user's theme file; `origin` names it in errors. Slots it leaves out come from the
    /// theme it `extends` (default: dark).
    pub fn parse(text: &str, origin: &str) -> Result<Theme, ThemeError> {
        let file: ThemeFile =
            toml::from_str(text).map_err(|e| TomlError::from_toml(origin, text, &e))?;
        let ground = match &file.extends {
            None => Theme::builtin(DEFAULT_THEME),
            Some(name) => Theme::builtin(name.get_ref()),
        };
        let Some(ground) = ground else {
            let span = file.extends.as_ref().map_or(0..0, Spanned::span);
            let got = file.extends.map(Spanned::into_inner).unwrap_or_default();
            return Err(TomlError::at(
                origin,
                text,
                span,
                format!(
                    "`{got}` is not a built-in theme: extend one of {}",
                    BUILTIN_NAMES.join(", ")
                ),
            )
            .into());
        };
        Ok(finish(file, origin, ground))
    }

    /// NO_COLOR (https://no-color.org): no colours at all, only modifiers (bold, reversed,
    /// underline, dim) so state is still visible.
    pub fn no_color() -> Theme {
        let plain = Style::default();
        let bold = plain.add_modifier(Modifier::BOLD);
        let reversed = plain.add_modifier(Modifier::REVERSED);
        let underline = plain.add_modifier(Modifier::UNDERLINED);
        let dim = plain.add_modifier(Modifier::DIM);
        Theme {
            name: NO_COLOR_THEME.to_string(),
            base: plain,
            muted: dim,
            border: plain,
            border_focus: bold,
            title: bold,
            selection: reversed,
            live: reversed.add_modifier(Modifier::BOLD),
            rehearsal: reversed,
            ok: plain,
            fail: bold.add_modifier(Modifier::UNDERLINED),
            running: bold,
            waiting: bold.add_modifier(Modifier::UNDERLINED),
            skipped: dim,
            pending: dim,
            interrupted: bold.add_modifier(Modifier::ITALIC),
            finding: plain,
            ready: bold,
            warn: bold,
            dialog: plain,
            dialog_border: bold,
            key: bold,
            header: bold.add_modifier(Modifier::UNDERLINED),
            input: underline,
        }
    }

    /// Picks the theme: the one named (by `--theme` or the config) if any; else the NO_COLOR
    /// theme when `NO_COLOR` is set and non-empty; else the default. A name given on purpose
    /// wins over NO_COLOR, as no-color.org asks of command-line arguments and config files.
    pub fn resolve(
        name: Option<&str>,
        config_dir: Option<&Path>,
        no_color_env: Option<&str>,
    ) -> Result<Theme, ThemeError> {
        match name {
            Some(name) => Theme::load(name, config_dir),
            None if no_color_env.is_some_and(|v| !v.is_empty()) => Ok(Theme::no_color()),
            None => Theme::load(DEFAULT_THEME, config_dir),
        }
    }
}

/// Lays a parsed file over `ground`.
fn finish(file: ThemeFile, origin: &str, mut ground: Theme) -> Theme {
    ground.name = file.name.unwrap_or_else(|| {
        Path::new(origin)
            .file_stem()
            .map_or_else(|| origin.to_string(), |s| s.to_string_lossy().into_owned())
    });
    file.styles.apply_to(&mut ground);
    ground
}

fn parse_onto(text: &str, origin: &str, ground: Theme) -> Result<Theme, ThemeError> {
    let file: ThemeFile =
        toml::from_str(text).map_err(|e| TomlError::from_toml(origin, text, &e))?;
    Ok(finish(file, origin, ground))
}

pub fn is_path(name: &str) -> bool {
    name.contains('/') || name.contains(std::path::MAIN_SEPARATOR) || name.ends_with(".toml")
}

/// The built-in names, `no-color`, and the user's themes, for the unknown-name error.
fn available(config_dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = BUILTIN_NAMES.iter().map(|s| s.to_string()).collect();
    names.push(NO_COLOR_THEME.to_string());
    let mut own: Vec<String> = config_dir
        .and_then(|d| std::fs::read_dir(d.join("themes")).ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "toml").then_some(())?;
            Some(path.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    own.sort();
    names.extend(own);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_color(s: &Style) -> bool {
        let colored = |c: Option<Color>| c.is_some_and(|c| c != Color::Reset);
        colored(s.fg) || colored(s.bg)
    }

    #[test]
    fn every_shipped_theme_parses_sets_every_slot_and_differs() {
        let mut seen: Vec<Theme> = Vec::new();
        for (name, text) in BUILTIN {
            let file: ThemeFile = toml::from_str(text).unwrap();
            assert_eq!(file.styles.missing(), Vec::<&str>::new(), "{name}");
            let theme = Theme::builtin(name).unwrap();
            assert_eq!(theme.name, *name);
            assert!(has_color(&theme.fail), "{name}: fail has no colour");
            assert!(
                seen.iter().all(|t| t.styles() != theme.styles()),
                "{name} repeats another theme"
            );
            seen.push(theme);
        }
        assert_eq!(seen.len(), Theme::builtin_names().len());
        assert_eq!(Theme::builtin("nope"), None);
    }

    #[test]
    fn badges_and_states_are_told_apart_in_every_theme() {
        for name in Theme::builtin_names() {
            let t = Theme::builtin(name).unwrap();
            assert_ne!(t.live, t.rehearsal, "{name}");
            assert_ne!(t.ok, t.fail, "{name}");
            assert_ne!(t.selection, t.base, "{name}");
            assert_ne!(t.border, t.border_focus, "{name}");
        }
    }

    #[test]
    fn colorblind_theme_uses_no_pure_red_or_green() {
        let t = Theme::builtin("colorblind").unwrap();
        for (slot, style) in t.styles() {
            for c in [style.fg, style.bg].into_iter().flatten() {
                assert!(
                    !matches!(
                        c,
                        Color::Red | Color::Green | Color::LightRed | Color::LightGreen
                    ),
                    "{slot} uses {c}"
                );
            }
        }
        // Failure is not carried by colour alone.
        assert!(t.fail.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn no_color_has_no_colours_but_keeps_state_visible() {
        let t = Theme::no_color();
        for (slot, style) in t.styles() {
            assert!(!has_color(&style), "{slot} has a colour");
        }
        assert!(t.selection.add_modifier.contains(Modifier::REVERSED));
        assert!(t.fail.add_modifier.contains(Modifier::BOLD));
        assert!(t.live.add_modifier.contains(Modifier::REVERSED));
        assert_ne!(t.live, t.rehearsal);
        assert_ne!(t.ok, t.fail);
    }

    #[test]
    fn resolve_honours_no_color_unless_a_theme_is_named() {
        let plain = Theme::resolve(None, None, Some("1")).unwrap();
        assert_eq!(plain, Theme::no_color());
        let empty = Theme::resolve(None, None, Some("")).unwrap();
        assert_eq!(empty.name, "dark");
        let unset = Theme::resolve(None, None, None).unwrap();
        assert_eq!(unset.name, "dark");
        let named = Theme::resolve(Some("light"), None, Some("1")).unwrap();
        assert_eq!(named.name, "light");
        assert_eq!(Theme::load("no-color", None).unwrap(), Theme::no_color());
    }

    #[test]
    fn bad_colour_names_line_column_and_field() {
        let text = "name = \"mine\"\n[styles]\nok = { fg = \"green\" }\nfail = { fg = \"redd\" }\n";
        let err = Theme::parse(text, "mine.toml").unwrap_err();
        let ThemeError::Parse(e) = &err else {
            panic!("{err}")
        };
        assert_eq!((e.line, e.column), (4, 15));
        assert_eq!(e.field.as_deref(), Some("styles.fail.fg"));
        assert!(e.message.contains("unknown colour `redd`"), "{e}");
        assert!(
            err.to_string()
                .starts_with("mine.toml:4:15: `styles.fail.fg`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_slot_and_unknown_key_are_errors_naming_them() {
        let err = Theme::parse("[styles]\nfial = { fg = \"red\" }\n", "t.toml").unwrap_err();
        let ThemeError::Parse(e) = &err else {
            panic!("{err}")
        };
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.field.as_deref(), Some("styles.fial"));
        assert!(e.message.contains("`fail`"), "lists the slots: {e}");

        let err =
            Theme::parse("[styles]\nok = { fg = \"red\", blink = true }\n", "t.toml").unwrap_err();
        let ThemeError::Parse(e) = &err else {
            panic!("{err}")
        };
        assert_eq!((e.line, e.column), (2, 20));
        assert_eq!(e.field.as_deref(), Some("styles.ok.blink"));
    }

    #[test]
    fn partial_theme_falls_back_to_what_it_extends() {
        let text = "[styles]\nok = { fg = \"#00ff00\", bold = true }\nfail = { fg = 196 }\n";
        let t = Theme::parse(text, "/home/a/.config/drbook/themes/mine.toml").unwrap();
        let dark = Theme::builtin("dark").unwrap();
        assert_eq!(t.name, "mine");
        assert_eq!(
            t.ok,
            Style::default()
                .fg(Color::Rgb(0, 255, 0))
                .add_modifier(Modifier::BOLD)
        );
        assert_eq!(t.fail, Style::default().fg(Color::Indexed(196)));
        assert_eq!(t.border, dark.border);
        assert_eq!(t.live, dark.live);

        let light = Theme::parse("name = \"l2\"\nextends = \"light\"\n", "x").unwrap();
        assert_eq!(light.styles(), Theme::builtin("light").unwrap().styles());
        assert_eq!(light.name, "l2");
    }

    #[test]
    fn false_modifier_is_removed_when_laid_over() {
        let t = Theme::parse(
            "[styles]\nselection = { reversed = true, bold = false }\n",
            "x",
        )
        .unwrap();
        let row = Style::default().add_modifier(Modifier::BOLD);
        let shown = row.patch(t.selection);
        assert!(shown.add_modifier.contains(Modifier::REVERSED));
        assert!(!shown.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn unknown_extends_and_bad_index_are_located() {
        let err = Theme::parse("extends = \"drak\"\n", "t.toml").unwrap_err();
        let ThemeError::Parse(e) = &err else {
            panic!("{err}")
        };
        assert_eq!(
            (e.line, e.column, e.field.as_deref()),
            (1, 11, Some("extends"))
        );
        assert!(e.message.contains("dark, light"), "{e}");

        let err = Theme::parse("[styles]\nok = { fg = 300 }\n", "t.toml").unwrap_err();
        assert!(
            err.to_string()
                .contains("t.toml:2:13: `styles.ok.fg`: colour index 300"),
            "{err}"
        );
    }

    #[test]
    fn load_finds_user_themes_and_paths_and_lists_names_when_unknown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        let own = dir.path().join("themes").join("ops.toml");
        std::fs::write(&own, "[styles]\nok = { fg = \"cyan\" }\n").unwrap();

        let by_name = Theme::load("ops", Some(dir.path())).unwrap();
        assert_eq!(by_name.name, "ops");
        assert_eq!(by_name.ok.fg, Some(Color::Cyan));
        let by_path = Theme::load(&own.display().to_string(), None).unwrap();
        assert_eq!(by_path, by_name);
        assert_eq!(Theme::load("dark", Some(dir.path())).unwrap().name, "dark");

        let err = Theme::load("dracula", Some(dir.path())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("unknown theme `dracula`")
                && msg.contains("dark, light, high-contrast, colorblind, no-color, ops"),
            "{msg}"
        );
        let missing = Theme::load("nowhere/x.toml", None).unwrap_err();
        assert!(matches!(missing, ThemeError::Io { .. }), "{missing}");
    }

    /// The example in themes/README.md is a theme that loads.
    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../../../themes/README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &readme[start..start + readme[start..].find("```").unwrap()];
        let t = Theme::parse(example, "ops.toml").unwrap();
        assert_eq!(t.name, "ops-dark");
        assert_eq!(t.ok.fg, Some(Color::Rgb(0, 0xd7, 0x87)));
        assert_eq!(t.border, Theme::builtin("dark").unwrap().border);
    }
}
