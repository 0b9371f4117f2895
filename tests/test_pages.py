"""The dashboard and the public board, through HTTP as a browser uses them: log in through the real
form, follow the links, post the forms with their CSRF field. A real SQLite database holds the small
campaign (conftest.SMALL_SPEC) ticked at 2023-03-10 10:00, which is also the server's clock: the
mobilization phase is running late, both schools' plans are overdue.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.specfile import load_spec_text
from campaign_model.store import outbox
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.db import open_engine
from campaign_model.store.ledger import record_finding
from campaign_model.store.tables import audit_events, blobs, filings, ledger_items

from .conftest import SMALL_SPEC, local

C = "small-2023"
NOW = local("2023-03-10T10:00")
PASSWORD = "qingfeng-2024"
USERS = {"admin": ("admin", None), "sup": ("supervisor", None), "viewer": ("viewer", None),
         "d1user": ("unit", "d1"), "s1user": ("unit", "s1"), "s2user": ("unit", "s2"), "stranger": ("unit", "zz")}
PDF = b"%PDF-1.4 signed and stamped plan"
ISSUE_HEADER = "问题,类别,整改措施,责任领导,牵头股室,整改时限"


def act(at: dt.datetime, actor: str = "admin") -> Act:
    return Act(at, actor, at)


@dataclass
class Site:
    app: Any
    engine: Any
    home: Path

    def client(self) -> TestClient:
        return TestClient(self.app)

    def login(self, name: str) -> TestClient:
        client = self.client()
        form = client.get("/login")
        answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)},
                             follow_redirects=False)
        assert answer.status_code == 303, answer.text
        return client

    def count(self, table: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def stored_files(self) -> list[Path]:
        return [p for p in (self.home / "files").rglob("*") if p.is_file()]

    def reminders(self) -> list[Any]:
        with self.engine.connect() as conn:
            return outbox.listing(conn, load_ctx(conn, C).id)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The campaign, its accounts and its first tick, built once (password hashing and the tick take a
    second); each test gets its own copy of the database file."""
    from flows.tick import tick_direct

    path = tmp_path_factory.mktemp("pages") / "campaign.db"
    url = f"sqlite:///{path}"
    engine = open_engine(url)
    created = local("2023-02-01T09:00")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"), act(created))
        for name, (role, unit) in USERS.items():
            add_user(conn, name, role, unit, PASSWORD, act(created))
    engine.dispose()
    tick_direct(url, C, act(NOW, "tick"), str(path.parent / "outbox.jsonl"))
    return path


@pytest.fixture
def site(prepared: Path, tmp_path: Path) -> Site:
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    with closing(sqlite3.connect(prepared)) as source, closing(sqlite3.connect(tmp_path / "campaign.db")) as copy:
        source.backup(copy)  # the write-ahead log's pages too, which a file copy would miss
    engine = open_engine(url)
    yield Site(create_app(Services(Settings(tmp_path, url), engine, clock=lambda: NOW)), engine, tmp_path)
    engine.dispose()


# --- reading pages ---

class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append({"tag": tag, **{k: v or "" for k, v in attrs}})


def elements(html: str, **attrs: str) -> list[dict[str, Any]]:
    """Start tags whose attributes have these values (`class_` for class; `tag` for the element name)."""
    parser = _Elements()
    parser.feed(html)
    want = {k.rstrip("_"): v for k, v in attrs.items()}
    return [e for e in parser.found if all(e.get(k) == v for k, v in want.items())]


def csrf_of(html: str) -> str:
    return elements(html, tag="input", name="csrf")[0]["value"]


def matrix_cells(html: str) -> dict[tuple[str, str], str]:
    """(unit, artifact) -> the cell's light class, for the cells of owed obligations."""
    return {(td["data-unit"], td["data-artifact"]): td["class"] for td in elements(html, tag="td")
            if td.get("class", "").startswith("light-") and "data-unit" in td}


def matrix_units(html: str) -> set[str]:
    return {tr["data-unit"] for tr in elements(html, tag="tr") if "data-unit" in tr}


def has_id(html: str, ident: str) -> bool:
    return bool(elements(html, id=ident))


# --- who sees what ---

