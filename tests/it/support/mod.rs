pub mod azurite;
pub mod cli;
pub mod proxy;
pub mod recorder;
pub mod tmux;
