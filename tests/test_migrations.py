"""Alembic migrations: a database made by an earlier revision upgrades in place and keeps its data."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import func, select, text

from campaign_model.errors import ConflictError
from campaign_model.store.audit import Act
from campaign_model.store.db import _alembic_config, current_revision, head_revision, upgrade
from campaign_model.store.tables import obligations, outbox
from flows.tick import tick_direct

from .conftest import local


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_schema_goes_down_to_the_first_revision_and_back_keeping_the_data(engine, db_url, small, tmp_path):
    outbox_file = str(tmp_path / "outbox.jsonl")
    tick_direct(db_url, small, Act(local("2023-02-14T08:00"), "t", local("2023-02-14T08:00")), outbox_file)
    tick_direct(db_url, small, Act(local("2023-03-01T10:00"), "t", local("2023-03-01T10:00")), outbox_file)
    before = (_count(engine, obligations), _count(engine, outbox))
    assert before[1] > 0

    cfg = _alembic_config(engine)
    command.downgrade(cfg, "0001")
    assert current_revision(engine) == "0001"
    command.upgrade(cfg, "head")
    assert current_revision(engine) == head_revision(engine)
    assert (_count(engine, obligations), _count(engine, outbox)) == before

    result = tick_direct(db_url, small, Act(local("2023-03-03T10:00"), "t", local("2023-03-03T10:00")), outbox_file)
    assert result["reminders_planned"] == 2  # the overdue reminders of 03-03 (every 2 working days) still plan


def test_a_database_of_a_newer_version_is_refused_by_name_and_left_as_it_is(engine, small):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ConflictError, match="9999") as refused:
        upgrade(engine)
    assert "newer version" in str(refused.value)
    assert current_revision(engine) == "9999"  # nothing was changed
    assert _count(engine, obligations) > 0
