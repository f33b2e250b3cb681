//! Fault injection: what happens to one ARM request, from the fault knobs in force (drawn with
//! the seeded RNG, so a run repeats) and the one-off injections tests ask for, which go first.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::scenario::Faults;

/// A deterministic fault for the next `count` ARM requests whose path (and query) contains
/// `path_contains` (case-insensitive; `None` matches every request).
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    pub path_contains: Option<String>,
    pub count: u32,
    pub fault: InjectedFault,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InjectedFault {
    /// Answer with this status and ARM error code (and `Retry-After` when given).
    Status {
        status: u16,
        code: String,
        retry_after: Option<Duration>,
    },
    /// Close the connection without an answer.
    Drop,
    /// Answer normally, this much later.
    Delay(Duration),
}

/// The JSON accepted by `POST /sim/inject`:
/// `{"path_contains":"failover","count":2,"fault":"status","status":429,"code":"TooManyRequests","retry_after":"2s"}`,
/// `{"fault":"drop"}`, `{"fault":"delay","delay":"3s"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectionRequest {
    pub path_contains: Option<String>,
    #[serde(default = "one")]
    pub count: u32,
    pub fault: String,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub retry_after: Option<String>,
    pub delay: Option<String>,
}

fn one() -> u32 {
    1
}

impl InjectionRequest {
    pub fn into_injection(self) -> Result<Injection, String> {
        let dur = |what: &str, s: &str| {
            drbook_core::time::parse_duration(s)
                .map_err(|e| format!("{what}: `{s}` is not a duration ({e})"))
        };
        let fault = match self.fault.to_ascii_lowercase().as_str() {
            "status" => {
                let status = self.status.unwrap_or(503);
                if !(400..=599).contains(&status) {
                    return Err(format!("status {status} is not an error status (400-599)"));
                }
                InjectedFault::Status {
                    status,
                    code: self
                        .code
                        .unwrap_or_else(|| default_code(status).to_string()),
                    retry_after: self
                        .retry_after
                        .as_deref()
                        .map(|s| dur("retry_after", s))
                        .transpose()?,
                }
            }
            "drop" => InjectedFault::Drop,
            "delay" => InjectedFault::Delay(dur(
                "delay",
                self.delay.as_deref().ok_or("a delay fault needs `delay`")?,
            )?),
            other => return Err(format!("unknown fault `{other}`: status, drop or delay")),
        };
        Ok(Injection {
            path_contains: self.path_contains,
            count: self.count,
            fault,
        })
    }
}

/// How a region that is down answers, set with its `region_down` event (`outage = { arm =
/// "hang", health = "Unknown" }`) or `POST /sim/regions/{r}/down`. A real outage is not always
/// a clean 503: the regional front ends may accept a connection and never answer, gateways may
/// answer 500/502/504, or a cache may keep serving the last state it saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Outage {
    pub arm: OutageArm,
    /// Resource Health says `Unknown` rather than `Unavailable` for the region's resources:
    /// its own pipeline has no signal from them (it reports Unknown when it has had no data
    /// for a while).
    pub health_unknown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OutageArm {
    /// 503 ServiceUnavailable at once.
    #[default]
    Unavailable,
    /// 500, 502 or 504 with ARM's error body for that status.
    Status(u16),
    /// The connection is accepted and never answered: the client's own timeout ends it.
    Hang,
    /// Reads answer 200 with the resource as it was when the region went down; writes 503.
    Stale,
}

/// The scenario and control form of an `Outage`: `{ arm = "hang", health = "Unknown" }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageDef {
    /// "503" (default), "500", "502", "504", "hang" or "stale".
    pub arm: Option<String>,
    /// "Unavailable" (default) or "Unknown".
    pub health: Option<String>,
}

