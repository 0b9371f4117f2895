"""Logging in with a browser: the login form, the session cookie, CSRF on every state-changing request,
throttled failures, logging out, idle expiry, disabled accounts, and where `next` may lead.

The server's clock is the test's: it moves when the test says so.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import urlsplit

import pytest

from campaign_app.web.deps import SESSION_COOKIE
from campaign_model.store.accounts import session_principal, set_disabled
from campaign_model.store.tables import ledger_items, web_sessions

from .conftest import local
from .web_support import HTTPX_WARNING, NOW, Clock, account, act, bearer, count, new_campaign, serve

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

PASSWORD = "qingfeng-2024"
CAMPAIGN = "small-2023"
FINDING = {"unit": "s1", "problem": "值班记录缺失", "deadline": "2023-04-30"}


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'campaign.db'}"


@pytest.fixture
def clock() -> Clock:
    return Clock(local(NOW))


@pytest.fixture
def client(engine, tmp_path, clock):
    new_campaign(engine, CAMPAIGN)
    account(engine, "li.ming", "supervisor", password=PASSWORD)
    with serve(engine, tmp_path / "home", clock) as client:
        yield client


def form_csrf(page) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


def login_error(page) -> str:
    found = re.search(r'id="login-error">([^<]*)<', page.text)
    assert found, page.text
    return found.group(1)


def log_in(client, name: str = "li.ming", password: str = PASSWORD, next_url: str = "/", csrf: str | None = None):
    """GET /login for the form's token (unless one is given), then POST it; the redirect is not followed."""
    if csrf is None:
        csrf = form_csrf(client.get("/login"))
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf, "next": next_url},
                       follow_redirects=False)


