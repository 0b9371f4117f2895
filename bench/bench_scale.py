#!/usr/bin/env python
"""Benchmark of the tick at 10k, 100k and 1M obligations, beside the alternatives (not a test): see bench/README.md.

For each size, a campaign of N obligations (units x 20 requirements, bench_tick.py's spec writer) of which the
same number (--crossing, default 2,000) cross their due instant at the measured tick, at every size. Creation,
the phase's start and the crossing tick each run in a fresh subprocess (wall time and peak RSS of that process);
the crossing tick runs on --copies copies of the same database (median); the floor is the one indexed SQL
statement that selects the same crossing rows, timed in the same run. Then, at a size each can finish, what a
user would otherwise build: one Prefect task per obligation (a flow run on Prefect's ephemeral API, as
`campaign serve` starts it) and one APScheduler job per reminder (in a SQLAlchemyJobStore), per obligation and
extrapolated. Every figure that has a target is a ratio of figures measured in this run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench_tick import KEY, MINUTE, T_CREATE, T_CROSS, T_REMIND, T_START, spec_text  # noqa: E402

REQS = 20  # requirements per unit: N obligations are N / 20 units (plus the organizer), 50,000 at 1M (a unit list
# holds at most 100,000 rows, a spec at most 1 MB: the units go to a CSV unit list, as a province keeps them)
PILOT = 8  # requirements the batch owes in the pilot step: crossing / 8 batch units
TARGETS = {"tick_1m_over_10k": 2.0, "create_1m_over_100k": 10.0, "tick_1m_peak_mb": 300.0}
RESULT = "RESULT "


# --- measuring inside a child process ---

def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Linux: VmHWM (the peak RSS) starts again from the current RSS (writing 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _act(at: dt.datetime) -> Any:
    from campaign_model.store.audit import Act

    return Act(at.astimezone(dt.UTC), "bench", dt.datetime.now(dt.UTC))


def _prepare_env(home: Path) -> None:
    os.environ["CAMPAIGN_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    from campaign_app.settings import Settings

    Settings.from_env().prepare_prefect()


def child_create(a: argparse.Namespace) -> dict[str, Any]:
    """Parse the spec, then create the campaign (one transaction, commit included): the times and the peaks."""
    home = Path(a.home)
    _prepare_env(home)
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.campaigns import create_campaign
    from flows import steps

    engine = steps.engine_for(f"sqlite:///{a.db}")  # the schema (migrations) before anything is timed
    rss_start = _status_mb("VmRSS")
    text, batch = spec_text(a.units, REQS, batch=a.batch, pilot=PILOT, units_csv=home / "units.csv")
    t0 = time.perf_counter()
    loaded = load_spec_text(text, "<bench>", base_dir=home)
    load_s = time.perf_counter() - t0
    spec_peak = _status_mb("VmHWM")
    del text
    _reset_peak()
    rss_before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    with engine.begin() as conn:
        summary = create_campaign(conn, loaded, _act(T_CREATE))
    create_s = time.perf_counter() - t0
    return {"load_spec_s": load_s, "create_s": create_s, "obligations": summary["obligations"], "batch": batch,
            "rss_start_mb": rss_start, "spec_peak_mb": spec_peak, "create_rss_before_mb": rss_before,
            "create_peak_mb": _status_mb("VmHWM"), "db_mb": Path(a.db).stat().st_size / 2**20}


def child_prepare(a: argparse.Namespace) -> dict[str, Any]:
    """The ticks before the measured one: the phase starts (every obligation gets its first reminder instant),
    then the batch's on-due reminders are planned and sent, so that the crossing tick only marks overdue."""
    home = Path(a.home)
    _prepare_env(home)
    from sqlalchemy import text

    from flows import steps
    from flows.tick import tick_direct

    url = f"sqlite:///{a.db}"
    engine = steps.engine_for(url)
    outbox_file = str(home / "outbox" / f"{KEY}.jsonl")
    t0 = time.perf_counter()
    tick_direct(url, KEY, _act(T_START), outbox_file)
    start_s = time.perf_counter() - t0
    peak_start = _status_mb("VmHWM")
    t0 = time.perf_counter()
    remind = tick_direct(url, KEY, _act(T_REMIND), outbox_file)
    remind_s = time.perf_counter() - t0
    with engine.connect() as conn:  # the database in one file, to be copied
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return {"start_tick_s": start_s, "start_tick_peak_mb": peak_start, "remind_tick_s": remind_s,
            "reminders_planned": remind["reminders_planned"], "peak_mb": _status_mb("VmHWM")}


