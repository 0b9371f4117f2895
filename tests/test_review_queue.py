"""The review queue (待审核): supervisors and admins see the filings waiting for a decision, oldest first, filter
them, accept several at once, open one (its files previewed, its rows, its versions and what changed) and
accept or return it with a comment; the comment reaches the unit in its next reminder.

Through HTTP as a browser uses the pages (tests/test_pages.py's site: a real SQLite copy of the small
campaign ticked at 2023-03-10 10:00, its accounts logged in through the login form), then the comment in
a real reminder (a real tick, the real SMTP server on loopback, SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from campaign_app.settings import Settings
from campaign_app.usecases import filings as filing_cases
from campaign_app.usecases.services import Services
from campaign_model.errors import InvalidInput
from campaign_model.store import filings as filing_store
from campaign_model.store.audit import Act
from campaign_model.store.reviews import diff
from campaign_model.store.tables import audit_events, obligations, reviews

from .conftest import local
from .loopback import LoopbackSMTP, smtp_server  # noqa: F401 (fixture)
from .served import campaign_serve, cli
from .test_browser import shot
from .test_pages import ISSUE_HEADER, PDF, C, Site, csrf_of, elements, has_id, matrix_cells, prepared, site  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
BROWSER_PASSWORD = "review-test-passw0rd"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def rows_csv(*lines: str) -> bytes:
    return ("\n".join((ISSUE_HEADER, *lines)) + "\n").encode("utf-8")


ROW_A = "会议多落实少,松,建立督办制度,王副校长,办公室,2023-04-30"
ROW_B = "公文运转慢,慢,限时办结,李主任,办公室,2023-05-31"
ROW_C = "值班不在岗,散,每日抽查,王副校长,办公室,2023-04-20"


def file_issue_list(site: Site, unit: str, when: str, rows: bytes, files: list[tuple[bytes, str]] | None = None,
                    signed_by: str | None = None) -> dict[str, Any]:
    """The unit files its issue list at `when` (as the filing form would: the real store, files by hash)."""
    rows_path = site.home / f"{unit}-{when.replace(':', '')}.csv"
    rows_path.write_bytes(rows)
    at = local(when)
    with site.engine.begin() as conn:
        return filing_store.file_artifact(conn, site.app.state.services.blobs, C, unit, "issue_list",
                                          Act(at, f"{unit}user", at), files=files or [], rows_file=rows_path,
                                          signed_by=signed_by)


def filing_ids(site: Site) -> dict[tuple[str, int], int]:
    from campaign_model.store.tables import filings, units

    with site.engine.connect() as conn:
        rows = conn.execute(select(units.c.key, filings.c.version, filings.c.id)
                            .join(obligations, obligations.c.id == filings.c.obligation_id)
                            .join(units, units.c.id == obligations.c.unit_id)).all()
    return {(u, v): i for u, v, i in rows}


def queue_rows(html: str) -> list[tuple[str, str]]:
    return [(tr["data-unit"], tr["data-artifact"]) for tr in elements(html, tag="tr") if "data-filing" in tr]


def state_of(site: Site, unit: str, artifact: str) -> str:
    from campaign_model.store.tables import units

    with site.engine.connect() as conn:
        return conn.execute(select(obligations.c.state).join(units, units.c.id == obligations.c.unit_id)
                            .where(units.c.key == unit, obligations.c.artifact == artifact)).scalar_one()


def audit_count(site: Site, action: str) -> int:
    with site.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_events)
                            .where(audit_events.c.action == action)).scalar_one()


# --- the queue ---

def test_the_queue_lists_the_latest_filings_waiting_for_review_oldest_first(site):
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A))
    file_issue_list(site, "s2", "2023-03-08T09:00", rows_csv(ROW_B))
    with site.engine.begin() as conn:  # the plan needs no review: it never waits in the queue
        filing_store.file_artifact(conn, site.app.state.services.blobs, C, "s1", "plan",
                                   Act(local("2023-03-09T10:00"), "s1user", local("2023-03-09T10:00")),
                                   files=[(PDF, "plan.pdf")], signed_by="张校长")

    page = site.login("sup").get(f"/c/{C}/reviews")

    assert page.status_code == 200 and has_id(page.text, "reviews")
    assert queue_rows(page.text) == [("s2", "issue_list"), ("s1", "issue_list")]
    assert "第二小学" in page.text and "问题清单" in page.text and "按时" in page.text
    assert has_id(page.text, "nav-reviews")

    file_issue_list(site, "s2", "2023-03-10T09:30", rows_csv(ROW_B, ROW_C))  # a newer version replaces the older
    again = site.login("admin").get(f"/c/{C}/reviews").text
    assert queue_rows(again) == [("s1", "issue_list"), ("s2", "issue_list")]
    s2_row = [tr for tr in elements(again, tag="tr") if tr.get("data-unit") == "s2"][0]
    assert s2_row["data-filing"] == str(filing_ids(site)[("s2", 2)])


def test_the_queue_filters_by_phase_artifact_and_parent_unit_and_says_when_nothing_waits(site):
    sup = site.login("sup")
    empty = sup.get(f"/c/{C}/reviews").text
    assert has_id(empty, "reviews-empty") and "没有待审核" in empty and not has_id(empty, "bulk-form")

    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A))
    phases = [o["value"] for o in elements(sup.get(f"/c/{C}/reviews").text, tag="option") if o.get("value")]
    assert phases == ["self_check", "issue_list", "bureau", "d1"]  # only what asks for review; parents with units below

    assert queue_rows(sup.get(f"/c/{C}/reviews", params={"phase": "self_check"}).text) == [("s1", "issue_list")]
    assert queue_rows(sup.get(f"/c/{C}/reviews", params={"artifact": "issue_list", "parent": "d1"}).text) == \
        [("s1", "issue_list")]
    none_here = sup.get(f"/c/{C}/reviews", params={"parent": "bureau"}).text
    assert queue_rows(none_here) == [] and "没有符合筛选条件" in none_here
    unknown = sup.get(f"/c/{C}/reviews", params={"phase": "no-such-phase"})
    assert unknown.status_code == 422 and "phase" in unknown.text and "self_check" in unknown.text


def test_accept_selected_accepts_each_chosen_filing_with_its_own_audit_event(site):
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A))
    file_issue_list(site, "s2", "2023-03-08T09:00", rows_csv(ROW_B))
    sup = site.login("sup")
    page = sup.get(f"/c/{C}/reviews", params={"parent": "d1"}).text
    ids = [tr["data-filing"] for tr in elements(page, tag="tr") if "data-filing" in tr]

    answer = sup.post(f"/c/{C}/reviews", data={"filing": ids, "parent": "d1", "csrf": csrf_of(page)},
                      follow_redirects=False)

    assert answer.status_code == 303 and answer.headers["location"] == f"/c/{C}/reviews?parent=d1&accepted=2&skipped=0"
    assert state_of(site, "s1", "issue_list") == state_of(site, "s2", "issue_list") == "accepted"
    assert audit_count(site, "filing.accepted") == 2
    back = sup.get(answer.headers["location"]).text
    assert has_id(back, "bulk-done") and "已通过 2 份" in back and has_id(back, "reviews-empty")
    assert matrix_cells(sup.get(f"/c/{C}/matrix").text)[("s1", "issue_list")] == "light-green"

    again = sup.post(f"/c/{C}/reviews", data={"filing": ids[:1], "csrf": csrf_of(back)}, follow_redirects=False)
    assert again.headers["location"].endswith("accepted=0&skipped=1")  # decided already: left as it is
    assert audit_count(site, "filing.accepted") == 2


def test_accept_selected_refuses_no_selection_a_bad_number_and_a_missing_csrf_token_and_changes_nothing(site):
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A))
    sup = site.login("sup")
    page = sup.get(f"/c/{C}/reviews").text

    nothing = sup.post(f"/c/{C}/reviews", data={"csrf": csrf_of(page)})
    assert nothing.status_code == 422 and has_id(nothing.text, "review-error") and "请至少勾选一份" in nothing.text
    bad = sup.post(f"/c/{C}/reviews", data={"filing": ["1", "99999999999999999999"], "csrf": csrf_of(page)})
    assert bad.status_code == 422 and "报送编号无效" in bad.text
    forged = sup.post(f"/c/{C}/reviews", data={"filing": ["1"]})
    assert forged.status_code == 403
    assert state_of(site, "s1", "issue_list") == "filed" and site.count(reviews) == 0


# --- one filing ---

def test_a_rejection_without_a_comment_is_refused_naming_the_field_and_stores_nothing(site):
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A))
    fid = filing_ids(site)[("s1", 1)]
    sup = site.login("sup")
    page = sup.get(f"/c/{C}/reviews/{fid}").text
    events = site.count(audit_events)

    answer = sup.post(f"/c/{C}/reviews/{fid}", data={"decision": "reject", "comment": "   ", "csrf": csrf_of(page)})

    assert answer.status_code == 422
    assert has_id(answer.text, "review-error") and "退回必须写明理由" in answer.text and "comment" in answer.text
    assert elements(answer.text, tag="textarea", id="comment")[0].get("aria-invalid") == "true"
    assert has_id(answer.text, "decision-form")  # the form again, to write the comment
    assert state_of(site, "s1", "issue_list") == "filed"
    assert site.count(reviews) == 0 and site.count(audit_events) == events
    nonsense = sup.post(f"/c/{C}/reviews/{fid}", data={"decision": "maybe", "csrf": csrf_of(page)})
    assert nonsense.status_code == 422 and "decision" in nonsense.text and site.count(reviews) == 0


def test_a_rejection_goes_back_to_the_queue_with_a_confirmation_and_the_next_filing(site):
    file_issue_list(site, "s2", "2023-03-08T09:00", rows_csv(ROW_B))
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A))
    ids = filing_ids(site)
    sup = site.login("sup")
    page = sup.get(f"/c/{C}/reviews/{ids[('s2', 1)]}", params={"parent": "d1"}).text
    assert [i["value"] for i in elements(page, tag="input", name="parent")] == ["d1"]  # the queue's filter kept

    answer = sup.post(f"/c/{C}/reviews/{ids[('s2', 1)]}", follow_redirects=False,
                      data={"decision": "reject", "comment": "整改时限过长，请细化到月", "parent": "d1",
                            "csrf": csrf_of(page)})

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/c/{C}/reviews?parent=d1&decided={ids[('s2', 1)]}"
    queue = sup.get(answer.headers["location"]).text
    done = queue.split('id="review-done"')[1].split("</p>")[0]
    assert "已退回" in done and "第二小学" in done and "整改时限过长，请细化到月" in done
    assert elements(queue, tag="a", id="next-review")[0]["href"] == f"/c/{C}/reviews/{ids[('s1', 1)]}?parent=d1"
    assert queue_rows(queue) == [("s1", "issue_list")]
    with site.engine.connect() as conn:
        stored = conn.execute(select(reviews.c.decision, reviews.c.comment, reviews.c.by)).one()
    assert tuple(stored) == ("rejected", "整改时限过长，请细化到月", "sup")
    assert state_of(site, "s2", "issue_list") == "rejected" and audit_count(site, "filing.rejected") == 1

    accepted = sup.post(f"/c/{C}/reviews/{ids[('s1', 1)]}", data={"decision": "accept", "csrf": csrf_of(page)})
    assert accepted.status_code == 200 and "已通过" in accepted.text and has_id(accepted.text, "reviews-empty")
    stale = sup.post(f"/c/{C}/reviews/{ids[('s1', 1)]}", data={"decision": "reject", "comment": "x", "csrf": csrf_of(page)})
    assert stale.status_code == 409 and "已处理" in stale.text and state_of(site, "s1", "issue_list") == "accepted"


# --- 报备 is not 审核: a filing of record is never accepted, only returned, alike on the page, the API and the CLI ---

def file_plan(site: Site, unit: str, when: str) -> int:
    """The unit files its signed plan (报备 in the small campaign: `plan` asks for no review); its filing id."""
    at = local(when)
    with site.engine.begin() as conn:
        filing_store.file_artifact(conn, site.app.state.services.blobs, C, unit, "plan", Act(at, f"{unit}user", at),
                                   files=[(PDF, "实施方案.pdf")], signed_by="张校长")
    return max(i for (u, _v), i in filing_ids(site).items() if u == unit)


def test_a_filing_of_record_is_not_in_the_queue_and_its_page_offers_return_only(site):
    fid = file_plan(site, "s1", "2023-03-09T09:00")
    sup = site.login("sup")
    assert ("s1", "plan") not in queue_rows(sup.get(f"/c/{C}/reviews").text)

    page = sup.get(f"/c/{C}/reviews/{fid}").text

    assert has_id(page, "of-record") and "报备材料" in page
    assert has_id(page, "reject") and not has_id(page, "accept")
    refused = sup.post(f"/c/{C}/reviews/{fid}", data={"decision": "accept", "csrf": csrf_of(page)})
    assert refused.status_code == 422 and "报备材料，报送即完成，无需审核通过" in refused.text
    assert state_of(site, "s1", "plan") == "filed" and site.count(reviews) == 0
    english = sup.post(f"/c/{C}/reviews/{fid}?lang=en", data={"decision": "accept", "csrf": csrf_of(page)})
    assert english.status_code == 422 and "filed for the record" in english.text

    returned = sup.post(f"/c/{C}/reviews/{fid}", follow_redirects=False,
                        data={"decision": "reject", "comment": "实施方案未加盖公章，请盖章后重新报送", "csrf": csrf_of(page)})
    assert returned.status_code == 303
    assert state_of(site, "s1", "plan") == "rejected" and audit_count(site, "filing.rejected") == 1


def test_an_administrator_reaches_a_filing_of_record_from_the_filing_page(site):
    fid = file_plan(site, "s1", "2023-03-09T09:00")
    form = site.login("admin").get(f"/c/{C}/file?unit=s1").text
    assert [a["href"] for a in elements(form, tag="a", class_="open-review")] == [f"/c/{C}/reviews/{fid}"]
    assert not elements(site.login("s1user").get(f"/c/{C}/file").text, tag="a", class_="open-review")


def test_the_api_and_the_use_case_refuse_to_accept_a_filing_of_record_and_return_it(site):
    from .web_support import account, bearer, client_for

    file_plan(site, "s1", "2023-03-09T09:00")
    token = account(site.engine, "api-sup", "supervisor")
    api = client_for(site.app)
    events = site.count(audit_events)

    refused = api.post(f"/api/v1/campaigns/{C}/reviews", headers=bearer(token),
                       json={"unit": "s1", "artifact": "plan", "decision": "accept"})

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert "报备" in error["message"] and "filed for the record" in error["message"]
    assert error["fields"][0]["field"] == "decision"
    assert state_of(site, "s1", "plan") == "filed" and site.count(audit_events) == events
    svc = site.app.state.services
    with pytest.raises(InvalidInput):
        filing_cases.review(svc, svc.act("sup"), C, "s1", "plan", accept=True)
    returned = api.post(f"/api/v1/campaigns/{C}/reviews", headers=bearer(token),
                        json={"unit": "s1", "artifact": "plan", "decision": "reject", "comment": "缺少签字页"})
    assert returned.status_code == 200 and returned.json()["state"] == "rejected"
    assert state_of(site, "s1", "plan") == "rejected"


def test_the_command_refuses_to_accept_a_filing_of_record_with_the_same_message(site):
    from .served import CAMPAIGN

    file_plan(site, "s2", "2023-03-09T09:00")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(site.home),
           "CAMPAIGN_DB_URL": site.engine.url.render_as_string(hide_password=False)}
    done = subprocess.run([*CAMPAIGN, "review", C, "--unit", "s2", "--artifact", "plan", "--accept",
                           "--at", "2023-03-10T09:00"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0 and "报备材料，报送即完成，无需审核通过" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert state_of(site, "s2", "plan") == "filed"


def test_the_filing_page_shows_rows_versions_the_signer_and_what_changed_since_the_previous_version(site):
    file_issue_list(site, "s1", "2023-03-08T09:00", rows_csv(ROW_A, ROW_B), files=[(PDF, "问题清单（签字盖章）.pdf")],
                    signed_by="张校长")
    file_issue_list(site, "s1", "2023-03-09T09:00",
                    rows_csv(ROW_A.replace("建立督办制度", "建立督办台账，每周通报"), ROW_C),
                    files=[(PNG, "会议记录.png")], signed_by="王副校长")
    ids = filing_ids(site)
    sup = site.login("sup")

    page = sup.get(f"/c/{C}/reviews/{ids[('s1', 2)]}").text

    assert has_id(page, "decision-form") and "王副校长" in page.split('id="signed-by"')[1][:40]
    assert page.split('id="filed-by"')[1][:20].startswith(">第一小学<")  # the account by its unit's name, not its key
    rows = page.split('id="rows"')[1].split("</table>")[0]
    assert "建立督办台账，每周通报" in rows and "值班不在岗" in rows and "整改时限" in rows  # the columns' titles
    changes = {tr["data-change"] for tr in elements(page, tag="tr") if "data-change" in tr}
    assert changes == {"added", "removed", "changed"}
    table = page.split('id="row-changes"')[1].split("</table>")[0]
    added = table.split('data-change="added"')[1].split("</tr>")[0]
    removed = table.split('data-change="removed"')[1].split("</tr>")[0]
    changed = table.split('data-change="changed"')[1].split("</tr>")[0]
    assert "值班不在岗" in added and "公文运转慢" in removed
    assert "<del>建立督办制度</del> <ins>建立督办台账，每周通报</ins>" in changed
    summary = page.split('id="change-summary"')[1].split("</ul>")[0]
    assert "新增 1 行，删除 1 行，修改 1 行，未变 0 行" in summary
    assert "+ 会议记录.png" in summary and "− 问题清单（签字盖章）.pdf" in summary and "张校长 → 王副校长" in summary
    assert [tr["data-version"] for tr in elements(page, tag="tr") if "data-version" in tr] == ["2", "1"]
    assert elements(page, tag="img", class_="preview image-preview")  # the PNG shown in the page

    older = sup.get(f"/c/{C}/reviews/{ids[('s1', 1)]}").text
    assert not has_id(older, "decision-form") and has_id(older, "not-waiting") and has_id(older, "first-version")
    assert elements(older, tag="iframe", class_="preview pdf-preview")


def test_the_review_pages_read_in_english(site):
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A), files=[(PDF, "scan.pdf")])
    sup = site.login("sup")

    queue = sup.get(f"/c/{C}/reviews", params={"lang": "en"}).text
    assert "Filings to review" in queue and "Accept selected" in queue and "1 waiting, the oldest first." in queue
    page = sup.get(f"/c/{C}/reviews/{filing_ids(site)[('s1', 1)]}").text  # the language is remembered
    for words in ("Accept", "Return", "Changes since the previous version", "Open in a new tab", "Versions"):
        assert words in page
    assert "审核意见" not in page and "逐行内容" not in page


def test_diff_matches_rows_on_their_key_column_and_counts_the_unchanged():
    older = {"rows": [{"problem": "甲", "measure": "一"}, {"problem": "乙", "measure": "二"}, {"problem": "乙", "measure": "二"}],
             "files": [{"sha256": "a", "name": "a.pdf"}], "signed_by": "张"}
    newer = {"rows": [{"problem": "乙", "measure": "二"}, {"problem": "甲", "measure": "三"}, {"problem": "丙", "measure": "四"}],
             "files": [{"sha256": "a", "name": "a-renamed.pdf"}], "signed_by": "张"}

    d = diff(older, newer, "problem")

    assert d["rows_added"] == [{"problem": "丙", "measure": "四"}]
    assert d["rows_removed"] == [{"problem": "乙", "measure": "二"}]  # one of the two identical rows went
    assert d["rows_changed"] == [{"before": {"problem": "甲", "measure": "一"}, "after": {"problem": "甲", "measure": "三"},
                                  "columns": ["measure"]}]
    assert d["rows_same"] == 1 and d["files_added"] == d["files_removed"] == []  # the same content, renamed
    first = diff(None, newer, "problem")
    assert len(first["rows_added"]) == 3 and first["files_added"] == newer["files"]


# --- files: previewed inline only as PDF or image, sandboxed ---

def test_a_pdf_is_previewed_inline_and_sandboxed_and_html_is_never_inline(site):
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A),
                    files=[(PDF, "签字盖章.pdf"), (PNG, "照片.png"), (b"<html><script>alert(1)</script></html>", "x.html"),
                           (b"<html>not a pdf</html>", "伪装.pdf")])
    fid = filing_ids(site)[("s1", 1)]
    sup = site.login("sup")

    pdf = sup.get(f"/c/{C}/reviews/{fid}/preview/0")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in pdf.headers["content-security-policy"].split(";")[0]
    assert pdf.headers["x-frame-options"] == "SAMEORIGIN"  # our own page may frame it, nobody else's

    png = sup.get(f"/c/{C}/reviews/{fid}/preview/1")
    assert png.headers["content-type"] == "image/png" and png.headers["content-disposition"].startswith("inline")

    for n in (2, 3):  # HTML, and HTML named .pdf: downloaded, never shown in our origin
        other = sup.get(f"/c/{C}/reviews/{fid}/preview/{n}")
        assert other.status_code == 200
        assert other.headers["content-type"] == "application/octet-stream"
        assert other.headers["content-disposition"].startswith("attachment")
        assert other.headers["content-security-policy"] == "sandbox"

    download = sup.get(f"/c/{C}/reviews/{fid}/files/0")
    assert download.headers["content-disposition"].startswith("attachment") and download.content == PDF
    page = sup.get(f"/c/{C}/reviews/{fid}").text
    assert [f["src"] for f in elements(page, tag="iframe")] == [f"/c/{C}/reviews/{fid}/preview/0"]
    assert [i["src"] for i in elements(page, tag="img", class_="preview image-preview")] == \
        [f"/c/{C}/reviews/{fid}/preview/1"]
    assert sup.get(f"/c/{C}/reviews/{fid}/preview/9").status_code == 404
    assert sup.get(f"/c/{C}/reviews/{fid}/preview/99999999").status_code == 422


@pytest.mark.parametrize("user", ["s1user", "d1user", "viewer"])
def test_a_unit_user_or_a_viewer_cannot_reach_the_review_pages(site, user):
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A), files=[(PDF, "a.pdf")])
    fid = filing_ids(site)[("s1", 1)]
    client = site.login(user)

    for path in (f"/c/{C}/reviews", f"/c/{C}/reviews/{fid}", f"/c/{C}/reviews/{fid}/preview/0",
                 f"/c/{C}/reviews/{fid}/files/0"):
        answer = client.get(path)
        assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html"), path
    token = csrf_of(client.get(f"/c/{C}/file").text) if user != "viewer" else ""
    refused = client.post(f"/c/{C}/reviews/{fid}", data={"decision": "accept", "csrf": token})
    assert refused.status_code == 403 and state_of(site, "s1", "issue_list") == "filed"
    assert not has_id(client.get(f"/c/{C}").text, "nav-reviews")


def test_unknown_or_out_of_range_filing_numbers_are_answered_not_crashed(site):
    sup = site.login("sup")
    assert sup.get(f"/c/{C}/reviews/12345").status_code == 404
    assert sup.get(f"/c/{C}/reviews/99999999999999999999").status_code == 422
    assert sup.get(f"/c/{C}/reviews/0").status_code == 422


def test_the_json_queue_answers_the_same_filings_to_a_program(site):
    file_issue_list(site, "s1", "2023-03-09T09:00", rows_csv(ROW_A))
    from campaign_model.store.accounts import create_token

    with site.engine.begin() as conn:
        token, _ = create_token(conn, "sup", Act(local("2023-03-10T09:00"), "admin", local("2023-03-10T09:00")))
    client = site.client()

    answer = client.get(f"/api/v1/campaigns/{C}/reviews", params={"artifact": "issue_list"},
                        headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == 1 and [(i["unit"], i["artifact"], i["version"]) for i in body["items"]] == \
        [("s1", "issue_list", 1)]


# --- the same use cases on both databases ---

def test_the_queue_a_filing_view_and_accept_selected_on_each_database(engine, db_url, small, tmp_path):
    svc = Services(Settings(tmp_path / "home", db_url), engine, clock=lambda: local("2023-03-10T10:00"))
    for n, (unit, rows) in enumerate((("s2", (ROW_B,)), ("s1", (ROW_A, ROW_B)), ("s1", (ROW_A, ROW_C)))):
        path = tmp_path / f"rows{n}.csv"
        path.write_bytes(rows_csv(*rows))
        at = local(f"2023-03-0{n + 7}T10:00")
        filing_cases.file_artifact(svc, Act(at, f"{unit}user", at), "small-2023", unit, "issue_list", rows=path)

    queue = filing_cases.review_queue(svc, "small-2023", parent="d1")
    assert [(i["unit"], i["version"]) for i in queue["items"]] == [("s2", 1), ("s1", 2)] and queue["total"] == 2
    view = filing_cases.review_view(svc, "small-2023", queue["items"][1]["id"])
    assert view["waiting"] and view["previous"] == 1 and [v["version"] for v in view["versions"]] == [2, 1]
    assert [r["problem"] for r in view["changes"]["rows_added"]] == ["值班不在岗"]
    assert [r["problem"] for r in view["changes"]["rows_removed"]] == ["公文运转慢"]

    at = local("2023-03-10T10:00")
    done = filing_cases.accept_filings(svc, Act(at, "督导组", at), "small-2023", [i["id"] for i in queue["items"]])
    assert len(done["accepted"]) == 2 and done["skipped"] == []
    assert filing_cases.review_queue(svc, "small-2023")["items"] == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_events)
                            .where(audit_events.c.action == "filing.accepted")).scalar_one() == 2


def test_two_reviewers_deciding_the_same_filing_at_once_record_one_decision(engine, db_url, small, tmp_path):
    import threading

    from campaign_model.errors import ConflictError

    svc = Services(Settings(tmp_path / "home", db_url), engine, clock=lambda: local("2023-03-10T10:00"))
    path = tmp_path / "rows.csv"
    path.write_bytes(rows_csv(ROW_A))
    at = local("2023-03-09T10:00")
    filing_cases.file_artifact(svc, Act(at, "s1user", at), "small-2023", "s1", "issue_list", rows=path)
    [waiting] = filing_cases.review_queue(svc, "small-2023")["items"]
    start, outcomes = threading.Barrier(2), []

    def decide(who: str, accept: bool) -> None:
        start.wait()
        when = local("2023-03-10T10:00")
        try:
            outcomes.append(filing_cases.decide_filing(svc, Act(when, who, when), "small-2023", waiting["id"],
                                                       accept=accept, comment=None if accept else "请补充")["state"])
        except ConflictError:
            outcomes.append("refused")

    threads = [threading.Thread(target=decide, args=a) for a in (("督导组甲", True), ("督导组乙", False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) in (["accepted", "refused"], ["refused", "rejected"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reviews)).scalar_one() == 1


# --- the comment reaches the unit in its next reminder ---

def test_the_next_reminder_of_a_returned_filing_says_returned_and_quotes_the_comment(engine, db_url, small, tmp_path,
                                                                                      monkeypatch,
                                                                                      smtp_server: LoopbackSMTP):
    from flows.tick import tick_direct

    channels = tmp_path / "channels.yaml"
    channels.write_text(f"channels:\n  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, "
                        f'security: none, sender: "教育局 <robot@example.cn>"}}\n', encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CHANNELS", str(channels))

    def tick(when: str) -> dict[str, Any]:
        return tick_direct(db_url, "small-2023", Act(local(when), "tick", local(when)), str(tmp_path / "outbox.jsonl"))

    svc = Services(Settings(tmp_path / "home", db_url), engine, clock=lambda: local("2023-03-08T10:00"))
    scan = tmp_path / "plan.pdf"
    scan.write_bytes(PDF)
    for unit in ("s1", "s2"):  # both plans filed: mobilization is done, self-check opens on its day
        at = local("2023-02-27T10:00")
        filing_cases.file_artifact(svc, Act(at, f"{unit}user", at), "small-2023", unit, "plan", files=[scan],
                                   signed_by="校长")
    tick("2023-03-06T08:00")
    rows = tmp_path / "rows.csv"
    rows.write_bytes(rows_csv(ROW_A))
    filed_at = local("2023-03-07T10:00")
    filing_cases.file_artifact(svc, Act(filed_at, "s1user", filed_at), "small-2023", "s1", "issue_list", rows=rows)
    [waiting] = filing_cases.review_queue(svc, "small-2023")["items"]
    comment = "整改措施过于笼统，请写明责任人和完成时限"
    rejected_at = local("2023-03-08T10:00")
    filing_cases.decide_filing(svc, Act(rejected_at, "督导组", rejected_at), "small-2023", waiting["id"], accept=False,
                               comment=comment)
    before = len(smtp_server.messages)

    result = tick("2023-03-31T10:00")  # three days before the due day (04-02 is a Sunday: Friday 03-31)

    assert result["reminders_sent"] >= 1
    mails = [m for m in smtp_server.messages[before:] if m["To"].addresses[0].addr_spec == "s1@example.cn"]
    assert len(mails) == 1
    plain = mails[0].get_body(("plain",)).get_content()
    html_part = mails[0].get_body(("html",)).get_content()
    line = [ln for ln in plain.splitlines() if "退回" in ln]
    assert line == [f"  已被退回，审核意见：“{comment}”。请按意见修改后重新报送。"], plain
    assert "问题清单" in plain.split(line[0])[0].splitlines()[-1]  # under the issue list's own line
    assert "退回" in html_part and comment in html_part


# --- in a real browser against `campaign serve` ---

def spec_for_review(today: dt.date) -> str:
    """A campaign whose self-check phase runs now; the schools' issue lists are signed, stamped and reviewed."""
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    return f"""\
version: 1
key: review-test
title: 作风整顿（审核测试）
calendar: all-days
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
  - {{key: d1, name: 城关学区, parent: bureau, tags: [学区]}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校]}}
artifacts:
  issue_list:
    title: 问题清单
    rows:
      problem: {{title: 问题, required: true}}
      measure: {{title: 整改措施}}
      deadline: {{title: 整改时限, type: date, required: true}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: {d(-5)}
    end: {d(20)}
    steps:
      - key: issues
        title: 问题清单
        due: {d(3)}
        requires:
          - {{artifact: issue_list, from: tag:学校, signoff: true, review: true}}
"""


