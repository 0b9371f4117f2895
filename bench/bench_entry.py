"""Issue 14's targets 1-3: a tick from every entry point, each measured as a ratio in the same run.

1. one-shot `campaign tick` (the whole process) on a demo-size campaign  <= 2x `campaign status` on the same data
2. `campaign tick --until` over 30 days of hourly ticks (720 ticks)      <= 5x `campaign status`
3. the orchestration of a scheduled tick (a Prefect flow run on a warm API, minus the same steps run directly)
   <= 10x the direct idle tick, in this process as `campaign serve` runs it (and `scheduled_tick`, the Prefect
   worker's entry flow, which runs the tick as a sub-flow of the deployment's run)

Commands run as a user runs them (a subprocess each, the project's `campaign` script, CAMPAIGN_HOME in a
temporary directory, no PREFECT_API_URL). Wall times move with the machine's load (other people's tests on
the 2 cores here): each figure is the median of repeated runs, the two sides of a ratio alternate, and the
load average is printed before and after.

    python bench/bench_entry.py                 # about 5 minutes on a quiet machine
    python bench/bench_entry.py --quick         # fewer repetitions, 7 days instead of 30 (a smoke run)
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY = "zuofeng-2026"
TZ = ZoneInfo("Asia/Shanghai")
T_FIRST = dt.datetime(2026, 3, 16, 10, 0, tzinfo=TZ)  # the first phase is open: 163 obligations overdue, reminders
TARGETS = {"oneshot_x_status": 2.0, "until_x_status": 5.0, "orchestration_x_direct": 10.0}


def units_csv(path: Path, schools: int) -> None:
    """A bureau, three districts and `schools` schools under them, each school with an email contact."""
    rows = [["单位代码", "单位名称", "上级单位", "标签", "联系人", "职务", "邮箱", "电话"],
            ["bureau", "县教文广新体局", "", "机关", "", "", "", ""]]
    for d in range(3):
        rows.append([f"d{d}", f"第{d + 1}学区", "bureau", "学区", f"主任{d}", "学区主任", "", ""])
    for s in range(schools):
        rows.append([f"s{s:03d}", f"第{s % 3 + 1}学区第{s + 1}小学", f"d{s % 3}", "学校", f"校长{s}", "校长",
                     f"s{s:03d}@school.example.cn", ""])
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)


class Cli:
    """`campaign` as a user runs it, on one data directory."""

    def __init__(self, home: Path, api: str | None = None):
        script = Path(sys.executable).parent / "campaign"
        self.argv = [str(script)] if script.exists() else [
            sys.executable, "-c", "import sys; sys.argv[0] = 'campaign'\nfrom campaign_app.cli import main\nmain()"]
        self.env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_ACTOR": "bench", "PYTHONPATH": str(ROOT)}
        for name in ("CAMPAIGN_DB_URL", "PREFECT_API_URL", "PREFECT_HOME", "CAMPAIGN_CHANNELS"):
            self.env.pop(name, None)
        if api:
            self.env["PREFECT_API_URL"] = api
        self.home = home

    def __call__(self, *args: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        r = subprocess.run([*self.argv, *args], capture_output=True, text=True, env=self.env, cwd=self.home, timeout=3600)
        seconds = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"campaign {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return seconds, r.stdout


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="minutes")


def copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("prefect"))
    return dst


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schools", type=int, default=48, help="schools (the demo's size: 48, about 330 obligations)")
    ap.add_argument("--repeat", type=int, default=7, help="one-shot runs of each command (target 1)")
    ap.add_argument("--days", type=int, default=30, help="days of hourly ticks (target 2)")
    ap.add_argument("--sims", type=int, default=3, help="simulations (target 2)")
    ap.add_argument("--flow-ticks", type=int, default=15, help="flow-run ticks and as many direct ones (target 3)")
    ap.add_argument("--full-days", type=int, default=7,
                    help="days of the simulation also run with every tick in full, in process (target 2's breakdown)")
    ap.add_argument("--quick", action="store_true", help="--repeat 3 --days 7 --sims 1 --flow-ticks 7 --full-days 2")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.days, args.sims, args.flow_ticks, args.full_days = 3, 7, 1, 7, 2

    base = Path(tempfile.mkdtemp(prefix="campaignflow-bench-entry-"))
    fig: dict[str, Any] = {"schools": args.schools, "load_before": load(), "argv": sys.argv[1:]}
    try:
        # --- the data: the 作风整顿 template in 2026 with the demo's size, its first phase under way ---
        home = base / "home"
        home.mkdir()
        cli = Cli(home)
        _, spec = cli("init", "zuofeng-2023", "--year", "2026")
        (home / "spec.yaml").write_text(spec, encoding="utf-8")
        units_csv(home / "units.csv", args.schools)
        _, created = cli("create", "spec.yaml", "--units", "units.csv", "--at", "2026-02-10T09:00")
        fig["created"] = created.strip().splitlines()[-1]
        _, first = cli("tick", KEY, "--at", iso(T_FIRST), "--json")
        fig["first_tick"] = {k: json.loads(first)[k] for k in ("overdue_marked", "reminders_planned", "reminders_written")}
        print(f"data: {fig['created']}\nfirst tick {iso(T_FIRST)}: {fig['first_tick']}\nload average: {fig['load_before']}")

        # --- 3. in this process, as serve runs its ticks: N flow runs vs N direct ticks, idle, alternating ---
        orchestration(fig, copy_home(home, base / "serve"), args.flow_ticks)
        api = fig["prefect_api"]

        # --- 1. one-shot tick vs status, whole processes, alternating (and the tick as a flow run on a warm API) ---
        one = copy_home(home, base / "oneshot")
        cli1, cli_api = Cli(one), Cli(one, api)
        status_s, tick_s, flow_s = [], [], []
        for i in range(args.repeat):
            at = iso(T_FIRST + dt.timedelta(hours=i + 1))
            pair = [("status", lambda at=at: status_s.append(cli1("status", KEY, "--at", at)[0])),
                    ("tick", lambda at=at: tick_s.append(cli1("tick", KEY, "--at", at)[0]))]
            for _, run in (pair if i % 2 == 0 else pair[::-1]):
                run()
            at_flow = iso(T_FIRST + dt.timedelta(hours=i + 1, minutes=30))
            flow_s.append(cli_api("tick", KEY, "--at", at_flow, "--prefect")[0])
        fig["status_s"], fig["oneshot_tick_s"], fig["oneshot_flow_tick_s"] = med(status_s), med(tick_s), med(flow_s)
        fig["oneshot_x_status"] = fig["oneshot_tick_s"] / fig["status_s"]
        fig["oneshot_flow_x_status"] = fig["oneshot_flow_tick_s"] / fig["status_s"]

        # --- 2. a month of hourly ticks in one command, each on a fresh copy, beside status on the same copy ---
        until = T_FIRST + dt.timedelta(days=args.days) - dt.timedelta(hours=1)
        sims, sim_status = [], []
        for i in range(args.sims):
            sim = Cli(copy_home(home, base / f"sim{i}"))
            sim_status.append(sim("status", KEY, "--at", iso(T_FIRST))[0])
            seconds, out = sim("tick", KEY, "--at", iso(T_FIRST + dt.timedelta(hours=1)), "--until", iso(until),
                               "--every", "1h", "--json")
            sims.append(seconds)
            results = json.loads(out)
            fig["until_ticks"] = len(results)
            fig["until_reminders_written"] = sum(r["reminders_written"] for r in results)
        fig["until_s"], fig["until_status_s"] = med(sims), med(sim_status)
        fig["until_x_status"] = fig["until_s"] / fig["until_status_s"]
        fig["until_ms_per_tick"] = fig["until_s"] / fig["until_ticks"] * 1e3
        # the same simulation as ONE Prefect flow run on the warm API (a task run per full tick): the opt-in's price
        sim = Cli(copy_home(home, base / "sim-prefect"), api)
        fig["until_prefect_s"], _ = sim("tick", KEY, "--at", iso(T_FIRST + dt.timedelta(hours=1)), "--until", iso(until),
                                        "--every", "1h", "--prefect")
        fig["until_prefect_x_status"] = fig["until_prefect_s"] / fig["until_status_s"]
        # where a simulated tick's time goes, in this process: the same ticks skipping the idle ones, then each in full
        simulation_profile(fig, home, base, T_FIRST + dt.timedelta(hours=1), until, args.full_days)
    finally:
        fig["load_after"] = load()
        if args.keep:
            print(f"data kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    report(fig)
    return 0


def simulation_profile(fig: dict[str, Any], home: Path, base: Path, start: dt.datetime, until: dt.datetime,
                       full_days: int) -> None:
    """Target 2 in this process: the simulation's hourly ticks through flows.tick.Ticker, as `tick --until` runs
    them (the idle ones skipped), then the first `full_days` days of them each run in full (as before the
    skipping), each on a fresh copy of the data; wall time and SQL statements per tick, ticks run in full."""
    from sqlalchemy import event

    from campaign_model.store.audit import Act
    from flows import steps
    from flows.tick import Ticker
    from flows.tick_steps import instants
    from notifications.settings import DeliveryConfig

    def run(name: str, last: dt.datetime, skip: bool) -> dict[str, Any]:
        copy = copy_home(home, base / name)
        url = f"sqlite:///{copy / 'campaign.db'}"
        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        engine = steps.engine_for(url)
        event.listen(engine, "before_cursor_execute", count)
        ticker = Ticker(url, KEY, str(copy / "outbox" / f"{KEY}.jsonl"), DeliveryConfig(), skip=skip)
        ticks = instants(start, last, dt.timedelta(hours=1))
        t0 = time.perf_counter()
        for at in ticks:
            ticker.tick(Act(at, "bench", dt.datetime.now(dt.UTC)))
        ticker.close()
        seconds = time.perf_counter() - t0
        event.remove(engine, "before_cursor_execute", count)
        engine.dispose()
        return {"ticks": len(ticks), "full": ticker.full, "s": seconds, "ms_per_tick": seconds / len(ticks) * 1e3,
                "statements_per_tick": statements[0] / len(ticks)}

    fig["sim_skipping"] = run("sim-skipping", until, True)
    fig["sim_every_tick"] = run("sim-every-tick", min(until, start + dt.timedelta(days=full_days, hours=-1)), False)


def orchestration(fig: dict[str, Any], home: Path, n: int) -> None:
    """Target 3 in this process: a warm Prefect API (the ephemeral one, as `serve` starts it), then alternately
    a flow-run tick and a direct tick at idle instants; the same for the worker's entry flow."""
    os.environ["CAMPAIGN_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)
    from campaign_app.settings import Settings

    settings = Settings.from_env()
    settings.prepare_prefect()  # before Prefect is imported: its home in the data directory, quiet
    from campaign_model.store.audit import Act
    from flows.tick import tick, tick_direct

    t0 = time.perf_counter()
    from flows import tick_flow

    fig["prefect_import_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fig["prefect_api"] = tick_flow.warm_up()
    fig["prefect_warm_up_s"] = time.perf_counter() - t0
    url, outbox = settings.db_url, str(settings.outbox_file(KEY))
    at = T_FIRST + dt.timedelta(minutes=1)
    t0 = time.perf_counter()
    tick(url, KEY, Act(at, "bench", at), outbox, settings.delivery)
    fig["first_flow_tick_s"] = time.perf_counter() - t0

    def timed(run: Callable[..., Any], minute: int) -> float:
        t = T_FIRST + dt.timedelta(minutes=minute)
        t0 = time.perf_counter()
        run(url, KEY, Act(t, "bench", dt.datetime.now(dt.UTC)), outbox, settings.delivery)
        return time.perf_counter() - t0

    direct, flow = [], []
    for i in range(n):
        direct.append(timed(tick_direct, 2 + 2 * i))
        flow.append(timed(tick, 3 + 2 * i))
    fig["direct_idle_s"], fig["flow_idle_s"] = med(direct), med(flow)
    fig["orchestration_s"] = fig["flow_idle_s"] - fig["direct_idle_s"]
    fig["orchestration_x_direct"] = fig["orchestration_s"] / fig["direct_idle_s"]
    fig["task_runs_of_last_flow_run"] = task_runs_of_last("campaign-tick")

    # the Prefect worker's entry flow (flows/deploy.py): the deployment's run with the tick as its sub-flow; it
    # reads the clock, so on its own copy of the data, ticked to now first
    from flows.deploy import scheduled_tick

    worker_home = copy_home(home, home.parent / "worker")
    worker_url = f"sqlite:///{worker_home / 'campaign.db'}"
    worker_outbox = str(worker_home / "outbox" / f"{KEY}.jsonl")
    scheduled_tick(KEY, worker_url, worker_outbox)
    w_direct, w_flow = [], []
    for _ in range(n):
        now = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        tick_direct(worker_url, KEY, Act(now, "bench", now), worker_outbox, settings.delivery)
        w_direct.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        scheduled_tick(KEY, worker_url, worker_outbox)
        w_flow.append(time.perf_counter() - t0)
    fig["worker_direct_idle_s"], fig["worker_flow_idle_s"] = med(w_direct), med(w_flow)
    fig["worker_orchestration_s"] = fig["worker_flow_idle_s"] - fig["worker_direct_idle_s"]
    fig["worker_orchestration_x_direct"] = fig["worker_orchestration_s"] / fig["worker_direct_idle_s"]


def task_runs_of_last(flow_name: str, wait: float = 30.0) -> list[str]:
    """The task runs the API lists for the latest flow run of `flow_name` (the recorder stores them a moment later)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    client = get_client(sync_client=True)
    last = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])), sort=FlowRunSort.START_TIME_DESC,
                                 limit=1)[0]
    deadline = time.monotonic() + wait
    while True:
        names = sorted(t.name for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[last.id]))))
        if len(names) >= 4 or time.monotonic() > deadline:
            return names
        time.sleep(0.5)


def report(fig: dict[str, Any]) -> None:
    def s(x: float) -> str:
        return f"{x:.2f} s" if x >= 1 else f"{x * 1e3:.1f} ms"

    rows = [
        ("1", "one-shot `campaign tick` (in process)", s(fig["oneshot_tick_s"]), f"status {s(fig['status_s'])}",
         fig["oneshot_x_status"], "oneshot_x_status"),
        ("", "  the same as a flow run on a warm API (--prefect)", s(fig["oneshot_flow_tick_s"]),
         f"status {s(fig['status_s'])}", fig["oneshot_flow_x_status"], None),
        ("2", f"`tick --until`, {fig['until_ticks']} hourly ticks (in process)", s(fig["until_s"]),
         f"status {s(fig['until_status_s'])}", fig["until_x_status"], "until_x_status"),
        ("", "  the same as ONE flow run (--prefect, task runs: full ticks)", s(fig["until_prefect_s"]),
         f"status {s(fig['until_status_s'])}", fig["until_prefect_x_status"], None),
        ("3", "serve: flow run - direct, idle tick", s(fig["orchestration_s"]), f"direct {s(fig['direct_idle_s'])}",
         fig["orchestration_x_direct"], "orchestration_x_direct"),
        ("", "  worker entry flow (run + tick sub-flow) - direct", s(fig["worker_orchestration_s"]),
         f"direct {s(fig['worker_direct_idle_s'])}", fig["worker_orchestration_x_direct"], None),
    ]
    verdicts = {k: fig[k] <= TARGETS[k] for k in TARGETS}
    fig["targets"], fig["verdicts"] = TARGETS, {k: "PASS" if v else "MISS" for k, v in verdicts.items()}
    fig["table"] = []
    print(f"\nentry points: a tick from each (median of repeats; load average {fig['load_before']} -> {fig['load_after']})\n")
    print(f"{'#':<3}{'what':<62}{'measured':>11}  {'against':<18}{'ratio':>8}  {'target':<7}verdict")
    for num, label, shown, against, ratio, key in rows:
        target = f"<= {TARGETS[key]:g}x" if key else ""
        verdict = fig["verdicts"][key] if key else ""
        print(f"{num:<3}{label:<62}{shown:>11}  {against:<18}{ratio:>7.2f}x  {target:<7}{verdict}")
        fig["table"].append({"target": num, "what": label, "measured": shown, "against": against,
                             "ratio": round(ratio, 2), "goal": target, "verdict": verdict})
    print(f"\nPrefect: import {s(fig['prefect_import_s'])}, API reached (ephemeral server start) "
          f"{s(fig['prefect_warm_up_s'])}, first flow-run tick {s(fig['first_flow_tick_s'])}; flow-run idle tick "
          f"{s(fig['flow_idle_s'])}; task runs of the last flow run: {', '.join(fig['task_runs_of_last_flow_run'])}")
    print(f"simulation: {fig['until_ms_per_tick']:.1f} ms per tick, {fig['until_reminders_written']} reminders written")
    sk, ev = fig["sim_skipping"], fig["sim_every_tick"]
    print(f"in process (flows.tick.Ticker): {sk['ticks']} ticks skipping the idle ones: {sk['ms_per_tick']:.1f} ms and "
          f"{sk['statements_per_tick']:.1f} SQL statements per tick, {sk['full']} ticks run in full; the first "
          f"{ev['ticks']} with every tick in full: {ev['ms_per_tick']:.1f} ms and {ev['statements_per_tick']:.1f} "
          f"statements per tick")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_entry.json").write_text(json.dumps(fig, indent=2, ensure_ascii=False, default=str))
    print(f"\nfigures written to {out / 'bench_entry.json'}")


if __name__ == "__main__":
    raise SystemExit(main())
