"""The accounts pages (/admin/users, /admin/users/bulk) through HTTP as a browser uses them: log in through
the real form, post the forms with their CSRF field, read the handover XLSX back with openpyxl. A real
SQLite database holds the small campaign (conftest.SMALL_SPEC) and one account per role.
"""

from __future__ import annotations

import io
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.tables import audit_events, users

from .conftest import SMALL_SPEC, local
from .test_pages import csrf_of, elements, has_id

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")

C = "small-2023"
NOW = local("2023-03-10T10:00")
PASSWORD = "qingfeng-2024"
USERS = {"admin": ("admin", None), "sup": ("supervisor", None), "viewer": ("viewer", None), "d1user": ("unit", "d1")}
ADMIN_ROUTES = [("GET", "/admin/users"), ("GET", "/admin/users/bulk"), ("GET", f"/admin/users/bulk?campaign={C}"),
                ("POST", "/admin/users"), ("POST", "/admin/users/viewer/disable"), ("POST", "/admin/users/viewer/enable"),
                ("POST", "/admin/users/viewer/reset"), ("POST", "/admin/users/viewer/tokens"),
                ("POST", "/admin/users/tokens/1/revoke"), ("POST", "/admin/users/bulk"), ("POST", "/admin/users/reset-bulk")]


@dataclass
class Site:
    app: Any
    engine: Any

    def login(self, name: str, password: str = PASSWORD, expect: int = 303) -> TestClient:
        client = TestClient(self.app)
        form = client.get("/login")
        answer = client.post("/login", data={"name": name, "password": password, "csrf": csrf_of(form.text)},
                             follow_redirects=False)
        assert answer.status_code == expect, answer.text
        return client

    def user(self, name: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(users).where(users.c.name == name)).first()

    def actions(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [(r.action, r.subject) for r in conn.execute(select(audit_events).order_by(audit_events.c.seq))]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "campaign.db"
    engine = open_engine(f"sqlite:///{path}")
    at = local("2023-02-01T09:00")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"), Act(at, "admin", at))
        for name, (role, unit) in USERS.items():
            add_user(conn, name, role, unit, PASSWORD, Act(at, "admin", at))
    engine.dispose()
    return path


@pytest.fixture
def site(prepared: Path, tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    with closing(sqlite3.connect(prepared)) as source, closing(sqlite3.connect(tmp_path / "campaign.db")) as copy:
        source.backup(copy)
    engine = open_engine(url)
    yield Site(create_app(Services(Settings(tmp_path, url), engine, clock=lambda: NOW)), engine)
    engine.dispose()


def post(client: TestClient, path: str, data: dict[str, Any] | None = None, page: str = "/admin/users") -> Any:
    """A form post with the CSRF token of `page` (as the browser sends it)."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf": token, **(data or {})}, follow_redirects=False)


def secret_of(html: str) -> str:
    found = re.search(r'<textarea id="secret"[^>]*>([^<]*)</textarea>', html)
    assert found, html[:500]
    return found.group(1)


def sheet_rows(body: bytes) -> list[tuple[Any, ...]]:
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    return list(ws.iter_rows(min_row=2, values_only=True))


# --- who may ---

@pytest.mark.parametrize("user", ["sup", "viewer", "d1user"])
def test_every_admin_route_refuses_the_other_roles(site, user):
    client = site.login(user)
    token = csrf_of(client.get("/").text)
    for method, path in ADMIN_ROUTES:
        answer = client.request(method, path, data={"csrf": token} if method == "POST" else None, follow_redirects=False)
        assert answer.status_code == 403, (method, path, answer.status_code)
    assert site.user("viewer").disabled is False


def test_the_accounts_pages_send_a_visitor_without_a_session_to_log_in(site):
    for path in ("/admin/users", "/admin/users/bulk"):
        answer = TestClient(site.app).get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=/admin/users")


def test_the_accounts_page_lists_roles_units_with_their_campaigns_and_states(site):
    page = site.login("admin").get("/admin/users")

    assert page.status_code == 200
    rows = {r["data-user"]: r for r in elements(page.text, tag="tr") if "data-user" in r}
    assert set(rows) == set(USERS)
    assert rows["d1user"]["data-unit"] == "d1" and rows["d1user"]["data-state"] == "active"
    assert "城关学区" in page.text and "2023年作风整顿（测试）" in page.text  # the unit's name and its campaign
    assert has_id(page.text, "nav-users")


def test_the_filter_shows_one_role_or_one_unit(site):
    client = site.login("admin")
    by_role = client.get("/admin/users?role=unit").text
    by_unit = client.get("/admin/users?unit=d1").text

    assert {r["data-user"] for r in elements(by_role, tag="tr") if "data-user" in r} == {"d1user"}
    assert {r["data-user"] for r in elements(by_unit, tag="tr") if "data-user" in r} == {"d1user"}


# --- adding, disabling, one-time passwords ---

def test_adding_a_unit_account_with_a_one_time_password_shows_it_once_and_forces_a_change(site):
    client = site.login("admin")
    answer = post(client, "/admin/users", {"name": "s2user", "display_name": "李老师", "role": "unit", "unit": "s2",
                                           "one_time": "1"})

    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    password = secret_of(answer.text)
    assert len(password) == 19 and site.user("s2user").must_change_password is True
    assert password not in client.get("/admin/users").text  # shown once: not on the list afterwards
    user = site.login("s2user", password)
    assert user.get("/", follow_redirects=False).headers["location"] == "/password"


def test_bad_input_names_the_field_and_changes_nothing(site):
    client = site.login("admin")
    cases = [({"name": "bad name!", "role": "viewer", "one_time": "1"}, "name"),
             ({"name": "x1", "role": "unit", "one_time": "1"}, "unit"),
             ({"name": "x2", "role": "viewer", "password": "123"}, "password"),
             ({"name": "x3", "role": "viewer"}, "password"),
             ({"name": "x4", "role": "boss", "one_time": "1"}, "role"),
             ({"name": "viewer", "role": "viewer", "one_time": "1"}, "name")]
    for data, field in cases:
        answer = post(client, "/admin/users", data)
        assert answer.status_code in (409, 422), (data, answer.status_code)
        error = elements(answer.text, id="users-error")
        assert error and error[0]["data-field"] == field, (data, answer.text[:300])
        assert elements(answer.text, tag="input", name="name")[0]["value"] == data["name"]  # the form is kept
    assert {site.user(n) for n in ("x1", "x2", "x3", "x4")} == {None}


def test_the_account_forms_refuse_a_post_without_the_csrf_field(site):
    client = site.login("admin")
    for path in ("/admin/users", "/admin/users/viewer/disable", "/admin/users/viewer/reset", "/admin/users/bulk"):
        answer = client.post(path, data={"name": "x9", "role": "viewer", "one_time": "1", "campaign": C},
                             follow_redirects=False)
        assert answer.status_code == 403, path
    assert site.user("x9") is None and site.user("viewer").disabled is False


def test_a_disabled_user_cannot_log_in_and_an_enabled_one_can_again(site):
    admin = site.login("admin")
    viewer = site.login("viewer")

    assert post(admin, "/admin/users/viewer/disable").status_code == 303
    assert viewer.get("/", follow_redirects=False).headers["location"].startswith("/login")  # the session ended
    site.login("viewer", expect=401)
    assert post(admin, "/admin/users/viewer/enable").status_code == 303
    site.login("viewer")
    assert ("user.disabled", "user:viewer") in site.actions() and ("user.enabled", "user:viewer") in site.actions()


def test_an_admin_cannot_disable_their_own_account(site):
    answer = post(site.login("admin"), "/admin/users/admin/disable")

    assert answer.status_code == 409 and site.user("admin").disabled is False


def test_a_reset_ends_the_sessions_and_the_old_password_no_longer_works(site):
    admin = site.login("admin")
    sup = site.login("sup")
    answer = post(admin, "/admin/users/sup/reset")

    one_time = secret_of(answer.text)
    assert sup.get("/", follow_redirects=False).headers["location"].startswith("/login")
    site.login("sup", expect=401)
    assert site.login("sup", one_time).get("/audit", follow_redirects=False).headers["location"] == "/password"
    assert ("user.password_reset", "user:sup") in site.actions()


# --- the forced change and one's own password ---

def test_a_one_time_password_must_be_replaced_before_any_page_or_session_api_call(site):
    admin = site.login("admin")
    one_time = secret_of(post(admin, "/admin/users/d1user/reset").text)
    user = site.login("d1user", one_time)

    for path in ("/", f"/c/{C}", f"/c/{C}/ledger"):
        assert user.get(path, follow_redirects=False).headers["location"] == "/password"
    api = user.get(f"/api/v1/campaigns/{C}/obligations")
    assert api.status_code == 403 and api.json()["error"]["code"] == "password_change_required"
    form = user.get("/password")
    assert has_id(form.text, "forced-note") and not has_id(form.text, "nav-users")

    mismatch = user.post("/password", data={"csrf": csrf_of(form.text), "current": one_time, "new": "my-own-secret-1",
                                            "repeat": "my-own-secret-2"})
    assert mismatch.status_code == 422 and elements(mismatch.text, id="password-error")[0]["data-field"] == "repeat"
    done = user.post("/password", data={"csrf": csrf_of(form.text), "current": one_time, "new": "my-own-secret-1",
                                        "repeat": "my-own-secret-1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert has_id(user.get("/").text, "task-counts")  # 我的待办, with the same session
    site.login("d1user", one_time, expect=401)
    site.login("d1user", "my-own-secret-1")
    assert site.user("d1user").must_change_password is False


def test_a_bearer_token_of_a_user_with_a_one_time_password_keeps_working(site):
    admin = site.login("admin")
    token = secret_of(post(admin, "/admin/users/d1user/tokens", {"label": "报表脚本", "expires": "30"}).text)
    post(admin, "/admin/users/d1user/reset")

    answer = TestClient(site.app).get(f"/api/v1/campaigns/{C}/obligations", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200


def test_every_user_changes_their_own_password_and_a_wrong_current_one_is_named(site):
    viewer = site.login("viewer")
    form = viewer.get("/password")
    assert form.status_code == 200 and not has_id(form.text, "forced-note")
    wrong = viewer.post("/password", data={"csrf": csrf_of(form.text), "current": "nope-nope-nope", "new": "another-pass-9",
                                           "repeat": "another-pass-9"})
    short = viewer.post("/password", data={"csrf": csrf_of(form.text), "current": PASSWORD, "new": "short",
                                           "repeat": "short"})
    no_csrf = viewer.post("/password", data={"current": PASSWORD, "new": "another-pass-9", "repeat": "another-pass-9"})

    assert elements(wrong.text, id="password-error")[0]["data-field"] == "current"
    assert elements(short.text, id="password-error")[0]["data-field"] == "new"
    assert no_csrf.status_code == 403
    site.login("viewer")  # nothing changed


def test_the_password_page_asks_for_a_login_first(site):
    answer = TestClient(site.app).get("/password", follow_redirects=False)

    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


# --- API tokens ---

def test_a_token_is_shown_once_listed_by_prefix_and_revoked(site):
    admin = site.login("admin")
    answer = post(admin, "/admin/users/viewer/tokens", {"label": "统计脚本", "expires": "90"})
    token = secret_of(answer.text)
    assert token.startswith("cf_") and has_id(answer.text, "shown-once")
    listing = admin.get("/admin/users").text
    assert token not in listing and token[:12] in listing and "统计脚本" in listing
    assert TestClient(site.app).get("/api/v1/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    token_id = next(e["id"] for e in elements(listing, tag="div", class_="token")).removeprefix("token-")
    assert post(admin, f"/admin/users/tokens/{token_id}/revoke", {"user": "viewer"}).status_code == 303
    assert TestClient(site.app).get("/api/v1/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert [a for a, s in site.actions() if s == "user:viewer"][-2:] == ["token.created", "token.revoked"]


def test_a_bad_expiry_names_the_field(site):
    answer = post(site.login("admin"), "/admin/users/viewer/tokens", {"label": "x", "expires": "-3"})

    assert answer.status_code == 422 and elements(answer.text, id="users-error")[0]["data-field"] == "expires"


# --- in bulk ---

def test_the_bulk_preview_lists_the_units_without_an_account_and_the_skipped_ones_with_the_reason(site):
    page = site.login("admin").get(f"/admin/users/bulk?campaign={C}")

    create = {r["data-unit"] for r in elements(page.text, tag="tr") if "data-unit" in r and "data-reason" not in r}
    skip = {r["data-unit"]: r["data-reason"] for r in elements(page.text, tag="tr") if "data-reason" in r}
    assert create == {"s1", "s2"}
    assert skip == {"d1": "has_account", "bureau": "organizer"}
    assert "第一小学（张校长）" in page.text and "d1user" in page.text


def test_the_bulk_preview_below_a_parent_and_by_tag(site):
    client = site.login("admin")
    by_tag = client.get(f"/admin/users/bulk?campaign={C}&tag=学区").text

    assert {r["data-unit"] for r in elements(by_tag, tag="tr") if "data-unit" in r} == {"d1"}
    bad = client.get(f"/admin/users/bulk?campaign={C}&parent=zz")
    assert bad.status_code == 422 and has_id(bad.text, "bulk-error")


def test_bulk_accounts_come_as_one_xlsx_whose_passwords_log_in_once(site):
    admin = site.login("admin")
    answer = post(admin, "/admin/users/bulk", {"campaign": C}, page=f"/admin/users/bulk?campaign={C}")

    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert answer.headers["cache-control"] == "no-store"
    ws = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert [c.value for c in ws[2]] == ["单位", "用户名", "一次性密码", "登录地址", "说明"]
    rows = {r[1]: r for r in ws.iter_rows(min_row=3, values_only=True)}
    assert set(rows) == {"s1", "s2"} and rows["s1"][0] == "第一小学" and rows["s1"][3].endswith("/login")
    with site.engine.connect() as conn:  # never in clear
        hashes = list(conn.execute(select(users.c.password_hash).where(users.c.name.in_(["s1", "s2"]))).scalars())
    assert all(rows[n][2] not in h for n, h in zip(("s1", "s2"), hashes, strict=True))
    user = site.login("s1", rows["s1"][2])
    assert user.get("/", follow_redirects=False).headers["location"] == "/password"
    again = admin.get(f"/admin/users/bulk?campaign={C}").text  # a second run creates nothing
    assert {r["data-reason"] for r in elements(again, tag="tr") if "data-reason" in r} == {"has_account", "organizer"}


def test_a_bulk_reset_answers_one_xlsx_and_the_old_passwords_stop_working(site):
    admin = site.login("admin")
    answer = post(admin, "/admin/users/reset-bulk", {"user": ["viewer", "sup"]})

    rows = {r[1]: r[2] for r in sheet_rows(answer.content)[1:]}
    assert set(rows) == {"viewer", "sup"}
    site.login("viewer", expect=401)
    site.login("viewer", rows["viewer"])
    nothing = post(admin, "/admin/users/reset-bulk", {})
    assert nothing.status_code == 422 and elements(nothing.text, id="users-error")[0]["data-field"] == "user"


def test_a_unit_name_that_looks_like_a_formula_stays_text_in_the_sheet(site):
    from campaign_app.usecases.account_sheet import account_sheet

    body = account_sheet([{"unit_name": "=HYPERLINK(\"http://x\")", "name": "u", "password": "p"}], "http://h/login", "t")
    cell = openpyxl.load_workbook(io.BytesIO(body)).active["A3"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK") and cell.quotePrefix


def test_the_accounts_pages_in_english(site):
    client = site.login("admin")

    assert "Accounts" in client.get("/admin/users?lang=en").text
    assert "Unit accounts in bulk" in client.get(f"/admin/users/bulk?campaign={C}").text
    assert "Change password" in client.get("/password").text


def test_guessing_the_current_password_on_the_change_form_is_throttled_like_a_login(site):
    viewer = site.login("viewer")
    token = csrf_of(viewer.get("/password").text)
    said = [viewer.post("/password", data={"csrf": token, "current": f"guess-number-{n}", "new": "another-pass-9",
                                           "repeat": "another-pass-9"}).text for n in range(6)]

    assert "当前密码不正确" in said[0] and "尝试次数过多" in said[5]
    site.login("viewer", expect=429)  # the failures count for logging in too
