"""Uploads through the HTTP API: limits, allowed types, content that must match its name, the sender's
file name as a label only, rows checked before anything is kept, content stored once, and downloads.

A refused upload stores nothing: no filing row, no blob row, no file under the data directory.
The limits are small here: 2000 bytes a file, 10000 bytes a request.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from campaign_app.usecases.services import UploadLimits
from campaign_model.store.tables import blobs, filings, ledger_items

from .web_support import HTTPX_WARNING, ISSUE_ROW, PDF, account, bearer, count, files_under, issue_rows, new_campaign, serve

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

CAMPAIGN = "small-2023"
FILINGS = f"/api/v1/campaigns/{CAMPAIGN}/filings"
LIMITS = UploadLimits(file_bytes=2000, request_bytes=10_000)
PLAN = {"unit": "s1", "artifact": "plan", "signed_by": "张校长"}


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'campaign.db'}"


class Site:
    def __init__(self, engine, home: Path):
        new_campaign(engine, CAMPAIGN)
        self.engine, self.files_dir = engine, home / "files"
        self.s1 = bearer(account(engine, "s1.clerk", "unit", "s1"))
        self.s2 = bearer(account(engine, "s2.clerk", "unit", "s2"))
        self.client = serve(engine, home, limits=LIMITS)

    def file_plan(self, *files: tuple[str, bytes], unit: str = "s1"):
        headers = self.s1 if unit == "s1" else self.s2
        return self.client.post(FILINGS, headers=headers, data={**PLAN, "unit": unit},
                                files=[("files", (name, data, "application/octet-stream")) for name, data in files])

    def latest_filing(self) -> int:
        return self.client.get(FILINGS, headers=self.s1).json()[0]["id"]

    def stored(self) -> tuple[int, int, list[Path]]:
        return count(self.engine, filings), count(self.engine, blobs), files_under(self.files_dir)


@pytest.fixture
def site(engine, tmp_path) -> Site:
    return Site(engine, tmp_path / "home")


def assert_refused(response, status: int, code: str, field: str = "files") -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert [f["field"] for f in error["fields"]] == [field]


# --- limits ---

def test_a_request_over_the_limit_is_refused_before_anything_is_stored(site):
    # each file is within its own limit; together they are not
    response = site.file_plan(*((f"scan-{n}.pdf", PDF + bytes(1900 - len(PDF))) for n in range(6)))

    assert_refused(response, 413, "too_large")
    assert site.stored() == (0, 0, [])


def test_a_streamed_request_over_the_limit_is_refused_as_it_arrives(site):
    """Without a Content-Length (chunked), the limit is counted as the body streams in."""
    def body():
        yield (b'--cut\r\nContent-Disposition: form-data; name="unit"\r\n\r\ns1\r\n'
               b'--cut\r\nContent-Disposition: form-data; name="artifact"\r\n\r\nplan\r\n'
               b'--cut\r\nContent-Disposition: form-data; name="signed_by"\r\n\r\nzhang\r\n'
               b'--cut\r\nContent-Disposition: form-data; name="files"; filename="scan.pdf"\r\n\r\n' + PDF)
        for _ in range(12):
            yield bytes(1000)
        yield b"\r\n--cut--\r\n"

    response = site.client.post(FILINGS, content=body(),
                                headers={**site.s1, "Content-Type": "multipart/form-data; boundary=cut"})

    assert "content-length" not in response.request.headers
    assert_refused(response, 413, "too_large")
    assert site.stored() == (0, 0, [])


def test_one_file_over_the_per_file_limit_is_refused_naming_it(site):
    response = site.file_plan(("small.pdf", PDF), ("全县汇总扫描件.pdf", PDF + bytes(2001 - len(PDF))))

    assert_refused(response, 413, "file_too_large")
    assert "全县汇总扫描件.pdf" in response.json()["error"]["message"]
    assert site.stored() == (0, 0, [])


def test_more_files_than_allowed_in_one_request_are_refused(site):
    response = site.file_plan(*((f"page-{n}.pdf", PDF + b"%d" % n) for n in range(LIMITS.files + 1)))

    assert_refused(response, 422, "too_many_files")
    assert site.stored() == (0, 0, [])


def test_a_file_exactly_at_the_limit_is_accepted(site):
    assert site.file_plan(("scan.pdf", PDF + bytes(2000 - len(PDF)))).status_code == 201


# --- types and content ---

@pytest.mark.parametrize("name, data", [("setup.exe", b"MZ\x90\x00 a program"),
                                        ("plan.html", b"<html><script>alert(1)</script></html>"),
                                        ("seal.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>"),
                                        ("no-suffix", PDF)])
def test_a_type_that_is_not_allowed_is_refused(site, name, data):
    response = site.file_plan(("scan.pdf", PDF), (name, data))

    assert_refused(response, 415, "unsupported_type")
    assert site.stored() == (0, 0, [])


@pytest.mark.parametrize("name, data", [("scan.pdf", b"<html>not a pdf</html>"), ("photo.jpg", PDF),
                                        ("plan.docx", b"%PDF-1.4 a pdf renamed"), ("notes.txt", b"MZ\x00\x00binary")])
def test_content_that_does_not_match_its_suffix_is_refused(site, name, data):
    response = site.file_plan((name, data))

    assert_refused(response, 415, "content_mismatch")
    assert site.stored() == (0, 0, [])


def test_an_empty_file_is_refused(site):
    response = site.file_plan(("scan.pdf", b""))

    assert_refused(response, 422, "empty_file")
    assert site.stored() == (0, 0, [])


# --- names ---

@pytest.mark.parametrize("sent, kept", [("../../etc/passwd.pdf", "passwd.pdf"), ("C:\\x\\y.pdf", "y.pdf"),
                                        ("/var/lib/campaignflow/campaign.db.pdf", "campaign.db.pdf")])
def test_a_file_name_with_path_components_is_kept_as_its_last_component_and_stored_under_its_hash(site, sent, kept):
    data = PDF + sent.encode()
    sha = hashlib.sha256(data).hexdigest()

    response = site.file_plan((sent, data))

    assert response.status_code == 201, response.text
    assert response.json()["files"] == [{"name": kept, "sha256": sha, "size": len(data)}]
    assert files_under(site.files_dir) == [site.files_dir / sha[:2] / sha]
    filed = site.client.get(f"{FILINGS}/{site.latest_filing()}", headers=site.s1).json()
    assert [f["name"] for f in filed["files"]] == [kept]


# --- rows ---

def test_an_issue_list_with_a_bad_row_is_refused_naming_row_and_column_and_nothing_is_stored(site):
    rows = issue_rows(ISSUE_ROW, "师德问题,不存在的类别,整改,李主任,德育处,2023-04-30", ",松,,,,2023-05-01")
    response = site.client.post(FILINGS, headers=site.s1, data={"unit": "s1", "artifact": "issue_list"},
                                files=[("rows", ("问题清单.csv", rows, "text/csv")),
                                       ("files", ("cover-letter.pdf", PDF, "application/pdf"))])

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "rows_invalid"
    assert [(f["field"], f["row"], f["column"]) for f in error["fields"]] == [("rows", 3, "category"), ("rows", 4, "problem")]
    assert all(f["message"] for f in error["fields"])
    assert site.stored() == (0, 0, [])
    assert count(site.engine, ledger_items) == 0


def test_a_good_issue_list_becomes_ledger_items(site):
    response = site.client.post(FILINGS, headers=site.s1, data={"unit": "s1", "artifact": "issue_list"},
                                files=[("rows", ("问题清单.csv", issue_rows(ISSUE_ROW, ISSUE_ROW), "text/csv"))])

    assert response.status_code == 201, response.text
    assert (response.json()["rows"], response.json()["ledger_items"]) == (2, 2)
    assert count(site.engine, ledger_items) == 2


def test_a_rows_file_must_be_a_table(site):
    response = site.client.post(FILINGS, headers=site.s1, data={"unit": "s1", "artifact": "issue_list"},
                                files=[("rows", ("问题清单.pdf", PDF, "application/pdf"))])

    assert_refused(response, 415, "unsupported_type", field="rows")
    assert site.stored() == (0, 0, [])


# --- storage and downloads ---

def test_the_same_content_filed_twice_is_stored_once(site):
    first = site.file_plan(("plan-signed.pdf", PDF))
    again = site.file_plan(("copy under another name.pdf", PDF))

    assert (first.status_code, again.status_code) == (201, 201)
    assert (first.json()["version"], again.json()["version"]) == (1, 2)
    sha = hashlib.sha256(PDF).hexdigest()
    assert first.json()["files"][0]["sha256"] == again.json()["files"][0]["sha256"] == sha
    assert site.stored() == (2, 1, [site.files_dir / sha[:2] / sha])


def test_a_download_is_the_exact_bytes_as_an_attachment_for_the_units_that_may_see_them(site):
    data = PDF + bytes(range(256))  # every byte value, unchanged on the way back
    assert site.file_plan(("实施方案（签字版）.pdf", data)).status_code == 201
    url = f"{FILINGS}/{site.latest_filing()}/files/0"

    response = site.client.get(url, headers=site.s1)

    assert response.status_code == 200
    assert response.content == data
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''" + "%E5%AE%9E%E6%96%BD%E6%96%B9%E6%A1%88" in disposition  # 实施方案, encoded
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"

    other = site.client.get(url, headers=site.s2)
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    assert site.client.get(f"{FILINGS}/{site.latest_filing()}/files/1", headers=site.s1).status_code == 404


def test_a_unit_user_cannot_file_for_another_unit_and_nothing_is_stored(site):
    response = site.client.post(FILINGS, headers=site.s2, data=PLAN,  # s2's user, filing for s1
                                files=[("files", ("plan.pdf", PDF, "application/pdf"))])

    assert response.status_code == 403
    assert site.stored() == (0, 0, [])
