"""What programs calling the HTTP API may rely on, on SQLite and on PostgreSQL: the status document is
the command line's, a filing answers with the filing, every error is JSON naming the fields at fault
and never a traceback, the OpenAPI document describes the API, and the instant of an action is the
server's clock, whatever a client sends.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from campaign_model.store.tables import filings

from .conftest import local
from .web_support import (
    HTTPX_WARNING,
    ISSUE_ROW,
    NOW,
    PDF,
    Clock,
    account,
    api_routes,
    bearer,
    count,
    issue_rows,
    new_campaign,
    serve,
)

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = "small-2023"
V = "/api/v1"
C = f"{V}/campaigns/{CAMPAIGN}"


@pytest.fixture
def clock() -> Clock:
    return Clock(local(NOW))


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def admin(engine) -> dict[str, str]:
    new_campaign(engine, CAMPAIGN)
    return bearer(account(engine, "bureau.admin", "admin"))


@pytest.fixture
def client(engine, home, clock, admin):
    with serve(engine, home, clock) as client:
        yield client


def file_plan(client, headers, **extra):
    return client.post(f"{C}/filings", headers=headers, data={"unit": "s1", "artifact": "plan", "signed_by": "张校长",
                                                              **extra},
                       files=[("files", ("plan-signed.pdf", PDF, "application/pdf"))])


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"]
    return error


# --- the status document ---

def test_the_status_document_is_the_one_the_command_line_prints(client, admin, db_url, home):
    assert file_plan(client, admin).status_code == 201
    issues = client.post(f"{C}/filings", headers=admin, data={"unit": "s2", "artifact": "issue_list"},
                         files=[("rows", ("issues.csv", issue_rows(ISSUE_ROW), "text/csv"))])
    assert issues.status_code == 201
    assert client.post(f"{C}/advance", headers=admin, json={"force": True, "reason": "督导组同意转段"}).status_code == 200

    served = client.get(f"{C}/status", headers=admin)

    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": db_url}
    code = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"
    printed = subprocess.run([sys.executable, "-c", code, "status", CAMPAIGN, "--at", NOW, "--json"],
                             capture_output=True, text=True, env=env, timeout=300)
    assert printed.returncode == 0, printed.stderr
    assert served.status_code == 200
    assert served.json() == json.loads(printed.stdout)
    assert served.json()["current_phase"] == "self_check" and served.json()["obligations"]["filed"] == 2


# --- filing ---

def test_a_filing_answers_201_with_the_filing_and_the_next_one_is_version_2(client, admin, clock):
    clock.at = local("2023-02-20T10:00")
    first = file_plan(client, admin)
    clock.at = local(NOW)
    second = file_plan(client, admin)

    assert (first.status_code, second.status_code) == (201, 201)
    doc = first.json()
    assert {k: doc[k] for k in ("campaign", "unit", "artifact", "version", "late", "rows", "ledger_items", "signed_by",
                                "at")} == {
        "campaign": CAMPAIGN, "unit": "s1", "artifact": "plan", "version": 1, "late": False, "rows": None,
        "ledger_items": 0, "signed_by": "张校长", "at": "2023-02-20T10:00:00+08:00"}
    assert [(f["name"], f["size"]) for f in doc["files"]] == [("plan-signed.pdf", len(PDF))]
    assert (second.json()["version"], second.json()["late"]) == (2, True)  # due 2023-02-28


def test_an_issue_list_filing_counts_its_rows_and_ledger_items(client, admin):
    response = client.post(f"{C}/filings", headers=admin, data={"unit": "s1", "artifact": "issue_list"},
                           files=[("rows", ("issues.csv", issue_rows(ISSUE_ROW, ISSUE_ROW, ISSUE_ROW), "text/csv"))])

    assert response.status_code == 201
    assert (response.json()["rows"], response.json()["ledger_items"], response.json()["files"]) == (3, 3, [])


def test_a_filing_without_unit_or_artifact_is_422_naming_both(client, admin, engine):
    response = client.post(f"{C}/filings", headers=admin, data={"signed_by": "张校长"},
                           files=[("files", ("plan.pdf", PDF, "application/pdf"))])

    error = assert_error(response, 422, "invalid")
    assert [f["field"] for f in error["fields"]] == ["unit", "artifact"]
    assert count(engine, filings) == 0


@pytest.mark.parametrize("signed_by, with_scan", [(None, True), ("  ", True), ("张校长", False)],
                         ids=["no-signer", "blank-signer", "no-scan"])
def test_a_filing_that_needs_a_sign_off_is_422_naming_the_signer_without_it(client, admin, engine, signed_by, with_scan):
    data = {"unit": "s1", "artifact": "plan", **({"signed_by": signed_by} if signed_by is not None else {})}
    files = [("files", ("plan.pdf", PDF, "application/pdf"))] if with_scan else None

    response = client.post(f"{C}/filings", headers=admin, data=data, files=files)

    error = assert_error(response, 422, "invalid")
    assert [f["field"] for f in error["fields"]] == ["signed_by"]
    assert count(engine, filings) == 0


@pytest.mark.parametrize("data, field", [({"unit": "s7", "artifact": "plan"}, "unit"),
                                         ({"unit": "s1", "artifact": "budget"}, "artifact")])
def test_a_filing_for_an_unknown_unit_or_artifact_is_404_naming_it(client, admin, data, field):
    response = client.post(f"{C}/filings", headers=admin, data={**data, "signed_by": "张校长"},
                           files=[("files", ("plan.pdf", PDF, "application/pdf"))])

    error = assert_error(response, 404, "not_found")
    assert [f["field"] for f in error["fields"]] == [field]


def test_a_json_body_that_breaks_the_schema_is_422_naming_the_fields(client, admin):
    response = client.post(f"{C}/reviews", headers=admin, json={"unit": "s1", "decision": "maybe"})

    error = assert_error(response, 422, "invalid")
    assert sorted(f["field"] for f in error["fields"]) == ["artifact", "decision"]


# --- errors ---

def test_an_unknown_campaign_is_404_json(client, admin):
    for path in ("", "/status", "/units", "/obligations", "/filings", "/ledger"):
        error = assert_error(client.get(f"{V}/campaigns/no-such-campaign{path}", headers=admin), 404, "not_found")
        assert "no-such-campaign" in error["message"]
    assert_error(client.get(f"{V}/public/no-such-campaign"), 404, "not_found")


def test_an_unknown_address_under_the_api_is_404_json_and_a_wrong_method_405(client, admin):
    assert_error(client.get(f"{V}/no-such-thing", headers=admin), 404, "http_error")
    assert_error(client.get("/api/v2/campaigns", headers=admin), 404, "http_error")
    assert_error(client.delete(C, headers=admin), 405, "http_error")


def test_an_internal_error_is_500_json_with_a_reference_and_no_traceback(engine, home, admin, clock):
    """The data directory is broken (its files/ is a plain file): the filing fails inside the store."""
    home.mkdir(parents=True)
    (home / "files").write_text("not a directory")
    with serve(engine, home, clock) as client:
        response = file_plan(client, admin)

    error = assert_error(response, 500, "internal")
    assert "Traceback" not in response.text and "NotADirectoryError" not in response.text
    assert "reference" in error["message"]
    assert count(engine, filings) == 0  # the filing's transaction rolled back


def test_no_error_shows_a_traceback(client, admin):
    responses = [client.get(f"{V}/me"), client.get(f"{V}/me", headers=bearer("cf_forged")),
                 client.get(f"{C}/filings/99999", headers=admin), client.get(f"{C}/reports/nonsense", headers=admin),
                 client.get(f"{C}/reports/ledger", params={"format": "exe"}, headers=admin),
                 client.post(f"{C}/reviews", headers=admin, content=b"{not json"),
                 client.post(f"{C}/reviews", headers=admin, json={"unit": "s1", "artifact": "plan", "decision": "accept"}),
                 client.get(f"{V}/audit", params={"limit": 0}, headers=admin)]

    assert [r.status_code for r in responses] == [401, 401, 404, 404, 422, 422, 409, 422]
    for r in responses:
        assert "Traceback" not in r.text and 'File "' not in r.text
        assert r.json()["error"]["status"] == r.status_code


# --- the OpenAPI document ---

def test_the_openapi_document_lists_every_api_path_and_its_schemas(client):
    response = client.get("/openapi.json")

    assert response.status_code == 200
    doc = response.json()
    listed = {(method.upper(), path) for path, ops in doc["paths"].items() if path.startswith(f"{V}/") for method in ops}
    assert listed == api_routes(client.app)
    assert not any(path in doc["paths"] for path in ("/login", "/logout"))
    assert {"ReviewIn", "WaiverIn", "AdvanceIn", "VerifyIn", "FindingIn", "RemindIn"} <= set(doc["components"]["schemas"])
    filing_form = doc["paths"][f"{V}/campaigns/{{key}}/filings"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in filing_form


# --- the instant of an action ---

def test_the_instant_of_an_action_is_the_servers_clock_whatever_the_client_sends(client, admin, clock):
    clock.at = local("2023-03-09T15:30")
    filed = client.post(f"{C}/filings", headers=admin, params={"at": "2020-01-01T00:00"},
                        data={"unit": "s1", "artifact": "plan", "signed_by": "张校长", "at": "2020-01-01T00:00"},
                        files=[("files", ("plan.pdf", PDF, "application/pdf"))])
    found = client.post(f"{C}/findings", headers=admin, params={"at": "2020-01-01T00:00"},
                        json={"unit": "s1", "problem": "值班记录缺失", "deadline": "2023-04-30", "at": "2020-01-01T00:00"})

    assert (filed.status_code, found.status_code) == (201, 201)
    assert filed.json()["at"] == found.json()["at"] == "2023-03-09T15:30:00+08:00"
    events = client.get(f"{V}/audit", params={"campaign": CAMPAIGN, "limit": 2}, headers=admin).json()["events"]
    assert [(e["action"], e["actor"]) for e in events] == [("ledger.created", "bureau.admin"),
                                                            ("filing.created", "bureau.admin")]
    assert {dt.datetime.fromisoformat(e["at"]) for e in events} == {local("2023-03-09T15:30")}
