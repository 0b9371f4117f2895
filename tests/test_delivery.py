"""Reminders delivered by ticks to real peers on loopback: email (aiosmtpd), DingTalk, WeCom and webhooks (HTTP).

No mocks: each test writes a channels.yaml pointing at a loopback server, sets the environment the way an
operator would (CAMPAIGN_CHANNELS, CAMPAIGN_DELIVERY_*), and drives the campaign with ticks at explicit
instants (flows.tick.tick_direct). Rows are read back as `campaign reminders --json` shows them.

The campaign: two schools (s1, s2) under a district (d1) under the bureau (the organizer, without an email
address, so its weekly notice goes to the JSON-lines file). Both requirements are due 2023-04-20 (Thursday).
With `before: ["1 workday"]`, `overdue_every: "2 workdays"` and `escalate_after: "2 workdays"` the slots are:
  before 04-19, on-due 04-20, overdue 04-21, 04-24 (04-23 is a make-up Sunday: 04-23, 04-24), 04-26, 04-28,
  05-05 (May Day 04-29..05-03), 05-08 (make-up Saturday 05-06), 05-10, 05-12, 05-16;
  escalation to d1: 2 working days after 04-20 = 04-21, 04-23 -> 04-23 (a make-up working Sunday).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_model.specfile import load_spec_text
from campaign_model.store import outbox
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.filings import file_artifact
from campaign_model.store.tables import audit_events
from flows.tick import tick_direct

from .conftest import local
from .loopback import LoopbackHTTP, LoopbackSMTP, http_server, smtp_server  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
KEY = "deliv-2023"
TITLE = "2023年作风建设专项整治"

SPEC = f"""\
version: 1
key: {KEY}
title: {TITLE}
calendar: cn
organizer: bureau
units:
  - {{key: bureau, name: 县教育局}}
  - {{key: d1, name: 城关学区, parent: bureau, contacts: [{{name: 王主任, email: d1@example.cn}}]}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校],
     contacts: [{{name: 张校长, email: s1@example.cn, phone: "13800000001"}}]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校], contacts: [{{name: 李校长, email: s2@example.cn}}]}}
