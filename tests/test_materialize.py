"""Obligations materialized by chunks of units (store.campaigns.materialize): exactly one per (active unit x
requirement of its audience), whatever the chunking, when another campaign's units sit between a campaign's
own (ids interleaved) and when deactivated units leave holes in a chunk's range of ids.

The chunks are made small here (3 units), so that a campaign of a few dozen units spans many of them.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from campaign_model.spec import UnitSpec
from campaign_model.specfile import load_spec_text
from campaign_model.store import campaigns as campaign_store
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign, import_units
from campaign_model.store.tables import campaigns, obligations, requirements, units
from campaign_model.units import audience

from .conftest import local


def spec(key: str, n: int) -> str:
    lines = [f"version: 1\nkey: {key}\ntitle: 分块测试\ncalendar: cn\norganizer: bureau\nunits:",
             "  - {key: bureau, name: 教育局}", "  - {key: d1, name: 一学区, parent: bureau, tags: [学区]}",
             "  - {key: d2, name: 二学区, parent: bureau, tags: [学区]}"]
    for i in range(n):
        tags = "[学校, 试点]" if i % 4 == 0 else "[学校]"
        lines.append(f"  - {{key: s{i:03d}, name: 学校{i:03d}, parent: d{1 + i % 2}, tags: {tags}}}")
    lines += ["artifacts:", "  plan: {title: 方案}", "  pilot: {title: 试点报告}", "  note: {title: 说明}",
              "  summary: {title: 总结}", "  list: {title: 名单}",
              "phases:", "  - key: p", "    title: 自查", "    kind: self_check", "    start: 2023-03-06",
              "    end: 2023-03-31", "    steps:", "      - key: s", "        title: 自查", "        due: 2023-03-20",
              "        requires:", "          - {artifact: plan, from: all}",
              "          - {artifact: pilot, from: 'tag:试点'}", "          - {artifact: note, from: 'children:d1'}",
              "          - {artifact: summary, from: organizer}", "          - {artifact: list, from: [s001, s007, d2]}"]
    return "\n".join(lines) + "\n"


def expected(conn: Any, key: str) -> set[tuple[str, str]]:
    """(unit, artifact) of every active unit in every requirement's audience: the pure rule, unit by unit."""
    cid = conn.execute(select(campaigns.c.id).where(campaigns.c.key == key)).scalar_one()
    active = [UnitSpec(key=r.key, name=r.name, parent=r.parent_key, tags=r.tags) for r in conn.execute(
        select(units).where(units.c.campaign_id == cid, units.c.active.is_(True)).order_by(units.c.id))]
    return {(u, req.artifact) for req in conn.execute(select(requirements).where(requirements.c.campaign_id == cid))
            for u in audience(req.audience, active, "bureau")}


def stored(conn: Any, key: str, only_open: bool = True) -> list[tuple[str, str]]:
    q = (select(units.c.key, obligations.c.artifact).join(units, units.c.id == obligations.c.unit_id)
         .join(campaigns, campaigns.c.id == obligations.c.campaign_id).where(campaigns.c.key == key))
    if only_open:
        q = q.where(obligations.c.state != "waived")
    return [tuple(r) for r in conn.execute(q)]


@pytest.fixture
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign_store, "_CHUNK_ROWS", 1)
    monkeypatch.setattr(campaign_store, "_MIN_CHUNK_UNITS", 3)


def test_chunked_creation_and_imports_give_one_obligation_per_pair(engine, tiny_chunks: None) -> None:
    at = Act(local("2023-02-01 09:00"), "admin", local("2023-02-01 09:00"))
    with engine.begin() as conn:
        summary = create_campaign(conn, load_spec_text(spec("a", 40), "a.yaml"), at)
        create_campaign(conn, load_spec_text(spec("b", 10), "b.yaml"), at)  # its units' ids follow a's
        want = expected(conn, "a")
        assert summary["obligations"] == len(want)
        assert sorted(stored(conn, "a")) == sorted(want)  # each pair once (sorted lists keep duplicates)
    # a's new units get ids after b's: a's chunks are no longer one range of ids; s005 and s020 leave holes
    listed = [u for u in load_spec_text(spec("a", 60), "a.yaml").units if u.key not in ("s005", "s020")]
    with engine.begin() as conn:
        result = import_units(conn, "a", listed, Act(local("2023-03-08 10:00"), "admin", local("2023-03-08 10:00")),
                              "撤并", "units.csv")
        assert result["removed"] == ["s005", "s020"]
        want = expected(conn, "a")
        assert sorted(stored(conn, "a")) == sorted(want)
        assert result["obligations_added"] == 20 + 5 + 10  # s040..s059: plan for all 20, pilot every 4th, note d1's
        assert ("s005", "plan") not in want and ("s005", "plan") in stored(conn, "a", only_open=False)
        assert sorted(stored(conn, "b")) == sorted(expected(conn, "b"))  # the other campaign untouched
        # importing the same list again adds nothing
        again = import_units(conn, "a", listed, Act(local("2023-03-09 10:00"), "admin", local("2023-03-09 10:00")),
                             None, "units.csv")
        assert again["obligations_added"] == 0