impl OutageDef {
    pub fn parse(&self) -> Result<Outage, String> {
        let arm = match self.arm.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("503") | Some("unavailable") => OutageArm::Unavailable,
            Some("500") => OutageArm::Status(500),
            Some("502") => OutageArm::Status(502),
            Some("504") => OutageArm::Status(504),
            Some("hang") => OutageArm::Hang,
            Some("stale") => OutageArm::Stale,
            Some(other) => {
                return Err(format!(
                    "outage.arm `{other}`: one of 503, 500, 502, 504, hang, stale"
                ));
            }
        };
        let health_unknown = match self.health.as_deref() {
            None => false,
            Some(h) if h.eq_ignore_ascii_case("Unavailable") => false,
            Some(h) if h.eq_ignore_ascii_case("Unknown") => true,
            Some(other) => {
                return Err(format!("outage.health `{other}`: Unavailable or Unknown"));
            }
        };
        Ok(Outage {
            arm,
            health_unknown,
        })
    }
}

/// How an operation that Azure accepts but documents as not succeeding in an outage ends
/// (`faults.failover_in_outage`): a Cosmos DB priority change with the write region down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doomed {
    /// Stays `InProgress`: the caller's own timeout ends the wait.
    Hang,
    /// Ends `Failed` this long after it was accepted.
    FailAfter(Duration),
}

/// `hang` or `fail after DURATION`.
pub fn doomed(s: &str) -> Result<Doomed, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("hang") {
        return Ok(Doomed::Hang);
    }
    let rest = t
        .strip_prefix("fail after ")
        .ok_or_else(|| format!("`{s}`: `hang` or `fail after DURATION`"))?;
    drbook_core::time::parse_duration(rest.trim())
        .map(Doomed::FailAfter)
        .map_err(|e| format!("`{s}`: `{rest}` is not a duration ({e})"))
}

/// The ARM error code that goes with an HTTP status.
pub fn default_code(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "AuthenticationFailed",
        403 => "AuthorizationFailed",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "InternalServerError",
    }
}

/// What to do with one request, besides the latency.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Pass,
    Throttle {
        retry_after: Duration,
    },
    Error {
        status: u16,
    },
    Drop,
    /// Answer normally, after this long.
    Slow(Duration),
    Injected(InjectedFault),
}

/// Decides the fate of one ARM request: latency, then an injection if one matches, else the
/// rates. Draws the same number of random numbers every time, so the sequence of outcomes
/// depends only on the seed and the order of requests.
pub fn decide(
    faults: &Faults,
    injections: &mut Vec<Injection>,
    rng: &mut StdRng,
    path_and_query: &str,
) -> (Duration, Decision) {
    let draws: [f64; 5] = std::array::from_fn(|_| rng.random::<f64>());
    let latency = Faults::duration(&faults.latency)
        .saturating_add(Faults::duration(&faults.jitter).mul_f64(draws[0]));
    injections.retain(|i| i.count > 0);
    let lower = path_and_query.to_ascii_lowercase();
    if let Some(inj) = injections.iter_mut().find(|i| {
        i.path_contains
            .as_deref()
            .is_none_or(|p| lower.contains(&p.to_ascii_lowercase()))
    }) {
        inj.count -= 1;
        let fault = inj.fault.clone();
        injections.retain(|i| i.count > 0);
        return (latency, Decision::Injected(fault));
    }
    let decision = if draws[1] < faults.throttle_rate {
        Decision::Throttle {
            retry_after: Faults::duration(&faults.retry_after),
        }
    } else if draws[2] < faults.error_rate {
        Decision::Error {
            status: faults.error_status,
        }
    } else if draws[3] < faults.drop_rate {
        Decision::Drop
    } else if draws[4] < faults.slow_rate {
        Decision::Slow(Faults::duration(&faults.slow))
    } else {
        Decision::Pass
    };
    (latency, decision)
}

