#!/usr/bin/env python
"""Benchmark of filing over HTTP on PostgreSQL beside SQLite, two campaigns at once (not a test): see bench/README.md.

Two campaigns (A and B, the same schools each) in one database; the real service (`campaign serve --port 0
--workers N`, bench_http's Server) on the SQLite file, then on a PostgreSQL server started for the run
(Debian's binaries, as the tests' `postgres` fixture; default settings, fsync on) or the one `--pg-url` names.
Clients (threads, one keep-alive httpx.Client each, bench_http's way) POST PDF filings (~3 KB) with an admin's
API token:

- `one campaign`: all the clients file into A;
- `two campaigns`: half the clients file into A, half into B, at the same time.

Every filing appends to the audit chain, whose one head row (`audit_head`, taken FOR UPDATE until COMMIT)
makes writers of different campaigns take turns. Its cost, isolated two ways. Timed in the server: the same
`sitecustomize` times each statement that locks a head row (the wait for the lock) and how long the lock is
then held (to COMMIT, when the connection goes back to the pool): the waits' share of the filings' latency is
the most that per-campaign heads could save. And an A/B: the PostgreSQL runs are repeated with
`per-campaign heads` — the server's processes load a `sitecustomize` (this run's only, through PYTHONPATH)
that replaces `audit.append` by an append that locks a head row of the event's campaign instead, taking the
event's number from a sequence: the write pattern of one chain per campaign, without the product changing.
(Those runs' chains are not verifiable; the database is thrown away.) Runs alternate shared / per-campaign
(`--repeat` pairs) so that the machine's load drifts over both alike.

Ratios from the same run: two campaigns / one campaign (does filing into two campaigns queue?), per-campaign
heads / shared head (what the shared head costs), PostgreSQL / SQLite.
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
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench_http import Server, pct, pdf_bytes  # noqa: E402 - bench/ on the path first

from tests.pg_support import PostgresCluster  # noqa: E402 - the project root on the path first

KEYS = ("bench-pg-a", "bench-pg-b")
GOAL_HEAD = 0.10
NO_PREFECT = "http://127.0.0.1:9/api"  # the shared head may cost under 10 % of the two-campaign throughput
TODAY = dt.date.today()


def spec_text(key: str, n_units: int) -> str:
    day = lambda n: (TODAY + dt.timedelta(days=n)).isoformat()  # noqa: E731
    lines = ["version: 1", f"key: {key}", f"title: 作风整顿（PostgreSQL 基准 {key[-1].upper()}）",
             "timezone: Asia/Shanghai", "calendar: cn", "organizer: bureau", "units:", "  - {key: bureau, name: 县教育局}"]
    lines += [f"  - {{key: s{i:05d}, name: 学校{i:05d}, parent: bureau, tags: [学校]}}" for i in range(n_units)]
    lines += ["artifacts:", "  report: {title: 自查报告}", "phases:", "  - key: check", "    title: 自查自纠",
              "    kind: self_check", f"    start: {day(-7)}", f"    end: {day(60)}", "    steps:",
              "      - key: report", "        title: 自查报告", f"        due: {day(30)}", "        requires:",
              "          - {artifact: report, from: 'tag:学校'}"]
    return "\n".join(lines) + "\n"


def setup(home: Path, url: str, n_units: int) -> str:
    """Both campaigns, their phase opened by a tick, and an admin's API token (it files for any unit)."""
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.accounts import add_user, create_token
    from campaign_model.store.audit import Act
    from campaign_model.store.campaigns import create_campaign
    from campaign_model.store.db import open_engine
    from flows.tick import tick_direct

    now = dt.datetime.now(dt.UTC)
    act = Act(now, "bench", now)
    engine = open_engine(url)
    try:
        with engine.begin() as conn:
            for key in KEYS:
                create_campaign(conn, load_spec_text(spec_text(key, n_units), f"<{key}>"), act)
            add_user(conn, "bench-admin", "admin", None, None, act)
            token = create_token(conn, "bench-admin", act, label="bench")[0]
    finally:
        engine.dispose()
    for key in KEYS:
        tick_direct(url, key, act, str(home / "outbox" / f"{key}.jsonl"))
    return token


