"""Accounts in the database: users, API tokens, browser sessions and the failed logins that throttle.

Secrets never reach the database or the audit log in clear: passwords are argon2id hashes, API
tokens and session tokens are kept as their sha256 (they are long random strings, so a fast hash is
enough), and the audit log records who changed which account, never a password, hash or token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Connection, delete, func, insert, or_, select, update

from ..accounts import THROTTLE_WINDOW, check_password_policy, check_role, check_user_name, throttle_verdict
from ..errors import AuthFailed, ConflictError, InvalidInput, NotFound, Throttled
from . import audit
from .audit import Act
from .tables import api_tokens, inserted_id, login_failures, users, web_sessions

SESSION_IDLE = dt.timedelta(hours=8)
SESSION_MAX = dt.timedelta(hours=24)
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at / last_seen_at: one write a minute at most, not one a request
TOKEN_PREFIX_LENGTH = 12

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# verified against for an unknown name, so that a miss costs as long as a wrong password
_DUMMY_HASH = _hasher.hash("campaignflow: no such user")
_AUTH_FAILED = "用户名或密码错误，或账号已停用 (wrong user name or password, or the account is disabled)"


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    role: str
    unit: str | None
    display_name: str | None
    must_change_password: bool = False  # a one-time password: only /password until they choose their own


def _principal(row: Any) -> Principal:
    return Principal(row.id, row.name, row.role, row.unit, row.display_name, bool(row.must_change_password))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user(conn: Connection, name: str) -> Any:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise NotFound(f"没有用户 '{name}' (no such user)")
    return row


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- users ---

def add_user(conn: Connection, name: str, role: str, unit: str | None, password: str | None, act: Act,
             display_name: str | None = None, one_time: bool = False) -> dict[str, Any]:
    """Create an account; without a password it can only use API tokens. With `one_time`, the password
    is one handed over by an administrator, and the user must choose their own at the first login."""
    check_user_name(name)
    check_role(role, unit)
    if password is not None:
        check_password_policy(password, name)
    if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
        raise ConflictError(f"用户 '{name}' 已存在 (user already exists)", field="name")
    pw_hash = _hasher.hash(password) if password is not None else None
    user_id = inserted_id(conn.execute(insert(users).values(
        name=name, role=role, unit=unit, display_name=display_name, password_hash=pw_hash, disabled=False,
        created_at=act.at, password_changed_at=act.at if pw_hash else None,
        must_change_password=one_time and pw_hash is not None)))
    audit.append(conn, act, "user.added", None, f"user:{name}", None,
                 {"role": role, "unit": unit, **({"one_time_password": True} if one_time and pw_hash else {})})
    return {"id": user_id, "name": name, "role": role, "unit": unit, "display_name": display_name,
            "password": pw_hash is not None, "created_at": act.at, "must_change_password": one_time and pw_hash is not None}


def set_password(conn: Connection, name: str, password: str, act: Act, one_time: bool = False) -> None:
    """Replace a user's password and end their browser sessions (a stolen cookie dies with the old password).
    With `one_time` it is a reset: a password handed over, which the user must replace at the next login."""
    row = _user(conn, name)
    check_password_policy(password, name)
    conn.execute(update(users).where(users.c.id == row.id).values(
        password_hash=_hasher.hash(password), password_changed_at=act.at, must_change_password=one_time))
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == row.id))
    audit.append(conn, act, "user.password_reset" if one_time else "user.password_changed", None, f"user:{name}")


def change_own_password(conn: Connection, name: str, current: str, new: str, act: Act,
                        keep_session: str | None = None) -> None:
    """A user replaces their own (or their one-time) password: the current one must be right and the new one
    differ from it. Their other browser sessions end; the one they are using (`keep_session`) stays."""
    row = _user(conn, name)
    try:
        if not row.password_hash:
            raise VerificationError
        _hasher.verify(row.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise InvalidInput("当前密码不正确 (the current password is wrong)", field="current") from None
    if new == current:
        raise InvalidInput("新密码不能与当前密码相同 (the new password must differ from the current one)", field="new")
    try:
        check_password_policy(new, name)
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field="new") from None
    conn.execute(update(users).where(users.c.id == row.id).values(
        password_hash=_hasher.hash(new), password_changed_at=act.at, must_change_password=False))
    gone = delete(web_sessions).where(web_sessions.c.user_id == row.id)
    if keep_session is not None:
        gone = gone.where(web_sessions.c.token_hash != _sha256(keep_session))
    conn.execute(gone)
    audit.append(conn, act, "user.password_changed", None, f"user:{name}", None,
                 {"by_user": True, **({"one_time_replaced": True} if row.must_change_password else {})})


def set_disabled(conn: Connection, name: str, disabled: bool, act: Act) -> None:
    """Disable (or enable again) an account; a disabled one has no sessions and its tokens are refused."""
    row = _user(conn, name)
    if disabled:
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id == row.id))
    if row.disabled == disabled:
        return
    conn.execute(update(users).where(users.c.id == row.id).values(disabled=disabled))
    audit.append(conn, act, "user.disabled" if disabled else "user.enabled", None, f"user:{name}",
                 {"disabled": row.disabled}, {"disabled": disabled})


def list_users(conn: Connection, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every account with its count of live tokens (not revoked; and, given `at`, not expired by then)."""
    live: ColumnElement[bool] = api_tokens.c.revoked_at.is_(None)
    if at is not None:
        live = live & or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > at)
    counts: dict[int, int] = dict(conn.execute(select(api_tokens.c.user_id, func.count()).where(live)
                                               .group_by(api_tokens.c.user_id)).tuples().all())
    return [{"name": r.name, "role": r.role, "unit": r.unit, "display_name": r.display_name, "disabled": r.disabled,
             "password": r.password_hash is not None, "created_at": r.created_at, "tokens": counts.get(r.id, 0),
             "must_change_password": bool(r.must_change_password), "last_login_at": r.last_login_at,
             "password_changed_at": r.password_changed_at}
            for r in conn.execute(select(users).order_by(users.c.name))]


