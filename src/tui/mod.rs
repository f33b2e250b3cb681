//! The terminal UI: app state, drawing and the event loop, and the data it is tuned with
//! (themes, the key map, the user's config file). The engine never imports from here.
pub mod config;
pub mod keys;
pub mod theme;
