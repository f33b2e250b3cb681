//! Loading and validating a large runbook set: 1,000 runbooks of 100 steps each (the issue's
//! bar: under a second on this machine). Compared in the same run with the floor: parsing the
//! same files as plain TOML, with no typing or validation.
//!
//! Also 10,000 empty files, each an error, loaded and rendered (linear since issue 14).
//!
//! Run: cargo bench --bench load

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};

const RUNBOOKS: usize = 1_000;
const STEPS: usize = 100;

/// A runbook of `STEPS` steps mixing every kind, with dependencies and references, so the
/// validator does real work on each step.
fn runbook(n: usize) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "[runbook]\nid = \"rb-{n}\"\ntitle = \"Runbook {n}\"\ncomponent = \"web\"\nowner = \"team\"\nrto = \"30m\"\nrpo = \"5m\"\n\n\
         [vars]\nsubscription = \"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f\"\nprimary = \"westeurope\"\nsecondary = \"northeurope\"\n\
         token = {{ secret = true, env = \"TOKEN\" }}\n\n"
    );
    for i in 0..STEPS {
        let dep = if i > 0 {
            format!("depends_on = [\"s{}\"]\n", i - 1)
        } else {
            String::new()
        };
        let body = match i % 5 {
            0 => format!(
                "kind = \"check\"\nresource = \"/subscriptions/${{subscription}}/resourceGroups/rg-${{secondary}}/providers/Microsoft.Web/sites/app-{i}\"\n\
                 api_version = \"2023-12-01\"\nexpect = [{{ path = \"properties.state\", equals = \"Running\" }}, {{ path = \"properties.lastModifiedTimeUtc\", newer_than = \"${{runbook.rpo}}\" }}]\n\
                 outputs = {{ host = \"properties.defaultHostName\" }}\npoll = \"15s\"\ntimeout = \"10m\"\n"
            ),
            1 => format!(
                "kind = \"action\"\nmethod = \"PATCH\"\nresource = \"/subscriptions/${{subscription}}/resourceGroups/rg-global/providers/Microsoft.Network/trafficmanagerprofiles/tm/azureEndpoints/ep-{i}\"\n\
                 api_version = \"2022-04-01\"\nbody = {{ properties = {{ endpointStatus = \"Disabled\" }} }}\nconfirm = true\nretries = 3\n"
            ),
            2 => format!(
                "kind = \"probe\"\nurl = \"https://${{steps.s{}.host}}/healthz\"\nexpect_status = [200, 204]\nbody_matches = \"ok|healthy\"\n",
                i - 2
            ),
            3 => "kind = \"command\"\nargv = [\"kubectl\", \"--context\", \"aks-${secondary}\", \"get\", \"pods\", \"-n\", \"shop\"]\nparse = \"json\"\n\
                  when = { step = \"s0\", outcome = \"ok\" }\n"
                .to_string(),
            _ => "kind = \"manual\"\ninstructions = \"\"\"\nCheck the dashboard for ${secondary}.\nThen tell the incident channel.\n\"\"\"\n".to_string(),
        };
        let _ = write!(
            s,
            "[[step]]\nid = \"s{i}\"\ntitle = \"Step {i}\"\n{dep}{body}\n"
        );
    }
    s
}

fn corpus(dir: &Path) -> Vec<PathBuf> {
    (0..RUNBOOKS)
        .map(|n| {
            let p = dir.join(format!("rb-{n:04}.toml"));
            std::fs::write(&p, runbook(n)).expect("write corpus");
            p
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = corpus(dir.path());
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();

    // Sanity: the generated set is valid, so the benchmark measures the success path.
    let set = drbook::runbook::load_paths(&[dir.path().to_path_buf()]).expect("loads");
    assert_eq!(set.runbooks.len(), RUNBOOKS);
    assert_eq!(set.error_count(), 0, "{:?}", set.diagnostics.first());
    eprintln!(
        "corpus: {RUNBOOKS} runbooks x {STEPS} steps, {:.1} MiB",
        bytes as f64 / 1048576.0
    );

    let mut g = c.benchmark_group("load_1000x100");
    g.sample_size(10);
    g.bench_function("drbook_load_and_validate", |b| {
        b.iter(|| {
            let set = drbook::runbook::load_paths(&[dir.path().to_path_buf()]).expect("loads");
            assert_eq!(set.runbooks.len(), RUNBOOKS);
        })
    });
    g.bench_function("floor_plain_toml_parse_single_thread", |b| {
        b.iter(|| {
            for f in &files {
                let text = std::fs::read_to_string(f).expect("read");
                let t: toml::Table = toml::from_str(&text).expect("parse");
                std::hint::black_box(t);
            }
        })
    });
    g.finish();
}

/// 10,000 empty files, one error each, loaded and rendered as `validate` does: linear (the
/// lookup of each diagnostic's file was a scan, 13 s for this set).
fn many_errors(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..10_000 {
        std::fs::write(dir.path().join(format!("f{i:05}.toml")), "").expect("write");
    }
    let mut g = c.benchmark_group("errors_10000_empty_files");
    g.sample_size(10);
    g.bench_function("load_validate_render", |b| {
        b.iter(|| {
            let set = drbook::runbook::load_paths(&[dir.path().to_path_buf()]).expect("loads");
            let mut bytes = 0;
            for d in &set.diagnostics {
                bytes += drbook::diag::render(d, set.source(&d.file), false).len();
            }
            assert_eq!(set.error_count(), 10_000);
            std::hint::black_box(bytes);
        })
    });
    g.finish();
}

criterion_group!(benches, bench, many_errors);
criterion_main!(benches);
