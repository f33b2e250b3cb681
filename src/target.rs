//! A connected target: the readers and clients for one endpoint (real Azure, or a simulator
//! reached like Azure), built from a plain `Endpoint` the command line fills in.

use std::net::SocketAddr;

use crate::azure::{
    ArmClient, AuthMethod, AzureError, ClientOptions, Cloud, ErrorKind, TokenCache, auth,
};
use crate::checks::probe::ProbeClient;
use crate::checks::read::Reader;
use crate::checks::storage::BlobAccess;
use crate::sim;

/// A connected target. Holds the in-process simulator, if any, for as long as it lives.
pub struct Connected {
    pub reader: Reader,
    pub description: String,
    pub sim: Option<sim::SimHandle>,
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