# --- PostgreSQL for the run


def Postgres(root: Path) -> PostgresCluster:
    """A throwaway cluster on loopback (run as the `postgres` user), default settings: fsync and synchronous
    commit on, as a province's server would run."""
    return PostgresCluster(root, "-c max_connections=200")


def new_database(server_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    eng = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


# --- the per-campaign heads of the A/B: a sitecustomize loaded by the server's processes (uvicorn's workers
# are fresh interpreters: PYTHONPATH carries it to them)

SITECUSTOMIZE = textwrap.dedent('''
    """bench_pg only (its temporary PYTHONPATH): the audit head's lock timed; with BENCH_PG_HEADS=per-campaign,
    audit.append locks a head row of the event's campaign instead of the shared one."""
    import os

    if os.environ.get("BENCH_PG_TIMES"):
        # each statement that locks a head row (SELECT ... FROM audit_head ... FOR UPDATE): how long it took (the
        # wait for the lock, mostly) and, when the connection goes back to the pool (after COMMIT), how long the
        # lock was held; one line per filing in a file of this process: wall clock, wait s, hold s
        import time

        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        _out = open(os.path.join(os.environ["BENCH_PG_TIMES"], f"{os.getpid()}.txt"), "a", buffering=1)

        def _locks_head(statement):
            return "FOR UPDATE" in statement and "audit_head" in statement

        @event.listens_for(Engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, many):
            if _locks_head(statement):
                conn.info["bench_head_asked"] = time.perf_counter()

        @event.listens_for(Engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, many):
            if _locks_head(statement) and "bench_head_asked" in conn.info:
                conn.info["bench_head_locked"] = time.perf_counter()

        @event.listens_for(Pool, "checkin")
        def _checkin(dbapi_connection, record):
            if record is not None and "bench_head_locked" in record.info:
                asked, locked = record.info.pop("bench_head_asked"), record.info.pop("bench_head_locked")
                _out.write(f"{time.time():.6f} {locked - asked:.6f} {time.perf_counter() - locked:.6f}\\n")

    if os.environ.get("BENCH_PG_HEADS") == "per-campaign":
        import zlib

        from sqlalchemy import text

        from campaign_model.audit import GENESIS, AuditEvent, event_hash
        from campaign_model.store import audit
        from campaign_model.store.tables import audit_events

        _INSERT = audit_events.insert()

        def append(conn, act, action, campaign, subject, before=None, after=None):
            chain = 1_000_000 + zlib.crc32((campaign or "").encode()) % 1_000_000  # the campaign's head row
            head = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = :id FOR UPDATE"), {"id": chain}).first()
            prev = head.hash if head else GENESIS
            seq = conn.execute(text("SELECT nextval('bench_audit_seq')")).scalar_one()
            event = AuditEvent(seq, act.at, act.recorded_at, act.actor, action, campaign, subject, before, after, prev)
            digest = event_hash(event)
            conn.execute(_INSERT, {"seq": seq, "at": act.at, "recorded_at": act.recorded_at, "actor": act.actor,
                                   "action": action, "campaign": campaign, "subject": subject, "before": before,
                                   "after": after, "prev_hash": prev, "hash": digest})
            if head is None:
                conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (:id, :seq, :hash)"),
                             {"id": chain, "seq": seq, "hash": digest})
            else:
                conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = :id"),
                             {"id": chain, "seq": seq, "hash": digest})
            return seq

        audit.append = append  # every caller calls it as audit.append (none imports the function itself)
''')


def prepare_per_campaign_heads(url: str) -> None:
    """The sequence the per-campaign appends number their events from (above the shared chain's numbers),
    and one head row per campaign, made now so that no first filing races to insert it."""
    import zlib

    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("CREATE SEQUENCE IF NOT EXISTS bench_audit_seq START 1000000000"))
        for key in KEYS:
            chain = 1_000_000 + zlib.crc32(key.encode()) % 1_000_000
            conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (:id, 0, :h) ON CONFLICT DO NOTHING"),
                         {"id": chain, "h": "0" * 64})
    eng.dispose()


