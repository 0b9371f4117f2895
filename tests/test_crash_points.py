"""SIGKILL at more points, on SQLite and PostgreSQL: a real `campaign serve --workers 2` during concurrent
uploads, the real `campaign tick` command while it sends to a loopback SMTP server, `campaign units import`
of a large list, and `campaign db upgrade` of an old-schema database. After each: every acknowledged write
(HTTP 201 received; the command's success line) is there, `campaign audit verify` passes, the campaign goes
on (a further tick, a filing), and at most the one reminder in flight is sent twice.

Where the kill lands is an event, not a sleep: the uploads are killed once the 20th 201 has been received
(the other filers' requests are then in flight); the tick while the SMTP server holds message 10 (stored, its
"250" withheld: tests/test_crash.py's gate); the import and the upgrade once the command's own process
has executed a given statement inside its transaction (an SQLAlchemy event listener installed by the
child's wrapper script, not by the product, prints PAUSED and waits to be killed).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from campaign_model.store.tables import audit_events, blobs, filings, obligations, units

from .conftest import local
from .crash_support import KEY, ROOT, WAIT, Filers, environment, kill_group, new_campaign, pdf, run, serve, start
from .test_crash import ALL, N_UNITS, T_AGAIN, T_KILLED, T_LATER, T_START, Campaign, gate, smtp, wait_for  # noqa: F401
from .test_crash import KEY as TICK_KEY
from .web_support import HTTPX_WARNING

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

SCHOOLS = 60


def database(request, tmp_path: Path, kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'campaign.db'}"
    return request.getfixturevalue("postgres").new_database()


def count(url: str, table) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    engine.dispose()
    return n


def verified(env: dict[str, str]) -> str:
    done = run(env, "audit", "verify")
    assert "审计链完整 (audit chain intact)" in done.stdout
    return done.stdout


# a `campaign` command that stops, inside its own transaction, after its n-th statement starting with PREFIX
PAUSING = textwrap.dedent("""
    import sys, time
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    prefix, nth = sys.argv[1].upper(), int(sys.argv[2])
    seen = 0

    @event.listens_for(Engine, "after_cursor_execute")
    def pause(conn, cursor, statement, params, context, many):
        global seen
        if statement.lstrip().upper().startswith(prefix):
            seen += 1
            if seen == nth:
                print("PAUSED", flush=True)
                time.sleep(600)

    sys.argv = ["campaign", *sys.argv[3:]]
    from campaign_app.cli import main
    main()
