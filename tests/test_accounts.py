"""Accounts: who may log in, how often they may fail, and the tokens and sessions that stand for them.

The rules (names, passwords, throttling) are tested as plain functions; the storage on SQLite and on
PostgreSQL, with explicit instants throughout.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from campaign_model.accounts import (
    MAX_FAILURES_PER_NAME,
    MAX_FAILURES_PER_SOURCE,
    THROTTLE_WINDOW,
    check_password_policy,
    check_role,
    check_user_name,
    throttle_verdict,
)
from campaign_model.errors import AuthFailed, ConflictError, InvalidInput, NotFound, Throttled
from campaign_model.store import accounts, audit
from campaign_model.store.audit import Act
from campaign_model.store.tables import api_tokens, metadata, users

from .conftest import local

T0 = local("2024-03-01T09:00")
PASSWORD = "qingfeng-2024"


def act(at: dt.datetime = T0, actor: str = "局办公室") -> Act:
    return Act(at, actor, at)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


# --- rules: names and passwords ---

@pytest.mark.parametrize("name", ["admin", "li.ming@edu.cn", "school-1_head", "李明", "城关学区admin", "x" * 64])
def test_user_names_are_letters_digits_chinese_and_a_few_marks(name):
    check_user_name(name)


@pytest.mark.parametrize("name", ["", "x" * 65, "li ming", "admin\n", "a/b", "<script>", "李明。"])
def test_other_user_names_are_refused(name):
    with pytest.raises(InvalidInput, match="用户名"):
        check_user_name(name)


@pytest.mark.parametrize("password, why", [("short-pw", "至少 10"), ("1390571234", "全是数字"),
                                           ("Li.Ming.2024", "用户名")])
def test_a_password_is_refused_when_short_all_digits_or_the_user_name(password, why):
    with pytest.raises(InvalidInput, match=why):
        check_password_policy(password, "li.ming.2024")


def test_a_ten_character_password_with_a_letter_is_accepted():
    check_password_policy("20240301ab", "li.ming")


def test_a_unit_account_names_its_unit_and_no_other_role_does():
    check_role("unit", "school-1")
    check_role("viewer", None)
    with pytest.raises(InvalidInput, match="unit key") as refused:
        check_role("unit", None)
    assert refused.value.field == "unit"  # the CLI prints it as --unit
    with pytest.raises(InvalidInput, match="supervisor"):
        check_role("supervisor", "school-1")
    with pytest.raises(InvalidInput, match="admin, supervisor, unit, viewer"):
        check_role("root", None)


# --- rules: throttling ---

def test_five_failures_within_15_minutes_make_the_sixth_attempt_wait_for_the_oldest_to_age_out():
    failures = [T0 + minutes(i) for i in range(5)]
    assert throttle_verdict(failures[:4], [], T0 + minutes(5)) is None
    assert throttle_verdict(failures, [], T0 + minutes(5)) == 10 * 60
    assert throttle_verdict(failures, [], T0 + minutes(15) - dt.timedelta(seconds=1)) == 1
    assert throttle_verdict(failures, [], T0 + minutes(15)) is None


def test_twenty_failures_from_one_address_throttle_it_whatever_the_names():
    failures = [T0 + dt.timedelta(seconds=30 * i) for i in range(20)]
    assert throttle_verdict([], failures[:19], T0 + minutes(10)) is None
    assert throttle_verdict([], failures, T0 + minutes(10)) == 5 * 60


def test_the_longer_of_the_two_waits_wins():
    by_name = [T0 + minutes(10 + i) for i in range(5)]
    by_source = [T0 + minutes(i / 10) for i in range(20)]
    assert throttle_verdict(by_name, by_source, T0 + minutes(14)) == 11 * 60


def test_failures_outside_the_window_do_not_count():
    old = [T0 - THROTTLE_WINDOW - dt.timedelta(seconds=1)] * 50
    assert throttle_verdict(old, old, T0) is None
    later = [T0 + minutes(1)] * 50  # after the instant asked about: not yet happened
    assert throttle_verdict(later, later, T0) is None


instants = st.integers(min_value=-30 * 60, max_value=0).map(lambda s: T0 + dt.timedelta(seconds=s))


@given(st.lists(instants, max_size=12), st.lists(instants, max_size=30))
def test_throttled_exactly_when_a_window_holds_the_limit(by_name, by_source):
    in_window = lambda fs: sum(1 for f in fs if T0 - THROTTLE_WINDOW < f <= T0)  # noqa: E731
    throttled = in_window(by_name) >= MAX_FAILURES_PER_NAME or in_window(by_source) >= MAX_FAILURES_PER_SOURCE
    assert (throttle_verdict(by_name, by_source, T0) is not None) == throttled


@given(st.lists(instants, min_size=MAX_FAILURES_PER_NAME, max_size=12), st.lists(instants, max_size=30))
def test_waiting_retry_after_seconds_is_exactly_enough(by_name, by_source):
    wait = throttle_verdict(by_name, by_source, T0)
    if wait is None:
        return
    assert 1 <= wait <= THROTTLE_WINDOW.total_seconds()
    assert throttle_verdict(by_name, by_source, T0 + dt.timedelta(seconds=wait)) is None
    assert throttle_verdict(by_name, by_source, T0 + dt.timedelta(seconds=wait - 1)) is not None


# --- users ---

def _add(engine, name="li.ming", role="supervisor", unit=None, password: str | None = PASSWORD, at=T0, **kw):
    with engine.begin() as conn:
        return accounts.add_user(conn, name, role, unit, password, act(at), **kw)


def test_an_added_user_is_listed_with_role_unit_and_no_secret(engine):
    doc = _add(engine, "张校长", "unit", "school-1", display_name="张伟")
    assert (doc["name"], doc["role"], doc["unit"], doc["created_at"]) == ("张校长", "unit", "school-1", T0)
    _add(engine, "importer", "admin", password=None)
    with engine.begin() as conn:
        listed = accounts.list_users(conn, T0)
        principal = accounts.get_principal(conn, "张校长")
    assert [(u["name"], u["role"], u["unit"], u["display_name"], u["disabled"], u["password"], u["tokens"])
            for u in listed] == [("importer", "admin", None, None, False, False, 0),
                                 ("张校长", "unit", "school-1", "张伟", False, True, 0)]
    assert all("password_hash" not in u for u in listed)
    assert (principal.name, principal.role, principal.unit, principal.display_name) == ("张校长", "unit", "school-1", "张伟")


def test_a_second_user_of_the_same_name_is_refused(engine):
    _add(engine, "li.ming")
    with pytest.raises(ConflictError, match="li.ming"):
        _add(engine, "li.ming", "viewer")


@pytest.mark.parametrize("role, unit, password, match, field", [
    ("root", None, PASSWORD, "admin、supervisor、unit、viewer", "role"),
    ("unit", None, PASSWORD, "unit key", "unit"),  # the CLI prints the field as --unit
    ("viewer", "school-1", PASSWORD, "viewer", "unit"),
    ("viewer", None, "1234567890", "全是数字", "password"),
])
def test_add_user_refuses_bad_roles_units_and_passwords(engine, role, unit, password, match, field):
    with pytest.raises(InvalidInput, match=match) as refused:
        _add(engine, "li.ming", role, unit, password)
    assert refused.value.field == field
    with engine.begin() as conn:
        assert accounts.list_users(conn) == []


def test_an_unknown_user_is_not_found(engine):
    with engine.begin() as conn, pytest.raises(NotFound):
        accounts.get_principal(conn, "nobody")


# --- logging in ---

def _login(engine, name="li.ming", password=PASSWORD, at=T0, source="10.0.0.1"):
    # as the HTTP service will: one transaction, rolled back when the login raises
    with engine.begin() as conn:
        return accounts.authenticate(conn, name, password, at, source)


def test_the_right_password_logs_in(engine):
    _add(engine, "li.ming", "unit", "school-1", display_name="李明")
    p = _login(engine)
    assert (p.name, p.role, p.unit, p.display_name) == ("li.ming", "unit", "school-1", "李明")


def test_wrong_password_unknown_user_disabled_user_and_token_only_account_fail_alike(engine):
    _add(engine, "li.ming")
    _add(engine, "off", password=PASSWORD)
    _add(engine, "robot", password=None)
    with engine.begin() as conn:
        accounts.set_disabled(conn, "off", True, act())
    messages = set()
    for name, password in [("li.ming", "wrong-password"), ("nobody", PASSWORD), ("off", PASSWORD), ("robot", "")]:
        with pytest.raises(AuthFailed) as failed:
            _login(engine, name, password, source=f"10.0.0.{len(messages) + 2}")
        messages.add(str(failed.value))
    assert messages == {"用户名或密码错误，或账号已停用 (wrong user name or password, or the account is disabled)"}


def test_a_sixth_wrong_password_within_15_minutes_is_throttled(engine):
    _add(engine)
    for i in range(5):
        with pytest.raises(AuthFailed):
            _login(engine, password=f"guess-number-{i}", at=T0 + minutes(i))
    # refused before the password is looked at: even the right one waits
    with pytest.raises(Throttled) as throttled:
        _login(engine, at=T0 + minutes(5))
    assert throttled.value.retry_after == 10 * 60
    assert "600" in str(throttled.value)


def test_the_throttle_lifts_once_the_oldest_failure_is_15_minutes_old(engine):
    _add(engine)
    for i in range(5):
        with pytest.raises(AuthFailed):
            _login(engine, password="wrong-password", at=T0 + minutes(i))
    with pytest.raises(Throttled):
        _login(engine, at=T0 + minutes(15) - dt.timedelta(seconds=1))
    assert _login(engine, at=T0 + minutes(15)).name == "li.ming"


def test_a_successful_login_forgets_that_names_failures(engine):
    _add(engine)
    for i in range(4):
        with pytest.raises(AuthFailed):
            _login(engine, password="wrong-password", at=T0 + minutes(i))
    _login(engine, at=T0 + minutes(4))
    for i in range(4):
        with pytest.raises(AuthFailed):
            _login(engine, password="wrong-password", at=T0 + minutes(5 + i))
    with pytest.raises(AuthFailed):  # the fifth failure since the success: not throttled yet
        _login(engine, password="wrong-password", at=T0 + minutes(9))


def test_one_address_trying_many_names_is_throttled_but_not_other_addresses(engine):
    _add(engine)
    for i in range(20):
        with pytest.raises(AuthFailed):
            _login(engine, f"user{i // 4}", "wrong-password", at=T0 + dt.timedelta(seconds=10 * i), source="203.0.113.9")
    with pytest.raises(Throttled) as throttled:
        _login(engine, at=T0 + minutes(5), source="203.0.113.9")
    assert throttled.value.retry_after == 10 * 60
    assert _login(engine, at=T0 + minutes(5), source="10.0.0.1").name == "li.ming"


def test_an_overlong_name_still_counts_as_a_failure(engine):
    for i in range(5):
        with pytest.raises(AuthFailed):
            _login(engine, "x" * 300, "wrong-password", at=T0 + minutes(i), source="2001:db8::" + "f" * 80)
    with pytest.raises(Throttled):
        _login(engine, "x" * 300, "wrong-password", at=T0 + minutes(5), source="10.9.9.9")


def test_a_hash_made_with_weaker_parameters_is_replaced_at_login(engine):
    _add(engine)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.name == "li.ming").values(password_hash=weak))
    _login(engine)
    with engine.begin() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.name == "li.ming")).scalar_one()
    assert stored != weak and stored.startswith("$argon2id$") and not PasswordHasher().check_needs_rehash(stored)
    assert _login(engine).name == "li.ming"


def test_a_new_password_replaces_the_old_and_ends_browser_sessions(engine):
    _add(engine)
    p = _login(engine)
    with engine.begin() as conn:
        cookie, _ = accounts.create_session(conn, p.user_id, T0)
        accounts.set_password(conn, "li.ming", "new-password-2024", act(T0 + minutes(1)))
        assert accounts.session_principal(conn, cookie, T0 + minutes(2)) is None
    with pytest.raises(AuthFailed):
        _login(engine, at=T0 + minutes(2))
    assert _login(engine, password="new-password-2024", at=T0 + minutes(3)).name == "li.ming"
    _add(engine, "wang.xiaoming")
    with engine.begin() as conn, pytest.raises(InvalidInput, match="用户名"):
        accounts.set_password(conn, "wang.xiaoming", "Wang.XiaoMing", act())


# --- API tokens ---

def _dump(engine) -> str:
    """Every row of every table, as text."""
    with engine.connect() as conn:
        return json.dumps({t.name: [list(r) for r in conn.execute(select(t))] for t in metadata.sorted_tables},
                          default=str, ensure_ascii=False)


def test_a_token_stands_for_its_user_and_is_stored_only_as_a_hash(engine):
    _add(engine, "importer", "admin", password=None)
    with engine.begin() as conn:
        token, doc = accounts.create_token(conn, "importer", act(), label="导入脚本")
    assert token.startswith("cf_") and len(token) > 40
    assert (doc["user"], doc["prefix"], doc["created_at"], doc["expires_at"]) == ("importer", token[:12], T0, None)
    with engine.begin() as conn:
        assert accounts.principal_for_token(conn, token, T0 + minutes(1)).name == "importer"
        assert accounts.principal_for_token(conn, token + "x", T0 + minutes(1)) is None
        assert accounts.principal_for_token(conn, "", T0 + minutes(1)) is None
        listed = accounts.list_tokens(conn)
    assert token not in _dump(engine)
    assert [(t["id"], t["user"], t["prefix"], t["label"]) for t in listed] == [(doc["id"], "importer", token[:12], "导入脚本")]
    assert not any("hash" in k for t in listed for k in t)


def test_a_token_expires_after_its_days(engine):
    _add(engine)
    with engine.begin() as conn:
        token, doc = accounts.create_token(conn, "li.ming", act(), expires_days=30)
        assert doc["expires_at"] == T0 + dt.timedelta(days=30)
        assert accounts.principal_for_token(conn, token, T0 + dt.timedelta(days=30) - dt.timedelta(seconds=1))
        assert accounts.principal_for_token(conn, token, T0 + dt.timedelta(days=30)) is None
        assert accounts.list_users(conn, T0 + dt.timedelta(days=31))[0]["tokens"] == 0
        with pytest.raises(InvalidInput, match="1"):
            accounts.create_token(conn, "li.ming", act(), expires_days=0)


def test_a_revoked_token_no_longer_works_and_cannot_be_revoked_twice(engine):
    _add(engine)
    with engine.begin() as conn:
        token, doc = accounts.create_token(conn, "li.ming", act())
        other, _ = accounts.create_token(conn, "li.ming", act())
        assert accounts.list_users(conn, T0)[0]["tokens"] == 2
        accounts.revoke_token(conn, doc["id"], act(T0 + minutes(1)))
        assert accounts.principal_for_token(conn, token, T0 + minutes(2)) is None
        assert accounts.principal_for_token(conn, other, T0 + minutes(2)) is not None
        assert accounts.list_users(conn, T0)[0]["tokens"] == 1
        assert accounts.list_tokens(conn, "li.ming")[0]["revoked_at"] == T0 + minutes(1)
        with pytest.raises(ConflictError):
            accounts.revoke_token(conn, doc["id"], act())
        with pytest.raises(NotFound):
            accounts.revoke_token(conn, 999, act())
        with pytest.raises(NotFound):
            accounts.create_token(conn, "nobody", act())


def test_a_disabled_users_tokens_are_refused_until_enabled_again(engine):
    _add(engine)
    with engine.begin() as conn:
        token, _ = accounts.create_token(conn, "li.ming", act())
        accounts.set_disabled(conn, "li.ming", True, act())
        assert accounts.principal_for_token(conn, token, T0 + minutes(1)) is None
        with pytest.raises(ConflictError):
            accounts.create_token(conn, "li.ming", act())
        accounts.set_disabled(conn, "li.ming", False, act())
        assert accounts.principal_for_token(conn, token, T0 + minutes(2)).name == "li.ming"


def test_a_tokens_last_use_is_written_at_most_once_a_minute(engine):
    _add(engine)
    with engine.begin() as conn:
        token, doc = accounts.create_token(conn, "li.ming", act())

    def last_used() -> dt.datetime:
        with engine.connect() as conn:
            return conn.execute(select(api_tokens.c.last_used_at).where(api_tokens.c.id == doc["id"])).scalar_one()

    for at, expected in [(T0, T0), (T0 + dt.timedelta(seconds=59), T0), (T0 + minutes(1), T0 + minutes(1))]:
        with engine.begin() as conn:
            accounts.principal_for_token(conn, token, at)
        assert last_used() == expected


# --- browser sessions ---

def _session(engine):
    _add(engine)
    with engine.begin() as conn:
        p = accounts.get_principal(conn, "li.ming")
        cookie, csrf = accounts.create_session(conn, p.user_id, T0)
    return p, cookie, csrf


def _seen(engine, cookie, at):
    with engine.begin() as conn:
        return accounts.session_principal(conn, cookie, at)


def test_a_session_gives_its_user_and_csrf_token_and_ends_on_logout(engine):
    p, cookie, csrf = _session(engine)
    assert cookie != csrf and len(csrf) >= 32
    assert _seen(engine, cookie, T0 + minutes(5)) == (p, csrf)
    assert cookie not in _dump(engine)
    with engine.begin() as conn:
        accounts.end_session(conn, cookie)
    assert _seen(engine, cookie, T0 + minutes(6)) is None


def test_a_session_idle_for_8_hours_has_ended(engine):
    _, cookie, _ = _session(engine)
    assert _seen(engine, cookie, T0 + dt.timedelta(hours=7)) is not None
    assert _seen(engine, cookie, T0 + dt.timedelta(hours=15) - dt.timedelta(seconds=1)) is not None
    assert _seen(engine, cookie, T0 + dt.timedelta(hours=23) - dt.timedelta(seconds=1)) is None  # 8 hours after


def test_a_session_ends_after_24_hours_however_busy(engine):
    _, cookie, _ = _session(engine)
    for hour in range(1, 24):
        assert _seen(engine, cookie, T0 + dt.timedelta(hours=hour)) is not None
    assert _seen(engine, cookie, T0 + dt.timedelta(hours=24)) is None


def test_disabling_a_user_ends_their_sessions_for_good(engine):
    _, cookie, _ = _session(engine)
    with engine.begin() as conn:
        accounts.set_disabled(conn, "li.ming", True, act())
        accounts.set_disabled(conn, "li.ming", False, act())
    assert _seen(engine, cookie, T0 + minutes(1)) is None


# --- audit ---

def test_account_changes_are_audited_without_any_secret(engine):
    _add(engine, "li.ming")
    with engine.begin() as conn:
        token, doc = accounts.create_token(conn, "li.ming", act(), label="报表")
        accounts.revoke_token(conn, doc["id"], act())
        accounts.set_password(conn, "li.ming", "new-password-2024", act())
        accounts.set_disabled(conn, "li.ming", True, act())
        accounts.set_disabled(conn, "li.ming", False, act())
        assert audit.verify(conn).ok
        events = audit.events(conn)
        hashes = [h for (h,) in conn.execute(select(users.c.password_hash)).all()]
    assert [(e.action, e.subject, e.actor) for e in events] == [
        ("user.added", "user:li.ming", "局办公室"), ("token.created", "user:li.ming", "局办公室"),
        ("token.revoked", "user:li.ming", "局办公室"), ("user.password_changed", "user:li.ming", "局办公室"),
        ("user.disabled", "user:li.ming", "局办公室"), ("user.enabled", "user:li.ming", "局办公室")]
    assert events[0].after == {"role": "supervisor", "unit": None}
    logged = json.dumps([[e.before, e.after, e.subject] for e in events], ensure_ascii=False)
    for secret in [PASSWORD, "new-password-2024", token, "$argon2", *hashes]:
        assert secret not in logged


def test_the_migration_builds_the_account_tables_as_declared(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    ours = {"users", "api_tokens", "web_sessions", "login_failures"}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert [d for d in diff if any(f"'{t}'" in repr(d) for t in ours)] == []