# --- the clients


class Filings:
    """Each campaign's schools file their report in turn (versions go up); every k-th PDF is new content."""

    def __init__(self, n_units: int, distinct_every: int):
        self.n_units, self.distinct_every = n_units, distinct_every
        self.next = dict.fromkeys(KEYS, 0)
        self.lock = threading.Lock()

    def take(self, key: str) -> int:
        with self.lock:
            n, self.next[key] = self.next[key], self.next[key] + 1
        return n

    def post(self, client: Any, key: str) -> Any:
        n = self.take(key)
        unit = f"s{n % self.n_units:05d}"
        return client.post(f"/api/v1/campaigns/{key}/filings", data={"unit": unit, "artifact": "report"},
                           files={"files": (f"report-{unit}.pdf", pdf_bytes(n + (KEYS.index(key) << 24),
                                                                            n % self.distinct_every == 0),
                                            "application/pdf")})


def run_load(base: str, token: str, filings: Filings, targets: list[str], per_client: int) -> dict[str, Any]:
    """One client thread per entry of `targets` (the campaign it files into), each making `per_client` filings,
    all started together; requests/s overall and per campaign, latencies."""
    import httpx

    barrier = threading.Barrier(len(targets) + 1)
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {key: [] for key in set(targets)}
    errors: list[str] = []
    ends: list[float] = []

    def client(key: str) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as c:
            barrier.wait()
            for _ in range(per_client):
                t0 = time.perf_counter()
                try:
                    response = filings.post(c, key)
                    ok, detail = response.status_code == 201, f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                mine.append(time.perf_counter() - t0)
                if not ok:
                    with lock:
                        errors.append(detail)
        with lock:
            latencies[key].extend(mine)
            ends.append(time.perf_counter())

    threads = [threading.Thread(target=client, args=(key,)) for key in targets]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    every = sorted(x for xs in latencies.values() for x in xs)
    return {"clients": len(targets), "campaigns": len(set(targets)), "filings": len(every), "wall_s": wall,
            "rps": len(every) / wall, "p50_ms": pct(every, 0.5) * 1e3, "p99_ms": pct(every, 0.99) * 1e3,
            "mean_ms": statistics.fmean(every) * 1e3, "errors": len(errors), "first_errors": errors[:3],
            "per_campaign_rps": {key: len(v) / wall for key, v in sorted(latencies.items())}}


def serve_and_load(home: Path, url: str, token: str, filings: Filings, args: argparse.Namespace,
                   heads: str, site: Path | None) -> dict[str, Any]:
    """One `campaign serve` on `url`; warm-up; then `one campaign` and `two campaigns` runs (in the order
    that alternates with the previous server's, so that a drift in the machine's load falls on both)."""
    saved = {k: os.environ.get(k) for k in ("BENCH_PG_HEADS", "PYTHONPATH", "PREFECT_API_URL", "BENCH_PG_TIMES")}
    os.environ["BENCH_PG_HEADS"] = heads
    times = home / f"head-times-{args.order}"
    times.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_PG_TIMES"] = str(times)
    # the scheduler's Prefect API: an address where nothing answers, so that serve's warm-up starts no ephemeral
    # Prefect server (a minute of CPU) during the measurement; a tick due meanwhile would fail, logged
    os.environ["PREFECT_API_URL"] = NO_PREFECT
    if site is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    try:
        server = Server(home, url, args.workers)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out: dict[str, Any] = {"heads": heads}
    try:
        base = server.wait_ready(timeout=600)  # a loaded machine takes minutes to start the workers
        half = args.clients // 2
        run_load(base, token, filings, [KEYS[0]] * half + [KEYS[1]] * half, args.warmup)
        runs = {"one": [KEYS[0]] * (2 * half), "two": [KEYS[0]] * half + [KEYS[1]] * half}
        for name in (("one", "two") if args.order % 2 == 0 else ("two", "one")):
            began = time.time()
            out[name] = run_load(base, token, filings, runs[name], args.per_client)
            out[name]["head"] = head_times(times, began, time.time(), out[name])
        args.order += 1
    finally:
        out["server_exit"] = server.stop()
        out["server_stderr_tail"] = server.err[-5:]
        out["ticks_during_run"] = [line for line in server.err if "tick" in line.lower() and "job ran" in line]
    return out