PAGES = ["/", f"/c/{C}", f"/c/{C}/matrix", f"/c/{C}/overdue", f"/c/{C}/file", f"/c/{C}/ledger", "/audit", f"/c/{C}/reviews",
         f"/c/{C}/matrix?tag=学校", f"/c/{C}/reminders", f"/c/{C}/ledger/1", f"/c/{C}/ledger?unit=s1&overdue=yes&page=2",
         f"/c/{C}/changes", f"/c/{C}/units", f"/c/{C}/units/s1", f"/c/{C}/units?q=小学", "/campaigns/new",
         f"/c/{C}/reports", f"/c/{C}/waive?unit=s1&artifact=plan&step=plan", f"/c/{C}/people",
         f"/c/{C}/grades"]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_sends_the_visitor_to_log_in_and_back(site, path):
    answer = site.client().get(path, follow_redirects=False)

    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert target.path == "/login" and unquote(parse_qs(target.query)["next"][0]) == path


def test_after_logging_in_the_visitor_lands_on_the_page_asked_for(site):
    client = site.client()
    form = client.get(f"/login?next={quote(f'/c/{C}/matrix')}")
    answer = client.post("/login", data={"name": "viewer", "password": PASSWORD, "csrf": csrf_of(form.text),
                                         "next": f"/c/{C}/matrix"}, follow_redirects=False)
    assert answer.headers["location"] == f"/c/{C}/matrix"
    assert has_id(client.get(answer.headers["location"]).text, "matrix")


@pytest.mark.parametrize("user, path, marker", [
    ("admin", "/", "campaigns"), ("admin", f"/c/{C}", "timeline"), ("admin", f"/c/{C}/matrix", "matrix"),
    ("admin", f"/c/{C}/overdue", "overdue"), ("admin", f"/c/{C}/file", "filing-form"),
    ("admin", f"/c/{C}/ledger", "ledger"), ("admin", "/audit", "audit-verdict"),
    ("sup", f"/c/{C}/matrix", "matrix"), ("sup", f"/c/{C}/ledger", "ledger"), ("sup", "/audit", "audit-verdict"),
    ("sup", f"/c/{C}/reviews", "review-filter"), ("admin", f"/c/{C}/reviews", "reviews-empty"),
    ("viewer", f"/c/{C}", "progress-mobilization"), ("viewer", f"/c/{C}/overdue", "overdue"),
    ("s1user", "/", "campaigns"), ("s1user", "/", "tasks"), ("d1user", "/", "task-counts"),
    ("s1user", f"/c/{C}", "own-obligations"), ("s1user", f"/c/{C}/matrix", "matrix"),
    ("s1user", f"/c/{C}/file", "filing-form"), ("s1user", f"/c/{C}/ledger", "ledger"),
    ("admin", f"/c/{C}/reminders", "outbox"), ("sup", f"/c/{C}/reminders", "outbox-counts"),
    ("admin", "/admin/users", "users"), ("admin", f"/admin/users/bulk?campaign={C}", "bulk-skip-list"),
    ("viewer", "/password", "password-page"), ("s1user", "/password", "password-page"),
    ("admin", f"/c/{C}/changes", "extend-form"), ("sup", f"/c/{C}/changes", "versions"),
    ("viewer", f"/c/{C}/changes", "versions"), ("admin", "/campaigns/new", "template-form"),
    ("admin", f"/c/{C}/reports", "report-phase-audit-form"), ("viewer", f"/c/{C}/reports", "report-closure-form"),
    ("admin", f"/c/{C}/waive?unit=s1&artifact=plan&step=plan", "waive-form"), ("admin", f"/c/{C}", "advance-form"),
    ("admin", f"/c/{C}/people", "people-note"), ("sup", f"/c/{C}/people", "people-empty"),
    ("admin", f"/c/{C}/grades", "grades"), ("sup", f"/c/{C}/grades", "grades-filter"), ("viewer", f"/c/{C}/grades", "grades"),
])
def test_each_page_renders_for_a_role_that_may_use_it(site, user, path, marker):
    answer = site.login(user).get(path)

    assert answer.status_code == 200
    assert has_id(answer.text, marker)
    assert has_id(answer.text, "current-user")


