"""A tick killed (SIGKILL) in the middle of sending loses no reminder and repeats at most the one in flight.

The tick runs in a real child process; the SMTP peer is aiosmtpd on 127.0.0.1 in the test process. No
mock anywhere in the product: the kill lands at a known point because the test's SMTP server *holds*
one conversation until the child is dead:

- `data`: the server has stored message N and withholds its "250": the child sent it but cannot have
  recorded it. The one message that may be repeated, and here it must be (exactly once more).
- `mail`: the server holds the MAIL FROM of message N: messages 1..N-1 were accepted and, since each
  is recorded before the next is sent, recorded; message N was never sent. Nothing is repeated.
  With N = 1 this is the kill after planning, before any send.

A further case kills the child inside the planning transaction (the child itself pauses right after
its INSERT into the outbox, through an SQLAlchemy event in the child's own script, not in the product).

The killed tick and the tick that recovers each run `flows.tick.tick_direct` in a fresh interpreter
(the same steps as the Prefect flow, without its temporary API server, ~10 s to start, so that the kill
point is not hostage to Prefect's start-up); one more test kills the real `campaign tick` command,
Prefect and all. Each child runs in its own session and the whole process group is killed, so Prefect's
server subprocess dies with it, as under systemd.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.tables import obligations, outbox, units
from tests.loopback import LoopbackSMTP, _Recorder

from .conftest import local

ROOT = Path(__file__).resolve().parent.parent
KEY = "crash-2023"
N_UNITS = 40
SENDER = "县教育局督导组 <robot@example.cn>"
# due Friday 03-10; the first overdue reminder is Monday 03-13 09:00, inside the 09:00-18:00 window
T_CREATE, T_START = "2023-03-01T09:00", "2023-03-06T08:00"
T_KILLED, T_AGAIN, T_LATER = "2023-03-13T10:00", "2023-03-13T10:05", "2023-03-13T10:10"
WAIT = 60.0  # seconds: a bound on every wait, never a sleep that must be long enough


def unit_key(i: int) -> str:
    return f"u{i:02d}"


def spec() -> str:
    lines = ["version: 1", f"key: {KEY}", "title: 2023年作风整顿（崩溃测试）", "calendar: cn", "organizer: bureau",
             "units:", "  - {key: bureau, name: 教育局}"]
    lines += [f"  - {{key: {unit_key(i)}, name: 学校{i:02d}, parent: bureau, tags: [学校], "
              f"contacts: [{{name: 校长{i:02d}, email: {unit_key(i)}@example.cn}}]}}" for i in range(1, N_UNITS + 1)]
    lines += ["artifacts:", "  report: {title: 自查报告}",
              "phases:", "  - key: check", "    title: 自查自纠", "    kind: self_check",
              "    start: 2023-03-06", "    end: 2023-03-31", "    steps:",
              "      - {key: report, title: 自查报告, due: 2023-03-10,",
              "         requires: [{artifact: report, from: 'tag:学校'}]}",
              "reminders:", "  before: []", "  on_due: false", '  overdue_every: "1 workday"', '  send_at: "09:00"']
    return "\n".join(lines) + "\n"


# --- the SMTP peer that holds one conversation until the test lets go


class Gate:
    """Where the server stops: the MAIL FROM of the n-th transaction, or the n-th DATA after storing it."""

    def __init__(self, where: str | None = None, n: int = 0):
        self.where, self.n = where, n
        self.reached = threading.Event()
        self.released = threading.Event()

    async def hold(self, where: str, count: int) -> None:
        if where == self.where and count == self.n:
            self.reached.set()
            deadline = time.monotonic() + WAIT
            while not self.released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)


class GatedRecorder(_Recorder):
    def __init__(self, owner: LoopbackSMTP, gate: Gate):
        super().__init__(owner)
        self.gate = gate
        self.mails = self.datas = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mails += 1
        await self.gate.hold("mail", self.mails)
        envelope.mail_from = address  # a handler with handle_MAIL sets the envelope itself
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.datas += 1
        reply = await super().handle_DATA(server, session, envelope)  # stored: the server has it
        await self.gate.hold("data", self.datas)
        return reply


@pytest.fixture
def gate():
    return Gate()


@pytest.fixture
def smtp(gate):
    server = LoopbackSMTP()
    server._controller.handler = GatedRecorder(server, gate)  # before start: each connection takes it
    server.start()
    yield server
    gate.released.set()
    server.stop()


# --- the campaign, the child processes, and what the outbox and the server say


CHILD = textwrap.dedent("""
    import datetime as dt, json, sys, time
    from campaign_app.settings import Settings
    Settings.from_env().prepare_prefect()
    from campaign_model.store.audit import Act
    from flows import steps
    from flows.tick import tick_direct

    url, key, at, outbox_file, pause = sys.argv[1:6]
    if pause == "plan":  # stop inside the planning transaction, right after the INSERT into the outbox
        from sqlalchemy import event

        def after(conn, cursor, statement, params, context, many):
            if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
                print("PLANNING", flush=True)
                time.sleep(600)
        event.listen(steps.engine_for(url), "after_cursor_execute", after)
    at = dt.datetime.fromisoformat(at)
    print(json.dumps(tick_direct(url, key, Act(at, "tick", at), outbox_file), default=str), flush=True)