def set_cookie(response, name: str) -> str | None:
    return next((c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")), None)


def session_of(response) -> str:
    header = set_cookie(response, SESSION_COOKIE)
    assert header, response.headers
    return header.split(";", 1)[0].split("=", 1)[1]


def session_csrf(engine, token: str, clock: Clock) -> str:
    """The session's CSRF token, as the dashboard's pages carry it in every form."""
    with engine.begin() as conn:
        found = session_principal(conn, token, clock())
    assert found is not None
    return found[1]


def use_session(client, token: str) -> None:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)


# --- logging in ---

def test_logging_in_redirects_with_an_http_only_same_site_lax_session_cookie(client):
    response = log_in(client)

    assert response.status_code == 303 and response.headers["location"] == "/"
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in set_cookie(response, SESSION_COOKIE).split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"
    assert attributes["path"] == "Path=/"
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json() == {
        "name": "li.ming", "role": "supervisor", "unit": None, "display_name": None, "via": "session"}


@pytest.mark.parametrize("how", ["no login cookie", "wrong csrf"])
def test_a_login_without_the_forms_cookie_or_with_a_wrong_token_is_refused_and_starts_no_session(client, engine, how):
    csrf = form_csrf(client.get("/login"))
    if how == "no login cookie":
        client.cookies.clear()
    else:
        csrf = csrf[::-1]

    response = log_in(client, csrf=csrf)

    assert response.status_code == 403
    assert set_cookie(response, SESSION_COOKIE) is None
    assert count(engine, web_sessions) == 0
    assert client.get("/api/v1/me").status_code == 401


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(client, engine):
    wrong_password = log_in(client, password="not-the-password")
    unknown_user = log_in(client, name="no.such.user", password=PASSWORD)

    assert (wrong_password.status_code, unknown_user.status_code) == (401, 401)
    assert login_error(wrong_password) == login_error(unknown_user)
    assert set_cookie(wrong_password, SESSION_COOKIE) is None and set_cookie(unknown_user, SESSION_COOKIE) is None
    assert count(engine, web_sessions) == 0


def test_the_sixth_failed_attempt_within_15_minutes_waits_even_with_the_right_password(client, clock):
    for _ in range(5):
        assert log_in(client, password="not-the-password").status_code == 401
        clock.advance(dt.timedelta(seconds=30))

    throttled = log_in(client)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == str(15 * 60 - 5 * 30)  # when the first failure ages out
    assert set_cookie(throttled, SESSION_COOKIE) is None

    clock.advance(dt.timedelta(minutes=15))
    assert log_in(client).status_code == 303


def test_a_new_login_issues_a_new_session_token(client):
    client.cookies.set(SESSION_COOKIE, "planted-by-someone-else")
    first = session_of(log_in(client))
    second = session_of(log_in(client))

    assert len({"planted-by-someone-else", first, second}) == 3


def stays_on_this_site(location: str) -> bool:
    seen = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")  # as a browser reads it
    parts = urlsplit(seen)
    return seen.startswith("/") and not parts.scheme and not parts.netloc


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/login", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "evil.example", " //evil.example", "\t//evil.example"])
def test_next_never_leads_to_another_site(client, target):
    response = log_in(client, next_url=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/.//evil.example", "/%2F%2Fevil.example"])
def test_next_with_a_path_that_a_browser_might_read_as_a_host_stays_on_this_site(client, target):
    response = log_in(client, next_url=target)
    assert response.status_code == 303 and stays_on_this_site(response.headers["location"])


def test_next_leads_to_the_local_page_the_user_came_for(client):
    response = log_in(client, next_url="/campaigns/small-2023?tab=ledger")
    assert response.headers["location"] == "/campaigns/small-2023?tab=ledger"


# --- CSRF on state-changing requests ---

def test_a_session_changes_nothing_without_its_csrf_token(client, engine, clock):
    session = session_of(log_in(client))
    findings = f"/api/v1/campaigns/{CAMPAIGN}/findings"

    assert client.get(f"/api/v1/campaigns/{CAMPAIGN}/ledger").status_code == 200  # reading needs no token
    missing = client.post(findings, json=FINDING)
    wrong = client.post(findings, json=FINDING, headers={"X-CSRF-Token": form_csrf(client.get("/login"))})
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert missing.json()["error"]["code"] == wrong.json()["error"]["code"] == "csrf"
    assert count(engine, ledger_items) == 0

    done = client.post(findings, json=FINDING, headers={"X-CSRF-Token": session_csrf(engine, session, clock)})
    assert done.status_code == 201 and done.json()["unit"] == "s1"
    assert count(engine, ledger_items) == 1


def test_a_bearer_token_needs_no_csrf_token(client, engine):
    token = account(engine, "bureau.admin", "admin")
    client.cookies.clear()
    response = client.post(f"/api/v1/campaigns/{CAMPAIGN}/findings", json=FINDING, headers=bearer(token))
    assert response.status_code == 201


# --- the end of a session ---

def test_logging_out_ends_the_session(client, engine, clock):
    session = session_of(log_in(client))
    csrf = session_csrf(engine, session, clock)

    refused = client.post("/logout", data={"csrf": "not-the-token"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/api/v1/me").status_code == 200  # a forged logout leaves the session alone

    response = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    use_session(client, session)  # the old cookie, kept by whoever had it
    assert client.get("/api/v1/me").status_code == 401
    assert count(engine, web_sessions) == 0


def test_a_session_idle_for_nine_hours_is_over(client, clock):
    log_in(client)
    clock.advance(dt.timedelta(hours=7))
    assert client.get("/api/v1/me").status_code == 200  # a use keeps it alive

    clock.advance(dt.timedelta(hours=9))
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"


def test_a_disabled_users_token_and_session_stop_working(client, engine):
    token = account(engine, "s1.clerk", "unit", "s1", password=PASSWORD)
    session = session_of(log_in(client, name="s1.clerk"))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/me").status_code == 200

    with engine.begin() as conn:
        set_disabled(conn, "s1.clerk", True, act(NOW))

    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    use_session(client, session)
    assert client.get("/api/v1/me").status_code == 401
    assert log_in(client, name="s1.clerk").status_code == 401


@pytest.mark.parametrize("header", ["Basic bGkubWluZzpxaW5nZmVuZy0yMDI0", "Bearer", "Token cf_abc", "cf_abc"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_refused(client, header):
    log_in(client)  # even with a live session cookie alongside
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthenticated"
