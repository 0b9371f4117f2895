"""Every integer a client sends is bounded (issue 15, finding 1).

An id, an index, an offset or a page number beyond a signed 64-bit integer once reached the database
and came back as a 500 (OverflowError). Now each is a 422 naming the field: JSON for the API, the
error page for the pages. A walk over every route of the app checks that each int parameter in a
path, a query, a form or a JSON body carries an upper bound, so that a route added later cannot
bring the 500 back.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from annotated_types import Le, Lt
from pydantic import BaseModel

from campaign_model.store.accounts import add_user
from campaign_model.store.tables import audit_events

from .test_pages import csrf_of
from .web_support import HTTPX_WARNING, account, act, bearer, count, new_campaign, serve

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

C = "small-2023"
HUGE = 2**63  # one past SQLite's and PostgreSQL's largest integer
PASSWORD = "qingfeng-2024"


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'campaign.db'}"


@pytest.fixture
def site(engine, tmp_path):
    new_campaign(engine, C)
    token = account(engine, "admin", "admin")
    with engine.begin() as conn:
        add_user(conn, "pageadmin", "admin", None, PASSWORD, act())
    return serve(engine, tmp_path / "home"), bearer(token), engine


def assert_names(response: Any, field: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text)
    fields = [f["field"] for f in response.json()["error"]["fields"]]
    assert field in fields, fields


API_CALLS = [
    ("get", f"/api/v1/audit?offset={HUGE}", None, "offset"),
    ("get", "/api/v1/audit?offset=-1", None, "offset"),
    ("get", f"/api/v1/audit?limit={HUGE}", None, "limit"),
    ("get", f"/api/v1/campaigns/{C}/filings/{HUGE}", None, "filing_id"),
    ("get", f"/api/v1/campaigns/{C}/filings/0", None, "filing_id"),
    ("get", f"/api/v1/campaigns/{C}/filings/1/files/{HUGE}", None, "n"),
    ("get", f"/api/v1/campaigns/{C}/filings/{HUGE}/files/0", None, "filing_id"),
    ("post", f"/api/v1/ledger/{HUGE}/verify", {"json": {"decision": "close", "comment": "好"}}, "item"),
    ("post", f"/api/v1/ledger/{HUGE}/progress", {"data": {"state": "in_progress"}}, "item"),
    ("post", f"/api/v1/campaigns/{C}/reminders", {"json": {"obligations": [1, HUGE]}}, "obligations.1"),
    ("post", f"/api/v1/campaigns/{C}/reminders", {"json": {"obligations": [-HUGE]}}, "obligations.0"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), API_CALLS, ids=[c[1] + " " + c[3] for c in API_CALLS])
def test_an_integer_beyond_64_bits_is_a_422_naming_the_field_over_the_api(site, method, path, body, field):
    client, admin, engine = site
    before = count(engine, audit_events)
    response = getattr(client, method)(path, headers=admin, **(body or {}))
    assert_names(response, field)
    assert response.json()["error"]["code"] == "invalid"
    assert count(engine, audit_events) == before  # nothing changed


def test_the_largest_64_bit_id_is_accepted_and_simply_not_found(site):
    client, admin, _ = site
    response = client.get(f"/api/v1/campaigns/{C}/filings/{HUGE - 1}", headers=admin)
    assert response.status_code == 404, response.text
    response = client.post(f"/api/v1/ledger/{HUGE - 1}/verify", headers=admin, json={"decision": "close", "comment": "好"})
    assert response.status_code == 404, response.text


def login(client: Any) -> None:
    form = client.get("/login")
    answer = client.post("/login", data={"name": "pageadmin", "password": PASSWORD, "csrf": csrf_of(form.text)},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


PAGE_CALLS = [
    ("get", f"/audit?page={HUGE}", None, "page"),
    ("get", f"/c/{C}/ledger?found={HUGE}", None, "found"),
    ("get", f"/c/{C}/ledger/{HUGE}", None, "item"),
    ("get", f"/c/{C}/overdue?done={HUGE}", None, "done"),
    ("get", f"/c/{C}/overdue?items={HUGE}", None, "items"),
    ("get", f"/c/{C}/ledger/{HUGE}/evidence/0", None, "item"),
    ("get", f"/c/{C}/ledger/1/evidence/{HUGE}", None, "n"),
    ("post", f"/c/{C}/ledger/{HUGE}/verify", {"decision": "close", "comment": "好"}, "item"),
    ("post", f"/c/{C}/ledger/{HUGE}/progress", {"state": "in_progress"}, "item"),
    ("post", f"/c/{C}/remind", {"obligation": [str(HUGE)]}, "obligation"),
]


@pytest.mark.parametrize(("method", "path", "form", "field"), PAGE_CALLS, ids=[c[1] for c in PAGE_CALLS])
def test_an_integer_beyond_64_bits_is_the_error_page_naming_the_field(site, method, path, form, field):
    client, _, engine = site
    login(client)
    before = count(engine, audit_events)
    response = client.request(method.upper(), path, data=form, follow_redirects=False)
    assert response.status_code == 422, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    assert field in response.text and "Traceback" not in response.text
    assert "输入有误" in response.text  # the error page's own title, not a bare status
    assert "(too large: at most 9223372036854775807)" in response.text or "(too large: at most 1" in response.text
    assert count(engine, audit_events) == before  # nothing changed


# --- every int parameter of every route is bounded ---

def _routes(app: Any) -> list[Any]:
    try:
        from fastapi.routing import iter_route_contexts
        return list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - earlier FastAPI flattens included routers into app.routes
        return list(app.routes)


def _unbounded(annotation: Any, metadata: list[Any], where: str) -> list[str]:
    """The places under `where` where an int may arrive without an upper bound."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        found: list[Any] = []
        for m in extra:
            found.extend(getattr(m, "metadata", []) or [m])
        return _unbounded(inner, metadata + found, where)
    if annotation is int:
        return [] if any(isinstance(m, (Le, Lt)) for m in metadata) else [where]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [p for name, f in annotation.model_fields.items()
                for p in _unbounded(f.annotation, list(f.metadata), f"{where}.{name}")]
    if origin in (typing.Union, types.UnionType):
        return [p for arg in typing.get_args(annotation) for p in _unbounded(arg, metadata, where)]
    if origin in (list, set, frozenset, tuple, dict):
        return [p for arg in typing.get_args(annotation) if arg is not Ellipsis
                for p in _unbounded(arg, [], f"{where}[]")]
    return []


