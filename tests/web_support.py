"""Shared helpers for the HTTP API tests: the app on a real database, a clock the test moves, accounts
with their bearer tokens, and the small campaign (conftest.SMALL_SPEC) under any key.

The small campaign asks the schools s1 and s2 (children of the 学区 d1) for a signed `plan` and an
`issue_list` of rows; the bureau files the `summary`.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services, UploadLimits
from campaign_app.web.app import create_app
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user, create_token
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign

from .conftest import SMALL_SPEC, local

# starlette's TestClient warns that it still runs on httpx; the test modules filter the same warning
HTTPX_WARNING = "ignore:Using `httpx` with `starlette.testclient` is deprecated"

PDF = b"%PDF-1.4 signed and stamped plan"
ISSUE_HEADER = "问题,类别,整改措施,责任领导,牵头股室,整改时限"
ISSUE_ROW = "作风不实,松,加强学习,王副校长,办公室,2023-04-30"
CREATED = "2023-02-01T09:00"
NOW = "2023-03-10T10:00"  # the server's "now" unless a test moves it: self-check is under way


class Clock:
    """The server's clock, set and moved by the test (the app reads it on every request)."""

    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        self.at += delta


def client_for(app: Any) -> Any:
    """A TestClient that answers 500s instead of raising them, so that error bodies can be checked."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
        from starlette.testclient import TestClient

        return TestClient(app, raise_server_exceptions=False)


def serve(engine: Engine, home: Path, clock: Clock | None = None, limits: UploadLimits | None = None) -> Any:
    """The real app over `engine`, its files under `home`, and a client for it."""
    settings = Settings(home, str(engine.url.render_as_string(hide_password=False)))
    services = Services(settings, engine, clock=clock or Clock(local(NOW)), **({"limits": limits} if limits else {}))
    return client_for(create_app(services))


def api_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers under /api/v1."""
    try:  # FastAPI >= 0.150 keeps included routers as such; this walks into them
        from fastapi.routing import iter_route_contexts
        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - earlier FastAPI flattens included routes into app.routes
        routes = app.routes
    return {(method, r.path) for r in routes if (r.path or "").startswith("/api/v1/")
            for method in (r.methods or ()) if method != "HEAD"}


def act(when: str = CREATED, actor: str = "局办公室") -> Act:
    return Act(local(when), actor, local(when))


def new_campaign(engine: Engine, key: str = "small-2023", when: str = CREATED) -> str:
    """The small campaign under `key`, created at `when`."""
    spec = SMALL_SPEC.replace("key: small-2023", f"key: {key}", 1)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(spec, f"{key}.yaml"), act(when))
    return key


def account(engine: Engine, name: str, role: str, unit: str | None = None, password: str | None = None) -> str:
    """A user and a bearer token for it."""
    with engine.begin() as conn:
        add_user(conn, name, role, unit, password, act())
        token, _ = create_token(conn, name, act())
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue_rows(*lines: str) -> bytes:
    return ("\n".join((ISSUE_HEADER, *lines)) + "\n").encode("utf-8")


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
