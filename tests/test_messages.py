"""A digest names the campaign, the unit, each artifact, its due instant in local time and days left."""

from __future__ import annotations

import json

from campaign_model.store.audit import Act
from flows.tick import tick_direct

from .conftest import local


def test_one_digest_per_unit_with_every_item(engine, db_url, small, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    tick_direct(db_url, "small-2023", Act(local("2023-02-14T08:00"), "t", local("2023-02-14T08:00")), str(outbox))
    tick_direct(db_url, "small-2023", Act(local("2023-03-02T10:00"), "t", local("2023-03-02T10:00")), str(outbox))
    messages = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert sorted(m["unit"] for m in messages) == ["s1", "s2"]  # one message per unit, not per item
    s1 = next(m for m in messages if m["unit"] == "s1")
    assert s1["to"] == ["s1@example.cn"] and s1["unit_name"] == "第一小学"
    assert "2023年作风整顿（测试）" in s1["subject"] and "第一小学" in s1["subject"]
    assert "实施方案 (plan)" in s1["text"] and "截止 2023-02-28 23:59" in s1["text"]
    assert "已逾期 2 天 (2 days overdue)" in s1["text"]  # 03-02 is two local days after 02-28
    assert s1["items"] == [{"artifact": "plan", "title": "实施方案", "step": "制定实施方案", "kind": "overdue",
                            "due": "2023-02-28T23:59:59+08:00"}]
