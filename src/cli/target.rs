//! `--target` and its flags: real Azure (a cloud, a credential) or the simulator (started
//! in-process on loopback, or already running at `--arm-endpoint`). The command line turns
//! them into a plain `target::Endpoint`; both end in the same `Reader` over the same
//! `ArmClient`: only the endpoint and the credential differ.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use url::Url;

use crate::azure::{AuthMethod, AzureError, ClientOptions, Cloud};
use crate::sim::scenario::Scenario;
use crate::sim::{self, DEMO_SCENARIO, DEMO_SCENARIO_NAME};
use crate::target::{Endpoint, Estate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The Azure simulator, started in-process with --scenario
    Sim,
    /// Azure Resource Manager (or --arm-endpoint)
    Azure,
}

#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// What to talk to
    #[arg(long, value_enum)]
    pub target: TargetKind,
    /// Simulator scenario (default: the built-in westeurope-outage demo)
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Simulator: play the scenario's timeline up to this point first ("0s", "10s", or "end")
    #[arg(long, value_name = "WHEN", default_value = "end")]
    pub at: String,
    /// How to sign in (default: cli for Azure, sim for the simulator)
    #[arg(long, value_parser = super::values::auth())]
    pub auth: Option<AuthMethod>,
    /// Azure cloud: public, usgov or china
    #[arg(long, default_value = "public")]
    pub cloud: Cloud,
    /// A custom ARM endpoint (Azure Stack, or a `drbook sim` already running)
    #[arg(long, value_name = "URL")]
    pub arm_endpoint: Option<Url>,
    /// Subscription (overrides the runbooks' `subscription` variable; default
    /// $AZURE_SUBSCRIPTION_ID for queries that name none)
    #[arg(long)]
    pub subscription: Option<String>,
    /// Azure requests in flight at once
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Timeout of each Azure request
    #[arg(long, default_value = "30s", value_parser = crate::time::parse_duration)]
    pub timeout: Duration,
    /// Retries of a failed Azure request (5xx, throttling, timeouts)
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    /// Real Azure: a subscription that actions may write to (repeat for more; the config
    /// file's `allow_write_subscriptions` adds to it). Writes elsewhere are refused; reads
    /// never are. The simulator needs none.
    #[arg(long = "allow-write-subscription", value_name = "SUB")]
    pub allow_write_subscription: Vec<String>,
}

/// Where a read-only command over several subscriptions (`discover`, `drift`) reads from:
/// `TargetArgs` without the write guard, the concurrency and the one subscription.
#[derive(Debug, Clone, Args)]
pub struct ReadTargetArgs {
    /// What to read: Azure, or the simulator started in-process with --scenario
    #[arg(long, value_enum)]
    pub target: TargetKind,
    /// Simulator scenario (default: the built-in westeurope-outage demo)
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Simulator: play the scenario's timeline up to this point first ("start", "10s", "end")
    #[arg(long, value_name = "WHEN", default_value = "start")]
    pub at: String,
    /// How to sign in (default: cli for Azure, sim for the simulator)
    #[arg(long, value_parser = super::values::auth())]
    pub auth: Option<AuthMethod>,
    /// Azure cloud: public, usgov or china
    #[arg(long, default_value = "public")]
    pub cloud: Cloud,
    /// A custom ARM endpoint (a `drbook sim` already running)
    #[arg(long, value_name = "URL")]
    pub arm_endpoint: Option<Url>,
    /// Timeout of each Azure request
    #[arg(long, default_value = "30s", value_parser = crate::time::parse_duration)]
    pub timeout: Duration,
    /// Retries of a failed Azure request (5xx, throttling, timeouts)
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
}

impl ReadTargetArgs {
    /// The full target arguments, signing in for `subscription`.
    pub fn target_args(&self, subscription: Option<String>) -> TargetArgs {
        TargetArgs {
            target: self.target,
            auth: self.auth,
            cloud: self.cloud.clone(),
            arm_endpoint: self.arm_endpoint.clone(),
            subscription,
            timeout: self.timeout,
            retries: self.retries,
            ..TargetArgs::simulator(self.scenario.clone(), &self.at)
        }
    }
}

