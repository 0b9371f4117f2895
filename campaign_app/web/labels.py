"""Words for the dashboard: what the stored codes and bilingual texts read as, in the page's language only.

The audit log and the ledger's history keep internal action names (`ledger.created`, `progress`) and a
few notes the system writes in both languages ("由报送的问题清单生成 (from the filed issue list)"); a
page shows a label in its language instead of the code, one half of a system note, and a person or unit
by name rather than by key. The stored record is unchanged (the audit chain hashes it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "campaign.created": ("创建活动", "campaign created"),
    "draft.created": ("新建规格草稿", "spec draft started"),
    "draft.deleted": ("删除规格草稿", "spec draft deleted"),
    "units.imported": ("更新单位名单", "units imported"),
    "unit.added": ("新增单位", "unit added"),
    "unit.renamed": ("单位改名", "unit renamed"),
    "unit.moved": ("调整上级单位", "unit moved"),
    "unit.merged": ("单位并入", "unit merged"),
    "unit.closed": ("撤销单位", "unit closed"),
    "unit.contacts_changed": ("修改单位联系人", "unit contacts changed"),
    "filing.created": ("报送材料", "filed"),
    "filing.accepted": ("审核通过", "filing accepted"),
    "filing.rejected": ("审核退回", "filing rejected"),
    "obligation.waived": ("免报", "waived"),
    "obligations.overdue": ("标记逾期未报", "marked overdue"),
    "phase.started": ("阶段开始", "phase started"),
    "phase.completed": ("阶段完成", "phase completed"),
    "phase.forced": ("特批转段", "forced advance"),
    "phase.overdue": ("阶段逾期", "phase overdue"),
    "reminders.planned": ("安排催办", "reminders planned"),
    "reminders.sent": ("发送催办", "reminders sent"),
    "reminders.manual": ("立即催办", "remind now"),
    "reminders.resent": ("重新发送催办", "reminder sent again"),
    "channel.tested": ("发送渠道测试消息", "channel test message"),
    "notice.sent": ("发送通报", "notice sent"),
    "ledger.created": ("新增台账条目", "ledger item added"),
    "ledger.imported": ("导入整改台账", "ledger imported"),
    "ledger.overdue": ("台账条目逾期", "ledger items overdue"),
    "ledger.progress": ("报告整改进展", "progress reported"),
    "ledger.rectified": ("报告整改完成", "reported rectified"),
    "ledger.closed": ("销号", "closed"),
    "ledger.reopened": ("退回整改", "sent back"),
    "lookback.sampled": ("回头看抽样", "look-back sampled"),
    "lookback.passed": ("回头看复查通过", "look-back passed"),
    "lookback.failed": ("回头看复查未通过", "look-back failed"),
    "user.added": ("添加账号", "account added"),
    "user.password_changed": ("修改密码", "password changed"),
    "user.password_reset": ("重置为一次性密码", "password reset to a one-time one"),
    "user.disabled": ("停用账号", "account disabled"),
    "user.enabled": ("启用账号", "account enabled"),
    "token.created": ("创建接口令牌", "API token created"),
    "token.revoked": ("吊销接口令牌", "API token revoked"),
}

LEDGER_ACTIONS: dict[str, tuple[str, str]] = {
    "created": ("新增", "added"),
    "progress": ("报告进展", "progress reported"),
    "rectified": ("报告整改完成", "reported rectified"),
    "closed": ("销号", "closed"),
    "reopened": ("退回整改", "sent back"),
    "rechecked": ("回头看复查", "look-back re-check"),
}

# actors that are the system rather than a person
SYSTEM_ACTORS: dict[str, tuple[str, str]] = {
    "tick": ("定时检查", "scheduled check"),
    "scheduler": ("定时任务", "scheduler"),
}

# the notes the system writes into ledger histories (a person's note is shown as written)
SYSTEM_NOTES = ("由报送的问题清单生成 (", "由问题清单生成 (", "督查发现 (", "回头看复查通过 (", "回头看复查未通过 (")

# "中文 (English)" with an optional tail (": a person's comment"): the form of the notes and messages the
# system writes in both languages. The English half is ASCII; the Chinese half holds a CJK character.
_BILINGUAL = re.compile(r"^(?P<zh>[^()]*[\u3400-\u9fff][^()]*?) \((?P<en>[\x20-\x27\x2a-\x7e]+)\)(?P<rest>.*)$", re.S)


def one_language(text: str | None, lang: str) -> str:
    """A system text written "中文 (English)" as the half of the page's language; any other text as it is."""
    if not text:
        return ""
    m = _BILINGUAL.match(text)
    if m is None:
        return text
    return (m.group("en") if lang == "en" else m.group("zh")) + m.group("rest")


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def audit_action(code: str, lang: str) -> str:
    return _pick(AUDIT_ACTIONS[code], lang) if code in AUDIT_ACTIONS else code


def actor(name: str | None, lang: str, names: Mapping[str, str]) -> str:
    """Who acted: a unit's or an account's name when `names` knows the key, the system in words, else as stored."""
    if not name:
        return ""
    if name in names:
        return names[name]
    if name in SYSTEM_ACTORS:
        return _pick(SYSTEM_ACTORS[name], lang)
    return name


def actor_names(units: Mapping[str, str], users: list[dict[str, Any]]) -> dict[str, str]:
    """Key -> name for who may appear as an actor: units by key; accounts by their display name, or for a
    unit's account without one, its unit's name."""
    names = dict(units)
    for u in users:
        shown = u.get("display_name") or units.get(u.get("unit") or "")
        if shown:
            names[u["name"]] = shown
    return names


def ledger_entry(entry: Mapping[str, Any], lang: str, names: Mapping[str, str]) -> dict[str, str]:
    """One event of a ledger item's history as the page shows it: when, who (a unit's name, not its key),
    what (the action in words) and the note (a system note in the page's language, a person's as written)."""
    note = entry.get("note") or ""
    action = str(entry.get("action") or "")
    return {"at": str(entry.get("at") or ""), "by": actor(entry.get("by"), lang, names),
            "what": _pick(LEDGER_ACTIONS[action], lang) if action in LEDGER_ACTIONS else action,
            "note": one_language(note, lang) if note.startswith(SYSTEM_NOTES) else note}
