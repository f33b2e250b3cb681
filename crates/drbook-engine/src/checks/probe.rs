//! HTTP probes. Against real Azure a probe goes where its URL says. Against the simulator it
//! goes to the simulator's address with the URL's host in the `Host` header, which is how the
//! simulator knows which endpoint of the scenario is meant.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::Method;
use url::Url;

#[derive(Debug, Clone)]
pub struct ProbeClient {
    http: drbook_azure::http::LazyHttp,
    via: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct ProbeAnswer {
    pub status: u16,
    pub body: String,
    pub latency: Duration,
}

impl ProbeClient {
    /// `via`: send every probe to this address (the simulator) instead of the URL's host.
    pub fn new(via: Option<SocketAddr>) -> Result<ProbeClient, String> {
        let http = drbook_azure::http::LazyHttp::new(|| {
            reqwest::Client::builder()
                .user_agent(concat!("drbook-probe/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::limited(5))
        });
        Ok(ProbeClient { http, via })
    }

    pub async fn probe(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<ProbeAnswer, String> {
        let parsed = Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("`{method}` is not an HTTP method"))?;
        let (target, host) = match self.via {
            None => (parsed.clone(), None),
            Some(addr) => {
                let mut t = parsed.clone();
                let host = parsed.host_str().unwrap_or_default().to_string();
                t.set_scheme("http")
                    .map_err(|()| format!("cannot route `{url}` to the simulator"))?;
                t.set_ip_host(addr.ip())
                    .map_err(|()| format!("cannot route `{url}` to the simulator"))?;
                t.set_port(Some(addr.port()))
                    .map_err(|()| format!("cannot route `{url}` to the simulator"))?;
                (t, Some(host))
            }
        };
        let mut rb = self.http.get()?.request(method, target).timeout(timeout);
        if let Some(h) = host {
            rb = rb.header(reqwest::header::HOST, h);
        }
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        let started = Instant::now();
        let resp = rb.send().await.map_err(|e| describe(&e, timeout))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| describe(&e, timeout))?;
        Ok(ProbeAnswer {
            status,
            body,
            latency: started.elapsed(),
        })
    }
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {}s", timeout.as_secs_f64())
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        let cause = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        format!("request failed: {cause}")
    }
}
