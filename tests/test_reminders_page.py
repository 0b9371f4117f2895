"""The reminders page (催办记录) through HTTP as a browser uses it, on SQLite and PostgreSQL: the outbox with
every state, "send again" for a dead reminder delivered to a real SMTP server on loopback, the refusals,
the channels with their secrets masked, and a test message through a channel.

The outbox is made by real ticks while nothing listens on the email channel's loopback port: two attempts
each, so a reminder fails, then is dead; the real SMTP server is up on that port for each test. By the server's "now" (2023-04-20 10:00):

    dead       s1, s2, s4: the "before" reminders of plan and checklist (2023-04-19)
    sent       s3 (no email address): written to the outbox file, before and on the due day
    failed     s1 plan + checklist, s4 checklist: the due-day reminders, next attempt 09:40
    cancelled  s4 plan: filed at 09:32, its failing reminder cancelled
    planned    s4 checklist: "remind now" at 09:50, not yet sent
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from campaign_app.settings import Settings
from campaign_app.usecases import reminders as reminders_uc
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.specfile import load_spec_text
from campaign_model.store import outbox
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.db import open_engine
from campaign_model.store.filings import file_artifact
from campaign_model.store.tables import audit_events, obligations, units
from flows.tick import tick_direct
from notifications.setup import router_from_env

from .conftest import local
from .loopback import LoopbackSMTP, free_port
from .served import campaign_serve, cli
from .test_pages import csrf_of, elements, has_id

KEY = "remind-2023"
PASSWORD = "qingfeng-2024"
NOW = local("2023-04-20T10:00")
USERS = {"admin": ("admin", None), "sup": ("supervisor", None), "viewer": ("viewer", None), "s1user": ("unit", "s1")}
# the secrets of the channels file: none of them may ever reach a page
SMTP_PASSWORD = "smtp-Pa55-word-7731"
DINGTALK_TOKEN = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
DINGTALK_SECRET = "SEC0123456789abcdef0123456789"
WEBHOOK_SECRET = "whsec-reminders-page-0001"
HOOK_PATH_TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SECRETS = (SMTP_PASSWORD, DINGTALK_TOKEN, DINGTALK_SECRET, WEBHOOK_SECRET, HOOK_PATH_TOKEN)

SPEC = f"""\
version: 1
key: {KEY}
title: 2023年作风建设专项整治
calendar: cn
organizer: bureau
units:
  - {{key: bureau, name: 县教育局}}
  - {{key: d1, name: 城关学区, parent: bureau, contacts: [{{name: 王主任, email: d1@example.cn}}]}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校], contacts: [{{name: 张校长, email: s1@example.cn}}]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校], contacts: [{{name: 李校长, email: s2@example.cn}}]}}
  - {{key: s3, name: 第三小学, parent: d1, tags: [学校], contacts: [{{name: 赵校长}}]}}
  - {{key: s4, name: 第四小学, parent: d1, tags: [学校], contacts: [{{name: 钱校长, email: s4@example.cn}}]}}
artifacts:
  plan: {{title: 实施方案, title_en: Implementation plan}}
  checklist: {{title: 自查表, title_en: Self-check form}}
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


def channels_yaml(smtp_port: int) -> str:
    # only `mail` takes reminders: the robot and the webhook are routed to no unit, listed for their secrets
    return ("channels:\n"
            f'  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp_port}, security: none, username: robot,'
            f' password: "${{SMTP_PASSWORD}}", sender: "县教育局 <robot@example.cn>", timeout: 5}}\n'
            '  - {name: county-group, type: dingtalk, url: "http://127.0.0.1:9/robot/send?access_token=${DINGTALK_TOKEN}",'
            ' secret: "${DINGTALK_SECRET}", units: [nobody], timeout: 5}\n'
            '  - {name: ops, type: webhook, url: "http://127.0.0.1:9/hook/${HOOK_PATH_TOKEN}/in",'
            ' secret: "${WEBHOOK_SECRET}", units: [nobody], timeout: 5}\n')


