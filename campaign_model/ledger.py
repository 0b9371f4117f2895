"""The rectification ledger (整改台账) and evaluations (测评): plain rules over plain data and an instant.

An item moves  open → in_progress → rectified → closed (销号, by a supervisor, with a comment and
evidence). A supervisor who finds a rectified item not done sends it back: `returned` (退回, more work
before closure); an item that comes back after it was closed — sent back, or a look-back (回头看) finds the
problem again — is `reopened` (反弹). Both are owed by the unit again. Immediate fixes (立行立改) may go
straight from open to rectified.
Long-term items (长期坚持) take progress notes in any open state, are never overdue and close only
when a supervisor explicitly verifies them.

Shares (gate thresholds) are exact fractions: "2/3", "90%", 0.9 or 1, so that "two-thirds closed"
means closed * 3 >= total * 2, with no float rounding at the boundary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .errors import ConflictError, InvalidInput
from .labels import LEDGER_STATE, names

STATES = ("open", "in_progress", "rectified", "closed", "returned", "reopened")
STATE_ZH = names(LEDGER_STATE, "zh")  # labels.LEDGER_STATE: the one definition, with English
# states in which the unit still owes work: these can be overdue, and do not count as "in progress"
OWED = ("open", "in_progress", "returned", "reopened")
WORKING = ("in_progress", "rectified")  # "the rest in progress" (seed 000): being worked on or done, awaiting check
UPDATE_STATES = ("in_progress", "rectified")


def parse_share(value: Any) -> Fraction:
    """A share in (0, 1]: "2/3", "90%", 0.9 or 1; raises ValueError with a bilingual message."""
    bad = ValueError(f"比例应写作 2/3、90% 或 0.9，且在 0 与 1 之间 (a share is written 2/3, 90% or 0.9, "
                     f"between 0 and 1), got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise bad
    try:
        text = str(value).strip()
        share = Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise bad from None
    if not 0 < share <= 1:
        raise bad
    return share


LONG_TERM_WORDS = {"是", "长期", "长期坚持", "y", "yes", "true", "1", "√", "✓"}


def is_long_term(value: Any) -> bool:
    """An issue list's optional long_term column (长期坚持): 是 / 长期 / yes / true / 1 / √."""
    return value is True or str(value or "").strip().casefold() in LONG_TERM_WORDS


def percent(share: Fraction | None) -> str:
    return "—" if share is None else f"{float(share) * 100:.1f}%"


def is_overdue(state: str, due_at: dt.datetime | None, at: dt.datetime, long_term: bool = False) -> bool:
    """An item the unit still owes work on, past its deadline. A rectified item waits on the
    supervisor, not the unit, so it is not overdue; a long-term item has no end by design."""
    return state in OWED and not long_term and due_at is not None and at > due_at


def check_instant(last_change: dt.datetime | None, at: dt.datetime) -> None:
    """The history of an item is in time order: nothing may be recorded before its last change."""
    if last_change is not None and at < last_change:
        raise ConflictError(f"操作时刻早于该条目上一次变更 {last_change.isoformat()} "
                            f"(the instant is before the item's last change)", field="at")


def transition(state: str, action: str, *, long_term: bool = False, note: str | None = None,
               comment: str | None = None, new_evidence: int = 0, evidence_since_reopen: int = 0) -> str:
    """The state after `action` (progress | rectified | closed | reopened), or a bilingual refusal. Sending
    back (`reopened`) a rectified item returns it (退回: `returned`); a closed one is `reopened` (反弹).

    Closing needs evidence filed since the item was last reopened: evidence of a fix that did not
    hold cannot close the item a second time.
    """
    said = bool((note or "").strip()) or new_evidence > 0
    if action in ("progress", "rectified"):
        if state == "closed":
            raise ConflictError("该条目已销号，不能再更新；如问题反弹，请由督导组退回重新整改 "
                                "(the item is closed; a supervisor may send it back)")
        if action == "progress" and state == "rectified" and not long_term:
            raise ConflictError("该条目已报整改完成，等待核验；如需继续整改请由督导组退回 "
                                "(the item is rectified and awaits verification; a supervisor may send it back)")
        if not said:
            raise InvalidInput("请写明进展或附佐证材料 (give a progress note or evidence)", field="note")
        return "in_progress" if action == "progress" else "rectified"
    if not (comment or "").strip():
        raise InvalidInput("核验须写明意见 (a verification needs a comment)", field="comment")
    if action == "closed":
        if state == "closed":
            raise ConflictError("该条目已销号 (the item is already closed)")
        if state != "rectified" and not (long_term and state == "in_progress"):
            raise ConflictError(f"该条目为“{STATE_ZH.get(state, state)}”，整改完成后才能销号 "
                                f"(the item is {state}; only a rectified item can be closed)")
        if evidence_since_reopen < 1:
            raise InvalidInput("销号须有整改佐证材料：请先在报告整改时上传 "
                               "(closing needs evidence of the fix: the unit uploads it with its progress report)",
                               field="evidence")
        return "closed"
    if action == "reopened":
        if state not in ("rectified", "closed"):
            raise ConflictError(f"该条目为“{STATE_ZH.get(state, state)}”，只能退回已整改或已销号的条目 "
                                f"(the item is {state}; only a rectified or closed item can be sent back)")
        return "returned" if state == "rectified" else "reopened"
    raise InvalidInput(f"未知操作 '{action}' (unknown ledger action)")