artifacts:
  plan: {{title: 实施方案}}
  checklist: {{title: 自查表}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-04-10
    end: 2023-05-31
    steps:
      - key: plan
        title: 制定实施方案
        due: 2023-04-20
        requires:
          - {{artifact: plan, from: "tag:学校"}}
      - key: checklist
        title: 填报自查表
        due: 2023-04-20
        requires:
          - {{artifact: checklist, from: "tag:学校"}}
reminders:
  before: ["1 workday"]
  on_due: true
  overdue_every: "2 workdays"
  send_at: "09:00"
  send_until: "18:00"
  escalate_after: "2 workdays"
"""

ROW_KEYS = {"id", "unit", "artifact", "kind", "due", "planned_for", "state", "sent_at", "recipient", "channel",
            "attempts", "message"}


@pytest.fixture(autouse=True)
def settings_env(tmp_path, monkeypatch):
    """A clean delivery environment: no channels (an empty channels.yaml), default retry policy."""
    empty = tmp_path / "no-channels.yaml"
    empty.write_text("channels: []\n", encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CHANNELS", str(empty))
    for name in ("CAMPAIGN_PUBLIC_URL", "CAMPAIGN_DELIVERY_MAX_ATTEMPTS", "CAMPAIGN_DELIVERY_BACKOFF_SECONDS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def channels(tmp_path, monkeypatch):
    """Write the operator's channels.yaml and point CAMPAIGN_CHANNELS at it."""

    def write(text: str, **env: str) -> Path:
        path = tmp_path / "channels.yaml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("CAMPAIGN_CHANNELS", str(path))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return path

    return write


def email_channel(server: LoopbackSMTP, extra: str = "") -> str:
    return (f'  - {{name: mail, type: email, host: 127.0.0.1, port: {server.port}, security: none, '
            f'sender: "县教育局 <robot@example.cn>"{extra}}}\n')


class Run:
    """The campaign on the test's database, driven by ticks at explicit local instants."""

    def __init__(self, engine, db_url: str, tmp_path: Path):
        self.engine, self.url, self.tmp = engine, db_url, tmp_path
        self.blobs = BlobStore(tmp_path / "files")
        self.outbox_file = tmp_path / "outbox.jsonl"
        created = local("2023-04-01T09:00")
        with engine.begin() as conn:
            create_campaign(conn, load_spec_text(SPEC, "deliv.yaml"), Act(created, "admin", created))

    def tick(self, when: str) -> dict:
        return tick_direct(self.url, KEY, Act(local(when), "tick", local(when)), str(self.outbox_file))

    def file(self, unit: str, artifact: str, when: str) -> None:
        scan = self.tmp / f"{unit}-{artifact}.pdf"
        scan.write_bytes(f"{unit} {artifact}".encode())
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, KEY, unit, artifact, Act(local(when), unit, local(when)), files=[scan])

    def rows(self, state: str | None = None, unit: str | None = None) -> list[dict]:
        """The outbox as `campaign reminders --json` shows it."""
        with self.engine.connect() as conn:
            ctx = load_ctx(conn, KEY)
            rows = outbox.listing(conn, ctx.id, state, unit)

        def iso(value):
            return value.astimezone(ctx.tz).isoformat() if value else None

        return [{"id": r.id, "unit": r.unit, "artifact": r.artifact, "kind": r.kind, "due": iso(r.due_at),
                 "planned_for": iso(r.planned_for), "state": r.state, "sent_at": iso(r.sent_at),
                 "recipient": r.recipient, "channel": r.channel, "attempts": r.attempts, "message": r.message_id,
                 "error": r.last_error, "next_attempt_at": iso(r.next_attempt_at)} for r in rows]

    def cli(self, *args: str) -> list[dict]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(self.tmp / "home"),
               "CAMPAIGN_DB_URL": self.url}
        code = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                              cwd=self.tmp, timeout=120, check=False)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return json.loads(done.stdout)

    def lines(self) -> list[dict]:
        if not self.outbox_file.exists():
            return []
        return [json.loads(line) for line in self.outbox_file.read_text(encoding="utf-8").splitlines()]

    def digests(self) -> list[dict]:
        """What the JSON-lines file received, without the weekly notices (通报) to the organizer."""
        return [m for m in self.lines() if "通报" not in m["subject"]]

    def audit_text(self) -> str:
        with self.engine.connect() as conn:
            events = conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings().all()
        return "\n".join(json.dumps(dict(e), ensure_ascii=False, default=str) for e in events)


@pytest.fixture
def run(engine, db_url, tmp_path) -> Run:
    return Run(engine, db_url, tmp_path)


def by_recipient(server: LoopbackSMTP) -> dict[str, list]:
    mails: dict[str, list] = {}
    for mail in server.messages:
        for address in mail["To"].addresses:
            mails.setdefault(address.addr_spec, []).append(mail)
    return mails


def summary(rows: list[dict]) -> list[tuple]:
    return sorted((r["unit"], r["artifact"], r["kind"], r["planned_for"][5:16], r["state"], r["recipient"])
                  for r in rows)


# --- email


