"""`campaign deploy` against a real Prefect server (`prefect server start` on loopback) and a process worker:
the deployment is registered with the campaign's schedule, and a run of it ticks the campaign in SQLite."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .prefect_support import FINAL, PREFECT, prefect_env, start_worker
from .prefect_support import prefect_server as serve_prefect
from .test_schedule import CAMPAIGN, KEY, TEMPLATE

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def prefect_server(tmp_path):
    with serve_prefect(prefect_env(tmp_path / "prefect-server", None), tmp_path, tmp_path / "server.log") as api:
        yield api


def test_deploy_registers_the_schedule_and_a_process_worker_runs_the_tick(prefect_server, tmp_path):
    api = prefect_server
    home = tmp_path / "home"
    base = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(home)}
    for k in ("CAMPAIGN_DB_URL", "PREFECT_API_URL"):
        base.pop(k, None)

    def campaign(*args: str, api_url: str | None = api, ok: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**base, "PREFECT_API_URL": api_url} if api_url else base
        result = subprocess.run([sys.executable, "-c", CAMPAIGN, *args], capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=180)
        assert "Traceback" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    campaign("create", str(TEMPLATE), "--at", "2023-02-01T09:00")
    refused = campaign("deploy", KEY, "--pool", "test-pool", api_url=None, ok=False)
    assert refused.returncode == 2 and "PREFECT_API_URL" in refused.stderr and "未设置" in refused.stderr

    # without --cron: the schedule the campaign has in `campaign serve` (the default: hourly, 09:00 included)
    doc = json.loads(campaign("deploy", KEY, "--pool", "test-pool", "--json").stdout)
    assert doc["deployment"] == f"scheduled-tick/tick-{KEY}" and doc["schedules"] == ["0 * * * *"]
    # with --cron: replaces the deployment's schedule
    doc = json.loads(campaign("deploy", KEY, "--cron", "30 8 * * 1-5", "--pool", "test-pool", "--json").stdout)
    assert doc["schedules"] == ["30 8 * * 1-5"] and doc["timezone"] == "Asia/Shanghai" and doc["db_url_parameter"]

    with httpx.Client(base_url=api, timeout=10) as http:
        pool = http.get("/work_pools/test-pool").json()
        assert pool["type"] == "process"
        dep = http.get(f"/deployments/name/scheduled-tick/tick-{KEY}").json()
        assert dep["work_pool_name"] == "test-pool" and dep["id"] == doc["id"]
        assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in dep["schedules"]] == [
            ("30 8 * * 1-5", "Asia/Shanghai")]
        assert dep["parameters"]["campaign"] == KEY and dep["parameters"]["db_url"].endswith("campaign.db")

        # a process worker on this machine, without the project on its path: the deployment's pull step
        # sets the working directory to the project, nothing is fetched
        worker = start_worker("test-pool", api, tmp_path / "prefect-worker", tmp_path, tmp_path / "worker.log")
        worker_env = prefect_env(tmp_path / "prefect-worker", api)
        try:
            run = subprocess.run([*PREFECT, "deployment", "run", f"scheduled-tick/tick-{KEY}"], capture_output=True,
                                 text=True, env=worker_env, cwd=tmp_path, timeout=120)
            assert run.returncode == 0, run.stdout + run.stderr
            found = re.search(r"UUID: ([0-9a-f-]{36})", run.stdout)
            assert found, run.stdout
            run_id = found.group(1)
            deadline = time.monotonic() + 180
            while True:
                state = http.get(f"/flow_runs/{run_id}").json()["state_type"]
                if state in FINAL:
                    break
                assert worker.proc.poll() is None, worker.text()
                assert time.monotonic() < deadline, f"flow run still {state} after 180 s:\n{worker.text()}"
                time.sleep(1)
            assert state == "COMPLETED", worker.text()
        finally:
            worker.stop()
        ticks = http.post("/flow_runs/filter", json={"flows": {"name": {"any_": ["campaign-tick"]}}}).json()
        assert [r["state_type"] for r in ticks] == ["COMPLETED"]  # the tick flow, as a subflow of the run

    with sqlite3.connect(home / "campaign.db") as conn:
        (last_tick,), = conn.execute("SELECT last_tick_at FROM campaigns WHERE key = ?", (KEY,)).fetchall()
        started = conn.execute("SELECT started_at FROM phases WHERE key = 'mobilization'").fetchone()[0]
        actors = {a for (a,) in conn.execute("SELECT actor FROM audit_events WHERE action != 'campaign.created'")}
    assert last_tick is not None and started is not None  # the tick ran at the clock's instant: the campaign began
    assert actors <= {"scheduler"} and actors


def test_a_worker_without_the_database_url_says_so(monkeypatch):
    """A deployment whose database URL had a password carries none: a worker without CAMPAIGN_DB_URL is told so,
    before it opens anything (rather than ticking an empty SQLite file of its own)."""
    from campaign_model.errors import InvalidInput
    from flows.deploy import scheduled_tick

    monkeypatch.delenv("CAMPAIGN_DB_URL", raising=False)
    with pytest.raises(InvalidInput) as caught:
        scheduled_tick.fn(campaign=KEY)
    assert caught.value.field == "CAMPAIGN_DB_URL" and "CAMPAIGN_DB_URL" in str(caught.value)