def act(when: str, actor: str = "tick") -> Act:
    return Act(local(when), actor, local(when))


@dataclass
class Site:
    app: Any
    engine: Any
    url: str
    home: Path
    smtp: LoopbackSMTP

    def login(self, name: str) -> TestClient:
        client = TestClient(self.app)
        form = client.get("/login")
        answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)},
                             follow_redirects=False)
        assert answer.status_code == 303, answer.text
        return client

    def rows(self, **filters: Any) -> dict[int, Any]:
        with self.engine.connect() as conn:
            return {r.id: r for r in outbox.listing(conn, load_ctx(conn, KEY).id, **filters)}

    def row_of(self, unit: str, artifact: str, kind: str) -> Any:
        [row] = [r for r in self.rows(unit=unit).values() if r.artifact == artifact and r.kind == kind]
        return row

    def events(self, action: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(audit_events).where(audit_events.c.action == action)).mappings())


def delivery_env(mp: pytest.MonkeyPatch, folder: Path, smtp_port: int) -> None:
    """The channels file and the secrets in the environment, the email channel on `smtp_port`."""
    path = folder / "channels.yaml"
    path.write_text(channels_yaml(smtp_port), encoding="utf-8")
    for name, value in {"CAMPAIGN_CHANNELS": str(path), "CAMPAIGN_DELIVERY_MAX_ATTEMPTS": "2",
                        "CAMPAIGN_DELIVERY_BACKOFF_SECONDS": "600", "SMTP_PASSWORD": SMTP_PASSWORD,
                        "DINGTALK_TOKEN": DINGTALK_TOKEN, "DINGTALK_SECRET": DINGTALK_SECRET,
                        "WEBHOOK_SECRET": WEBHOOK_SECRET, "HOOK_PATH_TOKEN": HOOK_PATH_TOKEN}.items():
        mp.setenv(name, value)
    mp.delenv("CAMPAIGN_PUBLIC_URL", raising=False)


def build_outbox(engine: Any, db_url: str, folder: Path) -> None:
    """The campaign, its accounts, and the ticks and filings that leave the outbox as the docstring says."""
    outbox_file = str(folder / "outbox.jsonl")
    blobs = BlobStore(folder / "files")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "remind.yaml"), act("2023-04-01T09:00", "admin"))
        for name, (role, unit) in USERS.items():
            add_user(conn, name, role, unit, PASSWORD, act("2023-04-01T09:00", "admin"))

    def file(unit: str, artifact: str, when: str) -> None:
        scan = folder / f"{unit}-{artifact}.pdf"
        scan.write_bytes(f"%PDF-1.4 {unit} {artifact}".encode())
        with engine.begin() as conn:
            file_artifact(conn, blobs, KEY, unit, artifact, act(when, unit), files=[scan])

    for when in ("2023-04-10T08:00", "2023-04-19T09:30", "2023-04-19T09:40"):
        tick_direct(db_url, KEY, act(when), outbox_file)
    file("s2", "plan", "2023-04-19T10:00")
    file("s2", "checklist", "2023-04-19T10:00")
    tick_direct(db_url, KEY, act("2023-04-20T09:30"), outbox_file)
    file("s4", "plan", "2023-04-20T09:32")
    tick_direct(db_url, KEY, act("2023-04-20T09:35"), outbox_file)
    with engine.begin() as conn:
        ctx = load_ctx(conn, KEY)
        [s4_checklist] = conn.execute(select(obligations.c.id).join(units, units.c.id == obligations.c.unit_id).where(
            obligations.c.campaign_id == ctx.id, units.c.key == "s4", obligations.c.artifact == "checklist")).scalars()
        outbox.remind_now(conn, ctx, [s4_checklist], act("2023-04-20T09:50", "admin"), router_from_env())