""")


class Campaign:
    def __init__(self, engine, db_url: str, tmp_path: Path, smtp: LoopbackSMTP):
        self.engine, self.url, self.tmp, self.smtp = engine, db_url, tmp_path, smtp
        self.channels = tmp_path / "channels.yaml"
        self.channels.write_text(f"channels:\n  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp.port}, "
                                 f"security: none, sender: '{SENDER}'}}\n", encoding="utf-8")
        self.outbox_file = tmp_path / "home" / "outbox" / f"{KEY}.jsonl"
        self.env = {**os.environ, "CAMPAIGN_HOME": str(tmp_path / "home"), "CAMPAIGN_DB_URL": db_url,
                    "CAMPAIGN_CHANNELS": str(self.channels), "PYTHONPATH": str(ROOT),
                    "PREFECT_HOME": str(tmp_path / "home" / "prefect")}
        with engine.begin() as conn:
            create_campaign(conn, load_spec_text(spec(), "crash.yaml"), Act(local(T_CREATE), "admin", local(T_CREATE)))

    def child(self, at: str, pause: str = "-") -> subprocess.Popen:
        # a session of its own: the kill takes the whole group (with Prefect's server, where there is one)
        return subprocess.Popen([sys.executable, "-c", CHILD, self.url, KEY, local(at).isoformat(),
                                 str(self.outbox_file), pause], cwd=ROOT, env=self.env, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def tick(self, at: str) -> dict:
        proc = self.child(at)
        out, err = proc.communicate(timeout=WAIT * 2)
        assert proc.returncode == 0, err
        return json.loads(out.splitlines()[-1])

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(unit, kind, state, message_id) of every outbox row, by unit."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(units.c.key, outbox.c.kind, outbox.c.state, outbox.c.message_id)
                .join(obligations, obligations.c.id == outbox.c.obligation_id)
                .join(units, units.c.id == obligations.c.unit_id).order_by(units.c.key, outbox.c.id)).all()]

    def states(self) -> Counter:
        return Counter(state for _, _, state, _ in self.rows())

    def received(self) -> list[str]:
        """The unit of each message the server stored, in order (the To address names it)."""
        return [m["To"].addresses[0].addr_spec.split("@")[0] for m in self.smtp.messages]


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL


def wait_for(event: threading.Event, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + WAIT * 2
    while not event.wait(0.05):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                kill(proc)
            out, err = proc.communicate()
            pytest.fail(f"the child never reached {what} (exit {proc.returncode}):\n{out}\n{err}")


@pytest.fixture
def campaign(engine, db_url, tmp_path, smtp):
    c = Campaign(engine, db_url, tmp_path, smtp)
    started = c.tick(T_START)
    assert started["phases"]["check"] == "active" and started["reminders_planned"] == 0
    return c


ALL = [unit_key(i) for i in range(1, N_UNITS + 1)]


@pytest.mark.parametrize(("where", "n"), [("data", 1), ("data", 25), ("mail", 1), ("mail", 25)],
                         ids=["sent-unrecorded-1st", "sent-unrecorded-25th", "before-1st-send", "before-25th-send"])
def test_killed_while_sending_loses_nothing_and_repeats_at_most_the_one_in_flight(campaign, smtp, gate, where, n):
    gate.where, gate.n = where, n
    proc = campaign.child(T_KILLED)
    wait_for(gate.reached, proc, f"{where} of message {n}")
    kill(proc)
    gate.released.set()

    # after the crash: every reminder planned (one row each), those fully sent recorded, none recorded unsent
    rows = campaign.rows()
    assert len(rows) == N_UNITS and sorted(u for u, *_ in rows) == ALL
    assert {k for _, k, _, _ in rows} == {"overdue"}
    sent_units = [u for u, _, s, _ in rows if s == "sent"]
    assert campaign.states() == Counter({"sent": n - 1, "planned": N_UNITS - n + 1})
    before = campaign.received()
    in_flight = ALL[n - 1]
    assert before == (ALL[:n] if where == "data" else ALL[:n - 1])
    assert set(sent_units) <= set(before)  # a row marked sent was received: never recorded without a send
    assert len(set(before) - set(sent_units)) == (1 if where == "data" else 0)  # the one in flight, if any

    # the next tick (a fresh process, five minutes later, inside the send window) sends what is left
    again = campaign.tick(T_AGAIN)
    assert (again["reminders_planned"], again["reminders_sent"]) == (0, N_UNITS - n + 1)
    assert campaign.states() == Counter({"sent": N_UNITS})

    per_unit = Counter(campaign.received())
    assert set(per_unit) == set(ALL)  # everyone got the digest ...
    repeated = [u for u, c in per_unit.items() if c > 1]
    assert repeated == ([in_flight] if where == "data" else [])  # ... once, but the one in flight
    assert per_unit[in_flight] == (2 if where == "data" else 1)
    assert len(smtp.messages) == N_UNITS + len(repeated)

    # a later tick has nothing left to send
    later = campaign.tick(T_LATER)
    assert (later["reminders_planned"], later["reminders_sent"]) == (0, 0)
    assert len(smtp.messages) == N_UNITS + len(repeated)


@pytest.mark.parametrize("again", [T_KILLED, T_AGAIN], ids=["rerun-same-instant", "rerun-later"])
def test_the_repeated_message_keeps_its_message_id(campaign, smtp, gate, again):
    """The repeat after a crash carries the first copy's Message-ID, so that mail clients fold the two
    (notifications/channels/email.py promises it), whether the recovering tick replays the killed tick's
    instant or runs later, as `campaign tick` without --at (and the scheduler) always does after a crash."""
    gate.where, gate.n = "data", 3
    proc = campaign.child(T_KILLED)
    wait_for(gate.reached, proc, "data of message 3")
    kill(proc)
    gate.released.set()
    campaign.tick(again)
    copies = [m for m in smtp.messages if m["To"].addresses[0].addr_spec == f"{ALL[2]}@example.cn"]
    assert len(copies) == 2
    assert copies[0]["Subject"] == copies[1]["Subject"]
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"], (
        "the repeat of the message in flight got a new Message-ID: render() hashes the tick's instant into it")


def test_killed_on_one_day_recovered_the_next(campaign, smtp, gate):
    """Recovery on the next working day: the day before's reminders still waiting give way to that day's
    (one item per obligation in each message); every unit hears, nothing stays planned."""
    gate.where, gate.n = "data", 10
    proc = campaign.child(T_KILLED)
    wait_for(gate.reached, proc, "data of message 10")
    kill(proc)
    gate.released.set()
    again = campaign.tick("2023-03-14T10:00")
    assert (again["reminders_planned"], again["reminders_sent"]) == (N_UNITS, N_UNITS)
    rows = campaign.rows()
    assert Counter(s for _, _, s, _ in rows) == Counter({"sent": N_UNITS + 9, "cancelled": N_UNITS - 9})
    per_unit = Counter(campaign.received())
    assert set(per_unit) == set(ALL)
    assert {u for u, n in per_unit.items() if n == 2} == set(ALL[:10])  # 03-13's (u10 unrecorded) and 03-14's
    for mail in smtp.messages[10:]:
        text = mail.get_body(preferencelist=("plain",)).get_content()
        assert sum(line.startswith("- [") for line in text.splitlines()) == 1, text


def test_killed_inside_the_planning_transaction_loses_nothing(campaign, smtp):
    proc = campaign.child(T_KILLED, pause="plan")
    watchdog = threading.Timer(WAIT * 2, os.killpg, (proc.pid, signal.SIGKILL))  # bounds the readline
    watchdog.start()
    line = proc.stdout.readline()
    watchdog.cancel()
    assert line.strip() == "PLANNING", proc.communicate(timeout=WAIT)[1]
    assert campaign.rows() == []  # planned, not committed: nobody else sees the rows yet
    kill(proc)
    assert campaign.rows() == [] and smtp.received == []  # the transaction died with the process

    again = campaign.tick(T_AGAIN)
    assert (again["reminders_planned"], again["reminders_sent"]) == (N_UNITS, N_UNITS)
    assert campaign.states() == Counter({"sent": N_UNITS})
    assert sorted(campaign.received()) == ALL  # each once


def test_killed_after_planning_the_rerun_plans_nothing_new(campaign, smtp, gate):
    gate.where, gate.n = "mail", 1  # planned and committed; the first send is held
    proc = campaign.child(T_KILLED)
    wait_for(gate.reached, proc, "the first MAIL FROM")
    kill(proc)
    gate.released.set()
    assert campaign.states() == Counter({"planned": N_UNITS}) and smtp.received == []

    again = campaign.tick(T_AGAIN)  # planning again is a no-op thanks to the unique (obligation, kind, day, channel)
    assert (again["reminders_planned"], again["reminders_sent"]) == (0, N_UNITS)
    rows = campaign.rows()
    assert len(rows) == N_UNITS and sorted(u for u, *_ in rows) == ALL
    assert sorted(campaign.received()) == ALL


def test_killing_the_campaign_tick_command_mid_send(tmp_path, smtp, gate):
    """The real command, Prefect flow runs and all: `campaign tick KEY --at ISO`, killed while message 10
    is in flight (stored by the server, not yet confirmed), then `campaign tick` again and
    `campaign reminders KEY --json`. SQLite only: the start of Prefect's server dominates (~10 s)."""
    from campaign_model.store.db import open_engine

    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    engine = open_engine(db_url)
    c = Campaign(engine, db_url, tmp_path, smtp)
    cli = [sys.executable, "-c", "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"]

    def run(*args: str) -> subprocess.Popen:
        return subprocess.Popen([*cli, *args], cwd=ROOT, env=c.env, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def done(*args: str) -> str:
        proc = run(*args)
        out, err = proc.communicate(timeout=WAIT * 4)
        assert proc.returncode == 0, err
        return out

    done("tick", KEY, "--at", local(T_START).isoformat())
    gate.where, gate.n = "data", 10
    proc = run("tick", KEY, "--at", local(T_KILLED).isoformat(), "--json")
    wait_for(gate.reached, proc, "data of message 10")
    kill(proc)
    gate.released.set()
    assert c.states() == Counter({"sent": 9, "planned": N_UNITS - 9})

    result = json.loads(done("tick", KEY, "--at", local(T_AGAIN).isoformat(), "--json"))
    assert (result["reminders_planned"], result["reminders_sent"]) == (0, N_UNITS - 9)
    listed = json.loads(done("reminders", KEY, "--json"))
    assert len(listed) == N_UNITS and {r["state"] for r in listed} == {"sent"}
    assert sorted(r["unit"] for r in listed) == ALL
    per_unit = Counter(c.received())
    assert set(per_unit) == set(ALL) and [u for u, n in per_unit.items() if n > 1] == [ALL[9]]
    engine.dispose()

