"""Administering a running campaign's units one at a time (store and use cases): add, rename, move, merge,
close, contacts; the preview of a unit list. Each change is audited; a merge or a close waives the unit's
open obligations with the reason; a move never makes the hierarchy loop.

The small campaign: bureau (organizer) > d1 (学区) > s1, s2 (学校); `plan` and `issue_list` from tag:学校,
`summary` from the organizer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Connection, select

from campaign_model.errors import ConflictError, InvalidInput, NotFound
from campaign_model.spec import Contact, UnitSpec
from campaign_model.store import unit_admin
from campaign_model.store.audit import Act, verify
from campaign_model.store.ledger import record_finding
from campaign_model.store.tables import audit_events, ledger_events, ledger_items, obligations, units

from .conftest import local

CAMPAIGN = "small-2023"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def act(when: str = "2023-02-20T09:00", actor: str = "局办公室王明") -> Act:
    return Act(local(when), actor, local(when))


def owed(conn: Connection, unit: str) -> dict[str, Any]:
    rows = conn.execute(select(obligations).join(units, units.c.id == obligations.c.unit_id)
                        .where(units.c.key == unit)).all()
    return {r.artifact: r for r in rows}


def unit_row(conn: Connection, key: str) -> Any:
    return conn.execute(select(units).where(units.c.key == key)).one()


def events(conn: Connection, action: str) -> list[Any]:
    return list(conn.execute(select(audit_events).where(audit_events.c.action == action)).all())


def unchanged(engine, call) -> Exception:
    """Run a refused call in a transaction and show that nothing was written."""
    with engine.connect() as conn:
        before = (conn.execute(select(units).order_by(units.c.id)).all(),
                  conn.execute(select(obligations).order_by(obligations.c.id)).all(),
                  conn.execute(select(audit_events.c.seq)).all())
    with pytest.raises((ConflictError, InvalidInput, NotFound)) as caught:
        with engine.begin() as conn:
            call(conn)
    with engine.connect() as conn:
        after = (conn.execute(select(units).order_by(units.c.id)).all(),
                 conn.execute(select(obligations).order_by(obligations.c.id)).all(),
                 conn.execute(select(audit_events.c.seq)).all())
    assert after == before
    return caught.value


def test_added_school_owes_its_artifacts_and_the_addition_is_audited(engine, small):
    """Runs on SQLite and PostgreSQL."""
    school = UnitSpec(key="s3", name="第三小学", parent="城关学区", tags=["学校"],
                      contacts=[Contact(name="赵校长", role="校长", email="s3@example.cn")])
    with engine.begin() as conn:
        summary = unit_admin.add_unit(conn, CAMPAIGN, school, act())
    with engine.begin() as conn:
        s3, row, added = owed(conn, "s3"), unit_row(conn, "s3"), events(conn, "unit.added")
        s1_due = {a: ob.due_at for a, ob in owed(conn, "s1").items()}
    assert summary["obligations_added"] == 2
    assert sorted(s3) == ["issue_list", "plan"]
    assert {a: ob.due_at for a, ob in s3.items()} == s1_due
    assert {ob.state for ob in s3.values()} == {"pending"}
    assert row.parent_key == "d1"  # the parent given by its name
    assert row.contacts == [{"name": "赵校长", "role": "校长", "email": "s3@example.cn"}]
    assert len(added) == 1 and added[0].actor == "局办公室王明" and added[0].after["key"] == "s3"


@SQLITE_ONLY
def test_a_unit_added_after_a_phase_completed_is_excused_from_it(engine, small):
    from campaign_model.store.tables import phases

    with engine.begin() as conn:
        conn.execute(phases.update().where(phases.c.key == "mobilization").values(state="completed"))
        summary = unit_admin.add_unit(conn, CAMPAIGN, UnitSpec(key="s3", name="第三小学", parent="d1", tags=["学校"]),
                                      act())
        s3 = owed(conn, "s3")
    assert summary == {"campaign": CAMPAIGN, "unit": "s3", "obligations_added": 1, "obligations_waived": 1}
    assert s3["plan"].state == "waived" and "completed" in s3["plan"].waived_reason
    assert s3["issue_list"].state == "pending"


@SQLITE_ONLY
def test_a_taken_key_or_a_closed_parent_refuses_the_addition(engine, small):
    err = unchanged(engine, lambda c: unit_admin.add_unit(c, CAMPAIGN, UnitSpec(key="s1", name="又一所"), act()))
    assert err.field == "key" and "第一小学" in str(err)
    with engine.begin() as conn:
        unit_admin.close_unit(conn, CAMPAIGN, "s2", "停办", act())
    err = unchanged(engine, lambda c: unit_admin.add_unit(c, CAMPAIGN, UnitSpec(key="s3", name="三小", parent="s2"), act()))
    assert err.field == "parent" and "s2" in str(err)


@SQLITE_ONLY
def test_rename_keeps_the_key_and_audits_both_names(engine, small):
    with engine.begin() as conn:
        unit_admin.rename_unit(conn, CAMPAIGN, "s1", "城关第一小学", act())
        row, renamed = unit_row(conn, "s1"), events(conn, "unit.renamed")
    assert (row.key, row.name) == ("s1", "城关第一小学")
    assert (renamed[0].before, renamed[0].after) == ({"name": "第一小学"}, {"name": "城关第一小学"})
    err = unchanged(engine, lambda c: unit_admin.rename_unit(c, CAMPAIGN, "s1", "  ", act()))
    assert err.field == "name"


@SQLITE_ONLY
def test_move_refuses_a_cycle_and_an_unknown_parent(engine, small):
    err = unchanged(engine, lambda c: unit_admin.move_unit(c, CAMPAIGN, "d1", "s1", act()))
    assert isinstance(err, InvalidInput) and err.field == "parent" and "成环" in str(err)
    err = unchanged(engine, lambda c: unit_admin.move_unit(c, CAMPAIGN, "d1", "d1", act()))
    assert "loop" in str(err)
    err = unchanged(engine, lambda c: unit_admin.move_unit(c, CAMPAIGN, "s1", "d9", act()))
    assert isinstance(err, NotFound) and err.field == "parent"


@SQLITE_ONLY
def test_move_under_another_parent_is_audited_with_the_old_parent(engine, small):
    with engine.begin() as conn:
        unit_admin.add_unit(conn, CAMPAIGN, UnitSpec(key="d2", name="城郊学区", parent="bureau", tags=["学区"]), act())
        summary = unit_admin.move_unit(conn, CAMPAIGN, "s2", "d2", act(), reason="划转城郊学区")
        moved = events(conn, "unit.moved")
        row = unit_row(conn, "s2")
    assert summary["changed"] and row.parent_key == "d2"
    assert moved[0].before == {"parent": "d1"} and moved[0].after["parent"] == "d2"
    assert moved[0].after["reason"] == "划转城郊学区"


def test_close_waives_the_open_obligations_with_the_reason(engine, small):
    """Runs on SQLite and PostgreSQL."""
    with engine.begin() as conn:
        summary = unit_admin.close_unit(conn, CAMPAIGN, "第二小学", "学校停办", act("2023-03-01T09:00"))
    with engine.begin() as conn:
        row, s2, closed = unit_row(conn, "s2"), owed(conn, "s2"), events(conn, "unit.closed")
        ok = verify(conn)
    assert summary["obligations_waived"] == 2
    assert (row.active, row.removed_reason, row.removed_at) == (False, "学校停办", local("2023-03-01T09:00"))
    assert {(ob.state, ob.waived_reason) for ob in s2.values()} == {("waived", "学校停办")}
    assert closed[0].actor == "局办公室王明" and closed[0].after["reason"] == "学校停办"
    assert ok.ok


@SQLITE_ONLY
def test_close_needs_a_reason_and_no_children_and_never_the_organizer(engine, small):
    err = unchanged(engine, lambda c: unit_admin.close_unit(c, CAMPAIGN, "s2", " ", act()))
    assert err.field == "reason"
    err = unchanged(engine, lambda c: unit_admin.close_unit(c, CAMPAIGN, "d1", "撤销学区", act()))
    assert "第一小学 (s1)" in str(err) and "第二小学 (s2)" in str(err)
    err = unchanged(engine, lambda c: unit_admin.close_unit(c, CAMPAIGN, "bureau", "撤销", act()))
    assert "organizer" in str(err)


@SQLITE_ONLY
def test_merge_waives_moves_children_and_open_ledger_items_keeping_the_history(engine, small):
    with engine.begin() as conn:
        unit_admin.add_unit(conn, CAMPAIGN, UnitSpec(key="d2", name="城郊学区", parent="bureau", tags=["学区"]), act())
        item = record_finding(conn, CAMPAIGN, "s2", "围栏破损", dt.date(2023, 4, 30), act("2023-02-21T09:00", "督导组"))["id"]
        summary = unit_admin.merge_unit(conn, CAMPAIGN, "d1", "d2", "学区调整", act("2023-03-01T09:00"))
        d1, s1 = unit_row(conn, "d1"), unit_row(conn, "s1")
    assert summary["children_moved"] == ["s1", "s2"] and s1.parent_key == "d2"
    assert (d1.active, d1.merged_into) == (False, "d2")
    assert d1.removed_reason.startswith("并入 城郊学区 (d2)：学区调整")

    with engine.begin() as conn:
        summary = unit_admin.merge_unit(conn, CAMPAIGN, "s2", "s1", "两校合并", act("2023-03-02T09:00"))
        s2, it = owed(conn, "s2"), conn.execute(select(ledger_items).where(ledger_items.c.id == item)).one()
        history = conn.execute(select(ledger_events).where(ledger_events.c.item_id == item)
                               .order_by(ledger_events.c.id)).all()
        merged = events(conn, "unit.merged")
    reason = "并入 第一小学 (s1)：两校合并 (merged into s1)"
    assert {(ob.state, ob.waived_reason) for ob in s2.values()} == {("waived", reason)}
    assert it.unit_id == unit_row_id(engine, "s1") and summary["ledger_items_moved"] == [item]
    assert [h.action for h in history] == ["created", "moved"] and "s2" in history[-1].note
    assert [m.subject for m in merged] == ["unit:d1", "unit:s2"] and merged[1].after["into"] == "s1"


def unit_row_id(engine, key: str) -> int:
    with engine.connect() as conn:
        return int(unit_row(conn, key).id)


@SQLITE_ONLY
def test_merge_refuses_a_unit_below_it_and_a_closed_target(engine, small):
    err = unchanged(engine, lambda c: unit_admin.merge_unit(c, CAMPAIGN, "d1", "s1", "合并", act()))
    assert err.field == "into"
    with engine.begin() as conn:
        unit_admin.close_unit(conn, CAMPAIGN, "s2", "停办", act())
    err = unchanged(engine, lambda c: unit_admin.merge_unit(c, CAMPAIGN, "s1", "s2", "合并", act()))
    assert isinstance(err, ConflictError) and err.field == "into"


@SQLITE_ONLY
def test_contacts_are_replaced_and_audited(engine, small):
    new = [Contact(name="钱主任", role="办公室主任", phone="0931-1234567"), Contact(name="孙老师", email="sun@example.cn")]
    with engine.begin() as conn:
        unit_admin.set_contacts(conn, CAMPAIGN, "s1", new, act())
        row, changed = unit_row(conn, "s1"), events(conn, "unit.contacts_changed")
    assert row.contacts == [{"name": "钱主任", "role": "办公室主任", "phone": "0931-1234567"},
                            {"name": "孙老师", "email": "sun@example.cn"}]
    assert changed[0].before == {"contacts": [{"name": "张校长", "email": "s1@example.cn"}]}


@SQLITE_ONLY
def test_preview_lists_what_an_import_would_change_and_changes_nothing(engine, small):
    listed = [UnitSpec(key="bureau", name="教育局"), UnitSpec(key="d1", name="城关学区", parent="bureau", tags=["学区"]),
              UnitSpec(key="s1", name="城关第一小学", parent="bureau", tags=["学校"],
                       contacts=[Contact(name="张校长", email="s1@example.cn")]),
              UnitSpec(key="s3", name="第三小学", parent="d1", tags=["学校"])]
    with engine.begin() as conn:
        preview = unit_admin.import_preview(conn, CAMPAIGN, listed)
        assert unit_row(conn, "s1").name == "第一小学"
    assert [a["key"] for a in preview["added"]] == ["s3"]
    assert preview["renamed"] == [{"key": "s1", "before": "第一小学", "after": "城关第一小学"}]
    assert preview["moved"] == [{"key": "s1", "name": "城关第一小学", "before": "d1", "after": "bureau"}]
    assert preview["removed"] == [{"key": "s2", "name": "第二小学"}]
    assert preview["problems"] == [] and preview["unchanged"] == 2
