"""Tampering the audit chain's verification must name, never crash on (issue 15, findings 3 and 4).

Finding 3: an event whose JSON was made invalid, whose timestamp is no date, or a dropped audit table
is tampering: `campaign audit verify` exits 1 naming the first event affected (or the missing table),
and the API's and the audit page's verification report it the same way, never a 500.

Finding 4: deleting the last events and rewriting the head to match keeps the chain itself
consistent; the anchor outside the database (the data directory's `audit-anchors.jsonl`, written
by each verification and each report, and the head printed on each report and notice) shows it.

Each runs on SQLite and on PostgreSQL. A PostgreSQL column keeps only what its type allows, so there
the tamperer first turns the column into text (ALTER TABLE), as someone with write access can.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text

from campaign_model.audit import event_hash
from campaign_model.store import audit
from campaign_model.store.accounts import add_user, create_token
from campaign_model.store.audit import Act
from campaign_model.store.tables import audit_events, audit_head

from .conftest import local
from .web_support import Clock, client_for

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = "small-2023"
CLI = "import sys; sys.argv[0]='campaign'; from campaign_app.cli import main; main()"
PASSWORD = "qingfeng-2024"
ANCHORS = "audit-anchors.jsonl"


def act(when: str, actor: str = "admin") -> Act:
    return Act(local(when), actor, local(when))


@pytest.fixture
def history(engine: Engine, small: str, db_url: str, tmp_path: Path) -> list[Any]:
    """The small campaign after a tick (phase started, a notice sent) and an admin with a token."""
    from flows.tick import tick_direct

    tick_direct(db_url, CAMPAIGN, act("2023-02-14T09:00", "tick"), str(tmp_path / "outbox.jsonl"))
    with engine.begin() as conn:
        add_user(conn, "admin", "admin", None, PASSWORD, act("2023-02-14T10:00"))
    with engine.begin() as conn:
        return audit.events(conn)


def raw(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def garble(engine: Engine, column: str, seq: int, value: str) -> None:
    """Write `value` into an event's column, as text, bypassing every type."""
    if engine.dialect.name == "postgresql":
        raw(engine, f'ALTER TABLE audit_events ALTER COLUMN "{column}" TYPE text')
    raw(engine, f'UPDATE audit_events SET "{column}" = :value WHERE seq = :seq', value=value, seq=seq)


def cli(db_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMPAIGN_DB_URL": db_url, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", CLI, *args], env=env, cwd=home, capture_output=True, text=True,
                          timeout=180)


def verify(db_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(db_url, home, "audit", "verify", *args)


def site(engine: Engine, home: Path) -> Any:
    from campaign_app.settings import Settings
    from campaign_app.usecases.services import Services
    from campaign_app.web.app import create_app

    settings = Settings(home, engine.url.render_as_string(hide_password=False))
    return client_for(create_app(Services(settings, engine, clock=Clock(local("2023-02-15T10:00")))))


def api_token(engine: Engine) -> dict[str, str]:
    with engine.begin() as conn:
        token, _ = create_token(conn, "admin", act("2023-02-14T10:00"))
    return {"Authorization": f"Bearer {token}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def page_verify(client: Any) -> Any:
    """Log in as the admin, press 校验 on the audit page, and follow to the page again."""
    csrf = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"name": "admin", "password": PASSWORD, "csrf": csrf},
                       follow_redirects=False).status_code == 303
    page = client.get("/audit")
    assert page.status_code == 200, page.text
    return client.post("/audit/verify", data={"csrf": csrf_of(page.text), "campaign": ""}, follow_redirects=True)


# --- finding 3: unreadable events and a missing table ---

