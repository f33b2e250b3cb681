#!/usr/bin/env python3
"""Kill trials on the whole shipped plan: drbook is SIGKILLed at a random moment of a headless
rehearsal, resumed to the end, and its decisions (each step's final outcome: done, failed,
skipped and why) are compared with an uninterrupted run's. Also counts steps finished twice.

Usage: scripts/kill-trials.py [--trials N] [--parallel P] [--min S] [--max S] [--timeout S] [--bin target/debug/drbook]
Prints one line per trial and a summary; exits 1 when any trial differs.
"""
import argparse, json, os, random, signal, subprocess, sys, tempfile, time, collections
from concurrent.futures import ThreadPoolExecutor

ROOT = os.environ.get("DRBOOK_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rehearse(binary, logdir, answers, resume=None):
    cmd = [binary, "rehearse", "runbooks/", "--target", "sim", "--non-interactive",
           "--auto-approve", "--max-delay", "200ms", "--operator", "kill-trial",
           "--answers", answers, "--log-dir", logdir]
    if resume:
        cmd += ["--resume", resume]
    return cmd


def the_log(logdir):
    logs = [f for f in os.listdir(logdir) if f.endswith(".jsonl")] if os.path.isdir(logdir) else []
    return os.path.join(logdir, logs[0]) if logs else None


def events(log):
    """The log's events, each with its step key; a torn last line is left out."""
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            yield e, f"{e.get('runbook')}/{e.get('step')}"


def decisions(log):
    """Each step's final decision, and the steps that finished more than once."""
    final, finished = {}, collections.Counter()
    for e, key in events(log):
        if e.get("event") == "step_finished":
            finished[key] += 1
            final[key] = e.get("outcome")
        elif e.get("event") == "step_skipped":
            reason = e.get("reason", "")
            final[key] = "skipped: " + ("condition" if "condition" in reason else reason[:40])
    twice = sorted(k for k, n in finished.items() if n > 1)
    return final, twice


def open_steps(log):
    """Steps started and not finished: what a hung run is waiting on."""
    started = []
    for e, key in events(log):
        if e.get("event") == "step_started":
            started.append(key)
        elif e.get("event") in ("step_finished", "step_skipped") and key in started:
            started.remove(key)
    return started


def trial(args, n, base):
    rng = random.Random(n)
    with tempfile.TemporaryDirectory() as d:
        logdir = os.path.join(d, "logs")
        delay = rng.uniform(args.min, args.max)
        p = subprocess.Popen(rehearse(args.bin, logdir, args.answers), cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        log = the_log(logdir)
        if log is None:
            return n, delay, "no log yet", []
        try:
            r = subprocess.run(rehearse(args.bin, logdir, args.answers, resume=log), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return n, delay, "HUNG", [f"resume still running after {args.timeout}s; open steps: "
                                      + ", ".join(open_steps(log))]
        got, twice = decisions(log)
        diff = [f"{k}: {base.get(k)} -> {got.get(k)}" for k in sorted(set(base) | set(got))
                if base.get(k) != got.get(k)]
        verdict = "same" if not diff and not twice and r.returncode == 0 else "DIFFERENT"
        if r.returncode != 0:
            diff.append(f"resume exited {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}")
        return n, delay, verdict, diff + [f"finished twice: {k}" for k in twice]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--min", type=float, default=3.0)
    ap.add_argument("--max", type=float, default=40.0)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds a resume may take")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/drbook"))
    args = ap.parse_args()
    work = tempfile.mkdtemp()
    args.answers = os.path.join(work, "answers.toml")
    with open(args.answers, "w") as f:
        f.write('[manual]\n"*" = { outcome = "ok" }\n[confirm]\n"*" = true\n')
    base_dir = os.path.join(work, "base")
    subprocess.run(rehearse(args.bin, base_dir, args.answers), cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    base, twice = decisions(the_log(base_dir))
    print(f"uninterrupted run: {len(base)} steps decided, {len(twice)} finished twice")
    counts = collections.Counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        for n, delay, verdict, diff in pool.map(lambda n: trial(args, n, base), range(args.trials)):
            counts[verdict] += 1
            print(f"trial {n:3}: killed at {delay:5.1f}s: {verdict}")
            for d in diff:
                print(f"    {d}")
    print(f"{args.trials} kills: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    sys.exit(1 if counts["DIFFERENT"] or counts["HUNG"] else 0)


if __name__ == "__main__":
    main()
