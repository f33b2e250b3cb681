//! Credentials (through azure_identity) and a token cache in front of them. The cache refreshes
//! a token before it expires, fetches one at a time however many requests wait, and can be
//! told to drop a token Azure refused. Tokens live in `azure_core::credentials::Secret`, whose
//! `Debug` prints nothing, and are never formatted into text.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::time::OffsetDateTime;
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, DeveloperToolsCredential,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use url::Url;

use super::cloud::Cloud;
use super::error::{AzureError, ErrorKind};

/// How drbook signs in (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Developer tools: the Azure CLI login (`az login`), then the Azure Developer CLI.
    Cli,
    /// The managed identity of the VM, container or App Service drbook runs on.
    ManagedIdentity,
    /// Workload identity federation (AKS, GitHub Actions): AZURE_TENANT_ID, AZURE_CLIENT_ID,
    /// AZURE_FEDERATED_TOKEN_FILE.
    WorkloadIdentity,
    /// A service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    ServicePrincipal,
    /// The drbook simulator's token endpoint (`POST {endpoint}/sim/token`).
    Sim,
}

/// Builds the credential for `method`.
pub fn credential(
    method: AuthMethod,
    cloud: &Cloud,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn TokenCredential>, AzureError> {
    let fail = |e: azure_core::Error| {
        AzureError::new(
            "sign in",
            format!("{method:?} credential"),
            ErrorKind::Auth,
            scrub(&e.to_string()),
        )
    };
    let client_options = azure_core::http::ClientOptions {
        cloud: cloud.identity_config().map(Arc::new),
        ..Default::default()
    };
    Ok(match method {
        AuthMethod::Cli => DeveloperToolsCredential::new(None).map_err(fail)?,
        AuthMethod::ManagedIdentity => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                client_options,
                ..Default::default()
            }))
            .map_err(fail)?
        }
        AuthMethod::WorkloadIdentity => {
            let mut options = WorkloadIdentityCredentialOptions::default();
            options.credential_options.client_options = client_options;
            WorkloadIdentityCredential::new(Some(options)).map_err(fail)?
        }
        AuthMethod::ServicePrincipal => {
            let need = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"];
            let missing: Vec<&str> = need
                .iter()
                .copied()
                .filter(|n| env(n).is_none_or(|v| v.is_empty()))
                .collect();
            if !missing.is_empty() {
                return Err(AzureError::new(
                    "sign in",
                    "service principal",
                    ErrorKind::Auth,
                    format!("set {} in the environment", missing.join(", ")),
                ));
            }
            let [tenant, client, secret] = need.map(|n| env(n).unwrap_or_default());
            ClientSecretCredential::new(
                &tenant,
                client,
                Secret::new(secret),
                Some(ClientSecretCredentialOptions { client_options }),
            )
            .map_err(fail)?
        }
        AuthMethod::Sim => Arc::new(SimCredential::new(&cloud.arm)?),
    })
}

/// Tokens from the simulator: the same `TokenCredential` interface as Entra ID, so everything
/// above it is the code real Azure runs.
#[derive(Debug)]
pub struct SimCredential {
    http: super::http::LazyHttp,
    url: Url,
}

impl SimCredential {
    pub fn new(arm: &Url) -> Result<SimCredential, AzureError> {
        let url = arm.join("/sim/token").map_err(|e| {
            AzureError::new("sign in", arm.as_str(), ErrorKind::Client, e.to_string())
        })?;
        let http = super::http::LazyHttp::new(|| {
            reqwest::Client::builder().timeout(Duration::from_secs(10))
        });
        Ok(SimCredential { http, url })
    }
}

#[derive(serde::Deserialize)]
struct SimToken {
    access_token: String,
    expires_on: i64,
}