def child_tick(a: argparse.Namespace) -> dict[str, Any]:
    """The crossing tick, the first of this process (the engine opened before), then an idle tick a minute later."""
    home = Path(a.home)
    _prepare_env(home)
    from sqlalchemy import text

    from campaign_model.store.campaigns import load_ctx
    from flows import steps
    from flows.tick import tick_direct

    url = f"sqlite:///{a.db}"
    with steps.engine_for(url).connect() as conn:  # schema checked, campaign known: not part of the tick
        load_ctx(conn, KEY)
        conn.execute(text("SELECT 1"))
    # the modules a tick imports on first use (the channels' settings: httpx, about 0.3 s) are imported before
    # the clock starts: the same at every size, they would hide the tick's own work
    from notifications.setup import router_for

    router_for(None)
    outbox_file = str(home / "outbox" / f"{KEY}.jsonl")
    rss_before = _status_mb("VmRSS")
    peak_before = _status_mb("VmHWM")
    _reset_peak()
    t0 = time.perf_counter()
    cross = tick_direct(url, KEY, _act(T_CROSS), outbox_file)
    tick_s = time.perf_counter() - t0
    tick_peak = _status_mb("VmHWM")
    t0 = time.perf_counter()
    tick_direct(url, KEY, _act(T_CROSS + MINUTE), outbox_file)
    idle_s = time.perf_counter() - t0
    return {"tick_s": tick_s, "idle_s": idle_s, "overdue_marked": cross["overdue_marked"],
            "reminders_planned": cross["reminders_planned"], "rss_before_mb": rss_before,
            "peak_before_tick_mb": peak_before, "tick_peak_mb": tick_peak,
            "process_peak_mb": max(peak_before, tick_peak, _status_mb("VmHWM"))}


def floor_statement(conn: Any, phase_id: int) -> Any:
    """The one indexed statement that selects the crossing rows (ix_obligations_open_due: phase, due instant,
    over the open obligations not yet marked), as SQLAlchemy Core."""
    from sqlalchemy import select

    from campaign_model.store.predicates import OPEN_LITERAL
    from campaign_model.store.tables import obligations

    return select(obligations.c.id).where(obligations.c.phase_id == phase_id, obligations.c.overdue_at.is_(None),
                                          OPEN_LITERAL, obligations.c.due_at < T_CROSS.astimezone(dt.UTC))


def child_floor(a: argparse.Namespace) -> dict[str, Any]:
    home = Path(a.home)
    _prepare_env(home)
    from campaign_model.store.campaigns import load_ctx
    from campaign_model.store.phases import phase_rows
    from flows import steps

    engine = steps.engine_for(f"sqlite:///{a.db}")
    with engine.connect() as conn:
        phase_id = phase_rows(conn, load_ctx(conn, KEY).id)[0].id
        stmt = floor_statement(conn, phase_id)
        compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
        rows = conn.execute(stmt).all()  # warm: the floor is the statement, not the first read of the file
        runs = []
        for _ in range(7):
            t0 = time.perf_counter()
            rows = conn.execute(stmt).all()
            runs.append(time.perf_counter() - t0)
        raw = conn.connection.dbapi_connection
        assert raw is not None
        plan = [r[-1] for r in raw.execute("EXPLAIN QUERY PLAN " + str(compiled)).fetchall()]
    return {"floor_s": statistics.median(runs), "rows": len(rows), "plan": plan, "sql": " ".join(str(compiled).split())}


# --- the alternatives ---

