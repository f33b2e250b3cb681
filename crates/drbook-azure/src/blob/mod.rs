//! Azure Blob Storage, for the shared incident log and the `storage` check: which account,
//! container and prefix a URL names, how drbook signs in to it (a SAS or an account key from
//! the environment, else Entra ID), and clients from the official `azure_storage_blob` crate.
//! Nothing secret leaves this module: `Display` and errors show the URL without its query.

pub mod location;
mod newest;
mod sas;

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_storage_blob::{
    AppendBlobClient, AppendBlobClientOptions, BlobClient, BlobClientOptions, BlobContainerClient,
    BlobContainerClientOptions,
};
use url::Url;

pub use location::{Location, is_loopback, strip_query};
pub use newest::{ListError, Newest, newest_blob};
pub use sas::{LIFETIME_MINUTES, container_sas, create_container_sas};

/// The well-known account of the Azure Storage emulator (Azurite) and its published key.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The service version sent with every request. Azurite must be started with
/// `--skipApiVersionCheck` when it is older than this.
pub const SERVICE_VERSION: &str = "2025-11-05";

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{url}: {reason}")]
    Url { url: String, reason: String },
    #[error("{what} on {url}: {reason}")]
    Call {
        what: String,
        url: String,
        reason: String,
    },
}

/// How requests are signed. `Debug` shows the kind, never the secret.
#[derive(Clone)]
pub enum Credentials {
    /// A SAS token (the query string), from the URL or `AZURE_STORAGE_SAS_TOKEN`.
    Sas(String),
    /// The account key (`AZURE_STORAGE_KEY`): drbook signs a SAS with it for each client (one
    /// container, only what the store does, minutes, https), so the key itself is never sent.
    AccountKey(Vec<u8>),
    /// Entra ID (https only).
    Entra(Arc<dyn TokenCredential>),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credentials::Sas(_) => "Credentials::Sas(..)",
            Credentials::AccountKey(_) => "Credentials::AccountKey(..)",
            Credentials::Entra(_) => "Credentials::Entra(..)",
        })
    }
}

impl Credentials {
    /// A SAS in the URL wins, then `AZURE_STORAGE_SAS_TOKEN`, then `AZURE_STORAGE_KEY` (or
    /// the emulator's published key for its well-known account), then Entra ID from `entra`.
    pub fn from_env(
        loc: &Location,
        url_sas: Option<String>,
        env: impl Fn(&str) -> Option<String>,
        entra: impl FnOnce() -> Option<Arc<dyn TokenCredential>>,
    ) -> Result<Credentials, BlobError> {
        let nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(s) = url_sas {
            return Ok(Credentials::Sas(s));
        }
        if let Some(s) = nonempty("AZURE_STORAGE_SAS_TOKEN") {
            return Ok(Credentials::Sas(
                s.trim().trim_start_matches('?').to_string(),
            ));
        }
        let key = nonempty("AZURE_STORAGE_KEY")
            .or_else(|| (loc.account == DEV_ACCOUNT).then(|| DEV_KEY.to_string()));
        if let Some(k) = key {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(k.trim())
                .map_err(|_| BlobError::Url {
                    url: loc.to_string(),
                    reason: "AZURE_STORAGE_KEY is not base64 (copy the key from the portal)".into(),
                })?;
            return Ok(Credentials::AccountKey(bytes));
        }
        if loc.service.scheme() == "https"
            && let Some(c) = entra()
        {
            return Ok(Credentials::Entra(c));
        }
        Err(BlobError::Url {
            url: loc.to_string(),
            reason: "no credential: set AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_KEY, or use an \
                     https URL and sign in with Entra ID"
                .into(),
        })
    }
}

/// What a store does in its container, so that a SAS signed with the account key allows that
/// and nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The shared log: read blobs, append to them, create and write them (`racw`); the
    /// container itself is created with its own token.
    Share,
    /// The `storage` check: list the blobs (`l`).
    List,
}

impl Access {
    /// The service SAS permissions, in the documented order.
    pub fn permissions(self) -> &'static str {
        match self {
            Access::Share => "racw",
            Access::List => "l",
        }
    }
}

/// A container to read and write, signed in.
#[derive(Clone, Debug)]
pub struct Store {
    pub loc: Location,
    creds: Credentials,
    access: Access,
    /// Whether the SDK retries a failed call itself (off for the shared log, whose syncer
    /// decides when to try again and must learn at once that the share is down).
    sdk_retries: bool,
    /// At most this many SDK retries (the SDK's default otherwise).
    max_retries: Option<u32>,
}