@pytest.mark.parametrize("user, path", [("viewer", f"/c/{C}/file"), ("sup", f"/c/{C}/file"), ("viewer", "/audit"),
                                        ("s1user", "/audit"), ("stranger", f"/c/{C}"), ("s1user", f"/c/{C}/reviews"),
                                        ("sup", "/admin/users"), ("viewer", "/admin/users/bulk"), ("s1user", "/admin/users"),
                                        ("d1user", f"/c/{C}/reviews"), ("viewer", f"/c/{C}/reviews"),
                                        ("viewer", f"/c/{C}/reminders"), ("s1user", f"/c/{C}/reminders"),
                                        ("s1user", f"/c/{C}/changes"), ("d1user", f"/c/{C}/changes"),
                                        ("sup", "/campaigns/new"), ("viewer", "/campaigns/new"), ("s1user", "/campaigns/new"),
                                        ("s1user", f"/c/{C}/reports"), ("d1user", f"/c/{C}/reports"),
                                        ("sup", f"/c/{C}/waive?unit=s1&artifact=plan&step=plan"),
                                        ("viewer", f"/c/{C}/waive?unit=s1&artifact=plan&step=plan"),
                                        ("viewer", f"/c/{C}/people"), ("s1user", f"/c/{C}/people"),
                                        ("s1user", f"/c/{C}/grades"), ("d1user", f"/c/{C}/grades")])
def test_a_role_without_the_right_gets_the_403_page(site, user, path):
    answer = site.login(user).get(path)

    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "403" in answer.text


def test_the_403_page_follows_the_language_chosen(site):
    client = site.login("viewer")
    assert "无权访问" in client.get("/audit").text
    client.cookies.set("lang", "en")
    answer = client.get("/audit")
    assert answer.status_code == 403 and "Not allowed" in answer.text and 'lang="en"' in answer.text


def test_the_campaign_list_shows_a_unit_user_only_campaigns_its_unit_takes_part_in(site):
    assert elements(site.login("s1user").get("/").text, tag="li", **{"data-campaign": C})
    stranger = site.login("stranger").get("/")
    assert stranger.status_code == 200 and has_id(stranger.text, "no-campaigns")


def test_the_overview_shows_a_unit_user_its_own_obligations_and_no_campaign_wide_figures(site):
    page = site.login("s1user").get(f"/c/{C}").text

    own = {(tr["data-unit"], tr["data-artifact"]) for tr in elements(page, tag="tr") if "data-artifact" in tr}
    assert own == {("s1", "plan"), ("s1", "issue_list")}
    assert not has_id(page, "obligation-counts") and not has_id(page, "progress-mobilization")
    assert not has_id(page, "nav-audit")  # no link to what the role may not use


def test_the_matrix_shows_a_unit_user_only_the_units_of_its_scope(site):
    assert matrix_units(site.login("s1user").get(f"/c/{C}/matrix").text) == {"s1"}
    assert matrix_units(site.login("d1user").get(f"/c/{C}/matrix").text) == {"d1", "s1", "s2"}
    assert matrix_units(site.login("admin").get(f"/c/{C}/matrix").text) == {"bureau", "d1", "s1", "s2"}


def test_the_matrix_filters_by_parent_and_by_tag(site):
    admin = site.login("admin")

    assert matrix_units(admin.get(f"/c/{C}/matrix", params={"parent": "d1"}).text) == {"d1", "s1", "s2"}
    page = admin.get(f"/c/{C}/matrix", params={"tag": "学校", "parent": ""}).text
    assert matrix_units(page) == {"s1", "s2"}
    assert matrix_cells(page) == {("s1", "plan"): "light-red", ("s2", "plan"): "light-red",
                                  ("s1", "issue_list"): "light-none", ("s2", "issue_list"): "light-none"}


# --- filing ---

def post_filing(client: TestClient, unit: str, artifact: str, *, signed_by: str = "",
                files: list[tuple[str, bytes]] = (), rows: tuple[str, bytes] | None = None,
                csrf: str | None = None) -> Any:
    token = csrf if csrf is not None else csrf_of(client.get(f"/c/{C}/file").text)
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    parts.append(("rows", rows + ("text/csv",) if rows else ("", b"", "application/octet-stream")))
    return client.post(f"/c/{C}/file", data={"unit": unit, "artifact": artifact, "signed_by": signed_by, "csrf": token},
                       files=parts, follow_redirects=False)


