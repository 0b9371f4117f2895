"""A reminder's link opens the page where that unit files that artifact (after login).

No mocks: the tick sends a real email to the SMTP server on loopback, with CAMPAIGN_PUBLIC_URL pointing at
the real app served by uvicorn on a free loopback port; the test takes the link out of the received message
and follows it with httpx, first without a session (to the login form), then logged in as the unit's user.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from flows.tick import tick_direct

from .conftest import local
from .loopback import LoopbackSMTP, free_port, smtp_server  # noqa: F401 (fixture)
from .web_support import Clock

PASSWORD = "a long school passphrase"


@pytest.fixture
def served(engine, tmp_path: Path) -> Iterator[str]:
    """The real app over the test's database, served by uvicorn on loopback; yields its address."""
    settings = Settings(tmp_path / "home", engine.url.render_as_string(hide_password=False))
    app = create_app(Services(settings, engine, clock=Clock(local("2023-03-02T10:30"))))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def tick(db_url: str, when: str, tmp_path: Path) -> dict:
    return tick_direct(db_url, "small-2023", Act(local(when), "tick", local(when)), str(tmp_path / "outbox.jsonl"))


def login(client: httpx.Client, login_url: str, name: str) -> httpx.Response:
    """Fill in the login form the redirect led to, as a browser would (its hidden fields included)."""
    form = client.get(login_url)
    assert form.status_code == 200
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.text))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    return client.post("/login", data={**fields, "name": name, "password": PASSWORD})


