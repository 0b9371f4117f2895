"""Changing a running campaign: a new spec version moves future dates, adds steps and requirements and
re-plans open obligations; 延期 extends one unit's deadline and its reminder plan follows; nothing past is
rewritten; every change is audited with who and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_app.settings import Settings
from campaign_app.usecases import changes, filings
from campaign_app.usecases.services import Services
from campaign_model.errors import ConflictError, InvalidInput, NotFound, SpecInvalid
from campaign_model.specfile import load_spec_text
from campaign_model.store import audit
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.tables import campaigns, obligations, outbox, requirements, units
from flows.tick import tick_direct

from .conftest import SMALL_SPEC, local

PDF = b"%PDF-1.4 signed and stamped plan"
MOVED = SMALL_SPEC.replace("due: start + 10 workdays", "due: 2023-03-03")  # the plan step: 02-28 -> 03-03


def _act(when: str, actor: str = "局办公室") -> Act:
    return Act(local(when), actor, local(when))


class Run:
    """The small campaign on one database, its services, and the tick."""

    def __init__(self, url: str, home: Path):
        self.url, self.home = url, home
        self.engine = open_engine(url)
        self.svc = Services(Settings(home, url), self.engine, clock=lambda: local("2023-02-20T10:00"))
        with self.engine.begin() as conn:
            create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"), _act("2023-02-01T09:00"))
        self.key = "small-2023"

    def tick(self, when: str) -> dict:
        return tick_direct(self.url, self.key, _act(when, "tick"), str(self.home / "outbox.jsonl"))

    def file_plan(self, unit: str, when: str) -> None:
        pdf = self.home / "plan.pdf"
        pdf.write_bytes(PDF)
        filings.file_artifact(self.svc, _act(when, unit), self.key, unit, "plan", files=[pdf], signed_by="张校长")

    def obligation(self, unit: str, artifact: str = "plan"):
        with self.engine.connect() as conn:
            return conn.execute(select(obligations).join(units, units.c.id == obligations.c.unit_id)
                                .where(units.c.key == unit, obligations.c.artifact == artifact)).one()

    def reminders(self, unit: str) -> list:
        ob = self.obligation(unit)
        with self.engine.connect() as conn:
            return conn.execute(select(outbox.c.kind, outbox.c.planned_for).where(outbox.c.obligation_id == ob.id)
                                .order_by(outbox.c.planned_for)).all()

    def spec_version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(campaigns.c.spec_version)).scalar_one()

    def audit_ok(self) -> bool:
        with self.engine.connect() as conn:
            return audit.verify(conn).ok


@pytest.fixture
def run(tmp_path: Path):
    r = Run(f"sqlite:///{tmp_path / 'campaign.db'}", tmp_path)
    r.tick("2023-02-14T08:00")  # mobilization starts
    yield r
    r.engine.dispose()


def test_moving_a_future_due_date_recomputes_open_obligations_and_leaves_filed_ones(run):
    run.file_plan("s1", "2023-02-17T10:00")
    at = local("2023-02-20T10:00")
    result = changes.amend(run.svc, _act("2023-02-20T10:00"), run.key, MOVED, reason="上级通知推迟报送", at=at)
    assert result["version"] == 2
    assert result["recomputed"] == 1  # s2's plan; s1 filed
    assert any("2023-02-28 → 2023-03-03" in line for line in result["changes"])
    s2, s1 = run.obligation("s2"), run.obligation("s1")
    assert s2.due_at == local("2023-03-03T23:59:59")
    assert s2.next_remind_at == local("2023-02-28T09:00")  # 3 days before 03-03
    assert s1.state == "filed" and s1.due_at == local("2023-02-28T23:59:59")
    assert run.spec_version() == 2
    [v2, v1] = changes.versions(run.svc, run.key)
    assert (v2["version"], v2["author"], v2["reason"]) == (2, "局办公室", "上级通知推迟报送")
    assert v2["changes"] == result["changes"] and v1["version"] == 1
    assert "2023-03-03" in changes.spec_text(run.svc, run.key)
    assert run.audit_ok()
    # the tick reminds s2 on the new plan: nothing on the old due day, the early reminder on 02-28
    run.tick("2023-02-27T09:30")
    assert run.reminders("s2") == []
    run.tick("2023-02-28T09:30")
    assert [k for k, _ in run.reminders("s2")] == ["before"]


def test_a_past_due_date_is_refused_naming_it_and_nothing_changes(run):
    before = run.obligation("s2")
    with pytest.raises(ConflictError) as err:
        changes.amend(run.svc, _act("2023-03-01T10:00"), run.key, MOVED, reason="补改", at=local("2023-03-01T10:00"))
    assert "2023-02-28" in str(err.value) and "延期" in str(err.value) and "extend" in str(err.value)
    assert run.obligation("s2") == before and run.spec_version() == 1
    preview = changes.preview(run.svc, run.key, MOVED, local("2023-03-01T10:00"))
    assert preview["conflicts"] and preview["version"] == 2
    assert len(changes.versions(run.svc, run.key)) == 1


def test_a_started_phase_start_and_the_key_cannot_be_rewritten(run):
    text = SMALL_SPEC.replace("start: 2023-02-14", "start: 2023-02-16").replace("key: small-2023", "key: other")
    with pytest.raises(ConflictError) as err:
        changes.amend(run.svc, _act("2023-02-20T10:00"), run.key, text, reason="r", at=local("2023-02-20T10:00"))
    assert "已于 2023-02-14 开始" in str(err.value) and "campaign key" in str(err.value)


def test_an_invalid_spec_is_refused_with_its_problems(run):
    with pytest.raises(SpecInvalid) as err:
        changes.amend(run.svc, _act("2023-02-20T10:00"), run.key, SMALL_SPEC.replace("artifact: plan", "artifact: nope"),
                      reason="r", at=local("2023-02-20T10:00"))
    assert "nope" in str(err.value)
    with pytest.raises(InvalidInput):
        changes.amend(run.svc, _act("2023-02-20T10:00"), run.key, MOVED, reason=" ", at=local("2023-02-20T10:00"))
    assert run.spec_version() == 1


def test_adding_a_step_with_a_requirement_materializes_its_obligations(run):
    text = SMALL_SPEC.replace("""      - key: issues
        title: 问题清单""", """      - key: meeting
        title: 召开专题会议
        due: 2023-03-20
        requires:
          - {artifact: plan, from: all}
      - key: issues
        title: 问题清单""")
    result = changes.amend(run.svc, _act("2023-02-20T10:00"), run.key, text, reason="增加专题会议",
                           at=local("2023-02-20T10:00"))
    assert result["obligations_added"] == 3  # every unit but the organizer
    with run.engine.connect() as conn:
        req = conn.execute(select(requirements).where(requirements.c.step_key == "meeting")).one()
        obs = conn.execute(select(obligations).where(obligations.c.requirement_id == req.id)).all()
    assert req.due_at == local("2023-03-20T23:59:59") and len(obs) == 3
    assert all(o.state == "pending" and o.next_remind_at is None for o in obs)  # self-check has not started
    assert run.audit_ok()


def test_extending_one_unit_moves_only_its_due_and_reminder_plan(run):
    at = local("2023-02-27T10:00")
    s2_before = run.obligation("s2")
    result = changes.extend(run.svc, _act("2023-02-27T10:00"), run.key, step="plan", units=["s1"],
                            due=local("2023-03-10T23:59:59"), reason="校长外出学习", at=at)
    [row] = result["obligations"]
    assert (row["unit"], row["old_due"], row["new_due"], row["next_remind_at"]) == (
        "s1", "2023-02-28", "2023-03-10", "2023-03-07 09:00")
    s1 = run.obligation("s1")
    assert s1.due_at == local("2023-03-10T23:59:59") and s1.extended_from == local("2023-02-28T23:59:59")
    assert s1.next_remind_at == local("2023-03-07T09:00") and s1.extension_reason == "校长外出学习"
    assert run.obligation("s2") == s2_before
    # the next tick: s2 is reminded on its own due day, s1 not; s1 three days before its new date
    run.tick("2023-02-28T09:30")
    assert [k for k, _ in run.reminders("s2")] == ["on_due"] and run.reminders("s1") == []
    run.tick("2023-03-02T10:00")  # s2 overdue, s1 not
    assert run.obligation("s2").overdue_at is not None and run.obligation("s1").overdue_at is None
    run.tick("2023-03-07T09:30")
    assert run.reminders("s1") == [("before", local("2023-03-07T09:00"))]
    with run.engine.connect() as conn:
        events = [e for e in audit.log(conn, run.key) if e.action == "obligation.extended"]
    assert len(events) == 1 and events[0].after["reason"] == "校长外出学习"
    assert run.audit_ok()


def test_an_extension_must_be_later_and_have_a_reason(run):
    at = local("2023-02-27T10:00")
    with pytest.raises(InvalidInput) as err:
        changes.extend(run.svc, _act("2023-02-27T10:00"), run.key, step="plan", units=None,
                       due=local("2023-02-27T18:00"), reason="r", at=at)
    assert err.value.field == "due"
    with pytest.raises(InvalidInput) as err:
        changes.extend(run.svc, _act("2023-02-27T10:00"), run.key, step="plan", units=None,
                       due=local("2023-03-10T18:00"), reason="", at=at)
    assert err.value.field == "reason"
    result = changes.extend(run.svc, _act("2023-02-27T10:00"), run.key, step="plan", units=None,
                            due=local("2023-03-10T18:00"), reason="全体延期", at=at)
    assert {r["unit"] for r in result["obligations"]} == {"s1", "s2"}


def test_an_overdue_unit_extended_is_no_longer_overdue(run):
    run.tick("2023-03-01T10:00")
    assert run.obligation("s2").overdue_at is not None
    changes.extend(run.svc, _act("2023-03-01T11:00"), run.key, step="plan", units=["第二小学"],
                   due=local("2023-03-03T23:59:59"), reason="系统故障补报", at=local("2023-03-01T11:00"))
    s2 = run.obligation("s2")
    assert s2.overdue_at is None and s2.next_remind_at == local("2023-03-02T09:00")  # 1 workday before
    assert run.obligation("s1").overdue_at is not None


def test_on_postgresql_amend_and_extend(postgres, tmp_path):
    r = Run(postgres.new_database(), tmp_path)
    try:
        r.tick("2023-02-14T08:00")
        changes.amend(r.svc, _act("2023-02-20T10:00"), r.key, MOVED, reason="推迟", at=local("2023-02-20T10:00"))
        assert r.obligation("s2").due_at == local("2023-03-03T23:59:59")
        changes.extend(r.svc, _act("2023-02-20T10:00"), r.key, step="plan", units=["s1"],
                       due=local("2023-03-10T23:59:59"), reason="r", at=local("2023-02-20T10:00"))
        r.tick("2023-03-03T09:30")
        assert [k for k, _ in r.reminders("s2")] == ["before", "before", "on_due"][-len(r.reminders("s2")):]
        assert r.reminders("s1") == [] and r.audit_ok()
        assert [v["version"] for v in changes.versions(r.svc, r.key)] == [2, 1]
    finally:
        r.engine.dispose()


def test_an_unknown_step_is_named(run):
    with pytest.raises(NotFound) as err:
        changes.extend(run.svc, _act("2023-02-27T10:00"), run.key, step="nope", units=None,
                       due=local("2023-03-10T18:00"), reason="r", at=local("2023-02-27T10:00"))
    assert "nope" in str(err.value) and err.value.field == "step"


def test_a_requirement_with_filings_cannot_be_removed_one_without_can(run):
    run.file_plan("s1", "2023-02-17T10:00")
    at = local("2023-02-20T10:00")
    no_plan = SMALL_SPEC.replace("""        requires:
          - {artifact: plan, from: tag:学校, signoff: true}""", "")
    with pytest.raises(ConflictError) as err:
        changes.amend(run.svc, _act("2023-02-20T10:00"), run.key, no_plan, reason="r", at=at)
    assert "1 份" in str(err.value) and "1 filings" in str(err.value)
    no_summary = SMALL_SPEC.replace("""        requires:
          - {artifact: summary, from: organizer}""", "")
    result = changes.amend(run.svc, _act("2023-02-20T10:00"), run.key, no_summary, reason="总结报告改为线下", at=at)
    assert any("删除报送要求" in c for c in result["changes"])
    with run.engine.connect() as conn:
        assert conn.execute(select(obligations).where(obligations.c.artifact == "summary")).all() == []
    assert run.audit_ok()


def test_a_new_reminder_policy_replans_the_open_obligations_of_a_started_phase(run):
    text = SMALL_SPEC.replace('before: ["3 days", "1 workday"]', 'before: ["5 days"]')
    result = changes.amend(run.svc, _act("2023-02-20T10:00"), run.key, text, reason="提前提醒",
                           at=local("2023-02-20T10:00"))
    assert result["recomputed"] == 2
    assert run.obligation("s1").next_remind_at == run.obligation("s2").next_remind_at == local("2023-02-23T09:00")
    assert run.obligation("s1", "issue_list").next_remind_at is None  # its phase has not started


def test_an_extension_for_all_keeps_a_later_one(run):
    at = local("2023-02-27T10:00")
    changes.extend(run.svc, _act("2023-02-27T10:00"), run.key, step="plan", units=["s1"],
                   due=local("2023-03-15T23:59:59"), reason="外出", at=at)
    result = changes.extend(run.svc, _act("2023-02-27T11:00"), run.key, step="plan", units=None,
                            due=local("2023-03-06T23:59:59"), reason="统一延期", at=at)
    assert [r["unit"] for r in result["obligations"]] == ["s2"]
    assert run.obligation("s1").due_at == local("2023-03-15T23:59:59")
    assert run.obligation("s1").extended_from == run.obligation("s2").extended_from == local("2023-02-28T23:59:59")
