"""What the crash and backup tests share: a campaign dated around today, a real `campaign serve` with worker
processes that can be SIGKILLed as a whole (its own session), `campaign` commands, and HTTP filers that
record each acknowledged write (HTTP 201) as it arrives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .served import address_of

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = [sys.executable, "-c", "from campaign_app.cli import main; main()"]
KEY = "served"
WAIT = 180.0  # a bound on every wait for an event, never a sleep that must be long enough


def spec(schools: int) -> str:
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    units = "\n".join(f"  - {{key: s{n}, name: 第{n}小学, parent: bureau, tags: [学校]}}" for n in range(1, schools + 1))
    return f"""\
version: 1
key: {KEY}
title: 崩溃与备份测试
calendar: all-days
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
{units}
artifacts:
  report: {{title: 报告}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: {d(-10)}
    end: {d(20)}
    steps:
      - key: report
        title: 报告
        due: {d(10)}
        requires:
          - {{artifact: report, from: tag:学校}}
reminders:
  before: []
  on_due: false
  send_at: "00:00"
  send_until: "23:59"
"""


def environment(home: Path, db_url: str) -> dict[str, str]:
    return {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": db_url, "PYTHONPATH": str(ROOT),
            "CAMPAIGN_ACTOR": "测试员", "PREFECT_HOME": str(home / "prefect")}


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CAMPAIGN, *args], env=env, capture_output=True, text=True, timeout=WAIT, check=False)
    if ok:
        assert done.returncode == 0, f"campaign {' '.join(args)}: {done.stderr}"
    return done


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """A `campaign` command in its own session (killing its group takes its children too)."""
    return subprocess.Popen([*CAMPAIGN, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def new_campaign(env: dict[str, str], home: Path, schools: int) -> str:
    """The campaign, its phase opened by a tick, and an admin's API token; in this process (each `campaign`
    command costs a Python start-up), with the same store functions the commands call."""
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.accounts import add_user, create_token
    from campaign_model.store.audit import Act
    from campaign_model.store.campaigns import create_campaign
    from campaign_model.store.db import open_engine
    from flows.tick import tick_direct

    home.mkdir(parents=True, exist_ok=True)
    url = env["CAMPAIGN_DB_URL"]
    now = dt.datetime.now(dt.UTC)
    act = Act(now, "测试员", now)
    engine = open_engine(url)
    try:
        with engine.begin() as conn:
            create_campaign(conn, load_spec_text(spec(schools), "spec.yaml"), act)
            add_user(conn, "office", "admin", None, None, act)
            token, _ = create_token(conn, "office", act)
        tick_direct(url, KEY, Act(now, "tick", now), str(home / "outbox" / f"{KEY}.jsonl"))
    finally:
        engine.dispose()
    return token


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process and everything in its session (the uvicorn workers, Prefect's server)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


@contextmanager
def serve(env: dict[str, str], workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`campaign serve --port 0 --workers N`; yields (address, process) once the API answers. The caller may
    kill it; otherwise it is killed at the end (these tests are about crashes, not clean stops)."""
    proc = subprocess.Popen([*CAMPAIGN, "serve", "--port", "0", "--workers", str(workers)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    said: list[str] = []
    try:
        address = address_of(proc, WAIT, said)
        assert httpx.get(address + "/api/v1/health", timeout=WAIT).status_code == 200
        yield address, proc
    finally:
        kill_group(proc)
    assert not any("Traceback" in line for line in said), "".join(said[-60:])


def pdf(n: int, size: int = 4000) -> bytes:
    """A distinct PDF-looking file per filing (a distinct blob each)."""
    head = f"%PDF-1.4 report {n}\n".encode()
    return head + hashlib.sha256(str(n).encode()).digest() * (size // 32)


class Filers:
    """Threads that file the report of schools over HTTP; each 201 is recorded (school, its file's sha256, time)."""

    def __init__(self, address: str, token: str, schools: list[int], threads: int = 6):
        self.address, self.token = address, token
        self.todo = list(schools)
        self.lock = threading.Lock()
        self.acked: list[tuple[int, str, float]] = []
        self.errors: list[str] = []
        self.ack_event = threading.Event()
        self.want = 0
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]

    def start(self) -> Filers:
        for t in self.threads:
            t.start()
        return self

    def wait_acked(self, n: int) -> None:
        with self.lock:
            self.want = n
            if len(self.acked) >= n:
                self.ack_event.set()
        assert self.ack_event.wait(WAIT), f"only {len(self.acked)} filings acknowledged: {self.errors[:3]}"

    def join(self) -> None:
        for t in self.threads:
            t.join(WAIT)

    def _work(self) -> None:
        with httpx.Client(base_url=self.address, headers={"Authorization": f"Bearer {self.token}"}, timeout=60) as c:
            while True:
                with self.lock:
                    if not self.todo:
                        return
                    n = self.todo.pop(0)
                try:
                    r = c.post(f"/api/v1/campaigns/{KEY}/filings", data={"unit": f"s{n}", "artifact": "report"},
                               files=[("files", (f"报告{n}.pdf", pdf(n), "application/pdf"))])
                except Exception as exc:  # noqa: BLE001 - the server was killed: not acknowledged
                    with self.lock:
                        self.errors.append(f"s{n}: {type(exc).__name__}")
                    continue
                with self.lock:
                    if r.status_code == 201:
                        self.acked.append((n, r.json()["files"][0]["sha256"], time.monotonic()))
                        if self.want and len(self.acked) >= self.want:
                            self.ack_event.set()
                    else:
                        self.errors.append(f"s{n}: {r.status_code} {r.text[:200]}")
