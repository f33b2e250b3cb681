pub mod azurite;
pub mod cli;
pub mod proxy;
pub mod tmux;
