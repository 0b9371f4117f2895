"""The OpenAPI document at /openapi.json: every status an operation can answer, each error with its schema.

FastAPI documents a route's success and, when it has parameters, a 422 in its own validation format.
This API answers more, always in one error format (`web/errors.py`), so after FastAPI has written the
document each operation gets the statuses its shape implies, generically, so that a route added later
gets them without a word:

    needs credentials (a `require(right)` dependency)   401 (with WWW-Authenticate), 403
    a path parameter (a campaign key, an id)            404
    parameters or a body                                422 (one entry per field at fault)
    a request body                                      400 (a body that cannot be parsed), 413 (over the limit)
    a multipart body (uploads)                          415 (a file type not allowed)
    a write (POST, PUT, PATCH, DELETE)                  409 (the current state forbids it; it exists already)

A route that answers something else says so in its decorator's `responses=`; what it says there is kept
(its description), and an error status gets the `Error` schema. The bearer scheme is declared, and each
operation that needs credentials names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "description": "每个错误的统一格式 (every error answer: what went wrong, and the fields at fault)",
        "properties": {"error": {
            "type": "object", "required": ["status", "code", "message", "fields"],
            "properties": {
                "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "HTTP 状态码 (the status)"},
                "code": {"type": "string", "description": "错误代码，如 not_found、forbidden、rows_invalid (a stable code)"},
                "message": {"type": "string", "description": "中文在前、英文在后的说明 (the message, Chinese then English)"},
                "fields": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorField"},
                           "description": "出错的字段，逐项说明 (the fields at fault, one entry each)"}}}},
    },
    "ErrorField": {
        "type": "object", "required": ["message"],
        "properties": {
            "field": {"type": ["string", "null"], "description": "字段名，如 unit、files、rows (the request field)"},
            "message": {"type": "string"},
            "row": {"type": ["integer", "null"], "description": "逐行材料的行号 (row of a rows file)"},
            "column": {"type": ["string", "null"], "description": "逐行材料的列 (column of a rows file)"},
            "cell": {"type": "string", "description": "表格文件中的单元格，如 H5 (the cell of a CSV or XLSX rows file, e.g. H5)"},
            "line": {"type": ["integer", "null"], "description": "规格文件的行号 (line of a spec)"},
            "path": {"type": ["string", "null"], "description": "规格中的位置 (place in a spec)"},
        },
    },
}

DESCRIPTIONS = {
    400: "请求体无法解析 (the body cannot be parsed)",
    401: "需要登录或 API 令牌，或令牌无效 (no credentials, or the token is unknown, expired or revoked)",
    403: "无此权限，单位不在调用者的范围内，或缺少 CSRF 令牌 (no right, a unit outside the caller's scope, or no CSRF token)",
    404: "活动、单位、报送或条目不存在 (no such campaign, unit, filing or item)",
    409: "当前状态不允许此操作，或已存在 (the current state forbids it, or it exists already)",
    413: "请求或文件过大 (the request or a file is too large)",
    415: "文件类型不允许 (a file type that is not allowed)",
    422: "输入有误，逐项说明出错的字段 (invalid input: each field at fault)",
    429: "尝试过于频繁，见 Retry-After (too many attempts; see Retry-After)",
}

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BEARER = "bearerAuth"


def install(app: FastAPI) -> None:
    """Serve the completed document at the app's openapi_url (built once per change of the routes)."""

    def openapi() -> dict[str, Any]:
        return complete(FastAPI.openapi(app), app)

    app.openapi = openapi  # type: ignore[method-assign]


def complete(doc: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """`doc` (FastAPI's document of `app`) with every operation's error statuses; idempotent."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(ERROR_SCHEMAS)
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http", "scheme": "bearer",
        "description": "`campaign token create` 生成的令牌 (a token from `campaign token create`)"}
    for route in _api_routes(app):
        for method in sorted(route.methods or ()):
            op = doc.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if op is not None:
                _document(op, route, method)
    # FastAPI's own validation format is no answer of this API: every 422 is an Error
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return doc


def statuses(route: Any, method: str, op: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from its shape."""
    found: set[int] = set()
    if right_of(route.dependant) is not None:
        found |= {401, 403}
    if route.dependant.path_params:
        found |= {404, 422}
    if route.dependant.query_params:
        found.add(422)
    body = op.get("requestBody")
    if body is not None:
        found |= {400, 413, 422}
        if "multipart/form-data" in body.get("content", {}):
            found.add(415)
    if method in WRITES:
        found.add(409)
    return found


def right_of(dependant: Dependant) -> str | None:
    """The right a route requires (deps.require marks its dependency), searched through sub-dependencies."""
    right = getattr(dependant.call, "right", None)
    if isinstance(right, str):
        return right
    for sub in dependant.dependencies:
        if (found := right_of(sub)) is not None:
            return found
    return None


def _document(op: dict[str, Any], route: Any, method: str) -> None:
    responses = op.setdefault("responses", {})
    for status in sorted(statuses(route, method, op) | {int(s) for s in responses if s.isdigit() and int(s) >= 400}):
        answer = responses.setdefault(str(status), {})
        if answer.get("description") in (None, "Validation Error"):  # FastAPI's own words for its 422
            answer["description"] = DESCRIPTIONS.get(status, "错误 (error)")
        answer["content"] = {"application/json": {"schema": ERROR_REF}}
        if status == 401:
            answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
        if status == 429:
            answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "秒 (seconds)"}}
    op["responses"] = {k: responses[k] for k in sorted(responses)}
    if right_of(route.dependant) is not None:
        op["security"] = [{BEARER: []}]
        op.setdefault("x-right", right_of(route.dependant))


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """Each API route as the document sees it: its full path (with the router's prefix), methods and dependant."""
    try:  # FastAPI >= 0.150 keeps included routers as such: a route's context carries its effective path
        from fastapi.routing import iter_route_contexts
        routes: Any = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    except ImportError:  # pragma: no cover - earlier FastAPI flattens included routes into app.routes
        routes = [r for r in app.routes if isinstance(r, APIRoute)]
    for route in routes:
        if route.include_in_schema:
            yield route
