"""Importing a unit list into a running campaign: new units get their obligations, a unit left off is
deactivated and its open obligations waived (never deleted), a bad list changes nothing.

The small campaign's requirements: `plan` and `issue_list` from tag:学校, `summary` from the organizer.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from campaign_model.errors import SpecInvalid
from campaign_model.spec import UnitSpec
from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import import_units
from campaign_model.store.filings import file_artifact
from campaign_model.store.tables import audit_events, obligations, units

from .conftest import SMALL_SPEC, local

CAMPAIGN = "small-2023"
REASON = "学校撤并，并入第一小学"


def act(when: str, actor: str = "admin") -> Act:
    return Act(local(when), actor, local(when))


def spec_units() -> list[UnitSpec]:
    """The units as the spec lists them: bureau > d1 > s1, s2."""
    return list(load_spec_text(SMALL_SPEC, "small.yaml").units)


def with_unit(listed: list[UnitSpec], **fields: Any) -> list[UnitSpec]:
    return [*listed, UnitSpec(**fields)]


def without(listed: list[UnitSpec], key: str) -> list[UnitSpec]:
    return [u for u in listed if u.key != key]


def run_import(engine, listed: list[UnitSpec], when: str, reason: str | None = REASON) -> dict[str, Any]:
    with engine.begin() as conn:
        return import_units(conn, CAMPAIGN, listed, act(when), reason, "units.csv")


def owed(conn: Connection, unit: str) -> dict[str, Any]:
    """The unit's obligations by artifact."""
    rows = conn.execute(select(obligations).join(units, units.c.id == obligations.c.unit_id)
                        .where(units.c.key == unit)).all()
    return {r.artifact: r for r in rows}


def unit_row(conn: Connection, key: str) -> Any:
    return conn.execute(select(units).where(units.c.key == key)).one()


def snapshot(conn: Connection) -> tuple[list[Any], list[Any]]:
    return (conn.execute(select(units).order_by(units.c.id)).all(),
            conn.execute(select(obligations).order_by(obligations.c.id)).all())


def count(conn: Connection, table: Any) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_new_school_gets_an_obligation_per_requirement_that_covers_it(engine, small):
    listed = with_unit(spec_units(), key="s3", name="第三小学", parent="d1", tags=["学校"])
    listed = with_unit(listed, key="d2", name="城郊学区", parent="bureau", tags=["学区"])

    summary = run_import(engine, listed, "2023-02-10T09:00")

    assert sorted(summary["added"]) == ["d2", "s3"]
    assert summary["obligations_added"] == 2
    with engine.begin() as conn:
        s3 = owed(conn, "s3")
        assert owed(conn, "d2") == {}
        same_as_s1 = {a: ob.due_at for a, ob in owed(conn, "s1").items()}
    assert sorted(s3) == ["issue_list", "plan"]
    assert all(ob.state == "pending" and ob.done is False for ob in s3.values())
    assert {a: ob.due_at for a, ob in s3.items()} == same_as_s1


def test_school_added_during_a_phase_is_reminded_for_that_phase_only(engine, small, db_url, tmp_path):
    from flows.tick import tick_direct

    tick_direct(db_url, CAMPAIGN, act("2023-02-14T09:00", "tick"), str(tmp_path / "outbox.jsonl"))
    run_import(engine, with_unit(spec_units(), key="s3", name="第三小学", parent="d1", tags=["学校"]),
               "2023-02-20T09:00")

    with engine.begin() as conn:
        s3 = owed(conn, "s3")
    assert s3["plan"].next_remind_at is not None  # mobilization is under way
    assert local("2023-02-20T09:00") <= s3["plan"].next_remind_at <= s3["plan"].due_at
    assert s3["issue_list"].next_remind_at is None  # self_check has not started


