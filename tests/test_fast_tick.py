"""Fast ticks from every entry point (issue 14): `campaign tick` runs the steps in its own process unless a
Prefect API answers, a simulation (`--until`) is at most one flow run (a task run per tick not idle), and a
scheduled tick is ONE Prefect flow run whose task runs (open-phases, phase-<key>, ledger, send) the Prefect API
lists.

Real parts: the `campaign` command in subprocesses, real SQLite files, APScheduler, and Prefect's ephemeral API
started in this process (flows.tick_flow.warm_up, as `campaign serve` starts it), which the commands reach over
loopback through PREFECT_API_URL. Every way of running a tick must leave the same state and the same audit.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import SMALL_SPEC, local

ROOT = Path(__file__).resolve().parent.parent
KEY = "small-2023"
CAMPAIGN = "import sys; sys.argv[0] = 'campaign'\nfrom campaign_app.cli import main\nmain()"
# the instants of a short campaign life: the phase opens, reminders before and on the due day, overdue, next phase
INSTANTS = ["2023-02-14T08:00", "2023-02-24T10:00", "2023-02-28T09:30", "2023-03-01T10:00", "2023-03-06T00:30"]


# --- the data: one campaign, copied for each way of ticking ---

@pytest.fixture(scope="module")
def prefect_api() -> str:
    """Prefect's ephemeral API, started in this process the way `campaign serve` starts it."""
    from flows.tick_flow import warm_up

    return warm_up()


@pytest.fixture
def small_home(tmp_path) -> Path:
    """A data directory with the small campaign created (its spec written, nothing ticked yet)."""
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.audit import Act
    from campaign_model.store.campaigns import create_campaign
    from campaign_model.store.db import open_engine

    home = tmp_path / "origin"
    home.mkdir()
    engine = open_engine(f"sqlite:///{home / 'campaign.db'}")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"),
                        Act(local("2023-02-01T09:00"), "admin", local("2023-02-01T09:00")))
    engine.dispose()
    (home / "channels.yaml").write_text("channels: []\n", encoding="utf-8")  # every reminder to the outbox file
    return home


def copy_of(home: Path, where: Path) -> Path:
    shutil.copytree(home, where)
    return where


def env_for(home: Path, api: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(home), "CAMPAIGN_CHANNELS": str(home / "channels.yaml")}
    # no CAMPAIGN_ACTOR: a command's tick acts as the scheduler, as the flow runs here do
    for name in ("CAMPAIGN_DB_URL", "PREFECT_API_URL", "PREFECT_HOME", "CAMPAIGN_PUBLIC_URL", "CAMPAIGN_ACTOR"):
        env.pop(name, None)
    if api:
        env["PREFECT_API_URL"] = api
    return env


def campaign(home: Path, *args: str, api: str | None = None, ok: bool = True,
             python: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *python, "-c", CAMPAIGN, *args], capture_output=True, text=True,
                            env=env_for(home, api), cwd=home, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def settings_of(home: Path) -> Any:
    """The settings a command run on `home` builds (its database, outbox file and delivery settings)."""
    from campaign_app.settings import Settings

    return Settings(home=home, channels=home / "channels.yaml")


def snapshot(home: Path) -> dict[str, Any]:
    """Everything a tick writes, without what differs by nature (ids of messages, the real clock, the hash chain
    that covers it) and with the data directory's path written as <home>."""
    def rows(conn: sqlite3.Connection, query: str) -> list[tuple[Any, ...]]:
        return [tuple(str(v).replace(str(home), "<home>") if isinstance(v, str) else v for v in r)
                for r in conn.execute(query).fetchall()]

    with sqlite3.connect(home / "campaign.db") as conn:
        doc = {
            "campaign": rows(conn, "SELECT key, last_tick_at FROM campaigns"),
            "phases": rows(conn, "SELECT key, state, started_at, completed_at, forced FROM phases ORDER BY idx"),
            "obligations": rows(conn, "SELECT id, state, done, overdue_at, next_remind_at, done_at, late "
                                      "FROM obligations ORDER BY id"),
            "outbox": rows(conn, "SELECT obligation_id, ledger_item_id, kind, slot_day, planned_for, state, recipient, "
                                 "channel, attempts, sent_at FROM outbox ORDER BY id"),
            "audit": rows(conn, "SELECT seq, at, actor, action, campaign, subject, before, after FROM audit_events ORDER BY seq"),
        }
    outbox_file = home / "outbox" / f"{KEY}.jsonl"
    doc["outbox_file_lines"] = len(outbox_file.read_text(encoding="utf-8").splitlines()) if outbox_file.exists() else 0
    return doc


def same_doc(result: dict[str, Any], home: Path) -> str:
    return json.dumps(result, ensure_ascii=False, sort_keys=True).replace(str(home), "<home>")