def open_site(engine: Any, db_url: str, folder: Path, smtp: LoopbackSMTP) -> Site:
    def send_now(key: str) -> None:  # what `serve` wires: "send again" asks for the campaign's tick
        tick_direct(db_url, key, Act(NOW, "tick", NOW), str(folder / "outbox.jsonl"))

    services = Services(Settings(folder, db_url), engine, clock=lambda: NOW, on_remind=send_now)
    return Site(create_app(services), engine, db_url, folder, smtp)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The outbox built once on SQLite (accounts and six ticks take a while) with nothing listening on the
    email channel's port; each test gets a copy."""
    folder = tmp_path_factory.mktemp("reminders")
    engine = open_engine(f"sqlite:///{folder / 'campaign.db'}")
    with pytest.MonkeyPatch.context() as mp:
        delivery_env(mp, folder, free_port())
        build_outbox(engine, f"sqlite:///{folder / 'campaign.db'}", folder)
    engine.dispose()
    return folder / "campaign.db"


@pytest.fixture
def site(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The site on a copy of the prepared SQLite database; the email channel's SMTP server is up now."""
    with closing(sqlite3.connect(prepared)) as source, closing(sqlite3.connect(tmp_path / "campaign.db")) as copy:
        source.backup(copy)
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    engine = open_engine(url)
    smtp = LoopbackSMTP(users={"robot": SMTP_PASSWORD})
    delivery_env(monkeypatch, tmp_path, smtp.port)
    with smtp:
        yield open_site(engine, url, tmp_path, smtp)
    engine.dispose()


@pytest.fixture
def any_site(engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The site built from scratch on SQLite and on PostgreSQL (the outbox's SQL runs on both): the ticks find
    the SMTP server's port closed (it is chosen, not yet listening); the server is up for the test."""
    smtp = LoopbackSMTP(users={"robot": SMTP_PASSWORD})
    delivery_env(monkeypatch, tmp_path, smtp.port)
    build_outbox(engine, db_url, tmp_path)
    with smtp:
        yield open_site(engine, db_url, tmp_path, smtp)


def states_shown(html: str) -> dict[int, str]:
    return {int(tr["data-outbox"]): tr["data-state"] for tr in elements(html, tag="tr") if "data-outbox" in tr}


def counts_shown(html: str) -> dict[str, int]:
    found = re.findall(r'<dd data-state="(\w+)">(\d+)</dd>', html)
    return {state: int(n) for state, n in found}


# --- the listing


def test_the_outbox_shows_every_state_with_its_counts(any_site):
    site = any_site
    page = site.login("sup").get(f"/c/{KEY}/reminders")

    assert page.status_code == 200 and has_id(page.text, "outbox")
    assert counts_shown(page.text) == {"planned": 1, "sent": 4, "failed": 3, "dead": 6, "cancelled": 1}
    stored = site.rows()
    assert states_shown(page.text) == {i: r.state for i, r in stored.items()}
    for word in ("计划", "已发送", "失败", "放弃", "已取消", "到期前提醒", "到期当日提醒", "立即催办"):
        assert word in page.text
    assert has_id(page.text, "nav-reminders")
    # a failed one: its error and its next attempt; a dead one: its error and the button to send it again
    failed = site.row_of("s1", "plan", "on_due")
    row = _row_html(page.text, failed.id)
    assert "连接失败" in row and "2023-04-20 09:40" in row and "resend-" not in row
    dead = site.row_of("s1", "plan", "before")
    row = _row_html(page.text, dead.id)
    assert "第一小学" in row and "实施方案" in row and "重新发送" in row and f'id="resend-{dead.id}"' in row
    assert len(elements(page.text, tag="form", class_="resend-form")) == 6  # one for each dead reminder, no other
    s3 = site.row_of("s3", "plan", "before")
    # a unit no channel takes: written to the outbox file, and the page does not call that sent to anyone
    row = _row_html(page.text, s3.id)
    assert "发件箱文件（未实际发出）" in row and "写入于 2023-04-19 09:30" in row and "发送于" not in row


def test_the_page_reads_in_english(site):
    page = site.login("admin").get(f"/c/{KEY}/reminders", params={"lang": "en"}).text
    assert "Reminders" in page and "dead" in page and "Send again" in page and "Implementation plan" in page
    assert "due-day reminder" in page and "重新发送" not in page


def test_filters_by_state_and_unit_and_pages_in_sql(site):
    admin = site.login("admin")
    page = admin.get(f"/c/{KEY}/reminders", params={"state": "dead", "unit": "s1"}).text
    assert set(states_shown(page).values()) == {"dead"} and len(states_shown(page)) == 2
    assert {tr["data-unit"] for tr in elements(page, tag="tr") if "data-outbox" in tr} == {"s1"}
    assert counts_shown(page) == {"planned": 0, "sent": 0, "failed": 2, "dead": 2, "cancelled": 0}  # of s1
    by_name = admin.get(f"/c/{KEY}/reminders", params={"unit": "第四小学"}).text  # a unit by its name, too
    assert len(states_shown(by_name)) == 5
    assert has_id(admin.get(f"/c/{KEY}/reminders", params={"page": 2}).text, "no-reminders")

    svc = site.app.state.services
    first = reminders_uc.outbox_page(svc, KEY, page=1, size=4)
    last = reminders_uc.outbox_page(svc, KEY, page=4, size=4)
    assert (first["total"], first["pages"], len(first["rows"]), len(last["rows"])) == (15, 4, 4, 3)
    ids = [r["id"] for p in range(1, 5) for r in reminders_uc.outbox_page(svc, KEY, page=p, size=4)["rows"]]
    assert sorted(ids) == sorted(site.rows()) and len(set(ids)) == 15  # newest first, each once


@pytest.mark.parametrize("params, field", [({"state": "lost"}, "state"), ({"page": "0"}, "page"),
                                           ({"page": "99999999999999999999"}, "page")])
def test_a_bad_filter_is_a_clear_message_not_a_crash(site, params, field):
    answer = site.login("admin").get(f"/c/{KEY}/reminders", params=params)
    assert answer.status_code == 422 and field in answer.text and "Traceback" not in answer.text


@pytest.mark.parametrize("user", ["viewer", "s1user"])
def test_only_admins_and_supervisors_see_the_reminders(site, user):
    client = site.login(user)
    assert client.get(f"/c/{KEY}/reminders").status_code == 403
    assert not has_id(client.get(f"/c/{KEY}/matrix").text, "nav-reminders")
    dead = site.row_of("s1", "plan", "before")
    page = site.login("admin").get(f"/c/{KEY}/reminders").text
    assert client.post(f"/c/{KEY}/reminders/{dead.id}/resend", data={"csrf": csrf_of(page)}).status_code == 403
    assert site.rows()[dead.id].state == "dead"


def test_a_reminder_of_a_ledger_item_names_the_item_and_links_to_it(site):
    from campaign_model.store.ledger import record_finding

    with site.engine.begin() as conn:
        item = record_finding(conn, KEY, "s1", "值班制度落实不到位", local("2023-04-20T00:00").date(),
                              act("2023-04-18T15:00", "sup"))["id"]
    tick_direct(site.url, KEY, Act(NOW, "tick", NOW), str(site.home / "outbox.jsonl"))

    page = site.login("sup").get(f"/c/{KEY}/reminders", params={"unit": "s1", "state": "sent"}).text
    [row] = [r for r in site.rows(unit="s1").values() if r.item_id == item]
    assert row.state == "sent"  # the SMTP server is up: the item's due-day reminder went out
    shown = _row_html(page, row.id)
    assert "整改台账" in shown and "值班制度落实不到位" in shown and f'href="/c/{KEY}/ledger/{item}"' in shown


# --- send again


def test_send_again_delivers_a_dead_reminder_to_the_smtp_server(any_site):
    site = any_site
    sup = site.login("sup")
    page = sup.get(f"/c/{KEY}/reminders").text
    dead = site.row_of("s1", "plan", "before")

    answer = sup.post(f"/c/{KEY}/reminders/{dead.id}/resend", data={"csrf": csrf_of(page)}, follow_redirects=False)

    assert answer.status_code == 303 and f"resent={dead.id}" in answer.headers["location"]
    # the send ran after the answer (a background task): the row is sent, counted as its first attempt again
    row = site.rows()[dead.id]
    assert (row.state, row.attempts, row.last_error, row.sent_at) == ("sent", 1, None, NOW)
    to_s1 = [m for m in site.smtp.messages if "s1@example.cn" in m["To"]]
    assert len(to_s1) == 1 and "实施方案" in to_s1[0].get_body(("plain",)).get_content()
    assert site.smtp.received[0].login == "robot"
    [event] = site.events("reminders.resent")
    assert (event["actor"], event["subject"], event["before"]["state"], event["after"]["state"]) == (
        "sup", f"outbox:{dead.id}", "dead", "planned")
    shown = sup.get(answer.headers["location"]).text
    assert has_id(shown, "resend-result") and f"催办 #{dead.id} 已重新安排" in shown
    assert states_shown(shown)[dead.id] == "sent"
    # the other dead reminders stay dead: nothing but the one chosen was sent again
    assert site.row_of("s1", "checklist", "before").state == "dead"


@pytest.mark.parametrize("which", ["sent", "failed", "planned", "cancelled"])
def test_send_again_refuses_anything_not_dead(site, which):
    target = next(r for r in site.rows().values() if r.state == which)
    admin = site.login("admin")
    page = admin.get(f"/c/{KEY}/reminders").text

    answer = admin.post(f"/c/{KEY}/reminders/{target.id}/resend", data={"csrf": csrf_of(page)})

    assert answer.status_code == 409 and has_id(answer.text, "resend-error")
    assert "只有已放弃 (dead) 的催办才能重新发送" in answer.text
    after = site.rows()[target.id]
    assert (after.state, after.attempts, after.planned_for) == (target.state, target.attempts, target.planned_for)
    assert site.events("reminders.resent") == []


def test_send_again_refuses_a_dead_reminder_of_an_obligation_filed_since(site):
    dead = site.row_of("s2", "plan", "before")  # s2 filed its plan after the reminder died
    admin = site.login("admin")
    page = admin.get(f"/c/{KEY}/reminders").text
    answer = admin.post(f"/c/{KEY}/reminders/{dead.id}/resend", data={"csrf": csrf_of(page)})
    assert answer.status_code == 409 and "已办结" in answer.text
    assert site.rows()[dead.id].state == "dead" and site.events("reminders.resent") == []


def test_send_again_needs_the_csrf_token_and_a_reminder_of_this_campaign(site):
    admin = site.login("admin")
    page = admin.get(f"/c/{KEY}/reminders").text
    dead = site.row_of("s1", "plan", "before")
    assert admin.post(f"/c/{KEY}/reminders/{dead.id}/resend", data={}).status_code == 403
    assert admin.post(f"/c/{KEY}/reminders/999999/resend", data={"csrf": csrf_of(page)}).status_code == 404
    assert admin.post(f"/c/{KEY}/reminders/0/resend", data={"csrf": csrf_of(page)}).status_code == 422
    assert admin.post(f"/c/{KEY}/reminders/{2**63}/resend", data={"csrf": csrf_of(page)}).status_code == 422
    assert site.rows()[dead.id].state == "dead" and site.events("reminders.resent") == []


# --- channels


def test_the_channels_are_listed_and_no_secret_reaches_the_page(site):
    admin = site.login("admin")
    pages = [admin.get(f"/c/{KEY}/reminders").text, admin.get(f"/c/{KEY}/reminders", params={"lang": "en"}).text,
             site.login("sup").get(f"/c/{KEY}/reminders").text]
    for page in pages:
        assert {tr["data-channel"] for tr in elements(page, tag="tr") if "data-channel" in tr} == {
            "mail", "county-group", "ops"}
        assert "***" in page and "127.0.0.1:9/robot/send?***" in page and "127.0.0.1:9/hook/***/in" in page
        for secret in SECRETS:
            assert secret not in page
    # a robot whose peer is down: the error in words, the token and the signing secret still masked
    answer = admin.post(f"/c/{KEY}/reminders/channels/test", data={"channel": "county-group", "csrf": csrf_of(pages[0])})
    assert answer.status_code == 200 and has_id(answer.text, "channel-result")
    assert "连接失败 (connection failed" in answer.text and elements(answer.text, id="channel-result", class_="flash error")
    for secret in SECRETS:
        assert secret not in answer.text
    [event] = site.events("channel.tested")
    assert event["after"]["ok"] is False and all(s not in str(event["after"]) for s in SECRETS)


def test_a_test_message_through_the_email_channel_arrives(site):
    admin = site.login("admin")
    page = admin.get(f"/c/{KEY}/reminders").text

    answer = admin.post(f"/c/{KEY}/reminders/channels/test",
                        data={"channel": "mail", "to": "office@example.cn", "csrf": csrf_of(page)})

    assert answer.status_code == 200 and "测试消息已通过渠道“mail”发出" in answer.text
    [mail] = site.smtp.messages
    assert mail["To"] == "office@example.cn" and "测试" in mail["Subject"]
    assert "催办渠道“mail”可以送达" in mail.get_body(("plain",)).get_content()
    [event] = site.events("channel.tested")
    assert (event["actor"], event["subject"], event["after"]["ok"], event["after"]["to"]) == (
        "admin", "channel:mail", True, "office@example.cn")
    assert site.rows(state="dead")  # a test message touches no reminder


def test_a_test_message_is_refused_without_an_address_or_a_known_channel_or_the_admin_right(site):
    admin = site.login("admin")
    page = admin.get(f"/c/{KEY}/reminders").text
    no_to = admin.post(f"/c/{KEY}/reminders/channels/test", data={"channel": "mail", "to": "", "csrf": csrf_of(page)})
    assert no_to.status_code == 422 and "to: 请填写一个收件邮箱地址" in no_to.text
    injected = admin.post(f"/c/{KEY}/reminders/channels/test",
                          data={"channel": "mail", "to": "a@example.cn, b@example.cn", "csrf": csrf_of(page)})
    assert injected.status_code == 422
    unknown = admin.post(f"/c/{KEY}/reminders/channels/test", data={"channel": "fax", "csrf": csrf_of(page)})
    assert unknown.status_code == 404 and "没有名为 &#39;fax&#39; 的渠道" in unknown.text
    assert admin.post(f"/c/{KEY}/reminders/channels/test", data={"channel": "mail", "to": "x@example.cn"}).status_code == 403

    sup = site.login("sup")
    sup_page = sup.get(f"/c/{KEY}/reminders").text
    assert not elements(sup_page, tag="form", class_="channel-test-form")  # listed, but no button
    answer = sup.post(f"/c/{KEY}/reminders/channels/test",
                      data={"channel": "mail", "to": "x@example.cn", "csrf": csrf_of(sup_page)})
    assert answer.status_code == 403
    assert site.smtp.messages == [] and site.events("channel.tested") == []


def _row_html(html: str, outbox_id: int) -> str:
    start = html.index(f'<tr id="outbox-{outbox_id}"')
    return html[start:html.index("</tr>", start)]


# --- in a real browser against `campaign serve`


BROWSER_KEY = "resend-browser"
SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")) / "screenshots"


def browser_spec(today: dt.date) -> str:
    """A campaign whose plan was due yesterday: today's overdue reminder is due now (all days are working
    days and the send window is the whole day, so the real clock always finds it open)."""
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    return f"""\
version: 1
key: {BROWSER_KEY}
title: 作风整顿（催办浏览器测试）
calendar: all-days
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
  - {{key: d1, name: 城关学区, parent: bureau}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校], contacts: [{{name: 张校长, email: s1@example.cn}}]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校], contacts: [{{name: 李校长, email: s2@example.cn}}]}}
artifacts:
  plan: {{title: 实施方案}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: {d(-10)}
    end: {d(20)}
    steps:
      - key: plan
        title: 制定实施方案
        due: {d(-1)}
        requires:
          - {{artifact: plan, from: "tag:学校"}}
reminders:
  overdue_every: "1 workday"
  send_at: "00:00"
  send_until: "23:59"
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LoopbackSMTP, str]]:
    """`campaign serve` over a campaign whose two reminders are dead: the tick tried once (one attempt
    allowed) while the SMTP server's port was closed; the server is started before `serve`."""
    home = tmp_path_factory.mktemp("resend-home")
    smtp = LoopbackSMTP()
    channels = home / "channels.yaml"
    channels.write_text("channels:\n"
                        f'  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp.port}, security: none,'
                        ' sender: "县教育局 <robot@example.cn>", timeout: 5}\n', encoding="utf-8")
    db = f"sqlite:///{home / 'campaign.db'}"
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": db, "CAMPAIGN_CHANNELS": str(channels),
           "CAMPAIGN_DELIVERY_MAX_ATTEMPTS": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env.pop("CAMPAIGN_PUBLIC_URL", None)
    spec = home / "spec.yaml"
    spec.write_text(browser_spec(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()), encoding="utf-8")
    cli(env, "create", str(spec))
    cli(env, "user", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    cli(env, "tick", BROWSER_KEY)
    dead = json.loads(cli(env, "reminders", BROWSER_KEY, "--state", "dead", "--json"))
    assert sorted(r["unit"] for r in dead) == ["s1", "s2"], dead
    smtp.start()
    # the first page a fresh server renders compiles its templates: on a busy machine, long
    with campaign_serve(env, ready="/login") as address:
        yield address, smtp, db
        smtp.stop()


def _mail_to(smtp: LoopbackSMTP, address: str, within: float = 90.0) -> list[Any]:
    """The messages the loopback server received for `address`, waiting for the first (the tick that sends
    it runs in the serving process after the redirect)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = [m for m in smtp.messages if address in str(m["To"])]
        if found:
            return found
        time.sleep(0.2)
    return []


@pytest.mark.parametrize("width, unit", [(1280, "s1"), (390, "s2")])
def test_a_dead_reminder_is_sent_again_from_the_browser(served, width, unit):
    from playwright.sync_api import expect, sync_playwright

    address, smtp, _db = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_default_timeout(120_000)  # the machine may be busy: waiting is for events, not for time
            expect.set_options(timeout=120_000)
            page.goto(f"{address}/login")
            page.fill("#name", "admin")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            expect(page.locator("#current-user")).to_be_visible()
            page.goto(f"{address}/c/{BROWSER_KEY}")
            page.click("#nav-reminders")
            expect(page.locator("#outbox")).to_be_visible()
            row = page.locator(f'tr[data-unit="{unit}"]')
            expect(row).to_have_attribute("data-state", "dead")
            expect(row).to_contain_text("放弃")
            # the page is no wider than the screen: a phone scrolls nothing sideways
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"reminders-dead-{width}.png"), full_page=True)

            row.get_by_role("button", name=re.compile("重新发送")).click()

            expect(page.locator("#resend-result")).to_contain_text("已重新安排")
            mails = _mail_to(smtp, f"{unit}@example.cn")
            assert len(mails) == 1 and "实施方案" in mails[0].get_body(("plain",)).get_content()
            deadline = time.monotonic() + 30  # the row is marked sent just after the message went out
            while time.monotonic() < deadline and page.locator(f'tr[data-unit="{unit}"][data-state="sent"]').count() == 0:
                time.sleep(0.3)
                page.reload()
            expect(page.locator(f'tr[data-unit="{unit}"]')).to_have_attribute("data-state", "sent")
            expect(page.locator(f'tr[data-unit="{unit}"]')).to_contain_text("已发送")
            page.screenshot(path=str(SHOTS / f"reminders-sent-{width}.png"), full_page=True)
        finally:
            browser.close()