#[async_trait::async_trait]
impl TokenCredential for SimCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let err = |m: String| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, m)
        };
        let scope = scopes.first().copied().unwrap_or_default();
        let resp = self
            .http
            .get()
            .map_err(err)?
            .post(self.url.clone())
            .json(&serde_json::json!({ "scope": scope }))
            .send()
            .await
            .map_err(|e| {
                err(format!(
                    "simulator token endpoint {}: {}",
                    self.url,
                    e.without_url()
                ))
            })?;
        if !resp.status().is_success() {
            return Err(err(format!(
                "simulator token endpoint {} answered {}",
                self.url,
                resp.status()
            )));
        }
        let t: SimToken = resp
            .json()
            .await
            .map_err(|e| err(format!("simulator token: {}", e.without_url())))?;
        let expires_on =
            OffsetDateTime::from_unix_timestamp(t.expires_on).map_err(|e| err(e.to_string()))?;
        Ok(AccessToken::new(t.access_token, expires_on))
    }
}

struct Cached {
    token: Secret,
    expires_on: OffsetDateTime,
    /// Refresh this long before expiry: five minutes, or a fifth of a short lifetime.
    margin: Duration,
}

/// A token for one scope, cached and refreshed before it expires.
pub struct TokenCache {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub fn new(credential: Arc<dyn TokenCredential>, scope: impl Into<String>) -> TokenCache {
        TokenCache {
            credential,
            scope: scope.into(),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A valid token; fetched when there is none or the cached one is about to expire. One
    /// fetch at a time: concurrent callers wait for it rather than each asking Entra ID.
    pub async fn token(&self) -> Result<Secret, AzureError> {
        let mut slot = self.cached.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some(c) = slot.as_ref()
            && c.expires_on - now > c.margin
        {
            return Ok(c.token.clone());
        }
        let t = self
            .credential
            .get_token(&[&self.scope], None)
            .await
            .map_err(|e| {
                AzureError::new(
                    "sign in",
                    format!("token for {}", self.scope),
                    ErrorKind::Auth,
                    scrub(&e.to_string()),
                )
            })?;
        let lifetime = Duration::try_from(t.expires_on - now).unwrap_or_default();
        let margin = (lifetime / 5).min(Duration::from_secs(300));
        let token = t.token.clone();
        *slot = Some(Cached {
            token: t.token,
            expires_on: t.expires_on,
            margin,
        });
        Ok(token)
    }

    /// Forgets the cached token (Azure said it expired or is invalid).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

/// Credential errors can quote command output (`az account get-access-token`); keep only the
/// first lines and mask anything token-shaped.
fn scrub(s: &str) -> String {
    let first: Vec<&str> = s.lines().take(3).collect();
    super::error::mask_tokens(&first.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Counting {
        calls: AtomicU32,
        lifetime: i64,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let exp =
                OffsetDateTime::now_utc() + azure_core::time::Duration::seconds(self.lifetime);
            Ok(AccessToken::new(format!("tok-{n}"), exp))
        }
    }

    #[tokio::test]
    async fn caches_until_near_expiry_and_refreshes_after_invalidate() {
        let cred = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: 3600,
        });
        let cache = TokenCache::new(cred.clone(), "s/.default");
        assert_eq!(cache.token().await.expect("token").secret(), "tok-0");
        assert_eq!(cache.token().await.expect("token").secret(), "tok-0");
        assert_eq!(cred.calls.load(Ordering::SeqCst), 1);
        cache.invalidate().await;
        assert_eq!(cache.token().await.expect("token").secret(), "tok-1");
    }

    #[tokio::test]
    async fn a_token_inside_its_refresh_margin_is_replaced() {
        // Lifetime 0: always inside the margin, so every call fetches.
        let cred = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: 0,
        });
        let cache = TokenCache::new(cred.clone(), "s");
        cache.token().await.expect("token");
        cache.token().await.expect("token");
        assert_eq!(cred.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn service_principal_names_missing_variables_not_values() {
        let env = |n: &str| (n == "AZURE_CLIENT_SECRET").then(|| "s3cret-value".to_string());
        let e = credential(AuthMethod::ServicePrincipal, &Cloud::public(), env)
            .expect_err("incomplete");
        assert!(
            e.to_string().contains("AZURE_TENANT_ID, AZURE_CLIENT_ID"),
            "{e}"
        );
        assert!(!e.to_string().contains("s3cret-value"));
        assert!(e.is_auth());
    }
}
