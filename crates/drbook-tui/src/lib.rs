//! The operator's cockpit: a ratatui screen over the same engine the headless run drives.
//! `app` holds the state and its one `update`; `view` draws it; `runner` owns the terminal and
//! turns keys, engine updates and logged events into messages. Theme, keys and config are data;
//! `app::bindings` is each component's one table of the keys it takes, read by handler, hints
//! and help. Dependencies point one way: `view` reads `app`, never the reverse; both share the
//! geometry in `layout`, a leaf. The test below holds that.

#[macro_use]
extern crate drbook_core;

pub mod app;
pub mod clock;
pub mod discovery;
/// A board and an app for render tests and benches: test data, not in the shipped binary.
#[cfg(any(test, feature = "test-support"))]
pub mod fixture;
pub mod keys;
pub mod layout;
pub mod live;
pub mod model;
pub mod review;
pub mod runner;
pub mod term;
pub mod theme;
pub mod timeline;
pub mod view;

pub use runner::{UiSetup, run};

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `root`, relative to it.
    fn sources(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("the crate's sources are readable");
        for e in entries {
            let path = e.expect("a directory entry").path();
            if path.is_dir() {
                sources(root, &path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path.strip_prefix(root).expect("under the root");
                out.push(rel.to_path_buf());
            }
        }
    }

    /// The lines of `text` that reach into `module`: a path through it (`module::`), or a `use`
    /// that brings it in (`use super::{live, module};`). Whole identifiers only, so `review::`
    /// is not `view::` and a local `let view` is not the module; comments are skipped.
    fn imports(text: &str, module: &str) -> Vec<String> {
        let path = format!("{module}::");
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let mut hits = Vec::new();
        let mut in_use = false;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split("//").next().unwrap_or_default();
            let item = line.trim_start();
            let item = ["pub ", "pub(crate) ", "pub(super) "]
                .iter()
                .find_map(|p| item.strip_prefix(p))
                .unwrap_or(item);
            in_use |= item.starts_with("use ");
            let through = line
                .match_indices(&path)
                .any(|(i, _)| !line[..i].ends_with(ident));
            let brought = in_use && line.split(|c: char| !ident(c)).any(|w| w == module);
            if through || brought {
                hits.push(format!("{}: {}", n + 1, raw.trim()));
            }
            if line.contains(';') {
                in_use = false;
            }
        }
        hits
    }

    #[test]
    fn the_scan_finds_every_way_to_name_a_module() {
        let m = format!("{}{}", "vi", "ew");
        let text = format!(
            "use super::{{live, {m}}};\nuse crate::{{\n    app,\n    {m},\n}};\nlet a = crate::{m}::draw;\n\
             let b = re{m}::open;\nlet {m} = 1;\nlet c = share_{m}.x;\n// {m}::draw in a comment"
        );
        let hits = imports(&text, &m);
        assert_eq!(hits.len(), 3, "{hits:#?}");
    }

    /// Issue 17, no circle between folders: `view` reads `app`, so nothing on the app side (nor
    /// the clock, the key tables or the `layout` leaf) may import `view`. Only the drawing side
    /// does: `view/` itself, `lib.rs` that declares it, and the two loops that own a terminal
    /// and draw into it (`runner.rs` live, `review.rs` for a past incident).
    #[test]
    fn nothing_but_the_drawing_side_imports_view() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        // Built, so this file does not name the module it looks for.
        let module = format!("{}{}", "vi", "ew");
        let mut files = Vec::new();
        sources(&src, &src, &mut files);
        assert!(
            files.iter().any(|f| f.starts_with("app")) && files.len() > 20,
            "the scan must see the crate's sources: {files:?}"
        );
        let may = |rel: &Path| {
            rel.starts_with(&module)
                || ["lib.rs", "runner.rs", "review.rs"]
                    .iter()
                    .any(|f| rel == Path::new(f))
        };
        let mut wrong = Vec::new();
        for rel in files.iter().filter(|r| !may(r)) {
            let text = std::fs::read_to_string(src.join(rel)).expect("a source file reads");
            for hit in imports(&text, &module) {
                wrong.push(format!("{}:{hit}", rel.display()));
            }
        }
        assert!(
            wrong.is_empty(),
            "these import `{module}`, which imports `app`: a circle\n{}",
            wrong.join("\n")
        );
        // The geometry both sides share is a leaf: it imports neither.
        let layout = std::fs::read_to_string(src.join("layout.rs")).expect("layout.rs reads");
        let app = format!("{}{}", "ap", "p");
        assert_eq!(imports(&layout, &app), Vec::<String>::new());
    }
}
