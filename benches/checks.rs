//! 500 `check` steps against the simulator with 50 ms of injected latency on every answer.
//! Compared in one run: concurrency 16 against its floor (50 ms × ⌈500/16⌉ = 1.6 s), the same
//! checks read through one Resource Graph query, and the same checks one after another.
//!
//! Run: cargo bench --bench checks

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use drbook::checks::read::{Reader, Verdict};
use drbook::checks::run::{CheckOptions, check_all};
use drbook::checks::scope::Scope;
use drbook::cli::target::{TargetArgs, connect};
use drbook::runbook::vars;
use drbook::sim::scenario::Scenario;

const CHECKS: usize = 500;
const LATENCY_MS: u64 = 50;
const SUB: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";

fn site(i: usize) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-bench/providers/Microsoft.Web/sites/app-{i:03}")
}

fn scenario() -> String {
    let mut s = format!(
        "[scenario]\nid = \"bench\"\ntitle = \"bench\"\n\n[faults]\nlatency = \"{LATENCY_MS}ms\"\n\n[[subscription]]\nid = \"{SUB}\"\nname = \"bench\"\n\n"
    );
    for i in 0..CHECKS {
        let _ = write!(
            s,
            "[[resource]]\nid = \"{}\"\nlocation = \"northeurope\"\nproperties = {{ state = \"Running\", lastModifiedTimeUtc = \"${{now-1m}}\" }}\n\n",
            site(i)
        );
    }
    s
}

fn runbook() -> String {
    let mut s = String::from(
        "[runbook]\nid = \"bench\"\ntitle = \"Bench\"\ncomponent = \"web\"\nrpo = \"5m\"\n\n",
    );
    for i in 0..CHECKS {
        let _ = write!(
            s,
            "[[step]]\nid = \"s{i}\"\ntitle = \"Site {i} runs\"\nkind = \"check\"\nresource = \"{}\"\napi_version = \"2023-12-01\"\n\
             expect = [{{ path = \"properties.state\", equals = \"Running\" }}, {{ path = \"properties.lastModifiedTimeUtc\", newer_than = \"${{runbook.rpo}}\" }}]\n\n",
            site(i)
        );
    }
    s
}

fn target_args(scenario: std::path::PathBuf, concurrency: u16) -> TargetArgs {
    TargetArgs {
        concurrency,
        ..TargetArgs::simulator(Some(scenario), "start")
    }
}

async fn measure(
    reader: &Reader,
    work: &[(drbook::runbook::model::Runbook, Scope)],
    via_graph: bool,
) -> Duration {
    let t = Instant::now();
    let rows = check_all(
        reader,
        work.to_vec(),
        CheckOptions {
            via_graph,
            include_after_changes: true,
        },
    )
    .await;
    let elapsed = t.elapsed();
    let pass = rows
        .iter()
        .filter(|r| r.result.verdict == Verdict::Pass)
        .count();
    assert_eq!(
        pass, CHECKS,
        "every check must hold, or the figure means nothing"
    );
    elapsed
}

fn best_of(n: usize, f: impl Fn() -> Duration) -> Duration {
    (0..n).map(|_| f()).min().unwrap_or_default()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sc = dir.path().join("bench-scenario.toml");
    let rb = dir.path().join("bench.toml");
    std::fs::write(&sc, scenario()).expect("write scenario");
    std::fs::write(&rb, runbook()).expect("write runbook");
    Scenario::load(&sc).expect("scenario parses");
    let set = drbook::runbook::load_paths(&[rb]).expect("load");
    assert_eq!(set.error_count(), 0, "{:?}", set.diagnostics);
    let rbk = set.runbooks[0].clone();
    let v = vars::resolve(&rbk, None, &BTreeMap::new(), |_| None).expect("vars");
    let work = vec![(rbk.clone(), Scope::new(&rbk, v, BTreeMap::new()))];

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let floor = Duration::from_millis(LATENCY_MS * CHECKS.div_ceil(16) as u64);
    let c16 = rt
        .block_on(connect(&target_args(sc.clone(), 16), |_| None))
        .expect("sim");
    let c1 = rt
        .block_on(connect(&target_args(sc.clone(), 1), |_| None))
        .expect("sim");

    // Warm up connections and tokens.
    rt.block_on(measure(&c16.reader, &work, false));
    let arm16 = best_of(3, || rt.block_on(measure(&c16.reader, &work, false)));
    let graph = best_of(3, || rt.block_on(measure(&c16.reader, &work, true)));
    let seq = rt.block_on(measure(&c1.reader, &work, false));

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{CHECKS} checks, {LATENCY_MS} ms latency per answer (best of 3; sequential run once)"
    );
    println!(
        "  floor at concurrency 16 (50 ms x {}):   {:>8.0} ms",
        CHECKS.div_ceil(16),
        ms(floor)
    );
    println!(
        "  ARM GETs, concurrency 16:               {:>8.0} ms  = {:.2}x the floor",
        ms(arm16),
        arm16.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "  one Resource Graph query:               {:>8.0} ms  = {:.3}x the floor, {:.1}x faster than ARM GETs",
        ms(graph),
        graph.as_secs_f64() / floor.as_secs_f64(),
        arm16.as_secs_f64() / graph.as_secs_f64()
    );
    println!(
        "  ARM GETs one after another:             {:>8.0} ms  = {:.1}x slower than concurrency 16",
        ms(seq),
        seq.as_secs_f64() / arm16.as_secs_f64()
    );
    for c in [c16, c1] {
        if let Some(s) = c.sim {
            rt.block_on(s.shutdown());
        }
    }
}
