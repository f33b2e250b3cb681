//! The loader never panics and always accounts for a file, whatever the bytes. A fast,
//! deterministic cousin of the cargo-fuzz target (fuzz/), run with every `cargo test`:
//! thousands of mutations of the shipped and broken runbooks.

use std::path::{Path, PathBuf};

use drbook::diag::{SourceFile, render};
use drbook::runbook::{parse_source, validate::validate_runbook};

/// xorshift64*: a tiny deterministic generator, so a failure reproduces exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const NASTY: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "\"",
    "'",
    "\"\"\"",
    "=",
    "\n",
    "{",
    "}",
    ",",
    "${",
    "$${",
    "}",
    ".",
    "#",
    "é",
    "\u{1F525}",
    "\0",
    "\\",
    "\\u",
    "step",
    "kind = \"check\"",
    "depends_on = [\"",
    "[[step]]\nid = \"x\"\n",
    "expect = [",
    "when = { not = { not = {",
];

fn seeds() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["runbooks", "tests/broken"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                let text = std::fs::read_to_string(&p).expect("seed readable");
                out.push((p, text));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 10, "seeds found: {}", out.len());
    out
}

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 => bytes.truncate(at),
            1 => {
                let end = (at + 1 + rng.below(16)).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            2 => {
                let ins = NASTY[rng.below(NASTY.len())].as_bytes();
                bytes.splice(at..at, ins.iter().copied());
            }
            3 => {
                if at < bytes.len() {
                    bytes[at] = (rng.next() & 0xff) as u8;
                }
            }
            _ => {
                // Duplicate a chunk: repeated keys, tables and steps.
                let end = (at + rng.below(200)).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Parses, validates and renders; checks every diagnostic points inside the file.
fn exercise(name: &str, text: &str) {
    let src = SourceFile::new(Path::new(name), text);
    let out = parse_source(&src);
    let mut diags = out.diagnostics;
    if let Some(rb) = &out.runbook {
        diags.extend(validate_runbook(rb, &src));
    }
    let accounted =
        out.runbook.is_some() || out.plan.is_some() || out.scenario || !diags.is_empty();
    assert!(
        accounted,
        "{name}: neither a model nor a diagnostic for:\n{text}"
    );
    let lines = text.split('\n').count();
    for d in &diags {
        assert!(
            d.line >= 1 && d.line <= lines,
            "{name}: line {} of {lines}",
            d.line
        );
        assert!(d.column >= 1, "{name}: column {}", d.column);
        assert!(!d.message.is_empty());
        let shown = render(d, Some(&src), false);
        assert!(shown.contains(d.code), "{name}: rendering lost the code");
    }
}

#[test]
fn thousands_of_mutated_runbooks_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x5EED_0FD8_B00C);
    let mut cases = 0;
    for (path, text) in &seeds {
        for i in 0..150 {
            let m = mutate(&mut rng, text);
            exercise(&format!("{}#{i}", path.display()), &m);
            cases += 1;
        }
    }
    assert!(cases >= 2_000, "ran {cases} cases");
}

#[test]
fn every_truncation_of_a_runbook_is_handled() {
    let seeds = seeds();
    let (path, text) = seeds
        .iter()
        .find(|(p, _)| p.ends_with("tests/broken/unknown-field.toml"))
        .expect("seed present");
    for (cut, _) in text.char_indices() {
        exercise(&format!("{}@{cut}", path.display()), &text[..cut]);
    }
}
