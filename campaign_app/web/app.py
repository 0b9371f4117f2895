"""The web application: the API under /api/v1, the dashboard at /, the public board at /public/{campaign}.

`create_app(services)` is the one place the web layer is wired; `campaign serve` runs it with uvicorn in
the same process as the scheduler. Pages and API share the services, the rights and the error format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..usecases.services import Services
from . import errors, openapi_doc
from .uploads import BodyLimit

STATIC = Path(__file__).parent / "static"

# no script, style or image from anywhere else: the dashboard works without a CDN or the internet
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'; object-src 'none'")


class SecurityHeaders:
    """Plain ASGI middleware (BaseHTTPMiddleware costs about half a millisecond a request): the headers every
    response carries unless it set its own, and no caching of API answers or the login form."""

    BASE = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin")]

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = self.BASE + ([(b"cache-control", b"no-store")] if path.startswith("/api/") or path == "/login" else [])

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *((n, v) for n, v in extra if n not in present)]}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="campaignflow",
        version="1",
        description="多阶段专项活动的流程引擎 HTTP 接口 (the HTTP API of campaignflow). "
                    "程序使用 `Authorization: Bearer TOKEN`（`campaign token create` 生成）；浏览器使用登录会话。"
                    "错误均为 JSON：{error: {status, code, message, fields}}。",
        docs_url=None, redoc_url=None,  # the interactive docs load scripts from a CDN; the document itself is served
        openapi_url="/openapi.json",
    )
    app.state.services = services
    errors.install(app)
    openapi_doc.install(app)  # every status each operation answers, documented when the document is built

    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=services.limits.request_bytes)

    from .api import router as api_router
    from .auth_pages import router as auth_router
    from .page_auth import LoginRequired, PasswordChangeRequired, login_redirect, password_redirect
    from .pages import router as pages_router
    from .workbook_pages import router as workbook_router

    app.include_router(api_router)
    app.include_router(auth_router)
    app.include_router(pages_router)
    app.include_router(workbook_router)
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_exception_handler(PasswordChangeRequired, password_redirect)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def served_app(settings: Any, on_remind: Any) -> FastAPI:
    """The app `campaign serve` runs on the settings' database (the serving process brought its schema up
    to date before it started)."""
    from campaign_model.store.db import open_engine

    return create_app(Services(settings, open_engine(settings.db_url, migrate=False), on_remind=on_remind))


def app_from_env() -> FastAPI:
    """The app of one `campaign serve --workers N` process: its settings from the environment; "remind now"
    asks the scheduler (in the serving parent process) for a tick through the job store."""
    from ..settings import Settings

    settings = Settings.from_env()

    def request_tick(key: str) -> None:
        from flows.schedule import request_run

        request_run(settings.db_url, key)

    return served_app(settings, request_tick)
