//! The Azure simulator: scenario files, an ARM-shaped HTTP server on loopback, outage and fault
//! injection. drbook reaches it through the same client as real Azure.
//!
//! `start` serves a scenario in a tokio task and returns a `SimHandle`, through which tests
//! and the demo change faults and regions and look at resources.

pub mod actions;
pub mod apiversions;
pub mod arm;
pub mod armid;
pub mod conn;
pub mod control;
pub mod faults;
pub mod generate;
pub mod graph;
pub mod json;
pub mod kql;
pub mod persist;
pub mod probe;
pub mod reply;
pub mod scenario;
pub mod server;
pub mod state;
pub mod timeline;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use faults::{InjectedFault, Injection, Outage, OutageArm};
pub use scenario::{Faults, Scenario, ScenarioError};

use conn::{ConnInfo, SimListener};
use server::Shared;
use state::SimState;

/// The scenario `--demo` and `drbook sim` serve when given none: compiled in, so the demo runs
/// from any directory.
pub const DEMO_SCENARIO: &str = include_str!("../../../runbooks/scenarios/westeurope-outage.toml");
/// How errors and the timeline name [`DEMO_SCENARIO`].
pub const DEMO_SCENARIO_NAME: &str = "runbooks/scenarios/westeurope-outage.toml (built in)";

#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// 0: any free port.
    pub port: u16,
    /// No timeline lines on stderr.
    pub quiet: bool,
    /// Start this far into the timeline: events up to here have already happened.
    pub start_at: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// A running simulator. Dropping it stops the server too; `shutdown` also waits for it.
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds 127.0.0.1, serves the scenario in a tokio task; the timeline clock starts now.
pub async fn start(scenario: Scenario, opts: SimOptions) -> Result<SimHandle, SimError> {
    let bind = |source| SimError::Bind {
        port: opts.port,
        source,
    };
    let listener = TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    let started = Instant::now();
    let began = chrono::TimeDelta::from_std(opts.start_at)
        .ok()
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .unwrap_or_else(Utc::now);
    let state = SimState::new(&scenario, began);
    let shared = Arc::new(Shared::new(
        state,
        format!("http://{addr}"),
        opts.quiet,
        started,
        opts.start_at,
    ));
    // Events before `start_at` happen now, before the first request.
    drop(shared.lock());
    let app = Router::new()
        .fallback(server::entry)
        .with_state(shared.clone());
    let cancel = shared.cancel.clone();
    let server = tokio::spawn(async move {
        // Errors here are per-connection and already handled by hyper; serve itself only
        // returns when shutting down.
        let _ = axum::serve(
            SimListener(listener),
            app.into_make_service_with_connect_info::<ConnInfo>(),
        )
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await;
    });
    let ticker = tokio::spawn(run_timeline(shared.clone()));
    Ok(SimHandle {
        shared,
        addr,
        tasks: vec![server, ticker],
    })
}

/// Applies timeline events and finishes operations when they fall due, even when no request
/// comes in (so the log shows the outage as it happens).
async fn run_timeline(sh: Arc<Shared>) {
    loop {
        let next = sh.lock().next_due();
        let wait = next.map(|due| due.saturating_sub(sh.elapsed()));
        tokio::select! {
            _ = sh.cancel.cancelled() => break,
            _ = sh.wake.notified() => {}
            _ = async {
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    /// Keeps the estate beside the incident log at `log`: restores the one saved there (a
    /// resumed incident meets the Azure it left, its timeline clock included), then saves after
    /// every change. A snapshot that cannot be used is said so and saved over.
    pub async fn keep_beside(
        &self,
        log: &std::path::Path,
    ) -> Result<persist::Kept, persist::PersistError> {
        let path = persist::beside(log);
        let restored = {
            let mut st = self.shared.lock();
            persist::restore(&path, &mut st)
        };
        let began = restored.as_ref().ok().copied().flatten();
        let kept = match restored {
            Ok(Some(_)) => persist::Kept::Restored,
            Ok(None) => persist::Kept::Fresh,
            Err(e @ persist::PersistError::Unusable { .. }) => {
                persist::Kept::Replaced(e.to_string())
            }
            Err(e) => return Err(e),
        };
        if let Some(began) = began {
            self.shared.set_timeline_start(began);
            // What fell due while no drbook ran happens now.
            drop(self.shared.lock());
            self.shared.wake.notify_one();
        }
        self.shared.persist_to(path);
        self.shared.save().await?;
        Ok(kept)
    }

    /// Replaces the fault knobs (a different seed restarts the random draws).
    pub fn set_faults(&self, f: Faults) {
        let mut st = self.shared.lock();
        control::set_faults(&mut st, f, false);
    }

    /// A deterministic fault for the next `count` matching ARM requests; injections go before
    /// the rates.
    pub fn inject(&self, i: Injection) {
        self.shared.lock().injections.push(i);
    }

    pub fn region_down(&self, region: &str) {
        control::set_region(&self.shared, region, true);
    }

    /// Takes a region down answering as `outage` says (hang, 5xx, stale reads, Resource
    /// Health Unknown).
    pub fn region_outage(&self, region: &str, outage: faults::Outage) {
        control::set_outage(&self.shared, region, outage);
    }

    /// Revokes every token issued so far: ARM answers 401 InvalidAuthenticationToken to them.
    pub fn revoke_tokens(&self) {
        control::revoke_tokens(&self.shared);
    }

    pub fn region_up(&self, region: &str) {
        control::set_region(&self.shared, region, false);
    }

    /// The resource's ARM JSON as GET returns it (also while its region is down).
    pub fn resource(&self, id: &str) -> Option<serde_json::Value> {
        self.shared.lock().view(id)
    }

    /// Requests received on ARM routes and probe endpoints (not `/sim/*`), dropped ones included.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// A bearer token valid for `lifetime`.
    pub fn issue_token(&self, lifetime: Duration) -> String {
        server::issue_token(&mut self.shared.lock(), lifetime).0
    }

    /// Stops serving and waits (briefly) for the server and the timeline to end.
    pub async fn shutdown(mut self) {
        self.shared.cancel.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}
