#!/usr/bin/env bash
# Soak the end-to-end crash test: the real drbook killed with SIGKILL at random moments of a
# rehearsal, many more times than the suite does. Usage: scripts/run-soak.sh [TRIALS] (default 500)
set -euo pipefail
cd "$(dirname "$0")/.."
DRBOOK_CRASH_TRIALS="${1:-500}" cargo test --release --test it -- --nocapture run_crash::