def test_an_email_digest_reaches_the_unit(run, channels, smtp_server):
    channels("channels:\n" + email_channel(smtp_server))
    assert run.tick("2023-04-10T08:00")["phases"] == {"self_check": "active"}
    r = run.tick("2023-04-19T09:30")
    assert (r["reminders_planned"], r["reminders_sent"]) == (4, 4)

    assert b"=?utf-8?" in smtp_server.received[0].content  # the Chinese subject is RFC 2047-encoded on the wire
    mails = by_recipient(smtp_server)
    assert sorted(mails) == ["s1@example.cn", "s2@example.cn"]
    [mail] = mails["s1@example.cn"]
    assert mail["Subject"] == f"【{TITLE}】第一小学：2 项材料待报送"
    assert [a.addr_spec for a in mail["To"].addresses] == ["s1@example.cn"]
    assert mail["From"].addresses[0].addr_spec == "robot@example.cn"
    assert mail["Date"].datetime.isoformat() == "2023-04-19T09:30:00+08:00"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = mail.get_body(("html",)).get_content()
    for part in (plain, html):
        assert TITLE in part  # the campaign
        assert "第一小学" in part and "第二小学" not in part  # the unit, only its own items
        assert "实施方案" in part and "自查表" in part  # the artifacts' titles
        assert "2023-04-20 23:59" in part  # due: the end of 04-20, local time
        assert "还剩 1 天" in part  # days left
        assert "即将到期" in part  # a `before` reminder
        # how to file: in words (no address configured), never a command line
        assert "报送方式" in part and "在“报送材料”页选择本单位和“实施方案”、“自查表”报送" in part
        assert "campaign file" not in part
    assert "- [即将到期] 制定实施方案：实施方案，截止 2023-04-20 23:59，还剩 1 天" in plain
    assert "<td>实施方案</td><td>2023-04-20 23:59</td><td>还剩 1 天</td>" in html

    rows = run.rows()
    assert summary(rows) == [
        ("s1", "checklist", "before", "04-19T09:00", "sent", "s1"),
        ("s1", "plan", "before", "04-19T09:00", "sent", "s1"),
        ("s2", "checklist", "before", "04-19T09:00", "sent", "s2"),
        ("s2", "plan", "before", "04-19T09:00", "sent", "s2"),
    ]
    assert all(r["channel"] == "mail" and r["attempts"] == 1 and r["sent_at"] == "2023-04-19T09:30:00+08:00"
               for r in rows)
    assert run.digests() == []  # units with an address are not also written to the file


def test_one_message_per_recipient_per_tick_with_two_items_overdue(run, channels, smtp_server):
    channels("channels:\n" + email_channel(smtp_server))
    run.tick("2023-04-10T08:00")
    run.file("s2", "plan", "2023-04-12T10:00")
    run.file("s2", "checklist", "2023-04-12T10:00")
    run.tick("2023-04-20T12:00")  # on-due digest (both items), one message
    assert len(smtp_server.received) == 1
    r = run.tick("2023-04-21T09:30")  # both items overdue since the end of 04-20
    assert (r["overdue_marked"], r["reminders_planned"], r["reminders_sent"]) == (2, 2, 2)
    assert len(smtp_server.received) == 2
    mail = smtp_server.messages[1]
    assert mail["Subject"] == f"【{TITLE}】第一小学：2 项材料待报送，其中 2 项已逾期"
    plain = mail.get_body(("plain",)).get_content()
    assert plain.count("[已逾期]") == 2 and plain.count("已逾期 1 天") == 2
    overdue = run.rows(unit="s1")[-2:]
    assert [(r["kind"], r["state"]) for r in overdue] == [("overdue", "sent")] * 2
    assert overdue[0]["message"] == overdue[1]["message"]  # both rows went out in one message


# --- chat robots and webhooks


def dingtalk_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_a_dingtalk_robot_with_a_secret_signs_each_message(run, channels, http_server):
    secret, token = "SECdt0123456789abcdefDT", "dt-token-0001"

    def dingtalk(request):  # as DingTalk does: recompute the signature from the timestamp
        ok = (request.query.get("access_token") == token and "timestamp" in request.query
              and request.query.get("sign") == dingtalk_sign(secret, request.query["timestamp"]))
        return 200, {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "sign not match"}

    http_server.responder = dingtalk
    channels("channels:\n"
             f'  - {{name: county-group, type: dingtalk, url: "{http_server.url("/robot/send")}?access_token=${{DT_TOKEN}}",'
             f' secret: "${{DT_SECRET}}", units: [s1]}}\n', DT_TOKEN=token, DT_SECRET=secret)
    run.tick("2023-04-10T08:00")
    before = time.time() * 1000
    run.tick("2023-04-19T09:30")

    [request] = http_server.requests
    assert request.path == "/robot/send"
    assert before - 1000 <= int(request.query["timestamp"]) <= time.time() * 1000 + 1000
    assert request.query["sign"] == dingtalk_sign(secret, request.query["timestamp"])
    assert request.json["msgtype"] == "markdown"
    assert request.json["markdown"]["title"] == f"【{TITLE}】第一小学：2 项材料待报送"
    text = request.json["markdown"]["text"]
    assert "实施方案" in text and "自查表" in text and "2023-04-20 23:59" in text and "@13800000001" in text
    assert request.json["at"]["atMobiles"] == ["13800000001"]
    # the robot takes s1 only; s2 (no channel for it) falls back to the JSON-lines file
    assert {(r["unit"], r["channel"], r["state"]) for r in run.rows()} == {
        ("s1", "county-group", "sent"), ("s2", "file", "sent")}
    assert [m["recipient"] for m in run.digests()] == ["s2"]