def test_unit_missing_from_the_list_is_deactivated_and_its_open_obligations_waived(engine, small, tmp_path):
    scan = tmp_path / "plan.pdf"
    scan.write_bytes(b"signed plan")
    with engine.begin() as conn:
        file_artifact(conn, BlobStore(tmp_path / "files"), CAMPAIGN, "s2", "plan", act("2023-02-20T10:00", "s2-clerk"),
                      files=[scan], signed_by="李校长")
        total = count(conn, obligations)

    summary = run_import(engine, without(spec_units(), "s2"), "2023-03-01T09:00")

    assert summary["removed"] == ["s2"]
    assert summary["obligations_waived"] == 1
    with engine.begin() as conn:
        s2 = unit_row(conn, "s2")
        s2_owes = owed(conn, "s2")
        assert count(conn, obligations) == total  # never deleted
        s1_owes = owed(conn, "s1")
    assert (s2.active, s2.removed_reason, s2.removed_at) == (False, REASON, local("2023-03-01T09:00"))
    assert s2_owes["plan"].state == "filed" and s2_owes["plan"].waived_reason is None  # filed: untouched
    issues = s2_owes["issue_list"]
    assert (issues.state, issues.waived_reason, issues.done) == ("waived", REASON, True)
    assert issues.done_at == local("2023-03-01T09:00")
    assert {ob.state for ob in s1_owes.values()} == {"pending"}


@pytest.mark.parametrize("listed, named", [
    (without(spec_units(), "bureau"), "bureau"),
    (with_unit(without(spec_units(), "s2"), key="s3", name="第三小学", parent="d9", tags=["学校"]), "d9"),
], ids=["organizer-missing", "unknown-parent"])
def test_bad_list_is_refused_and_changes_nothing(engine, small, listed, named):
    with engine.begin() as conn:
        before = snapshot(conn)
        events = count(conn, audit_events)
        # caught inside the transaction: whatever the call wrote before refusing would be committed
        with pytest.raises(SpecInvalid) as caught:
            import_units(conn, CAMPAIGN, listed, act("2023-02-10T09:00"), REASON, "units.csv")

    assert named in str(caught.value)
    assert all(p.file == "units.csv" for p in caught.value.problems)
    with engine.begin() as conn:
        assert snapshot(conn) == before
        assert count(conn, audit_events) == events


def test_unit_leaving_a_tag_audience_has_that_obligation_waived(engine, small, tmp_path):
    scan = tmp_path / "plan.pdf"
    scan.write_bytes(b"signed plan")
    with engine.begin() as conn:
        file_artifact(conn, BlobStore(tmp_path / "files"), CAMPAIGN, "s2", "plan", act("2023-02-20T10:00", "s2-clerk"),
                      files=[scan], signed_by="李校长")
    # s2 becomes a teaching centre: still a unit, no longer a school
    listed = [u.model_copy(update={"tags": ["教学点"]}) if u.key == "s2" else u for u in spec_units()]

    summary = run_import(engine, listed, "2023-03-01T09:00")

    assert summary["updated"] == ["s2"] and summary["removed"] == []
    assert summary["obligations_waived"] == 1
    with engine.begin() as conn:
        s2 = unit_row(conn, "s2")
        s2_owes = owed(conn, "s2")
    assert s2.active is True and s2.tags == ["教学点"]
    assert s2_owes["plan"].state == "filed"
    assert s2_owes["issue_list"].state == "waived" and s2_owes["issue_list"].waived_reason


def test_importing_the_same_list_twice_changes_nothing_the_second_time(engine, small):
    listed = with_unit(without(spec_units(), "s2"), key="s3", name="第三小学", parent="d1", tags=["学校"])
    first = run_import(engine, listed, "2023-02-10T09:00")
    assert (first["added"], first["removed"]) == (["s3"], ["s2"])
    with engine.begin() as conn:
        before = snapshot(conn)

    second = run_import(engine, listed, "2023-02-11T09:00")

    assert (second["added"], second["updated"], second["removed"]) == ([], [], [])
    assert (second["obligations_added"], second["obligations_waived"]) == (0, 0)
    with engine.begin() as conn:
        assert snapshot(conn) == before


def test_importing_the_spec_list_unchanged_changes_nothing(engine, small):
    with engine.begin() as conn:
        before = snapshot(conn)

    summary = run_import(engine, spec_units(), "2023-02-10T09:00", reason=None)

    assert (summary["added"], summary["updated"], summary["removed"]) == ([], [], [])
    assert (summary["obligations_added"], summary["obligations_waived"]) == (0, 0)
    with engine.begin() as conn:
        assert snapshot(conn) == before