def flow_runs(flow_name: str, after: dt.datetime) -> list[Any]:
    """This campaign's runs of a flow since `after` (the tests' Prefect home is shared with other test processes)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterStartTime

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                                     flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=after)))
    return [r for r in runs if r.name.startswith(f"{KEY} ")]


def task_run_names(flow_run_id: Any, at_least: int, wait: float = 120) -> list[str]:
    """The names of a flow run's task runs as the API lists them (the server records them a moment after)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + wait
    with get_client(sync_client=True) as client:
        while True:
            runs: list[Any] = []
            while True:  # the API answers at most 200 at a time
                page = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                             offset=len(runs), limit=200)
                runs += page
                if len(page) < 200:
                    break
            done = all(r.state_type is not None and r.state_type.value == "COMPLETED" for r in runs)
            if (len(runs) >= at_least and done) or time.monotonic() > deadline:  # recorded in batches, at most 5 s late
                assert done, [(r.name, r.state_type) for r in runs if not (r.state_type and r.state_type.value == "COMPLETED")]
                # a task run recorded from its first event may keep Prefect's generated name (send-3e5)
                return sorted(re.sub(r"-[0-9a-f]{3}$", "", r.name) for r in runs)
            time.sleep(0.5)


# --- the command line: in process by default, a flow run when a Prefect API answers ---

def test_the_command_line_tick_runs_in_process_with_the_same_results_and_audit_as_the_flow_run(
        small_home, tmp_path, prefect_api):
    from campaign_model.store.audit import Act
    from flows import SCHEDULER_ACTOR
    from flows.tick import tick

    cli_home = copy_of(small_home, tmp_path / "cli")
    flow_home = copy_of(small_home, tmp_path / "flow")
    s = settings_of(flow_home)
    started = dt.datetime.now(dt.UTC)
    for i, when in enumerate(INSTANTS):
        # the first command as Python reports its imports: the in-process tick never imports Prefect
        python = ("-X", "importtime") if i == 0 else ()
        by_cli = campaign(cli_home, "tick", KEY, "--at", when, "--json", python=python)
        if python:
            imported = {line.split("|")[-1].strip() for line in by_cli.stderr.splitlines() if "|" in line}
            assert "flows.tick" in imported and not any(m == "prefect" or m.startswith("prefect.") for m in imported)
        at = local(when)
        by_flow = tick(s.db_url, KEY, Act(at, SCHEDULER_ACTOR, dt.datetime.now(dt.UTC)), str(s.outbox_file(KEY)),
                       s.delivery)
        assert json.loads(same_doc(json.loads(by_cli.stdout), cli_home)) == json.loads(same_doc(by_flow, flow_home)), when
    assert snapshot(cli_home) == snapshot(flow_home)
    assert snapshot(cli_home)["outbox_file_lines"] > 0  # reminders were written: the comparison covers sending
    # the flow runs were in this process's Prefect API, one per tick; the commands made none
    assert len(flow_runs("campaign-tick", started)) == len(INSTANTS)


def test_the_command_line_tick_is_a_flow_run_on_a_prefect_api_that_answers(small_home, tmp_path, prefect_api):
    home = copy_of(small_home, tmp_path / "cli")
    started = dt.datetime.now(dt.UTC)
    asked = json.loads(campaign(home, "tick", KEY, "--at", INSTANTS[0], "--prefect", "--json", api=prefect_api).stdout)
    by_default = json.loads(campaign(home, "tick", KEY, "--at", INSTANTS[1], "--json", api=prefect_api).stdout)
    assert asked["phases"]["mobilization"] == "active" and by_default["reminders_planned"] > 0
    runs = sorted(flow_runs("campaign-tick", started), key=lambda r: r.start_time)
    assert [r.name for r in runs] == [f"{KEY} 2023-02-14 00:00 UTC", f"{KEY} 2023-02-24 02:00 UTC"]
    assert all(r.state_type.value == "COMPLETED" for r in runs)
    assert task_run_names(runs[-1].id, 4) == ["ledger", "open-phases", "phase-mobilization", "send"]
    in_process = json.loads(campaign(home, "tick", KEY, "--at", INSTANTS[2], "--in-process", "--json", api=prefect_api).stdout)
    assert in_process["at"] == "2023-02-28T09:30:00+08:00" and len(flow_runs("campaign-tick", started)) == 2

    # a Prefect API that does not answer: by default the tick runs here (and says so); asked for, it is refused
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    fallback = campaign(home, "tick", KEY, "--at", INSTANTS[3], "--json", api=dead)
    assert json.loads(fallback.stdout)["at"] == "2023-03-01T10:00:00+08:00"
    assert "does not answer" in fallback.stderr and "无应答" in fallback.stderr
    before = snapshot(home)
    refused = campaign(home, "tick", KEY, "--at", INSTANTS[4], "--prefect", api=dead, ok=False)
    assert refused.returncode == 2 and refused.stderr.startswith("错误 (error): --prefect: ") and "cannot reach" in refused.stderr
    # never a temporary server from a command: without PREFECT_API_URL, --prefect is refused
    refused = campaign(home, "tick", KEY, "--at", INSTANTS[4], "--prefect", ok=False)
    assert refused.returncode == 2 and "PREFECT_API_URL" in refused.stderr and "未设置" in refused.stderr
    assert snapshot(home) == before  # nothing ticked by the refused commands


