//! drbook's integration tests, one binary: each module was a test binary of its own, and each
//! of those linked the whole library again (23 links on every change). The harnesses they
//! share (tmux, the CLI runner, Azurite, a TCP proxy) are in `support/`.

mod support;

mod azure_faults;
mod blob;
mod carry_out;
mod check;
mod discover;
mod discover_progress;
mod drift;
mod exec;
mod incident_crash;
mod incident_read;
mod layering;
mod report;
mod robustness;
mod roles;
mod run_cli;
mod run_crash;
mod scenarios;
mod share;
mod share_faults;
mod share_tmux;
mod sim;
mod storage;
mod templates;
mod travel_estate;
mod tui_readiness;
mod tui_render;
mod tui_roles;
mod tui_share;
mod tui_tmux;
mod validate;
