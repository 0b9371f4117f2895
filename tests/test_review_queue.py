"""The review queue (待审核): supervisors and admins see the filings waiting for a decision, oldest first, filter
them, accept several at once, open one (its files previewed, its rows, its versions and what changed) and
accept or return it with a comment; the comment reaches the unit in its next reminder.

Through HTTP as a browser uses the pages (tests/test_pages.py's site: a real SQLite copy of the small
campaign ticked at 2023-03-10 10:00, its accounts logged in through the login form), then the comment in
a real reminder (a real tick, the real SMTP server on loopback, SQLite and PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from campaign_app.settings import Settings
from campaign_app.usecases import filings as filing_cases
from campaign_app.usecases.services import Services
from campaign_model.store import filings as filing_store
from campaign_model.store.audit import Act
from campaign_model.store.reviews import diff
from campaign_model.store.tables import audit_events, obligations, reviews

from .conftest import local
from .loopback import LoopbackSMTP, smtp_server  # noqa: F401 (fixture)
from .test_pages import ISSUE_HEADER, PDF, C, Site, csrf_of, elements, has_id, matrix_cells, prepared, site  # noqa: F401

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
    tick("2023-03-06T08:00")  # self-check opens
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
    assert line and comment in line[0] and "问题清单" in plain
    assert "退回" in html_part and comment in html_part
