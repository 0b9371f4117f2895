"""The OpenAPI document lists every status each operation answers, each error with the Error schema.

Requests drive operations of every kind into each error status the API has (400, 401, 403, 404, 409, 413,
415, 422); each answer must be one the document lists for that operation, with a body of the documented
Error shape. The document itself: every operation but the public ones needs credentials and says so
(401, 403, the bearer scheme); every error answer refers to the Error schema; FastAPI's own validation
format, which this API never answers, is gone. On SQLite only: the statuses do not depend on the database
(tests/test_api_access.py runs the rights on both).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from campaign_app.usecases.services import UploadLimits
from campaign_model.store.db import open_engine

from .conftest import SMALL_SPEC
from .test_api_access import World, build_world
from .web_support import HTTPX_WARNING, PDF, account, bearer, serve

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

V = "/api/v1"
PUBLIC = {("GET", f"{V}/health"), ("GET", f"{V}/public/{{key}}")}
TOO_BIG = 64 * 1024  # the request limit of this module's app: a request over it is a 413


class Site:
    def __init__(self, client: Any, world: World, tokens: dict[str, str]):
        self.client, self.world, self.tokens = client, world, tokens
        self.doc: dict[str, Any] = client.get("/openapi.json").json()

    def call(self, method: str, route: str, as_: str | None = "admin", fill: dict[str, Any] | None = None,
             **kwargs: Any) -> Any:
        """One request to `route` (a path of the document); its status must be documented for the operation."""
        w = self.world
        values = {"key": w.key, "filing_id": w.filing, "n": 0, "item": w.item, "kind": "ledger", **(fill or {})}
        headers = kwargs.pop("headers", bearer(self.tokens[as_]) if as_ else {})
        response = self.client.request(method, route.format(**values), headers=headers, **kwargs)
        op = self.doc["paths"][route][method.lower()]
        assert str(response.status_code) in op["responses"], \
            f"{method} {route} answered {response.status_code}, documented {sorted(op['responses'])}: {response.text[:300]}"
        if response.status_code >= 400:
            assert_error_shape(response.json(), response.status_code)
            schema = op["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}
        return response


def assert_error_shape(body: dict[str, Any], status: int) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert error["status"] == status and isinstance(error["code"], str) and error["message"]
    assert isinstance(error["fields"], list)
    for f in error["fields"]:
        assert isinstance(f["message"], str) and (f.get("field") is None or isinstance(f["field"], str))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    home = tmp_path_factory.mktemp("statuses")
    scratch = home / "scratch"
    scratch.mkdir()
    engine = open_engine(f"sqlite:///{home / 'campaign.db'}")
    world = build_world(engine, home / "home" / "files", scratch, "small-2023")
    tokens = {"admin": account(engine, "admin", "admin"), "viewer": account(engine, "viewer", "viewer"),
              "s2": account(engine, "s2user", "unit", "s2")}
    client = serve(engine, home / "home", limits=UploadLimits(request_bytes=TOO_BIG))
    return Site(client, world, tokens)


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_every_operation_but_the_public_ones_documents_401_and_403_and_the_bearer_scheme(site):
    ops = operations(site.doc)
    assert len(ops) >= 28
    assert site.doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": site.doc["components"]["securitySchemes"]["bearerAuth"]["description"]}
    for method, path, op in ops:
        if (method, path) in PUBLIC:
            assert "401" not in op["responses"] and "security" not in op, (method, path)
            continue
        assert {"401", "403"} <= set(op["responses"]), (method, path, sorted(op["responses"]))
        assert op["security"] == [{"bearerAuth": []}]
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
    assert {(m, p) for m, p, _ in ops} >= PUBLIC


def test_every_error_answer_refers_to_the_error_schema_and_fastapis_own_format_is_gone(site):
    schemas = site.doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Error"]["properties"]["error"]["required"] == ["status", "code", "message", "fields"]
    for method, path, op in operations(site.doc):
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                assert answer["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, \
                    (method, path, status)
                assert answer["description"] != "Validation Error"
        if "requestBody" in op:
            assert {"400", "413", "422"} <= set(op["responses"]), (method, path)
        if "{" in path:
            assert "404" in op["responses"], (method, path)


def test_401_without_credentials_or_with_a_bad_token(site):
    for route in (f"{V}/me", f"{V}/campaigns/{{key}}", f"{V}/campaigns/{{key}}/filings/{{filing_id}}/files/{{n}}",
                  f"{V}/audit/verify"):
        r = site.call("GET", route, as_=None)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert site.call("GET", f"{V}/campaigns", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert site.call("POST", f"{V}/campaigns/{{key}}/advance", headers={"Authorization": "Basic x"}, json={}).status_code == 401


def test_403_without_the_right_or_outside_the_callers_units(site):
    assert site.call("POST", f"{V}/campaigns/{{key}}/advance", as_="viewer", json={"force": False}).status_code == 403
    assert site.call("GET", f"{V}/campaigns/{{key}}/filings/{{filing_id}}", as_="s2").status_code == 403
    assert site.call("GET", f"{V}/audit", as_="s2").status_code == 403
    assert site.call("POST", f"{V}/campaigns/{{key}}/findings", as_="s2", json={"unit": "s1", "problem": "x"}).status_code == 403


def test_404_for_what_does_not_exist(site):
    assert site.call("GET", f"{V}/campaigns/{{key}}", fill={"key": "no-such"}).status_code == 404
    assert site.call("GET", f"{V}/public/{{key}}", as_=None, fill={"key": "no-such"}).status_code == 404
    assert site.call("GET", f"{V}/campaigns/{{key}}/filings/{{filing_id}}", fill={"filing_id": 999_999}).status_code == 404
    assert site.call("GET", f"{V}/campaigns/{{key}}/filings/{{filing_id}}/files/{{n}}", fill={"n": 7}).status_code == 404
    assert site.call("GET", f"{V}/campaigns/{{key}}/reports/{{kind}}", fill={"kind": "nonsense"}).status_code == 404
    assert site.call("POST", f"{V}/ledger/{{item}}/verify", fill={"item": 999_999},
                     json={"decision": "close", "comment": "ok"}).status_code == 404


def test_409_when_the_state_forbids_it(site):
    # the open finding has no fix reported: it cannot be closed
    assert site.call("POST", f"{V}/ledger/{{item}}/verify", json={"decision": "close", "comment": "ok"}).status_code == 409
    # s2's plan was never filed: nothing to review
    assert site.call("POST", f"{V}/campaigns/{{key}}/reviews",
                     json={"unit": "s2", "artifact": "plan", "decision": "accept"}).status_code == 409
    # the self-check phase's gate is not met: no advance without force
    assert site.call("POST", f"{V}/campaigns/{{key}}/advance", json={}).status_code == 409
    # a campaign under this key exists already
    spec = {"spec": ("spec.yaml", SMALL_SPEC.encode(), "application/x-yaml")}
    assert site.call("POST", f"{V}/campaigns", files=spec).status_code == 409


def test_422_for_invalid_fields_and_numbers_beyond_bounds(site):
    assert site.call("GET", f"{V}/audit", params={"offset": 2**63}).status_code == 422
    assert site.call("GET", f"{V}/campaigns/{{key}}/filings/{{filing_id}}", fill={"filing_id": 2**64}).status_code == 422
    assert site.call("POST", f"{V}/campaigns/{{key}}/reviews", json={"unit": "s1"}).status_code == 422
    assert site.call("POST", f"{V}/campaigns/{{key}}/reminders", content=b"{not json",
                     headers={**bearer(site.tokens["admin"]), "Content-Type": "application/json"}).status_code == 422
    assert site.call("POST", f"{V}/campaigns/{{key}}/filings", data={"unit": "s1"}).status_code == 422


def test_400_for_a_body_that_cannot_be_parsed(site):
    no_boundary = {**bearer(site.tokens["admin"]), "Content-Type": "multipart/form-data"}
    for route in (f"{V}/campaigns/{{key}}/filings", f"{V}/campaigns/{{key}}/units", f"{V}/ledger/{{item}}/progress"):
        assert site.call("POST", route, content=b"unit=s1", headers=no_boundary).status_code == 400


def test_413_for_a_request_over_the_limit(site):
    big = {"files": [("files", ("scan.pdf", PDF + b"0" * TOO_BIG, "application/pdf"))]}
    r = site.call("POST", f"{V}/campaigns/{{key}}/filings", data={"unit": "s1", "artifact": "plan"}, **big)
    assert r.status_code == 413
    assert site.call("POST", f"{V}/campaigns/{{key}}/findings",
                     json={"unit": "s1", "problem": "x" * TOO_BIG}).status_code == 413


def test_415_for_a_file_type_not_allowed(site):
    exe = {"file": ("units.exe", b"MZ\x90\x00 a program", "application/octet-stream")}
    assert site.call("POST", f"{V}/campaigns/{{key}}/units", files=exe).status_code == 415
    fake = {"files": [("files", ("scan.pdf", b"not a pdf at all", "application/pdf"))]}
    assert site.call("POST", f"{V}/campaigns/{{key}}/filings", data={"unit": "s1", "artifact": "plan"}, **fake).status_code == 415
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("x.txt", "x")
    evidence = {"evidence": ("photo.jpg", zipped.getvalue(), "image/jpeg")}
    assert site.call("POST", f"{V}/ledger/{{item}}/progress", data={"state": "in_progress"}, files=evidence).status_code == 415
