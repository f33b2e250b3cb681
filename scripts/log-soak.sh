#!/usr/bin/env bash
# Soak the incident log: the SIGKILL crash test with many more trials than `cargo test` runs.
# Usage: scripts/log-soak.sh [TRIALS]   (default 1000; DRBOOK_CRASH_SEED=N repeats a run)
set -euo pipefail
cd "$(dirname "$0")/.."
export DRBOOK_CRASH_TRIALS="${1:-${DRBOOK_CRASH_TRIALS:-1000}}"
exec cargo test --test it -- --nocapture incident_crash::sigkill_at_random_moments