def _params(dependant: Any) -> list[tuple[str, Any]]:
    out = []
    for kind in ("path_params", "query_params", "body_params", "header_params", "cookie_params"):
        out.extend((kind, p) for p in getattr(dependant, kind, []))
    for sub in dependant.dependencies:
        out.extend(_params(sub))
    return out


def test_every_int_parameter_of_every_route_has_an_upper_bound(site):
    client, _, _ = site
    unbounded, seen_ints = [], 0
    for route in _routes(client.app):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        for kind, p in _params(dependant):
            info = p.field_info
            where = f"{sorted(route.methods or [])} {route.path} {kind}:{p.name}"
            found = _unbounded(info.annotation, list(info.metadata), where)
            seen_ints += bool(found) or "int" in str(info.annotation)
            unbounded.extend(found)
    assert seen_ints >= 10  # the walk does reach the int parameters (ids, indexes, pages, bodies)
    assert unbounded == []


class _Probe(BaseModel):
    ids: list[int]


def test_the_walk_finds_an_unbounded_int_in_a_path_a_query_and_a_body():
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/x/{n}")
    def x(n: int, body: _Probe, page: int | None = None) -> None:
        return None

    route = next(r for r in app.routes if getattr(r, "path", "") == "/x/{n}")
    found = [w for _, p in _params(route.dependant)
             for w in _unbounded(p.field_info.annotation, list(p.field_info.metadata), p.name)]
    assert found == ["n", "page", "body.ids[]"]


def test_a_due_counted_in_billions_of_working_days_is_refused_before_any_day_is_counted():
    """Resolving 'start + N workdays' walks the calendar day by day: a spec (uploaded or edited in the browser)
    asking for billions must be refused at once, naming the step, not keep validation busy for minutes."""
    from campaign_model.catalog import template_text
    from campaign_model.errors import SpecInvalid
    from campaign_model.specfile import load_spec_text

    text = template_text("zuofeng-2023").replace("start + 10 workdays", "start + 99999999999 workdays", 1)
    assert "99999999999 workdays" in text
    with pytest.raises(SpecInvalid) as refused:  # before the bound, this walked the calendar for minutes
        load_spec_text(text, "big.yaml")
    message = str(refused.value)
    assert "超过 3650 天" in message and "99999999999 workdays" in message and "big.yaml" in message
