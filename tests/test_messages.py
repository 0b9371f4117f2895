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
    reminders = [m for m in messages if m["recipient"] != "bureau"]  # the bureau gets the weekly notice
    assert sorted(m["recipient"] for m in reminders) == ["s1", "s2"]  # one message per unit, not per item
    s1 = next(m for m in reminders if m["recipient"] == "s1")
    assert s1["emails"] == ["s1@example.cn"] and s1["recipient_name"] == "第一小学"
    assert s1["subject"] == "【2023年作风整顿（测试）】第一小学：1 项材料待报送，其中 1 项已逾期"
    assert "制定实施方案：实施方案，截止 2023-02-28 23:59，已逾期 2 天" in s1["text"]  # 03-02 is 2 days after 02-28
    # no address configured: where and how to file in words, never a command line
    assert "报送方式：请登录本活动的报送网站，在“报送材料”页选择本单位和“实施方案”报送。如有疑问请联系教育局。" in s1["text"]
    assert "campaign file" not in s1["text"] and "<td>实施方案</td>" in s1["html"]
    assert s1["items"] == [{"unit": "s1", "artifact": "plan", "artifact_title": "实施方案", "step": "制定实施方案",
                            "kind": "overdue", "due_iso": "2023-02-28T23:59:59+08:00", "days_left": -2}]
