#!/usr/bin/env bash
# Tamper trials: takes a real rehearsal log (plain and keyed: two headless rehearsals of
# runbooks/network.toml against the simulator), makes many tampered copies of each (last
# lines deleted, a field edited with and without re-chaining by SHA-256, lines reordered,
# dropped or duplicated, a line cut mid-write, the header changed, the key stripped, events
# forged at the end), and counts what `drbook report --format json` says of each:
#   detected   the chain says altered, unreadable or not verified (exit 1)
#   torn       "truncated": what a crash mid-write leaves, trusted up to the cut
#   passes     "intact": only the head quoted elsewhere (ticket, share) can tell
# The last column says, for what the chain lets through, whether the copy's head (as the
# report shows it) differs from the head quoted from the untouched log.
# Usage: scripts/tamper-trials.sh [PLAIN_LOG [KEYED_LOG]]   (needs python3; builds drbook)
# A keyed log needs DRBOOK_LOG_KEY set to its key when given; made here, a fixed test key.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet --bin drbook
bin="$PWD/target/debug/drbook"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key="${DRBOOK_LOG_KEY:-7a3f00c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d}"

rehearse() { # DIR [KEY]
  printf '[manual]\n"*" = { outcome = "ok" }\n' >"$work/answers.toml"
  env ${2:+DRBOOK_LOG_KEY=$2} timeout 120 "$bin" rehearse runbooks/network.toml --target sim \
    --non-interactive --auto-approve --max-delay 200ms --answers "$work/answers.toml" \
    --log-dir "$1" >/dev/null
  ls "$1"/*.jsonl | head -1
}

plain="${1:-$(rehearse "$work/plain")}"
keyed="${2:-$(rehearse "$work/keyed" "$key")}"

python3 - "$bin" "$plain" "$keyed" "$key" "$work" <<'PY'
import hashlib, json, os, subprocess, sys
bin, plain, keyed, key, work = sys.argv[1:]

def rechain(lines, start=0, renumber=False):
    """Re-seals lines[start:] with plain SHA-256 (what someone without the key can do)."""
    out = list(lines[:start])
    prev = out[-1][-66:-2] if out else "0" * 64
    for n, l in enumerate(lines[start:], start + 1):
        body = l[:-75]
        if renumber:
            body = '{"seq":%d,' % n + body.split(",", 1)[1]
        body = body[:-65] + prev + '"'
        h = hashlib.sha256((body + "}").encode()).hexdigest()
        out.append(body + ',"hash":"' + h + '"}')
        prev = h
    return out

def variants(lines):
    n = len(lines)
    mid = [n // 4, n // 2, 3 * n // 4]
    v = {}
    for k in (1, 2, 3, 5, 10):
        v[f"delete last {k}"] = lines[:-k]
    for i in mid + [n - 1]:
        e = lines[i].replace('"actor":"', '"actor":"mallory-', 1)
        v[f"edit line {i+1}, not re-chained"] = lines[:i] + [e] + lines[i + 1:]
        v[f"edit line {i+1}, re-chained sha256"] = rechain(lines[:i] + [e] + lines[i + 1:], i)
    for i in mid:
        v[f"drop line {i+1}"] = lines[:i] + lines[i + 1:]
        v[f"drop line {i+1}, re-chained"] = rechain(lines[:i] + lines[i + 1:], i)
        v[f"drop line {i+1}, renumbered, re-chained"] = rechain(lines[:i] + lines[i + 1:], i, True)
        v[f"swap lines {i+1},{i+2}"] = lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2:]
        v[f"swap lines {i+1},{i+2}, renumbered, re-chained"] = rechain(
            lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2:], i, True)
        v[f"duplicate line {i+1}"] = lines[:i + 1] + lines[i:]
    for cut in (10, 40, 100):
        v[f"last line cut {cut} bytes short"] = lines[:-1] + [lines[-1][:-cut]]
    v["middle line cut short"] = lines[: n // 2] + [lines[n // 2][:50]] + lines[n // 2 + 1:]
    h = lines[0].replace('"title":"', '"title":"Nothing happened: ', 1)
    v["header edited, not re-chained"] = [h] + lines[1:]
    v["header edited, all re-chained"] = rechain([h] + lines[1:])
    if '"keyed":' in lines[0]:
        i = lines[0].index(',"keyed":')
        j = lines[0].index("}", i) + 1
        v["key stripped from header, all re-chained"] = rechain([lines[0][:i] + lines[0][j:]] + lines[1:])
    forged = lines[-1].replace('"actor":"', '"actor":"mallory-', 1)
    forged = '{"seq":%d,' % (n + 1) + forged.split(",", 1)[1]
    v["event forged at the end"] = rechain(lines + [forged], n)
    v["everything after line 2 replaced by a re-chained copy with edits"] = rechain(
        lines[:2] + [l.replace("PASS", "FAIL") for l in lines[2:]], 2)
    return v

def judge(path, env):
    o = subprocess.run([bin, "report", path, "--format", "json"], capture_output=True,
                       env=env, timeout=60)
    try:
        i = json.loads(o.stdout)["integrity"]
    except Exception:
        return "detected", None  # not even a report: refused
    head = i.get("head") or {}
    return {"intact": "passes", "truncated": "torn"}.get(i["verdict"], "detected"), head

results = {}
for name, log, with_key in (("plain", plain, False), ("keyed", keyed, True)):
    text = open(log).read()
    lines = text.splitlines()
    quoted = (len(lines), lines[-1][-66:-2])
    env = dict(os.environ)
    env.pop("DRBOOK_LOG_KEY", None)
    if with_key:
        env["DRBOOK_LOG_KEY"] = key
    rows = []
    for what, copy in variants(lines).items():
        path = os.path.join(work, f"{name}-copy.jsonl")
        body = "\n".join(copy) + ("\n" if not what.startswith("last line cut") else "")
        open(path, "w").write(body)
        verdict, head = judge(path, env)
        moved = head is None or (head.get("seq"), head.get("hash")) != quoted
        rows.append((what, verdict, moved))
    results[name] = rows
    ok, _ = judge(log, env)
    print(f"\n== {name} log: {log} ({len(lines)} events; untouched copy: {ok})")
    print(f"{'tampering':66} {'verdict':9} head moved")
    for what, verdict, moved in rows:
        moved = ("yes" if moved else "NO") if verdict != "detected" else "-"
        print(f"{what:66} {verdict:9} {moved}")

print("\n== summary")
for name, rows in results.items():
    total = len(rows)
    det = sum(v == "detected" for _, v, _ in rows)
    torn = sum(v == "torn" for _, v, _ in rows)
    passes = [(w, m) for w, v, m in rows if v == "passes"]
    by_head = sum(m for _, m in passes)
    torn_head = sum(m for _, v, m in rows if v == "torn")
    print(f"{name}: {total} tampered copies: {det} detected by the chain, {torn} read as a torn "
          f"last line (a crash; {torn_head} of them differ from the quoted head), {len(passes)} "
          f"pass as intact, of which {by_head} are caught by comparing with the quoted head; "
          f"{len(passes) - by_head} undetectable")
PY
