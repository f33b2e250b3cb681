#!/usr/bin/env bash
# Renders the HTML report of an incident log in headless Chromium and saves a screenshot,
# to check by eye that the page and its timeline chart render (CI keeps it out of
# `cargo test`; it needs Chromium, installed here from Debian's packages when missing).
#
#   scripts/report-screenshot.sh LOG OUT.png [WIDTHxHEIGHT]
#
# LOG may also be a folder of logs (the history page). DRBOOK picks the binary (default:
# target/debug/drbook, built if absent).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 LOG|DIR OUT.png [WIDTHxHEIGHT]" >&2
  exit 2
fi
log=$1
out=$2
size=${3:-1400x900}
root=$(cd "$(dirname "$0")/.." && pwd)
drbook=${DRBOOK:-$root/target/debug/drbook}

if [ ! -x "$drbook" ]; then
  (cd "$root" && cargo build --quiet --bin drbook)
fi

browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "installing chromium (apt)..." >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  browser=$(command -v chromium)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
html=$work/report.html
# Exit 1 means the report found a problem (say, an altered log): the page is still written.
"$drbook" report "$log" --format html --out "$html" || [ $? -eq 1 ]

# --no-sandbox: Chromium refuses to run as root with its sandbox (containers, CI).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$work/profile" \
  --window-size="${size/x/,}" --screenshot="$(realpath -m "$out")" \
  "file://$html" 2>"$work/chromium.log" || {
  cat "$work/chromium.log" >&2
  exit 1
}
[ -s "$out" ] || { echo "no screenshot written" >&2; cat "$work/chromium.log" >&2; exit 1; }
echo "$out"