def test_a_good_filing_redirects_with_its_version_and_turns_the_matrix_cell_green(site):
    school = site.login("s1user")
    assert matrix_cells(school.get(f"/c/{C}/matrix").text)[("s1", "plan")] == "light-red"

    answer = post_filing(school, "s1", "plan", signed_by="张校长", files=[("实施方案（签字盖章）.pdf", PDF)])

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/c/{C}/file?filed=s1/plan/1"
    page = school.get(answer.headers["location"]).text
    assert has_id(page, "filing-ok") and "实施方案" in page
    download = elements(page, tag="a", class_="download")
    assert [a["href"] for a in download] == [f"/api/v1/campaigns/{C}/filings/1/files/0"]
    assert school.get(download[0]["href"]).content == PDF  # the session cookie authenticates the download
    assert matrix_cells(school.get(f"/c/{C}/matrix").text)[("s1", "plan")] == "light-green"


def test_the_filing_page_names_each_step_by_its_title_not_its_key(site):
    page = site.login("s1user").get(f"/c/{C}/file?unit=s1").text
    owed = page.split('data-artifact="plan"')[1].split("</tr>")[0]
    assert "制定实施方案" in owed and "<td>plan</td>" not in owed


def test_a_filing_with_a_bad_row_shows_the_row_on_the_page_and_stores_nothing(site):
    school = site.login("s1user")
    rows = "\n".join([ISSUE_HEADER, "作风不实,松,加强学习,王副校长,办公室,2023-04-30",
                      ",庸,立行立改,王副校长,办公室,2023-05-10"]) + "\n"
    before = (site.count(filings), site.count(blobs), site.count(ledger_items), site.stored_files())

    answer = post_filing(school, "s1", "issue_list", files=[("说明.pdf", PDF)], rows=("问题清单.csv", rows.encode()))

    assert answer.status_code == 422
    problems = [li for li in answer.text.split('id="filing-errors"')[1].split("</ul>")[0].split("<li>")[1:]]
    assert len(problems) == 1 and "第 3 行 / row 3" in problems[0] and "列 问题" in problems[0]
    assert (site.count(filings), site.count(blobs), site.count(ledger_items), site.stored_files()) == before
    assert has_id(answer.text, "filing-form")  # the form again, to correct and resend


def test_a_refused_filing_names_what_is_missing(site):
    answer = post_filing(site.login("s1user"), "s1", "plan", files=[("plan.pdf", PDF)])  # no signer

    assert answer.status_code == 422
    assert has_id(answer.text, "filing-errors") and "签字" in answer.text
    assert site.count(filings) == 0


def test_a_unit_user_cannot_file_for_another_unit(site):
    school = site.login("s1user")

    assert school.get(f"/c/{C}/file", params={"unit": "s2"}).status_code == 403
    answer = post_filing(school, "s2", "plan", signed_by="李校长", files=[("plan.pdf", PDF)])
    assert answer.status_code == 403
    assert "s2" in answer.text
    assert site.count(filings) == 0 and site.stored_files() == []


def test_a_filing_without_the_csrf_field_is_refused(site):
    answer = post_filing(site.login("s1user"), "s1", "plan", signed_by="张校长", files=[("plan.pdf", PDF)], csrf="")

    assert answer.status_code == 403
    assert site.count(filings) == 0


# --- overdue and remind now ---

def overdue_ids(html: str) -> list[str]:
    return [box["value"] for box in elements(html, tag="input", type="checkbox", name="obligation")]


def test_remind_now_plans_a_reminder_for_each_chosen_obligation(site):
    sup = site.login("sup")
    page = sup.get(f"/c/{C}/overdue").text
    chosen = overdue_ids(page)
    assert len(chosen) == 2  # both schools' plans
    before = [r for r in site.reminders() if r.kind == "manual"]

    answer = sup.post(f"/c/{C}/remind", data={"obligation": chosen, "csrf": csrf_of(page)}, follow_redirects=False)

    assert answer.status_code == 303 and answer.headers["location"].startswith(f"/c/{C}/overdue?done=2")
    manual = [r for r in site.reminders() if r.kind == "manual"]
    assert before == [] and sorted(r.unit for r in manual) == ["s1", "s2"]
    assert has_id(sup.get(answer.headers["location"]).text, "remind-result")
    again = sup.post(f"/c/{C}/remind", data={"obligation": chosen, "csrf": csrf_of(page)}, follow_redirects=False)
    assert "done=0" in again.headers["location"]  # once per obligation per day


