//! The operator's cockpit: a ratatui screen over the same engine the headless run drives.
//! `app` holds the state and its one `update`; `view` draws it; `runner` owns the terminal and
//! turns keys, engine updates and logged events into messages. Theme, keys and config are data;
//! `bindings` is each component's one table of the keys it takes, read by handler, hints and help.

#[macro_use]
extern crate drbook_core;

pub mod app;
pub mod bindings;
pub mod clock;
/// A board and an app for render tests and benches: test data, not in the shipped binary.
#[cfg(any(test, feature = "test-support"))]
pub mod fixture;
pub mod keys;
pub mod live;
pub mod model;
pub mod review;
pub mod runner;
pub mod term;
pub mod theme;
pub mod timeline;
pub mod view;

pub use runner::{UiSetup, run};
