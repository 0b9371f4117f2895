"""Two ticks of the same campaign started at the same instant, on PostgreSQL (and on the SQLite file): each
reminder planned once and sent once.

Two real `campaign tick --in-process` commands (fresh interpreters, the product's own command line) wait
behind a barrier (a file: both have imported everything and wait for it to appear) and then run the same tick
at the same instant against one database. The channel is email to a real SMTP server on loopback
(aiosmtpd, in this process). Each round is a new overdue slot: every unit owes its report, so every unit is
reminded once, and on the Monday the organizer gets the weekly notice (通报) once. After each round: both
commands exit 0; the outbox holds one row per unit for the slot, all sent; the SMTP server received exactly one
message per recipient and subject; the audit chain verifies (`campaign audit verify`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign_model.specfile import load_spec_text
from campaign_model.store import audit
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.tables import audit_events, notices, outbox
from flows.tick import tick_direct
from tests.loopback import LoopbackSMTP

from .conftest import local

ROOT = Path(__file__).resolve().parent.parent
KEY = "race-2023"
N_UNITS = 24
WAIT = 120.0  # a bound on every wait, never a sleep that must be long enough
T_CREATE, T_START = "2023-03-01T09:00", "2023-03-06T08:00"
# due Friday 03-10; one overdue reminder per working day from Monday 03-13 (the Monday also has the 通报)
ROUNDS = ["2023-03-13T10:00", "2023-03-14T10:00", "2023-03-15T10:00"]


def spec() -> str:
    lines = ["version: 1", f"key: {KEY}", "title: 2023年作风整顿（并发检查测试）", "calendar: cn", "organizer: bureau",
             "units:", "  - {key: bureau, name: 教育局, contacts: [{name: 督导组, email: bureau@example.cn}]}"]
    lines += [f"  - {{key: u{i:02d}, name: 学校{i:02d}, parent: bureau, tags: [学校], "
              f"contacts: [{{name: 校长{i:02d}, email: u{i:02d}@example.cn}}]}}" for i in range(1, N_UNITS + 1)]
    lines += ["artifacts:", "  report: {title: 自查报告}",
              "phases:", "  - key: check", "    title: 自查自纠", "    kind: self_check",
              "    start: 2023-03-06", "    end: 2023-03-31", "    steps:",
              "      - {key: report, title: 自查报告, due: 2023-03-10,",
              "         requires: [{artifact: report, from: 'tag:学校'}]}",
              "reminders:", "  before: []", "  on_due: false", '  overdue_every: "1 workday"', '  send_at: "09:00"']
    return "\n".join(lines) + "\n"


# the real command line, imported first; then it waits for the barrier file and runs `campaign ARGS...`
BEHIND_BARRIER = textwrap.dedent("""
    import os, sys, time
    from campaign_app.cli import main
    import flows.tick, notifications.dispatch  # everything a tick imports, before the start line

    barrier, args = sys.argv[1], sys.argv[2:]
    print("READY", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(barrier) and time.monotonic() < deadline:
        time.sleep(0.001)
    sys.argv = ["campaign", *args]
    main()
""")


@pytest.fixture(scope="module")
def smtp():
    with LoopbackSMTP() as server:
        yield server


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def race(request, smtp, tmp_path_factory):
    """The campaign on a fresh database (PostgreSQL; the SQLite file as well: one machine, two processes), its
    phase opened; the environment of the commands."""
    tmp = tmp_path_factory.mktemp("race")
    url = (request.getfixturevalue("postgres").new_database() if request.param == "postgresql"
           else f"sqlite:///{tmp / 'home' / 'campaign.db'}")
    channels = tmp / "channels.yaml"
    channels.write_text(f"channels:\n  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp.port}, "
                        "security: none, sender: '县教育局督导组 <robot@example.cn>'}\n", encoding="utf-8")
    env = {**os.environ, "CAMPAIGN_HOME": str(tmp / "home"), "CAMPAIGN_DB_URL": url, "PYTHONPATH": str(ROOT),
           "CAMPAIGN_CHANNELS": str(channels), "CAMPAIGN_ACTOR": "测试员", "PREFECT_HOME": str(tmp / "home" / "prefect")}
    env.pop("PREFECT_API_URL", None)
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(spec(), "race.yaml"), Act(local(T_CREATE), "admin", local(T_CREATE)))
    started = tick_direct(url, KEY, Act(local(T_START), "tick", local(T_START)), str(tmp / "outbox.jsonl"))
    assert started["phases"]["check"] == "active" and started["reminders_planned"] == 0
    yield {"url": url, "env": env, "tmp": tmp, "engine": engine}
    engine.dispose()


def two_ticks_at_once(race: dict, at: str, n: int) -> list[dict]:
    """Start two `campaign tick` commands behind one barrier, open it, wait for both; their JSON results."""
    barrier = race["tmp"] / f"go-{n}"
    args = ["tick", KEY, "--at", at, "--in-process", "--json"]
    procs = [subprocess.Popen([sys.executable, "-c", BEHIND_BARRIER, str(barrier), *args], cwd=ROOT, env=race["env"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for proc in procs:  # both have imported everything and wait
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "READY", proc.communicate(timeout=WAIT)
        barrier.write_text("go")
        outs = [proc.communicate(timeout=WAIT) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for proc, (_out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0 and "Traceback" not in err, err
    return [json.loads(out) for out, _ in outs]


def mails_by_recipient_and_subject(smtp: LoopbackSMTP, since: int) -> Counter:
    """The messages received since the `since`-th, by recipient and subject (a digest's subject names no day)."""
    return Counter((address.addr_spec, str(mail["Subject"])) for mail in smtp.messages[since:]
                   for address in mail["To"].addresses)


def test_two_ticks_started_at_once_plan_and_send_each_reminder_once(race, smtp):
    engine = race["engine"]
    for n, at in enumerate(ROUNDS, start=1):
        before = len(smtp.messages)
        results = two_ticks_at_once(race, local(at).isoformat(), n)

        # between them, the two ticks planned each reminder once and sent it once
        assert sum(r["reminders_planned"] for r in results) == N_UNITS
        assert sum(r["reminders_sent"] for r in results) == N_UNITS
        # one tick held the campaign's tick lock and did the work; the other waited, then found it done
        assert sorted(r["reminders_sent"] for r in results) == [0, N_UNITS]
        with engine.connect() as conn:
            rows = conn.execute(select(outbox.c.recipient, outbox.c.slot_day, outbox.c.state)).all()
            notice_rows = conn.execute(select(notices.c.week, notices.c.state)).all()
            verdict = audit.verify(conn)
            events = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
        per_slot = Counter((r.recipient, r.slot_day) for r in rows)
        assert len(per_slot) == N_UNITS * n and set(per_slot.values()) == {1}
        assert Counter(r.state for r in rows) == Counter({"sent": N_UNITS * n})
        assert [r.state for r in notice_rows] == ["sent"]  # this week's 通报: planned once, sent once

        # in this round the SMTP server received one message per recipient and subject, never two
        received = mails_by_recipient_and_subject(smtp, before)
        assert set(received.values()) == {1}, [k for k, c in received.items() if c > 1]
        assert len(smtp.messages) - before == N_UNITS + (1 if n == 1 else 0)  # Monday's round: also the 通报
        assert {address for address, _ in received} == {f"u{i:02d}@example.cn" for i in range(1, N_UNITS + 1)} | (
            {"bureau@example.cn"} if n == 1 else set())

        # the chain verifies, in this process and as an operator checks it
        assert verdict.ok, verdict.reason
        assert verdict.count == events
        done = subprocess.run([sys.executable, "-c", "from campaign_app.cli import main; main()", "audit", "verify"],
                              env=race["env"], capture_output=True, text=True, timeout=WAIT, check=False)
        assert done.returncode == 0 and "审计链完整 (audit chain intact)" in done.stdout, done.stdout + done.stderr


def test_two_filings_of_the_same_content_at_once_both_succeed(postgres):
    """Two units file the same scan (the same template PDF) at the same moment: on PostgreSQL both transactions
    see no blob row for its hash and both insert one; the second waits on the first's row and, once it commits,
    records nothing more instead of failing on the unique key (the filing answered 500 before)."""
    import threading

    from sqlalchemy import text

    from campaign_model.store.blobs import record_blobs
    from campaign_model.store.tables import blobs

    engine = open_engine(postgres.new_database())
    stored = [{"name": "模板.pdf", "sha256": "ab" * 32, "size": 3000}]
    at = local("2023-03-13T10:00")
    errors: list[BaseException] = []
    try:
        first = engine.connect()
        first.begin()
        record_blobs(first, stored, at)  # inserted, not yet committed

        def second() -> None:
            try:
                with engine.begin() as conn:
                    record_blobs(conn, stored, at)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        with engine.connect() as watch:  # the second waits on the first's uncommitted row (an event, not a sleep)
            deadline = time.monotonic() + WAIT
            while watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                     "AND datname = current_database()")).scalar_one() == 0:
                assert thread.is_alive() and time.monotonic() < deadline, errors
                watch.rollback()
        first.commit()
        first.close()
        thread.join(WAIT)
        assert not errors, errors
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(blobs)).scalar_one() == 1
    finally:
        engine.dispose()
