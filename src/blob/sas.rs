//! Account SAS signing (https://learn.microsoft.com/rest/api/storageservices/create-account-sas):
//! the account key signs a short-lived token for the blob service, and the token, not the key,
//! goes on the wire.

use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The signed version: 2020-12-06 and later add the encryption scope to the string to sign.
const SIGNED_VERSION: &str = "2022-11-02";
/// Read, write, list, add, create: what the shared log, claims and checks need; never delete.
const PERMISSIONS: &str = "rwlac";

/// A SAS query string for the blob service of `account`, valid from five minutes before `now`
/// (clock skew) for `valid`.
pub fn account_sas(account: &str, key: &[u8], now: DateTime<Utc>, valid: Duration) -> String {
    let start = (now - Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let expiry = (now + valid).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (services, types, protocol) = ("b", "sco", "https,http");
    let to_sign = format!(
        "{account}\n{PERMISSIONS}\n{services}\n{types}\n{start}\n{expiry}\n\n{protocol}\n{SIGNED_VERSION}\n\n"
    );
    let sig = sign(key, &to_sign);
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "sv={SIGNED_VERSION}&ss={services}&srt={types}&sp={PERMISSIONS}&st={}&se={}&spr={}&sig={}",
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

    #[test]
    fn signs_the_documented_fields_in_order() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let sas = account_sas("acct", b"key", now, Duration::hours(1));
        assert!(sas.starts_with("sv=2022-11-02&ss=b&srt=sco&sp=rwlac&st=2026-11-25T02%3A55%3A00Z&se=2026-11-25T04%3A00%3A00Z&spr=https%2Chttp&sig="), "{sas}");
        // The signature is HMAC-SHA256 over the string to sign, computed independently here.
        let expected = sign(
            b"key",
            "acct\nrwlac\nb\nsco\n2026-11-25T02:55:00Z\n2026-11-25T04:00:00Z\n\nhttps,http\n2022-11-02\n\n",
        );
        let got = sas.rsplit("sig=").next().unwrap();
        let got: String = url::form_urlencoded::parse(format!("s={got}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        assert_eq!(got, expected);
        assert_ne!(sign(b"other", "x"), sign(b"key", "x"));
    }
}