# --- gate conditions over plain counts ---

@dataclass(frozen=True)
class LedgerCounts:
    """The current items of a campaign (or one unit) by state, and how many of them are overdue."""

    by_state: Mapping[str, int]
    overdue: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    def n(self, *states: str) -> int:
        return sum(self.by_state.get(s, 0) for s in states)

    def closed_share(self) -> Fraction | None:
        return Fraction(self.n("closed"), self.total) if self.total else None


def ledger_condition(counts: LedgerCounts, closed_at_least: Fraction | None = None,
                     rest_in_progress: bool = False, none_overdue: bool = False) -> list[str]:
    """What keeps the condition from being met (bilingual lines); empty when met. No items: met."""
    why = []
    total, closed = counts.total, counts.n("closed")
    if closed_at_least is not None and closed * closed_at_least.denominator < total * closed_at_least.numerator:
        why.append(f"销号 {closed}/{total}（{percent(counts.closed_share())}），须不低于 {percent(closed_at_least)} "
                   f"(closed {closed} of {total}; needs {percent(closed_at_least)})")
    idle = counts.n("open", "returned", "reopened")
    if rest_in_progress and idle:
        why.append(f"{idle} 项尚未开始整改 ({idle} item(s) not in progress)")
    if none_overdue and counts.overdue:
        why.append(f"{counts.overdue} 项逾期未整改 ({counts.overdue} item(s) overdue)")
    return why


@dataclass(frozen=True)
class Tally:
    """An evaluation's counts: positive answers, all answers, and how many were asked (if known)."""

    positive: int
    responses: int
    eligible: int | None = None

    def ratio(self) -> Fraction | None:
        return Fraction(self.positive, self.responses) if self.responses else None

    def response_rate(self) -> Fraction | None:
        return Fraction(self.responses, self.eligible) if self.eligible else None

    def __add__(self, other: Tally) -> Tally:
        eligible = None if self.eligible is None or other.eligible is None else self.eligible + other.eligible
        return Tally(self.positive + other.positive, self.responses + other.responses, eligible)

    def describe(self) -> dict[str, Any]:
        """The ratio always beside the response rate: a 100 % vote of 5 out of 200 is no mandate."""
        ratio, rate = self.ratio(), self.response_rate()
        eligible = "?" if self.eligible is None else str(self.eligible)
        return {"positive": self.positive, "responses": self.responses, "eligible": self.eligible,
                "ratio": None if ratio is None else round(float(ratio), 4),
                "response_rate": None if rate is None else round(float(rate), 4),
                "text": f"好评/满意率 {percent(ratio)}（{self.positive}/{self.responses}），参评率 {percent(rate)}"
                        f"（{self.responses}/{eligible}）(ratio {percent(ratio)}, response rate {percent(rate)})"}


def tally_rows(rows: Iterable[Mapping[str, Any]], choices: list[str], positive: list[str],
               eligible: str | None) -> Tally:
    """Sum a filing's rows (one row per aspect, one count column per answer) into one tally.

    A row without its eligible count makes the whole response rate unknown rather than guessed.
    """
    total = Tally(0, 0, 0 if eligible else None)
    for row in rows:
        asked = row.get(eligible) if eligible else None
        # an empty optional count cell is no answers
        total = total + Tally(sum(int(row.get(k) or 0) for k in positive), sum(int(row.get(k) or 0) for k in choices),
                              int(asked) if asked is not None else None)
    return total


def evaluation_condition(tally: Tally, min_ratio: Fraction | None, min_response: Fraction | None) -> list[str]:
    why = []
    ratio, rate = tally.ratio(), tally.response_rate()
    if tally.responses == 0:
        return ["尚无测评票数 (no votes counted yet)"]
    if min_ratio is not None and (ratio is None or ratio < min_ratio):
        why.append(f"满意率 {percent(ratio)} 低于 {percent(min_ratio)} (ratio below {percent(min_ratio)})")
    if min_response is not None and (rate is None or rate < min_response):
        why.append(f"参评率 {percent(rate)} 低于 {percent(min_response)} (response rate below {percent(min_response)})")
    return why