def test_a_wecom_robot_gets_markdown(run, channels, http_server):
    key = "wecom-key-0123456789"

    def wecom(request):
        ok = request.path == "/cgi-bin/webhook/send" and request.query == {"key": key}
        return 200, {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 93000, "errmsg": "invalid webhook url"}

    http_server.responder = wecom
    channels("channels:\n"
             f'  - {{name: wecom-group, type: wecom, url: "{http_server.url("/cgi-bin/webhook/send")}?key=${{WECOM_KEY}}",'
             f' units: [s2]}}\n', WECOM_KEY=key)
    run.tick("2023-04-10T08:00")
    run.tick("2023-04-19T09:30")
    [request] = http_server.requests
    assert request.json["msgtype"] == "markdown"
    content = request.json["markdown"]["content"]
    assert content.startswith(f"### 【{TITLE}】第二小学：2 项材料待报送")
    assert "实施方案" in content and "自查表" in content and "还剩 1 天" in content
    assert {(r["unit"], r["channel"], r["state"]) for r in run.rows()} == {
        ("s2", "wecom-group", "sent"), ("s1", "file", "sent")}


def test_a_signed_webhook_can_be_verified_by_the_receiver(run, channels, http_server):
    secret = "whsec-ops-0123456789"

    def expected_signature(request) -> str:
        timestamp = request.headers["x-campaignflow-timestamp"]
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    http_server.responder = lambda request: ((204, b"") if request.headers.get("x-campaignflow-signature")
                                             == expected_signature(request) else (401, {"error": "bad signature"}))
    channels("channels:\n"
             f'  - {{name: ops, type: webhook, url: "{http_server.url("/campaignflow")}", secret: "${{WEBHOOK_SECRET}}",'
             f' units: [s1, s2]}}\n', WEBHOOK_SECRET=secret)
    run.tick("2023-04-10T08:00")
    run.tick("2023-04-19T09:30")

    assert len(http_server.requests) == 2  # one per recipient, each with both items
    for request in http_server.requests:
        assert request.headers["x-campaignflow-signature"] == expected_signature(request)  # verified here too
        assert abs(int(request.headers["x-campaignflow-timestamp"]) - time.time()) < 30
        assert request.json["campaign"] == KEY
        assert sorted(i["artifact"] for i in request.json["items"]) == ["checklist", "plan"]
        assert {i["kind"] for i in request.json["items"]} == {"before"}
        assert request.headers["x-campaignflow-message-id"] == request.json["message_id"]
    assert sorted(r.json["recipient"] for r in http_server.requests) == ["s1", "s2"]
    rows = run.rows()
    assert {(r["channel"], r["state"]) for r in rows} == {("ops", "sent")}
    assert {r["message"] for r in rows} == {r.json["message_id"] for r in http_server.requests}


# --- escalation


