"""Phases that open on their date while the one before is still completing (spec `opens: on_date`), who reviews
a requirement (`review: supervisor | organizer | {by: ...}`), and the notice's issuer and document number (issue 13).

The rules (`rules.can_start`, `rules.completion_instant`) with explicit instants; the spec's forms through
`load_spec_text`; the engine's behaviour over a whole seed is in tests/test_seed_walks.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from campaign_model import rules
from campaign_model.errors import SpecInvalid
from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.notice_query import overdue_by_parent
from campaign_model.store.phases import advance
from campaign_model.store.queries import status
from notifications.notice import notice_message, render_markdown

from .conftest import local


def phase(start: str, end: str, opens: str = "after_previous", advance: str = "at_end") -> rules.PhaseView:
    return rules.PhaseView("p", local(start), local(end), advance, "pending", opens=opens)


def test_a_phase_that_waits_opens_when_the_one_before_completes() -> None:
    p = phase("2023-04-01T00:00", "2023-10-31T23:59")
    assert rules.can_start(p, None, False, local("2023-04-02T09:00"), local("2023-03-06T00:00")) is None
    assert rules.can_start(p, local("2023-04-10T11:00"), False, local("2023-04-10T12:00")) == local("2023-04-10T11:00")


def test_a_phase_that_opens_on_its_date_runs_beside_the_one_before() -> None:
    p = phase("2023-04-01T00:00", "2023-10-31T23:59", opens="on_date")
    # the one before started 03-06 and has not completed: this one opens on 04-01 all the same
    assert rules.can_start(p, None, False, local("2023-03-31T23:00"), local("2023-03-06T00:00")) is None
    assert rules.can_start(p, None, False, local("2023-04-01T09:00"), local("2023-03-06T00:00")) == local("2023-04-01T00:00")
    # not before the one before has even started (it waits on its own predecessor)
    assert rules.can_start(p, None, False, local("2023-04-02T09:00"), None) is None
    # the one before completed late, after this one's date: this one still opened on its date
    assert rules.can_start(p, local("2023-04-10T11:00"), False, local("2023-04-10T12:00"),
                           local("2023-03-06T00:00")) == local("2023-04-01T00:00")


def test_phases_complete_in_order() -> None:
    p = phase("2023-04-01T00:00", "2023-04-30T23:59", opens="on_date", advance="when_ready")
    started, met = local("2023-04-01T00:00"), local("2023-04-03T10:00")
    assert rules.completion_instant(p, started, met, local("2023-04-05T09:00")) == met
    # the one before completed on 04-10: this one, ready since 04-03, completes then, not before
    assert rules.completion_instant(p, started, met, local("2023-04-12T09:00"), local("2023-04-10T11:00")) == \
        local("2023-04-10T11:00")


SPEC = """\
version: 1
key: overlap
title: 重叠阶段
organizer: bureau
units:
  - {key: bureau, name: 县教育局}
  - {key: s1, name: 第一小学, parent: bureau}
artifacts:
  plan: {title: 实施方案}
  list: {title: 问题清单}
  report: {title: 检查报告}
phases:
  - {key: one, title: 第一阶段, kind: custom, start: 2023-03-01, end: 2023-03-31,
     steps: [{key: a, title: 方案, due: end, requires: [{artifact: plan, from: all}]}]}
  - {key: two, title: 第二阶段, kind: custom, start: 2023-04-01, end: 2023-04-30, opens: on_date,
     steps: [{key: b, title: 清单, due: end, requires: [{artifact: list, from: all, review: supervisor}]}]}
  - {key: three, title: 第三阶段, kind: custom, start: 2023-05-01, end: 2023-05-31,
     steps: [{key: c, title: 报告, due: end, requires: [{artifact: report, from: all, review: {by: 局办公室}}]}]}
messages:
  issuer: 县教育局作风整顿领导小组办公室
  doc_number: 城教作风〔{year}〕{n}号
