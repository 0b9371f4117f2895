"""`campaign serve` with several HTTP worker processes: programs reach the API over loopback, writes from
both workers land, and "remind now" sent to a worker makes the scheduler in the parent run a tick that
sends the manual reminder (to the JSON-lines file: no channel is configured).

The campaign is dated around today (the server reads the real clock) with an all-day send window.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = [sys.executable, "-c", "from campaign_app.cli import main; main()"]


def spec(today: dt.date, schools: int) -> str:
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    units = "\n".join(f"  - {{key: s{n}, name: 第{n}小学, parent: bureau, tags: [学校]}}" for n in range(1, schools + 1))
    return f"""\
version: 1
key: served
title: 服务测试
calendar: all-days
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
{units}
artifacts:
  plan: {{title: 实施方案}}
  report: {{title: 报告}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: {d(-10)}
    end: {d(20)}
    steps:
      - key: plan
        title: 实施方案
        due: {d(-2)}
        requires:
          - {{artifact: plan, from: tag:学校}}
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


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([*CAMPAIGN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_two_workers_take_filings_and_remind_now_reaches_the_scheduler(tmp_path):
    env = {**os.environ, "CAMPAIGN_HOME": str(tmp_path), "CAMPAIGN_DB_URL": f"sqlite:///{tmp_path / 'campaign.db'}",
           "PYTHONPATH": str(ROOT)}
    (tmp_path / "spec.yaml").write_text(spec(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date(), 40),
                                        encoding="utf-8")
    run(env, "create", str(tmp_path / "spec.yaml"))
    run(env, "tick", "served")  # opens the phase (its window began 10 days ago): only then is anything overdue
    run(env, "user", "add", "office", "--role", "admin", "--no-password")
    token = re.search(r"cf_\S+", run(env, "token", "create", "office")).group(0)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([*CAMPAIGN, "serve", "--port", "0", "--workers", "2"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        address = None
        deadline = time.monotonic() + 120
        while address is None and time.monotonic() < deadline:
            m = re.search(r"(http://127\.0\.0\.1:\d+)/", (tmp_path / "serve.log").read_text(encoding="utf-8"))
            address = m.group(1) if m else time.sleep(0.2)
        assert address, (tmp_path / "serve.log").read_text(encoding="utf-8")
        auth = {"Authorization": f"Bearer {token}"}

        def file(n: int) -> int:
            with httpx.Client(base_url=address, headers=auth, timeout=60) as client:
                return client.post("/api/v1/campaigns/served/filings", data={"unit": f"s{n}", "artifact": "report"},
                                   files=[("files", (f"报告{n}.pdf", f"%PDF-1.4 report {n}".encode(), "application/pdf"))]
                                   ).status_code

        with ThreadPoolExecutor(8) as pool:  # concurrent writers across both worker processes
            assert set(pool.map(file, range(1, 41))) == {201}
        obligations = httpx.get(f"{address}/api/v1/campaigns/served/obligations", headers=auth, timeout=30).json()
        assert sum(o["state"] == "filed" for o in obligations) == 40
        overdue = [o for o in obligations if o["artifact"] == "plan"]
        assert {o["state"] for o in overdue} == {"overdue"}

        ids = json.loads(run(env, "reminders", "served", "--json"))  # nothing planned yet: no tick has run
        assert [r for r in ids if r["kind"] == "manual"] == []
        from sqlalchemy import create_engine, select

        from campaign_model.store.tables import obligations as ob_table
        from campaign_model.store.tables import units

        engine = create_engine(env["CAMPAIGN_DB_URL"])
        with engine.connect() as conn:
            wanted = list(conn.execute(select(ob_table.c.id).join(units, units.c.id == ob_table.c.unit_id).where(
                ob_table.c.artifact == "plan", units.c.key.in_(["s1", "s2"]))).scalars())
        engine.dispose()
        answer = httpx.post(f"{address}/api/v1/campaigns/served/reminders", json={"obligations": wanted}, headers=auth,
                            timeout=30)
        assert answer.status_code == 202 and answer.json()["planned"] == 2

        sent: list[dict] = []
        deadline = time.monotonic() + 120  # the scheduler looks at its job store every 10 s; a tick starts Prefect
        while time.monotonic() < deadline and len(sent) < 2:
            rows = json.loads(run(env, "reminders", "served", "--json"))
            sent = [r for r in rows if r["kind"] == "manual" and r["state"] == "sent"]
            time.sleep(2)
        assert sorted(r["unit"] for r in sent) == ["s1", "s2"], (tmp_path / "serve.log").read_text(encoding="utf-8")
        lines = [json.loads(x) for x in (tmp_path / "outbox" / "served.jsonl").read_text(encoding="utf-8").splitlines()]
        assert any("催报" in m["text"] for m in lines if m["recipient"] == "s1")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text(encoding="utf-8")