def test_the_parent_district_hears_of_a_child_two_working_days_overdue(run, channels, smtp_server):
    channels("channels:\n" + email_channel(smtp_server))
    run.tick("2023-04-10T08:00")
    run.tick("2023-04-21T09:30")  # first overdue digest to s1 and s2
    assert sorted(by_recipient(smtp_server)) == ["s1@example.cn", "s2@example.cn"]
    run.file("s2", "plan", "2023-04-21T10:00")
    run.file("s2", "checklist", "2023-04-21T10:00")
    run.tick("2023-04-22T10:00")  # Saturday
    # 2 working days after the due day 04-20: 04-21 and 04-23 (the make-up Sunday)
    r = run.tick("2023-04-23T09:30")
    assert r["reminders_sent"] == 2
    mails = by_recipient(smtp_server)
    assert sorted(mails) == ["d1@example.cn", "s1@example.cn", "s2@example.cn"]
    assert len(mails["s1@example.cn"]) == 1  # 04-23 is no overdue slot of s1's (04-21, 04-24)
    [mail] = mails["d1@example.cn"]
    assert mail["Subject"] == f"【{TITLE}】城关学区：2 项下属单位材料逾期督办"
    plain = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "督办" in plain
    assert "- 第一小学：实施方案（制定实施方案），截止 2023-04-20 23:59，已逾期 3 天" in plain
    assert "- 第一小学：自查表（填报自查表），截止 2023-04-20 23:59，已逾期 3 天" in plain
    assert "第二小学" not in plain  # s2 filed before the escalation day

    rows = run.cli("reminders", KEY, "--unit", "s1", "--json")
    assert all(ROW_KEYS <= set(row) for row in rows)
    escalations = [r for r in rows if r["kind"] == "escalation"]
    assert sorted((r["artifact"], r["recipient"], r["state"], r["channel"], r["planned_for"], r["sent_at"])
                  for r in escalations) == [
        ("checklist", "d1", "sent", "mail", "2023-04-23T09:00:00+08:00", "2023-04-23T09:30:00+08:00"),
        ("plan", "d1", "sent", "mail", "2023-04-23T09:00:00+08:00", "2023-04-23T09:30:00+08:00")]
    assert all(r["due"] == "2023-04-20T23:59:59+08:00" for r in escalations)
    assert [r for r in run.cli("reminders", KEY, "--unit", "s2", "--json") if r["kind"] == "escalation"] == []
    # a single escalation: later overdue digests go to the unit, not again to the district
    run.tick("2023-04-24T09:30")
    assert len(by_recipient(smtp_server)["d1@example.cn"]) == 1
    assert len(by_recipient(smtp_server)["s1@example.cn"]) == 2


# --- retries


def webhook_for_s1(channels, http_server, status: list[int]) -> None:
    http_server.responder = lambda request: (status[0], {"error": "unavailable"} if status[0] >= 400 else {})
    channels("channels:\n"
             f'  - {{name: ops, type: webhook, url: "{http_server.url("/campaignflow")}", secret: "${{WEBHOOK_SECRET}}",'
             f' units: [s1]}}\n', WEBHOOK_SECRET="whsec-retry-0001")


def test_a_503_is_retried_after_the_back_off(run, channels, http_server, monkeypatch):
    monkeypatch.setenv("CAMPAIGN_DELIVERY_BACKOFF_SECONDS", "600")
    status = [503]
    webhook_for_s1(channels, http_server, status)
    run.tick("2023-04-10T08:00")
    run.tick("2023-04-19T09:30")
    assert len(http_server.requests) == 1
    failed = run.rows(unit="s1")
    assert [(r["state"], r["attempts"], r["next_attempt_at"], r["sent_at"]) for r in failed] == [
        ("failed", 1, "2023-04-19T09:40:00+08:00", None)] * 2
    assert all("503" in r["error"] for r in failed)
    assert {r["state"] for r in run.rows(unit="s2")} == {"sent"}  # another recipient is not held up

    run.tick("2023-04-19T09:35")  # the back-off has not passed: no attempt
    assert len(http_server.requests) == 1
    status[0] = 200
    r = run.tick("2023-04-19T09:45")
    assert r["reminders_sent"] == 2
    assert len(http_server.requests) == 2  # one message for both rows
    assert [(x["state"], x["attempts"], x["sent_at"], x["next_attempt_at"]) for x in run.rows(unit="s1")] == [
        ("sent", 2, "2023-04-19T09:45:00+08:00", None)] * 2
    run.tick("2023-04-19T10:30")
    assert len(http_server.requests) == 2


