//! The executor: carries out the steps of a plan (dependency order, conditions, timeouts,
//! retries, confirmations), each step kind in a task that reports back as messages.

pub mod command;
pub mod engine;
pub mod headless;
pub mod journal;
pub mod outage;
pub mod session;
pub mod steps;

#[cfg(test)]
mod layering {
    //! The layers as the workspace will enforce them: the engine, the share, the checks, the
    //! reports, the simulator and the screen never reach up into the command line, the share
    //! never into the engine's internals, and only the command line opens the screen.

    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// Files under `src/<dir>` whose text holds `crate::` then `path` (put together here, so
    /// this file does not hold what it looks for).
    fn offenders(dirs: &[&str], path: &str) -> Vec<String> {
        let needle = format!("crate::{path}");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        for d in dirs {
            sources(&src.join(d), &mut files);
        }
        assert!(!files.is_empty(), "no sources under {dirs:?}");
        files
            .into_iter()
            .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&needle)))
            .map(|f| f.display().to_string())
            .collect()
    }

    #[test]
    fn nothing_below_the_command_line_imports_it() {
        let below = [
            "exec", "share", "checks", "report", "sim", "tui", "incident",
        ];
        assert_eq!(offenders(&below, "cli"), Vec::<String>::new());
    }

    #[test]
    fn the_share_does_not_reach_into_the_engine() {
        assert_eq!(offenders(&["share"], "exec::engine"), Vec::<String>::new());
    }

    #[test]
    fn the_engine_does_not_start_the_simulator() {
        let engine = ["exec", "share", "checks"];
        assert_eq!(offenders(&engine, "sim"), Vec::<String>::new());
    }

    #[test]
    fn only_the_command_line_opens_the_screen() {
        let below = [
            "exec", "share", "checks", "report", "sim", "incident", "runbook",
        ];
        assert_eq!(offenders(&below, "tui"), Vec::<String>::new());
    }
}