impl Store {
    pub fn new(loc: Location, creds: Credentials) -> Store {
        Store {
            loc,
            creds,
            access: Access::Share,
            sdk_retries: true,
            max_retries: None,
        }
    }

    /// Retries a failed call at most `n` times (`--retries`), with the SDK's exponential
    /// backoff, so an unreachable account is reported in seconds rather than a minute.
    pub fn with_max_retries(mut self, n: u32) -> Store {
        self.max_retries = Some(n);
        self
    }

    /// What tokens signed with the account key allow (the share's by default).
    pub fn with_access(mut self, access: Access) -> Store {
        self.access = access;
        self
    }

    /// Calls fail at once instead of being retried by the SDK.
    pub fn without_retries(mut self) -> Store {
        self.sdk_retries = false;
        self
    }

    fn client_options(&self) -> azure_core::http::ClientOptions {
        let mut o = azure_core::http::ClientOptions::default();
        if !self.sdk_retries {
            o.retry = azure_core::http::RetryOptions::none();
        } else if let Some(n) = self.max_retries {
            o.retry = azure_core::http::RetryOptions::exponential(
                azure_core::http::ExponentialRetryOptions {
                    max_retries: n,
                    ..Default::default()
                },
            );
        }
        o
    }

    /// From a URL and the environment (see `Credentials::from_env`).
    pub fn open(
        url: &str,
        env: impl Fn(&str) -> Option<String>,
        entra: impl FnOnce() -> Option<Arc<dyn TokenCredential>>,
    ) -> Result<Store, BlobError> {
        let (loc, sas) = Location::parse(url)?;
        // Before the credential is even looked for: nothing is sent in the clear.
        loc.check_transport()?;
        let creds = Credentials::from_env(&loc, sas, env, entra)?;
        Ok(Store::new(loc, creds))
    }

    /// `url` signed for the SAS kinds (for `op`); the credential for Entra. Refused over
    /// plain http to anywhere but loopback, so no client that could send it is made.
    fn signed(
        &self,
        mut url: Url,
        op: Op,
    ) -> Result<(Url, Option<Arc<dyn TokenCredential>>), BlobError> {
        self.loc.check_transport()?;
        let now = chrono::Utc::now();
        let valid = chrono::Duration::minutes(LIFETIME_MINUTES);
        let http = self.loc.service.scheme() == "http";
        let sas = match &self.creds {
            Credentials::Sas(s) => Some(s.clone()),
            Credentials::AccountKey(k) if op == Op::CreateContainer => {
                Some(create_container_sas(&self.loc.account, k, now, valid, http))
            }
            Credentials::AccountKey(k) => Some(container_sas(
                &self.loc.account,
                &self.loc.container,
                self.access.permissions(),
                k,
                now,
                valid,
                http,
            )),
            Credentials::Entra(c) => return Ok((url, Some(c.clone()))),
        };
        if let Some(s) = sas {
            let q = match url.query() {
                Some(q) if !q.is_empty() => format!("{q}&{s}"),
                _ => s,
            };
            url.set_query(Some(&q));
        }
        Ok((url, None))
    }

    fn fail(&self, what: &str, url: &Url, e: azure_core::Error) -> BlobError {
        BlobError::Call {
            what: what.into(),
            url: strip_query(url.as_str()),
            reason: crate::error::mask_tokens(&e.to_string()),
        }
    }

    /// The container, to work in (list its blobs).
    pub fn container(&self) -> Result<BlobContainerClient, BlobError> {
        self.container_for(Op::InContainer)
    }

    /// The container, to create it: with the account key, the only token that may.
    pub fn container_to_create(&self) -> Result<BlobContainerClient, BlobError> {
        self.container_for(Op::CreateContainer)
    }

    fn container_for(&self, op: Op) -> Result<BlobContainerClient, BlobError> {
        let url = self.loc.container_url();
        let (signed, cred) = self.signed(url.clone(), op)?;
        let options = BlobContainerClientOptions {
            version: SERVICE_VERSION.into(),
            client_options: self.client_options(),
        };
        BlobContainerClient::new(signed, cred, Some(options))
            .map_err(|e| self.fail("open the container", &url, e))
    }

