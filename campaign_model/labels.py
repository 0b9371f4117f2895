"""The names of the states people read, once, in Chinese and English: the command line, the pages, the
reports and the notice all take them from here (a page may add words of its own, never other names).

    PHASE_STATE        a phase:        pending → active (→ overdue, past its window) → completed
    OBLIGATION_STATE   an obligation:  pending → filed → accepted | rejected; waived; "overdue" is the
                                       display state of an open one past its due time (rules.display_state)
    LEDGER_STATE       a ledger item:  open → in_progress → rectified → closed; reopened when a supervisor
                                       sends it back or a look-back finds the problem again (反弹)
    OUTBOX_STATE       a reminder:     planned → sent; failed → (retried) → dead; cancelled

The words are the ones bureaus use in their own ledgers and notices: 整改中, 已整改待核验 (the unit has
reported the fix; the supervisor has not yet verified it), 已销号 (closed by the supervisor). A reopened
item is 已退回重新整改 whatever sent it back: the unit's work starts again either way.
"""

from __future__ import annotations

from collections.abc import Mapping

Labels = Mapping[str, Mapping[str, str]]

PHASE_STATE: Labels = {
    "pending": {"zh": "未开始", "en": "not started"},
    "active": {"zh": "进行中", "en": "in progress"},
    "overdue": {"zh": "已逾期", "en": "overdue"},
    "completed": {"zh": "已完成", "en": "completed"},
}

OBLIGATION_STATE: Labels = {
    "pending": {"zh": "待报送", "en": "to file"},
    "filed": {"zh": "已报送", "en": "filed"},
    "accepted": {"zh": "已通过", "en": "accepted"},
    "rejected": {"zh": "已退回", "en": "rejected"},
    "overdue": {"zh": "已逾期", "en": "overdue"},
    "waived": {"zh": "免报", "en": "waived"},
}

LEDGER_STATE: Labels = {
    "open": {"zh": "未整改", "en": "open"},
    "in_progress": {"zh": "整改中", "en": "in progress"},
    "rectified": {"zh": "已整改待核验", "en": "rectified, awaiting check"},
    "closed": {"zh": "已销号", "en": "closed"},
    "returned": {"zh": "退回整改", "en": "returned for more work"},
    "reopened": {"zh": "反弹，重新整改", "en": "reopened after closure"},
}

# a reminder in the outbox: planned → sent; failed (retried with back-off) → dead after the last attempt
# (only "send again" revives it); cancelled when its obligation was filed or a later reminder took over
OUTBOX_STATE: Labels = {
    "planned": {"zh": "计划", "en": "planned"},
    "sent": {"zh": "已发送", "en": "sent"},
    "failed": {"zh": "失败", "en": "failed"},
    "dead": {"zh": "放弃", "en": "dead"},
    "cancelled": {"zh": "已取消", "en": "cancelled"},
}


def names(labels: Labels, lang: str) -> dict[str, str]:
    """{state: its name} in one language ("en", else Chinese)."""
    lang = "en" if lang == "en" else "zh"
    return {state: words[lang] for state, words in labels.items()}


def name(labels: Labels, state: str, lang: str = "zh") -> str:
    """The name of one state in a language; an unknown state reads as its code."""
    words = labels.get(state)
    return words["en" if lang == "en" else "zh"] if words else state