def test_a_400_is_dead_at_once(run, channels, http_server, monkeypatch):
    monkeypatch.setenv("CAMPAIGN_DELIVERY_BACKOFF_SECONDS", "600")
    status = [400]
    webhook_for_s1(channels, http_server, status)
    run.tick("2023-04-10T08:00")
    run.tick("2023-04-19T09:30")
    dead = run.rows(unit="s1")
    assert [(r["state"], r["attempts"], r["next_attempt_at"]) for r in dead] == [("dead", 1, None)] * 2
    assert all("400" in r["error"] for r in dead)
    run.tick("2023-04-19T12:00")
    assert len(http_server.requests) == 1  # never retried
    status[0] = 200
    run.tick("2023-04-20T09:30")  # the next reminder (on-due) is not blocked by the dead one
    assert len(http_server.requests) == 2
    assert [(r["kind"], r["state"]) for r in run.rows(unit="s1")] == [("before", "dead")] * 2 + [("on_due", "sent")] * 2


def test_dead_after_the_last_attempt_and_listed_by_the_cli(run, channels, http_server, monkeypatch):
    monkeypatch.setenv("CAMPAIGN_DELIVERY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("CAMPAIGN_DELIVERY_BACKOFF_SECONDS", "600")
    webhook_for_s1(channels, http_server, [503])
    run.tick("2023-04-10T08:00")
    run.tick("2023-04-19T09:30")
    assert [(r["state"], r["attempts"], r["next_attempt_at"]) for r in run.rows(unit="s1")] == [
        ("failed", 1, "2023-04-19T09:40:00+08:00")] * 2
    run.tick("2023-04-19T09:40")
    failed = run.rows(unit="s1")
    assert [(r["state"], r["attempts"]) for r in failed] == [("failed", 2)] * 2
    assert failed[0]["next_attempt_at"] > "2023-04-19T09:40:00+08:00"  # backing off
    run.tick(failed[0]["next_attempt_at"][:16])
    assert len(http_server.requests) == 3
    run.tick("2023-04-19T17:00")
    assert len(http_server.requests) == 3  # dead: no fourth attempt

    dead = run.cli("reminders", KEY, "--state", "dead", "--json")
    assert len(dead) == 2 and all(ROW_KEYS <= set(row) for row in dead)
    assert sorted((r["unit"], r["artifact"], r["kind"], r["state"], r["attempts"], r["recipient"], r["channel"],
                   r["sent_at"]) for r in dead) == [
        ("s1", "checklist", "before", "dead", 3, "s1", "ops", None),
        ("s1", "plan", "before", "dead", 3, "s1", "ops", None)]
    assert all(r["due"] == "2023-04-20T23:59:59+08:00" and r["planned_for"] == "2023-04-19T09:00:00+08:00"
               for r in dead)
    assert run.cli("reminders", KEY, "--state", "dead", "--unit", "s2", "--json") == []
    assert {r["state"] for r in run.cli("reminders", KEY, "--unit", "s2", "--json")} == {"sent"}


# --- cancelled, send window, catch-up


def test_a_held_reminder_is_cancelled_when_the_unit_files(run, channels, smtp_server):
    channels("channels:\n" + email_channel(smtp_server))
    run.tick("2023-04-10T08:00")
    run.file("s2", "plan", "2023-04-12T10:00")
    run.file("s2", "checklist", "2023-04-12T10:00")
    r = run.tick("2023-04-19T20:00")  # after the send window: planned, held
    assert (r["reminders_planned"], r["reminders_sent"]) == (2, 0)
    r = run.tick("2023-04-20T07:00")  # before the window: still held
    assert (r["reminders_planned"], r["reminders_sent"]) == (0, 0)
    assert [(x["kind"], x["state"]) for x in run.rows(unit="s1")] == [("before", "planned")] * 2
    run.file("s1", "plan", "2023-04-20T08:00")
    run.file("s1", "checklist", "2023-04-20T08:10")
    r = run.tick("2023-04-20T09:30")
    assert (r["reminders_planned"], r["reminders_sent"]) == (0, 0)
    assert smtp_server.received == []
    assert [(x["kind"], x["state"], x["sent_at"], x["attempts"]) for x in run.rows(unit="s1")] == [
        ("before", "cancelled", None, 0)] * 2
    assert run.digests() == []
    run.tick("2023-04-21T09:30")
    assert smtp_server.received == [] and run.rows(state="planned") == []


def test_the_send_window_holds_evenings_weekends_and_holidays(run, channels, smtp_server):
    channels("channels:\n" + email_channel(smtp_server))
    run.tick("2023-04-10T08:00")
    held = [
        "2023-04-21T20:00",  # Friday evening, after send_until: the 04-21 overdue digest is planned and held
        "2023-04-22T10:00",  # Saturday
    ]
    for when in held:
        assert run.tick(when)["reminders_sent"] == 0, when
    assert smtp_server.received == []
    assert {(r["kind"], r["state"]) for r in run.rows()} == {("overdue", "planned")}

    r = run.tick("2023-04-23T09:30")  # Sunday, but a make-up working day (调休): it sends
    assert r["reminders_sent"] == 8  # 4 overdue rows (2 digests) and 4 escalation rows (1 digest to d1)
    assert sorted(by_recipient(smtp_server)) == ["d1@example.cn", "s1@example.cn", "s2@example.cn"]
    assert len(smtp_server.received) == 3

    for when in ["2023-04-29T10:00",   # Saturday, May Day holiday: the 04-28 digest is planned and held
                 "2023-04-30T10:00",   # Sunday (and holiday)
                 "2023-05-01T10:00",   # Monday, 劳动节
                 "2023-05-03T10:00",   # Wednesday, still the holiday
                 "2023-05-04T08:30"]:  # the first working day, before send_at
        assert run.tick(when)["reminders_sent"] == 0, when
    assert len(smtp_server.received) == 3
    r = run.tick("2023-05-04T09:30")  # the next working morning
    assert r["reminders_sent"] == 4 and len(smtp_server.received) == 5
    latest = [x for x in run.rows(unit="s1") if x["planned_for"].startswith("2023-04-28")]
    assert [(x["kind"], x["state"], x["sent_at"]) for x in latest] == [
        ("overdue", "sent", "2023-05-04T09:30:00+08:00")] * 2

    for when in ["2023-05-12T20:00",   # Friday evening: the 05-12 slot, held
                 "2023-05-13T10:00",   # Saturday
                 "2023-05-14T10:00"]:  # an ordinary Sunday
        assert run.tick(when)["reminders_sent"] == 0, when
    assert len(smtp_server.received) == 5
    assert run.tick("2023-05-15T09:30")["reminders_sent"] == 4  # Monday morning
    assert len(smtp_server.received) == 7
    for mail in smtp_server.messages:  # nothing dated outside a working day's window
        at = mail["Date"].datetime
        assert at.strftime("%m-%d %H:%M") in ("04-23 09:30", "05-04 09:30", "05-15 09:30")


def test_catch_up_after_a_week_without_ticks_sends_one_message(run, channels, smtp_server):
    channels("channels:\n" + email_channel(smtp_server))
    run.tick("2023-04-10T08:00")
    run.tick("2023-04-21T09:30")
    run.file("s2", "plan", "2023-04-21T10:00")
    run.file("s2", "checklist", "2023-04-21T10:00")
    assert len(smtp_server.received) == 2
    # no tick from 04-21 to 04-28: the slots 04-24 and 04-26 and the escalation of 04-23 were missed
    r = run.tick("2023-04-28T10:00")
    mails = by_recipient(smtp_server)
    assert len(mails["s1@example.cn"]) == 2  # the one of 04-21 and exactly one now
    assert len(mails["d1@example.cn"]) == 1  # the missed escalation, once
    assert len(mails["s2@example.cn"]) == 1  # filed: nothing more
    assert len(smtp_server.received) == 4
    latest = mails["s1@example.cn"][1]
    plain = latest.get_body(("plain",)).get_content()
    assert plain.count("[已逾期]") == 2 and "已逾期 8 天" in plain  # each item once, not once per missed day
    assert r["reminders_sent"] == 4  # 2 overdue rows for s1, 2 escalation rows for d1
    assert [(x["kind"], x["planned_for"][5:10], x["state"]) for x in run.rows(unit="s1") if x["recipient"] == "s1"
            and x["kind"] == "overdue"] == [("overdue", "04-21", "sent")] * 2 + [("overdue", "04-28", "sent")] * 2


def test_a_held_reminder_and_the_next_one_make_one_item(run):
    """The before-reminder held overnight and the on-due one of the next morning go out together: one
    message, and in it each obligation once (two reminders of one obligation on the same day are one)."""
    run.tick("2023-04-10T08:00")
    run.tick("2023-04-19T20:00")  # the 04-19 before-reminders, planned and held
    run.tick("2023-04-20T09:30")  # the on-due ones come due as well
    mine = [m for m in run.digests() if m["recipient"] == "s1"]
    assert len(mine) == 1
    assert sorted(i["artifact"] for i in mine[0]["items"]) == ["checklist", "plan"]
    assert mine[0]["subject"] == f"【{TITLE}】第一小学：2 项材料待报送"
    assert run.rows(state="planned") == [] and run.rows(state="failed") == []


# --- secrets


def test_secrets_never_reach_the_audit_log_even_when_delivery_fails(run, channels, http_server, monkeypatch):
    secrets = {"SMTP_PASSWORD": "wrong-Pa55word-7731", "DT_TOKEN": "dt-token-secret-4410",
               "DT_SECRET": "SECdingtalk-secret-5521", "WECOM_KEY": "wecom-key-secret-6632",
               "WH_TOKEN": "wh-token-secret-7743", "WH_SECRET": "whsec-secret-8854"}

    def echo(request):  # a peer that repeats the whole request line, tokens included, in its refusal
        seen = f"{request.path}?{'&'.join(f'{k}={v}' for k, v in request.query.items())}"
        if request.path == "/robot/send":
            return 200, {"errcode": 300001, "errmsg": f"token is not exist: {seen}"}
        if request.path == "/cgi-bin/webhook/send":
            return 200, {"errcode": 93000, "errmsg": f"invalid webhook url {seen}"}
        return 503, {"error": f"unavailable {seen}"}

    http_server.responder = echo
    monkeypatch.setenv("CAMPAIGN_DELIVERY_BACKOFF_SECONDS", "60")
    with LoopbackSMTP(users={"robot@example.cn": "the-right-password-0"}) as smtp:
        channels(
            "channels:\n"
            + email_channel(smtp, ', username: robot@example.cn, password: "${SMTP_PASSWORD}"')
            + f'  - {{name: county-group, type: dingtalk, url: "{http_server.url("/robot/send")}'
              f'?access_token=${{DT_TOKEN}}", secret: "${{DT_SECRET}}", units: [s1]}}\n'
            + f'  - {{name: wecom-group, type: wecom, url: "{http_server.url("/cgi-bin/webhook/send")}'
              f'?key=${{WECOM_KEY}}", units: [s2]}}\n'
            + f'  - {{name: ops, type: webhook, url: "{http_server.url("/hook")}?token=${{WH_TOKEN}}",'
              f' secret: "${{WH_SECRET}}", units: [s1, s2]}}\n',
            **secrets)
        run.tick("2023-04-10T08:00")
        run.tick("2023-04-19T09:30")
        run.tick("2023-04-19T09:31")  # the webhook's retry, failing again
        assert smtp.received == []
    assert len(http_server.requests) == 6  # dingtalk, wecom, webhook x2, then the two webhook retries
    states = {(r["channel"], r["state"]) for r in run.rows()}
    assert states == {("mail", "dead"), ("county-group", "dead"), ("wecom-group", "dead"), ("ops", "failed")}

    audit = run.audit_text()
    # the failures are on record (the errors of each delivery), the secrets are not
    assert "reminders.sent" in audit and "535" in audit and "300001" in audit and "93000" in audit and "503" in audit
    for name, secret in secrets.items():
        assert secret not in audit, name
    errors = " ".join(r["error"] or "" for r in run.rows())
    for name, secret in secrets.items():
        assert secret not in errors, name
    listed = json.dumps(run.cli("reminders", KEY, "--json"), ensure_ascii=False)
    for name, secret in secrets.items():
        assert secret not in listed, name