def a_real_pdf(lines: list[str]) -> bytes:
    """A small, valid one-page PDF (Helvetica text) that a browser's viewer draws."""
    text = "BT /F1 18 Tf 60 760 Td 24 TL " + " ".join(f"({ln}) '" for ln in lines) + " ET"
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
               "/Contents 5 0 R >>", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               f"<< /Length {len(text)} >>\nstream\n{text}\nendstream"]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@pytest.fixture(scope="module")
def review_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:

    home = tmp_path_factory.mktemp("review-home")
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": f"sqlite:///{home / 'campaign.db'}",
           "PYTHONPATH": str(ROOT)}
    spec = home / "spec.yaml"
    spec.write_text(spec_for_review(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()), encoding="utf-8")
    cli(env, "create", str(spec))
    cli(env, "user", "add", "duban", "--role", "supervisor", "--display-name", "督导组李组长", "--password-stdin",
              stdin=BROWSER_PASSWORD + "\n")
    cli(env, "user", "add", "s1-head", "--role", "unit", "--unit", "s1", "--display-name", "张校长",
              "--password-stdin", stdin=BROWSER_PASSWORD + "\n")
    with campaign_serve(env) as address:
        yield address


def test_a_supervisor_returns_an_issue_list_with_a_comment_and_accepts_the_refiled_one(review_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    server = review_server
    scan = tmp_path / "问题清单（签字盖章）.pdf"
    scan.write_bytes(a_real_pdf(["Self-check issue list - First Primary School", "Signed: Principal Zhang",
                                 "[stamp]"]))
    first = tmp_path / "问题清单.csv"
    first.write_text("问题,整改措施,整改时限\n会议多落实少,加强学习,2026-12-31\n公文运转慢,限时办结,2027-01-31\n", encoding="utf-8")
    second = tmp_path / "问题清单-改.csv"
    second.write_text("问题,整改措施,整改时限\n会议多落实少,建立督办台账，每周通报,2026-12-31\n公文运转慢,限时办结,2027-01-31\n"
                      "值班不在岗,每日抽查并通报,2026-12-15\n", encoding="utf-8")
    comment = "整改措施过于笼统：请写明“会议多落实少”的具体办法和责任人"
    errors: list[str] = []

    expect.set_options(timeout=60_000)  # a machine shared with other test runs answers slowly at times
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])

            def page_at(width: int) -> Any:
                context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
                context.set_default_timeout(90_000)  # a machine shared with other test runs answers slowly at times
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                return page

            def log_in(page: Any, name: str) -> None:
                page.goto(f"{server}/login")
                page.fill("#name", name)
                page.fill("#password", BROWSER_PASSWORD)
                page.click("#login-submit")
                expect(page.locator("#current-user")).to_be_visible()

            def file_list(rows: Path) -> None:
                school = page_at(1280)
                log_in(school, "s1-head")
                school.goto(f"{server}/c/review-test/file")
                school.select_option("#artifact", "issue_list")
                school.fill("#signed_by", "张校长")
                school.set_input_files("#files", str(scan))
                school.set_input_files("#rows", str(rows))
                school.click("#file-submit")
                expect(school.locator("#filing-ok")).to_be_visible()
                school.context.close()

            file_list(first)

            # the supervisor, on a desktop: the queue, the filing with its PDF in the page, a rejection
            sup = page_at(1280)
            log_in(sup, "duban")
            sup.goto(f"{server}/c/review-test")
            sup.click("#nav-reviews")
            rows = sup.locator("#reviews tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("第一小学")
            shot(sup, "review-1-queue-1280")
            rows.first.locator("a.open-review").click()
            frame = sup.locator("iframe.pdf-preview")
            expect(frame).to_be_visible()
            preview = sup.request.get(server + frame.get_attribute("src"))
            assert preview.headers["content-type"] == "application/pdf"
            assert preview.headers["content-disposition"].startswith("inline")
            assert "sandbox" in preview.headers["content-security-policy"]
            expect(sup.locator("#rows")).to_contain_text("公文运转慢")
            expect(sup.locator("#signed-by")).to_have_text("张校长")
            expect(sup.locator("#filed-by")).to_have_text("张校长")  # the account's display name
            sup.wait_for_timeout(1500)  # the PDF viewer draws the page in its frame
            shot(sup, "review-2-filing-with-pdf-1280")
            sup.click("#reject")  # no comment: refused, nothing stored
            expect(sup.locator("#review-error")).to_contain_text("退回必须写明理由")
            sup.fill("#comment", comment)
            sup.click("#reject")
            expect(sup.locator("#review-done")).to_contain_text(comment)
            expect(sup.locator("#reviews-empty")).to_be_visible()
            shot(sup, "review-3-returned-1280")

            # the school, on a phone: its task list (the first page after login) shows the return with the
            # comment, first of its tasks; 去报送 opens the form for that artifact; the comment is there too
            school = page_at(390)
            log_in(school, "s1-head")
            task = school.locator('#tasks li.task[data-artifact="issue_list"]')
            expect(task).to_have_attribute("data-unit", "s1")
            expect(task.locator(".rejection-comment")).to_contain_text(comment)
            expect(task.locator(".rejection footer")).to_contain_text("督导组李组长")
            assert school.locator("#tasks li.task").first.get_attribute("data-artifact") == "issue_list"
            expect(school.locator("#count-rejected")).to_have_text("1")
            assert school.evaluate("document.documentElement.scrollWidth") <= 390
            shot(school, "review-3b-school-tasks-390")
            task.locator("a.file-link").click()
            expect(school.locator("#artifact")).to_have_value("issue_list")
            expect(school.locator("#recent-filings")).to_contain_text(comment)
            school.context.close()
            file_list(second)

            # the supervisor, on a phone: the refiled version, what changed, accepted
            phone = page_at(390)
            log_in(phone, "duban")
            phone.goto(f"{server}/c/review-test/reviews")
            expect(phone.locator("#reviews tbody tr")).to_have_count(1)
            expect(phone.locator("#reviews")).to_contain_text("第 2 版")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            shot(phone, "review-4-queue-390")
            phone.locator("a.open-review").first.click()
            expect(phone.locator("#change-summary")).to_contain_text("新增 1 行，删除 0 行，修改 1 行，未变 1 行")
            expect(phone.locator('#row-changes tr[data-change="added"]')).to_contain_text("值班不在岗")
            expect(phone.locator("#versions")).to_contain_text(comment)
            expect(phone.locator("iframe.pdf-preview")).to_be_visible()
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            expect(phone.locator("a.open-preview")).to_have_attribute("target", "_blank")  # phones without a PDF viewer
            phone.locator("iframe.pdf-preview").scroll_into_view_if_needed()
            phone.wait_for_timeout(2500)
            shot(phone, "review-5-filing-changes-390")
            phone.click("#accept")
            expect(phone.locator("#review-done")).to_contain_text("已通过")
            expect(phone.locator("#reviews-empty")).to_be_visible()
            shot(phone, "review-6-accepted-390")

            sup.goto(f"{server}/c/review-test/matrix")
            expect(sup.locator('#matrix td[data-unit="s1"][data-artifact="issue_list"]')).to_have_class(
                re.compile(r"\blight-green\b"))
            shot(sup, "review-7-matrix-green-1280")
            browser.close()
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the other tests
    assert errors == []
