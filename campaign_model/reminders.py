"""Reminder slots: the instants at which an obligation is reminded, from its due instant and a policy.

An offset names a local day. A `before` (or on-due) reminder goes out at `send_at` on that day, or on
the previous working day if it is not one; an `overdue` reminder that falls on a non-working day goes
out on the next working day; two reminders of one obligation on the same day are one. The overdue
sequence never ends, so slots are generated lazily.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .calendar import WorkCalendar
from .spec import ReminderPolicy
from .timeexpr import parse_duration

KINDS = ("before", "on_due", "overdue", "escalation")
_RANK = {"before": 0, "on_due": 1, "overdue": 2}


@dataclass(frozen=True)
class ReminderSlot:
    kind: str
    day: dt.date  # local day
    at: dt.datetime  # UTC instant


def _instant(day: dt.date, send_at: dt.time, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, send_at, tzinfo=tz).astimezone(dt.UTC)


def _early_slots(due: dt.datetime, policy: ReminderPolicy, cal: WorkCalendar, tz: ZoneInfo) -> list[ReminderSlot]:
    send_at = policy.send_time()
    due_day = due.astimezone(tz).date()
    by_day: dict[dt.date, ReminderSlot] = {}
    wanted = [("before", parse_duration(b).shift(due_day, cal, -1)) for b in policy.before]
    if policy.on_due:
        wanted.append(("on_due", due_day))
    for kind, day in wanted:
        day = cal.workday_on_or_before(day)
        at = _instant(day, send_at, tz)
        if at >= due:
            continue  # a reminder at or after the due instant would come too late to help
        slot = ReminderSlot(kind, day, at)
        if day not in by_day or _RANK[kind] > _RANK[by_day[day].kind]:
            by_day[day] = slot
    return sorted(by_day.values(), key=lambda s: s.at)


def _overdue_slots(due: dt.datetime, policy: ReminderPolicy, cal: WorkCalendar, tz: ZoneInfo) -> Iterator[ReminderSlot]:
    if not policy.overdue_every:
        return
    every = parse_duration(policy.overdue_every)
    send_at = policy.send_time()
    due_day = due.astimezone(tz).date()
    day = cal.workday_on_or_after(due_day + dt.timedelta(days=1))
    if _instant(due_day, send_at, tz) > due:
        day = due_day if cal.is_workday(due_day) else day  # due before send time: remind the same day
    while True:
        yield ReminderSlot("overdue", day, _instant(day, send_at, tz))
        day = cal.workday_on_or_after(every.shift(day, cal))


def slots(due: dt.datetime, policy: ReminderPolicy, cal: WorkCalendar, tz: ZoneInfo) -> Iterator[ReminderSlot]:
    """Every reminder slot of an obligation due at `due`, in order (endless while overdue_every is set)."""
    yield from _early_slots(due, policy, cal, tz)
    yield from _overdue_slots(due, policy, cal, tz)


def escalation_slot(due: dt.datetime, policy: ReminderPolicy, cal: WorkCalendar, tz: ZoneInfo) -> ReminderSlot | None:
    """The one escalation (督办) to the supervisor, `escalate_after` past the due day, on a working day."""
    if not policy.escalate_after:
        return None
    day = parse_duration(policy.escalate_after).shift(due.astimezone(tz).date(), cal)
    day = cal.workday_on_or_after(day)
    return ReminderSlot("escalation", day, _instant(day, policy.send_time(), tz))


def next_slot(due: dt.datetime, policy: ReminderPolicy, cal: WorkCalendar, tz: ZoneInfo, after: dt.datetime) -> ReminderSlot | None:
    """The first slot strictly after `after`, the escalation included."""
    found = None
    for slot in slots(due, policy, cal, tz):
        if slot.at > after:
            found = slot
            break
    escalation = escalation_slot(due, policy, cal, tz)
    if escalation and escalation.at > after and (found is None or escalation.at < found.at):
        return escalation
    return found


def in_send_window(at: dt.datetime, policy: ReminderPolicy, cal: WorkCalendar, tz: ZoneInfo) -> bool:
    """Messages go out on working days between send_at and send_until (local time), else wait."""
    local = at.astimezone(tz)
    start, end = policy.window()
    return cal.is_workday(local.date()) and start <= local.time() < end


def latest_slot(due: dt.datetime, policy: ReminderPolicy, cal: WorkCalendar, tz: ZoneInfo, upto: dt.datetime) -> ReminderSlot | None:
    """The last slot at or before `upto`: after downtime a tick sends this one, not every one missed."""
    latest = None
    for slot in slots(due, policy, cal, tz):
        if slot.at > upto:
            break
        latest = slot
    return latest