"""


def test_review_names_who_reviews() -> None:
    spec = load_spec_text(SPEC, "overlap.yaml").spec
    two, three = spec.phases[1].steps[0].requires[0], spec.phases[2].steps[0].requires[0]
    assert (two.review, two.review_by, two.review_by_en) == (True, "督导组", "Supervising group")
    assert (three.review, three.review_by, three.review_by_en) == (True, "局办公室", None)
    plain = load_spec_text(SPEC.replace("review: supervisor", "review: true"), "overlap.yaml").spec
    assert (plain.phases[1].steps[0].requires[0].review, plain.phases[1].steps[0].requires[0].review_by) == (True, None)
    assert [p.opens for p in spec.phases] == ["after_previous", "on_date", "after_previous"]


@pytest.mark.parametrize("bad, field", [
    (("review: supervisor", "review: everybody"), "review"),
    (("review: {by: 局办公室}", "review: {who: 局办公室}"), "review"),
    (("opens: on_date", "opens: tomorrow"), "opens"),
    (("城教作风〔{year}〕{n}号", "城教作风〔{yr}〕{n}号"), "doc_number"),
])
def test_bad_forms_are_refused_naming_the_field(bad: tuple[str, str], field: str) -> None:
    with pytest.raises(SpecInvalid) as refused:
        load_spec_text(SPEC.replace(*bad), "overlap.yaml")
    assert any(field in f"{p.path} {p.message}" for p in refused.value.problems), refused.value.problems


def test_the_engine_runs_two_phases_and_the_notice_is_signed_and_numbered(engine) -> None:
    created = local("2023-02-20T09:00")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "overlap.yaml"), Act(created, "admin", created))
    for when in ("2023-03-01T09:00", "2023-04-03T09:00"):
        with engine.begin() as conn:
            advance(conn, load_ctx(conn, "overlap"), Act(local(when), "tick", local(when)))
    with engine.begin() as conn:
        st = status(conn, "overlap", local("2023-04-03T09:00"))
        data = overdue_by_parent(conn, "overlap", local("2023-04-03T09:00"))
    assert st["running_phases"] == ["one", "two"] and st["current_phase"] == "one"
    assert [p["opens"] for p in st["phases"]] == ["after_previous", "on_date", "after_previous"]
    # the first phase's plans are overdue and named, signed by the office with the number of the week
    assert data.items_overdue == 1 and data.issuer == "县教育局作风整顿领导小组办公室"
    assert data.doc_number == "城教作风〔2023〕6号"  # week 1 is 02-27 .. 03-05; 04-03 starts week 6
    text = render_markdown(data)
    assert text.startswith("城教作风〔2023〕6号\n") and "县教育局作风整顿领导小组办公室\n2023年4月3日" in text
    _subject, plain, _md = notice_message(data)
    assert plain.startswith("城教作风〔2023〕6号") and "县教育局作风整顿领导小组办公室" in plain
    # the third phase waits for the second (after_previous), whatever its date
    for when in ("2023-05-02T09:00",):
        with engine.begin() as conn:
            advance(conn, load_ctx(conn, "overlap"), Act(local(when), "tick", local(when)))
    with engine.begin() as conn:
        assert status(conn, "overlap", local("2023-05-02T09:00"))["running_phases"] == ["one", "two"]


def test_the_review_queue_and_the_tasks_name_who_reviews(tmp_path) -> None:
    from campaign_app.settings import Settings
    from campaign_app.usecases.services import Services
    from campaign_app.web.app import create_app
    from campaign_model.store.accounts import add_user
    from campaign_model.store.blobs import BlobStore
    from campaign_model.store.db import open_engine
    from campaign_model.store.filings import file_artifact

    from .test_pages import PASSWORD, Site

    url = f"sqlite:///{tmp_path / 'review.db'}"
    engine = open_engine(url)
    created, filed_at, now = local("2023-02-20T09:00"), local("2023-04-03T10:00"), local("2023-04-03T11:00")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "overlap.yaml"), Act(created, "admin", created))
        add_user(conn, "admin", "admin", None, PASSWORD, Act(created, "admin", created))
        add_user(conn, "s1user", "unit", "s1", PASSWORD, Act(created, "admin", created))
        advance(conn, load_ctx(conn, "overlap"), Act(filed_at, "tick", filed_at))
        file_artifact(conn, BlobStore(tmp_path / "files"), "overlap", "s1", "list", Act(filed_at, "s1user", filed_at),
                      files=[(b"%PDF-1.4 list", "list.pdf")])
    site = Site(create_app(Services(Settings(tmp_path, url), engine, clock=lambda: now)), engine, tmp_path)
    admin = site.login("admin")
    queue = admin.get("/c/overlap/reviews").text
    assert "审核：督导组" in queue
    [filing] = set(re.findall(r"/c/overlap/reviews/(\d+)", queue))
    assert 'id="reviewer">督导组<' in admin.get(f"/c/overlap/reviews/{filing}").text
    assert "Reviewed by Supervising group" in admin.get("/c/overlap/reviews?lang=en").text
    tasks = site.login("s1user").get("/").text
    assert "审核：督导组" in tasks
    engine.dispose()
