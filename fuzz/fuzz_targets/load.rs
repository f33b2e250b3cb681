//! Any bytes into the runbook loader, the validator and the diagnostic renderer: none may
//! panic. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run load fuzz/seeds` (see README).
#![no_main]

use std::path::Path;

use drbook_core::diag::{SourceFile, render};
use drbook_core::runbook::{parse_source, validate::validate_runbook};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let src = SourceFile::new(Path::new("fuzz.toml"), text.as_ref());
    let out = parse_source(&src);
    let mut diags = out.diagnostics;
    if let Some(rb) = &out.runbook {
        diags.extend(validate_runbook(rb, &src));
    }
    for d in &diags {
        let _ = render(d, Some(&src), false);
    }
});