TAMPERINGS = {
    "invalid-json": ("after", '{"state": "active", broken'),
    "timestamp-not-a-date": ("at", "not a date"),
    "recorded-at-not-a-date": ("recorded_at", "2023-13-45 99:99:99"),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_cli_verify_names_the_unreadable_event(engine, history, db_url, tmp_path, how):
    column, value = TAMPERINGS[how]
    seq = history[1].seq  # phase.started: carries JSON before and after
    garble(engine, column, seq, value)

    done = verify(db_url, tmp_path)

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert re.search(rf"#{seq}\b", done.stderr), done.stderr
    assert "无法读取" in done.stderr and "cannot be read" in done.stderr, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("table", ["audit_events", "audit_head", "audit_checks"])
def test_cli_verify_names_a_dropped_audit_table(engine, history, db_url, tmp_path, table):
    raw(engine, f"DROP TABLE {table}")

    done = verify(db_url, tmp_path)

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert table in done.stderr and "missing" in done.stderr, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_cli_audit_log_shows_an_unreadable_event_instead_of_crashing(engine, history, db_url, tmp_path):
    seq = history[1].seq
    garble(engine, "at", seq, "not a date")

    done = cli(db_url, tmp_path, "audit", "log", "--json")

    assert done.returncode == 0, done.stderr
    shown = {e["seq"]: e for e in json.loads(done.stdout)}
    assert shown[seq]["at"] == "not a date" and shown[seq]["unreadable"]
    assert shown[1]["unreadable"] is None


@pytest.mark.parametrize("how", [*sorted(TAMPERINGS), "dropped-table"])
def test_api_and_page_report_the_tampering_never_a_500(engine, history, tmp_path, how):
    headers = api_token(engine)
    seq = history[1].seq
    if how == "dropped-table":
        raw(engine, "DROP TABLE audit_events")
    else:
        garble(engine, *TAMPERINGS[how][:1], seq, TAMPERINGS[how][1])
    client = site(engine, tmp_path)

    answer = client.get("/api/v1/audit/verify", headers=headers)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is False
    if how == "dropped-table":
        assert body["first_bad"] is None and "audit_events" in body["reason"]
    else:
        assert body["first_bad"] == seq and f"#{seq}" in body["reason"]
    assert client.get("/api/v1/audit", headers=headers).status_code == 200

    page = page_verify(client)
    assert page.status_code == 200, page.text
    verdict = re.search(r'<p id="audit-verdict" class="verdict error"[^>]*>(.*?)</p>', page.text, re.S)
    assert verdict, page.text
    assert ("audit_events" if how == "dropped-table" else f"#{seq}") in verdict.group(1)


# --- finding 4: truncation shows against the anchor ---

def head_row(engine: Engine) -> tuple[int, str]:
    with engine.begin() as conn:
        row = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    return int(row.seq), str(row.hash)


def truncate(engine: Engine, keep: int) -> None:
    """Delete every event after `keep` and set the head to match: the chain itself stays consistent."""
    with engine.begin() as conn:
        digest = conn.execute(select(audit_events.c.hash).where(audit_events.c.seq == keep)).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE seq > :keep"), {"keep": keep})
        conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash"), {"seq": keep, "hash": digest})


def rewrite_last(engine: Engine, history: list[Any]) -> None:
    """Replace the last event by a forged one, correctly hashed and linked, and move the head to it."""
    last = history[-1]
    forged = dataclasses.replace(last, actor="forger", after={"note": "forged"}, hash="")
    forged = dataclasses.replace(forged, hash=event_hash(forged))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = :seq"), {"seq": last.seq})
        conn.execute(insert(audit_events).values(**dataclasses.asdict(forged)))
        conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash"), {"seq": forged.seq, "hash": forged.hash})


def anchors(home: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (home / ANCHORS).read_text(encoding="utf-8").splitlines()]


def test_truncation_passed_verify_without_an_anchor(engine, history, db_url, tmp_path):
    """What the issue found: without an anchor, deleting the tail and fixing the head is invisible."""
    truncate(engine, len(history) - 2)
    fresh = tmp_path / "fresh"
    fresh.mkdir()

    done = verify(db_url, fresh)

    assert done.returncode == 0, done.stderr  # nothing outside the database to compare with


def test_verify_writes_an_anchor_and_a_later_truncation_fails_naming_it(engine, history, db_url, tmp_path):
    first = verify(db_url, tmp_path)
    assert first.returncode == 0, first.stderr
    seq, digest = head_row(engine)
    written = anchors(tmp_path)
    assert [(a["seq"], a["hash"]) for a in written] == [(seq, digest)]
    assert written[0]["source"] == "verify" and written[0]["at"]

    truncate(engine, seq - 2)
    done = verify(db_url, tmp_path)

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"anchor #{seq}" in done.stderr and "truncated or rewritten" in done.stderr, done.stderr
    assert written[0]["at"][:16] in done.stderr
    assert re.search(rf"#{seq - 1}\b", done.stderr)  # the first event missing
    assert anchors(tmp_path) == written  # a failed verification anchors nothing


def test_a_rewritten_tail_fails_against_the_anchor(engine, history, db_url, tmp_path):
    assert verify(db_url, tmp_path).returncode == 0
    rewrite_last(engine, history)
    with engine.connect() as conn:
        assert audit.verify(conn).ok  # the forgery is consistent in itself

    done = verify(db_url, tmp_path)

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"anchor #{history[-1].seq}" in done.stderr and "rewritten" in done.stderr


def test_anchors_of_another_database_are_not_applied(engine, history, db_url, tmp_path):
    seq, digest = head_row(engine)
    (tmp_path / ANCHORS).write_text(json.dumps({"seq": seq + 50, "hash": "a" * 64, "at": "2023-02-14T10:00:00+00:00",
                                                "source": "verify", "database": "sqlite:////elsewhere.db"}) + "\n"
                                    + "not json at all\n", encoding="utf-8")

    done = verify(db_url, tmp_path)

    assert done.returncode == 0, done.stderr
    assert (anchors_seen := [a for a in map(json.loads, (tmp_path / ANCHORS).read_text().splitlines()[2:])])
    assert anchors_seen[-1]["seq"] == seq


@pytest.mark.parametrize("fmt", ["json", "html", "csv", "xlsx"])
def test_each_report_carries_the_head_and_anchors_it(engine, history, db_url, tmp_path, fmt):
    seq, digest = head_row(engine)
    out = tmp_path / f"ledger.{fmt}"

    done = cli(db_url, tmp_path, "report", CAMPAIGN, "--kind", "ledger", "--out", str(out))

    assert done.returncode == 0, done.stderr
    if fmt == "json":
        assert json.loads(out.read_text(encoding="utf-8"))["audit_head"] == {"seq": seq, "hash": digest}
    elif fmt == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(out)
        values = [c.value for row in wb["审计链"].iter_rows() for c in row]
        assert seq in values and digest in values
        assert wb.sheetnames[0] != "审计链"  # the report's own sheet first
    else:
        assert f"{seq}:{digest}" in out.read_text(encoding="utf-8-sig")
    assert [(a["seq"], a["hash"], a["source"]) for a in anchors(tmp_path)] == [(seq, digest, "report:ledger")]


def test_operator_gives_the_anchor_from_a_printed_report(engine, history, db_url, tmp_path):
    out = tmp_path / "notice.html"
    assert cli(db_url, tmp_path, "report", CAMPAIGN, "--kind", "notice", "--out", str(out)).returncode == 0
    found = re.search(r"(\d+):([0-9a-f]{64})", out.read_text(encoding="utf-8"))
    assert found
    printed = found.group(0)
    intact = verify(db_url, tmp_path, "--anchor", printed)
    assert intact.returncode == 0, intact.stderr
    assert f"matches anchor #{printed.split(':')[0]}, given" in intact.stdout  # and the report's, from the file
    assert f"matches anchor #{printed.split(':')[0]}, report:notice at " in intact.stdout
    assert verify(db_url, tmp_path, "--anchor", printed[:24]).returncode == 0  # a prefix of the hash will do

    truncate(engine, int(printed.split(":")[0]) - 1)
    elsewhere = tmp_path / "elsewhere"  # no anchor file: only what the operator types
    elsewhere.mkdir()
    done = verify(db_url, elsewhere, "--anchor", printed)

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"anchor #{printed.split(':')[0]}" in done.stderr


@pytest.mark.parametrize("given", ["12", "x:abc", "3:zz", "-1:" + "a" * 64, "5:abc", "99999999999999999999999:" + "a" * 64])
def test_a_malformed_anchor_is_refused_naming_the_option(engine, history, db_url, tmp_path, given):
    done = verify(db_url, tmp_path, "--anchor", given)

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "--anchor" in done.stderr and "Traceback" not in done.stderr


def test_the_weekly_notice_carries_the_head(engine, history, tmp_path):
    sent = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    notices = [m for m in sent if "通报" in (m.get("subject") or "")]
    assert notices, sent
    # read in the notice's own transaction, before its notice.sent event: a head that exists
    notice_sent = next(e for e in history if e.action == "notice.sent")
    head = history[notice_sent.seq - 2]
    for message in notices:
        assert f"{head.seq}:{head.hash}" in message["text"] and f"{head.seq}:{head.hash}" in message["markdown"]