""")


def killed_at(env: dict[str, str], prefix: str, nth: int, *args: str) -> str:
    """Run `campaign ARGS`, kill its process group once it paused after the statement; return its output."""
    proc = subprocess.Popen([sys.executable, "-c", PAUSING, prefix, str(nth), *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    watchdog = threading.Timer(WAIT, os.killpg, (proc.pid, signal.SIGKILL))  # bounds the readline
    watchdog.start()
    assert proc.stdout is not None
    said = []
    for line in proc.stdout:
        said.append(line)
        if line.strip() == "PAUSED":
            break
    watchdog.cancel()
    assert said and said[-1].strip() == "PAUSED", "".join(said) + proc.communicate(timeout=WAIT)[1]
    os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL, err
    return "".join(said) + out


# --- 1. uploads to `campaign serve --workers 2`


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_serve_killed_during_concurrent_uploads(request, tmp_path, kind):
    home = tmp_path / "home"
    url = database(request, tmp_path, kind)
    env = environment(home, url)
    token = new_campaign(env, home, SCHOOLS)
    auth = {"Authorization": f"Bearer {token}"}
    with serve(env, workers=2) as (address, proc):
        filers = Filers(address, token, list(range(1, SCHOOLS)), threads=8).start()
        filers.wait_acked(20)
        kill_group(proc)  # the other filers' requests are in flight
        filers.join()
    acked = {f"s{n}": sha for n, sha, _ in filers.acked}
    assert 20 <= len(acked) < SCHOOLS - 1 and filers.errors  # the kill landed mid-stream

    with serve(env, workers=2) as (address, _):
        with httpx.Client(base_url=address, headers=auth, timeout=60) as client:
            listed = client.get(f"/api/v1/campaigns/{KEY}/filings").json()
            there = {f["unit"]: f["files"][0]["sha256"] for f in listed}
            assert {u: there.get(u) for u in acked} == acked  # every acknowledged upload, with its file
            assert len(listed) == len(there)  # one version each: nothing doubled
            # the campaign goes on: a further upload is taken
            last = client.post(f"/api/v1/campaigns/{KEY}/filings", data={"unit": f"s{SCHOOLS}", "artifact": "report"},
                               files=[("files", ("报告.pdf", pdf(SCHOOLS), "application/pdf"))])
            assert last.status_code == 201, last.text
            got = client.get(f"/api/v1/campaigns/{KEY}/filings/{listed[0]['id']}/files/0")
            assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == listed[0]["files"][0]["sha256"]
    # every recorded file is on disk, whole (an upload cut off leaves at most an .incoming- file aside)
    engine = create_engine(url)
    with engine.connect() as conn:
        recorded = list(conn.execute(select(blobs.c.sha256)).scalars())
    engine.dispose()
    for sha in recorded:
        assert hashlib.sha256((home / "files" / sha[:2] / sha).read_bytes()).hexdigest() == sha
    assert count(url, filings) == len(there) + 1
    verified(env)
    assert "reminders" in run(env, "tick", KEY, "--in-process", "--json").stdout


# --- 2. the real `campaign tick` killed while sending


def test_tick_command_killed_while_sending(engine, db_url, tmp_path, smtp, gate):
    c = Campaign(engine, db_url, tmp_path, smtp)
    env = {**c.env, "CAMPAIGN_ACTOR": "测试员"}
    run(env, "tick", TICK_KEY, "--in-process", "--at", local(T_START).isoformat())
    gate.where, gate.n = "data", 10  # message 10 stored by the server, its "250" withheld
    proc = start(env, "tick", TICK_KEY, "--in-process", "--at", local(T_KILLED).isoformat())
    wait_for(gate.reached, proc, "data of message 10")
    kill_group(proc)
    gate.released.set()
    assert c.states() == Counter({"sent": 9, "planned": N_UNITS - 9})
    verified(env)

    run(env, "tick", TICK_KEY, "--in-process", "--at", local(T_AGAIN).isoformat())
    assert c.states() == Counter({"sent": N_UNITS})
    per_obligation = Counter(c.received())  # one obligation per unit here
    assert set(per_obligation) == set(ALL)
    assert [u for u, n in per_obligation.items() if n > 1] == [ALL[9]] and per_obligation[ALL[9]] == 2
    verified(env)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 u01 report")
    assert "已报送 (filed)" in run(env, "file", TICK_KEY, "--unit", "u01", "--artifact", "report",
                                    "--file", str(tmp_path / "report.pdf"), "--at", local(T_LATER).isoformat()).stdout
    run(env, "tick", TICK_KEY, "--in-process", "--at", local(T_LATER).isoformat())
    assert len(smtp.messages) == N_UNITS + 1  # nothing more sent: the day's reminders are out


# --- 3. `campaign units import` of a large list


BIG = 3000


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_units_import_killed_midway(request, tmp_path, kind):
    home = tmp_path / "home"
    url = database(request, tmp_path, kind)
    env = environment(home, url)
    new_campaign(env, home, 10)
    lines = ["单位代码,单位名称,上级单位,标签", "bureau,教育局,,"]
    lines += [f"s{n},第{n}小学,bureau,学校" for n in range(1, 11)]
    lines += [f"n{n:04d},新学校{n:04d},bureau,学校" for n in range(1, BIG + 1)]
    big = tmp_path / "units.csv"
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = (count(url, units), count(url, obligations), count(url, audit_events))

    said = killed_at(env, "INSERT INTO obligations", 1, "units", "import", KEY, str(big))
    assert "已导入" not in said and "imported" not in said  # never acknowledged ...
    assert (count(url, units), count(url, obligations), count(url, audit_events)) == before  # ... and not there
    verified(env)

    done = run(env, "units", "import", KEY, str(big))
    assert count(url, units) == 11 + BIG and count(url, obligations) == 10 + BIG, done.stdout
    verified(env)
    run(env, "tick", KEY, "--in-process")


# --- 4. `campaign db upgrade` of an old-schema database


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_db_upgrade_killed_midway_then_completes(request, tmp_path, kind):
    from alembic import command

    from campaign_model.store.db import _alembic_config, current_revision, head_revision, make_engine

    home = tmp_path / "home"
    url = database(request, tmp_path, kind)
    env = environment(home, url)
    new_campaign(env, home, 10)
    engine = make_engine(url)
    command.downgrade(_alembic_config(engine), "0005")  # the schema of an older release, its data kept
    assert current_revision(engine) == "0005"
    head = head_revision(engine)
    before = (count(url, units), count(url, obligations), count(url, audit_events))

    killed_at(env, "CREATE TABLE", 1, "db", "upgrade")
    assert current_revision(engine) == "0005"  # the migrations run in one transaction: all or nothing
    assert (count(url, units), count(url, obligations), count(url, audit_events)) == before

    assert f"revision {head}" in run(env, "db", "upgrade").stdout
    assert current_revision(engine) == head
    engine.dispose()
    verified(env)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 s1 report")
    run(env, "file", KEY, "--unit", "s1", "--artifact", "report", "--file", str(tmp_path / "report.pdf"))
    run(env, "tick", KEY, "--in-process")
    verified(env)
