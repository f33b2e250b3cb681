//! The executor: carries out the steps of a plan (dependency order, conditions, timeouts,
//! retries, confirmations), each step kind in a task that reports back as messages.

pub mod command;
pub mod engine;
pub mod headless;
pub mod journal;
pub mod outage;
pub mod session;
pub mod steps;
