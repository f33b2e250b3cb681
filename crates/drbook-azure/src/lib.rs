//! The Azure client: credentials and token cache (`auth`), endpoints per cloud (`cloud`), ARM
//! requests with bounded concurrency, retries, throttling and cancellation (`client`),
//! long-running operations (`lro`), Resource Graph and Resource Health (`reads`), and errors
//! that tell the operator what failed and what to do next (`error`).
//!
//! The simulator is reached through exactly this code: only the endpoint and the credential
//! differ. `blob` is the Blob Storage client (append blobs for a shared incident, account SAS
//! signed here). No drbook dependency: this crate is the bottom layer.

pub mod auth;
pub mod client;
pub mod cloud;
pub mod error;
pub mod http;
pub mod lro;
pub mod path;
pub mod reads;

pub use auth::{AuthMethod, TokenCache};
pub use client::{ArmClient, ArmRequest, ArmResponse, ClientOptions};
pub use cloud::Cloud;
pub use error::{AzureError, ErrorKind, RequestIds};
pub use reads::GraphProgress;

pub mod blob;
