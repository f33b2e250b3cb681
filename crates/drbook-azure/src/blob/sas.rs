//! SAS signing with the account key: drbook signs a short-lived token and sends the token, never
//! the key. A service SAS (https://learn.microsoft.com/rest/api/storageservices/create-service-sas)
//! names one container and only the operations a caller makes; creating that container is the
//! one thing a service SAS cannot do, so it gets an account SAS
//! (https://learn.microsoft.com/rest/api/storageservices/create-account-sas) that allows only
//! that.

use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The signed version: 2020-12-06 and later add the encryption scope to the string to sign.
const SIGNED_VERSION: &str = "2022-11-02";

/// How long a token drbook signs is valid. Each client gets a fresh one when it is made, and
/// every call makes its client, so a token never needs to outlive one call: minutes, not the
/// hour a leaked token would otherwise be good for.
pub const LIFETIME_MINUTES: i64 = 10;

/// `https` only, unless the endpoint is an emulator on loopback (which speaks plain http).
fn protocol(allow_http: bool) -> &'static str {
    if allow_http { "https,http" } else { "https" }
}

fn window(now: DateTime<Utc>, valid: Duration) -> (String, String) {
    // Five minutes back for clock skew between this machine and the service.
    let start = (now - Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let expiry = (now + valid).to_rfc3339_opts(SecondsFormat::Secs, true);
    (start, expiry)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A service SAS for the container `container` of `account`, with `permissions` (in the
/// documented order, e.g. `racw` or `l`), valid from five minutes before `now` for `valid`.
pub fn container_sas(
    account: &str,
    container: &str,
    permissions: &str,
    key: &[u8],
    now: DateTime<Utc>,
    valid: Duration,
    allow_http: bool,
) -> String {
    let (start, expiry) = window(now, valid);
    let protocol = protocol(allow_http);
    // permissions, start, expiry, resource, identifier, IP, protocol, version, resource type,
    // snapshot time, encryption scope, then the five response headers (none overridden).
    let to_sign = format!(
        "{permissions}\n{start}\n{expiry}\n/blob/{account}/{container}\n\n\n{protocol}\n{SIGNED_VERSION}\nc\n\n\n\n\n\n\n"
    );
    let sig = sign(key, &to_sign);
    format!(
        "sv={SIGNED_VERSION}&sr=c&sp={permissions}&st={}&se={}&spr={}&sig={}",
        enc(&start),
        enc(&expiry),
        enc(protocol),
        enc(&sig)
    )
}

/// An account SAS that allows creating containers of the blob service and nothing else (no
/// blob can be read, written or listed with it).
pub fn create_container_sas(
    account: &str,
    key: &[u8],
    now: DateTime<Utc>,
    valid: Duration,
    allow_http: bool,
) -> String {
    let (start, expiry) = window(now, valid);
    let protocol = protocol(allow_http);
    let (permissions, services, types) = ("c", "b", "c");
    let to_sign = format!(
        "{account}\n{permissions}\n{services}\n{types}\n{start}\n{expiry}\n\n{protocol}\n{SIGNED_VERSION}\n\n"
    );
    let sig = sign(key, &to_sign);
    format!(
        "sv={SIGNED_VERSION}&ss={services}&srt={types}&sp={permissions}&st={}&se={}&spr={}&sig={}",
        enc(&start),
        enc(&expiry),
        enc(protocol),
        enc(&sig)
    )
}

fn sign(key: &[u8], text: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn sig_of(sas: &str) -> String {
        let got = sas.rsplit("sig=").next().unwrap();
        url::form_urlencoded::parse(format!("s={got}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    }

    #[test]
    fn a_container_sas_names_one_container_its_permissions_minutes_and_https() {
        let sas = container_sas(
            "acct",
            "dr",
            "racw",
            b"key",
            now(),
            Duration::minutes(LIFETIME_MINUTES),
            false,
        );
        assert!(
            sas.starts_with("sv=2022-11-02&sr=c&sp=racw&st=2026-11-25T02%3A55%3A00Z&se=2026-11-25T03%3A10%3A00Z&spr=https&sig="),
            "{sas}"
        );
        assert!(!sas.contains("ss=") && !sas.contains("srt="), "{sas}");
        // The signature is HMAC-SHA256 over the string to sign, computed independently here.
        let expected = sign(
            b"key",
            "racw\n2026-11-25T02:55:00Z\n2026-11-25T03:10:00Z\n/blob/acct/dr\n\n\nhttps\n2022-11-02\nc\n\n\n\n\n\n\n",
        );
        assert_eq!(sig_of(&sas), expected);
        let emulator = container_sas("a", "c", "l", b"k", now(), Duration::minutes(1), true);
        assert!(emulator.contains("&spr=https%2Chttp&"), "{emulator}");
        assert_ne!(sign(b"other", "x"), sign(b"key", "x"));
    }

    #[test]
    fn the_create_container_sas_allows_only_that() {
        let sas = create_container_sas("acct", b"key", now(), Duration::minutes(10), false);
        assert!(
            sas.starts_with("sv=2022-11-02&ss=b&srt=c&sp=c&st=2026-11-25T02%3A55%3A00Z&se=2026-11-25T03%3A10%3A00Z&spr=https&sig="),
            "{sas}"
        );
        let expected = sign(
            b"key",
            "acct\nc\nb\nc\n2026-11-25T02:55:00Z\n2026-11-25T03:10:00Z\n\nhttps\n2022-11-02\n\n",
        );
        assert_eq!(sig_of(&sas), expected);
    }
}
