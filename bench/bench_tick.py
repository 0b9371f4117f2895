#!/usr/bin/env python
"""Benchmark of campaign creation and of the tick (not a test): see bench/README.md.

Builds a campaign of N units x R requirements (default 20,000 x 10 = 200,000 obligations) in a fresh
SQLite file, then times: creation, the tick that starts the phase, the tick at which exactly 2 % of the
obligations cross their due instant, ticks with nothing to do, the same tick through Prefect, and the
gate probe. Every figure is also given as a ratio to a baseline measured in the same run (a plain
`SELECT count(*) FROM obligations`), so that runs on different machines can be compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TZ = ZoneInfo("Asia/Shanghai")
KEY = "bench"
# The phase runs 03-03 .. 03-31 (2025). Step "pilot" (the batch's report) is due 03-14 end of day; every
# other obligation is due 03-28. The reminder tick sends the batch's on-due reminders just before the
# due instant, so that the crossing tick has nothing to do but mark the batch overdue.
T_CREATE = dt.datetime(2025, 3, 1, 9, 0, tzinfo=TZ)
T_START = dt.datetime(2025, 3, 3, 10, 0, tzinfo=TZ)
T_REMIND = dt.datetime(2025, 3, 14, 23, 0, tzinfo=TZ)
T_CROSS = dt.datetime(2025, 3, 15, 0, 0, 30, tzinfo=TZ)
MINUTE = dt.timedelta(minutes=1)
TARGETS = {"create_s": 5.0, "cross_us_per_changed": 25.0, "idle_same_instant_ms": 20.0, "idle_next_minute_ms": 20.0}


def spec_text(n_units: int, n_reqs: int, batch: int | None = None, pilot: int = 1,
              units_csv: Path | None = None) -> tuple[str, int]:
    """YAML of the campaign; returns it and the size of the batch (units whose pilot reports cross).

    The batch owes `pilot` requirements (r00, r01, ...) in the pilot step: batch x pilot obligations cross
    at T_CROSS. Default: 2 % of the obligations, one per batch unit (bench_scale.py gives a fixed batch).
    With `units_csv`, the units go to that CSV file (a unit list, as a province keeps it) and the spec names it
    in `units_file` (load it with base_dir = its folder): a spec is at most 1 MB, about 15,000 units inline."""
    if batch is None:
        batch = round(0.02 * n_units * n_reqs)  # 2 % of the obligations, one per batch unit
    batch = min(n_units, batch)
    pilot = max(1, min(pilot, n_reqs))
    n_districts = max(1, n_units // 200)
    rows = [("bureau", "县教育局", "", "")]
    for i in range(n_units):  # the organizer plus n_units units that file: districts, then schools
        tag = "batch" if (i * batch) // n_units != ((i + 1) * batch) // n_units else "rest"
        if i < n_districts:
            rows.append((f"d{i:04d}", f"区{i:04d}", "bureau", tag))
        else:
            rows.append((f"s{i:06d}", f"学校{i:06d}", f"d{i % n_districts:04d}", tag))
    lines = ["version: 1", f"key: {KEY}", "title: 基准测试活动", "timezone: Asia/Shanghai", "calendar: cn",
             "organizer: bureau"]
    if units_csv is not None:
        units_csv.parent.mkdir(parents=True, exist_ok=True)
        units_csv.write_text("key,name,parent,tags\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
        lines.append(f"units_file: {units_csv.name}")
    else:
        lines.append("units:")
        for key, name, parent, tag in rows:
            lines.append(f"  - {{key: {key}, name: {name}" + (f", parent: {parent}, tags: [{tag}]}}" if parent else "}"))
    lines.append("artifacts:")
    lines += [f"  r{j:02d}: {{title: 材料{j:02d}}}" for j in range(n_reqs)]
    lines += ["phases:", "  - key: check", "    title: 自查", "    kind: self_check",
              "    start: 2025-03-03", "    end: 2025-03-31", "    steps:",
              "      - {key: pilot, title: 试点先行, due: 2025-03-14,",
              "         requires: [" + ", ".join(f"{{artifact: r{j:02d}, from: 'tag:batch'}}" for j in range(pilot)) + "]}",
              "      - key: main", "        title: 全面自查", "        due: 2025-03-28", "        requires:"]
    lines += [f"          - {{artifact: r{j:02d}, from: 'tag:rest'}}" for j in range(pilot)]
    lines += [f"          - {{artifact: r{j:02d}, from: all}}" for j in range(pilot, n_reqs)]
    return "\n".join(lines) + "\n", batch


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


@contextmanager
def sql_log(engine: Any) -> Iterator[list[tuple[float, str, Any]]]:
    """Records (seconds, SQL, parameters) of every statement the engine runs inside the block."""
    from sqlalchemy import event

    log: list[tuple[float, str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        log.append((time.perf_counter() - conn.info.pop("bench_t0"), statement, params))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


@contextmanager
def step_times() -> Iterator[dict[str, float]]:
    """Wall time per tick step (flows.steps functions), for the direct ticks only."""
    from flows import steps

    names = ("start_phases", "running_phases", "check_deadlines", "plan_reminders", "evaluate_gate",
             "advance_phase", "send_reminders", "finish_tick")
    spent: dict[str, float] = {}
    originals = {n: getattr(steps, n) for n in names}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0
        return run

    for n, fn in originals.items():
        setattr(steps, n, wrap(n, fn))
    try:
        yield spent
    finally:
        for n, fn in originals.items():
            setattr(steps, n, fn)


def query_plan(engine: Any, statement: str, params: Any) -> list[str]:
    raw = engine.raw_connection()
    try:
        return [row[-1] for row in raw.cursor().execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()]
    finally:
        raw.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=20000, help="units that file (plus one organizer)")
    ap.add_argument("--requirements", type=int, default=10, help="requirements per unit")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="campaignflow-bench-"))
    os.environ["CAMPAIGN_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    from campaign_app.settings import Settings

    Settings.from_env().prepare_prefect()  # analytics off, quiet logs; before prefect is imported
    from sqlalchemy import text

    from campaign_model.specfile import load_spec_text
    from campaign_model.store import phases as phase_store
    from campaign_model.store.audit import Act
    from campaign_model.store.campaigns import create_campaign, load_ctx
    from flows import steps
    from flows.tick import tick, tick_direct

    url = f"sqlite:///{home / 'campaign.db'}"
    outbox_file = str(home / "outbox" / f"{KEY}.jsonl")
    engine = steps.engine_for(url)  # db.open_engine(url), the engine the tick steps use
    acts = lambda at: Act(at.astimezone(dt.UTC), "bench", dt.datetime.now(dt.UTC))  # noqa: E731
    fig: dict[str, Any] = {"units": args.units, "requirements": args.requirements}
    breakdown: dict[str, dict[str, float]] = {}
    slow_sql: dict[str, list[tuple[float, str]]] = {}
    logs: dict[str, list[tuple[float, str, Any]]] = {}

    def direct(name: str, at: dt.datetime) -> dict[str, Any]:
        with step_times() as spent, sql_log(engine) as log:
            seconds, result = timed(tick_direct, url, KEY, acts(at), outbox_file)
        fig[name] = seconds
        breakdown[name] = spent
        slow_sql[name] = [(s, q) for s, q, _ in sorted(log, key=lambda x: -x[0])[:3]]
        logs[name] = log
        return result

    text_, batch = spec_text(args.units, args.requirements, units_csv=home / "units.csv")  # a spec is at most 1 MB
    fig["load_spec_s"], loaded = timed(lambda: load_spec_text(text_, "<bench>", base_dir=home))
    with engine.begin() as conn, sql_log(engine) as log:
        fig["create_s"], summary = timed(create_campaign, conn, loaded, acts(T_CREATE))
    slow_sql["create_s"] = [(s, q) for s, q, _ in sorted(log, key=lambda x: -x[0])[:3]]
    fig["obligations"], fig["batch"] = summary["obligations"], batch
    with engine.connect() as conn:
        count_sql = "SELECT count(*) FROM obligations"
        runs = [timed(lambda: conn.exec_driver_sql(count_sql).scalar())[0] for _ in range(5)]
    fig["baseline_count_s"] = statistics.median(runs)
    fig["baseline_plan"] = query_plan(engine, count_sql, ())

    direct("start_tick_s", T_START)
    fig["reminders_planned"] = direct("remind_tick_s", T_REMIND)["reminders_planned"]
    cross = direct("cross_tick_s", T_CROSS)
    fig["overdue_marked"] = cross["overdue_marked"]
    fig["cross_us_per_changed"] = fig["cross_tick_s"] / max(1, cross["overdue_marked"]) * 1e6
    direct("idle_same_instant_s", T_CROSS)
    idle = []
    for i in range(1, 4):
        direct("idle_next_minute_s", T_CROSS + i * MINUTE)
        idle.append(fig["idle_next_minute_s"])
    fig["idle_next_minute_s"] = statistics.median(idle)
    fig["idle_same_instant_ms"] = fig["idle_same_instant_s"] * 1e3
    fig["idle_next_minute_ms"] = fig["idle_next_minute_s"] * 1e3

    at = T_CROSS + 10 * MINUTE  # Prefect: the first flow run starts a temporary API server
    fig["prefect_first_run_s"], _ = timed(tick, url, KEY, acts(at), outbox_file)
    flow_runs = [timed(tick, url, KEY, acts(at + i * MINUTE), outbox_file)[0] for i in range(1, 4)]
    fig["prefect_idle_tick_s"] = statistics.median(flow_runs)
    fig["prefect_overhead_s"] = fig["prefect_idle_tick_s"] - fig["idle_next_minute_s"]
    fig["prefect_server_start_s"] = fig["prefect_first_run_s"] - fig["prefect_idle_tick_s"]

    with engine.connect() as conn:
        phase_id = phase_store.phase_rows(conn, load_ctx(conn, KEY).id)[0].id

    def gate(label: str) -> None:
        with engine.connect() as conn, sql_log(engine) as log:
            runs = [timed(phase_store.gate_open_exists, conn, phase_id) for _ in range(50)]
        fig[f"gate_{label}_s"], fig[f"gate_{label}_result"] = statistics.median(r[0] for r in runs), runs[0][1]
        fig[f"gate_{label}_plan"] = query_plan(engine, log[0][1], log[0][2])
    gate("open")  # the gate still held: the probe stops at the first open gating obligation
    with engine.begin() as conn:  # bench data only: every obligation accepted, so the probe finds nothing
        conn.execute(text("UPDATE obligations SET state = 'accepted', done = 1"))
    gate("met")

    base = fig["baseline_count_s"]
    rows = [("load_spec_text (YAML, unit list, checks; not creation)", "load_spec_s", None),
            ("create_campaign", "create_s", "< 5 s"),
            ("tick 1: starts the phase", "start_tick_s", None),
            (f"tick 2: plans + sends {fig['reminders_planned']} reminders", "remind_tick_s", None),
            (f"tick 3: {fig['overdue_marked']} obligations cross due", "cross_tick_s", "<= 25 us/changed"),
            ("tick, nothing to do (same instant)", "idle_same_instant_s", "< 20 ms"),
            ("tick, nothing to do (a minute later, median 3)", "idle_next_minute_s", "< 20 ms"),
            ("Prefect: first flow run (temporary server)", "prefect_first_run_s", None),
            ("  of which server start (first - median)", "prefect_server_start_s", None),
            ("Prefect: tick, nothing to do (median 3)", "prefect_idle_tick_s", None),
            ("Prefect overhead (flow - direct)", "prefect_overhead_s", None),
            ("gate probe, gate held (median 50)", "gate_open_s", None),
            ("gate probe, gate met (median 50)", "gate_met_s", None)]
    verdicts = {
        "create_s": fig["create_s"] < TARGETS["create_s"],
        "cross_tick_s": fig["cross_us_per_changed"] <= TARGETS["cross_us_per_changed"],
        "idle_same_instant_s": fig["idle_same_instant_ms"] < TARGETS["idle_same_instant_ms"],
        "idle_next_minute_s": fig["idle_next_minute_ms"] < TARGETS["idle_next_minute_ms"],
        "gate_plan": all("SCAN" not in line for line in fig["gate_open_plan"] + fig["gate_met_plan"]),
    }
    print(f"\ncampaignflow tick benchmark: {args.units:,} units (+1 organizer) x {args.requirements} requirements = "
          f"{fig['obligations']:,} obligations, batch {batch:,}; SQLite {home / 'campaign.db'}")
    print(f"baseline: SELECT count(*) FROM obligations = {base * 1e3:.2f} ms  ({'; '.join(fig['baseline_plan'])})\n")
    print(f"{'figure':<52}{'measured':>12}{'x baseline':>12}  {'target':<18}verdict")
    for label, name, target in rows:
        secs = fig[name]
        shown = (f"{secs:.3f} s" if abs(secs) >= 1 else f"{secs * 1e3:.2f} ms" if abs(secs) >= 1e-3
                 else f"{secs * 1e6:.1f} us")
        verdict = "" if target is None else "PASS" if verdicts[name] else "MISS"
        print(f"{label:<52}{shown:>12}{secs / base:>12.2f}  {target or '':<18}{verdict}")
        fig[name[:-2] + "_x_baseline"] = secs / base
    print(f"{'  per changed obligation':<52}{fig['cross_us_per_changed']:>9.1f} us{'':>12}  {'<= 25 us':<18}"
          f"{'PASS' if verdicts['cross_tick_s'] else 'MISS'}")
    print(f"{'gate query plan uses an index, no scan':<52}{'':>24}  {'index only':<18}"
          f"{'PASS' if verdicts['gate_plan'] else 'MISS'}")
    print("\ngate query plan:", "; ".join(fig["gate_met_plan"]), f"(held: {fig['gate_open_result']}, "
          f"met: {not fig['gate_met_result']})")
    print("\nwhere the time goes (ms per tick step; the slowest SQL statements):")
    for name, sqls in slow_sql.items():
        print(f"  {name}: " + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in breakdown.get(name, {}).items()))
        for secs, sql in sqls:
            print(f"      {secs * 1e3:8.2f} ms  {' '.join(sql.split())[:110]}")
    print("\nquery plans of the idle tick's statements on obligations (a 'USING INDEX' on phase_id alone reads "
          "every obligation of the phase):")
    seen: set[str] = set()
    for secs, sql, params in logs["idle_next_minute_s"]:
        if "obligations" in sql and sql not in seen and not sql.lstrip().upper().startswith("PRAGMA"):
            seen.add(sql)
            plan = "; ".join(query_plan(engine, sql, params))
            fig.setdefault("idle_tick_plans", []).append({"sql": sql, "ms": secs * 1e3, "plan": plan})
            print(f"  {secs * 1e3:7.2f} ms  {' '.join(sql.split())[:90]}\n             -> {plan}")
    fig["verdicts"] = {k: "PASS" if v else "MISS" for k, v in verdicts.items()}
    fig["targets"], fig["step_breakdown_s"] = TARGETS, breakdown
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_tick.json").write_text(json.dumps(fig, indent=2, ensure_ascii=False, default=str))
    print(f"\nfigures written to {out / 'bench_tick.json'}")
    if args.keep:
        print(f"data kept in {home}")
    else:
        engine.dispose()
        shutil.rmtree(home, ignore_errors=True)
    # sanity check of the benchmark itself, not of the product
    assert fig["overdue_marked"] == batch, (
        f"benchmark design error: the crossing tick marked {fig['overdue_marked']} obligations overdue, "
        f"expected exactly {batch} (2 % of {fig['obligations']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
