//! An HTTP client built on its first request, not when the target is connected.
//!
//! Building a reqwest client with rustls reads and parses every system CA certificate
//! (`rustls-platform-verifier`); drbook has three clients (ARM, the simulator's token, HTTP
//! probes), and this took most of the time from launch to the TUI's first frame, which needs
//! none of them. The first request pays it instead, once per client.

use std::sync::{Arc, OnceLock};

type Build = dyn Fn() -> reqwest::ClientBuilder + Send + Sync;

#[derive(Clone)]
pub struct LazyHttp {
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
    build: Arc<Build>,
}

impl LazyHttp {
    pub fn new(build: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static) -> LazyHttp {
        LazyHttp {
            client: Arc::new(OnceLock::new()),
            build: Arc::new(build),
        }
    }

    /// The client; an error (no TLS backend) says so on every request, as it would have at
    /// start.
    pub fn get(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                (self.build)()
                    .build()
                    .map_err(|e| format!("cannot start the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl std::fmt::Debug for LazyHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyHttp")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_built_on_first_use_and_only_once() {
        let built = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = built.clone();
        let http = LazyHttp::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            reqwest::Client::builder()
        });
        let copy = http.clone();
        assert_eq!(built.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert!(http.get().is_ok());
        assert!(copy.get().is_ok());
        assert_eq!(built.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