def get_principal(conn: Connection, name: str) -> Principal:
    return _principal(_user(conn, name))


# --- logging in ---

def _failure_times(conn: Connection, column: Any, value: str, at: dt.datetime) -> list[dt.datetime]:
    return list(conn.execute(select(login_failures.c.at).where(column == value, login_failures.c.at > at - THROTTLE_WINDOW,
                                                               login_failures.c.at <= at)).scalars())


def _record_failure(conn: Connection, name: str, source: str, at: dt.datetime) -> None:
    # in a transaction of its own: the caller's rolls back with the AuthFailed we raise, and a
    # failure lost that way would never throttle anyone. (On SQLite this needs the caller's
    # transaction not to have written yet: authenticate first, then change things.)
    with conn.engine.begin() as own:
        own.execute(insert(login_failures).values(name=name, source=source, at=at))
        # failures older than the window never count again; pruning them here keeps the table small
        cutoff = at - THROTTLE_WINDOW
        own.execute(delete(login_failures).where(login_failures.c.name == name, login_failures.c.at <= cutoff))
        own.execute(delete(login_failures).where(login_failures.c.source == source, login_failures.c.at <= cutoff))


def authenticate(conn: Connection, name: str, password: str, at: dt.datetime, source: str) -> Principal:
    """The principal whose name and password these are; AuthFailed (one message for every reason) or Throttled."""
    # the columns hold 64 characters; a longer name cannot be a user's, but its failure still counts
    key, source = name[:64], source[:64]
    wait = throttle_verdict(_failure_times(conn, login_failures.c.name, key, at),
                            _failure_times(conn, login_failures.c.source, source, at), at)
    if wait is not None:
        raise Throttled(wait)
    row = conn.execute(select(users).where(users.c.name == name)).first()
    try:
        _hasher.verify(row.password_hash if row is not None and row.password_hash else _DUMMY_HASH, password)
        ok = row is not None and row.password_hash is not None and not row.disabled
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:  # (ok implies a row; said again for the type checker)
        _record_failure(conn, key, source, at)
        raise AuthFailed(_AUTH_FAILED)
    conn.execute(delete(login_failures).where(login_failures.c.name == key))
    if _hasher.check_needs_rehash(row.password_hash):  # parameters raised since this hash was made
        conn.execute(update(users).where(users.c.id == row.id).values(password_hash=_hasher.hash(password)))
    return _principal(row)


# --- API tokens ---

