#!/usr/bin/env bash
# The README's run command, in a real terminal: opens the demo TUI in tmux, waits for its
# first screen, quits with q, and checks the exit status, the restored terminal and the log.
# Usage: scripts/demo-smoke.sh [path/to/drbook]
set -euo pipefail
bin="${1:-./target/debug/drbook}"
tmp="$(mktemp -d)"
sock="drbook-smoke-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$tmp"' EXIT
tmux -L "$sock" new-session -d -s demo -x 80 -y 24 \
  "env XDG_DATA_HOME=$tmp/data DRBOOK_CONFIG=$tmp/none.toml $bin --log-dir $tmp/logs --operator ci; echo \$? > $tmp/rc; sleep 30"
for _ in $(seq 1 200); do
  tmux -L "$sock" capture-pane -p -t demo | grep -q REHEARSAL && break
  sleep 0.1
done
screen="$(tmux -L "$sock" capture-pane -p -t demo)"
echo "$screen"
grep -q 'Runbooks' <<<"$screen" || { echo "demo-smoke: the TUI did not draw its panes" >&2; exit 1; }
tmux -L "$sock" send-keys -t demo q
for _ in $(seq 1 100); do [ -s "$tmp/rc" ] && break; sleep 0.1; done
rc="$(cat "$tmp/rc" 2>/dev/null || echo none)"
after="$(tmux -L "$sock" capture-pane -p -t demo)"
echo "$after"
[ "$rc" = 0 ] || { echo "demo-smoke: exit status $rc, expected 0" >&2; exit 1; }
grep -q 'the incident is still open' <<<"$after" || { echo "demo-smoke: no closing message" >&2; exit 1; }
ls "$tmp"/logs/*.jsonl >/dev/null || { echo "demo-smoke: no incident log" >&2; exit 1; }
echo "demo-smoke: ok"