def child_prefect(a: argparse.Namespace) -> dict[str, Any]:
    """One Prefect task per obligation: a flow run that maps a task over the open obligations of the phase; each
    task reads its obligation and marks it overdue when it is past due (the crossing tick's work, per row)."""
    home = Path(a.home)
    _prepare_env(home)
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from sqlalchemy import select, text, update

    from campaign_model.store.tables import obligations
    from flows import steps
    from flows.tick_flow import warm_up

    url = f"sqlite:///{a.db}"
    engine = steps.engine_for(url)
    at = T_CROSS.astimezone(dt.UTC)

    @task(cache_policy=NO_CACHE, persist_result=False)
    def check_one(ob_id: int) -> bool:
        with engine.begin() as conn:
            row = conn.execute(select(obligations.c.state, obligations.c.due_at, obligations.c.overdue_at)
                               .where(obligations.c.id == ob_id)).one()
            if row.state in ("pending", "rejected") and row.overdue_at is None and row.due_at < at:
                conn.execute(update(obligations).where(obligations.c.id == ob_id).values(overdue_at=row.due_at))
                return True
        return False

    @flow(persist_result=False, validate_parameters=False)
    def per_obligation_tick(ids: list[int]) -> int:
        return sum(1 for f in check_one.map(ids) if f.result())

    t0 = time.perf_counter()
    warm_up(home / "prefect")  # the ephemeral API subprocess, as `campaign serve` starts it
    api_start_s = time.perf_counter() - t0
    with engine.connect() as conn:  # crossing ones first: the marks are checked
        ids = list(conn.execute(text(
            "SELECT id FROM obligations WHERE state IN ('pending', 'rejected') ORDER BY due_at, id LIMIT :n"),
            {"n": a.n + 20}).scalars())
    t0 = time.perf_counter()
    per_obligation_tick(ids[:20])  # the flow's first run (registration) apart
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    marked = per_obligation_tick(ids[20:20 + a.n])
    run_s = time.perf_counter() - t0
    return {"api_start_s": api_start_s, "first_run_s": first_s, "run_s": run_s, "tasks": len(ids[20:20 + a.n]),
            "marked": marked, "per_obligation_s": run_s / max(1, len(ids[20:20 + a.n]))}


_APS_DONE = threading.Event()
_APS_COUNT = [0, 0]  # runs so far, runs awaited


def aps_remind(obligation_id: int) -> None:
    """The job of one reminder (what a user's job would call; here it only counts, so that only the scheduler's
    own cost is measured)."""
    _APS_COUNT[0] += 1
    if _APS_COUNT[0] >= _APS_COUNT[1]:
        _APS_DONE.set()


