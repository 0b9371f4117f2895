"""Run every benchmark in bench/ (bench_*.py), one after the other, and write bench/RESULTS.md: the command
that made it, the machine's load, each benchmark's command, exit status, wall time and headline figures, and
the table each one printed, as printed.

    python bench/run_all.py                      # every benchmark at its default size (make bench)
    python bench/run_all.py --quick              # small sizes: a smoke run of the whole suite
    python bench/run_all.py --only entry,tick    # some of them (names without bench_ and .py)

A benchmark never fails the build over a number: run_all's exit status is that of the benchmarks themselves
(non-zero when one crashed or, like bench_http, found errors). Figures follow the machine and its load; the
ratios each benchmark prints (to a baseline measured in the same run) move less.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"

# the small sizes of --quick, per benchmark (one without an entry runs with no arguments)
QUICK: dict[str, list[str]] = {
    "bench_entry": ["--quick"],
    "bench_tick": ["--units", "2000"],
    "bench_scale": ["--quick"],
    "bench_smtp": ["--units", "1000"],
    "bench_http": ["--units", "300", "--clients", "4", "--requests", "300", "--rows-requests", "60", "--warmup", "30",
                   "--direct", "30", "--breakdown", "30"],
    "bench_pg": ["--units", "100", "--clients", "4", "--per-client", "30", "--warmup", "5", "--repeat", "1"],
}
ORDER = ["bench_entry", "bench_tick", "bench_smtp", "bench_http"]  # then any other bench_*.py, by name


def benches(only: list[str] | None) -> list[str]:
    found = sorted(p.stem for p in BENCH.glob("bench_*.py"))
    names = [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]
    if only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
        unknown = wanted - set(found)
        if unknown:
            raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))} (there are: {', '.join(names)})")
        names = [n for n in names if n in wanted]
    return names


def headline(name: str, fig: dict[str, Any]) -> list[str]:
    """The few figures of a benchmark's JSON worth a line in the summary (others: see its table)."""
    try:
        if name == "bench_entry":
            return [f"{r['what'].strip()}: {r['measured']} = {r['ratio']}x {r['against'].split()[0]} "
                    f"{r['goal']} {r['verdict']}".rstrip() for r in fig["table"]]
        if name == "bench_tick":
            return [f"{fig['obligations']:,} obligations; create {fig['create_s']:.2f} s; "
                    f"{fig['cross_us_per_changed']:.1f} µs per changed obligation; idle tick "
                    f"{fig['idle_next_minute_ms']:.1f} ms; Prefect flow run - direct {fig['prefect_overhead_s'] * 1e3:.0f} ms",
                    "verdicts: " + ", ".join(f"{k} {v}" for k, v in fig["verdicts"].items())]
        if name == "bench_scale":
            r = fig["ratios"]
            return [f"tick(1M)/tick(10k) {r['tick_1m_over_10k']:.2f}x (<= 2x), create(1M)/create(100k) "
                    f"{r['create_1m_over_100k']:.2f}x (<= 10x), 1M tick peak {r['tick_1m_peak_mb']:.0f} MB (< 300 MB)"
                    if fig["sizes"][-1] == 1_000_000 else f"sizes {fig['sizes']}: ratios of the largest to the smallest",
                    "verdicts: " + ", ".join(f"{k} {v}" for k, v in fig["verdicts"].items())]
        if name == "bench_pg":
            r = fig["ratios"]
            return [f"two campaigns at once: SQLite {fig['sqlite']['two']['rps']:.0f}/s, PostgreSQL "
                    f"{fig['sqlite']['two']['rps'] * r['pg_over_sqlite_two']:.0f}/s (PG/SQLite {r['pg_over_sqlite_two']:.2f}x; two/one "
                    f"campaign {r['pg_two_over_one']:.2f}x)",
                    f"shared audit head costs {(fig['head_cost'] or 0) * 100:.1f} % of a filing's latency (waits "
                    f"{(fig['head_wait_share'] or 0) * 100:.1f} % vs {(fig['head_wait_share_per_campaign'] or 0) * 100:.1f} % "
                    f"with per-campaign heads; < 10 %: {fig['verdict_head']}); A/B {r['per_campaign_over_shared_two']:.2f}x"]
        if name == "bench_smtp":
            return [f"{fig.get('msg_s', 0):.0f} messages/s (raw smtplib baseline {fig.get('baseline_msg_s', 0):.0f}/s); "
                    f"verdict {fig.get('verdict')}"]
        if name == "bench_http":
            lines = []
            for kind in ("pdf", "rows"):
                for level, r in fig.get(kind, {}).items():
                    lines.append(f"{kind} x{level} clients: {r.get('rps', 0):.0f} req/s, p99 {r.get('p99_ms', 0):.0f} ms, "
                                 f"{r.get('x_health_rps', 0):.2f}x health req/s {r.get('verdict', '')}".rstrip())
            return lines
    except (KeyError, TypeError, ValueError) as exc:
        return [f"(figures not read: {type(exc).__name__} {exc})"]
    return [f"{k}: {v}" for k, v in fig.items() if isinstance(v, int | float) and not isinstance(v, bool)][:8]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (see QUICK)")
    ap.add_argument("--only", default=None, help="comma-separated benchmark names (entry, tick, smtp, http, ...)")
    ap.add_argument("--results", default=str(BENCH / "RESULTS.md"), help="where to write the results")
    args = ap.parse_args()
    names = benches(args.only.split(",") if args.only else None)
    command = "python bench/run_all.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    runs: list[dict[str, Any]] = []
    for name in names:
        argv = QUICK.get(name, []) if args.quick else []
        cmd = [sys.executable, str(BENCH / f"{name}.py"), *argv]
        shown = f"python bench/{name}.py" + "".join(f" {shlex.quote(a)}" for a in argv)
        print(f"\n=== {shown}", flush=True)
        out_json = OUT / f"{name}.json"
        before = out_json.stat().st_mtime if out_json.exists() else None
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        sys.stdout.write(proc.stdout)
        if proc.returncode:
            sys.stdout.write(proc.stderr[-4000:])
        fig: dict[str, Any] = {}
        if out_json.exists() and out_json.stat().st_mtime != before:
            fig = json.loads(out_json.read_text(encoding="utf-8"))
        runs.append({"name": name, "command": shown, "exit": proc.returncode, "seconds": seconds,
                     "headline": headline(name, fig) if fig else ["(no figures written)"], "output": proc.stdout,
                     "stderr_tail": proc.stderr.strip().splitlines()[-15:] if proc.returncode else []})
    write(Path(args.results), command, started, load_before, os.getloadavg(), runs)
    print(f"\nresults written to {args.results}")
    return max((r["exit"] for r in runs), default=0)


def write(path: Path, command: str, started: dt.datetime, load_before: tuple[float, ...], load_after: tuple[float, ...],
          runs: list[dict[str, Any]]) -> None:
    def la(x: tuple[float, ...]) -> str:
        return " ".join(f"{v:.2f}" for v in x)

    lines = [
        "# Benchmark results (one run)",
        "",
        f"Made by `{command}` on {started:%Y-%m-%d %H:%M} UTC, {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {la(load_before)} before and "
        f"{la(load_after)} after. Other people's work shares the machine: compare the ratios (each to a baseline "
        "measured in the same run), not the absolute times.",
        "",
        "| benchmark | command | exit | wall time | headline |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        cells = "<br>".join(h.replace("|", "\\|") for h in r["headline"])
        lines.append(f"| {r['name']} | `{r['command']}` | {r['exit']} | {r['seconds']:.0f} s | {cells} |")
    for r in runs:
        lines += ["", f"## {r['name']}", "", f"`{r['command']}` (exit {r['exit']}, {r['seconds']:.0f} s)", "", "```",
                  r["output"].strip(), "```"]
        if r["stderr_tail"]:
            lines += ["", "stderr (tail):", "", "```", *r["stderr_tail"], "```"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
