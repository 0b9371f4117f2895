"""The 变更与延期 page (/c/{key}/changes): the version history, and the 延期 form an administrator uses.

Through HTTP (TestClient, the server's clock at 2023-03-10 10:00) for the refusals and the field errors; in
Debian's Chromium against a real `campaign serve` (a campaign dated around today, since it reads the real
clock) for the administrator extending one school's deadline, with screenshots at 390 and 1280 px.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import select

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.tables import obligations, units
from flows.tick import tick_direct

from .conftest import SMALL_SPEC, local
from .served import campaign_serve
from .web_support import HTTPX_WARNING, client_for

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)
ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
PASSWORD = "changes-test-passw0rd"
NOW = local("2023-03-10T10:00")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _act(at: dt.datetime, actor: str = "局办公室") -> Act:
    return Act(at, actor, at)


def _due(engine, key: str, unit: str, artifact: str = "plan") -> dt.datetime:
    with engine.connect() as conn:
        return conn.execute(select(obligations.c.due_at).join(units, units.c.id == obligations.c.unit_id)
                            .where(units.c.campaign_id == obligations.c.campaign_id, units.c.key == unit,
                                   obligations.c.artifact == artifact)).scalar_one()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("changes-page")
    url = f"sqlite:///{home / 'campaign.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"), _act(local("2023-02-01T09:00")))
        for name, role in (("admin", "admin"), ("sup", "supervisor")):
            add_user(conn, name, role, None, PASSWORD, _act(local("2023-02-01T09:00")))
    tick_direct(url, "small-2023", _act(NOW, "tick"), str(home / "outbox.jsonl"))
    yield create_app(Services(Settings(home, url), engine, clock=lambda: NOW)), engine
    engine.dispose()


def _login(app, name: str):
    client = client_for(app)
    form = client.get("/login").text
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": CSRF.search(form).group(1)},
                         follow_redirects=False)
    assert answer.status_code == 303
    return client


def test_a_supervisor_reads_the_history_but_may_not_extend(site):
    app, engine = site
    sup = _login(app, "sup")
    page = sup.get("/c/small-2023/changes")
    assert page.status_code == 200 and 'id="versions"' in page.text and 'id="extend-form"' not in page.text
    before = _due(engine, "small-2023", "s1")
    refused = sup.post("/c/small-2023/changes/extend", data={
        "csrf": CSRF.search(page.text).group(1), "step": "plan", "scope": "all", "date": "2023-03-20", "reason": "x"})
    assert refused.status_code == 403 and _due(engine, "small-2023", "s1") == before
    spec = sup.get("/c/small-2023/changes/1/spec.yaml")
    assert spec.status_code == 200 and spec.text == SMALL_SPEC and "attachment" in spec.headers["content-disposition"]
    assert sup.get("/c/small-2023/changes/9/spec.yaml").status_code == 404
    assert 'id="change-timeline"' not in page.text


def test_the_form_names_the_field_at_fault_and_changes_nothing(site):
    app, engine = site
    admin = _login(app, "admin")
    page = admin.get("/c/small-2023/changes?step=plan&unit=s2").text
    assert 'id="unit-s2" checked' in page and 'value="plan" selected' in page  # pre-filled from a matrix cell
    assert 'id="change-timeline"' in page and 'href="/c/small-2023/changes/1/spec.yaml"' in page
    csrf = CSRF.search(page).group(1)
    before = _due(engine, "small-2023", "s2")
    no_reason = admin.post("/c/small-2023/changes/extend", data={
        "csrf": csrf, "step": "plan", "scope": "chosen", "units": ["s2"], "date": "2023-03-20", "reason": ""})
    assert no_reason.status_code == 422 and 'data-field="reason"' in no_reason.text
    assert 'id="extend-reason" rows="2" maxlength="2000" required aria-invalid="true"' in no_reason.text
    past = admin.post("/c/small-2023/changes/extend", data={
        "csrf": csrf, "step": "plan", "scope": "chosen", "units": ["s2"], "date": "2023-03-01", "reason": "补报"})
    assert past.status_code == 422 and 'data-field="date"' in past.text and "已过" in past.text
    no_csrf = admin.post("/c/small-2023/changes/extend", data={
        "step": "plan", "scope": "chosen", "units": ["s2"], "date": "2023-03-20", "reason": "补报"})
    assert no_csrf.status_code == 403
    assert _due(engine, "small-2023", "s2") == before
    done = admin.post("/c/small-2023/changes/extend", data={
        "csrf": csrf, "step": "plan", "scope": "chosen", "units": ["s2"], "date": "2023-03-20", "time": "17:00",
        "reason": "系统故障补报"})
    assert done.status_code == 200 and 'id="extended"' in done.text and "2023-03-20 17:00" in done.text
    assert _due(engine, "small-2023", "s2") == local("2023-03-20T17:00")
    assert _due(engine, "small-2023", "s1") == before  # s1 not chosen
    matrix = admin.get("/c/small-2023/matrix").text
    assert '<small class="extended" title="原定 2023-02-28">延期至 2023-03-20</small>' in matrix


# --- in the browser, against `campaign serve` ---

def _spec_around(today: dt.date) -> str:
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    return SMALL_SPEC.replace("key: small-2023", "key: changes-browser").replace(
        "start: 2023-02-14", f"start: {d(-10)}").replace("end: 2023-03-05", f"end: {d(20)}").replace(
        "due: start + 10 workdays", f"due: {d(2)}").replace("start: 2023-03-06", f"start: {d(21)}").replace(
        "end: 2023-03-31", f"end: {d(40)}").replace("due: 2023-04-05", f"due: {d(45)}").replace(
        "start: 2023-04-06", f"start: {d(46)}").replace("end: 2023-04-30", f"end: {d(60)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dt.date]]:
    home = tmp_path_factory.mktemp("changes-serve")
    url = f"sqlite:///{home / 'campaign.db'}"
    tz = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime.now(tz)
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(_spec_around(now.date()), "spec.yaml"), _act(now - dt.timedelta(days=11)))
        add_user(conn, "admin", "admin", None, PASSWORD, _act(now))
    engine.dispose()
    tick_direct(url, "changes-browser", _act(now, "tick"), str(home / "outbox.jsonl"))  # mobilization runs
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": url}
    with campaign_serve(env) as address:
        yield address, url, now.date()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_the_admin_extends_one_schools_deadline_in_the_browser(server, browser):
    address, url, today = server
    new_day = today + dt.timedelta(days=9)
    errors: list[str] = []
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{address}/login")
    page.fill("#name", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(f"{address}/c/changes-browser")
    page.click("#nav-changes")  # reached from the overview
    expect(page.locator("#extend-form")).to_be_visible()
    page.select_option("#extend-step", "plan")
    page.check("#scope-chosen")
    page.locator("#extend-units summary").click()
    page.check("#unit-s1")
    page.fill("#extend-date", new_day.isoformat())
    page.fill("#extend-time", "17:00")
    page.fill("#extend-reason", "校长外出参加培训，经局办公室同意延期")
    page.click("#extend-submit")
    result = page.locator("#extended tr[data-unit=s1]")
    expect(result).to_be_visible()
    expect(result.locator(".new-due")).to_contain_text(f"{new_day.isoformat()} 17:00")
    expect(result.locator(".next-remind")).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d 09:00"))
    expect(page.locator("#extended tbody tr")).to_have_count(1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "changes-extended-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "changes-extended-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(f"{address}/c/changes-browser/matrix")
    expect(page.locator("td[data-unit=s1][data-artifact=plan] .extended")).to_have_text(f"延期至 {new_day.isoformat()}")
    expect(page.locator("td[data-unit=s2][data-artifact=plan] .extended")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "changes-matrix-390.png"), full_page=True)
    page.goto(f"{address}/c/changes-browser/changes?lang=en")
    expect(page.locator("#extend-title")).to_contain_text("Extend a deadline")
    page.screenshot(path=str(SHOTS / "changes-en-390.png"), full_page=True)
    assert errors == []
    context.close()

    engine = open_engine(url)
    try:
        tz = dt.timezone(dt.timedelta(hours=8))
        assert _due(engine, "changes-browser", "s1") == dt.datetime.combine(new_day, dt.time(17, 0), tz)
        assert _due(engine, "changes-browser", "s2") == dt.datetime.combine(today + dt.timedelta(days=2),
                                                                             dt.time(23, 59, 59), tz)
        with engine.connect() as conn:
            nxt = conn.execute(select(obligations.c.next_remind_at).join(units, units.c.id == obligations.c.unit_id)
                               .where(units.c.key == "s1", obligations.c.artifact == "plan")).scalar_one()
        assert nxt is not None and nxt.astimezone(tz).time() == dt.time(9, 0)
    finally:
        engine.dispose()