    /// The blob `name` (a path under the prefix is the caller's choice: see `blob_name`).
    pub fn blob(&self, name: &str) -> Result<BlobClient, BlobError> {
        let url = self.loc.blob_url(name);
        let (signed, cred) = self.signed(url.clone(), Op::InContainer)?;
        let options = BlobClientOptions {
            version: SERVICE_VERSION.into(),
            client_options: self.client_options(),
        };
        BlobClient::new(signed, cred, Some(options))
            .map_err(|e| self.fail("open the blob", &url, e))
    }

    pub fn append_blob(&self, name: &str) -> Result<AppendBlobClient, BlobError> {
        let url = self.loc.blob_url(name);
        let (signed, cred) = self.signed(url.clone(), Op::InContainer)?;
        let options = AppendBlobClientOptions {
            version: SERVICE_VERSION.into(),
            client_options: self.client_options(),
        };
        AppendBlobClient::new(signed, cred, Some(options))
            .map_err(|e| self.fail("open the append blob", &url, e))
    }

    /// The URL of `name` without any secret, for messages.
    pub fn shown(&self, name: &str) -> String {
        self.loc.blob_url(name).to_string()
    }
}

/// What a client is for: a service SAS cannot create its own container.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    InContainer,
    CreateContainer,
}

static URL_QUERY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"(https?://[^\s?#)"'<>]+)[?#][^\s)"'<>]*"#).expect("constant regex") // ok: a constant
});
static SAS_SIG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"(?i)\bsig=[^&\s"'<>]+"#).expect("constant regex") // ok: a constant
});

