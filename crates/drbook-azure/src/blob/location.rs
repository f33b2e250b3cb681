//! Which account, container and folder a blob URL names: the URL grammar of the shared log
//! and the `storage` check, with no client (runbook validation reads it too).

use std::fmt;

use url::Url;

use super::BlobError;

/// A container (and a folder in it) in an account.
#[derive(Clone, PartialEq, Eq)]
pub struct Location {
    /// The account's blob endpoint: `https://acct.blob.core.windows.net/`, or for a path-style
    /// (emulator) endpoint `http://127.0.0.1:10000/devstoreaccount1/`.
    pub service: Url,
    pub account: String,
    pub container: String,
    /// A folder inside the container, without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl Location {
    /// Reads `https://acct.blob.core.windows.net/container/some/prefix` or the emulator's
    /// `http://127.0.0.1:10000/devstoreaccount1/container/prefix`. A query (a SAS) is ignored
    /// here: see `Credentials::from_env`.
    pub fn parse(url: &str) -> Result<(Location, Option<String>), BlobError> {
        let bad = |reason: &str| BlobError::Url {
            url: strip_query(url),
            reason: reason.into(),
        };
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("a blob URL must be http(s)"));
        }
        let host = parsed.host_str().ok_or_else(|| bad("no host"))?.to_string();
        let segments: Vec<String> = parsed
            .path_segments()
            .map(|s| s.filter(|x| !x.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let path_style = host.parse::<std::net::IpAddr>().is_ok() || host == "localhost";
        let (account, rest) = if path_style {
            let (first, rest) = segments.split_first().ok_or_else(|| {
                bad("an emulator URL names the account first: /devstoreaccount1/container")
            })?;
            (first.clone(), rest.to_vec())
        } else {
            let account = host.split('.').next().unwrap_or_default().to_string();
            (account, segments)
        };
        let (container, prefix) = rest
            .split_first()
            .ok_or_else(|| bad("no container in the URL"))?;
        let mut service = parsed.clone();
        service.set_query(None);
        service.set_fragment(None);
        service.set_path(&if path_style {
            format!("/{account}/")
        } else {
            "/".into()
        });
        let sas = parsed
            .query()
            .filter(|q| q.contains("sig="))
            .map(str::to_string);
        Ok((
            Location {
                service,
                account,
                container: container.clone(),
                prefix: prefix.join("/"),
            },
            sas,
        ))
    }

    /// `prefix/name`, or `name` when there is no prefix.
    pub fn blob_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// Whether the endpoint is on this machine (127.0.0.0/8, ::1, `localhost`): the only place
    /// plain http may carry a credential, as an emulator there cannot be listened to.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.service)
    }

    /// Refuses plain http to anywhere but loopback: a key, a SAS or a token sent there can be
    /// read (and replayed) by anyone on the path.
    pub(super) fn check_transport(&self) -> Result<(), BlobError> {
        if self.service.scheme() == "https" || self.is_loopback() {
            return Ok(());
        }
        Err(BlobError::Url {
            url: self.to_string(),
            reason: "refusing to send a credential over plain http to a host that is not this \
                     machine: use https (plain http is only for an emulator on loopback)"
                .into(),
        })
    }

    /// The container's URL, for messages (it never holds a query).
    pub fn container_shown(&self) -> String {
        self.container_url().to_string()
    }

    pub(super) fn container_url(&self) -> Url {
        let mut u = self.service.clone();
        u.path_segments_mut()
            .map(|mut p| {
                p.pop_if_empty().push(&self.container);
            })
            .ok();
        u
    }

    pub(super) fn blob_url(&self, name: &str) -> Url {
        let mut u = self.container_url();
        u.path_segments_mut()
            .map(|mut p| {
                p.extend(name.split('/'));
            })
            .ok();
        u
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.container_url())?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// Whether `url` names this machine (127.0.0.0/8, ::1, `localhost`): the only host plain http
/// may carry a credential to.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `url` without its query string (which may hold a SAS).
pub fn strip_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_string()
}
