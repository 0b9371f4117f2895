#!/usr/bin/env python
"""Benchmark of filing over HTTP (not a test): see bench/README.md.

Starts the real service (`campaign serve --host 127.0.0.1 --port 0`, uvicorn and the scheduler in one
process) on a fresh SQLite file in a temporary CAMPAIGN_HOME, then POSTs multipart filings to
/api/v1/campaigns/{key}/filings from C concurrent clients (threads, one keep-alive httpx.Client each) and
reports requests/s and latency percentiles. Baselines measured in the same run: GET /api/v1/health with the
same clients against the same server (HTTP and the framework alone), and `file_artifact` called in process
without HTTP (the store's own cost per filing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KEY = "bench-http"
TARGET_RPS = 200.0
TARGET_P99_MS = 100.0
ISSUE_HEADER = "问题,类别,整改措施,责任领导,牵头股室,整改时限"
CATEGORIES = "弱松庸慢散懒推奢"
# the campaign runs now: filings are on time and the issue lists' deadlines are ahead (a deadline long past
# would make each row's first reminder walk every overdue reminder slot since: see the README)
TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


# --- the campaign


def spec_text(n_units: int, n_districts: int) -> str:
    """An organizer, districts, and schools under them; each school owes a signed plan (PDF), a report (PDF)
    and an issue list (rows, a ledger source)."""
    lines = ["version: 1", f"key: {KEY}", "title: 作风整顿（HTTP 基准）", "timezone: Asia/Shanghai", "calendar: cn",
             "organizer: bureau", "units:", "  - {key: bureau, name: 县教育局}"]
    lines += [f"  - {{key: d{d:02d}, name: 学区{d:02d}, parent: bureau, tags: [学区]}}" for d in range(n_districts)]
    lines += [f"  - {{key: s{i:05d}, name: 学校{i:05d}, parent: d{i % n_districts:02d}, tags: [学校]}}"
              for i in range(n_units)]
    lines += ["artifacts:", "  plan: {title: 实施方案}", "  report: {title: 自查报告}", "  issue_list:",
              "    title: 问题清单", "    rows:", "      problem: {title: 问题, required: true}",
              "      category: {title: 类别, type: choice, choices: [弱, 松, 庸, 慢, 散, 懒, 推, 奢]}",
              "      measure: {title: 整改措施}", "      leader: {title: 责任领导}", "      office: {title: 牵头股室}",
              "      deadline: {title: 整改时限, type: date, required: true}",
              "phases:", "  - key: check", "    title: 自查自纠", "    kind: self_check",
              f"    start: {day(-7)}", f"    end: {day(60)}", "    steps:",
              "      - key: plan", "        title: 制定方案", f"        due: {day(14)}", "        requires:",
              "          - {artifact: plan, from: 'tag:学校', signoff: true}",
              "      - key: check", "        title: 自查", f"        due: {day(30)}", "        requires:",
              "          - {artifact: report, from: 'tag:学校'}",
              "          - {artifact: issue_list, from: 'tag:学校', review: true}"]
    return "\n".join(lines) + "\n"


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def pdf_bytes(n: int, distinct: bool, size: int = 3000) -> bytes:
    """A few KB that start like a PDF; `distinct` makes the content (so the blob) new, otherwise it is shared."""
    tag = f"filing {n}" if distinct else "shared scan"
    body = (f"1 0 obj << /Title ({tag}) >> endobj\n" * (size // 32 + 1)).encode()[:size]
    return b"%PDF-1.4\n" + body + b"\n%%EOF\n"


def rows_csv(n: int) -> bytes:
    lines = [ISSUE_HEADER] + [f"问题{n}-{r} 作风不实,{CATEGORIES[(n + r) % 8]},加强学习整改{r},王副校长,办公室,{day(40 + r)}"
                              for r in range(5)]
    return ("\n".join(lines) + "\n").encode()


def setup(home: Path, url: str, n_units: int, n_districts: int) -> dict[str, str]:
    """Create the campaign and one unit account per district (it files for the schools below it: the route checks
    the unit is in the caller's scope), each with an API token; start the phase with one tick."""
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.accounts import add_user, create_token
    from campaign_model.store.audit import Act
    from campaign_model.store.campaigns import create_campaign
    from campaign_model.store.db import open_engine

    now = dt.datetime.now(dt.UTC)
    act = Act(now, "bench", now)
    engine = open_engine(url)
    tokens = {}
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(spec_text(n_units, n_districts), "<bench>"), act)
        for d in range(n_districts):
            add_user(conn, f"clerk-d{d:02d}", "unit", f"d{d:02d}", None, act)
            tokens[f"d{d:02d}"] = create_token(conn, f"clerk-d{d:02d}", act, label="bench")[0]
    engine.dispose()
    from flows.tick import tick_direct

    # the phase under way, as when units file; the server's own hourly tick then has little to do
    tick_direct(url, KEY, act, str(home / "outbox" / f"{KEY}.jsonl"))
    return tokens