/// A connected target, with the in-process simulator, if any, for as long as it lives (tests
/// and the demo reach into it).
pub struct Connected {
    pub reader: crate::checks::read::Reader,
    pub description: String,
    pub sim: Option<sim::SimHandle>,
}

impl Connected {
    /// The target as the engine sees it: the simulator only as an `Estate`.
    pub fn into_engine(self) -> crate::target::Connected {
        crate::target::Connected {
            reader: self.reader,
            description: self.description,
            estate: self.sim.map(|h| Box::new(SimEstate(h)) as Box<dyn Estate>),
        }
    }
}

/// The in-process simulator as an estate kept beside the incident log.
struct SimEstate(sim::SimHandle);

#[async_trait::async_trait]
impl Estate for SimEstate {
    async fn keep_beside(&self, log: &std::path::Path) -> Result<Option<String>, String> {
        match self.0.keep_beside(log).await {
            Ok(sim::persist::Kept::Replaced(why)) => Ok(Some(why)),
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn shutdown(self: Box<Self>) {
        self.0.shutdown().await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Scenario(#[from] sim::scenario::ScenarioError),
    #[error(transparent)]
    Azure(#[from] AzureError),
    #[error("cannot start the simulator: {0}")]
    Sim(String),
}

impl TargetArgs {
    /// Whether Azure here is a simulator: the built-in one, or `drbook sim` reached with
    /// `--target azure --auth sim` (several drbooks on one simulated Azure).
    pub fn is_simulated(&self) -> bool {
        self.target == TargetKind::Sim || self.auth == Some(crate::azure::AuthMethod::Sim)
    }

    /// The simulator with `scenario` (the built-in demo when `None`), as the command line's
    /// defaults would give it: for tests, benchmarks and the demo.
    pub fn simulator(scenario: Option<PathBuf>, at: &str) -> TargetArgs {
        TargetArgs {
            target: TargetKind::Sim,
            scenario,
            at: at.into(),
            auth: None,
            cloud: Cloud::public(),
            arm_endpoint: None,
            subscription: None,
            concurrency: 16,
            timeout: Duration::from_secs(30),
            retries: 4,
            allow_write_subscription: Vec::new(),
        }
    }

    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            concurrency: usize::from(self.concurrency),
            timeout: self.timeout,
            max_retries: self.retries,
            // The guard protects real subscriptions; a simulator's are no one's.
            write_subscriptions: (!self.is_simulated())
                .then(|| self.allow_write_subscription.clone()),
            ..ClientOptions::default()
        }
    }
}

/// The scenario named by `path`, or the built-in demo.
pub fn load_scenario(path: Option<&PathBuf>) -> Result<(Scenario, String), ConnectError> {
    match path {
        Some(p) => Ok((Scenario::load(p)?, p.display().to_string())),
        None => Ok((
            Scenario::parse(DEMO_SCENARIO_NAME, DEMO_SCENARIO)?,
            DEMO_SCENARIO_NAME.to_string(),
        )),
    }
}

pub async fn connect(
    args: &TargetArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Connected, ConnectError> {
    let subscriptions: Vec<String> = args
        .subscription
        .clone()
        .or_else(|| env("AZURE_SUBSCRIPTION_ID"))
        .into_iter()
        .collect();
    match args.target {
        TargetKind::Sim => {
            if args.arm_endpoint.is_some() {
                return Err(ConnectError::Usage(
                    "--arm-endpoint is for a simulator that is already running: use --target azure --auth sim with it".into(),
                ));
            }
            let (scenario, name) = load_scenario(args.scenario.as_ref())?;
            let at = parse_at(&args.at, &scenario)?;
            let handle = sim::start(
                scenario,
                sim::SimOptions {
                    port: 0,
                    quiet: true,
                    start_at: at,
                },
            )
            .await
            .map_err(|e| ConnectError::Sim(e.to_string()))?;
            let arm =
                Url::parse(&handle.base_url()).map_err(|e| ConnectError::Sim(e.to_string()))?;
            let cloud = Cloud::custom(arm);
            let method = args.auth.unwrap_or(AuthMethod::Sim);
            let reader = reader(
                &cloud,
                method,
                args,
                Some(handle.addr()),
                subscriptions,
                env,
            )?;
            let description = format!(
                "simulator {} ({name}, at +{})",
                handle.base_url(),
                crate::time::exact(at)
            );
            Ok(Connected {
                reader,
                description,
                sim: Some(handle),
            })
        }
        TargetKind::Azure => {
            let cloud = match &args.arm_endpoint {
                Some(u) => Cloud::custom(u.clone()),
                None => args.cloud.clone(),
            };
            let method = args.auth.unwrap_or(AuthMethod::Cli);
            // A real token over plain http can be read and replayed by anyone on the path; a
            // simulator's token (`--auth sim`) is no one's credential.
            if method != AuthMethod::Sim
                && cloud.arm.scheme() == "http"
                && !crate::blob::is_loopback(&cloud.arm)
            {
                return Err(ConnectError::Usage(format!(
                    "refusing to send an Azure token over plain http to {}: use https (plain \
                     http is only for this machine, or a simulator with --auth sim)",
                    cloud.arm
                )));
            }
            // A simulator at --arm-endpoint serves the probes too.
            let via = match method {
                AuthMethod::Sim => cloud
                    .arm
                    .socket_addrs(|| None)
                    .ok()
                    .and_then(|a| a.first().copied()),
                _ => None,
            };
            let reader = reader(&cloud, method, args, via, subscriptions, env)?;
            Ok(Connected {
                reader,
                description: format!("Azure {cloud}, auth {method:?}"),
                sim: None,
            })
        }
    }
}

fn reader(
    cloud: &Cloud,
    method: AuthMethod,
    args: &TargetArgs,
    probe_via: Option<std::net::SocketAddr>,
    subscriptions: Vec<String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<crate::checks::read::Reader, ConnectError> {
    let endpoint = Endpoint {
        cloud: cloud.clone(),
        auth: method,
        probe_via,
        subscriptions,
        client: args.client_options(),
    };
    Ok(crate::target::reader(&endpoint, env)?)
}

/// `--at`: a duration, `start`, or `end` (after the scenario's last event).
pub fn parse_at(s: &str, scenario: &Scenario) -> Result<Duration, ConnectError> {
    match s {
        "start" => Ok(Duration::ZERO),
        "end" => Ok(scenario.timeline_end()),
        other => crate::time::parse_duration(other).map_err(|e| {
            ConnectError::Usage(format!(
                "--at `{other}`: {e} (use e.g. 10s, 2m, start or end)"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::AuthMethod;

    #[test]
    fn drbook_sim_reached_as_azure_is_simulated_and_real_credentials_are_not() {
        let sim = TargetArgs::simulator(None, "end");
        assert!(sim.is_simulated());
        let shared_sim = TargetArgs {
            target: TargetKind::Azure,
            auth: Some(AuthMethod::Sim),
            ..sim.clone()
        };
        assert!(shared_sim.is_simulated());
        for auth in [
            None,
            Some(AuthMethod::Cli),
            Some(AuthMethod::ManagedIdentity),
        ] {
            let real = TargetArgs {
                target: TargetKind::Azure,
                auth,
                ..sim.clone()
            };
            assert!(!real.is_simulated(), "{auth:?}");
        }
    }

    #[tokio::test]
    async fn a_real_token_never_goes_over_plain_http_to_another_machine() {
        let args = |endpoint: &str, auth| TargetArgs {
            target: TargetKind::Azure,
            auth,
            arm_endpoint: Some(Url::parse(endpoint).unwrap()),
            ..TargetArgs::simulator(None, "end")
        };
        for auth in [
            None,
            Some(AuthMethod::Cli),
            Some(AuthMethod::ManagedIdentity),
        ] {
            let Err(e) = connect(&args("http://arm.example.com:8443", auth), |_| None).await else {
                panic!("{auth:?}: connected over plain http");
            };
            assert!(e.to_string().contains("plain http"), "{e}");
        }
        // A simulator elsewhere takes its own token over http.
        assert!(
            connect(&args("http://10.1.2.3:7000", Some(AuthMethod::Sim)), |_| {
                None
            })
            .await
            .is_ok()
        );
    }
}
