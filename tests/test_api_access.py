"""Who may call which endpoint of the HTTP API, on SQLite and on PostgreSQL.

The matrix below lists every route under /api/v1 and what each role gets from it: 401 without
credentials, 403 without the right (campaign_model.access.RIGHTS) or for a unit outside the caller's
scope, and otherwise the endpoint's success code. The roles:

    anonymous    no credentials
    admin        the bureau's administrator
    supervisor   督导组
    unit-own     the user of school s1, acting on s1
    unit-other   the user of school s2, acting on s1's things or naming s1
    unit-parent  the user of the 学区 d1, the parent of s1 and s2, acting on s1
    viewer       reads everything, changes nothing

Every request carries a bearer token. A request that changes something, and is expected to succeed,
gets a campaign of its own, so no cell depends on another.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from campaign_model.access import RIGHTS
from campaign_model.store.blobs import BlobStore
from campaign_model.store.filings import file_artifact
from campaign_model.store.ledger import record_finding, update_item
from campaign_model.store.tables import campaigns, filings, obligations, units

from .conftest import SMALL_SPEC
from .web_support import HTTPX_WARNING, ISSUE_ROW, PDF, account, act, api_routes, bearer, issue_rows, new_campaign, serve

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

ROLES = ("anonymous", "admin", "supervisor", "unit-own", "unit-other", "unit-parent", "viewer")
ACCOUNTS = {"admin": ("admin", None), "supervisor": ("supervisor", None), "unit-own": ("unit", "s1"),
            "unit-other": ("unit", "s2"), "unit-parent": ("unit", "d1"), "viewer": ("viewer", None)}


@dataclass(frozen=True)
class World:
    """One campaign's state, built through the store at instants before the server's "now"."""

    key: str
    filing: int  # s1's plan, version 1, with one file
    item: int  # an open ledger item of s1 (a finding)
    rectified: int  # a ledger item of s1 reported rectified, with evidence
    open_obligation: int  # s2's plan, not filed yet


def build_world(engine: Engine, files_dir: Path, scratch: Path, key: str) -> World:
    new_campaign(engine, key)
    store = BlobStore(files_dir)
    scan, rows, evidence = scratch / "plan.pdf", scratch / "issues.csv", scratch / "photo.jpg"
    scan.write_bytes(PDF)
    rows.write_bytes(issue_rows(ISSUE_ROW))
    evidence.write_bytes(b"\xff\xd8\xff\xe0 the repaired fence")
    of_campaign = obligations.c.campaign_id == select(campaigns.c.id).where(campaigns.c.key == key).scalar_subquery()
    with engine.begin() as conn:
        file_artifact(conn, store, key, "s1", "plan", act("2023-02-20T10:00", "s1"), files=[scan], signed_by="张校长")
        file_artifact(conn, store, key, "s1", "issue_list", act("2023-03-01T10:00", "s1"), rows_file=rows)
        item = record_finding(conn, key, "s1", "台账不全", dt.date(2023, 4, 30), act("2023-03-01T11:00", "督导组"))["id"]
        fixed = record_finding(conn, key, "s1", "围栏破损", dt.date(2023, 4, 30), act("2023-03-01T11:00", "督导组"))["id"]
        update_item(conn, store, fixed, "rectified", "已修复", [evidence], act("2023-03-05T10:00", "s1"))
        filing = conn.execute(select(filings.c.id).join(obligations, obligations.c.id == filings.c.obligation_id)
                              .join(units, units.c.id == obligations.c.unit_id)
                              .where(of_campaign, units.c.key == "s1", obligations.c.artifact == "plan")).scalar_one()
        open_ob = conn.execute(select(obligations.c.id).join(units, units.c.id == obligations.c.unit_id)
                               .where(of_campaign, units.c.key == "s2", obligations.c.artifact == "plan")).scalar_one()
    return World(key, filing, item, fixed, open_ob)


def _spec_upload(w: World) -> dict[str, Any]:
    spec = SMALL_SPEC.replace("key: small-2023", f"key: {w.key}-b", 1)
    return {"files": {"spec": ("spec.yaml", spec.encode(), "application/x-yaml")}}


UNIT_LIST = "单位代码,单位名称,上级单位,标签\nbureau,教育局,,\nd1,城关学区,bureau,学区\ns1,第一小学,d1,学校\ns2,第二小学,d1,学校\n" \
            "s3,第三小学,d1,学校\n"


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # the route, as the app declares it
    right: str | None  # the action in RIGHTS the endpoint needs (None: open to all)
    expect: tuple[int, int, int, int, int, int, int]  # in the order of ROLES
    send: Callable[[World], dict[str, Any]] = lambda w: {}  # query, body, files
    fill: Callable[[World], dict[str, Any]] = lambda w: {}  # path parameters beyond the usual ones
    changes: bool = False  # each cell gets a campaign of its own

    def url(self, w: World) -> str:
        return self.path.format(**{"key": w.key, "filing_id": w.filing, "n": 0, "item": w.item, "kind": "ledger",
                                   **self.fill(w)})


V = "/api/v1"
MATRIX = [
    # method  route                                          right              anon adm  sup  own  other parent viewer
    Row("GET", f"{V}/health", None,                                             (200, 200, 200, 200, 200, 200, 200)),
    Row("GET", f"{V}/me", "campaign.read",                                      (401, 200, 200, 200, 200, 200, 200)),
    Row("GET", f"{V}/me/tasks", "campaign.read",                                (401, 200, 200, 200, 200, 200, 200)),
    Row("GET", f"{V}/campaigns", "campaign.read",                               (401, 200, 200, 200, 200, 200, 200)),
    Row("POST", f"{V}/campaigns", "campaign.create",                            (401, 201, 403, 403, 403, 403, 403),
        send=_spec_upload, changes=True),
    Row("GET", f"{V}/campaigns/{{key}}", "campaign.read",                       (401, 200, 200, 200, 200, 200, 200)),
    Row("GET", f"{V}/campaigns/{{key}}/status", "campaign.status",              (401, 200, 200, 403, 403, 403, 200)),
    Row("GET", f"{V}/campaigns/{{key}}/units", "units.read",                    (401, 200, 200, 200, 200, 200, 200)),
    Row("POST", f"{V}/campaigns/{{key}}/units", "units.import",                 (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"files": {"file": ("units.csv", UNIT_LIST.encode(), "text/csv")}}, changes=True),
    Row("POST", f"{V}/campaigns/{{key}}/units/preview", "units.import",         (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"files": {"file": ("units.csv", UNIT_LIST.encode(), "text/csv")}}),
    Row("GET", f"{V}/campaigns/{{key}}/units/{{unit}}", "units.read",           (401, 200, 200, 200, 403, 200, 200),
        fill=lambda w: {"unit": "s1"}),
    Row("PUT", f"{V}/campaigns/{{key}}/units/{{unit}}", "units.manage",         (401, 201, 403, 403, 403, 403, 403),
        send=lambda w: {"json": {"name": "第九小学", "parent": "d1", "tags": ["学校"]}}, fill=lambda w: {"unit": "s9"},
        changes=True),
    Row("PATCH", f"{V}/campaigns/{{key}}/units/{{unit}}", "units.manage",       (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"json": {"name": "城关第一小学"}}, fill=lambda w: {"unit": "s1"}, changes=True),
    Row("POST", f"{V}/campaigns/{{key}}/units/{{unit}}/merge", "units.manage",  (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"json": {"into": "s1", "reason": "两校合并"}}, fill=lambda w: {"unit": "s2"}, changes=True),
    Row("POST", f"{V}/campaigns/{{key}}/units/{{unit}}/close", "units.manage",  (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"json": {"reason": "学校停办"}}, fill=lambda w: {"unit": "s2"}, changes=True),
    Row("GET", f"{V}/campaigns/{{key}}/obligations", "obligations.read",        (401, 200, 200, 200, 403, 200, 200),
        send=lambda w: {"params": {"unit": "s1"}}),
    Row("POST", f"{V}/campaigns/{{key}}/filings", "filing.create",              (401, 201, 403, 201, 403, 201, 403),
        send=lambda w: {"data": {"unit": "s1", "artifact": "plan", "signed_by": "张校长"},
                        "files": [("files", ("plan-v2.pdf", PDF + b" v2", "application/pdf"))]}, changes=True),
    Row("GET", f"{V}/campaigns/{{key}}/filings", "filing.read",                 (401, 200, 200, 200, 403, 200, 200),
        send=lambda w: {"params": {"unit": "s1"}}),
    Row("GET", f"{V}/campaigns/{{key}}/filings/{{filing_id}}", "filing.read",   (401, 200, 200, 200, 403, 200, 200)),
    Row("GET", f"{V}/campaigns/{{key}}/filings/{{filing_id}}/files/{{n}}", "filing.read",
                                                                                (401, 200, 200, 200, 403, 200, 200)),
    Row("POST", f"{V}/campaigns/{{key}}/reviews", "filing.review",              (401, 200, 200, 403, 403, 403, 403),
        send=lambda w: {"json": {"unit": "s1", "artifact": "issue_list", "decision": "accept"}}, changes=True),
    Row("GET", f"{V}/campaigns/{{key}}/reviews", "filing.review",               (401, 200, 200, 403, 403, 403, 403)),
    Row("POST", f"{V}/campaigns/{{key}}/waivers", "obligation.waive",           (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"json": {"unit": "s2", "artifact": "plan", "reason": "学校撤并"}}, changes=True),
    Row("POST", f"{V}/campaigns/{{key}}/extensions", "campaign.amend",          (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"json": {"step": "plan", "units": ["s2"], "due": "2023-03-20", "reason": "校长外出学习"}},
        changes=True),
    Row("PUT", f"{V}/campaigns/{{key}}/spec", "campaign.amend",                 (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"json": {"reason": "总结阶段延长", "text": SMALL_SPEC.replace(
            "key: small-2023", f"key: {w.key}", 1).replace("end: 2023-04-30", "end: 2023-05-10")}}, changes=True),
    Row("GET", f"{V}/campaigns/{{key}}/versions", "campaign.versions",          (401, 200, 200, 403, 403, 403, 200)),
    Row("POST", f"{V}/campaigns/{{key}}/advance", "phase.advance",              (401, 200, 403, 403, 403, 403, 403),
        send=lambda w: {"json": {"force": True, "reason": "督导组同意转段"}}, changes=True),
    Row("GET", f"{V}/campaigns/{{key}}/ledger", "ledger.read",                  (401, 200, 200, 200, 403, 200, 200),
        send=lambda w: {"params": {"unit": "s1"}}),
    Row("POST", f"{V}/ledger/{{item}}/progress", "ledger.update",               (401, 200, 403, 200, 403, 200, 403),
        send=lambda w: {"data": {"state": "in_progress", "note": "已制定台账模板"}}, changes=True),
    Row("POST", f"{V}/ledger/{{item}}/verify", "ledger.verify",                 (401, 200, 200, 403, 403, 403, 403),
        send=lambda w: {"json": {"decision": "close", "comment": "现场核验，已修复"}},
        fill=lambda w: {"item": w.rectified}, changes=True),
    Row("POST", f"{V}/campaigns/{{key}}/findings", "finding.create",            (401, 201, 201, 403, 403, 403, 403),
        send=lambda w: {"json": {"unit": "s1", "problem": "值班记录缺失", "deadline": "2023-04-30"}}, changes=True),
    Row("GET", f"{V}/campaigns/{{key}}/reminders", "reminders.read",            (401, 200, 200, 403, 403, 403, 403)),
    Row("POST", f"{V}/campaigns/{{key}}/reminders", "reminders.send",           (401, 202, 202, 403, 403, 403, 403),
        send=lambda w: {"json": {"obligations": [w.open_obligation]}}, changes=True),
    Row("GET", f"{V}/audit", "audit.read",                                      (401, 200, 200, 403, 403, 403, 403)),
    Row("GET", f"{V}/audit/verify", "audit.read",                               (401, 200, 200, 403, 403, 403, 403)),
    Row("GET", f"{V}/campaigns/{{key}}/reports/{{kind}}", "reports.read",       (401, 200, 200, 403, 403, 403, 200),
        send=lambda w: {"params": {"format": "json"}}),
    Row("GET", f"{V}/campaigns/{{key}}/grades", "grades.read",                  (401, 200, 200, 403, 403, 403, 200)),
    Row("GET", f"{V}/public/{{key}}", None,                                     (200, 200, 200, 200, 200, 200, 200)),
]


@dataclass
class Api:
    client: Any
    engine: Engine
    files_dir: Path
    scratch: Path
    tokens: dict[str, str]
    made: list[str] = field(default_factory=list)

    def world(self) -> World:
        self.made.append(f"c{len(self.made) + 1}")
        return build_world(self.engine, self.files_dir, self.scratch, self.made[-1])

    def call(self, role: str, row: Row, w: World) -> Any:
        headers = bearer(self.tokens[role]) if role in self.tokens else {}
        return self.client.request(row.method, row.url(w), headers=headers, **row.send(w))


@pytest.fixture
def api(engine, tmp_path) -> Iterator[Api]:
    tokens = {role: account(engine, role, *ACCOUNTS[role]) for role in ACCOUNTS}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with serve(engine, tmp_path / "home") as client:
        yield Api(client, engine, tmp_path / "home" / "files", scratch, tokens)


def test_the_matrix_lists_every_route_of_the_api(tmp_path, engine):
    app = serve(engine, tmp_path / "home").app
    assert {(row.method, row.path) for row in MATRIX} == api_routes(app)
    assert len(MATRIX) == len({(row.method, row.path) for row in MATRIX})


@pytest.mark.parametrize("row", MATRIX, ids=[f"{r.method} {r.path.removeprefix(V)}" for r in MATRIX])
def test_each_role_gets_what_its_rights_and_its_units_allow(api, row):
    shared = api.world()
    got = []
    for role, expected in zip(ROLES, row.expect, strict=False):
        # a refusal changes nothing (the uploads tests show it), so only a success needs a campaign of its own
        w = api.world() if row.changes and expected < 400 else shared
        response = api.call(role, row, w)
        got.append(response.status_code)
        if response.status_code >= 400:  # every refusal is the API's JSON error
            assert response.json()["error"]["status"] == response.status_code, response.text
    assert dict(zip(ROLES, got, strict=False)) == dict(zip(ROLES, row.expect, strict=False))


def test_the_matrix_refuses_exactly_the_roles_without_the_right():
    """Where the table says 403 for a role that has the right, it is the unit scope (unit-other) speaking."""
    for row in MATRIX:
        for role, code in zip(ROLES[1:], row.expect[1:], strict=False):
            has_right = row.right is None or ACCOUNTS[role][0] in RIGHTS[row.right]
            if not has_right:
                assert code == 403, (row.method, row.path, role)
            elif role != "unit-other":
                assert code != 403, (row.method, row.path, role)


def test_a_unit_user_lists_only_its_own_units_things(api):
    w = api.world()
    own, other, parent = (bearer(api.tokens[r]) for r in ("unit-own", "unit-other", "unit-parent"))
    get = api.client.get

    assert {u["key"] for u in get(f"{V}/campaigns/{w.key}/units", headers=other).json()} == {"s2"}
    assert {u["key"] for u in get(f"{V}/campaigns/{w.key}/units", headers=parent).json()} == {"d1", "s1", "s2"}
    assert get(f"{V}/campaigns/{w.key}", headers=other).json()["units"] == ["s2"]
    assert {o["unit"] for o in get(f"{V}/campaigns/{w.key}/obligations", headers=other).json()} == {"s2"}
    assert {o["unit"] for o in get(f"{V}/campaigns/{w.key}/obligations", headers=own).json()} == {"s1"}
    assert get(f"{V}/campaigns/{w.key}/filings", headers=other).json() == []
    assert [f["unit"] for f in get(f"{V}/campaigns/{w.key}/filings", headers=parent).json()] == ["s1", "s1"]
    assert get(f"{V}/campaigns/{w.key}/ledger", headers=other).json() == []
    assert {i["unit"] for i in get(f"{V}/campaigns/{w.key}/ledger", headers=own).json()} == {"s1"}
    # a unit user's view carries no contacts (the administrators' view does)
    assert all("contacts" not in u for u in get(f"{V}/campaigns/{w.key}/units", headers=own).json())
    assert "contacts" in get(f"{V}/campaigns/{w.key}/units", headers=bearer(api.tokens["viewer"])).json()[0]


def test_a_unit_user_whose_unit_takes_no_part_sees_neither_the_campaign_nor_its_things(api):
    w = api.world()
    stranger = bearer(account(api.engine, "s9-user", "unit", "s9"))

    assert api.client.get(f"{V}/campaigns", headers=stranger).json() == []
    assert [c["key"] for c in api.client.get(f"{V}/campaigns", headers=bearer(api.tokens["unit-other"])).json()] == [w.key]
    for path in ("", "/units", "/obligations", "/filings", "/ledger"):
        response = api.client.get(f"{V}/campaigns/{w.key}{path}", headers=stranger)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"
    file_it = api.client.post(f"{V}/campaigns/{w.key}/filings", headers=stranger,
                              data={"unit": "s1", "artifact": "plan", "signed_by": "张校长"},
                              files=[("files", ("plan.pdf", io.BytesIO(PDF), "application/pdf"))])
    assert file_it.status_code == 403


def test_an_unknown_token_is_refused_and_the_open_endpoints_never_look_at_one(api):
    w = api.world()
    assert api.client.get(f"{V}/me", headers=bearer("cf_not-a-token")).status_code == 401
    # the public figures and the health check never look at credentials
    assert api.client.get(f"{V}/public/{w.key}", headers=bearer("cf_not-a-token")).status_code == 200
    assert api.client.get(f"{V}/health", headers=bearer("cf_not-a-token")).status_code == 200
