"""The web application: the API under /api/v1, the dashboard at /, the public board at /public/{campaign}.

`create_app(services)` is the one place the web layer is wired; `campaign serve` runs it with uvicorn in
the same process as the scheduler. Pages and API share the services, the rights and the error format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from . import errors
from .services import Services
from .uploads import BodyLimit

STATIC = Path(__file__).parent / "static"

# no script, style or image from anywhere else: the dashboard works without a CDN or the internet
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'; object-src 'none'")


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

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path.startswith("/api/") or request.url.path in ("/login",):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.add_middleware(BodyLimit, limit=services.limits.request_bytes)

    from .api import router as api_router
    from .auth_pages import router as auth_router
    from .page_auth import LoginRequired, login_redirect
    from .pages import router as pages_router

    app.include_router(api_router)
    app.include_router(auth_router)
    app.include_router(pages_router)
    app.add_exception_handler(LoginRequired, login_redirect)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