/// Whole seconds for a `Retry-After` header, rounded up.
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn run(faults: &Faults, n: usize) -> Vec<Decision> {
        let mut rng = StdRng::seed_from_u64(faults.seed);
        let mut inj = Vec::new();
        (0..n)
            .map(|_| decide(faults, &mut inj, &mut rng, "/x").1)
            .collect()
    }

    #[test]
    fn no_faults_pass_with_zero_latency() {
        let f = Faults::default();
        let mut rng = StdRng::seed_from_u64(1);
        let (lat, d) = decide(&f, &mut Vec::new(), &mut rng, "/x");
        assert_eq!(lat, Duration::ZERO);
        assert_eq!(d, Decision::Pass);
    }

    #[test]
    fn rates_of_one_always_fire_in_order() {
        let f = Faults {
            throttle_rate: 1.0,
            retry_after: "3s".into(),
            ..Faults::default()
        };
        assert!(run(&f, 5).iter().all(|d| *d
            == Decision::Throttle {
                retry_after: Duration::from_secs(3)
            }));
        let f = Faults {
            error_rate: 1.0,
            error_status: 500,
            ..Faults::default()
        };
        assert_eq!(run(&f, 1), vec![Decision::Error { status: 500 }]);
        let f = Faults {
            drop_rate: 1.0,
            ..Faults::default()
        };
        assert_eq!(run(&f, 1), vec![Decision::Drop]);
        let f = Faults {
            slow_rate: 1.0,
            slow: "2s".into(),
            ..Faults::default()
        };
        assert_eq!(run(&f, 1), vec![Decision::Slow(Duration::from_secs(2))]);
    }

    #[test]
    fn same_seed_same_outcomes_and_rate_roughly_holds() {
        let f = Faults {
            throttle_rate: 0.3,
            seed: 42,
            ..Faults::default()
        };
        let a = run(&f, 1000);
        assert_eq!(a, run(&f, 1000));
        let throttled = a.iter().filter(|d| **d != Decision::Pass).count();
        assert!((200..400).contains(&throttled), "{throttled}");
        let other = run(&Faults { seed: 43, ..f }, 1000);
        assert_ne!(a, other);
    }

    #[test]
    fn latency_includes_bounded_jitter() {
        let f = Faults {
            latency: "20ms".into(),
            jitter: "10ms".into(),
            ..Faults::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let (lat, _) = decide(&f, &mut Vec::new(), &mut rng, "/x");
            assert!(lat >= Duration::from_millis(20) && lat < Duration::from_millis(30));
        }
    }

    #[test]
    fn injections_go_first_match_paths_and_run_out() {
        let f = Faults::default();
        let mut rng = StdRng::seed_from_u64(1);
        let mut inj = vec![Injection {
            path_contains: Some("FailoverGroups".into()),
            count: 2,
            fault: InjectedFault::Drop,
        }];
        let mut d = |p: &str| decide(&f, &mut inj, &mut rng, p).1;
        assert_eq!(d("/sites/x"), Decision::Pass);
        assert_eq!(
            d("/servers/s/failovergroups/f"),
            Decision::Injected(InjectedFault::Drop)
        );
        assert_eq!(
            d("/servers/s/failovergroups/f"),
            Decision::Injected(InjectedFault::Drop)
        );
        assert_eq!(d("/servers/s/failovergroups/f"), Decision::Pass);
    }

    #[test]
    fn injection_requests_parse() {
        let r: InjectionRequest = serde_json::from_str(
            r#"{"path_contains":"x","count":2,"fault":"status","status":429,"retry_after":"1500ms"}"#,
        )
        .unwrap();
        let i = r.into_injection().unwrap();
        assert_eq!(
            i.fault,
            InjectedFault::Status {
                status: 429,
                code: "TooManyRequests".into(),
                retry_after: Some(Duration::from_millis(1500))
            }
        );
        let bad: InjectionRequest = serde_json::from_str(r#"{"fault":"delay"}"#).unwrap();
        assert!(bad.into_injection().is_err());
        let bad: InjectionRequest =
            serde_json::from_str(r#"{"fault":"status","status":200}"#).unwrap();
        assert!(bad.into_injection().is_err());
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
    }
}