/// Free text (an SDK message that may quote a request URL) with the query of every URL left
/// out and any other SAS signature masked.
pub fn strip_sas(text: &str) -> String {
    let text = URL_QUERY.replace_all(text, "$1");
    SAS_SIG.replace_all(&text, "sig=[hidden]").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_account_and_emulator_urls() {
        let (l, sas) =
            Location::parse("https://acct.blob.core.windows.net/dr/incidents/INC-1?sv=x&sig=abc")
                .unwrap();
        assert_eq!(l.account, "acct");
        assert_eq!(l.container, "dr");
        assert_eq!(l.prefix, "incidents/INC-1");
        assert_eq!(sas.as_deref(), Some("sv=x&sig=abc"));
        assert_eq!(
            l.to_string(),
            "https://acct.blob.core.windows.net/dr/incidents/INC-1"
        );
        assert_eq!(
            l.blob_url(&l.blob_name("timeline.jsonl")).as_str(),
            "https://acct.blob.core.windows.net/dr/incidents/INC-1/timeline.jsonl"
        );

        let (l, sas) = Location::parse("http://127.0.0.1:10000/devstoreaccount1/drbook").unwrap();
        assert_eq!(l.account, DEV_ACCOUNT);
        assert_eq!(l.container, "drbook");
        assert_eq!(l.prefix, "");
        assert!(sas.is_none());
        assert_eq!(
            l.blob_url("a/b.json").as_str(),
            "http://127.0.0.1:10000/devstoreaccount1/drbook/a/b.json"
        );
    }

    #[test]
    fn bad_urls_say_why_without_the_query() {
        for (url, why) in [
            ("ftp://x/y/z", "http(s)"),
            ("https://acct.blob.core.windows.net/", "no container"),
            ("http://127.0.0.1:10000/", "names the account first"),
            ("not a url?sig=SECRET", "relative URL"),
        ] {
            let e = Location::parse(url).unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn credentials_prefer_a_sas_then_a_key_and_never_show_them() {
        let (loc, _) = Location::parse("https://acct.blob.core.windows.net/dr").unwrap();
        let env = |k: &str| match k {
            "AZURE_STORAGE_SAS_TOKEN" => Some("?sv=1&sig=TOPSECRET".to_string()),
            "AZURE_STORAGE_KEY" => Some(DEV_KEY.to_string()),
            _ => None,
        };
        let c = Credentials::from_env(&loc, None, env, || None).unwrap();
        assert!(matches!(&c, Credentials::Sas(s) if s == "sv=1&sig=TOPSECRET"));
        assert!(!format!("{c:?}").contains("TOPSECRET"));

        let only_key = |k: &str| (k == "AZURE_STORAGE_KEY").then(|| DEV_KEY.to_string());
        let c = Credentials::from_env(&loc, None, only_key, || None).unwrap();
        assert!(matches!(c, Credentials::AccountKey(_)));

        let bad_key = |k: &str| (k == "AZURE_STORAGE_KEY").then(|| "not base64!".to_string());
        let e = Credentials::from_env(&loc, None, bad_key, || None).unwrap_err();
        assert!(e.to_string().contains("not base64"), "{e}");
        assert!(!e.to_string().contains("not base64!"), "{e}");

        let e = Credentials::from_env(&loc, None, |_| None, || None).unwrap_err();
        assert!(e.to_string().contains("no credential"), "{e}");
    }

    #[test]
    fn signatures_in_free_text_are_masked() {
        let t = "GET http://h/c?comp=list&sv=1&sig=ABC%2Bdef&se=x failed; sig=Z";
        assert_eq!(strip_sas(t), "GET http://h/c failed; sig=[hidden]");
        let t =
            "error sending request for url (https://a.blob.core.windows.net/c?sig=S&x=1): refused";
        assert_eq!(
            strip_sas(t),
            "error sending request for url (https://a.blob.core.windows.net/c): refused"
        );
    }

    /// No key, SAS or token goes over plain http to another machine: refused when the store
    /// is opened, and no client (so no request) can be made from a store built from parts.
    #[test]
    fn credentials_never_go_over_plain_http_except_to_loopback() {
        let key = |k: &str| (k == "AZURE_STORAGE_KEY").then(|| DEV_KEY.to_string());
        for url in [
            "http://stdrshared.blob.core.windows.net/incidents/INC-1",
            "http://10.1.2.3:10000/devstoreaccount1/drbook",
            "http://stdr.blob.core.windows.net/dr?sv=1&sig=TOPSECRET",
            "http://[fe80::1]:10000/devstoreaccount1/drbook",
        ] {
            let e = Store::open(url, key, || None).unwrap_err().to_string();
            assert!(e.contains("plain http"), "{url}: {e}");
            assert!(!e.contains("TOPSECRET"), "{e}");
        }
        let (loc, _) = Location::parse("http://10.1.2.3:10000/devstoreaccount1/drbook").unwrap();
        for creds in [
            Credentials::AccountKey(b"k".to_vec()),
            Credentials::Sas("sv=1&sig=TOPSECRET".into()),
        ] {
            let store = Store::new(loc.clone(), creds);
            assert!(store.container().is_err());
            assert!(store.container_to_create().is_err());
            assert!(store.blob("b").is_err());
            let Err(e) = store.append_blob("b") else {
                panic!("a client for plain http to another machine");
            };
            let e = e.to_string();
            assert!(e.contains("plain http") && !e.contains("TOPSECRET"), "{e}");
        }
        for url in [
            "http://127.0.0.1:10000/devstoreaccount1/d",
            "http://127.8.9.10:10000/devstoreaccount1/d",
            "http://[::1]:10000/devstoreaccount1/d",
            "http://localhost:10000/devstoreaccount1/d",
            "https://acct.blob.core.windows.net/d",
        ] {
            let store = Store::open(url, key, || None).unwrap();
            assert!(store.append_blob("b").is_ok(), "{url}");
        }
    }

    #[test]
    fn a_key_signs_https_only_except_for_loopback() {
        let key = |k: &str| (k == "AZURE_STORAGE_KEY").then(|| DEV_KEY.to_string());
        let spr = |url: &str| {
            let store = Store::open(url, key, || None).unwrap();
            let signed = store.blob("b").unwrap().url().clone();
            let q: std::collections::BTreeMap<String, String> =
                signed.query_pairs().into_owned().collect();
            assert_eq!(q["sr"], "c", "{q:?}");
            q["spr"].clone()
        };
        assert_eq!(spr("https://acct.blob.core.windows.net/d"), "https");
        assert_eq!(spr("https://127.0.0.1:10000/devstoreaccount1/d"), "https");
        assert_eq!(
            spr("http://127.0.0.1:10000/devstoreaccount1/d"),
            "https,http"
        );
    }

    #[test]
    fn the_emulator_account_needs_no_configuration() {
        let (loc, _) = Location::parse("http://127.0.0.1:10000/devstoreaccount1/dr").unwrap();
        let c = Credentials::from_env(&loc, None, |_| None, || None).unwrap();
        assert!(matches!(c, Credentials::AccountKey(_)));
    }
}