def head_times(folder: Path, began: float, ended: float, run: dict[str, Any]) -> dict[str, Any] | None:
    """The head's lock in one run, from the server processes' lines: per filing the wait for it and the time
    it was held (to COMMIT); the wait's share of the filings' latency; the share of the run's wall time the
    lock was held (its utilization: near 1, writers queue on it)."""
    waits, holds = [], []
    for path in folder.glob("*.txt"):
        for line in path.read_text().splitlines():
            try:
                at, wait, hold = (float(x) for x in line.split())
            except ValueError:
                continue
            if began <= at <= ended:
                waits.append(wait)
                holds.append(hold)
    if not waits:
        return None  # SQLite: no FOR UPDATE (its writers' lock is the database's)
    latency_total = run["mean_ms"] / 1e3 * run["filings"]
    return {"locks": len(waits), "wait_ms_mean": statistics.fmean(waits) * 1e3,
            "wait_ms_p99": pct(sorted(waits), 0.99) * 1e3, "hold_ms_mean": statistics.fmean(holds) * 1e3,
            "wait_share_of_latency": sum(waits) / latency_total if latency_total else None,
            "utilization": sum(holds) / run["wall_s"]}


def median_of(runs: list[dict[str, Any]], name: str) -> float:
    return statistics.median(r[name]["rps"] for r in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=500, help="schools in each campaign")
    ap.add_argument("--clients", type=int, default=8, help="client threads (two campaigns: half into each)")
    ap.add_argument("--per-client", type=int, default=100, help="filings per client per run")
    ap.add_argument("--warmup", type=int, default=15, help="filings per client before measuring, per server")
    ap.add_argument("--repeat", type=int, default=2, help="PostgreSQL: pairs of servers, shared head then per-campaign")
    ap.add_argument("--workers", type=int, default=None, help="`serve --workers N` (default: serve's own)")
    ap.add_argument("--distinct-every", type=int, default=4, help="every k-th PDF has new content (a new blob)")
    ap.add_argument("--pg-url", default=None,
                    help="a PostgreSQL server to use (postgresql+psycopg://user@host:port/db; a database "
                         "bench_pg is made there); default: start one for the run")
    args = ap.parse_args()
    args.clients = max(2, args.clients - args.clients % 2)
    args.order = 0

    home = Path(tempfile.mkdtemp(prefix="campaignflow-bench-pg-"))
    os.environ["CAMPAIGN_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ.pop("CAMPAIGN_DB_URL", None)
    from campaign_app.settings import Settings

    Settings.from_env().prepare_prefect()
    site = home / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    fig: dict[str, Any] = {"units_per_campaign": args.units, "clients": args.clients, "per_client": args.per_client,
                           "repeat": args.repeat, "cpus": os.cpu_count(), "loadavg_before": os.getloadavg(),
                           "workers": args.workers or min(os.cpu_count() or 1, 4), "goal_head": GOAL_HEAD}
    pg: Postgres | None = None
    code = 0
    try:
        # SQLite: one server
        sqlite_home = home / "sqlite"
        sqlite_url = f"sqlite:///{sqlite_home / 'campaign.db'}"
        token = setup(sqlite_home, sqlite_url, args.units)
        fig["sqlite"] = serve_and_load(sqlite_home, sqlite_url, token, Filings(args.units, args.distinct_every),
                                       args, "shared", None)
        # PostgreSQL: pairs of servers, shared head / per-campaign heads
        if args.pg_url:
            server_url = args.pg_url
        else:
            pg = Postgres(Path(tempfile.mkdtemp(prefix="campaignflow-bench-pgdata-")))
            pg.start()
            server_url = pg.url("postgres")
        pg_url = new_database(server_url, "bench_pg")
        pg_home = home / "pg"
        token = setup(pg_home, pg_url, args.units)
        prepare_per_campaign_heads(pg_url)
        filings = Filings(args.units, args.distinct_every)
        fig["pg_shared"], fig["pg_per_campaign"] = [], []
        for _ in range(args.repeat):
            fig["pg_shared"].append(serve_and_load(pg_home, pg_url, token, filings, args, "shared", site))
            fig["pg_per_campaign"].append(serve_and_load(pg_home, pg_url, token, filings, args, "per-campaign", site))
    finally:
        if pg is not None:
            pg.stop()
            shutil.rmtree(pg.dir.parent, ignore_errors=True)
    fig["loadavg_after"] = os.getloadavg()
    runs = [fig["sqlite"], *fig["pg_shared"], *fig["pg_per_campaign"]]
    errors = sum(r[name]["errors"] for r in runs for name in ("one", "two"))
    code = 1 if errors or any(r["server_exit"] != 0 for r in runs) else 0
    summary(fig)
    report(fig)
    out = BENCH / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_pg.json").write_text(json.dumps(fig, indent=2, ensure_ascii=False, default=str))
    print(f"\nfigures written to {out / 'bench_pg.json'}")
    shutil.rmtree(home, ignore_errors=True)
    return code


def summary(fig: dict[str, Any]) -> None:
    s = fig["sqlite"]
    shared_two, per_two = median_of(fig["pg_shared"], "two"), median_of(fig["pg_per_campaign"], "two")
    shared_one = median_of(fig["pg_shared"], "one")
    fig["ratios"] = {
        "sqlite_two_over_one": s["two"]["rps"] / s["one"]["rps"],
        "pg_two_over_one": shared_two / shared_one,
        "pg_over_sqlite_two": shared_two / s["two"]["rps"],
        "pg_over_sqlite_one": shared_one / s["one"]["rps"],
        "per_campaign_over_shared_two": per_two / shared_two,
    }
    # what the shared head costs, two ways: (1) measured in the server, the share of a filing's latency spent
    # waiting for the head's lock (per-campaign heads could save at most that); (2) the A/B: the throughput
    # per-campaign heads add (noisy on a shared machine: a ratio of two runs)
    def wait_share(runs: list[dict[str, Any]]) -> float | None:
        shares = [r["two"]["head"]["wait_share_of_latency"] for r in runs if r["two"].get("head")]
        return statistics.median(shares) if shares else None

    fig["head_wait_share"] = wait_share(fig["pg_shared"])  # every wait for a head: the most there is to save
    fig["head_wait_share_per_campaign"] = wait_share(fig["pg_per_campaign"])  # what remains with per-campaign heads
    fig["head_utilization"] = statistics.median(r["two"]["head"]["utilization"] for r in fig["pg_shared"]
                                                if r["two"].get("head")) if fig["head_wait_share"] is not None else None
    fig["head_cost_ab"] = 1 - shared_two / per_two
    # the cost: the waits for the head that per-campaign heads take away (filings of one campaign still take
    # turns on their own head), as a share of the latency; with closed-loop clients throughput is clients /
    # latency, so it is also about the throughput they would add
    fig["head_cost"] = (None if fig["head_wait_share"] is None or fig["head_wait_share_per_campaign"] is None
                        else fig["head_wait_share"] - fig["head_wait_share_per_campaign"])
    fig["verdict_head"] = ("PASS" if fig["head_cost"] < GOAL_HEAD else "MISS") if fig["head_cost"] is not None else "—"


def report(fig: dict[str, Any]) -> None:
    r = fig["ratios"]
    print(f"\ncampaignflow filing over HTTP, PostgreSQL beside SQLite, two campaigns at once: `campaign serve` "
          f"({fig['workers']} uvicorn worker process(es)), {fig['units_per_campaign']} schools per campaign, "
          f"{fig['clients']} client threads x {fig['per_client']} PDF filings (~3 KB) per run; {fig['cpus']} CPUs "
          f"shared by server, database and clients; load average before {fig['loadavg_before'][0]:.2f}, "
          f"after {fig['loadavg_after'][0]:.2f}\n")
    print(f"{'database':<12}{'audit head':<14}{'run':<16}{'filings/s':>10}{'A /s':>8}{'B /s':>8}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'errors':>8}{'wait ms':>9}{'hold ms':>9}{'wait %':>9}{'held %':>9}")
    rows = [("SQLite", fig["sqlite"])] + [("PostgreSQL", x) for pair in zip(fig["pg_shared"], fig["pg_per_campaign"],
                                                                         strict=True) for x in pair]
    for db, srv in rows:
        for name, label in (("one", "one campaign"), ("two", "two campaigns")):
            x = srv[name]
            per = x["per_campaign_rps"]
            h = x.get("head")
            print(f"{db:<12}{srv['heads']:<14}{label:<16}{x['rps']:>10.1f}{per.get(KEYS[0], 0):>8.1f}"
                  + (f"{per[KEYS[1]]:>8.1f}" if KEYS[1] in per else f"{'—':>8}")
                  + f"{x['p50_ms']:>9.1f}{x['p99_ms']:>9.1f}{x['errors']:>8}"
                  + (f"{h['wait_ms_mean']:>9.2f}{h['hold_ms_mean']:>9.2f}{h['wait_share_of_latency'] * 100:>8.1f}%"
                     f"{h['utilization'] * 100:>8.1f}%" if h else f"{'—':>9}{'—':>9}{'—':>9}{'—':>9}"))
    print(f"\nratios (PostgreSQL: medians of {fig['repeat']} servers each):")
    print(f"  two campaigns / one campaign:             SQLite {r['sqlite_two_over_one']:.2f}, "
          f"PostgreSQL {r['pg_two_over_one']:.2f}")
    print(f"  PostgreSQL / SQLite:                      one campaign {r['pg_over_sqlite_one']:.2f}, "
          f"two campaigns {r['pg_over_sqlite_two']:.2f}")
    print(f"  per-campaign heads / shared head (two):   {r['per_campaign_over_shared_two']:.2f} (A/B: "
          f"{fig['head_cost_ab'] * 100:+.1f} % of throughput; a ratio of two runs on a shared machine)")
    if fig["head_cost"] is not None:
        print(f"\nthe audit head, two campaigns filing (PostgreSQL, medians): with the shared head a filing waits for "
              f"its lock {fig['head_wait_share'] * 100:.1f} % of its latency (the lock held "
              f"{fig['head_utilization'] * 100:.1f} % of the time, to COMMIT); with per-campaign heads "
              f"{fig['head_wait_share_per_campaign'] * 100:.1f} %. The shared head costs the difference, "
              f"{fig['head_cost'] * 100:.1f} % of latency (goal < {GOAL_HEAD * 100:.0f} %): {fig['verdict_head']}")
    print("columns: wait ms = the head's SELECT ... FOR UPDATE per filing (mostly waiting for the lock); hold ms = "
          "from then to COMMIT; wait % = waits / latencies; held % = lock held / wall time")


if __name__ == "__main__":
    raise SystemExit(main())
