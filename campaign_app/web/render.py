"""Server-rendered pages: one Jinja2 environment, the language of the request, and `T(zh, en)` in templates.

Chinese is the default; `?lang=en` (or the language link on every page) sets a cookie for English.
Templates are autoescaped; every form carries the session's CSRF token as `csrf`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from campaign_model import labels

TEMPLATES = Path(__file__).parent / "templates"
LANG_COOKIE = "lang"

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
# the names of the states, defined once for the command line, the pages and the reports (_macros.html reads them)
_env.globals.update(PHASE_STATE=labels.PHASE_STATE, OBLIGATION_STATE=labels.OBLIGATION_STATE,
                    LEDGER_STATE=labels.LEDGER_STATE)


def lang_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return "en" if chosen == "en" else "zh"


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    caller = getattr(request.state, "caller", None)

    def T(zh: str, en: str) -> str:  # noqa: N802 - reads as a marker in templates
        return en if lang == "en" else zh

    html = _env.get_template(template).render(
        request=request, lang=lang, T=T, caller=caller, csrf=caller.csrf if caller else context.pop("csrf", ""),
        path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
