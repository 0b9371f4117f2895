"""The embedded scheduler: `campaign serve`, `schedule`, `jobs` — APScheduler with its SQLAlchemy job store
in the campaign database, real processes, a real SQLite file, ticks as real Prefect flow runs.

The observable of the scheduler is its log: one line per run of a job with its scheduled time
(`flows.schedule.log_events`), and `campaigns.last_tick_at` in the database.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaign_model.errors import InvalidInput

from .conftest import SMALL_SPEC, TZ, local

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "campaign_model" / "templates" / "zuofeng-2023.yaml"
KEY = "zuofeng-2023"
UTC = dt.UTC

# `campaign` with the scheduling commands, whether or not campaign_app/cli.py registers them yet
CAMPAIGN = ("import sys; sys.argv[0] = 'campaign'\n"
            "from campaign_app.cli import app, main\n"
            "from campaign_app import cli_schedule as cs\n"
            "if not any(c.callback is cs.serve for c in app.registered_commands):\n"
            "    app.registered_commands += cs.schedule_app.registered_commands\n"
            "main()\n")

RAN = re.compile(r"已运行 \(job ran\) tick:(\S+): scheduled (\S+) finished (\S+)")


class Serve:
    """`campaign serve` in its own process group, its output in a file."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path):
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-c", CAMPAIGN, "serve", "--port", "0"], stdout=self._out,
                                     stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def runs(self) -> list[tuple[str, dt.datetime, dt.datetime]]:
        return [(k, dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(f)) for k, s, f in RAN.findall(self.text())]

    def stop(self, timeout: float = 90) -> int:
        """SIGTERM to `serve` alone: it stops the scheduler, waits for a running tick and exits."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """Whatever is left of the process group (Prefect's embedded server, if serve was killed)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(10)
        self._out.close()


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home")}
    env.pop("CAMPAIGN_DB_URL", None)
    env.pop("PREFECT_API_URL", None)  # ticks run on the embedded Prefect server
    started: list[Serve] = []

    class Cli:
        db = tmp_path / "home" / "campaign.db"

        def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
            result = subprocess.run([sys.executable, "-c", CAMPAIGN, *args], capture_output=True, text=True, env=env,
                                    cwd=tmp_path, timeout=120)
            assert "Traceback" not in result.stderr, result.stderr
            if ok:
                assert result.returncode == 0, result.stderr
            return result

        def serve(self) -> Serve:
            s = Serve(env, tmp_path, tmp_path / f"serve-{len(started) + 1}.log")
            started.append(s)
            return s

        def sql(self, query: str) -> list[tuple]:
            with sqlite3.connect(self.db, timeout=30) as conn:
                return conn.execute(query).fetchall()

        def last_tick(self) -> dt.datetime | None:
            (value,), = self.sql(f"SELECT last_tick_at FROM campaigns WHERE key = '{KEY}'")
            return dt.datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None

    yield Cli()
    for s in started:
        s.kill()


def wait_for(what: str, check, serve: Serve, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert serve.proc.poll() is None, f"serve exited ({serve.proc.returncode}) waiting for {what}:\n{serve.text()}"
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{serve.text()}")


def test_serve_ticks_on_a_custom_schedule_keeps_it_and_catches_up_once_after_downtime(cli):
    cli("create", str(TEMPLATE), "--at", "2023-02-01T09:00")
    doc = json.loads(cli("schedule", KEY, "--cron", "*/2 * * * * *", "--json").stdout)
    assert doc["id"] == f"tick:{KEY}" and doc["schedule"] == "*/2 * * * * *"
    nxt = [dt.datetime.fromisoformat(t) for t in doc["next_runs"]]
    assert all(b - a == dt.timedelta(seconds=2) for a, b in zip(nxt, nxt[1:], strict=False)) and nxt[0].utcoffset() == dt.timedelta(hours=8)
    assert cli.last_tick() is None

    # first start: the custom schedule ticks at the real clock instant
    first = cli.serve()
    wait_for("a tick", lambda: cli.last_tick() and first.runs(), first)
    assert first.stop() == 0
    out = first.text()
    assert "Traceback" not in out and re.search(r"open in a browser\): http://127\.0\.0\.1:\d+/", out)
    assert re.search(rf"tick:{KEY}\s+\*/2 \* \* \* \* \*\s+下次运行 \(next run\)", out)
    stopped_at = dt.datetime.now(UTC)
    last_before = cli.last_tick()
    assert stopped_at - dt.timedelta(seconds=120) < last_before <= stopped_at  # the real clock, not a simulated instant
    assert [r[0] for r in cli.sql("SELECT id FROM apscheduler_jobs")] == [f"tick:{KEY}"]

    time.sleep(10)  # the scheduler is down for five intervals or more

    # restart: the same job (no duplicate, still custom), ONE catch-up run for all the missed ones, then on schedule
    second = cli.serve()
    wait_for("the catch-up and one more run", lambda: len(second.runs()) >= 2, second)
    assert second.stop() == 0
    out = second.text()
    assert "Traceback" not in out and "run missed" not in out, out
    runs = second.runs()
    catch_up = runs[0]
    assert catch_up[1] - stopped_at >= dt.timedelta(seconds=8), runs  # a run time from the downtime...
    # ...and the only run of all those missed: every later run was scheduled after the catch-up tick finished
    assert [r for r in runs if r[1] < catch_up[2]] == [catch_up], out
    assert all(b[1] > a[1] for a, b in zip(runs, runs[1:], strict=False))
    assert cli.last_tick() > last_before
    assert [r[0] for r in cli.sql("SELECT id FROM apscheduler_jobs")] == [f"tick:{KEY}"]
    jobs = json.loads(cli("jobs", "--json").stdout)
    assert [(j["id"], j["schedule"]) for j in jobs] == [(f"tick:{KEY}", "*/2 * * * * *")]


def test_schedule_refuses_a_bad_cron_and_restores_the_default(cli):
    cli("create", str(TEMPLATE), "--at", "2023-02-01T09:00")
    assert "no jobs" in cli("jobs").stdout
    for expr, words in [("61 * * * *", "61"), ("* * *", "3"), ("0 9 * * 8", "8"), ("0 0 31 2 *", "never")]:
        result = cli("schedule", KEY, "--cron", expr, ok=False)
        assert result.returncode == 2, (expr, result.stderr)
        assert f"'{expr}'" in result.stderr and words in result.stderr, result.stderr
        assert "无法识别的 cron 表达式" in result.stderr and "cannot read cron expression" in result.stderr
    for args, words in [((KEY,), "--cron"), ((KEY, "--cron", "0 9 * * *", "--default"), "--default"),
                        (("nope", "--cron", "0 9 * * *"), "nope")]:
        result = cli("schedule", *args, ok=False)
        assert result.returncode == 2 and words in result.stderr and re.search(r"[\u4e00-\u9fff]", result.stderr)
    assert cli.sql("SELECT count(*) FROM apscheduler_jobs") == [(0,)]  # nothing stored by a refused command

    weekdays = json.loads(cli("schedule", KEY, "--cron", "30 8 * * 1-5", "--json").stdout)
    times = [dt.datetime.fromisoformat(t) for t in weekdays["next_runs"]]
    assert weekdays["schedule"] == "30 8 * * 1-5"
    assert all(t.weekday() < 5 and (t.hour, t.minute) == (8, 30) and t.utcoffset() == dt.timedelta(hours=8) for t in times)
    assert "30 8 * * 1-5" in cli("jobs").stdout

    default = json.loads(cli("schedule", KEY, "--default", "--json").stdout)
    times = [dt.datetime.fromisoformat(t) for t in default["next_runs"]]
    assert default["schedule"] == "default"  # hourly, which covers the template's send_at 09:00
    assert all(t.minute == 0 and b - a == dt.timedelta(hours=1) for a, b, t in zip(times, times[1:], times, strict=False))
    jobs = json.loads(cli("jobs", "--json").stdout)
    assert [(j["id"], j["schedule"]) for j in jobs] == [(f"tick:{KEY}", "default")]


# --- the library, without processes ---

def test_cron_expressions_follow_crontab_in_the_campaign_zone():
    from flows.schedule import default_triggers, next_times, parse_cron

    saturday = local("2026-11-21T12:00")
    assert [t.isoformat() for t in next_times(parse_cron("0 9 * * 1-5", TZ), 2, saturday)] == [
        "2026-11-23T09:00:00+08:00", "2026-11-24T09:00:00+08:00"]  # 1-5 is Monday to Friday, as in crontab
    for sunday in ("0 9 * * 0", "0 9 * * 7", "0 9 * * sun"):
        assert next_times(parse_cron(sunday, TZ), 1, saturday)[0].isoformat() == "2026-11-22T09:00:00+08:00"
    assert [t.weekday() for t in next_times(parse_cron("0 9 * * */2", TZ), 4, saturday)] == [6, 1, 3, 5]  # Sun Tue Thu Sat
    assert [t.second for t in next_times(parse_cron("*/2 * * * * *", "Asia/Shanghai"), 3, saturday)] == [0, 2, 4]
    # the default: hourly at minute 0 and at the send time, in the campaign's zone
    assert [t.isoformat() for t in next_times(default_triggers("09:30", TZ), 4, local("2026-11-23T08:10"))] == [
        "2026-11-23T09:00:00+08:00", "2026-11-23T09:30:00+08:00", "2026-11-23T10:00:00+08:00",
        "2026-11-23T11:00:00+08:00"]
    assert next_times(default_triggers("09:00", "Europe/Berlin"), 1, local("2026-11-23T08:10"))[0].isoformat() == \
        "2026-11-23T02:00:00+01:00"
    for bad in ("", "* * * * * * *", "0 24 * * *", "0 9 * * 5-1", "0 9 * * mon/0", "x 9 * * *"):
        with pytest.raises(InvalidInput, match="cannot read cron expression"):
            parse_cron(bad, TZ)


@pytest.fixture
def small_db(tmp_path) -> str:
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.audit import Act
    from campaign_model.store.campaigns import create_campaign
    from campaign_model.store.db import open_engine

    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"),
                        Act(local("2023-02-01T09:00"), "admin", local("2023-02-01T09:00")))
    engine.dispose()
    return url


def test_sync_keeps_one_job_per_active_campaign_and_never_resets_a_schedule(small_db, tmp_path):
    from flows.schedule import job_cron, paused_scheduler, set_schedule, sync_jobs

    outbox = lambda key: str(tmp_path / f"{key}.jsonl")  # noqa: E731
    with paused_scheduler(small_db) as scheduler:
        assert sync_jobs(scheduler, small_db, outbox)["added"] == ["small-2023"]
        job = scheduler.get_job("tick:small-2023")
        assert job.name == "default" and job.args == (small_db, "small-2023", outbox("small-2023"))
        assert (job.coalesce, job.misfire_grace_time, job.max_instances) == (True, 3600, 1)
        first_run = job.next_run_time
    with paused_scheduler(small_db) as scheduler:  # a restart: the stored job, its next run time untouched
        assert sync_jobs(scheduler, small_db, outbox) == {"added": [], "kept": ["small-2023"], "updated": [], "removed": []}
        assert scheduler.get_job("tick:small-2023").next_run_time == first_run
        set_schedule(scheduler, small_db, "small-2023", "15 7 * * *", outbox("small-2023"))
        moved = lambda key: str(tmp_path / "moved" / f"{key}.jsonl")  # noqa: E731
        assert sync_jobs(scheduler, small_db, moved, misfire_grace=600)["updated"] == ["small-2023"]
        job = scheduler.get_job("tick:small-2023")
        assert job_cron(job) == "15 7 * * *" and (job.next_run_time.hour, job.next_run_time.minute) == (7, 15)
        assert job.args[2] == moved("small-2023") and job.misfire_grace_time == 600
        assert len(scheduler.get_jobs()) == 1
    with sqlite3.connect(small_db.split("///", 1)[1]) as conn:  # the campaign is over: no more ticks
        conn.execute("UPDATE phases SET state = 'completed'")
        conn.execute("UPDATE obligations SET done = 1")
    with paused_scheduler(small_db) as scheduler:
        assert sync_jobs(scheduler, small_db, outbox)["removed"] == ["small-2023"]
        assert scheduler.get_jobs() == []


@pytest.fixture
def prefect_imported() -> None:
    """Importing Prefect configures logging (and drops pytest's capture handler): do it before the test."""
    import flows.tick  # noqa: F401


def test_a_failed_tick_is_one_log_line_without_the_password(prefect_imported, small_db, tmp_path, caplog):
    from flows.schedule import run_tick_job

    caplog.set_level(logging.ERROR, logger="campaignflow.schedule")
    assert run_tick_job(small_db, "nope", str(tmp_path / "out.jsonl")) is None
    assert run_tick_job("postgresql+psycopg://cf:s3cret-pw@127.0.0.1:9/cf", "small-2023", str(tmp_path / "o.jsonl")) is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "nope" in lines[0] and "tick failed" in lines[1], lines
    assert all("\n" not in line and "s3cret" not in line for line in lines), lines