# --- the server


class Server:
    """`campaign serve` as a subprocess; its output is drained by threads (and kept for the report)."""

    def __init__(self, home: Path, url: str, workers: int | None = None):
        env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": url, "PREFECT_HOME": str(home / "prefect"),
               "PYTHONUNBUFFERED": "1"}
        exe = Path(sys.executable).parent / "campaign"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from campaign_app.cli import main; main()"]
        extra = ["--workers", str(workers)] if workers else []
        self.proc = subprocess.Popen([*cmd, "serve", "--host", "127.0.0.1", "--port", "0", *extra], env=env, cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.out: list[str] = []
        self.err: list[str] = []
        self._address = threading.Event()
        self.base = ""
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.out, True), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.err, False), daemon=True).start()

    def _drain(self, stream: Any, into: list[str], look: bool) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))
            if look and not self.base and (m := re.search(r"http://127\.0\.0\.1:(\d+)/", line)):
                self.base = f"http://127.0.0.1:{m.group(1)}"
                self._address.set()

    def wait_ready(self, timeout: float = 120) -> str:
        import httpx

        deadline = time.monotonic() + timeout
        while not self._address.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + "\n".join(self.out + self.err))
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/api/v1/health", timeout=5).status_code == 200:
                    return self.base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /api/v1/health")

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system) used so far by the server and its worker processes (`serve --workers`);
        None where /proc is missing."""
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").glob("[0-9]*/stat"):
            try:
                stats[int(entry.parent.name)] = entry.read_text().rsplit(")", 1)[1].split()
            except (OSError, ValueError):
                continue
        if self.proc.pid not in stats:
            return None
        tree, grew = {self.proc.pid}, True
        while grew:  # the server, its children, theirs ...
            grown = {pid for pid, f in stats.items() if int(f[1]) in tree} | tree
            grew, tree = grown != tree, grown
        return sum(int(stats[p][11]) + int(stats[p][12]) for p in tree) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


# --- the clients


def load(base: str, clients: int, n: int, request: Callable[[Any, int], Any],
         server_cpu: Callable[[], float | None] = lambda: None) -> dict[str, Any]:
    """n requests from `clients` threads (one keep-alive httpx.Client each); request(client, i) -> response."""
    import httpx

    counter = iter(range(n))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=base, timeout=60) as client:
            barrier.wait()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                t0 = time.perf_counter()
                try:
                    response = request(client, i)
                    ok = response.status_code in (200, 201)
                    detail = f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                mine.append(time.perf_counter() - t0)
                if not ok:
                    with lock:
                        errors.append(detail)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, name=f"bench-client-{k}") for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    cpu0, own0, t0 = server_cpu(), time.process_time(), time.perf_counter()
    for t in threads:
        t.join()
    wall, cpu1, own1 = time.perf_counter() - t0, server_cpu(), time.process_time()
    result = summarize(latencies, wall, errors, clients)
    # CPU per request of the server process and of the clients (this process); the server's CPU seconds per
    # wall second near 1.0 means one core busy: a Python process runs its Python code on one core at a time
    result["client_cpu_ms_per_req"] = (own1 - own0) / n * 1e3
    result["server_cpu_ms_per_req"] = (cpu1 - cpu0) / n * 1e3 if cpu0 is not None and cpu1 is not None else None
    result["server_cores_busy"] = (cpu1 - cpu0) / wall if cpu0 is not None and cpu1 is not None else None
    return result


def pct(sorted_values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of sorted values."""
    k = max(0, min(len(sorted_values) - 1, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summarize(latencies: list[float], wall: float, errors: list[str], clients: int) -> dict[str, Any]:
    s = sorted(latencies)
    return {"clients": clients, "requests": len(s), "wall_s": wall, "rps": len(s) / wall,
            "p50_ms": pct(s, 0.50) * 1e3, "p90_ms": pct(s, 0.90) * 1e3, "p99_ms": pct(s, 0.99) * 1e3,
            "max_ms": s[-1] * 1e3, "mean_ms": statistics.fmean(s) * 1e3, "errors": len(errors),
            "first_errors": errors[:5]}


class Work:
    """The filings to make, in order: every school's plan and report once (first versions), then again
    (second versions), and so on; each through the token of the school's district."""

    def __init__(self, tokens: dict[str, str], n_units: int, n_districts: int, distinct_every: int):
        self.tokens, self.n_units, self.n_districts = tokens, n_units, n_districts
        self.distinct_every = distinct_every
        self.next = 0  # the first item of the next run (runs never repeat an item, so versions go up)
        self.lock = threading.Lock()

    def take(self, n: int) -> int:
        with self.lock:
            start, self.next = self.next, self.next + n
        return start

    def unit(self, j: int) -> tuple[str, str]:
        u = j % self.n_units
        return f"s{u:05d}", self.tokens[f"d{u % self.n_districts:02d}"]

    def file_pdf(self, start: int) -> Callable[[Any, int], Any]:
        def request(client: Any, i: int) -> Any:
            j = start + i
            unit, token = self.unit(j // 2)
            artifact = ("plan", "report")[j % 2]
            data = {"unit": unit, "artifact": artifact}
            if artifact == "plan":
                data["signed_by"] = "张校长"
            pdf = pdf_bytes(j, j % self.distinct_every == 0)
            return client.post(f"/api/v1/campaigns/{KEY}/filings", data=data,
                               files={"files": (f"{artifact}-{unit}.pdf", pdf, "application/pdf")},
                               headers={"Authorization": f"Bearer {token}"})
        return request

    def file_rows(self, start: int) -> Callable[[Any, int], Any]:
        def request(client: Any, i: int) -> Any:
            j = start + i
            unit, token = self.unit(j)
            return client.post(f"/api/v1/campaigns/{KEY}/filings", data={"unit": unit, "artifact": "issue_list"},
                               files={"rows": ("问题清单.csv", rows_csv(j), "text/csv")},
                               headers={"Authorization": f"Bearer {token}"})
        return request


def health(client: Any, i: int) -> Any:
    return client.get("/api/v1/health")


# --- in process, without HTTP


def direct(home: Path, url: str, units: list[str], distinct_every: int) -> dict[str, Any]:
    """`file_artifact` for each unit's plan, one transaction each (as the route does), serially."""
    from campaign_model.store.audit import Act
    from campaign_model.store.blobs import BlobStore
    from campaign_model.store.db import open_engine
    from campaign_model.store.filings import file_artifact

    engine = open_engine(url, migrate=False)
    store = BlobStore(home / "files")
    work = Path(tempfile.mkdtemp(prefix="campaignflow-bench-direct-"))
    times: list[float] = []
    try:
        for n, unit in enumerate(units):
            path = work / f"{n}.pdf"
            path.write_bytes(pdf_bytes(10_000_000 + n, n % distinct_every == 0))  # spooled beforehand, like the route
            now = dt.datetime.now(dt.UTC)
            t0 = time.perf_counter()
            with engine.begin() as conn:
                file_artifact(conn, store, KEY, unit, "plan", Act(now, "bench", now), files=[(path, "plan.pdf")],
                              signed_by="张校长")
            times.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        engine.dispose()
    s = sorted(times)
    return {"filings": len(s), "mean_ms": statistics.fmean(s) * 1e3, "p50_ms": pct(s, 0.5) * 1e3,
            "p99_ms": pct(s, 0.99) * 1e3, "serial_per_s": len(s) / sum(s)}


# --- where a request's time goes: the app in process, one request at a time, timers around its layers


class Layers:
    """Wall time per layer, summed over calls. Requests go one at a time, so there is no queueing and no
    other thread to wait for: the wall time of a layer is the work it does."""

    def __init__(self) -> None:
        from collections import defaultdict

        self.spent: dict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def _patch(self, owner: Any, name: str, new: Any) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, new)
        self._undo.append(lambda: setattr(owner, name, original))

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] += time.perf_counter() - t0

        self._patch(owner, name, timed)

    def wrap_async(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.spent[label] += time.perf_counter() - t0

        self._patch(owner, name, timed)

    def wrap_cm(self, owner: Any, name: str, enter: str, leave: str) -> None:
        """A context manager: its entry and its exit timed apart."""
        from contextlib import contextmanager

        original = getattr(owner, name)

        @contextmanager
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            cm = original(*args, **kwargs)
            value = cm.__enter__()
            self.spent[enter] += time.perf_counter() - t0
            try:
                yield value
            except BaseException as exc:
                t0 = time.perf_counter()
                if not cm.__exit__(type(exc), exc, exc.__traceback__):
                    raise
                self.spent[leave] += time.perf_counter() - t0
            else:
                t0 = time.perf_counter()
                cm.__exit__(None, None, None)
                self.spent[leave] += time.perf_counter() - t0

        self._patch(owner, name, timed)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()


# (label, depth, what it is); a layer's "other" is its time less its children's
LAYERS = [
    ("client latency", 0, "httpx: build the request, send, wait, read the response"),
    ("asgi app", 1, "from the app's first call to its return: everything but uvicorn's HTTP parsing and the socket"),
    ("form parse", 2, "starlette Request.form(): the multipart parser, files into SpooledTemporaryFile"),
    ("auth (token)", 2, "deps.identify: sha256 of the token, one SELECT (an UPDATE of last_used_at once a minute)"),
    ("use case: load_ctx", 2, "the campaign, for the unit and scope check (usecases.filings.file_uploads)"),
    ("use case: unit", 2, "the unit by key or name (scope.unit_key)"),
    ("use case: scope check", 2, "Scope.check: the unit under the caller's, walked up"),
    ("spool: check + write", 2, "uploads.spooled: mkdtemp, copy each upload to a file, read its head"),
    ("prepare_filing", 2, "campaign_model.store.filings.prepare_filing: the filing checked, reading only"),
    ("pf: load_ctx", 3, "the campaign again: row, calendar, reminder policy (pydantic)"),
    ("pf: find_obligation", 3, "unit id, then the unit's obligations for the artifact"),
    ("pf: read_rows", 3, "issue lists: read and check the CSV"),
    ("put_files", 2, "read the spooled files, hash, put by hash (outside the writers' lock)"),
    ("blob put_bytes", 3, "sha256; a new content: write aside, fsync, rename"),
    ("write lock + BEGIN", 2, "Services.write entry: the SQLite writers' lock, a connection from the pool"),
    ("record_filing", 2, "campaign_model.store.filings.record_filing, inside the transaction"),
    ("rf: record_blobs", 3, "INSERT ... ON CONFLICT DO NOTHING of the blob rows"),
    ("rf: cancel_for_closed", 3, "UPDATE outbox ... EXISTS: planned reminders of the obligation cancelled"),
    ("rf: ledger items", 3, "issue lists: one ledger item and one event per row"),
    ("rf: audit.append", 3, "audit head FOR UPDATE, hash of the event, INSERT, UPDATE head"),
    ("COMMIT", 2, "Services.write exit"),
    ("spool: remove", 2, "rmtree of the request's temporary directory"),
]


def breakdown(home: Path, url: str, work: Work, n_pdf: int, n_rows: int, rows_start: int) -> dict[str, Any]:
    """The service's app (as `campaign serve` builds it, without the scheduler) run by uvicorn in a thread of
    this process; requests one at a time from one client; timers around the layers of a filing."""
    import asyncio

    import httpx
    import starlette.requests
    import uvicorn

    from campaign_app.settings import Settings
    from campaign_app.usecases import filings as use_case
    from campaign_app.usecases.scope import Scope
    from campaign_app.usecases.services import Services
    from campaign_app.web import api, deps, uploads
    from campaign_app.web.app import create_app
    from campaign_model import rows as rows_mod
    from campaign_model.store import audit, blobs, filings
    from campaign_model.store.db import open_engine

    settings = Settings(home, url)
    services = Services(settings, open_engine(url, migrate=False))
    app = create_app(services)
    layers = Layers()

    async def timed_app(scope: Any, receive: Any, send: Any) -> None:
        t0 = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                layers.spent["asgi app"] += time.perf_counter() - t0

    server = uvicorn.Server(uvicorn.Config(timed_app, host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="bench-uvicorn", daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    assert uploads.spooled is api.spooled  # the route's name for it is the one wrapped
    layers.wrap_async(starlette.requests.Request, "_get_form", "form parse")
    layers.wrap(deps, "identify", "auth (token)")
    layers.wrap(use_case, "load_ctx", "use case: load_ctx")
    layers.wrap(use_case, "unit_key", "use case: unit")
    layers.wrap(Scope, "check", "use case: scope check")
    layers.wrap_cm(api, "spooled", "spool: check + write", "spool: remove")
    layers.wrap_cm(Services, "write", "write lock + BEGIN", "COMMIT")
    layers.wrap(filings, "prepare_filing", "prepare_filing")
    layers.wrap(filings, "load_ctx", "pf: load_ctx")
    layers.wrap(filings, "find_obligation", "pf: find_obligation")
    layers.wrap(rows_mod, "read_rows", "pf: read_rows")
    layers.wrap(use_case, "put_files", "put_files")
    layers.wrap(blobs.BlobStore, "put_bytes", "blob put_bytes")
    layers.wrap(filings, "record_filing", "record_filing")
    layers.wrap(blobs, "record_blobs", "rf: record_blobs")
    layers.wrap(filings, "cancel_for_closed", "rf: cancel_for_closed")
    layers.wrap(filings, "_ledger", "rf: ledger items")
    layers.wrap(audit, "append", "rf: audit.append")
    result: dict[str, Any] = {}
    warm = 20  # this process has not run these paths yet
    runs = (("health", n_pdf, health), ("pdf", n_pdf, work.file_pdf(work.take(n_pdf + warm))),
            ("rows", n_rows, work.file_rows(rows_start)))
    try:
        for name, n, request in runs:
            with httpx.Client(base_url=base, timeout=60) as client:
                for i in range(warm):
                    request(client, n + i)
                layers.spent.clear()
                t0 = time.perf_counter()
                for i in range(n):
                    c0 = time.perf_counter()
                    response = request(client, i)
                    layers.spent["client latency"] += time.perf_counter() - c0
                    if response.status_code not in (200, 201):
                        raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
                wall = time.perf_counter() - t0
            result[name] = {"requests": n, "serial_rps": n / wall,
                            "ms": {label: layers.spent[label] / n * 1e3 for label, _, _ in LAYERS if label in layers.spent}}
    finally:
        layers.undo()
        server.should_exit = True
        thread.join(30)
        services.engine.dispose()
    return result


def print_breakdown(b: dict[str, Any]) -> None:
    print("\nwhere a request's time goes: the same app in this process, ONE request at a time (no queueing), "
          "wall ms per request")
    print(f"{'layer':<34}{'health':>9}{'PDF':>9}{'rows':>9}   what")
    children: dict[str, list[str]] = {}
    stack: list[str] = []
    for label, depth, _ in LAYERS:
        del stack[depth:]
        if stack:
            children.setdefault(stack[-1], []).append(label)
        stack.append(label)
    for label, depth, what in LAYERS:
        cells = [b[k]["ms"].get(label) for k in ("health", "pdf", "rows")]
        if all(c is None for c in cells):
            continue
        print(f"{'  ' * depth + label:<34}" + "".join(f"{c:>9.3f}" if c is not None else f"{'':>9}" for c in cells)
              + f"   {what}")
        if label in children:  # the parent's own share: what none of its timed children covers
            rest = [None if c is None else c - sum(b[k]["ms"].get(ch, 0.0) for ch in children[label])
                    for c, k in zip(cells, ("health", "pdf", "rows"), strict=False)]
            print(f"{'  ' * (depth + 1) + '(other)':<34}" + "".join(f"{c:>9.3f}" if c is not None else f"{'':>9}"
                                                                     for c in rest)
                  + "   " + {"client latency": "uvicorn (HTTP parsing, socket), the client's own work",
                             "asgi app": "FastAPI/Starlette: middleware, routing, dependencies, JSON response",
                             "record_filing": "version, INSERT filing, UPDATE obligation, result",
                             "prepare_filing": "the artifact kind, the signer, the rows' columns"}.get(label, ""))
    print(f"{'serial requests/s':<34}" + "".join(f"{b[k]['serial_rps']:>9.0f}" for k in ("health", "pdf", "rows")))


# --- the run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=2000, help="schools that file (each owes a plan, a report, an issue list)")
    ap.add_argument("--districts", type=int, default=16, help="districts; one unit account (token) each")
    ap.add_argument("--clients", default="8,16", help="concurrency levels, comma-separated")
    ap.add_argument("--requests", type=int, default=2000, help="PDF filings per concurrency level (and health GETs)")
    ap.add_argument("--rows-requests", type=int, default=600, help="issue-list filings (5 rows each)")
    ap.add_argument("--warmup", type=int, default=200, help="requests before measuring (filings and health)")
    ap.add_argument("--direct", type=int, default=300, help="filings through file_artifact in process")
    ap.add_argument("--distinct-every", type=int, default=4, help="every k-th PDF has new content (a new blob)")
    ap.add_argument("--breakdown", type=int, default=300,
                    help="serial requests (health, PDF; half as many issue lists) timed layer by layer in process; 0: none")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    ap.add_argument("--workers", type=int, default=None, help="`serve --workers N` (default: serve's own default)")
    args = ap.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    home = Path(tempfile.mkdtemp(prefix="campaignflow-bench-http-"))
    os.environ["CAMPAIGN_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ.pop("CAMPAIGN_DB_URL", None)
    from campaign_app.settings import Settings

    Settings.from_env().prepare_prefect()
    url = f"sqlite:///{home / 'campaign.db'}"
    fig: dict[str, Any] = {"units": args.units, "districts": args.districts, "requests": args.requests,
                           "rows_requests": args.rows_requests, "warmup": args.warmup, "db": "sqlite",
                           "target": {"rps": TARGET_RPS, "p99_ms": TARGET_P99_MS}, "cpus": os.cpu_count(),
                           "loadavg_before": os.getloadavg()}
    t0 = time.perf_counter()
    tokens = setup(home, url, args.units, args.districts)
    fig["setup_s"] = time.perf_counter() - t0
    # the last units are kept for the in-process baseline, so that its filings are first versions too
    direct_units = [f"s{u:05d}" for u in range(args.units - args.direct, args.units)]
    work = Work(tokens, args.units - args.direct, args.districts, args.distinct_every)

    server = Server(home, url, args.workers)
    fig["workers"] = args.workers or min(os.cpu_count() or 1, 4)
    try:
        t0 = time.perf_counter()
        base = server.wait_ready()
        fig["server_start_s"] = time.perf_counter() - t0
        fig["server"] = base
        load(base, max(levels), args.warmup, health)  # warm-up: connections, imports, the first queries
        load(base, max(levels), args.warmup, work.file_pdf(work.take(args.warmup)))
        load(base, max(levels), args.warmup // 4, work.file_rows(0))  # issue lists of the first units: version 1
        rows_next = args.warmup // 4
        fig["health"], fig["pdf"], fig["rows"] = {}, {}, {}
        for c in levels:
            fig["health"][c] = load(base, c, args.requests, health, server.cpu_s)
            fig["pdf"][c] = load(base, c, args.requests, work.file_pdf(work.take(args.requests)), server.cpu_s)
            fig["rows"][c] = load(base, c, args.rows_requests, work.file_rows(rows_next), server.cpu_s)
            rows_next += args.rows_requests
        fig["direct"] = direct(home, url, direct_units, args.distinct_every)
    finally:
        fig["server_exit"] = server.stop()
    fig["server_stderr_tail"] = server.err[-5:]
    # the service's scheduler ticks on the hour: a tick that ran during the run is reported with the figures
    fig["ticks_during_run"] = [line for line in server.err if "job ran" in line or "run missed" in line]
    if args.breakdown:
        fig["breakdown"] = breakdown(home, url, work, args.breakdown, args.breakdown // 2, rows_next)
    fig["loadavg_after"] = os.getloadavg()
    fig["pdf_filings_made"] = work.next
    fig["first_versions_pdf"] = min(work.next, 2 * (args.units - args.direct))

    report(fig, levels)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_http.json").write_text(json.dumps(fig, indent=2, ensure_ascii=False, default=str))
    print(f"\nfigures written to {out / 'bench_http.json'}")
    if args.keep:
        print(f"data kept in {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    errors = sum(fig[k][c]["errors"] for k in ("health", "pdf", "rows") for c in levels)
    return 1 if errors or fig["server_exit"] != 0 else 0


def report(fig: dict[str, Any], levels: list[int]) -> None:
    print(f"\ncampaignflow HTTP filing benchmark: `campaign serve` on {fig['server']} "
          f"(the scheduler and {fig['workers']} uvicorn worker process(es)), "
          f"SQLite, {fig['units']:,} schools in {fig['districts']} districts, one unit token per district; "
          f"{fig['cpus']} CPUs shared by server and clients; load average before {fig['loadavg_before'][0]:.2f}, "
          f"after {fig['loadavg_after'][0]:.2f}")
    print(f"per level: {fig['requests']:,} PDF filings (signed plan / report, ~3 KB, every k-th a new blob), "
          f"{fig['rows_requests']:,} issue lists (CSV, 5 rows -> 5 ledger items), {fig['requests']:,} health GETs\n")
    head = (f"{'run':<26}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
            f"{'srv CPU ms':>11}{'srv cores':>10}{'cli CPU ms':>11}")
    print(head + f"{'x health req/s':>16}{'x health p50':>14}  verdict")
    for c in levels:
        h = fig["health"][c]
        for name, label in (("health", "GET /health (baseline)"), ("pdf", "POST filing, PDF"),
                            ("rows", "POST filing, issue list")):
            r = fig[name][c]
            line = (f"{label:<26}{c:>8}{r['rps']:>9.0f}{r['p50_ms']:>9.1f}{r['p90_ms']:>9.1f}{r['p99_ms']:>9.1f}"
                    f"{r['max_ms']:>9.1f}{r['errors']:>8}"
                    + (f"{r['server_cpu_ms_per_req']:>11.2f}{r['server_cores_busy']:>10.2f}"
                       if r["server_cpu_ms_per_req"] is not None else f"{'—':>11}{'—':>10}")
                    + f"{r['client_cpu_ms_per_req']:>11.2f}")
            if name == "health":
                print(line)
                continue
            r["x_health_rps"] = r["rps"] / h["rps"]
            r["x_health_p50"] = r["p50_ms"] / h["p50_ms"]
            ok = r["rps"] >= TARGET_RPS and r["p99_ms"] < TARGET_P99_MS and r["errors"] == 0
            r["verdict"] = "PASS" if ok else "MISS"
            print(line + f"{r['x_health_rps']:>16.2f}{r['x_health_p50']:>14.1f}  {r['verdict']}")
    d = fig["direct"]
    print(f"\nin process, no HTTP: file_artifact (signed plan, one transaction each, serial) x {d['filings']}: "
          f"mean {d['mean_ms']:.2f} ms, p50 {d['p50_ms']:.2f} ms, p99 {d['p99_ms']:.2f} ms = {d['serial_per_s']:.0f} filings/s")
    for c in levels:
        r = fig["pdf"][c]
        print(f"  {c} clients: HTTP PDF filing p50 = {r['p50_ms'] / d['p50_ms']:.1f} x the direct call; "
              f"throughput = {r['rps'] / d['serial_per_s']:.2f} x the serial direct rate")
    if fig["health"][levels[0]]["server_cpu_ms_per_req"] is not None:
        print(f"\neach server process runs its Python on one core at a time (the GIL); with {fig['workers']} worker "
              f"process(es) on {fig['cpus']} CPUs: requests/s <= 1000 x min(workers, CPUs) / CPU ms per request")
        for c in levels:
            h = fig["health"][c]
            for name, label in (("pdf", "PDF filing"), ("rows", "issue list")):
                r = fig[name][c]
                r["cpu_ceiling_rps"] = 1000 * min(fig["workers"], fig["cpus"] or 1) / r["server_cpu_ms_per_req"]
                print(f"  {label:<11}{c:>3} clients: {r['server_cpu_ms_per_req']:5.2f} ms CPU -> at most "
                      f"{r['cpu_ceiling_rps']:4.0f}/s (measured {r['rps']:.0f}/s); "
                      f"{r['server_cpu_ms_per_req'] - h['server_cpu_ms_per_req']:.2f} ms more than GET /health, "
                      f"{r['server_cpu_ms_per_req'] / d['mean_ms']:.1f} x the direct file_artifact")
    if "breakdown" in fig:
        print_breakdown(fig["breakdown"])
    if fig["ticks_during_run"]:
        print(f"\nnote: the server's scheduler ran {len(fig['ticks_during_run'])} tick(s) during the run "
              f"(on the hour; its first Prefect flow run also starts a temporary API server): {fig['ticks_during_run']}")
    print(f"\ntarget: {TARGET_RPS:.0f} filings/s with p99 < {TARGET_P99_MS:.0f} ms (PASS/MISS per row); "
          f"server exit status {fig['server_exit']}")


if __name__ == "__main__":
    raise SystemExit(main())
