//! A connected target: the readers and clients for one endpoint (real Azure, or a simulator
//! reached like Azure), built from a plain `Endpoint` the command line fills in.

use std::net::SocketAddr;
use std::path::Path;

use crate::checks::probe::ProbeClient;
use crate::checks::read::Reader;
use crate::checks::storage::BlobAccess;
use drbook_azure::{
    ArmClient, AuthMethod, AzureError, ClientOptions, Cloud, ErrorKind, TokenCache, auth,
};

/// A connected target. Holds the estate started for it (the in-process simulator), if any,
/// for as long as it lives.
pub struct Connected {
    pub reader: Reader,
    pub description: String,
    pub estate: Option<Box<dyn Estate>>,
}

/// An estate drbook started for this run (the simulator): kept beside the incident log, so a
/// resumed rehearsal meets the Azure it left, and stopped when the run ends. The engine knows
/// it only through this trait; the command line starts it.
#[async_trait::async_trait]
pub trait Estate: Send + Sync {
    /// Keeps the estate beside `log` from now on, restoring what was saved there. `Ok(Some)`:
    /// a saved estate could not be used (why) and was replaced.
    async fn keep_beside(&self, log: &Path) -> Result<Option<String>, String>;
    /// Stops it.
    async fn shutdown(self: Box<Self>);
}

/// Where Azure is and how to sign in to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub cloud: Cloud,
    pub auth: AuthMethod,
    /// Where probes go instead of the names they read (a simulator serves them too).
    pub probe_via: Option<SocketAddr>,
    /// The subscriptions queries that name none read.
    pub subscriptions: Vec<String>,
    pub client: ClientOptions,
}

/// The reader of `endpoint`: ARM, probes and storage, signed in as `endpoint.auth` says.
pub fn reader(
    endpoint: &Endpoint,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Reader, AzureError> {
    let method = endpoint.auth;
    let cloud = &endpoint.cloud;
    let credential = auth::credential(method, cloud, &env)?;
    // Storage steps sign in with the same identity as ARM, unless that is the simulator's.
    let entra = (method != AuthMethod::Sim).then(|| credential.clone());
    let blob = BlobAccess::new(&env, entra);
    let tokens = TokenCache::new(credential, cloud.scope.clone());
    let arm = ArmClient::new(cloud.clone(), tokens, endpoint.client.clone())?;
    let probe = ProbeClient::new(endpoint.probe_via)
        .map_err(|e| AzureError::new("start the HTTP client", "probes", ErrorKind::Client, e))?;
    Ok(Reader {
        arm,
        probe,
        subscriptions: endpoint.subscriptions.clone(),
        blob,
    })
}
