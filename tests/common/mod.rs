pub mod azurite;
pub mod proxy;