def test_remind_now_without_the_csrf_field_is_refused(site):
    sup = site.login("sup")
    chosen = overdue_ids(sup.get(f"/c/{C}/overdue").text)
    planned = len(site.reminders())

    answer = sup.post(f"/c/{C}/remind", data={"obligation": chosen}, follow_redirects=False)

    assert answer.status_code == 403
    assert len(site.reminders()) == planned


def test_a_unit_user_sees_its_overdue_items_without_the_remind_form(site):
    school = site.login("s1user")
    page = school.get(f"/c/{C}/overdue").text

    assert [tr["data-unit"] for tr in elements(page, tag="tr") if "data-unit" in tr] == ["s1"]
    assert not has_id(page, "remind-form")
    assert school.post(f"/c/{C}/remind", data={"obligation": ["1"], "csrf": csrf_of(page)}).status_code == 403


# --- the ledger ---

@pytest.fixture
def finding(site) -> int:
    """A supervision finding for s1, found on 03-01, due 03-05: overdue at the site's clock."""
    with site.engine.begin() as conn:
        return int(record_finding(conn, C, "s1", "食堂采购未按规定公示", dt.date(2023, 3, 5),
                                  act(local("2023-03-01T10:00"), "sup"))["id"])


def test_the_ledger_marks_an_overdue_item_and_shows_it_only_within_scope(site, finding):
    page = site.login("s1user").get(f"/c/{C}/ledger").text
    row = elements(page, tag="tr", id=f"item-{finding}")[0]

    assert "overdue" in row["class"].split() and "ledger-state-open" in row["class"].split()
    assert "食堂采购未按规定公示" in page and elements(page, class_="overdue-mark")
    assert not elements(site.login("s2user").get(f"/c/{C}/ledger").text, tag="tr", id=f"item-{finding}")


def _history_cell(page: str) -> str:
    """The rows of an item page's history (its last entry, the first here, is the creation)."""
    return page.split('id="history"')[1].split("<tbody>")[1].split("</tbody>")[0]


def test_the_ledger_history_reads_in_the_pages_language_with_names_not_codes(site):
    """An item made from a filed issue list: its last entry reads in the chosen language only, by the
    unit's name; no internal action name, no English gloss in the Chinese page (nor the reverse)."""
    rows = "\n".join([ISSUE_HEADER, "会议多、落实少,松,建立周例会督办制度,王副校长,办公室,2023-04-30"]) + "\n"
    answer = post_filing(site.login("s1user"), "s1", "issue_list", signed_by="张校长", files=[("问题清单.pdf", PDF)],
                         rows=("问题清单.csv", rows.encode()))
    assert answer.status_code == 303, answer.text
    admin = site.login("admin")
    page = admin.get(f"/c/{C}/ledger").text
    item = int([tr for tr in elements(page, tag="tr") if tr.get("data-unit") == "s1"][0]["data-item"])

    zh = _history_cell(admin.get(f"/c/{C}/ledger/{item}").text)
    assert "第一小学" in zh and "由报送的问题清单生成" in zh and "新增" in zh
    for code in ("s1user", " s1 ", "created", "from the filed issue list", "("):
        assert code not in zh, (code, zh)
    en = _history_cell(admin.get(f"/c/{C}/ledger/{item}", params={"lang": "en"}).text)
    assert "第一小学" in en and "added" in en and "from the filed issue list" in en
    assert "由报送的问题清单生成" not in en and "created" not in en

    audit_page = admin.get("/audit", params={"lang": "zh", "q": "filing.created"}).text
    cells = audit_page.split("<tbody>")[1]
    assert "报送材料" in cells and "第一小学" in cells and "2023年作风整顿（测试）" in cells and f">{C}<" not in cells
    assert ">filing.created<" not in cells and ">s1user<" not in cells
    overdue_page = admin.get(f"/c/{C}/overdue").text
    assert "第二小学" in overdue_page.split("<tbody>")[1] and "s2</small>" not in overdue_page