# --- simulations: the same state as the same ticks one by one, and at most one flow run ---

def test_until_with_hourly_ticks_leaves_the_same_state_as_the_same_ticks_one_by_one(small_home, tmp_path, prefect_api):
    from campaign_model.store.audit import Act
    from flows import SCHEDULER_ACTOR
    from flows.tick import Ticker, tick_direct, ticks

    start, until = local("2023-02-13T00:00"), local("2023-03-07T23:00")  # 23 days: two phases, reminders, overdue
    every = dt.timedelta(hours=1)
    hours = int((until - start) / every) + 1

    one_command = copy_of(small_home, tmp_path / "until")
    docs = json.loads(campaign(one_command, "tick", KEY, "--at", "2023-02-13T00:00", "--until", "2023-03-07T23:00",
                               "--every", "1h", "--json").stdout)
    assert len(docs) == hours and docs[-1]["at"] == "2023-03-07T23:00:00+08:00"

    one_by_one = copy_of(small_home, tmp_path / "one-by-one")
    s = settings_of(one_by_one)
    singles = [tick_direct(s.db_url, KEY, Act(start + i * every, SCHEDULER_ACTOR, dt.datetime.now(dt.UTC)),
                           str(s.outbox_file(KEY)), s.delivery) for i in range(hours)]
    assert [same_doc(d, one_command) for d in docs] == [same_doc(d, one_by_one) for d in singles]
    expected = snapshot(one_by_one)
    assert snapshot(one_command) == expected
    # a campaign's life, not idle ticks: the phase opened, obligations went overdue, reminders were written
    assert expected["phases"][0][2] is not None and any(o[3] is not None for o in expected["obligations"])
    assert expected["outbox_file_lines"] > 0

    # the ticks a simulation runs in full (the others are idle, skipped): counted by the same Ticker in process
    counted = copy_of(small_home, tmp_path / "counted")
    s = settings_of(counted)
    ticker = Ticker(s.db_url, KEY, str(s.outbox_file(KEY)), s.delivery)
    for i in range(hours):
        ticker.tick(Act(start + i * every, SCHEDULER_ACTOR, dt.datetime.now(dt.UTC)))
    ticker.close()
    assert ticker.full + ticker.skipped == hours and 0 < ticker.full < hours // 4
    assert snapshot(counted) == expected

    # under Prefect: ONE flow run for the whole simulation, a task run per tick run in full, the same state again
    flowed = copy_of(small_home, tmp_path / "flow")
    s = settings_of(flowed)
    started = dt.datetime.now(dt.UTC)
    results = ticks(s.db_url, KEY, start, until, every, SCHEDULER_ACTOR, str(s.outbox_file(KEY)), s.delivery,
                    lambda: dt.datetime.now(dt.UTC))
    assert [same_doc(d, flowed) for d in results] == [same_doc(d, one_by_one) for d in singles]
    assert snapshot(flowed) == expected
    runs = flow_runs("campaign-ticks", started)
    assert len(runs) == 1 and not flow_runs("campaign-tick", started)
    names = task_run_names(runs[0].id, ticker.full)
    assert len(names) == ticker.full and names[0] == "tick 2023-02-12 16:00 UTC"


# --- serve: each scheduled tick is one flow run, its task runs at the grain of the tick's steps ---

def test_a_scheduled_tick_is_one_flow_run_whose_task_runs_the_prefect_api_lists(small_home, prefect_api):
    from flows import schedule as sched
    from flows.tick_flow import api_url

    s = settings_of(small_home)
    sched.use_delivery(s.delivery)
    scheduler = sched.make_scheduler(s.db_url)
    scheduler.start(paused=True)
    started = dt.datetime.now(dt.UTC)
    try:
        assert sched.sync_jobs(scheduler, s.db_url, lambda key: str(s.outbox_file(key)))["added"] == [KEY]
        sched.add_prefect_warm_up(scheduler)
        sched.run_now(scheduler, KEY)
        scheduler.resume()
        deadline = time.monotonic() + 180
        while True:
            with sqlite3.connect(small_home / "campaign.db") as conn:
                last = conn.execute("SELECT last_tick_at FROM campaigns").fetchone()[0]
            if last or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        scheduler.shutdown(wait=True)
    assert last is not None, "the scheduled tick did not run"
    assert api_url() == prefect_api  # the API this process reached once, not one per tick
    runs = flow_runs("campaign-tick", started)
    assert len(runs) == 1 and runs[0].state_type.value == "COMPLETED" and runs[0].name.startswith(f"{KEY} ")
    assert not flow_runs("mobilization-phase", started)  # no sub-flow per phase any more
    with sqlite3.connect(small_home / "campaign.db") as conn:
        running = [k for (k,) in conn.execute("SELECT key FROM phases WHERE started_at IS NOT NULL AND state != 'completed'")]
    names = task_run_names(runs[0].id, 3 + len(running))
    assert names == sorted(["open-phases", "ledger", "send", *(f"phase-{k}" for k in running)]) and running