def selected(page: str, select_id: str) -> list[str]:
    body = re.search(rf'<select name="\w+" id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert body, select_id
    return re.findall(r'<option value="([^"]*)" selected>', body.group(1))


def test_reminder_link_opens_the_filing_form_of_that_unit_and_artifact(engine, db_url, small, served, tmp_path,
                                                                       monkeypatch, smtp_server: LoopbackSMTP):
    channels = tmp_path / "channels.yaml"
    channels.write_text(f"channels:\n  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, "
                        f'security: none, sender: "教育局 <robot@example.cn>"}}\n', encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CHANNELS", str(channels))
    monkeypatch.setenv("CAMPAIGN_PUBLIC_URL", served + "/")
    with engine.begin() as conn:
        add_user(conn, "head-s1", "unit", "s1", PASSWORD, Act(local("2023-02-01T09:00"), "admin", local("2023-02-01T09:00")))

    tick(db_url, "2023-02-14T08:00", tmp_path)
    r = tick(db_url, "2023-03-02T10:00", tmp_path)  # s1's plan is overdue since the end of 02-28
    assert r["reminders_sent"] >= 1 and r["deliveries"]["mail"]["kind"] == "email"
    [mail] = [m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "s1@example.cn"]
    plain = mail.get_body(("plain",)).get_content()
    html_part = mail.get_body(("html",)).get_content()
    links = re.findall(r"报送地址：(\S+)", plain)
    assert links == [f"{served}/c/small-2023/file?unit=s1&artifact=plan"]  # one item, one link, no double slash
    assert f'<a href="{html.escape(links[0])}">实施方案</a>' in html_part
    assert "campaign file" not in plain

    with httpx.Client(base_url=served, timeout=30) as client:
        anonymous = client.get(links[0])
        assert anonymous.status_code == 303
        login_url = anonymous.headers["location"]
        assert login_url.startswith("/login?next=")
        assert parse_qs(urlsplit(login_url).query)["next"] == ["/c/small-2023/file?unit=s1&artifact=plan"]

        back = login(client, login_url, "head-s1")
        assert back.status_code == 303 and back.headers["location"] == "/c/small-2023/file?unit=s1&artifact=plan"
        page = client.get(back.headers["location"])
        assert page.status_code == 200 and 'id="filing-form"' in page.text
        assert selected(page.text, "unit") == ["s1"] and selected(page.text, "artifact") == ["plan"]

        again = client.get(links[0])  # the link itself, now with the session
        assert again.status_code == 200 and selected(again.text, "artifact") == ["plan"]


def test_filing_form_preselects_the_artifact_and_step_it_is_asked_for(engine, db_url, small, served, tmp_path):
    with engine.begin() as conn:
        add_user(conn, "head-s1", "unit", "s1", PASSWORD, Act(local("2023-02-01T09:00"), "admin", local("2023-02-01T09:00")))
    tick(db_url, "2023-03-06T08:00", tmp_path)  # self-check running: s1 owes the plan (overdue) and the issue list
    with httpx.Client(base_url=served, timeout=30) as client:
        login(client, "/login?next=/", "head-s1")
        page = client.get("/c/small-2023/file", params={"unit": "s1", "artifact": "issue_list"})
        assert page.status_code == 200 and selected(page.text, "artifact") == ["issue_list"]
        plain = client.get("/c/small-2023/file", params={"unit": "s1"})
        assert selected(plain.text, "artifact") == []  # nothing asked for: the browser shows the first
        unknown = client.get("/c/small-2023/file", params={"unit": "s1", "artifact": "no-such-thing"})
        assert unknown.status_code == 200 and selected(unknown.text, "artifact") == []


def test_ledger_item_reminder_links_to_the_units_ledger_at_the_item(engine, db_url, small, served, tmp_path,
                                                                    monkeypatch, smtp_server: LoopbackSMTP):
    import datetime as dt

    from campaign_model.store.ledger import record_finding

    channels = tmp_path / "channels.yaml"
    channels.write_text(f"channels:\n  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, "
                        f'security: none, sender: "教育局 <robot@example.cn>"}}\n', encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CHANNELS", str(channels))
    monkeypatch.setenv("CAMPAIGN_PUBLIC_URL", served)
    found = Act(local("2023-02-20T10:00"), "督导组", local("2023-02-20T10:00"))
    with engine.begin() as conn:
        add_user(conn, "head-s1", "unit", "s1", PASSWORD, found)
        item = record_finding(conn, "small-2023", "s1", "会风不正", dt.date(2023, 2, 27), found)["id"]
    tick(db_url, "2023-03-02T10:00", tmp_path)  # the finding's deadline (02-27) has passed
    [mail] = [m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "s1@example.cn"]
    plain = mail.get_body(("plain",)).get_content()
    [link] = re.findall(r"台账地址：(\S+)", plain)
    assert link == f"{served}/c/small-2023/ledger?unit=s1#item-{item}"
    with httpx.Client(base_url=served, timeout=30) as client:
        anonymous = client.get(link)
        assert anonymous.status_code == 303
        back = login(client, anonymous.headers["location"], "head-s1")
        assert back.headers["location"] == "/c/small-2023/ledger?unit=s1"  # the fragment stays with the browser
        page = client.get(back.headers["location"])
        assert page.status_code == 200 and f'id="item-{item}"' in page.text and "会风不正" in page.text
        assert re.search(r'<option value="s1" selected>', page.text)  # the ledger filtered to the unit


def test_every_part_of_a_reminder_link_is_quoted_and_an_escalation_opens_the_late_units_form():
    from notifications.render import item_link

    assert item_link("https://dc.example.cn/cf/", "作风 2027", "学校 1&x", "问题/清单") == (
        "https://dc.example.cn/cf/c/%E4%BD%9C%E9%A3%8E%202027/file?"
        "unit=%E5%AD%A6%E6%A0%A1+1%26x&artifact=%E9%97%AE%E9%A2%98%2F%E6%B8%85%E5%8D%95")
    assert item_link(None, "k", "s1", "plan") is None

    # an escalation goes to the supervisor (d1), its link to the late unit's (s2) filing form for that artifact
    from types import SimpleNamespace

    from notifications.render import render

    from .conftest import TZ

    due = local("2023-02-28T23:59:59")
    row = SimpleNamespace(id=7, unit="s2", unit_name="第二小学", artifact="plan", step_title="制定实施方案",
                          kind="escalation", due_at=due, item_id=None, problem=None)
    message = render("small-2023", "活动", "d1", "城关学区", [], [row], local("2023-03-06T09:30"), TZ,
                     titles={"plan": "实施方案"}, base_url="http://cf.example.cn")
    assert "查看地址：http://cf.example.cn/c/small-2023/file?unit=s2&artifact=plan" in message.text