def create_token(conn: Connection, user_name: str, act: Act, expires_days: int | None = None,
                 label: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new API token: the plaintext (shown once, never stored) and its listing entry."""
    if expires_days is not None and expires_days < 1:
        raise InvalidInput("有效期至少 1 天 (a token expires after at least 1 day)", field="expires")
    row = _user(conn, user_name)
    if row.disabled:
        raise ConflictError(f"用户 '{user_name}' 已停用，不能发放令牌 (the user is disabled; no tokens for it)")
    token = "cf_" + secrets.token_urlsafe(32)
    prefix = token[:TOKEN_PREFIX_LENGTH]
    expires_at = act.at + dt.timedelta(days=expires_days) if expires_days is not None else None
    token_id = inserted_id(conn.execute(insert(api_tokens).values(
        user_id=row.id, token_hash=_sha256(token), prefix=prefix, label=label, created_at=act.at,
        expires_at=expires_at)))
    audit.append(conn, act, "token.created", None, f"user:{user_name}", None,
                 {"token": token_id, "prefix": prefix, "label": label, "expires_at": _iso(expires_at)})
    return token, {"id": token_id, "user": user_name, "prefix": prefix, "label": label, "created_at": act.at,
                   "expires_at": expires_at}


def principal_for_token(conn: Connection, token: str, at: dt.datetime) -> Principal | None:
    """Whose token this is, or None when it is unknown, revoked, expired or its user disabled."""
    principal, stale = lookup_token(conn, token, at)
    if stale is not None:
        touch_token(conn, stale, at)
    return principal


def lookup_token(conn: Connection, token: str, at: dt.datetime) -> tuple[Principal | None, int | None]:
    """The token's principal (or None), and its id when its last use is due to be noted (a read only:
    a server looks up in a read transaction and writes the touch apart, once a minute)."""
    row = conn.execute(
        select(api_tokens.c.id.label("token_id"), api_tokens.c.expires_at, api_tokens.c.revoked_at,
               api_tokens.c.last_used_at, users)
        .join(users, users.c.id == api_tokens.c.user_id).where(api_tokens.c.token_hash == _sha256(token))).first()
    if row is None or row.revoked_at is not None or row.disabled:
        return None, None
    if row.expires_at is not None and row.expires_at <= at:
        return None, None
    stale = row.last_used_at is None or at - row.last_used_at >= TOUCH_EVERY
    return _principal(row), row.token_id if stale else None


def touch_token(conn: Connection, token_id: int, at: dt.datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=at))


def list_tokens(conn: Connection, user_name: str | None = None) -> list[dict[str, Any]]:
    q = (select(api_tokens.c.id, users.c.name, api_tokens.c.prefix, api_tokens.c.label, api_tokens.c.created_at,
                api_tokens.c.expires_at, api_tokens.c.revoked_at, api_tokens.c.last_used_at)
         .join(users, users.c.id == api_tokens.c.user_id).order_by(api_tokens.c.id))
    if user_name is not None:
        q = q.where(api_tokens.c.user_id == _user(conn, user_name).id)
    return [{"id": r.id, "user": r.name, "prefix": r.prefix, "label": r.label, "created_at": r.created_at,
             "expires_at": r.expires_at, "revoked_at": r.revoked_at, "last_used_at": r.last_used_at}
            for r in conn.execute(q)]


def revoke_token(conn: Connection, token_id: int, act: Act) -> None:
    row = conn.execute(select(api_tokens.c.prefix, api_tokens.c.revoked_at, users.c.name)
                       .join(users, users.c.id == api_tokens.c.user_id).where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise NotFound(f"没有令牌 #{token_id} (no such token)")
    if row.revoked_at is not None:
        raise ConflictError(f"令牌 #{token_id} 已于 {row.revoked_at:%Y-%m-%d %H:%M} UTC 吊销 (the token is already revoked)")
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=act.at))
    audit.append(conn, act, "token.revoked", None, f"user:{row.name}", None, {"token": token_id, "prefix": row.prefix})


# --- browser sessions ---

def create_session(conn: Connection, user_id: int, at: dt.datetime) -> tuple[str, str]:
    """A new session for a user who just logged in: (session token for the cookie, CSRF token)."""
    # the user's dead sessions go now, so that the table holds roughly the live ones
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id, or_(
        web_sessions.c.expires_at <= at, web_sessions.c.last_seen_at <= at - SESSION_IDLE)))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    conn.execute(update(users).where(users.c.id == user_id).values(last_login_at=at))
    conn.execute(insert(web_sessions).values(token_hash=_sha256(token), user_id=user_id, csrf=csrf, created_at=at,
                                             expires_at=at + SESSION_MAX, last_seen_at=at))
    return token, csrf


def session_principal(conn: Connection, token: str, at: dt.datetime) -> tuple[Principal, str] | None:
    """(principal, CSRF token) of a live session; None when unknown, idle too long, too old, or the user disabled."""
    found = lookup_session(conn, token, at)
    if found is None:
        return None
    principal, csrf, stale = found
    if stale is not None:
        touch_session(conn, stale, at)
    return principal, csrf


def lookup_session(conn: Connection, token: str, at: dt.datetime) -> tuple[Principal, str, int | None] | None:
    """(principal, CSRF token, the session's id when its last use is due to be noted) — a read only."""
    row = conn.execute(
        select(web_sessions.c.id.label("session_id"), web_sessions.c.csrf, web_sessions.c.expires_at,
               web_sessions.c.last_seen_at, users)
        .join(users, users.c.id == web_sessions.c.user_id).where(web_sessions.c.token_hash == _sha256(token))).first()
    if row is None or row.disabled or row.expires_at <= at or at - row.last_seen_at >= SESSION_IDLE:
        return None
    stale = at - row.last_seen_at >= TOUCH_EVERY
    return _principal(row), row.csrf, row.session_id if stale else None


def touch_session(conn: Connection, session_id: int, at: dt.datetime) -> None:
    conn.execute(update(web_sessions).where(web_sessions.c.id == session_id).values(last_seen_at=at))


def end_session(conn: Connection, token: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == _sha256(token)))
