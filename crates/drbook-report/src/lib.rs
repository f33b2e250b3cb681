//! Postmortem reports from incident logs: the analysis of one log (`analysis`, which the
//! review TUI shares), its Markdown and HTML renderings, the comparison of two rehearsals,
//! the history of a folder of them, and what changed in the runbooks since the last
//! successful drill; `critical` finds the chain of steps that set the finish time. Reads
//! logs and runbook files; knows nothing of the screen.

pub mod analysis;
pub mod compare;
pub mod critical;
pub mod diff;
pub mod error;
pub mod gantt;
pub mod history;
pub mod html;
pub mod markdown;
pub mod scorecard;
pub mod sources;
mod stats;
pub mod verdict;

pub use analysis::{Analysis, analyze, analyze_anchored, analyze_events};
pub use compare::{Comparison, compare};
pub use diff::{Changes, changes_since_last_success};
pub use error::ReportError;
pub use history::{History, history};
pub use sources::{FileStatus, Sources};
pub use verdict::{RunbookVerdict, Verdict, verdict};