def test_a_unit_reports_the_fix_with_evidence_and_the_supervisor_closes_the_item(site, finding):
    school = site.login("s1user")
    page = school.get(f"/c/{C}/ledger").text
    report = school.post(f"/c/{C}/ledger/{finding}/progress",
                         data={"state": "rectified", "note": "已在校务公开栏公示", "csrf": csrf_of(page)},
                         files=[("evidence", ("公示照片.pdf", PDF, "application/pdf"))], follow_redirects=False)
    assert report.status_code == 303

    page = school.get(report.headers["location"]).text
    assert has_id(page, "ledger-ok") and "ledger-state-rectified" in elements(page, id="ledger-item")[0]["class"]
    link = [a["href"] for a in elements(page, tag="a", class_="download")]
    assert link == [f"/c/{C}/ledger/{finding}/evidence/0"] and school.get(link[0]).content == PDF
    assert site.login("s2user").get(link[0]).status_code == 403

    sup = site.login("sup")
    page = sup.get(f"/c/{C}/ledger").text
    refused = sup.post(f"/c/{C}/ledger/{finding}/verify", data={"decision": "close", "comment": " ", "csrf": csrf_of(page)})
    assert refused.status_code == 422 and has_id(refused.text, "ledger-error")
    closed = sup.post(f"/c/{C}/ledger/{finding}/verify", data={"decision": "close", "comment": "公示到位，同意销号",
                                                                "csrf": csrf_of(page)}, follow_redirects=False)
    assert closed.status_code == 303
    assert closed.headers["location"] == f"/c/{C}/ledger/{finding}?done=closed"
    assert "ledger-state-closed" in elements(sup.get(closed.headers["location"]).text, id="ledger-item")[0]["class"]


@pytest.mark.parametrize("user, page, record", [("admin", 200, 303), ("sup", 200, 303), ("viewer", 200, 403),
                                                ("d1user", 200, 403), ("s1user", 200, 403), ("s2user", 403, 403),
                                                ("stranger", 403, 403)])
def test_the_ledger_item_page_its_preview_and_the_finding_form_for_each_role(site, finding, user, page, record):
    client = site.login(user)
    answer = client.get(f"/c/{C}/ledger/{finding}")
    assert answer.status_code == page and has_id(answer.text, "ledger-item") == (page == 200)
    preview = client.get(f"/c/{C}/ledger/{finding}/evidence/0/preview")  # no evidence yet: 404 once it may look
    assert preview.status_code == (404 if page == 200 else 403)
    found = client.post(f"/c/{C}/findings", data={"unit": "s1", "problem": "会风不正", "deadline": "2023-04-30",
                                                  "csrf": csrf_of(answer.text) if page == 200 else ""},
                        follow_redirects=False)  # refused for want of the right, whatever the token
    assert found.status_code == record


def test_a_unit_user_cannot_report_on_another_units_item_nor_verify(site, finding):
    other = site.login("s2user")
    page = other.get(f"/c/{C}/ledger").text

    answer = other.post(f"/c/{C}/ledger/{finding}/progress", data={"state": "in_progress", "note": "x", "csrf": csrf_of(page)})
    assert answer.status_code == 403
    school = site.login("s1user")
    token = csrf_of(school.get(f"/c/{C}/ledger").text)
    verify = school.post(f"/c/{C}/ledger/{finding}/verify", data={"decision": "close", "comment": "自己销号", "csrf": token})
    assert verify.status_code == 403
    with site.engine.connect() as conn:
        assert conn.execute(select(ledger_items.c.state).where(ledger_items.c.id == finding)).scalar_one() == "open"


# --- the audit log ---

