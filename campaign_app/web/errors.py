"""Every error a client can meet, as JSON with a message and the field at fault; never a traceback.

    ApiError(status, code, message, field)   raised by the HTTP layer itself (401, 403, 404, 413, 415, 422)
    campaign_model.errors.*                   mapped: NotFound 404, InvalidInput 422 (RowsInvalid: one entry
                                              per row problem), ConflictError 409, SpecInvalid 422 (one per
                                              problem), AuthFailed 401, Throttled 429 with Retry-After
    RequestValidationError                    422, one entry per field
    anything else                             500 with a reference, logged with its traceback

The body is {"error": {"status", "code", "message", "fields": [{"field", "message", ...}]}}. Pages
(paths outside /api/) get the same message as a small HTML page.
"""

from __future__ import annotations

import html
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaign_model.errors import AuthFailed, CampaignError, ConflictError, NotFound, SpecInvalid, Throttled

log = logging.getLogger("campaignflow.web")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 fields: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields if fields is not None else ([{"field": field, "message": message}] if field else [])
        self.headers = headers or {}


def unauthenticated() -> ApiError:
    return ApiError(401, "unauthenticated", "需要登录或 API 令牌 (authentication required: log in, or send "
                                            "Authorization: Bearer TOKEN)", headers={"WWW-Authenticate": "Bearer"})


def forbidden(what: str) -> ApiError:
    return ApiError(403, "forbidden", f"无权操作：{what} (not allowed: {what})")


def _row_fields(exc: Any, field: str) -> list[dict[str, Any]]:
    return [{"field": field, "row": p.get("row"), "column": p.get("column"), "message": p["message"],
             **({"cell": p["cell"]} if p.get("cell") else {})} for p in exc.problems]


def from_domain(exc: CampaignError, field_hint: str | None = None) -> ApiError:
    """A domain error as an ApiError naming the request field at fault: `field_hint` when the route knows
    better (a file upload's form field), else the field the error itself carries (`exc.field`)."""
    from campaign_model.rows import RowsInvalid

    msg = str(exc)
    field_hint = field_hint or exc.field
    if isinstance(exc, RowsInvalid):
        return ApiError(422, "rows_invalid", msg, fields=_row_fields(exc, field_hint or "rows"))
    if isinstance(exc, SpecInvalid):
        fields = [{"field": field_hint or "spec", "line": p.line, "path": p.path, "message": p.message}
                  for p in exc.problems]
        return ApiError(422, "spec_invalid", msg, fields=fields)
    if isinstance(exc, Throttled):
        return ApiError(429, "throttled", msg, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, AuthFailed):
        return ApiError(401, "auth_failed", msg)
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", msg, field_hint)
    if isinstance(exc, ConflictError):
        return ApiError(409, "conflict", msg, field_hint)
    return ApiError(422, "invalid", msg, field_hint)


def _body(err: ApiError) -> dict[str, Any]:
    return {"error": {"status": err.status, "code": err.code, "message": err.message, "fields": err.fields}}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.url.path != "/openapi.json"


TITLES = {401: ("请先登录", "Please log in"), 403: ("无权访问", "Not allowed"), 404: ("未找到", "Not found"),
          413: ("文件过大", "Too large"), 415: ("文件类型不允许", "File type not allowed"), 422: ("输入有误", "Invalid input"),
          429: ("尝试过于频繁", "Too many attempts")}


def error_page(status: int, message: str, lang: str = "zh") -> HTMLResponse:
    zh, en = TITLES.get(status, ("出错了", "Something went wrong"))
    title = en if lang == "en" else zh
    back = "返回首页" if lang == "zh" else "Home"
    page = (f"<!doctype html><html lang=\"{'en' if lang == 'en' else 'zh-CN'}\"><head><meta charset=\"utf-8\">"
            f"<title>{status} {title}</title>"
            f"<link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"error-page\">"
            f"<h1>{status} {title}</h1><p class=\"error\">{html.escape(message)}</p><p><a href=\"/\">{back}</a></p>"
            f"</main></body></html>")
    return HTMLResponse(page, status_code=status)


def respond(request: Request, err: ApiError) -> Response:
    if _wants_html(request):
        response: Response = error_page(err.status, err.message, "en" if request.cookies.get("lang") == "en" else "zh")
        response.headers.update(err.headers)
        return response
    return JSONResponse(_body(err), status_code=err.status, headers=err.headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return respond(request, exc)

    @app.exception_handler(CampaignError)
    async def _domain(request: Request, exc: CampaignError) -> Response:
        return respond(request, from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        fields = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header", "cookie")]
            fields.append({"field": ".".join(loc) or None, "message": _validation_message(e)})
        names = ", ".join(f["field"] for f in fields if f["field"]) or "?"
        # each field with what is wrong with it: the page shows only the message
        said = "；".join(f"{f['field'] or '?'}: {f['message']}" for f in fields[:5])
        return respond(request, ApiError(422, "invalid", f"请求有误：{names} (invalid request: {names}) — {said}", fields=fields))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "没有这个地址 (no such address)", 405: "不支持此请求方法 (method not allowed)"}
        message = messages.get(exc.status_code, str(exc.detail))
        return respond(request, ApiError(exc.status_code, "http_error", message, headers=dict(exc.headers or {})))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.error("内部错误 (internal error) ref=%s %s %s", ref, request.method, request.url.path, exc_info=exc)
        return respond(request, ApiError(500, "internal", f"服务器内部错误，参考号 {ref} (internal error; reference {ref})"))


def _validation_message(e: dict[str, Any]) -> str:
    kind = e.get("type", "")
    if kind == "missing":
        return "必填 (required)"
    bound = (e.get("ctx") or {})
    if kind in ("less_than_equal", "less_than"):
        return f"数值过大，最大 {bound.get('le', bound.get('lt'))} (too large: at most {bound.get('le', bound.get('lt'))})"
    if kind in ("greater_than_equal", "greater_than"):
        return f"数值过小，最小 {bound.get('ge', bound.get('gt'))} (too small: at least {bound.get('ge', bound.get('gt'))})"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "应为整数 (must be a whole number)"
    return f"{e.get('msg', '无效')} (invalid)"