def child_aps(a: argparse.Namespace) -> dict[str, Any]:
    """One APScheduler job per reminder, in a SQLAlchemyJobStore (SQLite): adding the jobs while the scheduler runs
    (paused), then its wakeup running the `--crossing` due ones (their run date passed) among them."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    home = Path(a.home)
    store = SQLAlchemyJobStore(url=f"sqlite:///{home / 'apscheduler.db'}")
    sched = BackgroundScheduler(jobstores={"default": store}, executors={"default": ThreadPoolExecutor(10)},
                                job_defaults={"misfire_grace_time": None, "coalesce": False}, timezone=dt.UTC)
    sched.start(paused=True)
    now = dt.datetime.now(dt.UTC)
    due = min(a.crossing, a.n)
    _APS_COUNT[1] = due
    t0 = time.perf_counter()
    for i in range(a.n):  # the due ones spread among the others, as reminders of many units would be
        when = now - dt.timedelta(seconds=1) if i % max(1, a.n // due) == 0 and i // max(1, a.n // due) < due \
            else now + dt.timedelta(days=30, seconds=i)
        sched.add_job(aps_remind, "date", run_date=when, args=[i], id=f"ob{i}")
    add_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sched.resume()  # the wakeup: the due jobs are read, run, and removed from the store
    finished = _APS_DONE.wait(timeout=600)
    wake_s = time.perf_counter() - t0
    while len(sched.get_jobs()) > a.n - due and time.perf_counter() - t0 < 600:  # removed from the store too
        time.sleep(0.01)
    settled_s = time.perf_counter() - t0
    sched.shutdown(wait=True)
    return {"jobs": a.n, "due": due, "ran": _APS_COUNT[0], "finished": finished, "add_s": add_s,
            "add_per_job_s": add_s / a.n, "wake_s": wake_s, "settled_s": settled_s,
            "wake_per_due_s": settled_s / due}


CHILDREN = {"create": child_create, "prepare": child_prepare, "tick": child_tick, "floor": child_floor,
            "prefect": child_prefect, "aps": child_aps}


def run_child(mode: str, **kw: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode or not lines:
        raise SystemExit(f"child {mode} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    out: dict[str, Any] = json.loads(lines[-1][len(RESULT):])
    out["process_s"] = wall
    return out


# --- the parent: sizes, alternatives, table ---

def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def secs(s: float) -> str:
    return f"{s:.2f} s" if s >= 1 else f"{s * 1e3:.1f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} us"


def measure_size(work: Path, size: int, crossing: int, copies: int) -> dict[str, Any]:
    units = size // REQS
    batch = crossing // PILOT
    home = work / human(size)
    home.mkdir(parents=True)
    db = home / "campaign.db"
    print(f"  {human(size)}: creating ({units:,} units)...", flush=True)
    r: dict[str, Any] = {"size": size, "units": units}
    r["create"] = run_child("create", home=home, db=db, units=units, batch=batch)
    print(f"  {human(size)}: created in {secs(r['create']['create_s'])}; starting the phase...", flush=True)
    r["prepare"] = run_child("prepare", home=home, db=db)
    r["floor"] = run_child("floor", home=home, db=db)
    ticks = []
    for i in range(copies):
        copy = home / f"copy{i}.db"
        shutil.copyfile(db, copy)
        ticks.append(run_child("tick", home=home, db=copy))
        copy.unlink()
    r["ticks"] = ticks
    r["tick_s"] = statistics.median(t["tick_s"] for t in ticks)
    r["idle_s"] = statistics.median(t["idle_s"] for t in ticks)
    r["tick_peak_mb"] = max(t["process_peak_mb"] for t in ticks)
    r["tick_growth_mb"] = max(t["tick_peak_mb"] - t["rss_before_mb"] for t in ticks)
    r["marked"] = [t["overdue_marked"] for t in ticks]
    r["crossing"] = r["create"]["batch"] * PILOT
    print(f"  {human(size)}: tick {secs(r['tick_s'])} (floor {secs(r['floor']['floor_s'])}), "
          f"peak {r['tick_peak_mb']:.0f} MB", flush=True)
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="obligations per campaign, comma-separated")
    ap.add_argument("--quick", action="store_true", help="sizes 1k/10k/100k, 200 crossing, smaller alternatives")
    ap.add_argument("--crossing", type=int, default=2000, help="obligations crossing their due instant at the tick")
    ap.add_argument("--copies", type=int, default=3, help="crossing ticks per size, each on a copy (median)")
    ap.add_argument("--prefect", type=int, default=300, help="obligations of the one-task-per-obligation flow run")
    ap.add_argument("--aps", type=int, default=5000, help="APScheduler jobs (reminders) in the job store")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    for name in ("home", "db"):
        ap.add_argument(f"--{name}", help=argparse.SUPPRESS)
    for name in ("units", "batch", "n"):
        ap.add_argument(f"--{name}", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(RESULT + json.dumps(CHILDREN[args.child](args), default=str), flush=True)
        return 0
    if args.quick:
        args.sizes = "1000,10000,100000" if args.sizes == ap.get_default("sizes") else args.sizes
        args.crossing = 200 if args.crossing == ap.get_default("crossing") else args.crossing
        args.prefect = 100 if args.prefect == ap.get_default("prefect") else args.prefect
        args.aps = 2000 if args.aps == ap.get_default("aps") else args.aps
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.crossing % PILOT or any(args.crossing // PILOT > s // REQS for s in sizes):
        raise SystemExit(f"--crossing must be a multiple of {PILOT}, and crossing / {PILOT} at most the units of the "
                         f"smallest size ({sizes[0] // REQS})")
    work = Path(tempfile.mkdtemp(prefix="campaignflow-scale-"))
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    print(f"campaignflow scale benchmark: sizes {', '.join(human(s) for s in sizes)} obligations, {args.crossing:,} "
          f"crossing at every size; data in {work}", flush=True)
    fig: dict[str, Any] = {"sizes": sizes, "crossing": args.crossing, "copies": args.copies, "runs": {}}
    for size in sizes:
        fig["runs"][human(size)] = measure_size(work, size, args.crossing, args.copies)
    if len(sizes) > 1:  # the next-to-largest created again right after the largest: the two runs around it, averaged,
        mid = fig["runs"][human(sizes[-2])]  # so that a change of the machine's load over its run touches both sides
        again = work / "again"
        again.mkdir()
        mid["create_again"] = run_child("create", home=again, db=again / "campaign.db", units=sizes[-2] // REQS,
                                        batch=args.crossing // PILOT)
        shutil.rmtree(again, ignore_errors=True)
    smallest = fig["runs"][human(sizes[0])]
    print(f"  alternatives: one Prefect task per obligation ({args.prefect})...", flush=True)
    prefect_db = work / "prefect.db"
    shutil.copyfile(work / human(sizes[0]) / "campaign.db", prefect_db)
    fig["prefect"] = run_child("prefect", home=work / "prefect-home", db=prefect_db, n=args.prefect)
    print(f"  alternatives: one APScheduler job per reminder ({args.aps:,} jobs)...", flush=True)
    (work / "aps").mkdir()
    fig["aps"] = run_child("aps", home=work / "aps", n=args.aps, crossing=args.crossing)
    fig["wall_s"] = time.perf_counter() - t_start
    fig["load_before"], fig["load_after"] = load_before, os.getloadavg()
    report(fig, sizes, smallest)
    out = BENCH / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_scale.json").write_text(json.dumps(fig, indent=2, ensure_ascii=False, default=str))
    print(f"\nfigures written to {out / 'bench_scale.json'}; the run took {fig['wall_s']:.0f} s")
    if args.keep:
        print(f"data kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    # sanity checks of the benchmark itself, not of the product
    for name, r in fig["runs"].items():
        assert r["create"]["obligations"] == r["size"], f"{name}: {r['create']['obligations']} obligations created"
        assert all(m == r["crossing"] for m in r["marked"]), f"{name}: the tick marked {r['marked']}, not {r['crossing']}"
        assert r["floor"]["rows"] == r["crossing"], f"{name}: the floor selected {r['floor']['rows']} rows"
    assert fig["aps"]["finished"] and fig["aps"]["ran"] == fig["aps"]["due"], "APScheduler did not run every due job"
    return 0


def report(fig: dict[str, Any], sizes: list[int], smallest: dict[str, Any]) -> None:
    runs = [fig["runs"][human(s)] for s in sizes]
    big, mid, small = runs[-1], runs[-2] if len(runs) > 1 else runs[-1], runs[0]
    print(f"\ncrossing at every size: {fig['crossing']:,} obligations (due 03-14, ticked 03-15 00:00:30); the tick "
          f"is the first of a fresh process, median of {fig['copies']} copies; memory = that process's peak RSS")
    print(f"\n{'obligations':>12}{'units':>9}{'create':>10}{'c. peak':>9}{'start tick':>11}{'tick':>10}"
          f"{'floor':>10}{'tick/floor':>11}{'idle tick':>10}{'tick peak':>10}{'growth':>8}{'db':>8}")
    for r in runs:
        print(f"{r['size']:>12,}{r['units']:>9,}{secs(r['create']['create_s']):>10}{r['create']['create_peak_mb']:>7.0f}MB"
              f"{secs(r['prepare']['start_tick_s']):>11}{secs(r['tick_s']):>10}{secs(r['floor']['floor_s']):>10}"
              f"{r['tick_s'] / r['floor']['floor_s']:>10.0f}x{secs(r['idle_s']):>10}{r['tick_peak_mb']:>8.0f}MB"
              f"{r['tick_growth_mb']:>6.0f}MB{r['create']['db_mb']:>6.0f}MB")
        r["tick_over_floor"] = r["tick_s"] / r["floor"]["floor_s"]
    mid_create = statistics.mean([mid["create"]["create_s"], *([mid["create_again"]["create_s"]] if "create_again" in mid else [])])
    fig["create_mid_s"] = mid_create
    ratios = {
        "tick_1m_over_10k": big["tick_s"] / small["tick_s"],
        "create_1m_over_100k": big["create"]["create_s"] / mid_create,
        "tick_1m_peak_mb": big["tick_peak_mb"],
    }
    verdicts = {k: ratios[k] <= TARGETS[k] if k != "tick_1m_peak_mb" else ratios[k] < TARGETS[k] for k in ratios}
    fig["ratios"], fig["verdicts"], fig["targets"] = ratios, {k: "PASS" if v else "MISS" for k, v in verdicts.items()}, TARGETS
    b, m, s = human(big["size"]), human(mid["size"]), human(small["size"])
    print(f"\n{'figure':<58}{'measured':>12}  {'target':<10}verdict")
    for label, key, shown, target in (
            (f"tick({b}) / tick({s})", "tick_1m_over_10k", f"{ratios['tick_1m_over_10k']:.2f}x", "<= 2x"),
            (f"create({b}) / create({m}: mean of before and after)", "create_1m_over_100k",
             f"{ratios['create_1m_over_100k']:.2f}x", "<= 10x"),
            (f"peak RSS of the {b} tick's process", "tick_1m_peak_mb", f"{ratios['tick_1m_peak_mb']:.0f} MB", "< 300 MB")):
        print(f"{label:<58}{shown:>12}  {target:<10}{fig['verdicts'][key]}")
    for r in runs:
        print(f"{'tick(' + human(r['size']) + ') / floor(' + human(r['size']) + ')':<58}{r['tick_over_floor']:>11.0f}x")
    if "create_again" in mid:
        print(f"create({m}): {secs(mid['create']['create_s'])} before, {secs(mid['create_again']['create_s'])} after")
    print("creation per obligation: " + ", ".join(
        f"{human(r['size'])} {r['create']['create_s'] / r['size'] * 1e6:.1f} us" for r in runs) +
        "; reading the spec and its unit list (not in creation): " + ", ".join(
        f"{human(r['size'])} {secs(r['create']['load_spec_s'])}" for r in runs))

    p, a = fig["prefect"], fig["aps"]
    tick_big = big["tick_s"]
    per = p["per_obligation_s"]
    fig["alternatives"] = alt = {
        "prefect_1m_s": per * big["size"], "prefect_crossing_s": per * fig["crossing"],
        "aps_add_1m_s": a["add_per_job_s"] * big["size"], "aps_wake_s": a["settled_s"]}
    print(f"\nwhat a user would otherwise build (measured at a size it finishes, extrapolated linearly; ratios to "
          f"this run's {b} figures):")
    print(f"  one Prefect task per obligation: {p['tasks']} tasks in one flow run (.map, ephemeral API) took "
          f"{secs(p['run_s'])} = {per * 1e3:.1f} ms per obligation (API start {secs(p['api_start_s'])} apart)")
    print(f"    a tick that looks at every obligation: {per * 1e3:.1f} ms x {big['size']:,} = {secs(alt['prefect_1m_s'])}"
          f" = {alt['prefect_1m_s'] / tick_big:,.0f}x tick({b})")
    print(f"    even given only the {fig['crossing']:,} crossing ones: {per * 1e3:.1f} ms x {fig['crossing']:,} = "
          f"{secs(alt['prefect_crossing_s'])} = {alt['prefect_crossing_s'] / tick_big:,.1f}x tick({b})")
    print(f"  one APScheduler job per reminder (SQLAlchemyJobStore on SQLite): adding {a['jobs']:,} jobs took "
          f"{secs(a['add_s'])} = {a['add_per_job_s'] * 1e3:.2f} ms per job")
    print(f"    jobs for {b} obligations (one reminder each): {a['add_per_job_s'] * 1e3:.2f} ms x {big['size']:,} = "
          f"{secs(alt['aps_add_1m_s'])} = {alt['aps_add_1m_s'] / big['create']['create_s']:.1f}x create({b})")
    print(f"    its wakeup running the {a['due']:,} due jobs (and removing them from the store): {secs(a['settled_s'])}"
          f" = {a['wake_per_due_s'] * 1e3:.2f} ms per due reminder = {a['settled_s'] / tick_big:.1f}x tick({b}), "
          f"with {a['jobs']:,} jobs in the store (not {big['size']:,})")
    print(f"  the floor at {b}: {secs(big['floor']['floor_s'])} ({'; '.join(big['floor']['plan'])})")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in fig['load_before'])} before, "
          f"{' '.join(f'{x:.2f}' for x in fig['load_after'])} after")


if __name__ == "__main__":
    raise SystemExit(main())