def verify_now(client: TestClient) -> str:
    """Press the audit page's "verify the whole chain now" button; the page it leads back to."""
    answer = client.post("/audit/verify", data={"csrf": csrf_of(client.get("/audit").text)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client.get(answer.headers["location"]).text


def test_the_audit_page_verifies_the_chain_and_searches(site):
    admin = site.login("admin")

    page = admin.get("/audit", params={"q": "phase.started"}).text
    assert elements(verify_now(admin), id="audit-verdict")[0]["class"].split() == ["verdict", "ok"]
    assert len([tr for tr in elements(page, tag="tr") if "data-seq" in tr]) == 1 and "phase.started" in page
    with site.engine.begin() as conn:  # someone edits history behind the application's back
        conn.execute(update(audit_events).where(audit_events.c.seq == 1).values(actor="someone else"))
    assert "error" in elements(verify_now(admin), id="audit-verdict")[0]["class"].split()


def test_a_view_of_the_audit_page_rehashes_nothing_and_shows_the_last_full_verification(site):
    from sqlalchemy import event

    from campaign_model.store import audit

    admin = site.login("admin")
    statements: list[str] = []
    listen = lambda conn, cursor, statement, *rest: statements.append(" ".join(statement.split()))  # noqa: E731
    event.listen(site.engine, "before_cursor_execute", listen)
    try:
        first = admin.get("/audit").text
    finally:
        event.remove(site.engine, "before_cursor_execute", listen)
    whole_log = [s for s in statements if "FROM audit_events" in s and "LIMIT" not in s and "count(" not in s]
    assert whole_log == []  # a page of events and a count, never the whole chain
    assert elements(first, id="audit-verdict")[0]["class"].split() == ["verdict", "unknown"]
    assert "尚未做过完整校验" in first and elements(first, tag="button", id="audit-verify")

    with site.engine.connect() as conn:
        head = audit.head_seq(conn)
    verified = verify_now(admin)
    verdict = elements(verified, id="audit-verdict")[0]
    assert verdict["class"].split() == ["verdict", "ok"] and verdict["data-up-to"] == str(head)
    assert f"校验至第 {head} 条记录" in verified and "2023-03-10 10:00" in verified  # when: the server's clock

    with site.engine.begin() as conn:  # history edited behind the application's back, then one more event
        conn.execute(update(audit_events).where(audit_events.c.seq == 1).values(actor="someone else"))
        audit.append(conn, act(NOW), "user.added", None, "user:late", None, {"role": "viewer"})
    later = admin.get("/audit").text
    assert elements(later, id="audit-verdict")[0]["class"].split() == ["verdict", "ok"]  # as recorded, with its time
    assert "此后新增 1 条记录" in later

    broken = verify_now(admin)
    assert elements(broken, id="audit-verdict")[0]["data-up-to"] == str(head + 1)
    assert "error" in elements(broken, id="audit-verdict")[0]["class"].split()
    assert "第 1 条起" in broken and "事件 #1 的内容被改动" in broken and "was altered" not in broken
    english = admin.get("/audit", params={"lang": "en"}).text
    assert "from event 1" in english and "event #1 was altered" in english and "的内容被改动" not in english


# --- the public board ---

def test_the_public_board_renders_for_anyone_and_names_no_person_file_or_problem(site, finding):
    post_filing(site.login("s1user"), "s1", "plan", signed_by="张校长", files=[("实施方案-第一小学.pdf", PDF)])

    answer = site.client().get(f"/public/{C}")

    assert answer.status_code == 200 and has_id(answer.text, "public-board")
    assert elements(answer.text, tag="progress") and has_id(answer.text, "closure-meter")
    for secret in ("张校长", "s1@example.cn", "s1user", "实施方案-第一小学.pdf", "食堂采购未按规定公示", "logout"):
        assert secret not in answer.text
    assert "1 / 2" in answer.text  # one of the two plans filed


# --- language and the content security policy ---

def test_the_language_link_switches_to_english_and_is_remembered(site):
    admin = site.login("admin")

    first = admin.get("/", params={"lang": "en"})
    assert "Campaigns" in first.text and first.cookies.get("lang") == "en"
    assert elements(first.text, id="lang-switch")[0]["href"] == "?lang=zh"
    assert "Campaigns" in admin.get("/").text


@pytest.mark.parametrize("path", [p for p in PAGES if p != "/"] + [f"/public/{C}"])
def test_pages_need_no_inline_style_or_script(site, path):
    page = site.login("admin").get(path).text

    assert " style=" not in page and "<style" not in page
    assert all(s.get("src") for s in elements(page, tag="script"))


@pytest.mark.parametrize("path", ["/c/nope", "/public/nope"])
def test_an_unknown_campaign_is_a_404_page(site, path):
    answer = site.login("admin").get(path)

    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert "nope" in answer.text
